package tty

import (
	"golang.org/x/sys/unix"

	"moat/vfs"
)

// Terminal ioctl requests (asm-generic/ioctls.h).
const (
	tcgets      = 0x5401
	tcsets      = 0x5402
	tcsetsw     = 0x5403
	tcsetsf     = 0x5404
	tcsbrk      = 0x5409
	tcxonc      = 0x540a
	tcflsh      = 0x540b
	tiocexcl    = 0x540c
	tiocnxcl    = 0x540d
	tiocsctty   = 0x540e
	tiocgpgrp   = 0x540f
	tiocspgrp   = 0x5410
	tiocoutq    = 0x5411
	tiocsti     = 0x5412
	tiocgwinsz  = 0x5413
	tiocswinsz  = 0x5414
	fionread    = 0x541b
	tiocnotty   = 0x5422
	tiocsetd    = 0x5423
	tiocgetd    = 0x5424
	tcsbrkp     = 0x5425
	tiocsbrk    = 0x5427
	tioccbrk    = 0x5428
	tiocgsid    = 0x5429
	tcgets2     = 0x802c542a
	tcsets2     = 0x402c542b
	tcsetsw2    = 0x402c542c
	tcsetsf2    = 0x402c542d
	tiocgptn    = 0x80045430
	tiocsptlck  = 0x40045431
	tiocgptlck  = 0x80045439
	tiocgexcl   = 0x80045440
	tiocpkt     = 0x5420
	tiocgpkt    = 0x80045438
	tcxoncOoff  = 0
	tcxoncIon   = 3
	tcflshIn    = 0
	tcflshOut   = 1
	tcflshInOut = 2
)

