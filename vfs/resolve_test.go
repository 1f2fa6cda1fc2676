package vfs_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"moat/fs/memfs"
	"moat/vfs"
	"moat/vfs/vfstest"
)

// tc is the caller of every test operation: root.
var tc vfs.Context = vfstest.Root

// lookupRaw walks rel from root through the filesystem itself, following
// neither symlinks nor mounts, and returns the inode it names.
func lookupRaw(t *testing.T, root vfs.Inode, rel string) vfs.Inode {
	t.Helper()
	in := root
	for _, c := range strings.Split(rel, "/") {
		if c == "" {
			continue
		}
		next, err := in.Lookup(tc, c)
		if err != nil {
			t.Fatalf("lookup %q (in %q): %v", c, rel, err)
		}
		in = next
	}
	return in
}

// mkTree creates entries under root, in order. Each spec is "dir/" for a
// directory, "name -> target" for a symlink, or a plain name for an empty
// regular file; paths are relative to root and their parents must exist.
func mkTree(t *testing.T, root vfs.Inode, specs ...string) {
	t.Helper()
	for _, s := range specs {
		name, target, isLink := strings.Cut(s, " -> ")
		isDir := !isLink && strings.HasSuffix(name, "/")
		name = strings.TrimSuffix(name, "/")
		dir, base := root, name
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			dir, base = lookupRaw(t, root, name[:i]), name[i+1:]
		}
		var err error
		switch {
		case isLink:
			err = dir.Symlink(tc, base, target)
		case isDir:
			err = dir.Mkdir(tc, base, 0o755)
		default:
			_, err = dir.Create(tc, base, 0o644)
		}
		if err != nil {
			t.Fatalf("creating %q: %v", s, err)
		}
	}
}

// newTree returns a fresh memfs whose root holds specs.
func newTree(t *testing.T, dev uint64, specs ...string) *memfs.Inode {
	t.Helper()
	root := memfs.New(dev, memfs.Options{}).Root()
	mkTree(t, root, specs...)
	return root
}

// newNS returns a mount namespace over a fresh memfs holding specs, and a
// resolver whose root and start are the namespace root.
func newNS(t *testing.T, specs ...string) (*vfs.MountNamespace, *memfs.Inode, *vfs.Resolver) {
	t.Helper()
	root := newTree(t, 1, specs...)
	ns := vfs.NewMountNamespace(root, vfs.MountOptions{FSType: "tmpfs", Source: "none"})
	return ns, root, &vfs.Resolver{NS: ns, Root: ns.Root(), Start: ns.Root()}
}

func mustResolve(t *testing.T, r *vfs.Resolver, path string, follow bool) vfs.Path {
	t.Helper()
	p, err := r.Resolve(tc, path, follow)
	if err != nil {
		t.Fatalf("Resolve(%q, follow=%v): %v", path, follow, err)
	}
	return p
}

// withRoot returns a resolver rooted (chrooted) at root and starting at
// start, both given as paths resolved from the namespace root.
func withRoot(t *testing.T, ns *vfs.MountNamespace, root, start string) *vfs.Resolver {
	t.Helper()
	top := &vfs.Resolver{NS: ns, Root: ns.Root(), Start: ns.Root()}
	rp := mustResolve(t, top, root, true)
	sp := mustResolve(t, top, start, true)
	return &vfs.Resolver{NS: ns, Root: rp, Start: sp}
}

func isSymlink(t *testing.T, in vfs.Inode) bool {
	t.Helper()
	st, err := in.Stat(tc)
	if err != nil {
		t.Fatal(err)
	}
	return st.IsSymlink()
}

func errName(err error) string {
	if err == nil {
		return "<nil>"
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return unix.ErrnoName(e)
	}
	return err.Error()
}

// resolveCase is one resolution and its expected outcome: either err, or
// the namespace path (PathString) of the result.
type resolveCase struct {
	path   string
	follow bool
	want   string
	err    error
}

// check runs the cases against r. When the result lies in the filesystem
// rooted at fsRoot (the namespace's root filesystem), its inode must also be
// the one the expected path names there.
func check(t *testing.T, ns *vfs.MountNamespace, r *vfs.Resolver, fsRoot vfs.Inode, cases []resolveCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(fmt.Sprintf("%q/follow=%v", c.path, c.follow), func(t *testing.T) {
			p, err := r.Resolve(tc, c.path, c.follow)
			if c.err != nil {
				if err != c.err {
					t.Fatalf("Resolve = %v, %s; want %s", pathOrNil(ns, p, err), errName(err), errName(c.err))
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %s; want %q", errName(err), c.want)
			}
			if got := ns.PathString(p); got != c.want {
				t.Fatalf("Resolve = %q, want %q", got, c.want)
			}
			if fsRoot != nil {
				if want := lookupRaw(t, fsRoot, c.want); p.Inode() != want {
					t.Fatalf("Resolve(%q) returned the wrong inode", c.path)
				}
			}
		})
	}
}

func pathOrNil(ns *vfs.MountNamespace, p vfs.Path, err error) string {
	if err != nil || p.Dentry == nil {
		return "-"
	}
	return ns.PathString(p)
}

