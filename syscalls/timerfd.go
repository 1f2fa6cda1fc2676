package syscalls

import (
	"time"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/fs/timerfd"
	"moat/kernel"
)

func sysTimerfdCreate(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	var clock int32
	switch id := int32(a[0]); id {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME, unix.CLOCK_REALTIME_ALARM, unix.CLOCK_BOOTTIME_ALARM:
		clock, _ = timerClock(id)
	default:
		return 0, unix.EINVAL
	}
	flags := a[1]
	if flags&^(unix.TFD_NONBLOCK|unix.TFD_CLOEXEC) != 0 {
		return 0, unix.EINVAL
	}
	f := timerfd.New(clock, flags&unix.TFD_NONBLOCK != 0)
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
	interval, d, err := copyInItimerspec(t, a[2])
	if err != nil {
		return 0, err
	}
	expired := false
	if flags&unix.TFD_TIMER_ABSTIME != 0 && d > 0 {
		d, expired = untilAbs(tm.Clock(), d)
	}
	oldLeft, oldInterval := tm.Settime(d, interval, expired)
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
