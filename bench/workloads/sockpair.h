// sockpair.h: a connected pair of stream sockets for the socket workloads,
// made before they fork: "unix" is socketpair(AF_UNIX, SOCK_STREAM);
// "tcp" is a connection over 127.0.0.1 (a listener on an ephemeral port,
// connect, accept, the listener closed), with TCP_NODELAY on both ends.
#ifndef MOAT_BENCH_SOCKPAIR_H
#define MOAT_BENCH_SOCKPAIR_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// stream_pair fills fds with two connected stream sockets of kind ("unix"
// or "tcp"); on failure it prints why, prefixed with who, and returns -1.
static int stream_pair(const char *who, const char *kind, int fds[2]) {
	if (strcmp(kind, "unix") == 0) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
			fprintf(stderr, "%s: socketpair: %s\n", who, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (strcmp(kind, "tcp") != 0) {
		fprintf(stderr, "%s: unknown socket kind %s (want unix or tcp)\n", who, kind);
		return -1;
	}
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	int one = 1;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(l, 1) != 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) != 0) {
		fprintf(stderr, "%s: listen on 127.0.0.1: %s\n", who, strerror(errno));
		return -1;
	}
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&sa, sizeof sa) != 0) {
		fprintf(stderr, "%s: connect to 127.0.0.1:%d: %s\n", who, ntohs(sa.sin_port), strerror(errno));
		return -1;
	}
	fds[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (fds[1] < 0) {
		fprintf(stderr, "%s: accept: %s\n", who, strerror(errno));
		return -1;
	}
	close(l);
	for (int i = 0; i < 2; i++)
		if (setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
			fprintf(stderr, "%s: TCP_NODELAY: %s\n", who, strerror(errno));
			return -1;
		}
	return 0;
}

#endif
