package vfs

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Dentry names one inode at one place in a mount's tree. Dentries are
// immutable and cheap: path resolution makes new ones as it walks, and a
// Dentry keeps its parents alive so that ".." and getcwd work from any
// directory an application holds (its cwd, an fd).
type Dentry struct {
	parent *Dentry // nil at the root of a mount
	name   string  // "" at the root of a mount
	depth  int32   // components from the mount's root
	inode  Inode
}

// NewRootDentry returns the root dentry of a filesystem tree.
func NewRootDentry(root Inode) *Dentry { return &Dentry{inode: root} }

func (d *Dentry) child(name string, in Inode) *Dentry {
	return &Dentry{parent: d, name: name, depth: d.depth + 1, inode: in}
}

// samePlace reports whether a and b, dentries of one mount's tree, are at
// the same place: the same names from the mount's root (each walk makes
// its own dentries, so the pointers may differ). It costs one comparison
// when their depths differ, and stops at the first name that differs or
// the first parent they share. (A dentry kept its whole path as a string
// for this before, which made the memory of a chain of nested
// directories quadratic in its depth.)
func samePlace(a, b *Dentry) bool {
	if a.depth != b.depth {
		return false
	}
	for a != b {
		if a.name != b.name {
			return false
		}
		a, b = a.parent, b.parent
	}
	return true
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

// mountMu guards the shape of every namespace's mount tree: each Mount's
// ns, parent, point and children, and each namespace's root. Trees change
// rarely (mount, umount, MS_MOVE, pivot_root, unshare) and are read at
// every step of a path walk.
var mountMu sync.RWMutex

// lastMountID numbers mounts for mountinfo, from FirstMountID up.
var lastMountID atomic.Int64

// FirstMountID is the id of the first mount made; the namespace root's
// parent in mountinfo is FirstMountID-1, a mount not listed, as in a
// container.
const FirstMountID = 21

func newMountID() int { return FirstMountID - 1 + int(lastMountID.Add(1)) }

// Mount is one filesystem tree attached at a point of the mount namespace.
// A mount on the root of another mount is stacked on it: it is that
// mount's child attached at its root.
type Mount struct {
	id       int
	root     *Dentry
	ns       *MountNamespace // nil once detached (umount2 MNT_DETACH)
	parent   *Mount          // nil for the namespace root and detached mounts
	point    *Dentry         // where this mount is attached in parent
	readOnly bool
	fsType   string
	source   string
	children map[string][]*Mount // by the last name of the mount point in this mount
}

// ReadOnly reports whether writes through this mount fail with EROFS.
func (m *Mount) ReadOnly() bool { return m.readOnly }

// FSType returns the filesystem type name as /proc/mounts shows it.
func (m *Mount) FSType() string { return m.fsType }

// ID returns the mount's id, as mountinfo and fdinfo's mnt_id show it.
func (m *Mount) ID() int { return m.id }

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
func (p Path) Same(q Path) bool { return p.Mount == q.Mount && samePlace(p.Dentry, q.Dentry) }

// IsMountRoot reports whether p is the root of its mount.
func (p Path) IsMountRoot() bool { return p.Dentry.parent == nil }

// MountNamespace is the set of mounts visible to a group of tasks.
type MountNamespace struct {
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
	ns := &MountNamespace{}
	ns.root = &Mount{
		id:       newMountID(),
		root:     NewRootDentry(root),
		ns:       ns,
		readOnly: opts.ReadOnly,
		fsType:   opts.FSType,
		source:   opts.Source,
	}
	return ns
}

// Root returns the root of the namespace.
func (ns *MountNamespace) Root() Path {
	mountMu.RLock()
	defer mountMu.RUnlock()
	return ns.root.Root()
}

// Copy returns a new namespace with a copy of every mount of ns (unshare
// CLONE_NEWNS), and a function that translates a Path in ns to the same
// place in the copy (Paths of other namespaces are returned unchanged).
func (ns *MountNamespace) Copy() (*MountNamespace, func(Path) Path) {
	mountMu.RLock()
	defer mountMu.RUnlock()
	cp := &MountNamespace{}
	// Number the copies in the order of the originals, so the copy lists
	// its mounts in the same order (as Linux's copy_tree keeps it).
	var all []*Mount
	var collect func(m *Mount)
	collect = func(m *Mount) {
		all = append(all, m)
		for _, c := range m.childList() {
			collect(c)
		}
	}
	collect(ns.root)
	slices.SortFunc(all, func(a, b *Mount) int { return a.id - b.id })
	old2new := make(map[*Mount]*Mount, len(all))
	for _, m := range all {
		old2new[m] = &Mount{id: newMountID(), root: m.root, ns: cp, point: m.point,
			readOnly: m.readOnly, fsType: m.fsType, source: m.source}
	}
	for _, m := range all {
		c := old2new[m]
		if m.parent != nil {
			c.parent = old2new[m.parent]
		}
		for name, children := range m.children {
			if c.children == nil {
				c.children = make(map[string][]*Mount)
			}
			for _, child := range children {
				c.children[name] = append(c.children[name], old2new[child])
			}
		}
	}
	cp.root = old2new[ns.root]
	return cp, func(p Path) Path {
		if c, ok := old2new[p.Mount]; ok {
			p.Mount = c
		}
		return p
	}
}

// Topmost returns the root of the last mount stacked at p, or p itself if
// nothing is mounted there: what umount2, MS_MOVE and pivot_root's
// put_old act on when their path ends at a mount point that the walk did
// not cross ("." or "/").
func (ns *MountNamespace) Topmost(p Path) Path {
	mountMu.RLock()
	defer mountMu.RUnlock()
	return topmostLocked(p)
}

// Preconditions: mountMu is held.
func topmostLocked(p Path) Path {
	for {
		m := p.Mount.childAtLocked(p.Dentry)
		if m == nil {
			return p
		}
		p = m.Root()
	}
}

// Mount attaches a filesystem rooted at root on at (on top of any mount
// already there): a directory on a directory, or (a bind mount of one
// file) a non-directory on a non-directory. EINVAL if at is not in ns.
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
	mountMu.Lock()
	defer mountMu.Unlock()
	if at.Mount.ns != ns {
		return unix.EINVAL
	}
	at = topmostLocked(at)
	attachLocked(&Mount{
		id:       newMountID(),
		root:     NewRootDentry(root),
		ns:       ns,
		readOnly: opts.ReadOnly,
		fsType:   opts.FSType,
		source:   opts.Source,
	}, at)
	return nil
}

