// Package ptrace is the reference platform: every app address space is an
// otherwise empty stub process traced with PTRACE_SYSEMU, so each system
// call and fault of the app stops the stub and returns control to the
// sentry, which serves it and resumes the stub.
//
// ptrace binds a tracee to the OS thread that attached it, so every
// operation on an AddressSpace or Context must come from the OS thread that
// created the address space: the kernel runs each task on a goroutine
// locked to its OS thread.
//
// Stubs die with the sentry: they are traced with PTRACE_O_EXITKILL and
// have a parent-death signal of SIGKILL, and they live in their own process
// group so terminal signals meant for moat never reach them.
//
// There are no locks: an address space is used by one thread only.
package ptrace

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/platform"
)

// codePage is where the platform code page lives in every stub: the last
// page below the top of the x86-64 user address range. The app may use
// everything below it.
const codePage = 0x7ffffffff000 - 0x1000

// Platform is the ptrace platform.
type Platform struct {
	memFD    int
	codeOff  int64
	stubPath string // the stub ELF, as a path the kernel can exec
	stubFile *os.File
}

var _ platform.Platform = (*Platform)(nil)

// New returns a ptrace platform mapping app memory from memFD. code is a
// page of that file which the platform may use for its own code.
func New(memFD int, code platform.FileRange) (*Platform, error) {
	if _, err := unix.Pwrite(memFD, stubCode, code.Offset); err != nil {
		return nil, fmt.Errorf("writing stub code: %w", err)
	}
	fd, err := unix.MemfdCreate("moat-stub", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create for stub: %w", err)
	}
	f := os.NewFile(uintptr(fd), "moat-stub")
	if _, err := f.Write(stubELF()); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing stub: %w", err)
	}
	// Seal it: nobody can change what stubs execute.
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil, fmt.Errorf("sealing stub: %w", err)
	}
	return &Platform{memFD: memFD, codeOff: code.Offset, stubPath: fmt.Sprintf("/proc/self/fd/%d", fd), stubFile: f}, nil
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
	pid  int
	code uintptr // address of stubCode in the stub
	tmpl arch.Registers
	dead bool
}

// NewAddressSpace implements platform.Platform. It starts a stub process
// and empties it.
//
// Preconditions: the calling goroutine is locked to its OS thread.
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	attr := &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{uintptr(p.memFD)}, // the stub's fd 0
		Sys: &syscall.SysProcAttr{
			Ptrace:    true,
			Pdeathsig: syscall.SIGKILL,
			Setpgid:   true,
		},
	}
	pid, err := syscall.ForkExec(p.stubPath, []string{"moat-stub"}, attr)
	if err != nil {
		return nil, fmt.Errorf("starting stub: %w", err)
	}
	s := &addressSpace{pid: pid, code: stubELFCode}
	if err := s.init(p); err != nil {
		s.Release()
		return nil, err
	}
	colocate(pid)
	return s, nil
}

// colocate binds the stub and the calling (tracer) thread to the CPU the
// tracer runs on. Every system call is a hand-off between the two, and on
// the small VMs moat targets a hand-off to another, idle vCPU costs a
// wake-up IPI: bench/ measures a raw PTRACE_SYSEMU round trip at about
// 35 us across CPUs and 8-11 us on one. Placement is best effort: if the
// affinity cannot be set, both simply stay where the scheduler puts them.
func colocate(stub int) {
	cpu, err := currentCPU()
	if err != nil {
		return
	}
	var set unix.CPUSet
	set.Set(cpu)
	if unix.SchedSetaffinity(0, &set) != nil {
		return
	}
	unix.SchedSetaffinity(stub, &set)
}

