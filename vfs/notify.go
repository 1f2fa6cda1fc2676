package vfs

import (
	"sync"
	"sync/atomic"
)

// File change notifications (inotify). Watchers register on a file's
// identity (device and inode); system calls that change or use files call
// the Notify functions, which deliver to the watchers of the object and,
// for an entry of a directory, of the directory (with the entry's name),
// as Linux's fsnotify does. With no watch anywhere the calls cost one
// atomic load.
//
// Lock order: notifyTable.mu is taken before a Watcher's own lock.

// Watcher receives the events of its watches.
type Watcher interface {
	// Event delivers mask (and cookie, name) for watch wd, whose own
	// mask matched.
	Event(wd int32, mask, cookie uint32, name string)
}

// Event bits (linux/inotify.h).
const (
	InAccess       = 0x1
	InModify       = 0x2
	InAttrib       = 0x4
	InCloseWrite   = 0x8
	InCloseNowrite = 0x10
	InOpen         = 0x20
	InMovedFrom    = 0x40
	InMovedTo      = 0x80
	InCreate       = 0x100
	InDelete       = 0x200
	InDeleteSelf   = 0x400
	InMoveSelf     = 0x800
	InIsdir        = 0x40000000
)

type notifyWatch struct {
	w    Watcher
	wd   int32
	mask uint32
}

var notify struct {
	n       atomic.Int32 // watches in the table
	mu      sync.Mutex
	watches map[lockKey][]*notifyWatch
	cookie  atomic.Uint32
}

// WatchKey is a watched file's identity.
type WatchKey = lockKey

// FileKey returns the identity of a file with attributes st.
func FileKey(st Stat) WatchKey { return lockKey{st.Dev, st.Ino} }

// AddWatch registers w's watch wd on in with mask, replacing an existing
// registration of the same watcher and wd, and returns the key to remove
// it with.
func AddWatch(in Inode, w Watcher, wd int32, mask uint32) (WatchKey, error) {
	st, err := in.Stat(lockCtx{})
	if err != nil {
		return WatchKey{}, err
	}
	k := lockKey{st.Dev, st.Ino}
	notify.mu.Lock()
	defer notify.mu.Unlock()
	if notify.watches == nil {
		notify.watches = make(map[lockKey][]*notifyWatch)
	}
	for _, nw := range notify.watches[k] {
		if nw.w == w && nw.wd == wd {
			nw.mask = mask
			return k, nil
		}
	}
	notify.watches[k] = append(notify.watches[k], &notifyWatch{w, wd, mask})
	notify.n.Add(1)
	return k, nil
}

// RemoveWatch drops w's watch wd on the file with key k.
func RemoveWatch(k WatchKey, w Watcher, wd int32) {
	notify.mu.Lock()
	defer notify.mu.Unlock()
	ws := notify.watches[k]
	for i, nw := range ws {
		if nw.w == w && nw.wd == wd {
			notify.watches[k] = append(ws[:i], ws[i+1:]...)
			notify.n.Add(-1)
			break
		}
	}
	if len(notify.watches[k]) == 0 {
		delete(notify.watches, k)
	}
}

// NewCookie returns a cookie tying an IN_MOVED_FROM to its IN_MOVED_TO.
func NewCookie() uint32 { return notify.cookie.Add(1) }

// Watched reports whether any watch exists (a cheap check before work).
func Watched() bool { return notify.n.Load() > 0 }

// deliver sends an event to the watches on in.
func deliver(in Inode, mask, cookie uint32, name string) {
	if in == nil {
		return
	}
	st, err := in.Stat(lockCtx{})
	if err != nil {
		return
	}
	notify.mu.Lock()
	ws := append([]*notifyWatch(nil), notify.watches[lockKey{st.Dev, st.Ino}]...)
	notify.mu.Unlock()
	for _, nw := range ws {
		if nw.mask&mask&^InIsdir != 0 {
			nw.w.Event(nw.wd, mask, cookie, name)
		}
	}
}

// NotifyEntry reports mask for the entry name of directory dir, whose
// inode is child (nil if gone): to dir's watches with the name, and to
// child's without. isDir adds IN_ISDIR.
func NotifyEntry(dir Inode, name string, child Inode, mask uint32, isDir bool) {
	NotifyEntryCookie(dir, name, child, mask, 0, isDir)
}

// NotifyEntryCookie is NotifyEntry with a move cookie.
func NotifyEntryCookie(dir Inode, name string, child Inode, mask, cookie uint32, isDir bool) {
	if !Watched() {
		return
	}
	if isDir {
		mask |= InIsdir
	}
	deliver(dir, mask, cookie, name)
	if child != nil && mask&(InCreate|InDelete|InMovedFrom|InMovedTo) == 0 {
		deliver(child, mask, cookie, "")
	}
}

// NotifySelf reports mask (IN_DELETE_SELF, IN_MOVE_SELF) to in's own
// watches.
func NotifySelf(in Inode, mask uint32) {
	if Watched() {
		deliver(in, mask, 0, "")
	}
}

// NotifyFile reports mask for the open file f: to its own watches, and
// to its directory's with its name.
func NotifyFile(f *FileDescription, mask uint32) {
	if Watched() {
		NotifyPath(f.path, mask)
	}
}

// NotifyPath reports mask for the file at p: to its own watches, and to
// its directory's with its name.
func NotifyPath(p Path, mask uint32) {
	if !Watched() || p.Dentry == nil {
		return
	}
	d := p.Dentry
	if st, err := d.inode.Stat(lockCtx{}); err == nil && st.IsDir() {
		mask |= InIsdir
	}
	if d.parent != nil { // the directory hears first, as on Linux
		deliver(d.parent.inode, mask, 0, d.name)
	}
	deliver(d.inode, mask, 0, "")
}
