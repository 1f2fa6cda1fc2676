package mm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"moat/memory"
	"moat/platform"
)

const (
	pg = uintptr(pageSize)

	// Like the ptrace platform: the last page below 0x7ffffffff000 holds
	// its code page.
	testMaxAddr  = 0x7ffffffff000 - 0x1000
	testMmapBase = 0x7f0000000000
	testBrkStart = 0x600000
)

var (
	rw   = platform.ReadWrite
	ro   = platform.Read
	rwx  = platform.AnyAccess
	none = platform.NoAccess
	rx   = platform.AccessType{Read: true, Execute: true}
	wr   = platform.AccessType{Write: true}
	ex   = platform.AccessType{Execute: true}
)

// --- Fake platform address space. ---

type fakePage struct {
	off  int64 // memory-file offset mapped at this page (host: file offset)
	at   platform.AccessType
	host any // the host file's key if a host file is mapped (hostAS)
}

type mapCall struct {
	addr uintptr
	fr   platform.FileRange
	at   platform.AccessType
}

type callRange struct{ addr, length uintptr }

// fakeAS implements platform.AddressSpace without a process: it records
// calls and keeps a page table of what would be mapped.
type fakeAS struct {
	t        *testing.T
	pages    map[uintptr]fakePage
	maps     []mapCall
	unmaps   []callRange
	protects []callRange
	released int
}

func newFakeAS(t *testing.T) *fakeAS {
	return &fakeAS{t: t, pages: map[uintptr]fakePage{}}
}

func (a *fakeAS) MapFile(addr uintptr, fr platform.FileRange, at platform.AccessType) error {
	if addr%pg != 0 || fr.Length == 0 || fr.Length%pg != 0 || fr.Offset%int64(pg) != 0 || fr.Offset < 0 {
		a.t.Errorf("MapFile(%#x, %+v, %v): unaligned or empty", addr, fr, at)
	}
	if addr+fr.Length < addr || addr+fr.Length > testMaxAddr {
		a.t.Errorf("MapFile(%#x, %+v, %v): beyond the user range", addr, fr, at)
	}
	a.maps = append(a.maps, mapCall{addr, fr, at})
	for o := uintptr(0); o < fr.Length; o += pg {
		a.pages[addr+o] = fakePage{off: fr.Offset + int64(o), at: at}
	}
	return nil
}

func (a *fakeAS) Unmap(addr, length uintptr) error {
	if addr%pg != 0 || length%pg != 0 || addr+length < addr {
		a.t.Errorf("Unmap(%#x, %#x): unaligned", addr, length)
	}
	a.unmaps = append(a.unmaps, callRange{addr, length})
	for p := range a.pages {
		if p >= addr && p < addr+length {
			delete(a.pages, p)
		}
	}
	return nil
}

func (a *fakeAS) Protect(addr, length uintptr, at platform.AccessType) error {
	a.protects = append(a.protects, callRange{addr, length})
	for p, fp := range a.pages {
		if p >= addr && p < addr+length {
			fp.at = at
			a.pages[p] = fp
		}
	}
	return nil
}

func (a *fakeAS) Release() { a.released++ }

func (a *fakeAS) Interrupt() {}

func (*fakeAS) Kick() {}

// unmapped reports whether an Unmap call covered [addr, addr+length).
func (a *fakeAS) unmapped(addr, length uintptr) bool {
	for _, u := range a.unmaps {
		if u.addr <= addr && addr+length <= u.addr+u.length {
			return true
		}
	}
	return false
}

// --- Fake mappable file. ---

type fakeFile struct {
	name      string
	dev, ino  uint64
	data      []byte
	refs      int // references held by VMAs (mm.RefCounted)
	underflow bool
	reads     int // ReadAt calls
}

func (f *fakeFile) IncRef() { f.refs++ }

func (f *fakeFile) DecRef() {
	f.refs--
	if f.refs < 0 {
		f.underflow = true
	}
}

func (f *fakeFile) ReadAt(dst []byte, off int64) (int, error) {
	f.reads++
	if off < 0 {
		return 0, unix.EINVAL
	}
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(dst, f.data[off:])
	if n < len(dst) {
		return n, io.EOF
	}
	return n, nil
}

func (f *fakeFile) MapInfo() (string, uint64, uint64, int64) {
	return f.name, f.dev, f.ino, int64(len(f.data))
}

func newFakeFile(n int, seed byte) *fakeFile {
	return &fakeFile{name: "/test/file", dev: unix.Mkdev(8, 1), ino: 1234, data: pattern(n, seed)}
}

// --- Test environment. ---

type env struct {
	t    *testing.T
	mf   *memory.File
	as   *fakeAS
	mm   *MemoryManager
	base int64 // mf.InUse() before the memory manager existed
}

func newEnv(t *testing.T) *env {
	t.Helper()
	mf, err := memory.New("test", 1<<30)
	if err != nil {
		t.Fatalf("memory.New: %v", err)
	}
	as := newFakeAS(t)
	m := New(mf, as, testMaxAddr)
	m.SetLayout(testMmapBase, testBrkStart)
	e := &env{t: t, mf: mf, as: as, mm: m, base: mf.InUse()}
	t.Cleanup(func() {
		if !t.Failed() && m.as != nil {
			e.check()
		}
	})
	return e
}

// pattern returns n bytes that differ between seeds and positions.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+i/4093) ^ seed
		if b[i] == 0 {
			b[i] = seed | 1
		}
	}
	return b
}

func (e *env) mmap(o MMapOpts) uintptr {
	e.t.Helper()
	addr, err := e.mm.MMap(o)
	if err != nil {
		e.t.Fatalf("MMap(%+v): %v", o, err)
	}
	e.check()
	return addr
}

// anon maps anonymous private memory at exactly addr.
func (e *env) anon(addr, length uintptr, at platform.AccessType) uintptr {
	e.t.Helper()
	got := e.mmap(MMapOpts{Addr: addr, Length: length, Fixed: true, Perms: at, MaxPerms: rwx, Private: true})
	if got != addr {
		e.t.Fatalf("MAP_FIXED at %#x returned %#x", addr, got)
	}
	return got
}

func (e *env) write(addr uintptr, b []byte) {
	e.t.Helper()
	if n, err := e.mm.CopyOut(addr, b); err != nil || n != len(b) {
		e.t.Fatalf("CopyOut(%#x, %d bytes) = %d, %v", addr, len(b), n, err)
	}
}

func (e *env) read(addr uintptr, n int) []byte {
	e.t.Helper()
	b := make([]byte, n)
	if got, err := e.mm.CopyIn(addr, b); err != nil || got != n {
		e.t.Fatalf("CopyIn(%#x, %d bytes) = %d, %v", addr, n, got, err)
	}
	return b
}

func (e *env) expectBytes(addr uintptr, want []byte) {
	e.t.Helper()
	if got := e.read(addr, len(want)); !bytes.Equal(got, want) {
		i := 0
		for i < len(want) && got[i] == want[i] {
			i++
		}
		e.t.Fatalf("memory at %#x differs from byte %d (%#x): got %#x, want %#x", addr, i, addr+uintptr(i), got[i], want[i])
	}
}

func (e *env) expectZero(addr uintptr, n int) {
	e.t.Helper()
	e.expectBytes(addr, make([]byte, n))
}

func (e *env) expectFault(addr uintptr, n int) {
	e.t.Helper()
	if got, err := e.mm.CopyIn(addr, make([]byte, n)); !errors.Is(err, unix.EFAULT) || got != 0 {
		e.t.Fatalf("CopyIn(%#x, %d) = %d, %v; want 0, EFAULT", addr, n, got, err)
	}
}

// peek reads memory regardless of permissions.
func (e *env) peek(addr uintptr, n int) ([]byte, error) {
	b := make([]byte, n)
	e.mm.mu.Lock()
	defer e.mm.mu.Unlock()
	_, err := e.mm.access(addr, n, platform.NoAccess, true, false, func(s []byte, off int) { copy(b[off:], s) })
	return b, err
}

// mapsLines returns Maps() split into lines.
func (e *env) mapsLines() []string {
	return strings.Split(strings.TrimSuffix(e.mm.Maps(), "\n"), "\n")
}

// vmaList describes the VMAs as "start-end perms" strings.
func (e *env) vmaList() []string {
	e.mm.mu.Lock()
	defer e.mm.mu.Unlock()
	var out []string
	for _, v := range e.mm.vmas {
		out = append(out, fmt.Sprintf("%#x-%#x %v", v.start, v.end, v.perms))
	}
	return out
}

func (e *env) expectVMAs(want ...string) {
	e.t.Helper()
	if got := e.vmaList(); strings.Join(got, "; ") != strings.Join(want, "; ") {
		e.t.Fatalf("VMAs:\n  got  %s\n  want %s", strings.Join(got, "; "), strings.Join(want, "; "))
	}
}

func vmaStr(start, end uintptr, at platform.AccessType) string {
	return fmt.Sprintf("%#x-%#x %v", start, end, at)
}

