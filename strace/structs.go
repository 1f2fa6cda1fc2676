package strace

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"
)

// Renderers for structures in application memory. Each takes the address
// of the structure and reports false if it could not be read, in which case
// the caller prints the address instead. Layouts are those of x86-64.

// fields joins "name=value" pairs into a brace-enclosed struct.
func fields(kv ...string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(kv[i])
		if kv[i+1] != "" {
			b.WriteByte('=')
			b.WriteString(kv[i+1])
		}
	}
	b.WriteByte('}')
	return b.String()
}

// more is a fields entry that renders as a bare "...".
var more = []string{"...", ""}

func le64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
func le16(b []byte, off int) uint16 { return binary.LittleEndian.Uint16(b[off:]) }
func sdec64(v uint64) string        { return dec(int64(v)) }

// timespec: {tv_sec=1, tv_nsec=0}.
func timespec(c *call, addr uintptr) (string, bool) {
	b, ok := c.read(addr, 16)
	if !ok {
		return "", false
	}
	return fields("tv_sec", sdec64(le64(b, 0)), "tv_nsec", sdec64(le64(b, 8))), true
}

// timeval: {tv_sec=1, tv_usec=0}.
func timeval(c *call, addr uintptr) (string, bool) {
	b, ok := c.read(addr, 16)
	if !ok {
		return "", false
	}
	return fields("tv_sec", sdec64(le64(b, 0)), "tv_usec", sdec64(le64(b, 8))), true
}

// makedev renders a device number as strace does: makedev(0x88, 0x1).
func makedev(major, minor uint64) string {
	return "makedev(" + hex(major) + ", " + hex(minor) + ")"
}

// isDevice reports whether an st_mode describes a character or block
// device, for which st_rdev is more interesting than st_size.
func isDevice(mode uint64) bool {
	t := mode & unix.S_IFMT
	return t == unix.S_IFCHR || t == unix.S_IFBLK
}

// stat renders the interesting part of a struct stat:
// {st_mode=S_IFREG|0644, st_size=1234, ...}.
func stat(c *call, addr uintptr) (string, bool) {
	b, ok := c.read(addr, 144)
	if !ok {
		return "", false
	}
	mode := uint64(le32(b, 24))
	kv := []string{"st_mode", fileMode(mode)}
	if isDevice(mode) {
		rdev := le64(b, 40)
		kv = append(kv, "st_rdev", makedev(uint64(unix.Major(rdev)), uint64(unix.Minor(rdev))))
	} else {
		kv = append(kv, "st_size", sdec64(le64(b, 48)))
	}
	return fields(append(kv, more...)...), true
}

// statx renders the interesting part of a struct statx.
func statx(c *call, addr uintptr) (string, bool) {
	b, ok := c.read(addr, 144)
	if !ok {
		return "", false
	}
	mode := uint64(le16(b, 28))
	kv := []string{
		"stx_mask", statxMask.flags(uint64(le32(b, 0))),
		"stx_attributes", hex(le64(b, 8)),
		"stx_mode", fileMode(mode),
	}
	if isDevice(mode) {
		kv = append(kv, "stx_rdev_major", udec(uint64(le32(b, 128))), "stx_rdev_minor", udec(uint64(le32(b, 132))))
	} else {
		kv = append(kv, "stx_size", udec(le64(b, 40)))
	}
	return fields(append(kv, more...)...), true
}

// openHow renders openat2's struct open_how of size n (at least its first
// version; larger structs show their first 24 bytes).
func openHow(c *call, addr uintptr, n uint64) (string, bool) {
	if n < 24 {
		return "", false
	}
	b, ok := c.read(addr, 24)
	if !ok {
		return "", false
	}
	return fields("flags", openFlags(le64(b, 0)), "mode", octal(le64(b, 8)), "resolve", resolveFlags.flags(le64(b, 16))), true
}

// utsname renders the first fields of struct utsname.
func utsname(c *call, addr uintptr) (string, bool) {
	const fieldLen = 65
	b, ok := c.read(addr, 2*fieldLen)
	if !ok {
		return "", false
	}
	field := func(i int) string {
		f := b[i*fieldLen : (i+1)*fieldLen]
		if n := strings.IndexByte(string(f), 0); n >= 0 {
			f = f[:n]
		}
		return quote(f)
	}
	return fields(append([]string{"sysname", field(0), "nodename", field(1)}, more...)...), true
}

