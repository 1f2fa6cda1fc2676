/*
 * unix_sockets.c: AF_UNIX sockets beyond socketpair: socket(2), bind to
 * paths, abstract names and autobind, listen/accept/connect with their
 * errors, datagram addresses, getsockname/getpeername lengths, SCM_RIGHTS
 * (a pipe end and a regular file, MSG_CMSG_CLOEXEC, MSG_CTRUNC, limits,
 * release of descriptors in flight), SO_PEERCRED, poll on a listener, a
 * client and server across fork, SO_PASSCRED and SCM_CREDENTIALS (implicit,
 * explicit, forged as root and refused as another user, truncated, with
 * SCM_RIGHTS), ECONNRESET for connections a listener closed before
 * accepting them, sockets that hold each other in flight (collected, with
 * what they hold), and malformed control messages.
 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <signal.h>

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

/* show_cmsgs prints a received message's control messages in order:
 * credentials as whether pid is the expected one, with uid and gid. */
static void show_cmsgs(const char *what, struct msghdr *mh, long r, pid_t want)
{
	if (r < 0) {
		printf("%s: -1 %s\n", what, errname(errno));
		return;
	}
	printf("%s: %ld bytes, controllen %d, flags%s%s\n", what, r, (int)mh->msg_controllen,
	       mh->msg_flags & MSG_CTRUNC ? " MSG_CTRUNC" : "", mh->msg_flags & MSG_TRUNC ? " MSG_TRUNC" : "");
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			if (c->cmsg_len < CMSG_LEN(sizeof(struct ucred))) {
				printf("  SCM_CREDENTIALS cmsg_len %d\n", (int)c->cmsg_len);
				continue;
			}
			struct ucred u;
			memcpy(&u, CMSG_DATA(c), sizeof(u));
			printf("  SCM_CREDENTIALS pid==sender %d pid==0 %d uid %d gid %d\n", u.pid == want, u.pid == 0,
			       (int)u.uid, (int)u.gid);
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			printf("  SCM_RIGHTS cmsg_len %d fds %d\n", (int)c->cmsg_len, n);
			int fds[8];
			memcpy(fds, CMSG_DATA(c), (n < 8 ? n : 8) * sizeof(int));
			for (int i = 0; i < n && i < 8; i++)
				close(fds[i]);
		} else {
			printf("  level %d type %d cmsg_len %d\n", c->cmsg_level, c->cmsg_type, (int)c->cmsg_len);
		}
	}
}

/* recvshow receives with a control buffer of room bytes (-1: none). */
static void recvshow(const char *what, int s, int room, pid_t want)
{
	char cbuf[256], b[64];
	struct iovec iov = { b, sizeof(b) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = room < 0 ? NULL : cbuf,
			     .msg_controllen = room < 0 ? 0 : room };
	memset(cbuf, 0, sizeof(cbuf));
	long r = recvmsg(s, &mh, MSG_DONTWAIT);
	show_cmsgs(what, &mh, r, want);
	if (r > 0)
		printf("  data %.*s\n", (int)r, b);
}

/* sendcred sends "c" with an explicit SCM_CREDENTIALS (and fd if >= 0). */
static long sendcred(int s, pid_t pid, uid_t uid, gid_t gid, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int))];
	struct iovec iov = { "c", 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = CMSG_SPACE(sizeof(struct ucred)) + (fd >= 0 ? CMSG_SPACE(sizeof(int)) : 0) };
	memset(cbuf, 0, sizeof(cbuf));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_CREDENTIALS;
	c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
	struct ucred u = { pid, uid, gid };
	memcpy(CMSG_DATA(c), &u, sizeof(u));
	if (fd >= 0) {
		c = CMSG_NXTHDR(&mh, c);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(s, &mh, MSG_NOSIGNAL);
}

