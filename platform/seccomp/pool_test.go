package seccomp

import (
	"strconv"
	"testing"
	"time"

	"moat/platform"
	"moat/platform/platformtest"
)

// TestPool: an address space released from an exit_group, single-threaded,
// goes to the pool instead of dying, and the next NewAddressSpace hands
// out the same stub, emptied, its CPU time starting anew; the pool holds
// at most poolMax, the rest die; and the pool dies with the sandbox's
// last address space.
func TestPool(t *testing.T) {
	p, mf := platformtest.Platform(t, newOnFile)
	// 1: dec ecx; jnz 1b (a CPU-bound loop of rcx rounds); mov eax, 231
	// (exit_group); syscall
	code := []byte{0xff, 0xc9, 0x75, 0xfc, 0xb8, 231, 0, 0, 0, 0x0f, 0x05}
	// run runs the loop for n rounds and stops at the exit_group.
	run := func(as platform.AddressSpace, n uint64) {
		t.Helper()
		ctx := p.NewContext()
		regs := p.InitialRegisters(base, 0)
		regs.Rcx = n
		if ev, err := ctx.Switch(as, &regs); err != nil || ev.Kind != platform.EventSyscall || regs.Orig_rax != 231 {
			t.Fatalf("switch: %v, %v, orig_rax %d; want exit_group", ev, err, regs.Orig_rax)
		}
	}
	alive := func(pid int) bool { // and not a zombie
		f, err := statFields(strconv.Itoa(pid))
		return err == nil && len(f) > 0 && f[0] != "Z"
	}
	newSpace := func() *addressSpace {
		t.Helper()
		as, err := p.NewAddressSpace()
		if err != nil {
			t.Fatal(err)
		}
		return as.(*addressSpace)
	}

	// A keeper, so that the pool outlives the released ones.
	keeper := newSpace()
	a := newSpace()
	platformtest.MapPage(t, mf, a, base, code, platform.AnyAccess)
	run(a, 1<<28) // some tens of ms of CPU
	used := a.CPUTime()
	pid := a.s.PID
	a.Release()
	if !alive(pid) {
		t.Fatal("a released single-threaded address space died instead of going to the pool")
	}
	b := newSpace()
	if b != a || b.s.PID != pid {
		t.Fatalf("NewAddressSpace forked a stub (pid %d) with one in the pool (pid %d)", b.s.PID, pid)
	}
	if c := b.CPUTime(); c >= used || used < 10*time.Millisecond {
		t.Errorf("the pooled stub's CPU time starts at %v, after its first use took %v", c, used)
	}
	// Emptied: the code page is gone, and running there faults.
	ctx := p.NewContext()
	regs := p.InitialRegisters(base, 0)
	if ev, err := ctx.Switch(b, &regs); err != nil || ev.Kind != platform.EventFault || ev.Addr != base {
		t.Fatalf("running the old program's page in the pooled stub: %v, %v; want a fault at %#x", ev, err, uintptr(base))
	}
	if c := ctx.(platform.ThreadCPUClock).ThreadCPUTime(); c >= used {
		t.Errorf("the pooled stub's thread's CPU time starts at %v, after its first use took %v", c, used)
	}
	platformtest.MapPage(t, mf, b, base, code, platform.AnyAccess)
	run(b, 1)

	// At most poolMax wait; the rest die.
	spaces := []*addressSpace{b}
	for len(spaces) < poolMax+1 {
		spaces = append(spaces, newSpace())
	}
	var pids []int
	for _, as := range spaces {
		if as != b {
			platformtest.MapPage(t, mf, as, base, code, platform.AnyAccess)
			run(as, 1)
		}
		pids = append(pids, as.s.PID)
		as.Release()
	}
	time.Sleep(50 * time.Millisecond) // (a killed stub's reaping)
	n := 0
	for _, pid := range pids {
		if alive(pid) {
			n++
		}
	}
	if n != poolMax {
		t.Errorf("%d of %d released stubs live, want the pool's %d", n, len(pids), poolMax)
	}
	// The sandbox's last address space takes the pool with it.
	keeper.Release()
	time.Sleep(50 * time.Millisecond)
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pooled stub %d outlived the sandbox's last address space", pid)
		}
	}
}
