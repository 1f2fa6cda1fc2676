// Package overlay is the sandbox's root filesystem: a read-only lower tree
// (normally fs/hostfs, the host's "/" or a --rootfs directory) under a
// writable upper layer, with the semantics of Linux overlayfs. Nothing is
// ever written to the lower layer. The upper layer is in memory (a
// fs/memfs), or with moat run --upper in a host directory in overlayfs's
// format (disk.go), where set-ID bits, device nodes and xattrs outside
// user.* are moat-private encodings (encode.go): the sandbox's root makes
// them for real there, and the host must not see a set-user-ID root
// binary, a device node or security.capability where it would honour
// them.
//
//   - Lookups prefer the upper layer, then the lower one. A directory that
//     exists in both is merged: ReadDir is the union, upper entries win,
//     whiteouts in the upper hide lower entries.
//   - Creating a file, directory or symlink in a directory that exists only
//     in the lower layer first copies that directory and its ancestors up
//     (mode, owner, timestamps, without changing the parents' timestamps).
//   - Opening a lower regular file for writing (O_WRONLY, O_RDWR or O_TRUNC)
//     copies it up first: data, mode, owner, timestamps. O_TRUNC copies no
//     data. Copy-up is bounded by the upper layer's size limit (ENOSPC). A
//     file opened read-only before the copy-up keeps reading the lower file,
//     as with Linux overlayfs.
//   - Unlink, rmdir and rename of entries that exist in the lower layer
//     leave whiteouts. Rmdir of a merged directory requires the merged view
//     to be empty (ENOTEMPTY). Directories made with mkdir are opaque: they
//     never merge with a lower directory of the same name.
//   - Renaming a directory that exists in the lower layer (lower-only or
//     merged) fails with EXDEV, which is what Linux overlayfs does without
//     redirect_dir; mv(1) then falls back to copying. Directories that exist
//     only in the upper layer and all non-directories can be renamed.
//   - Stat: an object's attributes come from the upper layer if it has one,
//     else from the lower. st_dev/st_ino are the lower object's (also after
//     copy-up, which records them as the origin), so they are stable for the
//     life of the sandbox and match the host's; objects created in the
//     sandbox report the upper filesystem's st_dev and st_ino. Merged
//     directories report st_nlink 1, as overlayfs does.
//   - Lower device nodes, FIFOs and sockets are copied up as the same kind
//     of file (with the device number), as overlayfs makes them in its upper
//     layer with mknod: they can be renamed, linked and changed like others
//     (an on-disk upper keeps device nodes as placeholders: disk.go).
//
// Inodes: each object has one live *Inode (directories keep a weak cache of
// their children), so copy-up and renames seen through one reference are
// seen through all.
//
// Locking: FS.mu is a RWMutex over the overlay's namespace. Lookups, Stat,
// ReadDir and opens hold it for reading; every operation that changes
// either layer's namespace or copies up holds it for writing. Copying a
// file's data up is done before taking it for writing, into a detached
// upper file, so that reads elsewhere are not blocked by a long copy.
// FS.cacheMu guards the children caches and nests inside FS.mu. Lock order
// (outermost first): FS.mu, FS.cacheMu, memfs FS.mu. Calls into the lower
// layer are made with FS.mu held (hostfs takes no locks).
package overlay

import (
	"errors"
	"sync"
	"weak"

	"golang.org/x/sys/unix"

	"moat/fs/memfs"
	"moat/vfs"
)

// FS is one overlay filesystem.
type FS struct {
	mu      sync.RWMutex
	cacheMu sync.Mutex
	upper   upperLayer
	root    *Inode
}

// Inode is an object of the overlay. It implements vfs.Inode.
type Inode struct {
	fs    *FS
	typ   uint32    // file type bits; never changes
	lower vfs.Inode // nil for objects without a lower layer (or opaque directories); never changes

	// Guarded by fs.mu.
	parent *Inode // nil for the root
	name   string
	upper  upperNode // nil until created or copied up
	dead   bool      // removed from the namespace

	// Guarded by fs.cacheMu.
	children map[string]weak.Pointer[Inode]
	sweepAt  int
}

