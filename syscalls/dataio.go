package syscalls

import (
	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/fs/pipe"
	"moat/kernel"
	"moat/vfs"
)

// The data-movement calls: sendfile, copy_file_range, splice, tee,
// vmsplice and fallocate. The sentry moves data by copying it through a
// buffer of its own (with reads and writes that notify inotify as read(2)
// and write(2) do); what Linux does with page references is invisible to
// the app, so only the errors, the blocking and the counts follow Linux.

// splice(2) flags.
const (
	spliceFMove     = 1
	spliceFNonblock = 2
	spliceFMore     = 4
	spliceFGift     = 8
	spliceFAll      = spliceFMove | spliceFNonblock | spliceFMore | spliceFGift
)

// pageSize is the size of a pipe buffer's page (vmsplice).
const pageSize = 4096

// maxFileOffset is the largest offset of the sandbox's files (Linux's
// MAX_LFS_FILESIZE, tmpfs's s_maxbytes).
const maxFileOffset = 1<<63 - 1

// verifyArea is Linux's rw_verify_area for a positional file: EINVAL for
// a negative offset or one that n bytes further overflows.
func verifyArea(off int64, n uintptr) error {
	if off < 0 || off+int64(n) < 0 {
		return unix.EINVAL
	}
	return nil
}

// fileType returns the S_IFMT bits of f's file.
func fileType(t *kernel.Task, f *vfs.FileDescription) (uint32, error) {
	st, err := f.Stat(t)
	if err != nil {
		return 0, err
	}
	return st.Mode & unix.S_IFMT, nil
}

// position returns f's file offset; a stream's is 0 as on Linux.
func position(t *kernel.Task, f *vfs.FileDescription) int64 {
	if f.IsStream() {
		return 0
	}
	off, err := f.Seek(t, 0, unix.SEEK_CUR)
	if err != nil {
		return 0
	}
	return off
}

func setPosition(t *kernel.Task, f *vfs.FileDescription, off int64) {
	if !f.IsStream() {
		f.Seek(t, off, unix.SEEK_SET)
	}
}

func copyInOffset(t *kernel.Task, addr uintptr) (int64, error) {
	var b [8]byte
	if err := copyIn(t, addr, b[:]); err != nil {
		return 0, err
	}
	return int64(le.Uint64(b[:])), nil
}

func copyOutOffset(t *kernel.Task, addr uintptr, off int64) error {
	var b [8]byte
	le.PutUint64(b[:], uint64(off))
	return copyOut(t, addr, b[:])
}

// epipe raises SIGPIPE for an EPIPE from a write, as write(2) does.
func epipe(t *kernel.Task, err error) error {
	switch err {
	case unix.EPIPE:
		t.SendSignalSelf(unix.SIGPIPE)
	case unix.EFBIG:
		xfsz(t)
	}
	return err
}

// xfsz sends SIGXFSZ to t for a write or truncation that failed with EFBIG
// while t has a finite RLIMIT_FSIZE: vfs refuses writes that start at or
// beyond it with EFBIG (see vfs.FileSizeLimiter), and with a finite limit
// no write reaches the largest offset, Linux's other EFBIG.
func xfsz(t *kernel.Task) {
	if t.FileSizeLimit() != kernel.RLimInfinity {
		t.SendSignalSelf(unix.SIGXFSZ)
	}
}

// spliceReadable returns EINVAL for files splice cannot read from:
// directories and pipes read through the pipe paths (Linux: no
// splice_read).
func spliceReadable(t *kernel.Task, f *vfs.FileDescription) error {
	if isPipe, _ := pipe.Of(f.Impl()); isPipe {
		return unix.EINVAL
	}
	if typ, err := fileType(t, f); err == nil && typ == unix.S_IFDIR {
		return unix.EINVAL
	}
	return nil
}

