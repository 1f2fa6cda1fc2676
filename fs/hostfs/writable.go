package hostfs

// Writable mode (OpenWritable), for bind mounts.
//
// Confinement is Open's: nothing is ever reached by a path that the host
// resolves on its own. An operation on the entry name of a directory opens
// the directory with fs.open (openat2 beneath the root, no symlinks, no
// magic links: O_PATH|O_DIRECTORY) and then uses the *at call with that
// descriptor and the single component name, which vfs.CheckName has
// checked (not empty, not "." or "..", no "/"): mkdirat, symlinkat,
// mknodat (FIFOs and regular files only), unlinkat, renameat2, linkat
// without AT_SYMLINK_FOLLOW, and openat2 with O_CREAT|O_EXCL|O_NOFOLLOW. None of these follows a final symlink, so
// they act on the entry itself. Attribute changes open the file itself
// (O_PATH, no final symlink) the same way and act on that descriptor:
// fchownat(fd, "", AT_EMPTY_PATH), utimensat(fd, "", AT_EMPTY_PATH),
// fchmodat2(fd, "", AT_EMPTY_PATH) (see chmodFD for kernels before 6.6),
// and ftruncate on a descriptor opened for writing. Symlinks are never
// followed on the host: changing a symlink's mode fails with EOPNOTSUPP
// (fchmodat2's answer); its owner and times change on the link itself.
//
// What a host user racing the sandbox can still do: a directory that the
// sandbox opened for an operation and that the host then moves out of the
// tree (which needs write access outside it) gets that one operation, as
// with any open directory descriptor; nothing else can ever be reached.
//
// Errors are the host's errnos, which are Linux's (EEXIST, ENOENT,
// ENOTEMPTY, ENOTDIR, EISDIR, EXDEV across host mounts, EINVAL for moving
// a directory into itself, EPERM for hard links to directories, ...);
// like Open, a path that tries to leave the root reads as ENOENT.
//
// Owners: files, directories, FIFOs and symlinks created through the FS are
// chowned to the caller's (vfs.Context's) UID and GID, as Linux would
// create them; a directory with the set-group-ID bit gives new entries its
// group, as on Linux. If the host refuses (moat runs without CAP_CHOWN and
// the ids differ), the entry keeps the host user's ids: creation does not
// fail for it. Modes: the host's umask does not apply; the entry gets
// exactly the mode vfs passed (which has the application's umask applied).
//
// Creating then opening: vfs creates a file (Create) and then opens it
// (Lookup, Open). Linux lets open(O_CREAT) write to a new file whatever its
// mode (git writes its objects with mode 0444); so Create keeps the
// read-write descriptor it created the file with for the next Open of the
// same file (matched by device and inode number; kept at most
// createdTTL, createdMax of them).
//
// Renames: inodes hold paths, so after a rename made through the FS the
// inodes looked up before it (a working directory, a directory descriptor,
// the file of an open descriptor) would name the old place. The FS keeps a
// log of its renames and removals (the last maxMoves of them), and an inode
// replays the entries since its lookup before every use: it follows its
// file to the new name, and an inode whose name was removed through the FS
// fails with ENOENT instead of reaching a new file of the same name.
// Changes made on the host itself are seen by path, as in read-only mode.
//
// Attributes: every change made through the FS (including every write)
// invalidates all the attributes Stat keeps (FS.changes), so the sandbox
// always sees its own changes at once; host changes, as in read-only mode,
// within DefaultAttrTimeout.
//
// Locks: moves.mu serializes renames and removals (with the syscall, so
// that the log is in the host's order) and log replays; created.mu guards
// the created descriptors. Neither is held while calling into vfs.

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"moat/vfs"
)

// place is where an inode is: its path from the root, valid once the
// first gen entries of the FS's move log have been applied.
type place struct {
	rel  string
	gen  uint64
	dead bool // removed through the FS
}

// Kinds of move.
const (
	moveRename = iota
	moveExchange
	moveRemove
)

// move is one entry of the move log: from was renamed to to, exchanged
// with to, or removed.
type move struct {
	kind     uint8
	from, to string
}

