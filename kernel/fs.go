package kernel

import (
	"sync"

	"golang.org/x/sys/unix"

	"moat/loader"
	"moat/mm"
	"moat/platform"
	"moat/vfs"
)

// fsContext is a process's view of the filesystem: its mount namespace,
// root, cwd and umask, shared by its threads (and by processes cloned with
// CLONE_FS). Linux keeps the mount namespace per task; here it goes with
// the root and cwd that are in it, and unshare(CLONE_NEWNS) gives the
// caller its own fsContext, as unsharing CLONE_FS would.
type fsContext struct {
	mu    sync.Mutex
	ns    *vfs.MountNamespace
	root  vfs.Path
	cwd   vfs.Path
	umask uint32
}

// copy returns an independent copy (fork).
func (fs *fsContext) copy() *fsContext {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return &fsContext{ns: fs.ns, root: fs.root, cwd: fs.cwd, umask: fs.umask}
}

// fsCtx returns the task's fsContext, which unshare may replace.
func (t *Task) fsCtx() *fsContext {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fs
}

// MountNamespace returns the task's mount namespace.
func (t *Task) MountNamespace() *vfs.MountNamespace {
	fs := t.fsCtx()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.ns
}

// Root returns the task's root directory.
func (t *Task) Root() vfs.Path {
	fs := t.fsCtx()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.root
}

// SetRoot changes the root directory (chroot).
func (t *Task) SetRoot(p vfs.Path) {
	fs := t.fsCtx()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.root = p
}

// Cwd returns the task's working directory.
func (t *Task) Cwd() vfs.Path {
	fs := t.fsCtx()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.cwd
}

// SetCwd changes the working directory.
func (t *Task) SetCwd(p vfs.Path) {
	fs := t.fsCtx()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.cwd = p
}

// Umask returns the file mode creation mask.
func (t *Task) Umask() uint32 {
	fs := t.fsCtx()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.umask
}

// SetUmask sets the mask and returns the old one.
func (t *Task) SetUmask(m uint32) uint32 {
	fs := t.fsCtx()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	old := fs.umask
	fs.umask = m & 0o777
	return old
}

// PathString returns the absolute path of p as the task sees it: from its
// root when p is under it, else from the top of p's mount tree.
func (t *Task) PathString(p vfs.Path) string {
	s, _ := vfs.PathFrom(p, t.Root())
	return s
}

// UnshareMounts gives t a copy of its mount namespace
// (unshare(CLONE_NEWNS)), and its own root, cwd and umask, moved to the
// same places in the copy.
func (t *Task) UnshareMounts() {
	fs := t.fsCtx().copy()
	fs.unshareMounts()
	t.mu.Lock()
	t.fs = fs
	t.mu.Unlock()
}

// unshareMounts moves fs, which no task shares yet, to a copy of its
// mount namespace.
func (fs *fsContext) unshareMounts() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	ns, move := fs.ns.Copy()
	fs.ns, fs.root, fs.cwd = ns, move(fs.root), move(fs.cwd)
}

// UnshareFS gives t its own copy of a root, cwd and umask it shares with
// other tasks (unshare(CLONE_FS)).
func (t *Task) UnshareFS() {
	fs := t.fsCtx().copy()
	t.mu.Lock()
	t.fs = fs
	t.mu.Unlock()
}

// PivotRoot implements pivot_root(2) for t, in its mount namespace: the
// mount whose root newRoot is becomes the root mount (in place of the
// mount of t's root) and that mount goes to putOld; then every process
// whose root or cwd was t's root gets newRoot instead, as on Linux.
func (t *Task) PivotRoot(newRoot, putOld vfs.Path) error {
	ns := t.MountNamespace()
	root := t.Root()
	if err := ns.PivotRoot(root, newRoot, putOld); err != nil {
		return err
	}
	k := t.k
	k.mu.Lock()
	seen := make(map[*fsContext]bool)
	var all []*fsContext
	for _, o := range k.tasks {
		if fs := o.fsCtx(); !seen[fs] {
			seen[fs] = true
			all = append(all, fs)
		}
	}
	k.mu.Unlock()
	for _, fs := range all {
		fs.mu.Lock()
		if fs.ns == ns {
			if fs.root.Same(root) {
				fs.root = newRoot
			}
			if fs.cwd.Same(root) {
				fs.cwd = newRoot
			}
		}
		fs.mu.Unlock()
	}
	return nil
}

// Resolver returns a path resolver for the task, with relative paths
// starting at dirfd (unix.AT_FDCWD for the cwd). A dirfd that is not open
// is EBADF; one that is not a directory is ENOTDIR, but only for relative
// paths, as on Linux.
func (t *Task) Resolver(dirfd int32, path string) (*vfs.Resolver, error) {
	fs := t.fsCtx()
	fs.mu.Lock()
	r := &vfs.Resolver{NS: fs.ns, Root: fs.root, Start: fs.cwd}
	fs.mu.Unlock()
	c := t.Creds()
	r.MayLookup = c.mayLookup(t)
	if dirfd == unix.AT_FDCWD || len(path) > 0 && path[0] == '/' {
		return r, nil
	}
	f, err := t.fds.Get(dirfd)
	if err != nil {
		return nil, err
	}
	defer f.DecRef()
	p := f.Path()
	if p.Dentry == nil {
		return nil, unix.ENOTDIR
	}
	st, err := p.Inode().Stat(t)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, unix.ENOTDIR
	}
	r.Start = p
	return r, nil
}

// openExecutable opens path for execution: it must be a regular file with
// an execute bit.
func (t *Task) openExecutable(path string) (*vfs.FileDescription, string, error) {
	return t.openExecutableAt(unix.AT_FDCWD, path, 0)
}

