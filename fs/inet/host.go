package inet

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// MaxHostSockets bounds the host sockets one sandbox holds open with
// --net host (each costs the sentry a host descriptor): more is ENFILE.
const MaxHostSockets = 16384

// Host is the network of --net host: every internet socket of the sandbox
// is a host socket that the sentry opens, non-blocking, and drives on the
// app's behalf. The sandbox reaches exactly what moat's own host user can,
// through the host's interfaces, routes and firewall; the app never holds
// a host descriptor. Only plain-value socket options pass through (a
// whitelist: none whose value holds a pointer, none that reaches the
// host's firewall tables), and no raw sockets.
type Host struct {
	open    atomic.Int64
	sysctls Sysctls

	pollOnce sync.Once
	poller   *poller
	pollErr  error
}

// NewHost returns the --net host network.
func NewHost() *Host { return &Host{} }

// hostSocket is a sandbox socket served by a host socket.
type hostSocket struct {
	base
	h  *Host
	fd int
}

// NewSocket implements Network.
func (h *Host) NewSocket(family, typ, proto int) (Socket, error) {
	if typ == unix.SOCK_RAW && proto != unix.IPPROTO_ICMP && proto != unix.IPPROTO_ICMPV6 {
		return nil, unix.EPROTONOSUPPORT // support: raw sockets of ICMP and ICMPv6 only (ping), and only as the host allows moat
	}
	if typ != unix.SOCK_STREAM && typ != unix.SOCK_DGRAM && typ != unix.SOCK_RAW {
		return nil, unix.ESOCKTNOSUPPORT
	}
	if h.open.Add(1) > MaxHostSockets {
		h.open.Add(-1)
		return nil, unix.ENFILE
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		h.open.Add(-1)
		return nil, err
	}
	if proto == 0 {
		proto = unix.IPPROTO_TCP
		if typ == unix.SOCK_DGRAM {
			proto = unix.IPPROTO_UDP
		}
	}
	return h.wrap(family, typ, proto, fd)
}

// wrap makes a sandbox socket of the host socket fd (counted in h.open),
// watched by the poller.
func (h *Host) wrap(family, typ, proto, fd int) (Socket, error) {
	h.pollOnce.Do(func() { h.poller, h.pollErr = newPoller() })
	if h.pollErr != nil {
		unix.Close(fd)
		h.open.Add(-1)
		return nil, h.pollErr
	}
	so := &hostSocket{base: newBase(family, typ, proto), h: h, fd: fd}
	if err := h.poller.add(fd, so.notify); err != nil {
		unix.Close(fd)
		h.open.Add(-1)
		return nil, err
	}
	register(so.ino, so)
	return so, nil
}

// Release implements vfs.FileImpl.
func (so *hostSocket) Release() {
	unregister(so.ino)
	so.h.poller.remove(so.fd)
	unix.Close(so.fd)
	so.h.open.Add(-1)
}

// Readiness implements vfs.Poller.
func (so *hostSocket) Readiness() uint32 {
	fds := []unix.PollFd{{Fd: int32(so.fd), Events: unix.POLLIN | unix.POLLPRI | unix.POLLOUT | unix.POLLRDHUP}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return 0
		}
		return uint32(uint16(fds[0].Revents))
	}
}

// retry runs a host call again while the host interrupts it.
func retry(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}

// Bind implements Socket.
func (so *hostSocket) Bind(ctx vfs.Context, b []byte) error {
	// The sandbox's own rule for low ports, before the host (where moat
	// may well be root) sees the bind.
	if err := so.h.sysctls.checkPort(ctx, b); err != nil {
		return err
	}
	return retry(func() error { return rawBind(so.fd, b) })
}

// Sysctls implements Network.
func (h *Host) Sysctls() *Sysctls { return &h.sysctls }

