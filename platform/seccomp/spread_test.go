package seccomp

import (
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"moat/platform"
	"moat/platform/platformtest"
)

// allowedCPUs returns the CPUs the calling thread may run on, skipping
// the test, saying why, where there are fewer than two or no per-CPU
// segment to read.
func allowedCPUs(t *testing.T) (unix.CPUSet, []int) {
	t.Helper()
	var mask unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mask); err != nil {
		t.Fatal(err)
	}
	var cpus []int
	for c := 0; c < len(mask)*64; c++ {
		if mask.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) < 2 {
		t.Skipf("spreading needs two CPUs; this thread may use %v", cpus)
	}
	if cpuNow() == noCPU {
		t.Skip("the host kernel has no per-CPU segment for cpuNow to read")
	}
	return mask, cpus
}

// pin sets the affinity of thread tid (0: the caller) to cpu alone.
func pin(t *testing.T, tid, cpu int) {
	t.Helper()
	var one unix.CPUSet
	one.Set(cpu)
	if err := unix.SchedSetaffinity(tid, &one); err != nil {
		t.Fatal(err)
	}
}

// procCPU returns the CPU /proc says thread tid last ran on.
func procCPU(t *testing.T, tid int) int {
	t.Helper()
	proc := "thread-self"
	if tid != 0 {
		proc = strconv.Itoa(tid)
	}
	f, err := statFields(proc)
	if err != nil {
		t.Fatal(err)
	}
	cpu, err := strconv.Atoi(f[36]) // field 39, "processor"
	if err != nil {
		t.Fatal(err)
	}
	return cpu
}

// TestCPUNow: cpuNow names the CPU the thread is pinned to, as /proc does.
func TestCPUNow(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	mask, cpus := allowedCPUs(t)
	defer unix.SchedSetaffinity(0, &mask)
	for _, c := range cpus {
		pin(t, 0, c)
		if got := int(cpuNow() & 0xfff); got != c || procCPU(t, 0) != c {
			t.Errorf("pinned to CPU %d: cpuNow says %d, /proc %d", c, got, procCPU(t, 0))
		}
	}
}

// TestSpread: a sentry thread that finds its stub thread on its own CPU,
// both spinning, moves the stub thread off it within spreadAfter calls
// (not when Linux's load balancer next looks), and leaves the stub
// thread's affinity as it was.
func TestSpread(t *testing.T) {
	p, as, mf := newTestSpace(t)
	mask, cpus := allowedCPUs(t)
	defer unix.SchedSetaffinity(0, &mask)
	// 1: mov eax, 39 (getpid); syscall; jmp 1b
	code := []byte{0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7}
	platformtest.MapPage(t, mf, as, base, code, platform.AnyAccess)
	ctx := p.NewContext()
	regs := p.InitialRegisters(base, 0)
	var th *thread
	call := func() {
		t.Helper()
		if th != nil {
			// However slow the calls on a busy host, the stub spins
			// for the answer (and so gives way) rather than sleeping.
			th.handling = 0
		}
		if ev, err := ctx.Switch(as, &regs); err != nil || ev.Kind != platform.EventSyscall {
			t.Fatalf("switch: %v, %v", ev, err)
		}
	}
	call()
	var err error
	th, err = as.(*addressSpace).current()
	if err != nil {
		t.Fatal(err)
	}
	stubTID := th.hostTID
	var stubMask unix.CPUSet
	if err := unix.SchedGetaffinity(stubTID, &stubMask); err != nil {
		t.Fatal(err)
	}
	// Both on CPU c: each side now gives way to the other on every call,
	// and spread cannot move either. Then the stub thread may move, and
	// spread moves it (the sentry thread stays pinned, so that nothing
	// else parts the two first). On a busy host the load balancer may
	// move the stub thread before spread does: each try starts again.
	c := cpus[0]
	pin(t, 0, c)
	moved, balanced := false, 0
	for try := 0; try < 5 && !moved; try++ {
		pin(t, stubTID, c)
		for i := 0; i < 3; i++ {
			call()
		}
		if own := procCPU(t, 0); own != c {
			t.Fatalf("pinned to CPU %d, the sentry thread runs on %d", c, own)
		}
		th.spreadAt, th.together = 0, 0 // (spent on the pinned calls)
		if err := unix.SchedSetaffinity(stubTID, &stubMask); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < spreadAfter+2; i++ {
			call()
			if procCPU(t, stubTID) != c {
				if th.spreadAt != 0 {
					moved = true
				} else {
					balanced++
				}
				break
			}
		}
	}
	var now unix.CPUSet
	if err := unix.SchedGetaffinity(stubTID, &now); err != nil || now != stubMask {
		t.Errorf("the stub thread's affinity after the move: %v (%v), want %v as before", now, err, stubMask)
	}
	switch {
	case moved:
	case balanced > 0:
		t.Skipf("a busy host: its load balancer moved the stub thread in %d of 5 tries, and spread in none", balanced)
	default:
		t.Errorf("spread never moved the stub thread off the sentry thread's CPU %d", c)
	}
}
