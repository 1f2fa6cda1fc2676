package syscalls

import (
	"errors"

	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/arch"
	"moat/fs/pipe"
	"moat/kernel"
	"moat/vfs"
)

// oLargefile is O_LARGEFILE as the kernel stores it on x86-64 (x/sys
// defines it as 0 there); open(2) always sets it on 64-bit, so F_GETFL
// shows it.
const oLargefile = 0x8000

// openFlagsKnown are the open(2) flags Linux accepts.
const openFlagsKnown = unix.O_ACCMODE | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC |
	unix.O_APPEND | unix.O_NONBLOCK | unix.O_DSYNC | unix.O_ASYNC | unix.O_DIRECT | oLargefile |
	unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_NOATIME | unix.O_CLOEXEC | unix.O_SYNC | unix.O_PATH | unix.O_TMPFILE

// mayWrite reports whether an open needs write access.
func mayWrite(flags uint32) bool {
	acc := flags & unix.O_ACCMODE
	return acc == unix.O_WRONLY || acc == unix.O_RDWR || flags&unix.O_TRUNC != 0
}

// createRetries bounds how often open(O_CREAT) goes back to the lookup when
// the name keeps appearing and disappearing under it (another thread
// creating and unlinking it). Linux holds the directory locked across
// lookup and create, so it never needs more than one round; moat's lookup
// and create are separate steps, and a few rounds settle any real race.
const createRetries = 100

// lookupOrCreate resolves path for open(2), creating a regular file when
// flags hold O_CREAT and the name does not exist. created reports whether
// this call made the file. A *vfs.MagicFile error is passed up for
// /proc/PID/fd links of files without a path.
func lookupOrCreate(t *kernel.Task, r *vfs.Resolver, path string, flags, mode uint32) (p vfs.Path, created bool, err error) {
	excl := flags&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL
	follow := flags&unix.O_NOFOLLOW == 0 && !excl
	for try := 0; ; try++ {
		rr, rpath := r, path
		p, err = rr.Resolve(t, rpath, follow)
		if _, ok := err.(*vfs.MagicFile); ok {
			return p, false, err
		}
		if err == unix.ENOENT && flags&unix.O_CREAT != 0 && follow {
			// A dangling symlink: create its target, as Linux does.
			rr, rpath, err = danglingTarget(t, rr, rpath)
			if err == nil {
				p, err = rr.Resolve(t, rpath, true)
			}
		}
		switch {
		case err == nil && excl:
			return p, false, unix.EEXIST
		case err != unix.ENOENT || flags&unix.O_CREAT == 0:
			return p, false, err
		}
		dir, name, trailing, err := rr.ResolveParent(t, rpath)
		if err != nil {
			return p, false, err
		}
		if trailing || name == "" || name == "." || name == ".." {
			return p, false, unix.EISDIR
		}
		if dir.Mount.ReadOnly() {
			return p, false, unix.EROFS
		}
		if err := checkPerm(t, dir.Inode(), unix.W_OK|unix.X_OK); err != nil {
			return p, false, err
		}
		in, err := dir.Inode().Create(t, name, (mode&0o7777)&^t.Umask()|unix.S_IFREG)
		switch {
		case err == nil:
			// Held without a second lookup, so that an unlink racing
			// with this open cannot take it away.
			p = vfs.CreatedPath(dir, name, in)
			vfs.NotifyEntry(dir.Inode(), name, in, vfs.InCreate, false)
			return p, true, nil
		case err == unix.EEXIST && !excl && try < createRetries:
			// Made by someone else since the lookup: open that one.
			continue
		default:
			return p, false, err
		}
	}
}

// oPathFlags are the flags O_PATH keeps (openat) or allows (openat2).
const oPathFlags = unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// openAt implements openat(2).
func openAt(t *kernel.Task, dirfd int32, pathAddr uintptr, flags uint32, mode uint32) (uintptr, error) {
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	return openRestricted(t, dirfd, path, flags, mode, 0)
}