// openExecutableAt is openExecutable relative to dirfd, with execveat's
// flags: AT_EMPTY_PATH executes the file dirfd refers to when path is
// empty, AT_SYMLINK_NOFOLLOW refuses a final symbolic link (ELOOP).
func (t *Task) openExecutableAt(dirfd int32, path string, flags int) (*vfs.FileDescription, string, error) {
	var p vfs.Path
	switch {
	case path == "" && flags&unix.AT_EMPTY_PATH != 0:
		f, err := t.fds.Get(dirfd)
		if err != nil {
			return nil, "", err
		}
		p = f.Path()
		f.DecRef()
		if p.Dentry == nil {
			return nil, "", unix.EACCES // a pipe or socket
		}
	case path == "":
		return nil, "", unix.ENOENT
	default:
		r, err := t.Resolver(dirfd, path)
		if err != nil {
			return nil, "", err
		}
		nofollow := flags&unix.AT_SYMLINK_NOFOLLOW != 0
		if p, err = r.Resolve(t, path, !nofollow); err != nil {
			return nil, "", err
		}
		if nofollow {
			if st, err := p.Inode().Stat(t); err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				return nil, "", unix.ELOOP
			}
		}
	}
	st, err := p.Inode().Stat(t)
	if err != nil {
		return nil, "", err
	}
	switch {
	case st.IsDir():
		return nil, "", &loader.Error{Errno: unix.EACCES, Msg: "is a directory, not an executable"}
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return nil, "", &loader.Error{Errno: unix.EACCES, Msg: "not a regular file, cannot be executed"}
	case st.Mode&0o111 == 0:
		return nil, "", &loader.Error{Errno: unix.EACCES, Msg: "not executable (no execute permission)"}
	}
	if c := t.Creds(); c.MayAccess(&st, unix.X_OK) != nil {
		return nil, "", &loader.Error{Errno: unix.EACCES, Msg: "not executable by this user (permission denied)"}
	}
	impl, err := p.Inode().Open(t, unix.O_RDONLY)
	if err != nil {
		return nil, "", err
	}
	return vfs.NewFileDescription(impl, p, unix.O_RDONLY), t.PathString(p), nil
}

// MappedFile adapts an open file to mm.MappableFile. Each VMA that maps it
// holds a reference to the open file.
type MappedFile struct {
	f    *vfs.FileDescription
	ctx  vfs.Context
	name string
}

// mappable returns f as a file the memory manager can map, with one
// reference for the caller.
func mappable(t *Task, f *vfs.FileDescription) *MappedFile {
	f.IncRef()
	var name string
	if f.Path().Dentry != nil {
		name = t.PathString(f.Path())
	} else if n, ok := f.Impl().(interface{ Name() string }); ok {
		name = n.Name() // a memfd: /memfd:NAME (deleted), as /proc/PID/maps shows it
	}
	return &MappedFile{f: f, ctx: t, name: name}
}

// Mappable returns f as a file the memory manager can map, holding one
// reference that the caller drops with DecRef once it has mapped it.
func (t *Task) Mappable(f *vfs.FileDescription) *MappedFile { return mappable(t, f) }

// IncRef implements mm.RefCounted.
func (m *MappedFile) IncRef() { m.f.IncRef() }

// DecRef implements mm.RefCounted.
func (m *MappedFile) DecRef() { m.f.DecRef() }

// SharedChunk implements mm.SharedMappable for files whose filesystem
// can share their memory (memfs); ENODEV for others.
func (m *MappedFile) SharedChunk(off int64) (platform.FileRange, int64, error) {
	if s, ok := m.f.Impl().(mm.SharedMappable); ok {
		return s.SharedChunk(off)
	}
	return platform.FileRange{}, 0, unix.ENODEV
}

// CanShare reports whether the file can be mapped MAP_SHARED at off
// (ENODEV if not): the file's own answer where it gives one (host files
// of writable binds), else whether SharedChunk works.
func (m *MappedFile) CanShare(off int64) error {
	if c, ok := m.f.Impl().(interface{ CanShare() error }); ok {
		return c.CanShare()
	}
	_, _, err := m.SharedChunk(off)
	return err
}

// Mappers returns the reverse map of the file's mappings, for files whose
// filesystem keeps one (see mm.Mappers).
func (m *MappedFile) Mappers() *mm.Mappers {
	if r, ok := m.f.Impl().(interface{ Mappers() *mm.Mappers }); ok {
		return r.Mappers()
	}
	return nil
}

// ContentKey implements mm.CachedFile for files that can give one (host
// files of the read-only layer).
func (m *MappedFile) ContentKey() (any, bool) {
	if c, ok := m.f.Impl().(interface{ ContentKey() (any, bool) }); ok {
		return c.ContentKey()
	}
	return nil, false
}

// HostFD implements mm.HostBacked for files that can give one (host
// files of the read-only layer).
func (m *MappedFile) HostFD() (int, bool) {
	if h, ok := m.f.Impl().(interface{ HostFD() (int, bool) }); ok {
		return h.HostFD()
	}
	return 0, false
}

// ReadAt implements mm.MappableFile.
func (m *MappedFile) ReadAt(dst []byte, off int64) (int, error) {
	n := 0
	for n < len(dst) {
		got, err := m.f.Impl().Read(m.ctx, dst[n:], off+int64(n))
		n += got
		if err != nil {
			return n, err
		}
		if got == 0 {
			break
		}
	}
	return n, nil
}

// MapInfo implements mm.MappableFile.
func (m *MappedFile) MapInfo() (string, uint64, uint64, int64) {
	st, err := m.f.Stat(m.ctx)
	if err != nil {
		return m.name, 0, 0, 0
	}
	return m.name, st.Dev, st.Ino, st.Size
}

var _ mm.MappableFile = (*MappedFile)(nil)
