// Package epoll implements epoll instances: an interest list of open
// files, each with the events it waits for, built on the vfs.Poller
// readiness of those files. An edge-triggered interest (EPOLLET) reports
// once, then again only after a change of the file that may raise one of
// its events (vfs.EdgePoller; any change for files that cannot tell);
// files that cannot report changes at all are served level-triggered.
// EPOLLONESHOT disables an interest after it reports once. A waiter also
// wakes when the interest list gains or changes an entry, as on Linux,
// where epoll_ctl wakes epoll_wait when the added or modified file is
// ready: a thread may block on an instance before another adds the file
// it waits for (Go's network poller does).
//
// An interest does not keep its file open, as on Linux: when the file's
// last descriptor is closed, it leaves the interest list
// (vfs.FileDescription.OnRelease), so a pipe's write end closed while
// registered still gives its reader end-of-file, and the fd number can be
// added again.
//
// Lock order: Instance.mu is a leaf lock (readiness is checked with it
// released, and no file reference is dropped with it held: the last one
// runs the file's release hooks, which take it).
package epoll

import (
	"sync"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// Event flags beyond the poll ones.
const (
	EPOLLRDHUP   = 0x2000
	EPOLLEXCL    = 1 << 28
	EPOLLWAKEUP  = 1 << 29
	EPOLLONESHOT = 1 << 30
	EPOLLET      = 1 << 31
)

type interest struct {
	file     *vfs.FileDescription // not a reference: see forget
	events   uint32
	data     uint64
	disabled bool // EPOLLONESHOT after reporting
	// EPOLLET: after a report, watch is closed by the next change that
	// re-arms the interest.
	reported bool
	watch    <-chan struct{}
}

// armed reports whether an edge-triggered interest may report: never
// reported since added or modified, or changed since.
//
// Preconditions: Instance.mu is held.
func (it *interest) armed() bool {
	if !it.reported || it.watch == nil {
		return true
	}
	select {
	case <-it.watch:
		return true
	default:
		return false
	}
}

// Instance is an epoll instance.
type Instance struct {
	mu    sync.Mutex
	items map[int32]*interest
	order []int32 // fds in insertion order, for a stable report order
	// listed is notified when an interest is added or modified, which
	// waiters must see: their channels are those of the old list.
	listed vfs.Changes
}

// New returns a new epoll file.
func New() (*vfs.FileDescription, *Instance) {
	in := &Instance{items: make(map[int32]*interest)}
	return vfs.NewFileDescription(in, vfs.Path{}, unix.O_RDWR), in
}

// Name is what /proc/PID/fd shows.
func (in *Instance) Name() string { return "anon_inode:[eventpoll]" }

// IsStream implements vfs.Stream.
func (in *Instance) IsStream() bool { return true }

// Read implements vfs.FileImpl: epoll files cannot be read.
func (in *Instance) Read(vfs.Context, []byte, int64) (int, error) { return 0, unix.EINVAL }

// Write implements vfs.FileImpl.
func (in *Instance) Write(vfs.Context, []byte, int64) (int, error) { return 0, unix.EINVAL }

// Release implements vfs.FileImpl: it forgets the interest list.
func (in *Instance) Release() {
	in.mu.Lock()
	items := in.items
	in.items, in.order = nil, nil
	in.mu.Unlock()
	for fd, it := range items {
		it.file.CancelRelease(releaseKey{in, fd})
	}
}

// releaseKey names an interest's registration with its file's release
// hooks.
type releaseKey struct {
	in *Instance
	fd int32
}

// Add adds fd (open as f, which the caller holds a reference on) to the
// interest list.
func (in *Instance) Add(fd int32, f *vfs.FileDescription, events uint32, data uint64) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.items == nil {
		return unix.EBADF // released (an epoll fd cannot be used after close)
	}
	if _, ok := in.items[fd]; ok {
		return unix.EEXIST
	}
	f.OnRelease(releaseKey{in, fd}, func() { in.forget(fd, f) })
	in.items[fd] = &interest{file: f, events: events, data: data}
	in.order = append(in.order, fd)
	in.listed.Notify()
	return nil
}