// attachLocked attaches m at at, where nothing is mounted.
//
// Preconditions: mountMu is held for writing.
func attachLocked(m *Mount, at Path) {
	if at.Mount.children == nil {
		at.Mount.children = make(map[string][]*Mount)
	}
	name := at.Dentry.name
	at.Mount.children[name] = append(at.Mount.children[name], m)
	m.parent, m.point = at.Mount, at.Dentry
}

// childList returns the mounts attached in m.
//
// Preconditions: mountMu is held.
func (m *Mount) childList() []*Mount {
	var all []*Mount
	for _, cs := range m.children {
		all = append(all, cs...)
	}
	return all
}

// childAtLocked returns the mount attached at d in m, or nil.
//
// Preconditions: mountMu is held.
func (m *Mount) childAtLocked(d *Dentry) *Mount {
	for _, c := range m.children[d.name] {
		if samePlace(c.point, d) {
			return c
		}
	}
	return nil
}

// detachLocked takes m off its parent.
//
// Preconditions: mountMu is held for writing; m has a parent.
func detachLocked(m *Mount) {
	name := m.point.name
	siblings := slices.DeleteFunc(m.parent.children[name], func(c *Mount) bool { return c == m })
	if len(siblings) == 0 {
		delete(m.parent.children, name)
	} else {
		m.parent.children[name] = siblings
	}
	m.parent, m.point = nil, nil
}

// Unmount detaches the mount at p (the topmost one stacked there): EINVAL
// if p is not the root of a mount of ns or is the namespace's root. A
// mount with mounts on it is EBUSY unless detach is set
// (umount2(MNT_DETACH)), which takes the whole subtree away. Files open
// in it stay usable, as after MNT_DETACH.
func (ns *MountNamespace) Unmount(p Path, detach bool) error {
	if p.Mount == nil {
		return unix.EINVAL
	}
	mountMu.Lock()
	defer mountMu.Unlock()
	p = topmostLocked(p)
	m := p.Mount
	if p.Dentry != m.root || m.ns != ns || m.parent == nil {
		return unix.EINVAL
	}
	if len(m.children) > 0 && !detach {
		return unix.EBUSY
	}
	detachLocked(m)
	var forget func(m *Mount)
	forget = func(m *Mount) {
		m.ns = nil
		for _, c := range m.childList() {
			forget(c)
		}
	}
	forget(m)
	return nil
}

// Move moves the mount whose root src is, with the mounts on it, to dst
// (mount(MS_MOVE)), on top of any mount there: EINVAL if src is not the
// root of a mount of ns or dst is not in ns, or if one is a directory and
// the other not; ELOOP if dst is in the subtree being moved (always, for
// the namespace root).
func (ns *MountNamespace) Move(src, dst Path) error {
	sst, err := src.Inode().Stat(nil)
	if err != nil {
		return err
	}
	dst2, err := dst.Inode().Stat(nil)
	if err != nil {
		return err
	}
	mountMu.Lock()
	defer mountMu.Unlock()
	dst = topmostLocked(dst)
	m := src.Mount
	if dst.Mount.ns != ns || m.ns != ns || src.Dentry != m.root || sst.IsDir() != dst2.IsDir() {
		return unix.EINVAL
	}
	if isBelowLocked(dst.Mount, m) {
		return unix.ELOOP
	}
	detachLocked(m)
	attachLocked(m, dst)
	return nil
}

