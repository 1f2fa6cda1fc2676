package inet

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"moat/vfs"
)

// Linux's bounds on the TCP keepalive options.
const (
	maxKeepIdle  = 32767 // MAX_TCP_KEEPIDLE, seconds
	maxKeepIntvl = 32767 // MAX_TCP_KEEPINTVL, seconds
	maxKeepCnt   = 127   // MAX_TCP_KEEPCNT
)

// tcpInfoLen is the size of struct tcp_info that moat fills (the fields up
// to tcpi_rcv_space; the rest are zero).
const tcpInfoLen = 104

func putInt(v int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(int32(v))) }

func putBool(b bool) []byte {
	if b {
		return putInt(1)
	}
	return putInt(0)
}

// GetSockOpt implements getsockopt(2) for the options moat knows: the
// option's value, which the caller cuts to the user's length.
func (so *stackSocket) GetSockOpt(level, name int) ([]byte, error) {
	ops := so.ep.SocketOptions()
	switch level {
	case unix.SOL_SOCKET:
		switch name {
		case unix.SO_TYPE:
			return putInt(so.typ), nil
		case unix.SO_DOMAIN:
			return putInt(so.family), nil
		case unix.SO_PROTOCOL:
			return putInt(so.proto), nil
		case unix.SO_ERROR:
			return putInt(int(so.takeError())), nil
		case unix.SO_ACCEPTCONN:
			return putBool(ops.GetAcceptConn()), nil
		case unix.SO_REUSEADDR:
			return putBool(ops.GetReuseAddress()), nil
		case unix.SO_REUSEPORT:
			return putBool(ops.GetReusePort()), nil
		case unix.SO_KEEPALIVE:
			return putBool(ops.GetKeepAlive()), nil
		case unix.SO_BROADCAST:
			return putBool(ops.GetBroadcast()), nil
		case unix.SO_PASSCRED:
			return putBool(ops.GetPassCred()), nil
		case unix.SO_OOBINLINE:
			return putBool(false), nil
		case unix.SO_SNDBUF:
			return putInt(int(ops.GetSendBufferSize())), nil
		case unix.SO_RCVBUF:
			return putInt(int(ops.GetReceiveBufferSize())), nil
		case unix.SO_RCVLOWAT:
			return putInt(int(ops.GetRcvlowat())), nil
		case unix.SO_SNDLOWAT:
			return putInt(1), nil
		case unix.SO_MARK:
			return putInt(int(ops.GetMark())), nil
		case unix.SO_LINGER:
			l := ops.GetLinger()
			b := putBool(l.Enabled)
			return binary.LittleEndian.AppendUint32(b, uint32(l.Timeout/time.Second)), nil
		case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO:
			return so.getTimeout(name), nil
		case unix.SO_BINDTODEVICE:
			if ops.GetBindToDevice() != 0 {
				return []byte("lo\x00"), nil
			}
			return nil, nil
		}
	case unix.IPPROTO_TCP:
		if so.typ != unix.SOCK_STREAM {
			break
		}
		switch name {
		case unix.TCP_NODELAY:
			return putBool(!ops.GetDelayOption()), nil
		case unix.TCP_CORK:
			return putBool(ops.GetCorkOption()), nil
		case unix.TCP_QUICKACK:
			return putBool(ops.GetQuickAck()), nil
		case unix.TCP_MAXSEG:
			return so.getInt(tcpip.MaxSegOption)
		case unix.TCP_KEEPCNT:
			return so.getInt(tcpip.KeepaliveCountOption)
		case unix.TCP_SYNCNT:
			return so.getInt(tcpip.TCPSynCountOption)
		case unix.TCP_WINDOW_CLAMP:
			return so.getInt(tcpip.TCPWindowClampOption)
		case unix.TCP_KEEPIDLE:
			var v tcpip.KeepaliveIdleOption
			return so.getDuration(&v, (*time.Duration)(&v), time.Second)
		case unix.TCP_KEEPINTVL:
			var v tcpip.KeepaliveIntervalOption
			return so.getDuration(&v, (*time.Duration)(&v), time.Second)
		case unix.TCP_USER_TIMEOUT:
			var v tcpip.TCPUserTimeoutOption
			return so.getDuration(&v, (*time.Duration)(&v), time.Millisecond)
		case unix.TCP_CONGESTION:
			var v tcpip.CongestionControlOption
			if terr := so.ep.GetSockOpt(&v); terr != nil {
				return nil, errno(terr)
			}
			b := make([]byte, 16) // TCP_CA_NAME_MAX
			copy(b, v)
			return b, nil
		case unix.TCP_INFO:
			var v tcpip.TCPInfoOption
			if terr := so.ep.GetSockOpt(&v); terr != nil {
				return nil, errno(terr)
			}
			b := make([]byte, tcpInfoLen)
			b[0] = byte(linuxTCPState(tcp.EndpointState(v.State)))                   // tcpi_state
			binary.LittleEndian.PutUint32(b[16:], uint32(v.RTO/time.Microsecond))    // tcpi_rto
			binary.LittleEndian.PutUint32(b[68:], uint32(v.RTT/time.Microsecond))    // tcpi_rtt
			binary.LittleEndian.PutUint32(b[72:], uint32(v.RTTVar/time.Microsecond)) // tcpi_rttvar
			binary.LittleEndian.PutUint32(b[76:], v.SndSsthresh)                     // tcpi_snd_ssthresh
			binary.LittleEndian.PutUint32(b[80:], v.SndCwnd)                         // tcpi_snd_cwnd
			return b, nil
		}
	case unix.IPPROTO_IP:
		switch name {
		case unix.IP_TOS:
			return so.getInt(tcpip.IPv4TOSOption)
		case unix.IP_TTL:
			b, err := so.getInt(tcpip.IPv4TTLOption)
			if err == nil && binary.LittleEndian.Uint32(b) == 0 {
				b = putInt(64) // the default, net.ipv4.ip_default_ttl
			}
			return b, err
		case unix.IP_RECVTOS:
			return putBool(ops.GetReceiveTOS()), nil
		case unix.IP_RECVTTL:
			return putBool(ops.GetReceiveTTL()), nil
		case unix.IP_PKTINFO:
			return putBool(ops.GetReceivePacketInfo()), nil
		case unix.IP_MTU_DISCOVER:
			return so.getInt(tcpip.MTUDiscoverOption)
		}
	case unix.IPPROTO_IPV6:
		if so.family != unix.AF_INET6 {
			break
		}
		switch name {
		case unix.IPV6_V6ONLY:
			return putBool(ops.GetV6Only()), nil
		case unix.IPV6_TCLASS:
			return so.getInt(tcpip.IPv6TrafficClassOption)
		case unix.IPV6_UNICAST_HOPS:
			b, err := so.getInt(tcpip.IPv6HopLimitOption)
			if err == nil && int32(binary.LittleEndian.Uint32(b)) <= 0 {
				b = putInt(64)
			}
			return b, err
		case unix.IPV6_RECVPKTINFO:
			return putBool(ops.GetIPv6ReceivePacketInfo()), nil
		}
	}
	if !so.knownLevel(level) {
		return nil, unix.EOPNOTSUPP // as Linux's protocol chain ends for getsockopt
	}
	return nil, unix.ENOPROTOOPT
}

