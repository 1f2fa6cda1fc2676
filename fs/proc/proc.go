// Package proc implements moat's procfs: the per-process directories
// (/proc/PID/{cmdline,comm,status,stat,statm,maps,environ,exe,cwd,root,
// fd/,fdinfo/,task/,mounts,mountinfo,limits,cgroup,oom_score,
// oom_score_adj}), /proc/self, /proc/thread-self, a few system-wide files
// (cpuinfo, meminfo, stat, uptime, loadavg, version, filesystems, mounts)
// and the read-only sysctls programs commonly read
// (/proc/sys/kernel/{hostname,ostype,osrelease,pid_max,ngroups_max,
// cap_last_cap}, /proc/sys/vm/{overcommit_memory,max_map_count},
// /proc/sys/fs/{file-max,nr_open}). NewSysfs builds the minimal /sys.
//
// proc does not know the kernel's types: the kernel implements Kernel and
// Process (and, optionally, the small Process* extension interfaces below),
// and its task contexts implement Caller so that /proc/self works.
//
// Files are generated when they are opened, as Linux's seq_file does: the
// open file keeps that snapshot, so reading it in any chunk sizes, at any
// offsets, reassembles the same text. Generated files report st_size 0,
// like Linux.
//
// Inodes are plain data (kinds, pids, fd numbers; no closures), so that the
// state reachable from an open /proc file can be checkpointed. A /proc/PID
// inode holds the pid, not the process: every operation asks the Kernel
// again, so an exited process's directory answers ENOENT. If the kernel
// reuses that pid, an old directory fd sees the new process (Linux pins
// struct pid instead); the kernel should allocate pids cyclically, as Linux
// does, to make that rare.
//
// The package has no locks of its own; the Kernel and Process methods must
// be safe to call concurrently from any task goroutine.
package proc

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/vfs"
)

// Process is one process (thread group) as /proc shows it.
type Process interface {
	PID() int32
	PPID() int32
	// Comm is the command name, at most 15 bytes (TASK_COMM_LEN-1) as
	// /proc/PID/comm shows it.
	Comm() string
	// Cmdline and Environ are the NUL-separated argv and envp, read from
	// the application's memory (bounded by the kernel).
	Cmdline() []byte
	Environ() []byte
	// ExePath is the absolute path of the executable in the sandbox ("" if
	// it has none: readlink of /proc/PID/exe then fails with ENOENT).
	ExePath() string
	// Cwd is the absolute path of the working directory.
	Cwd() string
	// Maps is the full /proc/PID/maps text.
	Maps() string
	// UIDs and GIDs are the real, effective, saved and filesystem ids.
	UIDs() [4]uint32
	GIDs() [4]uint32
	// Threads is the number of threads.
	Threads() int
	// VMSizeKB and VMRSSKB are the virtual size and resident set in KiB.
	VMSizeKB() uint64
	VMRSSKB() uint64
	// State is the state letter of proc(5): 'R', 'S', 'D', 'T', 't', 'Z',
	// 'X', 'I'.
	State() byte
	// FDs lists the open file descriptors in increasing order.
	FDs() []FDInfo
}

// FileOpener is implemented by processes whose open files /proc can hand
// out: opening /proc/PID/fd/N then reaches the open file itself, as on
// Linux (bash's process substitution opens /dev/fd/N of a pipe).
type FileOpener interface {
	// File returns the open file at fd with a reference, or nil.
	File(fd int32) *vfs.FileDescription
}

// FDInfo is one open file descriptor as /proc/PID/fd shows it.
type FDInfo struct {
	FD int32
	// Target is what readlink returns: an absolute path ("/etc/passwd"),
	// or an anonymous file's name ("pipe:[123]", "socket:[45]",
	// "anon_inode:[eventpoll]").
	Target string
	// Flags are the open(2) flags; the access mode sets the link's
	// permission bits as on Linux (r-x, -wx, rwx for the owner).
	Flags uint32
}