// sysinfo renders struct sysinfo.
func sysinfo(c *call, addr uintptr) (string, bool) {
	b, ok := c.read(addr, 112)
	if !ok {
		return "", false
	}
	u := func(off int) string { return udec(le64(b, off)) }
	loads := "[" + u(8) + ", " + u(16) + ", " + u(24) + "]"
	return fields(
		"uptime", sdec64(le64(b, 0)),
		"loads", loads,
		"totalram", u(32),
		"freeram", u(40),
		"sharedram", u(48),
		"bufferram", u(56),
		"totalswap", u(64),
		"freeswap", u(72),
		"procs", udec(uint64(le16(b, 80))),
		"totalhigh", u(88),
		"freehigh", u(96),
		"mem_unit", udec(uint64(le32(b, 104))),
	), true
}

// intPair renders int[2] (pipe): [3, 4].
func intPair(c *call, addr uintptr) (string, bool) {
	b, ok := c.read(addr, 8)
	if !ok {
		return "", false
	}
	return "[" + dec(int64(int32(le32(b, 0)))) + ", " + dec(int64(int32(le32(b, 4)))) + "]", true
}

// intRef renders an int passed by reference: [5].
func intRef(c *call, addr uintptr) (string, bool) {
	v, ok := c.readU32(addr)
	if !ok {
		return "", false
	}
	return "[" + dec(int64(int32(v))) + "]", true
}

// timeRef renders a time_t passed by reference: [1700000000].
func timeRef(c *call, addr uintptr) (string, bool) {
	v, ok := c.readU64(addr)
	if !ok {
		return "", false
	}
	return "[" + sdec64(v) + "]", true
}

// rlimit renders struct rlimit; infinity is the name of RLIM_INFINITY to
// use (getrlimit and prlimit64 spell it differently).
func rlimit(infinity string) func(c *call, addr uintptr) (string, bool) {
	lim := func(v uint64) string {
		switch {
		case v == ^uint64(0):
			return infinity
		case v != 0 && v%1024 == 0:
			return udec(v/1024) + "*1024"
		}
		return udec(v)
	}
	return func(c *call, addr uintptr) (string, bool) {
		b, ok := c.read(addr, 16)
		if !ok {
			return "", false
		}
		return fields("rlim_cur", lim(le64(b, 0)), "rlim_max", lim(le64(b, 8))), true
	}
}

// sigsetString renders a signal mask as strace does: [INT TERM], or the
// complement ~[...] when more than half the signals are set.
func sigsetString(mask uint64, nsig int) string {
	var full uint64 = ^uint64(0)
	if nsig < 64 {
		full = 1<<nsig - 1
	}
	mask &= full
	prefix := ""
	if bits.OnesCount64(mask) > nsig/2 {
		prefix = "~"
		mask = ^mask & full
	}
	var names []string
	for i := 0; i < nsig; i++ {
		if mask&(1<<i) != 0 {
			names = append(names, strings.TrimPrefix(signalName(uint64(i+1)), "SIG"))
		}
	}
	return prefix + "[" + strings.Join(names, " ") + "]"
}

// sigset renders a sigset_t of n bytes.
func sigset(c *call, addr uintptr, n uint64) (string, bool) {
	if n == 0 || n > 8 {
		return "", false
	}
	b, ok := c.read(addr, int(n))
	if !ok {
		return "", false
	}
	var mask uint64
	for i, x := range b {
		mask |= uint64(x) << (8 * i)
	}
	return sigsetString(mask, int(n)*8), true
}

