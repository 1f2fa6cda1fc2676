package kernel

import (
	"time"

	"golang.org/x/sys/unix"

	"moat/ktime"
)

// A process's ITIMER_REAL (alarm, setitimer) sends SIGALRM at each expiry.
// It lives on the leader and is not inherited by fork.

// ITimerValue is a timer's current value: time left and reload interval.
type ITimerValue struct {
	Value, Interval time.Duration
}

// realTimer returns the process's ITIMER_REAL, creating it on first use.
func (t *Task) realTimer() *ktime.Timer {
	l := t.leader
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.itimer == nil {
		l.itimer = ktime.New(func(uint64) { // SIGALRM is not queued twice: late expiries merge
			l.queueGroupSignal(SigInfo{Signo: int32(unix.SIGALRM), Code: SIKernel})
		})
	}
	return l.itimer
}

// RealTimer returns ITIMER_REAL's value (getitimer).
func (t *Task) RealTimer() ITimerValue {
	left, interval := t.realTimer().Get()
	return ITimerValue{Value: left, Interval: interval}
}

// SetRealTimer arms (value > 0) or disarms ITIMER_REAL and returns the old
// value (setitimer, alarm).
func (t *Task) SetRealTimer(v ITimerValue) ITimerValue {
	left, interval := t.realTimer().Set(v.Value, v.Interval)
	return ITimerValue{Value: left, Interval: interval}
}

// stopTimers disarms the process's timers and deletes its POSIX timers
// (exit).
func (t *Task) stopTimers() {
	l := t.leader
	l.mu.Lock()
	it := l.itimer
	l.mu.Unlock()
	if it != nil {
		it.Set(0, 0)
	}
	t.stopCPUTimers()
	t.deleteTimers()
}
