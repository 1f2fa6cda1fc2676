package pipe

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"moat/vfs"
	"moat/vfs/vfstest"
)

var root = vfstest.Root

func fifoCount() int {
	fifos.mu.Lock()
	defer fifos.mu.Unlock()
	return len(fifos.m)
}

func TestFIFONonblocking(t *testing.T) {
	_, err := OpenFIFO(root, 1, 100, unix.O_WRONLY|unix.O_NONBLOCK)
	vfstest.WantErr(t, err, unix.ENXIO)
	if n := fifoCount(); n != 0 {
		t.Fatalf("%d FIFOs kept after a failed open", n)
	}
	r, err := OpenFIFO(root, 1, 100, unix.O_RDONLY|unix.O_NONBLOCK)
	vfstest.Must(t, err)
	if got := r.(*end).Readiness(); got != 0 {
		t.Errorf("reader before any writer: readiness %#x, want 0", got)
	}
	w, err := OpenFIFO(root, 1, 100, unix.O_WRONLY|unix.O_NONBLOCK)
	vfstest.Must(t, err)
	if _, err := w.Write(root, []byte("abc"), 0); err != nil {
		t.Fatal(err)
	}
	// Another name (a hard link) of the same inode is the same pipe; a
	// different inode is another.
	other, err := OpenFIFO(root, 1, 101, unix.O_RDWR)
	vfstest.Must(t, err)
	buf := make([]byte, 8)
	n, err := r.Read(root, buf, 0)
	if err != nil || string(buf[:n]) != "abc" {
		t.Errorf("read %q, %v", buf[:n], err)
	}
	w.Release()
	if got := r.(*end).Readiness(); got&vfs.PollHup == 0 {
		t.Errorf("reader after the writer left: readiness %#x, want POLLHUP", got)
	}
	if n, err := r.Read(root, buf, 0); n != 0 || err != nil {
		t.Errorf("read at EOF: %d, %v", n, err)
	}
	r.Release()
	other.Release()
	if n := fifoCount(); n != 0 {
		t.Errorf("%d FIFOs kept after every end closed", n)
	}
}

func TestFIFOBlockingOpens(t *testing.T) {
	type result struct {
		f   vfs.FileImpl
		err error
	}
	got := make(chan result, 1)
	go func() {
		f, err := OpenFIFO(root, 2, 7, unix.O_RDONLY)
		got <- result{f, err}
	}()
	select {
	case res := <-got:
		t.Fatalf("a reader's open returned without a writer: %v", res.err)
	case <-time.After(50 * time.Millisecond):
	}
	w, err := OpenFIFO(root, 2, 7, unix.O_WRONLY) // a reader waits: no wait here
	vfstest.Must(t, err)
	res := <-got
	vfstest.Must(t, res.err)
	// O_RDWR never waits, even with no other end.
	rw, err := OpenFIFO(root, 2, 8, unix.O_RDWR)
	vfstest.Must(t, err)
	rw.Release()
	res.f.Release()
	w.Release()
	if n := fifoCount(); n != 0 {
		t.Errorf("%d FIFOs kept after every end closed", n)
	}
}
