// Package eventfd implements eventfd(2) files: a 64-bit counter that reads
// drain (or, with EFD_SEMAPHORE, decrement) and writes add to, blocking
// when a read finds zero or a write would overflow.
//
// Lock order: counter.mu is a leaf lock.
package eventfd

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"moat/park"
	"moat/vfs"
)

// maxValue is the largest value the counter holds.
const maxValue = 1<<64 - 2

type counter struct {
	vfs.AnonInode // Stat, IsStream, NoopSeek
	mu            sync.Mutex
	v             uint64
	semaphore     bool
	changes       vfs.Changes
}

// New returns an eventfd description with the initial value and flags
// (EFD_SEMAPHORE, EFD_NONBLOCK; the caller handles EFD_CLOEXEC).
func New(initval uint32, semaphore, nonblock bool) *vfs.FileDescription {
	c := &counter{v: uint64(initval), semaphore: semaphore}
	fl := uint32(unix.O_RDWR)
	if nonblock {
		fl |= unix.O_NONBLOCK
	}
	return vfs.NewFileDescription(c, vfs.Path{}, fl)
}

// Name is what /proc/PID/fd shows.
func (c *counter) Name() string { return "anon_inode:[eventfd]" }

// Read implements vfs.FileImpl.
func (c *counter) Read(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	if len(dst) < 8 {
		return 0, unix.EINVAL
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.changes.WaitUntilLocked(ctx, &c.mu, func() bool { return c.v != 0 }); err != nil {
		return 0, err
	}
	v := c.v
	if c.semaphore {
		v = 1
	}
	c.v -= v
	binary.LittleEndian.PutUint64(dst, v)
	c.changes.Notify()
	return 8, nil
}

// Write implements vfs.FileImpl.
func (c *counter) Write(ctx vfs.Context, src []byte, _ int64) (int, error) {
	if len(src) < 8 {
		return 0, unix.EINVAL
	}
	add := binary.LittleEndian.Uint64(src)
	if add == 1<<64-1 {
		return 0, unix.EINVAL
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.changes.WaitUntilLocked(ctx, &c.mu, func() bool { return maxValue-c.v >= add }); err != nil {
		return 0, err
	}
	c.v += add
	c.changes.Notify()
	return 8, nil
}

// Readiness implements vfs.Poller.
func (c *counter) Readiness() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var r uint32
	if c.v > 0 {
		r |= vfs.PollIn | vfs.PollRdNorm
	}
	if c.v < maxValue {
		r |= vfs.PollOut | vfs.PollWrNorm
	}
	return r
}

// Changed implements vfs.Poller.
func (c *counter) Changed() <-chan struct{} { return c.ChangedParked(nil) }

// ChangedParked implements vfs.ParkPoller (pk nil: Changed).
func (c *counter) ChangedParked(pk *park.Parker) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changes.ChanParked(pk)
}

// Release implements vfs.FileImpl.
func (c *counter) Release() {}
