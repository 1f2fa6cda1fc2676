package tty

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// fakeKernel records the signals terminals send.
type fakeKernel struct {
	mu       sync.Mutex
	signals  []string
	detached int
}

func (k *fakeKernel) SignalGroupFromTerminal(pgid int32, sig unix.Signal) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.signals = append(k.signals, "group "+unix.SignalName(sig))
}

func (k *fakeKernel) SignalProcessFromTerminal(pid int32, sig unix.Signal) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.signals = append(k.signals, "process "+unix.SignalName(sig))
}

func (k *fakeKernel) DetachTerminal(term any) []int32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.detached++
	return []int32{7}
}

func (k *fakeKernel) SessionOfGroup(pgid int32) (int32, error) { return 0, unix.ESRCH }

// ctx is a caller that is no process (no job control), optionally
// non-blocking.
type ctx struct{ nonblock bool }

func (ctx) UID() uint32                 { return 0 }
func (ctx) GID() uint32                 { return 0 }
func (c ctx) NonblockingIO() bool       { return c.nonblock }
func (ctx) Block(<-chan struct{}) error { return unix.EINTR } // a blocking call would hang the test

// mem is a flat memory at address 0x1000; anything else faults.
type mem struct{ b []byte }

func (m *mem) CopyIn(addr uintptr, dst []byte) (int, error) {
	if addr < 0x1000 || int(addr-0x1000)+len(dst) > len(m.b) {
		return 0, unix.EFAULT
	}
	return copy(dst, m.b[addr-0x1000:]), nil
}

func (m *mem) CopyOut(addr uintptr, src []byte) (int, error) {
	if addr < 0x1000 || int(addr-0x1000)+len(src) > len(m.b) {
		return 0, unix.EFAULT
	}
	return copy(m.b[addr-0x1000:], src), nil
}

func newPair(t *testing.T) (*fakeKernel, *FS, *Master, *Slave) {
	t.Helper()
	k := &fakeKernel{}
	fs := New(k, 99)
	mi, err := fs.OpenPtmx(ctx{}, unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	m := mi.(*Master)
	m.t.Unlock()
	si, err := m.t.openSlave(ctx{}, unix.O_RDWR|unix.O_NOCTTY)
	if err != nil {
		t.Fatal(err)
	}
	return k, fs, m, si.(*Slave)
}

func readAll(t *testing.T, f vfs.FileImpl) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 1<<17)
	for {
		n, err := f.Read(ctx{nonblock: true}, buf, 0)
		out = append(out, buf[:n]...)
		if err != nil || n == 0 {
			return string(out)
		}
	}
}

func TestCanonicalEditingAndEcho(t *testing.T) {
	_, _, m, s := newPair(t)
	if _, err := m.Write(ctx{}, []byte("ab\x7fc\nxy\x15z\x04"), 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, err := s.Read(ctx{}, buf, 0)
	if err != nil || string(buf[:n]) != "ac\n" {
		t.Errorf("first line %q, %v; want \"ac\\n\"", buf[:n], err)
	}
	n, err = s.Read(ctx{}, buf, 0)
	if err != nil || string(buf[:n]) != "z" {
		t.Errorf("second line %q, %v; want \"z\" (killed xy, ended by EOF)", buf[:n], err)
	}
	if got, want := readAll(t, m), "ab\b \bc\r\nxy\b \b\b \bz"; got != want {
		t.Errorf("echo %q, want %q", got, want)
	}
	if _, err := s.Write(ctx{}, []byte("out\n"), 0); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, m); got != "out\r\n" {
		t.Errorf("ONLCR output %q", got)
	}
}

// TestBounds: a hostile writer on either side cannot make the terminal
// hold more than its bounds; non-blocking writers get EAGAIN, and a long
// canonical line is cut at the line buffer's size but still ends.
func TestBounds(t *testing.T) {
	_, _, m, s := newPair(t)
	m.t.mu.Lock()
	raw := m.t.termios
	raw.Lflag &^= lICANON | lECHO
	m.t.setTermios(raw)
	m.t.mu.Unlock()
	big := bytes.Repeat([]byte("x"), 1<<20)
	n, err := m.Write(ctx{nonblock: true}, big, 0)
	if n == 0 || n >= len(big) || err != nil {
		t.Fatalf("master write of 1 MiB: %d, %v; want a partial write", n, err)
	}
	if n2, err := m.Write(ctx{nonblock: true}, big, 0); n2 != 0 || !errors.Is(err, unix.EAGAIN) {
		t.Errorf("master write when full: %d, %v; want EAGAIN", n2, err)
	}
	m.t.mu.Lock()
	held := len(m.t.pending) + len(m.t.rq) + len(m.t.line)
	m.t.mu.Unlock()
	if held > pendingMax+inputMax {
		t.Errorf("the terminal holds %d bytes of input", held)
	}
	// Flush it, then end a canonical line longer than the buffer.
	m.t.mu.Lock()
	m.t.flushInput(true)
	m.t.setTermios(defaultTermios())
	m.t.mu.Unlock()
	if _, err := m.Write(ctx{}, append(bytes.Repeat([]byte("y"), 5000), '\n'), 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8192)
	n, err = s.Read(ctx{}, buf, 0)
	if err != nil || n > inputMax+1 || n < 2 || buf[n-1] != '\n' {
		t.Errorf("long line: %d bytes, %v", n, err)
	}
	n, err = s.Write(ctx{nonblock: true}, big, 0)
	if n == 0 || n >= len(big) || err != nil {
		t.Fatalf("slave write of 1 MiB: %d, %v; want a partial write", n, err)
	}
	if m.t.out != nil && len(m.t.out) > outMax {
		t.Errorf("output holds %d bytes", len(m.t.out))
	}
}

