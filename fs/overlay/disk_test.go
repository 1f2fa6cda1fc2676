package overlay

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"moat/fs/hostfs"
	"moat/vfs"
	"moat/vfs/vfstest"
)

// diskEnv is an overlay of lowerTree under an upper layer on disk.
func diskEnv(t *testing.T, lowerDir, upperDir string) *env {
	t.Helper()
	hfs, err := hostfs.Open(lowerDir)
	vfstest.Must(t, err)
	t.Cleanup(func() { hfs.Close() })
	root, ufs, err := NewOnDisk(hfs.Root(), upperDir)
	vfstest.Must(t, err)
	t.Cleanup(func() { ufs.Close() })
	return &env{dir: lowerDir, root: root}
}

func TestDiskUpperPersists(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root (trusted.* xattrs, chown)")
	}
	lowerDir := lowerTree(t)
	base := t.TempDir()
	upperDir := filepath.Join(base, "upper")
	outside := filepath.Join(base, "outside")
	vfstest.Must(t, os.Mkdir(upperDir, 0o755))
	vfstest.Must(t, os.Mkdir(outside, 0o755))
	lowerSnap := snapshot(t, lowerDir)
	outSnap := snapshot(t, outside)

	e := diskEnv(t, lowerDir, upperDir)
	e.write(t, "etc/conf", "upper conf")
	e.write(t, "new", "new file")
	dir := e.walk(t, "dir")
	vfstest.Must(t, dir.Unlink(c0, "a"))
	sub := e.walk(t, "dir/sub")
	vfstest.Must(t, sub.Unlink(c0, "c"))
	vfstest.Must(t, dir.Rmdir(c0, "sub"))
	vfstest.Must(t, dir.Mkdir(c0, "sub", 0o750))
	e.write(t, "dir/sub/fresh", "fresh")
	vfstest.Must(t, e.root.Mkdir(c0, "m1", 0o755))
	e.write(t, "m1/f", "in m1")
	vfstest.Must(t, e.root.Rename(c0, "m1", e.root, "m2", 0))
	vfstest.Must(t, e.root.Symlink(c0, "esc", "../outside"))
	vfstest.Must(t, e.root.(*Inode).Link(c0, "hard", e.walk(t, "new")))
	vfstest.Must(t, e.walk(t, "new").(*Inode).SetXattr(c0, "user.k", []byte("v"), 0))
	vfstest.WantErr(t, e.walk(t, "new").(*Inode).SetXattr(c0, "trusted.overlay.opaque", []byte("y"), 0), unix.EPERM)
	vfstest.Must(t, e.walk(t, "new").(*Inode).SetStat(c0, unix.STATX_UID|unix.STATX_GID|unix.STATX_MODE, vfs.Stat{UID: 5, GID: 6, Mode: 0o600}))
	vfstest.Must(t, e.root.(*Inode).Mknod(c0, "dev", unix.S_IFCHR|0o644, unix.Mkdev(1, 3)))
	vfstest.Must(t, e.root.Rename(c0, "big", e.root, "big2", 0))

	// A second overlay on the same upper directory sees all of it.
	e2 := diskEnv(t, lowerDir, upperDir)
	if got := read(t, e2.walk(t, "etc/conf")); got != "upper conf" {
		t.Errorf("etc/conf: %q", got)
	}
	if got := read(t, e2.walk(t, "hard")); got != "new file" {
		t.Errorf("hard: %q", got)
	}
	if got := names(t, e2.walk(t, "dir")); !eq(got, "b", "sub") {
		t.Errorf("dir: %v", got)
	}
	if got := names(t, e2.walk(t, "dir/sub")); !eq(got, "fresh") {
		t.Errorf("dir/sub (opaque): %v", got)
	}
	if got := read(t, e2.walk(t, "m2/f")); got != "in m1" {
		t.Errorf("m2/f: %q", got)
	}
	if _, err := e2.try("m1"); err != unix.ENOENT {
		t.Errorf("m1: %v", err)
	}
	if _, err := e2.try("big"); err != unix.ENOENT {
		t.Errorf("big after rename: %v", err)
	}
	if st := stat(t, e2.walk(t, "big2")); st.Size != 1<<20 {
		t.Errorf("big2 size %d", st.Size)
	}
	if got, err := e2.walk(t, "esc").Readlink(c0); err != nil || got != "../outside" {
		t.Errorf("esc: %q %v", got, err)
	}
	st := stat(t, e2.walk(t, "new"))
	if st.UID != 5 || st.GID != 6 || st.Mode&0o7777 != 0o600 || st.Nlink != 2 {
		t.Errorf("new: %+v", st)
	}
	if v, err := e2.walk(t, "new").(*Inode).GetXattr(c0, "user.k"); err != nil || string(v) != "v" {
		t.Errorf("user.k: %q %v", v, err)
	}
	if st := stat(t, e2.walk(t, "dev")); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("dev: %+v", st)
	}
	if l, err := e2.root.(*Inode).ListXattr(c0); err != nil || len(l) != 0 {
		t.Errorf("root xattrs: %v %v", l, err)
	}

	// The host: the lower tree and the directory next to the upper one
	// are untouched; the upper one is in overlayfs's format.
	for p, s := range lowerSnap {
		if after := snapshot(t, lowerDir)[p]; after != s {
			t.Errorf("lower changed: %s", p)
		}
	}
	if len(snapshot(t, outside)) != len(outSnap) {
		t.Errorf("outside changed")
	}
	wst := hostStat(t, filepath.Join(upperDir, "dir/a"))
	if wst.Mode&unix.S_IFMT != unix.S_IFCHR || wst.Rdev != 0 {
		t.Errorf("dir/a is not a whiteout: %+v", wst)
	}
	buf := make([]byte, 4)
	if n, err := unix.Getxattr(filepath.Join(upperDir, "dir/sub"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("dir/sub not opaque: %v", err)
	}
}

