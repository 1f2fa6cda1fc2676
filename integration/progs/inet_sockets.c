/*
 * inet_sockets: AF_INET and AF_INET6 sockets on loopback, TCP and UDP,
 * and their errors: socket/bind/listen/accept/connect errnos, data both
 * ways, shutdown and end of file, a refused connect, non-blocking connect
 * and accept, reset on close with unread data, SO_LINGER, MSG_PEEK,
 * MSG_WAITALL, MSG_TRUNC, MSG_DONTWAIT, SO_RCVTIMEO, FIONREAD, socket
 * options, v4-mapped addresses on a dual-stack socket, malformed
 * addresses and bad pointers; the loopback interface as getifaddrs,
 * if_nameindex and a netlink route socket report it.
 *
 * Ports are picked by the stack (bind to port 0) and never printed.
 */
#include "check.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

static struct sockaddr_in lo4(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &l) != 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* A listening TCP socket on 127.0.0.1 at a free port. */
static int listener(int *port)
{
	struct sockaddr_in a = lo4(0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 8) != 0) {
		perror("listener");
		exit(99);
	}
	*port = port_of(fd);
	return fd;
}

/* A connected pair: *c the client, returned the accepted end. */
static int tcp_pair(int *c)
{
	int port, l = listener(&port), s;
	struct sockaddr_in a = lo4(port);

	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(*c, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("connect");
		exit(99);
	}
	s = accept(l, NULL, NULL);
	if (s < 0) {
		perror("accept");
		exit(99);
	}
	close(l);
	return s;
}

static void creation(void)
{
	SHOW("-- socket\n");
	CHECK(close(CHECKV(socket(AF_INET, SOCK_STREAM, 0)) < 0 ? -1 : 3));
	CHECKV(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
	CHECKV(socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP));
	CHECKV(socket(AF_INET, SOCK_SEQPACKET, 0));
	CHECKV(socket(AF_INET6, SOCK_STREAM, 99));
	CHECKV(socket(AF_INET, 77, 0));
	int sv[2];
	CHECK(socketpair(AF_INET, SOCK_STREAM, 0, sv));
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	SHOW("nonblock %d cloexec %d\n", !!(fcntl(fd, F_GETFL) & O_NONBLOCK), !!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
	int v;
	socklen_t l = sizeof(v);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l));
	SHOW("SO_TYPE %d len %d\n", v, (int)l);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &l));
	SHOW("SO_PROTOCOL %d\n", v);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l));
	SHOW("SO_DOMAIN %d\n", v);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &l));
	SHOW("SO_ACCEPTCONN %d\n", v);
	CHECK(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &l));
	SHOW("TCP_NODELAY %d\n", v);
	v = 1;
	CHECK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)));
	CHECK(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &l));
	SHOW("TCP_NODELAY %d\n", v);
	CHECK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, 2));
	v = 0;
	CHECK(setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v)));
	v = 40000;
	CHECK(setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v)));
	v = 30;
	CHECK(setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v)));
	CHECK(getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &l));
	SHOW("TCP_KEEPIDLE %d\n", v);
	CHECK(getsockopt(fd, SOL_SOCKET, 9999, &v, &l));
	CHECK(getsockopt(fd, IPPROTO_IP, IP_TTL, &v, &l));
	SHOW("IP_TTL %d\n", v);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, &l));
	SHOW("SO_REUSEADDR %d\n", v);
	struct timeval tv = { .tv_sec = 1, .tv_usec = 2000000 };
	CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	l = 2;
	v = 0;
	CHECK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l));
	SHOW("short SO_TYPE %d len %d\n", v, (int)l);
	l = -1;
	CHECK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l));
	l = 4;
	CHECK(getsockopt(fd, SOL_SOCKET, SO_TYPE, unmapped_page(), &l));
	close(fd);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &l));
	CHECK(listen(fd, 1));
	CHECK(accept(fd, NULL, NULL));
	close(fd);
}

