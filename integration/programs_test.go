package integration

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// comparedPrograms are the progs/*.c whose whole output must be identical
// natively and inside moat.
var comparedPrograms = []struct {
	name string
	args []string
}{
	{name: "files_io"},
	{name: "files_dir"},
	{name: "mem", args: memArgs()},
	{name: "process_info"},
	{name: "badptr"},
	// signalfd, timer_create, timerfds on CLOCK_REALTIME.
	{name: "sigevents"},
	// epoll: epoll_ctl's errors in Linux's order, nesting and ELOOP,
	// triggering modes, hang-ups, closing registered fds, EFAULT, wake-ups
	// of waiting threads, epoll_pwait's signal mask.
	{name: "epoll"},
	{name: "mmap_shared"},
	// fcntl record locks and flock between processes.
	{name: "locks"},
	// memfd_create, shared mappings of memfds, seals.
	{name: "memfd"},
	// extended attributes in /tmp.
	{name: "xattr"},
	// open(O_TMPFILE) and linkat(AT_EMPTY_PATH).
	{name: "tmpfile"},
	// inotify events for changes in /tmp.
	{name: "inotify"},
	// The arguments exercise /proc/self/cmdline: a space and an empty one.
	{name: "devfiles", args: []string{"one", "two words", ""}},
	// AF_UNIX sockets: bind, listen, accept, connect, SCM_RIGHTS.
	{name: "unix_sockets"},
	// AF_INET and AF_INET6 on loopback: TCP, UDP, errors, options.
	{name: "inet_sockets"},
	// Capability sets: capget/capset, bounding and ambient sets,
	// securebits, setuid and execve, checks that need a capability.
	{name: "caps"},
	// pivot_root and mount(MS_MOVE) in fresh mount namespaces, with
	// /proc/self/mountinfo and mounts after each.
	{name: "pivot_root"},
	// mknod(2) of every type, its errors, device nodes, and FIFOs:
	// blocking and non-blocking opens, data, EOF, EPIPE, poll.
	{name: "mknod"},
	// openat2: struct open_how checks and every resolve flag, with
	// symlinks, "..", magic links and mount crossings into /proc and /dev.
	{name: "openat2"},
	// sendfile, copy_file_range, splice, tee, vmsplice, fallocate.
	{name: "dataio"},
	// Truncating a mapped file in /tmp: SIGBUS past the new end in
	// shared and private mappings, in this process and another.
	{name: "mmap_truncate"},
	// RLIMIT_FSIZE on writes, truncation, fallocate, copy_file_range,
	// sendfile and splice into files: EFBIG, SIGXFSZ, short writes.
	{name: "fsize"},
}

// TestPrograms runs every compared program natively and in moat.
// memArgs skips mem's checks of heuristic overcommit on a host that uses
// another mode: the sandbox always has Linux's default (0), so natively
// such a host would differ.
func memArgs() []string {
	if b, err := os.ReadFile("/proc/sys/vm/overcommit_memory"); err == nil && strings.TrimSpace(string(b)) != "0" {
		return []string{"no-commit-limit"}
	}
	return nil
}

func TestPrograms(t *testing.T) {
	for _, p := range comparedPrograms {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			compare(t, append([]string{prog(p.name)}, p.args...)...)
		})
	}
}

// TestNativeDeterministic runs every compared program natively twice and
// requires identical output and status 0. If this fails, the program (not
// moat) prints something that changes from run to run, and TestPrograms
// cannot be trusted for it.
func TestNativeDeterministic(t *testing.T) {
	for _, p := range comparedPrograms {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			nativeDeterministic(t, append([]string{prog(p.name)}, p.args...), "done\n", "survived\n")
		})
	}
}

// nativeDeterministic runs argv natively twice and requires status 0,
// identical output, and a last line (with its newline) that is one of
// lastLines: the program got to its end.
func nativeDeterministic(t *testing.T, argv []string, lastLines ...string) {
	t.Helper()
	out1, err1, code1 := runNative(t, argv, "")
	out2, _, code2 := runNative(t, argv, "")
	if code1 != 0 || code2 != 0 {
		t.Errorf("native exit status %d and %d, want 0\nstderr:\n%s", code1, code2, tail(err1, 20))
	}
	if out1 != out2 {
		t.Errorf("two native runs differ (- first, + second):\n%s", lineDiff(out1, out2))
	}
	last := out1
	if i := strings.LastIndex(strings.TrimSuffix(out1, "\n"), "\n"); i >= 0 {
		last = out1[i+1:]
	}
	if !slices.Contains(lastLines, last) {
		t.Errorf("native output does not end with a line %q, but with %q", lastLines, last)
	}
}

// TestRseqUnsupported checks that moat answers rseq with ENOSYS. It is not a
// comparison: natively the answer depends on the kernel and on glibc, which
// registers rseq itself at startup (see progs/rseq.c). If moat ever
// implements rseq, change the expectation here.
func TestRseqUnsupported(t *testing.T) {
	t.Parallel()
	nOut, _, _ := runNative(t, []string{prog("rseq")}, "")
	t.Logf("native (not compared): %s", strings.TrimSpace(nOut))
	out, stderr, code := runMoat(t, nil, []string{prog("rseq")}, "")
	if out != "rseq: -1 ENOSYS\n" || code != 0 {
		t.Errorf("moat: got stdout %q status %d, want %q status 0\nstderr:\n%s",
			out, code, "rseq: -1 ENOSYS\n", tail(stderr, 40))
	}
}
