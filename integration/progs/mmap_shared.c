/*
 * mmap_shared.c: MAP_SHARED mappings of files: stores through a mapping
 * are seen by read(2), by other mappings and by other processes, write(2)
 * is seen through mappings, SIGBUS past the end of the file, and the
 * errors for mappings the open mode does not allow.
 */
#include "check.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

static sigjmp_buf env;

static void on_bus(int sig)
{
	siglongjmp(env, sig);
}

int main(void)
{
	char path[] = "/tmp/moat-mmap-shared-XXXXXX";
	int fd = mkstemp(path);
	char buf[32] = { 0 };

	if (fd < 0) {
		printf("mkstemp: %s\n", errname(errno));
		return 1;
	}
	CHECK(ftruncate(fd, 8192));
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	SHOW("shared writable mapping: %s\n", m == MAP_FAILED ? errname(errno) : "ok");
	if (m == MAP_FAILED)
		return 1;
	strcpy(m, "hello");
	CHECKV(pread(fd, buf, 5, 0));
	SHOW("read sees the store: %s\n", buf);
	CHECKV(pwrite(fd, "WORLD", 5, 4096));
	SHOW("the mapping sees write(2): %.5s\n", m + 4096);

	char *other = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	m[1] = 'E';
	SHOW("a second mapping sees the store: %.5s\n", other);

	pid_t pid = fork();
	if (pid == 0) {
		char *c = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		strcpy(c + 100, "from the child's own mapping");
		strcpy(m + 200, "through the inherited one");
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	SHOW("the parent sees: %s / %s\n", m + 100, m + 200);
	CHECK(msync(m, 8192, MS_SYNC));
	CHECK(msync(m, 8192, MS_SYNC | MS_ASYNC));

	/* Past the end of the file: SIGBUS. */
	CHECK(ftruncate(fd, 100));
	signal(SIGBUS, on_bus);
	char *n = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int sig = sigsetjmp(env, 1);
	if (sig == 0) {
		volatile char c = n[2 * 4096];
		(void)c;
		printf("no fault past the end\n");
	} else {
		SHOW("past the end of the file: SIG%s\n", sigabbrev_np(sig));
	}
	SHOW("within the last page: %d\n", n[4000]);
	CHECK(munmap(n, 3 * 4096));
	CHECK(munmap(m, 8192));
	CHECK(munmap(other, 4096));
	close(fd);

	/* What the open mode allows. */
	fd = open(path, O_RDONLY);
	char *r = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	SHOW("writable shared mapping of a read-only fd: %s\n", r == MAP_FAILED ? errname(errno) : "ok");
	r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	SHOW("read-only shared mapping of a read-only fd: %s, %.5s\n", r == MAP_FAILED ? errname(errno) : "ok", r);
	CHECK(mprotect(r, 4096, PROT_READ | PROT_WRITE));
	close(fd);
	fd = open(path, O_WRONLY);
	r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	SHOW("shared mapping of a write-only fd: %s\n", r == MAP_FAILED ? errname(errno) : "ok");
	close(fd);
	unlink(path);
	printf("done\n");
	return 0;
}
