package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The OCI runtime, driven as container engines drive runc: a bundle with
// a busybox root, and moat's create/start/state/exec/kill/delete.

// ociRuntime is one state root, the --root of every command a test runs.
type ociRuntime struct {
	t    *testing.T
	root string
}

func newOCIRuntime(t *testing.T) *ociRuntime {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the OCI runtime runs as root, as engines run it (not root here)")
	}
	needBusybox(t)
	r := &ociRuntime{t: t, root: hostTempDir(t)}
	t.Cleanup(func() {
		// Nothing may outlive the test: kill what a failed test left.
		ents, _ := os.ReadDir(r.root)
		for _, e := range ents {
			r.moat("delete", "--force", e.Name())
		}
	})
	return r
}

// moat runs `moat --root R ARGS...`.
func (r *ociRuntime) moat(args ...string) (stdout, stderr string, code int) {
	r.t.Helper()
	argv := []string{moatBin, "--root", r.root}
	if moatPlatform != "" {
		argv = append(argv, "--platform", moatPlatform)
	}
	return run(r.t, runOpts{argv: append(argv, args...)})
}

// must runs a command that has to succeed.
func (r *ociRuntime) must(args ...string) string {
	r.t.Helper()
	out, errOut, code := r.moat(args...)
	if code != 0 {
		r.t.Fatalf("moat %s: status %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// create runs `moat create` with the container's stdio (which the
// sentry keeps) on a file in the bundle, and returns that file's path.
func (r *ociRuntime) create(bundle, id string, flags ...string) string {
	r.t.Helper()
	out := filepath.Join(bundle, id+".out")
	f, err := os.Create(out)
	if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	argv := []string{"--root", r.root}
	if moatPlatform != "" {
		argv = append(argv, "--platform", moatPlatform)
	}
	argv = append(append(append(argv, "create", "--bundle", bundle), flags...), id)
	cmd := exec.Command(moatBin, argv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, f, f
	if err := cmd.Run(); err != nil {
		r.t.Fatalf("moat create %s: %v\n%s", id, err, readFile(r.t, out))
	}
	return out
}

// state returns the container's state.
func (r *ociRuntime) state(id string) specs.State {
	r.t.Helper()
	var st specs.State
	if err := json.Unmarshal([]byte(r.must("state", id)), &st); err != nil {
		r.t.Fatalf("state %s: %v", id, err)
	}
	return st
}

// waitStatus waits for the container to reach status want.
func (r *ociRuntime) waitStatus(id string, want specs.ContainerState) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := r.state(id)
		if st.Status == want {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("container %s: status %s, want %s", id, st.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ociBundle makes a bundle whose rootfs holds busybox and its applets,
// with the config `moat spec` writes, no terminal, running args, changed
// by edit.
func ociBundle(t *testing.T, args []string, edit func(*specs.Spec)) string {
	t.Helper()
	dir := hostTempDir(t)
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "tmp", "data"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range strings.Fields(string(list)) {
		os.Symlink("busybox", filepath.Join(rootfs, "bin", name))
	}
	os.WriteFile(filepath.Join(rootfs, "etc/passwd"), []byte("root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"), 0o644)
	cmd := exec.Command(moatBin, "spec")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("moat spec: %v\n%s", err, out)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(cfg, &s); err != nil {
		t.Fatal(err)
	}
	s.Process.Terminal = false
	s.Process.Args = args
	s.Root.Readonly = false
	if edit != nil {
		edit(&s)
	}
	if cfg, err = json.Marshal(&s); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestOCILifecycle(t *testing.T) {
	r := newOCIRuntime(t)
	bundle := ociBundle(t, []string{"sh", "-c", `trap 'echo got TERM; exit 3' TERM; echo started; while :; do sleep 0.05; done`}, nil)
	pidFile := filepath.Join(bundle, "pid")
	out := r.create(bundle, "c1", "--pid-file", pidFile)

	st := r.state("c1")
	pid, _ := strconv.Atoi(readFile(t, pidFile))
	if st.Status != specs.StateCreated || st.Pid != pid || pid <= 0 || st.ID != "c1" || st.Bundle != bundle {
		t.Fatalf("after create: state %+v, pid file %d", st, pid)
	}
	// The sentry runs in host namespaces of its own for those the config
	// asks for (defence in depth; the host sees them as a runc
	// container's).
	for _, ns := range []string{"pid", "ipc", "uts", "mnt", "net"} {
		mine, _ := os.Readlink("/proc/self/ns/" + ns)
		its, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		if err != nil || its == mine {
			t.Errorf("sentry's %s namespace %q (%v): want one of its own, not %q", ns, its, err, mine)
		}
	}
	if _, _, code := r.moat("create", "--bundle", bundle, "c1"); code != 1 {
		t.Errorf("create of an id in use: status %d, want 1", code)
	}
	r.must("start", "c1")
	if st := r.state("c1"); st.Status != specs.StateRunning {
		t.Fatalf("after start: %s", st.Status)
	}
	if _, errOut, code := r.moat("start", "c1"); code != 1 || !strings.Contains(errOut, "already running") {
		t.Errorf("second start: status %d, %q", code, errOut)
	}

	// exec: the process's stdout and status come back.
	stdout, _, code := r.moat("exec", "c1", "sh", "-c", "echo in $(pwd) as $(id -u); exit 7")
	if stdout != "in / as 0\n" || code != 7 {
		t.Errorf("exec: %q, status %d", stdout, code)
	}
	stdout, _, code = r.moat("exec", "--cwd", "/tmp", "--env", "X=42", "--user", "65534:65534", "c1", "sh", "-c", "echo $X $(pwd) $(id -u):$(id -g)")
	if stdout != "42 /tmp 65534:65534\n" || code != 0 {
		t.Errorf("exec with --cwd --env --user: %q, status %d", stdout, code)
	}
	// ps --format json: host pids, as runc's (engines look them up on
	// the host): the sentry's among them.
	var pids []int
	if err := json.Unmarshal([]byte(r.must("ps", "--format", "json", "c1")), &pids); err != nil || !containsInt(pids, r.state("c1").Pid) {
		t.Errorf("ps --format json: %v %v, want the sentry's pid %d among them", pids, err, r.state("c1").Pid)
	}

	// events --stats: one record of the container's statistics, from its
	// cgroup.
	var ev struct {
		Type string
		ID   string
		Data struct {
			Pids   struct{ Current int }
			Memory struct{ Usage struct{ Usage uint64 } }
		}
	}
	if err := json.Unmarshal([]byte(r.must("events", "--stats", "c1")), &ev); err != nil || ev.Type != "stats" || ev.ID != "c1" ||
		ev.Data.Pids.Current < 1 || ev.Data.Memory.Usage.Usage == 0 {
		t.Errorf("events --stats: %+v (%v)", ev, err)
	}

	// pause stops the app without it noticing; resume lets it go on.
	r.must("pause", "c1")
	if st := r.state("c1"); st.Status != "paused" {
		t.Errorf("after pause: %s", st.Status)
	}
	if _, _, code := r.moat("exec", "c1", "true"); code == 0 {
		t.Errorf("exec into a paused container succeeded")
	}
	r.must("resume", "c1")
	if st := r.state("c1"); st.Status != specs.StateRunning {
		t.Errorf("after resume: %s", st.Status)
	}

	if _, errOut, code := r.moat("delete", "c1"); code != 1 || !strings.Contains(errOut, "not stopped") {
		t.Errorf("delete of a running container: status %d, %q", code, errOut)
	}
	r.must("kill", "c1", "TERM") // init handles it: it exits 3
	r.waitStatus("c1", specs.StateStopped)
	if got := readFile(t, out); got != "started\ngot TERM\n" {
		t.Errorf("container output %q", got)
	}
	if _, errOut, code := r.moat("exec", "c1", "true"); code != 1 || !strings.Contains(errOut, "not running") {
		t.Errorf("exec into a stopped container: status %d, %q", code, errOut)
	}
	r.must("delete", "c1")
	if _, errOut, code := r.moat("state", "c1"); code != 1 || !strings.Contains(errOut, "does not exist") {
		t.Errorf("state after delete: status %d, %q", code, errOut)
	}
	if ents, _ := os.ReadDir(r.root); len(ents) != 0 {
		t.Errorf("left in --root after delete: %v", ents)
	}
	if syscall.Kill(pid, 0) == nil && !zombie(pid) {
		t.Errorf("sentry %d still alive after delete", pid)
	}
}

// TestOCIKillEndsInit: a kill that ends a container's process is
// answered before the process that serves the container's control socket
// exits (its sentry, or a pod container's stand-in). Both used to exit as
// soon as the process had, racing the answer, and the kill failed now and
// then with the socket's EOF: containerd's StopContainer of a pod's
// container reported "did not terminate successfully". Several rounds, as
// the race is narrow.
func TestOCIKillEndsInit(t *testing.T) {
	r := newOCIRuntime(t)
	pause := ociBundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Annotations = map[string]string{"io.kubernetes.cri.container-type": "sandbox"}
	})
	app := ociBundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Annotations = map[string]string{"io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "pod"}
	})
	r.create(pause, "pod")
	r.must("start", "pod")
	for i := range 5 {
		id := fmt.Sprintf("app%d", i)
		r.create(app, id)
		r.must("start", id)
		r.must("kill", id, "KILL")
		r.waitStatus(id, specs.StateStopped)
		r.must("delete", id)
	}
	r.must("kill", "pod", "KILL")
	r.waitStatus("pod", specs.StateStopped)
	r.must("delete", "pod")
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// zombie reports whether host process pid is a zombie.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// TestOCIConfig checks that the config's process, names, mounts and
// paths reach the container, and that its status is the sentry's.
func TestOCIConfig(t *testing.T) {
	r := newOCIRuntime(t)
	hostDir := hostTempDir(t)
	os.Chmod(hostDir, 0o777) // the container's user writes there
	os.WriteFile(filepath.Join(hostDir, "in"), []byte("from host\n"), 0o644)
	script := `echo host=$(hostname) cwd=$(pwd) env=$GREETING
echo ids=$(id -u):$(id -g) groups=$(id -G)
echo nofile=$(ulimit -n)
grep -E '^Cap(Eff|Bnd)' /proc/self/status
cat /data/in; echo to host > /data/out
echo x > /ro/f 2>/dev/null || echo ro bind refused
touch /newfile 2>/dev/null || echo root read-only
echo x > /tmp/t && echo tmpfs writable
echo masked=$(wc -c < /etc/passwd) $(ls /data | wc -l)
echo x > /proc/sys/kernel/hostname 2>/dev/null || echo proc/sys read-only
echo $(grep MemTotal /proc/meminfo) max=$(cat /sys/fs/cgroup/memory.max) pids=$(cat /sys/fs/cgroup/pids.max)
timeout 1 nc -l -p 80 >/dev/null 2>&1; [ $? = 1 ] || echo port 80 bound as a user
exit 9`
	bundle := ociBundle(t, []string{"sh", "-c", script}, func(s *specs.Spec) {
		s.Hostname, s.Domainname = "box", "example"
		s.Process.Cwd = "/tmp"
		s.Process.Env = append(s.Process.Env, "GREETING=hi")
		s.Process.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{5, 7}}
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 512, Soft: 256}}
		// A user other than root keeps capabilities across its execve
		// only through the ambient set, as on Linux.
		kill := []string{"CAP_KILL"}
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL", "CAP_CHOWN"}, Effective: kill,
			Permitted: kill, Inheritable: kill, Ambient: kill}
		s.Root.Readonly = true
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/data", Type: "bind", Source: hostDir, Options: []string{"rbind", "rw"}},
			specs.Mount{Destination: "/ro", Type: "bind", Source: hostDir, Options: []string{"rbind", "ro"}},
			specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "mode=1777"}})
		s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/etc/passwd")
		s.Annotations = map[string]string{"org.example.k": "v"}
		limit, pids := int64(256<<20), int64(100)
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: pids}
		s.Linux.CgroupsPath = "/moat-test-" + filepath.Base(hostDir)
		// As docker sets it: any user may bind any port.
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_unprivileged_port_start": "0", "net.core.somaxconn": "1024"}
	})
	stdout, errOut, code := r.moat("run", "--bundle", bundle, "c2")
	want := `host=box cwd=/tmp env=hi
ids=1000:1001 groups=1001 5 7
nofile=256
CapEff:	0000000000000020
CapBnd:	0000000000000021
from host
ro bind refused
root read-only
tmpfs writable
masked=0 2
proc/sys read-only
MemTotal: 262144 kB max=268435456 pids=100
port 80 bound as a user
`
	if code != 9 || stdout != want {
		t.Errorf("run: status %d, want 9; stderr %q\n%s", code, errOut, lineDiff(want, stdout))
	}
	if got := readFile(t, filepath.Join(hostDir, "out")); got != "to host\n" {
		t.Errorf("write through the rw bind: host file %q", got)
	}
	if ents, _ := os.ReadDir(r.root); len(ents) != 0 {
		t.Errorf("run left state behind: %v", ents)
	}
	if left, _ := filepath.Glob("/sys/fs/cgroup/*/moat-test-" + filepath.Base(hostDir)); len(left) != 0 {
		t.Errorf("run left its cgroup behind: %v", left)
	}
}

