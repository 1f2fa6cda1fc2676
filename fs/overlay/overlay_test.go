package overlay

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"moat/fs/hostfs"
	"moat/fs/memfs"
	"moat/vfs"
	"moat/vfs/vfstest"
)

var c0 = vfstest.Root

const upperDev = 0x77

var oldTime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// lowerTree builds the host (lower) directory:
//
//	etc/conf        "lower conf" 0640
//	etc/other       "other"
//	dir/a dir/b     "A" "B"
//	dir/sub/c       "C"
//	empty/
//	link         -> etc/conf
//	big             1 MiB of data
//	sparse          16 MiB, one byte of data at the end
//	fifo
func lowerTree(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	files := map[string]string{"etc/conf": "lower conf", "etc/other": "other", "dir/a": "A", "dir/b": "B", "dir/sub/c": "C"}
	for p, data := range files {
		full := filepath.Join(d, p)
		vfstest.Must(t, os.MkdirAll(filepath.Dir(full), 0755))
		vfstest.Must(t, os.WriteFile(full, []byte(data), 0644))
	}
	vfstest.Must(t, os.Chmod(filepath.Join(d, "etc/conf"), 0640))
	vfstest.Must(t, os.Mkdir(filepath.Join(d, "empty"), 0700))
	vfstest.Must(t, os.Symlink("etc/conf", filepath.Join(d, "link")))
	vfstest.Must(t, os.WriteFile(filepath.Join(d, "big"), bytes.Repeat([]byte("0123456789abcdef"), 1<<16), 0644))
	sp, err := os.Create(filepath.Join(d, "sparse"))
	vfstest.Must(t, err)
	_, err = sp.WriteAt([]byte("Z"), 16<<20-1)
	vfstest.Must(t, err)
	sp.Close()
	vfstest.Must(t, unix.Mkfifo(filepath.Join(d, "fifo"), 0644))
	for _, p := range []string{"etc/conf", "etc", "dir", "dir/a"} {
		vfstest.Must(t, os.Chtimes(filepath.Join(d, p), oldTime, oldTime))
	}
	return d
}

// snapshot records everything observable about a host tree.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		desc := fmt.Sprintf("mode=%o uid=%d size=%d mtime=%d.%d ino=%d", st.Mode, st.Uid, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ino)
		if de.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" sha=%x", sha256.Sum256(data))
		}
		out[p] = desc
		return nil
	})
	vfstest.Must(t, err)
	return out
}

type env struct {
	dir   string
	upper *memfs.FS
	root  vfs.Inode
	snap  map[string]string
}

func newEnv(t *testing.T, upperBytes int64) *env {
	t.Helper()
	dir := lowerTree(t)
	hfs, err := hostfs.Open(dir)
	vfstest.Must(t, err)
	t.Cleanup(func() { hfs.Close() })
	up := memfs.New(upperDev, memfs.Options{MaxBytes: upperBytes})
	root, err := New(hfs.Root(), up)
	vfstest.Must(t, err)
	e := &env{dir: dir, upper: up, root: root, snap: snapshot(t, dir)}
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		after := snapshot(t, dir)
		for p, s := range e.snap {
			if after[p] != s {
				t.Errorf("host changed: %s: %s -> %s", p, s, after[p])
			}
		}
		for p := range after {
			if _, ok := e.snap[p]; !ok {
				t.Errorf("host gained %s", p)
			}
		}
	})
	return e
}

// walk resolves a slash-separated relative path without following
// symlinks.
func (e *env) walk(t *testing.T, path string) vfs.Inode {
	t.Helper()
	in, err := e.try(path)
	vfstest.Must(t, err)
	return in
}

func (e *env) try(path string) (vfs.Inode, error) {
	in := e.root
	if path == "" {
		return in, nil
	}
	for _, c := range bytes.Split([]byte(path), []byte("/")) {
		var err error
		if in, err = in.Lookup(c0, string(c)); err != nil {
			return nil, err
		}
	}
	return in, nil
}

