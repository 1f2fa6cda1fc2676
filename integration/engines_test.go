package integration

// Real container engines driving moat as their OCI runtime: containerd
// (ctr, through the io.containerd.runc.v2 shim), podman (through conmon)
// and dockerd (through its own containerd and the same shim). Each test
// installs its engine if it is missing (apt-get, as .ci/run does), starts
// any daemon itself with state, root and sockets under a temporary
// directory, imports an image made here from busybox-static, drives the
// engine, and stops the daemon at the end. Each skips, saying why, when
// not root or when the engine cannot be installed or started.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// engineImage is the name the busybox image is imported under.
const engineImage = "docker.io/moat-test/busybox:latest"

// engineTimeout bounds one engine command.
const engineTimeout = 60 * time.Second

// needEngineHost skips an engine test when not root, and on a platform
// other than moat's default: the engines run moat with its default
// platform, so the seccomp run of the suite covers them.
func needEngineHost(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (container engines run as root here)")
	}
	if moatPlatform != "" && moatPlatform != "seccomp" {
		t.Skipf("MOAT_PLATFORM=%s: the engines run moat on its default platform (seccomp), tested in that run", moatPlatform)
	}
	if p := os.Getenv("MOAT_SYSCALL_PATCH"); p == "off" || p == "0" {
		t.Skipf("MOAT_SYSCALL_PATCH=%s: the engines run moat with its defaults (patching on), tested in that run", p)
	}
}

var aptMu sync.Mutex

// needCommands makes sure the commands exist, installing the Debian
// packages that provide them if any is missing; it skips the test if
// they cannot be had.
func needCommands(t *testing.T, pkgs []string, cmds ...string) {
	t.Helper()
	missing := func() []string {
		var m []string
		for _, c := range cmds {
			if _, err := exec.LookPath(c); err != nil {
				m = append(m, c)
			}
		}
		return m
	}
	if len(missing()) == 0 {
		return
	}
	aptMu.Lock()
	defer aptMu.Unlock()
	if len(missing()) == 0 {
		return
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skipf("%v missing and no apt-get to install %v", missing(), pkgs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "-qq"}, pkgs...)...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if m := missing(); len(m) > 0 {
		t.Skipf("%v missing; apt-get install %v failed (%v):\n%s", m, strings.Join(pkgs, " "), err, tail(string(out), 20))
	}
}

var (
	imageOnce sync.Once
	imagePath string
	imageErr  error
)

// busyboxImage returns a docker-archive (what `docker save` writes, and
// `docker load`, `podman load` and `ctr image import` read) of a one-layer
// image: /bin/busybox from busybox-static with a symlink per applet,
// /etc/passwd and /etc/group, and sh as the command.
func busyboxImage(t *testing.T) string {
	t.Helper()
	needBusybox(t)
	imageOnce.Do(func() {
		imagePath = filepath.Join(workDir, "busybox-image.tar")
		imageErr = makeBusyboxImage(imagePath, engineImage, []string{"sh"})
	})
	if imageErr != nil {
		t.Fatalf("making the busybox image: %v", imageErr)
	}
	return imagePath
}

// makeBusyboxImage writes the image, tagged name, with cmd as its
// command.
func makeBusyboxImage(path, name string, cmd []string) error {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %v", err)
	}
	now := time.Unix(1700000000, 0)
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for _, d := range []string{"bin", "dev", "etc", "proc", "root", "sys", "tmp"} {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: now})
	}
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin)), ModTime: now})
	tw.Write(bin)
	applets := strings.Fields(string(list))
	sort.Strings(applets)
	for _, a := range applets {
		if a != "busybox" && !strings.Contains(a, "/") {
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, ModTime: now})
		}
	}
	for name, body := range map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	} {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: now})
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		return err
	}
	sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"created":      now.UTC().Format(time.RFC3339),
		"config": map[string]any{
			"Env":        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"Cmd":        cmd,
			"WorkingDir": "/",
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + sum(layer.Bytes())}},
		"history": []map[string]any{{"created": now.UTC().Format(time.RFC3339), "created_by": "moat integration test"}},
	})
	configName := sum(config) + ".json"
	manifest, _ := json.Marshal([]map[string]any{{
		"Config": configName, "RepoTags": []string{name}, "Layers": []string{"layer.tar"},
	}})
	var archive bytes.Buffer
	aw := tar.NewWriter(&archive)
	for _, f := range []struct {
		name string
		body []byte
	}{{"manifest.json", manifest}, {configName, config}, {"layer.tar", layer.Bytes()}} {
		aw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: now})
		aw.Write(f.body)
	}
	if err := aw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, archive.Bytes(), 0o644)
}

