package seccomp

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/platform"
	"moat/platform/stub"
)

// ucontext layout on x86-64: uc_mcontext.gregs starts at 40, then the
// fpstate pointer.
const (
	ucGregs   = 40
	ucFPState = ucGregs + 23*8
	ucSize    = ucFPState + 8 + 64 + 8 // through uc_sigmask

	// Indices into gregs.
	gR8, gR9, gR10, gR11, gR12, gR13, gR14, gR15 = 0, 1, 2, 3, 4, 5, 6, 7
	gRDI, gRSI, gRBP, gRBX, gRDX, gRAX, gRCX     = 8, 9, 10, 11, 12, 13, 14
	gRSP, gRIP, gEFL, gCSGSFS, gERR, gCR2        = 15, 16, 17, 18, 19, 22

	// siginfo fields.
	siCode    = 8
	siAddr    = 16 // si_addr, or _sigsys._call_addr
	siSyscall = 24 // _sigsys._syscall
	siArch    = 28 // _sigsys._arch
	siSize    = 128

	sysSeccomp = 1 // si_code of a seccomp SIGSYS

	// Page-fault error code bits.
	pfWrite = 1 << 1
	pfInstr = 1 << 4

	// The xsave area's software-reserved bytes describe its size.
	fpSwReserved = 464
	fpXStateMag1 = 0x46505853
)

var le = binary.LittleEndian

// context drives one stub thread: the one of the sentry thread that first
// switches to it. The thread's state lives in the stub's frame.
type context struct {
	th atomic.Pointer[thread]
	// cpuBase is th's CPU time when this context took it over from a
	// lender (lend.go): not this context's.
	cpuBase atomic.Int64
}

// Release implements platform.Context.
func (c *context) Release() {}

// Blocking implements platform.Blocker: the stub, spinning for the reply
// to a call that now blocks, stops spinning and sleeps (handler.S checks
// the spin word as it spins), and the call's handling time stays out of
// the average that sets the next spin.
func (c *context) Blocking() {
	if th := c.th.Load(); th != nil && th.inEvent {
		th.blocked = true
		le.PutUint32(th.msg[offSpin:], 0)
	}
}

// Unblocked implements platform.Blocker: the call that blocked is done,
// and the sentry needs the stub again within microseconds (the call's
// reply, or first a signal's frame), so the stub, asleep since Blocking,
// is woken now to spin. Its wake, tens of µs on the test VM, then
// overlaps with what the sentry still does for the call instead of
// following it: a sh loop's parent, after each wait4, took 100 µs to
// deliver its SIGCHLD, with one wake of its sleeping stub on the way.
// Interleaved medians: sh loop 359 -> 345 ms (41 runs; 397 -> 356 and
// 312 -> 295 in smaller A/Bs), pipe ping-pong 83 -> 78 us (25 runs);
// futex ping-pong moved both ways between A/Bs. Waking the stub only
// when a signal was to be delivered gained less on both.
func (c *context) Unblocked() {
	if th := c.th.Load(); th != nil && th.inEvent && th.blocked {
		le.PutUint32(th.msg[offSpin:], stubSpin)
		rouse(th.msg)
	}
}

// ThreadCPUTime implements platform.ThreadCPUClock.
func (c *context) ThreadCPUTime() time.Duration {
	if th := c.th.Load(); th != nil {
		return max(stub.ThreadCPUTime(th.hostTID)-time.Duration(c.cpuBase.Load()), 0)
	}
	return 0
}

// CPUTime implements platform.CPUClock.
func (as *addressSpace) CPUTime() time.Duration { return max(as.s.CPUTime()-as.cpuBase, 0) }

// Kick implements platform.Kicker: it stops this context's app thread.
func (c *context) Kick() {
	if th := c.th.Load(); th != nil {
		th.Kick()
	}
}