// maxMoves is how many moves the log keeps (a variable for tests). An
// inode unused for longer than that many renames and removals keeps its
// path.
var maxMoves = 4096

// moveLog records the renames and removals made through a writable FS.
type moveLog struct {
	gen     atomic.Uint64 // moves ever recorded: first + len(entries)
	mu      sync.Mutex    // serializes renames, removals and replays
	first   uint64        // gen of entries[0]
	entries []move
}

// recordLocked appends m.
//
// Preconditions: mu is held.
func (l *moveLog) recordLocked(m move) {
	if len(l.entries) >= maxMoves {
		drop := len(l.entries) - maxMoves/2
		n := copy(l.entries, l.entries[drop:])
		clear(l.entries[n:])
		l.entries = l.entries[:n]
		l.first += uint64(drop)
	}
	l.entries = append(l.entries, m)
	l.gen.Add(1)
}

// under reports whether rel is dir or below it, and returns the rest of
// rel after dir ("" or "/...").
func under(rel, dir string) (string, bool) {
	if !strings.HasPrefix(rel, dir) {
		return "", false
	}
	rest := rel[len(dir):]
	if rest == "" || rest[0] == '/' {
		return rest, true
	}
	return "", false
}

// apply updates p for m.
func (p *place) apply(m move) {
	if p.dead {
		return
	}
	if rest, ok := under(p.rel, m.from); ok {
		if m.kind == moveRemove {
			p.dead = true
		} else {
			p.rel = m.to + rest
		}
		return
	}
	if m.kind == moveExchange {
		if rest, ok := under(p.rel, m.to); ok {
			p.rel = m.from + rest
		}
	}
}

// place returns where in is now. Inodes without a record (the root, and
// every inode in read-only mode) never move; their place is valid now.
func (in *Inode) place() place {
	p := in.moved.Load()
	gen := in.fs.moves.gen.Load()
	if p == nil {
		return place{rel: in.rel, gen: gen}
	}
	if p.gen == gen {
		return *p
	}
	in.fs.moves.mu.Lock()
	defer in.fs.moves.mu.Unlock()
	return in.placeLocked()
}

// placeLocked is place for callers holding the log's lock.
//
// Preconditions: fs.moves.mu is held.
func (in *Inode) placeLocked() place {
	p := in.moved.Load()
	l := &in.fs.moves
	gen := l.gen.Load()
	if p == nil {
		return place{rel: in.rel, gen: gen}
	}
	if p.gen == gen {
		return *p
	}
	np := *p
	if p.gen >= l.first { // else the entries are gone: keep the path
		for _, m := range l.entries[p.gen-l.first:] {
			np.apply(m)
		}
	}
	np.gen = gen
	in.moved.Store(&np)
	return np
}

// createdMax and createdTTL bound the descriptors Create keeps for the
// Open that follows it.
const (
	createdMax = 32
	createdTTL = 10 * time.Second
)

type createdFile struct {
	fd       int
	dev, ino uint64
	at       time.Time
}

// createdFiles holds the read-write descriptors of files just created.
type createdFiles struct {
	n      atomic.Int32 // len(files), to skip the lock when empty
	mu     sync.Mutex
	files  []createdFile
	closed bool
}

// put keeps fd, of the new file dev/ino, for take; it closes expired ones.
func (c *createdFiles) put(fd int, dev, ino uint64) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		unix.Close(fd)
		return
	}
	kept := c.files[:0]
	for _, f := range c.files {
		if now.Sub(f.at) > createdTTL || f.dev == dev && f.ino == ino {
			unix.Close(f.fd)
			continue
		}
		kept = append(kept, f)
	}
	clear(c.files[len(kept):])
	c.files = kept
	if len(c.files) >= createdMax {
		unix.Close(c.files[0].fd)
		c.files = append(c.files[:0], c.files[1:]...)
	}
	c.files = append(c.files, createdFile{fd: fd, dev: dev, ino: ino, at: now})
	c.n.Store(int32(len(c.files)))
}