// openRestricted is openat(2) once the path is known, and openat2(2) with
// the resolve flags restrict (vfs.Resolve*) once it has checked its
// arguments.
func openRestricted(t *kernel.Task, dirfd int32, path string, flags, mode uint32, restrict uint64) (uintptr, error) {
	if flags&unix.O_TMPFILE == unix.O_TMPFILE {
		return openTmpfile(t, dirfd, path, flags, mode, restrict)
	}
	if flags&unix.O_PATH != 0 {
		flags &= oPathFlags
	}
	if flags&unix.O_ACCMODE == unix.O_ACCMODE && flags&unix.O_PATH == 0 {
		return 0, unix.EINVAL
	}
	r, err := restrictedResolver(t, dirfd, path, restrict)
	if err != nil {
		return 0, err
	}
	for try := 0; ; try++ {
		fd, err := openPath(t, r, path, flags, mode)
		if err != errCreateRace || try == createRetries {
			if err == errCreateRace {
				err = unix.ENOENT
			}
			return fd, err
		}
	}
}

// errCreateRace is openPath's report that with O_CREAT, the file it found
// or made was unlinked and released before it could be opened: open(2)
// starts again, and creates the name.
var errCreateRace = errors.New("file unlinked while being opened")

// openPath is openAt after the path and its resolver are known.
func openPath(t *kernel.Task, r *vfs.Resolver, path string, flags, mode uint32) (uintptr, error) {
	p, created, err := lookupOrCreate(t, r, path, flags, mode)
	if mf, ok := err.(*vfs.MagicFile); ok {
		return openMagic(t, mf.File, flags)
	}
	if err != nil {
		return 0, err
	}
	st, err := p.Inode().Stat(t)
	if err != nil {
		return 0, err
	}
	if flags&unix.O_PATH == 0 {
		switch {
		case st.IsSymlink():
			return 0, unix.ELOOP
		case st.IsDir() && (mayWrite(flags) || flags&unix.O_CREAT != 0):
			return 0, unix.EISDIR
		}
	}
	if flags&unix.O_DIRECTORY != 0 && !st.IsDir() {
		return 0, unix.ENOTDIR
	}
	if flags&unix.O_PATH == 0 && !created {
		if mayWrite(flags) && p.Mount.ReadOnly() && st.Mode&unix.S_IFMT == unix.S_IFREG {
			return 0, unix.EROFS
		}
		want := uint32(0)
		switch flags & unix.O_ACCMODE {
		case unix.O_RDONLY:
			want = unix.R_OK
		case unix.O_WRONLY:
			want = unix.W_OK
		case unix.O_RDWR:
			want = unix.R_OK | unix.W_OK
		}
		if err := checkPerm(t, p.Inode(), want); err != nil {
			return 0, err
		}
	}
	if flags&unix.O_NOATIME != 0 && flags&unix.O_PATH == 0 {
		// Only the owner, or with CAP_FOWNER.
		if c := t.Creds(); c.FSUID != st.UID && !c.HasCap(linux.CAP_FOWNER) {
			return 0, unix.EPERM
		}
	}
	var impl vfs.FileImpl
	special := false
	if flags&unix.O_PATH != 0 {
		impl = vfs.PathFile{}
	} else if impl, special, err = openSpecial(t, p, &st, flags); special {
		if err != nil {
			return 0, err
		}
	} else if impl, err = p.Inode().Open(t, flags&^(unix.O_CREAT|unix.O_EXCL)); err != nil {
		if err == unix.ENOENT && flags&unix.O_CREAT != 0 {
			return 0, errCreateRace
		}
		return 0, err
	}
	fl := flags | oLargefile
	if flags&unix.O_PATH != 0 {
		fl = unix.O_PATH // no access: read and write fail with EBADF
	}
	f := vfs.NewFileDescription(impl, p, fl)
	defer f.DecRef()
	if flags&unix.O_PATH == 0 {
		if flags&unix.O_TRUNC != 0 && mayWrite(flags) && !created {
			vfs.NotifyFile(f, vfs.InModify)
		}
		vfs.NotifyFile(f, vfs.InOpen)
	}
	fd, err := t.FDs().Install(f, 0, flags&unix.O_CLOEXEC != 0, nofile(t))
	return uintptr(fd), err
}

