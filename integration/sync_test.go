package integration

import "testing"

// TestSync compares synchronization between threads and processes
// natively and inside moat (progs/sync.c): barriers, mutexes and condition
// variables, robust mutexes whose owner thread or process dies (the robust
// list walked at exit and exec), futexes shared across fork through
// MAP_SHARED memory, futex timeouts and errors, get_robust_list, and
// RLIMIT_NPROC against a fork bomb.
func TestSync(t *testing.T) {
	t.Parallel()
	argv := []string{prog("sync")}
	compare(t, argv...)
	nativeDeterministic(t, argv, "done\n")
}