func (e *env) dirAndName(t *testing.T, path string) (vfs.Inode, string) {
	t.Helper()
	i := bytes.LastIndexByte([]byte(path), '/')
	if i < 0 {
		return e.root, path
	}
	return e.walk(t, path[:i]), path[i+1:]
}

func read(t *testing.T, in vfs.Inode) string {
	t.Helper()
	f, err := in.Open(c0, unix.O_RDONLY)
	vfstest.Must(t, err)
	defer f.Release()
	return readFile(t, f)
}

func readFile(t *testing.T, f vfs.FileImpl) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(c0, buf, int64(len(out)))
		vfstest.Must(t, err)
		if n == 0 {
			return string(out)
		}
		out = append(out, buf[:n]...)
	}
}

func (e *env) write(t *testing.T, path, data string) {
	t.Helper()
	d, name := e.dirAndName(t, path)
	in, err := d.Lookup(c0, name)
	if errors.Is(err, unix.ENOENT) {
		in, err = d.Create(c0, name, 0644)
	}
	vfstest.Must(t, err)
	f, err := in.Open(c0, unix.O_WRONLY|unix.O_TRUNC)
	vfstest.Must(t, err)
	defer f.Release()
	_, err = f.Write(c0, []byte(data), 0)
	vfstest.Must(t, err)
}

func names(t *testing.T, d vfs.Inode) []string {
	t.Helper()
	ents, err := d.ReadDir(c0)
	vfstest.Must(t, err)
	var out []string
	seen := map[string]bool{}
	for _, e := range ents {
		if seen[e.Name] {
			t.Fatalf("duplicate entry %q", e.Name)
		}
		seen[e.Name] = true
		out = append(out, e.Name)
	}
	sort.Strings(out)
	return out
}

func eq(a []string, b ...string) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func stat(t *testing.T, in vfs.Inode) vfs.Stat {
	t.Helper()
	st, err := in.Stat(c0)
	vfstest.Must(t, err)
	return st
}

func hostStat(t *testing.T, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	vfstest.Must(t, unix.Lstat(p, &st))
	return st
}

func TestLowerVisible(t *testing.T) {
	e := newEnv(t, 1<<20)
	if got := read(t, e.walk(t, "etc/conf")); got != "lower conf" {
		t.Fatalf("read %q", got)
	}
	hst := hostStat(t, filepath.Join(e.dir, "etc/conf"))
	st := stat(t, e.walk(t, "etc/conf"))
	if st.Ino != hst.Ino || st.Dev != hst.Dev || st.Mode != hst.Mode {
		t.Fatalf("stat %+v vs host %+v", st, hst)
	}
	if !eq(names(t, e.root), "big", "dir", "empty", "etc", "fifo", "link", "sparse") {
		t.Fatalf("root: %v", names(t, e.root))
	}
	l := e.walk(t, "link")
	if lst := stat(t, l); !lst.IsSymlink() {
		t.Fatal("link is not a symlink")
	}
	target, err := l.Readlink(c0)
	vfstest.Must(t, err)
	if target != "etc/conf" {
		t.Fatalf("readlink %q", target)
	}
	_, err = e.walk(t, "fifo").Open(c0, unix.O_RDONLY)
	vfstest.WantErr(t, err, unix.EACCES)
	_, err = e.root.Lookup(c0, "nope")
	vfstest.WantErr(t, err, unix.ENOENT)
	// The overlay root has the lower root's identity and attributes.
	rst := stat(t, e.root)
	hr := hostStat(t, e.dir)
	if rst.Ino != hr.Ino || rst.Dev != hr.Dev || rst.Mode != hr.Mode || rst.Nlink != 1 {
		t.Fatalf("root stat %+v", rst)
	}
}

