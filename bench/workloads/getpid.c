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

#include "timing.h"

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
	report(t0, t1, (double)n);
	return 0;
}
