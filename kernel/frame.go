package kernel

import (
	"golang.org/x/sys/unix"

	"moat/arch"
)

// The x86-64 rt_sigframe, as Linux lays it out on the app's stack:
//
//	pretcode  (8)    the handler's return address: sa_restorer
//	ucontext  (304)  uc_flags, uc_link, uc_stack, sigcontext, uc_sigmask
//	siginfo   (128)
//	...              the xsave area, 64-byte aligned, above the frame
//
// The handler starts with rdi = signo, rsi = &siginfo, rdx = &ucontext and
// rsp = &pretcode; returning runs rt_sigreturn, which restores everything
// from the (possibly modified) ucontext.
const (
	frameUcontext = 8
	frameSiginfo  = frameUcontext + ucSize
	frameSize     = frameSiginfo + 128

	ucSize      = 304
	ucStack     = 16  // stack_t
	ucMcontext  = 40  // struct sigcontext
	ucSigmask   = 296 // kernel sigset (8 bytes)
	scFPState   = 184 // sigcontext.fpstate, within the sigcontext
	redZone     = 128
	fpAlign     = 64
	fpXStateMag = 0x46505845 // FP_XSTATE_MAGIC2, after the xsave area

	ucFPXState       = 0x1
	ucSigcontextSS   = 0x2
	ucStrictRestorSS = 0x4

	saNocldwait = 0x2
	saSiginfo   = 0x4
	saOnstack   = 0x08000000
	saRestart   = 0x10000000
	saNodefer   = 0x40000000
	saResethand = 0x80000000
	saRestorer  = 0x04000000

	// eflags bits rt_sigreturn lets the app change (FIX_EFLAGS).
	fixEflags = 0x40dd5
	// eflags bits cleared for a handler: DF, TF, RF.
	handlerClearEflags = 0x400 | 0x100 | 0x10000
)

// SignalStack is sigaltstack's state.
type SignalStack struct {
	SP    uint64
	Flags int32
	Size  uint64
}

// Sigaltstack flags.
const (
	SSOnstack     = 1
	SSDisable     = 2
	SSAutodisarm  = -1 << 31
	MinSigStkSz   = 2048
	sigcontextLen = 256
)

// onAltStack reports whether sp is on the task's alternate signal stack.
func (t *Task) onAltStack(sp uint64) bool {
	a := t.altStack
	return a.Flags&SSDisable == 0 && a.Size != 0 && sp > a.SP && sp-a.SP <= a.Size
}

// AltStack returns sigaltstack's view of the alternate stack.
func (t *Task) AltStack() SignalStack {
	a := t.altStack
	if a.Size == 0 || a.Flags&SSDisable != 0 {
		return SignalStack{Flags: SSDisable}
	}
	if t.onAltStack(t.regs.Rsp) {
		a.Flags |= SSOnstack
	}
	return a
}

// SetAltStack implements sigaltstack's change.
func (t *Task) SetAltStack(s SignalStack) error {
	if t.onAltStack(t.regs.Rsp) {
		return unix.EPERM
	}
	mode := s.Flags &^ SSAutodisarm
	switch mode {
	case SSDisable:
		t.altStack = SignalStack{Flags: SSDisable}
		return nil
	case 0, SSOnstack:
	default:
		return unix.EINVAL
	}
	if s.Size < MinSigStkSz {
		return unix.ENOMEM
	}
	t.altStack = SignalStack{SP: s.SP, Size: s.Size, Flags: s.Flags & SSAutodisarm}
	return nil
}

