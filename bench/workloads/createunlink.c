// createunlink: ns per open(O_CREAT|O_EXCL) + close + unlink of a new file
// in a fresh directory made under DIR (the bench passes a new directory
// under the host's /tmp natively, /tmp inside moat).
//
// usage: createunlink ITERATIONS DIR
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

static void once(const char *path) {
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	if (close(fd) != 0) {
		perror("close");
		exit(1);
	}
	if (unlink(path) != 0) {
		perror("unlink");
		exit(1);
	}
}

int main(int argc, char **argv) {
	if (argc != 3 || atol(argv[1]) <= 0) {
		fprintf(stderr, "usage: createunlink ITERATIONS DIR\n");
		return 2;
	}
	long n = atol(argv[1]);
	char dir[4096], path[4200];
	snprintf(dir, sizeof dir, "%s/createunlink.XXXXXX", argv[2]);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return 1;
	}
	snprintf(path, sizeof path, "%s/f", dir);
	for (long i = 0; i < n / 10; i++)
		once(path);
	long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		once(path);
	long long t1 = now_ns();
	rmdir(dir);
	report(t0, t1, (double)n);
	return 0;
}
