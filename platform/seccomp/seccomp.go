// Package seccomp is the fast platform. Each stub runs under a seccomp
// filter that turns every system call of the app into a SIGSYS, handled in
// the stub itself by a small handler (handler.S) on an alternate signal
// stack. The handler tells the sentry through a page of the memory file
// that both map (sysmsg) and waits; the sentry reads and writes the app's
// registers directly in the signal frame — also memory-file memory — and
// tells the handler to return. Faults take the same path, with the
// hardware error code. The platform makes no ptrace call: every app stub
// is forked, already set up, from the zygote (see zygote), a sealed stub
// parked in its handler, which sets itself up (newZygote).
//
// Address-space operations (mmap of the memory file, munmap) of an address
// space with one thread are queued in sysmsg and run by the stub before it
// next acts (addressSpace.op), so the mappings a fault needs cost no round
// trip of their own.
//
// The hand-off is a bounded spin and then a futex wait on the sysmsg state
// word, on both sides; a side calls FUTEX_WAKE only when the other has
// marked the word as sleeping (stSleeping). Spinning pays only with the
// two sides on different CPUs: a sentry thread that finds its stub thread
// on its own CPU, call after call, moves it (spread.go).
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
// sandbox has its own memory file). That includes the zygote's sysmsg and
// the seal filter there: app code that writes it can have the zygote fork
// processes that run app code unknown to the sentry. They are no escape:
// the stub filter confines them as any stub (no file, socket or signal;
// only the gates' calls), they die with the sentry (parent-death signal)
// and the sandbox's pids and CPU limits bound them. A pid the zygote
// reports is trusted only if it names a child of the sentry. A stub also
// holds read-only descriptors of host files of the sandbox's read-only
// view that the sentry gave it (hostfd.go), which the same jump can map
// but never write.
//
// Every operation on an AddressSpace or Context must come from the OS
// thread that drives the stub thread it concerns: an address space finds
// the stub thread by the calling thread's id.
//
// Lock order: Platform.zmu, then addressSpace.fdMu, then listener.mu
// (hostfd.go); addressSpace.mu is taken last.
package seccomp

import (
	"fmt"
	"maps"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/memexec"
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
	MaxThreads = 1024
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

	// The batch of queued address-space operations (see handler.S): a
	// count, the first failure's -errno, and the entries (nr and prot as
	// u32, then addr, length, offset), which end where gregs begin.
	offBatchN   = 136
	offBatchErr = 140
	// offCPU is 1 + the CPU the stub thread last gave way on (see
	// spread); 0: none since the sentry last looked.
	offCPU     = 144
	offBatch   = 512
	batchEntry = 32
	batchMax   = (offGregs - offBatch) / batchEntry

	// Scratch areas used while setting the stub up.
	offSetupStack  = 256 // stack_t
	offSetupAction = 320 // struct kernel_sigaction
	offSetupSigs   = 352 // the handled signals, bytes, 0-ended
	offSetupFlags  = 496 // the stub filter's flags (u32)
	offSetupProg   = 512 // struct sock_fprog
	offSetupFilter = 1024

	// The zygote's seal filter for its children, where its own filter
	// was set up (handler.S's OFF_SEAL_PROG).
	offSealProg   = offSetupProg
	offSealFilter = offSetupFilter
)

