package inet

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// live are the sandbox's open internet sockets, by inode number, for
// /proc/net/{tcp,udp}{,6}.
var live sync.Map

// sockEntry is one socket as /proc/net/tcp and udp show it.
type sockEntry struct {
	family       int
	local, peer  []byte // 4 or 16 address bytes
	lport, pport uint16
	state        int // Linux's TCP_* state number (UDP: 1 connected, 7 not)
	txq, rxq     int
	ino          uint64
}

// procInfoer is implemented by both kinds of socket.
type procInfoer interface {
	procInfo() sockEntry
	sockBase() *base
}

func register(ino uint64, s procInfoer) { live.Store(ino, s) }
func unregister(ino uint64)             { live.Delete(ino) }

// linuxTCPState maps netstack's TCP states to Linux's numbers: netstack's
// first eleven are Linux's; its internal ones are CLOSE, or SYN_SENT for
// a connect not yet sent.
func linuxTCPState(s tcp.EndpointState) int {
	switch {
	case s >= tcp.StateEstablished && s <= tcp.StateClosing:
		return int(s)
	case s == tcp.StateConnecting:
		return int(tcp.StateSynSent)
	}
	return int(tcp.StateClose)
}

func (so *stackSocket) procInfo() sockEntry {
	e := sockEntry{family: so.family, ino: so.ino, state: int(tcp.StateClose)}
	if la, err := so.ep.GetLocalAddress(); err == nil {
		e.local, e.lport = la.Addr.AsSlice(), la.Port
	}
	if ra, err := so.ep.GetRemoteAddress(); err == nil {
		e.peer, e.pport = ra.Addr.AsSlice(), ra.Port
		if so.typ != unix.SOCK_STREAM {
			e.state = int(tcp.StateEstablished)
		}
	}
	if so.typ == unix.SOCK_STREAM {
		e.state = linuxTCPState(tcp.EndpointState(so.ep.State()))
	}
	if v, err := so.ep.GetSockOptInt(tcpip.ReceiveQueueSizeOption); err == nil {
		e.rxq = max(v, 0)
	}
	if v, err := so.ep.GetSockOptInt(tcpip.SendQueueSizeOption); err == nil {
		e.txq = max(v, 0)
	}
	return e
}

func (so *hostSocket) procInfo() sockEntry {
	e := sockEntry{family: so.family, ino: so.ino, state: int(tcp.StateClose)}
	split := func(b []byte) ([]byte, uint16) {
		switch {
		case len(b) >= sockaddrIn6Len && Family(b) == unix.AF_INET6:
			return b[8:24], binary.BigEndian.Uint16(b[2:])
		case len(b) >= sockaddrInLen && Family(b) == unix.AF_INET:
			return b[4:8], binary.BigEndian.Uint16(b[2:])
		}
		return nil, 0
	}
	if b, err := rawSockname(so.fd, false); err == nil {
		e.local, e.lport = split(b)
	}
	if b, err := rawSockname(so.fd, true); err == nil {
		e.peer, e.pport = split(b)
		e.state = int(tcp.StateEstablished)
	}
	if so.typ == unix.SOCK_STREAM {
		info := make([]byte, 8)
		if n, err := rawGetsockopt(so.fd, unix.IPPROTO_TCP, unix.TCP_INFO, info); err == nil && n > 0 {
			e.state = int(info[0])
		}
	}
	if v, err := unix.IoctlGetInt(so.fd, fionread); err == nil {
		e.rxq = max(v, 0)
	}
	if v, err := unix.IoctlGetInt(so.fd, unix.TIOCOUTQ); err == nil {
		e.txq = max(v, 0)
	}
	return e
}

// ProcNet returns the text of /proc/net/NAME for the network n.
func ProcNet(n Network, name string) string {
	switch name {
	case "dev":
		return procNetDev(n.Interfaces())
	case "if_inet6":
		return procIfInet6(n.Interfaces())
	case "route":
		return procRoute(n)
	case "tcp", "tcp6", "udp", "udp6":
		return procSockets(name)
	}
	return ""
}

func procNetDev(ifs []Interface) string {
	var b strings.Builder
	b.WriteString("Inter-|   Receive                                                |  Transmit\n")
	b.WriteString(" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n")
	for _, i := range ifs {
		fmt.Fprintf(&b, "%6s: %7d %7d %4d %4d %4d %5d %10d %9d %8d %7d %4d %4d %4d %5d %7d %10d\n",
			i.Name, i.Stats.RxBytes, i.Stats.RxPackets, 0, 0, 0, 0, 0, 0,
			i.Stats.TxBytes, i.Stats.TxPackets, 0, 0, 0, 0, 0, 0)
	}
	return b.String()
}

