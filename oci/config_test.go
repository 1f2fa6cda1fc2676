package oci

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestCheckID(t *testing.T) {
	for _, id := range []string{"a", "abc-1_2.3+x", strings.Repeat("x", 1024)} {
		if err := CheckID(id); err != nil {
			t.Errorf("CheckID(%q): %v", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "../x", "a/b", "a b", "a\x00", strings.Repeat("x", 1025)} {
		if err := CheckID(id); err == nil {
			t.Errorf("CheckID(%q) accepted", id)
		}
	}
}

func TestBootConfig(t *testing.T) {
	s := DefaultSpec()
	s.Root.Path = "/bundle/rootfs"
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"rbind", "ro"}})
	cfg, err := BootConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.RootWritable || !cfg.RootReadOnly || cfg.Hostname != "moat" || cfg.Net != "none" || len(cfg.Mounts) != len(s.Mounts) {
		t.Errorf("BootConfig: %+v", cfg)
	}
	// No network namespace: the host's network.
	s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.PIDNamespace}}
	if cfg, _ := BootConfig(s); cfg.Net != "host" {
		t.Errorf("without a network namespace: net %q, want host", cfg.Net)
	}
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "relative/dir"})
	if _, err := BootConfig(s); err == nil {
		t.Errorf("a relative bind source was accepted")
	}
}

func TestSentryNamespaces(t *testing.T) {
	s := DefaultSpec()
	clone, join, err := SentryNamespaces(s)
	want := uintptr(unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS)
	if err != nil || clone != want || len(join) != 0 {
		t.Errorf("default spec: clone %#x join %v err %v; want %#x", clone, join, err, want)
	}
	s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/run/netns/x"}, {Type: specs.PIDNamespace, Path: "/proc/1/ns/pid"}}
	clone, join, err = SentryNamespaces(s)
	if err != nil || clone != unix.CLONE_NEWNS || len(join) != 2 || join[0].Type != unix.CLONE_NEWNET {
		t.Errorf("joined: clone %#x join %v err %v", clone, join, err)
	}
	s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace, Path: "/proc/1/ns/mnt"}}
	if _, _, err := SentryNamespaces(s); err == nil {
		t.Errorf("joining a mount namespace by path was accepted")
	}
}

func TestCapBits(t *testing.T) {
	b, err := capBits([]string{"CAP_CHOWN", "cap_kill", "CAP_CHECKPOINT_RESTORE"})
	if err != nil || b != 1<<0|1<<5|1<<40 {
		t.Errorf("capBits: %#x %v", b, err)
	}
	if _, err := capBits([]string{"CAP_TEST"}); err == nil {
		t.Errorf("an unknown capability was accepted")
	}
}

func TestPodSandbox(t *testing.T) {
	s := &specs.Spec{Annotations: map[string]string{"io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "pod"}}
	if got := PodSandbox("app", s); got != "pod" {
		t.Errorf("containerd annotations: %q", got)
	}
	if got := PodSandbox("pod", s); got != "" {
		t.Errorf("a sandbox naming itself joins %q", got)
	}
	s.Annotations = map[string]string{"io.kubernetes.cri-o.ContainerType": "container", "io.kubernetes.cri-o.SandboxID": "p2"}
	if got := PodSandbox("app", s); got != "p2" {
		t.Errorf("CRI-O annotations: %q", got)
	}
	s.Annotations = map[string]string{"io.kubernetes.cri.container-type": "sandbox"}
	if got := PodSandbox("pod", s); got != "" {
		t.Errorf("a sandbox container joins %q", got)
	}
}

func TestLoadSpecBounds(t *testing.T) {
	dir := t.TempDir()
	write := func(v any) {
		b, _ := json.Marshal(v)
		os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
	}
	write(map[string]any{"ociVersion": "1.2.0"})
	if _, err := LoadSpec(dir); err == nil || !strings.Contains(err.Error(), "root.path") {
		t.Errorf("config without root: %v", err)
	}
	s := DefaultSpec()
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
	write(s)
	if _, err := LoadSpec(dir); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("repeated namespace: %v", err)
	}
	s = DefaultSpec()
	s.Process.Cwd = "relative"
	write(s)
	if _, err := LoadSpec(dir); err == nil {
		t.Errorf("relative cwd accepted")
	}
	f, _ := os.Create(filepath.Join(dir, "config.json"))
	f.Truncate(maxConfigSize + 1)
	f.Close()
	if _, err := LoadSpec(dir); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("huge config: %v", err)
	}
	s = DefaultSpec()
	write(s)
	got, err := LoadSpec(dir)
	if err != nil || got.Root.Path != filepath.Join(dir, "rootfs") {
		t.Errorf("LoadSpec: root %v, %v", got, err)
	}
}
