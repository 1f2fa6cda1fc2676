// Package hostfs is a view of a host directory tree: read-only (Open) for
// the host's "/" or a --rootfs directory, used as the lower layer of the
// root overlay, or writable (OpenWritable) for bind mounts (moat run -v);
// see writable.go for what the writable mode does.
//
// Confinement: the filesystem keeps exactly one long-lived host fd, an
// O_PATH descriptor of the root directory. Every inode records only its
// path relative to that root, and every host access opens that path with
// openat2(2) relative to the root fd with
//
//	O_NOFOLLOW | O_CLOEXEC and
//	RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
//
// so no symlink, ".." or magic link can take the sentry outside the root
// (a path that tries fails instead). The fd is closed right after the
// operation; only open regular files keep a host fd (read-only), for as long
// as the application keeps them open. Symlinks are only ever read, with
// readlinkat on an O_PATH fd of the link itself; vfs follows them.
//
// Mounts: RESOLVE_NO_XDEV is deliberately not used: the host's "/" spans
// several filesystems (/home, /boot, /usr, ...) that programs need. Pseudo
// filesystems that would expose the host (procfs, sysfs, debugfs, cgroupfs,
// securityfs, ...) are sealed instead: looking up their mount point works
// (so that moat can mount its own proc or sys on top of it, which vfs does
// by crossing at the dentry after Lookup), but nothing below it can be
// looked up, listed, opened or read (EACCES).
//
// Writes: in read-only mode everything that would modify the tree returns
// EROFS (or EEXIST where Linux checks existence first); the overlay above
// handles writes. In writable mode they go to the host, with the same
// confinement (writable.go).
// Regular files and directories are opened O_NOATIME where the host allows
// it, so reading does not even update host access times.
//
// Special files: opening a device node, FIFO or socket of the host tree
// fails with EACCES (what Linux returns for device nodes on a nodev
// mount), so the application can never block on a host FIFO or reach a
// host device. O_PATH opens succeed and hold no host fd.
//
// Stat reports the host's st_dev and st_ino, so ls -i and find see what
// they see natively. Attributes and symlink targets are reused for up to
// an attribute timeout (DefaultAttrTimeout, one second, as FUSE does)
// after a host stat or readlink of the same inode; file data and
// directory listings are always read fresh.
//
// Read-only mode has no locks (only atomics); writable mode adds two small
// ones (writable.go).
package hostfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"moat/memory"
	"moat/vfs"
)

// FS is a view of one host directory tree, read-only or writable.
type FS struct {
	rootFD int
	root   *Inode
	closed atomic.Bool
	// attrTimeout is how long, in nanoseconds, Stat may answer from the
	// attributes an earlier host stat of the same inode returned.
	attrTimeout atomic.Int64

	// writable is set for OpenWritable; the fields below serve only it.
	writable bool
	// changes counts the modifications made through this FS: attributes
	// cached before the latest one are not reused (read-only: always 0).
	changes atomic.Uint64
	// moves records the renames and removals made through this FS, so
	// that inodes looked up before follow them (writable.go).
	moves moveLog
	// created holds, briefly, the descriptor Create opened for a new
	// file, for the Open that follows it (writable.go).
	created createdFiles
	// mf holds the caches of files mapped shared (shared.go); nil: no
	// shared writable mappings.
	mf *memory.File
	// shared are the caches of files mapped shared, by host inode.
	shared sharedFiles
}

// DefaultAttrTimeout is how long Stat reuses the attributes of an earlier
// host stat of the same inode (like FUSE's attr_timeout, whose default is
// also one second). Path resolution stats every component several times;
// without this each of those would be three host system calls. Changes
// made on the host become visible to Stat after at most this long; file
// data and directory listings are always read fresh.
const DefaultAttrTimeout = time.Second

// SetAttrTimeout changes how long Stat reuses host attributes; 0 makes
// every Stat ask the host.
func (fs *FS) SetAttrTimeout(d time.Duration) { fs.attrTimeout.Store(int64(d)) }

// resolveFlags confine every host path lookup to the tree.
const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// New returns the root inode of a read-only view of the host directory
// rootDir. The root fd lives as long as the sandbox; use Open for a handle
// that can be closed.
func New(rootDir string) (vfs.Inode, error) {
	fs, err := Open(rootDir)
	if err != nil {
		return nil, err
	}
	return fs.Root(), nil
}