static void test_creds(void)
{
	int sp[2], on = 1;
	pid_t me = getpid();
	struct sockaddr_un sa;
	socklen_t l;

	printf("-- SO_PASSCRED, SCM_CREDENTIALS\n");
	for (int type = 0; type < 3; type++) {
		int ty = type == 0 ? SOCK_STREAM : type == 1 ? SOCK_DGRAM : SOCK_SEQPACKET;
		printf("%s:\n", type == 0 ? "stream" : type == 1 ? "dgram" : "seqpacket");
		CHECK(socketpair(AF_UNIX, ty, 0, sp));
		/* Sent before anyone asked for credentials: none attached. */
		CHECKV(send(sp[0], "a", 1, 0));
		CHECK(setsockopt(sp[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)));
		int v = 0;
		socklen_t vl = sizeof(v);
		CHECK(getsockopt(sp[1], SOL_SOCKET, SO_PASSCRED, &v, &vl));
		SHOW("SO_PASSCRED %d\n", v);
		recvshow("sent before SO_PASSCRED", sp[1], 256, me);
		CHECKV(send(sp[0], "b", 1, 0));
		recvshow("implicit", sp[1], 256, me);
		CHECKV(send(sp[0], "b", 1, 0));
		recvshow("no control buffer", sp[1], -1, me);
		CHECKV(send(sp[0], "b", 1, 0));
		recvshow("control buffer of 20", sp[1], 20, me);
		CHECKV(send(sp[0], "b", 1, 0));
		recvshow("control buffer of 8", sp[1], 8, me);
		/* Credentials and descriptors: credentials come first. */
		int fd0 = 0;
		CHECKV(sendfds(sp[0], &fd0, 1));
		recvshow("with SCM_RIGHTS", sp[1], 256, me);
		CHECKV(sendfds(sp[0], &fd0, 1));
		recvshow("with SCM_RIGHTS, room for credentials only", sp[1], CMSG_SPACE(sizeof(struct ucred)), me);
		CHECKV(sendfds(sp[0], &fd0, 1));
		recvshow("with SCM_RIGHTS, room for credentials and a header", sp[1], CMSG_SPACE(sizeof(struct ucred)) + 20, me);
		/* Explicit credentials, our own, then forged ones (we are root). */
		CHECKV(sendcred(sp[0], me, getuid(), getgid(), -1));
		recvshow("explicit", sp[1], 256, me);
		CHECKV(sendcred(sp[0], me, getuid(), getgid(), 0));
		recvshow("explicit with SCM_RIGHTS", sp[1], 256, me);
		pid_t kid = fork();
		if (kid == 0) {
			pause();
			_exit(0);
		}
		CHECKV(sendcred(sp[0], kid, 1000, 1001, -1));
		recvshow("forged as root", sp[1], 256, kid);
		CHECKV(sendcred(sp[0], 0x3ffffff0, 0, 0, -1));
		CHECKV(sendcred(sp[0], me, -1, 0, -1));
		CHECKV(sendcred(sp[0], me, 0, -1, -1));
		kill(kid, SIGKILL);
		waitpid(kid, NULL, 0);
		/* Another process writes: its credentials, never glued to ours. */
		CHECKV(send(sp[0], "xy", 2, 0));
		kid = fork();
		if (kid == 0) {
			send(sp[0], "zw", 2, 0);
			_exit(0);
		}
		waitpid(kid, NULL, 0);
		CHECKV(send(sp[0], "uv", 2, 0));
		recvshow("ours", sp[1], 256, me);
		recvshow("the child's", sp[1], 256, kid);
		recvshow("ours again", sp[1], 256, me);
		/* A process that is not root may send only its own. */
		kid = fork();
		if (kid == 0) {
			if (setgid(1000) < 0 || setuid(1000) < 0)
				_exit(1);
			pid_t self = getpid();
			CHECKV(sendcred(sp[0], self, 1000, 1000, -1));
			CHECKV(sendcred(sp[0], getppid(), 1000, 1000, -1));
			CHECKV(sendcred(sp[0], self, 0, 1000, -1));
			CHECKV(sendcred(sp[0], self, 1000, 0, -1));
			send(sp[0], "d", 1, 0);
			fflush(stdout);
			_exit(0);
		}
		waitpid(kid, NULL, 0);
		recvshow("explicit, not root", sp[1], 256, kid);
		recvshow("implicit, not root", sp[1], 256, kid);
		/* SO_PASSCRED on the sender alone attaches credentials too. */
		v = 0;
		CHECK(setsockopt(sp[1], SOL_SOCKET, SO_PASSCRED, &v, sizeof(v)));
		CHECK(setsockopt(sp[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)));
		CHECKV(send(sp[0], "e", 1, 0));
		recvshow("receiver without SO_PASSCRED", sp[1], 256, me);
		CHECK(setsockopt(sp[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)));
		CHECKV(send(sp[0], "f", 1, 0));
		recvshow("sender had SO_PASSCRED", sp[1], 256, me);
		if (ty != SOCK_DGRAM) {
			close(sp[0]);
			recvshow("end of stream", sp[1], 256, me);
		} else {
			close(sp[0]);
		}
		close(sp[1]);
	}

	/* Autobind: connect and send with SO_PASSCRED bind the socket. */
	int srv = socket(AF_UNIX, SOCK_STREAM, 0);
	l = mkaddr(&sa, "credsrv");
	CHECK(bind(srv, (struct sockaddr *)&sa, l));
	CHECK(listen(srv, 4));
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(setsockopt(c, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)));
	CHECK(connect(c, (struct sockaddr *)&sa, l));
	show_name("stream client with SO_PASSCRED after connect", c, 0);
	int a = accept(srv, NULL, NULL);
	show_name("its peer", a, 1);
	close(a);
	close(c);
	close(srv);
	unlink("credsrv");
	int d = socket(AF_UNIX, SOCK_DGRAM, 0);
	l = mkaddr(&sa, "credgram");
	CHECK(bind(d, (struct sockaddr *)&sa, l));
	c = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(setsockopt(c, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)));
	CHECKV(sendto(c, "g", 1, 0, (struct sockaddr *)&sa, l));
	show_name("dgram sender with SO_PASSCRED after sendto", c, 0);
	CHECK(setsockopt(d, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)));
	recvshow("sendto to an unconnected receiver", d, 256, me);
	close(c);
	close(d);
	unlink("credgram");
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp));
	CHECK(setsockopt(sp[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)));
	CHECKV(send(sp[0], "h", 1, 0));
	show_name("seqpacket pair end with SO_PASSCRED after send", sp[0], 0);
	close(sp[0]);
	close(sp[1]);
}

