package pipe

import (
	"testing"

	"golang.org/x/sys/unix"

	"moat/vfs/vfstest"
)

// nonblocking is a caller whose I/O must not wait.
type nonblocking struct{ vfstest.Caller }

func (nonblocking) NonblockingIO() bool { return true }

func TestSpliceOperations(t *testing.T) {
	r, w := New(false)
	defer r.DecRef()
	defer w.DecRef()
	ctx := nonblocking{}
	if isPipe, read := Of(r.Impl()); !isPipe || !read {
		t.Fatal("Of(read end)")
	}
	if isPipe, read := Of(w.Impl()); !isPipe || read {
		t.Fatal("Of(write end)")
	}
	if !Same(r.Impl(), w.Impl()) {
		t.Fatal("Same: the two ends of one pipe")
	}
	_, err := WaitData(ctx, r.Impl())
	vfstest.WantErr(t, err, unix.EAGAIN)
	if room, err := WaitRoom(ctx, w.Impl()); err != nil || room != Capacity {
		t.Fatalf("WaitRoom = %d, %v", room, err)
	}
	if n, err := Append(w.Impl(), []byte("hello")); n != 5 || err != nil {
		t.Fatalf("Append = %d, %v", n, err)
	}
	buf := make([]byte, 3)
	if n := Peek(r.Impl(), buf); n != 3 || string(buf) != "hel" {
		t.Fatalf("Peek = %d %q", n, buf)
	}
	Consume(r.Impl(), 2)
	if avail, err := WaitData(ctx, r.Impl()); avail != 3 || err != nil {
		t.Fatalf("WaitData after Consume = %d, %v", avail, err)
	}
	// Append takes only what fits.
	if n, _ := Append(w.Impl(), make([]byte, Capacity)); n != Capacity-3 {
		t.Fatalf("Append into a nearly full pipe took %d", n)
	}
	_, err = WaitRoom(ctx, w.Impl())
	vfstest.WantErr(t, err, unix.EAGAIN)
	// No readers: EPIPE.
	r2, w2 := New(false)
	defer w2.DecRef()
	r2.DecRef()
	_, err = WaitRoom(ctx, w2.Impl())
	vfstest.WantErr(t, err, unix.EPIPE)
	_, err = Append(w2.Impl(), []byte("x"))
	vfstest.WantErr(t, err, unix.EPIPE)
	// No writers: end of file, even when waiting is allowed.
	r3, w3 := New(false)
	defer r3.DecRef()
	w3.DecRef()
	if avail, err := WaitData(vfstest.Caller{}, r3.Impl()); avail != 0 || err != nil {
		t.Fatalf("WaitData without writers = %d, %v", avail, err)
	}
}