// Open opens the host directory rootDir (following symlinks in rootDir
// itself, which the user gave) as a read-only filesystem.
func Open(rootDir string) (*FS, error) { return open(rootDir, false) }

// OpenWritable opens the host directory rootDir (following symlinks in
// rootDir itself, which the user gave) as a writable filesystem, for bind
// mounts: creating, removing, renaming, linking, changing attributes and
// writing files change the host tree (see writable.go). Confinement is the
// same as Open's.
func OpenWritable(rootDir string) (*FS, error) { return open(rootDir, true) }

func open(rootDir string, writable bool) (*FS, error) {
	fd, err := unix.Open(rootDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("hostfs: open %s: %w", rootDir, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("hostfs: stat %s: %w", rootDir, err)
	}
	if sealedFS(fd) {
		unix.Close(fd)
		return nil, fmt.Errorf("hostfs: %s is a host pseudo filesystem (proc, sys, ...)", rootDir)
	}
	fs := &FS{rootFD: fd, writable: writable}
	// Check that openat2 works here (Linux 5.6+).
	probe, err := fs.open(".", unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.ENOSYS) {
			return nil, fmt.Errorf("hostfs: openat2 is not available (Linux 5.6 or newer is needed)")
		}
		return nil, fmt.Errorf("hostfs: openat2 on %s: %w", rootDir, err)
	}
	unix.Close(probe)
	fs.attrTimeout.Store(int64(DefaultAttrTimeout))
	fs.root = &Inode{fs: fs, rel: ".", typ: unix.S_IFDIR, dev: st.Dev, ino: st.Ino}
	return fs, nil
}

// Writable reports whether the filesystem was opened by OpenWritable.
func (fs *FS) Writable() bool { return fs.writable }

// Root returns the root directory.
func (fs *FS) Root() *Inode { return fs.root }

// Close closes the root fd. Operations afterwards fail with EBADF.
// Files already open stay usable until released.
func (fs *FS) Close() error {
	if fs.closed.Swap(true) {
		return nil
	}
	fs.created.closeAll()
	return unix.Close(fs.rootFD)
}

// open opens rel (relative to the root, never absolute, never containing
// "..") with openat2 and the confinement flags.
func (fs *FS) open(rel string, flags int) (int, error) {
	if fs.closed.Load() {
		return -1, unix.EBADF
	}
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_NOFOLLOW | unix.O_CLOEXEC),
		Resolve: resolveFlags,
	}
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(fs.rootFD, rel, &how)
		switch {
		case err == nil:
			return fd, nil
		case err == unix.EINTR, err == unix.EAGAIN && tries < 16:
			// EAGAIN: a concurrent rename or mount on the host
			// raced with RESOLVE_BENEATH; retry.
			continue
		case err == unix.EPERM && how.Flags&unix.O_NOATIME != 0:
			// O_NOATIME needs ownership or CAP_FOWNER.
			how.Flags &^= unix.O_NOATIME
			continue
		case err == unix.EXDEV:
			// The path tried to leave the root (the host tree
			// changed under us): to the application it does not
			// exist.
			return -1, unix.ENOENT
		}
		return -1, err
	}
}

// Magic numbers x/sys/unix does not name.
const (
	configfsMagic = 0x62656570
	fusectlMagic  = 0x65735543
)

// sealedFS reports whether the filesystem holding fd must not be exposed.
func sealedFS(fd int) bool {
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return true // fail closed
	}
	switch uint32(sfs.Type) {
	case unix.PROC_SUPER_MAGIC, unix.SYSFS_MAGIC, unix.DEBUGFS_MAGIC, unix.TRACEFS_MAGIC,
		unix.SECURITYFS_MAGIC, unix.SELINUX_MAGIC, unix.SMACK_MAGIC, unix.BPF_FS_MAGIC,
		unix.CGROUP_SUPER_MAGIC, unix.CGROUP2_SUPER_MAGIC, configfsMagic,
		unix.EFIVARFS_MAGIC, unix.PSTOREFS_MAGIC, unix.BINFMTFS_MAGIC, fusectlMagic,
		unix.NSFS_MAGIC, unix.DEVPTS_SUPER_MAGIC, unix.RDTGROUP_SUPER_MAGIC, unix.HUGETLBFS_MAGIC,
		unix.BINDERFS_SUPER_MAGIC, unix.PID_FS_MAGIC:
		return true
	}
	return false
}

