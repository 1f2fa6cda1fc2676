package seccomp

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"moat/memory"
	"moat/platform"
	"moat/platform/platformtest"
	"moat/platform/stub"
)

// newTestSpace returns the platform, an address space and the memory
// file; the test goroutine stays locked to its thread.
func newTestSpace(t *testing.T) (*Platform, platform.AddressSpace, *memory.File) {
	return platformtest.Space(t, newOnFile)
}

// newOnFile is New for platformtest, on a *memory.File.
func newOnFile(mf *memory.File, code platform.FileRange) (*Platform, error) { return New(mf, code) }

const base = 0x10000000

func TestFilter(t *testing.T) {
	prog, err := stubFilter()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkFilter(prog); err != nil {
		t.Fatal(err)
	}
}

func TestSyscallFaultAndResume(t *testing.T) {
	p, as, mf := newTestSpace(t)
	// mov eax, 39; syscall; mov [0x20000000], eax (write fault); mov eax, 60; syscall
	code := []byte{
		0xb8, 39, 0, 0, 0,
		0x0f, 0x05,
		0x89, 0x04, 0x25, 0x00, 0x00, 0x00, 0x20,
		0xb8, 60, 0, 0, 0,
		0x0f, 0x05,
	}
	platformtest.MapPage(t, mf, as, base, code, platform.AnyAccess)
	ctx := p.NewContext()
	regs := p.InitialRegisters(base, 0)
	regs.Fs_base = 0x1234000
	ev, err := ctx.Switch(as, &regs)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != platform.EventSyscall || regs.Orig_rax != 39 || regs.Rip != base+7 {
		t.Fatalf("got %v orig_rax=%d rip=%#x, want getpid stop at %#x", ev, regs.Orig_rax, regs.Rip, base+7)
	}
	regs.Rax = 0x5a
	ev, err = ctx.Switch(as, &regs)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != platform.EventFault || ev.Addr != 0x20000000 || !ev.Access.Write || ev.Access.Execute {
		t.Fatalf("got %v, want a write fault at 0x20000000 (the error code is exact on this platform)", ev)
	}
	// Map the page (a request through sysmsg while the stub waits) and
	// resume: the store completes, then exit traps.
	fr, _ := mf.Allocate(memory.PageSize)
	if err := as.MapFile(0x20000000, fr, platform.ReadWrite); err != nil {
		t.Fatal(err)
	}
	ev, err = ctx.Switch(as, &regs)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != platform.EventSyscall || regs.Orig_rax != 60 {
		t.Fatalf("got %v orig_rax=%d, want the exit syscall", ev, regs.Orig_rax)
	}
	if got := binary.LittleEndian.Uint32(mf.Bytes(fr)); got != 0x5a {
		t.Fatalf("stored %#x, want 0x5a: the result written into the frame did not reach rax", got)
	}
	if regs.Fs_base != 0x1234000 {
		t.Errorf("fs_base = %#x, want 0x1234000", regs.Fs_base)
	}
}

func TestExecFault(t *testing.T) {
	p, as, mf := newTestSpace(t)
	// jmp to 0x30000000, which is mapped without execute permission.
	code := []byte{0x48, 0xb8, 0, 0, 0, 0x30, 0, 0, 0, 0, 0xff, 0xe0} // movabs rax, 0x30000000; jmp rax
	platformtest.MapPage(t, mf, as, base, code, platform.AnyAccess)
	platformtest.MapPage(t, mf, as, 0x30000000, []byte{0x90}, platform.ReadWrite)
	ctx := p.NewContext()
	regs := p.InitialRegisters(base, 0)
	ev, err := ctx.Switch(as, &regs)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != platform.EventFault || ev.Addr != 0x30000000 || !ev.Access.Execute {
		t.Fatalf("got %v, want an execute fault at 0x30000000", ev)
	}
}

func TestFPState(t *testing.T) {
	p, as, mf := newTestSpace(t)
	platformtest.FPState(t, p, as, mf)
}

