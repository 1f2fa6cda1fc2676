package syscalls

import (
	"crypto/rand"
	"time"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/kernel"
)

// Clocks are read from the host: the sandbox shares the host's time.
func clockID(id int32) (int32, error) {
	switch id {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_MONOTONIC_RAW,
		unix.CLOCK_REALTIME_COARSE, unix.CLOCK_MONOTONIC_COARSE, unix.CLOCK_BOOTTIME,
		unix.CLOCK_TAI:
		return id, nil
	case unix.CLOCK_PROCESS_CPUTIME_ID, unix.CLOCK_THREAD_CPUTIME_ID:
		// The app's CPU time is the stub's: the host thread that runs it.
		return unix.CLOCK_MONOTONIC, nil
	}
	return 0, unix.EINVAL
}

func encodeTimespec(ts unix.Timespec) []byte {
	b := make([]byte, 16)
	le.PutUint64(b, uint64(ts.Sec))
	le.PutUint64(b[8:], uint64(ts.Nsec))
	return b
}

func sysClockGettime(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
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

// sleepFor blocks the task for d. A signal handler interrupts it with
// EINTR; a signal without one lets it sleep again for the full time (the
// remaining time is not tracked yet).
func sleepFor(t *kernel.Task, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	err := t.BlockTimeout(nil, time.Now().Add(d))
	if err == unix.ETIMEDOUT {
		return nil
	}
	if err == kernel.ErrRestartSys {
		return kernel.ErrRestartNoHand
	}
	return err
}

func sysNanosleep(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	ts, err := copyInTimespec(t, a[0])
	if err != nil {
		return 0, err
	}
	return 0, sleepFor(t, time.Duration(ts.Sec)*time.Second+time.Duration(ts.Nsec))
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
	d := time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec)
	if flags&unix.TIMER_ABSTIME != 0 {
		hid, _ := clockID(id)
		var now unix.Timespec
		unix.ClockGettime(hid, &now)
		d -= time.Duration(now.Sec)*time.Second + time.Duration(now.Nsec)
	}
	return 0, sleepFor(t, d)
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
