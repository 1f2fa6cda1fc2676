// httpget: ns per HTTP/1.1 request to a server on 127.0.0.1, made one after
// another by one client. It starts the server itself, SERVER (the bench's
// httpd: fork + exec, so that inside moat both run in the same sandbox),
// reads the port it prints, makes a tenth as many untimed requests first,
// then times REQUESTS requests, and kills the server with SIGTERM.
//   close:     a new TCP connection per request (socket, TCP_NODELAY,
//              connect, "GET / HTTP/1.1" with "Connection: close", the
//              response read to its Content-Length, then to the server's
//              close, close): what a client without keep-alive pays.
//   keepalive: one connection for all the requests (HTTP/1.1 keep-alive).
// Each response must be a 200 whose body has the Content-Length it
// announces.
//
// usage: httpget close|keepalive REQUESTS SERVER [SERVER-ARGS...]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

static pid_t server;
static struct sockaddr_in addr;
static int keepalive;

static void die(const char *fmt, const char *arg) {
	fprintf(stderr, "httpget: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	if (server > 0)
		kill(server, SIGKILL);
	exit(1);
}

static int dial(void) {
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
	    connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
		die("connect to 127.0.0.1: %s", strerror(errno));
	return fd;
}

// get makes one request on *fd (dialing first if it is -1) and reads the
// whole response; without keep-alive it then waits for the server's close
// and closes its end, leaving *fd -1.
static void get(int *fd) {
	static const char req_close[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
	static const char req_keep[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	const char *req = keepalive ? req_keep : req_close;
	size_t req_len = keepalive ? sizeof req_keep - 1 : sizeof req_close - 1;
	static char buf[65536];
	if (*fd < 0)
		*fd = dial();
	if (write(*fd, req, req_len) != (ssize_t)req_len)
		die("write: %s", strerror(errno));
	size_t have = 0;
	char *end;
	buf[0] = '\0';
	while ((end = strstr(buf, "\r\n\r\n")) == NULL) {
		if (have == sizeof buf - 1)
			die("%s", "response head too long");
		ssize_t got = read(*fd, buf + have, sizeof buf - 1 - have);
		if (got <= 0)
			die("read of the response head: %s", got < 0 ? strerror(errno) : "EOF");
		have += got;
		buf[have] = '\0';
	}
	if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0)
		die("response is not a 200: %.40s", buf);
	long body = -1;
	for (char *h = strstr(buf, "\r\n"); h != NULL && h < end; h = strstr(h + 2, "\r\n"))
		if (strncasecmp(h + 2, "content-length:", 15) == 0)
			body = atol(h + 17);
	if (body < 0)
		die("%s", "no Content-Length in the response");
	long long left = body - (long long)(have - (end + 4 - buf));
	if (left < 0)
		die("%s", "more bytes than the Content-Length");
	while (left > 0) {
		ssize_t got = read(*fd, buf, left < (long long)sizeof buf ? (size_t)left : sizeof buf);
		if (got <= 0)
			die("read of the body: %s", got < 0 ? strerror(errno) : "EOF");
		left -= got;
	}
	if (!keepalive) {
		ssize_t got = read(*fd, buf, 1);
		if (got != 0)
			die("after the body: %s", got < 0 ? strerror(errno) : "more bytes, want the server's close");
		close(*fd);
		*fd = -1;
	}
}

int main(int argc, char **argv) {
	long n = argc > 3 ? atol(argv[2]) : 0;
	if (argc < 4 || n <= 0 || (strcmp(argv[1], "close") != 0 && strcmp(argv[1], "keepalive") != 0)) {
		fprintf(stderr, "usage: httpget close|keepalive REQUESTS SERVER [SERVER-ARGS...]\n");
		return 2;
	}
	keepalive = strcmp(argv[1], "keepalive") == 0;
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		die("pipe: %s", strerror(errno));
	server = fork();
	if (server < 0)
		die("fork: %s", strerror(errno));
	if (server == 0) {
		if (dup2(p[1], 1) < 0)
			_exit(127);
		execv(argv[3], argv + 3);
		fprintf(stderr, "httpget: exec %s: %s\n", argv[3], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	char line[32];
	size_t have = 0;
	while (have < sizeof line - 1) {
		ssize_t got = read(p[0], line + have, sizeof line - 1 - have);
		if (got <= 0)
			break;
		have += got;
	}
	line[have] = '\0';
	close(p[0]);
	int port = atoi(line);
	if (port <= 0 || port > 65535 || strchr(line, '\n') == NULL)
		die("server printed %s, want its port", have ? line : "nothing");
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons(port);

	int fd = -1;
	for (long i = 0; i < n / 10; i++)
		get(&fd);
	long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		get(&fd);
	long long t1 = now_ns();
	if (fd >= 0)
		close(fd);
	int st;
	kill(server, SIGTERM);
	if (waitpid(server, &st, 0) != server || !WIFSIGNALED(st) || WTERMSIG(st) != SIGTERM) {
		fprintf(stderr, "httpget: server did not die of SIGTERM (status %#x)\n", st);
		return 1;
	}
	report(t0, t1, (double)n);
	return 0;
}
