// Command bench runs small static workloads natively and inside moat, on
// each of its platforms (-platforms, default ptrace and seccomp), in one run
// and prints, for each, the median of several runs on every side and the
// ratio moat/native per platform. It also measures the floor of the ptrace
// platform: a raw PTRACE_SYSEMU round trip, served by a tiny C tracer; and
// the CPU moat burns while its program sleeps (the idle row).
//
// Run it from the module root:
//
//	go run ./bench                    # builds ./cmd/moat into a temp dir
//	go run ./bench -moat ./moat -runs 11 -json
//	go run ./bench -platforms seccomp
//
// The workloads are C programs (workloads/*.c, embedded in this command)
// compiled with gcc -static -O2 at start. Each one times its own loop with
// CLOCK_MONOTONIC and prints nanoseconds per iteration, so process start-up
// is not in the per-operation numbers; the start-up row and the real-world
// rows (python3 start, gcc -c, a shell loop) are timed from here, whole
// process.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

//go:embed workloads/*.c workloads/*.h
var sources embed.FS

// ccSource is the input of the gcc row, written to the work directory as
// ccInput (moat sees /var/tmp, not the host's /tmp).
//
//go:embed cc/small.c
var ccSource []byte

const ccInput = "cc-small.c"

// Host programs of the real-world rows. A row whose program is missing is
// skipped, with a note in the table.
const (
	python3Path = "/usr/bin/python3"
	gccPath     = "/usr/bin/gcc"
	shPath      = "/bin/sh"
	truePath    = "/bin/true"
	tarPath     = "/usr/bin/tar"
)

// The tar row extracts a tarball of tarSource, which the bench builds once
// into the work directory as tarInput.
const (
	tarSource = "/usr/include/linux"
	tarInput  = "tar-input.tar"
)

// tmpDirArg, as an argument of a workload, stands for a directory the
// workload may write to: natively a fresh directory under nativeTmp, made
// before each run and removed after it; inside moat moatTmp, moat's
// private in-memory tmpfs (new with every sandbox). The two are different
// filesystems when the host's /tmp is on disk.
const (
	tmpDirArg = "@TMPDIR@"
	nativeTmp = "/tmp"
	moatTmp   = "/tmp"
)

type config struct {
	runs      int
	scale     float64
	timeout   time.Duration
	moatPath  string
	moatFlags []string
	openFile  string
	preadFile string
	workdir   string
	keep      bool
	only      map[string]bool
	jsonOut   bool
	quiet     bool
	cpu       int
	platforms []string
}

// idleMS is how long the idle row's sleeper sleeps; the CPU moat uses is
// sampled at idleFrom and idleTo after the start, inside that sleep.
const (
	idleMS   = 3000
	idleFrom = 500 * time.Millisecond
	idleTo   = 2500 * time.Millisecond
)

// workload is one row of the table.
type workload struct {
	key        string
	name       string
	unit       string   // what one nanosecond figure is per: "op", "page", "run"
	argv       []string // absolute program path and arguments
	wall       bool     // timed here, whole process; else the program prints ns/iteration
	idle       bool     // CPU used from idleFrom to idleTo, sampled from /proc; see runIdle
	nativeOnly bool
	// skip, if set, says why the row is not run (a program it needs is
	// missing); the table shows it as skipped, which is not a failure.
	skip string
	// unsupported maps a platform to the error name (e.g. "ENOSYS") that a
	// run there is expected to fail with: such a failure marks the cell
	// unsupported, not failed, and does not set the exit status.
	unsupported map[string]string
}

func main() {
	os.Exit(run())
}