// TestGatesAreNarrow jumps from app code into the handler's gates with
// system calls the platform never makes there, or (gate_fork) that only
// the zygote may make: the filters must kill the stub.
func TestGatesAreNarrow(t *testing.T) {
	cases := []struct {
		name     string
		gate     uintptr
		nr       uint32
		rdi, rsi uint32
		r8       uint32 // mmap's fd
	}{
		{"getpid at the call gate", offGateCall, unix.SYS_GETPID, 0, 0, 0},
		{"openat at the call gate", offGateCall, unix.SYS_OPENAT, 0, 0, 0},
		{"mmap of another fd at the call gate", offGateCall, unix.SYS_MMAP, 0, 0, 3},
		{"execve at the futex gate", offGateWake, unix.SYS_EXECVE, 0, 0, 0},
		{"kill at the sigreturn gate", offGateSigreturn, unix.SYS_KILL, 0, 0, 0},
		{"a stub's fork at the fork gate", offGateFork, unix.SYS_CLONE, unix.CLONE_PARENT, 0, 0},
		{"mprotect at the batch gate", offGateBatch, unix.SYS_MPROTECT, 0, 0, 0},
		{"no parent-death signal at the sys gate", offGateSys, unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, 0, 0},
		{"a seccomp listener at the sys gate", offGateSys, unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, as, mf := newTestSpace(t)
			gate := uint64(codePage + c.gate)
			// mov eax, nr; mov edi, rdi; mov esi, rsi; mov r8d, fd;
			// movabs rcx, gate; jmp rcx
			code := []byte{0xb8, 0, 0, 0, 0, 0xbf, 0, 0, 0, 0, 0xbe, 0, 0, 0, 0, 0x41, 0xb8, 0, 0, 0, 0,
				0x48, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xe1}
			binary.LittleEndian.PutUint32(code[1:], c.nr)
			binary.LittleEndian.PutUint32(code[6:], c.rdi)
			binary.LittleEndian.PutUint32(code[11:], c.rsi)
			binary.LittleEndian.PutUint32(code[17:], c.r8)
			binary.LittleEndian.PutUint64(code[23:], gate) // the gate label is the syscall instruction
			platformtest.MapPage(t, mf, as, base, code, platform.AnyAccess)
			ctx := p.NewContext()
			regs := p.InitialRegisters(base, 0)
			ev, err := ctx.Switch(as, &regs)
			if err != platform.ErrAddressSpaceDead {
				t.Fatalf("Switch = %v, %v; want the stub killed by its filter", ev, err)
			}
		})
	}
}

// statFields returns the fields of /proc/PROC/stat after the command
// name (pid (comm) state ppid ...): the state is the first.
func statFields(proc string) ([]string, error) {
	b, err := os.ReadFile("/proc/" + proc + "/stat")
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])), nil
}

