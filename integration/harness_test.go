// Package integration runs real programs natively and inside moat and
// compares what they do.
//
// TestMain builds moat once (or takes $MOAT_BIN) and compiles every
// progs/*.c as a static binary, in parallel. The tests then run each
// program on the host and under `moat run`, and require the same stdout and
// exit status. The C programs print one line per check and never print
// anything that differs between two runs (pids, addresses, times), so any
// difference is moat's.
//
// Run everything:       go test ./integration/
// One area:             go test ./integration/ -run 'TestPrograms/mem'
// Against a given moat: MOAT_BIN=/path/to/moat go test ./integration/
package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runTimeout bounds every single run, so that a hang fails the test instead
// of stalling CI.
const runTimeout = 30 * time.Second

// maxOutput bounds how much of a run's stdout or stderr is kept.
const maxOutput = 8 << 20

var (
	moatBin string // the moat binary under test
	workDir string // this run's scratch directory on the host (see hostTempBase)
	progDir string // where the compiled test programs are
)

// testEnv is the whole environment of every run, native or in moat, so that
// both see exactly the same one.
var testEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/",
	"LANG=C",
	"LC_ALL=C",
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	// Crashing test programs (segv, abort) must not leave core files around
	// or take the time to write them. Children inherit this.
	_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{Cur: 0, Max: 0})
	// Native runs must start with only stdin, stdout and stderr, like
	// programs inside moat: do not pass on fds this process inherited.
	closeInheritedFDs()

	// Not under /tmp: inside moat, /tmp is the sandbox's own tmpfs, so the
	// programs and fixtures must live somewhere moat sees the host's files.
	tmp, err := os.MkdirTemp(hostTempBase(), "moat-integration-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	workDir = tmp
	progDir = filepath.Join(tmp, "progs")
	if err := os.Mkdir(progDir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1
	}

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		errs = append(errs, fmt.Sprintf(format, args...))
		mu.Unlock()
	}

	// moat itself.
	if bin := os.Getenv("MOAT_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			fail("MOAT_BIN: %v", err)
		} else if st, err := os.Stat(abs); err != nil || st.IsDir() {
			fail("MOAT_BIN=%s is not a file (%v)", bin, err)
		}
		moatBin = abs
	} else {
		moatBin = filepath.Join(tmp, "moat")
		wg.Add(1)
		go func() {
			defer wg.Done()
			root, err := moduleRoot()
			if err != nil {
				fail("finding the module root: %v", err)
				return
			}
			// As the README builds it: without cgo (see there).
			cmd := exec.Command(goTool(), "build", "-o", moatBin, "moat/cmd/moat")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				fail("building moat (CGO_ENABLED=0 go build -o %s moat/cmd/moat in %s) failed: %v\n%s",
					moatBin, root, err, out)
			}
		}()
	}

	// The C programs, at most NumCPU compilers at a time.
	sources, err := filepath.Glob("progs/*.c")
	if err != nil || len(sources) == 0 {
		fail("no progs/*.c found (run go test from the module, err=%v)", err)
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		fail("gcc not found: the test programs cannot be built (%v)", err)
		sources = nil
	}
	sem := make(chan struct{}, runtime.NumCPU())
	for _, src := range sources {
		wg.Add(1)
		go func(src string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			name := strings.TrimSuffix(filepath.Base(src), ".c")
			out := filepath.Join(progDir, name)
			cmd := exec.Command("gcc", "-static", "-O1", "-Wall", "-o", out, src)
			msg, err := cmd.CombinedOutput()
			if err != nil {
				fail("gcc %s failed: %v\n%s", src, err, msg)
			} else if len(msg) > 0 {
				fmt.Fprintf(os.Stderr, "integration: warnings from gcc %s:\n%s", src, msg)
			}
		}(src)
	}
	wg.Wait()
	if len(errs) > 0 {
		sort.Strings(errs)
		fmt.Fprintf(os.Stderr, "integration: setup failed:\n%s\n", strings.Join(errs, "\n"))
		return 1
	}
	return m.Run()
}

// closeInheritedFDs marks every fd above 2 close-on-exec.
func closeInheritedFDs() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

