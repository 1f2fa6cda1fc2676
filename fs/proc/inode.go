package proc

import (
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// blockSize is the st_blksize Linux reports for procfs inodes.
const blockSize = 1024

// dirKind identifies a directory of the tree.
type dirKind int

const (
	dirRoot      dirKind = iota // /proc
	dirPID                      // /proc/PID
	dirFD                       // /proc/PID/fd
	dirSys                      // /proc/sys
	dirSysKernel                // /proc/sys/kernel
	dirSysVM                    // /proc/sys/vm
	dirSysFS                    // /proc/sys/fs
	dirTask                     // /proc/PID/task
	dirTID                      // /proc/PID/task/TID
	dirFDInfo                   // /proc/PID/fdinfo
	dirNet                      // /proc/net
)

// perProcess reports whether the directory belongs to a process.
func perProcess(k dirKind) bool {
	return k == dirPID || k == dirTask || k == dirTID || k == dirFD || k == dirFDInfo
}

// fileKind identifies a generated regular file.
type fileKind int

const (
	fileCmdline fileKind = iota
	fileComm
	fileEnviron
	fileMaps
	filePIDMounts
	fileStat
	fileStatus
	fileCPUInfo
	fileFilesystems
	fileLoadavg
	fileMeminfo
	fileMounts
	fileUptime
	fileVersion
	fileHostname
	fileNgroupsMax
	fileOsrelease
	fileOstype
	filePIDMax
	fileOvercommit
	fileStatm
	fileLimits
	fileMountinfo
	fileCgroup
	fileOOMScore
	fileOOMScoreAdj
	fileSysStat
	fileCapLastCap
	fileMaxMapCount
	fileFileMax
	fileNrOpen
	fileTIDStat
	fileTIDStatus
	fileTIDComm
	fileFDInfo
	fileNetDev
	fileNetIfInet6
	fileNetRoute
	fileNetTCP
	fileNetTCP6
	fileNetUDP
	fileNetUDP6
	fileNetUnix
	numFileKinds
)

// fileSpec describes a kind of generated file.
type fileSpec struct {
	name string
	dir  dirKind
	mode uint32 // permission bits
	// seq is set for files Linux serves through seq_file, whose lseek
	// rejects SEEK_END with EINVAL.
	seq bool
}

var fileSpecs = [numFileKinds]fileSpec{
	fileCmdline:     {"cmdline", dirPID, 0o444, false},
	fileComm:        {"comm", dirPID, 0o444, true}, // 0644 with a CommSetter
	fileEnviron:     {"environ", dirPID, 0o400, false},
	fileMaps:        {"maps", dirPID, 0o444, true},
	filePIDMounts:   {"mounts", dirPID, 0o444, true},
	fileStat:        {"stat", dirPID, 0o444, true},
	fileStatus:      {"status", dirPID, 0o444, true},
	fileCPUInfo:     {"cpuinfo", dirRoot, 0o444, true},
	fileFilesystems: {"filesystems", dirRoot, 0o444, true},
	fileLoadavg:     {"loadavg", dirRoot, 0o444, true},
	fileMeminfo:     {"meminfo", dirRoot, 0o444, true},
	fileMounts:      {"mounts", dirRoot, 0o444, true},
	fileUptime:      {"uptime", dirRoot, 0o444, true},
	fileVersion:     {"version", dirRoot, 0o444, true},
	// The sysctls keep Linux's modes; writes fail as they do under a
	// read-only /proc/sys (what container runtimes mount).
	fileHostname:   {"hostname", dirSysKernel, 0o644, false},
	fileNgroupsMax: {"ngroups_max", dirSysKernel, 0o444, false},
	fileOsrelease:  {"osrelease", dirSysKernel, 0o444, false},
	fileOstype:     {"ostype", dirSysKernel, 0o444, false},
	filePIDMax:     {"pid_max", dirSysKernel, 0o644, false},
	fileOvercommit: {"overcommit_memory", dirSysVM, 0o644, false},

	fileStatm:       {"statm", dirPID, 0o444, false},
	fileLimits:      {"limits", dirPID, 0o444, false},
	fileMountinfo:   {"mountinfo", dirPID, 0o444, true},
	fileCgroup:      {"cgroup", dirPID, 0o444, true},
	fileOOMScore:    {"oom_score", dirPID, 0o444, false},
	fileOOMScoreAdj: {"oom_score_adj", dirPID, 0o644, false},
	fileSysStat:     {"stat", dirRoot, 0o444, true},
	fileCapLastCap:  {"cap_last_cap", dirSysKernel, 0o444, false},
	fileMaxMapCount: {"max_map_count", dirSysVM, 0o644, false},
	fileFileMax:     {"file-max", dirSysFS, 0o644, false},
	fileNrOpen:      {"nr_open", dirSysFS, 0o644, false},
	fileTIDStat:     {"stat", dirTID, 0o444, true},
	fileTIDStatus:   {"status", dirTID, 0o444, true},
	fileTIDComm:     {"comm", dirTID, 0o444, true}, // 0644 with a CommSetter
	// fdinfo files are listed by the fdinfo directory, not by name.
	fileFDInfo: {"", dirFDInfo, 0o444, true},
	// The sandbox's network (WithNet).
	fileNetDev:     {"dev", dirNet, 0o444, true},
	fileNetIfInet6: {"if_inet6", dirNet, 0o444, true},
	fileNetRoute:   {"route", dirNet, 0o444, true},
	fileNetTCP:     {"tcp", dirNet, 0o444, true},
	fileNetTCP6:    {"tcp6", dirNet, 0o444, true},
	fileNetUDP:     {"udp", dirNet, 0o444, true},
	fileNetUDP6:    {"udp6", dirNet, 0o444, true},
	fileNetUnix:    {"unix", dirNet, 0o444, true},
}

// linkKind identifies a symlink.
type linkKind int

const (
	linkSelf       linkKind = iota // /proc/self
	linkExe                        // /proc/PID/exe
	linkCwd                        // /proc/PID/cwd
	linkFD                         // /proc/PID/fd/N
	linkThreadSelf                 // /proc/thread-self
	linkRoot                       // /proc/PID/root
)

// inoOf returns the stable inode number of a /proc path ("/" is 1).
func inoOf(path string) uint64 {
	if path == "/" {
		return 1
	}
	h := fnv.New64a()
	h.Write([]byte(path))
	ino := h.Sum64() >> 1 // keep it positive for programs using signed ino_t
	if ino < 2 {
		ino += 2
	}
	return ino
}

// parseNum parses a decimal pid or fd name as Linux does: digits only, no
// sign, no leading zero. It returns -1 if name is not one.
func parseNum(name string) int32 {
	if name == "" || len(name) > 10 || (len(name) > 1 && name[0] == '0') {
		return -1
	}
	n, err := strconv.ParseInt(name, 10, 32)
	if err != nil || n < 0 {
		return -1
	}
	for _, c := range name {
		if c < '0' || c > '9' {
			return -1
		}
	}
	return int32(n)
}

func (f *filesystem) stat(path string, mode uint32, nlink uint32) vfs.Stat {
	return vfs.Stat{
		Dev:     f.dev,
		Ino:     inoOf(path),
		Mode:    mode,
		Nlink:   nlink,
		Blksize: blockSize,
		Atime:   f.time,
		Mtime:   f.time,
		Ctime:   f.time,
		Btime:   f.time,
	}
}

// owned sets st's owner to p's effective ids, as Linux does for the
// entries of a (dumpable) process's directory.
func owned(st vfs.Stat, p Process) vfs.Stat {
	st.UID, st.GID = p.UIDs()[1], p.GIDs()[1]
	return st
}

// exists reports whether the file kind is present in this instance.
func (f *filesystem) exists(k fileKind) bool {
	switch k {
	case fileMounts, filePIDMounts:
		return f.mounts != nil
	case fileMountinfo:
		return f.mountinfo != nil
	}
	if fileSpecs[k].dir == dirNet {
		return f.net != nil
	}
	return true
}

// dir is a directory of the tree.
type dir struct {
	fs   *filesystem
	kind dirKind
	pid  int32 // for the directories of a process
	tid  int32 // for dirTID
}

func (d *dir) path() string {
	pid := "/" + strconv.Itoa(int(d.pid))
	switch d.kind {
	case dirRoot:
		return "/"
	case dirPID:
		return pid
	case dirFD:
		return pid + "/fd"
	case dirFDInfo:
		return pid + "/fdinfo"
	case dirTask:
		return pid + "/task"
	case dirTID:
		return pid + "/task/" + strconv.Itoa(int(d.tid))
	case dirSys:
		return "/sys"
	case dirSysKernel:
		return "/sys/kernel"
	case dirSysFS:
		return "/sys/fs"
	case dirNet:
		return "/net"
	default:
		return "/sys/vm"
	}
}

// threadIDs lists p's threads.
func threadIDs(p Process) []int32 {
	if t, ok := p.(ProcessThreads); ok {
		return t.ThreadIDs()
	}
	return []int32{p.PID()}
}

// threadOf returns thread tid of p, or ENOENT.
func threadOf(p Process, tid int32) (Process, error) {
	if t, ok := p.(ProcessThreads); ok {
		if th := t.Thread(tid); th != nil {
			return th, nil
		}
		return nil, unix.ENOENT
	}
	if tid == p.PID() {
		return p, nil
	}
	return nil, unix.ENOENT
}

// processAndThread returns the live process pid and, for tid > 0, its
// thread tid (else the process itself), or ENOENT.
func (f *filesystem) processAndThread(pid, tid int32) (Process, Process, error) {
	p, err := f.processOf(pid)
	if err != nil {
		return nil, nil, err
	}
	if tid <= 0 {
		return p, p, nil
	}
	th, err := threadOf(p, tid)
	if err != nil {
		return nil, nil, err
	}
	return p, th, nil
}

func childPath(dirPath, name string) string {
	if dirPath == "/" {
		return "/" + name
	}
	return dirPath + "/" + name
}

// fixedNames lists the directory's static entries (not pids or fds).
func (d *dir) fixedNames() []string {
	var names []string
	switch d.kind {
	case dirRoot:
		names = append(names, "self", "sys", "thread-self")
		if d.fs.net != nil {
			names = append(names, "net")
		}
	case dirPID:
		names = append(names, "cwd", "exe", "fd", "fdinfo", "root", "task")
	case dirSys:
		names = append(names, "fs", "kernel", "vm")
	}
	for k, s := range fileSpecs {
		if s.dir == d.kind && s.name != "" && d.fs.exists(fileKind(k)) {
			names = append(names, s.name)
		}
	}
	slices.Sort(names)
	return names
}

// fixedChild returns the static entry called name, or nil.
func (d *dir) fixedChild(name string) vfs.Inode {
	switch d.kind {
	case dirRoot:
		switch name {
		case "self":
			return &link{fs: d.fs, kind: linkSelf}
		case "sys":
			return &dir{fs: d.fs, kind: dirSys}
		case "thread-self":
			return &link{fs: d.fs, kind: linkThreadSelf}
		case "net":
			if d.fs.net != nil {
				return &dir{fs: d.fs, kind: dirNet}
			}
		}
	case dirPID:
		switch name {
		case "exe":
			return &link{fs: d.fs, kind: linkExe, pid: d.pid}
		case "cwd":
			return &link{fs: d.fs, kind: linkCwd, pid: d.pid}
		case "fd":
			return &dir{fs: d.fs, kind: dirFD, pid: d.pid}
		case "fdinfo":
			return &dir{fs: d.fs, kind: dirFDInfo, pid: d.pid}
		case "root":
			return &link{fs: d.fs, kind: linkRoot, pid: d.pid}
		case "task":
			return &dir{fs: d.fs, kind: dirTask, pid: d.pid}
		}
	case dirSys:
		switch name {
		case "kernel":
			return &dir{fs: d.fs, kind: dirSysKernel}
		case "vm":
			return &dir{fs: d.fs, kind: dirSysVM}
		case "fs":
			return &dir{fs: d.fs, kind: dirSysFS}
		}
	}
	for k, s := range fileSpecs {
		if s.dir == d.kind && s.name != "" && s.name == name && d.fs.exists(fileKind(k)) {
			return &file{fs: d.fs, kind: fileKind(k), pid: d.pid, tid: d.tid}
		}
	}
	return nil
}

// Stat implements vfs.Inode.
func (d *dir) Stat(ctx vfs.Context) (vfs.Stat, error) {
	switch d.kind {
	case dirRoot:
		return d.fs.stat("/", unix.S_IFDIR|0o555, uint32(3+len(d.fs.k.PIDs()))), nil
	case dirPID, dirFD, dirFDInfo, dirTask, dirTID:
		p, _, err := d.fs.processAndThread(d.pid, d.tid)
		if err != nil {
			return vfs.Stat{}, err
		}
		switch d.kind {
		case dirPID:
			return owned(d.fs.stat(d.path(), unix.S_IFDIR|0o555, 5), p), nil
		case dirTask:
			return owned(d.fs.stat(d.path(), unix.S_IFDIR|0o555, uint32(2+len(threadIDs(p)))), p), nil
		case dirTID:
			return owned(d.fs.stat(d.path(), unix.S_IFDIR|0o555, 3), p), nil
		}
		st := owned(d.fs.stat(d.path(), unix.S_IFDIR|0o500, 2), p)
		if d.kind == dirFD {
			st.Size = int64(len(p.FDs())) // Linux reports the number of open fds
		}
		return st, nil
	case dirSys:
		return d.fs.stat(d.path(), unix.S_IFDIR|0o555, 5), nil
	default:
		return d.fs.stat(d.path(), unix.S_IFDIR|0o555, 2), nil
	}
}

// Lookup implements vfs.Inode.
func (d *dir) Lookup(ctx vfs.Context, name string) (vfs.Inode, error) {
	switch d.kind {
	case dirPID, dirTID:
		if _, _, err := d.fs.processAndThread(d.pid, d.tid); err != nil {
			return nil, err
		}
	case dirTask:
		p, err := d.fs.processOf(d.pid)
		if err != nil {
			return nil, err
		}
		tid := parseNum(name)
		if tid <= 0 {
			return nil, unix.ENOENT
		}
		if _, err := threadOf(p, tid); err != nil {
			return nil, err
		}
		return &dir{fs: d.fs, kind: dirTID, pid: d.pid, tid: tid}, nil
	case dirFD, dirFDInfo:
		p, err := d.fs.processOf(d.pid)
		if err != nil {
			return nil, err
		}
		if !mayTrace(ctx, p) {
			return nil, unix.EACCES
		}
		fd := parseNum(name)
		if fd < 0 {
			return nil, unix.ENOENT
		}
		if _, ok := findFD(p, fd); !ok {
			return nil, unix.ENOENT
		}
		if d.kind == dirFDInfo {
			return &file{fs: d.fs, kind: fileFDInfo, pid: d.pid, fd: fd}, nil
		}
		return &link{fs: d.fs, kind: linkFD, pid: d.pid, fd: fd}, nil
	}
	if in := d.fixedChild(name); in != nil {
		return in, nil
	}
	if d.kind == dirRoot {
		if pid := parseNum(name); pid > 0 && d.fs.k.Process(pid) != nil {
			return &dir{fs: d.fs, kind: dirPID, pid: pid}, nil
		}
	}
	return nil, unix.ENOENT
}

func findFD(p Process, fd int32) (FDInfo, bool) {
	for _, fi := range p.FDs() {
		if fi.FD == fd {
			return fi, true
		}
	}
	return FDInfo{}, false
}

// ReadDir implements vfs.Inode. /proc lists its fixed entries, then the
// live pids in increasing order.
func (d *dir) ReadDir(ctx vfs.Context) ([]vfs.Dirent, error) {
	if d.kind == dirFD || d.kind == dirFDInfo {
		p, err := d.fs.processOf(d.pid)
		if err != nil {
			return nil, err
		}
		if !mayTrace(ctx, p) {
			return nil, unix.EACCES
		}
		dp := d.path()
		typ := uint8(unix.DT_LNK)
		if d.kind == dirFDInfo {
			typ = unix.DT_REG
		}
		var out []vfs.Dirent
		for _, fi := range p.FDs() {
			name := strconv.Itoa(int(fi.FD))
			out = append(out, vfs.Dirent{Name: name, Ino: inoOf(dp + "/" + name), Type: typ})
		}
		return out, nil
	}
	if d.kind == dirTask {
		p, err := d.fs.processOf(d.pid)
		if err != nil {
			return nil, err
		}
		dp := d.path()
		var out []vfs.Dirent
		for _, tid := range threadIDs(p) {
			name := strconv.Itoa(int(tid))
			out = append(out, vfs.Dirent{Name: name, Ino: inoOf(dp + "/" + name), Type: unix.DT_DIR})
		}
		return out, nil
	}
	if perProcess(d.kind) {
		if _, _, err := d.fs.processAndThread(d.pid, d.tid); err != nil {
			return nil, err
		}
	}
	dp := d.path()
	var out []vfs.Dirent
	for _, name := range d.fixedNames() {
		var typ uint8
		switch d.fixedChild(name).(type) {
		case *dir:
			typ = unix.DT_DIR
		case *link:
			typ = unix.DT_LNK
		default:
			typ = unix.DT_REG
		}
		out = append(out, vfs.Dirent{Name: name, Ino: inoOf(childPath(dp, name)), Type: typ})
	}
	if d.kind == dirRoot {
		pids := slices.Clone(d.fs.k.PIDs())
		slices.Sort(pids)
		for _, pid := range pids {
			name := strconv.Itoa(int(pid))
			out = append(out, vfs.Dirent{Name: name, Ino: inoOf("/" + name), Type: unix.DT_DIR})
		}
	}
	return out, nil
}

// Open implements vfs.Inode.
func (d *dir) Open(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	if _, err := d.Stat(ctx); err != nil {
		return nil, err
	}
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		return nil, unix.EISDIR
	}
	return vfs.DirFile{}, nil
}

