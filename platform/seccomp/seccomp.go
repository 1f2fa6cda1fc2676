// Package seccomp is the fast platform. Each stub runs under a seccomp
// filter that turns every system call of the app into a SIGSYS, handled in
// the stub itself by a small handler (handler.S) on an alternate signal
// stack. The handler tells the sentry through a page of the memory file
// that both map (sysmsg) and waits; the sentry reads and writes the app's
// registers directly in the signal frame — also memory-file memory — and
// tells the handler to return. Faults take the same path, with the
// hardware error code. No ptrace call is on the hot path: ptrace is used
// only to build the stub, and detached before the app first runs.
//
// The hand-off is a bounded spin and then a futex wait on the sysmsg state
// word, on both sides.
//
// Trust: everything the sentry reads from the stub's pages (state, signal
// number, frame addresses, registers) is written by code the app could
// imitate, so every address is checked against the stub's own pages before
// use. The stub holds the memory file (fd stub.MemFD), so app code that
// jumps to the handler's mmap gate can map any part of it: the platform
// protects the host, not one process of a sandbox from another (each
// sandbox has its own memory file).
//
// Every operation on an AddressSpace or Context must come from the OS
// thread that created the address space (ptrace during setup requires
// it). There are no locks.
package seccomp

import (
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/platform"
	"moat/platform/stub"
)

// The stub's platform pages, at the top of the user address range.
const (
	codePage    = 0x7ffffffff000 - 0x1000 // handler.S, read+execute
	sysmsgPage  = codePage - 0x1000       // the hand-off page, read+write
	altStackLen = 64 << 10                // signal frames (with xsave state)
	altStack    = sysmsgPage - altStackLen
	// maxUserAddress is the end of what the app may use.
	maxUserAddress = altStack
)

// sysmsg layout; handler.S uses the same offsets.
const (
	offState = 0
	offSigno = 8
	offInfo  = 16
	offUctx  = 24
	offNR    = 32
	offArgs  = 40
	offRet   = 88
	offSpin  = 96

	// Scratch areas used while setting the stub up.
	offSetupStack  = 256 // stack_t
	offSetupAction = 320 // struct kernel_sigaction
	offSetupProg   = 512 // struct sock_fprog
	offSetupFilter = 1024
)

// Values of the state word.
const (
	stEvent   = 1 // the stub has an event for the sentry
	stResume  = 2 // the sentry is done: return to the app
	stSyscall = 3 // the sentry asks the stub to make a system call
)

// Spinning. A round trip through the sentry takes a few microseconds, and
// waking a sleeping vCPU costs more than that, so each side spins on the
// state word before sleeping in futex — but only while spinning pays: on
// two cores a spinning side takes the CPU another process needs.
//
//   - The sentry spins up to maxSentrySpin for the app's next event, and
//     stops spinning after a few spins in a row that ended in sleep anyway
//     (an app computing, or blocked in another process), trying again on
//     every probeEvery-th wait.
//   - The stub spins (sysmsg's spin count) only while the sentry's recent
//     handling times are short (an exponentially weighted average), so a
//     stub whose calls block (wait4, reads of an empty pipe) sleeps at once.
//
// Measured on the 2-core development VM (a getpid loop and a shell loop of
// 100 fork+exec): always spinning 50 us / 4000 pauses gave getpid 4.6 us
// but made the fork+exec loop 50% slower than never spinning, which gave
// getpid 12.5 us; the adaptive rules keep both fast.
const (
	maxSentrySpin = 50 * time.Microsecond
	spinFailLimit = 4
	probeEvery    = 16
	spinWorthIt   = 25 * time.Microsecond // handling times above this: stub sleeps at once
	stubSpin      = 4000                  // iterations of `pause`, 10-40 ns each
)

// MemoryFile is what the platform needs of the memory file.
type MemoryFile interface {
	FD() int
	Allocate(length uintptr) (platform.FileRange, error)
	Free(fr platform.FileRange)
	Bytes(fr platform.FileRange) []byte
}

// Platform is the seccomp platform.
type Platform struct {
	mf   MemoryFile
	code platform.FileRange
	prog *stub.Program
	filt []byte
}

var _ platform.Platform = (*Platform)(nil)

// New returns the platform. It fails if the filter does not check out.
func New(mf MemoryFile, code platform.FileRange) (*Platform, error) {
	if len(handlerCode) > 4096 {
		return nil, fmt.Errorf("seccomp: handler does not fit a page")
	}
	copy(mf.Bytes(code), handlerCode)
	prog, err := stub.NewProgram()
	if err != nil {
		return nil, err
	}
	filter, err := stubFilter()
	if err != nil {
		return nil, fmt.Errorf("seccomp: assembling the stub filter: %w", err)
	}
	if err := checkFilter(filter); err != nil {
		return nil, err
	}
	return &Platform{mf: mf, code: code, prog: prog, filt: encodeFilter(filter)}, nil
}

