package integration

import (
	"strings"
	"testing"
)

// TestSyscallPatch runs progs/syspatch.c (system calls from patchable
// sites: registers, red zone, restarts, JIT-like code, fork, vfork,
// threads) natively and in moat with syscall-site patching on and off,
// whatever MOAT_SYSCALL_PATCH says. Patching exists on seccomp only.
func TestSyscallPatch(t *testing.T) {
	if moatPlatform == "ptrace" {
		t.Skip("syscall-site patching is a seccomp-platform feature")
	}
	for _, mode := range []string{"on", "off"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			compareWith(t, []string{"--syscall-patch", mode}, "", prog("syspatch"))
		})
	}
	t.Run("patched", func(t *testing.T) {
		t.Parallel()
		out, errOut, code := runMoat(t, []string{"--syscall-patch", "on"}, []string{prog("syspatch"), "maps"}, "")
		if code != 0 || !strings.Contains(out, "stub page mapped: 1") {
			t.Errorf("status %d, want 0 and the sites patched (a [moat-syscall] page); output:\n%s\nstderr:\n%s", code, out, errOut)
		}
	})
}
