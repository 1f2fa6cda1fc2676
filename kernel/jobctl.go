package kernel

import (
	"golang.org/x/sys/unix"
)

// Job control. A stop signal (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) whose
// default action applies puts its whole process in a group stop: every
// thread parks before it returns to app code, and threads blocked in
// system calls are woken, park, and restart the call (as if no handler
// ran) once continued. SIGCONT ends the stop when it is sent, whatever its
// disposition or mask, and discards pending stop signals; sending a stop
// signal discards a pending SIGCONT. The parent learns of both through
// SIGCHLD (CLD_STOPPED, CLD_CONTINUED; none with SA_NOCLDSTOP) and through
// wait4/waitid with WUNTRACED and WCONTINUED.
//
// The state lives on the process's leader and is guarded by Kernel.mu;
// stopped mirrors jobStop != nil for lock-free checks on the hot path.
//
// Unlike Linux, the parent is told at once rather than when the last
// thread has parked: a thread may run a few more instructions of app code
// after its parent's wait has reported the stop.

// si_code values of SIGCHLD for job control.
const (
	cldStopped   = 5
	cldContinued = 6
)

// stopSignals are the signals whose default action stops the process.
var stopSignals = SigBit(int(unix.SIGSTOP)) | SigBit(int(unix.SIGTSTP)) | SigBit(int(unix.SIGTTIN)) | SigBit(int(unix.SIGTTOU))

// prepareSignal does what sending sig does to t's process before the
// signal is queued: SIGCONT continues a stopped process and discards
// pending stop signals, a stop signal discards a pending SIGCONT.
func (t *Task) prepareSignal(sig unix.Signal) {
	if !jobControlSignal(sig) {
		return
	}
	discard := SigBit(int(unix.SIGCONT)) // a stop signal's
	if sig == unix.SIGCONT {
		discard = stopSignals
	}
	k := t.k
	k.mu.Lock()
	l := t.leader
	l.discardPendingLocked(discard)
	if sig == unix.SIGCONT && l.jobStop != nil {
		close(l.jobStop)
		l.jobStop = nil
		l.stopped.Store(false)
		l.waitStop, l.waitCont = false, true
		l.notifyParentLocked(cldContinued, unix.SIGCONT)
		k.childEventLocked()
	}
	k.mu.Unlock()
}

// discardPending drops the signals in set pending for t's process, on
// its threads' queues and on its shared one.
func (t *Task) discardPending(set uint64) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	t.leader.discardPendingLocked(set)
}

// discardPendingLocked is discardPending for the leader l.
//
// Preconditions: Kernel.mu is held; l is a leader.
func (l *Task) discardPendingLocked(set uint64) {
	for _, o := range l.membersLocked() {
		o.mu.Lock()
		o.sigQueue.discard(set)
		o.mu.Unlock()
	}
	h := l.sig
	h.mu.Lock()
	h.shared.discard(set)
	h.mu.Unlock()
}

// jobControlSignal reports whether sig is SIGCONT or a stop signal, whose
// queueing first discards pending ones of the other kind (prepareSignal).
func jobControlSignal(sig unix.Signal) bool {
	return sig == unix.SIGCONT || stopSignals&SigBit(int(sig)) != 0
}

// membersLocked returns the leader l and its threads.
//
// Preconditions: Kernel.mu is held; l is a leader.
func (l *Task) membersLocked() []*Task {
	ms := make([]*Task, 0, 1+len(l.threads))
	ms = append(ms, l)
	for o := range l.threads {
		ms = append(ms, o)
	}
	return ms
}

// notifyParentLocked queues the SIGCHLD that reports a stop or continue
// of l to its parent, unless the parent asked not to hear of them
// (SA_NOCLDSTOP) or it has none. It is queued before the state change
// can be seen by a wait (the caller's childEventLocked), as on Linux.
//
// Preconditions: Kernel.mu is held; l is a leader.
func (l *Task) notifyParentLocked(code int32, sig unix.Signal) {
	p := l.parent
	if p == nil || p.zombie {
		return
	}
	act, _ := p.SigAction(int(unix.SIGCHLD), nil)
	const saNocldstop = 1
	if act.Flags&saNocldstop != 0 {
		return
	}
	p.queueGroupSignalLocked(SigInfo{Signo: int32(unix.SIGCHLD), Code: code, PID: l.tid, UID: l.Creds().UID, Status: int32(sig)})
}

