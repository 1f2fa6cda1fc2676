package syscalls

import (
	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/kernel"
)

func sysSetuid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, t.Setuid(uint32(a[0]))
}

func sysSetgid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, t.Setgid(uint32(a[0]))
}

func sysSetreuid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, t.Setreuid(uint32(a[0]), uint32(a[1]))
}

func sysSetregid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, t.Setregid(uint32(a[0]), uint32(a[1]))
}

func sysSetresuid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, t.Setresuid(uint32(a[0]), uint32(a[1]), uint32(a[2]))
}

func sysSetresgid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return 0, t.Setresgid(uint32(a[0]), uint32(a[1]), uint32(a[2]))
}

// putIDs writes three ids to three addresses (getresuid, getresgid).
func putIDs(t *kernel.Task, addrs [3]uintptr, ids [3]uint32) error {
	for i, addr := range addrs {
		if err := putU32(t, addr, ids[i]); err != nil {
			return err
		}
	}
	return nil
}

func sysGetresuid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	c := t.Creds()
	return 0, putIDs(t, [3]uintptr{a[0], a[1], a[2]}, [3]uint32{c.UID, c.EUID, c.SUID})
}

func sysGetresgid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	c := t.Creds()
	return 0, putIDs(t, [3]uintptr{a[0], a[1], a[2]}, [3]uint32{c.GID, c.EGID, c.SGID})
}

func sysSetfsuid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return uintptr(t.Setfsuid(uint32(a[0]))), nil
}

func sysSetfsgid(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	return uintptr(t.Setfsgid(uint32(a[0]))), nil
}

func sysSetgroups(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	n := int32(a[0])
	if n < 0 || n > kernel.NGroupsMax {
		return 0, unix.EINVAL
	}
	b := make([]byte, 4*int(n))
	if err := copyIn(t, a[1], b); err != nil {
		return 0, err
	}
	groups := make([]uint32, n)
	for i := range groups {
		groups[i] = le.Uint32(b[4*i:])
	}
	return 0, t.Setgroups(groups)
}
