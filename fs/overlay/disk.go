package overlay

// The upper layer on disk (moat run --upper DIR).
//
// Format: Linux overlayfs's upper directory, so that DIR can be inspected
// with ordinary tools, reused by a later run, or mounted by the kernel's
// overlayfs over the same lower tree, except for what would be a
// privilege on the host (below):
//
//   - every object the sandbox created or copied up is the same kind of
//     host object at the same path under DIR (regular files with their
//     data, directories, symlinks, hard links, FIFOs and sockets), with the
//     sandbox's owner, mode and times: moat runs as root on the host, so it
//     sets them for real, as overlayfs does;
//   - a removed lower entry is a whiteout: a 0:0 character device;
//   - a directory made by mkdir (which hides a lower directory of the same
//     name) carries the xattr trusted.overlay.opaque=y;
//   - DIR itself is the upper root and is marked with the xattr
//     trusted.moat.upper=1 at first use: a later run accepts DIR if it is
//     empty or marked, and only if it is owned by moat's user and not
//     writable by its group or others.
//
// Moat-private encodings. The sandbox's root may make set-user-ID copies
// of root's binaries, device nodes (8:0, the host's disk, mode 0666) and
// file capabilities; made for real in DIR they would be privileges for
// any host user who can reach DIR. So the host never sees them as what
// they are (encode.go):
//
//   - set-ID bits: a non-directory's host mode never has S_ISUID or
//     S_ISGID; its real permission bits are in trusted.moat.mode (octal
//     text), and its host mode has the sticky bit as the hint that says so
//     (Linux ignores sticky on non-directories), so that only such files
//     cost an xattr read per stat. Directories keep their mode: set-group-
//     ID on a directory only gives new entries its group (the host must do
//     that), set-user-ID means nothing there. chmod and chown in the
//     sandbox update the encoding; chown clears set-ID bits and so does a
//     write by a caller without CAP_FSETID, as Linux and memfs do;
//   - device nodes (other than 0:0 whiteouts) are never made on the host:
//     a device is an empty regular file of host mode 1000 (sticky only: no
//     one but root may even read it) with trusted.moat.rdev = "c MAJ:MIN"
//     or "b MAJ:MIN" and its real mode in trusted.moat.mode; the sandbox
//     sees and opens the device (dev.OpenNode: the memory devices, ENXIO
//     for others). FIFOs and sockets stay real nodes: the host grants
//     nothing through them, and overlayfs reads them as they are;
//   - extended attributes: the sandbox's user.* are the host file's
//     (except user.overlay.*, which overlayfs and moat read as overlay
//     metadata); every other name it sets (security.capability, which the
//     host kernel honours on exec, security.selinux, system.posix_acl_*,
//     trusted.*) is kept as trusted.moat.x.NAME and shown as NAME. The
//     sandbox cannot see or set trusted.moat.* and trusted.overlay.*
//     (ENODATA, EPERM), so it cannot forge encodings, whiteouts or
//     opacity; host xattrs it did not make (an LSM's labels) are hidden;
//   - DIR itself stays the host's (mode 0700, its owner): the sandbox's
//     "/" has its real mode and owner in DIR's trusted.moat.mode and
//     trusted.moat.owner, so that chmod 777 / or chown / in the sandbox
//     opens nothing on the host.
//
// A kernel overlayfs mount of DIR shows these encodings (empty files for
// devices, set-ID bits missing, trusted.moat.* xattrs): that is the
// price of a DIR that is safe to leave on the host.
//
// Why overlayfs's format otherwise rather than one of moat's own: it
// needs little translation (a stat of an upper file is a host stat),
// nothing in it is hidden in a private database that could disagree with
// the tree, and it is the format every container tool already knows. What
// it does not keep: the lower st_ino a copied-up object reports is
// remembered only while the sandbox runs (overlayfs's
// trusted.overlay.origin is a file handle that moat cannot make
// portably); a later run reports the upper file's own.
//
// Every change goes through fs/hostfs's writable mode, which acts on
// descriptors opened beneath DIR without following symlinks, so nothing
// the sandbox does (symlinks pointing out, "..", renames of directories)
// reaches anything outside DIR; hard links are made only between files of
// DIR (hostfs refuses others with EXDEV, and a lower target is copied up
// first). Copy-up writes the data to an unnamed file (O_TMPFILE) in DIR
// and links it in place once complete; device placeholders are made the
// same way, with their xattrs, so that none is ever seen half made.

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"moat/fs/dev"
	"moat/fs/hostfs"
	"moat/vfs"
)