// PivotRoot makes the mount whose root newRoot is the root of the
// namespace in place of root's mount (a caller's root), and attaches that
// mount at putOld (pivot_root(2)), on top of any mount there. EINVAL if
// root or newRoot is not in ns or not the root of a mount, if newRoot's
// mount is not attached, if putOld is not at or under newRoot, or newRoot
// not under root; EBUSY if newRoot or putOld is on root's mount.
func (ns *MountNamespace) PivotRoot(root, newRoot, putOld Path) error {
	mountMu.Lock()
	defer mountMu.Unlock()
	putOld = topmostLocked(putOld)
	rootM, newM, oldM := root.Mount, newRoot.Mount, putOld.Mount
	switch {
	case rootM.ns != ns || newM.ns != ns || oldM.ns != ns:
		return unix.EINVAL
	case newM == rootM || oldM == rootM:
		return unix.EBUSY
	case root.Dentry != rootM.root || newRoot.Dentry != newM.root || newM.parent == nil:
		return unix.EINVAL
	case !isBelowLocked(oldM, newM) || !isBelowLocked(newM, rootM):
		return unix.EINVAL
	}
	// newRoot's mount takes root's place (the namespace root or a mount
	// point); root's mount goes to putOld.
	detachLocked(newM)
	if rootM.parent == nil {
		ns.root = newM
	} else {
		at := Path{Mount: rootM.parent, Dentry: rootM.point}
		detachLocked(rootM)
		attachLocked(newM, at)
	}
	attachLocked(rootM, putOld)
	return nil
}

// isBelowLocked reports whether m is a or a mount under it.
//
// Preconditions: mountMu is held.
func isBelowLocked(m, a *Mount) bool {
	for ; m != nil; m = m.parent {
		if m == a {
			return true
		}
	}
	return false
}

// SetReadOnly changes whether the mount whose root p is refuses writes
// (mount -o remount,ro): EINVAL if p is not the root of a mount of ns.
func (ns *MountNamespace) SetReadOnly(p Path, ro bool) error {
	if p.Mount == nil || p.Dentry != p.Mount.root {
		return unix.EINVAL
	}
	mountMu.Lock()
	defer mountMu.Unlock()
	if p.Mount.ns != ns {
		return unix.EINVAL
	}
	p.Mount.readOnly = ro
	return nil
}

// mountedAt returns the mount attached at d in m, or nil.
func (ns *MountNamespace) mountedAt(m *Mount, d *Dentry) *Mount {
	mountMu.RLock()
	defer mountMu.RUnlock()
	return m.childAtLocked(d)
}

// parentOf returns where the mount m is attached (nil for a namespace
// root or a detached mount).
func parentOf(m *Mount) (*Mount, *Dentry) {
	mountMu.RLock()
	defer mountMu.RUnlock()
	return m.parent, m.point
}

// MountInfo describes one mount for /proc/mounts and mountinfo.
type MountInfo struct {
	ID, ParentID           int
	Root                   Path // the mount's root
	Source, Target, FSType string
	ReadOnly               bool
}

// Mounts lists the mounts of ns that can be reached from root (a
// caller's root) in the order they were made (by mount ID, as Linux lists
// /proc/PID/mounts and mountinfo), so parents come before their children
// unless one was moved, and stacked mounts are in stacking order; targets
// are as seen from root. The namespace root's parent id is FirstMountID-1.
func (ns *MountNamespace) Mounts(root Path) []MountInfo {
	mountMu.RLock()
	defer mountMu.RUnlock()
	var out []MountInfo
	var visit func(m *Mount)
	visit = func(m *Mount) {
		target, ok := pathFromLocked(m.Root(), root)
		if ok {
			parent := FirstMountID - 1
			if m.parent != nil {
				parent = m.parent.id
			}
			out = append(out, MountInfo{ID: m.id, ParentID: parent, Root: m.Root(), Source: m.source, Target: target, FSType: m.fsType, ReadOnly: m.readOnly})
		}
		for _, c := range m.childList() {
			visit(c)
		}
	}
	visit(ns.root)
	slices.SortFunc(out, func(a, b MountInfo) int { return a.ID - b.ID }) // ids are unique
	return out
}

// PathString returns the absolute path of p as seen from the namespace root,
// as getcwd and /proc/self/cwd report it.
func (ns *MountNamespace) PathString(p Path) string {
	mountMu.RLock()
	defer mountMu.RUnlock()
	return pathLocked(p)
}

// PathFrom returns the path of p as seen from root (a caller's root), and
// whether p is at or under root; a path outside root is given from the
// top of its tree, as PathString does.
func PathFrom(p, root Path) (string, bool) {
	mountMu.RLock()
	defer mountMu.RUnlock()
	return pathFromLocked(p, root)
}

// Preconditions: mountMu is held.
func pathFromLocked(p, root Path) (string, bool) {
	var parts []string
	m, d := p.Mount, p.Dentry
	found := false
	for {
		if m == root.Mount && root.Dentry != nil && samePlace(d, root.Dentry) {
			found = true
			break
		}
		if d.parent != nil {
			parts = append(parts, d.name)
			d = d.parent
			continue
		}
		if m.parent == nil {
			break
		}
		m, d = m.parent, m.point
	}
	return joinReversed(parts), found
}

// Preconditions: mountMu is held.
func pathLocked(p Path) string {
	s, _ := pathFromLocked(p, Path{})
	return s
}

func joinReversed(parts []string) string {
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