func run() int {
	var cfg config
	var moatFlags, only, platforms string
	flag.IntVar(&cfg.runs, "runs", 7, "runs per workload and side; the median is reported")
	flag.Float64Var(&cfg.scale, "scale", 1, "multiply every workload's iteration count by this")
	flag.DurationVar(&cfg.timeout, "timeout", 2*time.Minute, "kill one run of a workload after this long")
	flag.StringVar(&cfg.moatPath, "moat", "", "moat binary (default: go build -o TMP/moat ./cmd/moat)")
	flag.StringVar(&moatFlags, "moat-flags", "", "extra flags for `moat run`, space-separated, placed before --")
	flag.StringVar(&cfg.openFile, "openfile", "/etc/passwd", "host file for the open+close and stat workloads (must be visible inside moat)")
	flag.StringVar(&cfg.preadFile, "preadfile", "/bin/busybox", "host file of >= 4 KiB for the pread workload")
	flag.StringVar(&cfg.workdir, "workdir", "", "directory for the compiled workloads (default: a new temp dir under /var/tmp, which moat sees from the host; its /tmp is a tmpfs)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work directory")
	flag.StringVar(&only, "only", "", "comma-separated workload keys to run (getpid,openclose,pread,stat,createunlink,pwrite,getdents,pagefault,start,tar,fork,exec,pipe,pipe-epoll,unix-pingpong,unix-stream,tcp-pingpong,tcp-stream,http,http-keepalive,thread,futex,signal,python,gcc,shloop,idle,sysemu)")
	flag.BoolVar(&cfg.jsonOut, "json", false, "print JSON instead of the table")
	flag.BoolVar(&cfg.quiet, "q", false, "no progress on stderr")
	flag.IntVar(&cfg.cpu, "cpu", -1, "bind every workload process, native and moat, to this CPU (default: no binding)")
	flag.StringVar(&platforms, "platforms", "ptrace,seccomp,seccomp+patch", "comma-separated moat platforms (`moat run --platform P`), one column each; seccomp is seccomp with --syscall-patch off, seccomp+patch with it on (moat's default)")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "bench: unexpected arguments %q\n", flag.Args())
		return 2
	}
	if cfg.runs < 1 || !(cfg.scale > 0) || cfg.timeout <= 0 {
		fmt.Fprintln(os.Stderr, "bench: -runs, -scale and -timeout must be positive")
		return 2
	}
	cfg.moatFlags = strings.Fields(moatFlags)
	var err error
	if cfg.platforms, err = parsePlatforms(platforms); err != nil {
		fmt.Fprintln(os.Stderr, "bench: -platforms:", err)
		return 2
	}
	if only != "" {
		cfg.only = map[string]bool{}
		for _, k := range strings.Split(only, ",") {
			if k = strings.TrimSpace(k); k != "" {
				cfg.only[k] = true
			}
		}
		if len(selected(cfg, workloads(cfg))) == 0 {
			fmt.Fprintf(os.Stderr, "bench: -only %q selects no workload\n", only)
			return 2
		}
	}

	if cfg.cpu >= 0 {
		var allowed unix.CPUSet
		if err := unix.SchedGetaffinity(0, &allowed); err != nil || cfg.cpu >= 1024 || !allowed.IsSet(cfg.cpu) {
			fmt.Fprintf(os.Stderr, "bench: -cpu %d: not a CPU this process may run on (nproc=%d)\n", cfg.cpu, runtime.NumCPU())
			return 2
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := setupWorkdir(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if !cfg.keep {
		defer os.RemoveAll(cfg.workdir)
	}

	b := &bench{cfg: cfg}
	b.progress("compiling workloads in %s", cfg.workdir)
	if err := compileWorkloads(ctx, cfg.workdir); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if err := os.WriteFile(filepath.Join(cfg.workdir, ccInput), ccSource, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if wls := selected(cfg, workloads(cfg)); slices.ContainsFunc(wls, func(wl workload) bool { return wl.key == "tar" && wl.skip == "" }) {
		n, err := buildTarball(tarSource, filepath.Join(cfg.workdir, tarInput))
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: building the tar row's input:", err)
			return 1
		}
		b.progress("tarball of %s: %d entries", tarSource, n)
	}
	b.prepareMoat(ctx)
	if cfg.cpu >= 0 { // after the builds, which may use every CPU
		if err := bindCPU(cfg.cpu); err != nil {
			fmt.Fprintf(os.Stderr, "bench: -cpu %d: %v\n", cfg.cpu, err)
			return 1
		}
	}

	rep := &Report{Machine: machine(), Runs: cfg.runs, CPU: cfg.cpu, Platforms: cfg.platforms}
	if b.moat != "" {
		rep.Machine.Moat = b.moat
	}
	rep.Rows = b.measureAll(ctx, selected(cfg, workloads(cfg)))
	for i := range rep.Rows {
		if rep.Rows[i].failed() {
			rep.Failed = true
		}
	}
	rep.Floors = floors(rep.Rows, "getpid", "ptrace", []floorSpec{
		{Key: "sysemu", Name: "raw sysemu", Target: floorTarget},
		{Key: "sysemu-regs", Name: "raw sysemu+regs"},
		{Key: "sysemu-pinned", Name: "raw sysemu (one CPU)"},
		{Key: "sysemu-regs-pinned", Name: "raw sysemu+regs (one CPU)"},
	})
	if l, ok := getpidLimit(rep.Rows, "getpid", "seccomp", seccompGetpidTargetNS); ok {
		rep.Limits = append(rep.Limits, l)
	}
	rep.Limits = append(rep.Limits, idleLimits(rep.Rows, "idle", cfg.platforms, idleTargetShare)...)
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "bench: interrupted")
		rep.Failed = true
	}

	if cfg.jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	} else {
		fmt.Print(renderTable(rep))
	}
	if rep.Failed {
		return 1
	}
	return 0
}

