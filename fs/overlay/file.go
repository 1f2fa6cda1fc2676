package overlay

import (
	"golang.org/x/sys/unix"

	"moat/vfs"
)

// file is an open regular file (or other non-directory) of the overlay:
// the upper or lower layer's file, with Stat answered by the overlay inode
// so that fstat agrees with stat.
type file struct {
	n    *Inode
	impl vfs.FileImpl
}

var _ vfs.FileImpl = (*file)(nil)

// Read implements vfs.FileImpl.
func (f *file) Read(ctx vfs.Context, dst []byte, off int64) (int, error) {
	return f.impl.Read(ctx, dst, off)
}

// Write implements vfs.FileImpl.
func (f *file) Write(ctx vfs.Context, src []byte, off int64) (int, error) {
	return f.impl.Write(ctx, src, off)
}

// Release implements vfs.FileImpl.
func (f *file) Release() { f.impl.Release() }

// Stat returns the overlay inode's attributes (fstat).
func (f *file) Stat(ctx vfs.Context) (vfs.Stat, error) { return f.n.Stat(ctx) }

// Truncate implements ftruncate(2). A file opened for writing is always
// an upper file; others are EINVAL, as for a descriptor not open for
// writing.
func (f *file) Truncate(size int64) error {
	if t, ok := f.impl.(interface{ Truncate(int64) error }); ok {
		return t.Truncate(size)
	}
	return unix.EINVAL
}

// IsStream forwards vfs.Stream.
func (f *file) IsStream() bool {
	s, ok := f.impl.(vfs.Stream)
	return ok && s.IsStream()
}

// dirFile is an open directory; vfs lists it through Inode.ReadDir.
type dirFile struct{ n *Inode }

func (f *dirFile) Read(vfs.Context, []byte, int64) (int, error)  { return 0, unix.EISDIR }
func (f *dirFile) Write(vfs.Context, []byte, int64) (int, error) { return 0, unix.EBADF }
func (f *dirFile) Release()                                      {}
func (f *dirFile) Stat(ctx vfs.Context) (vfs.Stat, error)        { return f.n.Stat(ctx) }

// pathFile is an O_PATH file: it names the inode and allows no I/O.
type pathFile struct{ n *Inode }

func (f *pathFile) Read(vfs.Context, []byte, int64) (int, error)  { return 0, unix.EBADF }
func (f *pathFile) Write(vfs.Context, []byte, int64) (int, error) { return 0, unix.EBADF }
func (f *pathFile) Release()                                      {}
func (f *pathFile) Stat(ctx vfs.Context) (vfs.Stat, error)        { return f.n.Stat(ctx) }