// groupStop stops t's process with sig (the default action of a stop
// signal t has dequeued); deliverSignals then parks t. A stop signal other than SIGSTOP is discarded when the process
// group is orphaned: no one outside it in the session could continue it.
func (t *Task) groupStop(sig unix.Signal) {
	k := t.k
	k.mu.Lock()
	l := t.leader
	if l.groupExit {
		k.mu.Unlock()
		return
	}
	if sig != unix.SIGSTOP && k.pgrpOrphanedLocked(l.pgid, l.sid) {
		k.mu.Unlock()
		return
	}
	var others []*Task
	if l.jobStop == nil {
		l.jobStop = make(chan struct{})
		l.stopped.Store(true)
		l.stopSig = sig
		l.waitStop, l.waitCont = true, false
		l.notifyParentLocked(cldStopped, sig)
		for _, o := range l.membersLocked() {
			if o != t {
				others = append(others, o)
			}
		}
		k.childEventLocked()
	}
	k.mu.Unlock()
	for _, o := range others {
		o.wake()
	}
}

// parkStopped blocks t while its process is stopped. It returns true when
// the process is continued, false when t is killed.
func (t *Task) parkStopped() bool {
	return t.parkWhile(func() chan struct{} { return t.leader.jobStop })
}

// parkWhile blocks t while gate, read under the kernel lock, gives a
// channel (closed when t may go on; nil: go on). It returns false when t
// is killed meanwhile.
func (t *Task) parkWhile(gate func() chan struct{}) bool {
	k := t.k
	for {
		k.mu.Lock()
		ch := gate()
		k.mu.Unlock()
		if ch == nil {
			return true
		}
		select {
		case <-ch:
		case <-t.interrupt:
			return false
		}
	}
}

// pgrpOrphanedLocked reports whether process group pgid of session sid is
// orphaned: no member has a parent in another group of the same session.
// The sandbox's init counts as parented from outside the session.
//
// Preconditions: Kernel.mu is held.
func (k *Kernel) pgrpOrphanedLocked(pgid, sid int32) bool {
	for _, o := range k.tasks {
		if o.leader != o || o.zombie || o.pgid != pgid {
			continue
		}
		if p := o.parent; p != nil && p.pgid != pgid && p.sid == sid {
			return false
		}
	}
	return true
}

// Stopped reports whether t's process is in a group stop.
func (t *Task) Stopped() bool { return t.leader.stopped.Load() }

// State returns t's state letter as proc(5) shows it: Z for a zombie, T
// when stopped, S while blocked in a system call, else R.
func (t *Task) State() byte {
	t.k.mu.Lock()
	zombie := t.zombie
	t.k.mu.Unlock()
	switch {
	case zombie:
		return 'Z'
	case t.Stopped():
		return 'T'
	case t.blocked.Load():
		return 'S'
	}
	return 'R'
}

// ThreadCount returns the number of threads in t's process.
func (t *Task) ThreadCount() int {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	n := 1
	for o := range t.leader.threads {
		if !o.threadGone.Load() {
			n++
		}
	}
	return n
}

// waitJobEventLocked returns the stop or continue of child c that a wait
// with options should report, consuming it unless WNOWAIT is set.
//
// Preconditions: Kernel.mu is held; c is a leader.
func (c *Task) waitJobEventLocked(options uint32) (WaitResult, bool) {
	r := WaitResult{PID: c.tid}
	switch {
	case options&WUNTRACED != 0 && c.waitStop && c.jobStop != nil:
		r.Stopped = c.stopSig
		if options&WNOWAIT == 0 {
			c.waitStop = false
		}
	case options&WCONTINUED != 0 && c.waitCont:
		r.Continued = true
		if options&WNOWAIT == 0 {
			c.waitCont = false
		}
	default:
		return WaitResult{}, false
	}
	r.UID = c.Creds().UID // under c.mu: an exec changes them
	return r, true
}
