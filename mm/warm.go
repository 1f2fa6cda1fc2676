package mm

import (
	"sync"
	"sync/atomic"

	"moat/platform/syspatch"
)

// Warm sites. A short program's trapped system calls are mostly its
// dynamic loader's, each made once or a few times per program: a sh
// loop's /bin/true trapped 22 times in 14 sites of ld.so (17 times on one
// page of it) and twice in libc, every run, and patchAfter patches none of
// them. So the sites that trapped are remembered across processes, by the
// content of their file (contentKey: the same bytes at the same offset,
// so the instruction boundaries a trap proved there hold in every copy),
// and a process's first trap in such a file's text patches, before they
// run, the sites that trapped in at least warmProcs processes before it,
// on the pages of its mapping that hold at least warmPerPage of them (a
// page's copy costs about what one trap does). Each such site is checked
// as a trapped one is (patchSite: the mapping, the bytes, the number).
//
// Lock order: MemoryManager.mu, then warm.mu.

const (
	warmProcs   = 2
	warmPerPage = 2
	// maxWarmSites bounds what is remembered; sites beyond it are not.
	maxWarmSites = 4096
)

// warmSite is what is remembered of a site.
type warmSite struct {
	nr    uint64 // the system call that trapped there
	procs int    // processes it trapped in
	last  uint64 // the last of them (patches.id)
}

var warm struct {
	mu sync.Mutex
	// files holds the sites of each file (by contentKey), by the file
	// offset of their first byte; n counts them all.
	files map[any]map[int64]*warmSite
	n     int
}

// patchesIDs numbers address spaces' patches (patches.id).
var patchesIDs atomic.Uint64

// noteWarm records that the site at off in file trapped with nr in the
// process whose patches' id is id.
func noteWarm(file any, off int64, nr uint64, id uint64) {
	warm.mu.Lock()
	defer warm.mu.Unlock()
	sites := warm.files[file]
	s := sites[off]
	if s == nil {
		if warm.n >= maxWarmSites {
			return
		}
		if sites == nil {
			if warm.files == nil {
				warm.files = map[any]map[int64]*warmSite{}
			}
			sites = map[int64]*warmSite{}
			warm.files[file] = sites
		}
		s = &warmSite{nr: nr}
		sites[off] = s
		warm.n++
	}
	if s.nr != nr {
		return // (another form of site, syscall(2)'s: not the same call each time)
	}
	if s.last != id {
		s.last = id
		s.procs++
	}
}

// warmSites returns the sites of file, by offset, that trapped in at least
// warmProcs processes, with their numbers.
func warmSites(file any) map[int64]uint64 {
	warm.mu.Lock()
	defer warm.mu.Unlock()
	hot := map[int64]uint64{}
	for off, s := range warm.files[file] {
		if s.procs >= warmProcs {
			hot[off] = s.nr
		}
	}
	return hot
}

// warmUp is PatchSyscall's part for warm sites: it records the trap at
// site, and at the first trap in v's file patches the file's warm sites
// in v.
//
// Preconditions: mm.mu is held; mm.patch is set; the address space has
// a single thread, stopped at site; v is site's VMA, a private text
// mapping of a file.
func (mm *MemoryManager) warmUp(v *vma, site uintptr, nr uint64, entry uintptr) {
	pp := mm.patch
	key, known := pp.keys[v.file]
	if !known {
		if len(pp.keys) >= maxRefused {
			return // (a program that maps ever more files: enough)
		}
		k, keyed := contentKey(v.file)
		if !keyed {
			k = nil
		}
		pp.keys[v.file] = k
		key = k
	}
	if key == nil {
		return
	}
	noteWarm(key, v.off+int64(site-v.start), nr, pp.id)
	if pp.warmed[v.file] {
		return
	}
	pp.warmed[v.file] = true
	hot := warmSites(key)
	perPage := map[uintptr]int{}
	for off := range hot {
		if a, ok := v.addrOf(off); ok {
			perPage[a&^(pageSize-1)]++
		}
	}
	for off, n := range hot {
		a, ok := v.addrOf(off)
		if !ok || a == site || perPage[a&^(pageSize-1)] < warmPerPage {
			continue
		}
		if _, done := pp.sites[a]; done || pp.refused[a] {
			continue
		}
		if !mm.patchSite(a, n, entry) && len(pp.refused) < maxRefused {
			pp.refused[a] = true
		}
	}
}

// addrOf returns where v maps the site at file offset off, if it maps the
// whole site.
func (v *vma) addrOf(off int64) (uintptr, bool) {
	if off < v.off || uint64(off-v.off) > uint64(v.end-v.start) {
		return 0, false
	}
	a := v.start + uintptr(off-v.off)
	return a, a+syspatch.SiteLen <= v.end
}
