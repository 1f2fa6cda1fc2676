// Package bpf is classic BPF as seccomp(2) runs it: Linux's checks of a
// filter program (bpf_check_classic and seccomp's own restrictions) and an
// interpreter over struct seccomp_data.
//
// moat's kernel runs the app's seccomp filters with it, and the OCI
// runtime's filter compiler (oci/seccomp) tests its output with it. It is
// a small interpreter of its own rather than golang.org/x/net/bpf's VM:
// that VM reads packets big-endian and validates programs by its own
// rules, while seccomp reads native 32-bit words and must accept and refuse
// exactly the programs Linux does; this one also runs a filter without
// allocating.
//
// The package has no locks; a Program is immutable once made.
package bpf

import (
	"golang.org/x/sys/unix"

	"moat/abi/linux"
)

// Data is struct seccomp_data as the 16 native 32-bit words a filter can
// load (BPF_LD|BPF_W|BPF_ABS at offset 4*i reads word i).
type Data [linux.SizeofSeccompData / 4]uint32

// MakeData lays out a struct seccomp_data.
func MakeData(d linux.SeccompData) Data {
	w := Data{uint32(d.Nr), d.Arch, uint32(d.InstructionPointer), uint32(d.InstructionPointer >> 32)}
	for i, a := range d.Args {
		w[4+2*i] = uint32(a)
		w[5+2*i] = uint32(a >> 32)
	}
	return w
}

// Program is a checked seccomp filter program.
type Program struct {
	insns    []linux.SockFilter
	kernelLn int
}

// Len returns the number of instructions.
func (p *Program) Len() int { return len(p.insns) }

// KernelLen returns the number of instructions Linux counts for the
// program against a task's total (MAX_INSNS_PER_PATH): the length of its
// translation to eBPF, which Linux runs: three more for the prologue, two
// per return, five per division by X, one more per conditional jump that
// can fall through to neither target, and one more per comparison with a
// constant that is negative as an int32.
func (p *Program) KernelLen() int { return p.kernelLn }

// translatedLen computes KernelLen (net/core/filter.c's
// bpf_convert_filter, as it sizes a seccomp program).
func translatedLen(insns []linux.SockFilter) int {
	n := 3
	for _, in := range insns {
		switch in.Code {
		case retK, retA:
			n += 2
		case divX:
			n += 5
		case jeqK, jgtK, jgeK, jsetK, jeqX, jgtX, jgeX, jsetX:
			if in.Code&linux.BPF_X == 0 && int32(in.K) < 0 {
				n++ // the constant goes through a register
			}
			switch {
			case in.Jf == 0:
				n++
			case in.Jt == 0 && in.Code&0xf0 != linux.BPF_JSET:
				n++ // inverted
			default:
				n += 2 // a jump and a BPF_JA
			}
		default:
			n++
		}
	}
	return n
}

// Instructions returns a copy of the program.
func (p *Program) Instructions() []linux.SockFilter {
	return append([]linux.SockFilter(nil), p.insns...)
}

