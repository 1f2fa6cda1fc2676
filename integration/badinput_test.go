package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInput gives `moat run` things it cannot run. Each must end in a
// non-zero exit status (not a death by signal), exactly one line on stderr
// that says what is wrong, and no Go panic or stack trace.
func TestBadInput(t *testing.T) {
	dir := hostTempDir(t)
	good, err := os.ReadFile(prog("exit"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	clone := func() []byte { return append([]byte(nil), good...) }
	le := binary.LittleEndian
	phoff := le.Uint64(good[32:])
	phnum := int(le.Uint16(good[56:]))

	// Program headers that are all PT_LOAD with garbage offsets, addresses
	// and sizes: the header is fine, the segments are not.
	garbagePhdrs := clone()
	for i := 0; i < phnum; i++ {
		ph := garbagePhdrs[phoff+uint64(i)*56:][:56]
		for j := range ph {
			ph[j] = 0xff
		}
		le.PutUint32(ph[0:], 1) // PT_LOAD
	}
	phoffPastEOF := clone()
	le.PutUint64(phoffPastEOF[32:], uint64(len(good))+4096)
	hugePhnum := clone()
	le.PutUint16(hugePhnum[56:], 0xffff)
	aarch64 := clone()
	le.PutUint16(aarch64[18:], 183) // e_machine = EM_AARCH64

	cases := []struct {
		name string
		path string
	}{
		{"text-file", "/etc/passwd"},
		{"missing", "/nonexistent/moat-test-program"},
		{"directory", dir},
		{"empty", write("empty", nil, 0o755)},
		{"truncated-elf", write("truncated", good[:100], 0o755)},
		{"garbage-phdrs", write("garbage-phdrs", garbagePhdrs, 0o755)},
		{"phoff-past-eof", write("phoff-past-eof", phoffPastEOF, 0o755)},
		{"huge-phnum", write("huge-phnum", hugePhnum, 0o755)},
		{"elf32", elf32(t, dir)},
		{"aarch64", write("aarch64", aarch64, 0o755)},
		{"not-executable", write("not-executable", good, 0o644)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			// For the record: what the host kernel makes of it.
			ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
			defer cancel()
			if out, err := exec.CommandContext(ctx, c.path).CombinedOutput(); err != nil {
				t.Logf("natively: %v %s", err, bytes.TrimSpace(out))
			} else {
				t.Logf("natively: runs")
			}
			stdout, stderr, code := runMoat(t, nil, []string{c.path}, "")
			if code == 0 || code >= 128 {
				t.Errorf("moat run -- %s: exit status %d, want an error status in 1..127", c.path, code)
			}
			checkOneLine(t, stderr)
			if stdout != "" {
				t.Errorf("unexpected stdout: %q", stdout)
			}
		})
	}
}

// checkOneLine requires stderr to be exactly one non-empty line and no Go
// panic or stack trace.
func checkOneLine(t *testing.T, stderr string) {
	t.Helper()
	msg := strings.TrimSuffix(stderr, "\n")
	switch {
	case strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ") ||
		strings.Contains(stderr, ".go:"):
		t.Errorf("stderr has a Go panic or stack trace:\n%s", tail(stderr, 60))
	case strings.TrimSpace(msg) == "":
		t.Errorf("stderr is empty: the user is not told what went wrong")
	case strings.Contains(msg, "\n"):
		t.Errorf("stderr has %d lines, want exactly one:\n%s", strings.Count(msg, "\n")+1, tail(stderr, 20))
	default:
		t.Logf("stderr: %s", msg)
	}
}

// elf32 returns a 32-bit x86 ELF executable: built with gcc -m32 if this
// host can, otherwise made by hand (a 52-byte ELF32 header, one PT_LOAD
// program header and 9 bytes of code that exit(0) through int 0x80).
func elf32(t *testing.T, dir string) string {
	p := filepath.Join(dir, "elf32")
	cmd := exec.Command("gcc", "-m32", "-static", "-O1", "-o", p, "progs/exit.c")
	if err := cmd.Run(); err == nil {
		return p
	}
	const (
		base  = 0x08048000
		ehdr  = 52
		phdr  = 32
		entry = base + ehdr + phdr
	)
	code := []byte{0x31, 0xdb, 0xb8, 0x01, 0, 0, 0, 0xcd, 0x80} // xor ebx,ebx; mov eax,1; int 0x80
	size := uint32(ehdr + phdr + len(code))
	le := binary.LittleEndian
	b := make([]byte, 0, size)
	b = append(b, 0x7f, 'E', 'L', 'F', 1 /* ELFCLASS32 */, 1 /* LSB */, 1 /* EV_CURRENT */, 0)
	b = append(b, make([]byte, 8)...)
	b = le.AppendUint16(b, 2)     // e_type: ET_EXEC
	b = le.AppendUint16(b, 3)     // e_machine: EM_386
	b = le.AppendUint32(b, 1)     // e_version
	b = le.AppendUint32(b, entry) // e_entry
	b = le.AppendUint32(b, ehdr)  // e_phoff
	b = le.AppendUint32(b, 0)     // e_shoff
	b = le.AppendUint32(b, 0)     // e_flags
	b = le.AppendUint16(b, ehdr)  // e_ehsize
	b = le.AppendUint16(b, phdr)  // e_phentsize
	b = le.AppendUint16(b, 1)     // e_phnum
	b = le.AppendUint16(b, 40)    // e_shentsize
	b = le.AppendUint16(b, 0)     // e_shnum
	b = le.AppendUint16(b, 0)     // e_shstrndx
	b = le.AppendUint32(b, 1)     // p_type: PT_LOAD
	b = le.AppendUint32(b, 0)     // p_offset
	b = le.AppendUint32(b, base)  // p_vaddr
	b = le.AppendUint32(b, base)  // p_paddr
	b = le.AppendUint32(b, size)  // p_filesz
	b = le.AppendUint32(b, size)  // p_memsz
	b = le.AppendUint32(b, 5)     // p_flags: R+X
	b = le.AppendUint32(b, 0x1000)
	b = append(b, code...)
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