// Kernel lets /proc find processes.
type Kernel interface {
	// Process returns the process with thread-group id pid, or nil.
	Process(pid int32) Process
	// PIDs lists the live processes (thread-group ids).
	PIDs() []int32
	// Uptime is the time since the sandbox booted.
	Uptime() time.Duration
}

// Caller is implemented by the vfs.Context of a task: /proc/self resolves
// to the pid it returns (its thread-group id as seen in the caller's pid
// namespace).
type Caller interface {
	ProcPID() int32
}

// Optional interfaces a Process may implement to make /proc more precise.
// Without them /proc uses the defaults each one documents.

// ProcessSession reports the process group and session (stat fields 5, 6;
// status NSpgid, NSsid). Default: the pid for both.
type ProcessSession interface {
	PGID() int32
	SID() int32
}

// ProcessTerminal reports the controlling terminal's device number and
// foreground process group (stat fields 7, 8). Default: none (0, -1).
type ProcessTerminal interface {
	Terminal() (dev uint64, fg int32, ok bool)
}

// ProcessTimes reports when the process started, as time since boot
// (stat field 22), and the CPU time its threads used (fields 14, 15).
// Default: 0.
type ProcessTimes interface {
	StartTime() time.Duration
	CPUTime() (user, sys time.Duration)
}

// ProcessCreds reports the umask, supplementary groups and capability
// sets (status Umask, Groups, Cap*). Default: 0022, no groups, and the
// capabilities Linux gives after execve: all for effective uid 0, none
// otherwise (every one in the bounding set).
type ProcessCreds interface {
	Umask() uint32
	Groups() []uint32
	Caps() (inheritable, permitted, effective, bounding, ambient uint64)
}

// ProcessSeccomp reports a thread's no_new_privs bit, seccomp mode
// (SECCOMP_MODE_*) and number of seccomp filters (status NoNewPrivs,
// Seccomp, Seccomp_filters). Default: 0, disabled, none.
type ProcessSeccomp interface {
	NoNewPrivs() bool
	Seccomp() (mode, filters int)
}

// ProcessSignals reports signal state (status SigQ..SigCgt, stat fields
// 31-34). Bit n-1 stands for signal n. Default: all zero, and an unlimited
// RLIMIT_SIGPENDING.
type ProcessSignals interface {
	// SigQueue is the number of queued signals of the real user and that
	// user's RLIMIT_SIGPENDING.
	SigQueue() (queued, limit uint64)
	SigMasks() (pending, sharedPending, blocked, ignored, caught uint64)
}

// ProcessFDTable reports the size of a process's fd table (status
// FDSize: Linux's max_fds). Default: 64, or the multiple of 64 above the
// highest open fd.
type ProcessFDTable interface {
	FDTableSize() int
}

// ProcessThreads lists a process's threads (/proc/PID/task). Default: the
// process is its only thread.
type ProcessThreads interface {
	// ThreadIDs lists the thread ids, the leader's first.
	ThreadIDs() []int32
	// Thread returns thread tid of the process, or nil if it has none by
	// that id. Its Comm, State and (with ProcessTimes) CPUTime are the
	// thread's; /proc/PID/task/TID/comm is writable if it is a
	// CommSetter.
	Thread(tid int32) Process
}

// Rlimit is one resource limit; RLIM_INFINITY (^uint64(0)) is unlimited.
type Rlimit struct{ Cur, Max uint64 }

// ProcessLimits reports the resource limits (/proc/PID/limits), indexed
// by RLIMIT_* number. Default: all unlimited.
type ProcessLimits interface {
	Rlimits() [16]Rlimit
}

// ProcessOOMScoreAdj keeps /proc/PID/oom_score_adj. Default: 0, and
// writes are checked and dropped.
type ProcessOOMScoreAdj interface {
	OOMScoreAdj() int
	SetOOMScoreAdj(v int)
}

