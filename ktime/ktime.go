// Package ktime provides the interval timer that the kernel's itimers and
// timerfd files share: armed for a delay, then re-armed every interval,
// calling a function at each expiry.
//
// Lock order: Timer.mu is a leaf lock; fire runs without it.
package ktime

import (
	"sync"
	"time"
)

// Timer is an interval timer.
type Timer struct {
	fire func()

	mu       sync.Mutex
	t        *time.Timer
	gen      uint64 // invalidates a firing that raced with Set
	expiry   time.Time
	interval time.Duration
}

// New returns a disarmed timer that calls fire at each expiry.
func New(fire func()) *Timer { return &Timer{fire: fire} }

// Get returns the time left (zero: disarmed; never zero while armed, as
// Linux reports) and the interval.
func (tm *Timer) Get() (left, interval time.Duration) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if !tm.expiry.IsZero() {
		left = max(time.Until(tm.expiry), time.Microsecond)
	}
	return left, tm.interval
}

// Set arms the timer to expire after d (zero or less: disarm), then every
// interval, and returns the old setting.
func (tm *Timer) Set(d, interval time.Duration) (oldLeft, oldInterval time.Duration) {
	oldLeft, oldInterval = tm.Get()
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if tm.t != nil {
		tm.t.Stop()
		tm.t = nil
	}
	tm.gen++
	tm.expiry, tm.interval = time.Time{}, interval
	if d > 0 {
		tm.armLocked(d)
	}
	return oldLeft, oldInterval
}

// Preconditions: tm.mu is held.
func (tm *Timer) armLocked(d time.Duration) {
	gen := tm.gen
	tm.expiry = time.Now().Add(d)
	tm.t = time.AfterFunc(d, func() {
		tm.mu.Lock()
		if gen != tm.gen {
			tm.mu.Unlock()
			return
		}
		tm.expiry = time.Time{}
		if tm.interval > 0 {
			tm.armLocked(tm.interval)
		}
		tm.mu.Unlock()
		tm.fire()
	})
}
