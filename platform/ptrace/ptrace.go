// Package ptrace is the reference platform: every app address space is an
// otherwise empty stub process (see platform/stub) traced with
// PTRACE_SYSEMU, so each system call and fault of the app stops the stub
// and returns control to the sentry, which serves it and resumes the stub.
//
// Threads: each app thread runs on a host thread of the stub, traced by
// its task's own OS thread (ptrace binds a tracee to one tracer thread).
// A new host thread is cloned by the creating thread's host thread at the
// code page's clone entry, parks in a pause loop, and is seized by the new
// task's OS thread (AdoptThread). Address-space operations are injected
// into the calling task's own host thread, which is stopped while its task
// is in the sentry.
//
// Lock order: addressSpace.mu is a leaf lock.
package ptrace

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/platform"
	"moat/platform/stub"
)

// codePage is where the platform code page lives in every stub: the last
// page below the top of the x86-64 user address range. The app may use
// everything below it.
const codePage = 0x7ffffffff000 - 0x1000

// Platform is the ptrace platform.
type Platform struct {
	memFD   int
	codeOff int64
	prog    *stub.Program
}

var _ platform.Platform = (*Platform)(nil)

// New returns a ptrace platform mapping app memory from memFD. code is a
// page of that file which the platform may use for its own code.
func New(memFD int, code platform.FileRange) (*Platform, error) {
	page := append(append([]byte(nil), stub.InjectCode...), stub.ThreadCode...)
	if _, err := unix.Pwrite(memFD, page, code.Offset); err != nil {
		return nil, fmt.Errorf("writing stub code: %w", err)
	}
	prog, err := stub.NewProgram()
	if err != nil {
		return nil, err
	}
	return &Platform{memFD: memFD, codeOff: code.Offset, prog: prog}, nil
}

// Name implements platform.Platform.
func (p *Platform) Name() string { return "ptrace" }

// MaxUserAddress implements platform.Platform.
func (p *Platform) MaxUserAddress() uintptr { return codePage }

// InitialRegisters implements platform.Platform.
func (p *Platform) InitialRegisters(entry, sp uintptr) arch.Registers {
	return arch.InitialRegisters(entry, sp)
}

// NewContext implements platform.Platform.
func (p *Platform) NewContext() platform.Context { return &context{} }

var (
	_ platform.ThreadSpawner = (*addressSpace)(nil)
	_ platform.Kicker        = (*context)(nil)
)

// addressSpace is one stub process.
type addressSpace struct {
	s *stub.Stub

	mu      sync.Mutex
	threads map[int]int // host thread of the stub, by the sentry OS thread (gettid) tracing it
}

// current returns the stub thread the calling OS thread traces: the one
// it adopted, or the main thread for the OS thread that started the stub.
func (as *addressSpace) current() int {
	as.mu.Lock()
	defer as.mu.Unlock()
	if tid, ok := as.threads[unix.Gettid()]; ok {
		return tid
	}
	return as.s.PID
}

// syscall injects a system call into the calling OS thread's stub thread.
func (as *addressSpace) syscall(nr uintptr, args ...uintptr) (uintptr, error) {
	return as.s.SyscallAt(as.current(), as.s.Code(), nr, args...)
}

// thread is a stub host thread made by SpawnThread, parked until adopted.
type thread struct{ tid int }

// SpawnThread implements platform.ThreadSpawner: the calling task's stub
// thread clones a host thread, which parks (see stub.ThreadCode). The TLS
// base comes with the registers of the first Switch.
func (as *addressSpace) SpawnThread(tls uintptr, setTLS bool) (platform.Thread, error) {
	const flags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM
	tid, err := as.s.SyscallAt(as.current(), as.s.Code()+stub.ThreadCloneEntry, unix.SYS_CLONE, flags, 0, 0, 0, 0)
	if err != nil {
		return nil, err
	}
	return &thread{tid: int(tid)}, nil
}

// AdoptThread implements platform.ThreadSpawner: the calling OS thread
// seizes the parked host thread and stops it, and binds it to its CPU.
func (as *addressSpace) AdoptThread(h platform.Thread) error {
	th := h.(*thread)
	if err := stub.Seize(th.tid); err != nil {
		return as.s.Failed(err)
	}
	as.mu.Lock()
	if as.threads == nil {
		as.threads = make(map[int]int)
	}
	as.threads[unix.Gettid()] = th.tid
	as.mu.Unlock()
	stub.ColocateThread(th.tid)
	return nil
}

// ExitThread implements platform.ThreadSpawner: the calling task's stub
// thread exits (the main thread is left for Release).
func (as *addressSpace) ExitThread() {
	as.mu.Lock()
	tid, ok := as.threads[unix.Gettid()]
	delete(as.threads, unix.Gettid())
	as.mu.Unlock()
	if ok {
		as.s.ExitThread(tid)
	}
}

// CPUTime implements platform.CPUClock.
func (as *addressSpace) CPUTime() time.Duration { return as.s.CPUTime() }

// NewAddressSpace implements platform.Platform. It starts a stub process
// and binds it to the calling thread's CPU (see stub.Colocate).
//
// Preconditions: the calling goroutine is locked to its OS thread.
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	s, err := p.prog.Start(p.memFD, p.codeOff, codePage)
	if err != nil {
		return nil, err
	}
	s.Colocate()
	return &addressSpace{s: s}, nil
}

// MapFile implements platform.AddressSpace.
func (as *addressSpace) MapFile(addr uintptr, fr platform.FileRange, at platform.AccessType) error {
	_, err := as.syscall(unix.SYS_MMAP, addr, fr.Length, uintptr(at.Prot()), unix.MAP_SHARED|unix.MAP_FIXED, stub.MemFD, uintptr(fr.Offset))
	return err
}