// Values of the state word.
const (
	stEvent   = 1 // the stub has an event for the sentry
	stResume  = 2 // the sentry is done: return to the app
	stSyscall = 3 // the sentry asks the stub to make a system call
	stClone   = 4 // the same for clone: a new stub thread
	stUpgrade = 5 // a thread in the trampoline: trap into the handler
	stFork    = 6 // the zygote: fork a new stub (clone at gate_fork)
	stGetFD   = 7 // call at gate_getfd, for a host file (hostfd.go)

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
//     every probeEvery-th wait. The bound is long, a millisecond: the gaps
//     between an app's calls while it starts (its dynamic loader's work,
//     python's imports) are often some hundreds of microseconds, and a
//     stub that finds the sentry asleep pays a FUTEX_WAKE of a thread
//     whose vCPU is likely halted. A perf profile of a sh loop had 10% of
//     all samples in the stubs' wakes of the sentry, and 4.3 such wakes
//     per /bin/true. Interleaved medians of 21 runs, 50 us against 1 ms:
//     sh loop 539 -> 427 ms, python3 137 -> 82 ms, gcc -c 232 -> 158 ms,
//     in a slow stretch of the host (native 163, 33 and 61 ms), where a
//     halted vCPU's wake costs the most; 393 -> 348 ms, 80 -> 69 ms and
//     138 -> 129 ms in a quieter hour. Four sandboxes at once on the two
//     cores (each a sh loop and three python3 starts, 5 rounds) took
//     2.29 against 2.39 s: the yields below hand the CPU on to the
//     sandboxes that need it. 200 us gained about half as much.
//   - The stub spins (sysmsg's spin count) only while the sentry's recent
//     handling times are short (an exponentially weighted average, each
//     sample clamped at twice spinWorthIt, so that one long call, an
//     execve's 200 us, does not stop the spinning for the next three:
//     sh loop 332 -> 318 ms, python3 66.5 -> 63.6 ms, 21 and 15
//     interleaved runs). A call
//     that blocks in the sentry (a futex wait, a read of an empty pipe,
//     wait4) is reported by the kernel (platform.Blocker): the sentry zeroes
//     the spin word, which the spinning stub re-reads, so the stub sleeps
//     at once, and the call stays out of the average, so the fast calls
//     around it (the write of a pipe ping-pong) still find the stub
//     spinning, with no FUTEX_WAKE. Measured with this and the sleeping
//     bit, each bench workload run directly, 11 interleaved runs, medians:
//     futex ping-pong 153 -> 136 us, pipe 138 -> 113 us, unix socketpair
//     144 -> 121 us; getpid unchanged (see README for go run ./bench).
//   - A spinning side yields the CPU now and then (sched_yield: the stub
//     every 256 pauses, the sentry every 4 paused checks after 12 before
//     its first: see firstSpinChecks), which returns at
//     once when nothing else is runnable. perf sched showed woken threads
//     waiting 70-90 us on average for a CPU a spinner held, often the
//     very thread it waited for. With the yields (bench, 5 runs each):
//     fork+exit+wait 1.24 -> 0.64 ms, fork+exec+wait 3.02 -> 1.75 ms, sh
//     loop 525 -> 396 ms, pthread create+join 370 -> 269 us; getpid and
//     the ping-pongs unchanged. Yielding every 32, 64 or 128 pauses, or
//     every 16 or 512 sentry checks, was no better.
//
// Tried and not kept (same VM, interleaved medians): other spin bounds
// (stub 1000 pauses, sentry 10 or 20 us) moved nothing beyond the noise;
// with the yields, stub 1000 or 16000 pauses, sentry 10 or 200 us, or a
// sentry that never stops spinning, neither (measured before the sentry's
// one clock read per round trip and the stub's early wake; with those, 1
// ms pays, above). With the 1 ms bound, a sentry that never stops
// spinning gained nothing more (python3 73 against 69 ms), and the stub
// spinning 16000 pauses while handling times stay under 100 us moved the
// real programs both ways (sh loop -4%, python3 +8%).
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
	maxSentrySpin = time.Millisecond
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
	filt []byte
	seal []byte // sealFilter, encoded
	// patch: syscall-site patching is on (SetSyscallPatching).
	patch bool

	zmu    sync.Mutex // serialises forks; guards zygote, keeper, used and live
	zygote *zygote
	used   bool // NewAddressSpace has been called
	keeper chan chan zygoteResult
	spare  *addressSpace // forked ahead, not handed out yet
	// live counts address spaces handed out and not yet released. It
	// rises only with zmu held; Release lowers it without (a fork in
	// progress holds zmu) and takes zmu only when it reaches zero.
	live atomic.Int64
	// noHostFiles: the host cannot give stubs host files (hostfd.go).
	noHostFiles atomic.Bool
	// zfds are the zygote's host files, by content key (hostfd.go),
	// which the stubs it forks inherit. Guarded by zmu.
	zfds map[any]int
	// pool holds released address spaces kept for reuse, emptied, at
	// most poolMax (see keep). Guarded by zmu.
	pool []*addressSpace
}

// poolMax bounds the pool. Two keep a sh loop's every exec from forking
// from the zygote: each exec takes one while the last child's, which
// comes back at its exit, waits.
const poolMax = 2

// SetSyscallPatching turns syscall-site patching on or off for address
// spaces created afterwards: the memory manager then rewrites recognised
// system-call sites (platform/syspatch) to enter through tramp_entry.
func (p *Platform) SetSyscallPatching(on bool) {
	p.zmu.Lock()
	defer p.zmu.Unlock()
	p.patch = on
	p.dropSparesLocked() // set up for the old setting
}

// dropSparesLocked kills the spare and the pooled address spaces.
//
// Preconditions: p.zmu is held.
func (p *Platform) dropSparesLocked() {
	if p.spare != nil {
		p.spare.Release()
		p.spare = nil
	}
	for _, as := range p.pool {
		as.Release()
	}
	p.pool = nil
}

var _ platform.Platform = (*Platform)(nil)

// New returns the platform. It fails if the filter does not check out.
func New(mf MemoryFile, code platform.FileRange) (*Platform, error) {
	if len(handlerCode) > 4096 {
		return nil, fmt.Errorf("seccomp: handler does not fit a page")
	}
	copy(mf.Bytes(code), handlerCode)
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
	seal, err := sealFilter()
	if err != nil {
		return nil, fmt.Errorf("seccomp: assembling the seal filter: %w", err)
	}
	if err := checkSeal(seal); err != nil {
		return nil, err
	}
	return &Platform{mf: mf, code: code, filt: encodeFilter(filter), seal: encodeFilter(seal)}, nil
}

var _ platform.TimeEntry = (*Platform)(nil)

