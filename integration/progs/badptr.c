/*
 * badptr: feed garbage to every system call the other programs cover.
 *
 * Each call is made with raw syscall(2) and a set of bad pointers, and with
 * huge lengths, and the errno *name* is printed. The output must be the same
 * natively and inside moat, and the program must get to the end ("survived")
 * and exit 0: a sandbox must answer garbage with an errno, never by crashing.
 *
 * Deliberately left out, because the native answer depends on the host or
 * on address-space layout rather than on the arguments:
 *  - a valid buffer with a huge length (the kernel may copy until it runs
 *    into the end of that mapping, which depends on where the buffer is);
 *  - addresses just below the top of user space such as 0x7fffffffe000,
 *    which are mapped when the stack sits at the very top (no ASLR);
 *  - getgroups(n, bad) (the result depends on the caller's groups);
 *  - NULL paths with AT_EMPTY_PATH (accepted only by kernels >= 6.11);
 *  - mmap of huge writable anonymous ranges, and brk up to the unmapped page
 *    (both depend on the overcommit policy);
 *  - fcntl(F_DUPFD, 1<<40) (newer kernels truncate the argument to int);
 *  - syscall numbers with high bits set (newer kernels truncate to int).
 */
#include "check.h"

#include <asm/prctl.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <termios.h>
#include <time.h>

#define NBAD 6
static void *bad[NBAD];
static const char *const badname[NBAD] = {
	"(void*)1", "(void*)-1", "unmapped", "top-of-user", "noncanonical", "kernel",
};

#define HUGE40 (1UL << 40)

static void report(const char *fmt, const char *arg, long r, int e)
{
	char text[256];

	snprintf(text, sizeof(text), fmt, arg);
	if (r == -1)
		printf("%s: -1 %s\n", text, errname(e));
	else
		printf("%s: ok\n", text);
}

/* EACH("read(file, %s, 16)", syscall(SYS_read, file, B, 16)): run the call
 * once per bad pointer, with B standing for the pointer. */
#define B (bad[_i])
#define EACH(fmt, ...)                                                     \
	do {                                                               \
		for (int _i = 0; _i < NBAD; _i++) {                        \
			long _r;                                           \
			errno = 0;                                         \
			_r = (long)(__VA_ARGS__);                          \
			report(fmt, badname[_i], _r, errno);               \
		}                                                          \
	} while (0)
#define ONE(...) CHECK_IMPL(0, #__VA_ARGS__, __VA_ARGS__)
/* Run one call and report it; errno is read after the call. */
#define REPORT(fmt, arg, ...)                                              \
	do {                                                               \
		long _r;                                                   \
		errno = 0;                                                 \
		_r = (long)(__VA_ARGS__);                                  \
		report(fmt, arg, _r, errno);                               \
	} while (0)

static int file, dirfd_, rpipe, wpipe, nullfd, nextfd;

static void setup(void)
{
	int p[2];

	bad[0] = (void *)1;
	bad[1] = (void *)-1L;
	bad[2] = unmapped_page();
	bad[3] = (void *)0x7ffffffff000UL;
	bad[4] = (void *)0x800000000000UL;
	bad[5] = (void *)0xffff800000000000UL;

	enter_tmpdir("badptr");
	file = open("file", O_RDWR | O_CREAT, 0644);
	if (write(file, "0123456789abcdef0123456789abcdef", 32) != 32)
		exit(98);
	lseek(file, 0, SEEK_SET);
	mkdir("dir", 0755);
	close(open("dir/entry", O_CREAT | O_WRONLY, 0644));
	symlink("file", "link");
	dirfd_ = open("dir", O_RDONLY | O_DIRECTORY);
	/* non-blocking: if a failed read wrongly consumed the data, the next
	 * read says EAGAIN instead of hanging the test */
	if (pipe2(p, O_NONBLOCK) != 0)
		exit(98);
	rpipe = p[0];
	wpipe = p[1];
	/* data in the pipe, so that reads with bad buffers fault rather than block */
	if (write(wpipe, "pipe data", 9) != 9)
		exit(98);
	nullfd = open("/dev/null", O_WRONLY);
	nextfd = open("/dev/null", O_RDONLY);
	close(nextfd);
}

