// Package vfs is moat's virtual filesystem layer: the interfaces that
// filesystem implementations (fs/...) provide, mounts and the mount
// namespace, path resolution, open file descriptions and the fd table.
//
// vfs never touches the host directly; filesystems do. Every error returned
// from this package or from a filesystem is a unix.Errno that Linux would
// return for the same operation.
//
// Lock order (outermost first): the mount tree lock (mountMu), FDTable.mu,
// FileDescription.mu. Filesystems may hold their own locks under these but
// must never call back into vfs while holding them.
package vfs

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"golang.org/x/sys/unix"

	"moat/park"
)

// Limits shared by every filesystem.
const (
	// NameMax is the longest path component (NAME_MAX).
	NameMax = 255
	// PathMax is the longest path including the terminating NUL (PATH_MAX).
	PathMax = 4096
	// SymlinkMax is the number of symlinks one resolution may follow before
	// ELOOP (Linux's MAXSYMLINKS).
	SymlinkMax = 40
)

// Context is what a filesystem may know about the caller: its credentials
// and, through type assertion to filesystem-specific interfaces (for example
// the process view /proc needs), anything else the kernel chooses to expose.
type Context interface {
	// UID and GID are the caller's filesystem user and group ids.
	UID() uint32
	GID() uint32
}

// CapContext is a Context that knows the caller's capabilities.
type CapContext interface {
	Context
	// HasCapability reports whether cap (a CAP_* number) is in the
	// caller's effective set.
	HasCapability(cap int) bool
}

// Capable reports whether the caller ctx has capability cap. A nil ctx is
// the sentry itself, which may do anything; a Context that does not know
// capabilities has them all when its filesystem uid is 0.
func Capable(ctx Context, cap int) bool {
	switch c := ctx.(type) {
	case nil:
		return true
	case CapContext:
		return c.HasCapability(cap)
	default:
		return ctx.UID() == 0
	}
}

// Timespec is a time with nanosecond precision, as Linux stores it.
type Timespec struct {
	Sec  int64
	Nsec int64
}

// Stat is the attribute set of an inode: the union of what stat(2) and
// statx(2) report.
type Stat struct {
	Dev     uint64 // device of the filesystem holding the inode
	Ino     uint64
	Mode    uint32 // file type bits (unix.S_IF*) and permission bits
	Nlink   uint32
	UID     uint32
	GID     uint32
	Rdev    uint64 // device number for character and block devices
	Size    int64
	Blksize int32
	Blocks  int64 // 512-byte blocks allocated
	Atime   Timespec
	Mtime   Timespec
	Ctime   Timespec
	Btime   Timespec
}

// IsDir reports whether the mode is a directory.
func (s *Stat) IsDir() bool { return s.Mode&unix.S_IFMT == unix.S_IFDIR }

// IsSymlink reports whether the mode is a symbolic link.
func (s *Stat) IsSymlink() bool { return s.Mode&unix.S_IFMT == unix.S_IFLNK }

// Dirent is one directory entry as getdents64 reports it.
type Dirent struct {
	Name string
	Ino  uint64
	Type uint8 // unix.DT_*
}

// DirentType converts file type bits of a mode to a unix.DT_* value.
func DirentType(mode uint32) uint8 {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return unix.DT_REG
	case unix.S_IFDIR:
		return unix.DT_DIR
	case unix.S_IFLNK:
		return unix.DT_LNK
	case unix.S_IFCHR:
		return unix.DT_CHR
	case unix.S_IFBLK:
		return unix.DT_BLK
	case unix.S_IFIFO:
		return unix.DT_FIFO
	case unix.S_IFSOCK:
		return unix.DT_SOCK
	}
	return unix.DT_UNKNOWN
}

