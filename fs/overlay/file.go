package overlay

import (
	"golang.org/x/sys/unix"

	"moat/mm"
	"moat/platform"
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

// Allocate forwards fallocate(2) to the upper layer's file (a file open
// for writing is always an upper file); EOPNOTSUPP otherwise.
func (f *file) Allocate(mode uint32, off, n int64) error {
	if a, ok := f.impl.(vfs.Allocator); ok {
		return a.Allocate(mode, off, n)
	}
	return unix.EOPNOTSUPP
}

// SharedChunk forwards shared mappings to the upper layer's file (a file
// open for writing is always an upper file); ENODEV otherwise.
func (f *file) SharedChunk(off int64) (platform.FileRange, int64, error) {
	if s, ok := f.impl.(interface {
		SharedChunk(int64) (platform.FileRange, int64, error)
	}); ok {
		return s.SharedChunk(off)
	}
	return platform.FileRange{}, 0, unix.ENODEV
}

// Mappers forwards the upper layer's reverse map of mappings (see
// mm.Mappers); lower files have none: the sandbox cannot change them
// without copying them up, and a mapping keeps the lower file.
func (f *file) Mappers() *mm.Mappers {
	if m, ok := f.impl.(interface{ Mappers() *mm.Mappers }); ok {
		return m.Mappers()
	}
	return nil
}

// ContentKey forwards the lower layer's file-cache key (see
// mm.CachedFile): only a file that has not been copied up has one.
func (f *file) ContentKey() (any, bool) {
	if c, ok := f.impl.(interface{ ContentKey() (any, bool) }); ok {
		return c.ContentKey()
	}
	return nil, false
}

// HostFD forwards the lower layer's host descriptor (see mm.HostBacked):
// only a file that has not been copied up has one.
func (f *file) HostFD() (int, bool) {
	if h, ok := f.impl.(interface{ HostFD() (int, bool) }); ok {
		return h.HostFD()
	}
	return 0, false
}

// IsStream forwards vfs.Stream.
func (f *file) IsStream() bool {
	s, ok := f.impl.(vfs.Stream)
	return ok && s.IsStream()
}
