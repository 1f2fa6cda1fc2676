package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the processes put in cgroups: with
// MOAT_CGROUP_CHILD set it waits on stdin (and, for "alloc", uses 32 MiB
// once told to).
func TestMain(m *testing.M) {
	switch os.Getenv("MOAT_CGROUP_CHILD") {
	case "":
		os.Exit(m.Run())
	case "alloc":
		r := bufio.NewReader(os.Stdin)
		r.ReadString('\n')
		b := make([]byte, 32<<20)
		for i := range b {
			b[i] = byte(i)
		}
		fmt.Println("ready")
		r.ReadString('\n')
		os.Exit(int(b[len(b)/3] & 0))
	default:
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
}

// child is a process of the test binary, waiting for input.
type child struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	done  chan struct{}
	state *os.ProcessState
}

func startChild(t *testing.T, mode string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "MOAT_CGROUP_CHILD="+mode)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, in: in, out: bufio.NewReader(out), done: make(chan struct{})}
	go func() {
		cmd.Wait()
		c.state = cmd.ProcessState
		close(c.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-c.done
	})
	return c
}

// needCgroups skips a test that cannot create cgroups here.
func needCgroups(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("creating cgroups needs root")
	}
	if _, err := hostLayout(); err != nil {
		t.Skipf("no cgroup filesystem: %v", err)
	}
}

