package hostfs

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"moat/vfs"
	"moat/vfs/vfstest"
)

var c0 = vfstest.Root

// tree builds a host directory:
//
//	file.txt          "hello host"
//	dir/sub.txt       "sub"
//	dir/inner/
//	esc_rel        -> ../../etc/passwd
//	esc_abs        -> /etc/passwd
//	dirlink        -> /etc
//	fifo
func tree(t *testing.T) (string, *FS) {
	t.Helper()
	dir := t.TempDir()
	vfstest.Must(t, os.WriteFile(filepath.Join(dir, "file.txt"), []byte("hello host"), 0644))
	vfstest.Must(t, os.MkdirAll(filepath.Join(dir, "dir", "inner"), 0755))
	vfstest.Must(t, os.WriteFile(filepath.Join(dir, "dir", "sub.txt"), []byte("sub"), 0600))
	vfstest.Must(t, os.Symlink("../../etc/passwd", filepath.Join(dir, "esc_rel")))
	vfstest.Must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "esc_abs")))
	vfstest.Must(t, os.Symlink("/etc", filepath.Join(dir, "dirlink")))
	vfstest.Must(t, unix.Mkfifo(filepath.Join(dir, "fifo"), 0644))
	fs, err := Open(dir)
	vfstest.Must(t, err)
	t.Cleanup(func() { fs.Close() })
	return dir, fs
}

func lookup(t *testing.T, d vfs.Inode, name string) vfs.Inode {
	t.Helper()
	in, err := d.Lookup(c0, name)
	vfstest.Must(t, err)
	return in
}

func hostStat(t *testing.T, path string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	vfstest.Must(t, unix.Lstat(path, &st))
	return st
}

func TestStatMatchesHost(t *testing.T) {
	dir, fs := tree(t)
	r := fs.Root()
	st, err := r.Stat(c0)
	vfstest.Must(t, err)
	hst := hostStat(t, dir)
	if st.Dev != hst.Dev || st.Ino != hst.Ino || !st.IsDir() {
		t.Fatalf("root stat %+v vs host dev %d ino %d", st, hst.Dev, hst.Ino)
	}
	for _, name := range []string{"file.txt", "dir", "esc_rel", "fifo"} {
		in := lookup(t, r, name)
		st, err := in.Stat(c0)
		vfstest.Must(t, err)
		hst := hostStat(t, filepath.Join(dir, name))
		if st.Dev != hst.Dev || st.Ino != hst.Ino || st.Mode != hst.Mode || st.Size != hst.Size ||
			st.Nlink != uint32(hst.Nlink) || st.Mtime.Sec != hst.Mtim.Sec || st.Mtime.Nsec != hst.Mtim.Nsec {
			t.Fatalf("%s: stat %+v vs host %+v", name, st, hst)
		}
	}
	// Stat without a context (vfs.Mount passes nil).
	if _, err := r.Stat(nil); err != nil {
		t.Fatal(err)
	}
}

func TestReadFile(t *testing.T) {
	_, fs := tree(t)
	in := lookup(t, lookup(t, fs.Root(), "dir"), "sub.txt")
	f, err := in.Open(c0, unix.O_RDONLY)
	vfstest.Must(t, err)
	defer f.Release()
	buf := make([]byte, 10)
	n, err := f.Read(c0, buf, 1)
	vfstest.Must(t, err)
	if string(buf[:n]) != "ub" {
		t.Fatalf("read %q", buf[:n])
	}
	n, err = f.Read(c0, buf, 100)
	if n != 0 || err != nil {
		t.Fatalf("read past EOF: %d %v", n, err)
	}
	_, err = f.Read(c0, buf, -1)
	vfstest.WantErr(t, err, unix.EINVAL)
	_, err = f.Write(c0, []byte("x"), 0)
	vfstest.WantErr(t, err, unix.EBADF)
	st, err := f.(*File).Stat(c0)
	vfstest.Must(t, err)
	if st.Size != 3 || st.Mode&0777 != 0600 {
		t.Fatalf("fstat %+v", st)
	}
}

