package hostfs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"moat/vfs"
	"moat/vfs/vfstest"
)

// app is an unprivileged application's context.
var app = vfstest.Caller{Uid: 1234, Gid: 5678}

// wtree builds a host directory and a directory outside it:
//
//	file.txt        "hello host" 0644
//	d/sub.txt       "sub"
//	d/e/
//	out          -> OUTSIDE (absolute)
//	outrel       -> ../OUTSIDE-name (relative)
//	outfile      -> OUTSIDE/secret
//	fifo
//
//	OUTSIDE/secret  "secret" 0600
func wtree(t *testing.T) (dir, outside string, fs *FS) {
	t.Helper()
	base := t.TempDir()
	dir, outside = filepath.Join(base, "tree"), filepath.Join(base, "outside")
	vfstest.Must(t, os.MkdirAll(filepath.Join(dir, "d", "e"), 0755))
	vfstest.Must(t, os.Mkdir(outside, 0755))
	vfstest.Must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0600))
	vfstest.Must(t, os.WriteFile(filepath.Join(dir, "file.txt"), []byte("hello host"), 0644))
	vfstest.Must(t, os.WriteFile(filepath.Join(dir, "d", "sub.txt"), []byte("sub"), 0644))
	vfstest.Must(t, os.Symlink(outside, filepath.Join(dir, "out")))
	vfstest.Must(t, os.Symlink("../outside", filepath.Join(dir, "outrel")))
	vfstest.Must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "outfile")))
	vfstest.Must(t, unix.Mkfifo(filepath.Join(dir, "fifo"), 0644))
	fs, err := OpenWritable(dir)
	vfstest.Must(t, err)
	t.Cleanup(func() { fs.Close() })
	snap := snapshot(t, outside)
	t.Cleanup(func() {
		if got := snapshot(t, outside); got != snap {
			t.Errorf("the directory outside the tree changed:\nbefore:\n%s\nafter:\n%s", snap, got)
		}
	})
	return dir, outside, fs
}

// snapshot describes everything in dir: names, types, modes, owners,
// sizes, times and contents.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %o %d:%d %d %d.%d", p, st.Mode, st.Uid, st.Gid, st.Size, st.Mtim.Sec, st.Mtim.Nsec)
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %q", data)
		}
		b.WriteByte('\n')
		return nil
	})
	vfstest.Must(t, err)
	return b.String()
}

func walk(t *testing.T, fs *FS, rel string) *Inode {
	t.Helper()
	in := fs.Root()
	for _, c := range strings.Split(rel, "/") {
		in = lookup(t, in, c).(*Inode)
	}
	return in
}

func readHost(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	vfstest.Must(t, err)
	return string(data)
}

func mustNotExist(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); err == nil {
		t.Fatalf("%s exists", p)
	}
}

func isRoot() bool { return os.Geteuid() == 0 }

func TestWritableCreate(t *testing.T) {
	dir, _, fs := wtree(t)
	if !fs.Writable() {
		t.Fatal("not writable")
	}
	r := fs.Root()
	in, err := r.Create(app, "new", 0o666)
	vfstest.Must(t, err)
	hst := hostStat(t, filepath.Join(dir, "new"))
	if hst.Mode != unix.S_IFREG|0o666 {
		t.Fatalf("mode %o, want exactly 0666 (no host umask)", hst.Mode)
	}
	if isRoot() && (hst.Uid != app.Uid || hst.Gid != app.Gid) {
		t.Fatalf("owner %d:%d, want the caller's", hst.Uid, hst.Gid)
	}
	st, err := in.Stat(app)
	vfstest.Must(t, err)
	if st.Ino != hst.Ino || st.Mode != hst.Mode || st.UID != hst.Uid {
		t.Fatalf("inode stat %+v vs host %+v", st, hst)
	}
	// vfs opens what it created by looking it up again.
	f, err := lookup(t, r, "new").Open(app, unix.O_WRONLY)
	vfstest.Must(t, err)
	n, err := f.Write(app, []byte("abc"), 2)
	vfstest.Must(t, err)
	if n != 3 {
		t.Fatalf("wrote %d", n)
	}
	f.Release()
	if got := readHost(t, filepath.Join(dir, "new")); got != "\x00\x00abc" {
		t.Fatalf("host content %q", got)
	}

	_, err = r.Create(app, "new", 0o644)
	vfstest.WantErr(t, err, unix.EEXIST)
	_, err = r.Create(app, "file.txt", 0o644)
	vfstest.WantErr(t, err, unix.EEXIST)
	// O_EXCL: a dangling or outward symlink is an existing name, never
	// followed.
	_, err = r.Create(app, "outfile", 0o644)
	vfstest.WantErr(t, err, unix.EEXIST)
	vfstest.Must(t, os.Symlink("/nonexistent-hostfs-test", filepath.Join(dir, "dangling")))
	_, err = r.Create(app, "dangling", 0o644)
	vfstest.WantErr(t, err, unix.EEXIST)
	// In a subdirectory, with special bits.
	_, err = lookup(t, r, "d").Create(app, "x", 0o2755)
	vfstest.Must(t, err)
	if m := hostStat(t, filepath.Join(dir, "d", "x")).Mode; m&0o7777 != 0o2755 && isRoot() {
		t.Fatalf("mode %o", m)
	}
	// Not a directory.
	_, err = lookup(t, r, "file.txt").Create(app, "x", 0o644)
	vfstest.WantErr(t, err, unix.ENOTDIR)
	_, err = lookup(t, r, "out").Create(app, "x", 0o644)
	vfstest.WantErr(t, err, unix.ENOTDIR)
}

func TestWritableCreateThenOpenReadOnlyMode(t *testing.T) {
	dir, _, fs := wtree(t)
	r := fs.Root()
	// A mode without write permission: open(O_CREAT|O_WRONLY, 0444)
	// still writes (see TestUnprivileged for the non-root case).
	_, err := r.Create(app, "ro", 0o444)
	vfstest.Must(t, err)
	f, err := lookup(t, r, "ro").Open(app, unix.O_RDWR)
	vfstest.Must(t, err)
	_, err = f.Write(app, []byte("obj"), 0)
	vfstest.Must(t, err)
	f.Release()
	if got := readHost(t, filepath.Join(dir, "ro")); got != "obj" {
		t.Fatalf("host content %q", got)
	}
	if m := hostStat(t, filepath.Join(dir, "ro")).Mode; m != unix.S_IFREG|0o444 {
		t.Fatalf("mode %o", m)
	}
}

