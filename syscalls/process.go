package syscalls

import (
	"runtime"

	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/arch"
	"moat/kernel"
)

func sysExit(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, t.Exit(int(a[0]))
}

func sysExitGroup(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, t.ExitGroup(int(a[0]))
}

// The sandbox's first process is pid 1 of its PID namespace; its parent is
// outside the namespace, so getppid returns 0 there, as for a container's
// init.
func sysGetpid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error)  { return uintptr(t.TGID()), nil }
func sysGettid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error)  { return uintptr(t.TID()), nil }
func sysGetppid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) { return uintptr(t.PPID()), nil }

func sysGetuid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return uintptr(t.Creds().UID), nil
}
func sysGeteuid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return uintptr(t.Creds().EUID), nil
}
func sysGetgid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return uintptr(t.Creds().GID), nil
}
func sysGetegid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return uintptr(t.Creds().EGID), nil
}

func sysGetgroups(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	groups := t.Creds().Groups
	size := int32(a[0])
	if size < 0 {
		return 0, unix.EINVAL
	}
	if size == 0 {
		return uintptr(len(groups)), nil
	}
	if int(size) < len(groups) {
		return 0, unix.EINVAL
	}
	b := make([]byte, 4*len(groups))
	for i, g := range groups {
		le.PutUint32(b[4*i:], g)
	}
	return uintptr(len(groups)), copyOut(t, a[1], b)
}

func sysUname(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	u := t.Kernel().Utsname()
	b := make([]byte, 6*65)
	for i, s := range []string{u.Sysname, u.Nodename, u.Release, u.Version, u.Machine, u.Domainname} {
		copy(b[i*65:i*65+64], s)
	}
	return 0, copyOut(t, a[0], b)
}

// arch_prctl codes.
const (
	archSetGS = 0x1001
	archSetFS = 0x1002
	archGetFS = 0x1003
	archGetGS = 0x1004
)

func sysArchPrctl(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	regs := t.Regs()
	switch a[0] {
	case archSetFS, archSetGS:
		if a[1] >= taskSize {
			return 0, unix.EPERM
		}
		if a[0] == archSetFS {
			regs.Fs_base = uint64(a[1])
		} else {
			regs.Gs_base = uint64(a[1])
		}
		return 0, nil
	case archGetFS:
		return 0, putU64(t, a[1], regs.Fs_base)
	case archGetGS:
		return 0, putU64(t, a[1], regs.Gs_base)
	}
	return 0, unix.EINVAL
}

func sysSetTidAddress(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	t.SetClearChildTID(a[0])
	return uintptr(t.TID()), nil
}

// robustListHeadSize is sizeof(struct robust_list_head).
const robustListHeadSize = 24

func sysSetRobustList(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if a[1] != robustListHeadSize {
		return 0, unix.EINVAL
	}
	t.SetRobustList(a[0])
	return 0, nil
}

func sysGetRobustList(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	target := t
	if pid := int32(a[0]); pid != 0 {
		if target = t.Kernel().Task(pid); target == nil {
			return 0, unix.ESRCH
		}
		if c, tc := t.Creds(), target.Creds(); !c.HasCap(linux.CAP_SYS_PTRACE) && (c.UID != tc.UID || c.UID != tc.EUID || c.UID != tc.SUID) {
			return 0, unix.EPERM // ptrace_may_access's uid rule
		}
	}
	if err := putU64(t, a[1], uint64(target.RobustList())); err != nil {
		return 0, err
	}
	return 0, putU64(t, a[2], robustListHeadSize)
}

func sysUmask(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return uintptr(t.SetUmask(uint32(a[0]))), nil
}

// rlimit returns the limit for resource r, or EINVAL.
func rlimitIndex(r uintptr) (int, error) {
	if r >= 16 {
		return 0, unix.EINVAL
	}
	return int(r), nil
}

