package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMmapBind runs progs/mmap_hostfile.c and progs/mmap_truncate.c on a
// writable bind of a host directory (bound at its own host path, so that
// both runs get the same argument), natively and in moat, and then checks
// on the host that what moat's run stored only through shared mappings
// reached the host files: one mapping unmapped, one still mapped at exit.
func TestMmapBind(t *testing.T) {
	t.Parallel()
	dir := hostTempDir(t)
	bind := []string{"-v", dir + ":" + dir}
	compareWith(t, bind, "", prog("mmap_hostfile"), dir)
	// The moat run came second and removed what the native run left
	// before making its own.
	for name, want := range map[string]string{
		"final-unmap": "written through a mapping, then unmapped\n",
		"final-exit":  "written through a mapping still mapped at exit\n",
	} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != want {
			t.Errorf("host %s after moat: %q %v, want %q", name, b, err, want)
		}
	}
	compareWith(t, bind, "", prog("mmap_truncate"), dir)
}

// TestMmapBindSync runs progs/mmap_sync.c in moat with a host directory
// bound twice, writable and read-only: stores through a shared mapping of
// a file of the writable bind reach the host file on sync(2) and
// syncfs(2), which the program sees through the read-only bind (which
// reads the host file itself).
func TestMmapBindSync(t *testing.T) {
	t.Parallel()
	dir := hostTempDir(t)
	flags := []string{"-v", dir + ":/w", "-v", dir + ":/r:ro"}
	stdout, stderr, code := runMoat(t, flags, []string{prog("mmap_sync"), "/w/f", "/r/f"}, "")
	want := "ftruncate(fd, 4096): ok\nafter sync: read 63: stored, then sync\nsyncfs(fd): ok\nafter syncfs: read 63: stored, then syncfs\n"
	if code != 0 || stdout != want {
		t.Fatalf("moat exit %d\nstdout (- want, + got):\n%s\nstderr:\n%s", code, lineDiff(want, stdout), stderr)
	}
}

// TestSqliteWALBind runs the sqlite3 shell in WAL mode on a database in a
// writable bind (WAL mode keeps its index in a shared mapping of the -shm
// file): writers in two processes at once, then a reader, all inside one
// sandbox; then python3's sqlite3 leaves a transaction in a WAL that
// nobody checkpointed (os._exit with the connection open). After each
// moat run, the host's sqlite3 reads every row.
func TestSqliteWALBind(t *testing.T) {
	const sqlite3 = "/usr/bin/sqlite3"
	if !fileExists(sqlite3) {
		t.Skipf("%s is not installed on this host", sqlite3)
	}
	t.Parallel()
	dir := hostTempDir(t)
	bind := []string{"-v", dir + ":/data"}
	script := `
set -e
cd /data
sqlite3 -batch db.sqlite 'PRAGMA journal_mode=WAL; CREATE TABLE t(who TEXT, n INTEGER);' >/dev/null
w() { i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo "INSERT INTO t VALUES('$1', $i);"; done | sqlite3 -batch -cmd '.timeout 20000' db.sqlite; }
w a & w b & wait
sqlite3 -batch db.sqlite 'PRAGMA journal_mode; SELECT who, count(*), sum(n) FROM t GROUP BY who ORDER BY who; PRAGMA integrity_check;'
`
	stdout, stderr, code := runMoat(t, bind, []string{"/bin/sh", "-c", script}, "")
	want := "wal\na|40|820\nb|40|820\nok\n"
	if code != 0 || stdout != want {
		t.Fatalf("moat exit %d\nstdout (- want, + got):\n%s\nstderr:\n%s", code, lineDiff(want, stdout), stderr)
	}
	host := func(sql string) string {
		t.Helper()
		out, err := exec.Command(sqlite3, "-batch", filepath.Join(dir, "db.sqlite"), sql).CombinedOutput()
		if err != nil {
			t.Fatalf("host sqlite3 %q: %v\n%s", sql, err, out)
		}
		return string(out)
	}
	if got := host("SELECT who, count(*), sum(n) FROM t GROUP BY who ORDER BY who;"); got != "a|40|820\nb|40|820\n" {
		t.Errorf("host sqlite3 reads %q", got)
	}

	// A WAL left behind, not checkpointed.
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed on this host")
	}
	py := `
import os, sqlite3
c = sqlite3.connect('/data/db.sqlite', isolation_level=None)
c.execute('PRAGMA wal_autocheckpoint=0')
c.execute('BEGIN')
for i in range(100):
    c.execute("INSERT INTO t VALUES('c', ?)", (i,))
c.execute('COMMIT')
print(os.path.getsize('/data/db.sqlite-wal') > 0, c.execute("SELECT count(*) FROM t").fetchone()[0], flush=True)
os._exit(0)
`
	stdout, stderr, code = runMoat(t, bind, []string{"/usr/bin/python3", "-c", py}, "")
	if code != 0 || stdout != "True 180\n" {
		t.Fatalf("python3 in moat: exit %d, stdout %q\nstderr:\n%s", code, stdout, stderr)
	}
	if st, err := os.Stat(filepath.Join(dir, "db.sqlite-wal")); err != nil || st.Size() == 0 {
		t.Fatalf("no WAL left on the host: %v %v", st, err)
	}
	if got := host("SELECT count(*) FROM t WHERE who = 'c'; PRAGMA integrity_check;"); got != "100\nok\n" {
		t.Errorf("host sqlite3 after an unfinished WAL: %q", strings.TrimSpace(got))
	}
}
