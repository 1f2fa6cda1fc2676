package oci

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"moat/boot"
	"moat/kernel"
	"moat/oci/cgroup"
	"moat/vfs"
)

// SentryOptions start a container's sentry: the long-lived host process
// that runs its sandbox, started by `moat create` and left running when
// create returns.
type SentryOptions struct {
	Root, ID      string
	Platform      string
	ConsoleSocket string
	SystemdCgroup bool // cgroupsPath is systemd's slice:prefix:name
	Log           *slog.Logger
	// Ready is create's end of a pipe: the sentry writes "ok" once the
	// container is created, or the error that stopped it, and closes it.
	Ready io.WriteCloser
}

// sentry is a running container's sandbox and its control server.
//
// Lock order: sentry.mu, then the kernel's locks.
type sentry struct {
	c    *Container
	sb   *boot.Sandbox
	log  *slog.Logger
	init *kernel.Process
	term *boot.Terminal // init's terminal, if any

	mu      sync.Mutex
	started bool
	paused  bool
}

// RunSentry builds the container's sandbox, loads its process, reports to
// create through o.Ready, then serves the control socket until the
// container's process exits. It returns the exit code for the sentry
// (the process's status, shell-style: the engine sees it as the
// container's).
func RunSentry(o SentryOptions) int {
	s, err := newSentry(o)
	if err != nil {
		fmt.Fprintf(o.Ready, "%v\n", err)
		o.Ready.Close()
		return 1
	}
	ln, err := Listen(s.c.ControlSocket())
	if err != nil {
		fmt.Fprintf(o.Ready, "control socket: %v\n", err)
		o.Ready.Close()
		return 1
	}
	s.c.Pid = os.Getpid()
	s.c.PidStart, _ = ProcStartTime(s.c.Pid)
	s.c.Status = string(specs.StateCreated)
	if err := s.c.Save(); err != nil {
		fmt.Fprintf(o.Ready, "saving state: %v\n", err)
		o.Ready.Close()
		return 1
	}
	detachStdio()
	io.WriteString(o.Ready, "ok\n")
	o.Ready.Close()
	go s.serve(ln)

	st := s.init.Wait()
	s.log.Debug("container process exited", "status", st.ShellCode())
	s.mu.Lock()
	s.c.Status = string(specs.StateStopped)
	s.c.Save()
	s.mu.Unlock()
	ln.Close()
	if s.term != nil {
		s.term.Slave.DecRef()
	}
	// The kernel kills every other process when init exits; give exec
	// clients a moment to be told.
	time.Sleep(50 * time.Millisecond)
	return st.ShellCode()
}

func newSentry(o SentryOptions) (*sentry, error) {
	c, err := Load(o.Root, o.ID)
	if err != nil {
		return nil, err
	}
	spec, err := LoadSpec(c.Bundle)
	if err != nil {
		return nil, err
	}
	cfg, err := BootConfig(spec)
	if err != nil {
		return nil, err
	}
	cfg.Platform, cfg.Log = o.Platform, o.Log
	if _, err := os.Stat(cfg.Rootfs); err != nil {
		return nil, fmt.Errorf("rootfs %s: %w", cfg.Rootfs, errors.Unwrap(err))
	}
	// The sentry joins the container's cgroup before it starts anything:
	// the stub processes it forks for app code are counted with it.
	if err := joinCgroup(c, spec, o.SystemdCgroup, o.Log); err != nil {
		return nil, err
	}
	if c.CgroupPath != "" {
		if cg, err := cgroup.Open(c.CgroupPath); err == nil {
			lim := cg.Limits()
			cfg.Limits = &lim
		}
	}
	sb, err := boot.New(cfg)
	if err != nil {
		return nil, err
	}
	s := &sentry{c: c, sb: sb, log: o.Log}
	pa, err := ProcessArgs(sb, spec.Process)
	if err != nil {
		return nil, err
	}
	if spec.Process.Terminal {
		if o.ConsoleSocket == "" {
			return nil, errors.New("process.terminal is set but no --console-socket was given")
		}
		host, err := s.hostConsole(o.ConsoleSocket)
		if err != nil {
			return nil, err
		}
		if s.term, err = s.attachTerminal(host, spec.Process.ConsoleSize, pa.UID, true); err != nil {
			return nil, err
		}
		pa.Stdio = [3]*vfs.FileDescription{s.term.Slave, s.term.Slave, s.term.Slave}
		pa.Terminal = s.term.Terminal
		s.term.SetSession(1, 1)
	} else if pa.Stdio, err = boot.Stdio(); err != nil {
		return nil, err
	}
	if s.init, err = sb.Kernel.Load(pa); err != nil {
		return nil, err
	}
	return s, nil
}

