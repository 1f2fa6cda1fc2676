// Package mm implements app address spaces: one MemoryManager per address
// space holds its virtual memory areas (VMAs: what the app asked for with
// mmap, brk and the loader), its backing (pmas: which memory-file pages
// hold which addresses), and the platform address space the app runs in.
//
// Pages get backing on first use — an app fault or a copy from a system
// call — in large aligned chunks so that faults stay rare; small mappings
// get theirs at mmap (backEagerly), and a copy maps what it backs. Private
// file mappings are copies of the file's data in the memory file, read
// into the file cache ahead of use, in the background (a program's and a
// library's text) — except, where the platform maps host files itself,
// those of the sandbox's read-only host files: their pages are the host
// file's, mapped never writable, and copied before the app may write
// them (hostmap.go).
//
// Every address from the app is hostile: copy-in and copy-out check it
// against the VMAs and fail with EFAULT, never touching memory the app does
// not own.
//
// Lock order: MemoryManager.mu, then memory.File's lock.
package mm

import (
	"reflect"
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"moat/memory"
	"moat/platform"
)

const (
	pageSize = memory.PageSize

	// minAddr is the lowest address mmap picks by itself
	// (vm.mmap_min_addr).
	minAddr = 0x10000
	// minFixedAddr is the lowest address a MAP_FIXED mapping may use: the
	// sandbox's root may map below mmap_min_addr, as root with
	// CAP_SYS_RAWIO may on Linux, but never page zero.
	minFixedAddr = pageSize

	// maxMapCount bounds the number of VMAs (vm.max_map_count).
	maxMapCount = 65530

	// anonChunk and fileChunk are the fault granularities: a fault backs
	// and maps the aligned chunk around it. Anonymous chunks cost no host
	// memory until touched (the memory file is sparse); file chunks are
	// read from the file, so they are smaller.
	anonChunk = 2 << 20
	fileChunk = 256 << 10

	// cowChunk is the granularity of copy-on-write copies: a write to
	// memory shared since a fork copies the aligned piece around it.
	cowChunk = 64 << 10

	// premapMax bounds what one mmap or fault maps ahead of use
	// (premapCached), and remapMax the backing pieces an mprotect maps
	// again with the new permissions (one platform map each).
	premapMax = 4 << 20
	remapMax  = 64

	// stackChunk is what a fault in a stack backs: the pages below it,
	// where the stack grows next.
	stackChunk = 64 << 10
)

// addrRange is a range of app addresses, [start, end).
type addrRange struct{ start, end uintptr }

// MappableFile is a file the app maps: the memory manager copies its data
// into private pages on demand. Adjacent mappings of one file merge only
// if its dynamic type is comparable (a pointer, typically).
type MappableFile interface {
	// ReadAt reads like io.ReaderAt: fewer bytes than asked mean end of
	// file.
	ReadAt(dst []byte, off int64) (int, error)
	// MapInfo describes the file for /proc/PID/maps and bounds the
	// mapping: pages wholly beyond size fault with SIGBUS.
	MapInfo() (name string, dev, ino uint64, size int64)
}

// SharedMappable is implemented by MappableFiles that can be mapped
// MAP_SHARED: SharedChunk returns the memory-file range that holds the
// file's data around offset off (the file's own memory, which read and
// write use too) and the file offset where that range starts. The range
// stays valid while the file is open.
type SharedMappable interface {
	SharedChunk(off int64) (platform.FileRange, int64, error)
}

// RefCounted is implemented by MappableFiles that hold resources: each
// VMA mapping the file holds a reference.
type RefCounted interface {
	IncRef()
	DecRef()
}

func incRef(f MappableFile) {
	if r, ok := f.(RefCounted); ok {
		r.IncRef()
	}
}

func decRef(f MappableFile) {
	if r, ok := f.(RefCounted); ok {
		r.DecRef()
	}
}