// Switch implements platform.Context.
func (c *context) Switch(pas platform.AddressSpace, regs *arch.Registers) (platform.Event, error) {
	as := pas.(*addressSpace)
	if as.s.Dead() {
		return platform.Event{}, platform.ErrAddressSpaceDead
	}
	th := c.th.Load()
	if th == nil || th.as != as { // first switch, or a new address space after execve
		var err error
		if th, err = as.current(); err != nil {
			return platform.Event{}, err
		}
		base := th.lentCPU(unix.Gettid())
		if base == 0 {
			base = th.cpuStart
		}
		c.cpuBase.Store(int64(base))
		c.th.Store(th)
	}
	if !th.inEvent {
		return platform.Event{}, fmt.Errorf("seccomp: switch while the app runs")
	}
	if regs.Fs_base != th.fsBase {
		// The thread's own: queued (run before it returns to the app)
		// whatever the other threads do.
		if !th.queue(batchOp{nr: unix.SYS_ARCH_PRCTL, a: archSetFS, b: regs.Fs_base}) {
			if _, err := th.request(stSyscall, unix.SYS_ARCH_PRCTL, archSetFS, uintptr(regs.Fs_base)); err != nil {
				return platform.Event{}, err
			}
		}
		th.fsBase = regs.Fs_base
	}
	if le.Uint32(th.msg[offKick:]) != 0 {
		// A kick the trampoline deferred and an upgrade then
		// overtook: report it now, without running app code.
		le.PutUint32(th.msg[offKick:], 0)
		return platform.Event{Kind: platform.EventInterrupt}, nil
	}
	if th.mode != modeFrame && !trampCanReturn(regs) {
		if err := th.upgrade(); err != nil {
			return platform.Event{}, err
		}
	}
	if th.mode != modeFrame {
		putGregs(th.msg[offGregs:], regs)
	} else {
		uc, err := th.ucontext()
		if err != nil {
			return platform.Event{}, err
		}
		putGregs(uc[ucGregs:], regs)
	}
	th.inEvent = false
	now := monoNow()
	if !th.blocked && th.eventAt != 0 {
		// (A new thread's first switch ends no call it reported: the
		// time since its creation, an exec's or a clone's rest, is no
		// handling time. Counted, the clone's zero time made a new
		// thread's stub sleep on its first hundred calls.)
		th.handling = ewma(th.handling, min(now-th.eventAt, 2*spinWorthIt))
	}
	th.blocked = false
	spin := uint32(0)
	if th.handling < spinWorthIt {
		spin = stubSpin
	}
	le.PutUint32(th.msg[offSpin:], spin)
	setState(th.msg, stResume)
	at, err := th.waitEventSince(now)
	if err != nil {
		return platform.Event{}, err
	}
	th.inEvent = true
	th.eventAt = at
	if th.yielded {
		th.spread(at)
	}
	if err := th.batchFailed(); err != nil {
		return platform.Event{}, err
	}
	return th.event(regs)
}

// Flags the trampoline's return sets (arithmetic ones and DF); the others
// must be as the trampoline found them (it cannot read them: only bit 1
// and IF are assumed), or the return goes through a signal frame.
const (
	trampFlags     = 0x8d5 | 0x400
	trampBaseFlags = 0x202
)

// trampCanReturn reports whether the trampoline's return can produce regs.
func trampCanReturn(regs *arch.Registers) bool {
	return regs.Eflags&^trampFlags == trampBaseFlags && regs.Cs == arch.UserCS && regs.Ss == arch.UserSS
}

// toFrame makes the thread wait with a signal frame: upgraded if it waits
// in the trampoline.
func (th *thread) toFrame() error {
	if th.mode == modeFrame {
		return nil
	}
	return th.upgrade()
}

// ucontext returns the ucontext of the signal frame the thread waits with
// (modeFrame), checked to lie in its signal stack.
func (th *thread) ucontext() ([]byte, error) {
	return th.frame(le.Uint64(th.msg[offUctx:]), ucSize)
}

// upgrade makes the thread, waiting in the trampoline, trap into the
// handler, so that it waits with a signal frame: the way to its FP state,
// to any register state on return, and to clone.
func (th *thread) upgrade() error {
	th.post(stUpgrade, 0)
	if err := th.waitEvent(); err != nil {
		return err
	}
	th.inEvent = true
	th.mode = le.Uint32(th.msg[offMode:])
	if th.mode != modeFrame || unix.Signal(le.Uint64(th.msg[offSigno:])) != unix.SIGSYS {
		return fmt.Errorf("seccomp: the trampoline did not trap (mode %d)", th.mode)
	}
	return nil
}

// event decodes the stub's event into regs.
func (th *thread) event(regs *arch.Registers) (platform.Event, error) {
	th.mode = le.Uint32(th.msg[offMode:])
	switch th.mode {
	case modeFrame:
	case modeTramp, modeKick:
		getGregs(th.msg[offGregs:], regs)
		regs.Cs, regs.Ss = arch.UserCS, arch.UserSS
		if th.mode == modeKick {
			return platform.Event{Kind: platform.EventInterrupt}, nil
		}
		regs.Orig_rax = regs.Rax
		return platform.Event{Kind: platform.EventSyscall, ABIKnown: true}, nil
	default:
		return platform.Event{}, fmt.Errorf("seccomp: stub reported mode %d", th.mode)
	}
	signo := unix.Signal(le.Uint64(th.msg[offSigno:]))
	uc, err := th.ucontext()
	if err != nil {
		return platform.Event{}, err
	}
	si, err := th.frame(le.Uint64(th.msg[offInfo:]), siSize)
	if err != nil {
		return platform.Event{}, err
	}
	getGregs(uc[ucGregs:], regs)
	code := int32(le.Uint32(si[siCode:]))
	switch signo {
	case unix.SIGSYS:
		if code != sysSeccomp {
			return platform.Event{Kind: platform.EventSignal, Signal: int(signo), Code: code}, nil
		}
		regs.Orig_rax = uint64(int64(int32(le.Uint32(si[siSyscall:]))))
		if le.Uint32(si[siArch:]) != auditArchX8664 {
			return platform.Event{Kind: platform.EventSyscall, ABIKnown: true, Int80: true}, nil
		}
		return platform.Event{Kind: platform.EventSyscall, SyscallInsn: true, ABIKnown: true}, nil
	case unix.SIGSEGV:
		g := uc[ucGregs:]
		errCode := le.Uint64(g[8*gERR:])
		at := platform.Read
		switch {
		case errCode&pfInstr != 0:
			at = platform.AccessType{Read: true, Execute: true}
		case errCode&pfWrite != 0:
			at = platform.AccessType{Write: true}
		}
		return platform.Event{Kind: platform.EventFault, Signal: int(signo), Code: code,
			Addr: uintptr(le.Uint64(si[siAddr:])), Access: at}, nil
	case stub.KickSignal:
		return platform.Event{Kind: platform.EventInterrupt}, nil
	case unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP:
		return platform.Event{Kind: platform.EventSignal, Signal: int(signo), Code: code, Addr: uintptr(le.Uint64(si[siAddr:]))}, nil
	}
	return platform.Event{}, fmt.Errorf("seccomp: stub reported signal %d, which it does not handle", signo)
}

