/*
 * sockfuzz SEED N: makes sockets of every family moat serves (AF_UNIX
 * stream, datagram and seqpacket, AF_INET and AF_INET6 TCP, UDP and ICMP,
 * raw ICMP, AF_NETLINK) and then makes N random socket calls on them with
 * random arguments: addresses of random families and lengths, message
 * headers with random iovecs and control messages, option levels, names
 * and values, ioctls. It exits 0 if it gets to the end.
 *
 * It is never run natively (random sends could reach host services), and
 * inside moat only with --net none, where everything stays in the
 * sandbox's own stack. Every socket is non-blocking and every send and
 * receive has MSG_DONTWAIT, so no call blocks.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t state;

static uint64_t next(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

#define BUFSIZE 8192
static unsigned char *buf; /* followed by a guard page */
static int fds[32];
static int nfds;

static void make_sockets(void)
{
	static const int kinds[][3] = {
		{ AF_UNIX, SOCK_STREAM, 0 },	  { AF_UNIX, SOCK_DGRAM, 0 },	   { AF_UNIX, SOCK_SEQPACKET, 0 },
		{ AF_INET, SOCK_STREAM, 0 },	  { AF_INET, SOCK_DGRAM, 0 },	   { AF_INET, SOCK_DGRAM, IPPROTO_ICMP },
		{ AF_INET, SOCK_RAW, IPPROTO_ICMP }, { AF_INET6, SOCK_STREAM, 0 }, { AF_INET6, SOCK_DGRAM, 0 },
		{ AF_INET6, SOCK_RAW, IPPROTO_ICMPV6 }, { AF_NETLINK, SOCK_RAW, NETLINK_ROUTE },
	};
	nfds = 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		int fd = socket(kinds[i][0], kinds[i][1] | SOCK_NONBLOCK, kinds[i][2]);
		if (fd >= 0)
			fds[nfds++] = fd;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0) {
		fds[nfds++] = sv[0];
		fds[nfds++] = sv[1];
	}
}

/* sockaddr fills buf+off with a random address and returns its length. */
static long sockaddr_at(unsigned char *p)
{
	static const int fams[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_UNSPEC, 99 };
	int fam = fams[next() % 6];
	for (int i = 0; i < 128; i++)
		p[i] = next() % 3 == 0 ? (unsigned char)next() : 0;
	memcpy(p, &(uint16_t){ fam }, 2);
	if (fam == AF_INET && next() % 2) {
		p[4] = 127, p[5] = 0, p[6] = 0, p[7] = 1 + next() % 2;
	} else if (fam == AF_INET6 && next() % 2) {
		memset(p + 8, 0, 16);
		p[23] = 1;
	} else if (fam == AF_UNIX && next() % 2) {
		strcpy((char *)p + 2, next() % 2 ? "/tmp/fz.sock" : "\0abs");
	}
	static const long lens[] = { 0, 1, 2, 3, 8, 12, 16, 24, 28, 110, 128, 129, 4096, -1 };
	return lens[next() % 14];
}

static long arg(void)
{
	switch (next() % 8) {
	case 0: return (long)(next() % 8) - 1;
	case 1: return (long)next();
	case 2: return (long)(next() % 64);
	case 3: return (long)(buf + next() % BUFSIZE);
	case 4: return 1;
	case 5: return (long)0xffff800000000000UL;
	case 6: return (long)(next() % 70000);
	default: return 0;
	}
}

