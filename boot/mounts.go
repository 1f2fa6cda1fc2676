package boot

import (
	"errors"
	"fmt"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"moat/fs/dev"
	"moat/fs/memfs"
	"moat/fs/proc"
	"moat/fs/tty"
	"moat/vfs"
)

// Mount is a filesystem to mount at Dest in the sandbox, as an OCI
// config's mounts[] entry describes it. Types: proc, sysfs, tmpfs (a
// tmpfs on /dev gets the standard device files, as runc makes them),
// devpts, devtmpfs, mqueue (empty: queues are not implemented), cgroup
// and cgroup2 (the sandbox's read-only cgroup view), bind (or any type with the bind or rbind option: Source is a
// host path). Options: ro and rw; size= and mode= for tmpfs; nosuid,
// nodev and the propagation flags are accepted, and hold trivially (the
// sandbox has no set-user-ID executables and no host devices); noexec is
// accepted and not enforced.
type Mount struct {
	Dest, Type, Source string
	Options            []string
}

// specMounts mounts cfg.Mounts in order, then masks cfg.MaskedPaths and
// makes cfg.ReadonlyPaths read-only, as runc does.
func (s *Sandbox) specMounts(cfg Config, procfs vfs.Inode, newDev func() uint64) error {
	devptsUsed := false
	for _, m := range cfg.Mounts {
		if !path.IsAbs(m.Dest) {
			return fmt.Errorf("mount %s: the destination must be an absolute path", m.Dest)
		}
		dest := path.Clean(m.Dest)
		ro := slices.Contains(m.Options, "ro")
		bind := m.Type == "bind" || m.Type == "rbind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
		if bind {
			if err := s.bind(Bind{Host: m.Source, Guest: dest, ReadOnly: ro}); err != nil {
				return fmt.Errorf("mount %s on %s: %w", m.Source, dest, err)
			}
			continue
		}
		var root vfs.Inode
		opts := vfs.MountOptions{FSType: m.Type, Source: m.Source, ReadOnly: ro}
		switch m.Type {
		case "proc":
			root = procfs
		case "sysfs":
			root = proc.NewSysfs(newDev(), runtime.NumCPU(), s.limits)
		case "cgroup", "cgroup2":
			sys := proc.NewSysfs(newDev(), runtime.NumCPU(), s.limits)
			in, err := lookupPath(sys, "fs/cgroup")
			if err != nil {
				return fmt.Errorf("mount cgroup on %s: %w", dest, err)
			}
			root, opts.ReadOnly = in, true
		case "devtmpfs":
			root = dev.NewWith(newDev(), dev.Options{Ptmx: s.devpts.OpenPtmx})
		case "devpts":
			if devptsUsed {
				root = tty.New(s.Kernel, newDev()).Root()
			} else {
				root, devptsUsed = s.devpts.Root(), true // /dev/ptmx opens this one
			}
		case "mqueue":
			// POSIX message queues are not implemented (mq_open fails
			// with ENOSYS), so the filesystem is there, as in every
			// engine's default configuration, and holds no queue.
			root = memfs.New(newDev(), memfs.Options{MaxBytes: 1 << 20, MemFile: s.Kernel.MemoryFile(), RootMode: 0o1777}).Root()
		case "tmpfs":
			size, mode, err := tmpfsOptions(m.Options, s.memSize/2)
			if err != nil {
				return fmt.Errorf("mount tmpfs on %s: %w", dest, err)
			}
			root = memfs.New(newDev(), memfs.Options{MaxBytes: size, MemFile: s.Kernel.MemoryFile(), RootMode: mode}).Root()
		default:
			return fmt.Errorf("mount %s on %s: mount type %q is not supported", m.Source, dest, m.Type)
		}
		at, err := s.mountPoint(dest, true)
		if err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.Type, dest, err)
		}
		if err := s.mounts.Mount(at, root, opts); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.Type, dest, err)
		}
		if m.Type == "tmpfs" && dest == "/dev" {
			if err := s.populateDev(root, newDev()); err != nil {
				return fmt.Errorf("populating /dev: %w", err)
			}
		}
	}
	for _, d := range cfg.Devices {
		if err := s.makeDevice(d); err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
	}
	for _, p := range cfg.MaskedPaths {
		if err := s.mask(p, newDev()); err != nil {
			return fmt.Errorf("masking %s: %w", p, err)
		}
	}
	for _, p := range cfg.ReadonlyPaths {
		if err := s.readOnly(p); err != nil {
			return fmt.Errorf("making %s read-only: %w", p, err)
		}
	}
	return nil
}

// tmpfsOptions reads a tmpfs mount's size= and mode= options.
func tmpfsOptions(options []string, def int64) (size int64, mode uint32, err error) {
	size, mode = def, 0o1777
	for _, o := range options {
		if strings.HasPrefix(o, "size=") {
			if size, err = tmpfsSize(o, def); err != nil {
				return 0, 0, err
			}
		}
		if v, ok := strings.CutPrefix(o, "mode="); ok {
			m, err := strconv.ParseUint(v, 8, 32)
			if err != nil || m > 0o7777 {
				return 0, 0, fmt.Errorf("mode=%s: not an octal mode", v)
			}
			mode = uint32(m)
		}
	}
	return size, mode, nil
}

