package syscalls

import (
	"time"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/kernel"
	"moat/vfs"
)

// hostPollPeriod is how often a wait re-checks files that cannot signal
// readiness changes (moat's own stdio).
const hostPollPeriod = 10 * time.Millisecond

// pollFD is one struct pollfd.
type pollFD struct {
	fd      int32
	events  uint16
	revents uint16
}

// doPoll waits until one of fds is ready or the deadline passes (zero:
// forever; a deadline in the past: just check), and returns the number of
// ready entries.
func doPoll(t *kernel.Task, fds []pollFD, deadline time.Time, noWait bool) (int, error) {
	files := make([]*vfs.FileDescription, len(fds))
	for i, p := range fds {
		if p.fd >= 0 {
			if f, err := t.FDs().Get(p.fd); err == nil {
				files[i] = f
				defer f.DecRef()
			}
		}
	}
	for {
		n := 0
		var chans []<-chan struct{}
		period := time.Duration(0)
		parked := true
		for i := range fds {
			fds[i].revents = 0
			f := files[i]
			switch {
			case fds[i].fd < 0:
				continue
			case f == nil:
				fds[i].revents = vfs.PollNval
			default:
				// The change channel before the readiness: a
				// change between the two is not missed.
				c, p := f.ChangedParked(t.Parker())
				fds[i].revents = uint16(f.Readiness() & (uint32(fds[i].events) | vfs.PollErr | vfs.PollHup))
				if fds[i].revents == 0 {
					if c != nil {
						chans = append(chans, c)
						parked = parked && p
					} else {
						period = hostPollPeriod
					}
				}
			}
			if fds[i].revents != 0 {
				n++
			}
		}
		if n > 0 || noWait {
			return n, nil
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return 0, nil
		}
		switch err := blockAny(t, chans, parked, deadline, period); err {
		case nil:
		case unix.ETIMEDOUT:
			return 0, nil
		case kernel.ErrRestartSys:
			return 0, kernel.ErrRestartNoHand // poll is not restarted after a handler
		default:
			return 0, err
		}
	}
}

// blockAny waits for any of chans (BlockAny), parked if every change
// that closes one unparks t (BlockAnyParked).
func blockAny(t *kernel.Task, chans []<-chan struct{}, parked bool, deadline time.Time, period time.Duration) error {
	if parked {
		return t.BlockAnyParked(chans, deadline, period)
	}
	return t.BlockAny(chans, deadline, period)
}

func pollArgs(t *kernel.Task, addr uintptr, nfds uintptr) ([]pollFD, error) {
	if nfds > uintptr(t.Limits().Get(unix.RLIMIT_NOFILE).Cur) || nfds > 1<<20 {
		return nil, unix.EINVAL
	}
	b := make([]byte, 8*nfds)
	if err := copyIn(t, addr, b); err != nil {
		return nil, err
	}
	fds := make([]pollFD, nfds)
	for i := range fds {
		fds[i] = pollFD{fd: int32(le.Uint32(b[8*i:])), events: le.Uint16(b[8*i+4:])}
	}
	return fds, nil
}

func pollResults(t *kernel.Task, addr uintptr, fds []pollFD) error {
	b := make([]byte, 8*len(fds))
	for i, p := range fds {
		le.PutUint32(b[8*i:], uint32(p.fd))
		le.PutUint16(b[8*i+4:], p.events)
		le.PutUint16(b[8*i+6:], p.revents)
	}
	return copyOut(t, addr, b)
}

func sysPoll(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	fds, err := pollArgs(t, a[0], a[1])
	if err != nil {
		return 0, err
	}
	var deadline time.Time
	timeout := int32(a[2])
	if timeout > 0 {
		deadline = time.Now().Add(time.Duration(timeout) * time.Millisecond)
	}
	n, err := doPoll(t, fds, deadline, timeout == 0)
	if err != nil {
		return 0, err
	}
	return uintptr(n), pollResults(t, a[0], fds)
}

// timeoutArg reads a timespec timeout: zero time for none (a nil pointer),
// noWait for a zero timeout.
func timeoutArg(t *kernel.Task, addr uintptr) (deadline time.Time, noWait bool, err error) {
	if addr == 0 {
		return time.Time{}, false, nil
	}
	ts, err := copyInTimespec(t, addr)
	if err != nil {
		return time.Time{}, false, err
	}
	d := tsDuration(ts)
	return time.Now().Add(d), d == 0, nil
}

// sigmaskArg applies ppoll's and pselect6's temporary signal mask.
func sigmaskArg(t *kernel.Task, addr, size uintptr) (bool, error) {
	if addr == 0 {
		return false, nil
	}
	if size != sigsetSize {
		return false, unix.EINVAL
	}
	mask, err := getU64(t, addr)
	if err != nil {
		return false, err
	}
	t.SetTemporaryMask(mask)
	return true, nil
}

