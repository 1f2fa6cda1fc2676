package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"moat/oci"
	"moat/oci/cgroup"
)

// The OCI runtime commands, as container engines call runc:
//
//	moat [--root DIR] [--log FILE] [--log-format text|json] [--debug]
//	     [--systemd-cgroup] COMMAND [FLAGS] ID ...
//
// Errors are one line on stderr and, with --log, a log record there
// (containerd reads the last error from the log); the exit code is 1, as
// runc's.

// globals are the flags before the command.
type globals struct {
	root, logFile, logFormat string
	debug, systemdCgroup     bool
	platform                 string
	given                    bool // any of them was given: an engine is calling
	log                      *slog.Logger
}

// ociCommands are the commands of the OCI runtime interface.
var ociCommands = map[string]func(*globals, []string) error{
	"create":   ociCreate,
	"start":    ociStart,
	"state":    ociState,
	"kill":     ociKill,
	"delete":   ociDelete,
	"exec":     ociExec,
	"ps":       ociPs,
	"pause":    ociPause,
	"resume":   ociResume,
	"events":   ociEvents,
	"list":     ociList,
	"spec":     ociSpec,
	"features": ociFeatures,
	"sentry":   ociSentry,
	"run":      ociRun,
}

// parseGlobals reads the global flags; it returns the rest (the command
// and its arguments).
func parseGlobals(args []string) (*globals, []string, error) {
	g := &globals{}
	fs := flag.NewFlagSet("moat", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&g.root, "root", oci.DefaultRoot, "state directory")
	fs.StringVar(&g.logFile, "log", "", "log file")
	fs.StringVar(&g.logFormat, "log-format", "text", "text or json")
	fs.BoolVar(&g.debug, "debug", false, "debug logging")
	fs.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "cgroup paths are systemd slice:prefix:name")
	fs.StringVar(&g.platform, "platform", "seccomp", "seccomp or ptrace")
	var criu string
	fs.StringVar(&criu, "criu", "", "accepted for runc compatibility")
	rootless := fs.String("rootless", "auto", "accepted for runc compatibility")
	_ = rootless
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	g.given = fs.NFlag() > 0
	if g.logFormat != "text" && g.logFormat != "json" {
		return nil, nil, fmt.Errorf("--log-format %s: want text or json", g.logFormat)
	}
	g.log = slog.New(slog.DiscardHandler)
	if g.logFile != "" {
		f, err := os.OpenFile(g.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("--log %s: %v", g.logFile, err)
		}
		level := slog.LevelInfo
		if g.debug {
			level = slog.LevelDebug
		}
		// Levels and keys as runc's logrus writes them: engines parse
		// {"level":"error","msg":...} records.
		opts := &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.LevelKey {
				a.Value = slog.StringValue(strings.ToLower(a.Value.String()))
			}
			return a
		}}
		if g.logFormat == "json" {
			g.log = slog.New(slog.NewJSONHandler(f, opts))
		} else {
			g.log = slog.New(slog.NewTextHandler(f, opts))
		}
	}
	return g, fs.Args(), nil
}

// runOCI runs an OCI command and returns moat's exit code.
func runOCI(g *globals, cmd string, args []string) int {
	fn := ociCommands[cmd]
	if err := fn(g, args); err != nil {
		var ex exitError
		if errors.As(err, &ex) {
			return int(ex)
		}
		g.log.Error(err.Error())
		fmt.Fprintf(os.Stderr, "moat: %v\n", err)
		return 1
	}
	return 0
}

// exitError is an exit code to return without a message (exec passes
// its process's status on).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// cmdFlags is a command's flag set; flags may come before and between
// positional arguments, as runc's command line allows.
type cmdFlags struct {
	*flag.FlagSet
	name string
}

func newFlags(name string) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &cmdFlags{fs, name}
}