// Inode is one file object of a filesystem. The vfs layer resolves paths by
// calling Lookup component by component, so a filesystem never sees a whole
// path and never has to handle "..", symlinks or mount crossings itself.
//
// Directory operations are called only on inodes whose Stat says they are
// directories; a filesystem that cannot perform an operation returns the
// errno Linux would (EROFS, EPERM, EOPNOTSUPP, ...).
type Inode interface {
	// Stat returns the inode's current attributes.
	Stat(ctx Context) (Stat, error)

	// Lookup finds the child called name ("." and ".." are never passed).
	// It returns ENOENT if there is none.
	Lookup(ctx Context, name string) (Inode, error)

	// Open returns the implementation of an open file description for this
	// inode. flags are the open(2) flags after vfs has handled O_CREAT,
	// O_EXCL, O_NOFOLLOW, O_DIRECTORY and the access checks; O_TRUNC is
	// the filesystem's to apply.
	Open(ctx Context, flags uint32) (FileImpl, error)

	// Readlink returns a symlink's target; EINVAL for other inodes.
	Readlink(ctx Context) (string, error)

	// ReadDir lists the directory's entries, excluding "." and "..".
	ReadDir(ctx Context) ([]Dirent, error)

	// Create makes a new regular file called name (EEXIST if it exists).
	Create(ctx Context, name string, mode uint32) (Inode, error)
	// Mkdir makes a directory called name.
	Mkdir(ctx Context, name string, mode uint32) error
	// Symlink makes a symbolic link called name pointing at target.
	Symlink(ctx Context, name, target string) error
	// Unlink removes a non-directory entry (EISDIR for a directory).
	Unlink(ctx Context, name string) error
	// Rmdir removes an empty directory entry (ENOTEMPTY, ENOTDIR).
	Rmdir(ctx Context, name string) error
	// Rename moves the entry oldName of this directory to newName in
	// newDir, which is an inode of the same filesystem (vfs returns EXDEV
	// otherwise). flags are renameat2 flags.
	Rename(ctx Context, oldName string, newDir Inode, newName string, flags uint32) error
}

// FileImpl is the filesystem's side of an open file description.
// Offsets are owned by vfs.FileDescription; the filesystem sees positional
// I/O only. Stream files (pipes, terminals, character devices without
// positions) implement Stream and ignore off.
type FileImpl interface {
	// Read reads into dst from off. It returns 0, nil at end of file.
	Read(ctx Context, dst []byte, off int64) (int, error)
	// Write writes src at off (for O_APPEND, vfs passes the current size).
	Write(ctx Context, src []byte, off int64) (int, error)
	// Release is called once when the last reference to the open file
	// description is dropped.
	Release()
}

// Stream is implemented by FileImpls without a file position: lseek and
// pread/pwrite on them fail with ESPIPE.
type Stream interface {
	IsStream() bool
}

// Ioctler is implemented by FileImpls that support ioctl(2) requests beyond
// the generic ones. Filesystems return ENOTTY for requests they don't know.
type Ioctler interface {
	Ioctl(ctx Context, req uint32, arg uintptr, mem IOMemory) (uintptr, error)
}

// IOMemory lets an ioctl implementation copy its argument in and out of the
// caller's memory.
type IOMemory interface {
	CopyIn(addr uintptr, dst []byte) (int, error)
	CopyOut(addr uintptr, src []byte) (int, error)
}

// PositionOwner is implemented by FileImpls that keep the file position
// themselves (see FileDescription.ownsPosition); they must implement
// Seeker too.
type PositionOwner interface {
	OwnsPosition() bool
}

// Seeker is implemented by FileImpls whose lseek(2) differs from the
// generic rules (devices that always return 0, generated files that reject
// SEEK_END). cur is the current offset; the result becomes the new one.
type Seeker interface {
	Seek(ctx Context, cur, off int64, whence int) (int64, error)
}

// Sink is implemented by FileImpls that discard everything written without
// reading it (/dev/null), so a write succeeds whatever the buffer holds.
type Sink interface {
	DiscardsWrites() bool
}

