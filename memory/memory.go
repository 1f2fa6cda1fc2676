// Package memory provides the memory file: one memfd that backs all
// application memory. The sentry maps the whole file into its own address
// space, so copying to and from app memory is a memcpy, and platforms map
// ranges of the same file into app address spaces.
//
// The file is sparse: an allocated range consumes host memory only once it
// is touched, and freed ranges are punched out so their memory returns to
// the host at once — except small ones, up to a bound, which are kept and
// zeroed by hand when handed out again (see keepPages).
//
// Lock order: File.mu is a leaf lock.
package memory

import (
	"fmt"
	"io"
	"sync"

	"golang.org/x/sys/unix"

	"moat/platform"
)

// PageSize is the host and app page size.
const PageSize = 4096

// File is the memory file.
type File struct {
	fd      int
	mapping []byte // the sentry's view of the whole file

	mu    sync.Mutex
	free  ranges   // punched out
	end   int64    // everything at or beyond end is unallocated
	size  int64    // file size: the hard cap on allocations
	inUse int64    // allocated bytes
	refs  []refSeg // pages with extra references (refs.go), sorted
	// kept holds the freed ranges of up to keepPages pages that were
	// not punched out, merged where they touch. keptBytes is their
	// total, at most keepLimit (keepMax; tests change it).
	kept      ranges
	keptBytes int64
	keepLimit int64
	// abandoned: the file goes with the process soon (Abandon); Free
	// only counts what it frees, in lostBytes.
	abandoned bool
	lostBytes int64
}

// Small freed ranges are kept committed instead of punched out, up to
// keepMax bytes in all, and zeroed by hand when handed out again. A hole
// punch of a few pages costs some 5 us (15 us at the 90th percentile): it
// zaps the pages in every mapping of the file and flushes the TLBs of the
// CPUs the sentry runs on. Then the next use of the range faults each page
// in afresh, zeroed by the kernel. A fork+exec+exit of /bin/true freed 30
// such ranges, most of them one or two pages (copy-on-write pieces, the
// parts of chunks a process had to itself), for about 190 us of hole
// punching per iteration; clearing a kept page through the sentry's
// mapping costs well under a microsecond. The bound is small because the
// kept memory stays charged to the sandbox (its cgroup's memory limit
// counts it) while the app sees it as free.
//
// Kept ranges that touch are merged, and an allocation of up to keepPages
// pages takes the shortest that fits (a scan of the kept ranges, some
// thousands at worst when the whole bound is kept in single pages). Kept
// by length alone, the pieces never made a whole again: a sh loop's every
// /bin/true took a 16-page chunk, which no kept range was long enough
// for, and gave it back in pieces of one to thirteen pages, so after some
// 300 iterations the bound was full of pieces and every free was a hole
// punch again, 7 per iteration. A loop of 1500 made 10800 hole punches
// before, none now, and took 1569 -> 1393 ms (interleaved medians of 7;
// native 885). Shorter loops, which stay under the bound, gain nothing.
const (
	keepPages = 16
	keepMax   = 16 << 20
)

// New creates a memory file that can hold at most size bytes (rounded to
// pages). Nothing is committed until used.
func New(name string, size int64) (*File, error) {
	size = int64(RoundUp(uintptr(size)))
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, size); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sizing memory file: %w", err)
	}
	m, err := mapFile(fd, size)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mapping memory file: %w", err)
	}
	return &File{fd: fd, mapping: m, size: size, keepLimit: keepMax}, nil
}

// FD returns the memfd, for platforms to map into app address spaces.
func (f *File) FD() int { return f.fd }

// Allocate returns a page-aligned range of length bytes (rounded up to
// pages) whose contents are zero. It fails with ENOMEM when the file is
// full.
func (f *File) Allocate(length uintptr) (platform.FileRange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fr, kept, err := f.allocateAnyLocked(length)
	if kept {
		clear(f.Bytes(fr)) // under the lock, but a few pages only
	}
	return fr, err
}

