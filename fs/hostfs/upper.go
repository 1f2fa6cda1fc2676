package hostfs

// Primitives for fs/overlay's on-disk upper layer (moat run --upper DIR),
// on a writable FS. They keep writable.go's confinement: every call acts
// on a descriptor opened beneath the root without following symlinks,
// with a single checked name.

import (
	"golang.org/x/sys/unix"

	"moat/vfs"
)

// MakeWhiteout makes the entry name of directory in an overlayfs whiteout:
// a character device with device number 0:0 (which Linux lets anyone make
// since 5.8, and which opens as nothing). The name must be free.
func (in *Inode) MakeWhiteout(name string) error {
	return in.mknodAt(name, unix.S_IFCHR, 0)
}

// MknodSpecial makes a socket called name in directory in, owned by the
// caller, with mode's permissions (mode must not carry set-ID bits: see
// fs/overlay's encodings); FIFOs and regular files: Mknod. Device nodes
// are never made on the host (EPERM): fs/overlay keeps the sandbox's as
// placeholders (NewTempFile, LinkTempFile), and MakeWhiteout makes the one
// harmless kind, 0:0.
func (in *Inode) MknodSpecial(ctx vfs.Context, name string, mode uint32, dev uint64) error {
	typ := mode & unix.S_IFMT
	switch typ {
	case unix.S_IFSOCK:
	case unix.S_IFCHR, unix.S_IFBLK:
		return unix.EPERM
	default:
		return in.Mknod(ctx, name, mode, dev)
	}
	if !in.fs.writable {
		return unix.EROFS
	}
	if err := in.mknodAt(name, typ|mode&0o7777, 0); err != nil {
		return err
	}
	c, err := in.Lookup(ctx, name)
	if err != nil {
		return nil
	}
	var st vfs.Stat
	st.UID, st.GID, st.Mode = ctx.UID(), ctx.GID(), mode&0o7777
	return c.(*Inode).setStat(unix.STATX_UID|unix.STATX_GID|unix.STATX_MODE, st)
}

// mknodAt is mknodat(2) of name in directory in.
func (in *Inode) mknodAt(name string, mode uint32, dev uint64) error {
	if !in.fs.writable {
		return unix.EROFS
	}
	_, _, dfd, err := in.openEntryDir(name)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := unix.Mknodat(dfd, name, mode, int(dev)); err != nil {
		return err
	}
	in.fs.changes.Add(1)
	return nil
}

// withProcPath calls fn with a /proc/self/fd path that leads to exactly
// the file of in (a regular file, directory, FIFO or socket: the path is
// followed, and leads to the inode itself without opening it; never a
// symlink or device node).
func (in *Inode) withProcPath(fn func(path string) error) error {
	switch in.typ {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFIFO, unix.S_IFSOCK:
	default:
		return unix.EPERM
	}
	rel, err := in.path()
	if err != nil {
		return err
	}
	fd, err := in.fs.open(rel, unix.O_PATH)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	st, err := fstat(fd)
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != in.typ {
		return unix.ENOENT // replaced on the host
	}
	p, ok := procFDPath(fd)
	if !ok {
		return unix.EOPNOTSUPP
	}
	return fn(p)
}

// HostGetXattr returns the host extended attribute name of in (a regular
// file, directory, FIFO or socket; others: EPERM).
func (in *Inode) HostGetXattr(name string) ([]byte, error) {
	var val []byte
	err := in.withProcPath(func(p string) error {
		buf := make([]byte, 256)
		for {
			n, err := unix.Getxattr(p, name, buf)
			if err == unix.ERANGE && len(buf) < vfs.XattrSizeMax {
				buf = make([]byte, vfs.XattrSizeMax)
				continue
			}
			if err != nil {
				return err
			}
			val = buf[:n]
			return nil
		}
	})
	return val, err
}

// HostListXattr lists the host extended attributes of in.
func (in *Inode) HostListXattr() ([]string, error) {
	var names []string
	err := in.withProcPath(func(p string) error {
		buf := make([]byte, vfs.XattrListMax)
		n, err := unix.Listxattr(p, buf)
		if err != nil {
			return err
		}
		start := 0
		for i := 0; i < n; i++ {
			if buf[i] == 0 {
				if i > start {
					names = append(names, string(buf[start:i]))
				}
				start = i + 1
			}
		}
		return nil
	})
	return names, err
}

// HostSetXattr sets the host extended attribute name of in.
func (in *Inode) HostSetXattr(name string, value []byte, flags int) error {
	if !in.fs.writable {
		return unix.EROFS
	}
	defer in.fs.changes.Add(1)
	return in.withProcPath(func(p string) error { return unix.Setxattr(p, name, value, flags) })
}

// HostRemoveXattr removes the host extended attribute name of in.
func (in *Inode) HostRemoveXattr(name string) error {
	if !in.fs.writable {
		return unix.EROFS
	}
	defer in.fs.changes.Add(1)
	return in.withProcPath(func(p string) error { return unix.Removexattr(p, name) })
}

// TempFile is an unnamed file of a writable FS (O_TMPFILE), filled and
// then linked into the tree (LinkTempFile): overlay copy-up.
type TempFile struct {
	fd int
}

// NewTempFile makes an unnamed regular file, mode 0600, on the root's
// filesystem.
func (fs *FS) NewTempFile() (*TempFile, error) {
	if !fs.writable {
		return nil, unix.EROFS
	}
	fd, err := openAt(fs.rootFD, ".", unix.O_TMPFILE|unix.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	return &TempFile{fd: fd}, nil
}

// SetXattr sets the host extended attribute name of the file.
func (t *TempFile) SetXattr(name string, value []byte) error {
	return unix.Fsetxattr(t.fd, name, value, 0)
}

// Chown sets the file's owner and group.
func (t *TempFile) Chown(uid, gid uint32) error { return unix.Fchown(t.fd, int(uid), int(gid)) }

// Chmod sets the file's permission bits (after Chown, which may clear
// set-ID bits).
func (t *TempFile) Chmod(mode uint32) error { return unix.Fchmod(t.fd, mode&0o7777) }

// WriteAt writes p at off.
func (t *TempFile) WriteAt(p []byte, off int64) (int, error) { return pwriteAll(t.fd, p, off) }

// Truncate sets the file's size.
func (t *TempFile) Truncate(size int64) error { return ftruncate(t.fd, size) }

// Drop closes the file; unlinked, it is gone.
func (t *TempFile) Drop() {
	if t.fd >= 0 {
		unix.Close(t.fd)
		t.fd = -1
	}
}

// LinkTempFile gives t the name name in directory in (linkat with
// AT_EMPTY_PATH, or through /proc/self/fd where the host refuses that).
func (in *Inode) LinkTempFile(t *TempFile, name string) error {
	if !in.fs.writable {
		return unix.EROFS
	}
	_, _, dfd, err := in.openEntryDir(name)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	err = unix.Linkat(t.fd, "", dfd, name, unix.AT_EMPTY_PATH)
	if err == unix.ENOENT || err == unix.EPERM {
		if pp, ok := procFDPath(t.fd); ok {
			err = unix.Linkat(unix.AT_FDCWD, pp, dfd, name, unix.AT_SYMLINK_FOLLOW)
		}
	}
	if err == nil {
		in.fs.changes.Add(1)
	}
	return err
}

// Statfs returns the host statfs(2) of the FS's root.
func (fs *FS) Statfs() (unix.Statfs_t, error) {
	var s unix.Statfs_t
	err := unix.Fstatfs(fs.rootFD, &s)
	return s, err
}
