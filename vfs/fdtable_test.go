package vfs_test

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// fakeFile is a FileImpl that counts its Release calls. Reads return data
// (or end of file when data is empty); writes record their offset.
type fakeFile struct {
	releases atomic.Int32
	data     []byte
	lastOff  atomic.Int64
}

func (f *fakeFile) Read(_ vfs.Context, dst []byte, off int64) (int, error) {
	f.lastOff.Store(off)
	return copy(dst, f.data), nil
}

func (f *fakeFile) Write(_ vfs.Context, src []byte, off int64) (int, error) {
	f.lastOff.Store(off)
	return len(src), nil
}

func (f *fakeFile) Release() { f.releases.Add(1) }

// newDesc returns an anonymous read-write description over a fakeFile; the
// caller holds its one reference.
func newDesc() (*vfs.FileDescription, *fakeFile) {
	ff := &fakeFile{}
	return vfs.NewFileDescription(ff, vfs.Path{}, unix.O_RDWR), ff
}

// installed returns a description that only the table references: the
// creation reference is dropped after Install, as open(2) does.
func installed(t *testing.T, tab *vfs.FDTable, min int32, cloexec bool, limit uint64) (int32, *vfs.FileDescription, *fakeFile) {
	t.Helper()
	f, ff := newDesc()
	defer f.DecRef()
	fd, err := tab.Install(f, min, cloexec, limit)
	if err != nil {
		t.Fatalf("Install(min %d, limit %d): %v", min, limit, err)
	}
	return fd, f, ff
}

func wantReleases(t *testing.T, what string, ff *fakeFile, n int32) {
	t.Helper()
	if got := ff.releases.Load(); got != n {
		t.Errorf("%s: released %d times, want %d", what, got, n)
	}
}

const limit = 1024

func TestInstallLowestFree(t *testing.T) {
	tab := vfs.NewFDTable()
	for want := int32(0); want < 5; want++ {
		if fd, _, _ := installed(t, tab, 0, false, limit); fd != want {
			t.Fatalf("Install = %d, want %d", fd, want)
		}
	}
	if err := tab.Remove(1); err != nil {
		t.Fatal(err)
	}
	if err := tab.Remove(3); err != nil {
		t.Fatal(err)
	}
	if fd, _, _ := installed(t, tab, 0, false, limit); fd != 1 {
		t.Errorf("Install after closing 1 and 3 = %d, want 1", fd)
	}
	if fd, _, _ := installed(t, tab, 2, false, limit); fd != 3 {
		t.Errorf("Install(min 2) = %d, want 3", fd)
	}
	if fd, _, _ := installed(t, tab, 2, false, limit); fd != 5 {
		t.Errorf("Install(min 2) with 0-4 taken = %d, want 5", fd)
	}
	// min far beyond the table's current size.
	if fd, _, _ := installed(t, tab, 100, false, limit); fd != 100 {
		t.Errorf("Install(min 100) = %d, want 100", fd)
	}
	if fd, _, _ := installed(t, tab, 100, false, limit); fd != 101 {
		t.Errorf("Install(min 100) again = %d, want 101", fd)
	}
	if fd, _, _ := installed(t, tab, 0, false, limit); fd != 6 {
		t.Errorf("Install(min 0) = %d, want 6", fd)
	}
	if got, want := tab.Fds(), []int32{0, 1, 2, 3, 4, 5, 6, 100, 101}; !slices.Equal(got, want) {
		t.Errorf("Fds() = %v, want %v", got, want)
	}
	tab.CloseAll()
}

func TestInstallLimits(t *testing.T) {
	tab := vfs.NewFDTable()
	for i := 0; i < 3; i++ {
		installed(t, tab, 0, false, 3)
	}
	f, ff := newDesc()
	if fd, err := tab.Install(f, 0, false, 3); err != unix.EMFILE {
		t.Errorf("Install into a full table = %d, %s; want EMFILE", fd, errName(err))
	}
	if fd, err := tab.Install(f, 1, false, 3); err != unix.EMFILE {
		t.Errorf("Install(min 1) into a full table = %d, %s; want EMFILE", fd, errName(err))
	}
	// F_DUPFD with min at or beyond the limit, or negative.
	for _, min := range []int32{3, 4, 1 << 30, -1} {
		if fd, err := tab.Install(f, min, false, 3); err != unix.EINVAL {
			t.Errorf("Install(min %d, limit 3) = %d, %s; want EINVAL", min, fd, errName(err))
		}
	}
	// The limit is RLIMIT_NOFILE, which can exceed what the kernel ever
	// allows (nr_open): min is checked against the smaller one.
	if fd, err := tab.Install(f, vfs.MaxFDs, false, 1<<62); err != unix.EINVAL {
		t.Errorf("Install(min MaxFDs) = %d, %s; want EINVAL", fd, errName(err))
	}
	if fd, err := tab.Install(f, vfs.MaxFDs-1, false, 1<<62); err != nil || fd != vfs.MaxFDs-1 {
		t.Errorf("Install(min MaxFDs-1) = %d, %s; want %d", fd, errName(err), vfs.MaxFDs-1)
	}
	if fd, err := tab.Install(f, vfs.MaxFDs-1, false, 1<<62); err != unix.EMFILE {
		t.Errorf("Install(min MaxFDs-1) again = %d, %s; want EMFILE", fd, errName(err))
	}
	if err := tab.Remove(vfs.MaxFDs - 1); err != nil {
		t.Fatal(err)
	}
	// A lowered limit leaves higher fds open but hands out none.
	if err := tab.Remove(1); err != nil {
		t.Fatal(err)
	}
	if fd, err := tab.Install(f, 0, false, 3); err != nil || fd != 1 {
		t.Errorf("Install after a close = %d, %s; want 1", fd, errName(err))
	}
	if fd, err := tab.Install(f, 0, false, 2); err != unix.EMFILE {
		t.Errorf("Install with limit 2 = %d, %s; want EMFILE", fd, errName(err))
	}
	// Failed installs took no reference.
	tab.CloseAll()
	wantReleases(t, "before the last DecRef", ff, 0)
	f.DecRef()
	wantReleases(t, "after the last DecRef", ff, 1)
}

