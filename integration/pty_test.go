package integration

import "testing"

// TestPty runs progs/pty.c (posix_openpt and devpts, termios defaults,
// canonical editing and echo with ECHOCTL, ECHOE, ECHOPRT, ONLCR,
// VMIN/VTIME, flow control, packet mode, TIOCSTI, TIOCGPTPEER, ^C ^\ ^Z to
// the foreground group of a child session, window sizes and SIGWINCH,
// SIGTTIN and SIGTTOU, /dev/tty, TIOCSPGRP and friends with their errors,
// TIOCNOTTY, hangup, the session leader's exit, /proc/PID/stat's terminal
// fields) natively and in moat. It also runs it natively twice: if the
// native runs differ, the program is at fault, not moat.
func TestPty(t *testing.T) {
	argv := []string{prog("pty")}
	t.Run("compare", func(t *testing.T) {
		compare(t, argv...)
	})
	t.Run("native-deterministic", func(t *testing.T) {
		nativeDeterministic(t, argv, "done\n")
	})
}
