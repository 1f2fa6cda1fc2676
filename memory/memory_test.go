package memory

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/unix"

	"moat/platform"
)

func newFile(t *testing.T, size int64) *File {
	t.Helper()
	f, err := New("memory-test", size)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		unix.Munmap(f.mapping)
		unix.Close(f.fd)
	})
	return f
}

// newFreeListFile is newFile with no kept ranges: every Free punches out
// and goes to the free list, whose workings the test is about.
func newFreeListFile(t *testing.T, size int64) *File {
	f := newFile(t, size)
	f.keepLimit = 0
	return f
}

// checkInvariants verifies the allocator's bookkeeping: the free list is
// sorted, coalesced, page aligned and below end, nothing free touches end,
// kept ranges are below end and overlap no free range, and allocated,
// free and kept bytes add up to end.
func checkInvariants(t *testing.T, f *File) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var free int64
	for i, r := range f.free {
		if r.Length == 0 || r.Offset%PageSize != 0 || r.Length%PageSize != 0 {
			t.Fatalf("free[%d] = %+v: empty or unaligned", i, r)
		}
		if i > 0 {
			prev := f.free[i-1]
			if prev.Offset+int64(prev.Length) >= r.Offset {
				t.Fatalf("free[%d] = %+v and free[%d] = %+v overlap or are not coalesced", i-1, prev, i, r)
			}
		}
		if r.Offset+int64(r.Length) >= f.end {
			t.Fatalf("free[%d] = %+v reaches end %#x: should have gone back to the bump allocator", i, r, f.end)
		}
		free += int64(r.Length)
	}
	var kept int64
	for i, r := range f.kept {
		if r.Length == 0 || r.Offset%PageSize != 0 || r.Length%PageSize != 0 || r.Offset+int64(r.Length) > f.end {
			t.Fatalf("kept[%d] = %+v: empty, unaligned or beyond end %#x", i, r, f.end)
		}
		if i > 0 {
			prev := f.kept[i-1]
			if prev.Offset+int64(prev.Length) >= r.Offset {
				t.Fatalf("kept[%d] = %+v and kept[%d] = %+v overlap or are not merged", i-1, prev, i, r)
			}
		}
		for _, fr := range f.free {
			if r.Offset < fr.Offset+int64(fr.Length) && fr.Offset < r.Offset+int64(r.Length) {
				t.Fatalf("kept %+v overlaps free %+v", r, fr)
			}
		}
		kept += int64(r.Length)
	}
	if kept != f.keptBytes || kept > f.keepLimit {
		t.Fatalf("kept ranges add up to %#x, keptBytes %#x, limit %#x", kept, f.keptBytes, f.keepLimit)
	}
	if f.inUse+free+kept+f.lostBytes != f.end {
		t.Fatalf("inUse %#x + free %#x + kept %#x + abandoned %#x != end %#x", f.inUse, free, kept, f.lostBytes, f.end)
	}
	if f.end > f.size || f.inUse < 0 {
		t.Fatalf("end %#x size %#x inUse %#x", f.end, f.size, f.inUse)
	}
}

func mustAllocate(t *testing.T, f *File, n uintptr) platform.FileRange {
	t.Helper()
	fr, err := f.Allocate(n)
	if err != nil {
		t.Fatalf("Allocate(%#x): %v", n, err)
	}
	return fr
}

// TestAbandon: once the file is abandoned, Free neither punches a range
// out nor hands it out again, small or large, and still counts it free.
func TestAbandon(t *testing.T) {
	f := newFile(t, 1<<24)
	small := mustAllocate(t, f, PageSize)
	large := mustAllocate(t, f, 64*PageSize)
	for _, fr := range []platform.FileRange{small, large} {
		copy(f.Bytes(fr), "still here")
	}
	f.Abandon()
	if !f.Abandoned() {
		t.Fatal("not Abandoned after Abandon")
	}
	f.Free(small)
	f.Free(large)
	if got := f.InUse(); got != 0 {
		t.Fatalf("InUse = %#x after freeing everything, want 0", got)
	}
	for _, fr := range []platform.FileRange{small, large} {
		if got := string(f.Bytes(fr)[:10]); got != "still here" {
			t.Fatalf("range %+v reads %q: punched out", fr, got)
		}
	}
	for _, n := range []uintptr{PageSize, 64 * PageSize} {
		fr := mustAllocate(t, f, n)
		if fr.Offset < large.Offset+int64(large.Length) {
			t.Fatalf("Allocate(%#x) = %+v: an abandoned range again", n, fr)
		}
		if b := f.Bytes(fr); b[0] != 0 {
			t.Fatalf("Allocate(%#x) = %+v is not zero", n, fr)
		}
	}
	checkInvariants(t, f)
}

