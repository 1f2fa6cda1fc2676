package syscalls

import (
	"math"

	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/kernel"
	"moat/mm"
	"moat/platform"
)

// mmapFlagsKnown are the mmap flags Linux accepts (others are ignored by
// Linux for legacy reasons, except with MAP_SHARED_VALIDATE).
const mmapFlagsKnown = unix.MAP_SHARED | unix.MAP_PRIVATE | unix.MAP_SHARED_VALIDATE | unix.MAP_FIXED |
	unix.MAP_ANONYMOUS | unix.MAP_GROWSDOWN | unix.MAP_DENYWRITE | unix.MAP_EXECUTABLE | unix.MAP_LOCKED |
	unix.MAP_NORESERVE | unix.MAP_POPULATE | unix.MAP_NONBLOCK | unix.MAP_STACK | unix.MAP_HUGETLB |
	unix.MAP_SYNC | unix.MAP_FIXED_NOREPLACE | 0x3f<<26 // MAP_HUGE_SHIFT size bits

func sysMmap(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	addr, length, prot, flags, fd, off := a[0], a[1], int(a[2]), int(a[3]), int32(a[4]), int64(a[5])
	typ := flags & (unix.MAP_SHARED | unix.MAP_PRIVATE | unix.MAP_SHARED_VALIDATE)
	switch typ {
	case unix.MAP_SHARED, unix.MAP_PRIVATE:
	case unix.MAP_SHARED_VALIDATE:
		if flags&unix.MAP_ANONYMOUS != 0 {
			return 0, unix.EINVAL
		}
		if flags&^mmapFlagsKnown != 0 {
			return 0, unix.EOPNOTSUPP
		}
		typ = unix.MAP_SHARED
	default:
		return 0, unix.EINVAL
	}
	// Unknown prot bits are ignored by mmap (mprotect rejects them).
	if length == 0 || off&(4096-1) != 0 {
		return 0, unix.EINVAL
	}
	if length > taskSize || (length+4095)&^4095 == 0 {
		return 0, unix.ENOMEM
	}
	if flags&unix.MAP_HUGETLB != 0 {
		return 0, unix.EINVAL // support: no hugetlbfs in the sandbox
	}
	at := platform.AccessType{Read: prot&unix.PROT_READ != 0, Write: prot&unix.PROT_WRITE != 0, Execute: prot&unix.PROT_EXEC != 0}
	if at.Write || at.Execute {
		at.Read = true
	}
	o := mm.MMapOpts{
		Addr: addr, Length: length,
		Fixed:     flags&unix.MAP_FIXED != 0,
		NoReplace: flags&unix.MAP_FIXED_NOREPLACE != 0,
		Perms:     at, MaxPerms: platform.AnyAccess,
		Private:   typ == unix.MAP_PRIVATE,
		GrowsDown: flags&unix.MAP_GROWSDOWN != 0,
		NoReserve: flags&unix.MAP_NORESERVE != 0,
	}
	if flags&unix.MAP_ANONYMOUS == 0 {
		f, err := getFile(t, uintptr(uint32(fd)))
		if err != nil {
			return 0, err
		}
		defer f.DecRef()
		// Linux's file_mmap_ok: the mapping must end within the largest
		// file size (MAX_LFS_FILESIZE).
		if off < 0 || uint64((length+4095)&^4095) > uint64(math.MaxInt64-off) {
			return 0, unix.EOVERFLOW
		}
		st, err := f.Stat(t)
		if err != nil {
			return 0, err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == unix.Mkdev(1, 5) {
			return t.MM().MMap(o) // /dev/zero: anonymous memory, private or shared
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return 0, unix.ENODEV // support: only regular files and /dev/zero can be mapped yet
		}
		acc := f.Flags() & unix.O_ACCMODE
		if acc == unix.O_WRONLY || f.Flags()&unix.O_PATH != 0 {
			return 0, unix.EACCES
		}
		mf := t.Mappable(f)
		defer mf.DecRef()
		if !o.Private {
			if s, ok := f.Impl().(interface{ SealsForbidWrite() bool }); ok && s.SealsForbidWrite() {
				if at.Write {
					return 0, unix.EPERM // a memfd sealed against writes
				}
				o.MaxPerms.Write = false
			}
			if acc != unix.O_RDWR {
				o.MaxPerms.Write = false
				if at.Write {
					return 0, unix.EACCES
				}
			}
			// Files whose memory can be shared (the sandbox's own, in
			// memory, and host files of writable binds, cached in
			// memory and written back) are mapped shared; others (host
			// files of the read-only root and ro binds, which nothing
			// in the sandbox can change) only read-only, as private
			// copies.
			if err := mf.CanShare(off); err != nil {
				if at.Write || o.MaxPerms.Write {
					if !at.Write {
						o.MaxPerms.Write = false // mprotect cannot make the copy writable
					} else {
						return 0, unix.ENODEV
					}
				}
				o.Private = true
			}
		}
		o.File = mf
		o.Offset = off
	}
	return t.MM().MMap(o)
}

func sysMunmap(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, t.MM().MUnmap(a[0], a[1])
}

func sysMprotect(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, t.MM().MProtect(a[0], a[1], int(a[2]))
}

func sysBrk(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return t.MM().Brk(a[0]), nil
}

func sysMremap(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return t.MM().MRemap(a[0], a[1], a[2], int(a[3]), a[4])
}

func sysMadvise(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, t.MM().MAdvise(a[0], a[1], int(a[2]))
}

// sysMsync writes back the dirty pages of shared mappings of host files
// (writable binds) in the range; shared mappings of the sandbox's own
// files are the files' memory, and other file mappings are private
// copies.
func sysMsync(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, t.MM().MSync(a[0], a[1], int(a[2]))
}
