package tty

import (
	"golang.org/x/sys/unix"
)

// Buffer bounds. Input the master writes waits, unprocessed, in pending
// (Linux's flip buffers); the line discipline moves it into the slave's
// read buffer, which holds at most inputMax bytes (N_TTY_BUF_SIZE less
// one), as room allows. Output (the slave's writes and echoes) waits in
// out for the master to read.
const (
	pendingMax = 64 << 10
	inputMax   = 4095
	outMax     = 64 << 10
	// echoHeldMax bounds the echoes held while output is stopped
	// (Linux's echo buffer is 4096 bytes).
	echoHeldMax = 4096
)

// receive moves pending input through the line discipline while the read
// buffer has room, and returns the signals to send to the foreground
// group (the caller sends them once t.mu is released).
//
// Preconditions: t.mu is held.
func (t *Terminal) receive() []unix.Signal {
	var sigs []unix.Signal
	t.echoStart = len(t.out)
	i := 0
	for ; i < len(t.pending); i++ {
		full := len(t.rq)+len(t.line) >= inputMax
		overflow := false
		if full {
			if !t.termios.icanon() || len(t.lines) > 0 {
				break // the reader must make room first
			}
			// A canonical line with no end fills the buffer: the
			// reader cannot make room, so ordinary characters are
			// dropped while editing and line ends still work.
			overflow = true
		}
		if sig := t.receiveChar(t.pending[i], overflow); sig != 0 {
			sigs = append(sigs, sig)
		}
	}
	if i > 0 {
		t.pending = t.pending[i:]
		if len(t.pending) == 0 {
			t.pending = nil
		}
		t.changes.Notify()
	}
	return sigs
}

// receiveNow processes c ahead of pending input, as typed now
// (TIOCSTI), and returns the signals to send.
//
// Preconditions: t.mu is held.
func (t *Terminal) receiveNow(c byte) []unix.Signal {
	t.echoStart = len(t.out)
	overflow := len(t.rq)+len(t.line) >= inputMax
	if overflow && (!t.termios.icanon() || len(t.lines) > 0) {
		return nil // no room: dropped
	}
	var sigs []unix.Signal
	if sig := t.receiveChar(c, overflow); sig != 0 {
		sigs = append(sigs, sig)
	}
	t.changes.Notify()
	return sigs
}

// receiveChar processes one input character (n_tty's receive_char), and
// returns a signal to send to the foreground group, or 0.
//
// Preconditions: t.mu is held.
func (t *Terminal) receiveChar(c byte, overflow bool) unix.Signal {
	tm := &t.termios
	if tm.Iflag&iISTRIP != 0 {
		c &= 0x7f
	}
	if tm.Iflag&iIUCLC != 0 && tm.iexten() && c >= 'A' && c <= 'Z' {
		c += 'a' - 'A'
	}
	if t.lnext {
		t.lnext = false
		t.ordinary(c, overflow)
		return 0
	}
	if tm.Iflag&iIXON != 0 {
		if tm.is(c, vSTART) {
			t.start()
			return 0
		}
		if tm.is(c, vSTOP) {
			t.stop()
			return 0
		}
	}
	if tm.isig() {
		sig := unix.Signal(0)
		switch {
		case tm.is(c, vINTR):
			sig = unix.SIGINT
		case tm.is(c, vQUIT):
			sig = unix.SIGQUIT
		case tm.is(c, vSUSP):
			sig = unix.SIGTSTP
		}
		if sig != 0 {
			if tm.Lflag&lNOFLSH == 0 {
				t.flushInput(false)
				t.packetEvent(pktFlushWrite, 0)
				// The echoes of this batch not yet written go too,
				// as Linux clears its echo buffer.
				if len(t.out) > t.echoStart {
					t.out = t.out[:t.echoStart]
				}
			}
			if tm.Iflag&iIXON != 0 {
				t.start()
			}
			if tm.echo() {
				t.echoChar(c)
			}
			return sig
		}
	}
	if t.stopped && tm.Iflag&iIXON != 0 && tm.Iflag&iIXANY != 0 {
		t.start()
	}
	if c == '\r' {
		if tm.Iflag&iIGNCR != 0 {
			return 0
		}
		if tm.Iflag&iICRNL != 0 {
			c = '\n'
		}
	} else if c == '\n' && tm.Iflag&iINLCR != 0 {
		c = '\r'
	}
	if tm.icanon() {
		switch {
		case tm.is(c, vERASE), tm.is(c, vKILL), tm.is(c, vWERASE) && tm.iexten():
			t.erase(c)
			return 0
		case tm.is(c, vLNEXT) && tm.iexten():
			t.lnext = true
			if tm.echo() {
				t.finishErasing()
			}
			if tm.echo() && tm.Lflag&lECHOCTL != 0 {
				t.echoRaw('^')
				t.echoRaw('\b')
			}
			return 0
		case tm.is(c, vREPRINT) && tm.echo() && tm.iexten():
			t.echoChar(c)
			t.echoRaw('\n')
			for _, b := range t.line {
				t.echoChar(b)
			}
			return 0
		case c == '\n':
			if tm.echo() || tm.Lflag&lECHONL != 0 {
				t.echoRaw('\n')
			}
			t.line = append(t.line, c)
			t.endLine()
			return 0
		case tm.is(c, vEOF):
			t.endLine() // the EOF character itself is not data
			return 0
		case tm.is(c, vEOL), tm.is(c, vEOL2) && tm.iexten():
			if tm.echo() {
				if len(t.line) == 0 {
					t.canonCol = t.col
				}
				t.echoChar(c)
			}
			t.line = append(t.line, c)
			t.endLine()
			return 0
		}
	}
	t.ordinary(c, overflow)
	return 0
}

