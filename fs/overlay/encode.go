package overlay

// moat's private encodings in an on-disk upper layer (see disk.go): what
// the sandbox makes that the host kernel would honour as a privilege is
// kept in a form the host gives no meaning to.

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/fs/hostfs"
	"moat/vfs"
)

const (
	moatPrefix = "trusted.moat."
	// xattrMode holds an object's real permission bits (octal text),
	// when the host's differ: set-ID files, device placeholders, DIR.
	xattrMode = "trusted.moat.mode"
	// xattrRdev makes an empty regular file a device placeholder: "c 1:3"
	// or "b 8:0".
	xattrRdev = "trusted.moat.rdev"
	// xattrOwner holds the upper root's real owner ("uid:gid"): DIR itself
	// stays root's.
	xattrOwner = "trusted.moat.owner"
	// xattrApp prefixes the host name of every extended attribute of the
	// sandbox's outside user.* (see hostXattrName).
	xattrApp = "trusted.moat.x."

	setIDBits = unix.S_ISUID | unix.S_ISGID
	// encodedHint is the host bit that says "see trusted.moat.mode" on a
	// non-directory: the sticky bit, which Linux ignores on everything
	// but directories. Objects without it need no xattr read.
	encodedHint = unix.S_ISVTX
	// rootHostMode is DIR's own mode on the host.
	rootHostMode = 0o700
)

// hostXattrName returns the host name under which the sandbox's extended
// attribute name is kept; ok is false for names the sandbox may not use
// (moat's and overlayfs's own).
func hostXattrName(name string) (string, bool) {
	switch {
	case strings.HasPrefix(name, moatPrefix), strings.HasPrefix(name, overlayPrefix):
		return "", false
	case strings.HasPrefix(name, "user.") && !strings.HasPrefix(name, "user.overlay."):
		return name, true
	}
	return xattrApp + name, true
}

// appXattrName is the inverse of hostXattrName: the sandbox's name for the
// host attribute name, if the sandbox made it.
func appXattrName(host string) (string, bool) {
	switch {
	case strings.HasPrefix(host, xattrApp):
		return host[len(xattrApp):], true
	case strings.HasPrefix(host, "user.") && !strings.HasPrefix(host, "user.overlay."):
		return host, true
	}
	return "", false
}

func formatPerm(perm uint32) []byte { return []byte(strconv.FormatUint(uint64(perm&0o7777), 8)) }

func parsePerm(v []byte) (uint32, bool) {
	n, err := strconv.ParseUint(string(v), 8, 32)
	if err != nil || n&^0o7777 != 0 {
		return 0, false
	}
	return uint32(n), true
}

func formatRdev(typ uint32, rdev uint64) []byte {
	c := "c"
	if typ == unix.S_IFBLK {
		c = "b"
	}
	return fmt.Appendf(nil, "%s %d:%d", c, unix.Major(rdev), unix.Minor(rdev))
}

func parseRdev(v []byte) (typ uint32, rdev uint64, ok bool) {
	var c string
	var maj, min uint32
	if n, err := fmt.Sscanf(string(v), "%1s %d:%d", &c, &maj, &min); err != nil || n != 3 {
		return 0, 0, false
	}
	switch c {
	case "c":
		typ = unix.S_IFCHR
	case "b":
		typ = unix.S_IFBLK
	default:
		return 0, 0, false
	}
	return typ, unix.Mkdev(maj, min), true
}

func formatOwner(uid, gid uint32) []byte { return fmt.Appendf(nil, "%d:%d", uid, gid) }

func parseOwner(v []byte) (uid, gid uint32, ok bool) {
	a, b, found := strings.Cut(string(v), ":")
	u, err1 := strconv.ParseUint(a, 10, 32)
	g, err2 := strconv.ParseUint(b, 10, 32)
	return uint32(u), uint32(g), found && err1 == nil && err2 == nil
}

// killSetID is what Linux leaves of perm when a caller without
// CAP_FSETID writes to the file, or anyone changes its owner: no
// set-user-ID bit, and no set-group-ID bit if group execution is allowed
// (without it, the bit means mandatory locking, which stays).
func killSetID(perm uint32) uint32 {
	perm &^= unix.S_ISUID
	if perm&unix.S_IXGRP != 0 {
		perm &^= unix.S_ISGID
	}
	return perm
}

// recorded reports whether an object of the upper layer with real
// permissions perm needs them in xattrMode, and what its host mode is.
// Directories keep their mode on the host (set-group-ID on a directory
// gives new entries its group, which the host needs to do; set-user-ID
// means nothing there); other objects lose their set-ID bits, and device
// placeholders every bit but the hint.
func (d *diskNode) hostPerm(perm uint32) (host uint32, record bool) {
	switch {
	case d.placeholder:
		return encodedHint, true
	case d.typ == unix.S_IFDIR || d.typ == unix.S_IFLNK:
		return perm, false
	case perm&setIDBits != 0:
		return perm&^setIDBits | encodedHint, true
	}
	return perm, false
}

// recordedPerm returns the real permission bits recorded for d, if any.
func (d *diskNode) recordedPerm() (uint32, bool) {
	v, err := d.in.HostGetXattr(xattrMode)
	if err != nil {
		return 0, false
	}
	return parsePerm(v)
}

