package vfs

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// MaxFDs bounds any fd table regardless of RLIMIT_NOFILE (Linux's
// fs.nr_open default).
const MaxFDs = 1 << 20

// nrOpenDefault is the size of a new fd table (NR_OPEN_DEFAULT).
const nrOpenDefault = 64

type fdEntry struct {
	file    *FileDescription
	cloexec bool
}

// FDTable maps file descriptor numbers to open file descriptions. Tasks
// may share one (threads, CLONE_FILES): each holds a user reference, and
// the last to drop it closes the files.
type FDTable struct {
	mu sync.Mutex
	// files is indexed by fd; file == nil for a free slot. Its length
	// follows Linux's fdtable max_fds (select clamps nfds to it): 64 at
	// first, the next power of two above an fd that does not fit, never
	// shrinking, and sized by the open fds in a copy (fork, exec, unshare).
	files []fdEntry
	used  int
	users atomic.Int32
	// posixLocks: the table has held POSIX record locks (lock.go), so
	// closing an fd must release them.
	posixLocks atomic.Bool
}

// NewFDTable returns an empty table with one user.
func NewFDTable() *FDTable {
	t := &FDTable{files: make([]fdEntry, nrOpenDefault)}
	t.users.Store(1)
	return t
}

// Share adds a user and returns t (clone with CLONE_FILES).
func (t *FDTable) Share() *FDTable {
	t.users.Add(1)
	return t
}

// Shared reports whether more than one task uses t.
func (t *FDTable) Shared() bool { return t.users.Load() > 1 }

// Drop removes a user; the last one closes every file.
func (t *FDTable) Drop() {
	if t.users.Add(-1) == 0 {
		t.CloseAll()
	}
}

// Size is the number of fds the table has room for without growing (Linux's
// max_fds): at least the highest fd ever open in it plus one.
func (t *FDTable) Size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.files)
}

// Get returns the description for fd with a new reference, or EBADF.
func (t *FDTable) Get(fd int32) (*FileDescription, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].file == nil {
		return nil, unix.EBADF
	}
	f := t.files[fd].file
	f.IncRef()
	return f, nil
}

// Install puts f at the lowest free fd >= min, below limit (RLIMIT_NOFILE),
// taking a new reference. It fails with EMFILE when the table is full, or
// EINVAL when min is out of range (F_DUPFD).
func (t *FDTable) Install(f *FileDescription, min int32, cloexec bool, limit uint64) (int32, error) {
	lim := effectiveLimit(limit)
	if min < 0 || min > 0 && int64(min) >= lim {
		return -1, unix.EINVAL // F_DUPFD past the limit
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fd := int64(min)
	for ; fd < int64(len(t.files)); fd++ {
		if t.files[fd].file == nil {
			break
		}
	}
	if fd >= lim {
		return -1, unix.EMFILE
	}
	t.setLocked(int32(fd), f, cloexec)
	return int32(fd), nil
}

// InstallAt puts f at exactly fd (dup2/dup3), closing what was there. It
// fails with EBADF when fd is at or beyond the limit.
func (t *FDTable) InstallAt(f *FileDescription, fd int32, cloexec bool, limit uint64) error {
	if fd < 0 || int64(fd) >= effectiveLimit(limit) {
		return unix.EBADF
	}
	t.mu.Lock()
	old := t.setLocked(fd, f, cloexec)
	t.mu.Unlock()
	if old != nil {
		t.closed(old)
	}
	return nil
}

// Preconditions: t.mu is held.
func (t *FDTable) setLocked(fd int32, f *FileDescription, cloexec bool) *FileDescription {
	if int(fd) >= len(t.files) {
		t.files = append(t.files, make([]fdEntry, tableSize(int(fd)+1)-len(t.files))...)
	}
	old := t.files[fd].file
	f.IncRef()
	t.files[fd] = fdEntry{file: f, cloexec: cloexec}
	if old == nil {
		t.used++
	}
	return old
}

// Remove closes fd, returning EBADF if it was not open.
func (t *FDTable) Remove(fd int32) error {
	t.mu.Lock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].file == nil {
		t.mu.Unlock()
		return unix.EBADF
	}
	f := t.files[fd].file
	t.files[fd] = fdEntry{}
	t.used--
	t.mu.Unlock()
	t.closed(f)
	return nil
}

