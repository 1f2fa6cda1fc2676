package loader

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"moat/memory"
	"moat/mm"
	"moat/platform"
	"moat/vdso"
)

// testMaxAddr is the ptrace platform's user range end.
const testMaxAddr = 0x7ffffffff000 - 0x1000

// --- Fakes. ---

// fakeAS is a platform.AddressSpace that only records MapFile calls.
type fakeAS struct {
	maps     []fakeMap
	released bool
}

type fakeMap struct {
	addr uintptr
	fr   platform.FileRange
	at   platform.AccessType
}

func (a *fakeAS) MapFile(addr uintptr, fr platform.FileRange, at platform.AccessType) error {
	a.maps = append(a.maps, fakeMap{addr, fr, at})
	return nil
}
func (a *fakeAS) Unmap(addr, length uintptr) error                           { return nil }
func (a *fakeAS) Protect(addr, length uintptr, at platform.AccessType) error { return nil }
func (a *fakeAS) Release()                                                   { a.released = true }

func (*fakeAS) Interrupt() {}

func (*fakeAS) Kick() {}

// osFile is an mm.MappableFile backed by a host file.
type osFile struct {
	f    *os.File
	size int64
}

func openFile(t testing.TB, path string) *osFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return &osFile{f: f, size: st.Size()}
}

func (o *osFile) ReadAt(dst []byte, off int64) (int, error) { return o.f.ReadAt(dst, off) }
func (o *osFile) MapInfo() (string, uint64, uint64, int64) {
	return o.f.Name(), 0, 0, o.size
}

// bytesFile is an mm.MappableFile backed by a byte slice.
type bytesFile []byte

func (b bytesFile) ReadAt(dst []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(dst, b[off:])
	if n < len(dst) {
		return n, io.EOF
	}
	return n, nil
}
func (b bytesFile) MapInfo() (string, uint64, uint64, int64) { return "bytes", 0, 0, int64(len(b)) }

// memFile is shared by the tests: each gets a fresh MemoryManager.
var (
	memFileOnce sync.Once
	memFile     *memory.File
	memFileErr  error
)

func newMM(t testing.TB) (*mm.MemoryManager, *fakeAS) {
	t.Helper()
	memFileOnce.Do(func() { memFile, memFileErr = memory.New("loader-test", 1<<30) })
	if memFileErr != nil {
		t.Fatalf("memory.New: %v", memFileErr)
	}
	as := &fakeAS{}
	m := mm.New(memFile, as, testMaxAddr)
	t.Cleanup(m.Release)
	return m, as
}

// --- Building ELF files. ---

