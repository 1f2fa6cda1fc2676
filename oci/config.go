package oci

import (
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/boot"
	"moat/kernel"
	"moat/oci/seccomp"
)

// BootConfig turns a container's config into the sandbox's: the bundle's
// rootfs written in place, the config's mounts, masked and read-only
// paths, names, and the network its namespaces ask for.
func BootConfig(s *specs.Spec) (boot.Config, error) {
	cfg := boot.Config{
		Rootfs:       s.Root.Path,
		RootWritable: true,
		RootReadOnly: s.Root.Readonly,
		Mounts:       []boot.Mount{},
		Hostname:     s.Hostname,
		Domainname:   s.Domainname,
		Net:          "host", // no network namespace: the host's network, as runc
	}
	for _, m := range s.Mounts {
		cfg.Mounts = append(cfg.Mounts, boot.Mount{Dest: m.Destination, Type: m.Type, Source: m.Source, Options: m.Options})
	}
	if s.Linux != nil {
		cfg.MaskedPaths = s.Linux.MaskedPaths
		cfg.ReadonlyPaths = s.Linux.ReadonlyPaths
		for i, d := range s.Linux.Devices {
			dev := boot.Device{Path: d.Path, Major: uint32(d.Major), Minor: uint32(d.Minor), Mode: 0o666}
			switch d.Type {
			case "c", "u":
				dev.Type = unix.S_IFCHR
			case "b":
				dev.Type = unix.S_IFBLK
			case "p":
				dev.Type = unix.S_IFIFO
			default:
				return cfg, fmt.Errorf("linux.devices[%d]: unknown type %q", i, d.Type)
			}
			if d.FileMode != nil {
				dev.Mode = uint32(d.FileMode.Perm())
			}
			if d.UID != nil {
				dev.UID = *d.UID
			}
			if d.GID != nil {
				dev.GID = *d.GID
			}
			cfg.Devices = append(cfg.Devices, dev)
		}
		if ns, ok := namespace(s, specs.NetworkNamespace); ok {
			if ns.Path == "" {
				cfg.Net = "none" // a new network namespace: loopback only
			}
			// With a path, the sentry runs in that namespace
			// (SentryNetNS) and serves sockets from it.
		}
	}
	for i, m := range cfg.Mounts {
		if (m.Type == "bind" || hasOption(m.Options, "bind") || hasOption(m.Options, "rbind")) && !filepath.IsAbs(m.Source) {
			return cfg, fmt.Errorf("mounts[%d]: bind source %q must be an absolute path", i, m.Source)
		}
	}
	return cfg, nil
}

// sentryNamespaces are the kinds of host namespace the sentry itself runs
// in (SentryNamespaces).
const sentryNamespaces = unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNS | unix.CLONE_NEWNET

// NamespaceJoin is a host namespace the sentry joins: its setns(2) type
// and the path the engine gave.
type NamespaceJoin struct {
	Type int
	Path string
}

// SentryNamespaces returns the host namespaces the sentry runs in, for
// defence in depth and so that the host sees the container's namespaces
// as a runc container's: new ones (clone flags) for the config's pid,
// ipc, uts, mount and network namespaces without a path, and the ones it
// joins for those with one (a network namespace the engine set up, as CNI
// does). The container's own namespaces are the sandbox's, implemented
// in the sentry; types the config leaves out are shared with the host
// (no network namespace: the host's network). User, cgroup and time
// namespaces are the sandbox's only.
func SentryNamespaces(s *specs.Spec) (clone uintptr, join []NamespaceJoin, err error) {
	if s.Linux == nil {
		return 0, nil, nil
	}
	for _, ns := range s.Linux.Namespaces {
		f := nsTypes[ns.Type]
		switch {
		case f&sentryNamespaces == 0:
		case ns.Path == "":
			clone |= uintptr(f)
			if f == unix.CLONE_NEWPID {
				// The sentry mounts its PID namespace's /proc.
				clone |= unix.CLONE_NEWNS
			}
		case ns.Type == specs.MountNamespace:
			// setns(2) into a mount namespace needs a single-threaded
			// process; the container's mounts are the sandbox's anyway.
			return 0, nil, fmt.Errorf("linux.namespaces: joining a mount namespace by path (%s) is not supported", ns.Path)
		default:
			join = append(join, NamespaceJoin{Type: f, Path: ns.Path})
			if f == unix.CLONE_NEWPID {
				clone |= unix.CLONE_NEWNS
			}
		}
	}
	return clone, join, nil
}

