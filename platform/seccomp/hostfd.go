package seccomp

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"moat/platform"
)

// Host files in stubs (platform.HostMapper). The memory manager maps
// private mappings of the sandbox's read-only host files from the host
// file itself, so that a program's text is the host's page cache rather
// than a copy in the memory file (mm/hostmap.go). The stub then needs a
// descriptor of the file, which only the sentry can open. The zygote
// installs the stub filter with a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER),
// which the sentry takes from it (pidfd_getfd); a call at gate_getfd,
// the only one the filter hands to the listener (SECCOMP_RET_USER_NOTIF),
// is where the sentry installs a descriptor in a stub
// (SECCOMP_IOCTL_NOTIF_ADDFD, at a number it picks, answering the call
// with it). Every stub forked from the zygote shares its filter and so
// the listener; the zygote's own descriptor of it is closed in each child
// before app code runs.
//
// A stub keeps each host file it got, under the file's content key, for
// as long as it lives (an exec keeps them: the files are the sandbox's
// read-only view, which it could open anyway). The zygote is given each
// file too, after the stub that asked (in the background), so that the
// stubs it forks later start with them: a shell loop's every exec of
// /bin/true needs the same four files. The zygote's files are numbered
// from hostFDBase, a stub's own from hostFDBase+zygoteFDMax; beyond
// hostFDMax-zygoteFDMax of its own, a stub gives its oldest number to
// the next file.
// The descriptors are read-only (mm.HostBacked promises it), and the
// filter lets the gates map only the memory file or those numbers, so
// app code that jumps to a gate can map a host file it could read anyway,
// never write one.
//
// Trust: a notification the sentry did not ask for (app code that jumps
// to gate_getfd) is refused with EPERM: one is used only if it comes from
// the stub thread asked, at gate_getfd.
//
// Locks: addressSpace.fdMu, then listener.mu (see the package comment).

const (
	// listenerFD is the zygote's descriptor of its listener (handler.S's
	// LISTENER_FD): the lowest free one after setup's close_range.
	listenerFD = 1
	// A stub's host files are at [hostFDBase, hostFDBase+hostFDMax), the
	// first zygoteFDMax the zygote's.
	hostFDBase  = 16
	hostFDMax   = 512
	zygoteFDMax = 256
)

// listener is a zygote's filter's listener, shared with the address
// spaces forked from it; each holds a reference.
type listener struct {
	fd   int
	mu   sync.Mutex // one hand-over at a time: the stubs share its queue
	refs atomic.Int32
}

func (l *listener) incRef() { l.refs.Add(1) }

func (l *listener) decRef() {
	if l.refs.Add(-1) == 0 {
		unix.Close(l.fd)
	}
}

// takeListener takes the listener the zygote pid installed as its fd zfd,
// or returns nil if the host does not let it (pidfd_getfd needs Linux 5.6
// and ptrace access to the zygote, its own child).
func takeListener(pid, zfd int) *listener {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(pidfd)
	fd, err := unix.PidfdGetfd(pidfd, zfd, 0)
	if err != nil {
		return nil
	}
	// Linux 6.6: wake the stub on this CPU when answering, as a hand-over
	// between the two rather than a wake of another CPU. Only a speed-up.
	_ = unix.IoctlSetInt(fd, unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
	l := &listener{fd: fd}
	l.refs.Store(1)
	return l
}

// MapsHostFiles implements platform.HostMapping.
func (p *Platform) MapsHostFiles() bool { return !p.noHostFiles.Load() }

var _ platform.HostMapper = (*addressSpace)(nil)

// MapsHost implements platform.HostMapper.
func (as *addressSpace) MapsHost() bool {
	return as.lis != nil && !as.noHost.Load() && !as.p.noHostFiles.Load()
}

// MapHost implements platform.HostMapper: the stub maps its own
// descriptor of f, installed the first time, shared and read-only (the
// descriptor is read-only: no mprotect can make it writable).
func (as *addressSpace) MapHost(addr uintptr, f platform.HostFile, off int64, length uintptr, at platform.AccessType) error {
	th, err := as.current()
	if err != nil {
		return err
	}
	fd, err := as.stubFD(th, f)
	if err != nil {
		return err
	}
	at.Write = false
	return as.opOn(th, unix.SYS_MMAP, addr, length, at.Prot(), off, fd)
}

// stubFD returns the stub's descriptor of f, installing it first if the
// stub has none. A failure turns host mapping off for the address space:
// the memory manager then copies what it would have mapped.
func (as *addressSpace) stubFD(th *thread, f platform.HostFile) (int, error) {
	as.fdMu.Lock()
	defer as.fdMu.Unlock()
	if fd, ok := as.hostFDs[f.Key]; ok {
		return fd, nil
	}
	if as.hostFDs == nil {
		as.hostFDs = make(map[any]int)
	}
	target := hostFDBase + zygoteFDMax + as.nextFD%(hostFDMax-zygoteFDMax)
	if as.nextFD >= hostFDMax-zygoteFDMax {
		for k, fd := range as.hostFDs {
			if fd == target {
				delete(as.hostFDs, k) // its mappings stay; the number is replaced
				break
			}
		}
	}
	as.nextFD++
	if err := th.installFD(as.lis, f.FD, target); err != nil {
		as.noHost.Store(true)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			as.p.noHostFiles.Store(true) // the host cannot: stop trying
		}
		return 0, err
	}
	as.hostFDs[f.Key] = target
	if dup, err := unix.FcntlInt(uintptr(f.FD), unix.F_DUPFD_CLOEXEC, 0); err == nil {
		go as.p.giveZygote(as.lis, f.Key, dup)
	}
	return target, nil
}

