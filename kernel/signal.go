package kernel

import (
	"encoding/binary"
	"reflect"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/park"
	"moat/platform"
	"moat/vfs"
)

var le = binary.LittleEndian

// Signals. Each task has a blocked mask and a queue of pending signals
// (one instance of each standard signal, any number of real-time ones).
// Signals are delivered when the task is about to return to app code:
// after a system call, a fault, or an interruption of running app code.
// Delivery runs the handler on a Linux x86-64 rt_sigframe (frame.go), or
// applies the default action. Blocking system calls are interrupted by a
// deliverable signal (ERESTARTSYS and friends, resolved at delivery as
// Linux does).

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

// signalHandlers is a process's signal dispositions and its shared queue
// of pending process-directed signals. Its lock comes after Task.mu.
type signalHandlers struct {
	mu      sync.Mutex
	actions [NumSignals]SigAction
	shared  signalQueue // process-directed signals
	queued  vfs.Changes // notified whenever a signal is queued to the process (signalfd)
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
	old := h.actions[sig-1]
	if act == nil {
		h.mu.Unlock()
		return old, nil
	}
	a := *act
	a.Mask &^= unblockable
	h.actions[sig-1] = a
	h.mu.Unlock()
	switch ignoredBefore, ignoredNow := old.ignores(sig), a.ignores(sig); {
	case ignoredNow:
		// POSIX: a pending signal whose action becomes ignored is
		// discarded, blocked or not.
		t.discardPending(SigBit(sig))
	case ignoredBefore:
		t.unparkTimers(int32(sig))
	}
	return old, nil
}

// ignores reports whether the action discards sig: SIG_IGN, or SIG_DFL
// where the default is to ignore it (SIGCONT's continuing happens when it
// is sent, not when it is delivered).
func (a SigAction) ignores(sig int) bool {
	if a.Handler == SigIgn {
		return true
	}
	dfl := defaultActionOf(unix.Signal(sig))
	return a.Handler == SigDfl && (dfl == actIgnore || dfl == actContinue)
}

