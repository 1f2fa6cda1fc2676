package ptrace

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"moat/memory"
	"moat/platform"
	"moat/platform/platformtest"
)

// newTestSpace returns a platform, an address space and the memory file;
// the test goroutine stays locked to its thread (it is the tracer).
func newTestSpace(t *testing.T) (*Platform, platform.AddressSpace, *memory.File) {
	return platformtest.Space(t, func(mf *memory.File, code platform.FileRange) (*Platform, error) {
		return New(mf.FD(), code)
	})
}

func TestStubIsEmpty(t *testing.T) {
	_, as, _ := newTestSpace(t)
	pid := as.(*addressSpace).s.PID
	maps, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(maps)), "\n") {
		if strings.Contains(line, "[vsyscall]") || strings.HasPrefix(line, "7fffffffe000-7ffffffff000 r-xs") {
			continue
		}
		t.Errorf("stub has an unexpected mapping: %s", line)
	}
}

func TestSyscallAndFault(t *testing.T) {
	p, as, mf := newTestSpace(t)
	const base = 0x10000000
	// mov eax, 39 (getpid); syscall; mov rax, [0x20000000]; int3
	code := []byte{
		0xb8, 39, 0, 0, 0,
		0x0f, 0x05,
		0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x20,
		0xcc,
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
		t.Fatalf("got %v orig_rax=%d rip=%#x, want getpid syscall stop at %#x", ev, regs.Orig_rax, regs.Rip, base+7)
	}
	if regs.Fs_base != 0x1234000 {
		t.Errorf("fs_base = %#x, want 0x1234000", regs.Fs_base)
	}
	regs.Rax = 77
	ev, err = ctx.Switch(as, &regs)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != platform.EventFault || ev.Addr != 0x20000000 || ev.Access.Execute {
		t.Fatalf("got %v, want a read fault at 0x20000000", ev)
	}
	// Map the data page and resume: the load succeeds and int3 traps.
	fr, _ := mf.Allocate(memory.PageSize)
	mf.Bytes(fr)[0] = 0x5a
	if err := as.MapFile(0x20000000, fr, platform.Read); err != nil {
		t.Fatal(err)
	}
	ev, err = ctx.Switch(as, &regs)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != platform.EventSignal || ev.Signal != int(unix.SIGTRAP) || regs.Rax != 0x5a {
		t.Fatalf("got %v rax=%#x, want SIGTRAP with rax=0x5a", ev, regs.Rax)
	}
}

func TestFPState(t *testing.T) {
	p, as, mf := newTestSpace(t)
	platformtest.FPState(t, p, as, mf)
}

func TestStubDiesWithRelease(t *testing.T) {
	_, as, _ := newTestSpace(t)
	platformtest.ReleaseKillsStub(t, as, as.(*addressSpace).s.PID)
}
