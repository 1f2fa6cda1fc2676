package kernel

import (
	"golang.org/x/sys/unix"

	"moat/abi/linux"
)

// The kernel side of signalfd(2) (fs/signalfd): a signalfd reads the
// pending signals of the task that reads it, its own and its process's.

// TakeSignalfd removes the lowest pending signal in set and returns it as
// a struct signalfd_siginfo. If there is none it returns a channel closed
// at the next signal queued to t's process, taken under the same lock as
// the check so no signal slips between them.
func (t *Task) TakeSignalfd(set uint64) ([]byte, <-chan struct{}, bool) {
	set &^= unblockable
	t.mu.Lock()
	defer t.mu.Unlock()
	if si, ok := t.dequeueLocked(^set); ok {
		return si.encodeSignalfd(), nil, true
	}
	h := t.sig
	h.mu.Lock()
	defer h.mu.Unlock()
	return nil, h.queued.Chan(), false
}

// SignalfdReadiness reports whether a signal in set is pending for t, and
// returns a channel closed at the next signal queued to t's process.
func (t *Task) SignalfdReadiness(set uint64) (bool, <-chan struct{}) {
	pending := t.PendingSet()&set&^unblockable != 0
	h := t.sig
	h.mu.Lock()
	defer h.mu.Unlock()
	return pending, h.queued.Chan()
}

// encodeSignalfd lays out a struct signalfd_siginfo (128 bytes).
func (si *SigInfo) encodeSignalfd() []byte {
	b := make([]byte, 128)
	le.PutUint32(b[0:], uint32(si.Signo))
	le.PutUint32(b[4:], uint32(si.Errno))
	le.PutUint32(b[8:], uint32(si.Code))
	le.PutUint32(b[12:], uint32(si.PID))
	le.PutUint32(b[16:], si.UID)
	le.PutUint32(b[40:], uint32(si.Status))
	le.PutUint32(b[44:], uint32(si.Value))
	le.PutUint64(b[48:], si.Value)
	if si.Code > 0 && si.Code < SIKernel && isFaultSignal(unix.Signal(si.Signo)) {
		le.PutUint64(b[72:], si.Addr)
	}
	if si.Signo == int32(unix.SIGSYS) && si.Code == linux.SYS_SECCOMP {
		le.PutUint32(b[84:], uint32(si.Syscall)) // ssi_syscall
		le.PutUint64(b[88:], si.Addr)            // ssi_call_addr
		le.PutUint32(b[96:], si.Arch)            // ssi_arch
	}
	return b
}
