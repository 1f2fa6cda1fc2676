package mm

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/unix"

	"moat/memory"
	"moat/platform"
)

// cowSpace is one address space of the fork test: its memory manager, its
// fake platform address space (whose page table says which memory-file
// page each app page is mapped to), and the model of its memory.
type cowSpace struct {
	mm    *MemoryManager
	as    *fakeAS
	model [][]byte // per page
}

// appWrite writes b at page p of s as the app would: through its mapping,
// faulting first if the page is not mapped writable.
func appWrite(t *testing.T, mf interface {
	Bytes(platform.FileRange) []byte
}, s *cowSpace, addr uintptr, b []byte) {
	t.Helper()
	for try := 0; ; try++ {
		fp, ok := s.as.pages[addr]
		if ok && fp.at.Write {
			copy(mf.Bytes(platform.FileRange{Offset: fp.off, Length: pg}), b)
			return
		}
		if try == 2 {
			t.Fatalf("write at %#x: still not writable after faults (mapped %v, %v)", addr, ok, fp.at)
		}
		at := platform.AccessType{Write: true}
		if !ok && try == 0 {
			at = platform.Read // the ptrace platform's guess for an unmapped page
		}
		if err := s.mm.HandleFault(addr, at); err != nil {
			t.Fatalf("HandleFault(%#x, %v): %v", addr, at, err)
		}
	}
}

// appRead reads page addr of s as the app would, through its mapping.
func appRead(t *testing.T, mf interface {
	Bytes(platform.FileRange) []byte
}, s *cowSpace, addr uintptr) []byte {
	t.Helper()
	fp, ok := s.as.pages[addr]
	if !ok {
		if err := s.mm.HandleFault(addr, platform.Read); err != nil {
			t.Fatalf("HandleFault(%#x, read): %v", addr, err)
		}
		fp = s.as.pages[addr]
	}
	return append([]byte(nil), mf.Bytes(platform.FileRange{Offset: fp.off, Length: pg})...)
}

// TestForkCopyOnWrite forks address spaces and writes and reads them at
// random, as the app (through the fake page tables, faulting as a CPU
// would) and as the sentry (CopyOut, CopyIn), checking against a model
// that every address space sees only its own writes, that no page shared
// with another address space is ever mapped writable, and that all memory
// is freed when the last address space goes.
func TestForkCopyOnWrite(t *testing.T) {
	const npages = 48
	const w = 0x10000000
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			e := newEnv(t)
			rng := rand.New(rand.NewPCG(seed, 3))
			// Odd seeds use a stack: its fault chunks are not aligned.
			e.mmap(MMapOpts{Addr: w, Length: npages * pg, Fixed: true, Perms: rw, MaxPerms: rwx, Private: true, GrowsDown: seed%2 == 1})
			spaces := []*cowSpace{{mm: e.mm, as: e.as, model: make([][]byte, npages)}}
			for i := range spaces[0].model {
				spaces[0].model[i] = make([]byte, pg)
			}
			page := func(i int) uintptr { return w + uintptr(i)*pg }
			// Back the whole range as one pma, then make its first pages
			// read-only: the pma now spans two VMAs.
			const ro = 4
			init := pattern(npages*int(pg), byte(seed))
			e.write(w, init)
			for i := range spaces[0].model {
				copy(spaces[0].model[i], init[i*int(pg):])
			}
			if err := e.mm.MProtect(w, ro*pg, unix.PROT_READ); err != nil {
				t.Fatalf("MProtect: %v", err)
			}
			for step := 0; step < 400; step++ {
				s := spaces[rng.IntN(len(spaces))]
				i := ro + rng.IntN(npages-ro) // written pages; reads may go anywhere
				if rng.IntN(4) == 0 {
					i = rng.IntN(npages)
				}
				data := bytes.Repeat([]byte{byte(rng.Uint32())}, int(pg))
				switch op := rng.IntN(10); {
				case op < 3 && i >= ro:
					appWrite(t, e.mf, s, page(i), data)
					copy(s.model[i], data)
				case op < 5 && i >= ro:
					n := 1 + rng.IntN(min(5, npages-i))
					buf := bytes.Repeat(data[:1], n*int(pg))
					if _, err := s.mm.CopyOut(page(i), buf); err != nil {
						t.Fatalf("CopyOut: %v", err)
					}
					for j := i; j < i+n; j++ {
						copy(s.model[j], data)
					}
				case op < 7:
					if got := appRead(t, e.mf, s, page(i)); !bytes.Equal(got, s.model[i]) {
						t.Fatalf("seed %d step %d: app read of page %d in space %p: got %#x..., want %#x...", seed, step, i, s, got[0], s.model[i][0])
					}
				case op < 8:
					got := make([]byte, pg)
					if _, err := s.mm.CopyIn(page(i), got); err != nil || !bytes.Equal(got, s.model[i]) {
						t.Fatalf("seed %d step %d: CopyIn of page %d: %v, got %#x..., want %#x...", seed, step, i, err, got[0], s.model[i][0])
					}
				case op < 9 && len(spaces) < 5:
					c, err := s.mm.Fork(0)
					if err != nil {
						t.Fatalf("Fork: %v", err)
					}
					cas := newFakeAS(t)
					c.SetAddressSpace(cas)
					cs := &cowSpace{mm: c, as: cas, model: make([][]byte, npages)}
					for j := range cs.model {
						cs.model[j] = append([]byte(nil), s.model[j]...)
					}
					spaces = append(spaces, cs)
				case len(spaces) > 1 && s != spaces[0]:
					s.mm.Release()
					for j, o := range spaces {
						if o == s {
							spaces = append(spaces[:j], spaces[j+1:]...)
							break
						}
					}
				}
				for _, o := range spaces {
					for addr, fp := range o.as.pages {
						if fp.at.Write && e.mf.Shared(platform.FileRange{Offset: fp.off, Length: pg}) {
							t.Fatalf("seed %d step %d: page %#x is mapped writable but shared with another address space", seed, step, addr)
						}
					}
				}
			}
			for _, o := range spaces[1:] {
				o.mm.Release()
			}
			e.mm.Release()
			if got := e.mf.InUse(); got != e.base {
				t.Fatalf("after releasing every address space, %d bytes are still in use (base %d)", got, e.base)
			}
		})
	}
}