// Inode is a file of the host tree. It holds no host resources.
type Inode struct {
	fs     *FS
	rel    string // path from the root at lookup: "." or "a/b/c"
	typ    uint32 // file type bits at lookup
	dev    uint64 // st_dev at lookup, to notice mount crossings
	ino    uint64 // st_ino at lookup
	sealed bool   // root of a pseudo filesystem: nothing below is reachable

	// moved is, in writable mode, where the inode is after the renames
	// and removals made through this FS (nil: at rel; see path).
	moved atomic.Pointer[place]

	attrs  atomic.Pointer[cachedStat] // the last host stat, see DefaultAttrTimeout
	target atomic.Pointer[cachedLink] // a symlink's last target read, likewise
}

type cachedLink struct {
	target string
	at     time.Time
	gen    uint64 // fs.changes before the host readlink
}

type cachedStat struct {
	st  vfs.Stat
	at  time.Time
	gen uint64 // fs.changes before the host stat
}

// remember records st, taken when fs.changes was gen, as the inode's
// current attributes.
func (in *Inode) remember(st *unix.Stat_t, gen uint64) vfs.Stat {
	vst := convertStat(st)
	if in.fs.attrTimeout.Load() > 0 {
		in.attrs.Store(&cachedStat{st: vst, at: time.Now(), gen: gen})
	}
	return vst
}

// path returns the inode's current path relative to the root: rel, or in
// writable mode where renames made through this FS took it (ENOENT once
// it was removed through this FS).
func (in *Inode) path() (string, error) {
	p := in.place()
	if p.dead {
		return "", unix.ENOENT
	}
	return p.rel, nil
}

// newChild returns the inode for the entry name of directory in, whose
// place was p when the entry was found.
func (in *Inode) newChild(p *place, rel string, st *unix.Stat_t) *Inode {
	c := &Inode{fs: in.fs, rel: rel, typ: st.Mode & unix.S_IFMT, dev: st.Dev, ino: st.Ino}
	if in.fs.writable {
		c.moved.Store(&place{rel: rel, gen: p.gen})
	}
	return c
}

// join returns the path of entry name of the directory at rel.
func join(rel, name string) string {
	if rel == "." {
		return name
	}
	return rel + "/" + name
}

var _ vfs.Inode = (*Inode)(nil)

// Type returns the file type bits (unix.S_IF*) the inode had when it was
// looked up.
func (in *Inode) Type() uint32 { return in.typ }

// Path returns the inode's path relative to the root ("." for the root);
// in writable mode, its current one after renames made through this FS.
func (in *Inode) Path() string { return in.place().rel }

func convertStat(st *unix.Stat_t) vfs.Stat {
	return vfs.Stat{
		Dev:     st.Dev,
		Ino:     st.Ino,
		Mode:    st.Mode,
		Nlink:   uint32(min(st.Nlink, 1<<32-1)),
		UID:     st.Uid,
		GID:     st.Gid,
		Rdev:    st.Rdev,
		Size:    st.Size,
		Blksize: int32(st.Blksize),
		Blocks:  st.Blocks,
		Atime:   vfs.Timespec{Sec: st.Atim.Sec, Nsec: st.Atim.Nsec},
		Mtime:   vfs.Timespec{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec},
		Ctime:   vfs.Timespec{Sec: st.Ctim.Sec, Nsec: st.Ctim.Nsec},
	}
}

func fstat(fd int) (unix.Stat_t, error) {
	var st unix.Stat_t
	for {
		err := unix.Fstat(fd, &st)
		if err != unix.EINTR {
			return st, err
		}
	}
}

// statPath stats rel without following a final symlink.
func (fs *FS) statPath(rel string) (unix.Stat_t, error) {
	fd, err := fs.open(rel, unix.O_PATH)
	if err != nil {
		return unix.Stat_t{}, err
	}
	defer unix.Close(fd)
	return fstat(fd)
}

// Stat implements vfs.Inode.
func (in *Inode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	gen := in.fs.changes.Load()
	if c := in.attrs.Load(); c != nil && c.gen == gen && time.Since(c.at) < time.Duration(in.fs.attrTimeout.Load()) {
		return c.st, nil
	}
	rel, err := in.path()
	if err != nil {
		return vfs.Stat{}, err
	}
	st, err := in.fs.statPath(rel)
	if err != nil {
		in.attrs.Store(nil)
		return vfs.Stat{}, err
	}
	return in.remember(&st, gen), nil
}

