package syspatch

import (
	"bytes"
	"testing"
)

func TestMatch(t *testing.T) {
	site := []byte{0xb8, 39, 0, 0, 0, 0x0f, 0x05}
	for _, c := range []struct {
		name   string
		before byte
		code   []byte
		nr     uint64
		want   bool
	}{
		{"getpid", 0x90, site, 39, true},
		{"other number", 0x90, site, 40, false},
		{"number above 32 bits", 0x90, site, 1<<32 | 39, false},
		{"REX prefix before (mov r8d)", 0x41, site, 39, false},
		{"operand-size prefix before", 0x66, site, 39, false},
		{"mov to ecx", 0x90, []byte{0xb9, 39, 0, 0, 0, 0x0f, 0x05}, 39, false},
		{"int 0x80", 0x90, []byte{0xb8, 39, 0, 0, 0, 0xcd, 0x80}, 39, false},
		{"short", 0x90, site[:6], 39, false},
		{"syscall(2)'s mov 0x8(%rsp), %r9", 0xc8, []byte{0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f, 0x05}, 39, true},
		{"mov 0x10(%rsp), %r9", 0xc8, []byte{0x4c, 0x8b, 0x4c, 0x24, 0x10, 0x0f, 0x05}, 39, false},
	} {
		if got := Match(c.before, c.code, c.nr); got != c.want {
			t.Errorf("%s: Match = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestPlaceable(t *testing.T) {
	for addr, want := range map[uintptr]bool{
		0x401000: true, 0x401003: true, 0x401004: true, 0x401007: true,
		0x40103b: true, 0x40103c: false, // ...03c: the rewritten bytes would cross a cache line
		0x401ff8: true, 0x401ffb: false, // ...ffb: the syscall would cross into the next page
		0x401ff9: true,
	} {
		if got := Placeable(addr); got != want {
			t.Errorf("Placeable(%#x) = %v, want %v", addr, got, want)
		}
	}
	for addr, want := range map[uintptr]bool{0x401000: true, 0x401003: true, 0x401004: false, 0x401007: false} {
		if got := OneWord(addr); got != want {
			t.Errorf("OneWord(%#x) = %v, want %v", addr, got, want)
		}
	}
}

func TestJumpAndStub(t *testing.T) {
	b, ok := Jump(0x401000, 0x400000)
	if !ok || !bytes.Equal(b[:], []byte{0xe9, 0xfb, 0xef, 0xff, 0xff}) {
		t.Errorf("Jump = % x, %v", b, ok)
	}
	if _, ok := Jump(0x401000, 0x7fff00000000); ok {
		t.Errorf("a jump beyond 2 GiB was encoded")
	}
	s := Stub([PatchLen]byte{0xb8, 39, 0, 0, 0}, 0x401007, 0x7ffffffe01c0)
	want := []byte{0xb8, 39, 0, 0, 0, 0x48, 0xb9, 0x07, 0x10, 0x40, 0, 0, 0, 0, 0, 0x49, 0xbb, 0xc0, 0x01, 0xfe, 0xff, 0xff, 0x7f, 0, 0, 0x41, 0xff, 0xe3}
	if !bytes.Equal(s[:len(want)], want) {
		t.Errorf("Stub = % x, want % x", s[:len(want)], want)
	}
}