const (
	xattrOpaque     = "trusted.overlay.opaque"
	xattrUserOpaque = "user.overlay.opaque" // overlayfs's userxattr variant, read only
	xattrMarker     = "trusted.moat.upper"
	overlayPrefix   = "trusted.overlay."
)

// NewOnDisk returns the root of an overlay of lower under an upper layer
// kept in the host directory dir, which must be empty or an upper layer
// that an earlier NewOnDisk made.
func NewOnDisk(lower vfs.Inode, dir string) (vfs.Inode, *hostfs.FS, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, nil, err
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("%s is not a directory", dir)
	}
	if err := checkDirOwner(dir, st); err != nil {
		return nil, nil, err
	}
	fs, err := hostfs.OpenWritable(dir)
	if err != nil {
		return nil, nil, err
	}
	root := fs.Root()
	ents, err := root.ReadDir(nil)
	if err != nil {
		fs.Close()
		return nil, nil, err
	}
	marked := false
	if v, err := root.HostGetXattr(xattrMarker); err == nil && string(v) == "1" {
		marked = true
	}
	fresh := false
	switch {
	case marked:
	case len(ents) == 0:
		if err := root.HostSetXattr(xattrMarker, []byte("1"), 0); err != nil {
			fs.Close()
			return nil, nil, fmt.Errorf("%s: cannot mark it as an upper layer: %w", dir, err)
		}
		fresh = true
	default:
		fs.Close()
		return nil, nil, fmt.Errorf("%s is neither empty nor an upper layer of an earlier run", dir)
	}
	u := &diskUpper{fs: fs}
	if err := u.loadRoot(); err != nil {
		fs.Close()
		return nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	if err := root.SetStat(nil, unix.STATX_MODE, vfs.Stat{Mode: rootHostMode}); err != nil {
		fs.Close()
		return nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	r, err := newFS(lower, u, fresh)
	if err != nil {
		fs.Close()
		return nil, nil, err
	}
	return r, fs, nil
}

// checkDirOwner refuses a DIR that someone other than moat's user could
// have put things in: one owned by another user, or writable by its group
// or by others. (Its contents are the sandbox's root filesystem; moat
// narrows DIR to mode 0700 itself, see NewOnDisk.)
func checkDirOwner(dir string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is owned by uid %d, not by moat's user (%d)", dir, st.Uid, os.Geteuid())
	}
	if st.Mode&0o022 != 0 {
		return fmt.Errorf("%s is writable by its group or others (mode %04o): make it 0700", dir, st.Mode&0o7777)
	}
	return nil
}

// diskUpper is an upper layer in a host directory.
type diskUpper struct {
	fs       *hostfs.FS
	rootNode *diskNode

	// The upper root's real mode and owner (xattrMode, xattrOwner of
	// DIR): the sandbox's "/".
	mu                         sync.Mutex
	rootPerm, rootUID, rootGID uint32
}

func (u *diskUpper) root() upperNode {
	if u.rootNode == nil {
		u.rootNode = &diskNode{u: u, in: u.fs.Root(), typ: unix.S_IFDIR, isRoot: true}
	}
	return u.rootNode
}