// parse returns the positional arguments; with stopAfter > 0, everything
// after that many positionals is returned unparsed (exec's command).
func (f *cmdFlags) parse(args []string, stopAfter int) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			return nil, fmt.Errorf("%s: %v", f.name, err)
		}
		args = f.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if stopAfter > 0 && len(pos)+1 == stopAfter {
			pos = append(pos, args[0])
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// boolFlags defines a bool flag under several names.
func (f *cmdFlags) boolFlags(p *bool, names ...string) {
	for _, n := range names {
		f.BoolVar(p, n, false, "")
	}
}

func (f *cmdFlags) stringFlags(p *string, def string, names ...string) {
	for _, n := range names {
		f.StringVar(p, n, def, "")
	}
}

// oneID checks that exactly one container id was given.
func oneID(cmd string, pos []string) (string, error) {
	if len(pos) != 1 {
		return "", fmt.Errorf("%s: requires exactly 1 argument (the container id)", cmd)
	}
	return pos[0], nil
}

func ociCreate(g *globals, args []string) error {
	f := newFlags("create")
	var bundle, pidFile, consoleSocket string
	f.stringFlags(&bundle, ".", "bundle", "b")
	f.StringVar(&pidFile, "pid-file", "", "")
	f.StringVar(&consoleSocket, "console-socket", "", "")
	var ignored bool
	f.boolFlags(&ignored, "no-pivot", "no-new-keyring")
	f.Int("preserve-fds", 0, "")
	pos, err := f.parse(args, 0)
	if err != nil {
		return err
	}
	id, err := oneID("create", pos)
	if err != nil {
		return err
	}
	_, err = create(g, id, bundle, pidFile, consoleSocket)
	return err
}

// create makes container id from bundle: it starts the sentry, which
// builds the sandbox and loads the process, and runs the create hooks.
func create(g *globals, id, bundle, pidFile, consoleSocket string) (*exec.Cmd, error) {
	if err := oci.CheckID(id); err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, err
	}
	spec, err := oci.LoadSpec(bundle)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(spec.Root.Path); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("rootfs %s: not a directory", spec.Root.Path)
	}
	if spec.Process.Terminal && consoleSocket == "" {
		return nil, errors.New("cannot allocate tty if runc will detach without setting console socket")
	}
	if !spec.Process.Terminal && consoleSocket != "" {
		return nil, errors.New("cannot use console socket if runc will not detach or allocate tty")
	}
	c, err := oci.NewContainer(g.root, id, bundle, spec)
	if err != nil {
		return nil, err
	}
	cmd, err := startSentry(g, c, spec, consoleSocket)
	if err != nil {
		discard(g, c)
		return nil, err
	}
	if err := func() error {
		c, err = oci.Load(g.root, id)
		if err != nil {
			return err
		}
		if spec.Hooks != nil {
			st := c.State()
			for _, h := range []struct {
				kind  string
				hooks []specs.Hook
			}{{"prestart", spec.Hooks.Prestart}, {"createRuntime", spec.Hooks.CreateRuntime}, {"createContainer", spec.Hooks.CreateContainer}} {
				if err := oci.RunHooks(h.kind, h.hooks, st); err != nil {
					return err
				}
			}
		}
		if pidFile != "" {
			return writePidFile(pidFile, c.Pid)
		}
		return nil
	}(); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		discard(g, c)
		return nil, err
	}
	return cmd, nil
}

// discard removes what a failed create made: the cgroup the sentry may
// have joined, and the state.
func discard(g *globals, c *oci.Container) {
	if rec, err := oci.Load(g.root, c.ID); err == nil {
		removeCgroup(g, rec) // the sentry may have recorded one
	}
	c.Remove()
}

// removeCgroup removes the container's cgroup, if it has one.
func removeCgroup(g *globals, c *oci.Container) {
	if c.CgroupPath == "" {
		return
	}
	if cg, err := cgroup.Open(c.CgroupPath); err == nil {
		if err := cg.Destroy(); err != nil {
			g.log.Warn("removing the cgroup", "path", c.CgroupPath, "err", err)
		}
	}
}

