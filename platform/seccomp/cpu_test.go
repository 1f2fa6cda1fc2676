package seccomp

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestPollWord checks pollWord's answer for a word that holds the value,
// one that holds it only under the mask, one that never does, and one that
// another goroutine sets while it polls.
func TestPollWord(t *testing.T) {
	var w uint32 = stEvent | stSleeping
	if !pollWord(&w, ^uint32(stSleeping), stEvent, 1) {
		t.Errorf("%#x under mask %#x: not seen as %#x", w, ^uint32(stSleeping), stEvent)
	}
	if pollWord(&w, ^uint32(0), stEvent, 100) {
		t.Errorf("%#x seen as %#x", w, stEvent)
	}
	w = stResume
	start := time.Now()
	if pollWord(&w, ^uint32(0), stEvent, 1000) {
		t.Errorf("%#x seen as %#x", w, stEvent)
	}
	if d := time.Since(start); d < 1000*time.Nanosecond {
		t.Errorf("1000 failed checks took %v: no PAUSE between them?", d)
	}
	go func() {
		time.Sleep(time.Millisecond)
		atomic.StoreUint32(&w, stEvent)
	}()
	if !pollWord(&w, ^uint32(0), stEvent, 1<<40) {
		t.Errorf("a store while it polled: not seen")
	}
}
