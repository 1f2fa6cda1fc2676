package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/boot"
	"moat/fs/hostfd"
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
	// HostPid and HostPidStart identify the sentry on the host (it may
	// be pid 1 of a PID namespace of its own): what engines see.
	HostPid      int
	HostPidStart uint64
	Log          *slog.Logger
	// Ready is create's end of a pipe: the sentry writes "ok" once the
	// container is created, or the error that stopped it, and closes it.
	Ready io.WriteCloser
}

// sentry is a running container's sandbox and its control server. The
// sandbox may hold more containers: a pod's, each with its own root and
// mounts, created through OpCreate by their stand-ins (standin.go).
//
// Lock order: sentry.mu, then the kernel's locks.
type sentry struct {
	c    *Container
	sb   *boot.Sandbox
	log  *slog.Logger
	init *kernel.Process
	term *console // init's terminal, if any

	mu         sync.Mutex
	paused     bool
	containers map[string]*container // by id; "" is the sandbox's own
}

// container is one container of the sandbox.
type container struct {
	init    *kernel.Process
	view    *boot.Sandbox       // the sandbox, seen from its mounts
	mounts  *vfs.MountNamespace // nil: the sandbox's first
	tag     string              // its processes' kernel.Task.Container
	started bool
	seccomp []linux.SockFilter // the filter its processes run under
	id      string             // its container id
	bundle  string             // its bundle
	hooks   []specs.Hook       // its startContainer hooks
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
	s.c.Pid, s.c.PidStart = o.HostPid, o.HostPidStart
	s.c.Status = string(specs.StateCreated)
	if err := s.c.Save(); err != nil {
		fmt.Fprintf(o.Ready, "saving state: %v\n", err)
		o.Ready.Close()
		return 1
	}
	DetachStdio()
	io.WriteString(o.Ready, "ok\n")
	o.Ready.Close()
	conns := newConnections()
	go conns.serve(ln, s.handle)

	st := s.init.Wait()
	s.log.Debug("container process exited", "status", st.ShellCode())
	// Close the control socket (which unlinks it) before the record says
	// stopped: once it does, the container may be deleted and its id
	// reused, and a late close would unlink the new sentry's socket.
	ln.Close()
	s.mu.Lock()
	s.c.Status = string(specs.StateStopped)
	s.c.Save()
	s.mu.Unlock()
	if s.term != nil {
		s.term.Slave.DecRef()
		s.term.finish()
	}
	// The kernel kills every other process when init exits: their
	// clients (exec's stand-ins) are told their status before the
	// sentry goes, as is the client of a kill that ended init.
	conns.wait(time.Second)
	if err := s.sb.Sync(); err != nil {
		s.log.Warn("writing back shared mappings of bind-mounted files", "err", err)
	}
	return st.ShellCode()
}

