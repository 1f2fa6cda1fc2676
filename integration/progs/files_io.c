/*
 * files_io: basic file I/O system calls and their error paths.
 *
 * read write readv writev pread64 pwrite64 open openat creat close lseek
 * fstat stat lstat newfstatat statx dup dup2 dup3 fcntl pipe pipe2 ioctl
 * select pselect6 (nfds against the fd table's size)
 * (plus mkdir and symlink to have something to stat), and O_CREAT racing
 * unlink from another thread.
 *
 * Raw syscall(2) is used where glibc would route the call to a different
 * syscall (open -> openat, stat -> newfstatat, pipe -> pipe2, ...), so that
 * each listed syscall is really exercised.
 */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>

/* The size of a directory depends on the filesystem (4096 on ext4, 40 on
 * tmpfs): it is only printed for other files. */
static void show_stat(const char *what, const struct stat *st)
{
	char size[32] = "-";

	if (!S_ISDIR(st->st_mode))
		snprintf(size, sizeof(size), "%lld", (long long)st->st_size);
	SHOW("%s: type=%o perm=%o size=%s nlink=%ld\n", what,
	     (unsigned)(st->st_mode & S_IFMT), (unsigned)(st->st_mode & 07777),
	     size, (long)st->st_nlink);
}

static void probe_lines(void)
{
	/* TestStrace looks for exactly these two calls; keep them first. */
	int fd = open("/dev/null", O_RDONLY);

	SHOW("open /dev/null = %d\n", fd);
	CHECK(close(fd));
	CHECK(open("/nonexistent-moat-probe/file", O_RDONLY));
}