// startSentry starts `moat sentry` for c, in the network namespace the
// config names, and waits for it to report the container created.
func startSentry(g *globals, c *oci.Container, spec *specs.Spec, consoleSocket string) (*exec.Cmd, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	args := []string{"--root", g.root, "--platform", g.platform}
	if g.logFile != "" {
		args = append(args, "--log", g.logFile, "--log-format", g.logFormat)
	}
	if g.debug {
		args = append(args, "--debug")
	}
	if g.systemdCgroup {
		args = append(args, "--systemd-cgroup")
	}
	args = append(args, "sentry", "--id", c.ID)
	if pod := oci.PodSandbox(c.ID, spec); pod != "" {
		args = append(args, "--join", pod)
	}
	if consoleSocket != "" {
		args = append(args, "--console-socket", consoleSocket)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true}
	var clone uintptr
	var join []oci.NamespaceJoin
	if oci.PodSandbox(c.ID, spec) == "" { // a pod's container's stand-in needs none
		if clone, join, err = oci.SentryNamespaces(spec); err != nil {
			w.Close()
			return nil, err
		}
	}
	if err := startIn(cmd, clone, join); err != nil {
		w.Close()
		return nil, err
	}
	w.Close()
	msg, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	if string(msg) != "ok\n" {
		cmd.Process.Kill()
		cmd.Wait()
		if len(msg) == 0 {
			return nil, errors.New("the sentry exited before creating the container")
		}
		return nil, errors.New(strings.TrimSpace(string(msg)))
	}
	return cmd, nil
}

// startIn starts cmd in new host namespaces (clone flags) and in the
// ones it joins: it is forked from a thread that joined them, and that
// thread is then discarded.
func startIn(cmd *exec.Cmd, clone uintptr, join []oci.NamespaceJoin) error {
	cmd.SysProcAttr.Cloneflags |= clone
	if len(join) == 0 {
		return cmd.Start()
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		for _, ns := range join {
			fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				done <- fmt.Errorf("namespace %s: %w", ns.Path, err)
				return
			}
			err = unix.Setns(fd, ns.Type)
			unix.Close(fd)
			if err != nil {
				done <- fmt.Errorf("joining namespace %s: %w", ns.Path, err)
				return
			}
		}
		done <- cmd.Start()
	}()
	return <-done
}

// writePidFile writes pid to path atomically, as runc does.
func writePidFile(path string, pid int) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	return oci.WriteFileAtomic(path, []byte(strconv.Itoa(pid)), 0o644)
}

// ociSentry is the sentry process itself (started by create).
func ociSentry(g *globals, args []string) error {
	f := newFlags("sentry")
	var id, consoleSocket, join string
	f.StringVar(&id, "id", "", "")
	f.StringVar(&consoleSocket, "console-socket", "", "")
	f.StringVar(&join, "join", "", "")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	// Nothing the sentry inherited may reach the processes it starts.
	closeOnExecFrom(3)
	ready := os.NewFile(3, "ready")
	o := oci.SentryOptions{Root: g.root, ID: id, Platform: g.platform, ConsoleSocket: consoleSocket,
		SystemdCgroup: g.systemdCgroup, Log: g.log, Ready: ready}
	if join == "" {
		var err error
		if o.HostPid, o.HostPidStart, err = oci.EnterSentryPidNS(); err != nil {
			fmt.Fprintf(ready, "%v\n", err)
			os.Exit(1)
		}
	}
	if join != "" {
		os.Exit(oci.RunStandIn(o, join))
	}
	os.Exit(oci.RunSentry(o))
	return nil
}

// closeOnExecFrom marks every open fd from min on close-on-exec.
func closeOnExecFrom(min int) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= min {
			unix.CloseOnExec(fd)
		}
	}
}

// loadLive loads container id and checks the sentry is there to ask.
func loadLive(g *globals, id string) (*oci.Container, error) {
	c, err := oci.Load(g.root, id)
	if err != nil {
		return nil, err
	}
	if c.CurrentStatus() == specs.StateStopped {
		return c, errors.New("container not running")
	}
	return c, nil
}

