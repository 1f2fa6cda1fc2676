package syscalls

import (
	"golang.org/x/sys/unix"

	"moat/abi/linux"
	"moat/arch"
	"moat/kernel"
)

// capget(2), capset(2) and the capability options of prctl(2).

// Capability header versions (<linux/capability.h>): version 1 carries
// 32-bit sets, versions 2 and 3 64-bit ones as two 32-bit halves.
const (
	capVersion1 = 0x19980330
	capVersion2 = 0x20071026
	capVersion3 = 0x20080522

	capDataSize = 12 // struct __user_cap_data_struct
)

// capHeader reads a cap_user_header_t: the number of data structs its
// version takes, and its pid. An unknown version is replaced in the
// header by the preferred one, and is EINVAL.
func capHeader(t *kernel.Task, addr uintptr) (words int, pid int32, err error) {
	b := make([]byte, 8)
	if err := copyIn(t, addr, b); err != nil {
		return 0, 0, err
	}
	switch le.Uint32(b) {
	case capVersion1:
		words = 1
	case capVersion2, capVersion3:
		words = 2
	default:
		if err := putU32(t, addr, capVersion3); err != nil {
			return 0, 0, err
		}
		return 0, 0, unix.EINVAL
	}
	return words, int32(le.Uint32(b[4:])), nil
}

func sysCapget(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	words, pid, err := capHeader(t, a[0])
	if a[1] == 0 {
		// Probing the version: a bad one was written back.
		if err == unix.EINVAL {
			err = nil
		}
		return 0, err
	}
	if err != nil {
		return 0, err
	}
	if pid < 0 {
		return 0, unix.EINVAL
	}
	target := t
	if pid != 0 {
		if target = t.Kernel().Task(pid); target == nil {
			return 0, unix.ESRCH
		}
	}
	c := target.Creds()
	b := make([]byte, words*capDataSize)
	for i := range words {
		shift := 32 * i
		le.PutUint32(b[i*capDataSize:], uint32(c.CapEffective>>shift))
		le.PutUint32(b[i*capDataSize+4:], uint32(c.CapPermitted>>shift))
		le.PutUint32(b[i*capDataSize+8:], uint32(c.CapInheritable>>shift))
	}
	return 0, copyOut(t, a[1], b)
}

func sysCapset(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	words, pid, err := capHeader(t, a[0])
	if err != nil {
		return 0, err
	}
	if pid != 0 && pid != t.TID() {
		return 0, unix.EPERM // only a task's own sets can be set
	}
	b := make([]byte, words*capDataSize)
	if err := copyIn(t, a[1], b); err != nil {
		return 0, err
	}
	var eff, prm, inh uint64
	for i := range words {
		shift := 32 * i
		eff |= uint64(le.Uint32(b[i*capDataSize:])) << shift
		prm |= uint64(le.Uint32(b[i*capDataSize+4:])) << shift
		inh |= uint64(le.Uint32(b[i*capDataSize+8:])) << shift
	}
	// Bits beyond CAP_LAST_CAP are ignored, as on Linux.
	return 0, t.Capset(eff&linux.CapFull, prm&linux.CapFull, inh&linux.CapFull)
}

// prctl options about capabilities.
const (
	prGetKeepcaps        = 7
	prSetKeepcaps        = 8
	prCapbsetRead        = 23
	prCapbsetDrop        = 24
	prGetSecurebits      = 27
	prSetSecurebits      = 28
	prCapAmbient         = 47
	prCapAmbientIsSet    = 1
	prCapAmbientRaise    = 2
	prCapAmbientLower    = 3
	prCapAmbientClearAll = 4
)

// capPrctl handles the capability options of prctl; ok is false for
// other options.
func capPrctl(t *kernel.Task, a arch.SyscallArgs) (ret uintptr, ok bool, err error) {
	c := t.Creds()
	flag := func(b bool) (uintptr, bool, error) {
		if b {
			return 1, true, nil
		}
		return 0, true, nil
	}
	switch a[0] {
	case prCapbsetRead:
		if !linux.CapValid(uint64(a[1])) {
			return 0, true, unix.EINVAL
		}
		return flag(c.CapBounding&(1<<a[1]) != 0)
	case prCapbsetDrop:
		if !c.HasCap(linux.CAP_SETPCAP) {
			return 0, true, unix.EPERM
		}
		if !linux.CapValid(uint64(a[1])) {
			return 0, true, unix.EINVAL
		}
		return 0, true, t.DropBounding(int(a[1]))
	case prGetKeepcaps:
		return flag(c.Securebits&kernel.SecbitKeepCaps != 0)
	case prSetKeepcaps:
		if a[1] > 1 {
			return 0, true, unix.EINVAL
		}
		return 0, true, t.SetKeepCaps(a[1] == 1)
	case prGetSecurebits:
		return uintptr(c.Securebits), true, nil
	case prSetSecurebits:
		return 0, true, t.SetSecurebits(uint64(a[1]))
	case prCapAmbient:
		if a[1] == prCapAmbientClearAll {
			if a[2] != 0 || a[3] != 0 || a[4] != 0 {
				return 0, true, unix.EINVAL
			}
			t.LowerAmbient(0, true)
			return 0, true, nil
		}
		if !linux.CapValid(uint64(a[2])) || a[3] != 0 || a[4] != 0 {
			return 0, true, unix.EINVAL
		}
		switch a[1] {
		case prCapAmbientIsSet:
			return flag(c.CapAmbient&(1<<a[2]) != 0)
		case prCapAmbientRaise:
			return 0, true, t.RaiseAmbient(int(a[2]))
		case prCapAmbientLower:
			t.LowerAmbient(int(a[2]), false)
			return 0, true, nil
		}
		return 0, true, unix.EINVAL
	}
	return 0, false, nil
}