// TimeEntry implements platform.TimeEntry: handler.S's time_entry, at
// gate_time, which the stub filter lets make only those host calls.
func (p *Platform) TimeEntry() uintptr { return codePage + offTimeEntry }

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

// SentryThreadsReusable implements platform.ThreadReuser: a context keeps
// its state in sysmsg and the address space, none on the sentry thread
// (which the address space finds by thread id only while it drives one of
// its threads).
func (p *Platform) SentryThreadsReusable() bool { return true }

// addressSpace is one stub process: its slots, and the stub threads that
// run the app's threads, each driven by one sentry OS thread.
type addressSpace struct {
	p        *Platform
	s        *stub.Stub
	counted  bool    // handed out by NewAddressSpace, in p.live
	first    *thread // the thread the stub started with
	released bool
	// cpuBase is the stub's CPU time when this use of it began: a
	// pooled stub's earlier uses were other processes' (keep).
	cpuBase time.Duration

	mu      sync.Mutex
	slots   [MaxThreads]*slot
	threads map[int]*thread // by the sentry OS thread (gettid) driving it

	// Host files (hostfd.go): the zygote's listener, nil without one;
	// noHost once installing a file failed; the stub's host files by
	// content key, and the next number to give.
	lis     *listener
	noHost  atomic.Bool
	fdMu    sync.Mutex
	hostFDs map[any]int
	nextFD  int
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

// NewAddressSpace implements platform.Platform: a stub released before
// and pooled (keep), emptied, its thread waiting where it last stopped;
// else a new stub, forked from the zygote, waiting in thread_start for
// its first Switch. One is forked ahead (the spare), off the caller's
// path: an exec or fork takes it and, if the pool is empty, leaves the
// next one to a goroutine of its own.
//
// Preconditions: the calling goroutine is locked to its OS thread, which
// is the one that drives the address space's first thread.
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	p.zmu.Lock()
	p.used = true
	as := p.takePooledLocked()
	if as == nil {
		as = p.spare
		p.spare = nil
	}
	var err error
	if as == nil {
		as, err = p.forkSpaceLocked()
	}
	if err == nil {
		p.live.Add(1)
		as.counted = true
	}
	refill := len(p.pool) == 0
	p.zmu.Unlock()
	if err != nil {
		return nil, err
	}
	th := as.first
	as.mu.Lock()
	as.threads[unix.Gettid()] = th
	as.mu.Unlock()
	if refill {
		go p.refill()
	}
	return as, nil
}

// takePooledLocked returns a pooled address space, alive, or nil. Its
// CPU time starts now: what its stub spent before was other processes'.
//
// Preconditions: p.zmu is held.
func (p *Platform) takePooledLocked() *addressSpace {
	for len(p.pool) > 0 {
		as := p.pool[len(p.pool)-1]
		p.pool = p.pool[:len(p.pool)-1]
		if as.s.Dead() || as.s.TryReap() {
			as.Release() // killed from outside the sandbox meanwhile
			continue
		}
		as.cpuBase = as.s.CPUTime()
		th := as.first
		as.mu.Lock()
		th.cpuStart = th.clock.Read(th.hostTID) // (kept open: 1 us, not 11)
		as.mu.Unlock()
		return as
	}
	return nil
}

var _ platform.Prestarter = (*Platform)(nil)

// Prestart implements platform.Prestarter: the zygote's start (an exec
// and its setup) and the first address space's fork happen in the
// background while the caller sets up the rest of the sandbox and opens
// its first program, about 1.5 ms of `moat run`. Measured when the
// zygote was still set up under ptrace (2-4 ms of `moat run`'s 11 on the
// test VM), where the two competed for the two CPUs: `moat run --
// /bin/busybox true` 11.28 -> 11.01 ms (interleaved medians of 41
// runs). Nothing happens once an address space has been asked for: a
// sandbox that has ended leaves nothing running.
func (p *Platform) Prestart() {
	go func() {
		p.zmu.Lock()
		defer p.zmu.Unlock()
		if p.used || p.spare != nil {
			return
		}
		if as, err := p.forkSpaceLocked(); err == nil {
			p.spare = as
		} // else the first NewAddressSpace forks, and reports, itself
	}()
}

// refill forks the next spare address space, unless there is one or no
// address space is in use (the sandbox may have ended).
func (p *Platform) refill() {
	p.zmu.Lock()
	defer p.zmu.Unlock()
	if p.spare != nil || len(p.pool) > 0 || p.live.Load() == 0 {
		return
	}
	as, err := p.forkSpaceLocked()
	if err != nil {
		return // the next NewAddressSpace forks, and reports, itself
	}
	p.spare = as
}

