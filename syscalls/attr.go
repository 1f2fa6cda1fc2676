package syscalls

import (
	"time"

	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/arch"
	"moat/kernel"
	"moat/vfs"
)

// setAttr changes attributes of the inode at p, checking what Linux
// checks: a read-only mount (EROFS), and ownership for chmod and utimes
// (EPERM, unless the caller has CAP_FOWNER).
func setAttr(t *kernel.Task, p vfs.Path, mask uint32, st vfs.Stat, ownerOnly bool) error {
	if p.Dentry == nil {
		return unix.EPERM
	}
	if p.Mount.ReadOnly() {
		return unix.EROFS
	}
	in := p.Inode()
	if ownerOnly {
		cur, err := in.Stat(t)
		if err != nil {
			return err
		}
		if c := t.Creds(); c.FSUID != cur.UID && !c.HasCap(linux.CAP_FOWNER) {
			return unix.EPERM
		}
	}
	s, ok := in.(vfs.AttrSetter)
	if !ok {
		return unix.EPERM // support: this filesystem's attributes are fixed
	}
	if err := s.SetStat(t, mask, st); err != nil {
		return err
	}
	if mask&unix.STATX_SIZE != 0 {
		vfs.NotifyPath(p, vfs.InModify)
	}
	if mask&^unix.STATX_SIZE != 0 {
		vfs.NotifyPath(p, vfs.InAttrib)
	}
	return nil
}

// pathOrFD resolves a path argument, or the fd itself for an empty path
// with AT_EMPTY_PATH (fd-based calls pass emptyOK).
func pathOrFD(t *kernel.Task, dirfd int32, pathAddr uintptr, follow, emptyOK bool) (vfs.Path, error) {
	p, f, err := pathAt(t, dirfd, pathAddr, follow, emptyOK)
	if f != nil {
		f.DecRef()
	}
	return p, err
}

func fdPath(t *kernel.Task, fd uintptr) (vfs.Path, error) {
	f, err := getFile(t, fd)
	if err != nil {
		return vfs.Path{}, err
	}
	defer f.DecRef()
	return f.Path(), nil
}

func chmodPath(t *kernel.Task, p vfs.Path, mode uint32) (uintptr, error) {
	return 0, setAttr(t, p, unix.STATX_MODE, vfs.Stat{Mode: mode & 0o7777}, true)
}

func sysChmod(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	p, err := pathOrFD(t, unix.AT_FDCWD, a[0], true, false)
	if err != nil {
		return 0, err
	}
	return chmodPath(t, p, uint32(a[1]))
}

func sysFchmod(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	p, err := fdPath(t, a[0])
	if err != nil {
		return 0, err
	}
	return chmodPath(t, p, uint32(a[1]))
}

func sysFchmodat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	p, err := pathOrFD(t, int32(a[0]), a[1], true, false)
	if err != nil {
		return 0, err
	}
	return chmodPath(t, p, uint32(a[2]))
}

func chownPath(t *kernel.Task, p vfs.Path, uid, gid uint32) (uintptr, error) {
	var mask uint32
	st := vfs.Stat{UID: uid, GID: gid}
	if uid != ^uint32(0) {
		mask |= unix.STATX_UID
	}
	if gid != ^uint32(0) {
		mask |= unix.STATX_GID
	}
	if mask != 0 && !t.HasCapability(linux.CAP_CHOWN) {
		// Without CAP_CHOWN, the owner may "change" the owner to
		// itself and the group to one of its groups.
		if p.Dentry == nil {
			return 0, unix.EPERM
		}
		cur, err := p.Inode().Stat(t)
		if err != nil {
			return 0, err
		}
		c := t.Creds()
		if c.FSUID != cur.UID || mask&unix.STATX_UID != 0 && uid != cur.UID ||
			mask&unix.STATX_GID != 0 && gid != cur.GID && gid != c.FSGID && !contains(c.Groups, gid) {
			return 0, unix.EPERM
		}
	}
	if mask == 0 {
		if p.Mount != nil && p.Mount.ReadOnly() {
			return 0, unix.EROFS
		}
		return 0, nil
	}
	return 0, setAttr(t, p, mask, st, false)
}

