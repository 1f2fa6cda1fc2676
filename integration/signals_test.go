package integration

import "testing"

// TestSignals runs progs/signals.c (the order of pending standard and
// real-time signals released at once, sa_mask, SA_NODEFER, SA_RESETHAND,
// the mask inside and after handlers, uc_sigmask; sigaltstack with a stack
// overflow, SS_ONSTACK, SS_AUTODISARM and its errors; SIGSEGV, SIGBUS,
// SIGFPE, SIGILL and SIGTRAP from faults with their si_code and si_addr,
// registers changed through the ucontext, fatal faults; SA_RESTART versus
// EINTR for read, wait4, futex, poll, select, epoll_wait, pause,
// sigsuspend and sigtimedwait; epoll level/edge/oneshot; timerfd on
// CLOCK_MONOTONIC; setitimer/getitimer and alarm) natively and in moat. It
// also runs it natively twice: if the native runs differ, the program is
// at fault, not moat. The runs are not parallel: the program counts timer
// expirations and checks how long blocking calls take.
func TestSignals(t *testing.T) {
	argv := []string{prog("signals")}
	t.Run("compare", func(t *testing.T) {
		compare(t, argv...)
	})
	t.Run("native-deterministic", func(t *testing.T) {
		nativeDeterministic(t, argv, "done\n")
	})
}
