package mm

import (
	"bytes"
	"testing"

	"moat/platform"
)

// warmEnv maps f's first three pages r-x at 0x400000 in a new address
// space with patching on and a single thread.
func warmEnv(t *testing.T, f MappableFile) *env {
	e := newEnv(t)
	t.Cleanup(func() { DropFileCache(e.mf) }) // (before newEnv's check)
	e.mm.as = &patchAS{fakeAS: e.as, sole: true}
	e.mmap(MMapOpts{Addr: 0x400000, Length: 3 * pageSize, Fixed: true, Perms: rx, MaxPerms: platform.AnyAccess, Private: true, File: f})
	return e
}

// TestWarmSites: sites that trapped in warmProcs processes are patched in
// the next one at its first trap in the file, before they run, if their
// page holds warmPerPage of them; a lone one is not, nor is any site of a
// file without a content key; the file itself never changes.
func TestWarmSites(t *testing.T) {
	const first, a, b, lone = 0x100, 0x1100, 0x1200, 0x2100 // file offsets
	exit := []byte{0xb8, 60, 0, 0, 0, 0x0f, 0x05}
	brk := []byte{0xb8, 12, 0, 0, 0, 0x0f, 0x05}
	build := func(f *fakeFile) {
		for _, s := range []struct {
			off  int
			code []byte
		}{{first, brk}, {a, getpidSite}, {b, exit}, {lone, getpidSite}} {
			f.data[s.off-1] = 0x90
			copy(f.data[s.off:], s.code)
		}
	}
	// Each process opens the file anew: the same content (key), or no
	// key at all.
	keyed := func() MappableFile {
		f := &cachedFile{fakeFile: newFakeFile(3*pageSize, 1), key: t.Name()}
		build(f.fakeFile)
		return f
	}
	plain := func() MappableFile {
		f := newFakeFile(3*pageSize, 1)
		build(f)
		return f
	}
	at := func(off int) uintptr { return 0x400000 + uintptr(off) }
	for _, open := range []func() MappableFile{keyed, plain} {
		for p := 0; p < warmProcs; p++ {
			e := warmEnv(t, open())
			e.mm.PatchSyscall(at(first)+7, 12)
			e.mm.PatchSyscall(at(a)+7, 39)
			e.mm.PatchSyscall(at(b)+7, 60)
			e.mm.PatchSyscall(at(lone)+7, 39)
			e.expectBytes(at(a), getpidSite) // (one trap each: below patchAfter)
		}
	}
	f := keyed()
	e := warmEnv(t, f)
	e.mm.PatchSyscall(at(first)+7, 12)
	for _, off := range []int{a, b} {
		if got := e.read(at(off), 7); got[0] != 0xe9 || !bytes.Equal(got[5:], []byte{0x0f, 0x05}) {
			t.Errorf("warm site at %#x reads % x, want it patched before it ran", off, got)
		}
	}
	e.expectBytes(at(lone), getpidSite)
	e.expectBytes(at(first), brk)
	if d := f.(*cachedFile).data; !bytes.Equal(d[a:a+7], getpidSite) || !bytes.Equal(d[b:b+7], exit) {
		t.Errorf("the file changed")
	}
	// The patched sites enter the sentry as if patched after their own
	// traps: the next trap at the first site leaves them as they are.
	e.mm.PatchSyscall(at(first)+7, 12)
	if got := e.read(at(a), 1); got[0] != 0xe9 {
		t.Errorf("warm site at %#x undone", a)
	}
	// No content key, no memory of its sites.
	e = warmEnv(t, plain())
	e.mm.PatchSyscall(at(first)+7, 12)
	e.expectBytes(at(a), getpidSite)
	e.expectBytes(at(b), exit)
}
