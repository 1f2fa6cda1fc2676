// stat: ns per stat(2) of one existing file.
//
// usage: stat [ITERATIONS [PATH]]   (PATH defaults to /etc/passwd)
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "timing.h"

static void once(const char *path) {
	struct stat st;
	if (stat(path, &st) != 0) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 20000;
	const char *path = argc > 2 ? argv[2] : "/etc/passwd";
	if (n <= 0) {
		fprintf(stderr, "stat: bad iteration count\n");
		return 2;
	}
	for (long i = 0; i < n / 10; i++)
		once(path);
	long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		once(path);
	long long t1 = now_ns();
	report(t0, t1, (double)n);
	return 0;
}
