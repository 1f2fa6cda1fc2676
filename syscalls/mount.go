package syscalls

import (
	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/arch"
	"moat/kernel"
	"moat/vfs"
)

// mount(2), umount2(2), chroot(2), pivot_root(2) and unshare(2), with
// CAP_SYS_ADMIN, in the caller's mount namespace: tmpfs, proc and sysfs,
// bind mounts of the sandbox's own paths, remounts read-only or
// read-write, moves (MS_MOVE), and propagation changes, which are
// accepted: mounts never propagate between namespaces here, as if every
// mount were private.

const (
	msRdonly      = 0x1
	msRemount     = 0x20
	msBind        = 0x1000
	msMove        = 0x2000
	msRec         = 0x4000
	msUnbindable  = 1 << 17
	msPrivate     = 1 << 18
	msSlave       = 1 << 19
	msShared      = 1 << 20
	msMgcMask     = 0xffff0000
	msMgcVal      = 0xc0ed0000
	msPropagation = msUnbindable | msPrivate | msSlave | msShared

	mntForce       = 1
	mntDetach      = 2
	mntExpire      = 4
	umountNofollow = 8
)

// mountPrivileged fails with EPERM unless t has CAP_SYS_ADMIN.
func mountPrivileged(t *kernel.Task) error {
	if !t.HasCapability(linux.CAP_SYS_ADMIN) {
		return unix.EPERM
	}
	return nil
}

// resolvePath resolves a path argument from the cwd.
func resolvePath(t *kernel.Task, addr uintptr, follow bool) (vfs.Path, error) {
	path, err := copyInPath(t, addr)
	if err != nil {
		return vfs.Path{}, err
	}
	if path == "" {
		return vfs.Path{}, unix.ENOENT
	}
	r, err := t.Resolver(unix.AT_FDCWD, path)
	if err != nil {
		return vfs.Path{}, err
	}
	return r.Resolve(t, path, follow)
}

func sysMount(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if err := mountPrivileged(t); err != nil {
		return 0, err
	}
	flags := a[3]
	if flags&msMgcMask == msMgcVal {
		flags &^= msMgcMask
	}
	target, err := resolvePath(t, a[1], true)
	if err != nil {
		return 0, err
	}
	ns := t.MountNamespace()
	switch {
	case flags&msPropagation != 0:
		return 0, nil // nothing propagates anywhere: every mount is private
	case flags&msRemount != 0:
		return 0, ns.SetReadOnly(target, flags&msRdonly != 0)
	case flags&msMove != 0:
		src, err := resolvePath(t, a[0], true)
		if err != nil {
			return 0, err
		}
		return 0, ns.Move(src, target)
	case flags&msBind != 0:
		src, err := resolvePath(t, a[0], true)
		if err != nil {
			return 0, err
		}
		// As on Linux, MS_RDONLY takes effect only with a later remount.
		return 0, ns.Mount(target, src.Inode(), vfs.MountOptions{FSType: src.Mount.FSType(), Source: ns.PathString(src)})
	}
	fstype, err := t.CopyInString(a[2], 4095)
	if err != nil {
		return 0, unix.EFAULT
	}
	var data string
	if a[4] != 0 {
		if data, err = t.CopyInString(a[4], 4095); err != nil && err != unix.ENAMETOOLONG {
			return 0, unix.EFAULT
		}
	}
	source := "none"
	if a[0] != 0 {
		if source, err = t.CopyInString(a[0], 4095); err != nil {
			return 0, unix.EFAULT
		}
	}
	st, err := target.Inode().Stat(t)
	if err != nil {
		return 0, err
	}
	if !st.IsDir() {
		return 0, unix.ENOTDIR
	}
	root, err := t.Kernel().NewFS(fstype, data)
	if err != nil {
		return 0, err
	}
	return 0, ns.Mount(target, root, vfs.MountOptions{FSType: fstype, Source: source, ReadOnly: flags&msRdonly != 0})
}

func sysUmount2(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	flags := a[1]
	if flags&^(mntForce|mntDetach|mntExpire|umountNofollow) != 0 ||
		flags&mntExpire != 0 && flags&(mntForce|mntDetach) != 0 {
		return 0, unix.EINVAL
	}
	if err := mountPrivileged(t); err != nil {
		return 0, err
	}
	target, err := resolvePath(t, a[0], flags&umountNofollow == 0)
	if err != nil {
		return 0, err
	}
	return 0, t.MountNamespace().Unmount(target, flags&mntDetach != 0)
}

func sysPivotRoot(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if err := mountPrivileged(t); err != nil {
		return 0, err
	}
	newRoot, err := resolveDir(t, a[0])
	if err != nil {
		return 0, err
	}
	putOld, err := resolveDir(t, a[1])
	if err != nil {
		return 0, err
	}
	return 0, t.PivotRoot(newRoot, putOld)
}

// resolveDir resolves a path argument that must name a directory.
func resolveDir(t *kernel.Task, addr uintptr) (vfs.Path, error) {
	p, err := resolvePath(t, addr, true)
	if err != nil {
		return vfs.Path{}, err
	}
	st, err := p.Inode().Stat(t)
	if err != nil {
		return vfs.Path{}, err
	}
	if !st.IsDir() {
		return vfs.Path{}, unix.ENOTDIR
	}
	return p, nil
}

// unshare flags.
const (
	cloneVM      = 0x100
	cloneFS      = 0x200
	cloneFiles   = 0x400
	cloneSighand = 0x800
	cloneThread  = 0x10000
	cloneNewNS   = 0x20000
	cloneSysvsem = 0x40000
	// The other namespaces: cgroup, UTS, IPC, user, PID, network, time.
	cloneOtherNS = 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x80
)

func sysUnshare(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	flags := a[0]
	if flags&^(cloneVM|cloneFS|cloneFiles|cloneSighand|cloneThread|cloneNewNS|cloneSysvsem|cloneOtherNS) != 0 {
		return 0, unix.EINVAL
	}
	if flags&(cloneThread|cloneSighand|cloneVM) != 0 && t.ThreadCount() > 1 {
		return 0, unix.EINVAL // a thread cannot leave its process
	}
	if flags&cloneOtherNS != 0 {
		return 0, unix.EPERM // support: only mount namespaces are offered
	}
	if flags&cloneNewNS != 0 {
		if err := mountPrivileged(t); err != nil {
			return 0, err
		}
		t.UnshareMounts()
	} else if flags&cloneFS != 0 {
		t.UnshareFS()
	}
	if flags&cloneFiles != 0 {
		t.UnshareFiles()
	}
	// CLONE_SYSVSEM: no System V semaphore undo lists to leave; CLONE_VM
	// and CLONE_SIGHAND alone in a single-threaded process change
	// nothing.
	return 0, nil
}

func sysChroot(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	p, err := resolvePath(t, a[0], true)
	if err != nil {
		return 0, err
	}
	st, err := p.Inode().Stat(t)
	if err != nil {
		return 0, err
	}
	if !st.IsDir() {
		return 0, unix.ENOTDIR
	}
	if err := checkPerm(t, p.Inode(), unix.X_OK); err != nil {
		return 0, err
	}
	if !t.HasCapability(linux.CAP_SYS_CHROOT) {
		return 0, unix.EPERM
	}
	t.SetRoot(p)
	return 0, nil
}
