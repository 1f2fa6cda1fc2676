package memfs

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"moat/memory"
	"moat/vfs/vfstest"
)

// TestSharedChunk moves chunks of a file into the memory file and checks
// that the memory-file bytes and read/write stay one and the same data,
// that truncation zeroes what lies past the end, that the chunks are
// charged to the filesystem and freed with the inode, and that a
// filesystem without a memory file refuses (ENODEV).
func TestSharedChunk(t *testing.T) {
	mf, err := memory.New("shm-test", 64<<20)
	vfstest.Must(t, err)
	fs := New(42, Options{MaxBytes: 1 << 20, MemFile: mf})
	data := bytes.Repeat([]byte("0123456789abcdef"), 6000) // 96000 bytes: two chunks
	in := writeFile(t, fs.Root(), "f", data)
	before := mf.InUse()
	fi, err := in.Open(root, unix.O_RDWR)
	vfstest.Must(t, err)
	f := fi.(*File)

	fr, start, err := f.SharedChunk(70000)
	vfstest.Must(t, err)
	if start != shmChunk || fr.Length != shmChunk {
		t.Fatalf("chunk around 70000: start %d length %d, want %d %d", start, fr.Length, shmChunk, shmChunk)
	}
	b := mf.Bytes(fr)
	if !bytes.Equal(b[:len(data)-shmChunk], data[shmChunk:]) {
		t.Fatalf("the chunk does not hold the file's data")
	}
	again, _, err := f.SharedChunk(shmChunk + 5)
	vfstest.Must(t, err)
	if again != fr {
		t.Fatalf("the same chunk twice: %+v then %+v", fr, again)
	}
	// A store into the chunk is what read returns, and a write is what
	// the chunk holds, across the chunk boundary too.
	copy(b[10:], "STORE")
	got := make([]byte, 5)
	if _, err := f.Read(root, got, shmChunk+10); err != nil || string(got) != "STORE" {
		t.Fatalf("read after a store: %q, %v", got, err)
	}
	if _, err := f.Write(root, []byte("ACROSS-THE-EDGE"), shmChunk-6); err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 6)
	if _, err := f.Read(root, head, shmChunk-6); err != nil || string(head) != "ACROSS" || string(b[:9]) != "-THE-EDGE" {
		t.Fatalf("write across into the chunk: heap part %q, chunk part %q", head, b[:9])
	}
	// Truncation zeroes the chunk past the new end.
	vfstest.Must(t, f.Truncate(shmChunk+100))
	if b[99] == 0 || b[100] != 0 || b[4000] != 0 {
		t.Fatalf("after truncate: byte 99 %d, 100 %d, 4000 %d", b[99], b[100], b[4000])
	}
	if mf.InUse() != before+shmChunk {
		t.Fatalf("memory file in use %d, want %d", mf.InUse(), before+shmChunk)
	}
	// Gone with the inode: unlinked and closed.
	vfstest.Must(t, fs.Root().Unlink(root, "f"))
	f.Release()
	if mf.InUse() != before {
		t.Fatalf("memory file in use %d after the inode went, want %d", mf.InUse(), before)
	}
	fs.mu.Lock()
	used := fs.usedBytes
	fs.mu.Unlock()
	if used != 0 {
		t.Fatalf("filesystem still charges %d bytes", used)
	}

	plain := New(43, Options{MaxBytes: 1 << 20})
	pi := writeFile(t, plain.Root(), "g", data[:10])
	pf, err := pi.Open(root, unix.O_RDWR)
	vfstest.Must(t, err)
	defer pf.Release()
	if _, _, err := pf.(*File).SharedChunk(0); !errors.Is(err, unix.ENODEV) {
		t.Fatalf("SharedChunk without a memory file: %v, want ENODEV", err)
	}
}