// Connect implements Socket: the host connect is non-blocking, and a
// blocking one waits here, interruptibly, for its outcome.
func (so *hostSocket) Connect(ctx vfs.Context, b []byte, nonblock bool) error {
	err := retry(func() error { return rawConnect(so.fd, b) })
	if err != unix.EINPROGRESS && err != unix.EALREADY || nonblock {
		return err
	}
	_, snd := so.timeouts()
	err = so.block(ctx, false, snd, func() error {
		if so.Readiness()&(unix.POLLOUT|unix.POLLERR|unix.POLLHUP) == 0 {
			return unix.EAGAIN
		}
		return nil
	})
	if err == unix.EAGAIN {
		return unix.EINPROGRESS // SO_SNDTIMEO passed: the connect goes on
	}
	if err != nil {
		return err
	}
	soerr, err := unix.GetsockoptInt(so.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if soerr != 0 {
		return unix.Errno(soerr)
	}
	return nil
}

// Listen implements Socket.
func (so *hostSocket) Listen(backlog int) error {
	return retry(func() error { return unix.Listen(so.fd, backlog) })
}

// Accept implements Socket.
func (so *hostSocket) Accept(ctx vfs.Context, nonblock bool) (Socket, []byte, error) {
	var (
		nfd  int
		peer []byte
	)
	rcv, _ := so.timeouts()
	err := so.block(ctx, nonblock, rcv, func() error {
		var err error
		nfd, peer, err = rawAccept4(so.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if so.h.open.Add(1) > MaxHostSockets {
		so.h.open.Add(-1)
		unix.Close(nfd)
		return nil, nil, unix.ENFILE
	}
	c, err := so.h.wrap(so.family, so.typ, so.proto, nfd)
	if err != nil {
		return nil, nil, err
	}
	return c, peer, nil
}

// Shutdown implements Socket.
func (so *hostSocket) Shutdown(how int) error {
	return unix.Shutdown(so.fd, how)
}

// Addr implements Socket.
func (so *hostSocket) Addr() []byte {
	b, err := rawSockname(so.fd, false)
	if err != nil {
		return nil
	}
	return b
}

// PeerAddr implements Socket.
func (so *hostSocket) PeerAddr() ([]byte, error) {
	return rawSockname(so.fd, true)
}

// Send implements Socket.
func (so *hostSocket) Send(ctx vfs.Context, src, to []byte, o Options) (int, error) {
	flags := unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL // SIGPIPE is the app's, raised by the caller
	if o.More {
		flags |= unix.MSG_MORE
	}
	_, snd := so.timeouts()
	done := 0
	err := so.block(ctx, o.NonBlock, snd, func() error {
		for {
			n, err := rawSendto(so.fd, src[done:], flags, to)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				if err == unix.EAGAIN && done > 0 && o.NonBlock {
					return nil
				}
				return err
			}
			done += n
			if so.typ != unix.SOCK_STREAM || done == len(src) {
				return nil
			}
		}
	})
	if err != nil && done > 0 && so.typ == unix.SOCK_STREAM {
		return done, nil
	}
	return done, err
}

// Recv implements Socket.
func (so *hostSocket) Recv(ctx vfs.Context, dst []byte, o Options) (Message, error) {
	flags := unix.MSG_DONTWAIT
	if o.Peek {
		flags |= unix.MSG_PEEK
	}
	stream := so.typ == unix.SOCK_STREAM
	if !stream {
		flags |= unix.MSG_TRUNC // the host reports the datagram's whole length
	}
	rcv, _ := so.timeouts()
	var m Message
	for {
		eof := false
		err := so.block(ctx, o.NonBlock || m.N > 0 && !o.WaitAll, rcv, func() error {
			n, from, err := rawRecvfrom(so.fd, dst[m.N:], flags, !stream)
			if err == unix.EINTR {
				return unix.EAGAIN
			}
			if err == unix.EAGAIN && !stream && !o.NonBlock && so.Readiness()&unix.POLLRDHUP != 0 {
				// Shut for reading and empty: a blocking receive on
				// Linux returns 0 rather than waiting for nothing.
				m = Message{}
				return nil
			}
			if err != nil {
				return err
			}
			if stream {
				m.N += n
				eof = n == 0
			} else {
				m = Message{N: min(n, len(dst)), Full: n, From: from}
			}
			return nil
		})
		switch {
		case err != nil && m.N > 0:
			return m, nil // the error comes back on the next call
		case err != nil:
			return m, err
		case !stream:
			return m, nil
		case eof || m.N == len(dst) || !o.WaitAll || o.Peek:
			m.Full = m.N
			return m, nil
		}
	}
}

// Read implements vfs.FileImpl.
func (so *hostSocket) Read(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	m, err := so.Recv(ctx, dst, Options{NonBlock: vfs.Nonblocking(ctx)})
	return m.N, err
}

// Write implements vfs.FileImpl.
func (so *hostSocket) Write(ctx vfs.Context, src []byte, _ int64) (int, error) {
	return so.Send(ctx, src, nil, Options{NonBlock: vfs.Nonblocking(ctx)})
}

// Ioctl implements vfs.Ioctler: FIONREAD, TIOCOUTQ and SIOCATMARK, from
// the host socket.
func (so *hostSocket) Ioctl(ctx vfs.Context, req uint32, arg uintptr, mem vfs.IOMemory) (uintptr, error) {
	switch req {
	case fionread, unix.TIOCOUTQ, unix.SIOCATMARK:
	default:
		return 0, unix.ENOTTY
	}
	v, err := unix.IoctlGetInt(so.fd, uint(req))
	if err != nil {
		return 0, err
	}
	if _, err := mem.CopyOut(arg, putInt(v)); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// hostOptions are the socket options that pass through to the host: plain
// values only (no pointers inside, nothing of the host's firewall).
var hostOptions = map[[2]int]bool{}

func init() {
	for level, names := range map[int][]int{
		unix.SOL_SOCKET: {unix.SO_TYPE, unix.SO_DOMAIN, unix.SO_PROTOCOL, unix.SO_ERROR, unix.SO_ACCEPTCONN,
			unix.SO_REUSEADDR, unix.SO_REUSEPORT, unix.SO_KEEPALIVE, unix.SO_BROADCAST, unix.SO_OOBINLINE,
			unix.SO_SNDBUF, unix.SO_RCVBUF, unix.SO_RCVLOWAT, unix.SO_SNDLOWAT, unix.SO_LINGER,
			unix.SO_PRIORITY, unix.SO_TIMESTAMP, unix.SO_TIMESTAMPNS, unix.SO_BINDTODEVICE, unix.SO_MARK},
		unix.IPPROTO_TCP: {unix.TCP_NODELAY, unix.TCP_MAXSEG, unix.TCP_CORK, unix.TCP_KEEPIDLE,
			unix.TCP_KEEPINTVL, unix.TCP_KEEPCNT, unix.TCP_SYNCNT, unix.TCP_LINGER2, unix.TCP_DEFER_ACCEPT,
			unix.TCP_WINDOW_CLAMP, unix.TCP_INFO, unix.TCP_QUICKACK, unix.TCP_CONGESTION,
			unix.TCP_USER_TIMEOUT, unix.TCP_FASTOPEN, unix.TCP_NOTSENT_LOWAT},
		unix.IPPROTO_IP: {unix.IP_TOS, unix.IP_TTL, unix.IP_RECVTOS, unix.IP_RECVTTL, unix.IP_PKTINFO,
			unix.IP_MTU_DISCOVER, unix.IP_MTU, unix.IP_RECVERR, unix.IP_MULTICAST_TTL,
			unix.IP_MULTICAST_LOOP, unix.IP_FREEBIND, unix.IP_BIND_ADDRESS_NO_PORT},
		unix.IPPROTO_IPV6: {unix.IPV6_V6ONLY, unix.IPV6_TCLASS, unix.IPV6_UNICAST_HOPS,
			unix.IPV6_RECVPKTINFO, unix.IPV6_MULTICAST_HOPS, unix.IPV6_MULTICAST_LOOP,
			unix.IPV6_MTU_DISCOVER, unix.IPV6_RECVERR},
		unix.IPPROTO_UDP: {unix.UDP_CORK},
	} {
		for _, n := range names {
			hostOptions[[2]int{level, n}] = true
		}
	}
}

// maxOptValue bounds an option value read from or given to the host.
const maxOptValue = 512

// GetSockOpt implements Socket.
func (so *hostSocket) GetSockOpt(level, name int) ([]byte, error) {
	if level == unix.SOL_SOCKET && (name == unix.SO_RCVTIMEO || name == unix.SO_SNDTIMEO) {
		return so.getTimeout(name), nil
	}
	if !hostOptions[[2]int{level, name}] {
		if !so.knownLevel(level) {
			return nil, unix.EOPNOTSUPP
		}
		return nil, unix.ENOPROTOOPT // support: options outside moat's list do not reach the host
	}
	buf := make([]byte, maxOptValue)
	n, err := rawGetsockopt(so.fd, level, name, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// SetSockOpt implements Socket.
func (so *hostSocket) SetSockOpt(level, name int, v []byte) error {
	if level == unix.SOL_SOCKET && (name == unix.SO_RCVTIMEO || name == unix.SO_SNDTIMEO) {
		return so.setTimeout(name, v)
	}
	if !hostOptions[[2]int{level, name}] {
		return unix.ENOPROTOOPT // support: options outside moat's list do not reach the host
	}
	return rawSetsockopt(so.fd, level, name, v)
}