// vma is one virtual memory area.
type vma struct {
	start, end uintptr
	perms      platform.AccessType
	maxPerms   platform.AccessType // what mprotect may grant
	private    bool
	growsDown  bool
	noReserve  bool         // MAP_NORESERVE: not charged against the commit limit
	file       MappableFile // nil for anonymous memory
	off        int64        // file offset of start
	name       string       // "[heap]", "[stack]", or "" (file name comes from file)
	maps       *Mappers     // the file's reverse map, if it has one
}

// limit returns the end of the part of v that the app can touch: v.end,
// or for a file mapping the end of the file's last page, past which
// accesses fault with SIGBUS.
func (v *vma) limit() uintptr {
	if v.file == nil {
		return v.end
	}
	_, _, _, size := v.file.MapInfo()
	fileEnd := (max(size, 0) + pageSize - 1) &^ (pageSize - 1)
	if fileEnd <= v.off {
		return v.start
	}
	if avail := uint64(fileEnd - v.off); avail < uint64(v.end-v.start) {
		return v.start + uintptr(avail)
	}
	return v.end
}

// pma is backing: the addresses [start, end) live at off in the memory
// file. Private backing holds a reference on its memory-file pages; with
// cow set, the pages may also be another address space's (fork shares
// them copy-on-write), so they are mapped read-only and copied before a
// write unless the other references have gone meanwhile. Shared backing
// (MAP_SHARED anonymous memory, kept across fork) belongs to a sharedMem
// that every pma referring to it holds a reference on.
type pma struct {
	start, end uintptr
	off        int64
	cow        bool
	shared     *sharedMem
	// fileShared: the pages are a MAP_SHARED file's own memory
	// (SharedMappable), which the file owns and frees.
	fileShared bool
	// host: the pages are the host file's, mapped directly, and off is
	// the file offset (hostmap.go). cow is always set: they are copied
	// into the memory file before a write.
	host *platform.HostFile
}

// isShared reports whether p's pages are shared memory (anonymous or a
// file's) rather than this address space's private pages.
func (p *pma) isShared() bool { return p.shared != nil || p.fileShared }

// fileRange returns the memory-file pages of p.
func (p *pma) fileRange() platform.FileRange {
	return platform.FileRange{Offset: p.off, Length: p.end - p.start}
}

// mapPerms returns the permissions the app's mapping of p gets in a VMA
// with perms: no write while the pages may be shared copy-on-write.
func (p *pma) mapPerms(perms platform.AccessType) platform.AccessType {
	if p.cow {
		perms.Write = false
	}
	return perms
}

// sharedMem is the backing of a shared anonymous mapping, freed when the
// last pma referring to it (in any address space) goes.
type sharedMem struct {
	fr   platform.FileRange
	refs atomic.Int64
}

// release drops p's hold on its backing: private pages lose a reference
// (and are freed with their last), shared memory loses a reference.
func (mm *MemoryManager) release(p pma) {
	switch {
	case p.fileShared, p.host != nil:
		// The file's memory: the file frees it; or the host's.
	case p.shared == nil:
		mm.mf.DecRef(p.fileRange())
	case p.shared.refs.Add(-1) == 0:
		mm.mf.Free(p.shared.fr)
	}
}

// SharedOffset returns where addr lives in the memory file if it is in
// shared memory (a MAP_SHARED anonymous mapping). The offset is the same in
// every address space that maps that memory, so shared futexes are keyed
// on it.
func (mm *MemoryManager) SharedOffset(addr uintptr) (int64, bool) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	i := mm.pmaIndex(addr)
	if i == len(mm.pmas) || mm.pmas[i].start > addr || !mm.pmas[i].isShared() {
		return 0, false
	}
	p := mm.pmas[i]
	return p.off + int64(addr-p.start), true
}

// RangeMapped reports whether VMAs cover all of [addr, end).
func (mm *MemoryManager) RangeMapped(addr, end uintptr) bool {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	cur := addr
	for i := mm.vmaIndex(addr); cur < end; i++ {
		if i == len(mm.vmas) || mm.vmas[i].start > cur {
			return false
		}
		cur = mm.vmas[i].end
	}
	return true
}

