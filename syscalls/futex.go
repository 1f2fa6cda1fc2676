package syscalls

import (
	"time"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/kernel"
)

// futex operations and flags (linux/futex.h).
const (
	futexWait          = 0
	futexWake          = 1
	futexRequeue       = 3
	futexCmpRequeue    = 4
	futexWakeOp        = 5
	futexLockPI        = 6
	futexUnlockPI      = 7
	futexTrylockPI     = 8
	futexWaitBitset    = 9
	futexWakeBitset    = 10
	futexWaitRequeuePI = 11
	futexCmpRequeuePI  = 12
	futexLockPI2       = 13

	futexPrivateFlag   = 128
	futexClockRealtime = 256
)

// sysFutex implements futex(2), private and shared (across processes
// through shared anonymous memory).
func sysFutex(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	// op is an int: the register's upper half is ignored, as on Linux.
	addr, op, val, tsAddr, addr2, val3 := a[0], int(int32(a[1])), uint32(a[2]), a[3], a[4], uint32(a[5])
	cmd := op &^ (futexPrivateFlag | futexClockRealtime)
	private := op&futexPrivateFlag != 0
	if op&futexClockRealtime != 0 && cmd != futexWaitBitset && cmd != futexLockPI2 && cmd != futexWaitRequeuePI {
		return 0, unix.ENOSYS
	}
	switch cmd {
	case futexWait, futexWaitBitset:
		bitset := uint32(kernel.FutexBitsetAll)
		if cmd == futexWaitBitset {
			bitset = val3
		}
		var deadline time.Time
		if tsAddr != 0 {
			ts, err := copyInTimespec(t, tsAddr)
			if err != nil {
				return 0, err
			}
			d := tsDuration(ts)
			if cmd == futexWait {
				deadline = time.Now().Add(d) // relative, CLOCK_MONOTONIC
			} else {
				clock := int32(unix.CLOCK_MONOTONIC)
				if op&futexClockRealtime != 0 {
					clock = unix.CLOCK_REALTIME
				}
				var now unix.Timespec
				unix.ClockGettime(clock, &now)
				deadline = time.Now().Add(d - time.Duration(now.Sec)*time.Second - time.Duration(now.Nsec))
			}
		}
		return 0, t.FutexWait(addr, private, val, bitset, deadline)
	case futexWake, futexWakeBitset:
		bitset := uint32(kernel.FutexBitsetAll)
		if cmd == futexWakeBitset {
			bitset = val3
		}
		n, err := t.FutexWake(addr, private, int(int32(val)), bitset)
		return uintptr(n), err
	case futexRequeue, futexCmpRequeue:
		nWake, nRequeue := int(int32(val)), int(int32(uint32(tsAddr)))
		if nWake < 0 || nRequeue < 0 {
			return 0, unix.EINVAL
		}
		n, err := t.FutexRequeue(addr, addr2, private, nWake, nRequeue, cmd == futexCmpRequeue, val3)
		return uintptr(n), err
	case futexWakeOp:
		n, err := t.FutexWakeOp(addr, addr2, private, int(int32(val)), int(int32(uint32(tsAddr))), val3)
		return uintptr(n), err
	case futexLockPI, futexUnlockPI, futexTrylockPI, futexWaitRequeuePI, futexCmpRequeuePI, futexLockPI2:
		return 0, unix.ENOSYS // support: the priority-inheritance operations are not implemented yet
	}
	return 0, unix.ENOSYS
}
