package kernel

import (
	"time"

	"golang.org/x/sys/unix"

	"moat/platform"
)

// CPU accounting. A task's user time is what its host thread in the
// address space (the stub) spent on the CPU running app code, read from
// the host; its system time is what its own sentry thread (the OS thread
// its goroutine is locked to) spent serving it. A process adds up its
// threads, and keeps the time of threads and address spaces (replaced by
// exec) that are gone; a parent adds a child's totals when it reaps it, as
// Linux's cutime/cstime.

// CPUUsage is user and system CPU time.
type CPUUsage struct {
	User, Sys time.Duration
}

func (a CPUUsage) add(b CPUUsage) CPUUsage { return CPUUsage{a.User + b.User, a.Sys + b.Sys} }

// cpuAccount is a process's CPU bookkeeping, on its leader, guarded by
// Kernel.mu.
type cpuAccount struct {
	gone     CPUUsage // exited threads and released address spaces
	children CPUUsage // reaped children, theirs included
	final    CPUUsage // the process's total when it exited
	exited   bool
	start    time.Duration // when the process started, since the sandbox booted
}

// hostThreadCPU reads the CPU clock of thread tid of the sentry's own
// process (MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)); 0 once it is gone.
func hostThreadCPU(tid int) time.Duration {
	if tid == 0 {
		return 0
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(int32(^tid)<<3|4|2, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// sentryCPU returns the CPU time t's sentry thread has spent on t.
func (t *Task) sentryCPU() time.Duration {
	tid := int(t.hostTID.Load())
	if tid == 0 {
		return 0
	}
	return max(hostThreadCPU(tid)-time.Duration(t.hostCPUBase.Load()), 0)
}

// addressSpaceCPU returns the CPU time the host threads of m's address
// space have used.
func addressSpaceCPU(as platform.AddressSpace) time.Duration {
	if c, ok := as.(platform.CPUClock); ok {
		return c.CPUTime()
	}
	return 0
}

// ThreadCPU returns t's own CPU usage (CLOCK_THREAD_CPUTIME_ID,
// RUSAGE_THREAD). A platform that cannot tell threads apart reports the
// address space's time, which is the thread's when it has no others.
func (t *Task) ThreadCPU() CPUUsage {
	u := CPUUsage{Sys: t.sentryCPU()}
	if c, ok := t.ctx.(platform.ThreadCPUClock); ok {
		u.User = c.ThreadCPUTime()
	} else if m := t.MM(); m != nil {
		u.User = addressSpaceCPU(m.AddressSpace())
	}
	return u
}

// ProcessCPU returns the CPU usage of t's process (RUSAGE_SELF, times,
// CLOCK_PROCESS_CPUTIME_ID).
func (t *Task) ProcessCPU() CPUUsage {
	k := t.k
	k.mu.Lock()
	l := t.leader
	if l.cpu.exited {
		defer k.mu.Unlock()
		return l.cpu.final
	}
	u := l.cpu.gone
	members := l.membersLocked()
	k.mu.Unlock()
	for _, o := range members {
		u.Sys += o.sentryCPU()
	}
	l.mu.Lock()
	m, shared := l.mm, l.vmShared
	l.mu.Unlock()
	switch {
	case shared: // the address space is its parent's: count its own thread
		u.User += l.ThreadCPU().User
	case m != nil:
		u.User += addressSpaceCPU(m.AddressSpace())
	}
	return u
}

// ChildrenCPU returns the CPU usage of t's process's reaped children
// (RUSAGE_CHILDREN, times' cutime and cstime).
func (t *Task) ChildrenCPU() CPUUsage {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.leader.cpu.children
}

// StartTime returns when t's process started, since the sandbox booted.
func (t *Task) StartTime() time.Duration {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.leader.cpu.start
}

// accountThreadExit keeps an exiting thread's system time in its
// process. It runs on the thread's own goroutine.
func (t *Task) accountThreadExit() {
	sys := t.sentryCPU()
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	t.leader.cpu.gone.Sys += sys
}

// accountAddressSpaceGone keeps the user time of an address space that
// exec is about to release.
func (t *Task) accountAddressSpaceGone(as platform.AddressSpace) {
	user := addressSpaceCPU(as)
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	t.leader.cpu.gone.User += user
}

// accountProcessExit records the exiting process's total, for /proc and
// for its parent's wait. It runs on the leader's goroutine after its
// other threads have ended and before its address space is released.
func (t *Task) accountProcessExit() {
	u := t.ProcessCPU()
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	t.cpu.final, t.cpu.exited = u, true
}

// accountReapLocked adds a reaped child's usage to its parent's.
//
// Preconditions: Kernel.mu is held.
func (c *Task) accountReapLocked(parent *Task) {
	p := parent.leader
	p.cpu.children = p.cpu.children.add(c.cpu.final).add(c.cpu.children)
}
