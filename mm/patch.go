package mm

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"moat/platform"
	"moat/platform/syspatch"
)

// Syscall-site patching (platform/syspatch): after a system call trapped at
// a recognised sequence such as `mov $NR, %eax; syscall` in the app's text,
// the instruction before the syscall is
// rewritten into a jump to a per-site stub, in a page of stubs that this
// file maps near the site (a "[moat-syscall]" VMA, r-x). Patching happens
// only where nothing can notice but a reader of the code bytes:
//
//   - the platform says the address space has a single thread (the one
//     stopped at the site), so no other is executing the bytes;
//   - the site is in a private file mapping whose permissions are exactly
//     r-x (program and library text, never anonymous memory, so never JIT
//     code; never writable);
//   - the rewritten bytes lie in one cache line, and the sequence in one
//     page (syspatch.Placeable). Each aligned 8-byte word of them is
//     written with one atomic store.
//   - undoing a patch while other threads may run the site: if its bytes
//     lie in one word, one store puts them back; otherwise it is Linux's
//     text_poke_bp order, each step leaving whole instructions: an int3
//     on the first byte, then the rest of the original bytes, then the
//     first. A thread that meets the int3 traps into the sentry, which
//     finds the site whole again and runs it (RestoredSite);
//   - the bytes are a recognised sequence (loading exactly the number that
//     trapped, for a mov to eax), not preceded by a prefix byte.
//
// The page is unshared first (copy-on-write), so the file, other processes
// and the file cache keep the original bytes. Anything that changes the
// site's page or its stubs' page — munmap, mprotect, mremap, a MAP_FIXED
// over it — first restores the original bytes (if they are still the
// patched ones), so a program that makes its text writable finds it as it
// was. A fork copies the patches with the memory; exec drops them.
//
// A site is patched once it has trapped patchAfter times in the address
// space, or, if it trapped in other processes before (the same file's
// content), ahead of its first run (warm.go).

// patchSite is one rewritten site.
type patchSite struct {
	orig    [syspatch.PatchLen]byte // the rewritten bytes before the patch
	patched [syspatch.PatchLen]byte // and after
	stubs   uintptr                 // the stub page the site jumps to
}

// patches is an address space's patched sites and stub pages.
type patches struct {
	sites   map[uintptr]patchSite // by site address
	refused map[uintptr]bool      // sites found unpatchable
	pages   map[uintptr]int       // stub pages: stubs used in each
	traps   map[uintptr]int       // traps so far at sites not yet patched
	// restored are the sites undone with an int3 step while other
	// threads ran (restoreSite), for a thread that trapped on it.
	restored map[uintptr]bool
	// Warm sites (warm.go): this address space's number, the content
	// keys of the text files it trapped in (nil: none), and the files
	// whose warm sites it patched.
	id     uint64
	keys   map[MappableFile]any
	warmed map[MappableFile]bool
}

// int3 is the breakpoint instruction.
const int3 = 0xcc

// maxRefused bounds the memory of refused sites, and of trap counts.
const maxRefused = 4096

// framed lists the calls whose return needs what only a trapped call's
// signal frame gives the platform (FP state, any flags), so that a patched
// site of theirs would cost an extra round trip, not save one: the ones
// that deliver a signal to the caller or restore from one, and the ones
// that make threads or processes. (Measured: patching made signal to self
// 13% slower and pthread create+join 6%, before they were left out.)
var framed = map[uint64]bool{
	unix.SYS_RT_SIGRETURN: true, unix.SYS_RT_SIGSUSPEND: true, unix.SYS_PAUSE: true,
	unix.SYS_KILL: true, unix.SYS_TKILL: true, unix.SYS_TGKILL: true,
	unix.SYS_RT_SIGQUEUEINFO: true, unix.SYS_RT_TGSIGQUEUEINFO: true,
	unix.SYS_CLONE: true, unix.SYS_CLONE3: true, unix.SYS_FORK: true, unix.SYS_VFORK: true,
	unix.SYS_EXECVE: true, unix.SYS_EXECVEAT: true,
}

// patchAfter is the number of traps at a site that gets it patched. A
// patch costs a copy of the text around it (copy-on-write) and a fault to
// map the copy, more than a few trapped calls: most of a program's sites
// run once or twice (its dynamic loader's, its start-up's), and patching
// them all made a fork+exec of /bin/true 20% slower (bench/, shloop and
// exec rows), where a loop's site is patched after two traps anyway.
const patchAfter = 3

// stubPageName names stub pages in /proc/PID/maps.
const stubPageName = "[moat-syscall]"

var textPerms = platform.AccessType{Read: true, Execute: true}