func sysChown(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	p, err := pathOrFD(t, unix.AT_FDCWD, a[0], true, false)
	if err != nil {
		return 0, err
	}
	return chownPath(t, p, uint32(a[1]), uint32(a[2]))
}

func sysLchown(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	p, err := pathOrFD(t, unix.AT_FDCWD, a[0], false, false)
	if err != nil {
		return 0, err
	}
	return chownPath(t, p, uint32(a[1]), uint32(a[2]))
}

func sysFchown(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	p, err := fdPath(t, a[0])
	if err != nil {
		return 0, err
	}
	return chownPath(t, p, uint32(a[1]), uint32(a[2]))
}

func sysFchownat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	flags := uint32(a[4])
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	p, err := pathOrFD(t, int32(a[0]), a[1], flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return 0, err
	}
	return chownPath(t, p, uint32(a[2]), uint32(a[3]))
}

func truncatePath(t *kernel.Task, p vfs.Path, size int64) (uintptr, error) {
	if size < 0 {
		return 0, unix.EINVAL
	}
	st, err := p.Inode().Stat(t)
	if err != nil {
		return 0, err
	}
	if st.IsDir() {
		return 0, unix.EISDIR
	}
	if err := truncateLimit(t, st.Size, size); err != nil {
		return 0, err
	}
	return 0, setAttr(t, p, unix.STATX_SIZE, vfs.Stat{Size: size}, false)
}

// truncateLimit applies RLIMIT_FSIZE to a truncation from size old to
// size, as Linux's inode_newsize_ok: growing a file beyond the limit
// fails with EFBIG and sends SIGXFSZ.
func truncateLimit(t *kernel.Task, old, size int64) error {
	if limit := t.FileSizeLimit(); size > old && uint64(size) > limit {
		t.SendSignalSelf(unix.SIGXFSZ)
		return unix.EFBIG
	}
	return nil
}

func sysTruncate(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	p, err := pathOrFD(t, unix.AT_FDCWD, a[0], true, false)
	if err != nil {
		return 0, err
	}
	return truncatePath(t, p, int64(a[1]))
}

func sysFtruncate(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, err := getFile(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if int64(a[1]) < 0 || !f.Writable() {
		return 0, unix.EINVAL
	}
	if tr, ok := f.Impl().(vfs.Truncater); ok {
		if st, err := f.Stat(t); err == nil {
			if err := truncateLimit(t, st.Size, int64(a[1])); err != nil {
				return 0, err
			}
		}
		if err := tr.Truncate(int64(a[1])); err != nil {
			return 0, err
		}
		vfs.NotifyFile(f, vfs.InModify)
		return 0, nil
	}
	if f.Path().Dentry == nil {
		return 0, unix.EINVAL
	}
	return truncatePath(t, f.Path(), int64(a[1]))
}

// utimensat's special nanosecond values.
const (
	utimeNow  = 1<<30 - 1
	utimeOmit = 1<<30 - 2
)

func sysUtimensat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	dirfd, pathAddr, timesAddr, flags := int32(a[0]), a[1], a[2], uint32(a[3])
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	now := time.Now()
	ts := [2]vfs.Timespec{{Sec: now.Unix(), Nsec: int64(now.Nanosecond())}, {Sec: now.Unix(), Nsec: int64(now.Nanosecond())}}
	mask := uint32(unix.STATX_ATIME | unix.STATX_MTIME)
	explicit := false
	if timesAddr != 0 {
		b := make([]byte, 32)
		if err := copyIn(t, timesAddr, b); err != nil {
			return 0, err
		}
		for i := 0; i < 2; i++ {
			sec, nsec := int64(le.Uint64(b[16*i:])), int64(le.Uint64(b[16*i+8:]))
			switch {
			case nsec == utimeOmit:
				mask &^= []uint32{unix.STATX_ATIME, unix.STATX_MTIME}[i]
			case nsec == utimeNow:
			case nsec < 0 || nsec >= 1e9:
				return 0, unix.EINVAL
			default:
				ts[i] = vfs.Timespec{Sec: sec, Nsec: nsec}
				explicit = true
			}
		}
	}
	var p vfs.Path
	var err error
	if pathAddr == 0 { // futimens: the fd itself
		p, err = fdPath(t, uintptr(uint32(dirfd)))
	} else {
		p, err = pathOrFD(t, dirfd, pathAddr, flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
	}
	if err != nil {
		return 0, err
	}
	if mask == 0 {
		return 0, nil
	}
	return 0, setAttr(t, p, mask, vfs.Stat{Atime: ts[0], Mtime: ts[1]}, explicit)
}

// sysUtimes is utimes(path, times): times is NULL (now) or two timevals,
// access then modification.
func sysUtimes(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return futimesAt(t, unix.AT_FDCWD, a[0], a[1])
}

// sysFutimesat is futimesat(dirfd, path, times), utimes relative to dirfd
// (a NULL path means dirfd itself).
func sysFutimesat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return futimesAt(t, int32(a[0]), a[1], a[2])
}

