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
	atSysinfoEhdr = 33
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

	// VDSO is the vDSO image (package vdso), mapped like Linux maps its
	// own and named at AT_SYSINFO_EHDR; nil for none.
	VDSO []byte

	// OpenInterp opens a PT_INTERP program interpreter by its path in
	// the sandbox; nil refuses dynamically linked executables.
	OpenInterp func(path string) (mm.MappableFile, error)
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
	// The program's loadable part goes into the file cache in the
	// background while the rest is set up and the program starts, on
	// the other CPU, instead of fault by fault on the program's own
	// path: cc1 faults in more than a hundred chunks of its 33 MB.
	m.Prefetch(f, min(img.loadEnd(), prefetchMax))
	if img.interp && a.OpenInterp == nil {
		return Result{}, &Error{Errno: unix.ENOEXEC, Msg: "dynamically linked executables (PT_INTERP) are not supported here; use a static binary"}
	}
	argBytes := 0
	for _, s := range append(append([]string(nil), a.Argv...), a.Envv...) {
		argBytes += len(s) + 1 + 8
	}
	if argBytes > maxArgBytes {
		return Result{}, &Error{Errno: unix.E2BIG, Msg: "argument list too long"}
	}

	maxAddr := m.MaxAddr()
	lo, hi := img.span()
	var bias uint64
	if img.hdr.typ == etDyn {
		bias = etDynBase + uint64(mm.RandomPages(1<<20)) - lo
	}
	if lo+bias < 0x10000 || hi+bias > uint64(maxAddr)-minGap || hi < lo {
		return Result{}, noexec("ELF segments lie outside the usable address range")
	}
	phdrAddr, stackExec, err := mapSegments(m, f, img, bias)
	if err != nil {
		return Result{}, err
	}

	// Stack, mmap base and brk, randomized like Linux.
	stackTop := maxAddr - mm.RandomPages(stackRandomPages)
	mmapBase := memory.RoundDown(stackTop - minGap - mm.RandomPages(mmapRandomPages))
	brkStart := memory.RoundUp(uintptr(hi+bias)) + mm.RandomPages(brkRandom/pageSize)
	m.SetLayout(mmapBase, brkStart)

	entry := uintptr(img.hdr.entry + bias)
	start, interpBase := entry, uint64(0)
	if img.interp {
		if start, interpBase, err = loadInterp(m, img.interpPath, a.OpenInterp); err != nil {
			return Result{}, err
		}
	}

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

	var aux []auxEntry
	if len(a.VDSO) > 0 {
		at, err := mapVDSO(m, a.VDSO)
		if err != nil {
			return Result{}, &Error{Errno: unix.ENOMEM, Msg: "cannot map the vDSO: " + err.Error()}
		}
		aux = append(aux, auxEntry{atSysinfoEhdr, uint64(at)})
	}
	sp, err := buildStack(m, stackTop, a, append(aux, []auxEntry{
		{atPhdr, phdrAddr},
		{atPhent, phdrSize},
		{atPhnum, uint64(img.hdr.phnum)},
		{atPagesz, pageSize},
		{atBase, interpBase},
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
	}...))
	if err != nil {
		return Result{}, err
	}
	return Result{Entry: start, SP: sp}, nil
}

// mapVDSO maps the vDSO image read+execute where mmap would put it, named
// [vdso] as on Linux (which, like here, lets a debugger make it writable).
func mapVDSO(m *mm.MemoryManager, img []byte) (uintptr, error) {
	rx := platform.AccessType{Read: true, Execute: true}
	at, err := m.MMap(mm.MMapOpts{Length: memory.RoundUp(uintptr(len(img))), Perms: rx, MaxPerms: platform.AnyAccess, Private: true, Name: "[vdso]"})
	if err != nil {
		return 0, err
	}
	return at, m.CopyOutForce(at, img)
}

// prefetchMax bounds what of a program Load reads ahead (mm.Prefetch).
// gcc -c of a small file, whose cc1 is 33 MB (interleaved medians, 21
// runs): 118.3 ms reading nothing ahead, 113.8 ms reading up to 64 MB.
const prefetchMax = 64 << 20

// loadEnd returns the file offset where the image's loadable segments'
// data ends: what a program can map of its file (debug information, at
// the end of an unstripped one, lies beyond).
func (img *image) loadEnd() int64 {
	var end uint64
	for _, p := range img.phdrs {
		if p.typ == ptLoad {
			end = max(end, p.off+p.filesz)
		}
	}
	return int64(min(end, 1<<62))
}

