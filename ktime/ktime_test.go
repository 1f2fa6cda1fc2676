package ktime

import (
	"sync"
	"testing"
	"time"
)

// TestLateFiringsCount: when firings come late (here the first one holds
// the timer for a while, as a loaded host would), the expirations that
// passed meanwhile are counted, not lost.
func TestLateFiringsCount(t *testing.T) {
	var mu sync.Mutex
	var total uint64
	first := true
	tm := New(func(n uint64) {
		mu.Lock()
		total += n
		slow := first
		first = false
		mu.Unlock()
		if slow {
			time.Sleep(50 * time.Millisecond)
		}
	})
	const iv = 5 * time.Millisecond
	start := time.Now()
	tm.Set(iv, iv)
	time.Sleep(120 * time.Millisecond)
	tm.Set(0, 0)
	elapsed := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	// Every full interval up to the disarm is an expiry; firings still
	// pending at the disarm may be dropped.
	want := uint64(elapsed / iv)
	if total+3 < want || total > want {
		t.Errorf("%d expirations in %v at %v intervals, want about %d", total, elapsed, iv, want)
	}
}
