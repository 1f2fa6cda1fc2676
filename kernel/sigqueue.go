package kernel

import "sync/atomic"

// signalQueue is a queue of pending signals, a thread's (guarded by its
// Task.mu) or a process's shared one (guarded by signalHandlers.mu). Every
// change stores the length, which the run loop reads without the lock
// before every return to the app (Task.nothingQueued).
type signalQueue struct {
	list []SigInfo // guarded by the owner's lock
	n    atomic.Int32
}

// empty reports, without the owner's lock, that nothing is queued.
func (q *signalQueue) empty() bool { return q.n.Load() == 0 }

// set replaces the list and publishes its length.
//
// Preconditions: the owner's lock is held.
func (q *signalQueue) set(list []SigInfo) {
	q.list = list
	q.n.Store(int32(len(list)))
}

// push appends si.
//
// Preconditions: the owner's lock is held.
func (q *signalQueue) push(si SigInfo) { q.set(append(q.list, si)) }

// has reports whether signal sig is queued.
//
// Preconditions: the owner's lock is held.
func (q *signalQueue) has(sig int32) bool {
	for _, p := range q.list {
		if p.Signo == sig {
			return true
		}
	}
	return false
}

// mask returns the set of queued signals (bit n-1 for signal n).
//
// Preconditions: the owner's lock is held.
func (q *signalQueue) mask() uint64 {
	var m uint64
	for _, p := range q.list {
		m |= SigBit(int(p.Signo))
	}
	return m
}

// dequeue removes and returns the lowest-numbered signal not in mask.
//
// Preconditions: the owner's lock is held.
func (q *signalQueue) dequeue(mask uint64) (SigInfo, bool) {
	best := -1
	for i, p := range q.list {
		if mask&SigBit(int(p.Signo)) != 0 {
			continue
		}
		if best < 0 || p.Signo < q.list[best].Signo {
			best = i
		}
	}
	if best < 0 {
		return SigInfo{}, false
	}
	si := q.list[best]
	q.set(append(q.list[:best], q.list[best+1:]...))
	if si.timer != nil {
		si.timer.taken(&si)
		si.timer = nil
	}
	return si, true
}

// discard drops the queued signals in set.
//
// Preconditions: the owner's lock is held.
func (q *signalQueue) discard(set uint64) {
	kept := q.list[:0]
	for _, p := range q.list {
		if set&SigBit(int(p.Signo)) == 0 {
			kept = append(kept, p)
		} else if p.timer != nil {
			p.timer.taken(&p) // the timer may queue its next one
		}
	}
	q.set(kept)
}
