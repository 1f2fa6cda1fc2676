// Package inotify implements inotify instances (inotify_init1(2)): a
// queue of events about watched files and directories, read as struct
// inotify_event records. Events come from vfs's notification table
// (vfs.AddWatch, vfs.Notify*), which the system calls feed.
//
// Lock order: Instance.mu is a leaf lock (vfs delivers without its own
// lock held).
package inotify

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"moat/park"
	"moat/vfs"
)

// Flags of inotify_add_watch beyond the event bits.
const (
	InAllEvents   = 0xfff
	InUnmount     = 0x2000
	InQOverflow   = 0x4000
	InIgnored     = 0x8000
	InOnlydir     = 0x01000000
	InDontFollow  = 0x02000000
	InExclUnlink  = 0x04000000
	InMaskCreate  = 0x10000000
	InMaskAdd     = 0x20000000
	InOneshot     = 0x80000000
	maxQueued     = 16384 // fs.inotify.max_queued_events
	maxWatches    = 8192  // fs.inotify.max_user_watches (per instance here)
	eventHdrBytes = 16
	fionread      = 0x541b
)

type event struct {
	wd     int32
	mask   uint32
	cookie uint32
	name   string
}

type watch struct {
	key  vfs.WatchKey
	mask uint32
}

// Instance is an inotify instance.
type Instance struct {
	vfs.AnonInode // Stat, IsStream, NoopSeek
	mu            sync.Mutex
	queue         []event
	watches       map[int32]*watch
	byKey         map[vfs.WatchKey]int32
	nextWD        int32
	changes       vfs.Changes
}

// New returns an inotify file (O_NONBLOCK per nonblock).
func New(nonblock bool) (*vfs.FileDescription, *Instance) {
	in := &Instance{watches: make(map[int32]*watch), byKey: make(map[vfs.WatchKey]int32), nextWD: 1}
	fl := uint32(unix.O_RDONLY)
	if nonblock {
		fl |= unix.O_NONBLOCK
	}
	return vfs.NewFileDescription(in, vfs.Path{}, fl), in
}

// AddWatch implements inotify_add_watch on the file in (already resolved
// with IN_DONT_FOLLOW and checked against IN_ONLYDIR by the caller).
func (in *Instance) AddWatch(file vfs.Inode, mask uint32) (int32, error) {
	st, err := file.Stat(nil)
	if err != nil {
		return 0, err
	}
	key := vfs.FileKey(st)
	in.mu.Lock()
	defer in.mu.Unlock()
	if wd, ok := in.byKey[key]; ok {
		if mask&InMaskCreate != 0 {
			return 0, unix.EEXIST
		}
		w := in.watches[wd]
		if mask&InMaskAdd != 0 {
			w.mask |= mask
		} else {
			w.mask = mask
		}
		_, err := vfs.AddWatch(file, in, wd, w.mask)
		return wd, err
	}
	if len(in.watches) >= maxWatches {
		return 0, unix.ENOSPC
	}
	wd := in.nextWD
	in.nextWD++
	key, err = vfs.AddWatch(file, in, wd, mask)
	if err != nil {
		return 0, err
	}
	in.watches[wd] = &watch{key: key, mask: mask}
	in.byKey[key] = wd
	return wd, nil
}

// RemoveWatch implements inotify_rm_watch: EINVAL for an unknown wd.
func (in *Instance) RemoveWatch(wd int32) error {
	in.mu.Lock()
	w, ok := in.watches[wd]
	if ok {
		delete(in.watches, wd)
		delete(in.byKey, w.key)
		in.pushLocked(event{wd: wd, mask: InIgnored})
	}
	in.mu.Unlock()
	if !ok {
		return unix.EINVAL
	}
	vfs.RemoveWatch(w.key, in, wd)
	return nil
}

