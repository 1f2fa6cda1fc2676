package integration

import "testing"

// TestCloneVM runs progs/clonevm.c (posix_spawn reporting exec failures
// through the parent's memory, vfork and clone(CLONE_VM) children that
// share it) natively and in moat.
func TestCloneVM(t *testing.T) {
	needBusybox(t) // the exec'd children run /bin/busybox sh
	argv := []string{prog("clonevm")}
	t.Run("compare", func(t *testing.T) {
		t.Parallel()
		compare(t, argv...)
	})
	t.Run("native-deterministic", func(t *testing.T) {
		t.Parallel()
		nativeDeterministic(t, argv, "done\n")
	})
}