func TestNewRoundsSize(t *testing.T) {
	f := newFile(t, 3*PageSize+1)
	if f.size != 4*PageSize {
		t.Fatalf("size = %#x, want %#x", f.size, 4*PageSize)
	}
	if f.FD() < 0 {
		t.Fatalf("FD = %d", f.FD())
	}
}

func TestAllocateRoundsAndAligns(t *testing.T) {
	f := newFile(t, 1<<20)
	a := mustAllocate(t, f, 1)
	b := mustAllocate(t, f, PageSize+1)
	if a.Length != PageSize || b.Length != 2*PageSize {
		t.Fatalf("lengths %#x %#x, want %#x %#x", a.Length, b.Length, PageSize, 2*PageSize)
	}
	if a.Offset%PageSize != 0 || b.Offset%PageSize != 0 {
		t.Fatalf("unaligned offsets %#x %#x", a.Offset, b.Offset)
	}
	if a.Offset < b.Offset+int64(b.Length) && b.Offset < a.Offset+int64(a.Length) {
		t.Fatalf("ranges overlap: %+v %+v", a, b)
	}
	if got := f.InUse(); got != 3*PageSize {
		t.Fatalf("InUse = %#x, want %#x", got, 3*PageSize)
	}
	if _, err := f.Allocate(0); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Allocate(0) = %v, want EINVAL", err)
	}
	if got := len(f.Bytes(b)); got != 2*PageSize {
		t.Fatalf("len(Bytes) = %d", got)
	}
	checkInvariants(t, f)
}

func TestFreeCoalesces(t *testing.T) {
	f := newFreeListFile(t, 1<<20)
	var rs []platform.FileRange
	for range 5 {
		rs = append(rs, mustAllocate(t, f, PageSize))
	}
	// Free 1 and 3, then 2: the three must coalesce into one range.
	f.Free(rs[1])
	f.Free(rs[3])
	checkInvariants(t, f)
	if len(f.free) != 2 {
		t.Fatalf("free list %+v, want 2 ranges", f.free)
	}
	f.Free(rs[2])
	checkInvariants(t, f)
	if len(f.free) != 1 || f.free[0] != (platform.FileRange{Offset: rs[1].Offset, Length: 3 * PageSize}) {
		t.Fatalf("free list %+v, want one range of 3 pages at %#x", f.free, rs[1].Offset)
	}
	// A 3-page allocation must reuse the coalesced hole rather than grow.
	end := f.end
	got := mustAllocate(t, f, 3*PageSize)
	if got.Offset != rs[1].Offset || f.end != end {
		t.Fatalf("3-page allocation at %#x (end %#x -> %#x), want the hole at %#x", got.Offset, end, f.end, rs[1].Offset)
	}
	checkInvariants(t, f)
}

func TestFreeTopReturnsToBump(t *testing.T) {
	f := newFreeListFile(t, 1<<20)
	a := mustAllocate(t, f, PageSize)
	b := mustAllocate(t, f, 2*PageSize)
	c := mustAllocate(t, f, PageSize)
	f.Free(b)
	f.Free(c) // coalesces with b and reaches the top
	checkInvariants(t, f)
	if len(f.free) != 0 || f.end != a.Offset+int64(a.Length) {
		t.Fatalf("free %+v end %#x, want empty list and end %#x", f.free, f.end, a.Offset+int64(a.Length))
	}
	f.Free(a)
	checkInvariants(t, f)
	if f.end != 0 || f.InUse() != 0 {
		t.Fatalf("end %#x InUse %#x after freeing everything", f.end, f.InUse())
	}
}

func TestFreeZeroLengthIsNoop(t *testing.T) {
	f := newFile(t, 1<<20)
	mustAllocate(t, f, PageSize)
	f.Free(platform.FileRange{})
	checkInvariants(t, f)
	if f.InUse() != PageSize {
		t.Fatalf("InUse = %#x", f.InUse())
	}
}