// Lookup implements vfs.Inode.
func (in *Inode) Lookup(ctx vfs.Context, name string) (vfs.Inode, error) {
	if err := vfs.CheckName(name); err != nil {
		return nil, err
	}
	if in.typ != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	if in.sealed {
		return nil, unix.EACCES
	}
	p := in.place()
	if p.dead {
		return nil, unix.ENOENT
	}
	rel := join(p.rel, name)
	if len(rel) >= vfs.PathMax {
		return nil, unix.ENAMETOOLONG
	}
	gen := in.fs.changes.Load()
	fd, err := in.fs.open(rel, unix.O_PATH)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	st, err := fstat(fd)
	if err != nil {
		return nil, err
	}
	c := in.newChild(&p, rel, &st)
	if c.typ == unix.S_IFDIR && c.dev != in.dev {
		c.sealed = sealedFS(fd)
	}
	c.remember(&st, gen)
	return c, nil
}

// Readlink implements vfs.Inode.
func (in *Inode) Readlink(ctx vfs.Context) (string, error) {
	if in.typ != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	// A symlink's target is reused as its attributes are: for up to the
	// attribute timeout, unless this FS changed something meanwhile.
	// Each exec of a dynamic program on a merged-/usr host reads three
	// or four (/bin, /lib, /lib64 and the loader's), three host calls
	// each.
	timeout := time.Duration(in.fs.attrTimeout.Load())
	gen := in.fs.changes.Load()
	if c := in.target.Load(); c != nil && c.gen == gen && time.Since(c.at) < timeout {
		return c.target, nil
	}
	target, err := in.readlink()
	if err == nil && timeout > 0 {
		in.target.Store(&cachedLink{target: target, at: time.Now(), gen: gen})
	}
	return target, err
}

// readlink reads the symlink's target from the host.
func (in *Inode) readlink() (string, error) {
	rel, err := in.path()
	if err != nil {
		return "", err
	}
	fd, err := in.fs.open(rel, unix.O_PATH)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	buf := make([]byte, vfs.PathMax)
	for {
		n, err := unix.Readlinkat(fd, "", buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.ENOENT:
			return "", unix.EINVAL // replaced by a non-symlink on the host
		case err != nil:
			return "", err
		case n >= len(buf):
			return "", unix.ENAMETOOLONG
		}
		return string(buf[:n]), nil
	}
}

// ReadDir implements vfs.Inode.
func (in *Inode) ReadDir(ctx vfs.Context) ([]vfs.Dirent, error) {
	if in.typ != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	if in.sealed {
		return nil, unix.EACCES
	}
	rel, err := in.path()
	if err != nil {
		return nil, err
	}
	fd, err := in.fs.open(rel, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOATIME)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var out []vfs.Dirent
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return out, nil
		}
		if out, err = parseDirents(fd, buf[:n], out); err != nil {
			return nil, err
		}
	}
}

// parseDirents appends the linux_dirent64 records in buf to out, skipping
// "." and "..". DT_UNKNOWN types are resolved with fstatat on dirfd.
func parseDirents(dirfd int, buf []byte, out []vfs.Dirent) ([]vfs.Dirent, error) {
	const hdr = 19 // d_ino(8) d_off(8) d_reclen(2) d_type(1)
	for len(buf) > 0 {
		if len(buf) < hdr {
			return nil, unix.EIO
		}
		reclen := int(binary.LittleEndian.Uint16(buf[16:18]))
		if reclen < hdr+1 || reclen > len(buf) {
			return nil, unix.EIO
		}
		ino := binary.LittleEndian.Uint64(buf[0:8])
		typ := buf[18]
		nameb := buf[hdr:reclen]
		for i, c := range nameb {
			if c == 0 {
				nameb = nameb[:i]
				break
			}
		}
		buf = buf[reclen:]
		name := string(nameb)
		if name == "." || name == ".." || name == "" {
			continue
		}
		if typ == unix.DT_UNKNOWN {
			var st unix.Stat_t
			if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
				typ = vfs.DirentType(st.Mode)
			}
		}
		out = append(out, vfs.Dirent{Name: name, Ino: ino, Type: typ})
	}
	return out, nil
}

