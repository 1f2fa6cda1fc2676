package mm

import "moat/platform"

// Fork returns a copy of the address space for a child process: the same
// VMAs, and private memory shared copy-on-write: both address spaces
// reference the same memory-file pages, mapped read-only, until one of
// them writes (HandleFault, and the sentry's own writes through access,
// then copy or take over the pages). Shared anonymous memory stays
// shared. The copy has no platform address space yet: the child's task
// attaches one with SetAddressSpace (platforms bind address spaces to the
// creating thread).
func (mm *MemoryManager) Fork() (*MemoryManager, error) {
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
		case p.shared != nil:
			p.shared.refs.Add(1)
		default:
			mm.mf.IncRef(p.fileRange())
			p.cow = true
		}
		c.pmas = append(c.pmas, *p)
	}
	return c, nil
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
	n := 0
	for _, v := range mm.vmas {
		if v.private && v.perms.Write {
			for i := mm.pmaIndex(v.start); i < len(mm.pmas) && mm.pmas[i].start < v.end; i++ {
				n++
			}
		}
	}
	if n > remapMax {
		return mm.dropWritableMappings()
	}
	for _, v := range mm.vmas {
		if v.private && v.perms.Write {
			if err := mm.mapBacked(v, v.start, v.end, true); err != nil {
				return err
			}
		}
	}
	return nil
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
// manager runs in.
func (mm *MemoryManager) SetAddressSpace(as platform.AddressSpace) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.as = as
}