/* A listener closed with connections it has not accepted: the clients
 * get ECONNRESET once; so does the peer of a socket closed with unread
 * data. */
static void test_reset(void)
{
	struct sockaddr_un sa;
	char buf[8];

	printf("-- ECONNRESET\n");
	for (int type = 0; type < 2; type++) {
		int ty = type == 0 ? SOCK_STREAM : SOCK_SEQPACKET;
		printf("%s:\n", type == 0 ? "stream" : "seqpacket");
		int srv = socket(AF_UNIX, ty, 0);
		socklen_t l = mkaddr(&sa, "resetsrv");
		CHECK(bind(srv, (struct sockaddr *)&sa, l));
		CHECK(listen(srv, 8));
		int c[4];
		for (int i = 0; i < 4; i++) {
			c[i] = socket(AF_UNIX, ty, 0);
			CHECK(connect(c[i], (struct sockaddr *)&sa, l));
		}
		CHECKV(send(c[0], "q", 1, 0));
		close(srv);
		unlink("resetsrv");
		struct pollfd p = { c[3], POLLIN | POLLOUT | POLLRDHUP, 0 };
		CHECKV(poll(&p, 1, 0));
		SHOW("revents %#x\n", p.revents);
		CHECKV(read(c[0], buf, sizeof(buf)));
		CHECKV(read(c[0], buf, sizeof(buf)));
		CHECKV(send(c[1], "w", 1, MSG_NOSIGNAL));
		CHECKV(read(c[1], buf, sizeof(buf)));
		CHECKV(send(c[1], "w", 1, MSG_NOSIGNAL));
		int e = -1;
		socklen_t el = sizeof(e);
		CHECK(getsockopt(c[2], SOL_SOCKET, SO_ERROR, &e, &el));
		SHOW("SO_ERROR %s\n", e ? errname(e) : "0");
		CHECK(getsockopt(c[2], SOL_SOCKET, SO_ERROR, &e, &el));
		SHOW("SO_ERROR %s\n", e ? errname(e) : "0");
		CHECKV(read(c[2], buf, sizeof(buf)));
		p.revents = 0;
		CHECKV(poll(&p, 1, 0));
		SHOW("revents %#x\n", p.revents);
		for (int i = 0; i < 4; i++)
			close(c[i]);
		/* A connected socket closed with data it did not read. */
		int sp[2];
		CHECK(socketpair(AF_UNIX, ty, 0, sp));
		CHECKV(send(sp[0], "u", 1, 0));
		CHECKV(send(sp[1], "v", 1, 0));
		close(sp[1]);
		CHECKV(read(sp[0], buf, sizeof(buf)));
		CHECKV(read(sp[0], buf, sizeof(buf)));
		CHECKV(read(sp[0], buf, sizeof(buf)));
		close(sp[0]);
		CHECK(socketpair(AF_UNIX, ty, 0, sp));
		CHECKV(send(sp[1], "v", 1, 0));
		close(sp[1]);
		CHECKV(read(sp[0], buf, sizeof(buf)));
		CHECKV(read(sp[0], buf, sizeof(buf)));
		close(sp[0]);
	}
}

