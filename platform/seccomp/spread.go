package seccomp

import (
	"time"

	"golang.org/x/sys/unix"
)

// Spreading. A stub thread and the sentry thread serving it hand each
// system call back and forth, each spinning for the other's answer, which
// pays only if they run on different CPUs. On the same one they take turns
// only as each gives way (handler.S's sched_yield every YIELD_EVERY
// spins, waitEventSince's every spinChecks): a round trip then took 7 us
// instead of 0.3 (a patched getppid, measured in a fresh sandbox). Linux
// puts the two together easily (a thread woken from futex goes to its
// waker's CPU) and parts them only when its load balancer next looks,
// milliseconds later: 2000 getppid calls, a sandbox's first program,
// took 13.5 ms in all, most of them at 7 us.
//
// So a stub thread that gives way says first on which CPU it runs
// (handler.S, sysmsg's offCPU), and a sentry thread that had to give way
// too before it saw the event, and finds itself on that same CPU
// spreadAfter times in a row, moves the stub thread off it: the stub
// thread's affinity is set to the CPUs it may use but that one, which
// moves it at once (it is queued there, not running: the caller is), then
// set back, which leaves it where it is. Only waits that gave way look
// (apart, neither side gives way on a fast call), a short program's few
// calls together are left alone (a move, some us, and the other CPU's
// work, often the next spare stub's fork, cost it more than they save), and
// a thread moves at most once per spreadEvery, so that a host with more
// runnable threads than CPUs, which will not keep the two apart, costs it
// little. Only a single-threaded address space's: a futex ping-pong
// between two threads (four host threads on two CPUs, which Linux
// places well by itself) took 13.5 -> 30 us a round trip with its stub
// threads moved. Measured (interleaved medians of 41): the 2000 getppid calls
// 13.5 -> 6.8 ms, python3's start 1.84 -> 1.83x and 1.93 -> 1.88x native
// (1.87 -> 1.80x in one of 31), busybox true's 5.18 -> 5.31 ms (61).
const (
	spreadEvery = time.Millisecond
	spreadAfter = 8
)

// cpuNow returns the CPU the calling thread runs on, as node<<12|cpu
// (what Linux's per-CPU segment holds, as handler.S reads it), or
// 0xffffffff if the host has no such segment (cpu_amd64.s).
func cpuNow() uint32

// noCPU is cpuNow's answer where there is no per-CPU segment.
const noCPU = ^uint32(0)

// spread moves th's stub thread off the CPU it last gave way on, if the
// calling sentry thread is on that one too (see spreadEvery), and clears
// the stub's word. The word is app-writable, but it is only compared with
// the sentry's own CPU: a forged one can at most cost a move each
// spreadEvery.
//
// Preconditions: the caller is the sentry thread that serves th, locked
// to its OS thread; th waits in an event.
func (th *thread) spread(now time.Duration) {
	stub := le.Uint32(th.msg[offCPU:])
	if stub == 0 {
		return
	}
	le.PutUint32(th.msg[offCPU:], 0)
	if th.spreadAt != 0 && now-th.spreadAt < spreadEvery {
		return
	}
	own := cpuNow()
	if own == noCPU || own+1 != stub || !th.as.soleThread() {
		th.together = 0
		return
	}
	if th.together++; th.together < spreadAfter {
		return
	}
	th.together = 0
	th.spreadAt = now
	// The stub thread waits for this one to give way: moving it, off
	// the CPU it is queued on, costs some us; moving the running caller
	// takes the kernel's migration thread, 25-70 us.
	if !moveOff(th.hostTID, int(own&0xfff)) {
		moveOff(0, int(own&0xfff))
	}
}

// moveOff migrates thread tid (0: the caller) off cpu, to another CPU it
// may use, leaves its affinity as it was, and reports whether it did. It
// does nothing if cpu is the only one.
func moveOff(tid, cpu int) bool {
	var mask unix.CPUSet
	if unix.SchedGetaffinity(tid, &mask) != nil || !mask.IsSet(cpu) || mask.Count() < 2 {
		return false
	}
	others := mask
	others.Clear(cpu)
	if unix.SchedSetaffinity(tid, &others) != nil {
		return false
	}
	unix.SchedSetaffinity(tid, &mask)
	return true
}