// ordinary stores and echoes a character that means nothing special.
//
// Preconditions: t.mu is held.
func (t *Terminal) ordinary(c byte, overflow bool) {
	tm := &t.termios
	if overflow {
		if tm.echo() && tm.Iflag&iIMAXBEL != 0 {
			t.echoRaw('\a')
		}
		return
	}
	if tm.echo() {
		t.finishErasing()
		if tm.icanon() && len(t.line) == 0 {
			t.canonCol = t.col
		}
		t.echoChar(c)
	}
	n := 1
	if c == 0xff && tm.Iflag&iPARMRK != 0 {
		n = 2 // a real \377 is doubled, as marks would start with it
	}
	for range n {
		if tm.icanon() {
			t.line = append(t.line, c)
		} else {
			t.rq = append(t.rq, c)
		}
	}
}

// endLine completes the line being edited: it becomes readable.
//
// Preconditions: t.mu is held.
func (t *Terminal) endLine() {
	t.rq = append(t.rq, t.line...)
	t.lines = append(t.lines, len(t.line))
	t.line = t.line[:0]
}

// erase implements the ERASE, WERASE and KILL characters (n_tty's
// eraser), echoing the erasure as the settings say.
//
// Preconditions: t.mu is held.
func (t *Terminal) erase(c byte) {
	tm := &t.termios
	if len(t.line) == 0 {
		return
	}
	const (
		kErase = iota
		kWerase
		kKill
	)
	kind := kKill
	switch {
	case tm.is(c, vERASE):
		kind = kErase
	case tm.is(c, vWERASE):
		kind = kWerase
	}
	if kind == kKill {
		if !tm.echo() {
			t.line = t.line[:0]
			return
		}
		if tm.Lflag&lECHOK == 0 || tm.Lflag&lECHOKE == 0 || tm.Lflag&lECHOE == 0 {
			t.line = t.line[:0]
			t.finishErasing()
			t.echoChar(tm.CC[vKILL])
			if tm.Lflag&lECHOK != 0 {
				t.echoRaw('\n')
			}
			return
		}
	}
	seenAlnums := 0
	for len(t.line) > 0 {
		head := len(t.line) - 1
		for head > 0 && tm.isContinuation(t.line[head]) {
			head--
		}
		b := t.line[head]
		erased := append([]byte(nil), t.line[head:]...)
		if kind == kWerase {
			if isAlnum(b) || b == '_' {
				seenAlnums++
			} else if seenAlnums > 0 {
				break
			}
		}
		t.line = t.line[:head]
		if tm.echo() {
			switch {
			case tm.Lflag&lECHOPRT != 0:
				// Erased characters are printed, between \ and /.
				if !t.erasing {
					t.echoRaw('\\')
					t.erasing = true
				}
				t.echoChar(erased[0])
				for _, c := range erased[1:] {
					t.echoRaw(c)
				}
			case kind == kErase && tm.Lflag&lECHOE == 0:
				t.echoChar(tm.CC[vERASE])
			case b == '\t':
				// Back to where the tab started: replay the line.
				col := t.canonCol
				for _, p := range t.line {
					switch {
					case p == '\t':
						col = (col | 7) + 1
					case iscntrl(p):
						if tm.Lflag&lECHOCTL != 0 {
							col += 2
						}
					case !tm.isContinuation(p):
						col++
					}
				}
				for n := t.col - col; n > 0 && t.col > 0; n-- {
					t.echoRaw('\b')
				}
			default:
				if iscntrl(b) && tm.Lflag&lECHOCTL != 0 {
					t.echoRaw('\b')
					t.echoRaw(' ')
					t.echoRaw('\b')
				}
				if !iscntrl(b) || tm.Lflag&lECHOCTL != 0 {
					t.echoRaw('\b')
					t.echoRaw(' ')
					t.echoRaw('\b')
				}
			}
		}
		if kind == kErase {
			break
		}
	}
	if len(t.line) == 0 && tm.echo() {
		t.finishErasing()
	}
}

