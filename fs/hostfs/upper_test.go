package hostfs

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"moat/vfs/vfstest"
)

// TestMknodSpecialNoDevices: sockets are made, device nodes never (the
// overlay keeps the sandbox's as placeholders).
func TestMknodSpecialNoDevices(t *testing.T) {
	if !isRoot() {
		t.Skip("needs root")
	}
	dir, _, fs := wtree(t)
	r := fs.Root()
	for _, mode := range []uint32{unix.S_IFCHR | 0o666, unix.S_IFBLK | 0o600} {
		vfstest.WantErr(t, r.MknodSpecial(app, "dev", mode, unix.Mkdev(8, 0)), unix.EPERM)
		mustNotExist(t, filepath.Join(dir, "dev"))
	}
	vfstest.Must(t, r.MknodSpecial(app, "sock", unix.S_IFSOCK|0o640, unix.Mkdev(8, 0)))
	if st := hostStat(t, filepath.Join(dir, "sock")); st.Mode != unix.S_IFSOCK|0o640 || st.Rdev != 0 {
		t.Errorf("sock: %o %d", st.Mode, st.Rdev)
	}
	vfstest.Must(t, r.MakeWhiteout("wh"))
	if st := hostStat(t, filepath.Join(dir, "wh")); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("wh: %o %d", st.Mode, st.Rdev)
	}
}

// TestTempFileAttrs: an unnamed file gets its owner, mode and xattrs
// before it is linked in place.
func TestTempFileAttrs(t *testing.T) {
	if !isRoot() {
		t.Skip("needs root (trusted.* xattrs, chown)")
	}
	dir, _, fs := wtree(t)
	tf, err := fs.NewTempFile()
	vfstest.Must(t, err)
	defer tf.Drop()
	vfstest.Must(t, tf.Chown(5, 6))
	vfstest.Must(t, tf.SetXattr("trusted.moat.rdev", []byte("c 1:3")))
	vfstest.Must(t, tf.Chmod(0o1000))
	vfstest.Must(t, lookup(t, fs.Root(), "d").(*Inode).LinkTempFile(tf, "ph"))
	p := filepath.Join(dir, "d", "ph")
	if st := hostStat(t, p); st.Mode != unix.S_IFREG|0o1000 || st.Uid != 5 || st.Gid != 6 || st.Size != 0 {
		t.Errorf("ph: %+v", st)
	}
	buf := make([]byte, 16)
	if n, err := unix.Getxattr(p, "trusted.moat.rdev", buf); err != nil || string(buf[:n]) != "c 1:3" {
		t.Errorf("ph xattr: %q %v", buf[:n], err)
	}
	// Host xattrs of FIFOs too, never of symlinks.
	fifo := lookup(t, fs.Root(), "fifo").(*Inode)
	vfstest.Must(t, fifo.HostSetXattr("trusted.moat.mode", []byte("4644"), 0))
	if v, err := fifo.HostGetXattr("trusted.moat.mode"); err != nil || string(v) != "4644" {
		t.Errorf("fifo xattr: %q %v", v, err)
	}
	vfstest.WantErr(t, lookup(t, fs.Root(), "out").(*Inode).HostSetXattr("trusted.x", []byte("1"), 0), unix.EPERM)
}
