package memfs

import (
	"golang.org/x/sys/unix"

	"moat/vfs"
)

// Mknod makes a file called name in d (mknod(2)) of the type in mode's
// S_IFMT bits: a regular file (S_IFREG or 0), a FIFO, a socket (bind(2)
// makes AF_UNIX socket inodes with it), or a character or block device
// with device number dev. Other types are EINVAL; permission checks,
// including CAP_MKNOD for devices, are the caller's. Opening a special
// file through Open is ENXIO: FIFOs and devices are opened by the caller,
// by their identity and device number.
func (d *Inode) Mknod(ctx vfs.Context, name string, mode uint32, dev uint64) error {
	if err := vfs.CheckName(name); err != nil {
		return err
	}
	typ := mode & unix.S_IFMT
	switch typ {
	case 0:
		typ = unix.S_IFREG
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
		dev = 0
	case unix.S_IFCHR, unix.S_IFBLK:
	default:
		return unix.EINVAL
	}
	d.fs.mu.Lock()
	defer d.fs.mu.Unlock()
	c, err := d.createLocked(ctx, name, typ|mode&0o7777, "", createOpts{})
	if err != nil {
		return err
	}
	c.rdev = dev
	return nil
}