func TestResolveBasic(t *testing.T) {
	ns, root, r := newNS(t, "a/", "a/b/", "a/b/f", "c/", "top")
	check(t, ns, r, root, []resolveCase{
		{path: "/", want: "/"},
		{path: "/a", want: "/a"},
		{path: "/a/b/f", want: "/a/b/f"},
		{path: "a/b/f", want: "/a/b/f"},
		{path: ".", want: "/"},
		{path: "./a/./b/.", want: "/a/b"},
		{path: "a/b/..", want: "/a"},
		{path: "a/b/../../c", want: "/c"},
		{path: "a/../a/b/../b/f", want: "/a/b/f"},
		{path: "//a///b//f", want: "/a/b/f"},
		{path: "a//b/", want: "/a/b"},
		{path: "/a/b/", want: "/a/b"},
		{path: "/a/b//", want: "/a/b"},
		{path: "/a/b/f/", err: unix.ENOTDIR},
		{path: "/a/b/f/", follow: true, err: unix.ENOTDIR},
		{path: "/a/b/f/.", err: unix.ENOTDIR},
		{path: "/a/b/f/..", err: unix.ENOTDIR},
		{path: "/a/b/f/x", err: unix.ENOTDIR},
		{path: "top/", err: unix.ENOTDIR},
		{path: "", err: unix.ENOENT},
		{path: "", follow: true, err: unix.ENOENT},
		{path: "/nope", err: unix.ENOENT},
		{path: "/nope/", err: unix.ENOENT},
		{path: "/nope/x", err: unix.ENOENT},
		{path: "/a/nope/..", err: unix.ENOENT},
	})

	// Relative paths start at Start, absolute ones at Root.
	r2 := withRoot(t, ns, "/", "/a")
	check(t, ns, r2, root, []resolveCase{
		{path: ".", want: "/a"},
		{path: "b/f", want: "/a/b/f"},
		{path: "./b/../b", want: "/a/b"},
		{path: "..", want: "/"},
		{path: "../c", want: "/c"},
		{path: "../a/b", want: "/a/b"},
		{path: "/c", want: "/c"},
		{path: "c", err: unix.ENOENT},
		{path: "/a/b", want: "/a/b"},
	})

	// A file as the starting directory (a dirfd that is not a directory).
	r3 := withRoot(t, ns, "/", "/top")
	check(t, ns, r3, root, []resolveCase{
		{path: ".", err: unix.ENOTDIR},
		{path: "x", err: unix.ENOTDIR},
		{path: "/a", want: "/a"},
	})
}

func TestResolveNameMax(t *testing.T) {
	n255 := strings.Repeat("x", vfs.NameMax)
	n256 := strings.Repeat("y", vfs.NameMax+1)
	ns, root, r := newNS(t, "d/", "d/"+n255)
	check(t, ns, r, root, []resolveCase{
		{path: "/d/" + n255, want: "/d/" + n255},
		{path: "d/" + n255, want: "/d/" + n255},
		{path: "/d/" + n256, err: unix.ENAMETOOLONG},
		{path: "/d/" + n256 + "/x", err: unix.ENAMETOOLONG},
		{path: "/d/" + n256 + "/", err: unix.ENAMETOOLONG},
	})
	if _, _, _, err := r.ResolveParent(tc, "/d/"+n256); err != unix.ENAMETOOLONG {
		t.Errorf("ResolveParent of a 256-byte last component: %s, want ENAMETOOLONG", errName(err))
	}
	dir, name, _, err := r.ResolveParent(tc, "/d/"+n255)
	if err != nil || name != n255 || ns.PathString(dir) != "/d" {
		t.Errorf("ResolveParent of a 255-byte last component = %q, %d bytes, %s", ns.PathString(dir), len(name), errName(err))
	}
}

func TestDotDotStaysInNamespaceRoot(t *testing.T) {
	ns, root, r := newNS(t, "a/", "a/b/", "etc/", "a/b/up -> ../../../../etc", "a/up2 -> ../../..")
	check(t, ns, r, root, []resolveCase{
		{path: "..", want: "/"},
		{path: "/..", want: "/"},
		{path: "/../../..", want: "/"},
		{path: "../../etc", want: "/etc"},
		{path: "a/../../..", want: "/"},
		{path: "/a/b/../../../../a/b", want: "/a/b"},
		{path: "/a/b/up", follow: true, want: "/etc"},
		{path: "/a/b/up/", want: "/etc"},
		{path: "/a/up2", follow: true, want: "/"},
		{path: "/a/up2/etc", want: "/etc"},
	})
}