// Name implements platform.Platform.
func (p *Platform) Name() string { return "seccomp" }

// MaxUserAddress implements platform.Platform.
func (p *Platform) MaxUserAddress() uintptr { return maxUserAddress }

// InitialRegisters implements platform.Platform.
func (p *Platform) InitialRegisters(entry, sp uintptr) arch.Registers {
	return arch.InitialRegisters(entry, sp)
}

// NewContext implements platform.Platform.
func (p *Platform) NewContext() platform.Context { return &context{} }

// addressSpace is one stub process and its platform pages.
type addressSpace struct {
	p       *Platform
	s       *stub.Stub
	sysmsg  platform.FileRange
	alt     platform.FileRange
	msg     []byte // the sentry's view of sysmsg
	running bool   // detached from ptrace and running the app
	inEvent bool   // the stub waits in the handler with a frame
	fsBase  uint64 // the stub thread's fs base as last set

	// Adaptive spinning (see maxSentrySpin): spins in a row that ended in
	// sleep, waits so far, and the sentry's recent handling time.
	spinFails, waits int
	handling         time.Duration
	eventAt          time.Time
}

// ewma folds a new sample into a running average (weight 1/4).
func ewma(avg, sample time.Duration) time.Duration { return avg + (sample-avg)/4 }

// NewAddressSpace implements platform.Platform.
//
// Preconditions: the calling goroutine is locked to its OS thread.
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	s, err := p.prog.Start(p.mf.FD(), p.code.Offset, codePage)
	if err != nil {
		return nil, err
	}
	as := &addressSpace{p: p, s: s}
	if err := as.setup(); err != nil {
		as.Release()
		return nil, err
	}
	return as, nil
}

// Signals the handler takes: trapped system calls and synchronous faults.
// The kick signal (stub.KickSignal) takes the same path: the sentry sends
// it to stop app code when a signal is to be delivered.
var handledSignals = []unix.Signal{unix.SIGSYS, unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, stub.KickSignal}

const (
	saSiginfo  = 0x4
	saOnstack  = 0x08000000
	saRestorer = 0x04000000
)

// setup maps the platform pages and installs the handler for every
// handled signal on the alternate stack, through injected system calls
// while the stub is stopped under ptrace. The filter comes last, in
// installFilter.
func (as *addressSpace) setup() error {
	var err error
	if as.sysmsg, err = as.p.mf.Allocate(4096); err != nil {
		return err
	}
	if as.alt, err = as.p.mf.Allocate(altStackLen); err != nil {
		return err
	}
	as.msg = as.p.mf.Bytes(as.sysmsg)
	le := binary.LittleEndian
	le.PutUint32(as.msg[offSpin:], 0)
	s := as.s
	rw := uintptr(unix.PROT_READ | unix.PROT_WRITE)
	shared := uintptr(unix.MAP_SHARED | unix.MAP_FIXED)
	if _, err := s.Syscall(unix.SYS_MMAP, sysmsgPage, 4096, rw, shared, stub.MemFD, uintptr(as.sysmsg.Offset)); err != nil {
		return fmt.Errorf("seccomp: mapping sysmsg: %w", err)
	}
	if _, err := s.Syscall(unix.SYS_MMAP, altStack, altStackLen, rw, shared, stub.MemFD, uintptr(as.alt.Offset)); err != nil {
		return fmt.Errorf("seccomp: mapping the signal stack: %w", err)
	}
	le.PutUint64(as.msg[offSetupStack:], altStack)
	le.PutUint32(as.msg[offSetupStack+8:], 0)
	le.PutUint64(as.msg[offSetupStack+16:], altStackLen)
	if _, err := s.Syscall(unix.SYS_SIGALTSTACK, sysmsgPage+offSetupStack, 0); err != nil {
		return fmt.Errorf("seccomp: sigaltstack: %w", err)
	}
	le.PutUint64(as.msg[offSetupAction:], codePage+offHandler)
	le.PutUint64(as.msg[offSetupAction+8:], saSiginfo|saOnstack|saRestorer)
	le.PutUint64(as.msg[offSetupAction+16:], codePage+offRestorer)
	le.PutUint64(as.msg[offSetupAction+24:], ^uint64(0)) // block everything while handling
	for _, sig := range handledSignals {
		if _, err := s.Syscall(unix.SYS_RT_SIGACTION, uintptr(sig), sysmsgPage+offSetupAction, 0, 8); err != nil {
			return fmt.Errorf("seccomp: sigaction(%v): %w", sig, err)
		}
	}
	clear(as.msg[offSetupStack:])
	return nil
}