// Unmap implements platform.AddressSpace.
func (as *addressSpace) Unmap(addr, length uintptr) error {
	_, err := as.syscall(unix.SYS_MUNMAP, addr, length)
	return err
}

// Protect implements platform.AddressSpace.
func (as *addressSpace) Protect(addr, length uintptr, at platform.AccessType) error {
	_, err := as.syscall(unix.SYS_MPROTECT, addr, length, uintptr(at.Prot()))
	return err
}

// Interrupt implements platform.AddressSpace.
func (as *addressSpace) Interrupt() { as.s.Interrupt() }

// Kick implements platform.AddressSpace: the kick signal stops the stub in
// a signal-delivery-stop, which Switch reports as EventInterrupt.
func (as *addressSpace) Kick() { as.s.Kick() }

// Release implements platform.AddressSpace: it kills and reaps the stub.
func (as *addressSpace) Release() { as.s.Kill() }

// context runs one app thread; the thread's state lives in its stub
// thread, so the context only remembers which one, for Kick.
type context struct {
	as  atomic.Pointer[addressSpace]
	tid atomic.Int32
}

// Kick implements platform.Kicker: it stops this context's stub thread.
func (c *context) Kick() {
	if as, tid := c.as.Load(), c.tid.Load(); as != nil && tid != 0 {
		as.s.KickThread(int(tid))
	}
}

// Switch implements platform.Context.
func (c *context) Switch(pas platform.AddressSpace, regs *arch.Registers) (platform.Event, error) {
	as := pas.(*addressSpace)
	s := as.s
	if s.Dead() {
		return platform.Event{}, platform.ErrAddressSpaceDead
	}
	tid := as.current()
	if c.as.Load() != as || int(c.tid.Load()) != tid {
		// First run here (a new thread, or a new address space after
		// execve): the stub thread may be stopped inside a system call
		// (the park loop's pause); no restart must apply to it.
		regs.Orig_rax = ^uint64(0)
		c.as.Store(as)
		c.tid.Store(int32(tid))
	}
	if err := stub.SetRegs(tid, regs); err != nil {
		return platform.Event{}, s.Failed(err)
	}
	for {
		if err := stub.Resume(unix.PTRACE_SYSEMU, tid, 0); err != nil {
			return platform.Event{}, s.Failed(err)
		}
		ws, err := stub.Wait(tid)
		if err != nil {
			return platform.Event{}, s.Failed(err)
		}
		if !ws.Stopped() {
			s.MarkDead()
			return platform.Event{}, platform.ErrAddressSpaceDead
		}
		switch sig := ws.StopSignal(); sig {
		case unix.SIGTRAP | 0x80:
			if err := stub.GetRegs(tid, regs); err != nil {
				return platform.Event{}, s.Failed(err)
			}
			return platform.Event{Kind: platform.EventSyscall}, nil
		case unix.SIGSEGV, unix.SIGBUS, unix.SIGILL, unix.SIGFPE, unix.SIGTRAP:
			var si stub.Siginfo
			if err := stub.GetSiginfo(tid, &si); err != nil {
				return platform.Event{}, s.Failed(err)
			}
			if si.Code <= 0 {
				continue // sent by a process outside the sandbox: ignore
			}
			if err := stub.GetRegs(tid, regs); err != nil {
				return platform.Event{}, s.Failed(err)
			}
			ev := platform.Event{Kind: platform.EventSignal, Signal: int(sig), Code: si.Code, Addr: uintptr(si.Addr)}
			if sig == unix.SIGSEGV {
				ev.Kind = platform.EventFault
				ev.Access = faultAccess(&si, regs)
			}
			return ev, nil
		case stub.KickSignal:
			if err := stub.GetRegs(tid, regs); err != nil {
				return platform.Event{}, s.Failed(err)
			}
			return platform.Event{Kind: platform.EventInterrupt}, nil
		default:
			// Asynchronous signals aimed at the stub from outside
			// (SIGSTOP, SIGINT, ...) are suppressed: only the sentry
			// signals the app.
		}
	}
}

// SEGV_ACCERR: the page is mapped but the access is not permitted.
const segvAccErr = 2

// faultAccess infers the access type of a page fault. ptrace does not
// expose the hardware error code, so: an instruction fetch faults at rip;
// a fault on a present page (SEGV_ACCERR) of a readable mapping is a
// write; anything else is taken as a read. The memory manager maps faulted
// pages with all of their mapping's permissions, so a wrong guess costs at
// most one more fault, never a wrong result.
func faultAccess(si *stub.Siginfo, regs *arch.Registers) platform.AccessType {
	switch {
	case si.Addr == regs.Rip:
		return platform.AccessType{Read: true, Execute: true}
	case si.Code == segvAccErr:
		return platform.AccessType{Write: true}
	}
	return platform.Read
}

// FPState implements platform.Context.
func (c *context) FPState(pas platform.AddressSpace) (arch.FPState, error) {
	as := pas.(*addressSpace)
	s := as.s
	buf := make([]byte, 16<<10)
	n, err := stub.GetRegset(as.current(), buf)
	if err != nil {
		return nil, s.Failed(err)
	}
	return arch.FPState(buf[:n]), nil
}

// SetFPState implements platform.Context.
func (c *context) SetFPState(pas platform.AddressSpace, fp arch.FPState) error {
	as := pas.(*addressSpace)
	s := as.s
	if len(fp) == 0 {
		return unix.EINVAL
	}
	if err := stub.SetRegset(as.current(), fp); err != nil {
		return s.Failed(err)
	}
	return nil
}

// Release implements platform.Context.
func (c *context) Release() {}
