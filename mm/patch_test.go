package mm

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"moat/platform"
	"moat/platform/syspatch"
)

// patchAS is a fakeAS with patching on.
type patchAS struct {
	*fakeAS
	sole bool
}

const testEntry = 0x7ffffffe01c0

func (a *patchAS) SyscallEntry() (uintptr, bool) { return testEntry, a.sole }

// patchEnv maps a file whose bytes at off are code (preceded by a nop)
// at 0x400000 with perms, and returns the environment.
func patchEnv(t *testing.T, off int, code []byte, perms platform.AccessType, sole bool) (*env, *fakeFile) {
	e := newEnv(t)
	e.mm.as = &patchAS{fakeAS: e.as, sole: sole}
	f := newFakeFile(3*pageSize, 1)
	f.data[off-1] = 0x90
	copy(f.data[off:], code)
	e.mmap(MMapOpts{Addr: 0x400000, Length: 3 * pageSize, Fixed: true, Perms: perms, MaxPerms: platform.AnyAccess, Private: true, File: f})
	return e, f
}

var getpidSite = []byte{0xb8, 39, 0, 0, 0, 0x0f, 0x05}

// trap reports patchAfter traps of call nr at the site ending at rip,
// enough to have it patched.
func trap(m *MemoryManager, rip uintptr, nr uint64) {
	for i := 0; i < patchAfter; i++ {
		m.PatchSyscall(rip, nr)
	}
}

func TestPatchSyscall(t *testing.T) {
	const site = 0x400000 + 0x100
	e, f := patchEnv(t, 0x100, getpidSite, rx, true)
	for i := 1; i < patchAfter; i++ {
		e.mm.PatchSyscall(site+7, 39)
		e.expectBytes(site, getpidSite) // not yet: a site is patched once it has trapped patchAfter times
	}
	e.mm.PatchSyscall(site+7, 39)
	got := e.read(site, 7)
	if got[0] != 0xe9 || !bytes.Equal(got[5:], []byte{0x0f, 0x05}) {
		t.Fatalf("site reads % x, want a jmp rel32 followed by the syscall", got)
	}
	stub := uintptr(int64(site+5) + int64(int32(binary.LittleEndian.Uint32(got[1:]))))
	if !strings.Contains(strings.Join(e.mapsLines(), "\n"), stubPageName) {
		t.Errorf("no %s page in the maps:\n%s", stubPageName, strings.Join(e.mapsLines(), "\n"))
	}
	want := syspatch.Stub([5]byte(getpidSite), site+7, testEntry)
	if s := e.read(stub, len(want)); !bytes.Equal(s, want[:]) {
		t.Errorf("stub at %#x is % x, want % x", stub, s, want)
	}
	if !bytes.Equal(f.data[0x100:0x107], getpidSite) {
		t.Errorf("the file changed: % x", f.data[0x100:0x107])
	}
	// The patched copy of the site's page and the stub page are mapped
	// already: the thread returns through them without faulting.
	for _, page := range []uintptr{site &^ (pageSize - 1), stub &^ (pageSize - 1)} {
		i := e.mm.pmaIndex(page)
		p := e.mm.pmas[i]
		if fp, ok := e.as.pages[page]; !ok || fp.at != rx || fp.off != p.off+int64(page-p.start) {
			t.Errorf("page %#x after the patch: mapped %v %+v, want r-x at its backing", page, ok, fp)
		}
	}
	// A second site in the same page shares the stub page.
	// Making the text writable restores the original bytes.
	if err := e.mm.MProtect(0x400000, pageSize, 3); err != nil {
		t.Fatal(err)
	}
	e.expectBytes(site, getpidSite)
	// Back to r-x: the next traps patch again.
	if err := e.mm.MProtect(0x400000, pageSize, 5); err != nil {
		t.Fatal(err)
	}
	trap(e.mm, site+7, 39)
	if e.read(site, 1)[0] != 0xe9 {
		t.Fatalf("not patched again after mprotect r-x")
	}
	// Unmapping the stub page restores the site too.
	if err := e.mm.MUnmap(stub&^(pageSize-1), pageSize); err != nil {
		t.Fatal(err)
	}
	e.expectBytes(site, getpidSite)
}

