package kernel

import (
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/arch"
	"moat/mm"
	"moat/platform"
)

// Processes: fork (clone without CLONE_THREAD), exit into a zombie that
// the parent reaps with wait4, reparenting to the sandbox's init (tid 1),
// and killing other processes with default signal actions. Each process
// has one thread (its Task); threads (CLONE_THREAD) are not supported yet.

// Clone flags (linux/sched.h).
const (
	CloneVM            = 0x00000100
	CloneFS            = 0x00000200
	CloneFiles         = 0x00000400
	CloneSighand       = 0x00000800
	ClonePidfd         = 0x00001000
	ClonePtrace        = 0x00002000
	CloneVfork         = 0x00004000
	CloneParent        = 0x00008000
	CloneThread        = 0x00010000
	CloneNewNS         = 0x00020000
	CloneSysvsem       = 0x00040000
	CloneSettls        = 0x00080000
	CloneParentSettid  = 0x00100000
	CloneChildCleartid = 0x00200000
	CloneUntraced      = 0x00800000
	CloneChildSettid   = 0x01000000
	cloneNamespaces    = 0x7e020080 // CLONE_NEW* and CLONE_NEWTIME
	cloneSignalMask    = 0xff
)

// CloneArgs are clone's arguments.
type CloneArgs struct {
	Flags      uint64
	Stack      uintptr // the child's stack pointer, 0 to keep the parent's
	ParentTID  uintptr
	ChildTID   uintptr
	TLS        uintptr
	ExitSignal unix.Signal
}

// checkTLS fails with EPERM for a CLONE_SETTLS base that is not a user
// address, as Linux's arch_prctl(ARCH_SET_FS) check in copy_thread does;
// the platform could not load it into the child's fs base.
func (a *CloneArgs) checkTLS() error {
	if a.Flags&CloneSettls != 0 && uint64(a.TLS) >= arch.TaskSize {
		return unix.EPERM
	}
	return nil
}

