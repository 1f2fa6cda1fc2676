package boot

import (
	"fmt"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"moat/fs/proc"
	"moat/kernel"
	"moat/vfs"
)

// procKernel shows the kernel's processes to /proc.
type procKernel struct{ k *kernel.Kernel }

func (p procKernel) Process(pid int32) proc.Process {
	t := p.k.Task(pid)
	if t == nil || t.MM() == nil {
		return nil
	}
	return procProcess{t}
}

func (p procKernel) PIDs() []int32         { return p.k.TIDs() }
func (p procKernel) Uptime() time.Duration { return p.k.Uptime() }

// procProcess shows one task as a process.
type procProcess struct{ t *kernel.Task }

// maxProcArgs bounds what /proc/PID/cmdline and environ read from the app.
const maxProcArgs = 128 << 10

func (p procProcess) PID() int32   { return p.t.TID() }
func (p procProcess) PPID() int32  { return p.t.PPID() }
func (p procProcess) Comm() string { return p.t.Comm() }

// PGID and SID implement proc.ProcessSession.
func (p procProcess) PGID() int32 { _, pg, _, _ := p.t.JobIDs(); return pg }
func (p procProcess) SID() int32  { _, _, sid, _ := p.t.JobIDs(); return sid }

// Terminal implements proc.ProcessTerminal.
func (p procProcess) Terminal() (uint64, int32, bool) {
	if ct, ok := p.t.ControllingTerminal().(interface{ DeviceAndForeground() (uint64, int32) }); ok {
		dev, fg := ct.DeviceAndForeground()
		return dev, fg, true
	}
	return 0, -1, false
}

func (p procProcess) readRange(start, end uintptr) []byte {
	if end <= start {
		return nil
	}
	b := make([]byte, min(end-start, maxProcArgs))
	n, _ := p.t.MM().CopyIn(start, b)
	return b[:n]
}

func (p procProcess) Cmdline() []byte { return p.readRange(p.t.MM().ArgRange()) }
func (p procProcess) Environ() []byte { return p.readRange(p.t.MM().EnvRange()) }
func (p procProcess) ExePath() string { return p.t.ExePath() }
func (p procProcess) Cwd() string     { return p.t.PathString(p.t.Cwd()) }
func (p procProcess) Maps() string    { return p.t.MM().Maps() }
func (p procProcess) UIDs() [4]uint32 {
	c := p.t.Creds()
	return [4]uint32{c.UID, c.EUID, c.SUID, c.FSUID}
}
func (p procProcess) GIDs() [4]uint32 {
	c := p.t.Creds()
	return [4]uint32{c.GID, c.EGID, c.SGID, c.FSGID}
}
func (p procProcess) Threads() int { return p.t.ThreadCount() }

// Umask implements proc.ProcessCreds.
func (p procProcess) Umask() uint32 { return p.t.Umask() }

// Groups implements proc.ProcessCreds.
func (p procProcess) Groups() []uint32 { return p.t.Creds().Groups }

// Caps implements proc.ProcessCreds.
func (p procProcess) Caps() (inheritable, permitted, effective, bounding, ambient uint64) {
	c := p.t.Creds()
	return c.CapInheritable, c.CapPermitted, c.CapEffective, c.CapBounding, c.CapAmbient
}

// NoNewPrivs implements proc.ProcessSeccomp.
func (p procProcess) NoNewPrivs() bool { return p.t.Flags().NoNewPrivs }

// Seccomp implements proc.ProcessSeccomp.
func (p procProcess) Seccomp() (mode, filters int) { return p.t.Seccomp() }

func (p procProcess) VMSizeKB() uint64 {
	total, _ := p.t.MM().VirtualSize()
	return total / 1024
}
func (p procProcess) VMRSSKB() uint64 {
	_, backed := p.t.MM().VirtualSize()
	return backed / 1024
}
func (p procProcess) State() byte { return p.t.State() }

// StartTime implements proc.ProcessTimes.
func (p procProcess) StartTime() time.Duration { return p.t.StartTime() }

// CPUTime implements proc.ProcessTimes.
func (p procProcess) CPUTime() (user, sys time.Duration) {
	u := p.t.ProcessCPU()
	return u.User, u.Sys
}

// FDTableSize implements proc.ProcessFDTable.
func (p procProcess) FDTableSize() int { return p.t.FDs().Size() }

func (p procProcess) FDs() []proc.FDInfo {
	var out []proc.FDInfo
	fds := p.t.FDs()
	for _, fd := range fds.Fds() {
		f, err := fds.Get(fd)
		if err != nil {
			continue
		}
		info := proc.FDInfo{FD: fd, Flags: f.Flags()}
		if f.Path().Dentry != nil {
			info.Target = p.t.PathString(f.Path())
		} else if impl, ok := f.Impl().(interface{ Name() string }); ok {
			info.Target = impl.Name()
		}
		f.DecRef()
		out = append(out, info)
	}
	return out
}