// Mapped reports whether a VMA covers addr.
func (mm *MemoryManager) Mapped(addr uintptr) bool {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	return mm.lookupVMA(addr) != nil
}

// MemoryManager is one app address space.
type MemoryManager struct {
	mf *memory.File

	mu       sync.Mutex
	as       platform.AddressSpace
	maxAddr  uintptr
	vmas     []*vma // sorted, non-overlapping
	pmas     []pma  // sorted, non-overlapping, each within one vma
	mmapBase uintptr
	brkStart uintptr
	brk      uintptr

	// stackLimit bounds how far the stack VMA grows down (RLIMIT_STACK).
	stackLimit uintptr

	// Where the loader put argv and envp, for /proc/PID/cmdline, environ.
	argStart, argEnd, envStart, envEnd uintptr

	// patch holds the rewritten system-call sites (patch.go).
	patch *patches

	// dropped holds the files of VMAs removed under mu, let go by
	// unlock once mu is released (mappers.go).
	dropped []dropped

	// pending are truncations of mapped files to apply (mappers.go);
	// hasPending is set while there are some.
	pending    []pendingCut
	hasPending atomic.Bool
}

// New returns an empty memory manager running in as, whose user range ends
// at maxAddr.
func New(mf *memory.File, as platform.AddressSpace, maxAddr uintptr) *MemoryManager {
	return &MemoryManager{mf: mf, as: as, maxAddr: maxAddr, mmapBase: maxAddr, stackLimit: 8 << 20}
}

// AddressSpace returns the platform address space (nil once released, or
// before a forked copy has one). Other tasks read it (to kill or kick), so
// it is read under the lock.
func (mm *MemoryManager) AddressSpace() platform.AddressSpace {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	return mm.as
}

// MaxAddr returns the end of the app's address range.
func (mm *MemoryManager) MaxAddr() uintptr { return mm.maxAddr }

// SetLayout records where mmap allocations start (top-down from base) and
// where brk starts.
func (mm *MemoryManager) SetLayout(mmapBase, brkStart uintptr) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.mmapBase = mmapBase
	mm.brkStart, mm.brk = brkStart, brkStart
}

// SetStackLimit sets how far the stack may grow (RLIMIT_STACK).
func (mm *MemoryManager) SetStackLimit(n uintptr) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.stackLimit = n
}

// SetArgs records the argv and envp string areas.
func (mm *MemoryManager) SetArgs(argStart, argEnd, envStart, envEnd uintptr) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.argStart, mm.argEnd, mm.envStart, mm.envEnd = argStart, argEnd, envStart, envEnd
}

// ArgRange and EnvRange return the argv and envp string areas.
func (mm *MemoryManager) ArgRange() (uintptr, uintptr) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	return mm.argStart, mm.argEnd
}

// EnvRange returns the envp string area.
func (mm *MemoryManager) EnvRange() (uintptr, uintptr) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	return mm.envStart, mm.envEnd
}

// Release frees all memory and destroys the platform address space.
func (mm *MemoryManager) Release() {
	if as := mm.Detach(); as != nil {
		as.Release()
	}
}

// Detach frees all memory as Release does, but leaves the platform address
// space to the caller instead of destroying it, and returns it (nil if
// none): the caller empties it for a new program (platform.Recycler).
func (mm *MemoryManager) Detach() platform.AddressSpace {
	mm.mu.Lock()
	defer mm.unlock()
	for _, p := range mm.pmas {
		mm.release(p)
	}
	vmas := mm.vmas
	as := mm.as
	mm.pmas, mm.vmas, mm.as = nil, nil, nil
	for _, v := range vmas {
		mm.dropVMA(v)
	}
	if _, ok := as.(detached); ok {
		return nil
	}
	return as
}

