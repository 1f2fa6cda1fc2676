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
