package seccomp

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"moat/platform/stub"
)

// Seccomp return actions and the x86-64 audit architecture.
const (
	retKillProcess = 0x80000000
	retTrap        = 0x00030000
	retAllow       = 0x7fff0000
	auditArchX8664 = 0xc000003e
)

// Offsets in struct seccomp_data.
const (
	dataNR     = 0
	dataArch   = 4
	dataIPLow  = 8
	dataIPHigh = 12
	dataArg0   = 16
)

// Host thread flags the platform's clone gate may use: a new thread of
// the stub, optionally with its own TLS, clearing a word in its sysmsg when
// it exits (so the slot can be reused).
const (
	threadCloneFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
		unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_CHILD_CLEARTID
	threadCloneFlagsTLS = threadCloneFlags | unix.CLONE_SETTLS
)

// gateRule is what one gate may call: system call numbers, each with an
// optional check of one argument's 32-bit halves.
type gateRule struct {
	off   uintptr
	calls []gateCall
}

type gateCall struct {
	nr      uint32
	argIdx  int      // -1: no argument check
	allowed []uint64 // values the argument may have
}

// gates lists every gate of handler.S and what it may do.
var gates = []gateRule{
	{offGateWake, []gateCall{{unix.SYS_FUTEX, -1, nil}}},
	{offGateWait, []gateCall{{unix.SYS_FUTEX, -1, nil}}},
	{offGateCall, []gateCall{
		{unix.SYS_MMAP, 4, []uint64{stub.MemFD}}, // only the memory file
		{unix.SYS_MUNMAP, -1, nil},
		{unix.SYS_MPROTECT, -1, nil},
		{unix.SYS_ARCH_PRCTL, -1, nil},
		{unix.SYS_EXIT, -1, nil}, // a stub thread ending
	}},
	{offGateClone, []gateCall{{unix.SYS_CLONE, 0, []uint64{threadCloneFlags, threadCloneFlagsTLS}}}},
	{offGateAltstack, []gateCall{{unix.SYS_SIGALTSTACK, -1, nil}}},
	{offGateSigreturn, []gateCall{{unix.SYS_RT_SIGRETURN, -1, nil}}},
	{offGateSetgs, []gateCall{{unix.SYS_ARCH_PRCTL, 0, []uint64{archSetGS}}}},
}

// asm is a tiny classic-BPF assembler with labels, so that jump offsets
// are computed, never counted by hand.
type asm struct {
	insns  []bpf.Instruction
	labels map[string]int
	jumps  map[int][2]string // instruction -> (true label, false label)
}

func (a *asm) label(l string)         { a.labels[l] = len(a.insns) }
func (a *asm) emit(i bpf.Instruction) { a.insns = append(a.insns, i) }
func (a *asm) load(off uint32)        { a.emit(bpf.LoadAbsolute{Off: off, Size: 4}) }
func (a *asm) ret(v uint32)           { a.emit(bpf.RetConstant{Val: v}) }
func (a *asm) jeq(v uint32, yes, no string) {
	a.jumps[len(a.insns)] = [2]string{yes, no}
	a.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: v})
}

func (a *asm) assemble() ([]bpf.RawInstruction, error) {
	for i, j := range a.jumps {
		ji := a.insns[i].(bpf.JumpIf)
		for k, l := range j {
			if l == "" {
				continue // fall through
			}
			t, ok := a.labels[l]
			if !ok || t <= i || t-i-1 > 255 {
				return nil, fmt.Errorf("stub filter: bad jump to %q", l)
			}
			if k == 0 {
				ji.SkipTrue = uint8(t - i - 1)
			} else {
				ji.SkipFalse = uint8(t - i - 1)
			}
		}
		a.insns[i] = ji
	}
	return bpf.Assemble(a.insns)
}

// stubFilter returns the stub's seccomp filter. Every system call traps
// (SIGSYS into the handler) except those made from the code page's gates,
// each of which may make only its own calls; anything else from a gate
// kills the stub. App code that jumps to a gate can therefore do no more
// than the platform itself.
func stubFilter() ([]bpf.RawInstruction, error) {
	a := &asm{labels: map[string]int{}, jumps: map[int][2]string{}}
	a.load(dataArch)
	a.jeq(auditArchX8664, "", "trap")
	a.load(dataIPHigh)
	a.jeq(uint32(codePage>>32), "", "trap")
	a.load(dataIPLow)
	for i, g := range gates {
		a.jeq(uint32(codePage&0xffffffff)+uint32(g.off)+2, fmt.Sprintf("gate%d", i), "") // seccomp sees rip after the syscall
	}
	a.label("trap")
	a.ret(retTrap)
	for i, g := range gates {
		a.label(fmt.Sprintf("gate%d", i))
		a.load(dataNR)
		for j, c := range g.calls {
			next := fmt.Sprintf("gate%d.%d", i, j+1)
			if c.argIdx < 0 {
				a.jeq(c.nr, "allow", "")
				continue
			}
			a.jeq(c.nr, "", next)
			for k, v := range c.allowed {
				nextVal := fmt.Sprintf("gate%d.%d.%d", i, j, k+1)
				a.load(dataArg0 + 8*uint32(c.argIdx))
				a.jeq(uint32(v), "", nextVal)
				a.load(dataArg0 + 8*uint32(c.argIdx) + 4)
				a.jeq(uint32(v>>32), "allow", nextVal)
				a.label(nextVal)
			}
			a.ret(retKillProcess)
			a.label(next)
			a.load(dataNR)
		}
		a.ret(retKillProcess)
	}
	a.label("allow")
	a.ret(retAllow)
	return a.assemble()
}