// NewDetached returns a memory manager whose mappings reach no platform
// address space until Attach gives it one: a program can be loaded into it
// while the address space it will run in still runs the old one (execve).
func NewDetached(mf *memory.File, maxAddr uintptr) *MemoryManager {
	return New(mf, detached{}, maxAddr)
}

// Attach gives a memory manager made by NewDetached its platform address
// space, empty, and maps into it everything backed so far (what the loader
// wrote, and file pages the cache held).
func (mm *MemoryManager) Attach(as platform.AddressSpace) error {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.as = as
	for _, v := range mm.vmas {
		if err := mm.mapBacked(v, v.start, v.end, false); err != nil {
			return err
		}
	}
	return nil
}

// detached stands for the platform address space of a memory manager that
// has none yet (NewDetached): what would be mapped is only backed.
type detached struct{}

func (detached) MapFile(uintptr, platform.FileRange, platform.AccessType) error { return nil }
func (detached) Unmap(uintptr, uintptr) error                                   { return nil }
func (detached) Protect(uintptr, uintptr, platform.AccessType) error            { return nil }
func (detached) Interrupt()                                                     {}
func (detached) Kick()                                                          {}
func (detached) Release()                                                       {}

// --- VMA bookkeeping. All of it requires mm.mu. ---

// vmaIndex returns the index of the first VMA ending after addr.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) vmaIndex(addr uintptr) int {
	return sort.Search(len(mm.vmas), func(i int) bool { return mm.vmas[i].end > addr })
}

// lookupVMA returns the VMA containing addr, or nil. Unlike findVMA it
// never grows the stack.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) lookupVMA(addr uintptr) *vma {
	if i := mm.vmaIndex(addr); i < len(mm.vmas) && mm.vmas[i].start <= addr {
		return mm.vmas[i]
	}
	return nil
}

// findVMA returns the VMA containing addr, growing the stack down to it if
// addr is just below a grows-down VMA within the stack limit.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) findVMA(addr uintptr) *vma {
	i := mm.vmaIndex(addr)
	if i == len(mm.vmas) {
		return nil
	}
	v := mm.vmas[i]
	if v.start <= addr {
		return v
	}
	if !v.growsDown || addr < minAddr {
		return nil
	}
	newStart := memory.RoundDown(addr)
	if v.end-newStart > mm.stackLimit {
		return nil
	}
	if i > 0 && mm.vmas[i-1].end > newStart-pageSize { // keep a guard page
		return nil
	}
	v.start = newStart
	return v
}

// isFree reports whether no VMA overlaps [start, end).
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) isFree(start, end uintptr) bool {
	if start < minFixedAddr || end > mm.maxAddr || end <= start {
		return false
	}
	i := mm.vmaIndex(start)
	return i == len(mm.vmas) || mm.vmas[i].start >= end
}

// splitVMA makes addr a VMA boundary if a VMA straddles it.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) splitVMA(addr uintptr) {
	i := mm.vmaIndex(addr)
	if i == len(mm.vmas) || mm.vmas[i].start >= addr {
		return
	}
	v := mm.vmas[i]
	hi := *v
	hi.start = addr
	if hi.file != nil {
		hi.off += int64(addr - v.start)
		mm.addVMA(&hi) // each VMA holds its own reference
	}
	v.end = addr
	if v.growsDown {
		// Both parts keep growing down (Linux keeps VM_GROWSDOWN on
		// both), so that the stack still grows below its lowest part; the
		// name stays with the upper part, which holds the initial stack.
		v.name = ""
	}
	mm.vmas = append(mm.vmas, nil)
	copy(mm.vmas[i+2:], mm.vmas[i+1:])
	mm.vmas[i+1] = &hi
}

// roomToSplit reports whether making start and end VMA boundaries keeps
// the VMA count within maxMapCount, so that an app cannot grow the
// sentry's VMA list without bound by splitting (Linux fails such munmap,
// mprotect and mremap calls with ENOMEM).
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) roomToSplit(start, end uintptr) bool {
	n := len(mm.vmas)
	for _, a := range [2]uintptr{start, end} {
		if i := mm.vmaIndex(a); i < len(mm.vmas) && mm.vmas[i].start < a {
			n++
		}
	}
	return n <= maxMapCount
}

