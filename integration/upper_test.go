package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestUpperDir runs moat twice with the same --upper DIR: the first run
// changes a host directory of the lower layer in every way the upper layer
// records (new, changed, removed and renamed files, a directory removed
// and made again (opaque), owners, modes, times, xattrs, symlinks, hard
// links, a FIFO, a device node, writes through symlinks that point out of
// the directory); the second run must see all of it. On the host, DIR
// holds it in overlayfs's format, and nothing else changed.
func TestUpperDir(t *testing.T) {
	t.Parallel()
	base := hostTempDir(t)
	upper := hostTempDir(t)
	lower := filepath.Join(base, "lower")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{lower, outside, filepath.Join(lower, "c")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{"a": "a\n", "b": "b\n", "c/old": "old\n", "d": "d\n"}
	for name, s := range files {
		if err := os.WriteFile(filepath.Join(lower, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := exec.LookPath("python3")
	python := err == nil

	first := `set -e
cd ` + lower + `
rm a
echo changed >> b
rm -r c
mkdir c
echo fresh > c/new
mv d e
echo created > n
chmod 640 n
chown 12:34 n
touch -d @1000000000 n
mkdir -p deep/er
echo x > deep/er/f
ln deep/er/f hl
ln -s ../outside out
ln -s ` + outside + ` outabs
echo via > out/viarel
echo via > outabs/viaabs
mkdir m1
echo m > m1/f
mv m1 m2
mkfifo fifo
mknod dev c 1 3
cd ../..
`
	if python {
		first += `python3 -c 'import os; os.setxattr("` + lower + `/n", "user.test", b"hello")'` + "\n"
	}
	flags := []string{"--upper", upper}
	stdout, stderr, code := runMoat(t, flags, []string{"/bin/sh", "-c", first}, "")
	if code != 0 {
		t.Fatalf("first run: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	second := `cd ` + lower + `
ls
cat b c/new e n hl deep/er/f m2/f ../outside/viarel ../outside/viaabs
ls c
stat -c '%n %F %a %u:%g' n fifo dev deep
stat -c '%n %t:%T' dev
stat -c '%n %Y' n
readlink out
test -e a || echo a is gone
test -e d || echo d is gone
test -e m1 || echo m1 is gone
stat -c '%h' hl
`
	if python {
		second += `python3 -c 'import os; print(os.getxattr("` + lower + `/n", "user.test").decode())'` + "\n"
	}
	want := `b
c
deep
dev
e
fifo
hl
m2
n
out
outabs
b
changed
fresh
d
created
x
x
m
via
via
new
n regular file 640 12:34
fifo fifo 644 0:0
dev character special file 644 0:0
deep directory 755 0:0
dev 1:3
n 1000000000
../outside
a is gone
d is gone
m1 is gone
2
`
	if python {
		want += "hello\n"
	}
	stdout, stderr, code = runMoat(t, flags, []string{"/bin/sh", "-c", second}, "")
	if code != 0 || stdout != want {
		t.Fatalf("second run: exit %d\nstdout (- want, + got):\n%s\nstderr:\n%s", code, lineDiff(want, stdout), stderr)
	}

	// The host: the lower directory and the one next to it are as they
	// were.
	for name, s := range files {
		if b, err := os.ReadFile(filepath.Join(lower, name)); err != nil || string(b) != s {
			t.Errorf("host %s changed: %q %v", name, b, err)
		}
	}
	for _, dir := range []string{lower, outside} {
		ents, _ := os.ReadDir(dir)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if want := map[string]string{lower: "a b c d", outside: ""}[dir]; strings.Join(names, " ") != want {
			t.Errorf("host %s holds %q, want %q", dir, names, want)
		}
	}
	// DIR, in overlayfs's format.
	up := filepath.Join(upper, lower)
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(up, "a"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("upper a is not a whiteout: %v mode %o rdev %d", err, st.Mode, st.Rdev)
	}
	buf := make([]byte, 8)
	if n, err := unix.Getxattr(filepath.Join(up, "c"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("upper c is not opaque: %q %v", buf[:n], err)
	}
	if err := unix.Lstat(filepath.Join(up, "n"), &st); err != nil || st.Uid != 12 || st.Gid != 34 || st.Mode&0o7777 != 0o640 || st.Mtim.Sec != 1e9 {
		t.Errorf("upper n: %v %+v", err, st)
	}
	if b, err := os.ReadFile(filepath.Join(upper, outside, "viarel")); err != nil || string(b) != "via\n" {
		t.Errorf("upper outside/viarel: %q %v", b, err)
	}
	var ust syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(up, "hl"), &ust); err != nil || ust.Nlink != 2 {
		t.Errorf("upper hl: %v nlink %d", err, ust.Nlink)
	}
}

// TestUpperDirErrors: a missing DIR, a file, and a directory that is
// neither empty nor an upper layer are one line each and exit 125.
func TestUpperDirErrors(t *testing.T) {
	t.Parallel()
	base := hostTempDir(t)
	file := filepath.Join(base, "file")
	full := filepath.Join(base, "full")
	os.WriteFile(file, nil, 0o644)
	os.Mkdir(full, 0o755)
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	for _, dir := range []string{filepath.Join(base, "missing"), file, full} {
		stdout, stderr, code := runMoat(t, []string{"--upper", dir}, []string{"/bin/true"}, "")
		if code != 125 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, dir) {
			t.Errorf("--upper %s: exit %d, stdout %q, stderr %q", dir, code, stdout, stderr)
		}
	}
}
