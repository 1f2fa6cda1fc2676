package kernel

import (
	"fmt"

	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/arch"
	"moat/strace"
)

// SyscallFunc serves one system call. It returns the value for rax or an
// error: a unix.Errno becomes -errno; anything else is a sentry bug and is
// reported as EINVAL with a log line.
type SyscallFunc func(t *Task, a arch.SyscallArgs) (uintptr, error)

// Support is how completely a system call is implemented.
type Support int

// Support levels.
const (
	Unimplemented Support = iota
	Partial
	Full
)

func (s Support) String() string {
	switch s {
	case Full:
		return "full"
	case Partial:
		return "partial"
	}
	return "not implemented"
}

// Syscall is one entry of the table.
type Syscall struct {
	Name    string
	Fn      SyscallFunc
	Support Support
	Note    string // what is missing, for partial and unimplemented calls
}

// maxSyscall bounds the table: x86-64 numbers stop below 512 (the x32
// range starts there and is not supported).
const maxSyscall = 511

// SyscallTable maps x86-64 system call numbers to their implementations.
type SyscallTable struct {
	calls [maxSyscall + 1]*Syscall
}

// Register adds a system call; registering a number twice is a bug.
func (st *SyscallTable) Register(nr uintptr, s Syscall) {
	if nr > maxSyscall || st.calls[nr] != nil {
		panic(fmt.Sprintf("syscall %d registered twice or out of range", nr))
	}
	if s.Name == "" {
		s.Name = linux.SyscallName(nr)
	}
	st.calls[nr] = &s
}

// Each calls fn for every registered system call in number order.
func (st *SyscallTable) Each(fn func(nr uintptr, s *Syscall)) {
	for nr, s := range st.calls {
		if s != nil {
			fn(uintptr(nr), s)
		}
	}
}

// Lookup returns the entry for nr, or nil.
func (st *SyscallTable) Lookup(nr uintptr) *Syscall {
	if nr > maxSyscall {
		return nil
	}
	return st.calls[nr]
}

// errExit unwinds a task that has exited from its syscall.
var errExit = fmt.Errorf("task exited")

// errRegsRestored ends a system call that replaced all registers
// (rt_sigreturn): rax must not be overwritten with a result.
var errRegsRestored = fmt.Errorf("registers restored")

// doSyscall serves the system call the task is stopped at, which came
// from `int $0x80` if int80. With --strace each call is printed as
// strace -f prints it (straceLine).
func (t *Task) doSyscall(int80 bool) {
	nr := arch.SyscallNo(&t.regs)
	args := arch.Args(&t.regs)
	var ret uintptr
	var err error
	var traced string // the call as --strace prints it, rendered at entry
	if t.k.opts.Strace != nil && strace.AtEntry(nr) {
		traced = strace.FormatCall(nr, args, 0, t)
	}
	if sc := t.seccomp.Load(); sc != nil {
		// The app's own seccomp filters decide first (seccomp.go).
		if ret, run := t.seccompCheck(sc, nr, args, int80); !run {
			if t.k.opts.Strace != nil && !t.exiting {
				t.straceLine(traced, nr, args, ret)
			}
			return
		}
	}
	s := t.k.syscalls.Lookup(nr)
	if int80 {
		// The 32-bit system-call ABI (int $0x80 from 64-bit code) is
		// not supported: its numbers and arguments mean other things.
		t.k.log.Debug("32-bit system call refused", "nr", nr, "pid", t.tid)
		s = nil
	}
	if s != nil && s.Fn != nil {
		ret, err = s.Fn(t, args)
	} else {
		t.k.log.Debug("unsupported system call", "nr", nr, "name", linux.SyscallName(nr), "pid", t.tid)
		err = unix.ENOSYS
	}
	if err == errRegsRestored {
		return
	}
	if errno, ok := err.(unix.Errno); ok && isRestart(errno) {
		// Interrupted by a signal: deliverSignals restarts the call or
		// makes it fail with EINTR.
		t.restart = errno
		arch.SetReturn(&t.regs, uintptr(^uint64(unix.EINTR)+1))
		if t.k.opts.Strace != nil {
			t.straceLine(traced, nr, args, uintptr(^uint64(errno)+1))
		}
		return
	}
	if err == errExit {
		if t.k.opts.Strace != nil {
			t.straceLine(traced, nr, args, 0)
		}
		return
	}
	if err != nil {
		errno, ok := err.(unix.Errno)
		if !ok {
			t.k.log.Error("system call failed inside the sentry", "name", linux.SyscallName(nr), "err", err)
			errno = unix.EINVAL
		}
		ret = uintptr(-int64(errno))
	}
	arch.SetReturn(&t.regs, ret)
	if t.k.opts.Strace != nil {
		t.straceLine(traced, nr, args, ret)
	}
}

// straceLine prints a completed system call for --strace: call is its
// name and arguments if rendered at entry (strace.AtEntry), else "".
func (t *Task) straceLine(call string, nr uintptr, args [6]uintptr, ret uintptr) {
	if call == "" {
		call = strace.FormatCall(nr, args, ret, t)
	}
	if t.k.manyTasks.Load() {
		call = fmt.Sprintf("[pid %5d] %s", t.tid, call)
	}
	fmt.Fprintln(t.k.opts.Strace, call+strace.FormatResult(nr, args, ret, t))
}

// isInt80 reports whether the system-call stop came from `int $0x80`
// rather than `syscall`: ptrace reports both the same way.
func (t *Task) isInt80() bool {
	var insn [2]byte
	if _, err := t.mm.CopyIn(uintptr(t.regs.Rip)-2, insn[:]); err != nil {
		return false
	}
	return insn[0] == 0xcd && insn[1] == 0x80
}
