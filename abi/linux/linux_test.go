package linux

import (
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSyscallNamesMatchUnix(t *testing.T) {
	for _, tc := range []struct {
		nr   uintptr
		name string
	}{
		{unix.SYS_READ, "read"},
		{unix.SYS_WRITE, "write"},
		{unix.SYS_OPEN, "open"},
		{unix.SYS_CLOSE, "close"},
		{unix.SYS_MMAP, "mmap"},
		{unix.SYS_RT_SIGACTION, "rt_sigaction"},
		{unix.SYS_RT_SIGRETURN, "rt_sigreturn"},
		{unix.SYS_PREAD64, "pread64"},
		{unix.SYS_CLONE, "clone"},
		{unix.SYS_EXECVE, "execve"},
		{unix.SYS_EXIT, "exit"},
		{unix.SYS_WAIT4, "wait4"},
		{unix.SYS_ARCH_PRCTL, "arch_prctl"},
		{unix.SYS_GETTID, "gettid"},
		{unix.SYS_FUTEX, "futex"},
		{unix.SYS_GETDENTS64, "getdents64"},
		{unix.SYS_SET_TID_ADDRESS, "set_tid_address"},
		{unix.SYS_EXIT_GROUP, "exit_group"},
		{unix.SYS_OPENAT, "openat"},
		{unix.SYS_NEWFSTATAT, "newfstatat"},
		{unix.SYS_PRLIMIT64, "prlimit64"},
		{unix.SYS_GETRANDOM, "getrandom"},
		{unix.SYS_STATX, "statx"},
		{unix.SYS_RSEQ, "rseq"},
		{unix.SYS_PIDFD_SEND_SIGNAL, "pidfd_send_signal"},
		{unix.SYS_IO_URING_SETUP, "io_uring_setup"},
		{unix.SYS_CLONE3, "clone3"},
		{unix.SYS_CLOSE_RANGE, "close_range"},
		{unix.SYS_OPENAT2, "openat2"},
		{unix.SYS_FACCESSAT2, "faccessat2"},
		{unix.SYS_EPOLL_PWAIT2, "epoll_pwait2"},
		{unix.SYS_LANDLOCK_RESTRICT_SELF, "landlock_restrict_self"},
		{unix.SYS_FUTEX_WAITV, "futex_waitv"},
		{unix.SYS_SET_MEMPOLICY_HOME_NODE, "set_mempolicy_home_node"},
		{unix.SYS_CACHESTAT, "cachestat"},
		{unix.SYS_FCHMODAT2, "fchmodat2"},
		{unix.SYS_MAP_SHADOW_STACK, "map_shadow_stack"},
		{unix.SYS_FUTEX_WAKE, "futex_wake"},
		{unix.SYS_FUTEX_WAIT, "futex_wait"},
		{unix.SYS_FUTEX_REQUEUE, "futex_requeue"},
		{unix.SYS_STATMOUNT, "statmount"},
		{unix.SYS_LISTMOUNT, "listmount"},
		{unix.SYS_LSM_GET_SELF_ATTR, "lsm_get_self_attr"},
		{unix.SYS_LSM_SET_SELF_ATTR, "lsm_set_self_attr"},
		{unix.SYS_LSM_LIST_MODULES, "lsm_list_modules"},
		{unix.SYS_MSEAL, "mseal"},
		{unix.SYS_SETXATTRAT, "setxattrat"},
		{unix.SYS_GETXATTRAT, "getxattrat"},
		{unix.SYS_LISTXATTRAT, "listxattrat"},
		{unix.SYS_REMOVEXATTRAT, "removexattrat"},
		{unix.SYS_OPEN_TREE_ATTR, "open_tree_attr"},
	} {
		if got := SyscallNames[tc.nr]; got != tc.name {
			t.Errorf("SyscallNames[%d] = %q, want %q", tc.nr, got, tc.name)
		}
		if got := SyscallName(tc.nr); got != tc.name {
			t.Errorf("SyscallName(%d) = %q, want %q", tc.nr, got, tc.name)
		}
	}
}

func TestSyscallNamesShape(t *testing.T) {
	if len(SyscallNames) <= 462 {
		t.Fatalf("len(SyscallNames) = %d, want > 462", len(SyscallNames))
	}
	seen := map[string]uintptr{}
	for nr, name := range SyscallNames {
		assigned := nr <= 334 || nr >= 424
		if assigned && name == "" {
			t.Errorf("SyscallNames[%d] is empty", nr)
		}
		if !assigned && name != "" {
			t.Errorf("SyscallNames[%d] = %q, want unassigned", nr, name)
		}
		if name == "" {
			continue
		}
		if prev, ok := seen[name]; ok {
			t.Errorf("name %q used by both %d and %d", name, prev, nr)
		}
		seen[name] = uintptr(nr)
		if strings.ToLower(name) != name || strings.ContainsAny(name, " \t") {
			t.Errorf("SyscallNames[%d] = %q is not a lower-case identifier", nr, name)
		}
	}
}

func TestSyscallNameUnknown(t *testing.T) {
	for _, tc := range []struct {
		nr   uintptr
		want string
	}{
		{335, "syscall_335"},
		{423, "syscall_423"},
		{1000, "syscall_1000"},
		{^uintptr(0), "syscall_18446744073709551615"},
	} {
		if got := SyscallName(tc.nr); got != tc.want {
			t.Errorf("SyscallName(%d) = %q, want %q", tc.nr, got, tc.want)
		}
	}
}

func TestErrnoName(t *testing.T) {
	for _, tc := range []struct {
		e    unix.Errno
		want string
	}{
		{unix.EPERM, "EPERM"},
		{unix.ENOENT, "ENOENT"},
		{unix.EINTR, "EINTR"},
		{unix.EBADF, "EBADF"},
		{unix.EAGAIN, "EAGAIN"},
		{unix.EWOULDBLOCK, "EAGAIN"},
		{unix.ENOMEM, "ENOMEM"},
		{unix.EACCES, "EACCES"},
		{unix.EFAULT, "EFAULT"},
		{unix.EEXIST, "EEXIST"},
		{unix.ENOTDIR, "ENOTDIR"},
		{unix.EINVAL, "EINVAL"},
		{unix.ENOTTY, "ENOTTY"},
		{unix.ERANGE, "ERANGE"},
		{unix.EDEADLK, "EDEADLK"},
		{unix.ENAMETOOLONG, "ENAMETOOLONG"},
		{unix.ENOSYS, "ENOSYS"},
		{unix.ENOTEMPTY, "ENOTEMPTY"},
		{unix.ELOOP, "ELOOP"},
		{unix.ENODATA, "ENODATA"},
		{unix.EOPNOTSUPP, "EOPNOTSUPP"},
		{unix.EADDRINUSE, "EADDRINUSE"},
		{unix.ECONNREFUSED, "ECONNREFUSED"},
		{unix.ETIMEDOUT, "ETIMEDOUT"},
		{unix.ECANCELED, "ECANCELED"},
		{unix.EOWNERDEAD, "EOWNERDEAD"},
		{unix.ERFKILL, "ERFKILL"},
		{unix.EHWPOISON, "EHWPOISON"},
		{512, "ERESTARTSYS"},
		{513, "ERESTARTNOINTR"},
		{514, "ERESTARTNOHAND"},
		{516, "ERESTART_RESTARTBLOCK"},
		{41, "errno_41"},
		{58, "errno_58"},
		{134, "errno_134"},
		{0, "errno_0"},
	} {
		if got := ErrnoName(tc.e); got != tc.want {
			t.Errorf("ErrnoName(%d) = %q, want %q", int(tc.e), got, tc.want)
		}
	}
}

// TestErrnoNameAgreesWithUnix checks every assigned errno against the
// name golang.org/x/sys/unix uses, allowing for the aliases where x/sys
// picks the other spelling.
func TestErrnoNameAgreesWithUnix(t *testing.T) {
	alias := map[string]string{"EWOULDBLOCK": "EAGAIN", "EDEADLOCK": "EDEADLK", "ENOTSUP": "EOPNOTSUPP", "EFSCORRUPTED": "EUCLEAN"}
	for e := unix.Errno(1); e <= 133; e++ {
		want := unix.ErrnoName(e)
		if a, ok := alias[want]; ok {
			want = a
		}
		if want == "" {
			want = "errno_" + strconv.Itoa(int(e))
		}
		if got := ErrnoName(e); got != want {
			t.Errorf("ErrnoName(%d) = %q, want %q", int(e), got, want)
		}
	}
}

func TestErrnoDescription(t *testing.T) {
	for _, tc := range []struct {
		e    unix.Errno
		want string
	}{
		{unix.ENOENT, "No such file or directory"},
		{unix.EAGAIN, "Resource temporarily unavailable"},
		{unix.EBADF, "Bad file descriptor"},
		{unix.EFAULT, "Bad address"},
		{unix.ENOSYS, "Function not implemented"},
		{512, "To be restarted if SA_RESTART is set"},
		{516, "Interrupted by signal"},
		{41, "Unknown error 41"},
	} {
		if got := ErrnoDescription(tc.e); got != tc.want {
			t.Errorf("ErrnoDescription(%d) = %q, want %q", int(tc.e), got, tc.want)
		}
	}
	for e := unix.Errno(1); e <= 133; e++ {
		if ErrnoDescription(e) == "" {
			t.Errorf("ErrnoDescription(%d) is empty", int(e))
		}
	}
}

func TestIsRestartErrno(t *testing.T) {
	for e, want := range map[unix.Errno]bool{512: true, 513: true, 514: true, 515: false, 516: true, unix.EINTR: false} {
		if got := IsRestartErrno(e); got != want {
			t.Errorf("IsRestartErrno(%d) = %v, want %v", int(e), got, want)
		}
	}
}
