package seccomp

import (
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"moat/memory"
	"moat/platform"
	"moat/platform/platformtest"
)

// newTestSpace returns the platform, an address space and the memory
// file; the test goroutine stays locked to its thread.
func newTestSpace(t *testing.T) (*Platform, platform.AddressSpace, *memory.File) {
	return platformtest.Space(t, func(mf *memory.File, code platform.FileRange) (*Platform, error) {
		return New(mf, code)
	})
}

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
// system calls the platform never makes: the filter must kill the stub.
func TestGatesAreNarrow(t *testing.T) {
	cases := []struct {
		name string
		gate uintptr
		nr   uint32
		r8   uint32 // mmap's fd
	}{
		{"getpid at the call gate", offGateCall, unix.SYS_GETPID, 0},
		{"openat at the call gate", offGateCall, unix.SYS_OPENAT, 0},
		{"mmap of another fd at the call gate", offGateCall, unix.SYS_MMAP, 3},
		{"execve at the futex gate", offGateWake, unix.SYS_EXECVE, 0},
		{"kill at the sigreturn gate", offGateSigreturn, unix.SYS_KILL, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, as, mf := newTestSpace(t)
			gate := uint64(codePage + c.gate)
			// mov eax, nr; mov r8d, fd; movabs rcx, gate-2; jmp rcx
			code := []byte{0xb8, 0, 0, 0, 0, 0x41, 0xb8, 0, 0, 0, 0, 0x48, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xe1}
			binary.LittleEndian.PutUint32(code[1:], c.nr)
			binary.LittleEndian.PutUint32(code[7:], c.r8)
			binary.LittleEndian.PutUint64(code[13:], gate) // the gate label is the syscall instruction
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
	want(39)
	want(60)
}
