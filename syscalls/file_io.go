package syscalls

import (
	"io"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/kernel"
	"moat/platform"
	"moat/vfs"
)

// ioCtx is the context for I/O on one description: the task, plus whether
// the description is non-blocking (pipes consult it).
type ioCtx struct {
	*kernel.Task
	nonblock bool
}

func (c ioCtx) NonblockingIO() bool { return c.nonblock }

func ctxFor(t *kernel.Task, f *vfs.FileDescription) ioCtx {
	return ioCtx{Task: t, nonblock: f.Flags()&unix.O_NONBLOCK != 0}
}

// readInto reads up to n bytes from f into app memory at addr (at off, or
// the file offset if off < 0): readv with one segment.
func readInto(t *kernel.Task, f *vfs.FileDescription, addr, n uintptr, off int64) (uintptr, error) {
	if err := checkRW(f, addr, n, off, false); err != nil {
		return 0, err
	}
	return readv(t, f, []iovec{{addr, min(n, maxRW)}}, off)
}

// checkRW makes read's and write's checks in Linux's order: checkFile's,
// then EFAULT for a buffer outside the user address range, then EINVAL
// for a range that would pass the largest file offset (rw_verify_area).
func checkRW(f *vfs.FileDescription, addr, n uintptr, off int64, write bool) error {
	if err := checkFile(f, off, write); err != nil {
		return err
	}
	switch {
	case !accessOK(addr, n):
		return unix.EFAULT
	case pastMaxOffset(off, n):
		return unix.EINVAL
	}
	return nil
}

// checkFile makes the checks of the file that come first for every read
// and write: ESPIPE for a positional call (off >= 0) on a stream, then
// EBADF if f is not open for the direction.
func checkFile(f *vfs.FileDescription, off int64, write bool) error {
	switch {
	case off >= 0 && f.IsStream():
		return unix.ESPIPE
	case write && !f.Writable() || !write && !f.Readable():
		return unix.EBADF
	}
	return nil
}

// pastMaxOffset reports whether n bytes at off (>= 0; < 0 is the file
// offset, not checked here) would pass the largest file offset.
func pastMaxOffset(off int64, n uintptr) bool { return off >= 0 && off+int64(n) < 0 }

// readv reads from f (at off, or the file offset if off < 0) into the app
// memory the segments iovs describe (checked by copyInIovecs: in range,
// adding up to at most MAX_RW_COUNT), as one read: each chunk of up to
// ioChunk bytes, spread over consecutive segments, is one read of f, so
// that a datagram or what a pipe holds arrives whole across segments.
// Regular files are read until the segments are full or end of file;
// streams return what one read gives. Data is never consumed from the
// file unless it can be delivered (EFAULT when none can).
//
// Preconditions: checkFile passed.
func readv(t *kernel.Task, f *vfs.FileDescription, iovs []iovec, off int64) (uintptr, error) {
	n := iovTotal(iovs)
	ctx := ctxFor(t, f)
	if n == 0 {
		_, err := f.Read(ctx, nil, off)
		return 0, err
	}
	buf, bp := readBuffer(min(n, ioChunk))
	defer putReadBuffer(bp)
	var done uintptr
	for cur := (iovCursor{iovs: iovs}); done < n; {
		want := min(n-done, uintptr(len(buf)))
		// Only as much as the app can take: up to the first byte of the
		// segments that is not writable memory.
		ok := uintptr(0)
		cur.ranges(want, func(addr, l uintptr) bool {
			a := uintptr(t.MM().Accessible(addr, int(l), platform.AccessType{Write: true}))
			ok += a
			return a == l
		})
		if ok == 0 {
			if done > 0 {
				return done, nil
			}
			if !f.IsStream() {
				// At end of file Linux returns 0 without touching
				// the buffer, and a file that cannot be read
				// fails as it would with a good one.
				if n, err := probeRead(ctx, f, off); n == 0 {
					return 0, err
				}
			}
			return 0, unix.EFAULT
		}
		want = ok
		pos := off
		if off >= 0 {
			pos = off + int64(done)
		}
		got, err := f.Read(ctx, buf[:want], pos)
		if got > 0 {
			copied, cerr := cur.copy(buf[:got], t.CopyOut)
			cur.advance(copied)
			done += copied
			if cerr != nil {
				if done == 0 {
					return 0, unix.EFAULT
				}
				return done, nil
			}
		}
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		if uintptr(got) < want || f.IsStream() {
			break
		}
	}
	return done, nil
}

