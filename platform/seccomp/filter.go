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
	retUserNotif   = 0x7fc00000
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

// forkCloneFlags is the zygote's clone at gate_fork: a new process, the
// sentry's child (CLONE_PARENT), sharing nothing; its exit signal is the
// zygote's (SIGCHLD).
const forkCloneFlags = unix.CLONE_PARENT

// hostClocks are the clocks moat serves from the host's (syscalls'
// clockID), which the vDSO reads through gate_time.
var hostClocks = []uint64{unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_MONOTONIC_RAW,
	unix.CLOCK_REALTIME_COARSE, unix.CLOCK_MONOTONIC_COARSE, unix.CLOCK_BOOTTIME, unix.CLOCK_TAI}

// gateRule is what one gate may call: system call numbers, each with
// optional checks of arguments (both 32-bit halves).
type gateRule struct {
	off   uintptr
	calls []gateCall
}

type gateCall struct {
	nr   uint32
	args []argCheck // all must hold
	// notify: the call goes to the sentry (retUserNotif), not the host.
	notify bool
}

// argCheck: argument idx must be one of allowed, or in one of ranges
// ([lo, hi), both below 1<<32).
type argCheck struct {
	idx     int
	allowed []uint64
	ranges  [][2]uint64
}

// call is a gateCall with no argument check; callArg one with a check of
// one argument.
func call(nr uint32) gateCall { return gateCall{nr: nr} }
func callArg(nr uint32, idx int, allowed ...uint64) gateCall {
	return gateCall{nr: nr, args: []argCheck{{idx: idx, allowed: allowed}}}
}

// mapFD is mmap's check of its fd: the memory file, or a host file the
// sentry installed (hostFDBase and up).
var mapFD = argCheck{idx: 4, allowed: []uint64{stub.MemFD}, ranges: [][2]uint64{{hostFDBase, hostFDBase + hostFDMax}}}

// gates lists every gate of handler.S and what it may do.
//
// gate_fork and gate_sys serve the zygote and its new children only: a
// child seals itself (sealFilter) before any app code runs, so app code
// that jumps to gate_fork is killed. gate_sys adds nothing an app could
// use against the host: its parent's pid, a parent-death signal that can
// only be SIGKILL, more seccomp filters on itself (which can only narrow
// what it may do; no flags, so no listener fd), and what gate_call allows.
var gates = []gateRule{
	{offGateWake, []gateCall{call(unix.SYS_FUTEX)}},
	{offGateWait, []gateCall{call(unix.SYS_FUTEX)}},
	{offGateCall, []gateCall{
		{nr: unix.SYS_MMAP, args: []argCheck{mapFD}}, // only the memory file and host files
		call(unix.SYS_MUNMAP),
		call(unix.SYS_MPROTECT),
		call(unix.SYS_ARCH_PRCTL),
		call(unix.SYS_EXIT), // a stub thread ending
	}},
	{offGateClone, []gateCall{callArg(unix.SYS_CLONE, 0, threadCloneFlags, threadCloneFlagsTLS)}},
	{offGateAltstack, []gateCall{call(unix.SYS_SIGALTSTACK)}},
	{offGateSigreturn, []gateCall{call(unix.SYS_RT_SIGRETURN)}},
	{offGateSetgs, []gateCall{callArg(unix.SYS_ARCH_PRCTL, 0, archSetGS)}},
	{offGateYield, []gateCall{call(unix.SYS_SCHED_YIELD)}},
	// The vDSO's time calls: the host's clocks, which are moat's.
	{offGateTime, []gateCall{
		callArg(unix.SYS_CLOCK_GETTIME, 0, hostClocks...),
		callArg(unix.SYS_CLOCK_GETRES, 0, hostClocks...),
		call(unix.SYS_GETTIMEOFDAY),
		call(unix.SYS_TIME),
	}},
	{offGateBatch, []gateCall{
		{nr: unix.SYS_MMAP, args: []argCheck{mapFD}},
		call(unix.SYS_MUNMAP),
		callArg(unix.SYS_ARCH_PRCTL, 0, archSetFS), // the thread's own fs base
	}},
	{offGateFork, []gateCall{callArg(unix.SYS_CLONE, 0, forkCloneFlags)}},
	{offGateSys, []gateCall{
		call(unix.SYS_GETPPID),
		{unix.SYS_PRCTL, []argCheck{{idx: 0, allowed: []uint64{unix.PR_SET_PDEATHSIG}}, {idx: 1, allowed: []uint64{uint64(unix.SIGKILL)}}}, false},
		{unix.SYS_SECCOMP, []argCheck{{idx: 0, allowed: []uint64{unix.SECCOMP_SET_MODE_FILTER}}, {idx: 1, allowed: []uint64{0}}}, false},
		callArg(unix.SYS_CLOSE, 0, listenerFD),
		call(unix.SYS_MUNMAP),
		call(unix.SYS_EXIT),
	}},
	// A host file for the stub, from the sentry (addressSpace.stubFD).
	{offGateGetfd, []gateCall{{nr: unix.SYS_GETPID, notify: true}}},
}

