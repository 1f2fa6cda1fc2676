/*
 * dataio.c: the data-movement calls: sendfile, copy_file_range, splice,
 * tee, vmsplice and fallocate, between files in a /tmp directory, pipes
 * and a socketpair: counts, offsets and file positions, blocking, and the
 * errors.
 */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/falloc.h>

#define SRC_SIZE 10000

static char pat(long i) { return (char)('a' + (i * 7) % 26); }

static char big[1 << 20];

/* same_as_src reports whether n bytes at file offset off of fd are the
 * source pattern from srcoff. */
static int same_as_src(int fd, long off, long srcoff, long n)
{
	if (pread(fd, big, n, off) != n)
		return 0;
	for (long i = 0; i < n; i++)
		if (big[i] != pat(srcoff + i))
			return 0;
	return 1;
}

static int zeros(int fd, long off, long n)
{
	if (pread(fd, big, n, off) != n)
		return 0;
	for (long i = 0; i < n; i++)
		if (big[i] != 0)
			return 0;
	return 1;
}

/* pipe_has reports whether the next n bytes of the pipe are the source
 * pattern from srcoff, consuming them. */
static int pipe_has(int fd, long srcoff, long n)
{
	long got = 0;
	while (got < n) {
		ssize_t r = read(fd, big + got, n - got);
		if (r <= 0)
			return 0;
		got += r;
	}
	for (long i = 0; i < n; i++)
		if (big[i] != pat(srcoff + i))
			return 0;
	return 1;
}

static long fsize(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (long)st.st_size : -1;
}

static long pos(int fd) { return (long)lseek(fd, 0, SEEK_CUR); }

static int inpipe(int fd)
{
	int n = -1;
	ioctl(fd, FIONREAD, &n);
	return n;
}

/* fill makes the pipe's write end full (it is made non-blocking). */
static void fill(int wfd)
{
	fcntl(wfd, F_SETFL, fcntl(wfd, F_GETFL) | O_NONBLOCK);
	while (write(wfd, big, 4096) > 0)
		;
	while (write(wfd, big, 1) > 0)
		;
	fcntl(wfd, F_SETFL, fcntl(wfd, F_GETFL) & ~O_NONBLOCK);
}

static void drain(int rfd)
{
	int fl = fcntl(rfd, F_GETFL);
	fcntl(rfd, F_SETFL, fl | O_NONBLOCK);
	while (read(rfd, big, sizeof(big)) > 0)
		;
	fcntl(rfd, F_SETFL, fl);
}

static volatile int alarms;
static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static int src_fd(void)
{
	return open("src", O_RDONLY);
}

