package syscalls

import (
	"runtime"

	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/arch"
	"moat/kernel"
)

// Scheduling. The sandbox's tasks are scheduled by the host as the
// sentry's threads; these calls report and accept what Linux would for a
// normal (SCHED_OTHER) process without changing host scheduling.

// Scheduling policies (linux/sched.h).
const (
	schedOther = 0
	schedFIFO  = 1
	schedRR    = 2
	schedBatch = 3
	schedIdle  = 5
)

// selfOrESRCH checks a pid argument that may name only the caller.
func selfOrESRCH(t *kernel.Task, pid int32) error {
	if pid < 0 {
		return unix.EINVAL
	}
	if pid != 0 && pid != t.TID() && pid != t.TGID() {
		return unix.ESRCH
	}
	return nil
}

func sysSchedSetaffinity(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if err := selfOrESRCH(t, int32(a[0])); err != nil {
		return 0, err
	}
	size := uintptr(uint32(a[1]))
	b := make([]byte, min(size, 1024))
	if err := copyIn(t, a[2], b); err != nil {
		return 0, err
	}
	for i := 0; i < runtime.NumCPU() && i/8 < len(b); i++ {
		if b[i/8]&(1<<(i%8)) != 0 {
			return 0, nil // at least one usable CPU: accepted
		}
	}
	return 0, unix.EINVAL
}

func sysGetcpu(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if a[0] != 0 {
		if err := putU32(t, a[0], 0); err != nil {
			return 0, err
		}
	}
	if a[1] != 0 {
		if err := putU32(t, a[1], 0); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

func sysSchedGetscheduler(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, selfOrESRCH(t, int32(a[0])) // SCHED_OTHER
}

func sysSchedSetscheduler(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if err := selfOrESRCH(t, int32(a[0])); err != nil {
		return 0, err
	}
	prio, err := getU32(t, a[2])
	if err != nil {
		return 0, err
	}
	switch policy := int(a[1]) &^ 0x40000000; policy { // SCHED_RESET_ON_FORK
	case schedOther, schedBatch, schedIdle:
		if prio != 0 {
			return 0, unix.EINVAL
		}
		return 0, nil
	case schedFIFO, schedRR:
		if prio < 1 || prio > 99 {
			return 0, unix.EINVAL
		}
		return 0, unix.EPERM // support: real-time scheduling is not offered in the sandbox
	}
	return 0, unix.EINVAL
}

func sysSchedGetparam(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if err := selfOrESRCH(t, int32(a[0])); err != nil {
		return 0, err
	}
	return 0, putU32(t, a[1], 0)
}

func sysSchedSetparam(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if err := selfOrESRCH(t, int32(a[0])); err != nil {
		return 0, err
	}
	prio, err := getU32(t, a[1])
	if err != nil {
		return 0, err
	}
	if prio != 0 {
		return 0, unix.EINVAL
	}
	return 0, nil
}

func sysSchedPriorityMax(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	switch int(a[0]) {
	case schedFIFO, schedRR:
		return 99, nil
	case schedOther, schedBatch, schedIdle, 6: // SCHED_DEADLINE
		return 0, nil
	}
	return 0, unix.EINVAL
}

func sysSchedPriorityMin(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	switch int(a[0]) {
	case schedFIFO, schedRR:
		return 1, nil
	case schedOther, schedBatch, schedIdle, 6:
		return 0, nil
	}
	return 0, unix.EINVAL
}

// getpriority/setpriority: nice values, recorded per process.
func sysGetpriority(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if err := priorityTarget(t, int(a[0]), int32(a[1])); err != nil {
		return 0, err
	}
	return uintptr(20 - t.Nice()), nil // the kernel's encoding: 20 - nice
}

func sysSetpriority(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if err := priorityTarget(t, int(a[0]), int32(a[1])); err != nil {
		return 0, err
	}
	nice := max(-20, min(19, int32(a[2])))
	if nice < t.Nice() && !t.HasCapability(linux.CAP_SYS_NICE) {
		return 0, unix.EACCES // raising priority needs CAP_SYS_NICE
	}
	t.SetNice(nice)
	return 0, nil
}

func priorityTarget(t *kernel.Task, which int, who int32) error {
	switch which {
	case unix.PRIO_PROCESS:
		return selfOrESRCH(t, who)
	case unix.PRIO_PGRP, unix.PRIO_USER:
		if who != 0 {
			return unix.ESRCH // support: only the caller's own group or user (who 0)
		}
		return nil
	}
	return unix.EINVAL
}

func getU32(t *kernel.Task, addr uintptr) (uint32, error) {
	var b [4]byte
	if err := copyIn(t, addr, b[:]); err != nil {
		return 0, err
	}
	return le.Uint32(b[:]), nil
}