func TestDotDotStaysInChroot(t *testing.T) {
	// The jail has its own etc, distinct from the namespace's.
	ns, root, _ := newNS(t,
		"etc/", "etc/outside",
		"jail/", "jail/etc/", "jail/etc/inside", "jail/a/", "jail/a/b/",
		"jail/a/b/up -> ../../../../etc",
		"jail/a/abs -> /etc",
		"jail/a/slash -> /",
		"jail/a/dots -> ../../../..",
		"jail/a/absdots -> /../../etc/inside",
	)
	r := withRoot(t, ns, "/jail", "/jail")
	check(t, ns, r, root, []resolveCase{
		{path: "/", want: "/jail"},
		{path: "/..", want: "/jail"},
		{path: "..", want: "/jail"},
		{path: "../../..", want: "/jail"},
		{path: "../etc", want: "/jail/etc"},
		{path: "/../../etc/inside", want: "/jail/etc/inside"},
		{path: "/etc/outside", err: unix.ENOENT},
		{path: "../etc/outside", err: unix.ENOENT},
		{path: "a/b/../../../etc/inside", want: "/jail/etc/inside"},
		{path: "/a/b/up", follow: true, want: "/jail/etc"},
		{path: "/a/b/up/inside", want: "/jail/etc/inside"},
		{path: "/a/b/up/outside", err: unix.ENOENT},
		{path: "/a/abs", follow: true, want: "/jail/etc"},
		{path: "/a/abs/inside", want: "/jail/etc/inside"},
		{path: "/a/abs/outside", err: unix.ENOENT},
		{path: "/a/slash", follow: true, want: "/jail"},
		{path: "/a/slash/etc", want: "/jail/etc"},
		{path: "/a/dots", follow: true, want: "/jail"},
		{path: "/a/dots/..", want: "/jail"},
		{path: "/a/absdots", follow: true, want: "/jail/etc/inside"},
		{path: "/a/abs", want: "/jail/a/abs"}, // not followed
	})

	// Starting deeper inside the jail changes nothing about the ceiling.
	r = withRoot(t, ns, "/jail", "/jail/a/b")
	check(t, ns, r, root, []resolveCase{
		{path: ".", want: "/jail/a/b"},
		{path: "..", want: "/jail/a"},
		{path: "../..", want: "/jail"},
		{path: "../../..", want: "/jail"},
		{path: "../../../../etc/inside", want: "/jail/etc/inside"},
		{path: "up/inside", want: "/jail/etc/inside"},
	})

	// The same symlinks seen without a chroot reach the namespace's etc.
	r = withRoot(t, ns, "/", "/")
	check(t, ns, r, root, []resolveCase{
		{path: "/jail/a/b/up/outside", want: "/etc/outside"},
		{path: "/jail/a/abs/outside", want: "/etc/outside"},
		{path: "/jail/a/slash", follow: true, want: "/"},
	})
}

func TestSymlinks(t *testing.T) {
	ns, root, r := newNS(t,
		"f", "dir/", "dir/f", "dir/sub/", "dir/sub/g",
		"dir/rel -> f",      // dir/f, not /f
		"dir/relsub -> sub", // dir/sub
		"dir/up -> ../f",    // /f
		"dir/abs -> /f",     // /f
		"dir/absdir -> /dir/sub",
		"dir/dotslash -> ./sub/",
		"dir/fslash -> f/", // a file with a trailing slash
		"dir/viaslash -> fslash",
		"dir/dot -> .",
		"dir/dotdot -> ..",
		"chain1 -> chain2", "chain2 -> dir/chain3", "dir/chain3 -> sub/g",
		"lnkdir -> dir/sub",
		"lnkfile -> dir/f",
		"dangling -> nowhere",
		"dangdir -> nowhere/x",
		"viafile -> f/x",
	)
	check(t, ns, r, root, []resolveCase{
		{path: "dir/rel", follow: true, want: "/dir/f"},
		{path: "dir/rel", want: "/dir/rel"},
		{path: "dir/relsub", follow: true, want: "/dir/sub"},
		{path: "dir/relsub/g", want: "/dir/sub/g"},
		{path: "dir/up", follow: true, want: "/f"},
		{path: "dir/abs", follow: true, want: "/f"},
		{path: "dir/abs", want: "/dir/abs"},
		{path: "dir/absdir/g", want: "/dir/sub/g"},
		{path: "dir/dotslash", follow: true, want: "/dir/sub"},
		{path: "dir/dotslash/g", want: "/dir/sub/g"},
		{path: "dir/fslash", follow: true, err: unix.ENOTDIR},
		{path: "dir/fslash", want: "/dir/fslash"},
		{path: "dir/viaslash", follow: true, err: unix.ENOTDIR},
		{path: "dir/dot", follow: true, want: "/dir"},
		{path: "dir/dot/dot/dot/f", want: "/dir/f"},
		{path: "dir/dotdot", follow: true, want: "/"},
		{path: "dir/dotdot/f", want: "/f"},

		// Chains, through several directories, relative to each link's
		// own directory.
		{path: "chain1", follow: true, want: "/dir/sub/g"},
		{path: "chain1", want: "/chain1"},
		{path: "chain1/", err: unix.ENOTDIR},

		// Middle components are always followed, and ".." after a link
		// is taken from where the link led, not where it was.
		{path: "lnkdir/g", want: "/dir/sub/g"},
		{path: "lnkdir/g", follow: true, want: "/dir/sub/g"},
		{path: "lnkdir/..", want: "/dir"},
		{path: "lnkdir/../f", want: "/dir/f"},
		{path: "lnkdir/.", want: "/dir/sub"},
		{path: "lnkfile/x", err: unix.ENOTDIR},
		{path: "lnkfile/", err: unix.ENOTDIR},

		// A trailing slash follows even without follow.
		{path: "lnkdir/", want: "/dir/sub"},
		{path: "lnkdir", want: "/lnkdir"},
		{path: "lnkdir", follow: true, want: "/dir/sub"},

		// Dangling links.
		{path: "dangling", follow: true, err: unix.ENOENT},
		{path: "dangling", want: "/dangling"},
		{path: "dangling/", err: unix.ENOENT},
		{path: "dangling/x", err: unix.ENOENT},
		{path: "dangdir", follow: true, err: unix.ENOENT},
		{path: "dangdir", want: "/dangdir"},
		{path: "viafile", follow: true, err: unix.ENOTDIR},
	})

	p := mustResolve(t, r, "dangling", false)
	if !isSymlink(t, p.Inode()) {
		t.Errorf("Resolve(dangling, nofollow) did not return the link")
	}
	if target, err := p.Inode().Readlink(tc); err != nil || target != "nowhere" {
		t.Errorf("Readlink = %q, %v", target, err)
	}
	p = mustResolve(t, r, "dir/rel", true)
	if isSymlink(t, p.Inode()) {
		t.Errorf("Resolve(dir/rel, follow) returned a symlink")
	}
}