// testCgroup opens a cgroup of the test's own, relative to the test
// process's cgroups (so the test stays inside whatever confines it), and
// destroys it at the end.
func testCgroup(t *testing.T) *Cgroup {
	t.Helper()
	needCgroups(t)
	p, err := Path(fmt.Sprintf("moat-test-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "_")), "", false)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	return c
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	s, err := readString(dir, name)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

func TestApplyV1(t *testing.T) {
	c := testCgroup(t)
	if c.V2() {
		t.Skip("this host has cgroup v2 (TestV2 covers it)")
	}
	ch := startChild(t, "sleep")
	pid := ch.cmd.Process.Pid
	r := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}, // accepted, not applied
		Memory: &specs.LinuxMemory{
			Limit: ptr[int64](256 << 20), Reservation: ptr[int64](128 << 20), Swap: ptr[int64](512 << 20),
			Kernel: ptr[int64](1 << 20), Swappiness: ptr[uint64](10), DisableOOMKiller: ptr(false),
		},
		CPU: &specs.LinuxCPU{
			Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000),
			RealtimeRuntime: ptr[int64](1000), Cpus: "0", Mems: "0",
		},
		Pids:           &specs.LinuxPids{Limit: 64},
		BlockIO:        &specs.LinuxBlockIO{Weight: ptr[uint16](500)},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}},
	}
	if err := c.Apply(pid, r); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	mem, cpu, cpuset, pids := c.dirs["memory"], c.dirs["cpu"], c.dirs["cpuset"], c.dirs["pids"]
	for _, f := range []struct{ dir, name, want string }{
		{mem, "memory.limit_in_bytes", strconv.Itoa(256 << 20)},
		{mem, "memory.soft_limit_in_bytes", strconv.Itoa(128 << 20)},
		{mem, "memory.memsw.limit_in_bytes", strconv.Itoa(512 << 20)},
		{mem, "memory.swappiness", "10"},
		{cpu, "cpu.shares", "512"},
		{cpu, "cpu.cfs_quota_us", "50000"},
		{cpu, "cpu.cfs_period_us", "100000"},
		{cpuset, "cpuset.cpus", "0"},
		{cpuset, "cpuset.mems", "0"},
		{pids, "pids.max", "64"},
	} {
		if f.dir == "" {
			continue // controller not mounted here
		}
		if got := read(t, f.dir, f.name); got != f.want {
			t.Errorf("%s = %q, want %q", f.name, got, f.want)
		}
	}
	if mem != "" && !strings.Contains(read(t, mem, "memory.oom_control"), "oom_kill_disable 0") {
		t.Errorf("memory.oom_control = %q", read(t, mem, "memory.oom_control"))
	}
	// The process is in the cgroup in every hierarchy.
	pc, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	own := parseProcCgroup(pc)
	for ctrl, dir := range c.dirs {
		if !strings.HasSuffix(dir, own[ctrl]) {
			t.Errorf("/proc/%d/cgroup: %s is %q, want the end of %s", pid, ctrl, own[ctrl], dir)
		}
	}
	if got, err := c.Pids(); err != nil || !slices.Equal(got, []int{pid}) {
		t.Errorf("Pids = %v, %v; want [%d]", got, err, pid)
	}
	st, err := c.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if mem != "" && (st.Memory.Limit != 256<<20 || st.Memory.SwapLimit != 512<<20 || st.Memory.Stat == nil) {
		t.Errorf("Stats.Memory = %+v", st.Memory)
	}
	if pids != "" && (st.Pids.Current < 1 || st.Pids.Limit != 64) {
		t.Errorf("Stats.Pids = %+v", st.Pids)
	}
	if c.dirs["cpuacct"] != "" && len(st.CPU.PerCPU) == 0 {
		t.Errorf("Stats.CPU = %+v", st.CPU)
	}
	lim := c.Limits()
	if mem != "" && lim.MemoryBytes > 256<<20 || pids != "" && lim.Pids > 64 || cpu != "" && (lim.CPUQuotaMicros != 50000 || lim.CPUPeriodMicros != 100000) {
		t.Errorf("Limits = %+v", lim)
	}

	// Update: a lower memory limit, no pids limit.
	if err := c.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20), Swap: ptr[int64](64 << 20)}, Pids: &specs.LinuxPids{Limit: -1}}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if mem != "" && read(t, mem, "memory.limit_in_bytes") != strconv.Itoa(64<<20) {
		t.Errorf("after Update, memory.limit_in_bytes = %s", read(t, mem, "memory.limit_in_bytes"))
	}
	if pids != "" && read(t, pids, "pids.max") != "max" {
		t.Errorf("after Update, pids.max = %s", read(t, pids, "pids.max"))
	}
	// And back up: memsw must be raised before the limit.
	if err := c.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30), Swap: ptr[int64](2 << 30)}}); err != nil {
		t.Fatalf("Update up: %v", err)
	}
	if err := c.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}}); err != nil {
		t.Fatalf("Update to no limit: %v", err)
	}
	if l := c.Limits(); mem != "" && l.MemoryBytes != 0 && l.MemoryBytes < 1<<30 {
		t.Errorf("after removing the limit, Limits = %+v", l)
	}

	// Freeze and thaw the child.
	if c.dirs["freezer"] != "" {
		if err := c.Freeze(true); err != nil {
			t.Fatalf("Freeze: %v", err)
		}
		if s := read(t, c.dirs["freezer"], "freezer.state"); s != "FROZEN" {
			t.Errorf("freezer.state = %s", s)
		}
		if s := procState(pid); s != "D" {
			t.Errorf("frozen child's state = %q, want D", s)
		}
		if err := c.Freeze(false); err != nil {
			t.Fatalf("thaw: %v", err)
		}
		if s := read(t, c.dirs["freezer"], "freezer.state"); s != "THAWED" {
			t.Errorf("freezer.state = %s", s)
		}
		// Thawed, it runs (R) and goes back to waiting on its input (S).
		s := procState(pid)
		for deadline := time.Now().Add(time.Second); s == "D" && time.Now().Before(deadline); s = procState(pid) {
			time.Sleep(time.Millisecond)
		}
		if s != "S" && s != "R" {
			t.Errorf("thawed child's state = %q, want S or R", s)
		}
	}

	// Destroy kills the child and removes every directory; again is
	// not an error.
	if err := c.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	select {
	case <-ch.done:
		if ws, ok := ch.state.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Errorf("child ended with %v, want SIGKILL", ch.state)
		}
	case <-time.After(2 * time.Second):
		t.Errorf("child still running after Destroy")
	}
	for _, h := range c.hierarchies() {
		if _, err := os.Stat(h[0]); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after Destroy: %v", h[0], err)
		}
	}
	if err := c.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
	if _, err := c.Stats(); err == nil {
		t.Errorf("Stats of a destroyed cgroup succeeded")
	}
	if err := c.Update(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 5}}); err == nil {
		t.Errorf("Update of a destroyed cgroup succeeded")
	}
}

// procState is the state letter of /proc/PID/status.
func procState(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(data), "\n") {
		if s, ok := strings.CutPrefix(line, "State:\t"); ok {
			return s[:1]
		}
	}
	return ""
}