// Readlink implements vfs.Inode.
func (d *dir) Readlink(ctx vfs.Context) (string, error) { return "", unix.EINVAL }

// Create, Mkdir and Symlink fail with ENOENT as on Linux, whose procfs
// has no negative dentries, or EEXIST for an existing name.
func (d *dir) createErr(ctx vfs.Context, name string) error {
	if _, err := d.Lookup(ctx, name); err == nil {
		return unix.EEXIST
	}
	return unix.ENOENT
}

// removeErr is ENOENT for a missing name, EPERM for an existing one.
func (d *dir) removeErr(ctx vfs.Context, name string) error {
	if _, err := d.Lookup(ctx, name); err != nil {
		return err
	}
	return unix.EPERM
}

// Create implements vfs.Inode.
func (d *dir) Create(ctx vfs.Context, name string, mode uint32) (vfs.Inode, error) {
	return nil, d.createErr(ctx, name)
}

// Mkdir implements vfs.Inode.
func (d *dir) Mkdir(ctx vfs.Context, name string, mode uint32) error {
	return d.createErr(ctx, name)
}

// Symlink implements vfs.Inode.
func (d *dir) Symlink(ctx vfs.Context, name, target string) error {
	return d.createErr(ctx, name)
}

// Unlink implements vfs.Inode.
func (d *dir) Unlink(ctx vfs.Context, name string) error { return d.removeErr(ctx, name) }