// asm is a tiny classic-BPF assembler with labels, so that jump offsets
// are computed, never counted by hand.
type asm struct {
	insns  []bpf.Instruction
	labels map[string]int
	jumps  map[int][2]string // instruction -> (true label, false label)
}

func (a *asm) label(l string)               { a.labels[l] = len(a.insns) }
func (a *asm) emit(i bpf.Instruction)       { a.insns = append(a.insns, i) }
func (a *asm) load(off uint32)              { a.emit(bpf.LoadAbsolute{Off: off, Size: 4}) }
func (a *asm) ret(v uint32)                 { a.emit(bpf.RetConstant{Val: v}) }
func (a *asm) jeq(v uint32, yes, no string) { a.jump(bpf.JumpEqual, v, yes, no) }
func (a *asm) jump(cond bpf.JumpTest, v uint32, yes, no string) {
	a.jumps[len(a.insns)] = [2]string{yes, no}
	a.emit(bpf.JumpIf{Cond: cond, Val: v})
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
			pass := "allow"
			if c.notify {
				pass = "notify"
			}
			if len(c.args) == 0 {
				a.jeq(c.nr, pass, "")
				continue
			}
			a.jeq(c.nr, "", next)
			for m, ac := range c.args {
				// Each check falls through to the next when one of
				// its values matches; the last passes.
				ok := fmt.Sprintf("gate%d.%d.arg%d", i, j, m+1)
				if m == len(c.args)-1 {
					ok = pass
				}
				lo, hi := dataArg0+8*uint32(ac.idx), dataArg0+8*uint32(ac.idx)+4
				for k, v := range ac.allowed {
					nextVal := fmt.Sprintf("gate%d.%d.%d.%d", i, j, m, k+1)
					a.load(lo)
					a.jeq(uint32(v), "", nextVal)
					a.load(hi)
					a.jeq(uint32(v>>32), ok, nextVal)
					a.label(nextVal)
				}
				for k, r := range ac.ranges {
					nextRange := fmt.Sprintf("gate%d.%d.%d.r%d", i, j, m, k+1)
					a.load(hi)
					a.jeq(0, "", nextRange)
					a.load(lo)
					a.jump(bpf.JumpGreaterOrEqual, uint32(r[0]), "", nextRange)
					a.jump(bpf.JumpGreaterOrEqual, uint32(r[1]), nextRange, ok)
					a.label(nextRange)
				}
				a.ret(retKillProcess)
				if ok != pass {
					a.label(ok)
				}
			}
			a.label(next)
			a.load(dataNR)
		}
		a.ret(retKillProcess)
	}
	a.label("notify")
	a.ret(retUserNotif)
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
		{unix.SYS_MMAP, gate(offGateCall), args{4: hostFDBase}, retAllow},
		{unix.SYS_MMAP, gate(offGateCall), args{4: hostFDBase + hostFDMax - 1}, retAllow},
		{unix.SYS_MMAP, gate(offGateCall), args{4: hostFDBase + hostFDMax}, retKillProcess},
		{unix.SYS_MMAP, gate(offGateCall), args{4: hostFDBase - 1}, retKillProcess},
		{unix.SYS_MMAP, gate(offGateCall), args{4: hostFDBase | 1<<32}, retKillProcess},
		{unix.SYS_MMAP, gate(offGateCall), args{4: listenerFD}, retKillProcess},
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
		{unix.SYS_CLONE, gate(offGateFork), args{0: forkCloneFlags}, retAllow},
		{unix.SYS_CLONE, gate(offGateFork), args{0: threadCloneFlags}, retKillProcess},
		{unix.SYS_CLONE, gate(offGateClone), args{0: forkCloneFlags}, retKillProcess},
		{unix.SYS_GETPPID, gate(offGateSys), args{}, retAllow},
		{unix.SYS_PRCTL, gate(offGateSys), args{unix.PR_SET_PDEATHSIG, uint64(unix.SIGKILL)}, retAllow},
		{unix.SYS_PRCTL, gate(offGateSys), args{unix.PR_SET_PDEATHSIG, 0}, retKillProcess},
		{unix.SYS_PRCTL, gate(offGateSys), args{unix.PR_SET_NO_NEW_PRIVS, uint64(unix.SIGKILL)}, retKillProcess},
		{unix.SYS_SECCOMP, gate(offGateSys), args{unix.SECCOMP_SET_MODE_FILTER, 0}, retAllow},
		{unix.SYS_SECCOMP, gate(offGateSys), args{unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER}, retKillProcess},
		{unix.SYS_SECCOMP, gate(offGateSys), args{unix.SECCOMP_SET_MODE_STRICT, 0}, retKillProcess},
		{unix.SYS_MUNMAP, gate(offGateSys), args{}, retAllow},
		{unix.SYS_EXIT, gate(offGateSys), args{}, retAllow},
		{unix.SYS_MMAP, gate(offGateSys), args{4: stub.MemFD}, retKillProcess},
		{unix.SYS_GETPPID, gate(offGateCall), args{}, retKillProcess},
		{unix.SYS_MMAP, gate(offGateBatch), args{4: stub.MemFD}, retAllow},
		{unix.SYS_MMAP, gate(offGateBatch), args{4: 3}, retKillProcess},
		{unix.SYS_MMAP, gate(offGateBatch), args{4: hostFDBase + 7}, retAllow},
		{unix.SYS_MMAP, gate(offGateBatch), args{4: hostFDBase + hostFDMax}, retKillProcess},
		{unix.SYS_GETPID, gate(offGateGetfd), args{}, retUserNotif},
		{unix.SYS_MMAP, gate(offGateGetfd), args{4: stub.MemFD}, retKillProcess},
		{unix.SYS_GETPID, gate(offGateCall), args{}, retKillProcess},
		{unix.SYS_CLOSE, gate(offGateSys), args{0: listenerFD}, retAllow},
		{unix.SYS_CLOSE, gate(offGateSys), args{0: stub.MemFD}, retKillProcess},
		{unix.SYS_CLOSE, gate(offGateCall), args{0: listenerFD}, retKillProcess},
		{unix.SYS_MUNMAP, gate(offGateBatch), args{}, retAllow},
		{unix.SYS_MPROTECT, gate(offGateBatch), args{}, retKillProcess},
		{unix.SYS_ARCH_PRCTL, gate(offGateBatch), args{archSetFS}, retAllow},
		{unix.SYS_ARCH_PRCTL, gate(offGateBatch), args{archSetGS}, retKillProcess},
		{unix.SYS_SCHED_YIELD, gate(offGateYield), args{}, retAllow},
		{unix.SYS_CLOCK_GETTIME, gate(offGateTime), args{unix.CLOCK_MONOTONIC}, retAllow},
		{unix.SYS_CLOCK_GETTIME, gate(offGateTime), args{unix.CLOCK_TAI}, retAllow},
		{unix.SYS_CLOCK_GETTIME, gate(offGateTime), args{unix.CLOCK_PROCESS_CPUTIME_ID}, retKillProcess},
		{unix.SYS_CLOCK_GETTIME, gate(offGateTime), args{unix.CLOCK_MONOTONIC | 1<<32}, retKillProcess},
		{unix.SYS_CLOCK_GETRES, gate(offGateTime), args{unix.CLOCK_REALTIME}, retAllow},
		{unix.SYS_GETTIMEOFDAY, gate(offGateTime), args{}, retAllow},
		{unix.SYS_TIME, gate(offGateTime), args{}, retAllow},
		{unix.SYS_GETPID, gate(offGateTime), args{}, retKillProcess},
		{unix.SYS_CLOCK_GETTIME, 0x401000, args{unix.CLOCK_MONOTONIC}, retTrap},
		{unix.SYS_GETPID, gate(offGateYield), args{}, retKillProcess},
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