// TestForkedStub checks what a stub forked from the zygote is: the
// sentry's own child, holding no file but the memory file; and that the
// zygote goes with the last address space.
func TestForkedStub(t *testing.T) {
	p, as, _ := newTestSpace(t)
	pid := as.(*addressSpace).s.PID
	f, err := statFields(strconv.Itoa(pid))
	if err != nil {
		t.Fatal(err)
	}
	if ppid, _ := strconv.Atoi(f[1]); ppid != os.Getpid() {
		t.Errorf("stub's parent is %d, want the sentry (%d)", ppid, os.Getpid())
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	if len(fds) != 1 || fds[0].Name() != strconv.Itoa(stub.MemFD) {
		var names []string
		for _, fd := range fds {
			names = append(names, fd.Name())
		}
		t.Errorf("stub's fds %v, want only the memory file (%d)", names, stub.MemFD)
	}
	p.zmu.Lock()
	z := p.zygote
	p.zmu.Unlock()
	if z == nil {
		t.Fatal("no zygote while an address space lives")
	}
	as.Release()
	p.zmu.Lock()
	if p.zygote != nil || p.keeper != nil || p.spare != nil {
		t.Error("the zygote or the spare outlived the last address space")
	}
	p.zmu.Unlock()
	platformtest.ReleaseKillsStub(t, z.as, z.as.s.PID)
}

// TestBatchedOps queues mappings and an unmapping, which the stub runs
// before the app's next instruction, and a mapping the host refuses,
// which fails the next Switch.
func TestBatchedOps(t *testing.T) {
	p, as, mf := newTestSpace(t)
	// mov eax, [base+0x1000]; mov eax, [base+0x2000]; mov eax, 60; syscall
	code := []byte{0x8b, 0x04, 0x25, 0, 0, 0, 0, 0x8b, 0x04, 0x25, 0, 0, 0, 0, 0xb8, 60, 0, 0, 0, 0x0f, 0x05}
	binary.LittleEndian.PutUint32(code[3:], base+0x1000)
	binary.LittleEndian.PutUint32(code[10:], base+0x2000)
	platformtest.MapPage(t, mf, as, base, code, platform.AnyAccess)
	platformtest.MapPage(t, mf, as, base+0x1000, []byte{1}, platform.Read)
	platformtest.MapPage(t, mf, as, base+0x2000, []byte{2}, platform.Read)
	if err := as.Unmap(base+0x2000, 0x1000); err != nil {
		t.Fatal(err)
	}
	th, err := as.(*addressSpace).current()
	if err != nil {
		t.Fatal(err)
	}
	// The unmap covers the last map, which is dropped (queue).
	if n := binary.LittleEndian.Uint32(th.msg[offBatchN:]); n != 3 {
		t.Fatalf("%d operations queued, want 3", n)
	}
	ctx := p.NewContext()
	regs := p.InitialRegisters(base, 0)
	ev, err := ctx.Switch(as, &regs)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != platform.EventFault || ev.Addr != base+0x2000 {
		t.Fatalf("got %+v, want a fault at the unmapped page %#x", ev, base+0x2000)
	}
	// A mapping at an unaligned address: EINVAL, reported by the Switch
	// that ran it.
	if err := as.MapFile(base+0x2001, platform.FileRange{Offset: 0, Length: 0x1000}, platform.Read); err != nil {
		t.Fatal(err)
	}
	if _, err := ctx.Switch(as, &regs); err == nil || !strings.Contains(err.Error(), "invalid argument") {
		t.Fatalf("Switch = %v, want the queued mapping's EINVAL", err)
	}
}

// TestQueueDropsCovered: a queued map or unmap drops the maps and unmaps
// before it whose range it covers, and nothing else; the sentry's copy of
// the batch decides, and only while the stub's count agrees with it.
func TestQueueDropsCovered(t *testing.T) {
	th := &thread{msg: make([]byte, offGregs)}
	mmap := func(a, b uint64) batchOp { return batchOp{nr: unix.SYS_MMAP, prot: 1, a: a, b: b, c: a} }
	unmap := func(a, b uint64) batchOp { return batchOp{nr: unix.SYS_MUNMAP, a: a, b: b} }
	setFS := batchOp{nr: unix.SYS_ARCH_PRCTL, a: archSetFS, b: 0x1234}
	queued := func() []batchOp {
		n := binary.LittleEndian.Uint32(th.msg[offBatchN:])
		var ops []batchOp
		for i := uint32(0); i < n; i++ {
			e := th.msg[offBatch+i*batchEntry:]
			ops = append(ops, batchOp{binary.LittleEndian.Uint16(e), binary.LittleEndian.Uint16(e[2:]), binary.LittleEndian.Uint32(e[4:]),
				binary.LittleEndian.Uint64(e[8:]), binary.LittleEndian.Uint64(e[16:]), binary.LittleEndian.Uint64(e[24:])})
		}
		return ops
	}
	queue := func(ops ...batchOp) {
		for _, o := range ops {
			if !th.queue(o) {
				t.Fatal("no room")
			}
		}
	}
	check := func(what string, want ...batchOp) {
		t.Helper()
		if got := queued(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: batch %v, want %v", what, got, want)
		}
	}
	const x = 0x10000000
	queue(mmap(x, 0x2000), setFS, mmap(x+0x1000, 0x1000), unmap(x, 0x4000))
	check("covered maps", setFS, unmap(x, 0x4000))
	queue(mmap(x, 0x1000), mmap(x+0x3000, 0x2000))
	check("partly covered unmap", setFS, unmap(x, 0x4000), mmap(x, 0x1000), mmap(x+0x3000, 0x2000))

	// The stub ran the batch: nothing before it counts.
	binary.LittleEndian.PutUint32(th.msg[offBatchN:], 0)
	queue(mmap(x, 0x2000))
	check("after a drain", mmap(x, 0x2000))

	// A count the sentry did not write: append, drop nothing.
	binary.LittleEndian.PutUint32(th.msg[offBatchN:], 2)
	queue(mmap(x, 0x10000))
	if got := queued(); len(got) != 3 || got[2] != mmap(x, 0x10000) {
		t.Fatalf("after a forged count: batch %v, want the call appended as the third", got)
	}

	// Ranges that only touch, or wrap, are not covered.
	if o := mmap(x, 0x1000); o.covers(mmap(x+0x1000, 0x1000)) || o.covers(mmap(x-0x1000, 0x1000)) || o.covers(mmap(x, 0x2000)) {
		t.Fatal("covers a range it does not hold")
	}
	if o := mmap(1<<63, 1<<63); o.covers(mmap(0, 0x1000)) || !o.covers(mmap(1<<63+0x1000, 0x1000)) {
		t.Fatal("covers got the top of the address space wrong")
	}
}

func TestReleaseKillsStub(t *testing.T) {
	_, as, _ := newTestSpace(t)
	platformtest.ReleaseKillsStub(t, as, as.(*addressSpace).s.PID)
}

// TestHandOffSleepers resumes a stub that has stopped spinning and sleeps
// (its sleeping bit set in the state word), and one the sentry told to
// sleep at once because its call blocks (Blocking).
func TestHandOffSleepers(t *testing.T) {
	p, as, mf := newTestSpace(t)
	// mov eax, 39; syscall (four times); mov eax, 60; syscall
	getpid := []byte{0xb8, 39, 0, 0, 0, 0x0f, 0x05}
	var code []byte
	for i := 0; i < 4; i++ {
		code = append(code, getpid...)
	}
	code = append(code, 0xb8, 60, 0, 0, 0, 0x0f, 0x05)
	platformtest.MapPage(t, mf, as, base, code, platform.AnyAccess)
	ctx := p.NewContext()
	regs := p.InitialRegisters(base, 0)
	want := func(nr uint64) {
		t.Helper()
		ev, err := ctx.Switch(as, &regs)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind != platform.EventSyscall || regs.Orig_rax != nr {
			t.Fatalf("got %v orig_rax=%d, want system call %d", ev, regs.Orig_rax, nr)
		}
	}
	want(39)
	want(39) // resumed from a first call that was quick: the stub spins
	th, err := as.(*addressSpace).current()
	if err != nil {
		t.Fatal(err)
	}
	// The stub spins at most stubSpin pauses, then marks itself asleep.
	deadline := time.Now().Add(5 * time.Second)
	for loadState(th.msg) != stEvent|stSleeping {
		if time.Now().After(deadline) {
			t.Fatalf("state %#x, want the stub asleep (%#x)", loadState(th.msg), stEvent|stSleeping)
		}
		time.Sleep(time.Millisecond)
	}
	want(39)
	ctx.(platform.Blocker).Blocking()
	if spin := binary.LittleEndian.Uint32(th.msg[offSpin:]); spin != 0 {
		t.Fatalf("spin word %d after Blocking, want 0", spin)
	}
	// The stub sleeps at once; Unblocked wakes it to spin: it clears the
	// sleeping mark, and the stub marks itself asleep again only once
	// its spin is over.
	asleep := func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for loadState(th.msg) != stEvent|stSleeping {
			if time.Now().After(deadline) {
				t.Fatalf("state %#x, want the stub asleep (%#x)", loadState(th.msg), stEvent|stSleeping)
			}
			time.Sleep(time.Millisecond)
		}
	}
	asleep()
	ctx.(platform.Blocker).Unblocked()
	if spin := binary.LittleEndian.Uint32(th.msg[offSpin:]); spin != stubSpin {
		t.Fatalf("spin word %d after Unblocked, want %d", spin, stubSpin)
	}
	if st := loadState(th.msg); st != stEvent && st != stEvent|stSleeping {
		t.Fatalf("state %#x after Unblocked", st)
	}
	asleep() // woken: it spun, then slept again
	want(39)
	want(60)
}

