// Package dev implements moat's /dev: a small, fixed directory of the
// character devices every program expects (null, zero, full, random,
// urandom, tty, ptmx), the fd/stdin/stdout/stderr symlinks into
// /proc/self, and two empty directories, shm and pts, that exist only as
// mount points.
//
// tty opens the caller's controlling terminal (ENXIO without one), which
// the caller's vfs.Context gives (ControllingTerminal). ptmx opens a new
// pseudo-terminal master of the devpts that Options.Ptmx names (ENODEV
// without one).
//
// The directory is read-only, as /dev looks to root in a container whose
// /dev is mounted read-only: creating, removing or renaming anything fails
// with EROFS (EEXIST when the name already exists, which Linux checks first).
// The devices themselves are fully usable for reading and writing.
//
// shm and pts are honest only as mount points: the kernel is expected to
// mount a tmpfs on /dev/shm and (when there is one) a devpts on /dev/pts.
// Left unmounted they are empty read-only directories, so shm_open fails
// with EROFS, as it would in a container with a read-only /dev and no
// /dev/shm mount.
//
// Device files are positional (they do not implement vfs.Stream), so
// pread/pwrite work and lseek succeeds. Linux's lseek on these devices
// always returns 0 without moving anything; the Seek method below gives vfs
// that behaviour once vfs consults it (see Seek).
//
// The package has no locks: every inode is immutable after New.
package dev

