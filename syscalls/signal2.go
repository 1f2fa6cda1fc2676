package syscalls

import (
	"time"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/kernel"
)

func sysRtSigreturn(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, t.Sigreturn()
}

func sysSigaltstack(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	var ns *kernel.SignalStack
	if a[0] != 0 {
		b := make([]byte, 24)
		if err := copyIn(t, a[0], b); err != nil {
			return 0, err
		}
		ns = &kernel.SignalStack{SP: le.Uint64(b), Flags: int32(le.Uint32(b[8:])), Size: le.Uint64(b[16:])}
	}
	old := t.AltStack()
	if ns != nil {
		if err := t.SetAltStack(*ns); err != nil {
			return 0, err
		}
	}
	if a[1] != 0 {
		b := make([]byte, 24)
		le.PutUint64(b, old.SP)
		le.PutUint32(b[8:], uint32(old.Flags))
		le.PutUint64(b[16:], old.Size)
		if err := copyOut(t, a[1], b); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

func sysRtSigpending(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if a[1] > sigsetSize {
		return 0, unix.EINVAL
	}
	b := make([]byte, 8)
	le.PutUint64(b, t.PendingSet()&t.SigMask())
	return 0, copyOut(t, a[0], b[:a[1]])
}

func sysRtSigsuspend(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if a[1] != sigsetSize {
		return 0, unix.EINVAL
	}
	mask, err := getU64(t, a[0])
	if err != nil {
		return 0, err
	}
	return 0, t.Sigsuspend(mask)
}

func sysPause(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, t.Pause()
}

func sysRtSigtimedwait(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if a[3] != sigsetSize {
		return 0, unix.EINVAL
	}
	set, err := getU64(t, a[0])
	if err != nil {
		return 0, err
	}
	var deadline time.Time
	if a[2] != 0 {
		ts, err := copyInTimespec(t, a[2])
		if err != nil {
			return 0, err
		}
		deadline = time.Now().Add(tsDuration(ts))
		if ts.Sec == 0 && ts.Nsec == 0 {
			deadline = time.Now() // poll
		}
	}
	si, err := t.Sigtimedwait(set, deadline)
	if err != nil {
		return 0, err
	}
	if a[1] != 0 {
		if err := copyOut(t, a[1], si.Encode()); err != nil {
			return 0, err
		}
	}
	return uintptr(si.Signo), nil
}

// queueInfo queues a signal with the caller's siginfo on process tgid,
// or with tid != 0 on its thread tid.
func queueInfo(t *kernel.Task, tgid, tid int32, sig uintptr, infoAddr uintptr) (uintptr, error) {
	s, err := checkSignal(sig)
	if err != nil {
		return 0, err
	}
	b := make([]byte, 128)
	if err := copyIn(t, infoAddr, b); err != nil {
		return 0, err
	}
	si := kernel.SigInfo{Signo: int32(s), Code: int32(le.Uint32(b[8:])), PID: int32(le.Uint32(b[16:])), UID: le.Uint32(b[20:]), Value: le.Uint64(b[24:])}
	return afterSignal(t, t.QueueSignalInfo(tgid, tid, si))
}

func sysRtSigqueueinfo(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return queueInfo(t, int32(a[0]), 0, a[1], a[2])
}

func sysRtTgsigqueueinfo(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if int32(a[0]) <= 0 || int32(a[1]) <= 0 {
		return 0, unix.EINVAL
	}
	return queueInfo(t, int32(a[0]), int32(a[1]), a[2], a[3])
}
