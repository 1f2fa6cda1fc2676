package memory

import (
	"slices"
	"sort"

	"moat/platform"
)

// Reference counts, for copy-on-write sharing of private memory between
// address spaces (fork). An allocated range holds one reference; IncRef
// adds one, DecRef drops one and frees the pages whose last reference it
// was. Only pages with more than one reference are recorded, as segments
// of the extra count, so memory that was never shared costs nothing here.

// refSeg is [start, end) with extra references beyond the first.
type refSeg struct {
	start, end int64
	extra      int32
}

// IncRef adds a reference to every page of fr.
func (f *File) IncRef(fr platform.FileRange) {
	if fr.Length == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.adjustLocked(fr.Offset, fr.Offset+int64(fr.Length), func(extra int32) int32 { return extra + 1 })
}

// DecRef drops a reference to every page of fr, freeing the pages whose
// last reference it was.
func (f *File) DecRef(fr platform.FileRange) {
	if fr.Length == 0 {
		return
	}
	var free []platform.FileRange
	f.mu.Lock()
	lo, hi := f.adjustLocked(fr.Offset, fr.Offset+int64(fr.Length), func(extra int32) int32 {
		return extra - 1 // -1: the last reference, freed below
	})
	// adjustLocked leaves pieces that dropped to -1 as segments, among
	// those it rewrote; take them out and free them.
	kept := lo
	for _, s := range f.refs[lo:hi] {
		if s.extra < 0 {
			if n := len(free); n > 0 && free[n-1].Offset+int64(free[n-1].Length) == s.start {
				free[n-1].Length += uintptr(s.end - s.start)
			} else {
				free = append(free, platform.FileRange{Offset: s.start, Length: uintptr(s.end - s.start)})
			}
			continue
		}
		f.refs[kept] = s
		kept++
	}
	f.refs = slices.Delete(f.refs, kept, hi)
	f.mu.Unlock()
	for _, r := range free {
		f.Free(r)
	}
}

// Shared reports whether any page of fr has more than one reference.
func (f *File) Shared(fr platform.FileRange) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	start, end := fr.Offset, fr.Offset+int64(fr.Length)
	i := sort.Search(len(f.refs), func(i int) bool { return f.refs[i].end > start })
	return i < len(f.refs) && f.refs[i].start < end
}

// adjustLocked replaces the extra count of every page in [start, end) by
// fn(extra), where unrecorded pages have extra 0, and keeps the segment
// list sorted, coalesced and free of zero counts. Only the segments that
// overlap [start, end), and a neighbour on each side to coalesce with, are
// rewritten, in place: a fork or exit adjusts each of its pieces in turn,
// and the list holds every shared piece of the sandbox. It returns the
// range of f.refs that it rewrote.
//
// Preconditions: f.mu is held.
func (f *File) adjustLocked(start, end int64, fn func(extra int32) int32) (lo, hi int) {
	i := sort.Search(len(f.refs), func(i int) bool { return f.refs[i].end > start })
	j := i
	for j < len(f.refs) && f.refs[j].start < end {
		j++
	}
	lo, hi = max(i-1, 0), min(j+1, len(f.refs))
	out := make([]refSeg, 0, hi-lo+2*(j-i)+2)
	out = append(out, f.refs[lo:i]...)
	cur := start
	for _, s := range f.refs[i:j] {
		if s.start < cur { // the part before start keeps its count
			out = append(out, refSeg{s.start, cur, s.extra})
		}
		if cur < s.start { // a gap: unrecorded pages
			out = append(out, refSeg{cur, s.start, fn(0)})
		}
		a, b := max(s.start, cur), min(s.end, end)
		out = append(out, refSeg{a, b, fn(s.extra)})
		if s.end > end {
			out = append(out, refSeg{end, s.end, s.extra})
		}
		cur = b
	}
	if cur < end {
		out = append(out, refSeg{cur, end, fn(0)})
	}
	out = append(out, f.refs[j:hi]...)
	// Drop zero counts and coalesce equal neighbours.
	kept := out[:0]
	for _, s := range out {
		if s.extra == 0 || s.start >= s.end {
			continue
		}
		if n := len(kept); n > 0 && kept[n-1].end == s.start && kept[n-1].extra == s.extra {
			kept[n-1].end = s.end
			continue
		}
		kept = append(kept, s)
	}
	f.refs = slices.Replace(f.refs, lo, hi, kept...)
	return lo, lo + len(kept)
}