// engine runs one engine's commands with a fixed environment.
type engine struct {
	argv []string // the command and its global flags
	env  []string
}

// run runs the engine with args and returns stdout, stderr and status.
func (e *engine) run(t testing.TB, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	argv := append(append([]string(nil), e.argv...), args...)
	return run(t, runOpts{argv: argv, env: e.env, stdin: stdin, timeout: engineTimeout})
}

// ok runs the engine and fails the test unless it succeeds.
func (e *engine) ok(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, code := e.run(t, "", args...)
	if code != 0 {
		t.Fatalf("%s %s: status %d\nstdout:\n%s\nstderr:\n%s", strings.Join(e.argv, " "), strings.Join(args, " "),
			code, tail(out, 20), tail(errOut, 20))
	}
	return out
}

// expect runs the engine and checks its stdout (with \r\n as \n) and
// status.
func (e *engine) expect(t testing.TB, wantOut string, wantCode int, stdin string, args ...string) {
	t.Helper()
	out, errOut, code := e.run(t, stdin, args...)
	out = strings.ReplaceAll(out, "\r\n", "\n")
	if out != wantOut || code != wantCode {
		t.Errorf("%s %s:\ngot status %d, stdout %q\nwant status %d, stdout %q\nstderr:\n%s",
			strings.Join(e.argv, " "), strings.Join(args, " "), code, out, wantCode, wantOut, tail(errOut, 20))
	}
}

// daemon is a daemon the test started.
type daemon struct {
	name string
	cmd  *exec.Cmd
	log  string
}

// startDaemon starts argv with its output in logFile, and waits until
// ready returns nil.
func startDaemon(t *testing.T, logFile string, ready func() error, argv ...string) *daemon {
	t.Helper()
	lf, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), "PATH="+os.Getenv("PATH"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Skipf("%s cannot start: %v", argv[0], err)
	}
	d := &daemon{name: filepath.Base(argv[0]), cmd: cmd, log: logFile}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			t.Errorf("%s did not stop on SIGTERM within 15s; killing it", d.name)
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := ready()
		if err == nil {
			return d
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logFile)
			t.Skipf("%s exited at start (%v); cannot run it here. Its log:\n%s", d.name, cmd.ProcessState, tail(string(b), 30))
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logFile)
			t.Fatalf("%s not ready after 30s: %v\nits log:\n%s", d.name, err, tail(string(b), 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logTail returns the end of the daemon's log, for failure messages.
func (d *daemon) logTail() string {
	b, _ := os.ReadFile(d.log)
	return tail(string(b), 40)
}

// unmountUnder unmounts whatever is mounted below dir (deepest first):
// the engines' rootfs, shm and netns mounts left by a failed test.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mps []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			mps = append(mps, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mps)))
	for _, mp := range mps {
		syscall.Unmount(mp, syscall.MNT_DETACH)
	}
}

// engineDir makes the test's directory for an engine's state; it is
// unmounted and removed at the end (after the daemons, which stop in
// the cleanups registered later).
func engineDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp(workDir, "engine-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unmountUnder(d)
		os.RemoveAll(d)
	})
	return d
}

// hostEnv is the test's environment for engine commands: the host's
// PATH (the engines find their helpers there) and the given variables.
func hostEnv(extra ...string) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	return append([]string{"PATH=" + path, "HOME=/root", "LANG=C"}, extra...)
}