// compile builds `int main(){return 0;}` with gcc and the given flags
// (-static, -static-pie) and returns the binary's path.
func compile(t testing.TB, flag string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skipf("gcc not found (%v): cannot build a static test binary", err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.c")
	if err := os.WriteFile(src, []byte("int main(){return 0;}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "main")
	if out, err := exec.Command(gcc, flag, "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", flag, err, out)
	}
	return bin
}

// ph is a program header for hand-built executables.
type ph struct {
	typ, flags                       uint32
	off, vaddr, filesz, memsz, align uint64
}

// buildELF returns an ELF64 x86-64 executable of size bytes (at least
// the headers) with the given program headers right after the ELF header.
// The bytes after the headers are non-zero so that zeroing shows.
func buildELF(typ uint16, entry uint64, phdrs []ph, size int) []byte {
	le := binary.LittleEndian
	n := max(size, ehdrSize+len(phdrs)*phdrSize)
	b := make([]byte, n)
	for i := ehdrSize + len(phdrs)*phdrSize; i < n; i++ {
		b[i] = byte(i%251) | 1
	}
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = 2, 1, 1 // ELFCLASS64, little-endian, EV_CURRENT
	le.PutUint16(b[16:], typ)
	le.PutUint16(b[18:], emX86_64)
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[24:], entry)
	le.PutUint64(b[32:], ehdrSize)
	le.PutUint16(b[52:], ehdrSize)
	le.PutUint16(b[54:], phdrSize)
	le.PutUint16(b[56:], uint16(len(phdrs)))
	for i, p := range phdrs {
		o := b[ehdrSize+i*phdrSize:]
		le.PutUint32(o[0:], p.typ)
		le.PutUint32(o[4:], p.flags)
		le.PutUint64(o[8:], p.off)
		le.PutUint64(o[16:], p.vaddr)
		le.PutUint64(o[24:], p.vaddr)
		le.PutUint64(o[32:], p.filesz)
		le.PutUint64(o[40:], p.memsz)
		le.PutUint64(o[48:], p.align)
	}
	return b
}

// minimalELF is a valid static executable: a text segment holding the
// headers and code, and a data segment whose bss starts mid-page.
func minimalELF() []byte {
	return buildELF(etExec, 0x401000, []ph{
		{typ: ptLoad, flags: pfR | pfX, off: 0, vaddr: 0x400000, filesz: 0x1100, memsz: 0x1100, align: 0x1000},
		{typ: ptLoad, flags: pfR | pfW, off: 0x2000, vaddr: 0x403000, filesz: 0x10, memsz: 0x3000, align: 0x1000},
		{typ: ptGNUStack, flags: pfR | pfW},
	}, 0x3000)
}

func parseBytes(b []byte) (*image, error) {
	return parse(bytesFile(b).ReadAt, int64(len(b)))
}

// --- parse. ---

func TestParseAccepts(t *testing.T) {
	img, err := parseBytes(minimalELF())
	if err != nil {
		t.Fatal(err)
	}
	if img.hdr.typ != etExec || img.hdr.entry != 0x401000 || img.hdr.phnum != 3 || len(img.phdrs) != 3 || img.interp {
		t.Fatalf("parsed %+v", img)
	}
	if p := img.phdrs[1]; p.typ != ptLoad || p.off != 0x2000 || p.vaddr != 0x403000 || p.filesz != 0x10 || p.memsz != 0x3000 || p.flags != pfR|pfW || p.align != 0x1000 {
		t.Fatalf("second phdr parsed as %+v", p)
	}
}

func TestParseRejects(t *testing.T) {
	valid := minimalELF()
	with := func(f func(b []byte)) []byte {
		b := bytes.Clone(valid)
		f(b)
		return b
	}
	le := binary.LittleEndian
	setPhdr := func(i int, field int, v uint64) func([]byte) {
		return func(b []byte) { le.PutUint64(b[ehdrSize+i*phdrSize+field:], v) }
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not an ELF"},
		{"3 bytes", []byte("\x7fEL"), "not an ELF"},
		{"not ELF", []byte("#!/bin/sh\necho hello\n" + strings.Repeat(" ", 100)), "not an ELF"},
		{"truncated header", valid[:40], "truncated ELF header"},
		{"32-bit", with(func(b []byte) { b[4] = 1 }), "32-bit"},
		{"bad class", with(func(b []byte) { b[4] = 3 }), "class"},
		{"big-endian", with(func(b []byte) { b[5] = 2 }), "big-endian"},
		{"bad version", with(func(b []byte) { b[6] = 0 }), "version"},
		{"AArch64", with(func(b []byte) { le.PutUint16(b[18:], 183) }), "another machine"},
		{"ET_REL", with(func(b []byte) { le.PutUint16(b[16:], 1) }), "not an executable"},
		{"ET_CORE", with(func(b []byte) { le.PutUint16(b[16:], 4) }), "not an executable"},
		{"phnum 0", with(func(b []byte) { le.PutUint16(b[56:], 0) }), "program header count"},
		{"phnum too big", with(func(b []byte) { le.PutUint16(b[56:], 100) }), "program header count"},
		{"phentsize wrong", with(func(b []byte) { le.PutUint16(b[54:], 32) }), "program header size"},
		{"phdrs past EOF", with(func(b []byte) { le.PutUint64(b[32:], uint64(len(b)-phdrSize)) }), "program headers past end"},
		{"phoff past EOF", with(func(b []byte) { le.PutUint64(b[32:], 1<<62) }), "program headers past end"},
		{"phoff overflowing", with(func(b []byte) { le.PutUint64(b[32:], ^uint64(0)-8) }), "program headers past end"},
		{"segment data past EOF", with(setPhdr(1, 32, 0x2000)), "segment data past end"},
		{"segment offset past EOF", with(setPhdr(1, 8, 0x10000)), "segment data past end"},
		{"segment offset overflowing", with(setPhdr(1, 8, ^uint64(0)-0xfff)), "segment data past end"},
		{"filesz > memsz", with(setPhdr(1, 40, 0x8)), "file size exceeds memory size"},
		{"offset not congruent", with(setPhdr(1, 16, 0x403800)), "congruent"},
		{"address overflowing", with(func(b []byte) {
			setPhdr(1, 16, ^uint64(0)&^0xfff)(b)
			setPhdr(1, 40, 0x10000)(b)
		}), "address out of range"},
		{"address beyond 47 bits", with(setPhdr(1, 16, 1<<47)), "address out of range"},
		{"no PT_LOAD", buildELF(etExec, 0x401000, []ph{{typ: ptGNUStack}}, 0x200), "no loadable segments"},
	} {
		img, err := parseBytes(c.data)
		var le *Error
		if !errors.As(err, &le) {
			t.Errorf("%s: parse = %+v, %v; want an *Error", c.name, img, err)
			continue
		}
		if le.Errno != unix.ENOEXEC || !strings.Contains(le.Error(), c.want) {
			t.Errorf("%s: got %v (%q), want ENOEXEC mentioning %q", c.name, le.Errno, le.Msg, c.want)
		}
	}
}

func TestParseInterp(t *testing.T) {
	b := buildELF(etDyn, 0x1000, []ph{
		{typ: ptInterp, off: 0x200, filesz: 28, memsz: 28},
		{typ: ptLoad, flags: pfR | pfX, off: 0, vaddr: 0, filesz: 0x400, memsz: 0x400, align: 0x1000},
	}, 0x400)
	copy(b[0x200:], "/lib64/ld-linux-x86-64.so.2\x00")
	img, err := parseBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if !img.interp || img.interpPath != "/lib64/ld-linux-x86-64.so.2" {
		t.Fatalf("PT_INTERP not noticed: interp=%v path=%q", img.interp, img.interpPath)
	}
	b[0x200+27] = 'x' // not NUL-terminated
	if _, err := parseBytes(b); err == nil || !strings.Contains(err.Error(), "PT_INTERP") {
		t.Fatalf("unterminated PT_INTERP accepted: %v", err)
	}
	b[0x200+27] = 0
	// Without an interpreter opener, Load refuses it with a clear message.
	m, _ := newMM(t)
	_, err = Load(m, bytesFile(b), Args{Argv: []string{"x"}})
	var le *Error
	if !errors.As(err, &le) || le.Errno != unix.ENOEXEC || !strings.Contains(le.Msg, "PT_INTERP") {
		t.Fatalf("Load of a dynamic executable = %v", err)
	}
}

func TestParseStaticBinary(t *testing.T) {
	bin := compile(t, "-static")
	f := openFile(t, bin)
	img, err := parse(f.ReadAt, f.size)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	if img.hdr.entry != ef.Entry || int(img.hdr.phnum) != len(ef.Progs) || img.interp {
		t.Fatalf("parsed entry %#x phnum %d interp %v; debug/elf says %#x, %d", img.hdr.entry, img.hdr.phnum, img.interp, ef.Entry, len(ef.Progs))
	}
	var loadEnd uint64
	for i, p := range ef.Progs {
		q := img.phdrs[i]
		if q.typ != uint32(p.Type) || q.off != p.Off || q.vaddr != p.Vaddr || q.filesz != p.Filesz || q.memsz != p.Memsz || q.flags != uint32(p.Flags) {
			t.Fatalf("phdr %d parsed as %+v; debug/elf says %+v", i, q, p.ProgHeader)
		}
		if p.Type == elf.PT_LOAD {
			loadEnd = max(loadEnd, p.Off+p.Filesz)
		}
	}
	// What Load reads ahead: up to the end of the last loadable data,
	// short of the symbol tables beyond (gcc does not strip).
	if got := img.loadEnd(); got != int64(loadEnd) || got >= f.size {
		t.Fatalf("loadEnd = %d, want %d (file size %d)", got, loadEnd, f.size)
	}
}

// --- Load. ---

func testArgs() Args {
	a := Args{
		Argv:        []string{"/bin/true", "arg one", ""},
		Envv:        []string{"A=1", "PATH=/bin:/usr/bin"},
		ExecFn:      "/bin/true",
		UID:         1000,
		EUID:        1001,
		GID:         1002,
		EGID:        1003,
		HWCap:       0x178bfbff,
		HWCap2:      2,
		Platform:    "x86_64",
		MinSigStkSz: 3632,
	}
	for i := range a.Random {
		a.Random[i] = byte(0xa0 + i)
	}
	return a
}

// stack is the initial stack as read back through CopyIn.
type stack struct {
	argc int
	argv []string
	envp []string
	aux  map[uint64]uint64
}

func readU64(t *testing.T, m *mm.MemoryManager, addr uintptr) uint64 {
	t.Helper()
	var b [8]byte
	if _, err := m.CopyIn(addr, b[:]); err != nil {
		t.Fatalf("CopyIn(%#x): %v", addr, err)
	}
	return binary.LittleEndian.Uint64(b[:])
}

func readString(t *testing.T, m *mm.MemoryManager, addr uint64) string {
	t.Helper()
	s, err := m.CopyInString(uintptr(addr), 1<<16)
	if err != nil {
		t.Fatalf("CopyInString(%#x): %v", addr, err)
	}
	return s
}

func readStack(t *testing.T, m *mm.MemoryManager, sp uintptr) stack {
	t.Helper()
	var s stack
	s.argc = int(readU64(t, m, sp))
	if s.argc < 0 || s.argc > 100000 {
		t.Fatalf("argc = %d", s.argc)
	}
	p := sp + 8
	for range s.argc {
		s.argv = append(s.argv, readString(t, m, readU64(t, m, p)))
		p += 8
	}
	if v := readU64(t, m, p); v != 0 {
		t.Fatalf("argv[argc] = %#x, want NULL", v)
	}
	p += 8
	for {
		v := readU64(t, m, p)
		p += 8
		if v == 0 {
			break
		}
		s.envp = append(s.envp, readString(t, m, v))
		if len(s.envp) > 100000 {
			t.Fatalf("envp not NULL-terminated")
		}
	}
	s.aux = map[uint64]uint64{}
	for {
		typ, val := readU64(t, m, p), readU64(t, m, p+8)
		p += 16
		if typ == atNull {
			break
		}
		if _, dup := s.aux[typ]; dup {
			t.Fatalf("auxv entry %d appears twice", typ)
		}
		s.aux[typ] = val
		if len(s.aux) > 100 {
			t.Fatalf("auxv not terminated")
		}
	}
	return s
}

// vmaAt returns the /proc/PID/maps line of the VMA holding addr.
func vmaAt(m *mm.MemoryManager, addr uintptr) (string, bool) {
	for _, l := range strings.Split(strings.TrimSpace(m.Maps()), "\n") {
		r, _, _ := strings.Cut(l, " ")
		lo, hi, _ := strings.Cut(r, "-")
		s, err1 := strconv.ParseUint(lo, 16, 64)
		e, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 == nil && err2 == nil && uint64(addr) >= s && uint64(addr) < e {
			return l, true
		}
	}
	return "", false
}

func lowestVMA(t *testing.T, m *mm.MemoryManager) uint64 {
	l := strings.SplitN(m.Maps(), "-", 2)[0]
	v, err := strconv.ParseUint(l, 16, 64)
	if err != nil {
		t.Fatalf("maps: %q", m.Maps())
	}
	return v
}

// checkLoaded verifies a loaded binary against debug/elf's view of the
// file, with bias added to its addresses.
func checkLoaded(t *testing.T, m *mm.MemoryManager, as *fakeAS, bin string, a Args, res Result, bias uint64) {
	t.Helper()
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	raw, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(res.Entry) != ef.Entry+bias {
		t.Fatalf("entry %#x, want %#x", res.Entry, ef.Entry+bias)
	}
	// The entry point is in an executable VMA, faults in as executable,
	// and holds the file's code.
	l, ok := vmaAt(m, res.Entry)
	if !ok || !strings.Contains(l, "x") || !strings.Contains(strings.Fields(l)[1], "x") {
		t.Fatalf("entry %#x is not in an executable VMA: %q\n%s", res.Entry, l, m.Maps())
	}
	if err := m.HandleFault(res.Entry, platform.AccessType{Execute: true}); err != nil {
		t.Fatalf("exec fault at the entry point: %v", err)
	}
	if mp := as.maps[len(as.maps)-1]; !mp.at.Execute {
		t.Fatalf("entry mapped %v", mp.at)
	}
	for _, p := range ef.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		got := make([]byte, p.Filesz)
		if _, err := m.CopyIn(uintptr(p.Vaddr+bias), got); err != nil && p.Flags&elf.PF_R != 0 {
			t.Fatalf("segment at %#x: %v", p.Vaddr+bias, err)
		}
		if !bytes.Equal(got, raw[p.Off:p.Off+p.Filesz]) {
			t.Fatalf("segment at %#x does not hold the file's data", p.Vaddr+bias)
		}
		if p.Memsz > p.Filesz {
			bss := make([]byte, p.Memsz-p.Filesz)
			if _, err := m.CopyIn(uintptr(p.Vaddr+bias+p.Filesz), bss); err != nil {
				t.Fatalf("bss at %#x: %v", p.Vaddr+bias+p.Filesz, err)
			}
			if !bytes.Equal(bss, make([]byte, len(bss))) {
				t.Fatalf("bss at %#x is not zero", p.Vaddr+bias+p.Filesz)
			}
		}
		l, _ := vmaAt(m, uintptr(p.Vaddr+bias))
		want := []byte("---p")
		if p.Flags&elf.PF_R != 0 {
			want[0] = 'r'
		}
		if p.Flags&elf.PF_W != 0 {
			want[1] = 'w'
		}
		if p.Flags&elf.PF_X != 0 {
			want[2] = 'x'
		}
		if !strings.Contains(l, " "+string(want)+" ") {
			t.Fatalf("segment at %#x (flags %v) mapped as %q", p.Vaddr+bias, p.Flags, l)
		}
	}

	// The stack.
	if res.SP%16 != 0 {
		t.Fatalf("stack pointer %#x is not 16-byte aligned", res.SP)
	}
	if l, ok := vmaAt(m, res.SP); !ok || !strings.HasSuffix(l, " [stack]") || !strings.Contains(l, " rw-p ") {
		t.Fatalf("stack pointer %#x not in the rw- [stack] VMA: %q", res.SP, l)
	}
	s := readStack(t, m, res.SP)
	if s.argc != len(a.Argv) || strings.Join(s.argv, "\x00") != strings.Join(a.Argv, "\x00") {
		t.Fatalf("argv = %q, want %q", s.argv, a.Argv)
	}
	if strings.Join(s.envp, "\x00") != strings.Join(a.Envv, "\x00") {
		t.Fatalf("envp = %q, want %q", s.envp, a.Envv)
	}
	for typ, want := range map[uint64]uint64{
		atPagesz: 4096, atEntry: uint64(res.Entry), atPhnum: uint64(len(ef.Progs)), atPhent: 56,
		atUID: 1000, atEUID: 1001, atGID: 1002, atEGID: 1003, atHWCap: a.HWCap, atHWCap2: a.HWCap2,
		atMinSigStkSz: a.MinSigStkSz, atSecure: 0, atBase: 0, atClkTck: 100,
	} {
		if got, ok := s.aux[typ]; !ok || got != want {
			t.Errorf("auxv[%d] = %#x (present %v), want %#x", typ, got, ok, want)
		}
	}
	rnd := make([]byte, 16)
	if _, err := m.CopyIn(uintptr(s.aux[atRandom]), rnd); err != nil || !bytes.Equal(rnd, a.Random[:]) {
		t.Fatalf("AT_RANDOM %#x points at %x (%v), want %x", s.aux[atRandom], rnd, err, a.Random)
	}
	if got := readString(t, m, s.aux[atExecFn]); got != a.ExecFn {
		t.Fatalf("AT_EXECFN = %q, want %q", got, a.ExecFn)
	}
	if got := readString(t, m, s.aux[atPlatform]); got != a.Platform {
		t.Fatalf("AT_PLATFORM = %q, want %q", got, a.Platform)
	}
	phdrs := make([]byte, len(ef.Progs)*phdrSize)
	phoff := binary.LittleEndian.Uint64(raw[32:])
	if _, err := m.CopyIn(uintptr(s.aux[atPhdr]), phdrs); err != nil || !bytes.Equal(phdrs, raw[phoff:phoff+uint64(len(phdrs))]) {
		t.Fatalf("AT_PHDR %#x does not point at the program headers (%v)", s.aux[atPhdr], err)
	}
	// Strings and the auxv pointers all lie in the stack, above sp.
	for _, typ := range []uint64{atRandom, atExecFn, atPlatform} {
		if s.aux[typ] <= uint64(res.SP) {
			t.Errorf("auxv[%d] = %#x is below the stack pointer %#x", typ, s.aux[typ], res.SP)
		}
	}
	// /proc/PID/cmdline and environ.
	as0, ae := m.ArgRange()
	es, ee := m.EnvRange()
	args := make([]byte, ae-as0)
	env := make([]byte, ee-es)
	m.CopyIn(as0, args)
	m.CopyIn(es, env)
	if string(args) != strings.Join(a.Argv, "\x00")+"\x00" || string(env) != strings.Join(a.Envv, "\x00")+"\x00" {
		t.Fatalf("ArgRange holds %q, EnvRange %q", args, env)
	}

	// The heap starts above the image; mmap allocates between the image
	// and the stack.
	var hi uint64
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD {
			hi = max(hi, p.Vaddr+p.Memsz+bias)
		}
	}
	brk := uint64(m.Brk(0))
	if brk < hi || brk%4096 != 0 || brk > hi+4096+brkRandom {
		t.Fatalf("brk starts at %#x, image ends at %#x", brk, hi)
	}
	addr, err := m.MMap(mm.MMapOpts{Length: 4096, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess, Private: true})
	if err != nil || uint64(addr) < hi || addr > res.SP {
		t.Fatalf("mmap after load at %#x (%v): image ends at %#x, sp %#x", addr, err, hi, res.SP)
	}
	if res.SP-addr < minGap {
		t.Fatalf("mmap at %#x within %#x of the stack pointer %#x", addr, minGap, res.SP)
	}
}