// sharedFile is a fake MAP_SHARED-capable file: its data lives in
// memory-file chunks it hands out (SharedMappable), as memfs's does.
type sharedFile struct {
	*fakeFile
	mf     *memory.File
	chunks map[int64]platform.FileRange
}

const sharedFileChunk = 64 << 10

func (f *sharedFile) SharedChunk(off int64) (platform.FileRange, int64, error) {
	c := off / sharedFileChunk
	if fr, ok := f.chunks[c]; ok {
		return fr, c * sharedFileChunk, nil
	}
	fr, err := f.mf.Allocate(sharedFileChunk)
	if err != nil {
		return platform.FileRange{}, 0, err
	}
	f.chunks[c] = fr
	return fr, c * sharedFileChunk, nil
}

// TestSharedFileMapping maps a SharedMappable file MAP_SHARED in an
// address space and its fork: stores by either (as the app, and by the
// sentry) land in the file's own chunks, no page is copy-on-write, futex
// keys are the chunks' offsets, and releasing the address spaces leaves
// the file's memory to the file.
func TestSharedFileMapping(t *testing.T) {
	e := newEnv(t)
	f := &sharedFile{fakeFile: newFakeFile(200<<10, 1), mf: e.mf, chunks: map[int64]platform.FileRange{}}
	const w = 0x20000000
	addr := e.mmap(MMapOpts{Addr: w, Length: 128 << 10, Fixed: true, Perms: rw, MaxPerms: rwx, File: f, Offset: 64 << 10})
	c, err := e.mm.Fork(0)
	if err != nil {
		t.Fatal(err)
	}
	cas := newFakeAS(t)
	c.SetAddressSpace(cas)
	parent := &cowSpace{mm: e.mm, as: e.as}
	child := &cowSpace{mm: c, as: cas}
	appWrite(t, e.mf, parent, addr+4096, bytes.Repeat([]byte{0xaa}, int(pg)))
	if got := appRead(t, e.mf, child, addr+4096); got[0] != 0xaa {
		t.Fatalf("the child reads %#x where the parent stored 0xaa", got[0])
	}
	if _, err := c.CopyOut(addr+70<<10, []byte{0xbb}); err != nil {
		t.Fatal(err)
	}
	fr := f.chunks[2] // file offset 64K+70K lies in the third 64 KiB chunk
	if got := e.mf.Bytes(fr)[(64<<10+70<<10)-2*sharedFileChunk]; got != 0xbb {
		t.Fatalf("the file's chunk holds %#x, want the child's 0xbb", got)
	}
	for _, s := range []*cowSpace{parent, child} {
		for a, fp := range s.as.pages {
			if !fp.at.Write {
				t.Errorf("page %#x of a shared file mapping is mapped %v", a, fp.at)
			}
		}
	}
	off1, ok1 := e.mm.SharedOffset(addr + 4096)
	off2, ok2 := c.SharedOffset(addr + 4096)
	if !ok1 || !ok2 || off1 != off2 || off1 != f.chunks[1].Offset+4096 {
		t.Fatalf("SharedOffset: %d %v and %d %v, want %d", off1, ok1, off2, ok2, f.chunks[1].Offset+4096)
	}
	inUse := e.mf.InUse()
	c.Release()
	if err := e.mm.MUnmap(addr, 128<<10); err != nil {
		t.Fatal(err)
	}
	if e.mf.InUse() != inUse {
		t.Fatalf("unmapping freed the file's memory: %d in use, was %d", e.mf.InUse(), inUse)
	}
	for _, fr := range f.chunks {
		e.mf.Free(fr)
	}
}

