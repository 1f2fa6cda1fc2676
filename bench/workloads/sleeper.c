// sleeper: sleeps for MILLISECONDS (default 3000) in one nanosleep (resumed
// after a signal) and exits 0. The idle row measures how much CPU the
// sandbox burns while its only task sleeps.
//
// usage: sleeper [MILLISECONDS]
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
	long ms = argc > 1 ? atol(argv[1]) : 3000;
	if (ms <= 0) {
		fprintf(stderr, "sleeper: bad duration\n");
		return 2;
	}
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L}, rem;
	while (nanosleep(&ts, &rem) != 0) {
		if (errno != EINTR) {
			perror("sleeper: nanosleep");
			return 1;
		}
		ts = rem;
	}
	return 0;
}