// waitFor polls cond every 50ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// TestContainerd: containerd 1.6 (Debian's) with ctr, which runs moat
// through the io.containerd.runc.v2 shim with --runc-binary.
func TestContainerd(t *testing.T) {
	needEngineHost(t)
	needCommands(t, []string{"containerd", "runc"}, "containerd", "ctr", "containerd-shim-runc-v2")
	image := busyboxImage(t)
	dir := engineDir(t)
	sock := filepath.Join(dir, "containerd.sock")
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = %q
[metrics]
  address = ""
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc", filepath.Join(dir, "debug.sock"))
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	ns := fmt.Sprintf("moat-test-%d", os.Getpid())
	ctr := &engine{argv: []string{"ctr", "--address", sock, "--namespace", ns}, env: hostEnv()}
	d := startDaemon(t, filepath.Join(dir, "containerd.log"), func() error {
		_, err := exec.Command("ctr", "--address", sock, "version").CombinedOutput()
		return err
	}, "containerd", "--config", filepath.Join(dir, "config.toml"))
	t.Cleanup(func() {
		// Tasks left by a failed subtest: kill and delete them, so
		// that no shim outlives the test.
		out, _, _ := ctr.run(t, "", "task", "ls", "-q")
		for _, id := range strings.Fields(out) {
			ctr.run(t, "", "task", "kill", "-s", "SIGKILL", id)
		}
		for _, id := range strings.Fields(out) {
			ctr.run(t, "", "task", "delete", "--force", id)
		}
		out, _, _ = ctr.run(t, "", "container", "ls", "-q")
		for _, id := range strings.Fields(out) {
			ctr.run(t, "", "container", "delete", id)
		}
		// The shim's runc root for the namespace (empty by now).
		os.Remove(filepath.Join("/run/containerd/runc", ns))
		if t.Failed() {
			t.Logf("containerd's log:\n%s", d.logTail())
		}
	})
	ctr.ok(t, "image", "import", image)
	rb := []string{"--runc-binary", moatBin}

	t.Run("run", func(t *testing.T) {
		start := time.Now()
		ctr.expect(t, "hello\n", 3, "", append(append([]string{"run", "--rm"}, rb...), engineImage, "c-run", "sh", "-c", "echo hello; exit 3")...)
		t.Logf("ctr run --rm: %v", time.Since(start))
		ctr.expect(t, "moat\n", 0, "", append(append([]string{"run", "--rm", "--env", "FOO=moat"}, rb...), engineImage, "c-run-env", "sh", "-c", "echo $FOO")...)
	})
	// The error of a failed create reaches ctr through moat's --log.
	t.Run("run-missing-command", func(t *testing.T) {
		_, errOut, code := ctr.run(t, "", append(append([]string{"run", "--rm"}, rb...), engineImage, "c-missing", "/no/such/program")...)
		if code == 0 || !strings.Contains(errOut, "/no/such/program") {
			t.Errorf("ctr run of a missing program: status %d, stderr %q; want non-zero and the error naming the program", code, errOut)
		}
		ctr.run(t, "", "container", "delete", "c-missing")
	})
	t.Run("detached", func(t *testing.T) {
		id := "c-detached"
		ctr.ok(t, append(append([]string{"run", "-d"}, rb...), engineImage, id, "sh", "-c",
			`trap "echo got TERM; exit 7" TERM; while true; do sleep 0.1; done`)...)
		ctr.expect(t, "in exec\n", 5, "", "task", "exec", "--exec-id", "e1", id, "sh", "-c", "echo in exec; exit 5")
		ctr.expect(t, "", 0, "", "task", "exec", "--exec-id", "e2", id, "true")
		ps := ctr.ok(t, "task", "ps", id)
		if !strings.Contains(ps, "PID") || len(strings.Split(strings.TrimSpace(ps), "\n")) < 2 {
			t.Errorf("ctr task ps: %q, want a header and the container's host processes", ps)
		}
		status := func() string {
			out, _, _ := ctr.run(t, "", "task", "ls")
			for _, l := range strings.Split(out, "\n") {
				if f := strings.Fields(l); len(f) == 3 && f[0] == id {
					return f[2]
				}
			}
			return "?"
		}
		ctr.ok(t, "task", "pause", id)
		if s := status(); s != "PAUSED" {
			t.Errorf("after ctr task pause: status %s, want PAUSED", s)
		}
		ctr.ok(t, "task", "resume", id)
		if s := status(); s != "RUNNING" {
			t.Errorf("after ctr task resume: status %s, want RUNNING", s)
		}
		ctr.ok(t, "task", "kill", id) // SIGTERM: the trap exits 7
		if !waitFor(10*time.Second, func() bool { return status() == "STOPPED" }) {
			t.Fatalf("the task did not stop after SIGTERM: %s", status())
		}
		// ctr task delete reports the exit status.
		_, errOut, code := ctr.run(t, "", "task", "delete", id)
		if code != 0 || !strings.Contains(errOut, "exit code 7") {
			t.Errorf("ctr task delete: status %d, stderr %q; want the task's exit code 7", code, errOut)
		}
		ctr.ok(t, "container", "delete", id)
	})
	t.Run("kill", func(t *testing.T) {
		id := "c-kill"
		ctr.ok(t, append(append([]string{"run", "-d"}, rb...), engineImage, id, "sleep", "100")...)
		ctr.ok(t, "task", "kill", "--signal", "SIGKILL", id)
		if !waitFor(10*time.Second, func() bool {
			out, _, _ := ctr.run(t, "", "task", "ls")
			return strings.Contains(out, "STOPPED")
		}) {
			t.Fatal("the task did not stop after SIGKILL")
		}
		_, errOut, _ := ctr.run(t, "", "task", "delete", id)
		if !strings.Contains(errOut, "exit code 137") {
			t.Errorf("ctr task delete after SIGKILL: stderr %q; want exit code 137", errOut)
		}
		ctr.ok(t, "container", "delete", id)
	})
}

