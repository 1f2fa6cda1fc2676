package inet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/pipe"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// The sandbox network (--net sandbox), as slirp lays it out: the sandbox
// is 10.0.2.15/24 on eth0, its gateway 10.0.2.2 stands for the host's own
// loopback, and 10.0.2.3 is its DNS server (the host's).
var (
	SandboxAddr = netip.MustParseAddr("10.0.2.15")
	GatewayAddr = netip.MustParseAddr("10.0.2.2")
	DNSAddr     = netip.MustParseAddr("10.0.2.3")
)

const (
	ethNIC    tcpip.NICID = 2 // the sandbox's eth0
	routerNIC tcpip.NICID = 1 // the router's end of the link
	ethMTU                = 1500
	// udpIdle ends a UDP flow that has been quiet this long.
	udpIdle = 60 * time.Second
	// dialTimeout bounds the host side of a forwarded connection.
	dialTimeout = 20 * time.Second
	// maxFlows bounds the forwarded connections and flows at once.
	maxFlows = 4096
)

// Publish is a host port whose TCP connections reach a sandbox port (-p).
type Publish struct {
	HostIP    string // "" for every host address
	HostPort  int
	GuestPort int
}

// router is the sentry's side of the sandbox network: a second netstack
// on the other end of eth0's link. It terminates every TCP connection and
// UDP flow the sandbox opens to the outside and makes it again from the
// host, as moat's own host user (NAT). Published ports are host listeners
// whose connections the router makes into the sandbox.
//
// Lock order: router.mu is a leaf.
type router struct {
	s        *stack.Stack
	resolver string // host address of the DNS server, "" for none
	flows    chan struct{}

	mu        sync.Mutex
	listeners []net.Listener
}

// NewSandbox returns the network of --net sandbox: loopback, and eth0
// routed through the sentry to the host's network. The published ports
// are listening on the host when it returns.
func NewSandbox(publish []Publish) (*Stack, error) {
	st := &Stack{}
	s, err := newLoopbackStack()
	if err != nil {
		return nil, err
	}
	st.once.Do(func() { st.s = s })
	rt, err := newRouter(s)
	if err != nil {
		s.Close()
		return nil, err
	}
	for _, p := range publish {
		if err := rt.publish(p); err != nil {
			rt.close()
			s.Close()
			return nil, err
		}
	}
	return st, nil
}

// fail reports a netstack error while building the network.
func fail(what string, err tcpip.Error) error {
	return fmt.Errorf("sandbox network: %s: %v", what, err)
}

func newRouter(sandbox *stack.Stack) (*router, error) {
	// Locally administered MACs, for show (the link has no link layer).
	a, b := pipe.New("\x02\x42\x0a\x00\x02\x0f", "\x02\x42\x0a\x00\x02\x02", ethMTU)
	if err := sandbox.CreateNICWithOptions(ethNIC, a, stack.NICOptions{Name: "eth0"}); err != nil {
		return nil, fail("eth0", err)
	}
	local := tcpip.AddrFrom4(SandboxAddr.As4()).WithPrefix()
	local.PrefixLen = 24
	if err := sandbox.AddProtocolAddress(ethNIC, tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: local}, stack.AddressProperties{}); err != nil {
		return nil, fail("eth0 address", err)
	}
	routes := sandbox.GetRouteTable()
	routes = append(routes,
		tcpip.Route{Destination: local.Subnet(), NIC: ethNIC},
		tcpip.Route{Destination: header4Any(), Gateway: tcpip.AddrFrom4(GatewayAddr.As4()), NIC: ethNIC})
	sandbox.SetRouteTable(routes)

	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	if err := s.CreateNIC(routerNIC, b); err != nil {
		return nil, fail("router", err)
	}
	// The router answers for every address the sandbox sends to.
	s.SetPromiscuousMode(routerNIC, true)
	s.SetSpoofing(routerNIC, true)
	for _, a := range []netip.Addr{GatewayAddr, DNSAddr} {
		pa := tcpip.AddrFrom4(a.As4()).WithPrefix()
		pa.PrefixLen = 24
		if err := s.AddProtocolAddress(routerNIC, tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: pa}, stack.AddressProperties{}); err != nil {
			return nil, fail("router address", err)
		}
	}
	s.SetRouteTable([]tcpip.Route{{Destination: local.Subnet(), NIC: routerNIC}})
	rt := &router{s: s, resolver: hostResolver(), flows: make(chan struct{}, maxFlows)}
	tf := tcp.NewForwarder(s, 0, 256, rt.forwardTCP)
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, tf.HandlePacket)
	uf := udp.NewForwarder(s, rt.forwardUDP)
	s.SetTransportProtocolHandler(udp.ProtocolNumber, uf.HandlePacket)
	return rt, nil
}

// header4Any is 0.0.0.0/0.
func header4Any() tcpip.Subnet {
	sn, _ := tcpip.NewSubnet(tcpip.AddrFrom4([4]byte{}), tcpip.MaskFromBytes(make([]byte, 4)))
	return sn
}

