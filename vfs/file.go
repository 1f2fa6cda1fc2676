package vfs

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// statusFlags are the open(2) flags kept in an open file description and
// changeable by F_SETFL.
const statusFlags = unix.O_APPEND | unix.O_NONBLOCK | unix.O_ASYNC | unix.O_DIRECT | unix.O_NOATIME

// FileDescription is an open file description: what open(2) creates and
// dup(2) shares. It owns the file offset and status flags.
type FileDescription struct {
	refs atomic.Int64
	impl FileImpl
	path Path // zero for files that have no place in the namespace (pipes)

	// accMode is the access mode and O_PATH, fixed at open; flags are the
	// status flags, which F_SETFL changes.
	accMode uint32
	flags   atomic.Uint32

	hasLocks atomic.Bool // has held OFD locks or a flock (lock.go)

	// onRelease holds what runs when the last reference is dropped
	// (OnRelease), by key; released is set then, under relMu.
	relMu     sync.Mutex
	onRelease map[any]func()
	released  bool

	mu      sync.Mutex
	off     int64
	dirents []Dirent // directory listing snapshot taken at the first getdents
	dirPos  int      // next entry of dirents to return, counting "." and ".."
}

// NewFileDescription returns a description with one reference.
func NewFileDescription(impl FileImpl, path Path, flags uint32) *FileDescription {
	flags &^= unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC | unix.O_CLOEXEC
	fd := &FileDescription{impl: impl, path: path, accMode: flags & (unix.O_ACCMODE | unix.O_PATH)}
	fd.flags.Store(flags)
	fd.refs.Store(1)
	return fd
}

// IncRef takes a reference.
func (f *FileDescription) IncRef() { f.refs.Add(1) }