// insertVMA adds v, which must not overlap any VMA.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) insertVMA(v *vma) {
	i := mm.vmaIndex(v.start)
	mm.vmas = append(mm.vmas, nil)
	copy(mm.vmas[i+1:], mm.vmas[i:])
	mm.vmas[i] = v
}

// vmasIn returns the VMAs inside [start, end) after splitting at both ends.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) vmasIn(start, end uintptr) (lo, hi int) {
	mm.splitVMA(start)
	mm.splitVMA(end)
	lo = mm.vmaIndex(start)
	hi = lo
	for hi < len(mm.vmas) && mm.vmas[hi].start < end {
		hi++
	}
	return lo, hi
}

// unmap removes all VMAs and backing in [start, end).
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) unmap(start, end uintptr) error {
	if start >= end {
		return nil // splitting at start would leave two mergeable VMAs
	}
	if !mm.roomToSplit(start, end) {
		return unix.ENOMEM
	}
	lo, hi := mm.vmasIn(start, end)
	if lo == hi {
		return nil
	}
	mm.unpatch(start, end)
	gone := append([]*vma(nil), mm.vmas[lo:hi]...)
	mm.vmas = append(mm.vmas[:lo], mm.vmas[hi:]...)
	mm.freeBacking(start, end)
	err := mm.as.Unmap(start, end-start)
	// Only now, with the pages out of the address space: letting go of a
	// file may free its shared memory.
	for _, v := range gone {
		mm.dropVMA(v)
	}
	return err
}

// mergeAdjacent coalesces VMAs that became compatible neighbours, keeping
// the VMA count (and /proc/PID/maps) like Linux's.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) mergeAdjacent() {
	out := mm.vmas[:0]
	for _, v := range mm.vmas {
		if n := len(out); n > 0 && canMerge(out[n-1], v) {
			out[n-1].end = v.end
			if v.file != nil {
				if v.maps != nil {
					v.maps.remove(mm)
				}
				decRef(v.file) // out[n-1] keeps its reference to the same file
			}
			if v.name != "" { // parts of a stack: the upper one is named
				out[n-1].name = v.name
			}
			continue
		}
		out = append(out, v)
	}
	clear(mm.vmas[len(out):])
	mm.vmas = out
}

func canMerge(a, b *vma) bool {
	if a.end != b.start || a.perms != b.perms || a.maxPerms != b.maxPerms || a.private != b.private ||
		a.growsDown != b.growsDown || a.noReserve != b.noReserve || !sameFile(a.file, b.file) {
		return false
	}
	// The parts of a split stack rejoin (only the upper one is named);
	// other VMAs merge only with VMAs of the same name.
	if a.name != b.name && !(a.growsDown && a.name == "") {
		return false
	}
	return a.file == nil || a.off+int64(a.end-a.start) == b.off
}

// sameFile reports whether a and b are the same file. Comparing
// interfaces with == panics when their dynamic type is not comparable (a
// slice, a map, a struct holding one), so such files never compare equal.
func sameFile(a, b MappableFile) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if reflect.TypeOf(a) != reflect.TypeOf(b) || !reflect.ValueOf(a).Comparable() {
		return false
	}
	return a == b
}

// --- Backing. ---

// pmaIndex returns the index of the first pma ending after addr.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) pmaIndex(addr uintptr) int {
	return sort.Search(len(mm.pmas), func(i int) bool { return mm.pmas[i].end > addr })
}

// splitPMA makes addr a pma boundary.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) splitPMA(addr uintptr) {
	i := mm.pmaIndex(addr)
	if i == len(mm.pmas) || mm.pmas[i].start >= addr {
		return
	}
	p := mm.pmas[i]
	hi := p
	hi.start, hi.off = addr, p.off+int64(addr-p.start)
	if p.shared != nil {
		p.shared.refs.Add(1)
	}
	mm.pmas[i].end = addr
	mm.pmas = append(mm.pmas, pma{})
	copy(mm.pmas[i+2:], mm.pmas[i+1:])
	mm.pmas[i+1] = hi
}