// TestOCIHooks runs the hooks at their points, each with the state on
// stdin.
func TestOCIHooks(t *testing.T) {
	r := newOCIRuntime(t)
	dir := hostTempDir(t)
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + filepath.Join(dir, name)}}
	}
	bundle := ociBundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{hook("createRuntime")}, Poststart: []specs.Hook{hook("poststart")},
			Poststop: []specs.Hook{hook("poststop")},
			// In the container: its path and its output are the
			// container's.
			StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > /startContainer"}}}}
	})
	r.create(bundle, "h1")
	var st specs.State
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "createRuntime"))), &st); err != nil || st.ID != "h1" || st.Status != specs.StateCreated || st.Pid <= 0 {
		t.Errorf("createRuntime hook got state %+v (%v)", st, err)
	}
	if fileExists(filepath.Join(dir, "poststart")) {
		t.Errorf("poststart ran before start")
	}
	r.must("start", "h1")
	if !fileExists(filepath.Join(dir, "poststart")) {
		t.Errorf("poststart did not run at start")
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(bundle, "rootfs/startContainer"))), &st); err != nil || st.ID != "h1" {
		t.Errorf("startContainer hook got state %+v (%v)", st, err)
	}
	r.waitStatus("h1", specs.StateStopped)
	r.must("delete", "h1")
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "poststop"))), &st); err != nil || st.Status != specs.StateStopped {
		t.Errorf("poststop hook got state %+v (%v)", st, err)
	}

	// A failing create hook fails create and leaves nothing.
	bundle = ociBundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/false"}}}
	})
	if _, errOut, code := r.moat("create", "--bundle", bundle, "h2"); code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("failing hook: status %d, stderr %q", code, errOut)
	}
	if ents, _ := os.ReadDir(r.root); len(ents) != 0 {
		t.Errorf("left in --root after a failed create: %v", ents)
	}
}

