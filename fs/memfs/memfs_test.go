package memfs

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"moat/vfs"
	"moat/vfs/vfstest"
)

type ctx = vfstest.Caller

var root = vfstest.Root

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newFS(t *testing.T, maxBytes int64) (*FS, *clock) {
	t.Helper()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	return New(42, Options{MaxBytes: maxBytes, Now: c.now}), c
}

func stat(t *testing.T, in vfs.Inode) vfs.Stat {
	t.Helper()
	st, err := in.Stat(root)
	vfstest.Must(t, err)
	return st
}

func lookup(t *testing.T, d vfs.Inode, name string) vfs.Inode {
	t.Helper()
	in, err := d.Lookup(root, name)
	vfstest.Must(t, err)
	return in
}

func writeFile(t *testing.T, d vfs.Inode, name string, data []byte) vfs.Inode {
	t.Helper()
	in, err := d.Lookup(root, name)
	if errors.Is(err, unix.ENOENT) {
		in, err = d.Create(root, name, 0644)
	}
	vfstest.Must(t, err)
	f, err := in.Open(root, unix.O_WRONLY|unix.O_TRUNC)
	vfstest.Must(t, err)
	defer f.Release()
	n, err := f.Write(root, data, 0)
	vfstest.Must(t, err)
	if n != len(data) {
		t.Fatalf("short write %d", n)
	}
	return in
}

func readAll(t *testing.T, in vfs.Inode) []byte {
	t.Helper()
	f, err := in.Open(root, unix.O_RDONLY)
	vfstest.Must(t, err)
	defer f.Release()
	var out []byte
	buf := make([]byte, 1000)
	for {
		n, err := f.Read(root, buf, int64(len(out)))
		vfstest.Must(t, err)
		if n == 0 {
			return out
		}
		out = append(out, buf[:n]...)
	}
}

func names(t *testing.T, d vfs.Inode) []string {
	t.Helper()
	ents, err := d.ReadDir(root)
	vfstest.Must(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name)
	}
	return out
}

func TestCreateStat(t *testing.T) {
	fs, clk := newFS(t, 1<<20)
	r := fs.Root()
	rst := stat(t, r)
	if rst.Dev != 42 || !rst.IsDir() || rst.Mode&07777 != 01777 || rst.Nlink != 2 {
		t.Fatalf("root stat %+v", rst)
	}
	clk.advance(time.Second)
	u := ctx{Uid: 1000, Gid: 100}
	in, err := r.Create(u, "f", 0640)
	vfstest.Must(t, err)
	st := stat(t, in)
	if st.Mode != unix.S_IFREG|0640 || st.UID != 1000 || st.GID != 100 || st.Nlink != 1 || st.Size != 0 || st.Dev != 42 {
		t.Fatalf("file stat %+v", st)
	}
	if st.Ino == rst.Ino {
		t.Fatal("inode numbers not unique")
	}
	rst2 := stat(t, r)
	if rst2.Mtime == rst.Mtime || rst2.Ctime == rst.Ctime || rst2.Mtime != st.Mtime {
		t.Fatalf("create did not update parent times: %+v -> %+v", rst.Mtime, rst2.Mtime)
	}
	if _, err := r.Create(u, "f", 0600); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("create existing: %v", err)
	}
	vfstest.Must(t, r.Mkdir(u, "d", 0755))
	vfstest.Must(t, r.Mkdir(u, "e", 0755))
	if n := stat(t, r).Nlink; n != 4 {
		t.Fatalf("root nlink %d, want 4", n)
	}
	d := lookup(t, r, "d")
	if st := stat(t, d); st.Nlink != 2 || st.Mode != unix.S_IFDIR|0755 {
		t.Fatalf("dir stat %+v", st)
	}
	vfstest.WantErr(t, r.Mkdir(u, "d", 0755), unix.EEXIST)
	vfstest.Must(t, r.Rmdir(u, "e"))
	if n := stat(t, r).Nlink; n != 3 {
		t.Fatalf("root nlink %d after rmdir, want 3", n)
	}
	seen := map[uint64]bool{}
	for _, n := range []string{"f", "d"} {
		ino := stat(t, lookup(t, r, n)).Ino
		if seen[ino] {
			t.Fatal("duplicate ino")
		}
		seen[ino] = true
	}
	// Stat works without a context (vfs.Mount passes nil).
	if _, err := r.Stat(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Create(nil, "nilctx", 0600); err != nil {
		t.Fatal(err)
	}
}

