// Package memfs is an in-memory filesystem: the sandbox's tmpfs and the
// writable upper layer of the root overlay (fs/overlay).
//
// It holds directories, regular files, symbolic links and the special files
// mknod(2) makes (FIFOs, sockets, device nodes) with Linux tmpfs
// semantics; opening a special file is the caller's (syscalls), except
// that Open answers ENXIO for one. File data lives in a sparse map of PageSize pages, so a write at
// a huge offset costs one page. Every filesystem has bounds set at creation
// (Options): the bytes of file data (and symlink targets) it may hold and the
// number of inodes; going past either is ENOSPC, as on a full tmpfs.
//
// Whiteouts: for the overlay, a directory entry may be a whiteout (what
// Linux overlayfs stores as a 0/0 character device). Whiteouts are invisible
// through the vfs.Inode interface: Lookup does not find them, ReadDir skips
// them, Create/Mkdir/Symlink/Link/Rename replace them as if the name were
// free, and a directory holding only whiteouts counts as empty. Only the
// overlay-support API (Child, Entries, Whiteout, ...) sees them. A tmpfs
// never contains any.
//
// Permission checks (write and search permission on directories, the sticky
// bit, ownership for chmod/chown/utimes) are the caller's: memfs performs
// the operation it is asked to perform.
//
// Locking: each FS has a single mutex, FS.mu, that guards every inode of
// that filesystem (directory entries, attributes, data, accounting). It is a
// leaf lock: memfs never calls out of the package while holding it, so
// callers may hold their own locks when calling in. Lock order (outermost
// first): vfs locks, overlay.FS.mu, mm's locks (a fault reads the file),
// memfs FS.mu. A truncation reaches the file's mappings (Inode.maps, an
// mm.Mappers) only after releasing FS.mu.
package memfs

import (
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"moat/memory"
	"moat/mm"
	"moat/platform"
	"moat/vfs"
)

// PageSize is the allocation unit of file data.
const PageSize = 4096

// maxFileSize is the largest file size (MAX_LFS_FILESIZE on 64-bit Linux).
const maxFileSize = 1<<63 - 1

// bogoDirentSize is what every entry adds to a directory's st_size, as in
// Linux tmpfs.
const bogoDirentSize = 20

// DefaultMaxBytes is the data limit used when Options.MaxBytes is 0.
const DefaultMaxBytes = 512 << 20

// Options configure a new filesystem.
type Options struct {
	// MaxBytes bounds the bytes of file data and symlink targets the
	// filesystem holds (rounded to pages for file data). 0 means
	// DefaultMaxBytes.
	MaxBytes int64
	// MaxInodes bounds the number of inodes (including the root and any
	// whiteouts). 0 means MaxBytes/PageSize, but at least 1024.
	MaxInodes int64
	// RootMode holds the permission bits of the root directory; 0 means
	// 01777 (the tmpfs default).
	RootMode uint32
	// MemFile, if set, holds the chunks of files that shared mappings use
	// (shm.go); without it MAP_SHARED writable mappings fail with ENODEV.
	MemFile *memory.File
	// RootUID and RootGID own the root directory.
	RootUID, RootGID uint32
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// FS is one memfs filesystem.
type FS struct {
	dev uint64
	now func() time.Time

	mf *memory.File // for shared mappings; may be nil

	mu        sync.Mutex
	maxBytes  int64
	maxInodes int64
	usedBytes int64 // guarded by mu
	inodes    int64 // guarded by mu
	nextIno   uint64
	root      *Inode
}

// New returns a filesystem whose inodes report st_dev dev.
func New(dev uint64, opts Options) *FS {
	fs := &FS{dev: dev, now: opts.Now, mf: opts.MemFile, maxBytes: opts.MaxBytes, maxInodes: opts.MaxInodes, nextIno: 1}
	if fs.now == nil {
		fs.now = time.Now
	}
	if fs.maxBytes <= 0 {
		fs.maxBytes = DefaultMaxBytes
	}
	if fs.maxInodes <= 0 {
		fs.maxInodes = fs.maxBytes / PageSize
		if fs.maxInodes < 1024 {
			fs.maxInodes = 1024
		}
	}
	mode := opts.RootMode & 07777
	if mode == 0 {
		mode = 01777
	}
	now := fs.timeNow()
	fs.root = fs.newInodeLocked(unix.S_IFDIR|mode, opts.RootUID, opts.RootGID, now)
	fs.root.nlink = 2
	fs.root.entries = make(map[string]*Inode)
	return fs
}

// Root returns the root directory.
func (fs *FS) Root() *Inode { return fs.root }

// Dev returns the filesystem's device number.
func (fs *FS) Dev() uint64 { return fs.dev }

// Usage reports the bytes and inodes in use and the limits (for statfs).
func (fs *FS) Usage() (usedBytes, maxBytes, inodes, maxInodes int64) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.usedBytes, fs.maxBytes, fs.inodes, fs.maxInodes
}

