package syscalls

import (
	"crypto/rand"
	"math"
	"time"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/kernel"
)

// Clocks are read from the host: the sandbox shares the host's time.
// CPU-time clocks (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID and
// the clock_getcpuclockid(3) ids of a pid or tid) are the sandbox's own
// accounting (kernel.CPUUsage).
func clockID(id int32) (int32, error) {
	switch id {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_MONOTONIC_RAW,
		unix.CLOCK_REALTIME_COARSE, unix.CLOCK_MONOTONIC_COARSE, unix.CLOCK_BOOTTIME,
		unix.CLOCK_TAI:
		return id, nil
	}
	return 0, unix.EINVAL
}

// CPU clock ids (linux/posix-timers.h): a negative id carries ~pid above
// three bits that say per-thread (4) and which time (0 PROF: user+system,
// 1 VIRT: user, 2 SCHED: user+system).
const (
	cpuClockPerThread = 4
	cpuClockVirt      = 1
	cpuClockMax       = 3
)

// cpuClock reads CPU-time clock id for t; ok is false for other clocks.
func cpuClock(t *kernel.Task, id int32) (d time.Duration, ok bool, err error) {
	var u kernel.CPUUsage
	switch {
	case id == unix.CLOCK_PROCESS_CPUTIME_ID:
		u = t.ProcessCPU()
	case id == unix.CLOCK_THREAD_CPUTIME_ID:
		u = t.ThreadCPU()
	case id < 0:
		if id&3 == cpuClockMax {
			return 0, true, unix.EINVAL
		}
		pid := ^(id >> 3)
		target := t
		if pid != 0 {
			if target = t.Kernel().Task(pid); target == nil {
				return 0, true, unix.EINVAL
			}
		}
		if id&cpuClockPerThread != 0 {
			if target.TGID() != t.TGID() {
				return 0, true, unix.EINVAL // only the caller's own threads
			}
			u = target.ThreadCPU()
		} else {
			if pid != 0 && !target.IsLeader() {
				return 0, true, unix.EINVAL
			}
			u = target.ProcessCPU()
		}
		if id&3 == cpuClockVirt {
			return u.User, true, nil
		}
	default:
		return 0, false, nil
	}
	return u.User + u.Sys, true, nil
}

func encodeTimespec(ts unix.Timespec) []byte {
	b := make([]byte, 16)
	le.PutUint64(b, uint64(ts.Sec))
	le.PutUint64(b[8:], uint64(ts.Nsec))
	return b
}

func sysClockGettime(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if d, ok, err := cpuClock(t, int32(a[0])); ok {
		if err != nil {
			return 0, err
		}
		return 0, copyOut(t, a[1], encodeTimespec(unix.NsecToTimespec(d.Nanoseconds())))
	}
	id, err := clockID(int32(a[0]))
	if err != nil {
		return 0, err
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(id, &ts); err != nil {
		return 0, err
	}
	return 0, copyOut(t, a[1], encodeTimespec(ts))
}

func sysClockGetres(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if _, ok, err := cpuClock(t, int32(a[0])); ok {
		if err != nil || a[1] == 0 {
			return 0, err
		}
		return 0, copyOut(t, a[1], encodeTimespec(unix.Timespec{Nsec: 1}))
	}
	id, err := clockID(int32(a[0]))
	if err != nil {
		return 0, err
	}
	if a[1] == 0 {
		return 0, nil
	}
	var ts unix.Timespec
	if err := unix.ClockGetres(id, &ts); err != nil {
		return 0, err
	}
	return 0, copyOut(t, a[1], encodeTimespec(ts))
}

func sysGettimeofday(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if a[0] != 0 {
		now := time.Now()
		b := make([]byte, 16)
		le.PutUint64(b, uint64(now.Unix()))
		le.PutUint64(b[8:], uint64(now.Nanosecond()/1000))
		if err := copyOut(t, a[0], b); err != nil {
			return 0, err
		}
	}
	if a[1] != 0 {
		if err := copyOut(t, a[1], make([]byte, 8)); err != nil { // UTC, no DST
			return 0, err
		}
	}
	return 0, nil
}

func sysTime(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	now := time.Now().Unix()
	if a[0] != 0 {
		if err := putU64(t, a[0], uint64(now)); err != nil {
			return 0, err
		}
	}
	return uintptr(now), nil
}

// copyInTimespec reads and validates a struct timespec.
func copyInTimespec(t *kernel.Task, addr uintptr) (unix.Timespec, error) {
	b := make([]byte, 16)
	if err := copyIn(t, addr, b); err != nil {
		return unix.Timespec{}, err
	}
	ts := unix.Timespec{Sec: int64(le.Uint64(b)), Nsec: int64(le.Uint64(b[8:]))}
	if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
		return unix.Timespec{}, unix.EINVAL
	}
	return ts, nil
}