// TestCheckChild: a pid the zygote reports is accepted only if it names a
// child of the sentry.
func TestCheckChild(t *testing.T) {
	if err := checkChild(os.Getppid()); err == nil {
		t.Errorf("checkChild(parent) = nil, want an error")
	}
	if err := checkChild(1); err == nil {
		t.Errorf("checkChild(1) = nil, want an error")
	}
	cmd := exec.Command("/bin/sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Skipf("no /bin/sleep to start a child: %v", err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	if err := checkChild(cmd.Process.Pid); err != nil {
		t.Errorf("checkChild(a child) = %v, want nil", err)
	}
}

// TestHandlerCodeLinked: no RIP-relative lea in the code page was left
// with a zero displacement, as an unlinked object's relocations leave one
// (gen.sh links handler.S for that reason; before it did, the kick checks
// compared against the next instruction's address).
func TestHandlerCodeLinked(t *testing.T) {
	c := handlerCode
	for i := 0; i+7 <= len(c); i++ {
		if (c[i] == 0x48 || c[i] == 0x4c) && c[i+1] == 0x8d && c[i+2]&0xc7 == 0x05 &&
			c[i+3] == 0 && c[i+4] == 0 && c[i+5] == 0 && c[i+6] == 0 {
			t.Errorf("lea with a zero RIP-relative displacement at %#x", i)
		}
	}
}