static void binding(void)
{
	struct sockaddr_in a = lo4(0);
	int port, fd, fd2;

	SHOW("-- bind\n");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a) - 1));
	a.sin_family = AF_INET6;
	CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = inet_addr("192.0.2.1"); /* TEST-NET-1: not ours */
	CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	CHECK(bind(fd, (struct sockaddr *)1, sizeof(a)));
	CHECK(bind(fd, (struct sockaddr *)&a, 1000));
	a = lo4(0);
	CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	SHOW("bound to a port: %d\n", port_of(fd) > 0);
	CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	port = port_of(fd);
	fd2 = socket(AF_INET, SOCK_STREAM, 0);
	a = lo4(port);
	CHECK(bind(fd2, (struct sockaddr *)&a, sizeof(a)));
	CHECK(listen(fd, 4));
	CHECK(listen(fd, 4)); /* again: the backlog changes */
	close(fd2);
	close(fd);
	/* 127.0.0.2 is loopback too. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	a = lo4(0);
	a.sin_addr.s_addr = inet_addr("127.0.0.2");
	CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	close(fd);
	/* The any-address. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	a = lo4(0);
	a.sin_addr.s_addr = htonl(INADDR_ANY);
	CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	struct sockaddr_in got;
	socklen_t l = sizeof(got);
	CHECK(getsockname(fd, (struct sockaddr *)&got, &l));
	SHOW("any: family %d addr %s len %d\n", got.sin_family, inet_ntoa(got.sin_addr), (int)l);
	close(fd);
}

static void stream(void)
{
	char buf[64];
	int c, s, port, l, v;

	SHOW("-- stream\n");
	s = tcp_pair(&c);
	struct sockaddr_in peer;
	socklen_t pl = sizeof(peer);
	CHECK(getpeername(c, (struct sockaddr *)&peer, &pl));
	SHOW("peer %s len %d port ok %d\n", inet_ntoa(peer.sin_addr), (int)pl, ntohs(peer.sin_port) > 0);
	CHECKV(write(c, "hello", 5));
	CHECKV(recv(s, buf, 2, MSG_PEEK));
	CHECKV(ioctl(s, FIONREAD, &v));
	SHOW("FIONREAD %d\n", v);
	CHECKV(read(s, buf, sizeof(buf)));
	CHECKV(recv(s, buf, sizeof(buf), MSG_DONTWAIT));
	CHECKV(send(s, "abcdef", 6, 0));
	memset(buf, 0, sizeof(buf));
	CHECKV(recv(c, buf, 6, MSG_WAITALL));
	SHOW("got %s\n", buf);
	CHECK(shutdown(c, SHUT_WR));
	CHECKV(read(s, buf, sizeof(buf)));
	CHECKV(send(s, "x", 1, 0)); /* the other direction still works */
	CHECKV(read(c, buf, sizeof(buf)));
	CHECK(shutdown(c, 7));
	CHECKV(send(c, "y", 1, MSG_NOSIGNAL));
	close(c);
	close(s);

	/* Closing with unread data resets the connection. */
	s = tcp_pair(&c);
	CHECKV(write(c, "unread", 6));
	usleep(50000);
	close(s);
	struct pollfd p = { .fd = c, .events = POLLIN };
	CHECKV(poll(&p, 1, 2000));
	SHOW("revents in %d err %d hup %d\n", !!(p.revents & POLLIN), !!(p.revents & POLLERR), !!(p.revents & POLLHUP));
	CHECKV(read(c, buf, sizeof(buf)));
	CHECKV(read(c, buf, sizeof(buf)));
	close(c);

	/* SO_LINGER with a zero time: close resets. */
	s = tcp_pair(&c);
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	CHECK(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	close(c);
	p = (struct pollfd){ .fd = s, .events = POLLIN };
	CHECKV(poll(&p, 1, 2000));
	CHECKV(recv(s, buf, sizeof(buf), 0));
	close(s);

	/* A refused connect. */
	l = listener(&port);
	close(l);
	c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = lo4(port);
	CHECK(connect(c, (struct sockaddr *)&a, sizeof(a)));
	close(c);

	/* Non-blocking connect and accept. */
	l = listener(&port);
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	fcntl(l, F_SETFL, O_NONBLOCK);
	CHECK(accept(l, NULL, NULL));
	a = lo4(port);
	int r = connect(c, (struct sockaddr *)&a, sizeof(a));
	SHOW("nonblocking connect: %s\n", r == 0 ? "done" : errno == EINPROGRESS ? "in progress" : errname(errno));
	p = (struct pollfd){ .fd = c, .events = POLLOUT };
	CHECKV(poll(&p, 1, 2000));
	socklen_t vl = sizeof(v);
	CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl));
	SHOW("SO_ERROR %d\n", v);
	CHECK(connect(c, (struct sockaddr *)&a, sizeof(a)));
	p = (struct pollfd){ .fd = l, .events = POLLIN };
	CHECKV(poll(&p, 1, 2000));
	s = accept(l, NULL, NULL);
	SHOW("accepted %d\n", s >= 0);
	close(s);
	close(c);
	close(l);

	/* A refused non-blocking connect reports through SO_ERROR. */
	l = listener(&port);
	close(l);
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	a = lo4(port);
	r = connect(c, (struct sockaddr *)&a, sizeof(a));
	SHOW("refused nonblocking connect: %s\n", r == 0 ? "done" : errname(errno));
	p = (struct pollfd){ .fd = c, .events = POLLOUT };
	CHECKV(poll(&p, 1, 2000));
	vl = sizeof(v);
	CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl));
	SHOW("SO_ERROR %s\n", v ? errname(v) : "0");
	CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl));
	SHOW("SO_ERROR again %d\n", v);
	close(c);

	/* SO_RCVTIMEO makes a blocking read give up with EAGAIN. */
	s = tcp_pair(&c);
	struct timeval tv = { .tv_usec = 100000 };
	CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	CHECKV(read(s, buf, sizeof(buf)));
	close(s);
	close(c);

	/* Writing to a connection the peer closed: EPIPE and SIGPIPE. */
	s = tcp_pair(&c);
	close(s);
	usleep(50000);
	signal(SIGPIPE, SIG_IGN);
	int n = 0;
	for (int i = 0; i < 50 && n >= 0; i++) {
		n = send(c, "z", 1, 0);
		usleep(10000);
	}
	SHOW("send after close: %s\n", n >= 0 ? "ok" : errname(errno));
	close(c);

	/* Connecting a socket that listens. */
	l = listener(&port);
	a = lo4(port);
	CHECK(connect(l, (struct sockaddr *)&a, sizeof(a)));
	close(l);
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&a, 3));
	CHECK(connect(c, (struct sockaddr *)1, sizeof(a)));
	CHECK(getpeername(c, (struct sockaddr *)&a, &(socklen_t){ sizeof(a) }));
	CHECKV(recv(c, buf, 1, 0));
	CHECKV(send(c, buf, 1, MSG_NOSIGNAL));
	close(c);
}