func newSentry(o SentryOptions) (*sentry, error) {
	c, err := Load(o.Root, o.ID)
	if err != nil {
		return nil, err
	}
	spec, err := loadSpec(c.Bundle, false)
	if err != nil {
		return nil, err
	}
	cfg, err := BootConfig(spec)
	if err != nil {
		return nil, err
	}
	cfg.Platform, cfg.Log = o.Platform, o.Log
	cfg.Prestart = true // the container's process is loaded next
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
	if spec.Linux != nil {
		if err := applySysctls(sb.Kernel, spec.Linux.Sysctl, o.Log); err != nil {
			return nil, err
		}
	}
	s := &sentry{c: c, sb: sb, log: o.Log, containers: map[string]*container{}}
	pa, err := ProcessArgs(sb, spec.Process)
	if err != nil {
		return nil, err
	}
	if pa.Seccomp, err = Seccomp(spec); err != nil {
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
		if s.term, err = s.attachTerminal(sb, host, spec.Process.ConsoleSize, pa.UID, true); err != nil {
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
	s.containers[""] = &container{init: s.init, view: sb, id: c.ID, bundle: c.Bundle, hooks: startHooks(spec), seccomp: pa.Seccomp}
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

// DetachStdio points the process's own fds 0-2 at /dev/null. The sentry:
// the container's process has its own references to the engine's fds,
// and the sentry's messages go to the log, never into the container's
// output. exec's stand-in: the engine's pipes must reach end-of-file
// when the container's process closes them, not when the stand-in exits.
func DetachStdio() {
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
func (s *sentry) attachTerminal(view *boot.Sandbox, host *os.File, size *specs.Box, uid uint32, winch bool) (*console, error) {
	bt, err := view.NewTerminal(uid)
	if err != nil {
		host.Close()
		return nil, err
	}
	t := &console{Terminal: bt, drained: make(chan struct{})}
	fd := int(host.Fd())
	if _, err := hostfd.MakeRaw(fd); err != nil {
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
	// The reader has an fd of its own: it may be blocked in read(2)
	// when the writer closes host.
	if in, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3); err == nil {
		go func() {
			t.CopyIn(in)
			unix.Close(in)
		}()
	}
	go func() {
		t.CopyOut(host)
		host.Close()
		close(t.drained)
	}()
	return t, nil
}

// console is a terminal of the sandbox connected to a host terminal.
type console struct {
	*boot.Terminal
	drained chan struct{} // closed when the output is all copied (the last slave closed)
}

// finish waits (a second at most: a process left holding the slave must
// not hold this up) for the output to reach the host terminal, then hangs
// up the sandbox's terminal.
func (c *console) finish() {
	select {
	case <-c.drained:
	case <-time.After(time.Second):
	}
	c.Master.DecRef()
}

// handle answers one control connection (connections.serve's handler).
func (s *sentry) handle(conn *Conn) {
	var req Request
	fds, err := conn.Receive(&req)
	if err != nil {
		conn.Close()
		return
	}
	switch req.Op {
	case OpExec:
		s.exec(conn, req, fds) // closes conn
		return
	case OpCreate:
		s.create(conn, req, fds) // closes conn
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
	ctr := s.containers[req.Container]
	if ctr == nil {
		return fmt.Errorf("container %s does not exist in this sandbox", req.Container)
	}
	switch req.Op {
	case OpStart:
		if ctr.started {
			return errors.New("cannot start an already running container")
		}
		ctr.started = true
		st := specs.State{Version: specs.Version, ID: ctr.id, Status: specs.StateCreated, Pid: os.Getpid(), Bundle: ctr.bundle}
		if err := s.runStartHooks(ctr, st); err != nil {
			k.SignalFromOutside(ctr.init.PID(), unix.SIGKILL)
			return err
		}
		if req.Container == "" {
			s.c.Status = string(specs.StateRunning)
			if err := s.c.Save(); err != nil {
				return err
			}
		}
		ctr.init.Start()
	case OpKill:
		sig := unix.Signal(req.Signal)
		if req.Signal <= 0 || req.Signal > 64 {
			return fmt.Errorf("invalid signal %d", req.Signal)
		}
		if !req.All {
			return k.SignalFromOutside(ctr.init.PID(), sig)
		}
		s.signalAll(ctr, sig)
	case OpPause, OpResume:
		if req.Container != "" {
			return errors.New("pausing one container of a pod is not supported: pause the pod's sandbox")
		}
		if req.Op == OpPause {
			if !ctr.started {
				return errors.New("container not running")
			}
			k.Freeze()
			s.paused = true
			s.c.Status = string(StatusPaused)
			return s.c.Save()
		}
		if !s.paused {
			return errors.New("container not paused")
		}
		k.Thaw()
		s.paused = false
		s.c.Status = string(specs.StateRunning)
		return s.c.Save()
	case OpPs:
		for _, t := range k.Processes() {
			if t.Container() == ctr.tag {
				resp.Procs = append(resp.Procs, ProcessInfo{PID: t.TGID(), PPID: t.PPID(), UID: t.Creds().UID,
					State: string(t.State()), Cmd: t.Comm()})
			}
		}
	default:
		return fmt.Errorf("unknown operation %q", req.Op)
	}
	return nil
}

func startHooks(s *specs.Spec) []specs.Hook {
	if s.Hooks == nil {
		return nil
	}
	return s.Hooks.StartContainer
}

// startHookTimeout bounds a startContainer hook without a timeout of its
// own: a hook that never ends must not keep start from returning.
const startHookTimeout = time.Minute

// runStartHooks runs ctr's startContainer hooks in the container, as the
// spec has them run: in its mount namespace, as root, each with the state
// on its stdin. The first that fails stops start.
//
// Preconditions: s.mu is held.
func (s *sentry) runStartHooks(ctr *container, st specs.State) error {
	state, err := json.Marshal(st)
	if err != nil {
		return err
	}
	for i, h := range ctr.hooks {
		argv := h.Args
		if len(argv) == 0 {
			argv = []string{h.Path}
		}
		pa := kernel.ProcessArgs{Path: h.Path, Argv: argv, Envv: h.Env, Cwd: "/", Mounts: ctr.mounts, Container: ctr.tag}
		in, out, err := hookStdio(state)
		if err != nil {
			return err
		}
		pa.Stdio = [3]*vfs.FileDescription{in, out, out}
		p, err := s.sb.Kernel.Load(pa)
		in.DecRef()
		out.DecRef()
		if err != nil {
			return fmt.Errorf("startContainer hook #%d (%s): %v", i, h.Path, err)
		}
		p.Start()
		timeout := startHookTimeout
		if h.Timeout != nil && *h.Timeout > 0 {
			timeout = time.Duration(*h.Timeout) * time.Second
		}
		select {
		case <-p.Exited():
		case <-time.After(timeout):
			s.sb.Kernel.SignalFromOutside(p.PID(), unix.SIGKILL)
			p.Wait()
			return fmt.Errorf("startContainer hook #%d (%s): timed out after %v", i, h.Path, timeout)
		}
		if code := p.Wait().ShellCode(); code != 0 {
			return fmt.Errorf("startContainer hook #%d (%s): exit status %d", i, h.Path, code)
		}
	}
	return nil
}

// hookStdio makes a hook's stdin, a pipe holding state, and its stdout
// and stderr, /dev/null.
func hookStdio(state []byte) (in, out *vfs.FileDescription, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, err
	}
	_, err = unix.Write(p[1], state) // well under a pipe's capacity
	unix.Close(p[1])
	if err != nil {
		unix.Close(p[0])
		return nil, nil, err
	}
	null, err := unix.Open("/dev/null", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(p[0])
		return nil, nil, err
	}
	if in, err = boot.HostFile(p[0]); err == nil {
		out, err = boot.HostFile(null)
	}
	return in, out, err
}

// signalAll sends sig to every process of ctr, its init last.
func (s *sentry) signalAll(ctr *container, sig unix.Signal) {
	k := s.sb.Kernel
	for _, t := range k.Processes() {
		if t.Container() == ctr.tag && t.TGID() != ctr.init.PID() {
			k.SignalFromOutside(t.TGID(), sig)
		}
	}
	k.SignalFromOutside(ctr.init.PID(), sig)
}

// stdio makes the standard files of a process started for a client from
// the fds it passed: three (stdin, stdout, stderr), or with a terminal
// one host terminal, connected to a new terminal of the sandbox whose
// slave becomes the process's stdio and controlling terminal.
func (s *sentry) stdio(view *boot.Sandbox, pa *kernel.ProcessArgs, p *specs.Process, fds []int) (*console, error) {
	if p.Terminal {
		if len(fds) != 1 {
			closeAll(fds)
			return nil, errors.New("a process with a terminal needs one terminal fd")
		}
		term, err := s.attachTerminal(view, os.NewFile(uintptr(fds[0]), "console"), p.ConsoleSize, pa.UID, false)
		if err != nil {
			return nil, err
		}
		pa.Stdio = [3]*vfs.FileDescription{term.Slave, term.Slave, term.Slave}
		pa.Terminal = term.Terminal
		return term, nil
	}
	if len(fds) != 3 {
		closeAll(fds)
		return nil, errors.New("a process needs three stdio fds")
	}
	for i, fd := range fds {
		f, err := boot.HostFile(fd)
		if err != nil {
			closeAll(fds[i:])
			return nil, err
		}
		pa.Stdio[i] = f
	}
	return nil, nil
}

// loadWithStdio loads a client's process pa (config process p) with its
// stdio made from the fds the client passed (stdio, load).
func (s *sentry) loadWithStdio(view *boot.Sandbox, pa kernel.ProcessArgs, p *specs.Process, fds []int) (*kernel.Process, *console, error) {
	term, err := s.stdio(view, &pa, p, fds)
	if err != nil {
		return nil, nil, err
	}
	proc, err := s.load(pa, term)
	return proc, term, err
}

// load loads a client's process with its stdio; the stdio's creation
// references are dropped (the process holds its own).
func (s *sentry) load(pa kernel.ProcessArgs, term *console) (*kernel.Process, error) {
	p, err := s.sb.Kernel.Load(pa)
	if term != nil {
		term.Slave.DecRef()
		if err == nil {
			term.SetSession(p.PID(), p.PID())
		} else {
			term.Master.DecRef()
		}
	} else {
		for _, f := range pa.Stdio {
			if f != nil {
				f.DecRef()
			}
		}
	}
	return p, err
}

// follow serves a client connection for process p after its start: the
// client's signal and resize messages reach p, the end of the connection
// kills p (with kill, if not nil, instead), and p's exit status is the
// last message, sent after exited (if not nil) has run.
func (s *sentry) follow(conn *Conn, p *kernel.Process, term *console, kill, exited func()) {
	if kill == nil {
		kill = func() { s.sb.Kernel.SignalFromOutside(p.PID(), unix.SIGKILL) }
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
					kill()
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
		term.finish() // the output reaches the engine before the status
	}
	if exited != nil {
		exited()
	}
	conn.Send(Response{Exited: true, Status: st.ShellCode()})
}

// create makes another container of the pod in this sandbox and follows
// its process like an exec's (see OpCreate); the process runs once
// OpStart names the container. When it exits, the rest of the
// container's processes are killed, as when a PID namespace's init
// exits.
func (s *sentry) create(conn *Conn, req Request, fds []int) {
	defer conn.Close()
	rootFD := -1
	if req.RootFD && len(fds) > 0 {
		rootFD, fds = fds[len(fds)-1], fds[:len(fds)-1]
		defer unix.Close(rootFD) // the root's filesystems hold their own
	}
	fail := func(err error) {
		closeAll(fds)
		conn.Send(Response{Error: err.Error()})
	}
	if req.Container == "" {
		fail(errors.New("create: no container id"))
		return
	}
	if err := CheckID(req.Container); err != nil {
		fail(err)
		return
	}
	spec, err := loadSpec(req.Bundle, false)
	if err != nil {
		fail(err)
		return
	}
	rootName := spec.Root.Path
	if rootFD >= 0 {
		// The stand-in's view of the root (see Request.RootFD).
		spec.Root.Path = fmt.Sprintf("/proc/self/fd/%d", rootFD)
	}
	cfg, err := BootConfig(spec)
	if err != nil {
		fail(err)
		return
	}
	cfg.RootfsName = rootName
	ns, release, err := s.sb.ContainerMounts(cfg)
	if err != nil {
		fail(err)
		return
	}
	// Until the container is gone (every way out of here).
	defer func() {
		if err := release(); err != nil {
			s.log.Warn("writing back shared mappings of bind-mounted files", "container", req.Container, "err", err)
		}
	}()
	ctr := &container{view: s.sb.In(ns), mounts: ns, tag: req.Container, id: req.Container, bundle: req.Bundle,
		hooks: startHooks(spec)}
	pa, err := ProcessArgs(ctr.view, spec.Process)
	if err == nil {
		pa.Seccomp, err = Seccomp(spec)
	}
	if err != nil {
		fail(err)
		return
	}
	ctr.seccomp = pa.Seccomp
	pa.Mounts, pa.Container = ns, ctr.tag
	s.mu.Lock()
	_, taken := s.containers[req.Container]
	if !taken {
		s.containers[req.Container] = ctr // reserved; init set below
	}
	s.mu.Unlock()
	if taken {
		fail(fmt.Errorf("container with id exists: %s", req.Container))
		return
	}
	defer func() {
		s.mu.Lock()
		delete(s.containers, req.Container)
		s.mu.Unlock()
	}()
	p, term, err := s.loadWithStdio(ctr.view, pa, spec.Process, fds)
	if err != nil {
		conn.Send(Response{Error: err.Error()})
		return
	}
	s.mu.Lock()
	ctr.init = p
	s.mu.Unlock()
	if err := conn.Send(Response{PID: p.PID()}); err != nil {
		s.signalAll(ctr, unix.SIGKILL)
	}
	// The container has exited when its init has and the rest of its
	// processes, killed then, are gone; its mounts are released before
	// the stand-in is told (the engine unmounts the rootfs once it
	// sees the container exit).
	s.follow(conn, p, term, func() { s.signalAll(ctr, unix.SIGKILL) }, func() {
		s.signalAll(ctr, unix.SIGKILL)
		s.waitGone(ctr)
		if err := release(); err != nil {
			s.log.Warn("writing back shared mappings of bind-mounted files", "container", req.Container, "err", err)
		}
	})
}

// waitGone waits until no process of ctr is left (5 seconds at most).
func (s *sentry) waitGone(ctr *container) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		left := false
		for _, t := range s.sb.Kernel.Processes() {
			if t.Container() == ctr.tag {
				left = true
				break
			}
		}
		if !left {
			return
		}
	}
	s.log.Warn("processes of the container left after its init's exit", "container", ctr.id)
}

// exec starts a process in a running container and reports its pid,
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
	ctr := s.containers[req.Container]
	s.mu.Unlock()
	switch {
	case paused:
		fail(errors.New("cannot exec in a paused container"))
		return
	case ctr == nil || ctr.init == nil:
		fail(fmt.Errorf("container %s does not exist in this sandbox", req.Container))
		return
	}
	pa, err := ProcessArgs(ctr.view, req.Process)
	if err != nil {
		fail(err)
		return
	}
	pa.Seccomp = ctr.seccomp
	pa.Mounts, pa.Container = ctr.mounts, ctr.tag
	p, term, err := s.loadWithStdio(ctr.view, pa, req.Process, fds)
	if err != nil {
		conn.Send(Response{Error: err.Error()})
		return
	}
	p.Start()
	if err := conn.Send(Response{PID: p.PID()}); err != nil {
		s.sb.Kernel.SignalFromOutside(p.PID(), unix.SIGKILL)
	}
	s.follow(conn, p, term, nil, nil)
}
