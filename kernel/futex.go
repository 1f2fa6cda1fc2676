package kernel

import (
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"moat/mm"
	"moat/park"
)

// Futexes. Waiters queue by key: (address space, address) for private
// futexes and for shared ones in private memory, and the word's place in
// the memory file for shared futexes in shared memory, so processes that
// share a mapping meet on the same key wherever it is mapped. A waker
// wakes the waiters of its key whose bitset matches. The value check of FUTEX_WAIT
// and the enqueue happen under the table's lock, and so does every wake,
// so a wake that follows a store to the futex word is never lost.
//
// Lock order: futexTable.mu, then the memory manager's lock (the value is
// read under the table lock).

// futexKey names a futex: mm and the address, or for shared memory a nil
// mm and the word's offset in the memory file. As on Linux, a shared
// operation on private memory does not meet a private one on the same
// word (shared is part of the key).
type futexKey struct {
	mm     *mm.MemoryManager
	addr   uintptr
	shared bool
}

// futexKey returns the key of the futex word at addr for a private
// (FUTEX_PRIVATE_FLAG) or shared operation. A shared key needs the page
// (EFAULT if the word cannot be read), as Linux's get_futex_key does; a
// private one is just the address.
func (t *Task) futexKey(addr uintptr, private bool) (futexKey, error) {
	if private {
		return futexKey{t.mm, addr, false}, nil
	}
	if _, err := readWord(t.mm, addr); err != nil {
		return futexKey{}, err
	}
	if off, ok := t.mm.SharedOffset(addr); ok {
		return futexKey{nil, uintptr(off), true}, nil
	}
	return futexKey{t.mm, addr, true}, nil
}

type futexWaiter struct {
	key    futexKey
	bitset uint32
	woken  chan struct{} // closed by the waker
	parker *park.Parker  // the waiting task's, unparked after the close
}

type futexTable struct {
	mu sync.Mutex
	q  map[futexKey][]*futexWaiter
}

// FutexBitsetAll is FUTEX_BITSET_MATCH_ANY.
const FutexBitsetAll = 0xffffffff

