package kernel

import (
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"moat/platform"
	"moat/vfs"
)

// Threads. A process is its leader task (leader == itself) and the
// leader's other threads, which share its memory, files, filesystem
// context and signal handlers, and run on host threads of the same
// address space (platform.ThreadSpawner). exit ends one thread, exit_group
// and fatal signals end all; the leader ends last, and its status is the
// process's.

// shareOrCopyFDs returns the fd table of a task t clones with flags: t's
// own with CLONE_FILES, else a copy.
func (t *Task) shareOrCopyFDs(flags uint64) *vfs.FDTable {
	if flags&CloneFiles != 0 {
		return t.fds.Share()
	}
	return t.fds.Fork()
}

// shareOrCopyFS returns the filesystem context (root, cwd, umask) of a
// task t clones with flags: t's own with CLONE_FS, else a copy.
func (t *Task) shareOrCopyFS(flags uint64) *fsContext {
	if flags&CloneFS != 0 {
		return t.fs
	}
	return t.fs.copy()
}

// cloneThread creates a thread of the caller's process (CLONE_THREAD).
func (t *Task) cloneThread(a CloneArgs) (int32, error) {
	const need = CloneVM | CloneSighand
	f := a.Flags
	switch {
	case f&need != need:
		return 0, unix.EINVAL
	case f&(cloneNamespaces|CloneVfork|ClonePidfd|CloneParent) != 0:
		return 0, unix.EINVAL
	}
	if err := a.checkTLS(); err != nil {
		return 0, err
	}
	sp, ok := t.mm.AddressSpace().(platform.ThreadSpawner)
	if !ok {
		return 0, unix.ENOSYS // support: the platform runs no threads
	}
	t.k.mu.Lock()
	err := t.checkNprocLocked()
	t.k.mu.Unlock()
	if err != nil {
		return 0, err
	}
	h, err := sp.SpawnThread(a.TLS, f&CloneSettls != 0)
	if err != nil {
		if err != unix.EAGAIN {
			t.k.log.Error("cannot create a host thread", "tid", t.tid, "err", err)
		}
		return 0, unix.EAGAIN
	}
	k := t.k
	k.mu.Lock()
	tid := k.nextTID
	k.nextTID++
	leader := t.leader
	t.mu.Lock()
	c := &Task{
		k:          k,
		tid:        tid,
		leader:     leader,
		regs:       t.regs,
		mm:         t.mm,
		exePath:    t.exePath,
		creds:      t.creds,
		fds:        t.shareOrCopyFDs(f),
		fs:         t.shareOrCopyFS(f),
		limits:     t.limits,
		sig:        t.sig,
		sigMask:    t.sigMask,
		comm:       t.comm,
		dumpable:   t.dumpable,
		noNewPrivs: t.noNewPrivs,
		interrupt:  make(chan struct{}),
		sigNotify:  make(chan struct{}, 1),
		ctx:        k.opts.Platform.NewContext(),
	}
	t.mu.Unlock()
	c.seccomp.Store(t.seccomp.Load())
	leader.threads[c] = struct{}{}
	k.addTaskLocked(c)
	k.mu.Unlock()

	c.startCloned(t, a, t.mm, tid)
	go c.threadMain(sp, h)
	t.spawned = true
	return tid, nil
}

// threadMain is a thread's goroutine: it adopts its host thread and runs.
func (t *Task) threadMain(sp platform.ThreadSpawner, h platform.Thread) {
	t.bindHostThread()
	defer t.unbindHostThread()
	if err := sp.AdoptThread(h); err != nil {
		t.k.log.Error("cannot start a thread", "tid", t.tid, "err", err)
		t.exitWithSignal(unix.SIGKILL)
	} else {
		t.applyStartFP()
		t.runSafely()
	}
	t.finish()
}

// bindHostThread locks the task's goroutine to its OS thread, which drives
// the task's platform context from now on, and starts counting the
// thread's CPU time as the task's.
func (t *Task) bindHostThread() {
	runtime.LockOSThread()
	PreciseSleeps()
	tid := unix.Gettid()
	t.hostCPUBase.Store(int64(hostThreadCPU(tid)))
	t.hostTID.Store(int32(tid))
}

// PreciseSleeps sets the calling OS thread's timer slack to 1 ns, down
// from Linux's default 50 us; threads it creates inherit it. The Go
// scheduler sleeps 3 us before it takes a goroutine that another thread
// has just made runnable but still holds (the goroutine of a forked
// child, made by its parent's), and with the default slack that sleep
// lasted 50 us or more: 81 us from the goroutine's creation to its start
// (median of 50 forks, from a runtime trace), 29 us with the slack at
// 1 ns. Task threads set it (bindHostThread), and so should the main
// thread before it starts others.
func PreciseSleeps() {
	unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
}

// PreciseSleepsEverywhere is PreciseSleeps for the calling thread and
// every other thread of the process, through /proc/TID/timerslack_ns
// (which needs CAP_SYS_NICE; without it the others keep theirs). The one
// that matters is the Go runtime's sysmon, started before any init runs:
// it takes the P of a thread blocked in a system call (a task parked in
// BlockParked) away for goroutines that need one, and sleeps 20 us between
// looks, 70 us with the default slack. Measured (sh -c loop of 200
// /bin/true, 25 interleaved runs, medians): 376 -> 316 ms.
func PreciseSleepsEverywhere() {
	PreciseSleeps()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	self := strconv.Itoa(unix.Gettid())
	for _, e := range tasks {
		if e.Name() != self {
			os.WriteFile("/proc/"+e.Name()+"/timerslack_ns", []byte("1"), 0)
		}
	}
}

