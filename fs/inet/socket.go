package inet

import (
	"bytes"
	"sync/atomic"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"moat/vfs"
)

// allEvents are the readiness events a socket reports.
const allEvents = waiter.EventIn | waiter.EventPri | waiter.EventOut | waiter.EventErr | waiter.EventHUp | waiter.EventRdHUp

// stackSocket is an AF_INET or AF_INET6 socket on the sandbox's own stack,
// of type SOCK_STREAM (TCP) or SOCK_DGRAM (UDP, or ICMP echo).
type stackSocket struct {
	base
	rdShut atomic.Bool // shutdown(SHUT_RD) was called
	st     *Stack
	ep     tcpip.Endpoint
	wq     *waiter.Queue
	entry  waiter.Entry
}

// NewSocket makes a socket(2) of the family (AF_INET or AF_INET6), the type
// (SOCK_STREAM or SOCK_DGRAM) and the protocol (0 for the type's default),
// with the errnos Linux's inet_create gives.
func (st *Stack) NewSocket(family, typ, proto int) (Socket, error) {
	var transport tcpip.TransportProtocolNumber
	icmpProto := unix.IPPROTO_ICMP
	if family == unix.AF_INET6 {
		icmpProto = unix.IPPROTO_ICMPV6
	}
	switch {
	case typ == unix.SOCK_STREAM && (proto == 0 || proto == unix.IPPROTO_TCP):
		transport, proto = tcp.ProtocolNumber, unix.IPPROTO_TCP
	case typ == unix.SOCK_DGRAM && (proto == 0 || proto == unix.IPPROTO_UDP):
		transport, proto = udp.ProtocolNumber, unix.IPPROTO_UDP
	case typ == unix.SOCK_DGRAM && proto == icmpProto:
		transport = icmp.ProtocolNumber4
		if family == unix.AF_INET6 {
			transport = icmp.ProtocolNumber6
		}
	case typ == unix.SOCK_RAW && (proto == icmpProto || proto == unix.IPPROTO_UDP || proto == unix.IPPROTO_TCP):
		// Raw sockets (the caller checked CAP_NET_RAW): ping and
		// traceroute. IPv4 reads include the IP header, as on Linux.
		return st.newRaw(family, proto)
	case typ == unix.SOCK_RAW:
		return nil, unix.EPROTONOSUPPORT // support: raw sockets of ICMP, ICMPv6, UDP and TCP only
	case typ == unix.SOCK_STREAM || typ == unix.SOCK_DGRAM:
		return nil, unix.EPROTONOSUPPORT
	default:
		return nil, unix.ESOCKTNOSUPPORT
	}
	s, err := st.get()
	if err != nil {
		return nil, err
	}
	network := ipv4.ProtocolNumber
	if family == unix.AF_INET6 {
		network = ipv6.ProtocolNumber
	}
	if err := st.reserve(); err != nil {
		return nil, err
	}
	wq := new(waiter.Queue)
	ep, terr := s.NewEndpoint(transport, network, wq)
	if terr != nil {
		st.open.Add(-1)
		return nil, errno(terr)
	}
	if transport == tcp.ProtocolNumber {
		ep.SocketOptions().SetDelayOption(true) // Nagle's algorithm is on by default
	}
	return newSocket(st, family, typ, proto, ep, wq), nil
}

// newRaw makes a raw socket of the protocol.
func (st *Stack) newRaw(family, proto int) (Socket, error) {
	s, err := st.get()
	if err != nil {
		return nil, err
	}
	network := ipv4.ProtocolNumber
	if family == unix.AF_INET6 {
		network = ipv6.ProtocolNumber
	}
	if err := st.reserve(); err != nil {
		return nil, err
	}
	wq := new(waiter.Queue)
	ep, terr := s.NewRawEndpoint(tcpip.TransportProtocolNumber(proto), network, wq, true)
	if terr != nil {
		st.open.Add(-1)
		return nil, errno(terr)
	}
	return newSocket(st, family, unix.SOCK_RAW, proto, ep, wq), nil
}