// FDDetail is what /proc/PID/fdinfo/N shows beyond the flags.
type FDDetail struct {
	Pos     int64  // the file offset
	MntID   int    // the mount the file is on (mountinfo's first field)
	Ino     uint64 // the file's inode number
	CloExec bool   // close-on-exec (shown as O_CLOEXEC in flags)
}

// ProcessFDDetails reports fdinfo details. Default: all zero.
type ProcessFDDetails interface {
	FDDetail(fd int32) (FDDetail, bool)
}

// ThreadCaller is implemented by a Caller that can tell its thread id:
// /proc/thread-self resolves to "PID/task/TID". Default: the pid.
type ThreadCaller interface {
	ProcTID() int32
}

// CommSetter is implemented by a Process whose name can be set by writing
// /proc/PID/comm (which is then mode 0644 instead of 0444).
type CommSetter interface {
	SetComm(name string)
}

// Option configures New.
type Option func(*filesystem)

// WithRelease sets the kernel release and version that uname(2) reports
// ("6.1.0", "#1 SMP PREEMPT_DYNAMIC ..."): /proc/version and
// /proc/sys/kernel/osrelease must agree with uname. The defaults are
// DefaultRelease and DefaultVersion.
func WithRelease(release, version string) Option {
	return func(f *filesystem) { f.release, f.version = release, version }
}

// WithNet provides the files of /proc/net (dev, if_inet6, route, tcp,
// tcp6, udp, udp6, unix) by name. Without it, /proc/net does not exist.
func WithNet(net func(name string) string) Option {
	return func(f *filesystem) { f.net = net }
}

// WithHostname sets how /proc/sys/kernel/hostname learns the caller's
// hostname (its UTS namespace). Default: "localhost".
func WithHostname(hostname func(ctx vfs.Context) string) Option {
	return func(f *filesystem) { f.hostname = hostname }
}

// WithMounts provides the text of /proc/mounts and /proc/PID/mounts for the
// caller's mount namespace (lines "source target fstype options 0 0").
// Without it, those files do not exist.
func WithMounts(mounts func(ctx vfs.Context) string) Option {
	return func(f *filesystem) { f.mounts = mounts }
}

// WithMountInfo provides the text of /proc/PID/mountinfo for the caller's
// mount namespace (lines "id parent major:minor root target options -
// fstype source superoptions"). Without it, that file does not exist.
func WithMountInfo(mountinfo func(ctx vfs.Context) string) Option {
	return func(f *filesystem) { f.mountinfo = mountinfo }
}

// WithFilesystems sets the /proc/filesystems lines (e.g. "nodev\ttmpfs").
// Default: DefaultFilesystems.
func WithFilesystems(lines []string) Option {
	return func(f *filesystem) { f.filesystems = lines }
}

// WithPIDMax sets /proc/sys/kernel/pid_max. Default: 4194304.
func WithPIDMax(n int32) Option {
	return func(f *filesystem) { f.pidMax = n }
}

// WithCPUs sets the number of CPUs the sandbox shows (status
// Cpus_allowed, and the synthesized cpuinfo when the host's is not
// available). Default: runtime.NumCPU().
func WithCPUs(n int) Option {
	return func(f *filesystem) {
		if n > 0 {
			f.cpus = n
		}
	}
}

// Limits are the resource limits of the container the sandbox runs as
// (its host cgroup's), as the application sees them. Zero is "none".
type Limits struct {
	MemoryBytes int64
	Pids        int64
	// CPUQuotaMicros of CPU time per CPUPeriodMicros (quota 0: none).
	CPUQuotaMicros, CPUPeriodMicros int64
}

