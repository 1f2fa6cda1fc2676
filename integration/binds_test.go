package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBindMounts runs busybox sh inside moat with -v bind mounts of host
// directories and files, and checks on the host what reached it: a rw
// bind's creates, writes, renames, links, chmods and removals do; a ro
// bind's writes fail with EROFS and leave it alone; symlinks in a bind
// that point out of it never lead outside the sandbox: they resolve in
// the sandbox's own tree (a relative one to a path that does not exist
// there, an absolute one to the read-only host root under the in-memory
// layer, where the write stays), so nothing appears next to the bind on
// the host.
func TestBindMounts(t *testing.T) {
	needBusybox(t)
	t.Parallel()
	base := hostTempDir(t)
	rw := filepath.Join(base, "rw")
	ro := filepath.Join(base, "ro")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{rw, ro, outside, filepath.Join(rw, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(filepath.Join(rw, "old"), "old contents\n")
	mustWrite(filepath.Join(rw, "sub", "gone"), "to be removed\n")
	mustWrite(filepath.Join(ro, "keep"), "read-only contents\n")
	single := filepath.Join(base, "single.conf")
	mustWrite(single, "one file\n")
	// Ways out of the bind: relative and absolute symlinks to a host
	// directory next to it.
	if err := os.Symlink("../outside", filepath.Join(rw, "rel-escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(rw, "abs-escape")); err != nil {
		t.Fatal(err)
	}

	script := `
cd /mnt/rw || exit 99
cat old
echo new > created
echo more >> created
mkdir -p made/deeper && echo deep > made/deeper/f
mv old renamed
ln renamed hardlink
ln -s renamed soft
chmod 600 created
rm sub/gone && rmdir sub
ls -1 | sort
echo escape > rel-escape/via-rel 2>/dev/null; echo "write through ../ link: $?"
echo escape > abs-escape/via-abs 2>/dev/null; echo "write through absolute link: $?"
mkfifo pipe; cat pipe > fromfifo & echo through > pipe; wait; cat fromfifo
mknod dev c 1 3 2>/dev/null; echo "device node in rw: $?"
mkfifo /mnt/ro/p 2>/dev/null; echo "mkfifo in ro: $?"
cat /mnt/ro/keep
echo no > /mnt/ro/keep 2>/dev/null; echo "write to ro: $?"
touch /mnt/ro/new 2>/dev/null; echo "create in ro: $?"
rm /mnt/ro/keep 2>/dev/null; echo "rm in ro: $?"
cat /etc/single.conf
grep -c ' /mnt/rw ' /proc/mounts
`
	stdout, stderr, code := runMoat(t, []string{"-v", rw + ":/mnt/rw", "-v", ro + ":/mnt/ro:ro", "-v", single + ":/etc/single.conf:ro"},
		[]string{"/bin/busybox", "sh", "-c", script}, "")
	want := `old contents
abs-escape
created
hardlink
made
rel-escape
renamed
soft
write through ../ link: 1
write through absolute link: 0
through
device node in rw: 1
mkfifo in ro: 1
read-only contents
write to ro: 1
create in ro: 1
rm in ro: 1
one file
1
`
	if code != 0 || stdout != want {
		t.Fatalf("moat exit %d\nstdout (- want, + got):\n%s\nstderr:\n%s", code, lineDiff(want, stdout), stderr)
	}
	// On the host: the rw bind changed, the rest did not.
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return "error: " + err.Error()
		}
		return string(b)
	}
	checks := []struct{ path, want string }{
		{filepath.Join(rw, "created"), "new\nmore\n"},
		{filepath.Join(rw, "renamed"), "old contents\n"},
		{filepath.Join(rw, "hardlink"), "old contents\n"},
		{filepath.Join(rw, "made", "deeper", "f"), "deep\n"},
		{filepath.Join(rw, "fromfifo"), "through\n"},
		{filepath.Join(ro, "keep"), "read-only contents\n"},
		{single, "one file\n"},
	}
	for _, c := range checks {
		if got := read(c.path); got != c.want {
			t.Errorf("host %s: %q, want %q", c.path, got, c.want)
		}
	}
	if st, err := os.Stat(filepath.Join(rw, "created")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("host mode of created: %v %v, want 0600", st, err)
	}
	if st, err := os.Lstat(filepath.Join(rw, "pipe")); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("host pipe: %v %v, want a FIFO", st, err)
	}
	if _, err := os.Lstat(filepath.Join(rw, "dev")); !os.IsNotExist(err) {
		t.Errorf("a device node reached the host (%v)", err)
	}
	if l, err := os.Readlink(filepath.Join(rw, "soft")); err != nil || l != "renamed" {
		t.Errorf("host symlink soft: %q %v", l, err)
	}
	for _, gone := range []string{filepath.Join(rw, "old"), filepath.Join(rw, "sub")} {
		if _, err := os.Lstat(gone); !os.IsNotExist(err) {
			t.Errorf("host %s still exists (%v)", gone, err)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("a write through a symlink reached the host outside the bind: %s", strings.Join(names, " "))
	}
	if ents, _ := os.ReadDir(ro); len(ents) != 1 {
		t.Errorf("the ro bind changed on the host: %d entries", len(ents))
	}
}

// TestBindMountErrors checks that bad -v options are one clear line and
// a non-zero exit.
func TestBindMountErrors(t *testing.T) {
	t.Parallel()
	base := hostTempDir(t)
	for _, c := range []struct{ arg, want string }{
		{"/no/such/host/dir:/mnt/x", "not found on the host"},
		{base + ":relative", "must be absolute"},
		{base + ":/mnt/x:rx", "unknown option"},
		{base, "HOST:GUEST"},
		{base + ":/", "not /"},
	} {
		_, stderr, code := runMoat(t, []string{"-v", c.arg}, []string{"/bin/true"}, "")
		if code == 0 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("-v %s: exit %d, stderr %q; want one line containing %q", c.arg, code, stderr, c.want)
		}
	}
}