// openTmpfile implements open(O_TMPFILE): an unnamed regular file in the
// directory at path, which linkat(AT_EMPTY_PATH) can name unless O_EXCL.
// Directories of the sandbox's in-memory filesystems (/tmp, /dev/shm) make
// them; others (the overlay root, binds) fail with EOPNOTSUPP, which
// tmpfile(3) and others fall back from.
func openTmpfile(t *kernel.Task, dirfd int32, path string, flags, mode uint32, restrict uint64) (uintptr, error) {
	if acc := flags & unix.O_ACCMODE; acc != unix.O_WRONLY && acc != unix.O_RDWR {
		return 0, unix.EINVAL
	}
	r, err := restrictedResolver(t, dirfd, path, restrict)
	if err != nil {
		return 0, err
	}
	dir, err := r.Resolve(t, path, true)
	if err != nil {
		return 0, err
	}
	st, err := dir.Inode().Stat(t)
	if err != nil {
		return 0, err
	}
	if !st.IsDir() {
		return 0, unix.ENOTDIR
	}
	if err := writableDir(t, dir); err != nil {
		return 0, err
	}
	tf, ok := dir.Inode().(vfs.TmpFiler)
	if !ok {
		return 0, unix.EOPNOTSUPP // support: O_TMPFILE only in the sandbox's in-memory filesystems (/tmp)
	}
	in, impl, err := tf.TmpFile(t, mode&0o7777&^t.Umask(), flags&unix.O_EXCL == 0)
	if err != nil {
		return 0, err
	}
	ist, err := in.Stat(t)
	if err != nil {
		impl.Release()
		return 0, err
	}
	fl := flags&^(unix.O_TMPFILE|unix.O_CREAT|unix.O_EXCL) | oLargefile
	f := vfs.NewFileDescription(impl, vfs.UnlinkedPath(dir, in, ist.Ino), fl)
	defer f.DecRef()
	fd, err := t.FDs().Install(f, 0, flags&unix.O_CLOEXEC != 0, nofile(t))
	return uintptr(fd), err
}

func sysOpen(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return openAt(t, unix.AT_FDCWD, a[0], uint32(a[1]), uint32(a[2]))
}

func sysOpenat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return openAt(t, int32(a[0]), a[1], uint32(a[2]), uint32(a[3]))
}

func sysCreat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return openAt(t, unix.AT_FDCWD, a[0], unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, uint32(a[1]))
}

// checkPerm checks access bits (R_OK W_OK X_OK) for the task's
// credentials, as generic_permission does; root passes read and write
// always and execute if any execute bit is set (or on directories).
func checkPerm(t *kernel.Task, in vfs.Inode, want uint32) error {
	if want == 0 {
		return nil
	}
	st, err := in.Stat(t)
	if err != nil {
		return err
	}
	return checkMode(t, &st, want)
}

// checkMode checks access bits against attributes for the task.
func checkMode(t *kernel.Task, st *vfs.Stat, want uint32) error {
	c := t.Creds()
	return checkModeCreds(&c, st, want)
}

// checkModeCreds checks access bits against attributes for credentials
// c (kernel.Credentials.MayAccess).
func checkModeCreds(c *kernel.Credentials, st *vfs.Stat, want uint32) error {
	return c.MayAccess(st, want)
}

func contains(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// pathAt resolves a path argument relative to dirfd. With AT_EMPTY_PATH an
// empty path names dirfd itself (any file).
func pathAt(t *kernel.Task, dirfd int32, pathAddr uintptr, follow, emptyOK bool) (vfs.Path, *vfs.FileDescription, error) {
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return vfs.Path{}, nil, err
	}
	if path == "" && emptyOK {
		if dirfd == unix.AT_FDCWD {
			return t.Cwd(), nil, nil
		}
		f, err := t.FDs().Get(dirfd)
		if err != nil {
			return vfs.Path{}, nil, err
		}
		// An anonymous file (a pipe, moat's stdio) has no path: callers
		// that need one get f and a zero Path.
		return f.Path(), f, nil
	}
	r, err := t.Resolver(dirfd, path)
	if err != nil {
		return vfs.Path{}, nil, err
	}
	p, err := r.Resolve(t, path, follow)
	return p, nil, err
}