func TestPatchSyscallFork(t *testing.T) {
	const site = 0x400000 + 0x100
	e, _ := patchEnv(t, 0x100, getpidSite, rx, true)
	trap(e.mm, site+7, 39)
	c, err := e.mm.Fork(0)
	if err != nil {
		t.Fatal(err)
	}
	c.SetAddressSpace(newFakeAS(t))
	if err := c.MProtect(0x400000, pageSize, 3); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 7)
	if _, err := c.CopyIn(site, b); err != nil || !bytes.Equal(b, getpidSite) {
		t.Errorf("child's site after mprotect: % x, %v; want the original bytes", b, err)
	}
	if e.read(site, 1)[0] != 0xe9 {
		t.Errorf("the parent's site changed with the child's")
	}
	c.Release()
}

// TestPatchSyscallTwoWords: a site whose rewritten bytes lie in two
// aligned words is patched while the address space has one thread, and
// undone with the int3 steps once it has more: the original bytes come
// back, and a thread that trapped on the int3 is told to run the site
// again.
func TestPatchSyscallTwoWords(t *testing.T) {
	const site = 0x400000 + 0x104
	e, _ := patchEnv(t, 0x104, getpidSite, rx, true)
	trap(e.mm, site+7, 39)
	if got := e.read(site, 7); got[0] != 0xe9 || !bytes.Equal(got[5:], []byte{0x0f, 0x05}) {
		t.Fatalf("site reads % x, want a jmp rel32 followed by the syscall", got)
	}
	e.mm.as.(*patchAS).sole = false // a second thread now
	// Every state a fetch can see on the way is whole instructions: the
	// jmp, then an int3 first (whatever follows), then the original.
	var steps [][]byte
	restoreStepped = func() { b, _ := e.mm.readCode(site, 5); steps = append(steps, b) } // under mm.mu
	defer func() { restoreStepped = nil }()
	if err := e.mm.MProtect(0x400000, pageSize, 3); err != nil {
		t.Fatal(err)
	}
	if len(steps) != 3 || steps[0][0] != 0xcc || !bytes.Equal(steps[1], append([]byte{0xcc}, getpidSite[1:5]...)) || !bytes.Equal(steps[2], getpidSite[:5]) {
		t.Errorf("restore steps % x, want int3 first, then the tail, then the first byte", steps)
	}
	e.expectBytes(site, getpidSite)
	if !e.mm.RestoredSite(site + 1) {
		t.Errorf("RestoredSite(site+1) = false after an int3 restore")
	}
	if e.mm.RestoredSite(site+2) || e.mm.RestoredSite(0x400000+0x101) {
		t.Errorf("RestoredSite is true for an address that is not a restored site's")
	}
	// An app's own int3 written there later is its own.
	e.write(site, []byte{0xcc})
	if e.mm.RestoredSite(site + 1) {
		t.Errorf("RestoredSite(site+1) = true with an int3 at the site")
	}
}

func TestPatchSyscallRefused(t *testing.T) {
	rwx := platform.AnyAccess
	for _, c := range []struct {
		name  string
		off   int
		code  []byte
		perms platform.AccessType
		sole  bool
		nr    uint64
	}{
		{"another number", 0x100, getpidSite, rx, true, 40},
		{"not the sequence", 0x100, []byte{0xb9, 39, 0, 0, 0, 0x0f, 0x05}, rx, true, 39},
		{"after a REX prefix (mov r8d)", 0x101, append([]byte{0x41}, getpidSite...), rx, true, 39},
		{"writable text", 0x100, getpidSite, rwx, true, 39},
		{"across a cache line", 0x13c, getpidSite, rx, true, 39},
		{"across a page boundary", pageSize - 5, getpidSite, rx, true, 39},
		{"other threads", 0x100, getpidSite, rx, false, 39},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, _ := patchEnv(t, c.off, c.code, c.perms, c.sole)
			site := uintptr(0x400000 + c.off + len(c.code) - 7)
			trap(e.mm, site+7, c.nr)
			e.expectBytes(site, c.code[len(c.code)-7:])
			if strings.Contains(strings.Join(e.mapsLines(), "\n"), stubPageName) {
				t.Errorf("a stub page was mapped")
			}
		})
	}
	t.Run("anonymous memory", func(t *testing.T) {
		e := newEnv(t)
		e.mm.as = &patchAS{fakeAS: e.as, sole: true}
		addr := e.anon(0x500000, pageSize, platform.ReadWrite)
		e.write(addr+0x100, getpidSite)
		if err := e.mm.MProtect(addr, pageSize, 5); err != nil {
			t.Fatal(err)
		}
		trap(e.mm, addr+0x107, 39)
		e.expectBytes(addr+0x100, getpidSite)
	})
}