func TestSignalCharacters(t *testing.T) {
	k, _, m, s := newPair(t)
	m.t.SetSession(5, 6)
	m.Write(ctx{}, []byte("abc\x03\x1c\x1a"), 0)
	k.mu.Lock()
	got := append([]string(nil), k.signals...)
	k.mu.Unlock()
	want := []string{"group SIGINT", "group SIGQUIT", "group SIGTSTP"}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("signals %v, want %v", got, want)
	}
	// Each signal character clears the echoes of the same input not yet
	// written, as Linux clears its echo buffer: only the last remains.
	if echo := readAll(t, m); echo != "^Z" {
		t.Errorf("echo %q", echo)
	}
	if n, err := s.Read(ctx{nonblock: true}, make([]byte, 10), 0); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("input after ^C: %d, %v; want it flushed (EAGAIN)", n, err)
	}
	// Only a change of size signals.
	m.t.SetWindowSize(1, 2, 0, 0)
	m.t.SetWindowSize(1, 2, 0, 0)
	k.mu.Lock()
	if n := len(k.signals); n != 4 || k.signals[3] != "group SIGWINCH" {
		t.Errorf("after two resizes to the same size: %v", k.signals)
	}
	k.mu.Unlock()
}

func TestHangup(t *testing.T) {
	k, fs, m, s := newPair(t)
	m.Release()
	if k.detached != 1 || len(k.signals) != 2 || k.signals[0] != "process SIGHUP" || k.signals[1] != "process SIGCONT" {
		t.Errorf("hangup: detached %d, signals %v", k.detached, k.signals)
	}
	if n, err := s.Read(ctx{}, make([]byte, 4), 0); n != 0 || err != nil {
		t.Errorf("read after hangup: %d, %v", n, err)
	}
	if _, err := s.Write(ctx{}, []byte("x"), 0); !errors.Is(err, unix.EIO) {
		t.Errorf("write after hangup: %v", err)
	}
	if _, err := s.Ioctl(ctx{}, tcgets, 0x1000, &mem{b: make([]byte, 64)}); !errors.Is(err, unix.EIO) {
		t.Errorf("TCGETS after hangup: %v", err)
	}
	if _, err := fs.Root().Lookup(ctx{}, "0"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("lookup of the hung up slave: %v", err)
	}
}

func TestIoctlErrors(t *testing.T) {
	_, _, m, s := newPair(t)
	mm := &mem{b: make([]byte, 64)}
	for _, req := range []uint32{tcgets, tcsets, tcgets2, tiocgwinsz, tiocswinsz, fionread} {
		if _, err := s.Ioctl(ctx{}, req, 0x10, mm); !errors.Is(err, unix.EFAULT) {
			t.Errorf("ioctl %#x with a bad pointer: %v, want EFAULT", req, err)
		}
	}
	if _, err := m.Ioctl(ctx{}, tiocgptn, 0x2000, mm); !errors.Is(err, unix.EFAULT) {
		t.Errorf("TIOCGPTN with a bad pointer: %v", err)
	}
	for _, req := range []uint32{0x54ff, tiocgptn, 0xdeadbeef} {
		if _, err := s.Ioctl(ctx{}, req, 0x1000, mm); !errors.Is(err, unix.ENOTTY) {
			t.Errorf("slave ioctl %#x: %v, want ENOTTY", req, err)
		}
	}
	if _, err := s.Ioctl(ctx{}, tiocgpgrp, 0x1000, mm); !errors.Is(err, unix.ENOTTY) {
		t.Errorf("TIOCGPGRP from a non-process: %v", err)
	}
	// The default settings read back as Linux's.
	if _, err := s.Ioctl(ctx{}, tcgets, 0x1000, mm); err != nil {
		t.Fatal(err)
	}
	tm := decodeTermios(mm.b[:termiosSize])
	if tm.Iflag != 0o2400 || tm.Oflag != 0o5 || tm.Cflag != 0o277 || tm.Lflag != 0o105073 {
		t.Errorf("default termios %+v", tm)
	}
}