func namespace(s *specs.Spec, t specs.LinuxNamespaceType) (specs.LinuxNamespace, bool) {
	if s.Linux == nil {
		return specs.LinuxNamespace{}, false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return ns, true
		}
	}
	return specs.LinuxNamespace{}, false
}

func hasOption(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

// Seccomp compiles the config's linux.seccomp (nil without one): the
// filter every process of the container runs under, its init's and the
// exec'd ones', enforced by moat's kernel.
func Seccomp(s *specs.Spec) ([]linux.SockFilter, error) {
	if s.Linux == nil || s.Linux.Seccomp == nil {
		return nil, nil
	}
	f, err := seccomp.Build(s.Linux.Seccomp)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	return f, nil
}

// ProcessArgs turns a config's process into the kernel's, its program
// found on the process's own PATH in sb. Stdio and the terminal are the
// caller's to fill in.
func ProcessArgs(sb *boot.Sandbox, p *specs.Process) (kernel.ProcessArgs, error) {
	if p == nil || len(p.Args) == 0 {
		return kernel.ProcessArgs{}, fmt.Errorf("process.args must not be empty")
	}
	path, err := sb.LookPath(p.Args[0], p.Env)
	if err != nil {
		return kernel.ProcessArgs{}, fmt.Errorf("exec: %q: executable file not found in $PATH", p.Args[0])
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	pa := kernel.ProcessArgs{Path: path, Argv: p.Args, Envv: p.Env, Cwd: cwd, UID: p.User.UID, GID: p.User.GID,
		NoNewPrivs: p.NoNewPrivileges, Umask: p.User.Umask}
	if p.OOMScoreAdj != nil {
		pa.OOMScoreAdj = *p.OOMScoreAdj
	}
	creds := kernel.InitialCredentials(p.User.UID, p.User.GID)
	creds.Groups = append([]uint32(nil), p.User.AdditionalGids...)
	if c := p.Capabilities; c != nil {
		sets := []struct {
			names []string
			dst   *uint64
		}{{c.Bounding, &creds.CapBounding}, {c.Effective, &creds.CapEffective}, {c.Inheritable, &creds.CapInheritable},
			{c.Permitted, &creds.CapPermitted}, {c.Ambient, &creds.CapAmbient}}
		for _, s := range sets {
			bits, err := capBits(s.names)
			if err != nil {
				return pa, err
			}
			*s.dst = bits
		}
	}
	pa.Creds = &creds
	if len(p.Rlimits) > 0 {
		pa.Rlimits = map[int]kernel.Rlimit{}
		for _, r := range p.Rlimits {
			n, ok := rlimitNumbers[r.Type]
			if !ok {
				return pa, fmt.Errorf("process.rlimits: unknown resource %q", r.Type)
			}
			if r.Soft > r.Hard {
				return pa, fmt.Errorf("process.rlimits: %s: soft limit %d above the hard limit %d", r.Type, r.Soft, r.Hard)
			}
			pa.Rlimits[n] = kernel.Rlimit{Cur: r.Soft, Max: r.Hard}
		}
	}
	return pa, nil
}

// capBits turns capability names (CAP_CHOWN, ...) into a set. Names this
// kernel does not know are an error, as for runc.
func capBits(names []string) (uint64, error) {
	var bits uint64
	for _, n := range names {
		i := -1
		for j, known := range capNames {
			if strings.EqualFold(n, "CAP_"+known) {
				i = j
				break
			}
		}
		if i < 0 {
			return 0, fmt.Errorf("unknown capability %q", n)
		}
		bits |= 1 << i
	}
	return bits, nil
}

// capNames are the capabilities by number (capabilities(7)).
var capNames = []string{"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
	"MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
	"CHECKPOINT_RESTORE"}

// rlimitNumbers are the resources by name (getrlimit(2)).
var rlimitNumbers = map[string]int{
	"RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_DATA": unix.RLIMIT_DATA,
	"RLIMIT_STACK": unix.RLIMIT_STACK, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
}
