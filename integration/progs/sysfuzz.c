/*
 * sysfuzz: calls moat's implemented system calls with random arguments,
 * seeded by argv[1], for argv[2] calls, then exits 0. It is never run
 * natively: random renames and unlinks would reach the host. Inside moat
 * everything lands in the in-memory overlay.
 *
 * Calls that could block forever by design (reads of an empty pipe, long
 * sleeps) or end the program (exit, signals) are left out; memory calls
 * only ever target a scratch region, so the program keeps its own code and
 * stack.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static uint64_t state;

static uint64_t next(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

/* buf and scratch are mappings of their own, each followed by a PROT_NONE
 * guard page, so that random lengths can never write past them into the
 * program's own data. */
#define BUFSIZE 8192
static char *buf;
static char *scratch;
#define SCRATCH (64 << 12)

static char *guarded(size_t size)
{
	char *p = mmap(NULL, size + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || mprotect(p + size, 4096, PROT_NONE) != 0)
		exit(2);
	return p;
}

static const char *const paths[] = {
	"/tmp", "/tmp/f", "/tmp/d", "/tmp/d/x", "/etc/passwd", "/etc", "/",
	"/proc/self/maps", "/proc/self/status", "/dev/null", "/dev/zero",
	"/tmp/l", "..", ".", "", "/nonexistent/a/b", "/tmp/f/", "/proc",
};

/* arg returns a random argument: small numbers, fds, flags, good and bad
 * pointers, paths. */
static long arg(void)
{
	switch (next() % 12) {
	case 0: return (long)(next() % 8) - 1;
	case 1: return (long)next();
	case 2: return (long)(next() % 64);
	case 3: return (long)(buf + next() % BUFSIZE);
	case 4: return (long)paths[next() % (sizeof(paths) / sizeof(paths[0]))];
	case 5: return 1;
	case 6: return -1;
	case 7: return (long)0xffff800000000000UL;
	case 8: return (long)(scratch + (next() % 64) * 4096);
	case 9: return (long)(next() % 4096);
	case 10: return (long)(1UL << (next() % 64));
	default: return 0;
	}
}

static const long calls[] = {
	SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64, SYS_pwrite64,
	SYS_open, SYS_openat, SYS_creat, SYS_close, SYS_fstat, SYS_stat, SYS_lstat,
	SYS_newfstatat, SYS_statx, SYS_lseek, SYS_getdents64, SYS_readlink,
	SYS_readlinkat, SYS_access, SYS_faccessat, SYS_faccessat2, SYS_getcwd,
	SYS_chdir, SYS_fchdir, SYS_mkdir, SYS_mkdirat, SYS_unlink, SYS_unlinkat,
	SYS_rmdir, SYS_rename, SYS_renameat, SYS_renameat2, SYS_symlink,
	SYS_dup, SYS_dup2, SYS_dup3, SYS_fcntl, SYS_ioctl, SYS_getpid, SYS_gettid,
	SYS_getuid, SYS_getgroups, SYS_uname, SYS_set_tid_address,
	SYS_set_robust_list, SYS_prlimit64, SYS_getrlimit, SYS_clock_gettime,
	SYS_clock_getres, SYS_gettimeofday, SYS_time, SYS_getrandom, SYS_sysinfo,
	SYS_sched_getaffinity, SYS_sched_yield, SYS_umask, SYS_rt_sigaction,
	SYS_rt_sigprocmask, SYS_rseq, 1000,
	SYS_sendfile, SYS_copy_file_range, SYS_splice, SYS_tee, SYS_vmsplice,
	SYS_fallocate,
};
static const long memcalls[] = { SYS_mmap, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise };

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 1000;

	state = (argc > 1 ? strtoull(argv[1], NULL, 10) : 1) * 0x9e3779b97f4a7c15ULL | 1;
	scratch = guarded(SCRATCH);
	buf = guarded(BUFSIZE);
	for (size_t i = 0; i < BUFSIZE; i++)
		buf[i] = (char)next();
	buf[BUFSIZE - 1] = 0;
	/* Never read from stdin or a pipe that could block: fds 0-2 are
	 * replaced by files. */
	close(0);
	open("/dev/null", O_RDONLY);
	for (long i = 0; i < n; i++) {
		long a[6];
		for (int j = 0; j < 6; j++)
			a[j] = arg();
		if (next() % 8 == 0) {
			long nr = memcalls[next() % (sizeof(memcalls) / sizeof(memcalls[0]))];
			a[0] = (long)(scratch + (next() % 64) * 4096);
			a[1] = (long)((next() % 16) * 4096);
			if (nr == SYS_mremap)
				a[3] &= 1; /* MREMAP_MAYMOVE or nothing: never onto fixed addresses */
			if (nr == SYS_mmap)
				a[3] &= ~(long)MAP_FIXED, a[3] &= ~(long)MAP_FIXED_NOREPLACE;
			syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
			continue;
		}
		long nr = calls[next() % (sizeof(calls) / sizeof(calls[0]))];
		/* Keep fds 0-2 and reads bounded: reads and writes target a
		 * file or /dev/null, never an fd that could block. */
		if (nr == SYS_read || nr == SYS_readv || nr == SYS_pread64 ||
		    nr == SYS_write || nr == SYS_writev || nr == SYS_pwrite64)
			a[0] = 0;
		if (nr == SYS_dup2 || nr == SYS_dup3)
			a[1] = 3 + (unsigned long)a[1] % 64;
		if (nr == SYS_close && (unsigned int)a[0] < 3) /* fds are ints */
			a[0] = 3;
		/* The data-movement calls: never into fds 0-2, bounded counts,
		 * and never waiting (there are no pipes here, but stdout may
		 * be one). */
		if (nr == SYS_sendfile)
			a[0] = 3 + (unsigned long)a[0] % 64, a[3] %= 1 << 16;
		if (nr == SYS_copy_file_range || nr == SYS_splice)
			a[2] = 3 + (unsigned long)a[2] % 64, a[4] %= 1 << 16;
		if (nr == SYS_splice || nr == SYS_tee || nr == SYS_vmsplice)
			a[nr == SYS_splice ? 5 : 3] |= 2; /* SPLICE_F_NONBLOCK */
		if (nr == SYS_tee || nr == SYS_vmsplice)
			a[0] = 3 + (unsigned long)a[0] % 64;
		if (nr == SYS_fallocate)
			a[3] %= 1 << 24;
		if (nr == SYS_rt_sigaction || nr == SYS_rt_sigprocmask)
			a[1] = 0; /* read the state only: no handler can run yet */
		syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	}
	printf("sysfuzz: %ld calls done\n", n);
	return 0;
}