// tsDuration converts a timespec checked by copyInTimespec into a
// duration, saturating at about 292 years as Linux's timespec64_to_ktime
// saturates at KTIME_MAX: a huge timeout waits (for ever, in practice),
// where the nanoseconds' overflow made it negative and expire at once.
func tsDuration(ts unix.Timespec) time.Duration {
	if ts.Sec >= math.MaxInt64/int64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec)
}

// tvDuration is tsDuration for a struct timeval's seconds and
// microseconds, checked by the caller.
func tvDuration(sec, usec int64) time.Duration {
	return tsDuration(unix.Timespec{Sec: sec, Nsec: usec * 1000})
}

// sleepUntil blocks the task until deadline. Interrupted by a signal, it
// stores the time left at rem (if not 0) and returns ErrRestartBlock: a
// handler makes the call fail with EINTR, no handler makes it sleep on
// until the same deadline through restart_syscall, as Linux's
// hrtimer_nanosleep does.
func sleepUntil(t *kernel.Task, deadline time.Time, rem uintptr) error {
	if !time.Now().Before(deadline) {
		return nil
	}
	err := t.BlockTimeout(nil, deadline)
	switch err {
	case unix.ETIMEDOUT:
		return nil
	case kernel.ErrRestartSys:
		if rem != 0 {
			left := max(time.Until(deadline), 0)
			ts := unix.NsecToTimespec(left.Nanoseconds())
			if err := copyOut(t, rem, encodeTimespec(ts)); err != nil {
				return err
			}
		}
		t.SetRestartBlock(func() (uintptr, error) { return 0, sleepUntil(t, deadline, rem) })
		return kernel.ErrRestartBlock
	}
	return err
}

func sysNanosleep(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	ts, err := copyInTimespec(t, a[0])
	if err != nil {
		return 0, err
	}
	return 0, sleepUntil(t, time.Now().Add(tsDuration(ts)), a[1])
}

func sysClockNanosleep(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	id := int32(a[0])
	flags := int(a[1])
	switch id {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME, unix.CLOCK_TAI, unix.CLOCK_PROCESS_CPUTIME_ID:
	case unix.CLOCK_THREAD_CPUTIME_ID:
		return 0, unix.EINVAL
	default:
		return 0, unix.EINVAL
	}
	ts, err := copyInTimespec(t, a[2])
	if err != nil {
		return 0, err
	}
	d := tsDuration(ts)
	if flags&unix.TIMER_ABSTIME == 0 {
		return 0, sleepUntil(t, time.Now().Add(d), a[3])
	}
	// An absolute sleep is restarted as it was asked for: the deadline
	// is on the app's clock, which may be set meanwhile.
	if cpu, ok, _ := cpuClock(t, id); ok {
		d -= cpu // the process's CPU time: waited for as elapsed time
	} else {
		var now unix.Timespec
		unix.ClockGettime(id, &now)
		d -= time.Duration(now.Nano())
	}
	if d <= 0 {
		return 0, nil
	}
	err = t.BlockTimeout(nil, time.Now().Add(d))
	switch err {
	case unix.ETIMEDOUT:
		return 0, nil
	case kernel.ErrRestartSys:
		return 0, kernel.ErrRestartNoHand
	}
	return 0, err
}

func sysRestartSyscall(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return t.RestartSyscall()
}

func sysGetrandom(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if a[2]&^(unix.GRND_NONBLOCK|unix.GRND_RANDOM|unix.GRND_INSECURE) != 0 ||
		a[2]&(unix.GRND_RANDOM|unix.GRND_INSECURE) == unix.GRND_RANDOM|unix.GRND_INSECURE {
		return 0, unix.EINVAL
	}
	n := min(a[1], 1<<25) // Linux returns at most 32 MiB per call
	if !accessOK(a[0], n) {
		return 0, unix.EFAULT
	}
	buf := make([]byte, min(n, 1<<16))
	var done uintptr
	for done < n {
		chunk := buf[:min(n-done, uintptr(len(buf)))]
		rand.Read(chunk)
		if err := copyOut(t, a[0]+done, chunk); err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		done += uintptr(len(chunk))
	}
	return done, nil
}