// resetHandler sets sig's handler to SIG_DFL (SA_RESETHAND).
func (t *Task) resetHandler(sig int) {
	h := t.sig
	h.mu.Lock()
	defer h.mu.Unlock()
	h.actions[sig-1].Handler = SigDfl
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

// SigInfo is the part of siginfo_t moat fills.
type SigInfo struct {
	Signo int32
	Code  int32
	PID   int32  // sender (SI_USER, SI_QUEUE), or the child (SIGCHLD)
	UID   uint32 // sender's uid
	Addr  uint64 // fault address (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP)
	// Status is the child's exit status (SIGCHLD); Value is sigqueue's
	// value.
	Status int32
	Value  uint64
	// Overrun is a timer signal's overrun count (SI_TIMER; PID holds the
	// timer id), filled in when it is dequeued from timer.
	Overrun int32
	// Errno, Syscall and Arch are a seccomp SIGSYS's si_errno (the
	// filter's data), si_syscall and si_arch; Addr is its si_call_addr.
	Errno   int32
	Syscall int32
	Arch    uint32
	timer   *posixTimer
}

// si_code values.
const (
	SIUser   = 0
	SIKernel = 0x80
	SIQueue  = -1
	SITkill  = -6

	cldExited = 1
	cldKilled = 2
)

// Encode lays out a siginfo_t (128 bytes).
func (si *SigInfo) Encode() []byte {
	b := make([]byte, 128)
	le.PutUint32(b[0:], uint32(si.Signo))
	le.PutUint32(b[4:], uint32(si.Errno))
	le.PutUint32(b[8:], uint32(si.Code))
	switch {
	case si.Signo == int32(unix.SIGSYS) && si.Code == linux.SYS_SECCOMP:
		le.PutUint64(b[16:], si.Addr)
		le.PutUint32(b[24:], uint32(si.Syscall))
		le.PutUint32(b[28:], si.Arch)
	case si.Code == SITimer:
		le.PutUint32(b[16:], uint32(si.PID))
		le.PutUint32(b[20:], uint32(si.Overrun))
		le.PutUint64(b[24:], si.Value)
	case si.Signo == int32(unix.SIGCHLD) && si.Code > 0:
		le.PutUint32(b[16:], uint32(si.PID))
		le.PutUint32(b[20:], si.UID)
		le.PutUint32(b[24:], uint32(si.Status))
	case si.Code > 0 && si.Code < SIKernel && isFaultSignal(unix.Signal(si.Signo)):
		le.PutUint64(b[16:], si.Addr)
	default:
		le.PutUint32(b[16:], uint32(si.PID))
		le.PutUint32(b[20:], si.UID)
		le.PutUint64(b[24:], si.Value)
	}
	return b
}

func isFaultSignal(sig unix.Signal) bool {
	switch sig {
	case unix.SIGSEGV, unix.SIGBUS, unix.SIGILL, unix.SIGFPE, unix.SIGTRAP:
		return true
	}
	return false
}

// queueSignal makes a thread-directed signal (tkill, a fault, SIGPIPE)
// pending for t and wakes t if it can take it.
//
// Preconditions: Kernel.mu is not held.
func (t *Task) queueSignal(si SigInfo) { t.enqueue(si, false) }

// queueGroupSignal makes a process-directed signal (kill, SIGCHLD, timers)
// pending for t's process, on its shared queue: whichever thread does not
// block it takes it. t is the process's leader or the thread it was aimed
// at; its mask decides whether an ignored signal is discarded, as Linux
// decides by the task the pid named.
//
// Preconditions: Kernel.mu is not held.
func (t *Task) queueGroupSignal(si SigInfo) { t.enqueue(si, true) }

// enqueue queues si on t's own queue, or with group on its process's
// shared queue, and reports whether it did. Ignored signals are discarded
// unless blocked, as on Linux; a standard signal already pending on the
// queue is not queued twice.
func (t *Task) enqueue(si SigInfo, group bool) bool {
	t.prepareSignal(unix.Signal(si.Signo))
	queued, _ := t.add(si, group)
	return queued
}

// queueGroupSignalLocked is queueGroupSignal for a caller that holds the
// kernel lock, so that the signal is pending before anything else the
// caller does under the lock is seen (an exiting child's SIGCHLD before
// its zombie). sig must not be SIGCONT or a stop signal, whose job control
// takes the kernel lock.
//
// Preconditions: Kernel.mu is held.
func (t *Task) queueGroupSignalLocked(si SigInfo) {
	if w := t.pendGroupSignalLocked(si); w != nil {
		w.wake()
	}
}

// pendGroupSignalLocked is queueGroupSignalLocked but for the wake: it
// returns the thread to wake (nil if the signal was not queued), for the
// caller to wake once it has released the kernel lock.
//
// Preconditions: Kernel.mu is held.
func (t *Task) pendGroupSignalLocked(si SigInfo) *Task {
	if queued, _ := t.pend(si, true); !queued {
		return nil
	}
	return t.pickThreadLocked(unix.Signal(si.Signo))
}

// add is enqueue after the job control of SIGCONT and stop signals
// (prepareSignal). full reports a real-time signal dropped because the
// queue is full.
//
// Preconditions: Kernel.mu is not held (queueGroupSignalLocked is add
// for a caller that holds it).
func (t *Task) add(si SigInfo, group bool) (queued, full bool) {
	queued, full = t.pend(si, group)
	switch {
	case !queued:
	case group:
		t.pickThread(unix.Signal(si.Signo)).wake()
	default:
		t.wake()
	}
	return queued, full
}

// pend is add without the wake: it makes the signal pending for t's
// thread (its process, if group) unless it is ignored or already pending.
func (t *Task) pend(si SigInfo, group bool) (queued, full bool) {
	sig := int(si.Signo)
	act, _ := t.SigAction(sig, nil)
	h := t.sig
	t.mu.Lock()
	if blocked := t.sigMask&SigBit(sig) != 0; !blocked && act.ignores(sig) {
		t.mu.Unlock()
		return false, false
	}
	h.mu.Lock()
	q := &t.sigQueue
	if group {
		q = &h.shared
	}
	queued = true
	switch {
	case si.timer != nil:
		// A POSIX timer's signal is its own, as Linux preallocates it:
		// queued beside a pending standard signal of the same number,
		// and outside the bound (a timer has at most one pending).
	case sig < 32:
		queued = !q.has(int32(sig))
	case len(q.list) >= maxQueuedSignals:
		queued, full = false, true // beyond the bound: dropped, as Linux drops it
	}
	if queued {
		q.push(si)
		h.queued.Notify()
	}
	h.mu.Unlock()
	t.mu.Unlock()
	return queued, full
}

// maxQueuedSignals bounds each pending queue (RLIMIT_SIGPENDING's role,
// smaller than its default, to bound the sentry's memory): a real-time
// signal beyond it is dropped, and sigqueue fails with EAGAIN
// (QueueSignalInfo).
const maxQueuedSignals = 1024

// wake tells a task that a signal may be deliverable: it ends a blocking
// system call, or stops app code running on the platform.
func (t *Task) wake() {
	select {
	case t.sigNotify <- struct{}{}:
	default:
	}
	t.parker.Unpark()
	if t.inApp.Load() {
		t.kick()
	}
}

// deliverable reports whether a pending signal, t's own or its
// process's, is not blocked. A stopped process's threads count as having
// one: they must park; so does a leader with an execve to run for a
// thread.
func (t *Task) deliverable() bool {
	if t.leader.stopped.Load() || t.execPending.Load() || t.k.frozen.Load() {
		return true
	}
	if t.nothingQueued() {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sigQueue.mask()&^t.sigMask != 0 {
		return true
	}
	h := t.sig
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.shared.mask()&^t.sigMask != 0
}

// dequeueLocked removes and returns the lowest-numbered pending signal
// not in mask: t's own first, then its process's, as Linux takes them.
//
// Preconditions: t.mu is held.
func (t *Task) dequeueLocked(mask uint64) (SigInfo, bool) {
	si, ok := t.sigQueue.dequeue(mask)
	if !ok {
		h := t.sig
		h.mu.Lock()
		si, ok = h.shared.dequeue(mask)
		h.mu.Unlock()
	}
	if ok && si.Signo == int32(unix.SIGALRM) {
		t.rearmRealTimer()
	}
	return si, ok
}

// nothingQueued reports, without locks, that no signal is queued to t or
// its process. One queued after the check is not missed: the queuer wakes
// t, which kicks it out of app code if it got there (inApp, set before
// deliverable's check).
func (t *Task) nothingQueued() bool {
	return t.sigQueue.empty() && t.sig.shared.empty()
}

// PendingSet returns the pending signals, t's own and its process's
// (rt_sigpending: pending and blocked ones included).
func (t *Task) PendingSet() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.sig
	h.mu.Lock()
	defer h.mu.Unlock()
	return t.sigQueue.mask() | h.shared.mask()
}

// SendSignalSelf sends sig to the task itself (kill of its own pid, a
// SIGPIPE from a write). SIGKILL ends the task at once; everything else is
// queued and delivered before the task returns to app code.
func (t *Task) SendSignalSelf(sig unix.Signal) {
	if sig == 0 {
		return
	}
	if sig == unix.SIGKILL {
		t.exitWithSignal(sig)
		return
	}
	t.queueSignal(SigInfo{Signo: int32(sig), Code: SIUser, PID: t.tid, UID: t.Creds().UID})
}

// ForceSignal delivers a synchronous signal (a fault): if the app blocks
// or ignores it, it is unblocked and reset to its default action, as
// Linux's force_sig does, so a fault is never silently lost.
func (t *Task) ForceSignal(si SigInfo) {
	sig := int(si.Signo)
	h := t.sig
	h.mu.Lock()
	ignored := h.actions[sig-1].Handler == SigIgn
	if ignored {
		h.actions[sig-1].Handler = SigDfl
	}
	h.mu.Unlock()
	t.mu.Lock()
	if t.sigMask&SigBit(sig) != 0 {
		t.sigMask &^= SigBit(sig)
		h.mu.Lock()
		h.actions[sig-1].Handler = SigDfl
		h.mu.Unlock()
	}
	t.sigQueue.push(si)
	t.mu.Unlock()
}

// The internal errors a blocking system call returns when a signal
// interrupts it (never seen by the app): whether the call is restarted or
// fails with EINTR is decided when the signal is delivered.
const (
	ErrRestartSys    = unix.Errno(512) // restart if the handler has SA_RESTART or none runs
	ErrRestartNoIntr = unix.Errno(513) // always restart
	ErrRestartNoHand = unix.Errno(514) // restart only if no handler runs
	// ErrRestartBlock restarts through restart_syscall(2) and the
	// continuation given to SetRestartBlock if no handler runs.
	ErrRestartBlock = unix.Errno(516)
)

// isRestart reports whether err is one of the ERESTART* codes.
func isRestart(err error) bool {
	switch err {
	case ErrRestartSys, ErrRestartNoIntr, ErrRestartNoHand, ErrRestartBlock:
		return true
	}
	return false
}

// SetRestartBlock records how restart_syscall continues the current call,
// which then returns ErrRestartBlock.
func (t *Task) SetRestartBlock(fn func() (uintptr, error)) { t.restartBlock = fn }

// RestartSyscall implements restart_syscall(2): it runs the continuation
// of the interrupted call, or fails with EINTR if there is none.
func (t *Task) RestartSyscall() (uintptr, error) {
	fn := t.restartBlock
	t.restartBlock = nil
	if fn == nil {
		return 0, unix.EINTR
	}
	return fn()
}

// Block waits until ready is closed or receives, or a signal the task can
// take arrives (ErrRestartSys), or the task is killed (EINTR: it exits
// before returning to the app anyway).
func (t *Task) Block(ready <-chan struct{}) error {
	return t.BlockTimeout(ready, time.Time{})
}

// BlockTimeout is Block with a deadline (zero: none); it returns ETIMEDOUT
// when the deadline passes. With ready nil (a sleep, pause) only signals,
// a kill and the deadline end it, and each of those unparks the task: it
// waits parked (BlockParked).
func (t *Task) BlockTimeout(ready <-chan struct{}, deadline time.Time) error {
	if ready == nil {
		return t.BlockParked(nil, deadline)
	}
	var expired <-chan time.Time // nil, never ready, without a deadline
	if !deadline.IsZero() {
		tm := time.NewTimer(time.Until(deadline))
		defer tm.Stop()
		expired = tm.C
	}
	t.blocked.Store(true)
	defer t.blocked.Store(false)
	hinted := false
	defer func() {
		if hinted {
			t.unblocked()
		}
	}()
	for {
		if t.deliverable() {
			return ErrRestartSys
		}
		if !hinted {
			select {
			case <-ready:
				return nil
			default:
			}
			t.blocking()
			hinted = true
		}
		select {
		case <-ready:
			return nil
		case <-expired:
			return unix.ETIMEDOUT
		case <-t.interrupt:
			return unix.EINTR
		case <-t.sigNotify:
		}
	}
}

// BlockParked is BlockTimeout for a ready channel whose closer unparks
// the task after closing it (vfs.Changes, the futex table, wait4's child
// events): the task's thread sleeps in its Parker, and every wake is one
// FUTEX_WAKE instead of a trip through the Go scheduler (package park).
// Signals and kills unpark it too; the deadline is the futex timeout.
func (t *Task) BlockParked(ready <-chan struct{}, deadline time.Time) error {
	return t.BlockAnyParked([]<-chan struct{}{ready}, deadline, 0)
}

// Parker implements vfs.ParkBlocker.
func (t *Task) Parker() *park.Parker { return &t.parker }

// blocking tells the platform that the task's system call is about to
// block (platform.Blocker); unblocked, that the wait is over.
func (t *Task) blocking() {
	if b, ok := t.ctx.(platform.Blocker); ok {
		b.Blocking()
	}
}

func (t *Task) unblocked() {
	if b, ok := t.ctx.(platform.Blocker); ok {
		b.Unblocked()
	}
}

// Killed reports whether the task is exiting (for example because a
// signal it sent itself killed it).
func (t *Task) Killed() bool { return t.exiting }

// Exit ends the calling thread with status code (exit(2)) and returns the
// error that a system call handler returns to unwind. The process ends
// with its last thread.
func (t *Task) Exit(code int) error {
	t.exit(code)
	return errExit
}

// ExitGroup ends every thread of the process (exit_group(2)).
func (t *Task) ExitGroup(code int) error {
	t.exitGroup(ExitStatus{Code: code & 0xff})
	return errExit
}

// SendThreadSignal sends sig to thread tid (tkill), which must belong to
// process tgid if tgid > 0 (tgkill).
func (t *Task) SendThreadSignal(tgid, tid int32, sig unix.Signal) error {
	k := t.k
	k.mu.Lock()
	target := k.tasks[tid]
	allowed := target != nil && t.maySignalLocked(target, sig)
	k.mu.Unlock()
	if target == nil || target.zombie || (tgid > 0 && target.leader.tid != tgid) {
		return unix.ESRCH
	}
	if !allowed {
		return unix.EPERM
	}
	if sig == 0 {
		return nil
	}
	if sig == unix.SIGKILL {
		target.kill(sig)
		if target.leader == t.leader {
			t.exitWithSignal(sig)
		}
		return nil
	}
	if t.leader != target.leader && target.dropsForInit(sig) {
		return nil
	}
	target.queueSignal(SigInfo{Signo: int32(sig), Code: SITkill, PID: t.TGID(), UID: t.Creds().UID})
	return nil
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

// Sigsuspend waits for a signal with mask as the blocked mask; the old
// mask comes back when the handler returns (or at once if none runs).
func (t *Task) Sigsuspend(mask uint64) error {
	t.mu.Lock()
	old := t.sigMask
	t.savedMask = &old
	t.sigMask = mask &^ unblockable
	t.mu.Unlock()
	t.Block(nil)
	return ErrRestartNoHand
}

// Pause waits for a signal that runs a handler or ends the process.
func (t *Task) Pause() error {
	t.Block(nil)
	return ErrRestartNoHand
}

// Sigtimedwait dequeues a pending signal in set, waiting for one until the
// deadline (zero: forever). It fails with EAGAIN at the deadline, and with
// EINTR when another signal is delivered first.
func (t *Task) Sigtimedwait(set uint64, deadline time.Time) (SigInfo, error) {
	set &^= unblockable
	for {
		t.mu.Lock()
		si, ok := t.dequeueLocked(^set)
		t.mu.Unlock()
		if ok {
			return si, nil
		}
		if t.deliverable() {
			return SigInfo{}, unix.EINTR
		}
		select {
		case <-t.interrupt:
			return SigInfo{}, unix.EINTR
		default:
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return SigInfo{}, unix.EAGAIN
		}
		t.parker.Park(deadline) // a signal, in set or not, unparks it
	}
}

// QueueSignalInfo queues a signal with caller-provided siginfo on process
// tgid (rt_sigqueueinfo) or, with tid != 0, on its thread tid
// (rt_tgsigqueueinfo). Callers other than the target itself may not claim
// to be the kernel (si_code >= 0, or SI_TKILL), as Linux forbids.
func (t *Task) QueueSignalInfo(tgid, tid int32, si SigInfo) error {
	k := t.k
	k.mu.Lock()
	target := k.tasks[tgid]
	if tid != 0 {
		target = k.tasks[tid]
		if target != nil && target.leader.tid != tgid {
			target = nil
		}
	} else if target != nil {
		target = target.leader
	}
	allowed := target != nil && t.maySignalLocked(target, unix.Signal(si.Signo))
	k.mu.Unlock()
	if target == nil || target.zombie {
		return unix.ESRCH
	}
	if !allowed {
		return unix.EPERM
	}
	if (si.Code >= 0 || si.Code == SITkill) && target.leader != t.leader {
		return unix.EPERM
	}
	if si.Signo == 0 {
		return nil
	}
	if si.Signo == int32(unix.SIGKILL) {
		target.kill(unix.SIGKILL)
		return nil
	}
	if t.leader != target.leader && target.dropsForInit(unix.Signal(si.Signo)) {
		return nil
	}
	si.timer = nil
	target.prepareSignal(unix.Signal(si.Signo))
	if _, full := target.add(si, tid == 0); full && si.Code != SIUser {
		return unix.EAGAIN // as Linux's __send_signal, for a queued signal it cannot hold
	}
	return nil
}

// BlockAny waits until one of chans is closed, the deadline passes (zero:
// none; ETIMEDOUT), period elapses (zero: never; returns nil so the caller
// re-checks what it waits for), a signal the task can take arrives
// (ErrRestartSys), or the task is killed (EINTR).
func (t *Task) BlockAny(chans []<-chan struct{}, deadline time.Time, period time.Duration) error {
	if t.deliverable() {
		return ErrRestartSys
	}
	cases := make([]reflect.SelectCase, 0, len(chans)+4)
	for _, c := range chans {
		if c != nil {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c)})
		}
	}
	ready := len(cases)
	cases = append(cases,
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(t.interrupt)},
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(t.sigNotify)})
	timeoutCase, periodCase := -1, -1
	if !deadline.IsZero() {
		tm := time.NewTimer(time.Until(deadline))
		defer tm.Stop()
		timeoutCase = len(cases)
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(tm.C)})
	}
	if period > 0 {
		pt := time.NewTimer(period)
		defer pt.Stop()
		periodCase = len(cases)
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(pt.C)})
	}
	t.blocked.Store(true)
	defer t.blocked.Store(false)
	t.blocking()
	defer t.unblocked()
	for {
		i, _, _ := reflect.Select(cases)
		switch {
		case i < ready, i == periodCase:
			return nil
		case i == ready:
			return unix.EINTR
		case i == ready+1:
			if t.deliverable() {
				return ErrRestartSys
			}
		case i == timeoutCase:
			return unix.ETIMEDOUT
		}
	}
}

