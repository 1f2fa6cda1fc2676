package integration

import "testing"

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
		nativeDeterministic(t, argv, "done\n")
	})
}
