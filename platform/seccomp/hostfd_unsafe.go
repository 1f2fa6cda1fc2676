package seccomp

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccompNotif is struct seccomp_notif.
type seccompNotif struct {
	id    uint64
	pid   uint32
	flags uint32
	data  struct {
		nr   int32
		arch uint32
		ip   uint64
		args [6]uint64
	}
}

// seccompNotifResp is struct seccomp_notif_resp.
type seccompNotifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// seccompNotifAddFD is struct seccomp_notif_addfd.
type seccompNotifAddFD struct {
	id         uint64
	flags      uint32
	srcfd      uint32
	newfd      uint32
	newfdFlags uint32
}

func notifIoctl(fd int, req uintptr, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}

// notifRecv receives the next notification (SECCOMP_IOCTL_NOTIF_RECV,
// which wants the struct zeroed).
func notifRecv(fd int) (seccompNotif, error) {
	var n seccompNotif
	err := notifIoctl(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&n))
	return n, err
}

// notifRefuse fails the notified call with errno.
func notifRefuse(fd int, id uint64, errno unix.Errno) error {
	r := seccompNotifResp{id: id, error: -int32(errno)}
	return notifIoctl(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&r))
}

// notifAddFD installs src in the notifying process as fd target and
// answers the call with it (SETFD and SEND: Linux 5.14).
func notifAddFD(fd int, id uint64, src, target int) error {
	a := seccompNotifAddFD{id: id, flags: unix.SECCOMP_ADDFD_FLAG_SETFD | unix.SECCOMP_ADDFD_FLAG_SEND,
		srcfd: uint32(src), newfd: uint32(target)}
	return notifIoctl(fd, unix.SECCOMP_IOCTL_NOTIF_ADDFD, unsafe.Pointer(&a))
}