// File implements proc.FileOpener.
func (p procProcess) File(fd int32) *vfs.FileDescription {
	f, err := p.t.FDs().Get(fd)
	if err != nil {
		return nil
	}
	return f
}

// ThreadIDs implements proc.ProcessThreads.
func (p procProcess) ThreadIDs() []int32 { return p.t.ThreadIDs() }

// Thread implements proc.ProcessThreads.
func (p procProcess) Thread(tid int32) proc.Process {
	th := p.t.Kernel().Task(tid)
	if th == nil || th.TGID() != p.t.TGID() {
		return nil
	}
	return procThread{procProcess{th}}
}

// procThread shows one thread: its CPU time is its own.
type procThread struct{ procProcess }

// CPUTime implements proc.ProcessTimes.
func (p procThread) CPUTime() (user, sys time.Duration) {
	u := p.t.ThreadCPU()
	return u.User, u.Sys
}

// SetComm implements proc.CommSetter (/proc/PID/task/TID/comm, which
// pthread_setname_np writes for other threads).
func (p procThread) SetComm(name string) { p.t.SetComm(name) }

// OOMScoreAdj implements proc.ProcessOOMScoreAdj.
func (p procProcess) OOMScoreAdj() int { return p.t.Limits().OOMScoreAdj() }

// SetOOMScoreAdj implements proc.ProcessOOMScoreAdj.
func (p procProcess) SetOOMScoreAdj(v int) { p.t.Limits().SetOOMScoreAdj(v) }

// Rlimits implements proc.ProcessLimits.
func (p procProcess) Rlimits() [16]proc.Rlimit {
	var out [16]proc.Rlimit
	l := p.t.Limits()
	for i := range out {
		r := l.Get(i)
		out[i] = proc.Rlimit{Cur: r.Cur, Max: r.Max}
	}
	return out
}

// FDDetail implements proc.ProcessFDDetails.
func (p procProcess) FDDetail(fd int32) (proc.FDDetail, bool) {
	fds := p.t.FDs()
	f, err := fds.Get(fd)
	if err != nil {
		return proc.FDDetail{}, false
	}
	defer f.DecRef()
	var d proc.FDDetail
	d.CloExec, _ = fds.CloseOnExec(fd)
	st, err := f.Stat(rootCtx{})
	if err == nil {
		d.Ino = st.Ino
	}
	// The offset, for files that have one; a directory's is skipped:
	// seeking it would reset its listing.
	if err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR && !f.IsStream() && f.Flags()&unix.O_PATH == 0 {
		if pos, err := f.Seek(rootCtx{}, 0, unix.SEEK_CUR); err == nil {
			d.Pos = pos
		}
	}
	if f.Path().Dentry != nil {
		d.MntID = f.Path().Mount.ID()
	}
	return d, true
}

// callerMounts returns the mount namespace and root of the caller ctx
// (a task), or the sandbox's first namespace and its root.
func callerMounts(ctx vfs.Context, ns *vfs.MountNamespace) (*vfs.MountNamespace, vfs.Path) {
	if t, ok := ctx.(*kernel.Task); ok {
		return t.MountNamespace(), t.Root()
	}
	return ns, ns.Root()
}

// mountinfoText is /proc/PID/mountinfo for the caller's namespace, as
// seen from its root: mount ids, parent ids (the namespace root's parent
// is an id not listed, as in a container), the device of the mounted
// root, and no optional fields.
func mountinfoText(ctx vfs.Context, ns *vfs.MountNamespace) string {
	var b strings.Builder
	ns, root := callerMounts(ctx, ns)
	for _, m := range ns.Mounts(root) {
		var dev uint64
		if st, err := m.Root.Inode().Stat(rootCtx{}); err == nil {
			dev = st.Dev
		}
		opt := "rw"
		if m.ReadOnly {
			opt = "ro"
		}
		// The mount's root within its filesystem: a bind mount of a host
		// directory shows the host path, as Linux does for a bind of a
		// directory of the host's root filesystem.
		root := "/"
		if m.FSType == "bind" && path.IsAbs(m.Source) {
			root = path.Clean(m.Source)
		}
		fmt.Fprintf(&b, "%d %d %d:%d %s %s %s,relatime - %s %s %s\n", m.ID, m.ParentID,
			unix.Major(dev), unix.Minor(dev), escapeMountPath(root), escapeMountPath(m.Target), opt, m.FSType, escapeMountPath(m.Source), opt)
	}
	return b.String()
}

// escapeMountPath escapes a path for mountinfo as Linux does: space, tab,
// newline and backslash as octal escapes.
func escapeMountPath(s string) string {
	return strings.NewReplacer(" ", `\040`, "\t", `\011`, "\n", `\012`, `\`, `\134`).Replace(s)
}

// SigQueue implements proc.ProcessSignals.
func (p procProcess) SigQueue() (queued, limit uint64) { return p.t.SigQueue() }

// SigMasks implements proc.ProcessSignals.
func (p procProcess) SigMasks() (pending, sharedPending, blocked, ignored, caught uint64) {
	return p.t.SigMasks()
}