// Rmdir implements vfs.Inode.
func (d *dir) Rmdir(ctx vfs.Context, name string) error { return d.removeErr(ctx, name) }

// Rename implements vfs.Inode: ENOENT when either name is missing (Linux
// cannot even look up a new name in procfs), EPERM otherwise.
func (d *dir) Rename(ctx vfs.Context, oldName string, newDir vfs.Inode, newName string, flags uint32) error {
	if _, err := d.Lookup(ctx, oldName); err != nil {
		return err
	}
	if _, err := newDir.Lookup(ctx, newName); err != nil {
		return err
	}
	return unix.EPERM
}

// link is a symbolic link.
type link struct {
	vfs.NotDir
	fs   *filesystem
	kind linkKind
	pid  int32 // for exe, cwd and fd links
	fd   int32 // for fd links
}

func (l *link) path() string {
	switch l.kind {
	case linkSelf:
		return "/self"
	case linkThreadSelf:
		return "/thread-self"
	case linkRoot:
		return "/" + strconv.Itoa(int(l.pid)) + "/root"
	case linkExe:
		return "/" + strconv.Itoa(int(l.pid)) + "/exe"
	case linkCwd:
		return "/" + strconv.Itoa(int(l.pid)) + "/cwd"
	default:
		return "/" + strconv.Itoa(int(l.pid)) + "/fd/" + strconv.Itoa(int(l.fd))
	}
}