func TestLoadStatic(t *testing.T) {
	bin := compile(t, "-static")
	m, as := newMM(t)
	a := testArgs()
	res, err := Load(m, openFile(t, bin), a)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checkLoaded(t, m, as, bin, a, res, 0)
	if lo := lowestVMA(t, m); lo != 0x400000 {
		t.Fatalf("lowest VMA at %#x, want the binary's 0x400000\n%s", lo, m.Maps())
	}
}

func TestLoadStaticPIE(t *testing.T) {
	bin := compile(t, "-static-pie")
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	typ := ef.Type
	ef.Close()
	if typ != elf.ET_DYN {
		t.Fatalf("gcc -static-pie built %v, want ET_DYN", typ)
	}
	m, as := newMM(t)
	a := testArgs()
	res, err := Load(m, openFile(t, bin), a)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	base := lowestVMA(t, m)
	if base < etDynBase || base >= etDynBase+(1<<20)*4096 || base%4096 != 0 {
		t.Fatalf("static PIE loaded at %#x, want near %#x", base, etDynBase)
	}
	checkLoaded(t, m, as, bin, a, res, base) // the first segment is at vaddr 0
}

func TestLoadHandBuilt(t *testing.T) {
	b := minimalELF()
	m, _ := newMM(t)
	res, err := Load(m, bytesFile(b), Args{Argv: []string{"min"}, ExecFn: "min"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Entry != 0x401000 {
		t.Fatalf("entry %#x", res.Entry)
	}
	// Text: the file's bytes, including the partial last page, which
	// reads the following file bytes (no bss in this segment).
	got := make([]byte, 0x2000)
	if _, err := m.CopyIn(0x400000, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b[:0x2000]) {
		t.Fatalf("text segment does not hold the file's pages")
	}
	// Data: 0x10 bytes of file, then zeros to the end of the page even
	// though the file has data there, then anonymous zero pages.
	data := make([]byte, 0x3000)
	if _, err := m.CopyIn(0x403000, data); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data[:0x10], b[0x2000:0x2010]) || !bytes.Equal(data[0x10:], make([]byte, 0x3000-0x10)) {
		t.Fatalf("data segment: file part or bss wrong")
	}
	if _, err := m.CopyIn(0x406000, make([]byte, 1)); err == nil {
		t.Fatalf("memory beyond the bss is mapped")
	}
	// Text is not writable by the app; the loader wrote it anyway.
	if _, err := m.CopyOut(0x400000, []byte{1}); err == nil {
		t.Fatalf("text segment writable")
	}
	// No PT_PHDR: AT_PHDR comes from the segment holding e_phoff.
	s := readStack(t, m, res.SP)
	if s.aux[atPhdr] != 0x400000+ehdrSize || s.aux[atPhnum] != 3 {
		t.Fatalf("AT_PHDR %#x AT_PHNUM %d", s.aux[atPhdr], s.aux[atPhnum])
	}
	if _, ok := s.aux[atPlatform]; ok {
		t.Fatalf("AT_PLATFORM present without a platform string")
	}
	if _, ok := s.aux[atMinSigStkSz]; ok {
		t.Fatalf("AT_MINSIGSTKSZ present although 0")
	}
	if l, _ := vmaAt(m, res.SP); !strings.Contains(l, " rw-p ") {
		t.Fatalf("stack %q, want rw- (PT_GNU_STACK without X)", l)
	}
}

func TestLoadExecStack(t *testing.T) {
	b := buildELF(etExec, 0x401000, []ph{
		{typ: ptLoad, flags: pfR | pfX, off: 0, vaddr: 0x400000, filesz: 0x1100, memsz: 0x1100, align: 0x1000},
		{typ: ptGNUStack, flags: pfR | pfW | pfX},
	}, 0x1100)
	m, _ := newMM(t)
	res, err := Load(m, bytesFile(b), Args{Argv: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := vmaAt(m, res.SP); !strings.Contains(l, " rwxp ") {
		t.Fatalf("stack %q, want rwx (PT_GNU_STACK with X)", l)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		data  []byte
		args  Args
		errno unix.Errno
		want  string
	}{
		{"not ELF", []byte("hello world, this is not an executable at all........................"), Args{}, unix.ENOEXEC, "not an ELF"},
		{"below mmap_min_addr", buildELF(etExec, 0x1000, []ph{
			{typ: ptLoad, flags: pfR | pfX, vaddr: 0x1000, filesz: 0x200, memsz: 0x200},
		}, 0x200), Args{}, unix.ENOEXEC, "outside the usable address range"},
		{"too high", buildELF(etExec, 0x7ffffc000000, []ph{
			{typ: ptLoad, flags: pfR | pfX, vaddr: 0x7ffffc000000, filesz: 0x200, memsz: 0x200},
		}, 0x200), Args{}, unix.ENOEXEC, "outside the usable address range"},
		{"huge PIE", buildELF(etDyn, 0x1000, []ph{
			{typ: ptLoad, flags: pfR | pfX, vaddr: 0, filesz: 0x200, memsz: 0x200},
			{typ: ptLoad, flags: pfR | pfW, vaddr: 0x400000000000, memsz: 0x100000000000},
		}, 0x200), Args{}, unix.ENOEXEC, "outside the usable address range"},
		{"argument list too long", minimalELF(), Args{Argv: []string{strings.Repeat("a", 3<<20)}}, unix.E2BIG, "too long"},
		{"environment too long", minimalELF(), Args{Argv: []string{"a"}, Envv: []string{strings.Repeat("e", 1<<20), strings.Repeat("e", 1<<20)}}, unix.E2BIG, "too long"},
	} {
		m, _ := newMM(t)
		_, err := Load(m, bytesFile(c.data), c.args)
		var le *Error
		if !errors.As(err, &le) || le.Errno != c.errno || !strings.Contains(le.Msg, c.want) {
			t.Errorf("%s: Load = %v, want %v mentioning %q", c.name, err, c.errno, c.want)
		}
	}
}

func TestLoadManyArgs(t *testing.T) {
	m, _ := newMM(t)
	a := Args{ExecFn: "/x"}
	for i := range 5000 {
		a.Argv = append(a.Argv, strings.Repeat("v", i%300))
	}
	for i := range 3000 {
		a.Envv = append(a.Envv, "K"+strconv.Itoa(i)+"="+strings.Repeat("w", i%100))
	}
	res, err := Load(m, bytesFile(minimalELF()), a)
	if err != nil {
		t.Fatal(err)
	}
	s := readStack(t, m, res.SP)
	if strings.Join(s.argv, "\x00") != strings.Join(a.Argv, "\x00") || strings.Join(s.envp, "\x00") != strings.Join(a.Envv, "\x00") {
		t.Fatalf("argv/envp did not survive a large stack")
	}
	if res.SP%16 != 0 {
		t.Fatalf("sp %#x", res.SP)
	}
}

// --- Fuzzing. ---

func FuzzParse(f *testing.F) {
	if _, err := exec.LookPath("gcc"); err == nil {
		bin := compile(f, "-static")
		b, err := os.ReadFile(bin)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:4096])
	}
	f.Add(minimalELF())
	f.Add(buildELF(etDyn, 0x1000, []ph{
		{typ: ptPhdr, flags: pfR, off: ehdrSize, vaddr: ehdrSize, filesz: 3 * phdrSize, memsz: 3 * phdrSize},
		{typ: ptInterp, off: 0x200, filesz: 28, memsz: 28},
		{typ: ptLoad, flags: pfR | pfX, off: 0, vaddr: 0, filesz: 0x400, memsz: 0x400, align: 0x1000},
	}, 0x400))
	f.Add(buildELF(etExec, 0x401000, []ph{
		{typ: ptLoad, flags: pfR, off: 0x1000, vaddr: 0x401000, filesz: 0, memsz: 0x10000},
		{typ: ptLoad, flags: pfR | pfW, off: 0x80, vaddr: 0x500080, filesz: 0x80, memsz: 0x80},
	}, 0x100))
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := parseBytes(data)
		if err != nil {
			var le *Error
			if !errors.As(err, &le) || le.Errno != unix.ENOEXEC || le.Msg == "" {
				t.Fatalf("parse error %#v is not an ENOEXEC *Error with a message", err)
			}
			return
		}
		checkImage(t, img, uint64(len(data)))
	})
}