static void file_io(void)
{
	struct iovec iov[2];
	char buf[64];

	SHOW("-- read/write/readv/writev/pread64/pwrite64\n");
	EACH("read(file, %s, 16)", syscall(SYS_read, file, B, 16));
	EACH("read(file, %s, SIZE_MAX)", syscall(SYS_read, file, B, SIZE_MAX));
	EACH("read(file, %s, 1<<40)", syscall(SYS_read, file, B, HUGE40));
	EACH("read(pipe, %s, 16)", syscall(SYS_read, rpipe, B, 16));
	EACH("write(file, %s, 16)", syscall(SYS_write, file, B, 16));
	EACH("write(file, %s, SIZE_MAX)", syscall(SYS_write, file, B, SIZE_MAX));
	EACH("write(file, %s, 1<<40)", syscall(SYS_write, file, B, HUGE40));
	EACH("write(pipe, %s, 16)", syscall(SYS_write, wpipe, B, 16));
	EACH("read(-1, %s, 16)", syscall(SYS_read, -1, B, 16));
	EACH("write(INT_MAX, %s, 16)", syscall(SYS_write, INT_MAX, B, 16));
	EACH("readv(file, %s, 1)", syscall(SYS_readv, file, B, 1));
	EACH("writev(file, %s, 1)", syscall(SYS_writev, file, B, 1));
	EACH("readv(file, %s, INT_MAX)", syscall(SYS_readv, file, B, INT_MAX));
	for (int i = 0; i < NBAD; i++) {
		iov[0].iov_base = buf;
		iov[0].iov_len = 4;
		iov[1].iov_base = bad[i];
		iov[1].iov_len = 16;
		lseek(file, 0, SEEK_SET);
		REPORT("readv(file, {buf, %s}, 2)", badname[i], syscall(SYS_readv, file, iov, 2));
		REPORT("writev(/dev/null, {buf, %s}, 2)", badname[i], syscall(SYS_writev, nullfd, iov, 2));
		iov[1].iov_len = SIZE_MAX;
		REPORT("readv(file, {buf, %s len SIZE_MAX}, 2)", badname[i], syscall(SYS_readv, file, iov, 2));
		/* Whether unmapped+1<<40 passes the kernel's range check depends on
		 * where mmap put the page (ASLR): that one is not comparable. */
		if (i == 2)
			continue;
		iov[1].iov_len = HUGE40;
		REPORT("readv(file, {buf, %s len 1<<40}, 2)", badname[i], syscall(SYS_readv, file, iov, 2));
	}
	lseek(file, 0, SEEK_SET);
	EACH("pread64(file, %s, 16, 0)", syscall(SYS_pread64, file, B, 16, 0));
	EACH("pread64(file, %s, 16, -1)", syscall(SYS_pread64, file, B, 16, -1L));
	EACH("pread64(file, %s, SIZE_MAX, 0)", syscall(SYS_pread64, file, B, SIZE_MAX, 0));
	EACH("pwrite64(file, %s, 16, 0)", syscall(SYS_pwrite64, file, B, 16, 0));
	EACH("pwrite64(file, %s, 1<<40, 0)", syscall(SYS_pwrite64, file, B, HUGE40, 0));
	EACH("pread64(pipe, %s, 16, 0)", syscall(SYS_pread64, rpipe, B, 16, 0));
}

