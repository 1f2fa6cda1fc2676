// Package epoll implements epoll instances: an interest list of open
// files, each with the events it waits for, built on the vfs.Poller
// readiness of those files.
//
// An interest belongs to a pair, the open file and the fd number it was
// added under, as on Linux: a dup of the fd is another interest, and a new
// file under the old number is not the registered one. It does not keep
// its file open: when the file's last descriptor is closed, it leaves the
// interest list (vfs.FileDescription.OnRelease), so a pipe's write end
// closed while registered still gives its reader end-of-file.
//
// An edge-triggered interest (EPOLLET) reports once, then again only after
// a change of the file that may raise one of its events (vfs.EdgePoller).
// Files that cannot tell which readiness a change may raise (sockets) may
// report an edge again after a change that raised none, and files that
// cannot report changes at all (a nested epoll instance) report it again
// at every wait, as level-triggered: an edge may come twice, never be
// lost. EPOLLONESHOT disables an interest after it reports once. A
// level-triggered interest that reports goes to the back of the report
// order, so that with few events per wait the ready files take turns.
// Events are consumed only once they have reached the app (Report): a
// wait that fails with EFAULT leaves them to the next.
//
// A waiter also wakes when the interest list gains or changes an entry,
// as on Linux, where epoll_ctl wakes epoll_wait when the added or modified
// file is ready: a thread may block on an instance before another adds the
// file it waits for (Go's network poller does).
//
// Instances nest (an epoll file in another's list) at most maxNests deep
// and never in a loop (ELOOP, Add), as on Linux: a nested instance's
// readiness is its list's, looked at recursively.
//
// Lock order: Instance.reportMu (an outer instance's before an inner's
// Instance.mu: a nested look takes no reportMu), then nestMu, then
// Instance.mu, a leaf: files' readiness is checked with it released, and
// no file reference is dropped with it held (the last one runs the file's
// release hooks, which take it and nestMu).
package epoll

import (
	"sync"

	"golang.org/x/sys/unix"

	"moat/park"
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

// ExclusiveOK are the events EPOLLEXCLUSIVE may come with.
const ExclusiveOK = vfs.PollIn | vfs.PollOut | vfs.PollErr | vfs.PollHup | EPOLLWAKEUP | EPOLLET | EPOLLEXCL

// maxNests is Linux's EP_MAX_NESTS: how deep instances may nest.
const maxNests = 4

// key names an interest: the file and the fd it was added under.
type key struct {
	fd   int32
	file *vfs.FileDescription // not a reference: see forget
}

type interest struct {
	key
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
	vfs.AnonInode // Stat, IsStream, NoopSeek

	// reportMu makes a report and its consumption one step (Report), so
	// that two waiters do not both take one edge.
	reportMu sync.Mutex

	mu    sync.Mutex
	items map[key]*interest // nil once released
	order []key             // the report order
	// listed is notified when an interest is added or modified, which
	// waiters must see: their channels are those of the old list.
	listed vfs.Changes

	// parents counts, by instance, the interests that hold this one in
	// other instances' lists. Guarded by nestMu.
	parents map[*Instance]int
}

// nestMu guards every Instance.parents, and makes the loop check and the
// insertion of a nested instance one step.
var nestMu sync.Mutex

// New returns a new epoll file.
func New() (*vfs.FileDescription, *Instance) {
	in := &Instance{items: make(map[key]*interest)}
	return vfs.NewFileDescription(in, vfs.Path{}, unix.O_RDWR), in
}

// Of returns the instance f is, if it is an epoll file.
func Of(f *vfs.FileDescription) (*Instance, bool) {
	in, ok := f.Impl().(*Instance)
	return in, ok
}

// Name is what /proc/PID/fd shows.
func (in *Instance) Name() string { return "anon_inode:[eventpoll]" }

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
	for k := range items {
		k.file.CancelRelease(releaseKey{in, k})
		in.unnest(k.file)
	}
}

// releaseKey names an interest's registration with its file's release
// hooks.
type releaseKey struct {
	in *Instance
	k  key
}

// Add adds fd, open as f (which the caller holds a reference on), to the
// interest list: EEXIST if it is there, ELOOP if f is an epoll instance
// that would nest too deep or in a loop.
func (in *Instance) Add(fd int32, f *vfs.FileDescription, events uint32, data uint64) error {
	child, nested := Of(f)
	if nested {
		nestMu.Lock()
		defer nestMu.Unlock()
		if loops(in, child) {
			return unix.ELOOP
		}
	}
	k := key{fd, f}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.items == nil {
		return unix.EBADF // released (only a racing close gets here)
	}
	if _, ok := in.items[k]; ok {
		return unix.EEXIST
	}
	if nested {
		if child.parents == nil {
			child.parents = make(map[*Instance]int)
		}
		child.parents[in]++
	}
	f.OnRelease(releaseKey{in, k}, func() { in.forget(k) })
	in.items[k] = &interest{key: k, events: events, data: data}
	in.order = append(in.order, k)
	in.listed.Notify()
	return nil
}

