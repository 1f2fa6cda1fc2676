package proc

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"moat/vfs"
	"moat/vfs/vfstest"
)

// fakeProcess is a Process with fixed values.
type fakeProcess struct {
	mu      sync.Mutex
	pid     int32
	ppid    int32
	comm    string
	cmdline []byte
	environ []byte
	exe     string
	cwd     string
	maps    string
	uids    [4]uint32
	gids    [4]uint32
	threads int
	vmSize  uint64
	vmRSS   uint64
	state   byte
	fds     []FDInfo
}

func (p *fakeProcess) PID() int32  { return p.pid }
func (p *fakeProcess) PPID() int32 { return p.ppid }
func (p *fakeProcess) Comm() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.comm
}
func (p *fakeProcess) Cmdline() []byte          { return p.cmdline }
func (p *fakeProcess) Environ() []byte          { return p.environ }
func (p *fakeProcess) ExePath() string          { return p.exe }
func (p *fakeProcess) Cwd() string              { return p.cwd }
func (p *fakeProcess) Maps() string             { return p.maps }
func (p *fakeProcess) UIDs() [4]uint32          { return p.uids }
func (p *fakeProcess) GIDs() [4]uint32          { return p.gids }
func (p *fakeProcess) Threads() int             { return p.threads }
func (p *fakeProcess) VMSizeKB() uint64         { return p.vmSize }
func (p *fakeProcess) VMRSSKB() uint64          { return p.vmRSS }
func (p *fakeProcess) State() byte              { return p.state }
func (p *fakeProcess) FDs() []FDInfo            { return p.fds }
func (p *fakeProcess) PGID() int32              { return 40 }
func (p *fakeProcess) SID() int32               { return 1 }
func (p *fakeProcess) Umask() uint32            { return 0o027 }
func (p *fakeProcess) Groups() []uint32         { return []uint32{10, 20} }
func (p *fakeProcess) SetComm(n string)         { p.mu.Lock(); p.comm = n; p.mu.Unlock() }
func (p *fakeProcess) StartTime() time.Duration { return 1500 * time.Millisecond }
func (p *fakeProcess) CPUTime() (user, sys time.Duration) {
	return 2 * time.Second, 300 * time.Millisecond
}
func (p *fakeProcess) Caps() (inh, prm, eff, bnd, amb uint64) { return 0, 1, 2, 3, 0 }

func (p *fakeProcess) ThreadIDs() []int32 { return []int32{42, 43, 44} }
func (p *fakeProcess) Thread(tid int32) Process {
	switch tid {
	case 42:
		return p
	case 43, 44:
		return &fakeProcess{pid: tid, comm: "worker", state: 'R'}
	}
	return nil
}
func (p *fakeProcess) Rlimits() [16]Rlimit {
	var l [16]Rlimit
	for i := range l {
		l[i] = Rlimit{rlimInfinity, rlimInfinity}
	}
	l[unix.RLIMIT_NOFILE] = Rlimit{1024, 1 << 20}
	l[13] = Rlimit{0, 0}
	return l
}
func (p *fakeProcess) FDDetail(fd int32) (FDDetail, bool) {
	if fd == 2 {
		return FDDetail{Pos: 77, MntID: 23, Ino: 99, CloExec: true}, true
	}
	return FDDetail{MntID: 21, Ino: 5}, true
}

// plainProcess hides the optional interfaces of fakeProcess.
type plainProcess struct{ Process }

type fakeKernel struct {
	mu    sync.Mutex
	procs map[int32]Process
}

func (k *fakeKernel) Process(pid int32) Process {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.procs[pid]
}

func (k *fakeKernel) PIDs() []int32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	var pids []int32
	for pid := range k.procs {
		pids = append(pids, pid)
	}
	return pids
}

func (k *fakeKernel) Uptime() time.Duration { return 123*time.Second + 450*time.Millisecond }

func (k *fakeKernel) remove(pid int32) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.procs, pid)
}

// task is a vfs.Context that is also a Caller.
type task struct {
	uid, gid uint32
	pid      int32
}

func (t task) UID() uint32    { return t.uid }
func (t task) GID() uint32    { return t.gid }
func (t task) ProcPID() int32 { return t.pid }

// plain is a vfs.Context that is not a Caller.
var plain = vfstest.Root

var root42 = task{uid: 0, gid: 0, pid: 42}

func newTestFS(t *testing.T, opts ...Option) (*fakeKernel, *fakeProcess, vfs.Inode) {
	t.Helper()
	p := &fakeProcess{
		pid: 42, ppid: 1, comm: "my prog) x",
		cmdline: []byte("/bin/my\x00-v\x00"),
		environ: []byte("HOME=/root\x00PATH=/bin\x00"),
		exe:     "/bin/my", cwd: "/home/u",
		maps:    "00400000-00401000 r-xp 00000000 00:01 12 /bin/my\n",
		uids:    [4]uint32{1000, 1001, 1002, 1003},
		gids:    [4]uint32{2000, 2001, 2002, 2003},
		threads: 3, vmSize: 2048, vmRSS: 512, state: 'S',
		fds: []FDInfo{
			{FD: 0, Target: "/dev/null", Flags: unix.O_RDONLY},
			{FD: 1, Target: "pipe:[7]", Flags: unix.O_WRONLY},
			{FD: 2, Target: "/tmp/log", Flags: unix.O_RDWR | unix.O_APPEND},
		},
	}
	initProc := &fakeProcess{pid: 1, comm: "init", state: 'R', threads: 1, exe: "/sbin/init", cwd: "/"}
	k := &fakeKernel{procs: map[int32]Process{42: p, 1: plainProcess{initProc}}}
	host := func(name string) ([]byte, error) {
		switch name {
		case "cpuinfo":
			return []byte("processor\t: 0\nmodel name\t: Test CPU\n\n"), nil
		case "meminfo":
			return []byte("MemTotal:       1000 kB\n"), nil
		}
		return nil, unix.ENOENT
	}
	opts = append([]Option{WithRelease("6.1.0-moat", "#1 SMP"), WithCPUs(2),
		WithMounts(func(vfs.Context) string { return "proc /proc proc rw 0 0\n" })}, opts...)
	return k, p, New(k, 5, host, opts...)
}