import (
	"crypto/rand"
	"time"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// Device numbers (major, minor) of the memory devices, as Linux assigns
// them (Documentation/admin-guide/devices.txt).
const (
	memMajor    = 1
	nullMinor   = 3
	zeroMinor   = 5
	fullMinor   = 7
	randomMinor = 8
	urandMinor  = 9
)

// blockSize is the st_blksize Linux reports for these devices.
const blockSize = 4096

// kind identifies a device.
type kind int

const (
	kindNull kind = iota
	kindZero
	kindFull
	kindRandom
	kindURandom
	kindTty
	kindPtmx
)

// Terminal device numbers.
const (
	ttyMajor  = 5
	ttyMinor  = 0
	ptmxMinor = 2
	ttyGroup  = 5
)

// Options are the parts of /dev that come from elsewhere.
type Options struct {
	// Ptmx opens a new pseudo-terminal master (fs/tty's FS.OpenPtmx).
	Ptmx func(ctx vfs.Context, flags uint32) (vfs.FileImpl, error)
}

// fs is the state shared by the inodes of one /dev instance.
type fs struct {
	opts Options
	dev  uint64
	time vfs.Timespec // creation time, used for every timestamp
}

// entry is one name in the directory.
type entry struct {
	name  string
	inode vfs.Inode
}

// Dir is the /dev directory.
type Dir struct {
	fs      *fs
	entries []entry // sorted by name
}

// New returns a /dev directory whose inodes report device number devNum.
func New(devNum uint64) vfs.Inode { return NewWith(devNum, Options{}) }

// NewWith is New with options.
func NewWith(devNum uint64, opts Options) vfs.Inode {
	now := time.Now()
	f := &fs{opts: opts, dev: devNum, time: vfs.Timespec{Sec: now.Unix(), Nsec: int64(now.Nanosecond())}}
	d := &Dir{fs: f}
	ino := uint64(2) // 1 is the directory itself
	add := func(name string, in vfs.Inode) {
		d.entries = append(d.entries, entry{name, in})
		ino++
	}
	dev := func(k kind, minor uint32) *Device {
		return &Device{fs: f, ino: ino, kind: k, rdev: unix.Mkdev(memMajor, minor)}
	}
	ttyDev := func(k kind, minor uint32) *Device {
		return &Device{fs: f, ino: ino, kind: k, rdev: unix.Mkdev(ttyMajor, minor), gid: ttyGroup}
	}
	link := func(target string) *Symlink { return &Symlink{fs: f, ino: ino, target: target} }
	// Keep these in name order: ReadDir returns them as they are.
	add("fd", link("/proc/self/fd"))
	add("full", dev(kindFull, fullMinor))
	add("null", dev(kindNull, nullMinor))
	add("ptmx", ttyDev(kindPtmx, ptmxMinor))
	add("pts", &emptyDir{fs: f, ino: ino, mode: 0o755})
	add("random", dev(kindRandom, randomMinor))
	add("shm", &emptyDir{fs: f, ino: ino, mode: 0o1777})
	add("stderr", link("/proc/self/fd/2"))
	add("stdin", link("/proc/self/fd/0"))
	add("stdout", link("/proc/self/fd/1"))
	add("tty", ttyDev(kindTty, ttyMinor))
	add("urandom", dev(kindURandom, urandMinor))
	add("zero", dev(kindZero, zeroMinor))
	return d
}

func (f *fs) stat(ino uint64, mode uint32, nlink uint32) vfs.Stat {
	return vfs.Stat{
		Dev:     f.dev,
		Ino:     ino,
		Mode:    mode,
		Nlink:   nlink,
		Blksize: blockSize,
		Atime:   f.time,
		Mtime:   f.time,
		Ctime:   f.time,
		Btime:   f.time,
	}
}

// Stat implements vfs.Inode.
func (d *Dir) Stat(ctx vfs.Context) (vfs.Stat, error) {
	nlink := uint32(2)
	for _, e := range d.entries {
		if _, ok := e.inode.(*emptyDir); ok {
			nlink++
		}
	}
	return d.fs.stat(1, unix.S_IFDIR|0o755, nlink), nil
}

// Lookup implements vfs.Inode.
func (d *Dir) Lookup(ctx vfs.Context, name string) (vfs.Inode, error) {
	for _, e := range d.entries {
		if e.name == name {
			return e.inode, nil
		}
	}
	return nil, unix.ENOENT
}

// Open implements vfs.Inode.
func (d *Dir) Open(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	return openDir(flags)
}

// Readlink implements vfs.Inode.
func (d *Dir) Readlink(ctx vfs.Context) (string, error) { return "", unix.EINVAL }

// ReadDir implements vfs.Inode.
func (d *Dir) ReadDir(ctx vfs.Context) ([]vfs.Dirent, error) {
	out := make([]vfs.Dirent, 0, len(d.entries))
	for _, e := range d.entries {
		st, err := e.inode.Stat(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, vfs.Dirent{Name: e.name, Ino: st.Ino, Type: vfs.DirentType(st.Mode)})
	}
	return out, nil
}

// rofsErr is the error for making name in a read-only directory: EEXIST
// if it exists (Linux checks that before the mount's read-only flag),
// EROFS otherwise.
func rofsErr(ctx vfs.Context, dir vfs.Inode, name string) error {
	if _, err := dir.Lookup(ctx, name); err == nil {
		return unix.EEXIST
	}
	return unix.EROFS
}

// Create implements vfs.Inode: /dev is read-only.
func (d *Dir) Create(ctx vfs.Context, name string, mode uint32) (vfs.Inode, error) {
	return nil, rofsErr(ctx, d, name)
}

// Mkdir implements vfs.Inode: /dev is read-only.
func (d *Dir) Mkdir(ctx vfs.Context, name string, mode uint32) error {
	return rofsErr(ctx, d, name)
}

// Symlink implements vfs.Inode: /dev is read-only.
func (d *Dir) Symlink(ctx vfs.Context, name, target string) error {
	return rofsErr(ctx, d, name)
}

// Mknod is mknod(2) in /dev, which is read-only.
func (d *Dir) Mknod(ctx vfs.Context, name string, mode uint32, dev uint64) error {
	return rofsErr(ctx, d, name)
}

// Unlink implements vfs.Inode: /dev is read-only.
func (d *Dir) Unlink(ctx vfs.Context, name string) error { return removeErr(ctx, d, name) }

// Rmdir implements vfs.Inode: /dev is read-only.
func (d *Dir) Rmdir(ctx vfs.Context, name string) error { return removeErr(ctx, d, name) }

// Rename implements vfs.Inode: /dev is read-only.
func (d *Dir) Rename(ctx vfs.Context, oldName string, newDir vfs.Inode, newName string, flags uint32) error {
	return removeErr(ctx, d, oldName)
}

// removeErr is ENOENT for a missing name, EROFS otherwise.
func removeErr(ctx vfs.Context, dir vfs.Inode, name string) error {
	if _, err := dir.Lookup(ctx, name); err != nil {
		return err
	}
	return unix.EROFS
}

// emptyDir is an empty read-only directory (a mount point).
type emptyDir struct {
	fs   *fs
	ino  uint64
	mode uint32
}

func (d *emptyDir) Stat(ctx vfs.Context) (vfs.Stat, error) {
	return d.fs.stat(d.ino, unix.S_IFDIR|d.mode, 2), nil
}
func (d *emptyDir) Lookup(ctx vfs.Context, name string) (vfs.Inode, error) {
	return nil, unix.ENOENT
}
func (d *emptyDir) Open(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	return openDir(flags)
}
func (d *emptyDir) Readlink(ctx vfs.Context) (string, error)      { return "", unix.EINVAL }
func (d *emptyDir) ReadDir(ctx vfs.Context) ([]vfs.Dirent, error) { return nil, nil }
func (d *emptyDir) Create(ctx vfs.Context, name string, mode uint32) (vfs.Inode, error) {
	return nil, unix.EROFS
}
func (d *emptyDir) Mkdir(ctx vfs.Context, name string, mode uint32) error { return unix.EROFS }
func (d *emptyDir) Symlink(ctx vfs.Context, name, target string) error    { return unix.EROFS }
func (d *emptyDir) Mknod(ctx vfs.Context, name string, mode uint32, dev uint64) error {
	return unix.EROFS
}
func (d *emptyDir) Unlink(ctx vfs.Context, name string) error { return unix.ENOENT }
func (d *emptyDir) Rmdir(ctx vfs.Context, name string) error  { return unix.ENOENT }
func (d *emptyDir) Rename(ctx vfs.Context, o string, nd vfs.Inode, n string, f uint32) error {
	return unix.ENOENT
}

// openDir opens a /dev directory, read-only as a directory must be.
func openDir(flags uint32) (vfs.FileImpl, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		return nil, unix.EISDIR
	}
	return vfs.DirFile{}, nil
}

