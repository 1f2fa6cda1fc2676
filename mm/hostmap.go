package mm

import (
	"sync"

	"golang.org/x/sys/unix"

	"moat/platform"
)

// Host-mapped backing: where the platform's address space maps host files
// itself (platform.HostMapper), a private mapping of a host file of the
// read-only view is backed by the host file, not by copies of it in the
// memory file. The app's text and read-only data are then the host's page
// cache, mapped never writable; a page the app may write (a data segment,
// a patched system-call site, memory mprotect made writable) is copied
// into the memory file first, as a copy-on-write page shared with another
// address space is (unshare). Backing such a mapping costs no copy and no
// read, so a mapping is backed and mapped whole when it is made, and the
// host's own faults fill the app's page tables. The file cache (filecache.go)
// serves the platforms that cannot.
//
// A host pma's off is the file offset of its start. The descriptor it
// names is the VMA's file's, which stays open while the VMA holds the file;
// the sentry reads such pages with pread, never through a mapping of its
// own (a file truncated on the host would fault in the sentry).

// HostBacked is implemented by MappableFiles that are host files the
// platform may map directly: HostFD returns a read-only host descriptor of
// the file, valid while the file is held. They are CachedFiles too: the
// content key names the file in each address space.
type HostBacked interface {
	HostFD() (fd int, ok bool)
}

// hostFileOf returns the host file to back v with, if v is a private
// mapping of a HostBacked file with content key and mm's address space
// maps host files.
//
// Preconditions: mm.mu is held; key is vmaKey(v).
func (mm *MemoryManager) hostFileOf(v *vma, key any) *platform.HostFile {
	fd, ok := mm.hostFD(v.file)
	if !ok {
		return nil
	}
	return &platform.HostFile{FD: fd, Key: key}
}

// hostFD returns f's host descriptor if f is HostBacked and mm's address
// space maps host files.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) hostFD(f MappableFile) (int, bool) {
	hm, ok := mm.as.(platform.HostMapper)
	if !ok || !hm.MapsHost() {
		return 0, false
	}
	hb, ok := f.(HostBacked)
	if !ok {
		return 0, false
	}
	return hb.HostFD()
}

// backHost backs the gaps of [start, end) in v with hf.
//
// Preconditions: mm.mu is held; [start, end) lies in v, below v.limit().
func (mm *MemoryManager) backHost(v *vma, hf *platform.HostFile, start, end uintptr) {
	mm.fillGaps(start, end, func(cur, gapEnd uintptr) (pma, uintptr, error) {
		return pma{start: cur, end: gapEnd, off: v.off + int64(cur-v.start), host: hf, cow: true}, gapEnd, nil
	})
}

// premapHost backs all of v that the file covers from [start, ...) with
// hf and maps it: one host mapping, however large.
//
// Preconditions: mm.mu is held; start lies in v.
func (mm *MemoryManager) premapHost(v *vma, hf *platform.HostFile, start uintptr) error {
	end := v.limit()
	if start >= end || v.perms == platform.NoAccess {
		return nil
	}
	mm.backHost(v, hf, start, end)
	return mm.mapBacked(v, start, end, false)
}

// hostReader reads a host file by descriptor.
type hostReader int

func (r hostReader) ReadAt(dst []byte, off int64) (int, error) {
	n := 0
	for n < len(dst) {
		got, err := unix.Pread(int(r), dst[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if got == 0 {
			break
		}
		n += got
	}
	return n, nil
}

// hostScratch holds readHost's buffers.
var hostScratch = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// readHost calls fn with the content of n bytes of the host file fd at
// off, piece by piece, and each piece's offset in the n bytes. What the
// file no longer holds (truncated on the host) reads as zeros.
func readHost(fd int, off int64, n uintptr, fn func(b []byte, done int)) {
	bp := hostScratch.Get().(*[]byte)
	defer hostScratch.Put(bp)
	for done := uintptr(0); done < n; {
		b := (*bp)[:min(uintptr(len(*bp)), n-done)]
		got, _ := hostReader(fd).ReadAt(b, off+int64(done))
		clear(b[got:])
		fn(b, int(done))
		done += uintptr(len(b))
	}
}

// copyHost gives p, a host pma, pages of its own in the memory file, with
// the file's content.
//
// Preconditions: mm.mu is held; p is one of mm.pmas.
func (mm *MemoryManager) copyHost(p *pma) error {
	fr, err := mm.mf.AllocateFrom(p.end-p.start, hostReader(p.host.FD), p.off) // a short read leaves zeros
	if err != nil {
		return err
	}
	p.host, p.off, p.cow = nil, fr.Offset, false
	return nil
}

// unhost copies the host pmas overlapping [start, end) into the memory
// file: for an address space that cannot map host files (one a memory
// manager was attached to after it was backed elsewhere).
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) unhost(start, end uintptr) error {
	for i := mm.pmaIndex(start); i < len(mm.pmas) && mm.pmas[i].start < end; i++ {
		if p := &mm.pmas[i]; p.host != nil {
			if err := mm.copyHost(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// mapsHost reports whether private mappings of f will be host-mapped.
func (mm *MemoryManager) mapsHost(f MappableFile) bool {
	mm.mu.Lock()
	_, ok := mm.hostFD(f)
	mm.mu.Unlock()
	if !ok {
		return false
	}
	_, keyed := contentKey(f) // (backKeyed host-maps only keyed files)
	return keyed
}
