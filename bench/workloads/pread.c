// pread: ns per pread(fd, buf, 4096, 0) of a file at least 4 KiB long.
// The file is opened once; only the pread calls are timed.
//
// usage: pread [ITERATIONS [PATH]]   (PATH defaults to /bin/busybox)
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

static char buf[4096];

static void once(int fd) {
	ssize_t got = pread(fd, buf, sizeof buf, 0);
	if (got != (ssize_t)sizeof buf) {
		if (got < 0)
			perror("pread");
		else
			fprintf(stderr, "pread: short read (%zd bytes): file smaller than 4 KiB?\n", got);
		exit(1);
	}
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 50000;
	const char *path = argc > 2 ? argv[2] : "/bin/busybox";
	if (n <= 0) {
		fprintf(stderr, "pread: bad iteration count\n");
		return 2;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	for (long i = 0; i < n / 10; i++)
		once(fd);
	long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		once(fd);
	long long t1 = now_ns();
	close(fd);
	report(t0, t1, (double)n);
	return 0;
}