func TestDevptsDirectory(t *testing.T) {
	_, fs, m, _ := newPair(t)
	ents, err := fs.Root().ReadDir(ctx{})
	if err != nil || len(ents) != 2 || ents[0].Name != "ptmx" || ents[1].Name != "0" {
		t.Errorf("ReadDir %v, %v", ents, err)
	}
	for _, name := range []string{"00", "1", "-0", "x"} {
		if _, err := fs.Root().Lookup(ctx{}, name); !errors.Is(err, unix.ENOENT) {
			t.Errorf("lookup %q: %v", name, err)
		}
	}
	in, err := fs.Root().Lookup(ctx{}, "0")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := in.Stat(ctx{})
	if st.Rdev != unix.Mkdev(136, 0) || st.Mode != unix.S_IFCHR|0o620 || st.Ino != 3 {
		t.Errorf("slave stat %+v", st)
	}
	if err := fs.Root().Mkdir(ctx{}, "d", 0o755); !errors.Is(err, unix.EPERM) {
		t.Errorf("mkdir: %v", err)
	}
	m.t.mu.Lock()
	m.t.locked = true
	m.t.mu.Unlock()
	if _, err := in.Open(ctx{}, unix.O_RDWR); !errors.Is(err, unix.EIO) {
		t.Errorf("open of a locked slave: %v", err)
	}
}

// TestIndexReuse: a pty's number is taken until its master and slaves
// are all closed; then the lowest free one is reused.
func TestIndexReuse(t *testing.T) {
	_, fs, m, s := newPair(t)
	m.Release()
	next, err := fs.OpenPtmx(ctx{}, unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if i := next.(*Master).t.index; i != 1 {
		t.Errorf("index while the old slave is open: %d, want 1", i)
	}
	s.Release()
	again, _ := fs.OpenPtmx(ctx{}, unix.O_RDWR)
	if i := again.(*Master).t.index; i != 0 {
		t.Errorf("index after the old pair is gone: %d, want 0", i)
	}
}

// TestRandomOperations drives a pair with random input, output, settings
// and ioctls (a hostile program's view): nothing panics, every buffer
// stays within its bound, and nothing blocks (every call is non-blocking).
func TestRandomOperations(t *testing.T) {
	_, _, m, s := newPair(t)
	r := rand.New(rand.NewPCG(1, 2))
	mm := &mem{b: make([]byte, 256)}
	nb := ctx{nonblock: true}
	buf := make([]byte, 5000)
	reqs := []uint32{tcgets, tcsets, tcsetsw, tcsetsf, tcgets2, tcsets2, tiocgwinsz, tiocswinsz, fionread, tcflsh, tcxonc,
		tiocgpgrp, tiocspgrp, tiocgsid, tiocoutq, tiocsti, tiocsctty, tiocnotty, tiocgptn, tiocsptlck, tiocgptlck, tcsbrk, tiocsetd, 0x54ff}
	for i := 0; i < 20000; i++ {
		switch r.IntN(7) {
		case 0:
			n := r.IntN(len(buf))
			for j := range n {
				buf[j] = byte(r.IntN(256))
			}
			m.Write(nb, buf[:n], 0)
		case 1:
			s.Read(nb, buf[:r.IntN(len(buf))], 0)
		case 2:
			s.Write(nb, buf[:r.IntN(len(buf))], 0)
		case 3:
			m.Read(nb, buf[:r.IntN(len(buf))], 0)
		case 4:
			for j := range mm.b {
				mm.b[j] = byte(r.IntN(256))
			}
			s.Ioctl(nb, reqs[r.IntN(len(reqs))], uintptr(0x1000+r.IntN(300)), mm)
		case 5:
			m.Ioctl(nb, reqs[r.IntN(len(reqs))], uintptr(0x1000+r.IntN(300)), mm)
		case 6:
			m.t.mu.Lock()
			tm := m.t.termios
			tm.Iflag, tm.Oflag, tm.Lflag = r.Uint32(), r.Uint32(), r.Uint32()
			tm.CC[r.IntN(numCC)] = byte(r.IntN(256))
			m.t.setTermios(tm)
			m.t.mu.Unlock()
		}
		tt := m.t
		tt.mu.Lock()
		if len(tt.pending) > pendingMax || len(tt.rq)+len(tt.line) > inputMax+1 || len(tt.out) > outMax || len(tt.held) > echoHeldMax {
			t.Fatalf("step %d: pending %d, input %d, out %d, held %d", i, len(tt.pending), len(tt.rq)+len(tt.line), len(tt.out), len(tt.held))
		}
		tt.mu.Unlock()
	}
}
