package seccomp

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"moat/platform"
)

// Lending a stub thread to a CLONE_VFORK child (platform.ThreadLender).
// The parent of a vfork waits, in its system call, until the child execs
// or exits, and the child runs in the parent's address space meanwhile:
// it can run on the parent's own stub thread instead of a new one. The
// thread waits in the parent's signal frame (vfork, clone and clone3 always
// trap: mm's framed calls); the lender keeps a copy of that frame's
// ucontext and FP state, the child runs on from that frame, and when the
// child gives the thread back (ExitThread) the copy is written into the
// frame the thread then waits with.
// A sh loop of /bin/true spawned and ended a host thread per vfork
// before.
//
// Preconditions of each method, as for every operation: the calling
// sentry thread drives the thread (the lender, then the borrower).

// lentFrame is what a lender left: its frame's ucontext and FP state,
// the borrower's sentry thread (once it has adopted the thread), whether
// the lender went meanwhile, and the thread's CPU time when lent.
type lentFrame struct {
	uc, fp     []byte
	borrower   int
	lenderGone bool
	cpu        time.Duration
}

// lentHandle is the platform.Thread LendThread returns.
type lentHandle struct{ th *thread }

var _ platform.ThreadLender = (*addressSpace)(nil)

// LendThread implements platform.ThreadLender.
func (as *addressSpace) LendThread() (platform.Thread, error) {
	th, err := as.current()
	if err != nil {
		return nil, err
	}
	if !th.inEvent {
		return nil, fmt.Errorf("seccomp: lending a thread that runs app code")
	}
	if err := th.toFrame(); err != nil {
		return nil, err
	}
	uc, err := th.ucontext()
	if err != nil {
		return nil, err
	}
	fp, err := th.fpFrame()
	if err != nil {
		return nil, err // (a thread that has not started has no FP state)
	}
	lf := lentFrame{uc: append([]byte(nil), uc...), fp: append([]byte(nil), fp...)}
	as.mu.Lock()
	lf.cpu = th.clock.Read(th.hostTID)
	th.lent = append(th.lent, lf)
	as.mu.Unlock()
	return &lentHandle{th}, nil
}

// adoptLent binds a lent thread to the calling sentry thread, the
// borrower's.
func (as *addressSpace) adoptLent(th *thread) {
	tid := unix.Gettid()
	as.mu.Lock()
	th.lent[len(th.lent)-1].borrower = tid
	as.threads[tid] = th
	as.mu.Unlock()
}

// lentCPU returns the thread's CPU time when it was lent to the sentry
// thread tid, or 0 if it is not lent to it: what the borrower's own CPU
// time starts from.
func (th *thread) lentCPU(tid int) time.Duration {
	th.as.mu.Lock()
	defer th.as.mu.Unlock()
	if n := len(th.lent); n > 0 && th.lent[n-1].borrower == tid {
		return th.lent[n-1].cpu
	}
	return 0
}

// leave is ExitThread for a thread that is lent: its borrower gives it
// back; its lender, going while the thread is lent, leaves it to the
// borrower, which then ends it. It reports whether th was lent.
func (as *addressSpace) leave(th *thread) bool {
	tid := unix.Gettid()
	as.mu.Lock()
	n := len(th.lent)
	if n == 0 {
		as.mu.Unlock()
		return false
	}
	lf := &th.lent[n-1]
	delete(as.threads, tid)
	if tid != lf.borrower {
		lf.lenderGone = true // the lender goes first (killed)
		as.mu.Unlock()
		return true
	}
	saved := *lf
	th.lent = th.lent[:n-1]
	if saved.lenderGone {
		as.mu.Unlock()
		return false // ended as any thread is
	}
	as.mu.Unlock()
	// On failure (a stub that died) the lender's next switch fails, as
	// for any stub that died.
	_ = th.giveBack(saved)
	return true
}

// giveBack writes the lender's frame (all but its FP state's address)
// and FP state into the frame the thread now waits with.
func (th *thread) giveBack(lf lentFrame) error {
	if err := th.toFrame(); err != nil {
		return err
	}
	uc, err := th.ucontext()
	if err != nil {
		return err
	}
	fp, err := th.fpFrame()
	if err != nil {
		return err
	}
	if len(fp) != len(lf.fp) {
		return fmt.Errorf("FP state of %d bytes, lent with %d", len(fp), len(lf.fp))
	}
	fpAddr := le.Uint64(uc[ucFPState:])
	copy(uc, lf.uc)
	le.PutUint64(uc[ucFPState:], fpAddr)
	copy(fp, lf.fp)
	le.PutUint32(th.msg[offKick:], 0) // the borrower's
	return nil
}