// sigaction renders the kernel's struct sigaction:
// {sa_handler=SIG_DFL, sa_mask=[], sa_flags=SA_RESTORER, sa_restorer=0x...}.
func sigaction(c *call, addr uintptr) (string, bool) {
	b, ok := c.read(addr, 32)
	if !ok {
		return "", false
	}
	handler := le64(b, 0)
	flags := le64(b, 8)
	var h string
	switch handler {
	case 0:
		h = "SIG_DFL"
	case 1:
		h = "SIG_IGN"
	default:
		h = hex(handler)
	}
	kv := []string{
		"sa_handler", h,
		"sa_mask", sigsetString(le64(b, 24), 64),
		"sa_flags", saFlags.flags(flags),
	}
	if flags&saRestorer != 0 {
		kv = append(kv, "sa_restorer", hex(le64(b, 16)))
	}
	return fields(kv...), true
}

// maxArrayElems is how many array elements (iovecs, argv strings, gids)
// are shown before "...".
const maxArrayElems = 32

// iovecs renders an iovec array of cnt elements. If withData, each
// element's contents are shown, limited to limit bytes in total (the
// return value of readv); otherwise the base addresses are shown.
func (c *call) iovecs(addr uintptr, cnt, limit uint64, withData bool) (string, bool) {
	if cnt > 1024 { // UIO_MAXIOV
		return "", false
	}
	var elems []string
	for i := uint64(0); i < cnt; i++ {
		if i == maxArrayElems {
			elems = append(elems, "...")
			break
		}
		b, ok := c.read(addr+uintptr(16*i), 16)
		if !ok {
			return "", false
		}
		base, n := uintptr(le64(b, 0)), le64(b, 8)
		var bs string
		if withData {
			show := n
			if show > limit {
				show = limit
			}
			limit -= show
			bs = c.buffer(base, show)
		} else {
			bs = ptr(base)
		}
		elems = append(elems, fields("iov_base", bs, "iov_len", udec(n)))
	}
	return "[" + strings.Join(elems, ", ") + "]", true
}

// cpuSet renders a CPU mask of n bytes as the list of set CPUs: [0 1 2].
func cpuSet(c *call, addr uintptr, n uint64) (string, bool) {
	if n > 1024 {
		n = 1024
	}
	b, ok := c.read(addr, int(n))
	if !ok {
		return "", false
	}
	var cpus []string
	for i, x := range b {
		for j := 0; j < 8; j++ {
			if x&(1<<j) != 0 {
				cpus = append(cpus, udec(uint64(8*i+j)))
			}
		}
	}
	return "[" + strings.Join(cpus, " ") + "]", true
}

// gidList renders an array of n gid_t: [0, 4, 27].
func gidList(c *call, addr uintptr, n uint64) (string, bool) {
	if n > 65536 {
		return "", false
	}
	show := n
	if show > maxArrayElems {
		show = maxArrayElems
	}
	b, ok := c.read(addr, int(4*show))
	if !ok {
		return "", false
	}
	var ids []string
	for i := 0; i < int(show); i++ {
		ids = append(ids, udec(uint64(le32(b, 4*i))))
	}
	if show < n {
		ids = append(ids, "...")
	}
	return "[" + strings.Join(ids, ", ") + "]", true
}

// waitStatusString decodes a wait status the way strace does.
func waitStatusString(s uint32) string {
	var d string
	switch {
	case s&0x7f == 0:
		d = "WIFEXITED(s) && WEXITSTATUS(s) == " + udec(uint64(s>>8&0xff))
	case s&0xff == 0x7f:
		d = "WIFSTOPPED(s) && WSTOPSIG(s) == " + signalName(uint64(s>>8&0xff))
		if s>>16 != 0 {
			d += " && s >> 16 == " + udec(uint64(s>>16))
		}
	case s == 0xffff:
		d = "WIFCONTINUED(s)"
	default:
		d = "WIFSIGNALED(s) && WTERMSIG(s) == " + signalName(uint64(s&0x7f))
		if s&0x80 != 0 {
			d += " && WCOREDUMP(s)"
		}
	}
	return "[{" + d + "}]"
}

func waitStatus(c *call, addr uintptr) (string, bool) {
	v, ok := c.readU32(addr)
	if !ok {
		return "", false
	}
	return waitStatusString(v), true
}

