package tty

import (
	"sort"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// Device numbers and limits (Documentation/admin-guide/devices.txt,
// /proc/sys/kernel/pty/max).
const (
	ttyMajor   = 5
	ptmxMinor  = 2
	ttyMinor   = 0
	ptsMajor   = 136
	maxPTYs    = 4096
	ttyGroup   = 5     // the "tty" group that owns slaves (devpts gid=5)
	slaveMode  = 0o620 // devpts mode=620
	blockSize  = 1024
	rootIno    = 1
	ptmxIno    = 2
	firstPTYNo = 3 // a slave's inode number is its index + 3, as on Linux
)

// PtmxDev and TtyDev are the device numbers of /dev/ptmx and /dev/tty.
var (
	PtmxDev = unix.Mkdev(ttyMajor, ptmxMinor)
	TtyDev  = unix.Mkdev(ttyMajor, ttyMinor)
)

// FS is one devpts instance: its root directory lists ptmx and a numbered
// entry for each pseudo-terminal whose master is open.
type FS struct {
	k     Kernel
	dev   uint64
	ctime vfs.Timespec

	mu   sync.Mutex
	ptys map[int]*Terminal // by index, while their masters are open
	used map[int]bool      // indices in use: until master and slaves are all closed
}

// New returns a devpts instance whose inodes report device number dev.
func New(k Kernel, dev uint64) *FS {
	now := time.Now()
	return &FS{k: k, dev: dev, ptys: make(map[int]*Terminal), used: make(map[int]bool), ctime: vfs.Timespec{Sec: now.Unix(), Nsec: int64(now.Nanosecond())}}
}

// Root returns the root directory.
func (fs *FS) Root() vfs.Inode { return &root{fs: fs} }

// OpenPtmx opens a new master: a new pseudo-terminal with the lowest free
// index, its slave locked until TIOCSPTLCK unlocks it (ENOSPC beyond
// maxPTYs).
func (fs *FS) OpenPtmx(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	i := 0
	for ; i < maxPTYs; i++ {
		if !fs.used[i] {
			break
		}
	}
	if i == maxPTYs {
		return nil, unix.ENOSPC
	}
	t := newTerminal(fs.k, fs, i, ctx.UID(), ttyGroup)
	fs.ptys[i] = t
	fs.used[i] = true
	return &Master{t: t}, nil
}

// remove drops pseudo-terminal i's entry (its master is closed), and
// with free its index too (no slave is open either; else the last slave
// close frees it, as Linux keeps the index until the pair is gone).
func (fs *FS) remove(i int, free bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	delete(fs.ptys, i)
	if free {
		delete(fs.used, i)
	}
}

func (fs *FS) stat(ino uint64, mode uint32) vfs.Stat {
	return vfs.Stat{Dev: fs.dev, Ino: ino, Mode: mode, Nlink: 1, Blksize: blockSize, Atime: fs.ctime, Mtime: fs.ctime, Ctime: fs.ctime}
}

// root is the devpts directory. Nothing can be made or removed in it
// (EACCES to create, EPERM otherwise, as on Linux).
type root struct {
	fs *FS
}

func (r *root) Stat(ctx vfs.Context) (vfs.Stat, error) {
	st := r.fs.stat(rootIno, unix.S_IFDIR|0o755)
	st.Nlink = 2
	return st, nil
}

func (r *root) Lookup(ctx vfs.Context, name string) (vfs.Inode, error) {
	if name == "ptmx" {
		return &ptmx{fs: r.fs}, nil
	}
	i, err := strconv.Atoi(name)
	if err != nil || i < 0 || strconv.Itoa(i) != name {
		return nil, unix.ENOENT
	}
	r.fs.mu.Lock()
	t := r.fs.ptys[i]
	r.fs.mu.Unlock()
	if t == nil {
		return nil, unix.ENOENT
	}
	return &slaveInode{fs: r.fs, t: t}, nil
}

func (r *root) Open(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		return nil, unix.EISDIR
	}
	return vfs.DirFile{}, nil
}