// TryIncRef takes a reference unless the last one has been dropped, for
// holders that keep no reference of their own (OnRelease).
func (f *FileDescription) TryIncRef() bool {
	for {
		n := f.refs.Load()
		if n <= 0 {
			return false
		}
		if f.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// OnRelease registers fn, under key, to run when the last reference to f
// is dropped, before f is released, with no lock of f's held. It is for
// holders that must not keep f open, as an epoll interest list does not
// on Linux: closing a file's last descriptor removes it from every epoll
// set. It reports false, registering nothing, if f is already released.
func (f *FileDescription) OnRelease(key any, fn func()) bool {
	f.relMu.Lock()
	defer f.relMu.Unlock()
	if f.released {
		return false
	}
	if f.onRelease == nil {
		f.onRelease = make(map[any]func())
	}
	f.onRelease[key] = fn
	return true
}

// CancelRelease drops the OnRelease registration under key.
func (f *FileDescription) CancelRelease(key any) {
	f.relMu.Lock()
	defer f.relMu.Unlock()
	delete(f.onRelease, key)
}

// RefWatcher is implemented by file implementations that want to know
// when a reference other than the last is dropped (AF_UNIX sockets, whose
// garbage collector looks for sockets referenced only by messages in
// flight).
type RefWatcher interface {
	// RefDropped is called, with no lock held, after a reference to f was
	// dropped, leaving refs.
	RefDropped(f *FileDescription, refs int64)
}

// Refs returns the number of references (a snapshot).
func (f *FileDescription) Refs() int64 { return f.refs.Load() }

// DecRef drops a reference, releasing the file with the last one.
func (f *FileDescription) DecRef() {
	n := f.refs.Add(-1)
	if n > 0 {
		if w, ok := f.impl.(RefWatcher); ok {
			w.RefDropped(f, n)
		}
		return
	}
	if n == 0 {
		f.relMu.Lock()
		hooks := f.onRelease
		f.onRelease, f.released = nil, true
		f.relMu.Unlock()
		for _, fn := range hooks {
			fn()
		}
		f.releaseOFDLocks()
		if Watched() && f.accMode&unix.O_PATH == 0 {
			if f.writable() {
				NotifyFile(f, InCloseWrite)
			} else {
				NotifyFile(f, InCloseNowrite)
			}
		}
		f.impl.Release()
	}
}

// Impl returns the filesystem's implementation.
func (f *FileDescription) Impl() FileImpl { return f.impl }

// Path returns where the file was opened (zero for anonymous files).
func (f *FileDescription) Path() Path { return f.path }

// Flags returns the access mode and status flags (F_GETFL).
func (f *FileDescription) Flags() uint32 { return f.flags.Load() }

// SetFlags replaces the changeable status flags (F_SETFL); others are
// ignored as Linux ignores them.
func (f *FileDescription) SetFlags(flags uint32) {
	for {
		old := f.flags.Load()
		if f.flags.CompareAndSwap(old, old&^statusFlags|flags&statusFlags) {
			return
		}
	}
}

// readable and writable are false for O_PATH descriptions, whose access mode
// bits read as O_RDONLY but which allow no I/O (EBADF, as in Linux).
func (f *FileDescription) readable() bool {
	acc := f.accMode & unix.O_ACCMODE
	return f.accMode&unix.O_PATH == 0 && (acc == unix.O_RDONLY || acc == unix.O_RDWR)
}

func (f *FileDescription) writable() bool {
	acc := f.accMode & unix.O_ACCMODE
	return f.accMode&unix.O_PATH == 0 && (acc == unix.O_WRONLY || acc == unix.O_RDWR)
}

// Readable reports whether the description was opened for reading.
func (f *FileDescription) Readable() bool { return f.readable() }

// Writable reports whether the description was opened for writing.
func (f *FileDescription) Writable() bool { return f.writable() }

// IsStream reports whether the file has no position (pipes, terminals):
// pread, pwrite and lseek fail with ESPIPE.
func (f *FileDescription) IsStream() bool { return f.isStream() }

// ownsPosition reports whether the implementation keeps the file position
// itself (a host fd shared with moat's own process): reads and writes at
// the current position pass offset -1, and lseek goes to its Seeker.
func (f *FileDescription) ownsPosition() bool {
	p, ok := f.impl.(PositionOwner)
	return ok && p.OwnsPosition()
}

func (f *FileDescription) isStream() bool {
	s, ok := f.impl.(Stream)
	return ok && s.IsStream()
}

func (f *FileDescription) isDir(ctx Context) bool {
	if f.path.Dentry == nil {
		return false
	}
	st, err := f.path.Inode().Stat(ctx)
	return err == nil && st.IsDir()
}

// Stat returns the attributes of the file's inode.
func (f *FileDescription) Stat(ctx Context) (Stat, error) {
	if st, ok := f.impl.(interface{ Stat(Context) (Stat, error) }); ok {
		return st.Stat(ctx)
	}
	if f.path.Dentry == nil {
		return Stat{}, unix.EBADF
	}
	return f.path.Inode().Stat(ctx)
}

// Read reads at the file offset (pread when off >= 0).
func (f *FileDescription) Read(ctx Context, dst []byte, off int64) (int, error) {
	n, err := f.read(ctx, dst, off)
	if n > 0 && Watched() {
		NotifyFile(f, InAccess)
	}
	return n, err
}

func (f *FileDescription) read(ctx Context, dst []byte, off int64) (int, error) {
	if !f.readable() {
		return 0, unix.EBADF
	}
	if f.isDir(ctx) {
		return 0, unix.EISDIR
	}
	if f.isStream() {
		if off >= 0 {
			return 0, unix.ESPIPE
		}
		return f.impl.Read(ctx, dst, 0)
	}
	if off >= 0 || f.ownsPosition() {
		return f.impl.Read(ctx, dst, off)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.impl.Read(ctx, dst, f.off)
	f.off += int64(n)
	return n, err
}

// Write writes at the file offset (pwrite when off >= 0), honouring
// O_APPEND.
func (f *FileDescription) Write(ctx Context, src []byte, off int64) (int, error) {
	return f.WriteAppend(ctx, src, off, AppendByFlags)
}

// Append modes of one write (pwritev2's RWF_APPEND and RWF_NOAPPEND).
const (
	AppendByFlags = iota // as O_APPEND says
	AppendAlways         // at the end of the file, whatever the offset
	AppendNever          // at the offset, even with O_APPEND
)

// WriteAppend is Write with the append mode of this one write.
func (f *FileDescription) WriteAppend(ctx Context, src []byte, off int64, mode int) (int, error) {
	n, err := f.write(ctx, src, off, mode)
	if n > 0 && Watched() {
		NotifyFile(f, InModify)
	}
	return n, err
}

func (f *FileDescription) write(ctx Context, src []byte, off int64, mode int) (int, error) {
	if !f.writable() {
		return 0, unix.EBADF
	}
	if f.isStream() {
		if off >= 0 {
			return 0, unix.ESPIPE
		}
		return f.impl.Write(ctx, src, 0)
	}
	appending := mode == AppendAlways || mode == AppendByFlags && f.flags.Load()&unix.O_APPEND != 0
	if f.ownsPosition() {
		return f.impl.Write(ctx, src, off)
	}
	if off >= 0 && !appending {
		src, err := f.limitWrite(ctx, src, off)
		if err != nil {
			return 0, err
		}
		return f.impl.Write(ctx, src, off)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pos := f.off
	if appending { // pwrite on an O_APPEND file appends too, as on Linux
		st, err := f.Stat(ctx)
		if err != nil {
			return 0, err
		}
		pos = st.Size
	}
	src, err := f.limitWrite(ctx, src, pos)
	if err != nil {
		return 0, err
	}
	n, err := f.impl.Write(ctx, src, pos)
	if off < 0 { // pwrite leaves the file offset alone
		f.off = pos + int64(n)
	}
	return n, err
}

// FileSizeLimiter is implemented by Contexts that have a limit on the size
// of the files they write (RLIMIT_FSIZE): ^uint64(0) for none.
type FileSizeLimiter interface {
	FileSizeLimit() uint64
}

// limitWrite applies ctx's file size limit to a write of src at pos of a
// regular file, as Linux's generic_write_checks: a write starting at or
// beyond the limit fails with EFBIG (the caller sends SIGXFSZ), one
// crossing it is cut short at the limit; an empty write always succeeds.
func (f *FileDescription) limitWrite(ctx Context, src []byte, pos int64) ([]byte, error) {
	l, ok := ctx.(FileSizeLimiter)
	if !ok || len(src) == 0 || pos < 0 {
		return src, nil
	}
	limit := l.FileSizeLimit()
	if limit == ^uint64(0) || uint64(pos)+uint64(len(src)) <= limit {
		return src, nil
	}
	if st, err := f.Stat(ctx); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return src, nil
	}
	if uint64(pos) >= limit {
		return nil, unix.EFBIG
	}
	return src[:limit-uint64(pos)], nil
}

// maxOffset is the largest file offset Linux allows on a regular file
// (MAX_LFS_FILESIZE).
const maxOffset = 1<<63 - 1

// Seek implements lseek(2).
func (f *FileDescription) Seek(ctx Context, off int64, whence int) (int64, error) {
	if f.Flags()&unix.O_PATH != 0 {
		return 0, unix.EBADF
	}
	if _, ok := f.impl.(NoopSeeker); ok {
		return 0, nil // never moved: a stream's position stays 0
	}
	if f.isStream() {
		return 0, unix.ESPIPE
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.impl.(Seeker); ok {
		n, err := s.Seek(ctx, f.off, off, whence)
		if err == nil {
			f.off = n
		}
		return n, err
	}
	var base int64
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		base = f.off
	case unix.SEEK_END:
		st, err := f.Stat(ctx)
		if err != nil {
			return 0, err
		}
		base = st.Size
	case unix.SEEK_DATA, unix.SEEK_HOLE:
		st, err := f.Stat(ctx)
		if err != nil {
			return 0, err
		}
		if off < 0 || off >= st.Size {
			return 0, unix.ENXIO
		}
		if whence == unix.SEEK_HOLE {
			off = st.Size
		}
	default:
		return 0, unix.EINVAL
	}
	if off > 0 && base > maxOffset-off {
		return 0, unix.EOVERFLOW
	}
	n := base + off
	if n < 0 {
		return 0, unix.EINVAL
	}
	f.off = n
	if f.dirents != nil {
		// A directory's offset counts entries (telldir/seekdir cookies
		// are the d_off values getdents reports).
		if n == 0 {
			f.dirents, f.dirPos = nil, 0 // rewinddir sees new entries
		} else {
			f.dirPos = int(min(n, int64(len(f.dirents))))
		}
	}
	return n, nil
}

// ReadDir returns directory entries starting at the description's position,
// calling emit for each until it returns false (the caller's buffer is
// full), then deliver; the position advances past every entry emit accepted
// only if deliver succeeds. "." and ".." come first.
func (f *FileDescription) ReadDir(ctx Context, ns *MountNamespace, root Path, emit func(Dirent) bool, deliver func() error) error {
	if f.Flags()&unix.O_PATH != 0 {
		return unix.EBADF
	}
	if f.path.Dentry == nil {
		return unix.ENOTDIR
	}
	st, err := f.path.Inode().Stat(ctx)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return unix.ENOTDIR
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dirents == nil || f.off == 0 && f.dirPos == 0 {
		ents, err := f.path.Inode().ReadDir(ctx)
		if err != nil {
			return err
		}
		r := &Resolver{NS: ns, Root: root}
		parent, _ := r.dotdot(f.path) // no restrictions: never fails
		pst, err := parent.Inode().Stat(ctx)
		if err != nil {
			return err
		}
		f.dirents = append([]Dirent{
			{Name: ".", Ino: st.Ino, Type: unix.DT_DIR},
			{Name: "..", Ino: pst.Ino, Type: unix.DT_DIR},
		}, ents...)
		f.dirPos = 0
	}
	pos := f.dirPos
	for pos < len(f.dirents) && emit(f.dirents[pos]) {
		pos++
	}
	if err := deliver(); err != nil {
		return err
	}
	f.dirPos = pos
	f.off = int64(pos)
	return nil
}
