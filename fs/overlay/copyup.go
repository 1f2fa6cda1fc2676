package overlay

import (
	"errors"

	"golang.org/x/sys/unix"

	"moat/fs/memfs"
	"moat/vfs"
)

// copyChunk is how much lower file data copy-up reads at a time.
const copyChunk = 128 << 10

// sparseFile is implemented by lower files that can report their data
// ranges (hostfs.File), so that copy-up skips holes without reading them.
type sparseFile interface {
	SeekData(off int64) (int64, error)
	SeekHole(off int64) (int64, error)
}

// ensureUpper copies n up unless it has an upper inode already. With
// withData false a regular file is copied up empty (for O_TRUNC).
func (fs *FS) ensureUpper(ctx vfs.Context, n *Inode, withData bool) error {
	if n.upperInode() != nil {
		return nil
	}
	var data upperData
	if withData {
		var err error
		if data, err = fs.prepareData(ctx, n); err != nil {
			return err
		}
		if data != nil {
			defer data.Drop()
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.copyUpLocked(ctx, n, data, withData)
}

// prepareData copies the data of n, if it is a regular file without an
// upper inode yet, into a detached upper file. It returns nil, nil when
// there is nothing to copy. The caller must Drop the result.
//
// Preconditions: fs.mu is not held.
func (fs *FS) prepareData(ctx vfs.Context, n *Inode) (upperData, error) {
	if n.typ != unix.S_IFREG || n.upperInode() != nil || n.lower == nil {
		return nil, nil
	}
	st, err := n.lower.Stat(ctx)
	if err != nil {
		return nil, err
	}
	return fs.copyData(ctx, n.lower, &st)
}

// preparedData is the outcome of prepareData, run before taking fs.mu and
// used under it: its error counts only if the inode still needs copying
// up by then (another caller may have done it meanwhile).
type preparedData struct {
	data upperData
	err  error
}

// prepare runs prepareData for n; the caller must drop the result.
//
// Preconditions: fs.mu is not held.
func (fs *FS) prepare(ctx vfs.Context, n *Inode) preparedData {
	data, err := fs.prepareData(ctx, n)
	return preparedData{data, err}
}

// drop releases the prepared data, if any.
func (p preparedData) drop() {
	if p.data != nil {
		p.data.Drop()
	}
}

// copyUpPreparedLocked copies n up, with its data from p (copied now if
// p holds none).
//
// Preconditions: fs.mu is held for writing.
func (fs *FS) copyUpPreparedLocked(ctx vfs.Context, n *Inode, p preparedData) error {
	if n.upper == nil && p.err != nil {
		return p.err
	}
	return fs.copyUpLocked(ctx, n, p.data, true)
}

// copyData copies the lower regular file lower (with attributes st) into a
// new detached upper file. Pages of zeros and holes are not stored. It fails
// with ENOSPC without reading anything if the file cannot fit.
func (fs *FS) copyData(ctx vfs.Context, lower vfs.Inode, st *vfs.Stat) (upperData, error) {
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, unix.EXDEV
	}
	f, err := lower.Open(ctx, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Release()
	sf, sparse := f.(sparseFile)
	need := st.Size
	if sparse && st.Blocks*512 < need {
		need = st.Blocks * 512
	}
	if need > fs.upper.room() {
		return nil, unix.ENOSPC
	}
	tmp, err := fs.upper.newFile(ctx, attrOf(st))
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Drop()
		}
	}()
	buf := make([]byte, copyChunk)
	for off := int64(0); off < st.Size; {
		end := st.Size
		if sparse {
			start, err := sf.SeekData(off)
			if errors.Is(err, unix.ENXIO) {
				break // only a hole is left
			}
			if err != nil {
				sparse = false // cannot tell: copy everything
			} else {
				if start >= st.Size {
					break
				}
				if end, err = sf.SeekHole(start); err != nil || end > st.Size || end <= start {
					end = st.Size
				}
				off = start
			}
		}
		for off < end {
			want := min(int64(len(buf)), end-off)
			got, err := f.Read(ctx, buf[:want], off)
			if err != nil {
				return nil, err
			}
			if got == 0 { // the file shrank under us
				end, st.Size = off, off
				break
			}
			if err := writeNonZero(tmp, buf[:got], off); err != nil {
				return nil, err
			}
			off += int64(got)
		}
		if !sparse && off >= end {
			break
		}
	}
	if err := tmp.Truncate(st.Size); err != nil {
		return nil, err
	}
	ok = true
	return tmp, nil
}

// writeNonZero writes p at off to f, skipping page-aligned runs of zeros so
// that they stay holes.
func writeNonZero(f upperData, p []byte, off int64) error {
	for len(p) > 0 {
		// Up to the next page boundary.
		n := int(memfs.PageSize - off%memfs.PageSize)
		if n > len(p) {
			n = len(p)
		}
		if !allZero(p[:n]) {
			if _, err := f.WriteAt(p[:n], off); err != nil {
				return err
			}
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

func allZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}

// copyUpLocked gives n an upper inode, copying its ancestors up first.
// For a regular file, data is a detached upper file prepared by
// prepareData; if it is nil and withData is set, the data is copied now
// (with the lock held); without withData the file is copied up empty.
// Special files (FIFOs, sockets, devices) are copied up as themselves;
// anything else is EXDEV.
//
// Preconditions: fs.mu is held for writing.
func (fs *FS) copyUpLocked(ctx vfs.Context, n *Inode, data upperData, withData bool) error {
	if n.upper != nil {
		return nil
	}
	if n.dead || n.parent == nil || n.lower == nil {
		return unix.ENOENT
	}
	p := n.parent
	if err := fs.copyUpLocked(ctx, p, nil, true); err != nil {
		return err
	}
	st, err := n.lower.Stat(ctx)
	if err != nil {
		return err
	}
	typ := st.Mode & unix.S_IFMT
	if typ != n.typ {
		return unix.EIO // the host changed the lower tree under us
	}
	cu := copyUpSpec{Type: typ, Attr: attrOf(&st), OriginDev: st.Dev, OriginIno: st.Ino}
	switch typ {
	case unix.S_IFDIR:
	case unix.S_IFLNK:
		if cu.Target, err = n.lower.Readlink(ctx); err != nil {
			return err
		}
	case unix.S_IFREG:
		if data == nil && withData {
			if data, err = fs.copyData(ctx, n.lower, &st); err != nil {
				return err
			}
			defer data.Drop()
		}
		cu.Data = data
	case unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR, unix.S_IFBLK:
		cu.Rdev = st.Rdev
	default:
		return unix.EXDEV
	}
	up, err := p.upper.copyUpEntry(ctx, n.name, cu)
	if err != nil {
		return err
	}
	n.upper = up
	return nil
}
