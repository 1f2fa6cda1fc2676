/*
 * files_io: basic file I/O system calls and their error paths.
 *
 * read write readv writev pread64 pwrite64 open openat creat close lseek
 * fstat stat lstat newfstatat statx dup dup2 dup3 fcntl pipe pipe2 ioctl
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
#include <sys/stat.h>
#include <sys/uio.h>
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

int main(void)
{
	const char *dir;

	probe_lines();
	umask(022);
	dir = enter_tmpdir("files_io");
	basic_rw();
	vectored();
	creat_and_open_errors();
	creat_race();
	stats();
	dups_and_fcntl();
	signal(SIGPIPE, SIG_IGN);
	pipes();
	remove_tree(dir);
	SHOW("done\n");
	return 0;
}