// TestFSBaseQueued: a new fs base goes in the batch with the mappings and
// is the thread's by its first instruction.
func TestFSBaseQueued(t *testing.T) {
	p, as, mf := newTestSpace(t)
	// mov rbx, fs:[0]; mov eax, 39; syscall
	code := []byte{0x64, 0x48, 0x8b, 0x1c, 0x25, 0, 0, 0, 0, 0xb8, 39, 0, 0, 0, 0x0f, 0x05}
	platformtest.MapPage(t, mf, as, base, code, platform.AnyAccess)
	data := make([]byte, 8)
	binary.LittleEndian.PutUint64(data, 0x1122334455667788)
	platformtest.MapPage(t, mf, as, base+0x3000, data, platform.Read)
	ctx := p.NewContext()
	regs := p.InitialRegisters(base, 0)
	regs.Fs_base = base + 0x3000
	ev, err := ctx.Switch(as, &regs)
	if err != nil || ev.Kind != platform.EventSyscall {
		t.Fatalf("Switch = %+v, %v", ev, err)
	}
	if regs.Rbx != 0x1122334455667788 {
		t.Fatalf("fs:[0] read %#x, want the page at the new fs base", regs.Rbx)
	}
}

// TestZygoteReplaced: a zygote that died (killed from outside) is
// replaced, and new address spaces still start.
func TestZygoteReplaced(t *testing.T) {
	p, _, _ := newTestSpace(t)
	p.zmu.Lock()
	zpid := p.zygote.as.s.PID
	p.zmu.Unlock()
	if err := unix.Kill(zpid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // the spare, then forks from a new zygote
		as, err := p.NewAddressSpace()
		if err != nil {
			t.Fatalf("NewAddressSpace %d after the zygote died: %v", i, err)
		}
		defer as.Release()
	}
	p.zmu.Lock()
	defer p.zmu.Unlock()
	if p.zygote == nil || p.zygote.as.s.PID == zpid {
		t.Errorf("the dead zygote (%d) was not replaced", zpid)
	}
}

// TestFirstSwitchSpins: a thread's first switch ends no call of its own
// (what came before it, the rest of an exec or a clone, is no handling
// time), so the stub is told to spin for the reply to its first calls,
// however long the address space waited for that switch.
func TestFirstSwitchSpins(t *testing.T) {
	p, as, mf := newTestSpace(t)
	// mov eax, 39; syscall; mov eax, 60; syscall
	code := []byte{0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xb8, 60, 0, 0, 0, 0x0f, 0x05}
	platformtest.MapPage(t, mf, as, base, code, platform.AnyAccess)
	time.Sleep(30 * time.Millisecond) // the exec's rest, say
	ctx := p.NewContext()
	regs := p.InitialRegisters(base, 0)
	if ev, err := ctx.Switch(as, &regs); err != nil || ev.Kind != platform.EventSyscall {
		t.Fatalf("first switch: %v, %v", ev, err)
	}
	th, err := as.(*addressSpace).current()
	if err != nil {
		t.Fatal(err)
	}
	if spin := binary.LittleEndian.Uint32(th.msg[offSpin:]); spin != stubSpin {
		t.Fatalf("spin word %d for the first call's reply, want %d", spin, stubSpin)
	}
	if th.handling >= spinWorthIt {
		t.Fatalf("handling time %v after the first switch", th.handling)
	}
}

// newTestPlatform returns a platform with no address space yet; the test
// goroutine stays locked to its thread.
func newTestPlatform(t *testing.T) *Platform {
	p, _ := platformtest.Platform(t, newOnFile)
	return p
}