// checkImage asserts what parse promises about an accepted image.
func checkImage(t *testing.T, img *image, size uint64) {
	t.Helper()
	if img.hdr.phnum == 0 || len(img.phdrs) != int(img.hdr.phnum) || len(img.phdrs)*phdrSize > maxPhdrBytes {
		t.Fatalf("accepted image with phnum %d and %d phdrs", img.hdr.phnum, len(img.phdrs))
	}
	if img.hdr.typ != etExec && img.hdr.typ != etDyn {
		t.Fatalf("accepted e_type %d", img.hdr.typ)
	}
	nload := 0
	for i, p := range img.phdrs {
		if p.typ != ptLoad {
			continue
		}
		nload++
		if p.off > size || p.filesz > size-p.off {
			t.Fatalf("PT_LOAD %d (off %#x filesz %#x) lies outside the %#x-byte file", i, p.off, p.filesz, size)
		}
		if p.filesz > p.memsz {
			t.Fatalf("PT_LOAD %d: filesz %#x > memsz %#x", i, p.filesz, p.memsz)
		}
		if p.vaddr+p.memsz < p.vaddr || p.vaddr+p.memsz > 1<<47 {
			t.Fatalf("PT_LOAD %d: vaddr %#x memsz %#x out of range", i, p.vaddr, p.memsz)
		}
		if (p.off-p.vaddr)%pageSize != 0 {
			t.Fatalf("PT_LOAD %d: offset %#x and vaddr %#x not congruent", i, p.off, p.vaddr)
		}
	}
	if nload == 0 && !img.interp {
		t.Fatalf("accepted a static image without PT_LOAD")
	}
}