/* msghdr builds a message header in buf with random parts. */
static long msghdr_random(void)
{
	struct msghdr *m = (struct msghdr *)buf;
	struct iovec *iov = (struct iovec *)(buf + 64);
	unsigned char *name = buf + 256, *ctl = buf + 512;
	memset(m, 0, sizeof(*m));
	if (next() % 2) {
		m->msg_namelen = sockaddr_at(name);
		m->msg_name = next() % 8 ? name : (void *)arg();
	}
	m->msg_iovlen = next() % 5;
	if (next() % 16 == 0)
		m->msg_iovlen = next();
	m->msg_iov = next() % 8 ? iov : (void *)arg();
	for (int i = 0; i < 4; i++) {
		iov[i].iov_base = buf + 2048 + next() % 2048;
		iov[i].iov_len = next() % 8 ? next() % 2048 : (size_t)arg();
	}
	if (next() % 2) {
		struct cmsghdr *c = (struct cmsghdr *)ctl;
		c->cmsg_len = next() % 4 ? CMSG_LEN(4 * (next() % 4)) : (size_t)arg();
		c->cmsg_level = next() % 2 ? SOL_SOCKET : (int)arg();
		c->cmsg_type = next() % 3 ? SCM_RIGHTS : (next() % 2 ? SCM_CREDENTIALS : (int)arg());
		for (int i = 0; i < 4; i++)
			((int *)CMSG_DATA(c))[i] = next() % 2 ? fds[next() % nfds] : (int)arg();
		m->msg_control = ctl;
		m->msg_controllen = next() % 8 ? 16 + next() % 64 : (size_t)arg();
	}
	return (long)m;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 1000;

	state = (argc > 1 ? strtoull(argv[1], NULL, 10) : 1) * 0x9e3779b97f4a7c15ULL | 1;
	buf = mmap(NULL, BUFSIZE + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED || mprotect(buf + BUFSIZE, 4096, PROT_NONE) != 0)
		return 2;
	make_sockets();
	for (long i = 0; i < n; i++) {
		if (i % 500 == 499) { /* start over now and then: sockets get closed and shut down */
			for (int j = 0; j < nfds; j++)
				close(fds[j]);
			make_sockets();
		}
		int fd = next() % 16 ? fds[next() % nfds] : (int)arg();
		long a2 = arg(), a3 = arg();
		switch (next() % 16) {
		case 0: syscall(SYS_bind, fd, buf, sockaddr_at(buf)); break;
		case 1: syscall(SYS_connect, fd, buf, sockaddr_at(buf)); break;
		case 2: syscall(SYS_listen, fd, a2); break;
		case 3: {
			int c = accept4(fd, next() % 2 ? (void *)buf : NULL, next() % 2 ? (socklen_t *)(buf + 200) : NULL,
					SOCK_NONBLOCK | (next() % 2 ? SOCK_CLOEXEC : 0));
			if (c >= 0 && nfds < 32)
				fds[nfds++] = c;
			else if (c >= 0)
				close(c);
			break;
		}
		case 4: syscall(SYS_sendto, fd, buf + 1024, next() % 3000, a3 | MSG_DONTWAIT | MSG_NOSIGNAL, buf, sockaddr_at(buf)); break;
		case 5: syscall(SYS_recvfrom, fd, buf + 1024, next() % 3000, a3 | MSG_DONTWAIT, next() % 2 ? buf : NULL, buf + 200); break;
		case 6: syscall(SYS_sendmsg, fd, msghdr_random(), a3 | MSG_DONTWAIT | MSG_NOSIGNAL); break;
		case 7: syscall(SYS_recvmsg, fd, msghdr_random(), a3 | MSG_DONTWAIT); break;
		case 8: {
			static const int levels[] = { SOL_SOCKET, IPPROTO_TCP, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_UDP, 270, 58, 12345 };
			*(socklen_t *)(buf + 200) = next() % 300;
			syscall(SYS_getsockopt, fd, levels[next() % 8], next() % 80, next() % 8 ? buf : (void *)arg(), next() % 8 ? buf + 200 : (void *)arg());
			break;
		}
		case 9: {
			static const int levels[] = { SOL_SOCKET, IPPROTO_TCP, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_UDP, 270, 58, 12345 };
			int name = next() % 80;
			if (name == SO_RCVTIMEO_OLD || name == SO_SNDTIMEO_OLD) /* a long timeout would make later calls wait */
				break;
			syscall(SYS_setsockopt, fd, levels[next() % 8], name, next() % 8 ? buf : (void *)arg(), next() % 300);
			break;
		}
		case 10: syscall(SYS_shutdown, fd, next() % 4); break;
		case 11: syscall(next() % 2 ? SYS_getsockname : SYS_getpeername, fd, buf, next() % 8 ? (long)(buf + 200) : arg()); break;
		case 12: {
			long req = next() % 2 ? 0x8900 + next() % 0x50 : 0x5400 + next() % 0x30;
			if (req == FIONBIO) /* the sockets must stay non-blocking */
				break;
			syscall(SYS_ioctl, fd, req, next() % 8 ? (long)buf : arg());
			break;
		}
		case 13: syscall(SYS_sendmmsg, fd, buf, next() % 4, MSG_DONTWAIT | MSG_NOSIGNAL); break;
		case 14: syscall(SYS_recvmmsg, fd, buf, next() % 4, MSG_DONTWAIT, NULL); break;
		default: {
			/* Any family, type and protocol: closed at once, so that no
			 * blocking socket joins the ones above. */
			long s = syscall(SYS_socket, (long)(next() % 50), a2, a3);
			if (s >= 0)
				close((int)s);
			break;
		}
		}
	}
	printf("sockfuzz: %ld calls done\n", n);
	return 0;
}
