// Package syspatch recognises system-call sites in app code that can be
// rewritten to enter the sentry without a signal, and encodes the rewrite.
// It holds no state: the memory manager decides where and when to patch
// (mm/patch.go), the platform provides the entry the rewritten code jumps to
// (platform/seccomp's handler.S, tramp_entry).
//
// The sequences recognised are a 5-byte instruction followed by `syscall`:
//
//	b8 imm32        mov $NR, %eax         (glibc's and musl's wrappers)
//	4c 8b 4c 24 08  mov 0x8(%rsp), %r9    (glibc's syscall(2))
//	0f 05           syscall
//
// Only the 5-byte instruction is rewritten, into a `jmp rel32` to a
// per-site stub; the `syscall` after it stays, so that a branch to it from
// elsewhere, and the sentry's restart of an interrupted call (rip back by
// 2), still find a real system-call instruction (which then traps the slow
// way). The stub executes the replaced instruction (neither depends on
// where it runs), loads rcx with the address after the syscall (as the
// syscall instruction sets rcx), and jumps to the platform's entry through
// r11 (which the syscall instruction clobbers too).
package syspatch

import "encoding/binary"

// SiteLen is the length of the recognised sequence; PatchLen the part
// rewritten.
const (
	SiteLen  = 7
	PatchLen = 5
	// StubSize is the room one site's stub takes in a stub page.
	StubSize = 32
)

// Patcher is implemented by platform address spaces that can enter the
// sentry from patched sites.
type Patcher interface {
	// SyscallEntry returns the address patched code jumps to, with eax =
	// the system-call number and rcx = the address to return to, or 0 if
	// patching is off. sole reports whether the address space has a
	// single thread, so that no other can be executing code being
	// rewritten.
	SyscallEntry() (entry uintptr, sole bool)
}

// isPrefix reports whether b is an x86 legacy or REX prefix byte: a site
// preceded by one may really be the tail of a longer instruction
// (41 b8 imm32 is mov $imm, %r8d).
func isPrefix(b byte) bool {
	switch {
	case b >= 0x40 && b <= 0x4f:
		return true
	}
	switch b {
	case 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65:
		return true
	}
	return false
}

// loadR9 is `mov 0x8(%rsp), %r9`, the instruction before glibc's
// syscall(2)'s system call.
var loadR9 = [PatchLen]byte{0x4c, 0x8b, 0x4c, 0x24, 0x08}

// Match reports whether code, the SiteLen bytes that ended with the
// system call that trapped with number nr, preceded by the byte before
// them, is a recognised sequence (a mov of an immediate to eax must load
// exactly nr).
func Match(before byte, code []byte, nr uint64) bool {
	if len(code) < SiteLen || code[5] != 0x0f || code[6] != 0x05 || isPrefix(before) {
		return false
	}
	if code[0] == 0xb8 {
		return uint64(binary.LittleEndian.Uint32(code[1:])) == nr
	}
	return [PatchLen]byte(code[:PatchLen]) == loadR9
}

// Placeable reports whether a site at addr may be patched: the rewritten
// bytes lie in one 64-byte cache line (an instruction fetch sees one state
// of the line, and the memory manager rewrites them in steps that each
// leave whole instructions: see mm/patch.go) and the whole sequence lies
// in one page.
func Placeable(addr uintptr) bool {
	return addr&63 <= 64-PatchLen && addr&^4095 == (addr+SiteLen-1)&^4095
}

// OneWord reports whether the rewritten bytes at addr lie in one aligned
// 8-byte word, so that one atomic store rewrites them.
func OneWord(addr uintptr) bool { return addr&7 <= 8-PatchLen }

// Jump returns the 5 bytes of `jmp rel32` at from to to, or false if to is
// out of reach.
func Jump(from, to uintptr) ([PatchLen]byte, bool) {
	var b [PatchLen]byte
	rel := int64(to) - int64(from+PatchLen)
	if rel != int64(int32(rel)) {
		return b, false
	}
	b[0] = 0xe9
	binary.LittleEndian.PutUint32(b[1:], uint32(int32(rel)))
	return b, true
}

// Stub returns the code of a site's stub: the replaced instruction insn
// (a site's first PatchLen bytes, as Match accepted them); movabs $ret,
// %rcx; movabs $entry, %r11; jmp *%r11, padded with int3.
func Stub(insn [PatchLen]byte, ret, entry uintptr) [StubSize]byte {
	var b [StubSize]byte
	for i := range b {
		b[i] = 0xcc
	}
	copy(b[:], insn[:])
	b[5], b[6] = 0x48, 0xb9
	binary.LittleEndian.PutUint64(b[7:], uint64(ret))
	b[15], b[16] = 0x49, 0xbb
	binary.LittleEndian.PutUint64(b[17:], uint64(entry))
	b[25], b[26], b[27] = 0x41, 0xff, 0xe3
	return b
}
