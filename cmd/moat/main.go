// Command moat runs untrusted Linux programs on moat's application kernel.
//
//	moat run [flags] -- CMD [ARGS...]   run a program in a new sandbox
//	moat syscalls                       print the system-call support table
//	moat version                        print the version
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/boot"
	"moat/fs/hostfd"
	"moat/fs/inet"
	"moat/kernel"
	"moat/syscalls"
	"moat/vfs"
)

// Version is moat's version.
const Version = "0.1.0"

// Exit codes for moat's own failures, as container engines use them.
const (
	exitSandboxError = 125 // moat could not set up or run the sandbox
	exitCannotExec   = 126 // the command exists but cannot be executed
	exitNotFound     = 127 // the command does not exist in the sandbox
)

// init runs on the main thread, before the Go runtime starts most of its
// threads, which inherit the setting; the few started before it (among
// them sysmon) get it too.
func init() { kernel.PreciseSleepsEverywhere() }

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "version", "--version", "-v":
		fmt.Printf("moat version %s\nspec: %s\ngo: %s\nplatforms: seccomp, ptrace\n", Version, specs.Version, runtime.Version())
		return
	case "help", "-h", "--help":
		usage(os.Stdout)
		return
	}
	g, rest, err := parseGlobals(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "moat: %v\n", err)
		os.Exit(2)
	}
	if len(rest) == 0 {
		usage(os.Stderr)
		os.Exit(2)
	}
	cmd, args := rest[0], rest[1:]
	switch {
	case cmd == "run" && (isOCIRun(args) || g.given && !slices.Contains(args, "--")):
		os.Exit(runOCI(g, "run", args))
	case cmd == "run":
		os.Exit(run(args))
	case cmd == "syscalls":
		printSyscalls(os.Stdout)
	case ociCommands[cmd] != nil:
		os.Exit(runOCI(g, cmd, args))
	default:
		fmt.Fprintf(os.Stderr, "moat: unknown command %q (try: moat help)\n", cmd)
		os.Exit(2)
	}
}

// isOCIRun tells runc's `run [--bundle B] [-d] ID` from moat's own `run
// [flags] -- CMD`: by the flags only the former has, before any "--".
func isOCIRun(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") {
			switch name {
			case "bundle", "b", "detach", "d", "pid-file", "console-socket", "no-pivot", "no-new-keyring", "keep", "preserve-fds":
				return true
			}
		}
	}
	return false
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  moat run [-it] [-v HOST:GUEST[:ro]]... [--user UID[:GID]] [--net none|sandbox|host] [-p [IP:]HOST:GUEST]...
           [--platform seccomp|ptrace] [--syscall-patch on|off] [--rootfs DIR] [--upper DIR] [--cwd DIR] [--strace] [--debug] -- CMD [ARGS...]
  moat syscalls
  moat version

OCI runtime (as container engines call runc):
  moat [--root DIR] [--log FILE] [--log-format text|json] [--debug] [--systemd-cgroup] COMMAND ...
    create [--bundle DIR] [--pid-file F] [--console-socket S] ID
    start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID
    exec [--process F | ID CMD ARGS...] [--detach] [--pid-file F] [--tty] [--console-socket S]
         [--cwd DIR] [--env K=V]... [--user UID[:GID]] ID
    ps [--format table|json] ID | pause ID | resume ID | events [--stats] [--interval D] ID
    run [--bundle DIR] [--detach] [--pid-file F] [--console-socket S] ID
    list [--format table|json] [-q] | spec [--bundle DIR] | features
