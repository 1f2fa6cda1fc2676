// pwrite: ns per pwrite(fd, buf, 4096, 0) to a file in a fresh directory
// made under DIR (the bench passes a new directory under the host's /tmp
// natively, /tmp inside moat). The file is created and opened once; only
// the pwrite calls are timed.
//
// usage: pwrite ITERATIONS DIR
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

static char buf[4096];

static void once(int fd) {
	ssize_t got = pwrite(fd, buf, sizeof buf, 0);
	if (got != (ssize_t)sizeof buf) {
		if (got < 0)
			perror("pwrite");
		else
			fprintf(stderr, "pwrite: short write (%zd bytes)\n", got);
		exit(1);
	}
}

int main(int argc, char **argv) {
	if (argc != 3 || atol(argv[1]) <= 0) {
		fprintf(stderr, "usage: pwrite ITERATIONS DIR\n");
		return 2;
	}
	long n = atol(argv[1]);
	char dir[4096], path[4200];
	snprintf(dir, sizeof dir, "%s/pwrite.XXXXXX", argv[2]);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return 1;
	}
	snprintf(path, sizeof path, "%s/f", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	memset(buf, 'x', sizeof buf);
	for (long i = 0; i < n / 10; i++)
		once(fd);
	long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		once(fd);
	long long t1 = now_ns();
	close(fd);
	unlink(path);
	rmdir(dir);
	report(t0, t1, (double)n);
	return 0;
}