// encodeFilter lays out a filter as struct sock_filter[].
func encodeFilter(prog []bpf.RawInstruction) []byte {
	b := make([]byte, 8*len(prog))
	for i, in := range prog {
		binary.LittleEndian.PutUint16(b[8*i:], in.Op)
		b[8*i+2] = in.Jt
		b[8*i+3] = in.Jf
		binary.LittleEndian.PutUint32(b[8*i+4:], in.K)
	}
	return b
}

// checkFilter runs the filter on representative calls: a wrong rule
// would silently allow or kill the wrong calls, so the platform refuses to
// start with one.
func checkFilter(prog []bpf.RawInstruction) error {
	vm, err := bpf.NewVM(mustDisassemble(prog))
	if err != nil {
		return err
	}
	gate := func(off uintptr) uint64 { return uint64(codePage + off + 2) }
	type args = [6]uint64
	cases := []struct {
		nr   uint32
		ip   uint64
		a    args
		want uint32
	}{
		{unix.SYS_GETPID, 0x401000, args{}, retTrap},
		{unix.SYS_FUTEX, 0x401000, args{}, retTrap},
		{unix.SYS_FUTEX, gate(offGateWake), args{}, retAllow},
		{unix.SYS_FUTEX, gate(offGateWait), args{}, retAllow},
		{unix.SYS_GETPID, gate(offGateWait), args{}, retKillProcess},
		{unix.SYS_MMAP, gate(offGateCall), args{4: stub.MemFD}, retAllow},
		{unix.SYS_MMAP, gate(offGateCall), args{4: 5}, retKillProcess},
		{unix.SYS_MMAP, gate(offGateCall), args{4: 1 << 32}, retKillProcess},
		{unix.SYS_MUNMAP, gate(offGateCall), args{}, retAllow},
		{unix.SYS_MPROTECT, gate(offGateCall), args{}, retAllow},
		{unix.SYS_ARCH_PRCTL, gate(offGateCall), args{}, retAllow},
		{unix.SYS_EXIT, gate(offGateCall), args{}, retAllow},
		{unix.SYS_OPENAT, gate(offGateCall), args{}, retKillProcess},
		{unix.SYS_CLONE, gate(offGateCall), args{0: threadCloneFlags}, retKillProcess},
		{unix.SYS_CLONE, gate(offGateClone), args{0: threadCloneFlags}, retAllow},
		{unix.SYS_CLONE, gate(offGateClone), args{0: threadCloneFlagsTLS}, retAllow},
		{unix.SYS_CLONE, gate(offGateClone), args{0: uint64(unix.SIGCHLD)}, retKillProcess},
		{unix.SYS_CLONE, gate(offGateClone), args{0: threadCloneFlags | 1<<32}, retKillProcess},
		{unix.SYS_EXECVE, gate(offGateClone), args{}, retKillProcess},
		{unix.SYS_SIGALTSTACK, gate(offGateAltstack), args{}, retAllow},
		{unix.SYS_CLONE, gate(offGateAltstack), args{0: threadCloneFlags}, retKillProcess},
		{unix.SYS_RT_SIGRETURN, gate(offGateSigreturn), args{}, retAllow},
		{unix.SYS_EXECVE, gate(offGateSigreturn), args{}, retKillProcess},
		{unix.SYS_RT_SIGRETURN, gate(offInject), args{}, retTrap},
		{unix.SYS_ARCH_PRCTL, gate(offGateSetgs), args{0: archSetGS}, retAllow},
		{unix.SYS_ARCH_PRCTL, gate(offGateSetgs), args{0: 0x1002}, retKillProcess},
		{unix.SYS_MMAP, gate(offGateSetgs), args{4: stub.MemFD}, retKillProcess},
		{unix.SYS_FUTEX, uint64(codePage + offTrampEntry + 2), args{}, retTrap},
		{unix.SYS_GETPID, uint64(codePage + offTrampTail + 2), args{}, retTrap},
		{unix.SYS_FUTEX, gate(offGateWake) + 1<<32, args{}, retTrap},
	}
	for _, c := range cases {
		// The kernel loads seccomp_data's 32-bit words in host order;
		// x/net/bpf's VM loads big-endian, so each word is stored
		// big-endian here to be seen as the kernel sees it.
		data := make([]byte, 64)
		put := func(off int, v uint32) { binary.BigEndian.PutUint32(data[off:], v) }
		put(dataNR, c.nr)
		put(dataArch, auditArchX8664)
		put(dataIPLow, uint32(c.ip))
		put(dataIPHigh, uint32(c.ip>>32))
		for i, v := range c.a {
			put(dataArg0+8*i, uint32(v))
			put(dataArg0+8*i+4, uint32(v>>32))
		}
		got, err := vm.Run(data)
		if err != nil {
			return err
		}
		if uint32(got) != c.want {
			return fmt.Errorf("stub filter: syscall %d at %#x with %v gives %#x, want %#x", c.nr, c.ip, c.a, got, c.want)
		}
	}
	return nil
}

func mustDisassemble(prog []bpf.RawInstruction) []bpf.Instruction {
	insns, _ := bpf.Disassemble(prog)
	return insns
}
