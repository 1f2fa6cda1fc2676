package vfs_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// openAt opens path (resolved by r, following links) with flags, through
// the filesystem's Open, as open(2) would after its checks.
func openAt(t *testing.T, r *vfs.Resolver, path string, flags uint32) *vfs.FileDescription {
	t.Helper()
	p := mustResolve(t, r, path, true)
	impl, err := p.Inode().Open(tc, flags)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	f := vfs.NewFileDescription(impl, p, flags)
	t.Cleanup(f.DecRef)
	return f
}

func offset(t *testing.T, f *vfs.FileDescription) int64 {
	t.Helper()
	off, err := f.Seek(tc, 0, unix.SEEK_CUR)
	if err != nil {
		t.Fatalf("Seek(0, SEEK_CUR): %v", err)
	}
	return off
}

func wantOffset(t *testing.T, f *vfs.FileDescription, want int64) {
	t.Helper()
	if got := offset(t, f); got != want {
		t.Errorf("offset = %d, want %d", got, want)
	}
}

func write(t *testing.T, f *vfs.FileDescription, s string, off int64) {
	t.Helper()
	n, err := f.Write(tc, []byte(s), off)
	if err != nil || n != len(s) {
		t.Fatalf("Write(%q, %d) = %d, %v", s, off, n, err)
	}
}

func read(t *testing.T, f *vfs.FileDescription, n int, off int64) string {
	t.Helper()
	buf := make([]byte, n)
	got, err := f.Read(tc, buf, off)
	if err != nil {
		t.Fatalf("Read(%d, %d): %v", n, off, err)
	}
	return string(buf[:got])
}

// contents reads the whole file through a new description.
func contents(t *testing.T, r *vfs.Resolver, path string) string {
	t.Helper()
	f := openAt(t, r, path, unix.O_RDONLY)
	return read(t, f, 1<<12, 0)
}

