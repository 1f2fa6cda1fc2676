// Package tty implements pseudo-terminals served by the sentry: a devpts
// filesystem whose ptmx opens a new master and whose numbered entries are
// the slaves, and between each master and slave a line discipline like
// Linux's N_TTY (termios, canonical editing, echo, signal characters, job
// control checks, window sizes, hangup).
//
// The package does not know the kernel: a terminal reaches it through
// the Kernel interface (signals to process groups, sessions), and a
// caller's process through its vfs.Context (the Caller interface, which
// the kernel's tasks implement).
//
// Not implemented: parity and break marks (a pty has neither; PARMRK only
// doubles \377), modem-control ioctls, and TIOCSCTTY's refusal of files opened without
// read access.
//
// Lock order: Kernel.mu (kernel package) is taken before Terminal.mu, and
// Terminal.mu before FS.mu. A terminal never calls the kernel with its
// own lock held: signals are collected and sent after unlocking.
package tty

import (
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"moat/park"
	"moat/vfs"
)

// Kernel is what terminals need from the kernel.
type Kernel interface {
	// SignalGroupFromTerminal sends sig to every process of group pgid.
	SignalGroupFromTerminal(pgid int32, sig unix.Signal)
	// SignalProcessFromTerminal sends sig to process pid.
	SignalProcessFromTerminal(pid int32, sig unix.Signal)
	// DetachTerminal makes every process with term as controlling
	// terminal lose it, and returns the session leaders among them.
	DetachTerminal(term any) []int32
	// SessionOfGroup returns the session of process group pgid (ESRCH).
	SessionOfGroup(pgid int32) (int32, error)
}

// kernelTerminal is the kernel's view of a controlling terminal
// (kernel.Terminal).
type kernelTerminal = interface {
	SessionEnded(sid int32, hangup bool)
}

// Caller is what a terminal asks of the calling process (a kernel task,
// through the vfs.Context of the call).
type Caller interface {
	JobIDs() (pid, pgid, sid int32, leader bool)
	ControllingTerminal() any
	SetControllingTerminal(term kernelTerminal, claim func(sid, pgid int32) (int32, error)) error
	GiveUpTerminal(term kernelTerminal) error
	SignalIgnoredOrBlocked(sig unix.Signal) bool
	GroupOrphaned() bool
	SignalOwnGroup(sig unix.Signal)
}

// timeoutBlocker is implemented by callers that can wait with a deadline
// (for VTIME).
type timeoutBlocker interface {
	BlockTimeout(ready <-chan struct{}, deadline time.Time) error
}

// errRestartSys is the kernel's ERESTARTSYS: the call is restarted after
// the signal the terminal sent (SIGTTIN, SIGTTOU) is handled.
const errRestartSys = unix.Errno(512)

// Terminal is one pseudo-terminal pair: the state shared by its master
// and slave.
type Terminal struct {
	k     Kernel
	fs    *FS
	index int

	mu      sync.Mutex
	changes vfs.Changes // any change: data, room, settings, hangup
	termios Termios
	winsize [8]byte // struct winsize

	pending   []byte // input from the master not yet processed
	rq        []byte // processed input the slave can read
	lines     []int  // canonical mode: lengths of the complete lines at the head of rq
	line      []byte // canonical mode: the line being edited
	lnext     bool   // the next character is literal (VLNEXT)
	erasing   bool   // ECHOPRT: inside a \.../ erasure
	out       []byte // output for the master to read
	echoStart int    // len(out) when the current input batch began
	col       int    // output column
	canonCol  int    // column where the line being edited began
	stopped   bool   // output stopped (^S, TCOOFF)
	held      []byte // echoes while output is stopped
	pkt       bool   // packet mode (TIOCPKT): master reads carry a status byte
	pktStatus byte   // packet mode: TIOCPKT_* events not yet read

	locked       bool // slave opens fail with EIO (TIOCSPTLCK)
	slaveOpens   int  // open slave files
	slaveOpened  bool // the slave has been opened since the last time it was all closed
	masterClosed bool // the master is gone: the slave is hung up

	sid, pgrp int32 // the session whose controlling terminal this is, and its foreground group (0: none)

	uid, gid uint32 // owner of the slave's device file
	ctime    vfs.Timespec
}