func (s *addressSpace) init(p *Platform) error {
	ws, err := wait(s.pid)
	if err != nil {
		return fmt.Errorf("waiting for stub: %w", err)
	}
	if !ws.Stopped() || ws.StopSignal() != unix.SIGTRAP {
		return fmt.Errorf("stub did not stop at exec: status %#x", uint32(ws))
	}
	if err := unix.PtraceSetOptions(s.pid, unix.PTRACE_O_EXITKILL|unix.PTRACE_O_TRACESYSGOOD); err != nil {
		return fmt.Errorf("PTRACE_SETOPTIONS: %w", err)
	}
	if err := getRegs(s.pid, &s.tmpl); err != nil {
		return fmt.Errorf("PTRACE_GETREGS: %w", err)
	}
	maps, err := readMaps(s.pid)
	if err != nil {
		return err
	}
	// Map the code page at the top, move execution there, and unmap
	// everything the kernel gave the stub.
	if _, err := s.syscall(unix.SYS_MMAP, codePage, 0x1000, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_SHARED|unix.MAP_FIXED, 0, uintptr(p.codeOff)); err != nil {
		return fmt.Errorf("mapping stub code: %w", err)
	}
	s.code = codePage
	for _, m := range maps {
		if m[0] >= codePage { // [vsyscall] cannot be unmapped; the code page stays
			continue
		}
		if _, err := s.syscall(unix.SYS_MUNMAP, m[0], m[1]-m[0]); err != nil {
			return fmt.Errorf("emptying stub: munmap %#x-%#x: %w", m[0], m[1], err)
		}
	}
	return nil
}

// readMaps returns the address ranges mapped in process pid.
func readMaps(pid int) ([][2]uintptr, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, fmt.Errorf("reading stub mappings: %w", err)
	}
	defer f.Close()
	var out [][2]uintptr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rng, _, _ := strings.Cut(sc.Text(), " ")
		lo, hi, ok := strings.Cut(rng, "-")
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad line in stub maps: %q", sc.Text())
		}
		out = append(out, [2]uintptr{uintptr(a), uintptr(b)})
	}
	return out, sc.Err()
}

// syscall executes a system call in the stub and returns its result.
func (s *addressSpace) syscall(nr uintptr, args ...uintptr) (uintptr, error) {
	if s.dead {
		return 0, platform.ErrAddressSpaceDead
	}
	var a [6]uintptr
	copy(a[:], args)
	regs := s.tmpl
	regs.Rip = uint64(s.code)
	regs.Rax = uint64(nr)
	regs.Orig_rax = ^uint64(0)
	regs.Rdi, regs.Rsi, regs.Rdx, regs.R10, regs.R8, regs.R9 = uint64(a[0]), uint64(a[1]), uint64(a[2]), uint64(a[3]), uint64(a[4]), uint64(a[5])
	if err := setRegs(s.pid, &regs); err != nil {
		return 0, s.failed(err)
	}
	for {
		if err := resume(unix.PTRACE_CONT, s.pid, 0); err != nil {
			return 0, s.failed(err)
		}
		ws, err := wait(s.pid)
		if err != nil {
			return 0, s.failed(err)
		}
		if !ws.Stopped() {
			s.dead = true
			return 0, platform.ErrAddressSpaceDead
		}
		if ws.StopSignal() == unix.SIGTRAP {
			break
		}
		// A signal sent to the stub from outside: suppress it.
	}
	if err := getRegs(s.pid, &regs); err != nil {
		return 0, s.failed(err)
	}
	if r := int64(regs.Rax); r < 0 && r >= -4095 {
		return 0, unix.Errno(-r)
	}
	return uintptr(regs.Rax), nil
}

func (s *addressSpace) failed(err error) error {
	if err == unix.ESRCH {
		s.dead = true
		return platform.ErrAddressSpaceDead
	}
	return err
}

// MapFile implements platform.AddressSpace.
func (s *addressSpace) MapFile(addr uintptr, fr platform.FileRange, at platform.AccessType) error {
	_, err := s.syscall(unix.SYS_MMAP, addr, fr.Length, uintptr(at.Prot()), unix.MAP_SHARED|unix.MAP_FIXED, 0, uintptr(fr.Offset))
	return err
}

