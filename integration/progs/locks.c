/*
 * locks.c: fcntl record locks (POSIX and open-file-description ones) and
 * flock between processes: conflicts, F_GETLK reports, blocking waits,
 * splitting, release on close of any fd and at exit, EDEADLK, and errors.
 */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>

static int lk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
	return fcntl(fd, cmd, &fl);
}

/* getlk prints what F_GETLK (or F_OFD_GETLK) says about [start, start+len). */
static void getlk(const char *what, int fd, int cmd, short type, off_t start, off_t len, pid_t holder)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
	if (fcntl(fd, cmd, &fl) < 0) {
		printf("%s: -1 %s\n", what, errname(errno));
		return;
	}
	if (fl.l_type == F_UNLCK) {
		printf("%s: unlocked\n", what);
		return;
	}
	printf("%s: %s start %ld len %ld pid %s\n", what, fl.l_type == F_WRLCK ? "F_WRLCK" : "F_RDLCK",
	       (long)fl.l_start, (long)fl.l_len,
	       fl.l_pid == holder ? "holder" : fl.l_pid == -1 ? "-1" : "other");
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reap(pid_t pid, const char *what)
{
	int st;
	waitpid(pid, &st, 0);
	printf("%s: exited %d\n", what, WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
}

int main(void)
{
	char path[] = "/tmp/moat-locks-XXXXXX";
	int fd = mkstemp(path), p[2];
	pid_t pid, parent = getpid();

	alarm(20);
	setvbuf(stdout, NULL, _IONBF, 0);
	CHECK(ftruncate(fd, 4096));

	printf("-- conflicts between processes\n");
	CHECK(lk(fd, F_SETLK, F_WRLCK, 0, 100));
	pid = fork();
	if (pid == 0) {
		CHECK(lk(fd, F_SETLK, F_RDLCK, 50, 10));
		CHECK(lk(fd, F_SETLK, F_RDLCK, 100, 10));
		getlk("child F_GETLK [50,60)", fd, F_GETLK, F_RDLCK, 50, 10, parent);
		getlk("child F_GETLK [200,EOF)", fd, F_GETLK, F_WRLCK, 200, 0, parent);
		_exit(0);
	}
	reap(pid, "child");
	getlk("own lock is no conflict", fd, F_GETLK, F_WRLCK, 0, 10, parent);

	printf("-- unlocking part of a lock splits it\n");
	CHECK(lk(fd, F_SETLK, F_UNLCK, 40, 20));
	pid = fork();
	if (pid == 0) {
		getlk("child F_GETLK [40,60)", fd, F_GETLK, F_WRLCK, 40, 20, parent);
		getlk("child F_GETLK [30,70)", fd, F_GETLK, F_WRLCK, 30, 40, parent);
		getlk("child F_GETLK [55,EOF)", fd, F_GETLK, F_WRLCK, 55, 0, parent);
		_exit(0);
	}
	reap(pid, "child");

	printf("-- F_SETLKW waits for the unlock\n");
	pipe(p);
	pid = fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		read(p[0], &c, 1);
		long t0 = now_ms();
		CHECK(lk(fd, F_SETLKW, F_WRLCK, 0, 10));
		SHOW("waited for the parent: %d\n", now_ms() - t0 >= 50);
		_exit(0);
	}
	close(p[0]);
	write(p[1], "x", 1);
	msleep(100);
	int unlocked = lk(fd, F_SETLK, F_UNLCK, 0, 0); /* printed after: the child races to print */
	reap(pid, "waiting child");
	SHOW("the parent's unlock: %d\n", unlocked);
	close(p[1]);

	printf("-- closing any fd of the file drops the process's locks\n");
	CHECK(lk(fd, F_SETLK, F_WRLCK, 0, 0));
	int fd2 = open(path, O_RDONLY);
	close(fd2);
	pid = fork();
	if (pid == 0) {
		CHECK(lk(fd, F_SETLK, F_WRLCK, 0, 0));
		_exit(0);
	}
	reap(pid, "child locking after the close");

	printf("-- a process's locks go at its exit\n");
	pid = fork();
	if (pid == 0) {
		CHECK(lk(fd, F_SETLK, F_WRLCK, 0, 0));
		_exit(0);
	}
	reap(pid, "child that locked and exited");
	CHECK(lk(fd, F_SETLK, F_WRLCK, 0, 0));
	CHECK(lk(fd, F_SETLK, F_UNLCK, 0, 0));

	printf("-- EDEADLK\n");
	int sync1[2], sync2[2];
	pipe(sync1);
	pipe(sync2);
	CHECK(lk(fd, F_SETLK, F_WRLCK, 0, 1));
	pid = fork();
	if (pid == 0) {
		char c;
		CHECK(lk(fd, F_SETLK, F_WRLCK, 1, 1));
		write(sync1[1], "x", 1);
		read(sync2[0], &c, 1); /* the parent is about to wait for byte 1 */
		msleep(100);
		CHECK(lk(fd, F_SETLKW, F_WRLCK, 0, 1));
		CHECK(lk(fd, F_SETLK, F_UNLCK, 1, 1));
		_exit(0);
	}
	char c;
	read(sync1[0], &c, 1);
	write(sync2[1], "x", 1);
	int waited = lk(fd, F_SETLKW, F_WRLCK, 1, 1);
	reap(pid, "deadlock child");
	SHOW("the parent's wait for byte 1: %d\n", waited);
	CHECK(lk(fd, F_SETLK, F_UNLCK, 0, 0));

	printf("-- OFD locks\n");
	int a = open(path, O_RDWR), b = open(path, O_RDWR);
	CHECK(lk(a, F_OFD_SETLK, F_WRLCK, 0, 10));
	CHECK(lk(b, F_OFD_SETLK, F_RDLCK, 5, 1));
	getlk("F_OFD_GETLK through another description", b, F_OFD_GETLK, F_RDLCK, 0, 0, parent);
	CHECK(lk(a, F_SETLK, F_WRLCK, 20, 1)); /* POSIX lock of the same process */
	getlk("POSIX F_GETLK sees the OFD lock", b, F_GETLK, F_WRLCK, 0, 0, parent);
	close(a);
	CHECK(lk(b, F_OFD_SETLK, F_RDLCK, 5, 1));
	close(b);

	printf("-- flock\n");
	a = open(path, O_RDONLY);
	b = open(path, O_RDONLY);
	CHECK(flock(a, LOCK_EX));
	CHECK(flock(b, LOCK_EX | LOCK_NB));
	CHECK(flock(b, LOCK_SH | LOCK_NB));
	pid = fork();
	if (pid == 0) {
		CHECK(flock(a, LOCK_EX | LOCK_NB)); /* the same description: its lock */
		_exit(0);
	}
	reap(pid, "child with the inherited description");
	CHECK(flock(a, LOCK_SH));
	CHECK(flock(b, LOCK_SH | LOCK_NB));
	CHECK(flock(b, LOCK_EX | LOCK_NB));
	CHECK(flock(a, LOCK_UN));
	CHECK(flock(b, LOCK_EX | LOCK_NB));
	close(b);
	CHECK(flock(a, LOCK_EX | LOCK_NB));
	close(a);

	printf("-- errors\n");
	int ro = open(path, O_RDONLY);
	CHECK(lk(ro, F_SETLK, F_WRLCK, 0, 1));
	CHECK(lk(fd, F_SETLK, 42, 0, 1));
	CHECK(lk(fd, F_SETLK, F_WRLCK, -5, 1));
	struct flock fl = { .l_type = F_RDLCK, .l_pid = 7 };
	CHECK(fcntl(fd, F_OFD_SETLK, &fl));
	CHECK(fcntl(fd, F_SETLK, (void *)8));
	CHECK(flock(fd, 99)); /* LOCK_MAND (32): ignored, 0 */
	CHECK(flock(fd, 3));
	CHECK(flock(999, LOCK_EX));
	close(ro);
	close(fd);
	unlink(path);
	printf("done\n");
	return 0;
}