// check verifies the memory manager's invariants and its agreement with
// the fake address space and the memory file.
func (e *env) check() {
	t := e.t
	t.Helper()
	m := e.mm
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, v := range m.vmas {
		if v.start >= v.end || v.start%pg != 0 || v.end%pg != 0 || v.start < minFixedAddr || v.end > m.maxAddr {
			t.Fatalf("bad VMA %d: %#x-%#x", i, v.start, v.end)
		}
		if i > 0 {
			p := m.vmas[i-1]
			if p.end > v.start {
				t.Fatalf("VMAs overlap: %#x-%#x and %#x-%#x", p.start, p.end, v.start, v.end)
			}
			if canMerge(p, v) {
				t.Fatalf("VMAs %#x-%#x and %#x-%#x should have been merged", p.start, p.end, v.start, v.end)
			}
		}
		if v.file != nil && v.off%int64(pg) != 0 {
			t.Fatalf("VMA %#x-%#x has unaligned file offset %#x", v.start, v.end, v.off)
		}
	}
	// Each VMA holds exactly one reference to its file.
	refs := map[*fakeFile]int{}
	for _, v := range m.vmas {
		if f, ok := v.file.(*fakeFile); ok {
			refs[f]++
		}
	}
	for f, n := range refs {
		if f.refs != n || f.underflow {
			t.Fatalf("file %s has %d references (underflow %v), %d VMAs map it", f.name, f.refs, f.underflow, n)
		}
	}
	vmaAt := func(addr uintptr) *vma {
		i := m.vmaIndex(addr)
		if i < len(m.vmas) && m.vmas[i].start <= addr {
			return m.vmas[i]
		}
		return nil
	}
	var backed uintptr
	var frs []platform.FileRange
	for i, p := range m.pmas {
		if p.start >= p.end || p.start%pg != 0 || p.end%pg != 0 || p.off%int64(pg) != 0 {
			t.Fatalf("bad pma %d: %+v", i, p)
		}
		if i > 0 && m.pmas[i-1].end > p.start {
			t.Fatalf("pmas overlap: %+v and %+v", m.pmas[i-1], p)
		}
		for a := p.start; a < p.end; a += pg {
			v := vmaAt(a)
			if v == nil {
				t.Fatalf("pma %+v backs %#x, which is in no VMA", p, a)
			}
			if a >= v.limit() {
				t.Fatalf("pma %+v backs %#x, beyond the end of the mapped file", p, a)
			}
		}
		if p.host != nil {
			if !p.cow {
				t.Fatalf("host pma %+v is not copy-on-write", p)
			}
			continue // the host's pages, not the memory file's
		}
		backed += p.end - p.start
		frs = append(frs, platform.FileRange{Offset: p.off, Length: p.end - p.start})
	}
	sort.Slice(frs, func(i, j int) bool { return frs[i].Offset < frs[j].Offset })
	for i := 1; i < len(frs); i++ {
		if frs[i-1].Offset+int64(frs[i-1].Length) > frs[i].Offset {
			t.Fatalf("two pmas share memory-file pages: %+v %+v", frs[i-1], frs[i])
		}
	}
	if got := e.mf.InUse() - e.base; got != int64(backed) {
		t.Fatalf("memory file has %#x bytes in use, pmas back %#x", got, backed)
	}
	// Everything the platform maps must be what the VMAs and pmas say:
	// a stale mapping would let the app reach freed or foreign memory.
	for a, fp := range e.as.pages {
		v := vmaAt(a)
		if v == nil {
			t.Fatalf("platform maps %#x, which is in no VMA", a)
		}
		i := m.pmaIndex(a)
		if i == len(m.pmas) || m.pmas[i].start > a {
			t.Fatalf("platform maps %#x, which has no backing", a)
		}
		// Copy-on-write pages are mapped without write permission
		// until a write copies or takes them.
		if want := m.pmas[i].mapPerms(v.perms); fp.at != want {
			t.Fatalf("platform maps %#x %v, VMA and pma say %v", a, fp.at, want)
		}
		if want := m.pmas[i].off + int64(a-m.pmas[i].start); fp.off != want {
			t.Fatalf("platform maps %#x at file offset %#x, pma says %#x", a, fp.off, want)
		}
		if h := m.pmas[i].host; (h == nil) != (fp.host == nil) || h != nil && h.Key != fp.host {
			t.Fatalf("platform maps %#x from host file %v, pma says %+v", a, fp.host, h)
		}
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// --- mmap. ---

func TestMMapTopDownBelowBase(t *testing.T) {
	e := newEnv(t)
	a := e.mmap(MMapOpts{Length: 3 * pg, Perms: rw, MaxPerms: rwx, Private: true})
	if a != testMmapBase-3*pg {
		t.Fatalf("first mapping at %#x, want %#x (just below the mmap base)", a, testMmapBase-3*pg)
	}
	b := e.mmap(MMapOpts{Length: 1, Perms: ro, MaxPerms: rwx, Private: true}) // rounded up to a page
	if b != a-pg {
		t.Fatalf("second mapping at %#x, want %#x", b, a-pg)
	}
	c := e.mmap(MMapOpts{Length: 2 * pg, Perms: ro, MaxPerms: rwx, Private: true})
	if c != b-2*pg {
		t.Fatalf("third mapping at %#x, want %#x", c, b-2*pg)
	}
	// b and c are compatible neighbours: one VMA, like Linux.
	e.expectVMAs(vmaStr(c, a, ro), vmaStr(a, testMmapBase, rw))
	// Freeing a hole lets the next mapping fill it (top-down, highest fit).
	if err := e.mm.MUnmap(a, 3*pg); err != nil {
		t.Fatal(err)
	}
	if d := e.mmap(MMapOpts{Length: 2 * pg, Perms: rw, MaxPerms: rwx, Private: true}); d != testMmapBase-2*pg {
		t.Fatalf("mapping after munmap at %#x, want %#x", d, testMmapBase-2*pg)
	}
}

func TestMMapHint(t *testing.T) {
	e := newEnv(t)
	const hint = 0x40000000
	if a := e.mmap(MMapOpts{Addr: hint, Length: 2 * pg, Perms: rw, MaxPerms: rwx, Private: true}); a != hint {
		t.Fatalf("free hint %#x not honoured: got %#x", hint, a)
	}
	// An occupied hint is ignored; the mapping goes elsewhere.
	a := e.mmap(MMapOpts{Addr: hint + pg, Length: 2 * pg, Perms: rw, MaxPerms: rwx, Private: true})
	if a < hint+2*pg && hint < a+2*pg {
		t.Fatalf("mapping at %#x overlaps the existing one at %#x", a, hint)
	}
	if a != testMmapBase-2*pg {
		t.Fatalf("mapping with an occupied hint at %#x, want the top-down default %#x", a, testMmapBase-2*pg)
	}
	// An unaligned hint is rounded down (x86 arch_get_unmapped_area).
	if a := e.mmap(MMapOpts{Addr: 0x50000123, Length: pg, Perms: rw, MaxPerms: rwx, Private: true}); a != 0x50000000 {
		t.Fatalf("unaligned hint 0x50000123: got %#x, want 0x50000000", a)
	}
	// A hint below mmap_min_addr or running past the user range is ignored.
	for _, h := range []uintptr{0x1000, testMaxAddr - pg} {
		a := e.mmap(MMapOpts{Addr: h, Length: 2 * pg, Perms: rw, MaxPerms: rwx, Private: true})
		if a == h || a < minAddr || a+2*pg > testMaxAddr {
			t.Fatalf("bad hint %#x: got %#x", h, a)
		}
	}
}

func TestMMapFixedReplaces(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 4*pg, rw)
	data := pattern(int(4*pg), 1)
	e.write(x, data)
	if err := e.mm.HandleFault(x+pg, platform.Read); err != nil { // the page is mapped in the platform too
		t.Fatal(err)
	}
	e.anon(x+pg, pg, ro)
	if !e.as.unmapped(x+pg, pg) {
		t.Fatalf("MAP_FIXED did not unmap the replaced page from the platform; unmaps %+v", e.as.unmaps)
	}
	e.expectZero(x+pg, int(pg))
	e.expectBytes(x, data[:pg])
	e.expectBytes(x+2*pg, data[2*pg:])
	e.expectVMAs(vmaStr(x, x+pg, rw), vmaStr(x+pg, x+2*pg, ro), vmaStr(x+2*pg, x+4*pg, rw))
	// Replacing everything, across VMAs, leaves one fresh zeroed VMA.
	e.anon(x-pg, 6*pg, rwx)
	e.expectVMAs(vmaStr(x-pg, x+5*pg, rwx))
	e.expectZero(x-pg, int(6*pg))
}

func TestMMapFixedNoReplace(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 2*pg, rw)
	e.write(x, []byte("keep"))
	for _, r := range []callRange{{x, 2 * pg}, {x - pg, 2 * pg}, {x + pg, 4 * pg}, {x - pg, 8 * pg}} {
		_, err := e.mm.MMap(MMapOpts{Addr: r.addr, Length: r.length, NoReplace: true, Perms: ro, MaxPerms: rwx, Private: true})
		wantErr(t, fmt.Sprintf("MAP_FIXED_NOREPLACE at %#x+%#x", r.addr, r.length), err, unix.EEXIST)
	}
	e.expectVMAs(vmaStr(x, x+2*pg, rw))
	e.expectBytes(x, []byte("keep"))
	// Right next to it is free.
	if a := e.mmap(MMapOpts{Addr: x + 2*pg, Length: pg, NoReplace: true, Perms: ro, MaxPerms: rwx, Private: true}); a != x+2*pg {
		t.Fatalf("MAP_FIXED_NOREPLACE in free space at %#x, want %#x", a, x+2*pg)
	}
}

func TestMMapErrors(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name string
		o    MMapOpts
		want error
	}{
		{"unaligned fixed", MMapOpts{Addr: 0x10000010, Length: pg, Fixed: true}, unix.EINVAL},
		{"unaligned noreplace", MMapOpts{Addr: 0x10000010, Length: pg, NoReplace: true}, unix.EINVAL},
		{"fixed beyond MaxAddr", MMapOpts{Addr: testMaxAddr - pg, Length: 2 * pg, Fixed: true}, unix.ENOMEM},
		{"fixed at MaxAddr", MMapOpts{Addr: testMaxAddr, Length: pg, Fixed: true}, unix.ENOMEM},
		{"fixed wrapping", MMapOpts{Addr: ^uintptr(0) &^ (pg - 1), Length: 2 * pg, Fixed: true}, unix.ENOMEM},
		{"length beyond MaxAddr", MMapOpts{Length: testMaxAddr + pg}, unix.ENOMEM},
		{"length rounding to 0", MMapOpts{Length: ^uintptr(0)}, unix.ENOMEM},
		{"length 0", MMapOpts{Length: 0}, unix.ENOMEM},
	} {
		c.o.Perms, c.o.MaxPerms, c.o.Private = rw, rwx, true
		_, err := e.mm.MMap(c.o)
		wantErr(t, c.name, err, c.want)
	}
	_, err := e.mm.MMap(MMapOpts{Addr: 0, Length: pg, Fixed: true, Perms: rw, MaxPerms: rwx, Private: true})
	wantErr(t, "MAP_FIXED at page zero", err, unix.EPERM)
	if got := e.vmaList(); len(got) != 0 {
		t.Fatalf("failed mmaps left VMAs: %v", got)
	}
	// The sandbox's root may map below mmap_min_addr, but never page zero.
	e.anon(pg, pg, rw)
	if err := e.mm.MUnmap(pg, pg); err != nil {
		t.Fatal(err)
	}
	// The last page below MaxAddr is usable.
	e.anon(testMaxAddr-pg, pg, rw)
}

func TestMMapGapAroundStraddlingBase(t *testing.T) {
	e := newEnv(t)
	// A mapping that straddles the mmap base must not be handed out again.
	e.anon(testMmapBase-pg, 2*pg, rw)
	a := e.mmap(MMapOpts{Length: pg, Perms: ro, MaxPerms: rwx, Private: true})
	if a != testMmapBase-2*pg {
		t.Fatalf("mapping at %#x, want %#x (below the straddling mapping)", a, testMmapBase-2*pg)
	}
}

func TestMMapBottomUpWhenNoRoomBelowBase(t *testing.T) {
	e := newEnv(t)
	base := uintptr(minAddr + 2*pg)
	e.mm.SetLayout(base, testBrkStart)
	a := e.mmap(MMapOpts{Length: 4 * pg, Perms: rw, MaxPerms: rwx, Private: true})
	if a != base {
		t.Fatalf("mapping at %#x, want %#x (bottom-up above the base)", a, base)
	}
	b := e.mmap(MMapOpts{Length: 2 * pg, Perms: ro, MaxPerms: rwx, Private: true})
	if b != minAddr {
		t.Fatalf("mapping at %#x, want %#x (the 2 pages below the base)", b, minAddr)
	}
	c := e.mmap(MMapOpts{Length: 4 * pg, Perms: ro, MaxPerms: rwx, Private: true})
	if c != base+4*pg {
		t.Fatalf("mapping at %#x, want %#x", c, base+4*pg)
	}
}

// --- Copy in and out. ---

