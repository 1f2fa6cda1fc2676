package proc

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// sysfs is the minimal /sys moat shows: what programs read to count CPUs
// (/sys/devices/system/cpu/{online,possible,present} and the cpuN
// directories glibc's get_nprocs_conf counts) and /sys/fs/cgroup, empty
// or, with WithLimits, the container's limits as the files of a cgroup v2
// (cgroup.controllers, memory.max, pids.max, cpu.max).
// It is a fixed tree: every write fails with EROFS.
type sysfs struct {
	dev   uint64
	time  vfs.Timespec
	dirs  map[string][]string // directory path -> sorted entry names
	files map[string]string   // file path -> contents
}

// NewSysfs returns the root of a sysfs showing cpus CPUs (at least 1),
// whose inodes report device number devNum. Of the options, it uses
// WithLimits.
func NewSysfs(devNum uint64, cpus int, opts ...Option) vfs.Inode {
	cpus = max(1, cpus)
	var f filesystem
	for _, o := range opts {
		o(&f)
	}
	now := time.Now()
	s := &sysfs{
		dev:   devNum,
		time:  vfs.Timespec{Sec: now.Unix(), Nsec: int64(now.Nanosecond())},
		dirs:  map[string][]string{},
		files: map[string]string{},
	}
	list := "0"
	if cpus > 1 {
		list = "0-" + strconv.Itoa(cpus-1)
	}
	for _, name := range []string{"online", "possible", "present"} {
		s.files["/devices/system/cpu/"+name] = list + "\n"
	}
	for i := range cpus {
		s.dirs["/devices/system/cpu/cpu"+strconv.Itoa(i)] = nil
	}
	s.dirs["/fs/cgroup"] = nil
	if l := f.limits; l != (Limits{}) {
		for name, v := range cgroupFiles(l) {
			s.files["/fs/cgroup/"+name] = v
		}
	}
	// Add every path's parents.
	add := func(p string) {
		for p != "/" {
			parent, name := p[:strings.LastIndexByte(p, '/')], p[strings.LastIndexByte(p, '/')+1:]
			if parent == "" {
				parent = "/"
			}
			if !slices.Contains(s.dirs[parent], name) {
				s.dirs[parent] = append(s.dirs[parent], name)
			}
			p = parent
		}
	}
	for p := range s.files {
		add(p)
	}
	for p := range s.dirs {
		add(p)
	}
	for p := range s.dirs {
		slices.Sort(s.dirs[p])
	}
	return &sysNode{sys: s, path: "/"}
}

// sysNode is a directory or file of a sysfs, by path.
type sysNode struct {
	sys  *sysfs
	path string
}

func (n *sysNode) isDir() bool {
	_, ok := n.sys.dirs[n.path]
	return ok
}

func (n *sysNode) child(name string) *sysNode {
	return &sysNode{sys: n.sys, path: childPath(n.path, name)}
}

// Stat implements vfs.Inode: directories are 0755 and files 0444, as on
// Linux.
func (n *sysNode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	st := vfs.Stat{
		Dev: n.sys.dev, Ino: inoOf(n.path), Nlink: 1, Blksize: 4096,
		Atime: n.sys.time, Mtime: n.sys.time, Ctime: n.sys.time, Btime: n.sys.time,
	}
	if n.isDir() {
		st.Mode, st.Nlink = unix.S_IFDIR|0o755, 2
		for _, c := range n.sys.dirs[n.path] {
			if n.child(c).isDir() {
				st.Nlink++
			}
		}
	} else {
		st.Mode, st.Size = unix.S_IFREG|0o444, 4096 // sysfs attributes report a page
	}
	return st, nil
}

// Lookup implements vfs.Inode.
func (n *sysNode) Lookup(ctx vfs.Context, name string) (vfs.Inode, error) {
	entries, ok := n.sys.dirs[n.path]
	if !ok {
		return nil, unix.ENOTDIR
	}
	if !slices.Contains(entries, name) {
		return nil, unix.ENOENT
	}
	return n.child(name), nil
}

// Open implements vfs.Inode.
func (n *sysNode) Open(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	acc := flags & unix.O_ACCMODE
	if n.isDir() {
		if acc != unix.O_RDONLY {
			return nil, unix.EISDIR
		}
		return vfs.DirFile{}, nil
	}
	if acc != unix.O_RDONLY {
		return nil, unix.EROFS
	}
	return &openFile{data: []byte(n.sys.files[n.path]), writeErr: unix.EROFS}, nil
}

// Readlink implements vfs.Inode.
func (n *sysNode) Readlink(ctx vfs.Context) (string, error) { return "", unix.EINVAL }

// ReadDir implements vfs.Inode.
func (n *sysNode) ReadDir(ctx vfs.Context) ([]vfs.Dirent, error) {
	entries, ok := n.sys.dirs[n.path]
	if !ok {
		return nil, unix.ENOTDIR
	}
	var out []vfs.Dirent
	for _, name := range entries {
		c := n.child(name)
		typ := uint8(unix.DT_REG)
		if c.isDir() {
			typ = unix.DT_DIR
		}
		out = append(out, vfs.Dirent{Name: name, Ino: inoOf(c.path), Type: typ})
	}
	return out, nil
}

// modifyErr is the error of every change: ENOTDIR in a file, EEXIST for
// an existing name in a create, else EROFS.
func (n *sysNode) modifyErr(name string, create bool) error {
	entries, ok := n.sys.dirs[n.path]
	if !ok {
		return unix.ENOTDIR
	}
	if create && slices.Contains(entries, name) {
		return unix.EEXIST
	}
	if !create && !slices.Contains(entries, name) {
		return unix.ENOENT
	}
	return unix.EROFS
}

// Create implements vfs.Inode.
func (n *sysNode) Create(ctx vfs.Context, name string, mode uint32) (vfs.Inode, error) {
	return nil, n.modifyErr(name, true)
}

// Mkdir implements vfs.Inode.
func (n *sysNode) Mkdir(ctx vfs.Context, name string, mode uint32) error {
	return n.modifyErr(name, true)
}

// Symlink implements vfs.Inode.
func (n *sysNode) Symlink(ctx vfs.Context, name, target string) error {
	return n.modifyErr(name, true)
}

// Unlink implements vfs.Inode.
func (n *sysNode) Unlink(ctx vfs.Context, name string) error { return n.modifyErr(name, false) }

// Rmdir implements vfs.Inode.
func (n *sysNode) Rmdir(ctx vfs.Context, name string) error { return n.modifyErr(name, false) }

// Rename implements vfs.Inode.
func (n *sysNode) Rename(ctx vfs.Context, oldName string, newDir vfs.Inode, newName string, flags uint32) error {
	return n.modifyErr(oldName, false)
}

// cgroupFiles are the files of a cgroup v2 directory showing limits l:
// "max" where there is none.
func cgroupFiles(l Limits) map[string]string {
	limit := func(v int64) string {
		if v <= 0 {
			return "max\n"
		}
		return strconv.FormatInt(v, 10) + "\n"
	}
	period := l.CPUPeriodMicros
	if period <= 0 {
		period = 100000 // the kernel's default CFS period
	}
	cpu := "max " + strconv.FormatInt(period, 10) + "\n"
	if l.CPUQuotaMicros > 0 {
		cpu = strconv.FormatInt(l.CPUQuotaMicros, 10) + " " + strconv.FormatInt(period, 10) + "\n"
	}
	return map[string]string{
		"cgroup.controllers": "cpu memory pids\n",
		"memory.max":         limit(l.MemoryBytes),
		"pids.max":           limit(l.Pids),
		"cpu.max":            cpu,
	}
}