// Stat implements vfs.Inode. Like Linux, /proc/PID/fd/N links carry the
// access mode of the open file in their permission bits and a size of 64.
func (l *link) Stat(ctx vfs.Context) (vfs.Stat, error) {
	if l.kind == linkSelf || l.kind == linkThreadSelf {
		return l.fs.stat(l.path(), unix.S_IFLNK|0o777, 1), nil
	}
	p, err := l.fs.processOf(l.pid)
	if err != nil {
		return vfs.Stat{}, err
	}
	if l.kind != linkFD {
		return owned(l.fs.stat(l.path(), unix.S_IFLNK|0o777, 1), p), nil
	}
	fi, ok := findFD(p, l.fd)
	if !ok {
		return vfs.Stat{}, unix.ENOENT
	}
	var perm uint32
	switch fi.Flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		perm = 0o500
	case unix.O_WRONLY:
		perm = 0o300
	default:
		perm = 0o700
	}
	st := owned(l.fs.stat(l.path(), unix.S_IFLNK|perm, 1), p)
	st.Size = 64
	return st, nil
}

// Open implements vfs.Inode. vfs follows symlinks before opening, so this
// is reached only for O_NOFOLLOW opens.
func (l *link) Open(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	return nil, unix.ELOOP
}

// IsMagicLink implements vfs.MagicLinker: the fd, exe, cwd and root links
// are magic links on Linux (openat2's RESOLVE_NO_MAGICLINKS refuses them);
// self and thread-self are plain symlinks.
func (l *link) IsMagicLink() bool { return l.kind != linkSelf && l.kind != linkThreadSelf }

