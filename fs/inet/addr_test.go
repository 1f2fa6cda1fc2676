package inet

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
)

func sockaddrIn(fam uint16, port uint16, a [4]byte) []byte {
	b := make([]byte, sockaddrInLen)
	b[0], b[1] = byte(fam), byte(fam>>8)
	b[2], b[3] = byte(port>>8), byte(port)
	copy(b[4:], a[:])
	return b
}

func TestDecodeAddr(t *testing.T) {
	for _, tc := range []struct {
		name   string
		family int
		b      []byte
		want   tcpip.FullAddress
		err    error
	}{
		{"v4", unix.AF_INET, sockaddrIn(unix.AF_INET, 8080, [4]byte{127, 0, 0, 1}),
			tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{127, 0, 0, 1}), Port: 8080}, nil},
		{"v4 any is empty", unix.AF_INET, sockaddrIn(unix.AF_INET, 1, [4]byte{}), tcpip.FullAddress{Port: 1}, nil},
		{"v4 short", unix.AF_INET, sockaddrIn(unix.AF_INET, 1, [4]byte{})[:15], tcpip.FullAddress{}, unix.EINVAL},
		{"v4 wrong family", unix.AF_INET, sockaddrIn(unix.AF_INET6, 1, [4]byte{}), tcpip.FullAddress{}, unix.EAFNOSUPPORT},
		{"v4 on a v6 socket is v4-mapped", unix.AF_INET6, sockaddrIn(unix.AF_INET, 7, [4]byte{127, 0, 0, 1}),
			tcpip.FullAddress{Addr: tcpip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 127, 15: 1}), Port: 7}, nil},
		{"v6 short", unix.AF_INET6, make([]byte, sin6LenRFC2133-1), tcpip.FullAddress{}, unix.EINVAL},
		{"v6 wrong family", unix.AF_INET6, make([]byte, sockaddrIn6Len), tcpip.FullAddress{}, unix.EAFNOSUPPORT},
		{"empty", unix.AF_INET, nil, tcpip.FullAddress{}, unix.EINVAL},
	} {
		got, err := decodeAddr(tc.family, tc.b)
		if err != tc.err || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

func TestEncodeAddr(t *testing.T) {
	fa := tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{127, 0, 0, 2}), Port: 0x1234}
	if got, want := encodeAddr(unix.AF_INET, fa), sockaddrIn(unix.AF_INET, 0x1234, [4]byte{127, 0, 0, 2}); !bytes.Equal(got, want) {
		t.Errorf("v4: got %x, want %x", got, want)
	}
	got := encodeAddr(unix.AF_INET6, fa)
	want := make([]byte, sockaddrIn6Len)
	want[0], want[1] = unix.AF_INET6, 0
	want[2], want[3] = 0x12, 0x34
	want[18], want[19], want[20], want[23] = 0xff, 0xff, 127, 2
	if !bytes.Equal(got, want) {
		t.Errorf("v4 on v6: got %x, want %x", got, want)
	}
	// Round trip of a v6 address.
	back, err := decodeAddr(unix.AF_INET6, got)
	if err != nil || back.Port != 0x1234 || back.Addr != tcpip.AddrFrom16([16]byte(got[8:24])) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func TestIsLocal(t *testing.T) {
	for a, want := range map[tcpip.Address]bool{
		tcpip.AddrFrom4([4]byte{127, 0, 0, 1}):                         true,
		tcpip.AddrFrom4([4]byte{127, 255, 1, 2}):                       true,
		tcpip.AddrFrom4([4]byte{192, 0, 2, 1}):                         false,
		tcpip.AddrFrom16([16]byte{15: 1}):                              true,
		tcpip.AddrFrom16([16]byte{15: 2}):                              false,
		tcpip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 127, 15: 1}): true,
		tcpip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 10, 15: 1}):  false,
		tcpip.AddrFrom16([16]byte{0: 1, 10: 0xff, 11: 0xff, 12: 127}):  false,
	} {
		if got := isLocal(a); got != want {
			t.Errorf("isLocal(%v) = %v, want %v", a, got, want)
		}
	}
}