func TestFileReadWrite(t *testing.T) {
	_, _, r := newNS(t, "f")
	f := openAt(t, r, "f", unix.O_RDWR)
	write(t, f, "hello world", -1)
	wantOffset(t, f, 11)
	if got := read(t, f, 10, -1); got != "" {
		t.Errorf("read at end of file = %q", got)
	}
	wantOffset(t, f, 11)
	if _, err := f.Seek(tc, 0, unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	if got := read(t, f, 5, -1); got != "hello" {
		t.Errorf("read = %q, want hello", got)
	}
	wantOffset(t, f, 5)

	// Positional I/O neither uses nor moves the offset.
	if got := read(t, f, 5, 6); got != "world" {
		t.Errorf("pread(6) = %q, want world", got)
	}
	wantOffset(t, f, 5)
	write(t, f, "J", 0)
	wantOffset(t, f, 5)
	if got := read(t, f, 100, -1); got != " world" {
		t.Errorf("read = %q, want \" world\"", got)
	}
	wantOffset(t, f, 11)
	if got := contents(t, r, "f"); got != "Jello world" {
		t.Errorf("file = %q", got)
	}

	// Writing past the end leaves a hole.
	if _, err := f.Seek(tc, 2, unix.SEEK_END); err != nil {
		t.Fatal(err)
	}
	write(t, f, "!", -1)
	wantOffset(t, f, 14)
	if got := contents(t, r, "f"); got != "Jello world\x00\x00!" {
		t.Errorf("file = %q", got)
	}

	// Two descriptions of one file have their own offsets.
	g := openAt(t, r, "f", unix.O_RDONLY)
	if got := read(t, g, 5, -1); got != "Jello" {
		t.Errorf("second description read %q", got)
	}
	wantOffset(t, g, 5)
	wantOffset(t, f, 14)
}

func TestFileAppend(t *testing.T) {
	_, _, r := newNS(t, "f")
	w := openAt(t, r, "f", unix.O_RDWR)
	write(t, w, "hello", -1)

	a := openAt(t, r, "f", unix.O_WRONLY|unix.O_APPEND)
	wantOffset(t, a, 0)
	write(t, a, "!", -1)
	wantOffset(t, a, 6)
	if got := contents(t, r, "f"); got != "hello!" {
		t.Fatalf("file = %q, want hello!", got)
	}
	// Seeking back does not matter, nor does another writer having
	// extended the file meanwhile.
	if _, err := a.Seek(tc, 1, unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	write(t, w, "XYZ", 6)
	write(t, a, "?", -1)
	wantOffset(t, a, 10)
	if got := contents(t, r, "f"); got != "hello!XYZ?" {
		t.Fatalf("file = %q, want hello!XYZ?", got)
	}

	// F_SETFL turns O_APPEND on and off but leaves the access mode alone.
	if _, err := w.Seek(tc, 0, unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	w.SetFlags(unix.O_APPEND | unix.O_WRONLY)
	if fl := w.Flags(); fl&unix.O_ACCMODE != unix.O_RDWR || fl&unix.O_APPEND == 0 {
		t.Errorf("flags after SetFlags(O_APPEND|O_WRONLY) = %#o", fl)
	}
	write(t, w, "+", -1)
	w.SetFlags(0)
	if _, err := w.Seek(tc, 0, unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	write(t, w, "H", -1)
	if got := contents(t, r, "f"); got != "Hello!XYZ?+" {
		t.Fatalf("file = %q, want Hello!XYZ?+", got)
	}
}

func TestFileFlags(t *testing.T) {
	ff := &fakeFile{}
	f := vfs.NewFileDescription(ff, vfs.Path{}, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_TRUNC|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK)
	defer f.DecRef()
	if got, want := f.Flags(), uint32(unix.O_WRONLY|unix.O_NONBLOCK); got != want {
		t.Errorf("Flags() = %#o, want %#o", got, want)
	}
	if f.Readable() || !f.Writable() {
		t.Errorf("O_WRONLY: readable %v, writable %v", f.Readable(), f.Writable())
	}
}

func TestFileSeek(t *testing.T) {
	_, _, r := newNS(t, "f", "empty")
	f := openAt(t, r, "f", unix.O_RDWR)
	write(t, f, "0123456789", -1) // size 10

	steps := []struct {
		off    int64
		whence int
		want   int64
		err    error
	}{
		{3, unix.SEEK_SET, 3, nil},
		{2, unix.SEEK_CUR, 5, nil},
		{-1, unix.SEEK_CUR, 4, nil},
		{0, unix.SEEK_END, 10, nil},
		{-3, unix.SEEK_END, 7, nil},
		{100, unix.SEEK_END, 110, nil}, // past the end is fine
		{0, unix.SEEK_SET, 0, nil},
		{-1, unix.SEEK_SET, 0, unix.EINVAL},
		{-1, unix.SEEK_CUR, 0, unix.EINVAL},
		{-11, unix.SEEK_END, 0, unix.EINVAL},
		{6, unix.SEEK_SET, 6, nil},
		{-7, unix.SEEK_CUR, 6, unix.EINVAL},
		{0, 99, 6, unix.EINVAL},
		{0, -1, 6, unix.EINVAL},
		// SEEK_DATA/SEEK_HOLE: the file is all data.
		{3, unix.SEEK_DATA, 3, nil},
		{3, unix.SEEK_HOLE, 10, nil},
		{9, unix.SEEK_DATA, 9, nil},
		{10, unix.SEEK_DATA, 9, unix.ENXIO},
		{10, unix.SEEK_HOLE, 9, unix.ENXIO},
		{1000, unix.SEEK_DATA, 9, unix.ENXIO},
		{1000, unix.SEEK_HOLE, 9, unix.ENXIO},
		{-1, unix.SEEK_DATA, 9, unix.ENXIO},
		{0, unix.SEEK_DATA, 0, nil},
		{math.MaxInt64, unix.SEEK_SET, math.MaxInt64, nil},
	}
	for _, s := range steps {
		got, err := f.Seek(tc, s.off, s.whence)
		if s.err != nil {
			if err != s.err {
				t.Errorf("Seek(%d, %d) = %d, %s; want %s", s.off, s.whence, got, errName(err), errName(s.err))
			}
		} else if err != nil || got != s.want {
			t.Errorf("Seek(%d, %d) = %d, %s; want %d", s.off, s.whence, got, errName(err), s.want)
		}
		// A failed seek leaves the offset where it was.
		wantOffset(t, f, s.want)
	}
	// Past the largest offset.
	if _, err := f.Seek(tc, 1, unix.SEEK_CUR); err == nil {
		t.Errorf("Seek past the largest offset succeeded")
	}
	wantOffset(t, f, math.MaxInt64)
	if _, err := f.Seek(tc, math.MaxInt64, unix.SEEK_END); err == nil {
		t.Errorf("Seek(MaxInt64, SEEK_END) succeeded")
	}

	e := openAt(t, r, "empty", unix.O_RDONLY)
	for _, whence := range []int{unix.SEEK_DATA, unix.SEEK_HOLE} {
		if _, err := e.Seek(tc, 0, whence); err != unix.ENXIO {
			t.Errorf("Seek(0, %d) on an empty file = %s, want ENXIO", whence, errName(err))
		}
	}
}

func TestFileAccessMode(t *testing.T) {
	_, _, r := newNS(t, "f", "d/")
	w := openAt(t, r, "f", unix.O_WRONLY)
	write(t, w, "data", -1)
	for _, off := range []int64{-1, 0} {
		if _, err := w.Read(tc, make([]byte, 4), off); err != unix.EBADF {
			t.Errorf("Read(off %d) of a write-only file = %s, want EBADF", off, errName(err))
		}
	}
	ro := openAt(t, r, "f", unix.O_RDONLY)
	for _, off := range []int64{-1, 0} {
		if _, err := ro.Write(tc, []byte("x"), off); err != unix.EBADF {
			t.Errorf("Write(off %d) to a read-only file = %s, want EBADF", off, errName(err))
		}
	}
	if got := contents(t, r, "f"); got != "data" {
		t.Errorf("file = %q", got)
	}

	d := openAt(t, r, "d", unix.O_RDONLY|unix.O_DIRECTORY)
	for _, off := range []int64{-1, 0} {
		if _, err := d.Read(tc, make([]byte, 4), off); err != unix.EISDIR {
			t.Errorf("Read(off %d) of a directory = %s, want EISDIR", off, errName(err))
		}
	}

	// O_PATH descriptions allow no I/O at all: EBADF, also for
	// directories.
	for _, path := range []string{"f", "d"} {
		p := mustResolve(t, r, path, true)
		impl, err := p.Inode().Open(tc, unix.O_PATH)
		if err != nil {
			t.Fatal(err)
		}
		f := vfs.NewFileDescription(impl, p, unix.O_PATH)
		if f.Readable() || f.Writable() {
			t.Errorf("O_PATH %s: readable %v, writable %v", path, f.Readable(), f.Writable())
		}
		if _, err := f.Read(tc, make([]byte, 4), -1); err != unix.EBADF {
			t.Errorf("Read of O_PATH %s = %s, want EBADF", path, errName(err))
		}
		if _, err := f.Write(tc, []byte("x"), -1); err != unix.EBADF {
			t.Errorf("Write of O_PATH %s = %s, want EBADF", path, errName(err))
		}
		if _, err := f.Seek(tc, 0, unix.SEEK_SET); err != unix.EBADF {
			t.Errorf("Seek of O_PATH %s = %s, want EBADF", path, errName(err))
		}
		if _, err := readDir(t, f, r.NS, r.Root, -1, nil); err != unix.EBADF {
			t.Errorf("ReadDir of O_PATH %s = %s, want EBADF", path, errName(err))
		}
		if st, err := f.Stat(tc); err != nil || st.Ino != ino(t, p.Inode()) {
			t.Errorf("Stat of O_PATH %s = %+v, %v", path, st, err)
		}
		f.DecRef()
	}
}

// streamFile is a fakeFile without a position.
type streamFile struct{ fakeFile }

func (*streamFile) IsStream() bool { return true }

// notStream implements Stream but says it is not one.
type notStream struct{ fakeFile }

func (*notStream) IsStream() bool { return false }

func TestFileStream(t *testing.T) {
	s := &streamFile{fakeFile: fakeFile{data: []byte("pipe")}}
	f := vfs.NewFileDescription(s, vfs.Path{}, unix.O_RDWR)
	defer f.DecRef()
	if !f.IsStream() {
		t.Fatal("IsStream() = false")
	}
	for _, whence := range []int{unix.SEEK_SET, unix.SEEK_CUR, unix.SEEK_END} {
		if _, err := f.Seek(tc, 0, whence); err != unix.ESPIPE {
			t.Errorf("Seek(0, %d) of a stream = %s, want ESPIPE", whence, errName(err))
		}
	}
	if _, err := f.Read(tc, make([]byte, 4), 0); err != unix.ESPIPE {
		t.Errorf("pread of a stream = %s, want ESPIPE", errName(err))
	}
	if _, err := f.Write(tc, []byte("x"), 3); err != unix.ESPIPE {
		t.Errorf("pwrite of a stream = %s, want ESPIPE", errName(err))
	}
	for i := 0; i < 2; i++ {
		s.lastOff.Store(-5)
		if got := read(t, f, 10, -1); got != "pipe" {
			t.Errorf("read of a stream = %q", got)
		}
		if off := s.lastOff.Load(); off != 0 {
			t.Errorf("stream read at %d, want 0", off)
		}
		s.lastOff.Store(-5)
		write(t, f, "data", -1)
		if off := s.lastOff.Load(); off != 0 {
			t.Errorf("stream write at %d, want 0", off)
		}
	}

	// Access mode is checked before ESPIPE, as in Linux.
	wo := vfs.NewFileDescription(&streamFile{}, vfs.Path{}, unix.O_WRONLY)
	defer wo.DecRef()
	if _, err := wo.Read(tc, make([]byte, 1), 0); err != unix.EBADF {
		t.Errorf("pread of a write-only stream = %s, want EBADF", errName(err))
	}

	// Implementing Stream is not enough: IsStream must say so.
	n := vfs.NewFileDescription(&notStream{fakeFile: fakeFile{data: []byte("x")}}, vfs.Path{}, unix.O_RDWR)
	defer n.DecRef()
	if n.IsStream() {
		t.Errorf("IsStream() of a non-stream = true")
	}
	if got, err := n.Seek(tc, 5, unix.SEEK_SET); err != nil || got != 5 {
		t.Errorf("Seek of a non-stream = %d, %v", got, err)
	}
	if got := read(t, n, 1, 7); got != "x" {
		t.Errorf("pread of a non-stream = %q", got)
	}
}

// readDir calls ReadDir accepting at most max entries (all if max < 0) and
// delivering with deliverErr.
func readDir(t *testing.T, f *vfs.FileDescription, ns *vfs.MountNamespace, root vfs.Path, max int, deliverErr error) ([]vfs.Dirent, error) {
	t.Helper()
	var got []vfs.Dirent
	err := f.ReadDir(tc, ns, root, func(d vfs.Dirent) bool {
		if max >= 0 && len(got) == max {
			return false
		}
		got = append(got, d)
		return true
	}, func() error { return deliverErr })
	return got, err
}

func names(ds []vfs.Dirent) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name)
	}
	return out
}

func ino(t *testing.T, in vfs.Inode) uint64 {
	t.Helper()
	st, err := in.Stat(tc)
	if err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestReadDir(t *testing.T) {
	ns, fsRoot, r := newNS(t, "d/", "d/c", "d/a/", "d/b -> a")
	dir := mustResolve(t, r, "d", true)
	f := openAt(t, r, "d", unix.O_RDONLY|unix.O_DIRECTORY)

	all, err := readDir(t, f, ns, r.Root, -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(all), []string{".", "..", "a", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("ReadDir = %v, want %v", got, want)
	}
	wantEnts := []vfs.Dirent{
		{Name: ".", Ino: ino(t, dir.Inode()), Type: unix.DT_DIR},
		{Name: "..", Ino: ino(t, fsRoot), Type: unix.DT_DIR},
		{Name: "a", Ino: ino(t, lookupRaw(t, fsRoot, "d/a")), Type: unix.DT_DIR},
		{Name: "b", Ino: ino(t, lookupRaw(t, fsRoot, "d/b")), Type: unix.DT_LNK},
		{Name: "c", Ino: ino(t, lookupRaw(t, fsRoot, "d/c")), Type: unix.DT_REG},
	}
	if !slices.Equal(all, wantEnts) {
		t.Errorf("ReadDir = %+v, want %+v", all, wantEnts)
	}
	// At the end: nothing more.
	if more, err := readDir(t, f, ns, r.Root, -1, nil); err != nil || len(more) != 0 {
		t.Errorf("ReadDir at the end = %v, %v", names(more), err)
	}

	// Rewinding re-reads, and sees entries created since.
	mkTree(t, fsRoot, "d/e")
	if _, err := f.Seek(tc, 0, unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	again, err := readDir(t, f, ns, r.Root, -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(again), []string{".", "..", "a", "b", "c", "e"}; !slices.Equal(got, want) {
		t.Errorf("ReadDir after rewind = %v, want %v", got, want)
	}
}

func TestReadDirPartial(t *testing.T) {
	ns, _, r := newNS(t, "d/", "d/a", "d/b", "d/c")
	f := openAt(t, r, "d", unix.O_RDONLY)
	var got []string
	for i := 0; i < 10; i++ {
		ents, err := readDir(t, f, ns, r.Root, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) == 0 {
			break
		}
		got = append(got, names(ents)...)
	}
	if want := []string{".", "..", "a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("ReadDir two at a time = %v, want %v", got, want)
	}

	// A buffer too small for even one entry consumes nothing.
	if _, err := f.Seek(tc, 0, unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	if ents, err := readDir(t, f, ns, r.Root, 0, nil); err != nil || len(ents) != 0 {
		t.Fatalf("ReadDir(0) = %v, %v", names(ents), err)
	}
	if ents, _ := readDir(t, f, ns, r.Root, 1, nil); !slices.Equal(names(ents), []string{"."}) {
		t.Errorf("after an empty ReadDir: %v, want [.]", names(ents))
	}

	// A failing deliver consumes nothing: the next call returns the same
	// entries.
	errFault := errors.New("fault")
	for i := 0; i < 2; i++ {
		ents, err := readDir(t, f, ns, r.Root, 2, errFault)
		if err != errFault {
			t.Fatalf("ReadDir with a failing deliver = %v", err)
		}
		if want := []string{"..", "a"}; !slices.Equal(names(ents), want) {
			t.Errorf("failed ReadDir %d emitted %v, want %v", i, names(ents), want)
		}
	}
	ents, err := readDir(t, f, ns, r.Root, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"..", "a"}; !slices.Equal(names(ents), want) {
		t.Errorf("ReadDir after failed deliveries = %v, want %v", names(ents), want)
	}
	ents, err = readDir(t, f, ns, r.Root, -1, errFault)
	if err != errFault || !slices.Equal(names(ents), []string{"b", "c"}) {
		t.Errorf("failed ReadDir of the rest = %v, %v", names(ents), err)
	}
	ents, err = readDir(t, f, ns, r.Root, -1, nil)
	if err != nil || !slices.Equal(names(ents), []string{"b", "c"}) {
		t.Errorf("ReadDir of the rest = %v, %v", names(ents), err)
	}
	// Failing on the very first call leaves the description at the start.
	g := openAt(t, r, "d", unix.O_RDONLY)
	if _, err := readDir(t, g, ns, r.Root, -1, errFault); err != errFault {
		t.Fatal(err)
	}
	if ents, err := readDir(t, g, ns, r.Root, -1, nil); err != nil || !slices.Equal(names(ents), []string{".", "..", "a", "b", "c"}) {
		t.Errorf("ReadDir after a failed first call = %v, %v", names(ents), err)
	}
}

func TestReadDirDotDot(t *testing.T) {
	ns, fsRoot, _, _, r := mountTree(t)
	sub := mustResolve(t, r, "/mnt/inner", true)
	list := func(path string, root vfs.Path) []vfs.Dirent {
		t.Helper()
		f := openAt(t, r, path, unix.O_RDONLY)
		ents, err := readDir(t, f, ns, root, 2, nil)
		if err != nil || len(ents) != 2 || ents[0].Name != "." || ents[1].Name != ".." {
			t.Fatalf("ReadDir(%s) = %+v, %v", path, ents, err)
		}
		return ents
	}
	// The namespace root is its own parent.
	if ents := list("/", r.Root); ents[1].Ino != ino(t, fsRoot) || ents[0].Ino != ino(t, fsRoot) {
		t.Errorf("ReadDir(/) = %+v", ents)
	}
	// A mount root's parent is the directory holding the mount point.
	if ents := list("/mnt", r.Root); ents[1].Ino != ino(t, fsRoot) {
		t.Errorf("ReadDir(/mnt) .. = %d, want the root's %d", ents[1].Ino, ino(t, fsRoot))
	}
	mnt := mustResolve(t, r, "/mnt", true)
	if ents := list("/mnt/inner", r.Root); ents[1].Ino != ino(t, mnt.Inode()) || ents[0].Ino != ino(t, sub.Inode()) {
		t.Errorf("ReadDir(/mnt/inner) = %+v", ents)
	}
	// In a chroot, the root is its own parent.
	if ents := list("/mnt/inner", sub); ents[1].Ino != ino(t, sub.Inode()) {
		t.Errorf("ReadDir(/mnt/inner) chrooted there: .. = %d, want %d", ents[1].Ino, ino(t, sub.Inode()))
	}
}

func TestReadDirNotDir(t *testing.T) {
	ns, _, r := newNS(t, "f")
	f := openAt(t, r, "f", unix.O_RDONLY)
	if _, err := readDir(t, f, ns, r.Root, -1, nil); err != unix.ENOTDIR {
		t.Errorf("ReadDir of a file = %s, want ENOTDIR", errName(err))
	}
	anon, _ := newDesc()
	defer anon.DecRef()
	if _, err := readDir(t, anon, ns, r.Root, -1, nil); err != unix.ENOTDIR {
		t.Errorf("ReadDir of an anonymous file = %s, want ENOTDIR", errName(err))
	}
}