func ociStart(g *globals, args []string) error {
	pos, err := newFlags("start").parse(args, 0)
	if err != nil {
		return err
	}
	id, err := oneID("start", pos)
	if err != nil {
		return err
	}
	c, err := oci.Load(g.root, id)
	if err != nil {
		return err
	}
	switch c.CurrentStatus() {
	case specs.StateStopped:
		return errors.New("cannot start a container that has stopped")
	case specs.StateRunning, oci.StatusPaused:
		return errors.New("cannot start an already running container")
	case specs.StateCreating:
		return errors.New("cannot start a container that is still being created")
	}
	if _, err := oci.Call(c.ControlSocket(), oci.Request{Op: oci.OpStart}); err != nil {
		return err
	}
	if c.Hooks != nil {
		// The state as the process started it: running, even if it
		// has already exited (c was loaded before the start).
		st := c.State()
		st.Status = specs.StateRunning
		if err := oci.RunHooks("poststart", c.Hooks.Poststart, st); err != nil {
			g.log.Warn(err.Error()) // the container runs on, as the spec says
		}
	}
	return nil
}

// stateJSON is what `state` prints: the spec's state plus the fields
// runc adds, which engines read.
type stateJSON struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func stateOf(c *oci.Container) stateJSON {
	st := c.State()
	return stateJSON{OCIVersion: st.Version, ID: c.ID, Pid: st.Pid, Status: string(st.Status), Bundle: c.Bundle,
		Rootfs: c.Rootfs, Created: c.Created, Owner: c.Owner, Annotations: c.Annotations}
}

func ociState(g *globals, args []string) error {
	pos, err := newFlags("state").parse(args, 0)
	if err != nil {
		return err
	}
	id, err := oneID("state", pos)
	if err != nil {
		return err
	}
	c, err := oci.Load(g.root, id)
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(stateOf(c), "", "  ")
	fmt.Printf("%s\n", b)
	return nil
}

// parseSignal reads a signal as a number, a name, or a name without SIG.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal: %s", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

func ociKill(g *globals, args []string) error {
	f := newFlags("kill")
	var all bool
	f.boolFlags(&all, "all", "a")
	pos, err := f.parse(args, 0)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return errors.New("kill: requires the container id and an optional signal")
	}
	sig := unix.SIGTERM
	if len(pos) == 2 {
		if sig, err = parseSignal(pos[1]); err != nil {
			return err
		}
	}
	c, err := loadLive(g, pos[0])
	if all && c != nil && c.CurrentStatus() == specs.StateStopped {
		// Nothing is left to signal (a stopped container's processes
		// are gone): runc's kill --all succeeds too. containerd's shim
		// sends it when the init of a container sharing a PID
		// namespace (a pod's) has exited.
		return nil
	}
	if err != nil {
		return err
	}
	_, err = oci.Call(c.ControlSocket(), oci.Request{Op: oci.OpKill, Signal: int(sig), All: all})
	if err != nil && sig == unix.SIGKILL && c.Alive() {
		return c.Kill(unix.SIGKILL) // a sentry that does not answer still goes
	}
	return err
}

func ociDelete(g *globals, args []string) error {
	f := newFlags("delete")
	var force bool
	f.boolFlags(&force, "force", "f")
	pos, err := f.parse(args, 0)
	if err != nil {
		return err
	}
	id, err := oneID("delete", pos)
	if err != nil {
		return err
	}
	c, err := oci.Load(g.root, id)
	if err != nil {
		if force && strings.Contains(err.Error(), "does not exist") {
			return nil
		}
		return err
	}
	switch st := c.CurrentStatus(); st {
	case specs.StateStopped:
		// Its process has exited; the sentry may still be on its way out.
		if !c.WaitGone(2 * time.Second) {
			stopSentry(c)
		}
	case specs.StateCreated, specs.StateCreating:
		stopSentry(c)
	default:
		if !force {
			return fmt.Errorf("cannot delete container %s that is not stopped: %s", id, st)
		}
		stopSentry(c)
	}
	return cleanup(g, c)
}

