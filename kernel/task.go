package kernel

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/ktime"
	"moat/loader"
	"moat/mm"
	"moat/park"
	"moat/platform"
	"moat/vfs"
)

// Credentials are a task's user and group ids, its capability sets (bit
// n is capability n, as in man 7 capabilities) and its securebits.
type Credentials struct {
	UID, EUID, SUID, FSUID uint32
	GID, EGID, SGID, FSGID uint32
	Groups                 []uint32

	CapInheritable, CapPermitted, CapEffective, CapBounding, CapAmbient uint64
	Securebits                                                          uint32
}

// Task is one app thread. Its goroutine is locked to an OS thread for its
// whole life: the ptrace platform needs the tracer to be one thread.
type Task struct {
	k   *Kernel
	tid int32

	// Owned by the task goroutine.
	regs    arch.Registers
	ctx     platform.Context
	mm      *mm.MemoryManager
	exePath string

	// lastFault detects a fault that mapping does not fix.
	lastFault      uintptr
	lastFaultCount int

	mu       sync.Mutex
	vmShared bool // mm is the parent's (CLONE_VM without CLONE_THREAD) until exec
	// startFP is the FP state a cloned task starts with, its parent's at
	// the clone (applyStartFP).
	startFP  arch.FPState
	creds    Credentials
	fds      *vfs.FDTable
	fs       *fsContext // shared by the threads of a process
	limits   *Limits
	sig      *signalHandlers
	sigMask  uint64
	sigQueue signalQueue // thread-directed signals, guarded by mu
	altStack SignalStack
	// sigNotify wakes a blocked system call when a signal arrives.
	sigNotify chan struct{}
	// parker is where the task's thread sleeps in a blocking system
	// call (BlockParked): signals, kills and the events it waits for
	// unpark it directly, without the Go scheduler.
	parker park.Parker
	// spawned is set when the task has started a task's goroutine since
	// it last blocked (BlockParked).
	spawned bool
	// inApp is set while the task runs app code on the platform: a new
	// signal then kicks it out.
	inApp atomic.Bool
	// blocked is set while the task waits in a blocking system call.
	blocked atomic.Bool
	// restart is the interrupted system call's ERESTART* code, resolved
	// by the next delivery.
	restart unix.Errno
	// restartBlock continues a call interrupted with ErrRestartBlock
	// (restart_syscall(2)).
	restartBlock func() (uintptr, error)
	// savedMask is the mask to restore after sigsuspend's temporary one.
	savedMask     *uint64
	clearChildTID uintptr
	robustList    uintptr
	exiting       bool
	exitStatus    ExitStatus
	comm          string                      // PR_SET_NAME, /proc/PID/comm
	itimer        atomic.Pointer[ktime.Timer] // ITIMER_REAL, on the leader; set once
	ptimers       *posixTimers                // timer_create's timers, on the leader
	cpuTimers     [2]*cpuTimer                // ITIMER_VIRTUAL and ITIMER_PROF, on the leader
	noNewPrivs    bool
	threadGone    atomic.Bool // a thread past its exit's clear of the tid: not counted (ThreadCount)
	container     string      // the leader's: the container of a pod it belongs to (ProcessArgs.Container)
	dumpable      bool
	// seccomp is the app's own seccomp mode and filters (seccomp.go);
	// nil when it has none.
	seccomp atomic.Pointer[seccompState]
	nice    int32

	// The process tree, guarded by Kernel.mu. A process is its leader
	// task (leader == itself) and the leader's threads.
	leader       *Task
	threads      map[*Task]struct{} // the leader's other threads
	groupExit    bool               // exit_group or a fatal signal: all threads end
	groupCode    ExitStatus         // the process's status (group exit, or the last thread's)
	groupCodeSet bool               // a thread exited after the leader: groupCode holds its status
	leaderDone   bool               // the leader has exited; its threads may go on
	pgid, sid    int32              // process group and session
	ctty         Terminal           // controlling terminal (tty.go), nil if none
	execed       bool               // has called execve (setpgid on it is EACCES)
	pdeathsig    unix.Signal
	subreaper    bool
	parent       *Task
	children     map[*Task]struct{}
	zombie       bool          // exited and not yet reaped
	exitSignal   unix.Signal   // sent to the parent at exit (SIGCHLD)
	vforkDone    chan struct{} // closed when a CLONE_VFORK child execs or exits

	// CPU accounting (cputime.go), on the leader, guarded by Kernel.mu;
	// hostTID is the task's sentry OS thread (0 once the task let it go),
	// and hostCPUBase the thread's CPU time when the task took it.
	cpu         cpuAccount
	hostTID     atomic.Int32
	hostCPUBase atomic.Int64

	// An execve a thread handed to the leader (dethread.go): execReq is
	// guarded by Kernel.mu, execPending mirrors it for lock-free checks.
	execReq     *execRequest
	execPending atomic.Bool

	// Job control (jobctl.go), on the leader, guarded by Kernel.mu.
	jobStop  chan struct{} // non-nil while the process is stopped; closed when continued
	stopSig  unix.Signal   // the signal that stopped it
	waitStop bool          // a stop wait has not reported yet (WUNTRACED)
	waitCont bool          // a continue wait has not reported yet (WCONTINUED)
	stopped  atomic.Bool   // jobStop != nil, readable without the lock

	// killedBy is a signal another task killed this one with; interrupt
	// is closed then, ending blocking system calls.
	killedBy  atomic.Int32
	interrupt chan struct{}
	killOnce  sync.Once
}