// statAt returns the attributes for the stat family.
func statAt(t *kernel.Task, dirfd int32, pathAddr uintptr, flags uint32) (vfs.Stat, error) {
	p, f, err := pathAt(t, dirfd, pathAddr, flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
	if mf, ok := err.(*vfs.MagicFile); ok {
		defer mf.File.DecRef()
		return mf.File.Stat(t)
	}
	if err != nil {
		return vfs.Stat{}, err
	}
	if f != nil {
		defer f.DecRef()
		return f.Stat(t)
	}
	return p.Inode().Stat(t)
}

// encodeStat lays out struct stat for x86-64.
func encodeStat(st *vfs.Stat) []byte {
	b := make([]byte, 144)
	le.PutUint64(b[0:], st.Dev)
	le.PutUint64(b[8:], st.Ino)
	le.PutUint64(b[16:], uint64(st.Nlink))
	le.PutUint32(b[24:], st.Mode)
	le.PutUint32(b[28:], st.UID)
	le.PutUint32(b[32:], st.GID)
	le.PutUint64(b[40:], st.Rdev)
	le.PutUint64(b[48:], uint64(st.Size))
	le.PutUint64(b[56:], uint64(st.Blksize))
	le.PutUint64(b[64:], uint64(st.Blocks))
	for i, ts := range []vfs.Timespec{st.Atime, st.Mtime, st.Ctime} {
		le.PutUint64(b[72+16*i:], uint64(ts.Sec))
		le.PutUint64(b[80+16*i:], uint64(ts.Nsec))
	}
	return b
}

func sysFstat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, err := getFile(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	st, err := f.Stat(t)
	if err != nil {
		return 0, err
	}
	return 0, copyOut(t, a[1], encodeStat(&st))
}

func sysStat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	st, err := statAt(t, unix.AT_FDCWD, a[0], 0)
	if err != nil {
		return 0, err
	}
	return 0, copyOut(t, a[1], encodeStat(&st))
}

func sysLstat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	st, err := statAt(t, unix.AT_FDCWD, a[0], unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return 0, err
	}
	return 0, copyOut(t, a[1], encodeStat(&st))
}

func sysNewfstatat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	flags := uint32(a[3])
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT) != 0 {
		return 0, unix.EINVAL
	}
	st, err := statAt(t, int32(a[0]), a[1], flags)
	if err != nil {
		return 0, err
	}
	return 0, copyOut(t, a[2], encodeStat(&st))
}

func sysStatx(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	flags, mask := uint32(a[2]), uint32(a[3])
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT|atStatxSyncType) != 0 ||
		flags&atStatxSyncType == atStatxSyncType || mask&unix.STATX__RESERVED != 0 {
		return 0, unix.EINVAL
	}
	st, err := statAt(t, int32(a[0]), a[1], flags)
	if err != nil {
		return 0, err
	}
	b := make([]byte, 256)
	le.PutUint32(b[0:], unix.STATX_BASIC_STATS)
	le.PutUint32(b[4:], uint32(st.Blksize))
	le.PutUint32(b[16:], st.Nlink)
	le.PutUint32(b[20:], st.UID)
	le.PutUint32(b[24:], st.GID)
	le.PutUint16(b[28:], uint16(st.Mode))
	le.PutUint64(b[32:], st.Ino)
	le.PutUint64(b[40:], uint64(st.Size))
	le.PutUint64(b[48:], uint64(st.Blocks))
	for i, ts := range []vfs.Timespec{st.Atime, st.Btime, st.Ctime, st.Mtime} {
		le.PutUint64(b[64+16*i:], uint64(ts.Sec))
		le.PutUint32(b[72+16*i:], uint32(ts.Nsec))
	}
	le.PutUint32(b[128:], unix.Major(st.Rdev))
	le.PutUint32(b[132:], unix.Minor(st.Rdev))
	le.PutUint32(b[136:], unix.Major(st.Dev))
	le.PutUint32(b[140:], unix.Minor(st.Dev))
	return 0, copyOut(t, a[4], b)
}