// cleanup removes what a stopped container leaves: its cgroup and its
// state, running the poststop hooks.
func cleanup(g *globals, c *oci.Container) error {
	removeCgroup(g, c)
	if c.Hooks != nil {
		st := c.State()
		st.Status = specs.StateStopped
		if err := oci.RunHooks("poststop", c.Hooks.Poststop, st); err != nil {
			g.log.Warn(err.Error()) // deletion goes on, as the spec says
		}
	}
	return c.Remove()
}

// stopSentry kills the container's sentry and waits for it to go.
func stopSentry(c *oci.Container) {
	c.Kill(unix.SIGKILL)
	c.WaitGone(5 * time.Second)
}

func ociPause(g *globals, args []string) error  { return simpleOp(g, "pause", oci.OpPause, args) }
func ociResume(g *globals, args []string) error { return simpleOp(g, "resume", oci.OpResume, args) }

func simpleOp(g *globals, name, op string, args []string) error {
	pos, err := newFlags(name).parse(args, 0)
	if err != nil {
		return err
	}
	id, err := oneID(name, pos)
	if err != nil {
		return err
	}
	c, err := loadLive(g, id)
	if err != nil {
		return err
	}
	_, err = oci.Call(c.ControlSocket(), oci.Request{Op: op})
	return err
}

func ociPs(g *globals, args []string) error {
	f := newFlags("ps")
	var format string
	f.stringFlags(&format, "table", "format", "f")
	pos, err := f.parse(args, 0)
	if err != nil {
		return err
	}
	if len(pos) < 1 {
		return errors.New("ps: requires the container id")
	}
	c, err := loadLive(g, pos[0])
	if err != nil {
		return err
	}
	if format == "json" {
		// Host pids, as runc gives: engines look them up on the host
		// (docker top runs ps -ef and keeps these), where the
		// container is the sentry and the processes it started.
		b, _ := json.Marshal(oci.HostPids(c.Pid))
		fmt.Printf("%s\n", b)
		return nil
	}
	resp, err := oci.Call(c.ControlSocket(), oci.Request{Op: oci.OpPs})
	if err != nil {
		return err
	}
	switch format {
	case "table":
		w := tabwriter.NewWriter(os.Stdout, 0, 8, 1, ' ', 0)
		fmt.Fprintln(w, "UID\tPID\tPPID\tSTAT\tCMD")
		for _, p := range resp.Procs {
			fmt.Fprintf(w, "%d\t%d\t%d\t%s\t%s\n", p.UID, p.PID, p.PPID, p.State, p.Cmd)
		}
		w.Flush()
	default:
		return fmt.Errorf("ps: invalid format %q (table or json)", format)
	}
	return nil
}

func ociList(g *globals, args []string) error {
	f := newFlags("list")
	var format string
	var quiet bool
	f.stringFlags(&format, "table", "format", "f")
	f.boolFlags(&quiet, "quiet", "q")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	cs, err := oci.List(g.root)
	if err != nil {
		return err
	}
	var out []stateJSON
	for _, c := range cs {
		out = append(out, stateOf(c))
	}
	switch {
	case quiet:
		for _, s := range out {
			fmt.Println(s.ID)
		}
	case format == "json":
		if out == nil {
			out = []stateJSON{}
		}
		b, _ := json.Marshal(out)
		fmt.Printf("%s\n", b)
	case format == "table":
		w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
		fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
		for _, s := range out {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
		}
		w.Flush()
	default:
		return fmt.Errorf("list: invalid format %q (table or json)", format)
	}
	return nil
}

