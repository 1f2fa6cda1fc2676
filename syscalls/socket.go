package syscalls

import (
	"golang.org/x/sys/unix"
	"time"

	"moat/abi/linux"
	"moat/arch"
	"moat/fs/socktime"
	"moat/fs/unixsock"
	"moat/kernel"
	"moat/vfs"
)

// Sockets: AF_UNIX (socket, socketpair, bind to paths and abstract names,
// listen, accept, connect, SCM_RIGHTS, SCM_CREDENTIALS) here; AF_INET and AF_INET6 in
// socket_inet.go, which each call below tries first. Other families are
// EAFNOSUPPORT.

// sockTypeMask is SOCK_TYPE_MASK: the socket type part of socket(2)'s type.
const sockTypeMask = 0xf

// sockMax is SOCK_MAX: types at or beyond it are EINVAL.
const sockMax = 11

// sockType splits socket(2)'s type into the type and SOCK_NONBLOCK and
// SOCK_CLOEXEC, checking them in Linux's order.
func sockType(domain, typ, proto int) (int, int, error) {
	flags := typ &^ sockTypeMask
	if flags&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		return 0, 0, unix.EINVAL
	}
	typ &= sockTypeMask
	if domain < 0 || domain >= unix.AF_MAX {
		return 0, 0, unix.EAFNOSUPPORT
	}
	if typ >= sockMax {
		return 0, 0, unix.EINVAL
	}
	if domain == unix.AF_INET || domain == unix.AF_INET6 || domain == unix.AF_NETLINK {
		return typ, flags, nil // the protocol is checked by fs/inet or fs/netlink
	}
	if domain != unix.AF_UNIX {
		return 0, 0, unix.EAFNOSUPPORT // support: AF_NETLINK, AF_PACKET and others are not implemented
	}
	if proto != 0 && proto != unix.AF_UNIX {
		return 0, 0, unix.EPROTONOSUPPORT
	}
	switch typ {
	case unix.SOCK_STREAM, unix.SOCK_DGRAM, unix.SOCK_SEQPACKET:
	case unix.SOCK_RAW:
		typ = unix.SOCK_DGRAM // as Linux does for AF_UNIX
	default:
		return 0, 0, unix.ESOCKTNOSUPPORT
	}
	return typ, flags, nil
}

func sockFileFlags(flags int) uint32 {
	fl := uint32(unix.O_RDWR)
	if flags&unix.SOCK_NONBLOCK != 0 {
		fl |= unix.O_NONBLOCK
	}
	return fl
}

// taskCred is the identity SO_PEERCRED reports for t.
func taskCred(t *kernel.Task) unixsock.Cred {
	c := t.Creds()
	return unixsock.Cred{PID: t.TGID(), UID: c.EUID, GID: c.EGID}
}

// installSocket installs a new socket's description; it takes over the
// caller's reference.
func installSocket(t *kernel.Task, s *unixsock.Socket, flags int) (int32, error) {
	f := vfs.NewFileDescription(s, vfs.Path{}, sockFileFlags(flags))
	defer f.DecRef()
	return t.FDs().Install(f, 0, flags&unix.SOCK_CLOEXEC != 0, nofile(t))
}

func sysSocket(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	domain := int(int32(a[0]))
	typ, flags, err := sockType(domain, int(int32(a[1])), int(int32(a[2])))
	if err != nil {
		return 0, err
	}
	if domain == unix.AF_INET || domain == unix.AF_INET6 || domain == unix.AF_NETLINK {
		return newInetSocket(t, domain, typ, int(int32(a[2])), flags)
	}
	fd, err := installSocket(t, unixsock.New(typ), flags)
	return uintptr(fd), err
}

