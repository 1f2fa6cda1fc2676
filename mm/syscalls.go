package mm

import (
	"math/rand/v2"
	"sync"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/memory"
	"moat/platform"
)

// MMapOpts describe a new mapping, already validated for flag combinations
// by the caller.
type MMapOpts struct {
	Addr      uintptr // hint, or the exact address if Fixed
	Length    uintptr // > 0
	Fixed     bool    // MAP_FIXED: replace whatever is there
	NoReplace bool    // MAP_FIXED_NOREPLACE: EEXIST if anything is there
	Perms     platform.AccessType
	MaxPerms  platform.AccessType
	Private   bool
	GrowsDown bool
	NoReserve bool         // MAP_NORESERVE
	File      MappableFile // nil for anonymous memory
	Offset    int64
	Name      string // "[stack]", "[heap]" ...
}

// MMap creates a mapping and returns its address. A file mapping takes
// its own reference to the file (see RefCounted).
func (mm *MemoryManager) MMap(o MMapOpts) (uintptr, error) {
	length := memory.RoundUp(o.Length)
	if length == 0 {
		return 0, unix.ENOMEM
	}
	overcommit := charged(o.Private, o.Perms.Write, o.NoReserve) && length > commitLimit()
	mm.mu.Lock()
	defer mm.unlock()
	var addr uintptr
	switch {
	case o.Fixed || o.NoReplace:
		addr = o.Addr
		// Linux's order of checks. An address that looks like an
		// error code (-4095..-1) comes back as that error, as
		// get_unmapped_area's IS_ERR_VALUE check makes it.
		if int64(addr) < 0 && int64(addr) >= -4095 {
			return 0, unix.Errno(-int64(addr))
		}
		if addr+length < addr || addr+length > mm.maxAddr {
			return 0, unix.ENOMEM
		}
		if addr&(pageSize-1) != 0 {
			return 0, unix.EINVAL
		}
		if addr < minFixedAddr {
			return 0, unix.EPERM
		}
		if !mm.isFree(addr, addr+length) {
			if o.NoReplace {
				return 0, unix.EEXIST
			}
			if overcommit {
				return 0, unix.ENOMEM // before the old mapping goes
			}
			if err := mm.unmap(addr, addr+length); err != nil {
				return 0, err
			}
		}
	default:
		hint := memory.RoundDown(o.Addr)
		if hint >= minAddr && hint+length > hint && mm.isFree(hint, hint+length) {
			addr = hint
		} else {
			var err error
			if addr, err = mm.findGap(length); err != nil {
				return 0, err
			}
		}
	}
	if overcommit || len(mm.vmas) >= maxMapCount {
		return 0, unix.ENOMEM
	}
	var shared *sharedMem
	if !o.Private && o.File == nil {
		// Shared anonymous memory: backed at once by one range (sparse,
		// so free until touched) that forked children share.
		fr, err := mm.mf.Allocate(length)
		if err != nil {
			return 0, unix.ENOMEM
		}
		shared = &sharedMem{fr: fr}
		shared.refs.Store(1)
	}
	v := &vma{
		start: addr, end: addr + length,
		perms: o.Perms, maxPerms: o.MaxPerms,
		private: o.Private, growsDown: o.GrowsDown, noReserve: o.NoReserve,
		file: o.File, off: o.Offset, name: o.Name,
	}
	if o.File != nil {
		v.maps = mappersOf(o.File)
	}
	mm.insertVMA(v)
	mm.addVMA(v) // the VMA's own reference
	if shared != nil {
		i := mm.pmaIndex(addr)
		mm.pmas = append(mm.pmas, pma{})
		copy(mm.pmas[i+1:], mm.pmas[i:])
		mm.pmas[i] = pma{start: addr, end: addr + length, off: shared.fr.Offset, shared: shared}
	}
	// Only speed-ups: what fails to map here faults in later, and a
	// dead address space fails the next switch.
	if key, ok := vmaKey(v); ok {
		eager := v.perms.Write && length <= eagerCopyMax
		host := mm.hostFileOf(v, key) != nil
		if !eager || !host {
			// (A host mapping is mapped whole here; a small writable
			// one is copied, below, instead.)
			_ = mm.premapCached(v, key, v.start, v.end)
		}
		if eager {
			_ = mm.backEagerly(v, key, true)
		}
		if v.perms.Execute && !host {
			// A library's text: read it into the cache in the
			// background, as Load does a program's, rather than
			// fault by fault (at most readAheadMax of it).
			n := min(int64(v.limit()-v.start), readAheadMax)
			prefetchKeyed(mm.mf, v.file, key, v.off, v.off+n)
		}
	} else if v.file == nil && v.private && !v.growsDown && v.perms != platform.NoAccess && length <= anonChunk && mm.mf.Roomy() {
		// (Not once the memory file is half full: a program that maps
		// many small areas it never touches, as Linux lets it, must not
		// fill the file with their backing.)
		_ = mm.backEagerly(v, nil, false)
	}
	mm.mergeAdjacent()
	return addr, nil
}