static void test_sendfile(void *bad)
{
	int in, out, p[2], sv[2];
	off_t off;

	printf("-- sendfile\n");
	in = src_fd();
	out = open("sf1", O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECKV(sendfile(out, in, NULL, 4000));
	SHOW("in pos %ld, out pos %ld\n", pos(in), pos(out));
	CHECKV(sendfile(out, in, NULL, 100000));
	CHECKV(sendfile(out, in, NULL, 100000));
	SHOW("in pos %ld, out size %ld, same: %d\n", pos(in), fsize(out), same_as_src(out, 0, 0, SRC_SIZE));

	printf("offset pointer\n");
	lseek(in, 123, SEEK_SET);
	off = 1000;
	CHECKV(sendfile(out, in, &off, 500));
	SHOW("off %ld, in pos %ld, out pos %ld, same: %d\n", (long)off, pos(in), pos(out), same_as_src(out, SRC_SIZE, 1000, 500));
	off = SRC_SIZE;
	CHECKV(sendfile(out, in, &off, 10));
	off = SRC_SIZE + 5000;
	CHECKV(sendfile(out, in, &off, 10));
	SHOW("off %ld\n", (long)off);
	off = 0;
	CHECKV(sendfile(out, in, &off, 0));

	printf("to a pipe\n");
	pipe(p);
	off = 1500;
	CHECKV(sendfile(p[1], in, &off, 100000));
	SHOW("off %ld, in pipe %d\n", (long)off, inpipe(p[0]));
	SHOW("same: %d\n", pipe_has(p[0], 1500, SRC_SIZE - 1500));
	CHECKV(fcntl(p[1], F_SETPIPE_SZ, 4096));
	off = 0;
	CHECKV(sendfile(p[1], in, &off, 10000));
	SHOW("off %ld\n", (long)off);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	CHECKV(sendfile(p[1], in, &off, 10000));
	fcntl(p[1], F_SETFL, 0);
	drain(p[0]);

	printf("to a socket\n");
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	off = 100;
	CHECKV(sendfile(sv[0], in, &off, 3000));
	SHOW("same: %d\n", pipe_has(sv[1], 100, 3000));
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	while (write(sv[0], big, 4096) > 0)
		;
	while (write(sv[0], big, 1) > 0)
		;
	CHECKV(sendfile(sv[0], in, &off, 3000));
	SHOW("off %ld\n", (long)off);
	fcntl(sv[0], F_SETFL, 0);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	while (read(sv[1], big, sizeof(big)) > 0)
		;
	fcntl(sv[1], F_SETFL, 0);

	printf("from a pipe or socket\n");
	write(p[1], "0123456789", 10);
	CHECKV(sendfile(out, p[0], NULL, 5));
	off = 0;
	CHECKV(sendfile(out, p[0], &off, 5));
	drain(p[0]);
	write(sv[1], "abcde", 5);
	int q[2];
	pipe(q);
	CHECKV(sendfile(q[1], sv[0], NULL, 100));
	SHOW("in pipe %d\n", inpipe(q[0]));
	CHECKV(sendfile(out, sv[0], NULL, 100));
	close(q[0]);
	close(q[1]);

	printf("errors\n");
	off = 0;
	CHECKV(sendfile(out, 999, NULL, 10));
	CHECKV(sendfile(999, in, NULL, 10));
	CHECKV(sendfile(out, 999, bad, 10));
	CHECKV(sendfile(out, in, bad, 10));
	CHECKV(sendfile(in, in, &off, 10));
	CHECKV(sendfile(out, out, &off, 10) >= 0 ? 0 : -1);
	int wo = open("src", O_WRONLY);
	CHECKV(sendfile(out, wo, &off, 10));
	close(wo);
	off = -1;
	CHECKV(sendfile(out, in, &off, 10));
	off = 0;
	CHECKV(sendfile(out, in, &off, (size_t)-1));
	CHECKV(sendfile(out, in, &off, (size_t)1 << 62));
	int ap = open("sf_append", O_CREAT | O_WRONLY | O_APPEND, 0644);
	CHECKV(sendfile(ap, in, &off, 10));
	CHECKV(sendfile(ap, in, &off, 0));
	close(ap);
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	CHECKV(sendfile(out, dir, &off, 10));
	CHECKV(sendfile(p[1], dir, &off, 10));
	close(dir);
	close(p[0]);
	CHECKV(sendfile(p[1], in, &off, 10));
	close(sv[1]);
	CHECKV(sendfile(sv[0], in, &off, 10));
	close(sv[0]);
	close(p[1]);
	close(in);
	close(out);
}

static void test_copy_file_range(void *bad)
{
	int in, out;
	loff_t oi, oo;

	printf("-- copy_file_range\n");
	in = src_fd();
	out = open("cfr1", O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECKV(copy_file_range(in, NULL, out, NULL, 3000, 0));
	SHOW("in pos %ld, out pos %ld\n", pos(in), pos(out));
	CHECKV(copy_file_range(in, NULL, out, NULL, 100000, 0));
	CHECKV(copy_file_range(in, NULL, out, NULL, 100000, 0));
	SHOW("in pos %ld, out size %ld, same: %d\n", pos(in), fsize(out), same_as_src(out, 0, 0, SRC_SIZE));

	printf("offset pointers\n");
	oi = 5000;
	oo = 20000;
	CHECKV(copy_file_range(in, &oi, out, &oo, 1000, 0));
	SHOW("oi %ld, oo %ld, in pos %ld, out pos %ld, size %ld, hole zero: %d, same: %d\n", (long)oi, (long)oo, pos(in), pos(out),
	     fsize(out), zeros(out, SRC_SIZE, 10000), same_as_src(out, 20000, 5000, 1000));
	oi = 9000;
	CHECKV(copy_file_range(in, &oi, out, NULL, 5000, 0));
	SHOW("oi %ld, out pos %ld\n", (long)oi, pos(out));
	oi = SRC_SIZE;
	CHECKV(copy_file_range(in, &oi, out, NULL, 5000, 0));
	oi = SRC_SIZE + 1;
	CHECKV(copy_file_range(in, &oi, out, NULL, 5000, 0));
	CHECKV(copy_file_range(in, NULL, out, NULL, 0, 0));

	printf("same file\n");
	oi = 0;
	oo = 100;
	CHECKV(copy_file_range(out, &oi, out, &oo, 1000, 0));
	oo = 1000;
	CHECKV(copy_file_range(out, &oi, out, &oo, 1000, 0));
	SHOW("oi %ld oo %ld same: %d\n", (long)oi, (long)oo, same_as_src(out, 1000, 0, 1000));
	oi = 0;
	oo = 500;
	CHECKV(copy_file_range(out, &oi, out, &oo, 100, 0));

	printf("errors\n");
	oi = oo = 0;
	CHECKV(copy_file_range(999, NULL, out, NULL, 10, 0));
	CHECKV(copy_file_range(in, NULL, 999, NULL, 10, 0));
	CHECKV(copy_file_range(in, NULL, out, NULL, 10, 1));
	CHECKV(copy_file_range(in, bad, out, NULL, 10, 0));
	CHECKV(copy_file_range(in, NULL, out, bad, 10, 0));
	CHECKV(copy_file_range(in, bad, out, NULL, 10, 1));
	CHECKV(copy_file_range(out, &oi, in, &oo, 10, 0));
	int wo = open("src", O_WRONLY);
	CHECKV(copy_file_range(wo, &oi, out, &oo, 10, 0));
	close(wo);
	int ap = open("cfr_append", O_CREAT | O_RDWR | O_APPEND, 0644);
	CHECKV(copy_file_range(in, &oi, ap, &oo, 10, 0));
	close(ap);
	int p[2];
	pipe(p);
	write(p[1], "xyz", 3);
	CHECKV(copy_file_range(p[0], NULL, out, NULL, 10, 0));
	CHECKV(copy_file_range(in, &oi, p[1], NULL, 10, 0));
	close(p[0]);
	close(p[1]);
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	CHECKV(copy_file_range(dir, NULL, out, NULL, 10, 0));
	CHECKV(copy_file_range(in, &oi, dir, NULL, 10, 0));
	close(dir);
	oi = 1;
	CHECKV(copy_file_range(in, &oi, out, &oo, (size_t)-1, 0));
	oi = -5;
	CHECKV(copy_file_range(in, &oi, out, &oo, 10, 0));
	oi = -100;
	CHECKV(copy_file_range(in, &oi, out, &oo, 10, 0));
	oi = 0;
	oo = -100;
	CHECKV(copy_file_range(in, &oi, out, &oo, 10, 0));
	oo = INT64_MAX;
	CHECKV(copy_file_range(in, &oi, out, &oo, 10, 0));

	printf("RLIMIT_FSIZE\n");
	struct rlimit old, rl;
	getrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_IGN);
	rl = old;
	rl.rlim_cur = 4096;
	setrlimit(RLIMIT_FSIZE, &rl);
	oi = 0;
	oo = 8192;
	CHECKV(copy_file_range(in, &oi, out, &oo, 10, 0));
	oo = 4000;
	CHECKV(copy_file_range(in, &oi, out, &oo, 1000, 0));
	SHOW("oo %ld\n", (long)oo);
	CHECKV(fallocate(out, 0, 0, 50000));
	CHECKV(fallocate(out, FALLOC_FL_KEEP_SIZE, 0, 50000));
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);

	printf("another filesystem\n");
	int shm = open("/dev/shm/moat-dataio-test", O_CREAT | O_RDWR | O_TRUNC, 0600);
	unlink("/dev/shm/moat-dataio-test");
	oi = oo = 0;
	CHECKV(copy_file_range(in, &oi, shm, &oo, 10, 0));
	close(shm);
	close(in);
	close(out);
}