// sysUtime is utime(path, times): times is NULL (now) or a utimbuf of two
// whole seconds, access then modification.
func sysUtime(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	var ts *[2]vfs.Timespec
	if a[1] != 0 {
		b := make([]byte, 16)
		if err := copyIn(t, a[1], b); err != nil {
			return 0, err
		}
		ts = &[2]vfs.Timespec{{Sec: int64(le.Uint64(b))}, {Sec: int64(le.Uint64(b[8:]))}}
	}
	return setTimesAt(t, unix.AT_FDCWD, a[0], ts)
}

func futimesAt(t *kernel.Task, dirfd int32, pathAddr, timesAddr uintptr) (uintptr, error) {
	var ts *[2]vfs.Timespec
	if timesAddr != 0 {
		b := make([]byte, 32)
		if err := copyIn(t, timesAddr, b); err != nil {
			return 0, err
		}
		ts = new([2]vfs.Timespec)
		for i := range 2 {
			sec, usec := int64(le.Uint64(b[16*i:])), int64(le.Uint64(b[16*i+8:]))
			if usec < 0 || usec >= 1e6 {
				return 0, unix.EINVAL
			}
			ts[i] = vfs.Timespec{Sec: sec, Nsec: usec * 1000}
		}
	}
	return setTimesAt(t, dirfd, pathAddr, ts)
}

// setTimesAt sets both times of the file at dirfd/path (dirfd itself for a
// NULL path), following symlinks: to ts, or to now when ts is nil.
func setTimesAt(t *kernel.Task, dirfd int32, pathAddr uintptr, ts *[2]vfs.Timespec) (uintptr, error) {
	explicit := ts != nil
	if ts == nil {
		now := time.Now()
		n := vfs.Timespec{Sec: now.Unix(), Nsec: int64(now.Nanosecond())}
		ts = &[2]vfs.Timespec{n, n}
	}
	var p vfs.Path
	var err error
	if pathAddr == 0 {
		p, err = fdPath(t, uintptr(uint32(dirfd)))
	} else {
		p, err = pathOrFD(t, dirfd, pathAddr, true, false)
	}
	if err != nil {
		return 0, err
	}
	return 0, setAttr(t, p, unix.STATX_ATIME|unix.STATX_MTIME, vfs.Stat{Atime: ts[0], Mtime: ts[1]}, explicit)
}

func linkAt(t *kernel.Task, olddirfd int32, oldAddr uintptr, newdirfd int32, newAddr uintptr, flags uint32) (uintptr, error) {
	if flags&^(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	old, err := pathOrFD(t, olddirfd, oldAddr, flags&unix.AT_SYMLINK_FOLLOW != 0, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return 0, err
	}
	dir, name, trailing, err := newEntryAt(t, newdirfd, newAddr)
	if err != nil {
		return 0, err
	}
	st, err := old.Inode().Stat(t)
	if err != nil {
		return 0, err
	}
	if st.IsDir() {
		return 0, unix.EPERM
	}
	if trailing {
		return 0, unix.ENOENT
	}
	if old.Mount != dir.Mount {
		return 0, unix.EXDEV
	}
	if err := writableDir(t, dir); err != nil {
		return 0, err
	}
	l, ok := dir.Inode().(vfs.Linker)
	if !ok {
		return 0, unix.EPERM
	}
	return 0, l.Link(t, name, old.Inode())
}

func sysLink(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return linkAt(t, unix.AT_FDCWD, a[0], unix.AT_FDCWD, a[1], 0)
}

func sysLinkat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return linkAt(t, int32(a[0]), a[1], int32(a[2]), a[3], uint32(a[4]))
}