// MagicTarget implements vfs.MagicLink for fd links.
func (l *link) MagicTarget(ctx vfs.Context) (*vfs.FileDescription, error) {
	if l.kind != linkFD {
		return nil, vfs.ErrNotMagic
	}
	p, err := l.fs.processOf(l.pid)
	if err != nil {
		return nil, err
	}
	if !mayTrace(ctx, p) {
		return nil, unix.EACCES
	}
	o, ok := p.(FileOpener)
	if !ok {
		return nil, unix.ENOENT
	}
	f := o.File(l.fd)
	if f == nil {
		return nil, unix.ENOENT
	}
	return f, nil
}

// Readlink implements vfs.Inode. /proc/self reads as the caller's pid
// (ENOENT when the caller is not a task); exe, cwd and fd links need the
// caller to be allowed to trace the process (EACCES).
func (l *link) Readlink(ctx vfs.Context) (string, error) {
	if l.kind == linkSelf {
		c, ok := ctx.(Caller)
		if !ok {
			return "", unix.ENOENT
		}
		pid := c.ProcPID()
		if pid <= 0 {
			return "", unix.ENOENT
		}
		return strconv.Itoa(int(pid)), nil
	}
	if l.kind == linkThreadSelf {
		c, ok := ctx.(Caller)
		if !ok {
			return "", unix.ENOENT
		}
		pid, tid := c.ProcPID(), c.ProcPID()
		if tc, ok := ctx.(ThreadCaller); ok {
			tid = tc.ProcTID()
		}
		if pid <= 0 || tid <= 0 {
			return "", unix.ENOENT
		}
		return strconv.Itoa(int(pid)) + "/task/" + strconv.Itoa(int(tid)), nil
	}
	p, err := l.fs.processOf(l.pid)
	if err != nil {
		return "", err
	}
	if !mayTrace(ctx, p) {
		return "", unix.EACCES
	}
	var target string
	switch l.kind {
	case linkExe:
		target = p.ExePath()
	case linkCwd:
		target = p.Cwd()
	case linkRoot:
		target = "/" // the sandbox has no chroot: every root is "/"
	default:
		fi, ok := findFD(p, l.fd)
		if !ok {
			return "", unix.ENOENT
		}
		target = fi.Target
	}
	if target == "" {
		return "", unix.ENOENT
	}
	return target, nil
}

