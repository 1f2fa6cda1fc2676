package unixsock

import (
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// open gives a socket a description, as socket(2) does.
func open(s *Socket) *vfs.FileDescription {
	return vfs.NewFileDescription(s, vfs.Path{}, unix.O_RDWR)
}

// TestCollectCycle checks that sockets that hold each other in flight,
// and nothing else, are released with what they hold once their last
// descriptions are closed, and that sockets that a live socket's queue
// holds are not.
func TestCollectCycle(t *testing.T) {
	released := 0
	// a0 in b1's queue, b1 in a0's queue, with a file.
	a0, a1 := Pair(unix.SOCK_DGRAM)
	b0, b1 := Pair(unix.SOCK_DGRAM)
	fa0, fa1, fb0, fb1 := open(a0), open(a1), open(b0), open(b1)
	file := newFake(&released)
	fa0.IncRef()
	if _, err := b0.SendTo(ctx{}, []byte("x"), Options{}, nil, []*vfs.FileDescription{fa0, file}); err != nil {
		t.Fatal(err)
	}
	fb1.IncRef()
	if _, err := a1.SendTo(ctx{}, []byte("y"), Options{}, nil, []*vfs.FileDescription{fb1}); err != nil {
		t.Fatal(err)
	}
	fa1.DecRef()
	fb0.DecRef()
	fa0.DecRef()
	if released != 0 {
		t.Fatalf("released %d with b1 still open", released)
	}
	fb1.DecRef()
	if released != 1 {
		t.Fatalf("cycle closed: file released %d times, want 1", released)
	}
	if !a0.closed || !b1.closed {
		t.Fatalf("cycle closed: sockets released: %v %v", a0.closed, b1.closed)
	}
	if len(gc.sockets) != 0 {
		t.Fatalf("%d sockets still counted in flight", len(gc.sockets))
	}

	// Reachable: c1 (holding c0 and a file) is in the queue of d1, which
	// stays open.
	released = 0
	c0, c1 := Pair(unix.SOCK_STREAM)
	d0, d1 := Pair(unix.SOCK_STREAM)
	fc0, fc1, fd0, fd1 := open(c0), open(c1), open(d0), open(d1)
	file = newFake(&released)
	fc0.IncRef()
	if _, err := c0.SendTo(ctx{}, []byte("x"), Options{}, nil, []*vfs.FileDescription{fc0, file}); err != nil {
		t.Fatal(err)
	}
	fc1.IncRef()
	if _, err := d0.SendTo(ctx{}, []byte("y"), Options{}, nil, []*vfs.FileDescription{fc1}); err != nil {
		t.Fatal(err)
	}
	fc0.DecRef()
	fc1.DecRef()
	if released != 0 || c1.closed {
		t.Fatalf("reachable sockets collected: file released %d, c1 closed %v", released, c1.closed)
	}
	// Closing d1 releases its queue, and with it the rest.
	fd0.DecRef()
	fd1.DecRef()
	if released != 1 || !c0.closed || !c1.closed {
		t.Fatalf("after close: file released %d, closed %v %v", released, c0.closed, c1.closed)
	}
}

// TestChainNoWalk: a chain of sockets, each queued in the next one's
// receive queue (the next one not yet in flight), can hold no cycle, so
// building it and closing its head never walks the sockets in flight
// (each close did, which made the chain quadratic in its length); closing
// the head still releases the whole chain.
func TestChainNoWalk(t *testing.T) {
	gc.mu.Lock()
	walks := gc.walks
	gc.mu.Unlock()
	const depth = 1000
	var all []*Socket
	var prev *vfs.FileDescription
	for range depth {
		a, b := Pair(unix.SOCK_DGRAM)
		fa, fb := open(a), open(b)
		all = append(all, a, b)
		if prev != nil {
			if _, err := a.SendTo(ctx{}, []byte("x"), Options{}, nil, []*vfs.FileDescription{prev}); err != nil {
				t.Fatal(err)
			}
		}
		fa.DecRef()
		prev = fb
	}
	prev.DecRef()
	for i, s := range all {
		if !s.closed {
			t.Fatalf("socket %d of the chain not released", i)
		}
	}
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.walks != walks || len(gc.sockets) != 0 {
		t.Errorf("chain of %d: %d collections walked, %d sockets still in flight; want 0, 0", depth, gc.walks-walks, len(gc.sockets))
	}
}

// TestStreamCreds checks that a stream read with SO_PASSCRED stops where
// the sender changes and reports each sender, and one without reads
// across.
func TestStreamCreds(t *testing.T) {
	x, y := Pair(unix.SOCK_STREAM)
	me, other := Cred{PID: 7, UID: 1, GID: 2}, Cred{PID: 8, UID: 3, GID: 4}
	y.SetPassCred(true)
	for _, w := range []struct {
		s string
		c Cred
	}{{"ab", me}, {"cd", me}, {"ef", other}, {"gh", me}} {
		c := w.c
		if _, err := x.SendTo(ctx{}, []byte(w.s), Options{Cred: &c}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 16)
	for _, want := range []struct {
		s string
		c Cred
	}{{"abcd", me}, {"ef", other}, {"gh", me}} {
		m, err := y.Recv(ctx{}, buf, Options{NonBlock: true})
		if err != nil || string(buf[:m.N]) != want.s || !m.PassCred || m.Cred != want.c {
			t.Fatalf("recv = %q %+v, %v; want %q %+v", buf[:m.N], m, err, want.s, want.c)
		}
	}
	y.SetPassCred(false)
	for _, s := range []string{"ab", "cd"} {
		c := other
		if s == "cd" {
			c = me
		}
		x.SendTo(ctx{}, []byte(s), Options{Cred: &c}, nil, nil)
	}
	if m, err := y.Recv(ctx{}, buf, Options{NonBlock: true}); err != nil || string(buf[:m.N]) != "abcd" || m.PassCred {
		t.Fatalf("recv without SO_PASSCRED = %q %+v, %v", buf[:m.N], m, err)
	}
}

// TestReset checks that closing a stream socket with unread data resets
// its peer once.
func TestReset(t *testing.T) {
	x, y := Pair(unix.SOCK_STREAM)
	x.Send(ctx{}, []byte("a"), Options{})
	y.Release()
	buf := make([]byte, 4)
	if _, err := x.Recv(ctx{}, buf, Options{NonBlock: true}); err != unix.ECONNRESET {
		t.Fatalf("first read: %v, want ECONNRESET", err)
	}
	if m, err := x.Recv(ctx{}, buf, Options{NonBlock: true}); err != nil || m.N != 0 {
		t.Fatalf("second read: %d, %v, want end of file", m.N, err)
	}
}

// TestCollectConcurrent sends sockets over one another from several
// goroutines, receiving some, and closes everything: every file in flight
// is released exactly once, and no socket stays counted in flight.
func TestCollectConcurrent(t *testing.T) {
	const workers, rounds = 4, 200
	var mu sync.Mutex
	totalReleased = 0
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range rounds {
				x, y := Pair(unix.SOCK_STREAM)
				fx, fy := open(x), open(y)
				file := vfs.NewFileDescription(lockedFake{&mu}, vfs.Path{}, unix.O_RDWR)
				fx.IncRef()
				fy.IncRef()
				x.SendTo(ctx{}, []byte("a"), Options{}, nil, []*vfs.FileDescription{fx, file})
				y.SendTo(ctx{}, []byte("b"), Options{}, nil, []*vfs.FileDescription{fy})
				if (i+w)%3 == 0 {
					m, _ := y.Recv(ctx{}, make([]byte, 1), Options{NonBlock: true})
					Release(m.FDs)
				}
				fx.DecRef()
				fy.DecRef()
			}
		}()
	}
	for range workers {
		<-done
	}
	collect()
	gc.mu.Lock()
	n := len(gc.sockets)
	gc.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d sockets still counted in flight", n)
	}
	if got := countReleased(&mu); got != workers*rounds {
		t.Fatalf("files released %d times, want %d", got, workers*rounds)
	}
}

// totalReleased counts lockedFake releases (under their mutex).
var totalReleased int

func countReleased(mu *sync.Mutex) int {
	mu.Lock()
	defer mu.Unlock()
	return totalReleased
}

type lockedFake struct{ mu *sync.Mutex }

func (lockedFake) Read(vfs.Context, []byte, int64) (int, error)  { return 0, nil }
func (lockedFake) Write(vfs.Context, []byte, int64) (int, error) { return 0, nil }
func (f lockedFake) Release() {
	f.mu.Lock()
	totalReleased++
	f.mu.Unlock()
}