// probeRead reads one byte of f, a file that is not a stream, at off (or
// at its offset, if off < 0) into a buffer of its own without moving the
// offset: what a read with no room to deliver into would have found. A
// read of a file that is not a stream consumes nothing, so the byte is
// just dropped.
func probeRead(ctx vfs.Context, f *vfs.FileDescription, off int64) (int, error) {
	pos := off
	if pos < 0 {
		p, err := f.Seek(ctx, 0, io.SeekCurrent)
		if err != nil {
			return 1, nil // no telling: the caller's EFAULT stands
		}
		pos = p
	}
	var b [1]byte
	return f.Read(ctx, b[:], pos)
}

// writeFrom writes n bytes of app memory at addr to f: writev with one
// segment.
func writeFrom(t *kernel.Task, f *vfs.FileDescription, addr, n uintptr, off int64) (uintptr, error) {
	if err := checkRW(f, addr, n, off, true); err != nil {
		return 0, err
	}
	return writev(t, f, []iovec{{addr, min(n, maxRW)}}, off, vfs.AppendByFlags)
}

// writev writes the app memory the segments iovs describe (checked by
// copyInIovecs) to f, at off or at the file offset if off < 0 (mode is
// one of vfs's append modes), as one write: each chunk of up to ioChunk
// bytes, gathered from consecutive segments, is one write of f, so that a
// datagram goes as one message and a pipe write up to PIPE_BUF stays
// atomic.
//
// Preconditions: checkFile passed.
func writev(t *kernel.Task, f *vfs.FileDescription, iovs []iovec, off int64, mode int) (uintptr, error) {
	n := iovTotal(iovs)
	ctx := ctxFor(t, f)
	if s, ok := f.Impl().(vfs.Sink); ok && s.DiscardsWrites() {
		return n, nil // /dev/null never reads the buffer
	}
	buf := make([]byte, min(n, ioChunk))
	var done uintptr
	for cur := (iovCursor{iovs: iovs}); done < n || n == 0; {
		want := min(n-done, uintptr(len(buf)))
		got, cerr := cur.copy(buf[:want], t.CopyIn)
		if cerr != nil && got == 0 {
			if done == 0 {
				return 0, unix.EFAULT
			}
			return done, nil
		}
		pos := off
		if off >= 0 {
			pos = off + int64(done)
		}
		w, err := f.WriteAppend(ctx, buf[:got], pos, mode)
		cur.advance(uintptr(w))
		done += uintptr(w)
		if err != nil {
			if done > 0 {
				if err == unix.EPIPE {
					t.SendSignalSelf(unix.SIGPIPE)
				}
				return done, nil
			}
			return 0, epipe(t, err)
		}
		if uintptr(w) < got || cerr != nil || n == 0 {
			break
		}
	}
	return done, nil
}

// iovTotal is the number of bytes the segments describe.
func iovTotal(iovs []iovec) uintptr {
	var n uintptr
	for _, iov := range iovs {
		n += iov.len
	}
	return n
}

// iovCursor walks app segments as one sequence of bytes.
type iovCursor struct {
	iovs []iovec
	i    int     // the segment the next byte is in
	off  uintptr // bytes of it already passed
}

