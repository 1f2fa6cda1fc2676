package memfs

import (
	"golang.org/x/sys/unix"

	"moat/vfs"
)

// Unlinked files and seals: memfd_create(2) makes a regular file with no
// name, open for reading and writing, whose size and contents can be
// sealed (fcntl F_ADD_SEALS). Writes, truncation and writable shared
// mappings check the seals.

// Seal bits (fcntl F_ADD_SEALS).
const (
	SealSeal        = unix.F_SEAL_SEAL
	SealShrink      = unix.F_SEAL_SHRINK
	SealGrow        = unix.F_SEAL_GROW
	SealWrite       = unix.F_SEAL_WRITE
	SealFutureWrite = unix.F_SEAL_FUTURE_WRITE
	sealsKnown      = SealSeal | SealShrink | SealGrow | SealWrite | SealFutureWrite
)

// NewUnlinked returns a new open regular file with no name (nlink 0), owned
// by ctx's user, gone when the last reference to it closes. With sealable
// false, F_SEAL_SEAL is set from the start, so no seal can be added (as a
// memfd without MFD_ALLOW_SEALING).
func (fs *FS) NewUnlinked(ctx vfs.Context, mode uint32, sealable bool) (*File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.inodes >= fs.maxInodes {
		return nil, unix.ENOSPC
	}
	uid, gid := creds(ctx)
	in := fs.newInodeLocked(unix.S_IFREG|mode&07777, uid, gid, fs.timeNow())
	if !sealable {
		in.seals = SealSeal
	}
	in.refs++
	return &File{in: in}, nil
}

// SetName names an unlinked file as /proc/PID/fd shows it
// ("/memfd:NAME (deleted)").
func (f *File) SetName(name string) { f.name = name }

// Name is what /proc/PID/fd shows for an unlinked file.
func (f *File) Name() string { return f.name }

// TmpFile implements vfs.TmpFiler: a new unnamed regular file of the
// directory's filesystem, open read-write, which linkat(AT_EMPTY_PATH)
// may name if linkable.
func (d *Inode) TmpFile(ctx vfs.Context, mode uint32, linkable bool) (vfs.Inode, vfs.FileImpl, error) {
	d.fs.mu.Lock()
	err := d.checkDirLocked()
	gid := uint32(0)
	sgid := d.mode&unix.S_ISGID != 0
	if sgid {
		gid = d.gid
	}
	d.fs.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	f, err := d.fs.NewUnlinked(ctx, mode, false)
	if err != nil {
		return nil, nil, err
	}
	d.fs.mu.Lock()
	f.in.linkable = linkable
	if sgid {
		f.in.gid = gid
	}
	d.fs.mu.Unlock()
	return f.in, f, nil
}

// Seals returns the file's seals (F_GET_SEALS).
func (f *File) Seals() uint32 {
	f.in.fs.mu.Lock()
	defer f.in.fs.mu.Unlock()
	return f.in.seals
}

// AddSeals adds seals (F_ADD_SEALS): EPERM once F_SEAL_SEAL is set, EINVAL
// for unknown bits.
func (f *File) AddSeals(seals uint32) error {
	if seals&^sealsKnown != 0 {
		return unix.EINVAL
	}
	f.in.fs.mu.Lock()
	defer f.in.fs.mu.Unlock()
	if f.in.seals&SealSeal != 0 {
		return unix.EPERM
	}
	f.in.seals |= seals
	return nil
}

// SealsForbidWrite reports whether the file's seals forbid writing, so a
// writable shared mapping is refused (EPERM).
func (f *File) SealsForbidWrite() bool {
	return f.Seals()&(SealWrite|SealFutureWrite) != 0
}

// checkWriteSealsLocked returns EPERM if the seals forbid writing n bytes
// at off.
//
// Preconditions: fs.mu is held.
func (in *Inode) checkWriteSealsLocked(off int64, n int) error {
	if in.seals&(SealWrite|SealFutureWrite) != 0 {
		return unix.EPERM
	}
	if in.seals&SealGrow != 0 && off+int64(n) > in.size {
		return unix.EPERM
	}
	return nil
}

// checkSizeSealsLocked returns EPERM if the seals forbid resizing to size.
//
// Preconditions: fs.mu is held.
func (in *Inode) checkSizeSealsLocked(size int64) error {
	if size < in.size && in.seals&SealShrink != 0 || size > in.size && in.seals&SealGrow != 0 {
		return unix.EPERM
	}
	return nil
}
