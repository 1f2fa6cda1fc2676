/*
 * unix_sockets.c: AF_UNIX sockets beyond socketpair: socket(2), bind to
 * paths, abstract names and autobind, listen/accept/connect with their
 * errors, datagram addresses, getsockname/getpeername lengths, SCM_RIGHTS
 * (a pipe end and a regular file, MSG_CMSG_CLOEXEC, MSG_CTRUNC, limits,
 * release of descriptors in flight), SO_PEERCRED, poll on a listener, and
 * a client and server across fork.
 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

static socklen_t mkaddr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	strcpy(sa->sun_path, path);
	return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static char abstract_name[64];

/* mkabstract makes an abstract address "\0moat-it-<pid>-tag" (never printed). */
static socklen_t mkabstract(struct sockaddr_un *sa, const char *tag)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(abstract_name, sizeof(abstract_name), "moat-it-%010d-%s", (int)getpid(), tag);
	memcpy(sa->sun_path + 1, abstract_name, strlen(abstract_name));
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(abstract_name);
}

static void show_name(const char *what, int fd, int peer)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	memset(&sa, 0x55, sizeof(sa));
	int r = peer ? getpeername(fd, (struct sockaddr *)&sa, &len) : getsockname(fd, (struct sockaddr *)&sa, &len);
	if (r < 0) {
		printf("%s: -1 %s\n", what, errname(errno));
		return;
	}
	if (len <= offsetof(struct sockaddr_un, sun_path)) {
		printf("%s: len %d family %d unnamed\n", what, (int)len, sa.sun_family);
	} else if (sa.sun_path[0] == 0) {
		printf("%s: len %d family %d abstract\n", what, (int)len, sa.sun_family);
	} else {
		printf("%s: len %d family %d path %s\n", what, (int)len, sa.sun_family, sa.sun_path);
	}
}

static void test_socket(void)
{
	int fd;

	SHOW("-- socket\n");
	fd = CHECKV(socket(AF_UNIX, SOCK_STREAM, 0) >= 0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	SHOW("nonblock: %d cloexec: %d\n", !!(fcntl(fd, F_GETFL) & O_NONBLOCK), !!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
	int type = 0;
	socklen_t len = sizeof(type);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len));
	SHOW("SO_TYPE %d len %d\n", type, (int)len);
	close(fd);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	show_name("dgram getsockname", fd, 0);
	close(fd);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, PF_UNIX);
	SHOW("seqpacket with PF_UNIX protocol: %d\n", fd >= 0);
	close(fd);
	CHECK(socket(AF_UNIX, SOCK_STREAM, 2));
	CHECK(socket(AF_UNIX, 7, 0));
	CHECK(socket(AF_UNIX, 11, 0));
	CHECK(socket(AF_UNIX, SOCK_STREAM | 0x100000, 0));
	CHECK(socket(200, SOCK_STREAM, 0));
	CHECK(socket(-1, SOCK_STREAM, 0));
}