// hostTempBase is where the suite keeps its files: $MOAT_TEST_TMPDIR, else
// /var/tmp, else the package directory. Never /tmp: inside moat /tmp is an
// in-memory tmpfs, so host files there are invisible to the sandboxed
// program.
func hostTempBase() string {
	if d := os.Getenv("MOAT_TEST_TMPDIR"); d != "" {
		return d
	}
	if f, err := os.CreateTemp("/var/tmp", "moat-probe-"); err == nil {
		f.Close()
		os.Remove(f.Name())
		return "/var/tmp"
	}
	wd, _ := os.Getwd()
	return wd
}

// hostTempDir is t.TempDir, but in a place that moat's sandbox sees (see
// hostTempBase).
func hostTempDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp(workDir, "t-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(d); err != nil {
			t.Errorf("removing %s: %v", d, err)
		}
	})
	return d
}

// moduleRoot finds the directory holding moat's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command(goTool(), "env", "GOMOD").Output()
	if err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod), nil
		}
	}
	// Fall back to the parent of this package's directory.
	wd, werr := os.Getwd()
	if werr != nil {
		return "", werr
	}
	root := filepath.Dir(wd)
	if _, serr := os.Stat(filepath.Join(root, "go.mod")); serr != nil {
		return "", fmt.Errorf("go env GOMOD: %v; and no go.mod in %s", err, root)
	}
	return root, nil
}

// goTool is the go command: from PATH, else from $GOROOT.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if p := filepath.Join(os.Getenv("GOROOT"), "bin", "go"); os.Getenv("GOROOT") != "" && fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// prog is the path of a compiled test program.
func prog(name string) string {
	return filepath.Join(progDir, name)
}

// runOpts describes one run.
type runOpts struct {
	argv    []string
	stdin   string
	env     []string      // nil: testEnv
	timeout time.Duration // 0: runTimeout
}