// getGregs copies a frame's general registers into regs; fs_base,
// gs_base and orig_rax are not in the frame and stay as they are.
func getGregs(g []byte, r *arch.Registers) {
	at := func(i int) uint64 { return le.Uint64(g[8*i:]) }
	r.R8, r.R9, r.R10, r.R11 = at(gR8), at(gR9), at(gR10), at(gR11)
	r.R12, r.R13, r.R14, r.R15 = at(gR12), at(gR13), at(gR14), at(gR15)
	r.Rdi, r.Rsi, r.Rbp, r.Rbx = at(gRDI), at(gRSI), at(gRBP), at(gRBX)
	r.Rdx, r.Rax, r.Rcx, r.Rsp = at(gRDX), at(gRAX), at(gRCX), at(gRSP)
	r.Rip, r.Eflags = at(gRIP), at(gEFL)
	csgsfs := at(gCSGSFS)
	r.Cs, r.Ss = csgsfs&0xffff, csgsfs>>48&0xffff
}

// putGregs writes regs into a frame for rt_sigreturn, which validates
// segments and flags itself.
func putGregs(g []byte, r *arch.Registers) {
	put := func(i int, v uint64) { le.PutUint64(g[8*i:], v) }
	put(gR8, r.R8)
	put(gR9, r.R9)
	put(gR10, r.R10)
	put(gR11, r.R11)
	put(gR12, r.R12)
	put(gR13, r.R13)
	put(gR14, r.R14)
	put(gR15, r.R15)
	put(gRDI, r.Rdi)
	put(gRSI, r.Rsi)
	put(gRBP, r.Rbp)
	put(gRBX, r.Rbx)
	put(gRDX, r.Rdx)
	put(gRAX, r.Rax)
	put(gRCX, r.Rcx)
	put(gRSP, r.Rsp)
	put(gRIP, r.Rip)
	put(gEFL, r.Eflags)
}

// fpFrame returns the xsave area of the current frame.
func (th *thread) fpFrame() ([]byte, error) {
	uc, err := th.ucontext()
	if err != nil {
		return nil, err
	}
	fpAddr := le.Uint64(uc[ucFPState:])
	if fpAddr == 0 {
		return nil, errNoFPFrame
	}
	hdr, err := th.frame(fpAddr, fpSwReserved+48)
	if err != nil {
		return nil, err
	}
	size := 512
	if le.Uint32(hdr[fpSwReserved:]) == fpXStateMag1 {
		size = int(le.Uint32(hdr[fpSwReserved+16:]))
	}
	return th.frame(fpAddr, size)
}

// errNoFPFrame: a new thread's start frame carries no FP state.
var errNoFPFrame = fmt.Errorf("seccomp: no FP state in this frame")

// FPState implements platform.Context.
func (c *context) FPState(pas platform.AddressSpace) (arch.FPState, error) {
	as := pas.(*addressSpace)
	th, err := as.current()
	if err != nil {
		return nil, err
	}
	if err := th.toFrame(); err != nil {
		return nil, err
	}
	fp, err := th.fpFrame()
	if err == errNoFPFrame {
		return initFPState(), nil
	}
	if err != nil {
		return nil, err
	}
	return arch.FPState(fp).Clone(), nil
}

// SetFPState implements platform.Context.
func (c *context) SetFPState(pas platform.AddressSpace, fp arch.FPState) error {
	as := pas.(*addressSpace)
	if len(fp) == 0 {
		return unix.EINVAL
	}
	th, err := as.current()
	if err != nil {
		return err
	}
	if err := th.toFrame(); err != nil {
		return err
	}
	dst, err := th.fpFrame()
	if err == errNoFPFrame {
		return th.putStartFP(fp) // a new thread, yet to start
	}
	if err != nil {
		return err
	}
	if len(fp) > len(dst) {
		return unix.EINVAL
	}
	copy(dst, fp)
	return nil
}

// initFPState is an xsave area in its initial state (legacy area only):
// x87 control word 0x37f, MXCSR 0x1f80.
func initFPState() arch.FPState {
	fp := make([]byte, 512)
	le.PutUint16(fp[0:], 0x37f)
	le.PutUint32(fp[24:], 0x1f80)
	return fp
}