// TestPrestart: the address space Prestart forks in the background is the
// one the first NewAddressSpace hands out, and a Prestart after the
// sandbox has ended (its last address space released) starts nothing.
func TestPrestart(t *testing.T) {
	p := newTestPlatform(t)
	p.Prestart()
	spare := func() *addressSpace {
		p.zmu.Lock()
		defer p.zmu.Unlock()
		return p.spare
	}
	deadline := time.Now().Add(10 * time.Second)
	for spare() == nil {
		if time.Now().After(deadline) {
			t.Fatal("Prestart forked no address space in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	pre := spare()
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	if as != pre {
		t.Error("the first NewAddressSpace did not hand out the prestarted address space")
	}
	as.Release() // the last one: the spare and the zygote go too
	p.Prestart()
	time.Sleep(100 * time.Millisecond)
	p.zmu.Lock()
	defer p.zmu.Unlock()
	if p.spare != nil || p.zygote != nil {
		t.Error("a Prestart after the sandbox ended started a zygote")
	}
}

// TestZygoteSetupFails: a zygote whose setup fails (here the kernel
// refuses its filter, an instruction no BPF has) exits, and the sentry
// reports the errno its setup left, not a hang or a generic death.
func TestZygoteSetupFails(t *testing.T) {
	p := newTestPlatform(t)
	p.filt = []byte{0xff, 0xff, 0, 0, 0, 0, 0, 0} // opcode 0xffff
	as, err := p.NewAddressSpace()
	if err == nil {
		as.Release()
		t.Fatal("NewAddressSpace with a filter the kernel refuses succeeded")
	}
	if !strings.Contains(err.Error(), "setting it up: invalid argument") {
		t.Fatalf("NewAddressSpace: %v, want the zygote's setup to report EINVAL", err)
	}
}

// hostMapper returns as as a platform.HostMapper, or skips the test,
// saying why, where the host gives stubs no host files.
func hostMapper(t *testing.T, as platform.AddressSpace) platform.HostMapper {
	t.Helper()
	hm := as.(platform.HostMapper)
	if !hm.MapsHost() {
		t.Skip("this host gives stubs no host files (seccomp listener, pidfd_getfd: Linux 5.6)")
	}
	return hm
}

// hostFile writes content to a new file at path and returns a read-only
// descriptor of it, closed when the test ends.
func hostFile(t *testing.T, path string, content []byte) int {
	t.Helper()
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// TestHostFiles: MapHost installs the sentry's file in the stub and maps
// it there read-only (a write faults); the zygote is given the file too,
// so that a stub forked later starts with it; and a notification the
// sentry did not ask for (app code that jumps to gate_getfd) is refused
// with EPERM on the way to its own.
func TestHostFiles(t *testing.T) {
	p, as, mf := newTestSpace(t)
	hm := hostMapper(t, as)
	path := t.TempDir() + "/file"
	content := make([]byte, 2*memory.PageSize)
	copy(content[memory.PageSize:], "host page")
	fd := hostFile(t, path, content)
	f := platform.HostFile{FD: fd, Key: "file v1"}
	const data = 0x20000000
	if err := hm.MapHost(data, f, memory.PageSize, memory.PageSize, platform.ReadWrite); err != nil {
		t.Fatal(err)
	}
	// mov rax, [data]; mov [data], eax
	code := []byte{0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0x20, 0x89, 0x04, 0x25, 0, 0, 0, 0x20}
	platformtest.MapPage(t, mf, as, base, code, platform.AnyAccess)
	ctx := p.NewContext()
	regs := p.InitialRegisters(base, 0)
	ev, err := ctx.Switch(as, &regs)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != platform.EventFault || ev.Addr != data || !ev.Access.Write {
		t.Fatalf("got %v, want a write fault at %#x (mapped read-only)", ev, data)
	}
	if got := string(binary.LittleEndian.AppendUint64(nil, regs.Rax)); got != "host pag" {
		t.Fatalf("read %q from the host mapping, want %q", got, "host pag")
	}
	pid := as.(*addressSpace).s.PID
	if link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, hostFDBase+zygoteFDMax)); err != nil || link != path {
		t.Fatalf("stub's fd %d: %q, %v; want %s", hostFDBase+zygoteFDMax, link, err, path)
	}

	// The zygote gets the file in the background; a stub forked after
	// that has it as the zygote's first.
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.zmu.Lock()
		n := len(p.zfds)
		p.zmu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the zygote was not given the file in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	var later *addressSpace
	for i := 0; i < 2; i++ { // the spare may predate the file
		a, err := p.NewAddressSpace()
		if err != nil {
			t.Fatal(err)
		}
		defer a.Release()
		later = a.(*addressSpace)
	}
	if fd := later.hostFDs[f.Key]; fd != hostFDBase {
		t.Fatalf("a stub forked later has the file at %d, want the zygote's %d", fd, hostFDBase)
	}
	if link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", later.s.PID, hostFDBase)); err != nil || link != path {
		t.Fatalf("later stub's fd %d: %q, %v; want %s", hostFDBase, link, err, path)
	}

	// App code of another address space makes the call at gate_getfd,
	// with r12 at a page of its own (the handler stores the result
	// there and then waits on it for ever, until killed).
	const scratch = 0x30000000
	scratchFR, err := mf.Allocate(memory.PageSize)
	if err != nil {
		t.Fatal(err)
	}
	forged := make(chan platform.AddressSpace, 1)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		a, err := p.NewAddressSpace()
		if err != nil {
			forged <- nil
			done <- err
			return
		}
		// mov eax, 39; movabs r12, scratch; movabs rcx, gate_getfd; jmp rcx
		code := []byte{0xb8, 39, 0, 0, 0, 0x49, 0xbc, 0, 0, 0, 0, 0, 0, 0, 0, 0x48, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xe1}
		binary.LittleEndian.PutUint64(code[7:], scratch)
		binary.LittleEndian.PutUint64(code[17:], codePage+offGateGetfd)
		platformtest.MapPage(t, mf, a, base, code, platform.AnyAccess)
		err = a.MapFile(scratch, scratchFR, platform.ReadWrite)
		forged <- a
		if err != nil {
			done <- err
			return
		}
		regs := p.InitialRegisters(base, 0)
		_, err = p.NewContext().Switch(a, &regs)
		done <- err
	}()
	fa := <-forged
	if fa == nil {
		t.Fatal(<-done)
	}
	defer fa.Release()
	if ready, err := pollIn(p.zygote.as.lis.fd, 10*time.Second); err != nil || !ready {
		t.Fatalf("no notification from the forged call: %v, %v", ready, err)
	}
	if err := hm.MapHost(data+memory.PageSize, platform.HostFile{FD: fd, Key: "file v2"}, 0, memory.PageSize, platform.Read); err != nil {
		t.Fatalf("MapHost with a forged notification queued: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		r := int64(binary.LittleEndian.Uint64(mf.Bytes(scratchFR)[offRet:]))
		if r == -int64(unix.EPERM) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the forged call returned %d, want -EPERM", r)
		}
	}
	fa.Interrupt()
	if err := <-done; err != platform.ErrAddressSpaceDead {
		t.Fatalf("the forging address space's Switch: %v, want it killed", err)
	}
}

