package memfs

import (
	"golang.org/x/sys/unix"

	"moat/platform"
)

// Shared file mappings (mmap MAP_SHARED). A file's data normally lives in
// pages of the sentry's heap. When a shared mapping first touches a chunk
// of the file, that chunk moves into the memory file (Options.MemFile),
// which platforms map into address spaces: from then on the mappings, and
// read(2) and write(2) of that chunk, all use the same memory, so a store
// through one mapping is seen by every other mapping and by read at once,
// as with Linux's page cache. A chunk stays in the memory file, at the
// same place, until the inode is gone (mappings hold the file open), so
// mappings never go stale; truncation zeroes what lies past the new end.

// shmChunk is the size of the pieces of a file that move into the memory
// file.
const shmChunk = 64 << 10

const pagesPerChunk = shmChunk / PageSize

// chunkBytes returns the memory-file bytes of page idx if its chunk lives
// there.
//
// Preconditions: fs.mu is held.
func (in *Inode) chunkBytes(idx int64) ([]byte, bool) {
	fr, ok := in.shm[idx/pagesPerChunk]
	if !ok {
		return nil, false
	}
	b := in.fs.mf.Bytes(fr)
	o := (idx % pagesPerChunk) * PageSize
	return b[o : o+PageSize], true
}

// SharedChunk returns the memory-file range holding the aligned chunk of
// the file around offset off, moving the chunk there first, and the file
// offset where the range starts. It fails with ENODEV if the filesystem
// has no memory file, ENOMEM if the memory file is full, and ENOSPC if the
// filesystem is.
func (f *File) SharedChunk(off int64) (platform.FileRange, int64, error) {
	in := f.in
	fs := in.fs
	if fs.mf == nil {
		return platform.FileRange{}, 0, unix.ENODEV
	}
	if off < 0 || off >= maxFileSize {
		return platform.FileRange{}, 0, unix.EINVAL
	}
	c := off / shmChunk
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fr, ok := in.shm[c]; ok {
		return fr, c * shmChunk, nil
	}
	// The chunk's heap pages move into it; the rest of it is charged.
	moved := int64(0)
	for i := int64(0); i < pagesPerChunk; i++ {
		if in.pages[c*pagesPerChunk+i] != nil {
			moved++
		}
	}
	extra := (pagesPerChunk - moved) * PageSize
	if fs.usedBytes+extra > fs.maxBytes {
		return platform.FileRange{}, 0, unix.ENOSPC
	}
	fr, err := fs.mf.Allocate(shmChunk)
	if err != nil {
		return platform.FileRange{}, 0, unix.ENOMEM
	}
	b := fs.mf.Bytes(fr)
	for i := int64(0); i < pagesPerChunk; i++ {
		idx := c*pagesPerChunk + i
		if pg := in.pages[idx]; pg != nil {
			copy(b[i*PageSize:], pg[:])
			delete(in.pages, idx)
		}
	}
	fs.usedBytes += extra // the moved pages were charged already
	if in.shm == nil {
		in.shm = make(map[int64]platform.FileRange)
	}
	in.shm[c] = fr
	return fr, c * shmChunk, nil
}

// truncateShmLocked zeroes the memory-file chunks past size.
//
// Preconditions: fs.mu is held.
func (in *Inode) truncateShmLocked(size int64) {
	for c, fr := range in.shm {
		start := c * shmChunk
		switch {
		case start >= size:
			in.fs.mf.Decommit(fr)
		case start+shmChunk > size:
			clear(in.fs.mf.Bytes(fr)[size-start:])
		}
	}
}

// freeShmLocked returns the inode's chunks to the memory file.
//
// Preconditions: fs.mu is held.
func (in *Inode) freeShmLocked() {
	for _, fr := range in.shm {
		in.fs.mf.Free(fr)
		in.fs.usedBytes -= shmChunk
	}
	in.shm = nil
}
