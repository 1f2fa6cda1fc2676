package integration

import (
	"os"
	"testing"
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