// knownLevel reports whether the socket's protocols handle options at
// level: an option there that moat does not know is ENOPROTOOPT, while
// getsockopt at a level nobody handles is EOPNOTSUPP.
func (so *base) knownLevel(level int) bool {
	switch level {
	case unix.SOL_SOCKET, unix.IPPROTO_IP:
		return true
	case unix.IPPROTO_IPV6:
		return so.family == unix.AF_INET6
	case unix.IPPROTO_TCP:
		return so.typ == unix.SOCK_STREAM
	case unix.IPPROTO_UDP:
		return so.proto == unix.IPPROTO_UDP
	case unix.IPPROTO_ICMPV6:
		return so.typ == unix.SOCK_RAW && so.proto == unix.IPPROTO_ICMPV6
	}
	return false
}

func (so *stackSocket) getInt(o tcpip.SockOptInt) ([]byte, error) {
	v, terr := so.ep.GetSockOptInt(o)
	if terr != nil {
		return nil, errno(terr)
	}
	return putInt(v), nil
}

func (so *stackSocket) getDuration(o tcpip.GettableSocketOption, d *time.Duration, unit time.Duration) ([]byte, error) {
	if terr := so.ep.GetSockOpt(o); terr != nil {
		return nil, errno(terr)
	}
	return putInt(int(*d / unit)), nil
}

// takeError returns and clears the pending socket error, as reading
// SO_ERROR does on Linux. netstack keeps a TCP connection's fatal error
// for good, so once reported it reads as 0.
func (so *stackSocket) takeError() unix.Errno {
	e := errnoOrZero(so.ep.LastError())
	if so.typ != unix.SOCK_STREAM {
		return e
	}
	so.mu.Lock()
	defer so.mu.Unlock()
	if so.errTaken {
		return 0
	}
	so.errTaken = e != 0
	return e
}

func errnoOrZero(terr tcpip.Error) unix.Errno {
	if terr == nil {
		return 0
	}
	return errno(terr)
}