static void basic_rw(void)
{
	char buf[64];
	int fd;

	SHOW("-- open/read/write/lseek\n");
	fd = CHECKV(syscall(SYS_open, "data", O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECKV(write(fd, "hello, world\n", 13));
	CHECKV(lseek(fd, 0, SEEK_CUR));
	CHECKV(lseek(fd, 0, SEEK_SET));
	memset(buf, 0, sizeof(buf));
	CHECKV(read(fd, buf, 5));
	SHOW("read data: \"%s\"\n", buf);
	CHECKV(lseek(fd, 2, SEEK_CUR));
	memset(buf, 0, sizeof(buf));
	CHECKV(read(fd, buf, sizeof(buf)));
	SHOW("read data: \"%s\"\n", buf);
	CHECKV(read(fd, buf, sizeof(buf))); /* EOF */
	CHECKV(lseek(fd, -3, SEEK_END));
	CHECKV(lseek(fd, -100, SEEK_SET));
	CHECKV(lseek(fd, -100, SEEK_CUR));
	CHECKV(lseek(fd, 0, 42)); /* bad whence */
	CHECKV(lseek(fd, 100, SEEK_END)); /* beyond EOF is fine */
	CHECKV(write(fd, "X", 1));        /* makes a hole */
	CHECKV(lseek(fd, 0, SEEK_END));
	CHECKV(pread(fd, buf, 4, 20));
	SHOW("hole reads zero: %d\n", buf[0] == 0 && buf[3] == 0);
	CHECK(close(fd));
	CHECK(close(fd)); /* EBADF */

	SHOW("-- read/write on wrong modes, bad fds\n");
	fd = CHECKV(open("data", O_RDONLY));
	CHECKV(write(fd, "x", 1)); /* EBADF: not open for writing */
	CHECK(close(fd));
	fd = CHECKV(open("data", O_WRONLY));
	CHECKV(read(fd, buf, 1)); /* EBADF: not open for reading */
	CHECKV(read(fd, buf, 0));
	CHECK(close(fd));
	CHECKV(read(-1, buf, 1));
	CHECKV(read(999, buf, 1));
	CHECKV(write(-1, buf, 1));
	CHECKV(write(999, buf, 1));
	CHECK(close(-1));
	CHECK(close(999));

	SHOW("-- EFAULT\n");
	fd = CHECKV(open("data", O_RDWR));
	CHECKV(read(fd, (void *)1, 10));
	CHECKV(write(fd, (void *)1, 10));
	CHECKV(read(fd, unmapped_page(), 10));
	CHECKV(write(fd, unmapped_page(), 10));
	CHECKV(write(fd, buf, 0));
	/* At end of file a read returns 0 without touching the buffer. */
	CHECKV(lseek(fd, 0, SEEK_END));
	CHECKV(read(fd, unmapped_page(), 10));
	CHECKV(pread(fd, unmapped_page(), 10, 1 << 20));
	CHECKV(lseek(fd, 0, SEEK_CUR));
	CHECKV(pread(fd, unmapped_page(), 10, 0));
	CHECK(close(fd));
	fd = CHECKV(open("/dev/null", O_RDONLY));
	CHECKV(read(fd, unmapped_page(), 10));
	CHECK(close(fd));
	fd = CHECKV(open("/dev/zero", O_RDONLY));
	CHECKV(read(fd, unmapped_page(), 10));
	CHECK(close(fd));
	fd = CHECKV(open(".", O_RDONLY | O_DIRECTORY));
	CHECKV(read(fd, unmapped_page(), 10));
	CHECK(close(fd));
}

static void vectored(void)
{
	char a[8], b[8];
	struct iovec iov[3];
	int fd;

	SHOW("-- readv/writev/pread64/pwrite64\n");
	fd = CHECKV(openat(AT_FDCWD, "vec", O_RDWR | O_CREAT | O_EXCL, 0600));
	iov[0].iov_base = "abc";
	iov[0].iov_len = 3;
	iov[1].iov_base = "";
	iov[1].iov_len = 0;
	iov[2].iov_base = "defgh";
	iov[2].iov_len = 5;
	CHECKV(writev(fd, iov, 3));
	CHECKV(lseek(fd, 0, SEEK_SET));
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	iov[0].iov_base = a;
	iov[0].iov_len = 2;
	iov[1].iov_base = b;
	iov[1].iov_len = 7;
	CHECKV(readv(fd, iov, 2));
	SHOW("readv: \"%s\" \"%s\"\n", a, b);
	CHECKV(readv(fd, iov, 0));
	CHECKV(readv(fd, iov, -1));
	CHECKV(readv(fd, iov, 1025)); /* > IOV_MAX */
	CHECKV(writev(fd, iov, -1));
	CHECKV(readv(fd, (void *)1, 1));
	CHECKV(writev(fd, (void *)1, 1));
	iov[0].iov_base = (void *)1;
	iov[0].iov_len = 4;
	CHECKV(lseek(fd, 0, SEEK_SET));
	CHECKV(readv(fd, iov, 1));
	CHECKV(writev(fd, iov, 1));
	CHECKV(readv(-1, iov, 1));

	CHECKV(pwrite(fd, "ZZ", 2, 1));
	memset(a, 0, sizeof(a));
	CHECKV(pread(fd, a, 7, 0));
	SHOW("pread: \"%s\"\n", a);
	CHECKV(lseek(fd, 0, SEEK_CUR)); /* pread/pwrite keep the offset */
	CHECKV(pread(fd, a, 7, -1));
	CHECKV(pwrite(fd, a, 7, -1));
	CHECKV(pread(fd, a, 7, 100)); /* past EOF */
	CHECKV(pread(fd, (void *)1, 7, 0));
	CHECKV(pread(-1, a, 7, 0));
	CHECK(close(fd));
}

/*
 * preadv/pwritev and their v2 forms; readv/writev gather: a datagram goes
 * as one message and comes back spread over the segments, and a pipe
 * write of two segments is one write.
 */
static void vectored_v2(void)
{
	char a[8], b[8];
	struct iovec rd[2] = { { a, 3 }, { b, 4 } };
	struct iovec wr[2] = { { "hello ", 6 }, { "world", 5 } };
	struct iovec bad[2] = { { a, 3 }, { (void *)8, 4 } };
	int sv[2], p[2], fd;

	SHOW("-- preadv/pwritev/preadv2/pwritev2\n");
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	CHECKV(writev(sv[0], wr, 2));
	CHECKV(readv(sv[1], rd, 2));
	SHOW("one datagram: \"%.3s\" \"%.4s\"\n", a, b);
	close(sv[0]);
	close(sv[1]);
	fd = CHECKV(openat(AT_FDCWD, "vec2", O_RDWR | O_CREAT | O_EXCL, 0600));
	CHECKV(pwritev(fd, wr, 2, 4));
	CHECKV(lseek(fd, 0, SEEK_CUR));
	CHECKV(preadv(fd, rd, 2, 5));
	SHOW("preadv: \"%.3s\" \"%.4s\"\n", a, b);
	CHECKV(preadv(fd, rd, 2, -1));
	CHECKV(preadv2(fd, rd, 2, -1, 0)); /* -1: the file offset, moved */
	CHECKV(lseek(fd, 0, SEEK_CUR));
	CHECKV(preadv2(fd, rd, 2, -2, 0));
	CHECKV(pwritev2(fd, wr, 1, 0, RWF_APPEND)); /* at the end, whatever the offset */
	CHECKV(lseek(fd, 0, SEEK_CUR));
	CHECKV(lseek(fd, 0, SEEK_END));
	CHECKV(pwritev2(fd, wr, 1, -1, RWF_APPEND));
	CHECKV(lseek(fd, 0, SEEK_CUR));
	CHECKV(pwritev2(fd, wr, 1, 0, RWF_DSYNC | RWF_HIPRI));
	CHECKV(pwritev2(fd, wr, 1, 0, 0x10000));
	CHECKV(preadv2(fd, rd, 2, 0, 0x10000));
	CHECKV(preadv(fd, rd, 2000, 0));
	CHECKV(preadv2(fd, rd, 0, 0, 0x10000)); /* nothing to read: flags not looked at */
	CHECKV(preadv(fd, bad, 2, 0)); /* in range, unmapped: a short read */
	/* A range past the largest offset is EINVAL, before the buffer is used. */
	CHECKV(pread(fd, a, 4, INT64_MAX - 2));
	CHECKV(pread(fd, a, 4, INT64_MAX - 4));
	CHECKV(pread(fd, (void *)8, 4, INT64_MAX - 2));
	CHECKV(pwritev(fd, wr, 2, INT64_MAX - 5));
	CHECKV(preadv(-1, rd, 2, 0));
	CHECKV(preadv(-1, rd, 2, -5)); /* the offset is checked first */
	CHECKV(pread(-1, a, 1, -1));
	CHECK(close(fd));
	CHECK(pipe(p));
	CHECKV(preadv(p[0], rd, 2, 0));
	CHECKV(pwritev(p[1], wr, 2, 0));
	CHECKV(pread(p[1], a, 1, 0)); /* ESPIPE before the mode's EBADF */
	CHECKV(preadv2(p[1], rd, 2, -1, 0));
	CHECKV(pwritev2(p[1], wr, 2, -1, 0));
	CHECKV(read(p[0], a, sizeof(a))); /* one write: all 8 bytes asked for */
	close(p[0]);
	close(p[1]);
}

/* One read or write moves at most MAX_RW_COUNT bytes, and import_iovec
 * cuts an iovec array to that total. /dev/null never touches the buffer,
 * and MAP_NORESERVE keeps the 4 GiB mapping free. */
#define MAX_RW_COUNT 0x7ffff000L /* 2147479552 */
static void rw_caps(void)
{
	const size_t big = (size_t)1 << 32;
	struct iovec iov[3];
	char *m;
	int null, ro, wo;

	SHOW("-- MAX_RW_COUNT\n");
	m = mmap(NULL, big, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		exit(99);
	}
	null = CHECKV(open("/dev/null", O_RDWR));
	CHECKV(write(null, m, big));
	CHECKV(pwrite(null, m, big, 0));
	CHECKV(read(null, m, big));
	iov[0].iov_base = m;
	iov[0].iov_len = MAX_RW_COUNT;
	iov[1].iov_base = m;
	iov[1].iov_len = MAX_RW_COUNT;
	iov[2].iov_base = m;
	iov[2].iov_len = 5;
	CHECKV(writev(null, iov, 3));
	iov[0].iov_len = MAX_RW_COUNT - 10;
	iov[1].iov_len = 100;
	CHECKV(writev(null, iov, 3));
	CHECKV(readv(null, iov, 3));
	/* access_ok sees each whole length, before the cut */
	iov[1].iov_base = (void *)-4096L;
	CHECKV(writev(null, iov, 2));
	/* a negative length anywhere is EINVAL before any EFAULT */
	iov[0].iov_base = (void *)-4096L;
	iov[1].iov_base = m;
	iov[1].iov_len = SIZE_MAX;
	CHECKV(writev(null, iov, 2));
	/* the fd's mode comes before the iovec array */
	ro = CHECKV(open("/dev/null", O_RDONLY));
	wo = CHECKV(open("/dev/null", O_WRONLY));
	CHECKV(readv(wo, iov, 0));
	CHECKV(writev(ro, iov, 0));
	CHECKV(readv(wo, (void *)1, 1));
	CHECKV(writev(ro, iov, -1));
	CHECK(close(ro));
	CHECK(close(wo));
	CHECK(close(null));
	CHECK(munmap(m, big));
}

static void creat_and_open_errors(void)
{
	char longname[301];
	static char longpath[5000];
	int fd;

	SHOW("-- creat/open errors\n");
	fd = CHECKV(syscall(SYS_creat, "made", 0640));
	CHECKV(write(fd, "12345", 5));
	CHECKV(read(fd, longname, 1)); /* creat is O_WRONLY */
	CHECK(close(fd));
	CHECKV(open("made", O_CREAT | O_EXCL | O_RDWR, 0600));
	CHECKV(open("missing", O_RDONLY));
	CHECKV(open("", O_RDONLY));
	CHECKV(open(NULL, O_RDONLY));
	CHECKV(open((char *)1, O_RDONLY));
	CHECKV(open("made/x", O_RDONLY));
	CHECKV(open(".", O_WRONLY));
	CHECKV(open("made", O_RDONLY | O_DIRECTORY));
	CHECKV(openat(-1, "made", O_RDONLY));
	CHECKV(openat(999, "made", O_RDONLY));
	CHECKV(openat(-1, "/dev/null", O_RDONLY)); /* absolute path ignores dirfd */
	CHECK(close(3));
	fd = CHECKV(open("made", O_RDONLY));
	CHECKV(openat(fd, "x", O_RDONLY)); /* dirfd is not a directory */
	CHECK(close(fd));
	memset(longname, 'n', 300);
	longname[300] = 0;
	CHECKV(open(longname, O_RDONLY | O_CREAT, 0600));
	for (size_t i = 0; i < sizeof(longpath) - 1; i += 2) {
		longpath[i] = 'p';
		longpath[i + 1] = '/';
	}
	longpath[sizeof(longpath) - 1] = 0;
	CHECKV(open(longpath, O_RDONLY));
}

static volatile int race_stop;

static void *race_unlinker(void *arg)
{
	(void)arg;
	while (!race_stop)
		unlink("racy");
	return NULL;
}

/* open(O_CREAT) without O_EXCL never fails with EEXIST, however the file
 * comes and goes between the lookup and the creation: Linux retries. */
static void creat_race(void)
{
	pthread_t t;
	int eexist = 0, opened = 0;

	SHOW("-- O_CREAT against unlink\n");
	pthread_create(&t, NULL, race_unlinker, NULL);
	for (int i = 0; i < 5000; i++) {
		int fd = open("racy", O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			opened++;
			close(fd);
		} else if (errno == EEXIST) {
			eexist++;
		} else {
			SHOW("open racy: %s\n", errname(errno));
		}
	}
	race_stop = 1;
	pthread_join(t, NULL);
	SHOW("EEXIST without O_EXCL: %d, opened at least once: %d\n", eexist, opened > 0);
}

static void stats(void)
{
	struct stat st;
	struct statx stx;

	SHOW("-- stat family\n");
	CHECK(mkdir("sub", 0755));
	CHECK(mkdir("sub/subsub", 0755));
	CHECK(mkdir("sub2", 0700));
	CHECK(symlink("made", "link"));

	CHECK(syscall(SYS_stat, "made", &st));
	show_stat("stat made", &st);
	CHECK(syscall(SYS_lstat, "link", &st));
	show_stat("lstat link", &st);
	CHECK(syscall(SYS_stat, "link", &st));
	show_stat("stat link", &st);
	CHECK(syscall(SYS_stat, "sub", &st));
	show_stat("stat sub", &st);
	CHECK(syscall(SYS_stat, ".", &st));
	show_stat("stat . (2 subdirectories)", &st);
	CHECK(syscall(SYS_lstat, "sub2", &st));
	show_stat("lstat sub2", &st);
	CHECK(syscall(SYS_newfstatat, AT_FDCWD, "link", &st, AT_SYMLINK_NOFOLLOW));
	show_stat("fstatat link nofollow", &st);
	CHECK(syscall(SYS_newfstatat, AT_FDCWD, "link", &st, 0));
	show_stat("fstatat link", &st);
	CHECK(syscall(SYS_newfstatat, AT_FDCWD, "link", &st, 0x12345)); /* EINVAL */
	CHECK(syscall(SYS_newfstatat, -1, "link", &st, 0));             /* EBADF */
	CHECK(syscall(SYS_newfstatat, AT_FDCWD, "", &st, 0));           /* ENOENT */
	int fd = open("made", O_RDONLY);
	CHECK(syscall(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH));
	show_stat("fstatat empty path", &st);
	CHECK(syscall(SYS_fstat, fd, &st));
	show_stat("fstat made", &st);
	CHECK(syscall(SYS_fstat, fd, (void *)1));
	CHECK(syscall(SYS_fstat, -1, &st));
	CHECK(syscall(SYS_fstat, 999, &st));
	CHECK(close(fd));
	CHECK(syscall(SYS_stat, "missing", &st));
	CHECK(syscall(SYS_stat, "made/x", &st));
	CHECK(syscall(SYS_stat, "made", (void *)1));
	CHECK(syscall(SYS_stat, (void *)1, &st));
	CHECK(syscall(SYS_lstat, "missing", &st));

	memset(&stx, 0, sizeof(stx));
	CHECK(syscall(SYS_statx, AT_FDCWD, "made", 0, STATX_BASIC_STATS, &stx));
	SHOW("statx made: basic=%d type=%o perm=%o size=%llu nlink=%u\n",
	     (stx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS,
	     (unsigned)(stx.stx_mode & S_IFMT), (unsigned)(stx.stx_mode & 07777),
	     (unsigned long long)stx.stx_size, (unsigned)stx.stx_nlink);
	CHECK(syscall(SYS_statx, AT_FDCWD, "link", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx));
	SHOW("statx link nofollow: type=%o size=%llu\n",
	     (unsigned)(stx.stx_mode & S_IFMT), (unsigned long long)stx.stx_size);
	CHECK(syscall(SYS_statx, AT_FDCWD, "missing", 0, STATX_BASIC_STATS, &stx));
	CHECK(syscall(SYS_statx, AT_FDCWD, "made", 0, STATX_BASIC_STATS, (void *)1));
	CHECK(syscall(SYS_statx, AT_FDCWD, "made", 0x7fff0000, STATX_BASIC_STATS, &stx));
	CHECK(syscall(SYS_statx, AT_FDCWD, "made", 0, 0x80000000u, &stx)); /* reserved mask bit */
	CHECK(syscall(SYS_statx, -1, "made", 0, STATX_BASIC_STATS, &stx));
}

static void dups_and_fcntl(void)
{
	int fd, fd2;

	SHOW("-- dup/dup2/dup3/fcntl\n");
	fd = CHECKV(open("made", O_RDWR));
	CHECKV(dup(fd));
	CHECKV(syscall(SYS_dup2, fd, 10));
	CHECKV(syscall(SYS_dup2, fd, fd)); /* returns fd */
	CHECKV(syscall(SYS_dup2, 999, 11));
	CHECKV(syscall(SYS_dup2, fd, -1));
	CHECKV(dup3(fd, 12, O_CLOEXEC));
	CHECKV(fcntl(12, F_GETFD));
	CHECKV(dup3(fd, fd, 0)); /* EINVAL */
	CHECKV(dup3(fd, 13, 0x4000)); /* bad flags */
	CHECKV(dup(-1));
	CHECKV(dup(999));
	/* the dup shares the offset */
	CHECKV(lseek(fd, 2, SEEK_SET));
	CHECKV(lseek(10, 0, SEEK_CUR));
	CHECK(close(10));
	CHECK(close(12));
	CHECK(close(4));

	CHECKV(fcntl(fd, F_GETFD));
	CHECKV(fcntl(fd, F_SETFD, FD_CLOEXEC));
	CHECKV(fcntl(fd, F_GETFD));
	CHECKV(fcntl(fd, F_SETFD, 0));
	CHECKV(fcntl(fd, F_GETFD));
	SHOW("F_GETFL = 0%o\n", fcntl(fd, F_GETFL));
	CHECKV(fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK));
	SHOW("F_GETFL = 0%o\n", fcntl(fd, F_GETFL));
	CHECKV(fcntl(fd, F_SETFL, 0));
	SHOW("F_GETFL = 0%o\n", fcntl(fd, F_GETFL));
	fd2 = CHECKV(fcntl(fd, F_DUPFD, 20));
	CHECKV(fcntl(fd, F_DUPFD, 20));
	CHECKV(fcntl(fd2, F_GETFD));
	CHECKV(fcntl(fd, F_DUPFD_CLOEXEC, 5));
	CHECKV(fcntl(5, F_GETFD));
	CHECKV(fcntl(fd, F_DUPFD, -1));
	CHECKV(fcntl(fd, F_DUPFD, INT_MAX));
	CHECKV(fcntl(fd, 9999));
	CHECKV(fcntl(-1, F_GETFD));
	CHECKV(fcntl(999, F_GETFL));
	CHECK(close(5));
	CHECK(close(20));
	CHECK(close(21));

	SHOW("-- ioctl\n");
	struct termios tio;
	CHECK(ioctl(fd, TCGETS, &tio));
	CHECK(ioctl(-1, TCGETS, &tio));
	CHECK(close(fd));
	fd = open("sub", O_RDONLY | O_DIRECTORY);
	CHECK(ioctl(fd, TCGETS, &tio));
	CHECK(close(fd));
}

static void pipes(void)
{
	int p[2];
	char buf[16];
	struct termios tio;

	SHOW("-- pipe/pipe2\n");
	CHECK(syscall(SYS_pipe, p));
	SHOW("pipe fds = %d %d\n", p[0], p[1]);
	SHOW("F_GETFL r = 0%o w = 0%o\n", fcntl(p[0], F_GETFL), fcntl(p[1], F_GETFL));
	CHECKV(write(p[1], "through the pipe", 16));
	memset(buf, 0, sizeof(buf));
	CHECKV(read(p[0], buf, 7));
	SHOW("got \"%.7s\"\n", buf);
	CHECKV(read(p[0], buf, sizeof(buf)));
	CHECKV(read(p[1], buf, 1));      /* write end: EBADF */
	CHECKV(write(p[0], "x", 1));     /* read end: EBADF */
	CHECKV(lseek(p[0], 0, SEEK_SET)); /* ESPIPE */
	CHECKV(pread(p[0], buf, 1, 0));   /* ESPIPE */
	CHECKV(pwrite(p[1], buf, 1, 0));  /* ESPIPE */
	CHECK(ioctl(p[0], TCGETS, &tio));
	CHECKV(write(p[1], (void *)1, 4));
	CHECK(syscall(SYS_pipe, (void *)1));
	CHECK(close(p[1]));
	CHECKV(read(p[0], buf, sizeof(buf))); /* EOF after writer closed */
	CHECK(close(p[0]));

	CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	SHOW("pipe2 fds = %d %d\n", p[0], p[1]);
	SHOW("FD r = %d, F_GETFL r = 0%o\n", fcntl(p[0], F_GETFD), fcntl(p[0], F_GETFL));
	CHECKV(read(p[0], buf, 1)); /* EAGAIN */
	CHECKV(write(p[1], "ab", 2));
	CHECKV(read(p[0], buf, 16));
	CHECK(close(p[0]));
	CHECKV(write(p[1], "ab", 2)); /* EPIPE would raise SIGPIPE: reader is gone */
	CHECK(close(p[1]));
	CHECK(pipe2(p, 0x12345678));
	CHECK(pipe2((void *)1, 0));
}

static unsigned long fdset[(1 << 21) / 64];

/* Select on one fd bit of fdset (cleared first) among the write fds. */
static long select_bit(int nfds, int fd)
{
	struct timeval tv = { 0, 0 };

	memset(fdset, 0, sizeof(fdset));
	fdset[fd / 64] = 1UL << (fd % 64);
	return syscall(SYS_select, nfds, NULL, fdset, NULL, &tv);
}

static long pselect_bit(int nfds, int fd)
{
	struct timespec ts = { 0, 0 };

	memset(fdset, 0, sizeof(fdset));
	fdset[fd / 64] = 1UL << (fd % 64);
	return syscall(SYS_pselect6, nfds, NULL, fdset, NULL, &ts, NULL);
}

static int bit_set(int fd) { return !!(fdset[fd / 64] & (1UL << (fd % 64))); }

/* select and pselect6 cut nfds to the size of the fd table (Linux's
 * max_fds) instead of failing: bits past it are not checked for EBADF,
 * not read and not written back. A forked child's table has room for its
 * open fds in whole 64-bit words, rounded up to a power of two (64 here,
 * whatever the parent of this program left in its table); it grows to the
 * power of two above a new fd and does not shrink on close. */
static void select_nfds(void)
{
	struct timeval tv = { 0, 0 };
	unsigned long *end;
	char *pages;
	int null, st;
	pid_t pid;

	SHOW("-- select nfds past the fd table\n");
	null = CHECK(open("/dev/null", O_WRONLY));
	pages = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages == MAP_FAILED || munmap(pages + 4096, 4096) != 0) {
		perror("mmap");
		exit(99);
	}
	/* fds this program may have inherited past 63 would size the copy */
	syscall(SYS_close_range, 64, ~0U, 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		CHECKV(syscall(SYS_select, 1 << 20, NULL, NULL, NULL, &tv));
		CHECKV(syscall(SYS_select, INT_MAX, NULL, NULL, NULL, &tv));
		CHECKV(syscall(SYS_select, -1, NULL, NULL, NULL, &tv));
		CHECKV(select_bit(1 << 21, 63));
		CHECKV(select_bit(1 << 21, 64));
		SHOW("bit 64 left alone: %d\n", bit_set(64));
		fdset[(1 << 20) / 64] = 1;
		fdset[null / 64] |= 1UL << (null % 64);
		CHECKV(syscall(SYS_select, 1 << 21, NULL, fdset, NULL, &tv));
		SHOW("null ready: %d, bit 1<<20 left alone: %d\n", bit_set(null), bit_set(1 << 20));
		/* only the table's size in bytes is read: here 8 */
		end = (unsigned long *)(pages + 4096 - 8);
		*end = 1UL << null;
		CHECKV(syscall(SYS_select, 1 << 20, NULL, end, NULL, &tv));
		CHECKV(dup2(null, 100));
		CHECK(close(100));
		CHECKV(syscall(SYS_select, 1 << 20, NULL, end, NULL, &tv));
		CHECKV(select_bit(INT_MAX, 127));
		CHECKV(select_bit(INT_MAX, 128));
		CHECKV(pselect_bit(INT_MAX, 127));
		CHECKV(pselect_bit(INT_MAX, 128));
		CHECKV(pselect_bit(-1, 1));
		FILE *status = fopen("/proc/self/status", "r");
		char line[256];
		while (status != NULL && fgets(line, sizeof line, status) != NULL)
			if (strncmp(line, "FDSize:", 7) == 0)
				SHOW("%s", line); /* the table's size, not the highest fd's */
		if (status != NULL)
			fclose(status);
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	SHOW("child status: %d\n", st);
	CHECK(close(null));
	CHECK(munmap(pages, 4096));
}

int main(void)
{
	const char *dir;

	probe_lines();
	umask(022);
	dir = enter_tmpdir("files_io");
	basic_rw();
	vectored();
	vectored_v2();
	rw_caps();
	creat_and_open_errors();
	creat_race();
	stats();
	dups_and_fcntl();
	signal(SIGPIPE, SIG_IGN);
	pipes();
	select_nfds();
	remove_tree(dir);
	SHOW("done\n");
	return 0;
}
