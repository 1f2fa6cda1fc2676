package strace

import (
	"strings"

	"golang.org/x/sys/unix"
)

// xval names one value (for enums) or one set of bits (for flags).
type xval struct {
	v    uint64
	name string
}

// xlat is a translation table between numbers and symbolic names.
type xlat []xval

// enum returns the name of v, or "" if it has none.
func (x xlat) enum(v uint64) string {
	for _, e := range x {
		if e.v == v {
			return e.name
		}
	}
	return ""
}

// enumOr returns the name of v or, failing that, fallback(v).
func (x xlat) enumOr(v uint64, fallback func(uint64) string) string {
	if n := x.enum(v); n != "" {
		return n
	}
	return fallback(v)
}

// flags renders v as an OR-list of the names in x, in table order, with any
// unnamed bits appended in hex. An entry matches when all its bits are set,
// and its bits are then consumed, so multi-bit entries (O_SYNC) placed
// before their parts win. Zero renders as "0" unless x names zero.
func (x xlat) flags(v uint64) string {
	if v == 0 {
		if n := x.enum(0); n != "" {
			return n
		}
		return "0"
	}
	var parts []string
	rest := v
	for _, e := range x {
		if e.v != 0 && rest&e.v == e.v {
			parts = append(parts, e.name)
			rest &^= e.v
		}
	}
	if rest != 0 {
		parts = append(parts, hex(rest))
	}
	return strings.Join(parts, "|")
}

// Open flags (x86-64 values). The access mode is handled separately.
const (
	oAccMode  = 3
	oTmpfile  = unix.O_TMPFILE // includes O_DIRECTORY
	oTmpfileB = 020000000      // __O_TMPFILE alone
)

var accModes = xlat{
	{unix.O_RDONLY, "O_RDONLY"},
	{unix.O_WRONLY, "O_WRONLY"},
	{unix.O_RDWR, "O_RDWR"},
}

var openFlagBits = xlat{
	{unix.O_CREAT, "O_CREAT"},
	{unix.O_EXCL, "O_EXCL"},
	{unix.O_NOCTTY, "O_NOCTTY"},
	{unix.O_TRUNC, "O_TRUNC"},
	{unix.O_APPEND, "O_APPEND"},
	{unix.O_NONBLOCK, "O_NONBLOCK"},
	{unix.O_SYNC, "O_SYNC"}, // __O_SYNC|O_DSYNC; before O_DSYNC
	{unix.O_DSYNC, "O_DSYNC"},
	{unix.O_ASYNC, "O_ASYNC"},
	{unix.O_DIRECT, "O_DIRECT"},
	{0x8000, "O_LARGEFILE"}, // unix.O_LARGEFILE is 0 on amd64,
	{unix.O_NOFOLLOW, "O_NOFOLLOW"},
	{unix.O_NOATIME, "O_NOATIME"},
	{unix.O_CLOEXEC, "O_CLOEXEC"},
	{unix.O_PATH, "O_PATH"},
	{oTmpfile, "O_TMPFILE"}, // __O_TMPFILE|O_DIRECTORY; before O_DIRECTORY
	{unix.O_DIRECTORY, "O_DIRECTORY"},
}

// openFlags renders open(2) flags: access mode first, then the rest.
func openFlags(v uint64) string {
	s := accModes.enum(v & oAccMode)
	if s == "" {
		s = hex(v & oAccMode)
	}
	if rest := v &^ oAccMode; rest != 0 {
		s += "|" + openFlagBits.flags(rest)
	}
	return s
}

// fdFlags are the O_* flags accepted by pipe2, dup3, eventfd2 and friends.
var fdFlags = xlat{
	{unix.O_NONBLOCK, "O_NONBLOCK"},
	{unix.O_DIRECT, "O_DIRECT"},
	{unix.O_CLOEXEC, "O_CLOEXEC"},
	{0x80, "O_NOTIFICATION_PIPE"}, // == O_EXCL
}

const atFDCWD = -100 // AT_FDCWD