static void datagram(void)
{
	char buf[64];
	struct sockaddr_in a, from;
	socklen_t fl;
	int u, v, port;

	SHOW("-- datagram\n");
	u = socket(AF_INET, SOCK_DGRAM, 0);
	v = socket(AF_INET, SOCK_DGRAM, 0);
	a = lo4(0);
	CHECK(bind(u, (struct sockaddr *)&a, sizeof(a)));
	port = port_of(u);
	a = lo4(port);
	CHECKV(sendto(v, "datagram", 8, 0, (struct sockaddr *)&a, sizeof(a)));
	CHECKV(sendto(v, "second", 6, 0, (struct sockaddr *)&a, sizeof(a)));
	CHECKV(sendto(v, "", 0, 0, (struct sockaddr *)&a, sizeof(a)));
	CHECKV(recv(u, buf, 4, MSG_PEEK));
	CHECKV(recv(u, buf, 4, MSG_TRUNC));
	fl = sizeof(from);
	memset(buf, 0, sizeof(buf));
	CHECKV(recvfrom(u, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl));
	SHOW("got %s from %s len %d sender port ok %d\n", buf, inet_ntoa(from.sin_addr), (int)fl, ntohs(from.sin_port) == port_of(v));
	CHECKV(recv(u, buf, sizeof(buf), 0));
	CHECKV(recv(u, buf, sizeof(buf), MSG_DONTWAIT));
	struct msghdr mh = { 0 };
	struct iovec iov[2] = { { buf, 3 }, { buf + 3, 3 } };
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	mh.msg_name = &from;
	mh.msg_namelen = sizeof(from);
	CHECKV(sendto(v, "scatter!", 8, 0, (struct sockaddr *)&a, sizeof(a)));
	CHECKV(recvmsg(u, &mh, 0));
	SHOW("flags trunc %d namelen %d\n", !!(mh.msg_flags & MSG_TRUNC), (int)mh.msg_namelen);
	/* sendmsg with two iovecs is one datagram. */
	mh = (struct msghdr){ .msg_name = &a, .msg_namelen = sizeof(a), .msg_iov = iov, .msg_iovlen = 2 };
	memcpy(buf, "abcdef", 6);
	CHECKV(sendmsg(v, &mh, 0));
	CHECKV(recv(u, buf, sizeof(buf), 0));
	/* Connected datagram sockets. */
	CHECK(connect(v, (struct sockaddr *)&a, sizeof(a)));
	CHECKV(send(v, "conn", 4, 0));
	CHECKV(recv(u, buf, sizeof(buf), 0));
	struct sockaddr_in unspec = { .sin_family = AF_UNSPEC };
	CHECK(connect(v, (struct sockaddr *)&unspec, sizeof(unspec)));
	CHECKV(send(v, "x", 1, 0));
	CHECKV(sendto(v, "x", 1, 0, (struct sockaddr *)&a, 3));
	CHECKV(sendto(v, buf, 70000, 0, (struct sockaddr *)&a, sizeof(a)));
	CHECKV(sendto(v, (void *)1, 4, 0, (struct sockaddr *)&a, sizeof(a)));
	close(u);
	close(v);
	/* shutdown of an unconnected socket: ENOTCONN, yet reading is shut. */
	u = socket(AF_INET, SOCK_DGRAM, 0);
	a = lo4(0);
	CHECK(bind(u, (struct sockaddr *)&a, sizeof(a)));
	CHECK(shutdown(u, SHUT_RD));
	CHECKV(recv(u, buf, sizeof(buf), MSG_DONTWAIT));
	CHECKV(recv(u, buf, sizeof(buf), 0));
	close(u);
	v = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(shutdown(v, SHUT_RD));
	CHECKV(recv(v, buf, sizeof(buf), MSG_DONTWAIT));
	close(v);
}