// joinCgroup puts the sentry in the container's cgroup with the config's
// resources applied, and records the path. A host without writable
// cgroups runs containers that ask for no resources without one.
func joinCgroup(c *Container, spec *specs.Spec, systemd bool, log *slog.Logger) error {
	var res *specs.LinuxResources
	var path string
	if spec.Linux != nil {
		res, path = spec.Linux.Resources, spec.Linux.CgroupsPath
	}
	p, err := cgroup.Path(path, c.ID, systemd)
	if err != nil {
		return err
	}
	cg, err := cgroup.Open(p)
	if err == nil {
		err = cg.Apply(os.Getpid(), res)
	}
	if err != nil {
		if limited(res) {
			return fmt.Errorf("cgroup %s: %w", p, err)
		}
		log.Info("no cgroup for the container", "path", p, "err", err)
		return nil
	}
	c.CgroupPath = p
	return c.Save()
}

// limited reports whether r asks for a limit that needs a cgroup.
func limited(r *specs.LinuxResources) bool {
	return r != nil && (r.Memory != nil || r.CPU != nil || r.Pids != nil || r.BlockIO != nil ||
		len(r.HugepageLimits) > 0 || len(r.Unified) > 0)
}

// detachStdio points the sentry's own fds 0-2 at /dev/null: the
// container's process has its own references to the engine's fds, and
// the sentry's messages go to the log, never into the container's output.
func detachStdio() {
	null, err := unix.Open("/dev/null", unix.O_RDWR, 0)
	if err != nil {
		return
	}
	for fd := 0; fd < 3; fd++ {
		unix.Dup2(null, fd)
	}
	if null > 2 {
		unix.Close(null)
	}
}

// hostConsole opens the host terminal of the container's init, sends its
// master to the engine and makes the slave the sentry's controlling
// terminal, so the engine's resizes reach the sentry as SIGWINCH.
func (s *sentry) hostConsole(socket string) (*os.File, error) {
	master, slave, err := OpenHostPty()
	if err != nil {
		return nil, err
	}
	defer master.Close()
	if err := SendConsole(socket, master, slave.Name()); err != nil {
		slave.Close()
		return nil, err
	}
	if err := unix.IoctlSetInt(int(slave.Fd()), unix.TIOCSCTTY, 0); err != nil {
		s.log.Debug("no controlling terminal: resizes are not followed", "err", err)
	}
	return slave, nil
}

// attachTerminal connects host terminal host (a slave whose master the
// engine holds) to a new pseudo-terminal of the sandbox for user uid.
// With winch, host's size changes (SIGWINCH to the sentry) follow.
func (s *sentry) attachTerminal(host *os.File, size *specs.Box, uid uint32, winch bool) (*boot.Terminal, error) {
	t, err := s.sb.NewTerminal(uid)
	if err != nil {
		host.Close()
		return nil, err
	}
	fd := int(host.Fd())
	if err := MakeRaw(fd); err != nil {
		s.log.Debug("host terminal not raw", "err", err)
	}
	resize := func() {
		if ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ); err == nil && ws.Row > 0 {
			t.SetWindowSize(ws.Row, ws.Col, ws.Xpixel, ws.Ypixel)
		}
	}
	if size != nil && size.Height > 0 {
		t.SetWindowSize(uint16(size.Height), uint16(size.Width), 0, 0)
		unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)})
	} else {
		resize()
	}
	if winch {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, unix.SIGWINCH)
		go func() {
			for range ch {
				resize()
			}
		}()
	}
	go t.CopyIn(fd)
	go func() {
		t.CopyOut(host)
		host.Close()
	}()
	return t, nil
}

// serve answers control connections until ln is closed.
func (s *sentry) serve(ln *net.UnixListener) {
	for {
		uc, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		go s.handle(NewConn(uc))
	}
}

func (s *sentry) handle(conn *Conn) {
	var req Request
	fds, err := conn.Receive(&req)
	if err != nil {
		conn.Close()
		return
	}
	if req.Op == OpExec {
		s.exec(conn, req, fds) // closes conn
		return
	}
	closeAll(fds)
	defer conn.Close()
	resp := Response{}
	if err := s.do(req, &resp); err != nil {
		resp.Error = err.Error()
	}
	conn.Send(resp)
}