func TestWritableMkdir(t *testing.T) {
	dir, _, fs := wtree(t)
	r := fs.Root()
	vfstest.Must(t, r.Mkdir(app, "nd", 0o750))
	hst := hostStat(t, filepath.Join(dir, "nd"))
	if hst.Mode != unix.S_IFDIR|0o750 {
		t.Fatalf("mode %o", hst.Mode)
	}
	if isRoot() && (hst.Uid != app.Uid || hst.Gid != app.Gid) {
		t.Fatalf("owner %d:%d", hst.Uid, hst.Gid)
	}
	vfstest.Must(t, r.Mkdir(app, "sticky", 0o1777))
	if m := hostStat(t, filepath.Join(dir, "sticky")).Mode; m != unix.S_IFDIR|0o1777 {
		t.Fatalf("sticky mode %o", m)
	}
	vfstest.WantErr(t, r.Mkdir(app, "nd", 0o755), unix.EEXIST)
	vfstest.WantErr(t, r.Mkdir(app, "file.txt", 0o755), unix.EEXIST)
	vfstest.WantErr(t, r.Mkdir(app, "out", 0o755), unix.EEXIST)
	vfstest.WantErr(t, lookup(t, r, "file.txt").Mkdir(app, "x", 0o755), unix.ENOTDIR)
	// Nested, through the new inode.
	nd := lookup(t, r, "nd")
	vfstest.Must(t, nd.Mkdir(app, "inner", 0o700))
	if _, err := os.Stat(filepath.Join(dir, "nd", "inner")); err != nil {
		t.Fatal(err)
	}

	// A set-group-ID directory gives new entries its group and, to
	// directories, the bit.
	if isRoot() {
		sg := filepath.Join(dir, "sg")
		vfstest.Must(t, os.Mkdir(sg, 0o755))
		vfstest.Must(t, os.Chown(sg, 0, 4321))
		vfstest.Must(t, unix.Chmod(sg, 0o2775)) // os.Chmod drops the bit
		sgi := lookup(t, r, "sg")
		vfstest.Must(t, sgi.Mkdir(app, "sub", 0o755))
		hst := hostStat(t, filepath.Join(sg, "sub"))
		if hst.Gid != 4321 || hst.Uid != app.Uid || hst.Mode != unix.S_IFDIR|0o2755 {
			t.Fatalf("in a setgid dir: %d:%d %o", hst.Uid, hst.Gid, hst.Mode)
		}
		_, err := sgi.Create(app, "f", 0o644)
		vfstest.Must(t, err)
		if hst := hostStat(t, filepath.Join(sg, "f")); hst.Gid != 4321 {
			t.Fatalf("file in a setgid dir: gid %d", hst.Gid)
		}
	}
}

func TestWritableSymlink(t *testing.T) {
	dir, outside, fs := wtree(t)
	r := fs.Root()
	vfstest.Must(t, r.Symlink(app, "l", filepath.Join(outside, "newfile")))
	got, err := os.Readlink(filepath.Join(dir, "l"))
	vfstest.Must(t, err)
	if got != filepath.Join(outside, "newfile") {
		t.Fatalf("readlink %q", got)
	}
	hst := hostStat(t, filepath.Join(dir, "l"))
	if isRoot() && (hst.Uid != app.Uid || hst.Gid != app.Gid) {
		t.Fatalf("owner %d:%d", hst.Uid, hst.Gid)
	}
	in := lookup(t, r, "l")
	if tgt, err := in.Readlink(app); err != nil || tgt != got {
		t.Fatalf("Readlink %q %v", tgt, err)
	}
	// Creating through the new link never reaches its target.
	_, err = r.Create(app, "l", 0o644)
	vfstest.WantErr(t, err, unix.EEXIST)
	mustNotExist(t, filepath.Join(outside, "newfile"))
	vfstest.WantErr(t, r.Symlink(app, "l", "x"), unix.EEXIST)
	vfstest.WantErr(t, r.Symlink(app, "file.txt", "x"), unix.EEXIST)
	vfstest.WantErr(t, r.Symlink(app, "e", ""), unix.ENOENT)
	vfstest.WantErr(t, r.Symlink(app, "long", strings.Repeat("x", vfs.PathMax)), unix.ENAMETOOLONG)
}

func TestWritableMknod(t *testing.T) {
	dir, outside, fs := wtree(t)
	r := fs.Root()
	vfstest.Must(t, r.Mknod(app, "p", unix.S_IFIFO|0o640, 0))
	vfstest.Must(t, r.Mknod(app, "f", 0o600, 0))
	vfstest.Must(t, walk(t, fs, "d").Mknod(app, "p2", unix.S_IFIFO|0o604, 0))
	for _, c := range []struct {
		name string
		mode uint32
	}{{"p", unix.S_IFIFO | 0o640}, {"f", unix.S_IFREG | 0o600}, {"d/p2", unix.S_IFIFO | 0o604}} {
		hst := hostStat(t, filepath.Join(dir, c.name))
		if hst.Mode != c.mode {
			t.Errorf("%s: host mode %#o, want %#o", c.name, hst.Mode, c.mode)
		}
		if isRoot() && (hst.Uid != app.Uid || hst.Gid != app.Gid) {
			t.Errorf("%s: owner %d:%d", c.name, hst.Uid, hst.Gid)
		}
		if st, err := walk(t, fs, c.name).Stat(app); err != nil || st.Mode != c.mode {
			t.Errorf("%s: Stat mode %#o, %v", c.name, st.Mode, err)
		}
	}
	vfstest.WantErr(t, r.Mknod(app, "p", unix.S_IFIFO|0o600, 0), unix.EEXIST)
	vfstest.WantErr(t, r.Mknod(app, "out", unix.S_IFIFO|0o600, 0), unix.EEXIST)
	vfstest.WantErr(t, r.Mknod(app, "c", unix.S_IFCHR|0o600, unix.Mkdev(1, 3)), unix.EPERM)
	vfstest.WantErr(t, r.Mknod(app, "b", unix.S_IFBLK|0o600, unix.Mkdev(7, 0)), unix.EPERM)
	vfstest.WantErr(t, r.Mknod(app, "s", unix.S_IFSOCK|0o600, 0), unix.EPERM)
	vfstest.WantErr(t, r.Mknod(app, "a/b", unix.S_IFIFO|0o600, 0), unix.EINVAL)
	for _, n := range []string{"c", "b", "s"} {
		mustNotExist(t, filepath.Join(dir, n))
	}
	mustNotExist(t, filepath.Join(outside, "p"))
	// Read-only mode: EEXIST for an existing name, else EROFS.
	ro, err := Open(dir)
	vfstest.Must(t, err)
	defer ro.Close()
	vfstest.WantErr(t, ro.Root().Mknod(app, "p", unix.S_IFIFO|0o600, 0), unix.EEXIST)
	vfstest.WantErr(t, ro.Root().Mknod(app, "new", unix.S_IFIFO|0o600, 0), unix.EROFS)
}