func (u *diskUpper) newFile(ctx vfs.Context, a Attr) (upperData, error) {
	t, err := u.fs.NewTempFile()
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (u *diskUpper) room() int64 {
	s, err := u.fs.Statfs()
	if err != nil {
		return 0
	}
	return int64(s.Bavail) * s.Bsize
}

// diskNode is an object of a diskUpper: a host inode, with what the
// overlay asks of it decided at lookup.
type diskNode struct {
	u      *diskUpper
	in     *hostfs.Inode
	typ    uint32
	isWh   bool
	opaque bool
	isRoot bool

	// placeholder: a device node of the sandbox, on the host an empty
	// regular file carrying xattrRdev; typ and rdev are the device's.
	placeholder bool
	rdev        uint64

	hasOrigin            bool
	originDev, originIno uint64
}

// node makes the node for the host inode hin.
func (u *diskUpper) node(hin *hostfs.Inode) *diskNode {
	d := &diskNode{u: u, in: hin, typ: hin.Type()}
	switch d.typ {
	case unix.S_IFCHR:
		if st, err := hin.Stat(nil); err == nil && st.Rdev == 0 {
			d.isWh = true
		}
	case unix.S_IFREG:
		if st, err := hin.Stat(nil); err == nil && st.Mode&encodedHint != 0 && st.Size == 0 {
			if v, err := hin.HostGetXattr(xattrRdev); err == nil {
				if typ, rdev, ok := parseRdev(v); ok {
					d.typ, d.rdev, d.placeholder = typ, rdev, true
				}
			}
		}
	case unix.S_IFDIR:
		for _, x := range []string{xattrOpaque, xattrUserOpaque} {
			if v, err := hin.HostGetXattr(x); err == nil && string(v) == "y" {
				d.opaque = true
			}
		}
	}
	return d
}

func (d *diskNode) Type() uint32     { return d.typ }
func (d *diskNode) IsDir() bool      { return d.typ == unix.S_IFDIR }
func (d *diskNode) IsWhiteout() bool { return d.isWh }
func (d *diskNode) Opaque() bool     { return d.opaque }
func (d *diskNode) Origin() (uint64, uint64, bool) {
	return d.originDev, d.originIno, d.hasOrigin
}
func (d *diskNode) SetOrigin(dev, ino uint64) {
	d.originDev, d.originIno, d.hasOrigin = dev, ino, true
}

func (d *diskNode) Ino() uint64 {
	st, err := d.in.Stat(nil)
	if err != nil {
		return 0
	}
	return st.Ino
}

// SetAttr gives the object a's attributes (the root, at first use).
func (d *diskNode) SetAttr(a Attr) {
	d.setAttr(a)
}

func (d *diskNode) setAttr(a Attr) error {
	mask := uint32(unix.STATX_UID | unix.STATX_GID | unix.STATX_ATIME | unix.STATX_MTIME)
	if d.typ != unix.S_IFLNK {
		mask |= unix.STATX_MODE
	}
	return d.setStat(nil, mask, vfs.Stat{Mode: a.Mode, UID: a.UID, GID: a.GID, Atime: a.Atime, Mtime: a.Mtime})
}

func (d *diskNode) child(ctx vfs.Context, name string) (upperNode, error) {
	c, err := d.in.Lookup(ctx, name)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return d.u.node(c.(*hostfs.Inode)), nil
}

func (d *diskNode) entries(ctx vfs.Context) ([]upperEntry, error) {
	ents, err := d.in.ReadDir(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]upperEntry, 0, len(ents))
	for _, e := range ents {
		c, err := d.child(ctx, e.Name)
		if err != nil || c == nil {
			continue // gone meanwhile
		}
		out = append(out, upperEntry{Name: e.Name, Node: c})
	}
	return out, nil
}

func (d *diskNode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	st, err := d.in.Stat(ctx)
	if err != nil {
		return st, err
	}
	return d.present(st), nil
}

func (d *diskNode) Readlink(ctx vfs.Context) (string, error) { return d.in.Readlink(ctx) }