// takeBacking removes the pmas in [start, end) and returns them.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) takeBacking(start, end uintptr) []pma {
	mm.splitPMA(start)
	mm.splitPMA(end)
	lo := mm.pmaIndex(start)
	hi := lo
	for hi < len(mm.pmas) && mm.pmas[hi].start < end {
		hi++
	}
	taken := append([]pma(nil), mm.pmas[lo:hi]...)
	mm.pmas = append(mm.pmas[:lo], mm.pmas[hi:]...)
	return taken
}

// freeBacking releases the memory backing [start, end).
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) freeBacking(start, end uintptr) {
	for _, p := range mm.takeBacking(start, end) {
		mm.release(p)
	}
}

// backed reports whether every page of [start, end) has backing.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) backed(start, end uintptr) bool {
	for i := mm.pmaIndex(start); start < end; i++ {
		if i == len(mm.pmas) || mm.pmas[i].start > start {
			return false
		}
		start = mm.pmas[i].end
	}
	return true
}

// backKeyed gives every page of [start, end), which lies inside v,
// backing, filling file-backed pages from the file; key is vmaKey(v).
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) backKeyed(v *vma, key any, cached bool, start, end uintptr) error {
	if v.file != nil && !v.private {
		return mm.backShared(v, start, end)
	}
	if cached {
		if hf := mm.hostFileOf(v, key); hf != nil {
			mm.backHost(v, hf, start, end)
			return nil
		}
		_, err := mm.backCached(v, key, start, end, false)
		return err
	}
	return mm.fillGaps(start, end, func(cur, gapEnd uintptr) (pma, uintptr, error) {
		var fr platform.FileRange
		var err error
		if v.file != nil {
			// (Not zeroed first, only what a short read leaves.)
			fr, err = mm.mf.AllocateFrom(gapEnd-cur, v.file, v.off+int64(cur-v.start))
		} else {
			fr, err = mm.mf.Allocate(gapEnd - cur)
		}
		if err != nil {
			return pma{}, 0, err
		}
		return pma{start: cur, end: gapEnd, off: fr.Offset}, gapEnd, nil
	})
}

// fillGaps calls fill for each gap [cur, gapEnd) in the backing of
// [start, end), in order, and inserts the pma it returns, which backs
// [cur, pieceEnd); with an empty pma, [cur, pieceEnd) stays a gap. fill
// is called again for the rest of a gap.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) fillGaps(start, end uintptr, fill func(cur, gapEnd uintptr) (p pma, pieceEnd uintptr, err error)) error {
	i := mm.pmaIndex(start)
	cur := start
	for cur < end {
		if i < len(mm.pmas) && mm.pmas[i].start <= cur {
			cur = mm.pmas[i].end
			i++
			continue
		}
		gapEnd := end
		if i < len(mm.pmas) && mm.pmas[i].start < gapEnd {
			gapEnd = mm.pmas[i].start
		}
		p, pieceEnd, err := fill(cur, gapEnd)
		if err != nil {
			return err
		}
		if p.end > p.start {
			mm.pmas = append(mm.pmas, pma{})
			copy(mm.pmas[i+1:], mm.pmas[i:])
			mm.pmas[i] = p
			i++
		}
		cur = pieceEnd
	}
	return nil
}

// backShared backs [start, end) of a MAP_SHARED file VMA with the file's
// own memory, chunk by chunk as the file hands it out.
//
// Preconditions: mm.mu is held; v maps a SharedMappable file.
func (mm *MemoryManager) backShared(v *vma, start, end uintptr) error {
	sf, ok := v.file.(SharedMappable)
	if !ok {
		return unix.ENODEV
	}
	return mm.fillGaps(start, end, func(cur, gapEnd uintptr) (pma, uintptr, error) {
		off := v.off + int64(cur-v.start)
		fr, chunkOff, err := sf.SharedChunk(off)
		if err != nil {
			return pma{}, 0, err
		}
		pieceEnd := min(gapEnd, cur+uintptr(chunkOff+int64(fr.Length)-off))
		return pma{start: cur, end: pieceEnd, off: fr.Offset + (off - chunkOff), fileShared: true}, pieceEnd, nil
	})
}