var _ vfs.Inode = (*Inode)(nil)

// New returns the root of an overlay of the directory lower (read-only)
// under the memfs upper. The upper's root takes the lower root's
// attributes.
func New(lower vfs.Inode, upper *memfs.FS) (vfs.Inode, error) {
	if upper == nil {
		return nil, unix.EINVAL
	}
	return newFS(lower, memUpper{upper}, true)
}

// newFS returns the root of an overlay of lower under upper; with setRoot
// the upper root takes the lower root's attributes.
func newFS(lower vfs.Inode, upper upperLayer, setRoot bool) (vfs.Inode, error) {
	if lower == nil {
		return nil, unix.EINVAL
	}
	st, err := lower.Stat(nil)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, unix.ENOTDIR
	}
	ur := upper.root()
	if setRoot {
		ur.SetAttr(attrOf(&st))
	}
	ur.SetOrigin(st.Dev, st.Ino)
	fs := &FS{upper: upper}
	fs.root = &Inode{fs: fs, typ: unix.S_IFDIR, lower: lower, upper: ur}
	return fs.root, nil
}

func attrOf(st *vfs.Stat) memfs.Attr {
	return memfs.Attr{Mode: st.Mode & 07777, UID: st.UID, GID: st.GID, Atime: st.Atime, Mtime: st.Mtime, Ctime: st.Ctime}
}

// cachedChild returns the live child inode called name, if any.
func (n *Inode) cachedChild(name string) *Inode {
	n.fs.cacheMu.Lock()
	defer n.fs.cacheMu.Unlock()
	if wp, ok := n.children[name]; ok {
		return wp.Value()
	}
	return nil
}

// addChild records c as the child called name unless a live one is there
// already, which it returns instead.
func (n *Inode) addChild(name string, c *Inode) *Inode {
	n.fs.cacheMu.Lock()
	defer n.fs.cacheMu.Unlock()
	if wp, ok := n.children[name]; ok {
		if old := wp.Value(); old != nil {
			return old
		}
	}
	n.setChildLocked(name, c)
	return c
}

// Preconditions: fs.cacheMu is held.
func (n *Inode) setChildLocked(name string, c *Inode) {
	if n.children == nil {
		n.children = make(map[string]weak.Pointer[Inode])
	}
	n.children[name] = weak.Make(c)
	if len(n.children) > n.sweepAt {
		for k, wp := range n.children {
			if wp.Value() == nil {
				delete(n.children, k)
			}
		}
		n.sweepAt = 2*len(n.children) + 64
	}
}

// Preconditions: fs.mu is held for writing.
func (n *Inode) forgetChild(name string) {
	n.fs.cacheMu.Lock()
	defer n.fs.cacheMu.Unlock()
	delete(n.children, name)
}

// lookupLocked finds the child name of directory n in the merged view.
//
// Preconditions: fs.mu is held (for reading or writing); name passed
// checkName.
func (n *Inode) lookupLocked(ctx vfs.Context, name string) (*Inode, error) {
	if n.typ != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	if n.dead {
		return nil, unix.ENOENT
	}
	if c := n.cachedChild(name); c != nil {
		return c, nil
	}
	var up upperNode
	if n.upper != nil {
		var err error
		if up, err = n.upper.child(ctx, name); err != nil {
			return nil, err
		}
		if up != nil && up.IsWhiteout() {
			return nil, unix.ENOENT
		}
	}
	var low vfs.Inode
	var lowTyp uint32
	if n.lower != nil && (up == nil || up.IsDir() && !up.Opaque()) {
		l, err := n.lower.Lookup(ctx, name)
		switch {
		case err == nil:
			if lowTyp, err = vfs.FileType(ctx, l); err != nil { // (hostfs's type, recorded at lookup)
				if up == nil {
					return nil, err
				}
				break
			}
			if up == nil || lowTyp == unix.S_IFDIR {
				low = l
			}
		case errors.Is(err, unix.ENOENT):
		default:
			if up == nil {
				return nil, err
			}
		}
	}
	var c *Inode
	switch {
	case up != nil:
		c = &Inode{fs: n.fs, typ: up.Type(), lower: low, parent: n, name: name, upper: up}
	case low != nil:
		c = &Inode{fs: n.fs, typ: lowTyp, lower: low, parent: n, name: name}
	default:
		return nil, unix.ENOENT
	}
	return n.addChild(name, c), nil
}