func sysPpoll(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	fds, err := pollArgs(t, a[0], a[1])
	if err != nil {
		return 0, err
	}
	deadline, noWait, err := timeoutArg(t, a[2])
	if err != nil {
		return 0, err
	}
	masked, err := sigmaskArg(t, a[3], a[4])
	if err != nil {
		return 0, err
	}
	n, err := doPoll(t, fds, deadline, noWait)
	if masked {
		t.RestoreTemporaryMask(err)
	}
	if err != nil {
		return 0, err
	}
	return uintptr(n), pollResults(t, a[0], fds)
}

// fdSetBytes is the size of an fd_set for nfds descriptors (whole longs).
func fdSetBytes(nfds int) int { return (nfds + 63) / 64 * 8 }

// doSelect implements select and pselect6 on top of doPoll. As in Linux,
// nfds is cut to the size of the fd table: bits past it are neither read,
// checked nor written back.
func doSelect(t *kernel.Task, nfds int32, sets [3]uintptr, deadline time.Time, noWait bool) (int, error) {
	if nfds < 0 {
		return 0, unix.EINVAL
	}
	nfds = min(nfds, int32(t.FDs().Size()))
	size := fdSetBytes(int(nfds))
	var bits [3][]byte
	for i, addr := range sets {
		if addr == 0 {
			continue
		}
		bits[i] = make([]byte, size)
		if err := copyIn(t, addr, bits[i]); err != nil {
			return 0, err
		}
	}
	isSet := func(b []byte, fd int) bool { return b != nil && b[fd/8]&(1<<(fd%8)) != 0 }
	var fds []pollFD
	for fd := 0; fd < int(nfds); fd++ {
		var ev uint16
		if isSet(bits[0], fd) {
			ev |= vfs.PollIn
		}
		if isSet(bits[1], fd) {
			ev |= vfs.PollOut
		}
		if isSet(bits[2], fd) {
			ev |= vfs.PollPri
		}
		if ev != 0 {
			fds = append(fds, pollFD{fd: int32(fd), events: ev})
		}
	}
	if _, err := doPoll(t, fds, deadline, noWait); err != nil {
		return 0, err
	}
	for i := range bits {
		clear(bits[i])
	}
	n := 0
	for _, p := range fds {
		if p.revents&vfs.PollNval != 0 {
			return 0, unix.EBADF
		}
		set := func(i int, cond bool) {
			if cond && bits[i] != nil {
				bits[i][p.fd/8] |= 1 << (p.fd % 8)
				n++
			}
		}
		set(0, p.events&vfs.PollIn != 0 && p.revents&(vfs.PollIn|vfs.PollHup|vfs.PollErr) != 0)
		set(1, p.events&vfs.PollOut != 0 && p.revents&(vfs.PollOut|vfs.PollErr) != 0)
		set(2, p.events&vfs.PollPri != 0 && p.revents&vfs.PollPri != 0)
	}
	for i, addr := range sets {
		if addr != 0 {
			if err := copyOut(t, addr, bits[i]); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func sysSelect(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	var deadline time.Time
	noWait := false
	if a[4] != 0 {
		b := make([]byte, 16)
		if err := copyIn(t, a[4], b); err != nil {
			return 0, err
		}
		d, err := durationOfTimeval(b)
		if err != nil {
			return 0, err
		}
		deadline, noWait = time.Now().Add(d), d == 0
	}
	n, err := doSelect(t, int32(a[0]), [3]uintptr{a[1], a[2], a[3]}, deadline, noWait)
	if err != nil {
		return 0, err
	}
	if a[4] != 0 && n == 0 {
		copyOut(t, a[4], make([]byte, 16)) // the timeout ran out: remaining time zero
	}
	return uintptr(n), nil
}

func sysPselect6(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	deadline, noWait, err := timeoutArg(t, a[4])
	if err != nil {
		return 0, err
	}
	masked := false
	if a[5] != 0 {
		// struct { const sigset_t *ss; size_t ss_len; }
		b := make([]byte, 16)
		if err := copyIn(t, a[5], b); err != nil {
			return 0, err
		}
		if masked, err = sigmaskArg(t, uintptr(le.Uint64(b)), uintptr(le.Uint64(b[8:]))); err != nil {
			return 0, err
		}
	}
	n, err := doSelect(t, int32(a[0]), [3]uintptr{a[1], a[2], a[3]}, deadline, noWait)
	if masked {
		t.RestoreTemporaryMask(err)
	}
	return uintptr(n), err
}