// loops reports whether adding child to in's list would make a loop or
// nest deeper than maxNests, as Linux's ep_loop_check: the depth below
// child, plus one, plus the depth above in.
//
// Preconditions: nestMu is held.
func loops(in, child *Instance) bool {
	below := child.depthBelow(in, 0, map[*Instance]int{})
	return below > maxNests || below+1+in.depthAbove(map[*Instance]int{}) > maxNests
}

// depthBelow returns how deep instances nest in in's list (0: none), or
// more than maxNests if target is among them. seen memoizes.
//
// Preconditions: nestMu is held.
func (in *Instance) depthBelow(target *Instance, depth int, seen map[*Instance]int) int {
	if d, ok := seen[in]; ok {
		return d
	}
	seen[in] = 0
	result := 0
	for _, c := range in.children() {
		if c == target || depth > maxNests {
			result = maxNests + 1
		} else {
			result = max(result, c.depthBelow(target, depth+1, seen)+1)
		}
		if result > maxNests {
			break
		}
	}
	seen[in] = result
	return result
}

// depthAbove returns how deep in is nested in other instances (0: not).
//
// Preconditions: nestMu is held.
func (in *Instance) depthAbove(seen map[*Instance]int) int {
	if d, ok := seen[in]; ok {
		return d
	}
	seen[in] = 0
	result := 0
	for p := range in.parents {
		result = max(result, p.depthAbove(seen)+1)
	}
	seen[in] = result
	return result
}

// children returns the instances in in's list.
func (in *Instance) children() []*Instance {
	in.mu.Lock()
	defer in.mu.Unlock()
	var cs []*Instance
	for k := range in.items {
		if c, ok := Of(k.file); ok {
			cs = append(cs, c)
		}
	}
	return cs
}

// unnest drops in from f's parents if f is an instance: an interest in f
// has left in's list.
func (in *Instance) unnest(f *vfs.FileDescription) {
	child, ok := Of(f)
	if !ok {
		return
	}
	nestMu.Lock()
	defer nestMu.Unlock()
	if child.parents[in]--; child.parents[in] <= 0 {
		delete(child.parents, in)
	}
}

// forget removes interest k: its file's last descriptor was closed.
func (in *Instance) forget(k key) {
	in.mu.Lock()
	_, ok := in.items[k]
	if ok {
		in.removeLocked(k)
	}
	in.mu.Unlock()
	if ok {
		in.unnest(k.file)
	}
}

// removeLocked drops k from the interest list.
//
// Preconditions: in.mu is held; k is in it.
func (in *Instance) removeLocked(k key) {
	delete(in.items, k)
	for i, x := range in.order {
		if x == k {
			in.order = append(in.order[:i], in.order[i+1:]...)
			break
		}
	}
}

// Modify changes the events and data of fd, open as f: ENOENT if it is not
// in the list, EINVAL if it was added with EPOLLEXCLUSIVE.
func (in *Instance) Modify(fd int32, f *vfs.FileDescription, events uint32, data uint64) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	it, ok := in.items[key{fd, f}]
	if !ok {
		return unix.ENOENT
	}
	if it.events&EPOLLEXCL != 0 {
		return unix.EINVAL
	}
	it.events, it.data, it.disabled, it.reported = events, data, false, false
	in.listed.Notify()
	return nil
}

// Delete removes fd, open as f, from the interest list.
func (in *Instance) Delete(fd int32, f *vfs.FileDescription) error {
	k := key{fd, f}
	in.mu.Lock()
	_, ok := in.items[k]
	if ok {
		in.removeLocked(k)
	}
	in.mu.Unlock()
	if !ok {
		return unix.ENOENT
	}
	f.CancelRelease(releaseKey{in, k})
	in.unnest(f)
	return nil
}

// Event is one reported event.
type Event struct {
	Events uint32
	Data   uint64
}

// report is an event found ready, with what consuming it needs.
type report struct {
	it   *interest
	ev   Event
	edge <-chan struct{} // the change that re-arms it (EPOLLET)
}

