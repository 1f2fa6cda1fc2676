package kernel

import (
	"sync"

	"golang.org/x/sys/unix"

	"moat/abi/linux"
)

// RLimInfinity is RLIM_INFINITY.
const RLimInfinity = ^uint64(0)

// Rlimit is one resource limit.
type Rlimit struct{ Cur, Max uint64 }

// numRlimits is RLIM_NLIMITS.
const numRlimits = 16

// Limits are a process's resource limits.
type Limits struct {
	mu sync.Mutex
	l  [numRlimits]Rlimit
	// oomScoreAdj is /proc/PID/oom_score_adj, which Linux keeps with the
	// limits (signal_struct): shared by threads, copied by fork. moat
	// has no OOM killer; the value is only kept.
	oomScoreAdj int32
}

// defaultLimits are what a process in a fresh container gets.
func defaultLimits() *Limits {
	l := &Limits{}
	for i := range l.l {
		l.l[i] = Rlimit{RLimInfinity, RLimInfinity}
	}
	l.l[unix.RLIMIT_STACK] = Rlimit{8 << 20, RLimInfinity}
	l.l[unix.RLIMIT_NOFILE] = Rlimit{1024, 1 << 20}
	l.l[unix.RLIMIT_CORE] = Rlimit{0, RLimInfinity}
	l.l[unix.RLIMIT_NPROC] = Rlimit{1 << 15, 1 << 15}
	l.l[unix.RLIMIT_MEMLOCK] = Rlimit{8 << 20, 8 << 20}
	l.l[unix.RLIMIT_SIGPENDING] = Rlimit{1 << 15, 1 << 15}
	l.l[unix.RLIMIT_MSGQUEUE] = Rlimit{819200, 819200}
	l.l[unix.RLIMIT_RTPRIO] = Rlimit{0, 0}
	l.l[13] = Rlimit{0, 0} // RLIMIT_NICE
	return l
}

// Get returns limit r (which must be < 16).
func (l *Limits) Get(r int) Rlimit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.l[r]
}

// Set changes limit r as setrlimit(2) does: EINVAL if cur > max, EPERM if
// raising the hard limit without privilege. The sandbox's root may raise
// hard limits (it has CAP_SYS_RESOURCE inside), except RLIMIT_NOFILE beyond
// nr_open.
func (l *Limits) Set(r int, v Rlimit, privileged bool) (Rlimit, error) {
	if v.Cur > v.Max {
		return Rlimit{}, unix.EINVAL
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.l[r]
	if v.Max > old.Max && !privileged {
		return Rlimit{}, unix.EPERM
	}
	if r == unix.RLIMIT_NOFILE && v.Max > 1<<20 {
		return Rlimit{}, unix.EPERM
	}
	l.l[r] = v
	return old, nil
}

// Limits returns the task's resource limits.
func (t *Task) Limits() *Limits { return t.limits }

// FileSizeLimit implements vfs.FileSizeLimiter: t's RLIMIT_FSIZE.
func (t *Task) FileSizeLimit() uint64 { return t.limits.Get(unix.RLIMIT_FSIZE).Cur }

// copy returns an independent copy (fork).
func (l *Limits) copy() *Limits {
	l.mu.Lock()
	defer l.mu.Unlock()
	return &Limits{l: l.l, oomScoreAdj: l.oomScoreAdj}
}

// OOMScoreAdj returns the process's oom_score_adj.
func (l *Limits) OOMScoreAdj() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.oomScoreAdj)
}

// SetOOMScoreAdj sets the process's oom_score_adj (in [-1000, 1000]).
func (l *Limits) SetOOMScoreAdj(v int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.oomScoreAdj = int32(max(-1000, min(1000, v)))
}

// maxTasks bounds the tasks of one sandbox whatever the app's limits and
// privileges, as a PID namespace's pid_max does: a root fork bomb gets
// EAGAIN instead of exhausting the host. Each live task holds a sentry OS
// thread, so the Go runtime's thread limit (10000 by default, past which
// it aborts the whole sentry) is raised above it (maxSentryThreads).
const maxTasks = 1 << 14

// maxSentryThreads is the sentry's OS thread limit: a thread per task,
// and room for the runtime's own and for system calls blocked in the host.
const maxSentryThreads = maxTasks + 4096

// checkNprocLocked fails with EAGAIN when t may not create another task:
// the sandbox is full, or t's real user already has RLIMIT_NPROC tasks
// (zombies included, as Linux counts them until they are reaped). Root,
// CAP_SYS_RESOURCE and CAP_SYS_ADMIN are exempt from RLIMIT_NPROC, as
// Linux exempts the initial user and those capabilities.
//
// Preconditions: Kernel.mu is held.
func (t *Task) checkNprocLocked() error {
	k := t.k
	if len(k.tasks) >= maxTasks {
		return unix.EAGAIN
	}
	c := t.Creds()
	uid := c.UID
	if uid == 0 || c.HasCap(linux.CAP_SYS_RESOURCE) || c.HasCap(linux.CAP_SYS_ADMIN) {
		return nil
	}
	limit := t.limits.Get(unix.RLIMIT_NPROC).Cur
	if limit >= uint64(maxTasks) {
		return nil
	}
	n := uint64(0)
	for _, o := range k.tasks {
		if o.Creds().UID == uid {
			n++
		}
	}
	if n >= limit {
		return unix.EAGAIN
	}
	return nil
}