// readWord reads the aligned futex word at addr.
func readWord(m *mm.MemoryManager, addr uintptr) (uint32, error) {
	if addr%4 != 0 {
		return 0, unix.EINVAL
	}
	var b [4]byte
	if _, err := m.CopyIn(addr, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// FutexWait blocks while the word at addr holds val, until a matching
// wake or the deadline (zero: none). It returns EAGAIN if the value
// differs and ETIMEDOUT at the deadline.
func (t *Task) FutexWait(addr uintptr, private bool, val, bitset uint32, deadline time.Time) error {
	if bitset == 0 {
		return unix.EINVAL
	}
	ft := &t.k.futex
	key, err := t.futexKey(addr, private)
	if err != nil {
		return err
	}
	ft.mu.Lock()
	cur, err := readWord(t.mm, addr)
	if err != nil {
		ft.mu.Unlock()
		return err
	}
	if cur != val {
		ft.mu.Unlock()
		return unix.EAGAIN
	}
	w := &futexWaiter{key: key, bitset: bitset, woken: make(chan struct{}), parker: &t.parker}
	if ft.q == nil {
		ft.q = make(map[futexKey][]*futexWaiter)
	}
	ft.q[key] = append(ft.q[key], w)
	ft.mu.Unlock()

	result := t.BlockParked(w.woken, deadline)
	if result == nil {
		return nil
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	select {
	case <-w.woken: // woken while timing out: the wake counts
		return nil
	default:
	}
	ft.remove(w)
	return result
}

// Preconditions: ft.mu is held.
func (ft *futexTable) remove(w *futexWaiter) {
	ws := ft.q[w.key]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(ft.q, w.key)
	} else {
		ft.q[w.key] = ws
	}
}

// FutexWake wakes up to n waiters on addr whose bitset matches and returns
// how many it woke.
func (t *Task) FutexWake(addr uintptr, private bool, n int, bitset uint32) (int, error) {
	if bitset == 0 {
		return 0, unix.EINVAL
	}
	if addr%4 != 0 {
		return 0, unix.EINVAL
	}
	ft := &t.k.futex
	key, err := t.futexKey(addr, private)
	if err != nil {
		return 0, err
	}
	n = max(n, 1) // a count of 0 or less wakes one, as Linux counts after waking
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.wakeLocked(key, n, bitset), nil
}

// Preconditions: ft.mu is held.
func (ft *futexTable) wakeLocked(key futexKey, n int, bitset uint32) int {
	woken := 0
	ws := ft.q[key]
	kept := ws[:0]
	for _, w := range ws {
		if woken < n && w.bitset&bitset != 0 {
			close(w.woken)
			w.parker.Unpark()
			woken++
			continue
		}
		kept = append(kept, w)
	}
	if len(kept) == 0 {
		delete(ft.q, key)
	} else {
		ft.q[key] = kept
	}
	return woken
}

// futexKeys returns the keys of two futex words (requeue, wake-op).
func (t *Task) futexKeys(addr, addr2 uintptr, private bool) (futexKey, futexKey, error) {
	key, err := t.futexKey(addr, private)
	if err != nil {
		return futexKey{}, futexKey{}, err
	}
	key2, err := t.futexKey(addr2, private)
	return key, key2, err
}

// FutexRequeue wakes up to nWake waiters on addr and moves up to
// nRequeue of the rest to addr2. With cmp, the word at addr must hold val
// (FUTEX_CMP_REQUEUE) or it fails with EAGAIN.
func (t *Task) FutexRequeue(addr, addr2 uintptr, private bool, nWake, nRequeue int, cmp bool, val uint32) (int, error) {
	if addr%4 != 0 || addr2%4 != 0 {
		return 0, unix.EINVAL
	}
	ft := &t.k.futex
	key, key2, err := t.futexKeys(addr, addr2, private)
	if err != nil {
		return 0, err
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if cmp {
		cur, err := readWord(t.mm, addr)
		if err != nil {
			return 0, err
		}
		if cur != val {
			return 0, unix.EAGAIN
		}
	}
	done := ft.wakeLocked(key, nWake, FutexBitsetAll)
	moved := 0
	for moved < nRequeue && len(ft.q[key]) > 0 && key != key2 {
		w := ft.q[key][0]
		ft.remove(w)
		w.key = key2
		if ft.q == nil {
			ft.q = make(map[futexKey][]*futexWaiter)
		}
		ft.q[key2] = append(ft.q[key2], w)
		moved++
	}
	return done + moved, nil
}

// FutexWakeOp implements FUTEX_WAKE_OP: atomically apply the operation
// encoded in op to the word at addr2, wake up to n waiters on addr, and,
// if the old value of the word at addr2 passes op's comparison, up to n2
// waiters on addr2. It returns how many it woke.
func (t *Task) FutexWakeOp(addr, addr2 uintptr, private bool, n, n2 int, op uint32) (int, error) {
	if addr%4 != 0 || addr2%4 != 0 {
		return 0, unix.EINVAL
	}
	kind, cmp := op>>28&7, op>>24&15
	shift := op>>28&8 != 0 // FUTEX_OP_OPARG_SHIFT
	oparg, cmparg := int32(op<<8)>>20, int32(op<<20)>>20
	if shift {
		// A shift outside 0..31 is masked, as Linux's
		// futex_atomic_op_inuser does (it only logs a warning).
		oparg = 1 << uint(oparg&31)
	}
	ft := &t.k.futex
	key, key2, err := t.futexKeys(addr, addr2, private)
	if err != nil {
		return 0, err
	}
	if kind > 4 {
		return 0, unix.ENOSYS // the word is left alone
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	oldv, err := t.mm.AtomicUpdate32(addr2, func(v uint32) uint32 {
		switch kind {
		case 0: // SET
			return uint32(oparg)
		case 1: // ADD
			return v + uint32(oparg)
		case 2: // OR
			return v | uint32(oparg)
		case 3: // ANDN
			return v &^ uint32(oparg)
		default: // XOR
			return v ^ uint32(oparg)
		}
	})
	if err != nil {
		return 0, err
	}
	if cmp > 5 {
		return 0, unix.ENOSYS // after the operation, which stays done, as on Linux
	}
	woken := ft.wakeLocked(key, max(n, 1), FutexBitsetAll) // at least one, as FutexWake
	o := int32(oldv)
	pass := [...]bool{o == cmparg, o != cmparg, o < cmparg, o <= cmparg, o > cmparg, o >= cmparg}[cmp]
	if pass {
		woken += ft.wakeLocked(key2, max(n2, 1), FutexBitsetAll)
	}
	return woken, nil
}