// CloseOnExec reports whether fd has FD_CLOEXEC set.
func (t *FDTable) CloseOnExec(fd int32) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].file == nil {
		return false, unix.EBADF
	}
	return t.files[fd].cloexec, nil
}

// SetCloseOnExec sets or clears FD_CLOEXEC on fd.
func (t *FDTable) SetCloseOnExec(fd int32, cloexec bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].file == nil {
		return unix.EBADF
	}
	t.files[fd].cloexec = cloexec
	return nil
}

// closed finishes closing an fd of f: the table's POSIX record locks on
// the file go (close of any fd of a file releases them, as on Linux), and
// the fd's reference.
func (t *FDTable) closed(f *FileDescription) {
	f.releasePOSIXLocks(t)
	f.DecRef()
}

// CloseAll closes every fd (at exit).
func (t *FDTable) CloseAll() {
	t.mu.Lock()
	files := t.files
	t.files, t.used = nil, 0
	t.mu.Unlock()
	for _, e := range files {
		if e.file != nil {
			t.closed(e.file)
		}
	}
}

// Fds lists the open fds in increasing order (for /proc/self/fd).
func (t *FDTable) Fds() []int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var fds []int32
	for i, e := range t.files {
		if e.file != nil {
			fds = append(fds, int32(i))
		}
	}
	return fds
}

// tableSize is the size of a table Linux allocates for n fds: 64, or the
// next power of two (n never exceeds MaxFDs, itself a power of two).
func tableSize(n int) int {
	size := nrOpenDefault
	for size < n {
		size *= 2
	}
	return size
}

func effectiveLimit(limit uint64) int64 {
	if limit > MaxFDs {
		return MaxFDs
	}
	return int64(limit)
}

// Fork returns a copy of the table for a child process: the same open
// file descriptions (shared, as fork shares them) at the same numbers.
func (t *FDTable) Fork() *FDTable {
	t.mu.Lock()
	defer t.mu.Unlock()
	last := -1
	for i, e := range t.files {
		if e.file != nil {
			last = i
		}
	}
	// Linux sizes the copy by the open fds, in whole longs of its bitmap.
	c := &FDTable{files: make([]fdEntry, tableSize((last+nrOpenDefault)/nrOpenDefault*nrOpenDefault)), used: t.used}
	c.users.Store(1)
	for i, e := range t.files {
		if e.file != nil {
			e.file.IncRef()
			c.files[i] = e
		}
	}
	return c
}

// CloseOnExecFds closes every fd marked close-on-exec (at execve).
func (t *FDTable) CloseOnExecFds() {
	t.mu.Lock()
	var closing []*FileDescription
	for i, e := range t.files {
		if e.file != nil && e.cloexec {
			closing = append(closing, e.file)
			t.files[i] = fdEntry{}
			t.used--
		}
	}
	t.mu.Unlock()
	for _, f := range closing {
		t.closed(f)
	}
}

// CloseRange closes (or, with cloexec, marks close-on-exec) every open fd
// in [first, last].
func (t *FDTable) CloseRange(first, last uint32, cloexec bool) {
	t.mu.Lock()
	var closing []*FileDescription
	for fd := int64(first); fd <= int64(last) && fd < int64(len(t.files)); fd++ {
		e := &t.files[fd]
		if e.file == nil {
			continue
		}
		if cloexec {
			e.cloexec = true
			continue
		}
		closing = append(closing, e.file)
		*e = fdEntry{}
		t.used--
	}
	t.mu.Unlock()
	for _, f := range closing {
		t.closed(f)
	}
}