// TestOCIBadInput: each mistake is one line on stderr and status 1, and
// leaves nothing behind.
func TestOCIBadInput(t *testing.T) {
	r := newOCIRuntime(t)
	good := ociBundle(t, []string{"sleep", "30"}, nil)
	malformed := hostTempDir(t)
	os.WriteFile(filepath.Join(malformed, "config.json"), []byte(`{"ociVersion": "1.2.0", "process": `), 0o644)
	noRootfs := ociBundle(t, []string{"true"}, func(s *specs.Spec) { s.Root.Path = "/no/such/rootfs" })
	noArgs := ociBundle(t, []string{"true"}, func(s *specs.Spec) { s.Process.Args = nil })
	noProgram := ociBundle(t, []string{"/no/such/program"}, nil)
	badRlimit := ociBundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS", Hard: 1, Soft: 1}}
	})
	badSysctl := ociBundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Linux.Sysctl = map[string]string{"vm.swappiness": "10"}
	})
	badMount := ociBundle(t, []string{"true"}, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "nfs", Source: "server:/x"})
	})
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"malformed config", []string{"create", "--bundle", malformed, "b1"}, "malformed"},
		{"no config", []string{"create", "--bundle", hostTempDir(t), "b1"}, "config.json"},
		{"missing rootfs", []string{"create", "--bundle", noRootfs, "b1"}, "rootfs"},
		{"empty args", []string{"create", "--bundle", noArgs, "b1"}, "args"},
		{"no such program", []string{"create", "--bundle", noProgram, "b1"}, "/no/such/program"},
		{"unknown rlimit", []string{"create", "--bundle", badRlimit, "b1"}, "RLIMIT_BOGUS"},
		{"unsupported mount", []string{"create", "--bundle", badMount, "b1"}, "nfs"},
		{"host-wide sysctl", []string{"create", "--bundle", badSysctl, "b1"}, "vm.swappiness"},
		{"bad id", []string{"create", "--bundle", good, "../escape"}, "invalid container id"},
		{"unknown id state", []string{"state", "nope"}, "does not exist"},
		{"unknown id start", []string{"start", "nope"}, "does not exist"},
		{"unknown id kill", []string{"kill", "nope", "KILL"}, "does not exist"},
		{"unknown id delete", []string{"delete", "nope"}, "does not exist"},
		{"unknown id exec", []string{"exec", "nope", "true"}, "does not exist"},
	}
	for _, c := range cases {
		_, errOut, code := r.moat(c.args...)
		if code != 1 || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || strings.Contains(errOut, "goroutine") {
			t.Errorf("%s: status %d, stderr %q; want 1 and one line with %q", c.name, code, errOut, c.want)
		}
	}
	if ents, _ := os.ReadDir(r.root); len(ents) != 0 {
		t.Errorf("failed creates left state: %v", ents)
	}

	// delete --force of a running container leaves nothing, on the
	// host either.
	r.create(good, "b2")
	r.must("start", "b2")
	pid := r.state("b2").Pid
	if _, _, code := r.moat("kill", "b2", "NOSUCHSIG"); code != 1 {
		t.Errorf("kill with an unknown signal: status %d", code)
	}
	r.must("delete", "--force", "b2")
	if ents, _ := os.ReadDir(r.root); len(ents) != 0 {
		t.Errorf("delete --force left state: %v", ents)
	}
	if syscall.Kill(pid, 0) == nil && !zombie(pid) {
		t.Errorf("sentry %d alive after delete --force", pid)
	}
	if _, _, code := r.moat("delete", "--force", "b2"); code != 0 {
		t.Errorf("delete --force of a gone container: status %d, want 0 (as runc)", code)
	}
}

