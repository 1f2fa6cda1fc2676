package netlink

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"moat/fs/inet"
)

// Message layout (linux/netlink.h, linux/rtnetlink.h).
const (
	nlmsgHdrLen  = 16
	ifinfoLen    = 16
	ifaddrLen    = 8
	rtmsgLen     = 12
	nlmsgError   = 2
	nlmsgDone    = 3
	nlmFRequest  = 0x1
	nlmFMulti    = 0x2
	nlmFAck      = 0x4
	nlmFDump     = 0x300
	rtmNewLink   = 16
	rtmGetLink   = 18
	rtmNewAddr   = 20
	rtmGetAddr   = 22
	rtmNewRoute  = 24
	rtmGetRoute  = 26
	rtmGetNeigh  = 30
	rtmGetRule   = 34
	rtmGetQdisc  = 38
	rtmGetNetcnf = 82
	// Interface attributes.
	iflaAddress   = 1
	iflaBroadcast = 2
	iflaIfname    = 3
	iflaMTU       = 4
	iflaQdisc     = 6
	iflaTxqlen    = 13
	iflaOperstate = 16
	iflaLinkmode  = 17
	iflaStats64   = 23
	iflaGroup     = 27
	// Address attributes.
	ifaAddress   = 1
	ifaLocal     = 2
	ifaLabel     = 3
	ifaCacheinfo = 6
	ifaFlags     = 8
	// Route attributes.
	rtaDst     = 1
	rtaOif     = 4
	rtaGateway = 5
	rtaPrefsrc = 7
	rtaTable   = 15
	// Values.
	ifOperUp      = 6
	ifOperUnknown = 0
	ifaFPermanent = 0x80
	rtScopeHost   = 254
	rtScopeLink   = 253
	rtScopeUniv   = 0
	rtTableMain   = 254
	rtTableLocal  = 255
	rtprotKernel  = 2
	rtprotBoot    = 3
	rtnUnicast    = 1
	rtnLocal      = 2
)

func align(n int) int { return (n + 3) &^ 3 }

// msgBuilder builds one netlink message.
type msgBuilder struct{ b []byte }

func newMsg(typ, flags uint16, seq, port uint32, fixed int) *msgBuilder {
	m := &msgBuilder{b: make([]byte, nlmsgHdrLen+fixed)}
	binary.LittleEndian.PutUint16(m.b[4:], typ)
	binary.LittleEndian.PutUint16(m.b[6:], flags)
	binary.LittleEndian.PutUint32(m.b[8:], seq)
	binary.LittleEndian.PutUint32(m.b[12:], port)
	return m
}

// body returns the fixed part after the header.
func (m *msgBuilder) body() []byte { return m.b[nlmsgHdrLen:] }

func (m *msgBuilder) attr(typ uint16, v []byte) {
	l := 4 + len(v)
	a := make([]byte, align(l))
	binary.LittleEndian.PutUint16(a, uint16(l))
	binary.LittleEndian.PutUint16(a[2:], typ)
	copy(a[4:], v)
	m.b = append(m.b, a...)
}

func (m *msgBuilder) u32(typ uint16, v uint32) { m.attr(typ, binary.LittleEndian.AppendUint32(nil, v)) }

func (m *msgBuilder) done() []byte {
	binary.LittleEndian.PutUint32(m.b, uint32(len(m.b)))
	return m.b
}

// errorMsg is an NLMSG_ERROR for req: errno 0 is an acknowledgement.
func errorMsg(req []byte, errno unix.Errno, port uint32) []byte {
	seq := binary.LittleEndian.Uint32(req[8:])
	m := newMsg(nlmsgError, 0, seq, port, 4)
	binary.LittleEndian.PutUint32(m.body(), uint32(-int32(errno)))
	if errno == 0 {
		m.b = append(m.b, req[:nlmsgHdrLen]...) // an ACK carries the request's header
	} else {
		m.b = append(m.b, req...)
	}
	return m.done()
}

// answer returns the datagrams that answer one request.
func (s *Socket) answer(req []byte, port uint32) [][]byte {
	typ := binary.LittleEndian.Uint16(req[4:])
	flags := binary.LittleEndian.Uint16(req[6:])
	seq := binary.LittleEndian.Uint32(req[8:])
	if flags&nlmFRequest == 0 || typ < rtmNewLink {
		return nil // not a request for the kernel: ignored, as Linux does
	}
	var msgs [][]byte
	dump := flags&nlmFDump == nlmFDump
	switch typ {
	case rtmGetLink:
		index := int32(0)
		if len(req) >= nlmsgHdrLen+ifinfoLen {
			index = int32(binary.LittleEndian.Uint32(req[nlmsgHdrLen+4:]))
		}
		for _, ifc := range s.net.Interfaces() {
			if dump || index == 0 || int32(ifc.Index) == index {
				msgs = append(msgs, linkMsg(ifc, seq, port, dump))
			}
		}
		if !dump && len(msgs) == 0 {
			return [][]byte{errorMsg(req, unix.ENODEV, port)}
		}
	case rtmGetAddr:
		family := 0
		if len(req) > nlmsgHdrLen {
			family = int(req[nlmsgHdrLen])
		}
		for _, ifc := range s.net.Interfaces() {
			for _, a := range ifc.Addrs {
				if family == 0 || family == a.Family {
					msgs = append(msgs, addrMsg(ifc, a, seq, port))
				}
			}
		}
	case rtmGetRoute:
		family := 0
		if len(req) > nlmsgHdrLen {
			family = int(req[nlmsgHdrLen])
		}
		for _, r := range s.net.Routes() {
			if family == 0 || family == r.Family {
				msgs = append(msgs, routeMsg(r, seq, port))
			}
		}
	case rtmGetNeigh, rtmGetRule, rtmGetQdisc, rtmGetNetcnf:
		// Nothing to report.
	default:
		if typ%4 == 2 { // another RTM_GET*
			return [][]byte{errorMsg(req, unix.EOPNOTSUPP, port)}
		}
		return [][]byte{errorMsg(req, unix.EPERM, port)} // RTM_NEW*, RTM_DEL*, RTM_SET*
	}
	if !dump {
		out := msgs
		if flags&nlmFAck != 0 {
			out = append(out, errorMsg(req, 0, port))
		}
		return out
	}
	// A dump: messages packed into datagrams of up to chunk bytes, each
	// flagged NLM_F_MULTI, then NLMSG_DONE.
	var out [][]byte
	var cur []byte
	for _, m := range msgs {
		binary.LittleEndian.PutUint16(m[6:], nlmFMulti)
		if len(cur) > 0 && len(cur)+len(m) > chunk {
			out = append(out, cur)
			cur = nil
		}
		cur = append(cur, m...)
	}
	d := newMsg(nlmsgDone, nlmFMulti, seq, port, 4)
	done := d.done()
	if len(cur)+len(done) > chunk {
		out = append(out, cur)
		cur = nil
	}
	return append(out, append(cur, done...))
}

