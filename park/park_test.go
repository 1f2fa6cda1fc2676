package park

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// A token given before Park is kept: Park returns at once and takes it.
func TestUnparkBeforePark(t *testing.T) {
	var p Parker
	p.Unpark()
	p.Unpark() // tokens do not add up
	done := make(chan struct{})
	go func() {
		p.Park(time.Time{})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Park did not take the token given before it")
	}
	start := time.Now()
	p.Park(time.Now().Add(50 * time.Millisecond))
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("a second Park returned after %v: the token was counted twice", d)
	}
}

// Park sleeps until Unpark, from threads locked as task threads are.
func TestParkUnparkLocked(t *testing.T) {
	var a, b Parker
	const rounds = 1000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		runtime.LockOSThread()
		for i := 0; i < rounds; i++ {
			a.Park(time.Time{})
			b.Unpark()
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := 0; i < rounds; i++ {
		a.Unpark()
		b.Park(time.Time{})
	}
	wg.Wait()
}

// Park returns at its deadline without a token.
func TestParkDeadline(t *testing.T) {
	var p Parker
	start := time.Now()
	p.Park(start.Add(20 * time.Millisecond))
	if d := time.Since(start); d < 20*time.Millisecond || d > 5*time.Second {
		t.Fatalf("Park with a 20 ms deadline returned after %v", d)
	}
	p.Park(start) // a past deadline: at once
	if p.state.Load() != empty {
		t.Fatalf("state %d after a timed-out Park", p.state.Load())
	}
}

// BenchmarkWake measures a round trip between two locked threads through
// two Parkers, and the same through channels: the wake this package
// exists to make cheap.
func BenchmarkWake(b *testing.B) {
	b.Run("park", func(b *testing.B) {
		var x, y Parker
		go func() {
			runtime.LockOSThread()
			for i := 0; i < b.N; i++ {
				x.Park(time.Time{})
				y.Unpark()
			}
		}()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for i := 0; i < b.N; i++ {
			x.Unpark()
			y.Park(time.Time{})
		}
	})
	b.Run("chan", func(b *testing.B) {
		x, y := make(chan struct{}), make(chan struct{})
		go func() {
			runtime.LockOSThread()
			for i := 0; i < b.N; i++ {
				<-x
				y <- struct{}{}
			}
		}()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for i := 0; i < b.N; i++ {
			x <- struct{}{}
			<-y
		}
	})
}