// setupFrame builds a signal frame for a handler and points the registers
// at it. oldMask is the mask the handler's return restores.
func (t *Task) setupFrame(si SigInfo, act SigAction, oldMask uint64) error {
	if act.Flags&saRestorer == 0 {
		return unix.EFAULT // x86-64 needs SA_RESTORER; Linux kills with SIGSEGV
	}
	sp := t.regs.Rsp
	onAlt := act.Flags&saOnstack != 0 && t.altStack.Size != 0 && t.altStack.Flags&SSDisable == 0 && !t.onAltStack(sp)
	if onAlt {
		sp = t.altStack.SP + t.altStack.Size
	} else {
		sp -= redZone
	}
	fp, err := t.ctx.FPState(t.mm.AddressSpace())
	if err != nil {
		return err
	}
	fpAddr := (sp - uint64(len(fp)) - 4) &^ (fpAlign - 1)
	frame := ((fpAddr - frameSize) &^ 15) - 8

	b := make([]byte, frameSize)
	le.PutUint64(b[0:], act.Restorer)
	uc := b[frameUcontext:]
	le.PutUint64(uc[0:], ucFPXState|ucSigcontextSS|ucStrictRestorSS)
	as := t.AltStack()
	le.PutUint64(uc[ucStack:], as.SP)
	le.PutUint32(uc[ucStack+8:], uint32(as.Flags))
	le.PutUint64(uc[ucStack+16:], as.Size)
	putSigcontext(uc[ucMcontext:], &t.regs, si, oldMask, fpAddr)
	le.PutUint64(uc[ucSigmask:], oldMask)
	copy(b[frameSiginfo:], si.Encode())

	xs := make([]byte, len(fp)+4)
	copy(xs, fp)
	le.PutUint32(xs[len(fp):], fpXStateMag)
	if _, err := t.mm.CopyOut(uintptr(fpAddr), xs); err != nil {
		return unix.EFAULT
	}
	if _, err := t.mm.CopyOut(uintptr(frame), b); err != nil {
		return unix.EFAULT
	}
	if onAlt && t.altStack.Flags&SSAutodisarm != 0 {
		t.altStack = SignalStack{Flags: SSDisable}
	}
	r := &t.regs
	r.Rsp = frame
	r.Rip = act.Handler
	r.Rdi = uint64(si.Signo)
	r.Rsi = frame + frameSiginfo
	r.Rdx = frame + frameUcontext
	r.Rax = 0
	r.Eflags &^= handlerClearEflags
	r.Cs, r.Ss = arch.UserCS, arch.UserSS
	return nil
}

// putSigcontext lays out struct sigcontext.
func putSigcontext(b []byte, r *arch.Registers, si SigInfo, oldMask, fpAddr uint64) {
	regs := []uint64{r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15,
		r.Rdi, r.Rsi, r.Rbp, r.Rbx, r.Rdx, r.Rax, r.Rcx, r.Rsp, r.Rip, r.Eflags}
	for i, v := range regs {
		le.PutUint64(b[8*i:], v)
	}
	le.PutUint16(b[144:], uint16(r.Cs))
	le.PutUint16(b[150:], uint16(r.Ss))
	// err and trapno stay 0: the platform does not report them.
	le.PutUint64(b[168:], oldMask)
	if isFaultSignal(unix.Signal(si.Signo)) {
		le.PutUint64(b[176:], si.Addr) // cr2
	}
	le.PutUint64(b[scFPState:], fpAddr)
}

// user32CS is the 32-bit user code segment (__USER32_CS): a sigreturn to
// it switches the app to compatibility mode, as on Linux.
const user32CS = 0x23

// sigreturn restores the state a signal frame saved: registers (with
// segment and flag checks), the signal mask, the FP state and the
// alternate stack. The frame is the app's memory, so everything in it is
// hostile.
func (t *Task) sigreturn() error {
	frame := t.regs.Rsp - 8
	uc := make([]byte, ucSize)
	if _, err := t.mm.CopyIn(uintptr(frame+frameUcontext), uc); err != nil {
		return unix.EFAULT
	}
	sc := uc[ucMcontext:]
	at := func(i int) uint64 { return le.Uint64(sc[8*i:]) }
	r := t.regs
	r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15 = at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7)
	r.Rdi, r.Rsi, r.Rbp, r.Rbx, r.Rdx, r.Rax, r.Rcx, r.Rsp = at(8), at(9), at(10), at(11), at(12), at(13), at(14), at(15)
	r.Rip = at(16)
	r.Eflags = t.regs.Eflags&^fixEflags | at(17)&fixEflags
	// The segments are the frame's at user privilege, as Linux's
	// restore_sigcontext takes them; without UC_STRICT_RESTORE_SS, and
	// with the 64-bit code segment, an unusable SS becomes the user data
	// segment (force_valid_ss). Other bad segments fault on the return to
	// the app (run).
	r.Cs, r.Ss = uint64(le.Uint16(sc[144:])|3), uint64(le.Uint16(sc[150:])|3)
	if le.Uint64(uc[0:])&ucStrictRestorSS == 0 && r.Cs == arch.UserCS && r.Ss != arch.UserSS {
		r.Ss = arch.UserSS // the only writable user data segment: no LDT or TLS descriptors here
	}
	r.Orig_rax = ^uint64(0) // not in a system call: nothing to restart
	t.restartBlock = nil    // restart_syscall now fails with EINTR, as on Linux

	if fpAddr := le.Uint64(sc[scFPState:]); fpAddr != 0 {
		cur, err := t.ctx.FPState(t.mm.AddressSpace())
		if err != nil {
			return err
		}
		fp := make([]byte, len(cur))
		if _, err := t.mm.CopyIn(uintptr(fpAddr), fp); err != nil {
			return unix.EFAULT
		}
		if err := t.ctx.SetFPState(t.mm.AddressSpace(), fp); err != nil {
			return unix.EFAULT // a corrupt xsave header: Linux kills with SIGSEGV
		}
	}
	t.SetSigMask(le.Uint64(uc[ucSigmask:]))
	// The alternate stack is restored as sigaltstack would set it from
	// where the handler returns, before the saved registers are: a
	// handler on that stack cannot have it replaced (EPERM, ignored as
	// restore_altstack ignores it).
	ss := SignalStack{SP: le.Uint64(uc[ucStack:]), Flags: int32(le.Uint32(uc[ucStack+8:])), Size: le.Uint64(uc[ucStack+16:])}
	if ss.Flags&SSDisable == 0 || t.altStack.Flags&SSDisable == 0 {
		t.SetAltStack(ss)
	}
	t.regs = r
	return nil
}

