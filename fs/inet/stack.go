// Package inet implements AF_INET and AF_INET6 sockets (TCP, UDP, and
// ICMP echo "ping" sockets) on a user-space TCP/IP stack that the sentry
// runs for the sandbox: the application's packets never reach the host
// kernel.
//
// The stack is gVisor's netstack (gvisor.dev/gvisor/pkg/tcpip), used as a
// library. It was chosen on its merits: it is pure Go (no cgo in the
// sentry), it is a complete TCP/IP implementation (TCP with SACK, window
// scaling, RACK, keepalive, TIME_WAIT and RST handling as Linux does them;
// IPv4 and IPv6; UDP; ICMP echo sockets), it has years of production use
// as the network stack of gVisor and of wireguard-go and Tailscale, and its
// endpoints speak in Linux's own terms (readiness masks equal to poll's
// bits, socket options named after Linux's). A socket here is therefore a
// thin adapter from Linux's system-call semantics to a netstack endpoint.
// Writing TCP afresh would be years of subtle bugs.
//
// A sandbox has one Stack, made on the first AF_INET or AF_INET6 socket.
// With --net none it has one interface, the loopback "lo" with 127.0.0.1/8
// and ::1/128, and routes to nothing else: connecting to any other address
// fails with ENETUNREACH, as on Linux without a route.
//
// Lock order: Socket.mu, then netstack's own locks (netstack calls back
// into Socket only through the waiter entry, which takes notifyMu, a
// leaf). No lock of this package is held while the task blocks.
package inet

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/raw"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// loNIC is the loopback interface's index, as on Linux (lo is 1).
const loNIC tcpip.NICID = 1

// Stack is the sandbox's network stack. The zero value is not usable; New
// makes one. The netstack itself is built on first use, so a sandbox that
// never opens an internet socket pays nothing for it.
type Stack struct {
	once sync.Once
	s    *stack.Stack
	err  error
	open atomic.Int64 // sockets open on it

	sysctls Sysctls
}

// Sysctls implements Network.
func (st *Stack) Sysctls() *Sysctls { return &st.sysctls }

// MaxStackSockets bounds the sockets open on a sandbox's stack at once
// (each holds buffers in the sentry): more is ENFILE.
const MaxStackSockets = 65536

// reserve counts a new socket, or reports that there are too many.
func (st *Stack) reserve() error {
	if st.open.Add(1) > MaxStackSockets {
		st.open.Add(-1)
		return unix.ENFILE
	}
	return nil
}

// New returns the stack of a sandbox with loopback networking only.
func New() *Stack { return &Stack{} }

// get returns the netstack, building it on the first call.
func (st *Stack) get() (*stack.Stack, error) {
	st.once.Do(func() { st.s, st.err = newLoopbackStack() })
	return st.s, st.err
}

// newLoopbackStack builds a netstack with the loopback interface only.
func newLoopbackStack() (*stack.Stack, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
		HandleLocal:        true,
		RawFactory:         raw.EndpointFactory{},
	})
	fail := func(err tcpip.Error) (*stack.Stack, error) {
		s.Close()
		return nil, errno(err)
	}
	if err := s.CreateNICWithOptions(loNIC, loopback.New(), stack.NICOptions{Name: "lo"}); err != nil {
		return fail(err)
	}
	// Linux's loopback answers for all of 127.0.0.0/8: with spoofing and
	// promiscuous mode the NIC accepts and sends from any address in it.
	if err := s.SetSpoofing(loNIC, true); err != nil {
		return fail(err)
	}
	if err := s.SetPromiscuousMode(loNIC, true); err != nil {
		return fail(err)
	}
	v4 := tcpip.AddrFrom4([4]byte{127, 0, 0, 1}).WithPrefix()
	v4.PrefixLen = 8
	v6 := tcpip.AddrFrom16([16]byte{15: 1}).WithPrefix()
	for _, a := range []tcpip.ProtocolAddress{
		{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: v4},
		{Protocol: ipv6.ProtocolNumber, AddressWithPrefix: v6},
	} {
		if err := s.AddProtocolAddress(loNIC, a, stack.AddressProperties{}); err != nil {
			return fail(err)
		}
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: v4.Subnet(), NIC: loNIC},
		{Destination: v6.Subnet(), NIC: loNIC},
	})
	sack := tcpip.TCPSACKEnabled(true)
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack); err != nil {
		return fail(err)
	}
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &moderate); err != nil {
		return fail(err)
	}
	return s, nil
}

