package integration

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestBindRenameRace is the "Files" acceptance check "a racing
// rename-vs-open loop never opens a host file outside the root": inside
// moat, progs/rename_race.c races, for about a second, a process that
// keeps renaming a directory and symlinks pointing out of a rw -v bind
// (../outside and an absolute host path) in and out of one name, against
// threads that keep opening, reading, creating and truncating through
// that name (see the program's comment).
//
// How an escape would show: inside moat a symlink in a bind resolves in
// the sandbox's own tree, where both targets are missing: ../outside
// leads to /mnt/outside, and the absolute target is a directory under the
// host's /tmp, which the sandbox does not see (its /tmp is its own; the
// program checks both at the start). So every open that goes through a
// symlink must fail, and the outside directories can only be read or
// written if moat followed a symlink on the host (say, a check-then-open
// race in its path walk). The program reads back what it opened and
// reports any content but the bind's own "inside\n"; the test then checks
// on the host that the outside directories, the bind's parent and the
// bind itself hold exactly what they held before (no new file, no changed
// secret). The expected output is fixed; a run that never won the race
// against the renamer (no read and no write of the bind's own files) also
// fails, so the race is known to have been exercised.
func TestBindRenameRace(t *testing.T) {
	t.Parallel()
	base := hostTempDir(t)
	d := filepath.Join(base, "d")
	outside := filepath.Join(base, "outside")
	// Under the host's /tmp on purpose: invisible inside moat.
	abs, err := os.MkdirTemp("/tmp", "moat-race-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(abs) })
	for _, dir := range []string{filepath.Join(d, "a.real"), outside} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(d, "a.real", "secret"): "inside\n",
		filepath.Join(d, "f.real"):           "inside\n",
		filepath.Join(d, "w.real"):           "scratch\n",
		filepath.Join(outside, "secret"):     "OUTSIDE-REL\n",
		filepath.Join(abs, "secret"):         "OUTSIDE-ABS\n",
	}
	for p, s := range files {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"a.rel": "../outside",
		"a.abs": abs,
		"f.rel": "../outside/secret",
		"f.abs": filepath.Join(abs, "secret"),
		"w.rel": "../outside/secret",
		"w.abs": filepath.Join(abs, "secret"),
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(d, name)); err != nil {
			t.Fatal(err)
		}
	}

	stdout, stderr, code := runMoat(t, []string{"-v", d + ":/mnt/racebind"},
		[]string{prog("rename_race"), "/mnt/racebind", abs}, "")
	want := `absolute target visible in the sandbox: 0
relative target visible in the sandbox: 0
a.rel/secret visible: 0
a.abs/secret visible: 0
renamer exit status: 0
read inside at least once: 1
wrote inside at least once: 1
secret never read through the bind
done
`
	t.Logf("stderr: %s", tail(stderr, 20))
	if code != 0 || stdout != want {
		t.Errorf("moat exit %d\nstdout (- want, + got):\n%s\nstderr:\n%s", code, lineDiff(want, stdout), tail(stderr, 20))
	}

	// On the host: outside the bind, nothing changed.
	list := func(dir string) string {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return "error: " + err.Error()
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		return strings.Join(names, " ")
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return "error: " + err.Error()
		}
		return string(b)
	}
	dirs := []struct{ dir, want string }{
		{base, "d outside"},
		{outside, "secret"},
		{abs, "secret"},
		{d, "a.abs a.real a.rel f.abs f.real f.rel w.abs w.real w.rel"},
	}
	for _, c := range dirs {
		if got := list(c.dir); got != c.want {
			t.Errorf("host %s holds %q, want %q", c.dir, got, c.want)
		}
	}
	if got := list(filepath.Join(d, "a.real")); got != "new secret" && got != "secret" {
		t.Errorf("host %s/a.real holds %q, want \"new secret\"", d, got)
	}
	for _, p := range []string{filepath.Join(outside, "secret"), filepath.Join(abs, "secret"),
		filepath.Join(d, "a.real", "secret"), filepath.Join(d, "f.real")} {
		if got := read(p); got != files[p] {
			t.Errorf("host %s: %q, want %q", p, got, files[p])
		}
	}
	for name, target := range links {
		if got, err := os.Readlink(filepath.Join(d, name)); err != nil || got != target {
			t.Errorf("host symlink %s: %q %v, want %q", name, got, err, target)
		}
	}
}
