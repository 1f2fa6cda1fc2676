// Package stub creates the host processes that app address spaces live in.
// A stub starts as a tiny sealed ELF exec'd under PTRACE_TRACEME, so that
// it is stopped before it runs anything; Start then empties it, leaving
// only the platform's code page, and lets the platform inject system calls
// into it while it is stopped.
//
// Stubs die with the sentry: they are traced with PTRACE_O_EXITKILL and
// have a parent-death signal of SIGKILL (a platform that forks stubs from
// a stub sets it again in each), and they live in their own process group
// so terminal signals meant for moat never reach them.
//
// ptrace binds a tracee to the OS thread that attached it: every method
// must be called from the OS thread that called Start. There are no locks.
package stub

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/memexec"
	"moat/platform"
)

// Program is the stub executable, written once per sentry and never
// closed: it lives as long as the sentry (one per platform).
type Program struct {
	exe *memexec.Program
}

// NewProgram writes the stub ELF to a sealed memfd.
func NewProgram() (*Program, error) {
	// Start's child puts the memory file at fd MemFD before it execs.
	exe, err := memexec.New("moat-stub", stubELF(), MemFD)
	if err != nil {
		return nil, err
	}
	return &Program{exe: exe}, nil
}

// MemFD is the memory file's fd number inside every stub.
const MemFD = 0

// Stub is one stub process, stopped under ptrace until Detach.
type Stub struct {
	PID  int
	code uintptr // where InjectCode is
	tmpl arch.Registers
	dead bool
	// reaped: waited for (its pid may be reused); Interrupt may read it
	// from any goroutine.
	reaped atomic.Bool
}

// Start starts a stub holding only the memory file (as fd MemFD) and,
// at codeAddr, the page of the memory file at codeOff, which must begin
// with InjectCode.
//
// Preconditions: the calling goroutine is locked to its OS thread.
func (p *Program) Start(memFD int, codeOff int64, codeAddr uintptr) (*Stub, error) {
	pid, err := p.exe.Start([]uintptr{uintptr(memFD)}, // the stub's fd MemFD
		&syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL, Setpgid: true})
	if err != nil {
		return nil, fmt.Errorf("starting stub (%s): %w", p.exe.Path(), err)
	}
	s := &Stub{PID: pid, code: stubELFCode}
	if err := s.init(codeOff, codeAddr); err != nil {
		s.Kill()
		return nil, err
	}
	return s, nil
}

// Adopt returns the Stub of process pid, a stub another stub forked as
// the caller's child (it is not traced: only Kill, Kick, Interrupt and
// the liveness and CPU-time queries apply).
func Adopt(pid int) *Stub { return &Stub{PID: pid} }

