/*
 * memfd.c: memfd_create files (unnamed, in memory), their /proc name,
 * shared mappings of them across fork, and seals.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

int main(void)
{
	char link[64], target[256];

	int fd = memfd_create("moat-test", MFD_CLOEXEC);
	SHOW("memfd_create: %d\n", fd >= 0);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = 0;
	SHOW("fd link: %s\n", target);
	struct stat st;
	CHECK(fstat(fd, &st));
	SHOW("regular: %d, mode %o, nlink %lu, size %ld\n", S_ISREG(st.st_mode), st.st_mode & 07777,
	     (unsigned long)st.st_nlink, (long)st.st_size);
	SHOW("FD_CLOEXEC: %d\n", fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECKV(write(fd, "hello memfd", 11));
	CHECK(ftruncate(fd, 8192));
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	SHOW("shared mapping: %s, sees %.11s\n", m == MAP_FAILED ? errname(errno) : "ok", m);
	pid_t pid = fork();
	if (pid == 0) {
		strcpy(m + 4096, "from the child");
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	char buf[32] = { 0 };
	CHECKV(pread(fd, buf, 14, 4096));
	SHOW("read after the child's store: %s\n", buf);
	CHECKV(fcntl(fd, F_GET_SEALS));
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	close(fd);

	printf("-- seals\n");
	fd = memfd_create("sealed", MFD_ALLOW_SEALING);
	CHECKV(write(fd, "0123456789", 10));
	CHECKV(fcntl(fd, F_GET_SEALS));
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW));
	CHECKV(fcntl(fd, F_GET_SEALS));
	CHECK(ftruncate(fd, 5));
	CHECK(ftruncate(fd, 20));
	CHECK(ftruncate(fd, 10));
	CHECKV(pwrite(fd, "ab", 2, 9));
	CHECKV(pwrite(fd, "ab", 2, 0));
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	CHECKV(pwrite(fd, "ab", 2, 0));
	char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	SHOW("writable shared mapping after F_SEAL_WRITE: %s\n", w == MAP_FAILED ? errname(errno) : "ok");
	char *r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	SHOW("read-only shared mapping: %s, %.10s\n", r == MAP_FAILED ? errname(errno) : "ok", r);
	CHECK(mprotect(r, 4096, PROT_READ | PROT_WRITE));
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	SHOW("private writable mapping: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	CHECKV(fcntl(fd, F_GET_SEALS));
	int ro = open(link, O_RDONLY); /* another fd's path: not this memfd */
	close(ro);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ro = open(link, O_RDONLY);
	SHOW("reopen through /proc: %d\n", ro >= 0);
	CHECK(fcntl(ro, F_ADD_SEALS, F_SEAL_GROW));
	close(ro);
	close(fd);

	printf("-- errors\n");
	char longname[300];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CHECK(memfd_create(longname, 0));
	CHECK(memfd_create("x", 0x1000));
	CHECK(memfd_create(NULL, 0));
	int regular = open("/proc/self/exe", O_RDONLY);
	CHECK(fcntl(regular, F_GET_SEALS));
	CHECK(fcntl(regular, F_ADD_SEALS, F_SEAL_SEAL));
	int devnull = open("/dev/null", O_WRONLY);
	CHECK(fcntl(devnull, F_ADD_SEALS, F_SEAL_SEAL));
	printf("done\n");
	return 0;
}
