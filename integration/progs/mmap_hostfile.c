/*
 * mmap_hostfile.c: MAP_SHARED mappings of a file in DIR (in moat, a
 * writable bind of a host directory): stores through one mapping are seen
 * by other mappings of other opens, by another process's own mapping, and
 * by read(2); write(2) is seen by every mapping; msync, fsync; a read-only
 * shared mapping follows writes; offsets past the end and hostile
 * lengths; a punched hole reads zeros through the mapping. It leaves
 * DIR/final-unmap and DIR/final-exit, written only through mappings (the
 * first unmapped, the second still mapped at exit), for the caller to
 * check on the host.
 *
 * Usage: mmap_hostfile DIR
 */
#include "check.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

static sigjmp_buf env;

static void on_sig(int sig)
{
	siglongjmp(env, sig);
}

static const char *touch(volatile char *p)
{
	static char buf[32];
	int sig = sigsetjmp(env, 1);

	if (sig != 0) {
		snprintf(buf, sizeof(buf), "SIG%s", sigabbrev_np(sig));
		return buf;
	}
	snprintf(buf, sizeof(buf), "read %d", *p);
	return buf;
}

static char *map(size_t len, int prot, int fd, off_t off)
{
	char *p = mmap(NULL, len, prot, MAP_SHARED, fd, off);

	if (p == MAP_FAILED) {
		printf("mmap: %s\n", errname(errno));
		exit(1);
	}
	return p;
}

/* mapped_file writes s into a new file through a shared mapping only. */
static char *mapped_file(const char *name, const char *s)
{
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || ftruncate(fd, strlen(s)) != 0) {
		printf("%s: %s\n", name, errname(errno));
		exit(1);
	}
	char *p = map(4096, PROT_READ | PROT_WRITE, fd, 0);
	memcpy(p, s, strlen(s));
	close(fd);
	return p;
}

int main(int argc, char **argv)
{
	char buf[64] = { 0 };

	if (argc != 2 || chdir(argv[1]) != 0) {
		printf("usage: mmap_hostfile DIR\n");
		return 2;
	}
	signal(SIGBUS, on_sig);
	signal(SIGSEGV, on_sig);
	/* What a previous run left. */
	unlink("final-unmap");
	unlink("final-exit");

	int fd = open("shared.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		printf("open: %s\n", errname(errno));
		return 1;
	}
	CHECK(ftruncate(fd, 3 * 4096 + 100));
	int fd2 = open("shared.dat", O_RDWR);
	char *m1 = map(4 * 4096, PROT_READ | PROT_WRITE, fd, 0);
	char *m2 = map(4 * 4096, PROT_READ | PROT_WRITE, fd2, 0);

	strcpy(m1 + 10, "through m1");
	SHOW("m2 sees m1: %s\n", m2 + 10);
	CHECKV(pread(fd2, buf, 10, 10));
	SHOW("read sees m1: %s\n", buf);
	CHECKV(pwrite(fd2, "by write", 8, 5000));
	SHOW("m1 sees write: %.8s\n", m1 + 5000);
	strcpy(m2 + 3 * 4096 + 50, "last page");
	CHECKV(pread(fd, buf, 20, 3 * 4096 + 50));
	SHOW("read of the last page: %.9s\n", buf);

	/* A read-only shared mapping of a read-only open. */
	int rfd = open("shared.dat", O_RDONLY);
	char *r = map(4096, PROT_READ, rfd, 0);
	CHECKV(pwrite(fd, "later", 5, 100));
	SHOW("read-only mapping sees write: %.5s\n", r + 100);
	m2[105] = '!';
	SHOW("read-only mapping sees store: %.6s\n", r + 100);

	/* Another process: its own open and mapping, and the inherited one. */
	int up[2], down[2];
	CHECK(pipe(up));
	CHECK(pipe(down));
	pid_t pid = fork();
	if (pid == 0) {
		int cfd = open("shared.dat", O_RDWR);
		char *c = map(4 * 4096, PROT_READ | PROT_WRITE, cfd, 0);
		char x;
		printf("child sees: %s / %.8s\n", c + 10, c + 5000);
		fflush(stdout);
		strcpy(c + 2 * 4096, "from the child's mapping");
		strcpy(m1 + 2 * 4096 + 100, "through the inherited one");
		if (write(up[1], "1", 1) != 1 || read(down[0], &x, 1) != 1)
			_exit(1);
		_exit(0);
	}
	char x;
	if (read(up[0], &x, 1) != 1)
		return 1;
	SHOW("parent sees: %s / %s\n", m2 + 2 * 4096, m2 + 2 * 4096 + 100);
	CHECKV(pread(fd2, buf, 24, 2 * 4096));
	SHOW("read sees the child: %.24s\n", buf);
	if (write(down[1], "2", 1) != 1)
		return 1;
	waitpid(pid, NULL, 0);

	CHECK(msync(m1, 4 * 4096, MS_SYNC));
	CHECK(msync(m1, 4 * 4096, MS_ASYNC));
	CHECK(msync(m1 + 1, 4096, MS_SYNC));
	CHECK(fsync(fd2));
	CHECK(fdatasync(fd));

	/* Past the end of the file, and hostile offsets and lengths. */
	SHOW("tail of the last page: %s\n", touch(m1 + 3 * 4096 + 4096 - 1));
	char *far = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)1 << 40);
	SHOW("mapping far past the end: %s\n", far == MAP_FAILED ? errname(errno) : "ok");
	if (far != MAP_FAILED) {
		SHOW("access far past the end: %s\n", touch(far));
		munmap(far, 4096);
	}
	char *neg = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, (off_t)-4096);
	SHOW("negative offset: %s\n", neg == MAP_FAILED ? errname(errno) : "ok");
	char *huge = mmap(NULL, (size_t)1 << 62, PROT_READ, MAP_SHARED, fd, 0);
	SHOW("huge length: %s\n", huge == MAP_FAILED ? errname(errno) : "ok");
	char *wrap = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, (off_t)(INT64_MAX & ~4095L));
	SHOW("offset that wraps: %s\n", wrap == MAP_FAILED ? errname(errno) : "ok");

	/* Growing the file makes the page reachable. */
	CHECK(ftruncate(fd, 4 * 4096));
	SHOW("after growing, the same: %s\n", touch(m1 + 3 * 4096 + 4096 - 1));

	/* A hole punched in a dirty page reads zeros everywhere. */
	memset(m1 + 4096, 'x', 4096);
	int pr = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 4096);
	SHOW("punch hole: %s\n", pr == 0 ? "ok" : errname(errno));
	if (pr == 0) {
		SHOW("mapping in the hole: %d %d\n", m1[4096], m2[8191]);
		CHECKV(pread(fd, buf, 1, 4096 + 7));
		SHOW("read in the hole: %d\n", buf[0]);
	}

	CHECK(munmap(m1, 4 * 4096));
	CHECK(munmap(m2, 4 * 4096));
	CHECK(munmap(r, 4096));
	close(fd);
	close(fd2);
	close(rfd);
	unlink("shared.dat");

	char *u = mapped_file("final-unmap", "written through a mapping, then unmapped\n");
	CHECK(munmap(u, 4096));
	mapped_file("final-exit", "written through a mapping still mapped at exit\n");
	printf("done\n");
	return 0;
}
