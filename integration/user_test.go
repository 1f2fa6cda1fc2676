package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUser runs a shell inside moat with --user and checks it runs as that
// user: its ids, the permission checks that come with them (no writing to
// /etc, no listing a directory only root may), and files it creates owned
// by it. A bad --user is one line and exit 2.
func TestUser(t *testing.T) {
	needBusybox(t)
	t.Parallel()
	private := filepath.Join(hostTempDir(t), "private")
	if err := os.Mkdir(private, 0o700); err != nil { // root's, as the tests run
		t.Fatal(err)
	}
	script := `id -u; id -g
touch /etc/moat-user-test 2>/dev/null; echo "write /etc: $?"
ls ` + private + ` >/dev/null 2>&1; echo "list a root-only directory: $?"
touch /tmp/mine && stat -c '%u:%g' /tmp/mine`
	stdout, stderr, code := runMoat(t, []string{"--user", "1000:100"}, []string{"/bin/busybox", "sh", "-c", script}, "")
	want := "1000\n100\nwrite /etc: 1\nlist a root-only directory: 1\n1000:100\n"
	if code != 0 || stdout != want {
		t.Fatalf("exit %d\nstdout (- want, + got):\n%s\nstderr:\n%s", code, lineDiff(want, stdout), stderr)
	}
	_, stderr, code = runMoat(t, []string{"--user", "nobody"}, []string{"/bin/true"}, "")
	if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "numeric") {
		t.Errorf("--user nobody: exit %d, stderr %q; want exit 2 and one line", code, stderr)
	}
}

// TestInitialCapabilities checks the capability sets of the sandbox's
// first process: root has all 41 (CAP_LAST_CAP 40) in its permitted,
// effective and bounding sets, as in a privileged container; a --user has
// none, within the same bounding set. (Natively they depend on how the
// tests are run, so this is not compared.)
func TestInitialCapabilities(t *testing.T) {
	needBusybox(t)
	t.Parallel()
	const script = `grep Cap /proc/self/status`
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{nil, "CapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n"},
		{[]string{"--user", "1000"}, "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n"},
	} {
		stdout, stderr, code := runMoat(t, c.flags, []string{"/bin/busybox", "sh", "-c", script}, "")
		if code != 0 || stdout != c.want {
			t.Errorf("moat run %v: exit %d\nstdout (- want, + got):\n%s\nstderr:\n%s", c.flags, code, lineDiff(c.want, stdout), stderr)
		}
	}
}

// TestSethostname changes the sandbox's host name (not compared natively:
// natively it would rename the host): uname and /proc/sys/kernel/hostname
// show it; without CAP_SYS_ADMIN (--user) it is EPERM.
func TestSethostname(t *testing.T) {
	needBusybox(t)
	t.Parallel()
	stdout, stderr, code := runMoat(t, nil, []string{"/bin/busybox", "sh", "-c",
		`hostname moat-test && uname -n && cat /proc/sys/kernel/hostname`}, "")
	if want := "moat-test\nmoat-test\n"; code != 0 || stdout != want {
		t.Errorf("as root: exit %d, stdout %q, want %q\nstderr:\n%s", code, stdout, want, stderr)
	}
	stdout, stderr, code = runMoat(t, []string{"--user", "1000"}, []string{"/bin/busybox", "sh", "-c",
		`hostname moat-test 2>/dev/null; echo "hostname: $?"`}, "")
	if want := "hostname: 1\n"; code != 0 || stdout != want {
		t.Errorf("as a user: exit %d, stdout %q, want %q\nstderr:\n%s", code, stdout, want, stderr)
	}
}