func TestWriteCopiesUp(t *testing.T) {
	e := newEnv(t, 1<<20)
	conf := e.walk(t, "etc/conf")
	hst := hostStat(t, filepath.Join(e.dir, "etc/conf"))
	etcBefore := stat(t, e.walk(t, "etc"))

	ro, err := conf.Open(c0, unix.O_RDONLY)
	vfstest.Must(t, err)
	defer ro.Release()

	rw, err := conf.Open(c0, unix.O_RDWR)
	vfstest.Must(t, err)
	// Copy-up alone changes nothing visible.
	st := stat(t, conf)
	if st.Ino != hst.Ino || st.Dev != hst.Dev || st.Mode != unix.S_IFREG|0640 || st.Size != 10 ||
		st.Mtime.Sec != oldTime.Unix() || st.UID != hst.Uid {
		t.Fatalf("after copy-up: %+v", st)
	}
	etcAfter := stat(t, e.walk(t, "etc"))
	if etcAfter.Mtime != etcBefore.Mtime || etcAfter.Ino != etcBefore.Ino || etcAfter.Mode != etcBefore.Mode {
		t.Fatalf("copying etc up changed it: %+v -> %+v", etcBefore, etcAfter)
	}
	_, err = rw.Write(c0, []byte("UPPER"), 0)
	vfstest.Must(t, err)
	rw.Release()
	if got := read(t, conf); got != "UPPER conf" {
		t.Fatalf("overlay reads %q", got)
	}
	// A fresh lookup sees the upper file too.
	if got := read(t, e.walk(t, "etc/conf")); got != "UPPER conf" {
		t.Fatalf("fresh lookup reads %q", got)
	}
	if st := stat(t, conf); st.Mtime.Sec == oldTime.Unix() || st.Ino != hst.Ino {
		t.Fatalf("after write: %+v", st)
	}
	// The fd opened before the copy-up still reads the lower file.
	if got := readFile(t, ro); got != "lower conf" {
		t.Fatalf("old fd reads %q", got)
	}
	data, err := os.ReadFile(filepath.Join(e.dir, "etc/conf"))
	vfstest.Must(t, err)
	if string(data) != "lower conf" {
		t.Fatal("host file modified")
	}
	// fstat through the file agrees with stat.
	f, err := conf.Open(c0, unix.O_RDONLY)
	vfstest.Must(t, err)
	fst, err := f.(interface {
		Stat(vfs.Context) (vfs.Stat, error)
	}).Stat(c0)
	vfstest.Must(t, err)
	f.Release()
	if fst.Ino != hst.Ino || fst.Size != 10 {
		t.Fatalf("fstat %+v", fst)
	}
}

func TestOTruncCopiesNoData(t *testing.T) {
	e := newEnv(t, 64<<10) // "big" (1 MiB) cannot be copied up
	big := e.walk(t, "big")
	_, err := big.Open(c0, unix.O_WRONLY)
	vfstest.WantErr(t, err, unix.ENOSPC)
	_, err = big.Open(c0, unix.O_RDWR)
	vfstest.WantErr(t, err, unix.ENOSPC)
	if used, _, _, _ := e.upper.Usage(); used != 0 {
		t.Fatalf("failed copy-up left %d bytes", used)
	}
	if got := read(t, big); len(got) != 1<<20 {
		t.Fatal("big changed after failed copy-up")
	}
	f, err := big.Open(c0, unix.O_WRONLY|unix.O_TRUNC)
	vfstest.Must(t, err)
	_, err = f.Write(c0, []byte("small"), 0)
	vfstest.Must(t, err)
	f.Release()
	if got := read(t, big); got != "small" {
		t.Fatalf("read %q", got)
	}
	// Truncating through SetStat to 0 also copies no data.
	other := e.walk(t, "etc/other").(*Inode)
	vfstest.Must(t, other.SetStat(c0, unix.STATX_SIZE, vfs.Stat{Size: 0}))
	if got := read(t, other); got != "" {
		t.Fatalf("read %q", got)
	}
}