func TestZeroedAfterFreeAllocate(t *testing.T) {
	f := newFreeListFile(t, 1<<20)
	a := mustAllocate(t, f, 2*PageSize)
	guard := mustAllocate(t, f, PageSize) // keeps a off the top of the file
	for i := range f.Bytes(a) {
		f.Bytes(a)[i] = 0xa5
	}
	f.Free(a)
	b := mustAllocate(t, f, 2*PageSize)
	if b.Offset != a.Offset {
		t.Fatalf("reallocation at %#x, want %#x", b.Offset, a.Offset)
	}
	for i, c := range f.Bytes(b) {
		if c != 0 {
			t.Fatalf("byte %d = %#x after Free+Allocate, want 0", i, c)
		}
	}
	// Freeing the top of the file and allocating it again must zero too.
	copy(f.Bytes(guard), "dirty")
	f.Free(guard)
	g := mustAllocate(t, f, PageSize)
	if g.Offset != guard.Offset {
		t.Fatalf("top reallocation at %#x, want %#x", g.Offset, guard.Offset)
	}
	if string(f.Bytes(g)[:5]) != "\x00\x00\x00\x00\x00" {
		t.Fatalf("top page not zeroed: %q", f.Bytes(g)[:5])
	}
}

func TestDecommitZeroesButKeepsAllocated(t *testing.T) {
	f := newFile(t, 1<<20)
	a := mustAllocate(t, f, PageSize)
	copy(f.Bytes(a), "hello")
	f.Decommit(a)
	if string(f.Bytes(a)[:5]) != "\x00\x00\x00\x00\x00" {
		t.Fatalf("Decommit left %q", f.Bytes(a)[:5])
	}
	if f.InUse() != PageSize {
		t.Fatalf("InUse = %#x after Decommit", f.InUse())
	}
}

func TestENOMEMWhenFull(t *testing.T) {
	f := newFreeListFile(t, 8*PageSize)
	var rs []platform.FileRange
	for range 8 {
		rs = append(rs, mustAllocate(t, f, PageSize))
	}
	if _, err := f.Allocate(PageSize); !errors.Is(err, unix.ENOMEM) {
		t.Fatalf("Allocate on a full file = %v, want ENOMEM", err)
	}
	if f.InUse() != 8*PageSize {
		t.Fatalf("failed Allocate changed InUse to %#x", f.InUse())
	}
	// Two separate free pages do not make room for two contiguous ones.
	f.Free(rs[2])
	f.Free(rs[5])
	if _, err := f.Allocate(2 * PageSize); !errors.Is(err, unix.ENOMEM) {
		t.Fatalf("Allocate(2 pages) with fragmented free space = %v, want ENOMEM", err)
	}
	if got := mustAllocate(t, f, PageSize); got.Offset != rs[2].Offset {
		t.Fatalf("first fit at %#x, want %#x", got.Offset, rs[2].Offset)
	}
	// Huge and overflowing requests fail cleanly.
	if _, err := f.Allocate(1 << 40); !errors.Is(err, unix.ENOMEM) {
		t.Fatalf("Allocate(1TiB) = %v, want ENOMEM", err)
	}
	if _, err := f.Allocate(^uintptr(0) - 2*PageSize); err == nil {
		t.Fatalf("Allocate(near max uintptr) succeeded")
	}
	checkInvariants(t, f)
}

func TestInUseAccounting(t *testing.T) {
	f := newFreeListFile(t, 1<<24)
	rng := rand.New(rand.NewPCG(1, 2))
	var live []platform.FileRange
	var want int64
	for i := range 2000 {
		if len(live) > 0 && rng.IntN(2) == 0 {
			j := rng.IntN(len(live))
			f.Free(live[j])
			want -= int64(live[j].Length)
			live = append(live[:j], live[j+1:]...)
		} else {
			n := uintptr(rng.IntN(8*PageSize) + 1)
			fr, err := f.Allocate(n)
			if err != nil {
				t.Fatalf("step %d: Allocate(%#x): %v", i, n, err)
			}
			// The new range must not overlap any live one.
			for _, l := range live {
				if fr.Offset < l.Offset+int64(l.Length) && l.Offset < fr.Offset+int64(fr.Length) {
					t.Fatalf("step %d: %+v overlaps live %+v", i, fr, l)
				}
			}
			live = append(live, fr)
			want += int64(fr.Length)
		}
		if got := f.InUse(); got != want {
			t.Fatalf("step %d: InUse = %#x, want %#x", i, got, want)
		}
		checkInvariants(t, f)
	}
	for _, l := range live {
		f.Free(l)
	}
	checkInvariants(t, f)
	if f.InUse() != 0 || f.end != 0 || len(f.free) != 0 {
		t.Fatalf("after freeing everything: InUse %#x end %#x free %+v", f.InUse(), f.end, f.free)
	}
}