func sysSocketpair(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	domain := int(int32(a[0]))
	typ, flags, err := sockType(domain, int(int32(a[1])), int(int32(a[2])))
	if err != nil {
		return 0, err
	}
	if domain != unix.AF_UNIX {
		return 0, unix.EOPNOTSUPP // as Linux: internet sockets come singly
	}
	if !accessOK(a[3], 8) {
		return 0, unix.EFAULT
	}
	x, y := unixsock.NewPair(typ, taskCred(t))
	fl := sockFileFlags(flags)
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

// Addresses.

// sunPathOff is offsetof(struct sockaddr_un, sun_path); sunLen is
// sizeof(struct sockaddr_un).
const (
	sunPathOff      = 2
	sunLen          = 110
	sockaddrStorage = 128
)

// copyInSockaddr reads a socket address of n bytes (move_addr_to_kernel).
func copyInSockaddr(t *kernel.Task, addr, n uintptr) ([]byte, error) {
	if int32(n) < 0 || n > sockaddrStorage {
		return nil, unix.EINVAL
	}
	b := make([]byte, n)
	if err := copyIn(t, addr, b); err != nil {
		return nil, err
	}
	return b, nil
}

// unixAddr validates an AF_UNIX address and returns its name: a path,
// or "\x00..." for an abstract name.
func unixAddr(b []byte) (string, error) {
	if len(b) <= sunPathOff || len(b) > sunLen || le.Uint16(b) != unix.AF_UNIX {
		return "", unix.EINVAL
	}
	p := b[sunPathOff:]
	if p[0] == 0 {
		return string(p), nil
	}
	for i, c := range p {
		if c == 0 {
			return string(p[:i]), nil
		}
	}
	return string(p), nil
}

// encodeAddr returns the sockaddr_un of a bound name (Linux's lengths:
// the family alone when unnamed, a path with its NUL, an abstract name
// as bound).
func encodeAddr(name string) []byte {
	b := make([]byte, sunPathOff, sunPathOff+len(name)+1)
	le.PutUint16(b, unix.AF_UNIX)
	b = append(b, name...)
	if name != "" && name[0] != 0 {
		b = append(b, 0)
	}
	return b
}

// putSockaddr writes an address and its length (move_addr_to_user).
func putSockaddr(t *kernel.Task, addr, lenAddr uintptr, b []byte) error {
	var lb [4]byte
	if err := copyIn(t, lenAddr, lb[:]); err != nil {
		return err
	}
	l := int32(le.Uint32(lb[:]))
	if l > int32(len(b)) {
		l = int32(len(b))
	}
	if l < 0 {
		return unix.EINVAL
	}
	if l > 0 {
		if err := copyOut(t, addr, b[:l]); err != nil {
			return err
		}
	}
	return putU32(t, lenAddr, uint32(len(b)))
}

// bindPath creates the socket inode at path and binds s to it.
func bindPath(t *kernel.Task, s *unixsock.Socket, path string) error {
	r, err := t.Resolver(unix.AT_FDCWD, path)
	if err != nil {
		return err
	}
	dir, name, trailing, err := r.ResolveParent(t, path)
	if err != nil {
		return err
	}
	if name == "" || name == "." || name == ".." {
		return unix.EADDRINUSE
	}
	if _, err := dir.Inode().Lookup(t, name); err == nil {
		return unix.EADDRINUSE
	}
	if trailing {
		return unix.ENOENT
	}
	if s.Bound() {
		return unix.EINVAL
	}
	if err := writableDir(t, dir); err != nil {
		return err
	}
	mk, ok := dir.Inode().(mknoder)
	if !ok {
		return unix.EPERM
	}
	if err := mk.Mknod(t, name, unix.S_IFSOCK|0o777&^t.Umask(), 0); err != nil {
		if err == unix.EEXIST {
			return unix.EADDRINUSE
		}
		return err
	}
	child, err := dir.Inode().Lookup(t, name)
	if err != nil {
		return err
	}
	st, err := child.Stat(t)
	if err != nil {
		return err
	}
	key := unixsock.InodeKey{Dev: st.Dev, Ino: st.Ino}
	if err := s.Bind(path, &key); err != nil {
		dir.Inode().Unlink(t, name) // lost a race with another bind of s
		return err
	}
	return nil
}

func sysBind(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if f, s := inetOf(t, a[0]); s != nil {
		defer f.DecRef()
		return inetBind(t, s, a)
	}
	f, s, err := socketOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	b, err := copyInSockaddr(t, a[1], a[2])
	if err != nil {
		return 0, err
	}
	if len(b) == sunPathOff && le.Uint16(b) == unix.AF_UNIX {
		return 0, s.Bind("", nil) // autobind
	}
	name, err := unixAddr(b)
	if err != nil {
		return 0, err
	}
	if name[0] == 0 {
		return 0, s.Bind(name, nil)
	}
	return 0, bindPath(t, s, name)
}

// lookupSocket finds the socket bound to name: ENOENT and the other
// resolution errors for a path, ECONNREFUSED when nothing is bound there.
func lookupSocket(t *kernel.Task, name string) (*unixsock.Socket, error) {
	if name[0] == 0 {
		if s := unixsock.LookupAbstract(name); s != nil {
			return s, nil
		}
		return nil, unix.ECONNREFUSED
	}
	r, err := t.Resolver(unix.AT_FDCWD, name)
	if err != nil {
		return nil, err
	}
	p, err := r.Resolve(t, name, true)
	if err != nil {
		if _, ok := err.(*vfs.MagicFile); ok {
			return nil, unix.ECONNREFUSED
		}
		return nil, err
	}
	st, err := p.Inode().Stat(t)
	if err != nil {
		return nil, err
	}
	if err := checkMode(t, &st, unix.W_OK); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return nil, unix.ECONNREFUSED
	}
	if s := unixsock.LookupInode(unixsock.InodeKey{Dev: st.Dev, Ino: st.Ino}); s != nil {
		return s, nil
	}
	return nil, unix.ECONNREFUSED
}