// TestDiskUpperRefuses: a directory that is neither empty nor an upper
// layer is refused.
func TestDiskUpperRefuses(t *testing.T) {
	lowerDir := lowerTree(t)
	hfs, err := hostfs.Open(lowerDir)
	vfstest.Must(t, err)
	defer hfs.Close()
	d := t.TempDir()
	vfstest.Must(t, os.WriteFile(filepath.Join(d, "x"), nil, 0o644))
	if _, _, err := NewOnDisk(hfs.Root(), d); err == nil {
		t.Fatal("a non-empty directory was taken")
	}
	if _, _, err := NewOnDisk(hfs.Root(), filepath.Join(d, "x")); err == nil {
		t.Fatal("a file was taken")
	}
	// Someone else could have put things in these.
	for _, mode := range []uint32{0o770, 0o757, 0o777} {
		w := filepath.Join(d, fmt.Sprintf("w%o", mode))
		vfstest.Must(t, os.Mkdir(w, 0o700))
		vfstest.Must(t, unix.Chmod(w, mode))
		if _, _, err := NewOnDisk(hfs.Root(), w); err == nil || !strings.Contains(err.Error(), "writable") {
			t.Errorf("mode %o: %v", mode, err)
		}
	}
	if os.Getuid() == 0 {
		o := filepath.Join(d, "other")
		vfstest.Must(t, os.Mkdir(o, 0o700))
		vfstest.Must(t, os.Chown(o, 1000, 1000))
		if _, _, err := NewOnDisk(hfs.Root(), o); err == nil || !strings.Contains(err.Error(), "owned") {
			t.Errorf("a directory of uid 1000: %v", err)
		}
	}
}

// hostWalk calls fn for every object under dir (dir included), not
// following symlinks.
func hostWalk(t *testing.T, dir string, fn func(p string, st *unix.Stat_t)) {
	t.Helper()
	vfstest.Must(t, filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		fn(p, &st)
		return nil
	}))
}

// hostXattrs lists the host xattr names of p (not following it).
func hostXattrs(t *testing.T, p string) []string {
	t.Helper()
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range bytes.Split(buf[:n], []byte{0}) {
		if len(s) > 0 {
			out = append(out, string(s))
		}
	}
	return out
}

