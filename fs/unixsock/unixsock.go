// Package unixsock implements AF_UNIX sockets: connected pairs
// (socketpair(2)), and sockets made by socket(2) that bind to filesystem
// paths or abstract names, listen, accept and connect. Stream sockets are
// two bounded byte queues, one per direction; datagram and seqpacket
// sockets keep message boundaries. File descriptors travel with the data
// they were sent with (SCM_RIGHTS) and are held until received, or
// released when the receiving socket closes.
//
// Each message, and each run of stream bytes, carries its sender's
// credentials (SCM_CREDENTIALS): its process id and real user and group
// ids when the sender or the receiver asked for them (SO_PASSCRED), or
// those the sender gave explicitly; a receiver with SO_PASSCRED gets them
// with what it reads, and a stream read does not cross from one sender's
// bytes to another's.
//
// A stream or seqpacket socket closed with unread data, or a connection
// its listener closed before accepting it, resets its peer: the peer's
// next read (or seqpacket send) fails once with ECONNRESET.
//
// Sockets whose descriptions are referenced only by messages in flight,
// in one another's queues, are found and released by a garbage collector
// (gc.go).
//
// A connected stream or seqpacket connection's two queues share one lock.
// Each datagram socket made by socket(2) owns its receive queue (and its
// lock); a sender appends to the receiver's queue.
//
// Lock order (outermost first): gc.mu; a connecting socket's mu, the
// listener's mu, registry.mu; queue locks (shared.mu) are leaves. File
// descriptions in flight are released only with no lock held.
package unixsock

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"moat/fs/socktime"
	"moat/park"
	"moat/vfs"
)

// Capacity bounds each direction of a pair (Linux's default socket buffer
// is about this size).
const Capacity = 208 << 10

// maxMsgs bounds the messages one queue holds, so that empty datagrams
// (which may carry file descriptors) cannot pile up without bound.
const maxMsgs = 4096

// MaxFDs is SCM_MAX_FD: the most descriptors one message may carry.
const MaxFDs = 253

// SomaxConn is net.core.somaxconn: listen(2) clamps the backlog to it.
const SomaxConn = 4096

// MaxInFlight bounds the descriptors in flight (sent and not yet
// received) in all sockets, as Linux bounds them per user: more is
// ETOOMANYREFS.
const MaxInFlight = 1 << 16

var (
	inFlight atomic.Int64
)

// Cred is a process identity: what SO_PEERCRED and SCM_CREDENTIALS
// report.
type Cred struct {
	PID      int32
	UID, GID uint32
}

// overflowID is what Linux reports for an id that is not known.
const overflowID = 65534

// NoCred is what SCM_CREDENTIALS reports for data sent when neither side
// asked for credentials.
var NoCred = Cred{UID: overflowID, GID: overflowID}

// Sender is a vfs.Context that knows its process: what SCM_CREDENTIALS
// reports of a sender.
type Sender interface {
	TGID() int32
	RealIDs() (uid, gid uint32)
}

// senderCred returns the credentials of the process sending as ctx.
func senderCred(ctx vfs.Context) Cred {
	if t, ok := ctx.(Sender); ok {
		uid, gid := t.RealIDs()
		return Cred{PID: t.TGID(), UID: uid, GID: gid}
	}
	return NoCred
}

// shared is what both directions of a connection share: one lock, and
// one channel closed at every change, which pollers of either end wait on.
type shared struct {
	mu      sync.Mutex
	changes vfs.Changes
}

// message is one datagram or seqpacket record.
type message struct {
	data []byte
	from string // the sender's address
	fds  []*vfs.FileDescription
	cred Cred
}

// rights are descriptors sent with the stream bytes [off, end).
type rights struct {
	off, end int64
	fds      []*vfs.FileDescription
}

// credSpan says who sent the stream bytes up to end (from the previous
// span's end, or the read position).
type credSpan struct {
	end  int64
	cred Cred
}

// queue is one direction of a connection, or a datagram socket's receive
// queue.
type queue struct {
	*shared
	data       []byte // stream
	rpos, wpos int64  // stream: bytes read and written so far
	rights     []rights
	creds      []credSpan // stream: the senders of [rpos, wpos), adjacent spans differ
	msgs       []message  // datagram, seqpacket
	size       int
	rdClosed   bool // the reader shut down (or closed)
	wrClosed   bool // the writer shut down (or closed)
	reset      bool // the peer closed with data unread (or never accepted): ECONNRESET, once
}