// giveZygote installs fd, then closes it, in the zygote as the file with
// key, unless the zygote has it, or has zygoteFDMax files, or is not the
// one whose listener is lis any more.
func (p *Platform) giveZygote(lis *listener, key any, fd int) {
	defer unix.Close(fd)
	p.zmu.Lock()
	defer p.zmu.Unlock()
	z := p.zygote
	if z == nil || z.as.lis != lis || len(p.zfds) >= zygoteFDMax {
		return
	}
	if _, ok := p.zfds[key]; ok {
		return
	}
	target := hostFDBase + len(p.zfds)
	if z.th.installFD(lis, fd, target) != nil {
		return // (the zygote has no number in use there: try again later)
	}
	if p.zfds == nil {
		p.zfds = make(map[any]int)
	}
	p.zfds[key] = target
}

// errNoNotification: the stub's call at gate_getfd returned without
// reaching the listener.
var errNoNotification = errors.New("seccomp: the stub's request for a file did not reach the sentry")

// installFD has the stub thread, waiting in an event, call at gate_getfd,
// and answers the call by installing the sentry's src as the stub's fd
// target.
func (th *thread) installFD(l *listener, src, target int) error {
	if !th.inEvent {
		return fmt.Errorf("seccomp: address-space operation while the stub runs app code")
	}
	l.mu.Lock()
	th.post(stGetFD, 0)
	herr := l.hand(th, src, target)
	l.mu.Unlock()
	fd, err := th.result()
	switch {
	case err != nil && herr == nil:
		return fmt.Errorf("seccomp: installing a host file in the stub: %w", err)
	case herr != nil:
		return herr
	case fd != uintptr(target):
		return fmt.Errorf("seccomp: installing a host file in the stub: got fd %d, want %d", fd, target)
	}
	return nil
}

// handPoll is how long hand waits for the notification before it checks
// that the stub lives.
const handPoll = 20 * time.Millisecond

// hand waits for th's call at gate_getfd and answers it with src
// installed at target.
//
// Preconditions: l.mu is held.
func (l *listener) hand(th *thread, src, target int) error {
	gate := uint64(codePage + offGateGetfd + 2) // seccomp sees rip after the syscall
	for {
		ready, err := pollIn(l.fd, handPoll)
		if err != nil {
			return err
		}
		if !ready {
			if th.hasEvent() {
				return errNoNotification // (ENOSYS: the listener is gone)
			}
			if s := th.as.s; s.Dead() || unix.Kill(s.PID, 0) != nil {
				return platform.ErrAddressSpaceDead
			}
			continue
		}
		n, err := notifRecv(l.fd)
		if err == unix.EINTR || err == unix.ENOENT {
			continue // (ENOENT: the caller was interrupted meanwhile)
		}
		if err != nil {
			return err
		}
		if int(n.pid) != th.hostTID || n.data.ip != gate || n.data.nr != unix.SYS_GETPID {
			_ = notifRefuse(l.fd, n.id, unix.EPERM) // not ours: app code at the gate
			continue
		}
		if err := notifAddFD(l.fd, n.id, src, target); err != nil {
			_ = notifRefuse(l.fd, n.id, unix.EBADF)
			return fmt.Errorf("seccomp: installing a host file in the stub: %w", err)
		}
		return nil
	}
}

// pollIn waits up to d for fd to be readable.
func pollIn(fd int, d time.Duration) (bool, error) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(d/time.Millisecond))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, err
		}
		if n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
			return false, unix.EBADF
		}
		return n > 0, nil
	}
}