func TestSetgidDirectory(t *testing.T) {
	fs, _ := newFS(t, 1<<20)
	r := fs.Root()
	vfstest.Must(t, r.Mkdir(root, "g", 02775))
	g := lookup(t, r, "g")
	vfstest.Must(t, g.(*Inode).SetStat(root, unix.STATX_GID|unix.STATX_MODE, vfs.Stat{GID: 50, Mode: 02775}))
	u := ctx{Uid: 1, Gid: 2}
	f, err := g.Create(u, "f", 0644)
	vfstest.Must(t, err)
	if st := stat(t, f); st.GID != 50 {
		t.Fatalf("file in setgid dir has gid %d", st.GID)
	}
	vfstest.Must(t, g.Mkdir(u, "sub", 0755))
	if st := stat(t, lookup(t, g, "sub")); st.GID != 50 || st.Mode&unix.S_ISGID == 0 {
		t.Fatalf("subdir of setgid dir: %+v", st)
	}
}

func TestReadWriteTimes(t *testing.T) {
	fs, clk := newFS(t, 1<<20)
	r := fs.Root()
	in, err := r.Create(root, "f", 0644)
	vfstest.Must(t, err)
	st0 := stat(t, in)
	clk.advance(time.Second)
	f, err := in.Open(root, unix.O_RDWR)
	vfstest.Must(t, err)
	n, err := f.Write(root, []byte("hello world"), 0)
	vfstest.Must(t, err)
	if n != 11 {
		t.Fatalf("wrote %d", n)
	}
	st1 := stat(t, in)
	if st1.Size != 11 || st1.Mtime == st0.Mtime || st1.Ctime == st0.Ctime || st1.Blocks != 8 || st1.Blksize != PageSize {
		t.Fatalf("after write %+v", st1)
	}
	clk.advance(time.Second)
	buf := make([]byte, 5)
	n, err = f.Read(root, buf, 6)
	vfstest.Must(t, err)
	if string(buf[:n]) != "world" {
		t.Fatalf("read %q", buf[:n])
	}
	if st := stat(t, in); st.Atime == st1.Atime {
		t.Fatal("read did not update atime (relatime)")
	}
	n, err = f.Read(root, buf, 11)
	if n != 0 || err != nil {
		t.Fatalf("read at EOF: %d %v", n, err)
	}
	// Write past the end leaves a zero-filled hole.
	_, err = f.Write(root, []byte("X"), 10000)
	vfstest.Must(t, err)
	got := readAll(t, in)
	if len(got) != 10001 || got[10000] != 'X' || !bytes.Equal(got[11:10000], make([]byte, 9989)) {
		t.Fatalf("hole read wrong (len %d)", len(got))
	}
	f.Release()
	f.Release() // double release must be harmless

	// O_TRUNC on open truncates and updates times.
	clk.advance(time.Second)
	before := stat(t, in)
	f2, err := in.Open(root, unix.O_WRONLY|unix.O_TRUNC)
	vfstest.Must(t, err)
	f2.Release()
	after := stat(t, in)
	if after.Size != 0 || after.Blocks != 0 || after.Mtime == before.Mtime {
		t.Fatalf("O_TRUNC: %+v", after)
	}
	if used, _, _, _ := fs.Usage(); used != 0 {
		t.Fatalf("used %d after O_TRUNC", used)
	}
}

func TestTruncate(t *testing.T) {
	fs, _ := newFS(t, 1<<20)
	in := writeFile(t, fs.Root(), "f", bytes.Repeat([]byte{0xff}, 3*PageSize))
	f, err := in.Open(root, unix.O_RDWR)
	vfstest.Must(t, err)
	defer f.Release()
	tr := f.(interface{ Truncate(int64) error })
	vfstest.Must(t, tr.Truncate(100))
	if st := stat(t, in); st.Size != 100 || st.Blocks != 8 {
		t.Fatalf("after shrink %+v", st)
	}
	vfstest.Must(t, tr.Truncate(2*PageSize))
	got := readAll(t, in)
	if len(got) != 2*PageSize || !bytes.Equal(got[:100], bytes.Repeat([]byte{0xff}, 100)) || !bytes.Equal(got[100:], make([]byte, 2*PageSize-100)) {
		t.Fatal("grown file must read zeros past the old end")
	}
	if used, _, _, _ := fs.Usage(); used != PageSize {
		t.Fatalf("used %d, want one page", used)
	}
	vfstest.WantErr(t, tr.Truncate(-1), unix.EINVAL)
	// Growing to a huge size allocates nothing.
	vfstest.Must(t, tr.Truncate(1<<50))
	if used, _, _, _ := fs.Usage(); used != PageSize {
		t.Fatalf("used %d after sparse grow", used)
	}
	// SetStat size on a directory.
	vfstest.WantErr(t, fs.Root().SetStat(root, unix.STATX_SIZE, vfs.Stat{}), unix.EISDIR)
}

