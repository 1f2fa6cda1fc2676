package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// hostPty opens a pseudo-terminal of the host: its master, and the path
// of its slave.
func hostPty(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening a host pty: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("TIOCGPTN: %v", err)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// screen collects what a host pty master reads, for expect-style checks.
type screen struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	mark int // where the next expect starts looking
}

func (s *screen) copyFrom(f *os.File) {
	b := make([]byte, 4096)
	for {
		n, err := f.Read(b)
		s.mu.Lock()
		s.buf.Write(b[:max(n, 0)])
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// expect waits until want appears after the mark, and moves the mark past
// it.
func (s *screen) expect(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		seen := s.buf.String()[s.mark:]
		if i := strings.Index(seen, want); i >= 0 {
			s.mark += i + len(want)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %q; the terminal shows after the last match:\n%q", timeout, want, seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRunTTY runs busybox sh with `moat run -it` on a host pty, as a
// person would at a terminal: a command and its output, the window size
// and its changes (stty size, SIGWINCH), Ctrl-C ending a foreground
// `sleep` and the prompt coming back, exit. The host terminal's settings
// must be as before afterwards.
func TestRunTTY(t *testing.T) {
	needBusybox(t)
	m, slavePath := hostPty(t)
	s, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mfd := int(m.Fd())
	if err := unix.IoctlSetWinsize(mfd, unix.TIOCSWINSZ, &unix.Winsize{Row: 30, Col: 100}); err != nil {
		t.Fatal(err)
	}
	before, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(moatBin, moatArgv([]string{"-it"}, []string{busybox, "sh"})[1:]...)
	cmd.Env = append(append([]string(nil), testEnv...), "PS1=moat$ ", "TERM=dumb")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	// moat leads a session whose controlling terminal is the host pty,
	// as in a login shell's job.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	}()
	var sc screen
	go sc.copyFrom(m)
	const wait = 20 * time.Second
	typeIn := func(s string) {
		if _, err := m.WriteString(s); err != nil {
			t.Fatalf("typing %q: %v", s, err)
		}
	}

	sc.expect(t, "moat$ ", wait)
	typeIn("echo hi there\r")
	sc.expect(t, "echo hi there\r\nhi there\r\nmoat$ ", wait)
	typeIn("stty size\r")
	sc.expect(t, "stty size\r\n30 100\r\nmoat$ ", wait)
	if err := unix.IoctlSetWinsize(mfd, unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}); err != nil {
		t.Fatal(err)
	}
	// The change reaches moat as SIGWINCH: wait for it to be passed on.
	// The shell may redraw its line when its own SIGWINCH comes, in the
	// middle of what is typed, so only the command's output is looked for.
	for i := 0; ; i++ {
		from := sc.mark
		typeIn("stty size\r")
		sc.expect(t, "\r\nmoat$ ", wait)
		sc.mu.Lock()
		ok := strings.Contains(sc.buf.String()[from:sc.mark], "\r\n40 120\r\n")
		sc.mu.Unlock()
		if ok {
			break
		}
		if i == 50 {
			t.Fatal("the new window size never reached the sandbox")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Ctrl-C ends the foreground job, not the shell. The job says when it
	// runs (in the foreground group by then), so that ^C is not typed
	// before.
	typeIn("sh -c 'echo started; exec sleep 100'\r")
	sc.expect(t, "\r\nstarted\r\n", wait)
	start := time.Now()
	typeIn("\x03")
	sc.expect(t, "^C", wait)
	sc.expect(t, "moat$ ", wait)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the prompt came back %v after Ctrl-C", d)
	}
	// sleep was killed by SIGINT (128+2).
	typeIn("echo status $?\r")
	sc.expect(t, "echo status $?\r\nstatus 130\r\nmoat$ ", wait)
	typeIn("exit 3\r")
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("moat did not exit after the shell's exit")
	}
	if code := cmd.ProcessState.ExitCode(); code != 3 {
		t.Errorf("moat exited with %d, want 3 (the shell's)", code)
	}
	after, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if *after != *before {
		t.Errorf("the host terminal's settings were not restored:\nbefore %+v\nafter  %+v", *before, *after)
	}
}

// TestRunTTYNoTerminal: -t without a terminal on stdin is one line on
// stderr and a non-zero exit, before anything runs.
func TestRunTTYNoTerminal(t *testing.T) {
	for _, flag := range []string{"-t", "-it"} {
		stdout, stderr, code := runMoat(t, []string{flag}, []string{"/bin/true"}, "")
		if code == 0 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "not a TTY") {
			t.Errorf("moat run %s without a terminal: exit %d, stdout %q, stderr %q; want a non-zero exit and one line saying the input is not a TTY", flag, code, stdout, stderr)
		}
	}
}
