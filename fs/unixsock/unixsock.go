// Package unixsock implements connected AF_UNIX socket pairs
// (socketpair(2)): stream sockets are two bounded byte queues, one per
// direction; datagram and seqpacket sockets are two bounded message
// queues, keeping message boundaries. Listening, binding to paths and
// passing file descriptors come with the sockets work.
//
// Lock order: a pair's one lock (shared.mu) is a leaf lock.
package unixsock

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// Capacity bounds each direction of a pair (Linux's default socket buffer
// is about this size).
const Capacity = 208 << 10

var nextIno atomic.Uint64

// shared is what both directions of a pair share: one lock, and one
// channel closed at every change, which pollers of either end wait on.
type shared struct {
	mu      sync.Mutex
	changes vfs.Changes
}

// queue is one direction of a pair.
type queue struct {
	*shared
	data     []byte   // stream
	msgs     [][]byte // datagram, seqpacket
	size     int
	rdClosed bool // the reader shut down (or closed)
	wrClosed bool // the writer shut down (or closed)
}

// Socket is one end of a pair.
type Socket struct {
	typ  int // unix.SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
	ino  uint64
	in   *queue // what this end reads
	out  *queue // what this end writes (the peer reads)
	once sync.Once
}

// Pair returns two connected sockets of type typ.
func Pair(typ int) (*Socket, *Socket) {
	sh := &shared{}
	a, b := &queue{shared: sh}, &queue{shared: sh}
	x := &Socket{typ: typ, ino: nextIno.Add(1), in: a, out: b}
	y := &Socket{typ: typ, ino: nextIno.Add(1), in: b, out: a}
	return x, y
}

// Type returns the socket type.
func (s *Socket) Type() int { return s.typ }

// IsStream implements vfs.Stream.
func (s *Socket) IsStream() bool { return true }

// Name is what /proc/PID/fd shows.
func (s *Socket) Name() string { return "socket:[" + itoa(s.ino) + "]" }

// Stat reports a socket inode.
func (s *Socket) Stat(ctx vfs.Context) (vfs.Stat, error) {
	return vfs.Stat{Dev: 0xb, Ino: s.ino, Mode: unix.S_IFSOCK | 0o777, Nlink: 1, UID: ctx.UID(), GID: ctx.GID(), Blksize: 4096}, nil
}

// Options for Recv and Send.
type Options struct {
	NonBlock bool
	Peek     bool
	WaitAll  bool
}

// Recv reads into dst. For message sockets it returns the message's full
// length too (for MSG_TRUNC), and cuts what does not fit.
func (s *Socket) Recv(ctx vfs.Context, dst []byte, o Options) (n, full int, err error) {
	q := s.in
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if s.typ == unix.SOCK_STREAM && len(q.data) > 0 {
			n = copy(dst, q.data)
			if !o.Peek {
				q.data = q.data[n:]
				q.size -= n
				q.changes.Notify()
			}
			if !o.WaitAll || n == len(dst) || o.Peek {
				return n, n, nil
			}
			// MSG_WAITALL: keep reading into the rest.
			m, _, err := s.recvMoreLocked(ctx, dst[n:], o)
			return n + m, n + m, err
		}
		if s.typ != unix.SOCK_STREAM && len(q.msgs) > 0 {
			msg := q.msgs[0]
			n = copy(dst, msg)
			if !o.Peek {
				q.msgs = q.msgs[1:]
				q.size -= len(msg)
				q.changes.Notify()
			}
			return n, len(msg), nil
		}
		if q.wrClosed || q.rdClosed {
			return 0, 0, nil // end of stream
		}
		if o.NonBlock {
			return 0, 0, unix.EAGAIN
		}
		err := q.changes.WaitLocked(ctx, &q.mu)
		if err != nil {
			return 0, 0, err
		}
	}
}