// ociEvents prints the container's statistics every interval (--stats:
// once) as runc's events does, until the container stops.
func ociEvents(g *globals, args []string) error {
	f := newFlags("events")
	var stats bool
	f.BoolVar(&stats, "stats", false, "")
	interval := f.Duration("interval", 5*time.Second, "")
	pos, err := f.parse(args, 0)
	if err != nil {
		return err
	}
	id, err := oneID("events", pos)
	if err != nil {
		return err
	}
	if *interval <= 0 {
		return errors.New("events: --interval must be positive")
	}
	for {
		c, err := loadLive(g, id)
		if err != nil {
			return err
		}
		data, err := containerStats(c)
		if err != nil {
			return err
		}
		ev := map[string]any{"type": "stats", "id": id, "data": data}
		b, _ := json.Marshal(ev)
		fmt.Printf("%s\n", b)
		if stats {
			return nil
		}
		time.Sleep(*interval)
	}
}

// containerStats are the container's statistics in the shape of runc's
// events: from its cgroup when it has one, else the process count.
func containerStats(c *oci.Container) (map[string]any, error) {
	resp, err := oci.Call(c.ControlSocket(), oci.Request{Op: oci.OpPs})
	if err != nil {
		return nil, err
	}
	data := map[string]any{"pids": map[string]any{"current": len(resp.Procs)}}
	if c.CgroupPath == "" {
		return data, nil
	}
	cg, err := cgroup.Open(c.CgroupPath)
	if err != nil {
		return data, nil
	}
	st, err := cg.Stats()
	if err != nil {
		return data, nil
	}
	data["cpu"] = map[string]any{"usage": map[string]any{"total": st.CPU.Total, "user": st.CPU.User, "kernel": st.CPU.System, "percpu": st.CPU.PerCPU},
		"throttling": map[string]any{"periods": st.CPU.Periods, "throttledPeriods": st.CPU.ThrottledPeriods, "throttledTime": st.CPU.ThrottledTime}}
	data["memory"] = map[string]any{"usage": map[string]any{"usage": st.Memory.Usage, "max": st.Memory.MaxUsage, "limit": st.Memory.Limit, "failcnt": st.Memory.Failcnt},
		"swap": map[string]any{"usage": st.Memory.SwapUsage, "limit": st.Memory.SwapLimit}, "raw": st.Memory.Stat}
	data["pids"] = map[string]any{"current": len(resp.Procs), "limit": st.Pids.Limit}
	return data, nil
}

// ociExec runs a new process in a running container.
func ociExec(g *globals, args []string) error {
	f := newFlags("exec")
	var processFile, pidFile, consoleSocket, cwd, user string
	var detach, tty, noNewPrivs, ignored bool
	var env, gids, caps listFlag
	f.stringFlags(&processFile, "", "process", "p")
	f.StringVar(&pidFile, "pid-file", "", "")
	f.StringVar(&consoleSocket, "console-socket", "", "")
	f.StringVar(&cwd, "cwd", "", "")
	f.stringFlags(&user, "", "user", "u")
	f.boolFlags(&detach, "detach", "d")
	f.boolFlags(&tty, "tty", "t")
	f.BoolVar(&noNewPrivs, "no-new-privs", false, "")
	f.boolFlags(&ignored, "ignore-paused")
	for _, n := range []string{"env", "e"} {
		f.Var(&env, n, "")
	}
	for _, n := range []string{"additional-gids", "g"} {
		f.Var(&gids, n, "")
	}
	for _, n := range []string{"cap", "c"} {
		f.Var(&caps, n, "")
	}
	var label string
	f.StringVar(&label, "process-label", "", "")
	f.StringVar(&label, "apparmor", "", "")
	f.Int("preserve-fds", 0, "")
	waiter := os.Getenv("_MOAT_EXEC_WAITER") != ""
	pos, err := f.parse(args, 1)
	if err != nil {
		return err
	}
	if len(pos) < 1 {
		return errors.New("exec: requires the container id")
	}
	id := pos[0]
	c, err := loadLive(g, id)
	if err != nil {
		return err
	}
	if st := c.CurrentStatus(); st != specs.StateRunning && st != specs.StateCreated {
		return fmt.Errorf("cannot exec in a %s container", st)
	}
	spec, err := oci.LoadSpec(c.Bundle)
	if err != nil {
		return err
	}
	var p *specs.Process
	if processFile != "" {
		b, err := os.ReadFile(processFile)
		if err != nil {
			return err
		}
		p = &specs.Process{}
		if err := json.Unmarshal(b, p); err != nil {
			return fmt.Errorf("exec: --process %s: malformed: %v", processFile, err)
		}
	} else {
		if len(pos) < 2 {
			return errors.New("exec: no command given (ID COMMAND [ARGS...] or --process FILE)")
		}
		base := *spec.Process
		p = &base
		p.Args = pos[1:]
		p.Terminal = tty
		p.Env = append(append([]string(nil), base.Env...), env...)
		if cwd != "" {
			p.Cwd = cwd
		}
		if user != "" {
			uid, gid, err := parseUser(user)
			if err != nil {
				return fmt.Errorf("exec: --user %s: %v", user, err)
			}
			p.User = specs.User{UID: uid, GID: gid}
		}
		for _, gs := range gids {
			n, err := strconv.ParseUint(gs, 10, 32)
			if err != nil {
				return fmt.Errorf("exec: --additional-gids %s: not a number", gs)
			}
			p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
		}
		if len(caps) > 0 && p.Capabilities != nil {
			c := *p.Capabilities
			c.Bounding = append(append([]string(nil), c.Bounding...), caps...)
			c.Effective = append(append([]string(nil), c.Effective...), caps...)
			c.Permitted = append(append([]string(nil), c.Permitted...), caps...)
			p.Capabilities = &c
		}
		p.NoNewPrivileges = p.NoNewPrivileges || noNewPrivs
	}
	if p.Terminal && consoleSocket == "" && (detach || waiter) {
		return errors.New("cannot allocate tty if runc will detach without setting console socket")
	}
	if detach && !waiter {
		return detachExec(pidFile)
	}
	return runExec(g, c, p, consoleSocket, pidFile, waiter)
}