// atFlags are the generic *at(2) flags.
var atFlags = xlat{
	{unix.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"},
	{unix.AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW"},
	{unix.AT_NO_AUTOMOUNT, "AT_NO_AUTOMOUNT"},
	{unix.AT_EMPTY_PATH, "AT_EMPTY_PATH"},
	{unix.AT_RECURSIVE, "AT_RECURSIVE"},
}

// unlinkatFlags share 0x200 with AT_EACCESS; unlinkat means AT_REMOVEDIR.
var unlinkatFlags = xlat{
	{unix.AT_REMOVEDIR, "AT_REMOVEDIR"},
}

var faccessatFlags = xlat{
	{unix.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"},
	{unix.AT_EACCESS, "AT_EACCESS"},
	{unix.AT_EMPTY_PATH, "AT_EMPTY_PATH"},
}

const atStatxSyncType = 0x6000

var statxSyncTypes = xlat{
	{unix.AT_STATX_SYNC_AS_STAT, "AT_STATX_SYNC_AS_STAT"},
	{unix.AT_STATX_FORCE_SYNC, "AT_STATX_FORCE_SYNC"},
	{unix.AT_STATX_DONT_SYNC, "AT_STATX_DONT_SYNC"},
}

// statxFlags renders statx's flags: the sync type, then other AT_* flags.
func statxFlags(v uint64) string {
	s := statxSyncTypes.enumOr(v&atStatxSyncType, hex)
	if rest := v &^ atStatxSyncType; rest != 0 {
		s += "|" + atFlags.flags(rest)
	}
	return s
}

var statxMask = xlat{
	{unix.STATX_ALL, "STATX_ALL"},
	{unix.STATX_BASIC_STATS, "STATX_BASIC_STATS"},
	{unix.STATX_TYPE, "STATX_TYPE"},
	{unix.STATX_MODE, "STATX_MODE"},
	{unix.STATX_NLINK, "STATX_NLINK"},
	{unix.STATX_UID, "STATX_UID"},
	{unix.STATX_GID, "STATX_GID"},
	{unix.STATX_ATIME, "STATX_ATIME"},
	{unix.STATX_MTIME, "STATX_MTIME"},
	{unix.STATX_CTIME, "STATX_CTIME"},
	{unix.STATX_INO, "STATX_INO"},
	{unix.STATX_SIZE, "STATX_SIZE"},
	{unix.STATX_BLOCKS, "STATX_BLOCKS"},
	{unix.STATX_BTIME, "STATX_BTIME"},
	{unix.STATX_MNT_ID, "STATX_MNT_ID"},
	{unix.STATX_DIOALIGN, "STATX_DIOALIGN"},
	{unix.STATX_MNT_ID_UNIQUE, "STATX_MNT_ID_UNIQUE"},
	{unix.STATX_SUBVOL, "STATX_SUBVOL"},
	{unix.STATX_WRITE_ATOMIC, "STATX_WRITE_ATOMIC"},
	{unix.STATX_DIO_READ_ALIGN, "STATX_DIO_READ_ALIGN"},
}

var accessModes = xlat{
	{unix.R_OK, "R_OK"},
	{unix.W_OK, "W_OK"},
	{unix.X_OK, "X_OK"},
}

// accessMode renders access(2)'s mode: F_OK or an OR of R_OK, W_OK, X_OK.
func accessMode(v uint64) string {
	if v == unix.F_OK {
		return "F_OK"
	}
	return accessModes.flags(v)
}

var protFlags = xlat{
	{unix.PROT_READ, "PROT_READ"},
	{unix.PROT_WRITE, "PROT_WRITE"},
	{unix.PROT_EXEC, "PROT_EXEC"},
	{0x8, "PROT_SEM"},
	{unix.PROT_GROWSDOWN, "PROT_GROWSDOWN"},
	{unix.PROT_GROWSUP, "PROT_GROWSUP"},
}

func prot(v uint64) string {
	if v == unix.PROT_NONE {
		return "PROT_NONE"
	}
	return protFlags.flags(v)
}

const mapType = 0xf

var mapTypes = xlat{
	{unix.MAP_SHARED, "MAP_SHARED"},
	{unix.MAP_PRIVATE, "MAP_PRIVATE"},
	{unix.MAP_SHARED_VALIDATE, "MAP_SHARED_VALIDATE"},
}

var mapFlagBits = xlat{
	{unix.MAP_FIXED, "MAP_FIXED"},
	{unix.MAP_ANONYMOUS, "MAP_ANONYMOUS"},
	{unix.MAP_32BIT, "MAP_32BIT"},
	{unix.MAP_GROWSDOWN, "MAP_GROWSDOWN"},
	{unix.MAP_DENYWRITE, "MAP_DENYWRITE"},
	{unix.MAP_EXECUTABLE, "MAP_EXECUTABLE"},
	{unix.MAP_LOCKED, "MAP_LOCKED"},
	{unix.MAP_NORESERVE, "MAP_NORESERVE"},
	{unix.MAP_POPULATE, "MAP_POPULATE"},
	{unix.MAP_NONBLOCK, "MAP_NONBLOCK"},
	{unix.MAP_STACK, "MAP_STACK"},
	{unix.MAP_HUGETLB, "MAP_HUGETLB"},
	{unix.MAP_SYNC, "MAP_SYNC"},
	{unix.MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"},
}

const (
	mapHugeShift     = unix.MAP_HUGE_SHIFT
	mapHugeMask      = 0x3f
	mapUninitialized = 0x4000000
)

// mmapFlags renders mmap(2) flags: the mapping type, the flag bits, and a
// huge page size for MAP_HUGETLB.
func mmapFlags(v uint64) string {
	s := mapTypes.enumOr(v&mapType, hex)
	rest := v &^ mapType
	var huge uint64
	if rest&unix.MAP_HUGETLB != 0 {
		huge = rest >> mapHugeShift & mapHugeMask
		rest &^= mapHugeMask << mapHugeShift
	} else if rest&mapUninitialized != 0 {
		s += "|MAP_UNINITIALIZED"
		rest &^= mapUninitialized
	}
	if rest != 0 {
		s += "|" + mapFlagBits.flags(rest)
	}
	if huge != 0 {
		s += "|" + udec(huge) + "<<MAP_HUGE_SHIFT"
	}
	return s
}

var mremapFlags = xlat{
	{unix.MREMAP_MAYMOVE, "MREMAP_MAYMOVE"},
	{unix.MREMAP_FIXED, "MREMAP_FIXED"},
	{unix.MREMAP_DONTUNMAP, "MREMAP_DONTUNMAP"},
}

var madvAdvice = xlat{
	{unix.MADV_NORMAL, "MADV_NORMAL"},
	{unix.MADV_RANDOM, "MADV_RANDOM"},
	{unix.MADV_SEQUENTIAL, "MADV_SEQUENTIAL"},
	{unix.MADV_WILLNEED, "MADV_WILLNEED"},
	{unix.MADV_DONTNEED, "MADV_DONTNEED"},
	{unix.MADV_FREE, "MADV_FREE"},
	{unix.MADV_REMOVE, "MADV_REMOVE"},
	{unix.MADV_DONTFORK, "MADV_DONTFORK"},
	{unix.MADV_DOFORK, "MADV_DOFORK"},
	{unix.MADV_MERGEABLE, "MADV_MERGEABLE"},
	{unix.MADV_UNMERGEABLE, "MADV_UNMERGEABLE"},
	{unix.MADV_HUGEPAGE, "MADV_HUGEPAGE"},
	{unix.MADV_NOHUGEPAGE, "MADV_NOHUGEPAGE"},
	{unix.MADV_DONTDUMP, "MADV_DONTDUMP"},
	{unix.MADV_DODUMP, "MADV_DODUMP"},
	{unix.MADV_WIPEONFORK, "MADV_WIPEONFORK"},
	{unix.MADV_KEEPONFORK, "MADV_KEEPONFORK"},
	{unix.MADV_COLD, "MADV_COLD"},
	{unix.MADV_PAGEOUT, "MADV_PAGEOUT"},
	{unix.MADV_POPULATE_READ, "MADV_POPULATE_READ"},
	{unix.MADV_POPULATE_WRITE, "MADV_POPULATE_WRITE"},
	{unix.MADV_DONTNEED_LOCKED, "MADV_DONTNEED_LOCKED"},
	{unix.MADV_COLLAPSE, "MADV_COLLAPSE"},
	{unix.MADV_HWPOISON, "MADV_HWPOISON"},
	{101, "MADV_SOFT_OFFLINE"},
	{unix.MADV_GUARD_INSTALL, "MADV_GUARD_INSTALL"},
	{unix.MADV_GUARD_REMOVE, "MADV_GUARD_REMOVE"},
}

var fcntlCmds = xlat{
	{unix.F_DUPFD, "F_DUPFD"},
	{unix.F_GETFD, "F_GETFD"},
	{unix.F_SETFD, "F_SETFD"},
	{unix.F_GETFL, "F_GETFL"},
	{unix.F_SETFL, "F_SETFL"},
	{unix.F_GETLK, "F_GETLK"},
	{unix.F_SETLK, "F_SETLK"},
	{unix.F_SETLKW, "F_SETLKW"},
	{unix.F_SETOWN, "F_SETOWN"},
	{unix.F_GETOWN, "F_GETOWN"},
	{unix.F_SETSIG, "F_SETSIG"},
	{unix.F_GETSIG, "F_GETSIG"},
	{unix.F_SETOWN_EX, "F_SETOWN_EX"},
	{unix.F_GETOWN_EX, "F_GETOWN_EX"},
	{17, "F_GETOWNER_UIDS"},
	{unix.F_OFD_GETLK, "F_OFD_GETLK"},
	{unix.F_OFD_SETLK, "F_OFD_SETLK"},
	{unix.F_OFD_SETLKW, "F_OFD_SETLKW"},
	{unix.F_SETLEASE, "F_SETLEASE"},
	{unix.F_GETLEASE, "F_GETLEASE"},
	{unix.F_NOTIFY, "F_NOTIFY"},
	{unix.F_DUPFD_QUERY, "F_DUPFD_QUERY"},
	{unix.F_DUPFD_CLOEXEC, "F_DUPFD_CLOEXEC"},
	{unix.F_SETPIPE_SZ, "F_SETPIPE_SZ"},
	{unix.F_GETPIPE_SZ, "F_GETPIPE_SZ"},
	{unix.F_ADD_SEALS, "F_ADD_SEALS"},
	{unix.F_GET_SEALS, "F_GET_SEALS"},
	{unix.F_GET_RW_HINT, "F_GET_RW_HINT"},
	{unix.F_SET_RW_HINT, "F_SET_RW_HINT"},
	{unix.F_GET_FILE_RW_HINT, "F_GET_FILE_RW_HINT"},
	{unix.F_SET_FILE_RW_HINT, "F_SET_FILE_RW_HINT"},
}

var fdFlagBits = xlat{
	{unix.FD_CLOEXEC, "FD_CLOEXEC"},
}

var sealFlags = xlat{
	{unix.F_SEAL_SEAL, "F_SEAL_SEAL"},
	{unix.F_SEAL_SHRINK, "F_SEAL_SHRINK"},
	{unix.F_SEAL_GROW, "F_SEAL_GROW"},
	{unix.F_SEAL_WRITE, "F_SEAL_WRITE"},
	{unix.F_SEAL_FUTURE_WRITE, "F_SEAL_FUTURE_WRITE"},
	{unix.F_SEAL_EXEC, "F_SEAL_EXEC"},
}

var leaseTypes = xlat{
	{unix.F_RDLCK, "F_RDLCK"},
	{unix.F_WRLCK, "F_WRLCK"},
	{unix.F_UNLCK, "F_UNLCK"},
}

var whences = xlat{
	{unix.SEEK_SET, "SEEK_SET"},
	{unix.SEEK_CUR, "SEEK_CUR"},
	{unix.SEEK_END, "SEEK_END"},
	{unix.SEEK_DATA, "SEEK_DATA"},
	{unix.SEEK_HOLE, "SEEK_HOLE"},
}

var resolveFlags = xlat{
	{unix.RESOLVE_NO_XDEV, "RESOLVE_NO_XDEV"},
	{unix.RESOLVE_NO_MAGICLINKS, "RESOLVE_NO_MAGICLINKS"},
	{unix.RESOLVE_NO_SYMLINKS, "RESOLVE_NO_SYMLINKS"},
	{unix.RESOLVE_BENEATH, "RESOLVE_BENEATH"},
	{unix.RESOLVE_IN_ROOT, "RESOLVE_IN_ROOT"},
	{0x20, "RESOLVE_CACHED"},
}

var renameFlags = xlat{
	{unix.RENAME_NOREPLACE, "RENAME_NOREPLACE"},
	{unix.RENAME_EXCHANGE, "RENAME_EXCHANGE"},
	{unix.RENAME_WHITEOUT, "RENAME_WHITEOUT"},
}

var clockIDs = xlat{
	{unix.CLOCK_REALTIME, "CLOCK_REALTIME"},
	{unix.CLOCK_MONOTONIC, "CLOCK_MONOTONIC"},
	{unix.CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID"},
	{unix.CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID"},
	{unix.CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW"},
	{unix.CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE"},
	{unix.CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE"},
	{unix.CLOCK_BOOTTIME, "CLOCK_BOOTTIME"},
	{unix.CLOCK_REALTIME_ALARM, "CLOCK_REALTIME_ALARM"},
	{unix.CLOCK_BOOTTIME_ALARM, "CLOCK_BOOTTIME_ALARM"},
	{unix.CLOCK_TAI, "CLOCK_TAI"},
}

// clockID renders a clockid_t; negative ids (CPU clocks of other threads
// and processes) print as numbers.
func clockID(v uint64) string {
	return clockIDs.enumOr(uint64(uint32(v)), func(uint64) string { return dec(int64(int32(v))) })
}

var timerFlags = xlat{
	{unix.TIMER_ABSTIME, "TIMER_ABSTIME"},
}

var signalNames = xlat{
	{1, "SIGHUP"}, {2, "SIGINT"}, {3, "SIGQUIT"}, {4, "SIGILL"},
	{5, "SIGTRAP"}, {6, "SIGABRT"}, {7, "SIGBUS"}, {8, "SIGFPE"},
	{9, "SIGKILL"}, {10, "SIGUSR1"}, {11, "SIGSEGV"}, {12, "SIGUSR2"},
	{13, "SIGPIPE"}, {14, "SIGALRM"}, {15, "SIGTERM"}, {16, "SIGSTKFLT"},
	{17, "SIGCHLD"}, {18, "SIGCONT"}, {19, "SIGSTOP"}, {20, "SIGTSTP"},
	{21, "SIGTTIN"}, {22, "SIGTTOU"}, {23, "SIGURG"}, {24, "SIGXCPU"},
	{25, "SIGXFSZ"}, {26, "SIGVTALRM"}, {27, "SIGPROF"}, {28, "SIGWINCH"},
	{29, "SIGIO"}, {30, "SIGPWR"}, {31, "SIGSYS"},
}

const (
	sigRTMin = 32
	sigRTMax = 64
)

// signalName renders a signal number: SIGINT, SIGRTMIN, SIGRT_3, or the
// number itself (0 and out-of-range values).
func signalName(v uint64) string {
	if n := signalNames.enum(v); n != "" {
		return n
	}
	switch {
	case v == sigRTMin:
		return "SIGRTMIN"
	case v > sigRTMin && v <= sigRTMax:
		return "SIGRT_" + udec(v-sigRTMin)
	}
	return dec(int64(int32(v)))
}

var sigHows = xlat{
	{unix.SIG_BLOCK, "SIG_BLOCK"},
	{unix.SIG_UNBLOCK, "SIG_UNBLOCK"},
	{unix.SIG_SETMASK, "SIG_SETMASK"},
}

// sa_flags, in the order strace prints them.
var saFlags = xlat{
	{0x04000000, "SA_RESTORER"},
	{0x08000000, "SA_ONSTACK"},
	{0x10000000, "SA_RESTART"},
	{0x40000000, "SA_NODEFER"},
	{0x80000000, "SA_RESETHAND"},
	{0x4, "SA_SIGINFO"},
	{0x1, "SA_NOCLDSTOP"},
	{0x2, "SA_NOCLDWAIT"},
	{0x400, "SA_UNSUPPORTED"},
	{0x800, "SA_EXPOSE_TAGBITS"},
}

const saRestorer = 0x04000000

var cloneFlagBits = xlat{
	{unix.CLONE_VM, "CLONE_VM"},
	{unix.CLONE_FS, "CLONE_FS"},
	{unix.CLONE_FILES, "CLONE_FILES"},
	{unix.CLONE_SIGHAND, "CLONE_SIGHAND"},
	{unix.CLONE_PIDFD, "CLONE_PIDFD"},
	{unix.CLONE_PTRACE, "CLONE_PTRACE"},
	{unix.CLONE_VFORK, "CLONE_VFORK"},
	{unix.CLONE_PARENT, "CLONE_PARENT"},
	{unix.CLONE_THREAD, "CLONE_THREAD"},
	{unix.CLONE_NEWNS, "CLONE_NEWNS"},
	{unix.CLONE_SYSVSEM, "CLONE_SYSVSEM"},
	{unix.CLONE_SETTLS, "CLONE_SETTLS"},
	{unix.CLONE_PARENT_SETTID, "CLONE_PARENT_SETTID"},
	{unix.CLONE_CHILD_CLEARTID, "CLONE_CHILD_CLEARTID"},
	{unix.CLONE_DETACHED, "CLONE_DETACHED"},
	{unix.CLONE_UNTRACED, "CLONE_UNTRACED"},
	{unix.CLONE_CHILD_SETTID, "CLONE_CHILD_SETTID"},
	{unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
	{unix.CLONE_NEWUTS, "CLONE_NEWUTS"},
	{unix.CLONE_NEWIPC, "CLONE_NEWIPC"},
	{unix.CLONE_NEWUSER, "CLONE_NEWUSER"},
	{unix.CLONE_NEWPID, "CLONE_NEWPID"},
	{unix.CLONE_NEWNET, "CLONE_NEWNET"},
	{unix.CLONE_IO, "CLONE_IO"},
}

const cloneSignalMask = 0xff

// cloneFlags renders clone(2) flags: the CLONE_* bits then the exit signal.
func cloneFlags(v uint64) string {
	sig := v & cloneSignalMask
	rest := v &^ cloneSignalMask
	var parts []string
	if rest != 0 {
		parts = append(parts, cloneFlagBits.flags(rest))
	}
	if sig != 0 {
		parts = append(parts, signalName(sig))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}

var waitOptions = xlat{
	{unix.WNOHANG, "WNOHANG"},
	{unix.WUNTRACED, "WUNTRACED"},
	{unix.WEXITED, "WEXITED"},
	{unix.WCONTINUED, "WCONTINUED"},
	{unix.WNOWAIT, "WNOWAIT"},
	{0x20000000, "__WNOTHREAD"},
	{0x40000000, "__WALL"},
	{0x80000000, "__WCLONE"},
}

var rlimitResources = xlat{
	{unix.RLIMIT_CPU, "RLIMIT_CPU"},
	{unix.RLIMIT_FSIZE, "RLIMIT_FSIZE"},
	{unix.RLIMIT_DATA, "RLIMIT_DATA"},
	{unix.RLIMIT_STACK, "RLIMIT_STACK"},
	{unix.RLIMIT_CORE, "RLIMIT_CORE"},
	{unix.RLIMIT_RSS, "RLIMIT_RSS"},
	{unix.RLIMIT_NPROC, "RLIMIT_NPROC"},
	{unix.RLIMIT_NOFILE, "RLIMIT_NOFILE"},
	{unix.RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"},
	{unix.RLIMIT_AS, "RLIMIT_AS"},
	{unix.RLIMIT_LOCKS, "RLIMIT_LOCKS"},
	{unix.RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"},
	{unix.RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"},
	{unix.RLIMIT_NICE, "RLIMIT_NICE"},
	{unix.RLIMIT_RTPRIO, "RLIMIT_RTPRIO"},
	{unix.RLIMIT_RTTIME, "RLIMIT_RTTIME"},
}

var archPrctlCodes = xlat{
	{0x1001, "ARCH_SET_GS"},
	{0x1002, "ARCH_SET_FS"},
	{0x1003, "ARCH_GET_FS"},
	{0x1004, "ARCH_GET_GS"},
	{0x1011, "ARCH_GET_CPUID"},
	{0x1012, "ARCH_SET_CPUID"},
	{0x1021, "ARCH_GET_XCOMP_SUPP"},
	{0x1022, "ARCH_GET_XCOMP_PERM"},
	{0x1023, "ARCH_REQ_XCOMP_PERM"},
	{0x1024, "ARCH_GET_XCOMP_GUEST_PERM"},
	{0x1025, "ARCH_REQ_XCOMP_GUEST_PERM"},
	{0x1031, "ARCH_XCOMP_TILECFG"},
	{0x1032, "ARCH_XCOMP_TILEDATA"},
	{0x2001, "ARCH_MAP_VDSO_X32"},
	{0x2002, "ARCH_MAP_VDSO_32"},
	{0x2003, "ARCH_MAP_VDSO_64"},
	{0x4001, "ARCH_GET_UNTAG_MASK"},
	{0x4002, "ARCH_ENABLE_TAGGED_ADDR"},
	{0x4003, "ARCH_GET_MAX_TAG_BITS"},
	{0x4004, "ARCH_FORCE_TAGGED_SVA"},
	{0x5001, "ARCH_SHSTK_ENABLE"},
	{0x5002, "ARCH_SHSTK_DISABLE"},
	{0x5003, "ARCH_SHSTK_LOCK"},
	{0x5004, "ARCH_SHSTK_UNLOCK"},
	{0x5005, "ARCH_SHSTK_STATUS"},
}

var grndFlags = xlat{
	{unix.GRND_NONBLOCK, "GRND_NONBLOCK"},
	{unix.GRND_RANDOM, "GRND_RANDOM"},
	{unix.GRND_INSECURE, "GRND_INSECURE"},
}

var ioctlRequests = xlat{
	{unix.TCGETS, "TCGETS"},
	{unix.TCSETS, "TCSETS"},
	{unix.TCSETSW, "TCSETSW"},
	{unix.TCSETSF, "TCSETSF"},
	{unix.TCGETA, "TCGETA"},
	{unix.TCSETA, "TCSETA"},
	{unix.TCSBRK, "TCSBRK"},
	{unix.TCXONC, "TCXONC"},
	{unix.TCFLSH, "TCFLSH"},
	{unix.TIOCEXCL, "TIOCEXCL"},
	{unix.TIOCNXCL, "TIOCNXCL"},
	{unix.TIOCSCTTY, "TIOCSCTTY"},
	{unix.TIOCGPGRP, "TIOCGPGRP"},
	{unix.TIOCSPGRP, "TIOCSPGRP"},
	{unix.TIOCOUTQ, "TIOCOUTQ"},
	{unix.TIOCSTI, "TIOCSTI"},
	{unix.TIOCGWINSZ, "TIOCGWINSZ"},
	{unix.TIOCSWINSZ, "TIOCSWINSZ"},
	{0x541B, "FIONREAD"},
	{unix.TIOCLINUX, "TIOCLINUX"},
	{unix.TIOCCONS, "TIOCCONS"},
	{unix.TIOCNOTTY, "TIOCNOTTY"},
	{unix.TIOCSETD, "TIOCSETD"},
	{unix.TIOCGETD, "TIOCGETD"},
	{unix.TIOCGSID, "TIOCGSID"},
	{unix.TIOCGPTN, "TIOCGPTN"},
	{unix.TIOCSPTLCK, "TIOCSPTLCK"},
	{unix.TIOCGPTPEER, "TIOCGPTPEER"},
	{unix.TIOCGPTLCK, "TIOCGPTLCK"},
	{unix.TCGETS2, "TCGETS2"},
	{unix.TCSETS2, "TCSETS2"},
	{unix.TCSETSW2, "TCSETSW2"},
	{unix.TCSETSF2, "TCSETSF2"},
	{unix.TIOCPKT, "TIOCPKT"},
	{unix.TCSBRKP, "TCSBRKP"},
	{unix.TIOCSBRK, "TIOCSBRK"},
	{unix.TIOCCBRK, "TIOCCBRK"},
	{unix.TIOCGEXCL, "TIOCGEXCL"},
	{0x5421, "FIONBIO"},
	{0x5450, "FIONCLEX"},
	{0x5451, "FIOCLEX"},
	{0x5452, "FIOASYNC"},
	{0x5460, "FIOQSIZE"},
	{unix.TIOCGSERIAL, "TIOCGSERIAL"},
	{unix.TIOCSSERIAL, "TIOCSSERIAL"},
}

var futexCmds = xlat{
	{0, "FUTEX_WAIT"},
	{1, "FUTEX_WAKE"},
	{2, "FUTEX_FD"},
	{3, "FUTEX_REQUEUE"},
	{4, "FUTEX_CMP_REQUEUE"},
	{5, "FUTEX_WAKE_OP"},
	{6, "FUTEX_LOCK_PI"},
	{7, "FUTEX_UNLOCK_PI"},
	{8, "FUTEX_TRYLOCK_PI"},
	{9, "FUTEX_WAIT_BITSET"},
	{10, "FUTEX_WAKE_BITSET"},
	{11, "FUTEX_WAIT_REQUEUE_PI"},
	{12, "FUTEX_CMP_REQUEUE_PI"},
	{13, "FUTEX_LOCK_PI2"},
}

const (
	futexPrivate       = 128
	futexClockRealtime = 256
	futexCmdMask       = 0x7f
)

// futexOp renders a futex operation: FUTEX_WAIT_PRIVATE,
// FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME and so on.
func futexOp(v uint64) string {
	v = uint64(uint32(v))
	s := futexCmds.enum(v & futexCmdMask)
	if s == "" {
		return hex(v)
	}
	if v&futexPrivate != 0 {
		s += "_PRIVATE"
	}
	if v&futexClockRealtime != 0 {
		s += "|FUTEX_CLOCK_REALTIME"
	}
	if rest := v &^ (futexCmdMask | futexPrivate | futexClockRealtime); rest != 0 {
		s += "|" + hex(rest)
	}
	return s
}

var addressFamilies = xlat{
	{unix.AF_UNSPEC, "AF_UNSPEC"},
	{unix.AF_UNIX, "AF_UNIX"},
	{unix.AF_INET, "AF_INET"},
	{unix.AF_INET6, "AF_INET6"},
	{unix.AF_NETLINK, "AF_NETLINK"},
	{unix.AF_PACKET, "AF_PACKET"},
	{unix.AF_VSOCK, "AF_VSOCK"},
	{unix.AF_ALG, "AF_ALG"},
	{unix.AF_BLUETOOTH, "AF_BLUETOOTH"},
}

var sockTypes = xlat{
	{unix.SOCK_STREAM, "SOCK_STREAM"},
	{unix.SOCK_DGRAM, "SOCK_DGRAM"},
	{unix.SOCK_RAW, "SOCK_RAW"},
	{unix.SOCK_RDM, "SOCK_RDM"},
	{unix.SOCK_SEQPACKET, "SOCK_SEQPACKET"},
	{unix.SOCK_DCCP, "SOCK_DCCP"},
	{unix.SOCK_PACKET, "SOCK_PACKET"},
}

var sockFlags = xlat{
	{unix.SOCK_CLOEXEC, "SOCK_CLOEXEC"},
	{unix.SOCK_NONBLOCK, "SOCK_NONBLOCK"},
}

// sockType renders a socket type with its SOCK_CLOEXEC/SOCK_NONBLOCK bits.
func sockType(v uint64) string {
	const typeMask = 0xf
	s := sockTypes.enumOr(v&typeMask, hex)
	if rest := v &^ typeMask; rest != 0 {
		s += "|" + sockFlags.flags(rest)
	}
	return s
}

var shutdownHows = xlat{
	{unix.SHUT_RD, "SHUT_RD"},
	{unix.SHUT_WR, "SHUT_WR"},
	{unix.SHUT_RDWR, "SHUT_RDWR"},
}

var msgFlags = xlat{
	{unix.MSG_OOB, "MSG_OOB"},
	{unix.MSG_PEEK, "MSG_PEEK"},
	{unix.MSG_DONTROUTE, "MSG_DONTROUTE"},
	{unix.MSG_CTRUNC, "MSG_CTRUNC"},
	{unix.MSG_TRUNC, "MSG_TRUNC"},
	{unix.MSG_DONTWAIT, "MSG_DONTWAIT"},
	{unix.MSG_EOR, "MSG_EOR"},
	{unix.MSG_WAITALL, "MSG_WAITALL"},
	{unix.MSG_NOSIGNAL, "MSG_NOSIGNAL"},
	{unix.MSG_MORE, "MSG_MORE"},
	{unix.MSG_WAITFORONE, "MSG_WAITFORONE"},
	{unix.MSG_CMSG_CLOEXEC, "MSG_CMSG_CLOEXEC"},
}

var epollCtlOps = xlat{
	{unix.EPOLL_CTL_ADD, "EPOLL_CTL_ADD"},
	{unix.EPOLL_CTL_DEL, "EPOLL_CTL_DEL"},
	{unix.EPOLL_CTL_MOD, "EPOLL_CTL_MOD"},
}

var flockOps = xlat{
	{unix.LOCK_SH, "LOCK_SH"},
	{unix.LOCK_EX, "LOCK_EX"},
	{unix.LOCK_NB, "LOCK_NB"},
	{unix.LOCK_UN, "LOCK_UN"},
}

var fileTypes = xlat{
	{unix.S_IFSOCK, "S_IFSOCK"},
	{unix.S_IFLNK, "S_IFLNK"},
	{unix.S_IFREG, "S_IFREG"},
	{unix.S_IFBLK, "S_IFBLK"},
	{unix.S_IFDIR, "S_IFDIR"},
	{unix.S_IFCHR, "S_IFCHR"},
	{unix.S_IFIFO, "S_IFIFO"},
}

// fileMode renders an st_mode: S_IFREG|0644.
func fileMode(v uint64) string {
	t := v & unix.S_IFMT
	perm := v &^ unix.S_IFMT
	if t == 0 {
		return octal(perm)
	}
	return fileTypes.enumOr(t, hex) + "|" + octal(perm)
}