// TestHostFileNumbersReused: a stub given more host files than it has
// numbers of its own reuses its oldest numbers; the mappings made with
// the descriptors replaced stay, and a file whose number went is given
// again when mapped again.
func TestHostFileNumbersReused(t *testing.T) {
	_, as, _ := newTestSpace(t)
	hm := hostMapper(t, as)
	const own = hostFDMax - zygoteFDMax
	n := own + 20
	dir := t.TempDir()
	var fds []int
	for i := 0; i < n; i++ {
		path := fmt.Sprintf("%s/f%03d", dir, i)
		fd := hostFile(t, path, []byte{byte(i)})
		fds = append(fds, fd)
		if err := hm.MapHost(0x20000000+uintptr(i)*memory.PageSize, platform.HostFile{FD: fd, Key: path}, 0, memory.PageSize, platform.Read); err != nil {
			t.Fatalf("MapHost of file %d: %v", i, err)
		}
	}
	// A request of its own runs the batch first.
	if err := as.Protect(0x20000000, memory.PageSize, platform.Read); err != nil {
		t.Fatal(err)
	}
	a := as.(*addressSpace)
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", a.s.PID))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(maps), dir+"/f"); got != n {
		t.Fatalf("the stub maps %d of the %d files", got, n)
	}
	if len(a.hostFDs) != own {
		t.Fatalf("the stub has %d host files by key, want %d (its own numbers)", len(a.hostFDs), own)
	}
	first := fmt.Sprintf("%s/f%03d", dir, 0)
	if _, ok := a.hostFDs[first]; ok {
		t.Fatal("the first file kept its number")
	}
	if err := hm.MapHost(0x30000000, platform.HostFile{FD: fds[0], Key: first}, 0, memory.PageSize, platform.Read); err != nil {
		t.Fatal(err)
	}
	if fd, ok := a.hostFDs[first]; !ok || fd < hostFDBase+zygoteFDMax || fd >= hostFDBase+hostFDMax {
		t.Fatalf("the first file mapped again has fd %d (%v)", fd, ok)
	}
}

