package vfs

import (
	"errors"
	"strings"

	"golang.org/x/sys/unix"
)

// Resolver resolves path names for one caller: its root (which ".." never
// leaves) and the directory relative paths start from.
type Resolver struct {
	NS    *MountNamespace
	Root  Path // the caller's root directory
	Start Path // where relative paths begin (cwd or a dirfd)
	// MayLookup, if set, checks that the caller may search dir (execute
	// permission) before a name is looked up in it: EACCES if not.
	MayLookup func(dir Inode) error
	// Restrict limits the resolution (openat2's resolve flags): a
	// combination of the Resolve* bits. With ResolveBeneath or
	// ResolveInRoot, the caller sets Root to Start (see Scope).
	Restrict uint64
}

// Restrictions on a resolution: openat2's RESOLVE_* flags, with Linux's
// values.
const (
	// ResolveNoXDev: no mount crossing, down into a mount, up out of
	// one, or by a symlink (EXDEV).
	ResolveNoXDev = 0x01
	// ResolveNoMagicLinks: no magic link is followed (ELOOP).
	ResolveNoMagicLinks = 0x02
	// ResolveNoSymlinks: no symlink at all is followed (ELOOP).
	ResolveNoSymlinks = 0x04
	// ResolveBeneath: the resolution never leaves Start, which is also
	// Root: an absolute path or symlink, or ".." at Start, is EXDEV,
	// and so is a magic link.
	ResolveBeneath = 0x08
	// ResolveInRoot: Start is the root: absolute paths and symlinks
	// begin there and ".." never leaves it; a magic link is EXDEV.
	ResolveInRoot = 0x10
)

// Scope applies restrict to r: with ResolveBeneath or ResolveInRoot, the
// resolution's root becomes its start (a dirfd or the cwd).
func (r *Resolver) Scope(restrict uint64) {
	r.Restrict = restrict
	if r.scoped() {
		r.Root = r.Start
	}
}

func (r *Resolver) scoped() bool { return r.Restrict&(ResolveBeneath|ResolveInRoot) != 0 }

// MagicLinker is implemented by symlinks that may be magic links (procfs's
// /proc/PID/{fd/N,exe,cwd,root}), which jump to a file rather than name a
// path: IsMagicLink reports whether this one is.
type MagicLinker interface {
	IsMagicLink() bool
}

func isMagicLink(in Inode) bool {
	m, ok := in.(MagicLinker)
	return ok && m.IsMagicLink()
}

// Resolve returns the location path names. If follow is false a symlink in
// the final component is returned itself rather than followed (O_NOFOLLOW,
// lstat); a trailing slash always follows and requires a directory.
func (r *Resolver) Resolve(ctx Context, path string, follow bool) (Path, error) {
	// One budget for the whole resolution: Linux counts every link
	// followed, in the directory part and at the end, against
	// MAXSYMLINKS.
	budget := SymlinkMax
	parent, name, trailing, err := r.resolveParent(ctx, path, &budget)
	if err != nil {
		return Path{}, err
	}
	if name == "" { // the path was "/" or resolved entirely by "." and ".."
		return parent, nil
	}
	return r.finish(ctx, parent, name, follow || trailing, trailing, &budget)
}

// ResolveParent resolves all but the last component of path, for calls
// that create, remove or rename the last component. It returns the
// directory, the last component and whether path ended in a slash. The last
// component is "" when path names "/" itself, and "." or ".." when path
// ends with one (callers reject those as Linux does).
func (r *Resolver) ResolveParent(ctx Context, path string) (dir Path, name string, trailingSlash bool, err error) {
	budget := SymlinkMax
	return r.resolveParentBudget(ctx, path, &budget)
}

// resolveParentBudget is ResolveParent following at most *budget links.
func (r *Resolver) resolveParentBudget(ctx Context, path string, budget *int) (dir Path, name string, trailingSlash bool, err error) {
	if path == "" {
		return Path{}, "", false, unix.ENOENT
	}
	trailingSlash = strings.HasSuffix(path, "/")
	comps := splitPath(path)
	if err := checkNames(comps); err != nil {
		return Path{}, "", false, err
	}
	cur := r.Start
	if path[0] == '/' {
		if r.Restrict&ResolveBeneath != 0 {
			return Path{}, "", false, unix.EXDEV
		}
		cur = r.Root
	}
	if len(comps) == 0 {
		return cur, "", trailingSlash, nil
	}
	cur, err = r.walk(ctx, cur, comps[:len(comps)-1], budget)
	if err != nil {
		return Path{}, "", false, err
	}
	return cur, comps[len(comps)-1], trailingSlash, nil
}