func TestSymlinkLoops(t *testing.T) {
	ns, root, r := newNS(t, "self -> self", "a -> b", "b -> a", "d/", "d/loop -> ../d/loop", "d/up -> ../a")
	check(t, ns, r, root, []resolveCase{
		{path: "self", follow: true, err: unix.ELOOP},
		{path: "self", want: "/self"},
		{path: "self/", err: unix.ELOOP},
		{path: "self/x", err: unix.ELOOP},
		{path: "a", follow: true, err: unix.ELOOP},
		{path: "b", follow: true, err: unix.ELOOP},
		{path: "a", want: "/a"},
		{path: "a/x", err: unix.ELOOP},
		{path: "d/loop", follow: true, err: unix.ELOOP},
		{path: "d/up", follow: true, err: unix.ELOOP},
	})
	if _, _, _, err := r.ResolveParent(tc, "a/x"); err != unix.ELOOP {
		t.Errorf("ResolveParent(a/x) = %s, want ELOOP", errName(err))
	}
}

// chain returns specs for n symlinks in dir ("" or "x/"): prefix0 ->
// prefix1 -> ... -> prefix(n-1) -> target.
func chain(dir, prefix string, n int, target string) []string {
	var specs []string
	for i := 0; i < n; i++ {
		next := fmt.Sprintf("%s%d", prefix, i+1)
		if i == n-1 {
			next = target
		}
		specs = append(specs, fmt.Sprintf("%s%s%d -> %s", dir, prefix, i, next))
	}
	return specs
}

func TestSymlinkLimit(t *testing.T) {
	specs := []string{"f", "dir/", "dir/g", "dir/lg -> g"}
	specs = append(specs, chain("", "a", vfs.SymlinkMax, "f")...)       // 40 links
	specs = append(specs, chain("", "b", vfs.SymlinkMax+1, "f")...)     // 41 links
	specs = append(specs, chain("", "d", vfs.SymlinkMax, "dir")...)     // 40 links to a directory
	specs = append(specs, chain("", "e", vfs.SymlinkMax+1, "dir")...)   // 41 links to a directory
	specs = append(specs, chain("", "h", vfs.SymlinkMax/2, "dir")...)   // 20 links
	specs = append(specs, chain("dir/", "i", vfs.SymlinkMax/2, ".")...) // 20 more, in dir
	ns, root, r := newNS(t, specs...)
	check(t, ns, r, root, []resolveCase{
		// Linux follows at most 40 links in one resolution.
		{path: "a0", follow: true, want: "/f"},
		{path: "b0", follow: true, err: unix.ELOOP},
		{path: "b1", follow: true, want: "/f"},
		{path: "b0", want: "/b0"},
		{path: "d0/g", want: "/dir/g"},
		{path: "d0/", want: "/dir"},
		{path: "e0/g", err: unix.ELOOP},
		{path: "e0/", err: unix.ELOOP},
		{path: "e1/g", want: "/dir/g"},

		// The limit is for the whole resolution, not per component:
		// 20 + 20 links in the middle, then one more at the end.
		{path: "h0/i0/g", want: "/dir/g"},
		{path: "h0/i0/lg", want: "/dir/lg"},
		{path: "h0/i0/lg", follow: true, err: unix.ELOOP},
		{path: "h1/i0/lg", follow: true, want: "/dir/g"},
		{path: "h0/i1/lg", follow: true, want: "/dir/g"},
		{path: "h0/i0/../h0/g", err: unix.ELOOP},
		{path: "h0/i0/..", want: "/"},

		// 40 links in the middle components and one more at the end.
		{path: "d0/lg", want: "/dir/lg"},
		{path: "d0/lg", follow: true, err: unix.ELOOP},
		{path: "d0/lg/", err: unix.ELOOP},
		{path: "d1/lg", follow: true, want: "/dir/g"},
	})

	dir, name, _, err := r.ResolveParent(tc, "d0/x")
	if err != nil || name != "x" || ns.PathString(dir) != "/dir" {
		t.Errorf("ResolveParent(d0/x) = %q, %q, %s", pathOrNil(ns, dir, err), name, errName(err))
	}
	if _, _, _, err := r.ResolveParent(tc, "e0/x"); err != unix.ELOOP {
		t.Errorf("ResolveParent(e0/x) = %s, want ELOOP", errName(err))
	}
}

