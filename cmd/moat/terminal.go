package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"moat/boot"
	"moat/fs/hostfd"
)

// terminal connects moat's own terminal (its stdin, and stdout) to a
// pseudo-terminal of the sandbox for `moat run -t`: the host terminal is
// put in raw mode, so every key reaches the sandbox's line discipline,
// bytes are copied both ways, and window-size changes follow.
type terminal struct {
	pty     *boot.Terminal
	saved   *unix.Termios // the host terminal's settings before raw mode
	once    sync.Once
	outDone chan struct{} // closed when the copy to the host ends
	winch   chan os.Signal
}

// isTerminal reports whether host fd fd is a terminal.
func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// startTerminal opens the sandbox's pseudo-terminal, sizes it like the
// host terminal, puts the host terminal in raw mode and starts copying.
func startTerminal(sb *boot.Sandbox, uid uint32) (*terminal, error) {
	pty, err := sb.NewTerminal(uid)
	if err != nil {
		return nil, err
	}
	t := &terminal{pty: pty, outDone: make(chan struct{}), winch: make(chan os.Signal, 1)}
	t.resize()
	saved, err := hostfd.MakeRaw(0)
	if saved == nil {
		return nil, fmt.Errorf("reading the terminal's settings: %w", err)
	}
	t.saved = saved
	if err != nil {
		return nil, fmt.Errorf("putting the terminal in raw mode: %w", err)
	}
	signal.Notify(t.winch, unix.SIGWINCH)
	go func() {
		for range t.winch {
			t.resize()
		}
	}()
	go t.onSignals()
	go t.pty.CopyIn(0)
	go func() {
		defer close(t.outDone)
		t.pty.CopyOut(os.Stdout)
	}()
	return t, nil
}

// fatalSignals are the signals that end a Go program that moat does not
// pass on to the sandbox (SIGINT, SIGTERM, SIGHUP and SIGQUIT end the
// sandbox, and moat with it, through the normal exit): the terminal is
// restored before they take effect. (Most others are caught and ignored
// by the Go runtime; SIGTSTP is not caught: kill -TSTP stops moat with
// the terminal raw, as it would stop any raw-mode program.)
var fatalSignals = []os.Signal{unix.SIGABRT, unix.SIGSTKFLT}

// onSignals restores the host terminal before a fatal signal ends moat,
// raising it again with its default action.
func (t *terminal) onSignals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, fatalSignals...)
	sig := (<-ch).(unix.Signal)
	t.restore()
	signal.Reset(sig)
	unix.Kill(os.Getpid(), sig)
}

// resize gives the sandbox's terminal the host terminal's size.
func (t *terminal) resize() {
	if ws, err := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ); err == nil {
		t.pty.SetWindowSize(ws.Row, ws.Col, ws.Xpixel, ws.Ypixel)
	}
}

// finish is called when the sandbox has ended: moat drops its own
// reference to the slave, and the output is copied until the sandbox's
// last one is closed (for at most a second: a process left holding it
// cannot keep moat from exiting).
func (t *terminal) finish() {
	t.pty.Slave.DecRef()
	select {
	case <-t.outDone:
	case <-time.After(time.Second):
	}
}

// restore puts the host terminal's settings back.
func (t *terminal) restore() {
	t.once.Do(func() {
		signal.Stop(t.winch)
		unix.IoctlSetTermios(0, unix.TCSETS, t.saved)
	})
}

// close restores the host terminal and hangs up the sandbox's.
func (t *terminal) close() {
	t.restore()
	t.pty.Master.DecRef()
}
