// Package park lets a sentry thread wait so that another thread can wake
// it with one FUTEX_WAKE, without the Go scheduler in between.
//
// A task's goroutine is locked to its OS thread (the platform drives the
// task's stub thread from it). When such a goroutine blocks on a channel,
// waking it means handing a P to exactly that thread: on the 2-core VM a
// wake while the waker keeps running took 60-130 us (median of 300, a
// locked goroutine waiting on an unbuffered channel), against 5-10 us for
// a thread sleeping in FUTEX_WAIT woken by FUTEX_WAKE. Every wake between
// tasks — a futex, a pipe, wait4, the end of a vfork — paid that.
//
// A Parker is a token and a futex word. Park sleeps until the token is
// there (or a deadline), and takes it; Unpark puts it there and wakes the
// sleeper. A token given before Park makes Park return at once, so a wake
// between a waiter's last check and its Park is never lost. Wakes can be
// spurious (a stale registration, a signal): callers check their
// condition again after every Park.
//
// No locks: the state word is the only shared state.
package park

import (
	"sync/atomic"
	"time"
)

// Values of Parker.state.
const (
	empty    = 0 // no token, nobody asleep
	token    = 1 // Unpark came; the next Park returns at once
	sleeping = 2 // the owner sleeps (or is about to) in FUTEX_WAIT
)

// Parker is one thread's parking place. Only its owner parks on it;
// anyone may unpark it. The zero value is ready to use; a Parker must not
// be copied after first use (its address is the futex word).
type Parker struct {
	state atomic.Uint32
}

// Park waits until Unpark gives a token, or until deadline (zero: none),
// and consumes the token.
func (p *Parker) Park(deadline time.Time) {
	if p.state.CompareAndSwap(token, empty) {
		return
	}
	if !p.state.CompareAndSwap(empty, sleeping) {
		// Only Unpark changes the word besides the owner: the token
		// came meanwhile.
		p.state.Store(empty)
		return
	}
	for p.state.Load() == sleeping {
		var timeout time.Duration
		if !deadline.IsZero() {
			if timeout = time.Until(deadline); timeout <= 0 {
				break
			}
		}
		futexWait(&p.state, sleeping, timeout)
	}
	p.state.Store(empty) // the token, or a wait that timed out
}

// Unpark gives p's owner a token, waking it if it sleeps in Park.
func (p *Parker) Unpark() {
	if p.state.Swap(token) == sleeping {
		futexWake(&p.state)
	}
}