func TestENOSPC(t *testing.T) {
	fs, _ := newFS(t, 4*PageSize)
	in, err := fs.Root().Create(root, "f", 0644)
	vfstest.Must(t, err)
	f, err := in.Open(root, unix.O_RDWR)
	vfstest.Must(t, err)
	defer f.Release()
	big := make([]byte, 6*PageSize)
	n, err := f.Write(root, big, 0)
	if err != nil || n != 4*PageSize {
		t.Fatalf("write: n=%d err=%v, want short write of 4 pages", n, err)
	}
	_, err = f.Write(root, big, int64(n))
	vfstest.WantErr(t, err, unix.ENOSPC)
	// Rewriting allocated pages still works.
	if _, err := f.Write(root, []byte("abc"), 0); err != nil {
		t.Fatal(err)
	}
	// A second file cannot get a page, and a symlink target cannot fit.
	in2, err := fs.Root().Create(root, "g", 0644)
	vfstest.Must(t, err)
	f2, err := in2.Open(root, unix.O_WRONLY)
	vfstest.Must(t, err)
	_, err = f2.Write(root, []byte("x"), 0)
	vfstest.WantErr(t, err, unix.ENOSPC)
	f2.Release()
	vfstest.WantErr(t, fs.Root().Symlink(root, "l", "target"), unix.ENOSPC)
	// Freeing space makes room again.
	vfstest.Must(t, f.(*File).Truncate(0))
	f3, err := in2.Open(root, unix.O_WRONLY)
	vfstest.Must(t, err)
	_, err = f3.Write(root, []byte("x"), 0)
	vfstest.Must(t, err)
	f3.Release()
}

func TestInodeLimit(t *testing.T) {
	fs := New(1, Options{MaxBytes: 1 << 20, MaxInodes: 3})
	r := fs.Root()
	_, err := r.Create(root, "a", 0644)
	vfstest.Must(t, err)
	vfstest.Must(t, r.Mkdir(root, "b", 0755))
	_, err = r.Create(root, "c", 0644)
	vfstest.WantErr(t, err, unix.ENOSPC)
	vfstest.WantErr(t, r.Mkdir(root, "c", 0755), unix.ENOSPC)
	vfstest.Must(t, r.Unlink(root, "a"))
	_, err = r.Create(root, "c", 0644)
	vfstest.Must(t, err)
}

func TestHugeOffsetIsSparse(t *testing.T) {
	fs, _ := newFS(t, 1<<20)
	in, err := fs.Root().Create(root, "f", 0644)
	vfstest.Must(t, err)
	f, err := in.Open(root, unix.O_RDWR)
	vfstest.Must(t, err)
	defer f.Release()
	n, err := f.Write(root, []byte("end"), 1<<40)
	vfstest.Must(t, err)
	if n != 3 {
		t.Fatalf("n=%d", n)
	}
	st := stat(t, in)
	if st.Size != 1<<40+3 || st.Blocks != 8 {
		t.Fatalf("stat %+v", st)
	}
	if used, _, _, _ := fs.Usage(); used != PageSize {
		t.Fatalf("1<<40 write used %d bytes", used)
	}
	buf := make([]byte, 8)
	n, err = f.Read(root, buf, 1<<40-5)
	vfstest.Must(t, err)
	if n != 8 || !bytes.Equal(buf, []byte{0, 0, 0, 0, 0, 'e', 'n', 'd'}) {
		t.Fatalf("read %q", buf[:n])
	}
	// At the very end of the offset range: EFBIG, no panic, no allocation.
	_, err = f.Write(root, []byte("x"), 1<<63-1)
	vfstest.WantErr(t, err, unix.EFBIG)
	n, err = f.Write(root, []byte("xyz"), 1<<63-2)
	if err != nil || n != 1 {
		t.Fatalf("write at max-1: n=%d err=%v", n, err)
	}
	_, err = f.Write(root, []byte("x"), -1)
	vfstest.WantErr(t, err, unix.EINVAL)
	_, err = f.Read(root, buf, -1)
	vfstest.WantErr(t, err, unix.EINVAL)
	n, err = f.Read(root, buf, 1<<63-1)
	if n != 0 || err != nil {
		t.Fatalf("read at max: %d %v", n, err)
	}
}