// file is a generated regular file.
type file struct {
	vfs.NotDir
	fs   *filesystem
	kind fileKind
	pid  int32 // for files of a /proc/PID directory
	tid  int32 // for files of a /proc/PID/task/TID directory
	fd   int32 // for fdinfo files
}

func (f *file) spec() fileSpec { return fileSpecs[f.kind] }

func (f *file) path() string {
	s := f.spec()
	name := s.name
	if f.kind == fileFDInfo {
		name = strconv.Itoa(int(f.fd))
	}
	return childPath((&dir{kind: s.dir, pid: f.pid, tid: f.tid}).path(), name)
}

// commSettable reports whether writing this comm file renames th.
func (f *file) commSettable(th Process) bool {
	_, ok := th.(CommSetter)
	return (f.kind == fileComm || f.kind == fileTIDComm) && ok
}

// Stat implements vfs.Inode.
func (f *file) Stat(ctx vfs.Context) (vfs.Stat, error) {
	s := f.spec()
	if !perProcess(s.dir) {
		return f.fs.stat(f.path(), unix.S_IFREG|s.mode, 1), nil
	}
	p, th, err := f.fs.processAndThread(f.pid, f.tid)
	if err != nil {
		return vfs.Stat{}, err
	}
	if f.kind == fileFDInfo {
		if _, ok := findFD(p, f.fd); !ok {
			return vfs.Stat{}, unix.ENOENT
		}
	}
	mode := s.mode
	if f.commSettable(th) {
		mode = 0o644
	}
	return owned(f.fs.stat(f.path(), unix.S_IFREG|mode, 1), p), nil
}

