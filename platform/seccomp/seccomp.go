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
// word, on both sides; a side calls FUTEX_WAKE only when the other has
// marked the word as sleeping (stSleeping).
//
// Syscall-site patching (SetSyscallPatching; moat run --syscall-patch on,
// off by default): the memory manager rewrites recognised system-call
// sites of app text into jumps to stubs that enter through tramp_entry,
// which hands the registers over in sysmsg without a signal (see
// handler.S, platform/syspatch and mm/patch.go). A thread that entered
// there waits in modeTramp; whatever needs a signal frame (FP state,
// returning with flags the trampoline cannot restore, clone) first
// upgrades it: it traps into the handler, and the sentry then has a frame
// as for any trapped call. Each stub thread's gs base points at its slot
// while patching is on, so the app's own gs base is not the host's (it
// never was: the sentry keeps it in the registers only).
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
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/platform"
	"moat/platform/stub"
	"moat/platform/syspatch"
)

var _ syspatch.Patcher = (*addressSpace)(nil)

// The stub's platform pages, at the top of the user address range: the
// code page, and below it one slot per stub thread. A slot is 128 KiB,
// aligned to its size (handler.S finds its thread's slot by masking rsp):
// the sysmsg page at its start, the alternate signal stack in its upper
// 64 KiB.
const (
	codePage    = 0x7ffffffff000 - 0x1000 // handler.S, read+execute
	slotSize    = 0x20000
	slotTop     = 0x7fffffe00000 // slots end here, aligned
	altStackLen = 64 << 10       // signal frames (with xsave state)
	altStackOff = slotSize - altStackLen
	// MaxThreads bounds the threads of one address space.
	MaxThreads = 64
	// maxUserAddress is the end of what the app may use.
	maxUserAddress = slotTop - MaxThreads*slotSize
)

// slotAddr returns the address of slot i.
func slotAddr(i int) uintptr { return slotTop - uintptr(i+1)*slotSize }

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
	// offTIDWord is non-zero while the slot's host thread lives: the
	// kernel clears it when the thread exits (CLONE_CHILD_CLEARTID).
	offTIDWord = 104
	// Syscall-site patching (see handler.S): what the stub waits with
	// (modeFrame: a signal frame; modeTramp, modeKick: entered from a
	// patched site, registers in gregs), a kick deferred by the handler,
	// the slot's own address (non-zero only with patching on), a byte
	// the trampoline probes, and the trampoline's registers.
	offMode  = 112
	offKick  = 116
	offSelf  = 120
	offGregs = 3072

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
	stClone   = 4 // the same for clone: a new stub thread
	stUpgrade = 5 // a thread in the trampoline: trap into the handler

	// stSleeping, or'ed into the value a side waits on, says that side
	// sleeps (or is about to) in FUTEX_WAIT: the other side sets the
	// next value with an exchange and calls FUTEX_WAKE only if the old
	// value had it. A side that is still spinning costs no wake. The bit
	// belongs to the stub while the state is stEvent (it waits for the
	// sentry's reply), to the sentry otherwise.
	stSleeping = 0x100
)

// Values of the mode word.
const (
	modeFrame = 0
	modeTramp = 1
	modeKick  = 2
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
//     handling times are short (an exponentially weighted average). A call
//     that blocks in the sentry (a futex wait, a read of an empty pipe,
//     wait4) is reported by the kernel (platform.Blocker): the sentry zeroes
//     the spin word, which the spinning stub re-reads, so the stub sleeps
//     at once, and the call stays out of the average, so the fast calls
//     around it (the write of a pipe ping-pong) still find the stub
//     spinning, with no FUTEX_WAKE. Measured with this and the sleeping
//     bit, each bench workload run directly, 11 interleaved runs, medians:
//     futex ping-pong 153 -> 136 us, pipe 138 -> 113 us, unix socketpair
//     144 -> 121 us; getpid unchanged (see README for go run ./bench).
//
// Tried and not kept (same VM, interleaved medians): other spin bounds
// (stub 1000 pauses, sentry 10 or 20 us) moved nothing beyond the noise.
// Binding each stub thread and its sentry thread to one CPU, as the
// ptrace platform does, with no spinning (useless on one CPU): futex
// ping-pong 151 -> 45 us and pipe 139 -> 121 us, but getpid 3.6 -> 8.9 us;
// without binding and without spinning, getpid is 56 us (every hand-off
// wakes an idle vCPU). Binding with spinning is worse on every row.
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
	// patch: syscall-site patching is on (SetSyscallPatching).
	patch bool
}

