package memfs

import (
	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/mm"
	"moat/vfs"
)

type page [PageSize]byte

// readLocked copies file data at off into dst; holes read as zeros.
//
// Preconditions: fs.mu is held; in is a regular file.
func (in *Inode) readLocked(dst []byte, off int64) int {
	if off < 0 || off >= in.size {
		return 0
	}
	if rem := in.size - off; int64(len(dst)) > rem {
		dst = dst[:rem]
	}
	n := 0
	for n < len(dst) {
		pos := off + int64(n)
		idx, po := pos/PageSize, int(pos%PageSize)
		c := min(PageSize-po, len(dst)-n)
		if b, ok := in.chunkBytes(idx); ok {
			copy(dst[n:n+c], b[po:po+c])
		} else if pg := in.pages[idx]; pg != nil {
			copy(dst[n:n+c], pg[po:po+c])
		} else {
			clear(dst[n : n+c])
		}
		n += c
	}
	return n
}

// writeLocked stores src at off, allocating pages as needed. It writes as
// much as fits: a short count when the filesystem fills up, ENOSPC when
// nothing fits, EFBIG at the maximum file size.
//
// Preconditions: fs.mu is held; in is a regular file.
func (in *Inode) writeLocked(src []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	if len(src) == 0 {
		return 0, nil
	}
	if off >= maxFileSize {
		return 0, unix.EFBIG
	}
	if err := in.checkWriteSealsLocked(off, len(src)); err != nil {
		return 0, err
	}
	if rem := maxFileSize - off; int64(len(src)) > rem {
		src = src[:rem]
	}
	fs := in.fs
	if in.pages == nil {
		in.pages = make(map[int64]*page)
	}
	n := 0
	for n < len(src) {
		pos := off + int64(n)
		idx, po := pos/PageSize, int(pos%PageSize)
		if b, ok := in.chunkBytes(idx); ok {
			n += copy(b[po:], src[n:])
			continue
		}
		pg := in.pages[idx]
		if pg == nil {
			if fs.usedBytes+PageSize > fs.maxBytes {
				if n > 0 {
					break
				}
				return 0, unix.ENOSPC
			}
			pg = new(page)
			in.pages[idx] = pg
			fs.usedBytes += PageSize
		}
		n += copy(pg[po:], src[n:])
	}
	if end := off + int64(n); end > in.size {
		in.size = end
	}
	return n, nil
}

// truncateLocked sets the file size, freeing pages past it. Growing never
// allocates.
//
// Preconditions: fs.mu is held; in is a regular file.
func (in *Inode) truncateLocked(size int64) error {
	if size < 0 {
		return unix.EINVAL
	}
	if err := in.checkSizeSealsLocked(size); err != nil {
		return err
	}
	if size < in.size {
		first := size / PageSize // first page that may hold data past size
		if size%PageSize != 0 {
			if pg := in.pages[first]; pg != nil {
				clear(pg[size%PageSize:])
			}
			first++
		}
		for idx := range in.pages {
			if idx >= first {
				delete(in.pages, idx)
				in.fs.usedBytes -= PageSize
			}
		}
		in.truncateShmLocked(size)
	} else if tail := in.size % PageSize; tail != 0 {
		// Growing: stores through a shared mapping past the old end,
		// in its last page, must not show up as data.
		if b, ok := in.chunkBytes(in.size / PageSize); ok {
			clear(b[tail:])
		}
	}
	in.size = size
	return nil
}

// File is an open regular file of a memfs. It implements vfs.FileImpl.
type File struct {
	in       *Inode
	released bool   // guarded by in.fs.mu
	name     string // an unlinked file's name (memfd), set before it is shared
}

var _ vfs.FileImpl = (*File)(nil)

// Inode returns the file's inode.
func (f *File) Inode() *Inode { return f.in }

// Read implements vfs.FileImpl.
func (f *File) Read(ctx vfs.Context, dst []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	in := f.in
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	n := in.readLocked(dst, off)
	in.touchAtimeLocked()
	return n, nil
}

// Write implements vfs.FileImpl.
func (f *File) Write(ctx vfs.Context, src []byte, off int64) (int, error) {
	in := f.in
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	n, err := in.writeLocked(src, off)
	if n > 0 {
		now := in.fs.timeNow()
		in.mtime, in.ctime = now, now
		if !vfs.Capable(ctx, linux.CAP_FSETID) {
			// Like Linux's file_remove_privs for callers without
			// CAP_FSETID.
			in.mode &^= unix.S_ISUID
			if in.mode&unix.S_IXGRP != 0 {
				in.mode &^= unix.S_ISGID
			}
		}
	}
	return n, err
}

// Truncate implements ftruncate(2).
func (f *File) Truncate(size int64) error {
	if size < 0 {
		return unix.EINVAL
	}
	in := f.in
	in.fs.mu.Lock()
	old := in.size
	if size == old {
		in.fs.mu.Unlock()
		return nil
	}
	if err := in.truncateLocked(size); err != nil {
		in.fs.mu.Unlock()
		return err
	}
	now := in.fs.timeNow()
	in.mtime, in.ctime = now, now
	in.fs.mu.Unlock()
	if size < old {
		in.maps.Truncated(size) // after fs.mu: the fault path takes it under mm's lock
	}
	return nil
}

// Mappers returns the file's reverse map (mm.Mappers), so that
// truncation reaches the pages every address space maps.
func (f *File) Mappers() *mm.Mappers { return &f.in.maps }

// Stat returns the attributes of the file's inode (fstat).
func (f *File) Stat(ctx vfs.Context) (vfs.Stat, error) { return f.in.Stat(ctx) }

// Release implements vfs.FileImpl.
func (f *File) Release() {
	in := f.in
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	if f.released {
		return
	}
	f.released = true
	in.refs--
	in.maybeFreeLocked()
}
