// Package signalfd implements signalfd(2) files: reading one dequeues the
// reader's pending signals in the file's mask as struct signalfd_siginfo
// records, and it polls readable while one is pending.
//
// Readiness (poll, epoll) is that of the task that created the file: the
// poller interface has no caller. Reads use the reading task, as Linux's
// do.
//
// Lock order: File.mu is a leaf lock.
package signalfd

import (
	"sync"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// recordSize is sizeof(struct signalfd_siginfo).
const recordSize = 128

// Task is what a signalfd needs from the task reading or creating it.
type Task interface {
	vfs.Context
	TakeSignalfd(set uint64) ([]byte, <-chan struct{}, bool)
	SignalfdReadiness(set uint64) (bool, <-chan struct{})
}

// File is a signalfd's state.
type File struct {
	vfs.AnonInode // Stat, IsStream, NoopSeek
	owner         Task

	mu   sync.Mutex
	mask uint64
}

// New returns a signalfd description for mask, owned by t (O_NONBLOCK
// per nonblock).
func New(t Task, mask uint64, nonblock bool) *vfs.FileDescription {
	fl := uint32(unix.O_RDWR)
	if nonblock {
		fl |= unix.O_NONBLOCK
	}
	return vfs.NewFileDescription(&File{owner: t, mask: mask}, vfs.Path{}, fl)
}

// SetMask replaces the mask (signalfd on an existing signalfd).
func (f *File) SetMask(mask uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mask = mask
}

func (f *File) getMask() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mask
}

// Name is what /proc/PID/fd shows.
func (f *File) Name() string { return "anon_inode:[signalfd]" }

// Read implements vfs.FileImpl: as many pending signals as fit in dst,
// blocking until there is one.
func (f *File) Read(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	t, ok := ctx.(Task)
	if !ok {
		return 0, unix.EINVAL
	}
	if len(dst) < recordSize {
		return 0, unix.EINVAL
	}
	n := 0
	for n+recordSize <= len(dst) {
		rec, changed, ok := t.TakeSignalfd(f.getMask())
		if ok {
			copy(dst[n:], rec)
			n += recordSize
			continue
		}
		if n > 0 {
			break
		}
		if vfs.Nonblocking(ctx) {
			return 0, unix.EAGAIN
		}
		if err := vfs.Wait(ctx, changed); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Write implements vfs.FileImpl: signalfds are not writable.
func (f *File) Write(ctx vfs.Context, src []byte, _ int64) (int, error) {
	return 0, unix.EINVAL
}

// Readiness implements vfs.Poller.
func (f *File) Readiness() uint32 {
	if pending, _ := f.owner.SignalfdReadiness(f.getMask()); pending {
		return vfs.PollIn | vfs.PollRdNorm
	}
	return 0
}

// Changed implements vfs.Poller.
func (f *File) Changed() <-chan struct{} {
	_, ch := f.owner.SignalfdReadiness(f.getMask())
	return ch
}

// Release implements vfs.FileImpl.
func (f *File) Release() {}
