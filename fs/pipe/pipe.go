// Package pipe implements pipes: a bounded in-memory buffer with a read
// end and a write end, blocking like Linux pipes; and FIFOs (named pipes,
// fifo.go), whose opens attach ends to one pipe per FIFO inode.
//
// Blocking reads, writes and FIFO opens wait interruptibly (vfs.Wait), so
// a signal ends them like on Linux.
//
// Lock order: fifos.mu and pipe.mu are leaf locks, never held together.
package pipe

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"moat/park"
	"moat/vfs"
)

// Capacity is the default pipe buffer size (Linux's, 16 pages).
const Capacity = 64 << 10

// MaxCapacity is the largest size F_SETPIPE_SZ grants
// (/proc/sys/fs/pipe-max-size).
const MaxCapacity = 1 << 20

// atomicWrite is PIPE_BUF: writes up to this size are never interleaved.
const atomicWrite = 4096

var nextIno atomic.Uint64

type pipe struct {
	ino     uint64
	mu      sync.Mutex
	changes vfs.Changes // every change
	written vfs.Changes // data written, or an end closed: edges for readers
	drained vfs.Changes // data read, or an end closed: edges for writers
	buf     []byte
	cap     int // buffer size (F_SETPIPE_SZ)
	readers int
	writers int

	// FIFOs only (fifo.go). rOpens and wOpens count the opens for
	// reading and for writing, which blocked opens wait to see change
	// (Linux's r_counter and w_counter); anonymous pipes have one of
	// each.
	fifo   bool
	key    fifoKey
	rOpens uint64
	wOpens uint64
}

// New returns the read and write ends of a new pipe. nonblock sets
// O_NONBLOCK on both.
func New(nonblock bool) (r, w *vfs.FileDescription) {
	p := &pipe{ino: nextIno.Add(1), cap: Capacity, readers: 1, writers: 1, rOpens: 1, wOpens: 1}
	var fl uint32
	if nonblock {
		fl = unix.O_NONBLOCK
	}
	r = vfs.NewFileDescription(anonEnd{&end{p: p, read: true}}, vfs.Path{}, unix.O_RDONLY|fl)
	w = vfs.NewFileDescription(anonEnd{&end{p: p, write: true}}, vfs.Path{}, unix.O_WRONLY|fl)
	return r, w
}

// end is one end of a pipe: for reading, for writing, or for both (a FIFO
// opened O_RDWR). O_NONBLOCK comes with each call's context
// (vfs.Nonblocking).
type end struct {
	p     *pipe
	read  bool
	write bool
	// wSeen is wOpens when a FIFO's read end was opened with O_NONBLOCK
	// and no writer: the end reports POLLHUP only once a writer has come
	// (and gone) since, as Linux's pipe_poll does. It is 0 otherwise,
	// and wOpens never is for a pipe with a reader and a writer.
	wSeen uint64
}

// anonEnd is an end of an anonymous pipe (pipe(2)), which has no inode in
// the namespace: it stats and names itself. A FIFO's ends are plain ends,
// which stat as their FIFO inode.
type anonEnd struct{ *end }

// IsStream implements vfs.Stream.
func (e *end) IsStream() bool { return true }

// Name returns the /proc/PID/fd link text, "pipe:[ino]".
func (e anonEnd) Name() string { return "pipe:[" + itoa(e.p.ino) + "]" }

// Stat implements the description's Stat: a FIFO with its inode number.
func (e anonEnd) Stat(ctx vfs.Context) (vfs.Stat, error) {
	e.p.mu.Lock()
	n := len(e.p.buf)
	e.p.mu.Unlock()
	return vfs.Stat{Dev: 0xc, Ino: e.p.ino, Mode: unix.S_IFIFO | 0o600, Nlink: 1, UID: ctx.UID(), GID: ctx.GID(), Blksize: 4096, Size: int64(n)}, nil
}

// Read implements vfs.FileImpl.
func (e *end) Read(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	if !e.read {
		return 0, unix.EBADF
	}
	if len(dst) == 0 {
		return 0, nil
	}
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.changes.WaitUntilLocked(ctx, &p.mu, func() bool { return len(p.buf) != 0 || p.writers == 0 }); err != nil {
		return 0, err
	}
	if len(p.buf) == 0 {
		return 0, nil // end of file: no writers left
	}
	n := copy(dst, p.buf)
	p.buf = p.buf[n:]
	if len(p.buf) == 0 {
		p.buf = nil
	}
	p.changes.Notify()
	p.drained.Notify()
	return n, nil
}

