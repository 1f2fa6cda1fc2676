package syscalls

import (
	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/kernel"
)

func sysClone(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	// x86-64 argument order: flags, stack, parent_tid, child_tid, tls.
	flags := uint64(a[0])
	pid, err := t.Clone(kernel.CloneArgs{
		Flags: flags &^ 0xff, Stack: a[1], ParentTID: a[2], ChildTID: a[3], TLS: a[4],
		ExitSignal: unix.Signal(flags & 0xff),
	})
	return uintptr(pid), err
}

func sysFork(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	pid, err := t.Clone(kernel.CloneArgs{ExitSignal: unix.SIGCHLD})
	return uintptr(pid), err
}

func sysVfork(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	pid, err := t.Clone(kernel.CloneArgs{Flags: kernel.CloneVM | kernel.CloneVfork, ExitSignal: unix.SIGCHLD})
	return uintptr(pid), err
}

// cloneArgsSizeVer0 is the smallest struct clone_args.
const cloneArgsSizeVer0 = 64

func sysClone3(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	size := a[1]
	if size < cloneArgsSizeVer0 || size > 4096 {
		return 0, unix.EINVAL
	}
	b := make([]byte, size)
	if err := copyIn(t, a[0], b); err != nil {
		return 0, err
	}
	for _, x := range b[min(size, 88):] { // fields we do not know must be zero
		if x != 0 {
			return 0, unix.E2BIG
		}
	}
	flags, childTID, parentTID := le.Uint64(b[0:]), le.Uint64(b[16:]), le.Uint64(b[24:])
	exitSignal, stack, stackSize, tls := le.Uint64(b[32:]), le.Uint64(b[40:]), le.Uint64(b[48:]), le.Uint64(b[56:])
	if flags&0xff != 0 || exitSignal > kernel.NumSignals {
		return 0, unix.EINVAL
	}
	if size >= 80 && le.Uint64(b[72:]) != 0 { // set_tid_size
		return 0, unix.EPERM // support: choosing the child's pid is not offered
	}
	if (stack == 0) != (stackSize == 0) {
		return 0, unix.EINVAL
	}
	sp := uintptr(0)
	if stack != 0 {
		sp = uintptr(stack + stackSize)
	}
	pid, err := t.Clone(kernel.CloneArgs{
		Flags: flags, Stack: sp, ParentTID: uintptr(parentTID), ChildTID: uintptr(childTID),
		TLS: uintptr(tls), ExitSignal: unix.Signal(exitSignal),
	})
	return uintptr(pid), err
}

// maxArgStrLen is MAX_ARG_STRLEN: one argument or environment string.
const maxArgStrLen = 32 * 4096

// maxArgTotal bounds argv plus envp as execve copies them in (the loader
// applies Linux's stack-based limit, E2BIG, to the result).
const maxArgTotal = 8 << 20

// copyInStrings reads a NULL-terminated array of string pointers.
func copyInStrings(t *kernel.Task, addr uintptr, total *int) ([]string, error) {
	var out []string
	if addr == 0 {
		return nil, nil
	}
	for i := uintptr(0); ; i++ {
		p, err := getU64(t, addr+8*i)
		if err != nil {
			return nil, err
		}
		if p == 0 {
			return out, nil
		}
		s, err := t.CopyInString(uintptr(p), maxArgStrLen-1)
		if err == unix.ENAMETOOLONG {
			return nil, unix.E2BIG
		}
		if err != nil {
			return nil, unix.EFAULT
		}
		*total += len(s) + 1 + 8
		if *total > maxArgTotal {
			return nil, unix.E2BIG
		}
		out = append(out, s)
	}
}

// execve reads execve's arguments and runs the program at path relative
// to dirfd (execveat's flags).
func execve(t *kernel.Task, dirfd int32, pathAddr, argvAddr, envpAddr uintptr, flags int) (uintptr, error) {
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	total := 0
	argv, err := copyInStrings(t, argvAddr, &total)
	if err != nil {
		return 0, err
	}
	envv, err := copyInStrings(t, envpAddr, &total)
	if err != nil {
		return 0, err
	}
	if path == "" && flags&unix.AT_EMPTY_PATH == 0 {
		return 0, unix.ENOENT
	}
	return 0, t.ExecveAt(dirfd, path, flags, argv, envv)
}

