package syscalls

import (
	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/arch"
	"moat/bpf"
	"moat/kernel"
)

// seccompFilterFlags are the SECCOMP_SET_MODE_FILTER flags moat accepts.
// NEW_LISTENER (user notification) is refused with EINVAL, as a kernel
// without it refuses it, and so is WAIT_KILLABLE_RECV, which needs it.
const seccompFilterFlags = linux.SECCOMP_FILTER_FLAG_TSYNC | linux.SECCOMP_FILTER_FLAG_LOG |
	linux.SECCOMP_FILTER_FLAG_SPEC_ALLOW | linux.SECCOMP_FILTER_FLAG_TSYNC_ESRCH

func sysSeccomp(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return doSeccomp(t, uint32(a[0]), uint32(a[1]), a[2])
}

// doSeccomp is seccomp(2), and prctl(PR_SET_SECCOMP) through it.
func doSeccomp(t *kernel.Task, op, flags uint32, uargs uintptr) (uintptr, error) {
	switch op {
	case linux.SECCOMP_SET_MODE_STRICT:
		if flags != 0 || uargs != 0 {
			return 0, unix.EINVAL
		}
		return 0, t.SetSeccompStrict()
	case linux.SECCOMP_SET_MODE_FILTER:
		return seccompSetFilter(t, flags, uargs)
	case linux.SECCOMP_GET_ACTION_AVAIL:
		if flags != 0 {
			return 0, unix.EINVAL
		}
		var b [4]byte
		if err := copyIn(t, uargs, b[:]); err != nil {
			return 0, err
		}
		switch le.Uint32(b[:]) {
		case linux.SECCOMP_RET_KILL_PROCESS, linux.SECCOMP_RET_KILL_THREAD, linux.SECCOMP_RET_TRAP,
			linux.SECCOMP_RET_ERRNO, linux.SECCOMP_RET_USER_NOTIF, linux.SECCOMP_RET_TRACE,
			linux.SECCOMP_RET_LOG, linux.SECCOMP_RET_ALLOW:
			return 0, nil
		}
		return 0, unix.EOPNOTSUPP
	}
	// SECCOMP_GET_NOTIF_SIZES included: without user notification moat
	// answers as a kernel that predates it.
	return 0, unix.EINVAL
}

// seccompSetFilter is SECCOMP_SET_MODE_FILTER, its checks in Linux's
// order: flags, the struct sock_fprog (EFAULT), its length (EINVAL),
// no_new_privs or CAP_SYS_ADMIN (EACCES), the program pointer (NULL is
// EINVAL, unreadable EFAULT), the program itself (EINVAL), then the
// task's mode and total filter length (kernel.Task.SetSeccompFilter).
func seccompSetFilter(t *kernel.Task, flags uint32, uargs uintptr) (uintptr, error) {
	if flags&^seccompFilterFlags != 0 {
		return 0, unix.EINVAL
	}
	var fprog [linux.SizeofSockFprog]byte
	if err := copyIn(t, uargs, fprog[:]); err != nil {
		return 0, err
	}
	n := int(le.Uint16(fprog[0:]))
	ptr := uintptr(le.Uint64(fprog[8:]))
	if n == 0 || n > linux.BPF_MAXINSNS {
		return 0, unix.EINVAL
	}
	if !t.Flags().NoNewPrivs && !t.HasCapability(linux.CAP_SYS_ADMIN) {
		return 0, unix.EACCES
	}
	if ptr == 0 {
		return 0, unix.EINVAL
	}
	raw := make([]byte, n*linux.SizeofSockFilter)
	if err := copyIn(t, ptr, raw); err != nil {
		return 0, err
	}
	insns := make([]linux.SockFilter, n)
	for i := range insns {
		b := raw[i*linux.SizeofSockFilter:]
		insns[i] = linux.SockFilter{Code: le.Uint16(b[0:]), Jt: b[2], Jf: b[3], K: le.Uint32(b[4:])}
	}
	prog, err := bpf.Compile(insns)
	if err != nil {
		return 0, err
	}
	tid, err := t.SetSeccompFilter(prog, flags)
	return uintptr(tid), err
}
