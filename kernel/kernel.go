// Package kernel is moat's application kernel proper: the Kernel that owns
// a sandbox's state, and Tasks, the app threads, each served by one
// goroutine that runs the app through the platform and handles its system
// calls and faults.
//
// All kernel state hangs off the Kernel value as plain data (tasks, their
// memory managers, fd tables, mounts) so that a sandbox can later be
// checkpointed by walking it.
//
// Lock order (outermost first): Kernel.mu, Task.mu, an fsContext's mu, a
// process's signalHandlers.mu, the futex table, then the locks of mm and
// vfs. A controlling terminal's own lock (fs/tty) comes after Kernel.mu:
// the kernel calls into it with Kernel.mu held (SetControllingTerminal),
// never the reverse.
package kernel

import (
	"crypto/rand"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/fs/inet"
	"moat/loader"
	"moat/memory"
	"moat/mm"
	"moat/platform"
	"moat/vdso"
	"moat/vfs"
)

// Options configure a Kernel.
type Options struct {
	Platform platform.Platform
	MemFile  *memory.File
	Mounts   *vfs.MountNamespace
	Syscalls *SyscallTable
	Log      *slog.Logger
	Strace   io.Writer // nil: no tracing

	// Utsname is what uname(2) reports.
	Utsname Utsname
	// NewUnlinked makes a regular file with no name, open read-write, in
	// the sandbox's memory (memfd_create); sealable as MFD_ALLOW_SEALING.
	// Nil: memfd_create is ENOSYS.
	NewUnlinked func(ctx vfs.Context, mode uint32, sealable bool) (vfs.FileImpl, error)

	// NewFS makes a new filesystem for mount(2) of fstype ("tmpfs",
	// "proc", ...) with mount data (options); ENODEV for types it does not
	// make. Nil: every type is ENODEV.
	NewFS func(fstype, data string) (vfs.Inode, error)

	// Net is the sandbox's network stack for AF_INET and AF_INET6
	// sockets. Nil: those families are EAFNOSUPPORT.
	Net inet.Network

	// HWCap, HWCap2, Platform and MinSigStkSz come from the host's auxv.
	HWCap, HWCap2 uint64
	MinSigStkSz   uint64
}

// Utsname is the system identification uname(2) returns.
type Utsname struct {
	Sysname, Nodename, Release, Version, Machine, Domainname string
}

// Kernel is one sandbox.
type Kernel struct {
	opts     Options
	log      *slog.Logger
	syscalls *SyscallTable
	start    time.Time
	vdso     []byte // the vDSO image every program gets (package vdso)

	futex futexTable

	mu      sync.Mutex
	tasks   map[int32]*Task // live and zombie tasks, by tid
	nextTID int32
	// childEvents is notified whenever a task becomes a zombie (or stops
	// or continues), waking waiters in wait4 and waitThreads.
	childEvents vfs.Changes
	initDone    chan struct{} // closed when the sandbox's init (tid 1) has exited
	thaw        chan struct{} // non-nil while frozen (Freeze); closed by Thaw

	frozen atomic.Bool // thaw != nil, readable without the lock
	// manyTasks is set once the sandbox has had a second task: from then
	// on --strace lines say whose they are, as strace -f does.
	manyTasks atomic.Bool
	// exitsWithInit: the sentry process exits once init has (ExitsWithInit).
	exitsWithInit atomic.Bool

	utsMu sync.Mutex
	uts   Utsname // the sandbox's one UTS namespace: sethostname changes it

	syncFn func() error // set once before the sandbox runs (SetSync)
}

// New returns a kernel with no tasks.
func New(opts Options) *Kernel {
	if prev := debug.SetMaxThreads(maxSentryThreads); prev > maxSentryThreads {
		debug.SetMaxThreads(prev) // never lower it
	}
	var timeEntry uintptr
	if te, ok := opts.Platform.(platform.TimeEntry); ok {
		timeEntry = te.TimeEntry()
	}
	return &Kernel{
		vdso:     vdso.Image(timeEntry),
		opts:     opts,
		log:      opts.Log,
		syscalls: opts.Syscalls,
		start:    time.Now(),
		tasks:    make(map[int32]*Task),
		nextTID:  1,
		initDone: make(chan struct{}),
		uts:      opts.Utsname,
	}
}

// SetNewUnlinked sets Options.NewUnlinked (the filesystem it uses is made
// after the kernel).
func (k *Kernel) SetNewUnlinked(fn func(ctx vfs.Context, mode uint32, sealable bool) (vfs.FileImpl, error)) {
	k.opts.NewUnlinked = fn
}