// chunk returns the aligned fault chunk around addr inside v, clipped to
// the file's pages for file-backed VMAs. ok is false if addr is beyond the
// end of the mapped file (SIGBUS).
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) chunk(v *vma, addr uintptr) (start, end uintptr, ok bool) {
	size := uintptr(anonChunk)
	if v.file != nil {
		size = fileChunk
	}
	limit := v.limit()
	if addr >= limit {
		return 0, 0, false
	}
	start = max(v.start, addr&^(size-1))
	end = min(limit, (addr&^(size-1))+size)
	if v.growsDown { // stacks grow down: back the pages below, not above
		end = memory.RoundDown(addr) + pageSize
		start = max(v.start, end-min(end, stackChunk))
	}
	return start, end, true
}

// Fault results besides nil.
var (
	// ErrSegv: the access is not permitted (SIGSEGV).
	ErrSegv = unix.EFAULT
	// ErrBus: the access is beyond the end of a mapped file (SIGBUS).
	ErrBus = unix.EIO
)

// HandleFault makes the app's access at addr succeed if its VMAs allow
// it: it backs the chunk around addr and maps it into the address space.
func (mm *MemoryManager) HandleFault(addr uintptr, at platform.AccessType) error {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	v := mm.findVMA(addr)
	if v == nil || !v.perms.SupersetOf(at) || v.perms == platform.NoAccess {
		return ErrSegv
	}
	start, end, ok := mm.chunk(v, addr)
	if !ok {
		return ErrBus
	}
	key, cached := vmaKey(v) // a host fstat: once per fault
	if err := mm.backKeyed(v, key, cached, start, end); err != nil {
		return ErrBus // out of memory: Linux would OOM-kill; SIGBUS is the honest analogue
	}
	if v.perms.Write {
		mm.takeUnshared(start, end) // no fault to come for writes there
	}
	if at.Write {
		// Copy-on-write: copy the small aligned piece written to if
		// another address space still shares it (what no longer is
		// shared has just been taken over, without a copy).
		// (Within the chunk, which is all that is mapped below: a
		// stack's chunk is not aligned.)
		cs := max(start, addr&^(cowChunk-1))
		ce := min(end, (addr&^(cowChunk-1))+cowChunk)
		if err := mm.unshare(cs, ce, false); err != nil {
			return ErrBus
		}
	}
	if err := mm.mapBacked(v, start, end, false); err != nil {
		return err
	}
	if cached {
		// Fault-around: the rest of the file's cached pages near the fault.
		around := max(v.start, start-min(start, premapMax/2))
		if err := mm.premapCached(v, key, around, end+premapMax/2); err != nil {
			return err
		}
	}
	if v.tracked() && at.Write {
		// A store to a written-back file's page: the page becomes dirty
		// and writable (until the next write-back protects it again).
		pageAddr := memory.RoundDown(addr)
		off := v.off + int64(pageAddr-v.start)
		v.maps.wb.MarkDirty(off, off+pageSize)
		p := mm.pmas[mm.pmaIndex(pageAddr)]
		fr := platform.FileRange{Offset: p.off + int64(pageAddr-p.start), Length: pageSize}
		if err := mm.as.MapFile(pageAddr, fr, v.perms); err != nil {
			return err
		}
	}
	return nil
}

