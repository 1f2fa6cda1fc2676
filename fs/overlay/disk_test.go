package overlay

import (
	"os"
	"path/filepath"
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
}
