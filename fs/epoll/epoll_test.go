package epoll

import (
	"testing"

	"moat/fs/pipe"
	"moat/vfs"
	"moat/vfs/vfstest"
)

// closed reports whether one of chans is closed: a waiter on them would
// have woken.
func closed(chans []<-chan struct{}) bool {
	for _, c := range chans {
		if c == nil {
			continue
		}
		select {
		case <-c:
			return true
		default:
		}
	}
	return false
}

// TestWaiterSeesInterestList checks that a waiter, blocked on the
// channels of the interest list it saw, wakes when a file is added and
// when an interest is modified (Linux's epoll_ctl wakes epoll_wait), and
// then for the added file's own data. Go's runtime blocks one thread in
// epoll_wait before another adds the pipe a goroutine waits for; without
// this it waited for ever.
func TestWaiterSeesInterestList(t *testing.T) {
	ef, in := New()
	defer ef.DecRef()
	evs, chans, periodic := in.Ready(8)
	if len(evs) != 0 || periodic {
		t.Fatalf("empty instance: events %v, periodic %v", evs, periodic)
	}
	r, w := pipe.New(true)
	defer r.DecRef()
	defer w.DecRef()
	vfstest.Must(t, in.Add(3, r, vfs.PollIn|EPOLLET, 7))
	if !closed(chans) {
		t.Fatal("adding a file to the interest list did not wake a waiter")
	}

	evs, chans, _ = in.Ready(8)
	if len(evs) != 0 || closed(chans) {
		t.Fatalf("empty pipe: events %v, a channel already closed: %v", evs, closed(chans))
	}
	if n, err := pipe.Append(w.Impl(), []byte("x")); n != 1 || err != nil {
		t.Fatalf("Append = %d, %v", n, err)
	}
	if !closed(chans) {
		t.Fatal("data written to the pipe did not wake a waiter")
	}
	evs, _, _ = in.Ready(8)
	if len(evs) != 1 || evs[0].Data != 7 || evs[0].Events&vfs.PollIn == 0 {
		t.Fatalf("after a write: events %+v, want one PollIn with data 7", evs)
	}

	// Edge-triggered: reported once, until Modify re-arms it.
	evs, chans, _ = in.Ready(8)
	if len(evs) != 0 || closed(chans) {
		t.Fatalf("edge already reported: events %v, a channel closed: %v", evs, closed(chans))
	}
	vfstest.Must(t, in.Modify(3, vfs.PollIn|EPOLLET, 9))
	if !closed(chans) {
		t.Fatal("modifying an interest did not wake a waiter")
	}
	evs, _, _ = in.Ready(8)
	if len(evs) != 1 || evs[0].Data != 9 {
		t.Fatalf("after Modify: events %+v, want one with data 9", evs)
	}
}
