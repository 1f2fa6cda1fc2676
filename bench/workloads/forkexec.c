// forkexec: ns per fork + execv(PROG, PROG ARGS...) in the child + waitpid
// in the parent; the program must exit 0 (the bench uses a static
// "/bin/busybox true", else its own static true).
//
// usage: forkexec ITERATIONS PROG [ARGS...]
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

static void once(char **prog) {
	pid_t pid = fork();
	if (pid < 0) {
		perror("forkexec: fork");
		exit(1);
	}
	if (pid == 0) {
		execv(prog[0], prog);
		perror("forkexec: execv");
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid) {
		perror("forkexec: waitpid");
		exit(1);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "forkexec: %s: status %#x\n", prog[0], st);
		exit(1);
	}
}

int main(int argc, char **argv) {
	long n = argc > 2 ? atol(argv[1]) : 0;
	if (n <= 0) {
		fprintf(stderr, "usage: forkexec ITERATIONS PROG [ARGS...]\n");
		return 2;
	}
	char **prog = argv + 2;
	once(prog); // warm-up, untimed
	long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		once(prog);
	long long t1 = now_ns();
	report(t0, t1, (double)n);
	return 0;
}
