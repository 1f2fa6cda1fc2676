package bpf

import (
	"testing"

	"golang.org/x/sys/unix"

	"moat/abi/linux"
)

func stmt(code uint16, k uint32) linux.SockFilter { return linux.BPFStmt(code, k) }
func jmp(code uint16, k uint32, jt, jf uint8) linux.SockFilter {
	return linux.BPFJump(code, k, jt, jf)
}

var retAllow = stmt(retK, linux.SECCOMP_RET_ALLOW)

func TestCompileRefuses(t *testing.T) {
	long := make([]linux.SockFilter, linux.BPF_MAXINSNS+1)
	for i := range long {
		long[i] = retAllow
	}
	cases := map[string][]linux.SockFilter{
		"empty":             nil,
		"too long":          long,
		"no return at end":  {stmt(ldImm, 1)},
		"unaligned load":    {stmt(ldWAbs, 2), retAllow},
		"load past data":    {stmt(ldWAbs, 64), retAllow},
		"half-word load":    {stmt(linux.BPF_LD|linux.BPF_H|linux.BPF_ABS, 0), retAllow},
		"indirect load":     {stmt(linux.BPF_LD|linux.BPF_W|linux.BPF_IND, 0), retAllow},
		"mod":               {stmt(linux.BPF_ALU|linux.BPF_MOD|linux.BPF_K, 3), retAllow},
		"div by zero":       {stmt(divK, 0), retAllow},
		"shift by 32":       {stmt(lshK, 32), retAllow},
		"bad opcode":        {stmt(0xffff, 0), retAllow},
		"ja past end":       {stmt(ja, 1), retAllow},
		"jt past end":       {jmp(jeqK, 0, 1, 0), retAllow},
		"jf past end":       {jmp(jeqK, 0, 0, 1), retAllow},
		"mem index":         {stmt(st, 16), retAllow},
		"uninitialized mem": {stmt(ldMem, 0), retAllow},
		"mem set on one path only": {
			jmp(jeqK, 0, 0, 1), stmt(st, 3), stmt(ldMem, 3), retAllow},
	}
	for name, prog := range cases {
		if _, err := Compile(prog); err != unix.EINVAL {
			t.Errorf("%s: Compile = %v, want EINVAL", name, err)
		}
	}
}

func TestRun(t *testing.T) {
	d := MakeData(linux.SeccompData{Nr: 39, Arch: linux.AUDIT_ARCH_X86_64, InstructionPointer: 0x1122334455667788,
		Args: [6]uint64{0xaaaaaaaa_bbbbbbbb, 2}})
	cases := []struct {
		name string
		prog []linux.SockFilter
		want uint32
	}{
		{"nr", []linux.SockFilter{stmt(ldWAbs, 0), jmp(jeqK, 39, 0, 1), stmt(retK, 1), stmt(retK, 2)}, 1},
		{"arch", []linux.SockFilter{stmt(ldWAbs, 4), stmt(retA, 0)}, linux.AUDIT_ARCH_X86_64},
		{"ip high", []linux.SockFilter{stmt(ldWAbs, 12), stmt(retA, 0)}, 0x11223344},
		{"arg0 high", []linux.SockFilter{stmt(ldWAbs, 20), stmt(retA, 0)}, 0xaaaaaaaa},
		{"arg0 low", []linux.SockFilter{stmt(ldWAbs, 16), stmt(retA, 0)}, 0xbbbbbbbb},
		{"len", []linux.SockFilter{stmt(ldWLen, 0), stmt(retA, 0)}, 64},
		{"alu", []linux.SockFilter{stmt(ldImm, 10), stmt(ldxImm, 3), stmt(mulX, 0), stmt(subK, 2),
			stmt(divX, 0), stmt(lshK, 4), stmt(orK, 1), stmt(retA, 0)}, (28/3)<<4 | 1},
		{"div by zero X", []linux.SockFilter{stmt(ldxImm, 0), stmt(divX, 0), stmt(retK, 7)}, 0},
		{"mem", []linux.SockFilter{stmt(ldImm, 5), stmt(st, 2), stmt(ldImm, 0), stmt(ldxMem, 2), stmt(txa, 0), stmt(retA, 0)}, 5},
		{"jset", []linux.SockFilter{stmt(ldWAbs, 24), jmp(jsetK, 2, 1, 0), stmt(retK, 0), stmt(retK, 9)}, 9},
		{"ja", []linux.SockFilter{stmt(ja, 1), stmt(retK, 1), stmt(retK, 2)}, 2},
		{"neg", []linux.SockFilter{stmt(ldImm, 1), stmt(neg, 0), stmt(retA, 0)}, 0xffffffff},
	}
	for _, c := range cases {
		p, err := Compile(c.prog)
		if err != nil {
			t.Errorf("%s: Compile: %v", c.name, err)
			continue
		}
		if got := p.Run(&d); got != c.want {
			t.Errorf("%s: Run = %#x, want %#x", c.name, got, c.want)
		}
	}
}

func BenchmarkRun(b *testing.B) {
	prog := []linux.SockFilter{stmt(ldWAbs, 4), jmp(jeqK, linux.AUDIT_ARCH_X86_64, 1, 0), stmt(retK, 0), stmt(ldWAbs, 0)}
	for i := 0; i < 20; i++ {
		prog = append(prog, jmp(jeqK, uint32(100+i), 0, 1), stmt(retK, linux.SECCOMP_RET_ERRNO|1))
	}
	prog = append(prog, retAllow)
	p, err := Compile(prog)
	if err != nil {
		b.Fatal(err)
	}
	d := MakeData(linux.SeccompData{Nr: 1, Arch: linux.AUDIT_ARCH_X86_64})
	for i := 0; i < b.N; i++ {
		p.Run(&d)
	}
}

func TestKernelLen(t *testing.T) {
	big := make([]linux.SockFilter, linux.BPF_MAXINSNS)
	big[0], big[len(big)-1] = retAllow, retAllow
	for i := 1; i < len(big)-1; i++ {
		big[i] = stmt(ldImm, uint32(i))
	}
	// A filter as programs write them: check the arch (a constant
	// negative as an int32), then one call.
	typical := []linux.SockFilter{
		stmt(ldWAbs, 4), jmp(jeqK, linux.AUDIT_ARCH_X86_64, 1, 0), stmt(retK, linux.SECCOMP_RET_KILL_PROCESS),
		stmt(ldWAbs, 0), jmp(jeqK, 39, 0, 1), stmt(retK, linux.SECCOMP_RET_ERRNO|1), retAllow,
	}
	both := []linux.SockFilter{jmp(jsetK, 1, 1, 2), stmt(ldxImm, 1), stmt(divX, 0), retAllow}
	for _, c := range []struct {
		name string
		prog []linux.SockFilter
		want int
	}{{"4096 instructions", big, 4101}, {"typical", typical, 14}, {"jset and div", both, 3 + 2 + 1 + 5 + 2}} {
		p, err := Compile(c.prog)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.KernelLen(); got != c.want {
			t.Errorf("%s: KernelLen = %d, want %d", c.name, got, c.want)
		}
	}
}