func sysExecve(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return execve(t, unix.AT_FDCWD, a[0], a[1], a[2], 0)
}

func sysExecveat(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	flags := int(a[4])
	if flags&^(unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW) != 0 {
		return 0, unix.EINVAL
	}
	return execve(t, int32(a[0]), a[1], a[2], a[3], flags)
}

// waitOptionsKnown are the options wait4 accepts.
const waitOptionsKnown = kernel.WNOHANG | kernel.WUNTRACED | kernel.WCONTINUED | kernel.WNOTHREAD | kernel.WALL | kernel.WCLONE

func sysWait4(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	pid, statusAddr, options, rusage := int32(a[0]), a[1], uint32(a[2]), a[3]
	if options&^waitOptionsKnown != 0 {
		return 0, unix.EINVAL
	}
	if pid == -1<<31 {
		return 0, unix.ESRCH
	}
	r, err := t.Wait(pid, options|kernel.WEXITED)
	if err != nil {
		return 0, err
	}
	if r.PID != 0 && statusAddr != 0 {
		if err := putU32(t, statusAddr, r.WaitStatus()); err != nil {
			return 0, err
		}
	}
	if rusage != 0 {
		if err := copyOut(t, rusage, encodeRusage(r.CPU)); err != nil {
			return 0, err
		}
	}
	return uintptr(r.PID), nil
}

// waitid id types and child codes.
const (
	pAll  = 0
	pPID  = 1
	pPGID = 2

	cldExited    = 1
	cldKilled    = 2
	cldDumped    = 3
	cldStopped   = 5
	cldContinued = 6

	wStopped = 0x2 // WSTOPPED == WUNTRACED
)

func sysWaitid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	idtype, id, infop, options, rusage := int(a[0]), int32(a[1]), a[2], uint32(a[3]), a[4]
	if options&^(kernel.WNOHANG|kernel.WEXITED|wStopped|kernel.WCONTINUED|kernel.WNOWAIT|kernel.WNOTHREAD|kernel.WALL|kernel.WCLONE) != 0 ||
		options&(kernel.WEXITED|wStopped|kernel.WCONTINUED) == 0 {
		return 0, unix.EINVAL
	}
	pid := int32(-1)
	switch idtype {
	case pAll:
	case pPID:
		if id <= 0 {
			return 0, unix.EINVAL
		}
		pid = id
	case pPGID:
		if id < 0 {
			return 0, unix.EINVAL
		}
		pid = -id // wait's encoding: 0 is the caller's group, -g group g
		if id == 1 {
			pid = -1 << 31 // group 1 cannot be written as -1 (any child)
		}
	default:
		return 0, unix.EINVAL
	}
	r, err := t.Wait(pid, options)
	if err != nil {
		return 0, err
	}
	if infop != 0 {
		si := make([]byte, 128)
		if r.PID != 0 {
			le.PutUint32(si[0:], uint32(unix.SIGCHLD))
			code, status := int32(cldExited), int32(r.Status.Code)
			switch {
			case r.Stopped != 0:
				code, status = cldStopped, int32(r.Stopped)
			case r.Continued:
				code, status = cldContinued, int32(unix.SIGCONT)
			case r.Status.Signal != 0:
				code, status = cldKilled, int32(r.Status.Signal)
			}
			le.PutUint32(si[8:], uint32(code))
			le.PutUint32(si[16:], uint32(r.PID))
			le.PutUint32(si[20:], r.UID)
			le.PutUint32(si[24:], uint32(status))
		}
		if err := copyOut(t, infop, si); err != nil {
			return 0, err
		}
	}
	if rusage != 0 {
		if err := copyOut(t, rusage, encodeRusage(r.CPU)); err != nil {
			return 0, err
		}
	}
	return 0, nil
}
