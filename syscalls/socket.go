package syscalls

import (
	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/fs/unixsock"
	"moat/kernel"
	"moat/vfs"
)

// Sockets: connected AF_UNIX pairs (socketpair). Other families, and
// binding, listening and connecting, come with the sockets work.

func sysSocket(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, unix.EAFNOSUPPORT // support: only socketpair(AF_UNIX) so far
}

func sysSocketpair(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	domain, typ, proto := int(a[0]), int(a[1]), int(a[2])
	if domain != unix.AF_UNIX {
		return 0, unix.EAFNOSUPPORT
	}
	flags := typ & (unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC)
	typ &^= flags
	switch typ {
	case unix.SOCK_STREAM, unix.SOCK_DGRAM, unix.SOCK_SEQPACKET:
	default:
		return 0, unix.ESOCKTNOSUPPORT
	}
	if proto != 0 {
		return 0, unix.EPROTONOSUPPORT
	}
	if !accessOK(a[3], 8) {
		return 0, unix.EFAULT
	}
	x, y := unixsock.Pair(typ)
	fl := uint32(unix.O_RDWR)
	if flags&unix.SOCK_NONBLOCK != 0 {
		fl |= unix.O_NONBLOCK
	}
	fx, fy := vfs.NewFileDescription(x, vfs.Path{}, fl), vfs.NewFileDescription(y, vfs.Path{}, fl)
	defer fx.DecRef()
	defer fy.DecRef()
	cloexec := flags&unix.SOCK_CLOEXEC != 0
	a0, err := t.FDs().Install(fx, 0, cloexec, nofile(t))
	if err != nil {
		return 0, err
	}
	a1, err := t.FDs().Install(fy, 0, cloexec, nofile(t))
	if err != nil {
		t.FDs().Remove(a0)
		return 0, err
	}
	b := make([]byte, 8)
	le.PutUint32(b, uint32(a0))
	le.PutUint32(b[4:], uint32(a1))
	if err := copyOut(t, a[3], b); err != nil {
		t.FDs().Remove(a0)
		t.FDs().Remove(a1)
		return 0, err
	}
	return 0, nil
}

// socketOf returns the socket open at fd: EBADF, or ENOTSOCK.
func socketOf(t *kernel.Task, fd uintptr) (*vfs.FileDescription, *unixsock.Socket, error) {
	f, err := getFile(t, fd)
	if err != nil {
		return nil, nil, err
	}
	s, ok := f.Impl().(*unixsock.Socket)
	if !ok {
		f.DecRef()
		return nil, nil, unix.ENOTSOCK
	}
	return f, s, nil
}

// Message flags moat understands.
const msgKnown = unix.MSG_DONTWAIT | unix.MSG_PEEK | unix.MSG_WAITALL | unix.MSG_NOSIGNAL | unix.MSG_TRUNC | unix.MSG_CMSG_CLOEXEC | unix.MSG_EOR | unix.MSG_MORE

func sockOptions(f *vfs.FileDescription, flags int) unixsock.Options {
	return unixsock.Options{
		NonBlock: flags&unix.MSG_DONTWAIT != 0 || f.Flags()&unix.O_NONBLOCK != 0,
		Peek:     flags&unix.MSG_PEEK != 0,
		WaitAll:  flags&unix.MSG_WAITALL != 0,
	}
}

