// futexpingpong: ns per round trip between two threads handing a turn
// back and forth through one futex word (raw FUTEX_WAIT/FUTEX_WAKE,
// private): main sets it to 1 and wakes, the thread sets it to 0 and wakes.
// If pthread_create fails, prints the errno name (ENOSYS where the sandbox
// cannot make threads) on stderr, exit 3.
//
// usage: futexpingpong [ROUNDTRIPS]
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

static int turn; // 0: main's turn, 1: the thread's
static long total;

static void futex_wait(int val) {
	if (syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0) != 0 &&
	    errno != EAGAIN && errno != EINTR) {
		perror("futexpingpong: FUTEX_WAIT");
		exit(1);
	}
}

static void futex_wake(void) {
	if (syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) < 0) {
		perror("futexpingpong: FUTEX_WAKE");
		exit(1);
	}
}

// hand waits for the turn to be mine, then gives it to the other side.
static void hand(int mine) {
	while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != mine)
		futex_wait(!mine);
	__atomic_store_n(&turn, !mine, __ATOMIC_RELEASE);
	futex_wake();
}

static void *partner(void *arg) {
	for (long i = 0; i < total; i++)
		hand(1);
	return arg;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 10000;
	if (n <= 0) {
		fprintf(stderr, "futexpingpong: bad iteration count\n");
		return 2;
	}
	long warm = n / 10;
	total = warm + n;
	pthread_t t;
	int err = pthread_create(&t, NULL, partner, NULL);
	if (err != 0) {
		fprintf(stderr, "futexpingpong: pthread_create: %s (%s)\n",
		        err == ENOSYS ? "ENOSYS" : "error", strerror(err));
		return 3;
	}
	for (long i = 0; i < warm; i++)
		hand(0);
	long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		hand(0);
	long long t1 = now_ns();
	// The thread's last hand-back; then it returns.
	while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != 0)
		futex_wait(1);
	if ((err = pthread_join(t, NULL)) != 0) {
		fprintf(stderr, "futexpingpong: pthread_join: %s\n", strerror(err));
		return 1;
	}
	report(t0, t1, (double)n);
	return 0;
}
