package pipe

import (
	"sync"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// fifoKey is the identity of a FIFO inode: its device and inode numbers,
// so that every name and hard link of one FIFO, in any filesystem, opens
// the same pipe.
type fifoKey struct{ dev, ino uint64 }

// fifos holds the pipe of every FIFO that has an open (or opening) end,
// as Linux keeps one pipe_inode_info per FIFO inode while it is open.
// The pipe goes when its last end closes, and with it any data left in it.
// The map holds nothing the ends do not: every pipe in it is reachable
// from the open (or opening) ends that count in refs, so a checkpoint can
// rebuild it from them.
var fifos struct {
	mu sync.Mutex
	m  map[fifoKey]*fifoPipe
}

// fifoPipe is a FIFO's pipe and the number of ends (open or being opened)
// that use it, guarded by fifos.mu.
type fifoPipe struct {
	p    *pipe
	refs int
}

// unref drops one use of a FIFO's pipe, forgetting the pipe with the last
// one.
func (p *pipe) unref() {
	fifos.mu.Lock()
	defer fifos.mu.Unlock()
	fp := fifos.m[p.key]
	if fp == nil || fp.p != p {
		return
	}
	if fp.refs--; fp.refs == 0 {
		delete(fifos.m, p.key)
	}
}

// OpenFIFO opens the FIFO whose inode is (dev, ino) with the open(2)
// flags (man 7 fifo): it returns an end of the FIFO's pipe for reading,
// writing or both (O_RDWR). An open for reading waits until a writer
// opens and one for writing until a reader opens, interruptibly (the
// caller's error, ERESTARTSYS for a task); with O_NONBLOCK a read open
// succeeds at once and a write open with no reader fails with ENXIO;
// O_RDWR never waits.
//
// The returned end has no Stat of its own: the description stats as its
// FIFO inode.
func OpenFIFO(ctx vfs.Context, dev, ino uint64, flags uint32) (vfs.FileImpl, error) {
	key := fifoKey{dev, ino}
	fifos.mu.Lock()
	if fifos.m == nil {
		fifos.m = make(map[fifoKey]*fifoPipe)
	}
	fp := fifos.m[key]
	if fp == nil {
		fp = &fifoPipe{p: &pipe{ino: ino, cap: Capacity, fifo: true, key: key}}
		fifos.m[key] = fp
	}
	fp.refs++
	p := fp.p
	fifos.mu.Unlock()

	nonblock := flags&unix.O_NONBLOCK != 0
	p.mu.Lock()
	e := &end{p: p}
	var err error
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		e.read = true
		if p.writers == 0 && nonblock {
			// No POLLHUP until a writer has come: Linux's f_pipe.
			e.wSeen = p.wOpens
		}
		p.readers++
		p.rOpens++
		p.notifyAllLocked()
		if p.writers == 0 && !nonblock {
			seen := p.wOpens
			for p.wOpens == seen && err == nil {
				err = p.changes.WaitLocked(ctx, &p.mu)
			}
			if err != nil {
				p.readers--
				p.notifyAllLocked()
			}
		}
	case unix.O_WRONLY:
		if nonblock && p.readers == 0 {
			err = unix.ENXIO
			break
		}
		e.write = true
		p.writers++
		p.wOpens++
		p.notifyAllLocked()
		if p.readers == 0 {
			seen := p.rOpens
			for p.rOpens == seen && err == nil {
				err = p.changes.WaitLocked(ctx, &p.mu)
			}
			if err != nil {
				p.writers--
				p.notifyAllLocked()
			}
		}
	default: // O_RDWR: this end is a reader and a writer; nothing waits
		e.read, e.write = true, true
		p.readers++
		p.writers++
		p.rOpens++
		p.wOpens++
		p.notifyAllLocked()
	}
	p.mu.Unlock()
	if err != nil {
		p.unref()
		return nil, err
	}
	return e, nil
}
