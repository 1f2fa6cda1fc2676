package kernel

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// realTimer is a process's ITIMER_REAL (alarm, setitimer): at expiry it
// sends SIGALRM, then re-arms with the interval if there is one.
type realTimer struct {
	mu       sync.Mutex
	t        *time.Timer
	expiry   time.Time // zero: disarmed
	interval time.Duration
	gen      uint64 // invalidates a firing that raced with a change
}

// ITimerValue is a timer's current value: time left and reload interval.
type ITimerValue struct {
	Value, Interval time.Duration
}

// remaining returns the time left and the interval.
//
// Preconditions: rt.mu is held.
func (rt *realTimer) remainingLocked() ITimerValue {
	if rt.expiry.IsZero() {
		return ITimerValue{Interval: rt.interval}
	}
	left := time.Until(rt.expiry)
	if left <= 0 {
		left = time.Microsecond // expiring right now: not yet zero, as Linux reports
	}
	return ITimerValue{Value: left, Interval: rt.interval}
}

// RealTimer returns ITIMER_REAL's value (getitimer).
func (t *Task) RealTimer() ITimerValue {
	rt := &t.leader.itimer
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.remainingLocked()
}

// SetRealTimer arms (value > 0) or disarms ITIMER_REAL and returns the old
// value (setitimer, alarm).
func (t *Task) SetRealTimer(v ITimerValue) ITimerValue {
	rt := &t.leader.itimer
	rt.mu.Lock()
	defer rt.mu.Unlock()
	old := rt.remainingLocked()
	if rt.t != nil {
		rt.t.Stop()
		rt.t = nil
	}
	rt.gen++
	rt.expiry, rt.interval = time.Time{}, v.Interval
	if v.Value > 0 {
		rt.armLocked(t.leader, v.Value)
	}
	return old
}

// Preconditions: rt.mu is held.
func (rt *realTimer) armLocked(t *Task, d time.Duration) {
	gen := rt.gen
	rt.expiry = time.Now().Add(d)
	rt.t = time.AfterFunc(d, func() { rt.fire(t, gen) })
}

func (rt *realTimer) fire(t *Task, gen uint64) {
	rt.mu.Lock()
	if gen != rt.gen {
		rt.mu.Unlock()
		return
	}
	rt.expiry = time.Time{}
	if rt.interval > 0 {
		rt.armLocked(t, rt.interval)
	}
	rt.mu.Unlock()
	t.pickThread(unix.SIGALRM).queueSignal(SigInfo{Signo: int32(unix.SIGALRM), Code: SIKernel})
}

// stopTimers disarms the process's timers (exit).
func (t *Task) stopTimers() {
	t.SetRealTimer(ITimerValue{})
}
