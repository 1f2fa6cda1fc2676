// Package boot assembles a sandbox: the memory file, the platform, the
// root filesystem and mounts, the system-call table, and the kernel, from
// the options of `moat run`.
package boot

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"moat/fs/dev"
	"moat/fs/hostfd"
	"moat/fs/hostfs"
	"moat/fs/inet"
	"moat/fs/memfs"
	"moat/fs/overlay"

	"moat/fs/proc"
	"moat/fs/tty"
	"moat/fs/unixsock"
	"moat/kernel"
	"moat/memory"
	"moat/oci/cgroup"
	"moat/platform"
	"moat/platform/ptrace"
	"moat/platform/seccomp"
	"moat/syscalls"
	"moat/vfs"
)

// Config is what a sandbox is built from.
type Config struct {
	Platform string // "seccomp" (default) or "ptrace"
	// SyscallPatch turns syscall-site patching on the seccomp platform
	// "on" or "off"; "" takes MOAT_SYSCALL_PATCH from the environment
	// (off or 0 turn it off), else on.
	SyscallPatch string
	// Prestart has the platform start its first address space while the
	// rest of the sandbox is set up (platform.Prestarter): for a sandbox
	// that runs a program next, as `moat run`'s and a container's do.
	Prestart bool
	Rootfs   string // host directory for the read-only lower layer; "" = "/"
	// Upper, if set, is the host directory that keeps the root overlay's
	// upper layer (in overlayfs's format, see fs/overlay/disk.go) instead
	// of memory: empty, or the upper layer of an earlier run.
	Upper  string
	Binds  []Bind    // host directories and files mounted into the sandbox (-v)
	Strace io.Writer // nil: no tracing
	Log    *slog.Logger
	// RootfsName is the root's mount source as /proc/mounts shows it,
	// when Rootfs is not the path to show (an fd's /proc/self/fd/N);
	// "": Rootfs.
	RootfsName string
	// Net is the network mode: "none" (or ""): loopback only, on the
	// sandbox's own TCP/IP stack; "sandbox": that stack with eth0 routed
	// through the sentry to the host's network (NAT); "host": internet
	// sockets are host sockets the sentry opens (fs/inet).
	Net string
	// Publish are host ports forwarded into the sandbox (-p; "sandbox"
	// mode only).
	Publish []inet.Publish

	// RootWritable makes the root the host directory Rootfs itself,
	// written in place, instead of an in-memory layer over it: an OCI
	// bundle's rootfs, which the engine prepared for the container to
	// write. RootReadOnly (with it) mounts it read-only once the mounts
	// are made.
	RootWritable, RootReadOnly bool
	// Mounts, if not nil, replace the default mounts (/tmp, /dev,
	// /dev/pts, /dev/shm, /proc, /sys and the /etc files naming the
	// host) with these, in order: an OCI config's mounts, which name
	// everything the container gets. MaskedPaths and ReadonlyPaths are
	// then applied to them.
	Mounts                     []Mount
	MaskedPaths, ReadonlyPaths []string
	// Devices are device nodes and FIFOs to make after the mounts (an
	// OCI config's linux.devices). A node for a device moat does not
	// emulate is there with its type and numbers; opening it fails.
	Devices []Device
	// Hostname and Domainname, if set, name the sandbox (uname(2)).
	Hostname, Domainname string
	// Limits are the container's cgroup limits (cgroup.Cgroup.Limits),
	// shown to the app in /proc/meminfo and /sys/fs/cgroup; nil: none.
	Limits *cgroup.Limits
}

// Device is a special file to make at Path in the sandbox: Type is
// unix.S_IFCHR, S_IFBLK or S_IFIFO, Mode the permission bits.
type Device struct {
	Path         string
	Type, Mode   uint32
	Major, Minor uint32
	UID, GID     uint32
}

// Bind is a host directory or file mounted at Guest in the sandbox. Writes
// reach the host only through a bind that is not ReadOnly; host paths are
// opened without following symlinks out of Host (fs/hostfs).
type Bind struct {
	Host, Guest string
	ReadOnly    bool
}

