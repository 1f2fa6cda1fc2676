package netlink

import (
	"encoding/binary"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"moat/fs/inet"
)

type fakeNet struct{ n int }

func (f fakeNet) Interfaces() []inet.Interface {
	var out []inet.Interface
	for i := 1; i <= f.n; i++ {
		out = append(out, inet.Interface{Index: i, Name: fmt.Sprintf("eth%d", i), MTU: 1500, HWType: inet.ArphrdEther,
			HWAddr: []byte{2, 0, 0, 0, 0, byte(i)},
			Addrs:  []inet.IfAddr{{Family: unix.AF_INET, Addr: []byte{10, 0, byte(i), 1}, PrefixLen: 24}}})
	}
	return out
}

func (f fakeNet) Routes() []inet.Route { return nil }

type ctx struct{}

func (ctx) UID() uint32 { return 0 }
func (ctx) GID() uint32 { return 0 }

func request(typ uint16, flags uint16, seq uint32) []byte {
	b := make([]byte, nlmsgHdrLen+ifinfoLen)
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	binary.LittleEndian.PutUint16(b[4:], typ)
	binary.LittleEndian.PutUint16(b[6:], flags)
	binary.LittleEndian.PutUint32(b[8:], seq)
	return b
}

// TestDumpChunks: a dump larger than one datagram comes in datagrams of at
// most chunk bytes, every message complete and flagged NLM_F_MULTI, with
// NLMSG_DONE last.
func TestDumpChunks(t *testing.T) {
	s, err := New(fakeNet{200}, unix.SOCK_RAW, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	replies := s.answer(request(rtmGetLink, nlmFRequest|nlmFDump, 9), 77)
	if len(replies) < 2 {
		t.Fatalf("%d datagrams, want several", len(replies))
	}
	links, done := 0, false
	for i, d := range replies {
		if len(d) > chunk {
			t.Errorf("datagram %d is %d bytes", i, len(d))
		}
		for len(d) > 0 {
			l := int(binary.LittleEndian.Uint32(d))
			if l < nlmsgHdrLen || l > len(d) {
				t.Fatalf("datagram %d: bad message length %d of %d", i, l, len(d))
			}
			typ := binary.LittleEndian.Uint16(d[4:])
			if binary.LittleEndian.Uint16(d[6:])&nlmFMulti == 0 || binary.LittleEndian.Uint32(d[8:]) != 9 ||
				binary.LittleEndian.Uint32(d[12:]) != 77 {
				t.Errorf("message %d of type %d: bad flags, seq or port", links, typ)
			}
			switch typ {
			case rtmNewLink:
				if done {
					t.Error("a link after NLMSG_DONE")
				}
				links++
			case nlmsgDone:
				done = true
			}
			d = d[align(l):]
		}
	}
	if links != 200 || !done {
		t.Errorf("%d links, done %v; want 200 and done", links, done)
	}
}

// TestChangeRefused: requests that would change the network get EPERM;
// unknown queries EOPNOTSUPP; an unknown interface ENODEV.
func TestChangeRefused(t *testing.T) {
	s, _ := New(fakeNet{1}, unix.SOCK_RAW, unix.NETLINK_ROUTE)
	for _, tc := range []struct {
		typ  uint16
		want unix.Errno
	}{{rtmNewAddr, unix.EPERM}, {rtmNewRoute, unix.EPERM}, {rtmNewLink, unix.EPERM}, {90, unix.EOPNOTSUPP}} {
		r := s.answer(request(tc.typ, nlmFRequest, 1), 5)
		if len(r) != 1 || binary.LittleEndian.Uint16(r[0][4:]) != nlmsgError ||
			int32(binary.LittleEndian.Uint32(r[0][nlmsgHdrLen:])) != -int32(tc.want) {
			t.Errorf("type %d: got %x, want error %v", tc.typ, r, tc.want)
		}
	}
	req := request(rtmGetLink, nlmFRequest, 2)
	binary.LittleEndian.PutUint32(req[nlmsgHdrLen+4:], 42)
	if r := s.answer(req, 5); len(r) != 1 || int32(binary.LittleEndian.Uint32(r[0][nlmsgHdrLen:])) != -int32(unix.ENODEV) {
		t.Errorf("unknown index: got %x", r)
	}
	if _, err := s.Send(ctx{}, make([]byte, 3), nil, inet.Options{}); err != nil {
		t.Errorf("a short message: %v", err)
	}
}
