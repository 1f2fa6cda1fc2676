// Package netlink implements AF_NETLINK sockets of protocol NETLINK_ROUTE,
// enough for the programs that ask the kernel about the network: `ip addr`,
// `ip link`, `ip route`, glibc's getifaddrs and if_nameindex. Requests are
// answered from the sandbox's network (fs/inet): RTM_GETLINK, RTM_GETADDR
// and RTM_GETROUTE, as dumps or for one interface; RTM_GETNEIGH and
// RTM_GETRULE dump nothing. Requests that would change the network fail
// with EPERM in an NLMSG_ERROR, as for a process without CAP_NET_ADMIN
// (support: moat's network is configured by moat, not by the sandbox).
// Multicast groups are accepted and deliver nothing.
//
// Lock order: Socket.mu is a leaf.
package netlink

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"moat/fs/inet"
	"moat/park"
	"moat/vfs"
)

// Network is what a route socket reports on.
type Network interface {
	Interfaces() []inet.Interface
	Routes() []inet.Route
}

// maxQueued bounds the bytes of replies waiting to be read: a request
// beyond it is answered with ENOBUFS, as a full socket drops on Linux.
const maxQueued = 1 << 20

// chunk is the largest datagram of a dump (Linux's NLMSG_GOODSIZE on
// 4 KiB pages): every reader's buffer takes it.
const chunk = 4096

// sockaddrNlLen is sizeof(struct sockaddr_nl).
const sockaddrNlLen = 12

var (
	nextPort atomic.Int32
	portsMu  sync.Mutex
	ports    = map[uint32]bool{} // port ids in use in the sandbox
)

// Socket is a NETLINK_ROUTE socket.
type Socket struct {
	net Network
	typ int
	ino uint64

	mu                 sync.Mutex
	port               uint32 // 0 until bound
	groups             uint32
	queue              [][]byte
	queued             int
	changes            vfs.Changes
	closed             bool
	rcvTimeo, sndTimeo []byte
}

// New makes socket(AF_NETLINK, typ, proto).
func New(n Network, typ, proto int) (*Socket, error) {
	if typ != unix.SOCK_RAW && typ != unix.SOCK_DGRAM {
		return nil, unix.ESOCKTNOSUPPORT
	}
	if proto != unix.NETLINK_ROUTE {
		return nil, unix.EPROTONOSUPPORT // support: only NETLINK_ROUTE
	}
	if n == nil {
		return nil, unix.EAFNOSUPPORT
	}
	return &Socket{net: n, typ: typ, ino: vfs.NewSocketIno()}, nil
}

// Family implements inet.Socket.
func (s *Socket) Family() int { return unix.AF_NETLINK }

// Type implements inet.Socket.
func (s *Socket) Type() int { return s.typ }

// IsStream implements vfs.Stream.
func (s *Socket) IsStream() bool { return true }

// Name is the socket's name in /proc/PID/fd.
func (s *Socket) Name() string { return "socket:[" + itoa(int(s.ino)) + "]" }

// Stat implements fstat(2).
func (s *Socket) Stat(ctx vfs.Context) (vfs.Stat, error) {
	return vfs.Stat{Dev: 0xb, Ino: s.ino, Mode: unix.S_IFSOCK | 0o777, Nlink: 1, UID: ctx.UID(), GID: ctx.GID(), Blksize: 4096}, nil
}

// Readiness implements vfs.Poller.
func (s *Socket) Readiness() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := uint32(vfs.PollOut | vfs.PollWrNorm)
	if len(s.queue) > 0 {
		r |= vfs.PollIn | vfs.PollRdNorm
	}
	return r
}

// Changed implements vfs.Poller.
func (s *Socket) Changed() <-chan struct{} { return s.ChangedParked(nil) }

// ChangedParked implements vfs.ParkPoller (pk nil: Changed).
func (s *Socket) ChangedParked(pk *park.Parker) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changes.ChanParked(pk)
}

