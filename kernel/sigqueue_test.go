package kernel

import "testing"

// TestSignalQueue checks the queue's order and masks, and that every
// change publishes the length the run loop reads without locks.
func TestSignalQueue(t *testing.T) {
	var q signalQueue
	if !q.empty() {
		t.Fatal("a new queue is not empty")
	}
	for _, sig := range []int32{34, 10, 12, 34} {
		q.push(SigInfo{Signo: sig})
	}
	if q.empty() || q.n.Load() != 4 || !q.has(12) || q.has(2) {
		t.Fatalf("after 4 pushes: n %d, has(12) %v, has(2) %v", q.n.Load(), q.has(12), q.has(2))
	}
	if got, want := q.mask(), SigBit(10)|SigBit(12)|SigBit(34); got != want {
		t.Fatalf("mask %#x, want %#x", got, want)
	}
	// The lowest-numbered signal not in the mask comes first.
	if si, ok := q.dequeue(SigBit(10)); !ok || si.Signo != 12 {
		t.Fatalf("dequeue with 10 masked = %d, %v; want 12", si.Signo, ok)
	}
	if si, ok := q.dequeue(0); !ok || si.Signo != 10 {
		t.Fatalf("dequeue = %d, %v; want 10", si.Signo, ok)
	}
	if _, ok := q.dequeue(SigBit(34)); ok || q.n.Load() != 2 {
		t.Fatalf("dequeue with only 34 queued and masked: ok %v, n %d", ok, q.n.Load())
	}
	q.discard(SigBit(34))
	if !q.empty() || len(q.list) != 0 {
		t.Fatalf("after discarding 34: n %d, list %v", q.n.Load(), q.list)
	}
}