// forkSpaceLocked forks a stub from the zygote and waits until it has
// started: its first thread waits in slot 0 for a Switch.
//
// Preconditions: p.zmu is held.
func (p *Platform) forkSpaceLocked() (*addressSpace, error) {
	as := &addressSpace{p: p, threads: make(map[int]*thread)}
	sl, _, err := as.newSlot()
	if err != nil {
		return nil, err
	}
	if sl.idx != 0 {
		panic("seccomp: a new address space's first slot is not slot 0")
	}
	th := as.newThread(sl, 0)
	as.first = th
	th.putStackT()
	if p.patch {
		le.PutUint64(th.msg[offSelf:], uint64(slotAddr(0)))
	}
	th.buildStartFrame()
	pid, err := p.forkStubLocked(sl)
	if err != nil {
		as.freeSlots()
		return nil, err
	}
	if err := checkChild(pid); err != nil {
		as.freeSlots()
		return nil, err
	}
	as.s = stub.Adopt(pid)
	th.hostTID = pid
	if l := p.zygote.as.lis; l != nil {
		l.incRef()
		as.lis = l
		as.hostFDs = maps.Clone(p.zfds) // inherited
	}
	if err := th.waitEvent(); err != nil {
		as.Release()
		return nil, fmt.Errorf("seccomp: a new stub did not start: %w", err)
	}
	th.inEvent = true
	return as, nil
}

// checkChild checks a pid the zygote reported, from its sysmsg in the
// memory file, which app code can map: before the sentry ever signals it
// (Release kills it), it must at least be a child of the sentry, not just
// any process.
func checkChild(pid int) error {
	var si unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &si, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil {
		return fmt.Errorf("seccomp: the zygote reported pid %d, not a child of the sentry: %w", pid, err)
	}
	return nil
}

// forkStubLocked has the zygote fork a stub whose first thread runs in
// slot 0, sl. A dead zygote is replaced once.
//
// Preconditions: p.zmu is held.
func (p *Platform) forkStubLocked(sl *slot) (int, error) {
	for retried := false; ; retried = true {
		if p.zygote == nil {
			z, err := p.startZygote()
			if err != nil {
				return 0, err
			}
			p.zygote = z
			p.zfds = nil
		}
		z := p.zygote
		pid, err := z.fork(sl)
		if err == nil {
			return pid, nil
		}
		if !z.as.s.Dead() || retried {
			return 0, err
		}
		z.as.Release()
		p.zygote = nil
	}
}

// released counts an address space forked from the zygote as gone; with
// the last one the zygote and its keeper go too (a sandbox that ends
// leaves nothing running; the next address space starts a new zygote).
func (p *Platform) released() {
	if p.live.Add(-1) > 0 {
		return
	}
	p.zmu.Lock()
	defer p.zmu.Unlock()
	if p.live.Load() > 0 {
		return // handed out again meanwhile
	}
	p.dropSparesLocked()
	if p.zygote != nil {
		p.zygote.as.Release()
		p.zygote = nil
		p.zfds = nil
		close(p.keeper) // its thread exits with it
		p.keeper = nil
	}
}

// A zygote is the stub every app stub is forked from (handler.S's FORK):
// started once, set up like any stub (code page, handlers, filter) and
// then parked in its handler, where it runs only what the sentry asks.
// Forking it costs a clone of a nearly empty process, where starting a
// stub costs an exec and its setup (measured when each was set up under
// ptrace: 1.3 ms per address space).
//
// The zygote and, through CLONE_PARENT, every stub are children of one
// sentry thread that does not exit while any of them lives (the keeper):
// a parent-death signal follows the parent thread, not the process.
type zygote struct {
	as *addressSpace // its lis is the zygote's filter's listener
	th *thread
}

// zygoteSlot is the zygote's own slot: the highest, so that its children
// start in slot 0 as any stub's first thread does.
const zygoteSlot = MaxThreads - 1

// startZygote starts a zygote on the keeper thread, starting the keeper
// the first time.
//
// Preconditions: p.zmu is held.
func (p *Platform) startZygote() (*zygote, error) {
	if p.keeper == nil {
		p.keeper = make(chan chan zygoteResult)
		go p.keep(p.keeper)
	}
	reply := make(chan zygoteResult)
	p.keeper <- reply
	r := <-reply
	return r.z, r.err
}

type zygoteResult struct {
	z   *zygote
	err error
}

// keep is the keeper goroutine: it holds its OS thread while address
// spaces live (until released closes reqs) and starts zygotes on it.
func (p *Platform) keep(reqs chan chan zygoteResult) {
	runtime.LockOSThread() // never unlocked: stubs die with this thread
	for reply := range reqs {
		z, err := p.newZygote()
		reply <- zygoteResult{z, err}
	}
}