// CheckName validates a single path component as a filesystem receives
// it. vfs never passes invalid ones; filesystems check anyway so that a
// buggy or hostile caller cannot corrupt their trees.
func CheckName(name string) error {
	switch {
	case name == "":
		return unix.ENOENT
	case len(name) > NameMax:
		return unix.ENAMETOOLONG
	case name == "." || name == "..":
		return unix.EINVAL
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == 0 {
			return unix.EINVAL
		}
	}
	return nil
}

// CheckRmdirName is CheckName for the last component of rmdir(2), which
// Linux refuses with errnos of its own: "." with EINVAL and ".." with
// ENOTEMPTY.
func CheckRmdirName(name string) error {
	switch name {
	case ".":
		return unix.EINVAL
	case "..":
		return unix.ENOTEMPTY
	}
	return CheckName(name)
}

// CheckUnlinkName is CheckName for the last component of unlink(2), which
// refuses "." and ".." with EISDIR.
func CheckUnlinkName(name string) error {
	if name == "." || name == ".." {
		return unix.EISDIR
	}
	return CheckName(name)
}

// RenameOperands describes a rename's source and destination for
// CheckRename.
type RenameOperands struct {
	Exchange  bool // RENAME_EXCHANGE
	NoReplace bool // RENAME_NOREPLACE
	SrcDir    bool
	DstExists bool
	DstDir    bool
	// SrcHoldsNewParent: the source directory is the new parent or one of
	// its ancestors (renaming a directory into itself).
	SrcHoldsNewParent bool
	// DstHoldsOldParent: the destination directory is the old parent or
	// one of its ancestors.
	DstHoldsOldParent bool
	// Same: source and destination are the same inode.
	Same bool
}

// CheckRename applies renameat2(2)'s checks that depend only on the kinds
// and places of the operands, in Linux's order: an existing destination
// under RENAME_NOREPLACE (EEXIST), a missing one under RENAME_EXCHANGE
// (ENOENT), a directory moved into itself (EINVAL), a destination that
// contains the source's parent (ENOTEMPTY, or EINVAL when exchanging),
// then the kinds: a directory may only replace a directory and a
// non-directory only a non-directory, unless exchanging. noop reports a
// rename onto another link of the same inode, which succeeds and changes
// nothing; the kind checks do not apply to it.
func CheckRename(o RenameOperands) (noop bool, err error) {
	switch {
	case o.NoReplace && o.DstExists:
		return false, unix.EEXIST
	case o.Exchange && !o.DstExists:
		return false, unix.ENOENT
	case o.SrcDir && o.SrcHoldsNewParent:
		return false, unix.EINVAL
	case o.DstDir && o.DstHoldsOldParent && o.Exchange:
		return false, unix.EINVAL
	case o.DstDir && o.DstHoldsOldParent:
		return false, unix.ENOTEMPTY
	case o.Same:
		return true, nil
	case o.Exchange || !o.DstExists:
		return false, nil
	case o.SrcDir && !o.DstDir:
		return false, unix.ENOTDIR
	case !o.SrcDir && o.DstDir:
		return false, unix.EISDIR
	}
	return false, nil
}

// NotDir provides the directory operations of an inode that is not a
// directory, each failing with ENOTDIR; leaf inodes embed it.
type NotDir struct{}

// Lookup implements Inode.
func (NotDir) Lookup(ctx Context, name string) (Inode, error) { return nil, unix.ENOTDIR }

// ReadDir implements Inode.
func (NotDir) ReadDir(ctx Context) ([]Dirent, error) { return nil, unix.ENOTDIR }

// Create implements Inode.
func (NotDir) Create(ctx Context, name string, mode uint32) (Inode, error) {
	return nil, unix.ENOTDIR
}

// Mkdir implements Inode.
func (NotDir) Mkdir(ctx Context, name string, mode uint32) error { return unix.ENOTDIR }

// Symlink implements Inode.
func (NotDir) Symlink(ctx Context, name, target string) error { return unix.ENOTDIR }

// Unlink implements Inode.
func (NotDir) Unlink(ctx Context, name string) error { return unix.ENOTDIR }