// sealFilter returns the filter every stub the zygote forks installs on
// itself before app code runs: gate_fork, which its inherited filter
// allows, now kills it.
func sealFilter() ([]bpf.RawInstruction, error) {
	a := &asm{labels: map[string]int{}, jumps: map[int][2]string{}}
	a.load(dataIPHigh)
	a.jeq(uint32(codePage>>32), "", "allow")
	a.load(dataIPLow)
	a.jeq(uint32(codePage&0xffffffff)+uint32(offGateFork)+2, "kill", "allow")
	a.label("kill")
	a.ret(retKillProcess)
	a.label("allow")
	a.ret(retAllow)
	return a.assemble()
}

// checkSeal checks that the seal kills at gate_fork and nowhere else.
func checkSeal(prog []bpf.RawInstruction) error {
	vm, err := bpf.NewVM(mustDisassemble(prog))
	if err != nil {
		return err
	}
	for _, c := range []struct {
		ip   uint64
		want uint32
	}{
		{codePage + offGateFork + 2, retKillProcess},
		{codePage + offGateClone + 2, retAllow},
		{codePage + offGateFork + 2 + 1<<32, retAllow},
		{0x401000, retAllow},
	} {
		data := make([]byte, 64)
		binary.BigEndian.PutUint32(data[dataNR:], unix.SYS_CLONE)
		binary.BigEndian.PutUint32(data[dataArch:], auditArchX8664)
		binary.BigEndian.PutUint32(data[dataIPLow:], uint32(c.ip))
		binary.BigEndian.PutUint32(data[dataIPHigh:], uint32(c.ip>>32))
		got, err := vm.Run(data)
		if err != nil {
			return err
		}
		if uint32(got) != c.want {
			return fmt.Errorf("seal filter: clone at %#x gives %#x, want %#x", c.ip, got, c.want)
		}
	}
	return nil
}

func mustDisassemble(prog []bpf.RawInstruction) []bpf.Instruction {
	insns, _ := bpf.Disassemble(prog)
	return insns
}