func newQueue(sh *shared) *queue { return &queue{shared: sh} }

// addCredLocked records that the stream bytes up to q.wpos came from c.
//
// Preconditions: q.mu is held.
func (q *queue) addCredLocked(c Cred) {
	if n := len(q.creds); n > 0 && q.creds[n-1].cred == c {
		q.creds[n-1].end = q.wpos
		return
	}
	q.creds = append(q.creds, credSpan{end: q.wpos, cred: c})
}

// consumedLocked forgets the senders of bytes read.
//
// Preconditions: q.mu is held.
func (q *queue) consumedLocked() {
	i := 0
	for i < len(q.creds) && q.creds[i].end <= q.rpos {
		i++
	}
	if i > 0 {
		q.creds = append(q.creds[:0], q.creds[i:]...)
	}
}

// takeResetLocked reports and clears a pending ECONNRESET.
//
// Preconditions: q.mu is held.
func (q *queue) takeResetLocked() bool {
	r := q.reset
	q.reset = false
	return r
}

// drainLocked empties the queue and returns the descriptors it held, for
// the caller to unaccount and release once the lock is dropped.
//
// Preconditions: q.mu is held.
func (q *queue) drainLocked() []*vfs.FileDescription {
	var fds []*vfs.FileDescription
	for _, m := range q.msgs {
		fds = append(fds, m.fds...)
	}
	for _, r := range q.rights {
		fds = append(fds, r.fds...)
	}
	inFlight.Add(-int64(len(fds)))
	q.msgs, q.rights, q.data, q.creds = nil, nil, nil, nil
	q.rpos = q.wpos
	q.size = 0
	return fds
}

// drain empties q, unaccounts and releases what it held.
func (q *queue) drain() {
	q.mu.Lock()
	fds := q.drainLocked()
	q.mu.Unlock()
	unaccount(fds)
	Release(fds)
}

// Release drops in-flight descriptors; call it with no lock held.
func Release(fds []*vfs.FileDescription) {
	for _, f := range fds {
		f.DecRef()
	}
}

// Socket states.
const (
	stUnconnected = iota
	stListening
	stConnected
)

// Socket is an AF_UNIX socket.
type Socket struct {
	typ  int // unix.SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
	ino  uint64
	pair bool // made by socketpair: closing shuts the peer's direction too
	once sync.Once

	mu       sync.Mutex
	changes  vfs.Changes // state changes: connected, a connection pending
	state    int
	addr     string  // bound address: a path, "\x00name" (abstract), or "" (unnamed)
	in, out  *queue  // what this socket reads and writes (out: the default peer's queue for datagrams)
	peer     *Socket // the connected peer
	pending  []*Socket
	backlog  int
	cred     Cred // the owner's identity at listen (what connecting peers see)
	peerCred Cred
	hasPeer  bool // peerCred is set
	passcred bool
	wrShut   bool // datagram: shut down for writing
	closed   bool
	inode    InodeKey
	bound    int // 0, boundInode, boundAbstract

	// SO_RCVTIMEO and SO_SNDTIMEO, read without the lock.
	rcvTimeo, sndTimeo atomic.Pointer[socktime.Timeout]
	// flags are SO_KEEPALIVE, SO_REUSEADDR and SO_OOBINLINE, kept for
	// getsockopt (a bit each, by flagBit).
	flags atomic.Uint32

	// embryo: a connection on its listener's queue, not yet accepted
	// (senders to it attach their credentials, as to a receiver with
	// SO_PASSCRED).
	embryo atomic.Bool

	// The garbage collector's view (gc.go): the description this socket
	// is open as, and how many references to it are in flight.
	file      *vfs.FileDescription // protected by gc.mu
	inflight  int64                // protected by gc.mu
	inflightN atomic.Int64         // inflight, for a lock-free look
}

const (
	boundInode = 1 + iota
	boundAbstract
)

// New returns an unconnected socket of type typ (socket(2)).
func New(typ int) *Socket {
	s := track(&Socket{typ: typ, ino: vfs.NewSocketIno()})
	if typ == unix.SOCK_DGRAM {
		s.in = newQueue(&shared{})
	}
	return s
}

// Pair returns two connected sockets of type typ.
func Pair(typ int) (*Socket, *Socket) { return NewPair(typ, Cred{}) }