func sysGetdents64(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, err := getFile(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	// count is an unsigned int that Linux compares as an int.
	size := max(int(int32(uint32(a[2]))), 0)
	var buf []byte
	tooSmall := false
	// d_off is the offset of the next entry: directory offsets count
	// entries, so lseek/seekdir to it resumes there.
	next, _ := f.Seek(t, 0, unix.SEEK_CUR)
	err = f.ReadDir(t, t.MountNamespace(), t.Root(), func(d vfs.Dirent) bool {
		reclen := (19 + len(d.Name) + 1 + 7) &^ 7
		if len(buf)+reclen > size {
			tooSmall = len(buf) == 0
			return false
		}
		rec := make([]byte, reclen)
		le.PutUint64(rec[0:], d.Ino)
		next++
		le.PutUint64(rec[8:], uint64(next))
		le.PutUint16(rec[16:], uint16(reclen))
		rec[18] = d.Type
		copy(rec[19:], d.Name)
		buf = append(buf, rec...)
		return true
	}, func() error {
		if tooSmall {
			return unix.EINVAL
		}
		return copyOut(t, a[1], buf)
	})
	if err != nil {
		return 0, err
	}
	return uintptr(len(buf)), nil
}

func readlinkAt(t *kernel.Task, dirfd int32, pathAddr, buf, size uintptr) (uintptr, error) {
	if int(size) <= 0 || int64(size) > 1<<31-1 {
		return 0, unix.EINVAL
	}
	p, f, err := pathAt(t, dirfd, pathAddr, false, true)
	if err != nil {
		return 0, err
	}
	if f != nil {
		f.DecRef()
		if p.Dentry == nil {
			return 0, unix.ENOENT // not a symlink
		}
	}
	target, err := p.Inode().Readlink(t)
	if err != nil {
		if err == unix.EINVAL && f != nil {
			return 0, unix.ENOENT // readlinkat(fd, "") on a non-symlink
		}
		return 0, err
	}
	n := min(uintptr(len(target)), size)
	return n, copyOut(t, buf, []byte(target[:n]))
}

func sysReadlink(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return readlinkAt(t, unix.AT_FDCWD, a[0], a[1], a[2])
}

func sysReadlinkat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return readlinkAt(t, int32(a[0]), a[1], a[2], a[3])
}

func accessAt(t *kernel.Task, dirfd int32, pathAddr uintptr, mode, flags uint32) (uintptr, error) {
	if mode&^7 != 0 || flags&^(unix.AT_EACCESS|unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	p, f, err := pathAt(t, dirfd, pathAddr, flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return 0, err
	}
	// Without AT_EACCESS, the real ids decide (and root's capabilities
	// only for a real uid of 0).
	c := t.Creds()
	if flags&unix.AT_EACCESS == 0 {
		c = c.AccessCreds()
	}
	if f != nil {
		defer f.DecRef()
		if p.Dentry == nil { // an anonymous file: its own mode decides
			st, err := f.Stat(t)
			if err != nil {
				return 0, err
			}
			return 0, checkModeCreds(&c, &st, mode)
		}
	}
	if mode&unix.W_OK != 0 && p.Mount.ReadOnly() {
		return 0, unix.EROFS
	}
	if mode == 0 {
		return 0, nil
	}
	st, err := p.Inode().Stat(t)
	if err != nil {
		return 0, err
	}
	return 0, checkModeCreds(&c, &st, mode)
}

func sysAccess(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return accessAt(t, unix.AT_FDCWD, a[0], uint32(a[1]), 0)
}

func sysFaccessat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return accessAt(t, int32(a[0]), a[1], uint32(a[2]), 0)
}

func sysFaccessat2(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return accessAt(t, int32(a[0]), a[1], uint32(a[2]), uint32(a[3]))
}

func sysGetcwd(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	cwd := t.Cwd()
	if removed(t, cwd) {
		return 0, unix.ENOENT
	}
	s := t.PathString(cwd) + "\x00"
	// Linux builds the path in one PATH_MAX buffer: a longer one does not
	// fit, whatever the size of the app's buffer.
	if len(s) > unix.PathMax {
		return 0, unix.ENAMETOOLONG
	}
	if uintptr(len(s)) > a[1] {
		return 0, unix.ERANGE
	}
	return uintptr(len(s)), copyOut(t, a[0], []byte(s))
}

