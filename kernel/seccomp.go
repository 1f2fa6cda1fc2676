package kernel

import (
	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/arch"
	"moat/bpf"
)

// seccomp(2) for the app, enforced here (never on the host): strict mode
// and stacks of classic BPF filters, run on every system call a task
// makes before its handler, as Linux's __secure_computing does. A task
// with neither pays one nil check per call.
//
// A task's seccomp state is an immutable seccompState behind an atomic
// pointer: the task's goroutine loads it lock-free on each system call;
// every change (seccomp(2), prctl, TSYNC from another thread, an execve
// handed over by a thread) stores a new one with Kernel.mu held, so that
// TSYNC's check of the other threads and its update are one step.

// seccompState is a task's mode and, in filter mode, its filters.
type seccompState struct {
	mode   int            // linux.SECCOMP_MODE_STRICT or _FILTER
	filter *seccompFilter // the newest filter; nil in strict mode
}

// seccompFilter is one installed filter. Filters form a chain, newest
// first, shared by the tasks that inherited them.
type seccompFilter struct {
	prog  *bpf.Program
	log   bool // SECCOMP_FILTER_FLAG_LOG
	prev  *seccompFilter
	count int // filters in the chain from this one
}

// strictAllowed are the calls strict mode lets through: read, write,
// exit and rt_sigreturn (exit_group is not among them), and their 32-bit
// numbers for int $0x80.
var (
	strictAllowed   = [...]uint32{unix.SYS_READ, unix.SYS_WRITE, unix.SYS_EXIT, unix.SYS_RT_SIGRETURN}
	strictAllowed32 = [...]uint32{3, 4, 1, 119}
)

// Seccomp returns the task's seccomp mode (SECCOMP_MODE_*) and how many
// filters it has (/proc/PID/status, PR_GET_SECCOMP).
func (t *Task) Seccomp() (mode, filters int) {
	sc := t.seccomp.Load()
	if sc == nil {
		return linux.SECCOMP_MODE_DISABLED, 0
	}
	if sc.filter != nil {
		filters = sc.filter.count
	}
	return sc.mode, filters
}

// SetSeccompStrict puts the task in strict mode: EINVAL if it has
// filters.
func (t *Task) SetSeccompStrict() error {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	if sc := t.seccomp.Load(); sc != nil && sc.mode != linux.SECCOMP_MODE_STRICT {
		return unix.EINVAL
	}
	t.seccomp.Store(&seccompState{mode: linux.SECCOMP_MODE_STRICT})
	return nil
}

// SetSeccompFilter adds prog to the task's filters, with the
// SECCOMP_SET_MODE_FILTER flags TSYNC, TSYNC_ESRCH and LOG (others are the
// caller's to check). It fails with EINVAL in strict mode and ENOMEM when
// the task's filters would exceed SeccompMaxProgInsns instructions,
// counted as Linux counts them (bpf.Program.KernelLen, and 4 more per
// existing filter). With TSYNC every
// other thread of the process gets the same filters, and no_new_privs if
// the caller has it; if one cannot (it is in strict mode, or has filters
// that are not an ancestor of the caller's) nothing changes and its tid
// is returned, or ESRCH with TSYNC_ESRCH.
func (t *Task) SetSeccompFilter(prog *bpf.Program, flags uint32) (int32, error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	cur := t.seccomp.Load()
	var old *seccompFilter
	if cur != nil {
		if cur.mode != linux.SECCOMP_MODE_FILTER {
			return 0, unix.EINVAL
		}
		old = cur.filter
	}
	total := prog.KernelLen()
	for f := old; f != nil; f = f.prev {
		total += f.prog.KernelLen() + 4
	}
	if total > linux.SeccompMaxProgInsns {
		return 0, unix.ENOMEM
	}
	var others []*Task
	if flags&linux.SECCOMP_FILTER_FLAG_TSYNC != 0 {
		l := t.leader
		if l != t && !l.leaderDone {
			others = append(others, l)
		}
		for o := range l.threads {
			if o != t && o.killedBy.Load() == 0 {
				others = append(others, o)
			}
		}
		for _, o := range others {
			osc := o.seccomp.Load()
			if osc == nil || osc.mode == linux.SECCOMP_MODE_FILTER && isAncestor(osc.filter, old) {
				continue
			}
			if flags&linux.SECCOMP_FILTER_FLAG_TSYNC_ESRCH != 0 {
				return 0, unix.ESRCH
			}
			return o.tid, nil
		}
	}
	f := &seccompFilter{prog: prog, log: flags&linux.SECCOMP_FILTER_FLAG_LOG != 0, prev: old, count: 1}
	if old != nil {
		f.count += old.count
	}
	sc := &seccompState{mode: linux.SECCOMP_MODE_FILTER, filter: f}
	t.seccomp.Store(sc)
	if len(others) > 0 {
		t.mu.Lock()
		nnp := t.noNewPrivs
		t.mu.Unlock()
		for _, o := range others {
			o.seccomp.Store(sc)
			if nnp {
				o.mu.Lock()
				o.noNewPrivs = true
				o.mu.Unlock()
			}
		}
	}
	return 0, nil
}

// isAncestor reports whether parent is child or one of its predecessors
// (nil is everyone's ancestor).
func isAncestor(parent, child *seccompFilter) bool {
	if parent == nil {
		return true
	}
	for ; child != nil; child = child.prev {
		if child == parent {
			return true
		}
	}
	return false
}

