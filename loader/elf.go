// Package loader loads ELF64 x86-64 executables into a fresh address space
// and builds the initial process stack (argv, envp, auxv) the way Linux's
// binfmt_elf does.
//
// Everything in an executable is hostile: header fields are validated
// before use and never trusted to size an allocation beyond small fixed
// bounds.
package loader

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// Error is a load failure: Errno is what execve would return, Msg says
// what is wrong in words for the user.
type Error struct {
	Errno unix.Errno
	Msg   string
}

func (e *Error) Error() string { return e.Msg }

func noexec(format string, args ...any) error {
	return &Error{Errno: unix.ENOEXEC, Msg: fmt.Sprintf(format, args...)}
}

// ELF constants used here.
const (
	etExec = 2
	etDyn  = 3

	emX86_64 = 62

	ptLoad     = 1
	ptInterp   = 3
	ptPhdr     = 6
	ptGNUStack = 0x6474e551

	pfX = 1
	pfW = 2
	pfR = 4

	ehdrSize = 64
	phdrSize = 56

	// maxPhdrBytes bounds the program header table as Linux does
	// (one page).
	maxPhdrBytes = 4096
)

// header is the part of the ELF header the loader uses.
type header struct {
	typ   uint16
	entry uint64
	phoff uint64
	phnum uint16
}

// phdr is a program header.
type phdr struct {
	typ    uint32
	flags  uint32
	off    uint64
	vaddr  uint64
	filesz uint64
	memsz  uint64
	align  uint64
}

// image is a parsed executable.
type image struct {
	hdr        header
	phdrs      []phdr
	interp     bool
	interpPath string
}

// parse validates and parses the ELF header and program headers of an
// executable of size bytes, read through readAt.
func parse(readAt func([]byte, int64) (int, error), size int64) (*image, error) {
	var eh [ehdrSize]byte
	if n, _ := readAt(eh[:], 0); n < 4 || string(eh[:4]) != "\x7fELF" {
		return nil, noexec("not an ELF executable")
	} else if n < ehdrSize {
		return nil, noexec("truncated ELF header")
	}
	switch {
	case eh[4] == 1:
		return nil, noexec("32-bit ELF executables are not supported (x86-64 only)")
	case eh[4] != 2:
		return nil, noexec("bad ELF class %d", eh[4])
	case eh[5] != 1:
		return nil, noexec("big-endian ELF executables are not supported")
	case eh[6] != 1:
		return nil, noexec("bad ELF version %d", eh[6])
	}
	le := binary.LittleEndian
	h := header{
		typ:   le.Uint16(eh[16:]),
		entry: le.Uint64(eh[24:]),
		phoff: le.Uint64(eh[32:]),
		phnum: le.Uint16(eh[56:]),
	}
	if m := le.Uint16(eh[18:]); m != emX86_64 {
		return nil, noexec("ELF executable is for another machine (e_machine %d), not x86-64", m)
	}
	if h.typ != etExec && h.typ != etDyn {
		return nil, noexec("ELF file is not an executable (e_type %d)", h.typ)
	}
	if le.Uint16(eh[54:]) != phdrSize {
		return nil, noexec("bad ELF program header size %d", le.Uint16(eh[54:]))
	}
	tableSize := uint64(h.phnum) * phdrSize
	if h.phnum == 0 || tableSize > maxPhdrBytes {
		return nil, noexec("bad ELF program header count %d", h.phnum)
	}
	if h.phoff > uint64(size) || tableSize > uint64(size)-h.phoff {
		return nil, noexec("truncated ELF: program headers past end of file")
	}
	table := make([]byte, tableSize)
	if n, _ := readAt(table, int64(h.phoff)); uint64(n) != tableSize {
		return nil, noexec("truncated ELF: cannot read program headers")
	}
	img := &image{hdr: h}
	for i := 0; i < int(h.phnum); i++ {
		b := table[i*phdrSize:]
		p := phdr{
			typ:    le.Uint32(b[0:]),
			flags:  le.Uint32(b[4:]),
			off:    le.Uint64(b[8:]),
			vaddr:  le.Uint64(b[16:]),
			filesz: le.Uint64(b[32:]),
			memsz:  le.Uint64(b[40:]),
			align:  le.Uint64(b[48:]),
		}
		switch p.typ {
		case ptInterp:
			if img.interp {
				return nil, noexec("bad ELF: more than one PT_INTERP")
			}
			if p.filesz < 2 || p.filesz > 4096 || p.off > uint64(size) || p.filesz > uint64(size)-p.off {
				return nil, noexec("bad ELF: invalid PT_INTERP")
			}
			path := make([]byte, p.filesz)
			if n, _ := readAt(path, int64(p.off)); uint64(n) != p.filesz || path[len(path)-1] != 0 {
				return nil, noexec("bad ELF: invalid PT_INTERP")
			}
			img.interp = true
			img.interpPath = string(path[:len(path)-1])
		case ptLoad:
			if p.filesz > p.memsz {
				return nil, noexec("bad ELF segment: file size exceeds memory size")
			}
			if p.off > uint64(size) || p.filesz > uint64(size)-p.off {
				return nil, noexec("truncated ELF: segment data past end of file")
			}
			if (p.off-p.vaddr)%pageSize != 0 {
				return nil, noexec("bad ELF segment: offset and address not congruent modulo the page size")
			}
			if p.vaddr+p.memsz < p.vaddr || p.vaddr+p.memsz > 1<<47 {
				return nil, noexec("bad ELF segment: address out of range")
			}
		}
		img.phdrs = append(img.phdrs, p)
	}
	if img.interp {
		return img, nil
	}
	nload := 0
	for _, p := range img.phdrs {
		if p.typ == ptLoad {
			nload++
		}
	}
	if nload == 0 {
		return nil, noexec("ELF executable has no loadable segments")
	}
	return img, nil
}