// NewPair returns two connected sockets of type typ, each seeing c as its
// peer's credentials.
func NewPair(typ int, c Cred) (*Socket, *Socket) {
	sh := &shared{}
	a, b := newQueue(sh), newQueue(sh)
	x := track(&Socket{typ: typ, ino: vfs.NewSocketIno(), pair: true, state: stConnected, in: a, out: b, cred: c, peerCred: c, hasPeer: true})
	y := track(&Socket{typ: typ, ino: vfs.NewSocketIno(), pair: true, state: stConnected, in: b, out: a, cred: c, peerCred: c, hasPeer: true})
	x.peer, y.peer = y, x
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

// Addr returns the bound address ("" when unnamed).
func (s *Socket) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Bound reports whether the socket has an address.
func (s *Socket) Bound() bool { return s.Addr() != "" }

// PeerAddr returns the connected peer's address; ENOTCONN when there is
// no peer.
func (s *Socket) PeerAddr() (string, error) {
	s.mu.Lock()
	p, st := s.peer, s.state
	s.mu.Unlock()
	if p == nil || st != stConnected {
		return "", unix.ENOTCONN
	}
	return p.Addr(), nil
}

// PeerCred returns SO_PEERCRED's answer (zero ids and pid 0 with ok false
// when there is no peer).
func (s *Socket) PeerCred() (Cred, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peerCred, s.hasPeer
}

// Listening reports SO_ACCEPTCONN.
func (s *Socket) Listening() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stListening
}

// SetPassCred sets SO_PASSCRED (which makes datagram sends autobind).
func (s *Socket) SetPassCred(on bool) {
	s.mu.Lock()
	s.passcred = on
	s.mu.Unlock()
}

// PassCred reports SO_PASSCRED.
func (s *Socket) PassCred() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.passcred
}

// Options for Recv and Send.
type Options struct {
	NonBlock bool
	Peek     bool
	WaitAll  bool
	Cred     *Cred // credentials the sender gave explicitly (SCM_CREDENTIALS), checked by the caller
}

// Message is what Recv returns besides the bytes.
type Message struct {
	N, Full  int    // bytes copied; the whole message's length (for MSG_TRUNC)
	From     string // the sender's address
	FDs      []*vfs.FileDescription
	PassCred bool // the receiver has SO_PASSCRED: report Cred
	Cred     Cred // who sent it
}

func (s *Socket) conn() (in, out *queue, st int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.in, s.out, s.state
}

// Recv reads into dst. For message sockets it returns the message's full
// length too (for MSG_TRUNC), and cuts what does not fit. Descriptors
// that came with the data are returned, each holding a reference the
// caller owns.
func (s *Socket) Recv(ctx vfs.Context, dst []byte, o Options) (Message, error) {
	s.mu.Lock()
	q, st, passcred := s.in, s.state, s.passcred
	s.mu.Unlock()
	if q == nil || (s.typ != unix.SOCK_DGRAM && st != stConnected) {
		if s.typ == unix.SOCK_SEQPACKET && st != stListening {
			return Message{}, unix.ENOTCONN
		}
		return Message{}, unix.EINVAL
	}
	var from string
	if s.typ == unix.SOCK_STREAM {
		from, _ = s.PeerAddr()
	}
	m, err := s.recv(ctx, q, dst, o, from, passcred)
	if !o.Peek {
		unaccount(m.FDs)
	}
	return m, err
}