// Write implements vfs.FileImpl. With no readers it fails with EPIPE (the
// caller raises SIGPIPE).
func (e *end) Write(ctx vfs.Context, src []byte, _ int64) (int, error) {
	if !e.write {
		return 0, unix.EBADF
	}
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	done := 0
	for done < len(src) {
		if p.readers == 0 {
			if done > 0 {
				return done, nil
			}
			return 0, unix.EPIPE
		}
		room := p.cap - len(p.buf)
		if room == 0 || len(src)-done <= atomicWrite && room < len(src)-done {
			if vfs.Nonblocking(ctx) {
				if done > 0 {
					return done, nil
				}
				return 0, unix.EAGAIN
			}
			if err := p.changes.WaitLocked(ctx, &p.mu); err != nil {
				if done > 0 {
					return done, nil
				}
				return 0, err
			}
			continue
		}
		n := min(room, len(src)-done)
		p.buf = append(p.buf, src[done:done+n]...)
		done += n
		p.changes.Notify()
		p.written.Notify()
	}
	return done, nil
}

// Release implements vfs.FileImpl.
func (e *end) Release() {
	p := e.p
	p.mu.Lock()
	if e.read {
		p.readers--
	}
	if e.write {
		p.writers--
	}
	p.notifyAllLocked()
	p.mu.Unlock()
	if p.fifo {
		p.unref()
	}
}

// notifyAllLocked wakes every waiter: an end came or went.
//
// Preconditions: p.mu is held.
func (p *pipe) notifyAllLocked() {
	p.changes.Notify()
	p.written.Notify()
	p.drained.Notify()
}

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// Size returns the pipe's buffer size (F_GETPIPE_SZ).
func (e *end) Size() int {
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	return e.p.cap
}

// SetSize sets the buffer size (F_SETPIPE_SZ), rounded up to a power of
// two pages as Linux does, and returns it: EINVAL for a negative size,
// EPERM beyond MaxCapacity (what Linux gives callers without
// CAP_SYS_RESOURCE; root's larger pipes are refused too, to bound the
// sentry's memory), EBUSY if the data already in the pipe would not fit.
func (e *end) SetSize(n int) (int, error) {
	switch {
	case n < 0:
		return 0, unix.EINVAL
	case n > MaxCapacity:
		return 0, unix.EPERM
	}
	size := 4096
	for size < n {
		size <<= 1
	}
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	if len(e.p.buf) > size {
		return 0, unix.EBUSY
	}
	e.p.cap = size
	e.p.changes.Notify()
	e.p.drained.Notify()
	return size, nil
}

// fionread is FIONREAD: the number of bytes waiting in the pipe.
const fionread = 0x541b

