package mm

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"moat/platform"
)

// mappedPages returns how many pages of [start, end) the fake platform maps.
func (a *fakeAS) mappedPages(start, end uintptr) int {
	n := 0
	for p := start; p < end; p += pg {
		if _, ok := a.pages[p]; ok {
			n++
		}
	}
	return n
}

// TestPremapCached checks mapping ahead of use of private mappings of a
// cached file: a fault maps its own chunk, read from the file, and the
// chunks around it that the cache holds (read by another address space
// meanwhile), nothing else; a new mapping is mapped at mmap where cached,
// copy-on-write (no write permission even where the VMA allows it), with
// nothing read; an inaccessible mapping maps nothing; and mprotect maps
// what is backed again with the new permissions instead of leaving it to
// faults.
func TestPremapCached(t *testing.T) {
	e := newEnv(t)
	const w = 0x30000000
	const size = 3 * fileChunk
	f := &cachedFile{fakeFile: newFakeFile(size, 9), key: "k"}
	newSpace := func() *cowSpace {
		m := New(e.mf, newFakeAS(t), testMaxAddr)
		m.SetLayout(testMmapBase, testBrkStart)
		return &cowSpace{mm: m, as: m.as.(*fakeAS)}
	}
	mapIn := func(s *cowSpace, at platform.AccessType) {
		t.Helper()
		if _, err := s.mm.MMap(MMapOpts{Addr: w, Length: size, Fixed: true, Perms: at, MaxPerms: rwx, Private: true, File: f}); err != nil {
			t.Fatal(err)
		}
	}
	a, b := &cowSpace{mm: e.mm, as: e.as}, newSpace()

	// Nothing cached yet: mmap maps nothing and reads nothing.
	mapIn(a, ro)
	mapIn(b, ro)
	if n := a.as.mappedPages(w, w+size) + b.as.mappedPages(w, w+size); n != 0 {
		t.Fatalf("%d pages mapped before anything was cached", n)
	}
	if f.reads != 0 {
		t.Fatalf("mmap read the file %d times", f.reads)
	}
	// b's faults read and map their own chunks only.
	appRead(t, e.mf, b, w)
	if n := b.as.mappedPages(w, w+size); n != int(fileChunk/pg) {
		t.Fatalf("after one fault %d pages are mapped, want the chunk's %d", n, fileChunk/pg)
	}
	appRead(t, e.mf, b, w+2*fileChunk)
	// A fault of a's maps the chunks b's faults cached, too.
	appRead(t, e.mf, a, w+fileChunk)
	for p := uintptr(w); p < w+size; p += pg {
		fp, ok := a.as.pages[p]
		if !ok {
			t.Fatalf("page %#x not mapped after a fault in the chunk next to it", p)
		}
		if bp, ok := b.as.pages[p]; ok && bp.off != fp.off {
			t.Fatalf("page %#x: not the cached copy", p)
		}
	}

	// A new writable mapping of the file is mapped at once, without write
	// permission; a write copies.
	c := newSpace()
	mapIn(c, rw)
	for p := uintptr(w); p < w+size; p += pg {
		fp, ok := c.as.pages[p]
		if !ok || fp.at != ro || fp.off != a.as.pages[p].off {
			t.Fatalf("page %#x premapped %v %v at %#x, want read-only at the cached %#x", p, ok, fp.at, fp.off, a.as.pages[p].off)
		}
	}
	appWrite(t, e.mf, c, w+pg, bytes.Repeat([]byte{0xaa}, int(pg)))
	if !bytes.Equal(appRead(t, e.mf, a, w+pg), f.data[pg:2*pg]) {
		t.Fatal("a write through a premapped page reached the cached copy")
	}

	// mprotect: the backed pages stay mapped, with the new permissions
	// (copy-on-write pages still without write); PROT_NONE unmaps.
	if err := c.mm.MProtect(w, size, unix.PROT_READ|unix.PROT_EXEC); err != nil {
		t.Fatal(err)
	}
	for p := uintptr(w); p < w+size; p += pg {
		if fp, ok := c.as.pages[p]; !ok || fp.at != rx {
			t.Fatalf("page %#x mapped %v %v after mprotect to r-x", p, ok, fp.at)
		}
	}
	if err := c.mm.MProtect(w, size, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		t.Fatal(err)
	}
	if at := c.as.pages[w+cowChunk].at; at != ro { // beyond the copy the write made
		t.Fatalf("a shared cached page is mapped %v after mprotect to rw-", at)
	}
	if at := c.as.pages[w+pg].at; at != rw {
		t.Fatalf("the written (private) page is mapped %v after mprotect to rw-", at)
	}
	if err := c.mm.MProtect(w, size, unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	if n := c.as.mappedPages(w, w+size); n != 0 {
		t.Fatalf("%d pages mapped after mprotect to PROT_NONE", n)
	}

	// An inaccessible mapping of cached pages maps nothing.
	d := newSpace()
	mapIn(d, none)
	if n := d.as.mappedPages(w, w+size); n != 0 {
		t.Fatalf("%d pages of a PROT_NONE mapping are mapped", n)
	}

	if f.reads != 3*int(fileChunk/(256<<10)) {
		t.Fatalf("the file was read %d times, want once per chunk", f.reads)
	}
	for _, s := range []*cowSpace{b, c, d} {
		s.mm.Release()
	}
	if err := e.mm.MUnmap(w, size); err != nil {
		t.Fatal(err)
	}
	DropFileCache(e.mf)
	if got := e.mf.InUse(); got != e.base {
		t.Fatalf("%d bytes in use after everything let go, want %d", got, e.base)
	}
}

// TestStackFaultBacksBelow checks that a fault in a stack maps the pages
// below it, where the stack grows next, not above, where it has been.
func TestStackFaultBacksBelow(t *testing.T) {
	e := newEnv(t)
	const top = 0x7ff000000000
	start := uintptr(top - 64*pg)
	e.mmap(MMapOpts{Addr: start, Length: 64 * pg, Fixed: true, Perms: rw, MaxPerms: rwx, Private: true, GrowsDown: true, Name: "[stack]"})
	if err := e.mm.HandleFault(top-8, wr); err != nil {
		t.Fatal(err)
	}
	want := uintptr(stackChunk)
	if n := e.as.mappedPages(start, top); n != int(want/pg) {
		t.Fatalf("a fault at the top of the stack mapped %d pages, want the %d below it", n, want/pg)
	}
	if _, ok := e.as.pages[top-want]; !ok {
		t.Fatal("the lowest page of the chunk is not mapped")
	}
}

// TestForkWriteProtects checks that fork leaves the parent's written
// memory mapped read-only rather than unmapped, so that only writes fault,
// and that with more pieces than remapMax it unmaps them instead.
func TestForkWriteProtects(t *testing.T) {
	e := newEnv(t)
	const w = 0x30000000
	e.writtenAnon(w, 4*pg)
	child, cas := e.forkChild(0)
	for p := uintptr(w); p < w+4*pg; p += pg {
		if fp, ok := e.as.pages[p]; !ok || fp.at != ro {
			t.Fatalf("parent page %#x after fork: mapped %v %v, want read-only", p, ok, fp.at)
		}
		// The child's address space maps the same pages, read-only,
		// before it runs: its reads do not fault.
		if cp, ok := cas.pages[p]; !ok || cp.at != ro || cp.off != e.as.pages[p].off {
			t.Fatalf("child page %#x after fork: mapped %v %+v, want read-only at the parent's offset", p, ok, cp)
		}
	}
	a := &cowSpace{mm: e.mm, as: e.as}
	appWrite(t, e.mf, a, w, bytes.Repeat([]byte{2}, int(pg)))
	if got := appRead(t, e.mf, &cowSpace{mm: child, as: child.as.(*fakeAS)}, w); got[0] != 1 {
		t.Fatalf("the child sees the parent's write after fork: %d", got[0])
	}
	child.Release()

	// Many pieces: unmapped instead.
	const many = 0x40000000
	for i := uintptr(0); i < remapMax+1; i++ {
		e.anon(many+2*i*pg, pg, rw)
		if err := e.mm.HandleFault(many+2*i*pg, wr); err != nil {
			t.Fatal(err)
		}
	}
	child2, c2as := e.forkChild(0)
	defer child2.Release()
	if n := e.as.mappedPages(many, many+2*(remapMax+1)*pg) + e.as.mappedPages(w, w+4*pg); n != 0 {
		t.Fatalf("%d writable pages still mapped after a fork with %d pieces", n, remapMax+5)
	}
	if n := len(c2as.pages); n != 0 {
		t.Fatalf("the child of a fork with %d pieces has %d pages mapped before it runs, want none", remapMax+5, n)
	}
}

// writtenAnon maps n bytes of anonymous rw- memory at w, filled with 1s
// and mapped writable by write faults, as a process that wrote it has it.
func (e *env) writtenAnon(w, n uintptr) {
	e.anon(w, n, rw)
	e.write(w, bytes.Repeat([]byte{1}, int(n)))
	for p := w; p < w+n; p += pg {
		if err := e.mm.HandleFault(p, wr); err != nil {
			e.t.Fatal(err)
		}
	}
}

// forkChild forks e's memory manager at stack pointer sp and attaches a
// fake address space to the child.
func (e *env) forkChild(sp uintptr) (*MemoryManager, *fakeAS) {
	child, err := e.mm.Fork(sp)
	if err != nil {
		e.t.Fatal(err)
	}
	as := newFakeAS(e.t)
	child.SetAddressSpace(as)
	return child, as
}

// TestForkOwnsStack: the pages at and below the forking thread's stack
// pointer are copied for the child at the fork, so neither the child nor
// the parent faults to write there; the rest stays shared copy-on-write.
func TestForkOwnsStack(t *testing.T) {
	e := newEnv(t)
	const w = 0x30000000
	e.writtenAnon(w, 8*pg)
	sp := uintptr(w + 5*pg + 0x123) // own: pages 4 and 5
	child, cas := e.forkChild(sp)
	defer child.Release()
	for i := uintptr(0); i < 8; i++ {
		p := w + i*pg
		pp, cp := e.as.pages[p], cas.pages[p]
		own := i == 4 || i == 5
		if own && (pp.at != rw || cp.at != rw || pp.off == cp.off) {
			t.Errorf("page %d (at the stack pointer): parent %+v, child %+v; want each its own, writable", i, pp, cp)
		}
		if !own && (pp.at != ro || cp.at != ro || pp.off != cp.off) {
			t.Errorf("page %d: parent %+v, child %+v; want one page, read-only in both", i, pp, cp)
		}
	}
	a, c := &cowSpace{mm: e.mm, as: e.as}, &cowSpace{mm: child, as: cas}
	appWrite(t, e.mf, a, w+5*pg, []byte{2})
	appWrite(t, e.mf, c, w+4*pg, []byte{3})
	if got := appRead(t, e.mf, c, w+5*pg); got[0] != 1 {
		t.Errorf("the child sees the parent's write to its stack: %d", got[0])
	}
	if got := appRead(t, e.mf, a, w+4*pg); got[0] != 1 {
		t.Errorf("the parent sees the child's write to its stack: %d", got[0])
	}
}

// TestDetachedLoad checks the exec path's memory managers: one made by
// NewDetached backs what is written into it and maps nothing until Attach,
// which maps everything backed; Detach frees the memory but hands the
// address space back without releasing it.
func TestDetachedLoad(t *testing.T) {
	e := newEnv(t)
	m := NewDetached(e.mf, testMaxAddr)
	m.SetLayout(testMmapBase, testBrkStart)
	const w = 0x30000000
	// Larger than what mmap backs at once (backEagerly): only what is
	// written gets backing.
	if _, err := m.MMap(MMapOpts{Addr: w, Length: anonChunk + pg, Fixed: true, Perms: rw, MaxPerms: rwx, Private: true}); err != nil {
		t.Fatal(err)
	}
	if err := m.CopyOutForce(w+pg, []byte("loaded")); err != nil {
		t.Fatal(err)
	}
	as := newFakeAS(t)
	if err := m.Attach(as); err != nil {
		t.Fatal(err)
	}
	if n := as.mappedPages(w, w+4*pg); n != 1 {
		t.Fatalf("Attach mapped %d pages, want the 1 written", n)
	}
	s := &cowSpace{mm: m, as: as}
	if got := appRead(t, e.mf, s, w+pg); string(got[:6]) != "loaded" {
		t.Fatalf("read %q through the attached mapping", got[:6])
	}
	if got := m.Detach(); got != as {
		t.Fatalf("Detach returned %v, want the attached address space", got)
	}
	if as.released != 0 {
		t.Fatal("Detach released the address space")
	}
	if got := e.mf.InUse(); got != e.base {
		t.Fatalf("%d bytes in use after Detach, want %d", got, e.base)
	}
	if NewDetached(e.mf, testMaxAddr).Detach() != nil {
		t.Fatal("Detach of a memory manager never attached returned an address space")
	}
}

// TestPrefetch checks that Prefetch fills the file cache from the start of
// the file, up to the length asked for, so that a mapping made afterwards
// is mapped at once without reading the file.
func TestPrefetch(t *testing.T) {
	e := newEnv(t)
	f := &cachedFile{fakeFile: newFakeFile(3*fileChunk+100, 5), key: "prefetch"}
	<-Prefetch(e.mf, f, 2*fileChunk)
	if f.reads == 0 || f.refs != 0 {
		t.Fatalf("after Prefetch: %d reads, %d references held", f.reads, f.refs)
	}
	reads := f.reads
	const w = 0x30000000
	if _, err := e.mm.MMap(MMapOpts{Addr: w, Length: 4 * fileChunk, Fixed: true, Perms: ro, MaxPerms: rwx, Private: true, File: f}); err != nil {
		t.Fatal(err)
	}
	if n := e.as.mappedPages(w, w+4*fileChunk); n != int(2*fileChunk/pg) {
		t.Fatalf("%d pages premapped, want the %d prefetched", n, 2*fileChunk/pg)
	}
	if f.reads != reads {
		t.Fatal("the mapping read the file again")
	}
	if got := appRead(t, e.mf, &cowSpace{mm: e.mm, as: e.as}, w+fileChunk+pg); !bytes.Equal(got, f.data[fileChunk+pg:fileChunk+2*pg]) {
		t.Fatal("a prefetched page does not hold the file's data")
	}
	<-Prefetch(e.mf, &fakeFile{}, 1<<20) // not a CachedFile: nothing to do
	if err := e.mm.MUnmap(w, 4*fileChunk); err != nil {
		t.Fatal(err)
	}
	DropFileCache(e.mf)
}

// TestCopyInBackedAsksNoKey: copying in from file pages that are backed
// already asks the file nothing (its content key is a host fstat): only
// the copy that backs them does. isInt80 on ptrace, and every path an app
// passes from its .rodata, copy in this way.
func TestCopyInBackedAsksNoKey(t *testing.T) {
	e := newEnv(t)
	const w = 0x30000000
	f := &cachedFile{fakeFile: newFakeFile(fileChunk, 5), key: "k"}
	if _, err := e.mm.MMap(MMapOpts{Addr: w, Length: fileChunk, Fixed: true, Perms: ro, MaxPerms: rwx, Private: true, File: f}); err != nil {
		t.Fatal(err)
	}
	var b [16]byte
	if _, err := e.mm.CopyIn(w+100, b[:]); err != nil { // backs the page
		t.Fatal(err)
	}
	asked := f.keys
	for i := 0; i < 5; i++ {
		if _, err := e.mm.CopyIn(w+100, b[:]); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.keys - asked; n != 0 {
		t.Errorf("five copies in from a backed page asked the file's content key %d times, want 0", n)
	}
	if want := f.data[100:116]; string(b[:]) != string(want) {
		t.Errorf("copied in %x, want %x", b, want)
	}
	if err := e.mm.MUnmap(w, fileChunk); err != nil {
		t.Fatal(err)
	}
	DropFileCache(e.mf)
}

// TestBackEagerly checks what mmap and copies map before any fault: a
// small anonymous mapping is backed and mapped whole (a larger one, a
// PROT_NONE one and a stack are not); a small writable private mapping of
// a cached file gets pages of its own, mapped writable, that a write does
// not take to the cache (a read-only one stays on the cache's copy); and
// memory a copy backs is mapped.
func TestBackEagerly(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 4*pg, rw)
	e.anon(x+anonChunk, anonChunk+pg, rw)
	e.anon(x+4*anonChunk, pg, none)
	e.mmap(MMapOpts{Addr: x + 6*anonChunk, Length: 2 * pg, Fixed: true, Perms: rw, MaxPerms: rwx, Private: true, GrowsDown: true, Name: "[stack]"})
	if n := e.as.mappedPages(x, x+4*pg); n != 4 {
		t.Errorf("a 4-page anonymous mapping has %d pages mapped after mmap, want 4", n)
	}
	for p := uintptr(x); p < x+4*pg; p += pg {
		if at := e.as.pages[p].at; at != rw {
			t.Errorf("page %#x mapped %v, want %v", p, at, rw)
		}
	}
	for _, r := range []struct {
		what       string
		start, end uintptr
	}{
		{"a mapping larger than a fault chunk", x + anonChunk, x + 2*anonChunk + pg},
		{"a PROT_NONE mapping", x + 4*anonChunk, x + 4*anonChunk + pg},
		{"a stack", x + 6*anonChunk, x + 6*anonChunk + 2*pg},
	} {
		if n := e.as.mappedPages(r.start, r.end); n != 0 {
			t.Errorf("%s has %d pages mapped after mmap, want none", r.what, n)
		}
	}
	// Not once the memory file is half full (1 GiB here).
	big, err := e.mf.Allocate(1<<29 + pg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.mm.MMap(MMapOpts{Addr: x + 8*anonChunk, Length: pg, Fixed: true, Perms: rw, MaxPerms: rwx, Private: true}); err != nil {
		t.Fatal(err)
	}
	if n := e.as.mappedPages(x+8*anonChunk, x+8*anonChunk+pg); n != 0 {
		t.Errorf("a small mapping was backed with the memory file half full")
	}
	e.mf.Free(big)
	// A copy that backs memory maps it.
	if _, err := e.mm.CopyOut(x+anonChunk+pg, []byte("sentry")); err != nil {
		t.Fatal(err)
	}
	if at, ok := e.as.pages[x+anonChunk+pg]; !ok || at.at != rw {
		t.Errorf("the page a copy backed is mapped %v %v, want %v", ok, at.at, rw)
	}

	// Data segments of a cached file.
	const w = 0x30000000
	f := &cachedFile{fakeFile: newFakeFile(fileChunk, 7), key: "data"}
	defer DropFileCache(e.mf)
	if _, err := e.mm.MMap(MMapOpts{Addr: w, Length: 2 * pg, Fixed: true, Perms: ro, MaxPerms: rwx, Private: true, File: f}); err != nil {
		t.Fatal(err)
	}
	if n := e.as.mappedPages(w, w+2*pg); n != 0 {
		t.Fatalf("%d pages of an uncached file mapped at mmap", n)
	}
	e.mm.HandleFault(w, platform.Read) // caches f's chunk
	cached := e.as.pages[w]
	if _, err := e.mm.MMap(MMapOpts{Addr: w + fileChunk, Length: 2 * pg, Fixed: true, Perms: rw, MaxPerms: rwx, Private: true, File: f, Offset: 0}); err != nil {
		t.Fatal(err)
	}
	own := e.as.pages[w+fileChunk]
	if own.at != rw || own.off == cached.off {
		t.Fatalf("a small writable mapping of a cached file is mapped %v at %#x, want writable pages of its own (the cache's is at %#x)", own.at, own.off, cached.off)
	}
	s := &cowSpace{mm: e.mm, as: e.as}
	if got := appRead(t, e.mf, s, w+fileChunk); !bytes.Equal(got, f.data[:pg]) {
		t.Fatal("the copied page does not hold the file's data")
	}
	appWrite(t, e.mf, s, w+fileChunk, bytes.Repeat([]byte{0xbb}, int(pg)))
	if got := appRead(t, e.mf, s, w); !bytes.Equal(got, f.data[:pg]) {
		t.Fatal("a write to the copied data segment reached the cached copy")
	}

	// A fork's child has no address space until its thread gives it
	// one: a copy into it (CLONE_CHILD_SETTID) backs without mapping.
	child, err := e.mm.Fork(x)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	if _, err := child.CopyOut(x+2*anonChunk-pg, []byte{1, 2, 3, 4}); err != nil {
		t.Fatalf("copy into a fork's child before its address space: %v", err)
	}
}

// TestExecMappingPrefetch: mmap of a cached file with execute permission
// (a library's text) reads the chunks of its range into the cache in the
// background, before any fault; other chunks of the file, and mappings
// without execute permission, are left to faults.
func TestExecMappingPrefetch(t *testing.T) {
	e := newEnv(t)
	defer DropFileCache(e.mf)
	f := &cachedFile{fakeFile: newFakeFile(4*fileChunk, 11), key: "text"}
	fc := cacheOf(e.mf)
	cached := func(c int64) bool {
		fc.mu.Lock()
		defer fc.mu.Unlock()
		en, ok := fc.entries[cacheKey{f.key, c}]
		return ok && en.loading == nil
	}
	const w = 0x30000000
	e.mmap(MMapOpts{Addr: w, Length: fileChunk, Fixed: true, Perms: ro, MaxPerms: rwx, Private: true, File: f, Offset: 3 * fileChunk})
	// Not e.mmap, whose accounting check would race with the read-ahead
	// it starts (the cache's chunks are in the memory file's use, not
	// yet in any pma): the cleanup checks once it is done.
	if _, err := e.mm.MMap(MMapOpts{Addr: w + 4*fileChunk, Length: 2 * fileChunk, Fixed: true, Perms: rx, MaxPerms: rwx, Private: true, File: f, Offset: fileChunk}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !cached(1) || !cached(2); {
		if time.Now().After(deadline) {
			t.Fatal("the chunks of an executable mapping were not read ahead")
		}
		time.Sleep(time.Millisecond)
	}
	if cached(0) || cached(3) {
		t.Fatal("chunks outside the executable mapping were read ahead")
	}
	if n := e.as.mappedPages(w+4*fileChunk, w+6*fileChunk); n != 0 {
		t.Fatalf("read-ahead mapped %d pages; mapping is left to faults", n)
	}
}