func TestSparseCopyUp(t *testing.T) {
	e := newEnv(t, 64<<10)
	sp := e.walk(t, "sparse")
	f, err := sp.Open(c0, unix.O_RDWR)
	vfstest.Must(t, err)
	defer f.Release()
	st := stat(t, sp)
	if st.Size != 16<<20 || st.Blocks > 8 {
		t.Fatalf("sparse copy-up: %+v", st)
	}
	buf := make([]byte, 2)
	n, err := f.Read(c0, buf, 16<<20-2)
	vfstest.Must(t, err)
	if n != 2 || buf[0] != 0 || buf[1] != 'Z' {
		t.Fatalf("read %q", buf[:n])
	}
}

func TestCreateInLowerDir(t *testing.T) {
	e := newEnv(t, 1<<20)
	sub := e.walk(t, "dir/sub")
	hsub := hostStat(t, filepath.Join(e.dir, "dir/sub"))
	in, err := sub.Create(c0, "new", 0600)
	vfstest.Must(t, err)
	_, err = sub.Create(c0, "c", 0600)
	vfstest.WantErr(t, err, unix.EEXIST)
	vfstest.WantErr(t, sub.Mkdir(c0, "c", 0755), unix.EEXIST)
	f, err := in.Open(c0, unix.O_WRONLY)
	vfstest.Must(t, err)
	_, err = f.Write(c0, []byte("fresh"), 0)
	vfstest.Must(t, err)
	f.Release()
	if !eq(names(t, sub), "c", "new") {
		t.Fatalf("sub: %v", names(t, sub))
	}
	if got := read(t, e.walk(t, "dir/sub/new")); got != "fresh" {
		t.Fatalf("read %q", got)
	}
	if got := read(t, e.walk(t, "dir/sub/c")); got != "C" {
		t.Fatalf("lower file in copied-up dir reads %q", got)
	}
	// The copied-up chain keeps identities; the new file is the upper's.
	sst := stat(t, sub)
	if sst.Ino != hsub.Ino || sst.Dev != hsub.Dev || sst.Nlink != 1 {
		t.Fatalf("merged dir stat %+v", sst)
	}
	if nst := stat(t, in); nst.Dev != upperDev || nst.Mode != unix.S_IFREG|0600 {
		t.Fatalf("new file stat %+v", nst)
	}
	vfstest.Must(t, sub.Symlink(c0, "sl", "../a"))
	vfstest.Must(t, sub.Mkdir(c0, "nd", 0700))
	if !eq(names(t, sub), "c", "nd", "new", "sl") {
		t.Fatalf("sub: %v", names(t, sub))
	}
	if _, err := os.Lstat(filepath.Join(e.dir, "dir/sub/new")); err == nil {
		t.Fatal("file created on the host")
	}
}

func TestUnlinkLeavesWhiteout(t *testing.T) {
	e := newEnv(t, 1<<20)
	dir := e.walk(t, "dir")
	a := e.walk(t, "dir/a")
	vfstest.Must(t, dir.Unlink(c0, "a"))
	_, err := dir.Lookup(c0, "a")
	vfstest.WantErr(t, err, unix.ENOENT)
	if !eq(names(t, dir), "b", "sub") {
		t.Fatalf("dir: %v", names(t, dir))
	}
	vfstest.WantErr(t, dir.Unlink(c0, "a"), unix.ENOENT)
	// The unlinked inode can still be read through the held reference.
	if got := read(t, a); got != "A" {
		t.Fatalf("held inode reads %q", got)
	}
	// Re-create, then remove again: the lower file must stay hidden.
	e.write(t, "dir/a", "new A")
	if got := read(t, e.walk(t, "dir/a")); got != "new A" {
		t.Fatalf("recreated reads %q", got)
	}
	vfstest.Must(t, dir.Unlink(c0, "a"))
	_, err = dir.Lookup(c0, "a")
	vfstest.WantErr(t, err, unix.ENOENT)
	vfstest.WantErr(t, dir.Unlink(c0, "sub"), unix.EISDIR)
	vfstest.WantErr(t, dir.Rmdir(c0, "b"), unix.ENOTDIR)
	// An upper-only file leaves no whiteout.
	e.write(t, "dir/up", "u")
	vfstest.Must(t, dir.Unlink(c0, "up"))
	if c := e.upper.Root().Child("dir").Child("up"); c != nil {
		t.Fatal("whiteout left for an upper-only file")
	}
}