// cachedFile is a fake file whose content key lets private mappings share
// the file cache.
type cachedFile struct {
	*fakeFile
	key  any
	keys int // ContentKey calls (a host fstat each for a real file)
}

func (f *cachedFile) ContentKey() (any, bool) {
	f.keys++
	return f.key, true
}

// TestFileCache maps one cached file privately in two address spaces:
// both map the same memory-file pages until one writes, which copies;
// each sees the file's data and its own writes; a new key (changed
// content) reads the file again; and all memory is freed once the
// address spaces and the cache let go.
func TestFileCache(t *testing.T) {
	e := newEnv(t)
	f := &cachedFile{fakeFile: newFakeFile(600<<10, 7), key: "v1"}
	const w = 0x30000000
	other := New(e.mf, newFakeAS(t), testMaxAddr)
	other.SetLayout(testMmapBase, testBrkStart)
	oas := other.as.(*fakeAS)
	for _, m := range []*MemoryManager{e.mm, other} {
		if _, err := m.MMap(MMapOpts{Addr: w, Length: 512 << 10, Fixed: true, Perms: rw, MaxPerms: rwx, Private: true, File: f, Offset: 64 << 10}); err != nil {
			t.Fatal(err)
		}
	}
	a := &cowSpace{mm: e.mm, as: e.as}
	b := &cowSpace{mm: other, as: oas}
	for _, addr := range []uintptr{w, w + 300<<10} {
		got := appRead(t, e.mf, a, addr)
		if want := f.data[64<<10+addr-w:][:pg]; !bytes.Equal(got, want) {
			t.Fatalf("read at %#x: not the file's data", addr)
		}
		appRead(t, e.mf, b, addr)
		if a.as.pages[addr].off != b.as.pages[addr].off {
			t.Fatalf("page %#x: the two mappings do not share the cached copy", addr)
		}
	}
	appWrite(t, e.mf, a, w, bytes.Repeat([]byte{0xee}, int(pg)))
	if a.as.pages[w].off == b.as.pages[w].off {
		t.Fatal("a write did not copy the shared page")
	}
	if got := appRead(t, e.mf, b, w); !bytes.Equal(got, f.data[64<<10:][:pg]) {
		t.Fatal("the other mapping sees the write")
	}
	f.key = "v2" // the file changed: a new mapping reads it again
	third := New(e.mf, newFakeAS(t), testMaxAddr)
	third.SetLayout(testMmapBase, testBrkStart)
	if _, err := third.MMap(MMapOpts{Addr: w, Length: 64 << 10, Fixed: true, Perms: ro, MaxPerms: rwx, Private: true, File: f, Offset: 64 << 10}); err != nil {
		t.Fatal(err)
	}
	c := &cowSpace{mm: third, as: third.as.(*fakeAS)}
	appRead(t, e.mf, c, w+4096)
	if c.as.pages[w+4096].off == b.as.pages[w+4096].off {
		t.Fatal("a new content key shares the old copy")
	}
	other.Release()
	third.Release()
	e.mm.MUnmap(w, 512<<10)
	DropFileCache(e.mf)
	if got := e.mf.InUse(); got != e.base {
		t.Fatalf("%d bytes in use after everything let go, want %d", got, e.base)
	}
}