func TestWritableLink(t *testing.T) {
	dir, outside, fs := wtree(t)
	r := fs.Root()
	f := lookup(t, r, "file.txt")
	vfstest.Must(t, lookup(t, r, "d").(*Inode).Link(app, "hard", f))
	a, b := hostStat(t, filepath.Join(dir, "file.txt")), hostStat(t, filepath.Join(dir, "d", "hard"))
	if a.Ino != b.Ino || b.Nlink != 2 {
		t.Fatalf("not a hard link: %d %d nlink %d", a.Ino, b.Ino, b.Nlink)
	}
	st, err := f.Stat(app)
	vfstest.Must(t, err)
	if st.Nlink != 2 {
		t.Fatalf("cached nlink %d after Link", st.Nlink)
	}
	vfstest.WantErr(t, r.Link(app, "hard2", lookup(t, r, "d")), unix.EPERM)
	vfstest.WantErr(t, r.Link(app, "file.txt", f), unix.EEXIST)
	other, err := OpenWritable(t.TempDir())
	vfstest.Must(t, err)
	defer other.Close()
	vfstest.WantErr(t, other.Root().Link(app, "x", f), unix.EXDEV)
	vfstest.WantErr(t, r.Link(app, "x", other.Root()), unix.EXDEV)
	// A link to a symlink links the symlink itself.
	vfstest.Must(t, r.Link(app, "outfile2", lookup(t, r, "outfile")))
	if hostStat(t, filepath.Join(dir, "outfile2")).Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Fatal("linked the symlink's target")
	}
	if hostStat(t, filepath.Join(outside, "secret")).Nlink != 1 {
		t.Fatal("the outside file got a link")
	}
	// The by-name fallback (hosts refusing AT_EMPTY_PATH) never follows
	// either, and checks the name still holds the file.
	dfd, err := fs.open("d", unix.O_PATH|unix.O_DIRECTORY)
	vfstest.Must(t, err)
	defer unix.Close(dfd)
	lst := hostStat(t, filepath.Join(dir, "outfile"))
	vfstest.Must(t, fs.linkByName("outfile", &lst, dfd, "byname"))
	if hostStat(t, filepath.Join(dir, "d", "byname")).Ino != lst.Ino {
		t.Fatal("by-name link of the wrong file")
	}
	fst := hostStat(t, filepath.Join(dir, "d", "sub.txt"))
	vfstest.WantErr(t, fs.linkByName("outfile", &fst, dfd, "wrong"), unix.ENOENT)
}

func TestWritableUnlinkRmdir(t *testing.T) {
	dir, outside, fs := wtree(t)
	r := fs.Root()
	vfstest.Must(t, r.Unlink(app, "file.txt"))
	mustNotExist(t, filepath.Join(dir, "file.txt"))
	vfstest.WantErr(t, r.Unlink(app, "file.txt"), unix.ENOENT)
	vfstest.WantErr(t, r.Unlink(app, "d"), unix.EISDIR)
	// Removing a symlink removes the link only.
	vfstest.Must(t, r.Unlink(app, "outfile"))
	vfstest.Must(t, r.Unlink(app, "out"))
	if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
		t.Fatal(err)
	}
	vfstest.WantErr(t, r.Rmdir(app, "d"), unix.ENOTEMPTY)
	vfstest.WantErr(t, r.Rmdir(app, "fifo"), unix.ENOTDIR)
	vfstest.WantErr(t, r.Rmdir(app, "outrel"), unix.ENOTDIR)
	d := lookup(t, r, "d")
	vfstest.Must(t, d.Rmdir(app, "e"))
	vfstest.Must(t, d.Unlink(app, "sub.txt"))
	vfstest.Must(t, r.Rmdir(app, "d"))
	mustNotExist(t, filepath.Join(dir, "d"))
	vfstest.WantErr(t, r.Rmdir(app, "d"), unix.ENOENT)
	// The removed directory's inode is gone, even if the name comes
	// back.
	vfstest.Must(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
	_, err := d.Create(app, "x", 0o644)
	vfstest.WantErr(t, err, unix.ENOENT)
	mustNotExist(t, filepath.Join(dir, "d", "x"))
}

func TestWritableRename(t *testing.T) {
	dir, outside, fs := wtree(t)
	r := fs.Root()
	d := lookup(t, r, "d")
	vfstest.Must(t, r.Rename(app, "file.txt", d, "moved", 0))
	mustNotExist(t, filepath.Join(dir, "file.txt"))
	if readHost(t, filepath.Join(dir, "d", "moved")) != "hello host" {
		t.Fatal("content")
	}
	vfstest.WantErr(t, r.Rename(app, "file.txt", d, "x", 0), unix.ENOENT)
	// Replacing.
	vfstest.Must(t, os.WriteFile(filepath.Join(dir, "a"), []byte("A"), 0o644))
	vfstest.Must(t, d.Rename(app, "moved", r, "a", 0))
	if readHost(t, filepath.Join(dir, "a")) != "hello host" {
		t.Fatal("rename did not replace")
	}
	// RENAME_NOREPLACE and RENAME_EXCHANGE.
	vfstest.Must(t, os.WriteFile(filepath.Join(dir, "b"), []byte("B"), 0o644))
	vfstest.WantErr(t, r.Rename(app, "a", r, "b", unix.RENAME_NOREPLACE), unix.EEXIST)
	vfstest.Must(t, r.Rename(app, "a", r, "c", unix.RENAME_NOREPLACE))
	vfstest.Must(t, r.Rename(app, "c", r, "b", unix.RENAME_EXCHANGE))
	if readHost(t, filepath.Join(dir, "b")) != "hello host" || readHost(t, filepath.Join(dir, "c")) != "B" {
		t.Fatal("exchange")
	}
	vfstest.WantErr(t, r.Rename(app, "c", r, "nothing", unix.RENAME_EXCHANGE), unix.ENOENT)
	vfstest.WantErr(t, r.Rename(app, "c", r, "b", unix.RENAME_EXCHANGE|unix.RENAME_NOREPLACE), unix.EINVAL)
	vfstest.WantErr(t, r.Rename(app, "c", r, "b", unix.RENAME_WHITEOUT), unix.EINVAL)
	// Kinds, as the host reports them.
	vfstest.WantErr(t, r.Rename(app, "d", lookup(t, r, "d"), "x", 0), unix.EINVAL) // into itself
	vfstest.WantErr(t, r.Rename(app, "d", lookup(t, lookup(t, r, "d"), "e"), "x", 0), unix.EINVAL)
	vfstest.Must(t, os.Mkdir(filepath.Join(dir, "full"), 0o755))
	vfstest.Must(t, os.WriteFile(filepath.Join(dir, "full", "f"), nil, 0o644))
	vfstest.WantErr(t, r.Rename(app, "d", r, "full", 0), unix.ENOTEMPTY)
	vfstest.WantErr(t, r.Rename(app, "d", r, "b", 0), unix.ENOTDIR)
	vfstest.WantErr(t, r.Rename(app, "b", r, "d", 0), unix.EISDIR)
	vfstest.WantErr(t, r.Rename(app, "b", lookup(t, r, "b"), "x", 0), unix.ENOTDIR)
	other, err := OpenWritable(t.TempDir())
	vfstest.Must(t, err)
	defer other.Close()
	vfstest.WantErr(t, r.Rename(app, "b", other.Root(), "x", 0), unix.EXDEV)
	// Renaming a symlink moves the link, wherever it points.
	vfstest.Must(t, r.Rename(app, "outfile", d, "lnk", 0))
	if hostStat(t, filepath.Join(dir, "d", "lnk")).Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Fatal("not the link")
	}
	// Onto a symlink: replaces the link, not its target.
	vfstest.Must(t, r.Rename(app, "c", r, "out", 0))
	if fi, err := os.Stat(outside); err != nil || !fi.IsDir() {
		t.Fatal("outside dir touched")
	}
	// Two links of one file: nothing happens.
	vfstest.Must(t, os.Link(filepath.Join(dir, "b"), filepath.Join(dir, "b2")))
	vfstest.Must(t, r.Rename(app, "b", r, "b2", 0))
	if _, err := os.Lstat(filepath.Join(dir, "b")); err != nil {
		t.Fatal("rename between links of one file removed one")
	}
}

