package kernel

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Signal state. Dispositions and masks are recorded exactly as Linux does;
// delivery of signals to app handlers (signal frames) is not implemented
// yet, so a signal this task sends itself takes its default action, or is
// left pending when blocked or handled.

// NumSignals is the number of signals (1..64).
const NumSignals = 64

// SigAction is a signal disposition (struct kernel_sigaction).
type SigAction struct {
	Handler  uint64 // SIG_DFL (0), SIG_IGN (1), or a handler address
	Flags    uint64
	Restorer uint64
	Mask     uint64
}

// Dispositions.
const (
	SigDfl = 0
	SigIgn = 1
)

// signalHandlers is a process's signal dispositions.
type signalHandlers struct {
	mu      sync.Mutex
	actions [NumSignals]SigAction
}

// SigBit returns the mask bit of signal sig.
func SigBit(sig int) uint64 { return 1 << uint(sig-1) }

// unblockable are the signals no mask can block.
var unblockable = SigBit(int(unix.SIGKILL)) | SigBit(int(unix.SIGSTOP))

// SigAction replaces the disposition of sig if act is non-nil and returns
// the old one. It fails with EINVAL for invalid signals and for SIGKILL and
// SIGSTOP.
func (t *Task) SigAction(sig int, act *SigAction) (SigAction, error) {
	if sig < 1 || sig > NumSignals {
		return SigAction{}, unix.EINVAL
	}
	if act != nil && (sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP)) {
		return SigAction{}, unix.EINVAL
	}
	h := t.sig
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.actions[sig-1]
	if act != nil {
		a := *act
		a.Mask &^= unblockable
		h.actions[sig-1] = a
	}
	return old, nil
}

// SigMask returns the blocked signal mask.
func (t *Task) SigMask() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sigMask
}

// SetSigMask replaces the blocked mask (SIGKILL and SIGSTOP stay unblocked).
func (t *Task) SetSigMask(m uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sigMask = m &^ unblockable
}

// defaultAction is what SIG_DFL does with a signal.
type defaultAction int

const (
	actTerminate defaultAction = iota
	actCore
	actIgnore
	actStop
	actContinue
)

func defaultActionOf(sig unix.Signal) defaultAction {
	switch sig {
	case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH:
		return actIgnore
	case unix.SIGCONT:
		return actContinue
	case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return actStop
	case unix.SIGQUIT, unix.SIGILL, unix.SIGTRAP, unix.SIGABRT, unix.SIGBUS, unix.SIGFPE,
		unix.SIGSEGV, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGSYS:
		return actCore
	}
	return actTerminate
}

// SendSignalSelf sends sig to the task itself (kill/tgkill/tkill of its own
// pid, SIGPIPE from a write). Blocked or handled signals stay pending (the
// handler is not run: delivery comes with the signals work); ignored ones
// are discarded; otherwise the default action applies. A stop signal's
// default action is not implemented and leaves the signal pending.
func (t *Task) SendSignalSelf(sig unix.Signal) {
	if sig == 0 {
		return
	}
	act, _ := t.SigAction(int(sig), nil)
	if sig == unix.SIGKILL {
		t.exitWithSignal(sig)
		return
	}
	t.mu.Lock()
	blocked := t.sigMask&SigBit(int(sig)) != 0
	t.mu.Unlock()
	if act.Handler == SigIgn {
		return
	}
	if blocked || act.Handler != SigDfl {
		t.mu.Lock()
		t.sigPending |= SigBit(int(sig))
		t.mu.Unlock()
		return
	}
	switch defaultActionOf(sig) {
	case actTerminate, actCore:
		t.exitWithSignal(sig)
	case actStop:
		t.mu.Lock()
		t.sigPending |= SigBit(int(sig))
		t.mu.Unlock()
	}
}

// Killed reports whether the task is exiting (for example because a
// signal it sent itself killed it).
func (t *Task) Killed() bool { return t.exiting }

// Exit ends the task with status code and returns the error that a system
// call handler returns to unwind.
func (t *Task) Exit(code int) error {
	t.exit(code)
	return errExit
}

// ErrExited is returned by handlers whose task is now exiting.
func (t *Task) ErrExited() error { return errExit }

// SetClearChildTID records set_tid_address's pointer.
func (t *Task) SetClearChildTID(addr uintptr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clearChildTID = addr
}

// SetRobustList records set_robust_list's head.
func (t *Task) SetRobustList(addr uintptr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.robustList = addr
}

// copy returns an independent copy (fork).
func (h *signalHandlers) copy() *signalHandlers {
	h.mu.Lock()
	defer h.mu.Unlock()
	return &signalHandlers{actions: h.actions}
}

// resetCaught resets caught signals to their default action (execve);
// ignored signals stay ignored.
func (h *signalHandlers) resetCaught() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.actions {
		if h.actions[i].Handler != SigDfl && h.actions[i].Handler != SigIgn {
			h.actions[i] = SigAction{}
		}
	}
}