// Symlink is a symbolic link of /dev.
type Symlink struct {
	vfs.NotDir
	fs     *fs
	ino    uint64
	target string
}

// Stat implements vfs.Inode.
func (l *Symlink) Stat(ctx vfs.Context) (vfs.Stat, error) {
	st := l.fs.stat(l.ino, unix.S_IFLNK|0o777, 1)
	st.Size = int64(len(l.target))
	return st, nil
}

// Open implements vfs.Inode. vfs follows symlinks before opening, so this
// is reached only for O_NOFOLLOW opens.
func (l *Symlink) Open(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	return nil, unix.ELOOP
}

// Readlink implements vfs.Inode.
func (l *Symlink) Readlink(ctx vfs.Context) (string, error) { return l.target, nil }

// Device is a character device inode.
type Device struct {
	vfs.NotDir
	fs   *fs
	ino  uint64
	kind kind
	rdev uint64
	gid  uint32
}

// Stat implements vfs.Inode: crw-rw-rw- root root with the Linux rdev
// (group tty for tty and ptmx).
// ServesDevice implements vfs.DeviceServer.
func (d *Device) ServesDevice() {}

func (d *Device) Stat(ctx vfs.Context) (vfs.Stat, error) {
	st := d.fs.stat(d.ino, unix.S_IFCHR|0o666, 1)
	st.Rdev = d.rdev
	st.GID = d.gid
	return st, nil
}

