package kernel

import (
	"golang.org/x/sys/unix"

	"moat/vfs"
)

// execve from a thread other than the main one. Linux ends every other
// thread and the exec'ing thread takes over the process's pid. moat keeps
// process state on the leader's Task, so the roles are turned around with
// the same visible result: the exec'ing thread hands the opened program,
// its credentials and its signal mask to the leader, ends the other
// threads and itself, and the leader (same pid) runs the exec as if the
// thread had made it. A load failure found then, past the point of no
// return, kills the process, as Linux does.

// execRequest is an execve a thread handed to its leader.
type execRequest struct {
	f              *vfs.FileDescription
	realPath, path string
	argv, envv     []string
	creds          Credentials
	sigMask        uint64
	seccomp        *seccompState // the thread's, which the process keeps
}

// execFromThread hands req to t's leader and ends t.
func (t *Task) execFromThread(req *execRequest) error {
	k := t.k
	l := t.leader
	k.mu.Lock()
	switch {
	case l.leaderDone:
		k.mu.Unlock()
		req.f.DecRef()
		return unix.ENOSYS // support: execve after the main thread has exited (pthread_exit) is not implemented
	case l.groupExit || l.execReq != nil:
		// The process is ending, or another thread's execve is about
		// to end this one: this thread goes.
		k.mu.Unlock()
		req.f.DecRef()
		return t.Exit(0)
	}
	t.mu.Lock()
	req.creds, req.sigMask = t.creds, t.sigMask
	t.mu.Unlock()
	req.seccomp = t.seccomp.Load()
	l.execReq = req
	var others []*Task
	for o := range l.threads {
		if o != t {
			others = append(others, o)
		}
	}
	k.mu.Unlock()
	for _, o := range others {
		o.stop()
	}
	l.execPending.Store(true)
	l.wake()
	return t.Exit(0)
}

// runExecRequest carries out an execve a thread handed to t, the leader,
// once t has left app code or its system call.
func (t *Task) runExecRequest() {
	k := t.k
	k.mu.Lock()
	req := t.execReq
	t.execReq = nil
	if req != nil {
		t.seccomp.Store(req.seccomp)
	}
	k.mu.Unlock()
	t.execPending.Store(false)
	if req == nil {
		return
	}
	defer req.f.DecRef()
	t.restart = 0 // whatever the leader was doing is abandoned
	t.mu.Lock()
	t.creds, t.sigMask, t.savedMask = req.creds, req.sigMask, nil
	t.mu.Unlock()
	if err := t.execOpened(req.f, req.realPath, req.path, req.argv, req.envv); err != nil {
		t.k.log.Debug("execve handed over by a thread failed past the point of no return", "pid", t.tid, "err", err)
		t.exitWithSignal(unix.SIGKILL)
	}
}
