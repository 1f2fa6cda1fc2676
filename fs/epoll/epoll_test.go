package epoll

import (
	"testing"

	"moat/fs/pipe"
	"moat/vfs"
	"moat/vfs/vfstest"
)

// ready reports up to max events of in as a wait would, consuming them.
func ready(in *Instance, max int) ([]Event, []<-chan struct{}, bool) {
	var got []Event
	_, chans, periodic, _ := in.Report(max, func(evs []Event) error { got = evs; return nil })
	return got, chans, periodic
}

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
	evs, chans, periodic := ready(in, 8)
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

	evs, chans, _ = ready(in, 8)
	if len(evs) != 0 || closed(chans) {
		t.Fatalf("empty pipe: events %v, a channel already closed: %v", evs, closed(chans))
	}
	if n, err := pipe.Append(w.Impl(), []byte("x")); n != 1 || err != nil {
		t.Fatalf("Append = %d, %v", n, err)
	}
	if !closed(chans) {
		t.Fatal("data written to the pipe did not wake a waiter")
	}
	evs, _, _ = ready(in, 8)
	if len(evs) != 1 || evs[0].Data != 7 || evs[0].Events&vfs.PollIn == 0 {
		t.Fatalf("after a write: events %+v, want one PollIn with data 7", evs)
	}

	// Edge-triggered: reported once, until Modify re-arms it.
	evs, chans, _ = ready(in, 8)
	if len(evs) != 0 || closed(chans) {
		t.Fatalf("edge already reported: events %v, a channel closed: %v", evs, closed(chans))
	}
	vfstest.Must(t, in.Modify(3, r, vfs.PollIn|EPOLLET, 9))
	if !closed(chans) {
		t.Fatal("modifying an interest did not wake a waiter")
	}
	evs, _, _ = ready(in, 8)
	if len(evs) != 1 || evs[0].Data != 9 {
		t.Fatalf("after Modify: events %+v, want one with data 9", evs)
	}
}

// TestCloseLeavesInterestList checks that an interest does not keep its
// file open, as on Linux: closing the last descriptor of a pipe's write
// end, registered, gives the read end its hang-up, takes the write end
// out of the list, and frees the fd number for another file.
func TestCloseLeavesInterestList(t *testing.T) {
	ef, in := New()
	defer ef.DecRef()
	r, w := pipe.New(true)
	defer r.DecRef()
	vfstest.Must(t, in.Add(4, w, vfs.PollOut, 1))
	if evs, _, _ := ready(in, 8); len(evs) != 1 || evs[0].Data != 1 {
		t.Fatalf("write end registered: events %+v, want one with data 1", evs)
	}
	w.DecRef() // the app closes its only descriptor of the write end
	if r.Readiness()&vfs.PollHup == 0 {
		t.Fatal("the read end has no hang-up: the interest list kept the write end open")
	}
	if evs, _, _ := ready(in, 8); len(evs) != 0 {
		t.Fatalf("after the close: events %+v, want none", evs)
	}
	r2, w2 := pipe.New(true)
	defer r2.DecRef()
	defer w2.DecRef()
	vfstest.Must(t, in.Add(4, w2, vfs.PollOut, 2))
	if evs, _, _ := ready(in, 8); len(evs) != 1 || evs[0].Data != 2 {
		t.Fatalf("the fd added again for another file: events %+v, want one with data 2", evs)
	}
}
