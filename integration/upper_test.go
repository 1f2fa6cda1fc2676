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

// TestUpperNoHostPrivileges: what the sandbox's root makes that would be a
// privilege on the host (a set-user-ID copy of a binary, owned by root;
// device nodes, among them the host's first disk, 8:0, mode 0666;
// security.capability) is, in a later run on the same DIR, exactly what
// it made, and on the host nothing of the kind: DIR holds no set-ID file,
// no device node but whiteouts, no security.* xattr, and is root's, mode
// 0700.
func TestUpperNoHostPrivileges(t *testing.T) {
	t.Parallel()
	base := hostTempDir(t)
	upper := hostTempDir(t)
	lower := filepath.Join(base, "lower")
	if err := os.MkdirAll(lower, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lower, "gone"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := exec.LookPath("python3")
	python := err == nil

	// A v2 security.capability value: cap_net_raw, permitted and
	// effective.
	const caps = "0100000200200000000000000000000000000000"
	first := `set -e
cd ` + lower + `
cp /bin/true suidtrue
chown 0:0 suidtrue
chmod 4755 suidtrue
cp /bin/true sgidtrue
chmod 2755 sgidtrue
mknod null c 1 3
chmod 666 null
mknod sda c 8 0
chmod 666 sda
mknod blk b 8 0
ln null null2
mkfifo fifo
rm gone
`
	if python {
		first += `python3 -c '
import os
os.setxattr("suidtrue", "security.capability", bytes.fromhex("` + caps + `"))
os.setxattr("suidtrue", "trusted.app", b"t")
for n in ("trusted.moat.mode", "trusted.overlay.opaque", "trusted.moat.x.security.capability"):
    try:
        os.setxattr("suidtrue", n, b"1")
        print("set", n)
    except OSError as e:
        print(n, e.errno)
'
`
	}
	flags := []string{"--upper", upper}
	stdout, stderr, code := runMoat(t, flags, []string{"/bin/sh", "-c", first}, "")
	wantFirst := ""
	if python {
		wantFirst = "trusted.moat.mode 1\ntrusted.overlay.opaque 1\ntrusted.moat.x.security.capability 1\n"
	}
	if code != 0 || stdout != wantFirst {
		t.Fatalf("first run: exit %d\nstdout (- want, + got):\n%s\nstderr:\n%s", code, lineDiff(wantFirst, stdout), stderr)
	}

	checkHost := func(when string) {
		t.Helper()
		err := filepath.Walk(upper, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				return err
			}
			typ := st.Mode & unix.S_IFMT
			if typ != unix.S_IFDIR && st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
				t.Errorf("%s: host %s is set-ID: %o", when, p, st.Mode)
			}
			if (typ == unix.S_IFCHR || typ == unix.S_IFBLK) && st.Rdev != 0 {
				t.Errorf("%s: host %s is a device node %d:%d", when, p, unix.Major(st.Rdev), unix.Minor(st.Rdev))
			}
			buf := make([]byte, 64<<10)
			n, _ := unix.Llistxattr(p, buf)
			for _, x := range strings.Split(string(buf[:max(n, 0)]), "\x00") {
				if strings.HasPrefix(x, "security.") || strings.HasPrefix(x, "system.") ||
					strings.HasPrefix(x, "trusted.") && !strings.HasPrefix(x, "trusted.moat.") && !strings.HasPrefix(x, "trusted.overlay.") {
					t.Errorf("%s: host %s has xattr %s", when, p, x)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		if err := unix.Lstat(upper, &st); err != nil || st.Mode&0o7777 != 0o700 || st.Uid != 0 {
			t.Errorf("%s: host %s: %v mode %o uid %d", when, upper, err, st.Mode&0o7777, st.Uid)
		}
		var wh unix.Stat_t
		if err := unix.Lstat(filepath.Join(upper, lower, "gone"), &wh); err != nil || wh.Mode&unix.S_IFMT != unix.S_IFCHR || wh.Rdev != 0 {
			t.Errorf("%s: upper gone is not a whiteout: %v %o", when, err, wh.Mode)
		}
	}
	checkHost("after the first run")

	second := `cd ` + lower + `
stat -c '%n %F %a %u:%g' suidtrue sgidtrue null null2 sda blk fifo
stat -c '%n %t:%T %s' null sda blk
echo discarded > null && echo written
wc -c < null
cat sda || echo sda has no driver
./suidtrue && echo ran
test -e gone || echo gone is gone
stat -c '%a %u:%g' /
`
	want := `suidtrue regular file 4755 0:0
sgidtrue regular file 2755 0:0
null character special file 666 0:0
null2 character special file 666 0:0
sda character special file 666 0:0
blk block special file 644 0:0
fifo fifo 644 0:0
null 1:3 0
sda 8:0 0
blk 8:0 0
written
0
sda has no driver
ran
gone is gone
755 0:0
`
	if python {
		second += `python3 -c '
import os
print(os.getxattr("suidtrue", "security.capability").hex())
print(os.getxattr("suidtrue", "trusted.app").decode())
print(sorted(os.listxattr("suidtrue")))
for n in ("trusted.moat.mode", "trusted.moat.x.security.capability"):
    try:
        os.getxattr("suidtrue", n)
        print("got", n)
    except OSError as e:
        print(n, e.errno)
'
`
		want += caps + "\nt\n['security.capability', 'trusted.app']\ntrusted.moat.mode 61\ntrusted.moat.x.security.capability 61\n"
	}
	stdout, stderr, code = runMoat(t, flags, []string{"/bin/sh", "-c", second}, "")
	if code != 0 || stdout != want {
		t.Fatalf("second run: exit %d\nstdout (- want, + got):\n%s\nstderr:\n%s", code, lineDiff(want, stdout), stderr)
	}
	checkHost("after the second run")
}