// TestPodman: podman (through conmon) with --runtime moat, configured
// by a containers.conf that lists moat in runtime_supports_json.
func TestPodman(t *testing.T) {
	needEngineHost(t)
	needCommands(t, []string{"podman"}, "podman", "conmon")
	image := busyboxImage(t)
	dir := engineDir(t)
	// This VM's default limits are higher than the kernel lets podman
	// set: default_ulimits keeps them low.
	conf := fmt.Sprintf(`[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "moat"
runtime_supports_json = ["crun", "runc", "kata", "runsc", "moat"]
[engine.runtimes]
moat = [%q]
`, moatBin)
	confPath := filepath.Join(dir, "containers.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o700)
	// podman wants a run root of at most 50 characters.
	runRoot, err := os.MkdirTemp("", "moat-podman-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unmountUnder(runRoot)
		os.RemoveAll(runRoot)
	})
	pm := &engine{argv: []string{"podman", "--root", filepath.Join(dir, "root"), "--runroot", runRoot,
		"--tmpdir", tmp, "--storage-driver", "vfs"}, env: hostEnv("CONTAINERS_CONF=" + confPath)}
	t.Cleanup(func() {
		pm.run(t, "", "rm", "--all", "--force", "--time", "0")
		pm.run(t, "", "rmi", "--all", "--force")
	})
	if out, errOut, code := pm.run(t, "", "load", "--input", image); code != 0 {
		t.Skipf("podman cannot load an image here (status %d): %s%s", code, out, tail(errOut, 20))
	}

	t.Run("run", func(t *testing.T) {
		start := time.Now()
		pm.expect(t, "hello\n", 3, "", "run", "--rm", engineImage, "sh", "-c", "echo hello; exit 3")
		t.Logf("podman run --rm: %v", time.Since(start))
		pm.expect(t, "abc\n", 0, "abc\n", "run", "--rm", "-i", "--env", "X=b", engineImage, "sh", "-c", `read l; echo $l`)
		pm.expect(t, "0 0\n", 0, "", "run", "--rm", engineImage, "sh", "-c", `echo $(id -u) $(id -g)`)
		pm.expect(t, "65534\n", 0, "", "run", "--rm", "--user", "65534", engineImage, "id", "-u")
		pm.expect(t, "/run/podman-init\n", 4, "", "run", "--rm", "--init", engineImage, "sh", "-c", "tr '\\0' '\\n' </proc/1/cmdline | head -n 1; exit 4")
	})
	t.Run("network-none", func(t *testing.T) {
		pm.expect(t, "lo\n", 0, "", "run", "--rm", "--network", "none", engineImage, "sh", "-c",
			`tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '`)
	})
	// The default network: podman's bridge, in a network namespace the
	// sentry joins.
	t.Run("network-bridge", func(t *testing.T) {
		out, errOut, code := pm.run(t, "", "run", "--rm", engineImage, "sh", "-c", `ip -4 addr show eth0 | grep -c inet`)
		if code != 0 || strings.TrimSpace(out) != "1" {
			t.Errorf("podman run on the default network: status %d, stdout %q, stderr %q; want eth0 with an address", code, out, tail(errOut, 10))
		}
	})
	t.Run("detached", func(t *testing.T) {
		name := "p-detached"
		pm.ok(t, "run", "-d", "--network", "none", "--name", name, engineImage, "sh", "-c",
			`trap "echo bye; exit 9" TERM; echo started; while true; do sleep 0.1; done`)
		pm.expect(t, "in exec\n", 4, "", "exec", name, "sh", "-c", "echo in exec; exit 4")
		pm.expect(t, "got input\n", 0, "input\n", "exec", "-i", name, "sh", "-c", `read x; echo got $x`)
		pm.expect(t, "/dev/pts/0\n", 0, "", "exec", "-t", name, "tty")
		pm.ok(t, "pause", name)
		pm.expect(t, "paused\n", 0, "", "inspect", "--format", "{{.State.Status}}", name)
		pm.ok(t, "unpause", name)
		pm.expect(t, "running\n", 0, "", "inspect", "--format", "{{.State.Status}}", name)
		pm.ok(t, "stop", "--time", "10", name)
		pm.expect(t, "9\n", 0, "", "inspect", "--format", "{{.State.ExitCode}}", name)
		pm.expect(t, "started\nbye\n", 0, "", "logs", name)
		pm.ok(t, "rm", name)
	})
	// A terminal without -i: conmon passes --console-socket and relays.
	t.Run("tty", func(t *testing.T) {
		pm.expect(t, "/dev/pts/0\n24 80\n", 2, "", "run", "--rm", "-t", "--network", "none", "--env", "LINES=24", "--env", "COLUMNS=80",
			engineImage, "sh", "-c", "tty; stty size; exit 2")
	})
	t.Run("kill", func(t *testing.T) {
		name := "p-kill"
		pm.ok(t, "run", "-d", "--network", "none", "--name", name, engineImage, "sleep", "100")
		pm.ok(t, "kill", "--signal", "KILL", name)
		pm.expect(t, "137\n", 0, "", "wait", name)
		pm.ok(t, "rm", name)
	})
}