static void test_bind(void)
{
	struct sockaddr_un sa;
	socklen_t l;
	struct stat st;
	int a, b;

	SHOW("-- bind\n");
	a = socket(AF_UNIX, SOCK_STREAM, 0);
	b = socket(AF_UNIX, SOCK_STREAM, 0);
	l = mkaddr(&sa, "sock1");
	CHECK(bind(a, (struct sockaddr *)&sa, l));
	show_name("getsockname path", a, 0);
	show_name("getpeername unconnected", a, 1);
	CHECK(stat("sock1", &st));
	SHOW("S_ISSOCK: %d mode %o\n", S_ISSOCK(st.st_mode), st.st_mode & 0777);
	CHECK(open("sock1", O_RDWR));
	CHECK(bind(b, (struct sockaddr *)&sa, l));
	l = mkaddr(&sa, "sock2");
	CHECK(bind(a, (struct sockaddr *)&sa, l));
	CHECK(stat("sock2", &st));
	/* Without a NUL in the length: the path is what fits. */
	CHECK(bind(b, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + 5));
	show_name("getsockname no NUL", b, 0);
	close(b);
	b = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(b, (struct sockaddr *)&sa, 1));
	CHECK(bind(b, (struct sockaddr *)&sa, sizeof(sa) + 1));
	CHECK(bind(b, (struct sockaddr *)&sa, 200));
	CHECK(bind(b, (struct sockaddr *)&sa, -1));
	CHECK(bind(b, (struct sockaddr *)unmapped_page(), l));
	sa.sun_family = AF_INET;
	CHECK(bind(b, (struct sockaddr *)&sa, l));
	l = mkaddr(&sa, "nodir/sock");
	CHECK(bind(b, (struct sockaddr *)&sa, l));
	l = mkaddr(&sa, "sock1/x");
	CHECK(bind(b, (struct sockaddr *)&sa, l));
	/* A path as long as sun_path allows, without a NUL. */
	memset(sa.sun_path, 'p', sizeof(sa.sun_path));
	CHECK(bind(b, (struct sockaddr *)&sa, sizeof(sa)));
	show_name("getsockname 108-byte path", b, 0);
	close(b);
	char longpath[sizeof(sa.sun_path) + 1];
	memset(longpath, 'p', sizeof(sa.sun_path));
	longpath[sizeof(sa.sun_path)] = 0;
	CHECK(unlink(longpath));

	/* Abstract names. */
	b = socket(AF_UNIX, SOCK_DGRAM, 0);
	l = mkabstract(&sa, "a");
	CHECK(bind(b, (struct sockaddr *)&sa, l));
	show_name("getsockname abstract", b, 0);
	int c = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(bind(c, (struct sockaddr *)&sa, l));
	close(b);
	CHECK(bind(c, (struct sockaddr *)&sa, l));
	close(c);

	/* Autobind. */
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	sa.sun_family = AF_UNIX;
	CHECK(bind(c, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path)));
	show_name("getsockname autobind", c, 0);
	CHECK(bind(c, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path)));
	close(c);
	close(a);
	/* The file stays after close; binding again there is EADDRINUSE. */
	a = socket(AF_UNIX, SOCK_STREAM, 0);
	l = mkaddr(&sa, "sock2");
	CHECK(bind(a, (struct sockaddr *)&sa, l));
	CHECK(unlink("sock1"));
	CHECK(unlink("sock2"));
	CHECK(bind(a, (struct sockaddr *)&sa, l));
	close(a);
	unlink("sock2");
}