// Ioctl implements vfs.Ioctler for the master: settings, sizes and the
// foreground group are the slave's; TIOCGPTN, TIOCSPTLCK and TIOCGPTLCK
// are the master's own.
func (m *Master) Ioctl(ctx vfs.Context, req uint32, arg uintptr, mem vfs.IOMemory) (uintptr, error) {
	t := m.t
	switch req {
	case tiocpkt:
		v, err := getInt(mem, arg)
		if err != nil {
			return 0, err
		}
		t.mu.Lock()
		if v != 0 && !t.pkt {
			t.pktStatus = 0
		}
		t.pkt = v != 0
		t.mu.Unlock()
		return 0, nil
	case tiocgpkt:
		t.mu.Lock()
		v := int32(0)
		if t.pkt {
			v = 1
		}
		t.mu.Unlock()
		return 0, putInt(mem, arg, v)
	case tiocgptn:
		return 0, putInt(mem, arg, int32(t.index))
	case tiocsptlck:
		v, err := getInt(mem, arg)
		if err != nil {
			return 0, err
		}
		t.mu.Lock()
		t.locked = v != 0
		t.mu.Unlock()
		return 0, nil
	case tiocgptlck:
		t.mu.Lock()
		v := int32(0)
		if t.locked {
			v = 1
		}
		t.mu.Unlock()
		return 0, putInt(mem, arg, v)
	case fionread:
		t.mu.Lock()
		n := len(t.out)
		t.mu.Unlock()
		return 0, putInt(mem, arg, int32(n))
	case tcflsh:
		if err := t.checkChange(ctx, unix.SIGTTOU); err != nil {
			return 0, err
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		switch arg {
		case tcflshIn, tcflshInOut:
			t.out = nil
			if arg == tcflshInOut {
				t.pending = nil
			}
		case tcflshOut:
			t.pending = nil
		default:
			return 0, unix.EINVAL
		}
		t.changes.Notify()
		return 0, nil
	case tiocsti:
		// Input for the master's own reader: what the slave wrote.
		if err := t.checkSTI(ctx); err != nil {
			return 0, err
		}
		b, err := getByte(mem, arg)
		if err != nil {
			return 0, err
		}
		t.mu.Lock()
		if len(t.out) < outMax {
			t.out = append(t.out, b)
			t.changes.Notify()
		}
		t.mu.Unlock()
		return 0, nil
	case tiocsctty:
		// The slave becomes the caller's terminal, as on Linux (the
		// request goes to the pair's slave).
		return 0, t.setCtty(ctx, arg == 1)
	case tiocnotty:
		// Linux compares the caller's terminal with the master's own
		// and never finds it.
		return 0, unix.ENOTTY
	}
	return t.ioctl(ctx, req, arg, mem, true)
}

// Ioctl implements vfs.Ioctler for the slave.
func (s *Slave) Ioctl(ctx vfs.Context, req uint32, arg uintptr, mem vfs.IOMemory) (uintptr, error) {
	t := s.t
	t.mu.Lock()
	hung := t.masterClosed
	t.mu.Unlock()
	if hung {
		if req == tiocspgrp {
			return 0, unix.ENOTTY
		}
		return 0, unix.EIO
	}
	switch req {
	case fionread:
		t.mu.Lock()
		n := len(t.rq)
		t.mu.Unlock()
		return 0, putInt(mem, arg, int32(n))
	case tcflsh:
		if err := t.checkChange(ctx, unix.SIGTTOU); err != nil {
			return 0, err
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		switch arg {
		case tcflshIn, tcflshInOut:
			t.flushInput(true)
			if arg == tcflshInOut {
				t.out = nil
				t.packetEvent(pktFlushWrite, 0)
			}
		case tcflshOut:
			t.out = nil
			t.packetEvent(pktFlushWrite, 0)
		default:
			return 0, unix.EINVAL
		}
		t.changes.Notify()
		return 0, nil
	case tiocsti:
		if err := t.checkSTI(ctx); err != nil {
			return 0, err
		}
		b, err := getByte(mem, arg)
		if err != nil {
			return 0, err
		}
		t.mu.Lock()
		sigs := t.receiveNow(b)
		pg := t.pgrp
		t.mu.Unlock()
		t.signal(pg, sigs)
		return 0, nil
	case tiocsctty:
		return 0, t.setCtty(ctx, arg == 1)
	case tiocnotty:
		c, ok := ctx.(Caller)
		if !ok {
			return 0, unix.ENOTTY
		}
		return 0, c.GiveUpTerminal(t)
	}
	return t.ioctl(ctx, req, arg, mem, false)
}

// setCtty is TIOCSCTTY: the caller, a session leader without a
// controlling terminal, takes this one, if no other session has it (or
// steal, by root). Linux also refuses a file opened without read access
// to callers other than root; that is not checked here.
func (t *Terminal) setCtty(ctx vfs.Context, steal bool) error {
	c, ok := ctx.(Caller)
	if !ok {
		return unix.EPERM
	}
	root := ctx.UID() == 0
	return c.SetControllingTerminal(t, func(sid, pgid int32) (int32, error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		old := int32(0)
		if t.sid != 0 && t.sid != sid {
			if !steal || !root {
				return 0, unix.EPERM
			}
			old = t.sid
		}
		t.sid, t.pgrp = sid, pgid
		return old, nil
	})
}

// ioctl implements the requests the master and the slave share. master
// says which side asks: the foreground group and session are readable
// from the master by anyone, from the slave only by processes whose
// controlling terminal it is.
func (t *Terminal) ioctl(ctx vfs.Context, req uint32, arg uintptr, mem vfs.IOMemory, master bool) (uintptr, error) {
	switch req {
	case tcgets, tcgets2:
		n := termiosSize
		if req == tcgets2 {
			n = termios2Size
		}
		t.mu.Lock()
		b := t.termios.encode(n)
		t.mu.Unlock()
		return 0, copyOut(mem, arg, b)
	case tcsets, tcsetsw, tcsetsf, tcsets2, tcsetsw2, tcsetsf2:
		if err := t.checkChange(ctx, unix.SIGTTOU); err != nil {
			return 0, err
		}
		n := termiosSize
		if req == tcsets2 || req == tcsetsw2 || req == tcsetsf2 {
			n = termios2Size
		}
		b := make([]byte, n)
		if _, err := mem.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		nt := decodeTermios(b)
		t.mu.Lock()
		if n == termiosSize {
			nt.ISpeed, nt.OSpeed = t.termios.ISpeed, t.termios.OSpeed
		}
		if req == tcsetsf || req == tcsetsf2 {
			t.flushInput(true)
		}
		t.setTermios(nt)
		sigs := t.receive() // raw mode may make room, or let signals through
		pg := t.pgrp
		t.mu.Unlock()
		t.signal(pg, sigs)
		return 0, nil
	case tiocgwinsz:
		t.mu.Lock()
		b := t.winsize
		t.mu.Unlock()
		return 0, copyOut(mem, arg, b[:])
	case tiocswinsz:
		var b [8]byte
		if _, err := mem.CopyIn(arg, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		t.setWinsize(b)
		return 0, nil
	case tiocgpgrp, tiocgsid:
		c, _ := ctx.(Caller)
		if !master && (c == nil || !t.isCtty(c)) {
			return 0, unix.ENOTTY
		}
		t.mu.Lock()
		pg, sid := t.pgrp, t.sid
		t.mu.Unlock()
		if req == tiocgsid {
			if sid == 0 {
				return 0, unix.ENOTTY
			}
			return 0, putInt(mem, arg, sid)
		}
		return 0, putInt(mem, arg, pg)
	case tiocspgrp:
		return 0, t.setPgrp(ctx, arg, mem)
	case tiocoutq:
		return 0, putInt(mem, arg, 0) // output goes to the master at once
	case tcxonc:
		if err := t.checkChange(ctx, unix.SIGTTOU); err != nil {
			return 0, err
		}
		if arg > tcxoncIon {
			return 0, unix.EINVAL
		}
		if arg <= tcxoncOoff+1 { // TCOOFF, TCOON
			t.mu.Lock()
			if arg == tcxoncOoff {
				t.stop()
			} else {
				t.start()
			}
			t.changes.Notify()
			t.mu.Unlock()
		}
		return 0, nil
	case tcsbrk, tcsbrkp, tiocsbrk, tioccbrk:
		if req == tcsbrk || req == tcsbrkp {
			if err := t.checkChange(ctx, unix.SIGTTOU); err != nil {
				return 0, err
			}
		}
		return 0, nil // nothing to drain: output reaches the master at once
	case tiocexcl, tiocnxcl:
		return 0, nil
	case tiocgexcl:
		return 0, putInt(mem, arg, 0)
	case tiocgetd:
		return 0, putInt(mem, arg, 0) // N_TTY
	case tiocsetd:
		v, err := getInt(mem, arg)
		if err != nil {
			return 0, err
		}
		if v != 0 {
			return 0, unix.EINVAL // only N_TTY
		}
		return 0, nil
	}
	return 0, unix.ENOTTY
}

// setPgrp is TIOCSPGRP, with Linux's checks in Linux's order.
func (t *Terminal) setPgrp(ctx vfs.Context, arg uintptr, mem vfs.IOMemory) error {
	err := t.checkChange(ctx, unix.SIGTTOU)
	if err == unix.EIO {
		return unix.ENOTTY
	}
	if err != nil {
		return err
	}
	pg, err := getInt(mem, arg)
	if err != nil {
		return err
	}
	if pg < 0 {
		return unix.EINVAL
	}
	c, ok := ctx.(Caller)
	if !ok || !t.isCtty(c) {
		return unix.ENOTTY
	}
	_, _, sid, _ := c.JobIDs()
	t.mu.Lock()
	mine := t.sid == sid
	t.mu.Unlock()
	if !mine {
		return unix.ENOTTY
	}
	psid, err := t.k.SessionOfGroup(pg)
	if err != nil {
		return err
	}
	if psid != sid {
		return unix.EPERM
	}
	t.mu.Lock()
	t.pgrp = pg
	t.mu.Unlock()
	return nil
}

func putInt(mem vfs.IOMemory, addr uintptr, v int32) error {
	var b [4]byte
	le.PutUint32(b[:], uint32(v))
	return copyOut(mem, addr, b[:])
}

// checkSTI is TIOCSTI's permission check: only a process whose
// controlling terminal this is, or root (CAP_SYS_ADMIN on Linux), may
// fake input.
func (t *Terminal) checkSTI(ctx vfs.Context) error {
	if ctx.UID() == 0 {
		return nil
	}
	if c, ok := ctx.(Caller); ok && t.isCtty(c) {
		return nil
	}
	return unix.EPERM
}

func getByte(mem vfs.IOMemory, addr uintptr) (byte, error) {
	var b [1]byte
	if _, err := mem.CopyIn(addr, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return b[0], nil
}

func getInt(mem vfs.IOMemory, addr uintptr) (int32, error) {
	var b [4]byte
	if _, err := mem.CopyIn(addr, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return int32(le.Uint32(b[:])), nil
}

func copyOut(mem vfs.IOMemory, addr uintptr, b []byte) error {
	if _, err := mem.CopyOut(addr, b); err != nil {
		return unix.EFAULT
	}
	return nil
}