// Inodes looked up before a rename made through the FS follow it.
func TestWritableRenameTracking(t *testing.T) {
	dir, _, fs := wtree(t)
	r := fs.Root()
	e := walk(t, fs, "d/e")
	sub := walk(t, fs, "d/sub.txt")
	vfstest.Must(t, r.Rename(app, "d", r, "d2", 0))
	if e.Path() != "d2/e" || sub.Path() != "d2/sub.txt" {
		t.Fatalf("paths %q %q", e.Path(), sub.Path())
	}
	// Someone makes a new "d": the old inodes still reach the moved
	// directory.
	vfstest.Must(t, os.MkdirAll(filepath.Join(dir, "d", "e"), 0o755))
	_, err := e.Create(app, "made", 0o644)
	vfstest.Must(t, err)
	mustNotExist(t, filepath.Join(dir, "d", "e", "made"))
	if _, err := os.Stat(filepath.Join(dir, "d2", "e", "made")); err != nil {
		t.Fatal(err)
	}
	vfstest.Must(t, sub.SetStat(app, unix.STATX_MODE, vfs.Stat{Mode: 0o600}))
	if m := hostStat(t, filepath.Join(dir, "d2", "sub.txt")).Mode; m&0o777 != 0o600 {
		t.Fatalf("mode %o", m)
	}
	// Inodes looked up after a move do not replay it: a new "d" is
	// "d", through the root or a fresh directory inode.
	nd := lookup(t, r, "d").(*Inode)
	ne := lookup(t, nd, "e").(*Inode)
	vfstest.Must(t, r.Mkdir(app, "bump", 0o755)) // unrelated changes
	vfstest.Must(t, r.Rename(app, "bump", r, "bumped", 0))
	if nd.Path() != "d" || ne.Path() != "d/e" {
		t.Fatalf("new inodes moved: %q %q", nd.Path(), ne.Path())
	}
	_, err = ne.Create(app, "fresh", 0o644)
	vfstest.Must(t, err)
	if _, err := os.Stat(filepath.Join(dir, "d", "e", "fresh")); err != nil {
		t.Fatal(err)
	}
	// Exchange swaps the inodes' places.
	vfstest.Must(t, r.Rename(app, "d2", r, "d", unix.RENAME_EXCHANGE))
	if e.Path() != "d/e" {
		t.Fatalf("after exchange: %q", e.Path())
	}
	// A file replaced by a rename: its old inode is gone.
	vfstest.Must(t, os.WriteFile(filepath.Join(dir, "victim"), []byte("v"), 0o644))
	victim := lookup(t, r, "victim").(*Inode)
	vfstest.Must(t, r.Rename(app, "file.txt", r, "victim", 0))
	_, err = victim.Stat(app)
	vfstest.WantErr(t, err, unix.ENOENT)
	vfstest.WantErr(t, victim.SetStat(app, unix.STATX_MODE, vfs.Stat{Mode: 0o600}), unix.ENOENT)
	if m := hostStat(t, filepath.Join(dir, "victim")).Mode; m&0o777 != 0o644 {
		t.Fatalf("a stale inode changed the new file: %o", m)
	}
	// The log is bounded: many moves later inodes still work.
	defer func(n int) { maxMoves = n }(maxMoves)
	maxMoves = 64
	for i := 0; i < 3*maxMoves; i++ {
		_, err := r.Create(app, "tmp", 0o644)
		vfstest.Must(t, err)
		vfstest.Must(t, r.Unlink(app, "tmp"))
	}
	if _, err := e.Stat(app); err != nil {
		t.Fatal(err)
	}
}

func TestWritableSetStat(t *testing.T) {
	dir, _, fs := wtree(t)
	r := fs.Root()
	f := lookup(t, r, "file.txt").(*Inode)
	p := filepath.Join(dir, "file.txt")
	fs.SetAttrTimeout(time.Hour) // changes through the FS must show anyway
	if _, err := f.Stat(app); err != nil {
		t.Fatal(err)
	}
	vfstest.Must(t, f.SetStat(app, unix.STATX_MODE, vfs.Stat{Mode: 0o4751}))
	if m := hostStat(t, p).Mode; m != unix.S_IFREG|0o4751 {
		t.Fatalf("mode %o", m)
	}
	st, err := f.Stat(app)
	vfstest.Must(t, err)
	if st.Mode != unix.S_IFREG|0o4751 {
		t.Fatalf("Stat after SetStat: %o", st.Mode)
	}
	if isRoot() {
		vfstest.Must(t, f.SetStat(app, unix.STATX_UID|unix.STATX_GID, vfs.Stat{UID: 77, GID: 88}))
		if hst := hostStat(t, p); hst.Uid != 77 || hst.Gid != 88 {
			t.Fatalf("owner %d:%d", hst.Uid, hst.Gid)
		}
		vfstest.Must(t, f.SetStat(app, unix.STATX_GID, vfs.Stat{GID: 99}))
		if hst := hostStat(t, p); hst.Uid != 77 || hst.Gid != 99 {
			t.Fatalf("owner %d:%d", hst.Uid, hst.Gid)
		}
	}
	vfstest.Must(t, f.SetStat(app, unix.STATX_SIZE, vfs.Stat{Size: 5}))
	if got := readHost(t, p); got != "hello" {
		t.Fatalf("truncated to %q", got)
	}
	vfstest.Must(t, f.SetStat(app, unix.STATX_SIZE, vfs.Stat{Size: 7}))
	if got := readHost(t, p); got != "hello\x00\x00" {
		t.Fatalf("extended to %q", got)
	}
	vfstest.WantErr(t, f.SetStat(app, unix.STATX_SIZE, vfs.Stat{Size: -1}), unix.EINVAL)
	vfstest.WantErr(t, lookup(t, r, "d").(*Inode).SetStat(app, unix.STATX_SIZE, vfs.Stat{}), unix.EISDIR)
	vfstest.WantErr(t, lookup(t, r, "fifo").(*Inode).SetStat(app, unix.STATX_SIZE, vfs.Stat{}), unix.EINVAL)
	// Times, each alone.
	vfstest.Must(t, f.SetStat(app, unix.STATX_ATIME|unix.STATX_MTIME,
		vfs.Stat{Atime: vfs.Timespec{Sec: 1000, Nsec: 5}, Mtime: vfs.Timespec{Sec: 2000, Nsec: 6}}))
	hst := hostStat(t, p)
	if hst.Atim.Sec != 1000 || hst.Atim.Nsec != 5 || hst.Mtim.Sec != 2000 || hst.Mtim.Nsec != 6 {
		t.Fatalf("times %v %v", hst.Atim, hst.Mtim)
	}
	vfstest.Must(t, f.SetStat(app, unix.STATX_MTIME, vfs.Stat{Mtime: vfs.Timespec{Sec: 3000}}))
	hst = hostStat(t, p)
	if hst.Atim.Sec != 1000 || hst.Mtim.Sec != 3000 {
		t.Fatalf("times %v %v", hst.Atim, hst.Mtim)
	}
	vfstest.WantErr(t, f.SetStat(app, unix.STATX_MTIME, vfs.Stat{Mtime: vfs.Timespec{Nsec: 2e9}}), unix.EINVAL)
	// Directories.
	vfstest.Must(t, lookup(t, r, "d").(*Inode).SetStat(app, unix.STATX_MODE, vfs.Stat{Mode: 0o700}))
	if m := hostStat(t, filepath.Join(dir, "d")).Mode; m != unix.S_IFDIR|0o700 {
		t.Fatalf("dir mode %o", m)
	}
	vfstest.Must(t, r.SetStat(app, unix.STATX_MODE, vfs.Stat{Mode: 0o711}))
	if m := hostStat(t, dir).Mode; m != unix.S_IFDIR|0o711 {
		t.Fatalf("root mode %o", m)
	}
	// The FIFO's mode changes without opening it.
	vfstest.Must(t, lookup(t, r, "fifo").(*Inode).SetStat(app, unix.STATX_MODE, vfs.Stat{Mode: 0o600}))
	if m := hostStat(t, filepath.Join(dir, "fifo")).Mode; m != unix.S_IFIFO|0o600 {
		t.Fatalf("fifo mode %o", m)
	}
	// Missing file.
	vfstest.Must(t, os.Remove(p))
	vfstest.WantErr(t, f.SetStat(app, unix.STATX_MODE, vfs.Stat{Mode: 0o600}), unix.ENOENT)
}