static void test_connect(void)
{
	struct sockaddr_un sa, pa;
	socklen_t l, pl;
	int srv, cli, acc, fd;
	char buf[64];

	SHOW("-- listen, connect, accept\n");
	srv = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(listen(srv, 5));
	l = mkaddr(&sa, "srv");
	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(cli, (struct sockaddr *)&sa, l));
	CHECK(bind(srv, (struct sockaddr *)&sa, l));
	CHECK(connect(cli, (struct sockaddr *)&sa, l));
	CHECK(accept(srv, NULL, NULL));
	fd = open("file", O_CREAT | O_RDWR, 0644);
	close(fd);
	l = mkaddr(&pa, "file");
	CHECK(connect(cli, (struct sockaddr *)&pa, l));
	l = mkaddr(&pa, "missing");
	CHECK(connect(cli, (struct sockaddr *)&pa, l));
	CHECK(connect(cli, (struct sockaddr *)&pa, 1));
	CHECK(connect(cli, (struct sockaddr *)&pa, 300));

	l = mkaddr(&sa, "srv");
	CHECK(listen(srv, 5));
	CHECK(listen(srv, -1));
	int v = 0;
	socklen_t vl = sizeof(v);
	CHECK(getsockopt(srv, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl));
	SHOW("SO_ACCEPTCONN %d\n", v);
	struct pollfd p = { .fd = srv, .events = POLLIN };
	CHECKV(poll(&p, 1, 0));
	SHOW("listener revents %#x\n", p.revents);
	CHECK(connect(cli, (struct sockaddr *)&sa, l));
	CHECKV(poll(&p, 1, 0));
	SHOW("listener revents %#x\n", p.revents);
	show_name("client getpeername", cli, 1);
	show_name("client getsockname", cli, 0);
	CHECK(connect(cli, (struct sockaddr *)&sa, l));
	CHECK(listen(cli, 1));
	pl = sizeof(pa);
	memset(&pa, 0x55, sizeof(pa));
	acc = accept4(srv, (struct sockaddr *)&pa, &pl, SOCK_CLOEXEC);
	SHOW("accept4: %s cloexec %d\n", acc >= 0 ? "ok" : errname(errno), fcntl(acc, F_GETFD));
	SHOW("accept addrlen %d family %d\n", (int)pl, pa.sun_family);
	close(cli);
	show_name("accepted getsockname", acc, 0);
	show_name("accepted getpeername", acc, 1);
	CHECKV(read(acc, buf, sizeof(buf)));
	close(acc);

	/* A named client: accept reports its address. */
	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	l = mkaddr(&pa, "cli");
	CHECK(bind(cli, (struct sockaddr *)&pa, l));
	l = mkaddr(&sa, "srv");
	CHECK(connect(cli, (struct sockaddr *)&sa, l));
	pl = 4;
	memset(&pa, 0, sizeof(pa));
	acc = accept(srv, (struct sockaddr *)&pa, &pl);
	SHOW("accept short buffer: addrlen %d sun_path[0..1] %c%c\n", (int)pl, pa.sun_path[0], pa.sun_path[1] ? pa.sun_path[1] : '.');
	show_name("accepted getpeername named", acc, 1);
	CHECKV(write(cli, "hello", 5));
	CHECKV(recvfrom(acc, buf, sizeof(buf), 0, (struct sockaddr *)&pa, (pl = sizeof(pa), &pl)));
	SHOW("stream recvfrom addrlen %d path %s\n", (int)pl, pa.sun_path);
	close(acc);
	close(cli);

	/* Nonblocking accept, a full backlog. */
	fcntl(srv, F_SETFL, O_NONBLOCK);
	CHECK(accept(srv, NULL, NULL));
	fcntl(srv, F_SETFL, 0);
	CHECK(listen(srv, 1));
	int n = 0, cs[8];
	for (int i = 0; i < 8; i++) {
		cs[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(cs[i], (struct sockaddr *)&sa, l) == 0)
			n++;
		else {
			SHOW("connect %d: %s\n", i, errname(errno));
			break;
		}
	}
	SHOW("connected with backlog 1: %d\n", n);
	for (int i = 0; i < n + 1; i++)
		close(cs[i]);
	fcntl(srv, F_SETFL, O_NONBLOCK);
	while ((fd = accept(srv, NULL, NULL)) >= 0)
		close(fd);
	fcntl(srv, F_SETFL, 0);

	/* Rename keeps the socket findable; unlink does not break it. */
	CHECK(rename("srv", "srv2"));
	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	l = mkaddr(&sa, "srv");
	CHECK(connect(cli, (struct sockaddr *)&sa, l));
	l = mkaddr(&sa, "srv2");
	CHECK(connect(cli, (struct sockaddr *)&sa, l));
	close(cli);
	CHECK(unlink("srv2"));
	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(cli, (struct sockaddr *)&sa, l));
	close(cli);
	/* Drain the queued connections and close. */
	fcntl(srv, F_SETFL, O_NONBLOCK);
	while ((fd = accept(srv, NULL, NULL)) >= 0)
		close(fd);
	show_name("listener getsockname after unlink", srv, 0);
	close(srv);

	/* A type mismatch; a bound socket that does not listen; a closed one. */
	srv = socket(AF_UNIX, SOCK_STREAM, 0);
	l = mkaddr(&sa, "nolisten");
	CHECK(bind(srv, (struct sockaddr *)&sa, l));
	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(cli, (struct sockaddr *)&sa, l));
	CHECK(listen(srv, 0));
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK(connect(fd, (struct sockaddr *)&sa, l));
	close(fd);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(connect(fd, (struct sockaddr *)&sa, l));
	CHECK(listen(fd, 1));
	CHECK(accept(fd, NULL, NULL));
	close(fd);
	close(srv);
	CHECK(connect(cli, (struct sockaddr *)&sa, l));
	close(cli);
	unlink("nolisten");
	unlink("cli");
	unlink("file");

	/* Errors of accept and listen on other files. */
	int pfd[2];
	pipe(pfd);
	CHECK(accept(pfd[0], NULL, NULL));
	CHECK(listen(pfd[0], 1));
	CHECK(accept(99, NULL, NULL));
	CHECK(accept4(pfd[0], NULL, NULL, 0x40000000));
	close(pfd[0]);
	close(pfd[1]);
	int sp[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	CHECK(listen(sp[0], 1));
	CHECK(accept(sp[0], NULL, NULL));
	show_name("socketpair getpeername", sp[0], 1);
	close(sp[0]);
	close(sp[1]);
	/* Unconnected stream sockets. */
	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(send(cli, "x", 1, MSG_NOSIGNAL));
	CHECK(recv(cli, buf, 1, MSG_DONTWAIT));
	CHECK(sendto(cli, "x", 1, MSG_NOSIGNAL, (struct sockaddr *)&sa, l));
	close(cli);
}