// sendBuf sends app memory: a message in one piece, a stream in chunks
// until all of it is queued (or a nonblocking send or a signal stops it).
func sendBuf(t *kernel.Task, f *vfs.FileDescription, s *unixsock.Socket, addr, n uintptr, flags int) (uintptr, error) {
	if !accessOK(addr, n) {
		return 0, unix.EFAULT
	}
	n = min(n, maxRW)
	chunk := n
	if s.Type() == unix.SOCK_STREAM {
		chunk = min(n, ioChunk)
	} else if n > unixsock.Capacity {
		return 0, unix.EMSGSIZE
	}
	buf := make([]byte, chunk)
	var done uintptr
	for done < n || n == 0 {
		part := buf[:min(chunk, n-done)]
		if err := copyIn(t, addr+done, part); err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		w, err := sendData(t, f, s, part, flags)
		done += uintptr(w)
		if err != nil || w < len(part) || n == 0 {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
	}
	return done, nil
}

// sendData queues data; EPIPE raises SIGPIPE unless MSG_NOSIGNAL.
func sendData(t *kernel.Task, f *vfs.FileDescription, s *unixsock.Socket, data []byte, flags int) (int, error) {
	w, err := s.Send(t, data, sockOptions(f, flags))
	if err == unix.EPIPE && flags&unix.MSG_NOSIGNAL == 0 {
		t.SendSignalSelf(unix.SIGPIPE)
	}
	return w, err
}

func sysSendto(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, s, err := socketOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if a[4] != 0 {
		return 0, unix.EISCONN // a connected pair takes no address
	}
	return sendBuf(t, f, s, a[1], a[2], int(a[3]))
}

// recvBuf receives into app memory; with MSG_TRUNC a message socket
// reports the message's full length.
func recvBuf(t *kernel.Task, f *vfs.FileDescription, s *unixsock.Socket, addr, n uintptr, flags int) (uintptr, int, error) {
	if !accessOK(addr, n) {
		return 0, 0, unix.EFAULT
	}
	buf := make([]byte, min(n, unixsock.Capacity, maxRW))
	got, full, err := s.Recv(t, buf, sockOptions(f, flags))
	if err != nil {
		return 0, 0, err
	}
	if err := copyOut(t, addr, buf[:got]); err != nil {
		return 0, 0, err
	}
	if flags&unix.MSG_TRUNC != 0 && s.Type() != unix.SOCK_STREAM {
		return uintptr(full), full, nil
	}
	return uintptr(got), full, nil
}

func sysRecvfrom(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, s, err := socketOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	n, _, err := recvBuf(t, f, s, a[1], a[2], int(a[3]))
	if err == nil && a[4] != 0 && a[5] != 0 {
		if err := putU32(t, a[5], 0); err != nil { // unnamed peer: no address
			return 0, err
		}
	}
	return n, err
}

// msghdr fields.
type msghdr struct {
	name, namelen, iov, iovlen, control, controllen uintptr
}

func copyInMsghdr(t *kernel.Task, addr uintptr) (msghdr, error) {
	b := make([]byte, 56)
	if err := copyIn(t, addr, b); err != nil {
		return msghdr{}, err
	}
	return msghdr{uintptr(le.Uint64(b)), uintptr(le.Uint32(b[8:])), uintptr(le.Uint64(b[16:])),
		uintptr(le.Uint64(b[24:])), uintptr(le.Uint64(b[32:])), uintptr(le.Uint64(b[40:]))}, nil
}

// msgArgs reads sendmsg's and recvmsg's socket, message header and iovecs;
// the caller drops the file reference.
func msgArgs(t *kernel.Task, fd, hdr uintptr) (*vfs.FileDescription, *unixsock.Socket, msghdr, []iovec, error) {
	f, s, err := socketOf(t, fd)
	if err != nil {
		return nil, nil, msghdr{}, nil, err
	}
	m, err := copyInMsghdr(t, hdr)
	if err != nil {
		f.DecRef()
		return nil, nil, msghdr{}, nil, err
	}
	iovs, err := copyInIovecs(t, m.iov, m.iovlen)
	if err != nil {
		f.DecRef()
		return nil, nil, msghdr{}, nil, err
	}
	return f, s, m, iovs, nil
}

func sysSendmsg(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, s, m, iovs, err := msgArgs(t, a[0], a[1])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if m.controllen != 0 {
		return 0, unix.EOPNOTSUPP // support: control messages (SCM_RIGHTS, SCM_CREDENTIALS) come with the sockets work
	}
	// Gather into one buffer so a message keeps its boundaries.
	var buf []byte
	for _, iov := range iovs {
		if uintptr(len(buf))+iov.len > unixsock.Capacity+1 {
			return 0, unix.EMSGSIZE
		}
		b := make([]byte, iov.len)
		if err := copyIn(t, iov.base, b); err != nil {
			return 0, err
		}
		buf = append(buf, b...)
	}
	w, err := sendData(t, f, s, buf, int(a[2]))
	return uintptr(w), err
}

func sysRecvmsg(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, s, _, iovs, err := msgArgs(t, a[0], a[1])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	total := uintptr(0)
	for _, iov := range iovs {
		total += iov.len
	}
	buf := make([]byte, min(total, unixsock.Capacity, maxRW))
	flags := int(a[2])
	got, full, err := s.Recv(t, buf, sockOptions(f, flags))
	if err != nil {
		return 0, err
	}
	rest := buf[:got]
	for _, iov := range iovs {
		n := min(uintptr(len(rest)), iov.len)
		if err := copyOut(t, iov.base, rest[:n]); err != nil {
			return 0, err
		}
		rest = rest[n:]
	}
	// msg_namelen 0 (unnamed peer), msg_controllen 0, msg_flags.
	var outFlags uint32
	if full > got {
		outFlags |= unix.MSG_TRUNC
	}
	hdr := make([]byte, 56)
	if err := copyIn(t, a[1], hdr); err != nil {
		return 0, err
	}
	le.PutUint32(hdr[8:], 0)
	le.PutUint64(hdr[40:], 0)
	le.PutUint32(hdr[48:], outFlags)
	if err := copyOut(t, a[1], hdr); err != nil {
		return 0, err
	}
	if flags&unix.MSG_TRUNC != 0 && s.Type() != unix.SOCK_STREAM {
		return uintptr(full), nil
	}
	return uintptr(got), nil
}

func sysShutdown(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, s, err := socketOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	switch int(a[1]) {
	case unix.SHUT_RD:
		s.Shutdown(true, false)
	case unix.SHUT_WR:
		s.Shutdown(false, true)
	case unix.SHUT_RDWR:
		s.Shutdown(true, true)
	default:
		return 0, unix.EINVAL
	}
	return 0, nil
}

func sysGetsockopt(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, s, err := socketOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if int(a[1]) != unix.SOL_SOCKET {
		return 0, unix.ENOPROTOOPT
	}
	var v int32
	switch int(a[2]) {
	case unix.SO_TYPE:
		v = int32(s.Type())
	case unix.SO_DOMAIN:
		v = unix.AF_UNIX
	case unix.SO_ERROR, unix.SO_ACCEPTCONN, unix.SO_PASSCRED:
		v = 0
	case unix.SO_SNDBUF, unix.SO_RCVBUF:
		v = unixsock.Capacity
	default:
		return 0, unix.ENOPROTOOPT
	}
	l, err := getU64(t, a[4])
	if err != nil {
		return 0, err
	}
	if int32(l) < 0 {
		return 0, unix.EINVAL
	}
	b := make([]byte, 4)
	le.PutUint32(b, uint32(v))
	n := min(uint32(l), 4)
	if err := copyOut(t, a[3], b[:n]); err != nil {
		return 0, err
	}
	return 0, putU32(t, a[4], n)
}

func sysSetsockopt(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, _, err := socketOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if int(a[1]) != unix.SOL_SOCKET {
		return 0, unix.ENOPROTOOPT
	}
	switch int(a[2]) {
	case unix.SO_SNDBUF, unix.SO_RCVBUF, unix.SO_PASSCRED, unix.SO_KEEPALIVE, unix.SO_REUSEADDR:
		if a[4] < 4 {
			return 0, unix.EINVAL
		}
		b := make([]byte, 4)
		return 0, copyIn(t, a[3], b) // accepted; buffer sizes stay fixed
	}
	return 0, unix.ENOPROTOOPT
}

// sockname reports an unnamed AF_UNIX address (sun_family only).
func sockname(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, _, err := socketOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	l, err := getU64(t, a[2])
	if err != nil {
		return 0, err
	}
	if int32(l) < 0 {
		return 0, unix.EINVAL
	}
	b := []byte{unix.AF_UNIX, 0}
	if err := copyOut(t, a[1], b[:min(uint32(l), 2)]); err != nil {
		return 0, err
	}
	return 0, putU32(t, a[2], 2)
}