// PatchSyscall considers patching the system-call site that ends at rip,
// where a system call numbered nr has just trapped (platform.Event's
// SyscallInsn). It does nothing unless the platform address space
// implements syspatch.Patcher with patching on.
func (mm *MemoryManager) PatchSyscall(rip uintptr, nr uint64) {
	p, ok := mm.as.(syspatch.Patcher)
	if !ok || framed[nr] || rip < syspatch.SiteLen+1 {
		return
	}
	entry, sole := p.SyscallEntry()
	if entry == 0 || !sole {
		return
	}
	site := rip - syspatch.SiteLen
	mm.mu.Lock()
	defer mm.unlock()
	if mm.patch == nil {
		mm.patch = newPatches()
	}
	pp := mm.patch
	if _, done := pp.sites[site]; done || pp.refused[site] {
		return
	}
	if v := mm.lookupVMA(site); v != nil && v.file != nil && v.private && v.perms == textPerms {
		mm.warmUp(v, site, nr, entry)
	}
	if n := pp.traps[site] + 1; n < patchAfter {
		if len(pp.traps) < maxRefused {
			pp.traps[site] = n
		}
		return
	}
	delete(pp.traps, site)
	if !mm.patchSite(site, nr, entry) && len(pp.refused) < maxRefused {
		pp.refused[site] = true
	}
}

// patchSite checks and patches one site.
//
// Preconditions: mm.mu is held; mm.patch is set.
func (mm *MemoryManager) patchSite(site uintptr, nr uint64, entry uintptr) bool {
	if !syspatch.Placeable(site) {
		return false
	}
	v := mm.lookupVMA(site)
	if v == nil || v.file == nil || !v.private || v.perms != textPerms ||
		site+syspatch.SiteLen > v.limit() {
		return false
	}
	buf, ok := mm.readCode(site-1, 1+syspatch.SiteLen) // with the byte before
	if !ok || !syspatch.Match(buf[0], buf[1:], nr) {
		return false
	}
	stub, ok := mm.stubFor(site)
	if !ok {
		return false
	}
	jmp, ok := syspatch.Jump(site, stub)
	if !ok {
		return false
	}
	orig := [syspatch.PatchLen]byte(buf[1:])
	code := syspatch.Stub(orig, site+syspatch.SiteLen, entry)
	if _, err := mm.access(stub, len(code), platform.NoAccess, true, true, func(b []byte, off int) { copy(b, code[off:]) }); err != nil {
		return false
	}
	// The address space has one thread, stopped here: nothing runs the
	// site while a second word is written.
	if !mm.writeCode(site, jmp[:]) {
		return false
	}
	pp := mm.patch
	pp.pages[stub&^(pageSize-1)]++
	pp.sites[site] = patchSite{orig: orig, patched: jmp, stubs: stub &^ (pageSize - 1)}
	// Map the patched page (a copy now) and the stub page at once: the
	// thread runs through both as soon as it returns, and a fault on
	// each would cost more round trips than the patch saves a program
	// that makes the call only a few more times.
	for _, page := range []uintptr{site &^ (pageSize - 1), stub &^ (pageSize - 1)} {
		if pv := mm.lookupVMA(page); pv != nil {
			mm.mapBacked(pv, page, page+pageSize, false) // a failure leaves it to the fault
		}
	}
	return true
}

// reach bounds the distance from a site to its stub (rel32, with room).
const reach = 1<<31 - 2*pageSize

func inReach(site, stub uintptr) bool {
	if stub > site {
		return stub-site < reach
	}
	return site-stub < reach
}

// stubFor returns room for one more stub within a jump of site, mapping a
// new stub page if needed.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) stubFor(site uintptr) (uintptr, bool) {
	pp := mm.patch
	for page, n := range pp.pages {
		if n < pageSize/syspatch.StubSize && inReach(site, page) {
			return page + uintptr(n)*syspatch.StubSize, true
		}
	}
	if len(mm.vmas)+1 > maxMapCount {
		return 0, false
	}
	page, ok := mm.stubPageNear(site)
	if !ok {
		return 0, false
	}
	mm.insertVMA(&vma{start: page, end: page + pageSize, perms: textPerms, maxPerms: textPerms, private: true, name: stubPageName})
	pp.pages[page] = 0
	return page, true
}

// stubPageNear picks a free page within reach of site: the highest free
// page below the site's mapping (where the program's and libraries' own
// neighbours are, away from the heap, which grows up from above the
// program), else the lowest above it that is not in the way of brk or of
// a stack growing down.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) stubPageNear(site uintptr) (uintptr, bool) {
	i := mm.vmaIndex(site) // the site's VMA
	for j := i; j >= 0; j-- {
		lo := uintptr(minAddr)
		if j > 0 {
			lo = mm.vmas[j-1].end
		}
		top := mm.vmas[j].start
		if j < len(mm.vmas) && mm.vmas[j].growsDown {
			continue
		}
		if top >= lo+pageSize {
			page := top - pageSize
			if !inReach(site, page) {
				return 0, false
			}
			return page, true
		}
	}
	for j := i + 1; j <= len(mm.vmas); j++ {
		page := mm.vmas[j-1].end
		end := mm.maxAddr
		if j < len(mm.vmas) {
			end = mm.vmas[j].start
			if mm.vmas[j].growsDown {
				continue
			}
		}
		if page >= mm.brkStart && page < mm.brkStart+1<<30 {
			page = max(page, mm.brkStart+1<<30)
		}
		if page+pageSize > end {
			continue
		}
		if !inReach(site, page) {
			return 0, false
		}
		return page, true
	}
	return 0, false
}

