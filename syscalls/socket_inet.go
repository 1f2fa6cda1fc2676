package syscalls

import (
	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/arch"
	"moat/fs/inet"
	"moat/fs/netlink"
	"moat/kernel"
	"moat/vfs"
)

// Internet sockets (AF_INET, AF_INET6: fs/inet) and netlink route sockets
// (AF_NETLINK: fs/netlink). Each socket system call hands one of them to
// the function here before the AF_UNIX path sees it.

// newInetSocket makes socket(2) of an internet family, or a netlink
// route socket, which reports on the same network.
func newInetSocket(t *kernel.Task, domain, typ, proto, flags int) (uintptr, error) {
	st := t.Kernel().Net()
	if st == nil {
		return 0, unix.EAFNOSUPPORT
	}
	var (
		s   inet.Socket
		err error
	)
	if domain == unix.AF_NETLINK {
		s, err = netlink.New(st, typ, proto)
	} else if typ == unix.SOCK_RAW && proto != 0 && !t.HasCapability(linux.CAP_NET_RAW) {
		return 0, unix.EPERM
	} else {
		s, err = st.NewSocket(domain, typ, proto)
	}
	if err != nil {
		return 0, err
	}
	f := vfs.NewFileDescription(s, vfs.Path{}, sockFileFlags(flags))
	defer f.DecRef()
	fd, err := t.FDs().Install(f, 0, flags&unix.SOCK_CLOEXEC != 0, nofile(t))
	return uintptr(fd), err
}

// inetOf returns the internet socket open at fd with a reference on its
// description, or nil (holding nothing) when fd is anything else.
func inetOf(t *kernel.Task, fd uintptr) (*vfs.FileDescription, inet.Socket) {
	f, err := getFile(t, fd)
	if err != nil {
		return nil, nil
	}
	if s, ok := f.Impl().(inet.Socket); ok {
		return f, s
	}
	f.DecRef()
	return nil, nil
}

func inetOptions(f *vfs.FileDescription, flags int) inet.Options {
	return inet.Options{
		NonBlock: flags&unix.MSG_DONTWAIT != 0 || f.Flags()&unix.O_NONBLOCK != 0,
		Peek:     flags&unix.MSG_PEEK != 0,
		WaitAll:  flags&unix.MSG_WAITALL != 0,
		More:     flags&unix.MSG_MORE != 0,
	}
}

func inetBind(t *kernel.Task, s inet.Socket, a arch.SyscallArgs) (uintptr, error) {
	b, err := copyInSockaddr(t, a[1], a[2])
	if err != nil {
		return 0, err
	}
	return 0, s.Bind(t, b)
}

func inetConnect(t *kernel.Task, f *vfs.FileDescription, s inet.Socket, a arch.SyscallArgs) (uintptr, error) {
	b, err := copyInSockaddr(t, a[1], a[2])
	if err != nil {
		return 0, err
	}
	return 0, s.Connect(t, b, f.Flags()&unix.O_NONBLOCK != 0)
}

func inetAccept(t *kernel.Task, f *vfs.FileDescription, s inet.Socket, addr, lenAddr uintptr, flags int) (uintptr, error) {
	c, peer, err := s.Accept(t, f.Flags()&unix.O_NONBLOCK != 0)
	if err != nil {
		return 0, err
	}
	nf := vfs.NewFileDescription(c, vfs.Path{}, sockFileFlags(flags))
	defer nf.DecRef()
	fd, err := t.FDs().Install(nf, 0, flags&unix.SOCK_CLOEXEC != 0, nofile(t))
	if err != nil {
		return 0, err
	}
	if addr != 0 {
		if err := putSockaddr(t, addr, lenAddr, peer); err != nil {
			t.FDs().Remove(fd)
			return 0, err
		}
	}
	return uintptr(fd), nil
}

