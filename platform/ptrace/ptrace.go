// Package ptrace is the reference platform: every app address space is an
// otherwise empty stub process (see platform/stub) traced with
// PTRACE_SYSEMU, so each system call and fault of the app stops the stub
// and returns control to the sentry, which serves it and resumes the stub.
//
// Every operation on an AddressSpace or Context must come from the OS
// thread that created the address space: the kernel runs each task on a
// goroutine locked to its OS thread. There are no locks: an address space
// is used by one thread only.
package ptrace

import (
	"fmt"
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
	if _, err := unix.Pwrite(memFD, stub.InjectCode, code.Offset); err != nil {
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

// addressSpace is one stub process.
type addressSpace struct {
	s *stub.Stub
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
	_, err := as.s.Syscall(unix.SYS_MMAP, addr, fr.Length, uintptr(at.Prot()), unix.MAP_SHARED|unix.MAP_FIXED, stub.MemFD, uintptr(fr.Offset))
	return err
}

// Unmap implements platform.AddressSpace.
func (as *addressSpace) Unmap(addr, length uintptr) error {
	_, err := as.s.Syscall(unix.SYS_MUNMAP, addr, length)
	return err
}

// Protect implements platform.AddressSpace.
func (as *addressSpace) Protect(addr, length uintptr, at platform.AccessType) error {
	_, err := as.s.Syscall(unix.SYS_MPROTECT, addr, length, uintptr(at.Prot()))
	return err
}

// Interrupt implements platform.AddressSpace.
func (as *addressSpace) Interrupt() { as.s.Interrupt() }

// Kick implements platform.AddressSpace: the kick signal stops the stub in
// a signal-delivery-stop, which Switch reports as EventInterrupt.
func (as *addressSpace) Kick() { as.s.Kick() }

// Release implements platform.AddressSpace: it kills and reaps the stub.
func (as *addressSpace) Release() { as.s.Kill() }

// context runs app threads; under ptrace the thread state lives in the
// stub, so the context itself holds nothing.
type context struct{}

// Switch implements platform.Context.
func (c *context) Switch(pas platform.AddressSpace, regs *arch.Registers) (platform.Event, error) {
	s := pas.(*addressSpace).s
	if s.Dead() {
		return platform.Event{}, platform.ErrAddressSpaceDead
	}
	if err := stub.SetRegs(s.PID, regs); err != nil {
		return platform.Event{}, s.Failed(err)
	}
	for {
		if err := stub.Resume(unix.PTRACE_SYSEMU, s.PID, 0); err != nil {
			return platform.Event{}, s.Failed(err)
		}
		ws, err := stub.Wait(s.PID)
		if err != nil {
			return platform.Event{}, s.Failed(err)
		}
		if !ws.Stopped() {
			s.MarkDead()
			return platform.Event{}, platform.ErrAddressSpaceDead
		}
		switch sig := ws.StopSignal(); sig {
		case unix.SIGTRAP | 0x80:
			if err := stub.GetRegs(s.PID, regs); err != nil {
				return platform.Event{}, s.Failed(err)
			}
			return platform.Event{Kind: platform.EventSyscall}, nil
		case unix.SIGSEGV, unix.SIGBUS, unix.SIGILL, unix.SIGFPE, unix.SIGTRAP:
			var si stub.Siginfo
			if err := stub.GetSiginfo(s.PID, &si); err != nil {
				return platform.Event{}, s.Failed(err)
			}
			if si.Code <= 0 {
				continue // sent by a process outside the sandbox: ignore
			}
			if err := stub.GetRegs(s.PID, regs); err != nil {
				return platform.Event{}, s.Failed(err)
			}
			ev := platform.Event{Kind: platform.EventSignal, Signal: int(sig), Code: si.Code, Addr: uintptr(si.Addr)}
			if sig == unix.SIGSEGV {
				ev.Kind = platform.EventFault
				ev.Access = faultAccess(&si, regs)
			}
			return ev, nil
		case stub.KickSignal:
			if err := stub.GetRegs(s.PID, regs); err != nil {
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
	s := pas.(*addressSpace).s
	buf := make([]byte, 16<<10)
	n, err := stub.GetRegset(s.PID, buf)
	if err != nil {
		return nil, s.Failed(err)
	}
	return arch.FPState(buf[:n]), nil
}

// SetFPState implements platform.Context.
func (c *context) SetFPState(pas platform.AddressSpace, fp arch.FPState) error {
	s := pas.(*addressSpace).s
	if len(fp) == 0 {
		return unix.EINVAL
	}
	if err := stub.SetRegset(s.PID, fp); err != nil {
		return s.Failed(err)
	}
	return nil
}

// Release implements platform.Context.
func (c *context) Release() {}