// parsePlatforms splits the -platforms list: at least one name, no
// duplicates. The names are not checked here: moat rejects an unknown one,
// and that column then shows the failure.
func parsePlatforms(list string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if slices.Contains(out, p) {
			return nil, fmt.Errorf("%q listed twice", p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("no platform given")
	}
	return out, nil
}

// platformFlags splits a -platforms column name into the platform and
// extra flags: "seccomp+patch" is seccomp with --syscall-patch on (and
// plain "seccomp" has it off, whatever the environment says).
func platformFlags(p string) (string, []string) {
	if name, ok := strings.CutSuffix(p, "+patch"); ok {
		return name, []string{"--syscall-patch", "on"}
	}
	if p == "seccomp" {
		return p, []string{"--syscall-patch", "off"}
	}
	return p, nil
}

// bindCPU binds the calling goroutine's OS thread to one CPU. Processes
// are started from this goroutine (os/exec forks on the calling thread),
// so every workload process inherits the binding.
func bindCPU(cpu int) error {
	runtime.LockOSThread() // for the rest of the run: never unlocked
	var set unix.CPUSet
	set.Set(cpu)
	return unix.SchedSetaffinity(0, &set)
}

// setupWorkdir creates the work directory. The default is under /var/tmp,
// not /tmp: inside moat /tmp is an in-memory tmpfs, so binaries and files
// under the host's /tmp would not be there.
func setupWorkdir(cfg *config) error {
	if cfg.workdir != "" {
		if err := os.MkdirAll(cfg.workdir, 0o755); err != nil {
			return err
		}
		abs, err := filepath.Abs(cfg.workdir)
		cfg.workdir = abs
		cfg.keep = true // not ours to delete
		return err
	}
	parent := "/var/tmp"
	if st, err := os.Stat(parent); err != nil || !st.IsDir() {
		parent = os.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "moat-bench-")
	if err != nil {
		return err
	}
	// MkdirTemp makes it 0700; the sandboxed program may not run as us.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	cfg.workdir = dir
	return nil
}

// compileWorkloads writes the embedded C sources and headers to dir and
// compiles each source into a static binary of the same base name.
func compileWorkloads(ctx context.Context, dir string) error {
	if _, err := exec.LookPath("gcc"); err != nil {
		return fmt.Errorf("gcc not found (apt-get install gcc): %v", err)
	}
	entries, err := fs.ReadDir(sources, "workloads")
	if err != nil {
		return err
	}
	for _, e := range entries {
		src, err := sources.ReadFile("workloads/" + e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), src, 0o644); err != nil {
			return err
		}
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".c") {
			continue
		}
		base := strings.TrimSuffix(name, ".c")
		cfile := filepath.Join(dir, name)
		out, err := exec.CommandContext(ctx, "gcc", "-static", "-O2", "-Wall", "-o", filepath.Join(dir, base), cfile).CombinedOutput()
		if err != nil {
			return fmt.Errorf("gcc -static -O2 %s: %v\n%s", name, err, out)
		}
	}
	return nil
}

