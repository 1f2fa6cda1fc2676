package boot

import (
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"moat/kernel"
)

// TestNoGoroutineLeft runs sandboxes in this process and checks that once
// one has exited, none of its goroutines (one per task, plus whatever the
// platform and timers start) is left: background processes still running
// when init exits, zombies, pipes, threads and timers all go with it.
func TestNoGoroutineLeft(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the platforms need root here (ptrace of the stubs, seccomp)")
	}
	cases := []struct {
		name, platform string
		argv           []string
		code           int
	}{
		{"processes/seccomp", "seccomp", []string{"/bin/busybox", "sh", "-c",
			"sleep 30 & sleep 0.1 & (exit 2) | cat; sleep 0.05 & wait $!; : > /dev/null; exec 3>&-; exit 3"}, 3},
		{"processes/ptrace", "ptrace", []string{"/bin/busybox", "sh", "-c", "sleep 30 & (exit 2) | cat; exit 3"}, 3},
		{"threads-and-timers/seccomp", "seccomp", []string{"/usr/bin/python3", "-c",
			"import threading, time, signal, os\n" +
				"signal.setitimer(signal.ITIMER_REAL, 10)\n" +
				"ts = [threading.Thread(target=time.sleep, args=(30,), daemon=True) for _ in range(4)]\n" +
				"[t.start() for t in ts]\n" +
				"os._exit(4)\n"}, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := os.Stat(c.argv[0]); err != nil {
				t.Skipf("%s is not installed on this host", c.argv[0])
			}
			before := runtime.NumGoroutine()
			s, err := New(Config{Platform: c.platform, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			st, err := s.Kernel.Run(kernel.ProcessArgs{Path: c.argv[0], Argv: c.argv, Envv: []string{"PATH=/bin:/usr/bin"}, Cwd: "/"})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if st.Code != c.code || st.Signal != 0 {
				t.Fatalf("exit status %+v, want code %d", st, c.code)
			}
			deadline := time.Now().Add(5 * time.Second)
			for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if n := runtime.NumGoroutine(); n > before {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Fatalf("%d goroutines before the sandbox, %d five seconds after it exited:\n%s", before, n, trimStacks(string(buf)))
			}
		})
	}
}

// trimStacks keeps the goroutine dumps that are not the test's own.
func trimStacks(all string) string {
	var keep []string
	for _, g := range strings.Split(all, "\n\n") {
		if !strings.Contains(g, "testing.tRunner") && !strings.Contains(g, "testing.(*T).Run") && !strings.Contains(g, "testing.runTests") {
			keep = append(keep, g)
		}
	}
	return strings.Join(keep, "\n\n")
}

// TestExitsWithInit: with Kernel.ExitsWithInit, init's exit abandons the
// memory file (its memory goes with the process); without, it does not.
func TestExitsWithInit(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the platforms need root here (ptrace of the stubs, seccomp)")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("/bin/busybox is not installed on this host")
	}
	for _, exits := range []bool{false, true} {
		s, err := New(Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if exits {
			s.Kernel.ExitsWithInit()
		}
		argv := []string{"/bin/busybox", "sh", "-c", "sleep 30 & exit 0"}
		if _, err := s.Kernel.Run(kernel.ProcessArgs{Path: argv[0], Argv: argv, Envv: []string{"PATH=/bin"}, Cwd: "/"}); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if got := s.Kernel.MemoryFile().Abandoned(); got != exits {
			t.Errorf("ExitsWithInit %v: memory file abandoned %v after init's exit", exits, got)
		}
	}
}