/* waiteof waits (at most 5 s) for the end of a pipe. */
static void waiteof(const char *what, int rfd)
{
	struct pollfd p = { rfd, POLLIN, 0 };
	char b[8];
	int r = poll(&p, 1, 5000);
	printf("%s: poll %d, read %ld\n", what, r, r == 1 ? (long)read(rfd, b, sizeof(b)) : -2L);
}

/* Sockets that hold each other in flight, and nothing else: released by
 * the garbage collector, with what their queues held. */
static void test_cycle(void)
{
	int sp[2], a[2], b[2], pfd[2];

	printf("-- in-flight cycles\n");
	/* A socket that holds itself, with a pipe's write end. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	CHECK(pipe(pfd));
	int two[2] = { sp[1], pfd[1] };
	CHECKV(sendfds(sp[0], two, 2));
	close(pfd[1]);
	close(sp[1]);
	close(sp[0]);
	waiteof("socket holding itself", pfd[0]);
	close(pfd[0]);
	/* Two datagram sockets that hold each other. */
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, a));
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, b));
	CHECK(pipe(pfd));
	int x[2] = { a[0], pfd[1] };
	CHECKV(sendfds(b[0], x, 2)); /* a[0] and the pipe in b[1]'s queue */
	CHECKV(sendfds(a[1], &b[1], 1)); /* b[1] in a[0]'s queue */
	close(pfd[1]);
	close(a[0]);
	close(b[1]);
	close(a[1]);
	close(b[0]);
	waiteof("two sockets holding each other", pfd[0]);
	close(pfd[0]);
	/* Still reachable: sockets in flight whose queue holds a socket we
	 * hold are not collected. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, a));
	CHECK(pipe(pfd));
	int y[2] = { a[0], pfd[1] };
	CHECKV(sendfds(a[0], y, 2)); /* a[0] and the pipe in a[1]'s queue */
	CHECKV(sendfds(sp[0], &a[1], 1)); /* a[1] in sp[1]'s queue */
	close(pfd[1]);
	close(a[0]);
	close(a[1]);
	int t = socket(AF_UNIX, SOCK_DGRAM, 0); /* a release, which runs Linux's collector */
	close(t);
	struct pollfd p = { pfd[0], POLLIN, 0 };
	CHECKV(poll(&p, 1, 200));
	int got[8];
	char buf[8];
	int n = recvfds("receive the held socket", sp[1], 2, MSG_DONTWAIT, got);
	if (n == 1) {
		n = recvfds("from it, its peer and the pipe", got[0], 2, MSG_DONTWAIT, got + 1);
		close(got[0]);
		if (n == 2) {
			CHECKV(write(got[2], "ok", 2));
			close(got[1]);
			close(got[2]);
		}
	}
	CHECKV(read(pfd[0], buf, sizeof(buf)));
	CHECKV(read(pfd[0], buf, sizeof(buf)));
	close(pfd[0]);
	close(sp[0]);
	close(sp[1]);
	/* A connection not yet accepted holds the listener: collected too. */
	struct sockaddr_un sa;
	int srv = socket(AF_UNIX, SOCK_STREAM, 0);
	socklen_t l = mkaddr(&sa, "cyclesrv");
	CHECK(bind(srv, (struct sockaddr *)&sa, l));
	CHECK(listen(srv, 4));
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&sa, l));
	CHECK(pipe(pfd));
	int z[2] = { srv, pfd[1] };
	CHECKV(sendfds(c, z, 2));
	close(pfd[1]);
	close(srv);
	unlink("cyclesrv");
	close(c);
	waiteof("a listener held by its pending connection", pfd[0]);
	close(pfd[0]);
}