// Clone creates a child process and returns its pid. The child starts
// with a copy of the caller's memory, files, and signal dispositions, and
// returns 0 from the same system call.
func (t *Task) Clone(a CloneArgs) (int32, error) {
	f := a.Flags
	if f&CloneThread != 0 {
		return t.cloneThread(a)
	}
	switch {
	case f&CloneSighand != 0 && f&CloneVM == 0:
		return 0, unix.EINVAL
	case f&CloneSighand != 0:
		// support: handlers shared with another process are not
		// offered: signalHandlers also holds the process's queue of
		// pending signals, which a process does not share.
		return 0, unix.EINVAL
	case f&CloneNewNS != 0 && f&CloneFS != 0:
		return 0, unix.EINVAL
	case f&CloneNewNS != 0 && !t.HasCapability(linux.CAP_SYS_ADMIN):
		return 0, unix.EPERM
	case f&cloneNamespaces&^CloneNewNS != 0:
		return 0, unix.EPERM // support: new namespaces other than mount namespaces are not offered
	case f&ClonePidfd != 0:
		return 0, unix.ENOSYS // support: pidfds are not implemented
	}
	if a.ExitSignal > 64 {
		return 0, unix.EINVAL
	}
	if err := a.checkTLS(); err != nil {
		return 0, err
	}
	k := t.k
	// CLONE_VM: the child runs in the caller's address space, on a host
	// thread of its own there, until it execs or exits (posix_spawn and
	// vfork children write to the parent's memory before they exec). A
	// platform that runs no threads gets a copy instead.
	var sp platform.ThreadSpawner
	var h platform.Thread
	k.mu.Lock()
	err := t.checkNprocLocked()
	k.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if f&CloneVM != 0 {
		if s, ok := t.mm.AddressSpace().(platform.ThreadSpawner); ok {
			// A vfork child runs on the caller's own host thread
			// where the platform lends it (platform.ThreadLender):
			// the caller waits until the child is done with it.
			if l, ok := s.(platform.ThreadLender); ok && f&CloneVfork != 0 {
				h, err = l.LendThread()
			}
			if h == nil {
				if h, err = s.SpawnThread(a.TLS, f&CloneSettls != 0); err != nil {
					return 0, unix.EAGAIN
				}
			}
			sp = s
		}
	}
	childMM := t.mm
	if sp == nil {
		if childMM, err = t.mm.Fork(uintptr(t.regs.Rsp)); err != nil {
			return 0, err
		}
	}
	k.mu.Lock()
	tid := k.nextTID
	k.nextTID++
	parent := t.leader // a process's children belong to the process
	if f&CloneParent != 0 && parent.parent != nil {
		parent = parent.parent
	}
	t.mu.Lock()
	c := &Task{
		k:          k,
		tid:        tid,
		regs:       t.regs,
		mm:         childMM,
		exePath:    t.exePath,
		creds:      t.creds,
		fds:        t.shareOrCopyFDs(f),
		fs:         t.shareOrCopyFS(f),
		limits:     t.limits.copy(),
		sig:        t.sig.copy(),
		sigMask:    t.sigMask,
		parent:     parent,
		children:   make(map[*Task]struct{}),
		threads:    make(map[*Task]struct{}),
		exitSignal: a.ExitSignal,
		pgid:       t.leader.pgid,
		sid:        t.leader.sid,
		ctty:       t.leader.ctty,
		comm:       t.comm,
		noNewPrivs: t.noNewPrivs,
		dumpable:   t.dumpable,
		nice:       t.leader.nice,
		container:  t.leader.container,
		interrupt:  make(chan struct{}),
		sigNotify:  make(chan struct{}, 1),
		altStack:   t.altStack,
		vmShared:   sp != nil,
	}
	t.mu.Unlock()
	c.seccomp.Store(t.seccomp.Load())
	if f&CloneNewNS != 0 {
		c.fs.unshareMounts()
	}
	c.leader = c
	c.cpu.start = k.Uptime()
	if f&CloneVfork != 0 {
		c.vforkDone = make(chan struct{})
	}
	parent.children[c] = struct{}{}
	k.addTaskLocked(c)
	k.mu.Unlock()

	c.startCloned(t, a, childMM, tid)
	done := c.vforkDone // the child clears the field when it closes it
	if sp != nil {
		c.ctx = k.opts.Platform.NewContext()
		go c.threadMain(sp, h)
	} else {
		go c.forkMain()
	}
	t.spawned = true
	if done != nil {
		// Until the child execs or exits (endVforkLocked), or t is
		// killed: other signals wait, as Linux's vfork waits killable.
		// Through the Go scheduler, not parked (BlockParked): the
		// child's goroutine starts on this thread's P, which the select
		// hands on at once, and the parent's wake is not what the child
		// waits for. Parked, a sh -c loop of 200 /bin/true took 366 ms
		// instead of 326 (25 interleaved runs, medians).
		select {
		case <-done:
		case <-t.interrupt:
		}
		t.spawned = false
	}
	return tid, nil
}

// endVforkLocked releases the parent waiting for t, a CLONE_VFORK child
// that now execs or exits.
//
// Preconditions: Kernel.mu is held.
func (t *Task) endVforkLocked() {
	if t.vforkDone != nil {
		close(t.vforkDone)
		t.vforkDone = nil
	}
}

// startCloned sets up the registers and TID words of c, a child that t
// has just cloned with arguments a: it returns 0 from clone, on the new
// stack and TLS if given, and its tid is stored in childMM
// (CLONE_CHILD_SETTID) and in t's memory (CLONE_PARENT_SETTID).
func (c *Task) startCloned(t *Task, a CloneArgs, childMM *mm.MemoryManager, tid int32) {
	f := a.Flags
	arch.SetReturn(&c.regs, 0)
	// Clone copies the FP state (control words, vector registers) too.
	if fp, err := t.ctx.FPState(t.mm.AddressSpace()); err == nil {
		c.startFP = fp
	} else {
		t.k.log.Debug("clone: the parent's FP state is unreadable; the child starts with the initial state", "tid", t.tid, "err", err)
	}
	if a.Stack != 0 {
		c.regs.Rsp = uint64(a.Stack)
	}
	if f&CloneSettls != 0 {
		c.regs.Fs_base = uint64(a.TLS)
	}
	if f&CloneChildSettid != 0 {
		putTID(childMM, a.ChildTID, tid)
	}
	if f&CloneChildCleartid != 0 {
		c.clearChildTID = a.ChildTID
	}
	if f&CloneParentSettid != 0 {
		putTID(t.mm, a.ParentTID, tid)
	}
}

