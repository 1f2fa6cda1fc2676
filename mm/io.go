package mm

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"moat/memory"
	"moat/platform"
)

// access walks [addr, addr+n) through the VMAs, backing it as needed, and
// calls fn with the sentry's view of each piece and its offset in the
// range. need is the access the app must be permitted; force bypasses the
// check (the loader writing read-only segments). write says fn writes:
// pages shared copy-on-write are unshared first. It returns how many bytes
// were walked and EFAULT if the range is not all accessible.
//
// Preconditions: mm.mu is held.
func (mm *MemoryManager) access(addr uintptr, n int, need platform.AccessType, force, write bool, fn func(b []byte, off int)) (int, error) {
	if n == 0 {
		return 0, nil
	}
	end := addr + uintptr(n)
	if end < addr || end > mm.maxAddr {
		// Walk up to the end of the user range, then fault.
		if addr >= mm.maxAddr {
			return 0, unix.EFAULT
		}
		end = mm.maxAddr
	}
	cur := addr
	for cur < end {
		v := mm.findVMA(cur)
		if v == nil || (!force && (!v.perms.SupersetOf(need) || v.perms == platform.NoAccess)) {
			return int(cur - addr), unix.EFAULT
		}
		segEnd := min(end, v.end)
		if lim := v.limit(); lim < segEnd {
			segEnd = lim // pages past the end of a mapped file fault
			if segEnd <= cur {
				return int(cur - addr), unix.EFAULT
			}
		}
		rs, re := memory.RoundDown(cur), min(v.end, memory.RoundUp(segEnd))
		fresh := !mm.backed(rs, re) // (else no file to ask: the common case)
		if fresh {
			key, cached := vmaKey(v)
			if err := mm.backKeyed(v, key, cached, rs, re); err != nil {
				return int(cur - addr), unix.EFAULT
			}
		}
		if write {
			if err := mm.unshare(rs, re, true); err != nil {
				return int(cur - addr), unix.EFAULT
			}
			if v.tracked() {
				off := v.off + int64(cur-v.start)
				v.maps.wb.MarkDirty(off, off+int64(segEnd-cur))
			}
		}
		if fresh && mm.as != nil { // (a fork's child has none yet)
			// Memory the app handed to a system call, or the stack
			// the loader built, is memory it touches next: map what
			// was just backed rather than leave it a fault, a round
			// trip through the sentry (one per exec, for the stack).
			// Only a speed-up: a failure here faults later.
			_ = mm.mapBacked(v, rs, re, false)
		}
		for i := mm.pmaIndex(cur); cur < segEnd; i++ {
			p := mm.pmas[i]
			e := min(p.end, segEnd)
			if p.host != nil { // (never when writing: unshared above)
				at := int(cur - addr)
				readHost(p.host.FD, p.off+int64(cur-p.start), e-cur, func(b []byte, done int) { fn(b, at+done) })
				cur = e
				continue
			}
			fr := platform.FileRange{Offset: p.off + int64(cur-p.start), Length: e - cur}
			fn(mm.mf.Bytes(fr), int(cur-addr))
			cur = e
		}
	}
	if cur-addr < uintptr(n) {
		return int(cur - addr), unix.EFAULT
	}
	return n, nil
}

// CopyIn copies app memory at addr into dst. It returns the number of bytes
// copied and EFAULT if not all of them could be.
func (mm *MemoryManager) CopyIn(addr uintptr, dst []byte) (int, error) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	return mm.access(addr, len(dst), platform.Read, false, false, func(b []byte, off int) { copy(dst[off:], b) })
}

// CopyOut copies src to app memory at addr. It returns the number of bytes
// copied and EFAULT if not all of them could be.
func (mm *MemoryManager) CopyOut(addr uintptr, src []byte) (int, error) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	return mm.access(addr, len(src), platform.AccessType{Write: true}, false, true, func(b []byte, off int) { copy(b, src[off:]) })
}

// CopyOutForce writes app memory regardless of the VMAs' permissions (the
// loader filling read-only segments). The range must be mapped.
func (mm *MemoryManager) CopyOutForce(addr uintptr, src []byte) error {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	_, err := mm.access(addr, len(src), platform.NoAccess, true, true, func(b []byte, off int) { copy(b, src[off:]) })
	return err
}

// ZeroForce zeroes n bytes at addr regardless of permissions.
func (mm *MemoryManager) ZeroForce(addr uintptr, n int) error {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	_, err := mm.access(addr, n, platform.NoAccess, true, true, func(b []byte, off int) { clear(b) })
	return err
}

// CopyInString reads a NUL-terminated string of at most max bytes
// (excluding the NUL). It fails with ENAMETOOLONG if there is no NUL within
// max+1 bytes, and EFAULT if memory runs out before the NUL.
func (mm *MemoryManager) CopyInString(addr uintptr, max int) (string, error) {
	var sb strings.Builder
	const step = 256
	buf := make([]byte, step)
	for sb.Len() <= max {
		// Never read across a page boundary needlessly: a string may end
		// right before unmapped memory.
		n := min(step, pageSize-int(addr%pageSize))
		if left := max - sb.Len(); left < n-1 { // max+1 could overflow
			n = left + 1
		}
		got, err := mm.CopyIn(addr, buf[:n])
		if i := bytes.IndexByte(buf[:got], 0); i >= 0 {
			sb.Write(buf[:i])
			return sb.String(), nil
		}
		if err != nil {
			return "", err
		}
		sb.Write(buf[:got])
		addr += uintptr(got)
	}
	return "", unix.ENAMETOOLONG
}

// Maps renders /proc/PID/maps.
func (mm *MemoryManager) Maps() string {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	var b strings.Builder
	for _, v := range mm.vmas {
		perm := []byte("---p")
		if v.perms.Read {
			perm[0] = 'r'
		}
		if v.perms.Write {
			perm[1] = 'w'
		}
		if v.perms.Execute {
			perm[2] = 'x'
		}
		if !v.private {
			perm[3] = 's'
		}
		var off int64
		var dev, ino uint64
		name := v.name
		if v.file != nil {
			off = v.off
			name, dev, ino, _ = v.file.MapInfo()
		}
		line := fmt.Sprintf("%08x-%08x %s %08x %02x:%02x %d", v.start, v.end, perm, off, unix.Major(dev), unix.Minor(dev), ino)
		if name != "" {
			line = fmt.Sprintf("%-72s %s", line, name)
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// VirtualSize returns the total size of all VMAs, and the backed size.
func (mm *MemoryManager) VirtualSize() (total, backed uint64) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	for _, v := range mm.vmas {
		total += uint64(v.end - v.start)
	}
	for _, p := range mm.pmas {
		if !p.isShared() { // shared memory is reserved whole, used sparsely
			backed += uint64(p.end - p.start)
		}
	}
	return total, backed
}

// Accessible returns how many bytes from addr (up to n) the app may access
// with at: the prefix covered by VMAs that permit it. Nothing is backed or
// copied; callers use it to fail with EFAULT before consuming data that
// could not be delivered.
func (mm *MemoryManager) Accessible(addr uintptr, n int, at platform.AccessType) int {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	end := addr + uintptr(n)
	if end < addr || end > mm.maxAddr {
		end = mm.maxAddr
	}
	cur := addr
	for cur < end {
		v := mm.findVMA(cur)
		if v == nil || !v.perms.SupersetOf(at) || v.perms == platform.NoAccess {
			break
		}
		lim := v.limit()
		if lim <= cur { // past the end of a mapped file: SIGBUS
			break
		}
		cur = min(end, lim)
	}
	return int(cur - addr)
}
