package syscalls

import (
	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/fs/inotify"
	"moat/kernel"
)

func sysInotifyInit(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return inotifyInit(t, 0)
}

func sysInotifyInit1(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return inotifyInit(t, a[0])
}

func inotifyInit(t *kernel.Task, flags uintptr) (uintptr, error) {
	if flags&^(unix.IN_NONBLOCK|unix.IN_CLOEXEC) != 0 {
		return 0, unix.EINVAL
	}
	f, _ := inotify.New(flags&unix.IN_NONBLOCK != 0)
	defer f.DecRef()
	fd, err := t.FDs().Install(f, 0, flags&unix.IN_CLOEXEC != 0, nofile(t))
	return uintptr(fd), err
}

// inotifyOf returns the inotify instance open at fd: EBADF for a bad fd,
// EINVAL for another kind of file.
func inotifyOf(t *kernel.Task, fd uintptr) (*inotify.Instance, func(), error) {
	f, err := getFile(t, fd)
	if err != nil {
		return nil, nil, err
	}
	in, ok := f.Impl().(*inotify.Instance)
	if !ok {
		f.DecRef()
		return nil, nil, unix.EINVAL
	}
	return in, f.DecRef, nil
}

func sysInotifyAddWatch(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	in, done, err := inotifyOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer done()
	mask := uint32(a[2])
	if mask&inotify.InAllEvents == 0 || mask&inotify.InMaskAdd != 0 && mask&inotify.InMaskCreate != 0 {
		return 0, unix.EINVAL
	}
	p, err := resolvePath(t, a[1], mask&inotify.InDontFollow == 0)
	if err != nil {
		return 0, err
	}
	if err := checkPerm(t, p.Inode(), unix.R_OK); err != nil {
		return 0, err
	}
	if mask&inotify.InOnlydir != 0 {
		st, err := p.Inode().Stat(t)
		if err != nil {
			return 0, err
		}
		if !st.IsDir() {
			return 0, unix.ENOTDIR
		}
	}
	wd, err := in.AddWatch(p.Inode(), mask)
	return uintptr(wd), err
}

func sysInotifyRmWatch(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	in, done, err := inotifyOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer done()
	return 0, in.RemoveWatch(int32(a[1]))
}