// Ioctl implements vfs.Ioctler.
func (e *end) Ioctl(ctx vfs.Context, req uint32, arg uintptr, mem vfs.IOMemory) (uintptr, error) {
	if req != fionread {
		return 0, unix.ENOTTY
	}
	e.p.mu.Lock()
	n := len(e.p.buf)
	e.p.mu.Unlock()
	b := []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}
	if _, err := mem.CopyOut(arg, b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// Readiness implements vfs.Poller.
func (e *end) Readiness() uint32 {
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	var r uint32
	if e.read {
		if len(p.buf) > 0 {
			r |= vfs.PollIn | vfs.PollRdNorm
		}
		if p.writers == 0 && e.wSeen != p.wOpens {
			r |= vfs.PollHup
		}
	}
	if e.write {
		if p.cap-len(p.buf) >= atomicWrite {
			r |= vfs.PollOut | vfs.PollWrNorm
		}
		if p.readers == 0 {
			r |= vfs.PollErr
		}
	}
	return r
}

// Changed implements vfs.Poller.
func (e *end) Changed() <-chan struct{} { return e.ChangedParked(nil) }

// ChangedParked implements vfs.ParkPoller (pk nil: Changed).
func (e *end) ChangedParked(pk *park.Parker) <-chan struct{} {
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	return e.p.changes.ChanParked(pk)
}

// ChangedFor implements vfs.EdgePoller.
func (e *end) ChangedFor(events uint32) <-chan struct{} { return e.ChangedForParked(events, nil) }

// ChangedForParked implements vfs.EdgeParkPoller (pk nil: ChangedFor).
func (e *end) ChangedForParked(events uint32, pk *park.Parker) <-chan struct{} {
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	return e.p.edgeChanges(events).ChanParked(pk)
}

// edgeChanges returns the changes that may raise events: new data for
// reading, new room for writing, either for both.
//
// Preconditions: p.mu is held.
func (p *pipe) edgeChanges(events uint32) *vfs.Changes {
	in := events&(vfs.PollIn|vfs.PollRdNorm|vfs.PollPri) != 0
	out := events&(vfs.PollOut|vfs.PollWrNorm) != 0
	switch {
	case in && !out:
		return &p.written
	case out && !in:
		return &p.drained
	}
	return &p.changes
}

// The operations below serve splice(2), tee(2), vmsplice(2) and sendfile(2)
// to a pipe: the sentry moves the data by copying, so they only need to
// look at a pipe's buffer, take from it and add to it under the pipe's
// lock, with Linux's waits around them.

// Of reports whether impl is an end of a pipe, and whether it is the read
// end.
func Of(impl vfs.FileImpl) (isPipe, readEnd bool) {
	e, ok := endOf(impl)
	if !ok {
		return false, false
	}
	return true, e.read
}

// endOf returns the pipe end impl is: an anonymous pipe's or a FIFO's.
func endOf(impl vfs.FileImpl) (*end, bool) {
	switch e := impl.(type) {
	case *end:
		return e, true
	case anonEnd:
		return e.end, true
	}
	return nil, false
}

// pipeOf returns the pipe of impl, which the caller knows is a pipe end.
func pipeOf(impl vfs.FileImpl) *pipe {
	e, _ := endOf(impl)
	return e.p
}

// Same reports whether a and b are ends of the same pipe.
func Same(a, b vfs.FileImpl) bool {
	ea, ok1 := endOf(a)
	eb, ok2 := endOf(b)
	return ok1 && ok2 && ea.p == eb.p
}

// WaitData waits until the pipe of impl (an end of a pipe) holds data or
// has no writers, and returns how many bytes it holds (0: end of file).
// With a non-blocking ctx it fails with EAGAIN instead of waiting.
func WaitData(ctx vfs.Context, impl vfs.FileImpl) (int, error) {
	p := pipeOf(impl)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.changes.WaitUntilLocked(ctx, &p.mu, func() bool { return len(p.buf) != 0 || p.writers == 0 }); err != nil {
		return 0, err
	}
	return len(p.buf), nil
}

// WaitRoom waits until the pipe of impl has room for at least one byte
// and returns how much: EPIPE if it has no readers (the caller raises
// SIGPIPE), EAGAIN with a non-blocking ctx instead of waiting.
func WaitRoom(ctx vfs.Context, impl vfs.FileImpl) (int, error) {
	p := pipeOf(impl)
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.readers == 0 {
			return 0, unix.EPIPE
		}
		if room := p.cap - len(p.buf); room > 0 {
			return room, nil
		}
		if vfs.Nonblocking(ctx) {
			return 0, unix.EAGAIN
		}
		if err := p.changes.WaitLocked(ctx, &p.mu); err != nil {
			return 0, err
		}
	}
}

// Peek copies the data at the front of the pipe into dst without
// consuming it (tee(2)), and returns how much it copied.
func Peek(impl vfs.FileImpl, dst []byte) int {
	p := pipeOf(impl)
	p.mu.Lock()
	defer p.mu.Unlock()
	return copy(dst, p.buf)
}

// Consume drops up to n bytes from the front of the pipe, as a read of
// them would.
func Consume(impl vfs.FileImpl, n int) {
	p := pipeOf(impl)
	p.mu.Lock()
	defer p.mu.Unlock()
	n = min(n, len(p.buf))
	if n == 0 {
		return
	}
	p.buf = p.buf[n:]
	if len(p.buf) == 0 {
		p.buf = nil
	}
	p.changes.Notify()
	p.drained.Notify()
}

// Append adds as much of src as the pipe has room for, without waiting,
// and returns how much: EPIPE if the pipe has no readers.
func Append(impl vfs.FileImpl, src []byte) (int, error) {
	p := pipeOf(impl)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.readers == 0 {
		return 0, unix.EPIPE
	}
	n := min(p.cap-len(p.buf), len(src))
	if n <= 0 {
		return 0, nil
	}
	p.buf = append(p.buf, src[:n]...)
	p.changes.Notify()
	p.written.Notify()
	return n, nil
}