static void test_seqpacket(void)
{
	struct sockaddr_un sa;
	socklen_t l;
	char buf[64];

	SHOW("-- seqpacket\n");
	int srv = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	l = mkabstract(&sa, "seq");
	CHECK(bind(srv, (struct sockaddr *)&sa, l));
	CHECK(listen(srv, 4));
	int cli = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK(recv(cli, buf, 1, MSG_DONTWAIT));
	CHECK(send(cli, "x", 1, MSG_NOSIGNAL));
	CHECK(connect(cli, (struct sockaddr *)&sa, l));
	int acc = accept(srv, NULL, NULL);
	show_name("seqpacket accepted getsockname", acc, 0);
	show_name("seqpacket client getpeername", cli, 1);
	CHECKV(send(cli, "one", 3, 0));
	CHECKV(send(cli, "three", 5, 0));
	CHECKV(recv(acc, buf, sizeof(buf), 0));
	CHECKV(recv(acc, buf, 2, 0));
	CHECKV(sendto(acc, "back", 4, 0, (struct sockaddr *)&sa, l));
	socklen_t pl = sizeof(sa);
	CHECKV(recvfrom(cli, buf, sizeof(buf), 0, (struct sockaddr *)&sa, &pl));
	SHOW("seqpacket recvfrom addrlen %d abstract %d\n", (int)pl, sa.sun_path[0] == 0);
	close(acc);
	CHECKV(recv(cli, buf, sizeof(buf), 0));
	close(cli);
	close(srv);
}