// TestOCITerminal: with process.terminal, the master goes to the console
// socket; the container's programs see a terminal of the config's size.
func TestOCITerminal(t *testing.T) {
	r := newOCIRuntime(t)
	bundle := ociBundle(t, []string{"sh", "-c", "tty; stty size; read line; echo got $line"}, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &specs.Box{Height: 33, Width: 101}
	})
	sock := filepath.Join(bundle, "console.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	masterCh := make(chan *os.File, 1)
	go func() {
		c, err := ln.AcceptUnix()
		if err != nil {
			masterCh <- nil
			return
		}
		defer c.Close()
		buf, oob := make([]byte, 256), make([]byte, syscall.CmsgSpace(4))
		_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		msgs, _ := syscall.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			masterCh <- nil
			return
		}
		fds, _ := syscall.ParseUnixRights(&msgs[0])
		masterCh <- os.NewFile(uintptr(fds[0]), "master")
	}()
	r.create(bundle, "tty1", "--console-socket", sock)
	master := <-masterCh
	if master == nil {
		t.Fatal("no terminal master on the console socket")
	}
	defer master.Close()
	r.must("start", "tty1")
	master.Write([]byte("hello\r"))
	var got []byte
	buf := make([]byte, 1024)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(string(got), "got hello") && time.Now().Before(deadline) {
		master.SetReadDeadline(deadline)
		n, err := master.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	for _, want := range []string{"/dev/pts/0\r\n", "33 101\r\n", "got hello\r\n"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("terminal output %q lacks %q", got, want)
		}
	}
	r.waitStatus("tty1", specs.StateStopped)
	r.must("delete", "tty1")
}