func TestInstallAt(t *testing.T) {
	tab := vfs.NewFDTable()
	_, _, old := installed(t, tab, 0, false, limit)
	nf, nff := newDesc()
	if err := tab.InstallAt(nf, 0, true, limit); err != nil {
		t.Fatal(err)
	}
	wantReleases(t, "replaced description", old, 1)
	got, err := tab.Get(0)
	if err != nil || got != nf {
		t.Fatalf("Get(0) = %p, %v; want the new description %p", got, err, nf)
	}
	got.DecRef()
	if ce, _ := tab.CloseOnExec(0); !ce {
		t.Errorf("InstallAt(cloexec) did not set FD_CLOEXEC")
	}

	// Installing at a free fd past the end, and limits.
	if err := tab.InstallAt(nf, 50, false, limit); err != nil {
		t.Fatal(err)
	}
	if err := tab.InstallAt(nf, limit, false, limit); err != unix.EBADF {
		t.Errorf("InstallAt(fd == limit) = %s, want EBADF", errName(err))
	}
	if err := tab.InstallAt(nf, -1, false, limit); err != unix.EBADF {
		t.Errorf("InstallAt(-1) = %s, want EBADF", errName(err))
	}
	if got, want := tab.Fds(), []int32{0, 50}; !slices.Equal(got, want) {
		t.Errorf("Fds() = %v, want %v", got, want)
	}

	// Replacing a description with itself keeps it alive (dup2 of two
	// fds sharing it).
	if err := tab.InstallAt(nf, 50, false, limit); err != nil {
		t.Fatal(err)
	}
	nf.DecRef() // the creation reference
	wantReleases(t, "self-replacement", nff, 0)
	if err := tab.Remove(0); err != nil {
		t.Fatal(err)
	}
	wantReleases(t, "one of two fds closed", nff, 0)
	if err := tab.Remove(50); err != nil {
		t.Fatal(err)
	}
	wantReleases(t, "both fds closed", nff, 1)
	wantReleases(t, "replaced description at the end", old, 1)
}

func TestRemove(t *testing.T) {
	tab := vfs.NewFDTable()
	fd, _, ff := installed(t, tab, 0, false, limit)
	if err := tab.Remove(fd); err != nil {
		t.Fatal(err)
	}
	wantReleases(t, "closed", ff, 1)
	for _, bad := range []int32{fd, -1, 1, 7, 1 << 20, 1<<31 - 1} {
		if err := tab.Remove(bad); err != unix.EBADF {
			t.Errorf("Remove(%d) = %s, want EBADF", bad, errName(err))
		}
		if _, err := tab.Get(bad); err != unix.EBADF {
			t.Errorf("Get(%d) = %s, want EBADF", bad, errName(err))
		}
	}
	wantReleases(t, "after bad removes", ff, 1)
	if fds := tab.Fds(); len(fds) != 0 {
		t.Errorf("Fds() = %v, want none", fds)
	}
}