// autobind binds an unbound socket with SO_PASSCRED before it connects
// (any type) or sends (datagram sockets; seqpacket ones bind in
// unixsock), as Linux does.
func autobind(s *unixsock.Socket, connect bool) {
	if (connect || s.Type() == unix.SOCK_DGRAM) && s.PassCred() && !s.Bound() {
		s.Bind("", nil)
	}
}

func sysConnect(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if f, s := inetOf(t, a[0]); s != nil {
		defer f.DecRef()
		return inetConnect(t, f, s, a)
	}
	f, s, err := socketOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	b, err := copyInSockaddr(t, a[1], a[2])
	if err != nil {
		return 0, err
	}
	nonblock := f.Flags()&unix.O_NONBLOCK != 0
	if s.Type() == unix.SOCK_DGRAM {
		if len(b) < 2 {
			return 0, unix.EINVAL
		}
		if le.Uint16(b) == unix.AF_UNSPEC {
			return 0, s.Connect(t, nil, taskCred(t), nonblock)
		}
	}
	name, err := unixAddr(b)
	if err != nil {
		return 0, err
	}
	autobind(s, true)
	to, err := lookupSocket(t, name)
	if err != nil {
		return 0, err
	}
	return 0, s.Connect(t, to, taskCred(t), nonblock)
}

func sysListen(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if f, s := inetOf(t, a[0]); s != nil {
		defer f.DecRef()
		return 0, s.Listen(int(int32(a[1])))
	}
	f, s, err := socketOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return 0, s.Listen(int(int32(a[1])), taskCred(t))
}

func accept(t *kernel.Task, fd, addr, lenAddr uintptr, flags int) (uintptr, error) {
	if flags&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		return 0, unix.EINVAL
	}
	if f, s := inetOf(t, fd); s != nil {
		defer f.DecRef()
		return inetAccept(t, f, s, addr, lenAddr, flags)
	}
	f, s, err := socketOf(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	c, err := s.Accept(t, f.Flags()&unix.O_NONBLOCK != 0)
	if err != nil {
		return 0, err
	}
	nfd, err := installSocket(t, c, flags)
	if err != nil {
		return 0, err
	}
	if addr != 0 {
		peer, _ := c.PeerAddr()
		if err := putSockaddr(t, addr, lenAddr, encodeAddr(peer)); err != nil {
			t.FDs().Remove(nfd)
			return 0, err
		}
	}
	return uintptr(nfd), nil
}

func sysAccept(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return accept(t, a[0], a[1], a[2], 0)
}

