package memory

import (
	"sort"

	"moat/platform"
)

// ranges is a set of file ranges, sorted by offset and coalesced: no two
// touch or overlap.
type ranges []platform.FileRange

// insert adds fr, which overlaps none of the set, merging it with the
// ranges it touches.
func (rs *ranges) insert(fr platform.FileRange) {
	s := *rs
	i := sort.Search(len(s), func(i int) bool { return s[i].Offset > fr.Offset })
	s = append(s, platform.FileRange{})
	copy(s[i+1:], s[i:])
	s[i] = fr
	if i+1 < len(s) && s[i].Offset+int64(s[i].Length) == s[i+1].Offset {
		s[i].Length += s[i+1].Length
		s = append(s[:i+1], s[i+2:]...)
	}
	if i > 0 && s[i-1].Offset+int64(s[i-1].Length) == s[i].Offset {
		s[i-1].Length += s[i].Length
		s = append(s[:i], s[i+1:]...)
	}
	*rs = s
}

// takeFirst removes length bytes from the start of the first range (by
// offset) at least as long, and returns them.
func (rs *ranges) takeFirst(length uintptr) (platform.FileRange, bool) {
	for i, r := range *rs {
		if r.Length >= length {
			return rs.cut(i, length), true
		}
	}
	return platform.FileRange{}, false
}

// takeBest removes length bytes from the start of the shortest range at
// least as long, and returns them: longer ranges stay whole for longer
// requests.
func (rs *ranges) takeBest(length uintptr) (platform.FileRange, bool) {
	best := -1
	for i, r := range *rs {
		if r.Length == length {
			best = i
			break
		}
		if r.Length > length && (best < 0 || r.Length < (*rs)[best].Length) {
			best = i
		}
	}
	if best < 0 {
		return platform.FileRange{}, false
	}
	return rs.cut(best, length), true
}

// cut removes length bytes (at most the range's) from the start of range
// i and returns them.
func (rs *ranges) cut(i int, length uintptr) platform.FileRange {
	s := *rs
	fr := platform.FileRange{Offset: s[i].Offset, Length: length}
	if s[i].Length == length {
		*rs = append(s[:i], s[i+1:]...)
	} else {
		s[i] = platform.FileRange{Offset: s[i].Offset + int64(length), Length: s[i].Length - length}
	}
	return fr
}
