package inet

import (
	"sync"

	"golang.org/x/sys/unix"

	"moat/fs/socktime"
	"moat/park"
	"moat/vfs"
)

// Network makes the sandbox's internet sockets: on its own stack (Stack,
// --net none) or on host sockets (Host, --net host).
type Network interface {
	// NewSocket makes a socket(2) of the family (AF_INET or AF_INET6),
	// the type (SOCK_STREAM, SOCK_DGRAM, ...) and the protocol (0 for the
	// type's default), with the errnos Linux gives.
	NewSocket(family, typ, proto int) (Socket, error)
	// Interfaces returns the network's interfaces, by index.
	Interfaces() []Interface
	// Routes returns its routes.
	Routes() []Route
	// Sysctls returns its settings.
	Sysctls() *Sysctls
}

// Socket is an AF_INET or AF_INET6 socket, as the socket system calls use
// it. Addresses are struct sockaddr bytes as the app gave them or gets
// them back.
type Socket interface {
	vfs.FileImpl
	vfs.Poller
	vfs.Stream
	vfs.Ioctler
	Family() int
	Type() int
	Bind(ctx vfs.Context, addr []byte) error
	Connect(ctx vfs.Context, addr []byte, nonblock bool) error
	Listen(backlog int) error
	Accept(ctx vfs.Context, nonblock bool) (Socket, []byte, error)
	Shutdown(how int) error
	Addr() []byte
	PeerAddr() ([]byte, error)
	Send(ctx vfs.Context, src, to []byte, o Options) (int, error)
	Recv(ctx vfs.Context, dst []byte, o Options) (Message, error)
	GetSockOpt(level, name int) ([]byte, error)
	SetSockOpt(level, name int, v []byte) error
}

// Options are the per-call flags of send and receive.
type Options struct {
	NonBlock bool // O_NONBLOCK or MSG_DONTWAIT
	Peek     bool // MSG_PEEK
	WaitAll  bool // MSG_WAITALL
	More     bool // MSG_MORE
}

// Message is what one receive got.
type Message struct {
	N    int    // bytes copied
	Full int    // the datagram's whole length (MSG_TRUNC)
	From []byte // the sender's address (datagram sockets)
}

// MaxBuffer bounds SO_SNDBUF and SO_RCVBUF (Linux's default
// net.core.wmem_max and rmem_max are about this size, doubled).
const MaxBuffer = 4 << 20

// base is what both kinds of socket keep in the sentry: identity, the
// readiness-change channel, and the options Linux keeps in the socket
// layer rather than the protocol.
type base struct {
	family, typ, proto int
	ino                uint64

	notifyMu sync.Mutex // a leaf: taken from the stack's and the poller's callbacks
	changes  vfs.Changes

	mu       sync.Mutex
	rcvTimeo socktime.Timeout
	sndTimeo socktime.Timeout
	errTaken bool // SO_ERROR has reported the connection's fatal error
}

func newBase(family, typ, proto int) base {
	return base{family: family, typ: typ, proto: proto, ino: vfs.NewSocketIno()}
}

// Family returns AF_INET or AF_INET6.
func (b *base) Family() int { return b.family }

func (b *base) sockBase() *base { return b }

// Type returns SOCK_STREAM or SOCK_DGRAM.
func (b *base) Type() int { return b.typ }

// IsStream implements vfs.Stream: sockets have no file position.
func (b *base) IsStream() bool { return true }

// Name is the socket's name in /proc/PID/fd.
func (b *base) Name() string { return "socket:[" + uitoa(b.ino) + "]" }

// Stat implements fstat(2) on the socket.
func (b *base) Stat(ctx vfs.Context) (vfs.Stat, error) {
	return vfs.Stat{Dev: 0xb, Ino: b.ino, Mode: unix.S_IFSOCK | 0o777, Nlink: 1, UID: ctx.UID(), GID: ctx.GID(), Blksize: 4096}, nil
}

// Changed implements vfs.Poller.
func (b *base) Changed() <-chan struct{} { return b.ChangedParked(nil) }

// ChangedParked implements vfs.ParkPoller (pk nil: Changed).
func (b *base) ChangedParked(pk *park.Parker) <-chan struct{} {
	b.notifyMu.Lock()
	defer b.notifyMu.Unlock()
	return b.changes.ChanParked(pk)
}

// notify wakes everyone waiting for the socket's readiness to change.
func (b *base) notify() {
	b.notifyMu.Lock()
	b.changes.Notify()
	b.notifyMu.Unlock()
}

func (b *base) timeouts() (rcv, snd socktime.Timeout) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rcvTimeo, b.sndTimeo
}

// block runs try until it stops failing with EAGAIN, waiting for the
// socket's readiness to change in between: at once EAGAIN when nonblock,
// EAGAIN when the timeout t passes (EINPROGRESS for connect is the
// caller's), EINTR for a signal when a timeout is set.
func (b *base) block(ctx vfs.Context, nonblock bool, t socktime.Timeout, try func() error) error {
	deadline, mayWait := t.Deadline()
	for {
		ch := b.Changed()
		err := try()
		if err != unix.EAGAIN || nonblock || !mayWait {
			return err
		}
		if err := socktime.Wait(ctx, ch, deadline); err != nil {
			return err
		}
	}
}

// getTimeout returns SO_RCVTIMEO or SO_SNDTIMEO as a struct timeval.
func (b *base) getTimeout(name int) []byte {
	rcv, snd := b.timeouts()
	if name == unix.SO_SNDTIMEO {
		return snd.Bytes()
	}
	return rcv.Bytes()
}

// setTimeout sets SO_RCVTIMEO or SO_SNDTIMEO from a struct timeval.
func (b *base) setTimeout(name int, v []byte) error {
	t, err := socktime.Parse(v)
	if err != nil {
		return err
	}
	b.mu.Lock()
	if name == unix.SO_RCVTIMEO {
		b.rcvTimeo = t
	} else {
		b.sndTimeo = t
	}
	b.mu.Unlock()
	return nil
}

func uitoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
