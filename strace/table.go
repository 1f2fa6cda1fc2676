package strace

import "golang.org/x/sys/unix"

// a builds an argument list.
func a(args ...argFn) []argFn { return args }

// table describes how to render each known system call. Calls absent from
// it are printed with all six arguments in hex.
var table = map[uintptr]*spec{
	// File I/O.
	unix.SYS_READ:            {args: a(aFD, outBuf, aUlong)},
	unix.SYS_WRITE:           {args: a(aFD, inBuf(2), aUlong)},
	unix.SYS_PREAD64:         {args: a(aFD, outBuf, aUlong, aLong)},
	unix.SYS_PWRITE64:        {args: a(aFD, inBuf(2), aUlong, aLong)},
	unix.SYS_READV:           {args: a(aFD, outIovec(2), aInt)},
	unix.SYS_WRITEV:          {args: a(aFD, inIovec(2), aInt)},
	unix.SYS_PREADV:          {args: a(aFD, outIovec(2), aInt, aLong)},
	unix.SYS_PWRITEV:         {args: a(aFD, inIovec(2), aInt, aLong)},
	unix.SYS_LSEEK:           {args: a(aFD, aLong, aWhence)},
	unix.SYS_SENDFILE:        {args: a(aFD, aFD, aPtr, aUlong)},
	unix.SYS_FSYNC:           {args: a(aFD)},
	unix.SYS_FDATASYNC:       {args: a(aFD)},
	unix.SYS_SYNC:            {},
	unix.SYS_TRUNCATE:        {args: a(aPath, aLong)},
	unix.SYS_FTRUNCATE:       {args: a(aFD, aLong)},
	unix.SYS_FALLOCATE:       {args: a(aFD, aHex, aLong, aLong)},
	unix.SYS_FLOCK:           {args: a(aFD, aFlockOp)},
	unix.SYS_COPY_FILE_RANGE: {args: a(aFD, aPtr, aFD, aPtr, aUlong, aUint)},

	// Opening and closing.
	unix.SYS_OPEN:         {args: a(aPath, aOpenFlags, openMode(1))},
	unix.SYS_OPENAT:       {args: a(aDirFD, aPath, aOpenFlags, openMode(2))},
	unix.SYS_OPENAT2:      {args: a(aDirFD, aPath, in(sized(3, openHow)), aUlong)},
	unix.SYS_CREAT:        {args: a(aPath, aMode)},
	unix.SYS_CLOSE:        {args: a(aFD)},
	unix.SYS_CLOSE_RANGE:  {args: a(aUint, aUint, aHex)},
	unix.SYS_DUP:          {args: a(aFD)},
	unix.SYS_DUP2:         {args: a(aFD, aFD)},
	unix.SYS_DUP3:         {args: a(aFD, aFD, aFdFlags)},
	unix.SYS_PIPE:         {args: a(aOutPipe)},
	unix.SYS_PIPE2:        {args: a(aOutPipe, aFdFlags)},
	unix.SYS_FCNTL:        {args: a(aFD, aFcntlCmd, aFcntlArg), ret: retFcntl},
	unix.SYS_IOCTL:        {args: a(aFD, aIoctlReq, aIoctlArg)},
	unix.SYS_MEMFD_CREATE: {args: a(aStr, aHex)},
	unix.SYS_EVENTFD2:     {args: a(aUint, aFdFlags)},

	// File metadata.
	unix.SYS_STAT:       {args: a(aPath, aOutStat)},
	unix.SYS_LSTAT:      {args: a(aPath, aOutStat)},
	unix.SYS_FSTAT:      {args: a(aFD, aOutStat)},
	unix.SYS_NEWFSTATAT: {args: a(aDirFD, aPath, aOutStat, aAtFlags)},
	unix.SYS_STATX:      {args: a(aDirFD, aPath, aStatxFlags, aStatxMask, aOutStatx)},
	unix.SYS_ACCESS:     {args: a(aPath, aAccessMode)},
	unix.SYS_FACCESSAT:  {args: a(aDirFD, aPath, aAccessMode)},
	unix.SYS_FACCESSAT2: {args: a(aDirFD, aPath, aAccessMode, aFaccessFlag)},
	unix.SYS_READLINK:   {args: a(aPath, outBuf, aUlong)},
	unix.SYS_READLINKAT: {args: a(aDirFD, aPath, outBuf, aUlong)},
	unix.SYS_CHMOD:      {args: a(aPath, aMode)},
	unix.SYS_FCHMOD:     {args: a(aFD, aMode)},
	unix.SYS_FCHMODAT:   {args: a(aDirFD, aPath, aMode)},
	unix.SYS_FCHMODAT2:  {args: a(aDirFD, aPath, aMode, aAtFlags)},
	unix.SYS_CHOWN:      {args: a(aPath, aInt, aInt)},
	unix.SYS_FCHOWN:     {args: a(aFD, aInt, aInt)},
	unix.SYS_LCHOWN:     {args: a(aPath, aInt, aInt)},
	unix.SYS_FCHOWNAT:   {args: a(aDirFD, aPath, aInt, aInt, aAtFlags)},
	unix.SYS_UTIMENSAT:  {args: a(aDirFD, aPath, aPtr, aAtFlags)},
	unix.SYS_UMASK:      {args: a(aMode), ret: retOctal},

	// Directories and names.
	unix.SYS_GETDENTS64: {args: a(aFD, aDirents, aUlong)},
	unix.SYS_GETCWD:     {args: a(outPath, aUlong)},
	unix.SYS_CHDIR:      {args: a(aPath)},
	unix.SYS_FCHDIR:     {args: a(aFD)},
	unix.SYS_CHROOT:     {args: a(aPath)},
	unix.SYS_MKDIR:      {args: a(aPath, aMode)},
	unix.SYS_MKDIRAT:    {args: a(aDirFD, aPath, aMode)},
	unix.SYS_MKNOD:      {args: a(aPath, aFileMode, mknodDev(1))},
	unix.SYS_MKNODAT:    {args: a(aDirFD, aPath, aFileMode, mknodDev(2))},
	unix.SYS_RMDIR:      {args: a(aPath)},
	unix.SYS_UNLINK:     {args: a(aPath)},
	unix.SYS_UNLINKAT:   {args: a(aDirFD, aPath, aUnlinkFlags)},
	unix.SYS_RENAME:     {args: a(aPath, aPath)},
	unix.SYS_RENAMEAT:   {args: a(aDirFD, aPath, aDirFD, aPath)},
	unix.SYS_RENAMEAT2:  {args: a(aDirFD, aPath, aDirFD, aPath, aRenameFlags)},
	unix.SYS_LINK:       {args: a(aPath, aPath)},
	unix.SYS_LINKAT:     {args: a(aDirFD, aPath, aDirFD, aPath, aAtFlags)},
	unix.SYS_SYMLINK:    {args: a(aPath, aPath)},
	unix.SYS_SYMLINKAT:  {args: a(aPath, aDirFD, aPath)},

	// Memory.
	unix.SYS_MMAP:     {args: a(aPtr, aUlong, aProt, aMmapFlags, aFD, aHex), ret: retHex},
	unix.SYS_MUNMAP:   {args: a(aPtr, aUlong)},
	unix.SYS_MPROTECT: {args: a(aPtr, aUlong, aProt)},
	unix.SYS_BRK:      {args: a(aPtr), ret: retHex},
	unix.SYS_MREMAP: {args: a(aPtr, aUlong, aUlong, aMremapFlags,
		ifSet(3, unix.MREMAP_FIXED|unix.MREMAP_DONTUNMAP, aPtr)), ret: retHex},
	unix.SYS_MADVISE:    {args: a(aPtr, aUlong, aMadvise)},
	unix.SYS_MSYNC:      {args: a(aPtr, aUlong, aHex)},
	unix.SYS_MLOCK:      {args: a(aPtr, aUlong)},
	unix.SYS_MUNLOCK:    {args: a(aPtr, aUlong)},
	unix.SYS_MINCORE:    {args: a(aPtr, aUlong, aPtr)},
	unix.SYS_MEMBARRIER: {args: a(aHex, aHex, aInt)},

	// Processes and threads.
	unix.SYS_EXIT:              {args: a(aInt), noReturn: true},
	unix.SYS_EXIT_GROUP:        {args: a(aInt), noReturn: true},
	unix.SYS_GETPID:            {},
	unix.SYS_GETTID:            {},
	unix.SYS_GETPPID:           {},
	unix.SYS_GETUID:            {},
	unix.SYS_GETEUID:           {},
	unix.SYS_GETGID:            {},
	unix.SYS_GETEGID:           {},
	unix.SYS_GETPGRP:           {},
	unix.SYS_SETSID:            {},
	unix.SYS_GETPGID:           {args: a(aInt)},
	unix.SYS_SETPGID:           {args: a(aInt, aInt)},
	unix.SYS_GETSID:            {args: a(aInt)},
	unix.SYS_SETUID:            {args: a(aInt)},
	unix.SYS_SETGID:            {args: a(aInt)},
	unix.SYS_GETGROUPS:         {args: a(aInt, aOutGroups)},
	unix.SYS_SETGROUPS:         {args: a(aInt, inGroups(0))},
	unix.SYS_UNAME:             {args: a(aOutUname)},
	unix.SYS_ARCH_PRCTL:        {args: a(aArchCode, aArchPrctlArg)},
	unix.SYS_SET_TID_ADDRESS:   {args: a(aPtr)},
	unix.SYS_SET_ROBUST_LIST:   {args: a(aPtr, aUlong)},
	unix.SYS_RSEQ:              {args: a(aPtr, aUint, aHex, aHex)},
	unix.SYS_PRLIMIT64:         {args: a(aInt, aRlimitRes, aInRlimit64, aOutRlimit64)},
	unix.SYS_GETRLIMIT:         {args: a(aRlimitRes, aOutRlimit)},
	unix.SYS_SETRLIMIT:         {args: a(aRlimitRes, aInRlimit)},
	unix.SYS_EXECVE:            {args: a(aPath, aArgv, aEnvp), atEntry: true},
	unix.SYS_EXECVEAT:          {args: a(aDirFD, aPath, aArgv, aEnvp, aAtFlags), atEntry: true},
	unix.SYS_WAIT4:             {args: a(aInt, aOutWaitStatus, aWaitOptions, aPtr)},
	unix.SYS_CLONE:             {custom: cloneArgs},
	unix.SYS_CLONE3:            {args: a(aPtr, aUlong)},
	unix.SYS_FORK:              {},
	unix.SYS_VFORK:             {},
	unix.SYS_SCHED_YIELD:       {},
	unix.SYS_SCHED_GETAFFINITY: {args: a(aInt, aUint, aOutCPUSet)},
	unix.SYS_GETRANDOM:         {args: a(outBuf, aUlong, aGrndFlags)},
	unix.SYS_SYSINFO:           {args: a(aOutSysinfo)},
	unix.SYS_FUTEX:             {custom: futexArgs},
	unix.SYS_PRCTL:             {args: a(aInt, aHex, aHex, aHex, aHex)},

	// Time.
	unix.SYS_CLOCK_GETTIME:   {args: a(aClock, aOutTimespec)},
	unix.SYS_CLOCK_GETRES:    {args: a(aClock, aOutTimespec)},
	unix.SYS_CLOCK_NANOSLEEP: {args: a(aClock, aTimerFlags, aInTimespec, aRemTimespec)},
	unix.SYS_NANOSLEEP:       {args: a(aInTimespec, aRemTimespec)},
	unix.SYS_GETTIMEOFDAY:    {args: a(aOutTimeval, aPtr)},
	unix.SYS_SETTIMEOFDAY:    {args: a(aInTimeval, aPtr)},
	unix.SYS_TIME:            {args: a(aOutTime)},

	// Signals.
	unix.SYS_RT_SIGACTION:   {args: a(aSignal, aInSigaction, aOutSigact, aUlong)},
	unix.SYS_RT_SIGPROCMASK: {args: a(aSigHow, inSigset(3), outSigset(3), aUlong)},
	unix.SYS_RT_SIGRETURN:   {},
	unix.SYS_RT_SIGSUSPEND:  {args: a(inSigset(1), aUlong)},
	unix.SYS_SIGALTSTACK:    {args: a(aPtr, aPtr)},
	unix.SYS_KILL:           {args: a(aInt, aSignal)},
	unix.SYS_TKILL:          {args: a(aInt, aSignal)},
	unix.SYS_TGKILL:         {args: a(aInt, aInt, aSignal)},
	unix.SYS_PAUSE:          {},

	// Sockets.
	unix.SYS_SOCKET:      {args: a(aFamily, aSockType, aInt)},
	unix.SYS_SOCKETPAIR:  {args: a(aFamily, aSockType, aInt, aOutPipe)},
	unix.SYS_CONNECT:     {args: a(aFD, inSockaddr(2), aUint)},
	unix.SYS_BIND:        {args: a(aFD, inSockaddr(2), aUint)},
	unix.SYS_LISTEN:      {args: a(aFD, aInt)},
	unix.SYS_ACCEPT:      {args: a(aFD, outSockaddr(2), aSocklenRef)},
	unix.SYS_ACCEPT4:     {args: a(aFD, outSockaddr(2), aSocklenRef, aSockType)},
	unix.SYS_GETSOCKNAME: {args: a(aFD, outSockaddr(2), aSocklenRef)},
	unix.SYS_GETPEERNAME: {args: a(aFD, outSockaddr(2), aSocklenRef)},
	unix.SYS_SENDTO:      {args: a(aFD, inBuf(2), aUlong, aMsgFlags, inSockaddr(5), aUint)},
	unix.SYS_RECVFROM:    {args: a(aFD, outBuf, aUlong, aMsgFlags, outSockaddr(5), aSocklenRef)},
	unix.SYS_SENDMSG:     {args: a(aFD, aPtr, aMsgFlags)},
	unix.SYS_RECVMSG:     {args: a(aFD, aPtr, aMsgFlags)},
	unix.SYS_SHUTDOWN:    {args: a(aFD, aShutdownHow)},
	unix.SYS_SETSOCKOPT:  {args: a(aFD, aInt, aInt, aPtr, aUint)},
	unix.SYS_GETSOCKOPT:  {args: a(aFD, aInt, aInt, aPtr, aPtr)},

	// Polling.
	unix.SYS_POLL:          {args: a(aPtr, aUint, aInt)},
	unix.SYS_PPOLL:         {args: a(aPtr, aUint, aInTimespec, inSigset(4), aUlong)},
	unix.SYS_EPOLL_CREATE1: {args: a(aFdFlags)},
	unix.SYS_EPOLL_CTL:     {args: a(aFD, aEpollCtlOp, aFD, aPtr)},
	unix.SYS_EPOLL_WAIT:    {args: a(aFD, aPtr, aInt, aInt)},
	unix.SYS_EPOLL_PWAIT:   {args: a(aFD, aPtr, aInt, aInt, inSigset(5), aUlong)},
}

