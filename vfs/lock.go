package vfs

import (
	"math"
	"sync"

	"golang.org/x/sys/unix"
)

// File locks: fcntl record locks (POSIX and open-file-description ones)
// and flock(2), enforced across every process of the sentry.
//
// Files are told apart by device and inode number. A POSIX record lock
// belongs to an fd table (Linux's fl_owner is the files_struct: in
// practice a process) and goes when that table closes any fd of the file;
// an OFD lock or a flock belongs to an open file description and goes
// with its last reference. Conflicts are Linux's: a write lock conflicts
// with any other owner's lock on an overlapping range, a read lock only
// with write locks. A blocking POSIX request that would wait for an owner
// that (through others) waits for it fails with EDEADLK.
//
// Lock order: lockTable.mu is a leaf lock; waiting happens without it.

// LockType is F_RDLCK, F_WRLCK or F_UNLCK.
type LockType = int16

// LockRange is a byte range [Start, End) of a file with a lock type; End
// is math.MaxInt64 for a lock that runs to the end of the file, however
// long it grows.
type LockRange struct {
	Type       LockType
	Start, End int64
}

// ToEOF is the End of a lock that runs to the end of the file.
const ToEOF = math.MaxInt64

type lockKey struct{ dev, ino uint64 }

// recordLock is one owner's lock on a range.
type recordLock struct {
	owner any // *FDTable (POSIX) or *FileDescription (OFD)
	LockRange
	pid int32 // reported by F_GETLK: the locking process, -1 for OFD locks
}

type fileLocks struct {
	records []recordLock
	flocks  map[*FileDescription]bool // true: exclusive
	changed chan struct{}             // closed (and replaced) when a lock goes
}

type lockTable struct {
	mu      sync.Mutex
	files   map[lockKey]*fileLocks
	waiting map[any]any // a blocked POSIX owner -> the owner it waits for
}

var locks = lockTable{files: make(map[lockKey]*fileLocks), waiting: make(map[any]any)}

// lockKey returns f's identity for locking.
func (f *FileDescription) lockKey(ctx Context) (lockKey, error) {
	st, err := f.Stat(ctx)
	if err != nil {
		return lockKey{}, err
	}
	return lockKey{st.Dev, st.Ino}, nil
}

// Preconditions: lockTable.mu is held.
func (lt *lockTable) fileLocked(k lockKey) *fileLocks {
	fl := lt.files[k]
	if fl == nil {
		fl = &fileLocks{flocks: make(map[*FileDescription]bool), changed: make(chan struct{})}
		lt.files[k] = fl
	}
	return fl
}

// notifyLocked wakes waiters after locks went, and forgets an unused
// file.
//
// Preconditions: lockTable.mu is held.
func (lt *lockTable) notifyLocked(k lockKey, fl *fileLocks) {
	close(fl.changed)
	fl.changed = make(chan struct{})
	if len(fl.records) == 0 && len(fl.flocks) == 0 {
		delete(lt.files, k)
	}
}

func overlaps(a, b LockRange) bool { return a.Start < b.End && b.Start < a.End }

// conflictLocked returns a lock of another owner that conflicts with r.
//
// Preconditions: lockTable.mu is held.
func (fl *fileLocks) conflictLocked(owner any, r LockRange) (recordLock, bool) {
	for _, l := range fl.records {
		if l.owner != owner && overlaps(l.LockRange, r) && (l.Type == unix.F_WRLCK || r.Type == unix.F_WRLCK) {
			return l, true
		}
	}
	return recordLock{}, false
}

// setLocked replaces owner's locks on r with r (F_UNLCK: removes them),
// merging adjacent ranges of the same type as Linux does.
//
// Preconditions: lockTable.mu is held.
func (fl *fileLocks) setLocked(owner any, pid int32, r LockRange) {
	var out []recordLock
	for _, l := range fl.records {
		if l.owner != owner || !overlaps(l.LockRange, r) {
			out = append(out, l)
			continue
		}
		if l.Start < r.Start { // the part before r stays
			head := l
			head.End = r.Start
			out = append(out, head)
		}
		if l.End > r.End { // the part after r stays
			tail := l
			tail.Start = r.End
			out = append(out, tail)
		}
	}
	if r.Type != unix.F_UNLCK {
		n := recordLock{owner: owner, LockRange: r, pid: pid}
		kept := out[:0]
		for _, l := range out {
			if l.owner == owner && l.Type == n.Type && l.Start <= n.End && n.Start <= l.End {
				n.Start, n.End = min(n.Start, l.Start), max(n.End, l.End)
				continue
			}
			kept = append(kept, l)
		}
		out = append(kept, n)
	}
	fl.records = out
}

// deadlockLocked reports whether owner waiting for holder would close a
// cycle of POSIX owners waiting for each other.
//
// Preconditions: lockTable.mu is held.
func (lt *lockTable) deadlockLocked(owner, holder any) bool {
	for i := 0; holder != nil && i < 1024; i++ {
		if holder == owner {
			return true
		}
		holder = lt.waiting[holder]
	}
	return false
}