type bench struct {
	cfg     config
	moat    string // path of the moat binary; "" when moatErr is set
	moatErr error
}

func (b *bench) progress(format string, args ...any) {
	if !b.cfg.quiet {
		fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	}
}

// prepareMoat finds or builds the moat binary. A failure is remembered and
// reported in every moat cell; the native side still runs.
func (b *bench) prepareMoat(ctx context.Context) {
	if b.cfg.moatPath != "" {
		p, err := filepath.Abs(b.cfg.moatPath)
		if err == nil {
			var st os.FileInfo
			if st, err = os.Stat(p); err == nil && (st.IsDir() || st.Mode()&0o111 == 0) {
				err = fmt.Errorf("%s is not an executable file", p)
			}
		}
		if err != nil {
			b.moatErr = fmt.Errorf("-moat: %v", err)
			return
		}
		b.moat = p
		return
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		b.moatErr = fmt.Errorf("finding the module root: %v", err)
		return
	}
	out := filepath.Join(b.cfg.workdir, "moat")
	b.progress("building ./cmd/moat")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/moat")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as the README builds it
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.moatErr = fmt.Errorf("go build ./cmd/moat: %v: %s", err, lastLines(string(msg), 3))
		return
	}
	b.moat = out
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run from moat's module root")
	}
	return filepath.Dir(gomod), nil
}