// newZygote starts a zygote: an exec of a tiny ELF written for it
// (zygoteEntry) that maps the code page and jumps to its setup, which
// empties the process, maps the zygote's slot, installs the handler for
// every handled signal and the stub filter from what the sentry wrote in
// the slot, and makes a system call at no gate, which traps into the
// handler: the zygote's first event. Then the sentry writes the seal its
// children install. Nothing is injected under ptrace: setting the zygote
// up that way took some twenty ptrace round trips, each a wake of the
// other thread, which on the two cores of the test VM competed with the
// rest of the sandbox's start (the zygote's start took 1.5-4 ms).
//
// Preconditions: called on the keeper thread (the zygote's parent-death
// signal follows it).
func (p *Platform) newZygote() (*zygote, error) {
	as := &addressSpace{p: p, threads: make(map[int]*thread)}
	sl, err := as.allocSlotLocked(zygoteSlot)
	if err != nil {
		return nil, err
	}
	th := as.newThread(sl, 0)
	base := slotAddr(sl.idx)
	th.putStackT()
	le.PutUint64(th.msg[offSetupAction:], codePage+offHandler)
	le.PutUint64(th.msg[offSetupAction+8:], saSiginfo|saOnstack|saRestorer)
	le.PutUint64(th.msg[offSetupAction+16:], codePage+offRestorer)
	le.PutUint64(th.msg[offSetupAction+24:], ^uint64(0)) // block everything while handling
	for i, sig := range handledSignals {
		th.msg[offSetupSigs+i] = byte(sig)
	}
	th.msg[offSetupSigs+len(handledSignals)] = 0
	copy(th.msg[offSetupFilter:], p.filt)
	le.PutUint16(th.msg[offSetupProg:], uint16(len(p.filt)/8))
	le.PutUint64(th.msg[offSetupProg+8:], uint64(base+offSetupFilter))
	withListener := !p.noHostFiles.Load()
	if withListener {
		le.PutUint32(th.msg[offSetupFlags:], unix.SECCOMP_FILTER_FLAG_NEW_LISTENER)
	}

	entry := zygoteEntry(uint64(p.code.Offset), uint64(base), uint64(sl.sysmsg.Offset), uint64(sl.alt.Offset))
	pid, err := memexec.Start("moat-zygote", memexec.ELF(zygoteELFBase, entry),
		[]uintptr{uintptr(p.mf.FD())}, // the zygote's fd stub.MemFD
		&syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true})
	if err != nil {
		as.freeSlots()
		return nil, fmt.Errorf("seccomp: starting the zygote: %w", err)
	}
	as.s = stub.Adopt(pid)
	th.hostTID = pid
	if err := th.waitEvent(); err != nil {
		e := int64(le.Uint64(th.msg[offRet:]))
		as.Release()
		if withListener && e < 0 && e > -4096 {
			// Maybe the listener (a filter of moat's own has one, or
			// the host is older than Linux 5.0): without host files.
			p.noHostFiles.Store(true)
			return p.newZygote()
		}
		if e < 0 && e > -4096 {
			err = fmt.Errorf("setting it up: %w (this host may not allow the stub filter: try --platform=ptrace)", unix.Errno(-e))
		}
		return nil, fmt.Errorf("seccomp: the zygote did not start: %w", err)
	}
	th.inEvent = true
	if th.mode = le.Uint32(th.msg[offMode:]); th.mode != modeFrame || unix.Signal(le.Uint64(th.msg[offSigno:])) != unix.SIGSYS {
		as.Release()
		return nil, fmt.Errorf("seccomp: the zygote did not trap (mode %d)", th.mode)
	}
	if withListener {
		as.lis = takeListener(pid, int(le.Uint64(th.msg[offRet:])))
		if as.lis == nil {
			p.noHostFiles.Store(true)
		}
	}
	clear(th.msg[offSetupStack:])
	// The seal each child installs, read from here (handler.S).
	copy(th.msg[offSealFilter:], p.seal)
	le.PutUint16(th.msg[offSealProg:], uint16(len(p.seal)/8))
	le.PutUint64(th.msg[offSealProg+8:], uint64(base+offSealFilter))
	return &zygote{as: as, th: th}, nil
}

// zygoteELFBase is where the zygote's ELF is loaded: low, clear of where
// the kernel puts the initial stack and vDSO, and of the code page.
const zygoteELFBase = 0x100000

// zygoteEntry is the code of the zygote's ELF: map the code page from
// the memory file (fd stub.MemFD, at codeOff), then jump to its setup with
// r12 = the slot, r13 and r14 = the memory file offsets of its sysmsg
// page and alternate stack, r15 = the code page:
//
//	mov $codePage, %rdi
//	mov $4096, %esi
//	mov $5, %edx             // PROT_READ|PROT_EXEC
//	mov $0x11, %r10d         // MAP_SHARED|MAP_FIXED
//	xor %r8d, %r8d           // stub.MemFD
//	mov $codeOff, %r9
//	mov $9, %eax             // SYS_mmap
//	syscall
//	mov $slot, %r12
//	mov $sysmsgOff, %r13
//	mov $altOff, %r14
//	mov $codePage, %r15
//	mov $codePage+offSetup, %rax
//	jmp *%rax
//
// A failed mmap leaves nothing at the code page: the jump faults and the
// zygote dies, which the sentry sees.
func zygoteEntry(codeOff, slot, sysmsgOff, altOff uint64) []byte {
	imm64 := func(op []byte, v uint64) []byte { return le.AppendUint64(append([]byte(nil), op...), v) }
	var b []byte
	b = append(b, imm64([]byte{0x48, 0xbf}, codePage)...)
	b = append(b, 0xbe, 0x00, 0x10, 0x00, 0x00)
	b = append(b, 0xba, 0x05, 0x00, 0x00, 0x00)
	b = append(b, 0x41, 0xba, 0x11, 0x00, 0x00, 0x00)
	b = append(b, 0x45, 0x31, 0xc0)
	b = append(b, imm64([]byte{0x49, 0xb9}, codeOff)...)
	b = append(b, 0xb8, 0x09, 0x00, 0x00, 0x00)
	b = append(b, 0x0f, 0x05)
	b = append(b, imm64([]byte{0x49, 0xbc}, slot)...)
	b = append(b, imm64([]byte{0x49, 0xbd}, sysmsgOff)...)
	b = append(b, imm64([]byte{0x49, 0xbe}, altOff)...)
	b = append(b, imm64([]byte{0x49, 0xbf}, codePage)...)
	b = append(b, imm64([]byte{0x48, 0xb8}, codePage+offSetup)...)
	b = append(b, 0xff, 0xe0)
	return b
}