// installFilter installs the stub's seccomp filter: the last injected
// system calls, made just before the app first runs (after it, an
// injected call would trap).
func (as *addressSpace) installFilter() error {
	le := binary.LittleEndian
	copy(as.msg[offSetupFilter:], as.p.filt)
	le.PutUint16(as.msg[offSetupProg:], uint16(len(as.p.filt)/8))
	le.PutUint64(as.msg[offSetupProg+8:], sysmsgPage+offSetupFilter)
	defer clear(as.msg[offSetupProg:])
	if _, err := as.s.Syscall(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("seccomp: no_new_privs: %w", err)
	}
	if _, err := as.s.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, sysmsgPage+offSetupProg); err != nil {
		return fmt.Errorf("seccomp: installing the stub filter: %w (this host may not allow it: try --platform=ptrace)", err)
	}
	return nil
}

// request makes the stub run a system call for the sentry: through ptrace
// before the app first runs, through sysmsg afterwards.
func (as *addressSpace) request(nr uintptr, args ...uintptr) (uintptr, error) {
	if !as.running {
		return as.s.Syscall(nr, args...)
	}
	if !as.inEvent {
		return 0, fmt.Errorf("seccomp: address-space operation while the stub runs app code")
	}
	le := binary.LittleEndian
	le.PutUint64(as.msg[offNR:], uint64(nr))
	for i := 0; i < 6; i++ {
		var a uintptr
		if i < len(args) {
			a = args[i]
		}
		le.PutUint64(as.msg[offArgs+8*i:], uint64(a))
	}
	storeState(as.msg, stSyscall)
	futexWake(as.msg)
	if err := as.waitEvent(); err != nil {
		return 0, err
	}
	r := int64(le.Uint64(as.msg[offRet:]))
	if r < 0 && r >= -4095 {
		return 0, unix.Errno(-r)
	}
	return uintptr(r), nil
}

// waitEvent waits until the stub reports an event: spin, then sleep in
// futex, checking now and then that the stub is still alive.
func (as *addressSpace) waitEvent() error {
	as.waits++
	if as.spinFails < spinFailLimit || as.waits%probeEvery == 0 {
		for start := time.Now(); time.Since(start) < maxSentrySpin; {
			for i := 0; i < 64; i++ {
				if loadState(as.msg) == stEvent {
					as.spinFails = 0
					return nil
				}
			}
		}
		as.spinFails++
	}
	timeout := unix.NsecToTimespec(int64(50 * time.Millisecond))
	for {
		v := loadState(as.msg)
		if v == stEvent {
			return nil
		}
		futexWait(as.msg, v, &timeout)
		if loadState(as.msg) == stEvent {
			return nil
		}
		var ws unix.WaitStatus
		if pid, _ := unix.Wait4(as.s.PID, &ws, unix.WNOHANG|unix.WALL, nil); pid == as.s.PID {
			as.s.MarkDead()
			return platform.ErrAddressSpaceDead
		}
	}
}

// MapFile implements platform.AddressSpace.
func (as *addressSpace) MapFile(addr uintptr, fr platform.FileRange, at platform.AccessType) error {
	_, err := as.request(unix.SYS_MMAP, addr, fr.Length, uintptr(at.Prot()), unix.MAP_SHARED|unix.MAP_FIXED, stub.MemFD, uintptr(fr.Offset))
	return err
}

// Unmap implements platform.AddressSpace.
func (as *addressSpace) Unmap(addr, length uintptr) error {
	_, err := as.request(unix.SYS_MUNMAP, addr, length)
	return err
}

// Protect implements platform.AddressSpace.
func (as *addressSpace) Protect(addr, length uintptr, at platform.AccessType) error {
	_, err := as.request(unix.SYS_MPROTECT, addr, length, uintptr(at.Prot()))
	return err
}

// Interrupt implements platform.AddressSpace: it kills the stub and wakes
// a sentry waiting for it, which then notices the death.
func (as *addressSpace) Interrupt() {
	as.s.Interrupt()
	if as.msg != nil {
		futexWake(as.msg)
	}
}

// Kick implements platform.AddressSpace.
func (as *addressSpace) Kick() { as.s.Kick() }

// Release implements platform.AddressSpace.
func (as *addressSpace) Release() {
	as.s.Kill()
	if as.sysmsg.Length != 0 {
		as.p.mf.Free(as.sysmsg)
	}
	if as.alt.Length != 0 {
		as.p.mf.Free(as.alt)
	}
}
