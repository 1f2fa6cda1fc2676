// threadjoin: ns per pthread_create + pthread_join of a thread that
// returns at once. If the first pthread_create fails, prints the errno
// name (ENOSYS where the sandbox cannot make threads) on stderr, exit 3.
//
// usage: threadjoin [ITERATIONS]
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

static void *nop(void *arg) { return arg; }

static void once(void) {
	pthread_t t;
	int err = pthread_create(&t, NULL, nop, NULL);
	if (err != 0) {
		fprintf(stderr, "threadjoin: pthread_create: %s (%s)\n",
		        err == ENOSYS ? "ENOSYS" : "error", strerror(err));
		exit(3);
	}
	if ((err = pthread_join(t, NULL)) != 0) {
		fprintf(stderr, "threadjoin: pthread_join: %s\n", strerror(err));
		exit(1);
	}
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 2000;
	if (n <= 0) {
		fprintf(stderr, "threadjoin: bad iteration count\n");
		return 2;
	}
	for (long i = 0; i < n / 10 + 1; i++)
		once();
	long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		once();
	long long t1 = now_ns();
	report(t0, t1, (double)n);
	return 0;
}