func TestUnlinkOpenFileKeepsData(t *testing.T) {
	fs, _ := newFS(t, 1<<20)
	r := fs.Root()
	in := writeFile(t, r, "f", []byte("data"))
	f, err := in.Open(root, unix.O_RDONLY)
	vfstest.Must(t, err)
	vfstest.Must(t, r.Unlink(root, "f"))
	if st := stat(t, in); st.Nlink != 0 {
		t.Fatalf("nlink %d after unlink", st.Nlink)
	}
	_, err = r.Lookup(root, "f")
	vfstest.WantErr(t, err, unix.ENOENT)
	buf := make([]byte, 10)
	n, _ := f.Read(root, buf, 0)
	if string(buf[:n]) != "data" {
		t.Fatalf("read %q from unlinked file", buf[:n])
	}
	if used, _, inodes, _ := fs.Usage(); used != PageSize || inodes != 2 {
		t.Fatalf("used %d inodes %d while open", used, inodes)
	}
	f.Release()
	if used, _, inodes, _ := fs.Usage(); used != 0 || inodes != 1 {
		t.Fatalf("used %d inodes %d after last close", used, inodes)
	}
}

func TestRemoveErrors(t *testing.T) {
	fs, _ := newFS(t, 1<<20)
	r := fs.Root()
	vfstest.Must(t, r.Mkdir(root, "d", 0755))
	d := lookup(t, r, "d")
	writeFile(t, d, "f", []byte("x"))
	writeFile(t, r, "file", nil)
	vfstest.WantErr(t, r.Rmdir(root, "d"), unix.ENOTEMPTY)
	vfstest.WantErr(t, r.Unlink(root, "d"), unix.EISDIR)
	vfstest.WantErr(t, r.Rmdir(root, "file"), unix.ENOTDIR)
	vfstest.WantErr(t, r.Unlink(root, "nope"), unix.ENOENT)
	vfstest.WantErr(t, r.Rmdir(root, "nope"), unix.ENOENT)
	vfstest.WantErr(t, r.Rmdir(root, "."), unix.EINVAL)
	vfstest.WantErr(t, r.Rmdir(root, ".."), unix.ENOTEMPTY)
	vfstest.Must(t, d.Unlink(root, "f"))
	vfstest.Must(t, r.Rmdir(root, "d"))
	// A removed directory accepts no new entries.
	_, err := d.Create(root, "g", 0644)
	vfstest.WantErr(t, err, unix.ENOENT)
	vfstest.WantErr(t, d.Mkdir(root, "g", 0755), unix.ENOENT)
	if st := stat(t, d); st.Nlink != 0 {
		t.Fatalf("removed dir nlink %d", st.Nlink)
	}
	// Opening the removed directory still works (a process's cwd).
	f, err := d.Open(root, unix.O_RDONLY)
	vfstest.Must(t, err)
	f.Release()
}

func TestNames(t *testing.T) {
	fs, _ := newFS(t, 1<<20)
	r := fs.Root()
	long := string(bytes.Repeat([]byte("a"), 256))
	_, err := r.Create(root, long, 0644)
	vfstest.WantErr(t, err, unix.ENAMETOOLONG)
	_, err = r.Lookup(root, long)
	vfstest.WantErr(t, err, unix.ENAMETOOLONG)
	for _, bad := range []string{"a/b", "a\x00b", "..", "."} {
		if _, err := r.Create(root, bad, 0644); err == nil {
			t.Fatalf("created %q", bad)
		}
		if _, err := r.Lookup(root, bad); err == nil {
			t.Fatalf("looked up %q", bad)
		}
	}
	_, err = r.Lookup(root, "")
	vfstest.WantErr(t, err, unix.ENOENT)
	// Lookup in a non-directory.
	in := writeFile(t, r, "f", nil)
	_, err = in.Lookup(root, "x")
	vfstest.WantErr(t, err, unix.ENOTDIR)
}