func putTID(m *mm.MemoryManager, addr uintptr, tid int32) {
	b := []byte{byte(tid), byte(tid >> 8), byte(tid >> 16), byte(tid >> 24)}
	m.CopyOut(addr, b) // a bad address is ignored, as Linux ignores it
}

// applyStartFP gives a cloned task, before it first runs, the FP state
// its parent had at the clone.
func (t *Task) applyStartFP() {
	if t.startFP == nil {
		return
	}
	if err := t.ctx.SetFPState(t.mm.AddressSpace(), t.startFP); err != nil {
		t.k.log.Debug("clone: cannot set the child's FP state; it starts with the initial state", "tid", t.tid, "err", err)
	}
	t.startFP = nil
}

// forkMain is a forked task's goroutine: it gives the copied memory an
// address space of its own, then runs the child.
func (c *Task) forkMain() {
	c.bindHostThread()
	defer c.unbindHostThread()
	as, err := c.k.opts.Platform.NewAddressSpace()
	if err != nil {
		c.k.log.Error("cannot create the address space of a forked process", "tid", c.tid, "err", err)
		c.exitWithSignal(unix.SIGKILL)
	} else {
		c.mm.SetAddressSpace(as)
		c.ctx = c.k.opts.Platform.NewContext()
		c.applyStartFP()
		c.runSafely()
	}
	c.finish()
}

// exitProcess ends the process after its task stopped running: it frees
// its resources, becomes a zombie for its parent (or is reaped at once),
// and hands its children to init. When init exits, every other process in
// the sandbox is killed, as in a PID namespace.
func (t *Task) exitProcess() {
	k := t.k
	// The leader goes last: wait for the other threads to end.
	k.mu.Lock()
	t.leaderDone = true
	k.mu.Unlock()
	// A thread stuck in an uninterruptible host call (a read of moat's
	// own stdin) cannot be stopped: after a grace period the process ends
	// without it, and its goroutine goes when the call returns.
	t.waitThreads(false, time.After(threadExitGrace))
	k.mu.Lock()
	stuck := len(t.threads) > 0
	k.mu.Unlock()
	if stuck {
		t.fds.CloseAll() // the stuck threads' files go with the process
	}
	k.mu.Lock()
	if t.groupExit || t.groupCodeSet {
		t.exitStatus = t.groupCode
	}
	k.mu.Unlock()
	t.stopTimers()
	t.accountProcessExit()
	t.exitRobustList()
	t.clearTID()
	if t.tid == 1 && k.exitsWithInit.Load() {
		k.opts.MemFile.Abandon() // before init's own memory is freed
	}
	// The memory goes once the parent can see the exit: freeing it (a
	// hole punched in the memory file for each range, the stub killed)
	// took some 20 us of each exit, which a sh loop's parent waited for.
	m := t.releaseButMemory()
	t.sessionLeaderExit()
	k.mu.Lock()
	t.endVforkLocked()
	reaper := k.tasks[1]
	for a := t.parent; a != nil; a = a.parent { // the nearest live subreaper
		if a.subreaper && !a.zombie {
			reaper = a
			break
		}
	}
	var orphans []*Task // children with a parent-death signal
	for c := range t.children {
		delete(t.children, c)
		if reaper != nil && reaper != t {
			c.parent = reaper
			reaper.children[c] = struct{}{}
		} else {
			c.parent = nil
		}
		if c.pdeathsig != 0 && !c.zombie {
			orphans = append(orphans, c)
		}
	}
	var victims []*Task
	if t.tid == 1 {
		for _, o := range k.tasks {
			if o != t && o.leader == o {
				victims = append(victims, o)
			}
		}
		close(k.initDone)
	}
	var notify *Task
	var si SigInfo
	if p := t.parent; p != nil && t.exitSignal != 0 {
		si = SigInfo{Signo: int32(t.exitSignal), Code: cldExited, PID: t.tid, UID: t.creds.UID, Status: int32(t.exitStatus.Code)}
		if t.exitStatus.Signal != 0 {
			si.Code, si.Status = cldKilled, int32(t.exitStatus.Signal)
		}
		notify = p
	}
	// The parent's signal is pending before a wait can see the zombie, as
	// on Linux, where both happen under the tasklist lock: a waitid with
	// WNOWAIT, then a read of a signalfd, finds the SIGCHLD. The parent
	// is woken (for the signal, and from a wait) only once the kernel
	// lock is released: woken under it, it would wait for it at once and
	// be woken twice. A sh loop's parent took 24 us from its child's
	// SIGCHLD to seeing the zombie.
	var woken *Task
	if notify != nil && !jobControlSignal(t.exitSignal) {
		woken = notify.pendGroupSignalLocked(si)
		notify = nil
	}
	if t.parent == nil || t.parent.autoReaps() {
		t.reapLocked()
	} else {
		t.zombie = true
	}
	unpark := k.childEvents.NotifyLater()
	k.mu.Unlock()
	unpark()
	if woken != nil {
		woken.wake()
	}
	// Outside the kernel lock: killing and signalling take it.
	for _, o := range victims {
		o.kill(unix.SIGKILL)
	}
	if notify != nil { // an exit signal with job control (clone's choice)
		notify.queueGroupSignal(si)
	}
	for _, c := range orphans {
		c.queueGroupSignal(SigInfo{Signo: int32(c.pdeathsig), Code: SIUser, PID: t.tid})
	}
	if m != nil {
		m.Release()
	}
}