func TestRmdirMerged(t *testing.T) {
	e := newEnv(t, 1<<20)
	dir := e.walk(t, "dir")
	vfstest.WantErr(t, e.root.Rmdir(c0, "dir"), unix.ENOTEMPTY)
	sub := e.walk(t, "dir/sub")
	vfstest.WantErr(t, dir.Rmdir(c0, "sub"), unix.ENOTEMPTY)
	vfstest.Must(t, sub.Unlink(c0, "c"))
	vfstest.Must(t, dir.Rmdir(c0, "sub"))
	vfstest.Must(t, dir.Unlink(c0, "a"))
	vfstest.WantErr(t, e.root.Rmdir(c0, "dir"), unix.ENOTEMPTY)
	vfstest.Must(t, dir.Unlink(c0, "b"))
	vfstest.Must(t, e.root.Rmdir(c0, "dir"))
	_, err := e.root.Lookup(c0, "dir")
	vfstest.WantErr(t, err, unix.ENOENT)
	// Creating in the removed directory fails.
	_, err = dir.Create(c0, "x", 0644)
	vfstest.WantErr(t, err, unix.ENOENT)
	// A new directory of the same name is opaque: nothing from the lower.
	vfstest.Must(t, e.root.Mkdir(c0, "dir", 0755))
	nd := e.walk(t, "dir")
	if n := names(t, nd); len(n) != 0 {
		t.Fatalf("new dir shows lower entries: %v", n)
	}
	_, err = nd.Lookup(c0, "a")
	vfstest.WantErr(t, err, unix.ENOENT)
	if st := stat(t, nd); st.Dev != upperDev || st.Nlink != 2 {
		t.Fatalf("new dir stat %+v", st)
	}
	// Rmdir of a lower-only empty directory.
	vfstest.Must(t, e.root.Rmdir(c0, "empty"))
	if eq(names(t, e.root), "empty") || func() bool { _, err := e.root.Lookup(c0, "empty"); return err == nil }() {
		t.Fatal("empty still visible")
	}
}

func TestReadDirUnion(t *testing.T) {
	e := newEnv(t, 1<<20)
	dir := e.walk(t, "dir")
	e.write(t, "dir/new", "n")
	e.write(t, "dir/a", "upper A") // copy-up: listed once
	vfstest.Must(t, dir.Unlink(c0, "b"))
	vfstest.Must(t, dir.Mkdir(c0, "b", 0755)) // type changes from file to dir
	ents, err := dir.ReadDir(c0)
	vfstest.Must(t, err)
	got := map[string]vfs.Dirent{}
	for _, en := range ents {
		if _, dup := got[en.Name]; dup {
			t.Fatalf("duplicate %q", en.Name)
		}
		got[en.Name] = en
	}
	if len(got) != 4 || got["b"].Type != unix.DT_DIR || got["a"].Type != unix.DT_REG || got["sub"].Type != unix.DT_DIR {
		t.Fatalf("entries %+v", ents)
	}
	if got["a"].Ino != hostStat(t, filepath.Join(e.dir, "dir/a")).Ino {
		t.Fatal("copied-up entry lost its inode number")
	}
	if got["new"].Ino != stat(t, e.walk(t, "dir/new")).Ino {
		t.Fatal("upper entry inode number")
	}
}

