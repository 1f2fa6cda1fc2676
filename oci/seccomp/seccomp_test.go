package seccomp

import (
	"encoding/json"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/bpf"
)

func uintp(v uint) *uint { return &v }

// run builds s and runs the program on one call.
func run(t *testing.T, s *specs.LinuxSeccomp, arch uint32, nr uint32, args ...uint64) uint32 {
	t.Helper()
	prog, err := Build(s)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	p, err := bpf.Compile(prog)
	if err != nil {
		t.Fatalf("the built program is refused as seccomp(2) would refuse it: %v", err)
	}
	d := linux.SeccompData{Nr: int32(nr), Arch: arch}
	copy(d.Args[:], args)
	w := bpf.MakeData(d)
	return p.Run(&w)
}

const x64 = linux.AUDIT_ARCH_X86_64

func errno(e unix.Errno) uint32 { return linux.SECCOMP_RET_ERRNO | uint32(e) }

func TestDefaultAndNames(t *testing.T) {
	s := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: uintp(uint(unix.ENOSYS)),
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "no_such_call", "exit_group"}, Action: specs.ActAllow},
			{Names: []string{"getpid"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EACCES))},
			{Names: []string{"kill"}, Action: specs.ActErrno},
			{Names: []string{"ptrace"}, Action: specs.ActKillProcess},
			{Names: []string{"uname"}, Action: specs.ActTrap},
			{Names: []string{"getppid"}, Action: specs.ActLog},
			{Names: []string{"gettid"}, Action: specs.ActKill},
			{Names: []string{"getuid"}, Action: specs.ActTrace},
		},
	}
	cases := []struct {
		nr   uint32
		want uint32
	}{
		{unix.SYS_READ, linux.SECCOMP_RET_ALLOW},
		{unix.SYS_WRITE, linux.SECCOMP_RET_ALLOW},
		{unix.SYS_EXIT_GROUP, linux.SECCOMP_RET_ALLOW},
		{unix.SYS_OPENAT, errno(unix.ENOSYS)},
		{unix.SYS_GETPID, errno(unix.EACCES)},
		{unix.SYS_KILL, errno(unix.EPERM)},
		{unix.SYS_PTRACE, linux.SECCOMP_RET_KILL_PROCESS},
		{unix.SYS_UNAME, linux.SECCOMP_RET_TRAP},
		{unix.SYS_GETPPID, linux.SECCOMP_RET_LOG},
		{unix.SYS_GETTID, linux.SECCOMP_RET_KILL_THREAD},
		{unix.SYS_GETUID, linux.SECCOMP_RET_TRACE | uint32(unix.EPERM)},
		{1000, errno(unix.ENOSYS)},
	}
	for _, c := range cases {
		if got := run(t, s, x64, c.nr); got != c.want {
			t.Errorf("nr %d: %#x, want %#x", c.nr, got, c.want)
		}
	}
	// Other architectures and x32 calls (not listed) are killed.
	if got := run(t, s, linux.AUDIT_ARCH_I386, 3); got != linux.SECCOMP_RET_KILL_THREAD {
		t.Errorf("i386 call: %#x, want KILL_THREAD", got)
	}
	if got := run(t, s, x64, linux.X32_SYSCALL_BIT|unix.SYS_READ); got != linux.SECCOMP_RET_KILL_THREAD {
		t.Errorf("x32 call: %#x, want KILL_THREAD", got)
	}
}

// TestManySyscalls builds an allow-list of every x86-64 call but a few,
// as container profiles are: the binary search must find each.
func TestManySyscalls(t *testing.T) {
	var names []string
	for nr, n := range linux.SyscallNames {
		if n != "" && nr%7 != 3 {
			names = append(names, n)
		}
	}
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{{Names: names, Action: specs.ActAllow}}}
	prog, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d calls: %d instructions", len(names), len(prog))
	for nr, n := range linux.SyscallNames {
		want := uint32(linux.SECCOMP_RET_ALLOW)
		if n == "" || nr%7 == 3 {
			want = errno(unix.EPERM)
		}
		if got := run(t, s, x64, uint32(nr)); got != want {
			t.Errorf("%d %s: %#x, want %#x", nr, n, got, want)
		}
	}
}

