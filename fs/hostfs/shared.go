package hostfs

// Shared mappings of host files (mmap MAP_SHARED of files on writable
// binds): a write-back cache in the memory file.
//
// The choice. A shared mapping could map the host file itself into the
// app's stub process, which would make it coherent with host processes
// too. moat does not: the stub would then hold a host file mapping, the
// sentry would need its own mapping of the host file to copy to and from
// app memory, and a host process truncating the file would turn each of
// those copies into a SIGBUS of the sentry itself; a checkpoint would
// also have to describe host mappings. Instead, as for everything else
// the app maps, the sentry owns the pages: the file's data is cached, in
// 256 KiB chunks, in the memory file (the platforms map those pages into
// every address space that maps the file), and written back to the host
// file with pwrite. What this costs: host processes see stores through a
// mapping only after a write-back, which happens on msync, fsync or
// fdatasync of the file, sync(2) or syncfs(2), munmap of a writable shared mapping, exit of the
// last process mapping it, and the closing of the file's last mapping or
// descriptor (Linux's page cache makes them visible at once); and changes
// the host makes to a file while the sandbox has it cached are not seen
// in the cached chunks.
//
// One cache per host inode (sharedFile), kept by the FS while some open
// file uses it (a mapping holds its file open), so that every mapping of
// the file in every process shares the same pages. While it exists, the
// sandbox's read(2) and write(2) of the file go through it too: write
// updates the host file and the cached chunks together (write-through),
// and read overlays the cached chunks, which may hold stores not yet
// written back, on what the host returns. So within the sandbox a store
// through one mapping is seen at once by every other mapping and by read,
// and write is seen by every mapping, as on Linux.
//
// Dirty pages: the app's mappings of the cache are read-only until a page
// is marked dirty (mm.WriteBack): the first store to a clean page faults,
// and the fault marks it and maps it writable; the sentry's own stores
// (a read(2) into the mapping) mark what they write. A write-back copies
// the dirty pages to the host. They stay dirty while the file is mapped
// anywhere (a page could only be cleaned by write-protecting it in every
// address space at once, which platforms cannot do from another process),
// so a write-back writes again every page stored to since the file was
// mapped; it never writes past the host file's current size (the tail of
// the last page stays in memory, as on Linux).
//
// Truncation through the sandbox (ftruncate, truncate, open with
// O_TRUNC) truncates the host file, takes the pages past the new end out
// of every address space (mm.Mappers.Truncated: an access there raises
// SIGBUS), and zeroes the cached data past the end, so that a file grown
// again reads zeros there. Chunks stay at their place in the memory file
// until the cache goes, so a mapping never refers to freed memory.
//
// Bounds: a chunk is cached only for offsets inside the file (mm faults
// past the end with SIGBUS before asking), and only when touched; the
// memory file's size bounds what all caches together hold (a fault that
// cannot get memory raises SIGBUS).
//
// Locks, outermost first: sharedFile.opMu (serializes write, truncation,
// fallocate and write-back), then mm's locks (MemoryManager.mu,
// Mappers.mu), then sharedFile.mu (the chunks and dirty bits; held across
// the host I/O that must be atomic with the cache: loading a chunk,
// write's pwrite, write-back's pwrite). sharedFiles.mu is a leaf.

import (
	"math/bits"
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"moat/memory"
	"moat/mm"
	"moat/platform"
)

const (
	// sharedChunk is the unit of the cache: a chunk of the file is read
	// from the host when a mapping first touches it. One dirty bit per
	// page fits a uint64.
	sharedChunk   = 256 << 10
	pagesPerChunk = sharedChunk / memory.PageSize
	pageSize      = memory.PageSize
)

// fileID identifies a host inode.
type fileID struct{ dev, ino uint64 }

// sharedFiles are the caches of a writable FS's files, by host inode.
type sharedFiles struct {
	n  atomic.Int32 // len(m), to skip the lock when there are none
	mu sync.Mutex
	m  map[fileID]*sharedFile
}

