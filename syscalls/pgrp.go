package syscalls

import (
	"time"

	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/arch"
	"moat/kernel"
)

func sysSetpgid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, t.Setpgid(int32(a[0]), int32(a[1]))
}

func sysGetpgid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	pg, err := t.Getpgid(int32(a[0]))
	return uintptr(pg), err
}

func sysGetpgrp(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	pg, err := t.Getpgid(0)
	return uintptr(pg), err
}

func sysSetsid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	sid, err := t.Setsid()
	return uintptr(sid), err
}

func sysGetsid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	sid, err := t.Getsid(int32(a[0]))
	return uintptr(sid), err
}

// prctl options.
const (
	prSetPdeathsig      = 1
	prGetPdeathsig      = 2
	prGetDumpable       = 3
	prSetDumpable       = 4
	prSetName           = 15
	prGetName           = 16
	prGetSeccomp        = 21
	prSetSeccomp        = 22
	prSetNoNewPrivs     = 38
	prGetNoNewPrivs     = 39
	prSetChildSubreaper = 36
	prGetChildSubreaper = 37
)

func sysPrctl(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if ret, ok, err := capPrctl(t, a); ok {
		return ret, err
	}
	f := t.Flags()
	switch a[0] {
	case prSetPdeathsig:
		if a[1] > kernel.NumSignals {
			return 0, unix.EINVAL
		}
		f.PdeathSig = unix.Signal(a[1])
	case prGetPdeathsig:
		return 0, putU32(t, a[1], uint32(f.PdeathSig))
	case prGetDumpable:
		if f.Dumpable {
			return 1, nil
		}
		return 0, nil
	case prSetDumpable:
		if a[1] > 1 {
			return 0, unix.EINVAL
		}
		f.Dumpable = a[1] == 1
	case prSetName:
		name, err := t.CopyInString(a[1], 15)
		if err == unix.ENAMETOOLONG { // longer names are cut, not refused
			b := make([]byte, 15)
			if err := copyIn(t, a[1], b); err != nil {
				return 0, err
			}
			name, err = string(b), nil
		}
		if err != nil {
			return 0, unix.EFAULT
		}
		t.SetComm(name)
		return 0, nil
	case prGetName:
		b := make([]byte, 16)
		copy(b, t.Comm())
		return 0, copyOut(t, a[1], b)
	case prGetSeccomp:
		// In strict mode the prctl call itself is fatal before it gets
		// here, as on Linux.
		mode, _ := t.Seccomp()
		return uintptr(mode), nil
	case prSetSeccomp:
		switch a[1] {
		case linux.SECCOMP_MODE_STRICT:
			return doSeccomp(t, linux.SECCOMP_SET_MODE_STRICT, 0, 0) // prctl ignores the filter argument
		case linux.SECCOMP_MODE_FILTER:
			return doSeccomp(t, linux.SECCOMP_SET_MODE_FILTER, 0, a[2])
		}
		return 0, unix.EINVAL
	case prSetNoNewPrivs:
		if a[1] != 1 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
			return 0, unix.EINVAL
		}
		f.NoNewPrivs = true
	case prGetNoNewPrivs:
		if a[1] != 0 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
			return 0, unix.EINVAL
		}
		if f.NoNewPrivs {
			return 1, nil
		}
		return 0, nil
	case prSetChildSubreaper:
		f.Subreaper = a[1] != 0
	case prGetChildSubreaper:
		v := uint32(0)
		if f.Subreaper {
			v = 1
		}
		return 0, putU32(t, a[1], v)
	default:
		return 0, unix.EINVAL // support: other prctl options are not implemented
	}
	t.SetFlags(f)
	return 0, nil
}

// rusage who values.
const (
	rusageSelf     = 0
	rusageChildren = -1
	rusageThread   = 1
)

func sysGetrusage(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	var u kernel.CPUUsage
	switch int32(a[0]) {
	case rusageSelf:
		u = t.ProcessCPU()
	case rusageChildren:
		u = t.ChildrenCPU()
	case rusageThread:
		u = t.ThreadCPU()
	default:
		return 0, unix.EINVAL
	}
	return 0, copyOut(t, a[1], encodeRusage(u))
}

// encodeRusage lays out a struct rusage with the CPU times; the other
// counters (faults, context switches, max RSS) are not kept and are 0.
func encodeRusage(u kernel.CPUUsage) []byte {
	b := make([]byte, 144)
	putTimeval(b[0:], u.User)
	putTimeval(b[16:], u.Sys)
	return b
}

// clockTicks is USER_HZ.
const clockTicks = 100

func sysTimes(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if a[0] != 0 {
		self, children := t.ProcessCPU(), t.ChildrenCPU()
		b := make([]byte, 32)
		for i, d := range []time.Duration{self.User, self.Sys, children.User, children.Sys} {
			le.PutUint64(b[8*i:], uint64(d/(time.Second/clockTicks)))
		}
		if err := copyOut(t, a[0], b); err != nil {
			return 0, err
		}
	}
	return uintptr(t.Kernel().Uptime() / (time.Second / clockTicks)), nil
}
