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
	fuzz(t, "sysfuzz")
}

// TestSocketFuzz runs progs/sockfuzz.c the same way: random socket calls
// with random addresses, messages, options and ioctls on sockets of every
// family (--net none, so that nothing leaves the sandbox).
func TestSocketFuzz(t *testing.T) {
	fuzz(t, "sockfuzz")
}

// fuzz runs a fuzzing program inside moat for seeds 1 to 8, 3000 calls
// each, and requires it to finish with status 0 and moat to report no
// internal error.
func fuzz(t *testing.T, name string) {
	for seed := 1; seed <= 8; seed++ {
		seed := strconv.Itoa(seed)
		t.Run("seed"+seed, func(t *testing.T) {
			t.Parallel()
			out, errOut, code := runMoat(t, nil, []string{prog(name), seed, "3000"}, "")
			if code != 0 || !strings.Contains(out, "3000 calls done") {
				t.Fatalf("%s seed %s: status %d, stdout %q\nmoat stderr:\n%s", name, seed, code, tail(out, 5), tail(errOut, 40))
			}
			for _, bad := range []string{"panic", "goroutine ", "internal error"} {
				if strings.Contains(errOut, bad) {
					t.Fatalf("%s seed %s: moat reported %q:\n%s", name, seed, bad, tail(errOut, 40))
				}
			}
		})
	}
}