func chdirTo(t *kernel.Task, p vfs.Path) error {
	st, err := p.Inode().Stat(t)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return unix.ENOTDIR
	}
	if err := checkPerm(t, p.Inode(), unix.X_OK); err != nil {
		return err
	}
	t.SetCwd(p)
	return nil
}

func sysChdir(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	p, _, err := pathAt(t, unix.AT_FDCWD, a[0], true, false)
	if err != nil {
		return 0, err
	}
	return 0, chdirTo(t, p)
}

func sysFchdir(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, err := getFile(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if f.Path().Dentry == nil {
		return 0, unix.ENOTDIR
	}
	return 0, chdirTo(t, f.Path())
}

// parentAt resolves the directory and last component for calls that
// change a directory, checking the mount is writable.
func parentAt(t *kernel.Task, dirfd int32, pathAddr uintptr) (vfs.Path, string, bool, error) {
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return vfs.Path{}, "", false, err
	}
	r, err := t.Resolver(dirfd, path)
	if err != nil {
		return vfs.Path{}, "", false, err
	}
	dir, name, trailing, err := r.ResolveParent(t, path)
	if err != nil {
		return vfs.Path{}, "", false, err
	}
	return dir, name, trailing, nil
}

func writableDir(t *kernel.Task, dir vfs.Path) error {
	if dir.Mount.ReadOnly() {
		return unix.EROFS
	}
	return checkPerm(t, dir.Inode(), unix.W_OK|unix.X_OK)
}

// newEntryAt resolves the parent directory of a path that is to name a
// new entry (mkdir, symlink, link): a path that names the root, ends in
// "." or "..", or names something that exists fails with EEXIST.
func newEntryAt(t *kernel.Task, dirfd int32, pathAddr uintptr) (dir vfs.Path, name string, trailing bool, err error) {
	dir, name, trailing, err = parentAt(t, dirfd, pathAddr)
	if err != nil {
		return vfs.Path{}, "", false, err
	}
	if name == "" || name == "." || name == ".." {
		return vfs.Path{}, "", false, unix.EEXIST
	}
	if _, err := dir.Inode().Lookup(t, name); err == nil {
		return vfs.Path{}, "", false, unix.EEXIST
	}
	return dir, name, trailing, nil
}

func mkdirAt(t *kernel.Task, dirfd int32, pathAddr uintptr, mode uint32) (uintptr, error) {
	dir, name, _, err := newEntryAt(t, dirfd, pathAddr)
	if err != nil {
		return 0, err
	}
	if err := writableDir(t, dir); err != nil {
		return 0, err
	}
	if err := dir.Inode().Mkdir(t, name, mode&0o1777&^t.Umask()); err != nil {
		return 0, err
	}
	vfs.NotifyEntry(dir.Inode(), name, nil, vfs.InCreate, true)
	return 0, nil
}

func sysMkdir(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return mkdirAt(t, unix.AT_FDCWD, a[0], uint32(a[1]))
}

func sysMkdirat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return mkdirAt(t, int32(a[0]), a[1], uint32(a[2]))
}

