package mm

import (
	"container/list"
	"errors"
	"sync"

	"moat/memory"
	"moat/platform"
)

// The file cache: private mappings of files whose content cannot change
// under the same identity (host files, CachedFile) share one copy of each
// chunk of the file in the memory file, copy-on-write, instead of reading
// it again for every mapping, as Linux's page cache serves every mapping
// of a file. A process that execs busybox maps the pages the last one
// read. The cache holds a reference on each chunk it keeps, and drops the
// least recently used ones beyond maxCacheBytes; mappings keep theirs.
// A chunk is read without the cache's lock held: others that want it
// meanwhile wait for it, the rest of the cache serves on.
//
// Lock order: fileCache.mu is taken with MemoryManager.mu held, before
// memory.File's lock.

// CachedFile is implemented by MappableFiles whose content is identified by
// a key that changes whenever the content may (a host file's device,
// inode, size and change times): their private mappings share cached
// chunks. ok is false for files that cannot promise it.
type CachedFile interface {
	ContentKey() (key any, ok bool)
}

// maxCacheBytes bounds what the cache keeps beyond what mappings use.
const maxCacheBytes = 256 << 20

type cacheKey struct {
	file  any
	chunk int64 // file offset / fileChunk
}

type cacheEntry struct {
	key cacheKey
	fr  platform.FileRange
	lru *list.Element // nil while loading
	// loading is closed when the chunk has been read (or failed: then
	// the entry is gone from the map); nil once loaded.
	loading chan struct{}
}

type fileCache struct {
	mu      sync.Mutex
	mf      *memory.File
	entries map[cacheKey]*cacheEntry
	lru     *list.List // front: most recently used; loaded entries only
	bytes   int64      // of loaded entries
}

var caches sync.Map // *memory.File -> *fileCache

func cacheOf(mf *memory.File) *fileCache {
	if c, ok := caches.Load(mf); ok {
		return c.(*fileCache)
	}
	c, _ := caches.LoadOrStore(mf, &fileCache{mf: mf, entries: make(map[cacheKey]*cacheEntry), lru: list.New()})
	return c.(*fileCache)
}

// chunk returns the memory-file range holding chunk c of the file with
// content key, reading it with read on a miss; with read nil, a miss
// returns errNotCached. The range stays valid as long as the caller holds
// a reference on the pages it uses (it must IncRef them before the cache
// could drop them: under the cache lock).
func (fc *fileCache) chunk(key any, c int64, read func(fr platform.FileRange, off int64) error, use func(fr platform.FileRange) error) error {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	k := cacheKey{key, c}
	for {
		e, ok := fc.entries[k]
		if !ok {
			break
		}
		if e.loading == nil {
			fc.lru.MoveToFront(e.lru)
			return use(e.fr)
		}
		if read == nil {
			return errNotCached // not yet
		}
		// The channel, not the field: the loader sets the field to nil,
		// under the lock, as it closes the channel; read after the
		// unlock, the field may be nil, and a receive from nil blocks
		// for ever.
		loading := e.loading
		fc.mu.Unlock()
		<-loading
		fc.mu.Lock()
	}
	if read == nil {
		return errNotCached
	}
	fr, err := fc.mf.Allocate(fileChunk)
	if err != nil {
		return err
	}
	e := &cacheEntry{key: k, fr: fr, loading: make(chan struct{})}
	fc.entries[k] = e
	fc.mu.Unlock()
	err = read(fr, c*fileChunk)
	fc.mu.Lock()
	close(e.loading)
	e.loading = nil
	if err != nil {
		delete(fc.entries, k)
		fc.mf.Free(fr)
		return err
	}
	e.lru = fc.lru.PushFront(e)
	fc.bytes += int64(fr.Length)
	for fc.bytes > maxCacheBytes {
		old := fc.lru.Back().Value.(*cacheEntry)
		fc.dropLocked(old)
	}
	return use(fr)
}

// Preconditions: fc.mu is held; e is loaded.
func (fc *fileCache) dropLocked(e *cacheEntry) {
	fc.lru.Remove(e.lru)
	delete(fc.entries, e.key)
	fc.bytes -= int64(e.fr.Length)
	fc.mf.DecRef(e.fr)
}

// DropFileCache empties the file cache of mf (tests; memory pressure).
func DropFileCache(mf *memory.File) {
	fc := cacheOf(mf)
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, e := range fc.entries {
		if e.loading == nil {
			fc.dropLocked(e)
		}
	}
}

// Prefetch reads up to length bytes of f from its start into the file
// cache of mf, in the background, if f is a CachedFile, and returns a
// channel closed when it is done. A sandbox's first program is read this
// way while the platform starts its address space (about a millisecond of
// ptrace set-up for the seccomp platform's zygote), instead of fault by
// fault once it runs: start and exit of /bin/busybox true 8.7 -> 7.9 ms,
// python3's start 52.6 -> 49.9 ms (medians of 25 and 15 interleaved runs).
func Prefetch(mf *memory.File, f MappableFile, length int64) <-chan struct{} {
	key, ok := contentKey(f)
	if !ok {
		done := make(chan struct{})
		close(done)
		return done
	}
	return prefetchKeyed(mf, f, key, 0, length)
}