static void paths(void)
{
	struct stat st;
	char buf[64];

	SHOW("-- path arguments\n");
	EACH("open(%s, O_RDONLY)", syscall(SYS_open, B, O_RDONLY));
	EACH("open(%s, O_RDWR|O_CREAT)", syscall(SYS_open, B, O_RDWR | O_CREAT, 0644));
	EACH("openat(AT_FDCWD, %s, O_RDONLY)", syscall(SYS_openat, AT_FDCWD, B, O_RDONLY));
	EACH("openat(INT_MAX, %s, O_RDONLY)", syscall(SYS_openat, INT_MAX, B, O_RDONLY));
	EACH("creat(%s, 0644)", syscall(SYS_creat, B, 0644));
	EACH("stat(%s, &st)", syscall(SYS_stat, B, &st));
	EACH("stat(\"file\", %s)", syscall(SYS_stat, "file", B));
	EACH("lstat(%s, &st)", syscall(SYS_lstat, B, &st));
	EACH("lstat(\"link\", %s)", syscall(SYS_lstat, "link", B));
	EACH("fstat(file, %s)", syscall(SYS_fstat, file, B));
	EACH("fstat(-1, %s)", syscall(SYS_fstat, -1, B));
	EACH("newfstatat(AT_FDCWD, %s, &st, 0)", syscall(SYS_newfstatat, AT_FDCWD, B, &st, 0));
	EACH("newfstatat(AT_FDCWD, \"file\", %s, 0)", syscall(SYS_newfstatat, AT_FDCWD, "file", B, 0));
	EACH("newfstatat(file, \"\", %s, AT_EMPTY_PATH)", syscall(SYS_newfstatat, file, "", B, AT_EMPTY_PATH));
	EACH("newfstatat(AT_FDCWD, \"file\", %s, -1)", syscall(SYS_newfstatat, AT_FDCWD, "file", B, -1));
	EACH("statx(AT_FDCWD, %s, 0, BASIC, buf)", syscall(SYS_statx, AT_FDCWD, B, 0, STATX_BASIC_STATS, buf));
	EACH("statx(AT_FDCWD, \"file\", 0, BASIC, %s)", syscall(SYS_statx, AT_FDCWD, "file", 0, STATX_BASIC_STATS, B));
	EACH("statx(AT_FDCWD, \"file\", -1, BASIC, %s)", syscall(SYS_statx, AT_FDCWD, "file", -1, STATX_BASIC_STATS, B));
	EACH("readlink(%s, buf, 64)", syscall(SYS_readlink, B, buf, 64));
	EACH("readlink(\"link\", %s, 64)", syscall(SYS_readlink, "link", B, 64));
	EACH("readlink(\"link\", %s, SIZE_MAX)", syscall(SYS_readlink, "link", B, SIZE_MAX));
	EACH("readlink(\"link\", %s, 1<<40)", syscall(SYS_readlink, "link", B, HUGE40));
	EACH("readlinkat(AT_FDCWD, \"link\", %s, 64)", syscall(SYS_readlinkat, AT_FDCWD, "link", B, 64));
	EACH("readlinkat(AT_FDCWD, %s, buf, 64)", syscall(SYS_readlinkat, AT_FDCWD, B, buf, 64));
	EACH("access(%s, F_OK)", syscall(SYS_access, B, F_OK));
	EACH("access(%s, -1)", syscall(SYS_access, B, -1));
	EACH("faccessat(AT_FDCWD, %s, R_OK)", syscall(SYS_faccessat, AT_FDCWD, B, R_OK));
	EACH("faccessat2(AT_FDCWD, %s, R_OK, 0)", syscall(SYS_faccessat2, AT_FDCWD, B, R_OK, 0));
	EACH("faccessat2(AT_FDCWD, %s, R_OK, -1)", syscall(SYS_faccessat2, AT_FDCWD, B, R_OK, -1));
	EACH("chdir(%s)", syscall(SYS_chdir, B));
	EACH("mkdir(%s, 0755)", syscall(SYS_mkdir, B, 0755));
	EACH("mkdirat(dir, %s, 0755)", syscall(SYS_mkdirat, dirfd_, B, 0755));
	EACH("unlink(%s)", syscall(SYS_unlink, B));
	EACH("unlinkat(dir, %s, 0)", syscall(SYS_unlinkat, dirfd_, B, 0));
	EACH("unlinkat(dir, %s, AT_REMOVEDIR)", syscall(SYS_unlinkat, dirfd_, B, AT_REMOVEDIR));
	EACH("unlinkat(dir, %s, -1)", syscall(SYS_unlinkat, dirfd_, B, -1));
	EACH("rmdir(%s)", syscall(SYS_rmdir, B));
	EACH("rename(%s, \"x\")", syscall(SYS_rename, B, "x"));
	EACH("rename(\"file\", %s)", syscall(SYS_rename, "file", B));
	EACH("rename(\"missing\", %s)", syscall(SYS_rename, "missing", B));
	EACH("renameat(AT_FDCWD, %s, dir, \"x\")", syscall(SYS_renameat, AT_FDCWD, B, dirfd_, "x"));
	EACH("renameat2(AT_FDCWD, \"file\", AT_FDCWD, %s, 0)", syscall(SYS_renameat2, AT_FDCWD, "file", AT_FDCWD, B, 0));
	EACH("renameat2(AT_FDCWD, %s, AT_FDCWD, \"x\", -1)", syscall(SYS_renameat2, AT_FDCWD, B, AT_FDCWD, "x", -1));
	EACH("symlink(%s, \"newlink\")", syscall(SYS_symlink, B, "newlink"));
	EACH("symlink(\"file\", %s)", syscall(SYS_symlink, "file", B));
	SHOW("all files still there: %d\n",
	     access("file", F_OK) == 0 && access("link", F_OK) == 0 && access("dir/entry", F_OK) == 0);
}

