package memexec

import (
	"bytes"
	"debug/elf"
	"os/exec"
	"testing"
)

// TestELF reads a program back with debug/elf: one loadable, executable
// segment from the file's start at base, and the entry at the code.
func TestELF(t *testing.T) {
	const base = 0x400000
	code := []byte{0xb8, 0xe7, 0x00, 0x00, 0x00, 0xbf, 0x07, 0x00, 0x00, 0x00, 0x0f, 0x05} // exit_group(7)
	b := ELF(base, code)
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC || f.Entry != base+HeadersSize {
		t.Fatalf("class %v machine %v type %v entry %#x", f.Class, f.Machine, f.Type, f.Entry)
	}
	if len(f.Progs) != 1 {
		t.Fatalf("%d program headers, want 1", len(f.Progs))
	}
	p := f.Progs[0]
	if p.Type != elf.PT_LOAD || p.Flags != elf.PF_R|elf.PF_X || p.Off != 0 || p.Vaddr != base || p.Filesz != uint64(len(b)) {
		t.Fatalf("segment %+v", p.ProgHeader)
	}
	if !bytes.Equal(b[f.Entry-base:], code) {
		t.Fatal("the entry is not at the code")
	}

	// And the host runs it.
	prog, err := New("moat-test", b, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	err = exec.Command(prog.Path()).Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Fatalf("running it: %v, want exit status 7", err)
	}
}