static void test_splice(void *bad)
{
	int in, out, p[2], q[2], sv[2];
	loff_t off;

	printf("-- splice\n");
	in = src_fd();
	out = open("sp1", O_CREAT | O_RDWR | O_TRUNC, 0644);
	pipe(p);
	pipe(q);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);

	printf("file to pipe\n");
	off = 2000;
	CHECKV(splice(in, &off, p[1], NULL, 3000, 0));
	SHOW("off %ld, in pos %ld, same: %d\n", (long)off, pos(in), pipe_has(p[0], 2000, 3000));
	lseek(in, 100, SEEK_SET);
	CHECKV(splice(in, NULL, p[1], NULL, 50, SPLICE_F_MOVE | SPLICE_F_MORE));
	SHOW("in pos %ld, same: %d\n", pos(in), pipe_has(p[0], 100, 50));
	off = SRC_SIZE;
	CHECKV(splice(in, &off, p[1], NULL, 50, 0));
	off = 0;
	CHECKV(splice(in, &off, p[1], NULL, 100000, 0));
	SHOW("off %ld, in pipe %d\n", (long)off, inpipe(p[0]));
	drain(p[0]);

	printf("pipe to file\n");
	write(p[1], "hello, splice", 13);
	off = 7;
	CHECKV(splice(p[0], NULL, out, &off, 5, 0));
	SHOW("off %ld, out pos %ld, in pipe %d\n", (long)off, pos(out), inpipe(p[0]));
	CHECKV(splice(p[0], NULL, out, NULL, 100, 0));
	SHOW("out pos %ld, size %ld\n", pos(out), fsize(out));
	pread(out, big, 12, 0);
	SHOW("content: %.8s\n", big);

	printf("pipe to pipe\n");
	write(p[1], "0123456789", 10);
	CHECKV(splice(p[0], NULL, q[1], NULL, 4, 0));
	SHOW("p %d q %d\n", inpipe(p[0]), inpipe(q[0]));
	CHECKV(splice(p[0], NULL, q[1], NULL, 100, 0));
	SHOW("p %d q %d\n", inpipe(p[0]), inpipe(q[0]));
	memset(big, 0, 16);
	read(q[0], big, 16);
	SHOW("q: %s\n", big);

	printf("socket\n");
	write(p[1], "to the socket", 13);
	CHECKV(splice(p[0], NULL, sv[0], NULL, 100, 0));
	CHECKV(splice(sv[1], NULL, q[1], NULL, 100, 0));
	memset(big, 0, 16);
	read(q[0], big, 16);
	SHOW("q: %s\n", big);

	printf("blocking\n");
	CHECKV(splice(p[0], NULL, out, NULL, 10, SPLICE_F_NONBLOCK));
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	CHECKV(splice(p[0], NULL, out, NULL, 10, 0));
	CHECKV(splice(p[0], NULL, q[1], NULL, 10, 0));
	fcntl(p[0], F_SETFL, 0);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(100000);
		write(p[1], "late", 4);
		_exit(0);
	}
	CHECKV(splice(p[0], NULL, out, NULL, 10, 0));
	waitpid(pid, NULL, 0);
	fill(q[1]);
	off = 0;
	CHECKV(splice(in, &off, q[1], NULL, 10, SPLICE_F_NONBLOCK));
	CHECKV(splice(p[0], NULL, q[1], NULL, 10, SPLICE_F_NONBLOCK));
	pid = fork();
	if (pid == 0) {
		usleep(100000);
		read(q[0], big, 4096);
		_exit(0);
	}
	CHECKV(splice(in, &off, q[1], NULL, 10, 0));
	waitpid(pid, NULL, 0);
	drain(q[0]);
	struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	ualarm(50000, 0);
	CHECKV(splice(p[0], NULL, out, NULL, 10, 0));
	ualarm(50000, 0);
	CHECKV(tee(p[0], q[1], 10, 0));
	ualarm(50000, 0);
	struct iovec iov = { big, 10 };
	CHECKV(vmsplice(p[0], &iov, 1, 0));
	SHOW("alarms %d\n", alarms);
	int r[2];
	pipe(r);
	close(r[1]);
	CHECKV(splice(r[0], NULL, out, NULL, 10, 0));
	CHECKV(splice(r[0], NULL, q[1], NULL, 10, 0));
	close(r[0]);

	printf("errors\n");
	off = 0;
	CHECKV(splice(in, NULL, out, NULL, 10, 0));
	CHECKV(splice(in, NULL, out, NULL, 0, 0));
	CHECKV(splice(in, NULL, p[1], NULL, 10, 0x10));
	CHECKV(splice(in, NULL, p[1], NULL, 0, 0x10));
	CHECKV(splice(999, NULL, p[1], NULL, 10, 0));
	CHECKV(splice(in, NULL, 999, NULL, 10, 0));
	CHECKV(splice(p[1], NULL, out, NULL, 10, 0));
	CHECKV(splice(in, NULL, p[0], NULL, 10, 0));
	CHECKV(splice(p[0], NULL, p[1], NULL, 10, 0));
	CHECKV(splice(p[0], &off, out, NULL, 10, 0));
	CHECKV(splice(in, NULL, p[1], &off, 10, 0));
	CHECKV(splice(in, bad, p[1], NULL, 10, 0));
	write(p[1], "x", 1);
	CHECKV(splice(p[0], NULL, out, bad, 10, 0));
	CHECKV(splice(p[0], NULL, sv[0], &off, 10, 0));
	CHECKV(splice(sv[1], &off, p[1], NULL, 10, 0));
	off = -1;
	CHECKV(splice(in, &off, p[1], NULL, 10, 0));
	CHECKV(splice(p[0], NULL, out, &off, 10, 0));
	off = 0;
	CHECKV(splice(in, &off, p[1], NULL, (size_t)-1, 0));
	int ap = open("sp_append", O_CREAT | O_WRONLY | O_APPEND, 0644);
	CHECKV(splice(p[0], NULL, ap, NULL, 10, 0));
	close(ap);
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	CHECKV(splice(dir, NULL, p[1], NULL, 10, 0));
	close(dir);
	drain(p[0]);
	close(p[0]);
	CHECKV(splice(in, &off, p[1], NULL, 10, 0));
	close(p[1]);
	close(q[0]);
	close(q[1]);
	close(sv[0]);
	close(sv[1]);
	close(in);
	close(out);
}