func TestCopyRoundTripAcrossPagesAndVMAs(t *testing.T) {
	e := newEnv(t)
	const x = 0x20000000 - 3*pg // the second VMA crosses a 2 MiB fault chunk
	e.anon(x, 3*pg, rw)
	e.anon(x+3*pg, 2*pg, rwx)
	e.expectVMAs(vmaStr(x, x+3*pg, rw), vmaStr(x+3*pg, x+5*pg, rwx))
	data := pattern(int(5*pg-100), 3)
	e.write(x+50, data)
	e.expectBytes(x+50, data)
	e.expectZero(x, 50)
	e.expectZero(x+5*pg-50, 50)
	// A window straddling the VMA boundary.
	e.expectBytes(x+3*pg-10, data[3*pg-60:3*pg-60+20])
	// The platform mapping of a faulted page shows the same bytes as
	// CopyIn: both views are one memory-file page.
	if err := e.mm.HandleFault(x+3*pg+5, platform.Read); err != nil {
		t.Fatal(err)
	}
	fp, ok := e.as.pages[x+3*pg]
	if !ok {
		t.Fatalf("page %#x not mapped after fault", x+3*pg)
	}
	view := e.mf.Bytes(platform.FileRange{Offset: fp.off, Length: pg})
	if !bytes.Equal(view, data[3*pg-50:4*pg-50]) {
		t.Fatalf("platform-mapped page does not hold the copied data")
	}
	// Writes through the memory file (the app) are seen by CopyIn.
	copy(view, "from the app")
	e.expectBytes(x+3*pg, []byte("from the app"))
	// Empty copies always succeed.
	if n, err := e.mm.CopyIn(0, nil); n != 0 || err != nil {
		t.Fatalf("empty CopyIn = %d, %v", n, err)
	}
}

func TestCopyEFAULT(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 2*pg, rw)
	e.anon(x+4*pg, pg, none)
	e.anon(x+6*pg, pg, ro)

	e.expectFault(x+2*pg, 1)             // unmapped
	e.expectFault(x-1, 1)                // unmapped, below
	e.expectFault(x+4*pg, 8)             // PROT_NONE
	e.expectFault(0, 8)                  // NULL
	e.expectFault(testMaxAddr, 1)        // beyond the user range
	e.expectFault(^uintptr(0)-3, 8)      // wrapping
	e.expectFault(0xffff800000000000, 1) // kernel half
	if n, err := e.mm.CopyOut(x+4*pg, []byte{1}); !errors.Is(err, unix.EFAULT) || n != 0 {
		t.Fatalf("CopyOut to PROT_NONE = %d, %v", n, err)
	}
	if n, err := e.mm.CopyOut(x+6*pg, []byte{1}); !errors.Is(err, unix.EFAULT) || n != 0 {
		t.Fatalf("CopyOut to read-only = %d, %v", n, err)
	}
	e.expectZero(x+6*pg, 16) // reading read-only memory is fine

	// A copy running off the end of a mapping copies what it can.
	e.write(x+2*pg-10, pattern(10, 9))
	buf := make([]byte, 20)
	n, err := e.mm.CopyIn(x+2*pg-10, buf)
	if !errors.Is(err, unix.EFAULT) || n != 10 || !bytes.Equal(buf[:10], pattern(10, 9)) {
		t.Fatalf("partial CopyIn = %d, %v, %x", n, err, buf)
	}
	n, err = e.mm.CopyOut(x+2*pg-4, []byte("abcdefgh"))
	if !errors.Is(err, unix.EFAULT) || n != 4 {
		t.Fatalf("partial CopyOut = %d, %v; want 4, EFAULT", n, err)
	}
	e.expectBytes(x+2*pg-4, []byte("abcd"))
	// A copy that starts in the user range and runs past MaxAddr.
	e.anon(testMaxAddr-pg, pg, rw)
	n, err = e.mm.CopyIn(testMaxAddr-8, make([]byte, 16))
	if !errors.Is(err, unix.EFAULT) || n != 8 {
		t.Fatalf("CopyIn across MaxAddr = %d, %v; want 8, EFAULT", n, err)
	}
	// Faulting copies never map anything in the platform: what is
	// mapped, mmap mapped (backEagerly), the accessible mappings whole.
	for _, m := range e.as.maps {
		if m.addr != x && m.addr != x+6*pg && m.addr != testMaxAddr-pg {
			t.Fatalf("copies called MapFile: %+v", e.as.maps)
		}
	}
}

func TestCopyOutForce(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 2*pg, ro)
	e.anon(x+2*pg, pg, none)
	if err := e.mm.CopyOutForce(x+pg-3, []byte("loader")); err != nil {
		t.Fatalf("CopyOutForce to read-only: %v", err)
	}
	e.expectBytes(x+pg-3, []byte("loader"))
	if err := e.mm.CopyOutForce(x+2*pg, []byte("x")); err != nil {
		t.Fatalf("CopyOutForce to PROT_NONE: %v", err)
	}
	if b, _ := e.peek(x+2*pg, 1); b[0] != 'x' {
		t.Fatalf("CopyOutForce to PROT_NONE wrote %q", b)
	}
	wantErr(t, "CopyOutForce to unmapped", e.mm.CopyOutForce(x+3*pg, []byte("x")), unix.EFAULT)
	if err := e.mm.ZeroForce(x+pg-1, 2); err != nil {
		t.Fatal(err)
	}
	e.expectBytes(x+pg-3, []byte("lo\x00\x00er"))
	wantErr(t, "ZeroForce to unmapped", e.mm.ZeroForce(x+3*pg-1, 2), unix.EFAULT)
}

func TestCopyInString(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 2*pg, rw)
	e.write(x+100, []byte("hello\x00world"))
	if s, err := e.mm.CopyInString(x+100, 255); err != nil || s != "hello" {
		t.Fatalf("CopyInString = %q, %v", s, err)
	}
	if s, err := e.mm.CopyInString(x+105, 0); err != nil || s != "" {
		t.Fatalf("CopyInString(empty) = %q, %v", s, err)
	}
	// Exactly max bytes is fine; max+1 without a NUL is ENAMETOOLONG.
	if s, err := e.mm.CopyInString(x+100, 5); err != nil || s != "hello" {
		t.Fatalf("CopyInString(max=len) = %q, %v", s, err)
	}
	_, err := e.mm.CopyInString(x+100, 4)
	wantErr(t, "CopyInString(max=len-1)", err, unix.ENAMETOOLONG)

	// A long string across a page boundary (longer than the read step).
	long := strings.Repeat("abcdefghij", 70)
	start := x + pg - 333
	e.write(start, append([]byte(long), 0))
	if s, err := e.mm.CopyInString(start, 4096); err != nil || s != long {
		t.Fatalf("CopyInString across a page: %d bytes, %v", len(s), err)
	}
	_, err = e.mm.CopyInString(start, len(long)-1)
	wantErr(t, "long CopyInString over max", err, unix.ENAMETOOLONG)

	// A string ending exactly at the end of the mapping.
	end := x + 2*pg
	e.write(end-4, []byte("end\x00"))
	if s, err := e.mm.CopyInString(end-4, 4096); err != nil || s != "end" {
		t.Fatalf("CopyInString ending at the mapping's end = %q, %v", s, err)
	}
	if s, err := e.mm.CopyInString(end-1, 4096); err != nil || s != "" {
		t.Fatalf("CopyInString of the last byte = %q, %v", s, err)
	}
	// A string running into unmapped memory.
	e.write(end-pg, bytes.Repeat([]byte{'a'}, int(pg)))
	_, err = e.mm.CopyInString(end-10, 4096)
	wantErr(t, "CopyInString into unmapped memory", err, unix.EFAULT)
	_, err = e.mm.CopyInString(end-pg, 4096) // a whole page of non-NULs
	wantErr(t, "CopyInString of a full page into unmapped memory", err, unix.EFAULT)
	// ...unless max is reached first.
	_, err = e.mm.CopyInString(end-10, 5)
	wantErr(t, "CopyInString with small max near unmapped memory", err, unix.ENAMETOOLONG)
	_, err = e.mm.CopyInString(end+pg, 10)
	wantErr(t, "CopyInString from unmapped memory", err, unix.EFAULT)
	_, err = e.mm.CopyInString(x, -1)
	if err == nil {
		t.Fatalf("CopyInString with negative max succeeded")
	}
	if s, err := e.mm.CopyInString(x+100, math.MaxInt); err != nil || s != "hello" {
		t.Fatalf("CopyInString(max=MaxInt) = %q, %v", s, err)
	}
}

// --- munmap. ---

func TestMUnmapSplits(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 8*pg, rw)
	data := pattern(int(8*pg), 5)
	e.write(x, data)
	for a := uintptr(x); a < x+8*pg; a += pg {
		if err := e.mm.HandleFault(a, wr); err != nil {
			t.Fatal(err)
		}
	}
	inUse := e.mf.InUse()
	if err := e.mm.MUnmap(x+3*pg, 2*pg-100); err != nil { // length rounds up
		t.Fatal(err)
	}
	e.check()
	e.expectVMAs(vmaStr(x, x+3*pg, rw), vmaStr(x+5*pg, x+8*pg, rw))
	if !e.as.unmapped(x+3*pg, 2*pg) {
		t.Fatalf("platform not unmapped: %+v", e.as.unmaps)
	}
	if got := inUse - e.mf.InUse(); got != int64(2*pg) {
		t.Fatalf("munmap of 2 pages freed %#x bytes", got)
	}
	e.expectFault(x+3*pg, 1)
	e.expectFault(x+5*pg-1, 1)
	e.expectBytes(x, data[:3*pg])
	e.expectBytes(x+5*pg, data[5*pg:])
	if len(e.mapsLines()) != 2 {
		t.Fatalf("maps:\n%s", e.mm.Maps())
	}
	// Unmapping across VMAs and holes removes everything in range.
	if err := e.mm.MUnmap(x+pg, 6*pg); err != nil {
		t.Fatal(err)
	}
	e.expectVMAs(vmaStr(x, x+pg, rw), vmaStr(x+7*pg, x+8*pg, rw))
	// Unmapping nothing is fine.
	if err := e.mm.MUnmap(0x30000000, pg); err != nil {
		t.Fatalf("munmap of a hole: %v", err)
	}
}

func TestMUnmapErrors(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 2*pg, rw)
	wantErr(t, "unaligned", e.mm.MUnmap(x+1, pg), unix.EINVAL)
	wantErr(t, "length 0", e.mm.MUnmap(x, 0), unix.EINVAL)
	wantErr(t, "wrapping", e.mm.MUnmap(x, ^uintptr(0)-pg), unix.EINVAL)
	wantErr(t, "beyond MaxAddr", e.mm.MUnmap(testMaxAddr, pg), unix.EINVAL)
	e.expectVMAs(vmaStr(x, x+2*pg, rw))
}

// --- mprotect. ---

