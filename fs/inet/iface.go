package inet

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"net"
	"os"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
)

// Interface is one network interface as netlink (ip addr, getifaddrs) and
// /proc/net report it.
type Interface struct {
	Index  int
	Name   string
	MTU    uint32
	Flags  uint32 // IFF_*
	HWType uint16 // ARPHRD_*
	HWAddr []byte
	Addrs  []IfAddr
	Stats  IfStats
}

// IfAddr is an address of an interface.
type IfAddr struct {
	Family    int    // AF_INET or AF_INET6
	Addr      []byte // 4 or 16 bytes
	PrefixLen int
}

// IfStats are an interface's counters.
type IfStats struct {
	RxPackets, RxBytes, TxPackets, TxBytes uint64
}

// Route is one IPv4 or IPv6 route.
type Route struct {
	Family    int
	Dst       []byte // the network (4 or 16 bytes)
	PrefixLen int
	Gateway   []byte // nil: directly connected
	Index     int    // the interface
	Local     bool   // a route to the interface's own addresses (the local table)
	Src       []byte // the preferred source address (local routes)
}

// Linux's interface flags and hardware types.
const (
	iffUp        = 0x1
	iffBroadcast = 0x2
	iffLoopback  = 0x8
	iffMulticast = 0x1000
	iffRunning   = 0x40
	iffLowerUp   = 0x10000
	// ArphrdLoopback and ArphrdEther are ARPHRD_LOOPBACK and ARPHRD_ETHER.
	ArphrdLoopback = 772
	ArphrdEther    = 1
)

