package integration

import (
	"regexp"
	"strings"
	"testing"
)

// TestStrace runs files_io with --strace and looks for lines it certainly
// produces: the two probe opens at the start of progs/files_io.c (one works
// and gets fd 3, one fails with ENOENT), the close of fd 3, and the first
// write to stdout. The trace goes to stderr; the program's stdout and
// status must be the same as without --strace (they are compared with a
// plain moat run, not a native one: TestPrograms does that).
// Lines may carry a prefix such as a thread id; the regexps are not
// anchored at the start.
//
// Lines carry [pid N] once the sandbox has a second task (thread or
// process), and not before.
func TestStrace(t *testing.T) {
	t.Parallel()
	argv := []string{prog("files_io")}
	pOut, _, pCode := runMoat(t, nil, argv, "")
	out, stderr, code := runMoat(t, []string{"--strace"}, argv, "")
	if out != pOut || code != pCode {
		t.Errorf("--strace changed the program's stdout/status (status %d, without --strace %d):\n%s",
			code, pCode, lineDiff(pOut, out))
	}
	// strace-style lines; like strace, moat may pad before the " = ".
	want := []string{
		`openat\(AT_FDCWD, "/dev/null", O_RDONLY[^)]*\) += 3$`,
		`openat\(AT_FDCWD, "/nonexistent-moat-probe/file", O_RDONLY[^)]*\) += -1 ENOENT \(No such file or directory\)$`,
		`close\(3\) += 0$`,
		`write\(1, "open /dev/null = 3.*, 19\) += 19$`,
		`lseek\(3, -100, SEEK_SET\) += -1 EINVAL \(Invalid argument\)$`,
	}
	for _, w := range want {
		re := regexp.MustCompile(`(?m)` + w)
		if !re.MatchString(stderr) {
			t.Errorf("--strace output has no line matching\n\t%s", w)
		}
	}
	// Lines before a second task exists have no prefix.
	if strings.HasPrefix(stderr, "[pid ") {
		t.Errorf("--strace prefixed the first line with [pid N] while the sandbox had one task")
	}
	if strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ") {
		t.Errorf("moat printed a Go panic or stack trace")
	}
	if t.Failed() {
		t.Logf("moat stderr (first 60 lines):\n%s", head(stderr, 60))
	}

	// Once there is a second process, every line says whose it is, as
	// with strace -f.
	_, stderr, code = runMoat(t, []string{"--strace"}, []string{"/bin/busybox", "sh", "-c", "/bin/busybox true; exit 3"}, "")
	for _, w := range []string{
		`^\[pid +1\] (clone|vfork|fork)\(.* = 2$`,
		`^\[pid +2\] execve\("/bin/busybox", \["/bin/busybox", "true"\].* = 0$`,
		`^\[pid +1\] wait4\(.* = 2$`,
		`^\[pid +1\] exit_group\(3\) += \?$`,
	} {
		if !regexp.MustCompile(`(?m)` + w).MatchString(stderr) {
			t.Errorf("--strace of two processes has no line matching\n\t%s\nstderr (first 60 lines):\n%s", w, head(stderr, 60))
		}
	}
	if code != 3 {
		t.Errorf("the shell's status in moat: %d, want 3", code)
	}
}

// head returns the first n lines of s.
func head(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		return strings.Join(lines[:n], "") + "[...]\n"
	}
	return s
}
