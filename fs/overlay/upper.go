package overlay

import (
	"moat/fs/memfs"
	"moat/vfs"
)

// Attr is the attribute set that copy-up preserves.
type Attr = memfs.Attr

// upperLayer is the overlay's writable layer: in memory (memUpper, a
// fs/memfs) or in a host directory (diskUpper, --upper).
type upperLayer interface {
	root() upperNode
	// newFile returns a detached regular file with attributes a, to be
	// filled and then linked by copyUpEntry; the caller drops it.
	newFile(ctx vfs.Context, a Attr) (upperData, error)
	// room is how many more bytes of file data the layer takes.
	room() int64
}

// upperData is a detached file of the upper layer being filled for a
// copy-up.
type upperData interface {
	WriteAt(p []byte, off int64) (int, error)
	Truncate(size int64) error
	Drop()
}

// upperEntry is one directory entry of the upper layer, whiteouts
// included.
type upperEntry struct {
	Name string
	Node upperNode
}

// copyUpSpec describes an entry copied up from the lower layer.
type copyUpSpec struct {
	Type                 uint32
	Attr                 Attr
	Target               string    // symlinks
	Rdev                 uint64    // devices
	Data                 upperData // regular files; nil: empty
	OriginDev, OriginIno uint64
}

// upperNode is an object of the upper layer. A nil upperNode is always
// the untyped nil interface.
type upperNode interface {
	Type() uint32
	IsDir() bool
	IsWhiteout() bool
	Opaque() bool
	Ino() uint64
	Origin() (dev, ino uint64, ok bool)
	SetOrigin(dev, ino uint64)
	SetAttr(a Attr)

	child(ctx vfs.Context, name string) (upperNode, error) // nil, nil: no entry
	entries(ctx vfs.Context) ([]upperEntry, error)

	Stat(ctx vfs.Context) (vfs.Stat, error)
	Readlink(ctx vfs.Context) (string, error)
	Open(ctx vfs.Context, flags uint32) (vfs.FileImpl, error)
	SetStat(ctx vfs.Context, mask uint32, st vfs.Stat) error
	GetXattr(ctx vfs.Context, name string) ([]byte, error)
	ListXattr(ctx vfs.Context) ([]string, error)
	SetXattr(ctx vfs.Context, name string, value []byte, flags int) error
	RemoveXattr(ctx vfs.Context, name string) error

	create(ctx vfs.Context, name string, mode uint32) (upperNode, error)
	mkdirOpaque(ctx vfs.Context, name string, mode uint32) (upperNode, error)
	symlink(ctx vfs.Context, name, target string) (upperNode, error)
	mknod(ctx vfs.Context, name string, mode uint32, dev uint64) (upperNode, error)
	link(ctx vfs.Context, name string, target upperNode) (upperNode, error)
	whiteout(ctx vfs.Context, name string) error
	unlink(ctx vfs.Context, name string) error
	rmdir(ctx vfs.Context, name string) error
	rename(ctx vfs.Context, oldName string, newDir upperNode, newName string, flags uint32) error
	copyUpEntry(ctx vfs.Context, name string, c copyUpSpec) (upperNode, error)
}

// memUpper is an upper layer in memory.
type memUpper struct{ fs *memfs.FS }

func (u memUpper) root() upperNode { return memNode{u.fs.Root()} }

func (u memUpper) newFile(ctx vfs.Context, a Attr) (upperData, error) {
	f, err := u.fs.NewFile(a)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (u memUpper) room() int64 {
	used, limit, _, _ := u.fs.Usage()
	return limit - used
}

// memNode is an inode of a memUpper.
type memNode struct{ *memfs.Inode }

func wrapMem(in *memfs.Inode) upperNode {
	if in == nil {
		return nil
	}
	return memNode{in}
}

func (m memNode) SetAttr(a Attr) { m.Inode.SetAttr(a) }

func (m memNode) child(ctx vfs.Context, name string) (upperNode, error) {
	return wrapMem(m.Child(name)), nil
}

func (m memNode) entries(ctx vfs.Context) ([]upperEntry, error) {
	ents := m.Entries()
	out := make([]upperEntry, len(ents))
	for i, e := range ents {
		out[i] = upperEntry{Name: e.Name, Node: memNode{e.Inode}}
	}
	return out, nil
}

func (m memNode) create(ctx vfs.Context, name string, mode uint32) (upperNode, error) {
	in, err := m.Create(ctx, name, mode)
	if err != nil {
		return nil, err
	}
	return memNode{in.(*memfs.Inode)}, nil
}

func (m memNode) mkdirOpaque(ctx vfs.Context, name string, mode uint32) (upperNode, error) {
	in, err := m.MkdirOpaque(ctx, name, mode, true)
	if err != nil {
		return nil, err
	}
	return memNode{in}, nil
}

func (m memNode) symlink(ctx vfs.Context, name, target string) (upperNode, error) {
	if err := m.Symlink(ctx, name, target); err != nil {
		return nil, err
	}
	return wrapMem(m.Child(name)), nil
}

func (m memNode) mknod(ctx vfs.Context, name string, mode uint32, dev uint64) (upperNode, error) {
	if err := m.Mknod(ctx, name, mode, dev); err != nil {
		return nil, err
	}
	return wrapMem(m.Child(name)), nil
}

func (m memNode) link(ctx vfs.Context, name string, target upperNode) (upperNode, error) {
	if err := m.Link(ctx, name, target.(memNode).Inode); err != nil {
		return nil, err
	}
	return target, nil
}

func (m memNode) whiteout(ctx vfs.Context, name string) error { return m.Whiteout(ctx, name) }
func (m memNode) unlink(ctx vfs.Context, name string) error   { return m.Unlink(ctx, name) }
func (m memNode) rmdir(ctx vfs.Context, name string) error    { return m.Rmdir(ctx, name) }

func (m memNode) rename(ctx vfs.Context, oldName string, newDir upperNode, newName string, flags uint32) error {
	return m.Rename(ctx, oldName, newDir.(memNode).Inode, newName, flags)
}

func (m memNode) copyUpEntry(ctx vfs.Context, name string, c copyUpSpec) (upperNode, error) {
	cu := memfs.CopyUp{Type: c.Type, Attr: c.Attr, Target: c.Target, Rdev: c.Rdev, OriginDev: c.OriginDev, OriginIno: c.OriginIno}
	if c.Data != nil {
		cu.Data = c.Data.(*memfs.Inode)
	}
	in, err := m.CopyUpEntry(name, cu)
	if err != nil {
		return nil, err
	}
	return memNode{in}, nil
}
