package overlay

import (
	"moat/fs/memfs"
	"moat/vfs"
)

// Mknod makes a special file called name in the upper layer (see
// memfs.Inode.Mknod); bind(2) makes AF_UNIX socket inodes with it.
func (n *Inode) Mknod(ctx vfs.Context, name string, mode uint32, dev uint64) error {
	_, err := n.mknod(ctx, name, func(dir *memfs.Inode) (*memfs.Inode, error) {
		if err := dir.Mknod(ctx, name, mode, dev); err != nil {
			return nil, err
		}
		return dir.Child(name), nil
	})
	return err
}
