package vfs_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// TestRestrictions checks openat2's resolve flags on a tree with a mount
// (fs2 at /mnt, fs3 at /mnt/inner), starting in /d.
func TestRestrictions(t *testing.T) {
	ns, fs1, _, _, r := mountTree(t)
	mkTree(t, fs1, "d/", "d/e/", "d/file", "d/rel -> e/../file", "d/abs -> /f", "d/out -> ../f",
		"d/e/up -> ../file", "d/tomnt -> ../mnt", "d/inabs -> /file")
	scoped := func(restrict uint64) *vfs.Resolver {
		s := withRoot(t, ns, "/", "/d")
		s.Scope(restrict)
		return s
	}
	for _, c := range []struct {
		name     string
		restrict uint64
		cases    []resolveCase
	}{
		{"none", 0, []resolveCase{
			{path: "out", follow: true, want: "/f"},
			{path: "tomnt/top", follow: true, want: "/mnt/top"},
		}},
		{"nosymlinks", vfs.ResolveNoSymlinks, []resolveCase{
			{path: "file", follow: true, want: "/d/file"},
			{path: "rel", follow: true, err: unix.ELOOP},
			{path: "rel", follow: false, want: "/d/rel"},
			{path: "e/up", follow: true, err: unix.ELOOP},
			{path: "/lm2/f", follow: true, err: unix.ELOOP},
		}},
		{"noxdev", vfs.ResolveNoXDev, []resolveCase{
			{path: "rel", follow: true, want: "/d/file"},
			{path: "/mnt", follow: true, err: unix.EXDEV},
			{path: "/mnt/top", follow: true, err: unix.EXDEV},
			{path: "tomnt", follow: true, err: unix.EXDEV},
			{path: "../other", follow: true, want: "/other"},
			{path: "abs", follow: true, want: "/f"},
		}},
		{"beneath", vfs.ResolveBeneath, []resolveCase{
			{path: "rel", follow: true, want: "/d/file"},
			{path: "e/up", follow: true, want: "/d/file"},
			{path: "e/..", follow: true, want: "/d"},
			{path: "..", follow: true, err: unix.EXDEV},
			{path: "e/../../f", follow: true, err: unix.EXDEV},
			{path: "/f", follow: true, err: unix.EXDEV},
			{path: "abs", follow: true, err: unix.EXDEV},
			{path: "abs", follow: false, want: "/d/abs"},
			{path: "out", follow: true, err: unix.EXDEV},
		}},
		{"inroot", vfs.ResolveInRoot, []resolveCase{
			{path: "/file", follow: true, want: "/d/file"},
			{path: "..", follow: true, want: "/d"},
			{path: "../../e", follow: true, want: "/d/e"},
			{path: "inabs", follow: true, want: "/d/file"},
			{path: "abs", follow: true, err: unix.ENOENT},
			{path: "out", follow: true, err: unix.ENOENT},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			check(t, ns, scoped(c.restrict), nil, c.cases)
		})
	}
	// Without a scope, the resolver keeps the caller's root.
	if s := scoped(vfs.ResolveNoXDev); !s.Root.Same(r.Root) {
		t.Errorf("ResolveNoXDev changed the root")
	}
}