// autoReaps reports whether children of t vanish at exit instead of
// becoming zombies (SIGCHLD ignored, or SA_NOCLDWAIT).
func (t *Task) autoReaps() bool {
	act, _ := t.SigAction(int(unix.SIGCHLD), nil)
	const saNocldwait = 2
	return act.Handler == SigIgn || act.Flags&saNocldwait != 0
}

// Preconditions: Kernel.mu is held.
func (t *Task) reapLocked() {
	if t.parent != nil {
		delete(t.parent.children, t)
	}
	if t.tid != 1 {
		delete(t.k.tasks, t.tid)
	}
	t.zombie = false
}

// kill makes t exit as killed by sig, from any goroutine: it interrupts
// blocking system calls and kills the address space's host process so a
// running app stops at once.
func (t *Task) kill(sig unix.Signal) {
	l := t.leader
	k := t.k
	k.mu.Lock()
	if !l.groupExit {
		l.groupExit, l.groupCode = true, ExitStatus{Signal: sig}
	}
	members := []*Task{l}
	for o := range l.threads {
		members = append(members, o)
	}
	k.mu.Unlock()
	for _, o := range members {
		o.interruptBy(sig)
	}
	l.mu.Lock()
	m, shared := l.mm, l.vmShared
	l.mu.Unlock()
	if shared {
		// Its address space is another process's too: stop only its
		// own thread.
		l.kick()
		return
	}
	if m != nil {
		if as := m.AddressSpace(); as != nil {
			as.Interrupt()
		}
	}
}

// Interrupted returns a channel closed when the task is killed; blocking
// system calls select on it.
func (t *Task) Interrupted() <-chan struct{} { return t.interrupt }

// PPID returns the parent's pid, 0 for init (its parent is outside the
// sandbox).
func (t *Task) PPID() int32 {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	if t.leader.parent == nil {
		return 0
	}
	return t.leader.parent.tid
}

// Wait options.
const (
	WNOHANG    = 0x1
	WUNTRACED  = 0x2
	WEXITED    = 0x4
	WCONTINUED = 0x8
	WNOWAIT    = 0x01000000
	WNOTHREAD  = 0x20000000
	WALL       = 0x40000000
	WCLONE     = 0x80000000
)

// WaitResult is a reaped (or, with WNOWAIT, observed) child, or a stop or
// continue of one.
type WaitResult struct {
	PID       int32
	UID       uint32
	Status    ExitStatus  // how it exited, if it did
	Stopped   unix.Signal // the signal that stopped it (WUNTRACED)
	Continued bool        // continued by SIGCONT (WCONTINUED)
	// CPU is an exited child's usage, its reaped children's included
	// (wait4's rusage); zero for a stop or continue.
	CPU CPUUsage
}

// WaitStatus encodes the status as wait4 reports it.
func (s ExitStatus) WaitStatus() uint32 {
	if s.Signal != 0 {
		return uint32(s.Signal) & 0x7f
	}
	return uint32(s.Code&0xff) << 8
}

// WaitStatus encodes the result as wait4 reports it.
func (r WaitResult) WaitStatus() uint32 {
	switch {
	case r.Stopped != 0:
		return uint32(r.Stopped)<<8 | 0x7f
	case r.Continued:
		return 0xffff
	}
	return r.Status.WaitStatus()
}

