package kernel

import (
	"time"

	"golang.org/x/sys/unix"

	"moat/ktime"
)

// A process's ITIMER_REAL (alarm, setitimer) sends SIGALRM at each expiry.
// It lives on the leader and is not inherited by fork. With an interval it
// runs again when a SIGALRM is dequeued, as Linux re-arms it in
// dequeue_signal: while SIGALRM is ignored, or pending and not taken, it
// costs nothing.

// ITimerValue is a timer's current value: time left and reload interval.
type ITimerValue struct {
	Value, Interval time.Duration
}

// realTimer returns the process's ITIMER_REAL, creating it on first use.
func (t *Task) realTimer() *ktime.Timer {
	l := t.leader
	if it := l.itimer.Load(); it != nil {
		return it
	}
	l.itimer.CompareAndSwap(nil, ktime.New(func() {
		l.queueGroupSignal(SigInfo{Signo: int32(unix.SIGALRM), Code: SIKernel})
	}))
	return l.itimer.Load()
}

// rearmRealTimer runs ITIMER_REAL again after a SIGALRM was dequeued (any
// SIGALRM, as on Linux: one the timer could not queue because another was
// pending has merged with it).
func (t *Task) rearmRealTimer() {
	if it := t.leader.itimer.Load(); it != nil {
		it.Rearm()
	}
}

// RealTimer returns ITIMER_REAL's value (getitimer): one that fired and
// waits for its SIGALRM to be taken reads as disarmed, as on Linux.
func (t *Task) RealTimer() ITimerValue {
	it := t.realTimer()
	left, interval := it.Get()
	if it.Waiting() {
		left = 0
	}
	return ITimerValue{Value: left, Interval: interval}
}

// SetRealTimer arms (value > 0) or disarms ITIMER_REAL and returns the old
// value (setitimer, alarm).
func (t *Task) SetRealTimer(v ITimerValue) ITimerValue {
	it := t.realTimer()
	waiting := it.Waiting()
	left, interval := it.Set(v.Value, v.Interval)
	if waiting {
		left = 0 // as RealTimer reads it
	}
	return ITimerValue{Value: left, Interval: interval}
}

// stopTimers disarms the process's timers and deletes its POSIX timers
// (exit).
func (t *Task) stopTimers() {
	if it := t.leader.itimer.Load(); it != nil {
		it.Set(0, 0)
	}
	t.stopCPUTimers()
	t.deleteTimers()
}
