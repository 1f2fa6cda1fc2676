package syscalls

import (
	"time"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/fs/timerfd"
	"moat/kernel"
)

func sysTimerfdCreate(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	switch int32(a[0]) {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME, unix.CLOCK_REALTIME_ALARM, unix.CLOCK_BOOTTIME_ALARM:
	default:
		return 0, unix.EINVAL
	}
	flags := a[1]
	if flags&^(unix.TFD_NONBLOCK|unix.TFD_CLOEXEC) != 0 {
		return 0, unix.EINVAL
	}
	f := timerfd.New(flags&unix.TFD_NONBLOCK != 0)
	defer f.DecRef()
	fd, err := t.FDs().Install(f, 0, flags&unix.TFD_CLOEXEC != 0, nofile(t))
	return uintptr(fd), err
}

func timerOf(t *kernel.Task, fd uintptr) (*timerfd.Timer, func(), error) {
	f, err := getFile(t, fd)
	if err != nil {
		return nil, nil, err
	}
	tm, ok := f.Impl().(*timerfd.Timer)
	if !ok {
		f.DecRef()
		return nil, nil, unix.EINVAL
	}
	return tm, f.DecRef, nil
}

func encodeItimerspec(left, interval time.Duration) []byte {
	b := make([]byte, 32)
	le.PutUint64(b[0:], uint64(interval/time.Second))
	le.PutUint64(b[8:], uint64(interval%time.Second))
	le.PutUint64(b[16:], uint64(left/time.Second))
	le.PutUint64(b[24:], uint64(left%time.Second))
	return b
}

func sysTimerfdSettime(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	tm, done, err := timerOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer done()
	flags := a[1]
	if flags&^(unix.TFD_TIMER_ABSTIME|unix.TFD_TIMER_CANCEL_ON_SET) != 0 {
		return 0, unix.EINVAL
	}
	interval, err := copyInTimespec(t, a[2])
	if err != nil {
		return 0, err
	}
	value, err := copyInTimespec(t, a[2]+16)
	if err != nil {
		return 0, err
	}
	d := time.Duration(value.Sec)*time.Second + time.Duration(value.Nsec)
	if flags&unix.TFD_TIMER_ABSTIME != 0 && d > 0 {
		// Absolute times are measured on the timer's clock; moat's
		// timerfds run on the monotonic clock, which matches
		// CLOCK_MONOTONIC and, closely, CLOCK_BOOTTIME.
		var now unix.Timespec
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &now)
		d -= time.Duration(now.Sec)*time.Second + time.Duration(now.Nsec)
		d = max(d, time.Nanosecond)
	}
	oldLeft, oldInterval := tm.Set(d, time.Duration(interval.Sec)*time.Second+time.Duration(interval.Nsec))
	if a[3] != 0 {
		return 0, copyOut(t, a[3], encodeItimerspec(oldLeft, oldInterval))
	}
	return 0, nil
}

func sysTimerfdGettime(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	tm, done, err := timerOf(t, a[0])
	if err != nil {
		return 0, err
	}
	defer done()
	left, interval := tm.Get()
	return 0, copyOut(t, a[1], encodeItimerspec(left, interval))
}