func procIfInet6(ifs []Interface) string {
	var b strings.Builder
	for _, i := range ifs {
		for _, a := range i.Addrs {
			if a.Family != unix.AF_INET6 {
				continue
			}
			scope := 0x00
			if i.HWType == ArphrdLoopback {
				scope = 0x10 // IPV6_ADDR_LOOPBACK
			} else if a.Addr[0] == 0xfe && a.Addr[1]&0xc0 == 0x80 {
				scope = 0x20 // IPV6_ADDR_LINKLOCAL
			}
			fmt.Fprintf(&b, "%x %02x %02x %02x %02x %8s\n", a.Addr, i.Index, a.PrefixLen, scope, ifaFPermanent, i.Name)
		}
	}
	return b.String()
}

// ifaFPermanent is IFA_F_PERMANENT.
const ifaFPermanent = 0x80

func procRoute(n Network) string {
	names := map[int]string{}
	for _, i := range n.Interfaces() {
		names[i.Index] = i.Name
	}
	var b strings.Builder
	b.WriteString("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       \n")
	word := func(a []byte) uint32 {
		if len(a) != 4 {
			return 0
		}
		return binary.LittleEndian.Uint32(a) // printed as the host-order word
	}
	for _, r := range n.Routes() {
		if r.Family != unix.AF_INET || r.Local {
			continue // the main table's IPv4 routes, as Linux lists
		}
		flags := 0x1 // RTF_UP
		if r.Gateway != nil {
			flags |= 0x2 // RTF_GATEWAY
		}
		mask := uint32(0)
		if r.PrefixLen > 0 {
			mask = ^uint32(0) << (32 - r.PrefixLen)
		}
		maskBytes := binary.BigEndian.AppendUint32(nil, mask)
		fmt.Fprintf(&b, "%s\t%08X\t%08X\t%04X\t0\t0\t0\t%08X\t0\t0\t0                                                                            \n",
			names[r.Index], word(r.Dst), word(r.Gateway), flags, word(maskBytes))
	}
	return b.String()
}

// hexAddr prints an address as Linux's /proc/net tables do: 32-bit words
// in host (little-endian) order.
func hexAddr(a []byte, v6 bool) string {
	n := 4
	if v6 {
		n = 16
	}
	b := make([]byte, n)
	switch {
	case len(a) == n:
		copy(b, a)
	case len(a) == 4 && v6: // a v4 peer of a dual-stack socket: v4-mapped
		b[10], b[11] = 0xff, 0xff
		copy(b[12:], a)
	}
	var s strings.Builder
	for i := 0; i < n; i += 4 {
		fmt.Fprintf(&s, "%08X", binary.LittleEndian.Uint32(b[i:]))
	}
	return s.String()
}

func procSockets(name string) string {
	v6 := strings.HasSuffix(name, "6")
	stream := strings.HasPrefix(name, "tcp")
	var es []sockEntry
	live.Range(func(_, v any) bool {
		s := v.(procInfoer)
		base := s.sockBase()
		if (base.family == unix.AF_INET6) != v6 || (base.typ == unix.SOCK_STREAM) != stream || base.proto == unix.IPPROTO_ICMP || base.proto == unix.IPPROTO_ICMPV6 {
			return true
		}
		es = append(es, s.procInfo())
		return true
	})
	sort.Slice(es, func(i, j int) bool { return es[i].ino < es[j].ino })
	var b strings.Builder
	if v6 {
		b.WriteString("  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	} else if stream {
		b.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     \n")
	} else {
		b.WriteString("   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops             \n")
	}
	for i, e := range es {
		fmt.Fprintf(&b, "%4d: %s:%04X %s:%04X %02X %08X:%08X 00:00000000 00000000 %5d %8d %d",
			i, hexAddr(e.local, v6), e.lport, hexAddr(e.peer, v6), e.pport, e.state, e.txq, e.rxq, 0, 0, e.ino)
		if stream {
			b.WriteString(" 1 0000000000000000 100 0 0 10 0\n")
		} else {
			b.WriteString(" 2 0000000000000000 0\n")
		}
	}
	return b.String()
}
