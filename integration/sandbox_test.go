package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWritesStayInside checks that what a program writes inside moat does
// not reach the host: moat's root is an in-memory overlay on top of the
// host's /. The program (progs/writer.c) creates files in /etc and /tmp and
// must be able to read them back inside; afterwards none of them may exist
// on the host. It also overwrites existing host files (and unlinks the one
// the test made), which may succeed (copy-up) or fail inside, but must leave
// the host files unchanged. If a host file did change, the test fails and
// puts it back.
//
// writer is never run natively: it would really write to /etc.
func TestWritesStayInside(t *testing.T) {
	t.Parallel()
	suffix := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	created := []string{
		"/etc/moat-test-" + suffix,
		"/tmp/moat-test-" + suffix,
		"/etc/moat-test-" + suffix + ".d",
	}
	for _, p := range created {
		if fileExists(p) {
			t.Fatalf("%s exists before the test", p)
		}
	}
	t.Cleanup(func() {
		for _, p := range created {
			os.RemoveAll(p) // only there if the test failed
		}
	})

	// Existing host files: one the test makes, and /etc/hostname.
	mine := filepath.Join(hostTempDir(t), "host-file")
	if err := os.WriteFile(mine, []byte("original content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	existing := []string{mine}
	if st, err := os.Stat("/etc/hostname"); err == nil && st.Mode().IsRegular() {
		existing = append(existing, "/etc/hostname")
	}
	type snapshot struct {
		data  []byte
		mode  os.FileMode
		mtime time.Time
	}
	before := map[string]snapshot{}
	for _, p := range existing {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		before[p] = snapshot{data, st.Mode().Perm(), st.ModTime()}
	}

	// "+": also unlink it inside (only the file the test made).
	argv := []string{prog("writer"), suffix, "+" + mine}
	argv = append(argv, existing[1:]...)
	out, stderr, code := runMoat(t, nil, argv, "")
	t.Logf("writer inside moat said:\n%s", out)
	if code != 0 || !strings.Contains(out, "all writes worked") {
		t.Errorf("inside moat, creating and reading back files in /etc and /tmp failed: status %d\nstdout:\n%s\nstderr:\n%s",
			code, out, tail(stderr, 40))
	}

	for _, p := range created {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists on the host: a write inside moat escaped", p)
		}
	}
	for _, p := range existing {
		data, err := os.ReadFile(p)
		st, serr := os.Stat(p)
		switch {
		case err != nil || serr != nil:
			t.Errorf("host file %s is gone after the run inside moat: %v %v", p, err, serr)
		case !bytes.Equal(data, before[p].data):
			t.Errorf("host file %s changed: %q, was %q", p, data, before[p].data)
		case !st.ModTime().Equal(before[p].mtime):
			t.Errorf("host file %s was modified (mtime %v, was %v)", p, st.ModTime(), before[p].mtime)
		default:
			continue
		}
		// Put the host back the way it was.
		if err := os.WriteFile(p, before[p].data, before[p].mode); err != nil {
			t.Errorf("restoring %s: %v", p, err)
		}
	}
}

// procStat is what TestNoStubLeft needs from /proc/PID/stat.
type procStat struct {
	ppid  int
	state byte
	start uint64 // start time in clock ticks since boot: tells a reused pid apart
}

func readProcStat(pid int) (procStat, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, false
	}
	// "pid (comm) state ppid ...": comm may contain spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	start, _ := strconv.ParseUint(f[19], 10, 64) // field 22 of stat(5)
	return procStat{ppid: ppid, state: f[0][0], start: start}, true
}

// descendants returns every live process below pid, with its start time.
func descendants(pid int) map[int]uint64 {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	stats := map[int]procStat{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readProcStat(p); ok {
			children[st.ppid] = append(children[st.ppid], p)
			stats[p] = st
		}
	}
	out := map[int]uint64{}
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			if _, seen := out[c]; !seen {
				out[c] = stats[c].start
				queue = append(queue, c)
			}
		}
	}
	return out
}

// stillRunning returns those of procs that are still alive (not gone, not a
// zombie, and not a new process that got the same pid).
func stillRunning(procs map[int]uint64) []int {
	var alive []int
	for pid, start := range procs {
		st, ok := readProcStat(pid)
		if ok && st.start == start && st.state != 'Z' && st.state != 'X' {
			alive = append(alive, pid)
		}
	}
	sort.Ints(alive)
	return alive
}