func TestSymlink(t *testing.T) {
	fs, _ := newFS(t, 1<<20)
	r := fs.Root()
	vfstest.Must(t, r.Symlink(root, "l", "../some/where"))
	l := lookup(t, r, "l")
	st := stat(t, l)
	if !st.IsSymlink() || st.Size != int64(len("../some/where")) || st.Mode&0777 != 0777 {
		t.Fatalf("symlink stat %+v", st)
	}
	target, err := l.Readlink(root)
	vfstest.Must(t, err)
	if target != "../some/where" {
		t.Fatalf("readlink %q", target)
	}
	_, err = l.Open(root, unix.O_RDONLY)
	vfstest.WantErr(t, err, unix.ELOOP)
	if f, err := l.Open(root, unix.O_PATH); err != nil {
		t.Fatal(err)
	} else {
		_, err := f.Read(root, make([]byte, 1), 0)
		vfstest.WantErr(t, err, unix.EBADF)
		f.Release()
	}
	_, err = r.Readlink(root)
	vfstest.WantErr(t, err, unix.EINVAL)
	vfstest.WantErr(t, r.Symlink(root, "empty", ""), unix.ENOENT)
	vfstest.WantErr(t, r.Symlink(root, "long", string(bytes.Repeat([]byte("x"), 4096))), unix.ENAMETOOLONG)
	vfstest.WantErr(t, r.Symlink(root, "l", "x"), unix.EEXIST)
	vfstest.Must(t, r.Unlink(root, "l"))
	if used, _, _, _ := fs.Usage(); used != 0 {
		t.Fatalf("used %d after removing symlink", used)
	}
}

func TestOpenDirectory(t *testing.T) {
	fs, _ := newFS(t, 1<<20)
	r := fs.Root()
	for _, fl := range []uint32{unix.O_WRONLY, unix.O_RDWR, unix.O_RDONLY | unix.O_TRUNC} {
		_, err := r.Open(root, fl)
		vfstest.WantErr(t, err, unix.EISDIR)
	}
	f, err := r.Open(root, unix.O_RDONLY|unix.O_DIRECTORY)
	vfstest.Must(t, err)
	_, err = f.Read(root, make([]byte, 1), 0)
	vfstest.WantErr(t, err, unix.EISDIR)
	f.Release()
}

func TestReadDir(t *testing.T) {
	fs, _ := newFS(t, 1<<20)
	r := fs.Root()
	writeFile(t, r, "b", nil)
	vfstest.Must(t, r.Mkdir(root, "a", 0755))
	vfstest.Must(t, r.Symlink(root, "c", "b"))
	ents, err := r.ReadDir(root)
	vfstest.Must(t, err)
	want := []struct {
		name string
		typ  uint8
	}{{"a", unix.DT_DIR}, {"b", unix.DT_REG}, {"c", unix.DT_LNK}}
	if len(ents) != len(want) {
		t.Fatalf("entries %+v", ents)
	}
	for i, w := range want {
		if ents[i].Name != w.name || ents[i].Type != w.typ || ents[i].Ino != stat(t, lookup(t, r, w.name)).Ino {
			t.Fatalf("entry %d = %+v, want %v", i, ents[i], w)
		}
	}
	if st := stat(t, r); st.Size != 5*bogoDirentSize {
		t.Fatalf("dir size %d", st.Size)
	}
}

