package unixsock

import (
	"testing"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

type ctx struct{}

func (ctx) UID() uint32 { return 0 }
func (ctx) GID() uint32 { return 0 }

type fakeFile struct{ released *int }

func (fakeFile) Read(vfs.Context, []byte, int64) (int, error)  { return 0, nil }
func (fakeFile) Write(vfs.Context, []byte, int64) (int, error) { return 0, nil }
func (f fakeFile) Release()                                    { *f.released++ }

func newFake(released *int) *vfs.FileDescription {
	return vfs.NewFileDescription(fakeFile{released}, vfs.Path{}, unix.O_RDWR)
}

// TestInFlightReleased checks that descriptors in flight are released
// when the receiving socket closes, and received ones are handed over.
func TestInFlightReleased(t *testing.T) {
	for _, typ := range []int{unix.SOCK_STREAM, unix.SOCK_DGRAM, unix.SOCK_SEQPACKET} {
		released := 0
		x, y := Pair(typ)
		f1, f2 := newFake(&released), newFake(&released)
		if _, err := x.Send(ctx{}, []byte("a"), Options{}); err != nil {
			t.Fatal(err)
		}
		if n, err := x.SendTo(ctx{}, []byte("b"), Options{}, nil, []*vfs.FileDescription{f1}); n != 1 || err != nil {
			t.Fatalf("type %d: send = %d, %v", typ, n, err)
		}
		if n, err := x.SendTo(ctx{}, []byte("c"), Options{}, nil, []*vfs.FileDescription{f2}); n != 1 || err != nil {
			t.Fatalf("type %d: send = %d, %v", typ, n, err)
		}
		if got := inFlight.Load(); got != 2 {
			t.Errorf("type %d: in flight %d, want 2", typ, got)
		}
		buf := make([]byte, 10)
		m, err := y.Recv(ctx{}, buf, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if typ == unix.SOCK_STREAM {
			// The plain byte and the one with the descriptor come together.
			if m.N != 2 || len(m.FDs) != 1 {
				t.Errorf("stream recv: %d bytes, %d fds; want 2, 1", m.N, len(m.FDs))
			}
		} else {
			m2, _ := y.Recv(ctx{}, buf, Options{})
			if m.N != 1 || len(m.FDs) != 0 || len(m2.FDs) != 1 {
				t.Errorf("type %d: recv: %d fds then %d; want 0, 1", typ, len(m.FDs), len(m2.FDs))
			}
			m.FDs = m2.FDs
		}
		Release(m.FDs)
		if released != 1 {
			t.Errorf("type %d: %d released after receiving one, want 1", typ, released)
		}
		x.Release()
		y.Release()
		if released != 2 {
			t.Errorf("type %d: %d released after close, want 2", typ, released)
		}
		if got := inFlight.Load(); got != 0 {
			t.Errorf("type %d: in flight %d after close, want 0", typ, got)
		}
	}
}

// TestListenAcceptConnect checks the backlog bound and addresses.
func TestListenAcceptConnect(t *testing.T) {
	l := New(unix.SOCK_STREAM)
	if err := l.Listen(1, Cred{}); err != unix.EINVAL {
		t.Errorf("listen unbound: %v, want EINVAL", err)
	}
	if err := l.Bind("\x00unixsock-test", nil); err != nil {
		t.Fatal(err)
	}
	if err := New(unix.SOCK_STREAM).Bind("\x00unixsock-test", nil); err != unix.EADDRINUSE {
		t.Errorf("second bind: %v, want EADDRINUSE", err)
	}
	if err := l.Listen(0, Cred{PID: 7}); err != nil {
		t.Fatal(err)
	}
	c1, c2 := New(unix.SOCK_STREAM), New(unix.SOCK_STREAM)
	if err := c1.Connect(ctx{}, l, Cred{PID: 9}, true); err != nil {
		t.Fatal(err)
	}
	if err := c2.Connect(ctx{}, l, Cred{}, true); err != unix.EAGAIN {
		t.Errorf("connect to a full backlog: %v, want EAGAIN", err)
	}
	if r := l.Readiness(); r&vfs.PollIn == 0 {
		t.Errorf("listener readiness %#x, want POLLIN", r)
	}
	a, err := l.Accept(ctx{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := a.PeerCred(); c.PID != 9 {
		t.Errorf("accepted peer pid %d, want 9", c.PID)
	}
	if c, _ := c1.PeerCred(); c.PID != 7 {
		t.Errorf("client peer pid %d, want 7", c.PID)
	}
	if p, _ := c1.PeerAddr(); p != "\x00unixsock-test" {
		t.Errorf("client peer %q", p)
	}
	l.Release()
	if LookupAbstract("\x00unixsock-test") != nil {
		t.Error("abstract name still bound after close")
	}
	a.Release()
	c1.Release()
	c2.Release()
}
