// Package timerfd implements timerfd files: a timer whose expirations are
// counted and read as a 64-bit number, for event loops.
//
// Lock order: Timer.mu, then the ktime timer's own lock.
package timerfd

import (
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"moat/ktime"
	"moat/park"
	"moat/vfs"
)

// Timer is a timerfd's state: an interval timer counting expirations.
type Timer struct {
	vfs.AnonInode // Stat, IsStream, NoopSeek
	*ktime.Timer
	clock int32 // the host clock absolute times are measured on

	mu      sync.Mutex
	count   uint64 // expirations not yet read
	changes vfs.Changes
}

// New returns a timerfd description whose absolute times are on the host
// clock (O_NONBLOCK per nonblock).
func New(clock int32, nonblock bool) *vfs.FileDescription {
	fl := uint32(unix.O_RDWR)
	if nonblock {
		fl |= unix.O_NONBLOCK
	}
	tm := &Timer{clock: clock}
	tm.Timer = ktime.New(func() {
		tm.mu.Lock()
		defer tm.mu.Unlock()
		tm.count++
		tm.changes.Notify()
	})
	return vfs.NewFileDescription(tm, vfs.Path{}, fl)
}

// Settime arms the timer as timerfd_settime(2) does: expired says the
// new setting has already expired (an absolute time in the past), and any
// expirations of the old setting that were not read are dropped. It
// returns the old setting.
func (tm *Timer) Settime(d, interval time.Duration, expired bool) (oldLeft, oldInterval time.Duration) {
	return tm.Timer.SetAndClear(d, interval, expired, func() {
		tm.mu.Lock()
		defer tm.mu.Unlock()
		tm.count = 0
		tm.changes.Notify()
	})
}

// Clock returns the host clock of the timer's absolute times.
func (tm *Timer) Clock() int32 { return tm.clock }

// Name is what /proc/PID/fd shows.
func (tm *Timer) Name() string { return "anon_inode:[timerfd]" }

// Read implements vfs.FileImpl: the number of expirations since the last
// read, blocking until there is one.
func (tm *Timer) Read(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	if len(dst) < 8 {
		return 0, unix.EINVAL
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if err := tm.changes.WaitUntilLocked(ctx, &tm.mu, func() bool { return tm.count != 0 }); err != nil {
		return 0, err
	}
	// The expirations since the one that fired are counted now, and the
	// timer runs again (it waits for the read, as on Linux).
	tm.count += tm.Timer.Rearm()
	binary.LittleEndian.PutUint64(dst, tm.count)
	tm.count = 0
	tm.changes.Notify()
	return 8, nil
}

// Write implements vfs.FileImpl: timerfds cannot be written.
func (tm *Timer) Write(vfs.Context, []byte, int64) (int, error) { return 0, unix.EINVAL }

// Release implements vfs.FileImpl.
func (tm *Timer) Release() { tm.Set(0, 0) }

// Readiness implements vfs.Poller.
func (tm *Timer) Readiness() uint32 {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if tm.count > 0 {
		return vfs.PollIn | vfs.PollRdNorm
	}
	return 0
}

// Changed implements vfs.Poller.
func (tm *Timer) Changed() <-chan struct{} { return tm.ChangedParked(nil) }

// ChangedParked implements vfs.ParkPoller (pk nil: Changed).
func (tm *Timer) ChangedParked(pk *park.Parker) <-chan struct{} {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.changes.ChanParked(pk)
}