// forget removes fd's interest if it is still f's: f's last descriptor
// was closed.
func (in *Instance) forget(fd int32, f *vfs.FileDescription) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if it, ok := in.items[fd]; ok && it.file == f {
		in.removeLocked(fd)
	}
}

// removeLocked drops fd from the interest list.
//
// Preconditions: in.mu is held; fd is in it.
func (in *Instance) removeLocked(fd int32) {
	delete(in.items, fd)
	for i, x := range in.order {
		if x == fd {
			in.order = append(in.order[:i], in.order[i+1:]...)
			break
		}
	}
}

// Modify changes fd's events and data.
func (in *Instance) Modify(fd int32, events uint32, data uint64) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	it, ok := in.items[fd]
	if !ok {
		return unix.ENOENT
	}
	if it.events&EPOLLEXCL != 0 || events&EPOLLEXCL != 0 {
		return unix.EINVAL
	}
	it.events, it.data, it.disabled, it.reported = events, data, false, false
	in.listed.Notify()
	return nil
}

// Delete removes fd from the interest list.
func (in *Instance) Delete(fd int32) error {
	in.mu.Lock()
	it, ok := in.items[fd]
	if ok {
		in.removeLocked(fd)
	}
	in.mu.Unlock()
	if !ok {
		return unix.ENOENT
	}
	it.file.CancelRelease(releaseKey{in, fd})
	return nil
}

// Event is one reported event.
type Event struct {
	Events uint32
	Data   uint64
}

// Ready returns up to max ready events, and the channels to wait on for
// changes when there are none (nil entries: files that must be polled),
// among them the interest list's own (Add, Modify).
// The events are consumed: one-shot and edge-triggered interests do not
// report them again.
func (in *Instance) Ready(max int) ([]Event, []<-chan struct{}, bool) {
	return in.ready(max, true)
}

func (in *Instance) ready(max int, consume bool) ([]Event, []<-chan struct{}, bool) {
	in.mu.Lock()
	var items []*interest
	for _, fd := range in.order {
		// A reference for the look: the list holds none, and the
		// last descriptor may be closed meanwhile.
		if it := in.items[fd]; !it.disabled && it.file.TryIncRef() {
			items = append(items, it)
		}
	}
	chans := []<-chan struct{}{in.listed.Chan()} // taken with the list
	in.mu.Unlock()
	defer func() { // with in.mu released: a last reference runs forget
		for _, it := range items {
			it.file.DecRef()
		}
	}()
	var out []Event
	periodic := false
	for _, it := range items {
		edge := it.events&EPOLLET != 0
		var c <-chan struct{}
		if edge {
			c = it.file.ChangedFor(it.events) // before the readiness: no edge is missed
		}
		r := it.file.Readiness() & (it.events | vfs.PollErr | vfs.PollHup)
		in.mu.Lock()
		armed := !edge || it.armed()
		watch := it.watch
		in.mu.Unlock()
		if r == 0 || !armed {
			switch {
			case r != 0: // ready but reported: wait for its next edge
				chans = append(chans, watch)
			case c != nil:
				chans = append(chans, c)
			default:
				if c = it.file.Changed(); c != nil {
					chans = append(chans, c)
				} else {
					periodic = true
				}
			}
			continue
		}
		if len(out) < max {
			out = append(out, Event{Events: r, Data: it.data})
			if !consume {
				continue
			}
			in.mu.Lock()
			if it.events&EPOLLONESHOT != 0 {
				it.disabled = true
			}
			if edge {
				it.reported, it.watch = true, c
			}
			in.mu.Unlock()
		}
	}
	return out, chans, periodic
}

// Readiness implements vfs.Poller: an epoll file is readable when an
// interest is ready (nested epoll).
func (in *Instance) Readiness() uint32 {
	ev, _, _ := in.ready(1, false) // a look, not a report
	if len(ev) > 0 {
		return vfs.PollIn | vfs.PollRdNorm
	}
	return 0
}

// Changed implements vfs.Poller: nested pollers re-check periodically.
func (in *Instance) Changed() <-chan struct{} { return nil }
