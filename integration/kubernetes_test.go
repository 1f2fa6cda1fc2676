package integration

// A Kubernetes pod in moat, driven as a kubelet drives it: crictl talks
// CRI v1 to containerd's CRI plugin, which runs the pod's sandbox and its
// containers through the io.containerd.runc.v2 shim with moat as the
// runtime handler "moat". There is no registry: the images (busybox and
// a pause image, both made here from busybox-static) are imported with
// ctr into the k8s.io namespace the CRI plugin uses.
//
// The pod gets a real network from Debian's CNI plugins (bridge and
// host-local, as a node's simplest CNI setup): its own network namespace
// with eth0 on a bridge of the test's own (moat-cri0, on a subnet of its
// own, deleted at the end; no masquerading and no other change to the
// host's network), so that the test sees the sandbox's sentry serve on
// the pod's address and the pod's containers share its loopback.

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crictlVersion is the cri-tools release the test builds crictl from
// (.ci/run builds it too, to warm the Go caches).
const crictlVersion = "v1.37.0"

// pauseImageName is the pod sandbox image: busybox waiting for SIGTERM.
const pauseImageName = "docker.io/moat-test/pause:latest"

var (
	crictlOnce sync.Once
	crictlPath string
	crictlErr  error

	pauseOnce sync.Once
	pausePath string
	pauseErr  error
)

// crictl returns a crictl binary: $MOAT_CRICTL, or one built with go
// install from the module proxy into this run's directory (the Go build
// cache makes later builds a relink).
func crictl(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MOAT_CRICTL"); p != "" {
		return p
	}
	crictlOnce.Do(func() {
		bin := filepath.Join(workDir, "crictl-bin")
		cmd := exec.Command(goTool(), "install", "sigs.k8s.io/cri-tools/cmd/crictl@"+crictlVersion)
		cmd.Dir = workDir // outside moat's module
		cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			crictlErr = fmt.Errorf("go install sigs.k8s.io/cri-tools/cmd/crictl@%s: %v\n%s", crictlVersion, err, tail(string(out), 20))
			return
		}
		crictlPath = filepath.Join(bin, "crictl")
	})
	if crictlErr != nil {
		t.Skipf("no crictl: %v", crictlErr)
	}
	return crictlPath
}

// pauseImage is the sandbox image's archive: busybox whose command
// waits until SIGTERM, then exits 0.
func pauseImage(t *testing.T) string {
	t.Helper()
	needBusybox(t)
	pauseOnce.Do(func() {
		pausePath = filepath.Join(workDir, "pause-image.tar")
		pauseErr = makeBusyboxImage(pausePath, pauseImageName,
			[]string{"sh", "-c", `trap "exit 0" TERM; while :; do sleep 3600 & wait $!; done`})
	})
	if pauseErr != nil {
		t.Fatalf("making the pause image: %v", pauseErr)
	}
	return pausePath
}

// cniPlugins returns the directory of the CNI plugins the pod network
// needs, installing Debian's if they are missing.
func cniPlugins(t *testing.T) string {
	t.Helper()
	find := func() string {
		for _, d := range []string{"/usr/lib/cni", "/opt/cni/bin"} {
			if fileExists(filepath.Join(d, "bridge")) && fileExists(filepath.Join(d, "host-local")) && fileExists(filepath.Join(d, "loopback")) {
				return d
			}
		}
		return ""
	}
	if d := find(); d != "" {
		return d
	}
	aptMu.Lock()
	defer aptMu.Unlock()
	if d := find(); d != "" {
		return d
	}
	out, err := exec.Command("apt-get", "install", "-y", "-qq", "containernetworking-plugins").CombinedOutput()
	if d := find(); d != "" {
		return d
	}
	t.Skipf("no CNI bridge, host-local and loopback plugins; apt-get install containernetworking-plugins: %v\n%s", err, tail(string(out), 10))
	return ""
}

// criBridge is the host bridge of the test's pod network, and its subnet.
const (
	criBridge = "moat-cri0"
	criSubnet = "10.250.77.0/24"
)