static void test_dgram(void)
{
	struct sockaddr_un a1, a2, from;
	socklen_t l1, l2, fl;
	char buf[64];

	SHOW("-- datagrams\n");
	int x = socket(AF_UNIX, SOCK_DGRAM, 0);
	int y = socket(AF_UNIX, SOCK_DGRAM, 0);
	int z = socket(AF_UNIX, SOCK_DGRAM, 0);
	l1 = mkaddr(&a1, "d1");
	l2 = mkaddr(&a2, "d2");
	CHECK(bind(x, (struct sockaddr *)&a1, l1));
	CHECK(bind(y, (struct sockaddr *)&a2, l2));
	CHECKV(sendto(x, "to y", 4, 0, (struct sockaddr *)&a2, l2));
	fl = sizeof(from);
	memset(&from, 0, sizeof(from));
	CHECKV(recvfrom(y, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl));
	SHOW("recvfrom addrlen %d path %s\n", (int)fl, from.sun_path);
	/* An unnamed sender: no address. */
	CHECKV(sendto(z, "anon", 4, 0, (struct sockaddr *)&a2, l2));
	fl = sizeof(from);
	CHECKV(recvfrom(y, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl));
	SHOW("recvfrom unnamed addrlen %d\n", (int)fl);
	show_name("unnamed dgram getsockname", z, 0);
	CHECK(send(z, "x", 1, 0));
	show_name("dgram getpeername unconnected", z, 1);
	CHECK(connect(z, (struct sockaddr *)&a1, l1));
	show_name("dgram getpeername", z, 1);
	CHECKV(send(z, "default", 7, 0));
	CHECKV(recv(x, buf, sizeof(buf), 0));
	CHECKV(sendto(z, "other", 5, 0, (struct sockaddr *)&a2, l2));
	CHECKV(recv(y, buf, sizeof(buf), MSG_DONTWAIT));
	/* recvmsg's msg_name. */
	CHECKV(sendto(y, "msg", 3, 0, (struct sockaddr *)&a1, l1));
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1 };
	CHECKV(recvmsg(x, &mh, 0));
	SHOW("recvmsg namelen %d path %s flags %#x\n", (int)mh.msg_namelen, from.sun_path, mh.msg_flags);
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	CHECK(connect(z, &unspec, sizeof(unspec)));
	CHECK(send(z, "x", 1, 0));
	show_name("dgram getpeername disconnected", z, 1);
	l1 = mkaddr(&a1, "missing");
	CHECK(sendto(z, "x", 1, 0, (struct sockaddr *)&a1, l1));
	CHECK(sendto(z, "x", 1, 0, (struct sockaddr *)&a1, 1));
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	l1 = mkaddr(&a1, "st");
	bind(s, (struct sockaddr *)&a1, l1);
	CHECK(sendto(z, "x", 1, 0, (struct sockaddr *)&a1, l1));
	close(s);
	CHECK(sendto(z, "x", 1, 0, (struct sockaddr *)&a1, l1));
	close(y);
	CHECK(sendto(z, "x", 1, 0, (struct sockaddr *)&a2, l2));
	/* Autobind with SO_PASSCRED. */
	int on = 1;
	CHECK(setsockopt(z, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)));
	l1 = mkaddr(&a1, "d1");
	CHECKV(sendto(z, "auto", 4, 0, (struct sockaddr *)&a1, l1));
	show_name("autobound by sendto", z, 0);
	fl = sizeof(from);
	CHECKV(recvfrom(x, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl));
	SHOW("recvfrom autobound sender addrlen %d abstract %d\n", (int)fl, from.sun_path[0] == 0);
	close(x);
	close(z);
	unlink("d1");
	unlink("d2");
	unlink("st");
}

/* sendfds sends one byte with n descriptors. */
static long sendfds(int s, const int *fds, int n)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 256)];
	struct iovec iov = { "F", 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = CMSG_SPACE(sizeof(int) * n) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	memset(cbuf, 0, sizeof(cbuf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	return sendmsg(s, &mh, 0);
}

/* recvfds receives with room for room descriptors and reports them. */
static int recvfds(const char *what, int s, int room, int flags, int *out)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	char b[8];
	struct iovec iov = { b, sizeof(b) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = room < 0 ? 4 : room == 0 ? sizeof(struct cmsghdr) : CMSG_SPACE(sizeof(int) * room) };
	long r = recvmsg(s, &mh, flags);
	if (r < 0) {
		printf("%s: -1 %s\n", what, errname(errno));
		return 0;
	}
	int n = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			memcpy(out, CMSG_DATA(c), n * sizeof(int));
			printf("%s: %ld bytes, cmsg_len %d, %d fds", what, r, (int)c->cmsg_len, n);
		}
	}
	if (n == 0)
		printf("%s: %ld bytes, no fds", what, r);
	printf(", controllen %d, flags%s%s\n", (int)mh.msg_controllen,
	       mh.msg_flags & MSG_CTRUNC ? " MSG_CTRUNC" : "", mh.msg_flags & MSG_TRUNC ? " MSG_TRUNC" : "");
	return n;
}

