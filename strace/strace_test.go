package strace

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeMem is application memory made of disjoint mapped regions. Reads
// that run off the end of a region are short and fail with EFAULT.
type fakeMem struct {
	regions map[uintptr][]byte // start address -> contents
	reads   int
}

func newMem() *fakeMem { return &fakeMem{regions: map[uintptr][]byte{}} }

func (m *fakeMem) CopyIn(addr uintptr, dst []byte) (int, error) {
	m.reads++
	for start, data := range m.regions {
		if addr >= start && addr < start+uintptr(len(data)) {
			n := copy(dst, data[addr-start:])
			if n < len(dst) {
				return n, unix.EFAULT
			}
			return n, nil
		}
	}
	return 0, unix.EFAULT
}

// put maps data at addr and returns addr.
func (m *fakeMem) put(addr uintptr, data []byte) uintptr {
	m.regions[addr] = data
	return addr
}

// str maps a NUL-terminated string at addr.
func (m *fakeMem) str(addr uintptr, s string) uintptr {
	return m.put(addr, append([]byte(s), 0))
}

func u64s(vs ...uint64) []byte {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	return b
}

func u32s(vs ...uint32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return b
}

// errno encodes -e as a raw return value.
func errno(e unix.Errno) uintptr { return uintptr(-int64(e)) }

// neg encodes a negative int argument the way it sits in a register.
func neg(v int64) uintptr { return uintptr(v) }

const (
	atFDCWDArg = ^uintptr(99) // -100
	badAddr    = 0xdead0000
	oLargefile = 0x8000 // the kernel's value; unix.O_LARGEFILE is 0 on amd64
)

type tcase struct {
	name string
	nr   uintptr
	args [6]uintptr
	ret  uintptr
	want string
}

func run(t *testing.T, mem Memory, cases []tcase) {
	t.Helper()
	for _, tc := range cases {
		if got := Format(tc.nr, tc.args, tc.ret, mem); got != tc.want {
			t.Errorf("%s:\n got  %s\n want %s", tc.name, got, tc.want)
		}
	}
}

func TestBriefExamples(t *testing.T) {
	m := newMem()
	passwd := m.str(0x1000, "/etc/passwd")
	nope := m.str(0x2000, "/nope")
	buf := m.put(0x10000, []byte("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"))
	run(t, m, []tcase{
		{"openat", unix.SYS_OPENAT, [6]uintptr{atFDCWDArg, passwd, unix.O_RDONLY | unix.O_CLOEXEC}, 3,
			`openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3`},
		{"read truncated", unix.SYS_READ, [6]uintptr{3, buf, 4096}, 1024,
			`read(3, "root:x:0:0:root:/root:/bin/bash\n"..., 4096) = 1024`},
		{"openat ENOENT", unix.SYS_OPENAT, [6]uintptr{atFDCWDArg, nope, unix.O_RDONLY}, errno(unix.ENOENT),
			`openat(AT_FDCWD, "/nope", O_RDONLY) = -1 ENOENT (No such file or directory)`},
		{"mmap", unix.SYS_MMAP, [6]uintptr{0, 8192, unix.PROT_READ | unix.PROT_WRITE, unix.MAP_PRIVATE | unix.MAP_ANONYMOUS, neg(-1), 0}, 0x7f1234560000,
			`mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f1234560000`},
		{"exit_group", unix.SYS_EXIT_GROUP, [6]uintptr{0}, 0, `exit_group(0) = ?`},
		{"exit", unix.SYS_EXIT, [6]uintptr{2}, 0, `exit(2) = ?`},
		{"brk", unix.SYS_BRK, [6]uintptr{0}, 0x4c5000, `brk(NULL) = 0x4c5000`},
		{"brk set", unix.SYS_BRK, [6]uintptr{0x4e6000}, 0x4e6000, `brk(0x4e6000) = 0x4e6000`},
	})
}

func TestBuffers(t *testing.T) {
	m := newMem()
	hello := m.put(0x1000, []byte("hello\n"))
	exact := m.put(0x2000, []byte(strings.Repeat("a", 32)))
	long := m.put(0x3000, []byte(strings.Repeat("b", 33)))
	bin := m.put(0x4000, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, '1', '8', 033, '[', 0xff})
	edge := m.put(0x5000, []byte("abc")) // only 3 bytes mapped
	run(t, m, []tcase{
		{"write", unix.SYS_WRITE, [6]uintptr{1, hello, 6}, 6, `write(1, "hello\n", 6) = 6`},
		{"write 32 not truncated", unix.SYS_WRITE, [6]uintptr{1, exact, 32}, 32,
			`write(1, "` + strings.Repeat("a", 32) + `", 32) = 32`},
		{"write 33 truncated", unix.SYS_WRITE, [6]uintptr{1, long, 33}, 33,
			`write(1, "` + strings.Repeat("b", 32) + `"..., 33) = 33`},
		{"write shows buffer even on error", unix.SYS_WRITE, [6]uintptr{9, hello, 6}, errno(unix.EBADF),
			`write(9, "hello\n", 6) = -1 EBADF (Bad file descriptor)`},
		{"write escapes", unix.SYS_WRITE, [6]uintptr{1, bin, 14}, 14,
			`write(1, "\177ELF\2\1\1\0\00018\33[\377", 14) = 14`},
		{"write unreadable", unix.SYS_WRITE, [6]uintptr{1, badAddr, 5}, errno(unix.EFAULT),
			`write(1, 0xdead0000, 5) = -1 EFAULT (Bad address)`},
		{"write partially readable", unix.SYS_WRITE, [6]uintptr{1, edge, 5}, errno(unix.EFAULT),
			`write(1, 0x5000, 5) = -1 EFAULT (Bad address)`},
		{"write empty", unix.SYS_WRITE, [6]uintptr{1, hello, 0}, 0, `write(1, "", 0) = 0`},
		{"read shows ret bytes", unix.SYS_READ, [6]uintptr{0, hello, 4096}, 3, `read(0, "hel", 4096) = 3`},
		{"read EOF", unix.SYS_READ, [6]uintptr{0, hello, 4096}, 0, `read(0, "", 4096) = 0`},
		{"read error shows address", unix.SYS_READ, [6]uintptr{0, hello, 4096}, errno(unix.EAGAIN),
			`read(0, 0x1000, 4096) = -1 EAGAIN (Resource temporarily unavailable)`},
		{"read unreadable", unix.SYS_READ, [6]uintptr{0, badAddr, 16}, 16, `read(0, 0xdead0000, 16) = 16`},
		{"pread64", unix.SYS_PREAD64, [6]uintptr{3, hello, 6, 832}, 6, `pread64(3, "hello\n", 6, 832) = 6`},
		{"pwrite64", unix.SYS_PWRITE64, [6]uintptr{3, hello, 5, 0}, 5, `pwrite64(3, "hello", 5, 0) = 5`},
	})
}