// resolveParent is ResolveParent with "." and ".." as the last component
// already applied, so that the name it returns is a real child name or "".
func (r *Resolver) resolveParent(ctx Context, path string, budget *int) (Path, string, bool, error) {
	dir, name, trailing, err := r.resolveParentBudget(ctx, path, budget)
	if err != nil {
		return Path{}, "", false, err
	}
	switch name {
	case ".":
		return dir, "", trailing, nil
	case "..":
		up, err := r.dotdot(dir)
		return up, "", trailing, err
	}
	return dir, name, trailing, nil
}

// finish looks up the final component name in dir and follows it if it is
// a symlink and follow is set.
func (r *Resolver) finish(ctx Context, dir Path, name string, follow, mustBeDir bool, budget *int) (Path, error) {
	p, err := r.step(ctx, dir, name)
	if err != nil {
		return Path{}, err
	}
	if follow {
		if p, err = r.followLinks(ctx, dir, p, budget); err != nil {
			return Path{}, err
		}
	}
	if mustBeDir {
		if err := r.requireDir(ctx, p); err != nil {
			return Path{}, err
		}
	}
	return p, nil
}

// walk resolves comps from cur, following every symlink, and requires the
// result to be a directory.
func (r *Resolver) walk(ctx Context, cur Path, comps []string, budget *int) (Path, error) {
	for _, c := range comps {
		if err := r.requireDir(ctx, cur); err != nil {
			return Path{}, err
		}
		switch c {
		case ".":
			continue
		case "..":
			var err error
			if cur, err = r.dotdot(cur); err != nil {
				return Path{}, err
			}
			continue
		}
		next, err := r.step(ctx, cur, c)
		if err != nil {
			return Path{}, err
		}
		if cur, err = r.followLinks(ctx, cur, next, budget); err != nil {
			if mf, ok := err.(*MagicFile); ok { // a pipe is no directory
				mf.File.DecRef()
				return Path{}, unix.ENOTDIR
			}
			return Path{}, err
		}
	}
	if err := r.requireDir(ctx, cur); err != nil {
		return Path{}, err
	}
	return cur, nil
}

func (r *Resolver) requireDir(ctx Context, p Path) error {
	typ, err := FileType(ctx, p.Inode())
	if err != nil {
		return err
	}
	if typ != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	return nil
}

// FileTyper is implemented by inodes whose file type never changes and is
// known without a Stat, which copies every attribute (and may ask the
// host): a walk needs only the type of each component, twice.
type FileTyper interface {
	// Type returns the S_IFMT bits of the inode's mode.
	Type() uint32
}

// FileType returns in's S_IFMT bits: its Type if it is a FileTyper, else
// from a Stat.
func FileType(ctx Context, in Inode) (uint32, error) {
	if ft, ok := in.(FileTyper); ok {
		return ft.Type(), nil
	}
	st, err := in.Stat(ctx)
	if err != nil {
		return 0, err
	}
	return st.Mode & unix.S_IFMT, nil
}