func unlinkAt(t *kernel.Task, dirfd int32, pathAddr uintptr, flags uint32) (uintptr, error) {
	if flags&^unix.AT_REMOVEDIR != 0 {
		return 0, unix.EINVAL
	}
	dir, name, trailing, err := parentAt(t, dirfd, pathAddr)
	if err != nil {
		return 0, err
	}
	if flags&unix.AT_REMOVEDIR != 0 {
		if name == "" {
			return 0, unix.EBUSY // the path named the root
		}
		if err := vfs.CheckRmdirName(name); err != nil {
			return 0, err
		}
		if err := writableDir(t, dir); err != nil {
			return 0, err
		}
		child, _ := dir.Inode().Lookup(t, name)
		if err := dir.Inode().Rmdir(t, name); err != nil {
			return 0, err
		}
		vfs.NotifySelf(child, vfs.InDeleteSelf)
		vfs.NotifyEntry(dir.Inode(), name, nil, vfs.InDelete, true)
		return 0, nil
	}
	if name == "" {
		return 0, unix.EISDIR // the path named the root
	}
	if err := vfs.CheckUnlinkName(name); err != nil {
		return 0, err
	}
	child, err := dir.Inode().Lookup(t, name)
	if err != nil {
		return 0, err
	}
	st, err := child.Stat(t)
	if err != nil {
		return 0, err
	}
	if st.IsDir() {
		return 0, unix.EISDIR
	}
	if trailing {
		return 0, unix.ENOTDIR
	}
	if err := writableDir(t, dir); err != nil {
		return 0, err
	}
	if err := dir.Inode().Unlink(t, name); err != nil {
		return 0, err
	}
	if st.Nlink <= 1 {
		vfs.NotifySelf(child, vfs.InAttrib) // its link count fell
		vfs.NotifySelf(child, vfs.InDeleteSelf)
	} else {
		vfs.NotifySelf(child, vfs.InAttrib)
	}
	vfs.NotifyEntry(dir.Inode(), name, nil, vfs.InDelete, false)
	return 0, nil
}

func sysUnlink(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return unlinkAt(t, unix.AT_FDCWD, a[0], 0)
}

func sysUnlinkat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return unlinkAt(t, int32(a[0]), a[1], uint32(a[2]))
}

func sysRmdir(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return unlinkAt(t, unix.AT_FDCWD, a[0], unix.AT_REMOVEDIR)
}

func renameAt(t *kernel.Task, olddirfd int32, oldAddr uintptr, newdirfd int32, newAddr uintptr, flags uint32) (uintptr, error) {
	if flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE|unix.RENAME_WHITEOUT) != 0 ||
		flags&unix.RENAME_NOREPLACE != 0 && flags&unix.RENAME_EXCHANGE != 0 {
		return 0, unix.EINVAL
	}
	if flags&unix.RENAME_WHITEOUT != 0 {
		return 0, unix.EINVAL // support: RENAME_WHITEOUT is for overlay filesystems; not offered
	}
	oldDir, oldName, _, err := parentAt(t, olddirfd, oldAddr)
	if err != nil {
		return 0, err
	}
	newDir, newName, _, err := parentAt(t, newdirfd, newAddr)
	if err != nil {
		return 0, err
	}
	for _, n := range []string{oldName, newName} {
		if n == "" || n == "." || n == ".." {
			return 0, unix.EBUSY
		}
	}
	if oldDir.Mount != newDir.Mount {
		return 0, unix.EXDEV
	}
	moved, err := oldDir.Inode().Lookup(t, oldName)
	if err != nil {
		return 0, err
	}
	if err := writableDir(t, oldDir); err != nil {
		return 0, err
	}
	if err := writableDir(t, newDir); err != nil {
		return 0, err
	}
	if err := oldDir.Inode().Rename(t, oldName, newDir.Inode(), newName, flags); err != nil {
		return 0, err
	}
	if vfs.Watched() {
		isDir := false
		if st, err := moved.Stat(t); err == nil {
			isDir = st.IsDir()
		}
		cookie := vfs.NewCookie()
		vfs.NotifyEntryCookie(oldDir.Inode(), oldName, nil, vfs.InMovedFrom, cookie, isDir)
		vfs.NotifyEntryCookie(newDir.Inode(), newName, nil, vfs.InMovedTo, cookie, isDir)
		vfs.NotifySelf(moved, vfs.InMoveSelf)
	}
	return 0, nil
}

func sysRename(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return renameAt(t, unix.AT_FDCWD, a[0], unix.AT_FDCWD, a[1], 0)
}

func sysRenameat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return renameAt(t, int32(a[0]), a[1], int32(a[2]), a[3], 0)
}

func sysRenameat2(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return renameAt(t, int32(a[0]), a[1], int32(a[2]), a[3], uint32(a[4]))
}