// TID returns the task's thread id.
func (t *Task) TID() int32 { return t.tid }

// TGID returns the task's process id: its thread group leader's tid.
func (t *Task) TGID() int32 { return t.leader.tid }

// IsLeader reports whether the task is its process's main thread.
func (t *Task) IsLeader() bool { return t.leader == t }

// Kernel returns the task's kernel.
func (t *Task) Kernel() *Kernel { return t.k }

// MM returns the task's memory manager.
func (t *Task) MM() *mm.MemoryManager {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mm
}

// FDs returns the task's fd table.
func (t *Task) FDs() *vfs.FDTable { return t.fds }

// Regs returns the task's registers (valid during a system call).
func (t *Task) Regs() *arch.Registers { return &t.regs }

// ExePath returns the path of the task's executable.
func (t *Task) ExePath() string { return t.exePath }

// UID implements vfs.Context.
func (t *Task) UID() uint32 { return t.Creds().FSUID }

// GID implements vfs.Context.
func (t *Task) GID() uint32 { return t.Creds().FSGID }

// RealIDs returns the task's real user and group ids (what an AF_UNIX
// socket's SCM_CREDENTIALS reports of its sender).
func (t *Task) RealIDs() (uid, gid uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.creds.UID, t.creds.GID
}

// ProcPID implements proc.Caller: /proc/self names this task's process.
func (t *Task) ProcPID() int32 { return t.leader.tid }

// ProcTID is the task's thread id as /proc/thread-self shows it.
func (t *Task) ProcTID() int32 { return t.tid }

// Creds returns a copy of the task's credentials.
func (t *Task) Creds() Credentials {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.creds
}

// CopyIn copies app memory into dst (EFAULT on a bad address).
func (t *Task) CopyIn(addr uintptr, dst []byte) (int, error) { return t.mm.CopyIn(addr, dst) }

// CopyOut copies src into app memory (EFAULT on a bad address).
func (t *Task) CopyOut(addr uintptr, src []byte) (int, error) { return t.mm.CopyOut(addr, src) }

// CopyInString reads a NUL-terminated string of at most max bytes.
func (t *Task) CopyInString(addr uintptr, max int) (string, error) {
	return t.mm.CopyInString(addr, max)
}

// main is the task goroutine: it builds the address space, loads the
// program, and runs it until the task exits.
func (t *Task) main(pa ProcessArgs, started chan<- error, gate <-chan struct{}, done chan<- ExitStatus) {
	t.bindHostThread()
	defer t.unbindHostThread()
	if err := t.start(pa); err != nil {
		t.release()
		started <- err
		return
	}
	started <- nil
	select {
	case <-gate:
	case <-t.interrupt: // killed before it ran: it dies at its first step
	}
	t.runSafely()
	t.exitProcess()
	done <- t.exitStatus
}

// runSafely runs the task, turning a sentry bug (a panic while serving the
// app) into the app being killed, with the details in the log, rather than
// a crash of the whole sentry with a stack trace.
func (t *Task) runSafely() {
	defer func() {
		if r := recover(); r != nil {
			t.k.log.Error("internal error in the sentry; the app is killed", "tid", t.tid, "panic", r,
				"syscall", t.regs.Orig_rax, "rip", fmt.Sprintf("%#x", t.regs.Rip))
			t.k.log.Debug("stack", "trace", string(debug.Stack()))
			t.exitWithSignal(unix.SIGKILL)
		}
	}()
	t.run()
}