// ranges calls fn with the app memory ranges of the next n bytes, in
// order, until fn returns false; the cursor does not move.
func (c iovCursor) ranges(n uintptr, fn func(addr, l uintptr) bool) {
	for i, off := c.i, c.off; n > 0 && i < len(c.iovs); i, off = i+1, 0 {
		l := min(c.iovs[i].len-off, n)
		if l == 0 {
			continue
		}
		if !fn(c.iovs[i].base+off, l) {
			return
		}
		n -= l
	}
}

// copy copies between buf and the app memory of the next len(buf) bytes
// with op (the task's CopyIn or CopyOut), range by range, up to the first
// failure; it returns the bytes copied and that failure. The cursor does
// not move.
func (c iovCursor) copy(buf []byte, op func(addr uintptr, b []byte) (int, error)) (uintptr, error) {
	var done uintptr
	var err error
	c.ranges(uintptr(len(buf)), func(addr, l uintptr) bool {
		var n int
		n, err = op(addr, buf[done:done+l])
		done += uintptr(n)
		return err == nil
	})
	return done, err
}

// advance moves the cursor past n bytes.
func (c *iovCursor) advance(n uintptr) {
	for n > 0 && c.i < len(c.iovs) {
		l := min(c.iovs[c.i].len-c.off, n)
		c.off += l
		n -= l
		if c.off == c.iovs[c.i].len {
			c.i, c.off = c.i+1, 0
		}
	}
}

func getFile(t *kernel.Task, fd uintptr) (*vfs.FileDescription, error) {
	return t.FDs().Get(int32(fd))
}

