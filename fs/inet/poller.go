package inet

import (
	"sync"

	"golang.org/x/sys/unix"
)

// poller watches host sockets for readiness changes with one host epoll
// instance, edge-triggered, and calls each socket's notify on every
// change. One goroutine waits on the epoll descriptor for the whole
// sandbox; it runs only while there are events.
//
// Lock order: poller.mu is a leaf (notify functions are called without
// it).
type poller struct {
	epfd int
	mu   sync.Mutex
	fns  map[int32]func()
}

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &poller{epfd: epfd, fns: make(map[int32]func())}
	go p.run()
	return p, nil
}

// add watches fd; notify runs on every readiness change.
func (p *poller) add(fd int, notify func()) error {
	p.mu.Lock()
	p.fns[int32(fd)] = notify
	p.mu.Unlock()
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLPRI | unix.EPOLLRDHUP | unix.EPOLLET,
		Fd:     int32(fd),
	}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.remove(fd)
		return err
	}
	return nil
}

// remove stops watching fd; the caller closes it afterwards. An event
// already taken from epoll for fd may still reach a later socket that
// reuses the number: a spurious wake-up, which waiters tolerate.
func (p *poller) remove(fd int) {
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	p.mu.Lock()
	delete(p.fns, int32(fd))
	p.mu.Unlock()
}

func (p *poller) run() {
	events := make([]unix.EpollEvent, 64)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			p.mu.Lock()
			fn := p.fns[ev.Fd]
			p.mu.Unlock()
			if fn != nil {
				fn()
			}
		}
	}
}