// sharedFile is the cache of one host file for shared mappings.
type sharedFile struct {
	fs   *FS
	id   fileID
	maps *mm.Mappers
	refs int // guarded by fs.shared.mu: attached files and calls in progress

	opMu sync.Mutex

	mu     sync.Mutex
	fd     int                          // a readable descriptor of the file (a dup), for loading
	wfd    int                          // a writable one, once a file opened for writing attached; -1 before
	chunks map[int64]platform.FileRange // by chunk index
	dirty  map[int64]uint64             // by chunk index: a bit per page
}

// SetMemoryFile gives a writable FS the memory file that holds the cached
// data of shared mappings of its files (without one, MAP_SHARED writable
// mappings of its files fail with ENODEV).
func (fs *FS) SetMemoryFile(mf *memory.File) { fs.mf = mf }

// getShared returns the cache of file id with a reference, creating it
// (from the descriptor fd of the file, dup'ed) if create is set; nil if
// there is none.
func (fs *FS) getShared(id fileID, fd int, writable, create bool) (*sharedFile, error) {
	if !create && fs.shared.n.Load() == 0 {
		return nil, nil
	}
	fs.shared.mu.Lock()
	defer fs.shared.mu.Unlock()
	sf := fs.shared.m[id]
	isNew := sf == nil
	if isNew {
		if !create {
			return nil, nil
		}
		dfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		sf = &sharedFile{fs: fs, id: id, fd: dfd, wfd: -1, chunks: map[int64]platform.FileRange{}, dirty: map[int64]uint64{}}
		sf.maps = mm.NewMappers(sf)
		if fs.shared.m == nil {
			fs.shared.m = make(map[fileID]*sharedFile)
		}
		fs.shared.m[id] = sf
		fs.shared.n.Add(1)
	}
	if create && writable {
		sf.mu.Lock()
		if sf.wfd < 0 {
			if dfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0); err == nil {
				sf.wfd = dfd
			} else {
				sf.mu.Unlock()
				if isNew { // nobody else knows it
					fs.dropSharedLocked(sf)
				}
				return nil, err
			}
		}
		sf.mu.Unlock()
	}
	sf.refs++
	return sf, nil
}

// put drops a reference; with the last one the cache is written back and
// freed.
func (sf *sharedFile) put() {
	fs := sf.fs
	fs.shared.mu.Lock()
	sf.refs--
	last := sf.refs == 0
	fs.shared.mu.Unlock()
	if !last {
		return
	}
	sf.WriteBack(false) // nothing maps it any more: no error can reach anyone
	fs.shared.mu.Lock()
	defer fs.shared.mu.Unlock()
	if sf.refs == 0 { // else taken again meanwhile
		fs.dropSharedLocked(sf)
	}
}

// dropSharedLocked forgets sf and frees its memory and descriptors.
//
// Preconditions: fs.shared.mu is held; nothing refers to sf.
func (fs *FS) dropSharedLocked(sf *sharedFile) {
	if fs.shared.m[sf.id] != sf {
		return // dropped already
	}
	delete(fs.shared.m, sf.id)
	fs.shared.n.Add(-1)
	sf.mu.Lock()
	defer sf.mu.Unlock()
	for _, fr := range sf.chunks {
		fs.mf.Free(fr)
	}
	sf.chunks, sf.dirty = nil, nil
	unix.Close(sf.fd)
	if sf.wfd >= 0 {
		unix.Close(sf.wfd)
	}
}

// CanShare reports whether the file can be mapped MAP_SHARED: files of a
// writable FS with a memory file can; others ENODEV (the caller maps
// read-only host files as private copies).
func (f *File) CanShare() error {
	if f.fs == nil || !f.fs.writable || f.fs.mf == nil {
		return unix.ENODEV
	}
	return nil
}