// Wait waits for a child to change state. pid selects as in wait4: > 0
// that child, -1 any child, 0 a child in the caller's process group, < -1
// a child in group -pid. options say which changes count: WEXITED (exit),
// WUNTRACED (stop), WCONTINUED (continue). It returns ECHILD without
// matching children, and a zero result with WNOHANG when none has changed.
//
// As on Linux, a wait interrupted by a signal looks at the children once
// more before it fails: the SIGCHLD of a child's exit wakes the waiter
// together with the zombie it can reap, and the wait returns that child
// (with the signal still pending) rather than fail to be restarted.
func (t *Task) Wait(pid int32, options uint32) (WaitResult, error) {
	k := t.k
	var interrupted error
	k.mu.Lock()
	for {
		matched := false
		for c := range t.leader.children {
			switch {
			case pid > 0 && c.tid != pid,
				pid == 0 && c.pgid != t.leader.pgid,
				pid == -1<<31 && c.pgid != 1,
				pid < -1 && pid != -1<<31 && c.pgid != -pid:
				continue
			}
			// A child whose exit signal is not SIGCHLD is a "clone"
			// child: only __WCLONE or __WALL wait for it.
			clone := c.exitSignal != unix.SIGCHLD
			if options&WALL == 0 && clone != (options&WCLONE != 0) {
				continue
			}
			matched = true
			if !c.zombie {
				if r, ok := c.waitJobEventLocked(options); ok {
					k.mu.Unlock()
					return r, nil
				}
				continue
			}
			if options&WEXITED == 0 {
				continue
			}
			r := WaitResult{PID: c.tid, UID: c.creds.UID, Status: c.exitStatus, CPU: c.cpu.final.add(c.cpu.children)}
			if options&WNOWAIT == 0 {
				c.accountReapLocked(t)
				c.reapLocked()
			}
			k.mu.Unlock()
			return r, nil
		}
		if !matched {
			k.mu.Unlock()
			return WaitResult{}, unix.ECHILD
		}
		if options&WNOHANG != 0 {
			k.mu.Unlock()
			return WaitResult{}, nil
		}
		if interrupted != nil {
			k.mu.Unlock()
			return WaitResult{}, interrupted
		}
		interrupted = k.childEvents.WaitLocked(t, &k.mu) // parked
	}
}

// SendSignal sends sig to the process pid from t. Signals to t itself
// follow SendSignalSelf. Another process's handlers cannot run yet
// (delivery comes with the signals work), so a handled signal stays
// pending there; default actions that terminate kill it.
func (t *Task) SendSignal(pid int32, sig unix.Signal) error {
	k := t.k
	k.mu.Lock()
	target := k.tasks[pid]
	if target != nil {
		target = target.leader // kill(2) signals the whole process
	}
	allowed := target != nil && t.maySignalLocked(target, sig)
	k.mu.Unlock()
	if target == t.leader {
		if sig != 0 {
			target.receive(sig, t)
		}
		return nil
	}
	if target == nil {
		return unix.ESRCH
	}
	if !allowed {
		return unix.EPERM
	}
	if target.zombie || sig == 0 {
		return nil // signalling a zombie succeeds and does nothing
	}
	if pid == 1 && sig == unix.SIGKILL {
		return nil // init ignores signals it has no handler for, even SIGKILL from inside
	}
	target.receive(sig, t)
	return nil
}

// maySignalLocked reports whether t may send sig to the process or
// thread target (kill(2)'s rule): within its own process, with CAP_KILL,
// when t's real or effective uid is target's real or saved one, or for
// SIGCONT within t's session.
//
// Preconditions: Kernel.mu is held.
func (t *Task) maySignalLocked(target *Task, sig unix.Signal) bool {
	if target.leader == t.leader {
		return true
	}
	c, tc := t.Creds(), target.Creds()
	if c.HasCap(linux.CAP_KILL) || oneOf(c.EUID, tc.UID, tc.SUID) || oneOf(c.UID, tc.UID, tc.SUID) {
		return true
	}
	return sig == unix.SIGCONT && t.leader.sid == target.leader.sid
}