func (s *Stub) init(codeOff int64, codeAddr uintptr) error {
	ws, err := Wait(s.PID)
	if err != nil {
		return fmt.Errorf("waiting for stub: %w", err)
	}
	if !ws.Stopped() || ws.StopSignal() != unix.SIGTRAP {
		return fmt.Errorf("stub did not stop at exec: status %#x", uint32(ws))
	}
	if err := unix.PtraceSetOptions(s.PID, unix.PTRACE_O_EXITKILL|unix.PTRACE_O_TRACESYSGOOD); err != nil {
		return fmt.Errorf("PTRACE_SETOPTIONS: %w", err)
	}
	if err := GetRegs(s.PID, &s.tmpl); err != nil {
		return fmt.Errorf("PTRACE_GETREGS: %w", err)
	}
	maps, err := readMaps(s.PID)
	if err != nil {
		return err
	}
	// Map the code page at the top, move execution there, and unmap
	// everything the kernel gave the stub.
	if _, err := s.Syscall(unix.SYS_MMAP, codeAddr, 0x1000, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_SHARED|unix.MAP_FIXED, MemFD, uintptr(codeOff)); err != nil {
		return fmt.Errorf("mapping stub code: %w", err)
	}
	s.code = codeAddr
	// Only the memory file stays open: the stub would otherwise hold
	// whatever the sentry had open without close-on-exec (its stdio, a
	// pipe a caller reads to its end).
	if _, err := s.Syscall(unix.SYS_CLOSE_RANGE, MemFD+1, ^uintptr(0)>>32, 0); err != nil {
		return fmt.Errorf("emptying stub: close_range: %w", err)
	}
	for _, m := range maps {
		if m[0] >= 0x800000000000 { // [vsyscall] cannot be unmapped
			continue
		}
		if _, err := s.Syscall(unix.SYS_MUNMAP, m[0], m[1]-m[0]); err != nil {
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

// Dead reports whether the stub is known to have died.
func (s *Stub) Dead() bool { return s.dead }

// Syscall executes a system call in the stopped stub's main thread and
// returns its result.
func (s *Stub) Syscall(nr uintptr, args ...uintptr) (uintptr, error) {
	return s.SyscallAt(s.PID, s.code, nr, args...)
}

// SyscallAt executes a system call in the stopped stub thread tid (traced
// by the calling OS thread), starting at rip, which must lead to a
// syscall instruction followed by int3 (InjectCode, or ThreadCode's
// clone entry), and returns its result.
func (s *Stub) SyscallAt(tid int, rip uintptr, nr uintptr, args ...uintptr) (uintptr, error) {
	if s.dead {
		return 0, platform.ErrAddressSpaceDead
	}
	var a [6]uintptr
	copy(a[:], args)
	regs := s.tmpl
	regs.Rip = uint64(rip)
	regs.Rax = uint64(nr)
	regs.Orig_rax = ^uint64(0)
	regs.Rdi, regs.Rsi, regs.Rdx, regs.R10, regs.R8, regs.R9 = uint64(a[0]), uint64(a[1]), uint64(a[2]), uint64(a[3]), uint64(a[4]), uint64(a[5])
	if err := SetRegs(tid, &regs); err != nil {
		return 0, s.Failed(err)
	}
	for {
		if err := Resume(unix.PTRACE_CONT, tid, 0); err != nil {
			return 0, s.Failed(err)
		}
		ws, err := Wait(tid)
		if err != nil {
			return 0, s.Failed(err)
		}
		if !ws.Stopped() {
			s.dead = true
			return 0, platform.ErrAddressSpaceDead
		}
		if ws.StopSignal() == unix.SIGTRAP {
			break
		}
		if ws.StopSignal() == unix.SIGSYS {
			// The stub's own seccomp filter trapped the call: a
			// platform bug, never something to paper over.
			return 0, fmt.Errorf("stub: injected system call %d refused by the stub's seccomp filter", nr)
		}
		// A signal sent to the stub from outside: suppress it.
	}
	if err := GetRegs(tid, &regs); err != nil {
		return 0, s.Failed(err)
	}
	if r := int64(regs.Rax); r < 0 && r >= -4095 {
		return 0, unix.Errno(-r)
	}
	return uintptr(regs.Rax), nil
}

// Failed turns a ptrace error into ErrAddressSpaceDead when the stub is
// gone.
func (s *Stub) Failed(err error) error {
	if err == unix.ESRCH {
		s.dead = true
		return platform.ErrAddressSpaceDead
	}
	return err
}

// MarkDead records that the stub has died.
func (s *Stub) MarkDead() { s.dead = true }

// Interrupt kills the stub without waiting for it; any goroutine may call
// it. A stub reaped already is not signalled: its pid may be another
// process's now.
func (s *Stub) Interrupt() {
	if !s.reaped.Load() {
		unix.Kill(s.PID, unix.SIGKILL)
	}
}

// KickSignal is the host signal that stops a stub's app code for the
// sentry: its default action is to be ignored, so a stray one is harmless.
const KickSignal = unix.SIGURG

// Kick sends the stub's main thread KickSignal; any goroutine may call it.
func (s *Stub) Kick() { unix.Tgkill(s.PID, s.PID, KickSignal) }

// KickThread sends stub thread tid KickSignal; any goroutine may call it.
func (s *Stub) KickThread(tid int) { unix.Tgkill(s.PID, tid, KickSignal) }

// Code returns where the platform code page is mapped.
func (s *Stub) Code() uintptr { return s.code }

// Kill kills and reaps the stub.
func (s *Stub) Kill() {
	s.Interrupt()
	s.Reap()
}

// Reap waits for the stub, killed already, to end and reaps it.
func (s *Stub) Reap() {
	var ws unix.WaitStatus
	for !s.reaped.Load() {
		_, err := unix.Wait4(s.PID, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || ws.Exited() || ws.Signaled() {
			s.reaped.Store(true)
		}
	}
	s.dead = true
}

// TryReap reaps the stub if it has ended, and reports whether it has.
func (s *Stub) TryReap() bool {
	if s.reaped.Load() {
		return true
	}
	var ws unix.WaitStatus
	if pid, _ := unix.Wait4(s.PID, &ws, unix.WNOHANG|unix.WALL, nil); pid == s.PID && (ws.Exited() || ws.Signaled()) {
		s.reaped.Store(true)
		s.dead = true
		return true
	}
	return false
}

// Colocate binds the stub and the calling (tracer) thread to the CPU the
// tracer runs on. Every system call is a hand-off between the two, and on
// the small VMs moat targets a hand-off to another, idle vCPU costs a
// wake-up IPI: bench/ measures a raw PTRACE_SYSEMU round trip at about
// 35 us across CPUs and 8-11 us on one. Placement is best effort: if the
// affinity cannot be set, both simply stay where the scheduler puts them.
func (s *Stub) Colocate() { ColocateThread(s.PID) }

// Wait waits for a state change of the traced process pid.
func Wait(pid int) (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		return ws, err
	}
}

// ptraceEventStop is PTRACE_EVENT_STOP: the stop PTRACE_INTERRUPT causes.
const ptraceEventStop = 128

// Seize attaches the calling OS thread to stub thread tid (PTRACE_SEIZE,
// with the stubs' options) and stops it (PTRACE_INTERRUPT), for a thread
// that nobody traces yet (a parked ThreadCode thread).
func Seize(tid int) error {
	const opts = unix.PTRACE_O_EXITKILL | unix.PTRACE_O_TRACESYSGOOD
	if _, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(tid), 0, opts, 0, 0); e != 0 {
		return e
	}
	if _, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_INTERRUPT, uintptr(tid), 0, 0, 0, 0); e != 0 {
		return e
	}
	for {
		ws, err := Wait(tid)
		if err != nil {
			return err
		}
		if !ws.Stopped() {
			return unix.ESRCH
		}
		if ws.StopSignal() == unix.SIGTRAP && ws.TrapCause() == ptraceEventStop {
			return nil
		}
		// A signal reached it first: suppress it and wait for the stop.
		if err := Resume(unix.PTRACE_CONT, tid, 0); err != nil {
			return err
		}
	}
}

// ColocateThread binds the calling OS thread and stub thread tid to the
// CPU the caller runs on, as Colocate does for a stub's main thread.
func ColocateThread(tid int) {
	cpu, err := CurrentCPU()
	if err != nil {
		return
	}
	var set unix.CPUSet
	set.Set(cpu)
	if unix.SchedSetaffinity(0, &set) != nil {
		return
	}
	unix.SchedSetaffinity(tid, &set)
}

// ExitThread makes stopped stub thread tid, traced by the calling OS
// thread, exit (exit(2), not the whole stub) and reaps it.
func (s *Stub) ExitThread(tid int) {
	if s.dead {
		return
	}
	regs := s.tmpl
	regs.Rip = uint64(s.code)
	regs.Rax = unix.SYS_EXIT
	regs.Orig_rax = ^uint64(0)
	regs.Rdi = 0
	if SetRegs(tid, &regs) != nil {
		return
	}
	for {
		if Resume(unix.PTRACE_CONT, tid, 0) != nil {
			return
		}
		ws, err := Wait(tid)
		if err != nil || ws.Exited() || ws.Signaled() {
			return
		}
	}
}