func encodeRlimit(l kernel.Rlimit) []byte {
	b := make([]byte, 16)
	le.PutUint64(b, l.Cur)
	le.PutUint64(b[8:], l.Max)
	return b
}

func sysGetrlimit(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	r, err := rlimitIndex(a[0])
	if err != nil {
		return 0, err
	}
	return 0, copyOut(t, a[1], encodeRlimit(t.Limits().Get(r)))
}

func sysSetrlimit(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return sysPrlimit64(t, arch.SyscallArgs{0, a[0], a[1], 0})
}

func sysPrlimit64(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if pid := int32(a[0]); pid != 0 && pid != t.TGID() {
		return 0, unix.ESRCH
	}
	r, err := rlimitIndex(a[1])
	if err != nil {
		return 0, err
	}
	var newLim *kernel.Rlimit
	if a[2] != 0 {
		b := make([]byte, 16)
		if err := copyIn(t, a[2], b); err != nil {
			return 0, err
		}
		newLim = &kernel.Rlimit{Cur: le.Uint64(b), Max: le.Uint64(b[8:])}
	}
	old := t.Limits().Get(r)
	if newLim != nil {
		if _, err := t.Limits().Set(r, *newLim, t.HasCapability(linux.CAP_SYS_RESOURCE)); err != nil {
			return 0, err
		}
		if r == unix.RLIMIT_STACK {
			t.MM().SetStackLimit(uintptr(min(newLim.Cur, 1<<40)))
		}
	}
	if a[3] != 0 {
		if err := copyOut(t, a[3], encodeRlimit(old)); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

func sysSysinfo(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	var host unix.Sysinfo_t
	unix.Sysinfo(&host)
	b := make([]byte, 112)
	le.PutUint64(b[0:], uint64(t.Kernel().Uptime().Seconds()))
	// loads[3] stay zero: the sandbox keeps no load average yet.
	le.PutUint64(b[32:], host.Totalram)
	le.PutUint64(b[40:], host.Freeram)
	le.PutUint64(b[48:], host.Sharedram)
	le.PutUint64(b[56:], host.Bufferram)
	le.PutUint64(b[64:], host.Totalswap)
	le.PutUint64(b[72:], host.Freeswap)
	le.PutUint16(b[80:], uint16(len(t.Kernel().TIDs())))
	le.PutUint64(b[88:], host.Totalhigh)
	le.PutUint64(b[96:], host.Freehigh)
	le.PutUint32(b[104:], host.Unit)
	return 0, copyOut(t, a[0], b)
}

func sysSchedGetaffinity(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if pid := int32(a[0]); pid != 0 && pid != t.TID() && pid != t.TGID() {
		return 0, unix.ESRCH
	}
	size := uintptr(uint32(a[1])) // an unsigned int
	// The mask is reported in whole longs, at least as long as the CPU count.
	ncpu := runtime.NumCPU()
	need := uintptr((ncpu+63)/64) * 8
	if size < need || size&7 != 0 {
		return 0, unix.EINVAL
	}
	b := make([]byte, need)
	for i := 0; i < ncpu; i++ {
		b[i/8] |= 1 << (i % 8)
	}
	return need, copyOut(t, a[2], b)
}

func sysSchedYield(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	runtime.Gosched()
	return 0, nil
}

// newUTSLen is __NEW_UTS_LEN, the longest host or domain name.
const newUTSLen = 64

func sethostname(t *kernel.Task, a arch.SyscallArgs, domain bool) (uintptr, error) {
	if !t.HasCapability(linux.CAP_SYS_ADMIN) {
		return 0, unix.EPERM
	}
	n := int32(a[1])
	if n < 0 || n > newUTSLen {
		return 0, unix.EINVAL
	}
	b := make([]byte, n)
	if err := copyIn(t, a[0], b); err != nil {
		return 0, err
	}
	return 0, t.SetHostname(string(b), domain)
}

func sysSethostname(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return sethostname(t, a, false)
}

func sysSetdomainname(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return sethostname(t, a, true)
}
