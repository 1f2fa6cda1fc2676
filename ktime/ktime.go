// Package ktime provides the interval timer that the kernel's itimers,
// POSIX timers and timerfd files share: armed for a delay, then re-armed
// every interval, calling a function at each expiry with the number of
// intervals that have passed since the last (more than one when the
// firing came late: a loaded host must not lose expirations, and the
// next expiry stays on the interval's grid, as Linux's hrtimer_forward
// keeps it).
//
// An expiry and a Set never overlap: Set waits for an expiry in progress,
// and an expiry of an earlier setting never runs after a Set returns, so a
// timer's owner can reset its own count in Set's clear hook.
//
// Lock order: Timer.fireMu, then Timer.mu; fire runs under fireMu only.
package ktime

import (
	"sync"
	"time"
)

// Timer is an interval timer.
type Timer struct {
	fire func(n uint64)

	fireMu sync.Mutex // held while fire runs, and by Set

	mu       sync.Mutex
	t        *time.Timer
	gen      uint64 // invalidates a firing that raced with Set
	expiry   time.Time
	interval time.Duration
}

// New returns a disarmed timer that calls fire at each expiry, with the
// number of expirations (at least 1).
func New(fire func(n uint64)) *Timer { return &Timer{fire: fire} }

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
	return tm.SetAndClear(d, interval, false, nil)
}

// SetAndClear is Set with two more options: expired says the new setting
// has already expired (an absolute time in the past), so it fires before
// SetAndClear returns, then every interval; clear, if not nil, runs after
// the old setting is stopped and before the new one can fire, with no
// expiry in progress (a timerfd drops its unread count there).
func (tm *Timer) SetAndClear(d, interval time.Duration, expired bool, clear func()) (oldLeft, oldInterval time.Duration) {
	tm.fireMu.Lock()
	defer tm.fireMu.Unlock()
	oldLeft, oldInterval = tm.Get()
	tm.mu.Lock()
	if tm.t != nil {
		tm.t.Stop()
		tm.t = nil
	}
	tm.gen++
	tm.expiry, tm.interval = time.Time{}, interval
	if clear != nil {
		clear()
	}
	switch {
	case expired:
		if interval > 0 {
			tm.armLocked(time.Now().Add(interval))
		}
		tm.mu.Unlock()
		tm.fire(1)
		return oldLeft, oldInterval
	case d > 0:
		tm.armLocked(time.Now().Add(d))
	}
	tm.mu.Unlock()
	return oldLeft, oldInterval
}

// armLocked arms the timer to expire at at.
//
// Preconditions: tm.mu is held.
func (tm *Timer) armLocked(at time.Time) {
	gen := tm.gen
	tm.expiry = at
	tm.t = time.AfterFunc(time.Until(at), func() {
		tm.fireMu.Lock()
		defer tm.fireMu.Unlock()
		tm.mu.Lock()
		if gen != tm.gen {
			tm.mu.Unlock()
			return
		}
		n := uint64(1)
		if iv := tm.interval; iv > 0 {
			// Every interval that has passed is an expiry; the next
			// is the first still to come on the grid.
			next := at.Add(iv)
			if late := time.Since(next); late >= 0 {
				k := uint64(late/iv) + 1
				n += k
				next = next.Add(time.Duration(k) * iv)
			}
			tm.armLocked(next)
		} else {
			tm.expiry = time.Time{}
		}
		tm.mu.Unlock()
		tm.fire(n)
	})
}