// Readlink implements vfs.Inode.
func (f *file) Readlink(ctx vfs.Context) (string, error) { return "", unix.EINVAL }

// Open implements vfs.Inode: it generates the file's text (unless opened
// write-only).
//
// vfs has already checked the mode bits, so a write-mode open reaching
// here comes from root. As on Linux, root may open /proc/PID files and the
// system-wide files for writing, and the write then fails (EINVAL and EIO
// respectively); sysctls fail at open, with EROFS for the writable ones (a
// read-only /proc/sys) and EACCES for the read-only ones.
func (f *file) Open(ctx vfs.Context, flags uint32) (vfs.FileImpl, error) {
	s := f.spec()
	acc := flags & unix.O_ACCMODE
	of := &openFile{seq: s.seq}
	switch {
	case perProcess(s.dir):
		p, th, err := f.fs.processAndThread(f.pid, f.tid)
		if err != nil {
			return nil, err
		}
		if (f.kind == fileEnviron || f.kind == fileMaps || f.kind == fileFDInfo) && !mayTrace(ctx, p) {
			return nil, unix.EACCES
		}
		of.writeErr = unix.EINVAL
		if f.commSettable(th) || f.kind == fileOOMScoreAdj {
			of.fs, of.kind, of.pid, of.tid = f.fs, f.kind, f.pid, f.tid
		}
	case s.dir == dirRoot:
		of.writeErr = unix.EIO
	default: // sysctls
		if acc != unix.O_RDONLY {
			if s.mode&0o200 != 0 {
				return nil, unix.EROFS
			}
			return nil, unix.EACCES
		}
		of.writeErr = unix.EROFS
	}
	if acc == unix.O_WRONLY {
		return of, nil
	}
	data, err := f.fs.generate(ctx, f)
	if err != nil {
		return nil, err
	}
	of.data = data
	return of, nil
}

