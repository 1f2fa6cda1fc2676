package syscalls

import (
	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/arch"
	"moat/fs/dev"
	"moat/fs/pipe"
	"moat/kernel"
	"moat/vfs"
)

// mknoder is implemented by directories that can make special files
// (memfs, overlay; hostfs in writable mode makes FIFOs and regular files):
// mknod(2), and bind(2) for AF_UNIX socket inodes.
type mknoder interface {
	Mknod(ctx vfs.Context, name string, mode uint32, dev uint64) error
}

// decodeDev converts mknod's 32-bit device number (new_encode_dev's
// layout) to the 64-bit one stat reports.
func decodeDev(d uint32) uint64 {
	major := (d & 0xfff00) >> 8
	minor := d&0xff | (d>>12)&0xfff00
	return unix.Mkdev(major, minor)
}

// mknodAt implements mknodat(2), with Linux's checks in Linux's order:
// the type (EPERM for a directory, EINVAL for an unknown type) before
// the path, then the parent's resolution (ENOENT, ENOTDIR, ELOOP,
// ENAMETOOLONG, EFAULT), an existing name (EEXIST), a read-only mount
// (EROFS), write and search permission on the parent (EACCES), and
// CAP_MKNOD for devices (EPERM; a 0:0 character device, an overlay
// whiteout, needs none since Linux 5.8).
func mknodAt(t *kernel.Task, dirfd int32, pathAddr uintptr, mode, devArg uint32) (uintptr, error) {
	typ := mode & unix.S_IFMT
	switch typ {
	case 0:
		typ = unix.S_IFREG
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR, unix.S_IFBLK:
	case unix.S_IFDIR:
		return 0, unix.EPERM
	default:
		return 0, unix.EINVAL
	}
	dir, name, trailing, err := newEntryAt(t, dirfd, pathAddr)
	if err != nil {
		return 0, err
	}
	if trailing {
		return 0, unix.ENOENT
	}
	if err := writableDir(t, dir); err != nil {
		return 0, err
	}
	var rdev uint64
	if typ == unix.S_IFCHR || typ == unix.S_IFBLK {
		rdev = decodeDev(devArg)
		whiteout := typ == unix.S_IFCHR && rdev == 0
		if !whiteout && !t.HasCapability(linux.CAP_MKNOD) {
			return 0, unix.EPERM
		}
	}
	perm := mode & 0o7777 &^ t.Umask()
	if mk, ok := dir.Inode().(mknoder); ok {
		err = mk.Mknod(t, name, typ|perm, rdev)
	} else if typ == unix.S_IFREG {
		_, err = dir.Inode().Create(t, name, typ|perm)
	} else {
		err = unix.EPERM
	}
	if err != nil {
		return 0, err
	}
	vfs.NotifyEntry(dir.Inode(), name, nil, vfs.InCreate, false)
	return 0, nil
}

func sysMknod(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return mknodAt(t, unix.AT_FDCWD, a[0], uint32(a[1]), uint32(a[2]))
}

func sysMknodat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return mknodAt(t, int32(a[0]), a[1], uint32(a[2]), uint32(a[3]))
}

// openSpecial opens what the inode at p stands for rather than the inode
// itself, when it is a FIFO (an end of the FIFO's pipe, which may wait
// for the other end: see pipe.OpenFIFO) or a device node that is not one
// of moat's /dev inodes (the device with that number: dev.OpenNode). ok
// is false for other files, which their filesystem opens.
func openSpecial(t *kernel.Task, p vfs.Path, st *vfs.Stat, flags uint32) (impl vfs.FileImpl, ok bool, err error) {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
		impl, err = pipe.OpenFIFO(t, st.Dev, st.Ino, flags)
		return impl, true, err
	case unix.S_IFCHR, unix.S_IFBLK:
		if _, own := p.Inode().(vfs.DeviceServer); own {
			return nil, false, nil
		}
		impl, err = dev.OpenNode(st.Mode&unix.S_IFMT, st.Rdev)
		return impl, true, err
	}
	return nil, false, nil
}
