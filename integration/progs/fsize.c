/*
 * fsize.c: RLIMIT_FSIZE on writes to regular files (man 2 setrlimit,
 * man 2 write): a write starting at or beyond the limit fails with EFBIG
 * and sends SIGXFSZ; one crossing it is cut short at the limit; an empty
 * one succeeds. write, pwrite, writev, O_APPEND, truncate and ftruncate
 * (growing only), fallocate, copy_file_range, sendfile and splice into a
 * file; pipes and /dev/null have no limit; SIGXFSZ's default action kills.
 * Files in a /tmp directory and in /dev/shm.
 */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define LIMIT 4096

static volatile sig_atomic_t xfsz;

static void on_xfsz(int sig)
{
	(void)sig;
	xfsz++;
}

/* Prints and resets the number of SIGXFSZ received since the last call. */
static void sigs(void)
{
	SHOW("  SIGXFSZ: %d\n", (int)xfsz);
	xfsz = 0;
}

static void size_of(int fd)
{
	struct stat st;

	fstat(fd, &st);
	SHOW("  size %lld\n", (long long)st.st_size);
}

static char buf[3 * LIMIT];

static void on_file(const char *path)
{
	int fd, src, p[2];
	loff_t oi, oo;

	printf("-- %s\n", path);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECKV(write(fd, buf, 3 * LIMIT));
	sigs();
	size_of(fd);
	CHECKV(write(fd, buf, 10));
	sigs();
	CHECKV(write(fd, buf, 0));
	sigs();
	CHECKV(lseek(fd, 0, SEEK_CUR));
	CHECKV(pwrite(fd, buf, 100, LIMIT - 10));
	CHECKV(pwrite(fd, buf, 100, LIMIT));
	CHECKV(pwrite(fd, buf, 100, 1000000));
	CHECKV(pwrite(fd, buf, 100, 100));
	sigs();

	struct iovec iov[3] = {{buf, 1000}, {buf, 1000}, {buf, 1000}};
	CHECKV(lseek(fd, LIMIT - 1500, SEEK_SET));
	CHECKV(writev(fd, iov, 3));
	CHECKV(writev(fd, iov, 3));
	sigs();

	printf("truncation\n");
	CHECK(ftruncate(fd, LIMIT + 1));
	sigs();
	CHECK(ftruncate(fd, 100));
	CHECK(ftruncate(fd, LIMIT));
	sigs();
	CHECK(truncate(path, LIMIT + 1));
	sigs();
	size_of(fd);

	printf("O_APPEND\n");
	int ap = open(path, O_WRONLY | O_APPEND);
	CHECKV(write(ap, buf, 1));
	sigs();
	CHECK(ftruncate(fd, LIMIT - 5));
	CHECKV(write(ap, buf, 100));
	sigs();
	close(ap);

	printf("fallocate\n");
	CHECK(fallocate(fd, 0, 0, LIMIT + 100));
	sigs();

	printf("copy_file_range, sendfile, splice\n");
	src = open("src", O_RDONLY);
	/* The source is written before the limit applies (see main). */
	CHECK(ftruncate(fd, 0));
	oi = 0;
	oo = LIMIT - 10;
	CHECKV(copy_file_range(src, &oi, fd, &oo, 100, 0));
	CHECKV(copy_file_range(src, &oi, fd, &oo, 100, 0));
	sigs();
	CHECKV(lseek(fd, LIMIT - 20, SEEK_SET));
	oi = 0;
	CHECKV(sendfile(fd, src, &oi, 100));
	CHECKV(sendfile(fd, src, &oi, 100));
	sigs();
	pipe(p);
	CHECKV(write(p[1], buf, 200));
	oo = LIMIT - 30;
	CHECKV(splice(p[0], NULL, fd, &oo, 200, 0));
	CHECKV(splice(p[0], NULL, fd, &oo, 200, 0));
	sigs();
	size_of(fd);
	close(p[0]);
	close(p[1]);
	close(src);
	close(fd);
	unlink(path);
}

int main(void)
{
	const char *dir = enter_tmpdir("fsize");
	struct rlimit rl;

	memset(buf, 'x', sizeof(buf));
	int src = open("src", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	write(src, buf, sizeof(buf));
	close(src);

	signal(SIGXFSZ, on_xfsz);
	getrlimit(RLIMIT_FSIZE, &rl);
	rl.rlim_cur = LIMIT;
	CHECK(setrlimit(RLIMIT_FSIZE, &rl));

	on_file("f");
	on_file("/dev/shm/moat-fsize-test");

	printf("-- not regular files\n");
	int p[2];
	pipe(p);
	CHECKV(write(p[1], buf, 2 * LIMIT));
	close(p[0]);
	close(p[1]);
	int null = open("/dev/null", O_WRONLY);
	CHECKV(write(null, buf, 3 * LIMIT));
	CHECKV(pwrite(null, buf, 10, 2 * LIMIT));
	close(null);
	sigs();

	printf("-- default action\n");
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGXFSZ, SIG_DFL);
		int fd = open("g", O_CREAT | O_WRONLY | O_TRUNC, 0644);
		write(fd, buf, LIMIT);
		write(fd, buf, 1);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	SHOW("  signaled %d sig %s\n", WIFSIGNALED(status),
	     WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : "-");

	remove_tree(dir);
	printf("done\n");
	return 0;
}