// SetStat on a symlink acts on the link (owner, times) or fails (mode,
// size); the target, outside the tree, never changes (wtree checks).
func TestWritableSetStatSymlink(t *testing.T) {
	dir, _, fs := wtree(t)
	l := lookup(t, fs.Root(), "outfile").(*Inode)
	vfstest.WantErr(t, l.SetStat(app, unix.STATX_MODE, vfs.Stat{Mode: 0o777}), unix.EOPNOTSUPP)
	vfstest.WantErr(t, l.SetStat(app, unix.STATX_SIZE, vfs.Stat{Size: 0}), unix.EINVAL)
	vfstest.WantErr(t, l.SetStat(app, unix.STATX_MODE|unix.STATX_UID, vfs.Stat{Mode: 0o777, UID: 5}), unix.EOPNOTSUPP)
	vfstest.Must(t, l.SetStat(app, unix.STATX_MTIME, vfs.Stat{Mtime: vfs.Timespec{Sec: 12345}}))
	if hostStat(t, filepath.Join(dir, "outfile")).Mtim.Sec != 12345 {
		t.Fatal("link time unchanged")
	}
	if isRoot() {
		vfstest.Must(t, l.SetStat(app, unix.STATX_UID|unix.STATX_GID, vfs.Stat{UID: 42, GID: 43}))
		if hst := hostStat(t, filepath.Join(dir, "outfile")); hst.Uid != 42 || hst.Gid != 43 {
			t.Fatalf("link owner %d:%d", hst.Uid, hst.Gid)
		}
	}
	_, err := l.Open(app, unix.O_WRONLY|unix.O_TRUNC)
	vfstest.WantErr(t, err, unix.ELOOP)
}

// The fallbacks for kernels without fchmodat2 (and without /proc) or
// utimensat's AT_EMPTY_PATH.
func TestWritableSetStatFallbacks(t *testing.T) {
	for _, c := range []struct {
		name                  string
		noChmod2, noProc, noU bool
	}{
		{"procfd", true, false, true},
		{"reopen", true, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			noFchmodat2.Store(c.noChmod2)
			noProcFD.Store(c.noProc)
			noEmptyPathUtimes.Store(c.noU)
			defer func() {
				noFchmodat2.Store(false)
				noProcFD.Store(false)
				noEmptyPathUtimes.Store(false)
			}()
			dir, _, fs := wtree(t)
			r := fs.Root()
			for _, name := range []string{"file.txt", "d"} {
				in := lookup(t, r, name).(*Inode)
				vfstest.Must(t, in.SetStat(app, unix.STATX_MODE, vfs.Stat{Mode: 0o701}))
				if m := hostStat(t, filepath.Join(dir, name)).Mode; m&0o7777 != 0o701 {
					t.Fatalf("%s mode %o", name, m)
				}
				vfstest.Must(t, in.SetStat(app, unix.STATX_MTIME, vfs.Stat{Mtime: vfs.Timespec{Sec: 777}}))
				if s := hostStat(t, filepath.Join(dir, name)).Mtim.Sec; s != 777 {
					t.Fatalf("%s mtime %d", name, s)
				}
			}
			vfstest.Must(t, r.SetStat(app, unix.STATX_MTIME, vfs.Stat{Mtime: vfs.Timespec{Sec: 778}}))
			if s := hostStat(t, dir).Mtim.Sec; s != 778 {
				t.Fatalf("root mtime %d", s)
			}
			l := lookup(t, r, "outfile").(*Inode)
			vfstest.Must(t, l.SetStat(app, unix.STATX_MTIME, vfs.Stat{Mtime: vfs.Timespec{Sec: 779}}))
			if s := hostStat(t, filepath.Join(dir, "outfile")).Mtim.Sec; s != 779 {
				t.Fatalf("link mtime %d", s)
			}
			vfstest.WantErr(t, l.SetStat(app, unix.STATX_MODE, vfs.Stat{Mode: 0o777}), unix.EOPNOTSUPP)
			fifo := lookup(t, r, "fifo").(*Inode)
			vfstest.Must(t, fifo.SetStat(app, unix.STATX_MODE, vfs.Stat{Mode: 0o640}))
			// Mkdir's mode fix uses the same path.
			vfstest.Must(t, r.Mkdir(app, "m", 0o1777))
			if m := hostStat(t, filepath.Join(dir, "m")).Mode; m&0o7777 != 0o1777 {
				t.Fatalf("mkdir mode %o", m)
			}
		})
	}
}