// Sandbox is an assembled, not yet running, sandbox.
type Sandbox struct {
	Kernel  *kernel.Kernel
	mounts  *vfs.MountNamespace
	devpts  *tty.FS // mounted on /dev/pts; /dev/ptmx opens its masters
	log     *slog.Logger
	memSize int64       // the memory file's size
	limits  proc.Option // shows the container's cgroup limits in /proc and /sys
	procfs  vfs.Inode   // the one /proc: one process tree
	newDev  func() uint64
	rw      *writableFSes // the writable host filesystems, shared by views
	// opened, in a view that ContainerMounts builds, collects the host
	// filesystems its mounts open.
	opened *[]*hostfs.FS
}

// writableFSes are the sandbox's writable host filesystems (binds, a
// writable root): shared mappings of their files are cached in the memory
// file, and written back at the end (Sync).
type writableFSes struct {
	mf   *memory.File
	mu   sync.Mutex
	list []*hostfs.FS
}

// open opens dir as a writable host filesystem of the sandbox.
func (w *writableFSes) open(dir string) (*hostfs.FS, error) {
	fs, err := hostfs.OpenWritable(dir)
	if err != nil {
		return nil, err
	}
	fs.SetMemoryFile(w.mf) // shared mappings of its files are cached there
	w.mu.Lock()
	w.list = append(w.list, fs)
	w.mu.Unlock()
	return fs, nil
}

// add makes fs, opened elsewhere, one of the sandbox's writable host
// filesystems.
func (w *writableFSes) add(fs *hostfs.FS) {
	fs.SetMemoryFile(w.mf)
	w.mu.Lock()
	w.list = append(w.list, fs)
	w.mu.Unlock()
}

// remove forgets fs (closed with its container's mounts).
func (w *writableFSes) remove(fs *hostfs.FS) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = slices.DeleteFunc(w.list, func(x *hostfs.FS) bool { return x == fs })
}

// rootNamespace makes the mount namespace of cfg's root: the host
// directory itself (RootWritable), or an in-memory layer over it.
//
// With opened not nil, the host filesystems it opens are added to it.
func rootNamespace(cfg Config, mf *memory.File, memSize int64, rw *writableFSes, opened *[]*hostfs.FS) (*vfs.MountNamespace, error) {
	rootDir := cfg.Rootfs
	if rootDir == "" {
		rootDir = "/"
	}
	if cfg.RootWritable {
		fs, err := rw.open(rootDir)
		if err != nil {
			return nil, fmt.Errorf("opening root %s: %w", rootDir, err)
		}
		if opened != nil {
			*opened = append(*opened, fs)
		}
		source := rootDir
		if cfg.RootfsName != "" {
			source = cfg.RootfsName
		}
		return vfs.NewMountNamespace(fs.Root(), vfs.MountOptions{FSType: "bind", Source: source}), nil
	}
	lowerFS, err := hostfs.Open(rootDir)
	if err != nil {
		return nil, fmt.Errorf("opening root %s: %w", rootDir, err)
	}
	if opened != nil {
		*opened = append(*opened, lowerFS)
	}
	if cfg.Upper != "" {
		root, fs, err := overlay.NewOnDisk(lowerFS.Root(), cfg.Upper)
		if err != nil {
			return nil, fmt.Errorf("--upper %s: %w", cfg.Upper, err)
		}
		rw.add(fs)
		if opened != nil {
			*opened = append(*opened, fs)
		}
		return vfs.NewMountNamespace(root, vfs.MountOptions{FSType: "overlay", Source: "overlay"}), nil
	}
	upper := memfs.New(devUpper, memfs.Options{MaxBytes: memSize / 2, RootMode: 0o755, MemFile: mf})
	root, err := overlay.New(lowerFS.Root(), upper)
	if err != nil {
		return nil, fmt.Errorf("building the root overlay: %w", err)
	}
	return vfs.NewMountNamespace(root, vfs.MountOptions{FSType: "overlay", Source: "overlay"}), nil
}