// Instruction codes.
const (
	ldWAbs  = linux.BPF_LD | linux.BPF_W | linux.BPF_ABS
	ldWLen  = linux.BPF_LD | linux.BPF_W | linux.BPF_LEN
	ldxWLen = linux.BPF_LDX | linux.BPF_W | linux.BPF_LEN
	ldImm   = linux.BPF_LD | linux.BPF_IMM
	ldxImm  = linux.BPF_LDX | linux.BPF_IMM
	ldMem   = linux.BPF_LD | linux.BPF_MEM
	ldxMem  = linux.BPF_LDX | linux.BPF_MEM
	st      = linux.BPF_ST
	stx     = linux.BPF_STX
	tax     = linux.BPF_MISC | linux.BPF_TAX
	txa     = linux.BPF_MISC | linux.BPF_TXA
	retK    = linux.BPF_RET | linux.BPF_K
	retA    = linux.BPF_RET | linux.BPF_A
	ja      = linux.BPF_JMP | linux.BPF_JA
	jeqK    = linux.BPF_JMP | linux.BPF_JEQ | linux.BPF_K
	jeqX    = linux.BPF_JMP | linux.BPF_JEQ | linux.BPF_X
	jgtK    = linux.BPF_JMP | linux.BPF_JGT | linux.BPF_K
	jgtX    = linux.BPF_JMP | linux.BPF_JGT | linux.BPF_X
	jgeK    = linux.BPF_JMP | linux.BPF_JGE | linux.BPF_K
	jgeX    = linux.BPF_JMP | linux.BPF_JGE | linux.BPF_X
	jsetK   = linux.BPF_JMP | linux.BPF_JSET | linux.BPF_K
	jsetX   = linux.BPF_JMP | linux.BPF_JSET | linux.BPF_X
	addK    = linux.BPF_ALU | linux.BPF_ADD | linux.BPF_K
	addX    = linux.BPF_ALU | linux.BPF_ADD | linux.BPF_X
	subK    = linux.BPF_ALU | linux.BPF_SUB | linux.BPF_K
	subX    = linux.BPF_ALU | linux.BPF_SUB | linux.BPF_X
	mulK    = linux.BPF_ALU | linux.BPF_MUL | linux.BPF_K
	mulX    = linux.BPF_ALU | linux.BPF_MUL | linux.BPF_X
	divK    = linux.BPF_ALU | linux.BPF_DIV | linux.BPF_K
	divX    = linux.BPF_ALU | linux.BPF_DIV | linux.BPF_X
	andK    = linux.BPF_ALU | linux.BPF_AND | linux.BPF_K
	andX    = linux.BPF_ALU | linux.BPF_AND | linux.BPF_X
	orK     = linux.BPF_ALU | linux.BPF_OR | linux.BPF_K
	orX     = linux.BPF_ALU | linux.BPF_OR | linux.BPF_X
	xorK    = linux.BPF_ALU | linux.BPF_XOR | linux.BPF_K
	xorX    = linux.BPF_ALU | linux.BPF_XOR | linux.BPF_X
	lshK    = linux.BPF_ALU | linux.BPF_LSH | linux.BPF_K
	lshX    = linux.BPF_ALU | linux.BPF_LSH | linux.BPF_X
	rshK    = linux.BPF_ALU | linux.BPF_RSH | linux.BPF_K
	rshX    = linux.BPF_ALU | linux.BPF_RSH | linux.BPF_X
	neg     = linux.BPF_ALU | linux.BPF_NEG
)

// Compile checks a filter program as Linux does when it is installed
// (seccomp_prepare_filter, bpf_check_classic, seccomp_check_filter) and
// returns it ready to run. Every refusal is EINVAL, as on Linux: an empty
// or over-long (BPF_MAXINSNS) program, an opcode classic BPF or seccomp
// does not allow (packet loads other than 32-bit absolute ones, BPF_MOD,
// BPF_MSH...), a jump past the end, a load outside struct seccomp_data or
// not 4-byte aligned, a division by a constant zero, a constant shift of
// 32 or more, a scratch-memory index beyond BPF_MEMWORDS or read before
// it is written on some path, or a last instruction that is not a return.
func Compile(insns []linux.SockFilter) (*Program, error) {
	n := len(insns)
	if n == 0 || n > linux.BPF_MAXINSNS {
		return nil, unix.EINVAL
	}
	for pc, in := range insns {
		switch in.Code {
		case ldWAbs:
			if in.K >= linux.SizeofSeccompData || in.K&3 != 0 {
				return nil, unix.EINVAL
			}
		case divK:
			if in.K == 0 {
				return nil, unix.EINVAL
			}
		case lshK, rshK:
			if in.K >= 32 {
				return nil, unix.EINVAL
			}
		case ldMem, ldxMem, st, stx:
			if in.K >= linux.BPF_MEMWORDS {
				return nil, unix.EINVAL
			}
		case ja:
			if in.K >= uint32(n-pc-1) {
				return nil, unix.EINVAL
			}
		case jeqK, jeqX, jgtK, jgtX, jgeK, jgeX, jsetK, jsetX:
			if pc+int(in.Jt)+1 >= n || pc+int(in.Jf)+1 >= n {
				return nil, unix.EINVAL
			}
		case ldWLen, ldxWLen, ldImm, ldxImm, tax, txa, retK, retA,
			addK, addX, subK, subX, mulK, mulX, divX, andK, andX, orK, orX,
			xorK, xorX, lshX, rshX, neg:
		default:
			return nil, unix.EINVAL
		}
	}
	if c := insns[n-1].Code; c != retK && c != retA {
		return nil, unix.EINVAL
	}
	if !memoryInitialized(insns) {
		return nil, unix.EINVAL
	}
	return &Program{insns: append([]linux.SockFilter(nil), insns...), kernelLn: translatedLen(insns)}, nil
}

