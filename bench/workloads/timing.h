// timing.h: what every timed workload shares. A workload times its own
// loop with the monotonic clock and prints one number, nanoseconds per
// iteration, which is all the bench command reads from it.
#ifndef MOAT_BENCH_TIMING_H
#define MOAT_BENCH_TIMING_H

#include <stdio.h>
#include <time.h>

static long long now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// report prints the nanoseconds per iteration of n iterations that ran
// from t0 to t1.
static void report(long long t0, long long t1, double n) {
	printf("%.1f\n", (double)(t1 - t0) / n);
}

#endif