// AllocateFrom is Allocate followed by ReadFrom(fr, r, roff), except that
// what the read fills is not zeroed first, only what a short read leaves.
// A kept range (keepPages) is zeroed through the sentry's mapping, which
// faults in each page the sentry has not touched since the app last used
// it: the copy of libc's 24 KiB data segment at each exec spent 10 us on
// average (18 at the median of one run) clearing what the read then
// overwrote.
func (f *File) AllocateFrom(length uintptr, r io.ReaderAt, roff int64) (platform.FileRange, error) {
	f.mu.Lock()
	fr, kept, err := f.allocateAnyLocked(length)
	f.mu.Unlock()
	if err != nil {
		return fr, err
	}
	if n := f.readFrom(fr, r, roff); kept && n < int64(fr.Length) {
		clear(f.Bytes(fr)[n:])
	}
	return fr, nil
}

// allocateAnyLocked allocates a range of length bytes (rounded up to
// pages), a kept one if it can: kept reports whether it is one, whose
// contents are what they were when it was freed; any other is zero.
//
// Preconditions: f.mu is held.
func (f *File) allocateAnyLocked(length uintptr) (fr platform.FileRange, kept bool, err error) {
	length = RoundUp(length)
	if length == 0 {
		return platform.FileRange{}, false, unix.EINVAL
	}
	if fr, ok := f.takeKeptLocked(length); ok {
		f.inUse += int64(length)
		return fr, true, nil
	}
	fr, err = f.allocateLocked(length)
	if err != nil && f.keptBytes > 0 {
		// Full means full: what is kept for small allocations makes room
		// for this one if it can.
		f.releaseKeptLocked()
		fr, err = f.allocateLocked(length)
	}
	return fr, false, err
}

// allocateLocked allocates from the free list, first fit, else from the
// top of the file.
//
// Preconditions: f.mu is held; length is a multiple of the page size.
func (f *File) allocateLocked(length uintptr) (platform.FileRange, error) {
	if fr, ok := f.free.takeFirst(length); ok {
		f.inUse += int64(length)
		return fr, nil
	}
	if f.end+int64(length) > f.size || f.end+int64(length) < f.end {
		return platform.FileRange{}, unix.ENOMEM
	}
	fr := platform.FileRange{Offset: f.end, Length: length}
	f.end += int64(length)
	f.inUse += int64(length)
	return fr, nil
}

// takeKeptLocked takes a range of length bytes (page aligned, at most
// keepPages pages) from the kept ranges, the shortest that is long
// enough, and reports whether there was one. Its contents are what they
// were when it was freed.
//
// Preconditions: f.mu is held.
func (f *File) takeKeptLocked(length uintptr) (platform.FileRange, bool) {
	if length > keepPages*PageSize {
		return platform.FileRange{}, false
	}
	fr, ok := f.kept.takeBest(length)
	if ok {
		f.keptBytes -= int64(length)
	}
	return fr, ok
}

// releaseKeptLocked punches out every kept range and frees it for good.
//
// Preconditions: f.mu is held.
func (f *File) releaseKeptLocked() {
	for _, fr := range f.kept {
		f.Decommit(fr)
		f.insertFreeLocked(fr)
	}
	f.kept = f.kept[:0]
	f.keptBytes = 0
}

// Free returns a range to the allocator. Its memory goes back to the host
// at once unless the range is small and kept for reuse (keepPages); either
// way it is zero when allocated again. Nothing may map it any more.
func (f *File) Free(fr platform.FileRange) {
	if fr.Length == 0 {
		return
	}
	f.mu.Lock()
	f.inUse -= int64(fr.Length)
	if f.abandoned {
		// Neither punched out nor handed out again: its memory goes
		// with the file.
		f.lostBytes += int64(fr.Length)
		f.mu.Unlock()
		return
	}
	if fr.Length <= keepPages*PageSize && f.keptBytes+int64(fr.Length) <= f.keepLimit {
		f.kept.insert(fr)
		f.keptBytes += int64(fr.Length)
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	f.Decommit(fr)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.insertFreeLocked(fr)
}

// Abandon says the file's memory goes back to the host with the file
// itself, soon: the process is about to exit (moat run, once the
// sandbox's init has exited). From then on Free returns nothing to the
// host range by range: each such range is a hole punch that zaps its
// pages from every mapping, some 0.9 ms of python3's exit in all, for
// memory the exit frees anyway (after it, with FreeAfterExit). Freed
// ranges are not handed out again either (they are not zero): a program
// that still runs meanwhile gets new ones.
func (f *File) Abandon() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.abandoned = true
}