static void fds(void)
{
	SHOW("-- fd arguments\n");
	ONE(syscall(SYS_close, INT_MAX));
	ONE(syscall(SYS_close, -2));
	ONE(syscall(SYS_fcntl, (1L << 32) | file, F_GETFD)); /* fd arguments are 32-bit */
	ONE(syscall(SYS_dup, INT_MAX));
	ONE(syscall(SYS_dup2, file, INT_MAX));
	ONE(syscall(SYS_dup2, INT_MAX, 50));
	ONE(syscall(SYS_dup3, file, INT_MAX, 0));
	ONE(syscall(SYS_dup3, file, 50, -1));
	ONE(syscall(SYS_lseek, file, -1L, SEEK_SET));
	ONE(syscall(SYS_lseek, file, 0, -1));
	ONE(syscall(SYS_lseek, file, LONG_MIN, SEEK_CUR));
	ONE(syscall(SYS_lseek, INT_MAX, 0, SEEK_SET));
	ONE(syscall(SYS_fcntl, file, -1, 0));
	ONE(syscall(SYS_fcntl, INT_MAX, F_GETFD));
	EACH("fcntl(file, F_GETLK, %s)", syscall(SYS_fcntl, file, F_GETLK, B));
	EACH("fcntl(file, F_SETLK, %s)", syscall(SYS_fcntl, file, F_SETLK, B));
	EACH("fcntl(file, F_OFD_GETLK, %s)", syscall(SYS_fcntl, file, F_OFD_GETLK, B));
	EACH("ioctl(file, TCGETS, %s)", syscall(SYS_ioctl, file, TCGETS, B));
	EACH("ioctl(pipe, TCGETS, %s)", syscall(SYS_ioctl, rpipe, TCGETS, B));
	EACH("ioctl(pipe, FIONREAD, %s)", syscall(SYS_ioctl, rpipe, FIONREAD, B));
	EACH("ioctl(file, FIONBIO, %s)", syscall(SYS_ioctl, file, FIONBIO, B));
	EACH("ioctl(file, FIOCLEX, %s)", syscall(SYS_ioctl, file, FIOCLEX, B));
	EACH("ioctl(file, -1, %s)", syscall(SYS_ioctl, file, -1, B));
	EACH("ioctl(-1, TCGETS, %s)", syscall(SYS_ioctl, -1, TCGETS, B));
	EACH("pipe(%s)", syscall(SYS_pipe, B));
	EACH("pipe2(%s, 0)", syscall(SYS_pipe2, B, 0));
	EACH("pipe2(%s, -1)", syscall(SYS_pipe2, B, -1));
	/* no fd may have been leaked by the failed calls above */
	int fd = open("/dev/null", O_RDONLY);
	SHOW("next free fd unchanged: %d\n", fd == nextfd);
	close(fd);
	EACH("getdents64(dir, %s, 4096)", syscall(SYS_getdents64, dirfd_, B, 4096));
	EACH("getdents64(dir, %s, SIZE_MAX)", syscall(SYS_getdents64, dirfd_, B, SIZE_MAX));
	EACH("getdents64(dir, %s, 1<<40)", syscall(SYS_getdents64, dirfd_, B, HUGE40));
	EACH("getdents64(file, %s, 4096)", syscall(SYS_getdents64, file, B, 4096));
	EACH("getdents64(-1, %s, 4096)", syscall(SYS_getdents64, -1, B, 4096));
	EACH("getcwd(%s, 4096)", syscall(SYS_getcwd, B, 4096));
	EACH("getcwd(%s, SIZE_MAX)", syscall(SYS_getcwd, B, SIZE_MAX));
	EACH("getcwd(%s, 1)", syscall(SYS_getcwd, B, 1));
	ONE(syscall(SYS_fchdir, INT_MAX));
	ONE(syscall(SYS_fchdir, file));
}