// attach returns the file's cache, making the file hold it.
func (f *File) attach() (*sharedFile, error) {
	if sf := f.sf.Load(); sf != nil {
		return sf, nil
	}
	if err := f.CanShare(); err != nil {
		return nil, err
	}
	f.attachMu.Lock()
	defer f.attachMu.Unlock()
	if sf := f.sf.Load(); sf != nil {
		return sf, nil
	}
	sf, err := f.fs.getShared(fileID{f.dev, f.ino}, f.fd, f.writable, true)
	if err != nil {
		return nil, err
	}
	f.sf.Store(sf)
	return sf, nil
}

// shared returns the cache of the file, if there is one, with a
// reference the caller drops with put.
func (f *File) shared() *sharedFile {
	if f.fs == nil || !f.fs.writable {
		return nil
	}
	if sf := f.sf.Load(); sf != nil {
		f.fs.shared.mu.Lock()
		sf.refs++
		f.fs.shared.mu.Unlock()
		return sf
	}
	sf, _ := f.fs.getShared(fileID{f.dev, f.ino}, -1, false, false)
	return sf
}

// Mappers implements the reverse map of mappings (mm.Mappers) for files
// that can be mapped shared; the file holds the cache from then on. Nil
// for others.
func (f *File) Mappers() *mm.Mappers {
	sf, err := f.attach()
	if err != nil {
		return nil
	}
	return sf.maps
}

// SharedChunk implements mm.SharedMappable: the memory-file range that
// caches the chunk of the file around off, read from the host on first
// use, and the file offset where it starts.
func (f *File) SharedChunk(off int64) (platform.FileRange, int64, error) {
	sf, err := f.attach()
	if err != nil {
		return platform.FileRange{}, 0, err
	}
	if off < 0 {
		return platform.FileRange{}, 0, unix.EINVAL
	}
	c := off / sharedChunk
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if fr, ok := sf.chunks[c]; ok {
		return fr, c * sharedChunk, nil
	}
	if sf.chunks == nil {
		return platform.FileRange{}, 0, unix.EBADF // freed: cannot happen while mapped
	}
	mf := sf.fs.mf
	fr, err := mf.Allocate(sharedChunk)
	if err != nil {
		return platform.FileRange{}, 0, unix.ENOMEM
	}
	if err := preadFull(sf.fd, mf.Bytes(fr), c*sharedChunk); err != nil {
		mf.Free(fr)
		return platform.FileRange{}, 0, err
	}
	sf.chunks[c] = fr
	return fr, c * sharedChunk, nil
}