static void test_rights(void)
{
	int sp[2], pfd[2], got[8];
	char buf[64];

	SHOW("-- SCM_RIGHTS\n");
	for (int type = 0; type < 2; type++) {
		SHOW("%s:\n", type == 0 ? "stream" : "dgram");
		socketpair(AF_UNIX, type == 0 ? SOCK_STREAM : SOCK_DGRAM, 0, sp);
		pipe(pfd);
		CHECKV(sendfds(sp[0], &pfd[1], 1));
		close(pfd[1]);
		int n = recvfds("recv pipe end", sp[1], 1, 0, got);
		if (n == 1) {
			SHOW("received fd is new: %d cloexec %d\n", got[0] != sp[0] && got[0] != sp[1], fcntl(got[0], F_GETFD));
			CHECKV(write(got[0], "via fd", 6));
			close(got[0]);
			CHECKV(read(pfd[0], buf, sizeof(buf)));
			CHECKV(read(pfd[0], buf, sizeof(buf)));
		}
		close(pfd[0]);

		/* A regular file: the received fd shares the offset. */
		int f = open("rights", O_CREAT | O_RDWR | O_TRUNC, 0644);
		write(f, "0123456789", 10);
		lseek(f, 3, SEEK_SET);
		CHECKV(sendfds(sp[1], &f, 1));
		n = recvfds("recv file", sp[0], 2, MSG_CMSG_CLOEXEC, got);
		if (n == 1) {
			SHOW("cloexec %d\n", fcntl(got[0], F_GETFD));
			CHECKV(lseek(got[0], 0, SEEK_CUR));
			CHECKV(read(got[0], buf, 2));
			CHECKV(lseek(f, 0, SEEK_CUR));
			close(got[0]);
		}
		/* Truncated control buffers. */
		int three[3] = { f, f, f };
		CHECKV(sendfds(sp[0], three, 3));
		n = recvfds("recv 3 with room for 1", sp[1], 1, 0, got);
		for (int i = 0; i < n; i++)
			close(got[i]);
		CHECKV(sendfds(sp[0], three, 3));
		n = recvfds("recv 3 with room for 0", sp[1], 0, 0, got);
		CHECKV(sendfds(sp[0], three, 3));
		n = recvfds("recv 3 with a tiny buffer", sp[1], -1, 0, got);
		CHECKV(sendfds(sp[0], three, 3));
		CHECKV(recv(sp[1], buf, sizeof(buf), 0));
		/* Limits and bad descriptors. */
		int many[254];
		for (int i = 0; i < 254; i++)
			many[i] = f;
		CHECKV(sendfds(sp[0], many, 254));
		CHECKV(sendfds(sp[0], many, 253));
		n = recvfds("recv 253 with room for 8", sp[1], 8, 0, got);
		for (int i = 0; i < n; i++)
			close(got[i]);
		int bad = 99;
		CHECKV(sendfds(sp[0], &bad, 1));
		close(f);

		/* Descriptors in flight are released when the receiver closes. */
		pipe(pfd);
		CHECKV(sendfds(sp[0], &pfd[1], 1));
		close(pfd[1]);
		close(sp[1]);
		close(sp[0]);
		CHECKV(read(pfd[0], buf, sizeof(buf)));
		close(pfd[0]);
	}
	/* A bad control message. */
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { "x", 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = 77;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	CHECK(sendmsg(sp[0], &mh, 0));
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = sizeof(cbuf) + 8;
	CHECK(sendmsg(sp[0], &mh, 0));
	c->cmsg_len = 4;
	CHECK(sendmsg(sp[0], &mh, 0));
	c->cmsg_level = 99;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	CHECKV(sendmsg(sp[0], &mh, 0));
	/* Stream data after the descriptors is not glued to their byte. */
	int fd0 = 0;
	CHECKV(sendfds(sp[0], &fd0, 1));
	CHECKV(write(sp[0], "tail", 4));
	int n = recvfds("recv x + fd byte", sp[1], 2, 0, got);
	for (int i = 0; i < n; i++)
		close(got[i]);
	CHECKV(recv(sp[1], buf, sizeof(buf), 0));
	/* A socket sent over itself, then closed. */
	CHECKV(sendfds(sp[0], &sp[1], 1));
	close(sp[0]);
	close(sp[1]);
	unlink("rights");
}

static void test_fork(void)
{
	struct sockaddr_un sa;
	socklen_t l;
	char buf[64];

	SHOW("-- client and server across fork\n");
	int srv = socket(AF_UNIX, SOCK_STREAM, 0);
	l = mkaddr(&sa, "server");
	CHECK(bind(srv, (struct sockaddr *)&sa, l));
	CHECK(listen(srv, 8));
	int ready[2];
	pipe(ready);
	pid_t pid = fork();
	if (pid == 0) {
		close(srv);
		for (int i = 0; i < 3; i++) {
			int c = socket(AF_UNIX, SOCK_STREAM, 0);
			if (connect(c, (struct sockaddr *)&sa, l) < 0)
				_exit(1);
			char msg[16];
			int len = snprintf(msg, sizeof(msg), "hello %d", i);
			write(c, msg, len);
			shutdown(c, SHUT_WR);
			int n = read(c, buf, len);
			if (n != len)
				_exit(2);
			/* Receive a descriptor from the server and write through it. */
			if (i == 2) {
				char cb[CMSG_SPACE(sizeof(int))];
				struct iovec iov = { buf, 1 };
				struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof(cb) };
				if (recvmsg(c, &mh, 0) != 1)
					_exit(3);
				int fd;
				memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
				write(fd, "from child", 10);
			}
			close(c);
		}
		_exit(0);
	}
	for (int i = 0; i < 3; i++) {
		int c = accept(srv, NULL, NULL);
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		CHECK(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl));
		SHOW("peercred len %d pid==child %d uid==euid %d gid==egid %d\n", (int)cl, cr.pid == pid, cr.uid == geteuid(), cr.gid == getegid());
		int n = read(c, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = 0;
		SHOW("server got \"%s\"; eof %d\n", buf, read(c, buf + 32, 8) == 0);
		for (int j = 0; j < n; j++)
			buf[j] = buf[j] >= 'a' && buf[j] <= 'z' ? buf[j] - 32 : buf[j];
		write(c, buf, n);
		if (i == 2) {
			CHECKV(sendfds(c, &ready[1], 1));
		}
		close(c);
	}
	close(ready[1]);
	int st;
	waitpid(pid, &st, 0);
	SHOW("child exit %d\n", WEXITSTATUS(st));
	CHECKV(read(ready[0], buf, sizeof(buf)));
	close(ready[0]);
	/* The listener's own credentials, from the client side. */
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&sa, l));
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	CHECK(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl));
	SHOW("client peercred pid==self %d\n", cr.pid == getpid());
	close(c);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl));
	SHOW("unconnected peercred pid %d uid %d gid %d\n", cr.pid, (int)cr.uid, (int)cr.gid);
	close(c);
	close(srv);
	unlink("server");
}