static void memory(void)
{
	long cur, r;

	SHOW("-- memory\n");
	for (int i = 0; i < NBAD; i++) {
		void *p;
		int e;

		errno = 0;
		p = (void *)syscall(SYS_mmap, bad[i], 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		e = errno;
		/* without MAP_FIXED the address is only a hint */
		report("mmap(%s, 4096, hint) works", badname[i], p == MAP_FAILED ? -1 : 0, e);
		if (p != MAP_FAILED)
			munmap(p, 4096);
	}
	EACH("mmap(%s, 4096, MAP_FIXED)", syscall(SYS_mmap, B, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	EACH("mmap(%s, SIZE_MAX)", syscall(SYS_mmap, B, SIZE_MAX, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	EACH("mmap(%s, 4096, file, offset -4096)", syscall(SYS_mmap, B, 4096, PROT_READ, MAP_PRIVATE, file, -4096L));
	EACH("mmap(%s, 4096, flags -1)", syscall(SYS_mmap, B, 4096, PROT_READ, -1, -1, 0));
	EACH("munmap(%s, 4096)", syscall(SYS_munmap, B, 4096));
	EACH("munmap(%s, SIZE_MAX)", syscall(SYS_munmap, B, SIZE_MAX));
	/* never munmap/madvise a real address with a huge length: it would
	 * take the rest of the address space with it */
	ONE(syscall(SYS_munmap, (void *)0x800000000000UL, HUGE40));
	ONE(syscall(SYS_munmap, (void *)1, HUGE40));
	EACH("mprotect(%s, 4096, PROT_READ)", syscall(SYS_mprotect, B, 4096, PROT_READ));
	EACH("mprotect(%s, 1<<40, PROT_READ)", syscall(SYS_mprotect, B, HUGE40, PROT_READ));
	EACH("mprotect(%s, SIZE_MAX, PROT_READ)", syscall(SYS_mprotect, B, SIZE_MAX, PROT_READ));
	EACH("mremap(%s, 4096, 8192, MAYMOVE)", syscall(SYS_mremap, B, 4096, 8192, MREMAP_MAYMOVE));
	EACH("mremap(%s, 4096, SIZE_MAX, MAYMOVE)", syscall(SYS_mremap, B, 4096, SIZE_MAX, MREMAP_MAYMOVE));
	EACH("madvise(%s, 4096, MADV_DONTNEED)", syscall(SYS_madvise, B, 4096, MADV_DONTNEED));
	EACH("madvise(%s, 4096, -1)", syscall(SYS_madvise, B, 4096, -1));
	ONE(syscall(SYS_madvise, (void *)0x800000000000UL, HUGE40, MADV_DONTNEED));
	ONE(syscall(SYS_madvise, (void *)0xffff800000000000UL, SIZE_MAX, MADV_DONTNEED));
	cur = syscall(SYS_brk, 0);
	for (int i = 0; i < NBAD; i++) {
		/* Growing the heap up to the (mmap-area) unmapped page is refused
		 * only by the overcommit heuristic: host-dependent, skipped. */
		if (i == 2)
			continue;
		r = syscall(SYS_brk, bad[i]);
		SHOW("brk(%s) leaves brk unchanged: %d\n", badname[i], r == cur);
	}
}

static void process(void)
{
	struct timespec ts = {0, 0};
	char buf[64];

	SHOW("-- process, time, signals\n");
	EACH("uname(%s)", syscall(SYS_uname, B));
	EACH("sysinfo(%s)", syscall(SYS_sysinfo, B));
	EACH("arch_prctl(ARCH_GET_FS, %s)", syscall(SYS_arch_prctl, ARCH_GET_FS, B));
	EACH("arch_prctl(ARCH_GET_GS, %s)", syscall(SYS_arch_prctl, ARCH_GET_GS, B));
	EACH("arch_prctl(-1, %s)", syscall(SYS_arch_prctl, -1, B));
	ONE(syscall(SYS_arch_prctl, ARCH_SET_FS, (void *)0xffff800000000000UL));
	ONE(syscall(SYS_arch_prctl, ARCH_SET_GS, (void *)0x800000000000UL));
	ONE(syscall(SYS_arch_prctl, ARCH_SET_GS, (void *)1));
	ONE(syscall(SYS_arch_prctl, ARCH_SET_GS, 0));
	EACH("getrlimit(RLIMIT_NOFILE, %s)", syscall(SYS_getrlimit, RLIMIT_NOFILE, B));
	EACH("setrlimit(RLIMIT_NOFILE, %s)", syscall(SYS_setrlimit, RLIMIT_NOFILE, B));
	EACH("getrlimit(-1, %s)", syscall(SYS_getrlimit, -1, B));
	EACH("prlimit64(0, RLIMIT_NOFILE, %s, NULL)", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, B, NULL));
	EACH("prlimit64(0, RLIMIT_NOFILE, NULL, %s)", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, B));
	EACH("prlimit64(-1, RLIMIT_NOFILE, NULL, %s)", syscall(SYS_prlimit64, -1, RLIMIT_NOFILE, NULL, B));
	EACH("clock_gettime(CLOCK_MONOTONIC, %s)", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, B));
	EACH("clock_gettime(CLOCK_REALTIME, %s)", syscall(SYS_clock_gettime, CLOCK_REALTIME, B));
	EACH("clock_gettime(-1000, %s)", syscall(SYS_clock_gettime, -1000, B));
	EACH("clock_getres(CLOCK_MONOTONIC, %s)", syscall(SYS_clock_getres, CLOCK_MONOTONIC, B));
	EACH("gettimeofday(%s, NULL)", syscall(SYS_gettimeofday, B, NULL));
	EACH("gettimeofday(NULL, %s)", syscall(SYS_gettimeofday, NULL, B));
	EACH("time(%s)", syscall(SYS_time, B));
	EACH("nanosleep(%s, NULL)", syscall(SYS_nanosleep, B, NULL));
	EACH("nanosleep({0,0}, %s)", syscall(SYS_nanosleep, &ts, B));
	EACH("clock_nanosleep(CLOCK_MONOTONIC, 0, %s, NULL)", syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, B, NULL));
	EACH("clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, {0,0}, %s)",
	     syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, B));
	ts.tv_nsec = LONG_MAX;
	ONE(syscall(SYS_nanosleep, &ts, NULL));
	ts.tv_nsec = 0;
	ts.tv_sec = LONG_MIN;
	ONE(syscall(SYS_nanosleep, &ts, NULL));
	ONE(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, -1, &ts, NULL));
	EACH("getrandom(%s, 32, 0)", syscall(SYS_getrandom, B, 32, 0));
	EACH("getrandom(%s, SIZE_MAX, 0)", syscall(SYS_getrandom, B, SIZE_MAX, 0));
	EACH("getrandom(%s, 1<<40, 0)", syscall(SYS_getrandom, B, HUGE40, 0));
	EACH("getrandom(%s, 32, -1)", syscall(SYS_getrandom, B, 32, -1));
	EACH("sched_getaffinity(0, 128, %s)", syscall(SYS_sched_getaffinity, 0, 128, B));
	EACH("sched_getaffinity(0, SIZE_MAX, %s)", syscall(SYS_sched_getaffinity, 0, SIZE_MAX, B));
	EACH("sched_getaffinity(0, 1<<40, %s)", syscall(SYS_sched_getaffinity, 0, HUGE40, B));
	EACH("rt_sigaction(SIGUSR1, %s, NULL, 8)", syscall(SYS_rt_sigaction, SIGUSR1, B, NULL, 8));
	EACH("rt_sigaction(SIGUSR1, NULL, %s, 8)", syscall(SYS_rt_sigaction, SIGUSR1, NULL, B, 8));
	EACH("rt_sigaction(SIGUSR1, %s, NULL, SIZE_MAX)", syscall(SYS_rt_sigaction, SIGUSR1, B, NULL, SIZE_MAX));
	EACH("rt_sigaction(0, %s, NULL, 8)", syscall(SYS_rt_sigaction, 0, B, NULL, 8));
	EACH("rt_sigaction(SIGKILL, %s, NULL, 8)", syscall(SYS_rt_sigaction, SIGKILL, B, NULL, 8));
	EACH("rt_sigprocmask(SIG_BLOCK, %s, NULL, 8)", syscall(SYS_rt_sigprocmask, SIG_BLOCK, B, NULL, 8));
	EACH("rt_sigprocmask(SIG_BLOCK, NULL, %s, 8)", syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, B, 8));
	EACH("rt_sigprocmask(-1, %s, NULL, 8)", syscall(SYS_rt_sigprocmask, -1, B, NULL, 8));
	EACH("rt_sigprocmask(SIG_BLOCK, %s, NULL, SIZE_MAX)", syscall(SYS_rt_sigprocmask, SIG_BLOCK, B, NULL, SIZE_MAX));
	EACH("set_robust_list(%s, SIZE_MAX)", syscall(SYS_set_robust_list, B, SIZE_MAX));
	/* the kernel only records these pointers; they are used at exit, where
	 * a fault must be ignored */
	EACH("set_robust_list(%s, 24)", syscall(SYS_set_robust_list, B, 24));
	EACH("set_tid_address(%s)", syscall(SYS_set_tid_address, B));
	ONE(syscall(SYS_umask, -1));
	ONE(syscall(SYS_umask, 022));
	ONE(syscall(SYS_getgroups, -1, buf));
	ONE(syscall(SYS_sched_yield, -1, -1, -1));
	ONE(syscall(-1));
	ONE(syscall(1000, (void *)1, (void *)-1));
}

int main(void)
{
	setup();
	file_io();
	paths();
	fds();
	memory();
	process();
	SHOW("survived\n");
	fflush(stdout);
	/* leave the tree behind only if we cannot remove it */
	char cwd[256];
	if (getcwd(cwd, sizeof(cwd)) != NULL)
		remove_tree(cwd);
	return 0;
}