// take returns the kept descriptor of file dev/ino, if any; the caller
// owns it.
func (c *createdFiles) take(dev, ino uint64) (int, bool) {
	if c.n.Load() == 0 {
		return -1, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, f := range c.files {
		if f.dev == dev && f.ino == ino {
			c.files = append(c.files[:i], c.files[i+1:]...)
			c.n.Store(int32(len(c.files)))
			if time.Since(f.at) > createdTTL {
				unix.Close(f.fd)
				return -1, false
			}
			return f.fd, true
		}
	}
	return -1, false
}

// closeAll closes every kept descriptor; later puts close theirs.
func (c *createdFiles) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.files {
		unix.Close(f.fd)
	}
	c.files = nil
	c.closed = true
	c.n.Store(0)
}

// openAt opens the single component name of the directory dirfd, with
// fs.open's confinement (mode only with O_CREAT).
func openAt(dirfd int, name string, flags int, mode uint32) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_NOFOLLOW | unix.O_CLOEXEC),
		Mode:    uint64(mode),
		Resolve: resolveFlags,
	}
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(dirfd, name, &how)
		switch {
		case err == nil:
			return fd, nil
		case err == unix.EINTR, err == unix.EAGAIN && tries < 16:
			continue
		case err == unix.EXDEV:
			return -1, unix.ENOENT
		}
		return -1, err
	}
}

// openDir opens directory in, at p, for an operation on one of its
// entries: an O_PATH descriptor.
func (in *Inode) openDir(p place) (int, error) {
	switch {
	case in.typ != unix.S_IFDIR:
		return -1, unix.ENOTDIR
	case in.sealed:
		return -1, unix.EACCES
	case p.dead:
		return -1, unix.ENOENT
	}
	return in.fs.open(p.rel, unix.O_PATH|unix.O_DIRECTORY)
}

// openEntryDir is entry and then openDir for name in in, at its current
// place: what an operation that makes an entry starts with. The caller
// closes dfd.
func (in *Inode) openEntryDir(name string) (p place, rel string, dfd int, err error) {
	p = in.place()
	if rel, err = entry(p, name); err != nil {
		return p, "", -1, err
	}
	dfd, err = in.openDir(p)
	return p, rel, dfd, err
}

// entry checks the name of a new entry of the directory at p and returns
// its path.
func entry(p place, name string) (string, error) {
	if err := vfs.CheckName(name); err != nil {
		return "", err
	}
	rel := join(p.rel, name)
	if len(rel) >= vfs.PathMax {
		return "", unix.ENAMETOOLONG
	}
	return rel, nil
}

// split returns the parent directory and last component of rel ("." for
// the root itself).
func split(rel string) (dir, name string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		if rel == "." {
			return ".", "."
		}
		return ".", rel
	}
	return rel[:i], rel[i+1:]
}

// fixOwner gives the new entry fd (an O_PATH or open descriptor), whose
// attributes are st, of the directory dirfd the caller's uid and gid, as
// Linux would have (the directory's group if it is set-group-ID). It
// reports whether it changed anything. Failures are ignored: the entry
// then keeps the host user's ids.
func fixOwner(ctx vfs.Context, dirfd, fd int, st *unix.Stat_t) bool {
	if ctx == nil {
		return false
	}
	uid, gid := int(ctx.UID()), int(ctx.GID())
	if uint32(uid) == st.Uid {
		uid = -1
	}
	if uint32(gid) == st.Gid {
		gid = -1
	} else if dst, err := fstat(dirfd); err != nil || dst.Mode&unix.S_ISGID != 0 {
		gid = -1
	}
	if uid == -1 && gid == -1 {
		return false
	}
	return unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW) == nil
}

// Test hooks: pretend the kernel lacks fchmodat2 (before 6.6),
// utimensat's AT_EMPTY_PATH (before 5.8), or /proc.
var (
	noFchmodat2       atomic.Bool
	noEmptyPathUtimes atomic.Bool
	noProcFD          atomic.Bool
)

