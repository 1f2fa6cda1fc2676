package memory

import (
	"math/rand/v2"
	"testing"

	"moat/platform"
)

// TestRefsAgainstModel applies random IncRef and DecRef calls to parts of
// an allocation and checks, page by page against a model of reference
// counts, which pages are shared, which are freed (they read as zero and
// are no longer in use), and the segment list's invariants.
func TestRefsAgainstModel(t *testing.T) {
	const npages = 32
	for seed := range uint64(20) {
		f := newFreeListFile(t, 1<<20)
		base := mustAllocate(t, f, npages*PageSize)
		refs := make([]int, npages) // the model: references per page
		for i := range refs {
			refs[i] = 1
		}
		rng := rand.New(rand.NewPCG(seed, 7))
		page := func(i int) platform.FileRange {
			return platform.FileRange{Offset: base.Offset + int64(i)*PageSize, Length: PageSize}
		}
		for step := 0; step < 300; step++ {
			s := rng.IntN(npages)
			l := 1 + rng.IntN(npages-s)
			live := true
			for i := s; i < s+l; i++ {
				live = live && refs[i] > 0
			}
			if !live {
				continue // the model only references pages it still holds
			}
			fr := platform.FileRange{Offset: base.Offset + int64(s)*PageSize, Length: uintptr(l) * PageSize}
			if rng.IntN(2) == 0 {
				f.IncRef(fr)
				for i := s; i < s+l; i++ {
					refs[i]++
				}
			} else {
				for i := s; i < s+l; i++ {
					f.Bytes(page(i))[0] = 0xaa // data that a free must drop
				}
				f.DecRef(fr)
				for i := s; i < s+l; i++ {
					refs[i]--
				}
			}
			var inUse int64
			for i, r := range refs {
				if got, want := f.Shared(page(i)), r > 1; got != want {
					t.Fatalf("seed %d step %d: page %d Shared = %v, model has %d references", seed, step, i, got, r)
				}
				if r > 0 {
					inUse += PageSize
				} else if f.Bytes(page(i))[0] != 0 {
					t.Fatalf("seed %d step %d: page %d was freed but keeps its data", seed, step, i)
				}
			}
			if f.InUse() != inUse {
				t.Fatalf("seed %d step %d: InUse = %d, model %d", seed, step, f.InUse(), inUse)
			}
			checkInvariants(t, f)
			f.mu.Lock()
			for i, sg := range f.refs {
				if sg.extra <= 0 || sg.start >= sg.end || i > 0 && (f.refs[i-1].end > sg.start ||
					f.refs[i-1].end == sg.start && f.refs[i-1].extra == sg.extra) {
					f.mu.Unlock()
					t.Fatalf("seed %d step %d: bad segment list %+v", seed, step, f.refs)
				}
			}
			f.mu.Unlock()
		}
	}
}