// fork maps sl, the new stub's first slot, in the zygote at slot 0 (the
// child inherits the mapping; the zygote's next fork replaces it) and
// forks the child onto its stack.
//
// Preconditions: p.zmu is held.
func (z *zygote) fork(sl *slot) (int, error) {
	th := z.th
	// Spin between the requests of this fork, and sleep after its last:
	// a zygote spinning on would take a CPU from the child it just made.
	le.PutUint32(th.msg[offSpin:], stubSpin)
	if err := th.mapSlot(sl); err != nil {
		return 0, err
	}
	le.PutUint32(th.msg[offSpin:], 0)
	pid, err := th.request(stFork, unix.SYS_CLONE, forkCloneFlags, slotAddr(sl.idx)+slotSize-16)
	if err != nil {
		return 0, err
	}
	return int(pid), nil
}

// current returns the stub thread the calling sentry OS thread drives.
func (as *addressSpace) current() (*thread, error) {
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.slots[1] == nil && len(as.threads) == 1 {
		// One stub thread, ever (slots are taken lowest first), and
		// one sentry thread drives it: the caller. (gettid is a system
		// call, and an exec of a dynamic program made some fifty.)
		return as.first, nil
	}
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
			sl, err := as.allocSlotLocked(i)
			return sl, err == nil, err
		}
		if !sl.inUse && le.Uint32(as.p.mf.Bytes(sl.sysmsg)[offTIDWord:]) == 0 {
			clear(as.p.mf.Bytes(sl.sysmsg))
			sl.inUse = true
			return sl, false, nil
		}
	}
	return nil, false, unix.EAGAIN
}

// allocSlotLocked allocates the memory of slot i, in use from now on.
//
// Preconditions: as.mu is held, or as is not shared yet; slot i is nil.
func (as *addressSpace) allocSlotLocked(i int) (*slot, error) {
	sm, err := as.p.mf.Allocate(4096)
	if err != nil {
		return nil, err
	}
	alt, err := as.p.mf.Allocate(altStackLen)
	if err != nil {
		as.p.mf.Free(sm)
		return nil, err
	}
	sl := &slot{idx: i, sysmsg: sm, alt: alt, inUse: true}
	as.slots[i] = sl
	return sl, nil
}