// countDirents counts the linux_dirent64 records in n bytes at addr.
func countDirents(c *call, addr uintptr, n uint64) (uint64, bool) {
	if n > 1<<20 {
		return 0, false
	}
	b, ok := c.read(addr, int(n))
	if !ok {
		return 0, false
	}
	var count uint64
	for off := 0; off+19 <= len(b); {
		reclen := int(le16(b, off+16))
		if reclen == 0 {
			return 0, false
		}
		count++
		off += reclen
	}
	return count, true
}

// argv renders a NULL-terminated array of strings: ["ls", "-l"].
func (c *call) argv(addr uintptr) (string, bool) {
	var elems []string
	for i := 0; ; i++ {
		p, ok := c.readU64(addr + uintptr(8*i))
		if !ok {
			return "", false
		}
		if p == 0 {
			break
		}
		if i == maxArrayElems {
			elems = append(elems, "...")
			break
		}
		elems = append(elems, c.cstring(uintptr(p), MaxStringLen))
	}
	return "[" + strings.Join(elems, ", ") + "]", true
}

// countPtrs counts the pointers in a NULL-terminated array.
func (c *call) countPtrs(addr uintptr) (uint64, bool) {
	for i := uint64(0); i < 1<<16; i++ {
		p, ok := c.readU64(addr + uintptr(8*i))
		if !ok {
			return 0, false
		}
		if p == 0 {
			return i, true
		}
	}
	return 0, false
}

// winsize: {ws_row=24, ws_col=80, ws_xpixel=0, ws_ypixel=0}.
func winsize(c *call, addr uintptr) (string, bool) {
	b, ok := c.read(addr, 8)
	if !ok {
		return "", false
	}
	u := func(off int) string { return udec(uint64(le16(b, off))) }
	return fields("ws_row", u(0), "ws_col", u(2), "ws_xpixel", u(4), "ws_ypixel", u(6)), true
}

// flock renders struct flock:
// {l_type=F_WRLCK, l_whence=SEEK_SET, l_start=0, l_len=0}.
func flock(c *call, addr uintptr) (string, bool) {
	b, ok := c.read(addr, 32)
	if !ok {
		return "", false
	}
	return fields(
		"l_type", leaseTypes.enumOr(uint64(le16(b, 0)), hex),
		"l_whence", whences.enumOr(uint64(le16(b, 2)), hex),
		"l_start", sdec64(le64(b, 8)),
		"l_len", sdec64(le64(b, 16)),
	), true
}

// sockaddr renders a socket address of n bytes.
func sockaddr(c *call, addr uintptr, n uint64) (string, bool) {
	if n < 2 || n > 128 {
		return "", false
	}
	b, ok := c.read(addr, int(n))
	if !ok {
		return "", false
	}
	family := uint64(le16(b, 0))
	fam := addressFamilies.enumOr(family, udec)
	be16 := func(off int) string { return udec(uint64(binary.BigEndian.Uint16(b[off:]))) }
	switch {
	case family == unix.AF_UNIX:
		path := b[2:]
		if len(path) == 0 {
			return fields("sa_family", fam), true
		}
		if path[0] == 0 {
			return fields("sa_family", fam, "sun_path", "@"+quote(path[1:])), true
		}
		if i := strings.IndexByte(string(path), 0); i >= 0 {
			path = path[:i]
		}
		return fields("sa_family", fam, "sun_path", quote(path)), true
	case family == unix.AF_INET && n >= 8:
		ip := netip.AddrFrom4([4]byte(b[4:8]))
		return fields("sa_family", fam, "sin_port", "htons("+be16(2)+")",
			"sin_addr", `inet_addr("`+ip.String()+`")`), true
	case family == unix.AF_INET6 && n >= 24:
		ip := netip.AddrFrom16([16]byte(b[8:24]))
		kv := []string{"sa_family", fam, "sin6_port", "htons(" + be16(2) + ")",
			"sin6_flowinfo", "htonl(" + udec(uint64(binary.BigEndian.Uint32(b[4:]))) + ")",
			`inet_pton(AF_INET6, "` + ip.String() + `", &sin6_addr)`, ""}
		if n >= 28 {
			kv = append(kv, "sin6_scope_id", udec(uint64(le32(b, 24))))
		}
		return fields(kv...), true
	}
	return fields(append([]string{"sa_family", fam}, more...)...), true
}
