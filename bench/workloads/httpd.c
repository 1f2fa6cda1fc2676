// httpd: a tiny HTTP/1.1 server for the http rows, run by httpget (not a
// workload of its own). One process, no fork, no threads: a plain accept
// loop that serves one connection at a time until the client closes it,
// which is all a sequential client needs. Every GET gets the same static
// page, BODY bytes held in memory (default 1024), with Content-Length; the
// connection stays open for the next request (HTTP/1.1 keep-alive) unless
// the request says "Connection: close", in which case the server closes it
// after the response. It listens on 127.0.0.1 on an ephemeral port, writes
// the port number and a newline to stdout, closes stdout and serves until
// it is killed.
//
// usage: httpd [BODY]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static char *response; // status line, headers and body
static size_t response_len;

// has_close reports whether the request head (NUL-terminated) has a
// Connection header whose value is "close".
static int has_close(const char *head) {
	for (const char *l = strstr(head, "\r\n"); l != NULL; l = strstr(l + 2, "\r\n")) {
		const char *h = l + 2;
		if (strncasecmp(h, "connection:", 11) != 0)
			continue;
		h += 11;
		while (*h == ' ' || *h == '\t')
			h++;
		if (strncasecmp(h, "close", 5) == 0 && (h[5] == '\r' || isspace((unsigned char)h[5])))
			return 1;
	}
	return 0;
}

// serve answers the requests on one connection until the client closes
// it, it asks to, or a request is not a GET.
static void serve(int fd) {
	static char buf[8192];
	size_t have = 0;
	for (;;) {
		char *end;
		buf[have] = '\0';
		while ((end = strstr(buf, "\r\n\r\n")) == NULL) {
			if (have == sizeof buf - 1) {
				fprintf(stderr, "httpd: request head over %zu bytes\n", sizeof buf - 1);
				return;
			}
			ssize_t got = read(fd, buf + have, sizeof buf - 1 - have);
			if (got <= 0) {
				if (got < 0)
					fprintf(stderr, "httpd: read: %s\n", strerror(errno));
				return;
			}
			have += got;
			buf[have] = '\0';
		}
		size_t head_len = end + 4 - buf;
		end[2] = '\0'; // keep the last header's \r\n for has_close
		if (strncmp(buf, "GET ", 4) != 0) {
			fprintf(stderr, "httpd: not a GET: %.40s\n", buf);
			return;
		}
		int close_after = has_close(buf);
		for (size_t off = 0; off < response_len;) {
			ssize_t put = write(fd, response + off, response_len - off);
			if (put <= 0) {
				fprintf(stderr, "httpd: write: %s\n", put < 0 ? strerror(errno) : "wrote 0");
				return;
			}
			off += put;
		}
		if (close_after)
			return;
		memmove(buf, buf + head_len, have - head_len); // a pipelined next request
		have -= head_len;
	}
}

int main(int argc, char **argv) {
	long body = argc > 1 ? atol(argv[1]) : 1024;
	if (argc > 2 || body < 0 || body > (1 << 24)) {
		fprintf(stderr, "usage: httpd [BODY]\n");
		return 2;
	}
	char head[256];
	int head_len = snprintf(head, sizeof head,
	                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %ld\r\n\r\n", body);
	response_len = head_len + body;
	response = malloc(response_len);
	if (response == NULL) {
		perror("httpd: malloc");
		return 1;
	}
	memcpy(response, head, head_len);
	for (long i = 0; i < body; i++)
		response[head_len + i] = i % 64 == 63 ? '\n' : 'a' + i % 26;

	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	int one = 1;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(l, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(l, 64) != 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) != 0) {
		fprintf(stderr, "httpd: listen on 127.0.0.1: %s\n", strerror(errno));
		return 1;
	}
	printf("%d\n", ntohs(sa.sin_port));
	fflush(stdout);
	fclose(stdout);
	for (;;) {
		int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "httpd: accept: %s\n", strerror(errno));
			return 1;
		}
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
			fprintf(stderr, "httpd: TCP_NODELAY: %s\n", strerror(errno));
		serve(fd);
		close(fd);
	}
}