// newSocket wraps a netstack endpoint and watches its readiness.
func newSocket(st *Stack, family, typ, proto int, ep tcpip.Endpoint, wq *waiter.Queue) *stackSocket {
	so := &stackSocket{base: newBase(family, typ, proto), st: st, ep: ep, wq: wq}
	so.entry = waiter.NewFunctionEntry(allEvents, func(waiter.EventMask) { so.notify() })
	wq.EventRegister(&so.entry)
	register(so.ino, so)
	return so
}

// Readiness implements vfs.Poller.
func (so *stackSocket) Readiness() uint32 {
	return uint32(so.ep.Readiness(allEvents))
}

// Release implements vfs.FileImpl: the endpoint closes (a TCP connection
// with unread data is reset, as on Linux; SO_LINGER is netstack's).
func (so *stackSocket) Release() {
	unregister(so.ino)
	so.wq.EventUnregister(&so.entry)
	so.ep.Close()
	so.st.open.Add(-1)
}

// Bind implements bind(2).
func (so *stackSocket) Bind(ctx vfs.Context, b []byte) error {
	if so.family == unix.AF_INET && len(b) >= sockaddrInLen && Family(b) == unix.AF_UNSPEC &&
		[4]byte(b[4:8]) == [4]byte{} {
		// Linux takes AF_UNSPEC with INADDR_ANY as AF_INET, for old programs.
		b = append([]byte{unix.AF_INET, 0}, b[2:]...)
	}
	fa, err := decodeAddr(so.family, b)
	if err != nil {
		return err
	}
	if so.family == unix.AF_INET6 && Family(b) != unix.AF_INET6 {
		return unix.EAFNOSUPPORT
	}
	if err := so.st.sysctls.mayBind(ctx, fa.Port); err != nil {
		return err
	}
	if fa.Addr.Len() != 0 && !isLocal(fa.Addr) && !so.st.hasAddr(fa.Addr) {
		return unix.EADDRNOTAVAIL
	}
	return errnoOrNil(so.ep.Bind(fa))
}

