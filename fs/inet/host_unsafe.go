package inet

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Socket calls on host descriptors with addresses and option values as raw
// bytes (x/sys/unix offers only typed addresses). Every buffer is the
// sentry's own, already copied from the app and bounded; the host kernel
// checks their contents as it does any caller's.

// sockaddrMax is sizeof(struct sockaddr_storage).
const sockaddrMax = 128

func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

func errOf(e unix.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

func rawBind(fd int, addr []byte) error {
	_, _, e := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(ptr(addr)), uintptr(len(addr)))
	return errOf(e)
}

func rawConnect(fd int, addr []byte) error {
	_, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(ptr(addr)), uintptr(len(addr)))
	return errOf(e)
}

func rawAccept4(fd, flags int) (int, []byte, error) {
	addr := make([]byte, sockaddrMax)
	l := uint32(len(addr))
	for {
		nfd, _, e := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(ptr(addr)), uintptr(unsafe.Pointer(&l)), uintptr(flags), 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return -1, nil, e
		}
		return int(nfd), addr[:min(l, sockaddrMax)], nil
	}
}

func rawSockname(fd int, peer bool) ([]byte, error) {
	addr := make([]byte, sockaddrMax)
	l := uint32(len(addr))
	nr := uintptr(unix.SYS_GETSOCKNAME)
	if peer {
		nr = unix.SYS_GETPEERNAME
	}
	_, _, e := unix.Syscall(nr, uintptr(fd), uintptr(ptr(addr)), uintptr(unsafe.Pointer(&l)))
	if e != 0 {
		return nil, e
	}
	return addr[:min(l, sockaddrMax)], nil
}

func rawSendto(fd int, p []byte, flags int, to []byte) (int, error) {
	n, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(ptr(p)), uintptr(len(p)), uintptr(flags),
		uintptr(ptr(to)), uintptr(len(to)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawRecvfrom receives into p; with wantFrom it returns the sender's
// address too.
func rawRecvfrom(fd int, p []byte, flags int, wantFrom bool) (int, []byte, error) {
	var (
		from []byte
		l    uint32
		lp   unsafe.Pointer
	)
	if wantFrom {
		from = make([]byte, sockaddrMax)
		l = uint32(len(from))
		lp = unsafe.Pointer(&l)
	}
	n, _, e := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(ptr(p)), uintptr(len(p)), uintptr(flags),
		uintptr(ptr(from)), uintptr(lp))
	if e != 0 {
		return 0, nil, e
	}
	if wantFrom {
		from = from[:min(l, sockaddrMax)]
	}
	return int(n), from, nil
}

func rawGetsockopt(fd, level, name int, buf []byte) (int, error) {
	l := uint32(len(buf))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), uintptr(ptr(buf)),
		uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return 0, e
	}
	return int(min(l, uint32(len(buf)))), nil
}

func rawSetsockopt(fd, level, name int, v []byte) error {
	_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), uintptr(ptr(v)),
		uintptr(len(v)), 0)
	return errOf(e)
}