// TestOCIPod: containers carrying the CRI annotations join their pod's
// sandbox, each with its own root; each has its own status, processes
// and exit.
func TestOCIPod(t *testing.T) {
	r := newOCIRuntime(t)
	pause := ociBundle(t, []string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Annotations = map[string]string{"io.kubernetes.cri.container-type": "sandbox"}
	})
	app := ociBundle(t, []string{"sh", "-c", "trap 'exit 5' TERM; while :; do sleep 0.05; done"}, func(s *specs.Spec) {
		s.Annotations = map[string]string{"io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "pod"}
	})
	os.WriteFile(filepath.Join(app, "rootfs/marker"), []byte("app root\n"), 0o644)
	r.create(pause, "pod")
	r.must("start", "pod")
	r.create(app, "app")
	podPid, appPid := r.state("pod").Pid, r.state("app").Pid
	if appPid == podPid || appPid <= 0 {
		t.Fatalf("the app's pid %d: want a stand-in of its own (the pod's sentry is %d)", appPid, podPid)
	}
	r.must("start", "app")
	if st := r.state("app"); st.Status != specs.StateRunning {
		t.Fatalf("app after start: %s", st.Status)
	}
	if out, _, code := r.moat("exec", "app", "cat", "/marker"); out != "app root\n" || code != 0 {
		t.Errorf("exec in the app sees %q (status %d), want its own root", out, code)
	}
	if _, _, code := r.moat("exec", "pod", "cat", "/marker"); code == 0 {
		t.Errorf("the pod's container sees the app's root")
	}
	var pids []int
	json.Unmarshal([]byte(r.must("ps", "--format", "json", "app")), &pids)
	if len(pids) == 0 || containsInt(pids, 1) {
		t.Errorf("ps of the app: %v (its processes only, not the pod's init)", pids)
	}
	r.must("kill", "app", "TERM")
	r.waitStatus("app", specs.StateStopped)
	if st := r.state("pod"); st.Status != specs.StateRunning {
		t.Errorf("the pod after its app stopped: %s", st.Status)
	}
	r.must("delete", "app")
	r.must("delete", "--force", "pod")
	if syscall.Kill(appPid, 0) == nil && !zombie(appPid) {
		t.Errorf("stand-in %d alive after delete", appPid)
	}
}

// TestOCISeccomp: the config's linux.seccomp holds for the container's
// process, its children and the processes exec'd into it.
func TestOCISeccomp(t *testing.T) {
	r := newOCIRuntime(t)
	eperm := uint(1)
	bundle := ociBundle(t, []string{"sh", "-c", "mkdir /tmp/d || echo init refused; sleep 30"}, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64},
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &eperm}}}
	})
	out := r.create(bundle, "sc")
	r.must("start", "sc")
	stdout, stderr, _ := r.moat("exec", "sc", "sh", "-c", "mkdir /tmp/e || echo exec refused; echo ok > /tmp/f && cat /tmp/f")
	if stdout != "exec refused\nok\n" || !strings.Contains(stderr, "Operation not permitted") {
		t.Errorf("exec under the container's filter: stdout %q, stderr %q", stdout, stderr)
	}
	r.must("delete", "--force", "sc")
	if got := readFile(t, out); !strings.Contains(got, "Operation not permitted") || !strings.Contains(got, "init refused") {
		t.Errorf("init under the filter: %q", got)
	}
}