// BlockAnyParked is BlockAny for channels whose changes all unpark the
// task too (registered with its Parker: vfs.ParkPoller, vfs.Changes, the
// futex table, wait4's child events), waiting parked: the task's thread
// sleeps in its Parker (package park).
func (t *Task) BlockAnyParked(chans []<-chan struct{}, deadline time.Time, period time.Duration) error {
	if t.spawned {
		// The new task's goroutine waits on this thread's P, which a
		// thread parked in a system call keeps until the Go runtime
		// takes it back (a sysmon tick later, at best): block through
		// the Go scheduler this time, which hands the P on at once.
		// A parent that waits for its new child or thread at once
		// (bench, 5 runs, two rounds each): fork+exit+wait 636 and 638
		// us parked, 523 and 499 us so; pthread create+join 282 and 289
		// us parked, 218 and 223 us so.
		t.spawned = false
		return t.BlockAny(chans, deadline, period)
	}
	t.blocked.Store(true)
	defer t.blocked.Store(false)
	var periodEnd time.Time
	if period > 0 {
		periodEnd = time.Now().Add(period)
	}
	hinted := false
	defer func() {
		if hinted {
			t.unblocked()
		}
	}()
	for {
		if t.deliverable() {
			return ErrRestartSys
		}
		select {
		case <-t.interrupt:
			return unix.EINTR
		default:
		}
		for _, c := range chans {
			select {
			case <-c: // a nil entry is never ready
				return nil
			default:
			}
		}
		now := time.Now()
		if !deadline.IsZero() && !now.Before(deadline) {
			return unix.ETIMEDOUT
		}
		if !periodEnd.IsZero() && !now.Before(periodEnd) {
			return nil
		}
		if !hinted {
			t.blocking()
			hinted = true
		}
		wake := deadline
		if !periodEnd.IsZero() && (wake.IsZero() || periodEnd.Before(wake)) {
			wake = periodEnd
		}
		t.parker.Park(wake)
	}
}