// Open implements vfs.Inode.
func (in *Inode) Open(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	if flags&unix.O_PATH != 0 {
		return vfs.PathFile{}, nil
	}
	write := flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0
	switch in.typ {
	case unix.S_IFDIR:
		if write {
			return nil, unix.EISDIR
		}
		if in.sealed {
			return nil, unix.EACCES
		}
		return vfs.DirFile{Dir: in}, nil
	case unix.S_IFLNK:
		return nil, unix.ELOOP
	case unix.S_IFREG:
	default:
		return nil, unix.EACCES
	}
	if in.fs.writable {
		return in.openWritable(flags)
	}
	if write {
		return nil, unix.EROFS
	}
	// O_NONBLOCK: should the host have replaced the file by a FIFO since
	// the lookup, opening it must not block; the fstat below rejects it.
	fd, err := in.fs.open(in.rel, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_NOATIME)
	if err != nil {
		return nil, err
	}
	st, err := fstat(fd)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, unix.EACCES
	}
	return &File{fd: fd}, nil
}

// exists reports whether the entry name of directory in exists.
func (in *Inode) exists(name string) bool {
	if vfs.CheckName(name) != nil || in.typ != unix.S_IFDIR || in.sealed {
		return false
	}
	_, err := in.fs.statPath(join(in.rel, name))
	return err == nil
}

// Create implements vfs.Inode: in read-only mode EEXIST for an existing
// name, else EROFS.
func (in *Inode) Create(ctx vfs.Context, name string, mode uint32) (vfs.Inode, error) {
	if in.fs.writable {
		return in.create(ctx, name, mode)
	}
	if in.exists(name) {
		return nil, unix.EEXIST
	}
	return nil, unix.EROFS
}

// Mkdir implements vfs.Inode: in read-only mode EEXIST for an existing
// name, else EROFS.
func (in *Inode) Mkdir(ctx vfs.Context, name string, mode uint32) error {
	if in.fs.writable {
		return in.mkdir(ctx, name, mode)
	}
	if in.exists(name) {
		return unix.EEXIST
	}
	return unix.EROFS
}

// Symlink implements vfs.Inode: in read-only mode EEXIST for an existing
// name, else EROFS.
func (in *Inode) Symlink(ctx vfs.Context, name, target string) error {
	if in.fs.writable {
		return in.symlink(ctx, name, target)
	}
	if in.exists(name) {
		return unix.EEXIST
	}
	return unix.EROFS
}

// Mknod makes a FIFO or a regular file called name (mknod(2)) in writable
// mode; in read-only mode it is EEXIST for an existing name, else EROFS.
func (in *Inode) Mknod(ctx vfs.Context, name string, mode uint32, dev uint64) error {
	if in.fs.writable {
		return in.mknod(ctx, name, mode)
	}
	if in.exists(name) {
		return unix.EEXIST
	}
	return unix.EROFS
}

// Link implements vfs.Linker: in read-only mode EEXIST for an existing
// name, else EROFS.
func (in *Inode) Link(ctx vfs.Context, name string, target vfs.Inode) error {
	if in.fs.writable {
		return in.link(ctx, name, target)
	}
	if in.exists(name) {
		return unix.EEXIST
	}
	return unix.EROFS
}

// Unlink implements vfs.Inode (read-only mode: EROFS).
func (in *Inode) Unlink(ctx vfs.Context, name string) error {
	if in.fs.writable {
		return in.remove(name, 0)
	}
	return unix.EROFS
}

// Rmdir implements vfs.Inode (read-only mode: EROFS).
func (in *Inode) Rmdir(ctx vfs.Context, name string) error {
	if in.fs.writable {
		return in.remove(name, unix.AT_REMOVEDIR)
	}
	return unix.EROFS
}

// Rename implements vfs.Inode (read-only mode: EROFS).
func (in *Inode) Rename(ctx vfs.Context, oldName string, newDir vfs.Inode, newName string, flags uint32) error {
	if in.fs.writable {
		return in.rename(oldName, newDir, newName, flags)
	}
	return unix.EROFS
}

// SetStat implements vfs.AttrSetter (read-only mode: EROFS).
func (in *Inode) SetStat(ctx vfs.Context, mask uint32, st vfs.Stat) error {
	if in.fs.writable {
		return in.setStat(mask, st)
	}
	return unix.EROFS
}

var (
	_ vfs.AttrSetter = (*Inode)(nil)
	_ vfs.Linker     = (*Inode)(nil)
)