func TestRename(t *testing.T) {
	fs, _ := newFS(t, 1<<20)
	r := fs.Root()
	vfstest.Must(t, r.Mkdir(root, "d1", 0755))
	vfstest.Must(t, r.Mkdir(root, "d2", 0755))
	d1, d2 := lookup(t, r, "d1"), lookup(t, r, "d2")
	fa := writeFile(t, d1, "a", []byte("A"))
	writeFile(t, d1, "b", []byte("B"))
	vfstest.Must(t, d1.Mkdir(root, "sub", 0755))
	sub := lookup(t, d1, "sub")
	vfstest.Must(t, sub.Mkdir(root, "deep", 0755))
	deep := lookup(t, sub, "deep")
	writeFile(t, d2, "full", nil)
	vfstest.Must(t, d2.Mkdir(root, "empty", 0755))
	vfstest.Must(t, d2.Mkdir(root, "nonempty", 0755))
	writeFile(t, lookup(t, d2, "nonempty"), "x", nil)

	// Plain move across directories.
	vfstest.Must(t, d1.Rename(root, "a", d2, "a2", 0))
	if lookup(t, d2, "a2") != fa {
		t.Fatal("moved file not found")
	}
	_, err := d1.Lookup(root, "a")
	vfstest.WantErr(t, err, unix.ENOENT)

	// Over an existing file replaces it.
	vfstest.Must(t, d1.Rename(root, "b", d2, "a2", 0))
	if string(readAll(t, lookup(t, d2, "a2"))) != "B" {
		t.Fatal("rename over file did not replace")
	}
	if st := stat(t, fa); st.Nlink != 0 {
		t.Fatalf("replaced file nlink %d", st.Nlink)
	}

	// Errors.
	vfstest.WantErr(t, d1.Rename(root, "missing", d2, "x", 0), unix.ENOENT)
	writeFile(t, d1, "f", nil)
	vfstest.WantErr(t, d1.Rename(root, "f", d2, "a2", unix.RENAME_NOREPLACE), unix.EEXIST)
	vfstest.WantErr(t, d1.Rename(root, "f", d2, "empty", 0), unix.EISDIR)
	vfstest.WantErr(t, d1.Rename(root, "sub", d2, "full", 0), unix.ENOTDIR)
	vfstest.WantErr(t, d1.Rename(root, "sub", d2, "nonempty", 0), unix.ENOTEMPTY)
	vfstest.WantErr(t, r.Rename(root, "d1", deep, "x", 0), unix.EINVAL)
	vfstest.WantErr(t, r.Rename(root, "d1", d1, "x", 0), unix.EINVAL)
	vfstest.WantErr(t, sub.Rename(root, "deep", r, "d1", 0), unix.ENOTEMPTY) // target is an ancestor
	vfstest.WantErr(t, d1.Rename(root, "f", d2, "new", unix.RENAME_EXCHANGE), unix.ENOENT)
	vfstest.WantErr(t, d1.Rename(root, "f", d2, "x", unix.RENAME_EXCHANGE|unix.RENAME_NOREPLACE), unix.EINVAL)
	vfstest.WantErr(t, d1.Rename(root, "f", d2, "x", 1<<10), unix.EINVAL)
	other := New(7, Options{}).Root()
	vfstest.WantErr(t, d1.Rename(root, "f", other, "x", 0), unix.EXDEV)

	// Same name is a no-op, except with NOREPLACE.
	vfstest.Must(t, d1.Rename(root, "f", d1, "f", 0))
	vfstest.WantErr(t, d1.Rename(root, "f", d1, "f", unix.RENAME_NOREPLACE), unix.EEXIST)

	// Directory over an empty directory; nlinks follow.
	n1, n2 := stat(t, d1).Nlink, stat(t, d2).Nlink
	vfstest.Must(t, d1.Rename(root, "sub", d2, "empty", 0))
	if stat(t, d1).Nlink != n1-1 || stat(t, d2).Nlink != n2 {
		t.Fatalf("nlink after dir rename: d1 %d->%d d2 %d->%d", n1, stat(t, d1).Nlink, n2, stat(t, d2).Nlink)
	}
	if lookup(t, d2, "empty") != sub {
		t.Fatal("dir rename over empty dir")
	}
	// The ancestry of the moved directory is updated: moving d2 under
	// its own (moved) descendant is refused.
	vfstest.WantErr(t, r.Rename(root, "d2", deep, "x", 0), unix.EINVAL)
	vfstest.Must(t, r.Rename(root, "d1", deep, "x", 0))

	// Exchange.
	writeFile(t, d2, "p", []byte("P"))
	vfstest.Must(t, d2.Mkdir(root, "q", 0755))
	vfstest.Must(t, d2.Rename(root, "p", d2, "q", unix.RENAME_EXCHANGE))
	if pst := stat(t, lookup(t, d2, "p")); !pst.IsDir() || string(readAll(t, lookup(t, d2, "q"))) != "P" {
		t.Fatal("exchange did not swap")
	}
	// Exchange a directory into a descendant of itself.
	vfstest.WantErr(t, r.Rename(root, "d2", deep, "x", unix.RENAME_EXCHANGE), unix.EINVAL)
	// Cross-directory exchange of a dir keeps nlink right.
	nr, nd2 := stat(t, r).Nlink, stat(t, d2).Nlink
	writeFile(t, r, "rootfile", nil)
	vfstest.Must(t, d2.Rename(root, "p", r, "rootfile", unix.RENAME_EXCHANGE))
	if stat(t, r).Nlink != nr+1 || stat(t, d2).Nlink != nd2-1 {
		t.Fatal("nlink after cross-dir exchange")
	}
}