// isLocal reports whether a is an address of the sandbox's interfaces:
// all of 127.0.0.0/8 and ::1 (also v4-mapped), which a socket may bind.
func isLocal(a tcpip.Address) bool {
	switch a.Len() {
	case 4:
		return a.As4()[0] == 127
	case 16:
		b := a.As16()
		if b == [16]byte{15: 1} {
			return true
		}
		return b[10] == 0xff && b[11] == 0xff && [10]byte(b[:10]) == [10]byte{} && b[12] == 127
	}
	return false
}

// hasAddr reports whether a is one of the addresses of the stack's
// interfaces besides loopback (the sandbox's eth0 address).
func (st *Stack) hasAddr(a tcpip.Address) bool {
	s, err := st.get()
	if err != nil {
		return false
	}
	for _, info := range s.NICInfo() {
		for _, pa := range info.ProtocolAddresses {
			if pa.AddressWithPrefix.Address == a {
				return true
			}
		}
	}
	if a.Len() == 16 { // v4-mapped, on a dual-stack socket
		b := a.As16()
		if b[10] == 0xff && b[11] == 0xff && [10]byte(b[:10]) == [10]byte{} {
			return st.hasAddr(tcpip.AddrFrom4([4]byte(b[12:])))
		}
	}
	return false
}

// errno translates a netstack error into the errno Linux gives in its
// place.
func errno(err tcpip.Error) unix.Errno {
	switch err.(type) {
	case nil:
		return 0
	case *tcpip.ErrWouldBlock:
		return unix.EAGAIN
	case *tcpip.ErrConnectStarted:
		return unix.EINPROGRESS
	case *tcpip.ErrAlreadyConnecting:
		return unix.EALREADY
	case *tcpip.ErrAlreadyConnected:
		return unix.EISCONN
	case *tcpip.ErrNotConnected:
		return unix.ENOTCONN
	case *tcpip.ErrConnectionRefused:
		return unix.ECONNREFUSED
	case *tcpip.ErrConnectionReset:
		return unix.ECONNRESET
	case *tcpip.ErrConnectionAborted, *tcpip.ErrAborted:
		return unix.ECONNABORTED
	case *tcpip.ErrTimeout:
		return unix.ETIMEDOUT
	case *tcpip.ErrClosedForSend:
		return unix.EPIPE
	case *tcpip.ErrPortInUse:
		return unix.EADDRINUSE
	case *tcpip.ErrBadLocalAddress:
		return unix.EADDRNOTAVAIL
	case *tcpip.ErrNoPortAvailable:
		return unix.EAGAIN // Linux's inet_autobind and connect: EAGAIN
	case *tcpip.ErrAlreadyBound, *tcpip.ErrInvalidEndpointState, *tcpip.ErrInvalidOptionValue:
		return unix.EINVAL
	case *tcpip.ErrNetworkUnreachable, *tcpip.ErrNoNet:
		return unix.ENETUNREACH
	case *tcpip.ErrHostUnreachable:
		return unix.EHOSTUNREACH
	case *tcpip.ErrHostDown:
		return unix.EHOSTDOWN
	case *tcpip.ErrMessageTooLong:
		return unix.EMSGSIZE
	case *tcpip.ErrNoBufferSpace:
		return unix.ENOBUFS
	case *tcpip.ErrBroadcastDisabled, *tcpip.ErrNotPermitted:
		return unix.EACCES
	case *tcpip.ErrDestinationRequired:
		return unix.EDESTADDRREQ
	case *tcpip.ErrAddressFamilyNotSupported:
		return unix.EAFNOSUPPORT
	case *tcpip.ErrUnknownProtocol:
		return unix.EPROTONOSUPPORT
	case *tcpip.ErrUnknownProtocolOption:
		return unix.ENOPROTOOPT
	case *tcpip.ErrNotSupported, *tcpip.ErrQueueSizeNotSupported:
		return unix.EOPNOTSUPP
	case *tcpip.ErrBadAddress, *tcpip.ErrBadBuffer:
		return unix.EFAULT
	case *tcpip.ErrUnknownDevice, *tcpip.ErrUnknownNICID, *tcpip.ErrInvalidNICID:
		return unix.ENODEV
	case *tcpip.ErrDuplicateAddress:
		return unix.EEXIST
	case *tcpip.ErrMalformedHeader:
		return unix.EINVAL
	case *tcpip.ErrEndpointBusy:
		return unix.EBUSY
	default:
		return unix.EINVAL
	}
}