// File is an open regular host file: read-only, or in writable mode
// opened for writing too.
type File struct {
	fd     int
	closed atomic.Bool
	// fs is set in writable mode, whose writes count as changes (see
	// FS.changes).
	fs *FS
	// writable: the file was opened for writing (O_WRONLY, O_RDWR).
	writable bool
	// dev and ino identify the host file, in writable mode.
	dev, ino uint64
	// sf is the cache of the file for shared mappings once the file was
	// mapped (shared.go); the file holds a reference to it.
	sf       atomic.Pointer[sharedFile]
	attachMu sync.Mutex
	// mappable is HostFD's answer once known: 1 yes, 2 no (noexec).
	mappable atomic.Int32
}

var (
	_ vfs.FileImpl  = (*File)(nil)
	_ vfs.Truncater = (*File)(nil)
)

// Read implements vfs.FileImpl with pread(2).
func (f *File) Read(ctx vfs.Context, dst []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	if len(dst) == 0 {
		return 0, nil
	}
	for {
		n, err := unix.Pread(f.fd, dst, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if sf := f.shared(); sf != nil {
			// Shared mappings' stores not yet written back.
			sf.read(dst[:n], off)
			sf.put()
		}
		return n, nil
	}
}

// Write implements vfs.FileImpl with pwrite(2); EBADF unless the file
// was opened for writing.
func (f *File) Write(ctx vfs.Context, src []byte, off int64) (int, error) {
	if !f.writable {
		return 0, unix.EBADF
	}
	return f.write(src, off)
}

// Truncate implements vfs.Truncater (ftruncate(2)); EINVAL unless the
// file was opened for writing.
func (f *File) Truncate(size int64) error {
	if !f.writable || size < 0 {
		return unix.EINVAL
	}
	return f.truncate(size)
}

// Stat returns the attributes of the open file (fstat).
func (f *File) Stat(ctx vfs.Context) (vfs.Stat, error) {
	st, err := fstat(f.fd)
	if err != nil {
		return vfs.Stat{}, err
	}
	return convertStat(&st), nil
}

// SeekData returns the first offset >= off holding data (lseek
// SEEK_DATA); ENXIO past the last data.
func (f *File) SeekData(off int64) (int64, error) { return f.seek(off, unix.SEEK_DATA) }

// SeekHole returns the first offset >= off in a hole (lseek SEEK_HOLE);
// the file size counts as a hole.
func (f *File) SeekHole(off int64) (int64, error) { return f.seek(off, unix.SEEK_HOLE) }

func (f *File) seek(off int64, whence int) (int64, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	for {
		n, err := unix.Seek(f.fd, off, whence)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// Release implements vfs.FileImpl: it closes the host fd, and lets go
// of the file's cache for shared mappings.
func (f *File) Release() {
	if !f.closed.Swap(true) {
		if sf := f.sf.Swap(nil); sf != nil {
			sf.put()
		}
		unix.Close(f.fd)
	}
}

// HostFD implements mm.HostBacked for files of the read-only view, the
// files ContentKey serves: their descriptor, read-only, for the platform
// to map into the app directly. Not on a host mount that forbids
// executing its files (noexec), where such a mapping of text would fail.
func (f *File) HostFD() (int, bool) {
	if f.fs != nil && f.fs.Writable() || f.writable || f.closed.Load() {
		return 0, false
	}
	mappable := f.mappable.Load()
	if mappable == 0 { // once per open file: an exec asks some twenty times
		var st unix.Statfs_t
		mappable = 1
		if unix.Fstatfs(f.fd, &st) != nil || st.Flags&unix.ST_NOEXEC != 0 {
			mappable = 2
		}
		f.mappable.Store(mappable)
	}
	return f.fd, mappable == 1
}

// contentKey identifies a host file's content for the memory manager's
// file cache (mm.CachedFile): it changes whenever the content may.
type contentKey struct {
	dev, ino     uint64
	size         int64
	mtime, ctime unix.Timespec
}

// ContentKey implements mm.CachedFile for files of the read-only view
// (the root's lower layer, ro binds): private mappings of them share one
// cached copy. Files of a writable bind are not cached.
func (f *File) ContentKey() (any, bool) {
	if f.fs != nil && f.fs.Writable() || f.writable {
		return nil, false
	}
	st, err := fstat(f.fd)
	if err != nil {
		return nil, false
	}
	return contentKey{st.Dev, st.Ino, st.Size, st.Mtim, st.Ctim}, true
}