// populateDev gives the tmpfs dir just mounted on /dev what runc puts there: the
// standard devices (each the sandbox's own device, mounted on an empty
// file, as a rootless runc bind-mounts them), the fd and stdio links,
// /dev/ptmx as a link into /dev/pts, and the pts and shm directories.
func (s *Sandbox) populateDev(dir vfs.Inode, devNum uint64) error {
	devices := dev.NewWith(devNum, dev.Options{Ptmx: s.devpts.OpenPtmx})
	for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		in, err := devices.Lookup(rootCtx{}, name)
		if err != nil {
			return err
		}
		if _, err := dir.Create(rootCtx{}, name, 0o666); err != nil {
			return err
		}
		if err := s.mountAt("/dev/"+name, in, "devtmpfs"); err != nil {
			return err
		}
	}
	links := [][2]string{{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
		{"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"}}
	for _, l := range links {
		if err := dir.Symlink(rootCtx{}, l[0], l[1]); err != nil {
			return err
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := dir.Mkdir(rootCtx{}, d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// mountAt mounts in at the existing path p.
func (s *Sandbox) mountAt(p string, in vfs.Inode, fstype string) error {
	root := s.mounts.Root()
	r := &vfs.Resolver{NS: s.mounts, Root: root, Start: root}
	at, err := r.Resolve(rootCtx{}, p, true)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return s.mounts.Mount(at, in, vfs.MountOptions{FSType: fstype, Source: fstype})
}

// mask hides p (an OCI config's maskedPaths): a directory under an empty
// read-only tmpfs, a file under /dev/null. A missing path is left alone.
func (s *Sandbox) mask(p string, devNum uint64) error {
	at, ok, err := s.lookupExisting(p)
	if !ok {
		return err
	}
	st, err := at.Inode().Stat(rootCtx{})
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		empty := memfs.New(devNum, memfs.Options{MaxBytes: memfsMinBytes, MemFile: s.Kernel.MemoryFile(), RootMode: 0o755})
		return s.mounts.Mount(at, empty.Root(), vfs.MountOptions{FSType: "tmpfs", Source: "tmpfs", ReadOnly: true})
	}
	null, err := dev.New(devNum).Lookup(rootCtx{}, "null")
	if err != nil {
		return err
	}
	return s.mounts.Mount(at, null, vfs.MountOptions{FSType: "devtmpfs", Source: "devtmpfs"})
}

// memfsMinBytes sizes the empty tmpfs that masks a directory.
const memfsMinBytes = 4096

// readOnly makes p (an OCI config's readonlyPaths) read-only, by mounting
// what is there on itself read-only. A missing path is left alone.
func (s *Sandbox) readOnly(p string) error {
	at, ok, err := s.lookupExisting(p)
	if !ok {
		return err
	}
	if at.IsMountRoot() {
		return s.mounts.SetReadOnly(at, true)
	}
	return s.mounts.Mount(at, at.Inode(), vfs.MountOptions{FSType: at.Mount.FSType(), Source: p, ReadOnly: true})
}

// lookupExisting resolves p in the sandbox: ok false with a nil error
// when it does not exist (a path to leave alone).
func (s *Sandbox) lookupExisting(p string) (at vfs.Path, ok bool, err error) {
	root := s.mounts.Root()
	r := &vfs.Resolver{NS: s.mounts, Root: root, Start: root}
	at, err = r.Resolve(rootCtx{}, p, true)
	if err == unix.ENOENT || err == unix.ENOTDIR {
		return at, false, nil
	}
	return at, err == nil, err
}

// lookupPath walks the relative path p from directory dir.
func lookupPath(dir vfs.Inode, p string) (vfs.Inode, error) {
	for _, name := range strings.Split(p, "/") {
		next, err := dir.Lookup(rootCtx{}, name)
		if err != nil {
			return nil, err
		}
		dir = next
	}
	return dir, nil
}

// makeDevice makes the special file d, replacing whatever is at its path,
// as runc does for linux.devices.
func (s *Sandbox) makeDevice(d Device) error {
	if !path.IsAbs(d.Path) {
		return errors.New("the path must be absolute")
	}
	p := path.Clean(d.Path)
	dir, err := s.mountPoint(path.Dir(p), true)
	if err != nil {
		return err
	}
	mk, ok := dir.Inode().(interface {
		Mknod(ctx vfs.Context, name string, mode uint32, dev uint64) error
	})
	if !ok {
		return fmt.Errorf("%s cannot hold device nodes", path.Dir(p))
	}
	name := path.Base(p)
	if in, err := dir.Inode().Lookup(rootCtx{}, name); err == nil {
		// One of the standard devices (a mount point) stays.
		if st, err := in.Stat(rootCtx{}); err == nil && st.Mode&unix.S_IFMT == d.Type && st.Rdev == unix.Mkdev(d.Major, d.Minor) {
			return nil
		}
	}
	if err := dir.Inode().Unlink(rootCtx{}, name); err != nil && err != unix.ENOENT {
		return err
	}
	if err := mk.Mknod(rootCtx{}, name, d.Type|d.Mode&0o7777, unix.Mkdev(d.Major, d.Minor)); err != nil {
		return err
	}
	in, err := dir.Inode().Lookup(rootCtx{}, name)
	if err != nil {
		return err
	}
	if a, ok := in.(vfs.AttrSetter); ok {
		return a.SetStat(rootCtx{}, unix.STATX_UID|unix.STATX_GID|unix.STATX_MODE, vfs.Stat{UID: d.UID, GID: d.GID, Mode: d.Type | d.Mode&0o7777})
	}
	return nil
}