func TestWritableOpen(t *testing.T) {
	dir, _, fs := wtree(t)
	r := fs.Root()
	p := filepath.Join(dir, "file.txt")
	f := lookup(t, r, "file.txt")
	fs.SetAttrTimeout(time.Hour)
	st0, err := f.Stat(app)
	vfstest.Must(t, err)

	w, err := f.Open(app, unix.O_RDWR)
	vfstest.Must(t, err)
	n, err := w.Write(app, []byte("HELLO"), 0)
	vfstest.Must(t, err)
	if n != 5 {
		t.Fatalf("wrote %d", n)
	}
	buf := make([]byte, 20)
	n, err = w.Read(app, buf, 0)
	vfstest.Must(t, err)
	if string(buf[:n]) != "HELLO host" {
		t.Fatalf("read back %q", buf[:n])
	}
	_, err = w.Write(app, []byte("x"), -1)
	vfstest.WantErr(t, err, unix.EINVAL)
	hf := w.(*File)
	vfstest.Must(t, hf.Truncate(3))
	vfstest.WantErr(t, hf.Truncate(-1), unix.EINVAL)
	vfstest.Must(t, hf.Sync(false))
	vfstest.Must(t, hf.Sync(true))
	w.Release()
	if got := readHost(t, p); got != "HEL" {
		t.Fatalf("host content %q", got)
	}
	// Stat sees the writes at once, despite the attribute timeout.
	st, err := f.Stat(app)
	vfstest.Must(t, err)
	if st.Size != 3 || st0.Size == 3 {
		t.Fatalf("stale Stat: size %d", st.Size)
	}

	w, err = f.Open(app, unix.O_WRONLY|unix.O_TRUNC)
	vfstest.Must(t, err)
	if got := readHost(t, p); got != "" {
		t.Fatalf("O_TRUNC left %q", got)
	}
	_, err = w.Write(app, []byte("new"), 0)
	vfstest.Must(t, err)
	w.Release()
	if got := readHost(t, p); got != "new" {
		t.Fatalf("host content %q", got)
	}
	// O_RDONLY|O_TRUNC truncates too (Linux does), but cannot write.
	ro, err := f.Open(app, unix.O_RDONLY|unix.O_TRUNC)
	vfstest.Must(t, err)
	_, err = ro.Write(app, []byte("x"), 0)
	vfstest.WantErr(t, err, unix.EBADF)
	vfstest.WantErr(t, ro.(*File).Truncate(0), unix.EINVAL)
	ro.Release()
	if got := readHost(t, p); got != "" {
		t.Fatalf("O_RDONLY|O_TRUNC left %q", got)
	}

	// Others, as in read-only mode, but writable.
	_, err = r.Open(app, unix.O_RDWR)
	vfstest.WantErr(t, err, unix.EISDIR)
	_, err = lookup(t, r, "out").Open(app, unix.O_WRONLY)
	vfstest.WantErr(t, err, unix.ELOOP)
	done := make(chan error, 1)
	go func() {
		f, err := lookup(t, r, "fifo").Open(app, unix.O_WRONLY)
		if err == nil {
			f.Release()
		}
		done <- err
	}()
	select {
	case err := <-done:
		vfstest.WantErr(t, err, unix.EACCES)
	case <-time.After(5 * time.Second):
		t.Fatal("opening a FIFO for writing blocked")
	}
}

// Names never leave the directory.
func TestWritableBadNames(t *testing.T) {
	dir, _, fs := wtree(t)
	r := fs.Root()
	d := lookup(t, r, "d")
	f := lookup(t, r, "file.txt")
	for _, name := range []string{"..", ".", "", "../x", "a/b", "x\x00", "/etc/x", strings.Repeat("n", 256)} {
		if _, err := d.Create(app, name, 0o644); err == nil {
			t.Fatalf("Create(%q) succeeded", name)
		}
		if d.Mkdir(app, name, 0o755) == nil {
			t.Fatalf("Mkdir(%q) succeeded", name)
		}
		if d.Symlink(app, name, "x") == nil {
			t.Fatalf("Symlink(%q) succeeded", name)
		}
		if d.(*Inode).Link(app, name, f) == nil {
			t.Fatalf("Link(%q) succeeded", name)
		}
		if name != "" && (d.Unlink(app, name) == nil || d.Rmdir(app, name) == nil) {
			t.Fatalf("removing %q succeeded", name)
		}
		if d.Rename(app, "sub.txt", r, name, 0) == nil || r.Rename(app, name, d, "x", 0) == nil {
			t.Fatalf("renaming %q succeeded", name)
		}
	}
	for _, name := range []string{"..", "../x", "a/b"} {
		vfstest.WantErr(t, d.Mkdir(app, name, 0o755), unix.EINVAL)
	}
	// Nothing appeared next to the tree.
	ents, err := os.ReadDir(filepath.Dir(dir))
	vfstest.Must(t, err)
	if len(ents) != 2 {
		t.Fatalf("entries next to the tree: %v", ents)
	}
	mustNotExist(t, filepath.Join(dir, "x"))
}

// Operations through a symlink inside the tree pointing outside never
// reach the outside (wtree checks the outside directory is unchanged).
func TestWritableSymlinkConfinement(t *testing.T) {
	dir, outside, fs := wtree(t)
	r := fs.Root()
	for _, name := range []string{"out", "outrel"} {
		l := lookup(t, r, name)
		_, err := l.Create(app, "x", 0o644)
		vfstest.WantErr(t, err, unix.ENOTDIR)
		vfstest.WantErr(t, l.Mkdir(app, "x", 0o755), unix.ENOTDIR)
		vfstest.WantErr(t, l.Symlink(app, "x", "y"), unix.ENOTDIR)
		vfstest.WantErr(t, l.Unlink(app, "secret"), unix.ENOTDIR)
		vfstest.WantErr(t, l.Rename(app, "secret", r, "stolen", 0), unix.ENOTDIR)
		vfstest.WantErr(t, r.Rename(app, "file.txt", l, "x", 0), unix.ENOTDIR)
		if _, err := l.Lookup(app, "secret"); err == nil {
			t.Fatalf("looked up through %s", name)
		}
	}
	// Even with a forged inode whose directory path crosses the link,
	// the host refuses to follow it.
	forged := &Inode{fs: fs, rel: "out", typ: unix.S_IFDIR}
	forgedRel := &Inode{fs: fs, rel: "d/../out", typ: unix.S_IFDIR}
	forgedUp := &Inode{fs: fs, rel: "..", typ: unix.S_IFDIR}
	forgedAbs := &Inode{fs: fs, rel: outside, typ: unix.S_IFDIR}
	for _, in := range []*Inode{forged, forgedRel, forgedUp, forgedAbs} {
		if _, err := in.Create(app, "x", 0o644); err == nil {
			t.Fatalf("%s: Create succeeded", in.rel)
		}
		if in.Mkdir(app, "x", 0o755) == nil || in.Symlink(app, "x", "y") == nil {
			t.Fatalf("%s: Mkdir/Symlink succeeded", in.rel)
		}
		if in.Unlink(app, "secret") == nil || in.Rename(app, "secret", r, "stolen", 0) == nil {
			t.Fatalf("%s: Unlink/Rename succeeded", in.rel)
		}
		if in.Link(app, "x", lookup(t, r, "file.txt")) == nil {
			t.Fatalf("%s: Link succeeded", in.rel)
		}
		if r.Link(app, "x", in) == nil || r.Rename(app, "file.txt", in, "x", 0) == nil {
			t.Fatalf("%s: Link/Rename into succeeded", in.rel)
		}
	}
	for _, rel := range []string{"outfile", "out/secret", "outrel/secret", "d/../outfile", "../outside/secret", filepath.Join(outside, "secret")} {
		in := &Inode{fs: fs, rel: rel, typ: unix.S_IFREG}
		if in.SetStat(app, unix.STATX_MODE, vfs.Stat{Mode: 0o777}) == nil {
			t.Fatalf("%s: chmod succeeded", rel)
		}
		if in.SetStat(app, unix.STATX_SIZE, vfs.Stat{Size: 0}) == nil {
			t.Fatalf("%s: truncate succeeded", rel)
		}
		// "outfile" and "d/../outfile" (".." that stays inside is
		// fine) are the link itself, whose owner may change.
		onLink := rel == "outfile" || rel == "d/../outfile"
		if !onLink && in.SetStat(app, unix.STATX_UID|unix.STATX_MTIME, vfs.Stat{UID: 9}) == nil {
			t.Fatalf("%s: chown succeeded", rel)
		}
		if f, err := in.Open(app, unix.O_WRONLY|unix.O_TRUNC); err == nil {
			f.Release()
			t.Fatalf("%s: opened for writing", rel)
		}
		if r.Link(app, "x", in) == nil {
			if !onLink {
				t.Fatalf("%s: linked", rel)
			}
			vfstest.Must(t, r.Unlink(app, "x"))
		}
	}
	mustNotExist(t, filepath.Join(dir, "x"))
}