// fileToPipe moves up to n bytes from in (at off, or from the stream when
// off < 0) into the pipe out: it waits for room in the pipe (EAGAIN
// instead with nonblock; EPIPE and SIGPIPE with no readers), then reads
// at most that much. It returns 0 at the end of in.
func fileToPipe(t *kernel.Task, in *vfs.FileDescription, off int64, out *vfs.FileDescription, n uintptr, nonblock bool) (uintptr, error) {
	if err := spliceReadable(t, in); err != nil {
		return 0, err
	}
	room, err := pipe.WaitRoom(ioCtx{Task: t, nonblock: nonblock}, out.Impl())
	if err != nil {
		return 0, epipe(t, err)
	}
	buf := make([]byte, min(n, uintptr(room)))
	got, err := in.Read(ioCtx{Task: t, nonblock: nonblock || in.Flags()&unix.O_NONBLOCK != 0}, buf, off)
	if got <= 0 {
		return 0, err
	}
	w, err := pipe.Append(out.Impl(), buf[:got])
	if w == 0 && err != nil {
		return 0, epipe(t, err)
	}
	return uintptr(w), nil
}

// pipeToFile moves up to n bytes from the pipe in to out (at off, or at
// out's file offset when off < 0): it waits for data in the pipe (EAGAIN
// instead with nonblock; 0 with no writers left), writes what is there,
// and takes from the pipe only what out accepted.
func pipeToFile(t *kernel.Task, in *vfs.FileDescription, out *vfs.FileDescription, off int64, n uintptr, nonblock bool) (uintptr, error) {
	avail, err := pipe.WaitData(ioCtx{Task: t, nonblock: nonblock}, in.Impl())
	if err != nil || avail == 0 {
		return 0, err
	}
	buf := make([]byte, min(n, uintptr(avail)))
	got := pipe.Peek(in.Impl(), buf)
	// Like Linux's iter_file_splice_write, write until all of it is
	// written or the file refuses the rest: a write cut short at
	// RLIMIT_FSIZE is followed by one that fails there (and so sends
	// SIGXFSZ, as Linux does).
	done, err := spliceWrite(t, out, buf[:got], off)
	if done > 0 {
		pipe.Consume(in.Impl(), done)
		return uintptr(done), nil
	}
	return 0, epipe(t, err)
}

// spliceWrite writes p to out at off (or at its file offset when off < 0)
// as Linux's iter_file_splice_write does: until all of p is written or
// out refuses the rest. So a write cut short at RLIMIT_FSIZE is followed
// by one that fails there, which sends SIGXFSZ, as on Linux. The error is
// returned only when nothing was written.
func spliceWrite(t *kernel.Task, out *vfs.FileDescription, p []byte, off int64) (int, error) {
	ctx := ctxFor(t, out)
	done := 0
	for done < len(p) {
		at := off
		if off >= 0 {
			at = off + int64(done)
		}
		w, err := out.Write(ctx, p[done:], at)
		done += w
		if err != nil {
			if done == 0 {
				return 0, err
			}
			if err == unix.EFBIG {
				xfsz(t)
			}
			break
		}
		if w == 0 || t.Killed() {
			break
		}
	}
	return done, nil
}

// pipeToPipe moves (or with !consume, copies: tee) up to n bytes from the
// pipe in to the pipe out, waiting first for data in in, then for room in
// out, as Linux's splice_pipe_to_pipe and link_pipe do.
func pipeToPipe(t *kernel.Task, in, out *vfs.FileDescription, n uintptr, nonblock, consume bool) (uintptr, error) {
	ctx := ioCtx{Task: t, nonblock: nonblock}
	avail, err := pipe.WaitData(ctx, in.Impl())
	if err != nil {
		return 0, err
	}
	room, err := pipe.WaitRoom(ctx, out.Impl())
	if err != nil {
		return 0, epipe(t, err)
	}
	buf := make([]byte, min(n, uintptr(avail), uintptr(room)))
	if len(buf) == 0 {
		return 0, nil
	}
	got := pipe.Peek(in.Impl(), buf)
	w, err := pipe.Append(out.Impl(), buf[:got])
	if w == 0 && err != nil {
		return 0, epipe(t, err)
	}
	if consume {
		pipe.Consume(in.Impl(), w)
	}
	return uintptr(w), nil
}