// followLinks follows p while it is a symlink. dir is the directory p was
// found in, against which relative targets resolve. A target ending in a
// slash requires the link to lead to a directory, as a trailing slash in a
// path does.
func (r *Resolver) followLinks(ctx Context, dir, p Path, budget *int) (Path, error) {
	mustBeDir := false
	for {
		typ, err := FileType(ctx, p.Inode())
		if err != nil {
			return Path{}, err
		}
		if typ != unix.S_IFLNK {
			if mustBeDir && typ != unix.S_IFDIR {
				return Path{}, unix.ENOTDIR
			}
			return p, nil
		}
		if *budget == 0 || r.Restrict&ResolveNoSymlinks != 0 {
			return Path{}, unix.ELOOP
		}
		*budget--
		if isMagicLink(p.Inode()) {
			switch {
			case r.Restrict&ResolveNoMagicLinks != 0:
				return Path{}, unix.ELOOP
			case r.scoped():
				return Path{}, unix.EXDEV
			}
		}
		if m, ok := p.Inode().(MagicLink); ok {
			// /proc/PID/fd/N: the link is the open file itself, not
			// its (possibly meaningless) text.
			f, err := m.MagicTarget(ctx)
			switch {
			case err == ErrNotMagic:
			case err != nil:
				return Path{}, err
			case f.Path().Dentry == nil:
				return Path{}, &MagicFile{File: f}
			default:
				next := f.Path()
				f.DecRef()
				if r.Restrict&ResolveNoXDev != 0 && next.Mount != p.Mount {
					return Path{}, unix.EXDEV
				}
				p = next
				continue
			}
		}
		target, err := p.Inode().Readlink(ctx)
		if err != nil {
			return Path{}, err
		}
		if target == "" {
			return Path{}, unix.ENOENT
		}
		if target[len(target)-1] == '/' {
			mustBeDir = true
		}
		start := dir
		if target[0] == '/' {
			switch {
			case r.Restrict&ResolveBeneath != 0:
				return Path{}, unix.EXDEV
			case r.Restrict&ResolveNoXDev != 0 && dir.Mount != r.Root.Mount:
				return Path{}, unix.EXDEV
			}
			start = r.Root
		}
		comps := splitPath(target)
		if err := checkNames(comps); err != nil {
			return Path{}, err
		}
		if len(comps) == 0 {
			return start, nil
		}
		if dir, err = r.walk(ctx, start, comps[:len(comps)-1], budget); err != nil {
			return Path{}, err
		}
		switch last := comps[len(comps)-1]; last {
		case ".":
			return dir, nil
		case "..":
			return r.dotdot(dir)
		default:
			if p, err = r.step(ctx, dir, last); err != nil {
				return Path{}, err
			}
		}
	}
}

// step looks up one child name of the directory cur, crossing into a mount
// attached there.
func (r *Resolver) step(ctx Context, cur Path, name string) (Path, error) {
	if r.MayLookup != nil {
		if err := r.MayLookup(cur.Inode()); err != nil {
			return Path{}, err
		}
	}
	in, err := cur.Inode().Lookup(ctx, name)
	if err != nil {
		return Path{}, err
	}
	next := Path{Mount: cur.Mount, Dentry: cur.Dentry.child(name, in)}
	for {
		m := r.NS.mountedAt(next.Mount, next.Dentry)
		if m == nil {
			return next, nil
		}
		if r.Restrict&ResolveNoXDev != 0 {
			return Path{}, unix.EXDEV
		}
		next = m.Root()
	}
}

// dotdot returns the parent of p without ever leaving the caller's root:
// EXDEV instead when that would be leaving Root under ResolveBeneath, or
// a mount under ResolveNoXDev.
func (r *Resolver) dotdot(p Path) (Path, error) {
	for {
		if p.Same(r.Root) {
			if r.Restrict&ResolveBeneath != 0 {
				return Path{}, unix.EXDEV
			}
			return p, nil
		}
		if p.Dentry.parent != nil {
			return Path{Mount: p.Mount, Dentry: p.Dentry.parent}, nil
		}
		parent, point := parentOf(p.Mount)
		if parent == nil {
			return p, nil // the namespace root, or a detached mount's
		}
		if r.Restrict&ResolveNoXDev != 0 {
			return Path{}, unix.EXDEV
		}
		p = Path{Mount: parent, Dentry: point}
	}
}

// splitPath splits a path into its non-empty components.
func splitPath(path string) []string {
	var comps []string
	for _, c := range strings.Split(path, "/") {
		if c != "" {
			comps = append(comps, c)
		}
	}
	return comps
}

func checkNames(comps []string) error {
	for _, c := range comps {
		if len(c) > NameMax {
			return unix.ENAMETOOLONG
		}
	}
	return nil
}

// MagicLink is implemented by symlinks that stand for an open file rather
// than a path (/proc/PID/fd/N): following one yields that file.
type MagicLink interface {
	// MagicTarget returns the open file, with a reference for the
	// caller, or ErrNotMagic if this link is an ordinary one.
	MagicTarget(ctx Context) (*FileDescription, error)
}

// ErrNotMagic says a MagicLink is to be followed by its text.
var ErrNotMagic = errors.New("not a magic link")

// MagicFile is what Resolve returns, as an error, when a path ends in a
// magic link to a file that has no path (a pipe, moat's stdio): the caller
// uses File (and drops its reference) or fails as Linux would.
type MagicFile struct {
	File *FileDescription
}

func (m *MagicFile) Error() string { return "magic link to an anonymous file" }