static void test_tee(void)
{
	int p[2], q[2], in;

	printf("-- tee\n");
	pipe(p);
	pipe(q);
	in = src_fd();
	write(p[1], "hello world", 11);
	CHECKV(tee(p[0], q[1], 100, 0));
	SHOW("p %d q %d\n", inpipe(p[0]), inpipe(q[0]));
	CHECKV(tee(p[0], q[1], 5, SPLICE_F_NONBLOCK));
	SHOW("p %d q %d\n", inpipe(p[0]), inpipe(q[0]));
	memset(big, 0, 32);
	read(q[0], big, 32);
	SHOW("q: %s\n", big);
	drain(p[0]);

	printf("blocking\n");
	CHECKV(tee(p[0], q[1], 10, SPLICE_F_NONBLOCK));
	fcntl(q[1], F_SETFL, O_NONBLOCK);
	CHECKV(tee(p[0], q[1], 10, 0));
	fcntl(q[1], F_SETFL, 0);
	pid_t pid = fork();
	if (pid == 0) {
		usleep(100000);
		write(p[1], "later", 5);
		_exit(0);
	}
	CHECKV(tee(p[0], q[1], 10, 0));
	waitpid(pid, NULL, 0);
	fill(q[1]);
	CHECKV(tee(p[0], q[1], 10, SPLICE_F_NONBLOCK));
	drain(q[0]);
	drain(p[0]);
	int r[2];
	pipe(r);
	close(r[1]);
	CHECKV(tee(r[0], q[1], 10, 0));
	close(r[0]);

	printf("errors\n");
	CHECKV(tee(p[0], p[1], 10, 0));
	CHECKV(tee(in, q[1], 10, 0));
	CHECKV(tee(p[0], in, 10, 0));
	CHECKV(tee(p[0], q[1], 10, 0x10));
	CHECKV(tee(p[0], q[1], 0, 0x10));
	CHECKV(tee(p[0], q[1], 0, 0));
	CHECKV(tee(999, q[1], 10, 0));
	CHECKV(tee(p[0], 999, 10, 0));
	CHECKV(tee(p[1], q[1], 10, 0));
	CHECKV(tee(p[0], q[0], 10, 0));
	write(p[1], "abc", 3);
	close(q[0]);
	CHECKV(tee(p[0], q[1], 10, 0));
	close(q[1]);
	close(p[0]);
	close(p[1]);
	close(in);
}