func newTerminal(k Kernel, fs *FS, index int, uid, gid uint32) *Terminal {
	now := time.Now()
	t := &Terminal{k: k, fs: fs, index: index, termios: defaultTermios(), locked: true, uid: uid, gid: gid,
		ctime: vfs.Timespec{Sec: now.Unix(), Nsec: int64(now.Nanosecond())}}
	return t
}

// DeviceAndForeground returns the slave's device number and the
// foreground process group (0: none), for /proc/PID/stat.
func (t *Terminal) DeviceAndForeground() (uint64, int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return unix.Mkdev(uint32(ptsMajor+t.index/256), uint32(t.index%256)), t.pgrp
}

// Index returns the terminal's number (N of /dev/pts/N).
func (t *Terminal) Index() int { return t.index }

// Unlock unlocks the slave, as TIOCSPTLCK with 0 does.
func (t *Terminal) Unlock() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.locked = false
}

// SetSession makes the terminal the controlling terminal of session sid
// with foreground group pgrp (for the sandbox's first process, whose
// controlling terminal the kernel sets from ProcessArgs).
func (t *Terminal) SetSession(sid, pgrp int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sid, t.pgrp = sid, pgrp
}

// SessionEnded implements kernel.Terminal: the session leader exited
// (hangup) or gave the terminal up (TIOCNOTTY). Its foreground group gets
// SIGHUP, and SIGCONT too when the leader is alive (disassociate_ctty).
func (t *Terminal) SessionEnded(sid int32, hangup bool) {
	t.mu.Lock()
	if t.sid != sid {
		t.mu.Unlock()
		return
	}
	pg := t.pgrp
	t.sid, t.pgrp = 0, 0
	t.mu.Unlock()
	if pg != 0 {
		t.k.SignalGroupFromTerminal(pg, unix.SIGHUP)
		if !hangup {
			t.k.SignalGroupFromTerminal(pg, unix.SIGCONT)
		}
	}
}

// SetWindowSize sets the window size (rows, columns) as TIOCSWINSZ does,
// for moat's host side.
func (t *Terminal) SetWindowSize(rows, cols, xpixel, ypixel uint16) {
	var b [8]byte
	le.PutUint16(b[0:], rows)
	le.PutUint16(b[2:], cols)
	le.PutUint16(b[4:], xpixel)
	le.PutUint16(b[6:], ypixel)
	t.setWinsize(b)
}

func (t *Terminal) setWinsize(b [8]byte) {
	t.mu.Lock()
	if t.winsize == b {
		t.mu.Unlock()
		return
	}
	t.winsize = b
	pg := t.pgrp
	t.mu.Unlock()
	if pg != 0 {
		t.k.SignalGroupFromTerminal(pg, unix.SIGWINCH)
	}
}

// signal sends sigs, generated by input, to the foreground group.
func (t *Terminal) signal(pg int32, sigs []unix.Signal) {
	if pg == 0 {
		return
	}
	for _, s := range sigs {
		t.k.SignalGroupFromTerminal(pg, s)
	}
}

// isCtty reports whether the terminal is c's controlling terminal.
func (t *Terminal) isCtty(c Caller) bool {
	ct, ok := c.ControllingTerminal().(*Terminal)
	return ok && ct == t
}

// checkChange is Linux's tty_check_change: a process of a background
// group of the terminal's session that reads (SIGTTIN) or changes it
// (SIGTTOU) gets the signal and the call restarts after it; EIO if the
// signal is ignored or blocked (nil for SIGTTOU: the change is allowed)
// or the group is orphaned.
func (t *Terminal) checkChange(ctx vfs.Context, sig unix.Signal) error {
	c, ok := ctx.(Caller)
	if !ok || !t.isCtty(c) {
		return nil
	}
	_, pgid, _, _ := c.JobIDs()
	t.mu.Lock()
	fg := t.pgrp
	t.mu.Unlock()
	if fg == 0 || fg == pgid {
		return nil
	}
	switch {
	case c.SignalIgnoredOrBlocked(sig):
		if sig == unix.SIGTTIN {
			return unix.EIO
		}
		return nil
	case c.GroupOrphaned():
		return unix.EIO
	}
	c.SignalOwnGroup(sig)
	return errRestartSys
}

