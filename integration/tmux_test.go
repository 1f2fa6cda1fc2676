package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestTmuxBash drives an interactive bash in `moat run -it` through tmux,
// as a person at a terminal would: commands and their output, ^C ending a
// running `sleep 100` (status 130), a window resize that reaches bash as
// SIGWINCH with the new size, and `exit 7` becoming moat's status.
func TestTmuxBash(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed on this host")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed on this host")
	}
	t.Parallel()
	sock := fmt.Sprintf("moat-it-%d-%d", os.Getpid(), time.Now().UnixNano()) // a server of its own, even under -count
	run := func(args ...string) string {
		out, err := exec.Command(tmux, append([]string{"-L", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	argv := strings.Join(moatArgv([]string{"-it"}, []string{bash, "--norc", "--noprofile"}), " ")
	run("new-session", "-d", "-s", "t", "-x", "100", "-y", "30", argv+"; echo moat-exit=$?; sleep 60")
	defer exec.Command(tmux, "-L", sock, "kill-server").Run()
	screen := func() string { return run("capture-pane", "-p", "-t", "t") }
	// wait returns once the pane shows want, or fails the test after a
	// while.
	wait := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			s := screen()
			if strings.Contains(s, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the pane never showed %q; it shows:\n%s", want, s)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	keys := func(k ...string) { run(append([]string{"send-keys", "-t", "t"}, k...)...) }

	wait("bash-") // bash's first prompt
	keys(`PS1='ready> '`, "Enter")
	wait("ready>")
	keys("echo hello $((6*7))", "Enter")
	wait("hello 42")
	keys("sleep 100; echo after", "Enter")
	time.Sleep(300 * time.Millisecond) // let sleep start; ^C before it would end bash's line only
	keys("C-c")
	keys("echo status=$?", "Enter")
	wait("status=130")
	for _, line := range strings.Split(screen(), "\n") {
		if strings.TrimSpace(line) == "after" {
			t.Fatal("^C did not end the whole command line")
		}
	}
	// tmux sets the pane's size on the host a little after
	// resize-window returns (it defers and rate-limits resizes), so a
	// `stty size` typed right after could race it, natively too. A
	// WINCH trap runs once the new size has reached the sandbox's
	// terminal and the SIGWINCH that follows has reached bash.
	keys(`trap 'echo winch $(stty size)' WINCH`, "Enter")
	wait("WINCH\nready>")
	run("resize-window", "-t", "t", "-x", "90", "-y", "25")
	wait("winch 25 90")
	keys("exit 7", "Enter")
	wait("moat-exit=7")
}
