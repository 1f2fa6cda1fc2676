// getpid: ns per syscall(SYS_getpid). The raw syscall() wrapper is used so
// that no libc pid caching can turn the loop into a memory read.
//
// usage: getpid [ITERATIONS]
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 100000;
	if (n <= 0) {
		fprintf(stderr, "getpid: bad iteration count\n");
		return 2;
	}
	for (long i = 0; i < n / 10; i++) // warm-up, untimed
		syscall(SYS_getpid);
	long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		syscall(SYS_getpid);
	long long t1 = now_ns();
	printf("%.1f\n", (double)(t1 - t0) / (double)n);
	return 0;
}
