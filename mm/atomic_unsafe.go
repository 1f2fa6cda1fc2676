package mm

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"moat/platform"
)

// AtomicUpdate32 atomically replaces the aligned 32-bit word at addr with
// f(old) and returns old. The update is atomic with respect to the app's
// own threads: it is a compare-and-swap on the same memory, through the
// sentry's mapping of the memory file. EFAULT if the word is not writable
// app memory, EINVAL if it is not aligned.
func (mm *MemoryManager) AtomicUpdate32(addr uintptr, f func(old uint32) uint32) (uint32, error) {
	if addr%4 != 0 {
		return 0, unix.EINVAL
	}
	mm.mu.Lock()
	var word []byte
	_, err := mm.access(addr, 4, platform.AccessType{Write: true}, false, true, func(b []byte, off int) { word = b })
	mm.mu.Unlock()
	if err != nil || len(word) != 4 {
		return 0, unix.EFAULT
	}
	// The memory file stays mapped for the sentry's life, so the word
	// stays valid after the lock is dropped.
	p := (*uint32)(unsafe.Pointer(&word[0]))
	for {
		old := atomic.LoadUint32(p)
		if atomic.CompareAndSwapUint32(p, old, f(old)) {
			return old, nil
		}
	}
}

// storeUint64 atomically stores v into b, an aligned 8-byte word of the
// sentry's mapping of the memory file.
func storeUint64(b []byte, v uint64) {
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&b[0])), v)
}
