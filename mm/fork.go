package mm

import (
	"golang.org/x/sys/unix"

	"moat/platform"
)

// Fork returns a copy of the address space for a child process: the same
// VMAs, and private copies of every page that holds data. It has no
// platform address space yet: the child's task attaches one with
// SetAddressSpace (platforms bind address spaces to the creating thread).
//
// Private pages are copied eagerly; only ranges of the memory file that
// hold data are copied (the file is sparse), so untouched memory costs
// nothing. Copy-on-write sharing is a later optimization. Shared anonymous
// memory stays shared.
func (mm *MemoryManager) Fork() (*MemoryManager, error) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	c := &MemoryManager{
		mf:         mm.mf,
		maxAddr:    mm.maxAddr,
		mmapBase:   mm.mmapBase,
		brkStart:   mm.brkStart,
		brk:        mm.brk,
		stackLimit: mm.stackLimit,
		argStart:   mm.argStart, argEnd: mm.argEnd, envStart: mm.envStart, envEnd: mm.envEnd,
	}
	for _, v := range mm.vmas {
		nv := *v
		if nv.file != nil {
			incRef(nv.file)
		}
		c.vmas = append(c.vmas, &nv)
	}
	for _, p := range mm.pmas {
		if p.shared != nil {
			p.shared.refs.Add(1)
			c.pmas = append(c.pmas, p)
			continue
		}
		fr, err := mm.mf.Allocate(p.end - p.start)
		if err != nil {
			c.Release()
			return nil, unix.ENOMEM
		}
		src := platform.FileRange{Offset: p.off, Length: p.end - p.start}
		mm.mf.CopyData(fr, src)
		c.pmas = append(c.pmas, pma{start: p.start, end: p.end, off: fr.Offset})
	}
	return c, nil
}

// SetAddressSpace attaches the platform address space a forked memory
// manager runs in.
func (mm *MemoryManager) SetAddressSpace(as platform.AddressSpace) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.as = as
}
