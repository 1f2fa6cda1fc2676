package syscalls

import (
	"time"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/kernel"
)

// itimer kinds.
const (
	itimerReal    = 0
	itimerVirtual = 1
	itimerProf    = 2
)

func durationOfTimeval(b []byte) (time.Duration, error) {
	sec, usec := int64(le.Uint64(b)), int64(le.Uint64(b[8:]))
	if sec < 0 || usec < 0 || usec >= 1e6 {
		return 0, unix.EINVAL
	}
	return tvDuration(sec, usec), nil
}

func putTimeval(b []byte, d time.Duration) {
	le.PutUint64(b, uint64(d/time.Second))
	le.PutUint64(b[8:], uint64(d%time.Second/time.Microsecond))
}

func encodeItimerval(v kernel.ITimerValue) []byte {
	b := make([]byte, 32)
	putTimeval(b, v.Interval)
	putTimeval(b[16:], v.Value)
	return b
}

func checkItimer(which uintptr) error {
	if which > itimerProf {
		return unix.EINVAL
	}
	return nil
}

func sysGetitimer(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if err := checkItimer(a[0]); err != nil {
		return 0, err
	}
	v := t.RealTimer()
	if a[0] != itimerReal {
		v = t.CPUTimer(int(a[0]))
	}
	return 0, copyOut(t, a[1], encodeItimerval(v))
}

func sysSetitimer(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if err := checkItimer(a[0]); err != nil {
		return 0, err
	}
	var v kernel.ITimerValue
	if a[1] != 0 {
		b := make([]byte, 32)
		if err := copyIn(t, a[1], b); err != nil {
			return 0, err
		}
		var err error
		if v.Interval, err = durationOfTimeval(b); err != nil {
			return 0, err
		}
		if v.Value, err = durationOfTimeval(b[16:]); err != nil {
			return 0, err
		}
	}
	var old kernel.ITimerValue
	if a[0] == itimerReal {
		old = t.SetRealTimer(v)
	} else {
		old = t.SetCPUTimer(int(a[0]), v)
	}
	if a[2] != 0 {
		return 0, copyOut(t, a[2], encodeItimerval(old))
	}
	return 0, nil
}

func sysAlarm(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	secs := uint32(a[0])
	old := t.SetRealTimer(kernel.ITimerValue{Value: time.Duration(secs) * time.Second})
	// Linux rounds the time left to the nearest second, and reports at
	// least 1 for a timer that had not expired yet.
	left := uintptr((old.Value + 500*time.Millisecond) / time.Second)
	if left == 0 && old.Value > 0 {
		left = 1
	}
	return left, nil
}
