package boot

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"moat/fs/hostfd"
	"moat/kernel"
	"moat/oci/cgroup"
	"moat/vfs"
)

// TestLimitsShown runs cat in a sandbox built with cgroup limits: its
// /proc/meminfo and /sys/fs/cgroup show them.
func TestLimitsShown(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the platforms need root here (ptrace of the stubs, seccomp)")
	}
	if _, err := os.Stat("/bin/cat"); err != nil {
		t.Skip("/bin/cat is not installed on this host")
	}
	s, err := New(Config{
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Limits: &cgroup.Limits{MemoryBytes: 256 << 20, Pids: 100, CPUQuotaMicros: 150000, CPUPeriodMicros: 100000},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fd, err := unix.Dup(int(w.Fd()))
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := vfs.NewFileDescription(hostfd.New(fd), vfs.Path{}, unix.O_WRONLY)
	got := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		got <- string(b)
	}()
	argv := []string{"/bin/cat", "/proc/meminfo", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/cpu.max"}
	st, err := s.Kernel.Run(kernel.ProcessArgs{Path: argv[0], Argv: argv, Cwd: "/", Stdio: [3]*vfs.FileDescription{nil, out, nil}})
	out.DecRef()
	if err != nil || st.Code != 0 || st.Signal != 0 {
		t.Fatalf("Run: %+v, %v", st, err)
	}
	text := <-got
	for _, want := range []string{"MemTotal:         262144 kB\n", "\n268435456\n100\n150000 100000\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}
