package stub

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestThreadClock: a kept-open schedstat reads the thread's CPU time
// afresh on each read, as ThreadCPUTime does, and reads 0 once closed
// and pointed at a thread that does not exist.
func TestThreadClock(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	var c ThreadClock
	defer c.Close()
	first := c.Read(tid)
	if first <= 0 {
		t.Fatalf("first read %v", first)
	}
	for start := time.Now(); time.Since(start) < 20*time.Millisecond; {
	}
	second := c.Read(tid)
	if second-first < 10*time.Millisecond {
		t.Fatalf("20 ms of spinning moved the clock from %v to %v", first, second)
	}
	if direct := ThreadCPUTime(tid); direct < second {
		t.Fatalf("ThreadCPUTime %v after ThreadClock's %v", direct, second)
	}
	c.Close()
	if got := c.Read(1 << 30); got != 0 {
		t.Fatalf("a missing thread reads %v", got)
	}
}