// SetTemporaryMask replaces the signal mask for the duration of a system
// call (ppoll, pselect6); RestoreTemporaryMask puts the old one back unless
// a signal is about to be delivered, whose frame then restores it.
func (t *Task) SetTemporaryMask(mask uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.sigMask
	t.savedMask = &old
	t.sigMask = mask &^ unblockable
}

// RestoreTemporaryMask ends SetTemporaryMask when the call returns without
// a signal to deliver.
func (t *Task) RestoreTemporaryMask(err error) {
	if isRestart(err) {
		return // deliverSignals restores it
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.savedMask != nil {
		t.sigMask = *t.savedMask
		t.savedMask = nil
	}
}

// SigMasks returns t's signal state as /proc/PID/status shows it, bit
// n-1 standing for signal n: the signals pending for t and for its
// process, t's blocked mask, and the signals its process ignores and
// catches.
func (t *Task) SigMasks() (pending, shared, blocked, ignored, caught uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pending, blocked = t.sigQueue.mask(), t.sigMask
	h := t.sig
	h.mu.Lock()
	defer h.mu.Unlock()
	shared = h.shared.mask()
	for i, a := range h.actions {
		switch a.Handler {
		case SigDfl:
		case SigIgn:
			ignored |= SigBit(i + 1)
		default:
			caught |= SigBit(i + 1)
		}
	}
	return pending, shared, blocked, ignored, caught
}

// SigQueue returns the number of signals queued to the tasks of t's real
// user, as Linux charges them (to the receiver's user), and t's
// RLIMIT_SIGPENDING: status's SigQ.
func (t *Task) SigQueue() (queued, limit uint64) {
	uid := t.Creds().UID
	limit = t.limits.Get(unix.RLIMIT_SIGPENDING).Cur
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	counted := make(map[*signalHandlers]bool)
	for _, o := range k.tasks {
		o.mu.Lock()
		if o.creds.UID == uid {
			queued += uint64(len(o.sigQueue.list))
			if h := o.sig; h != nil && !counted[h] {
				counted[h] = true
				h.mu.Lock()
				queued += uint64(len(h.shared.list))
				h.mu.Unlock()
			}
		}
		o.mu.Unlock()
	}
	return queued, limit
}
