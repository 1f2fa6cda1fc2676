package dev

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"moat/vfs"
	"moat/vfs/vfstest"
)

type ctx = vfstest.Caller

func lookup(t *testing.T, d vfs.Inode, name string) vfs.Inode {
	t.Helper()
	in, err := d.Lookup(ctx{}, name)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", name, err)
	}
	return in
}

func open(t *testing.T, d vfs.Inode, name string) vfs.FileImpl {
	t.Helper()
	f, err := lookup(t, d, name).Open(ctx{}, unix.O_RDWR)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	return f
}

func TestDevices(t *testing.T) {
	d := New(7)
	for _, tc := range []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}} {
		st, err := lookup(t, d, tc.name).Stat(ctx{})
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode != unix.S_IFCHR|0o666 {
			t.Errorf("%s: mode %o, want %o", tc.name, st.Mode, unix.S_IFCHR|0o666)
		}
		if unix.Major(st.Rdev) != tc.major || unix.Minor(st.Rdev) != tc.minor {
			t.Errorf("%s: rdev %d:%d, want %d:%d", tc.name, unix.Major(st.Rdev), unix.Minor(st.Rdev), tc.major, tc.minor)
		}
		if st.Dev != 7 || st.UID != 0 || st.GID != 0 {
			t.Errorf("%s: dev %d uid %d gid %d", tc.name, st.Dev, st.UID, st.GID)
		}
		if _, ok := open(t, d, tc.name).(vfs.Stream); ok {
			t.Errorf("%s: is a Stream; Linux allows lseek on it", tc.name)
		}
	}
}

func TestNull(t *testing.T) {
	f := open(t, New(1), "null")
	buf := []byte("xxxx")
	if n, err := f.Read(ctx{}, buf, 0); n != 0 || err != nil {
		t.Errorf("read null = %d, %v; want EOF", n, err)
	}
	if n, err := f.Read(ctx{}, buf, 1<<40); n != 0 || err != nil {
		t.Errorf("pread null at 1T = %d, %v; want EOF", n, err)
	}
	if n, err := f.Write(ctx{}, make([]byte, 100000), 0); n != 100000 || err != nil {
		t.Errorf("write null = %d, %v", n, err)
	}
}

func TestZero(t *testing.T) {
	f := open(t, New(1), "zero")
	buf := bytes.Repeat([]byte{0xff}, 8192)
	if n, err := f.Read(ctx{}, buf, 12345); n != len(buf) || err != nil {
		t.Fatalf("read zero = %d, %v", n, err)
	}
	if !bytes.Equal(buf, make([]byte, len(buf))) {
		t.Error("read zero returned non-zero bytes")
	}
	if n, err := f.Write(ctx{}, []byte("abc"), 0); n != 3 || err != nil {
		t.Errorf("write zero = %d, %v", n, err)
	}
}

func TestFull(t *testing.T) {
	f := open(t, New(1), "full")
	buf := []byte{1, 2, 3}
	if n, err := f.Read(ctx{}, buf, 0); n != 3 || err != nil || !bytes.Equal(buf, []byte{0, 0, 0}) {
		t.Errorf("read full = %d, %v, %v", n, err, buf)
	}
	for _, src := range [][]byte{[]byte("x"), nil} {
		if n, err := f.Write(ctx{}, src, 0); n != 0 || !errors.Is(err, unix.ENOSPC) {
			t.Errorf("write full %q = %d, %v; want ENOSPC", src, n, err)
		}
	}
}

func TestRandom(t *testing.T) {
	d := New(1)
	for _, name := range []string{"random", "urandom"} {
		f := open(t, d, name)
		a, b := make([]byte, 64), make([]byte, 64)
		if n, err := f.Read(ctx{}, a, 0); n != 64 || err != nil {
			t.Fatalf("read %s = %d, %v", name, n, err)
		}
		f.Read(ctx{}, b, 0)
		if bytes.Equal(a, b) || bytes.Equal(a, make([]byte, 64)) {
			t.Errorf("%s: two reads gave %x and %x", name, a, b)
		}
		if n, err := f.Write(ctx{}, []byte("seed"), 0); n != 4 || err != nil {
			t.Errorf("write %s = %d, %v", name, n, err)
		}
	}
}

func TestSeekReturnsZero(t *testing.T) {
	d := New(1)
	for _, name := range []string{"null", "zero", "full", "random", "urandom"} {
		s, ok := open(t, d, name).(interface {
			Seek(vfs.Context, int64, int64, int) (int64, error)
		})
		if !ok {
			t.Fatalf("%s has no Seek", name)
		}
		if off, err := s.Seek(ctx{}, 0, 100, unix.SEEK_SET); off != 0 || err != nil {
			t.Errorf("%s: lseek(100, SEEK_SET) = %d, %v; want 0", name, off, err)
		}
	}
}

func TestSymlinks(t *testing.T) {
	d := New(1)
	for name, want := range map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
	} {
		in := lookup(t, d, name)
		st, _ := in.Stat(ctx{})
		if !st.IsSymlink() || st.Mode&0o777 != 0o777 {
			t.Errorf("%s: mode %o", name, st.Mode)
		}
		if got, err := in.Readlink(ctx{}); got != want || err != nil {
			t.Errorf("readlink %s = %q, %v; want %q", name, got, err, want)
		}
	}
}