// openFile is an open generated file: the snapshot taken at open.
type openFile struct {
	data     []byte
	seq      bool
	writeErr error
	// fs is set for the writable files: a comm whose process or thread
	// has a CommSetter, and oom_score_adj.
	fs       *filesystem
	kind     fileKind
	pid, tid int32
}

// Read implements vfs.FileImpl.
func (o *openFile) Read(ctx vfs.Context, dst []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	if off >= int64(len(o.data)) {
		return 0, nil
	}
	return copy(dst, o.data[off:]), nil
}

// Write implements vfs.FileImpl. Writing comm renames the process (or
// thread) to the first 15 bytes written (a trailing newline included, as
// on Linux); writing oom_score_adj accepts an integer in [-1000, 1000]
// (moat has no OOM killer: the value is only kept, where the process is
// a ProcessOOMScoreAdj); everything else fails.
func (o *openFile) Write(ctx vfs.Context, src []byte, off int64) (int, error) {
	if o.fs == nil {
		return 0, o.writeErr
	}
	_, th, err := o.fs.processAndThread(o.pid, o.tid)
	if err != nil {
		return 0, unix.ESRCH
	}
	if o.kind == fileOOMScoreAdj {
		if len(src) > 24 {
			return 0, unix.EINVAL
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(src)))
		if err != nil || n < -1000 || n > 1000 {
			return 0, unix.EINVAL
		}
		if p, ok := th.(ProcessOOMScoreAdj); ok {
			p.SetOOMScoreAdj(n)
		}
		return len(src), nil
	}
	name := src[:min(len(src), commLen)]
	th.(CommSetter).SetComm(string(name))
	return len(src), nil
}

// Release implements vfs.FileImpl.
func (o *openFile) Release() {}

// Seek is lseek(2) on a generated file, given the current offset. Linux's
// seq_file files accept only SEEK_SET and SEEK_CUR to non-negative
// offsets; the others (cmdline, environ, sysctls) seek as a file of size
// 0.
//
// vfs.FileDescription.Seek does not consult this yet; until it does,
// lseek(SEEK_END) on a seq file returns 0 instead of EINVAL.
func (o *openFile) Seek(ctx vfs.Context, cur, off int64, whence int) (int64, error) {
	var base int64
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		base = cur
	case unix.SEEK_END:
		if o.seq {
			return 0, unix.EINVAL
		}
	case unix.SEEK_DATA, unix.SEEK_HOLE:
		if o.seq {
			return 0, unix.EINVAL
		}
		return 0, unix.ENXIO // size 0: every offset is past the end
	default:
		return 0, unix.EINVAL
	}
	if off > 0 && base > 1<<63-1-off {
		return 0, unix.EOVERFLOW
	}
	if base+off < 0 {
		return 0, unix.EINVAL
	}
	return base + off, nil
}