// recv is Recv on the receive queue q.
func (s *Socket) recv(ctx vfs.Context, q *queue, dst []byte, o Options, from string, passcred bool) (Message, error) {
	deadline, mayWait := s.Timeout(true).Deadline()
	o.NonBlock = o.NonBlock || !mayWait
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if s.typ == unix.SOCK_SEQPACKET && q.takeResetLocked() {
			return Message{}, unix.ECONNRESET
		}
		if s.typ == unix.SOCK_STREAM && len(q.data) > 0 {
			var fds []*vfs.FileDescription
			want := dst
			cred := NoCred
			if passcred && len(q.creds) > 0 {
				// Stop where this sender's bytes end.
				c := q.creds[0]
				cred = c.cred
				want = want[:min(int64(len(want)), c.end-q.rpos)]
			}
			if len(q.rights) > 0 {
				if r := q.rights[0]; r.off < q.rpos+int64(len(want)) {
					// The read reaches bytes that carry descriptors:
					// deliver them, and stop at the end of what was sent
					// with them (as Linux stops after their skb).
					want = want[:min(int64(len(want)), r.end-q.rpos)]
					if o.Peek {
						for _, f := range r.fds {
							f.IncRef()
						}
						fds = append(fds, r.fds...)
					} else {
						fds = r.fds
						q.rights = q.rights[1:]
						inFlight.Add(-int64(len(fds)))
					}
				}
			}
			n := copy(want, q.data)
			if !o.Peek {
				q.data = q.data[n:]
				q.size -= n
				q.rpos += int64(n)
				q.consumedLocked()
				q.changes.Notify()
			}
			msg := Message{N: n, Full: n, From: from, FDs: fds, PassCred: passcred, Cred: cred}
			if !o.WaitAll || o.NonBlock || n == len(dst) || o.Peek || fds != nil {
				// MSG_DONTWAIT (or a zero timeout) wins over
				// MSG_WAITALL: what is there, as Linux gives.
				return msg, nil
			}
			// MSG_WAITALL: keep reading into the rest.
			m := s.recvMoreLocked(ctx, q, dst[n:], passcred, cred, deadline)
			msg.N += m
			msg.Full += m
			return msg, nil
		}
		if s.typ != unix.SOCK_STREAM && len(q.msgs) > 0 {
			msg := q.msgs[0]
			n := copy(dst, msg.data)
			fds := msg.fds
			if !o.Peek {
				inFlight.Add(-int64(len(fds)))
				q.msgs[0] = message{}
				q.msgs = q.msgs[1:]
				q.size -= len(msg.data)
				q.changes.Notify()
			} else {
				for _, f := range fds {
					f.IncRef()
				}
				fds = append([]*vfs.FileDescription(nil), fds...)
			}
			return Message{N: n, Full: len(msg.data), From: msg.from, FDs: fds, PassCred: passcred, Cred: msg.cred}, nil
		}
		if s.typ == unix.SOCK_STREAM && q.takeResetLocked() {
			return Message{}, unix.ECONNRESET
		}
		if q.wrClosed || q.rdClosed {
			// End of stream; a stream receiver with SO_PASSCRED gets
			// empty credentials with it, as on Linux.
			return Message{PassCred: passcred && s.typ == unix.SOCK_STREAM}, nil
		}
		if o.NonBlock {
			return Message{}, unix.EAGAIN
		}
		err := waitLocked(ctx, &q.changes, &q.mu, deadline)
		if err != nil {
			return Message{}, err
		}
	}
}

// recvMoreLocked continues a MSG_WAITALL stream read, stopping before
// bytes that carry descriptors, and, with passcred, before bytes that
// another sender than cred sent.
//
// Preconditions: q.mu is held; it is released while waiting.
func (s *Socket) recvMoreLocked(ctx vfs.Context, q *queue, dst []byte, passcred bool, cred Cred, deadline time.Time) int {
	got := 0
	for got < len(dst) {
		if len(q.data) > 0 {
			want := dst[got:]
			if passcred && len(q.creds) > 0 {
				c := q.creds[0]
				if c.cred != cred {
					break
				}
				want = want[:min(int64(len(want)), c.end-q.rpos)]
			}
			if len(q.rights) > 0 {
				r := q.rights[0]
				if r.off <= q.rpos {
					break
				}
				want = want[:min(int64(len(want)), r.off-q.rpos)]
			}
			n := copy(want, q.data)
			q.data = q.data[n:]
			q.size -= n
			q.rpos += int64(n)
			q.consumedLocked()
			q.changes.Notify()
			got += n
			continue
		}
		if q.wrClosed || q.rdClosed {
			break
		}
		if err := waitLocked(ctx, &q.changes, &q.mu, deadline); err != nil {
			break // a signal or the timeout ends the wait with what arrived
		}
	}
	return got
}

// Send writes src to the connected peer (see SendTo).
func (s *Socket) Send(ctx vfs.Context, src []byte, o Options) (int, error) {
	return s.SendTo(ctx, src, o, nil, nil)
}