// The host swapping directories and files for symlinks to the outside
// after lookup: later operations on the old inodes fail or act inside.
func TestWritableHostSwap(t *testing.T) {
	dir, outside, fs := wtree(t)
	r := fs.Root()
	d := lookup(t, r, "d")
	e := walk(t, fs, "d/e")
	sub := walk(t, fs, "d/sub.txt")
	f := lookup(t, r, "file.txt")
	vfstest.Must(t, os.Rename(filepath.Join(dir, "d"), filepath.Join(dir, "d.old")))
	vfstest.Must(t, os.Symlink(outside, filepath.Join(dir, "d")))
	vfstest.Must(t, os.Remove(filepath.Join(dir, "file.txt")))
	vfstest.Must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "file.txt")))
	vfstest.Must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "d.old", "sub.txt.new")))
	vfstest.Must(t, os.Rename(filepath.Join(dir, "d.old", "sub.txt.new"), filepath.Join(dir, "d.old", "sub.txt")))
	for _, in := range []vfs.Inode{d, e} {
		if _, err := in.Create(app, "secret", 0o644); err == nil {
			t.Fatal("created through a swapped directory")
		}
		if in.Mkdir(app, "x", 0o755) == nil || in.Symlink(app, "x", "y") == nil {
			t.Fatal("made entries through a swapped directory")
		}
		if in.Unlink(app, "secret") == nil || in.Rename(app, "secret", r, "stolen", 0) == nil {
			t.Fatal("removed through a swapped directory")
		}
		if in.(*Inode).SetStat(app, unix.STATX_MODE, vfs.Stat{Mode: 0o777}) == nil {
			t.Fatal("chmod through a swapped directory")
		}
	}
	for _, in := range []vfs.Inode{f, sub} {
		if in.(*Inode).SetStat(app, unix.STATX_MODE, vfs.Stat{Mode: 0o777}) == nil {
			t.Fatal("chmod of a file swapped for a symlink")
		}
		if in.(*Inode).SetStat(app, unix.STATX_SIZE, vfs.Stat{}) == nil {
			t.Fatal("truncate of a file swapped for a symlink")
		}
		if w, err := in.Open(app, unix.O_RDWR|unix.O_TRUNC); err == nil {
			w.Release()
			t.Fatal("opened a file swapped for a symlink")
		}
		// Times and owners act on the link itself.
		_ = in.(*Inode).SetStat(app, unix.STATX_MTIME|unix.STATX_UID|unix.STATX_GID, vfs.Stat{Mtime: vfs.Timespec{Sec: 1}, UID: 3, GID: 3})
	}
}

// A host racer swaps a directory and a symlink to the outside (atomically,
// RENAME_EXCHANGE) while the FS creates, changes and removes entries below
// it: nothing may ever appear or change outside.
func TestWritableRace(t *testing.T) {
	dir, _, fs := wtree(t)
	r := fs.Root()
	outside := t.TempDir()
	vfstest.Must(t, os.WriteFile(filepath.Join(dir, "d", "e", "f"), []byte("f"), 0o644))
	vfstest.Must(t, os.Mkdir(filepath.Join(outside, "e"), 0o755))
	vfstest.Must(t, os.WriteFile(filepath.Join(outside, "e", "f"), []byte("outside"), 0o644))
	vfstest.Must(t, os.WriteFile(filepath.Join(outside, "f"), []byte("outside"), 0o644))
	vfstest.Must(t, os.Symlink(outside, filepath.Join(dir, "s")))
	vfstest.Must(t, os.Symlink(filepath.Join(outside, "f"), filepath.Join(dir, "d", "e", "fl")))
	snap := snapshot(t, outside)

	stop := make(chan struct{})
	var swaps atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the host racer
		defer wg.Done()
		e := filepath.Join(dir, "d", "e")
		for {
			select {
			case <-stop:
				return
			default:
			}
			unix.Renameat2(unix.AT_FDCWD, filepath.Join(dir, "d"), unix.AT_FDCWD, filepath.Join(dir, "s"), unix.RENAME_EXCHANGE)
			// and the file itself, in whichever place "e" is now
			unix.Renameat2(unix.AT_FDCWD, filepath.Join(e, "f"), unix.AT_FDCWD, filepath.Join(e, "fl"), unix.RENAME_EXCHANGE)
			unix.Renameat2(unix.AT_FDCWD, filepath.Join(dir, "s", "e", "f"), unix.AT_FDCWD, filepath.Join(dir, "s", "e", "fl"), unix.RENAME_EXCHANGE)
			swaps.Add(1)
		}
	}()
	deadline := time.Now().Add(500 * time.Millisecond)
	var ops, ok int
	for i := 0; time.Now().Before(deadline); i++ {
		name := fmt.Sprintf("n%d", i)
		// Held inodes, and fresh lookups racing the swap.
		d, err := r.Lookup(app, "d")
		if err != nil {
			continue
		}
		e, err := d.Lookup(app, "e")
		if err != nil {
			continue
		}
		try := func(err error) {
			ops++
			if err == nil {
				ok++
			}
		}
		_, err = e.Create(app, name, 0o644)
		try(err)
		try(e.Mkdir(app, name+"d", 0o755))
		try(e.Symlink(app, name+"l", "x"))
		try(d.Mkdir(app, name+"dd", 0o755))
		try(e.Rename(app, name, d, name+"r", 0))
		if fi, err := e.Lookup(app, "f"); err == nil {
			try(fi.(*Inode).SetStat(app, unix.STATX_MODE|unix.STATX_MTIME, vfs.Stat{Mode: 0o600, Mtime: vfs.Timespec{Sec: 5}}))
			try(fi.(*Inode).SetStat(app, unix.STATX_SIZE, vfs.Stat{Size: 0}))
			if w, err := fi.Open(app, unix.O_WRONLY|unix.O_TRUNC); err == nil {
				w.Write(app, []byte("in"), 0)
				w.Release()
			}
		}
		try(e.Unlink(app, name+"l"))
		try(e.Rmdir(app, name+"d"))
	}
	close(stop)
	wg.Wait()
	t.Logf("%d swaps, %d operations, %d succeeded", swaps.Load(), ops, ok)
	if got := snapshot(t, outside); got != snap {
		t.Fatalf("the outside changed during the race:\nbefore:\n%s\nafter:\n%s", snap, got)
	}
}

