package memfs

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"

	"moat/vfs/vfstest"
)

func TestAllocate(t *testing.T) {
	fs, _ := newFS(t, 8*PageSize)
	in, err := fs.Root().Create(root, "f", 0644)
	vfstest.Must(t, err)
	impl, err := in.Open(root, unix.O_RDWR)
	vfstest.Must(t, err)
	defer impl.Release()
	f := impl.(*File)
	used := func() int64 { u, _, _, _ := fs.Usage(); return u }

	// Allocation takes pages and grows the file; KEEP_SIZE does not grow it.
	vfstest.Must(t, f.Allocate(0, 100, 2*PageSize))
	if st := stat(t, in); st.Size != 100+2*PageSize || used() != 3*PageSize {
		t.Fatalf("after allocate: size %d used %d", st.Size, used())
	}
	vfstest.Must(t, f.Allocate(fallocKeepSize, 0, 5*PageSize))
	if st := stat(t, in); st.Size != 100+2*PageSize || used() != 5*PageSize {
		t.Fatalf("after KEEP_SIZE: size %d used %d", st.Size, used())
	}
	// All or nothing: too many pages fail with ENOSPC and take none.
	vfstest.WantErr(t, f.Allocate(0, 0, 20*PageSize), unix.ENOSPC)
	if st := stat(t, in); st.Size != 100+2*PageSize || used() != 5*PageSize {
		t.Fatalf("after ENOSPC: size %d used %d", st.Size, used())
	}

	// Punching a hole zeroes the range and frees the whole pages in it.
	data := bytes.Repeat([]byte{0xaa}, 3*PageSize)
	_, err = f.Write(root, data, 0)
	vfstest.Must(t, err)
	vfstest.Must(t, f.Allocate(fallocPunchHole|fallocKeepSize, 10, 2*PageSize))
	got := readAll(t, in)
	want := append(append(bytes.Repeat([]byte{0xaa}, 10), make([]byte, 2*PageSize)...), bytes.Repeat([]byte{0xaa}, PageSize-10)...)
	if !bytes.Equal(got, want) {
		t.Fatal("punched range does not read as zeros around intact data")
	}
	if used() != 4*PageSize {
		t.Fatalf("after punch: used %d, want the one whole page freed", used())
	}

	// ZERO_RANGE zeroes and grows.
	vfstest.Must(t, f.Allocate(fallocZeroRange, 0, 4*PageSize))
	got = readAll(t, in)
	if len(got) != 4*PageSize || !bytes.Equal(got, make([]byte, 4*PageSize)) {
		t.Fatalf("ZERO_RANGE: %d bytes, want 4 pages of zeros", len(got))
	}

	vfstest.WantErr(t, f.Allocate(0x08, 0, PageSize), unix.EOPNOTSUPP) // COLLAPSE_RANGE
	vfstest.WantErr(t, f.Allocate(0, maxFileSize, 1), unix.EFBIG)
}

// A hole punched across a huge sparse file visits only its pages.
func TestPunchHugeSparse(t *testing.T) {
	fs, _ := newFS(t, 8*PageSize)
	in, err := fs.Root().Create(root, "f", 0644)
	vfstest.Must(t, err)
	impl, err := in.Open(root, unix.O_RDWR)
	vfstest.Must(t, err)
	defer impl.Release()
	f := impl.(*File)
	_, err = f.Write(root, bytes.Repeat([]byte{1}, 2*PageSize), 1<<40)
	vfstest.Must(t, err)
	vfstest.Must(t, f.Truncate(1<<60))
	vfstest.Must(t, f.Allocate(fallocPunchHole|fallocKeepSize, 100, 1<<61))
	if u, _, _, _ := fs.Usage(); u != 0 {
		t.Fatalf("used %d after punching everything", u)
	}
}