// hangup is the master's last close: the slave is hung up, its device
// file goes, and the sessions that had it as controlling terminal lose
// it, their leaders told with SIGHUP and SIGCONT.
func (t *Terminal) hangup() {
	t.mu.Lock()
	t.masterClosed = true
	t.pending, t.out = nil, nil
	t.sid, t.pgrp = 0, 0
	t.changes.Notify()
	if t.fs != nil {
		t.fs.remove(t.index, t.slaveOpens == 0)
	}
	t.mu.Unlock()
	for _, pid := range t.k.DetachTerminal(t) {
		t.k.SignalProcessFromTerminal(pid, unix.SIGHUP)
		t.k.SignalProcessFromTerminal(pid, unix.SIGCONT)
	}
}

// openSlave opens the slave: EIO while it is locked or after hangup. A
// session leader without a controlling terminal that opens it for
// reading without O_NOCTTY makes it its controlling terminal, if it is no
// other session's.
func (t *Terminal) openSlave(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	t.mu.Lock()
	if t.locked || t.masterClosed {
		t.mu.Unlock()
		return nil, unix.EIO
	}
	t.slaveOpens++
	t.slaveOpened = true
	t.changes.Notify()
	t.mu.Unlock()
	if c, ok := ctx.(Caller); ok && flags&unix.O_NOCTTY == 0 && flags&unix.O_ACCMODE != unix.O_WRONLY {
		if _, _, _, leader := c.JobIDs(); leader && c.ControllingTerminal() == nil {
			c.SetControllingTerminal(t, func(sid, pgid int32) (int32, error) {
				t.mu.Lock()
				defer t.mu.Unlock()
				if t.sid != 0 {
					return 0, unix.EPERM
				}
				t.sid, t.pgrp = sid, pgid
				return 0, nil
			})
		}
	}
	return &Slave{t: t}, nil
}

// Master is an open master (/dev/ptmx).
type Master struct {
	t *Terminal
}

// Terminal returns the master's terminal.
func (m *Master) Terminal() *Terminal { return m.t }

// IsStream implements vfs.Stream.
func (m *Master) IsStream() bool { return true }