func TestResolveParent(t *testing.T) {
	ns, _, r := newNS(t, "a/", "a/b/", "a/f", "l -> a/b", "dangling -> nowhere")
	ra := withRoot(t, ns, "/", "/a")
	jail := withRoot(t, ns, "/a", "/a/b")
	cases := []struct {
		r        *vfs.Resolver
		path     string
		dir      string
		name     string
		trailing bool
		err      error
	}{
		{r: r, path: "/", dir: "/", name: "", trailing: true},
		{r: r, path: "///", dir: "/", name: "", trailing: true},
		{r: jail, path: "/", dir: "/a", name: "", trailing: true},
		{r: r, path: "/a", dir: "/", name: "a"},
		{r: r, path: "a", dir: "/", name: "a"},
		{r: r, path: "/a/b", dir: "/a", name: "b"},
		{r: r, path: "/a/b/", dir: "/a", name: "b", trailing: true},
		{r: r, path: "/a//b//", dir: "/a", name: "b", trailing: true},
		{r: r, path: "a/new", dir: "/a", name: "new"},
		{r: r, path: "a/.", dir: "/a", name: "."},
		{r: r, path: "a/..", dir: "/a", name: ".."},
		{r: r, path: "a/../", dir: "/a", name: "..", trailing: true},
		{r: r, path: ".", dir: "/", name: "."},
		{r: r, path: "..", dir: "/", name: ".."},
		{r: ra, path: "x", dir: "/a", name: "x"},
		{r: ra, path: "../x", dir: "/", name: "x"},
		{r: ra, path: "b/x", dir: "/a/b", name: "x"},
		{r: ra, path: "/x", dir: "/", name: "x"},
		{r: jail, path: "x", dir: "/a/b", name: "x"},
		{r: jail, path: "../../../x", dir: "/a", name: "x"},
		{r: jail, path: "/x", dir: "/a", name: "x"},
		// The directory part is followed; the last component is not.
		{r: r, path: "l/x", dir: "/a/b", name: "x"},
		{r: r, path: "l", dir: "/", name: "l"},
		{r: r, path: "l/", dir: "/", name: "l", trailing: true},
		{r: r, path: "dangling", dir: "/", name: "dangling"},
		{r: r, path: "l/../x", dir: "/a", name: "x"},
		{r: r, path: "", err: unix.ENOENT},
		{r: r, path: "nope/x", err: unix.ENOENT},
		{r: r, path: "dangling/x", err: unix.ENOENT},
		{r: r, path: "a/f/x", err: unix.ENOTDIR},
		{r: r, path: "a/f/", dir: "/a", name: "f", trailing: true},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			dir, name, trailing, err := c.r.ResolveParent(tc, c.path)
			if c.err != nil {
				if err != c.err {
					t.Fatalf("ResolveParent(%q) err = %s, want %s", c.path, errName(err), errName(c.err))
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolveParent(%q): %s", c.path, errName(err))
			}
			if got := ns.PathString(dir); got != c.dir || name != c.name || trailing != c.trailing {
				t.Fatalf("ResolveParent(%q) = (%q, %q, %v), want (%q, %q, %v)", c.path, got, name, trailing, c.dir, c.name, c.trailing)
			}
		})
	}
}

// mountTree builds a namespace:
//
//	/                 fs 1: f, mnt/{covered,sub/}, other/, lm -> mnt/inner, labs -> /mnt/top
//	/mnt              fs 2: f, top, inner/{g}, up -> ../.., abs -> /f
//	/mnt/inner        fs 3: deep
func mountTree(t *testing.T) (ns *vfs.MountNamespace, fs1, fs2, fs3 *memfs.Inode, r *vfs.Resolver) {
	t.Helper()
	ns, fs1, r = newNS(t, "f", "mnt/", "mnt/covered", "mnt/sub/", "other/", "lm -> mnt/inner", "labs -> /mnt/top", "lm2 -> mnt")
	fs2 = newTree(t, 2, "f", "top", "inner/", "inner/g", "up -> ../..", "abs -> /f")
	fs3 = newTree(t, 3, "deep")
	if err := ns.Mount(mustResolve(t, r, "/mnt", true), fs2, vfs.MountOptions{FSType: "fs2", Source: "src2"}); err != nil {
		t.Fatalf("mounting fs2: %v", err)
	}
	if err := ns.Mount(mustResolve(t, r, "/mnt/inner", true), fs3, vfs.MountOptions{FSType: "fs3", Source: "src3", ReadOnly: true}); err != nil {
		t.Fatalf("mounting fs3: %v", err)
	}
	return ns, fs1, fs2, fs3, r
}