// SetSockOpt implements setsockopt(2) for the options moat knows; v is the
// user's value (the caller bounds its length).
func (so *stackSocket) SetSockOpt(level, name int, v []byte) error {
	ops := so.ep.SocketOptions()
	// Most options are an int: Linux wants at least 4 bytes of it.
	ival := func() (int, error) {
		if len(v) < 4 {
			return 0, unix.EINVAL
		}
		return int(int32(binary.LittleEndian.Uint32(v))), nil
	}
	flag := func(set func(bool)) error {
		x, err := ival()
		if err == nil {
			set(x != 0)
		}
		return err
	}
	switch level {
	case unix.SOL_SOCKET:
		switch name {
		case unix.SO_REUSEADDR:
			return flag(ops.SetReuseAddress)
		case unix.SO_REUSEPORT:
			return flag(ops.SetReusePort)
		case unix.SO_KEEPALIVE:
			return flag(ops.SetKeepAlive)
		case unix.SO_BROADCAST:
			return flag(ops.SetBroadcast)
		case unix.SO_PASSCRED:
			return flag(ops.SetPassCred)
		case unix.SO_OOBINLINE, unix.SO_TIMESTAMP, unix.SO_TIMESTAMPNS, unix.SO_PRIORITY:
			_, err := ival() // accepted; support: no out-of-band data, timestamps or priorities
			return err
		case unix.SO_MARK:
			x, err := ival()
			if err == nil {
				ops.SetMark(uint32(x))
			}
			return err
		case unix.SO_SNDBUF, unix.SO_RCVBUF:
			x, err := ival()
			if err != nil {
				return err
			}
			// As Linux: the value is doubled (for bookkeeping) and bounded.
			size := int64(min(max(x, 0), MaxBuffer/2)) * 2
			if name == unix.SO_SNDBUF {
				lo, hi := ops.SendBufferLimits()
				ops.SetSendBufferSize(min(max(size, lo), hi), true)
			} else {
				lo, hi := ops.ReceiveBufferLimits()
				ops.SetReceiveBufferSize(min(max(size, lo), hi), true)
			}
			return nil
		case unix.SO_RCVLOWAT:
			x, err := ival()
			if err != nil {
				return err
			}
			return errnoOrNil(ops.SetRcvlowat(int32(max(x, 1))))
		case unix.SO_LINGER:
			if len(v) < 8 {
				return unix.EINVAL
			}
			secs := int32(binary.LittleEndian.Uint32(v[4:]))
			ops.SetLinger(tcpip.LingerOption{
				Enabled: binary.LittleEndian.Uint32(v) != 0,
				Timeout: time.Duration(max(secs, 0)) * time.Second,
			})
			return nil
		case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO:
			return so.setTimeout(name, v)
		case unix.SO_BINDTODEVICE:
			dev := string(v)
			for i := 0; i < len(dev); i++ {
				if dev[i] == 0 {
					dev = dev[:i]
					break
				}
			}
			switch dev {
			case "":
				return errnoOrNil(ops.SetBindToDevice(0))
			case "lo":
				return errnoOrNil(ops.SetBindToDevice(int32(loNIC)))
			}
			return unix.ENODEV
		}
	case unix.IPPROTO_TCP:
		if so.typ != unix.SOCK_STREAM {
			break
		}
		switch name {
		case unix.TCP_NODELAY:
			return flag(func(b bool) { ops.SetDelayOption(!b) })
		case unix.TCP_CORK:
			return flag(ops.SetCorkOption)
		case unix.TCP_QUICKACK:
			return flag(ops.SetQuickAck)
		case unix.TCP_MAXSEG:
			return so.setInt(tcpip.MaxSegOption, v, 0, 65535-40)
		case unix.TCP_KEEPCNT:
			return so.setInt(tcpip.KeepaliveCountOption, v, 1, maxKeepCnt)
		case unix.TCP_SYNCNT:
			return so.setInt(tcpip.TCPSynCountOption, v, 1, 127)
		case unix.TCP_WINDOW_CLAMP:
			return so.setInt(tcpip.TCPWindowClampOption, v, 0, 1<<30)
		case unix.TCP_KEEPIDLE:
			x, err := ival()
			if err != nil || x < 1 || x > maxKeepIdle {
				return unix.EINVAL
			}
			o := tcpip.KeepaliveIdleOption(time.Duration(x) * time.Second)
			return errnoOrNil(so.ep.SetSockOpt(&o))
		case unix.TCP_KEEPINTVL:
			x, err := ival()
			if err != nil || x < 1 || x > maxKeepIntvl {
				return unix.EINVAL
			}
			o := tcpip.KeepaliveIntervalOption(time.Duration(x) * time.Second)
			return errnoOrNil(so.ep.SetSockOpt(&o))
		case unix.TCP_USER_TIMEOUT:
			x, err := ival()
			if err != nil || x < 0 {
				return unix.EINVAL
			}
			o := tcpip.TCPUserTimeoutOption(time.Duration(x) * time.Millisecond)
			return errnoOrNil(so.ep.SetSockOpt(&o))
		case unix.TCP_CONGESTION:
			name := string(v)
			for i := 0; i < len(name); i++ {
				if name[i] == 0 {
					name = name[:i]
					break
				}
			}
			o := tcpip.CongestionControlOption(name)
			if terr := so.ep.SetSockOpt(&o); terr != nil {
				return unix.ENOENT // Linux: no such congestion control
			}
			return nil
		}
	case unix.IPPROTO_IP:
		switch name {
		case unix.IP_TOS:
			return so.setInt(tcpip.IPv4TOSOption, v, 0, 255)
		case unix.IP_TTL:
			x, err := ival()
			if err != nil {
				return err
			}
			if x == -1 {
				x = 0 // back to the default
			} else if x < 1 || x > 255 {
				return unix.EINVAL
			}
			return errnoOrNil(so.ep.SetSockOptInt(tcpip.IPv4TTLOption, x))
		case unix.IP_RECVTOS:
			return flag(ops.SetReceiveTOS)
		case unix.IP_RECVTTL:
			return flag(ops.SetReceiveTTL)
		case unix.IP_PKTINFO:
			return flag(ops.SetReceivePacketInfo)
		case unix.IP_MTU_DISCOVER:
			return so.setInt(tcpip.MTUDiscoverOption, v, 0, 5)
		}
	case unix.IPPROTO_ICMPV6:
		// ICMP6_FILTER (icmp6(7)): which ICMPv6 types a raw socket
		// receives, a bit per type that is blocked.
		if so.typ == unix.SOCK_RAW && so.proto == unix.IPPROTO_ICMPV6 && name == icmp6Filter {
			if len(v) < 32 {
				return unix.EINVAL
			}
			var f tcpip.ICMPv6Filter
			for i := range f.DenyType {
				f.DenyType[i] = binary.LittleEndian.Uint32(v[4*i:])
			}
			return errnoOrNil(so.ep.SetSockOpt(&f))
		}
	case unix.IPPROTO_IPV6:
		if so.family != unix.AF_INET6 {
			break
		}
		switch name {
		case unix.IPV6_V6ONLY:
			if fa, terr := so.ep.GetLocalAddress(); terr == nil && fa.Port != 0 {
				return unix.EINVAL // Linux: not after bind
			}
			return flag(ops.SetV6Only)
		case unix.IPV6_TCLASS:
			return so.setInt(tcpip.IPv6TrafficClassOption, v, -1, 255)
		case unix.IPV6_UNICAST_HOPS:
			x, err := ival()
			if err != nil {
				return err
			}
			if x < -1 || x > 255 {
				return unix.EINVAL
			}
			return errnoOrNil(so.ep.SetSockOptInt(tcpip.IPv6HopLimitOption, x))
		case unix.IPV6_RECVPKTINFO:
			return flag(ops.SetIPv6ReceivePacketInfo)
		}
	}
	return unix.ENOPROTOOPT
}

