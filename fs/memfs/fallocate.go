package memfs

import (
	"golang.org/x/sys/unix"

	"moat/vfs"
)

// fallocate(2) modes (linux/falloc.h).
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
	fallocZeroRange = 0x10
)

// Allocate implements fallocate(2) on a regular file (vfs.Allocator).
// mode is 0 or FALLOC_FL_KEEP_SIZE (allocate the range's pages, growing
// the file unless KEEP_SIZE), FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE
// (zero the range and free its whole pages) or FALLOC_FL_ZERO_RANGE
// (zero the range and allocate it, growing the file unless KEEP_SIZE);
// the syscall layer has refused other modes and bad ranges. Allocation
// is all or nothing: ENOSPC leaves the file as it was.
func (f *File) Allocate(mode uint32, off, n int64) error {
	in := f.in
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	if in.typ() != unix.S_IFREG {
		return unix.ENODEV
	}
	if mode&^(fallocKeepSize|fallocPunchHole|fallocZeroRange) != 0 {
		return unix.EOPNOTSUPP // COLLAPSE_RANGE, INSERT_RANGE, UNSHARE_RANGE, WRITE_ZEROES
	}
	end := off + n
	if off < 0 || n <= 0 || end < off || end > maxFileSize {
		return unix.EFBIG
	}
	grow := mode&fallocKeepSize == 0 && end > in.size
	if mode&fallocPunchHole != 0 {
		if in.seals&(SealWrite|SealFutureWrite) != 0 {
			return unix.EPERM
		}
		in.zeroLocked(off, end, true)
	} else {
		if end > in.size && in.seals&SealGrow != 0 { // even with KEEP_SIZE, as tmpfs
			return unix.EPERM
		}
		if mode&fallocZeroRange != 0 && in.seals&(SealWrite|SealFutureWrite) != 0 {
			return unix.EPERM
		}
		if err := in.allocateLocked(off, end); err != nil {
			return err
		}
		if mode&fallocZeroRange != 0 {
			in.zeroLocked(off, end, false)
		}
		if grow {
			in.size = end
		}
	}
	now := in.fs.timeNow()
	in.mtime, in.ctime = now, now
	return nil
}

// allocateLocked gives every page of [off, end) storage, or fails with
// ENOSPC, allocating nothing, if the filesystem cannot hold them all.
//
// Preconditions: fs.mu is held; in is a regular file.
func (in *Inode) allocateLocked(off, end int64) error {
	first, last := off/PageSize, (end-1)/PageSize
	var missing int64
	for idx := first; idx <= last; idx++ {
		if _, ok := in.chunkBytes(idx); ok || in.pages[idx] != nil {
			continue
		}
		missing++
		if in.fs.usedBytes+missing*PageSize > in.fs.maxBytes {
			return unix.ENOSPC
		}
	}
	if missing == 0 {
		return nil
	}
	if in.pages == nil {
		in.pages = make(map[int64]*page)
	}
	for idx := first; idx <= last; idx++ {
		if _, ok := in.chunkBytes(idx); ok || in.pages[idx] != nil {
			continue
		}
		in.pages[idx] = new(page)
		in.fs.usedBytes += PageSize
	}
	return nil
}

// zeroLocked zeroes the file data in [off, end), within the file's size
// when punching, and with punch frees the pages the range covers whole.
// A range larger than the file's pages (a hole punched in a huge sparse
// file) visits only the pages that exist.
//
// Preconditions: fs.mu is held; in is a regular file.
func (in *Inode) zeroLocked(off, end int64, punch bool) {
	if punch {
		end = min(end, in.size)
	}
	if off >= end {
		return
	}
	first, last := off/PageSize, (end-1)/PageSize
	if last-first < int64(len(in.pages))+int64(len(in.shm))*pagesPerChunk {
		for idx := first; idx <= last; idx++ {
			in.zeroPageLocked(idx, off, end, punch)
		}
		return
	}
	for idx := range in.pages {
		if idx >= first && idx <= last {
			in.zeroPageLocked(idx, off, end, punch)
		}
	}
	for ci := range in.shm {
		for idx := max(ci*pagesPerChunk, first); idx < (ci+1)*pagesPerChunk && idx <= last; idx++ {
			in.zeroPageLocked(idx, off, end, punch)
		}
	}
}

// zeroPageLocked zeroes the part of page idx within [off, end), freeing
// the page with punch if the range covers it whole.
//
// Preconditions: fs.mu is held; in is a regular file.
func (in *Inode) zeroPageLocked(idx, off, end int64, punch bool) {
	lo, hi := max(off, idx*PageSize)-idx*PageSize, min(end, (idx+1)*PageSize)-idx*PageSize
	if b, ok := in.chunkBytes(idx); ok {
		clear(b[lo:hi])
	} else if pg := in.pages[idx]; pg != nil {
		if punch && lo == 0 && hi == PageSize {
			delete(in.pages, idx)
			in.fs.usedBytes -= PageSize
		} else {
			clear(pg[lo:hi])
		}
	}
}

var _ vfs.Allocator = (*File)(nil)