// inetSend sends len bytes at addr (sendto), in pieces of at most ioChunk
// for a stream.
func inetSend(t *kernel.Task, f *vfs.FileDescription, s inet.Socket, addr, n uintptr, flags int, to []byte) (uintptr, error) {
	if !accessOK(addr, n) {
		return 0, unix.EFAULT
	}
	n = min(n, maxRW)
	if s.Type() != unix.SOCK_STREAM && n > 65535 {
		return 0, unix.EMSGSIZE
	}
	buf := make([]byte, min(n, ioChunk))
	if s.Type() != unix.SOCK_STREAM {
		buf = make([]byte, n)
	}
	var done uintptr
	for done < n || n == 0 {
		part := buf[:min(uintptr(len(buf)), n-done)]
		if err := copyIn(t, addr+done, part); err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		w, err := inetSendData(t, f, s, part, flags, to)
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

// inetSendData sends one buffer; EPIPE raises SIGPIPE unless MSG_NOSIGNAL.
func inetSendData(t *kernel.Task, f *vfs.FileDescription, s inet.Socket, data []byte, flags int, to []byte) (int, error) {
	w, err := s.Send(t, data, to, inetOptions(f, flags))
	if err == unix.EPIPE && flags&unix.MSG_NOSIGNAL == 0 {
		t.SendSignalSelf(unix.SIGPIPE)
	}
	return w, err
}

func inetSendto(t *kernel.Task, f *vfs.FileDescription, s inet.Socket, a arch.SyscallArgs) (uintptr, error) {
	var to []byte
	if a[4] != 0 && a[5] != 0 {
		var err error
		if to, err = copyInSockaddr(t, a[4], a[5]); err != nil {
			return 0, err
		}
	}
	return inetSend(t, f, s, a[1], a[2], int(a[3]), to)
}

// inetRecvBuf bounds one receive's kernel buffer.
const inetRecvBuf = 256 << 10

func inetRecvfrom(t *kernel.Task, f *vfs.FileDescription, s inet.Socket, a arch.SyscallArgs) (uintptr, error) {
	if !accessOK(a[1], a[2]) {
		return 0, unix.EFAULT
	}
	flags := int(a[3])
	buf := make([]byte, min(a[2], inetRecvBuf))
	m, err := s.Recv(t, buf, inetOptions(f, flags))
	if err != nil {
		return 0, err
	}
	if err := copyOut(t, a[1], buf[:m.N]); err != nil {
		return 0, err
	}
	if a[4] != 0 {
		from := m.From
		if s.Type() == unix.SOCK_STREAM {
			from = nil // a stream reports no address
		}
		if err := putSockaddr(t, a[4], a[5], from); err != nil {
			return 0, err
		}
	}
	if flags&unix.MSG_TRUNC != 0 && s.Type() != unix.SOCK_STREAM {
		return uintptr(m.Full), nil
	}
	return uintptr(m.N), nil
}

// inetMsgArgs reads sendmsg's and recvmsg's header and iovecs.
func inetMsgArgs(t *kernel.Task, hdr uintptr) (msghdr, []iovec, uintptr, error) {
	m, err := copyInMsghdr(t, hdr)
	if err != nil {
		return msghdr{}, nil, 0, err
	}
	if int32(m.namelen) < 0 {
		return msghdr{}, nil, 0, unix.EINVAL
	}
	iovs, err := copyInIovecs(t, m.iov, m.iovlen)
	if err != nil {
		return msghdr{}, nil, 0, err
	}
	total := uintptr(0)
	for _, iov := range iovs {
		total += iov.len
	}
	return m, iovs, total, nil
}

// inetControl checks sendmsg's control messages: internet sockets take
// none that moat acts on; SCM_RIGHTS and SCM_CREDENTIALS are EINVAL, as
// on Linux for a socket that is not AF_UNIX.
func inetControl(t *kernel.Task, m msghdr) error {
	if m.controllen < cmsgHdrLen {
		return nil
	}
	if m.controllen > maxControl {
		return unix.ENOBUFS
	}
	ctl := make([]byte, m.controllen)
	if err := copyIn(t, m.control, ctl); err != nil {
		return err
	}
	for off := uintptr(0); off+cmsgHdrLen <= uintptr(len(ctl)); {
		clen := uintptr(le.Uint64(ctl[off:]))
		level := int32(le.Uint32(ctl[off+8:]))
		if clen < cmsgHdrLen || clen > uintptr(len(ctl))-off {
			return unix.EINVAL
		}
		if level == unix.SOL_SOCKET {
			return unix.EINVAL
		}
		// support: IP_PKTINFO, IP_TTL and IP_TOS on sendmsg are ignored
		next := off + cmsgAlign(clen)
		if next < off || next+cmsgHdrLen > uintptr(len(ctl)) {
			break
		}
		off = next
	}
	return nil
}

func inetSendmsg(t *kernel.Task, f *vfs.FileDescription, s inet.Socket, a arch.SyscallArgs) (uintptr, error) {
	m, iovs, total, err := inetMsgArgs(t, a[1])
	if err != nil {
		return 0, err
	}
	var to []byte
	if m.name != 0 && m.namelen != 0 {
		if to, err = copyInSockaddr(t, m.name, min(m.namelen, sockaddrStorage)); err != nil {
			return 0, err
		}
	}
	if err := inetControl(t, m); err != nil {
		return 0, err
	}
	if s.Type() != unix.SOCK_STREAM && total > 65535 {
		return 0, unix.EMSGSIZE
	}
	// Gather into one buffer, bounded for a stream (a short count is
	// what a blocking stream send returns when interrupted anyway).
	buf := make([]byte, 0, min(total, maxRW, ioChunk*4))
	if s.Type() != unix.SOCK_STREAM {
		buf = make([]byte, 0, total)
	}
	for _, iov := range iovs {
		room := uintptr(cap(buf) - len(buf))
		n := min(iov.len, room)
		if n == 0 {
			break
		}
		b := buf[len(buf) : len(buf)+int(n)]
		if err := copyIn(t, iov.base, b); err != nil {
			return 0, err
		}
		buf = buf[:len(buf)+int(n)]
	}
	w, err := inetSendData(t, f, s, buf, int(a[2]), to)
	if w > 0 {
		return uintptr(w), nil
	}
	return 0, err
}

func inetRecvmsg(t *kernel.Task, f *vfs.FileDescription, s inet.Socket, a arch.SyscallArgs) (uintptr, error) {
	m, iovs, total, err := inetMsgArgs(t, a[1])
	if err != nil {
		return 0, err
	}
	for _, iov := range iovs {
		if !accessOK(iov.base, iov.len) {
			return 0, unix.EFAULT
		}
	}
	flags := int(a[2])
	buf := make([]byte, min(total, inetRecvBuf))
	msg, err := s.Recv(t, buf, inetOptions(f, flags))
	if err != nil {
		return 0, err
	}
	rest := buf[:msg.N]
	for _, iov := range iovs {
		n := min(uintptr(len(rest)), iov.len)
		if err := copyOut(t, iov.base, rest[:n]); err != nil {
			return 0, err
		}
		rest = rest[n:]
	}
	var outFlags uint32
	if s.Type() != unix.SOCK_STREAM && msg.Full > msg.N {
		outFlags |= unix.MSG_TRUNC
	}
	if m.name != 0 {
		from := msg.From
		if s.Type() == unix.SOCK_STREAM {
			from = nil
		}
		if err := putSockaddr(t, m.name, a[1]+8, from); err != nil {
			return 0, err
		}
	}
	// No control messages: msg_controllen 0, and the flags.
	hdr := make([]byte, 12)
	le.PutUint32(hdr[8:], outFlags)
	if err := copyOut(t, a[1]+40, hdr); err != nil {
		return 0, err
	}
	if flags&unix.MSG_TRUNC != 0 && s.Type() != unix.SOCK_STREAM {
		return uintptr(msg.Full), nil
	}
	return uintptr(msg.N), nil
}

func inetGetsockopt(t *kernel.Task, s inet.Socket, a arch.SyscallArgs) (uintptr, error) {
	l, err := getU64(t, a[4])
	if err != nil {
		return 0, err
	}
	if int32(l) < 0 {
		return 0, unix.EINVAL
	}
	v, err := s.GetSockOpt(int(int32(a[1])), int(int32(a[2])))
	if err != nil {
		return 0, err
	}
	n := min(uint32(l), uint32(len(v)))
	if err := copyOut(t, a[3], v[:n]); err != nil {
		return 0, err
	}
	return 0, putU32(t, a[4], n)
}

// maxOptLen bounds a setsockopt value moat reads.
const maxOptLen = 256

func inetSetsockopt(t *kernel.Task, s inet.Socket, a arch.SyscallArgs) (uintptr, error) {
	if int32(a[4]) < 0 {
		return 0, unix.EINVAL
	}
	v := make([]byte, min(uintptr(uint32(a[4])), maxOptLen))
	if err := copyIn(t, a[3], v); err != nil {
		return 0, err
	}
	return 0, s.SetSockOpt(int(int32(a[1])), int(int32(a[2])), v)
}