// workloads lists the rows in table order, with arguments resolved.
func workloads(cfg config) []workload {
	dir := cfg.workdir
	bin := func(name string) string { return filepath.Join(dir, name) }
	n := func(base int) string {
		return strconv.Itoa(max(1, int(math.Round(float64(base)*cfg.scale))))
	}

	preadFile := cfg.preadFile
	if st, err := os.Stat(preadFile); err != nil || !st.Mode().IsRegular() || st.Size() < 4096 {
		preadFile = bin("pread") // a static binary is always far over 4 KiB
	}
	start := []string{bin("true")}
	if staticELF("/bin/busybox") {
		start = []string{"/bin/busybox", "true"}
	}
	loops := n(200)
	streamMiB := n(64)
	shloop := "i=0; while [ $i -lt " + loops + " ]; do " + truePath + "; i=$((i+1)); done"

	return []workload{
		{key: "getpid", name: "getpid (syscall)", unit: "op",
			argv: []string{bin("getpid"), n(20000)}},
		{key: "openclose", name: "open+close " + cfg.openFile, unit: "op",
			argv: []string{bin("openclose"), n(5000), cfg.openFile}},
		{key: "pread", name: "pread 4 KiB " + preadFile, unit: "op",
			argv: []string{bin("pread"), n(10000), preadFile}},
		{key: "stat", name: "stat " + cfg.openFile, unit: "op",
			argv: []string{bin("stat"), n(20000), cfg.openFile}},
		{key: "createunlink", name: "create+unlink in /tmp (O_EXCL, close, unlink)", unit: "op",
			argv: []string{bin("createunlink"), n(1000), tmpDirArg}},
		{key: "pwrite", name: "pwrite 4 KiB to a file in /tmp", unit: "op",
			argv: []string{bin("pwrite"), n(5000), tmpDirArg}},
		{key: "getdents", name: "getdents64: list a /tmp dir of 10000 entries", unit: "list",
			argv: []string{bin("getdents"), n(20), tmpDirArg, "10000"}},
		{key: "pagefault", name: "page fault (64 MiB anon, per 4 KiB page)", unit: "page",
			argv: []string{bin("pagefault"), n(4), "64"}},
		{key: "start", name: "start+exit: " + strings.Join(start, " "), unit: "run",
			argv: start, wall: true},
		{key: "tar", name: "tar xf " + tarSource + " (tarball) into /tmp", unit: "run",
			argv: []string{tarPath, "-xf", bin(tarInput), "-C", tmpDirArg}, wall: true,
			skip: tarSkip()},
		{key: "fork", name: "fork+exit+wait", unit: "op",
			argv: []string{bin("forkwait"), n(250)}},
		{key: "exec", name: "fork+exec+wait: " + strings.Join(start, " "), unit: "op",
			argv: append([]string{bin("forkexec"), n(100)}, start...)},
		{key: "pipe", name: "pipe ping-pong, fork (1 byte each way)", unit: "rt",
			argv: []string{bin("pipepingpong"), n(4000)}},
		{key: "pipe-epoll", name: "pipe ping-pong, fork, each read after epoll_wait", unit: "rt",
			argv: []string{bin("pipepingpong"), n(4000), "epoll"}},
		// Sockets between two processes of one sandbox (natively: of the
		// host): AF_UNIX, and TCP over moat's own loopback stack.
		{key: "unix-pingpong", name: "unix socketpair ping-pong, fork (1 byte each way)", unit: "rt",
			argv: []string{bin("sockpingpong"), "unix", n(2000)}},
		{key: "unix-stream", name: "unix socketpair stream: " + streamMiB + " MiB in 64 KiB writes", unit: "KiB",
			argv: []string{bin("sockstream"), "unix", streamMiB, "64"}},
		{key: "tcp-pingpong", name: "TCP 127.0.0.1 ping-pong, NODELAY, fork (1 byte)", unit: "rt",
			argv: []string{bin("sockpingpong"), "tcp", n(2000)}},
		{key: "tcp-stream", name: "TCP 127.0.0.1 stream: " + streamMiB + " MiB in 64 KiB writes", unit: "KiB",
			argv: []string{bin("sockstream"), "tcp", streamMiB, "64"}},
		{key: "http", name: "HTTP/1.1 GET 1 KiB, new connection each (httpd)", unit: "req",
			argv: []string{bin("httpget"), "close", n(500), bin("httpd"), "1024"}},
		{key: "http-keepalive", name: "HTTP/1.1 GET 1 KiB, keep-alive (httpd)", unit: "req",
			argv: []string{bin("httpget"), "keepalive", n(500), bin("httpd"), "1024"}},
		{key: "thread", name: "pthread create+join", unit: "op",
			argv: []string{bin("threadjoin"), n(2000)}},
		{key: "futex", name: "futex ping-pong, 2 threads", unit: "rt",
			argv: []string{bin("futexpingpong"), n(4000)}},
		{key: "signal", name: "signal to self: kill+handler+sigreturn", unit: "op",
			argv: []string{bin("sigdeliver"), n(20000)}},
		// Real programs, dynamically linked, timed whole from here.
		{key: "python", name: "python3 start: import json, sqlite3, threading", unit: "run",
			argv: []string{python3Path, "-c", "import json, sqlite3, threading"}, wall: true,
			skip: missing(python3Path)},
		{key: "gcc", name: fmt.Sprintf("gcc -c -O2, %d-line C file (cc1+as)", bytes.Count(ccSource, []byte("\n"))), unit: "run",
			argv: []string{gccPath, "-c", "-O2", "-o", os.DevNull, bin(ccInput)}, wall: true,
			skip: missing(gccPath)},
		{key: "shloop", name: "sh -c: while loop, " + loops + " runs of " + truePath, unit: "run",
			argv: []string{shPath, "-c", shloop}, wall: true,
			skip: missing(shPath, truePath)},
		{key: "idle", name: fmt.Sprintf("idle: CPU, sleep %g s, %g-%g s (%% of a core)", idleMS/1e3, idleFrom.Seconds(), idleTo.Seconds()), unit: "s",
			argv: []string{bin("sleeper"), strconv.Itoa(idleMS)}, idle: true},
		{key: "sysemu", name: "raw PTRACE_SYSEMU round trip", unit: "op",
			argv: []string{bin("sysemu_raw"), n(20000), "bare"}, nativeOnly: true},
		{key: "sysemu-regs", name: "raw PTRACE_SYSEMU + GETREGS/SETREGS", unit: "op",
			argv: []string{bin("sysemu_raw"), n(20000), "regs"}, nativeOnly: true},
		{key: "sysemu-pinned", name: "raw PTRACE_SYSEMU, both on one CPU", unit: "op",
			argv: []string{bin("sysemu_raw"), n(20000), "bare", "pin"}, nativeOnly: true},
		{key: "sysemu-regs-pinned", name: "raw SYSEMU + GETREGS/SETREGS, one CPU", unit: "op",
			argv: []string{bin("sysemu_raw"), n(20000), "regs", "pin"}, nativeOnly: true},
	}
}

