package kernel

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"moat/loader"
	"moat/mm"
	"moat/platform"
	"moat/vfs"
)

// Exec limits, as Linux's.
const (
	// binprmBufSize is how much of a file execve reads to recognize it;
	// a #! line longer than that is cut.
	binprmBufSize = 256
	// maxInterpDepth bounds nested #! scripts: Linux runs up to five
	// levels of scripts before the final ELF, and fails with ELOOP beyond.
	maxInterpDepth = 5
)

// openProgram opens the program at path to run with argv: an ELF file,
// or for a #! script its interpreter, with argv rewritten as Linux does
// (the interpreter, its optional argument and the script's path replace
// argv[0]), through at most maxInterpDepth levels of scripts (ELOOP).
func (t *Task) openProgram(path string, argv []string) (f *vfs.FileDescription, realPath, execPath string, execArgv []string, err error) {
	return t.openProgramAt(unix.AT_FDCWD, path, 0, argv)
}

// openProgramAt is openProgram for execveat: the program is path relative
// to dirfd, with its flags. Its name, as the loader and a script's
// interpreter see it, is /dev/fd/N or /dev/fd/N/path for a relative path,
// as on Linux.
func (t *Task) openProgramAt(dirfd int32, path string, flags int, argv []string) (f *vfs.FileDescription, realPath, execPath string, execArgv []string, err error) {
	f, realPath, err = t.openExecutableAt(dirfd, path, flags)
	if dirfd != unix.AT_FDCWD && (path == "" || path[0] != '/') {
		name := fmt.Sprintf("/dev/fd/%d", dirfd)
		if path != "" {
			name += "/" + path
		}
		path = name
	}
	for depth := 0; err == nil; depth++ {
		var interp string
		var interpArgs []string
		interp, interpArgs, err = scriptInterp(t, f)
		if err != nil || interp == "" {
			break
		}
		f.DecRef()
		if depth == maxInterpDepth {
			return nil, "", "", nil, unix.ELOOP
		}
		argv = append(append(append([]string{interp}, interpArgs...), path), argv[min(1, len(argv)):]...)
		path = interp
		f, realPath, err = t.openExecutable(interp)
	}
	if err != nil {
		if f != nil {
			f.DecRef()
		}
		return nil, "", "", nil, err
	}
	return f, realPath, path, argv, nil
}

// Execve replaces the process's program: a new address space with path
// loaded (an ELF, or a #! script run by its interpreter), files marked
// close-on-exec closed, caught signals reset to their default. On failure
// the old program is untouched and the error is execve's errno.
func (t *Task) Execve(path string, argv, envv []string) error {
	return t.ExecveAt(unix.AT_FDCWD, path, 0, argv, envv)
}

// ExecveAt is execveat(2): Execve of path relative to dirfd, with
// AT_EMPTY_PATH and AT_SYMLINK_NOFOLLOW.
func (t *Task) ExecveAt(dirfd int32, path string, flags int, argv, envv []string) error {
	f, realPath, path, argv, err := t.openProgramAt(dirfd, path, flags, argv)
	if err != nil {
		if le, ok := err.(*loader.Error); ok {
			return le.Errno
		}
		return err
	}
	if t.leader != t {
		return t.execFromThread(&execRequest{f: f, realPath: realPath, path: path, argv: argv, envv: envv})
	}
	defer f.DecRef()
	return t.execOpened(f, realPath, path, argv, envv)
}