// Release implements vfs.FileImpl.
func (s *Socket) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.queue = nil
	if s.port != 0 {
		portsMu.Lock()
		delete(ports, s.port)
		portsMu.Unlock()
	}
}

// Ioctl implements vfs.Ioctler: FIONREAD is the next datagram's length.
func (s *Socket) Ioctl(ctx vfs.Context, req uint32, arg uintptr, mem vfs.IOMemory) (uintptr, error) {
	if req != 0x541b { // FIONREAD
		return 0, unix.ENOTTY
	}
	s.mu.Lock()
	n := 0
	if len(s.queue) > 0 {
		n = len(s.queue[0])
	}
	s.mu.Unlock()
	if _, err := mem.CopyOut(arg, binary.LittleEndian.AppendUint32(nil, uint32(n))); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// autobind gives the socket a port id if it has none: the thread group
// id when free, as Linux tries first, else a negative unique one.
//
// Preconditions: s.mu is held.
func (s *Socket) autobindLocked(ctx vfs.Context) {
	if s.port != 0 {
		return
	}
	portsMu.Lock()
	defer portsMu.Unlock()
	if p, ok := ctx.(interface{ TGID() int32 }); ok && p.TGID() > 0 && !ports[uint32(p.TGID())] {
		s.port = uint32(p.TGID())
	} else {
		for {
			p := uint32(-4096 - nextPort.Add(1))
			if !ports[p] {
				s.port = p
				break
			}
		}
	}
	ports[s.port] = true
}

// Bind implements bind(2) with a struct sockaddr_nl.
func (s *Socket) Bind(ctx vfs.Context, b []byte) error {
	if len(b) < sockaddrNlLen {
		return unix.EINVAL
	}
	if binary.LittleEndian.Uint16(b) != unix.AF_NETLINK {
		return unix.EINVAL
	}
	port, groups := binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:])
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups = groups // support: no notifications are sent to groups
	if port == 0 || port == s.port {
		s.autobindLocked(ctx)
		return nil
	}
	if s.port != 0 {
		return unix.EINVAL
	}
	portsMu.Lock()
	defer portsMu.Unlock()
	if ports[port] {
		return unix.EADDRINUSE
	}
	ports[port] = true
	s.port = port
	return nil
}

// Connect implements connect(2): the peer can only be the kernel.
func (s *Socket) Connect(ctx vfs.Context, b []byte, nonblock bool) error {
	if len(b) < sockaddrNlLen {
		return unix.EINVAL
	}
	if binary.LittleEndian.Uint16(b) != unix.AF_NETLINK {
		return unix.EINVAL
	}
	s.mu.Lock()
	s.autobindLocked(ctx)
	s.mu.Unlock()
	return nil
}

// Listen implements listen(2).
func (s *Socket) Listen(int) error { return unix.EOPNOTSUPP }

// Accept implements accept(2).
func (s *Socket) Accept(vfs.Context, bool) (inet.Socket, []byte, error) {
	return nil, nil, unix.EOPNOTSUPP
}

// Shutdown implements shutdown(2).
func (s *Socket) Shutdown(how int) error {
	if how < unix.SHUT_RD || how > unix.SHUT_RDWR {
		return unix.EINVAL
	}
	return nil
}

func addr(port, groups uint32) []byte {
	b := make([]byte, sockaddrNlLen)
	binary.LittleEndian.PutUint16(b, unix.AF_NETLINK)
	binary.LittleEndian.PutUint32(b[4:], port)
	binary.LittleEndian.PutUint32(b[8:], groups)
	return b
}

// Addr implements getsockname(2).
func (s *Socket) Addr() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return addr(s.port, s.groups)
}

// PeerAddr implements getpeername(2): the kernel.
func (s *Socket) PeerAddr() ([]byte, error) { return addr(0, 0), nil }

