package seccomp

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/platform"
	"moat/platform/stub"
)

// thread is one stub thread and the sysmsg page it shares with the sentry
// thread that drives it.
type thread struct {
	as      *addressSpace
	slot    *slot
	msg     []byte // the sentry's view of sysmsg
	alt     []byte // the sentry's view of the alternate stack
	hostTID int
	inEvent bool      // waiting in the handler with a frame
	blocked bool      // the current system call blocked (Blocking)
	mode    uint32    // what it waits with (modeFrame, or in the trampoline)
	fsBase  uint64    // the stub thread's fs base as last set
	queued  []batchOp // the batch as queued (queue), while the stub has not run it

	// Adaptive spinning (see maxSentrySpin): spins in a row that ended in
	// sleep, waits so far, and the sentry's recent handling time.
	spinFails, waits int
	handling         time.Duration
	eventAt          time.Duration // monoNow when the last event was seen; 0: none yet
	spreadAt         time.Duration // monoNow when spread last moved a thread
	together         int           // events in a row found on the stub's CPU (spread)
	yielded          bool          // the last wait for an event yielded the CPU

	// cpuStart is the host thread's CPU time when its address space
	// was taken from the pool (keep): where its task's time starts.
	cpuStart time.Duration

	// lent holds, while the thread is lent to CLONE_VFORK children
	// (LendThread; nested vforks stack), what each lender left. Guarded
	// by as.mu.
	lent []lentFrame
	// clock reads the host thread's CPU time for LendThread; closed
	// when the thread exits or the address space goes. Guarded by as.mu.
	clock stub.ThreadClock
}

var _ platform.Thread = (*thread)(nil)

func (as *addressSpace) newThread(sl *slot, hostTID int) *thread {
	return &thread{as: as, slot: sl, msg: as.p.mf.Bytes(sl.sysmsg), alt: as.p.mf.Bytes(sl.alt), hostTID: hostTID}
}

// putStackT writes the thread's stack_t (its alternate stack) into sysmsg
// for sigaltstack.
func (th *thread) putStackT() {
	base := uint64(slotAddr(th.slot.idx))
	le.PutUint64(th.msg[offSetupStack:], base+altStackOff)
	le.PutUint32(th.msg[offSetupStack+8:], 0)
	le.PutUint64(th.msg[offSetupStack+16:], altStackLen)
}

// startFrameOff is where a new thread's first frame lives on its stack,
// and startFPOff where FP state for it goes (putStartFP), up to the top
// but for what a forked stub pushes there before it starts (handler.S's
// fork_child).
const (
	startFrameOff = altStackLen - 16<<10
	startFPOff    = (startFrameOff + 8 + ucSize + siSize + 63) &^ 63 // xrstor wants 64-byte alignment
	startFPMax    = altStackLen - 64 - startFPOff
)

// buildStartFrame writes the signal frame a new stub thread returns
// through (rt_sigreturn) to start the app thread: the sentry fills in the
// registers at its first Switch; no FP state unless putStartFP gives it
// (else the thread starts with the FP registers in their initial state),
// and no blocked signals.
func (th *thread) buildStartFrame() {
	frame := uint64(slotAddr(th.slot.idx)) + altStackOff + startFrameOff
	b := th.alt[startFrameOff : startFrameOff+8+ucSize+siSize]
	clear(b)
	le.PutUint64(b[0:], codePage+offRestorer)
	uc := b[8:]
	le.PutUint64(uc[16:], uint64(slotAddr(th.slot.idx))+altStackOff) // uc_stack
	le.PutUint64(uc[32:], altStackLen)
	le.PutUint64(uc[ucGregs+8*gCSGSFS:], arch.UserCS|arch.UserSS<<48)
	le.PutUint64(th.msg[offUctx:], frame+8)
	le.PutUint64(th.msg[offInfo:], frame+8+ucSize)
	le.PutUint64(th.msg[offSigno:], 0)
}

// putStartFP gives the start frame (buildStartFrame), which the thread
// has not returned through yet, FP state to restore: fp, a signal frame's
// xsave area (FPState of another thread on this platform).
func (th *thread) putStartFP(fp arch.FPState) error {
	frame := uint64(slotAddr(th.slot.idx)) + altStackOff + startFrameOff
	if le.Uint64(th.msg[offUctx:]) != frame+8 {
		return errNoFPFrame // not a start frame: nowhere to put it
	}
	if len(fp) > startFPMax {
		return unix.EINVAL
	}
	copy(th.alt[startFPOff:], fp)
	le.PutUint64(th.alt[startFrameOff+8+ucFPState:], uint64(slotAddr(th.slot.idx))+altStackOff+startFPOff)
	return nil
}

// post asks the stub thread to make a system call without waiting.
func (th *thread) post(state uint32, nr uintptr, args ...uintptr) {
	le.PutUint64(th.msg[offNR:], uint64(nr))
	for i := 0; i < 6; i++ {
		var a uintptr
		if i < len(args) {
			a = args[i]
		}
		le.PutUint64(th.msg[offArgs+8*i:], uint64(a))
	}
	th.inEvent = false
	setState(th.msg, state)
}

// request makes the stub thread, waiting in its handler, run a system call
// for the sentry and returns the result.
func (th *thread) request(state uint32, nr uintptr, args ...uintptr) (uintptr, error) {
	if !th.inEvent {
		return 0, fmt.Errorf("seccomp: address-space operation while the stub runs app code")
	}
	if state == stClone {
		// The new thread must start with every signal blocked, as
		// from the handler.
		if err := th.toFrame(); err != nil {
			return 0, err
		}
	}
	th.post(state, nr, args...)
	return th.result()
}