static void dualstack(void)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in6 peer;
	char txt[64];
	int l, c, s, v;
	socklen_t vl = sizeof(v), pl = sizeof(peer);

	SHOW("-- dual stack\n");
	l = socket(AF_INET6, SOCK_STREAM, 0);
	CHECK(getsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl));
	SHOW("IPV6_V6ONLY %d\n", v);
	CHECK(bind(l, (struct sockaddr *)&a6, sizeof(a6)));
	CHECK(listen(l, 1));
	v = 1;
	CHECK(setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v)));
	struct sockaddr_in a = lo4(port_of(l));
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&a, sizeof(a)));
	s = accept(l, (struct sockaddr *)&peer, &pl);
	SHOW("accepted %d len %d family %d\n", s >= 0, (int)pl, peer.sin6_family);
	inet_ntop(AF_INET6, &peer.sin6_addr, txt, sizeof(txt));
	SHOW("peer %s\n", txt);
	close(s);
	close(c);
	close(l);
	/* ::1 */
	l = socket(AF_INET6, SOCK_DGRAM, 0);
	a6.sin6_addr = in6addr_loopback;
	CHECK(bind(l, (struct sockaddr *)&a6, sizeof(a6) - 4));
	CHECK(bind(l, (struct sockaddr *)&a6, 20));
	a6.sin6_port = htons(port_of(l));
	c = socket(AF_INET6, SOCK_DGRAM, 0);
	CHECKV(sendto(c, "six", 3, 0, (struct sockaddr *)&a6, sizeof(a6)));
	pl = sizeof(peer);
	CHECKV(recvfrom(l, txt, sizeof(txt), 0, (struct sockaddr *)&peer, &pl));
	inet_ntop(AF_INET6, &peer.sin6_addr, txt, sizeof(txt));
	SHOW("from %s len %d\n", txt, (int)pl);
	close(c);
	close(l);
}

