package integration

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

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

// TestIgnoredAtStart starts moat the way nohup, or a shell's background
// job, starts a program: with SIGHUP and SIGINT ignored. The program in
// the sandbox starts with them ignored too, as exec keeps them: its
// /proc/self/status says so, and it survives both sent to itself. The
// shell's own status shows the signal it catches. The same command runs
// natively for comparison.
func TestIgnoredAtStart(t *testing.T) {
	t.Parallel()
	inner := []string{"/bin/busybox", "sh", "-c",
		`trap 'echo USR1' USR1; grep -E 'SigIgn|SigCgt' /proc/self/status; grep -E 'SigIgn|SigCgt' /proc/$$/status; kill -HUP $$; kill -INT $$; kill -USR1 $$; echo survived`}
	wrap := func(argv []string) []string {
		return append([]string{"/bin/busybox", "sh", "-c", `trap '' HUP INT; exec "$@"`, "sh"}, argv...)
	}
	nOut, _, nCode := runNative(t, wrap(inner), "")
	mOut, mErr, mCode := run(t, runOpts{argv: wrap(moatArgv(nil, inner))})
	want := "SigIgn:\t0000000000000003\nSigCgt:\t0000000000000000\n"
	if !strings.HasPrefix(nOut, want) || !strings.Contains(nOut, "USR1\nsurvived\n") || nCode != 0 {
		t.Fatalf("natively: status %d, output %q; want 0, and %q first", nCode, nOut, want)
	}
	if mOut != nOut || mCode != nCode {
		t.Errorf("in moat: status %d, output %q, stderr %q; want %d and %q", mCode, mOut, mErr, nCode, nOut)
	}
}

// TestTimersNobodyTakes: 1501 timers at a 1 ns interval whose expiries
// nobody takes (ignored or blocked signals, unread timerfds) cost next to
// nothing while the app sleeps, as on Linux, where each runs again only
// once its expiry is taken. A timer that re-armed itself at every interval
// kept both host cores busy here, and moat took minutes to exit.
func TestTimersNobodyTakes(t *testing.T) {
	const sleep = time.Second
	argv := moatArgv(nil, []string{prog("timerstorm"), strconv.Itoa(int(sleep / time.Millisecond))})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = testEnv
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	out, err := cmd.Output()
	wall := time.Since(start)
	if err != nil || string(out) != "armed 1501\ndone\n" {
		t.Fatalf("%v: %v, output %q", argv, err, out)
	}
	// Natively this costs about 20 ms; moat's start and exit about 50.
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if cpu > sleep/2 || wall > sleep+5*time.Second {
		t.Errorf("moat used %v of CPU and %v of wall time for a %v sleep with 1501 timers, want under %v and %v", cpu, wall, sleep, sleep/2, sleep+5*time.Second)
	}
}