// Rmdir implements Inode.
func (NotDir) Rmdir(ctx Context, name string) error { return unix.ENOTDIR }

// Rename implements Inode.
func (NotDir) Rename(ctx Context, oldName string, newDir Inode, newName string, flags uint32) error {
	return unix.ENOTDIR
}

// Blocker is implemented by the Context of callers whose blocking can be
// interrupted (a task: by signals). Block waits until ready is closed, or
// returns the error the blocking operation must return instead.
type Blocker interface {
	Block(ready <-chan struct{}) error
}

// ParkBlocker is implemented by the Context of callers that can wait
// parked (package park): BlockParked waits as Blocker's Block does, with
// a deadline (zero: none), for a ready channel whose closer unparks
// Parker after closing it. Changes waits so.
type ParkBlocker interface {
	Parker() *park.Parker
	BlockParked(ready <-chan struct{}, deadline time.Time) error
}

// Wait blocks ctx until ready is closed, interruptibly if ctx allows.
func Wait(ctx Context, ready <-chan struct{}) error {
	if b, ok := ctx.(Blocker); ok {
		return b.Block(ready)
	}
	<-ready
	return nil
}

// Poll events (poll(2)).
const (
	PollIn     = 0x1
	PollPri    = 0x2
	PollOut    = 0x4
	PollErr    = 0x8
	PollHup    = 0x10
	PollNval   = 0x20
	PollRdNorm = 0x40
	PollWrNorm = 0x100

	// DefaultPollMask is the readiness of files that never block.
	DefaultPollMask = PollIn | PollOut | PollRdNorm | PollWrNorm
)

// Poller is implemented by FileImpls whose readiness changes (pipes, host
// fds). Files without it are always ready for reading and writing.
type Poller interface {
	// Readiness returns the events that are ready now.
	Readiness() uint32
	// Changed returns a channel closed at the next change of readiness,
	// or nil if the file cannot tell (the caller then polls
	// periodically).
	Changed() <-chan struct{}
}

// Readiness returns the ready events of an open file.
func (f *FileDescription) Readiness() uint32 {
	if p, ok := f.impl.(Poller); ok {
		return p.Readiness()
	}
	return DefaultPollMask
}

// Changed returns the file's readiness-change channel (see Poller).
func (f *FileDescription) Changed() <-chan struct{} {
	if p, ok := f.impl.(Poller); ok {
		return p.Changed()
	}
	return nil
}

// TmpFiler is implemented by directories that can make files with no
// name (open O_TMPFILE): TmpFile returns the new inode and the open file.
// With linkable, a later linkat(AT_EMPTY_PATH) may give it a name.
type TmpFiler interface {
	TmpFile(ctx Context, mode uint32, linkable bool) (Inode, FileImpl, error)
}

// EdgePoller is implemented by pollers that can tell which readiness a
// change may raise, for edge-triggered epoll: ChangedFor returns a channel
// closed at the next change that may raise one of events (new data for
// PollIn, new room for PollOut, a hang-up or error for either), so that
// consuming data does not count as an edge for readers.
type EdgePoller interface {
	ChangedFor(events uint32) <-chan struct{}
}

// ParkPoller is implemented by Pollers whose change channel can also
// unpark a waiter (vfs.Changes.ChanParked): ChangedParked is Changed, and
// has the change that closes the channel unpark p.
type ParkPoller interface {
	ChangedParked(p *park.Parker) <-chan struct{}
}

// EdgeParkPoller is the same for EdgePoller's ChangedFor.
type EdgeParkPoller interface {
	ChangedForParked(events uint32, p *park.Parker) <-chan struct{}
}

// ChangedParked is Changed, with p unparked by the change too if the file
// can do that (parked is false if not: then only the channel tells).
func (f *FileDescription) ChangedParked(p *park.Parker) (ch <-chan struct{}, parked bool) {
	if pp, ok := f.impl.(ParkPoller); ok {
		return pp.ChangedParked(p), true
	}
	return f.Changed(), false
}