// mapSlot maps sl's sysmsg page and signal stack into th's stub process,
// through th's requests.
func (th *thread) mapSlot(sl *slot) error {
	rw := uintptr(unix.PROT_READ | unix.PROT_WRITE)
	shared := uintptr(unix.MAP_SHARED | unix.MAP_FIXED)
	base := slotAddr(sl.idx)
	if _, err := th.request(stSyscall, unix.SYS_MMAP, base, 4096, rw, shared, stub.MemFD, uintptr(sl.sysmsg.Offset)); err != nil {
		return err
	}
	_, err := th.request(stSyscall, unix.SYS_MMAP, base+altStackOff, altStackLen, rw, shared, stub.MemFD, uintptr(sl.alt.Offset))
	return err
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

// request makes the calling sentry thread's stub thread run a system call.
func (as *addressSpace) request(nr uintptr, args ...uintptr) (uintptr, error) {
	th, err := as.current()
	if err != nil {
		return 0, err
	}
	return th.request(stSyscall, nr, args...)
}

// MapFile implements platform.AddressSpace.
func (as *addressSpace) MapFile(addr uintptr, fr platform.FileRange, at platform.AccessType) error {
	return as.op(unix.SYS_MMAP, addr, fr.Length, at.Prot(), fr.Offset)
}

// Unmap implements platform.AddressSpace.
func (as *addressSpace) Unmap(addr, length uintptr) error {
	return as.op(unix.SYS_MUNMAP, addr, length, 0, 0)
}

// op is opOn for the calling sentry thread's stub thread, mapping the
// memory file.
func (as *addressSpace) op(nr uintptr, addr, length uintptr, prot int, off int64) error {
	th, err := as.current()
	if err != nil {
		return err
	}
	return as.opOn(th, nr, addr, length, prot, off, stub.MemFD)
}

// opOn maps part of file fd (shared, fixed) or unmaps: queued in
// the batch that the stub thread runs before it next acts (handler.S)
// when that is safe, else as a request of its own, which runs the batch
// first.
//
// Queueing is safe only while the address space has a single stub thread
// and that thread waits in an event: no app code can run before the
// batch has, and every later operation, from the same sentry thread,
// runs after it. With more threads, an operation that takes access away
// (fork's unmapping of writable memory) must be done before it returns.
func (as *addressSpace) opOn(th *thread, nr uintptr, addr, length uintptr, prot int, off int64, fd int) error {
	if th.inEvent && as.soleThread() && th.queue(batchOp{nr: uint16(nr), fd: uint16(fd), prot: uint32(prot), a: uint64(addr), b: uint64(length), c: uint64(off)}) {
		return nil
	}
	var err error
	if nr == unix.SYS_MMAP {
		_, err = th.request(stSyscall, nr, addr, length, uintptr(prot), unix.MAP_SHARED|unix.MAP_FIXED, uintptr(fd), uintptr(off))
	} else {
		_, err = th.request(stSyscall, nr, addr, length)
	}
	return err
}

// queue appends a call to the thread's batch (handler.S's drain: eax =
// nr, r8 = fd, edx = prot, rdi = a, rsi = b, r9 = c) and reports whether there was
// room. A map or unmap drops the maps and unmaps queued before it whose
// whole range it covers: each replaces whatever its range held, so
// theirs would be undone before the app could see it. The memory
// manager makes such pairs all the time (a mapping premapped from the
// file cache and then given its own copy, an unmap before a MAP_FIXED
// over the same range, a remap at mprotect): a dynamic /bin/true made
// some 55 calls in its stub, each a host mmap or munmap of some µs.
//
// Preconditions: th waits in an event.
func (th *thread) queue(op batchOp) bool {
	// n is in memory app code can write (never while the thread waits
	// here, but another stub of the sandbox could map it): it only ever
	// indexes after the bound check, and the calls dropped are decided
	// from th.queued, the sentry's own copy, only while n agrees with it.
	n := le.Uint32(th.msg[offBatchN:])
	if n == 0 {
		th.queued = th.queued[:0] // the stub ran the batch (drain)
	}
	mirrored := int(n) == len(th.queued)
	if mirrored && op.replaces() {
		kept := th.queued[:0]
		for _, q := range th.queued {
			if !q.replaces() || !op.covers(q) {
				kept = append(kept, q)
			}
		}
		if len(kept) < int(n) {
			for i, q := range kept {
				q.put(th.msg[offBatch+i*batchEntry:])
			}
			n = uint32(len(kept))
			th.queued = kept
		}
	}
	if n >= batchMax {
		le.PutUint32(th.msg[offBatchN:], n)
		return false
	}
	op.put(th.msg[offBatch+n*batchEntry:])
	le.PutUint32(th.msg[offBatchN:], n+1)
	if mirrored {
		th.queued = append(th.queued, op)
	}
	return true
}

// batchOp is a call in a thread's batch.
type batchOp struct {
	nr, fd  uint16
	prot    uint32
	a, b, c uint64
}

// replaces reports whether o replaces everything in its range, whatever
// was there: a map (shared, fixed) or an unmap of b bytes at a.
func (o batchOp) replaces() bool { return o.nr == unix.SYS_MMAP || o.nr == unix.SYS_MUNMAP }

// covers reports whether o's range holds all of q's.
//
// Preconditions: both replace.
func (o batchOp) covers(q batchOp) bool {
	return o.a <= q.a && q.a-o.a <= o.b && q.b <= o.b-(q.a-o.a)
}

// put writes o as a batch entry at e.
func (o batchOp) put(e []byte) {
	le.PutUint16(e[0:], o.nr)
	le.PutUint16(e[2:], o.fd)
	le.PutUint32(e[4:], o.prot)
	le.PutUint64(e[8:], o.a)
	le.PutUint64(e[16:], o.b)
	le.PutUint64(e[24:], o.c)
}

// soleThread reports whether the address space has one stub thread: no
// other slot is in use or still has a live host thread.
func (as *addressSpace) soleThread() bool {
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.slots[1] == nil {
		// Slots are taken lowest first and never given back before
		// Release: only slot 0 was ever used (a single-threaded
		// program's case, asked on every trapped call).
		return as.slots[0] != nil
	}
	return as.liveSlotsLocked() == 1
}

// liveSlotsLocked counts the slots in use or with a live host thread.
//
// Preconditions: as.mu is held.
func (as *addressSpace) liveSlotsLocked() int {
	n := 0
	for _, sl := range as.slots {
		if sl != nil && (sl.inUse || le.Uint32(as.p.mf.Bytes(sl.sysmsg)[offTIDWord:]) != 0) {
			n++
		}
	}
	return n
}

// Protect implements platform.AddressSpace.
func (as *addressSpace) Protect(addr, length uintptr, at platform.AccessType) error {
	_, err := as.request(unix.SYS_MPROTECT, addr, length, uintptr(at.Prot()))
	return err
}

// arch_prctl's ARCH_SET_GS and ARCH_SET_FS.
const (
	archSetGS = 0x1001
	archSetFS = 0x1002
)

// SyscallEntry implements syspatch.Patcher.
func (as *addressSpace) SyscallEntry() (uintptr, bool) {
	if !as.p.patch {
		return 0, false
	}
	return codePage + offTrampEntry, as.soleThread()
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
		if err := parent.mapSlot(sl); err != nil {
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
	if l, ok := h.(*lentHandle); ok {
		as.adoptLent(l.th) // waiting in the lender's frame already
		return nil
	}
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
	if as.leave(th) {
		return
	}
	as.mu.Lock()
	delete(as.threads, unix.Gettid())
	th.slot.inUse = false
	th.clock.Close()
	as.mu.Unlock()
	if th.inEvent {
		th.post(stSyscall, unix.SYS_EXIT, 0)
	}
}

// Release implements platform.AddressSpace. The stub is killed now and
// reaped by a goroutine of its own, which then frees its slots: a dying
// process takes tens of microseconds to go, and nobody needs to wait for
// it (its threads all wait in the handler, where they touch only their
// slots).
func (as *addressSpace) Release() {
	if as.counted && !as.released && as.keep() {
		return
	}
	if !as.released {
		as.released = true
		if as.lis != nil {
			as.lis.decRef()
		}
		as.mu.Lock()
		for _, th := range as.threads {
			th.clock.Close()
		}
		as.mu.Unlock()
		as.s.Interrupt()
		as.s.MarkDead()
		go func() {
			as.s.Reap()
			as.freeSlots()
		}()
	}
	if as.counted {
		as.counted = false // a second Release counts nothing
		as.p.released()
	}
}

// keep puts as, being released, in the platform's pool instead of
// killing its stub, if it is fit for another process and the pool has
// room, and reports whether it did. Fit: its stub lives and has only ever
// had one thread, which waits in an event (an exit_group), lent to no one.
// It is emptied as an exec empties an address space it keeps (Recycle);
// its stub's own pages (code, sysmsg, signal stack) stay, with what the
// app may have written there, which the sentry checks on every read as
// it does any stub's (and a process of the sandbox could write another's
// anyway: see the package comment). A pooled stub then saves the next
// exec or fork a fork from the zygote, and the stub's exit: a sh loop of
// /bin/true 226 -> 192 ms (interleaved medians of 21; native 106).
//
// Preconditions: the caller drives as's thread.
func (as *addressSpace) keep() bool {
	p := as.p
	if as.s.Dead() || p.poolFull() {
		return false
	}
	th, err := as.current()
	if err != nil || !th.inEvent {
		return false
	}
	as.mu.Lock()
	fit := as.slots[1] == nil && len(th.lent) == 0
	as.mu.Unlock()
	if !fit || p.Recycle(as) != nil {
		return false
	}
	p.zmu.Lock()
	if len(p.pool) >= poolMax { // filled meanwhile by another release
		p.zmu.Unlock()
		return false
	}
	as.mu.Lock()
	clear(as.threads)
	as.mu.Unlock()
	as.counted = false
	p.pool = append(p.pool, as)
	p.zmu.Unlock()
	p.released() // (which drops the pool if this was the sandbox's last)
	return true
}

// poolFull reports whether the pool has no room (keep's early answer,
// before it empties an address space).
func (p *Platform) poolFull() bool {
	p.zmu.Lock()
	defer p.zmu.Unlock()
	return len(p.pool) >= poolMax
}

var _ platform.Recycler = (*Platform)(nil)

// Recycle implements platform.Recycler: one munmap of the app's whole
// range (queued, with a single thread) empties the stub, and the calling
// thread's signal frame loses its FP state, so that its return starts the
// new program with the initial one (rt_sigreturn without FP state resets
// it). The stub, its slots and the thread stay: an exec costs no fork from
// the zygote (the spare stays), no kill and no reap.
func (p *Platform) Recycle(pas platform.AddressSpace) error {
	as, ok := pas.(*addressSpace)
	if !ok || as.s.Dead() {
		return platform.ErrAddressSpaceDead
	}
	th, err := as.current()
	if err != nil {
		return err
	}
	if !th.inEvent {
		return fmt.Errorf("seccomp: recycling an address space while the app runs")
	}
	if err := th.toFrame(); err != nil {
		return err
	}
	uc, err := th.ucontext()
	if err != nil {
		return err
	}
	le.PutUint64(uc[ucFPState:], 0)
	return as.Unmap(0, maxUserAddress)
}

// freeSlots frees the memory of every slot.
func (as *addressSpace) freeSlots() {
	for i, sl := range as.slots {
		if sl != nil {
			as.p.mf.Free(sl.sysmsg)
			as.p.mf.Free(sl.alt)
			as.slots[i] = nil
		}
	}
}