// SetSync sets the function sync(2) calls to write back what the sandbox's
// filesystems hold for the host (dirty shared mappings of host files).
func (k *Kernel) SetSync(fn func() error) { k.syncFn = fn }

// Sync writes back what the sandbox's filesystems hold for the host (see
// SetSync) and returns the first error.
func (k *Kernel) Sync() error {
	if k.syncFn == nil {
		return nil
	}
	return k.syncFn()
}

// SetNewFS sets Options.NewFS.
func (k *Kernel) SetNewFS(fn func(fstype, data string) (vfs.Inode, error)) { k.opts.NewFS = fn }

// NewFS makes a filesystem for mount(2) (see Options.NewFS).
func (k *Kernel) NewFS(fstype, data string) (vfs.Inode, error) {
	if k.opts.NewFS == nil {
		return nil, unix.ENODEV
	}
	return k.opts.NewFS(fstype, data)
}

// NewUnlinkedFile makes a file for memfd_create (see Options.NewUnlinked).
func (k *Kernel) NewUnlinkedFile(ctx vfs.Context, mode uint32, sealable bool) (vfs.FileImpl, error) {
	if k.opts.NewUnlinked == nil {
		return nil, unix.ENOSYS
	}
	return k.opts.NewUnlinked(ctx, mode, sealable)
}

// Mounts returns the sandbox's first mount namespace (its init's).
func (k *Kernel) Mounts() *vfs.MountNamespace { return k.opts.Mounts }

// MemoryFile returns the memory file.
func (k *Kernel) MemoryFile() *memory.File { return k.opts.MemFile }

// Net returns the sandbox's network stack (nil: no internet sockets).
func (k *Kernel) Net() inet.Network { return k.opts.Net }

// Utsname returns the system identification.
func (k *Kernel) Utsname() Utsname {
	k.utsMu.Lock()
	defer k.utsMu.Unlock()
	return k.uts
}

// SetHostname changes the host name (sethostname(2)), or with domain set
// the NIS domain name (setdomainname(2)): EPERM without CAP_SYS_ADMIN.
func (t *Task) SetHostname(name string, domain bool) error {
	if !t.HasCapability(linux.CAP_SYS_ADMIN) {
		return unix.EPERM
	}
	k := t.k
	k.utsMu.Lock()
	defer k.utsMu.Unlock()
	if domain {
		k.uts.Domainname = name
	} else {
		k.uts.Nodename = name
	}
	return nil
}

// SetUTSNames sets the host name (if not "") and the domain name (if not
// nil) from outside the sandbox (an OCI config's sysctls).
func (k *Kernel) SetUTSNames(host string, domain *string) {
	k.utsMu.Lock()
	defer k.utsMu.Unlock()
	if host != "" {
		k.uts.Nodename = host
	}
	if domain != nil {
		k.uts.Domainname = *domain
	}
}

// Uptime returns how long the sandbox has run.
func (k *Kernel) Uptime() time.Duration { return time.Since(k.start) }

// Log returns the sentry's logger.
func (k *Kernel) Log() *slog.Logger { return k.log }

// ProcessArgs describe the first process of a sandbox.
type ProcessArgs struct {
	Path  string // resolved in the sandbox
	Argv  []string
	Envv  []string
	Cwd   string
	Stdio [3]*vfs.FileDescription
	UID   uint32
	GID   uint32
	// Terminal, if not nil, is the controlling terminal of the first
	// process (which leads its session); its session and foreground group
	// are the caller's to set (init's pid, 1).
	Terminal Terminal
	// Creds, if not nil, are the process's credentials (ids, groups,
	// capabilities) instead of InitialCredentials(UID, GID).
	Creds *Credentials
	// Rlimits override the default resource limits (by RLIMIT_*).
	Rlimits map[int]Rlimit
	// NoNewPrivs sets the no_new_privs bit, as prctl(PR_SET_NO_NEW_PRIVS).
	NoNewPrivs bool
	// Mounts, if not nil, is the process's mount namespace instead of
	// the sandbox's first (a container of a pod, with its own root).
	Mounts *vfs.MountNamespace
	// Container names the container of a pod the process belongs to;
	// its descendants inherit it (Task.Container).
	Container string
	// Umask, if not nil, is the process's file mode creation mask
	// instead of 022.
	Umask *uint32
	// OOMScoreAdj is the process's /proc/PID/oom_score_adj.
	OOMScoreAdj int
	// Seccomp, if not nil, is a seccomp filter program (oci/seccomp's
	// Build) the first process starts under, as if it had installed it
	// itself with seccomp(2) before its first instruction.
	Seccomp []linux.SockFilter
	// Ignored is a mask (SigBit) of signals the process starts with
	// ignored, as a program execed by a process that ignores them does
	// (nohup's SIGHUP, the SIGINT of a background job). SIGKILL and
	// SIGSTOP cannot be ignored and are left out.
	Ignored uint64
}

