package mm

import (
	"moat/memory"
	"moat/platform"
)

// Fork returns a copy of the address space for a child process: the same
// VMAs, and private memory shared copy-on-write: both address spaces
// reference the same memory-file pages, mapped read-only, until one of
// them writes (HandleFault, and the sentry's own writes through access,
// then copy or take over the pages). Shared anonymous memory stays
// shared. The copy has no platform address space yet: the child's task
// attaches one with SetAddressSpace (platforms bind address spaces to the
// creating thread). sp is the forking thread's stack pointer (see
// ownStack).
func (mm *MemoryManager) Fork(sp uintptr) (*MemoryManager, error) {
	mm.mu.Lock()
	defer mm.unlock()
	// Truncations of mapped files first: the child must not inherit what
	// they take away.
	mm.applyPendingLocked()
	// Write-protect first: from here on a write by another thread of
	// this process faults and waits for the lock, so the child gets the
	// memory as it is now.
	if err := mm.writeProtect(); err != nil {
		return nil, err
	}
	c := &MemoryManager{
		mf:         mm.mf,
		maxAddr:    mm.maxAddr,
		mmapBase:   mm.mmapBase,
		brkStart:   mm.brkStart,
		brk:        mm.brk,
		stackLimit: mm.stackLimit,
		argStart:   mm.argStart, argEnd: mm.argEnd, envStart: mm.envStart, envEnd: mm.envEnd,
		patch: mm.patch.fork(),
	}
	for _, v := range mm.vmas {
		nv := *v
		c.addVMA(&nv)
		c.vmas = append(c.vmas, &nv)
	}
	c.pmas = make([]pma, 0, len(mm.pmas))
	for i := range mm.pmas {
		p := &mm.pmas[i]
		switch {
		case p.fileShared: // the file's memory, shared by every mapping of it
		case p.host != nil: // the host file's (copy-on-write already)
		case p.shared != nil:
			p.shared.refs.Add(1)
		default:
			mm.mf.IncRef(p.fileRange())
			p.cow = true
		}
		c.pmas = append(c.pmas, *p)
	}
	mm.ownStack(c, sp)
	return c, nil
}

// ownStack gives the child c its own copy of the stack around sp, and the
// parent its pages there back, writable: both write there as soon as the
// fork returns, and a copy now (a few pages) costs less than a
// copy-on-write fault in each, each a round trip through the sentry. If
// the copy cannot be made, both fault as usual.
//
// Preconditions: mm.mu is held; c is the fork's child, not yet shared.
func (mm *MemoryManager) ownStack(c *MemoryManager, sp uintptr) {
	v := mm.findVMA(sp)
	if v == nil || !v.private || !v.perms.Write || v.tracked() {
		return
	}
	page := uintptr(memory.RoundDown(sp))
	lo, hi := max(v.start, page-pageSize), min(v.end, page+pageSize)
	if c.unshare(lo, hi, false) != nil {
		return
	}
	mm.splitPMA(lo)
	mm.splitPMA(hi)
	mm.takeUnshared(lo, hi)
	mm.mapBacked(v, lo, hi, false) // a failure leaves the write to fault
}

// writeProtect makes the app's mappings of writable private VMAs
// read-only, so that the next write there faults: it maps what is backed
// again without write permission, or, if that is more than remapMax
// pieces, removes the mappings. Reads then do not fault; the parent of a
// fork (a shell) reads its stack and data at once. VMAs, not pmas, decide:
// a pma may span VMAs that mprotect split.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) writeProtect() error {
	writable := func(v *vma) bool { return v.private && v.perms.Write }
	if mm.pieces(writable) > remapMax {
		return mm.dropWritableMappings()
	}
	for _, v := range mm.vmas {
		if writable(v) {
			if err := mm.mapBacked(v, v.start, v.end, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// pieces counts the backing pieces of the VMAs that want says, as
// mapBacked would map them at most (a pma that spans two VMAs counts in
// each).
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) pieces(want func(*vma) bool) int {
	n := 0
	for _, v := range mm.vmas {
		if want(v) {
			for i := mm.pmaIndex(v.start); i < len(mm.pmas) && mm.pmas[i].start < v.end; i++ {
				n++
			}
		}
	}
	return n
}

// dropWritableMappings removes the app's mappings of writable private
// VMAs (runs of adjacent ones at a time).
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) dropWritableMappings() error {
	var runStart, runEnd uintptr
	flush := func() error {
		if runEnd > runStart {
			return mm.as.Unmap(runStart, runEnd-runStart)
		}
		return nil
	}
	for _, v := range mm.vmas {
		if !v.private || !v.perms.Write {
			continue // shared memory stays writable
		}
		if v.start != runEnd {
			if err := flush(); err != nil {
				return err
			}
			runStart = v.start
		}
		runEnd = v.end
	}
	return flush()
}

// SetAddressSpace attaches the platform address space a forked memory
// manager runs in, and maps there what is backed, if that is at most
// remapMax pieces: the child goes on where the parent was, and reads its
// code, stack and data at once, each fault a round trip through the
// sentry. Private pages are mapped read-only (they are copy-on-write). A
// mapping that fails is left to the faults (a dead address space fails
// the child's first switch).
func (mm *MemoryManager) SetAddressSpace(as platform.AddressSpace) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.as = as
	accessible := func(v *vma) bool { return v.perms != platform.NoAccess }
	if mm.pieces(accessible) > remapMax {
		return
	}
	for _, v := range mm.vmas {
		if mm.mapBacked(v, v.start, v.end, false) != nil {
			return
		}
	}
}