// missing returns why a row that runs the given host programs cannot run
// ("/usr/bin/python3 not found"), or "" if they are all there and
// executable.
func missing(paths ...string) string {
	var why []string
	for _, p := range paths {
		st, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			why = append(why, p+" not found")
		case err != nil:
			why = append(why, err.Error())
		case !st.Mode().IsRegular() || st.Mode()&0o111 == 0:
			why = append(why, p+" is not an executable file")
		}
	}
	return strings.Join(why, ", ")
}

// tarSkip says why the tar row cannot run: no tar, or no tarSource.
func tarSkip() string {
	why := missing(tarPath)
	if st, err := os.Stat(tarSource); err != nil || !st.IsDir() {
		why = strings.TrimPrefix(why+", "+tarSource+" is not a directory", ", ")
	}
	return why
}

// buildTarball writes a tar archive of the tree at src to dst: directories,
// regular files and symlinks, named from src's base name down (as
// tar -C dir(src) -cf dst base(src) would), and returns how many entries
// it holds.
func buildTarball(src, dst string) (int, error) {
	f, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	tw := tar.NewWriter(f)
	n := 0
	parent := filepath.Dir(src)
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		case !info.IsDir() && !info.Mode().IsRegular():
			return nil // devices, sockets, fifos: not in a source tree
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(parent, path)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		n++
		if info.Mode().IsRegular() {
			in, err := os.Open(path)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, in)
			in.Close()
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// withTmpDir returns argv with every tmpDirArg replaced by dir.
func withTmpDir(argv []string, dir string) []string {
	out := slices.Clone(argv)
	for i, a := range out {
		if a == tmpDirArg {
			out[i] = dir
		}
	}
	return out
}

// selected returns the workloads that -only picks: a key picks its row and
// the rows of its variants ("sysemu" also picks "sysemu-regs").
func selected(cfg config, all []workload) []workload {
	var out []workload
	for _, wl := range all {
		if cfg.only == nil || cfg.only[wl.key] || cfg.only[strings.SplitN(wl.key, "-", 2)[0]] {
			out = append(out, wl)
		}
	}
	return out
}

// staticELF reports whether path is an ELF executable without an
// interpreter (moat's first loader takes only static binaries).
func staticELF(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return f.Type == elf.ET_EXEC || f.Type == elf.ET_DYN
}

// measureAll runs every workload cfg.runs times on each side: natively and
// inside moat on each platform. One run is a pass over all workloads, so
// that drift on a noisy machine spreads over every row alike (the floor
// lines compare rows with each other), and within a row the order of the
// sides rotates from one pass to the next. A side that fails once is not
// run again.
func (b *bench) measureAll(ctx context.Context, wls []workload) []Row {
	type side struct {
		s           *Side
		argv        []string
		unsupported string // error name that means "unsupported here", or ""
		freshTmp    bool   // argv has tmpDirArg: run in a fresh dir under nativeTmp
	}
	rows := make([]Row, len(wls))
	sides := make([][]side, len(wls))
	for k, wl := range wls {
		row := &rows[k]
		*row = Row{Key: wl.key, Name: wl.name, Unit: wl.unit, CPUShare: wl.idle}
		if wl.skip != "" {
			row.Skipped = wl.skip
			continue // no sides: nothing runs
		}
		sides[k] = []side{{&row.Native, wl.argv, "", slices.Contains(wl.argv, tmpDirArg)}}
		if wl.nativeOnly {
			continue
		}
		row.Moat = map[string]*MoatSide{}
		for _, p := range b.cfg.platforms {
			m := &MoatSide{}
			row.Moat[p] = m
			if b.moatErr != nil {
				m.Error = b.moatErr.Error()
			}
			// --platform after -moat-flags, so that the column is what
			// it says even if -moat-flags has a --platform too.
			name, extra := platformFlags(p)
			argv := append([]string{b.moat, "run"}, b.cfg.moatFlags...)
			argv = append(argv, "--platform", name)
			argv = append(argv, extra...)
			argv = append(argv, "--")
			sides[k] = append(sides[k], side{&m.Side, append(argv, withTmpDir(wl.argv, moatTmp)...), wl.unsupported[name], false})
		}
	}
	for i := 0; i < b.cfg.runs && ctx.Err() == nil; i++ {
		b.progress("run %d/%d", i+1, b.cfg.runs)
		for k, wl := range wls {
			n := len(sides[k])
			for j := range n {
				sd := sides[k][(i+j)%n]
				if sd.s.Error != "" || sd.s.Unsupported != "" || ctx.Err() != nil {
					continue
				}
				var v float64
				var err error
				switch {
				case wl.idle:
					v, err = b.runIdle(ctx, sd.argv)
				case sd.freshTmp:
					v, err = b.runInFreshTmp(ctx, sd.argv, wl.wall)
				default:
					v, err = b.runOnce(ctx, sd.argv, wl.wall)
				}
				if err != nil {
					if sd.unsupported != "" && strings.Contains(err.Error(), sd.unsupported) {
						sd.s.Unsupported, sd.s.Detail = sd.unsupported, err.Error()
					} else {
						sd.s.Error = err.Error()
					}
					continue
				}
				sd.s.Samples = append(sd.s.Samples, v)
			}
		}
	}
	for k := range rows {
		rows[k].finish()
	}
	return rows
}

// command returns argv as a command in its own process group, so that a
// timeout also kills what moat started, with stdout and stderr captured.
func command(ctx context.Context, argv []string) (cmd *exec.Cmd, stdout, stderr *bytes.Buffer) {
	stdout, stderr = new(bytes.Buffer), new(bytes.Buffer)
	cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd, stdout, stderr
}

// runError describes a failed run of a command.
func (b *bench) runError(parent, ctx context.Context, err error, stderr string) error {
	switch {
	case parent.Err() != nil:
		return errors.New("interrupted")
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("timed out after %v", b.cfg.timeout)
	}
	if msg := lastLines(stderr, 2); msg != "" {
		return fmt.Errorf("%v: %s", err, msg)
	}
	return err
}

// runOnce runs argv once and returns nanoseconds: per iteration as printed
// by the program, or, for wall, the whole process from start to exit.
func (b *bench) runOnce(parent context.Context, argv []string, wall bool) (float64, error) {
	ctx, cancel := context.WithTimeout(parent, b.cfg.timeout)
	defer cancel()
	cmd, stdout, stderr := command(ctx, argv)

	t0 := time.Now()
	err := cmd.Run()
	elapsed := time.Since(t0)
	if err != nil {
		return 0, b.runError(parent, ctx, err, stderr.String())
	}
	if wall {
		return float64(elapsed.Nanoseconds()), nil
	}
	return parseNS(stdout.String())
}

// runInFreshTmp runs argv once, like runOnce, with tmpDirArg replaced by a
// new directory under nativeTmp, made before the clock starts and removed
// after the run.
func (b *bench) runInFreshTmp(ctx context.Context, argv []string, wall bool) (float64, error) {
	dir, err := os.MkdirTemp(nativeTmp, "moat-bench-run-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	return b.runOnce(ctx, withTmpDir(argv, dir), wall)
}

// runIdle runs argv, a command that sleeps (natively the sleeper, else
// moat running it), and returns the CPU time that the process and all its
// descendants used from idleFrom to idleTo after the start, in nanoseconds
// per second of wall-clock time (1e9: one core busy). The CPU time is
// utime+stime from /proc/PID/stat, in clock ticks of 10 ms, so one
// process's figure is only good to about a tick: 0.5% of a core over 2 s.
func (b *bench) runIdle(parent context.Context, argv []string) (float64, error) {
	ctx, cancel := context.WithTimeout(parent, b.cfg.timeout)
	defer cancel()
	cmd, _, stderr := command(ctx, argv)
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	t0 := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var ticks [2]uint64
	var at [2]time.Time
	for i, d := range []time.Duration{idleFrom, idleTo} {
		select {
		case err := <-done:
			if err == nil {
				err = fmt.Errorf("exited after %v, before the CPU sample at %v", time.Since(t0).Round(time.Millisecond), d)
			}
			return 0, b.runError(parent, ctx, err, stderr.String())
		case <-time.After(time.Until(t0.Add(d))):
		}
		var err error
		if ticks[i], err = treeCPUTicks(cmd.Process.Pid); err != nil {
			cmd.Cancel()
			<-done
			return 0, err
		}
		at[i] = time.Now()
	}
	if err := <-done; err != nil {
		return 0, b.runError(parent, ctx, err, stderr.String())
	}
	if ticks[1] < ticks[0] { // a child exited in between
		return 0, fmt.Errorf("CPU time went down from %d to %d ticks between samples", ticks[0], ticks[1])
	}
	cpuNS := float64(ticks[1]-ticks[0]) * 1e9 / clockTicks
	return cpuNS / at[1].Sub(at[0]).Seconds(), nil
}

// clockTicks is USER_HZ, the unit of the times in /proc/PID/stat: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// procStat is what treeCPUTicks needs of /proc/PID/stat.
type procStat struct {
	ppid         int
	utime, stime uint64
}

// parseProcStat parses the contents of /proc/PID/stat. The command name,
// field 2, is in parentheses and may hold spaces and parentheses itself, so
// the fields are counted from its last ')'.
func parseProcStat(data string) (procStat, error) {
	i := strings.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("no ')' in %q", oneLine(data, 60))
	}
	f := strings.Fields(data[i+1:]) // f[0] is field 3, state
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("%d fields after the command name, want >= 13", len(f))
	}
	var st procStat
	var err1, err2, err3 error
	st.ppid, err1 = strconv.Atoi(f[1])                // field 4
	st.utime, err2 = strconv.ParseUint(f[11], 10, 64) // field 14
	st.stime, err3 = strconv.ParseUint(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2, err3); err != nil {
		return procStat{}, err
	}
	return st, nil
}