// walk looks up a slash-separated path below in without following links.
func walk(t *testing.T, ctx vfs.Context, in vfs.Inode, path string) (vfs.Inode, error) {
	t.Helper()
	for _, c := range strings.Split(strings.Trim(path, "/"), "/") {
		var err error
		if in, err = in.Lookup(ctx, c); err != nil {
			return nil, err
		}
	}
	return in, nil
}

func mustWalk(t *testing.T, ctx vfs.Context, in vfs.Inode, path string) vfs.Inode {
	t.Helper()
	in, err := walk(t, ctx, in, path)
	if err != nil {
		t.Fatalf("lookup %s: %v", path, err)
	}
	return in
}

// readAll opens path and reads it whole with one large read.
func readAll(t *testing.T, ctx vfs.Context, root vfs.Inode, path string) string {
	t.Helper()
	f, err := mustWalk(t, ctx, root, path).Open(ctx, unix.O_RDONLY)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Release()
	buf := make([]byte, 1<<16)
	n, err := f.Read(ctx, buf, 0)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(buf[:n])
}

func TestStatus(t *testing.T) {
	_, _, root := newTestFS(t)
	s := readAll(t, root42, root, "42/status")
	for _, want := range []string{
		"Name:\tmy prog) x\n",
		"Umask:\t0027\n",
		"State:\tS (sleeping)\n",
		"Tgid:\t42\n",
		"\nPid:\t42\n",
		"PPid:\t1\n",
		"TracerPid:\t0\n",
		"Uid:\t1000\t1001\t1002\t1003\n",
		"Gid:\t2000\t2001\t2002\t2003\n",
		"FDSize:\t64\n",
		"Groups:\t10 20 \n",
		"NSpgid:\t40\n",
		"NSsid:\t1\n",
		"VmSize:\t    2048 kB\n",
		"VmRSS:\t     512 kB\n",
		"Threads:\t3\n",
		"SigPnd:\t0000000000000000\n",
		"CapPrm:\t0000000000000001\n",
		"Cpus_allowed:\t3\n",
		"Cpus_allowed_list:\t0-1\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("status lacks %q:\n%s", want, s)
		}
	}
	// Field order follows Linux.
	order := []string{"Name:", "Umask:", "State:", "Tgid:", "Ngid:", "Pid:", "PPid:", "TracerPid:", "Uid:", "Gid:",
		"FDSize:", "Groups:", "VmPeak:", "VmSize:", "VmRSS:", "Threads:", "SigQ:", "SigPnd:", "CapInh:", "Cpus_allowed:", "Cpus_allowed_list:"}
	last := -1
	for _, f := range order {
		i := strings.Index(s, "\n"+f)
		if f == "Name:" {
			i = strings.Index(s, f)
		}
		if i <= last {
			t.Errorf("status: %s at %d, not after %d", f, i, last)
		}
		last = i
	}
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if !strings.Contains(line, ":\t") {
			t.Errorf("status line %q has no \":\\t\"", line)
		}
	}
}

func TestStatusDefaults(t *testing.T) {
	_, _, root := newTestFS(t)
	s := readAll(t, root42, root, "1/status")
	for _, want := range []string{"Name:\tinit\n", "Umask:\t0022\n", "State:\tR (running)\n", "Groups:\t \n",
		"NSpgid:\t1\n", "CapEff:\t000001ffffffffff\n", "SigQ:\t0/18446744073709551615\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("status of pid 1 lacks %q:\n%s", want, s)
		}
	}
}

func TestStat(t *testing.T) {
	_, _, root := newTestFS(t)
	s := readAll(t, root42, root, "42/stat")
	if !strings.HasPrefix(s, "42 (my prog) x) S 1 40 1 ") || !strings.HasSuffix(s, "\n") {
		t.Fatalf("stat = %q", s)
	}
	rest := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if got := 2 + len(rest); got != 52 {
		t.Fatalf("stat has %d fields, want 52: %q", got, s)
	}
	field := func(n int) string { return rest[n-3] } // fields 3.. are in rest
	for n, want := range map[int]string{
		3: "S", 4: "1", 5: "40", 6: "1", 8: "-1", 14: "200", 15: "30", 18: "20", 20: "3", 22: "150",
		23: "2097152", 24: "128", 25: "18446744073709551615", 38: "17",
	} {
		if got := field(n); got != want {
			t.Errorf("stat field %d = %q, want %q", n, got, want)
		}
	}
}

