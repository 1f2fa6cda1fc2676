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

func storeState(page []byte, v uint32) { atomic.StoreUint32(word(page, offState), v) }

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