// GetLock implements F_GETLK and F_OFD_GETLK: the first lock of another
// owner that conflicts with r, with the pid that holds it (-1 for an OFD
// lock), or ok false if r could be set.
func (f *FileDescription) GetLock(ctx Context, ofd bool, table *FDTable, r LockRange) (LockRange, int32, bool, error) {
	k, err := f.lockKey(ctx)
	if err != nil {
		return LockRange{}, 0, false, err
	}
	var owner any = table
	if ofd {
		owner = f
	}
	locks.mu.Lock()
	defer locks.mu.Unlock()
	fl := locks.files[k]
	if fl == nil {
		return LockRange{}, 0, false, nil
	}
	l, ok := fl.conflictLocked(owner, r)
	return l.LockRange, l.pid, ok, nil
}

// SetLock implements F_SETLK(W) and F_OFD_SETLK(W): it sets (or with
// F_UNLCK removes) the lock r for the fd table's process (pid) or, with
// ofd, for the open file description. A conflict fails with EAGAIN, or
// with wait blocks until the lock can be set (interruptibly, as ctx
// allows), or fails with EDEADLK if waiting would deadlock.
func (f *FileDescription) SetLock(ctx Context, ofd bool, table *FDTable, pid int32, r LockRange, wait bool) error {
	k, err := f.lockKey(ctx)
	if err != nil {
		return err
	}
	var owner any = table
	if ofd {
		owner, pid = f, -1
		f.hasLocks.Store(true)
	} else {
		table.posixLocks.Store(true)
	}
	for {
		locks.mu.Lock()
		fl := locks.fileLocked(k)
		l, conflict := recordLock{}, false
		if r.Type != unix.F_UNLCK {
			l, conflict = fl.conflictLocked(owner, r)
		}
		if !conflict {
			fl.setLocked(owner, pid, r)
			locks.notifyLocked(k, fl)
			locks.mu.Unlock()
			return nil
		}
		if !wait {
			locks.mu.Unlock()
			return unix.EAGAIN
		}
		if !ofd && locks.deadlockLocked(owner, l.owner) {
			locks.mu.Unlock()
			return unix.EDEADLK
		}
		ch := fl.changed
		if !ofd {
			locks.waiting[owner] = l.owner
		}
		locks.mu.Unlock()
		err := Wait(ctx, ch)
		if !ofd {
			locks.mu.Lock()
			delete(locks.waiting, owner)
			locks.mu.Unlock()
		}
		if err != nil {
			return err
		}
	}
}

// Flock implements flock(2): op is LOCK_SH, LOCK_EX or LOCK_UN, with
// LOCK_NB to fail with EWOULDBLOCK instead of waiting. A flock belongs to
// the open file description; converting one may wait like a new one.
func (f *FileDescription) Flock(ctx Context, op int) error {
	const lockSH, lockEX, lockNB, lockUN = 1, 2, 4, 8
	k, err := f.lockKey(ctx)
	if err != nil {
		return err
	}
	f.hasLocks.Store(true)
	for {
		locks.mu.Lock()
		fl := locks.fileLocked(k)
		if op&^lockNB == lockUN {
			delete(fl.flocks, f)
			locks.notifyLocked(k, fl)
			locks.mu.Unlock()
			return nil
		}
		excl := op&^lockNB == lockEX
		busy := false
		for o, oexcl := range fl.flocks {
			if o != f && (excl || oexcl) {
				busy = true
				break
			}
		}
		if !busy {
			fl.flocks[f] = excl
			locks.mu.Unlock()
			return nil
		}
		// Linux drops the old lock before waiting for a conversion.
		if _, had := fl.flocks[f]; had {
			delete(fl.flocks, f)
			locks.notifyLocked(k, fl)
			fl = locks.fileLocked(k)
		}
		ch := fl.changed
		locks.mu.Unlock()
		if op&lockNB != 0 {
			return unix.EWOULDBLOCK
		}
		if err := Wait(ctx, ch); err != nil {
			return err
		}
	}
}

// lockCtx is the context of lock bookkeeping done on the sentry's own
// account (releases at close): only the file's identity is read.
type lockCtx struct{}

func (lockCtx) UID() uint32 { return 0 }
func (lockCtx) GID() uint32 { return 0 }

// releasePOSIXLocks drops the POSIX record locks table holds on f's file
// (close of any fd of the file by the table's process).
func (f *FileDescription) releasePOSIXLocks(table *FDTable) {
	if !table.posixLocks.Load() {
		return
	}
	k, err := f.lockKey(lockCtx{})
	if err != nil {
		return
	}
	locks.mu.Lock()
	defer locks.mu.Unlock()
	fl := locks.files[k]
	if fl == nil {
		return
	}
	fl.setLocked(table, 0, LockRange{Type: unix.F_UNLCK, Start: 0, End: ToEOF})
	locks.notifyLocked(k, fl)
}

// releaseOFDLocks drops the OFD locks and flock of f (its last reference
// went).
func (f *FileDescription) releaseOFDLocks() {
	if !f.hasLocks.Load() {
		return
	}
	k, err := f.lockKey(lockCtx{})
	if err != nil {
		return
	}
	locks.mu.Lock()
	defer locks.mu.Unlock()
	fl := locks.files[k]
	if fl == nil {
		return
	}
	fl.setLocked(f, 0, LockRange{Type: unix.F_UNLCK, Start: 0, End: ToEOF})
	delete(fl.flocks, f)
	locks.notifyLocked(k, fl)
}
