// pipepingpong: ns per round trip of one byte from the parent to a forked
// child over one pipe and back over another. With "epoll", each side waits
// for its pipe in epoll_wait before it reads, as an event loop does.
//
// usage: pipepingpong [ROUNDTRIPS] [epoll]
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

static int ep = -1; // this side's epoll instance, watching its read end

static void watch(int rfd) {
	struct epoll_event ev = {.events = EPOLLIN};
	ep = epoll_create1(0);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, rfd, &ev) != 0) {
		perror("pipepingpong: epoll");
		exit(1);
	}
}

static void xfer(int rfd, int wfd, const char *who) {
	char c = 'x';
	struct epoll_event ev;
	if (rfd >= 0 && ep >= 0 && epoll_wait(ep, &ev, 1, -1) != 1) {
		perror("pipepingpong: epoll_wait");
		exit(1);
	}
	if (rfd >= 0 && read(rfd, &c, 1) != 1) {
		fprintf(stderr, "pipepingpong: %s: short read\n", who);
		exit(1);
	}
	if (wfd >= 0 && write(wfd, &c, 1) != 1) {
		perror("pipepingpong: write");
		exit(1);
	}
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 10000;
	int use_epoll = argc > 2 && strcmp(argv[2], "epoll") == 0;
	if (n <= 0) {
		fprintf(stderr, "pipepingpong: bad iteration count\n");
		return 2;
	}
	long warm = n / 10, total = warm + n;
	int down[2], up[2]; // parent -> child, child -> parent
	if (pipe(down) != 0 || pipe(up) != 0) {
		perror("pipepingpong: pipe");
		return 1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("pipepingpong: fork");
		return 1;
	}
	if (pid == 0) {
		close(down[1]);
		close(up[0]);
		if (use_epoll)
			watch(down[0]);
		for (long i = 0; i < total; i++)
			xfer(down[0], up[1], "child");
		_exit(0);
	}
	close(down[0]);
	close(up[1]);
	if (use_epoll)
		watch(up[0]);
	for (long i = 0; i < warm; i++) {
		xfer(-1, down[1], "parent");
		xfer(up[0], -1, "parent");
	}
	long long t0 = now_ns();
	for (long i = 0; i < n; i++) {
		xfer(-1, down[1], "parent");
		xfer(up[0], -1, "parent");
	}
	long long t1 = now_ns();
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "pipepingpong: child failed (status %#x)\n", st);
		return 1;
	}
	report(t0, t1, (double)n);
	return 0;
}
