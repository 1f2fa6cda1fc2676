package epoll

import (
	"testing"
	"time"

	"moat/fs/pipe"
	"moat/park"
	"moat/vfs"
	"moat/vfs/vfstest"
)

// ready reports up to max events of in as a wait would, consuming them.
func ready(in *Instance, max int) ([]Event, []<-chan struct{}, bool) {
	var got []Event
	_, w, _ := in.Report(max, func(evs []Event) error { got = evs; return nil }, nil)
	return got, w.Chans, w.Periodic
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

// TestWaitParked checks that a Report with a Parker registers it with
// everything it says to wait for — the interest list, a level-triggered
// pipe, an edge-triggered one — so that a wait parked on it is woken by
// each, and that it says so (Parked).
func TestWaitParked(t *testing.T) {
	ef, in := New()
	defer ef.DecRef()
	var pk park.Parker
	unparked := func() bool { // without a token Park waits out its deadline
		start := time.Now()
		pk.Park(start.Add(20 * time.Millisecond))
		return time.Since(start) < 20*time.Millisecond
	}
	report := func() {
		t.Helper()
		n, w, err := in.Report(8, func([]Event) error { return nil }, &pk)
		if n != 0 || err != nil || !w.Parked {
			t.Fatalf("Report = %d, %+v, %v; want nothing ready, parked", n, w, err)
		}
	}
	r1, w1 := pipe.New(true)
	defer r1.DecRef()
	defer w1.DecRef()
	r2, w2 := pipe.New(true)
	defer r2.DecRef()
	defer w2.DecRef()

	report()
	vfstest.Must(t, in.Add(3, r1, vfs.PollIn, 1))
	if !unparked() {
		t.Fatal("adding an interest did not unpark the waiter")
	}
	for i, step := range []struct {
		r, w  *vfs.FileDescription
		fd    int32
		flags uint32
	}{{r1, w1, 3, vfs.PollIn}, {r2, w2, 4, vfs.PollIn | EPOLLET}} {
		if i > 0 {
			vfstest.Must(t, in.Add(step.fd, step.r, step.flags, uint64(step.fd)))
			unparked() // the list's change
		}
		report()
		if unparked() {
			t.Fatalf("pipe %d: unparked before any change", i+1)
		}
		if n, err := pipe.Append(step.w.Impl(), []byte("x")); n != 1 || err != nil {
			t.Fatalf("Append = %d, %v", n, err)
		}
		if !unparked() {
			t.Fatalf("pipe %d: a write did not unpark the waiter", i+1)
		}
		vfstest.Must(t, in.Delete(step.fd, step.r))
		unparked()
	}
}

// racyFile becomes ready while its readiness is being read, as a file
// written by another thread at that moment does.
type racyFile struct {
	changes vfs.Changes
	ready   bool
}

func (f *racyFile) Read(vfs.Context, []byte, int64) (int, error)  { return 0, nil }
func (f *racyFile) Write(vfs.Context, []byte, int64) (int, error) { return 0, nil }
func (f *racyFile) Release()                                      {}
func (f *racyFile) Changed() <-chan struct{}                      { return f.changes.Chan() }

func (f *racyFile) Readiness() uint32 {
	was := f.ready
	f.ready = true
	f.changes.Notify()
	if was {
		return vfs.PollIn
	}
	return 0 // as read just before the change
}

// TestChangeDuringReadiness checks that a change that comes while a wait
// reads an interest's readiness wakes the wait: the channel is taken
// before the readiness. Taken after it, the channel was a new one, which
// only the next change closes, and an epoll_wait on a level-triggered
// pipe slept for ever now and then (2 of 5 runs of a 3000-round epoll
// ping-pong).
func TestChangeDuringReadiness(t *testing.T) {
	for _, flags := range []uint32{vfs.PollIn, vfs.PollIn | EPOLLET} {
		ef, in := New()
		f := vfs.NewFileDescription(&racyFile{}, vfs.Path{}, 0)
		vfstest.Must(t, in.Add(3, f, flags, 1))
		evs, chans, _ := ready(in, 8)
		if len(evs) != 0 {
			t.Fatalf("flags %#x: events %v before the change", flags, evs)
		}
		if !closed(chans) {
			t.Errorf("flags %#x: the change during the readiness check wakes no waiter", flags)
		}
		f.DecRef()
		ef.DecRef()
	}
}
