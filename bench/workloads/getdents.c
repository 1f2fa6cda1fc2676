// getdents: ns per full listing of a directory of ENTRIES files with
// getdents64 (32 KiB buffer) until it returns 0, then lseek to 0. The
// directory is made under DIR (the bench passes a new directory under the
// host's /tmp natively, /tmp inside moat) and filled before the clock
// starts; the entries are left behind (the bench removes the native
// directory; moat's /tmp goes away with the sandbox).
//
// usage: getdents ITERATIONS DIR [ENTRIES]   (ENTRIES defaults to 10000)
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

static char buf[32768];

static long once(int fd) {
	long entries = 0;
	for (;;) {
		long got = syscall(SYS_getdents64, fd, buf, sizeof buf);
		if (got < 0) {
			perror("getdents64");
			exit(1);
		}
		if (got == 0)
			break;
		for (long off = 0; off < got;) {
			unsigned short reclen = *(unsigned short *)(buf + off + 16); // d_reclen
			entries++;
			off += reclen;
		}
	}
	if (lseek(fd, 0, SEEK_SET) != 0) {
		perror("lseek");
		exit(1);
	}
	return entries;
}

int main(int argc, char **argv) {
	if (argc < 3 || argc > 4 || atol(argv[1]) <= 0 || (argc == 4 && atol(argv[3]) <= 0)) {
		fprintf(stderr, "usage: getdents ITERATIONS DIR [ENTRIES]\n");
		return 2;
	}
	long n = atol(argv[1]);
	long want = argc == 4 ? atol(argv[3]) : 10000;
	char dir[4096], path[4200];
	snprintf(dir, sizeof dir, "%s/getdents.XXXXXX", argv[2]);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return 1;
	}
	for (long i = 0; i < want; i++) {
		snprintf(path, sizeof path, "%s/entry-%06ld", dir, i);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 || close(fd) != 0) {
			perror(path);
			return 1;
		}
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		perror(dir);
		return 1;
	}
	long got = once(fd); // warm-up, and a check: the entries plus . and ..
	if (got != want + 2) {
		fprintf(stderr, "getdents: listed %ld entries, want %ld\n", got, want + 2);
		return 1;
	}
	long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		once(fd);
	long long t1 = now_ns();
	close(fd);
	report(t0, t1, (double)n);
	return 0;
}
