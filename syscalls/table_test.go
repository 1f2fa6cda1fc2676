package syscalls

import (
	"strings"
	"testing"

	"moat/abi/linux"
	"moat/kernel"
)

// required is the foundation's list of system calls: each must be served.
const required = `read write readv writev pread64 pwrite64 open openat creat close fstat stat lstat
newfstatat statx lseek getdents64 readlink readlinkat access faccessat faccessat2 getcwd chdir
fchdir mkdir mkdirat unlink unlinkat rmdir rename renameat renameat2 dup dup2 dup3 fcntl ioctl pipe
pipe2 mmap munmap mprotect brk mremap madvise exit exit_group getpid gettid getppid getuid geteuid
getgid getegid getgroups uname arch_prctl set_tid_address set_robust_list prlimit64 getrlimit
setrlimit clock_gettime clock_getres gettimeofday time nanosleep clock_nanosleep getrandom sysinfo
sched_getaffinity sched_yield umask rt_sigaction rt_sigprocmask`

func TestRequiredSyscallsImplemented(t *testing.T) {
	st := New()
	byName := map[string]uintptr{}
	for nr, name := range linux.SyscallNames {
		byName[name] = uintptr(nr)
	}
	for _, name := range strings.Fields(required) {
		nr, ok := byName[name]
		if !ok {
			t.Errorf("%s: no such system call name", name)
			continue
		}
		s := st.Lookup(nr)
		if s == nil || s.Fn == nil || s.Support == kernel.Unimplemented {
			t.Errorf("%s (%d) is not implemented", name, nr)
			continue
		}
		if s.Name != name {
			t.Errorf("syscall %d registered as %q, want %q", nr, s.Name, name)
		}
		if s.Support == kernel.Partial && s.Note == "" {
			t.Errorf("%s is partial without a note saying what is missing", name)
		}
	}
}

func TestUnimplementedHaveNotes(t *testing.T) {
	New().Each(func(nr uintptr, s *kernel.Syscall) {
		if s.Support == kernel.Unimplemented && (s.Fn != nil || s.Note == "") {
			t.Errorf("%s: unimplemented entries must have no handler and a support note", s.Name)
		}
	})
}
