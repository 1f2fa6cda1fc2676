package loader

import (
	"encoding/binary"
	"errors"

	"golang.org/x/sys/unix"

	"moat/memory"
	"moat/mm"
	"moat/platform"
)

const pageSize = memory.PageSize

// Auxiliary vector entry types (include/uapi/linux/auxvec.h).
const (
	atNull        = 0
	atPhdr        = 3
	atPhent       = 4
	atPhnum       = 5
	atPagesz      = 6
	atBase        = 7
	atFlags       = 8
	atEntry       = 9
	atUID         = 11
	atEUID        = 12
	atGID         = 13
	atEGID        = 14
	atPlatform    = 15
	atHWCap       = 16
	atClkTck      = 17
	atSecure      = 23
	atRandom      = 25
	atHWCap2      = 26
	atExecFn      = 31
	atMinSigStkSz = 51
)

// Layout constants, as Linux on x86-64 uses them.
const (
	// etDynBase is where position-independent executables are placed
	// (ELF_ET_DYN_BASE: two thirds of the 47-bit range).
	etDynBase = 0x555555554000
	// stackRandomPages, mmapRandomPages and brkRandom are the
	// randomization ranges (STACK_RND_MASK, mmap_rnd_bits=28, 32 MiB).
	stackRandomPages = 1 << 22
	mmapRandomPages  = 1 << 28
	brkRandom        = 32 << 20
	// minGap is the least room left between the stack and mmap_base.
	minGap = 128 << 20
	// stackExpand is how much stack the initial VMA has beyond the
	// arguments (Linux's stack_expand).
	stackExpand = 128 << 10
	// maxArgBytes bounds argv plus envp (Linux: a quarter of
	// RLIMIT_STACK); beyond it execve fails with E2BIG.
	maxArgBytes = 2 << 20
)

// Args is what the new process starts with.
type Args struct {
	Argv   []string
	Envv   []string
	ExecFn string // AT_EXECFN: the path execve was given

	UID, EUID, GID, EGID uint32

	// From the host CPU (the sentry's own auxv).
	HWCap, HWCap2 uint64
	Platform      string // AT_PLATFORM, "x86_64"
	MinSigStkSz   uint64 // AT_MINSIGSTKSZ, 0 to omit

	Random [16]byte // AT_RANDOM bytes
}

// Result says where the new process starts.
type Result struct {
	Entry, SP uintptr
}