func TestMountCrossing(t *testing.T) {
	ns, fs1, fs2, fs3, r := mountTree(t)

	for _, c := range []struct {
		path   string
		follow bool
		fs     vfs.Inode
		rel    string
		want   string
	}{
		{path: "/mnt", fs: fs2, rel: "", want: "/mnt"},
		{path: "/mnt/", fs: fs2, rel: "", want: "/mnt"},
		{path: "/mnt/top", fs: fs2, rel: "top", want: "/mnt/top"},
		{path: "mnt/f", fs: fs2, rel: "f", want: "/mnt/f"},
		{path: "/mnt/inner", fs: fs3, rel: "", want: "/mnt/inner"},
		{path: "/mnt/inner/deep", fs: fs3, rel: "deep", want: "/mnt/inner/deep"},
		{path: "/mnt/inner/..", fs: fs2, rel: "", want: "/mnt"},
		{path: "/mnt/inner/../top", fs: fs2, rel: "top", want: "/mnt/top"},
		{path: "/mnt/..", fs: fs1, rel: "", want: "/"},
		{path: "/mnt/../f", fs: fs1, rel: "f", want: "/f"},
		{path: "/mnt/inner/../../other", fs: fs1, rel: "other", want: "/other"},
		{path: "/mnt/inner/../../mnt/inner/deep", fs: fs3, rel: "deep", want: "/mnt/inner/deep"},
		// Symlinks into and out of mounts.
		{path: "/lm", follow: true, fs: fs3, rel: "", want: "/mnt/inner"},
		{path: "/lm/deep", fs: fs3, rel: "deep", want: "/mnt/inner/deep"},
		{path: "/lm/..", fs: fs2, rel: "", want: "/mnt"},
		{path: "/lm2/top", fs: fs2, rel: "top", want: "/mnt/top"},
		{path: "/labs", follow: true, fs: fs2, rel: "top", want: "/mnt/top"},
		{path: "/mnt/up", follow: true, fs: fs1, rel: "", want: "/"},
		{path: "/mnt/up/other", fs: fs1, rel: "other", want: "/other"},
		{path: "/mnt/abs", follow: true, fs: fs1, rel: "f", want: "/f"},
	} {
		p, err := r.Resolve(tc, c.path, c.follow)
		if err != nil {
			t.Errorf("Resolve(%q): %s", c.path, errName(err))
			continue
		}
		if got := ns.PathString(p); got != c.want {
			t.Errorf("Resolve(%q) = %q, want %q", c.path, got, c.want)
		}
		if p.Inode() != lookupRaw(t, c.fs, c.rel) {
			t.Errorf("Resolve(%q) returned an inode of the wrong filesystem or place", c.path)
		}
	}

	// The covered directory's contents are hidden.
	for _, path := range []string{"/mnt/covered", "/mnt/sub", "/mnt/inner/g"} {
		if _, err := r.Resolve(tc, path, true); err != unix.ENOENT {
			t.Errorf("Resolve(%q) = %s, want ENOENT (covered by a mount)", path, errName(err))
		}
	}

	// Mount roots are in their own mounts, with the mount's options.
	mnt := mustResolve(t, r, "/mnt", true)
	if mnt.Mount == ns.Root().Mount {
		t.Errorf("/mnt is in the root mount")
	}
	if !mnt.Same(mnt.Mount.Root()) {
		t.Errorf("/mnt is not its mount's root")
	}
	if mnt.Mount.FSType() != "fs2" || mnt.Mount.ReadOnly() {
		t.Errorf("/mnt mount: type %q, ro %v", mnt.Mount.FSType(), mnt.Mount.ReadOnly())
	}
	inner := mustResolve(t, r, "/mnt/inner", true)
	if inner.Mount.FSType() != "fs3" || !inner.Mount.ReadOnly() {
		t.Errorf("/mnt/inner mount: type %q, ro %v", inner.Mount.FSType(), inner.Mount.ReadOnly())
	}
	if up := mustResolve(t, r, "/mnt/..", true); !up.Same(ns.Root()) {
		t.Errorf("/mnt/.. = %q, not the namespace root", ns.PathString(up))
	}
}

func TestPathSame(t *testing.T) {
	ns, _, fs2, _, r := mountTree(t)
	// Mount fs2 a second time: its inodes are then at two places.
	if err := ns.Mount(mustResolve(t, r, "/other", true), fs2, vfs.MountOptions{FSType: "fs2"}); err != nil {
		t.Fatal(err)
	}
	same := [][2]string{
		{"/mnt", "/mnt/"},
		{"/mnt", "/mnt/inner/.."},
		{"/mnt/top", "/lm2/top"},
		{"/mnt/top", "/labs"},
		{"/", "/mnt/.."},
		{"/", "/mnt/up"},
		{"/mnt/inner/deep", "/lm/deep"},
		{"/other/top", "/other/./top"},
	}
	for _, c := range same {
		p, q := mustResolve(t, r, c[0], true), mustResolve(t, r, c[1], true)
		if !p.Same(q) || !q.Same(p) {
			t.Errorf("%q and %q are not Same", c[0], c[1])
		}
	}
	differ := [][2]string{
		{"/mnt", "/other"},         // same inode, two mounts
		{"/mnt/top", "/other/top"}, // same inode, two mounts
		{"/", "/mnt"},
		{"/mnt", "/mnt/inner"},
		{"/mnt/f", "/f"}, // same path within different mounts
	}
	for _, c := range differ {
		p, q := mustResolve(t, r, c[0], true), mustResolve(t, r, c[1], true)
		if p.Same(q) || q.Same(p) {
			t.Errorf("%q and %q are Same", c[0], c[1])
		}
	}
	a, b := mustResolve(t, r, "/mnt/top", true), mustResolve(t, r, "/other/top", true)
	if a.Inode() != b.Inode() {
		t.Errorf("/mnt/top and /other/top should be the same inode")
	}
	if got := ns.PathString(b); got != "/other/top" {
		t.Errorf("PathString = %q, want /other/top", got)
	}
	if got := ns.PathString(mustResolve(t, r, "/other/up", true)); got != "/" {
		t.Errorf("/other/up = %q, want /", got)
	}
}