/* Many connections at once, with a forked client: the backlog queues them. */
static void many(void)
{
	int port, l = listener(&port), ok = 0;
	pid_t pid;

	SHOW("-- many\n");
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 20; i++) {
			struct sockaddr_in a = lo4(port);
			int c = socket(AF_INET, SOCK_STREAM, 0);
			char b[8];

			if (connect(c, (struct sockaddr *)&a, sizeof(a)) != 0 || write(c, "req", 3) != 3 ||
			    read(c, b, sizeof(b)) != 3)
				_exit(1);
			close(c);
		}
		_exit(0);
	}
	for (int i = 0; i < 20; i++) {
		char b[8];
		int s = accept(l, NULL, NULL);

		if (s >= 0 && read(s, b, sizeof(b)) == 3 && write(s, "rep", 3) == 3)
			ok++;
		close(s);
	}
	int st;
	waitpid(pid, &st, 0);
	SHOW("served %d, client exit %d\n", ok, WEXITSTATUS(st));
	close(l);
}

/* The loopback interface: the only one in a sandbox with --net none, and
 * the same everywhere. */
static void interfaces(void)
{
	struct ifaddrs *ifa, *i;
	char txt[64];

	SHOW("-- interfaces\n");
	SHOW("if_nametoindex(lo) %u\n", if_nametoindex("lo"));
	SHOW("if_indextoname(1) %s\n", if_indextoname(1, txt) ? txt : errname(errno));
	CHECK(getifaddrs(&ifa));
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (strcmp(i->ifa_name, "lo") != 0 || i->ifa_addr == NULL)
			continue;
		int fam = i->ifa_addr->sa_family;
		if (fam == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, txt, sizeof(txt));
			SHOW("lo inet %s", txt);
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_netmask)->sin_addr, txt, sizeof(txt));
			SHOW(" mask %s flags %#x\n", txt, i->ifa_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING));
		} else if (fam == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, txt, sizeof(txt));
			SHOW("lo inet6 %s\n", txt);
		} else if (fam == AF_PACKET) {
			SHOW("lo packet flags %#x\n", i->ifa_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING));
		}
	}
	freeifaddrs(ifa);

	/* A netlink route socket: errors, and RTM_GETLINK of lo alone. */
	int nl = CHECKV(socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE));
	CHECKV(socket(AF_NETLINK, SOCK_RAW, 99));
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	CHECK(bind(nl, (struct sockaddr *)&sa, 4));
	CHECK(bind(nl, (struct sockaddr *)&sa, sizeof(sa)));
	socklen_t sl = sizeof(sa);
	CHECK(getsockname(nl, (struct sockaddr *)&sa, &sl));
	SHOW("nl family %d pid is ours %d\n", sa.nl_family, sa.nl_pid == (unsigned)getpid());
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = { .h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK, .nlmsg_seq = 7 },
		  .i = { .ifi_family = AF_UNSPEC, .ifi_index = 1 } };
	CHECKV(send(nl, &req, sizeof(req), 0));
	char buf[8192];
	int n = CHECKV(recv(nl, buf, sizeof(buf), MSG_PEEK | MSG_TRUNC) > 0 ? 0 : -1);
	n = recv(nl, buf, sizeof(buf), 0);
	struct nlmsghdr *h;
	for (h = (struct nlmsghdr *)buf; n > 0 && NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type == RTM_NEWLINK) {
			struct ifinfomsg *ii = NLMSG_DATA(h);
			SHOW("newlink seq %u index %d type %d up %d", h->nlmsg_seq, ii->ifi_index, ii->ifi_type, !!(ii->ifi_flags & IFF_UP));
			int al = IFLA_PAYLOAD(h);
			for (struct rtattr *a = IFLA_RTA(ii); RTA_OK(a, al); a = RTA_NEXT(a, al))
				if (a->rta_type == IFLA_IFNAME)
					SHOW(" name %s", (char *)RTA_DATA(a));
				else if (a->rta_type == IFLA_MTU)
					SHOW(" mtu %u", *(unsigned *)RTA_DATA(a));
			SHOW("\n");
		} else if (h->nlmsg_type == NLMSG_ERROR) {
			SHOW("ack error %d seq %u\n", ((struct nlmsgerr *)NLMSG_DATA(h))->error, h->nlmsg_seq);
		}
	}
	n = recv(nl, buf, sizeof(buf), 0);
	h = (struct nlmsghdr *)buf;
	if (n > 0 && h->nlmsg_type == NLMSG_ERROR)
		SHOW("ack error %d seq %u\n", ((struct nlmsgerr *)NLMSG_DATA(h))->error, h->nlmsg_seq);
	/* RTM_GETADDR dump: lo's IPv4 address. */
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg a;
	} areq = { .h = { .nlmsg_len = sizeof(areq), .nlmsg_type = RTM_GETADDR, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 8 },
		   .a = { .ifa_family = AF_INET } };
	CHECKV(send(nl, &areq, sizeof(areq), 0));
	for (int done = 0; !done;) {
		n = recv(nl, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				SHOW("done seq %u multi %d\n", h->nlmsg_seq, !!(h->nlmsg_flags & NLM_F_MULTI));
				done = 1;
				break;
			}
			struct ifaddrmsg *am = NLMSG_DATA(h);
			if (h->nlmsg_type != RTM_NEWADDR || am->ifa_index != 1)
				continue;
			int al = IFA_PAYLOAD(h);
			for (struct rtattr *a = IFA_RTA(am); RTA_OK(a, al); a = RTA_NEXT(a, al))
				if (a->rta_type == IFA_LOCAL) {
					inet_ntop(AF_INET, RTA_DATA(a), txt, sizeof(txt));
					SHOW("newaddr %s/%d scope %d multi %d\n", txt, am->ifa_prefixlen, am->ifa_scope, !!(h->nlmsg_flags & NLM_F_MULTI));
				}
		}
	}
	close(nl);
}