// cloneArgs renders clone(2)'s arguments the way strace does: named, with
// the stack first and optional pointers shown only when the flags use them.
// The x86-64 argument order is flags, stack, parent_tid, child_tid, tls.
func cloneArgs(c *call) []string {
	flags := uint64(c.args[0])
	res := []string{
		"child_stack=" + ptr(c.args[1]),
		"flags=" + cloneFlags(flags),
	}
	if flags&(unix.CLONE_PARENT_SETTID|unix.CLONE_PIDFD) != 0 {
		res = append(res, "parent_tid="+aOutInt(c, 2))
	}
	if flags&unix.CLONE_SETTLS != 0 {
		res = append(res, "tls="+hex(uint64(c.args[4])))
	}
	if flags&(unix.CLONE_CHILD_SETTID|unix.CLONE_CHILD_CLEARTID) != 0 {
		res = append(res, "child_tidptr="+ptr(c.args[3]))
	}
	return res
}

const futexBitsetMatchAny = 0xffffffff

// futexArgs renders futex(2)'s arguments; which ones are meaningful
// depends on the operation.
func futexArgs(c *call) []string {
	uaddr := ptr(c.args[0])
	op := futexOp(uint64(c.args[1]))
	val := udec(uint64(uint32(c.args[2])))
	timeout := aInTimespec(c, 3)
	val2 := udec(uint64(uint32(c.args[3])))
	uaddr2 := ptr(c.args[4])
	val3 := hex(uint64(uint32(c.args[5])))
	bitset := val3
	if uint32(c.args[5]) == futexBitsetMatchAny {
		bitset = "FUTEX_BITSET_MATCH_ANY"
	}
	switch uint32(c.args[1]) & futexCmdMask {
	case 0: // FUTEX_WAIT
		return []string{uaddr, op, val, timeout}
	case 1, 2: // FUTEX_WAKE, FUTEX_FD
		return []string{uaddr, op, val}
	case 3: // FUTEX_REQUEUE
		return []string{uaddr, op, val, val2, uaddr2}
	case 4, 5, 12: // FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP, FUTEX_CMP_REQUEUE_PI
		return []string{uaddr, op, val, val2, uaddr2, val3}
	case 6, 13: // FUTEX_LOCK_PI, FUTEX_LOCK_PI2
		return []string{uaddr, op, timeout}
	case 7, 8: // FUTEX_UNLOCK_PI, FUTEX_TRYLOCK_PI
		return []string{uaddr, op}
	case 9: // FUTEX_WAIT_BITSET
		return []string{uaddr, op, val, timeout, bitset}
	case 10: // FUTEX_WAKE_BITSET
		return []string{uaddr, op, val, bitset}
	case 11: // FUTEX_WAIT_REQUEUE_PI
		return []string{uaddr, op, val, timeout, uaddr2}
	}
	return []string{uaddr, op, val, hex(uint64(c.args[3])), uaddr2, val3}
}