/* sendctl sends "m" with the control buffer ctl of len bytes. */
static long sendctl(int s, void *ctl, size_t len)
{
	struct iovec iov = { "m", 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = len };
	return sendmsg(s, &mh, MSG_NOSIGNAL);
}

static void test_badcmsg(void)
{
	int sp[2];
	union {
		struct cmsghdr h;
		char b[4096];
	} u;
	struct cmsghdr *c = &u.h;
	char buf[64];

	printf("-- malformed control messages\n");
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sp));
	memset(&u, 0, sizeof(u));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = 15;
	CHECKV(sendctl(sp[0], &u, 24));
	c->cmsg_len = 16; /* no descriptors */
	CHECKV(sendctl(sp[0], &u, 16));
	c->cmsg_len = 18;
	CHECKV(sendctl(sp[0], &u, 24));
	c->cmsg_len = 25;
	CHECKV(sendctl(sp[0], &u, 24));
	CHECKV(sendctl(sp[0], &u, 10)); /* too short to hold a header: ignored */
	c->cmsg_len = 20;
	((int *)CMSG_DATA(c))[0] = -1;
	CHECKV(sendctl(sp[0], &u, 24));
	((int *)CMSG_DATA(c))[0] = 200;
	CHECKV(sendctl(sp[0], &u, 24));
	((int *)CMSG_DATA(c))[0] = 0;
	c->cmsg_len = 21; /* one descriptor and a stray byte */
	CHECKV(sendctl(sp[0], &u, 32));
	c->cmsg_level = 12345;
	c->cmsg_type = 1;
	c->cmsg_len = 20;
	CHECKV(sendctl(sp[0], &u, 24));
	c->cmsg_len = 4000; /* a bad length is EINVAL at any level */
	CHECKV(sendctl(sp[0], &u, 24));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = 77;
	c->cmsg_len = 20;
	CHECKV(sendctl(sp[0], &u, 24));
	c->cmsg_type = SCM_CREDENTIALS;
	CHECKV(sendctl(sp[0], &u, 24));
	/* Two SCM_RIGHTS messages: 200 + 100 is over SCM_MAX_FD. */
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(200 * sizeof(int));
	struct cmsghdr *c2 = (struct cmsghdr *)((char *)c + CMSG_SPACE(200 * sizeof(int)));
	c2->cmsg_level = SOL_SOCKET;
	c2->cmsg_type = SCM_RIGHTS;
	c2->cmsg_len = CMSG_LEN(100 * sizeof(int));
	memset(CMSG_DATA(c), 0, 200 * sizeof(int));
	memset(CMSG_DATA(c2), 0, 100 * sizeof(int));
	CHECKV(sendctl(sp[0], &u, CMSG_SPACE(200 * sizeof(int)) + CMSG_SPACE(100 * sizeof(int))));
	c2->cmsg_len = CMSG_LEN(53 * sizeof(int));
	CHECKV(sendctl(sp[0], &u, CMSG_SPACE(200 * sizeof(int)) + CMSG_SPACE(53 * sizeof(int))));
	/* The first error wins: a bad descriptor before a bad type. */
	c->cmsg_len = CMSG_LEN(sizeof(int));
	((int *)CMSG_DATA(c))[0] = -1;
	c2 = (struct cmsghdr *)((char *)c + CMSG_SPACE(sizeof(int)));
	c2->cmsg_type = 77;
	c2->cmsg_len = CMSG_LEN(sizeof(int));
	CHECKV(sendctl(sp[0], &u, 2 * CMSG_SPACE(sizeof(int))));
	/* Huge and bad control buffers. */
	CHECKV(sendctl(sp[0], &u, 1 << 20));
	CHECKV(sendctl(sp[0], &u, 0x80000000UL));
	CHECKV(sendctl(sp[0], &u, ~0UL));
	CHECKV(sendctl(sp[0], unmapped_page(), 24));
	CHECKV(sendctl(sp[0], NULL, 24));
	CHECKV(sendctl(sp[0], NULL, 10));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_CREDENTIALS;
	c->cmsg_len = CMSG_LEN(sizeof(struct ucred)) + 4;
	CHECKV(sendctl(sp[0], &u, 40));
	/* What got through. */
	int n = 0;
	for (;;) {
		char cb[CMSG_SPACE(sizeof(int) * 256)];
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof(cb) };
		long r = recvmsg(sp[1], &mh, MSG_DONTWAIT);
		if (r < 0)
			break;
		int fds = 0;
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h != NULL; h = CMSG_NXTHDR(&mh, h)) {
			if (h->cmsg_type == SCM_RIGHTS) {
				int k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (int i = 0; i < k; i++)
					close(((int *)CMSG_DATA(h))[i]);
				fds += k;
			}
		}
		n++;
		printf("message %d: %ld bytes, %d fds\n", n, r, fds);
	}
	close(sp[0]);
	close(sp[1]);
}