// checkNoHostPrivileges fails unless nothing under dir is a privilege on
// the host: no set-ID non-directory, no device node but 0:0 whiteouts, no
// xattr outside user.* and trusted.{overlay,moat}.*, and dir itself root's
// with mode 0700.
func checkNoHostPrivileges(t *testing.T, dir string) {
	t.Helper()
	hostWalk(t, dir, func(p string, st *unix.Stat_t) {
		typ := st.Mode & unix.S_IFMT
		if typ != unix.S_IFDIR && st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
			t.Errorf("host %s is set-ID: %o", p, st.Mode)
		}
		if (typ == unix.S_IFCHR || typ == unix.S_IFBLK) && st.Rdev != 0 {
			t.Errorf("host %s is a device node %d:%d", p, unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		for _, x := range hostXattrs(t, p) {
			if !strings.HasPrefix(x, "user.") && !strings.HasPrefix(x, "trusted.moat.") && !strings.HasPrefix(x, "trusted.overlay.") {
				t.Errorf("host %s has xattr %s", p, x)
			}
		}
	})
	if st := hostStat(t, dir); st.Mode&0o7777 != 0o700 || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("host %s: mode %o owner %d:%d", dir, st.Mode&0o7777, st.Uid, st.Gid)
	}
}

// TestDiskUpperNoHostPrivileges: set-ID files, device nodes and security
// and trusted xattrs made in the sandbox are what the sandbox made, in
// this overlay and a later one, but nothing of the kind on the host.
func TestDiskUpperNoHostPrivileges(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root (trusted.* xattrs, chown)")
	}
	lowerDir := lowerTree(t)
	vfstest.Must(t, os.WriteFile(filepath.Join(lowerDir, "suid"), []byte("#!/bin/sh\n"), 0o755))
	vfstest.Must(t, unix.Chmod(filepath.Join(lowerDir, "suid"), 0o4755))
	upperDir := filepath.Join(t.TempDir(), "upper")
	vfstest.Must(t, os.Mkdir(upperDir, 0o755))

	e := diskEnv(t, lowerDir, upperDir)
	root := e.root.(*Inode)
	user := vfstest.Caller{Uid: 1000, Gid: 1000}

	// Set-ID files: made so, chmodded so, copied up so.
	_, err := root.Create(c0, "s", unix.S_IFREG|0o4755)
	vfstest.Must(t, err)
	e.write(t, "g", "g")
	vfstest.Must(t, e.walk(t, "g").(*Inode).SetStat(c0, unix.STATX_MODE, vfs.Stat{Mode: 0o2775}))
	vfstest.Must(t, e.walk(t, "suid").(*Inode).SetXattr(c0, "user.k", []byte("v"), 0))
	vfstest.Must(t, root.Mknod(c0, "fifo2", unix.S_IFIFO|0o4644, 0))
	// Device nodes.
	vfstest.Must(t, root.Mknod(c0, "null", unix.S_IFCHR|0o666, unix.Mkdev(1, 3)))
	vfstest.Must(t, root.Mknod(user, "sda", unix.S_IFCHR|0o666, unix.Mkdev(8, 0)))
	vfstest.Must(t, root.Mknod(c0, "blk", unix.S_IFBLK|0o600, unix.Mkdev(8, 1)))
	vfstest.Must(t, root.Link(c0, "null2", e.walk(t, "null")))
	// Xattrs.
	s := e.walk(t, "s").(*Inode)
	vfstest.Must(t, s.SetXattr(c0, "security.capability", []byte("caps"), 0))
	vfstest.Must(t, s.SetXattr(c0, "trusted.app", []byte("t"), 0))
	vfstest.Must(t, s.SetXattr(c0, "user.overlay.opaque", []byte("y"), 0))
	vfstest.Must(t, s.SetXattr(c0, "user.plain", []byte("p"), 0))
	for _, n := range []string{"trusted.moat.mode", "trusted.moat.x.security.capability", "trusted.overlay.opaque"} {
		vfstest.WantErr(t, s.SetXattr(c0, n, []byte("1"), 0), unix.EPERM)
		vfstest.WantErr(t, s.RemoveXattr(c0, n), unix.EPERM)
		if _, err := s.GetXattr(c0, n); err != unix.ENODATA {
			t.Errorf("get %s: %v", n, err)
		}
	}
	// The root: its mode and owner are the sandbox's, DIR stays 0700.
	vfstest.Must(t, root.SetStat(c0, unix.STATX_MODE|unix.STATX_UID|unix.STATX_GID, vfs.Stat{Mode: 0o1755, UID: 7, GID: 8}))
	// Hard links never lead out: a lower file is copied up first.
	vfstest.Must(t, root.Link(c0, "hl", e.walk(t, "etc/conf")))

	check := func(e *env, which string) {
		t.Helper()
		for _, c := range []struct {
			path string
			mode uint32
			rdev uint64
			uid  uint32
		}{
			{"s", unix.S_IFREG | 0o4755, 0, 0},
			{"g", unix.S_IFREG | 0o2775, 0, 0},
			{"suid", unix.S_IFREG | 0o4755, 0, 0},
			{"fifo2", unix.S_IFIFO | 0o4644, 0, 0},
			{"null", unix.S_IFCHR | 0o666, unix.Mkdev(1, 3), 0},
			{"null2", unix.S_IFCHR | 0o666, unix.Mkdev(1, 3), 0},
			{"sda", unix.S_IFCHR | 0o666, unix.Mkdev(8, 0), 1000},
			{"blk", unix.S_IFBLK | 0o600, unix.Mkdev(8, 1), 0},
			{"", unix.S_IFDIR | 0o1755, 0, 7},
		} {
			in := e.root
			if c.path != "" {
				in = e.walk(t, c.path)
			}
			st := stat(t, in)
			if st.Mode != c.mode || st.Rdev != c.rdev || st.UID != c.uid || (c.rdev != 0 && st.Size != 0) {
				t.Errorf("%s: %s: mode %o rdev %d:%d uid %d size %d, want %o %d:%d uid %d", which, c.path, st.Mode,
					unix.Major(st.Rdev), unix.Minor(st.Rdev), st.UID, st.Size, c.mode, unix.Major(c.rdev), unix.Minor(c.rdev), c.uid)
			}
		}
		if st := stat(t, e.walk(t, "null")); st.Nlink != 2 {
			t.Errorf("%s: null nlink %d", which, st.Nlink)
		}
		s := e.walk(t, "s").(*Inode)
		for n, v := range map[string]string{"security.capability": "caps", "trusted.app": "t", "user.overlay.opaque": "y", "user.plain": "p"} {
			if got, err := s.GetXattr(c0, n); err != nil || string(got) != v {
				t.Errorf("%s: %s: %q %v", which, n, got, err)
			}
		}
		if l, err := s.ListXattr(c0); err != nil || !eqSet(l, "security.capability", "trusted.app", "user.overlay.opaque", "user.plain") {
			t.Errorf("%s: list %v %v", which, l, err)
		}
		if l, err := e.root.(*Inode).ListXattr(c0); err != nil || len(l) != 0 {
			t.Errorf("%s: root xattrs %v %v", which, l, err)
		}
		// null opens as the null device.
		f, err := e.walk(t, "null").Open(c0, unix.O_RDWR)
		vfstest.Must(t, err)
		if n, err := f.Read(c0, make([]byte, 8), 0); n != 0 || err != nil {
			t.Errorf("%s: read null: %d %v", which, n, err)
		}
		if n, err := f.Write(c0, []byte("gone"), 0); n != 4 || err != nil {
			t.Errorf("%s: write null: %d %v", which, n, err)
		}
		f.Release()
		if _, err := e.walk(t, "sda").Open(c0, unix.O_RDONLY); err != unix.ENXIO {
			t.Errorf("%s: open sda: %v", which, err)
		}
		checkNoHostPrivileges(t, upperDir)
	}
	check(e, "first")

	var lst unix.Stat_t
	vfstest.Must(t, unix.Lstat(filepath.Join(lowerDir, "etc/conf"), &lst))
	if ust := hostStat(t, filepath.Join(upperDir, "hl")); ust.Ino == lst.Ino || lst.Nlink != 1 || ust.Nlink != 2 {
		t.Errorf("hl: upper ino %d nlink %d, lower ino %d nlink %d", ust.Ino, ust.Nlink, lst.Ino, lst.Nlink)
	}
	for p, want := range map[string]uint32{"s": 0o1755, "g": 0o1775, "suid": 0o1755, "fifo2": unix.S_IFIFO | 0o1644, "null": 0o1000, "sda": 0o1000} {
		st := hostStat(t, filepath.Join(upperDir, p))
		if want&unix.S_IFMT == 0 {
			want |= unix.S_IFREG
		}
		if st.Mode != want {
			t.Errorf("host %s: mode %o, want %o", p, st.Mode, want)
		}
	}

	e2 := diskEnv(t, lowerDir, upperDir)
	check(e2, "second")

	// Linux's rules for set-ID bits: a write by a caller without
	// CAP_FSETID clears them (set-group-ID only with group execution),
	// one with it does not; chown clears them; chmod sets them back and
	// takes them away, leaving nothing behind on the host.
	writeAs := func(c vfs.Context, path string) {
		t.Helper()
		f, err := e2.walk(t, path).Open(c, unix.O_WRONLY)
		vfstest.Must(t, err)
		defer f.Release()
		_, err = f.Write(c, []byte("x"), 0)
		vfstest.Must(t, err)
	}
	writeAs(c0, "s")
	if st := stat(t, e2.walk(t, "s")); st.Mode&0o7777 != 0o4755 {
		t.Errorf("s after root's write: %o", st.Mode)
	}
	writeAs(user, "s")
	writeAs(user, "g")
	if st := stat(t, e2.walk(t, "s")); st.Mode&0o7777 != 0o755 {
		t.Errorf("s after a user's write: %o", st.Mode)
	}
	if st := stat(t, e2.walk(t, "g")); st.Mode&0o7777 != 0o775 {
		t.Errorf("g after a user's write: %o", st.Mode)
	}
	if st := hostStat(t, filepath.Join(upperDir, "s")); st.Mode&0o7777 != 0o755 || len(hostXattrs(t, filepath.Join(upperDir, "s"))) != 4 {
		t.Errorf("host s after a user's write: %o %v", st.Mode, hostXattrs(t, filepath.Join(upperDir, "s")))
	}
	suid := e2.walk(t, "suid").(*Inode)
	vfstest.Must(t, suid.SetStat(c0, unix.STATX_UID, vfs.Stat{UID: 3}))
	if st := stat(t, suid); st.Mode&0o7777 != 0o755 || st.UID != 3 {
		t.Errorf("suid after chown: %o %d", st.Mode, st.UID)
	}
	vfstest.Must(t, suid.SetStat(c0, unix.STATX_MODE, vfs.Stat{Mode: 0o6711}))
	if st := stat(t, suid); st.Mode&0o7777 != 0o6711 {
		t.Errorf("suid after chmod: %o", st.Mode)
	}
	vfstest.Must(t, e2.walk(t, "null").(*Inode).SetStat(c0, unix.STATX_MODE, vfs.Stat{Mode: 0o4600}))
	if st := stat(t, e2.walk(t, "null2")); st.Mode != unix.S_IFCHR|0o4600 {
		t.Errorf("null2 after chmod of null: %o", st.Mode)
	}
	vfstest.WantErr(t, e2.walk(t, "null").(*Inode).SetStat(c0, unix.STATX_SIZE, vfs.Stat{}), unix.EINVAL)
	checkNoHostPrivileges(t, upperDir)
}

func eqSet(a []string, b ...string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, s := range a {
		m[s] = true
	}
	for _, s := range b {
		if !m[s] {
			return false
		}
	}
	return true
}