// Open implements vfs.Inode. O_TRUNC is accepted and ignored, as Linux
// ignores it on character devices.
func (d *Device) Open(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	switch d.kind {
	case kindTty:
		c, ok := ctx.(interface{ ControllingTerminal() any })
		if !ok {
			return nil, unix.ENXIO
		}
		term, ok := c.ControllingTerminal().(interface {
			OpenControlling(ctx vfs.Context, flags uint32) (vfs.FileImpl, error)
		})
		if !ok {
			return nil, unix.ENXIO
		}
		return term.OpenControlling(ctx, flags)
	case kindPtmx:
		if d.fs.opts.Ptmx == nil {
			return nil, unix.ENODEV
		}
		return d.fs.opts.Ptmx(ctx, flags)
	}
	return &File{kind: d.kind}, nil
}

// Readlink implements vfs.Inode.
func (d *Device) Readlink(ctx vfs.Context) (string, error) { return "", unix.EINVAL }

// File is an open device. It ignores offsets: every position reads and
// writes the same way.
type File struct {
	kind kind
}

// Read implements vfs.FileImpl. It fills at most dst, which the caller has
// already bounded; nothing larger is ever allocated.
func (f *File) Read(ctx vfs.Context, dst []byte, off int64) (int, error) {
	switch f.kind {
	case kindNull:
		return 0, nil
	case kindZero, kindFull:
		clear(dst)
		return len(dst), nil
	default: // random, urandom: the same non-blocking CSPRNG, as since Linux 5.6
		// crypto/rand.Read never returns an error since Go 1.24 (it
		// aborts the process if the host's generator fails).
		rand.Read(dst)
		return len(dst), nil
	}
}

// Write implements vfs.FileImpl. null, zero, random and urandom swallow
// everything (writes to the random devices would mix entropy in on Linux;
// here they are discarded). full fails with ENOSPC, even for an empty
// write, as Linux does.
func (f *File) Write(ctx vfs.Context, src []byte, off int64) (int, error) {
	if f.kind == kindFull {
		return 0, unix.ENOSPC
	}
	return len(src), nil
}

// Release implements vfs.FileImpl.
func (f *File) Release() {}

// Seek is lseek(2) on these devices: on Linux it always succeeds and
// returns 0 whatever the arguments (null_lseek, and the same for zero,
// full, random and urandom). cur is the current offset.
//
// vfs.FileDescription.Seek does not consult this yet; with the generic
// seek, lseek(fd, 100, SEEK_SET) returns 100 instead of 0.
func (f *File) Seek(ctx vfs.Context, cur, off int64, whence int) (int64, error) {
	return 0, nil
}

// DiscardsWrites implements vfs.Sink: writes to null and zero succeed
// without reading the caller's buffer, as on Linux.
func (f *File) DiscardsWrites() bool { return f.kind == kindNull || f.kind == kindZero }

// OpenNode opens a device node made elsewhere (mknod in a tmpfs or the
// overlay) by its type (unix.S_IFCHR or S_IFBLK) and device number, as
// Linux finds a driver by number: the memory devices above behave as
// moat's own /dev/null, /dev/zero, /dev/full, /dev/random and
// /dev/urandom; every other number, and every block device, has no driver
// in moat and fails with ENXIO.
func OpenNode(typ uint32, rdev uint64) (vfs.FileImpl, error) {
	if typ != unix.S_IFCHR || unix.Major(rdev) != memMajor {
		return nil, unix.ENXIO
	}
	switch unix.Minor(rdev) {
	case nullMinor:
		return &File{kind: kindNull}, nil
	case zeroMinor:
		return &File{kind: kindZero}, nil
	case fullMinor:
		return &File{kind: kindFull}, nil
	case randomMinor:
		return &File{kind: kindRandom}, nil
	case urandMinor:
		return &File{kind: kindURandom}, nil
	}
	return nil, unix.ENXIO
}