func (fs *FS) timeNow() vfs.Timespec {
	t := fs.now()
	return vfs.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// Preconditions: fs.mu is held (or fs is not yet shared). The caller
// checked the inode limit.
func (fs *FS) newInodeLocked(mode, uid, gid uint32, now vfs.Timespec) *Inode {
	in := &Inode{fs: fs, ino: fs.nextIno, ftype: mode & unix.S_IFMT, mode: mode, uid: uid, gid: gid,
		atime: now, mtime: now, ctime: now, btime: now}
	fs.nextIno++
	fs.inodes++
	return in
}

// Inode is a memfs file, directory, symlink or whiteout. It implements
// vfs.Inode.
type Inode struct {
	fs    *FS
	ino   uint64
	ftype uint32 // file type bits; never changes

	// All fields below are guarded by fs.mu.
	mode                       uint32
	uid, gid                   uint32
	nlink                      uint32
	atime, mtime, ctime, btime vfs.Timespec
	originDev, originIno       uint64
	hasOrigin                  bool
	whiteout                   bool
	freed                      bool // accounting released; the inode is gone

	// Regular files: data in heap pages, or for chunks that shared
	// mappings use, in the memory file (shm.go).
	size  int64
	pages map[int64]*page
	shm   map[int64]platform.FileRange // by chunk index
	seals uint32                       // memfd seals (memfd.go)
	// maps are the address spaces that map the file, whose pages past
	// the end a truncation takes away. It has its own lock, taken
	// without fs.mu.
	maps mm.Mappers

	xattrs   map[string][]byte // extended attributes (xattr.go)
	linkable bool              // an O_TMPFILE file that linkat may name
	refs     int               // open files and holds; data lives while nlink > 0 or refs > 0

	// Directories.
	entries map[string]*Inode // including whiteouts
	nwo     int               // whiteouts in entries
	parent  *Inode            // nil for the root and removed directories
	opaque  bool
	dead    bool // removed; nothing may be created in it

	// Symlinks.
	target string

	// Character and block devices (mknod.go): the device number.
	rdev uint64
}

var _ vfs.Inode = (*Inode)(nil)

func (in *Inode) typ() uint32 { return in.ftype }

// Type returns the file type bits (unix.S_IFREG, S_IFDIR, S_IFLNK; whiteouts
// are S_IFCHR); it implements vfs.FileTyper.
func (in *Inode) Type() uint32 { return in.ftype }

// IsDir reports whether the inode is a directory.
func (in *Inode) IsDir() bool { return in.typ() == unix.S_IFDIR }

// IsWhiteout reports whether the inode is an overlay whiteout.
func (in *Inode) IsWhiteout() bool { return in.whiteout }

// Ino returns the inode number.
func (in *Inode) Ino() uint64 { return in.ino }

// FS returns the filesystem the inode belongs to.
func (in *Inode) FS() *FS { return in.fs }

func creds(ctx vfs.Context) (uint32, uint32) {
	if ctx == nil {
		return 0, 0
	}
	return ctx.UID(), ctx.GID()
}

func tsLE(a, b vfs.Timespec) bool {
	return a.Sec < b.Sec || a.Sec == b.Sec && a.Nsec <= b.Nsec
}

// touchAtimeLocked updates atime with Linux's default relatime rule.
//
// Preconditions: fs.mu is held.
func (in *Inode) touchAtimeLocked() {
	now := in.fs.timeNow()
	if tsLE(in.atime, in.mtime) || tsLE(in.atime, in.ctime) || now.Sec-in.atime.Sec >= 24*60*60 {
		in.atime = now
	}
}

// Preconditions: fs.mu is held.
func (in *Inode) statLocked() vfs.Stat {
	st := vfs.Stat{
		Dev:     in.fs.dev,
		Ino:     in.ino,
		Mode:    in.mode,
		Nlink:   in.nlink,
		UID:     in.uid,
		GID:     in.gid,
		Blksize: PageSize,
		Atime:   in.atime,
		Mtime:   in.mtime,
		Ctime:   in.ctime,
		Btime:   in.btime,
	}
	switch in.typ() {
	case unix.S_IFREG:
		st.Size = in.size
		st.Blocks = int64(len(in.pages)) * (PageSize / 512)
	case unix.S_IFDIR:
		st.Size = int64(2+len(in.entries)-in.nwo) * bogoDirentSize
	case unix.S_IFLNK:
		st.Size = int64(len(in.target))
	case unix.S_IFCHR, unix.S_IFBLK:
		st.Rdev = in.rdev
	}
	return st
}

// Stat implements vfs.Inode.
func (in *Inode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	return in.statLocked(), nil
}

// Lookup implements vfs.Inode.
func (in *Inode) Lookup(ctx vfs.Context, name string) (vfs.Inode, error) {
	if err := vfs.CheckName(name); err != nil {
		return nil, err
	}
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	if !in.IsDir() {
		return nil, unix.ENOTDIR
	}
	c := in.entries[name]
	if c == nil || c.whiteout {
		return nil, unix.ENOENT
	}
	return c, nil
}

// Readlink implements vfs.Inode.
func (in *Inode) Readlink(ctx vfs.Context) (string, error) {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	if in.typ() != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	in.touchAtimeLocked()
	return in.target, nil
}

// ReadDir implements vfs.Inode. Entries come sorted by name.
func (in *Inode) ReadDir(ctx vfs.Context) ([]vfs.Dirent, error) {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	if !in.IsDir() {
		return nil, unix.ENOTDIR
	}
	out := make([]vfs.Dirent, 0, len(in.entries)-in.nwo)
	for name, c := range in.entries {
		if c.whiteout {
			continue
		}
		out = append(out, vfs.Dirent{Name: name, Ino: c.ino, Type: vfs.DirentType(c.mode)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	in.touchAtimeLocked()
	return out, nil
}

// createOpts are the knobs of createLocked beyond the vfs operations.
type createOpts struct {
	attr         *Attr // explicit attributes (copy-up)
	keepDirTimes bool  // leave the parent's mtime/ctime alone (copy-up)
	opaque       bool
	origin       *[2]uint64
	data         *Inode // a detached regular file to link instead of a new one
}

// Preconditions: fs.mu is held.
func (d *Inode) checkDirLocked() error {
	if !d.IsDir() {
		return unix.ENOTDIR
	}
	if d.dead {
		return unix.ENOENT
	}
	return nil
}

// createLocked makes a new entry name in d of file type and permission bits
// mode (target for symlinks).
//
// Preconditions: fs.mu is held; name passed checkName.
func (d *Inode) createLocked(ctx vfs.Context, name string, mode uint32, target string, o createOpts) (*Inode, error) {
	fs := d.fs
	if err := d.checkDirLocked(); err != nil {
		return nil, err
	}
	old := d.entries[name]
	if old != nil && !old.whiteout {
		return nil, unix.EEXIST
	}
	typ := mode & unix.S_IFMT
	if typ == unix.S_IFLNK {
		if target == "" {
			return nil, unix.ENOENT
		}
		if len(target) >= vfs.PathMax {
			return nil, unix.ENAMETOOLONG
		}
		if fs.usedBytes+int64(len(target)) > fs.maxBytes {
			return nil, unix.ENOSPC
		}
	}
	if o.data == nil && old == nil && fs.inodes >= fs.maxInodes {
		return nil, unix.ENOSPC
	}
	now := fs.timeNow()
	uid, gid := creds(ctx)
	perm := mode & 07777
	if typ == unix.S_IFDIR {
		perm &= 01777
	}
	if d.mode&unix.S_ISGID != 0 {
		gid = d.gid
		if typ == unix.S_IFDIR {
			perm |= unix.S_ISGID
		}
	}
	if o.attr != nil {
		uid, gid, perm = o.attr.UID, o.attr.GID, o.attr.Mode&07777
	}
	if old != nil { // replace a whiteout
		delete(d.entries, name)
		d.nwo--
		old.nlink = 0
		old.maybeFreeLocked()
	}
	var c *Inode
	if o.data != nil {
		c = o.data
		c.mode = typ | perm
		c.uid, c.gid = uid, gid
		c.ctime = now
	} else {
		c = fs.newInodeLocked(typ|perm, uid, gid, now)
	}
	switch typ {
	case unix.S_IFDIR:
		c.nlink = 2
		c.entries = make(map[string]*Inode)
		c.parent = d
		c.opaque = o.opaque
		d.nlink++
	case unix.S_IFLNK:
		c.nlink = 1
		c.target = target
		fs.usedBytes += int64(len(target))
	default:
		c.nlink = 1
	}
	if o.attr != nil {
		c.atime, c.mtime, c.ctime = o.attr.Atime, o.attr.Mtime, o.attr.Ctime
	}
	if o.origin != nil {
		c.originDev, c.originIno, c.hasOrigin = o.origin[0], o.origin[1], true
	}
	d.entries[name] = c
	if !o.keepDirTimes {
		d.mtime, d.ctime = now, now
	}
	return c, nil
}

// Create implements vfs.Inode.
func (d *Inode) Create(ctx vfs.Context, name string, mode uint32) (vfs.Inode, error) {
	if err := vfs.CheckName(name); err != nil {
		return nil, err
	}
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	c, err := d.createLocked(ctx, name, unix.S_IFREG|mode&07777, "", createOpts{})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Mkdir implements vfs.Inode.
func (d *Inode) Mkdir(ctx vfs.Context, name string, mode uint32) error {
	_, err := d.MkdirOpaque(ctx, name, mode, false)
	return err
}

// MkdirOpaque is Mkdir that returns the new directory and can mark it
// opaque (overlay support).
func (d *Inode) MkdirOpaque(ctx vfs.Context, name string, mode uint32, opaque bool) (*Inode, error) {
	if err := vfs.CheckName(name); err != nil {
		return nil, err
	}
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	return d.createLocked(ctx, name, unix.S_IFDIR|mode&07777, "", createOpts{opaque: opaque})
}

// Symlink implements vfs.Inode.
func (d *Inode) Symlink(ctx vfs.Context, name, target string) error {
	if err := vfs.CheckName(name); err != nil {
		return err
	}
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	_, err := d.createLocked(ctx, name, unix.S_IFLNK|0777, target, createOpts{})
	return err
}

// Link makes name in d a new hard link to target (link(2)). It is not part
// of vfs.Inode yet.
func (d *Inode) Link(ctx vfs.Context, name string, target vfs.Inode) error {
	t, ok := target.(*Inode)
	if !ok || t.fs != d.fs {
		return unix.EXDEV
	}
	if err := vfs.CheckName(name); err != nil {
		return err
	}
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	if err := d.checkDirLocked(); err != nil {
		return err
	}
	if t.IsDir() {
		return unix.EPERM
	}
	if t.nlink == 0 && !(t.linkable && !t.freed) || t.whiteout {
		return unix.ENOENT
	}
	if t.nlink >= 1<<31-1 {
		return unix.EMLINK
	}
	old := d.entries[name]
	if old != nil && !old.whiteout {
		return unix.EEXIST
	}
	if old != nil {
		delete(d.entries, name)
		d.nwo--
		old.nlink = 0
		old.maybeFreeLocked()
	}
	now := d.fs.timeNow()
	d.entries[name] = t
	t.nlink++
	t.ctime = now
	d.mtime, d.ctime = now, now
	return nil
}

// maybeFreeLocked releases the inode's data and its inode count once it has
// no links and no references.
//
// Preconditions: fs.mu is held.
func (in *Inode) maybeFreeLocked() {
	if in.nlink > 0 || in.refs > 0 || in.freed {
		return
	}
	in.freed = true
	in.fs.usedBytes -= int64(len(in.pages))*PageSize + int64(len(in.target)) + in.xattrBytesLocked()
	in.pages, in.xattrs = nil, nil
	in.freeShmLocked()
	in.fs.inodes--
}

// hasVisibleLocked reports whether directory d has an entry that is not
// a whiteout.
//
// Preconditions: fs.mu is held.
func (d *Inode) hasVisibleLocked() bool { return len(d.entries) > d.nwo }

// removeDirLocked detaches the empty (but for whiteouts) directory c from
// its parent d, which has already forgotten the entry.
//
// Preconditions: fs.mu is held.
func (d *Inode) removeDirLocked(c *Inode, now vfs.Timespec) {
	for name, w := range c.entries {
		delete(c.entries, name)
		w.nlink = 0
		w.maybeFreeLocked()
	}
	c.nwo = 0
	d.nlink--
	c.nlink = 0
	c.dead = true
	c.parent = nil
	c.ctime = now
	c.maybeFreeLocked()
}

// removeNonDirLocked drops one link of c, whose entry was removed from a
// directory.
//
// Preconditions: fs.mu is held.
func removeNonDirLocked(c *Inode, now vfs.Timespec) {
	if c.nlink > 0 {
		c.nlink--
	}
	c.ctime = now
	c.maybeFreeLocked()
}

// Unlink implements vfs.Inode.
func (d *Inode) Unlink(ctx vfs.Context, name string) error {
	if err := vfs.CheckUnlinkName(name); err != nil {
		return err
	}
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	if !d.IsDir() {
		return unix.ENOTDIR
	}
	c := d.entries[name]
	if c == nil || c.whiteout {
		return unix.ENOENT
	}
	if c.IsDir() {
		return unix.EISDIR
	}
	now := d.fs.timeNow()
	delete(d.entries, name)
	removeNonDirLocked(c, now)
	d.mtime, d.ctime = now, now
	return nil
}

// Rmdir implements vfs.Inode.
func (d *Inode) Rmdir(ctx vfs.Context, name string) error {
	if err := vfs.CheckRmdirName(name); err != nil {
		return err
	}
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	if !d.IsDir() {
		return unix.ENOTDIR
	}
	c := d.entries[name]
	if c == nil || c.whiteout {
		return unix.ENOENT
	}
	if !c.IsDir() {
		return unix.ENOTDIR
	}
	if c.hasVisibleLocked() {
		return unix.ENOTEMPTY
	}
	now := d.fs.timeNow()
	delete(d.entries, name)
	d.removeDirLocked(c, now)
	d.mtime, d.ctime = now, now
	return nil
}

// isAncestorOf reports whether directory a is a proper ancestor of x.
//
// Preconditions: fs.mu is held.
func (a *Inode) isAncestorOf(x *Inode) bool {
	for p := x.parent; p != nil; p = p.parent {
		if p == a {
			return true
		}
	}
	return false
}

const renameFlags = unix.RENAME_NOREPLACE | unix.RENAME_EXCHANGE | unix.RENAME_WHITEOUT

// Rename implements vfs.Inode with renameat2(2) semantics, including
// RENAME_WHITEOUT (which leaves a whiteout at the old name).
func (d *Inode) Rename(ctx vfs.Context, oldName string, newDir vfs.Inode, newName string, flags uint32) error {
	nd, ok := newDir.(*Inode)
	if !ok || nd.fs != d.fs {
		return unix.EXDEV
	}
	if flags&^renameFlags != 0 ||
		flags&(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE) == unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE ||
		flags&(unix.RENAME_WHITEOUT|unix.RENAME_EXCHANGE) == unix.RENAME_WHITEOUT|unix.RENAME_EXCHANGE {
		return unix.EINVAL
	}
	for _, n := range []string{oldName, newName} {
		if n == "." || n == ".." {
			return unix.EBUSY
		}
		if err := vfs.CheckName(n); err != nil {
			return err
		}
	}
	fs := d.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := d.checkDirLocked(); err != nil {
		return err
	}
	if err := nd.checkDirLocked(); err != nil {
		return err
	}
	exchange := flags&unix.RENAME_EXCHANGE != 0
	src := d.entries[oldName]
	if src == nil || src.whiteout {
		return unix.ENOENT
	}
	dst := nd.entries[newName]
	var dstWhiteout *Inode
	if dst != nil && dst.whiteout {
		dstWhiteout, dst = dst, nil
	}
	srcDir := src.IsDir()
	dstDir := dst != nil && dst.IsDir()
	if noop, err := vfs.CheckRename(vfs.RenameOperands{
		Exchange:          exchange,
		NoReplace:         flags&unix.RENAME_NOREPLACE != 0,
		SrcDir:            srcDir,
		DstExists:         dst != nil,
		DstDir:            dstDir,
		SrcHoldsNewParent: srcDir && (src == nd || src.isAncestorOf(nd)),
		DstHoldsOldParent: dstDir && (dst == d || dst.isAncestorOf(d)),
		Same:              src == dst,
	}); noop || err != nil {
		return err
	}
	if !exchange && dstDir && dst.hasVisibleLocked() {
		return unix.ENOTEMPTY
	}
	if flags&unix.RENAME_WHITEOUT != 0 && dstWhiteout == nil && fs.inodes >= fs.maxInodes {
		return unix.ENOSPC
	}
	now := fs.timeNow()
	if exchange {
		d.entries[oldName], nd.entries[newName] = dst, src
		if d != nd {
			if srcDir {
				d.nlink--
				nd.nlink++
				src.parent = nd
			}
			if dstDir {
				nd.nlink--
				d.nlink++
				dst.parent = d
			}
		}
		src.ctime, dst.ctime = now, now
		d.mtime, d.ctime = now, now
		nd.mtime, nd.ctime = now, now
		return nil
	}
	delete(d.entries, oldName)
	if dstWhiteout != nil {
		delete(nd.entries, newName)
		nd.nwo--
		dstWhiteout.nlink = 0
		dstWhiteout.maybeFreeLocked()
	}
	if dst != nil {
		delete(nd.entries, newName)
		if dstDir {
			nd.removeDirLocked(dst, now)
		} else {
			removeNonDirLocked(dst, now)
		}
	}
	if flags&unix.RENAME_WHITEOUT != 0 {
		d.addWhiteoutLocked(oldName, now)
	}
	nd.entries[newName] = src
	if srcDir && d != nd {
		d.nlink--
		nd.nlink++
		src.parent = nd
	}
	src.ctime = now
	d.mtime, d.ctime = now, now
	nd.mtime, nd.ctime = now, now
	return nil
}

// addWhiteoutLocked puts a whiteout at the free name.
//
// Preconditions: fs.mu is held; d has no entry name; the inode limit was
// checked.
func (d *Inode) addWhiteoutLocked(name string, now vfs.Timespec) {
	w := d.fs.newInodeLocked(unix.S_IFCHR, 0, 0, now)
	w.whiteout = true
	w.nlink = 1
	d.entries[name] = w
	d.nwo++
}

// Open implements vfs.Inode.
func (in *Inode) Open(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	if flags&unix.O_PATH != 0 {
		return vfs.PathFile{}, nil
	}
	in.fs.mu.Lock()
	shrunk := false
	defer func() {
		if shrunk {
			in.maps.Truncated(0) // after fs.mu (deferred before this)
		}
	}()
	defer in.fs.mu.Unlock()
	switch {
	case in.whiteout:
		return nil, unix.ENOENT
	case in.IsDir():
		if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
			return nil, unix.EISDIR
		}
		return vfs.DirFile{Dir: in}, nil
	case in.typ() == unix.S_IFLNK:
		return nil, unix.ELOOP
	case in.typ() != unix.S_IFREG:
		return nil, unix.ENXIO
	}
	if in.freed { // unlinked and closed: nothing left to open
		return nil, unix.ENOENT
	}
	if flags&unix.O_TRUNC != 0 {
		had := in.size > 0
		if err := in.truncateLocked(0); err != nil {
			return nil, err
		}
		shrunk = had
		now := in.fs.timeNow()
		in.mtime, in.ctime = now, now
	}
	in.refs++
	return &File{in: in}, nil
}

// SetStat changes the attributes selected by mask (unix.STATX_MODE,
// STATX_UID, STATX_GID, STATX_SIZE, STATX_ATIME, STATX_MTIME) to those in
// st: chmod, chown, truncate and utimensat. Only the permission bits of
// st.Mode are used. ctime becomes the current time. Permission checks are
// the caller's.
func (in *Inode) SetStat(ctx vfs.Context, mask uint32, st vfs.Stat) error {
	in.fs.mu.Lock()
	old := in.size
	err := in.setStatLocked(mask, st)
	shrunk := err == nil && mask&unix.STATX_SIZE != 0 && in.size < old
	in.fs.mu.Unlock()
	if shrunk {
		in.maps.Truncated(st.Size)
	}
	return err
}

// Preconditions: fs.mu is held.
func (in *Inode) setStatLocked(mask uint32, st vfs.Stat) error {
	if in.whiteout {
		return unix.ENOENT
	}
	if mask&unix.STATX_SIZE != 0 {
		switch in.typ() {
		case unix.S_IFREG:
		case unix.S_IFDIR:
			return unix.EISDIR
		default:
			return unix.EINVAL
		}
		if st.Size < 0 {
			return unix.EINVAL
		}
	}
	now := in.fs.timeNow()
	if mask&unix.STATX_SIZE != 0 {
		if st.Size != in.size {
			if err := in.truncateLocked(st.Size); err != nil {
				return err
			}
			in.mtime = now
		}
	}
	if mask&unix.STATX_MODE != 0 {
		in.mode = in.typ() | st.Mode&07777
	}
	if mask&(unix.STATX_UID|unix.STATX_GID) != 0 {
		if mask&unix.STATX_UID != 0 {
			in.uid = st.UID
		}
		if mask&unix.STATX_GID != 0 {
			in.gid = st.GID
		}
		if mask&unix.STATX_MODE == 0 && !in.IsDir() {
			in.mode &^= unix.S_ISUID
			if in.mode&unix.S_IXGRP != 0 {
				in.mode &^= unix.S_ISGID
			}
		}
	}
	if mask&unix.STATX_ATIME != 0 {
		in.atime = st.Atime
	}
	if mask&unix.STATX_MTIME != 0 {
		in.mtime = st.Mtime
	}
	if mask != 0 {
		in.ctime = now
	}
	return nil
}
