package hostfs

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"moat/memory"
	"moat/vfs/vfstest"
)

// openShared opens file.txt of a writable tree with a memory file, for
// reading and writing, as two separate opens.
func openShared(t *testing.T) (dir string, a, b *File, mf *memory.File) {
	t.Helper()
	dir, _, fs := wtree(t)
	mf, err := memory.New("test", 64<<20)
	vfstest.Must(t, err)
	fs.SetMemoryFile(mf)
	in, err := fs.Root().Lookup(app, "file.txt")
	vfstest.Must(t, err)
	open := func() *File {
		impl, err := in.Open(app, unix.O_RDWR)
		vfstest.Must(t, err)
		return impl.(*File)
	}
	return dir, open(), open(), mf
}

// TestSharedCache: a shared mapping's memory (SharedChunk) is the file's
// cache: read(2) of another open sees it, write(2) updates it, a write-back
// puts the dirty pages in the host file (never past its end), truncation
// zeroes what lies past the new end, and the last close frees it.
func TestSharedCache(t *testing.T) {
	dir, a, b, mf := openShared(t)
	host := filepath.Join(dir, "file.txt")
	if err := a.CanShare(); err != nil {
		t.Fatalf("CanShare on a writable bind: %v", err)
	}
	if a.Mappers() == nil {
		t.Fatal("no reverse map")
	}
	fr, start, err := a.SharedChunk(3)
	if err != nil || start != 0 || fr.Length != sharedChunk {
		t.Fatalf("SharedChunk(3) = %+v, %d, %v", fr, start, err)
	}
	mem := mf.Bytes(fr)
	if string(mem[:10]) != "hello host" || mem[10] != 0 {
		t.Fatalf("cached chunk: %q", mem[:12])
	}
	// A store through the mapping: read by the other open sees it, the
	// host does not until a write-back.
	copy(mem, "HELLO")
	sf := a.sf.Load()
	sf.MarkDirty(0, 5)
	buf := make([]byte, 10)
	if n, err := b.Read(app, buf, 0); err != nil || string(buf[:n]) != "HELLO host" {
		t.Fatalf("read through another open: %q %v", buf[:n], err)
	}
	if got, _ := os.ReadFile(host); string(got) != "hello host" {
		t.Fatalf("host before write-back: %q", got)
	}
	// write(2) through the other open reaches the host and the cache.
	if n, err := b.Write(app, []byte("WORLD!"), 6); n != 6 || err != nil {
		t.Fatalf("write: %d %v", n, err)
	}
	if string(mem[:12]) != "HELLO WORLD!" {
		t.Fatalf("cache after write: %q", mem[:12])
	}
	// Stores past the end stay in memory.
	copy(mem[12:], "tail")
	sf.MarkDirty(12, 16)
	if err := b.Sync(false); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	if got, _ := os.ReadFile(host); string(got) != "HELLO WORLD!" {
		t.Fatalf("host after write-back: %q", got)
	}
	// Shrink and grow: the cut part reads zeros.
	vfstest.Must(t, b.Truncate(3))
	vfstest.Must(t, b.Truncate(20))
	if string(mem[:3]) != "HEL" || string(mem[3:20]) != string(make([]byte, 17)) {
		t.Fatalf("cache after shrink and grow: %q", mem[:20])
	}
	// The cache goes with the last file that mapped it.
	b.Mappers()
	before := mf.InUse()
	a.Release()
	if mf.InUse() != before {
		t.Fatal("cache freed while another open file uses it")
	}
	b.Release()
	if mf.InUse() != before-sharedChunk {
		t.Fatalf("memory in use after the last close: %d, want %d", mf.InUse(), before-sharedChunk)
	}
}

// TestSharedReadOnly: files of a read-only view cannot be mapped shared,
// and a writable tree without a memory file cannot either.
func TestSharedReadOnly(t *testing.T) {
	_, _, fs := wtree(t)
	in, err := fs.Root().Lookup(app, "file.txt")
	vfstest.Must(t, err)
	impl, err := in.Open(app, unix.O_RDWR)
	vfstest.Must(t, err)
	defer impl.Release()
	if err := impl.(*File).CanShare(); err != unix.ENODEV {
		t.Errorf("CanShare without a memory file: %v, want ENODEV", err)
	}
	if _, _, err := impl.(*File).SharedChunk(0); err != unix.ENODEV {
		t.Errorf("SharedChunk without a memory file: %v, want ENODEV", err)
	}
	ro, err := Open(t.TempDir())
	vfstest.Must(t, err)
	defer ro.Close()
	if err := (&File{fd: -1}).CanShare(); err != unix.ENODEV {
		t.Errorf("CanShare of a read-only file: %v, want ENODEV", err)
	}
}
