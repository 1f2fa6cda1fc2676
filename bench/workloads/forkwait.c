// forkwait: ns per fork + child _exit(0) + parent waitpid.
//
// usage: forkwait [ITERATIONS]
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

static void once(void) {
	pid_t pid = fork();
	if (pid < 0) {
		perror("forkwait: fork");
		exit(1);
	}
	if (pid == 0)
		_exit(0);
	int st;
	if (waitpid(pid, &st, 0) != pid) {
		perror("forkwait: waitpid");
		exit(1);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "forkwait: child status %#x\n", st);
		exit(1);
	}
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 1000;
	if (n <= 0) {
		fprintf(stderr, "forkwait: bad iteration count\n");
		return 2;
	}
	for (long i = 0; i < n / 10; i++)
		once();
	long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		once();
	long long t1 = now_ns();
	report(t0, t1, (double)n);
	return 0;
}
