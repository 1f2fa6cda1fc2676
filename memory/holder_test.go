package memory

import (
	"bufio"
	"fmt"
	"os"
	osexec "os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"moat/platform"
)

// holderChildEnv makes this test binary the process whose memory file is
// held: TestFreeAfterExit runs it.
const holderChildEnv = "MOAT_TEST_HOLDER_CHILD"

// holderChild makes a memory file with some pages in it, starts its
// holder, prints the holder's pid and exits once its stdin is closed.
func holderChild() {
	f, err := New("moat-test-held", 1<<24)
	if err == nil {
		var fr platform.FileRange
		if fr, err = f.Allocate(1 << 20); err == nil {
			clear(f.Bytes(fr)) // touch every page
		}
	}
	pid := 0
	if err == nil {
		pid, err = f.freeAfterExit(os.Getenv(holderChildEnv) == "exec")
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(pid)
	bufio.NewReader(os.Stdin).ReadString('\n')
	os.Exit(0)
}

// TestFreeAfterExit checks that the holder has the memory file (and a
// pidfd), nothing else, and the address space of its process, while its
// process lives, and exits with status 0 once that process has exited.
func TestFreeAfterExit(t *testing.T) {
	if os.Getenv(holderChildEnv) != "" {
		holderChild()
	}
	t.Run("clone", func(t *testing.T) { testFreeAfterExit(t, false) })
	t.Run("exec", func(t *testing.T) { testFreeAfterExit(t, true) })
}

// testFreeAfterExit checks the holder that shares its process's address
// space, or with exec the program that holds the memory file only (the
// fallback where clone3 is missing).
func testFreeAfterExit(t *testing.T, exec bool) {
	// The holder outlives its process: as a subreaper, the test gets it
	// as its child then and can wait for it.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	cmd := osexec.Command(os.Args[0], "-test.run=^TestFreeAfterExit$")
	cmd.Env = append(os.Environ(), holderChildEnv+"=clone")
	if exec {
		cmd.Env = append(os.Environ(), holderChildEnv+"=exec")
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	holder, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("child said %q", line)
	}

	// While its process lives, the holder waits, with the memory file,
	// a pidfd and nothing else (at fds 0 and 1 when exec'd), in a process
	// group of its own. The cloned one is in the address space of its
	// process, whose binary, this test's, /proc/PID/exe shows, and whose
	// view of the memory file its maps do.
	time.Sleep(50 * time.Millisecond)
	if st := procState(holder); st != "S" {
		t.Fatalf("holder %d is in state %q while its process lives, want S (waiting)", holder, st)
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", holder))
	if err != nil {
		t.Fatal(err)
	}
	var fds []string
	for _, e := range ents {
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", holder, e.Name()))
		if exec {
			target = e.Name() + " " + target
		}
		fds = append(fds, target)
	}
	slices.Sort(fds)
	memfd, pidfd := "/memfd:moat-test-held", "anon_inode:[pidfd]"
	if exec {
		memfd, pidfd = "0 "+memfd, "1 "+pidfd
	}
	if len(fds) != 2 || !strings.HasPrefix(fds[0], memfd) || fds[1] != pidfd {
		t.Fatalf("holder's fds: %q, want the memory file and a pidfd", fds)
	}
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", holder))
	self, _ := os.Executable()
	maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", holder))
	shared := exe == self && strings.Contains(string(maps), "/memfd:moat-test-held")
	if shared == exec {
		t.Fatalf("holder's exe %q (test binary %q) and maps:\n%s\nwant the address space of its process only when cloned", exe, self, maps)
	}
	if pg, err := unix.Getpgid(holder); err != nil || pg != holder {
		t.Errorf("holder's process group %d (%v), want its own", pg, err)
	}

	// Once its process has exited, so does the holder.
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		var ws unix.WaitStatus
		_, err := unix.Wait4(holder, &ws, 0, nil)
		if err == nil && (!ws.Exited() || ws.ExitStatus() != 0) {
			err = fmt.Errorf("status %v", ws)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("waiting for the holder: %v", err)
		}
	case <-time.After(10 * time.Second):
		unix.Kill(holder, unix.SIGKILL)
		t.Fatal("the holder was still there 10 s after its process exited")
	}
}

// procState is the state letter of process pid, or "" if it is gone.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+3 <= len(s) {
		return s[i+2 : i+3]
	}
	return ""
}