func TestRound(t *testing.T) {
	for _, c := range []struct{ in, up, down uintptr }{
		{0, 0, 0}, {1, PageSize, 0}, {PageSize, PageSize, PageSize}, {PageSize + 1, 2 * PageSize, PageSize},
		{^uintptr(0), 0, ^uintptr(0) &^ (PageSize - 1)},
	} {
		if got := RoundUp(c.in); got != c.up {
			t.Errorf("RoundUp(%#x) = %#x, want %#x", c.in, got, c.up)
		}
		if got := RoundDown(c.in); got != c.down {
			t.Errorf("RoundDown(%#x) = %#x, want %#x", c.in, got, c.down)
		}
	}
}

// TestKeptRanges checks small freed ranges are kept committed and handed
// out again zeroed, split when no kept range is as long, up to the limit
// (beyond it they are punched out and go to the free list); that a large
// allocation that finds no room gets the kept ranges' room; and, with
// random allocations and frees, that no range is handed out twice.
func TestKeptRanges(t *testing.T) {
	f := newFile(t, 64*PageSize)
	f.keepLimit = 4 * PageSize
	a := mustAllocate(t, f, 3*PageSize)
	b := mustAllocate(t, f, 2*PageSize)
	mustAllocate(t, f, PageSize) // keeps them off the top of the file
	for _, r := range []platform.FileRange{a, b} {
		for i := range f.Bytes(r) {
			f.Bytes(r)[i] = 0x5a
		}
	}
	f.Free(a)
	if f.keptBytes != int64(a.Length) || len(f.free) != 0 || f.InUse() != 3*PageSize {
		t.Fatalf("after freeing 3 pages: kept %#x, free %+v, InUse %#x; want them kept", f.keptBytes, f.free, f.InUse())
	}
	if f.Bytes(a)[0] != 0x5a {
		t.Fatal("a kept range was punched out")
	}
	f.Free(b) // over the limit: punched out
	if f.keptBytes != int64(a.Length) || len(f.free) != 1 || f.Bytes(b)[0] != 0 {
		t.Fatalf("after freeing 2 more pages: kept %#x, free %+v, first byte %#x; want them punched out", f.keptBytes, f.free, f.Bytes(b)[0])
	}
	checkInvariants(t, f)
	// A 1-page allocation takes part of the kept range, zeroed, and
	// keeps the rest.
	c := mustAllocate(t, f, PageSize)
	if c.Offset < a.Offset || c.Offset >= a.Offset+int64(a.Length) {
		t.Fatalf("1-page allocation at %#x, want part of the kept %+v", c.Offset, a)
	}
	for i, x := range f.Bytes(c) {
		if x != 0 {
			t.Fatalf("byte %d of a reused kept page is %#x", i, x)
		}
	}
	if f.keptBytes != 2*PageSize {
		t.Fatalf("kept %#x after taking a page of 3, want 2 pages", f.keptBytes)
	}
	checkInvariants(t, f)
	// Fill the file: the last allocation fits only where the kept pages
	// are, and gets them.
	f.mu.Lock()
	for {
		if _, err := f.allocateLocked(PageSize); err != nil {
			break
		}
	}
	f.mu.Unlock()
	checkInvariants(t, f)
	d, err := f.Allocate(2 * PageSize)
	if err != nil {
		t.Fatalf("Allocate with only kept pages left: %v", err)
	}
	if f.keptBytes != 0 {
		t.Fatalf("kept %#x after the kept pages were needed", f.keptBytes)
	}
	for i, x := range f.Bytes(d) {
		if x != 0 {
			t.Fatalf("byte %d of a formerly kept page is %#x", i, x)
		}
	}
	checkInvariants(t, f)

	// Random use: never the same page twice, always zeroed.
	g := newFile(t, 1<<22)
	g.keepLimit = 64 * PageSize
	rng := rand.New(rand.NewPCG(3, 4))
	var live []platform.FileRange
	owner := map[int64]int{}
	for step := range 3000 {
		if len(live) > 0 && rng.IntN(2) == 0 {
			j := rng.IntN(len(live))
			for o := live[j].Offset; o < live[j].Offset+int64(live[j].Length); o += PageSize {
				delete(owner, o)
			}
			g.Free(live[j])
			live = append(live[:j], live[j+1:]...)
		} else {
			fr := mustAllocate(t, g, uintptr(rng.IntN(20*PageSize)+1))
			for i, x := range g.Bytes(fr) {
				if x != 0 {
					t.Fatalf("step %d: byte %d of a new range is %#x", step, i, x)
				}
			}
			for o := fr.Offset; o < fr.Offset+int64(fr.Length); o += PageSize {
				if s, ok := owner[o]; ok {
					t.Fatalf("step %d: page %#x handed out again (first at step %d)", step, o, s)
				}
				owner[o] = step
			}
			g.Bytes(fr)[0] = 0xff
			live = append(live, fr)
		}
		checkInvariants(t, g)
	}
}