static void test_vmsplice(void *bad)
{
	int p[2], in;
	char a[8] = "vmsplic", b[16];
	struct iovec iov[2];

	printf("-- vmsplice\n");
	pipe(p);
	in = src_fd();
	iov[0].iov_base = a;
	iov[0].iov_len = 3;
	iov[1].iov_base = a + 3;
	iov[1].iov_len = 5;
	CHECKV(vmsplice(p[1], iov, 2, SPLICE_F_GIFT));
	SHOW("in pipe %d\n", inpipe(p[0]));
	memset(b, 0, sizeof(b));
	iov[0].iov_base = b;
	iov[0].iov_len = 2;
	iov[1].iov_base = b + 8;
	iov[1].iov_len = 8;
	CHECKV(vmsplice(p[0], iov, 2, 0));
	SHOW("b: %.2s %s, in pipe %d\n", b, b + 8, inpipe(p[0]));
	CHECKV(vmsplice(p[0], iov, 0, 0));
	CHECKV(vmsplice(p[0], iov, 2, SPLICE_F_NONBLOCK));
	iov[0].iov_base = big;
	iov[0].iov_len = 100000;
	CHECKV(vmsplice(p[1], iov, 1, 0));
	drain(p[0]);
	fill(p[1]);
	iov[0].iov_base = a;
	iov[0].iov_len = 3;
	CHECKV(vmsplice(p[1], iov, 1, SPLICE_F_NONBLOCK));
	drain(p[0]);

	printf("errors\n");
	CHECKV(vmsplice(999, iov, 1, 0));
	CHECKV(vmsplice(p[1], iov, 1, 0x10));
	CHECKV(vmsplice(in, iov, 1, 0));
	CHECKV(vmsplice(in, iov, 0, 0));
	CHECKV(vmsplice(p[1], bad, 1, 0));
	CHECKV(vmsplice(p[1], iov, 1025, 0));
	iov[0].iov_base = bad;
	iov[0].iov_len = 3;
	CHECKV(vmsplice(p[1], iov, 1, 0));
	write(p[1], "abc", 3);
	CHECKV(vmsplice(p[0], iov, 1, 0));
	SHOW("in pipe %d\n", inpipe(p[0]));
	int o = open("src", O_PATH);
	CHECKV(vmsplice(o, iov, 1, 0));
	close(o);
	close(p[0]);
	iov[0].iov_base = a;
	CHECKV(vmsplice(p[1], iov, 1, 0));
	close(p[1]);
	close(in);
}