func TestMProtect(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 4*pg, rw)
	data := pattern(int(4*pg), 7)
	e.write(x, data)
	for a := uintptr(x); a < x+4*pg; a += pg {
		if err := e.mm.HandleFault(a, wr); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.mm.MProtect(x+pg, pg, unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	e.check() // no writable platform mapping may survive
	e.expectVMAs(vmaStr(x, x+pg, rw), vmaStr(x+pg, x+2*pg, ro), vmaStr(x+2*pg, x+4*pg, rw))
	lines := e.mapsLines()
	if len(lines) != 3 || !strings.Contains(lines[1], " r--p ") || !strings.Contains(lines[0], " rw-p ") {
		t.Fatalf("maps does not show the new permissions:\n%s", e.mm.Maps())
	}
	e.expectBytes(x, data) // contents survive
	if n, err := e.mm.CopyOut(x+pg, []byte{1}); n != 0 || !errors.Is(err, unix.EFAULT) {
		t.Fatalf("CopyOut to mprotected page = %d, %v", n, err)
	}
	wantErr(t, "write fault on read-only page", e.mm.HandleFault(x+pg, wr), ErrSegv)
	e.as.maps = nil
	if err := e.mm.HandleFault(x+pg, platform.Read); err != nil {
		t.Fatal(err)
	}
	if len(e.as.maps) == 0 || e.as.maps[0].at != ro {
		t.Fatalf("read fault mapped %+v, want read-only", e.as.maps)
	}

	// PROT_NONE, then back: VMAs merge again.
	if err := e.mm.MProtect(x+2*pg, pg, unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	e.expectVMAs(vmaStr(x, x+pg, rw), vmaStr(x+pg, x+2*pg, ro), vmaStr(x+2*pg, x+3*pg, none), vmaStr(x+3*pg, x+4*pg, rw))
	if !strings.Contains(e.mapsLines()[2], " ---p ") {
		t.Fatalf("maps:\n%s", e.mm.Maps())
	}
	e.expectFault(x+2*pg, 1)
	if err := e.mm.MProtect(x, 4*pg, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		t.Fatal(err)
	}
	e.expectVMAs(vmaStr(x, x+4*pg, rw))
	e.expectBytes(x, data)
	// Write implies read on x86.
	if err := e.mm.MProtect(x, pg, unix.PROT_EXEC); err != nil {
		t.Fatal(err)
	}
	e.expectVMAs(vmaStr(x, x+pg, rx), vmaStr(x+pg, x+4*pg, rw))
	// Length 0 is a no-op; an unaligned length rounds up.
	if err := e.mm.MProtect(x+pg, 0, unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	if err := e.mm.MProtect(x+3*pg, 1, unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	e.expectVMAs(vmaStr(x, x+pg, rx), vmaStr(x+pg, x+3*pg, rw), vmaStr(x+3*pg, x+4*pg, none))
}

func TestMProtectErrors(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 2*pg, rw)
	e.anon(x+3*pg, 2*pg, rw)
	wantErr(t, "hole", e.mm.MProtect(x, 5*pg, unix.PROT_READ), unix.ENOMEM)
	wantErr(t, "starting in a hole", e.mm.MProtect(x+2*pg, 2*pg, unix.PROT_READ), unix.ENOMEM)
	wantErr(t, "unmapped", e.mm.MProtect(0x30000000, pg, unix.PROT_READ), unix.ENOMEM)
	wantErr(t, "wrapping", e.mm.MProtect(x, ^uintptr(0)-pg, unix.PROT_READ), unix.ENOMEM)
	wantErr(t, "unaligned", e.mm.MProtect(x+1, pg, unix.PROT_READ), unix.EINVAL)
	wantErr(t, "bad prot bit", e.mm.MProtect(x, pg, 0x8), unix.EINVAL)
	wantErr(t, "high prot bit", e.mm.MProtect(x, pg, unix.PROT_READ|0x10000), unix.EINVAL)
	wantErr(t, "GROWSDOWN|GROWSUP", e.mm.MProtect(x, pg, unix.PROT_READ|unix.PROT_GROWSDOWN|unix.PROT_GROWSUP), unix.EINVAL)
	// A mapping whose file was opened read-only cannot become writable.
	f := newFakeFile(int(pg), 1)
	ro := e.mmap(MMapOpts{Addr: 0x20000000, Length: pg, Fixed: true, Perms: ro, MaxPerms: ro, Private: true, File: f})
	wantErr(t, "beyond max perms", e.mm.MProtect(ro, pg, unix.PROT_READ|unix.PROT_WRITE), unix.EACCES)
	e.expectVMAs(vmaStr(x, x+2*pg, rw), vmaStr(x+3*pg, x+5*pg, rw), vmaStr(0x20000000, 0x20000000+pg, platform.Read))
}

// --- brk. ---

func TestBrk(t *testing.T) {
	e := newEnv(t)
	if got := e.mm.Brk(0); got != testBrkStart {
		t.Fatalf("Brk(0) = %#x, want the start %#x", got, testBrkStart)
	}
	if got := e.mm.Brk(testBrkStart + 0x1800); got != testBrkStart+0x1800 {
		t.Fatalf("grow: Brk = %#x", got)
	}
	e.check()
	e.expectVMAs(vmaStr(testBrkStart, testBrkStart+2*pg, rw))
	if l := e.mapsLines(); len(l) != 1 || !strings.HasSuffix(l[0], " [heap]") {
		t.Fatalf("maps:\n%s", e.mm.Maps())
	}
	e.expectZero(testBrkStart, int(2*pg))
	e.write(testBrkStart, pattern(int(2*pg), 2))
	if err := e.mm.HandleFault(testBrkStart+pg, wr); err != nil {
		t.Fatal(err)
	}
	// Growing again extends the same VMA.
	if got := e.mm.Brk(testBrkStart + 3*pg); got != testBrkStart+3*pg {
		t.Fatalf("grow: Brk = %#x", got)
	}
	e.expectVMAs(vmaStr(testBrkStart, testBrkStart+3*pg, rw))
	e.expectBytes(testBrkStart, pattern(int(2*pg), 2))
	// Shrink.
	if got := e.mm.Brk(testBrkStart + 0x800); got != testBrkStart+0x800 {
		t.Fatalf("shrink: Brk = %#x", got)
	}
	e.check()
	e.expectVMAs(vmaStr(testBrkStart, testBrkStart+pg, rw))
	if !e.as.unmapped(testBrkStart+pg, 2*pg) {
		t.Fatalf("shrinking brk did not unmap the platform pages: %+v", e.as.unmaps)
	}
	e.expectFault(testBrkStart+pg, 1)
	e.expectBytes(testBrkStart, pattern(int(pg), 2))
	// Below the start: the old break.
	if got := e.mm.Brk(testBrkStart - pg); got != testBrkStart+0x800 {
		t.Fatalf("Brk below start = %#x, want the old break", got)
	}
	if got := e.mm.Brk(testMaxAddr + pg); got != testBrkStart+0x800 {
		t.Fatalf("Brk beyond MaxAddr = %#x, want the old break", got)
	}
	// A mapping in the way refuses growth into it, but not up to it.
	e.anon(testBrkStart+4*pg, pg, ro)
	if got := e.mm.Brk(testBrkStart + 5*pg); got != testBrkStart+0x800 {
		t.Fatalf("Brk into a mapping = %#x, want the old break", got)
	}
	if got := e.mm.Brk(testBrkStart + 4*pg + 1); got != testBrkStart+0x800 {
		t.Fatalf("Brk one byte into a mapping = %#x, want the old break", got)
	}
	if got := e.mm.Brk(testBrkStart + 4*pg); got != testBrkStart+4*pg {
		t.Fatalf("Brk up to a mapping = %#x", got)
	}
	e.expectBytes(testBrkStart+4*pg, []byte{0}) // the mapping is untouched
	// Back to the start: no heap left.
	if got := e.mm.Brk(testBrkStart); got != testBrkStart {
		t.Fatalf("Brk(start) = %#x", got)
	}
	e.expectVMAs(vmaStr(testBrkStart+4*pg, testBrkStart+5*pg, ro))
	if got := e.mm.Brk(0); got != testBrkStart {
		t.Fatalf("Brk(0) = %#x", got)
	}
}

// --- mremap. ---

func TestMRemapShrinkInPlace(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 4*pg, rw)
	data := pattern(int(4*pg), 11)
	e.write(x, data)
	inUse := e.mf.InUse()
	got, err := e.mm.MRemap(x, 4*pg, 2*pg-5, 0, 0)
	if err != nil || got != x {
		t.Fatalf("MRemap shrink = %#x, %v", got, err)
	}
	e.check()
	e.expectVMAs(vmaStr(x, x+2*pg, rw))
	e.expectBytes(x, data[:2*pg])
	e.expectFault(x+2*pg, 1)
	if freed := inUse - e.mf.InUse(); freed != int64(2*pg) {
		t.Fatalf("shrink freed %#x bytes, want %#x", freed, 2*pg)
	}
	// Same size: nothing changes, and the VMA is not split.
	if got, err := e.mm.MRemap(x, pg, pg, unix.MREMAP_MAYMOVE, 0); err != nil || got != x {
		t.Fatalf("MRemap same size = %#x, %v", got, err)
	}
	e.expectVMAs(vmaStr(x, x+2*pg, rw))
	// new_address is ignored without MREMAP_FIXED, whatever it holds.
	if got, err := e.mm.MRemap(x, 2*pg, pg, 0, ^uintptr(0)-10); err != nil || got != x {
		t.Fatalf("MRemap with junk new_address = %#x, %v", got, err)
	}
	e.expectVMAs(vmaStr(x, x+pg, rw))
}

func TestMRemapGrowInPlace(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 2*pg, rw)
	e.anon(x+4*pg, pg, rw) // compatible neighbour, a page past the grown end
	data := pattern(int(2*pg), 13)
	e.write(x, data)
	got, err := e.mm.MRemap(x, 2*pg, 3*pg, 0, 0)
	if err != nil || got != x {
		t.Fatalf("MRemap grow in place = %#x, %v", got, err)
	}
	e.expectVMAs(vmaStr(x, x+3*pg, rw), vmaStr(x+4*pg, x+5*pg, rw))
	e.expectBytes(x, data)
	e.expectZero(x+2*pg, int(pg))
	// Growing right up to the neighbour joins them, like Linux.
	if got, err := e.mm.MRemap(x, 3*pg, 4*pg, 0, 0); err != nil || got != x {
		t.Fatalf("MRemap grow up to neighbour = %#x, %v", got, err)
	}
	e.check()
	e.expectVMAs(vmaStr(x, x+5*pg, rw))
	// No room and no MREMAP_MAYMOVE.
	e.anon(x+5*pg, pg, ro)
	_, err = e.mm.MRemap(x, 5*pg, 6*pg, 0, 0)
	wantErr(t, "grow without room", err, unix.ENOMEM)
	// A range that does not end at the VMA's end cannot grow in place.
	_, err = e.mm.MRemap(x, pg, 2*pg, 0, 0)
	wantErr(t, "grow the middle of a VMA", err, unix.ENOMEM)
	e.expectBytes(x, data)
}

func TestMRemapMayMove(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 2*pg, rw)
	e.anon(x+2*pg, pg, ro) // blocks growth in place
	data := pattern(int(2*pg), 17)
	e.write(x, data)
	if err := e.mm.HandleFault(x, wr); err != nil {
		t.Fatal(err)
	}
	inUse := e.mf.InUse()
	to, err := e.mm.MRemap(x, 2*pg, 4*pg, unix.MREMAP_MAYMOVE, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.check()
	if to == x || to%pg != 0 {
		t.Fatalf("moved to %#x", to)
	}
	e.expectVMAs(vmaStr(x+2*pg, x+3*pg, ro), vmaStr(to, to+4*pg, rw))
	e.expectBytes(to, data)
	e.expectZero(to+2*pg, int(2*pg))
	e.expectFault(x, 1)
	if !e.as.unmapped(x, 2*pg) {
		t.Fatalf("old range not unmapped from the platform: %+v", e.as.unmaps)
	}
	// The backing moved rather than being copied (the new tail pages are
	// backed by the CopyIn above).
	if got := e.mf.InUse() - inUse; got != int64(2*pg) {
		t.Fatalf("move changed memory in use by %#x, want %#x (only the new pages)", got, 2*pg)
	}

	// Moving the middle of a VMA splits it.
	const y = 0x20000000
	e.anon(y, 3*pg, rw)
	mid := pattern(int(3*pg), 19)
	e.write(y, mid)
	to, err = e.mm.MRemap(y+pg, pg, 2*pg, unix.MREMAP_MAYMOVE, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.expectBytes(y, mid[:pg])
	e.expectBytes(y+2*pg, mid[2*pg:])
	e.expectBytes(to, mid[pg:2*pg])
	e.expectFault(y+pg, 1)
}

func TestMRemapFixed(t *testing.T) {
	e := newEnv(t)
	const x, z = 0x10000000, 0x30000000
	e.anon(x, 2*pg, rw)
	e.anon(z, 4*pg, ro) // replaced by the move
	data := pattern(int(2*pg), 23)
	e.write(x, data)
	got, err := e.mm.MRemap(x, 2*pg, 3*pg, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, z)
	if err != nil || got != z {
		t.Fatalf("MREMAP_FIXED = %#x, %v", got, err)
	}
	e.check()
	e.expectVMAs(vmaStr(z, z+3*pg, rw), vmaStr(z+3*pg, z+4*pg, ro))
	e.expectBytes(z, data)
	e.expectZero(z+2*pg, int(pg))
	e.expectFault(x, 1)
	// Overlapping the old range, unaligned, or beyond MaxAddr.
	_, err = e.mm.MRemap(z, 3*pg, 3*pg, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, z+pg)
	wantErr(t, "overlapping MREMAP_FIXED", err, unix.EINVAL)
	_, err = e.mm.MRemap(z, pg, pg, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, x+1)
	wantErr(t, "unaligned MREMAP_FIXED", err, unix.EINVAL)
	_, err = e.mm.MRemap(z, pg, pg, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, testMaxAddr)
	wantErr(t, "MREMAP_FIXED beyond MaxAddr", err, unix.EINVAL)
	// Shrinking while moving.
	got, err = e.mm.MRemap(z, 3*pg, pg, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, x)
	if err != nil || got != x {
		t.Fatalf("shrinking MREMAP_FIXED = %#x, %v", got, err)
	}
	e.expectVMAs(vmaStr(x, x+pg, rw), vmaStr(z+3*pg, z+4*pg, ro))
	e.expectBytes(x, data[:pg])
}

func TestMRemapFileMapping(t *testing.T) {
	e := newEnv(t)
	f := newFakeFile(int(6*pg), 29)
	const x = 0x10000000
	e.mmap(MMapOpts{Addr: x, Length: 4 * pg, Fixed: true, Perms: ro, MaxPerms: rwx, Private: true, File: f, Offset: int64(pg)})
	e.anon(x+4*pg, pg, ro)
	e.expectBytes(x+2*pg, f.data[3*pg:4*pg])
	to, err := e.mm.MRemap(x+2*pg, 2*pg, 3*pg, unix.MREMAP_MAYMOVE, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The moved VMA keeps its file offset: already-read and not yet read
	// pages both show the right part of the file.
	e.expectBytes(to, f.data[3*pg:6*pg])
	e.expectBytes(x, f.data[pg:3*pg])
	if l := e.mapsLines(); len(l) != 3 || !strings.Contains(l[2], fmt.Sprintf(" %08x ", 3*pg)) {
		t.Fatalf("maps after moving a file mapping:\n%s", e.mm.Maps())
	}
}

func TestMRemapErrors(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 2*pg, rw)
	for _, c := range []struct {
		name                  string
		old, oldSize, newSize uintptr
		flags                 int
		newAddr               uintptr
		want                  error
	}{
		{"unmapped old address", 0x30000000, pg, 2 * pg, unix.MREMAP_MAYMOVE, 0, unix.EFAULT},
		{"old range past the VMA", x, 3 * pg, 4 * pg, unix.MREMAP_MAYMOVE, 0, unix.EFAULT},
		{"old range in a hole before", x - pg, pg, pg, 0, 0, unix.EFAULT},
		{"bad flag", x, pg, pg, 0x10, 0, unix.EINVAL},
		{"FIXED without MAYMOVE", x, pg, pg, unix.MREMAP_FIXED, 0x30000000, unix.EINVAL},
		{"unaligned old address", x + 1, pg, pg, 0, 0, unix.EINVAL},
		{"new size 0", x, pg, 0, 0, 0, unix.EINVAL},
		{"old size 0", x, 0, pg, unix.MREMAP_MAYMOVE, 0, unix.EINVAL},
		{"DONTUNMAP", x, pg, pg, unix.MREMAP_MAYMOVE | unix.MREMAP_DONTUNMAP, 0, unix.EINVAL},
		{"wrapping old range", x, ^uintptr(0) - 2*pg, pg, 0, 0, unix.EINVAL},
	} {
		_, err := e.mm.MRemap(c.old, c.oldSize, c.newSize, c.flags, c.newAddr)
		wantErr(t, c.name, err, c.want)
	}
	e.expectVMAs(vmaStr(x, x+2*pg, rw))
}

// --- madvise. ---

func TestMAdviseDontNeed(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 4*pg, rw)
	data := pattern(int(4*pg), 31)
	e.write(x, data)
	if err := e.mm.HandleFault(x+pg, platform.Read); err != nil {
		t.Fatal(err)
	}
	inUse := e.mf.InUse()
	if err := e.mm.MAdvise(x+pg, 2*pg, unix.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	e.check()
	if !e.as.unmapped(x+pg, 2*pg) {
		t.Fatalf("MADV_DONTNEED did not unmap the platform pages: %+v", e.as.unmaps)
	}
	if freed := inUse - e.mf.InUse(); freed != int64(2*pg) {
		t.Fatalf("MADV_DONTNEED freed %#x bytes", freed)
	}
	e.expectBytes(x, data[:pg])
	e.expectZero(x+pg, int(2*pg))
	e.expectBytes(x+3*pg, data[3*pg:])
	e.expectVMAs(vmaStr(x, x+4*pg, rw))

	// A private file mapping reads back the file's data.
	f := newFakeFile(int(3*pg), 37)
	const y = 0x20000000
	e.mmap(MMapOpts{Addr: y, Length: 3 * pg, Fixed: true, Perms: rw, MaxPerms: rwx, Private: true, File: f})
	e.write(y, pattern(int(3*pg), 41))
	if err := e.mm.MAdvise(y, 3*pg, unix.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	e.expectBytes(y, f.data)

	// Holes: the mapped parts are still dropped, and the result is ENOMEM.
	e.write(x, []byte("dirty"))
	wantErr(t, "MADV_DONTNEED over a hole", e.mm.MAdvise(x, 8*pg, unix.MADV_DONTNEED), unix.ENOMEM)
	e.expectZero(x, int(4*pg))
}

func TestMAdviseErrors(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 2*pg, rw)
	e.write(x, []byte("keep"))
	wantErr(t, "invalid advice", e.mm.MAdvise(x, pg, 12345), unix.EINVAL)
	wantErr(t, "negative advice", e.mm.MAdvise(x, pg, -1), unix.EINVAL)
	wantErr(t, "unaligned", e.mm.MAdvise(x+1, pg, unix.MADV_DONTNEED), unix.EINVAL)
	wantErr(t, "wrapping", e.mm.MAdvise(x, ^uintptr(0)-pg, unix.MADV_DONTNEED), unix.EINVAL)
	wantErr(t, "unmapped", e.mm.MAdvise(0x30000000, pg, unix.MADV_NORMAL), unix.ENOMEM)
	if err := e.mm.MAdvise(x, 0, unix.MADV_DONTNEED); err != nil {
		t.Fatalf("length 0: %v", err)
	}
	if err := e.mm.MAdvise(x, 2*pg, unix.MADV_WILLNEED); err != nil {
		t.Fatalf("MADV_WILLNEED: %v", err)
	}
	e.expectBytes(x, []byte("keep"))
}

// --- Faults. ---

func TestHandleFaultAnon(t *testing.T) {
	e := newEnv(t)
	const x = 0x40000000 // 2 MiB aligned
	e.anon(x, 8<<20, rw)
	if err := e.mm.HandleFault(x+(3<<20)+0x1234, wr); err != nil {
		t.Fatal(err)
	}
	// One aligned 2 MiB chunk, with the VMA's permissions.
	var mapped uintptr
	for _, c := range e.as.maps {
		if c.at != rw {
			t.Fatalf("MapFile with %v, want %v", c.at, rw)
		}
		if c.addr < x+(2<<20) || c.addr+c.fr.Length > x+(4<<20) {
			t.Fatalf("MapFile(%#x, %#x) outside the fault chunk", c.addr, c.fr.Length)
		}
		mapped += c.fr.Length
	}
	if mapped != 2<<20 {
		t.Fatalf("fault mapped %#x bytes, want one 2 MiB chunk", mapped)
	}
	// The mapped page is the one CopyOut writes.
	e.write(x+(3<<20)+0x1234, []byte("seen"))
	fp := e.as.pages[x+(3<<20)+0x1000]
	if got := e.mf.Bytes(platform.FileRange{Offset: fp.off, Length: pg})[0x234:0x238]; string(got) != "seen" {
		t.Fatalf("platform page holds %q", got)
	}

	// A small VMA is mapped whole, never beyond its ends.
	const y = 0x50000000 + 5*pg
	e.anon(y, 3*pg, rx)
	e.as.maps = nil
	if err := e.mm.HandleFault(y+pg+8, platform.AccessType{Execute: true}); err != nil {
		t.Fatal(err)
	}
	mapped = 0
	for _, c := range e.as.maps {
		if c.addr < y || c.addr+c.fr.Length > y+3*pg || c.at != rx {
			t.Fatalf("MapFile(%#x, %#x, %v) outside the VMA or with wrong permissions", c.addr, c.fr.Length, c.at)
		}
		mapped += c.fr.Length
	}
	if mapped != 3*pg {
		t.Fatalf("mapped %#x bytes, want the whole 3-page VMA", mapped)
	}
}

func TestHandleFaultSegv(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, pg, ro)
	e.anon(x+2*pg, pg, none)
	e.anon(x+4*pg, pg, rw)
	mapped := len(e.as.maps) // what mmap mapped (backEagerly)
	for _, c := range []struct {
		addr uintptr
		at   platform.AccessType
	}{
		{x + pg, platform.Read},                            // hole
		{0, platform.Read},                                 // NULL
		{testMaxAddr, platform.Read},                       // beyond the user range
		{x, platform.ReadWrite},                            // write to read-only
		{x, platform.AccessType{Write: true}},              // write to read-only
		{x, platform.AccessType{Execute: true}},            // exec of read-only
		{x + 2*pg, platform.Read},                          // PROT_NONE
		{x + 2*pg, platform.NoAccess},                      // PROT_NONE, unknown access
		{x + 4*pg + 5, platform.AccessType{Execute: true}}, // exec of rw-
	} {
		wantErr(t, fmt.Sprintf("fault at %#x (%v)", c.addr, c.at), e.mm.HandleFault(c.addr, c.at), ErrSegv)
	}
	if len(e.as.maps) != mapped {
		t.Fatalf("refused faults mapped %+v", e.as.maps[mapped:])
	}
	if err := e.mm.HandleFault(x+5, platform.Read); err != nil {
		t.Fatalf("read fault on read-only page: %v", err)
	}
}

func TestHandleFaultFile(t *testing.T) {
	e := newEnv(t)
	f := newFakeFile(int(pg+1000), 43) // 1 page and a bit
	const x = 0x10000000
	e.mmap(MMapOpts{Addr: x, Length: 4 * pg, Fixed: true, Perms: rx, MaxPerms: rwx, Private: true, File: f})
	if err := e.mm.HandleFault(x+pg+10, platform.Read); err != nil {
		t.Fatal(err)
	}
	var mapped uintptr
	for _, c := range e.as.maps {
		if c.at != rx || c.addr < x || c.addr+c.fr.Length > x+2*pg {
			t.Fatalf("MapFile(%#x, %#x, %v): want only the file's 2 pages, %v", c.addr, c.fr.Length, c.at, rx)
		}
		mapped += c.fr.Length
	}
	if mapped != 2*pg {
		t.Fatalf("mapped %#x bytes, want 2 pages", mapped)
	}
	fp := e.as.pages[x+pg]
	got := e.mf.Bytes(platform.FileRange{Offset: fp.off, Length: pg})
	if !bytes.Equal(got[:1000], f.data[pg:]) || !bytes.Equal(got[1000:], make([]byte, pg-1000)) {
		t.Fatalf("last file page does not hold the file's tail followed by zeros")
	}
	// Beyond the file's last page: SIGBUS, for faults and copies alike.
	wantErr(t, "fault past EOF", e.mm.HandleFault(x+2*pg, platform.Read), ErrBus)
	wantErr(t, "fault past EOF", e.mm.HandleFault(x+4*pg-1, platform.Read), ErrBus)
	e.expectFault(x+2*pg, 1)
	n, err := e.mm.CopyIn(x+2*pg-8, make([]byte, 16))
	if n != 8 || !errors.Is(err, unix.EFAULT) {
		t.Fatalf("CopyIn across EOF page = %d, %v", n, err)
	}
	// A write fault on a read-only file mapping is a SIGSEGV, not SIGBUS.
	wantErr(t, "write fault past EOF", e.mm.HandleFault(x+2*pg, wr), ErrSegv)

	// A file offset: the mapping starts at that page of the file.
	g := newFakeFile(int(3*pg), 47)
	const y = 0x20000000
	e.mmap(MMapOpts{Addr: y, Length: 2 * pg, Fixed: true, Perms: ro, MaxPerms: rwx, Private: true, File: g, Offset: int64(pg)})
	e.expectBytes(y, g.data[pg:])
	// Offset past EOF: every page is SIGBUS.
	const z = 0x30000000
	e.mmap(MMapOpts{Addr: z, Length: pg, Fixed: true, Perms: ro, MaxPerms: rwx, Private: true, File: g, Offset: int64(4 * pg)})
	wantErr(t, "fault with offset past EOF", e.mm.HandleFault(z, platform.Read), ErrBus)
	// Private writes do not reach the file.
	e.mmap(MMapOpts{Addr: z, Length: pg, Fixed: true, Perms: rw, MaxPerms: rwx, Private: true, File: g})
	e.write(z, []byte("private"))
	if bytes.HasPrefix(g.data, []byte("private")) {
		t.Fatalf("private mapping wrote through to the file")
	}
}

func TestStackGrowsDown(t *testing.T) {
	e := newEnv(t)
	const top = 0x7ff000000000
	start := uintptr(top - 16*pg)
	e.mmap(MMapOpts{Addr: start, Length: 16 * pg, Fixed: true, Perms: rw, MaxPerms: rwx, Private: true, GrowsDown: true, Name: "[stack]"})
	e.mm.SetStackLimit(64 * pg)

	if err := e.mm.HandleFault(start-8, wr); err != nil {
		t.Fatalf("fault just below the stack: %v", err)
	}
	e.expectVMAs(vmaStr(start-pg, top, rw))
	if _, ok := e.as.pages[start-pg]; !ok {
		t.Fatalf("grown page not mapped; maps %+v", e.as.maps)
	}
	if l := e.mapsLines(); len(l) != 1 || !strings.HasSuffix(l[0], " [stack]") || !strings.HasPrefix(l[0], fmt.Sprintf("%x-%x ", start-pg, uintptr(top))) {
		t.Fatalf("maps:\n%s", e.mm.Maps())
	}
	// Within the limit, further down.
	if err := e.mm.HandleFault(top-64*pg, wr); err != nil {
		t.Fatalf("fault at the stack limit: %v", err)
	}
	e.expectVMAs(vmaStr(top-64*pg, top, rw))
	// Beyond the limit.
	wantErr(t, "fault beyond the stack limit", e.mm.HandleFault(top-64*pg-1, wr), ErrSegv)
	e.expectVMAs(vmaStr(top-64*pg, top, rw))
	// Not into (or right next to) another mapping.
	e.mm.SetStackLimit(1 << 30)
	low := uintptr(top - 80*pg)
	e.anon(low, pg, rw)
	wantErr(t, "fault adjacent to a mapping below", e.mm.HandleFault(low+pg+8, wr), ErrSegv)
	if err := e.mm.HandleFault(low+2*pg, wr); err != nil {
		t.Fatalf("fault leaving a guard page: %v", err)
	}
	// Splitting the stack (mprotect of its top page) keeps both parts
	// growing down, like VM_GROWSDOWN in Linux: the stack still grows.
	if err := e.mm.MProtect(top-pg, pg, unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	e.mm.mu.Lock()
	var gd []bool
	for _, v := range e.mm.vmas {
		gd = append(gd, v.growsDown)
	}
	e.mm.mu.Unlock()
	if fmt.Sprint(gd) != "[false true true]" {
		t.Fatalf("growsDown after split: %v (VMAs %v)", gd, e.vmaList())
	}
	if l := e.mapsLines(); strings.HasSuffix(l[1], "[stack]") || !strings.HasSuffix(l[2], " [stack]") {
		t.Fatalf("[stack] should name the top part:\n%s", e.mm.Maps())
	}
	bottom := uintptr(low + 2*pg)
	if err := e.mm.MUnmap(low, pg); err != nil { // make room below the stack
		t.Fatal(err)
	}
	e.anon(low-8*pg, pg, rw)
	if err := e.mm.HandleFault(bottom-pg, wr); err != nil {
		t.Fatalf("fault below a split stack: %v", err)
	}
	e.expectVMAs(vmaStr(low-8*pg, low-7*pg, rw), vmaStr(bottom-pg, top-pg, rw), vmaStr(top-pg, top, ro))
	// Making it writable again joins the parts, still named [stack].
	if err := e.mm.MProtect(top-pg, pg, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		t.Fatal(err)
	}
	e.expectVMAs(vmaStr(low-8*pg, low-7*pg, rw), vmaStr(bottom-pg, top, rw))
	if l := e.mapsLines(); len(l) != 2 || !strings.HasSuffix(l[1], " [stack]") {
		t.Fatalf("maps after rejoining the stack:\n%s", e.mm.Maps())
	}
	// mremap does not grow the stack.
	_, err := e.mm.MRemap(bottom-2*pg, pg, pg, unix.MREMAP_MAYMOVE, 0)
	wantErr(t, "mremap just below the stack", err, unix.EFAULT)
	e.expectVMAs(vmaStr(low-8*pg, low-7*pg, rw), vmaStr(bottom-pg, top, rw))
	// PROT_GROWSDOWN applies mprotect down to the start of the stack.
	if err := e.mm.MProtect(top-4*pg, pg, unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC|unix.PROT_GROWSDOWN); err != nil {
		t.Fatal(err)
	}
	e.expectVMAs(vmaStr(low-8*pg, low-7*pg, rw), vmaStr(bottom-pg, top-3*pg, rwx), vmaStr(top-3*pg, top, rw))
	wantErr(t, "PROT_GROWSDOWN on an ordinary mapping", e.mm.MProtect(low-8*pg, pg, unix.PROT_READ|unix.PROT_GROWSDOWN), unix.EINVAL)
	wantErr(t, "PROT_GROWSUP", e.mm.MProtect(top-pg, pg, unix.PROT_READ|unix.PROT_GROWSUP), unix.EINVAL)
	wantErr(t, "PROT_GROWSDOWN on a hole", e.mm.MProtect(low, pg, unix.PROT_READ|unix.PROT_GROWSDOWN), unix.ENOMEM)
	low = low - 8*pg
	// Not a grows-down mapping: no growth.
	wantErr(t, "fault below an ordinary mapping", e.mm.HandleFault(low-8, wr), ErrSegv)
}

// --- /proc/PID/maps. ---

func TestMaps(t *testing.T) {
	e := newEnv(t)
	e.anon(0x10000, 2*pg, rw)
	f := newFakeFile(int(4*pg), 53)
	f.name = "/bin/test"
	e.mmap(MMapOpts{Addr: 0x400000, Length: 2 * pg, Fixed: true, Perms: rx, MaxPerms: rwx, Private: true, File: f, Offset: int64(pg)})
	e.mmap(MMapOpts{Addr: 0x500000, Length: pg, Fixed: true, Perms: ro, MaxPerms: ro, Private: false})
	e.mm.Brk(testBrkStart + pg)
	e.mmap(MMapOpts{Addr: 0x7ffffff00000, Length: 0x21000, Fixed: true, Perms: rw, MaxPerms: rwx, Private: true, GrowsDown: true, Name: "[stack]"})
	want := []string{
		"00010000-00012000 rw-p 00000000 00:00 0",
		"00400000-00402000 r-xp 00001000 08:01 1234" + strings.Repeat(" ", 73-42) + "/bin/test",
		"00500000-00501000 r--s 00000000 00:00 0",
		"00600000-00601000 rw-p 00000000 00:00 0" + strings.Repeat(" ", 73-39) + "[heap]",
		"7ffffff00000-7ffffff21000 rw-p 00000000 00:00 0" + strings.Repeat(" ", 73-47) + "[stack]",
	}
	got := e.mapsLines()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Maps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.HasSuffix(e.mm.Maps(), "\n") {
		t.Fatalf("Maps does not end with a newline")
	}
	total, backed := e.mm.VirtualSize()
	// Backed: the small anonymous mapping, at mmap (backEagerly).
	if total != uint64(2*pg+2*pg+pg+pg+0x21000) || backed != uint64(2*pg) {
		t.Fatalf("VirtualSize = %#x, %#x", total, backed)
	}
}

// --- Memory accounting. ---

func TestMemoryFreed(t *testing.T) {
	e := newEnv(t)
	const x = 0x40000000
	e.anon(x, 6<<20, rw)
	e.write(x+(1<<20), pattern(3<<20, 59))
	for _, a := range []uintptr{x, x + (2 << 20), x + (5 << 20)} {
		if err := e.mm.HandleFault(a, wr); err != nil {
			t.Fatal(err)
		}
	}
	f := newFakeFile(int(10*pg), 61)
	y := e.mmap(MMapOpts{Length: 10 * pg, Perms: ro, MaxPerms: rwx, Private: true, File: f})
	e.read(y, int(10*pg))
	e.mm.Brk(testBrkStart + 5*pg)
	e.write(testBrkStart, pattern(int(5*pg), 67))
	if e.mf.InUse() == e.base {
		t.Fatalf("nothing was backed")
	}
	if _, backed := e.mm.VirtualSize(); int64(backed) != e.mf.InUse()-e.base {
		t.Fatalf("VirtualSize backed %#x, memory file %#x", backed, e.mf.InUse()-e.base)
	}
	if err := e.mm.MUnmap(x, 6<<20); err != nil {
		t.Fatal(err)
	}
	if err := e.mm.MUnmap(y, 10*pg); err != nil {
		t.Fatal(err)
	}
	e.mm.Brk(testBrkStart)
	if got := e.mf.InUse(); got != e.base {
		t.Fatalf("after unmapping everything InUse = %#x, want baseline %#x", got, e.base)
	}

	// Release frees everything and destroys the address space.
	e.anon(x, 4<<20, rw)
	e.write(x, pattern(4<<20, 71))
	to, err := e.mm.MRemap(x, 4<<20, 8<<20, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, 0x80000000)
	if err != nil || to != 0x80000000 {
		t.Fatalf("MRemap = %#x, %v", to, err)
	}
	e.write(0x80000000+(6<<20), []byte("tail"))
	e.check()
	e.mm.Release()
	if got := e.mf.InUse(); got != e.base {
		t.Fatalf("after Release InUse = %#x, want baseline %#x", got, e.base)
	}
	if e.as.released != 1 {
		t.Fatalf("platform address space released %d times", e.as.released)
	}
	if e.mm.Maps() != "" {
		t.Fatalf("VMAs left after Release:\n%s", e.mm.Maps())
	}
	e.mm.Release() // idempotent
	if e.as.released != 1 {
		t.Fatalf("second Release released the address space again")
	}
}

func TestArgsAndLayoutAccessors(t *testing.T) {
	e := newEnv(t)
	e.mm.SetArgs(1, 2, 3, 4)
	if a, b := e.mm.ArgRange(); a != 1 || b != 2 {
		t.Fatalf("ArgRange = %#x, %#x", a, b)
	}
	if a, b := e.mm.EnvRange(); a != 3 || b != 4 {
		t.Fatalf("EnvRange = %#x, %#x", a, b)
	}
	if e.mm.MaxAddr() != testMaxAddr || e.mm.AddressSpace() != platform.AddressSpace(e.as) {
		t.Fatalf("accessors")
	}
	for range 100 {
		if r := RandomPages(16); r%pg != 0 || r >= 16*pg {
			t.Fatalf("RandomPages(16) = %#x", r)
		}
	}
}

// --- Randomized comparison against a page-level model. ---

type modelPage struct {
	mapped bool
	at     platform.AccessType
	data   []byte
}

// TestRandomOpsAgainstModel runs random mmap, munmap, mprotect, mremap,
// madvise, copies and faults on a window of anonymous memory and compares
// every result, and all memory contents, with a simple model. The
// invariants (VMAs, backing, memory-file accounting, platform mappings)
// are checked after every step.
func TestRandomOpsAgainstModel(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomOps(t, seed, 600) })
	}
}