// prefetchKeyed reads the chunks of f, whose content key is key, that
// hold [off, end) into the file cache of mf, in the background unless
// the cache holds them all already, and returns a channel closed when it
// is done.
func prefetchKeyed(mf *memory.File, f MappableFile, key any, off, end int64) <-chan struct{} {
	done := make(chan struct{})
	_, _, _, size := f.MapInfo()
	end = min(end, size)
	fc := cacheOf(mf)
	first, last := off/fileChunk, (end+fileChunk-1)/fileChunk // chunks [first, last)
	if off >= end || fc.holds(key, first, last) {
		close(done)
		return done
	}
	incRef(f)
	go func() {
		defer close(done)
		defer decRef(f)
		read := fileReader(mf, f)
		keep := func(platform.FileRange) error { return nil } // the cache's own reference
		for c := first; c < last; c++ {
			if fc.chunk(key, c, read, keep) != nil {
				return
			}
		}
	}()
	return done
}

// holds reports whether the cache has chunks [first, last) of the file
// with content key, loaded or being loaded.
func (fc *fileCache) holds(key any, first, last int64) bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for c := first; c < last; c++ {
		if _, ok := fc.entries[cacheKey{key, c}]; !ok {
			return false
		}
	}
	return true
}

// Prefetch is the package's Prefetch into m's memory file, unless m's
// address space will map f directly (hostmap.go).
func (m *MemoryManager) Prefetch(f MappableFile, length int64) <-chan struct{} {
	if m.mapsHost(f) {
		done := make(chan struct{})
		close(done)
		return done
	}
	return Prefetch(m.mf, f, length)
}

// contentKey returns f's content key if it is a CachedFile that has one.
func contentKey(f MappableFile) (any, bool) {
	if cf, ok := f.(CachedFile); ok {
		return cf.ContentKey()
	}
	return nil, false
}

// vmaKey returns the content key of v's file if v is a private mapping
// of a file whose chunks the cache shares (a host fstat, for host files).
func vmaKey(v *vma) (any, bool) {
	if v.file == nil || !v.private {
		return nil, false
	}
	return contentKey(v.file)
}

// fileReader returns the cache's read function for chunks of f: a short
// read leaves zeros.
func fileReader(mf *memory.File, f MappableFile) func(fr platform.FileRange, off int64) error {
	return func(fr platform.FileRange, off int64) error {
		mf.ReadFrom(fr, f, off)
		return nil
	}
}

// errNotCached: the chunk is not in the cache (chunk without read).
var errNotCached = errors.New("not cached")

// backCached backs the gaps of [start, end) in v, a private mapping of a
// CachedFile, with the cache's chunks, copy-on-write. With onlyCached it
// reads nothing: gaps whose chunk the cache does not hold stay gaps, and
// it returns the ranges it backed (adjacent ones merged).
//
// Preconditions: mm.mu is held; v.file is a CachedFile with key.
func (mm *MemoryManager) backCached(v *vma, key any, start, end uintptr, onlyCached bool) (backed []addrRange, err error) {
	fc := cacheOf(mm.mf)
	read := fileReader(mm.mf, v.file)
	if onlyCached {
		read = nil
	}
	err = mm.fillGaps(start, end, func(cur, gapEnd uintptr) (pma, uintptr, error) {
		off := v.off + int64(cur-v.start)
		c := off / fileChunk
		pieceEnd := min(gapEnd, cur+uintptr((c+1)*fileChunk-off))
		var p pma
		err := fc.chunk(key, c, read, func(fr platform.FileRange) error {
			piece := platform.FileRange{Offset: fr.Offset + (off - c*fileChunk), Length: pieceEnd - cur}
			mm.mf.IncRef(piece) // under the cache's lock
			p = pma{start: cur, end: pieceEnd, off: piece.Offset, cow: true}
			return nil
		})
		if err == errNotCached {
			return pma{}, pieceEnd, nil // stays a gap
		}
		if err != nil {
			return pma{}, 0, err
		}
		if n := len(backed); n > 0 && backed[n-1].end == cur {
			backed[n-1].end = pieceEnd
		} else if onlyCached {
			backed = append(backed, addrRange{cur, pieceEnd})
		}
		return p, pieceEnd, nil
	})
	if err != nil {
		return nil, err
	}
	return backed, nil
}

// premapCached maps, ahead of use, the pages of [start, end) in v that
// the file cache holds, if v is a private mapping of a CachedFile that
// the app may access: a process that maps a library some process has
// used already (every exec of a dynamic program maps the same libc) then
// does not fault on it page chunk by page chunk, each fault a round trip
// through the sentry. Nothing is read: chunks not cached are left to
// faults. Mapping is cheap where the platform queues it (seccomp, one
// thread); elsewhere a map costs about what a fault does, so at most
// premapMax bytes are mapped per call.
//
// Preconditions: mm.mu is held; start lies in v (end is clipped to it);
// key is vmaKey(v).
func (mm *MemoryManager) premapCached(v *vma, key any, start, end uintptr) error {
	if v.perms == platform.NoAccess {
		return nil
	}
	if hf := mm.hostFileOf(v, key); hf != nil {
		return mm.premapHost(v, hf, start)
	}
	end = min(end, v.limit(), start+premapMax)
	if start >= end {
		return nil
	}
	backed, err := mm.backCached(v, key, start, end, true)
	if err != nil {
		return err
	}
	for _, r := range backed {
		if err := mm.mapBacked(v, r.start, r.end, false); err != nil {
			return err
		}
	}
	return nil
}