// TestLendThread: a thread lent to a vfork child runs the child's code
// from the lender's frame, and given back, the lender goes on with its
// own FP state, whatever the child left in the registers.
func TestLendThread(t *testing.T) {
	p, as, mf := newTestSpace(t)
	const data, child = 0x20000000, base + 0x800
	// parent: mov rax, A; movq xmm0, rax; mov eax, 39; syscall;
	// movq rax, xmm0; mov [data], rax; mov eax, 60; syscall
	const a, b = 0x1111222233334444, 0x5555666677778888
	code := []byte{0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0x66, 0x48, 0x0f, 0x6e, 0xc0, 0xb8, 39, 0, 0, 0, 0x0f, 0x05,
		0x66, 0x48, 0x0f, 0x7e, 0xc0, 0x48, 0x89, 0x04, 0x25, 0, 0, 0, 0x20, 0xb8, 60, 0, 0, 0, 0x0f, 0x05}
	binary.LittleEndian.PutUint64(code[2:], a)
	page := make([]byte, 0x1000)
	copy(page, code)
	// child: mov rax, B; movq xmm0, rax; mov eax, 39; syscall
	cc := []byte{0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0x66, 0x48, 0x0f, 0x6e, 0xc0, 0xb8, 39, 0, 0, 0, 0x0f, 0x05}
	binary.LittleEndian.PutUint64(cc[2:], b)
	copy(page[0x800:], cc)
	platformtest.MapPage(t, mf, as, base, page, platform.AnyAccess)
	fr := platformtest.MapPage(t, mf, as, data, nil, platform.ReadWrite)
	ctx := p.NewContext()
	regs := p.InitialRegisters(base, 0)
	if ev, err := ctx.Switch(as, &regs); err != nil || ev.Kind != platform.EventSyscall || regs.Orig_rax != 39 {
		t.Fatalf("parent's first stop: %v, %v (orig_rax %d)", ev, err, regs.Orig_rax)
	}
	h, err := as.(platform.ThreadLender).LendThread()
	if err != nil {
		t.Fatal(err)
	}
	hostTID := as.(*addressSpace).first.hostTID
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		sp := as.(platform.ThreadSpawner)
		if err := sp.AdoptThread(h); err != nil {
			done <- err
			return
		}
		cctx := p.NewContext()
		cregs := p.InitialRegisters(child, 0)
		ev, err := cctx.Switch(as, &cregs)
		if err == nil && (ev.Kind != platform.EventSyscall || cregs.Rip != child+22) {
			err = fmt.Errorf("child's stop: %v at %#x", ev, cregs.Rip)
		}
		if th := cctx.(*context).th.Load(); err == nil && (th == nil || th.hostTID != hostTID) {
			err = fmt.Errorf("the child did not run on the lender's host thread")
		}
		sp.ExitThread()
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	regs.Rax = 7
	if ev, err := ctx.Switch(as, &regs); err != nil || ev.Kind != platform.EventSyscall || regs.Orig_rax != 60 {
		t.Fatalf("parent's second stop: %v, %v (orig_rax %d)", ev, err, regs.Orig_rax)
	}
	if got := binary.LittleEndian.Uint64(mf.Bytes(fr)); got != a {
		t.Fatalf("the lender's xmm0 after the child: %#x, want its own %#x", got, uint64(a))
	}
	if th := as.(*addressSpace).first; len(th.lent) != 0 || len(as.(*addressSpace).threads) != 1 {
		t.Fatalf("after the child: %d lent frames, %d sentry threads", len(th.lent), len(as.(*addressSpace).threads))
	}
}
