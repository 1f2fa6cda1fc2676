package syscalls

import (
	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/fs/signalfd"
	"moat/kernel"
)

// signalfd4's flags (SFD_CLOEXEC, SFD_NONBLOCK).
const sfdFlags = unix.O_CLOEXEC | unix.O_NONBLOCK

func sysSignalfd4(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return signalfd4(t, int32(a[0]), a[1], a[2], a[3])
}

func sysSignalfd(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return signalfd4(t, int32(a[0]), a[1], a[2], 0)
}

// signalfd4 creates a signalfd for the mask at maskAddr, or with fd != -1
// changes the mask of the signalfd fd.
func signalfd4(t *kernel.Task, fd int32, maskAddr, size, flags uintptr) (uintptr, error) {
	if size != 8 || flags&^sfdFlags != 0 {
		return 0, unix.EINVAL
	}
	b := make([]byte, 8)
	if err := copyIn(t, maskAddr, b); err != nil {
		return 0, err
	}
	mask := le.Uint64(b) &^ (kernel.SigBit(int(unix.SIGKILL)) | kernel.SigBit(int(unix.SIGSTOP)))
	if fd != -1 {
		f, err := getFile(t, uintptr(fd))
		if err != nil {
			return 0, err
		}
		defer f.DecRef()
		sf, ok := f.Impl().(*signalfd.File)
		if !ok {
			return 0, unix.EINVAL
		}
		sf.SetMask(mask)
		return uintptr(fd), nil
	}
	f := signalfd.New(t, mask, flags&unix.O_NONBLOCK != 0)
	defer f.DecRef()
	nfd, err := t.FDs().Install(f, 0, flags&unix.O_CLOEXEC != 0, nofile(t))
	return uintptr(nfd), err
}
