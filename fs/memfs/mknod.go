package memfs

import (
	"golang.org/x/sys/unix"

	"moat/vfs"
)

// Mknod makes a special file called name in d (mknod(2)); bind(2) makes
// AF_UNIX socket inodes with it. Only sockets are made so far (other
// types are EPERM); opening one is ENXIO, as on Linux.
func (d *Inode) Mknod(ctx vfs.Context, name string, mode uint32, dev uint64) error {
	if err := vfs.CheckName(name); err != nil {
		return err
	}
	switch mode & unix.S_IFMT {
	case unix.S_IFSOCK:
	default:
		return unix.EPERM
	}
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	_, err := d.createLocked(ctx, name, mode&(unix.S_IFMT|0o7777), "", createOpts{})
	return err
}