// unbindHostThread lets the task's OS thread go when the task has ended:
// back to the Go scheduler, for the next task, if the platform leaves
// nothing on it (platform.ThreadReuser); otherwise it stays locked and
// exits with the goroutine. Measured on seccomp (fork+exit+wait, 300
// iterations, medians of 2 runs each): exit to the parent's wait
// returning 210 -> 150 us, the whole iteration 670 -> 625 us.
func (t *Task) unbindHostThread() {
	r, ok := t.k.opts.Platform.(platform.ThreadReuser)
	if !ok || !r.SentryThreadsReusable() {
		return
	}
	t.hostTID.Store(0)
	runtime.UnlockOSThread()
}

// finish ends a task after it stopped running: a thread leaves its
// process; a leader ends the process once its threads are gone.
func (t *Task) finish() {
	if t.leader != t {
		t.exitThread()
		return
	}
	t.exitProcess()
}

// clearTID does CLONE_CHILD_CLEARTID's work at exit: zero the word and
// wake a waiter (pthread_join).
func (t *Task) clearTID() {
	if t.clearChildTID == 0 || t.mm == nil {
		return
	}
	putTID(t.mm, t.clearChildTID, 0)
	t.futexWakeShared(t.clearChildTID, 1)
}

// exitThread ends a non-leader thread.
func (t *Task) exitThread() {
	t.accountThreadExit()
	defer t.fds.Drop()
	t.exitRobustList()
	// A thread that pthread_join can see gone (its tid cleared) is no
	// longer one of the process's threads, though it finishes leaving.
	t.threadGone.Store(true)
	t.clearTID()
	if sp, ok := t.mm.AddressSpace().(platform.ThreadSpawner); ok {
		sp.ExitThread()
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	l := t.leader
	delete(l.threads, t)
	delete(k.tasks, t.tid)
	if !l.groupExit && l.leaderDone {
		l.groupCode, l.groupCodeSet = t.exitStatus, true // the last thread's status is the process's
	}
	k.childEventLocked()
}

// exitGroup ends every thread of the process with status st (exit_group,
// a fatal signal).
func (t *Task) exitGroup(st ExitStatus) {
	k := t.k
	k.mu.Lock()
	l := t.leader
	if !l.groupExit {
		l.groupExit, l.groupCode = true, st
	}
	var others []*Task
	if l != t {
		others = append(others, l)
	}
	for o := range l.threads {
		if o != t {
			others = append(others, o)
		}
	}
	k.mu.Unlock()
	t.exiting = true
	t.exitStatus = st
	for _, o := range others {
		o.stop()
	}
}

// stop makes a task leave app code and exit, from any goroutine.
func (t *Task) stop() {
	t.interruptBy(unix.SIGKILL)
	t.kick()
}

// interruptBy marks t as killed by sig (the first mark counts) and ends
// any blocking call of its: the interrupt channel closes and its Parker is
// unparked. Any goroutine may call it.
func (t *Task) interruptBy(sig unix.Signal) {
	t.killedBy.CompareAndSwap(0, int32(sig))
	t.killOnce.Do(func() { close(t.interrupt) })
	t.parker.Unpark()
}

// kick stops the task's app code: its own host thread if the platform can
// tell threads apart, else the address space's first.
func (t *Task) kick() {
	if k, ok := t.ctx.(platform.Kicker); ok {
		k.Kick()
		return
	}
	t.mu.Lock()
	m := t.mm
	t.mu.Unlock()
	if m != nil {
		if as := m.AddressSpace(); as != nil {
			as.Kick()
		}
	}
}

// pickThread returns the thread of t's process to wake for a
// process-directed signal: the first that does not block it, else the
// leader.
func (t *Task) pickThread(sig unix.Signal) *Task {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.pickThreadLocked(sig)
}

// pickThreadLocked is pickThread with the kernel lock held.
//
// Preconditions: Kernel.mu is held.
func (t *Task) pickThreadLocked(sig unix.Signal) *Task {
	l := t.leader
	cands := []*Task{l}
	for o := range l.threads {
		cands = append(cands, o)
	}
	for _, o := range cands {
		o.mu.Lock()
		blocked := o.sigMask&SigBit(int(sig)) != 0
		o.mu.Unlock()
		if !blocked && o.killedBy.Load() == 0 {
			return o
		}
	}
	return l
}

// waitThreads waits until the leader t's other threads have ended. It
// stops them first if force is set or the process is exiting as a group;
// a stopping wait gives up when grace fires (nil: never).
//
// Preconditions: t is the leader.
func (t *Task) waitThreads(force bool, grace <-chan time.Time) {
	k := t.k
	for {
		k.mu.Lock()
		n, ev := len(t.threads), k.childEvents.Chan()
		stopping := force || t.groupExit
		if stopping {
			for o := range t.threads {
				o.stop()
			}
		}
		k.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ev:
		case <-grace:
			if stopping {
				return
			}
		}
	}
}

// childEventLocked wakes everyone waiting for a task to end.
//
// Preconditions: Kernel.mu is held.
func (k *Kernel) childEventLocked() {
	k.childEvents.Notify()
}

// ThreadIDs lists the tids of the threads of t's process, the leader's
// first, the others in increasing order (/proc/PID/task).
func (t *Task) ThreadIDs() []int32 {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	l := t.leader
	var rest []int32
	for th := range l.threads {
		rest = append(rest, th.tid)
	}
	slices.Sort(rest)
	return append([]int32{l.tid}, rest...)
}

// UnshareFiles gives t its own copy of an fd table it shares with other
// processes (unshare(CLONE_FILES)).
func (t *Task) UnshareFiles() {
	if !t.fds.Shared() {
		return
	}
	old := t.fds
	t.mu.Lock()
	t.fds = old.Fork()
	t.mu.Unlock()
	old.Drop()
}