/* Socket options that AF_UNIX keeps: timeouts that make blocking calls
 * give up, and flags it accepts and reports. */
static void test_options(void)
{
	int sv[2], v;
	socklen_t l = sizeof(v);
	struct timeval tv = { .tv_usec = 100000 }, got;
	char buf[4096];

	printf("-- options\n");
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	l = sizeof(got);
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &got, &l));
	printf("SO_RCVTIMEO %ld.%06ld len %d\n", (long)got.tv_sec, (long)got.tv_usec, (int)l);
	CHECKV(read(sv[0], buf, 1));
	CHECKV(recv(sv[0], buf, 1, MSG_WAITALL));
	/* MSG_DONTWAIT wins over MSG_WAITALL: what is there, at once. */
	CHECKV(write(sv[1], "abc", 3));
	CHECKV(recv(sv[0], buf, 10, MSG_WAITALL | MSG_DONTWAIT));
	tv.tv_usec = 2000000;
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, 8));
	/* A send that fills the buffer gives up after SO_SNDTIMEO with what
	 * it queued. */
	tv = (struct timeval){ .tv_usec = 50000 };
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)));
	long total = 0, n;
	memset(buf, 'x', sizeof(buf));
	while ((n = write(sv[1], buf, sizeof(buf))) > 0)
		total += n;
	printf("filled: %d, then %s\n", total > 0, errname(errno));
	/* A listener's accept gives up too. */
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	strcpy(a.sun_path, "opts.sock");
	CHECK(bind(ls, (struct sockaddr *)&a, sizeof(a)));
	CHECK(listen(ls, 1));
	tv = (struct timeval){ .tv_usec = 50000 };
	CHECK(setsockopt(ls, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	CHECK(accept(ls, NULL, NULL));
	close(ls);
	unlink("opts.sock");
	v = 1;
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)));
	l = sizeof(v);
	v = 0;
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_KEEPALIVE, &v, &l));
	printf("SO_KEEPALIVE %d\n", v);
	struct linger lg = { 1, 5 };
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
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
	test_creds();
	test_reset();
	test_cycle();
	test_badcmsg();
	test_options();
	remove_tree(dir);
	printf("done\n");
	return 0;
}
