package mm

import (
	"sync"

	"moat/memory"
)

// Mappers is the reverse map of one file (Linux's i_mmap): the address
// spaces that map it. A filesystem keeps one per file (per inode, shared
// by every open of it) and hands it out through MappedFile's Mappers
// method; each VMA mapping the file registers its address space there.
// After the file shrank, the filesystem calls Truncated: the pages wholly
// past the new end leave every address space (private copies too, as
// Linux's truncate_pagecache drops even copy-on-write pages), so that the
// next access faults and, being past the end, raises SIGBUS.
//
// Platforms change an address space only from a thread of that address
// space, so Truncated queues the change in each address space that maps
// the file and kicks it out of app code; its tasks apply the queue
// (ApplyPending) before they next run app code. The truncating process
// sees the change before its system call returns; another process, at
// its next entry into the sentry (soon, for the thread kicked). Until
// then its stale pages stay valid memory: filesystems keep a mapped
// file's shared memory allocated (zeroed past the end), and private
// pages are freed only when applying.
//
// Lock order: MemoryManager.mu, then Mappers.mu (a leaf). Truncated takes
// each MemoryManager.mu in turn with no lock of the Mappers held, so the
// filesystem may call it holding its own locks if those come before
// MemoryManager.mu in its order.
type Mappers struct {
	wb WriteBack

	mu  sync.Mutex
	mms map[*MemoryManager]int // VMAs of each address space that map the file
}

// WriteBack is implemented by files whose shared memory (SharedChunk) is a
// cache of storage elsewhere, a host file, that must be written back to
// it. The app's mappings of such memory are writable only on pages marked
// dirty: a store to a clean page faults first, and the fault marks it.
// (Pages stay dirty while the file is mapped: cleaning them would need
// write-protecting them in other address spaces at once, which platforms
// cannot do; see Mappers.)
type WriteBack interface {
	// MarkDirty records that the file's bytes [off, end) may be stored
	// to. It is called with a MemoryManager.mu held.
	MarkDirty(off, end int64)
	// WriteBack writes the dirty pages back to storage (and with sync,
	// to stable storage).
	WriteBack(sync bool) error
}

// NewMappers returns an empty reverse map for a file whose shared memory
// is written back by wb (nil: the shared memory is the file's own, as for
// memfs, and needs no write-back).
func NewMappers(wb WriteBack) *Mappers { return &Mappers{wb: wb} }

// SetWriteBack sets the write-back of a zero Mappers, before any mapping
// registered.
func (m *Mappers) SetWriteBack(wb WriteBack) { m.wb = wb }

// Mapped reports whether any address space maps the file.
func (m *Mappers) Mapped() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.mms) > 0
}

// add registers one more VMA of mm.
//
// Preconditions: mm.mu is held.
func (m *Mappers) add(mm *MemoryManager) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mms == nil {
		m.mms = make(map[*MemoryManager]int)
	}
	m.mms[mm]++
}

// remove drops one VMA of mm.
//
// Preconditions: mm.mu is held.
func (m *Mappers) remove(mm *MemoryManager) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mms[mm]--; m.mms[mm] <= 0 {
		delete(m.mms, mm)
	}
}

// snapshot returns the address spaces that map the file now.
func (m *Mappers) snapshot() []*MemoryManager {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*MemoryManager, 0, len(m.mms))
	for mm := range m.mms {
		out = append(out, mm)
	}
	return out
}

// Truncated takes the pages of the file at or beyond size (rounded up to
// a page) out of every address space that maps it (see Mappers). The
// caller has already made the file that short, so that faults from now on
// see the new size.
func (m *Mappers) Truncated(size int64) {
	from := int64(memory.RoundUp(uintptr(max(size, 0))))
	if from < size { // rounding overflowed: nothing can lie beyond
		return
	}
	for _, mm := range m.snapshot() {
		mm.mu.Lock()
		mm.pending = append(mm.pending, pendingCut{m, from})
		mm.hasPending.Store(true)
		as := mm.as
		mm.mu.Unlock()
		if as != nil {
			as.Kick() // so that it applies the cut soon
		}
	}
}