// TestKubernetesPod: a pod of two containers in moat through containerd's
// CRI plugin, driven by crictl.
func TestKubernetesPod(t *testing.T) {
	needEngineHost(t)
	needCommands(t, []string{"containerd", "runc"}, "containerd", "ctr", "containerd-shim-runc-v2")
	needCommands(t, []string{"iproute2"}, "ip")
	crictlBin := crictl(t)
	cniBin := cniPlugins(t)
	busyboxTar, pauseTar := busyboxImage(t), pauseImage(t)
	if out, err := exec.Command("ip", "link", "show", criBridge).CombinedOutput(); err == nil {
		t.Skipf("the host already has a link %s (another run's?): %s", criBridge, out)
	}
	start := time.Now()
	dir := engineDir(t)
	// The pod's cgroup parent, as the kubelet's pod cgroup (which the
	// kubelet makes and removes): removed at the end, after what a
	// failed test left in it.
	cgroupParent := fmt.Sprintf("/moat-test-pod-%d", os.Getpid())
	t.Cleanup(func() {
		for _, d := range cgroupDirs(cgroupParent) {
			subs, _ := filepath.Glob(d + "/*")
			for _, sub := range subs {
				os.Remove(sub) // only directories (cgroups) go
			}
			os.Remove(d)
		}
	})
	// Last, after containerd's stop: whatever a failed test left running
	// (shims, sentries, stand-ins: their command lines name dir).
	t.Cleanup(func() {
		for _, p := range processesWith(dir) {
			if pid, err := strconv.Atoi(strings.SplitN(p, ":", 2)[0]); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	sock := filepath.Join(dir, "containerd.sock")
	moatRoot := filepath.Join(dir, "moat")
	cniConf := filepath.Join(dir, "cni")
	os.Mkdir(cniConf, 0o755)
	conflist := fmt.Sprintf(`{"cniVersion": "0.4.0", "name": "moat-cri", "plugins": [
  {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "dataDir": %q}}
]}
`, criBridge, criSubnet, filepath.Join(dir, "cni-ipam"))
	if err := os.WriteFile(filepath.Join(cniConf, "10-moat-cri.conflist"), []byte(conflist), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", criBridge).Run() })
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = %q
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  disable_apparmor = true
  restrict_oom_score_adj = false
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = %q
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.moat]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.moat.options]
        BinaryName = %q
        Root = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc", filepath.Join(dir, "debug.sock"),
		pauseImageName, cniBin, cniConf, filepath.Join(dir, "runc"), moatBin, moatRoot)
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	crictlConf := filepath.Join(dir, "crictl.yaml")
	os.WriteFile(crictlConf, []byte(fmt.Sprintf("runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\npull-image-on-create: false\n", sock, sock)), 0o644)
	cri := &engine{argv: []string{crictlBin, "--config", crictlConf}, env: hostEnv()}
	ctr := &engine{argv: []string{"ctr", "--address", sock, "--namespace", "k8s.io"}, env: hostEnv()}
	d := startDaemon(t, filepath.Join(dir, "containerd.log"), func() error {
		_, _, code := cri.run(t, "", "version")
		if code != 0 {
			return fmt.Errorf("crictl version: status %d", code)
		}
		return nil
	}, "containerd", "--config", filepath.Join(dir, "config.toml"))
	t.Cleanup(func() {
		// What a failed test left: its pods, stopped and removed, so
		// that no shim or sentry outlives containerd.
		out, _, _ := cri.run(t, "", "pods", "-q")
		for _, id := range strings.Fields(out) {
			cri.run(t, "", "stopp", id)
			cri.run(t, "", "rmp", "--force", id)
		}
		if t.Failed() {
			t.Logf("containerd's log:\n%s", d.logTail())
		}
	})
	ctr.ok(t, "image", "import", busyboxTar)
	ctr.ok(t, "image", "import", pauseTar)
	t.Logf("containerd up, images imported: %v", time.Since(start))

	// The pod: its sandbox is the pause image in moat.
	logDir := filepath.Join(dir, "pod-logs")
	shared := filepath.Join(dir, "shared")
	os.Mkdir(shared, 0o777)
	podJSON := writeJSON(t, dir, "pod.json", map[string]any{
		"metadata":      map[string]any{"name": "moat-pod", "namespace": "moat-test", "uid": "moat-pod-uid", "attempt": 0},
		"hostname":      "moat-pod",
		"log_directory": logDir,
		"linux":         map[string]any{"cgroup_parent": cgroupParent},
	})
	podID := strings.TrimSpace(cri.ok(t, "runp", "--runtime", "moat", podJSON))
	t.Logf("pod %s running: %v", podID, time.Since(start))
	var podInfo struct {
		Status struct {
			State   string `json:"state"`
			Network struct {
				IP string `json:"ip"`
			} `json:"network"`
		} `json:"status"`
	}
	inspectJSON(t, cri, &podInfo, "inspectp", podID)
	if podInfo.Status.State != "SANDBOX_READY" || net.ParseIP(podInfo.Status.Network.IP) == nil {
		t.Fatalf("crictl inspectp: state %q, ip %q; want SANDBOX_READY and the pod's address", podInfo.Status.State, podInfo.Status.Network.IP)
	}
	podIP := podInfo.Status.Network.IP

	// Two containers: a web server on the pod's port 8080 that writes
	// to the shared volume, and a client that reads the volume and
	// fetches from the server over the pod's loopback; it ignores
	// SIGTERM, so that stopping it takes the CRI plugin's SIGKILL.
	createIn := func(name, script string) string {
		cfg := writeJSON(t, dir, name+".json", map[string]any{
			"metadata": map[string]any{"name": name},
			"image":    map[string]any{"image": engineImage},
			"command":  []string{"sh", "-c", script},
			"log_path": name + ".log",
			"mounts":   []map[string]any{{"container_path": "/shared", "host_path": shared}},
			"linux":    map[string]any{},
		})
		id := strings.TrimSpace(cri.ok(t, "create", podID, cfg, podJSON))
		cri.ok(t, "start", id)
		return id
	}
	server := createIn("server", `trap 'echo server got TERM; kill $pid; exit 0' TERM
mkdir -p /www && echo "hello from the server" > /www/index.html
echo "written by the server" > /shared/greeting
httpd -f -p 8080 -h /www & pid=$!
echo serving
wait $pid
echo "httpd exited: $?"`)
	client := createIn("client", `trap '' TERM
echo "client's own" > /own
until [ -e /shared/greeting ]; do sleep 0.1; done
cat /shared/greeting
i=0; until wget -q -O - http://127.0.0.1:8080/; do i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done
echo client done
while :; do sleep 1; done`)
	t.Logf("containers started: %v", time.Since(start))

	logs := func(id string) string {
		out, errOut, _ := cri.run(t, "", "logs", id)
		return out + errOut
	}
	if !waitFor(20*time.Second, func() bool { return strings.Contains(logs(client), "client done") }) {
		t.Fatalf("the client did not finish: its log %q; the server's %q", logs(client), logs(server))
	}
	if want := "written by the server\nhello from the server\nclient done\n"; logs(client) != want {
		t.Errorf("crictl logs of the client: %q, want %q", logs(client), want)
	}
	if got := logs(server); got != "serving\n" {
		t.Errorf("crictl logs of the server: %q, want %q", got, "serving\n")
	}
	// The server from the host, on the pod's address.
	func() {
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get("http://" + net.JoinHostPort(podIP, "8080") + "/")
		if err != nil {
			t.Errorf("GET from the host to the pod's address %s: %v", podIP, err)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "hello from the server\n" {
			t.Errorf("GET from the host to the pod: %q", b)
		}
	}()

	// exec: synchronous (the CRI's ExecSync) with its status, and
	// streaming with stdin.
	// crictl exec -s prints the process's stdout and stderr, each with
	// a newline, on its stdout; a status other than 0 is an error that
	// names it.
	cri.expect(t, "out\n\nerr\n\n", 0, "", "exec", "-s", server, "sh", "-c", "echo out; echo err >&2")
	execFails := func(wantErr string, stdin string, args ...string) {
		t.Helper()
		_, errOut, code := cri.run(t, stdin, args...)
		if code != 1 || !strings.Contains(errOut, wantErr) {
			t.Errorf("crictl %s: status %d, stderr %q; want 1 and %q", strings.Join(args, " "), code, errOut, wantErr)
		}
	}
	execFails("exited with 3", "", "exec", "-s", server, "sh", "-c", "echo out; echo err >&2; exit 3")
	cri.expect(t, "moat-pod\n\n\n", 0, "", "exec", "-s", server, "hostname")
	cri.expect(t, podIP+"\n\n\n", 0, "", "exec", "-s", client, "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1")
	// Each container has its own root: its bundle's rootfs, which
	// containerd mounted after the pod started.
	cri.expect(t, "client's own\n\n\n", 0, "", "exec", "-s", client, "cat", "/own")
	rootfs := filepath.Join(dir, "state", "io.containerd.runtime.v2.task", "k8s.io", client, "rootfs")
	cri.expect(t, rootfs+"\n\n\n", 0, "", "exec", "-s", client, "awk", `$2 == "/" {print $1}`, "/proc/mounts")
	execFails("exited with 1", "", "exec", "-s", server, "test", "-e", "/own")
	// Streaming exec (through the CRI plugin's stream server): stdin,
	// and a terminal (crictl wants one on its own stdin: script gives
	// it one, 24x80). The CRI plugin passes on crictl's size once the
	// process has started (with runc too): the process waits for it.
	out, errOut, code := cri.run(t, "hi\n", "exec", "-i", server, "sh", "-c", "read x; echo got $x; exit 4")
	if out != "got hi\n" || code != 1 || !strings.Contains(errOut, "exit code 4") {
		t.Errorf("crictl exec -i: status %d, stdout %q, stderr %q; want 1, %q and exit code 4", code, out, errOut, "got hi\n")
	}
	if _, err := exec.LookPath("script"); err == nil {
		out, _, code := run(t, runOpts{argv: []string{"script", "-qec", fmt.Sprintf("stty rows 24 cols 80; %s --config %s exec -it %s sh -c 'tty; i=0; until [ -n \"$(stty size 2>/dev/null)\" ] || [ $i = 50 ]; do sleep 0.1; i=$((i+1)); done; stty size; exit 5'",
			crictlBin, crictlConf, client), "/dev/null"}, env: hostEnv(), timeout: engineTimeout})
		// script, its stdin at end of file, types a NUL (echoed ^@).
		out = strings.ReplaceAll(out, "^@", "")
		if !strings.Contains(out, "/dev/pts/0\r\n24 80\r\n") || !strings.Contains(out, "exit code 5") || code != 1 {
			t.Errorf("crictl exec -it: status %d, output %q; want the terminal, its size, and exit code 5", code, out)
		}
	}

	type ctrInfo struct {
		Status struct {
			State    string `json:"state"`
			ExitCode int    `json:"exitCode"`
		} `json:"status"`
	}
	// Stop: SIGTERM, and SIGKILL after the grace period.
	stopped := func(id string, grace string, wantCode int) {
		t.Helper()
		t0 := time.Now()
		cri.ok(t, "stop", "--timeout", grace, id)
		var info ctrInfo
		inspectJSON(t, cri, &info, "inspect", id)
		if info.Status.State != "CONTAINER_EXITED" || info.Status.ExitCode != wantCode {
			t.Errorf("after crictl stop: state %s, exit code %d; want CONTAINER_EXITED, %d", info.Status.State, info.Status.ExitCode, wantCode)
		}
		t.Logf("crictl stop --timeout %s: %v", grace, time.Since(t0))
	}
	stopped(server, "10", 0)
	if got := logs(server); got != "serving\nserver got TERM\n" {
		t.Errorf("crictl logs of the stopped server: %q", got)
	}
	stopped(client, "1", 137)
	cri.ok(t, "rm", server)
	cri.ok(t, "rm", client)
	cri.ok(t, "stopp", podID)
	cri.ok(t, "rmp", podID)
	if out := cri.ok(t, "pods", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("crictl pods after rmp: %q", out)
	}
	t.Logf("pod removed: %v", time.Since(start))

	// Nothing of moat's is left: no state, no sentry or stand-in, no
	// cgroup.
	for _, d := range cgroupDirs(cgroupParent + "/" + podID) {
		t.Errorf("the pod's cgroup is left: %s", d)
	}
	if ents, err := os.ReadDir(filepath.Join(moatRoot, "k8s.io")); err == nil && len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("moat state left in %s: %v", moatRoot, names)
	}
	if !waitFor(5*time.Second, func() bool { return len(processesWith(moatRoot)) == 0 }) {
		t.Errorf("moat processes left: %v", processesWith(moatRoot))
	}
}

// writeJSON writes v as JSON to dir/name and returns the path.
func writeJSON(t *testing.T, dir, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// inspectJSON runs a crictl inspect command and decodes its JSON.
func inspectJSON(t *testing.T, cri *engine, v any, cmd, id string) {
	t.Helper()
	args := []string{cmd, "--output", "json", id}
	out := cri.ok(t, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("crictl %s: %v\n%s", strings.Join(args, " "), err, tail(out, 20))
	}
}

// cgroupDirs lists the directories of cgroup path p in the host's
// hierarchies (v2, or each v1 controller's).
func cgroupDirs(p string) []string {
	var dirs []string
	for _, pattern := range []string{"/sys/fs/cgroup" + p, "/sys/fs/cgroup/*" + p} {
		m, _ := filepath.Glob(pattern)
		dirs = append(dirs, m...)
	}
	return dirs
}

// processesWith lists the host processes whose command line mentions s.
func processesWith(s string) []string {
	ents, _ := os.ReadDir("/proc")
	var found []string
	for _, e := range ents {
		if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && strings.Contains(string(b), s) {
			found = append(found, e.Name()+": "+strings.ReplaceAll(strings.TrimSpace(string(b)), "\x00", " "))
		}
	}
	return found
}