// Sigreturn implements rt_sigreturn: the system call returns with the
// restored registers.
func (t *Task) Sigreturn() error {
	if err := t.sigreturn(); err != nil {
		t.ForceSignal(SigInfo{Signo: int32(unix.SIGSEGV), Code: SIKernel})
	}
	return errRegsRestored
}

// deliverSignals delivers every deliverable pending signal before the task
// returns to app code, and resolves an interrupted system call's restart.
func (t *Task) deliverSignals() {
	handled := false
	for !t.exiting {
		if t.Stopped() && !t.parkStopped() {
			return // killed while stopped
		}
		if t.k.frozen.Load() && !t.parkFrozen() {
			return // killed while frozen
		}
		if t.nothingQueued() {
			break // the common case, without the locks
		}
		t.mu.Lock()
		si, ok := t.dequeueLocked(t.sigMask)
		oldMask := t.sigMask
		if t.savedMask != nil {
			oldMask = *t.savedMask
		}
		t.mu.Unlock()
		if !ok {
			break
		}
		sig := unix.Signal(si.Signo)
		act, _ := t.SigAction(int(sig), nil)
		switch act.Handler {
		case SigIgn:
			continue
		case SigDfl:
			switch defaultActionOf(sig) {
			case actTerminate, actCore:
				t.exitWithSignal(sig)
				return
			case actStop:
				t.groupStop(sig)
			}
			continue
		}
		if t.restart != 0 {
			if t.restart == ErrRestartNoIntr || t.restart == ErrRestartSys && act.Flags&saRestart != 0 {
				arch.RestartSyscall(&t.regs)
			} else {
				t.regs.Rax = ^uint64(unix.EINTR) + 1 // -EINTR
			}
			t.restart = 0
		}
		if err := t.setupFrame(si, act, oldMask); err != nil {
			t.k.log.Debug("cannot deliver signal: frame setup failed", "tid", t.tid, "signal", sig, "err", err)
			t.exitWithSignal(unix.SIGSEGV)
			return
		}
		handled = true
		mask := oldMask | act.Mask
		if act.Flags&saNodefer == 0 {
			mask |= SigBit(int(sig))
		}
		if act.Flags&saResethand != 0 {
			t.resetHandler(int(sig)) // only the handler: flags and mask stay, as on Linux
		}
		t.mu.Lock()
		t.savedMask = nil
		t.mu.Unlock()
		t.SetSigMask(mask)
	}
	if t.restart != 0 {
		// No handler ran: restart the call transparently.
		arch.RestartSyscall(&t.regs)
		if t.restart == ErrRestartBlock {
			t.regs.Rax = unix.SYS_RESTART_SYSCALL
		}
		t.restart = 0
	}
	if !handled {
		t.mu.Lock()
		if t.savedMask != nil {
			t.sigMask = *t.savedMask &^ unblockable
			t.savedMask = nil
		}
		t.mu.Unlock()
	}
}