// Abandoned reports whether Abandon was called.
func (f *File) Abandoned() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.abandoned
}

// insertFreeLocked adds fr, punched out, to the free list.
//
// Preconditions: f.mu is held.
func (f *File) insertFreeLocked(fr platform.FileRange) {
	f.free.insert(fr)
	// Give the top of the file back to the bump allocator.
	if last := f.free[len(f.free)-1]; last.Offset+int64(last.Length) == f.end {
		f.end = last.Offset
		f.free = f.free[:len(f.free)-1]
	}
}

// Decommit zeroes a range by releasing its memory to the host; the range
// stays allocated.
func (f *File) Decommit(fr platform.FileRange) {
	// Punching a hole cannot fail on a memfd for a valid range; if it did,
	// zero by hand so the contract (reads as zero) holds.
	if err := unix.Fallocate(f.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, fr.Offset, int64(fr.Length)); err != nil {
		clear(f.Bytes(fr))
	}
}

// WriteAt writes data into the file at offset off through the file, not
// the mapping: into pages not yet allocated (a fresh range, a copy's
// destination) the kernel writes directly, where stores through the
// mapping first fault each page in. Measured here: a 64 KiB copy 60 ->
// 34 us, 256 KiB of a host file 195 -> 129 us (with the read into a
// buffer). It falls back to the mapping if the write fails.
func (f *File) WriteAt(data []byte, off int64) {
	for len(data) > 0 {
		n, err := unix.Pwrite(f.fd, data, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			copy(f.mapping[off:], data)
			return
		}
		data, off = data[n:], off+int64(n)
	}
}

// ReadFrom fills fr from r at offset roff, through a buffer and WriteAt
// (see there); a short read leaves the rest of fr as it was.
func (f *File) ReadFrom(fr platform.FileRange, r io.ReaderAt, roff int64) {
	f.readFrom(fr, r, roff)
}

// readFrom is ReadFrom; it returns how many bytes it filled.
func (f *File) readFrom(fr platform.FileRange, r io.ReaderAt, roff int64) int64 {
	bp := scratch.Get().(*[]byte)
	defer scratch.Put(bp)
	buf := *bp
	done := int64(0)
	for done < int64(fr.Length) {
		want := min(int64(len(buf)), int64(fr.Length)-done)
		n, _ := r.ReadAt(buf[:want], roff+done)
		if n > 0 {
			f.WriteAt(buf[:n], fr.Offset+done)
		}
		done += int64(max(n, 0))
		if int64(n) < want {
			break
		}
	}
	return done
}

// scratch holds ReadFrom's buffers.
var scratch = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// Bytes returns the sentry's view of a range.
func (f *File) Bytes(fr platform.FileRange) []byte {
	return f.mapping[fr.Offset : fr.Offset+int64(fr.Length) : fr.Offset+int64(fr.Length)]
}

// InUse returns the number of allocated bytes.
func (f *File) InUse() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inUse
}

// Roomy reports whether at most half the file is allocated: whether
// backing memory ahead of use (which costs no host memory until touched,
// but takes room in the file) is harmless.
func (f *File) Roomy() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inUse <= f.size/2
}

// RoundUp rounds n up to a multiple of the page size (0 on overflow).
func RoundUp(n uintptr) uintptr { return (n + PageSize - 1) &^ (PageSize - 1) }

// RoundDown rounds n down to a multiple of the page size.
func RoundDown(n uintptr) uintptr { return n &^ (PageSize - 1) }

// mapFile maps the whole memory file shared into the sentry.
func mapFile(fd int, size int64) ([]byte, error) {
	return unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
}

// CopyData copies src to dst (of the same length), copying only the parts
// of src that hold data: holes stay holes, so copying sparse memory costs
// only what is in use.
func (f *File) CopyData(dst, src platform.FileRange) {
	end := src.Offset + int64(src.Length)
	for off := src.Offset; off < end; {
		data, err := unix.Seek(f.fd, off, unix.SEEK_DATA)
		if err != nil || data >= end {
			return // the rest is a hole (ENXIO: no data after off)
		}
		hole, err := unix.Seek(f.fd, data, unix.SEEK_HOLE)
		if err != nil || hole > end {
			hole = end
		}
		f.WriteAt(f.mapping[data:hole], dst.Offset+(data-src.Offset))
		off = hole
	}
}