// Open opens d's host file; a device placeholder opens as the device
// (vfs opens device nodes by number before asking the filesystem, so this
// is a fallback that never reaches the empty host file).
func (d *diskNode) Open(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	if d.placeholder {
		if flags&unix.O_PATH != 0 {
			return vfs.PathFile{}, nil
		}
		return dev.OpenNode(d.typ, d.rdev)
	}
	impl, err := d.in.Open(ctx, flags)
	if err != nil || d.typ != unix.S_IFREG || flags&unix.O_ACCMODE == unix.O_RDONLY {
		return impl, err
	}
	if hf, ok := impl.(*hostfs.File); ok {
		if st, err := d.in.Stat(ctx); err == nil && st.Mode&encodedHint != 0 {
			return &killPrivFile{File: hf, d: d}, nil
		}
	}
	return impl, nil
}

func (d *diskNode) SetStat(ctx vfs.Context, mask uint32, st vfs.Stat) error {
	return d.setStat(ctx, mask, st)
}

// hasXattrs reports whether the sandbox's extended attributes of d are
// kept (regular files and directories, as before).
func (d *diskNode) hasXattrs() bool {
	return !d.placeholder && (d.typ == unix.S_IFREG || d.typ == unix.S_IFDIR)
}

func (d *diskNode) GetXattr(ctx vfs.Context, name string) ([]byte, error) {
	host, ok := hostXattrName(name)
	if !ok || !d.hasXattrs() {
		return nil, unix.ENODATA
	}
	return d.in.HostGetXattr(host)
}

func (d *diskNode) ListXattr(ctx vfs.Context) ([]string, error) {
	if !d.hasXattrs() {
		return nil, nil
	}
	names, err := d.in.HostListXattr()
	out := names[:0]
	for _, n := range names {
		if app, ok := appXattrName(n); ok {
			out = append(out, app)
		}
	}
	return out, err
}

func (d *diskNode) SetXattr(ctx vfs.Context, name string, value []byte, flags int) error {
	host, ok := hostXattrName(name)
	if !ok {
		return unix.EPERM
	}
	if !d.hasXattrs() {
		return unix.EPERM
	}
	return d.in.HostSetXattr(host, value, flags)
}

func (d *diskNode) RemoveXattr(ctx vfs.Context, name string) error {
	host, ok := hostXattrName(name)
	if !ok {
		return unix.EPERM
	}
	if !d.hasXattrs() {
		return unix.EPERM
	}
	return d.in.HostRemoveXattr(host)
}

// clearWhiteout removes a whiteout at name, if there is one, before a new
// entry takes its place.
func (d *diskNode) clearWhiteout(ctx vfs.Context, name string) error {
	c, err := d.child(ctx, name)
	if err != nil || c == nil || !c.IsWhiteout() {
		return err
	}
	return d.in.Unlink(ctx, name)
}

// lookupNew returns the node of the entry name just made.
func (d *diskNode) lookupNew(ctx vfs.Context, name string) (upperNode, error) {
	c, err := d.child(ctx, name)
	if err == nil && c == nil {
		err = unix.ENOENT
	}
	return c, err
}

func (d *diskNode) create(ctx vfs.Context, name string, mode uint32) (upperNode, error) {
	if err := d.clearWhiteout(ctx, name); err != nil {
		return nil, err
	}
	in, err := d.in.Create(ctx, name, mode&^setIDBits)
	if err != nil {
		return nil, err
	}
	return d.encodeNew(ctx, name, d.u.node(in.(*hostfs.Inode)), mode)
}

// encodeNew gives the new entry name, n, made on the host without mode's
// set-ID bits, its real mode.
func (d *diskNode) encodeNew(ctx vfs.Context, name string, n *diskNode, mode uint32) (upperNode, error) {
	if mode&setIDBits == 0 {
		return n, nil
	}
	if err := n.setStat(ctx, unix.STATX_MODE, vfs.Stat{Mode: mode & 0o7777}); err != nil {
		d.in.Unlink(ctx, name)
		return nil, err
	}
	return n, nil
}

