// Package ktime provides the interval timer that the kernel's ITIMER_REAL,
// POSIX timers and timerfd files share: armed for a delay, it fires once,
// and with an interval it then waits for its owner to take the expiry
// (the signal dequeued, the count read) before it arms the next one. This
// is how Linux runs these timers (the re-arm happens at dequeue or read,
// with hrtimer_forward), and it is what bounds their cost: an expiry that
// nobody takes costs nothing more, however short the interval, where a
// timer that re-armed itself at every interval would keep a host core busy
// for an app with thousands of 1 ns timers. Rearm counts the intervals
// that passed meanwhile (the overruns), and the next expiry stays on the
// interval's grid.
//
// An expiry and a Set never overlap: Set waits for an expiry in progress,
// and an expiry of an earlier setting never runs after a Set returns, so a
// timer's owner can reset its own count in Set's clear hook.
//
// Lock order: Timer.fireMu, then the owner's locks (fire runs under
// fireMu), then Timer.mu, a leaf: the owner may call Rearm and Get under
// its own locks.
package ktime

import (
	"sync"
	"time"
)

// Timer is an interval timer.
type Timer struct {
	fire func()

	fireMu sync.Mutex // held while fire runs, and by Set

	mu       sync.Mutex
	t        *time.Timer
	gen      uint64    // invalidates a firing that raced with Set
	expiry   time.Time // the next expiry, or the one that fired while waiting
	interval time.Duration
	waiting  bool // fired with an interval; Rearm arms the next expiry
}

// New returns a disarmed timer that calls fire at each expiry.
func New(fire func()) *Timer { return &Timer{fire: fire} }

// Get returns the time left (zero: disarmed; never zero while armed, as
// Linux reports) and the interval. A timer that waits for Rearm reports
// the time to the next expiry on its grid, as Linux's timer_gettime and
// timerfd_gettime do.
func (tm *Timer) Get() (left, interval time.Duration) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if tm.expiry.IsZero() {
		return 0, tm.interval
	}
	next := tm.expiry
	if tm.waiting {
		next, _ = tm.forwardLocked(time.Now())
	}
	return max(time.Until(next), time.Microsecond), tm.interval
}

// Waiting reports whether the timer fired and waits for Rearm (getitimer
// reports such an ITIMER_REAL as disarmed).
func (tm *Timer) Waiting() bool {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.waiting
}

// Rearm arms the next expiry of a timer that fired and waits: the first
// on the interval's grid after now. It returns the number of expiries
// that passed meanwhile, besides the one that fired (the overruns). A
// timer that does not wait (re-set, disarmed or already re-armed since it
// fired) is left alone, and Rearm returns 0.
func (tm *Timer) Rearm() uint64 {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if !tm.waiting {
		return 0
	}
	next, missed := tm.forwardLocked(time.Now())
	tm.waiting = false
	tm.armLocked(next)
	return missed
}

// forwardLocked returns the first expiry on the grid after now, and how
// many expiries after tm.expiry come before it.
//
// Preconditions: tm.mu is held; tm.interval > 0.
func (tm *Timer) forwardLocked(now time.Time) (next time.Time, missed uint64) {
	late := now.Sub(tm.expiry)
	if late < 0 {
		return tm.expiry.Add(tm.interval), 0
	}
	missed = uint64(late / tm.interval)
	return tm.expiry.Add(time.Duration(missed+1) * tm.interval), missed
}

// Set arms the timer to expire after d (zero or less: disarm), then every
// interval, and returns the old setting.
func (tm *Timer) Set(d, interval time.Duration) (oldLeft, oldInterval time.Duration) {
	return tm.SetAndClear(d, interval, false, nil)
}

// SetAndClear is Set with two more options: expired says the new setting
// has already expired (an absolute time in the past), so it fires before
// SetAndClear returns; clear, if not nil, runs after the old setting is
// stopped and before the new one can fire, with no expiry in progress (a
// timerfd drops its unread count there).
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
	tm.expiry, tm.interval, tm.waiting = time.Time{}, interval, false
	if clear != nil {
		// Outside mu, which is a leaf: the hook takes the owner's lock.
		// fireMu still keeps any expiry out.
		tm.mu.Unlock()
		clear()
		tm.mu.Lock()
	}
	switch {
	case expired:
		if interval > 0 {
			tm.expiry, tm.waiting = time.Now(), true
		}
		tm.mu.Unlock()
		tm.fire()
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
		tm.t = nil
		if tm.interval > 0 {
			tm.waiting = true // expiry stays: the grid's origin
		} else {
			tm.expiry = time.Time{}
		}
		tm.mu.Unlock()
		tm.fire()
	})
}
