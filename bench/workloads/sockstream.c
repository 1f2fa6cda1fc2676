// sockstream: bandwidth of a connected stream socket between two
// processes, in ns per KiB: a forked child writes WARM+MIB MiB in CHUNK_KIB
// KiB write()s without pause, the parent reads them (read()s of the same
// size, taking what each returns) and times only the last MIB MiB, so the
// connection is in its steady state when the clock starts. WARM is an
// eighth of MIB (at least 1). "unix" is a socketpair(AF_UNIX,
// SOCK_STREAM), "tcp" a TCP connection over 127.0.0.1 with TCP_NODELAY
// (see sockpair.h); default socket buffer sizes.
//
// usage: sockstream unix|tcp MIB [CHUNK_KIB]   (CHUNK_KIB defaults to 64)
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

// drain reads exactly n bytes from fd in reads of at most chunk bytes.
static void drain(int fd, char *buf, size_t chunk, long long n) {
	while (n > 0) {
		ssize_t got = read(fd, buf, n < (long long)chunk ? (size_t)n : chunk);
		if (got <= 0) {
			fprintf(stderr, "sockstream: read: %s (%lld bytes short)\n", got < 0 ? strerror(errno) : "EOF", n);
			exit(1);
		}
		n -= got;
	}
}

int main(int argc, char **argv) {
	long mib = argc > 2 ? atol(argv[2]) : 0;
	long chunk_kib = argc > 3 ? atol(argv[3]) : 64;
	if (argc < 3 || argc > 4 || mib <= 0 || chunk_kib <= 0) {
		fprintf(stderr, "usage: sockstream unix|tcp MIB [CHUNK_KIB]\n");
		return 2;
	}
	size_t chunk = (size_t)chunk_kib << 10;
	long long timed = (long long)mib << 20;
	long long warm = timed / 8 > (1LL << 20) ? timed / 8 : (1LL << 20);
	char *buf = malloc(chunk);
	if (buf == NULL) {
		perror("sockstream: malloc");
		return 1;
	}
	memset(buf, 'x', chunk);
	int fds[2];
	if (stream_pair("sockstream", argv[1], fds) != 0)
		return 1;
	pid_t pid = fork();
	if (pid < 0) {
		perror("sockstream: fork");
		return 1;
	}
	if (pid == 0) {
		close(fds[0]);
		for (long long left = warm + timed; left > 0;) {
			size_t want = left < (long long)chunk ? (size_t)left : chunk;
			ssize_t put = write(fds[1], buf, want);
			if (put <= 0) {
				fprintf(stderr, "sockstream: write: %s\n", put < 0 ? strerror(errno) : "wrote 0");
				_exit(1);
			}
			left -= put;
		}
		close(fds[1]);
		_exit(0);
	}
	close(fds[1]);
	drain(fds[0], buf, chunk, warm);
	long long t0 = now_ns();
	drain(fds[0], buf, chunk, timed);
	long long t1 = now_ns();
	char c;
	if (read(fds[0], &c, 1) != 0) {
		fprintf(stderr, "sockstream: no EOF after %lld bytes\n", warm + timed);
		return 1;
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "sockstream: child failed (status %#x)\n", st);
		return 1;
	}
	report(t0, t1, (double)(timed >> 10));
	return 0;
}