func randomOps(t *testing.T, seed uint64, steps int) {
	const (
		w      = 0x10000000
		npages = 40
	)
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(seed, 99))
	model := make([]modelPage, npages)
	perms := []platform.AccessType{rw, ro, none, rx, rwx}
	accesses := []platform.AccessType{platform.Read, wr, ex, rw}
	addrOf := func(p int) uintptr { return w + uintptr(p)*pg }
	randRange := func(maxLen int) (int, int) {
		s := rng.IntN(npages)
		l := 1 + rng.IntN(min(maxLen, npages-s))
		return s, l
	}
	mapPages := func(s, l int, at platform.AccessType, data []byte) {
		for i := range l {
			d := make([]byte, pg)
			if uintptr(i)*pg < uintptr(len(data)) {
				copy(d, data[uintptr(i)*pg:])
			}
			model[s+i] = modelPage{mapped: true, at: at, data: d}
		}
	}
	allUnmapped := func(s, l int) bool {
		for i := s; i < s+l; i++ {
			if model[i].mapped {
				return false
			}
		}
		return true
	}
	var log []string
	defer func() {
		if t.Failed() {
			t.Logf("last ops:\n  %s", strings.Join(log[max(0, len(log)-15):], "\n  "))
		}
	}()
	fail := func(format string, args ...any) {
		t.Helper()
		n := max(0, len(log)-15)
		t.Fatalf("seed %d step %d: %s\nlast ops:\n  %s\nVMAs: %v", seed, len(log), fmt.Sprintf(format, args...), strings.Join(log[n:], "\n  "), e.vmaList())
	}
	// copyModel walks the model like a copy of n bytes at off (a byte
	// offset in the window) needing access need; it returns how many
	// bytes a copy can move.
	copyModel := func(off, n int, need platform.AccessType) int {
		done := 0
		for done < n {
			p := (off + done) / int(pg)
			if p >= npages || !model[p].mapped || model[p].at == none || !model[p].at.SupersetOf(need) {
				break
			}
			done += min(n-done, (p+1)*int(pg)-(off+done))
		}
		return done
	}
	for step := range steps {
		switch op := rng.IntN(11); op {
		case 0, 1: // mmap MAP_FIXED or MAP_FIXED_NOREPLACE
			s, l := randRange(8)
			at := perms[rng.IntN(len(perms))]
			noReplace := op == 1
			log = append(log, fmt.Sprintf("mmap(page %d, %d pages, %v, noreplace=%v)", s, l, at, noReplace))
			got, err := e.mm.MMap(MMapOpts{Addr: addrOf(s), Length: uintptr(l) * pg, Fixed: !noReplace, NoReplace: noReplace, Perms: at, MaxPerms: rwx, Private: true})
			if noReplace && !allUnmapped(s, l) {
				if !errors.Is(err, unix.EEXIST) {
					fail("got %#x, %v; want EEXIST", got, err)
				}
				break
			}
			if err != nil || got != addrOf(s) {
				fail("got %#x, %v", got, err)
			}
			mapPages(s, l, at, nil)
		case 2: // munmap
			s, l := randRange(10)
			log = append(log, fmt.Sprintf("munmap(page %d, %d pages)", s, l))
			if err := e.mm.MUnmap(addrOf(s), uintptr(l)*pg); err != nil {
				fail("%v", err)
			}
			for i := s; i < s+l; i++ {
				model[i] = modelPage{}
			}
		case 3: // mprotect
			s, l := randRange(10)
			at := perms[rng.IntN(len(perms))]
			log = append(log, fmt.Sprintf("mprotect(page %d, %d pages, %v)", s, l, at))
			err := e.mm.MProtect(addrOf(s), uintptr(l)*pg, at.Prot())
			hole := false
			for i := s; i < s+l; i++ {
				hole = hole || !model[i].mapped
			}
			if hole {
				if !errors.Is(err, unix.ENOMEM) {
					fail("got %v, want ENOMEM", err)
				}
				break
			}
			if err != nil {
				fail("%v", err)
			}
			for i := s; i < s+l; i++ {
				model[i].at = at
			}
		case 4, 5: // CopyOut, CopyIn
			off := rng.IntN(npages * int(pg))
			n := rng.IntN(3*int(pg)) + 1
			if rng.IntN(4) == 0 {
				n = rng.IntN(16) + 1
			}
			if op == 4 {
				log = append(log, fmt.Sprintf("CopyOut(+%#x, %d)", off, n))
				data := pattern(n, byte(step))
				got, err := e.mm.CopyOut(w+uintptr(off), data)
				want := copyModel(off, n, wr)
				if got != want || (err != nil) != (want < n) {
					fail("got %d, %v; want %d", got, err, want)
				}
				for i := range want {
					model[(off+i)/int(pg)].data[(off+i)%int(pg)] = data[i]
				}
			} else {
				log = append(log, fmt.Sprintf("CopyIn(+%#x, %d)", off, n))
				buf := make([]byte, n)
				got, err := e.mm.CopyIn(w+uintptr(off), buf)
				want := copyModel(off, n, platform.Read)
				if got != want || (err != nil) != (want < n) {
					fail("got %d, %v; want %d", got, err, want)
				}
				for i := range want {
					if m := model[(off+i)/int(pg)].data[(off+i)%int(pg)]; buf[i] != m {
						fail("byte %d: got %#x, model %#x", i, buf[i], m)
					}
				}
			}
		case 6: // madvise(MADV_DONTNEED)
			s, l := randRange(10)
			log = append(log, fmt.Sprintf("madvise(page %d, %d pages, DONTNEED)", s, l))
			err := e.mm.MAdvise(addrOf(s), uintptr(l)*pg, unix.MADV_DONTNEED)
			if allMapped := !slicesAny(model[s:s+l], func(p modelPage) bool { return !p.mapped }); allMapped != (err == nil) {
				fail("got %v, all mapped %v", err, allMapped)
			}
			for i := s; i < s+l; i++ {
				if model[i].mapped {
					clear(model[i].data)
				}
			}
		case 7, 8: // fault
			p := rng.IntN(npages)
			at := accesses[rng.IntN(len(accesses))]
			log = append(log, fmt.Sprintf("fault(page %d, %v)", p, at))
			err := e.mm.HandleFault(addrOf(p)+uintptr(rng.IntN(int(pg))), at)
			m := model[p]
			if ok := m.mapped && m.at != none && m.at.SupersetOf(at); ok != (err == nil) {
				fail("got %v, model page %+v", err, m.at)
			}
			if err == nil {
				// The platform mapping shows the model's bytes.
				fp := e.as.pages[addrOf(p)]
				if !bytes.Equal(e.mf.Bytes(platform.FileRange{Offset: fp.off, Length: pg}), m.data) {
					fail("platform page %d differs from the model", p)
				}
			}
		case 9, 10: // mremap
			s, l := randRange(6)
			l2 := 1 + rng.IntN(8)
			var flags int
			var dst int
			switch rng.IntN(3) {
			case 1:
				flags = unix.MREMAP_MAYMOVE
			case 2:
				flags = unix.MREMAP_MAYMOVE | unix.MREMAP_FIXED
				dst = rng.IntN(npages)
				if dst+l2 > npages {
					continue
				}
			}
			if flags&unix.MREMAP_FIXED == 0 && s+l2 > npages {
				continue // could grow in place out of the window
			}
			log = append(log, fmt.Sprintf("mremap(page %d, %d pages -> %d pages, flags %#x, page %d)", s, l, l2, flags, dst))
			got, err := e.mm.MRemap(addrOf(s), uintptr(l)*pg, uintptr(l2)*pg, flags, addrOf(dst))
			// The model's VMA: the run of same-permission pages around s.
			if !model[s].mapped {
				if !errors.Is(err, unix.EFAULT) {
					fail("got %#x, %v; want EFAULT", got, err)
				}
				break
			}
			runEnd := s
			for runEnd < npages && model[runEnd].mapped && model[runEnd].at == model[s].at {
				runEnd++
			}
			if runEnd < s+l {
				if !errors.Is(err, unix.EFAULT) {
					fail("got %#x, %v; want EFAULT (run ends at page %d)", got, err, runEnd)
				}
				break
			}
			at := model[s].at
			old := make([]byte, 0, uintptr(l)*pg)
			for i := s; i < s+l; i++ {
				old = append(old, model[i].data...)
			}
			unmapModel := func(a, n int) {
				for i := a; i < a+n && i < npages; i++ {
					model[i] = modelPage{}
				}
			}
			switch {
			case flags&unix.MREMAP_FIXED != 0:
				if dst < s+l && s < dst+l2 {
					if !errors.Is(err, unix.EINVAL) {
						fail("overlapping MREMAP_FIXED: got %#x, %v", got, err)
					}
					break
				}
				if err != nil || got != addrOf(dst) {
					fail("got %#x, %v", got, err)
				}
				unmapModel(dst, l2)
				unmapModel(s, l)
				mapPages(dst, l2, at, old)
			case l2 <= l:
				if err != nil || got != addrOf(s) {
					fail("shrink: got %#x, %v", got, err)
				}
				unmapModel(s+l2, l-l2)
			case runEnd == s+l && allUnmapped(s+l, l2-l):
				if err != nil || got != addrOf(s) {
					fail("grow in place: got %#x, %v", got, err)
				}
				mapPages(s, l2, at, old)
			case flags&unix.MREMAP_MAYMOVE != 0:
				if err != nil || (got >= w && got < w+npages*pg) {
					fail("move: got %#x, %v", got, err)
				}
				want := append(old, make([]byte, uintptr(l2-l)*pg)...)
				if b, err := e.peek(got, len(want)); err != nil || !bytes.Equal(b, want) {
					fail("moved contents differ (%v)", err)
				}
				unmapModel(s, l)
				if err := e.mm.MUnmap(got, uintptr(l2)*pg); err != nil {
					fail("%v", err)
				}
			default:
				if !errors.Is(err, unix.ENOMEM) {
					fail("got %#x, %v; want ENOMEM", got, err)
				}
			}
		}
		e.check()
		// Compare every page with the model.
		for p := range model {
			b, err := e.peek(addrOf(p), int(pg))
			if model[p].mapped != (err == nil) {
				fail("page %d: mapped %v, peek error %v", p, model[p].mapped, err)
			}
			if err == nil && !bytes.Equal(b, model[p].data) {
				fail("page %d differs from the model", p)
			}
		}
	}
	// Everything the window used goes back to the memory file.
	if err := e.mm.MUnmap(w, npages*pg); err != nil {
		t.Fatal(err)
	}
	if got := e.mf.InUse(); got != e.base {
		t.Fatalf("InUse = %#x after unmapping everything, want %#x", got, e.base)
	}
}