func (t *Task) start(pa ProcessArgs) error {
	k := t.k
	for i, f := range pa.Stdio {
		if f != nil {
			if err := t.fds.InstallAt(f, int32(i), false, t.limits.Get(unix.RLIMIT_NOFILE).Cur); err != nil {
				return err
			}
		}
	}
	ns := k.opts.Mounts
	if pa.Mounts != nil {
		ns = pa.Mounts
	}
	root := ns.Root()
	t.fs = &fsContext{ns: ns, root: root, cwd: root, umask: 0o022}
	if pa.Umask != nil {
		t.fs.umask = *pa.Umask & 0o777
	}
	if pa.Cwd != "" {
		r := &vfs.Resolver{NS: ns, Root: root, Start: root}
		cwd, err := r.Resolve(t, pa.Cwd, true)
		if err != nil {
			return &UserError{Msg: fmt.Sprintf("%s: working directory not found in the sandbox", pa.Cwd)}
		}
		t.fs.cwd = cwd
	}
	f, path, execPath, argv, err := t.openProgram(pa.Path, pa.Argv)
	if err != nil {
		return execError(pa.Path, err)
	}
	defer f.DecRef()
	mf := mappable(t, f)
	if hm, ok := k.opts.Platform.(platform.HostMapping); !ok || !hm.MapsHostFiles() {
		mm.Prefetch(k.opts.MemFile, mf, prefetchMax) // while the address space starts
	}
	as, err := k.opts.Platform.NewAddressSpace()
	if err != nil {
		mf.DecRef()
		return err
	}
	t.mm = mm.New(k.opts.MemFile, as, k.opts.Platform.MaxUserAddress())
	t.mm.SetStackLimit(uintptr(t.limits.Get(unix.RLIMIT_STACK).Cur))
	t.ctx = k.opts.Platform.NewContext()
	res, err := loader.Load(t.mm, mf, k.loaderArgs(t, execPath, argv, pa.Envv))
	mf.DecRef()
	if err != nil {
		return execError(pa.Path, err)
	}
	t.exePath = path
	t.regs = k.opts.Platform.InitialRegisters(res.Entry, res.SP)
	if pa.Seccomp != nil {
		return t.installInitialSeccomp(pa.Seccomp)
	}
	return nil
}

// prefetchMax bounds what of the first program is read ahead (mm.Prefetch).
const prefetchMax = 8 << 20

// UserError is a failure to report to the user as one line.
type UserError struct{ Msg string }

func (e *UserError) Error() string { return e.Msg }

func execError(path string, err error) error {
	var le *loader.Error
	if errors.As(err, &le) {
		return &UserError{Msg: fmt.Sprintf("%s: %s", path, le.Msg)}
	}
	switch err {
	case unix.ENOENT:
		return &UserError{Msg: fmt.Sprintf("%s: no such file in the sandbox", path)}
	case unix.EACCES:
		return &UserError{Msg: fmt.Sprintf("%s: not an executable file (permission denied)", path)}
	case unix.ENOTDIR:
		return &UserError{Msg: fmt.Sprintf("%s: a path component is not a directory", path)}
	case unix.ELOOP:
		return &UserError{Msg: fmt.Sprintf("%s: too many levels of symbolic links", path)}
	}
	if errno, ok := err.(unix.Errno); ok {
		return &UserError{Msg: fmt.Sprintf("%s: %v", path, errno)}
	}
	return err
}