// memoryInitialized reports whether every scratch-memory load reads a
// word stored on every path to it (Linux's check_load_and_stores).
// Jumps only go forward, so one pass in program order sees every path.
func memoryInitialized(insns []linux.SockFilter) bool {
	masks := make([]uint16, len(insns))
	for i := range masks {
		masks[i] = 0xffff
	}
	var valid uint16
	for pc, in := range insns {
		valid &= masks[pc]
		switch in.Code {
		case st, stx:
			valid |= 1 << in.K
		case ldMem, ldxMem:
			if valid&(1<<in.K) == 0 {
				return false
			}
		case ja:
			masks[pc+1+int(in.K)] &= valid
			valid = 0xffff
		case jeqK, jeqX, jgtK, jgtX, jgeK, jgeX, jsetK, jsetX:
			masks[pc+1+int(in.Jt)] &= valid
			masks[pc+1+int(in.Jf)] &= valid
			valid = 0xffff
		}
	}
	return true
}

// Run runs the program on d and returns its return value. A division by
// a zero X ends the program with 0, as Linux's does.
func (p *Program) Run(d *Data) uint32 {
	var a, x uint32
	var mem [linux.BPF_MEMWORDS]uint32
	insns := p.insns
	for pc := 0; pc < len(insns); pc++ {
		in := &insns[pc]
		k := in.K
		switch in.Code {
		case ldWAbs:
			a = d[k>>2]
		case ldWLen:
			a = linux.SizeofSeccompData
		case ldxWLen:
			x = linux.SizeofSeccompData
		case ldImm:
			a = k
		case ldxImm:
			x = k
		case ldMem:
			a = mem[k]
		case ldxMem:
			x = mem[k]
		case st:
			mem[k] = a
		case stx:
			mem[k] = x
		case tax:
			x = a
		case txa:
			a = x
		case retK:
			return k
		case retA:
			return a
		case ja:
			pc += int(k)
		case jeqK:
			pc += jump(a == k, in)
		case jeqX:
			pc += jump(a == x, in)
		case jgtK:
			pc += jump(a > k, in)
		case jgtX:
			pc += jump(a > x, in)
		case jgeK:
			pc += jump(a >= k, in)
		case jgeX:
			pc += jump(a >= x, in)
		case jsetK:
			pc += jump(a&k != 0, in)
		case jsetX:
			pc += jump(a&x != 0, in)
		case addK:
			a += k
		case addX:
			a += x
		case subK:
			a -= k
		case subX:
			a -= x
		case mulK:
			a *= k
		case mulX:
			a *= x
		case divK:
			a /= k
		case divX:
			if x == 0 {
				return 0
			}
			a /= x
		case andK:
			a &= k
		case andX:
			a &= x
		case orK:
			a |= k
		case orX:
			a |= x
		case xorK:
			a ^= k
		case xorX:
			a ^= x
		case lshK:
			a <<= k
		case lshX:
			a <<= x & 31
		case rshK:
			a >>= k
		case rshX:
			a >>= x & 31
		case neg:
			a = -a
		default:
			return 0 // not reached: Compile refuses other codes
		}
	}
	return 0 // not reached: a checked program ends with a return
}

func jump(cond bool, in *linux.SockFilter) int {
	if cond {
		return int(in.Jt)
	}
	return int(in.Jf)
}