// execOpened is execve of the opened program f (realPath for
// /proc/PID/exe; path and argv as the loader passes them on).
//
// Preconditions: t is its process's leader.
func (t *Task) execOpened(f *vfs.FileDescription, realPath, path string, argv, envv []string) error {

	k := t.k
	// The new program is loaded into a memory manager of its own, which
	// gets the old program's address space, emptied, once there is no
	// way back (platform.Recycler), or else a new one now.
	rec, recycle := k.opts.Platform.(platform.Recycler)
	recycle = recycle && !t.vmShared
	var m *mm.MemoryManager
	if recycle {
		m = mm.NewDetached(k.opts.MemFile, k.opts.Platform.MaxUserAddress())
	} else {
		as, err := k.opts.Platform.NewAddressSpace()
		if err != nil {
			k.log.Error("execve: cannot create an address space", "err", err)
			return unix.ENOMEM
		}
		m = mm.New(k.opts.MemFile, as, k.opts.Platform.MaxUserAddress())
	}
	m.SetStackLimit(uintptr(t.limits.Get(unix.RLIMIT_STACK).Cur))
	mf := mappable(t, f)
	res, err := loader.Load(m, mf, k.loaderArgs(t, path, argv, envv))
	mf.DecRef()
	if err != nil {
		m.Release()
		if le, ok := err.(*loader.Error); ok {
			return le.Errno
		}
		return unix.ENOEXEC
	}

	// The point of no return. Other threads end first, as Linux's
	// de_thread makes them.
	t.waitThreads(true, nil)
	t.exitRobustList()
	t.deleteTimers()
	t.mu.Lock()
	old, shared := t.mm, t.vmShared
	t.mm, t.vmShared = m, false
	t.exePath = realPath
	t.clearChildTID, t.robustList = 0, 0
	t.creds.execCreds()
	t.mu.Unlock()
	switch {
	case shared:
		leaveSharedVM(old) // the parent's address space goes on
	case recycle:
		if err := t.recycleAddressSpace(rec, old, m); err != nil {
			k.log.Error("execve: the new program has no address space; it is killed", "err", err)
			t.exitWithSignal(unix.SIGKILL)
			return errExit
		}
	default:
		t.accountAddressSpaceGone(old.AddressSpace())
		old.Release()
	}
	if t.fds.Shared() && t.IsLeader() {
		// A table shared with another process (CLONE_FILES) becomes
		// this process's own, as Linux's exec unshares it.
		old := t.fds
		t.mu.Lock()
		t.fds = old.Fork()
		t.mu.Unlock()
		old.Drop()
	}
	t.fds.CloseOnExecFds()
	t.sig.resetCaught()
	t.regs = k.opts.Platform.InitialRegisters(res.Entry, res.SP)
	t.SetComm("")
	k.mu.Lock()
	t.execed = true
	t.endVforkLocked()
	k.mu.Unlock()
	return nil
}

// recycleAddressSpace gives m, loaded but detached, the address space of
// old, the program execve replaces, emptied; if that fails, a new one. The
// address space's CPU time goes on counting, as the process's does.
func (t *Task) recycleAddressSpace(rec platform.Recycler, old, m *mm.MemoryManager) error {
	as := old.AddressSpace()
	if err := rec.Recycle(as); err != nil {
		t.k.log.Debug("execve: cannot reuse the address space; making a new one", "err", err)
		t.accountAddressSpaceGone(as)
		old.Release()
		nas, err := t.k.opts.Platform.NewAddressSpace()
		if err != nil {
			return err
		}
		return m.Attach(nas)
	}
	old.Detach() // its memory; the mappings went with Recycle
	return m.Attach(as)
}

// scriptInterp recognizes a #! script and returns its interpreter and
// optional argument ("" when f is not a script).
func scriptInterp(t *Task, f *vfs.FileDescription) (string, []string, error) {
	buf := make([]byte, binprmBufSize)
	n, err := f.Impl().Read(t, buf, 0)
	if err != nil {
		return "", nil, err
	}
	interp, args, ok := parseShebang(buf[:n])
	if !ok {
		return "", nil, nil
	}
	if interp == "" {
		return "", nil, unix.ENOEXEC
	}
	return interp, args, nil
}

// parseShebang parses the first line of a #! script as Linux does: the
// interpreter is the first word after #!, and everything after it (trimmed)
// is one optional argument.
func parseShebang(buf []byte) (interp string, args []string, ok bool) {
	if !bytes.HasPrefix(buf, []byte("#!")) {
		return "", nil, false
	}
	line := buf[2:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	s := strings.Trim(string(line), " \t")
	if s == "" {
		return "", nil, true
	}
	interp, rest, _ := strings.Cut(strings.ReplaceAll(s, "\t", " "), " ")
	if rest = strings.Trim(rest, " \t"); rest != "" {
		args = []string{rest}
	}
	return interp, args, true
}
