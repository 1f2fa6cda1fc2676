package integration

import "testing"

// TestSeccomp runs progs/seccomp.c natively and in moat: the app's own
// seccomp(2) (strict mode; filters with every action, their precedence,
// inheritance across fork and execve, TSYNC; the errnos for bad programs,
// flags and pointers; the SIGSYS siginfo of SECCOMP_RET_TRAP; the Seccomp
// lines of /proc/PID/status), which moat's kernel enforces itself.
func TestSeccomp(t *testing.T) {
	t.Parallel()
	argv := []string{prog("seccomp")}
	t.Run("compare", func(t *testing.T) {
		compare(t, argv...)
	})
	t.Run("native-deterministic", func(t *testing.T) {
		nativeDeterministic(t, argv, "done\n")
	})
}