// run is the task's loop: switch to the app, serve what stopped it.
func (t *Task) run() {
	for !t.exiting {
		if sig := t.killedBy.Load(); sig != 0 {
			t.exitKilled(unix.Signal(sig))
			return
		}
		t.deliverSignals()
		if t.execPending.Load() {
			t.runExecRequest()
		}
		if t.exiting {
			return
		}
		if t.regs.Cs != arch.UserCS && t.regs.Cs != user32CS || t.regs.Ss != arch.UserSS {
			// Segments from a signal frame (sigreturn) that the
			// return to the app cannot load: on Linux its IRET
			// faults (#GP), and the app gets a SIGSEGV whose frame
			// holds them.
			t.ForceSignal(SigInfo{Signo: int32(unix.SIGSEGV), Code: SIKernel})
			continue
		}
		t.mm.ApplyPending() // truncations of files it maps
		t.inApp.Store(true)
		if t.deliverable() || t.killedBy.Load() != 0 {
			t.inApp.Store(false) // arrived since delivery: go round again
			continue
		}
		ev, err := t.ctx.Switch(t.mm.AddressSpace(), &t.regs)
		t.inApp.Store(false)
		if err != nil {
			if sig := t.killedBy.Load(); sig != 0 {
				t.exitKilled(unix.Signal(sig))
				return
			}
			t.k.log.Error("app address space failed", "tid", t.tid, "err", err)
			t.exitWithSignal(unix.SIGKILL)
			return
		}
		switch ev.Kind {
		case platform.EventSyscall:
			t.lastFaultCount = 0
			if ev.SyscallInsn {
				t.mm.PatchSyscall(uintptr(t.regs.Rip), t.regs.Orig_rax)
			}
			t.doSyscall(ev.Int80 || !ev.ABIKnown && t.isInt80())
		case platform.EventFault:
			t.handleFault(ev)
		case platform.EventInterrupt:
			// Kicked out of app code to take a signal.
		default:
			if ev.Signal == int(unix.SIGTRAP) && t.mm.RestoredSite(uintptr(t.regs.Rip)) {
				// The int3 that undoing a syscall-site patch puts
				// there for a moment (mm/patch.go): the site is
				// whole again; run it from its start.
				t.regs.Rip--
				continue
			}
			t.k.log.Debug("synchronous signal", "tid", t.tid, "event", ev.String())
			t.ForceSignal(SigInfo{Signo: int32(ev.Signal), Code: ev.Code, Addr: uint64(ev.Addr)})
		}
	}
}

// handleFault resolves a page fault or kills the task with the signal
// Linux would send (delivery to handlers comes with the signals work).
func (t *Task) handleFault(ev platform.Event) {
	if ev.Addr == t.lastFault {
		t.lastFaultCount++
	} else {
		t.lastFault, t.lastFaultCount = ev.Addr, 0
	}
	err := t.mm.HandleFault(ev.Addr, ev.Access)
	if err == nil && t.lastFaultCount < 3 {
		return
	}
	// si_code comes from the sandbox's memory map, not the host's (which
	// maps pages lazily): a mapped address is SEGV_ACCERR.
	sig, code := unix.SIGSEGV, int32(1) // SEGV_MAPERR
	switch {
	case err == mm.ErrBus:
		sig, code = unix.SIGBUS, 2 // BUS_ADRERR
	case t.mm.Mapped(ev.Addr):
		code = 2 // SEGV_ACCERR
	}
	t.k.log.Debug("fault raises a signal", "tid", t.tid, "event", ev.String(), "rip", fmt.Sprintf("%#x", t.regs.Rip), "err", err)
	t.lastFaultCount = 0
	t.ForceSignal(SigInfo{Signo: int32(sig), Code: code, Addr: uint64(ev.Addr)})
}

// exit ends the task with an exit code.
func (t *Task) exit(code int) {
	t.exiting = true
	t.exitStatus = ExitStatus{Code: code & 0xff}
}

// exitKilled ends a task that was told to stop (killedBy): with its whole
// process if the process is being killed or exiting, or alone if it is a
// thread that its process's execve ends.
func (t *Task) exitKilled(sig unix.Signal) {
	t.k.mu.Lock()
	group := t.leader.groupExit
	t.k.mu.Unlock()
	if group || t.leader == t {
		t.exitWithSignal(sig)
		return
	}
	t.exiting = true
	t.exitStatus = ExitStatus{Signal: sig}
}

// exitWithSignal ends the process as killed by sig: every thread.
func (t *Task) exitWithSignal(sig unix.Signal) {
	t.exitGroup(ExitStatus{Signal: sig})
}

// leaveSharedVM ends the calling task's host thread in m, an address
// space it shares with the process that cloned it (CLONE_VM).
func leaveSharedVM(m *mm.MemoryManager) {
	if sp, ok := m.AddressSpace().(platform.ThreadSpawner); ok {
		sp.ExitThread()
	}
}

// release frees the task's resources (address space, files).
func (t *Task) release() {
	if m := t.releaseButMemory(); m != nil {
		m.Release()
	}
}

// releaseButMemory frees the task's resources but its memory manager if
// it shares it with no other task, which it returns (nil if none) for the
// caller to release.
func (t *Task) releaseButMemory() *mm.MemoryManager {
	t.mu.Lock()
	m, shared := t.mm, t.vmShared
	t.mm, t.vmShared = nil, false
	t.mu.Unlock()
	if shared {
		leaveSharedVM(m)
		m = nil
	}
	if t.ctx != nil {
		t.ctx.Release()
	}
	t.fds.Drop()
	return m
}