func TestMemoryLimitBelowUsage(t *testing.T) {
	c := testCgroup(t)
	if c.V2() || c.dirs["memory"] == "" {
		t.Skip("needs the v1 memory controller (v2 reclaims or OOM-kills instead of refusing)")
	}
	ch := startChild(t, "alloc")
	if err := c.Apply(ch.cmd.Process.Pid, nil); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	fmt.Fprintln(ch.in, "go")
	if line, err := ch.out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	// checkBeforeUpdate refuses without asking the kernel.
	err := c.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](4 << 20), CheckBeforeUpdate: ptr(true)}})
	if err == nil || !strings.Contains(err.Error(), "already uses") {
		t.Errorf("Update with checkBeforeUpdate = %v, want a refusal", err)
	}
	// Without it, the kernel cannot reclaim anonymous memory (no swap
	// here) and says EBUSY; with swap it would swap and succeed.
	swaps, _ := os.ReadFile("/proc/swaps")
	if strings.Count(string(swaps), "\n") > 1 {
		t.Skip("the host has swap: the kernel would swap instead of refusing")
	}
	err = c.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](4 << 20)}})
	if !errors.Is(err, unix.EBUSY) || !strings.Contains(err.Error(), "cannot set the memory limit to 4194304 bytes: the container already uses") {
		t.Errorf("Update below usage = %v, want EBUSY explained", err)
	}
	t.Log(err)
}

func TestCheck(t *testing.T) {
	v1, v2 := &Cgroup{dirs: map[string]string{}}, &Cgroup{v2: true}
	for _, c := range []struct {
		cg   *Cgroup
		r    specs.LinuxResources
		want string
	}{
		{v1, specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-2)}}, "memory.limit: -2 is not a valid number of bytes"},
		{v1, specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr[int64](-5)}}, "memory.swap: -5"},
		{v1, specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100 << 20), Swap: ptr[int64](50 << 20)}}, "is below memory.limit"},
		{v2, specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr[int64](50 << 20)}}, "needs a memory.limit on cgroup v2"},
		{v1, specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](101)}}, "swappiness: 101"},
		{v1, specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](1)}}, "cpu.shares: 1 is not between 2 and 262144"},
		{v1, specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](1 << 40)}}, "cpu.shares"},
		{v1, specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](-7)}}, "cpu.quota: -7"},
		{v1, specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](10)}}, "cpu.quota: 10"},
		{v1, specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr[uint64](10)}}, "cpu.period: 10"},
		{v1, specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr[uint64](1 << 40)}}, "cpu.period"},
		{v1, specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-3\n1"}}, "cpu.cpus"},
		{v1, specs.LinuxResources{CPU: &specs.LinuxCPU{Mems: "../x"}}, "cpu.mems"},
		{v1, specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr[int64](5)}}, "cpu.idle"},
		{v1, specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](5000)}}, "blockIO.weight: 5000"},
		{v1, specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "../2MB"}}}, "page size"},
		{v1, specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2XB"}}}, "page size"},
		{v1, specs.LinuxResources{Unified: map[string]string{"memory.max": "1"}}, "needs cgroup v2"},
		{v2, specs.LinuxResources{Unified: map[string]string{"../memory.max": "1"}}, "not the name of a file"},
		{v2, specs.LinuxResources{Unified: map[string]string{"a/memory.max": "1"}}, "not the name of a file"},
		{v2, specs.LinuxResources{Unified: map[string]string{"..": "1"}}, "not the name of a file"},
		{v2, specs.LinuxResources{Unified: map[string]string{"memory..max": "1"}}, "not the name of a file"},
		{v2, specs.LinuxResources{Unified: map[string]string{"nodot": "1"}}, "controller.name"},
		{v2, specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}}, "not a resource limit"},
	} {
		err := c.cg.check(&c.r)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("check(%+v) = %v, want an error with %q", c.r, err, c.want)
		}
	}
	ok := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](-1), Swap: ptr[int64](-1), Swappiness: ptr(^uint64(0))},
		CPU:    &specs.LinuxCPU{Shares: ptr[uint64](0), Quota: ptr[int64](-1), Cpus: "0-1,3"},
		Pids:   &specs.LinuxPids{Limit: -1},
	}
	if err := v1.check(ok); err != nil {
		t.Errorf("check(valid) = %v", err)
	}
	if err := v1.check(nil); err != nil {
		t.Errorf("check(nil) = %v", err)
	}
}

// A bad value is refused before anything is created.
func TestApplyInvalidCreatesNothing(t *testing.T) {
	c := testCgroup(t)
	err := c.Apply(os.Getpid(), &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-3)}})
	if err == nil {
		t.Fatal("Apply with a negative limit succeeded")
	}
	if c.exists() {
		t.Errorf("Apply with a bad value created the cgroup")
	}
	if err := c.Apply(0, nil); err == nil {
		t.Errorf("Apply(pid 0) succeeded")
	}
	// A value only the kernel refuses: what Apply created goes again.
	if c.V2() || c.dirs["pids"] == "" {
		return
	}
	ch := startChild(t, "sleep")
	err = c.Apply(ch.cmd.Process.Pid, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 1 << 40}})
	if !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "pids.max") {
		t.Errorf("Apply with pids.limit 2^40 = %v, want EINVAL from pids.max", err)
	}
	t.Log(err)
	if c.exists() {
		t.Errorf("a failed Apply left the cgroup")
	}
}