// recvMoreLocked continues a MSG_WAITALL stream read.
//
// Preconditions: s.in.mu is held; it is released while waiting.
func (s *Socket) recvMoreLocked(ctx vfs.Context, dst []byte, o Options) (int, int, error) {
	q := s.in
	got := 0
	for got < len(dst) {
		if len(q.data) > 0 {
			n := copy(dst[got:], q.data)
			q.data = q.data[n:]
			q.size -= n
			q.changes.Notify()
			got += n
			continue
		}
		if q.wrClosed || q.rdClosed {
			break
		}
		err := q.changes.WaitLocked(ctx, &q.mu)
		if err != nil {
			return got, got, nil // a signal ends the wait with what arrived
		}
	}
	return got, got, nil
}

// Send writes src. A stream send blocks until everything is queued (or
// returns a partial count when a signal or nonblocking mode stops it); a
// message send queues one message or fails. EPIPE when the peer is gone.
func (s *Socket) Send(ctx vfs.Context, src []byte, o Options) (int, error) {
	q := s.out
	q.mu.Lock()
	defer q.mu.Unlock()
	if s.typ != unix.SOCK_STREAM && len(src) > Capacity {
		return 0, unix.EMSGSIZE
	}
	done := 0
	for {
		if q.rdClosed || q.wrClosed {
			if done > 0 {
				return done, nil
			}
			return 0, unix.EPIPE
		}
		room := Capacity - q.size
		if s.typ == unix.SOCK_STREAM && room > 0 {
			n := min(room, len(src)-done)
			q.data = append(q.data, src[done:done+n]...)
			q.size += n
			done += n
			q.changes.Notify()
			if done == len(src) {
				return done, nil
			}
		} else if s.typ != unix.SOCK_STREAM && room >= len(src) {
			q.msgs = append(q.msgs, append([]byte(nil), src...))
			q.size += len(src)
			q.changes.Notify()
			return len(src), nil
		}
		if o.NonBlock {
			if done > 0 {
				return done, nil
			}
			return 0, unix.EAGAIN
		}
		err := q.changes.WaitLocked(ctx, &q.mu)
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
	}
}

// Shutdown shuts down reading (rd), writing (wr) or both.
func (s *Socket) Shutdown(rd, wr bool) {
	if rd {
		s.in.mu.Lock()
		s.in.rdClosed = true
		s.in.changes.Notify()
		s.in.mu.Unlock()
	}
	if wr {
		s.out.mu.Lock()
		s.out.wrClosed = true
		s.out.changes.Notify()
		s.out.mu.Unlock()
	}
}

// Read implements vfs.FileImpl.
func (s *Socket) Read(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	n, _, err := s.Recv(ctx, dst, Options{NonBlock: vfs.Nonblocking(ctx)})
	return n, err
}

// Write implements vfs.FileImpl.
func (s *Socket) Write(ctx vfs.Context, src []byte, _ int64) (int, error) {
	return s.Send(ctx, src, Options{NonBlock: vfs.Nonblocking(ctx)})
}

// Release implements vfs.FileImpl: closing an end shuts both directions.
func (s *Socket) Release() { s.once.Do(func() { s.Shutdown(true, true) }) }

// Readiness implements vfs.Poller.
func (s *Socket) Readiness() uint32 {
	var r uint32
	s.in.mu.Lock() // the pair's one lock
	defer s.in.mu.Unlock()
	if len(s.in.data) > 0 || len(s.in.msgs) > 0 {
		r |= vfs.PollIn | vfs.PollRdNorm
	}
	if s.in.wrClosed || s.in.rdClosed {
		r |= vfs.PollIn | vfs.PollRdNorm | 0x2000 // EPOLLRDHUP
	}
	if Capacity-s.out.size > 0 && !s.out.rdClosed {
		r |= vfs.PollOut | vfs.PollWrNorm
	}
	if s.out.rdClosed && s.in.wrClosed {
		r |= vfs.PollHup
	}
	return r
}

// Changed implements vfs.Poller.
func (s *Socket) Changed() <-chan struct{} {
	s.in.mu.Lock()
	defer s.in.mu.Unlock()
	return s.in.changes.Chan()
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
