// sigdeliver: ns per delivery of a signal a process sends itself: the raw
// kill(2) syscall of SIGUSR1 to its own pid, the delivery of it on the way
// back to user mode (a signal frame on the stack, the handler runs and
// counts it), and the handler's return through rt_sigreturn. The raw
// syscall is used, with the pid read once, so that every iteration is
// exactly kill + rt_sigreturn (glibc's raise() also blocks and restores
// the signal mask, two more syscalls). Checks at the end that the handler
// ran once per kill.
//
// usage: sigdeliver [ITERATIONS]
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

static volatile sig_atomic_t delivered;

static void handler(int sig) {
	(void)sig;
	delivered++;
}

static void once(pid_t pid) {
	if (syscall(SYS_kill, pid, SIGUSR1) != 0) {
		perror("sigdeliver: kill");
		exit(1);
	}
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 20000;
	if (n <= 0) {
		fprintf(stderr, "sigdeliver: bad iteration count\n");
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) != 0) {
		perror("sigdeliver: sigaction");
		return 1;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_UNBLOCK, &set, NULL) != 0) {
		perror("sigdeliver: sigprocmask");
		return 1;
	}
	pid_t pid = (pid_t)syscall(SYS_getpid);
	long warm = n / 10;
	for (long i = 0; i < warm; i++)
		once(pid);
	long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		once(pid);
	long long t1 = now_ns();
	if (delivered != (sig_atomic_t)(warm + n)) {
		fprintf(stderr, "sigdeliver: handler ran %ld times for %ld kills\n",
		        (long)delivered, warm + n);
		return 1;
	}
	report(t0, t1, (double)n);
	return 0;
}