// SendTo writes src, with the descriptors fds, to the datagram socket to,
// or to the connected peer when to is nil. A stream send blocks until
// everything is queued (or returns a partial count when a signal or
// nonblocking mode stops it); a message send queues one message or fails.
// EPIPE when the peer is gone. On success the queue owns the references of
// fds; on failure the caller keeps them.
func (s *Socket) SendTo(ctx vfs.Context, src []byte, o Options, to *Socket, fds []*vfs.FileDescription) (int, error) {
	s.mu.Lock()
	q, in, st, from, wrShut, passcred, peer := s.out, s.in, s.state, s.addr, s.wrShut, s.passcred, s.peer
	s.mu.Unlock()
	switch {
	case s.typ == unix.SOCK_DGRAM && to != nil:
		if to.typ != s.typ {
			return 0, unix.EPROTOTYPE
		}
		to.mu.Lock()
		q = to.in
		to.mu.Unlock()
		peer = to
	case s.typ == unix.SOCK_DGRAM && q == nil:
		return 0, unix.ENOTCONN
	case s.typ != unix.SOCK_DGRAM && st != stConnected:
		if s.typ == unix.SOCK_STREAM && to == nil {
			return 0, unix.ENOTCONN
		}
		if s.typ == unix.SOCK_STREAM {
			return 0, unix.EOPNOTSUPP
		}
		return 0, unix.ENOTCONN
	case s.typ == unix.SOCK_STREAM && to != nil:
		return 0, unix.EISCONN
	}
	if s.typ == unix.SOCK_SEQPACKET {
		// A reset is reported to a seqpacket sender first, as Linux's
		// sock_error does.
		in.mu.Lock()
		reset := in.takeResetLocked()
		in.mu.Unlock()
		if reset {
			return 0, unix.ECONNRESET
		}
		if passcred && from == "" {
			s.Bind("", nil) // SO_PASSCRED autobinds, as on Linux
			from = s.Addr()
		}
	}
	if wrShut {
		return 0, unix.EPIPE
	}
	if s.typ != unix.SOCK_STREAM && len(src) > Capacity {
		return 0, unix.EMSGSIZE
	}
	// The credentials that go with the data: those given, or the
	// sender's own when either side asked for them.
	cred := NoCred
	if o.Cred != nil {
		cred = *o.Cred
	} else if passcred || (peer != nil && (peer.PassCred() || peer.embryo.Load())) {
		cred = senderCred(ctx)
	}
	if len(fds) > 0 {
		if inFlight.Add(int64(len(fds))) > MaxInFlight {
			inFlight.Add(-int64(len(fds)))
			return 0, unix.ETOOMANYREFS
		}
		account(fds)
		queued := false
		n, err := s.sendLocked(ctx, q, src, o, fds, from, cred, &queued)
		if !queued {
			inFlight.Add(-int64(len(fds)))
			unaccount(fds)
		} else {
			sentTo(peer)
			maybeCollect(fds)
		}
		return n, err
	}
	return s.sendLocked(ctx, q, src, o, nil, from, cred, new(bool))
}

