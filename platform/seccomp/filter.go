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

// stubFilter returns the stub's seccomp filter. Every system call traps
// (SIGSYS into the handler) except those made from the code page's gates,
// each of which may make only its own calls; anything else from a gate
// kills the stub. App code that jumps to a gate can therefore do no more
// than the platform itself: futex, rt_sigreturn, arch_prctl, munmap,
// mprotect, and mmap of the memory file.
func stubFilter() ([]bpf.RawInstruction, error) {
	gate := func(off uint32) uint32 { return uint32(codePage&0xffffffff) + off + 2 } // seccomp sees rip after the syscall
	insns := []bpf.Instruction{
		/* 0 */ bpf.LoadAbsolute{Off: dataArch, Size: 4},
		/* 1 */ bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: auditArchX8664, SkipTrue: 7}, // → trap
		/* 2 */ bpf.LoadAbsolute{Off: dataIPHigh, Size: 4},
		/* 3 */ bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(codePage >> 32), SkipTrue: 5}, // → trap
		/* 4 */ bpf.LoadAbsolute{Off: dataIPLow, Size: 4},
		/* 5 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: gate(offGateWake), SkipTrue: 4}, // → futex
		/* 6 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: gate(offGateWait), SkipTrue: 3}, // → futex
		/* 7 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: gate(offGateCall), SkipTrue: 5}, // → call
		/* 8 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: gate(offGateSigreturn), SkipTrue: 16}, // → sigreturn
		/* 9 */ bpf.RetConstant{Val: retTrap},
		// futex:
		/* 10 */ bpf.LoadAbsolute{Off: dataNR, Size: 4},
		/* 11 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_FUTEX, SkipTrue: 12}, // → allow
		/* 12 */ bpf.RetConstant{Val: retKillProcess},
		// call (the sentry's requests):
		/* 13 */ bpf.LoadAbsolute{Off: dataNR, Size: 4},
		/* 14 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_MUNMAP, SkipTrue: 9},
		/* 15 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_MPROTECT, SkipTrue: 8},
		/* 16 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_ARCH_PRCTL, SkipTrue: 7},
		/* 17 */ bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.SYS_MMAP, SkipTrue: 5}, // → kill
		/* 18 */ bpf.LoadAbsolute{Off: dataArg0 + 4*8, Size: 4}, // mmap's fd, low half
		/* 19 */ bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: stub.MemFD, SkipTrue: 3}, // → kill
		/* 20 */ bpf.LoadAbsolute{Off: dataArg0 + 4*8 + 4, Size: 4}, // high half
		/* 21 */ bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0, SkipTrue: 1}, // → kill
		/* 22 */ bpf.RetConstant{Val: retAllow},
		/* 23 */ bpf.RetConstant{Val: retKillProcess},
		// allow:
		/* 24 */ bpf.RetConstant{Val: retAllow},
		// sigreturn:
		/* 25 */ bpf.LoadAbsolute{Off: dataNR, Size: 4},
		/* 26 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_RT_SIGRETURN, SkipTrue: 1},
		/* 27 */ bpf.RetConstant{Val: retKillProcess},
		/* 28 */ bpf.RetConstant{Val: retAllow},
	}
	return bpf.Assemble(insns)
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

// checkFilter verifies the filter's jump targets: a wrong skip count would
// silently allow or kill the wrong calls, so the platform refuses to start
// with one.
func checkFilter(prog []bpf.RawInstruction) error {
	vm, err := bpf.NewVM(mustDisassemble(prog))
	if err != nil {
		return err
	}
	gate := func(off uintptr) uint64 { return uint64(codePage + off + 2) }
	cases := []struct {
		nr   uint32
		ip   uint64
		arg4 uint64
		want uint32
	}{
		{unix.SYS_GETPID, 0x401000, 0, retTrap},
		{unix.SYS_FUTEX, 0x401000, 0, retTrap},
		{unix.SYS_FUTEX, gate(offGateWake), 0, retAllow},
		{unix.SYS_FUTEX, gate(offGateWait), 0, retAllow},
		{unix.SYS_GETPID, gate(offGateWait), 0, retKillProcess},
		{unix.SYS_MMAP, gate(offGateCall), stub.MemFD, retAllow},
		{unix.SYS_MMAP, gate(offGateCall), 5, retKillProcess},
		{unix.SYS_MMAP, gate(offGateCall), 1 << 32, retKillProcess},
		{unix.SYS_MUNMAP, gate(offGateCall), 0, retAllow},
		{unix.SYS_MPROTECT, gate(offGateCall), 0, retAllow},
		{unix.SYS_ARCH_PRCTL, gate(offGateCall), 0, retAllow},
		{unix.SYS_OPENAT, gate(offGateCall), 0, retKillProcess},
		{unix.SYS_RT_SIGRETURN, gate(offGateSigreturn), 0, retAllow},
		{unix.SYS_EXECVE, gate(offGateSigreturn), 0, retKillProcess},
		{unix.SYS_RT_SIGRETURN, gate(offInject), 0, retTrap},
		{unix.SYS_FUTEX, gate(offGateWake) + 1<<32, 0, retTrap},
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
		put(dataArg0+4*8, uint32(c.arg4))
		put(dataArg0+4*8+4, uint32(c.arg4>>32))
		got, err := vm.Run(data)
		if err != nil {
			return err
		}
		if uint32(got) != c.want {
			return fmt.Errorf("stub filter: syscall %d at %#x gives %#x, want %#x", c.nr, c.ip, got, c.want)
		}
	}
	return nil
}

func mustDisassemble(prog []bpf.RawInstruction) []bpf.Instruction {
	insns, _ := bpf.Disassemble(prog)
	return insns
}