// Load maps the executable f into m, which must be empty, and builds the
// initial stack. f is read through m's MappableFile interface so the same
// object backs the text mappings.
func Load(m *mm.MemoryManager, f mm.MappableFile, a Args) (Result, error) {
	_, _, _, size := f.MapInfo()
	img, err := parse(f.ReadAt, size)
	if err != nil {
		return Result{}, err
	}
	if img.interp {
		return Result{}, &Error{Errno: unix.ENOEXEC, Msg: "dynamically linked executables (PT_INTERP) are not supported yet; use a static binary"}
	}
	argBytes := 0
	for _, s := range append(append([]string(nil), a.Argv...), a.Envv...) {
		argBytes += len(s) + 1 + 8
	}
	if argBytes > maxArgBytes {
		return Result{}, &Error{Errno: unix.E2BIG, Msg: "argument list too long"}
	}

	maxAddr := m.MaxAddr()
	var lo, hi uint64 = ^uint64(0), 0
	for _, p := range img.phdrs {
		if p.typ == ptLoad {
			lo = min(lo, p.vaddr&^(pageSize-1))
			hi = max(hi, p.vaddr+p.memsz)
		}
	}
	var bias uint64
	if img.hdr.typ == etDyn {
		bias = etDynBase + uint64(mm.RandomPages(1<<20)) - lo
	}
	if lo+bias < 0x10000 || hi+bias > uint64(maxAddr)-minGap || hi < lo {
		return Result{}, noexec("ELF segments lie outside the usable address range")
	}

	// Map the segments like binfmt_elf: file-backed pages for the file
	// part, zeroed tail of the last file page, anonymous pages for the
	// rest of the bss.
	var phdrAddr uint64
	for _, p := range img.phdrs {
		if p.typ == ptPhdr {
			phdrAddr = p.vaddr + bias
		}
	}
	stackExec := false
	for _, p := range img.phdrs {
		if p.typ == ptGNUStack {
			stackExec = p.flags&pfX != 0
		}
		if p.typ != ptLoad || p.memsz == 0 {
			continue
		}
		perms := platform.AccessType{Read: p.flags&pfR != 0, Write: p.flags&pfW != 0, Execute: p.flags&pfX != 0}
		start := uintptr(p.vaddr+bias) &^ (pageSize - 1)
		fileEnd := uintptr(p.vaddr + bias + p.filesz)
		memEnd := memory.RoundUp(uintptr(p.vaddr + bias + p.memsz))
		if p.filesz > 0 {
			if _, err := m.MMap(mm.MMapOpts{
				Addr: start, Length: memory.RoundUp(fileEnd) - start, Fixed: true,
				Perms: perms, MaxPerms: platform.AnyAccess, Private: true,
				File: f, Offset: int64(p.off &^ (pageSize - 1)),
			}); err != nil {
				return Result{}, &Error{Errno: unix.ENOMEM, Msg: "cannot map ELF segment: " + err.Error()}
			}
			if pad := memory.RoundUp(fileEnd) - fileEnd; pad > 0 && p.memsz > p.filesz {
				if err := m.ZeroForce(fileEnd, int(pad)); err != nil {
					return Result{}, &Error{Errno: unix.EFAULT, Msg: "cannot clear ELF bss"}
				}
			}
			start = memory.RoundUp(fileEnd)
		}
		if memEnd > start {
			if _, err := m.MMap(mm.MMapOpts{
				Addr: start, Length: memEnd - start, Fixed: true,
				Perms: perms, MaxPerms: platform.AnyAccess, Private: true,
			}); err != nil {
				return Result{}, &Error{Errno: unix.ENOMEM, Msg: "cannot map ELF bss: " + err.Error()}
			}
		}
		if phdrAddr == 0 && img.hdr.phoff >= p.off && img.hdr.phoff < p.off+p.filesz {
			phdrAddr = p.vaddr + bias + (img.hdr.phoff - p.off)
		}
	}

	// Stack, mmap base and brk, randomized like Linux.
	stackTop := maxAddr - mm.RandomPages(stackRandomPages)
	mmapBase := memory.RoundDown(stackTop - minGap - mm.RandomPages(mmapRandomPages))
	brkStart := memory.RoundUp(uintptr(hi+bias)) + mm.RandomPages(brkRandom/pageSize)
	m.SetLayout(mmapBase, brkStart)

	stackSize := memory.RoundUp(uintptr(argBytes)+uintptr(len(a.ExecFn))+pageSize) + stackExpand
	stackPerms := platform.ReadWrite
	if stackExec {
		stackPerms = platform.AnyAccess
	}
	// NoReplace: a (hostile) executable whose segments reach up to where
	// the stack lands must fail to load, not lose a segment to the stack.
	if _, err := m.MMap(mm.MMapOpts{
		Addr: stackTop - stackSize, Length: stackSize, NoReplace: true,
		Perms: stackPerms, MaxPerms: platform.AnyAccess, Private: true, GrowsDown: true, Name: "[stack]",
	}); errors.Is(err, unix.EEXIST) {
		return Result{}, &Error{Errno: unix.ENOMEM, Msg: "cannot map stack: the executable's segments are in the way"}
	} else if err != nil {
		return Result{}, &Error{Errno: unix.ENOMEM, Msg: "cannot map stack: " + err.Error()}
	}

	entry := uintptr(img.hdr.entry + bias)
	sp, err := buildStack(m, stackTop, a, []auxEntry{
		{atPhdr, phdrAddr},
		{atPhent, phdrSize},
		{atPhnum, uint64(img.hdr.phnum)},
		{atPagesz, pageSize},
		{atBase, 0},
		{atFlags, 0},
		{atEntry, uint64(entry)},
		{atUID, uint64(a.UID)},
		{atEUID, uint64(a.EUID)},
		{atGID, uint64(a.GID)},
		{atEGID, uint64(a.EGID)},
		{atSecure, 0},
		{atClkTck, 100},
		{atHWCap, a.HWCap},
		{atHWCap2, a.HWCap2},
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Entry: entry, SP: sp}, nil
}

type auxEntry struct {
	typ, val uint64
}

// buildStack writes the initial stack below top and returns the stack
// pointer, which points at argc. From the top down: the execfn string,
// envp strings, argv strings, the platform string, the AT_RANDOM bytes,
// then (16-byte aligned at argc) argc, argv[], NULL, envp[], NULL, auxv.
func buildStack(m *mm.MemoryManager, top uintptr, a Args, aux []auxEntry) (uintptr, error) {
	sp := top - 8 // Linux leaves one word at the very top
	fault := &Error{Errno: unix.EFAULT, Msg: "cannot write the initial stack"}
	pushString := func(s string) (uintptr, error) {
		sp -= uintptr(len(s) + 1)
		if _, err := m.CopyOut(sp, append([]byte(s), 0)); err != nil {
			return 0, fault
		}
		return sp, nil
	}
	execFn, err := pushString(a.ExecFn)
	if err != nil {
		return 0, err
	}
	envEnd := sp
	envp := make([]uint64, len(a.Envv))
	for i := len(a.Envv) - 1; i >= 0; i-- {
		p, err := pushString(a.Envv[i])
		if err != nil {
			return 0, err
		}
		envp[i] = uint64(p)
	}
	argEnd := sp
	argv := make([]uint64, len(a.Argv))
	for i := len(a.Argv) - 1; i >= 0; i-- {
		p, err := pushString(a.Argv[i])
		if err != nil {
			return 0, err
		}
		argv[i] = uint64(p)
	}
	m.SetArgs(sp, argEnd, argEnd, envEnd)
	sp &^= 15
	if a.Platform != "" {
		p, err := pushString(a.Platform)
		if err != nil {
			return 0, err
		}
		aux = append(aux, auxEntry{atPlatform, uint64(p)})
	}
	sp = (sp - 16) &^ 15
	if _, err := m.CopyOut(sp, a.Random[:]); err != nil {
		return 0, fault
	}
	aux = append(aux, auxEntry{atRandom, uint64(sp)}, auxEntry{atExecFn, uint64(execFn)})
	if a.MinSigStkSz != 0 {
		aux = append(aux, auxEntry{atMinSigStkSz, a.MinSigStkSz})
	}
	aux = append(aux, auxEntry{atNull, 0})

	words := make([]uint64, 0, 1+len(argv)+1+len(envp)+1+2*len(aux))
	words = append(words, uint64(len(argv)))
	words = append(words, argv...)
	words = append(words, 0)
	words = append(words, envp...)
	words = append(words, 0)
	for _, e := range aux {
		words = append(words, e.typ, e.val)
	}
	sp -= uintptr(len(words) * 8)
	sp &^= 15
	buf := make([]byte, len(words)*8)
	for i, w := range words {
		binary.LittleEndian.PutUint64(buf[i*8:], w)
	}
	if _, err := m.CopyOut(sp, buf); err != nil {
		return 0, fault
	}
	return sp, nil
}