// Read implements vfs.FileImpl: the slave's output. With the slave closed
// (after it was opened) and nothing left, EIO.
func (m *Master) Read(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	t := m.t
	if len(dst) == 0 {
		return 0, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	otherClosed := func() bool { return t.slaveOpened && t.slaveOpens == 0 }
	status := func() bool { return t.pkt && t.pktStatus != 0 }
	if err := t.changes.WaitUntilLocked(ctx, &t.mu, func() bool { return len(t.out) > 0 || otherClosed() || status() }); err != nil {
		return 0, err
	}
	if status() {
		dst[0] = t.pktStatus
		t.pktStatus = 0
		return 1, nil
	}
	if len(t.out) == 0 {
		return 0, unix.EIO
	}
	off := 0
	if t.pkt {
		dst[0] = pktData
		off = 1
	}
	n := copy(dst[off:], t.out)
	t.out = t.out[n:]
	if len(t.out) == 0 {
		t.out = nil
	}
	t.changes.Notify()
	return off + n, nil
}

// Write implements vfs.FileImpl: input for the slave, through the line
// discipline. It blocks while the unprocessed input is at its bound.
func (m *Master) Write(ctx vfs.Context, src []byte, _ int64) (int, error) {
	t := m.t
	done := 0
	for done < len(src) {
		t.mu.Lock()
		err := t.changes.WaitUntilLocked(ctx, &t.mu, func() bool { return len(t.pending) < pendingMax })
		if err != nil {
			t.mu.Unlock()
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		n := min(pendingMax-len(t.pending), len(src)-done)
		t.pending = append(t.pending, src[done:done+n]...)
		done += n
		sigs := t.receive()
		pg := t.pgrp
		t.mu.Unlock()
		t.signal(pg, sigs)
	}
	return done, nil
}

// Release implements vfs.FileImpl: the last close of the master hangs up
// the slave.
func (m *Master) Release() { m.t.hangup() }

// Readiness implements vfs.Poller.
func (m *Master) Readiness() uint32 {
	t := m.t
	t.mu.Lock()
	defer t.mu.Unlock()
	var r uint32
	if len(t.out) > 0 {
		r |= vfs.PollIn | vfs.PollRdNorm
	}
	if t.pkt && t.pktStatus != 0 {
		r |= vfs.PollIn | vfs.PollRdNorm | vfs.PollPri
	}
	if len(t.pending) < pendingMax {
		r |= vfs.PollOut | vfs.PollWrNorm
	}
	if t.slaveOpened && t.slaveOpens == 0 {
		r |= vfs.PollHup
	}
	return r
}

// Changed implements vfs.Poller.
func (m *Master) Changed() <-chan struct{} { return m.ChangedParked(nil) }

// ChangedParked implements vfs.ParkPoller (pk nil: Changed).
func (m *Master) ChangedParked(pk *park.Parker) <-chan struct{} {
	m.t.mu.Lock()
	defer m.t.mu.Unlock()
	return m.t.changes.ChanParked(pk)
}

// OpenPeer opens the slave through the master (TIOCGPTPEER), without
// making it anyone's controlling terminal unless flags ask for it: EIO
// while it is locked.
func (m *Master) OpenPeer(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	f, err := m.t.openSlave(ctx, flags)
	if err != nil {
		return nil, err
	}
	return &peerSlave{Slave: *f.(*Slave)}, nil
}

// Slave is an open slave (/dev/pts/N).
type Slave struct {
	t *Terminal
}

// OpenPeer is TIOCGPTPEER on a slave: EIO, as for any terminal that is
// not a master.
func (s *Slave) OpenPeer(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	return nil, unix.EIO
}

// peerSlave is a slave opened through the master (TIOCGPTPEER): it has
// no path of its own, so it reports its device file itself.
type peerSlave struct {
	Slave
}

// Stat reports the slave's device file.
func (s *peerSlave) Stat(ctx vfs.Context) (vfs.Stat, error) {
	return (&slaveInode{fs: s.t.fs, t: s.t}).Stat(ctx)
}

// Name is what /proc/PID/fd shows.
func (s *peerSlave) Name() string { return "/dev/pts/" + strconv.Itoa(s.t.index) }

// IsStream implements vfs.Stream.
func (s *Slave) IsStream() bool { return true }

// Read implements vfs.FileImpl: a line in canonical mode, else by VMIN
// and VTIME. A background process gets SIGTTIN; after hangup, 0.
func (s *Slave) Read(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	t := s.t
	if err := t.checkChange(ctx, unix.SIGTTIN); err != nil {
		return 0, err
	}
	// Reading makes room for pending input, which may hold signal
	// characters: they are sent once t.mu is released.
	var sigs []unix.Signal
	var pg int32
	defer func() { t.signal(pg, sigs) }()
	t.mu.Lock()
	defer t.mu.Unlock()
	afterRead := func() {
		if len(t.rq) == 0 {
			t.rq = nil
		}
		sigs = append(sigs, t.receive()...)
		pg = t.pgrp
		t.changes.Notify()
	}
	if t.masterClosed {
		return 0, nil
	}
	if len(dst) == 0 {
		return 0, nil
	}
	if t.termios.icanon() {
		if err := t.changes.WaitUntilLocked(ctx, &t.mu, func() bool { return t.masterClosed || t.readable(1) }); err != nil {
			return 0, err
		}
		if t.masterClosed {
			return 0, nil
		}
		n := t.take(dst)
		afterRead()
		return n, nil
	}
	vmin, vtime := int(t.termios.CC[vMIN]), int(t.termios.CC[vTIME])
	want := min(vmin, len(dst))
	var deadline time.Time
	if vtime > 0 && vmin == 0 {
		deadline = time.Now().Add(time.Duration(vtime) * 100 * time.Millisecond)
	}
	done := 0
	for {
		if t.masterClosed {
			return done, nil
		}
		if n := t.take(dst[done:]); n > 0 {
			done += n
			afterRead()
			if vtime > 0 && vmin > 0 { // an inter-byte timer
				deadline = time.Now().Add(time.Duration(vtime) * 100 * time.Millisecond)
			}
		}
		if done >= want && (done > 0 || vmin == 0 && vtime == 0) || done == len(dst) {
			return done, nil
		}
		if vfs.Nonblocking(ctx) {
			if done > 0 {
				return done, nil
			}
			return 0, unix.EAGAIN
		}
		ch := t.changes.Chan()
		t.mu.Unlock()
		var err error
		if tb, ok := ctx.(timeoutBlocker); ok && !deadline.IsZero() {
			err = tb.BlockTimeout(ch, deadline)
		} else {
			err = vfs.Wait(ctx, ch)
		}
		t.mu.Lock()
		if err == unix.ETIMEDOUT {
			return done, nil
		}
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
	}
}

// Write implements vfs.FileImpl: output through OPOST processing to the
// master. It blocks while the output is at its bound or stopped; with
// TOSTOP a background process gets SIGTTOU; after hangup, EIO.
func (s *Slave) Write(ctx vfs.Context, src []byte, _ int64) (int, error) {
	t := s.t
	t.mu.Lock()
	tostop := t.termios.Lflag&lTOSTOP != 0
	t.mu.Unlock()
	if tostop {
		if err := t.checkChange(ctx, unix.SIGTTOU); err != nil {
			return 0, err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	done := 0
	for done < len(src) {
		if t.masterClosed {
			if done > 0 {
				return done, nil
			}
			return 0, unix.EIO
		}
		if t.stopped || len(t.out)+8 > outMax {
			if vfs.Nonblocking(ctx) {
				if done > 0 {
					return done, nil
				}
				return 0, unix.EAGAIN
			}
			if err := t.changes.WaitLocked(ctx, &t.mu); err != nil {
				if done > 0 {
					return done, nil
				}
				return 0, err
			}
			continue
		}
		c := src[done]
		if t.termios.Oflag&oOPOST != 0 {
			t.outputChar(c)
		} else {
			t.put(c)
		}
		done++
	}
	return done, nil
}

// Release implements vfs.FileImpl.
func (s *Slave) Release() {
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	t.slaveOpens--
	t.changes.Notify()
	if t.masterClosed && t.slaveOpens == 0 && t.fs != nil {
		t.fs.remove(t.index, true)
	}
}

// Readiness implements vfs.Poller.
func (s *Slave) Readiness() uint32 {
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.masterClosed {
		return vfs.PollIn | vfs.PollOut | vfs.PollErr | vfs.PollHup | vfs.PollRdNorm | vfs.PollWrNorm
	}
	var r uint32
	amt := 1
	if !t.termios.icanon() && t.termios.CC[vTIME] == 0 && t.termios.CC[vMIN] > 0 {
		amt = int(t.termios.CC[vMIN])
	}
	if t.readable(amt) {
		r |= vfs.PollIn | vfs.PollRdNorm
	}
	if !t.stopped && len(t.out)+8 <= outMax {
		r |= vfs.PollOut | vfs.PollWrNorm
	}
	return r
}

// Changed implements vfs.Poller.
func (s *Slave) Changed() <-chan struct{} { return s.ChangedParked(nil) }

// ChangedParked implements vfs.ParkPoller (pk nil: Changed).
func (s *Slave) ChangedParked(pk *park.Parker) <-chan struct{} {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	return s.t.changes.ChanParked(pk)
}