// Report hands up to max ready events to deliver (which copies them to
// the app) and consumes them if it succeeds: one-shot and edge-triggered
// interests then do not report them again. With none ready it returns the
// channels to wait on for changes (nil entries: files that must be polled)
// and whether some file must be polled periodically; with pk not nil, the
// changes that close the channels unpark pk too where the files can
// (vfs.ParkPoller), and parked says whether all of them can.
func (in *Instance) Report(max int, deliver func([]Event) error, pk *park.Parker) (n int, w Wait, err error) {
	in.reportMu.Lock()
	defer in.reportMu.Unlock()
	reps, w := in.scan(max, pk)
	if len(reps) == 0 {
		return 0, w, nil
	}
	evs := make([]Event, len(reps))
	for i, r := range reps {
		evs[i] = r.ev
	}
	if err := deliver(evs); err != nil {
		return 0, Wait{}, err
	}
	in.consume(reps)
	return len(evs), Wait{}, nil
}

// Wait is what a Report that found nothing ready says to wait for: any of
// Chans closed (nil entries never are), or Periodic's poll of files that
// cannot tell; Parked says every change that closes one of Chans also
// unparks the Parker given to Report.
type Wait struct {
	Chans    []<-chan struct{}
	Periodic bool
	Parked   bool
}

// consume marks reported events as taken.
func (in *Instance) consume(reps []report) {
	in.mu.Lock()
	defer in.mu.Unlock()
	back := make(map[key]bool)
	for _, r := range reps {
		it := r.it
		if in.items[it.key] != it {
			continue // removed meanwhile
		}
		if it.events&EPOLLONESHOT != 0 {
			it.disabled = true
		}
		if it.events&EPOLLET != 0 {
			it.reported, it.watch = true, r.edge
		} else {
			back[it.key] = true
		}
	}
	if len(back) == 0 {
		return
	}
	// Level-triggered: to the back of the order, in one pass (a wait may
	// report thousands).
	order := make([]key, 0, len(in.order))
	var moved []key
	for _, k := range in.order {
		if back[k] {
			moved = append(moved, k)
		} else {
			order = append(order, k)
		}
	}
	in.order = append(order, moved...)
}

// scan finds up to max ready events, without consuming them, and the
// channels to wait on when there are none. The interest list's own
// channel is always among them.
func (in *Instance) scan(max int, pk *park.Parker) ([]report, Wait) {
	in.mu.Lock()
	var items []*interest
	for _, k := range in.order {
		// A reference for the look: the list holds none, and the
		// last descriptor may be closed meanwhile.
		if it := in.items[k]; !it.disabled && k.file.TryIncRef() {
			items = append(items, it)
		}
	}
	w := Wait{Chans: []<-chan struct{}{in.listed.ChanParked(pk)}, Parked: pk != nil} // taken with the list
	in.mu.Unlock()
	defer func() { // with in.mu released: a last reference runs forget
		for _, it := range items {
			it.file.DecRef()
		}
	}()
	var out []report
	add := func(c <-chan struct{}, parked bool) {
		w.Chans = append(w.Chans, c)
		w.Parked = w.Parked && parked
	}
	for _, it := range items {
		if len(out) >= max {
			break
		}
		edge := it.events&EPOLLET != 0
		// The change channel before the readiness: a change between
		// the two is not missed.
		var c <-chan struct{}
		var parked bool
		if edge {
			c, parked = it.file.ChangedForParked(it.events, pk)
		} else {
			c, parked = it.file.ChangedParked(pk)
		}
		r := it.file.Readiness() & (it.events | vfs.PollErr | vfs.PollHup)
		in.mu.Lock()
		armed := !edge || it.armed()
		watch := it.watch
		in.mu.Unlock()
		if r != 0 && armed {
			if !edge {
				c = nil
			}
			out = append(out, report{it: it, ev: Event{Events: r, Data: it.data}, edge: c})
			continue
		}
		switch {
		case r != 0:
			// Ready but reported: wait for its next edge, which
			// closes watch. Unless watch is closed already (armed
			// since: the next look reports it), the file's current
			// channel, on which pk was registered, is watch.
			add(watch, parked)
		case c != nil:
			add(c, parked)
		default:
			w.Periodic = true
		}
	}
	return out, w
}

// Readiness implements vfs.Poller: an epoll file is readable when an
// interest is ready (nested epoll).
func (in *Instance) Readiness() uint32 {
	if reps, _ := in.scan(1, nil); len(reps) > 0 { // a look, not a report
		return vfs.PollIn | vfs.PollRdNorm
	}
	return 0
}

// Changed implements vfs.Poller: nested pollers re-check periodically.
func (in *Instance) Changed() <-chan struct{} { return nil }
