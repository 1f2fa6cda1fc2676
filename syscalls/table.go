package syscalls

import (
	"golang.org/x/sys/unix"

	"moat/kernel"
)

// New returns the system-call table with every implemented call.
func New() *kernel.SyscallTable {
	st := &kernel.SyscallTable{}
	full := func(nr uintptr, fn kernel.SyscallFunc) {
		st.Register(nr, kernel.Syscall{Fn: fn, Support: kernel.Full})
	}
	partial := func(nr uintptr, fn kernel.SyscallFunc, note string) {
		st.Register(nr, kernel.Syscall{Fn: fn, Support: kernel.Partial, Note: note})
	}
	none := func(nr uintptr, note string) {
		st.Register(nr, kernel.Syscall{Support: kernel.Unimplemented, Note: note})
	}

	// Files.
	full(unix.SYS_READ, sysRead)
	full(unix.SYS_WRITE, sysWrite)
	full(unix.SYS_READV, sysReadv)
	full(unix.SYS_WRITEV, sysWritev)
	full(unix.SYS_PREAD64, sysPread64)
	full(unix.SYS_PWRITE64, sysPwrite64)
	partial(unix.SYS_OPEN, sysOpen, "O_TMPFILE is EOPNOTSUPP")
	partial(unix.SYS_OPENAT, sysOpenat, "O_TMPFILE is EOPNOTSUPP")
	full(unix.SYS_CREAT, sysCreat)
	full(unix.SYS_CLOSE, sysClose)
	full(unix.SYS_CLOSE_RANGE, sysCloseRange)
	partial(unix.SYS_FLOCK, sysFlock, "granted at once: locks between processes are not enforced yet")
	full(unix.SYS_FSTAT, sysFstat)
	full(unix.SYS_STAT, sysStat)
	full(unix.SYS_LSTAT, sysLstat)
	full(unix.SYS_NEWFSTATAT, sysNewfstatat)
	partial(unix.SYS_STATX, sysStatx, "reports STATX_BASIC_STATS only")
	full(unix.SYS_LSEEK, sysLseek)
	full(unix.SYS_GETDENTS64, sysGetdents64)
	full(unix.SYS_READLINK, sysReadlink)
	full(unix.SYS_READLINKAT, sysReadlinkat)
	full(unix.SYS_ACCESS, sysAccess)
	full(unix.SYS_FACCESSAT, sysFaccessat)
	full(unix.SYS_FACCESSAT2, sysFaccessat2)
	partial(unix.SYS_GETCWD, sysGetcwd, "a renamed or removed cwd is not detected")
	full(unix.SYS_CHDIR, sysChdir)
	full(unix.SYS_FCHDIR, sysFchdir)
	full(unix.SYS_MKDIR, sysMkdir)
	full(unix.SYS_MKDIRAT, sysMkdirat)
	full(unix.SYS_UNLINK, sysUnlink)
	full(unix.SYS_UNLINKAT, sysUnlinkat)
	full(unix.SYS_RMDIR, sysRmdir)
	full(unix.SYS_RENAME, sysRename)
	full(unix.SYS_RENAMEAT, sysRenameat)
	partial(unix.SYS_RENAMEAT2, sysRenameat2, "RENAME_WHITEOUT is EINVAL")
	full(unix.SYS_SYMLINK, sysSymlink)
	partial(unix.SYS_CHMOD, sysChmod, "moat's own /dev and /proc refuse with EPERM")
	partial(unix.SYS_FCHMOD, sysFchmod, "as chmod")
	partial(unix.SYS_FCHMODAT, sysFchmodat, "as chmod")
	partial(unix.SYS_CHOWN, sysChown, "as chmod")
	partial(unix.SYS_FCHOWN, sysFchown, "as chmod")
	partial(unix.SYS_LCHOWN, sysLchown, "as chmod")
	partial(unix.SYS_FCHOWNAT, sysFchownat, "as chmod")
	full(unix.SYS_TRUNCATE, sysTruncate)
	partial(unix.SYS_STATFS, sysStatfs, "sizes are the host root's; f_type by filesystem")
	partial(unix.SYS_FSTATFS, sysFstatfs, "as statfs; pipes report zeros")
	for _, nr := range []uintptr{unix.SYS_GETXATTR, unix.SYS_SETXATTR, unix.SYS_LISTXATTR, unix.SYS_REMOVEXATTR} {
		partial(nr, xattrPath(true), "extended attributes are not supported yet: EOPNOTSUPP")
	}
	for _, nr := range []uintptr{unix.SYS_LGETXATTR, unix.SYS_LSETXATTR, unix.SYS_LLISTXATTR, unix.SYS_LREMOVEXATTR} {
		partial(nr, xattrPath(false), "extended attributes are not supported yet: EOPNOTSUPP")
	}
	for _, nr := range []uintptr{unix.SYS_FGETXATTR, unix.SYS_FSETXATTR, unix.SYS_FLISTXATTR, unix.SYS_FREMOVEXATTR} {
		partial(nr, xattrFD, "extended attributes are not supported yet: EOPNOTSUPP")
	}
	full(unix.SYS_FTRUNCATE, sysFtruncate)
	partial(unix.SYS_UTIMENSAT, sysUtimensat, "as chmod")
	partial(unix.SYS_LINK, sysLink, "hard links between host files are copied up apart (overlayfs without index)")
	partial(unix.SYS_LINKAT, sysLinkat, "as link")
	full(unix.SYS_SYMLINKAT, sysSymlinkat)
	full(unix.SYS_DUP, sysDup)
	full(unix.SYS_DUP2, sysDup2)
	full(unix.SYS_DUP3, sysDup3)
	partial(unix.SYS_FCNTL, sysFcntl, "F_GETFD F_SETFD F_GETFL F_SETFL F_DUPFD F_DUPFD_CLOEXEC; record locks granted without cross-process conflicts (one process); leases, seals and pipe sizes are EINVAL")
	partial(unix.SYS_IOCTL, sysIoctl, "terminals (settings, sizes, flushing, foreground group), FIONREAD, FIOCLEX, FIONCLEX, FIONBIO; others ENOTTY")
	full(unix.SYS_PIPE, sysPipe)
	full(unix.SYS_EVENTFD, sysEventfd)
	full(unix.SYS_EVENTFD2, sysEventfd2)
	full(unix.SYS_EPOLL_CREATE, sysEpollCreate)
	full(unix.SYS_EPOLL_CREATE1, sysEpollCreate1)
	partial(unix.SYS_EPOLL_CTL, sysEpollCtl, "EPOLLET is served level-triggered; EPOLLEXCLUSIVE and EPOLLWAKEUP are accepted and ignored")
	partial(unix.SYS_EPOLL_WAIT, sysEpollWait, "as epoll_ctl")
	partial(unix.SYS_EPOLL_PWAIT, sysEpollPwait, "as epoll_ctl")
	partial(unix.SYS_EPOLL_PWAIT2, sysEpollPwait2, "as epoll_ctl")
	partial(unix.SYS_POLL, sysPoll, "pipes wake pollers at once; moat's stdio is re-checked every 10 ms")
	partial(unix.SYS_PPOLL, sysPpoll, "as poll")
	partial(unix.SYS_SELECT, sysSelect, "as poll; the remaining time is reported only when it runs out")
	partial(unix.SYS_PSELECT6, sysPselect6, "as poll")
	full(unix.SYS_PIPE2, sysPipe2)

	// Memory.
	partial(unix.SYS_MMAP, sysMmap, "MAP_SHARED writable file mappings are ENODEV (read-only ones are private copies)")
	full(unix.SYS_MUNMAP, sysMunmap)
	full(unix.SYS_MPROTECT, sysMprotect)
	full(unix.SYS_BRK, sysBrk)
	partial(unix.SYS_MREMAP, sysMremap, "MREMAP_DONTUNMAP is EINVAL")
	partial(unix.SYS_MADVISE, sysMadvise, "DONTNEED and FREE drop pages; other advice is accepted and ignored")

	// Processes and identity.
	full(unix.SYS_EXIT, sysExit)
	full(unix.SYS_EXIT_GROUP, sysExitGroup)
	full(unix.SYS_GETPID, sysGetpid)
	full(unix.SYS_GETTID, sysGettid)
	full(unix.SYS_GETPPID, sysGetppid)
	full(unix.SYS_GETUID, sysGetuid)
	full(unix.SYS_GETEUID, sysGeteuid)
	full(unix.SYS_GETGID, sysGetgid)
	full(unix.SYS_GETEGID, sysGetegid)
	full(unix.SYS_GETGROUPS, sysGetgroups)
	full(unix.SYS_UNAME, sysUname)
	full(unix.SYS_ARCH_PRCTL, sysArchPrctl)
	full(unix.SYS_SET_TID_ADDRESS, sysSetTidAddress)
	partial(unix.SYS_SET_ROBUST_LIST, sysSetRobustList, "recorded; processed at thread exit once threads exist")
	none(unix.SYS_RSEQ, "restartable sequences are not supported (glibc falls back)")
	full(unix.SYS_PRLIMIT64, sysPrlimit64)
	full(unix.SYS_GETRLIMIT, sysGetrlimit)
	full(unix.SYS_SETRLIMIT, sysSetrlimit)
	partial(unix.SYS_SYSINFO, sysSysinfo, "memory figures are the host's; no load averages")
	full(unix.SYS_SCHED_GETAFFINITY, sysSchedGetaffinity)
	full(unix.SYS_SCHED_YIELD, sysSchedYield)
	full(unix.SYS_UMASK, sysUmask)

	// Time and randomness.
	full(unix.SYS_CLOCK_GETTIME, sysClockGettime)
	full(unix.SYS_CLOCK_GETRES, sysClockGetres)
	full(unix.SYS_GETTIMEOFDAY, sysGettimeofday)
	full(unix.SYS_TIME, sysTime)
	partial(unix.SYS_NANOSLEEP, sysNanosleep, "not interruptible by signals yet")
	partial(unix.SYS_CLOCK_NANOSLEEP, sysClockNanosleep, "not interruptible by signals yet")
	full(unix.SYS_GETRANDOM, sysGetrandom)
	full(unix.SYS_ALARM, sysAlarm)
	partial(unix.SYS_SETITIMER, sysSetitimer, "ITIMER_REAL only; ITIMER_VIRTUAL and ITIMER_PROF are ENOSYS")
	partial(unix.SYS_GETITIMER, sysGetitimer, "as setitimer")

	// Signals.
	full(unix.SYS_RT_SIGACTION, sysRtSigaction)
	full(unix.SYS_RT_SIGRETURN, sysRtSigreturn)
	full(unix.SYS_SIGALTSTACK, sysSigaltstack)
	full(unix.SYS_RT_SIGPENDING, sysRtSigpending)
	full(unix.SYS_RT_SIGSUSPEND, sysRtSigsuspend)
	full(unix.SYS_PAUSE, sysPause)
	full(unix.SYS_RT_SIGTIMEDWAIT, sysRtSigtimedwait)
	full(unix.SYS_RT_SIGQUEUEINFO, sysRtSigqueueinfo)
	full(unix.SYS_RT_TGSIGQUEUEINFO, sysRtTgsigqueueinfo)
	full(unix.SYS_RT_SIGPROCMASK, sysRtSigprocmask)
	partial(unix.SYS_KILL, sysKill, "stop signals are ignored (no job control yet)")
	full(unix.SYS_TKILL, sysTkill)
	full(unix.SYS_TGKILL, sysTgkill)

	// Sockets: connected AF_UNIX pairs only, so far.
	partial(unix.SYS_SOCKET, sysSocket, "EAFNOSUPPORT: only socketpair(AF_UNIX) so far (networking issue)")
	partial(unix.SYS_SOCKETPAIR, sysSocketpair, "AF_UNIX stream, datagram and seqpacket pairs")
	partial(unix.SYS_SENDTO, sysSendto, "socket pairs; no addresses")
	partial(unix.SYS_RECVFROM, sysRecvfrom, "socket pairs")
	partial(unix.SYS_SENDMSG, sysSendmsg, "socket pairs; control messages (SCM_RIGHTS) are EOPNOTSUPP")
	partial(unix.SYS_RECVMSG, sysRecvmsg, "socket pairs; no control messages")
	partial(unix.SYS_SHUTDOWN, sysShutdown, "socket pairs")
	partial(unix.SYS_GETSOCKOPT, sysGetsockopt, "SOL_SOCKET: SO_TYPE SO_DOMAIN SO_ERROR SO_SNDBUF SO_RCVBUF SO_ACCEPTCONN SO_PASSCRED")
	partial(unix.SYS_SETSOCKOPT, sysSetsockopt, "SOL_SOCKET buffer and flag options are accepted; sizes stay fixed")
	partial(unix.SYS_GETSOCKNAME, sockname, "unnamed AF_UNIX sockets")
	partial(unix.SYS_GETPEERNAME, sockname, "unnamed AF_UNIX sockets")

	// Processes.
	full(unix.SYS_SETPGID, sysSetpgid)
	full(unix.SYS_GETPGID, sysGetpgid)
	full(unix.SYS_GETPGRP, sysGetpgrp)
	full(unix.SYS_SETSID, sysSetsid)
	full(unix.SYS_GETSID, sysGetsid)
	partial(unix.SYS_PRCTL, sysPrctl, "PR_SET/GET_NAME, PDEATHSIG, DUMPABLE, NO_NEW_PRIVS, CHILD_SUBREAPER, GET_SECCOMP; other options EINVAL")
	partial(unix.SYS_GETRUSAGE, sysGetrusage, "no accounting yet: all fields zero")
	partial(unix.SYS_TIMES, sysTimes, "no CPU accounting yet: the tms fields are zero")
	partial(unix.SYS_FUTEX, sysFutex, "WAIT WAKE REQUEUE CMP_REQUEUE WAIT_BITSET WAKE_BITSET within one address space; WAKE_OP and PI operations are ENOSYS")
	partial(unix.SYS_CLONE, sysClone, "fork-style processes with a copy of memory; CLONE_VM without CLONE_THREAD copies too (vfork semantics otherwise); threads, CLONE_FS/CLONE_FILES sharing and namespaces are not supported")
	full(unix.SYS_FORK, sysFork)
	partial(unix.SYS_VFORK, sysVfork, "the child gets a copy of memory; the parent waits for its exec or exit")
	partial(unix.SYS_CLONE3, sysClone3, "as clone; set_tid is EPERM")
	partial(unix.SYS_EXECVE, sysExecve, "ELF (static, PIE, dynamic) and #! scripts")
	partial(unix.SYS_EXECVEAT, sysExecveat, "absolute paths and AT_FDCWD only")
	partial(unix.SYS_WAIT4, sysWait4, "rusage is zero; no stop/continue reports (WUNTRACED, WCONTINUED)")
	partial(unix.SYS_WAITID, sysWaitid, "exits only (no stop/continue events); rusage is zero")
	return st
}