// installInitialSeccomp gives a sandbox's first task the filter its
// runtime asked for (ProcessArgs.Seccomp), before it runs anything.
func (t *Task) installInitialSeccomp(insns []linux.SockFilter) error {
	prog, err := bpf.Compile(insns)
	if err != nil {
		return &UserError{Msg: "the process's seccomp filter is not a valid program (as seccomp(2) would refuse it)"}
	}
	_, err = t.SetSeccompFilter(prog, 0)
	return err
}

// seccompCheck runs the task's strict mode or filters on the system call
// it is stopped at (nr, args; int80 for the 32-bit entry) and carries out
// the action. It returns true if the call is to run; otherwise the call is
// skipped with ret already in rax (or the task is exiting).
func (t *Task) seccompCheck(sc *seccompState, nr uintptr, args arch.SyscallArgs, int80 bool) (ret uintptr, run bool) {
	auditArch := uint32(linux.AUDIT_ARCH_X86_64)
	if int80 {
		auditArch = linux.AUDIT_ARCH_I386
		r := &t.regs
		args = arch.SyscallArgs{uintptr(uint32(r.Rbx)), uintptr(uint32(r.Rcx)), uintptr(uint32(r.Rdx)),
			uintptr(uint32(r.Rsi)), uintptr(uint32(r.Rdi)), uintptr(uint32(r.Rbp))}
	}
	if sc.mode == linux.SECCOMP_MODE_STRICT {
		allowed := strictAllowed[:]
		if int80 {
			allowed = strictAllowed32[:]
		}
		for _, a := range allowed {
			if uint32(nr) == a && nr>>32 == 0 {
				return 0, true
			}
		}
		t.k.log.Debug("seccomp strict mode kills the thread", "tid", t.tid, "nr", nr)
		t.seccompKillThread(unix.SIGKILL)
		return 0, false
	}
	d := bpf.MakeData(linux.SeccompData{
		Nr:                 int32(nr),
		Arch:               auditArch,
		InstructionPointer: t.regs.Rip,
		Args:               [6]uint64{uint64(args[0]), uint64(args[1]), uint64(args[2]), uint64(args[3]), uint64(args[4]), uint64(args[5])},
	})
	// Every filter runs; the action that comes first in precedence wins
	// (the most negative as a signed action, KILL_PROCESS first), and
	// among equal actions the newest filter's.
	result := uint32(linux.SECCOMP_RET_ALLOW)
	var match *seccompFilter
	for f := sc.filter; f != nil; f = f.prev {
		r := f.prog.Run(&d)
		if int32(r&linux.SECCOMP_RET_ACTION_FULL) < int32(result&linux.SECCOMP_RET_ACTION_FULL) {
			result, match = r, f
		}
	}
	data := result & linux.SECCOMP_RET_DATA
	switch result & linux.SECCOMP_RET_ACTION_FULL {
	case linux.SECCOMP_RET_ALLOW:
		return 0, true
	case linux.SECCOMP_RET_LOG:
		t.k.log.Info("seccomp: system call logged", "tid", t.tid, "nr", nr, "name", linux.SyscallName(nr))
		return 0, true
	case linux.SECCOMP_RET_ERRNO:
		ret = errnoRet(unix.Errno(min(data, linux.MAX_ERRNO)))
	case linux.SECCOMP_RET_TRAP:
		// The handler sees the original registers: rax is the system
		// call number again, and stays so if the handler returns.
		ret = uintptr(t.regs.Orig_rax)
		t.ForceSignal(SigInfo{Signo: int32(unix.SIGSYS), Code: linux.SYS_SECCOMP, Addr: t.regs.Rip,
			Errno: int32(data), Syscall: int32(nr), Arch: auditArch})
	case linux.SECCOMP_RET_TRACE, linux.SECCOMP_RET_USER_NOTIF:
		// No tracer can be attached, and no listener (NEW_LISTENER is
		// refused): Linux fails the call with ENOSYS in both cases.
		ret = errnoRet(unix.ENOSYS)
	case linux.SECCOMP_RET_KILL_THREAD:
		t.seccompLogKill(match, nr)
		t.seccompKillThread(unix.SIGSYS)
		return 0, false
	default: // SECCOMP_RET_KILL_PROCESS, and unknown actions
		t.seccompLogKill(match, nr)
		t.exitWithSignal(unix.SIGSYS)
		return 0, false
	}
	if match != nil && match.log {
		t.k.log.Info("seccomp: system call not run", "tid", t.tid, "nr", nr, "name", linux.SyscallName(nr), "action", result)
	}
	arch.SetReturn(&t.regs, ret)
	return ret, false
}

func (t *Task) seccompLogKill(match *seccompFilter, nr uintptr) {
	t.k.log.Debug("seccomp filter kills", "tid", t.tid, "nr", nr, "name", linux.SyscallName(nr))
}

// seccompKillThread ends the calling thread as killed by sig, or its
// whole process (as a fatal signal would) if it is the last live thread,
// as Linux's do_exit and the core-dump path of seccomp do.
func (t *Task) seccompKillThread(sig unix.Signal) {
	k := t.k
	k.mu.Lock()
	l := t.leader
	live := len(l.threads)
	if !l.leaderDone {
		live++
	}
	k.mu.Unlock()
	if live <= 1 {
		t.exitWithSignal(sig)
		return
	}
	t.exiting = true
	t.exitStatus = ExitStatus{Signal: sig}
}

// errnoRet is the rax value of a call failing with e.
func errnoRet(e unix.Errno) uintptr { return uintptr(-int64(e)) }