// TestV2 runs the v2 code on a unified hierarchy: the host's, or, on a
// hybrid v1 host, the controller-less one mounted beside the v1
// hierarchies (creating, moving, freezing, listing, killing all work
// there without controllers).
func TestV2(t *testing.T) {
	needCgroups(t)
	l, _ := hostLayout()
	mnt := l.unified
	if mnt == "" {
		data, _ := os.ReadFile("/proc/self/mountinfo")
		for _, line := range strings.Split(string(data), "\n") {
			if pre, post, ok := strings.Cut(line, " - "); ok && strings.HasPrefix(post, "cgroup2 ") {
				if f := strings.Fields(pre); len(f) >= 5 && f[3] == "/" {
					mnt = unescapeMount(f[4])
					break
				}
			}
		}
	}
	if mnt == "" {
		t.Skip("no cgroup2 hierarchy mounted")
	}
	own, err := ownCgroups()
	if err != nil {
		t.Fatal(err)
	}
	c, err := open(fmt.Sprintf("moat-test-%d-v2/inner", os.Getpid()), layout{unified: mnt}, own)
	if err != nil {
		t.Fatal(err)
	}
	outer := filepath.Dir(c.dir)
	parent := filepath.Dir(outer)
	enabled, _ := readString(parent, "cgroup.subtree_control")
	t.Cleanup(func() {
		c.Destroy()
		unix.Rmdir(outer)
		// Leave the host's tree as it was.
		if !strings.Contains(enabled, "hugetlb") {
			writeFile(parent, "cgroup.subtree_control", "-hugetlb")
		}
	})
	ch := startChild(t, "sleep")
	pid := ch.cmd.Process.Pid
	controllers, _ := readString(mnt, "cgroup.controllers")
	r := &specs.LinuxResources{}
	if strings.Contains(controllers, "hugetlb") && fileExists(mnt, "cgroup.subtree_control") {
		// Enabled on the way down, then written verbatim.
		r.Unified = map[string]string{"hugetlb.2MB.max": strconv.Itoa(8 << 20)}
	}
	if err := c.Apply(pid, r); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if r.Unified != nil && read(t, c.dir, "hugetlb.2MB.max") != strconv.Itoa(8<<20) {
		t.Errorf("hugetlb.2MB.max = %s", read(t, c.dir, "hugetlb.2MB.max"))
	}
	if !strings.Contains(read(t, c.dir, "cgroup.procs"), strconv.Itoa(pid)) {
		t.Errorf("cgroup.procs = %q, want %d", read(t, c.dir, "cgroup.procs"), pid)
	}
	if got, err := c.Pids(); err != nil || !slices.Equal(got, []int{pid}) {
		t.Errorf("Pids = %v, %v", got, err)
	}
	if !strings.Contains(controllers, "memory") {
		err := c.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 30)}})
		if err == nil || !strings.Contains(err.Error(), "the memory controller is not enabled") {
			t.Errorf("Update of memory without the controller = %v", err)
		}
		err = c.Update(&specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}})
		if err == nil || !strings.Contains(err.Error(), "the memory controller is not enabled") {
			t.Errorf("Update of unified memory.high without the controller = %v", err)
		}
	}
	if err := c.Update(&specs.LinuxResources{Unified: map[string]string{"nosuch.file": "1"}}); err == nil {
		t.Errorf("Update of a missing unified file succeeded")
	}
	if _, err := c.Stats(); err != nil {
		t.Errorf("Stats: %v", err)
	}
	if err := c.Freeze(true); err != nil {
		t.Fatalf("Freeze: %v", err)
	}
	if ev, _ := readKeyed(c.dir, "cgroup.events"); ev["frozen"] != 1 {
		t.Errorf("cgroup.events after Freeze: %v", ev)
	}
	if err := c.Freeze(false); err != nil {
		t.Fatalf("thaw: %v", err)
	}
	if ev, _ := readKeyed(c.dir, "cgroup.events"); ev["frozen"] != 0 {
		t.Errorf("cgroup.events after thaw: %v", ev)
	}
	if err := c.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	select {
	case <-ch.done:
	case <-time.After(2 * time.Second):
		t.Errorf("child still running after Destroy")
	}
	if _, err := os.Stat(c.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after Destroy: %v", c.dir, err)
	}
	if err := c.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}
