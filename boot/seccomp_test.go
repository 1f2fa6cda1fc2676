package boot

import (
	"io"
	"log/slog"
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"moat/kernel"
	"moat/oci/seccomp"
)

// TestProcessSeccomp starts sandboxes whose first process gets a filter
// compiled from an OCI linux.seccomp (ProcessArgs.Seccomp): it applies
// from the first instruction and to the processes it starts.
func TestProcessSeccomp(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the platforms need root here (ptrace of the stubs, seccomp)")
	}
	const bb = "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		t.Skipf("%s is not installed on this host", bb)
	}
	eperm := uint(unix.EPERM)
	spec := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &eperm},
			{Names: []string{"sync"}, Action: specs.ActKillProcess},
		},
	}
	prog, err := seccomp.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		argv []string
		want kernel.ExitStatus
	}{
		{"errno", []string{bb, "sh", "-c", "mkdir /tmp/d && exit 3; touch /tmp/f || exit 4; exit 7"}, kernel.ExitStatus{Code: 7}},
		{"kill in a child", []string{bb, "sh", "-c", bb + " sync; exit $?"}, kernel.ExitStatus{Code: 128 + int(unix.SIGSYS)}},
		{"kill", []string{bb, "sync"}, kernel.ExitStatus{Signal: unix.SIGSYS}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(Config{Platform: "seccomp", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			st, err := s.Kernel.Run(kernel.ProcessArgs{Path: c.argv[0], Argv: c.argv, Envv: []string{"PATH=/bin:/usr/bin"}, Cwd: "/", Seccomp: prog})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if st != c.want {
				t.Errorf("exit status %+v, want %+v", st, c.want)
			}
		})
	}
}
