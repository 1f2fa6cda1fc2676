package memfs

import (
	"sort"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// This file is the API fs/overlay uses when a memfs is its upper layer:
// whiteouts, opaque directories, copy-up with given attributes, and the
// origin (lower st_dev/st_ino) a copied-up inode keeps reporting.

// Attr is the attribute set that copy-up preserves.
type Attr struct {
	Mode                uint32 // permission bits (07777); the type is given separately
	UID, GID            uint32
	Atime, Mtime, Ctime vfs.Timespec
}

// Entry is one directory entry, whiteouts included.
type Entry struct {
	Name  string
	Inode *Inode
}

// Child returns the entry name of directory d, whiteouts included, or nil.
func (d *Inode) Child(name string) *Inode {
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	return d.entries[name]
}

// Entries lists directory d, whiteouts included, sorted by name.
func (d *Inode) Entries() []Entry {
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	out := make([]Entry, 0, len(d.entries))
	for name, c := range d.entries {
		out = append(out, Entry{Name: name, Inode: c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Opaque reports whether directory d hides the lower directory of the same
// name.
func (d *Inode) Opaque() bool {
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	return d.opaque
}

// SetOpaque marks directory d opaque or not.
func (d *Inode) SetOpaque(opaque bool) {
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	d.opaque = opaque
}

// Origin returns the lower st_dev and st_ino recorded at copy-up.
func (in *Inode) Origin() (dev, ino uint64, ok bool) {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	return in.originDev, in.originIno, in.hasOrigin
}

// SetOrigin records the lower st_dev and st_ino that Origin reports.
func (in *Inode) SetOrigin(dev, ino uint64) {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	in.originDev, in.originIno, in.hasOrigin = dev, ino, true
}

// SetAttr sets the attributes of in as copy-up does, ctime included.
func (in *Inode) SetAttr(a Attr) {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	in.mode = in.typ() | a.Mode&07777
	in.uid, in.gid = a.UID, a.GID
	in.atime, in.mtime, in.ctime = a.Atime, a.Mtime, a.Ctime
}

// Whiteout replaces the entry name of d with a whiteout, or adds one where
// there is none. An existing directory must hold nothing but whiteouts
// (ENOTEMPTY otherwise); they are dropped with it. d's mtime and ctime are
// updated as for unlink.
func (d *Inode) Whiteout(ctx vfs.Context, name string) error {
	if err := vfs.CheckName(name); err != nil {
		return err
	}
	fs := d.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := d.checkDirLocked(); err != nil {
		return err
	}
	now := fs.timeNow()
	c := d.entries[name]
	switch {
	case c == nil:
		if fs.inodes >= fs.maxInodes {
			return unix.ENOSPC
		}
	case c.whiteout:
		return nil
	case c.IsDir():
		if c.hasVisibleLocked() {
			return unix.ENOTEMPTY
		}
		delete(d.entries, name)
		d.removeDirLocked(c, now)
	default:
		delete(d.entries, name)
		removeNonDirLocked(c, now)
	}
	d.addWhiteoutLocked(name, now)
	d.mtime, d.ctime = now, now
	return nil
}

// NewFile returns a detached regular file (no links) with attributes a, to
// be filled with WriteAt and then linked with CopyUp. The caller holds a
// reference and must call Drop when done with the file, linked or not; an
// unlinked file is freed then.
func (fs *FS) NewFile(a Attr) (*Inode, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.inodes >= fs.maxInodes {
		return nil, unix.ENOSPC
	}
	in := fs.newInodeLocked(unix.S_IFREG|a.Mode&07777, a.UID, a.GID, fs.timeNow())
	in.refs = 1
	return in, nil
}

// WriteAt writes file data without touching timestamps (copy-up). Like
// Write, it returns ENOSPC when the filesystem is full.
func (in *Inode) WriteAt(p []byte, off int64) (int, error) {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	if in.typ() != unix.S_IFREG {
		return 0, unix.EINVAL
	}
	return in.writeLocked(p, off)
}

// Truncate sets the size of a regular file without touching timestamps
// (copy-up).
func (in *Inode) Truncate(size int64) error {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	if in.typ() != unix.S_IFREG {
		return unix.EINVAL
	}
	return in.truncateLocked(size)
}

// Drop releases the reference NewFile returned.
func (in *Inode) Drop() {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	if in.refs > 0 {
		in.refs--
	}
	in.maybeFreeLocked()
}

// CopyUp describes an entry copied up from a lower layer.
type CopyUp struct {
	Type   uint32 // unix.S_IFREG, S_IFDIR, S_IFLNK, or a special file's type
	Attr   Attr
	Target string // symlinks
	Rdev   uint64 // character and block devices
	// Data is a detached file from NewFile holding a regular file's
	// contents; nil makes an empty file.
	Data *Inode
	// OriginDev and OriginIno are the lower inode's st_dev and st_ino,
	// which Origin reports afterwards.
	OriginDev, OriginIno uint64
}

// CopyUpEntry creates name in d as described by c, with exactly c's
// attributes and without changing d's timestamps (copy-up is invisible).
// A whiteout at name is replaced; any other entry is EEXIST. Directories
// are created non-opaque.
func (d *Inode) CopyUpEntry(name string, c CopyUp) (*Inode, error) {
	if err := vfs.CheckName(name); err != nil {
		return nil, err
	}
	switch c.Type {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFLNK, unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR, unix.S_IFBLK:
	default:
		return nil, unix.EINVAL
	}
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	if c.Data != nil {
		if c.Type != unix.S_IFREG || c.Data.fs != d.fs || c.Data.typ() != unix.S_IFREG ||
			c.Data.nlink != 0 || c.Data.refs == 0 || c.Data.freed {
			return nil, unix.EINVAL
		}
	}
	attr := c.Attr
	in, err := d.createLocked(nil, name, c.Type|attr.Mode&07777, c.Target, createOpts{
		attr:         &attr,
		keepDirTimes: true,
		origin:       &[2]uint64{c.OriginDev, c.OriginIno},
		data:         c.Data,
	})
	if err == nil && (c.Type == unix.S_IFCHR || c.Type == unix.S_IFBLK) {
		in.rdev = c.Rdev
	}
	return in, err
}