func TestRenameWhiteoutAndWhiteouts(t *testing.T) {
	fs, _ := newFS(t, 1<<20)
	r := fs.Root()
	writeFile(t, r, "a", []byte("x"))
	vfstest.Must(t, r.Rename(root, "a", r, "b", unix.RENAME_WHITEOUT))
	if names := names(t, r); len(names) != 1 || names[0] != "b" {
		t.Fatalf("readdir %v", names)
	}
	if c := r.Child("a"); c == nil || !c.IsWhiteout() {
		t.Fatal("no whiteout left behind")
	}
	_, err := r.Lookup(root, "a")
	vfstest.WantErr(t, err, unix.ENOENT)
	// Creating over a whiteout replaces it.
	vfstest.Must(t, r.Mkdir(root, "a", 0755))
	if c := r.Child("a"); c == nil || c.IsWhiteout() || !c.IsDir() {
		t.Fatal("mkdir over whiteout")
	}
	// A directory holding only whiteouts counts as empty.
	a := r.Child("a")
	writeFile(t, a, "x", nil)
	vfstest.Must(t, a.Whiteout(root, "x"))
	vfstest.Must(t, a.Whiteout(root, "y"))
	if names := names(t, a); len(names) != 0 {
		t.Fatalf("whiteouts visible: %v", names)
	}
	_, _, inodes, _ := fs.Usage()
	vfstest.Must(t, r.Rmdir(root, "a"))
	if _, _, after, _ := fs.Usage(); after != inodes-3 {
		t.Fatalf("rmdir freed %d inodes, want 3", inodes-after)
	}
	// Whiteout over a non-empty directory.
	vfstest.Must(t, r.Mkdir(root, "d", 0755))
	writeFile(t, r.Child("d"), "x", nil)
	vfstest.WantErr(t, r.Whiteout(root, "d"), unix.ENOTEMPTY)
	// A whiteout target is free for rename.
	vfstest.Must(t, r.Whiteout(root, "w"))
	vfstest.Must(t, r.Rename(root, "d", r, "w", unix.RENAME_NOREPLACE))
}

func TestCopyUpAPI(t *testing.T) {
	fs, clk := newFS(t, 1<<20)
	r := fs.Root()
	rst := stat(t, r)
	clk.advance(time.Hour)
	a := Attr{Mode: 0640, UID: 5, GID: 6, Atime: vfs.Timespec{Sec: 10}, Mtime: vfs.Timespec{Sec: 20}, Ctime: vfs.Timespec{Sec: 30}}
	data, err := fs.NewFile(a)
	vfstest.Must(t, err)
	_, err = data.WriteAt([]byte("content"), 0)
	vfstest.Must(t, err)
	f, err := r.CopyUpEntry("f", CopyUp{Type: unix.S_IFREG, Attr: a, Data: data, OriginDev: 9, OriginIno: 99})
	vfstest.Must(t, err)
	data.Drop()
	st := stat(t, f)
	if st.Mode != unix.S_IFREG|0640 || st.UID != 5 || st.GID != 6 || st.Atime.Sec != 10 || st.Mtime.Sec != 20 || st.Ctime.Sec != 30 || st.Size != 7 || st.Nlink != 1 {
		t.Fatalf("copied-up stat %+v", st)
	}
	if dev, ino, ok := f.Origin(); !ok || dev != 9 || ino != 99 {
		t.Fatal("origin lost")
	}
	if string(readAll(t, f)) != "content" {
		t.Fatal("data lost")
	}
	if st2 := stat(t, r); st2.Mtime != rst.Mtime {
		t.Fatal("copy-up changed the parent's mtime")
	}
	d, err := r.CopyUpEntry("d", CopyUp{Type: unix.S_IFDIR, Attr: a})
	vfstest.Must(t, err)
	if d.Opaque() || !d.IsDir() || stat(t, r).Nlink != 3 {
		t.Fatal("copied-up dir")
	}
	_, err = r.CopyUpEntry("d", CopyUp{Type: unix.S_IFDIR, Attr: a})
	vfstest.WantErr(t, err, unix.EEXIST)
	_, err = r.CopyUpEntry("l", CopyUp{Type: unix.S_IFLNK, Attr: a, Target: "t"})
	vfstest.Must(t, err)
	x, err := r.CopyUpEntry("x", CopyUp{Type: unix.S_IFCHR, Attr: a, Rdev: unix.Mkdev(1, 3)})
	vfstest.Must(t, err)
	if st := stat(t, x); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Fatalf("copied-up device: mode %#o rdev %#x", st.Mode, st.Rdev)
	}
	_, err = r.CopyUpEntry("y", CopyUp{Type: 0o170000, Attr: a})
	vfstest.WantErr(t, err, unix.EINVAL)
	// A detached file that is dropped unlinked frees its space.
	tmp, err := fs.NewFile(a)
	vfstest.Must(t, err)
	_, err = tmp.WriteAt(make([]byte, 3*PageSize), 0)
	vfstest.Must(t, err)
	used, _, _, _ := fs.Usage()
	tmp.Drop()
	if after, _, _, _ := fs.Usage(); after != used-3*PageSize {
		t.Fatal("dropped detached file still charged")
	}
}