// makePlaceholder makes name in d a device placeholder for a device of
// type typ and number rdev, with real permissions perm, owned by uid:gid:
// an unnamed empty file given its xattrs and host mode (encodedHint only)
// before it is linked in place, so it is never seen half made.
func (d *diskNode) makePlaceholder(ctx vfs.Context, name string, typ, perm uint32, rdev uint64, uid, gid uint32) (upperNode, error) {
	t, err := d.u.fs.NewTempFile()
	if err != nil {
		return nil, err
	}
	defer t.Drop()
	for _, step := range []func() error{
		func() error { return t.Chown(uid, gid) },
		func() error { return t.SetXattr(xattrRdev, formatRdev(typ, rdev)) },
		func() error { return t.SetXattr(xattrMode, formatPerm(perm)) },
		func() error { return t.Chmod(encodedHint) },
		func() error { return d.in.LinkTempFile(t, name) },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return d.lookupNew(ctx, name)
}

// newOwner is the owner of a new entry of d made by ctx, as Linux gives
// it: the caller's, with the directory's group if it is set-group-ID.
func (d *diskNode) newOwner(ctx vfs.Context) (uint32, uint32) {
	if ctx == nil {
		return 0, 0
	}
	uid, gid := ctx.UID(), ctx.GID()
	if st, err := d.Stat(ctx); err == nil && st.Mode&unix.S_ISGID != 0 {
		gid = st.GID
	}
	return uid, gid
}

func (d *diskNode) mkdirOpaque(ctx vfs.Context, name string, mode uint32) (upperNode, error) {
	if err := d.clearWhiteout(ctx, name); err != nil {
		return nil, err
	}
	if err := d.in.Mkdir(ctx, name, mode); err != nil {
		return nil, err
	}
	c, err := d.lookupNew(ctx, name)
	if err != nil {
		return nil, err
	}
	cd := c.(*diskNode)
	if err := cd.in.HostSetXattr(xattrOpaque, []byte("y"), 0); err != nil {
		d.in.Rmdir(ctx, name)
		return nil, err
	}
	cd.opaque = true
	return cd, nil
}

func (d *diskNode) symlink(ctx vfs.Context, name, target string) (upperNode, error) {
	if err := d.clearWhiteout(ctx, name); err != nil {
		return nil, err
	}
	if err := d.in.Symlink(ctx, name, target); err != nil {
		return nil, err
	}
	return d.lookupNew(ctx, name)
}

func (d *diskNode) mknod(ctx vfs.Context, name string, mode uint32, dev uint64) (upperNode, error) {
	if err := d.clearWhiteout(ctx, name); err != nil {
		return nil, err
	}
	switch typ := mode & unix.S_IFMT; typ {
	case unix.S_IFCHR, unix.S_IFBLK:
		uid, gid := d.newOwner(ctx)
		return d.makePlaceholder(ctx, name, typ, mode&0o7777, dev, uid, gid)
	}
	if err := d.in.MknodSpecial(ctx, name, mode&^setIDBits, dev); err != nil {
		return nil, err
	}
	n, err := d.lookupNew(ctx, name)
	if err != nil {
		return nil, err
	}
	return d.encodeNew(ctx, name, n.(*diskNode), mode)
}

func (d *diskNode) link(ctx vfs.Context, name string, target upperNode) (upperNode, error) {
	if err := d.clearWhiteout(ctx, name); err != nil {
		return nil, err
	}
	if err := d.in.Link(ctx, name, target.(*diskNode).in); err != nil {
		return nil, err
	}
	c, err := d.lookupNew(ctx, name)
	if err == nil {
		t := target.(*diskNode)
		c.(*diskNode).originDev, c.(*diskNode).originIno, c.(*diskNode).hasOrigin = t.originDev, t.originIno, t.hasOrigin
	}
	return c, err
}

// purgeWhiteouts removes the whiteouts in directory d, so that it can be
// removed or replaced once the merged view shows it empty.
func (d *diskNode) purgeWhiteouts(ctx vfs.Context) error {
	ents, err := d.entries(ctx)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Node.IsWhiteout() {
			return unix.ENOTEMPTY
		}
	}
	for _, e := range ents {
		if err := d.in.Unlink(ctx, e.Name); err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
	return nil
}

func (d *diskNode) whiteout(ctx vfs.Context, name string) error {
	c, err := d.child(ctx, name)
	if err != nil {
		return err
	}
	switch {
	case c == nil:
	case c.IsWhiteout():
		return nil
	case c.IsDir():
		if err := c.(*diskNode).purgeWhiteouts(ctx); err != nil {
			return err
		}
		if err := d.in.Rmdir(ctx, name); err != nil {
			return err
		}
	default:
		if err := d.in.Unlink(ctx, name); err != nil {
			return err
		}
	}
	return d.in.MakeWhiteout(name)
}

func (d *diskNode) unlink(ctx vfs.Context, name string) error { return d.in.Unlink(ctx, name) }

func (d *diskNode) rmdir(ctx vfs.Context, name string) error {
	if c, err := d.child(ctx, name); err == nil && c != nil && c.IsDir() {
		if err := c.(*diskNode).purgeWhiteouts(ctx); err != nil {
			return err
		}
	}
	return d.in.Rmdir(ctx, name)
}

func (d *diskNode) rename(ctx vfs.Context, oldName string, newDir upperNode, newName string, flags uint32) error {
	nd := newDir.(*diskNode)
	wh := flags&unix.RENAME_WHITEOUT != 0
	flags &^= unix.RENAME_WHITEOUT
	if flags&unix.RENAME_EXCHANGE == 0 {
		c, err := nd.child(ctx, newName)
		if err != nil {
			return err
		}
		switch {
		case c == nil:
		case c.IsWhiteout():
			if err := nd.in.Unlink(ctx, newName); err != nil {
				return err
			}
		case c.IsDir():
			if err := c.(*diskNode).purgeWhiteouts(ctx); err != nil {
				return err
			}
		}
	}
	if err := d.in.Rename(ctx, oldName, nd.in, newName, flags); err != nil {
		return err
	}
	if wh {
		return d.in.MakeWhiteout(oldName)
	}
	return nil
}

// copyUpEntry makes name in d as c describes, with exactly c's attributes
// and without changing d's times.
func (d *diskNode) copyUpEntry(ctx vfs.Context, name string, c copyUpSpec) (upperNode, error) {
	dst, err := d.in.Stat(nil)
	if err != nil {
		return nil, err
	}
	if err := d.clearWhiteout(ctx, name); err != nil {
		return nil, err
	}
	switch c.Type {
	case unix.S_IFDIR:
		err = d.in.Mkdir(nil, name, 0o700)
	case unix.S_IFLNK:
		err = d.in.Symlink(nil, name, c.Target)
	case unix.S_IFREG:
		if t, ok := c.Data.(*hostfs.TempFile); ok && t != nil {
			err = d.in.LinkTempFile(t, name)
		} else {
			_, err = d.in.Create(nil, name, 0o600)
		}
	case unix.S_IFIFO:
		err = d.in.Mknod(nil, name, unix.S_IFIFO|0o600, 0)
	case unix.S_IFSOCK:
		err = d.in.MknodSpecial(rootCtx{}, name, c.Type|0o600, 0)
	case unix.S_IFCHR, unix.S_IFBLK:
	default:
		return nil, unix.EINVAL
	}
	if err != nil {
		return nil, err
	}
	var n upperNode
	if c.Type == unix.S_IFCHR || c.Type == unix.S_IFBLK {
		n, err = d.makePlaceholder(ctx, name, c.Type, 0, c.Rdev, 0, 0)
	} else {
		n, err = d.lookupNew(ctx, name)
	}
	if err != nil {
		return nil, err
	}
	dn := n.(*diskNode)
	if err := dn.setAttr(c.Attr); err != nil {
		return nil, err
	}
	dn.SetOrigin(c.OriginDev, c.OriginIno)
	d.in.SetStat(nil, unix.STATX_ATIME|unix.STATX_MTIME, dst) // copy-up is invisible
	return dn, nil
}

// rootCtx is the sentry itself as a vfs.Context: root.
type rootCtx struct{}

func (rootCtx) UID() uint32 { return 0 }
func (rootCtx) GID() uint32 { return 0 }