func slicesAny[T any](s []T, f func(T) bool) bool {
	for _, v := range s {
		if f(v) {
			return true
		}
	}
	return false
}

func TestMaxMapCount(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 4*pg, rw)
	e.write(x, pattern(int(4*pg), 73))
	// Fill the VMA list up to the limit with separate one-page VMAs.
	e.mm.mu.Lock()
	for i := range uintptr(maxMapCount - 1) {
		a := 0x100000000 + i*2*pg
		e.mm.vmas = append(e.mm.vmas, &vma{start: a, end: a + pg, perms: rw, maxPerms: rwx, private: true})
	}
	e.mm.mu.Unlock()
	e.check()
	// Nothing may split a VMA now.
	wantErr(t, "mprotect splitting at the limit", e.mm.MProtect(x+pg, pg, unix.PROT_READ), unix.ENOMEM)
	wantErr(t, "munmap splitting at the limit", e.mm.MUnmap(x+pg, pg), unix.ENOMEM)
	_, err := e.mm.MRemap(x+pg, pg, pg, unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, 0x20000000)
	wantErr(t, "mremap splitting at the limit", err, unix.ENOMEM)
	_, err = e.mm.MRemap(x+pg, pg, 2*pg, unix.MREMAP_MAYMOVE, 0)
	wantErr(t, "mremap moving part of a VMA at the limit", err, unix.ENOMEM)
	_, err = e.mm.MMap(MMapOpts{Length: pg, Perms: ro, MaxPerms: rwx, Private: true})
	wantErr(t, "mmap at the limit", err, unix.ENOMEM)
	if got := e.mm.Brk(testBrkStart + pg); got != testBrkStart {
		t.Fatalf("brk at the limit = %#x, want the old break", got)
	}
	if got := len(e.vmaList()); got != maxMapCount {
		t.Fatalf("%d VMAs, want %d", got, maxMapCount)
	}
	e.expectBytes(x, pattern(int(4*pg), 73))
	// Changing whole VMAs needs no split and still works.
	if err := e.mm.MProtect(x, 4*pg, unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	if err := e.mm.MUnmap(x, 4*pg); err != nil {
		t.Fatal(err)
	}
	if _, err := e.mm.MMap(MMapOpts{Length: pg, Perms: ro, MaxPerms: rwx, Private: true}); err != nil {
		t.Fatalf("mmap below the limit: %v", err)
	}
}