func TestHardLink(t *testing.T) {
	fs, _ := newFS(t, 1<<20)
	r := fs.Root()
	in := writeFile(t, r, "a", []byte("x"))
	vfstest.Must(t, r.Link(root, "b", in))
	if st := stat(t, in); st.Nlink != 2 {
		t.Fatalf("nlink %d", st.Nlink)
	}
	vfstest.WantErr(t, r.Link(root, "b", in), unix.EEXIST)
	vfstest.WantErr(t, r.Link(root, "c", r), unix.EPERM)
	vfstest.Must(t, r.Unlink(root, "a"))
	if string(readAll(t, lookup(t, r, "b"))) != "x" {
		t.Fatal("data lost through second link")
	}
	// Renaming one hard link onto another is a no-op.
	vfstest.Must(t, r.Link(root, "c", in))
	vfstest.Must(t, r.Rename(root, "b", r, "c", 0))
	if len(names(t, r)) != 2 {
		t.Fatal("rename between hard links of the same file must do nothing")
	}
}

func TestSetStat(t *testing.T) {
	fs, clk := newFS(t, 1<<20)
	in := writeFile(t, fs.Root(), "f", []byte("hello")).(*Inode)
	vfstest.Must(t, in.SetStat(root, unix.STATX_MODE, vfs.Stat{Mode: unix.S_IFDIR | 04755}))
	if st := stat(t, in); st.Mode != unix.S_IFREG|04755 {
		t.Fatalf("chmod: %o", st.Mode)
	}
	clk.advance(time.Second)
	vfstest.Must(t, in.SetStat(root, unix.STATX_UID|unix.STATX_GID, vfs.Stat{UID: 7, GID: 8}))
	st := stat(t, in)
	if st.UID != 7 || st.GID != 8 || st.Mode&unix.S_ISUID != 0 || st.Ctime.Sec != 1_700_000_001 {
		t.Fatalf("chown: %+v", st)
	}
	vfstest.Must(t, in.SetStat(root, unix.STATX_ATIME|unix.STATX_MTIME, vfs.Stat{Atime: vfs.Timespec{Sec: 1, Nsec: 2}, Mtime: vfs.Timespec{Sec: 3, Nsec: 4}}))
	st = stat(t, in)
	if st.Atime != (vfs.Timespec{Sec: 1, Nsec: 2}) || st.Mtime != (vfs.Timespec{Sec: 3, Nsec: 4}) {
		t.Fatalf("utimes: %+v", st)
	}
	vfstest.Must(t, in.SetStat(root, unix.STATX_SIZE, vfs.Stat{Size: 2}))
	if string(readAll(t, in)) != "he" {
		t.Fatal("truncate via SetStat")
	}
}

func TestWriteClearsSetuid(t *testing.T) {
	fs, _ := newFS(t, 1<<20)
	in, err := fs.Root().Create(root, "f", 06755)
	vfstest.Must(t, err)
	f, err := in.Open(root, unix.O_WRONLY)
	vfstest.Must(t, err)
	defer f.Release()
	_, err = f.Write(ctx{Uid: 1000}, []byte("x"), 0)
	vfstest.Must(t, err)
	if st := stat(t, in); st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		t.Fatalf("mode %o after unprivileged write", st.Mode)
	}
}

func TestConcurrent(t *testing.T) {
	fs, _ := newFS(t, 64<<20)
	r := fs.Root()
	vfstest.Must(t, r.Mkdir(root, "a", 0755))
	vfstest.Must(t, r.Mkdir(root, "b", 0755))
	a, b := lookup(t, r, "a"), lookup(t, r, "b")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				name := fmt.Sprintf("f%d-%d", g, i)
				in, err := a.Create(root, name, 0644)
				if err != nil {
					t.Error(err)
					return
				}
				f, err := in.Open(root, unix.O_RDWR)
				if err != nil {
					t.Error(err)
					return
				}
				f.Write(root, []byte(name), int64(i*100))
				f.Read(root, make([]byte, 10), 0)
				f.Release()
				a.Rename(root, name, b, name, 0)
				b.Rename(root, "f0-0", a, "moved", 0)
				a.ReadDir(root)
				if i%2 == 0 {
					b.Unlink(root, name)
				}
				r.Rename(root, "b", b, "x", 0) // EINVAL: into itself
			}
		}(g)
	}
	wg.Wait()
	// Accounting is consistent: removing everything frees everything.
	for _, d := range []vfs.Inode{a, b} {
		ents, err := d.ReadDir(root)
		vfstest.Must(t, err)
		for _, e := range ents {
			vfstest.Must(t, d.Unlink(root, e.Name))
		}
	}
	if used, _, inodes, _ := fs.Usage(); used != 0 || inodes != 3 {
		t.Fatalf("after cleanup used=%d inodes=%d", used, inodes)
	}
}
