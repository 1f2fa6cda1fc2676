package integration

import (
	"strings"
	"testing"
)

// TestProcs runs progs/procs.c (fork, vfork, clone, clone3, execve of
// programs and #! scripts, wait4, waitid, kill, pipes between processes,
// zombies, orphans) natively and in moat. It also runs it natively twice:
// if the native runs differ, the program is at fault, not moat.
func TestProcs(t *testing.T) {
	needBusybox(t) // the #! scripts and the fd check run /bin/busybox sh
	argv := []string{prog("procs"), prog("exit")}
	t.Run("compare", func(t *testing.T) {
		t.Parallel()
		compare(t, argv...)
	})
	t.Run("native-deterministic", func(t *testing.T) {
		t.Parallel()
		out1, err1, code1 := runNative(t, argv, "")
		out2, _, code2 := runNative(t, argv, "")
		if code1 != 0 || code2 != 0 {
			t.Errorf("native exit status %d and %d, want 0\nstderr:\n%s", code1, code2, tail(err1, 20))
		}
		if out1 != out2 {
			t.Errorf("two native runs differ (- first, + second):\n%s", lineDiff(out1, out2))
		}
		if !strings.HasSuffix(out1, "\ndone\n") {
			t.Errorf("native output does not end with done:\n%s", tail(out1, 10))
		}
	})
}