func (r *root) Readlink(ctx vfs.Context) (string, error) { return "", unix.EINVAL }

func (r *root) ReadDir(ctx vfs.Context) ([]vfs.Dirent, error) {
	r.fs.mu.Lock()
	ids := make([]int, 0, len(r.fs.ptys))
	for i := range r.fs.ptys {
		ids = append(ids, i)
	}
	r.fs.mu.Unlock()
	sort.Ints(ids)
	out := []vfs.Dirent{{Name: "ptmx", Ino: ptmxIno, Type: unix.DT_CHR}}
	for _, i := range ids {
		out = append(out, vfs.Dirent{Name: strconv.Itoa(i), Ino: uint64(i + firstPTYNo), Type: unix.DT_CHR})
	}
	return out, nil
}

func (r *root) Create(ctx vfs.Context, name string, mode uint32) (vfs.Inode, error) {
	if _, err := r.Lookup(ctx, name); err == nil {
		return nil, unix.EEXIST
	}
	return nil, unix.EACCES
}
func (r *root) Mkdir(ctx vfs.Context, name string, mode uint32) error { return r.refuse(ctx, name) }
func (r *root) Symlink(ctx vfs.Context, name, target string) error    { return r.refuse(ctx, name) }
func (r *root) Unlink(ctx vfs.Context, name string) error {
	if _, err := r.Lookup(ctx, name); err != nil {
		return err
	}
	return unix.EPERM
}
func (r *root) Rmdir(ctx vfs.Context, name string) error {
	if _, err := r.Lookup(ctx, name); err != nil {
		return err
	}
	return unix.ENOTDIR
}
func (r *root) Rename(ctx vfs.Context, oldName string, newDir vfs.Inode, newName string, flags uint32) error {
	if _, err := r.Lookup(ctx, oldName); err != nil {
		return err
	}
	return unix.EPERM
}

func (r *root) refuse(ctx vfs.Context, name string) error {
	if _, err := r.Lookup(ctx, name); err == nil {
		return unix.EEXIST
	}
	return unix.EPERM
}

// ptmx is devpts's own ptmx node (c--------- 5:2, ptmxmode=000, as Linux
// mounts it by default; /dev/ptmx is the usual way in).
type ptmx struct {
	vfs.NotDir
	fs *FS
}

func (p *ptmx) Stat(ctx vfs.Context) (vfs.Stat, error) {
	st := p.fs.stat(ptmxIno, unix.S_IFCHR)
	st.Rdev = PtmxDev
	return st, nil
}

func (p *ptmx) Open(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	return p.fs.OpenPtmx(ctx, flags)
}

// ServesDevice implements vfs.DeviceServer.
func (p *ptmx) ServesDevice() {}

// ServesDevice implements vfs.DeviceServer.
func (s *slaveInode) ServesDevice() {}

func (p *ptmx) Readlink(ctx vfs.Context) (string, error) { return "", unix.EINVAL }

// slaveInode is /dev/pts/N.
type slaveInode struct {
	vfs.NotDir
	fs *FS
	t  *Terminal
}

func (s *slaveInode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	i := s.t.index
	st := s.fs.stat(uint64(i+firstPTYNo), unix.S_IFCHR|slaveMode)
	st.UID, st.GID = s.t.uid, s.t.gid
	st.Rdev = unix.Mkdev(uint32(ptsMajor+i/256), uint32(i%256))
	st.Atime, st.Mtime, st.Ctime = s.t.ctime, s.t.ctime, s.t.ctime
	return st, nil
}

func (s *slaveInode) Open(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	return s.t.openSlave(ctx, flags)
}

func (s *slaveInode) Readlink(ctx vfs.Context) (string, error) { return "", unix.EINVAL }

// OpenControlling opens the terminal again, for /dev/tty: like a slave
// open, but never making it anyone's controlling terminal.
func (t *Terminal) OpenControlling(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	return t.openSlave(ctx, flags|unix.O_NOCTTY)
}