/* sendmmsg and recvmmsg on a datagram pair. */
static void test_mmsg(void)
{
	int sv[2];
	char bufs[4][16];
	struct iovec iov[4];
	struct mmsghdr msgs[4];

	printf("-- sendmmsg, recvmmsg\n");
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	const char *words[] = { "one", "three", "seven" };
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < 3; i++) {
		iov[i].iov_base = (void *)words[i];
		iov[i].iov_len = strlen(words[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	CHECKV(sendmmsg(sv[0], msgs, 3, 0));
	SHOW("msg_len: %u %u %u\n", msgs[0].msg_len, msgs[1].msg_len, msgs[2].msg_len);
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < 4; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	CHECKV(recvmmsg(sv[1], msgs, 4, MSG_DONTWAIT, NULL));
	SHOW("received: %.*s %.*s %.*s\n", (int)msgs[0].msg_len, bufs[0], (int)msgs[1].msg_len, bufs[1],
	     (int)msgs[2].msg_len, bufs[2]);
	CHECKV(recvmmsg(sv[1], msgs, 4, MSG_DONTWAIT, NULL));
	CHECKV(sendmmsg(sv[0], msgs, 0, 0));
	iov[0].iov_base = (void *)"x";
	iov[0].iov_len = 1;
	CHECKV(sendmmsg(sv[0], msgs, 1, 0));
	iov[0].iov_base = bufs[0];
	iov[0].iov_len = sizeof(bufs[0]);
	CHECKV(recvmmsg(sv[1], msgs, 4, MSG_WAITFORONE, NULL)); /* one, then no wait */
	CHECKV(sendmmsg(sv[0], (void *)8, 1, 0));
	CHECKV(recvmmsg(999, msgs, 1, 0, NULL));
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const char *dir = enter_tmpdir("unix");
	test_socket();
	test_bind();
	test_connect();
	test_seqpacket();
	test_dgram();
	test_rights();
	test_fork();
	test_mmsg();
	remove_tree(dir);
	printf("done\n");
	return 0;
}