// sendLocked queues src (and fds) on q, setting *queued once the
// descriptors are in the queue or released.
func (s *Socket) sendLocked(ctx vfs.Context, q *queue, src []byte, o Options, fds []*vfs.FileDescription, from string, cred Cred, queued *bool) (int, error) {
	deadline, mayWait := s.Timeout(false).Deadline()
	o.NonBlock = o.NonBlock || !mayWait
	q.mu.Lock()
	defer q.mu.Unlock()
	done := 0
	for {
		if q.rdClosed || q.wrClosed {
			if done > 0 {
				return done, nil
			}
			if s.typ == unix.SOCK_DGRAM && !s.pair {
				return 0, unix.ECONNREFUSED
			}
			return 0, unix.EPIPE
		}
		room := Capacity - q.size
		if s.typ == unix.SOCK_STREAM && room > 0 {
			n := min(room, len(src)-done)
			if done == 0 && len(fds) > 0 && n > 0 {
				q.rights = append(q.rights, rights{off: q.wpos, end: q.wpos + int64(len(src)), fds: fds})
				*queued = true
			}
			q.data = append(q.data, src[done:done+n]...)
			q.size += n
			q.wpos += int64(n)
			if n > 0 {
				q.addCredLocked(cred)
			}
			done += n
			q.changes.Notify()
			if done == len(src) {
				if len(src) == 0 && len(fds) > 0 {
					// Nothing sent: the descriptors go nowhere.
					inFlight.Add(-int64(len(fds)))
					*queued = true
					q.mu.Unlock()
					unaccount(fds)
					Release(fds)
					q.mu.Lock()
				}
				return done, nil
			}
		} else if s.typ != unix.SOCK_STREAM && room >= len(src) && len(q.msgs) < maxMsgs {
			q.msgs = append(q.msgs, message{data: append([]byte(nil), src...), from: from, fds: fds, cred: cred})
			*queued = true
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
		err := waitLocked(ctx, &q.changes, &q.mu, deadline)
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
	in, out, _ := s.conn()
	if s.typ == unix.SOCK_DGRAM && !s.pair {
		// A datagram socket's shutdown is its own; its peer's queue is
		// shared with other senders.
		if wr {
			s.mu.Lock()
			s.wrShut = true
			s.mu.Unlock()
		}
		out = nil
	}
	if rd && in != nil {
		in.mu.Lock()
		in.rdClosed = true
		in.changes.Notify()
		in.mu.Unlock()
	}
	if wr && out != nil {
		out.mu.Lock()
		out.wrClosed = true
		out.changes.Notify()
		out.mu.Unlock()
	}
}

// Read implements vfs.FileImpl.
func (s *Socket) Read(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	m, err := s.Recv(ctx, dst, Options{NonBlock: vfs.Nonblocking(ctx)})
	Release(m.FDs)
	return m.N, err
}

// Write implements vfs.FileImpl.
func (s *Socket) Write(ctx vfs.Context, src []byte, _ int64) (int, error) {
	return s.Send(ctx, src, Options{NonBlock: vfs.Nonblocking(ctx)})
}

// Release implements vfs.FileImpl: closing a socket shuts both
// directions of its connection, releases the descriptors in flight to it,
// its pending connections and its address.
//
// A stream or seqpacket socket closed with data it did not read, or a
// connection closed before it was accepted, resets its peer (ECONNRESET).
func (s *Socket) Release() {
	s.once.Do(func() {
		live.Delete(s.ino)
		s.mu.Lock()
		s.closed = true
		pending := s.pending
		s.pending = nil
		in, out := s.in, s.out
		s.changes.Notify()
		s.mu.Unlock()
		unregister(s)
		for _, p := range pending {
			p.Release()
		}
		if s.typ != unix.SOCK_DGRAM && in != nil && out != nil {
			in.mu.Lock() // out's lock too: a connection shares one
			if s.embryo.Load() || len(in.data) > 0 || len(in.msgs) > 0 {
				out.reset = true
			}
			in.mu.Unlock()
		}
		s.Shutdown(true, true)
		if in != nil {
			in.drain()
		}
	})
}

// TakeError returns and clears the socket's pending error (SO_ERROR):
// ECONNRESET after a reset, else nil.
func (s *Socket) TakeError() error {
	in, _, _ := s.conn()
	if in == nil || s.typ == unix.SOCK_DGRAM {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.takeResetLocked() {
		return unix.ECONNRESET
	}
	return nil
}

// Timeout returns SO_RCVTIMEO (rcv) or SO_SNDTIMEO.
func (s *Socket) Timeout(rcv bool) socktime.Timeout {
	p := s.sndTimeo.Load()
	if rcv {
		p = s.rcvTimeo.Load()
	}
	if p == nil {
		return socktime.Timeout{}
	}
	return *p
}

// SetTimeout sets SO_RCVTIMEO (rcv) or SO_SNDTIMEO.
func (s *Socket) SetTimeout(rcv bool, t socktime.Timeout) {
	if rcv {
		s.rcvTimeo.Store(&t)
	} else {
		s.sndTimeo.Store(&t)
	}
}

// flagBit is the bit of a boolean option in Socket.flags (0: not one).
func flagBit(name int) uint32 {
	switch name {
	case unix.SO_KEEPALIVE:
		return 1
	case unix.SO_REUSEADDR:
		return 2
	case unix.SO_OOBINLINE:
		return 4
	}
	return 0
}

// Flag returns a boolean option set by SetFlag.
func (s *Socket) Flag(name int) bool { return s.flags.Load()&flagBit(name) != 0 }

// SetFlag keeps a boolean option that AF_UNIX accepts and ignores.
func (s *Socket) SetFlag(name int, on bool) {
	if on {
		s.flags.Or(flagBit(name))
	} else {
		s.flags.And(^flagBit(name))
	}
}

// waitLocked waits for c's next change with mu released, until deadline
// (zero: none; EAGAIN when it passes).
//
// Preconditions: mu is held; it is held again on return.
func waitLocked(ctx vfs.Context, c *vfs.Changes, mu *sync.Mutex, deadline time.Time) error {
	if deadline.IsZero() {
		return c.WaitLocked(ctx, mu) // parked, if ctx can
	}
	ch := c.Chan()
	mu.Unlock()
	defer mu.Lock()
	return socktime.Wait(ctx, ch, deadline)
}

// Readiness implements vfs.Poller.
func (s *Socket) Readiness() uint32 {
	s.mu.Lock()
	in, out, st, pending, closed := s.in, s.out, s.state, len(s.pending), s.closed
	s.mu.Unlock()
	switch {
	case st == stListening:
		if pending > 0 {
			return vfs.PollIn | vfs.PollRdNorm
		}
		return 0
	case in == nil: // an unconnected stream or seqpacket socket
		if closed {
			return vfs.PollHup
		}
		return vfs.PollOut | vfs.PollWrNorm | vfs.PollHup
	}
	var r uint32
	in.mu.Lock()
	if len(in.data) > 0 || len(in.msgs) > 0 {
		r |= vfs.PollIn | vfs.PollRdNorm
	}
	if in.wrClosed || in.rdClosed {
		r |= vfs.PollIn | vfs.PollRdNorm | 0x2000 // EPOLLRDHUP
	}
	if in.reset && s.typ != unix.SOCK_DGRAM {
		r |= vfs.PollErr
	}
	rcvShut := in.wrClosed || in.rdClosed // Linux's RCV_SHUTDOWN
	if out != nil && out.shared != in.shared {
		in.mu.Unlock()
		out.mu.Lock()
		defer out.mu.Unlock()
	} else {
		defer in.mu.Unlock()
	}
	if out == nil { // an unconnected datagram socket
		r |= vfs.PollOut | vfs.PollWrNorm
		return r
	}
	if Capacity-out.size > 0 && (!out.rdClosed || s.typ != unix.SOCK_DGRAM) {
		// A stream or seqpacket write to a closed peer fails at once, so
		// it is writable (as Linux says).
		r |= vfs.PollOut | vfs.PollWrNorm
	}
	// Hung up once shut down both ways (Linux's SHUTDOWN_MASK): for
	// reading by this end or the peer's writer, for writing by this end
	// or the peer's reader.
	if s.typ != unix.SOCK_DGRAM && rcvShut && (out.wrClosed || out.rdClosed) {
		r |= vfs.PollHup
	}
	return r
}

// Changed implements vfs.Poller.
func (s *Socket) Changed() <-chan struct{} { return s.ChangedParked(nil) }

// ChangedParked implements vfs.ParkPoller (pk nil: Changed).
func (s *Socket) ChangedParked(pk *park.Parker) <-chan struct{} {
	s.mu.Lock()
	if s.in == nil || s.state == stListening {
		defer s.mu.Unlock()
		return s.changes.ChanParked(pk)
	}
	in := s.in
	s.mu.Unlock()
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.changes.ChanParked(pk)
}

// Bind gives the socket the address addr, which the caller has made
// findable (a filesystem socket inode registered with RegisterInode, or an
// abstract name: Bind registers those itself). EINVAL if already bound;
// EADDRINUSE for an abstract name in use.
func (s *Socket) Bind(addr string, key *InodeKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr != "" && key == nil && addr == "" {
		return nil // autobind of a bound socket
	}
	if s.addr != "" || s.closed {
		return unix.EINVAL
	}
	if key != nil {
		registry.mu.Lock()
		registry.inodes[*key] = s
		registry.mu.Unlock()
		s.inode, s.bound = *key, boundInode
	} else {
		if addr == "" {
			addr = autobindName()
			if addr == "" {
				return unix.ENOSPC
			}
		}
		registry.mu.Lock()
		if _, ok := registry.abstract[addr]; ok {
			registry.mu.Unlock()
			return unix.EADDRINUSE
		}
		registry.abstract[addr] = s
		registry.mu.Unlock()
		s.bound = boundAbstract
	}
	s.addr = addr
	return nil
}

// Listen makes a bound stream or seqpacket socket a listener.
func (s *Socket) Listen(backlog int, c Cred) error {
	if s.typ == unix.SOCK_DGRAM {
		return unix.EOPNOTSUPP
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr == "" || s.state == stConnected {
		return unix.EINVAL
	}
	if uint32(backlog) > SomaxConn {
		backlog = SomaxConn
	}
	if s.state != stListening {
		s.cred = c
	}
	s.state = stListening
	s.backlog = backlog
	s.changes.Notify()
	return nil
}

// Accept takes a pending connection of a listener.
func (s *Socket) Accept(ctx vfs.Context, nonblock bool) (*Socket, error) {
	deadline, mayWait := s.Timeout(true).Deadline()
	if s.typ == unix.SOCK_DGRAM {
		return nil, unix.EOPNOTSUPP
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.state != stListening {
			return nil, unix.EINVAL
		}
		if len(s.pending) > 0 {
			c := s.pending[0]
			s.pending[0] = nil
			s.pending = s.pending[1:]
			s.changes.Notify() // room in the backlog
			c.embryo.Store(false)
			return c, nil
		}
		if nonblock || !mayWait {
			return nil, unix.EAGAIN
		}
		if err := waitLocked(ctx, &s.changes, &s.mu, deadline); err != nil {
			return nil, err
		}
	}
}

// Connect connects s to the socket to: for stream and seqpacket sockets,
// to's backlog gets a new server-side socket that accept returns; for
// datagram sockets, to becomes the default peer (to nil disconnects). c
// is the connecting process's identity (SO_PEERCRED of the other end).
func (s *Socket) Connect(ctx vfs.Context, to *Socket, c Cred, nonblock bool) error {
	deadline, mayWait := s.Timeout(false).Deadline()
	if s.typ == unix.SOCK_DGRAM {
		s.mu.Lock()
		defer s.mu.Unlock()
		if to == nil {
			s.peer, s.out, s.state = nil, nil, stUnconnected
			return nil
		}
		if to.typ != s.typ {
			return unix.EPROTOTYPE
		}
		to.mu.Lock()
		tin, tclosed := to.in, to.closed
		to.mu.Unlock()
		if tclosed {
			return unix.ECONNREFUSED
		}
		s.peer, s.out, s.state = to, tin, stConnected
		s.changes.Notify()
		return nil
	}
	if to == nil {
		return unix.EINVAL
	}
	if to.typ != s.typ {
		return unix.EPROTOTYPE
	}
	for {
		s.mu.Lock()
		switch s.state {
		case stConnected:
			s.mu.Unlock()
			return unix.EISCONN
		case stListening:
			s.mu.Unlock()
			return unix.EINVAL
		}
		if s.closed {
			s.mu.Unlock()
			return unix.EBADF
		}
		to.mu.Lock()
		if to.state != stListening || to.closed {
			to.mu.Unlock()
			s.mu.Unlock()
			return unix.ECONNREFUSED
		}
		if len(to.pending) > to.backlog {
			ch := to.changes.Chan()
			to.mu.Unlock()
			s.mu.Unlock()
			if nonblock || !mayWait {
				return unix.EAGAIN
			}
			if err := socktime.Wait(ctx, ch, deadline); err != nil {
				return err
			}
			continue
		}
		sh := &shared{}
		a, b := newQueue(sh), newQueue(sh)
		srv := track(&Socket{typ: s.typ, ino: vfs.NewSocketIno(), state: stConnected, in: b, out: a,
			addr: to.addr, peer: s, cred: to.cred, peerCred: c, hasPeer: true})
		srv.embryo.Store(true)
		s.in, s.out, s.peer, s.state = a, b, srv, stConnected
		s.cred, s.peerCred, s.hasPeer = c, to.cred, true
		to.pending = append(to.pending, srv)
		to.changes.Notify()
		to.mu.Unlock()
		s.changes.Notify()
		s.mu.Unlock()
		return nil
	}
}

// InodeKey names a socket inode of the sandbox filesystem: its device and
// inode number, which stay the same across renames.
type InodeKey struct{ Dev, Ino uint64 }

// registry finds bound sockets by inode and by abstract name.
var registry = struct {
	mu       sync.Mutex
	inodes   map[InodeKey]*Socket
	abstract map[string]*Socket
	autoNext uint32
}{inodes: map[InodeKey]*Socket{}, abstract: map[string]*Socket{}}

// LookupInode returns the socket bound to the inode key (nil if none).
func LookupInode(key InodeKey) *Socket {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	return registry.inodes[key]
}

// LookupAbstract returns the socket bound to the abstract name (with its
// leading NUL), nil if none.
func LookupAbstract(name string) *Socket {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	return registry.abstract[name]
}

// autobindName picks a free abstract name of five hex digits, as Linux's
// autobind does ("" if all are taken).
func autobindName() string {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	for range 1 << 20 {
		registry.autoNext = (registry.autoNext + 1) & 0xfffff
		name := fmt.Sprintf("\x00%05x", registry.autoNext)
		if _, ok := registry.abstract[name]; !ok {
			return name
		}
	}
	return ""
}

// unregister forgets s's address.
func unregister(s *Socket) {
	s.mu.Lock()
	bound, key, addr := s.bound, s.inode, s.addr
	s.mu.Unlock()
	registry.mu.Lock()
	defer registry.mu.Unlock()
	switch bound {
	case boundInode:
		if registry.inodes[key] == s {
			delete(registry.inodes, key)
		}
	case boundAbstract:
		if registry.abstract[addr] == s {
			delete(registry.abstract, addr)
		}
	}
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