var procFDWorks = sync.OnceValue(func() bool {
	var sfs unix.Statfs_t
	return unix.Statfs("/proc/self/fd", &sfs) == nil && uint32(sfs.Type) == unix.PROC_SUPER_MAGIC
})

// procFDPath returns the /proc/self/fd path of fd, whose magic link leads
// to exactly fd's file, if procfs is there.
func procFDPath(fd int) (string, bool) {
	if noProcFD.Load() || !procFDWorks() {
		return "", false
	}
	return "/proc/self/fd/" + strconv.Itoa(fd), true
}

func fchmodat2(dirfd int, path string, mode uint32, flags int) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	_, _, e := unix.Syscall6(unix.SYS_FCHMODAT2, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(mode), uintptr(flags), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// reopen opens the file at rel, which the O_PATH descriptor pathFD (of
// type typ) refers to, for real, for calls that have no form taking an
// O_PATH descriptor on older kernels. It fails with ENOENT if rel names
// another file by now.
func (fs *FS) reopen(rel string, pathFD int, typ uint32) (int, error) {
	var tries []int
	switch typ {
	case unix.S_IFDIR:
		tries = []int{unix.O_RDONLY | unix.O_DIRECTORY}
	case unix.S_IFREG:
		tries = []int{unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY, unix.O_WRONLY | unix.O_NONBLOCK | unix.O_NOCTTY}
	case unix.S_IFIFO:
		tries = []int{unix.O_RDONLY | unix.O_NONBLOCK}
	default:
		return -1, unix.EOPNOTSUPP
	}
	want, err := fstat(pathFD)
	if err != nil {
		return -1, err
	}
	for _, fl := range tries {
		var fd int
		fd, err = fs.open(rel, fl)
		if err == unix.EACCES {
			continue
		}
		if err != nil {
			return -1, err
		}
		st, err := fstat(fd)
		if err == nil && (st.Dev != want.Dev || st.Ino != want.Ino) {
			err = unix.ENOENT
		}
		if err != nil {
			unix.Close(fd)
			return -1, err
		}
		return fd, nil
	}
	return -1, err
}

// chmodFD sets the permission bits of the file of the O_PATH descriptor
// fd, at rel, of type typ, to mode: fchmodat2(fd, "", AT_EMPTY_PATH)
// (Linux 6.6+), else chmod of /proc/self/fd/N, else fchmod of the file
// opened again. Symlinks: EOPNOTSUPP.
func (fs *FS) chmodFD(fd int, rel string, typ, mode uint32) error {
	if typ == unix.S_IFLNK {
		return unix.EOPNOTSUPP
	}
	if !noFchmodat2.Load() {
		err := fchmodat2(fd, "", mode, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
		if err != unix.ENOSYS && err != unix.EINVAL { // EINVAL: the flags
			return err
		}
		noFchmodat2.Store(true)
	}
	if p, ok := procFDPath(fd); ok {
		return unix.Fchmodat(unix.AT_FDCWD, p, mode, 0)
	}
	rfd, err := fs.reopen(rel, fd, typ)
	if err != nil {
		return err
	}
	defer unix.Close(rfd)
	return unix.Fchmod(rfd, mode)
}

// utimesFD sets the times of the file of the O_PATH descriptor fd, at rel:
// utimensat(fd, "", AT_EMPTY_PATH), else utimensat of its name in its
// parent directory without following it.
func (fs *FS) utimesFD(fd int, rel string, ts *[2]unix.Timespec) error {
	if !noEmptyPathUtimes.Load() {
		err := unix.UtimesNanoAt(fd, "", ts[:], unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
		if err != unix.EINVAL { // the times are valid: EINVAL is the flag
			return err
		}
		noEmptyPathUtimes.Store(true)
	}
	dir, name := split(rel)
	dfd, err := fs.open(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	want, err := fstat(fd)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Dev != want.Dev || st.Ino != want.Ino {
		return unix.ENOENT
	}
	return unix.UtimesNanoAt(dfd, name, ts[:], unix.AT_SYMLINK_NOFOLLOW)
}

// create implements Create in writable mode: openat2(O_CREAT|O_EXCL) in
// the directory, owned by the caller, with exactly mode's permissions.
func (in *Inode) create(ctx vfs.Context, name string, mode uint32) (vfs.Inode, error) {
	p, rel, dfd, err := in.openEntryDir(name)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dfd)
	perm := mode & 0o7777
	fd, err := openAt(dfd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, perm)
	if err != nil {
		return nil, err
	}
	gen := in.fs.changes.Add(1) // the fixes below are part of this change
	st, err := fstat(fd)
	if err == nil && fixOwner(ctx, dfd, fd, &st) {
		st, err = fstat(fd)
	}
	if err == nil && st.Mode&0o7777 != perm {
		if unix.Fchmod(fd, perm) == nil {
			st, err = fstat(fd)
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	c := in.newChild(&p, rel, &st)
	c.remember(&st, gen)
	in.fs.created.put(fd, st.Dev, st.Ino)
	return c, nil
}

// mkdir implements Mkdir in writable mode (mkdirat).
func (in *Inode) mkdir(ctx vfs.Context, name string, mode uint32) error {
	_, rel, dfd, err := in.openEntryDir(name)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	perm := mode & 0o1777
	if err := unix.Mkdirat(dfd, name, perm); err != nil {
		return err
	}
	in.fs.changes.Add(1)
	fd, err := openAt(dfd, name, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil // replaced on the host already
	}
	defer unix.Close(fd)
	st, err := fstat(fd)
	if err == nil && fixOwner(ctx, dfd, fd, &st) {
		st, err = fstat(fd)
	}
	if want := perm | st.Mode&unix.S_ISGID; err == nil && st.Mode&0o7777 != want {
		in.fs.chmodFD(fd, rel, unix.S_IFDIR, want)
	}
	return nil
}

// mknod implements Mknod in writable mode: mknodat in the directory for a
// FIFO or a regular file, owned by the caller, with exactly mode's
// permissions. Sockets and device nodes are not made on the host (EPERM):
// a host socket file would lead nowhere in the sandbox, and moat never
// gives the host device nodes made by the sandbox.
func (in *Inode) mknod(ctx vfs.Context, name string, mode uint32) error {
	typ := mode & unix.S_IFMT
	switch typ {
	case 0:
		typ = unix.S_IFREG
	case unix.S_IFREG, unix.S_IFIFO:
	default:
		return unix.EPERM
	}
	_, rel, dfd, err := in.openEntryDir(name)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	perm := mode & 0o7777
	if err := unix.Mknodat(dfd, name, typ|perm, 0); err != nil {
		return err
	}
	in.fs.changes.Add(1)
	fd, err := openAt(dfd, name, unix.O_PATH, 0)
	if err != nil {
		return nil // replaced on the host already
	}
	defer unix.Close(fd)
	st, err := fstat(fd)
	if err == nil && fixOwner(ctx, dfd, fd, &st) {
		st, err = fstat(fd)
	}
	if err == nil && st.Mode&unix.S_IFMT == typ && st.Mode&0o7777 != perm {
		in.fs.chmodFD(fd, rel, typ, perm)
	}
	return nil
}

// symlink implements Symlink in writable mode (symlinkat).
func (in *Inode) symlink(ctx vfs.Context, name, target string) error {
	p := in.place()
	if _, err := entry(p, name); err != nil {
		return err
	}
	switch {
	case target == "":
		return unix.ENOENT
	case len(target) >= vfs.PathMax:
		return unix.ENAMETOOLONG
	}
	dfd, err := in.openDir(p)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := unix.Symlinkat(target, dfd, name); err != nil {
		return err
	}
	in.fs.changes.Add(1)
	fd, err := openAt(dfd, name, unix.O_PATH, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	if st, err := fstat(fd); err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		fixOwner(ctx, dfd, fd, &st)
	}
	return nil
}

// link implements Link in writable mode: linkat of the target's O_PATH
// descriptor (AT_EMPTY_PATH), or, where the host refuses that to callers
// without CAP_DAC_READ_SEARCH, of its name in its directory without
// following it.
func (in *Inode) link(ctx vfs.Context, name string, target vfs.Inode) error {
	t, ok := target.(*Inode)
	if !ok || t.fs != in.fs {
		return unix.EXDEV
	}
	p := in.place()
	if _, err := entry(p, name); err != nil {
		return err
	}
	if t.typ == unix.S_IFDIR {
		return unix.EPERM
	}
	dfd, err := in.openDir(p)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	trel, err := t.path()
	if err != nil {
		return err
	}
	tfd, err := in.fs.open(trel, unix.O_PATH)
	if err != nil {
		return err
	}
	defer unix.Close(tfd)
	tst, err := fstat(tfd)
	if err != nil {
		return err
	}
	if tst.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.EPERM
	}
	err = unix.Linkat(tfd, "", dfd, name, unix.AT_EMPTY_PATH)
	if err == unix.ENOENT {
		err = in.fs.linkByName(trel, &tst, dfd, name)
	}
	if err == nil {
		in.fs.changes.Add(1)
	}
	return err
}

// linkByName links the file at rel, whose attributes are want, as name
// in dirfd, naming it by its last component in its directory (never
// following it), if it is still there.
func (fs *FS) linkByName(rel string, want *unix.Stat_t, dirfd int, name string) error {
	dir, base := split(rel)
	pfd, err := fs.open(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Dev != want.Dev || st.Ino != want.Ino {
		return unix.ENOENT
	}
	return unix.Linkat(pfd, base, dirfd, name, 0)
}

// remove implements Unlink (flags 0) and Rmdir (AT_REMOVEDIR) in writable
// mode: unlinkat.
func (in *Inode) remove(name string, flags int) error {
	if err := vfs.CheckName(name); err != nil {
		return err
	}
	l := &in.fs.moves
	l.mu.Lock()
	defer l.mu.Unlock()
	p := in.placeLocked()
	dfd, err := in.openDir(p)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	for {
		err = unix.Unlinkat(dfd, name, flags)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return err
	}
	in.fs.changes.Add(1)
	l.recordLocked(move{kind: moveRemove, from: join(p.rel, name)})
	return nil
}

// rename implements Rename in writable mode: renameat2 between the two
// directories' descriptors.
func (in *Inode) rename(oldName string, newDir vfs.Inode, newName string, flags uint32) error {
	nd, ok := newDir.(*Inode)
	if !ok || nd.fs != in.fs {
		return unix.EXDEV
	}
	if err := vfs.CheckName(oldName); err != nil {
		return err
	}
	if err := vfs.CheckName(newName); err != nil {
		return err
	}
	const known = unix.RENAME_NOREPLACE | unix.RENAME_EXCHANGE
	if flags&^known != 0 || flags == known {
		return unix.EINVAL
	}
	l := &in.fs.moves
	l.mu.Lock()
	defer l.mu.Unlock()
	op, np := in.placeLocked(), nd.placeLocked()
	from := join(op.rel, oldName)
	to, err := entry(np, newName)
	if err != nil {
		return err
	}
	ofd, err := in.openDir(op)
	if err != nil {
		return err
	}
	defer unix.Close(ofd)
	nfd := ofd
	if nd != in {
		if nfd, err = nd.openDir(np); err != nil {
			return err
		}
		defer unix.Close(nfd)
	}
	for {
		err = unix.Renameat2(ofd, oldName, nfd, newName, uint(flags))
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return err
	}
	in.fs.changes.Add(1)
	switch {
	case flags&unix.RENAME_EXCHANGE != 0:
		l.recordLocked(move{kind: moveExchange, from: from, to: to})
	case from == to:
	default:
		var st unix.Stat_t
		if unix.Fstatat(ofd, oldName, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			return nil // two links of one file: nothing moved
		}
		l.recordLocked(move{kind: moveRemove, from: to})
		l.recordLocked(move{kind: moveRename, from: from, to: to})
	}
	return nil
}

// setStatMask are the attributes SetStat changes.
const setStatMask = unix.STATX_MODE | unix.STATX_UID | unix.STATX_GID | unix.STATX_SIZE | unix.STATX_ATIME | unix.STATX_MTIME

// validNsec reports whether nsec is a valid utimensat nanosecond value.
func validNsec(nsec int64) bool {
	return nsec >= 0 && nsec < 1e9 || nsec == unix.UTIME_NOW || nsec == unix.UTIME_OMIT
}

// setStat implements SetStat in writable mode, on an O_PATH descriptor of
// the file itself: truncate (ftruncate of the file opened for writing),
// chown, chmod, then times, so that chown's clearing of set-user-ID bits
// does not undo the chmod and truncation does not undo the times. Every
// check comes before the first change.
func (in *Inode) setStat(mask uint32, st vfs.Stat) error {
	mask &= setStatMask
	if in.sealed {
		return unix.EACCES
	}
	rel, err := in.path()
	if err != nil {
		return err
	}
	fd, err := in.fs.open(rel, unix.O_PATH)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	hst, err := fstat(fd)
	if err != nil {
		return err
	}
	typ := hst.Mode & unix.S_IFMT
	if mask&unix.STATX_SIZE != 0 {
		switch {
		case typ == unix.S_IFDIR:
			return unix.EISDIR
		case typ != unix.S_IFREG, st.Size < 0:
			return unix.EINVAL
		}
	}
	if mask&unix.STATX_MODE != 0 && typ == unix.S_IFLNK {
		return unix.EOPNOTSUPP
	}
	ts := [2]unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
	if mask&unix.STATX_ATIME != 0 {
		ts[0] = unix.Timespec{Sec: st.Atime.Sec, Nsec: st.Atime.Nsec}
	}
	if mask&unix.STATX_MTIME != 0 {
		ts[1] = unix.Timespec{Sec: st.Mtime.Sec, Nsec: st.Mtime.Nsec}
	}
	if !validNsec(ts[0].Nsec) || !validNsec(ts[1].Nsec) {
		return unix.EINVAL
	}
	if mask == 0 {
		return nil
	}
	defer in.fs.changes.Add(1)
	if mask&unix.STATX_SIZE != 0 {
		if err := in.fs.truncatePath(rel, &hst, st.Size); err != nil {
			return err
		}
	}
	if mask&(unix.STATX_UID|unix.STATX_GID) != 0 {
		uid, gid := -1, -1
		if mask&unix.STATX_UID != 0 {
			uid = int(st.UID)
		}
		if mask&unix.STATX_GID != 0 {
			gid = int(st.GID)
		}
		if err := unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	if mask&unix.STATX_MODE != 0 {
		if err := in.fs.chmodFD(fd, rel, typ, st.Mode&0o7777); err != nil {
			return err
		}
	}
	if mask&(unix.STATX_ATIME|unix.STATX_MTIME) != 0 {
		if err := in.fs.utimesFD(fd, rel, &ts); err != nil {
			return err
		}
	}
	return nil
}

// truncatePath truncates the regular file at rel, whose attributes are
// want, to size.
func (fs *FS) truncatePath(rel string, want *unix.Stat_t, size int64) error {
	fd, err := fs.open(rel, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	st, err := fstat(fd)
	if err != nil {
		return err
	}
	if st.Dev != want.Dev || st.Ino != want.Ino {
		return unix.ENOENT // replaced on the host meanwhile
	}
	return fs.truncateFD(fd, &st, size)
}

// truncateFD truncates the file fd (open for writing), whose attributes
// are st, to size, through its cache for shared mappings if it has one.
func (fs *FS) truncateFD(fd int, st *unix.Stat_t, size int64) error {
	if sf, _ := fs.getShared(fileID{st.Dev, st.Ino}, -1, false, false); sf != nil {
		defer sf.put()
		return sf.truncate(fd, size)
	}
	return ftruncate(fd, size)
}

func ftruncate(fd int, size int64) error {
	for {
		err := unix.Ftruncate(fd, size)
		if err != unix.EINTR {
			return err
		}
	}
}

// openWritable implements Open of a regular file in writable mode: the
// descriptor Create kept for a new file, else the file opened on the host
// with the requested access (O_TRUNC applied once it is known to be a
// regular file).
func (in *Inode) openWritable(flags uint32) (vfs.FileImpl, error) {
	acc := flags & unix.O_ACCMODE
	trunc := flags&unix.O_TRUNC != 0
	rel, err := in.path()
	if err != nil {
		return nil, err
	}
	if fd, ok := in.fs.created.take(in.dev, in.ino); ok {
		// Just created: open(O_CREAT) may write whatever the mode,
		// and does not truncate the new file.
		return &File{fd: fd, fs: in.fs, writable: acc != unix.O_RDONLY, dev: in.dev, ino: in.ino}, nil
	}
	host := int(acc)
	if acc == unix.O_RDONLY && trunc {
		host = unix.O_RDWR // Linux truncates with O_RDONLY|O_TRUNC too
	}
	host |= unix.O_NONBLOCK | unix.O_NOCTTY | int(flags&(unix.O_SYNC|unix.O_DSYNC))
	if acc == unix.O_RDONLY && !trunc {
		host |= unix.O_NOATIME
	}
	// O_NONBLOCK: should the host have replaced the file by a FIFO since
	// the lookup, opening it must not block; the fstat below rejects it.
	fd, err := in.fs.open(rel, host)
	if err != nil {
		return nil, err
	}
	st, err := fstat(fd)
	if err == nil && st.Mode&unix.S_IFMT != unix.S_IFREG {
		err = unix.EACCES
	}
	if err == nil && trunc {
		if err = in.fs.truncateFD(fd, &st, 0); err == nil {
			in.fs.changes.Add(1)
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &File{fd: fd, fs: in.fs, writable: acc != unix.O_RDONLY, dev: st.Dev, ino: st.Ino}, nil
}

// write is Write for a file open for writing: pwrite(2) until src is
// written or the host fails, into the file's cache for shared mappings
// too if it has one.
func (f *File) write(src []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	var done int
	var err error
	if sf := f.shared(); sf != nil {
		done, err = sf.write(f.fd, src, off)
		sf.put()
	} else {
		done, err = pwriteAll(f.fd, src, off)
	}
	if done == 0 && err != nil {
		return 0, err
	}
	if done > 0 && f.fs != nil {
		f.fs.changes.Add(1)
	}
	return done, nil
}

// truncate is Truncate for a file open for writing.
func (f *File) truncate(size int64) error {
	var err error
	if sf := f.shared(); sf != nil {
		err = sf.truncate(f.fd, size)
		sf.put()
	} else {
		err = ftruncate(f.fd, size)
	}
	if err != nil {
		return err
	}
	if f.fs != nil {
		f.fs.changes.Add(1)
	}
	return nil
}

// Allocate implements vfs.Allocator with the host's fallocate(2) on the
// file's fd: EBADF unless the file was opened for writing.
func (f *File) Allocate(mode uint32, off, n int64) error {
	if !f.writable {
		return unix.EBADF
	}
	if sf := f.shared(); sf != nil {
		defer sf.put()
		err := sf.allocate(f.fd, mode, off, n)
		if err == nil && f.fs != nil {
			f.fs.changes.Add(1)
		}
		return err
	}
	for {
		err := unix.Fallocate(f.fd, mode, off, n)
		if err == unix.EINTR {
			continue
		}
		if err == nil && f.fs != nil {
			f.fs.changes.Add(1)
		}
		return err
	}
}

// Sync flushes the file's data and attributes to the host's storage
// (fsync(2)), or with dataOnly only what reading the data back needs
// (fdatasync(2)). vfs has no interface for fsync yet; this is the method
// one would call.
func (f *File) Sync(dataOnly bool) error {
	if sf := f.shared(); sf != nil {
		err := sf.WriteBack(false) // shared mappings' stores first
		sf.put()
		if err != nil {
			return err
		}
	}
	for {
		var err error
		if dataOnly {
			err = unix.Fdatasync(f.fd)
		} else {
			err = unix.Fsync(f.fd)
		}
		if err != unix.EINTR {
			return err
		}
	}
}