// SignalAll sends sig to every process but init and the caller (kill -1),
// returning ESRCH if there was none. Processes t may not signal are
// skipped, and that is no error, as on Linux.
func (t *Task) SignalAll(sig unix.Signal, includeSelf bool) error {
	t.k.mu.Lock()
	targets := t.k.processesLocked(func(o *Task) bool {
		return o.tid != 1 && (o != t.leader || includeSelf)
	})
	n := len(targets)
	targets = slices.DeleteFunc(targets, func(o *Task) bool { return !t.maySignalLocked(o, sig) })
	t.k.mu.Unlock()
	if n == 0 {
		return unix.ESRCH
	}
	return t.signalEach(targets, sig)
}

// processesLocked returns the live processes (thread-group leaders that
// are not zombies) for which match is true.
//
// Preconditions: k.mu is held.
func (k *Kernel) processesLocked(match func(*Task) bool) []*Task {
	var ps []*Task
	for _, o := range k.tasks {
		if o.leader == o && !o.zombie && match(o) {
			ps = append(ps, o)
		}
	}
	return ps
}

// signalEach sends sig (0: only the check) from t to each of targets.
func (t *Task) signalEach(targets []*Task, sig unix.Signal) error {
	if sig != 0 {
		for _, o := range targets {
			o.receive(sig, t)
		}
	}
	return nil
}

// receive applies a signal sent by another process.
func (t *Task) receive(sig unix.Signal, from *Task) {
	if sig == unix.SIGKILL {
		t.kill(sig)
		return
	}
	if from.leader != t && t.dropsForInit(sig) {
		return
	}
	t.queueGroupSignal(SigInfo{Signo: int32(sig), Code: SIUser, PID: from.TGID(), UID: from.Creds().UID})
}

// dropsForInit reports whether t, if it is the sandbox's init, discards
// sig sent from inside the sandbox: as for a PID namespace's init, only
// signals it handles or blocks reach it (blocked ones may be handled by
// the time they are unblocked).
func (t *Task) dropsForInit(sig unix.Signal) bool {
	if t.leader.tid != 1 {
		return false
	}
	if act, _ := t.SigAction(int(sig), nil); act.Handler != SigDfl && act.Handler != SigIgn {
		return false
	}
	return t.SigMask()&SigBit(int(sig)) == 0
}

// SignalFromHost passes a signal that moat itself received (SIGINT from a
// terminal, SIGTERM from a supervisor) to the sandbox's init. An init that
// handles the signal gets it; otherwise its default action applies to init
// as if sent from outside the sandbox's PID namespace, so Ctrl-C ends a
// sandbox whose program does not catch it.
func (k *Kernel) SignalFromHost(sig unix.Signal) {
	k.mu.Lock()
	init := k.tasks[1]
	k.mu.Unlock()
	if init == nil || init.zombie {
		return
	}
	act, _ := init.SigAction(int(sig), nil)
	switch {
	case act.Handler == SigIgn:
	case act.Handler != SigDfl:
		init.queueGroupSignal(SigInfo{Signo: int32(sig), Code: SIUser})
	case defaultActionOf(sig) == actTerminate || defaultActionOf(sig) == actCore:
		init.kill(sig)
	}
}

// SignalGroup sends sig to every process in process group pgid (0: the
// caller's) that t may signal: ESRCH if there is none, EPERM if it may
// signal none.
func (t *Task) SignalGroup(pgid int32, sig unix.Signal) error {
	k := t.k
	k.mu.Lock()
	if pgid == 0 {
		pgid = t.leader.pgid
	}
	targets := k.processesLocked(func(o *Task) bool { return o.pgid == pgid })
	n := len(targets)
	targets = slices.DeleteFunc(targets, func(o *Task) bool { return !t.maySignalLocked(o, sig) })
	k.mu.Unlock()
	switch {
	case n == 0:
		return unix.ESRCH
	case len(targets) == 0:
		return unix.EPERM // none of the group may be signalled
	}
	return t.signalEach(targets, sig)
}

// lookupLocked finds a live or zombie process by pid (0: t).
//
// Preconditions: Kernel.mu is held.
func (t *Task) lookupLocked(pid int32) *Task {
	if pid == 0 {
		return t.leader
	}
	if o := t.k.tasks[pid]; o != nil {
		return o.leader
	}
	return nil
}