// finishErasing closes an ECHOPRT erasure with /.
//
// Preconditions: t.mu is held.
func (t *Terminal) finishErasing() {
	if t.erasing {
		t.echoRaw('/')
		t.erasing = false
	}
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// echoChar echoes c, a control character as ^X with ECHOCTL.
//
// Preconditions: t.mu is held.
func (t *Terminal) echoChar(c byte) {
	if t.termios.Lflag&lECHOCTL != 0 && iscntrl(c) && c != '\t' {
		t.put('^', c^0o100)
		t.col += 2
		return
	}
	t.echoRaw(c)
}

// echoRaw echoes c through output processing. Echoes never block: beyond
// the output bound they are dropped.
//
// Preconditions: t.mu is held.
func (t *Terminal) echoRaw(c byte) {
	if t.termios.Oflag&oOPOST != 0 {
		t.outputChar(c)
		return
	}
	t.put(c)
}

// put appends bytes to the output for the master, dropping what does not
// fit. While output is stopped, only echoes come here: they are held
// until it starts again.
//
// Preconditions: t.mu is held.
func (t *Terminal) put(b ...byte) {
	if t.stopped {
		if room := echoHeldMax - len(t.held); len(b) > room {
			b = b[:max(room, 0)]
		}
		t.held = append(t.held, b...)
		return
	}
	if room := outMax - len(t.out); len(b) > room {
		b = b[:max(room, 0)]
	}
	if len(b) > 0 {
		t.out = append(t.out, b...)
		t.changes.Notify()
	}
}

// stop stops output (^S, TCOOFF).
//
// Preconditions: t.mu is held.
func (t *Terminal) stop() {
	if t.stopped {
		return
	}
	t.stopped = true
	t.packetEvent(pktStop, pktStart)
}

// start restarts stopped output, with the echoes held meanwhile.
//
// Preconditions: t.mu is held.
func (t *Terminal) start() {
	if !t.stopped {
		return
	}
	t.stopped = false
	t.packetEvent(pktStart, pktStop)
	held := t.held
	t.held = nil
	t.put(held...)
	t.changes.Notify()
}

// outputChar writes c with output processing (OPOST), keeping the column
// (n_tty's do_output_char).
//
// Preconditions: t.mu is held; OPOST is set.
func (t *Terminal) outputChar(c byte) {
	tm := &t.termios
	switch c {
	case '\n':
		if tm.Oflag&oONLRET != 0 {
			t.col = 0
		}
		if tm.Oflag&oONLCR != 0 {
			t.col = 0
			t.put('\r', '\n')
			return
		}
	case '\r':
		if tm.Oflag&oONOCR != 0 && t.col == 0 {
			return
		}
		if tm.Oflag&oOCRNL != 0 {
			c = '\n'
			if tm.Oflag&oONLRET != 0 {
				t.col = 0
			}
			break
		}
		t.col = 0
	case '\t':
		spaces := 8 - t.col&7
		if tm.Oflag&oTABDLY == oXTABS {
			t.col += spaces
			t.put([]byte("        ")[:spaces]...)
			return
		}
		t.col += spaces
	case '\b':
		if t.col > 0 {
			t.col--
		}
	default:
		if !iscntrl(c) {
			if tm.Oflag&oOLCUC != 0 && c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			if !tm.isContinuation(c) {
				t.col++
			}
		}
	}
	t.put(c)
}

// flushInput discards the input not yet read (TCIFLUSH, a signal
// character without NOFLSH); with pending, the unprocessed input too.
//
// Preconditions: t.mu is held.
func (t *Terminal) flushInput(pending bool) {
	t.rq, t.lines, t.line = nil, nil, t.line[:0]
	t.erasing = false
	if pending {
		t.pending = nil
	}
	t.packetEvent(pktFlushRead, 0)
	t.changes.Notify()
}

// Packet mode status bits (TIOCPKT_*).
const (
	pktData       = 0
	pktFlushRead  = 1
	pktFlushWrite = 2
	pktStop       = 4
	pktStart      = 8
	pktNoStop     = 16
	pktDoStop     = 32
)

// packetEvent records set (and forgets clear) in the packet-mode status
// the master reads next, in packet mode.
//
// Preconditions: t.mu is held.
func (t *Terminal) packetEvent(set, clear byte) {
	if !t.pkt {
		return
	}
	t.pktStatus = t.pktStatus&^clear | set
	t.changes.Notify()
}

// flowControl reports whether settings tm give ^S/^Q flow control as
// packet mode tells it (IXON with the usual characters).
func flowControl(tm *Termios) bool {
	return tm.Iflag&iIXON != 0 && tm.CC[vSTART] == 0o21 && tm.CC[vSTOP] == 0o23
}

// setTermios installs new settings; leaving or entering canonical mode
// turns what was typed into raw input, or into one readable line, as
// Linux does.
//
// Preconditions: t.mu is held.
func (t *Terminal) setTermios(nt Termios) {
	// A pty is always 8 bits, no parity, receiver on (pty_set_termios).
	nt.Cflag = nt.Cflag&^(cCSIZE|cPARENB) | cCS8 | cCREAD
	if s, ok := speedOf(nt.Cflag); ok {
		nt.ISpeed, nt.OSpeed = s, s
	}
	was := t.termios.icanon()
	if oldFlow, newFlow := flowControl(&t.termios), flowControl(&nt); oldFlow != newFlow {
		if newFlow {
			t.packetEvent(pktDoStop, pktNoStop)
		} else {
			t.packetEvent(pktNoStop, pktDoStop)
		}
	}
	t.termios = nt
	switch now := nt.icanon(); {
	case was && !now:
		t.rq = append(t.rq, t.line...)
		t.line, t.lines = t.line[:0], nil
	case !was && now:
		if len(t.rq) > 0 {
			t.lines = []int{len(t.rq)}
		}
	}
	if nt.Iflag&iIXON == 0 {
		t.start()
	}
	t.changes.Notify()
}

// readable reports whether a slave read would find data: a complete line
// in canonical mode, else at least min bytes.
//
// Preconditions: t.mu is held.
func (t *Terminal) readable(min int) bool {
	if t.termios.icanon() {
		return len(t.lines) > 0
	}
	return len(t.rq) >= max(min, 1)
}

// take copies readable input into dst and returns how much.
//
// Preconditions: t.mu is held.
func (t *Terminal) take(dst []byte) int {
	if t.termios.icanon() {
		if len(t.lines) == 0 {
			return 0
		}
		n := copy(dst, t.rq[:t.lines[0]])
		t.rq = t.rq[n:]
		if n == t.lines[0] {
			t.lines = t.lines[1:]
		} else {
			t.lines[0] -= n
		}
		return n
	}
	n := copy(dst, t.rq)
	t.rq = t.rq[n:]
	return n
}
