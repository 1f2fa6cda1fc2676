package syscalls

import (
	"golang.org/x/sys/unix"

	"moat/arch"
	"moat/kernel"
	"moat/vfs"
)

// struct open_how (openat2(2)): its first version's size, and the largest
// size openat2 accepts (a page).
const (
	openHowSizeVer0 = 24
	openHowMaxSize  = 4096
)

// resolveCached is RESOLVE_CACHED (Linux 5.12), which x/sys lacks.
const resolveCached = 0x20

// oTmpfileBit is __O_TMPFILE: O_TMPFILE without the O_DIRECTORY it
// includes.
const oTmpfileBit = unix.O_TMPFILE &^ unix.O_DIRECTORY

// resolveKnown are the RESOLVE_* flags moat knows: Linux's.
const resolveKnown = unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_SYMLINKS |
	unix.RESOLVE_BENEATH | unix.RESOLVE_IN_ROOT | resolveCached

// restrictedResolver returns the resolver for path relative to dirfd with
// openat2's restrictions (vfs.Resolve*): RESOLVE_BENEATH refuses an
// absolute path (EXDEV) before looking at dirfd, as Linux does; with
// RESOLVE_BENEATH or RESOLVE_IN_ROOT, dirfd (or the cwd) is the root of
// the resolution, also for an absolute path (IN_ROOT).
func restrictedResolver(t *kernel.Task, dirfd int32, path string, restrict uint64) (*vfs.Resolver, error) {
	if restrict == 0 {
		return t.Resolver(dirfd, path)
	}
	if restrict&vfs.ResolveBeneath != 0 && path != "" && path[0] == '/' {
		return nil, unix.EXDEV
	}
	start := path
	if restrict&(vfs.ResolveBeneath|vfs.ResolveInRoot) != 0 {
		start = "" // dirfd's directory, whatever the path
	}
	r, err := t.Resolver(dirfd, start)
	if err != nil {
		return nil, err
	}
	r.Scope(restrict)
	return r, nil
}

// sysOpenat2 implements openat2(2): openat with a struct open_how whose
// every field is checked (EINVAL for unknown flags, a mode without
// O_CREAT or O_TMPFILE, and the combinations Linux refuses; E2BIG for a
// larger struct with non-zero bytes moat does not know) and resolve
// flags that restrict the path walk (vfs.Resolver.Restrict).
// RESOLVE_CACHED: moat has no dentry cache to miss, so every lookup is
// "cached"; opens that would create or truncate fail with EAGAIN, as on
// Linux.
func sysOpenat2(t *kernel.Task, a arch.SyscallArgs) (uintptr, error) {
	dirfd, howAddr, size := int32(a[0]), a[2], a[3]
	switch {
	case size < openHowSizeVer0:
		return 0, unix.EINVAL
	case size > openHowMaxSize:
		return 0, unix.E2BIG
	}
	b := make([]byte, size)
	if err := copyIn(t, howAddr, b); err != nil {
		return 0, err
	}
	for _, c := range b[openHowSizeVer0:] {
		if c != 0 {
			return 0, unix.E2BIG
		}
	}
	flags64, mode, resolve := le.Uint64(b), le.Uint64(b[8:]), le.Uint64(b[16:])
	flags64 &^= unix.O_CLOEXEC // as Linux strips it before its checks
	cloexec := le.Uint64(b)&unix.O_CLOEXEC != 0
	creating := flags64&(unix.O_CREAT|oTmpfileBit) != 0
	switch {
	case flags64&^openFlagsKnown != 0:
		return 0, unix.EINVAL
	case resolve&^resolveKnown != 0:
		return 0, unix.EINVAL
	case resolve&unix.RESOLVE_BENEATH != 0 && resolve&unix.RESOLVE_IN_ROOT != 0:
		return 0, unix.EINVAL
	case creating && mode&^0o7777 != 0:
		return 0, unix.EINVAL
	case !creating && mode != 0:
		return 0, unix.EINVAL
	case flags64&(unix.O_DIRECTORY|unix.O_CREAT) == unix.O_DIRECTORY|unix.O_CREAT:
		return 0, unix.EINVAL
	case flags64&oTmpfileBit != 0 && flags64&unix.O_DIRECTORY == 0:
		return 0, unix.EINVAL
	case flags64&oTmpfileBit != 0 && flags64&unix.O_ACCMODE != unix.O_WRONLY && flags64&unix.O_ACCMODE != unix.O_RDWR:
		return 0, unix.EINVAL
	case flags64&unix.O_PATH != 0 && flags64&^oPathFlags != 0:
		return 0, unix.EINVAL
	case resolve&resolveCached != 0 && flags64&(unix.O_TRUNC|unix.O_CREAT|oTmpfileBit) != 0:
		return 0, unix.EAGAIN
	}
	flags := uint32(flags64)
	if cloexec {
		flags |= unix.O_CLOEXEC
	}
	path, err := copyInPath(t, a[1])
	if err != nil {
		return 0, err
	}
	return openRestricted(t, dirfd, path, flags, uint32(mode), resolve&^resolveCached)
}
