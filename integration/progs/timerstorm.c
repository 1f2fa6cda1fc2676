/*
 * timerstorm.c: arms timers at a 1 ns interval whose expiries nobody
 * takes, then sleeps: POSIX timers whose signal is ignored, SIGEV_NONE
 * timers, timerfds never read, and an ITIMER_REAL whose SIGALRM stays
 * blocked. Linux runs such a timer again only when its expiry is taken,
 * so they cost nothing; TestTimersNobodyTakes bounds moat's CPU time.
 *
 * usage: timerstorm [MILLISECONDS]
 */
#include "check.h"

#include <signal.h>
#include <time.h>
#include <sys/time.h>
#include <sys/timerfd.h>

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 1000;
	struct itimerspec ns1 = { { 0, 1 }, { 0, 1 } };
	int armed = 0;

	signal(SIGUSR1, SIG_IGN);
	for (int i = 0; i < 1000; i++) {
		struct sigevent sev = { .sigev_notify = i % 2 ? SIGEV_SIGNAL : SIGEV_NONE,
					.sigev_signo = SIGUSR1 };
		timer_t t;
		if (timer_create(CLOCK_MONOTONIC, &sev, &t) == 0 && timer_settime(t, 0, &ns1, NULL) == 0)
			armed++;
	}
	for (int i = 0; i < 500; i++) {
		int fd = timerfd_create(CLOCK_MONOTONIC, 0);
		if (fd >= 0 && timerfd_settime(fd, 0, &ns1, NULL) == 0)
			armed++;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	struct itimerval iv = { { 0, 1 }, { 0, 1 } };
	if (setitimer(ITIMER_REAL, &iv, NULL) == 0)
		armed++;
	printf("armed %d\n", armed);
	fflush(stdout);
	usleep(ms * 1000);
	printf("done\n");
	return 0;
}