func sysAccept4(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return accept(t, a[0], a[1], a[2], int(int32(a[3])))
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

// sendTarget resolves the destination of sendto or sendmsg: nil for the
// connected peer. Stream sockets refuse an address; seqpacket sockets
// ignore it.
func sendTarget(t *kernel.Task, s *unixsock.Socket, b []byte) (*unixsock.Socket, error) {
	if len(b) == 0 {
		return nil, nil
	}
	switch s.Type() {
	case unix.SOCK_STREAM:
		if _, err := s.PeerAddr(); err == nil {
			return nil, unix.EISCONN
		}
		return nil, unix.EOPNOTSUPP
	case unix.SOCK_SEQPACKET:
		return nil, nil
	}
	name, err := unixAddr(b)
	if err != nil {
		return nil, err
	}
	return lookupSocket(t, name)
}

// sendBuf sends app memory: a message in one piece, a stream in chunks
// until all of it is queued (or a nonblocking send or a signal stops it).
func sendBuf(t *kernel.Task, f *vfs.FileDescription, s *unixsock.Socket, addr, n uintptr, flags int, to *unixsock.Socket) (uintptr, error) {
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
		w, err := sendData(t, f, s, part, flags, to, nil, nil)
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

// sendData queues data, with the descriptors fds and the credentials
// cred the sender gave (nil: its own, if asked for); EPIPE raises SIGPIPE
// unless MSG_NOSIGNAL.
func sendData(t *kernel.Task, f *vfs.FileDescription, s *unixsock.Socket, data []byte, flags int, to *unixsock.Socket, fds []*vfs.FileDescription, cred *unixsock.Cred) (int, error) {
	o := sockOptions(f, flags)
	o.Cred = cred
	w, err := s.SendTo(t, data, o, to, fds)
	if err == unix.EPIPE && flags&unix.MSG_NOSIGNAL == 0 {
		t.SendSignalSelf(unix.SIGPIPE)
	}
	return w, err
}

func sysSendto(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if f, s := inetOf(t, a[0]); s != nil {
		defer f.DecRef()
		return inetSendto(t, f, s, a)
	}
	f, s, err := socketOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	var b []byte
	if a[4] != 0 {
		if b, err = copyInSockaddr(t, a[4], a[5]); err != nil {
			return 0, err
		}
	}
	if len(b) > 0 {
		autobind(s, false)
	}
	to, err := sendTarget(t, s, b)
	if err != nil {
		return 0, err
	}
	if to == nil {
		autobind(s, false)
	}
	return sendBuf(t, f, s, a[1], a[2], int(a[3]), to)
}

// recvBuf receives into app memory; with MSG_TRUNC a message socket
// reports the message's full length. Descriptors that came along are
// dropped.
func recvBuf(t *kernel.Task, f *vfs.FileDescription, s *unixsock.Socket, addr, n uintptr, flags int) (uintptr, string, error) {
	if !accessOK(addr, n) {
		return 0, "", unix.EFAULT
	}
	buf := make([]byte, min(n, unixsock.Capacity, maxRW))
	m, err := s.Recv(t, buf, sockOptions(f, flags))
	unixsock.Release(m.FDs)
	if err != nil {
		return 0, "", err
	}
	if err := copyOut(t, addr, buf[:m.N]); err != nil {
		return 0, "", err
	}
	if flags&unix.MSG_TRUNC != 0 && s.Type() != unix.SOCK_STREAM {
		return uintptr(m.Full), m.From, nil
	}
	return uintptr(m.N), m.From, nil
}

func sysRecvfrom(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if f, s := inetOf(t, a[0]); s != nil {
		defer f.DecRef()
		return inetRecvfrom(t, f, s, a)
	}
	f, s, err := socketOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	n, from, err := recvBuf(t, f, s, a[1], a[2], int(a[3]))
	if err == nil && a[4] != 0 {
		var b []byte
		if from != "" {
			b = encodeAddr(from)
		}
		if err := putSockaddr(t, a[4], a[5], b); err != nil {
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
	if int32(m.namelen) < 0 {
		f.DecRef()
		return nil, nil, msghdr{}, nil, unix.EINVAL
	}
	iovs, err := copyInIovecs(t, m.iov, m.iovlen)
	if err != nil {
		f.DecRef()
		return nil, nil, msghdr{}, nil, err
	}
	return f, s, m, iovs, nil
}

// Control messages.
const (
	cmsgHdrLen = 16
	maxControl = 128 << 10 // optmem_max-like bound on a control buffer
)

func cmsgAlign(n uintptr) uintptr { return (n + 7) &^ 7 }

// controlFDs parses sendmsg's control buffer as Linux's __scm_send does
// and returns the SCM_RIGHTS descriptors, each with a reference the
// caller owns, and the SCM_CREDENTIALS credentials (nil if none).
func controlFDs(t *kernel.Task, m msghdr) ([]*vfs.FileDescription, *unixsock.Cred, error) {
	if m.controllen == 0 {
		return nil, nil, nil
	}
	if m.controllen >= maxControl {
		return nil, nil, unix.ENOBUFS
	}
	ctl := make([]byte, m.controllen)
	if err := copyIn(t, m.control, ctl); err != nil {
		return nil, nil, err
	}
	var fds []*vfs.FileDescription
	var cred *unixsock.Cred
	fail := func(err error) ([]*vfs.FileDescription, *unixsock.Cred, error) {
		unixsock.Release(fds)
		return nil, nil, err
	}
	for off := uintptr(0); off+cmsgHdrLen <= uintptr(len(ctl)); {
		clen := uintptr(le.Uint64(ctl[off:]))
		level, typ := int32(le.Uint32(ctl[off+8:])), int32(le.Uint32(ctl[off+12:]))
		if clen < cmsgHdrLen || clen > uintptr(len(ctl))-off {
			return fail(unix.EINVAL)
		}
		if level == unix.SOL_SOCKET {
			switch typ {
			case unix.SCM_RIGHTS:
				num := int((clen - cmsgHdrLen) / 4)
				if num > unixsock.MaxFDs || len(fds)+num > unixsock.MaxFDs {
					return fail(unix.EINVAL)
				}
				for i := range num {
					fd := int32(le.Uint32(ctl[off+cmsgHdrLen+uintptr(4*i):]))
					if fd < 0 {
						return fail(unix.EBADF)
					}
					file, err := t.FDs().Get(fd)
					if err != nil {
						return fail(unix.EBADF)
					}
					fds = append(fds, file)
				}
			case unix.SCM_CREDENTIALS:
				if clen != cmsgHdrLen+12 {
					return fail(unix.EINVAL)
				}
				d := ctl[off+cmsgHdrLen:]
				c := unixsock.Cred{PID: int32(le.Uint32(d)), UID: le.Uint32(d[4:]), GID: le.Uint32(d[8:])}
				if err := checkCred(t, c); err != nil {
					return fail(err)
				}
				cred = &c
			default:
				return fail(unix.EINVAL)
			}
		}
		next := off + cmsgAlign(clen)
		if next < off || next+cmsgHdrLen > uintptr(len(ctl)) {
			break
		}
		off = next
	}
	return fds, cred, nil
}

// checkCred checks credentials a sender gives in SCM_CREDENTIALS, as
// Linux's scm_check_creds does: its own process id, or any with
// CAP_SYS_ADMIN (ESRCH if there is no such process); one of its real,
// effective or saved user ids, or any with CAP_SETUID; the same for group
// ids with CAP_SETGID. -1 is EINVAL.
func checkCred(t *kernel.Task, c unixsock.Cred) error {
	if c.UID == ^uint32(0) || c.GID == ^uint32(0) {
		return unix.EINVAL
	}
	cr := t.Creds()
	pidOK := c.PID == t.TGID() || t.HasCapability(linux.CAP_SYS_ADMIN)
	uidOK := c.UID == cr.UID || c.UID == cr.EUID || c.UID == cr.SUID || t.HasCapability(linux.CAP_SETUID)
	gidOK := c.GID == cr.GID || c.GID == cr.EGID || c.GID == cr.SGID || t.HasCapability(linux.CAP_SETGID)
	if !pidOK || !uidOK || !gidOK {
		return unix.EPERM
	}
	if c.PID != t.TGID() && (c.PID <= 0 || t.Kernel().Task(c.PID) == nil) {
		return unix.ESRCH
	}
	return nil
}

func sysSendmsg(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if f, s := inetOf(t, a[0]); s != nil {
		defer f.DecRef()
		return inetSendmsg(t, f, s, a)
	}
	f, s, m, iovs, err := msgArgs(t, a[0], a[1])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	var name []byte
	if m.name != 0 && m.namelen != 0 {
		if name, err = copyInSockaddr(t, m.name, min(m.namelen, sockaddrStorage)); err != nil {
			return 0, err
		}
	}
	fds, cred, err := controlFDs(t, m)
	if err != nil {
		return 0, err
	}
	sent := false
	defer func() {
		if !sent {
			unixsock.Release(fds)
		}
	}()
	if len(name) > 0 {
		autobind(s, false)
	}
	to, err := sendTarget(t, s, name)
	if err != nil {
		return 0, err
	}
	if to == nil {
		autobind(s, false)
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
	w, err := sendData(t, f, s, buf, int(a[2]), to, fds, cred)
	if err == nil || w > 0 {
		sent = true
	}
	return uintptr(w), err
}

// putControl writes a received message's control messages as Linux's
// scm_recv does: SCM_CREDENTIALS first when the receiver has SO_PASSCRED
// (cut to what fits), then the descriptors (see putControlFDs). It
// returns the bytes of control data written and whether any was
// truncated, and releases every reference of msg.FDs.
func putControl(t *kernel.Task, m msghdr, msg unixsock.Message, cloexec bool) (uintptr, bool, error) {
	if m.control == 0 {
		unixsock.Release(msg.FDs)
		return 0, msg.PassCred || len(msg.FDs) > 0, nil
	}
	used, trunc := uintptr(0), false
	if msg.PassCred {
		if m.controllen < cmsgHdrLen {
			trunc = true
		} else {
			clen := uintptr(cmsgHdrLen + 12)
			if m.controllen < clen {
				trunc = true
				clen = m.controllen
			}
			b := make([]byte, cmsgHdrLen+12)
			le.PutUint64(b, uint64(clen))
			le.PutUint32(b[8:], unix.SOL_SOCKET)
			le.PutUint32(b[12:], unix.SCM_CREDENTIALS)
			le.PutUint32(b[16:], uint32(msg.Cred.PID))
			le.PutUint32(b[20:], msg.Cred.UID)
			le.PutUint32(b[24:], msg.Cred.GID)
			// As Linux, a fault here is not reported.
			if copyOut(t, m.control, b[:clen]) == nil {
				used = min(cmsgAlign(cmsgHdrLen+12), m.controllen)
			}
		}
	}
	rest := m
	rest.control += used
	rest.controllen -= used
	n, tr, err := putControlFDs(t, rest, msg.FDs, cloexec)
	return used + n, trunc || tr, err
}

// putControlFDs installs received descriptors and writes their SCM_RIGHTS
// message as far as the control buffer allows, as Linux's
// scm_detach_fds does; it returns the bytes of control data written and
// whether they were truncated. It releases every reference of fds.
func putControlFDs(t *kernel.Task, m msghdr, fds []*vfs.FileDescription, cloexec bool) (uintptr, bool, error) {
	defer unixsock.Release(fds)
	if len(fds) == 0 {
		return 0, false, nil
	}
	room := 0
	if m.controllen > cmsgHdrLen {
		room = int(min((m.controllen-cmsgHdrLen)/4, uintptr(len(fds))))
	}
	var nums []int32
	for _, file := range fds[:room] {
		fd, err := t.FDs().Install(file, 0, cloexec, nofile(t))
		if err != nil {
			break
		}
		nums = append(nums, fd)
	}
	trunc := len(nums) < len(fds)
	if len(nums) == 0 {
		return 0, trunc, nil
	}
	clen := cmsgHdrLen + 4*uintptr(len(nums))
	b := make([]byte, clen)
	le.PutUint64(b, uint64(clen))
	le.PutUint32(b[8:], unix.SOL_SOCKET)
	le.PutUint32(b[12:], unix.SCM_RIGHTS)
	for i, fd := range nums {
		le.PutUint32(b[cmsgHdrLen+4*i:], uint32(fd))
	}
	if err := copyOut(t, m.control, b); err != nil {
		for _, fd := range nums {
			t.FDs().Remove(fd)
		}
		return 0, trunc, err
	}
	return min(cmsgAlign(clen), m.controllen), trunc, nil
}

func sysRecvmsg(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if f, s := inetOf(t, a[0]); s != nil {
		defer f.DecRef()
		return inetRecvmsg(t, f, s, a)
	}
	f, s, m, iovs, err := msgArgs(t, a[0], a[1])
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
	msg, err := s.Recv(t, buf, sockOptions(f, flags))
	if err != nil {
		return 0, err
	}
	rest := buf[:msg.N]
	for _, iov := range iovs {
		n := min(uintptr(len(rest)), iov.len)
		if err := copyOut(t, iov.base, rest[:n]); err != nil {
			unixsock.Release(msg.FDs)
			return 0, err
		}
		rest = rest[n:]
	}
	var outFlags uint32
	if msg.Full > msg.N {
		outFlags |= unix.MSG_TRUNC
	}
	if m.name != 0 {
		var b []byte
		if msg.From != "" {
			b = encodeAddr(msg.From)
		}
		if err := putSockaddr(t, m.name, a[1]+8, b); err != nil {
			unixsock.Release(msg.FDs)
			return 0, err
		}
	}
	ctl, trunc, err := putControl(t, m, msg, flags&unix.MSG_CMSG_CLOEXEC != 0)
	if err != nil {
		return 0, err
	}
	if trunc {
		outFlags |= unix.MSG_CTRUNC
	}
	hdr := make([]byte, 16)
	le.PutUint64(hdr, uint64(ctl))
	le.PutUint32(hdr[8:], outFlags)
	if err := copyOut(t, a[1]+40, hdr[:12]); err != nil {
		return 0, err
	}
	if flags&unix.MSG_TRUNC != 0 && s.Type() != unix.SOCK_STREAM {
		return uintptr(msg.Full), nil
	}
	return uintptr(msg.N), nil
}

func sysShutdown(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if f, s := inetOf(t, a[0]); s != nil {
		defer f.DecRef()
		return 0, s.Shutdown(int(a[1]))
	}
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
	if f, s := inetOf(t, a[0]); s != nil {
		defer f.DecRef()
		return inetGetsockopt(t, s, a)
	}
	f, s, err := socketOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if int(a[1]) != unix.SOL_SOCKET {
		return 0, unix.ENOPROTOOPT
	}
	var v []byte
	put32 := func(x uint32) { v = le.AppendUint32(v, x) }
	switch int(a[2]) {
	case unix.SO_TYPE:
		put32(uint32(s.Type()))
	case unix.SO_DOMAIN:
		put32(unix.AF_UNIX)
	case unix.SO_ERROR:
		var e uint32
		if err, ok := s.TakeError().(unix.Errno); ok {
			e = uint32(err)
		}
		put32(e)
	case unix.SO_ACCEPTCONN:
		put32(b2u(s.Listening()))
	case unix.SO_PASSCRED:
		put32(b2u(s.PassCred()))
	case unix.SO_SNDBUF, unix.SO_RCVBUF:
		put32(unixsock.Capacity)
	case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO:
		v = s.Timeout(int(a[2]) == unix.SO_RCVTIMEO).Bytes()
	case unix.SO_PROTOCOL:
		put32(0)
	case unix.SO_KEEPALIVE, unix.SO_REUSEADDR, unix.SO_OOBINLINE:
		put32(b2u(s.Flag(int(a[2]))))
	case unix.SO_LINGER:
		put32(0)
		put32(0)
	case unix.SO_PEERCRED:
		c, ok := s.PeerCred()
		if !ok {
			c = unixsock.Cred{UID: ^uint32(0), GID: ^uint32(0)}
		}
		put32(uint32(c.PID))
		put32(c.UID)
		put32(c.GID)
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
	n := min(uint32(l), uint32(len(v)))
	if err := copyOut(t, a[3], v[:n]); err != nil {
		return 0, err
	}
	return 0, putU32(t, a[4], n)
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

func sysSetsockopt(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if f, s := inetOf(t, a[0]); s != nil {
		defer f.DecRef()
		return inetSetsockopt(t, s, a)
	}
	f, s, err := socketOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if int(a[1]) != unix.SOL_SOCKET {
		return 0, unix.ENOPROTOOPT
	}
	switch name := int(a[2]); name {
	case unix.SO_SNDBUF, unix.SO_RCVBUF, unix.SO_PASSCRED, unix.SO_KEEPALIVE, unix.SO_REUSEADDR, unix.SO_OOBINLINE:
		if a[4] < 4 {
			return 0, unix.EINVAL
		}
		b := make([]byte, 4)
		if err := copyIn(t, a[3], b); err != nil {
			return 0, err
		}
		switch name {
		case unix.SO_PASSCRED:
			s.SetPassCred(le.Uint32(b) != 0)
		case unix.SO_KEEPALIVE, unix.SO_REUSEADDR, unix.SO_OOBINLINE:
			s.SetFlag(name, le.Uint32(b) != 0) // kept for getsockopt; no effect on AF_UNIX, as on Linux
		}
		return 0, nil // buffer sizes stay fixed
	case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO:
		b := make([]byte, min(a[4], 16))
		if err := copyIn(t, a[3], b); err != nil {
			return 0, err
		}
		tm, err := socktime.Parse(b)
		if err != nil {
			return 0, err
		}
		s.SetTimeout(name == unix.SO_RCVTIMEO, tm)
		return 0, nil
	case unix.SO_LINGER:
		if a[4] < 8 {
			return 0, unix.EINVAL
		}
		b := make([]byte, 8)
		return 0, copyIn(t, a[3], b) // accepted: closing an AF_UNIX socket never lingers
	}
	return 0, unix.ENOPROTOOPT
}

func sysGetsockname(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if f, s := inetOf(t, a[0]); s != nil {
		defer f.DecRef()
		return 0, putSockaddr(t, a[1], a[2], s.Addr())
	}
	f, s, err := socketOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return 0, putSockaddr(t, a[1], a[2], encodeAddr(s.Addr()))
}

func sysGetpeername(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if f, s := inetOf(t, a[0]); s != nil {
		defer f.DecRef()
		peer, err := s.PeerAddr()
		if err != nil {
			return 0, err
		}
		return 0, putSockaddr(t, a[1], a[2], peer)
	}
	f, s, err := socketOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	peer, err := s.PeerAddr()
	if err != nil {
		return 0, err
	}
	return 0, putSockaddr(t, a[1], a[2], encodeAddr(peer))
}

// mmsghdrSize is sizeof(struct mmsghdr): a msghdr and msg_len, padded.
const mmsghdrSize = 64

// uioMaxIOV is UIO_MAXIOV: sendmmsg and recvmmsg handle at most this many
// messages per call.
const uioMaxIOV = 1024

// msgWaitForOne is MSG_WAITFORONE: recvmmsg blocks for the first message
// only.
const msgWaitForOne = 0x10000

// mmsg runs one sendmsg or recvmsg per struct mmsghdr at vec, writing
// each msg_len, as sendmmsg and recvmmsg do: the count of messages done,
// or the first one's error if none was. more reports whether to go on
// after message i (recvmmsg's MSG_WAITFORONE and timeout).
func mmsg(t *kernel.Task, one kernel.SyscallFunc, fd, vec, vlen uintptr, flags uintptr, more func(i int) (uintptr, bool)) (uintptr, error) {
	vlen = min(vlen, uioMaxIOV)
	done := uintptr(0)
	for i := uintptr(0); i < vlen; i++ {
		hdr := vec + i*mmsghdrSize
		f := flags
		if i > 0 {
			var ok bool
			if f, ok = more(int(i)); !ok {
				break
			}
		}
		n, err := one(t, arch.SyscallArgs{fd, hdr, f})
		if err != nil {
			if done > 0 {
				break // the error is for the next call, as Linux keeps it
			}
			return 0, err
		}
		if err := putU32(t, hdr+56, uint32(n)); err != nil {
			if done > 0 {
				break
			}
			return 0, err
		}
		done++
	}
	return done, nil
}

func sysSendmmsg(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return mmsg(t, sysSendmsg, a[0], a[1], a[2], a[3], func(int) (uintptr, bool) { return a[3], true })
}

func sysRecvmmsg(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	flags := a[3] &^ msgWaitForOne
	var deadline time.Time
	if a[4] != 0 {
		ts, err := copyInTimespec(t, a[4])
		if err != nil {
			return 0, err
		}
		deadline = time.Now().Add(tsDuration(ts))
	}
	return mmsg(t, sysRecvmsg, a[0], a[1], a[2], flags, func(int) (uintptr, bool) {
		// As on Linux, the timeout is looked at only between messages.
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return 0, false
		}
		if a[3]&msgWaitForOne != 0 {
			return flags | unix.MSG_DONTWAIT, true
		}
		return flags, true
	})
}