// ExitStatus is how a process ended.
type ExitStatus struct {
	Code   int         // exit code, if Signal is 0
	Signal unix.Signal // the signal that killed it, or 0
}

// ShellCode returns the status as a shell reports it: the exit code, or
// 128 + the signal number.
func (s ExitStatus) ShellCode() int {
	if s.Signal != 0 {
		return 128 + int(s.Signal)
	}
	return s.Code
}

// Run starts the sandbox's first process and waits for it to end. Load
// errors (no such file, not an executable) are returned before anything
// runs.
func (k *Kernel) Run(pa ProcessArgs) (ExitStatus, error) {
	p, err := k.Load(pa)
	if err != nil {
		return ExitStatus{}, err
	}
	p.Start()
	return p.Wait(), nil
}

// ExitsWithInit says the sentry process exits as soon as the sandbox's
// init has (moat run): init's exit then abandons the memory file
// (memory.File.Abandon), whose memory the process's exit frees at once,
// instead of returning init's and the remaining processes' memory range
// by range.
func (k *Kernel) ExitsWithInit() { k.exitsWithInit.Store(true) }

// addTaskLocked enters t in the task table.
//
// Preconditions: Kernel.mu is held.
func (k *Kernel) addTaskLocked(t *Task) {
	k.tasks[t.tid] = t
	if len(k.tasks) > 1 {
		k.manyTasks.Store(true)
	}
}

// newTask allocates the first task.
func (k *Kernel) newTask(pa ProcessArgs) *Task {
	k.mu.Lock()
	defer k.mu.Unlock()
	tid := k.nextTID
	k.nextTID++
	t := &Task{
		k:          k,
		tid:        tid,
		exitSignal: unix.SIGCHLD,
		pgid:       tid,
		sid:        tid,
		dumpable:   true,
		interrupt:  make(chan struct{}),
		sigNotify:  make(chan struct{}, 1),
		children:   make(map[*Task]struct{}),
		creds:      InitialCredentials(pa.UID, pa.GID),
		noNewPrivs: pa.NoNewPrivs,
		container:  pa.Container,
		fds:        vfs.NewFDTable(),
		limits:     defaultLimits(),
		sig:        &signalHandlers{},
		ctty:       pa.Terminal,
	}
	for sig := 1; sig <= NumSignals; sig++ {
		if pa.Ignored&SigBit(sig)&^unblockable != 0 {
			t.sig.actions[sig-1].Handler = SigIgn
		}
	}
	if pa.Creds != nil {
		t.creds = *pa.Creds
		t.creds.Groups = slices.Clone(pa.Creds.Groups)
	}
	for r, v := range pa.Rlimits {
		if r >= 0 && r < numRlimits {
			t.limits.l[r] = v
		}
	}
	t.limits.oomScoreAdj = int32(max(-1000, min(1000, pa.OOMScoreAdj)))
	t.leader = t
	t.threads = make(map[*Task]struct{})
	k.addTaskLocked(t)
	return t
}

// Task returns the task with the given tid, or nil.
func (k *Kernel) Task(tid int32) *Task {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.tasks[tid]
}

// TIDs lists the processes (thread group leaders).
func (k *Kernel) TIDs() []int32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []int32
	for tid, t := range k.tasks {
		if t.leader == t {
			out = append(out, tid)
		}
	}
	return out
}

// loaderArgs fills in the parts of loader.Args the kernel knows.
func (k *Kernel) loaderArgs(t *Task, path string, argv, envv []string) loader.Args {
	a := loader.Args{
		Argv: argv, Envv: envv, ExecFn: path,
		UID: t.creds.UID, EUID: t.creds.EUID, GID: t.creds.GID, EGID: t.creds.EGID,
		HWCap: k.opts.HWCap, HWCap2: k.opts.HWCap2, Platform: "x86_64", MinSigStkSz: k.opts.MinSigStkSz,
		VDSO: k.vdso,
	}
	rand.Read(a.Random[:])
	a.OpenInterp = func(path string) (mm.MappableFile, error) {
		f, _, err := t.openExecutable(path)
		if err != nil {
			return nil, err
		}
		defer f.DecRef()
		return mappable(t, f), nil
	}
	return a
}