func TestRename(t *testing.T) {
	e := newEnv(t, 1<<20)
	etc := e.walk(t, "etc")
	hconf := hostStat(t, filepath.Join(e.dir, "etc/conf"))
	conf := e.walk(t, "etc/conf")
	vfstest.Must(t, etc.Rename(c0, "conf", etc, "conf2", 0))
	_, err := etc.Lookup(c0, "conf")
	vfstest.WantErr(t, err, unix.ENOENT)
	c2 := e.walk(t, "etc/conf2")
	if c2 != conf {
		t.Fatal("renamed inode is a different object")
	}
	if got := read(t, c2); got != "lower conf" {
		t.Fatalf("renamed reads %q", got)
	}
	if st := stat(t, c2); st.Ino != hconf.Ino {
		t.Fatal("rename changed the inode number")
	}
	if !eq(names(t, etc), "conf2", "other") {
		t.Fatalf("etc: %v", names(t, etc))
	}
	// Lower directories: EXDEV. Merged ones too.
	vfstest.WantErr(t, e.root.Rename(c0, "dir", e.root, "dir2", 0), unix.EXDEV)
	e.write(t, "dir/x", "x")
	vfstest.WantErr(t, e.root.Rename(c0, "dir", e.root, "dir2", 0), unix.EXDEV)
	// Upper-only directories move freely.
	vfstest.Must(t, e.root.Mkdir(c0, "u", 0755))
	e.write(t, "u/f", "F")
	vfstest.Must(t, e.root.Rename(c0, "u", e.walk(t, "dir/sub"), "u2", 0))
	if got := read(t, e.walk(t, "dir/sub/u2/f")); got != "F" {
		t.Fatalf("moved dir content %q", got)
	}
	u2 := e.walk(t, "dir/sub/u2")
	vfstest.WantErr(t, e.walk(t, "dir/sub").Rename(c0, "u2", u2, "x", 0), unix.EINVAL)
	// Onto a non-empty merged directory.
	vfstest.Must(t, e.root.Mkdir(c0, "v", 0755))
	vfstest.WantErr(t, e.root.Rename(c0, "v", e.root, "dir", 0), unix.ENOTEMPTY)
	vfstest.WantErr(t, e.root.Rename(c0, "v", e.root, "big", 0), unix.ENOTDIR)
	vfstest.WantErr(t, e.root.Rename(c0, "big", e.root, "v", 0), unix.EISDIR)
	// Onto an empty lower directory: the moved dir hides the lower one.
	e.write(t, "v/in", "in")
	vfstest.Must(t, e.root.Rename(c0, "v", e.root, "empty", 0))
	if !eq(names(t, e.walk(t, "empty")), "in") {
		t.Fatalf("empty: %v", names(t, e.walk(t, "empty")))
	}
	// NOREPLACE against a lower-only entry.
	vfstest.WantErr(t, etc.Rename(c0, "conf2", etc, "other", unix.RENAME_NOREPLACE), unix.EEXIST)
	vfstest.WantErr(t, etc.Rename(c0, "conf2", etc, "other", unix.RENAME_WHITEOUT), unix.EINVAL)
	// Plain rename over a lower file.
	vfstest.Must(t, etc.Rename(c0, "conf2", etc, "other", 0))
	if got := read(t, e.walk(t, "etc/other")); got != "lower conf" {
		t.Fatalf("other reads %q", got)
	}
	if !eq(names(t, etc), "other") {
		t.Fatalf("etc: %v", names(t, etc))
	}
	// Rename onto a whited-out name and back.
	vfstest.Must(t, e.walk(t, "dir").Unlink(c0, "a"))
	vfstest.Must(t, e.root.Rename(c0, "link", e.walk(t, "dir"), "a", 0))
	if st := stat(t, e.walk(t, "dir/a")); !st.IsSymlink() {
		t.Fatal("dir/a should be the moved symlink")
	}
	// Exchange a lower file with an upper file.
	e.write(t, "dir/up", "UP")
	vfstest.Must(t, e.walk(t, "dir").Rename(c0, "b", e.walk(t, "dir"), "up", unix.RENAME_EXCHANGE))
	if read(t, e.walk(t, "dir/b")) != "UP" || read(t, e.walk(t, "dir/up")) != "B" {
		t.Fatal("exchange")
	}
	vfstest.WantErr(t, e.walk(t, "dir").Rename(c0, "b", e.walk(t, "dir"), "nope", unix.RENAME_EXCHANGE), unix.ENOENT)
	// Rename of a lower FIFO copies it up, as a FIFO.
	vfstest.Must(t, e.root.Rename(c0, "fifo", e.root, "fifo2", 0))
	if st := stat(t, e.walk(t, "fifo2")); st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Fatalf("renamed FIFO: mode %#o", st.Mode)
	}
	// Other filesystems.
	other := memfs.New(1, memfs.Options{}).Root()
	vfstest.WantErr(t, e.root.Rename(c0, "big", other, "x", 0), unix.EXDEV)
}

