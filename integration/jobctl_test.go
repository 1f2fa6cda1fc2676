package integration

import "testing"

// TestJobControl runs progs/jobctl.c (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU,
// SIGCONT; waitpid with WUNTRACED and WCONTINUED; waitid with WSTOPPED,
// WCONTINUED and WNOWAIT; SIGCHLD with CLD_STOPPED and CLD_CONTINUED and
// SA_NOCLDSTOP; orphaned process groups; pending stop signals and SIGCONT
// discarding each other; nanosleep and clock_nanosleep resuming after a
// stop) natively and in moat. It also runs it natively twice: if the
// native runs differ, the program is at fault, not moat. The runs are
// not parallel: the program checks how long sleeps take (within 0.3 s).
func TestJobControl(t *testing.T) {
	argv := []string{prog("jobctl")}
	t.Run("compare", func(t *testing.T) {
		compare(t, argv...)
	})
	t.Run("native-deterministic", func(t *testing.T) {
		nativeDeterministic(t, argv, "done\n")
	})
}