func TestPathStringInChroot(t *testing.T) {
	ns, fs1, fs2, _, _ := mountTree(t)
	// Chroot into the mount: PathString still reports namespace paths,
	// "/" is the mount root, and neither ".." nor absolute symlinks leave
	// it.
	r := withRoot(t, ns, "/mnt", "/mnt/inner")
	check(t, ns, r, nil, []resolveCase{
		{path: "/", want: "/mnt"},
		{path: "..", want: "/mnt"},
		{path: "../..", want: "/mnt"},
		{path: "/..", want: "/mnt"},
		{path: "deep", want: "/mnt/inner/deep"},
		{path: "/up", follow: true, want: "/mnt"},
		{path: "/up/top", want: "/mnt/top"},
		{path: "/abs", follow: true, want: "/mnt/f"}, // fs2's f, not fs1's
	})
	if p := mustResolve(t, r, "/abs", true); p.Inode() != lookupRaw(t, fs2, "f") || p.Inode() == lookupRaw(t, fs1, "f") {
		t.Errorf("/abs in the chroot did not resolve to the mount's f")
	}
}

func TestMountErrors(t *testing.T) {
	ns, _, _, _, r := mountTree(t)
	before := len(ns.Mounts(ns.Root()))

	if err := ns.Mount(mustResolve(t, r, "/f", true), newTree(t, 9), vfs.MountOptions{}); err != unix.ENOTDIR {
		t.Errorf("mount on a file = %s, want ENOTDIR", errName(err))
	}
	if err := ns.Mount(mustResolve(t, r, "/mnt/top", true), newTree(t, 9), vfs.MountOptions{}); err != unix.ENOTDIR {
		t.Errorf("mount on a file in a mount = %s, want ENOTDIR", errName(err))
	}
	if err := ns.Mount(mustResolve(t, r, "/lm2", false), newTree(t, 9), vfs.MountOptions{}); err != unix.ENOTDIR {
		t.Errorf("mount on a symlink = %s, want ENOTDIR", errName(err))
	}

	if got := len(ns.Mounts(ns.Root())); got != before {
		t.Errorf("%d mounts after failed mounts, want %d", got, before)
	}
}

// TestMountStacking mounts on mount points (the root of a mount, as
// resolving a mount point gives, or the same Path value again): the new
// mount goes on top, umount takes the topmost one, and MNT_DETACH takes a
// mount with the mounts on it.
func TestMountStacking(t *testing.T) {
	ns, _, _, _, r := mountTree(t)
	mount := func(path, name string) {
		t.Helper()
		if err := ns.Mount(mustResolve(t, r, path, true), newTree(t, 20, name), vfs.MountOptions{}); err != nil {
			t.Fatalf("mount on %q = %s, want success", path, errName(err))
		}
	}
	resolves := func(path string, want error) {
		t.Helper()
		if _, err := r.Resolve(tc, path, true); err != want {
			t.Errorf("%s: %s, want %s", path, errName(err), errName(want))
		}
	}
	mount("/mnt/inner", "s0")
	mount("/lm", "s1")
	mount("/mnt/inner/.", "s2")
	resolves("/mnt/inner/s2", nil)
	resolves("/mnt/inner/s1", unix.ENOENT)
	if err := ns.Unmount(mustResolve(t, r, "/mnt/inner", true), false); err != nil {
		t.Errorf("umount /mnt/inner: %s", errName(err))
	}
	resolves("/mnt/inner/s1", nil)
	mount("/mnt", "s3")
	resolves("/mnt/s3", nil)
	resolves("/mnt/inner", unix.ENOENT)
	if err := ns.Unmount(ns.Topmost(mustResolve(t, r, "/", true)), false); err != unix.EINVAL {
		t.Errorf("umount / = %s, want EINVAL", errName(err))
	}
	if err := ns.Unmount(mustResolve(t, r, "/mnt", true), false); err != nil {
		t.Errorf("umount /mnt: %s", errName(err))
	}
	if err := ns.Unmount(mustResolve(t, r, "/mnt", true), false); err != unix.EBUSY {
		t.Errorf("umount of /mnt with mounts on it = %s, want EBUSY", errName(err))
	}
	held := mustResolve(t, r, "/mnt/inner/s1", true)
	if err := ns.Unmount(mustResolve(t, r, "/mnt", true), true); err != nil {
		t.Errorf("umount -l /mnt: %s", errName(err))
	}
	resolves("/mnt/top", unix.ENOENT)
	resolves("/mnt/covered", nil)
	if got := len(ns.Mounts(ns.Root())); got != 1 {
		t.Errorf("%d mounts, want 1", got)
	}
	if got := ns.PathString(held); got != "/inner/s1" {
		t.Errorf("a path in a detached mount is %q, want /inner/s1", got)
	}
}