// Event implements vfs.Watcher.
func (in *Instance) Event(wd int32, mask, cookie uint32, name string) {
	in.mu.Lock()
	w, ok := in.watches[wd]
	if !ok {
		in.mu.Unlock()
		return
	}
	in.pushLocked(event{wd: wd, mask: mask, cookie: cookie, name: name})
	gone := w.mask&InOneshot != 0 || mask&vfs.InDeleteSelf != 0
	if gone {
		delete(in.watches, wd)
		delete(in.byKey, w.key)
		in.pushLocked(event{wd: wd, mask: InIgnored})
	}
	in.mu.Unlock()
	if gone {
		vfs.RemoveWatch(w.key, in, wd)
	}
}

// pushLocked queues e, merging it with an identical last event and
// ending with one IN_Q_OVERFLOW when the queue is full, as Linux does.
//
// Preconditions: in.mu is held.
func (in *Instance) pushLocked(e event) {
	if n := len(in.queue); n > 0 && in.queue[n-1] == e {
		return
	}
	if len(in.queue) >= maxQueued {
		if in.queue[len(in.queue)-1].mask != InQOverflow {
			in.queue = append(in.queue, event{wd: -1, mask: InQOverflow})
		}
		return
	}
	in.queue = append(in.queue, e)
	in.changes.Notify()
}

// recordLen is the size of e as read: the header and its name, NUL padded
// to a multiple of the header size.
func recordLen(e event) int {
	if e.name == "" {
		return eventHdrBytes
	}
	return eventHdrBytes + (len(e.name)+1+eventHdrBytes-1)/eventHdrBytes*eventHdrBytes
}

// Read implements vfs.FileImpl: as many whole events as fit; EINVAL if
// not even the first does.
func (in *Instance) Read(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := in.changes.WaitUntilLocked(ctx, &in.mu, func() bool { return len(in.queue) > 0 }); err != nil {
		return 0, err
	}
	n := 0
	for len(in.queue) > 0 {
		e := in.queue[0]
		l := recordLen(e)
		if n+l > len(dst) {
			if n == 0 {
				return 0, unix.EINVAL
			}
			break
		}
		b := dst[n : n+l]
		clear(b)
		binary.LittleEndian.PutUint32(b[0:], uint32(e.wd))
		binary.LittleEndian.PutUint32(b[4:], e.mask)
		binary.LittleEndian.PutUint32(b[8:], e.cookie)
		binary.LittleEndian.PutUint32(b[12:], uint32(l-eventHdrBytes))
		copy(b[eventHdrBytes:], e.name)
		n += l
		in.queue = in.queue[1:]
	}
	return n, nil
}

// Write implements vfs.FileImpl: inotify files are not writable.
func (in *Instance) Write(vfs.Context, []byte, int64) (int, error) { return 0, unix.EINVAL }

// Name is what /proc/PID/fd shows.
func (in *Instance) Name() string { return "anon_inode:inotify" }

// Readiness implements vfs.Poller.
func (in *Instance) Readiness() uint32 {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.queue) > 0 {
		return vfs.PollIn | vfs.PollRdNorm
	}
	return 0
}

// Changed implements vfs.Poller.
func (in *Instance) Changed() <-chan struct{} { return in.ChangedParked(nil) }

// ChangedParked implements vfs.ParkPoller (pk nil: Changed).
func (in *Instance) ChangedParked(pk *park.Parker) <-chan struct{} {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.changes.ChanParked(pk)
}

// Ioctl implements vfs.Ioctler: FIONREAD is the bytes queued.
func (in *Instance) Ioctl(ctx vfs.Context, req uint32, arg uintptr, mem vfs.IOMemory) (uintptr, error) {
	if req != fionread {
		return 0, unix.ENOTTY
	}
	in.mu.Lock()
	n := 0
	for _, e := range in.queue {
		n += recordLen(e)
	}
	in.mu.Unlock()
	b := binary.LittleEndian.AppendUint32(nil, uint32(n))
	if _, err := mem.CopyOut(arg, b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// Release implements vfs.FileImpl: the watches go.
func (in *Instance) Release() {
	in.mu.Lock()
	ws := in.watches
	in.watches, in.byKey = map[int32]*watch{}, map[vfs.WatchKey]int32{}
	in.mu.Unlock()
	for wd, w := range ws {
		vfs.RemoveWatch(w.key, in, wd)
	}
}