func TestReadOnlyDir(t *testing.T) {
	d := New(1)
	if _, err := d.Create(ctx{}, "foo", 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("create = %v, want EROFS", err)
	}
	if _, err := d.Create(ctx{}, "null", 0o644); !errors.Is(err, unix.EEXIST) {
		t.Errorf("create null = %v, want EEXIST", err)
	}
	if err := d.Mkdir(ctx{}, "foo", 0o755); !errors.Is(err, unix.EROFS) {
		t.Errorf("mkdir = %v, want EROFS", err)
	}
	if err := d.Unlink(ctx{}, "null"); !errors.Is(err, unix.EROFS) {
		t.Errorf("unlink null = %v, want EROFS", err)
	}
	if err := d.Unlink(ctx{}, "nope"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("unlink nope = %v, want ENOENT", err)
	}
	if _, err := d.Lookup(ctx{}, "nope"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("lookup nope = %v, want ENOENT", err)
	}
	shm := lookup(t, d, "shm")
	if err := shm.Mkdir(ctx{}, "x", 0o755); !errors.Is(err, unix.EROFS) {
		t.Errorf("mkdir shm/x = %v, want EROFS", err)
	}
}

func TestReadDir(t *testing.T) {
	d := New(1)
	ents, err := d.ReadDir(ctx{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint8{
		"null": unix.DT_CHR, "zero": unix.DT_CHR, "full": unix.DT_CHR, "random": unix.DT_CHR, "urandom": unix.DT_CHR,
		"tty": unix.DT_CHR, "ptmx": unix.DT_CHR,
		"fd": unix.DT_LNK, "stdin": unix.DT_LNK, "stdout": unix.DT_LNK, "stderr": unix.DT_LNK,
		"shm": unix.DT_DIR, "pts": unix.DT_DIR,
	}
	if len(ents) != len(want) {
		t.Errorf("ReadDir: %d entries, want %d: %v", len(ents), len(want), ents)
	}
	seen := map[uint64]string{}
	for _, e := range ents {
		if want[e.Name] != e.Type {
			t.Errorf("%s: type %d, want %d", e.Name, e.Type, want[e.Name])
		}
		if other, dup := seen[e.Ino]; dup || e.Ino <= 1 {
			t.Errorf("%s: inode %d (also %q)", e.Name, e.Ino, other)
		}
		seen[e.Ino] = e.Name
		st, _ := lookup(t, d, e.Name).Stat(ctx{})
		if st.Ino != e.Ino {
			t.Errorf("%s: dirent ino %d, stat ino %d", e.Name, e.Ino, st.Ino)
		}
	}
	st, _ := d.Stat(ctx{})
	if !st.IsDir() || st.Nlink != 4 {
		t.Errorf("dir stat: mode %o nlink %d", st.Mode, st.Nlink)
	}
}

// The devices work through vfs: resolve, open a description, read, pread
// and write.
func TestThroughVFS(t *testing.T) {
	ns := vfs.NewMountNamespace(New(1), vfs.MountOptions{FSType: "devtmpfs", Source: "dev"})
	r := &vfs.Resolver{NS: ns, Root: ns.Root(), Start: ns.Root()}
	p, err := r.Resolve(ctx{}, "/zero", true)
	if err != nil {
		t.Fatal(err)
	}
	impl, err := p.Inode().Open(ctx{}, unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	fd := vfs.NewFileDescription(impl, p, unix.O_RDWR)
	defer fd.DecRef()
	buf := []byte{9, 9, 9}
	if n, err := fd.Read(ctx{}, buf, -1); n != 3 || err != nil || !bytes.Equal(buf, []byte{0, 0, 0}) {
		t.Errorf("read /zero = %d, %v, %v", n, err, buf)
	}
	buf[1] = 9
	if n, err := fd.Read(ctx{}, buf, 1<<50); n != 3 || err != nil || buf[1] != 0 {
		t.Errorf("pread /zero = %d, %v, %v", n, err, buf)
	}
	if n, err := fd.Write(ctx{}, []byte("abc"), -1); n != 3 || err != nil {
		t.Errorf("write /zero = %d, %v", n, err)
	}
	if _, err := fd.Seek(ctx{}, 100, unix.SEEK_SET); err != nil {
		t.Errorf("lseek /zero = %v", err) // must not be ESPIPE
	}
	if _, err := r.Resolve(ctx{}, "/stdin", true); !errors.Is(err, unix.ENOENT) {
		t.Errorf("resolve /stdin without /proc = %v, want ENOENT", err)
	}
}

// TestTerminalDevices checks /dev/tty and /dev/ptmx: 5:0 and 5:2, tty
// fails with ENXIO for a caller without a controlling terminal, ptmx with
// ENODEV when there is no devpts behind it.
func TestTerminalDevices(t *testing.T) {
	d := New(1)
	for name, minor := range map[string]uint32{"tty": 0, "ptmx": 2} {
		in := lookup(t, d, name)
		st, _ := in.Stat(ctx{})
		if st.Rdev != unix.Mkdev(5, minor) || st.Mode != unix.S_IFCHR|0o666 {
			t.Errorf("%s: rdev %#x mode %#o", name, st.Rdev, st.Mode)
		}
	}
	if _, err := lookup(t, d, "tty").Open(ctx{}, unix.O_RDWR); err != unix.ENXIO {
		t.Errorf("open tty without a controlling terminal = %v, want ENXIO", err)
	}
	if _, err := lookup(t, d, "ptmx").Open(ctx{}, unix.O_RDWR); err != unix.ENODEV {
		t.Errorf("open ptmx without devpts = %v, want ENODEV", err)
	}
}
