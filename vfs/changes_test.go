package vfs_test

import (
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"moat/park"
	"moat/vfs"
)

// parkCtx waits as a task does (vfs.ParkBlocker): parked until ready is
// closed or it is interrupted.
type parkCtx struct {
	p           park.Parker
	interrupted chan struct{}
}

func (*parkCtx) UID() uint32            { return 0 }
func (*parkCtx) GID() uint32            { return 0 }
func (c *parkCtx) Parker() *park.Parker { return &c.p }

func (c *parkCtx) BlockParked(ready <-chan struct{}, deadline time.Time) error {
	for {
		select {
		case <-ready:
			return nil
		case <-c.interrupted:
			return unix.EINTR
		default:
		}
		c.p.Park(deadline)
	}
}

// waiter is a goroutine waiting parked, in WaitUntilLocked, until ready
// (under mu); done gets what the wait returned.
type waiter struct {
	mu    sync.Mutex
	ch    vfs.Changes
	ready bool
	ctx   *parkCtx
	done  chan error
}

// parkedWaiter starts a waiter and gives it time to park.
func parkedWaiter() *waiter {
	w := &waiter{ctx: &parkCtx{interrupted: make(chan struct{})}, done: make(chan error, 1)}
	go func() {
		w.mu.Lock()
		w.done <- w.ch.WaitUntilLocked(w.ctx, &w.mu, func() bool { return w.ready })
		w.mu.Unlock()
	}()
	time.Sleep(10 * time.Millisecond) // let it park
	return w
}

// awaitWoken fails the test unless the waiter returns, without error,
// within 10 s of what was to wake it (by).
func (w *waiter) awaitWoken(t *testing.T, by string) {
	t.Helper()
	select {
	case err := <-w.done:
		if err != nil {
			t.Fatalf("WaitUntilLocked: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("a parked waiter was not woken by %s", by)
	}
}

// A parked waiter wakes at Notify; one that stops waiting for another
// reason (a signal) leaves nothing behind for the next Notify to wake.
func TestChangesParked(t *testing.T) {
	w := parkedWaiter()
	mu, ch, ctx, done := &w.mu, &w.ch, w.ctx, w.done
	mu.Lock()
	w.ready = true
	ch.Notify()
	mu.Unlock()
	w.awaitWoken(t, "Notify")

	// Interrupted: the wait ends with the context's error, and its
	// registration goes with it.
	go func() {
		mu.Lock()
		done <- ch.WaitLocked(ctx, mu)
		mu.Unlock()
	}()
	time.Sleep(10 * time.Millisecond)
	close(ctx.interrupted)
	ctx.p.Unpark()
	if err := <-done; err != unix.EINTR {
		t.Fatalf("interrupted WaitLocked: %v, want EINTR", err)
	}
	mu.Lock()
	ch.Notify()
	mu.Unlock()
	// Had the registration stayed, Notify would have left a token, and
	// this Park would return at once.
	start := time.Now()
	ctx.p.Park(time.Now().Add(30 * time.Millisecond))
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("the interrupted waiter was unparked by a later Notify (after %v)", d)
	}
}

// NotifyLater wakes a parked waiter only when the caller calls what it
// returns (after releasing its lock), not at once.
func TestChangesNotifyLater(t *testing.T) {
	w := parkedWaiter()
	done := w.done
	w.mu.Lock()
	w.ready = true
	unpark := w.ch.NotifyLater()
	w.mu.Unlock()
	select {
	case err := <-done:
		t.Fatalf("the waiter returned (%v) before the unpark", err)
	case <-time.After(30 * time.Millisecond):
	}
	unpark()
	w.awaitWoken(t, "NotifyLater's unpark")
}