// ChangedForParked is ChangedFor as ChangedParked is Changed.
func (f *FileDescription) ChangedForParked(events uint32, p *park.Parker) (ch <-chan struct{}, parked bool) {
	if pp, ok := f.impl.(EdgeParkPoller); ok {
		return pp.ChangedForParked(events, p), true
	}
	if _, ok := f.impl.(EdgePoller); ok {
		return f.ChangedFor(events), false
	}
	return f.ChangedParked(p)
}

// ChangedFor returns the channel for changes that may raise events: the
// file's EdgePoller channel, or Changed's.
func (f *FileDescription) ChangedFor(events uint32) <-chan struct{} {
	if p, ok := f.impl.(EdgePoller); ok {
		return p.ChangedFor(events)
	}
	return f.Changed()
}

// AttrSetter is implemented by inodes whose attributes can change:
// SetStat changes those selected by mask (unix.STATX_MODE, STATX_UID,
// STATX_GID, STATX_SIZE, STATX_ATIME, STATX_MTIME) to st's (chmod, chown,
// truncate, utimensat). Permission checks are the caller's.
type AttrSetter interface {
	SetStat(ctx Context, mask uint32, st Stat) error
}

// Linker is implemented by directories that can hold hard links: Link
// adds name for target (an inode of the same filesystem).
type Linker interface {
	Link(ctx Context, name string, target Inode) error
}

// Truncater is implemented by FileImpls that can change their file's size
// (ftruncate).
type Truncater interface {
	Truncate(size int64) error
}

// Allocator is implemented by FileImpls of regular files that support
// fallocate(2): Allocate applies mode (0, FALLOC_FL_KEEP_SIZE,
// FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE or FALLOC_FL_ZERO_RANGE, with
// or without KEEP_SIZE) to [off, off+n); the caller has checked the
// access mode, the file type and the range.
type Allocator interface {
	Allocate(mode uint32, off, n int64) error
}

// DirFile is the FileImpl of an open directory: vfs lists directories
// through Inode.ReadDir, so there is nothing to read or write here.
type DirFile struct{ Dir Inode }

// Read implements FileImpl.
func (DirFile) Read(Context, []byte, int64) (int, error) { return 0, unix.EISDIR }

// Write implements FileImpl.
func (DirFile) Write(Context, []byte, int64) (int, error) { return 0, unix.EBADF }

// Release implements FileImpl.
func (DirFile) Release() {}

// PathFile is the FileImpl of an O_PATH description: it names a file and
// allows no I/O.
type PathFile struct{}

// Read implements FileImpl.
func (PathFile) Read(Context, []byte, int64) (int, error) { return 0, unix.EBADF }

// Write implements FileImpl.
func (PathFile) Write(Context, []byte, int64) (int, error) { return 0, unix.EBADF }

// Release implements FileImpl.
func (PathFile) Release() {}

// DeviceServer is implemented by the device inodes moat serves itself
// (/dev's, devpts'): they open as what they are. Device nodes that mknod
// made elsewhere carry only a number, and open by it (syscalls'
// openSpecial).
type DeviceServer interface {
	ServesDevice()
}

// socketIno numbers sockets of every family, as sockfs does on Linux.
var socketIno atomic.Uint64

// NewSocketIno returns a new socket's inode number (fstat's st_ino,
// "socket:[N]" in /proc/PID/fd, /proc/net's inode column).
func NewSocketIno() uint64 { return socketIno.Add(1) }

// Changes tells waiters that an object (a pipe, a socket, a counter)
// changed: Chan returns a channel that the next Notify closes, and the
// parkers that WaitLocked and ChanParked registered are unparked then too.
// The owner guards it with its own lock.
type Changes struct {
	ch     chan struct{}
	parked []*park.Parker // WaitLocked's waiters, which remove themselves
	// watchers are ChanParked's: pollers that wait on several objects
	// and so cannot remove themselves from each. Held weakly, so that a
	// task that never comes back is not kept alive by an object that
	// never changes; dead ones go at the next registration.
	watchers []weak.Pointer[park.Parker]
}