// Setpgid implements setpgid(2).
func (t *Task) Setpgid(pid, pgid int32) error {
	if pgid < 0 {
		return unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	target := t.lookupLocked(pid)
	self := t.leader
	if target == nil || (target != self && target.parent != self) {
		return unix.ESRCH
	}
	if target != self {
		if target.sid != self.sid {
			return unix.EPERM
		}
		if target.execed {
			return unix.EACCES
		}
	}
	if target.sid == target.tid {
		return unix.EPERM // a session leader cannot change group
	}
	if pgid == 0 {
		pgid = target.tid
	}
	if pgid != target.tid {
		found := false
		for _, o := range k.tasks {
			if o.pgid == pgid && o.sid == self.sid {
				found = true
				break
			}
		}
		if !found {
			return unix.EPERM
		}
	}
	target.pgid = pgid
	return nil
}

// Setsid implements setsid(2): a new session and group led by t.
func (t *Task) Setsid() (int32, error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	self := t.leader
	for _, o := range k.tasks {
		if o.pgid == self.tid {
			return 0, unix.EPERM // already a group leader
		}
	}
	self.sid, self.pgid = self.tid, self.tid
	self.ctty = nil
	return self.sid, nil
}

// Getpgid returns the process group of pid (0: t).
func (t *Task) Getpgid(pid int32) (int32, error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	o := t.lookupLocked(pid)
	if o == nil {
		return 0, unix.ESRCH
	}
	return o.pgid, nil
}

// Getsid returns the session of pid (0: t).
func (t *Task) Getsid(pid int32) (int32, error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	o := t.lookupLocked(pid)
	if o == nil {
		return 0, unix.ESRCH
	}
	return o.sid, nil
}

// Comm returns the task's command name (at most 15 bytes).
func (t *Task) Comm() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.comm != "" {
		return t.comm
	}
	c := t.exePath
	if i := strings.LastIndexByte(c, '/'); i >= 0 {
		c = c[i+1:]
	}
	if len(c) > 15 {
		c = c[:15]
	}
	return c
}

// SetComm sets the command name (PR_SET_NAME), cut to 15 bytes.
func (t *Task) SetComm(c string) {
	if len(c) > 15 {
		c = c[:15]
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.comm = c
}

// ProcessFlags are prctl's per-process switches.
type ProcessFlags struct {
	PdeathSig  unix.Signal
	NoNewPrivs bool
	Dumpable   bool
	Subreaper  bool
}

// Flags returns the prctl switches.
func (t *Task) Flags() ProcessFlags {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	return ProcessFlags{PdeathSig: t.pdeathsig, NoNewPrivs: t.noNewPrivs, Dumpable: t.dumpable, Subreaper: t.subreaper}
}

// SetFlags changes the prctl switches (no_new_privs can only be set).
func (t *Task) SetFlags(f ProcessFlags) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pdeathsig, t.subreaper, t.dumpable = f.PdeathSig, f.Subreaper, f.Dumpable
	t.noNewPrivs = t.noNewPrivs || f.NoNewPrivs
}

// SignalGroupFromHost sends a terminal-generated signal (SIGINT, SIGQUIT
// from moat's terminal) to the sandbox's foreground process group, as the
// terminal would. If the group is empty or is init's, it goes to init as
// SignalFromHost does.
func (k *Kernel) SignalGroupFromHost(pgid int32, sig unix.Signal) {
	k.mu.Lock()
	var targets []*Task
	for _, o := range k.tasks {
		if o.pgid == pgid && !o.zombie && o.tid != 1 {
			targets = append(targets, o)
		}
	}
	k.mu.Unlock()
	if len(targets) == 0 {
		k.SignalFromHost(sig)
		return
	}
	for _, o := range targets {
		if sig == unix.SIGKILL {
			o.kill(sig)
			continue
		}
		o.queueGroupSignal(SigInfo{Signo: int32(sig), Code: SIKernel})
	}
}

// Nice returns the process's nice value (-20..19).
func (t *Task) Nice() int32 {
	t.leader.mu.Lock()
	defer t.leader.mu.Unlock()
	return t.leader.nice
}

// SetNice records the process's nice value.
func (t *Task) SetNice(n int32) {
	t.leader.mu.Lock()
	defer t.leader.mu.Unlock()
	t.leader.nice = n
}

// threadExitGrace is how long an ending process waits for threads it has
// told to stop.
const threadExitGrace = 2 * time.Second