// SetSyscallPatching turns syscall-site patching on or off for address
// spaces created afterwards: the memory manager then rewrites recognised
// system-call sites (platform/syspatch) to enter through tramp_entry.
func (p *Platform) SetSyscallPatching(on bool) { p.patch = on }

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
	if offSetupFilter+8*len(filter) > offGregs {
		return nil, fmt.Errorf("seccomp: the stub filter does not fit sysmsg")
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

// addressSpace is one stub process: its slots, and the stub threads that
// run the app's threads, each driven by one sentry OS thread.
type addressSpace struct {
	p       *Platform
	s       *stub.Stub
	running bool // detached from ptrace: the app runs

	mu      sync.Mutex
	slots   [MaxThreads]*slot
	threads map[int]*thread // by the sentry OS thread (gettid) driving it
}

// slot is the memory of one thread slot, kept for reuse.
type slot struct {
	idx    int
	sysmsg platform.FileRange
	alt    platform.FileRange
	inUse  bool
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
	as := &addressSpace{p: p, s: s, threads: make(map[int]*thread)}
	if err := as.setup(); err != nil {
		as.Release()
		return nil, err
	}
	return as, nil
}

// current returns the stub thread the calling sentry OS thread drives.
func (as *addressSpace) current() (*thread, error) {
	as.mu.Lock()
	defer as.mu.Unlock()
	th := as.threads[unix.Gettid()]
	if th == nil {
		return nil, fmt.Errorf("seccomp: no stub thread for this sentry thread")
	}
	return th, nil
}

// newSlot allocates (or reuses) a slot; fresh says its memory is new and
// must still be mapped into the stub.
func (as *addressSpace) newSlot() (sl *slot, fresh bool, err error) {
	as.mu.Lock()
	defer as.mu.Unlock()
	for i, sl := range as.slots {
		if sl == nil {
			sm, err := as.p.mf.Allocate(4096)
			if err != nil {
				return nil, false, err
			}
			alt, err := as.p.mf.Allocate(altStackLen)
			if err != nil {
				as.p.mf.Free(sm)
				return nil, false, err
			}
			sl = &slot{idx: i, sysmsg: sm, alt: alt, inUse: true}
			as.slots[i] = sl
			return sl, true, nil
		}
		if !sl.inUse && le.Uint32(as.p.mf.Bytes(sl.sysmsg)[offTIDWord:]) == 0 {
			clear(as.p.mf.Bytes(sl.sysmsg))
			sl.inUse = true
			return sl, false, nil
		}
	}
	return nil, false, unix.EAGAIN
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

// setup maps the first thread's slot and installs the handler for every
// handled signal on its alternate stack, through injected system calls
// while the stub is stopped under ptrace. The filter comes last, in
// installFilter.
func (as *addressSpace) setup() error {
	sl, _, err := as.newSlot()
	if err != nil {
		return err
	}
	th := as.newThread(sl, as.s.PID)
	s := as.s
	rw := uintptr(unix.PROT_READ | unix.PROT_WRITE)
	shared := uintptr(unix.MAP_SHARED | unix.MAP_FIXED)
	base := slotAddr(sl.idx)
	if _, err := s.Syscall(unix.SYS_MMAP, base, 4096, rw, shared, stub.MemFD, uintptr(sl.sysmsg.Offset)); err != nil {
		return fmt.Errorf("seccomp: mapping sysmsg: %w", err)
	}
	if _, err := s.Syscall(unix.SYS_MMAP, base+altStackOff, altStackLen, rw, shared, stub.MemFD, uintptr(sl.alt.Offset)); err != nil {
		return fmt.Errorf("seccomp: mapping the signal stack: %w", err)
	}
	th.putStackT()
	if as.p.patch {
		// The gs base itself comes with the first run's registers
		// (every injected call resets the registers).
		le.PutUint64(th.msg[offSelf:], uint64(base))
	}
	if _, err := s.Syscall(unix.SYS_SIGALTSTACK, base+offSetupStack, 0); err != nil {
		return fmt.Errorf("seccomp: sigaltstack: %w", err)
	}
	le.PutUint64(th.msg[offSetupAction:], codePage+offHandler)
	le.PutUint64(th.msg[offSetupAction+8:], saSiginfo|saOnstack|saRestorer)
	le.PutUint64(th.msg[offSetupAction+16:], codePage+offRestorer)
	le.PutUint64(th.msg[offSetupAction+24:], ^uint64(0)) // block everything while handling
	for _, sig := range handledSignals {
		if _, err := s.Syscall(unix.SYS_RT_SIGACTION, uintptr(sig), base+offSetupAction, 0, 8); err != nil {
			return fmt.Errorf("seccomp: sigaction(%v): %w", sig, err)
		}
	}
	clear(th.msg[offSetupStack:])
	as.mu.Lock()
	as.threads[unix.Gettid()] = th
	as.mu.Unlock()
	return nil
}

// installFilter installs the stub's seccomp filter: the last injected
// system calls, made just before the app first runs (after it, an
// injected call would trap).
func (as *addressSpace) installFilter(th *thread) error {
	base := slotAddr(th.slot.idx)
	copy(th.msg[offSetupFilter:], as.p.filt)
	le.PutUint16(th.msg[offSetupProg:], uint16(len(as.p.filt)/8))
	le.PutUint64(th.msg[offSetupProg+8:], uint64(base+offSetupFilter))
	defer clear(th.msg[offSetupProg:])
	if _, err := as.s.Syscall(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("seccomp: no_new_privs: %w", err)
	}
	if _, err := as.s.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, base+offSetupProg); err != nil {
		return fmt.Errorf("seccomp: installing the stub filter: %w (this host may not allow it: try --platform=ptrace)", err)
	}
	return nil
}

// request makes the calling sentry thread's stub thread run a system call:
// through ptrace before the app first runs, through sysmsg afterwards.
func (as *addressSpace) request(nr uintptr, args ...uintptr) (uintptr, error) {
	if !as.running {
		return as.s.Syscall(nr, args...)
	}
	th, err := as.current()
	if err != nil {
		return 0, err
	}
	return th.request(stSyscall, nr, args...)
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

// archSetGS is arch_prctl's ARCH_SET_GS.
const archSetGS = 0x1001

// SyscallEntry implements syspatch.Patcher.
func (as *addressSpace) SyscallEntry() (uintptr, bool) {
	if !as.p.patch {
		return 0, false
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	n := 0
	for _, sl := range as.slots {
		if sl != nil && (sl.inUse || le.Uint32(as.p.mf.Bytes(sl.sysmsg)[offTIDWord:]) != 0) {
			n++
		}
	}
	return codePage + offTrampEntry, n == 1
}

// Interrupt implements platform.AddressSpace: it kills the stub and wakes
// the sentry threads waiting for it, which then notice the death.
func (as *addressSpace) Interrupt() {
	as.s.Interrupt()
	as.mu.Lock()
	defer as.mu.Unlock()
	for _, th := range as.threads {
		futexWake(th.msg)
	}
}

// Kick implements platform.AddressSpace: it kicks the first stub thread
// (contexts kick their own threads).
func (as *addressSpace) Kick() { as.s.Kick() }

// SpawnThread implements platform.ThreadSpawner: the calling sentry
// thread's stub thread clones a new stub thread, which starts in
// thread_start and waits for AdoptThread's task. tls is the new thread's
// fs base if setTLS; otherwise it inherits the caller's.
func (as *addressSpace) SpawnThread(tls uintptr, setTLS bool) (platform.Thread, error) {
	parent, err := as.current()
	if err != nil {
		return nil, err
	}
	if !as.running {
		return nil, fmt.Errorf("seccomp: thread before the app runs")
	}
	sl, fresh, err := as.newSlot()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (platform.Thread, error) {
		as.mu.Lock()
		sl.inUse = false
		as.mu.Unlock()
		return nil, err
	}
	base := slotAddr(sl.idx)
	if fresh {
		rw := uintptr(unix.PROT_READ | unix.PROT_WRITE)
		shared := uintptr(unix.MAP_SHARED | unix.MAP_FIXED)
		if _, err := parent.request(stSyscall, unix.SYS_MMAP, base, 4096, rw, shared, stub.MemFD, uintptr(sl.sysmsg.Offset)); err != nil {
			return fail(err)
		}
		if _, err := parent.request(stSyscall, unix.SYS_MMAP, base+altStackOff, altStackLen, rw, shared, stub.MemFD, uintptr(sl.alt.Offset)); err != nil {
			return fail(err)
		}
	}
	th := as.newThread(sl, 0)
	th.putStackT()
	if as.p.patch {
		le.PutUint64(th.msg[offSelf:], uint64(base))
	}
	th.buildStartFrame()
	le.PutUint32(th.msg[offTIDWord:], 1)
	flags := uintptr(threadCloneFlags)
	th.fsBase = parent.fsBase
	if setTLS {
		flags, th.fsBase = threadCloneFlagsTLS, uint64(tls)
	}
	tid, err := parent.request(stClone, unix.SYS_CLONE, flags, base+slotSize-16, 0, base+offTIDWord, tls)
	if err != nil {
		return fail(err)
	}
	th.hostTID = int(tid)
	return th, nil
}

// AdoptThread implements platform.ThreadSpawner: the calling sentry thread
// takes over a spawned thread, once it has started.
func (as *addressSpace) AdoptThread(h platform.Thread) error {
	th := h.(*thread)
	if err := th.waitEvent(); err != nil {
		return err
	}
	th.inEvent = true
	as.mu.Lock()
	as.threads[unix.Gettid()] = th
	as.mu.Unlock()
	return nil
}

// ExitThread implements platform.ThreadSpawner: the calling sentry
// thread's stub thread exits; its slot is free again once the kernel has
// cleared its tid word.
func (as *addressSpace) ExitThread() {
	th, err := as.current()
	if err != nil {
		return
	}
	as.mu.Lock()
	delete(as.threads, unix.Gettid())
	th.slot.inUse = false
	as.mu.Unlock()
	if th.inEvent {
		th.post(stSyscall, unix.SYS_EXIT, 0)
	}
}

// Release implements platform.AddressSpace.
func (as *addressSpace) Release() {
	as.s.Kill()
	for _, sl := range as.slots {
		if sl != nil {
			as.p.mf.Free(sl.sysmsg)
			as.p.mf.Free(sl.alt)
		}
	}
}