/* ICMP echo to 127.0.0.1 on a raw socket (root: CAP_NET_RAW): the reply
 * comes with its IP header, as Linux gives it on raw IPv4 sockets. */
static void raw_icmp(void)
{
	unsigned char pkt[16] = { 8, 0, 0, 0, 0x12, 0x34, 0, 1, 'm', 'o', 'a', 't' };
	unsigned char buf[128];
	unsigned sum = 0;
	struct sockaddr_in a = lo4(0);

	SHOW("-- raw icmp\n");
	CHECKV(socket(AF_INET, SOCK_RAW, 0));
	int fd = CHECKV(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
	for (int i = 0; i < 12; i += 2)
		sum += pkt[i] << 8 | pkt[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	pkt[2] = sum >> 8;
	pkt[3] = sum & 0xff;
	CHECKV(sendto(fd, pkt, 12, 0, (struct sockaddr *)&a, sizeof(a)));
	for (int tries = 0; tries < 4; tries++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 2000) != 1)
			break;
		int n = recv(fd, buf, sizeof(buf), 0);
		if (n < 28 || buf[20] != 0) /* our own echo request comes back too */
			continue;
		SHOW("reply: %d bytes, ip version %d header %d, type %d id %02x%02x data %.4s\n", n, buf[0] >> 4,
		     (buf[0] & 15) * 4, buf[20], buf[24], buf[25], buf + 28);
		break;
	}
	close(fd);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	creation();
	binding();
	stream();
	datagram();
	dualstack();
	many();
	interfaces();
	raw_icmp();
	SHOW("done\n");
	return 0;
}