// pendingCut is a truncation not yet applied to an address space.
type pendingCut struct {
	maps *Mappers
	from int64 // file offset, page aligned
}

// ApplyPending applies the truncations of mapped files queued for the
// address space (see Mappers). Tasks call it before running app code; it
// must be called from a thread of the address space.
func (mm *MemoryManager) ApplyPending() {
	if !mm.hasPending.Load() {
		return
	}
	mm.mu.Lock()
	defer mm.unlock()
	mm.applyPendingLocked()
}

// Preconditions: mm.mu is held.
func (mm *MemoryManager) applyPendingLocked() {
	cuts := mm.pending
	mm.pending = nil
	mm.hasPending.Store(false)
	for _, c := range cuts {
		for _, v := range mm.vmas {
			if v.maps != c.maps {
				continue
			}
			s, e, ok := v.fileSpan(c.from, maxFileOff)
			if !ok {
				continue
			}
			if mm.as != nil {
				mm.as.Unmap(s, e-s)
			}
			mm.freeBacking(s, e) // after the unmap: the pages may be freed
		}
	}
}

// maxFileOff is beyond every file offset.
const maxFileOff = 1<<63 - 1

// fileSpan returns the addresses of v that map the file's bytes [off,
// end), if any.
func (v *vma) fileSpan(off, end int64) (start, stop uintptr, ok bool) {
	vEnd := v.off + int64(v.end-v.start) // VMAs never wrap the file offset (mmap checks)
	lo, hi := max(off, v.off), min(end, vEnd)
	if lo >= hi {
		return 0, 0, false
	}
	return v.start + uintptr(lo-v.off), v.start + uintptr(hi-v.off), true
}

// tracked reports whether v's shared pages are a write-back cache, whose
// mappings are writable only where dirty.
func (v *vma) tracked() bool {
	return !v.private && v.maps != nil && v.maps.wb != nil
}

// mappersOf returns the reverse map of f, if it has one.
func mappersOf(f MappableFile) *Mappers {
	if r, ok := f.(interface{ Mappers() *Mappers }); ok {
		return r.Mappers()
	}
	return nil
}

// dropped is a VMA's hold on its file, let go once MemoryManager.mu is
// released: the last reference to a file may close it, and a file whose
// shared memory is written back (WriteBack) writes it back when a
// writable shared mapping of it goes, which visits other address spaces.
type dropped struct {
	file  MappableFile
	flush WriteBack
}

// dropVMA removes v's registration and queues its file reference for
// unlock.
//
// Preconditions: mm.mu is held; v has left mm.vmas.
func (mm *MemoryManager) dropVMA(v *vma) {
	if v.file == nil {
		return
	}
	d := dropped{file: v.file}
	if v.maps != nil {
		v.maps.remove(mm)
		if v.tracked() && v.maxPerms.Write {
			d.flush = v.maps.wb
		}
	}
	mm.dropped = append(mm.dropped, d)
}

// addVMA registers v, which has just joined mm.vmas, with its file.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) addVMA(v *vma) {
	if v.file == nil {
		return
	}
	incRef(v.file)
	if v.maps != nil {
		v.maps.add(mm)
	}
}

// unlock releases mm.mu, then writes back and lets go of the files of the
// VMAs removed meanwhile.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) unlock() {
	ds := mm.dropped
	mm.dropped = nil
	mm.mu.Unlock()
	var flushed []WriteBack
	for _, d := range ds {
		if d.flush != nil && !containsWB(flushed, d.flush) {
			d.flush.WriteBack(false) // an error stays for fsync or msync to see
			flushed = append(flushed, d.flush)
		}
		decRef(d.file)
	}
}

func containsWB(s []WriteBack, wb WriteBack) bool {
	for _, x := range s {
		if x == wb {
			return true
		}
	}
	return false
}
