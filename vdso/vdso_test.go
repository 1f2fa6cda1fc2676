package vdso

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"
)

// TestImage checks the linked image is what a vDSO loader accepts: a
// shared object with one read+execute segment from offset and address 0,
// no relocations, the calls exported at version LINUX_2.6, and the time
// entry word where Image writes it.
func TestImage(t *testing.T) {
	img := Image(0x7ffffffff123)
	if got := binary.LittleEndian.Uint64(img[offTimeEntry:]); got != 0x7ffffffff123 {
		t.Fatalf("time entry word %#x", got)
	}
	if binary.LittleEndian.Uint64(image[offTimeEntry:]) != 0 {
		t.Fatal("Image changed the shared image")
	}
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != elf.ET_DYN || f.Machine != elf.EM_X86_64 {
		t.Fatalf("type %v machine %v", f.Type, f.Machine)
	}
	var loads []*elf.Prog
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			loads = append(loads, p)
		}
	}
	if len(loads) != 1 || loads[0].Off != 0 || loads[0].Vaddr != 0 || loads[0].Flags != elf.PF_R|elf.PF_X || loads[0].Filesz > 4096 {
		t.Fatalf("PT_LOAD segments %+v, want one r-x segment at 0 within a page", loads)
	}
	if offTimeEntry+8 > loads[0].Filesz {
		t.Fatalf("the time entry word (%#x) lies outside the segment", offTimeEntry)
	}
	for _, s := range f.Sections {
		if s.Type == elf.SHT_RELA || s.Type == elf.SHT_REL {
			t.Errorf("section %s holds relocations: a vDSO is not relocated", s.Name)
		}
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"__vdso_clock_gettime": false, "__vdso_clock_getres": false, "__vdso_gettimeofday": false, "__vdso_time": false,
		"clock_gettime": false, "clock_getres": false, "gettimeofday": false, "time": false}
	for _, s := range syms {
		if _, ok := want[s.Name]; ok && elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Version == "LINUX_2.6" {
			want[s.Name] = true
		}
		if s.Name == "moat_time_entry" {
			t.Errorf("moat_time_entry is exported")
		}
	}
	for name, ok := range want {
		if !ok {
			t.Errorf("%s@LINUX_2.6 is not exported as a function", name)
		}
	}
}
