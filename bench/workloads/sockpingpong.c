// sockpingpong: ns per round trip of one byte from the parent to a forked
// child over a connected stream socket and back over the same socket:
// "unix" is a socketpair(AF_UNIX, SOCK_STREAM), "tcp" a TCP connection over
// 127.0.0.1 with TCP_NODELAY (see sockpair.h). A tenth as many untimed
// round trips come first.
//
// usage: sockpingpong unix|tcp [ROUNDTRIPS]
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sockpair.h"
#include "timing.h"

static void xfer(int fd, int first_read, const char *who) {
	char c = 'x';
	for (int k = 0; k < 2; k++) {
		ssize_t got = (k == 0) == first_read ? read(fd, &c, 1) : write(fd, &c, 1);
		if (got != 1) {
			fprintf(stderr, "sockpingpong: %s: %s: %s\n", who, (k == 0) == first_read ? "read" : "write",
			        got < 0 ? strerror(errno) : "short");
			exit(1);
		}
	}
}

int main(int argc, char **argv) {
	long n = argc > 2 ? atol(argv[2]) : 10000;
	if (argc < 2 || argc > 3 || n <= 0) {
		fprintf(stderr, "usage: sockpingpong unix|tcp [ROUNDTRIPS]\n");
		return 2;
	}
	long warm = n / 10, total = warm + n;
	int fds[2];
	if (stream_pair("sockpingpong", argv[1], fds) != 0)
		return 1;
	pid_t pid = fork();
	if (pid < 0) {
		perror("sockpingpong: fork");
		return 1;
	}
	if (pid == 0) {
		close(fds[0]);
		for (long i = 0; i < total; i++)
			xfer(fds[1], 1, "child");
		_exit(0);
	}
	close(fds[1]);
	for (long i = 0; i < warm; i++)
		xfer(fds[0], 0, "parent");
	long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		xfer(fds[0], 0, "parent");
	long long t1 = now_ns();
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "sockpingpong: child failed (status %#x)\n", st);
		return 1;
	}
	report(t0, t1, (double)n);
	return 0;
}