func sysRead(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, err := getFile(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return readInto(t, f, a[1], a[2], -1)
}

func sysWrite(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, err := getFile(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return writeFrom(t, f, a[1], a[2], -1)
}

// sysPread64 and sysPwrite64: a negative offset is EINVAL before the fd
// is looked at, as in Linux.
func sysPread64(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if int64(a[3]) < 0 {
		return 0, unix.EINVAL
	}
	f, err := getFile(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return readInto(t, f, a[1], a[2], int64(a[3]))
}

func sysPwrite64(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if int64(a[3]) < 0 {
		return 0, unix.EINVAL
	}
	f, err := getFile(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return writeFrom(t, f, a[1], a[2], int64(a[3]))
}

// uioMaxIov is UIO_MAXIOV.
const uioMaxIov = 1024

type iovec struct{ base, len uintptr }

// copyInIovecs reads and validates an iovec array as Linux's import_iovec
// does: EINVAL for a negative length anywhere in the array, then EFAULT
// for a segment outside the user address range. The lengths are cut so
// that they add up to at most MAX_RW_COUNT; segments past that are empty.
func copyInIovecs(t *kernel.Task, addr uintptr, cnt uintptr) ([]iovec, error) {
	if int64(int32(cnt)) != int64(cnt) || int32(cnt) < 0 || cnt > uioMaxIov {
		return nil, unix.EINVAL
	}
	if cnt == 0 {
		return nil, nil
	}
	raw := make([]byte, cnt*16)
	if err := copyIn(t, addr, raw); err != nil {
		return nil, err
	}
	iovs := make([]iovec, cnt)
	for i := range iovs {
		iovs[i] = iovec{uintptr(le.Uint64(raw[i*16:])), uintptr(le.Uint64(raw[i*16+8:]))}
		if int64(iovs[i].len) < 0 {
			return nil, unix.EINVAL
		}
	}
	var total uintptr
	for i := range iovs {
		if !accessOK(iovs[i].base, iovs[i].len) {
			return nil, unix.EFAULT
		}
		iovs[i].len = min(iovs[i].len, maxRW-total)
		total += iovs[i].len
	}
	return iovs, nil
}

// vectored implements readv and writev (off < 0), preadv and pwritev,
// and their v2 forms (flags: RWF_*). Checks come in Linux's order: the
// fd, a positional call's ESPIPE, the fd's mode, the iovec array, then
// the flags.
func vectored(t *kernel.Task, a arch.SyscallArgs, write bool, off int64, flags uint32) (uintptr, error) {
	f, err := getFile(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if err := checkFile(f, off, write); err != nil {
		return 0, err
	}
	iovs, err := copyInIovecs(t, a[1], a[2])
	if err != nil {
		return 0, err
	}
	// As Linux's do_iter_read and do_iter_write: nothing to move is
	// done before the range and the flags are looked at.
	total := iovTotal(iovs)
	if total == 0 {
		return 0, nil
	}
	if pastMaxOffset(off, total) {
		return 0, unix.EINVAL
	}
	if flags&^rwfSupported != 0 || flags&rwfUnsupported != 0 {
		return 0, unix.EOPNOTSUPP
	}
	if !write {
		return readv(t, f, iovs, off)
	}
	mode := vfs.AppendByFlags
	switch {
	case flags&unix.RWF_APPEND != 0:
		mode = vfs.AppendAlways
	case flags&rwfNoAppend != 0:
		mode = vfs.AppendNever
	}
	n, err := writev(t, f, iovs, off, mode)
	if n > 0 && flags&(unix.RWF_DSYNC|unix.RWF_SYNC) != 0 {
		// As O_DSYNC or O_SYNC for this write (generic_write_sync).
		if s, ok := f.Impl().(Syncer); ok {
			if serr := s.Sync(flags&unix.RWF_SYNC == 0); serr != nil {
				return 0, serr
			}
		}
	}
	return n, err
}

// The RWF_* flags of preadv2 and pwritev2 Linux knows; of those, moat's
// files do not offer non-blocking (RWF_NOWAIT), atomic (RWF_ATOMIC) or
// uncached (RWF_DONTCACHE) I/O, so they fail with EOPNOTSUPP, as on a
// Linux file that lacks them.
const (
	rwfNoAppend    = 0x20
	rwfAtomic      = 0x40
	rwfDontCache   = 0x80
	rwfSupported   = unix.RWF_HIPRI | unix.RWF_DSYNC | unix.RWF_SYNC | unix.RWF_NOWAIT | unix.RWF_APPEND | rwfNoAppend | rwfAtomic | rwfDontCache
	rwfUnsupported = unix.RWF_NOWAIT | rwfAtomic | rwfDontCache
)

// vecOffset is the offset of preadv, pwritev and their v2 forms: pos_l
// (pos_h is the high half on 32-bit ABIs only).
func vecOffset(a arch.SyscallArgs) int64 { return int64(a[3]) }

func sysPreadv(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if vecOffset(a) < 0 {
		return 0, unix.EINVAL
	}
	return vectored(t, a, false, vecOffset(a), 0)
}

func sysPwritev(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if vecOffset(a) < 0 {
		return 0, unix.EINVAL
	}
	return vectored(t, a, true, vecOffset(a), 0)
}

// sysPreadv2 and sysPwritev2: an offset of -1 uses and moves the file
// offset, as readv and writev do.
func sysPreadv2(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if vecOffset(a) < -1 {
		return 0, unix.EINVAL
	}
	return vectored(t, a, false, vecOffset(a), uint32(a[5]))
}

func sysPwritev2(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	if vecOffset(a) < -1 {
		return 0, unix.EINVAL
	}
	return vectored(t, a, true, vecOffset(a), uint32(a[5]))
}

func sysReadv(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return vectored(t, a, false, -1, 0)
}
func sysWritev(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return vectored(t, a, true, -1, 0)
}

func sysLseek(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, err := getFile(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	n, err := f.Seek(t, int64(a[1]), int(int32(a[2])))
	return uintptr(n), err
}

func sysClose(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, t.FDs().Remove(int32(a[0]))
}

func nofile(t *kernel.Task) uint64 { return t.Limits().Get(unix.RLIMIT_NOFILE).Cur }

func sysDup(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, err := getFile(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	fd, err := t.FDs().Install(f, 0, false, nofile(t))
	return uintptr(fd), err
}

func dup3(t *kernel.Task, oldfd, newfd int32, flags uintptr, isDup2 bool) (uintptr, error) {
	if flags&^unix.O_CLOEXEC != 0 {
		return 0, unix.EINVAL
	}
	f, err := t.FDs().Get(oldfd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if oldfd == newfd {
		if isDup2 {
			return uintptr(newfd), nil
		}
		return 0, unix.EINVAL
	}
	if err := t.FDs().InstallAt(f, newfd, flags&unix.O_CLOEXEC != 0, nofile(t)); err != nil {
		return 0, err
	}
	return uintptr(newfd), nil
}

func sysDup2(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return dup3(t, int32(a[0]), int32(a[1]), 0, true)
}

func sysDup3(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return dup3(t, int32(a[0]), int32(a[1]), a[2], false)
}

func sysFcntl(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	fd := int32(a[0])
	f, err := t.FDs().Get(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	switch cmd := int(int32(a[1])); cmd {
	case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC:
		min := int32(a[2])
		if int64(a[2]) != int64(min) && int64(int32(a[2])) < 0 {
			return 0, unix.EINVAL
		}
		nfd, err := t.FDs().Install(f, min, cmd == unix.F_DUPFD_CLOEXEC, nofile(t))
		return uintptr(nfd), err
	case unix.F_GETFD:
		ce, err := t.FDs().CloseOnExec(fd)
		if ce {
			return unix.FD_CLOEXEC, err
		}
		return 0, err
	case unix.F_SETFD:
		return 0, t.FDs().SetCloseOnExec(fd, a[2]&unix.FD_CLOEXEC != 0)
	case unix.F_GETFL:
		return uintptr(f.Flags()), nil
	case unix.F_SETFL:
		f.SetFlags(uint32(a[2]))
		return 0, nil
	case unix.F_GETLK, unix.F_SETLK, unix.F_SETLKW, unix.F_OFD_GETLK, unix.F_OFD_SETLK, unix.F_OFD_SETLKW:
		return 0, fcntlLock(t, f, cmd, a[2])
	case unix.F_ADD_SEALS, unix.F_GET_SEALS:
		return fcntlSeals(f, cmd, a[2])
	case unix.F_GETPIPE_SZ, unix.F_SETPIPE_SZ:
		p, ok := f.Impl().(interface {
			Size() int
			SetSize(int) (int, error)
		})
		if !ok {
			return 0, unix.EBADF // not a pipe, as Linux answers
		}
		if cmd == unix.F_GETPIPE_SZ {
			return uintptr(p.Size()), nil
		}
		n, err := p.SetSize(int(int32(a[2])))
		return uintptr(n), err
	default:
		return 0, unix.EINVAL
	}
}

// Generic ioctl requests (asm-generic/ioctls.h).
const (
	fionclex = 0x5450
	fioclex  = 0x5451
	fionbio  = 0x5421

	tiocgptpeer = 0x5441
)

func sysIoctl(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	fd := int32(a[0])
	f, err := t.FDs().Get(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	req := uint32(a[1])
	switch req {
	case fioclex, fionclex:
		return 0, t.FDs().SetCloseOnExec(fd, req == fioclex)
	case fionbio:
		var b [4]byte
		if err := copyIn(t, a[2], b[:]); err != nil {
			return 0, err
		}
		fl := f.Flags() &^ unix.O_NONBLOCK
		if le.Uint32(b[:]) != 0 {
			fl |= unix.O_NONBLOCK
		}
		f.SetFlags(fl)
		return 0, nil
	}
	if isSocket(f) {
		if handled, r, err := ifIoctl(t, req, a[2]); handled {
			return r, err
		}
	}
	if req == tiocgptpeer {
		if p, ok := f.Impl().(interface {
			OpenPeer(ctx vfs.Context, flags uint32) (vfs.FileImpl, error)
		}); ok {
			return openPeer(t, p.OpenPeer, uint32(a[2]))
		}
	}
	if io, ok := f.Impl().(vfs.Ioctler); ok {
		return io.Ioctl(ctxFor(t, f), req, a[2], t)
	}
	return 0, unix.ENOTTY
}

// openPeer implements TIOCGPTPEER: a new fd for a pseudo-terminal
// master's slave, opened with flags (access mode, O_NOCTTY, O_NONBLOCK,
// O_CLOEXEC).
func openPeer(t *kernel.Task, open func(vfs.Context, uint32) (vfs.FileImpl, error), flags uint32) (uintptr, error) {
	impl, err := open(t, flags)
	if err != nil {
		return 0, err
	}
	f := vfs.NewFileDescription(impl, vfs.Path{}, flags&(unix.O_ACCMODE|unix.O_NONBLOCK)|oLargefile)
	defer f.DecRef()
	fd, err := t.FDs().Install(f, 0, flags&unix.O_CLOEXEC != 0, nofile(t))
	return uintptr(fd), err
}

// fcntlLock implements the record-lock commands. The sandbox runs one
// process, and a process's own locks never conflict with each other, so
// every valid lock is granted and F_GETLK always finds the range free;
// locks across processes come with the processes and files work.
func fcntlLock(t *kernel.Task, f *vfs.FileDescription, cmd int, addr uintptr) error {
	var b [32]byte // struct flock
	if err := copyIn(t, addr, b[:]); err != nil {
		return err
	}
	typ, whence := int16(le.Uint16(b[0:])), int16(le.Uint16(b[2:]))
	start, length := int64(le.Uint64(b[8:])), int64(le.Uint64(b[16:]))
	ofd := cmd == unix.F_OFD_GETLK || cmd == unix.F_OFD_SETLK || cmd == unix.F_OFD_SETLKW
	if ofd && le.Uint32(b[24:]) != 0 { // l_pid must be 0
		return unix.EINVAL
	}
	switch typ {
	case unix.F_RDLCK, unix.F_WRLCK, unix.F_UNLCK:
	default:
		return unix.EINVAL
	}
	var base int64
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		off, err := f.Seek(t, 0, unix.SEEK_CUR)
		if err != nil {
			return err
		}
		base = off
	case unix.SEEK_END:
		st, err := f.Stat(t)
		if err != nil {
			return err
		}
		base = st.Size
	default:
		return unix.EINVAL
	}
	r := vfs.LockRange{Type: typ, Start: base + start}
	if start > 0 && r.Start < base {
		return unix.EOVERFLOW
	}
	switch {
	case length > 0:
		if r.End = r.Start + length; r.End < r.Start {
			return unix.EOVERFLOW
		}
	case length == 0:
		r.End = vfs.ToEOF
	default:
		r.Start, r.End = r.Start+length, r.Start
	}
	if r.Start < 0 {
		return unix.EINVAL
	}
	if cmd == unix.F_GETLK || cmd == unix.F_OFD_GETLK {
		if typ == unix.F_UNLCK {
			return unix.EINVAL
		}
		l, pid, found, err := f.GetLock(t, ofd, t.FDs(), r)
		if err != nil {
			return err
		}
		if !found {
			le.PutUint16(b[0:], unix.F_UNLCK)
			return copyOut(t, addr, b[:])
		}
		le.PutUint16(b[0:], uint16(l.Type))
		le.PutUint16(b[2:], unix.SEEK_SET)
		le.PutUint64(b[8:], uint64(l.Start))
		n := l.End - l.Start
		if l.End == vfs.ToEOF {
			n = 0
		}
		le.PutUint64(b[16:], uint64(n))
		le.PutUint32(b[24:], uint32(pid))
		return copyOut(t, addr, b[:])
	}
	if typ == unix.F_RDLCK && !f.Readable() || typ == unix.F_WRLCK && !f.Writable() {
		return unix.EBADF
	}
	wait := cmd == unix.F_SETLKW || cmd == unix.F_OFD_SETLKW
	return f.SetLock(t, ofd, t.FDs(), t.TGID(), r, wait)
}

// close_range flags.
const (
	closeRangeUnshare = 2
	closeRangeCloexec = 4
)

func sysCloseRange(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	first, last, flags := uint32(a[0]), uint32(a[1]), uint32(a[2])
	if flags&^(closeRangeUnshare|closeRangeCloexec) != 0 || first > last {
		return 0, unix.EINVAL
	}
	// The fd table is never shared between processes here, so UNSHARE
	// has nothing to do.
	t.FDs().CloseRange(first, last, flags&closeRangeCloexec != 0)
	return 0, nil
}

// flock operations.
const (
	lockSH = 1
	lockEX = 2
	lockNB = 4
	lockUN = 8
)

// sysFlock accepts BSD locks: a process never conflicts with itself, and
// locks between processes of a sandbox are not enforced yet.
func sysFlock(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, err := getFile(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	const lockMand = 32 // obsolete: Linux warns and does nothing
	if a[1]&lockMand != 0 {
		return 0, nil
	}
	switch int(a[1]) &^ lockNB {
	case lockSH, lockEX, lockUN:
		return 0, f.Flock(t, int(a[1]))
	}
	return 0, unix.EINVAL
}

// Syncer is implemented by files whose data can be flushed to stable
// storage (a host file behind a bind mount): fsync(2) and fdatasync(2).
// Files without it (the in-memory layers, devices) have nothing to flush.
type Syncer interface {
	Sync(datasync bool) error
}

// fsync implements fsync and fdatasync: EINVAL for files that cannot be
// synced (pipes, sockets, other streams), as Linux gives.
func fsync(t *kernel.Task, fd uintptr, datasync bool) (uintptr, error) {
	f, err := getFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	impl := f.Impl()
	if s, ok := impl.(Syncer); ok {
		return 0, s.Sync(datasync)
	}
	if s, ok := impl.(vfs.Stream); ok && s.IsStream() {
		return 0, unix.EINVAL
	}
	return 0, nil
}

func sysFsync(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) { return fsync(t, a[0], false) }

func sysFdatasync(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) { return fsync(t, a[0], true) }

// sysSync writes back the dirty shared mappings of host files (writable
// binds, an on-disk upper layer) to the host files. sync(2) cannot fail.
func sysSync(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	t.Kernel().Sync()
	return 0, nil
}

// FSSyncer is implemented by inodes whose filesystem holds data for the
// host (hostfs: shared mappings of its files); syncfs(2) calls it.
type FSSyncer interface{ SyncFS() error }

// sysSyncfs writes back the dirty shared mappings of the host files of the
// filesystem of fd; other filesystems hold nothing for the host. Errors of
// the write-back are returned, as Linux's syncfs reports writeback errors.
func sysSyncfs(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, err := getFile(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if p := f.Path(); p.Dentry != nil {
		if s, ok := p.Inode().(FSSyncer); ok {
			return 0, s.SyncFS()
		}
	}
	return 0, nil
}

func sysSyncFileRange(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	off, n, flags := int64(a[1]), int64(a[2]), a[3]
	const known = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	if flags&^known != 0 || off < 0 || n < 0 || off+n < off {
		return 0, unix.EINVAL
	}
	f, err := getFile(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if s, ok := f.Impl().(vfs.Stream); ok && s.IsStream() {
		return 0, unix.ESPIPE
	}
	if s, ok := f.Impl().(Syncer); ok && flags&unix.SYNC_FILE_RANGE_WRITE != 0 {
		return 0, s.Sync(true)
	}
	return 0, nil
}
