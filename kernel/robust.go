package kernel

// Robust futex lists (set_robust_list(2)): a thread that dies holding a
// robust mutex must not leave its waiters blocked forever. At exit and at
// exec the kernel walks the list the thread registered, and for each lock
// word still owned by the thread sets FUTEX_OWNER_DIED and wakes a waiter,
// which then gets EOWNERDEAD from pthread_mutex_lock.
//
// The list is app memory and hostile: the walk is bounded, stops at the
// first fault, and only ever touches aligned words the app may write.

// robustListLimit bounds the walk, as Linux's ROBUST_LIST_LIMIT does.
const robustListLimit = 2048

// Bits of a robust futex word.
const (
	futexWaiters   = 0x80000000
	futexOwnerDied = 0x40000000
	futexTIDMask   = 0x3fffffff
)

// RobustList returns set_robust_list's head (get_robust_list).
func (t *Task) RobustList() uintptr {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.robustList
}

// exitRobustList releases the robust futexes t still holds. It runs on
// t's goroutine while t's memory is still mapped.
func (t *Task) exitRobustList() {
	t.mu.Lock()
	head, m := t.robustList, t.mm
	t.robustList = 0
	t.mu.Unlock()
	if head == 0 || m == nil {
		return
	}
	word := func(addr uintptr) (uint64, bool) {
		var b [8]byte
		if _, err := m.CopyIn(addr, b[:]); err != nil {
			return 0, false
		}
		return le.Uint64(b[:]), true
	}
	next, ok1 := word(head)
	offset, ok2 := word(head + 8)
	pending, ok3 := word(head + 16)
	if !ok1 || !ok2 || !ok3 {
		return
	}
	// An entry's low bit marks a PI futex; PI futexes are not offered,
	// so only their ownership is released, with no wake. As Linux's
	// exit_robust_list, the walk gives up, skipping the pending entry,
	// at the first link or lock word it cannot use.
	entry := func(e uint64) (uintptr, bool) { return uintptr(e &^ 1), e&1 != 0 }
	pendAddr, pendPI := entry(pending)
	e, pi := entry(next)
	for limit := robustListLimit; e != head; {
		n, ok := word(e) // read the link before the lock may be freed
		if e != pendAddr && !t.futexDeath(e+uintptr(offset), pi, false) {
			return
		}
		if !ok {
			return
		}
		e, pi = entry(n)
		if limit--; limit == 0 {
			break
		}
	}
	if pendAddr != 0 {
		t.futexDeath(pendAddr+uintptr(offset), pendPI, true)
	}
}

// futexDeath marks the robust lock word at addr as owned by a dead
// thread if t owns it, and wakes one waiter. A pending lock word (the
// thread died between taking and listing it) that is still 0 gets a wake
// too, so a waiter that raced with the death is not stranded. It reports
// false when the word is misaligned or cannot be read or written.
func (t *Task) futexDeath(addr uintptr, pi, pending bool) bool {
	cur, err := readWord(t.mm, addr)
	if err != nil {
		return false
	}
	if pending && !pi && cur == 0 {
		t.futexWakeShared(addr, 1)
		return true
	}
	if cur&futexTIDMask != uint32(t.tid) {
		return true // not ours: left alone, unwritten
	}
	var owned, waiters bool
	_, err = t.mm.AtomicUpdate32(addr, func(v uint32) uint32 {
		owned = v&futexTIDMask == uint32(t.tid)
		waiters = v&futexWaiters != 0
		if !owned {
			return v
		}
		return v&futexWaiters | futexOwnerDied
	})
	if err != nil {
		return false
	}
	if owned && waiters && !pi {
		t.futexWakeShared(addr, 1)
	}
	return true
}

// futexWakeShared wakes up to n waiters on addr as a FUTEX_WAKE without
// FUTEX_PRIVATE_FLAG does (the kernel's own wakes are shared ones).
func (t *Task) futexWakeShared(addr uintptr, n int) {
	key, err := t.futexKey(addr, false)
	if err != nil {
		return
	}
	ft := &t.k.futex
	ft.mu.Lock()
	ft.wakeLocked(key, n, FutexBitsetAll)
	ft.mu.Unlock()
}