func linkMsg(ifc inet.Interface, seq, port uint32, multi bool) []byte {
	m := newMsg(rtmNewLink, 0, seq, port, ifinfoLen)
	b := m.body()
	b[0] = unix.AF_UNSPEC
	binary.LittleEndian.PutUint16(b[2:], ifc.HWType)
	binary.LittleEndian.PutUint32(b[4:], uint32(ifc.Index))
	binary.LittleEndian.PutUint32(b[8:], ifc.Flags)
	m.attr(iflaIfname, append([]byte(ifc.Name), 0))
	m.u32(iflaTxqlen, 1000)
	oper := byte(ifOperUp)
	if ifc.HWType == inet.ArphrdLoopback {
		oper = ifOperUnknown // as Linux reports lo
	}
	m.attr(iflaOperstate, []byte{oper})
	m.attr(iflaLinkmode, []byte{0})
	m.u32(iflaMTU, ifc.MTU)
	m.u32(iflaGroup, 0)
	if ifc.HWType == inet.ArphrdLoopback {
		m.attr(iflaQdisc, []byte("noqueue\x00"))
	}
	if len(ifc.HWAddr) > 0 {
		m.attr(iflaAddress, ifc.HWAddr)
		bcast := make([]byte, len(ifc.HWAddr))
		if ifc.HWType != inet.ArphrdLoopback {
			for i := range bcast {
				bcast[i] = 0xff
			}
		}
		m.attr(iflaBroadcast, bcast)
	}
	st := make([]byte, 0, 8*23) // struct rtnl_link_stats64
	for _, v := range []uint64{ifc.Stats.RxPackets, ifc.Stats.TxPackets, ifc.Stats.RxBytes, ifc.Stats.TxBytes} {
		st = binary.LittleEndian.AppendUint64(st, v)
	}
	st = st[:cap(st)]
	m.attr(iflaStats64, st)
	return m.done()
}

func scopeOf(a inet.IfAddr, loopback bool) byte {
	if loopback {
		return rtScopeHost
	}
	if a.Family == unix.AF_INET6 && a.Addr[0] == 0xfe && a.Addr[1]&0xc0 == 0x80 {
		return rtScopeLink
	}
	return rtScopeUniv
}

func addrMsg(ifc inet.Interface, a inet.IfAddr, seq, port uint32) []byte {
	m := newMsg(rtmNewAddr, 0, seq, port, ifaddrLen)
	b := m.body()
	b[0] = byte(a.Family)
	b[1] = byte(a.PrefixLen)
	b[2] = ifaFPermanent
	b[3] = scopeOf(a, ifc.HWType == inet.ArphrdLoopback)
	binary.LittleEndian.PutUint32(b[4:], uint32(ifc.Index))
	m.attr(ifaAddress, a.Addr)
	if a.Family == unix.AF_INET {
		m.attr(ifaLocal, a.Addr)
		m.attr(ifaLabel, append([]byte(ifc.Name), 0))
	}
	// struct ifa_cacheinfo: lifetimes forever (permanent addresses).
	ci := binary.LittleEndian.AppendUint32(nil, ^uint32(0))
	ci = binary.LittleEndian.AppendUint32(ci, ^uint32(0))
	m.attr(ifaCacheinfo, append(ci, make([]byte, 8)...))
	m.u32(ifaFlags, ifaFPermanent)
	return m.done()
}

func routeMsg(r inet.Route, seq, port uint32) []byte {
	m := newMsg(rtmNewRoute, 0, seq, port, rtmsgLen)
	b := m.body()
	b[0] = byte(r.Family)
	b[1] = byte(r.PrefixLen)
	table, proto, scope, typ := byte(rtTableMain), byte(rtprotKernel), byte(rtScopeLink), byte(rtnUnicast)
	switch {
	case r.Local:
		table, scope, typ = rtTableLocal, rtScopeHost, rtnLocal
	case r.Gateway != nil:
		proto, scope = rtprotBoot, rtScopeUniv
	}
	b[4], b[5], b[6], b[7] = table, proto, scope, typ
	m.u32(rtaTable, uint32(table))
	if r.PrefixLen > 0 {
		m.attr(rtaDst, r.Dst)
	}
	if r.Gateway != nil {
		m.attr(rtaGateway, r.Gateway)
	}
	if r.Src != nil {
		m.attr(rtaPrefsrc, r.Src)
	}
	m.u32(rtaOif, uint32(r.Index))
	return m.done()
}