// readAheadMax bounds what mmap reads ahead of an executable mapping.
const readAheadMax = 64 << 20

// eagerCopyMax bounds the writable private file mappings that mmap
// copies at once (backEagerly): a program's data segments (ld.so's and
// libc's are 8 and 24 KiB), which the loader writes at once.
const eagerCopyMax = 64 << 10

// backEagerly gives v, a new mapping, its own backing and maps it, instead
// of leaving the first access to fault: small anonymous mappings (the
// memory file is sparse, so their backing costs no host memory until
// touched, and a fault would back the same chunk) and the data segments
// of cached files, copied now rather than on their first write. A fault
// is a round trip through the sentry; a sh -c loop of /bin/true took three
// of each per program, of about nine in all. (Backed memory counts as
// resident from then on, as a fault's whole chunk does.)
//
// Preconditions: mm.mu is held; key is vmaKey(v), cached whether it has
// one.
func (mm *MemoryManager) backEagerly(v *vma, key any, cached bool) error {
	end := v.limit()
	if end <= v.start {
		return nil
	}
	if err := mm.backKeyed(v, key, cached, v.start, end); err != nil {
		return err
	}
	if err := mm.unshare(v.start, end, false); err != nil {
		return err
	}
	return mm.mapBacked(v, v.start, end, false)
}

// commitLimit is the most one request may add to the memory that
// private writable mappings promise, under Linux's heuristic overcommit
// (the sandbox's overcommit_memory is 0): the host's RAM and swap, as
// __vm_enough_memory allows. A larger request fails with ENOMEM instead
// of being promised.
var commitLimit = sync.OnceValue(func() uintptr {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return ^uintptr(0)
	}
	return uintptr((si.Totalram + si.Totalswap) * uint64(si.Unit))
})

// charged reports whether memory is charged against the commit limit
// (VM_ACCOUNT): private writable memory not mapped with MAP_NORESERVE.
// Linux also charges a mapping that was writable once and no longer is.
func charged(private, writable, noReserve bool) bool { return private && writable && !noReserve }

// growthRefused reports whether growing v from oldSize to newSize adds
// more charged memory than can be promised (mremap's ENOMEM).
func (v *vma) growthRefused(oldSize, newSize uintptr) bool {
	return newSize > oldSize && charged(v.private, v.perms.Write, v.noReserve) && newSize-oldSize > commitLimit()
}

// findGap finds room for length bytes, top-down from the mmap base, then
// bottom-up above it.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) findGap(length uintptr) (uintptr, error) {
	end := mm.mmapBase
	i := mm.vmaIndex(end)
	if i < len(mm.vmas) && mm.vmas[i].start < end {
		end = mm.vmas[i].start // a VMA straddles the base
	}
	for i--; ; i-- {
		lo := uintptr(minAddr)
		if i >= 0 {
			lo = mm.vmas[i].end
		}
		if lo < end && end-lo >= length {
			return end - length, nil
		}
		if i < 0 {
			break
		}
		end = min(end, mm.vmas[i].start)
	}
	start := mm.mmapBase
	for i := mm.vmaIndex(start); start+length <= mm.maxAddr && start+length > start; i++ {
		if i == len(mm.vmas) || mm.vmas[i].start >= start+length {
			return start, nil
		}
		start = max(start, mm.vmas[i].end)
	}
	return 0, unix.ENOMEM
}

// MUnmap implements munmap(2).
func (mm *MemoryManager) MUnmap(addr, length uintptr) error {
	if addr&(pageSize-1) != 0 || length == 0 {
		return unix.EINVAL
	}
	end := memory.RoundUp(addr + length)
	if end < addr || addr+length < addr || end > mm.maxAddr {
		return unix.EINVAL
	}
	mm.mu.Lock()
	defer mm.unlock()
	return mm.unmap(addr, end)
}