func TestSymlinksNeverFollowed(t *testing.T) {
	_, fs := tree(t)
	r := fs.Root()
	for name, target := range map[string]string{"esc_rel": "../../etc/passwd", "esc_abs": "/etc/passwd", "dirlink": "/etc"} {
		in := lookup(t, r, name)
		st, err := in.Stat(c0)
		vfstest.Must(t, err)
		if !st.IsSymlink() {
			t.Fatalf("%s: not reported as a symlink: %o", name, st.Mode)
		}
		got, err := in.Readlink(c0)
		vfstest.Must(t, err)
		if got != target {
			t.Fatalf("%s: readlink %q, want %q", name, got, target)
		}
		_, err = in.Open(c0, unix.O_RDONLY)
		vfstest.WantErr(t, err, unix.ELOOP)
		if _, err := in.ReadDir(c0); err == nil {
			t.Fatalf("%s: ReadDir on a symlink succeeded", name)
		}
		if _, err := in.Lookup(c0, "passwd"); err == nil {
			t.Fatalf("%s: Lookup through a symlink succeeded", name)
		}
	}
	// The confinement itself: paths through symlinks or ".." never
	// resolve, whatever the caller passes.
	for _, rel := range []string{"dirlink/passwd", "esc_rel", "../etc/passwd", "/etc/passwd", "dir/../../etc/passwd"} {
		fd, err := fs.open(rel, unix.O_RDONLY)
		if err == nil {
			unix.Close(fd)
			t.Fatalf("opened %q", rel)
		}
	}
	_, err := r.Readlink(c0)
	vfstest.WantErr(t, err, unix.EINVAL)
}

// The host swapping a file or directory for a symlink after Lookup must
// not let an open or lookup escape.
func TestHostRaceSymlinkSwap(t *testing.T) {
	dir, fs := tree(t)
	r := fs.Root()
	f := lookup(t, r, "file.txt")
	d := lookup(t, r, "dir")
	vfstest.Must(t, os.Remove(filepath.Join(dir, "file.txt")))
	vfstest.Must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "file.txt")))
	vfstest.Must(t, os.RemoveAll(filepath.Join(dir, "dir")))
	vfstest.Must(t, os.Symlink("/etc", filepath.Join(dir, "dir")))
	if _, err := f.Open(c0, unix.O_RDONLY); err == nil {
		t.Fatal("opened a file swapped for a symlink")
	}
	if _, err := d.Lookup(c0, "passwd"); err == nil {
		t.Fatal("looked up through a directory swapped for a symlink")
	}
	if _, err := d.ReadDir(c0); err == nil {
		t.Fatal("listed a directory swapped for a symlink")
	}
}

func TestSpecialFilesRefused(t *testing.T) {
	dir, fs := tree(t)
	r := fs.Root()
	nodes := []string{"fifo"}
	if err := unix.Mknod(filepath.Join(dir, "null"), unix.S_IFCHR|0666, int(unix.Mkdev(1, 3))); err == nil {
		nodes = append(nodes, "null")
	}
	for _, name := range nodes {
		in := lookup(t, r, name)
		done := make(chan error, 1)
		go func() {
			f, err := in.Open(c0, unix.O_RDONLY)
			if err == nil {
				f.Release()
			}
			done <- err
		}()
		select {
		case err := <-done:
			vfstest.WantErr(t, err, unix.EACCES)
		case <-time.After(5 * time.Second):
			t.Fatalf("opening %s blocked", name)
		}
		// O_PATH is fine: it holds nothing.
		f, err := in.Open(c0, unix.O_PATH)
		vfstest.Must(t, err)
		_, err = f.Read(c0, make([]byte, 1), 0)
		vfstest.WantErr(t, err, unix.EBADF)
		f.Release()
	}
}

