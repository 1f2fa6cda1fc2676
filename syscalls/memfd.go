package syscalls

import (
	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/kernel"
	"moat/vfs"
)

// memfd_create flags.
const (
	mfdCloexec      = 0x1
	mfdAllowSealing = 0x2
	mfdHugetlb      = 0x4
	mfdNoexecSeal   = 0x8
	mfdExec         = 0x10
	fSealExec       = 0x20 // F_SEAL_EXEC
	memfdNameMax    = 249  // NAME_MAX minus "memfd:"
)

// sealer is a file that takes seals (a memfd).
type sealer interface {
	Seals() uint32
	AddSeals(uint32) error
}

func sysMemfdCreate(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	flags := a[1]
	switch {
	case flags&^(mfdCloexec|mfdAllowSealing|mfdHugetlb|mfdNoexecSeal|mfdExec) != 0,
		flags&(mfdNoexecSeal|mfdExec) == mfdNoexecSeal|mfdExec:
		return 0, unix.EINVAL
	case flags&mfdHugetlb != 0:
		return 0, unix.EINVAL // support: no hugetlbfs in the sandbox
	}
	name, err := t.CopyInString(a[0], memfdNameMax)
	if err == unix.ENAMETOOLONG {
		return 0, unix.EINVAL
	}
	if err != nil {
		return 0, unix.EFAULT
	}
	mode := uint32(0o777)
	sealable := flags&mfdAllowSealing != 0
	if flags&mfdNoexecSeal != 0 {
		mode, sealable = 0o666, true
	}
	impl, err := t.Kernel().NewUnlinkedFile(t, mode, sealable)
	if err != nil {
		return 0, err
	}
	if n, ok := impl.(interface{ SetName(string) }); ok {
		n.SetName("/memfd:" + name + " (deleted)")
	}
	if flags&mfdNoexecSeal != 0 {
		if s, ok := impl.(sealer); ok {
			s.AddSeals(fSealExec)
		}
	}
	f := vfs.NewFileDescription(impl, vfs.Path{}, unix.O_RDWR|unix.O_LARGEFILE)
	defer f.DecRef()
	fd, err := t.FDs().Install(f, 0, flags&mfdCloexec != 0, nofile(t))
	return uintptr(fd), err
}

// fcntlSeals implements F_ADD_SEALS and F_GET_SEALS.
// Linux's order: an fd not open for writing is EPERM, then unknown seals
// and files that take none are EINVAL.
func fcntlSeals(f *vfs.FileDescription, cmd int, arg uintptr) (uintptr, error) {
	if cmd == unix.F_ADD_SEALS && !f.Writable() {
		return 0, unix.EPERM
	}
	s, ok := f.Impl().(sealer)
	if !ok {
		return 0, unix.EINVAL
	}
	if cmd == unix.F_GET_SEALS {
		return uintptr(s.Seals()), nil
	}
	return 0, s.AddSeals(uint32(arg))
}