// Send implements sendmsg(2): src holds requests, each answered into the
// receive queue.
func (s *Socket) Send(ctx vfs.Context, src, to []byte, o inet.Options) (int, error) {
	if len(to) > 0 {
		if len(to) < sockaddrNlLen || binary.LittleEndian.Uint16(to) != unix.AF_NETLINK {
			return 0, unix.EINVAL
		}
		if binary.LittleEndian.Uint32(to[4:]) != 0 {
			return 0, unix.ECONNREFUSED // support: no netlink peers but the kernel
		}
	}
	s.mu.Lock()
	s.autobindLocked(ctx)
	port := s.port
	s.mu.Unlock()
	var replies [][]byte
	for msg := src; len(msg) >= nlmsgHdrLen; {
		l := binary.LittleEndian.Uint32(msg)
		if l < nlmsgHdrLen || int(l) > len(msg) {
			break // Linux ignores a truncated trailer
		}
		replies = append(replies, s.answer(msg[:l], port)...)
		msg = msg[min(len(msg), align(int(l))):]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range replies {
		if s.queued+len(r) > maxQueued {
			return 0, unix.ENOBUFS
		}
		s.queue = append(s.queue, r)
		s.queued += len(r)
	}
	if len(replies) > 0 {
		s.changes.Notify()
	}
	return len(src), nil
}

// Recv implements recvmsg(2): one datagram, from the kernel.
func (s *Socket) Recv(ctx vfs.Context, dst []byte, o inet.Options) (inet.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) == 0 {
		if o.NonBlock {
			return inet.Message{}, unix.EAGAIN
		}
		if err := s.changes.WaitLocked(ctx, &s.mu); err != nil {
			return inet.Message{}, err
		}
	}
	d := s.queue[0]
	n := copy(dst, d)
	if !o.Peek {
		s.queue = s.queue[1:]
		s.queued -= len(d)
	}
	return inet.Message{N: n, Full: len(d), From: addr(0, 0)}, nil
}

// Read implements vfs.FileImpl.
func (s *Socket) Read(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	m, err := s.Recv(ctx, dst, inet.Options{NonBlock: vfs.Nonblocking(ctx)})
	return m.N, err
}

// Write implements vfs.FileImpl.
func (s *Socket) Write(ctx vfs.Context, src []byte, _ int64) (int, error) {
	return s.Send(ctx, src, nil, inet.Options{})
}

// solNetlink is SOL_NETLINK.
const solNetlink = 270

// GetSockOpt implements getsockopt(2).
func (s *Socket) GetSockOpt(level, name int) ([]byte, error) {
	put := func(v int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }
	switch level {
	case unix.SOL_SOCKET:
		switch name {
		case unix.SO_TYPE:
			return put(s.typ), nil
		case unix.SO_DOMAIN:
			return put(unix.AF_NETLINK), nil
		case unix.SO_PROTOCOL:
			return put(unix.NETLINK_ROUTE), nil
		case unix.SO_ERROR:
			return put(0), nil
		case unix.SO_RCVBUF, unix.SO_SNDBUF:
			return put(maxQueued / 4), nil
		case unix.SO_PASSCRED:
			return put(0), nil
		}
		return nil, unix.ENOPROTOOPT
	case solNetlink:
		return put(0), nil
	}
	return nil, unix.EOPNOTSUPP
}

// SetSockOpt implements setsockopt(2): buffer sizes, SOL_NETLINK flags
// and timeouts are accepted (the queue bound stays maxQueued).
func (s *Socket) SetSockOpt(level, name int, v []byte) error {
	switch level {
	case unix.SOL_SOCKET:
		switch name {
		case unix.SO_RCVBUF, unix.SO_SNDBUF, unix.SO_RCVBUFFORCE, unix.SO_SNDBUFFORCE, unix.SO_PASSCRED,
			unix.SO_RCVTIMEO, unix.SO_SNDTIMEO, unix.SO_ATTACH_FILTER:
			return nil
		}
	case solNetlink:
		if len(v) < 4 {
			return unix.EINVAL
		}
		return nil
	}
	return unix.ENOPROTOOPT
}

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; v > 0; v /= 10 {
		i--
		b[i] = byte('0' + v%10)
	}
	return string(b[i:])
}