// detachExec starts this exec command again, without --detach, as a
// process of its own that stands for the container's new process (the
// engine waits for it, signals it, and reads its exit status), and
// returns once it reports the process started.
func detachExec(pidFile string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Env = append(os.Environ(), "_MOAT_EXEC_WAITER=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return err
	}
	w.Close()
	msg, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	if string(msg) != "ok\n" {
		cmd.Wait()
		if len(msg) == 0 {
			return errors.New("exec failed")
		}
		return errors.New(strings.TrimSpace(string(msg)))
	}
	return nil
}

// runExec asks the sentry to start p, passing this process's stdio (or a
// new terminal, whose master goes to the console socket), then forwards
// signals and resizes until it exits, and exits with its status.
func runExec(g *globals, c *oci.Container, p *specs.Process, consoleSocket, pidFile string, waiter bool) (err error) {
	var ready *os.File
	if waiter {
		ready = os.NewFile(3, "ready")
		defer func() {
			// Until ready is told "ok", an error is exec's to print;
			// after, the error is the process's exit status.
			if err != nil && ready != nil {
				fmt.Fprintf(ready, "%v\n", err)
				ready.Close()
				err = exitError(1)
			}
		}()
	}
	conn, err := oci.Dial(c.ControlSocket())
	if err != nil {
		return err
	}
	defer conn.Close()
	// Signals are caught from before the terminal reaches the engine:
	// the engine may resize it as soon as it has the master (the CRI
	// plugin does once the process has started), and that SIGWINCH
	// must not be lost.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	var slave *os.File
	ctty := false // slave is our controlling terminal: its resizes reach us
	fds := []int{0, 1, 2}
	if p.Terminal {
		if consoleSocket == "" {
			if !isTerminal(0) {
				return errors.New("exec --tty needs a terminal on stdin or --console-socket")
			}
		}
		master, s, err := oci.OpenHostPty()
		if err != nil {
			return err
		}
		slave = s
		defer slave.Close()
		ctty = unix.IoctlSetInt(int(slave.Fd()), unix.TIOCSCTTY, 0) == nil
		if consoleSocket != "" {
			err = oci.SendConsole(consoleSocket, master, slave.Name())
			master.Close()
			if err != nil {
				return err
			}
		} else {
			go io.Copy(master, os.Stdin)
			go io.Copy(os.Stdout, master)
		}
		fds = []int{int(slave.Fd())}
	}
	if err := conn.Send(oci.Request{Op: oci.OpExec, Process: p}, fds...); err != nil {
		return err
	}
	var resp oci.Response
	if _, err := conn.Receive(&resp); err != nil {
		return err
	}
	if resp.Error != "" {
		return errors.New(resp.Error)
	}
	if pidFile != "" {
		if err := writePidFile(pidFile, os.Getpid()); err != nil {
			conn.Send(oci.Request{Op: oci.OpSignal, Signal: int(unix.SIGKILL)})
			return err
		}
	}
	if waiter {
		io.WriteString(ready, "ok\n")
		ready.Close()
		ready = nil
		oci.DetachStdio()
	}
	if slave != nil && !ctty {
		slave.Close() // not our controlling terminal: resizes cannot reach us
		slave = nil
	}
	go func() {
		for s := range sigs {
			sig := s.(unix.Signal)
			switch sig {
			case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
			case unix.SIGWINCH:
				if slave != nil {
					if ws, err := unix.IoctlGetWinsize(int(slave.Fd()), unix.TIOCGWINSZ); err == nil {
						conn.Send(oci.Request{Op: oci.OpResize, Rows: ws.Row, Cols: ws.Col})
					}
				}
			default:
				conn.Send(oci.Request{Op: oci.OpSignal, Signal: int(sig)})
			}
		}
	}()
	for {
		var m oci.Response
		if _, err := conn.Receive(&m); err != nil {
			g.log.Warn("lost the sentry before the process exited", "err", err)
			return exitError(255)
		}
		if m.Exited {
			return exitError(m.Status)
		}
	}
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// ociRun is runc's run: create and start a container, and (without
// --detach) wait for its process and exit with its status.
func ociRun(g *globals, args []string) error {
	f := newFlags("run")
	var bundle, pidFile, consoleSocket string
	var detach, ignored bool
	f.stringFlags(&bundle, ".", "bundle", "b")
	f.StringVar(&pidFile, "pid-file", "", "")
	f.StringVar(&consoleSocket, "console-socket", "", "")
	f.boolFlags(&detach, "detach", "d")
	f.boolFlags(&ignored, "no-pivot", "no-new-keyring", "keep")
	f.Int("preserve-fds", 0, "")
	pos, err := f.parse(args, 0)
	if err != nil {
		return err
	}
	id, err := oneID("run", pos)
	if err != nil {
		return err
	}
	cmd, err := create(g, id, bundle, pidFile, consoleSocket)
	if err != nil {
		return err
	}
	if err := ociStart(g, []string{id}); err != nil {
		return err
	}
	if detach {
		return nil
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	c, err := oci.Load(g.root, id)
	if err != nil {
		return err
	}
	go func() {
		for s := range sigs {
			oci.Call(c.ControlSocket(), oci.Request{Op: oci.OpKill, Signal: int(s.(unix.Signal))})
		}
	}()
	cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	if c, err = oci.Load(g.root, id); err == nil {
		cleanup(g, c)
	}
	return exitError(code)
}

// ociSpec writes a starting config.json, as runc spec does.
func ociSpec(g *globals, args []string) error {
	f := newFlags("spec")
	var bundle string
	var rootless bool
	f.stringFlags(&bundle, ".", "bundle", "b")
	f.BoolVar(&rootless, "rootless", false, "")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	p := filepath.Join(bundle, "config.json")
	if _, err := os.Stat(p); err == nil {
		return fmt.Errorf("File %s exists. Remove it first", p)
	}
	b, _ := json.MarshalIndent(oci.DefaultSpec(), "", "\t")
	return os.WriteFile(p, append(b, '\n'), 0o666)
}

func ociFeatures(g *globals, args []string) error {
	b, _ := json.MarshalIndent(oci.Features(), "", "    ")
	fmt.Printf("%s\n", b)
	return nil
}