// TestAllocateFrom: a range allocated and filled at once holds what was
// read and zeros after a short read, whether it was a kept range (stale
// bytes, not zeroed first) or a fresh one.
func TestAllocateFrom(t *testing.T) {
	f := newFile(t, 64*PageSize)
	data := make([]byte, 3*PageSize)
	for i := range data {
		data[i] = byte(i%251) + 1
	}
	for _, tc := range []struct {
		name string
		read int // bytes the reader has
	}{{"whole", len(data)}, {"short", PageSize + 100}, {"none", 0}} {
		for _, kept := range []bool{true, false} {
			if kept {
				stale := mustAllocate(t, f, 3*PageSize)
				mustAllocate(t, f, PageSize) // keeps it off the top of the file
				for i := range f.Bytes(stale) {
					f.Bytes(stale)[i] = 0xee
				}
				f.Free(stale)
				if f.keptBytes == 0 {
					t.Fatal("the freed range was not kept")
				}
			}
			fr, err := f.AllocateFrom(3*PageSize-10, bytes.NewReader(data[:tc.read]), 0)
			if err != nil {
				t.Fatalf("%s, kept %v: %v", tc.name, kept, err)
			}
			got := f.Bytes(fr)
			if len(got) != 3*PageSize {
				t.Fatalf("%s, kept %v: %d bytes, want 3 pages", tc.name, kept, len(got))
			}
			for i, b := range got {
				want := byte(0)
				if i < tc.read {
					want = data[i]
				}
				if b != want {
					t.Fatalf("%s, kept %v: byte %d is %#x, want %#x", tc.name, kept, i, b, want)
				}
			}
			f.Free(fr)
			checkInvariants(t, f)
		}
	}
}

// TestKeptRangesMerge checks that kept ranges that touch are merged: a
// 16-page range freed page by page, as an exiting process's pieces of a
// chunk are, serves a 16-page allocation again without a hole punch, not
// a fresh range, and that an allocation takes the shortest kept range
// that fits, leaving longer ones whole.
func TestKeptRangesMerge(t *testing.T) {
	f := newFile(t, 256*PageSize)
	chunk := mustAllocate(t, f, keepPages*PageSize)
	mustAllocate(t, f, PageSize) // keeps it off the top of the file
	for i := range f.Bytes(chunk) {
		f.Bytes(chunk)[i] = 0x5a
	}
	for _, p := range rand.New(rand.NewPCG(1, 2)).Perm(keepPages) {
		f.Free(platform.FileRange{Offset: chunk.Offset + int64(p)*PageSize, Length: PageSize})
		checkInvariants(t, f)
	}
	if len(f.kept) != 1 || f.kept[0] != chunk || len(f.free) != 0 {
		t.Fatalf("after freeing %+v page by page: kept %+v, free %+v; want it kept whole", chunk, f.kept, f.free)
	}
	again := mustAllocate(t, f, keepPages*PageSize)
	if again != chunk {
		t.Fatalf("a %d-page allocation got %+v, want the kept %+v", keepPages, again, chunk)
	}
	for i, x := range f.Bytes(again) {
		if x != 0 {
			t.Fatalf("byte %d of the reused range is %#x", i, x)
		}
	}
	checkInvariants(t, f)

	// Kept: 5 pages, then 2 (apart). A 2-page allocation takes the 2.
	five := platform.FileRange{Offset: again.Offset, Length: 5 * PageSize}
	two := platform.FileRange{Offset: again.Offset + 8*PageSize, Length: 2 * PageSize}
	f.Free(five)
	f.Free(two)
	if got := mustAllocate(t, f, 2*PageSize); got != two {
		t.Fatalf("2-page allocation got %+v, want the kept %+v (the shortest that fits)", got, two)
	}
	if len(f.kept) != 1 || f.kept[0] != five {
		t.Fatalf("kept %+v, want %+v whole", f.kept, five)
	}
	checkInvariants(t, f)
}
