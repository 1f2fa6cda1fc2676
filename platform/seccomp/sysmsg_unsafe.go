package seccomp

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// word returns the uint32 at off in a page of the memory file, for atomic
// access. The page is shared with the stub; off is a constant of this
// package, 4-byte aligned and inside the page.
func word(page []byte, off int) *uint32 {
	return (*uint32)(unsafe.Pointer(&page[off]))
}

func loadState(page []byte) uint32 { return atomic.LoadUint32(word(page, offState)) }

// setState publishes v (a value without stSleeping) and wakes the stub
// only if it had said it sleeps: the exchange is a full barrier, and the
// stub sets stSleeping with a compare-and-swap before FUTEX_WAIT on the
// value with the bit, so either the stub sees v before it sleeps (its
// swap or futex's own check fails) or the sentry sees its bit here. The
// stub may write anything there: a bit it forged costs a spurious wake.
func setState(page []byte, v uint32) {
	if atomic.SwapUint32(word(page, offState), v)&stSleeping != 0 {
		futexWake(page)
	}
}

// markSleeping sets stSleeping in the state word if it still holds v,
// and reports whether it did.
func markSleeping(page []byte, v uint32) bool {
	return atomic.CompareAndSwapUint32(word(page, offState), v, v|stSleeping)
}

// rouse wakes the stub if it sleeps waiting for the sentry (its word holds
// the event, marked asleep), leaving the word as the event unmarked: it
// then spins as its spin word says, as after any wake, and the sentry's
// next setState wakes nobody.
func rouse(page []byte) {
	if atomic.CompareAndSwapUint32(word(page, offState), stEvent|stSleeping, stEvent) {
		futexWake(page)
	}
}

// futexWake wakes a stub waiting on the state word.
func futexWake(page []byte) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word(page, offState))), futexWakeOp, 1, 0, 0, 0)
}

// futexWait sleeps while the state word holds v, at most timeout.
func futexWait(page []byte, v uint32, timeout *unix.Timespec) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word(page, offState))), futexWaitOp, uintptr(v), uintptr(unsafe.Pointer(timeout)), 0, 0)
}

// Shared (not FUTEX_PRIVATE) futex operations: the word is in a mapping the
// stub shares.
const (
	futexWaitOp = 0
	futexWakeOp = 1
)