func TestRenameRemovesLowerSource(t *testing.T) {
	e := newEnv(t, 1<<20)
	// Move a lower file out of a lower-only directory into another one.
	vfstest.Must(t, e.walk(t, "dir/sub").Rename(c0, "c", e.walk(t, "etc"), "c", 0))
	_, err := e.walk(t, "dir/sub").Lookup(c0, "c")
	vfstest.WantErr(t, err, unix.ENOENT)
	if got := read(t, e.walk(t, "etc/c")); got != "C" {
		t.Fatalf("moved file reads %q", got)
	}
	// Now dir/sub is empty in the merged view.
	vfstest.Must(t, e.walk(t, "dir").Rmdir(c0, "sub"))
}

func TestSetStatAndLink(t *testing.T) {
	e := newEnv(t, 1<<20)
	conf := e.walk(t, "etc/conf").(*Inode)
	vfstest.Must(t, conf.SetStat(c0, unix.STATX_MODE, vfs.Stat{Mode: 0600}))
	if st := stat(t, conf); st.Mode != unix.S_IFREG|0600 {
		t.Fatalf("chmod: %o", st.Mode)
	}
	if got := read(t, conf); got != "lower conf" {
		t.Fatalf("chmod lost data: %q", got)
	}
	fifo := e.walk(t, "fifo").(*Inode)
	lowerIno := stat(t, fifo).Ino
	vfstest.Must(t, fifo.SetStat(c0, unix.STATX_MODE, vfs.Stat{Mode: 0600}))
	if st := stat(t, fifo); st.Mode != unix.S_IFIFO|0600 || st.Ino != lowerIno {
		t.Fatalf("chmod of a lower FIFO: mode %#o ino %d (lower %d)", st.Mode, st.Ino, lowerIno)
	}
	dir := e.walk(t, "dir").(*Inode)
	vfstest.Must(t, dir.SetStat(c0, unix.STATX_MTIME, vfs.Stat{Mtime: vfs.Timespec{Sec: 12345}}))
	if st := stat(t, dir); st.Mtime.Sec != 12345 || !eq(names(t, dir), "a", "b", "sub") {
		t.Fatalf("utimes on merged dir: %+v", st)
	}
	// Hard link a lower file.
	root := e.root.(*Inode)
	vfstest.Must(t, root.Link(c0, "conflink", conf))
	if st := stat(t, conf); st.Nlink != 2 {
		t.Fatalf("nlink %d", st.Nlink)
	}
	if got := read(t, e.walk(t, "conflink")); got != "lower conf" {
		t.Fatalf("link reads %q", got)
	}
	vfstest.WantErr(t, root.Link(c0, "conflink", conf), unix.EEXIST)
	vfstest.WantErr(t, root.Link(c0, "x", dir), unix.EPERM)
}

func TestOpenFlags(t *testing.T) {
	e := newEnv(t, 1<<20)
	_, err := e.walk(t, "dir").Open(c0, unix.O_RDWR)
	vfstest.WantErr(t, err, unix.EISDIR)
	_, err = e.walk(t, "link").Open(c0, unix.O_RDONLY)
	vfstest.WantErr(t, err, unix.ELOOP)
	f, err := e.walk(t, "link").Open(c0, unix.O_PATH)
	vfstest.Must(t, err)
	f.Release()
	d, err := e.walk(t, "dir").Open(c0, unix.O_RDONLY)
	vfstest.Must(t, err)
	_, err = d.Read(c0, make([]byte, 1), 0)
	vfstest.WantErr(t, err, unix.EISDIR)
	d.Release()
	// Opening read-only never copies up.
	for i := 0; i < 3; i++ {
		f, err := e.walk(t, "big").Open(c0, unix.O_RDONLY)
		vfstest.Must(t, err)
		f.Release()
	}
	if used, _, inodes, _ := e.upper.Usage(); used != 0 || inodes != 1 {
		t.Fatalf("read-only opens copied up: used=%d inodes=%d", used, inodes)
	}
}