func TestReadOnly(t *testing.T) {
	dir, fs := tree(t)
	r := fs.Root()
	_, err := r.Create(c0, "new", 0644)
	vfstest.WantErr(t, err, unix.EROFS)
	_, err = r.Create(c0, "file.txt", 0644)
	vfstest.WantErr(t, err, unix.EEXIST)
	vfstest.WantErr(t, r.Mkdir(c0, "newdir", 0755), unix.EROFS)
	vfstest.WantErr(t, r.Mkdir(c0, "dir", 0755), unix.EEXIST)
	vfstest.WantErr(t, r.Symlink(c0, "l", "x"), unix.EROFS)
	vfstest.WantErr(t, r.Unlink(c0, "file.txt"), unix.EROFS)
	vfstest.WantErr(t, r.Rmdir(c0, "dir"), unix.EROFS)
	vfstest.WantErr(t, r.Rename(c0, "file.txt", r, "x", 0), unix.EROFS)
	vfstest.WantErr(t, r.SetStat(c0, unix.STATX_MODE, vfs.Stat{}), unix.EROFS)
	f := lookup(t, r, "file.txt")
	for _, fl := range []uint32{unix.O_WRONLY, unix.O_RDWR, unix.O_RDONLY | unix.O_TRUNC} {
		_, err := f.Open(c0, fl)
		vfstest.WantErr(t, err, unix.EROFS)
	}
	_, err = r.Open(c0, unix.O_RDWR)
	vfstest.WantErr(t, err, unix.EISDIR)
	data, err := os.ReadFile(filepath.Join(dir, "file.txt"))
	vfstest.Must(t, err)
	if string(data) != "hello host" {
		t.Fatal("host file changed")
	}
	if _, err := os.Lstat(filepath.Join(dir, "new")); err == nil {
		t.Fatal("a file appeared on the host")
	}
}

func TestReadDir(t *testing.T) {
	dir, fs := tree(t)
	ents, err := fs.Root().ReadDir(c0)
	vfstest.Must(t, err)
	host, err := os.ReadDir(dir)
	vfstest.Must(t, err)
	if len(ents) != len(host) {
		t.Fatalf("got %d entries, host has %d", len(ents), len(host))
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name < ents[j].Name })
	for i, h := range host {
		e := ents[i]
		hst := hostStat(t, filepath.Join(dir, h.Name()))
		if e.Name != h.Name() || e.Ino != hst.Ino || e.Type != vfs.DirentType(hst.Mode) {
			t.Fatalf("entry %+v vs host %s ino %d mode %o", e, h.Name(), hst.Ino, hst.Mode)
		}
	}
	_, err = lookup(t, fs.Root(), "file.txt").ReadDir(c0)
	vfstest.WantErr(t, err, unix.ENOTDIR)
}