// FuzzLoad loads every image parse accepts: whatever the executable
// says, Load must not panic, must keep its promises about the stack, and
// must leave nothing behind once the address space is released.
func FuzzLoad(f *testing.F) {
	f.Add(minimalELF())
	f.Add(buildELF(etDyn, 0x1000, []ph{
		{typ: ptLoad, flags: pfR | pfX, off: 0, vaddr: 0, filesz: 0x400, memsz: 0x400, align: 0x1000},
		{typ: ptLoad, flags: pfR | pfW, off: 0x300, vaddr: 0x1300, filesz: 0x100, memsz: 0x5000, align: 0x1000},
		{typ: ptGNUStack, flags: pfR | pfW | pfX},
	}, 0x400))
	f.Add(buildELF(etExec, 0x401000, []ph{
		{typ: ptLoad, flags: pfR, off: 0x1000, vaddr: 0x401000, filesz: 0, memsz: 0x10000},
		{typ: ptLoad, flags: pfR | pfW, off: 0x80, vaddr: 0x400080, filesz: 0x80, memsz: 0x80},
	}, 0x100))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := parseBytes(data)
		if err != nil || img.interp {
			return
		}
		memFileOnce.Do(func() { memFile, memFileErr = memory.New("loader-test", 1<<30) })
		if memFileErr != nil {
			t.Fatal(memFileErr)
		}
		before := memFile.InUse()
		as := &fakeAS{}
		m := mm.New(memFile, as, testMaxAddr)
		res, err := Load(m, bytesFile(data), Args{Argv: []string{"fuzz"}, Envv: []string{"E=1"}, ExecFn: "fuzz"})
		if err == nil {
			if res.SP%16 != 0 {
				t.Fatalf("sp %#x not aligned", res.SP)
			}
			s := readStack(t, m, res.SP)
			if s.argc != 1 || s.argv[0] != "fuzz" || len(s.envp) != 1 || s.aux[atEntry] != uint64(res.Entry) {
				t.Fatalf("bad initial stack: %+v", s)
			}
		} else {
			var le *Error
			if !errors.As(err, &le) || le.Errno == 0 || le.Msg == "" {
				t.Fatalf("Load error %#v is not an *Error", err)
			}
		}
		m.Release()
		if got := memFile.InUse(); got != before {
			t.Fatalf("memory in use %#x after Release, was %#x", got, before)
		}
		if !as.released {
			t.Fatalf("address space not released")
		}
	})
}

