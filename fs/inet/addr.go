package inet

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
)

// Sizes of the socket addresses, as Linux checks them.
const (
	sockaddrInLen  = 16 // sizeof(struct sockaddr_in)
	sockaddrIn6Len = 28 // sizeof(struct sockaddr_in6)
	sin6LenRFC2133 = 24 // SIN6_LEN_RFC2133: a sockaddr_in6 without sin6_scope_id
)

// Family returns a socket address's family, or -1 when b is too short to
// hold one.
func Family(b []byte) int {
	if len(b) < 2 {
		return -1
	}
	return int(binary.LittleEndian.Uint16(b))
}

// decodeAddr parses the socket address b for a socket of the given family,
// with the length checks and errnos of Linux's inet_bind, inet6_bind and
// the connect and sendmsg paths. An AF_INET address given to an AF_INET6
// socket (sendto) becomes the v4-mapped address. The any-address (0.0.0.0,
// ::) comes back empty, which is how netstack spells it.
func decodeAddr(family int, b []byte) (tcpip.FullAddress, error) {
	fa, err := parseAddr(family, b)
	if err == nil && fa.Addr.Unspecified() {
		fa.Addr = tcpip.Address{}
	}
	return fa, err
}

func parseAddr(family int, b []byte) (tcpip.FullAddress, error) {
	switch family {
	case unix.AF_INET:
		if len(b) < sockaddrInLen {
			return tcpip.FullAddress{}, unix.EINVAL
		}
		if Family(b) != unix.AF_INET {
			return tcpip.FullAddress{}, unix.EAFNOSUPPORT
		}
		return tcpip.FullAddress{
			Addr: tcpip.AddrFrom4([4]byte(b[4:8])),
			Port: binary.BigEndian.Uint16(b[2:]),
		}, nil
	default: // AF_INET6
		if Family(b) == unix.AF_INET && len(b) >= sockaddrInLen {
			var a [16]byte
			a[10], a[11] = 0xff, 0xff
			copy(a[12:], b[4:8])
			return tcpip.FullAddress{Addr: tcpip.AddrFrom16(a), Port: binary.BigEndian.Uint16(b[2:])}, nil
		}
		if len(b) < sin6LenRFC2133 {
			return tcpip.FullAddress{}, unix.EINVAL
		}
		if Family(b) != unix.AF_INET6 {
			return tcpip.FullAddress{}, unix.EAFNOSUPPORT
		}
		fa := tcpip.FullAddress{
			Addr: tcpip.AddrFrom16([16]byte(b[8:24])),
			Port: binary.BigEndian.Uint16(b[2:]),
		}
		if len(b) >= sockaddrIn6Len {
			if scope := binary.LittleEndian.Uint32(b[24:]); scope != 0 {
				fa.NIC = tcpip.NICID(scope)
			}
		}
		return fa, nil
	}
}

// encodeAddr returns the socket address of fa as a socket of the given
// family reports it: an IPv4 address on an AF_INET6 socket appears
// v4-mapped, and an empty address is the any-address.
func encodeAddr(family int, fa tcpip.FullAddress) []byte {
	if family == unix.AF_INET {
		b := make([]byte, sockaddrInLen)
		binary.LittleEndian.PutUint16(b, unix.AF_INET)
		binary.BigEndian.PutUint16(b[2:], fa.Port)
		if fa.Addr.Len() == 4 {
			copy(b[4:], fa.Addr.AsSlice())
		}
		return b
	}
	b := make([]byte, sockaddrIn6Len)
	binary.LittleEndian.PutUint16(b, unix.AF_INET6)
	binary.BigEndian.PutUint16(b[2:], fa.Port)
	switch fa.Addr.Len() {
	case 4:
		b[18], b[19] = 0xff, 0xff
		copy(b[20:], fa.Addr.AsSlice())
	case 16:
		copy(b[8:], fa.Addr.AsSlice())
		if a := fa.Addr.AsSlice(); a[0] == 0xfe && a[1]&0xc0 == 0x80 { // link-local
			binary.LittleEndian.PutUint32(b[24:], uint32(fa.NIC))
		}
	}
	return b
}