func TestAccessible(t *testing.T) {
	e := newEnv(t)
	const x = 0x10000000
	e.anon(x, 2*pg, rw)
	e.anon(x+2*pg, pg, ro)
	e.anon(x+4*pg, pg, rw)
	f := newFakeFile(int(pg), 79) // one page of file in a 4-page mapping
	const y = 0x20000000
	e.mmap(MMapOpts{Addr: y, Length: 4 * pg, Fixed: true, Perms: ro, MaxPerms: rwx, Private: true, File: f})
	inUse, maps := e.mf.InUse(), len(e.as.maps) // mmap backs small anonymous mappings
	for _, c := range []struct {
		addr uintptr
		n    int
		at   platform.AccessType
		want int
	}{
		{x, int(2 * pg), wr, int(2 * pg)},
		{x + 10, int(4 * pg), wr, int(2*pg) - 10}, // stops at the read-only VMA
		{x + 10, int(4 * pg), platform.Read, int(3*pg) - 10},
		{x + 3*pg, 10, platform.Read, 0}, // hole
		{x + pg, 0, platform.Read, 0},
		{y, int(4 * pg), platform.Read, int(pg)}, // the file's end
		{y + 2*pg, 10, platform.Read, 0},         // beyond the file's end
		{y + pg, 10, platform.Read, 0},
		{testMaxAddr - 8, 100, platform.Read, 0},
		{^uintptr(0) - 8, 100, platform.Read, 0},
	} {
		done := make(chan int, 1)
		go func() { done <- e.mm.Accessible(c.addr, c.n, c.at) }()
		select {
		case got := <-done:
			if got != c.want {
				t.Errorf("Accessible(%#x, %d, %v) = %d, want %d", c.addr, c.n, c.at, got, c.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Accessible(%#x, %d, %v) hangs", c.addr, c.n, c.at)
		}
	}
	// Nothing more was backed or mapped.
	if e.mf.InUse() != inUse || len(e.as.maps) != maps {
		t.Fatalf("Accessible backed or mapped memory")
	}
}

func TestFileReferences(t *testing.T) {
	e := newEnv(t)
	f := newFakeFile(int(8*pg), 83)
	const x = 0x10000000
	e.mmap(MMapOpts{Addr: x, Length: 8 * pg, Fixed: true, Perms: rw, MaxPerms: rwx, Private: true, File: f})
	if f.refs != 1 {
		t.Fatalf("mmap took %d references, want 1", f.refs)
	}
	// Split in three (each part holds a reference), rejoin, split again.
	if err := e.mm.MProtect(x+2*pg, 2*pg, unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	e.check()
	if f.refs != 3 {
		t.Fatalf("after splitting into 3 VMAs: %d references", f.refs)
	}
	if err := e.mm.MProtect(x, 8*pg, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		t.Fatal(err)
	}
	e.check()
	if f.refs != 1 {
		t.Fatalf("after merging back into 1 VMA: %d references", f.refs)
	}
	// Punch a hole, replace a page with MAP_FIXED, move a piece away.
	if err := e.mm.MUnmap(x+pg, pg); err != nil {
		t.Fatal(err)
	}
	e.anon(x+3*pg, pg, rw)
	to, err := e.mm.MRemap(x+5*pg, pg, 2*pg, unix.MREMAP_MAYMOVE, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.check()
	e.expectBytes(to, f.data[5*pg:7*pg])
	if err := e.mm.MUnmap(x, 3*pg); err != nil {
		t.Fatal(err)
	}
	e.check()
	// Mapping the same file twice, contiguously: the VMAs merge and keep
	// one reference between them.
	g := newFakeFile(int(4*pg), 89)
	const y = 0x20000000
	e.mmap(MMapOpts{Addr: y, Length: 2 * pg, Fixed: true, Perms: ro, MaxPerms: rwx, Private: true, File: g})
	e.mmap(MMapOpts{Addr: y + 2*pg, Length: 2 * pg, Fixed: true, Perms: ro, MaxPerms: rwx, Private: true, File: g, Offset: int64(2 * pg)})
	if l := e.vmaList(); len(l) != 5 || g.refs != 1 {
		t.Fatalf("contiguous mappings of one file: VMAs %v, %d references", l, g.refs)
	}
	e.expectBytes(y, g.data)
	e.mm.Release()
	if f.refs != 0 || g.refs != 0 || f.underflow || g.underflow {
		t.Fatalf("after Release: references %d (underflow %v), %d (underflow %v)", f.refs, f.underflow, g.refs, g.underflow)
	}
}

// sliceFile is a MappableFile whose dynamic type is not comparable.
type sliceFile []byte

func (f sliceFile) ReadAt(dst []byte, off int64) (int, error) {
	return (&fakeFile{data: f}).ReadAt(dst, off)
}
func (f sliceFile) MapInfo() (string, uint64, uint64, int64) { return "slice", 0, 0, int64(len(f)) }

func TestUncomparableFile(t *testing.T) {
	e := newEnv(t)
	f := sliceFile(pattern(int(4*pg), 97))
	const x = 0x10000000
	// Adjacent mappings of "the same" uncomparable file must neither
	// panic nor merge.
	e.mmap(MMapOpts{Addr: x, Length: 2 * pg, Fixed: true, Perms: ro, MaxPerms: rwx, Private: true, File: f})
	e.mmap(MMapOpts{Addr: x + 2*pg, Length: 2 * pg, Fixed: true, Perms: ro, MaxPerms: rwx, Private: true, File: f, Offset: int64(2 * pg)})
	if err := e.mm.MProtect(x+pg, 2*pg, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		t.Fatal(err)
	}
	if err := e.mm.MProtect(x, 4*pg, unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	e.expectBytes(x, f)
	if !sameFile(nil, nil) || sameFile(f, nil) || sameFile(nil, f) || sameFile(f, f) {
		t.Fatalf("sameFile with nil or uncomparable files")
	}
	g := newFakeFile(1, 1)
	if !sameFile(g, g) || sameFile(g, newFakeFile(1, 1)) || sameFile(g, f) {
		t.Fatalf("sameFile with pointers")
	}
}