// present turns the host attributes of d into the sandbox's.
func (d *diskNode) present(st vfs.Stat) vfs.Stat {
	switch {
	case d.isRoot:
		d.u.mu.Lock()
		st.Mode = unix.S_IFDIR | d.u.rootPerm
		st.UID, st.GID = d.u.rootUID, d.u.rootGID
		d.u.mu.Unlock()
	case d.placeholder:
		perm, _ := d.recordedPerm()
		st.Mode = d.typ | perm
		st.Rdev = d.rdev
		st.Size, st.Blocks = 0, 0
	case st.Mode&encodedHint != 0 && d.typ != unix.S_IFDIR && d.typ != unix.S_IFLNK:
		if perm, ok := d.recordedPerm(); ok {
			st.Mode = st.Mode&unix.S_IFMT | perm
		}
	}
	return st
}

// setStat changes attributes of d (the sandbox's chmod, chown, truncate,
// utimensat, and copy-up), keeping the encodings: the real mode goes to
// xattrMode before the host mode changes, so that the host never sees a
// set-ID bit and the sandbox never sees one disappear; changing the owner
// without the mode clears set-ID bits as Linux's chown does.
func (d *diskNode) setStat(ctx vfs.Context, mask uint32, st vfs.Stat) error {
	if d.isRoot {
		return d.setRootStat(ctx, mask, st)
	}
	if d.typ == unix.S_IFDIR || d.typ == unix.S_IFLNK {
		return d.in.SetStat(ctx, mask, st)
	}
	if d.placeholder && mask&unix.STATX_SIZE != 0 {
		return unix.EINVAL // truncate(2) of a device
	}
	cur, err := d.Stat(ctx)
	if err != nil {
		return err
	}
	perm := cur.Mode & 0o7777
	newPerm := perm
	switch {
	case mask&unix.STATX_MODE != 0:
		newPerm = st.Mode & 0o7777
	case mask&(unix.STATX_UID|unix.STATX_GID) != 0:
		newPerm = killSetID(perm)
	}
	hostMask := mask &^ unix.STATX_MODE
	host, record := d.hostPerm(newPerm)
	if mask&unix.STATX_MODE != 0 || newPerm != perm {
		if record {
			if err := d.in.HostSetXattr(xattrMode, formatPerm(newPerm), 0); err != nil {
				return err
			}
		}
		hostMask |= unix.STATX_MODE
		st.Mode = host
	}
	if err := d.in.SetStat(ctx, hostMask, st); err != nil {
		return err
	}
	if hostMask&unix.STATX_MODE != 0 && !record {
		if err := d.in.HostRemoveXattr(xattrMode); err != nil && err != unix.ENODATA {
			return err
		}
	}
	return nil
}

// setRootStat changes the upper root's attributes: its mode and owner are
// the sandbox's "/" and live in xattrs (DIR stays root's, mode 0700, on
// the host); its times are DIR's.
func (d *diskNode) setRootStat(ctx vfs.Context, mask uint32, st vfs.Stat) error {
	u := d.u
	if mask&unix.STATX_SIZE != 0 {
		return unix.EISDIR
	}
	u.mu.Lock()
	perm, uid, gid := u.rootPerm, u.rootUID, u.rootGID
	u.mu.Unlock()
	if mask&unix.STATX_MODE != 0 {
		perm = st.Mode & 0o7777
	}
	if mask&unix.STATX_UID != 0 {
		uid = st.UID
	}
	if mask&unix.STATX_GID != 0 {
		gid = st.GID
	}
	if err := u.saveRoot(perm, uid, gid); err != nil {
		return err
	}
	if mask &= unix.STATX_ATIME | unix.STATX_MTIME; mask != 0 {
		return d.in.SetStat(ctx, mask, st)
	}
	return nil
}

// saveRoot records the upper root's real mode and owner.
func (u *diskUpper) saveRoot(perm, uid, gid uint32) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	root := u.fs.Root()
	if err := root.HostSetXattr(xattrMode, formatPerm(perm), 0); err != nil {
		return err
	}
	if err := root.HostSetXattr(xattrOwner, formatOwner(uid, gid), 0); err != nil {
		return err
	}
	u.rootPerm, u.rootUID, u.rootGID = perm, uid, gid
	return nil
}

// loadRoot reads the upper root's real mode and owner; a DIR without them
// (an earlier moat's) has them on the host, and they are recorded now,
// before DIR's host mode is narrowed.
func (u *diskUpper) loadRoot() error {
	root := u.fs.Root()
	pv, err1 := root.HostGetXattr(xattrMode)
	ov, err2 := root.HostGetXattr(xattrOwner)
	perm, ok1 := parsePerm(pv)
	uid, gid, ok2 := parseOwner(ov)
	if err1 == nil && err2 == nil && ok1 && ok2 {
		u.rootPerm, u.rootUID, u.rootGID = perm, uid, gid
		return nil
	}
	st, err := root.Stat(nil)
	if err != nil {
		return err
	}
	return u.saveRoot(st.Mode&0o7777, st.UID, st.GID)
}

// killPrivFile is an upper regular file with recorded set-ID bits, open
// for writing: a write by a caller without CAP_FSETID clears them, as
// Linux's file_remove_privs does (the host cannot: it never sees them).
type killPrivFile struct {
	*hostfs.File
	d *diskNode
}

// Write implements vfs.FileImpl.
func (f *killPrivFile) Write(ctx vfs.Context, src []byte, off int64) (int, error) {
	n, err := f.File.Write(ctx, src, off)
	if n > 0 && !vfs.Capable(ctx, linux.CAP_FSETID) {
		if perm, ok := f.d.recordedPerm(); ok && perm&setIDBits != 0 && killSetID(perm) != perm {
			f.d.setStat(ctx, unix.STATX_MODE, vfs.Stat{Mode: killSetID(perm)})
		}
	}
	return n, err
}
