// Package timerfd implements timerfd files: a timer whose expirations are
// counted and read as a 64-bit number, for event loops.
//
// Lock order: Timer.mu is a leaf lock.
package timerfd

import (
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// Timer is a timerfd's state.
type Timer struct {
	mu       sync.Mutex
	t        *time.Timer
	gen      uint64
	expiry   time.Time // zero: disarmed
	interval time.Duration
	count    uint64 // expirations not yet read
	changes  vfs.Changes
}

// New returns a timerfd description (O_NONBLOCK per nonblock).
func New(nonblock bool) *vfs.FileDescription {
	fl := uint32(unix.O_RDWR)
	if nonblock {
		fl |= unix.O_NONBLOCK
	}
	return vfs.NewFileDescription(&Timer{}, vfs.Path{}, fl)
}

// Get returns the time left and the interval.
func (tm *Timer) Get() (left, interval time.Duration) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if !tm.expiry.IsZero() {
		left = max(time.Until(tm.expiry), time.Nanosecond)
	}
	return left, tm.interval
}

// Set arms the timer to expire after d (zero: disarm), then every
// interval, and returns the old setting.
func (tm *Timer) Set(d, interval time.Duration) (oldLeft, oldInterval time.Duration) {
	oldLeft, oldInterval = tm.Get()
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if tm.t != nil {
		tm.t.Stop()
		tm.t = nil
	}
	tm.gen++
	tm.expiry, tm.interval = time.Time{}, interval
	if d > 0 {
		tm.armLocked(d)
	}
	return oldLeft, oldInterval
}

// Preconditions: tm.mu is held.
func (tm *Timer) armLocked(d time.Duration) {
	gen := tm.gen
	tm.expiry = time.Now().Add(d)
	tm.t = time.AfterFunc(d, func() {
		tm.mu.Lock()
		defer tm.mu.Unlock()
		if gen != tm.gen {
			return
		}
		tm.count++
		tm.expiry = time.Time{}
		if tm.interval > 0 {
			tm.armLocked(tm.interval)
		}
		tm.changes.Notify()
	})
}

// Name is what /proc/PID/fd shows.
func (tm *Timer) Name() string { return "anon_inode:[timerfd]" }

// IsStream implements vfs.Stream.
func (tm *Timer) IsStream() bool { return true }

// Stat reports an anonymous inode.
func (tm *Timer) Stat(ctx vfs.Context) (vfs.Stat, error) {
	return vfs.Stat{Dev: 0xd, Ino: 2, Mode: 0o600, Nlink: 1, UID: ctx.UID(), GID: ctx.GID(), Blksize: 4096}, nil
}

// Read implements vfs.FileImpl: the number of expirations since the last
// read, blocking until there is one.
func (tm *Timer) Read(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	if len(dst) < 8 {
		return 0, unix.EINVAL
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	for tm.count == 0 {
		if vfs.Nonblocking(ctx) {
			return 0, unix.EAGAIN
		}
		err := tm.changes.WaitLocked(ctx, &tm.mu)
		if err != nil {
			return 0, err
		}
	}
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
func (tm *Timer) Changed() <-chan struct{} {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.changes.Chan()
}