// unpatch restores the sites whose bytes or stubs are in [start, end),
// before a change there (munmap, mprotect, mremap, MAP_FIXED).
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) unpatch(start, end uintptr) {
	pp := mm.patch
	if pp == nil || len(pp.sites) == 0 && len(pp.pages) == 0 {
		return
	}
	for page := range pp.pages {
		if page < end && page+pageSize > start {
			delete(pp.pages, page)
		}
	}
	for site, s := range pp.sites {
		_, pageKept := pp.pages[s.stubs]
		if pageKept && !(site < end && site+syspatch.PatchLen > start) {
			continue
		}
		delete(pp.sites, site)
		mm.restoreSite(site, s)
	}
}

// restoreSite puts a patched site's original bytes back, if the patched
// ones are still there (a program that made its text writable may have
// written its own). Bytes in one word take one store; bytes in two, with
// other threads that may be running the site, take the int3 steps (see
// the top of this file).
//
// Preconditions: mm.mu is held; mm.patch is set.
func (mm *MemoryManager) restoreSite(site uintptr, s patchSite) {
	cur, ok := mm.readCode(site, syspatch.PatchLen)
	if !ok || [syspatch.PatchLen]byte(cur) != s.patched {
		return
	}
	if syspatch.OneWord(site) || mm.sole() {
		mm.writeCode(site, s.orig[:])
		return
	}
	pp := mm.patch
	if len(pp.restored) >= maxRefused {
		// The threads that trapped on the oldest have long been served.
		clear(pp.restored)
	}
	pp.restored[site] = true
	for _, step := range []struct {
		at uintptr
		b  []byte
	}{{site, []byte{int3}}, {site + 1, s.orig[1:]}, {site, s.orig[:1]}} {
		mm.writeCode(step.at, step.b)
		if restoreStepped != nil {
			restoreStepped()
		}
	}
}

// restoreStepped, if set, runs after each step of an int3 restore (tests).
var restoreStepped func()

// sole reports whether the address space has a single thread (the one
// the caller serves), so that no other runs the code being rewritten.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) sole() bool {
	p, ok := mm.as.(syspatch.Patcher)
	if !ok {
		return false
	}
	_, sole := p.SyscallEntry()
	return sole
}

// RestoredSite reports whether rip, where a thread trapped on an int3, is
// just past the first byte of a site restored with the int3 steps, whole
// again (its first byte no longer the int3): the thread then runs the
// site from its start (rip-1) as if it had never met the int3.
func (mm *MemoryManager) RestoredSite(rip uintptr) bool {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	pp := mm.patch
	if pp == nil || rip == 0 || !pp.restored[rip-1] {
		return false
	}
	b, ok := mm.readCode(rip-1, 1)
	return ok && b[0] != int3
}

// readCode reads n bytes of app memory at addr, whatever its permissions.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) readCode(addr uintptr, n int) ([]byte, bool) {
	buf := make([]byte, n)
	_, err := mm.access(addr, n, platform.NoAccess, true, false, func(b []byte, off int) { copy(buf[off:], b) })
	return buf, err == nil
}

// writeCode writes b to app memory at addr, in its private copy (made
// now, copy-on-write) whatever its permissions, with one atomic store per
// aligned 8-byte word, in address order: an instruction fetch sees each
// word old or new, never half written.
//
// Preconditions: mm.mu is held; b lies in one page.
func (mm *MemoryManager) writeCode(addr uintptr, b []byte) bool {
	for w := addr &^ 7; w < addr+uintptr(len(b)); w += 8 {
		_, err := mm.access(w, 8, platform.NoAccess, true, true, func(word []byte, off int) {
			var v [8]byte
			copy(v[:], word)
			for i := range v {
				if a := w + uintptr(i); a >= addr && a < addr+uintptr(len(b)) {
					v[i] = b[a-addr]
				}
			}
			storeUint64(word, binary.LittleEndian.Uint64(v[:]))
		})
		if err != nil {
			return false
		}
	}
	return true
}

func newPatches() *patches {
	return &patches{sites: map[uintptr]patchSite{}, refused: map[uintptr]bool{}, pages: map[uintptr]int{}, traps: map[uintptr]int{},
		restored: map[uintptr]bool{}, id: patchesIDs.Add(1), keys: map[MappableFile]any{}, warmed: map[MappableFile]bool{}}
}

// forkPatches returns a copy of the patches for a forked address space,
// which has the same memory.
func (pp *patches) fork() *patches {
	if pp == nil {
		return nil
	}
	c := newPatches()
	for k, v := range pp.sites {
		c.sites[k] = v
	}
	for k, v := range pp.pages {
		c.pages[k] = v
	}
	return c
}
