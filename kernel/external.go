package kernel

import (
	"time"

	"golang.org/x/sys/unix"
)

// Processes started and controlled from outside the sandbox: its init and
// the processes a container engine execs into it (moat's OCI runtime).
// They have no parent inside the sandbox, like processes entering a PID
// namespace with setns(2): when one exits it is reaped at once and its
// status goes to whoever started it.

// Process is a process started from outside: loaded by Load, running
// once Start is called.
type Process struct {
	t       *Task
	gate    chan struct{} // closed by Start
	exited  chan struct{} // closed when status is set
	status  ExitStatus
	started bool
}

// Load creates a process and loads its program, without running it: the
// first one becomes the sandbox's init (pid 1). Load errors (no such
// file, not an executable) are returned as *UserError.
func (k *Kernel) Load(pa ProcessArgs) (*Process, error) {
	t := k.newTask(pa)
	p := &Process{t: t, gate: make(chan struct{}), exited: make(chan struct{})}
	started := make(chan error, 1)
	done := make(chan ExitStatus, 1)
	go t.main(pa, started, p.gate, done)
	if err := <-started; err != nil {
		return nil, err
	}
	go func() {
		p.status = <-done
		close(p.exited)
	}()
	return p, nil
}

// PID returns the process's pid in the sandbox.
func (p *Process) PID() int32 { return p.t.tid }

// Start lets the process run its first instruction. Only the first call
// has an effect.
func (p *Process) Start() {
	if !p.started {
		p.started = true
		close(p.gate)
	}
}

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Wait waits for the process to end and returns how it ended.
func (p *Process) Wait() ExitStatus {
	<-p.exited
	return p.status
}

// SignalFromOutside sends sig to process pid as a process outside the
// sandbox's PID namespace would (kill(2) from the host, as a container
// engine's kill does). The sandbox's init gets only the signals it
// handles or blocks, and SIGKILL and SIGSTOP, which are always delivered
// from an ancestor namespace. ESRCH if there is no such process.
func (k *Kernel) SignalFromOutside(pid int32, sig unix.Signal) error {
	k.mu.Lock()
	t := k.tasks[pid]
	if t == nil || t.leader != t || t.zombie || t.leader.groupExit {
		k.mu.Unlock()
		return unix.ESRCH
	}
	k.mu.Unlock()
	switch {
	case sig == 0:
	case sig == unix.SIGKILL:
		t.kill(sig)
	case sig != unix.SIGSTOP && t.dropsForInit(sig):
	default:
		t.queueGroupSignal(SigInfo{Signo: int32(sig), Code: SIUser})
	}
	return nil
}

// Container returns the container of a pod that t's process belongs to
// (ProcessArgs.Container of the process it descends from).
func (t *Task) Container() string { return t.leader.container }

// Processes lists the live processes (thread group leaders), in no order.
func (k *Kernel) Processes() []*Task {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []*Task
	for _, t := range k.tasks {
		if t.leader == t && !t.zombie {
			out = append(out, t)
		}
	}
	return out
}

// Freeze stops every task before it next runs app code, as the cgroup
// freezer does for a paused container: tasks in app code are kicked out
// of it, tasks blocked in a system call park when the call returns. No
// signal is sent and no parent is told: a frozen process does not know
// it was frozen. Freeze returns when no task is running app code (or
// after a second, for a task that the platform cannot kick at once).
func (k *Kernel) Freeze() {
	k.mu.Lock()
	if k.thaw == nil {
		k.thaw = make(chan struct{})
		k.frozen.Store(true)
	}
	var all []*Task
	for _, t := range k.tasks {
		if !t.zombie {
			all = append(all, t)
		}
	}
	k.mu.Unlock()
	for _, t := range all {
		t.wake()
	}
	deadline := time.Now().Add(time.Second)
	for _, t := range all {
		for t.inApp.Load() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
}

// Thaw lets frozen tasks run again.
func (k *Kernel) Thaw() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.thaw != nil {
		k.frozen.Store(false)
		close(k.thaw)
		k.thaw = nil
	}
}

// Frozen reports whether the sandbox is frozen.
func (k *Kernel) Frozen() bool { return k.frozen.Load() }

// parkFrozen blocks t while the sandbox is frozen. It returns false when
// t is killed meanwhile.
func (t *Task) parkFrozen() bool {
	return t.parkWhile(func() chan struct{} { return t.k.thaw })
}