// startSleeper starts `moat run -- sleeper MS`, waits until the program has
// printed "sleeping" (so it really runs) and returns moat's command and the
// processes below it at that point.
func startSleeper(t *testing.T, ms int) (*exec.Cmd, map[int]uint64, <-chan string) {
	t.Helper()
	cmd := exec.Command(moatBin, "run", "--", prog("sleeper"), strconv.Itoa(ms))
	cmd.Env = testEnv
	// Files, not buffers, for stdout and stderr: with a buffer, Wait would
	// also wait for every process holding the pipe (a leftover stub) to
	// close it.
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	stderrText := func() string {
		b, _ := os.ReadFile(stderr.Name())
		return tail(string(b), 40)
	}
	// A plain pipe rather than StdoutPipe: Wait must not close our end
	// before we have read everything.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// Whatever happens, leave nothing behind.
	var procs map[int]uint64
	t.Cleanup(func() {
		cmd.Process.Kill()
		for _, pid := range stillRunning(procs) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		r.Close()
	})

	deadline := time.After(20 * time.Second)
	select {
	case l, ok := <-lines:
		if !ok || l != "sleeping" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("moat run -- sleeper: expected \"sleeping\" first, got %q (eof=%v)\nstderr:\n%s",
				l, !ok, stderrText())
		}
	case <-deadline:
		t.Fatalf("moat run -- sleeper: the program did not start within 20s\nstderr:\n%s", stderrText())
	}
	procs = descendants(cmd.Process.Pid)
	if len(procs) == 0 {
		t.Fatalf("the program runs, but moat (pid %d) has no child processes: cannot check the stubs are cleaned up",
			cmd.Process.Pid)
	}
	t.Logf("processes below moat (pid %d): %v", cmd.Process.Pid, sortedKeys(procs))
	return cmd, procs, lines
}

func sortedKeys(m map[int]uint64) []int {
	var k []int
	for p := range m {
		k = append(k, p)
	}
	sort.Ints(k)
	return k
}

// requireGone waits up to 2 s for every process in procs to disappear.
func requireGone(t *testing.T, procs map[int]uint64, what string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		alive := stillRunning(procs)
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var desc []string
			for _, pid := range alive {
				comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
				desc = append(desc, fmt.Sprintf("%d (%s)", pid, strings.TrimSpace(string(comm))))
			}
			t.Errorf("%s: processes moat started are still running 2s later: %s",
				what, strings.Join(desc, ", "))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNoStubLeft checks that moat's helper processes (the stub processes
// the program runs in) do not outlive moat, whether moat is killed with
// SIGKILL (it gets no chance to clean up: the stubs must be tied to it, e.g.
// PR_SET_PDEATHSIG or PTRACE_O_EXITKILL) or exits normally.
func TestNoStubLeft(t *testing.T) {
	t.Run("sigkill", func(t *testing.T) {
		t.Parallel()
		cmd, procs, _ := startSleeper(t, 30000)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		requireGone(t, procs, "after SIGKILL of moat")
	})
	t.Run("normal-exit", func(t *testing.T) {
		t.Parallel()
		cmd, procs, lines := startSleeper(t, 1500)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("moat run -- sleeper 1500: %v", err)
			}
		case <-time.After(runTimeout):
			t.Fatalf("moat run -- sleeper 1500 did not finish within %v", runTimeout)
		}
		var rest []string
		timeout := time.After(3 * time.Second)
	read:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break read
				}
				rest = append(rest, l)
			case <-timeout:
				t.Errorf("moat exited, but its stdout is still open 3s later (held by a leftover process?)")
				break read
			}
		}
		if strings.Join(rest, "\n") != "woke" {
			t.Errorf("after \"sleeping\" the program printed %q, want \"woke\"", rest)
		}
		requireGone(t, procs, "after moat exited normally")
	})
}

// TestRootfs runs busybox in a sandbox whose root is a directory holding
// nothing but busybox: the app sees that tree (plus moat's own /dev, /proc,
// /sys and /tmp), not the host's, and cannot walk out of it with "..".
func TestRootfs(t *testing.T) {
	t.Parallel()
	if !fileExists("/bin/busybox") {
		t.Skip("needs /bin/busybox (busybox-static)")
	}
	root := hostTempDir(t)
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runMoat(t, []string{"--rootfs", root}, []string{"/bin/busybox", "ls", "/", "/../../.."}, "")
	want := "/:\nbin\ndev\nproc\nsys\ntmp\n\n/../../..:\nbin\ndev\nproc\nsys\ntmp\n"
	if code != 0 || out != want {
		t.Fatalf("ls / in --rootfs sandbox: status %d, stdout %q, want %q\nstderr: %s", code, out, want, errOut)
	}
	_, errOut, code = runMoat(t, []string{"--rootfs", root}, []string{"/bin/busybox", "cat", "/etc/passwd"}, "")
	if code == 0 || !strings.Contains(errOut, "No such file") {
		t.Fatalf("cat /etc/passwd in a rootfs without it: status %d, stderr %q; want a failure", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "dev")); err == nil {
		t.Errorf("moat created mount point %s/dev on the host; it must live in the in-memory layer", root)
	}
}