func TestCloseOnExec(t *testing.T) {
	tab := vfs.NewFDTable()
	a, _, _ := installed(t, tab, 0, true, limit)
	b, _, _ := installed(t, tab, 0, false, limit)
	check := func(fd int32, want bool) {
		t.Helper()
		got, err := tab.CloseOnExec(fd)
		if err != nil || got != want {
			t.Errorf("CloseOnExec(%d) = %v, %v; want %v", fd, got, err, want)
		}
	}
	check(a, true)
	check(b, false)
	if err := tab.SetCloseOnExec(a, false); err != nil {
		t.Fatal(err)
	}
	if err := tab.SetCloseOnExec(b, true); err != nil {
		t.Fatal(err)
	}
	check(a, false)
	check(b, true)
	// The flag belongs to the fd, not the description.
	f, err := tab.Get(b)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tab.Install(f, 0, false, limit)
	f.DecRef()
	if err != nil {
		t.Fatal(err)
	}
	check(c, false)
	check(b, true)
	// A new file in a closed slot does not inherit the old flag.
	if err := tab.Remove(b); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.CloseOnExec(b); err != unix.EBADF {
		t.Errorf("CloseOnExec(closed) = %s, want EBADF", errName(err))
	}
	if err := tab.SetCloseOnExec(b, true); err != unix.EBADF {
		t.Errorf("SetCloseOnExec(closed) = %s, want EBADF", errName(err))
	}
	if err := tab.SetCloseOnExec(-1, true); err != unix.EBADF {
		t.Errorf("SetCloseOnExec(-1) = %s, want EBADF", errName(err))
	}
	if fd, _, _ := installed(t, tab, 0, false, limit); fd != b {
		t.Fatalf("Install = %d, want %d", fd, b)
	}
	check(b, false)
	tab.CloseAll()
}

func TestCloseAll(t *testing.T) {
	tab := vfs.NewFDTable()
	var fakes []*fakeFile
	for i := 0; i < 20; i++ {
		_, f, ff := installed(t, tab, int32(i*3), i%2 == 0, limit)
		fakes = append(fakes, ff)
		if i%4 == 0 { // some descriptions are at several fds
			if _, err := tab.Install(f, 200, false, limit); err != nil {
				t.Fatal(err)
			}
			if err := tab.InstallAt(f, int32(300+i), false, limit); err != nil {
				t.Fatal(err)
			}
		}
	}
	held, heldFake := newDesc() // also referenced outside the table
	if _, err := tab.Install(held, 0, false, limit); err != nil {
		t.Fatal(err)
	}
	tab.CloseAll()
	for i, ff := range fakes {
		if got := ff.releases.Load(); got != 1 {
			t.Errorf("description %d released %d times, want 1", i, got)
		}
	}
	wantReleases(t, "held elsewhere", heldFake, 0)
	if fds := tab.Fds(); len(fds) != 0 {
		t.Errorf("Fds() after CloseAll = %v", fds)
	}
	if _, err := tab.Get(0); err != unix.EBADF {
		t.Errorf("Get(0) after CloseAll = %s, want EBADF", errName(err))
	}
	tab.CloseAll()
	for i, ff := range fakes {
		if got := ff.releases.Load(); got != 1 {
			t.Errorf("description %d released %d times after a second CloseAll", i, got)
		}
	}
	held.DecRef()
	wantReleases(t, "held elsewhere, dropped", heldFake, 1)
	// The table is usable again.
	if fd, _, _ := installed(t, tab, 0, false, limit); fd != 0 {
		t.Errorf("Install after CloseAll = %d, want 0", fd)
	}
	tab.CloseAll()
}

func TestSharedDescription(t *testing.T) {
	tab := vfs.NewFDTable()
	f, ff := newDesc()
	a, err := tab.Install(f, 0, false, limit)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tab.Install(f, 10, false, limit)
	if err != nil {
		t.Fatal(err)
	}
	f.DecRef()
	wantReleases(t, "installed twice", ff, 0)

	// Get hands out a reference of its own.
	g, err := tab.Get(b)
	if err != nil || g != f {
		t.Fatalf("Get(%d) = %p, %v", b, g, err)
	}
	if err := tab.Remove(a); err != nil {
		t.Fatal(err)
	}
	wantReleases(t, "one fd closed", ff, 0)
	if err := tab.Remove(b); err != nil {
		t.Fatal(err)
	}
	wantReleases(t, "both fds closed, Get reference held", ff, 0)
	g.DecRef()
	wantReleases(t, "all references dropped", ff, 1)
}

func TestFDTableConcurrent(t *testing.T) {
	tab := vfs.NewFDTable()
	var fakes []*fakeFile
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				f, ff := newDesc()
				mu.Lock()
				fakes = append(fakes, ff)
				mu.Unlock()
				fd, err := tab.Install(f, 0, false, limit)
				f.DecRef()
				if err != nil {
					t.Error(err)
					return
				}
				if i%3 != 0 {
					if err := tab.Remove(fd); err != nil {
						t.Errorf("Remove(%d) of an fd this goroutine installed: %v", fd, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	open := tab.Fds()
	tab.CloseAll()
	released := 0
	for _, ff := range fakes {
		switch n := ff.releases.Load(); n {
		case 0:
		case 1:
			released++
		default:
			t.Fatalf("a description was released %d times", n)
		}
	}
	if released != len(fakes) {
		t.Errorf("%d of %d descriptions released (%d were open before CloseAll)", released, len(fakes), len(open))
	}
}