`)
}

func fail(code int, format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "moat: "+format+"\n", args...)
	return code
}

func run(args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	rootfs := fs.String("rootfs", "", "host `DIR` to use as the sandbox's read-only root (default: the host's /)")
	upper := fs.String("upper", "", "host `DIR` that keeps what the sandbox writes to its root (overlayfs's upper-layer format; empty, or the upper of an earlier run) instead of memory")
	strace := fs.Bool("strace", false, "trace system calls on stderr")
	debug := fs.Bool("debug", false, "log the sentry's debug messages on stderr")
	cwd := fs.String("cwd", "", "working directory in the sandbox (default: /)")
	netMode := fs.String("net", "none", "network: none (loopback only, on the sandbox's own TCP/IP stack), sandbox (that stack with eth0 10.0.2.15 routed to the host's network through moat), or host (the host's network, through sockets moat opens)")
	plat := fs.String("platform", "seccomp", "how app code runs: seccomp (fast), or ptrace (the reference)")
	syscallPatch := fs.String("syscall-patch", "", "on the seccomp platform, rewrite recognised system-call sites in app text to enter moat without a signal: on or off (default: $MOAT_SYSCALL_PATCH, else on)")
	user := fs.String("user", "", "run as `UID[:GID]` inside the sandbox (default: root, 0:0)")
	var publish publishFlags
	fs.Var(&publish, "p", "publish `[IP:]HOST:GUEST`: TCP connections to the host's port HOST reach the sandbox's port GUEST (--net sandbox; repeatable)")
	fs.Var(&publish, "publish", "same as -p")
	var interactive, allocTTY bool
	for _, name := range []string{"i", "interactive"} {
		fs.BoolVar(&interactive, name, false, "keep stdin open (it always is)")
	}
	for _, name := range []string{"t", "tty"} {
		fs.BoolVar(&allocTTY, name, false, "give the program a terminal: a pseudo-terminal of the sandbox, connected to moat's own")
	}
	for _, name := range []string{"it", "ti"} {
		fs.BoolVar(&allocTTY, name, false, "-i and -t")
	}
	var binds bindFlags
	fs.Var(&binds, "v", "bind mount `HOST:GUEST[:ro]`: a host directory or file at GUEST in the sandbox (repeatable)")
	fs.Var(&binds, "volume", "same as -v")
	if err := fs.Parse(args); err != nil {
		return fail(2, "run: %v (usage: moat run [-v HOST:GUEST[:ro]]... [--rootfs DIR] [--strace] [--debug] -- CMD [ARGS...])", err)
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return fail(2, "run: no command given (usage: moat run [flags] -- CMD [ARGS...])")
	}
	switch *netMode {
	case "none", "host", "sandbox":
	default:
		return fail(2, "run: --net %s: not a network mode (none, sandbox or host)", *netMode)
	}
	if len(publish) > 0 && *netMode != "sandbox" {
		return fail(2, "run: -p needs --net sandbox")
	}
	_ = interactive // stdin is always the program's
	if allocTTY && !isTerminal(0) {
		return fail(exitSandboxError, "the input device is not a TTY (-t needs moat's stdin to be a terminal)")
	}
	level := slog.LevelWarn
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if *syscallPatch != "" && *syscallPatch != "on" && *syscallPatch != "off" {
		return fail(2, "run: --syscall-patch %s: neither on nor off", *syscallPatch)
	}
	cfg := boot.Config{Platform: *plat, SyscallPatch: *syscallPatch, Prestart: true, Rootfs: *rootfs, Upper: *upper, Binds: binds, Log: logger, Net: *netMode, Publish: publish}
	if *strace {
		cfg.Strace = os.Stderr
	}
	if *rootfs != "" {
		if st, err := os.Stat(*rootfs); err != nil || !st.IsDir() {
			return fail(exitSandboxError, "--rootfs %s: not a directory on the host", *rootfs)
		}
	}
	if *upper != "" {
		if st, err := os.Stat(*upper); err != nil || !st.IsDir() {
			return fail(exitSandboxError, "--upper %s: not a directory on the host", *upper)
		}
	}
	sb, err := boot.New(cfg)
	if err != nil {
		return fail(exitSandboxError, "cannot start sandbox: %v", err)
	}
	// moat exits when the sandbox ends: its memory (the file cache above
	// all) and its own address space are freed after that, by the holder,
	// not on the way out, and not range by range once init has exited.
	// The holder is started aside (a clone, or an exec where clone3 is
	// missing).
	sb.Kernel.ExitsWithInit()
	go func() {
		if _, err := sb.Kernel.MemoryFile().FreeAfterExit(); err != nil {
			logger.Debug("the sandbox's memory is freed in moat's exit", "err", err)
		}
	}()
	env := os.Environ()
	path, err := sb.LookPath(argv[0], env)
	if err != nil {
		return fail(exitNotFound, "%v", err)
	}
	uid, gid, err := parseUser(*user)
	if err != nil {
		return fail(2, "run: --user %s: %v", *user, err)
	}
	var stdio [3]*vfs.FileDescription
	var term *terminal
	if allocTTY {
		if term, err = startTerminal(sb, uid); err != nil {
			return fail(exitSandboxError, "%v", err)
		}
		defer term.close()
		defer func() {
			if r := recover(); r != nil {
				term.restore()
				panic(r)
			}
		}()
		stdio = [3]*vfs.FileDescription{term.pty.Slave, term.pty.Slave, term.pty.Slave}
	} else if stdio, err = boot.Stdio(); err != nil {
		return fail(exitSandboxError, "%v", err)
	}
	// Signals that end programs reach the sandbox's init, not moat;
	// those moat was started with ignored stay ignored, by moat and by
	// the program, as exec keeps them (nohup's SIGHUP, the SIGINT of a
	// job a shell runs in the background). Go can tell only for these
	// two: it takes over the others before main.
	hostSignals := make(chan os.Signal, 4)
	forward, ignored := []os.Signal{unix.SIGTERM, unix.SIGQUIT}, uint64(0)
	for _, sig := range []unix.Signal{unix.SIGINT, unix.SIGHUP} {
		if signal.Ignored(sig) {
			ignored |= kernel.SigBit(int(sig))
		} else {
			forward = append(forward, sig)
		}
	}
	signal.Notify(hostSignals, forward...)
	go func() {
		for s := range hostSignals {
			sig := s.(unix.Signal)
			// Keys typed at the terminal (Ctrl-C, Ctrl-\) are for the
			// sandbox's foreground job, as a terminal would have it.
			if pg, ok := hostfd.ForegroundGroup(0); ok && (sig == unix.SIGINT || sig == unix.SIGQUIT) {
				sb.Kernel.SignalGroupFromHost(pg, sig)
				continue
			}
			sb.Kernel.SignalFromHost(sig)
		}
	}()
	pa := kernel.ProcessArgs{Path: path, Argv: argv, Envv: env, Cwd: *cwd, Stdio: stdio, UID: uid, GID: gid, Ignored: ignored}
	if term != nil {
		pa.Terminal = term.pty.Terminal
		term.pty.SetSession(1, 1) // init's session and group
	} else if ht := hostfd.NewTerminal(0); ht != nil {
		pa.Terminal = ht // /dev/tty is moat's own terminal
	}
	st, err := sb.Kernel.Run(pa)
	if term != nil {
		term.finish()
	}
	if serr := sb.Sync(); serr != nil {
		logger.Warn("writing back shared mappings of bind-mounted files", "err", serr)
	}
	if err != nil {
		var ue *kernel.UserError
		if errors.As(err, &ue) {
			code := exitCannotExec
			if strings.Contains(ue.Msg, "no such file") {
				code = exitNotFound
			}
			return fail(code, "%s", ue.Msg)
		}
		return fail(exitSandboxError, "%v", err)
	}
	if st.Signal != 0 && *debug {
		logger.Debug("app killed by signal", "signal", unix.SignalName(st.Signal))
	}
	return st.ShellCode()
}

// parseUser parses --user UID[:GID] (numbers: the sandbox has no user
// database of its own); the group defaults to the user id.
func parseUser(s string) (uid, gid uint32, err error) {
	if s == "" {
		return 0, 0, nil
	}
	us, gs, hasGroup := strings.Cut(s, ":")
	u, err := strconv.ParseUint(us, 10, 32)
	if err != nil || u == 1<<32-1 {
		return 0, 0, fmt.Errorf("want a numeric UID[:GID]")
	}
	g := u
	if hasGroup {
		if g, err = strconv.ParseUint(gs, 10, 32); err != nil || g == 1<<32-1 {
			return 0, 0, fmt.Errorf("want a numeric UID[:GID]")
		}
	}
	return uint32(u), uint32(g), nil
}

// publishFlags collects -p [IP:]HOST:GUEST options.
type publishFlags []inet.Publish

func (p *publishFlags) String() string { return fmt.Sprint(len(*p), " ports") }

// Set parses one -p value.
func (p *publishFlags) Set(v string) error {
	parts := strings.Split(v, ":")
	var pub inet.Publish
	if len(parts) == 3 {
		if net.ParseIP(parts[0]) == nil {
			return fmt.Errorf("-p %s: %q is not an IP address", v, parts[0])
		}
		pub.HostIP, parts = parts[0], parts[1:]
	}
	if len(parts) != 2 {
		return fmt.Errorf("-p %s: want [IP:]HOST:GUEST", v)
	}
	for i, dst := range []*int{&pub.HostPort, &pub.GuestPort} {
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("-p %s: %q is not a port (1-65535)", v, parts[i])
		}
		*dst = n
	}
	*p = append(*p, pub)
	return nil
}

// bindFlags collects -v HOST:GUEST[:ro|rw] options.
type bindFlags []boot.Bind

func (b *bindFlags) String() string { return fmt.Sprint(len(*b), " binds") }

// Set parses one -v value. HOST may be relative to moat's working
// directory; GUEST must be an absolute path in the sandbox.
func (b *bindFlags) Set(v string) error {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return fmt.Errorf("-v %s: want HOST:GUEST[:ro]", v)
	}
	bd := boot.Bind{Host: parts[0], Guest: parts[1]}
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			bd.ReadOnly = true
		case "rw":
		default:
			return fmt.Errorf("-v %s: unknown option %q (ro or rw)", v, parts[2])
		}
	}
	abs, err := filepath.Abs(bd.Host)
	if err != nil {
		return fmt.Errorf("-v %s: %v", v, err)
	}
	bd.Host = abs
	if !strings.HasPrefix(bd.Guest, "/") {
		return fmt.Errorf("-v %s: the sandbox path %s must be absolute", v, bd.Guest)
	}
	*b = append(*b, bd)
	return nil
}

// printSyscalls prints the support table: every x86-64 system call with a
// name, its support level and a note.
func printSyscalls(w io.Writer) {
	st := syscalls.New()
	fmt.Fprintf(w, "%-4s %-24s %-16s %s\n", "NR", "NAME", "SUPPORT", "NOTE")
	var full, partial int
	for nr, name := range linux.SyscallNames {
		if name == "" {
			continue
		}
		level, note := kernel.Unimplemented, ""
		if s := st.Lookup(uintptr(nr)); s != nil {
			level, note = s.Support, s.Note
		}
		switch level {
		case kernel.Full:
			full++
		case kernel.Partial:
			partial++
		}
		fmt.Fprintf(w, "%-4d %-24s %-16s %s\n", nr, name, level, note)
	}
	fmt.Fprintf(w, "\n%d full, %d partial; every other call fails with ENOSYS\n", full, partial)
}