func TestSmallFiles(t *testing.T) {
	_, _, root := newTestFS(t)
	for path, want := range map[string]string{
		"42/comm":                  "my prog) x\n",
		"42/cmdline":               "/bin/my\x00-v\x00",
		"42/environ":               "HOME=/root\x00PATH=/bin\x00",
		"42/maps":                  "00400000-00401000 r-xp 00000000 00:01 12 /bin/my\n",
		"42/mounts":                "proc /proc proc rw 0 0\n",
		"mounts":                   "proc /proc proc rw 0 0\n",
		"cpuinfo":                  "processor\t: 0\nmodel name\t: Test CPU\n\n",
		"meminfo":                  "MemTotal:       1000 kB\n",
		"uptime":                   "123.45 0.00\n",
		"loadavg":                  "0.00 0.00 0.00 1/4 42\n",
		"version":                  "Linux version 6.1.0-moat (moat@moat) (moat) #1 SMP\n",
		"sys/kernel/osrelease":     "6.1.0-moat\n",
		"sys/kernel/ostype":        "Linux\n",
		"sys/kernel/hostname":      "localhost\n",
		"sys/kernel/pid_max":       "4194304\n",
		"sys/kernel/ngroups_max":   "65536\n",
		"sys/vm/overcommit_memory": "0\n",
	} {
		if got := readAll(t, root42, root, path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	fs := readAll(t, root42, root, "filesystems")
	if !strings.Contains(fs, "nodev\tproc\n") || !strings.Contains(fs, "nodev\ttmpfs\n") {
		t.Errorf("filesystems = %q", fs)
	}
}

func TestHostProcMissing(t *testing.T) {
	k := &fakeKernel{procs: map[int32]Process{}}
	root := New(k, 5, nil, WithCPUs(3))
	ci := readAll(t, root42, root, "cpuinfo")
	if strings.Count(ci, "processor\t:") != 3 {
		t.Errorf("synthesized cpuinfo = %q", ci)
	}
	f := mustWalk(t, root42, root, "meminfo")
	if _, err := f.Open(root42, unix.O_RDONLY); !errors.Is(err, unix.EIO) {
		t.Errorf("open meminfo without host = %v, want EIO", err)
	}
	if _, err := root.Lookup(root42, "mounts"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("lookup mounts without WithMounts = %v, want ENOENT", err)
	}
}

func TestHostnameOption(t *testing.T) {
	_, _, root := newTestFS(t, WithHostname(func(ctx vfs.Context) string {
		return "box" + string(rune('0'+ctx.(task).pid%10))
	}))
	if got := readAll(t, root42, root, "sys/kernel/hostname"); got != "box2\n" {
		t.Errorf("hostname = %q", got)
	}
}

// Reading in small chunks at increasing offsets reassembles the whole text.
func TestChunkedPread(t *testing.T) {
	_, _, root := newTestFS(t)
	for _, path := range []string{"42/status", "42/stat", "42/cmdline", "42/maps", "cpuinfo", "version", "loadavg", "sys/kernel/ostype"} {
		whole := readAll(t, root42, root, path)
		for _, chunk := range []int{1, 3, 7, 64} {
			f, err := mustWalk(t, root42, root, path).Open(root42, unix.O_RDONLY)
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			buf := make([]byte, chunk)
			for off := int64(0); ; {
				n, err := f.Read(root42, buf, off)
				if err != nil {
					t.Fatalf("%s: pread at %d: %v", path, off, err)
				}
				if n == 0 {
					break
				}
				got = append(got, buf[:n]...)
				off += int64(n)
			}
			if string(got) != whole {
				t.Errorf("%s in %d-byte chunks = %q, want %q", path, chunk, got, whole)
			}
			// Reading past the end is EOF.
			if n, err := f.Read(root42, buf, 1<<40); n != 0 || err != nil {
				t.Errorf("%s: pread past end = %d, %v", path, n, err)
			}
			f.Release()
		}
	}
}

func TestSelf(t *testing.T) {
	_, _, root := newTestFS(t)
	self := mustWalk(t, root42, root, "self")
	if got, err := self.Readlink(root42); got != "42" || err != nil {
		t.Errorf("readlink self = %q, %v; want 42", got, err)
	}
	if got, err := self.Readlink(task{pid: 1}); got != "1" || err != nil {
		t.Errorf("readlink self as pid 1 = %q, %v", got, err)
	}
	if _, err := self.Readlink(plain); !errors.Is(err, unix.ENOENT) {
		t.Errorf("readlink self without Caller = %v, want ENOENT", err)
	}
	st, err := self.Stat(root42)
	if err != nil || !st.IsSymlink() || st.Mode&0o777 != 0o777 {
		t.Errorf("stat self = %+v, %v", st, err)
	}
}

// The tree works through vfs: /proc/self/status resolves through the
// symlink, and a description reads it sequentially.
func TestThroughVFS(t *testing.T) {
	_, _, root := newTestFS(t)
	ns := vfs.NewMountNamespace(root, vfs.MountOptions{FSType: "proc", Source: "proc", ReadOnly: false})
	r := &vfs.Resolver{NS: ns, Root: ns.Root(), Start: ns.Root()}
	p, err := r.Resolve(root42, "/self/status", true)
	if err != nil {
		t.Fatalf("resolve /self/status: %v", err)
	}
	impl, err := p.Inode().Open(root42, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	fd := vfs.NewFileDescription(impl, p, unix.O_RDONLY)
	defer fd.DecRef()
	var got []byte
	buf := make([]byte, 10)
	for {
		n, err := fd.Read(root42, buf, -1)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Contains(got, []byte("\nPid:\t42\n")) {
		t.Errorf("/self/status through vfs = %q", got)
	}
	if _, err := r.Resolve(plain, "/self/status", true); !errors.Is(err, unix.ENOENT) {
		t.Errorf("resolve /self/status without Caller = %v, want ENOENT", err)
	}
	// fd/0 points at a path outside this namespace.
	if _, err := r.Resolve(root42, "/self/fd/1", true); !errors.Is(err, unix.ENOENT) {
		t.Errorf("resolve /self/fd/1 (pipe) = %v, want ENOENT", err)
	}

	dp, err := r.Resolve(root42, "/42", true)
	if err != nil {
		t.Fatal(err)
	}
	dimpl, err := dp.Inode().Open(root42, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	dfd := vfs.NewFileDescription(dimpl, dp, unix.O_RDONLY|unix.O_DIRECTORY)
	defer dfd.DecRef()
	var names []string
	if err := dfd.ReadDir(root42, ns, ns.Root(), func(d vfs.Dirent) bool { names = append(names, d.Name); return true }, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, " ") != ". .. cgroup cmdline comm cwd environ exe fd fdinfo limits maps mounts oom_score oom_score_adj root stat statm status task" {
		t.Errorf("getdents /42 = %v", names)
	}
}

func TestMissing(t *testing.T) {
	_, _, root := newTestFS(t)
	for _, path := range []string{"43", "042", "+42", "-1", "0", "abc", "99999999999", "42/nothing", "42/fd/9", "42/fd/01", "sys/kernel/nothing", "42/task/45", "42/task/0", "42/task/42/nothing", "42/fdinfo/9", "42/mountinfo", "sys/fs/nothing"} {
		if _, err := walk(t, root42, root, path); !errors.Is(err, unix.ENOENT) {
			t.Errorf("lookup %s = %v, want ENOENT", path, err)
		}
	}
	if _, err := walk(t, root42, root, "version/x"); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("lookup version/x = %v, want ENOTDIR", err)
	}
}

func TestExitedProcess(t *testing.T) {
	k, _, root := newTestFS(t)
	d := mustWalk(t, root42, root, "42")
	status := mustWalk(t, root42, root, "42/status")
	f, err := status.Open(root42, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	k.remove(42)
	if _, err := d.Stat(root42); !errors.Is(err, unix.ENOENT) {
		t.Errorf("stat of exited /42 = %v, want ENOENT", err)
	}
	if _, err := d.Lookup(root42, "status"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("lookup in exited /42 = %v, want ENOENT", err)
	}
	if _, err := status.Open(root42, unix.O_RDONLY); !errors.Is(err, unix.ENOENT) {
		t.Errorf("open of exited status = %v, want ENOENT", err)
	}
	// The open file keeps its snapshot.
	buf := make([]byte, 4096)
	if n, _ := f.Read(root42, buf, 0); !bytes.Contains(buf[:n], []byte("Pid:\t42")) {
		t.Errorf("snapshot after exit = %q", buf[:n])
	}
	if _, err := root.Lookup(root42, "42"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("lookup exited pid = %v, want ENOENT", err)
	}
}

func TestReadDirRoot(t *testing.T) {
	_, _, root := newTestFS(t)
	ents, err := root.ReadDir(root42)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]uint8{}
	var names []string
	for _, e := range ents {
		types[e.Name] = e.Type
		names = append(names, e.Name)
		in := mustWalk(t, root42, root, e.Name)
		st, err := in.Stat(root42)
		if err != nil {
			t.Fatalf("stat %s: %v", e.Name, err)
		}
		if st.Ino != e.Ino || vfs.DirentType(st.Mode) != e.Type {
			t.Errorf("%s: dirent (ino %d type %d) disagrees with stat (ino %d mode %o)", e.Name, e.Ino, e.Type, st.Ino, st.Mode)
		}
	}
	for name, typ := range map[string]uint8{"self": unix.DT_LNK, "1": unix.DT_DIR, "42": unix.DT_DIR, "sys": unix.DT_DIR,
		"cpuinfo": unix.DT_REG, "meminfo": unix.DT_REG, "uptime": unix.DT_REG, "version": unix.DT_REG, "loadavg": unix.DT_REG,
		"filesystems": unix.DT_REG, "mounts": unix.DT_REG} {
		if types[name] != typ {
			t.Errorf("/proc entry %s: type %d, want %d (entries %v)", name, types[name], typ, names)
		}
	}
	if n := len(names); names[n-2] != "1" || names[n-1] != "42" {
		t.Errorf("pids not last in increasing order: %v", names)
	}
	st, _ := root.Stat(root42)
	if st.Ino != 1 || st.Mode != unix.S_IFDIR|0o555 || st.Nlink != 5 {
		t.Errorf("root stat = ino %d mode %o nlink %d", st.Ino, st.Mode, st.Nlink)
	}
}

func TestStatAttributes(t *testing.T) {
	_, _, root := newTestFS(t)
	for path, want := range map[string]uint32{
		"42":                  unix.S_IFDIR | 0o555,
		"42/status":           unix.S_IFREG | 0o444,
		"42/environ":          unix.S_IFREG | 0o400,
		"42/comm":             unix.S_IFREG | 0o644, // fakeProcess is a CommSetter
		"1/comm":              unix.S_IFREG | 0o444,
		"42/exe":              unix.S_IFLNK | 0o777,
		"42/fd":               unix.S_IFDIR | 0o500,
		"42/fd/0":             unix.S_IFLNK | 0o500,
		"42/fd/1":             unix.S_IFLNK | 0o300,
		"42/fd/2":             unix.S_IFLNK | 0o700,
		"cpuinfo":             unix.S_IFREG | 0o444,
		"sys":                 unix.S_IFDIR | 0o555,
		"sys/kernel/hostname": unix.S_IFREG | 0o644,
		"sys/kernel/ostype":   unix.S_IFREG | 0o444,
	} {
		in := mustWalk(t, root42, root, path)
		st, err := in.Stat(root42)
		if err != nil {
			t.Fatalf("stat %s: %v", path, err)
		}
		if st.Mode != want {
			t.Errorf("%s: mode %o, want %o", path, st.Mode, want)
		}
		if st.Dev != 5 || st.Blksize != 1024 || st.Nlink == 0 {
			t.Errorf("%s: dev %d blksize %d nlink %d", path, st.Dev, st.Blksize, st.Nlink)
		}
		if st.IsSymlink() || st.IsDir() {
			if path == "42/fd" && st.Size != 3 {
				t.Errorf("42/fd: size %d, want 3 (open fds)", st.Size)
			}
		} else if st.Size != 0 {
			t.Errorf("%s: size %d, want 0", path, st.Size)
		}
		wantUID := uint32(0)
		if strings.HasPrefix(path, "42") {
			wantUID = 1001 // the process's effective uid
		}
		if st.UID != wantUID {
			t.Errorf("%s: uid %d, want %d", path, st.UID, wantUID)
		}
		// Inode numbers are stable and distinct per path.
		st2, _ := mustWalk(t, root42, root, path).Stat(root42)
		if st2.Ino != st.Ino {
			t.Errorf("%s: inode %d then %d", path, st.Ino, st2.Ino)
		}
	}
	a, _ := mustWalk(t, root42, root, "42/status").Stat(root42)
	b, _ := mustWalk(t, root42, root, "1/status").Stat(root42)
	if a.Ino == b.Ino {
		t.Error("42/status and 1/status share an inode number")
	}
}

func TestLinks(t *testing.T) {
	_, _, root := newTestFS(t)
	for path, want := range map[string]string{
		"42/exe": "/bin/my", "42/cwd": "/home/u", "42/fd/0": "/dev/null", "42/fd/1": "pipe:[7]", "42/fd/2": "/tmp/log",
	} {
		if got, err := mustWalk(t, root42, root, path).Readlink(root42); got != want || err != nil {
			t.Errorf("readlink %s = %q, %v; want %q", path, got, err, want)
		}
	}
	ents, err := mustWalk(t, root42, root, "42/fd").ReadDir(root42)
	if err != nil || len(ents) != 3 || ents[0].Name != "0" || ents[2].Name != "2" || ents[1].Type != unix.DT_LNK {
		t.Errorf("readdir 42/fd = %v, %v", ents, err)
	}
}

func TestPermissions(t *testing.T) {
	_, _, root := newTestFS(t)
	owner := task{uid: 1000, gid: 2000, pid: 7}
	other := task{uid: 3000, gid: 3000, pid: 7}
	// A process with differing real/effective/saved ids is not traceable
	// by an unprivileged caller, even its real owner.
	for _, ctx := range []task{owner, other} {
		if _, err := mustWalk(t, root42, root, "42/environ").Open(ctx, unix.O_RDONLY); !errors.Is(err, unix.EACCES) {
			t.Errorf("uid %d: open environ = %v, want EACCES", ctx.uid, err)
		}
		if _, err := mustWalk(t, root42, root, "42/exe").Readlink(ctx); !errors.Is(err, unix.EACCES) {
			t.Errorf("uid %d: readlink exe = %v, want EACCES", ctx.uid, err)
		}
		if _, err := mustWalk(t, root42, root, "42").Lookup(ctx, "fd"); err != nil {
			t.Errorf("uid %d: lookup fd = %v", ctx.uid, err)
		}
		if _, err := mustWalk(t, root42, root, "42/fd").Lookup(ctx, "0"); !errors.Is(err, unix.EACCES) {
			t.Errorf("uid %d: lookup fd/0 = %v, want EACCES", ctx.uid, err)
		}
		// status is world-readable.
		if _, err := mustWalk(t, root42, root, "42/status").Open(ctx, unix.O_RDONLY); err != nil {
			t.Errorf("uid %d: open status = %v", ctx.uid, err)
		}
	}
}

func TestWrites(t *testing.T) {
	_, p, root := newTestFS(t)
	for path, want := range map[string]error{"42/status": unix.EINVAL, "42/cmdline": unix.EINVAL, "1/comm": unix.EINVAL,
		"cpuinfo": unix.EIO, "version": unix.EIO} {
		f, err := mustWalk(t, root42, root, path).Open(root42, unix.O_WRONLY)
		if err != nil {
			t.Fatalf("open %s O_WRONLY as root: %v", path, err)
		}
		if _, err := f.Write(root42, []byte("x"), 0); !errors.Is(err, want) {
			t.Errorf("write %s = %v, want %v", path, err, want)
		}
	}
	for path, want := range map[string]error{"sys/kernel/hostname": unix.EROFS, "sys/kernel/ostype": unix.EACCES,
		"sys/kernel/pid_max": unix.EROFS, "sys/vm/overcommit_memory": unix.EROFS} {
		if _, err := mustWalk(t, root42, root, path).Open(root42, unix.O_RDWR); !errors.Is(err, want) {
			t.Errorf("open %s O_RDWR = %v, want %v", path, err, want)
		}
	}
	f, err := mustWalk(t, root42, root, "42/comm").Open(root42, unix.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.Write(root42, []byte("a-very-long-name-indeed\n"), 0); n != 24 || err != nil {
		t.Errorf("write comm = %d, %v", n, err)
	}
	if p.Comm() != "a-very-long-nam" {
		t.Errorf("comm after write = %q", p.Comm())
	}
	if got := readAll(t, root42, root, "42/comm"); got != "a-very-long-nam\n" {
		t.Errorf("read comm = %q", got)
	}
}

func TestNamespaceOps(t *testing.T) {
	_, _, root := newTestFS(t)
	if _, err := root.Create(root42, "foo", 0o644); !errors.Is(err, unix.ENOENT) {
		t.Errorf("create /proc/foo = %v, want ENOENT", err)
	}
	if err := root.Mkdir(root42, "sys", 0o755); !errors.Is(err, unix.EEXIST) {
		t.Errorf("mkdir /proc/sys = %v, want EEXIST", err)
	}
	if err := mustWalk(t, root42, root, "42").Mkdir(root42, "x", 0o755); !errors.Is(err, unix.ENOENT) {
		t.Errorf("mkdir /proc/42/x = %v, want ENOENT", err)
	}
	if err := root.Unlink(root42, "version"); !errors.Is(err, unix.EPERM) {
		t.Errorf("unlink /proc/version = %v, want EPERM", err)
	}
	if err := root.Rmdir(root42, "sys"); !errors.Is(err, unix.EPERM) {
		t.Errorf("rmdir /proc/sys = %v, want EPERM", err)
	}
	if err := root.Rename(root42, "version", root, "v2", 0); !errors.Is(err, unix.ENOENT) {
		t.Errorf("rename version v2 = %v, want ENOENT", err)
	}
	if err := root.Symlink(root42, "x", "y"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("symlink /proc/x = %v, want ENOENT", err)
	}
}

type seeker interface {
	Seek(ctx vfs.Context, cur, off int64, whence int) (int64, error)
}

func TestSeek(t *testing.T) {
	_, _, root := newTestFS(t)
	f, _ := mustWalk(t, root42, root, "42/status").Open(root42, unix.O_RDONLY)
	s := f.(seeker)
	if off, err := s.Seek(root42, 0, 100, unix.SEEK_SET); off != 100 || err != nil {
		t.Errorf("lseek status 100 SET = %d, %v", off, err)
	}
	if off, err := s.Seek(root42, 100, 5, unix.SEEK_CUR); off != 105 || err != nil {
		t.Errorf("lseek status 5 CUR = %d, %v", off, err)
	}
	if _, err := s.Seek(root42, 0, 0, unix.SEEK_END); !errors.Is(err, unix.EINVAL) {
		t.Errorf("lseek status END = %v, want EINVAL", err)
	}
	if _, err := s.Seek(root42, 0, -1, unix.SEEK_SET); !errors.Is(err, unix.EINVAL) {
		t.Errorf("lseek status -1 = %v, want EINVAL", err)
	}
	g, _ := mustWalk(t, root42, root, "sys/kernel/hostname").Open(root42, unix.O_RDONLY)
	if off, err := g.(seeker).Seek(root42, 3, 0, unix.SEEK_END); off != 0 || err != nil {
		t.Errorf("lseek hostname END = %d, %v; want 0", off, err)
	}
}

func TestBitmap(t *testing.T) {
	all := func(int) bool { return true }
	for n, want := range map[int]string{1: "1", 2: "3", 4: "f", 8: "ff", 32: "ffffffff", 40: "ff,ffffffff", 64: "ffffffff,ffffffff"} {
		if got := bitmap(n, all); got != want {
			t.Errorf("bitmap(%d) = %q, want %q", n, got, want)
		}
	}
	m := bitmap(maxNumNodes, func(b int) bool { return b == 0 })
	if len(m) != 32*9-1 || !strings.HasSuffix(m, ",00000001") {
		t.Errorf("mems bitmap = %q", m)
	}
}

func TestNewFiles(t *testing.T) {
	_, _, root := newTestFS(t, WithMountInfo(func(vfs.Context) string { return "21 20 0:5 / /proc rw,relatime - proc proc rw\n" }))
	for path, want := range map[string]string{
		"42/statm":                "512 128 0 0 0 0 0\n",
		"42/cgroup":               "0::/\n",
		"42/oom_score":            "0\n",
		"42/oom_score_adj":        "0\n",
		"42/mountinfo":            "21 20 0:5 / /proc rw,relatime - proc proc rw\n",
		"42/fdinfo/0":             "pos:\t0\nflags:\t0" + strconv.FormatUint(uint64(kernelOLargefile), 8) + "\nmnt_id:\t21\nino:\t5\n",
		"42/fdinfo/1":             "pos:\t0\nflags:\t0" + strconv.FormatUint(uint64(kernelOLargefile|1), 8) + "\nmnt_id:\t21\nino:\t5\n",
		"42/fdinfo/2":             "pos:\t77\nflags:\t0" + strconv.FormatUint(uint64(kernelOLargefile|0o2002002), 8) + "\nmnt_id:\t23\nino:\t99\n",
		"42/task/42/comm":         "my prog) x\n",
		"42/task/43/comm":         "worker\n",
		"sys/kernel/cap_last_cap": "40\n",
		"sys/vm/max_map_count":    "65530\n",
		"sys/fs/file-max":         "9223372036854775807\n",
		"sys/fs/nr_open":          "1048576\n",
	} {
		if got := readAll(t, root42, root, path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}

	limits := readAll(t, root42, root, "42/limits")
	lines := strings.Split(limits, "\n")
	if len(lines) != 18 || lines[17] != "" ||
		lines[0] != "Limit                     Soft Limit           Hard Limit           Units     " ||
		lines[1] != "Max cpu time              unlimited            unlimited            seconds   " ||
		lines[8] != "Max open files            1024                 1048576              files     " ||
		lines[14] != "Max nice priority         0                    0                    " ||
		lines[16] != "Max realtime timeout      unlimited            unlimited            us        " {
		t.Errorf("limits = %q", limits)
	}
	if l := readAll(t, root42, root, "1/limits"); !strings.Contains(l, "Max open files            unlimited            unlimited            files     \n") {
		t.Errorf("limits without ProcessLimits = %q", l)
	}

	// Threads: task/ lists them; their stat and status show the thread's
	// id, name and state and the process's Tgid.
	ents, err := mustWalk(t, root42, root, "42/task").ReadDir(root42)
	if err != nil || len(ents) != 3 || ents[0].Name != "42" || ents[2].Name != "44" || ents[1].Type != unix.DT_DIR {
		t.Errorf("readdir 42/task = %v, %v", ents, err)
	}
	if ents, err := mustWalk(t, root42, root, "1/task").ReadDir(root42); err != nil || len(ents) != 1 || ents[0].Name != "1" {
		t.Errorf("readdir 1/task = %v, %v", ents, err)
	}
	st := readAll(t, root42, root, "42/task/43/stat")
	if !strings.HasPrefix(st, "43 (worker) R 1 40 1 ") {
		t.Errorf("task/43/stat = %q", st)
	}
	status := readAll(t, root42, root, "42/task/43/status")
	for _, want := range []string{"Name:\tworker\n", "State:\tR (running)\n", "Tgid:\t42\n", "\nPid:\t43\n", "NSpid:\t43\n", "Threads:\t3\n"} {
		if !strings.Contains(status, want) {
			t.Errorf("task/43/status lacks %q:\n%s", want, status)
		}
	}
	if s := readAll(t, root42, root, "42/task/42/stat"); s != readAll(t, root42, root, "42/stat") {
		t.Errorf("task/42/stat = %q, differs from 42/stat", s)
	}
	ents, err = mustWalk(t, root42, root, "42/task/43").ReadDir(root42)
	if err != nil || len(ents) != 3 || ents[0].Name != "comm" || ents[1].Name != "stat" || ents[2].Name != "status" {
		t.Errorf("readdir 42/task/43 = %v, %v", ents, err)
	}

	// fdinfo: a directory of regular files, one per fd, for tracers only.
	ents, err = mustWalk(t, root42, root, "42/fdinfo").ReadDir(root42)
	if err != nil || len(ents) != 3 || ents[1].Name != "1" || ents[1].Type != unix.DT_REG {
		t.Errorf("readdir 42/fdinfo = %v, %v", ents, err)
	}
	other := task{uid: 3000, gid: 3000, pid: 7}
	if _, err := mustWalk(t, root42, root, "42").Lookup(other, "fdinfo"); err != nil {
		t.Errorf("lookup fdinfo as other = %v", err)
	}
	if _, err := mustWalk(t, root42, root, "42/fdinfo").Lookup(other, "0"); !errors.Is(err, unix.EACCES) {
		t.Errorf("lookup fdinfo/0 as other = %v, want EACCES", err)
	}

	// Links.
	if got, err := mustWalk(t, root42, root, "42/root").Readlink(root42); got != "/" || err != nil {
		t.Errorf("readlink 42/root = %q, %v", got, err)
	}
	ts := mustWalk(t, root42, root, "thread-self")
	if got, err := ts.Readlink(root42); got != "42/task/42" || err != nil {
		t.Errorf("readlink thread-self = %q, %v", got, err)
	}
	if got, err := ts.Readlink(threadTask{task: root42, tid: 43}); got != "42/task/43" || err != nil {
		t.Errorf("readlink thread-self from thread 43 = %q, %v", got, err)
	}
	if _, err := ts.Readlink(plain); !errors.Is(err, unix.ENOENT) {
		t.Errorf("readlink thread-self from a non-task = %v, want ENOENT", err)
	}
	if st, err := ts.Stat(root42); err != nil || st.Mode != unix.S_IFLNK|0o777 {
		t.Errorf("stat thread-self = %o, %v", st.Mode, err)
	}
}

// threadTask is a task context of a thread other than the leader.
type threadTask struct {
	task
	tid int32
}

func (t threadTask) ProcTID() int32 { return t.tid }

func TestSysStat(t *testing.T) {
	_, _, root := newTestFS(t)
	s := readAll(t, root42, root, "stat")
	lines := strings.Split(s, "\n")
	// uptime 123.45 s on 2 CPUs: 24690 ticks; 42 used 200 user, 30 sys.
	want := []string{
		"cpu  200 0 30 24460 0 0 0 0 0 0",
		"cpu0 100 0 15 12230 0 0 0 0 0 0",
		"cpu1 100 0 15 12230 0 0 0 0 0 0",
		"intr 0",
		"ctxt 0",
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("stat line %d = %q, want %q", i, lines[i], w)
		}
	}
	btime := time.Now().Add(-123 * time.Second).Unix()
	if !strings.Contains(s, "\nbtime "+strconv.FormatInt(btime, 10)+"\n") && !strings.Contains(s, "\nbtime "+strconv.FormatInt(btime-1, 10)+"\n") {
		t.Errorf("stat btime: %q", s)
	}
	if !strings.HasSuffix(s, "\nprocesses 42\nprocs_running 1\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n") {
		t.Errorf("stat = %q", s)
	}
}

func TestOOMScoreAdjWrite(t *testing.T) {
	_, _, root := newTestFS(t)
	in := mustWalk(t, root42, root, "42/oom_score_adj")
	if st, _ := in.Stat(root42); st.Mode != unix.S_IFREG|0o644 {
		t.Errorf("oom_score_adj mode %o", st.Mode)
	}
	for val, want := range map[string]error{"0": nil, "-1000\n": nil, "1000": nil, " 5 \n": nil, "1001": unix.EINVAL, "-1001": unix.EINVAL, "x": unix.EINVAL, "": unix.EINVAL} {
		f, err := in.Open(root42, unix.O_WRONLY)
		if err != nil {
			t.Fatal(err)
		}
		n, err := f.Write(root42, []byte(val), 0)
		if !errors.Is(err, want) || (err == nil && n != len(val)) {
			t.Errorf("write %q = %d, %v; want %v", val, n, err, want)
		}
	}
	for path, want := range map[string]error{"sys/kernel/cap_last_cap": unix.EACCES, "sys/vm/max_map_count": unix.EROFS, "sys/fs/nr_open": unix.EROFS} {
		if _, err := mustWalk(t, root42, root, path).Open(root42, unix.O_RDWR); !errors.Is(err, want) {
			t.Errorf("open %s O_RDWR = %v, want %v", path, err, want)
		}
	}
	// A thread's comm is writable when the thread is a CommSetter.
	f, err := mustWalk(t, root42, root, "42/task/43/comm").Open(root42, unix.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(root42, []byte("renamed"), 0); err != nil {
		t.Errorf("write task/43/comm = %v", err)
	}
}

func TestSysfs(t *testing.T) {
	for cpus, want := range map[int]string{1: "0\n", 4: "0-3\n"} {
		root := NewSysfs(9, cpus)
		for _, name := range []string{"online", "possible", "present"} {
			if got := readAll(t, root42, root, "devices/system/cpu/"+name); got != want {
				t.Errorf("%d cpus: %s = %q, want %q", cpus, name, got, want)
			}
		}
		ents, err := mustWalk(t, root42, root, "devices/system/cpu").ReadDir(root42)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name)
		}
		if err != nil || len(ents) != cpus+3 || names[0] != "cpu0" || ents[0].Type != unix.DT_DIR || ents[cpus].Type != unix.DT_REG {
			t.Errorf("%d cpus: readdir cpu = %v, %v", cpus, names, err)
		}
	}
	root := NewSysfs(9, 2)
	ents, err := root.ReadDir(root42)
	if err != nil || len(ents) != 2 || ents[0].Name != "devices" || ents[1].Name != "fs" {
		t.Errorf("readdir /sys = %v, %v", ents, err)
	}
	cg := mustWalk(t, root42, root, "fs/cgroup")
	if ents, err := cg.ReadDir(root42); err != nil || len(ents) != 0 {
		t.Errorf("readdir fs/cgroup = %v, %v", ents, err)
	}
	if st, err := cg.Stat(root42); err != nil || st.Mode != unix.S_IFDIR|0o755 || st.Dev != 9 {
		t.Errorf("stat fs/cgroup = %+v, %v", st, err)
	}
	if err := cg.Mkdir(root42, "x", 0o755); !errors.Is(err, unix.EROFS) {
		t.Errorf("mkdir in fs/cgroup = %v, want EROFS", err)
	}
	online := mustWalk(t, root42, root, "devices/system/cpu/online")
	if _, err := online.Open(root42, unix.O_WRONLY); !errors.Is(err, unix.EROFS) {
		t.Errorf("open online O_WRONLY = %v, want EROFS", err)
	}
	if st, _ := online.Stat(root42); st.Mode != unix.S_IFREG|0o444 {
		t.Errorf("online mode %o", st.Mode)
	}
	for _, path := range []string{"nothing", "fs/cgroup/x", "devices/system/cpu/cpu2"} {
		if _, err := walk(t, root42, root, path); !errors.Is(err, unix.ENOENT) {
			t.Errorf("lookup %s = %v, want ENOENT", path, err)
		}
	}
	if _, err := walk(t, root42, root, "devices/system/cpu/online/x"); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("lookup online/x = %v, want ENOTDIR", err)
	}
}