// Unmap implements platform.AddressSpace.
func (s *addressSpace) Unmap(addr, length uintptr) error {
	_, err := s.syscall(unix.SYS_MUNMAP, addr, length)
	return err
}

// Protect implements platform.AddressSpace.
func (s *addressSpace) Protect(addr, length uintptr, at platform.AccessType) error {
	_, err := s.syscall(unix.SYS_MPROTECT, addr, length, uintptr(at.Prot()))
	return err
}

// Release implements platform.AddressSpace: it kills and reaps the stub.
func (s *addressSpace) Release() {
	unix.Kill(s.pid, unix.SIGKILL)
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(s.pid, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || ws.Exited() || ws.Signaled() {
			break
		}
	}
	s.dead = true
}

// context runs app threads; under ptrace the thread state lives in the
// stub, so the context itself holds nothing.
type context struct{}

// Switch implements platform.Context.
func (c *context) Switch(as platform.AddressSpace, regs *arch.Registers) (platform.Event, error) {
	s := as.(*addressSpace)
	if s.dead {
		return platform.Event{}, platform.ErrAddressSpaceDead
	}
	if err := setRegs(s.pid, regs); err != nil {
		return platform.Event{}, s.failed(err)
	}
	for {
		if err := resume(unix.PTRACE_SYSEMU, s.pid, 0); err != nil {
			return platform.Event{}, s.failed(err)
		}
		ws, err := wait(s.pid)
		if err != nil {
			return platform.Event{}, s.failed(err)
		}
		if !ws.Stopped() {
			s.dead = true
			return platform.Event{}, platform.ErrAddressSpaceDead
		}
		switch sig := ws.StopSignal(); sig {
		case unix.SIGTRAP | 0x80:
			if err := getRegs(s.pid, regs); err != nil {
				return platform.Event{}, s.failed(err)
			}
			return platform.Event{Kind: platform.EventSyscall}, nil
		case unix.SIGSEGV, unix.SIGBUS, unix.SIGILL, unix.SIGFPE, unix.SIGTRAP:
			var si siginfo
			if err := getSiginfo(s.pid, &si); err != nil {
				return platform.Event{}, s.failed(err)
			}
			if si.Code <= 0 {
				continue // sent by a process outside the sandbox: ignore
			}
			if err := getRegs(s.pid, regs); err != nil {
				return platform.Event{}, s.failed(err)
			}
			ev := platform.Event{Kind: platform.EventSignal, Signal: int(sig), Code: si.Code, Addr: uintptr(si.Addr)}
			if sig == unix.SIGSEGV {
				ev.Kind = platform.EventFault
				ev.Access = faultAccess(&si, regs)
			}
			return ev, nil
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
func faultAccess(si *siginfo, regs *arch.Registers) platform.AccessType {
	switch {
	case si.Addr == regs.Rip:
		return platform.AccessType{Read: true, Execute: true}
	case si.Code == segvAccErr:
		return platform.AccessType{Write: true}
	}
	return platform.Read
}

// FPState implements platform.Context.
func (c *context) FPState(as platform.AddressSpace) (arch.FPState, error) {
	s := as.(*addressSpace)
	buf := make([]byte, 16<<10)
	n, err := getRegset(s.pid, buf)
	if err != nil {
		return nil, s.failed(err)
	}
	return arch.FPState(buf[:n]), nil
}

// SetFPState implements platform.Context.
func (c *context) SetFPState(as platform.AddressSpace, fp arch.FPState) error {
	s := as.(*addressSpace)
	if len(fp) == 0 {
		return unix.EINVAL
	}
	return s.failed(setRegset(s.pid, fp))
}

// Release implements platform.Context.
func (c *context) Release() {}

func wait(pid int) (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		return ws, err
	}
}
