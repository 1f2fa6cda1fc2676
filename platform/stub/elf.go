package stub

import "encoding/binary"

// The stub program. A stub process execs this tiny ELF and is stopped by
// ptrace before it runs a single instruction; Start then replaces its whole
// address space with nothing but the platform's code page at the top of
// the user range. The ELF's own code is only ever used for the first
// injected system calls.

// stubELFBase is where the stub ELF is loaded: low, clear of where the
// kernel puts the initial stack and vDSO.
const stubELFBase = 0x100000

// InjectCode is `syscall; int3`: the sentry injects a system call by
// pointing rip at it with the call in the registers; the int3 stops the
// stub again right after the call. Every platform code page starts with
// it.
var InjectCode = []byte{0x0f, 0x05, 0xcc}

// stubELF returns the stub executable: an ELF64 header, one PT_LOAD program
// header, and InjectCode.
func stubELF() []byte {
	const (
		ehdrSize = 64
		phdrSize = 56
		codeOff  = ehdrSize + phdrSize
	)
	b := make([]byte, codeOff+len(InjectCode))
	copy(b, []byte{0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* LE */, 1 /* version */})
	le := binary.LittleEndian
	le.PutUint16(b[16:], 2)  // ET_EXEC
	le.PutUint16(b[18:], 62) // EM_X86_64
	le.PutUint32(b[20:], 1)  // EV_CURRENT
	le.PutUint64(b[24:], stubELFBase+codeOff)
	le.PutUint64(b[32:], ehdrSize) // e_phoff
	le.PutUint16(b[52:], ehdrSize)
	le.PutUint16(b[54:], phdrSize)
	le.PutUint16(b[56:], 1) // e_phnum
	p := b[ehdrSize:]
	le.PutUint32(p[0:], 1) // PT_LOAD
	le.PutUint32(p[4:], 5) // PF_R|PF_X
	le.PutUint64(p[8:], 0)
	le.PutUint64(p[16:], stubELFBase)
	le.PutUint64(p[24:], stubELFBase)
	le.PutUint64(p[32:], uint64(len(b)))
	le.PutUint64(p[40:], uint64(len(b)))
	le.PutUint64(p[48:], 0x1000)
	copy(b[codeOff:], InjectCode)
	return b
}

// stubELFCode is the address of InjectCode inside the loaded stub ELF.
const stubELFCode = stubELFBase + 64 + 56