// treeCPUTicks returns utime+stime, in clock ticks, of process pid and
// all its descendants (for moat: its stub processes), found by scanning
// /proc/*/stat for their parent pids. A process's figure covers all its
// threads.
func treeCPUTicks(pid int) (uint64, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	stats := map[int]procStat{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		if st, err := parseProcStat(string(data)); err == nil {
			stats[p] = st
		}
	}
	return sumTree(stats, pid)
}

// sumTree adds up utime+stime of root and its descendants in stats.
func sumTree(stats map[int]procStat, root int) (uint64, error) {
	if _, ok := stats[root]; !ok {
		return 0, fmt.Errorf("process %d not in /proc", root)
	}
	children := map[int][]int{}
	for p, st := range stats {
		children[st.ppid] = append(children[st.ppid], p)
	}
	var sum uint64
	seen := map[int]bool{}
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		sum += stats[p].utime + stats[p].stime
		queue = append(queue, children[p]...)
	}
	return sum, nil
}

// parseNS reads the workload's result: the last non-empty line of its
// output, a positive number of nanoseconds.
func parseNS(out string) (float64, error) {
	line := lastLines(out, 1)
	v, err := strconv.ParseFloat(line, 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("want ns per iteration on stdout, got %q", oneLine(out, 80))
	}
	return v, nil
}

// lastLines returns the last n non-empty lines of s, joined by " | ".
func lastLines(s string, n int) string {
	var keep []string
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0 && len(keep) < n; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			keep = append([]string{l}, keep...)
		}
	}
	return strings.Join(keep, " | ")
}

func machine() Machine {
	m := Machine{Nproc: runtime.NumCPU(), Go: runtime.Version()}
	var u syscall.Utsname
	if err := syscall.Uname(&u); err == nil {
		m.Kernel = strings.Join([]string{cstr(u.Sysname[:]), cstr(u.Release[:]), cstr(u.Machine[:])}, " ")
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err == nil {
		// "always [madvise] never": the bracketed word is the mode.
		if _, rest, ok := strings.Cut(string(data), "["); ok {
			m.THP, _, _ = strings.Cut(rest, "]")
		}
	}
	return m
}

func cstr(b []int8) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}
