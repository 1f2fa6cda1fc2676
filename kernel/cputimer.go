package kernel

import (
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// CPU-time interval timers: ITIMER_VIRTUAL (the process's user time,
// SIGVTALRM) and ITIMER_PROF (user and system time, SIGPROF). The CPU
// time comes from the host (cputime.go), so a timer cannot be woken by it:
// it checks the clock after the shortest wall time in which the process
// could have used up what is left (the time left over the host's CPU
// count), and again until it has. Like ITIMER_REAL they survive execve
// and are not inherited by fork.

// Which CPU timer.
const (
	ITimerVirtual = 1
	ITimerProf    = 2
)

// cpuTimer is one CPU-time interval timer. Its mutex is a leaf lock.
type cpuTimer struct {
	owner *Task // the process's leader
	which int

	mu       sync.Mutex
	expiry   time.Duration // the CPU time at which it fires; 0: disarmed
	interval time.Duration
	check    *time.Timer
	gen      uint64 // invalidates a check that raced with Set
}

// cpuNow returns the CPU time the timer counts.
func (ct *cpuTimer) cpuNow() time.Duration {
	u := ct.owner.ProcessCPU()
	if ct.which == ITimerVirtual {
		return u.User
	}
	return u.User + u.Sys
}

// cpuTimer returns the process's timer which, creating it on first use.
func (t *Task) cpuTimer(which int) *cpuTimer {
	l := t.leader
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cpuTimers[which-1] == nil {
		l.cpuTimers[which-1] = &cpuTimer{owner: l, which: which}
	}
	return l.cpuTimers[which-1]
}

// CPUTimer returns timer which's value (getitimer).
func (t *Task) CPUTimer(which int) ITimerValue {
	ct := t.cpuTimer(which)
	now := ct.cpuNow()
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.valueLocked(now)
}

// valueLocked returns the time left and the interval.
//
// Preconditions: ct.mu is held.
func (ct *cpuTimer) valueLocked(now time.Duration) ITimerValue {
	v := ITimerValue{Interval: ct.interval}
	if ct.expiry != 0 {
		v.Value = max(ct.expiry-now, time.Microsecond)
	}
	return v
}

// SetCPUTimer arms (value > 0) or disarms timer which and returns its old
// value (setitimer).
func (t *Task) SetCPUTimer(which int, v ITimerValue) ITimerValue {
	ct := t.cpuTimer(which)
	now := ct.cpuNow()
	ct.mu.Lock()
	defer ct.mu.Unlock()
	old := ct.valueLocked(now)
	ct.gen++
	if ct.check != nil {
		ct.check.Stop()
		ct.check = nil
	}
	ct.expiry, ct.interval = 0, v.Interval
	if v.Value > 0 {
		ct.expiry = now + v.Value
		ct.scheduleLocked(v.Value)
	}
	return old
}

// scheduleLocked checks the clock again after the least wall time in
// which left CPU time can pass.
//
// Preconditions: ct.mu is held.
func (ct *cpuTimer) scheduleLocked(left time.Duration) {
	wait := max(left/time.Duration(runtime.NumCPU()), time.Millisecond)
	gen := ct.gen
	ct.check = time.AfterFunc(wait, func() { ct.fire(gen) })
}

// fire sends the signal if the timer has expired, and re-arms it with its
// interval; otherwise it waits some more.
func (ct *cpuTimer) fire(gen uint64) {
	now := ct.cpuNow()
	ct.mu.Lock()
	if gen != ct.gen || ct.expiry == 0 {
		ct.mu.Unlock()
		return
	}
	if now < ct.expiry {
		ct.scheduleLocked(ct.expiry - now)
		ct.mu.Unlock()
		return
	}
	ct.expiry = 0
	if ct.interval > 0 {
		ct.expiry = now + ct.interval
		ct.scheduleLocked(ct.interval)
	}
	ct.mu.Unlock()
	sig := unix.SIGPROF
	if ct.which == ITimerVirtual {
		sig = unix.SIGVTALRM
	}
	ct.owner.queueGroupSignal(SigInfo{Signo: int32(sig), Code: SIKernel})
}

// stopCPUTimers disarms the process's CPU timers (exit).
func (t *Task) stopCPUTimers() {
	for which := ITimerVirtual; which <= ITimerProf; which++ {
		t.leader.mu.Lock()
		ct := t.leader.cpuTimers[which-1]
		t.leader.mu.Unlock()
		if ct != nil {
			ct.mu.Lock()
			ct.gen++
			ct.expiry = 0
			if ct.check != nil {
				ct.check.Stop()
				ct.check = nil
			}
			ct.mu.Unlock()
		}
	}
}
