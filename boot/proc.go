package boot

import (
	"time"

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
func (p procProcess) Cwd() string     { return p.t.Kernel().Mounts().PathString(p.t.Cwd()) }
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

func (p procProcess) FDs() []proc.FDInfo {
	var out []proc.FDInfo
	fds := p.t.FDs()
	ns := p.t.Kernel().Mounts()
	for _, fd := range fds.Fds() {
		f, err := fds.Get(fd)
		if err != nil {
			continue
		}
		info := proc.FDInfo{FD: fd, Flags: f.Flags()}
		if f.Path().Dentry != nil {
			info.Target = ns.PathString(f.Path())
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