// MProtect implements mprotect(2).
func (mm *MemoryManager) MProtect(addr, length uintptr, prot int) error {
	if addr&(pageSize-1) != 0 {
		return unix.EINVAL
	}
	if prot&^(unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC|unix.PROT_GROWSDOWN|unix.PROT_GROWSUP) != 0 ||
		prot&(unix.PROT_GROWSDOWN|unix.PROT_GROWSUP) == unix.PROT_GROWSDOWN|unix.PROT_GROWSUP {
		return unix.EINVAL
	}
	if length == 0 {
		return nil
	}
	end := memory.RoundUp(addr + length)
	if end <= addr {
		return unix.ENOMEM
	}
	at := platform.AccessType{Read: prot&unix.PROT_READ != 0, Write: prot&unix.PROT_WRITE != 0, Execute: prot&unix.PROT_EXEC != 0}
	if at.Write || at.Execute { // x86 cannot map writable or executable pages unreadable
		at.Read = true
	}
	mm.mu.Lock()
	defer mm.unlock()
	if prot&(unix.PROT_GROWSDOWN|unix.PROT_GROWSUP) != 0 {
		i := mm.vmaIndex(addr)
		if i == len(mm.vmas) || mm.vmas[i].start >= end {
			return unix.ENOMEM
		}
		// PROT_GROWSDOWN extends the change down to the start of the
		// grows-down VMA (glibc makes the stack executable this way);
		// nothing grows up on x86.
		if prot&unix.PROT_GROWSUP != 0 || !mm.vmas[i].growsDown {
			return unix.EINVAL
		}
		addr = mm.vmas[i].start
	}
	// Linux checks the whole range is mapped and permitted first.
	cur := addr
	for i := mm.vmaIndex(addr); cur < end; i++ {
		if i == len(mm.vmas) || mm.vmas[i].start > cur {
			return unix.ENOMEM
		}
		if !mm.vmas[i].maxPerms.SupersetOf(at) {
			return unix.EACCES
		}
		cur = mm.vmas[i].end
	}
	if !mm.roomToSplit(addr, end) {
		return unix.ENOMEM
	}
	mm.unpatch(addr, end)
	lo, hi := mm.vmasIn(addr, end)
	for _, v := range mm.vmas[lo:hi] {
		v.perms = at
	}
	mm.mergeAdjacent()
	// Drop the platform mappings and map what is backed again with the
	// new permissions (ld.so's RELRO mprotect would otherwise cost a
	// fault per chunk it has just relocated); when that is much, faults
	// map it as it is used.
	if err := mm.as.Unmap(addr, end-addr); err != nil {
		return err
	}
	if pl, ph := mm.pmaIndex(addr), mm.pmaIndex(end); ph-pl > remapMax {
		return nil
	}
	for i := mm.vmaIndex(addr); i < len(mm.vmas) && mm.vmas[i].start < end; i++ {
		v := mm.vmas[i]
		if err := mm.mapBacked(v, max(v.start, addr), min(v.end, end), false); err != nil {
			return err
		}
	}
	return nil
}

// Brk implements brk(2): it returns the new break, or the old one if the
// request cannot be met.
func (mm *MemoryManager) Brk(addr uintptr) uintptr {
	mm.mu.Lock()
	defer mm.unlock()
	if addr < mm.brkStart || addr > mm.maxAddr {
		return mm.brk
	}
	oldEnd, newEnd := memory.RoundUp(mm.brk), memory.RoundUp(addr)
	switch {
	case newEnd < oldEnd:
		if err := mm.unmap(newEnd, oldEnd); err != nil {
			return mm.brk
		}
	case newEnd > oldEnd:
		if !mm.isFree(oldEnd, newEnd) || len(mm.vmas) >= maxMapCount || newEnd-oldEnd > commitLimit() {
			return mm.brk
		}
		mm.insertVMA(&vma{start: oldEnd, end: newEnd, perms: platform.ReadWrite, maxPerms: platform.AnyAccess, private: true, name: "[heap]"})
		mm.mergeAdjacent()
	}
	mm.brk = addr
	return addr
}

