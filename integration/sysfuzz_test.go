package integration

import (
	"strconv"
	"strings"
	"testing"
)

// TestSyscallFuzz hands random arguments to every implemented system call
// inside moat, for several seeds, and requires the sentry to survive: the
// program finishes and exits 0, and moat reports no internal error. It is
// moat-only, because random renames and unlinks must not touch the host.
func TestSyscallFuzz(t *testing.T) {
	for seed := 1; seed <= 8; seed++ {
		seed := strconv.Itoa(seed)
		t.Run("seed"+seed, func(t *testing.T) {
			t.Parallel()
			out, errOut, code := runMoat(t, nil, []string{prog("sysfuzz"), seed, "3000"}, "")
			if code != 0 || !strings.Contains(out, "3000 calls done") {
				t.Fatalf("sysfuzz seed %s: status %d, stdout %q\nmoat stderr:\n%s", seed, code, tail(out, 5), tail(errOut, 40))
			}
			for _, bad := range []string{"panic", "goroutine ", "internal error"} {
				if strings.Contains(errOut, bad) {
					t.Fatalf("sysfuzz seed %s: moat reported %q:\n%s", seed, bad, tail(errOut, 40))
				}
			}
		})
	}
}