func TestLoadSegmentsWhereTheStackGoes(t *testing.T) {
	// A bss covering every place the randomized stack can land (up to
	// the gap Load keeps below the top of the address space).
	lo := uint64(testMaxAddr - stackRandomPages*pageSize - (1 << 20))
	hi := uint64(testMaxAddr - minGap)
	b := buildELF(etExec, lo, []ph{
		{typ: ptLoad, flags: pfR | pfW, off: 0, vaddr: lo, filesz: 0x200, memsz: hi - lo, align: 0x1000},
	}, 0x200)
	for range 5 {
		m, _ := newMM(t)
		res, err := Load(m, bytesFile(b), Args{Argv: []string{"x"}})
		if err != nil {
			var le *Error
			if !errors.As(err, &le) || le.Errno != unix.ENOMEM {
				t.Fatalf("Load = %v, want ENOMEM", err)
			}
			continue
		}
		// The stack landed in the gap above the image: nothing of the
		// image may have been replaced.
		if l, _ := vmaAt(m, uintptr(lo+pageSize)); !strings.HasPrefix(l, strconv.FormatUint(lo+pageSize, 16)+"-"+strconv.FormatUint(hi, 16)+" rw-p") {
			t.Fatalf("image VMA changed by the stack: %q (sp %#x)\n%s", l, res.SP, m.Maps())
		}
	}
}