// Connect implements connect(2); a datagram socket given AF_UNSPEC
// disconnects.
func (so *stackSocket) Connect(ctx vfs.Context, b []byte, nonblock bool) error {
	if len(b) < 2 {
		return unix.EINVAL
	}
	if Family(b) == unix.AF_UNSPEC {
		if so.typ == unix.SOCK_STREAM {
			return errnoOrNil(so.ep.Disconnect())
		}
		so.ep.Disconnect() // an unconnected datagram socket: nothing to do
		return nil
	}
	fa, err := decodeAddr(so.family, b)
	if err != nil {
		return err
	}
	if fa.Addr.Len() == 0 {
		// Linux connects to the any-address as to the loopback address.
		if so.family == unix.AF_INET {
			fa.Addr = tcpip.AddrFrom4([4]byte{127, 0, 0, 1})
		} else {
			fa.Addr = tcpip.AddrFrom16([16]byte{15: 1})
		}
	}
	if so.typ == unix.SOCK_STREAM && so.ep.SocketOptions().GetAcceptConn() {
		return unix.EISCONN // Linux: a listening socket counts as connected
	}
	terr := so.ep.Connect(fa)
	if so.typ != unix.SOCK_STREAM {
		return errnoOrNil(terr)
	}
	switch terr.(type) {
	case nil:
		return nil
	case *tcpip.ErrConnectStarted:
	case *tcpip.ErrAlreadyConnecting:
		// A blocking connect restarted after a signal waits on, as
		// Linux's does; a non-blocking one is told EALREADY.
		if nonblock {
			return unix.EALREADY
		}
	default:
		return errno(terr)
	}
	if nonblock {
		return unix.EINPROGRESS
	}
	_, snd := so.timeouts()
	err = so.block(ctx, false, snd, func() error {
		if so.ep.Readiness(waiter.EventOut|waiter.EventErr|waiter.EventHUp) == 0 {
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
	if terr := so.ep.LastError(); terr != nil {
		return errno(terr)
	}
	if _, terr := so.ep.GetRemoteAddress(); terr != nil {
		return unix.ECONNREFUSED
	}
	return nil
}

// Listen implements listen(2).
func (so *stackSocket) Listen(backlog int) error {
	if so.typ != unix.SOCK_STREAM {
		return unix.EOPNOTSUPP
	}
	backlog = max(0, min(backlog, 4096)) // net.core.somaxconn
	return errnoOrNil(so.ep.Listen(backlog))
}

// Accept implements accept(2): the new connection and its peer's address.
func (so *stackSocket) Accept(ctx vfs.Context, nonblock bool) (Socket, []byte, error) {
	if so.typ != unix.SOCK_STREAM {
		return nil, nil, unix.EOPNOTSUPP
	}
	var (
		ep   tcpip.Endpoint
		wq   *waiter.Queue
		peer tcpip.FullAddress
	)
	rcv, _ := so.timeouts()
	err := so.block(ctx, nonblock, rcv, func() error {
		var terr tcpip.Error
		ep, wq, terr = so.ep.Accept(&peer)
		return errnoOrNil(terr)
	})
	if err != nil {
		return nil, nil, err
	}
	if err := so.st.reserve(); err != nil {
		ep.Close()
		return nil, nil, err
	}
	return newSocket(so.st, so.family, so.typ, so.proto, ep, wq), encodeAddr(so.family, peer), nil
}

// Shutdown implements shutdown(2); how is SHUT_RD, SHUT_WR or SHUT_RDWR.
// Reading stays shut even when the call fails with ENOTCONN, as on Linux.
func (so *stackSocket) Shutdown(how int) error {
	if how == unix.SHUT_RD || how == unix.SHUT_RDWR {
		so.rdShut.Store(true)
	}
	var f tcpip.ShutdownFlags
	switch how {
	case unix.SHUT_RD:
		f = tcpip.ShutdownRead
	case unix.SHUT_WR:
		f = tcpip.ShutdownWrite
	case unix.SHUT_RDWR:
		f = tcpip.ShutdownRead | tcpip.ShutdownWrite
	default:
		return unix.EINVAL
	}
	return errnoOrNil(so.ep.Shutdown(f))
}

// Addr returns the socket's own address (getsockname(2)).
func (so *stackSocket) Addr() []byte {
	fa, terr := so.ep.GetLocalAddress()
	if terr != nil {
		fa = tcpip.FullAddress{}
	}
	return encodeAddr(so.family, fa)
}

// PeerAddr returns the connected peer's address (getpeername(2)).
func (so *stackSocket) PeerAddr() ([]byte, error) {
	fa, terr := so.ep.GetRemoteAddress()
	if terr != nil {
		return nil, errno(terr)
	}
	return encodeAddr(so.family, fa), nil
}

// datagramWriter copies what fits of a datagram and discards the rest, so
// that netstack reports the datagram's whole length.
type datagramWriter struct {
	b []byte
	n int
}

func (w *datagramWriter) Write(p []byte) (int, error) {
	w.n += copy(w.b[w.n:], p)
	return len(p), nil
}

// Recv receives into dst.
func (so *stackSocket) Recv(ctx vfs.Context, dst []byte, o Options) (Message, error) {
	rcv, _ := so.timeouts()
	var m Message
	ro := tcpip.ReadOptions{Peek: o.Peek, NeedRemoteAddr: so.typ != unix.SOCK_STREAM}
	if so.typ != unix.SOCK_STREAM {
		err := so.block(ctx, o.NonBlock, rcv, func() error {
			w := &datagramWriter{b: dst}
			res, terr := so.ep.Read(w, ro)
			if terr != nil {
				return so.readErr(terr)
			}
			m = Message{N: w.n, Full: res.Total, From: encodeAddr(so.family, res.RemoteAddr)}
			return nil
		})
		if err == errEOF {
			// Shut for reading: Linux's datagram receive waits for
			// nothing, so it says EAGAIN without blocking and 0 with.
			if o.NonBlock {
				return Message{}, unix.EAGAIN
			}
			return Message{}, nil
		}
		return m, err
	}
	for {
		err := so.block(ctx, o.NonBlock || m.N > 0 && !o.WaitAll, rcv, func() error {
			sw := tcpip.SliceWriter(dst[m.N:])
			res, terr := so.ep.Read(&tcpip.LimitedWriter{W: &sw, N: int64(len(dst) - m.N)}, ro)
			if terr != nil {
				if _, eof := terr.(*tcpip.ErrClosedForReceive); eof {
					return errEOF
				}
				return so.readErr(terr)
			}
			m.N += res.Count
			return nil
		})
		switch {
		case err == errEOF, err == unix.ENOTCONN && m.N == 0 && so.rdShut.Load():
			// The end of the peer's data, or reading shut down: Linux
			// reports end of file even before any connection.
			return m, nil
		case err != nil && m.N > 0:
			return m, nil // the error comes back on the next call
		case err != nil:
			return m, err
		case m.N == len(dst) || !o.WaitAll || o.Peek:
			m.Full = m.N
			if so.ep.Readiness(waiter.EventIn) != 0 || m.N > 0 {
				so.ep.ModerateRecvBuf(m.N)
			}
			return m, nil
		}
	}
}

// errEOF ends a stream read at the end of the peer's data.
var errEOF = unix.Errno(0x7fff)

// readErr translates a read error; a pending socket error (SO_ERROR) is
// what netstack returns first, as Linux's sock_error does.
func (so *stackSocket) readErr(terr tcpip.Error) error {
	if _, ok := terr.(*tcpip.ErrClosedForReceive); ok {
		return errEOF
	}
	return errno(terr)
}

// Send sends src, to the address to (nil: the connected peer). A stream
// socket sends all of it unless nonblocking or interrupted, and then
// reports how much went; a datagram socket sends one datagram.
func (so *stackSocket) Send(ctx vfs.Context, src []byte, to []byte, o Options) (int, error) {
	wo := tcpip.WriteOptions{More: o.More, Atomic: so.typ != unix.SOCK_STREAM}
	if to != nil {
		if so.typ == unix.SOCK_STREAM {
			// Linux ignores the address of a connected TCP socket, and
			// for an unconnected one fails as for no address.
			to = nil
		} else {
			fa, err := decodeAddr(so.family, to)
			if err != nil {
				if Family(to) == unix.AF_UNSPEC && err == unix.EAFNOSUPPORT {
					fa, err = tcpip.FullAddress{}, nil
				} else {
					return 0, err
				}
			}
			if fa.Addr.Len() == 0 {
				if so.family == unix.AF_INET {
					fa.Addr = tcpip.AddrFrom4([4]byte{127, 0, 0, 1})
				} else {
					fa.Addr = tcpip.AddrFrom16([16]byte{15: 1})
				}
			}
			wo.To = &fa
		}
	}
	_, snd := so.timeouts()
	done := 0
	err := so.block(ctx, o.NonBlock, snd, func() error {
		for {
			r := bytes.NewReader(src[done:])
			n, terr := so.ep.Write(r, wo)
			done += int(n)
			if terr != nil {
				if _, ok := terr.(*tcpip.ErrWouldBlock); ok && done > 0 && o.NonBlock {
					return nil
				}
				return errno(terr)
			}
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

// Read implements vfs.FileImpl (read(2) on the socket).
func (so *stackSocket) Read(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	m, err := so.Recv(ctx, dst, Options{NonBlock: vfs.Nonblocking(ctx)})
	return m.N, err
}

// Write implements vfs.FileImpl (write(2) on the socket).
func (so *stackSocket) Write(ctx vfs.Context, src []byte, _ int64) (int, error) {
	return so.Send(ctx, src, nil, Options{NonBlock: vfs.Nonblocking(ctx)})
}

func errnoOrNil(terr tcpip.Error) error {
	if terr == nil {
		return nil
	}
	return errno(terr)
}