func TestQuote(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"", `""`},
		{"plain text", `"plain text"`},
		{"\"\\\t\n\v\f\r", `"\"\\\t\n\v\f\r"`},
		{"\x00", `"\0"`},
		{"\x00" + "7", `"\0007"`},
		{"\x00" + "8", `"\08"`},
		{"\x01\x1b\x7f\x80\xff", `"\1\33\177\200\377"`},
		{"\x1b" + "0", `"\0330"`},
	} {
		if got := quote([]byte(tc.in)); got != tc.want {
			t.Errorf("quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestPaths(t *testing.T) {
	m := newMem()
	p := m.str(0x1000, "/tmp/x")
	q := m.str(0x2000, "/tmp/y")
	empty := m.str(0x3000, "")
	// A string whose NUL is the last byte before unmapped memory, placed
	// so that it straddles a page boundary.
	straddle := m.str(0x4ffa, "/straddling/path")
	// A string that runs into unmapped memory without a NUL.
	unterminated := m.put(0x7000, []byte("/no/nul"))
	longPath := "/" + strings.Repeat("d", 200)
	lp := m.str(0x9000, longPath)
	run(t, m, []tcase{
		{"open no mode", unix.SYS_OPEN, [6]uintptr{p, unix.O_RDONLY, 0777}, 3, `open("/tmp/x", O_RDONLY) = 3`},
		{"open creat mode", unix.SYS_OPEN, [6]uintptr{p, unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC, 0644}, 3,
			`open("/tmp/x", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 3`},
		{"openat tmpfile", unix.SYS_OPENAT, [6]uintptr{atFDCWDArg, p, unix.O_RDWR | unix.O_TMPFILE, 0600}, 4,
			`openat(AT_FDCWD, "/tmp/x", O_RDWR|O_TMPFILE, 0600) = 4`},
		{"openat dir", unix.SYS_OPENAT, [6]uintptr{atFDCWDArg, p, unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_DIRECTORY}, 3,
			`openat(AT_FDCWD, "/tmp/x", O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY) = 3`},
		{"openat sync dirfd", unix.SYS_OPENAT, [6]uintptr{5, p, unix.O_WRONLY | unix.O_SYNC | unix.O_APPEND | oLargefile}, 6,
			`openat(5, "/tmp/x", O_WRONLY|O_APPEND|O_SYNC|O_LARGEFILE) = 6`},
		{"openat unknown bits", unix.SYS_OPENAT, [6]uintptr{atFDCWDArg, p, unix.O_RDONLY | 0x80000000}, errno(unix.EINVAL),
			`openat(AT_FDCWD, "/tmp/x", O_RDONLY|0x80000000) = -1 EINVAL (Invalid argument)`},
		{"openat unreadable path", unix.SYS_OPENAT, [6]uintptr{atFDCWDArg, badAddr, unix.O_RDONLY}, errno(unix.EFAULT),
			`openat(AT_FDCWD, 0xdead0000, O_RDONLY) = -1 EFAULT (Bad address)`},
		{"open NULL", unix.SYS_OPEN, [6]uintptr{0, unix.O_RDONLY}, errno(unix.EFAULT),
			`open(NULL, O_RDONLY) = -1 EFAULT (Bad address)`},
		{"straddling path", unix.SYS_CHDIR, [6]uintptr{straddle}, 0, `chdir("/straddling/path") = 0`},
		{"unterminated path", unix.SYS_CHDIR, [6]uintptr{unterminated}, errno(unix.EFAULT),
			`chdir(0x7000) = -1 EFAULT (Bad address)`},
		{"long path not truncated", unix.SYS_UNLINK, [6]uintptr{lp}, 0, `unlink("` + longPath + `") = 0`},
		{"creat", unix.SYS_CREAT, [6]uintptr{p, 0644}, 3, `creat("/tmp/x", 0644) = 3`},
		{"close", unix.SYS_CLOSE, [6]uintptr{3}, 0, `close(3) = 0`},
		{"mkdir", unix.SYS_MKDIR, [6]uintptr{p, 0755}, errno(unix.EEXIST), `mkdir("/tmp/x", 0755) = -1 EEXIST (File exists)`},
		{"mkdirat", unix.SYS_MKDIRAT, [6]uintptr{atFDCWDArg, p, 0700}, 0, `mkdirat(AT_FDCWD, "/tmp/x", 0700) = 0`},
		{"rmdir", unix.SYS_RMDIR, [6]uintptr{p}, 0, `rmdir("/tmp/x") = 0`},
		{"mknod fifo", unix.SYS_MKNOD, [6]uintptr{p, unix.S_IFIFO | 0644, 0}, 0, `mknod("/tmp/x", S_IFIFO|0644) = 0`},
		{"mknodat chr", unix.SYS_MKNODAT, [6]uintptr{atFDCWDArg, p, unix.S_IFCHR | 0600, 0x103}, 0,
			`mknodat(AT_FDCWD, "/tmp/x", S_IFCHR|0600, makedev(0x1, 0x3)) = 0`},
		{"mknodat big dev", unix.SYS_MKNODAT, [6]uintptr{3, p, unix.S_IFBLK | 0600, 0x11112c70}, errno(unix.EPERM),
			`mknodat(3, "/tmp/x", S_IFBLK|0600, makedev(0x12c, 0x11170)) = -1 EPERM (Operation not permitted)`},
		{"unlinkat", unix.SYS_UNLINKAT, [6]uintptr{atFDCWDArg, p, unix.AT_REMOVEDIR}, 0, `unlinkat(AT_FDCWD, "/tmp/x", AT_REMOVEDIR) = 0`},
		{"unlinkat 0", unix.SYS_UNLINKAT, [6]uintptr{3, p, 0}, 0, `unlinkat(3, "/tmp/x", 0) = 0`},
		{"rename", unix.SYS_RENAME, [6]uintptr{p, q}, 0, `rename("/tmp/x", "/tmp/y") = 0`},
		{"renameat", unix.SYS_RENAMEAT, [6]uintptr{atFDCWDArg, p, 4, q}, 0, `renameat(AT_FDCWD, "/tmp/x", 4, "/tmp/y") = 0`},
		{"renameat2", unix.SYS_RENAMEAT2, [6]uintptr{atFDCWDArg, p, atFDCWDArg, q, unix.RENAME_NOREPLACE}, 0,
			`renameat2(AT_FDCWD, "/tmp/x", AT_FDCWD, "/tmp/y", RENAME_NOREPLACE) = 0`},
		{"access F_OK", unix.SYS_ACCESS, [6]uintptr{p, unix.F_OK}, errno(unix.ENOENT),
			`access("/tmp/x", F_OK) = -1 ENOENT (No such file or directory)`},
		{"access R_OK|W_OK", unix.SYS_ACCESS, [6]uintptr{p, unix.R_OK | unix.W_OK}, 0, `access("/tmp/x", R_OK|W_OK) = 0`},
		{"faccessat", unix.SYS_FACCESSAT, [6]uintptr{atFDCWDArg, p, unix.X_OK}, 0, `faccessat(AT_FDCWD, "/tmp/x", X_OK) = 0`},
		{"faccessat2", unix.SYS_FACCESSAT2, [6]uintptr{atFDCWDArg, p, unix.R_OK, unix.AT_EACCESS}, 0,
			`faccessat2(AT_FDCWD, "/tmp/x", R_OK, AT_EACCESS) = 0`},
		{"fchdir", unix.SYS_FCHDIR, [6]uintptr{3}, 0, `fchdir(3) = 0`},
		{"newfstatat empty path", unix.SYS_NEWFSTATAT, [6]uintptr{3, empty, 0, unix.AT_EMPTY_PATH}, errno(unix.EBADF),
			`newfstatat(3, "", NULL, AT_EMPTY_PATH) = -1 EBADF (Bad file descriptor)`},
	})
}

func TestOpenat2(t *testing.T) {
	m := newMem()
	p := m.str(0x1000, "/tmp/x")
	how := make([]byte, 24)
	binary.LittleEndian.PutUint64(how, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC)
	binary.LittleEndian.PutUint64(how[8:], 0o644)
	binary.LittleEndian.PutUint64(how[16:], unix.RESOLVE_BENEATH|unix.RESOLVE_NO_SYMLINKS|0x40)
	h := m.put(0x2000, how)
	run(t, m, []tcase{
		{"openat2", unix.SYS_OPENAT2, [6]uintptr{atFDCWDArg, p, h, 24}, 3,
			`openat2(AT_FDCWD, "/tmp/x", {flags=O_RDWR|O_CREAT|O_CLOEXEC, mode=0644, resolve=RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH|0x40}, 24) = 3`},
		{"openat2 small", unix.SYS_OPENAT2, [6]uintptr{3, p, h, 8}, errno(unix.EINVAL),
			`openat2(3, "/tmp/x", 0x2000, 8) = -1 EINVAL (Invalid argument)`},
		{"openat2 unreadable", unix.SYS_OPENAT2, [6]uintptr{3, p, badAddr, 24}, errno(unix.EFAULT),
			`openat2(3, "/tmp/x", 0xdead0000, 24) = -1 EFAULT (Bad address)`},
	})
}

func TestReadlinkGetcwd(t *testing.T) {
	m := newMem()
	link := m.str(0x1000, "/proc/self/exe")
	buf := m.put(0x2000, []byte("/usr/bin/true\x00garbage"))
	cwd := m.put(0x3000, []byte("/home/user\x00\x00\x00"))
	run(t, m, []tcase{
		{"readlink", unix.SYS_READLINK, [6]uintptr{link, buf, 4096}, 13, `readlink("/proc/self/exe", "/usr/bin/true", 4096) = 13`},
		{"readlinkat", unix.SYS_READLINKAT, [6]uintptr{atFDCWDArg, link, buf, 4}, 4, `readlinkat(AT_FDCWD, "/proc/self/exe", "/usr", 4) = 4`},
		{"readlink EINVAL", unix.SYS_READLINK, [6]uintptr{link, buf, 4096}, errno(unix.EINVAL),
			`readlink("/proc/self/exe", 0x2000, 4096) = -1 EINVAL (Invalid argument)`},
		{"getcwd", unix.SYS_GETCWD, [6]uintptr{cwd, 4096}, 11, `getcwd("/home/user", 4096) = 11`},
		{"getcwd ERANGE", unix.SYS_GETCWD, [6]uintptr{cwd, 2}, errno(unix.ERANGE),
			`getcwd(0x3000, 2) = -1 ERANGE (Numerical result out of range)`},
	})
}

func TestStat(t *testing.T) {
	m := newMem()
	p := m.str(0x1000, "/etc/hosts")
	st := make([]byte, 144)
	binary.LittleEndian.PutUint32(st[24:], unix.S_IFREG|0644)
	binary.LittleEndian.PutUint64(st[48:], 1234)
	stAddr := m.put(0x2000, st)
	dev := make([]byte, 144)
	binary.LittleEndian.PutUint32(dev[24:], unix.S_IFCHR|0666)
	binary.LittleEndian.PutUint64(dev[40:], unix.Mkdev(1, 3))
	devAddr := m.put(0x3000, dev)
	stx := make([]byte, 256)
	binary.LittleEndian.PutUint32(stx[0:], unix.STATX_BASIC_STATS|unix.STATX_MNT_ID)
	binary.LittleEndian.PutUint16(stx[28:], unix.S_IFDIR|0755)
	binary.LittleEndian.PutUint64(stx[40:], 4096)
	stxAddr := m.put(0x4000, stx)
	run(t, m, []tcase{
		{"fstat", unix.SYS_FSTAT, [6]uintptr{3, stAddr}, 0, `fstat(3, {st_mode=S_IFREG|0644, st_size=1234, ...}) = 0`},
		{"stat", unix.SYS_STAT, [6]uintptr{p, stAddr}, 0, `stat("/etc/hosts", {st_mode=S_IFREG|0644, st_size=1234, ...}) = 0`},
		{"lstat dev", unix.SYS_LSTAT, [6]uintptr{p, devAddr}, 0, `lstat("/etc/hosts", {st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x3), ...}) = 0`},
		{"stat failed", unix.SYS_STAT, [6]uintptr{p, stAddr}, errno(unix.ENOENT),
			`stat("/etc/hosts", 0x2000) = -1 ENOENT (No such file or directory)`},
		{"fstat unreadable", unix.SYS_FSTAT, [6]uintptr{3, badAddr}, 0, `fstat(3, 0xdead0000) = 0`},
		{"newfstatat", unix.SYS_NEWFSTATAT, [6]uintptr{atFDCWDArg, p, stAddr, unix.AT_SYMLINK_NOFOLLOW}, 0,
			`newfstatat(AT_FDCWD, "/etc/hosts", {st_mode=S_IFREG|0644, st_size=1234, ...}, AT_SYMLINK_NOFOLLOW) = 0`},
		{"statx", unix.SYS_STATX, [6]uintptr{atFDCWDArg, p, unix.AT_STATX_SYNC_AS_STAT | unix.AT_EMPTY_PATH, unix.STATX_BASIC_STATS, stxAddr}, 0,
			`statx(AT_FDCWD, "/etc/hosts", AT_STATX_SYNC_AS_STAT|AT_EMPTY_PATH, STATX_BASIC_STATS, {stx_mask=STATX_BASIC_STATS|STATX_MNT_ID, stx_attributes=0, stx_mode=S_IFDIR|0755, stx_size=4096, ...}) = 0`},
	})
}

func TestMemoryCalls(t *testing.T) {
	run(t, nil, []tcase{
		{"mmap file", unix.SYS_MMAP, [6]uintptr{0x7f0000001000, 1568768, unix.PROT_READ | unix.PROT_EXEC, unix.MAP_PRIVATE | unix.MAP_FIXED | unix.MAP_DENYWRITE, 3, 0x28000}, 0x7f0000001000,
			`mmap(0x7f0000001000, 1568768, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x28000) = 0x7f0000001000`},
		{"mmap ENOMEM", unix.SYS_MMAP, [6]uintptr{0, 1 << 40, unix.PROT_NONE, unix.MAP_SHARED | unix.MAP_ANONYMOUS | unix.MAP_NORESERVE, neg(-1), 0}, errno(unix.ENOMEM),
			`mmap(NULL, 1099511627776, PROT_NONE, MAP_SHARED|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0) = -1 ENOMEM (Cannot allocate memory)`},
		{"mmap hugetlb", unix.SYS_MMAP, [6]uintptr{0, 2 << 20, unix.PROT_READ, unix.MAP_PRIVATE | unix.MAP_ANONYMOUS | unix.MAP_HUGETLB | 21<<unix.MAP_HUGE_SHIFT, neg(-1), 0}, 0x7f0000000000,
			`mmap(NULL, 2097152, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|21<<MAP_HUGE_SHIFT, -1, 0) = 0x7f0000000000`},
		{"munmap", unix.SYS_MUNMAP, [6]uintptr{0x7f0000001000, 4096}, 0, `munmap(0x7f0000001000, 4096) = 0`},
		{"mprotect", unix.SYS_MPROTECT, [6]uintptr{0x7f0000001000, 4096, unix.PROT_NONE}, 0, `mprotect(0x7f0000001000, 4096, PROT_NONE) = 0`},
		{"mremap", unix.SYS_MREMAP, [6]uintptr{0x7f0000001000, 4096, 8192, unix.MREMAP_MAYMOVE}, 0x7f0000100000,
			`mremap(0x7f0000001000, 4096, 8192, MREMAP_MAYMOVE) = 0x7f0000100000`},
		{"mremap fixed", unix.SYS_MREMAP, [6]uintptr{0x7f0000001000, 4096, 8192, unix.MREMAP_MAYMOVE | unix.MREMAP_FIXED, 0x7f0000200000}, 0x7f0000200000,
			`mremap(0x7f0000001000, 4096, 8192, MREMAP_MAYMOVE|MREMAP_FIXED, 0x7f0000200000) = 0x7f0000200000`},
		{"madvise", unix.SYS_MADVISE, [6]uintptr{0x7f0000001000, 8192, unix.MADV_DONTNEED}, 0, `madvise(0x7f0000001000, 8192, MADV_DONTNEED) = 0`},
		{"madvise unknown", unix.SYS_MADVISE, [6]uintptr{0x7f0000001000, 8192, 99}, errno(unix.EINVAL),
			`madvise(0x7f0000001000, 8192, 0x63) = -1 EINVAL (Invalid argument)`},
	})
}

func TestProcessCalls(t *testing.T) {
	m := newMem()
	set := m.put(0x1000, u64s(1<<(unix.SIGCHLD-1)))
	old := m.put(0x1100, u64s(0))
	all := m.put(0x1200, u64s(^uint64(0)&^(1<<(32-1)|1<<(33-1))))
	act := m.put(0x2000, u64s(0x401000, 0x04000000|0x10000000|0x4, 0x402000, 1<<(unix.SIGINT-1)|1<<(unix.SIGTERM-1)))
	oldact := m.put(0x2100, u64s(0, 0, 0, 0))
	status := m.put(0x3000, u32s(3<<8))
	sigStatus := m.put(0x3100, u32s(uint32(unix.SIGSEGV)|0x80))
	tid := m.put(0x4000, u32s(4321))
	run(t, m, []tcase{
		{"getpid", unix.SYS_GETPID, [6]uintptr{}, 1234, `getpid() = 1234`},
		{"gettid", unix.SYS_GETTID, [6]uintptr{}, 1234, `gettid() = 1234`},
		{"getppid", unix.SYS_GETPPID, [6]uintptr{}, 1, `getppid() = 1`},
		{"getuid", unix.SYS_GETUID, [6]uintptr{}, 1000, `getuid() = 1000`},
		{"geteuid", unix.SYS_GETEUID, [6]uintptr{}, 0, `geteuid() = 0`},
		{"getgid", unix.SYS_GETGID, [6]uintptr{}, 1000, `getgid() = 1000`},
		{"getegid", unix.SYS_GETEGID, [6]uintptr{}, 1000, `getegid() = 1000`},
		{"sched_yield", unix.SYS_SCHED_YIELD, [6]uintptr{}, 0, `sched_yield() = 0`},
		{"kill", unix.SYS_KILL, [6]uintptr{1234, uintptr(unix.SIGTERM)}, 0, `kill(1234, SIGTERM) = 0`},
		{"kill group 0", unix.SYS_KILL, [6]uintptr{neg(-1234), 0}, errno(unix.ESRCH), `kill(-1234, 0) = -1 ESRCH (No such process)`},
		{"tgkill", unix.SYS_TGKILL, [6]uintptr{10, 11, uintptr(unix.SIGABRT)}, 0, `tgkill(10, 11, SIGABRT) = 0`},
		{"tkill rt", unix.SYS_TKILL, [6]uintptr{11, 33}, 0, `tkill(11, SIGRT_1) = 0`},
		{"tkill rtmin", unix.SYS_TKILL, [6]uintptr{11, 32}, 0, `tkill(11, SIGRTMIN) = 0`},
		{"rt_sigprocmask", unix.SYS_RT_SIGPROCMASK, [6]uintptr{unix.SIG_BLOCK, set, old, 8}, 0,
			`rt_sigprocmask(SIG_BLOCK, [CHLD], [], 8) = 0`},
		{"rt_sigprocmask complement", unix.SYS_RT_SIGPROCMASK, [6]uintptr{unix.SIG_SETMASK, all, 0, 8}, 0,
			`rt_sigprocmask(SIG_SETMASK, ~[RTMIN RT_1], NULL, 8) = 0`},
		{"rt_sigprocmask failed old not shown", unix.SYS_RT_SIGPROCMASK, [6]uintptr{99, set, old, 8}, errno(unix.EINVAL),
			`rt_sigprocmask(0x63, [CHLD], 0x1100, 8) = -1 EINVAL (Invalid argument)`},
		{"rt_sigaction", unix.SYS_RT_SIGACTION, [6]uintptr{uintptr(unix.SIGINT), act, oldact, 8}, 0,
			`rt_sigaction(SIGINT, {sa_handler=0x401000, sa_mask=[INT TERM], sa_flags=SA_RESTORER|SA_RESTART|SA_SIGINFO, sa_restorer=0x402000}, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8) = 0`},
		{"rt_sigaction query", unix.SYS_RT_SIGACTION, [6]uintptr{uintptr(unix.SIGKILL), 0, oldact, 8}, 0,
			`rt_sigaction(SIGKILL, NULL, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8) = 0`},
		{"wait4 exited", unix.SYS_WAIT4, [6]uintptr{neg(-1), status, 0, 0}, 4321,
			`wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 3}], 0, NULL) = 4321`},
		{"wait4 signaled", unix.SYS_WAIT4, [6]uintptr{4321, sigStatus, unix.WNOHANG | 0x40000000, 0}, 4321,
			`wait4(4321, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}], WNOHANG|__WALL, NULL) = 4321`},
		{"wait4 nothing", unix.SYS_WAIT4, [6]uintptr{neg(-1), status, unix.WNOHANG, 0}, 0,
			`wait4(-1, 0x3000, WNOHANG, NULL) = 0`},
		{"wait4 ECHILD", unix.SYS_WAIT4, [6]uintptr{neg(-1), status, 0, 0}, errno(unix.ECHILD),
			`wait4(-1, 0x3000, 0, NULL) = -1 ECHILD (No child processes)`},
		{"clone fork", unix.SYS_CLONE, [6]uintptr{unix.CLONE_CHILD_CLEARTID | unix.CLONE_CHILD_SETTID | uintptr(unix.SIGCHLD), 0, 0, 0x7f00000a10, 0}, 4321,
			`clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f00000a10) = 4321`},
		{"clone thread", unix.SYS_CLONE, [6]uintptr{
			unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM |
				unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID | unix.CLONE_CHILD_CLEARTID,
			0x7f0000fff000, tid, tid, 0x7f0000fff700}, 4321,
			`clone(child_stack=0x7f0000fff000, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, parent_tid=[4321], tls=0x7f0000fff700, child_tidptr=0x4000) = 4321`},
		{"clone failed", unix.SYS_CLONE, [6]uintptr{uintptr(unix.SIGCHLD)}, errno(unix.EAGAIN),
			`clone(child_stack=NULL, flags=SIGCHLD) = -1 EAGAIN (Resource temporarily unavailable)`},
		{"set_tid_address", unix.SYS_SET_TID_ADDRESS, [6]uintptr{tid}, 1234, `set_tid_address(0x4000) = 1234`},
		{"set_robust_list", unix.SYS_SET_ROBUST_LIST, [6]uintptr{0x7f0000000a20, 24}, 0, `set_robust_list(0x7f0000000a20, 24) = 0`},
		{"rseq", unix.SYS_RSEQ, [6]uintptr{0x7f0000001060, 32, 0, 0x53053053}, 0, `rseq(0x7f0000001060, 32, 0, 0x53053053) = 0`},
		{"arch_prctl", unix.SYS_ARCH_PRCTL, [6]uintptr{0x1002, 0x7f0000000740}, 0, `arch_prctl(ARCH_SET_FS, 0x7f0000000740) = 0`},
		{"arch_prctl bad", unix.SYS_ARCH_PRCTL, [6]uintptr{0x3001, 0x7ffc00000000}, errno(unix.EINVAL),
			`arch_prctl(0x3001, 0x7ffc00000000) = -1 EINVAL (Invalid argument)`},
	})
}

func TestExecve(t *testing.T) {
	m := newMem()
	path := m.str(0x1000, "/bin/ls")
	a0 := m.str(0x1100, "ls")
	a1 := m.str(0x1200, "-l")
	a2 := m.str(0x1300, strings.Repeat("x", 40))
	argv := m.put(0x2000, u64s(uint64(a0), uint64(a1), uint64(a2), 0))
	envp := m.put(0x3000, u64s(uint64(a0), uint64(a1), 0))
	env1 := m.put(0x3100, u64s(uint64(a0), 0))
	badArgv := m.put(0x4000, u64s(uint64(a0))) // no terminating NULL
	run(t, m, []tcase{
		{"execve", unix.SYS_EXECVE, [6]uintptr{path, argv, envp}, 0,
			`execve("/bin/ls", ["ls", "-l", "` + strings.Repeat("x", 32) + `"...], 0x3000 /* 2 vars */) = 0`},
		{"execve ENOENT", unix.SYS_EXECVE, [6]uintptr{path, argv, env1}, errno(unix.ENOENT),
			`execve("/bin/ls", ["ls", "-l", "` + strings.Repeat("x", 32) + `"...], 0x3100 /* 1 var */) = -1 ENOENT (No such file or directory)`},
		{"execve bad argv", unix.SYS_EXECVE, [6]uintptr{path, badArgv, 0}, errno(unix.EFAULT),
			`execve("/bin/ls", 0x4000, NULL) = -1 EFAULT (Bad address)`},
	})
	// A successful execve replaces the memory its arguments were in: they
	// are rendered at entry, the result after.
	if !AtEntry(unix.SYS_EXECVE) || !AtEntry(unix.SYS_EXECVEAT) || AtEntry(unix.SYS_READ) {
		t.Fatal("AtEntry: want execve and execveat only")
	}
	args := [6]uintptr{path, argv, envp}
	call := FormatCall(unix.SYS_EXECVE, args, 0, m)
	m.regions = map[uintptr][]byte{} // the new program's memory
	want := `execve("/bin/ls", ["ls", "-l", "` + strings.Repeat("x", 32) + `"...], 0x3000 /* 2 vars */) = 0`
	if got := call + FormatResult(unix.SYS_EXECVE, args, 0, m); got != want {
		t.Fatalf("execve rendered at entry:\n got  %s\n want %s", got, want)
	}
}

func TestFDCalls(t *testing.T) {
	m := newMem()
	fds := m.put(0x1000, u32s(3, 4))
	lk := m.put(0x2000, append(u32s(uint32(unix.F_WRLCK)|uint32(unix.SEEK_SET)<<16, 0), u64s(100, 0, 0)...))
	ws := m.put(0x3000, []byte{24, 0, 80, 0, 0, 0, 0, 0})
	one := m.put(0x3100, u32s(1))
	run(t, m, []tcase{
		{"dup", unix.SYS_DUP, [6]uintptr{1}, 3, `dup(1) = 3`},
		{"dup2", unix.SYS_DUP2, [6]uintptr{3, 1}, 1, `dup2(3, 1) = 1`},
		{"dup3", unix.SYS_DUP3, [6]uintptr{3, 1, unix.O_CLOEXEC}, 1, `dup3(3, 1, O_CLOEXEC) = 1`},
		{"pipe", unix.SYS_PIPE, [6]uintptr{fds}, 0, `pipe([3, 4]) = 0`},
		{"pipe2", unix.SYS_PIPE2, [6]uintptr{fds, unix.O_CLOEXEC | unix.O_NONBLOCK}, 0, `pipe2([3, 4], O_NONBLOCK|O_CLOEXEC) = 0`},
		{"pipe2 failed", unix.SYS_PIPE2, [6]uintptr{fds, 0}, errno(unix.EMFILE), `pipe2(0x1000, 0) = -1 EMFILE (Too many open files)`},
		{"lseek", unix.SYS_LSEEK, [6]uintptr{3, neg(-10), unix.SEEK_END}, 90, `lseek(3, -10, SEEK_END) = 90`},
		{"lseek set", unix.SYS_LSEEK, [6]uintptr{3, 0, unix.SEEK_SET}, 0, `lseek(3, 0, SEEK_SET) = 0`},
		{"fcntl getfd", unix.SYS_FCNTL, [6]uintptr{3, unix.F_GETFD}, 1, `fcntl(3, F_GETFD) = 0x1 (flags FD_CLOEXEC)`},
		{"fcntl getfd 0", unix.SYS_FCNTL, [6]uintptr{3, unix.F_GETFD}, 0, `fcntl(3, F_GETFD) = 0`},
		{"fcntl setfd", unix.SYS_FCNTL, [6]uintptr{3, unix.F_SETFD, unix.FD_CLOEXEC}, 0, `fcntl(3, F_SETFD, FD_CLOEXEC) = 0`},
		{"fcntl getfl", unix.SYS_FCNTL, [6]uintptr{3, unix.F_GETFL}, unix.O_RDWR | oLargefile, `fcntl(3, F_GETFL) = 0x8002 (flags O_RDWR|O_LARGEFILE)`},
		{"fcntl setfl", unix.SYS_FCNTL, [6]uintptr{0, unix.F_SETFL, unix.O_RDWR | unix.O_NONBLOCK}, 0, `fcntl(0, F_SETFL, O_RDWR|O_NONBLOCK) = 0`},
		{"fcntl dupfd_cloexec", unix.SYS_FCNTL, [6]uintptr{3, unix.F_DUPFD_CLOEXEC, 10}, 10, `fcntl(3, F_DUPFD_CLOEXEC, 10) = 10`},
		{"fcntl setlk", unix.SYS_FCNTL, [6]uintptr{3, unix.F_SETLK, lk}, 0,
			`fcntl(3, F_SETLK, {l_type=F_WRLCK, l_whence=SEEK_SET, l_start=100, l_len=0}) = 0`},
		{"fcntl bad fd", unix.SYS_FCNTL, [6]uintptr{99, unix.F_GETFD}, errno(unix.EBADF), `fcntl(99, F_GETFD) = -1 EBADF (Bad file descriptor)`},
		{"ioctl TIOCGWINSZ", unix.SYS_IOCTL, [6]uintptr{1, unix.TIOCGWINSZ, ws}, 0,
			`ioctl(1, TIOCGWINSZ, {ws_row=24, ws_col=80, ws_xpixel=0, ws_ypixel=0}) = 0`},
		{"ioctl TCGETS ENOTTY", unix.SYS_IOCTL, [6]uintptr{3, unix.TCGETS, 0x7ffc0000}, errno(unix.ENOTTY),
			`ioctl(3, TCGETS, 0x7ffc0000) = -1 ENOTTY (Inappropriate ioctl for device)`},
		{"ioctl FIOCLEX", unix.SYS_IOCTL, [6]uintptr{3, 0x5451}, 0, `ioctl(3, FIOCLEX) = 0`},
		{"ioctl FIONBIO", unix.SYS_IOCTL, [6]uintptr{3, 0x5421, one}, 0, `ioctl(3, FIONBIO, [1]) = 0`},
		{"ioctl unknown", unix.SYS_IOCTL, [6]uintptr{3, 0xc0186201, 0x1000}, 0, `ioctl(3, 0xc0186201, 0x1000) = 0`},
	})
}

func TestIovecs(t *testing.T) {
	m := newMem()
	b1 := m.put(0x1000, []byte("hello "))
	b2 := m.put(0x2000, []byte("world\n"))
	iov := m.put(0x3000, u64s(uint64(b1), 6, uint64(b2), 6))
	badIov := m.put(0x4000, u64s(uint64(b1), 6)) // only one of two
	run(t, m, []tcase{
		{"writev", unix.SYS_WRITEV, [6]uintptr{1, iov, 2}, 12,
			`writev(1, [{iov_base="hello ", iov_len=6}, {iov_base="world\n", iov_len=6}], 2) = 12`},
		{"readv partial", unix.SYS_READV, [6]uintptr{3, iov, 2}, 8,
			`readv(3, [{iov_base="hello ", iov_len=6}, {iov_base="wo", iov_len=6}], 2) = 8`},
		{"readv failed", unix.SYS_READV, [6]uintptr{3, iov, 2}, errno(unix.EBADF),
			`readv(3, [{iov_base=0x1000, iov_len=6}, {iov_base=0x2000, iov_len=6}], 2) = -1 EBADF (Bad file descriptor)`},
		{"writev unreadable array", unix.SYS_WRITEV, [6]uintptr{1, badIov, 2}, errno(unix.EFAULT),
			`writev(1, 0x4000, 2) = -1 EFAULT (Bad address)`},
	})
}

func TestTimeAndInfo(t *testing.T) {
	m := newMem()
	ts := m.put(0x1000, u64s(1, 500))
	tv := m.put(0x1100, u64s(1700000000, 123456))
	tt := m.put(0x1200, u64s(1700000000))
	rl := m.put(0x2000, u64s(8192*1024, ^uint64(0)))
	rl2 := m.put(0x2100, u64s(1024, 4096))
	rl3 := m.put(0x2200, u64s(1000, 0))
	uts := make([]byte, 6*65)
	copy(uts, "Linux")
	copy(uts[65:], "moat")
	utsAddr := m.put(0x3000, uts)
	si := make([]byte, 112)
	copy(si, u64s(100, 1, 2, 3, 1<<30, 1<<29, 0, 0, 0, 0))
	binary.LittleEndian.PutUint16(si[80:], 7)
	binary.LittleEndian.PutUint32(si[104:], 1)
	siAddr := m.put(0x4000, si)
	cpus := m.put(0x5000, []byte{0x0f, 0, 0, 0, 0, 0, 0, 0})
	groups := m.put(0x6000, u32s(4, 24, 27))
	rnd := m.put(0x7000, []byte{1, 2, 3, 'a'})
	dents := make([]byte, 0, 72)
	for _, reclen := range []uint16{24, 24, 24} {
		d := make([]byte, reclen)
		binary.LittleEndian.PutUint16(d[16:], reclen)
		dents = append(dents, d...)
	}
	dentsAddr := m.put(0x8000, dents)
	run(t, m, []tcase{
		{"clock_gettime", unix.SYS_CLOCK_GETTIME, [6]uintptr{unix.CLOCK_MONOTONIC, ts}, 0,
			`clock_gettime(CLOCK_MONOTONIC, {tv_sec=1, tv_nsec=500}) = 0`},
		{"clock_gettime failed", unix.SYS_CLOCK_GETTIME, [6]uintptr{99, ts}, errno(unix.EINVAL),
			`clock_gettime(99, 0x1000) = -1 EINVAL (Invalid argument)`},
		{"clock_getres", unix.SYS_CLOCK_GETRES, [6]uintptr{unix.CLOCK_REALTIME, ts}, 0,
			`clock_getres(CLOCK_REALTIME, {tv_sec=1, tv_nsec=500}) = 0`},
		{"nanosleep", unix.SYS_NANOSLEEP, [6]uintptr{ts, 0}, 0, `nanosleep({tv_sec=1, tv_nsec=500}, NULL) = 0`},
		{"nanosleep interrupted", unix.SYS_NANOSLEEP, [6]uintptr{ts, ts}, errno(unix.EINTR),
			`nanosleep({tv_sec=1, tv_nsec=500}, {tv_sec=1, tv_nsec=500}) = -1 EINTR (Interrupted system call)`},
		{"nanosleep rem untouched", unix.SYS_NANOSLEEP, [6]uintptr{ts, 0x1100}, 0,
			`nanosleep({tv_sec=1, tv_nsec=500}, 0x1100) = 0`},
		{"clock_nanosleep", unix.SYS_CLOCK_NANOSLEEP, [6]uintptr{unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, ts, 0}, 0,
			`clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, {tv_sec=1, tv_nsec=500}, NULL) = 0`},
		{"clock_nanosleep restart", unix.SYS_CLOCK_NANOSLEEP, [6]uintptr{unix.CLOCK_REALTIME, 0, ts, ts}, errno(516),
			`clock_nanosleep(CLOCK_REALTIME, 0, {tv_sec=1, tv_nsec=500}, {tv_sec=1, tv_nsec=500}) = ? ERESTART_RESTARTBLOCK (Interrupted by signal)`},
		{"gettimeofday", unix.SYS_GETTIMEOFDAY, [6]uintptr{tv, 0}, 0,
			`gettimeofday({tv_sec=1700000000, tv_usec=123456}, NULL) = 0`},
		{"time", unix.SYS_TIME, [6]uintptr{tt}, 1700000000, `time([1700000000]) = 1700000000`},
		{"time NULL", unix.SYS_TIME, [6]uintptr{0}, 1700000000, `time(NULL) = 1700000000`},
		{"prlimit64", unix.SYS_PRLIMIT64, [6]uintptr{0, unix.RLIMIT_STACK, 0, rl}, 0,
			`prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0`},
		{"prlimit64 set", unix.SYS_PRLIMIT64, [6]uintptr{1234, unix.RLIMIT_NOFILE, rl2, 0}, 0,
			`prlimit64(1234, RLIMIT_NOFILE, {rlim_cur=1*1024, rlim_max=4*1024}, NULL) = 0`},
		{"getrlimit", unix.SYS_GETRLIMIT, [6]uintptr{unix.RLIMIT_STACK, rl}, 0,
			`getrlimit(RLIMIT_STACK, {rlim_cur=8192*1024, rlim_max=RLIM_INFINITY}) = 0`},
		{"setrlimit", unix.SYS_SETRLIMIT, [6]uintptr{unix.RLIMIT_CORE, rl3}, 0,
			`setrlimit(RLIMIT_CORE, {rlim_cur=1000, rlim_max=0}) = 0`},
		{"uname", unix.SYS_UNAME, [6]uintptr{utsAddr}, 0, `uname({sysname="Linux", nodename="moat", ...}) = 0`},
		{"sysinfo", unix.SYS_SYSINFO, [6]uintptr{siAddr}, 0,
			`sysinfo({uptime=100, loads=[1, 2, 3], totalram=1073741824, freeram=536870912, sharedram=0, bufferram=0, totalswap=0, freeswap=0, procs=7, totalhigh=0, freehigh=0, mem_unit=1}) = 0`},
		{"sched_getaffinity", unix.SYS_SCHED_GETAFFINITY, [6]uintptr{0, 128, cpus}, 8,
			`sched_getaffinity(0, 128, [0 1 2 3]) = 8`},
		{"getgroups query", unix.SYS_GETGROUPS, [6]uintptr{0, 0}, 3, `getgroups(0, NULL) = 3`},
		{"getgroups", unix.SYS_GETGROUPS, [6]uintptr{3, groups}, 3, `getgroups(3, [4, 24, 27]) = 3`},
		{"getrandom", unix.SYS_GETRANDOM, [6]uintptr{rnd, 4, unix.GRND_NONBLOCK}, 4,
			`getrandom("\1\2\3a", 4, GRND_NONBLOCK) = 4`},
		{"umask", unix.SYS_UMASK, [6]uintptr{022}, 02, `umask(022) = 02`},
		{"umask zero", unix.SYS_UMASK, [6]uintptr{0777}, 0, `umask(0777) = 0`},
		{"getdents64", unix.SYS_GETDENTS64, [6]uintptr{3, dentsAddr, 32768}, 72,
			`getdents64(3, 0x8000 /* 3 entries */, 32768) = 72`},
		{"getdents64 end", unix.SYS_GETDENTS64, [6]uintptr{3, dentsAddr, 32768}, 0,
			`getdents64(3, 0x8000 /* 0 entries */, 32768) = 0`},
	})
}

func TestSockets(t *testing.T) {
	m := newMem()
	in4 := m.put(0x1000, []byte{2, 0, 0, 80, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	un := m.put(0x2000, append([]byte{1, 0}, "/run/sock\x00"...))
	abstract := m.put(0x3000, append([]byte{1, 0, 0}, "name"...))
	in6 := make([]byte, 28)
	in6[0] = 10
	in6[2], in6[3] = 0x01, 0xbb
	in6[23] = 1
	in6Addr := m.put(0x4000, in6)
	run(t, m, []tcase{
		{"socket", unix.SYS_SOCKET, [6]uintptr{unix.AF_INET, unix.SOCK_STREAM | unix.SOCK_CLOEXEC, 0}, 3,
			`socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0) = 3`},
		{"connect inet", unix.SYS_CONNECT, [6]uintptr{3, in4, 16}, errno(unix.ECONNREFUSED),
			`connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 ECONNREFUSED (Connection refused)`},
		{"connect unix", unix.SYS_CONNECT, [6]uintptr{3, un, 12}, 0,
			`connect(3, {sa_family=AF_UNIX, sun_path="/run/sock"}, 12) = 0`},
		{"bind abstract", unix.SYS_BIND, [6]uintptr{3, abstract, 7}, 0,
			`bind(3, {sa_family=AF_UNIX, sun_path=@"name"}, 7) = 0`},
		{"connect inet6", unix.SYS_CONNECT, [6]uintptr{3, in6Addr, 28}, 0,
			`connect(3, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0`},
	})
}

func TestFutex(t *testing.T) {
	m := newMem()
	ts := m.put(0x1000, u64s(0, 1000))
	run(t, m, []tcase{
		{"wake", unix.SYS_FUTEX, [6]uintptr{0x7f0000000010, 1 | 128, 1}, 0, `futex(0x7f0000000010, FUTEX_WAKE_PRIVATE, 1) = 0`},
		{"wait", unix.SYS_FUTEX, [6]uintptr{0x7f0000000010, 0 | 128, 2, 0}, errno(unix.EAGAIN),
			`futex(0x7f0000000010, FUTEX_WAIT_PRIVATE, 2, NULL) = -1 EAGAIN (Resource temporarily unavailable)`},
		{"wait_bitset", unix.SYS_FUTEX, [6]uintptr{0x7f0000000010, 9 | 128 | 256, 0, ts, 0, 0xffffffff}, errno(unix.ETIMEDOUT),
			`futex(0x7f0000000010, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME, 0, {tv_sec=0, tv_nsec=1000}, FUTEX_BITSET_MATCH_ANY) = -1 ETIMEDOUT (Connection timed out)`},
	})
}

func TestUnknownAndUndecoded(t *testing.T) {
	run(t, nil, []tcase{
		{"unassigned", 400, [6]uintptr{1, 0, 0x7fff, 3, 4, 5}, errno(unix.ENOSYS),
			`syscall_400(0x1, 0, 0x7fff, 0x3, 0x4, 0x5) = -1 ENOSYS (Function not implemented)`},
		{"beyond table", 1000, [6]uintptr{}, errno(unix.ENOSYS),
			`syscall_1000(0, 0, 0, 0, 0, 0) = -1 ENOSYS (Function not implemented)`},
		{"named but undecoded", unix.SYS_BPF, [6]uintptr{5, 0x1000, 0x90}, 3,
			`bpf(0x5, 0x1000, 0x90, 0, 0, 0) = 3`},
		{"unknown errno", 400, [6]uintptr{}, errno(200),
			`syscall_400(0, 0, 0, 0, 0, 0) = -1 errno_200 (Unknown error 200)`},
		{"restart", unix.SYS_READ, [6]uintptr{0, 0x1000, 10}, errno(512),
			`read(0, 0x1000, 10) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)`},
		{"large value is not an error", unix.SYS_LSEEK, [6]uintptr{3, 0, unix.SEEK_CUR}, errno(4096),
			`lseek(3, 0, SEEK_CUR) = -4096`},
	})
}

func TestNilMemory(t *testing.T) {
	run(t, nil, []tcase{
		{"openat", unix.SYS_OPENAT, [6]uintptr{atFDCWDArg, 0x1000, unix.O_RDONLY}, 3, `openat(AT_FDCWD, 0x1000, O_RDONLY) = 3`},
		{"read", unix.SYS_READ, [6]uintptr{3, 0x2000, 10}, 10, `read(3, 0x2000, 10) = 10`},
		{"fstat", unix.SYS_FSTAT, [6]uintptr{3, 0x3000}, 0, `fstat(3, 0x3000) = 0`},
	})
}

func TestFlagsHelpers(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{openFlags(0), "O_RDONLY"},
		{openFlags(3), "0x3"},
		{openFlags(unix.O_WRONLY | unix.O_DSYNC), "O_WRONLY|O_DSYNC"},
		{openFlags(unix.O_RDONLY | unix.O_PATH | unix.O_NOFOLLOW), "O_RDONLY|O_NOFOLLOW|O_PATH"},
		{prot(unix.PROT_READ | 0x100), "PROT_READ|0x100"},
		{mmapFlags(unix.MAP_SHARED_VALIDATE | unix.MAP_SYNC), "MAP_SHARED_VALIDATE|MAP_SYNC"},
		{mmapFlags(0), "0"},
		{cloneFlags(0), "0"},
		{signalName(0), "0"},
		{signalName(64), "SIGRT_32"},
		{signalName(65), "65"},
		{clockID(uint64(^uint32(0) - 9)), "-10"},
		{fileMode(unix.S_IFLNK | 0777), "S_IFLNK|0777"},
		{octal(0), "000"},
		{octal(04755), "04755"},
		{waitStatusString(0x137f), "[{WIFSTOPPED(s) && WSTOPSIG(s) == SIGSTOP}]"},
		{waitStatusString(0xffff), "[{WIFCONTINUED(s)}]"},
		{sigsetString(0, 64), "[]"},
		{sigsetString(^uint64(0), 64), "~[]"},
		{futexOp(99), "0x63"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestTableNames checks that every table entry is a real system call and
// that no entry claims more than six arguments.
func TestTableNames(t *testing.T) {
	for nr, s := range table {
		if name := Format(nr, [6]uintptr{}, 0, nil); strings.HasPrefix(name, "syscall_") {
			t.Errorf("table entry %d has no name", nr)
		}
		if len(s.args) > 6 {
			t.Errorf("table entry %d has %d args", nr, len(s.args))
		}
	}
}

// TestReadsAreBounded makes sure a huge length does not make Format read
// (or allocate) the whole buffer.
func TestReadsAreBounded(t *testing.T) {
	m := newMem()
	buf := m.put(0x1000, []byte(strings.Repeat("z", 64)))
	got := Format(unix.SYS_WRITE, [6]uintptr{1, buf, 1 << 40}, errno(unix.EFAULT), m)
	want := `write(1, "` + strings.Repeat("z", 32) + `"..., 1099511627776) = -1 EFAULT (Bad address)`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestNoPanics feeds every decoder pointers into random memory, bogus
// lengths and assorted results; formatting must never panic and must
// always produce "name(...) = result".
func TestNoPanics(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := newMem()
	junk := make([]byte, 1<<16)
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	base := m.put(0x100000, junk)
	rets := []uintptr{0, 1, 8, 72, 4096, 1 << 20, errno(unix.EINTR), errno(512), ^uintptr(0)}
	for nr := range table {
		for iter := 0; iter < 50; iter++ {
			var args [6]uintptr
			for i := range args {
				switch rng.IntN(4) {
				case 0:
					args[i] = base + uintptr(rng.IntN(len(junk)))
				case 1:
					args[i] = uintptr(rng.IntN(64))
				case 2:
					args[i] = uintptr(rng.Uint64())
				default:
					args[i] = 0
				}
			}
			ret := rets[rng.IntN(len(rets))]
			s := Format(nr, args, ret, m)
			if !strings.Contains(s, "(") || !strings.Contains(s, ") = ") {
				t.Fatalf("malformed output for %d: %q", nr, s)
			}
		}
	}
}
