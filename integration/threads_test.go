package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// TestThreads compares a POSIX threads program natively and inside moat.
func TestThreads(t *testing.T) {
	t.Parallel()
	compare(t, prog("threads"))
}

// goPrograms are the Go test programs in testdata, built together by one
// go build the first time a test needs one of them.
var goPrograms = struct {
	once sync.Once
	dir  string
	err  error
}{}

// goProgram returns the path of the Go test program testdata/NAME, building
// all of them on first use.
func goProgram(t *testing.T, name string) string {
	t.Helper()
	goPrograms.once.Do(func() {
		dir := filepath.Join(workDir, "goprogs")
		if err := os.Mkdir(dir, 0o755); err != nil {
			goPrograms.err = err
			return
		}
		cmd := exec.Command(goTool(), "build", "-o", dir+"/", "./testdata/gothreads", "./testdata/goexec")
		cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			goPrograms.err = fmt.Errorf("%v\n%s", err, out)
			return
		}
		goPrograms.dir = dir
	})
	if goPrograms.err != nil {
		t.Fatalf("building the Go test programs: %v", goPrograms.err)
	}
	return filepath.Join(goPrograms.dir, name)
}

// TestGoRuntime runs a Go program (many threads, signals, timers) natively
// and inside moat.
func TestGoRuntime(t *testing.T) {
	t.Parallel()
	compare(t, goProgram(t, "gothreads"))
}

// TestGoExec runs testdata/goexec (os/exec of /bin/echo and of a pipe into
// sort, from many goroutines; children killed by a deadline and by
// SIGTERM; timers, tickers, time.After, sync.WaitGroup) natively and
// inside moat, and twice natively: if those differ, the program is at
// fault, not moat.
func TestGoExec(t *testing.T) {
	t.Parallel()
	argv := []string{goProgram(t, "goexec")}
	t.Run("compare", func(t *testing.T) {
		t.Parallel()
		compare(t, argv...)
	})
	t.Run("native-deterministic", func(t *testing.T) {
		t.Parallel()
		nativeDeterministic(t, argv, "done\n")
	})
}

// TestPythonThreads runs Python's threading and a thread pool.
func TestPythonThreads(t *testing.T) {
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