// WithLimits shows the container's limits to the application, as a
// container on Linux sees its cgroup's: in /proc/meminfo, MemTotal is the
// memory limit (when below the host's) and MemFree and MemAvailable are
// at most the part of it not in use (inUse, the sandbox's memory in use
// in bytes, may be nil: then at most the limit); given to NewSysfs, it
// fills /sys/fs/cgroup with a cgroup v2 view of the limits
// (cgroup.controllers, memory.max, pids.max, cpu.max), whatever cgroup
// version the host has. Without it, or with all limits zero, the
// host's meminfo is shown as it is and /sys/fs/cgroup is empty.
func WithLimits(l Limits, inUse func() int64) Option {
	return func(f *filesystem) { f.limits, f.memInUse = l, inUse }
}

// Defaults for the options.
const (
	DefaultRelease = "6.1.0"
	DefaultVersion = "#1 SMP PREEMPT_DYNAMIC Thu Jan 1 00:00:00 UTC 1970"
)

// DefaultFilesystems lists the filesystem types moat implements.
var DefaultFilesystems = []string{
	"nodev\tsysfs",
	"nodev\ttmpfs",
	"nodev\tproc",
	"nodev\tdevtmpfs",
	"nodev\tpipefs",
	"nodev\tsockfs",
	"nodev\tdevpts",
	"nodev\toverlay",
}

// filesystem is the state shared by the inodes of one procfs instance.
type filesystem struct {
	k        Kernel
	dev      uint64
	hostProc func(name string) ([]byte, error)
	time     vfs.Timespec // creation time: every inode's timestamps

	release, version string
	hostname         func(ctx vfs.Context) string
	mounts           func(ctx vfs.Context) string
	mountinfo        func(ctx vfs.Context) string
	filesystems      []string
	pidMax           int32
	cpus             int
	net              func(name string) string
	limits           Limits
	memInUse         func() int64
}

// New returns the root directory of a procfs showing the processes of k.
// Its inodes report device number devNum.
//
// hostProc reads a file of the host's /proc by name; proc calls it only
// with the fixed names "cpuinfo" and "meminfo", never with a name the
// application chose, each time one of those files is opened. The caller
// decides whether to read the host at each call or to serve a copy taken
// at sandbox start; it must be safe for concurrent use, and an error it
// returns reaches the application as that errno (or EIO). It may be nil:
// cpuinfo is then synthesized and meminfo fails to open with EIO.
//
// k.Process is also asked about pids /proc does not list (a lookup of
// /proc/N for any N): a kernel that wants /proc/TID to work for threads,
// as Linux does, returns the thread's process for a TID.
func New(k Kernel, devNum uint64, hostProc func(name string) ([]byte, error), opts ...Option) vfs.Inode {
	now := time.Now()
	f := &filesystem{
		k:           k,
		dev:         devNum,
		hostProc:    hostProc,
		time:        vfs.Timespec{Sec: now.Unix(), Nsec: int64(now.Nanosecond())},
		release:     DefaultRelease,
		version:     DefaultVersion,
		filesystems: DefaultFilesystems,
		pidMax:      4194304,
		cpus:        runtime.NumCPU(),
	}
	for _, o := range opts {
		o(f)
	}
	return &dir{fs: f, kind: dirRoot}
}

// processOf returns the live process pid, or ENOENT.
func (f *filesystem) processOf(pid int32) (Process, error) {
	if p := f.k.Process(pid); p != nil {
		return p, nil
	}
	return nil, unix.ENOENT
}

// mayTrace approximates Linux's PTRACE_MODE_READ check, which guards
// environ, maps, exe, cwd and fd: root may, and so may a caller whose
// filesystem ids equal the target's real, effective and saved ids.
// A caller with CAP_SYS_PTRACE may trace any process.
func mayTrace(ctx vfs.Context, p Process) bool {
	if ctx == nil {
		return false
	}
	uid, gid := ctx.UID(), ctx.GID()
	if vfs.Capable(ctx, linux.CAP_SYS_PTRACE) {
		return true
	}
	u, g := p.UIDs(), p.GIDs()
	return u[0] == uid && u[1] == uid && u[2] == uid && g[0] == gid && g[1] == gid && g[2] == gid
}