func TestArguments(t *testing.T) {
	const big = 0x1_0000_0005 // high halves differ from small values
	rule := func(op specs.LinuxSeccompOperator, v, v2 uint64) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{
			Names: []string{"mmap"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 2, Value: v, ValueTwo: v2, Op: op}},
		}}}
	}
	cases := []struct {
		op     specs.LinuxSeccompOperator
		v, v2  uint64
		arg    uint64
		denied bool
	}{
		{specs.OpEqualTo, 5, 0, 5, true},
		{specs.OpEqualTo, 5, 0, big, false},
		{specs.OpEqualTo, big, 0, 5, false},
		{specs.OpEqualTo, big, 0, big, true},
		{specs.OpNotEqual, 5, 0, big, true},
		{specs.OpNotEqual, big, 0, big, false},
		{specs.OpNotEqual, big, 0, 5, true},
		{specs.OpGreaterThan, 5, 0, big, true},
		{specs.OpGreaterThan, big, 0, 6, false},
		{specs.OpGreaterThan, big, 0, big, false},
		{specs.OpGreaterThan, big, 0, big + 1, true},
		{specs.OpGreaterEqual, big, 0, big, true},
		{specs.OpGreaterEqual, big, 0, 0xffffffff, false},
		{specs.OpLessThan, big, 0, 0xffffffff, true},
		{specs.OpLessThan, big, 0, big, false},
		{specs.OpLessThan, 5, 0, big, false},
		{specs.OpLessThan, 5, 0, 4, true},
		{specs.OpLessEqual, big, 0, big, true},
		{specs.OpLessEqual, big, 0, big + 1, false},
		{specs.OpLessEqual, big, 0, 1 << 33, false},
		{specs.OpMaskedEqual, 0xff00000003, 0x1200000001, 0x12_0000_0005, true},
		{specs.OpMaskedEqual, 0xff00000003, 0x1200000001, 0x13_0000_0005, false},
		{specs.OpMaskedEqual, 0xff00000003, 0x1200000001, 0x12_0000_0006, false},
	}
	for _, c := range cases {
		want := uint32(linux.SECCOMP_RET_ALLOW)
		if c.denied {
			want = errno(unix.EPERM)
		}
		if got := run(t, rule(c.op, c.v, c.v2), x64, unix.SYS_MMAP, 0, 0, c.arg); got != want {
			t.Errorf("%s %#x (%#x), arg %#x: %#x, want %#x", c.op, c.v, c.v2, c.arg, got, want)
		}
		// Another call is never affected.
		if got := run(t, rule(c.op, c.v, c.v2), x64, unix.SYS_MUNMAP, 0, 0, c.arg); got != linux.SECCOMP_RET_ALLOW {
			t.Errorf("%s: munmap: %#x", c.op, got)
		}
	}
}

func TestRuleOrderAndCombination(t *testing.T) {
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"personality"}, Action: specs.ActAllow},
		// Conditions of one rule must all hold.
		{Names: []string{"personality", "clone"}, Action: specs.ActTrap, Args: []specs.LinuxSeccompArg{
			{Index: 0, Value: 8, Op: specs.OpEqualTo}, {Index: 1, Value: 9, Op: specs.OpEqualTo}}},
		// Two conditions on one argument: either suffices (runc's rule).
		{Names: []string{"socket"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
			{Index: 0, Value: unix.AF_UNIX, Op: specs.OpEqualTo}, {Index: 0, Value: unix.AF_INET, Op: specs.OpEqualTo}}},
	}}
	cases := []struct {
		nr   uint32
		args []uint64
		want uint32
	}{
		{unix.SYS_PERSONALITY, []uint64{8, 9}, linux.SECCOMP_RET_TRAP},
		{unix.SYS_PERSONALITY, []uint64{8, 1}, linux.SECCOMP_RET_ALLOW},
		{unix.SYS_CLONE, []uint64{8, 9}, linux.SECCOMP_RET_TRAP},
		{unix.SYS_CLONE, []uint64{8}, errno(unix.EPERM)},
		{unix.SYS_SOCKET, []uint64{unix.AF_UNIX}, linux.SECCOMP_RET_ALLOW},
		{unix.SYS_SOCKET, []uint64{unix.AF_INET}, linux.SECCOMP_RET_ALLOW},
		{unix.SYS_SOCKET, []uint64{unix.AF_INET6}, errno(unix.EPERM)},
	}
	for _, c := range cases {
		if got := run(t, s, x64, c.nr, c.args...); got != c.want {
			t.Errorf("nr %d %v: %#x, want %#x", c.nr, c.args, got, c.want)
		}
	}
}