// MRemap implements mremap(2) for private mappings.
func (mm *MemoryManager) MRemap(oldAddr, oldSize, newSize uintptr, flags int, newAddr uintptr) (uintptr, error) {
	if flags&^(unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED|unix.MREMAP_DONTUNMAP) != 0 ||
		flags&unix.MREMAP_FIXED != 0 && flags&unix.MREMAP_MAYMOVE == 0 ||
		oldAddr&(pageSize-1) != 0 {
		return 0, unix.EINVAL
	}
	if flags&unix.MREMAP_DONTUNMAP != 0 {
		return 0, unix.EINVAL // support: MREMAP_DONTUNMAP is not implemented yet
	}
	oldSize, newSize = memory.RoundUp(oldSize), memory.RoundUp(newSize)
	if newSize == 0 || oldSize == 0 { // old_size 0 duplicates shared mappings only
		return 0, unix.EINVAL
	}
	if newSize > arch.TaskSize {
		return 0, unix.EINVAL // longer than the address space (TASK_SIZE)
	}
	// new_address means something only with MREMAP_FIXED; otherwise it
	// is whatever was in the register.
	if oldAddr+oldSize < oldAddr || flags&unix.MREMAP_FIXED != 0 && newAddr+newSize < newAddr {
		return 0, unix.EINVAL
	}
	mm.mu.Lock()
	defer mm.unlock()
	v := mm.lookupVMA(oldAddr) // mremap never grows the stack
	if v == nil || oldAddr+oldSize > v.end {
		return 0, unix.EFAULT
	}
	if flags&unix.MREMAP_FIXED != 0 {
		if newAddr&(pageSize-1) != 0 || newAddr < minAddr || newAddr+newSize > mm.maxAddr {
			return 0, unix.EINVAL
		}
		if newAddr < oldAddr+oldSize && oldAddr < newAddr+newSize {
			return 0, unix.EINVAL
		}
		if err := mm.unmap(newAddr, newAddr+newSize); err != nil {
			return 0, err
		}
		if v.growthRefused(oldSize, newSize) {
			return 0, unix.ENOMEM
		}
		return mm.move(oldAddr, oldSize, newAddr, newSize)
	}
	if v.growthRefused(oldSize, newSize) {
		return 0, unix.ENOMEM // the growth cannot be promised
	}
	if newSize <= oldSize {
		if err := mm.unmap(oldAddr+newSize, oldAddr+oldSize); err != nil {
			return 0, err
		}
		return oldAddr, nil
	}
	if oldAddr+oldSize == v.end && mm.isFree(v.end, oldAddr+newSize) {
		v.end = oldAddr + newSize
		mm.mergeAdjacent()
		return oldAddr, nil
	}
	if flags&unix.MREMAP_MAYMOVE == 0 {
		return 0, unix.ENOMEM
	}
	to, err := mm.findGap(newSize)
	if err != nil {
		return 0, err
	}
	return mm.move(oldAddr, oldSize, to, newSize)
}

// move moves [from, from+oldSize), part of one VMA, to a free range at to
// of newSize bytes, with its backing.
//
// Preconditions: mm.mu is held; [to, to+newSize) is free.
func (mm *MemoryManager) move(from, oldSize, to, newSize uintptr) (uintptr, error) {
	if !mm.roomToSplit(from, from+oldSize) {
		return 0, unix.ENOMEM
	}
	lo, hi := mm.vmasIn(from, from+oldSize)
	if hi-lo != 1 {
		return 0, unix.EFAULT
	}
	mm.unpatch(from, from+oldSize)
	v := mm.vmas[lo]
	mm.vmas = append(mm.vmas[:lo], mm.vmas[hi:]...)
	backing := mm.takeBacking(from, from+oldSize)
	if err := mm.as.Unmap(from, oldSize); err != nil {
		return 0, err
	}
	v.start, v.end = to, to+newSize
	v.growsDown = false
	mm.insertVMA(v)
	for _, p := range backing {
		p.start, p.end = p.start-from+to, p.end-from+to
		if p.start >= v.end {
			mm.release(p)
			continue
		}
		if p.end > v.end { // shrunk by the move: drop the tail
			if !p.isShared() && p.host == nil {
				mm.mf.DecRef(platform.FileRange{Offset: p.off + int64(v.end-p.start), Length: p.end - v.end})
			} // a shared tail is freed with the rest of its memory
			p.end = v.end
		}
		i := mm.pmaIndex(p.start)
		mm.pmas = append(mm.pmas, pma{})
		copy(mm.pmas[i+1:], mm.pmas[i:])
		mm.pmas[i] = p
	}
	mm.mergeAdjacent()
	return to, nil
}