// span returns the page-aligned start and the end of the image's loadable
// segments, before relocation.
func (img *image) span() (lo, hi uint64) {
	lo = ^uint64(0)
	for _, p := range img.phdrs {
		if p.typ == ptLoad {
			lo = min(lo, p.vaddr&^(pageSize-1))
			hi = max(hi, p.vaddr+p.memsz)
		}
	}
	return lo, hi
}

// mapSegments maps the image's PT_LOAD segments at bias like binfmt_elf:
// file-backed pages for the file part, the zeroed tail of the last file
// page, anonymous pages for the rest of the bss. It returns where the
// program headers are in memory and whether the stack is executable.
func mapSegments(m *mm.MemoryManager, f mm.MappableFile, img *image, bias uint64) (phdrAddr uint64, stackExec bool, err error) {
	for _, p := range img.phdrs {
		if p.typ == ptPhdr {
			phdrAddr = p.vaddr + bias
		}
	}
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
				return 0, false, &Error{Errno: unix.ENOMEM, Msg: "cannot map ELF segment: " + err.Error()}
			}
			if pad := memory.RoundUp(fileEnd) - fileEnd; pad > 0 && p.memsz > p.filesz {
				if err := m.ZeroForce(fileEnd, int(pad)); err != nil {
					return 0, false, &Error{Errno: unix.EFAULT, Msg: "cannot clear ELF bss"}
				}
			}
			start = memory.RoundUp(fileEnd)
		}
		if memEnd > start {
			if _, err := m.MMap(mm.MMapOpts{
				Addr: start, Length: memEnd - start, Fixed: true,
				Perms: perms, MaxPerms: platform.AnyAccess, Private: true,
			}); err != nil {
				return 0, false, &Error{Errno: unix.ENOMEM, Msg: "cannot map ELF bss: " + err.Error()}
			}
		}
		if phdrAddr == 0 && img.hdr.phoff >= p.off && img.hdr.phoff < p.off+p.filesz {
			phdrAddr = p.vaddr + bias + (img.hdr.phoff - p.off)
		}
	}
	return phdrAddr, stackExec, nil
}

// loadInterp maps the program interpreter (the dynamic loader) where mmap
// would put it, below the mmap base, and returns its entry point and base.
func loadInterp(m *mm.MemoryManager, path string, open func(string) (mm.MappableFile, error)) (entry uintptr, base uint64, err error) {
	f, err := open(path)
	if err != nil {
		return 0, 0, &Error{Errno: unix.ELIBBAD, Msg: "cannot open the program interpreter " + path + ": " + err.Error()}
	}
	if rc, ok := f.(mm.RefCounted); ok {
		defer rc.DecRef()
	}
	_, _, _, size := f.MapInfo()
	img, err := parse(f.ReadAt, size)
	if err != nil {
		return 0, 0, &Error{Errno: unix.ELIBBAD, Msg: "program interpreter " + path + ": " + err.Error()}
	}
	if img.interp {
		return 0, 0, &Error{Errno: unix.ELIBBAD, Msg: "program interpreter " + path + " itself needs an interpreter"}
	}
	lo, hi := img.span()
	span := memory.RoundUp(uintptr(hi - lo))
	if hi <= lo || span == 0 {
		return 0, 0, &Error{Errno: unix.ELIBBAD, Msg: "program interpreter " + path + " has no loadable segments"}
	}
	var bias uint64
	if img.hdr.typ == etDyn {
		// Reserve room for the whole image where mmap would, then map
		// the segments into it.
		at, err := m.MMap(mm.MMapOpts{Length: span, Perms: platform.NoAccess, MaxPerms: platform.NoAccess, Private: true})
		if err != nil {
			return 0, 0, &Error{Errno: unix.ENOMEM, Msg: "no room for the program interpreter"}
		}
		if err := m.MUnmap(at, span); err != nil {
			return 0, 0, &Error{Errno: unix.ENOMEM, Msg: "no room for the program interpreter"}
		}
		bias = uint64(at) - lo
	}
	if _, _, err := mapSegments(m, f, img, bias); err != nil {
		return 0, 0, err
	}
	return uintptr(img.hdr.entry + bias), lo + bias, nil
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