// copyDirect copies up to n bytes from in at off to out at outOff (or
// out's file offset when outOff < 0), chunk by chunk, until n, the end of
// in, or a short write; it returns what was written.
func copyDirect(t *kernel.Task, in *vfs.FileDescription, off int64, out *vfs.FileDescription, outOff int64, n uintptr) (uintptr, error) {
	buf := make([]byte, min(n, ioChunk))
	inCtx := ctxFor(t, in)
	var done uintptr
	for done < n {
		want := min(n-done, uintptr(len(buf)))
		got, err := in.Read(inCtx, buf[:want], off+int64(done))
		if got <= 0 {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		pos := outOff
		if outOff >= 0 {
			pos = outOff + int64(done)
		}
		w, err := spliceWrite(t, out, buf[:got], pos)
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
		if w < got || uintptr(got) < want || t.Killed() {
			break
		}
	}
	return done, nil
}

func sysSendfile(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	outFD, inFD, offAddr, count := a[0], a[1], a[2], a[3]
	var pos int64
	if offAddr != 0 {
		off, err := copyInOffset(t, offAddr)
		if err != nil {
			return 0, err
		}
		pos = off
	}
	n, pos, err := sendfile(t, outFD, inFD, offAddr != 0, pos, count)
	if offAddr != 0 {
		if cerr := copyOutOffset(t, offAddr, pos); cerr != nil {
			return 0, cerr
		}
	}
	return n, err
}

// sendfile is do_sendfile: with usePos it transfers from pos and returns
// the position after, leaving in's file offset alone; otherwise it
// transfers from and advances in's file offset.
func sendfile(t *kernel.Task, outFD, inFD uintptr, usePos bool, pos int64, count uintptr) (uintptr, int64, error) {
	in, err := getFile(t, inFD)
	if err != nil {
		return 0, pos, err
	}
	defer in.DecRef()
	if !in.Readable() {
		return 0, pos, unix.EBADF
	}
	if usePos {
		if in.IsStream() {
			return 0, pos, unix.ESPIPE
		}
	} else {
		pos = position(t, in)
	}
	if err := verifyArea(pos, count); err != nil {
		return 0, pos, err
	}
	count = min(count, maxRW)
	out, err := getFile(t, outFD)
	if err != nil {
		return 0, pos, err
	}
	defer out.DecRef()
	if !out.Writable() {
		return 0, pos, unix.EBADF
	}
	// Linux's EOVERFLOW for pos+count beyond the files' maximum size
	// cannot happen here: the maximum is the largest offset, and
	// verifyArea has refused sums that overflow it.
	// Linux ignores in's O_NONBLOCK here (do_sendfile has it under #if 0).
	nonblock := false
	readOff := pos
	if in.IsStream() {
		readOff = -1
	}
	var n uintptr
	if isPipe, _ := pipe.Of(out.Impl()); isPipe {
		nonblock = nonblock || out.Flags()&unix.O_NONBLOCK != 0
		n, err = fileToPipe(t, in, readOff, out, count, nonblock)
	} else {
		if out.Flags()&unix.O_APPEND != 0 {
			return 0, pos, unix.EINVAL
		}
		if err := verifyArea(position(t, out), count); err != nil {
			return 0, pos, err
		}
		// Without a pipe in between, Linux requires a regular input
		// file.
		if typ, err := fileType(t, in); err != nil || typ != unix.S_IFREG {
			return 0, pos, unix.EINVAL
		}
		n, err = copyDirect(t, in, pos, out, -1, count)
	}
	pos += int64(n)
	if !usePos {
		setPosition(t, in, pos)
	}
	return n, pos, err
}

func sysSplice(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	inFD, offInAddr, outFD, offOutAddr, n, flags := a[0], a[1], a[2], a[3], a[4], uint32(a[5])
	if n == 0 {
		return 0, nil
	}
	if flags&^spliceFAll != 0 {
		return 0, unix.EINVAL
	}
	in, out, err := getReadWrite(t, inFD, outFD)
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	defer out.DecRef()
	inPipe, _ := pipe.Of(in.Impl())
	outPipe, _ := pipe.Of(out.Impl())
	inFIFO, outFIFO := inPipe || isHostFIFO(t, in), outPipe || isHostFIFO(t, out)
	if inFIFO && offInAddr != 0 || outFIFO && offOutAddr != 0 {
		return 0, unix.ESPIPE
	}
	var offIn, offOut int64
	if offOutAddr != 0 {
		if offOut, err = copyInOffset(t, offOutAddr); err != nil {
			return 0, err
		}
	}
	if offInAddr != 0 {
		if offIn, err = copyInOffset(t, offInAddr); err != nil {
			return 0, err
		}
	}
	nonblock := flags&spliceFNonblock != 0
	var done uintptr
	switch {
	case inPipe && outPipe:
		if pipe.Same(in.Impl(), out.Impl()) {
			return 0, unix.EINVAL
		}
		nonblock = nonblock || (in.Flags()|out.Flags())&unix.O_NONBLOCK != 0
		return pipeToPipe(t, in, out, n, nonblock, true)
	case inPipe:
		if offOutAddr != 0 {
			if out.IsStream() {
				return 0, unix.EINVAL // no pwrite
			}
		} else {
			offOut = position(t, out)
		}
		if out.Flags()&unix.O_APPEND != 0 {
			return 0, unix.EINVAL
		}
		if err := verifyArea(offOut, n); err != nil {
			return 0, err
		}
		nonblock = nonblock || in.Flags()&unix.O_NONBLOCK != 0
		at := offOut
		if offOutAddr == 0 {
			at = -1 // at and advancing out's file offset
		}
		done, err = pipeToFile(t, in, out, at, n, nonblock)
		offOut += int64(done)
	case outPipe:
		if offInAddr != 0 {
			if in.IsStream() {
				return 0, unix.EINVAL // no pread
			}
		} else {
			offIn = position(t, in)
		}
		if err := verifyArea(offIn, n); err != nil {
			return 0, err
		}
		nonblock = nonblock || out.Flags()&unix.O_NONBLOCK != 0
		at := offIn
		if in.IsStream() {
			at = -1
		}
		done, err = fileToPipe(t, in, at, out, n, nonblock)
		offIn += int64(done)
		if offInAddr == 0 {
			setPosition(t, in, offIn)
		}
	case inFIFO || outFIFO:
		// A host pipe (the sandbox's stdin or stdout): one read and
		// one write, blocking as the host pipe does.
		if !inFIFO {
			if err := spliceReadable(t, in); err != nil {
				return 0, err
			}
			if offInAddr == 0 {
				offIn = position(t, in)
			}
			if err := verifyArea(offIn, n); err != nil {
				return 0, err
			}
		}
		if !outFIFO {
			if out.Flags()&unix.O_APPEND != 0 {
				return 0, unix.EINVAL
			}
			if offOutAddr == 0 {
				offOut = position(t, out)
			}
			if err := verifyArea(offOut, n); err != nil {
				return 0, err
			}
		}
		done, err = copyHostPipe(t, in, !inFIFO, offIn, out, !outFIFO && offOutAddr != 0, offOut, n)
		if !inFIFO {
			offIn += int64(done)
			if offInAddr == 0 {
				setPosition(t, in, offIn)
			}
		}
		if !outFIFO {
			offOut += int64(done)
		}
	default:
		return 0, unix.EINVAL
	}
	if err != nil {
		return 0, err
	}
	if offOutAddr != 0 {
		if err := copyOutOffset(t, offOutAddr, offOut); err != nil {
			return 0, err
		}
	}
	if offInAddr != 0 {
		if err := copyOutOffset(t, offInAddr, offIn); err != nil {
			return 0, err
		}
	}
	return done, nil
}

// isHostFIFO reports whether f is a host pipe (a FIFO that is not one of
// the sandbox's own pipes), such as the sandbox's stdin or stdout.
func isHostFIFO(t *kernel.Task, f *vfs.FileDescription) bool {
	if !f.IsStream() {
		return false
	}
	typ, err := fileType(t, f)
	return err == nil && typ == unix.S_IFIFO
}

// copyHostPipe is splice with a host pipe on one side or both: one read
// of up to a pipe's worth from in (at off if positional), written whole
// to out (at outOff if outAt, else at its file offset or to the stream).
func copyHostPipe(t *kernel.Task, in *vfs.FileDescription, positional bool, off int64, out *vfs.FileDescription, outAt bool, outOff int64, n uintptr) (uintptr, error) {
	buf := make([]byte, min(n, pipe.Capacity))
	at := int64(-1)
	if positional {
		at = off
	}
	got, err := in.Read(ctxFor(t, in), buf, at)
	if got <= 0 {
		return 0, err
	}
	to := int64(-1)
	if outAt {
		to = outOff
	}
	w, err := out.Write(ctxFor(t, out), buf[:got], to)
	if w > 0 {
		return uintptr(w), nil
	}
	return 0, epipe(t, err)
}

func sysTee(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	inFD, outFD, n, flags := a[0], a[1], a[2], uint32(a[3])
	if flags&^spliceFAll != 0 {
		return 0, unix.EINVAL
	}
	if n == 0 {
		return 0, nil
	}
	in, out, err := getReadWrite(t, inFD, outFD)
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	defer out.DecRef()
	inPipe, _ := pipe.Of(in.Impl())
	outPipe, _ := pipe.Of(out.Impl())
	if !inPipe || !outPipe || pipe.Same(in.Impl(), out.Impl()) {
		return 0, unix.EINVAL
	}
	nonblock := flags&spliceFNonblock != 0 || (in.Flags()|out.Flags())&unix.O_NONBLOCK != 0
	return pipeToPipe(t, in, out, n, nonblock, false)
}

func sysVmsplice(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	fd, iovAddr, cnt, flags := a[0], a[1], a[2], uint32(a[3])
	if flags&^spliceFAll != 0 {
		return 0, unix.EINVAL
	}
	f, err := getFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	toPipe := f.Writable()
	if !toPipe && !f.Readable() {
		return 0, unix.EBADF
	}
	iovs, err := copyInIovecs(t, iovAddr, cnt)
	if err != nil {
		return 0, err
	}
	var total uintptr
	for _, iov := range iovs {
		total += iov.len
	}
	total = min(total, maxRW)
	if total == 0 {
		return 0, nil
	}
	if isPipe, _ := pipe.Of(f.Impl()); !isPipe {
		return 0, unix.EBADF
	}
	// Unlike splice, vmsplice ignores the pipe's O_NONBLOCK.
	ctx := ioCtx{Task: t, nonblock: flags&spliceFNonblock != 0}
	if toPipe {
		room, err := pipe.WaitRoom(ctx, f.Impl())
		if err != nil {
			return 0, epipe(t, err)
		}
		// Linux fills one pipe buffer (a page) per page fragment of the
		// app's memory, so an unaligned buffer fits less than the room.
		slots := max(room/pageSize, 1)
		var fits uintptr
		for _, iov := range iovs {
			for base, n := iov.base, iov.len; n > 0 && slots > 0; slots-- {
				frag := min(n, pageSize-base%pageSize)
				fits += frag
				base += frag
				n -= frag
			}
		}
		buf := make([]byte, 0, min(total, uintptr(room), fits))
		for _, iov := range iovs {
			want := min(iov.len, uintptr(cap(buf)-len(buf)))
			if want == 0 {
				continue
			}
			got, _ := t.CopyIn(iov.base, buf[len(buf):len(buf)+int(want)])
			buf = buf[:len(buf)+got]
			if uintptr(got) < want {
				break
			}
		}
		if len(buf) == 0 {
			return 0, unix.EFAULT
		}
		w, err := pipe.Append(f.Impl(), buf)
		if w == 0 && err != nil {
			return 0, epipe(t, err)
		}
		return uintptr(w), nil
	}
	avail, err := pipe.WaitData(ctx, f.Impl())
	if err != nil || avail == 0 {
		return 0, err
	}
	buf := make([]byte, min(total, uintptr(avail)))
	buf = buf[:pipe.Peek(f.Impl(), buf)]
	done := 0
	for _, iov := range iovs {
		if done == len(buf) {
			break
		}
		want := min(int(min(iov.len, uintptr(len(buf)))), len(buf)-done)
		if want == 0 {
			continue
		}
		got, _ := t.CopyOut(iov.base, buf[done:done+want])
		done += got
		if got < want {
			break
		}
	}
	if done == 0 {
		return 0, unix.EFAULT
	}
	pipe.Consume(f.Impl(), done)
	return uintptr(done), nil
}

func sysCopyFileRange(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	inFD, offInAddr, outFD, offOutAddr, n, flags := a[0], a[1], a[2], a[3], a[4], a[5]
	in, err := getFile(t, inFD)
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	out, err := getFile(t, outFD)
	if err != nil {
		return 0, err
	}
	defer out.DecRef()
	var posIn, posOut int64
	if offInAddr != 0 {
		if posIn, err = copyInOffset(t, offInAddr); err != nil {
			return 0, err
		}
	} else {
		posIn = position(t, in)
	}
	if offOutAddr != 0 {
		if posOut, err = copyInOffset(t, offOutAddr); err != nil {
			return 0, err
		}
	} else {
		posOut = position(t, out)
	}
	if flags != 0 {
		return 0, unix.EINVAL
	}
	done, err := copyFileRange(t, in, posIn, out, posOut, n)
	if err != nil || done == 0 {
		return 0, err
	}
	posIn += int64(done)
	posOut += int64(done)
	if offInAddr != 0 {
		if err := copyOutOffset(t, offInAddr, posIn); err != nil {
			return 0, err
		}
	} else {
		setPosition(t, in, posIn)
	}
	if offOutAddr != 0 {
		if err := copyOutOffset(t, offOutAddr, posOut); err != nil {
			return 0, err
		}
	} else {
		setPosition(t, out, posOut)
	}
	return done, nil
}

// copyFileRange is vfs_copy_file_range with Linux's checks in Linux's
// order (generic_copy_file_checks, then rw_verify_area for both sides).
func copyFileRange(t *kernel.Task, in *vfs.FileDescription, posIn int64, out *vfs.FileDescription, posOut int64, n uintptr) (uintptr, error) {
	stIn, err := in.Stat(t)
	if err != nil {
		return 0, err
	}
	stOut, err := out.Stat(t)
	if err != nil {
		return 0, err
	}
	typIn, typOut := stIn.Mode&unix.S_IFMT, stOut.Mode&unix.S_IFMT
	if typIn == unix.S_IFDIR || typOut == unix.S_IFDIR {
		return 0, unix.EISDIR
	}
	if typIn != unix.S_IFREG || typOut != unix.S_IFREG {
		return 0, unix.EINVAL
	}
	if !in.Readable() || !out.Writable() || out.Flags()&unix.O_APPEND != 0 {
		return 0, unix.EBADF
	}
	count := uint64(n)
	if uint64(posIn)+count < uint64(posIn) || uint64(posOut)+count < uint64(posOut) {
		return 0, unix.EOVERFLOW
	}
	if posIn >= stIn.Size {
		count = 0
	} else {
		count = min(count, uint64(stIn.Size)-uint64(posIn))
	}
	if limit := t.Limits().Get(unix.RLIMIT_FSIZE).Cur; limit != kernel.RLimInfinity {
		if uint64(posOut) >= limit && posOut >= 0 {
			t.SendSignalSelf(unix.SIGXFSZ)
			return 0, unix.EFBIG
		}
		count = min(count, limit-uint64(posOut))
	}
	if posOut >= maxFileOffset {
		return 0, unix.EFBIG
	}
	count = min(count, uint64(maxFileOffset-posOut))
	if stIn.Dev == stOut.Dev && stIn.Ino == stOut.Ino &&
		posOut+int64(count) > posIn && posOut < posIn+int64(count) {
		return 0, unix.EINVAL // overlapping ranges of one file
	}
	if filesystemOf(t, in, stIn) != filesystemOf(t, out, stOut) {
		return 0, unix.EXDEV // Linux copies only within one filesystem
	}
	if err := verifyArea(posIn, uintptr(count)); err != nil {
		return 0, err
	}
	if err := verifyArea(posOut, uintptr(count)); err != nil {
		return 0, err
	}
	if count == 0 {
		return 0, nil
	}
	return copyDirect(t, in, posIn, out, posOut, min(uintptr(count), maxRW))
}

// filesystemOf identifies the filesystem of f (whose Stat is st), as
// Linux's superblock: the device number of its mount's root, which for the
// overlay root is the overlay's even when f is a file of a lower layer.
// Files outside the mount tree (memfds) go by their own device number.
func filesystemOf(t *kernel.Task, f *vfs.FileDescription, st vfs.Stat) uint64 {
	m := f.Path().Mount
	if m == nil {
		return st.Dev
	}
	root := m.Root()
	if root.Dentry == nil {
		return st.Dev
	}
	rst, err := root.Inode().Stat(t)
	if err != nil {
		return st.Dev
	}
	return rst.Dev
}

// fallocate(2) modes (linux/falloc.h).
const (
	fallocKeepSize      = 0x01
	fallocPunchHole     = 0x02
	fallocCollapseRange = 0x08
	fallocZeroRange     = 0x10
	fallocInsertRange   = 0x20
	fallocUnshareRange  = 0x40
	fallocWriteZeroes   = 0x80
	fallocModeMask      = fallocPunchHole | fallocCollapseRange | fallocZeroRange | fallocInsertRange | fallocUnshareRange | fallocWriteZeroes
)

func sysFallocate(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	mode, off, n := uint32(a[1]), int64(a[2]), int64(a[3])
	f, err := getFile(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if off < 0 || n <= 0 {
		return 0, unix.EINVAL
	}
	if mode&^(fallocModeMask|fallocKeepSize) != 0 {
		return 0, unix.EOPNOTSUPP
	}
	switch mode & fallocModeMask {
	case 0, fallocUnshareRange, fallocZeroRange:
	case fallocPunchHole:
		if mode&fallocKeepSize == 0 {
			return 0, unix.EOPNOTSUPP
		}
	case fallocCollapseRange, fallocInsertRange, fallocWriteZeroes:
		if mode&fallocKeepSize != 0 {
			return 0, unix.EOPNOTSUPP
		}
	default:
		return 0, unix.EOPNOTSUPP
	}
	if !f.Writable() {
		return 0, unix.EBADF
	}
	typ, err := fileType(t, f)
	if err != nil {
		return 0, err
	}
	switch typ {
	case unix.S_IFREG:
	case unix.S_IFIFO:
		return 0, unix.ESPIPE
	case unix.S_IFDIR:
		return 0, unix.EISDIR
	default:
		return 0, unix.ENODEV
	}
	if off+n < off || off+n > maxFileOffset {
		return 0, unix.EFBIG
	}
	al, ok := f.Impl().(vfs.Allocator)
	if !ok {
		return 0, unix.EOPNOTSUPP
	}
	if mode&(fallocKeepSize|fallocPunchHole) == 0 {
		if limit := t.Limits().Get(unix.RLIMIT_FSIZE).Cur; limit != kernel.RLimInfinity && uint64(off+n) > limit {
			if st, err := f.Stat(t); err == nil && off+n > st.Size {
				t.SendSignalSelf(unix.SIGXFSZ)
				return 0, unix.EFBIG
			}
		}
	}
	if err := al.Allocate(mode, off, n); err != nil {
		return 0, err
	}
	vfs.NotifyFile(f, vfs.InModify)
	return 0, nil
}

// getReadWrite returns, with a reference each, the open files of inFD,
// which must be readable, and outFD, which must be writable (EBADF), as
// splice and tee take them.
func getReadWrite(t *kernel.Task, inFD, outFD uintptr) (in, out *vfs.FileDescription, err error) {
	if in, err = getFile(t, inFD); err != nil {
		return nil, nil, err
	}
	if out, err = getFile(t, outFD); err != nil {
		in.DecRef()
		return nil, nil, err
	}
	if !in.Readable() || !out.Writable() {
		in.DecRef()
		out.DecRef()
		return nil, nil, unix.EBADF
	}
	return in, out, nil
}