// TestLoadVDSO: with a vDSO image the process gets it mapped r-x as
// [vdso], named at AT_SYSINFO_EHDR; without one, neither.
func TestLoadVDSO(t *testing.T) {
	bin := compile(t, "-static")
	img := vdso.Image(0x7fff12345000)
	for _, with := range []bool{true, false} {
		m, _ := newMM(t)
		a := testArgs()
		if with {
			a.VDSO = img
		}
		res, err := Load(m, openFile(t, bin), a)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		s := readStack(t, m, res.SP)
		at, ok := s.aux[atSysinfoEhdr]
		if !with {
			if ok || strings.Contains(m.Maps(), "[vdso]") {
				t.Fatalf("a vDSO without an image: AT_SYSINFO_EHDR %#x\n%s", at, m.Maps())
			}
			continue
		}
		if !ok {
			t.Fatal("no AT_SYSINFO_EHDR")
		}
		if l, ok := vmaAt(m, uintptr(at)); !ok || !strings.HasSuffix(l, " [vdso]") || !strings.Contains(l, " r-xp ") {
			t.Fatalf("AT_SYSINFO_EHDR %#x is not in an r-x [vdso] VMA: %q", at, l)
		}
		got := make([]byte, len(img))
		if _, err := m.CopyIn(uintptr(at), got); err != nil || !bytes.Equal(got, img) {
			t.Fatalf("the [vdso] VMA does not hold the image (%v)", err)
		}
	}
}