// Lookup implements vfs.Inode.
func (n *Inode) Lookup(ctx vfs.Context, name string) (vfs.Inode, error) {
	if err := vfs.CheckName(name); err != nil {
		return nil, err
	}
	n.fs.mu.RLock()
	defer n.fs.mu.RUnlock()
	c, err := n.lookupLocked(ctx, name)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (n *Inode) upperInode() upperNode {
	n.fs.mu.RLock()
	defer n.fs.mu.RUnlock()
	return n.upper
}

// Stat implements vfs.Inode.
func (n *Inode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	up := n.upperInode()
	if up == nil {
		return n.lower.Stat(ctx)
	}
	st, err := up.Stat(ctx)
	if err != nil {
		return vfs.Stat{}, err
	}
	if dev, ino, ok := up.Origin(); ok {
		st.Dev, st.Ino = dev, ino
	}
	if n.typ == unix.S_IFDIR && n.lower != nil {
		st.Nlink = 1 // merged: counting subdirectories is not worth it
	}
	return st, nil
}

// Type implements vfs.FileTyper.
func (n *Inode) Type() uint32 { return n.typ }

// Readlink implements vfs.Inode.
func (n *Inode) Readlink(ctx vfs.Context) (string, error) {
	if n.typ != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	if up := n.upperInode(); up != nil {
		return up.Readlink(ctx)
	}
	return n.lower.Readlink(ctx)
}

// ReadDir implements vfs.Inode: upper entries (without whiteouts), then
// lower entries not present or whited out in the upper.
func (n *Inode) ReadDir(ctx vfs.Context) ([]vfs.Dirent, error) {
	if n.typ != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	n.fs.mu.RLock()
	defer n.fs.mu.RUnlock()
	return n.readDirLocked(ctx)
}

// Preconditions: fs.mu is held; n is a directory.
func (n *Inode) readDirLocked(ctx vfs.Context) ([]vfs.Dirent, error) {
	var out []vfs.Dirent
	var hidden map[string]bool
	if n.upper != nil {
		ents, err := n.upper.entries(ctx)
		if err != nil {
			return nil, err
		}
		if n.lower != nil {
			hidden = make(map[string]bool, len(ents))
		}
		for _, e := range ents {
			if hidden != nil {
				hidden[e.Name] = true
			}
			if e.Node.IsWhiteout() {
				continue
			}
			ino := e.Node.Ino()
			if _, oino, ok := e.Node.Origin(); ok {
				ino = oino
			}
			out = append(out, vfs.Dirent{Name: e.Name, Ino: ino, Type: vfs.DirentType(e.Node.Type())})
		}
	}
	if n.lower != nil {
		lents, err := n.lower.ReadDir(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range lents {
			if !hidden[e.Name] {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// Open implements vfs.Inode.
func (n *Inode) Open(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	if flags&unix.O_PATH != 0 {
		return vfs.PathFile{}, nil
	}
	write := flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0
	switch n.typ {
	case unix.S_IFDIR:
		if write {
			return nil, unix.EISDIR
		}
		return vfs.DirFile{Dir: n}, nil
	case unix.S_IFLNK:
		return nil, unix.ELOOP
	case unix.S_IFREG:
		if write {
			if err := n.fs.ensureUpper(ctx, n, flags&unix.O_TRUNC == 0); err != nil {
				return nil, err
			}
		}
	}
	var impl vfs.FileImpl
	var err error
	if up := n.upperInode(); up != nil {
		impl, err = up.Open(ctx, flags)
	} else {
		impl, err = n.lower.Open(ctx, flags)
	}
	if err != nil {
		return nil, err
	}
	return &file{n: n, impl: impl}, nil
}

// mknod creates the entry name in directory n with makeUpper, after copying
// n up.
func (n *Inode) mknod(ctx vfs.Context, name string, makeUpper func(dir upperNode) (upperNode, error)) (*Inode, error) {
	if err := vfs.CheckName(name); err != nil {
		return nil, err
	}
	fs := n.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if _, err := n.lookupLocked(ctx, name); err == nil {
		return nil, unix.EEXIST
	} else if !errors.Is(err, unix.ENOENT) || n.dead {
		return nil, err
	}
	if err := fs.copyUpLocked(ctx, n, nil, true); err != nil {
		return nil, err
	}
	up, err := makeUpper(n.upper)
	if err != nil {
		return nil, err
	}
	c := &Inode{fs: fs, typ: up.Type(), parent: n, name: name, upper: up}
	fs.cacheMu.Lock()
	n.setChildLocked(name, c)
	fs.cacheMu.Unlock()
	return c, nil
}

// Create implements vfs.Inode.
func (n *Inode) Create(ctx vfs.Context, name string, mode uint32) (vfs.Inode, error) {
	c, err := n.mknod(ctx, name, func(dir upperNode) (upperNode, error) {
		return dir.create(ctx, name, mode)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Mkdir implements vfs.Inode. The new directory is opaque: a lower
// directory of the same name (hidden by a whiteout) never shows through.
func (n *Inode) Mkdir(ctx vfs.Context, name string, mode uint32) error {
	_, err := n.mknod(ctx, name, func(dir upperNode) (upperNode, error) {
		return dir.mkdirOpaque(ctx, name, mode)
	})
	return err
}

// Symlink implements vfs.Inode.
func (n *Inode) Symlink(ctx vfs.Context, name, target string) error {
	_, err := n.mknod(ctx, name, func(dir upperNode) (upperNode, error) {
		return dir.symlink(ctx, name, target)
	})
	return err
}

// Link makes name in n a hard link to target (link(2)); not part of
// vfs.Inode yet. A lower target is copied up first, so it stops sharing
// data with other lower hard links of the same file (as in overlayfs
// without the index feature).
func (n *Inode) Link(ctx vfs.Context, name string, target vfs.Inode) error {
	t, ok := target.(*Inode)
	if !ok || t.fs != n.fs {
		return unix.EXDEV
	}
	if t.typ == unix.S_IFDIR {
		return unix.EPERM
	}
	if err := vfs.CheckName(name); err != nil {
		return err
	}
	fs := n.fs
	prep := fs.prepare(ctx, t)
	defer prep.drop()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if _, err := n.lookupLocked(ctx, name); err == nil {
		return unix.EEXIST
	} else if !errors.Is(err, unix.ENOENT) || n.dead {
		return err
	}
	if t.dead {
		return unix.ENOENT
	}
	if err := fs.copyUpPreparedLocked(ctx, t, prep); err != nil {
		return err
	}
	if err := fs.copyUpLocked(ctx, n, nil, true); err != nil {
		return err
	}
	up, err := n.upper.link(ctx, name, t.upper)
	if err != nil {
		return err
	}
	c := &Inode{fs: fs, typ: t.typ, parent: n, name: name, upper: up}
	fs.cacheMu.Lock()
	n.setChildLocked(name, c)
	fs.cacheMu.Unlock()
	return nil
}

// lowerHas reports whether the lower directory of n has an entry name that
// must stay hidden once c, the current entry, is gone.
//
// Preconditions: fs.mu is held.
func (n *Inode) lowerHas(ctx vfs.Context, name string, c *Inode) bool {
	if c != nil && c.lower != nil && (c.typ == unix.S_IFDIR || c.upper == nil) {
		// Directories with a lower layer never move, and a
		// lower-only object is where the lower layer has it.
		return true
	}
	if n.lower == nil {
		return false
	}
	_, err := n.lower.Lookup(ctx, name)
	return !errors.Is(err, unix.ENOENT) // when in doubt, leave a whiteout
}

// removeLocked removes the entry name (inode c) of directory n, leaving a
// whiteout if the lower layer has that name.
//
// Preconditions: fs.mu is held for writing.
func (n *Inode) removeLocked(ctx vfs.Context, name string, c *Inode) error {
	fs := n.fs
	var err error
	switch {
	case n.lowerHas(ctx, name, c):
		if err = fs.copyUpLocked(ctx, n, nil, true); err == nil {
			err = n.upper.whiteout(ctx, name)
		}
	case c.typ == unix.S_IFDIR:
		err = n.upper.rmdir(ctx, name)
	default:
		err = n.upper.unlink(ctx, name)
	}
	if err != nil {
		return err
	}
	c.dead = true
	n.forgetChild(name)
	return nil
}

// Unlink implements vfs.Inode.
func (n *Inode) Unlink(ctx vfs.Context, name string) error {
	if err := vfs.CheckUnlinkName(name); err != nil {
		return err
	}
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	c, err := n.lookupLocked(ctx, name)
	if err != nil {
		return err
	}
	if c.typ == unix.S_IFDIR {
		return unix.EISDIR
	}
	return n.removeLocked(ctx, name, c)
}

// Rmdir implements vfs.Inode.
func (n *Inode) Rmdir(ctx vfs.Context, name string) error {
	if err := vfs.CheckRmdirName(name); err != nil {
		return err
	}
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	c, err := n.lookupLocked(ctx, name)
	if err != nil {
		return err
	}
	if c.typ != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	ents, err := c.readDirLocked(ctx)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return unix.ENOTEMPTY
	}
	return n.removeLocked(ctx, name, c)
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

// Rename implements vfs.Inode with renameat2(2) semantics for
// RENAME_NOREPLACE and RENAME_EXCHANGE (RENAME_WHITEOUT is EINVAL, as on
// overlayfs). Directories that exist in the lower layer cannot be renamed
// (EXDEV).
func (n *Inode) Rename(ctx vfs.Context, oldName string, newDir vfs.Inode, newName string, flags uint32) error {
	q, ok := newDir.(*Inode)
	if !ok || q.fs != n.fs {
		return unix.EXDEV
	}
	if flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE) != 0 ||
		flags == unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE {
		return unix.EINVAL
	}
	for _, s := range []string{oldName, newName} {
		if s == "." || s == ".." {
			return unix.EBUSY
		}
		if err := vfs.CheckName(s); err != nil {
			return err
		}
	}
	exchange := flags&unix.RENAME_EXCHANGE != 0
	fs := n.fs

	// Copy file data up before taking the lock for writing.
	var srcPrep, dstPrep preparedData
	if c, err := n.Lookup(ctx, oldName); err == nil {
		srcPrep = fs.prepare(ctx, c.(*Inode))
		defer srcPrep.drop()
	}
	if exchange {
		if c, err := q.Lookup(ctx, newName); err == nil {
			dstPrep = fs.prepare(ctx, c.(*Inode))
			defer dstPrep.drop()
		}
	}

	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, d := range []*Inode{n, q} {
		if d.typ != unix.S_IFDIR {
			return unix.ENOTDIR
		}
		if d.dead {
			return unix.ENOENT
		}
	}
	src, err := n.lookupLocked(ctx, oldName)
	if err != nil {
		return err
	}
	dst, err := q.lookupLocked(ctx, newName)
	if err != nil {
		if !errors.Is(err, unix.ENOENT) {
			return err
		}
		dst = nil
	}
	srcDir := src.typ == unix.S_IFDIR
	dstDir := dst != nil && dst.typ == unix.S_IFDIR
	if noop, err := vfs.CheckRename(vfs.RenameOperands{
		Exchange:          exchange,
		NoReplace:         flags&unix.RENAME_NOREPLACE != 0,
		SrcDir:            srcDir,
		DstExists:         dst != nil,
		DstDir:            dstDir,
		SrcHoldsNewParent: srcDir && (src == q || src.isAncestorOf(q)),
		DstHoldsOldParent: dstDir && (dst == n || dst.isAncestorOf(n)),
		Same:              src == dst,
	}); noop || err != nil {
		return err
	}
	if srcDir && src.lower != nil || exchange && dstDir && dst.lower != nil {
		return unix.EXDEV
	}
	if !exchange && dstDir {
		ents, err := dst.readDirLocked(ctx)
		if err != nil {
			return err
		}
		if len(ents) > 0 {
			return unix.ENOTEMPTY
		}
	}
	if err := fs.copyUpPreparedLocked(ctx, src, srcPrep); err != nil {
		return err
	}
	if exchange {
		if err := fs.copyUpPreparedLocked(ctx, dst, dstPrep); err != nil {
			return err
		}
	}
	if err := fs.copyUpLocked(ctx, q, nil, true); err != nil {
		return err
	}
	memFlags := flags
	if !exchange && n.lowerHas(ctx, oldName, src) {
		memFlags |= unix.RENAME_WHITEOUT
	}
	if err := n.upper.rename(ctx, oldName, q.upper, newName, memFlags); err != nil {
		return err
	}
	fs.cacheMu.Lock()
	defer fs.cacheMu.Unlock()
	if exchange {
		src.parent, src.name, dst.parent, dst.name = q, newName, n, oldName
		n.setChildLocked(oldName, dst)
		q.setChildLocked(newName, src)
		return nil
	}
	if dst != nil {
		dst.dead = true
	}
	delete(n.children, oldName)
	src.parent, src.name = q, newName
	q.setChildLocked(newName, src)
	return nil
}

// SetStat changes attributes as memfs.Inode.SetStat does (chmod, chown,
// truncate, utimensat), copying the object up first. Truncating to 0 copies
// no data.
func (n *Inode) SetStat(ctx vfs.Context, mask uint32, st vfs.Stat) error {
	withData := !(mask&unix.STATX_SIZE != 0 && st.Size == 0)
	if err := n.fs.ensureUpper(ctx, n, withData); err != nil {
		if errors.Is(err, unix.EXDEV) {
			return unix.EROFS
		}
		return err
	}
	return n.upperInode().SetStat(ctx, mask, st)
}

// GetXattr implements vfs.Xattrer: the upper layer's attributes once the
// object is there, else the lower layer's (none for host files).
func (n *Inode) GetXattr(ctx vfs.Context, name string) ([]byte, error) {
	if up := n.upperInode(); up != nil {
		return up.GetXattr(ctx, name)
	}
	if x, ok := n.lower.(vfs.Xattrer); ok {
		return x.GetXattr(ctx, name)
	}
	return nil, unix.ENODATA
}

// ListXattr implements vfs.Xattrer.
func (n *Inode) ListXattr(ctx vfs.Context) ([]string, error) {
	if up := n.upperInode(); up != nil {
		return up.ListXattr(ctx)
	}
	if x, ok := n.lower.(vfs.Xattrer); ok {
		return x.ListXattr(ctx)
	}
	return nil, nil
}

// SetXattr implements vfs.Xattrer, copying the object up first.
func (n *Inode) SetXattr(ctx vfs.Context, name string, value []byte, flags int) error {
	if err := n.fs.ensureUpper(ctx, n, true); err != nil {
		if errors.Is(err, unix.EXDEV) {
			return unix.EROFS
		}
		return err
	}
	return n.upperInode().SetXattr(ctx, name, value, flags)
}

// RemoveXattr implements vfs.Xattrer, copying the object up first.
func (n *Inode) RemoveXattr(ctx vfs.Context, name string) error {
	if n.upperInode() == nil {
		if _, err := n.GetXattr(ctx, name); err != nil {
			return err // nothing to remove: no copy-up
		}
	}
	if err := n.fs.ensureUpper(ctx, n, true); err != nil {
		if errors.Is(err, unix.EXDEV) {
			return unix.EROFS
		}
		return err
	}
	return n.upperInode().RemoveXattr(ctx, name)
}