func TestWritableNoFDLeaks(t *testing.T) {
	_, _, fs := wtree(t)
	r := fs.Root()
	before := countFDs(t)
	for i := 0; i < 100; i++ {
		name := fmt.Sprintf("f%d", i)
		_, err := r.Create(app, name, 0o644)
		vfstest.Must(t, err)
		f, err := lookup(t, r, name).Open(app, unix.O_WRONLY)
		vfstest.Must(t, err)
		f.Release()
		vfstest.Must(t, r.Mkdir(app, name+"d", 0o755))
		vfstest.Must(t, r.Symlink(app, name+"l", "t"))
		vfstest.Must(t, r.Link(app, name+"h", lookup(t, r, name)))
		vfstest.Must(t, r.Rename(app, name+"h", r, name+"r", 0))
		vfstest.Must(t, lookup(t, r, name).(*Inode).SetStat(app, setStatMask, vfs.Stat{Mode: 0o600, Size: 1}))
		vfstest.Must(t, r.Unlink(app, name+"r"))
		vfstest.Must(t, r.Rmdir(app, name+"d"))
	}
	if after := countFDs(t); after != before {
		t.Fatalf("%d fds leaked", after-before)
	}
	// Creations never opened keep at most createdMax descriptors, which
	// Close releases.
	for i := 0; i < 2*createdMax; i++ {
		_, err := r.Create(app, fmt.Sprintf("c%d", i), 0o644)
		vfstest.Must(t, err)
	}
	if after := countFDs(t); after != before+createdMax {
		t.Fatalf("%d fds held for unopened creations", after-before)
	}
	fs.Close()
	if after := countFDs(t); after != before-1 {
		t.Fatalf("%d fds after Close, want %d", after, before-1)
	}
}

// ReadDir and Stat keep working in writable mode and see the changes.
func TestWritableReadDir(t *testing.T) {
	_, _, fs := wtree(t)
	r := fs.Root()
	fs.SetAttrTimeout(time.Hour)
	st0, err := r.Stat(app)
	vfstest.Must(t, err)
	vfstest.Must(t, r.Mkdir(app, "zz", 0o755))
	st, err := r.Stat(app)
	vfstest.Must(t, err)
	if st.Nlink != st0.Nlink+1 {
		t.Fatalf("root nlink %d, was %d", st.Nlink, st0.Nlink)
	}
	ents, err := r.ReadDir(app)
	vfstest.Must(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name)
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "d fifo file.txt out outfile outrel zz" {
		t.Fatalf("entries %v", names)
	}
}

// TestUnprivileged runs the cases that need a host user without
// privileges (no CAP_CHOWN, no CAP_DAC_OVERRIDE): as root it runs itself
// again as nobody.
func TestUnprivileged(t *testing.T) {
	if d := os.Getenv("HOSTFS_UNPRIV_DIR"); d != "" {
		unprivileged(t, d)
		return
	}
	if !isRoot() {
		unprivileged(t, t.TempDir())
		return
	}
	base, err := os.MkdirTemp("", "hostfs-unpriv")
	vfstest.Must(t, err)
	defer os.RemoveAll(base)
	vfstest.Must(t, os.Chmod(base, 0o777))
	exe, err := os.Executable()
	vfstest.Must(t, err)
	bin := filepath.Join(base, "hostfs.test")
	src, err := os.Open(exe)
	vfstest.Must(t, err)
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	vfstest.Must(t, err)
	_, err = io.Copy(dst, src)
	src.Close()
	vfstest.Must(t, err)
	vfstest.Must(t, dst.Close())
	tree := filepath.Join(base, "tree")
	vfstest.Must(t, os.Mkdir(tree, 0o755))
	vfstest.Must(t, os.Chown(tree, 65534, 65534))
	cmd := exec.Command(bin, "-test.run=^TestUnprivileged$", "-test.v")
	cmd.Env = append(os.Environ(), "HOSTFS_UNPRIV_DIR="+tree)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out.String())
	}
	t.Logf("as nobody:\n%s", out.String())
	if !strings.Contains(out.String(), "--- PASS: TestUnprivileged") {
		t.Fatalf("as nobody:\n%s", out.String())
	}
}

func unprivileged(t *testing.T, dir string) {
	t.Logf("uid %d euid %d", os.Getuid(), os.Geteuid())
	fs, err := OpenWritable(dir)
	vfstest.Must(t, err)
	defer fs.Close()
	r := fs.Root()
	me := vfstest.Caller{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	// open(O_CREAT|O_WRONLY, 0444) writes, as on Linux (git's objects).
	_, err = r.Create(me, "obj", 0o444)
	vfstest.Must(t, err)
	w, err := lookup(t, r, "obj").Open(me, unix.O_WRONLY)
	vfstest.Must(t, err)
	_, err = w.Write(me, []byte("blob"), 0)
	vfstest.Must(t, err)
	w.Release()
	if got := readHost(t, filepath.Join(dir, "obj")); got != "blob" {
		t.Fatalf("content %q", got)
	}
	// Opened again later, the mode applies.
	_, err = lookup(t, r, "obj").Open(me, unix.O_WRONLY)
	vfstest.WantErr(t, err, unix.EACCES)
	// The app is root, the host user is not: creation works and the
	// entry keeps the host user's ids.
	_, err = r.Create(vfstest.Root, "rootfile", 0o600)
	vfstest.Must(t, err)
	if hst := hostStat(t, filepath.Join(dir, "rootfile")); hst.Uid != me.Uid {
		t.Fatalf("owner %d", hst.Uid)
	}
	vfstest.Must(t, r.Mkdir(vfstest.Root, "rootdir", 0o700))
	vfstest.Must(t, r.Symlink(vfstest.Root, "rootlink", "x"))
	// Changing owners to others is refused by the host.
	vfstest.WantErr(t, lookup(t, r, "rootfile").(*Inode).SetStat(me, unix.STATX_UID, vfs.Stat{UID: 0}), unix.EPERM)
	// chmod of a file without read or write permission (no reopening).
	f := lookup(t, r, "obj").(*Inode)
	vfstest.Must(t, f.SetStat(me, unix.STATX_MODE, vfs.Stat{Mode: 0}))
	vfstest.Must(t, f.SetStat(me, unix.STATX_MODE|unix.STATX_MTIME, vfs.Stat{Mode: 0o644, Mtime: vfs.Timespec{Sec: 9}}))
	// Hard links, with or without the host's AT_EMPTY_PATH.
	vfstest.Must(t, r.Link(me, "obj2", f))
	if hostStat(t, filepath.Join(dir, "obj2")).Ino != hostStat(t, filepath.Join(dir, "obj")).Ino {
		t.Fatal("not linked")
	}
}
