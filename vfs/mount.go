package vfs

import (
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Dentry names one inode at one place in a mount's tree. Dentries are
// immutable and cheap: path resolution makes new ones as it walks, and a
// Dentry keeps its parents alive so that ".." and getcwd work from any
// directory an application holds (its cwd, an fd).
type Dentry struct {
	parent *Dentry // nil at the root of a mount
	name   string  // "" at the root of a mount
	rel    string  // path from the mount's root: "" or "/a/b"
	inode  Inode
}

// NewRootDentry returns the root dentry of a filesystem tree.
func NewRootDentry(root Inode) *Dentry { return &Dentry{inode: root} }

func (d *Dentry) child(name string, in Inode) *Dentry {
	return &Dentry{parent: d, name: name, rel: d.rel + "/" + name, inode: in}
}

// CreatedPath returns the path of in, just made under the name name in the
// directory dir: the caller holds it without looking the name up again, so
// that a concurrent unlink or rename cannot take it away between the
// creation and the open (open(O_CREAT) is atomic on Linux).
func CreatedPath(dir Path, name string, in Inode) Path {
	return Path{Mount: dir.Mount, Dentry: dir.Dentry.child(name, in)}
}

// UnlinkedPath returns a path for in, a file with no name made in the
// directory dir (O_TMPFILE): it shows as DIR/#INO, as on Linux, and is
// found by no lookup.
func UnlinkedPath(dir Path, in Inode, ino uint64) Path {
	name := "#" + strconv.FormatUint(ino, 10)
	return Path{Mount: dir.Mount, Dentry: dir.Dentry.child(name, in)}
}

// Inode returns the dentry's inode.
func (d *Dentry) Inode() Inode { return d.inode }

// Parent returns the parent dentry in the same mount, or nil at the
// mount's root.
func (d *Dentry) Parent() *Dentry { return d.parent }

// Name returns the dentry's last path component ("" for a mount root).
func (d *Dentry) Name() string { return d.name }

// Mount is one filesystem tree attached at a point of the mount namespace.
type Mount struct {
	root     *Dentry
	parent   *Mount  // nil for the namespace root
	point    *Dentry // where this mount is attached in parent
	readOnly bool
	fsType   string
	source   string
	children map[string]*Mount // by the mount point's rel path in this mount
}

// ReadOnly reports whether writes through this mount fail with EROFS.
func (m *Mount) ReadOnly() bool { return m.readOnly }

// FSType returns the filesystem type name as /proc/mounts shows it.
func (m *Mount) FSType() string { return m.fsType }

// Root returns a Path to the root of the mount.
func (m *Mount) Root() Path { return Path{Mount: m, Dentry: m.root} }

// Path is a location in the mount namespace: a mount and a dentry in it.
type Path struct {
	Mount  *Mount
	Dentry *Dentry
}

// Inode returns the inode the path names.
func (p Path) Inode() Inode { return p.Dentry.inode }

// Same reports whether p and q name the same place (not merely the same
// inode).
func (p Path) Same(q Path) bool { return p.Mount == q.Mount && p.Dentry.rel == q.Dentry.rel }

// MountNamespace is the set of mounts visible to a group of tasks.
type MountNamespace struct {
	mu   sync.RWMutex
	root *Mount
}

// MountOptions describe a new mount.
type MountOptions struct {
	FSType   string // as shown in /proc/mounts, e.g. "tmpfs"
	Source   string
	ReadOnly bool
}

// NewMountNamespace returns a namespace whose root mount is a filesystem
// rooted at root.
func NewMountNamespace(root Inode, opts MountOptions) *MountNamespace {
	return &MountNamespace{root: &Mount{
		root:     NewRootDentry(root),
		readOnly: opts.ReadOnly,
		fsType:   opts.FSType,
		source:   opts.Source,
	}}
}

// Root returns the root of the namespace.
func (ns *MountNamespace) Root() Path {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	return ns.root.Root()
}

// Mount attaches a filesystem rooted at root on at: a directory on a
// directory, or (a bind mount of one file) a non-directory on a
// non-directory. Stacking on an existing mount point is not supported yet
// (EBUSY).
func (ns *MountNamespace) Mount(at Path, root Inode, opts MountOptions) error {
	st, err := at.Inode().Stat(nil)
	if err != nil {
		return err
	}
	rst, err := root.Stat(nil)
	if err != nil {
		return err
	}
	switch {
	case rst.IsDir() && !st.IsDir():
		return unix.ENOTDIR
	case !rst.IsDir() && st.IsDir():
		return unix.EISDIR
	}
	if at.Dentry == at.Mount.root {
		// at is the root of a mount, which is what resolving a mount
		// point returns: mounting here would stack on that mount.
		return unix.EBUSY
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if at.Mount.children == nil {
		at.Mount.children = make(map[string]*Mount)
	}
	if _, ok := at.Mount.children[at.Dentry.rel]; ok {
		return unix.EBUSY
	}
	at.Mount.children[at.Dentry.rel] = &Mount{
		root:     NewRootDentry(root),
		parent:   at.Mount,
		point:    at.Dentry,
		readOnly: opts.ReadOnly,
		fsType:   opts.FSType,
		source:   opts.Source,
	}
	return nil
}

// Unmount detaches the mount whose root p is: EINVAL if p is not the
// root of a mount or is the namespace's root, EBUSY if other mounts sit
// on it. Files open in it stay usable, as after umount2(MNT_DETACH).
func (ns *MountNamespace) Unmount(p Path) error {
	if p.Mount == nil || p.Dentry != p.Mount.root {
		return unix.EINVAL
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	m := p.Mount
	if m.parent == nil {
		return unix.EINVAL
	}
	if len(m.children) > 0 {
		return unix.EBUSY
	}
	delete(m.parent.children, m.point.rel)
	return nil
}

// SetReadOnly changes whether the mount whose root p is refuses writes
// (mount -o remount,ro): EINVAL if p is not the root of a mount.
func (ns *MountNamespace) SetReadOnly(p Path, ro bool) error {
	if p.Mount == nil || p.Dentry != p.Mount.root {
		return unix.EINVAL
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	p.Mount.readOnly = ro
	return nil
}

// mountedAt returns the mount attached at d in m, or nil.
func (ns *MountNamespace) mountedAt(m *Mount, d *Dentry) *Mount {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	if m.children == nil {
		return nil
	}
	return m.children[d.rel]
}

// MountInfo describes one mount for /proc/mounts.
type MountInfo struct {
	Source, Target, FSType string
	ReadOnly               bool
}

// Mounts lists the namespace's mounts, parents before children.
func (ns *MountNamespace) Mounts() []MountInfo {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	var out []MountInfo
	var visit func(m *Mount)
	visit = func(m *Mount) {
		out = append(out, MountInfo{Source: m.source, Target: ns.pathLocked(m.Root()), FSType: m.fsType, ReadOnly: m.readOnly})
		for _, c := range m.children {
			visit(c)
		}
	}
	visit(ns.root)
	return out
}

// PathString returns the absolute path of p as seen from the namespace root,
// as getcwd and /proc/self/cwd report it.
func (ns *MountNamespace) PathString(p Path) string {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	return ns.pathLocked(p)
}

// Preconditions: ns.mu is held.
func (ns *MountNamespace) pathLocked(p Path) string {
	var parts []string
	m, d := p.Mount, p.Dentry
	for {
		for d.parent != nil {
			parts = append(parts, d.name)
			d = d.parent
		}
		if m.parent == nil {
			break
		}
		m, d = m.parent, m.point
	}
	if len(parts) == 0 {
		return "/"
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	return b.String()
}
