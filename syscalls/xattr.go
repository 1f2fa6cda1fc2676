package syscalls

import (
	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/kernel"
	"moat/vfs"
)

// Extended attributes are not supported by moat's filesystems yet: every
// xattr call on an existing file fails with EOPNOTSUPP, which programs
// (ls, cp -a, tar) treat as "this filesystem has none".
func xattrPath(follow bool) kernel.SyscallFunc {
	return func(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
		if _, err := pathOrFD(t, unix.AT_FDCWD, a[0], follow, false); err != nil {
			return 0, err
		}
		return 0, unix.EOPNOTSUPP
	}
}

func xattrFD(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	f, err := getFile(t, a[0])
	if err != nil {
		return 0, err
	}
	f.DecRef()
	return 0, unix.EOPNOTSUPP
}

// Filesystem magic numbers for statfs's f_type.
var fsMagic = map[string]int64{
	"overlay":  0x794c7630,
	"tmpfs":    0x01021994,
	"devtmpfs": 0x01021994,
	"proc":     0x9fa0,
}

// encodeStatfs lays out struct statfs for a mount.
func encodeStatfs(m *vfs.Mount) []byte {
	var host unix.Statfs_t
	unix.Statfs("/", &host) // sizes: the host's root, which backs the overlay
	b := make([]byte, 120)
	le.PutUint64(b[0:], uint64(fsMagic[m.FSType()]))
	le.PutUint64(b[8:], 4096) // f_bsize
	le.PutUint64(b[16:], host.Blocks*uint64(host.Bsize)/4096)
	le.PutUint64(b[24:], host.Bfree*uint64(host.Bsize)/4096)
	le.PutUint64(b[32:], host.Bavail*uint64(host.Bsize)/4096)
	le.PutUint64(b[40:], host.Files)
	le.PutUint64(b[48:], host.Ffree)
	le.PutUint64(b[64:], 255)  // f_namelen
	le.PutUint64(b[72:], 4096) // f_frsize
	var flags uint64
	if m.ReadOnly() {
		flags |= unix.ST_RDONLY
	}
	le.PutUint64(b[80:], flags)
	return b
}

func sysStatfs(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	p, err := pathOrFD(t, unix.AT_FDCWD, a[0], true, false)
	if err != nil {
		return 0, err
	}
	return 0, copyOut(t, a[1], encodeStatfs(p.Mount))
}

func sysFstatfs(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	p, err := fdPath(t, a[0])
	if err != nil {
		return 0, err
	}
	if p.Mount == nil {
		return 0, copyOut(t, a[1], make([]byte, 120)) // pipes: pipefs, not described yet
	}
	return 0, copyOut(t, a[1], encodeStatfs(p.Mount))
}
