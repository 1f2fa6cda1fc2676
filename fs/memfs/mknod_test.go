package memfs

import (
	"testing"

	"golang.org/x/sys/unix"

	"moat/vfs/vfstest"
)

func TestMknodTypes(t *testing.T) {
	fs, _ := newFS(t, 0)
	d := fs.Root()
	for _, c := range []struct {
		name     string
		mode     uint32
		dev      uint64
		wantType uint32
		wantRdev uint64
	}{
		{"reg", unix.S_IFREG | 0o644, 0, unix.S_IFREG, 0},
		{"zero", 0o644, 0, unix.S_IFREG, 0},
		{"fifo", unix.S_IFIFO | 0o600, 7, unix.S_IFIFO, 0},
		{"sock", unix.S_IFSOCK | 0o755, 0, unix.S_IFSOCK, 0},
		{"chr", unix.S_IFCHR | 0o600, unix.Mkdev(1, 3), unix.S_IFCHR, unix.Mkdev(1, 3)},
		{"blk", unix.S_IFBLK | 0o600, unix.Mkdev(300, 70000), unix.S_IFBLK, unix.Mkdev(300, 70000)},
	} {
		vfstest.Must(t, d.Mknod(ctx{Uid: 5, Gid: 6}, c.name, c.mode, c.dev))
		st := stat(t, lookup(t, d, c.name))
		if st.Mode != c.wantType|c.mode&0o7777 || st.Rdev != c.wantRdev || st.UID != 5 || st.GID != 6 || st.Nlink != 1 {
			t.Errorf("%s: mode %#o rdev %#x uid %d gid %d nlink %d", c.name, st.Mode, st.Rdev, st.UID, st.GID, st.Nlink)
		}
		if c.wantType != unix.S_IFREG {
			_, err := lookup(t, d, c.name).Open(root, unix.O_RDONLY)
			vfstest.WantErr(t, err, unix.ENXIO)
		}
	}
	vfstest.WantErr(t, d.Mknod(root, "fifo", unix.S_IFIFO|0o600, 0), unix.EEXIST)
	vfstest.WantErr(t, d.Mknod(root, "lnk", unix.S_IFLNK|0o600, 0), unix.EINVAL)
	vfstest.WantErr(t, d.Mknod(root, "dir", unix.S_IFDIR|0o600, 0), unix.EINVAL)
	vfstest.WantErr(t, d.Mknod(root, "a/b", unix.S_IFIFO|0o600, 0), unix.EINVAL)
	vfstest.WantErr(t, lookup(t, d, "reg").(*Inode).Mknod(root, "x", unix.S_IFIFO, 0), unix.ENOTDIR)
}
