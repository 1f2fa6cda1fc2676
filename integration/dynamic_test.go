package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDynamic runs dynamically linked programs from the host — the dynamic
// loader (PT_INTERP) and their shared libraries come from the sandbox
// root — and compares them with native runs.
func TestDynamic(t *testing.T) {
	cases := []struct {
		name string
		argv []string
	}{
		{"true", []string{"/bin/true"}},
		{"false", []string{"/bin/false"}},
		{"echo", []string{"/bin/echo", "hello", "dynamic", "world"}},
		{"ls", []string{"/bin/ls", "-la", "/etc/apt"}},
		{"cat", []string{"/bin/cat", "/etc/passwd"}},
		{"sort", []string{"/usr/bin/sort", "-r", "/etc/passwd"}},
		{"sha256sum", []string{"/usr/bin/sha256sum", "/etc/passwd", "/bin/busybox"}},
		{"wc", []string{"/usr/bin/wc", "/etc/passwd"}},
		{"stat", []string{"/usr/bin/stat", "-c", "%n %s %F %a", "/etc/passwd", "/etc", "/dev/null"}},
		{"python3", []string{"/usr/bin/python3", "-c", "import json, hashlib, sqlite3, threading; print(json.dumps({'h': hashlib.sha256(b'moat').hexdigest(), 'n': sum(range(10**5))}))"}},
		{"perl", []string{"/usr/bin/perl", "-e", "my %h = map { $_ => $_ * $_ } 1..100; print join(',', map { $h{$_} } sort { $a <=> $b } keys %h), \"\\n\""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if _, err := os.Stat(c.argv[0]); err != nil {
				t.Skipf("%s is not installed on this host", c.argv[0])
			}
			compare(t, c.argv...)
		})
	}
}

// TestHostMappedText: on the seccomp platform, a dynamic program's text
// is the host file itself, mapped into its stub read-only (shared, so no
// write can reach the file; never writable), not a copy in the memory
// file: the stub's /proc/PID/maps shows /usr/bin/sleep and libc mapped
// from the host file, none of it writable.
func TestHostMappedText(t *testing.T) {
	if moatPlatform == "ptrace" {
		t.Skip("the ptrace platform copies file pages into the memory file")
	}
	cmd := exec.Command(moatBin, moatArgv(nil, []string{"/bin/sleep", "3"})[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	// Polled until libc's text is mapped too: the stub shows the
	// program's text from the exec on, the libraries' only once ld.so
	// has mapped them.
	var lines []string
	var text, libc bool
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && !(text && libc); time.Sleep(20 * time.Millisecond) {
		lines, text, libc = nil, false, false
		for pid := range descendants(cmd.Process.Pid) {
			maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
			if err != nil || !strings.Contains(string(maps), "/usr/bin/sleep") {
				continue
			}
			for _, l := range strings.Split(string(maps), "\n") {
				if strings.Contains(l, "/usr/bin/sleep") || strings.Contains(l, "/libc.so") {
					lines = append(lines, l)
				}
			}
		}
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) < 6 || f[1][1] != '-' || f[1][3] != 's' {
				t.Errorf("host file mapped writable or private in the stub: %s", l)
			}
			text = text || strings.HasSuffix(l, "/usr/bin/sleep") && f[1] == "r-xs"
			libc = libc || strings.Contains(l, "/libc.so") && f[1] == "r-xs"
		}
	}
	if !text || !libc {
		t.Fatalf("sleep's and libc's text not mapped from the host files in the stub (text %v, libc %v): %q", text, libc, lines)
	}
}
