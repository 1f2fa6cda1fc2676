/*
 * mmap_sync.c: stores through a MAP_SHARED mapping of RW (in moat, a file
 * of a writable bind) reach the file for readers that do not share the
 * mapping's pages after sync(2), and again after syncfs(2). RO names the
 * same file through another way (in moat, a read-only bind of the same
 * host directory, which reads the host file itself).
 *
 * Usage: mmap_sync RW RO
 */
#include "check.h"

#include <fcntl.h>
#include <sys/mman.h>

static void show(const char *what, const char *ro)
{
	char buf[64] = {0};
	int fd = open(ro, O_RDONLY);

	if (fd < 0) {
		SHOW("%s: open %s\n", what, errname(errno));
		return;
	}
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	SHOW("%s: read %zd: %s\n", what, n, n > 0 ? buf : "");
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: mmap_sync RW RO\n");
		return 2;
	}
	unlink(argv[1]);
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror("open");
		return 1;
	}
	CHECK(ftruncate(fd, 4096));
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	strcpy(m, "stored, then sync");
	sync();
	show("after sync", argv[2]);
	strcpy(m, "stored, then syncfs");
	CHECK(syncfs(fd));
	show("after syncfs", argv[2]);
	return 0;
}