// Chan returns the channel closed at the next change.
//
// Preconditions: the owner's lock is held.
func (c *Changes) Chan() <-chan struct{} {
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// ChanParked returns Chan, and has the next Notify unpark p too (if p is
// not nil).
//
// Preconditions: the owner's lock is held.
func (c *Changes) ChanParked(p *park.Parker) <-chan struct{} {
	if p == nil {
		return c.Chan()
	}
	w := weak.Make(p)
	if !slices.Contains(c.watchers, w) {
		c.watchers = slices.DeleteFunc(c.watchers, func(w weak.Pointer[park.Parker]) bool { return w.Value() == nil })
		c.watchers = append(c.watchers, w)
	}
	return c.Chan()
}

// Notify wakes everyone waiting for a change.
//
// Preconditions: the owner's lock is held.
func (c *Changes) Notify() { c.change(func(p *park.Parker) { p.Unpark() }) }

// NotifyLater is Notify for an owner that has more to change before it
// releases its lock: the waiters that wait parked (WaitLocked,
// ChanParked) are woken only by the function it returns, which the
// caller calls once it has released the lock, so that a woken waiter
// does not at once wait again, for that lock (two wakes instead of one).
//
// Preconditions: the owner's lock is held.
func (c *Changes) NotifyLater() (unpark func()) {
	var ps []*park.Parker
	c.change(func(p *park.Parker) { ps = append(ps, p) })
	return func() {
		for _, p := range ps {
			p.Unpark()
		}
	}
}

// change closes the channel of the waiters that wait on it and hands
// each parked waiter (WaitLocked's, ChanParked's) to wake, forgetting
// them all. wake does not escape: Notify, on every pipe write and the
// like, allocates nothing.
//
// Preconditions: the owner's lock is held.
func (c *Changes) change(wake func(*park.Parker)) {
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
	for _, p := range c.parked {
		wake(p)
	}
	clear(c.parked)
	c.parked = c.parked[:0]
	for _, w := range c.watchers {
		if p := w.Value(); p != nil {
			wake(p)
		}
	}
	clear(c.watchers)
	c.watchers = c.watchers[:0]
}

// WaitLocked waits for the next change, interruptibly as ctx allows
// (Wait), with the owner's lock mu released meanwhile.
//
// Preconditions: mu is held; it is held again on return.
func (c *Changes) WaitLocked(ctx Context, mu *sync.Mutex) error {
	ch := c.Chan()
	pb, ok := ctx.(ParkBlocker)
	if !ok {
		mu.Unlock()
		defer mu.Lock()
		return Wait(ctx, ch)
	}
	p := pb.Parker()
	c.parked = append(c.parked, p)
	mu.Unlock()
	err := pb.BlockParked(ch, time.Time{})
	mu.Lock()
	if c.ch == ch { // no Notify meanwhile: the registration is still there
		if i := slices.Index(c.parked, p); i >= 0 {
			c.parked = slices.Delete(c.parked, i, i+1)
		}
	}
	return err
}

// WaitUntilLocked waits for changes, as WaitLocked, until ready reports
// true; I/O that must not block (Nonblocking) fails with EAGAIN instead of
// waiting. ready is called with mu held.
//
// Preconditions: mu is held; it is held again on return.
func (c *Changes) WaitUntilLocked(ctx Context, mu *sync.Mutex, ready func() bool) error {
	for !ready() {
		if Nonblocking(ctx) {
			return unix.EAGAIN
		}
		if err := c.WaitLocked(ctx, mu); err != nil {
			return err
		}
	}
	return nil
}

// NonblockingContext is implemented by the Context of I/O on a
// description with O_NONBLOCK set.
type NonblockingContext interface{ NonblockingIO() bool }

// Nonblocking reports whether I/O with ctx must not block (EAGAIN).
func Nonblocking(ctx Context) bool {
	nb, ok := ctx.(NonblockingContext)
	return ok && nb.NonblockingIO()
}