// setInt sets an int option after Linux's range check (EINVAL outside
// [lo, hi]).
func (so *stackSocket) setInt(o tcpip.SockOptInt, v []byte, lo, hi int) error {
	if len(v) < 4 {
		return unix.EINVAL
	}
	x := int(int32(binary.LittleEndian.Uint32(v)))
	if x < lo || x > hi {
		return unix.EINVAL
	}
	return errnoOrNil(so.ep.SetSockOptInt(o, x))
}

// icmp6Filter is ICMP6_FILTER.
const icmp6Filter = 1

// fionread is FIONREAD (x/sys/unix does not name it on linux/amd64).
const fionread = 0x541b

// Ioctl implements vfs.Ioctler: FIONREAD (SIOCINQ) is the bytes waiting
// to be read, TIOCOUTQ (SIOCOUTQ) those not yet sent or acknowledged.
func (so *stackSocket) Ioctl(ctx vfs.Context, req uint32, arg uintptr, mem vfs.IOMemory) (uintptr, error) {
	var o tcpip.SockOptInt
	switch req {
	case fionread:
		o = tcpip.ReceiveQueueSizeOption
	case unix.TIOCOUTQ:
		o = tcpip.SendQueueSizeOption
	default:
		return 0, unix.ENOTTY
	}
	v, terr := so.ep.GetSockOptInt(o)
	if terr != nil {
		if so.typ == unix.SOCK_STREAM {
			return 0, unix.EINVAL // Linux: a listening socket has no queues
		}
		v = 0
	}
	if _, err := mem.CopyOut(arg, putInt(v)); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}
