package integration

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// skipWithoutThreads skips tests of threaded programs on the ptrace
// platform, which does not run threads (clone with CLONE_THREAD is ENOSYS
// there; the seccomp platform runs them).
func skipWithoutThreads(t *testing.T) {
	if moatPlatform == "ptrace" {
		t.Skip("threads need the seccomp platform; on ptrace CLONE_THREAD is ENOSYS")
	}
}

// TestThreads compares a POSIX threads program natively and inside moat.
func TestThreads(t *testing.T) {
	skipWithoutThreads(t)
	t.Parallel()
	compare(t, prog("threads"))
}

// TestGoRuntime runs a Go program (many threads, signals, timers) natively
// and inside moat.
func TestGoRuntime(t *testing.T) {
	skipWithoutThreads(t)
	t.Parallel()
	bin := filepath.Join(hostTempDir(t), "gothreads")
	cmd := exec.Command(goTool(), "build", "-o", bin, "./testdata/gothreads")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the Go test program: %v\n%s", err, out)
	}
	compare(t, bin)
}

// TestPythonThreads runs Python's threading and a thread pool.
func TestPythonThreads(t *testing.T) {
	skipWithoutThreads(t)
	t.Parallel()
	if !fileExists("/usr/bin/python3") {
		t.Skip("python3 is not installed on this host")
	}
	compare(t, "/usr/bin/python3", "-c", `
import threading, concurrent.futures, queue
q = queue.Queue()
def work(i):
    q.put(sum(range(i * 1000)))
ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print(sorted(q.get() for _ in range(8)))
with concurrent.futures.ThreadPoolExecutor(4) as ex:
    print(list(ex.map(lambda x: x * x, range(10))))
print(threading.active_count())
`)
}
