package syscalls

import (
	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/kernel"
)

// sigsetSize is the only sigset size Linux accepts on x86-64.
const sigsetSize = 8

// saRestorer marks a sigaction with a restorer (SA_RESTORER).
const saRestorer = 0x04000000

func sysRtSigaction(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if a[3] != sigsetSize {
		return 0, unix.EINVAL
	}
	sig := int(a[0])
	var act *kernel.SigAction
	if a[1] != 0 {
		b := make([]byte, 32)
		if err := copyIn(t, a[1], b); err != nil {
			return 0, err
		}
		act = &kernel.SigAction{Handler: le.Uint64(b), Flags: le.Uint64(b[8:]), Restorer: le.Uint64(b[16:]), Mask: le.Uint64(b[24:])}
	}
	old, err := t.SigAction(sig, act)
	if err != nil {
		return 0, err
	}
	if a[2] != 0 {
		b := make([]byte, 32)
		le.PutUint64(b, old.Handler)
		le.PutUint64(b[8:], old.Flags)
		le.PutUint64(b[16:], old.Restorer)
		le.PutUint64(b[24:], old.Mask)
		if err := copyOut(t, a[2], b); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

func sysRtSigprocmask(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if a[3] != sigsetSize {
		return 0, unix.EINVAL
	}
	how := int(a[0])
	old := t.SigMask()
	if a[1] != 0 {
		set, err := getU64(t, a[1])
		if err != nil {
			return 0, err
		}
		switch how {
		case unix.SIG_BLOCK:
			t.SetSigMask(old | set)
		case unix.SIG_UNBLOCK:
			t.SetSigMask(old &^ set)
		case unix.SIG_SETMASK:
			t.SetSigMask(set)
		default:
			return 0, unix.EINVAL
		}
	}
	if a[2] != 0 {
		if err := putU64(t, a[2], old); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// checkSignal validates a signal number argument.
func checkSignal(sig uintptr) (unix.Signal, error) {
	if sig > kernel.NumSignals {
		return 0, unix.EINVAL
	}
	return unix.Signal(sig), nil
}

// afterSignal ends the system call if the caller's own signal killed it.
func afterSignal(t *kernel.Task, err error) (uintptr, error) {
	if t.Killed() {
		return 0, t.ErrExited()
	}
	return 0, err
}

func sysKill(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	sig, err := checkSignal(a[1])
	if err != nil {
		return 0, err
	}
	switch pid := int32(a[0]); {
	case pid > 0:
		return afterSignal(t, t.SendSignal(pid, sig))
	case pid == -1:
		return afterSignal(t, t.SignalAll(sig, false))
	case pid == -1<<31:
		return 0, unix.ESRCH
	default: // 0: the caller's process group; < -1: group -pid
		return afterSignal(t, t.SignalGroup(-pid, sig))
	}
}

func sysTkill(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if int32(a[0]) <= 0 {
		return 0, unix.EINVAL
	}
	sig, err := checkSignal(a[1])
	if err != nil {
		return 0, err
	}
	return afterSignal(t, t.SendThreadSignal(0, int32(a[0]), sig))
}

func sysTgkill(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if int32(a[0]) <= 0 || int32(a[1]) <= 0 {
		return 0, unix.EINVAL
	}
	sig, err := checkSignal(a[2])
	if err != nil {
		return 0, err
	}
	return afterSignal(t, t.SendThreadSignal(int32(a[0]), int32(a[1]), sig))
}