// hostResolver returns the first IPv4 nameserver of the host's
// /etc/resolv.conf, "" if there is none.
func hostResolver() string {
	f, err := os.Open("/etc/resolv.conf")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) >= 2 && fl[0] == "nameserver" {
			if a, err := netip.ParseAddr(fl[1]); err == nil && a.Is4() {
				return a.String()
			}
		}
	}
	return ""
}

// target returns the host address that stands for the sandbox's
// destination: the gateway is the host's loopback, the DNS address the
// host's resolver; anything else is itself.
func (rt *router) target(id stack.TransportEndpointID) (string, bool) {
	a := netip.AddrFrom4(id.LocalAddress.As4())
	port := id.LocalPort
	switch {
	case a == GatewayAddr:
		a = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	case a == DNSAddr:
		if port != 53 || rt.resolver == "" {
			return "", false
		}
		a = netip.MustParseAddr(rt.resolver)
	case a == SandboxAddr || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "", false
	}
	return netip.AddrPortFrom(a, port).String(), true
}

// take claims a flow slot, or reports that the sandbox has too many.
func (rt *router) take() bool {
	select {
	case rt.flows <- struct{}{}:
		return true
	default:
		return false
	}
}

func (rt *router) done() { <-rt.flows }

// forwardTCP runs for each connection the sandbox opens to the outside:
// the host side is dialled first, so that a refused or unreachable
// destination refuses the sandbox's connect too.
func (rt *router) forwardTCP(r *tcp.ForwarderRequest) {
	addr, ok := rt.target(r.ID())
	if !ok || !rt.take() {
		r.Complete(true)
		return
	}
	defer rt.done()
	host, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		r.Complete(true) // a reset: the sandbox sees ECONNREFUSED
		return
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		r.Complete(true)
		host.Close()
		return
	}
	r.Complete(false)
	splice(gonet.NewTCPConn(&wq, ep), host.(*net.TCPConn))
}

// forwardUDP runs for the first datagram of each flow the sandbox starts:
// datagrams go both ways until the flow is quiet for udpIdle.
func (rt *router) forwardUDP(r *udp.ForwarderRequest) bool {
	addr, ok := rt.target(r.ID())
	if !ok || !rt.take() {
		return false
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		rt.done()
		return false
	}
	guest := gonet.NewUDPConn(&wq, ep)
	host, err := net.Dial("udp", addr)
	if err != nil {
		guest.Close()
		rt.done()
		return true
	}
	go func() {
		defer rt.done()
		relayUDP(guest, host)
	}()
	return true
}

// relayUDP copies datagrams both ways until neither side has sent one for
// udpIdle.
func relayUDP(guest, host net.Conn) {
	var wg sync.WaitGroup
	one := func(dst, src net.Conn) {
		defer wg.Done()
		buf := make([]byte, 65535)
		for {
			src.SetReadDeadline(time.Now().Add(udpIdle))
			n, err := src.Read(buf)
			if err != nil {
				guest.Close()
				host.Close()
				return
			}
			dst.Write(buf[:n])
		}
	}
	wg.Add(2)
	go one(host, guest)
	go one(guest, host)
	wg.Wait()
}

// halfCloser is a connection whose writing side closes on its own.
type halfCloser interface {
	net.Conn
	CloseWrite() error
}

// splice copies a and b into each other until both directions end,
// passing each end of stream on as a half-close.
func splice(a, b halfCloser) {
	var wg sync.WaitGroup
	one := func(dst, src halfCloser) {
		defer wg.Done()
		if _, err := io.Copy(dst, src); err != nil && !errors.Is(err, net.ErrClosed) {
			a.Close()
			b.Close()
			return
		}
		dst.CloseWrite()
	}
	wg.Add(2)
	go one(a, b)
	go one(b, a)
	wg.Wait()
	a.Close()
	b.Close()
}

// publish listens on the host for p, and makes each connection into the
// sandbox's port.
func (rt *router) publish(p Publish) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(p.HostIP, fmt.Sprint(p.HostPort)))
	if err != nil {
		return fmt.Errorf("-p %d:%d: %w", p.HostPort, p.GuestPort, err)
	}
	rt.mu.Lock()
	rt.listeners = append(rt.listeners, ln)
	rt.mu.Unlock()
	guest := tcpip.FullAddress{NIC: routerNIC, Addr: tcpip.AddrFrom4(SandboxAddr.As4()), Port: uint16(p.GuestPort)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !rt.take() {
				c.Close()
				continue
			}
			go func() {
				defer rt.done()
				ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
				g, err := gonet.DialContextTCP(ctx, rt.s, guest, ipv4.ProtocolNumber)
				cancel()
				if err != nil {
					c.Close() // nothing listens there in the sandbox
					return
				}
				splice(g, c.(*net.TCPConn))
			}()
		}
	}()
	return nil
}

func (rt *router) close() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, ln := range rt.listeners {
		ln.Close()
	}
	rt.s.Close()
}
