package unixsock

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// live are the sandbox's open AF_UNIX sockets, by inode number, for
// /proc/net/unix.
var live sync.Map

// track records a new socket in live.
func track(s *Socket) *Socket {
	live.Store(s.ino, s)
	return s
}

// Linux's socket states (SS_*) and the flag of a listening socket.
const (
	ssUnconnected = 1
	ssConnected   = 3
	soAcceptCon   = 0x10000
)

// ProcNet returns the text of /proc/net/unix: every open AF_UNIX socket
// of the sandbox with its type, state, inode and address (abstract names
// with an "@" for the leading NUL, as Linux prints them).
func ProcNet() string {
	var socks []*Socket
	live.Range(func(_, v any) bool {
		socks = append(socks, v.(*Socket))
		return true
	})
	sort.Slice(socks, func(i, j int) bool { return socks[i].ino < socks[j].ino })
	var b strings.Builder
	b.WriteString("Num       RefCount Protocol Flags    Type St Inode Path\n")
	for _, s := range socks {
		s.mu.Lock()
		state, addr, closed := s.state, s.addr, s.closed
		s.mu.Unlock()
		if closed {
			continue
		}
		flags, st := 0, ssUnconnected
		switch state {
		case stListening:
			flags = soAcceptCon
		case stConnected:
			st = ssConnected
		}
		typ := s.typ
		if typ == unix.SOCK_SEQPACKET {
			typ = 5
		}
		if strings.HasPrefix(addr, "\x00") {
			addr = "@" + addr[1:]
		}
		fmt.Fprintf(&b, "0000000000000000: 00000002 00000000 %08X %04X %02X %5d", flags, typ, st, s.ino)
		if addr != "" {
			b.WriteString(" " + addr)
		}
		b.WriteString("\n")
	}
	return b.String()
}