// TestDocker: dockerd (Debian's docker.io; its own containerd and the
// runc v2 shim) with --add-runtime moat=MOAT and docker run --runtime moat.
func TestDocker(t *testing.T) {
	needEngineHost(t)
	needCommands(t, []string{"docker.io"}, "dockerd", "docker")
	image := busyboxImage(t)
	dir := engineDir(t)
	sock := filepath.Join(dir, "docker.sock")
	daemonJSON := filepath.Join(dir, "daemon.json")
	os.WriteFile(daemonJSON, []byte("{}\n"), 0o644)
	dk := &engine{argv: []string{"docker"}, env: hostEnv("DOCKER_HOST=unix://"+sock, "DOCKER_CONFIG="+filepath.Join(dir, "client"))}
	// No iptables and no bridge: the test must not change the host's
	// network; containers get --network none or docker's default none.
	d := startDaemon(t, filepath.Join(dir, "dockerd.log"), func() error {
		_, _, code := dk.run(t, "", "version")
		if code != 0 {
			return fmt.Errorf("docker version: status %d", code)
		}
		return nil
	}, "dockerd", "--config-file", daemonJSON, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--host", "unix://"+sock, "--pidfile", filepath.Join(dir, "dockerd.pid"), "--iptables=false", "--ip6tables=false",
		"--bridge=none", "--storage-driver", "vfs", "--add-runtime", "moat="+moatBin)
	t.Cleanup(func() {
		out, _, _ := dk.run(t, "", "ps", "-aq")
		if ids := strings.Fields(out); len(ids) > 0 {
			dk.run(t, "", append([]string{"rm", "-f"}, ids...)...)
		}
		if t.Failed() {
			t.Logf("dockerd's log:\n%s", d.logTail())
		}
	})
	dk.ok(t, "load", "--input", image)
	rt := "--runtime=moat"

	t.Run("run", func(t *testing.T) {
		start := time.Now()
		dk.expect(t, "hello\n", 3, "", "run", "--rm", rt, engineImage, "sh", "-c", "echo hello; exit 3")
		t.Logf("docker run --rm: %v", time.Since(start))
		dk.expect(t, "abc\n", 0, "abc\n", "run", "--rm", "-i", rt, engineImage, "cat")
		dk.expect(t, "/dev/pts/0\n", 5, "", "run", "--rm", "-t", rt, engineImage, "sh", "-c", "tty; exit 5")
		dk.expect(t, "65534\n", 0, "", "run", "--rm", rt, "--user", "65534", engineImage, "id", "-u")
		// --init binds /usr/bin/docker-init, a symlink to tini-static.
		dk.expect(t, "/sbin/docker-init\n", 4, "", "run", "--rm", rt, "--init", engineImage, "sh", "-c", "tr '\\0' '\\n' </proc/1/cmdline | head -n 1; exit 4")
		vol := hostTempDir(t)
		os.WriteFile(filepath.Join(vol, "in"), []byte("from the host\n"), 0o644)
		dk.expect(t, "from the host\n", 0, "", "run", "--rm", rt, "-v", vol+":/data", engineImage, "sh", "-c", "cat /data/in; echo back > /data/out")
		if b, _ := os.ReadFile(filepath.Join(vol, "out")); string(b) != "back\n" {
			t.Errorf("a write to a -v volume: the host file holds %q, want %q", b, "back\n")
		}
		_, errOut, code := dk.run(t, "", "run", "--rm", rt, engineImage, "/no/such/program")
		if code == 0 || !strings.Contains(errOut, "/no/such/program") {
			t.Errorf("docker run of a missing program: status %d, stderr %q; want non-zero and the error naming the program", code, errOut)
		}
	})
	t.Run("detached", func(t *testing.T) {
		name := "d-detached"
		id := strings.TrimSpace(dk.ok(t, "run", "-d", rt, "--name", name, engineImage, "sh", "-c",
			`trap "echo bye; exit 9" TERM; echo started; while true; do sleep 0.1; done`))
		dk.expect(t, "in exec\n", 4, "", "exec", name, "sh", "-c", "echo in exec; exit 4")
		dk.expect(t, "got input\n", 0, "input\n", "exec", "-i", name, "sh", "-c", `read x; echo got $x`)
		dk.expect(t, "/dev/pts/0\n", 0, "", "exec", "-t", name, "tty")
		// docker top lists the container's host processes: the sentry
		// (moat's pid for the container) first.
		top := dk.ok(t, "top", name, "-o", "pid,args")
		if !strings.Contains(top, "sentry --id "+id) {
			t.Errorf("docker top: %q, want the sentry of %s", top, id)
		}
		dk.ok(t, "pause", name)
		dk.expect(t, "paused\n", 0, "", "inspect", "--format", "{{.State.Status}}", name)
		dk.ok(t, "unpause", name)
		dk.expect(t, "running\n", 0, "", "inspect", "--format", "{{.State.Status}}", name)
		dk.ok(t, "stop", "--time", "10", name)
		dk.expect(t, "9\n", 0, "", "inspect", "--format", "{{.State.ExitCode}}", name)
		dk.expect(t, "started\nbye\n", 0, "", "logs", name)
		dk.ok(t, "rm", name)
	})
	t.Run("kill", func(t *testing.T) {
		name := "d-kill"
		dk.ok(t, "run", "-d", rt, "--name", name, engineImage, "sleep", "100")
		dk.ok(t, "kill", name)
		dk.expect(t, "137\n", 0, "", "wait", name)
		dk.ok(t, "rm", name)
	})
}