// MAdvise implements madvise(2).
func (mm *MemoryManager) MAdvise(addr, length uintptr, advice int) error {
	if addr&(pageSize-1) != 0 {
		return unix.EINVAL
	}
	switch advice {
	case unix.MADV_NORMAL, unix.MADV_RANDOM, unix.MADV_SEQUENTIAL, unix.MADV_WILLNEED,
		unix.MADV_DONTNEED, unix.MADV_FREE, unix.MADV_REMOVE, unix.MADV_DONTFORK, unix.MADV_DOFORK,
		unix.MADV_MERGEABLE, unix.MADV_UNMERGEABLE, unix.MADV_HUGEPAGE, unix.MADV_NOHUGEPAGE,
		unix.MADV_DONTDUMP, unix.MADV_DODUMP, unix.MADV_WIPEONFORK, unix.MADV_KEEPONFORK,
		unix.MADV_COLD, unix.MADV_PAGEOUT, unix.MADV_POPULATE_READ, unix.MADV_POPULATE_WRITE:
	default:
		return unix.EINVAL
	}
	// Linux's order: a length that rounds up to zero, then overflow, then
	// an empty range.
	rlen := memory.RoundUp(length)
	if length != 0 && rlen == 0 {
		return unix.EINVAL
	}
	end := addr + rlen
	if end < addr {
		return unix.EINVAL
	}
	if end == addr {
		return nil
	}
	mm.mu.Lock()
	defer mm.unlock()
	mapped := true
	cur := addr
	for i := mm.vmaIndex(addr); cur < end; i++ {
		if i == len(mm.vmas) || mm.vmas[i].start > cur {
			mapped = false
			break
		}
		cur = mm.vmas[i].end
	}
	if advice == unix.MADV_REMOVE {
		// Only shared mappings that may be written can have their
		// memory removed (Linux's madvise_remove): the first other
		// mapping in the range fails the call, before a hole's ENOMEM.
		for i := mm.vmaIndex(addr); i < len(mm.vmas) && mm.vmas[i].start < end; i++ {
			switch v := mm.vmas[i]; {
			case v.private && v.file == nil:
				return unix.EINVAL // no file to punch a hole in
			case v.private || !v.maxPerms.Write:
				return unix.EACCES
			}
		}
	}
	if advice == unix.MADV_DONTNEED || advice == unix.MADV_FREE {
		// Drop private pages: anonymous memory reads back as zeros, file
		// mappings as the file's data.
		for i := mm.vmaIndex(addr); i < len(mm.vmas) && mm.vmas[i].start < end; i++ {
			s, e := max(addr, mm.vmas[i].start), min(end, mm.vmas[i].end)
			if mm.vmas[i].private {
				mm.freeBacking(s, e)
			} // shared memory keeps its data; only this mapping is dropped
			if err := mm.as.Unmap(s, e-s); err != nil {
				return err
			}
		}
	}
	if !mapped {
		return unix.ENOMEM
	}
	return nil
}

// RandomPages returns a random multiple of the page size below n pages, for
// address-space layout randomization.
func RandomPages(n uint64) uintptr { return uintptr(rand.Uint64N(n)) * pageSize }

// MSync implements msync(2): the dirty pages of written-back files
// (WriteBack) mapped shared in the range reach their storage, on stable
// storage with MS_SYNC. Shared mappings of the sandbox's own files are
// the files' memory, and private mappings are copies: nothing to do for
// them. ENOMEM if part of the range is not mapped (after syncing the
// rest, as Linux).
func (mm *MemoryManager) MSync(addr, length uintptr, flags int) error {
	if addr&(pageSize-1) != 0 || flags&^(unix.MS_ASYNC|unix.MS_INVALIDATE|unix.MS_SYNC) != 0 ||
		flags&(unix.MS_ASYNC|unix.MS_SYNC) == unix.MS_ASYNC|unix.MS_SYNC {
		return unix.EINVAL
	}
	end := addr + memory.RoundUp(length)
	if end < addr {
		return unix.ENOMEM
	}
	var wbs []WriteBack
	mapped := true
	mm.mu.Lock()
	cur := addr
	for i := mm.vmaIndex(addr); cur < end; i++ {
		if i == len(mm.vmas) || mm.vmas[i].start >= end {
			mapped = false
			break
		}
		v := mm.vmas[i]
		if v.start > cur {
			mapped = false
		}
		if v.tracked() && !containsWB(wbs, v.maps.wb) {
			wbs = append(wbs, v.maps.wb)
		}
		cur = v.end
	}
	mm.unlock()
	var err error
	for _, wb := range wbs {
		if e := wb.WriteBack(flags&unix.MS_SYNC != 0); e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		return unix.EIO
	}
	if !mapped {
		return unix.ENOMEM
	}
	return nil
}