func TestBadNames(t *testing.T) {
	_, fs := tree(t)
	r := fs.Root()
	for _, name := range []string{"", ".", "..", "dir/sub.txt", "a\x00b", string(make([]byte, 300))} {
		if _, err := r.Lookup(c0, name); err == nil {
			t.Fatalf("Lookup(%q) succeeded", name)
		}
	}
	_, err := r.Lookup(c0, "missing")
	vfstest.WantErr(t, err, unix.ENOENT)
	_, err = lookup(t, r, "file.txt").Lookup(c0, "x")
	vfstest.WantErr(t, err, unix.ENOTDIR)
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

func TestNoFDsHeldPerInode(t *testing.T) {
	_, fs := tree(t)
	r := fs.Root()
	before := countFDs(t)
	var keep []vfs.Inode
	for i := 0; i < 500; i++ {
		d := lookup(t, r, "dir")
		in := lookup(t, d, "sub.txt")
		if _, err := in.Stat(c0); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ReadDir(c0); err != nil {
			t.Fatal(err)
		}
		l := lookup(t, r, "esc_abs")
		if _, err := l.Readlink(c0); err != nil {
			t.Fatal(err)
		}
		keep = append(keep, d, in, l)
	}
	if after := countFDs(t); after > before {
		t.Fatalf("%d host fds leaked for %d live inodes", after-before, len(keep))
	}
	f, err := keep[1].Open(c0, unix.O_RDONLY)
	vfstest.Must(t, err)
	if countFDs(t) != before+1 {
		t.Fatal("an open file should hold exactly one fd")
	}
	f.Release()
	f.Release()
	if countFDs(t) != before {
		t.Fatal("Release did not close the fd")
	}
}

func TestPseudoFilesystemsSealed(t *testing.T) {
	var sfs unix.Statfs_t
	if err := unix.Statfs("/proc", &sfs); err != nil || uint32(sfs.Type) != unix.PROC_SUPER_MAGIC {
		t.Skip("no procfs at /proc")
	}
	if _, err := New("/proc"); err == nil {
		t.Fatal("hostfs on /proc allowed")
	}
	fs, err := Open("/")
	vfstest.Must(t, err)
	defer fs.Close()
	proc := lookup(t, fs.Root(), "proc") // the mount point itself is visible
	st, err := proc.Stat(c0)
	vfstest.Must(t, err)
	if !st.IsDir() {
		t.Fatal("/proc is not a directory")
	}
	_, err = proc.Lookup(c0, "self")
	vfstest.WantErr(t, err, unix.EACCES)
	_, err = proc.Lookup(c0, "1")
	vfstest.WantErr(t, err, unix.EACCES)
	_, err = proc.ReadDir(c0)
	vfstest.WantErr(t, err, unix.EACCES)
	_, err = proc.Open(c0, unix.O_RDONLY)
	vfstest.WantErr(t, err, unix.EACCES)
	// An ordinary host directory still works.
	if _, err := fs.Root().Lookup(c0, "etc"); err != nil {
		t.Fatal(err)
	}
}

func TestSeekDataHole(t *testing.T) {
	dir, fs := tree(t)
	p := filepath.Join(dir, "sparse")
	hf, err := os.Create(p)
	vfstest.Must(t, err)
	_, err = hf.WriteAt([]byte("x"), 1<<20)
	vfstest.Must(t, err)
	hf.Close()
	f, err := lookup(t, fs.Root(), "sparse").Open(c0, unix.O_RDONLY)
	vfstest.Must(t, err)
	defer f.Release()
	hf2 := f.(*File)
	end, err := hf2.SeekHole(1 << 20)
	vfstest.Must(t, err)
	if end != 1<<20+1 {
		t.Fatalf("SeekHole = %d", end)
	}
	_, err = hf2.SeekData(end)
	vfstest.WantErr(t, err, unix.ENXIO)
}

func TestClosed(t *testing.T) {
	_, fs := tree(t)
	r := fs.Root()
	vfstest.Must(t, fs.Close())
	vfstest.Must(t, fs.Close())
	_, err := r.Lookup(c0, "file.txt")
	vfstest.WantErr(t, err, unix.EBADF)
}

// TestLinkTimeout: a symlink's target is reused within the attribute
// timeout, as attributes are, and read from the host without one.
func TestLinkTimeout(t *testing.T) {
	dir, fs := tree(t)
	vfstest.Must(t, os.Symlink("first", filepath.Join(dir, "ln")))
	fs.SetAttrTimeout(time.Hour)
	in := lookup(t, fs.Root(), "ln")
	readlink := func(want string) {
		t.Helper()
		got, err := in.Readlink(c0)
		vfstest.Must(t, err)
		if got != want {
			t.Fatalf("Readlink = %q, want %q", got, want)
		}
	}
	readlink("first")
	vfstest.Must(t, os.Remove(filepath.Join(dir, "ln")))
	vfstest.Must(t, os.Symlink("second", filepath.Join(dir, "ln")))
	readlink("first")
	fs.SetAttrTimeout(0)
	readlink("second")
}

func TestAttrTimeout(t *testing.T) {
	dir, fs := tree(t)
	p := filepath.Join(dir, "file.txt")
	fs.SetAttrTimeout(time.Hour)
	in := lookup(t, fs.Root(), "file.txt")
	vfstest.Must(t, os.Chmod(p, 0600))
	st, err := in.Stat(c0)
	vfstest.Must(t, err)
	if st.Mode&0777 != 0644 {
		t.Fatalf("within the timeout Stat should reuse the lookup's attributes, got %o", st.Mode)
	}
	// Data is always fresh.
	vfstest.Must(t, os.WriteFile(p, []byte("changed"), 0600))
	f, err := in.Open(c0, unix.O_RDONLY)
	vfstest.Must(t, err)
	buf := make([]byte, 20)
	n, _ := f.Read(c0, buf, 0)
	f.Release()
	if string(buf[:n]) != "changed" {
		t.Fatalf("read %q", buf[:n])
	}
	fs.SetAttrTimeout(0)
	st, err = in.Stat(c0)
	vfstest.Must(t, err)
	if st.Mode&0777 != 0600 || st.Size != 7 {
		t.Fatalf("without a timeout Stat must ask the host: %+v", st)
	}
	vfstest.Must(t, os.Remove(p))
	_, err = in.Stat(c0)
	vfstest.WantErr(t, err, unix.ENOENT)
}
