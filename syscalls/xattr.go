package syscalls

import (
	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/kernel"
	"moat/vfs"
)

// Extended attributes: the sandbox's own files (memfs, the overlay's
// upper layer) keep user., trusted. and security. ones; host files (the
// lower layer, bind mounts) show none and refuse new ones
// (EOPNOTSUPP), as filesystems without xattr support do.

type xattrOp int

const (
	xattrGet xattrOp = iota
	xattrSet
	xattrList
	xattrRemove
)

// xattrArgs are an xattr call's arguments, read from the app.
type xattrArgs struct {
	name  string
	value []byte // setxattr
}

// readXattrArgs reads and checks the name, and for setxattr the flags and
// value, in Linux's order.
func readXattrArgs(t *kernel.Task, op xattrOp, a arch.SyscallArgs) (xattrArgs, error) {
	var x xattrArgs
	if op == xattrList {
		return x, nil
	}
	if op == xattrSet && a[4]&^(vfs.XattrCreate|vfs.XattrReplace) != 0 {
		return x, unix.EINVAL
	}
	name, err := t.CopyInString(a[1], vfs.XattrNameMax)
	if err == unix.ENAMETOOLONG {
		return x, unix.ERANGE
	} else if err != nil {
		return x, unix.EFAULT
	}
	if err := vfs.CheckXattrName(name); err != nil {
		return x, err
	}
	x.name = name
	if op == xattrSet {
		if a[3] > vfs.XattrSizeMax {
			return x, unix.E2BIG
		}
		x.value = make([]byte, a[3])
		if err := copyIn(t, a[2], x.value); err != nil {
			return x, err
		}
	}
	return x, nil
}

// xattrPath serves the path variants (follow: getxattr & co., else
// lgetxattr & co.). setxattr and removexattr read their name before the
// path, getxattr and listxattr after, as Linux does.
func xattrPath(op xattrOp, follow bool) kernel.SyscallFunc {
	return func(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
		var x xattrArgs
		var err error
		early := op == xattrSet || op == xattrRemove
		if early {
			if x, err = readXattrArgs(t, op, a); err != nil {
				return 0, err
			}
		}
		p, err := pathOrFD(t, unix.AT_FDCWD, a[0], follow, false)
		if err != nil {
			return 0, err
		}
		if !early {
			if x, err = readXattrArgs(t, op, a); err != nil {
				return 0, err
			}
		}
		return xattrDo(t, op, p, x, a)
	}
}

// xattrFD serves fgetxattr & co.: the fd first.
func xattrFD(op xattrOp) kernel.SyscallFunc {
	return func(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
		f, err := getFile(t, a[0])
		if err != nil {
			return 0, err
		}
		defer f.DecRef()
		if f.Flags()&unix.O_PATH != 0 {
			return 0, unix.EBADF
		}
		x, err := readXattrArgs(t, op, a)
		if err != nil {
			return 0, err
		}
		return xattrDo(t, op, f.Path(), x, a)
	}
}

// xattrDo runs op on the inode at p.
func xattrDo(t *kernel.Task, op xattrOp, p vfs.Path, x xattrArgs, a arch.SyscallArgs) (uintptr, error) {
	var xa vfs.Xattrer
	if p.Dentry != nil {
		xa, _ = p.Inode().(vfs.Xattrer)
	}
	switch op {
	case xattrGet:
		if xa == nil {
			return 0, unix.ENODATA
		}
		v, err := xa.GetXattr(t, x.name)
		if err != nil {
			return 0, err
		}
		return copyOutSized(t, a[2], a[3], v, vfs.XattrSizeMax)
	case xattrList:
		var b []byte
		if xa != nil {
			names, err := xa.ListXattr(t)
			if err != nil {
				return 0, err
			}
			for _, n := range names {
				b = append(append(b, n...), 0)
			}
		}
		return copyOutSized(t, a[1], a[2], b, vfs.XattrListMax)
	}
	if p.Mount != nil && p.Mount.ReadOnly() {
		return 0, unix.EROFS
	}
	switch {
	case op == xattrRemove && xa == nil:
		return 0, unix.ENODATA
	case op == xattrRemove:
		return 0, xa.RemoveXattr(t, x.name)
	case xa == nil:
		return 0, unix.EOPNOTSUPP
	}
	return 0, xa.SetXattr(t, x.name, x.value, int(a[4]))
}

// copyOutSized copies v to addr as getxattr and listxattr do: size 0
// asks for the length, a smaller buffer is ERANGE.
func copyOutSized(t *kernel.Task, addr, size uintptr, v []byte, max uintptr) (uintptr, error) {
	if size == 0 {
		return uintptr(len(v)), nil
	}
	if uintptr(len(v)) > min(size, max) {
		return 0, unix.ERANGE
	}
	return uintptr(len(v)), copyOut(t, addr, v)
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