static void test_fallocate(void)
{
	int fd, p[2], sv[2];

	printf("-- fallocate\n");
	fd = open("fa1", O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECK(fallocate(fd, 0, 0, 10000));
	SHOW("size %ld, zeros: %d, pos %ld\n", fsize(fd), zeros(fd, 0, 10000), pos(fd));
	CHECK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 5000, 20000));
	SHOW("size %ld\n", fsize(fd));
	CHECK(fallocate(fd, 0, 100, 200));
	SHOW("size %ld\n", fsize(fd));
	for (int i = 0; i < SRC_SIZE; i++)
		big[i] = pat(i);
	pwrite(fd, big, SRC_SIZE, 0);
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 5000));
	SHOW("size %ld, before %d, hole %d, after %d\n", fsize(fd), same_as_src(fd, 0, 0, 100), zeros(fd, 100, 5000),
	     same_as_src(fd, 5100, 5100, SRC_SIZE - 5100));
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 9000, 100000));
	SHOW("size %ld, zeros %d, same %d\n", fsize(fd), zeros(fd, 9000, 1000), same_as_src(fd, 8000, 8000, 1000));
	CHECK(fallocate(fd, FALLOC_FL_ZERO_RANGE, 6000, 100));
	SHOW("size %ld, zeros %d, same %d %d\n", fsize(fd), zeros(fd, 6000, 100), same_as_src(fd, 5900, 5900, 100),
	     same_as_src(fd, 6100, 6100, 100));
	CHECK(fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 8000, 100000));
	SHOW("size %ld, zeros %d\n", fsize(fd), zeros(fd, 8000, 2000));
	CHECK(fallocate(fd, FALLOC_FL_ZERO_RANGE, 8000, 4288));
	SHOW("size %ld\n", fsize(fd));
	CHECK(ftruncate(fd, 0));
	CHECK(fallocate(fd, 0, 1 << 20, 1));
	SHOW("size %ld\n", fsize(fd));

	printf("errors\n");
	CHECK(fallocate(999, 0, 0, 10));
	CHECK(fallocate(fd, 0, -1, 10));
	CHECK(fallocate(fd, 0, 0, 0));
	CHECK(fallocate(fd, 0, 0, -1));
	CHECK(fallocate(999, 0, -1, 10));
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10));
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, 10));
	CHECK(fallocate(fd, 0x100, 0, 10));
	CHECK(fallocate(fd, 0x4, 0, 10));
	CHECK(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	CHECK(fallocate(fd, 0, INT64_MAX - 10, 100));
	int ro = open("fa1", O_RDONLY);
	CHECK(fallocate(ro, 0, 0, 10));
	CHECK(fallocate(ro, 0, -1, 10));
	close(ro);
	int ap = open("fa1", O_WRONLY | O_APPEND);
	CHECK(fallocate(ap, 0, 0, 10));
	close(ap);
	pipe(p);
	CHECK(fallocate(p[1], 0, 0, 10));
	CHECK(fallocate(p[0], 0, 0, 10));
	close(p[0]);
	close(p[1]);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	CHECK(fallocate(sv[0], 0, 0, 10));
	close(sv[0]);
	close(sv[1]);
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(fallocate(dir, 0, 0, 10));
	close(dir);
	int null = open("/dev/null", O_WRONLY);
	CHECK(fallocate(null, 0, 0, 10));
	close(null);
	close(fd);

	printf("memfd\n");
	fd = memfd_create("dataio", MFD_ALLOW_SEALING);
	CHECK(fallocate(fd, 0, 0, 8192));
	SHOW("size %ld\n", fsize(fd));
	CHECK(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096));
	CHECK(fallocate(fd, FALLOC_FL_INSERT_RANGE, 0, 4096));
	CHECK(fallocate(fd, FALLOC_FL_UNSHARE_RANGE, 0, 4096));
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
	CHECK(fallocate(fd, 0, 0, 8192));
	CHECK(fallocate(fd, 0, 0, 8193));
	CHECK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 16384));
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	close(fd);
}

int main(void)
{
	const char *dir = enter_tmpdir("dataio");
	void *bad = unmapped_page();

	signal(SIGPIPE, SIG_IGN); /* EPIPE is what the checks print */
	int fd = open("src", O_CREAT | O_WRONLY | O_TRUNC, 0644);

	for (int i = 0; i < SRC_SIZE; i++)
		big[i] = pat(i);
	write(fd, big, SRC_SIZE);
	close(fd);

	test_sendfile(bad);
	test_copy_file_range(bad);
	test_splice(bad);
	test_tee();
	test_vmsplice(bad);
	test_fallocate();
	remove_tree(dir);
	printf("done\n");
	return 0;
}
