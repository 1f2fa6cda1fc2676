package ktime

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestWaitsForRearm: an interval timer fires once and then waits for its
// owner, however short the interval, so an expiry nobody takes costs
// nothing (a 1 ns timer that re-armed itself would fire millions of
// times here).
func TestWaitsForRearm(t *testing.T) {
	var fired atomic.Int64
	tm := New(func() { fired.Add(1) })
	defer tm.Set(0, 0)
	tm.Set(time.Nanosecond, time.Nanosecond)
	time.Sleep(50 * time.Millisecond)
	if n := fired.Load(); n != 1 {
		t.Fatalf("fired %d times before Rearm, want 1", n)
	}
	if !tm.Waiting() {
		t.Fatal("Waiting() = false after the expiry")
	}
	if missed := tm.Rearm(); missed < 1000 {
		t.Errorf("Rearm counted %d missed expiries of a 1 ns timer over 50 ms", missed)
	}
	time.Sleep(20 * time.Millisecond)
	if n := fired.Load(); n != 2 {
		t.Fatalf("fired %d times after one Rearm, want 2", n)
	}
}

// TestRearmKeepsGrid: the expiries a late Rearm missed are counted, and
// the next expiry stays on the interval's grid.
func TestRearmKeepsGrid(t *testing.T) {
	const iv = 100 * time.Millisecond
	fired := make(chan time.Time, 4)
	tm := New(func() { fired <- time.Now() })
	defer tm.Set(0, 0)
	start := time.Now()
	tm.Set(iv, iv)
	<-fired
	time.Sleep(2*iv + iv/2) // two more grid points pass, unclaimed
	if missed := tm.Rearm(); missed != 2 {
		t.Errorf("Rearm after 2.5 intervals: %d missed, want 2", missed)
	}
	left, interval := tm.Get()
	if interval != iv || left <= 0 || left > iv {
		t.Errorf("Get() = %v, %v; want at most %v left of %v", left, interval, iv, iv)
	}
	at := <-fired
	// The fourth expiry is due at start+4iv; a timer re-armed from the
	// Rearm call would fire at about start+4.5iv.
	if off := at.Sub(start) - 4*iv; off < 0 || off > iv/2 {
		t.Errorf("next expiry %v after the grid point, want on the grid", off)
	}
}

// TestSetCancelsWaiting: a Set ends the wait of the old setting, so a
// late Rearm (a signal of the old setting dequeued after a re-set) neither
// re-arms nor counts.
func TestSetCancelsWaiting(t *testing.T) {
	var fired atomic.Int64
	tm := New(func() { fired.Add(1) })
	tm.SetAndClear(0, time.Millisecond, true, nil) // already expired: fires now
	if fired.Load() != 1 || !tm.Waiting() {
		t.Fatalf("expired setting: fired %d, waiting %v; want 1, true", fired.Load(), tm.Waiting())
	}
	if left, _ := tm.Get(); left <= 0 || left > time.Millisecond {
		t.Errorf("waiting timer reports %v left, want the next grid point", left)
	}
	tm.Set(0, 0)
	if missed := tm.Rearm(); missed != 0 || tm.Waiting() {
		t.Errorf("Rearm after disarm: %d, waiting %v", missed, tm.Waiting())
	}
	if left, _ := tm.Get(); left != 0 {
		t.Errorf("disarmed timer reports %v left", left)
	}
	time.Sleep(10 * time.Millisecond)
	if n := fired.Load(); n != 1 {
		t.Errorf("disarmed timer fired again (%d)", n)
	}
}