// ContainerMounts builds the mount namespace of another container in the
// sandbox (one of a pod's): its own root and mounts, from cfg's Rootfs,
// RootWritable, RootReadOnly, Mounts, MaskedPaths and ReadonlyPaths. Its
// processes share the sandbox's kernel, /proc and network.
//
// release writes back and closes the host filesystems the mounts opened,
// once the container's processes are gone: their host fds (the root's
// above all) would keep the engine from unmounting the container's
// rootfs, as containerd does when the container exits. Files still open
// stay usable until closed.
func (s *Sandbox) ContainerMounts(cfg Config) (ns *vfs.MountNamespace, release func() error, err error) {
	var opened []*hostfs.FS
	release = func() error {
		var first error
		for _, fs := range opened {
			if fs.Writable() {
				if err := fs.Sync(); err != nil && first == nil {
					first = err
				}
				s.rw.remove(fs)
			}
			fs.Close()
		}
		opened = nil
		return first
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	ns, err = rootNamespace(cfg, s.Kernel.MemoryFile(), s.memSize, s.rw, &opened)
	if err != nil {
		return nil, nil, err
	}
	view := s.In(ns)
	view.opened = &opened
	if err := view.specMounts(cfg, s.procfs, s.newDev); err != nil {
		return nil, nil, err
	}
	if cfg.RootWritable && cfg.RootReadOnly {
		if err := ns.SetReadOnly(ns.Root(), true); err != nil {
			return nil, nil, fmt.Errorf("making the root read-only: %w", err)
		}
	}
	return ns, release, nil
}

// In returns a view of the sandbox whose paths (LookPath, NewTerminal)
// resolve in mount namespace ns.
func (s *Sandbox) In(ns *vfs.MountNamespace) *Sandbox {
	v := *s
	v.mounts = ns
	return &v
}

// Device numbers of the sentry's own filesystems (major 0, like Linux's
// anonymous devices).
const (
	devUpper = 0x20 + iota
	devTmp
	devDev
	devProc
	devSys
	devShm
	devEtc
	devPts
)

// network returns the internet sockets' network for a --net mode that
// the caller has checked.
func network(cfg Config) (inet.Network, error) {
	if len(cfg.Publish) > 0 && cfg.Net != "sandbox" {
		return nil, fmt.Errorf("-p needs --net sandbox")
	}
	switch cfg.Net {
	case "host":
		return inet.NewHost(), nil
	case "sandbox":
		return inet.NewSandbox(cfg.Publish)
	case "", "none":
		return inet.New(), nil
	}
	return nil, fmt.Errorf("unknown network mode %q", cfg.Net)
}

// syscallPatch resolves Config.SyscallPatch: on unless turned off. It is
// the default because system calls cost 2-3x less with it (bench/,
// seccomp vs seccomp+patch, 7 runs: getpid 3.9 vs 1.2 us, open+close
// 13.9 vs 8.0 us, stat 6.3 vs 3.1 us) and the whole suite passes with it.
// On process-heavy rows the two trade places from run to run (python3
// start 74 vs 69 ms in one run, 68 vs 75 in the next), except
// fork+exit+wait, 1-9% slower with it in each of four runs.
func syscallPatch(v string) bool {
	if v == "" {
		v = os.Getenv("MOAT_SYSCALL_PATCH")
	}
	return v != "off" && v != "0"
}

// New builds a sandbox.
func New(cfg Config) (*Sandbox, error) {
	memSize := hostMemTotal()
	mf, err := memory.New("moat-memory", memSize)
	if err != nil {
		return nil, err
	}
	code, err := mf.Allocate(memory.PageSize)
	if err != nil {
		return nil, err
	}
	var plat platform.Platform
	switch cfg.Platform {
	case "ptrace":
		plat, err = ptrace.New(mf.FD(), code)
	case "", "seccomp":
		var sp *seccomp.Platform
		sp, err = seccomp.New(mf, code)
		if err == nil {
			sp.SetSyscallPatching(syscallPatch(cfg.SyscallPatch))
			plat = sp
		}
	default:
		return nil, fmt.Errorf("unknown platform %q (seccomp or ptrace)", cfg.Platform)
	}
	if err != nil {
		return nil, fmt.Errorf("platform %s: %w", cfg.Platform, err)
	}
	if ps, ok := plat.(platform.Prestarter); ok && cfg.Prestart {
		ps.Prestart()
	}

	rw := &writableFSes{mf: mf}
	ns, err := rootNamespace(cfg, mf, memSize, rw, nil)
	if err != nil {
		return nil, err
	}

	s := &Sandbox{mounts: ns, log: cfg.Log, memSize: memSize, limits: limitsOption(cfg.Limits, mf), rw: rw}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	netw, err := network(cfg)
	if err != nil {
		return nil, err
	}
	uts := utsname()
	switch {
	case cfg.Hostname != "":
		uts.Nodename = cfg.Hostname
	case cfg.Net == "host":
		uts.Nodename = hostNodename() // the host's network, the host's name, as a container engine does
	}
	if cfg.Domainname != "" {
		uts.Domainname = cfg.Domainname
	}
	if cfg.Mounts == nil && cfg.Net != "host" {
		if err := s.writeNetFiles(cfg.Net, uts.Nodename, mf); err != nil {
			return nil, err
		}
	}
	k := kernel.New(kernel.Options{
		Platform:    plat,
		MemFile:     mf,
		Mounts:      ns,
		Syscalls:    syscalls.New(),
		Log:         cfg.Log,
		Strace:      cfg.Strace,
		Utsname:     uts,
		Net:         netw,
		HWCap:       auxv[16],
		HWCap2:      auxv[26],
		MinSigStkSz: auxv[51],
	})
	s.Kernel = k
	k.SetSync(s.Sync)

	tmp := memfs.New(devTmp, memfs.Options{MaxBytes: memSize / 2, MemFile: mf})
	s.devpts = tty.New(k, devPts)
	k.SetNewUnlinked(func(ctx vfs.Context, mode uint32, sealable bool) (vfs.FileImpl, error) {
		f, err := tmp.NewUnlinked(ctx, mode, sealable) // memfds live with /tmp's files
		if err != nil {
			return nil, err
		}
		return f, nil
	})
	procfs := proc.New(procKernel{k}, devProc, readHostProc, s.limits,
		proc.WithRelease(k.Utsname().Release, k.Utsname().Version),
		proc.WithMounts(func(ctx vfs.Context) string { return mountsText(ctx, ns) }),
		proc.WithMountInfo(func(ctx vfs.Context) string { return mountinfoText(ctx, ns) }),
		proc.WithHostname(func(vfs.Context) string { return k.Utsname().Nodename }),
		proc.WithNet(func(name string) string {
			if name == "unix" {
				return unixsock.ProcNet()
			}
			return inet.ProcNet(k.Net(), name)
		}))
	s.procfs = procfs
	nextDev := uint64(devPts + 1)
	newDev := func() uint64 {
		devMu.Lock()
		defer devMu.Unlock()
		nextDev++
		return nextDev
	}
	s.newDev = newDev
	if cfg.Mounts != nil {
		if err := s.specMounts(cfg, procfs, newDev); err != nil {
			return nil, err
		}
	} else if err := s.defaultMounts(tmp, procfs); err != nil {
		return nil, err
	}
	k.SetNewFS(func(fstype, data string) (vfs.Inode, error) {
		dev := newDev()
		switch fstype {
		case "tmpfs":
			size, err := tmpfsSize(data, memSize/2)
			if err != nil {
				return nil, err
			}
			return memfs.New(dev, memfs.Options{MaxBytes: size, MemFile: mf}).Root(), nil
		case "proc":
			return procfs, nil // one process tree: the same view
		case "sysfs":
			return proc.NewSysfs(dev, runtime.NumCPU(), s.limits), nil
		case "devpts":
			return tty.New(k, dev).Root(), nil // a new instance, as since Linux 4.7
		}
		return nil, unix.ENODEV
	})
	for _, b := range cfg.Binds {
		if err := s.bind(b); err != nil {
			return nil, fmt.Errorf("-v %s:%s: %w", b.Host, b.Guest, err)
		}
	}
	if cfg.RootWritable && cfg.RootReadOnly {
		if err := ns.SetReadOnly(ns.Root(), true); err != nil {
			return nil, fmt.Errorf("making the root read-only: %w", err)
		}
	}
	return s, nil
}

// defaultMounts makes the mounts of `moat run`: tmp on /tmp, /dev with
// its devpts and a tmpfs on /dev/shm, /proc, and a read-only /sys.
func (s *Sandbox) defaultMounts(tmp *memfs.FS, procfs vfs.Inode) error {
	mf, memSize := s.Kernel.MemoryFile(), s.memSize
	if err := s.mount("/tmp", tmp.Root(), vfs.MountOptions{FSType: "tmpfs", Source: "tmpfs"}); err != nil {
		return err
	}
	if err := s.mount("/dev", dev.NewWith(devDev, dev.Options{Ptmx: s.devpts.OpenPtmx}), vfs.MountOptions{FSType: "devtmpfs", Source: "devtmpfs"}); err != nil {
		return err
	}
	if err := s.mount("/dev/pts", s.devpts.Root(), vfs.MountOptions{FSType: "devpts", Source: "devpts"}); err != nil {
		return err
	}
	// POSIX shared memory and semaphores (shm_open, sem_open) live in a
	// tmpfs of their own on /dev/shm, as in a container.
	shm := memfs.New(devShm, memfs.Options{MaxBytes: memSize / 2, MemFile: mf})
	if err := s.mount("/dev/shm", shm.Root(), vfs.MountOptions{FSType: "tmpfs", Source: "shm"}); err != nil {
		return err
	}
	if err := s.mount("/proc", procfs, vfs.MountOptions{FSType: "proc", Source: "proc"}); err != nil {
		return err
	}
	return s.mount("/sys", proc.NewSysfs(devSys, runtime.NumCPU(), s.limits), vfs.MountOptions{FSType: "sysfs", Source: "sysfs", ReadOnly: true})
}

// The kernel is what terminals expect of it.
var (
	_ tty.Kernel = (*kernel.Kernel)(nil)
	_ tty.Caller = (*kernel.Task)(nil)
)

// devMu guards the device numbers handed to filesystems the app mounts.
var devMu sync.Mutex

// tmpfsSize reads tmpfs's size= option (bytes, or with k, m, g or %% of
// def): def without one, EINVAL for a bad one. Other options (mode=,
// uid=, nr_inodes=, ...) are accepted and ignored.
func tmpfsSize(data string, def int64) (int64, error) {
	for _, opt := range strings.Split(data, ",") {
		v, ok := strings.CutPrefix(opt, "size=")
		if !ok {
			continue
		}
		if v == "" {
			return 0, unix.EINVAL
		}
		mul := int64(1)
		switch v[len(v)-1] {
		case 'k', 'K':
			mul, v = 1<<10, v[:len(v)-1]
		case 'm', 'M':
			mul, v = 1<<20, v[:len(v)-1]
		case 'g', 'G':
			mul, v = 1<<30, v[:len(v)-1]
		case '%':
			n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
			if err != nil || n < 0 || n > 100 {
				return 0, unix.EINVAL
			}
			return def * 2 * n / 100, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 1<<50/mul {
			return 0, unix.EINVAL
		}
		return max(n*mul, memory.PageSize), nil
	}
	return def, nil
}

// bind mounts the host directory or file b.Host at b.Guest, creating the
// mount point (and missing directories above it) in the sandbox.
func (s *Sandbox) bind(b Bind) error {
	if !path.IsAbs(b.Guest) || path.Clean(b.Guest) != b.Guest || b.Guest == "/" {
		return fmt.Errorf("the sandbox path must be absolute and clean, and not /")
	}
	// A symlink is followed, as mount(2) does: a bind of docker's
	// /usr/bin/docker-init (a link to tini-static) mounts the program.
	host, err := filepath.EvalSymlinks(b.Host)
	if err != nil {
		return fmt.Errorf("not found on the host")
	}
	st, err := os.Stat(host)
	if err != nil {
		return fmt.Errorf("not found on the host")
	}
	dir, name := host, ""
	if !st.IsDir() {
		dir, name = filepath.Dir(host), filepath.Base(host)
	}
	var fs *hostfs.FS
	if b.ReadOnly {
		fs, err = hostfs.Open(dir)
	} else {
		fs, err = s.rw.open(dir)
	}
	if err != nil {
		return err
	}
	if s.opened != nil {
		*s.opened = append(*s.opened, fs)
	}
	var root vfs.Inode = fs.Root()
	if name != "" {
		if root, err = fs.Root().Lookup(rootCtx{}, name); err != nil {
			return fmt.Errorf("%s: %w", b.Host, err)
		}
	}
	at, err := s.mountPoint(b.Guest, name == "")
	if err != nil {
		return err
	}
	return s.mounts.Mount(at, root, vfs.MountOptions{FSType: "bind", Source: b.Host, ReadOnly: b.ReadOnly})
}

// Sync writes back to the host what shared mappings of files of writable
// binds hold and have not written back yet (processes still running when
// the sandbox ends), and returns the first error.
func (s *Sandbox) Sync() error {
	s.rw.mu.Lock()
	list := append([]*hostfs.FS(nil), s.rw.list...)
	s.rw.mu.Unlock()
	var first error
	for _, fs := range list {
		if err := fs.Sync(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// mountPoint resolves p in the sandbox, creating it as a directory (or,
// with dir false, an empty file) and the directories above it if missing.
func (s *Sandbox) mountPoint(p string, dir bool) (vfs.Path, error) {
	root := s.mounts.Root()
	r := &vfs.Resolver{NS: s.mounts, Root: root, Start: root}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := "/"
	for i, name := range parts {
		next := path.Join(cur, name)
		if _, err := r.Resolve(rootCtx{}, next, true); err == unix.ENOENT {
			parent, err := r.Resolve(rootCtx{}, cur, true)
			if err != nil {
				return vfs.Path{}, fmt.Errorf("%s: %w", cur, err)
			}
			if i < len(parts)-1 || dir {
				err = parent.Inode().Mkdir(rootCtx{}, name, 0o755)
			} else {
				_, err = parent.Inode().Create(rootCtx{}, name, 0o644)
			}
			if err != nil {
				return vfs.Path{}, fmt.Errorf("creating %s: %w", next, err)
			}
		}
		cur = next
	}
	return r.Resolve(rootCtx{}, p, true)
}

// writeNetFiles gives a sandbox with a network of its own the files that
// describe it: /etc/hostname, /etc/hosts naming the sandbox, and (for
// "sandbox") /etc/resolv.conf pointing at the router's DNS address, which
// forwards to the host's resolver (a resolver on the host's loopback
// would be the sandbox's own loopback otherwise). As container engines
// do, each is a file of its own mounted over the root's, so /etc itself
// is left as it is.
func (s *Sandbox) writeNetFiles(mode, hostname string, mf *memory.File) error {
	self := "127.0.1.1" // as Debian names the machine without a network
	if mode == "sandbox" {
		self = inet.SandboxAddr.String()
	}
	files := [][2]string{
		{"hostname", hostname + "\n"},
		{"hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" + self + "\t" + hostname + "\n"},
	}
	if mode == "sandbox" {
		files = append(files, [2]string{"resolv.conf", "nameserver " + inet.DNSAddr.String() + "\n"})
	}
	etc := memfs.New(devEtc, memfs.Options{MaxBytes: 1 << 20, MemFile: mf, RootMode: 0o755})
	for _, f := range files {
		in, err := etc.Root().Create(rootCtx{}, f[0], 0o644)
		if err == nil {
			err = writeAll(in, f[1])
		}
		if err == nil {
			err = s.mountFile("/etc/"+f[0], in)
		}
		if err != nil {
			return fmt.Errorf("/etc/%s: %w", f[0], err)
		}
	}
	return nil
}

func writeAll(in vfs.Inode, data string) error {
	f, err := in.Open(rootCtx{}, unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer f.Release()
	_, err = f.Write(rootCtx{}, []byte(data), 0)
	return err
}

// mountFile mounts the file in at p, if the root has a directory for it.
func (s *Sandbox) mountFile(p string, in vfs.Inode) error {
	root := s.mounts.Root()
	r := &vfs.Resolver{NS: s.mounts, Root: root, Start: root}
	if _, err := r.Resolve(rootCtx{}, path.Dir(p), true); err == unix.ENOENT {
		return nil // a root without /etc: nothing to describe there
	}
	at, err := s.mountPoint(p, false)
	if err != nil {
		return err
	}
	return s.mounts.Mount(at, in, vfs.MountOptions{FSType: "tmpfs", Source: "moat"})
}

// hostNodename returns the host's name.
func hostNodename() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "moat"
	}
	return string(bytes.TrimRight(u.Nodename[:], "\x00"))
}

// userCtx is the context of an open made for a user.
type userCtx struct{ uid uint32 }

func (c userCtx) UID() uint32 { return c.uid }
func (c userCtx) GID() uint32 { return c.uid }

// rootCtx is the context of the sandbox setup: root.
type rootCtx struct{}

func (rootCtx) UID() uint32 { return 0 }
func (rootCtx) GID() uint32 { return 0 }

// mount attaches a filesystem at path, creating the directory in the
// overlay if the root lacks it.
func (s *Sandbox) mount(path string, fs vfs.Inode, opts vfs.MountOptions) error {
	root := s.mounts.Root()
	r := &vfs.Resolver{NS: s.mounts, Root: root, Start: root}
	at, err := r.Resolve(rootCtx{}, path, true)
	if err == unix.ENOENT {
		if err := root.Inode().Mkdir(rootCtx{}, strings.TrimPrefix(path, "/"), 0o755); err != nil {
			return fmt.Errorf("creating mount point %s: %w", path, err)
		}
		at, err = r.Resolve(rootCtx{}, path, true)
	}
	if err != nil {
		return fmt.Errorf("mount point %s: %w", path, err)
	}
	return s.mounts.Mount(at, fs, opts)
}

// LookPath finds an executable the way execvp does, in the sandbox: a name
// with a slash is used as is, otherwise each directory of the PATH in env
// (the process's environment) is tried.
func (s *Sandbox) LookPath(name string, env []string) (string, error) {
	var pathEnv string
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == "PATH" {
			pathEnv = v
			break
		}
	}
	if strings.Contains(name, "/") {
		return name, nil
	}
	if pathEnv == "" {
		pathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	root := s.mounts.Root()
	r := &vfs.Resolver{NS: s.mounts, Root: root, Start: root}
	for _, dir := range strings.Split(pathEnv, ":") {
		if dir == "" {
			dir = "."
		}
		p, err := r.Resolve(rootCtx{}, dir+"/"+name, true)
		if err != nil {
			continue
		}
		if st, err := p.Inode().Stat(rootCtx{}); err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0 {
			return dir + "/" + name, nil
		}
	}
	return "", fmt.Errorf("%s: command not found in the sandbox's PATH", name)
}

// Terminal is a pseudo-terminal of the sandbox's /dev/pts for `moat run
// -t`: moat copies between the host terminal and Master; Slave is for the
// first process's stdin, stdout and stderr, and its controlling terminal.
type Terminal struct {
	*tty.Terminal
	Master, Slave *vfs.FileDescription
}

// NewTerminal opens a new pseudo-terminal of the sandbox's /dev/pts for
// user uid (who owns its slave), its slave unlocked and open.
func (s *Sandbox) NewTerminal(uid uint32) (*Terminal, error) {
	impl, err := s.devpts.OpenPtmx(userCtx{uid}, unix.O_RDWR)
	if err != nil {
		return nil, fmt.Errorf("opening a pseudo-terminal: %w", err)
	}
	t := impl.(*tty.Master).Terminal()
	t.Unlock()
	root := s.mounts.Root()
	r := &vfs.Resolver{NS: s.mounts, Root: root, Start: root}
	mp, err := r.Resolve(rootCtx{}, "/dev/ptmx", true)
	if err != nil {
		impl.Release()
		return nil, fmt.Errorf("/dev/ptmx: %w", err)
	}
	master := vfs.NewFileDescription(impl, mp, unix.O_RDWR)
	name := fmt.Sprintf("/dev/pts/%d", t.Index())
	sp, err := r.Resolve(rootCtx{}, name, true)
	if err != nil {
		master.DecRef()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	simpl, err := sp.Inode().Open(rootCtx{}, unix.O_RDWR|unix.O_NOCTTY)
	if err != nil {
		master.DecRef()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Terminal{Terminal: t, Master: master, Slave: vfs.NewFileDescription(simpl, sp, unix.O_RDWR)}, nil
}

// CopyIn copies what is read from host fd fd (a terminal in raw mode) to
// the master, as typed input, until fd ends or the terminal is hung up.
func (t *Terminal) CopyIn(fd int) {
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if n <= 0 {
			return
		}
		if _, err := t.Master.Write(rootCtx{}, buf[:n], -1); err != nil {
			return
		}
	}
}

// CopyOut copies the sandbox's output from the master to w until the last
// slave is closed (EIO) or w fails.
func (t *Terminal) CopyOut(w io.Writer) {
	buf := make([]byte, 16<<10)
	for {
		n, err := t.Master.Read(rootCtx{}, buf, -1)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Stdio wraps moat's own fds 0-2 for the app.
func Stdio() ([3]*vfs.FileDescription, error) {
	var out [3]*vfs.FileDescription
	for i := 0; i < 3; i++ {
		if _, err := unix.FcntlInt(uintptr(i), unix.F_GETFL, 0); err != nil {
			continue // closed: the app sees it closed too
		}
		fd, err := unix.FcntlInt(uintptr(i), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return out, fmt.Errorf("dup of fd %d: %w", i, err)
		}
		if out[i], err = HostFile(fd); err != nil {
			return out, err
		}
	}
	return out, nil
}

// HostFile wraps host fd fd (a pipe, a file, a terminal, a socket the
// caller was given) as an open file of the app; the file owns fd.
func HostFile(fd int) (*vfs.FileDescription, error) {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, fmt.Errorf("host fd %d: %w", fd, err)
	}
	return vfs.NewFileDescription(hostfd.New(fd), vfs.Path{}, uint32(fl)&(unix.O_ACCMODE|unix.O_APPEND)), nil
}

// auxv is the sentry's own auxiliary vector, read once at start: the app
// gets the host CPU's capabilities.
var auxv = readAuxv()

func readAuxv() map[uint64]uint64 {
	m := map[uint64]uint64{}
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return m
	}
	for i := 0; i+16 <= len(b); i += 16 {
		m[binary.LittleEndian.Uint64(b[i:])] = binary.LittleEndian.Uint64(b[i+8:])
	}
	return m
}

// utsname reports the host kernel's release and machine (programs check
// them for features), and a sandbox hostname.
func utsname() kernel.Utsname {
	var u unix.Utsname
	unix.Uname(&u)
	str := func(b []byte) string { return string(bytes.TrimRight(b, "\x00")) }
	return kernel.Utsname{
		Sysname:    "Linux",
		Nodename:   "moat",
		Release:    str(u.Release[:]),
		Version:    str(u.Version[:]),
		Machine:    "x86_64",
		Domainname: "(none)",
	}
}

// hostMemTotal is the host's memory size: the most the sandbox can use.
func hostMemTotal() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 1 << 32
	}
	return int64(si.Totalram) * int64(si.Unit)
}

// readHostProc serves /proc/cpuinfo and /proc/meminfo from the host's.
func readHostProc(name string) ([]byte, error) {
	switch name {
	case "cpuinfo", "meminfo":
		return os.ReadFile("/proc/" + name)
	}
	return nil, unix.ENOENT
}

// mountsText is /proc/mounts for the caller's namespace, as seen from its
// root.
func mountsText(ctx vfs.Context, ns *vfs.MountNamespace) string {
	var b strings.Builder
	w := bufio.NewWriter(&b)
	ns, root := callerMounts(ctx, ns)
	for _, m := range ns.Mounts(root) {
		opt := "rw"
		if m.ReadOnly {
			opt = "ro"
		}
		fmt.Fprintf(w, "%s %s %s %s 0 0\n", m.Source, m.Target, m.FSType, opt)
	}
	w.Flush()
	return b.String()
}