func TestHostileNames(t *testing.T) {
	e := newEnv(t, 1<<20)
	for _, n := range []string{"", ".", "..", "a/b", "x\x00", string(make([]byte, 256))} {
		if _, err := e.root.Lookup(c0, n); err == nil {
			t.Fatalf("Lookup(%q)", n)
		}
		if _, err := e.root.Create(c0, n, 0644); err == nil {
			t.Fatalf("Create(%q)", n)
		}
		if err := e.root.Rename(c0, "big", e.root, n, 0); err == nil {
			t.Fatalf("Rename to %q", n)
		}
	}
	_, err := e.walk(t, "big").Lookup(c0, "x")
	vfstest.WantErr(t, err, unix.ENOTDIR)
	_, err = e.walk(t, "big").ReadDir(c0)
	vfstest.WantErr(t, err, unix.ENOTDIR)
}

func TestConcurrent(t *testing.T) {
	e := newEnv(t, 8<<20)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				dir, err := e.root.Lookup(c0, "dir")
				if err != nil {
					t.Error(err)
					return
				}
				if in, err := dir.Lookup(c0, "a"); err == nil {
					if f, err := in.Open(c0, unix.O_RDWR); err == nil {
						f.Write(c0, []byte{byte(g)}, 0)
						f.Release()
					}
				}
				name := fmt.Sprintf("g%d-%d", g, i)
				if _, err := dir.Create(c0, name, 0644); err != nil {
					t.Error(err)
				}
				dir.ReadDir(c0)
				dir.Rename(c0, name, e.root, name, 0)
				e.root.Unlink(c0, name)
				if sub, err := dir.Lookup(c0, "sub"); err == nil {
					sub.Stat(c0)
					sub.Lookup(c0, "c")
				}
				if i == 25 && g == 0 {
					dir.Unlink(c0, "b")
				}
			}
		}(g)
	}
	wg.Wait()
	if !eq(names(t, e.walk(t, "dir")), "a", "sub") {
		t.Fatalf("dir: %v", names(t, e.walk(t, "dir")))
	}
	if n := names(t, e.root); len(n) != 7 {
		t.Fatalf("root: %v", n)
	}
}

// Inodes dropped by everyone are collected; looking them up again rebuilds
// the same view from the layers.
func TestEvictedInodesRebuild(t *testing.T) {
	e := newEnv(t, 1<<20)
	hsub := hostStat(t, filepath.Join(e.dir, "dir/sub"))
	e.write(t, "dir/sub/new", "n")
	vfstest.Must(t, e.walk(t, "dir").Unlink(c0, "a"))
	vfstest.Must(t, e.walk(t, "etc").Rename(c0, "conf", e.walk(t, "etc"), "conf2", 0))
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	if !eq(names(t, e.walk(t, "dir/sub")), "c", "new") || !eq(names(t, e.walk(t, "dir")), "b", "sub") {
		t.Fatal("merged view changed after eviction")
	}
	if st := stat(t, e.walk(t, "dir/sub")); st.Ino != hsub.Ino || st.Nlink != 1 {
		t.Fatalf("rebuilt merged dir %+v", st)
	}
	if st := stat(t, e.walk(t, "etc/conf2")); st.Ino != hostStat(t, filepath.Join(e.dir, "etc/conf")).Ino {
		t.Fatal("copied-up file lost its origin inode number")
	}
	if _, err := e.try("etc/conf"); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("renamed-away lower file visible again: %v", err)
	}
	// A held directory and a fresh lookup are the same object.
	d := e.walk(t, "dir/sub")
	runtime.GC()
	if e.walk(t, "dir/sub") != d {
		t.Fatal("two live inodes for one directory")
	}
}
