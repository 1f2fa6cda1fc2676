package syscalls

import (
	"time"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/fs/epoll"
	"moat/fs/eventfd"
	"moat/kernel"
	"moat/vfs"
)

func sysEventfd2(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	flags := uint32(a[1])
	if flags&^(unix.EFD_CLOEXEC|unix.EFD_NONBLOCK|unix.EFD_SEMAPHORE) != 0 {
		return 0, unix.EINVAL
	}
	f := eventfd.New(uint32(a[0]), flags&unix.EFD_SEMAPHORE != 0, flags&unix.EFD_NONBLOCK != 0)
	defer f.DecRef()
	fd, err := t.FDs().Install(f, 0, flags&unix.EFD_CLOEXEC != 0, nofile(t))
	return uintptr(fd), err
}

func sysEventfd(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return sysEventfd2(t, arch.SyscallArgs{a[0], 0})
}

func newEpoll(t *kernel.Task, cloexec bool) (uintptr, error) {
	f, _ := epoll.New()
	defer f.DecRef()
	fd, err := t.FDs().Install(f, 0, cloexec, nofile(t))
	return uintptr(fd), err
}

func sysEpollCreate(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if int32(a[0]) <= 0 {
		return 0, unix.EINVAL
	}
	return newEpoll(t, false)
}

func sysEpollCreate1(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if a[0]&^unix.EPOLL_CLOEXEC != 0 {
		return 0, unix.EINVAL
	}
	return newEpoll(t, a[0]&unix.EPOLL_CLOEXEC != 0)
}

// epollOf returns the epoll instance open at epfd.
func epollOf(t *kernel.Task, epfd uintptr) (*vfs.FileDescription, *epoll.Instance, error) {
	f, err := getFile(t, epfd)
	if err != nil {
		return nil, nil, err
	}
	in, ok := epoll.Of(f)
	if !ok {
		f.DecRef()
		return nil, nil, unix.EINVAL
	}
	return f, in, nil
}

// sysEpollCtl checks in Linux's order: the event (EFAULT), both fds
// (EBADF), the target's pollability (EPERM), epfd being an epoll file
// other than the target (EINVAL), EPOLLEXCLUSIVE's limits (EINVAL), then
// the operation (ELOOP, EEXIST, ENOENT, EINVAL for an unknown one).
func sysEpollCtl(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	op, fd := int(a[1]), int32(a[2])
	var events uint32
	var data uint64
	if op != unix.EPOLL_CTL_DEL { // even an unknown op: Linux reads its event
		b := make([]byte, 12) // struct epoll_event is packed on x86-64
		if err := copyIn(t, a[3], b); err != nil {
			return 0, err
		}
		events, data = le.Uint32(b), le.Uint64(b[4:])
	}
	ef, err := getFile(t, a[0])
	if err != nil {
		return 0, err
	}
	defer ef.DecRef()
	f, err := t.FDs().Get(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if _, ok := f.Impl().(vfs.Poller); !ok {
		return 0, unix.EPERM // regular files and directories cannot be watched, as on Linux
	}
	in, ok := epoll.Of(ef)
	if !ok || f == ef {
		return 0, unix.EINVAL
	}
	if op != unix.EPOLL_CTL_DEL && events&epoll.EPOLLEXCL != 0 {
		_, nested := epoll.Of(f)
		if op == unix.EPOLL_CTL_MOD || op == unix.EPOLL_CTL_ADD && (nested || events&^epoll.ExclusiveOK != 0) {
			return 0, unix.EINVAL
		}
	}
	switch op {
	case unix.EPOLL_CTL_ADD:
		return 0, in.Add(fd, f, events, data)
	case unix.EPOLL_CTL_MOD:
		return 0, in.Modify(fd, f, events, data)
	case unix.EPOLL_CTL_DEL:
		return 0, in.Delete(fd, f)
	}
	return 0, unix.EINVAL
}

// epollWait waits for events on epfd until the deadline (zero: forever).
func epollWait(t *kernel.Task, epfd, eventsAddr uintptr, max int32, deadline time.Time, noWait bool) (uintptr, error) {
	if max <= 0 || max > (1<<31-1)/12 {
		return 0, unix.EINVAL
	}
	if !accessOK(eventsAddr, uintptr(max)*12) {
		return 0, unix.EFAULT
	}
	ef, in, err := epollOf(t, epfd)
	if err != nil {
		return 0, err
	}
	defer ef.DecRef()
	deliver := func(evs []epoll.Event) error {
		b := make([]byte, 12*len(evs))
		for i, e := range evs {
			le.PutUint32(b[12*i:], e.Events)
			le.PutUint64(b[12*i+4:], e.Data)
		}
		return copyOut(t, eventsAddr, b)
	}
	for {
		n, w, err := in.Report(int(max), deliver, t.Parker())
		if err != nil || n > 0 {
			return uintptr(n), err
		}
		if noWait || !deadline.IsZero() && !time.Now().Before(deadline) {
			return 0, nil
		}
		period := time.Duration(0)
		if w.Periodic {
			period = hostPollPeriod
		}
		switch err := blockAny(t, w.Chans, w.Parked, deadline, period); err {
		case nil:
		case unix.ETIMEDOUT:
			return 0, nil
		case kernel.ErrRestartSys:
			return 0, unix.EINTR // epoll_wait is never restarted
		default:
			return 0, err
		}
	}
}

func msDeadline(ms int32) (time.Time, bool) {
	if ms < 0 {
		return time.Time{}, false
	}
	return time.Now().Add(time.Duration(ms) * time.Millisecond), ms == 0
}

func sysEpollWait(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	d, noWait := msDeadline(int32(a[3]))
	return epollWait(t, a[0], a[1], int32(a[2]), d, noWait)
}

func sysEpollPwait(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	masked, err := sigmaskArg(t, a[4], a[5])
	if err != nil {
		return 0, err
	}
	d, noWait := msDeadline(int32(a[3]))
	n, err := epollWait(t, a[0], a[1], int32(a[2]), d, noWait)
	if masked {
		restoreEpollMask(t, err)
	}
	return n, err
}

func sysEpollPwait2(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	deadline, noWait, err := timeoutArg(t, a[3])
	if err != nil {
		return 0, err
	}
	masked, err := sigmaskArg(t, a[4], a[5])
	if err != nil {
		return 0, err
	}
	n, err := epollWait(t, a[0], a[1], int32(a[2]), deadline, noWait)
	if masked {
		restoreEpollMask(t, err)
	}
	return n, err
}

// restoreEpollMask ends epoll_pwait's temporary signal mask, unless a
// signal interrupted the wait (EINTR, never restarted): that signal is
// delivered under the temporary mask, whose frame restores the old one,
// as Linux's restore_saved_sigmask_unless.
func restoreEpollMask(t *kernel.Task, err error) {
	if err == unix.EINTR {
		return // deliverSignals restores it
	}
	t.RestoreTemporaryMask(err)
}