// Interfaces returns the sandbox stack's interfaces, by index.
func (st *Stack) Interfaces() []Interface {
	s, err := st.get()
	if err != nil {
		return nil
	}
	var out []Interface
	for id, info := range s.NICInfo() {
		ifc := Interface{Index: int(id), Name: info.Name, MTU: info.MTU, HWAddr: []byte(info.LinkAddress)}
		if info.Flags.Up {
			ifc.Flags |= iffUp | iffLowerUp
		}
		if info.Flags.Running {
			ifc.Flags |= iffRunning
		}
		ifc.HWType = ArphrdEther
		if !info.Flags.Loopback {
			ifc.Flags |= iffBroadcast | iffMulticast
		}
		if info.Flags.Loopback {
			ifc.Flags |= iffLoopback
			ifc.HWType = ArphrdLoopback
			ifc.HWAddr = make([]byte, 6)
		}
		for _, pa := range info.ProtocolAddresses {
			fam := unix.AF_INET
			if pa.AddressWithPrefix.Address.Len() == 16 {
				fam = unix.AF_INET6
			}
			a := pa.AddressWithPrefix.Address
			ifc.Addrs = append(ifc.Addrs, IfAddr{Family: fam, Addr: a.AsSlice(), PrefixLen: pa.AddressWithPrefix.PrefixLen})
		}
		sort.Slice(ifc.Addrs, func(i, j int) bool { return ifc.Addrs[i].Family < ifc.Addrs[j].Family })
		ifc.Stats = IfStats{
			RxPackets: info.Stats.Rx.Packets.Value(), RxBytes: info.Stats.Rx.Bytes.Value(),
			TxPackets: info.Stats.Tx.Packets.Value(), TxBytes: info.Stats.Tx.Bytes.Value(),
		}
		out = append(out, ifc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

// Routes returns the sandbox stack's routes: those of its route table,
// and the local routes of its addresses.
func (st *Stack) Routes() []Route {
	s, err := st.get()
	if err != nil {
		return nil
	}
	var out []Route
	type key struct {
		dst  string
		bits int
	}
	seen := map[key]bool{}
	loopbacks := map[tcpip.NICID]bool{}
	src := map[tcpip.NICID]map[int][]byte{} // the first address of each family
	for id, info := range s.NICInfo() {
		loopbacks[id] = info.Flags.Loopback
		src[id] = map[int][]byte{}
		for _, pa := range info.ProtocolAddresses {
			a := pa.AddressWithPrefix.Address
			fam, bits := unix.AF_INET, 32
			if a.Len() == 16 {
				fam, bits = unix.AF_INET6, 128
			}
			if src[id][fam] == nil {
				src[id][fam] = a.AsSlice()
			}
			out = append(out, Route{Family: fam, Dst: a.AsSlice(), PrefixLen: bits, Index: int(id), Local: true, Src: a.AsSlice()})
			seen[key{string(a.AsSlice()), bits}] = true
		}
	}
	for _, r := range s.GetRouteTable() {
		id := r.Destination.ID()
		fam := unix.AF_INET
		if id.Len() == 16 {
			fam = unix.AF_INET6
		}
		if seen[key{string(id.AsSlice()), r.Destination.Prefix()}] {
			continue // the route of an address, listed above
		}
		rt := Route{Family: fam, Dst: id.AsSlice(), PrefixLen: r.Destination.Prefix(), Index: int(r.NIC)}
		if loopbacks[r.NIC] {
			// Linux keeps loopback's subnet routes in the local table.
			rt.Local, rt.Src = true, src[r.NIC][fam]
		}
		if r.Gateway.Len() != 0 {
			rt.Gateway = r.Gateway.AsSlice()
		}
		out = append(out, rt)
	}
	return out
}

// Interfaces returns the host's interfaces (--net host), as the host
// reports them to moat.
func (h *Host) Interfaces() []Interface {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []Interface
	for _, hi := range ifs {
		ifc := Interface{Index: hi.Index, Name: hi.Name, MTU: uint32(hi.MTU), HWAddr: hi.HardwareAddr, HWType: ArphrdEther}
		if hi.Flags&net.FlagUp != 0 {
			ifc.Flags |= iffUp
		}
		if hi.Flags&net.FlagRunning != 0 {
			ifc.Flags |= iffRunning | iffLowerUp
		}
		if hi.Flags&net.FlagBroadcast != 0 {
			ifc.Flags |= iffBroadcast
		}
		if hi.Flags&net.FlagMulticast != 0 {
			ifc.Flags |= iffMulticast
		}
		if hi.Flags&net.FlagLoopback != 0 {
			ifc.Flags |= iffLoopback
			ifc.HWType = ArphrdLoopback
			ifc.HWAddr = make([]byte, 6)
		}
		addrs, _ := hi.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ones, _ := ipn.Mask.Size()
			if v4 := ipn.IP.To4(); v4 != nil {
				ifc.Addrs = append(ifc.Addrs, IfAddr{Family: unix.AF_INET, Addr: v4, PrefixLen: ones})
			} else {
				ifc.Addrs = append(ifc.Addrs, IfAddr{Family: unix.AF_INET6, Addr: ipn.IP.To16(), PrefixLen: ones})
			}
		}
		out = append(out, ifc)
	}
	return out
}

// Routes returns the host's IPv4 routes of its main table, from
// /proc/net/route (--net host).
func (h *Host) Routes() []Route {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return nil
	}
	defer f.Close()
	index := map[string]int{}
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			index[i.Name] = i.Index
		}
	}
	var out []Route
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 8 {
			continue
		}
		dst, err1 := hex.DecodeString(fl[1])
		gw, err2 := hex.DecodeString(fl[2])
		mask, err3 := hex.DecodeString(fl[7])
		if err1 != nil || err2 != nil || err3 != nil || len(dst) != 4 || len(gw) != 4 || len(mask) != 4 {
			continue
		}
		// /proc/net/route prints addresses as host-order words.
		le := func(b []byte) []byte { return binary.BigEndian.AppendUint32(nil, binary.LittleEndian.Uint32(b)) }
		r := Route{Family: unix.AF_INET, Dst: le(dst), Index: index[fl[0]]}
		ones, _ := net.IPMask(le(mask)).Size()
		r.PrefixLen = ones
		if g := le(gw); g[0]|g[1]|g[2]|g[3] != 0 {
			r.Gateway = g
		}
		out = append(out, r)
	}
	return out
}