// do carries out a one-message request.
func (s *sentry) do(req Request, resp *Response) error {
	k := s.sb.Kernel
	s.mu.Lock()
	defer s.mu.Unlock()
	switch req.Op {
	case OpStart:
		if s.started {
			return errors.New("cannot start an already running container")
		}
		s.started = true
		s.c.Status = string(specs.StateRunning)
		if err := s.c.Save(); err != nil {
			return err
		}
		s.init.Start()
	case OpKill:
		sig := unix.Signal(req.Signal)
		if req.Signal <= 0 || req.Signal > 64 {
			return fmt.Errorf("invalid signal %d", req.Signal)
		}
		if !req.All {
			return k.SignalFromOutside(s.init.PID(), sig)
		}
		for _, t := range k.Processes() {
			if t.TGID() != 1 {
				k.SignalFromOutside(t.TGID(), sig)
			}
		}
		k.SignalFromOutside(1, sig)
	case OpPause:
		if !s.started {
			return errors.New("container not running")
		}
		k.Freeze()
		s.paused = true
		s.c.Status = string(StatusPaused)
		return s.c.Save()
	case OpResume:
		if !s.paused {
			return errors.New("container not paused")
		}
		k.Thaw()
		s.paused = false
		s.c.Status = string(specs.StateRunning)
		return s.c.Save()
	case OpPs:
		for _, t := range k.Processes() {
			resp.Procs = append(resp.Procs, ProcessInfo{PID: t.TGID(), PPID: t.PPID(), UID: t.Creds().UID,
				State: string(t.State()), Cmd: t.Comm()})
		}
	default:
		return fmt.Errorf("unknown operation %q", req.Op)
	}
	return nil
}

// exec starts a process in the running container and reports its pid,
// then its exit status; the connection's further messages signal or
// resize it, and its end kills a process still running.
func (s *sentry) exec(conn *Conn, req Request, fds []int) {
	defer conn.Close()
	fail := func(err error) {
		closeAll(fds)
		conn.Send(Response{Error: err.Error()})
	}
	s.mu.Lock()
	paused := s.paused
	s.mu.Unlock()
	if paused {
		fail(errors.New("cannot exec in a paused container"))
		return
	}
	pa, err := ProcessArgs(s.sb, req.Process)
	if err != nil {
		fail(err)
		return
	}
	var term *boot.Terminal
	if req.Process.Terminal {
		if len(fds) != 1 {
			fail(errors.New("exec with a terminal needs one terminal fd"))
			return
		}
		if term, err = s.attachTerminal(os.NewFile(uintptr(fds[0]), "console"), req.Process.ConsoleSize, pa.UID, false); err != nil {
			conn.Send(Response{Error: err.Error()})
			return
		}
		pa.Stdio = [3]*vfs.FileDescription{term.Slave, term.Slave, term.Slave}
		pa.Terminal = term.Terminal
	} else {
		if len(fds) != 3 {
			fail(errors.New("exec needs three stdio fds"))
			return
		}
		for i, fd := range fds {
			if pa.Stdio[i], err = boot.HostFile(fd); err != nil {
				fail(err)
				return
			}
		}
	}
	p, err := s.sb.Kernel.Load(pa)
	if term != nil {
		term.Slave.DecRef() // the process has its own references now
		if err == nil {
			term.SetSession(p.PID(), p.PID())
		}
	}
	for _, f := range pa.Stdio {
		if f != nil && term == nil {
			f.DecRef()
		}
	}
	if err != nil {
		if term != nil {
			term.Master.DecRef()
		}
		conn.Send(Response{Error: err.Error()})
		return
	}
	p.Start()
	if err := conn.Send(Response{PID: p.PID()}); err != nil {
		s.sb.Kernel.SignalFromOutside(p.PID(), unix.SIGKILL)
	}
	go func() {
		for {
			var m Request
			fds, err := conn.Receive(&m)
			closeAll(fds)
			if err != nil {
				select {
				case <-p.Exited():
				default:
					s.sb.Kernel.SignalFromOutside(p.PID(), unix.SIGKILL)
				}
				return
			}
			switch m.Op {
			case OpSignal:
				if m.Signal > 0 && m.Signal <= 64 {
					s.sb.Kernel.SignalFromOutside(p.PID(), unix.Signal(m.Signal))
				}
			case OpResize:
				if term != nil && m.Rows > 0 {
					term.SetWindowSize(m.Rows, m.Cols, 0, 0)
				}
			}
		}
	}()
	st := p.Wait()
	if term != nil {
		term.Master.DecRef()
	}
	conn.Send(Response{Exited: true, Status: st.ShellCode()})
}
