package park

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Process-private futex operations (FUTEX_WAIT or FUTEX_WAKE, with
// FUTEX_PRIVATE_FLAG): the word is in the sentry's heap, which Go does not
// move.
const (
	futexWaitPrivate = 0 | 128
	futexWakePrivate = 1 | 128
)

// futexWait sleeps while *w == v, for at most timeout (zero: no limit).
// It is a blocking system call (unix.Syscall6): the Go scheduler gives
// the thread's P to others meanwhile.
func futexWait(w *atomic.Uint32, v uint32, timeout time.Duration) {
	var ts *unix.Timespec
	if timeout > 0 {
		t := unix.NsecToTimespec(int64(timeout))
		ts = &t
	}
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWaitPrivate, uintptr(v), uintptr(unsafe.Pointer(ts)), 0, 0)
}

// futexWake wakes the thread sleeping on w, if any.
func futexWake(w *atomic.Uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWakePrivate, 1, 0, 0, 0)
}