// result waits for the stub thread to report the result of what was
// posted to it, and returns it.
func (th *thread) result() (uintptr, error) {
	if err := th.waitEvent(); err != nil {
		return 0, err
	}
	th.inEvent = true
	if err := th.batchFailed(); err != nil {
		return 0, err
	}
	r := int64(le.Uint64(th.msg[offRet:]))
	if r < 0 && r >= -4095 {
		return 0, unix.Errno(-r)
	}
	return uintptr(r), nil
}

// batchFailed returns, once, the failure of a queued address-space
// operation that the stub reported (as.op).
func (th *thread) batchFailed() error {
	if e := int32(le.Uint32(th.msg[offBatchErr:])); e != 0 {
		le.PutUint32(th.msg[offBatchErr:], 0)
		return fmt.Errorf("seccomp: a queued address-space operation failed: %v", unix.Errno(-e))
	}
	return nil
}

// The sentry's spin checks the stub's word spinChecks times between
// yields, and firstSpinChecks times before its first, with a PAUSE after
// each check (pollWord), 25 ns on the test VM: the first batch about as
// long as the fastest round trips take (the stub's return to the app, a
// getpid, its trap back), which a yield, a system call of 200-300 ns on
// the test VM, would otherwise lengthen, while a stub that waits for this
// CPU waits little more for the yield.
//
// The PAUSE is what made the fast round trips faster: the same spin as a
// plain Go loop of loads (192, then 64 checks: 90 and 30 ns) had a
// patched getpid at 267 against 227 ns with PAUSE (interleaved medians of
// 11; native 140), and 287 against 245 in another A/B (15); the sh loop,
// python3, fork+exit and the futex ping-pong moved within their noise
// (A/Bs of 11 to 31 runs, both ways). Probably because a loop of
// loads has many in flight to the line the stub is about to write, all
// discarded when the write lands, and PAUSE keeps one. A first batch of 4
// (100 ns) yielded before most getpid replies (485 ns); one of 192 (4.8
// us) gained no more than 12.
const (
	firstSpinChecks = 12
	spinChecks      = 4
)

// pollWord reports whether *w&mask == want, checked up to n (at least 1)
// times, with a PAUSE after each check that fails (cpu_amd64.s).
//
//go:noescape
func pollWord(w *uint32, mask, want uint32, n int) bool

// monoBase anchors monoNow.
var monoBase = time.Now()

// monoNow reads the monotonic clock alone, as a time since monoBase (never
// 0 once the sentry has started anything). time.Now reads the wall clock
// too, a second vDSO call: 49 against 26 ns on the test VM, where the
// sentry read the clock five times per round trip with the stub, a third
// of a getpid's cost beyond native. It now reads it once (Switch).
func monoNow() time.Duration { return time.Since(monoBase) }

// waitEvent waits until the stub thread reports an event (waitEventSince).
func (th *thread) waitEvent() error {
	_, err := th.waitEventSince(monoNow())
	return err
}

// waitEventSince waits until the stub thread reports an event: spin from
// start, a monoNow reading (see maxSentrySpin), then sleep in futex,
// checking now and then that the stub is still alive. It returns when it
// saw the event, on monoNow's clock, to within one round of checks (some
// hundreds of ns): its last reading, start or the one after its
// last yield or sleep. So a round trip reads the clock only where the
// caller does, and not at all on the way from the event to its handling.
func (th *thread) waitEventSince(start time.Duration) (time.Duration, error) {
	th.waits++
	th.yielded = false
	if th.spinFails < spinFailLimit || th.waits%probeEvery == 0 {
		batch := firstSpinChecks
		for now := start; now-start < maxSentrySpin; now = monoNow() {
			if pollWord(word(th.msg, offState), ^uint32(stSleeping), stEvent, batch) {
				th.spinFails = 0
				return now, nil
			}
			// As the stub does (handler.S): let a thread waiting
			// for this CPU run, maybe the stub itself.
			unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
			th.yielded = true
			batch = spinChecks
		}
		th.spinFails++
	}
	timeout := unix.NsecToTimespec(int64(50 * time.Millisecond))
	for {
		v := loadState(th.msg)
		if v&^stSleeping == stEvent {
			return monoNow(), nil
		}
		// Say so before sleeping (see setState); if the stub changed
		// the word meanwhile, FUTEX_WAIT returns at once.
		if v&stSleeping == 0 && markSleeping(th.msg, v) {
			v |= stSleeping
		}
		futexWait(th.msg, v, &timeout)
		if th.hasEvent() {
			return monoNow(), nil
		}
		s := th.as.s
		if s.Dead() || unix.Kill(s.PID, 0) != nil {
			s.MarkDead()
			return 0, platform.ErrAddressSpaceDead
		}
		if s.TryReap() {
			return 0, platform.ErrAddressSpaceDead
		}
	}
}

// hasEvent reports whether the stub has reported an event. The stub may
// already have marked the word as sleeping in its own wait for the reply.
func (th *thread) hasEvent() bool { return loadState(th.msg)&^stSleeping == stEvent }

// frame returns n bytes of the thread's signal stack at the stub address
// addr, which the app could have forged: it must lie inside the stack.
func (th *thread) frame(addr uint64, n int) ([]byte, error) {
	lo := uint64(slotAddr(th.slot.idx)) + altStackOff
	if addr < lo || addr > lo+altStackLen || lo+altStackLen-addr < uint64(n) {
		return nil, fmt.Errorf("seccomp: stub reported a frame outside its signal stack (%#x)", addr)
	}
	off := addr - lo
	return th.alt[off : off+uint64(n)], nil
}

// Kick stops the thread's app code (any goroutine may call it).
func (th *thread) Kick() {
	if th.hostTID != 0 {
		unix.Tgkill(th.as.s.PID, th.hostTID, stub.KickSignal)
	}
}
