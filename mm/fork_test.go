package mm

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/unix"

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
					c, err := s.mm.Fork()
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
