package syscalls

import (
	"time"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/kernel"
)

// timerClock checks a clock for timer_create and timerfd_create and
// returns the host clock its absolute times are measured on. CPU-time
// clocks run on elapsed time (no CPU accounting yet).
func timerClock(id int32) (int32, error) {
	switch id {
	case unix.CLOCK_REALTIME, unix.CLOCK_REALTIME_ALARM:
		return unix.CLOCK_REALTIME, nil
	case unix.CLOCK_MONOTONIC:
		return unix.CLOCK_MONOTONIC, nil
	case unix.CLOCK_BOOTTIME, unix.CLOCK_BOOTTIME_ALARM:
		return unix.CLOCK_BOOTTIME, nil
	case unix.CLOCK_TAI:
		return unix.CLOCK_TAI, nil
	case unix.CLOCK_PROCESS_CPUTIME_ID, unix.CLOCK_THREAD_CPUTIME_ID:
		return unix.CLOCK_MONOTONIC, nil
	case unix.CLOCK_MONOTONIC_RAW, unix.CLOCK_REALTIME_COARSE, unix.CLOCK_MONOTONIC_COARSE:
		return 0, unix.EOPNOTSUPP // clocks without timers, as on Linux
	}
	return 0, unix.EINVAL
}

// untilAbs converts an absolute time on a host clock into a delay;
// expired is true for a time that has passed, which fires at once.
func untilAbs(clock int32, abs time.Duration) (d time.Duration, expired bool) {
	var now unix.Timespec
	unix.ClockGettime(clock, &now)
	d = abs - time.Duration(now.Nano())
	return d, d <= 0
}

// copyInItimerspec reads a struct itimerspec: interval, then value.
func copyInItimerspec(t *kernel.Task, addr uintptr) (interval, value time.Duration, err error) {
	iv, err := copyInTimespec(t, addr)
	if err != nil {
		return 0, 0, err
	}
	v, err := copyInTimespec(t, addr+16)
	if err != nil {
		return 0, 0, err
	}
	return tsDuration(iv), tsDuration(v), nil
}

func sysTimerCreate(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	clock := int32(a[0])
	if _, err := timerClock(clock); err != nil {
		return 0, err
	}
	var ev *kernel.Sigevent
	if a[1] != 0 {
		b := make([]byte, 64) // sizeof(struct sigevent)
		if err := copyIn(t, a[1], b); err != nil {
			return 0, err
		}
		ev = &kernel.Sigevent{
			Value:  le.Uint64(b[0:]),
			Signo:  int32(le.Uint32(b[8:])),
			Notify: int32(le.Uint32(b[12:])),
			TID:    int32(le.Uint32(b[16:])),
		}
	}
	id, err := t.TimerCreate(clock, ev)
	if err != nil {
		return 0, err
	}
	if err := putU32(t, a[2], uint32(id)); err != nil {
		t.TimerDelete(id)
		return 0, err
	}
	return 0, nil
}

func sysTimerSettime(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	id, flags := int32(a[0]), a[1]
	clock, err := t.TimerClock(id)
	if err != nil {
		return 0, err
	}
	if a[2] == 0 {
		return 0, unix.EINVAL
	}
	interval, value, err := copyInItimerspec(t, a[2])
	if err != nil {
		return 0, err
	}
	expired := false
	if flags&unix.TIMER_ABSTIME != 0 && value > 0 {
		host, _ := timerClock(clock)
		value, expired = untilAbs(host, value)
	}
	old, err := t.TimerSet(id, value, interval, expired)
	if err != nil {
		return 0, err
	}
	if a[3] != 0 {
		return 0, copyOut(t, a[3], encodeItimerspec(old.Value, old.Interval))
	}
	return 0, nil
}

func sysTimerGettime(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	v, err := t.TimerGet(int32(a[0]))
	if err != nil {
		return 0, err
	}
	return 0, copyOut(t, a[1], encodeItimerspec(v.Value, v.Interval))
}

func sysTimerGetoverrun(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	n, err := t.TimerOverrun(int32(a[0]))
	return uintptr(n), err
}

func sysTimerDelete(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, t.TimerDelete(int32(a[0]))
}
