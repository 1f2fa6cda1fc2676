/*
 * mmap_truncate.c: after a file shrinks, its mapped pages wholly past the
 * new end are gone from every mapping, private (even pages already
 * copied on write) or shared, in this process and in another: an access
 * raises SIGBUS. The last partial page stays; a file grown again reads
 * zeros where it was cut.
 *
 * Usage: mmap_truncate [DIR]  (DIR: where to make the file; default a
 * fresh directory in /tmp)
 */
#include "check.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

static sigjmp_buf env;

static void on_sig(int sig)
{
	siglongjmp(env, sig);
}

/* touch reads (or with write, stores to) *p and says what happened. */
static const char *touch(volatile char *p, int write)
{
	static char buf[32];
	int sig = sigsetjmp(env, 1);

	if (sig != 0) {
		snprintf(buf, sizeof(buf), "SIG%s", sigabbrev_np(sig));
		return buf;
	}
	if (write) {
		*p = 'w';
		return "stored";
	}
	snprintf(buf, sizeof(buf), "read %d", *p);
	return buf;
}

static void fill(int fd, int pages)
{
	char page[4096];

	for (int i = 0; i < pages; i++) {
		memset(page, 'a' + i, sizeof(page));
		if (pwrite(fd, page, sizeof(page), i * 4096L) != sizeof(page)) {
			printf("pwrite: %s\n", errname(errno));
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	const char *tmp = NULL;

	if (argc > 1) {
		if (chdir(argv[1]) != 0) {
			printf("chdir: %s\n", errname(errno));
			return 1;
		}
	} else {
		tmp = enter_tmpdir("mmap-truncate");
	}
	signal(SIGBUS, on_sig);
	signal(SIGSEGV, on_sig);

	int fd = open("trunc.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		printf("open: %s\n", errname(errno));
		return 1;
	}
	fill(fd, 4);
	char *sh = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *pv = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	char *ro = mmap(NULL, 4 * 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	if (sh == MAP_FAILED || pv == MAP_FAILED || ro == MAP_FAILED) {
		printf("mmap: %s\n", errname(errno));
		return 1;
	}
	/* Fault everything in; copy two private pages on write. */
	for (int i = 0; i < 4; i++)
		SHOW("page %d: shared %s, private %s, read-only %s\n", i,
		     touch(sh + i * 4096, 0), touch(pv + i * 4096, 0), touch(ro + i * 4096, 0));
	SHOW("private store page 0: %s\n", touch(pv + 10, 1));
	SHOW("private store page 3: %s\n", touch(pv + 3 * 4096, 1));
	SHOW("shared store page 3: %s\n", touch(sh + 3 * 4096 + 5, 1));

	/* Another process maps the file and waits. */
	int go[2], back[2];
	CHECK(pipe(go));
	CHECK(pipe(back));
	pid_t pid = fork();
	if (pid == 0) {
		char *c = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		char x;
		printf("child before: %s\n", touch(c + 2 * 4096, 0));
		fflush(stdout);
		if (write(back[1], "r", 1) != 1 || read(go[0], &x, 1) != 1)
			_exit(1);
		printf("child after, page 2: %s\n", touch(c + 2 * 4096, 0));
		printf("child after, page 1 store: %s\n", touch(c + 4096 + 7, 1));
		printf("child after, page 0: %s\n", touch(c, 0));
		_exit(0);
	}
	char x;
	if (read(back[0], &x, 1) != 1)
		return 1;

	/* Shrink to a page and a half. */
	CHECK(ftruncate(fd, 6144));
	if (write(go[1], "g", 1) != 1)
		return 1;
	waitpid(pid, NULL, 0);
	for (int i = 0; i < 4; i++)
		SHOW("after shrink, page %d: shared %s, private %s, read-only %s\n", i,
		     touch(sh + i * 4096, 0), touch(pv + i * 4096, 0), touch(ro + i * 4096, 0));
	SHOW("after shrink, private store page 2: %s\n", touch(pv + 2 * 4096, 1));
	SHOW("private page 0 keeps its copy: %c\n", pv[10]);
	SHOW("after shrink, shared store page 3: %s\n", touch(sh + 3 * 4096, 1));
	/* The child's store within the file is there. */
	SHOW("shared page 1 byte 7: %c\n", sh[4096 + 7]);
	/* The partial last page: the rest of it reads zeros. */
	SHOW("tail of the last page: %d\n", sh[6144 + 10]);
	SHOW("tail store: %s\n", touch(sh + 8000, 1));

	/* Grow again: what was cut reads zeros. */
	CHECK(ftruncate(fd, 4 * 4096));
	SHOW("after grow, shared page 3: %s\n", touch(sh + 3 * 4096 + 5, 0));
	SHOW("after grow, shared page 1 tail: %s\n", touch(sh + 8000, 0));
	SHOW("after grow, private page 3: %s\n", touch(pv + 3 * 4096, 0));
	char buf[8];
	CHECKV(pread(fd, buf, 1, 3 * 4096 + 5));
	SHOW("read after grow: %d\n", buf[0]);

	/* Truncate by path, to zero. */
	CHECK(truncate("trunc.dat", 0));
	SHOW("after truncate(2) to 0: shared %s, private %s\n", touch(sh, 0), touch(pv, 0));

	/* open(O_TRUNC) drops pages too. */
	fill(fd, 2);
	SHOW("refilled: shared %s\n", touch(sh + 4096, 0));
	int fd2 = open("trunc.dat", O_RDWR | O_TRUNC);
	SHOW("after open O_TRUNC: shared %s, private %s\n", touch(sh + 4096, 0), touch(pv + 4096, 0));
	close(fd2);

	CHECK(munmap(sh, 4 * 4096));
	CHECK(munmap(pv, 4 * 4096));
	CHECK(munmap(ro, 4 * 4096));
	close(fd);
	unlink("trunc.dat");
	if (tmp != NULL)
		remove_tree(tmp);
	printf("done\n");
	return 0;
}