// limitedBuffer keeps the first maxOutput bytes written to it.
type limitedBuffer struct {
	buf       bytes.Buffer
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - b.buf.Len(); len(p) > room {
		b.buf.Write(p[:max(room, 0)])
		b.truncated = true
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) String() string {
	if b.truncated {
		return b.buf.String() + "\n[... output truncated ...]\n"
	}
	return b.buf.String()
}

// run executes argv with the options and returns stdout, stderr and the exit
// status as a shell reports it (128+N for death by signal N). A run that
// does not finish within the timeout, or cannot be started, fails the test.
func run(t testing.TB, o runOpts) (stdout, stderr string, code int) {
	t.Helper()
	timeout := o.timeout
	if timeout == 0 {
		timeout = runTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	var outBuf, errBuf limitedBuffer
	cmd := exec.CommandContext(ctx, o.argv[0], o.argv[1:]...)
	cmd.Env = o.env
	if cmd.Env == nil {
		cmd.Env = testEnv
	}
	cmd.Stdin = strings.NewReader(o.stdin)
	cmd.Stdout = &outBuf
	cmd.Stderr = &errBuf
	// Own process group, so that a timeout kills moat and everything it
	// started, not only moat.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 2 * time.Second

	err := cmd.Run()
	stdout, stderr = outBuf.String(), errBuf.String()
	if ctx.Err() == context.DeadlineExceeded {
		t.Fatalf("%s: timed out after %v\nstdout:\n%s\nstderr:\n%s",
			strings.Join(o.argv, " "), timeout, tail(stdout, 40), tail(stderr, 40))
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		code = 0
	case errors.As(err, &exitErr):
		code = exitStatus(exitErr.ProcessState)
	case errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil:
		// It exited, but something it started still holds its stdout or
		// stderr open.
		t.Errorf("%s: exited, but its stdout/stderr was still open %v later (a leftover process?)",
			strings.Join(o.argv, " "), cmd.WaitDelay)
		code = exitStatus(cmd.ProcessState)
	default:
		t.Fatalf("%s: %v\nstderr:\n%s", strings.Join(o.argv, " "), err, tail(stderr, 40))
	}
	return stdout, stderr, code
}

// exitStatus converts a process state to a shell-style status.
func exitStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// runNative runs argv directly on the host.
func runNative(t testing.TB, argv []string, stdin string) (stdout, stderr string, code int) {
	t.Helper()
	return run(t, runOpts{argv: argv, stdin: stdin})
}

// moatPlatform is the platform every moat run uses: MOAT_PLATFORM, or
// moat's default when unset. CI runs the suite once per platform.
var moatPlatform = os.Getenv("MOAT_PLATFORM")

// moatArgv is the command line that runs argv inside moat.
func moatArgv(moatFlags, argv []string) []string {
	a := []string{moatBin, "run"}
	if moatPlatform != "" {
		a = append(a, "--platform", moatPlatform)
	}
	a = append(a, moatFlags...)
	a = append(a, "--")
	return append(a, argv...)
}

// runMoat runs argv inside moat (`moat run FLAGS -- ARGV`).
func runMoat(t testing.TB, moatFlags, argv []string, stdin string) (stdout, stderr string, code int) {
	t.Helper()
	return run(t, runOpts{argv: moatArgv(moatFlags, argv), stdin: stdin})
}

// compare runs argv natively and in moat and requires the same stdout and
// exit status.
func compare(t *testing.T, argv ...string) {
	t.Helper()
	compareStdin(t, "", argv...)
}

// compareStdin is compare with the given stdin for both runs.
func compareStdin(t *testing.T, stdin string, argv ...string) {
	t.Helper()
	compareWith(t, nil, stdin, argv...)
}

// compareWith is compareStdin with flags for moat run.
func compareWith(t *testing.T, moatFlags []string, stdin string, argv ...string) {
	t.Helper()
	nOut, nErr, nCode := runNative(t, argv, stdin)
	mOut, mErr, mCode := runMoat(t, moatFlags, argv, stdin)
	if nOut == mOut && nCode == mCode {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: native and moat differ\n", strings.Join(argv, " "))
	if nCode != mCode {
		fmt.Fprintf(&b, "exit status: native %d, moat %d\n", nCode, mCode)
	}
	if nOut != mOut {
		fmt.Fprintf(&b, "stdout (- native, + moat):\n%s", lineDiff(nOut, mOut))
	}
	if nErr != "" {
		fmt.Fprintf(&b, "native stderr:\n%s\n", tail(nErr, 20))
	}
	fmt.Fprintf(&b, "moat stderr:\n%s", tail(mErr, 60))
	t.Error(b.String())
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		return fmt.Sprintf("[... %d lines ...]\n", len(lines)-n) + strings.Join(lines[len(lines)-n:], "")
	}
	return s
}

// lineDiff returns a unified-style diff of two texts with 3 lines of
// context: "-" lines are only in a, "+" lines only in b.
func lineDiff(a, b string) string {
	x := splitLines(a)
	y := splitLines(b)
	// Strip the common prefix and suffix; diff only the middle.
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	mx, my := x[pre:len(x)-suf], y[pre:len(y)-suf]

	type op struct {
		kind byte // ' ', '-', '+'
		line string
	}
	var ops []op
	for _, l := range x[:pre] {
		ops = append(ops, op{' ', l})
	}
	if len(mx)*len(my) > 4_000_000 {
		// Too big for the quadratic table: show the middles as a block.
		for _, l := range mx {
			ops = append(ops, op{'-', l})
		}
		for _, l := range my {
			ops = append(ops, op{'+', l})
		}
	} else {
		// Longest common subsequence table, then walk it.
		n, m := len(mx), len(my)
		lcs := make([][]int32, n+1)
		for i := range lcs {
			lcs[i] = make([]int32, m+1)
		}
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if mx[i] == my[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < n || j < m {
			switch {
			case i < n && j < m && mx[i] == my[j]:
				ops = append(ops, op{' ', mx[i]})
				i++
				j++
			case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
				ops = append(ops, op{'-', mx[i]})
				i++
			default:
				ops = append(ops, op{'+', my[j]})
				j++
			}
		}
	}
	for _, l := range x[len(x)-suf:] {
		ops = append(ops, op{' ', l})
	}

	// Print changed lines with 3 lines of context around them.
	const context = 3
	show := make([]bool, len(ops))
	for k, o := range ops {
		if o.kind != ' ' {
			for c := max(0, k-context); c <= min(len(ops)-1, k+context); c++ {
				show[c] = true
			}
		}
	}
	var sb strings.Builder
	skipped := false
	for k, o := range ops {
		if !show[k] {
			skipped = true
			continue
		}
		if skipped {
			sb.WriteString("  ...\n")
			skipped = false
		}
		fmt.Fprintf(&sb, "%c %s\n", o.kind, o.line)
	}
	if skipped {
		sb.WriteString("  ...\n")
	}
	return sb.String()
}

// splitLines splits s into lines; a missing final newline is marked.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	if lines[len(lines)-1] == "" {
		return lines[:len(lines)-1]
	}
	lines[len(lines)-1] += " [no newline at end]"
	return lines
}

// programUse records which test runs each progs/*.c, so that a program
// nobody runs is noticed (TestEveryProgramIsUsed).
var programUse = map[string]string{
	"files_io":      "TestPrograms, TestStrace",
	"files_dir":     "TestPrograms",
	"mem":           "TestPrograms",
	"process_info":  "TestPrograms",
	"badptr":        "TestPrograms",
	"devfiles":      "TestPrograms",
	"sigevents":     "TestPrograms",
	"epoll":         "TestPrograms",
	"mmap_shared":   "TestPrograms",
	"mmap_truncate": "TestPrograms, TestMmapBind",
	"mmap_hostfile": "TestMmapBind",
	"mmap_sync":     "TestMmapBindSync",
	"locks":         "TestPrograms",
	"memfd":         "TestPrograms",
	"unix_sockets":  "TestPrograms",
	"inet_sockets":  "TestPrograms, TestNetHost",
	"xattr":         "TestPrograms",
	"tmpfile":       "TestPrograms",
	"inotify":       "TestPrograms",
	"caps":          "TestPrograms",
	"pivot_root":    "TestPrograms",
	"mknod":         "TestPrograms",
	"openat2":       "TestPrograms",
	"dataio":        "TestPrograms",
	"fsize":         "TestPrograms",
	"exit":          "TestExitStatus, TestBadInput, TestProcs",
	"segv":          "TestExitStatus",
	"abort":         "TestExitStatus",
	"sleeper":       "TestNoStubLeft",
	"writer":        "TestWritesStayInside",
	"rseq":          "TestRseqUnsupported",
	"sysfuzz":       "TestSyscallFuzz",
	"sockfuzz":      "TestSocketFuzz",
	"threads":       "TestThreads",
	"procs":         "TestProcs",
	"clonevm":       "TestCloneVM",
	"sync":          "TestSync",
	"jobctl":        "TestJobControl",
	"signals":       "TestSignals",
	"timerstorm":    "TestTimersNobodyTakes",
	"syspatch":      "TestSyscallPatch",
	"rename_race":   "TestBindRenameRace",
	"pty":           "TestPty",
	"seccomp":       "TestSeccomp",
}

func TestEveryProgramIsUsed(t *testing.T) {
	sources, err := filepath.Glob("progs/*.c")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, src := range sources {
		name := strings.TrimSuffix(filepath.Base(src), ".c")
		seen[name] = true
		if programUse[name] == "" {
			t.Errorf("progs/%s.c is not run by any test: add it to a test and to programUse", name)
		}
	}
	for name := range programUse {
		if !seen[name] {
			t.Errorf("programUse lists %s, but progs/%s.c does not exist", name, name)
		}
	}
}

func TestLineDiff(t *testing.T) {
	got := lineDiff("a\nb\nc\nd\n", "a\nB\nc\nd\ne\n")
	want := "  a\n- b\n+ B\n  c\n  d\n+ e\n"
	if got != want {
		t.Errorf("lineDiff:\n%s\nwant:\n%s", got, want)
	}
	if got := lineDiff("x", "x\n"); !strings.Contains(got, "no newline") {
		t.Errorf("lineDiff should point out a missing final newline, got:\n%s", got)
	}
}
