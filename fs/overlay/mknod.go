package overlay

import (
	"moat/vfs"
)

// Mknod makes a special file called name in the upper layer (see
// memfs.Inode.Mknod); bind(2) makes AF_UNIX socket inodes with it.
func (n *Inode) Mknod(ctx vfs.Context, name string, mode uint32, dev uint64) error {
	_, err := n.mknod(ctx, name, func(dir upperNode) (upperNode, error) {
		return dir.mknod(ctx, name, mode, dev)
	})
	return err
}