func symlinkAt(t *kernel.Task, targetAddr uintptr, dirfd int32, pathAddr uintptr) (uintptr, error) {
	target, err := copyInPath(t, targetAddr)
	if err != nil {
		return 0, err
	}
	if target == "" {
		return 0, unix.ENOENT
	}
	dir, name, _, err := newEntryAt(t, dirfd, pathAddr)
	if err != nil {
		return 0, err
	}
	if err := writableDir(t, dir); err != nil {
		return 0, err
	}
	if err := dir.Inode().Symlink(t, name, target); err != nil {
		return 0, err
	}
	vfs.NotifyEntry(dir.Inode(), name, nil, vfs.InCreate, false)
	return 0, nil
}

func sysSymlink(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return symlinkAt(t, a[0], unix.AT_FDCWD, a[1])
}

func sysSymlinkat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return symlinkAt(t, a[0], int32(a[1]), a[2])
}

func sysPipe2(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	flags := uint32(a[1])
	if flags&^(unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_DIRECT) != 0 {
		return 0, unix.EINVAL
	}
	if !accessOK(a[0], 8) {
		return 0, unix.EFAULT
	}
	r, w := pipe.New(flags&unix.O_NONBLOCK != 0)
	defer r.DecRef()
	defer w.DecRef()
	cloexec := flags&unix.O_CLOEXEC != 0
	rfd, err := t.FDs().Install(r, 0, cloexec, nofile(t))
	if err != nil {
		return 0, err
	}
	wfd, err := t.FDs().Install(w, 0, cloexec, nofile(t))
	if err != nil {
		t.FDs().Remove(rfd)
		return 0, err
	}
	var b [8]byte
	le.PutUint32(b[0:], uint32(rfd))
	le.PutUint32(b[4:], uint32(wfd))
	if err := copyOut(t, a[0], b[:]); err != nil {
		t.FDs().Remove(rfd)
		t.FDs().Remove(wfd)
		return 0, err
	}
	return 0, nil
}

func sysPipe(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return sysPipe2(t, arch.SyscallArgs{a[0], 0})
}

// atStatxSyncType is AT_STATX_SYNC_TYPE (missing from x/sys).
const atStatxSyncType = 0x6000

// removed reports whether p's name no longer leads to its inode (the
// directory was removed or replaced since it was looked up).
func removed(t *kernel.Task, p vfs.Path) bool {
	parent := p.Dentry.Parent()
	if parent == nil {
		return false
	}
	in, err := parent.Inode().Lookup(t, p.Dentry.Name())
	if err != nil {
		return true
	}
	a, err1 := in.Stat(t)
	b, err2 := p.Inode().Stat(t)
	return err1 != nil || err2 != nil || a.Ino != b.Ino || a.Dev != b.Dev
}

// danglingTarget follows symlinks in the last component of path for
// O_CREAT: it returns a resolver and path naming where the file is to be
// created. It returns ENOENT when path is not a symlink.
func danglingTarget(t *kernel.Task, r *vfs.Resolver, path string) (*vfs.Resolver, string, error) {
	for i := 0; i < vfs.SymlinkMax; i++ {
		p, err := r.Resolve(t, path, false)
		if err != nil {
			return r, path, err
		}
		st, err := p.Inode().Stat(t)
		if err != nil {
			return r, path, err
		}
		if !st.IsSymlink() {
			return r, path, nil
		}
		target, err := p.Inode().Readlink(t)
		if err != nil {
			return r, path, err
		}
		dir, _, _, err := r.ResolveParent(t, path)
		if err != nil {
			return r, path, err
		}
		next := *r // the same root and restrictions
		next.Start = dir
		r, path = &next, target
	}
	return r, path, unix.ELOOP
}

// openMagic opens /proc/PID/fd/N of a file without a path (a pipe): the
// new fd shares the open file, which must allow the requested access.
func openMagic(t *kernel.Task, f *vfs.FileDescription, flags uint32) (uintptr, error) {
	defer f.DecRef()
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		if !f.Readable() && flags&unix.O_PATH == 0 {
			return 0, unix.EACCES
		}
	case unix.O_WRONLY:
		if !f.Writable() {
			return 0, unix.EACCES
		}
	default:
		if !f.Readable() || !f.Writable() {
			return 0, unix.EACCES
		}
	}
	fd, err := t.FDs().Install(f, 0, flags&unix.O_CLOEXEC != 0, nofile(t))
	return uintptr(fd), err
}