func TestArchitectures(t *testing.T) {
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"getpid", "rt_sigaction", "socketcall"}, Action: specs.ActErrno}}}
	cases := []struct {
		arch, nr uint32
		want     uint32
	}{
		{x64, unix.SYS_GETPID, errno(unix.EPERM)},
		{x64, unix.SYS_RT_SIGACTION, errno(unix.EPERM)},
		{x64, unix.SYS_GETPPID, linux.SECCOMP_RET_ALLOW},
		{linux.AUDIT_ARCH_I386, 20, errno(unix.EPERM)},  // i386 getpid
		{linux.AUDIT_ARCH_I386, 102, errno(unix.EPERM)}, // socketcall
		{linux.AUDIT_ARCH_I386, 39, linux.SECCOMP_RET_ALLOW},
		{x64, linux.X32_SYSCALL_BIT | unix.SYS_GETPID, errno(unix.EPERM)},
		{x64, linux.X32_SYSCALL_BIT | 512, errno(unix.EPERM)}, // x32 rt_sigaction
		{x64, linux.X32_SYSCALL_BIT | unix.SYS_RT_SIGACTION, linux.SECCOMP_RET_ALLOW},
		{0xc00000b7, 172, linux.SECCOMP_RET_KILL_THREAD}, // aarch64 cannot be checked in moat
	}
	for _, c := range cases {
		if got := run(t, s, c.arch, c.nr); got != c.want {
			t.Errorf("arch %#x nr %#x: %#x, want %#x", c.arch, c.nr, got, c.want)
		}
	}
}

func TestRefused(t *testing.T) {
	cases := map[string]string{
		"notify":         `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOTIFY"}]}`,
		"listener":       `{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/l.sock"}`,
		"unknown action": `{"defaultAction":"SCMP_ACT_SOMETIMES"}`,
		"errnoRet":       `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_KILL","errnoRet":1}]}`,
		"operator":       `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_ABOUT"}]}]}`,
		"index":          `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}`,
		"flag":           `{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_NOPE"]}`,
	}
	for name, js := range cases {
		var s specs.LinuxSeccomp
		if err := json.Unmarshal([]byte(js), &s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := Build(&s); err == nil {
			t.Errorf("%s: Build accepted %s", name, js)
		}
	}
	if prog, err := Build(nil); prog != nil || err != nil {
		t.Errorf("Build(nil) = %v, %v; want nothing", prog, err)
	}
}

// TestRanges: neighbouring calls that end alike are one range, so a
// container engine's allow-list of hundreds of calls stays far under the
// kernel's 4096-instruction limit.
func TestRanges(t *testing.T) {
	var names []string
	for nr, n := range linux.SyscallNames {
		if n != "" && nr != 165 && nr != 166 { // all but mount and umount2
			names = append(names, n)
		}
	}
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{{Names: names, Action: specs.ActAllow}}}
	prog, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) > 64 {
		t.Errorf("%d calls allowed in few ranges: %d instructions, want at most 64", len(names), len(prog))
	}
	for _, nr := range []uint32{0, 164, 165, 166, 167, 300} {
		want := uint32(linux.SECCOMP_RET_ALLOW)
		if nr == 165 || nr == 166 {
			want = errno(unix.EPERM)
		}
		if got := run(t, s, x64, nr); got != want {
			t.Errorf("%d: %#x, want %#x", nr, got, want)
		}
	}
}