func TestMountsListing(t *testing.T) {
	ns, _, _, _, r := mountTree(t)
	for _, path := range []string{"/other", "/other/d", "/other/d/d"} {
		err := ns.Mount(mustResolve(t, r, path, true), newTree(t, 10, "d/"), vfs.MountOptions{FSType: "t" + path, Source: "s" + path})
		if err != nil {
			t.Fatalf("mount on %s: %v", path, err)
		}
	}
	parent := map[string]string{
		"/mnt":       "/",
		"/mnt/inner": "/mnt",
		"/other":     "/",
		"/other/d":   "/other",
		"/other/d/d": "/other/d",
	}
	// Go randomizes map order; list many times so that an order that only
	// happens to be right shows up wrong.
	for range 50 {
		ms := ns.Mounts(ns.Root())
		if len(ms) != 6 {
			t.Fatalf("Mounts() has %d entries, want 6: %+v", len(ms), ms)
		}
		if ms[0].Target != "/" || ms[0].FSType != "tmpfs" || ms[0].Source != "none" {
			t.Fatalf("first mount = %+v, want the root", ms[0])
		}
		idx := map[string]int{}
		for i, m := range ms {
			if _, dup := idx[m.Target]; dup {
				t.Fatalf("%q listed twice", m.Target)
			}
			idx[m.Target] = i
		}
		for child, par := range parent {
			ci, ok := idx[child]
			if !ok {
				t.Fatalf("%q not listed: %+v", child, ms)
			}
			if pi := idx[par]; pi >= ci {
				t.Fatalf("%q listed after its child %q: %+v", par, child, ms)
			}
		}
		for _, m := range ms {
			switch m.Target {
			case "/mnt":
				if m.FSType != "fs2" || m.Source != "src2" || m.ReadOnly {
					t.Fatalf("bad /mnt entry %+v", m)
				}
			case "/mnt/inner":
				if m.FSType != "fs3" || m.Source != "src3" || !m.ReadOnly {
					t.Fatalf("bad /mnt/inner entry %+v", m)
				}
			case "/":
			default:
				if m.FSType != "t"+m.Target || m.Source != "s"+m.Target {
					t.Fatalf("bad %s entry %+v", m.Target, m)
				}
			}
		}
	}
	// The mounts are really stacked where listed.
	if got := ns.PathString(mustResolve(t, r, "/other/d/d/d", true)); got != "/other/d/d/d" {
		t.Errorf("PathString = %q", got)
	}
	if p := mustResolve(t, r, "/other/d/d/..", true); !p.Same(mustResolve(t, r, "/other/d", true)) {
		t.Errorf("/other/d/d/.. = %q, want /other/d", ns.PathString(p))
	}
	if p := mustResolve(t, r, "/other/d/d/../../..", true); !p.Same(ns.Root()) {
		t.Errorf("/other/d/d/../../.. = %q, want /", ns.PathString(p))
	}
}

// statOnly hides an inode's Type (vfs.FileTyper), so that resolution
// falls back to Stat for file types, and counts the Stats.
type statOnly struct {
	vfs.Inode
	stats *int
}

func (s statOnly) Stat(ctx vfs.Context) (vfs.Stat, error) {
	*s.stats++
	return s.Inode.Stat(ctx)
}

func (s statOnly) Lookup(ctx vfs.Context, name string) (vfs.Inode, error) {
	in, err := s.Inode.Lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	return statOnly{in, s.stats}, nil
}

// TestResolveWithoutFileTyper resolves symlinks, trailing slashes and
// files used as directories through inodes that only Stat can type: the
// same answers as through memfs's own inodes, which tell their type
// without a Stat.
func TestResolveWithoutFileTyper(t *testing.T) {
	specs := []string{"f", "dir/", "dir/sub/", "dir/sub/g", "dir/up -> ../f", "lnkdir -> dir/sub", "lnkfile -> f"}
	cases := []resolveCase{
		{path: "dir/sub/g", want: "/dir/sub/g"},
		{path: "dir/up", follow: true, want: "/f"},
		{path: "dir/up", want: "/dir/up"},
		{path: "lnkdir/g", want: "/dir/sub/g"},
		{path: "lnkdir/", want: "/dir/sub"},
		{path: "lnkfile/", err: unix.ENOTDIR},
		{path: "f/x", err: unix.ENOTDIR},
		{path: "dir/sub/g/", err: unix.ENOTDIR},
	}
	stats := 0
	root := statOnly{newTree(t, 1, specs...), &stats}
	ns := vfs.NewMountNamespace(root, vfs.MountOptions{FSType: "tmpfs", Source: "none"})
	check(t, ns, &vfs.Resolver{NS: ns, Root: ns.Root(), Start: ns.Root()}, nil, cases)
	if stats == 0 {
		t.Errorf("no Stat through inodes without Type: the fallback was not taken")
	}

	ns2, root2, r2 := newNS(t, specs...)
	check(t, ns2, r2, root2, cases)
	var typed vfs.Inode = root2
	if _, ok := typed.(vfs.FileTyper); !ok {
		t.Fatalf("memfs inodes do not implement vfs.FileTyper")
	}
}