// preadFull reads dst from fd at off, up to end of file (the rest of dst
// stays as it was: zero).
func preadFull(fd int, dst []byte, off int64) error {
	for done := 0; done < len(dst); {
		n, err := unix.Pread(fd, dst[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		done += n
	}
	return nil
}

// pwriteAll writes src to fd at off; it returns how much was written and
// the host's error if that is not all.
func pwriteAll(fd int, src []byte, off int64) (int, error) {
	done := 0
	for done < len(src) {
		n, err := unix.Pwrite(fd, src[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		if n == 0 {
			break
		}
		done += n
	}
	return done, nil
}

// MarkDirty implements mm.WriteBack.
func (sf *sharedFile) MarkDirty(off, end int64) {
	if off < 0 || end <= off {
		return
	}
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if sf.dirty == nil {
		return
	}
	for p := off / pageSize; p*pageSize < end; p++ {
		sf.dirty[p/pagesPerChunk] |= 1 << (p % pagesPerChunk)
	}
}

// each calls fn for the parts of the file's bytes [off, end) that are
// cached, with the cached bytes and their file offset.
//
// Preconditions: sf.mu is held.
func (sf *sharedFile) each(off, end int64, fn func(b []byte, at int64)) {
	if end <= off {
		return
	}
	if int64(len(sf.chunks)) < (end-off)/sharedChunk+1 { // few chunks: visit those
		for c, fr := range sf.chunks {
			cs := c * sharedChunk
			if lo, hi := max(cs, off), min(cs+sharedChunk, end); lo < hi {
				fn(sf.fs.mf.Bytes(fr)[lo-cs:hi-cs], lo)
			}
		}
		return
	}
	for c := off / sharedChunk; c*sharedChunk < end; c++ {
		fr, ok := sf.chunks[c]
		if !ok {
			continue
		}
		cs := c * sharedChunk
		lo, hi := max(cs, off), min(cs+sharedChunk, end)
		fn(sf.fs.mf.Bytes(fr)[lo-cs:hi-cs], lo)
	}
}

// read overlays the cached data on dst, which the host returned for off.
func (sf *sharedFile) read(dst []byte, off int64) {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	sf.each(off, off+int64(len(dst)), func(b []byte, at int64) { copy(dst[at-off:], b) })
}

// write writes src at off to the host file (fd) and the cache together.
func (sf *sharedFile) write(fd int, src []byte, off int64) (int, error) {
	sf.opMu.Lock()
	defer sf.opMu.Unlock()
	sf.mu.Lock()
	defer sf.mu.Unlock()
	n, err := pwriteAll(fd, src, off)
	sf.each(off, off+int64(n), func(b []byte, at int64) { copy(b, src[at-off:]) })
	return n, err
}

// zeroLocked zeroes the cached bytes [off, end): whole pages go back to
// the host and lose their dirty bits (there is nothing to write back of
// them), parts of pages are cleared.
//
// Preconditions: sf.mu is held.
func (sf *sharedFile) zeroLocked(off, end int64) {
	sf.each(off, end, func(b []byte, at int64) {
		lo := (at + pageSize - 1) &^ (pageSize - 1)
		hi := (at + int64(len(b))) &^ (pageSize - 1)
		if lo >= hi {
			clear(b)
			return
		}
		clear(b[:lo-at])
		clear(b[hi-at:])
		c := at / sharedChunk
		fr := sf.chunks[c]
		sf.fs.mf.Decommit(platform.FileRange{Offset: fr.Offset + (lo - c*sharedChunk), Length: uintptr(hi - lo)})
		for p := lo / pageSize; p < hi/pageSize; p++ {
			sf.dirty[c] &^= 1 << (p % pagesPerChunk)
		}
		if sf.dirty[c] == 0 {
			delete(sf.dirty, c)
		}
	})
}

// truncate sets the size of the file (fd, open for writing) to size.
func (sf *sharedFile) truncate(fd int, size int64) error {
	sf.opMu.Lock()
	defer sf.opMu.Unlock()
	sf.mu.Lock()
	st, err := fstat(fd)
	if err == nil {
		err = ftruncate(fd, size)
	}
	sf.mu.Unlock()
	if err != nil {
		return err
	}
	old := st.Size
	if size < old {
		// Faults now see the new size; take what lies past it out of
		// the address spaces, then clear it (a store that came in
		// before is cleared too).
		sf.maps.Truncated(size)
	}
	sf.mu.Lock()
	defer sf.mu.Unlock()
	// Past the end the cache holds zeros, except for stores to the tail
	// of the last page: a file grown again reads zeros there.
	sf.zeroLocked(min(size, old), (old+pageSize-1)&^(pageSize-1))
	return nil
}

// allocate is fallocate(2) on the file (fd, open for writing) with the
// cache kept in step: a hole punched or zeroed reads zeros in every
// mapping; collapsing or inserting a range moves data, so the dirty pages
// are written back first and the cache is read again after.
func (sf *sharedFile) allocate(fd int, mode uint32, off, n int64) error {
	sf.opMu.Lock()
	defer sf.opMu.Unlock()
	moves := mode&(unix.FALLOC_FL_COLLAPSE_RANGE|unix.FALLOC_FL_INSERT_RANGE) != 0
	if moves {
		if err := sf.writeBackLocked(false); err != nil {
			return err
		}
	}
	sf.mu.Lock()
	st, err := fstat(fd)
	for err == nil {
		err = unix.Fallocate(fd, mode, off, n)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		sf.mu.Unlock()
		return err
	}
	switch {
	case moves:
		for c, fr := range sf.chunks {
			b := sf.fs.mf.Bytes(fr)
			clear(b)
			preadFull(sf.fd, b, c*sharedChunk)
		}
		clear(sf.dirty)
	case mode&(unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_ZERO_RANGE) != 0 && off+n > off:
		sf.zeroLocked(off, off+n)
	}
	sf.mu.Unlock()
	if moves {
		if nst, err := fstat(fd); err == nil && nst.Size < st.Size {
			sf.maps.Truncated(nst.Size)
		}
	}
	return nil
}

// WriteBack implements mm.WriteBack: the dirty pages reach the host file
// (with sync, its storage too).
func (sf *sharedFile) WriteBack(sync bool) error {
	sf.opMu.Lock()
	defer sf.opMu.Unlock()
	return sf.writeBackLocked(sync)
}

// writeBackLocked is WriteBack.
//
// Preconditions: sf.opMu is held.
func (sf *sharedFile) writeBackLocked(sync bool) error {
	sf.mu.Lock()
	err := sf.copyOutLocked()
	wfd := sf.wfd
	sf.mu.Unlock()
	if err == nil && sync && wfd >= 0 {
		err = fdatasync(wfd)
	}
	return err
}

// copyOutLocked writes the dirty cached pages to the host file, up to its
// size. Pages stay dirty while any address space maps the file: a store
// through a writable mapping would not fault again to say so.
//
// Preconditions: sf.mu is held.
func (sf *sharedFile) copyOutLocked() error {
	if len(sf.dirty) == 0 {
		return nil
	}
	if sf.wfd < 0 {
		return unix.EBADF // cannot be: dirty pages come from a writable mapping, of a file open for writing
	}
	st, err := fstat(sf.wfd)
	if err != nil {
		return err
	}
	cs := make([]int64, 0, len(sf.dirty))
	for c := range sf.dirty {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i] < cs[j] })
	for _, c := range cs {
		fr, ok := sf.chunks[c]
		if !ok {
			continue
		}
		b := sf.fs.mf.Bytes(fr)
		base := c * sharedChunk
		for bm := sf.dirty[c]; bm != 0; {
			lo := bits.TrailingZeros64(bm)
			n := bits.TrailingZeros64(^(bm >> lo)) // the run of dirty pages at lo
			from := base + int64(lo)*pageSize
			to := min(from+int64(n)*pageSize, st.Size)
			if from < to {
				if _, err := pwriteAll(sf.wfd, b[from-base:to-base], from); err != nil {
					return err
				}
			}
			if lo+n >= 64 {
				break
			}
			bm &^= (1<<n - 1) << lo
		}
	}
	if !sf.maps.Mapped() {
		clear(sf.dirty)
	}
	return nil
}

func fdatasync(fd int) error {
	for {
		err := unix.Fdatasync(fd)
		if err != unix.EINTR {
			return err
		}
	}
}

// Sync writes back the dirty pages of every shared mapping of the FS's
// files (the sandbox is ending, or syncfs(2)), and returns the first
// error.
func (fs *FS) Sync() error {
	fs.shared.mu.Lock()
	var sfs []*sharedFile
	for _, sf := range fs.shared.m {
		sf.refs++
		sfs = append(sfs, sf)
	}
	fs.shared.mu.Unlock()
	var first error
	for _, sf := range sfs {
		if err := sf.WriteBack(false); err != nil && first == nil {
			first = err
		}
		sf.put()
	}
	return first
}

// SyncFS is Sync for syncfs(2) of a file of the FS.
func (in *Inode) SyncFS() error { return in.fs.Sync() }