// mapBacked maps the backing of [start, end), which lies in v, into the
// address space with the permissions v gives it (mapPerms; a write-back
// cache's pages read-only until dirty; none writable with readOnly),
// pieces adjacent in the memory file as one mapping. Gaps stay unmapped.
// Host pmas are mapped from their host file; where the address space
// cannot (or, failing, stops being able to), they are copied first.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) mapBacked(v *vma, start, end uintptr, readOnly bool) error {
	err := mm.mapBackedOnce(v, start, end, readOnly)
	if hm, ok := mm.as.(platform.HostMapper); ok && err != nil && !hm.MapsHost() {
		return mm.mapBackedOnce(v, start, end, readOnly)
	}
	return err
}

// mapBackedOnce is mapBacked's one try.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) mapBackedOnce(v *vma, start, end uintptr, readOnly bool) error {
	if v.perms == platform.NoAccess {
		return nil
	}
	noWrite := readOnly || v.tracked()
	hm, _ := mm.as.(platform.HostMapper)
	if hm == nil || !hm.MapsHost() {
		if err := mm.unhost(start, end); err != nil {
			return err
		}
	}
	var cur platform.FileRange
	var curAddr uintptr
	var curPerms platform.AccessType
	var curHost *platform.HostFile
	flush := func() error {
		if cur.Length == 0 {
			return nil
		}
		var err error
		if curHost != nil {
			err = hm.MapHost(curAddr, *curHost, cur.Offset, cur.Length, curPerms)
		} else {
			err = mm.as.MapFile(curAddr, cur, curPerms)
		}
		cur.Length = 0
		return err
	}
	for i := mm.pmaIndex(start); i < len(mm.pmas) && mm.pmas[i].start < end; i++ {
		p := mm.pmas[i]
		s, e := max(p.start, start), min(p.end, end)
		fr := platform.FileRange{Offset: p.off + int64(s-p.start), Length: e - s}
		perms := p.mapPerms(v.perms)
		if noWrite {
			perms.Write = false // a write-back cache's: writable once dirty (HandleFault)
		}
		if cur.Length != 0 && curAddr+cur.Length == s && cur.Offset+int64(cur.Length) == fr.Offset && curPerms == perms &&
			(curHost == nil) == (p.host == nil) && (curHost == nil || curHost.Key == p.host.Key) {
			cur.Length += fr.Length
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		cur, curAddr, curPerms, curHost = fr, s, perms, p.host
	}
	return flush()
}

// unshare gives the private pages of [start, end) (page aligned) backing
// of their own: copy-on-write pages still shared with another address
// space are copied, the others are taken over. With dropMappings the app's
// mappings of copied pages are removed, so that faults map the copies.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) unshare(start, end uintptr, dropMappings bool) error {
	mm.splitPMA(start)
	mm.splitPMA(end)
	for i := mm.pmaIndex(start); i < len(mm.pmas) && mm.pmas[i].start < end; i++ {
		p := &mm.pmas[i]
		if !p.cow {
			continue
		}
		if p.host != nil {
			if err := mm.copyHost(p); err != nil {
				return err
			}
			if dropMappings && mm.as != nil {
				if err := mm.as.Unmap(p.start, p.end-p.start); err != nil {
					return err
				}
			}
		} else if old := p.fileRange(); mm.mf.Shared(old) {
			fr, err := mm.mf.Allocate(old.Length)
			if err != nil {
				return err
			}
			mm.mf.CopyData(fr, old)
			mm.mf.DecRef(old)
			p.off = fr.Offset
			if dropMappings && mm.as != nil {
				if err := mm.as.Unmap(p.start, p.end-p.start); err != nil {
					return err
				}
			}
		}
		p.cow = false
	}
	return nil
}

// takeUnshared takes over the copy-on-write pmas overlapping [start, end)
// that no other address space shares any more (their other references
// have gone): they need no copy.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) takeUnshared(start, end uintptr) {
	for i := mm.pmaIndex(start); i < len(mm.pmas) && mm.pmas[i].start < end; i++ {
		if p := &mm.pmas[i]; p.cow && p.host == nil && !mm.mf.Shared(p.fileRange()) {
			p.cow = false
		}
	}
}
