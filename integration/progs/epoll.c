/*
 * epoll.c: epoll(7) semantics, checked natively and inside moat with
 * identical output: epoll_create/epoll_create1, epoll_ctl and its errors
 * in Linux's order, level and edge triggering, EPOLLONESHOT, EPOLLHUP,
 * EPOLLERR and EPOLLRDHUP (also when not requested), what closing a
 * registered fd does (with and without a dup), epoll_wait argument
 * errors, eventfd, timerfd and nested epoll fds, threads woken by
 * epoll_ctl and by data, and epoll_pwait/epoll_pwait2 with a signal mask.
 *
 * Events are printed as names with the registered data; when one
 * epoll_wait returns several events they are sorted by data, so that only
 * the checks that are about order depend on it.
 */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* evname renders an event mask as names, e.g. "IN|HUP". */
static const char *evname(uint32_t m)
{
	static char buf[160];
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ EPOLLIN, "IN" },	   { EPOLLPRI, "PRI" },
		{ EPOLLOUT, "OUT" },	   { EPOLLERR, "ERR" },
		{ EPOLLHUP, "HUP" },	   { EPOLLRDNORM, "RDNORM" },
		{ EPOLLRDBAND, "RDBAND" }, { EPOLLWRNORM, "WRNORM" },
		{ EPOLLWRBAND, "WRBAND" }, { EPOLLMSG, "MSG" },
		{ EPOLLRDHUP, "RDHUP" },
	};
	size_t i;

	buf[0] = 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (m & names[i].bit) {
			if (buf[0])
				strcat(buf, "|");
			strcat(buf, names[i].name);
			m &= ~names[i].bit;
		}
	}
	if (m)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%#x",
			 buf[0] ? "|" : "", m);
	if (buf[0] == 0)
		strcpy(buf, "0");
	return buf;
}

static void print_events(const char *label, int n, struct epoll_event *ev)
{
	int i, j;

	if (n < 0) {
		SHOW("%s: -1 %s\n", label, errname(errno));
		return;
	}
	/* Sort by data (insertion sort, n is small). */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && ev[j - 1].data.u64 > ev[j].data.u64; j--) {
			struct epoll_event t = ev[j];

			ev[j] = ev[j - 1];
			ev[j - 1] = t;
		}
	printf("%s: %d", label, n);
	for (i = 0; i < n; i++)
		printf(" [%s data=%llu]", evname(ev[i].events),
		       (unsigned long long)ev[i].data.u64);
	printf("\n");
}

/* show_events polls ep (timeout 0) and prints what it reports. */
static void show_events(const char *label, int ep)
{
	struct epoll_event ev[8];
	int n;

	memset(ev, 0, sizeof(ev));
	n = epoll_wait(ep, ev, 8, 0);
	print_events(label, n, ev);
}

/* show_one is show_events with maxevents 1, for checks about order. */
static void show_one(const char *label, int ep)
{
	struct epoll_event ev;
	int n;

	memset(&ev, 0, sizeof(ev));
	n = epoll_wait(ep, &ev, 1, 0);
	print_events(label, n, &ev);
}

static int add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int mod(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void creates(void)
{
	struct stat st;
	char buf[64], path[64];
	ssize_t n;
	int ep;

	SHOW("-- create\n");
	CHECK(epoll_create(0));
	CHECK(epoll_create(-1));
	ep = epoll_create(1);
	SHOW("epoll_create(1) ok: %d\n", ep >= 0);
	CHECKV(fcntl(ep, F_GETFD));
	close(ep);
	ep = epoll_create(1 << 20);
	SHOW("epoll_create(1<<20) ok: %d\n", ep >= 0);
	close(ep);
	CHECK(epoll_create1(1));
	CHECK(epoll_create1(O_NONBLOCK));
	CHECK(epoll_create1(EPOLL_CLOEXEC | O_NONBLOCK));
	CHECK(epoll_create1(-1));
	ep = epoll_create1(EPOLL_CLOEXEC);
	SHOW("epoll_create1(EPOLL_CLOEXEC) ok: %d\n", ep >= 0);
	CHECKV(fcntl(ep, F_GETFD));
	CHECKV(fcntl(ep, F_GETFL));
	close(ep);
	ep = epoll_create1(0);
	SHOW("epoll_create1(0) ok: %d\n", ep >= 0);
	CHECKV(fcntl(ep, F_GETFD));
	/* What an epoll fd is as a file. */
	CHECK(read(ep, buf, sizeof(buf)));
	CHECK(write(ep, buf, sizeof(buf)));
	CHECK(lseek(ep, 0, SEEK_SET));
	CHECK(syscall(SYS_fstat, ep, &st));
	CHECK(fstat(ep, &st));
	SHOW("fstat: type=%#o perm=%04o\n", (unsigned)(st.st_mode & S_IFMT),
	     (unsigned)(st.st_mode & 07777));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", ep);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n >= 0)
		buf[n] = 0;
	SHOW("link: %s\n", n >= 0 ? buf : errname(errno));
	close(ep);
}

static void ctl_errors(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 1 };
	int ep, ep2, ep3, p[2], f, dir, null, closed, chain[7], top, i;
	const char *tmp = enter_tmpdir("epoll");

	SHOW("-- epoll_ctl errors\n");
	ep = epoll_create1(0);
	CHECK(pipe(p));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));

	SHOW("-- epoll_ctl: files that cannot be polled\n");
	f = open("file", O_RDWR | O_CREAT, 0600);
	dir = open(".", O_RDONLY | O_DIRECTORY);
	null = open("/dev/null", O_RDWR);
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, f, &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, f, NULL));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, dir, &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, null, &ev));

	SHOW("-- epoll_ctl: bad epfd, fd, op, event\n");
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
	CHECK(epoll_ctl(-1, EPOLL_CTL_ADD, p[1], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, -1, &ev));
	closed = dup(p[1]);
	close(closed);
	CHECK(epoll_ctl(closed, EPOLL_CTL_ADD, p[1], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, closed, &ev));
	CHECK(epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev));
	CHECK(epoll_ctl(f, EPOLL_CTL_ADD, p[1], &ev));
	CHECK(epoll_ctl(p[0], EPOLL_CTL_ADD, f, &ev));
	CHECK(epoll_ctl(p[0], EPOLL_CTL_ADD, closed, &ev));
	CHECK(epoll_ctl(ep, 99, p[1], &ev));
	CHECK(epoll_ctl(ep, 0, p[1], &ev));
	CHECK(epoll_ctl(ep, -1, p[1], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], NULL));
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], NULL));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], unmapped_page()));
	CHECK(epoll_ctl(-1, EPOLL_CTL_ADD, p[1], NULL));
	CHECK(epoll_ctl(ep, 99, p[1], NULL));
	CHECK(epoll_ctl(-1, EPOLL_CTL_DEL, p[1], NULL));
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], unmapped_page()));

	SHOW("-- epoll_ctl: EPOLLEXCLUSIVE\n");
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev));
	ev.events = EPOLLIN;
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
	/* Each ADD below that succeeds is undone, so that one difference
	 * does not change the checks after it. */
	ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
	if (CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev)) == 0)
		epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL);
	ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLRDHUP;
	if (CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev)) == 0)
		epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL);
	ev.events = EPOLLOUT | EPOLLEXCLUSIVE | EPOLLET;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev));
	show_events("exclusive OUT|ET", ep);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
	ep2 = epoll_create1(0);
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	if (CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ep2, &ev)) == 0)
		epoll_ctl(ep, EPOLL_CTL_DEL, ep2, NULL);

	SHOW("-- epoll_ctl: loops and nesting\n");
	ev.events = EPOLLIN;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ep2, &ev));
	if (CHECK(epoll_ctl(ep2, EPOLL_CTL_ADD, ep, &ev)) == 0)
		epoll_ctl(ep2, EPOLL_CTL_DEL, ep, NULL);
	ep3 = epoll_create1(0);
	CHECK(epoll_ctl(ep2, EPOLL_CTL_ADD, ep3, &ev));
	if (CHECK(epoll_ctl(ep3, EPOLL_CTL_ADD, ep, &ev)) == 0)
		epoll_ctl(ep3, EPOLL_CTL_DEL, ep, NULL);
	if (CHECK(epoll_ctl(ep3, EPOLL_CTL_ADD, ep2, &ev)) == 0)
		epoll_ctl(ep3, EPOLL_CTL_DEL, ep2, NULL);
	CHECK(epoll_ctl(ep2, EPOLL_CTL_DEL, ep3, NULL));
	CHECK(epoll_ctl(ep3, EPOLL_CTL_ADD, ep, &ev));
	for (i = 0; i < 7; i++)
		chain[i] = epoll_create1(0);
	/* A chain chain[0] in chain[1] in ...; a link that fails is
	 * skipped, so the next one is added to the top of the chain. */
	top = chain[0];
	for (i = 1; i < 7; i++) {
		int r = epoll_ctl(chain[i], EPOLL_CTL_ADD, top, &ev);

		SHOW("chain: add the top into epoll fd %d: %s\n", i,
		     r == 0 ? "ok" : errname(errno));
		if (r == 0)
			top = chain[i];
	}
	for (i = 0; i < 7; i++)
		close(chain[i]);

	close(ep3);
	close(ep2);
	close(ep);
	close(p[0]);
	close(p[1]);
	close(f);
	close(dir);
	close(null);
	remove_tree(tmp);
}

static void triggers(void)
{
	int ep, p[2], q[2], s[2];
	char buf[16];

	SHOW("-- level triggered\n");
	ep = epoll_create1(0);
	CHECK(pipe(p));
	CHECK(add(ep, p[0], EPOLLIN, 1));
	show_events("LT empty", ep);
	CHECKV(write(p[1], "abc", 3));
	show_events("LT after write", ep);
	show_events("LT again", ep);
	show_events("LT and again", ep);
	CHECKV(read(p[0], buf, 1));
	show_events("LT after a partial read", ep);
	CHECKV(read(p[0], buf, sizeof(buf)));
	show_events("LT after reading all", ep);

	SHOW("-- edge triggered\n");
	CHECK(mod(ep, p[0], EPOLLIN | EPOLLET, 2));
	show_events("ET empty", ep);
	CHECKV(write(p[1], "abc", 3));
	show_events("ET after write", ep);
	show_events("ET again", ep);
	CHECKV(read(p[0], buf, 1));
	show_events("ET after a partial read", ep);
	show_events("ET again", ep);
	CHECKV(write(p[1], "d", 1));
	show_events("ET after new data", ep);
	show_events("ET again", ep);
	CHECK(mod(ep, p[0], EPOLLIN | EPOLLET, 3));
	show_events("ET after MOD with data left", ep);
	show_events("ET again", ep);
	CHECKV(read(p[0], buf, sizeof(buf)));
	show_events("ET after reading all", ep);
	CHECK(mod(ep, p[0], EPOLLIN | EPOLLET, 4));
	show_events("ET after MOD when empty", ep);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));

	/* A socket: every write by the peer is a new edge. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	CHECK(add(ep, s[0], EPOLLIN | EPOLLOUT | EPOLLET, 5));
	show_events("ET socket", ep);
	show_events("ET socket again", ep);
	CHECKV(write(s[1], "a", 1));
	show_events("ET socket after peer write", ep);
	show_events("ET socket again", ep);
	CHECKV(write(s[1], "b", 1));
	show_events("ET socket after a second peer write", ep);
	/* Reading raises no edge on Linux (the room it makes is the peer's);
	 * moat may report one (a socket cannot tell which readiness a change
	 * raises: see fs/epoll), so that wait is not compared. */
	CHECKV(read(s[0], buf, sizeof(buf)));
	close(s[0]);
	close(s[1]);
	show_events("ET socket after closing both", ep);

	SHOW("-- oneshot\n");
	CHECK(add(ep, p[0], EPOLLIN | EPOLLONESHOT, 10));
	show_events("ONESHOT empty", ep);
	CHECKV(write(p[1], "a", 1));
	show_events("ONESHOT after write", ep);
	show_events("ONESHOT again", ep);
	CHECKV(write(p[1], "b", 1));
	show_events("ONESHOT after more data", ep);
	CHECK(add(ep, p[0], EPOLLIN, 10));
	CHECK(mod(ep, p[0], EPOLLIN | EPOLLONESHOT, 11));
	show_events("ONESHOT after MOD", ep);
	show_events("ONESHOT again", ep);
	CHECK(mod(ep, p[0], EPOLLIN, 12));
	show_events("ONESHOT MOD to LT", ep);
	show_events("LT again", ep);
	CHECK(mod(ep, p[0], EPOLLIN | EPOLLONESHOT, 13));
	show_events("ONESHOT armed again", ep);
	close(p[1]);
	show_events("ONESHOT disarmed, writer closed", ep);
	CHECK(mod(ep, p[0], EPOLLIN | EPOLLONESHOT, 14));
	show_events("ONESHOT re-armed, writer closed", ep);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	close(p[0]);

	SHOW("-- round robin with maxevents 1\n");
	CHECK(pipe(p));
	CHECK(pipe(q));
	CHECKV(write(p[1], "a", 1));
	CHECKV(write(q[1], "b", 1));
	CHECK(add(ep, p[0], EPOLLIN, 21));
	CHECK(add(ep, q[0], EPOLLIN, 22));
	show_one("first", ep);
	show_one("second", ep);
	show_one("third", ep);
	show_one("fourth", ep);
	show_events("all", ep);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	show_events("after closing", ep);
	close(ep);
}

static void hups(void)
{
	int ep, p[2], s[2];
	char buf[16];

	SHOW("-- pipe: EPOLLHUP on the read end\n");
	ep = epoll_create1(0);
	CHECK(pipe(p));
	CHECK(add(ep, p[0], EPOLLIN, 1));
	CHECKV(write(p[1], "ab", 2));
	close(p[1]);
	show_events("read end, data left, writer closed", ep);
	CHECKV(read(p[0], buf, sizeof(buf)));
	show_events("read end, empty, writer closed", ep);
	CHECK(mod(ep, p[0], 0, 2));
	show_events("read end, events 0", ep);
	CHECK(mod(ep, p[0], EPOLLOUT, 3));
	show_events("read end, events OUT", ep);
	CHECK(mod(ep, p[0], EPOLLIN | EPOLLET, 4));
	show_events("read end, ET", ep);
	show_events("read end, ET again", ep);
	close(p[0]);

	SHOW("-- pipe: EPOLLERR on the write end\n");
	CHECK(pipe(p));
	CHECK(add(ep, p[1], EPOLLOUT, 5));
	show_events("write end", ep);
	close(p[0]);
	show_events("write end, reader closed", ep);
	CHECK(mod(ep, p[1], 0, 6));
	show_events("write end, events 0", ep);
	CHECK(mod(ep, p[1], EPOLLIN, 7));
	show_events("write end, events IN", ep);
	close(p[1]);

	SHOW("-- pipe: events 0 on the read end\n");
	CHECK(pipe(p));
	CHECK(add(ep, p[0], 0, 8));
	CHECKV(write(p[1], "x", 1));
	show_events("events 0, data", ep);
	close(p[1]);
	show_events("events 0, data, writer closed", ep);
	close(p[0]);

	SHOW("-- socketpair: EPOLLRDHUP\n");
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	CHECK(add(ep, s[0], EPOLLIN | EPOLLRDHUP, 9));
	show_events("socket", ep);
	CHECK(shutdown(s[1], SHUT_WR));
	show_events("socket, peer SHUT_WR", ep);
	CHECK(mod(ep, s[0], EPOLLIN, 10));
	show_events("socket, peer SHUT_WR, RDHUP not requested", ep);
	CHECK(mod(ep, s[0], 0, 11));
	show_events("socket, peer SHUT_WR, events 0", ep);
	CHECK(shutdown(s[0], SHUT_WR));
	show_events("socket, both SHUT_WR, events 0", ep);
	CHECK(mod(ep, s[0], EPOLLIN | EPOLLOUT | EPOLLRDHUP, 12));
	show_events("socket, both SHUT_WR", ep);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, s[0], NULL));
	close(s[0]);
	close(s[1]);

	SHOW("-- socketpair: peer closed\n");
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	CHECK(add(ep, s[0], 0, 13));
	show_events("socket, events 0", ep);
	close(s[1]);
	show_events("socket, events 0, peer closed", ep);
	CHECK(mod(ep, s[0], EPOLLIN | EPOLLRDHUP, 14));
	show_events("socket, peer closed", ep);
	CHECKV(read(s[0], buf, sizeof(buf)));
	close(s[0]);

	SHOW("-- socketpair: peer closed with unread data\n");
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	CHECK(add(ep, s[0], EPOLLIN | EPOLLRDHUP, 15));
	CHECKV(write(s[0], "unread", 6));
	close(s[1]);
	show_events("socket, peer closed with unread data", ep);
	CHECKV(read(s[0], buf, sizeof(buf)));
	show_events("socket, after the error was read", ep);
	CHECKV(read(s[0], buf, sizeof(buf)));
	close(s[0]);
	close(ep);
}

static void closes(void)
{
	int ep, p[2], d, other;
	char buf[16];

	SHOW("-- close: the last fd of a registered file\n");
	ep = epoll_create1(0);
	CHECK(pipe2(p, O_NONBLOCK));
	CHECK(add(ep, p[1], EPOLLOUT, 1));
	show_events("write end registered", ep);
	close(p[1]);
	CHECKV(read(p[0], buf, sizeof(buf)));
	show_events("write end closed", ep);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
	CHECK(mod(ep, p[1], EPOLLOUT, 1));
	close(p[0]);

	SHOW("-- close: a registered fd that was dup()ed\n");
	CHECK(pipe2(p, O_NONBLOCK));
	CHECK(add(ep, p[0], EPOLLIN, 2));
	d = dup(p[0]);
	close(p[0]);
	show_events("original closed, empty", ep);
	CHECKV(write(p[1], "x", 1));
	show_events("original closed, data", ep);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, d, NULL));
	CHECK(mod(ep, d, EPOLLIN, 3));
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	CHECK(add(ep, d, EPOLLIN, 4));
	show_events("the dup added too", ep);
	/* A new file takes the old number: it is not the registered one. */
	other = eventfd(1, 0);
	SHOW("new file reuses the number: %d\n", other == p[0]);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, other, NULL));
	CHECK(mod(ep, other, EPOLLIN, 5));
	CHECK(add(ep, other, EPOLLIN, 6));
	show_events("new file added under the old number", ep);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, other, NULL));
	close(other);
	CHECKV(read(d, buf, sizeof(buf)));
	show_events("data read", ep);
	CHECKV(write(p[1], "y", 1));
	show_events("data again", ep);
	close(d);
	show_events("dup closed too", ep);
	close(p[1]);
	close(ep);
}

static void wait_errors(void)
{
	struct epoll_event ev[4];
	long long t0, t1;
	int ep, efd, p[2];

	SHOW("-- epoll_wait errors\n");
	ep = epoll_create1(0);
	CHECK(pipe(p));
	CHECKV(epoll_wait(ep, ev, 0, 0));
	CHECKV(epoll_wait(ep, ev, -1, 0));
	CHECKV(epoll_wait(ep, ev, INT_MAX, 0));
	CHECKV(epoll_wait(-1, ev, 1, 0));
	CHECKV(epoll_wait(p[0], ev, 1, 0));
	CHECKV(epoll_wait(ep, NULL, 1, 0));
	CHECKV(epoll_wait(ep, (void *)1, 1, 0));
	efd = eventfd(1, 0);
	CHECK(add(ep, efd, EPOLLIN, 1));
	CHECKV(epoll_wait(ep, NULL, 1, 0));
	CHECKV(epoll_wait(ep, (void *)1, 1, 0));
	CHECKV(epoll_wait(ep, unmapped_page(), 1, 0));
	CHECKV(epoll_wait(ep, NULL, 0, 0));
	CHECKV(epoll_wait(ep, NULL, 1, -1));
	show_events("still ready after EFAULT", ep);
	CHECK(mod(ep, efd, EPOLLIN | EPOLLET, 2));
	CHECKV(epoll_wait(ep, NULL, 1, 0));
	show_events("ET still ready after EFAULT", ep);
	show_events("ET again", ep);
	close(efd);

	SHOW("-- epoll_wait timeouts\n");
	t0 = now_us();
	CHECKV(epoll_wait(ep, ev, 4, 0));
	t1 = now_us();
	SHOW("timeout 0 returned at once: %d\n", t1 - t0 < 500000);
	t0 = now_us();
	CHECKV(epoll_wait(ep, ev, 4, 20));
	t1 = now_us();
	SHOW("timeout 20 waited 20 ms: %d\n", t1 - t0 >= 20000);
	CHECKV(write(p[1], "a", 1));
	CHECK(add(ep, p[0], EPOLLIN, 3));
	t0 = now_us();
	CHECKV(epoll_wait(ep, ev, 4, -1));
	t1 = now_us();
	SHOW("timeout -1 with a ready fd returned at once: %d\n", t1 - t0 < 500000);
	close(p[0]);
	close(p[1]);
	close(ep);
}

static void eventfds(void)
{
	struct itimerspec its = { .it_value = { 0, 10 * 1000000 } };
	struct epoll_event ev[4];
	uint64_t v;
	int ep, inner, efd, tfd, p[2];

	SHOW("-- eventfd\n");
	ep = epoll_create1(0);
	efd = eventfd(0, EFD_NONBLOCK);
	CHECK(add(ep, efd, EPOLLIN | EPOLLOUT, 1));
	show_events("eventfd 0", ep);
	v = 3;
	CHECKV(write(efd, &v, sizeof(v)));
	show_events("eventfd 3", ep);
	CHECKV(read(efd, &v, sizeof(v)));
	SHOW("read: %llu\n", (unsigned long long)v);
	show_events("eventfd read", ep);
	v = 0xfffffffffffffffeULL;
	CHECKV(write(efd, &v, sizeof(v)));
	show_events("eventfd at the maximum", ep);
	CHECKV(read(efd, &v, sizeof(v)));
	close(efd);
	show_events("eventfd closed", ep);
	efd = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK);
	CHECK(add(ep, efd, EPOLLIN, 2));
	v = 2;
	CHECKV(write(efd, &v, sizeof(v)));
	CHECKV(read(efd, &v, sizeof(v)));
	show_events("semaphore 2 read once", ep);
	CHECKV(read(efd, &v, sizeof(v)));
	show_events("semaphore read twice", ep);
	close(efd);

	SHOW("-- timerfd\n");
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	CHECK(add(ep, tfd, EPOLLIN | EPOLLOUT, 3));
	show_events("timerfd disarmed", ep);
	CHECK(timerfd_settime(tfd, 0, &its, NULL));
	show_events("timerfd armed", ep);
	memset(ev, 0, sizeof(ev));
	CHECKV(epoll_wait(ep, ev, 4, 1000));
	print_events("timerfd after waiting", 1, ev);
	CHECKV(read(tfd, &v, sizeof(v)));
	SHOW("expirations: %llu\n", (unsigned long long)v);
	show_events("timerfd read", ep);
	close(tfd);

	SHOW("-- nested epoll\n");
	inner = epoll_create1(0);
	CHECK(pipe(p));
	CHECK(add(inner, p[0], EPOLLIN, 4));
	CHECK(add(ep, inner, EPOLLIN | EPOLLOUT, 5));
	show_events("outer, inner empty", ep);
	CHECKV(write(p[1], "a", 1));
	show_events("outer, inner ready", ep);
	show_events("outer again", ep);
	show_events("inner", inner);
	memset(ev, 0, sizeof(ev));
	CHECKV(epoll_wait(ep, ev, 4, 1000));
	CHECK(mod(ep, inner, EPOLLIN | EPOLLET, 6));
	show_events("outer ET", ep);
	/* Without a new event in the inner instance Linux reports nothing;
	 * moat reports a nested instance edge-triggered again at every wait
	 * (see fs/epoll), so that wait is not compared. */
	CHECKV(write(p[1], "b", 1));
	show_events("outer ET after more data", ep);
	char buf[8];
	CHECKV(read(p[0], buf, sizeof(buf)));
	CHECK(mod(ep, inner, EPOLLIN, 7));
	show_events("outer, inner drained", ep);
	CHECK(mod(inner, p[0], EPOLLIN | EPOLLONESHOT, 8));
	CHECKV(write(p[1], "c", 1));
	show_events("outer, inner oneshot ready", ep);
	show_events("inner oneshot", inner);
	show_events("outer, inner oneshot fired", ep);
	close(p[1]);
	show_events("outer, inner oneshot disarmed, writer closed", ep);
	close(p[0]);
	close(inner);
	show_events("outer, inner closed", ep);
	close(ep);
}

struct waiter {
	int ep;
	int n;
	int err;
	struct epoll_event ev;
};

static void *waiter(void *arg)
{
	struct waiter *w = arg;

	memset(&w->ev, 0, sizeof(w->ev));
	errno = 0;
	w->n = epoll_wait(w->ep, &w->ev, 1, -1);
	w->err = errno;
	return NULL;
}

static void show_waiter(const char *label, struct waiter *w)
{
	errno = w->err;
	print_events(label, w->n, &w->ev);
}

static void threads(void)
{
	struct waiter w;
	pthread_t t;
	uint64_t v = 1;
	int ep, outer, efd, p[2];

	SHOW("-- threads\n");
	/* Woken by epoll_ctl adding a ready fd to an empty set. */
	ep = epoll_create1(0);
	w.ep = ep;
	pthread_create(&t, NULL, waiter, &w);
	sleep_ms(20);
	efd = eventfd(1, 0);
	CHECK(add(ep, efd, EPOLLIN, 42));
	pthread_join(t, NULL);
	show_waiter("woken by ADD", &w);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL));

	/* Woken by data on one of the fds of the set. */
	CHECKV(read(efd, &v, sizeof(v)));
	CHECK(pipe(p));
	CHECK(add(ep, efd, EPOLLIN, 43));
	CHECK(add(ep, p[0], EPOLLIN, 44));
	pthread_create(&t, NULL, waiter, &w);
	sleep_ms(20);
	CHECKV(write(p[1], "a", 1));
	pthread_join(t, NULL);
	show_waiter("woken by a pipe write", &w);

	/* Woken by EPOLL_CTL_MOD asking for an event that is there. */
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	CHECK(add(ep, p[1], EPOLLIN, 45));
	pthread_create(&t, NULL, waiter, &w);
	sleep_ms(20);
	CHECK(mod(ep, p[1], EPOLLOUT, 46));
	pthread_join(t, NULL);
	show_waiter("woken by MOD", &w);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));

	/* Woken through a nested epoll fd. */
	outer = epoll_create1(0);
	CHECK(add(outer, ep, EPOLLIN, 47));
	w.ep = outer;
	pthread_create(&t, NULL, waiter, &w);
	sleep_ms(20);
	v = 5;
	CHECKV(write(efd, &v, sizeof(v)));
	pthread_join(t, NULL);
	show_waiter("woken through a nested epoll", &w);

	/* Woken by the writer closing. */
	CHECKV(read(efd, &v, sizeof(v)));
	CHECK(add(ep, p[0], EPOLLIN, 48));
	CHECKV(read(p[0], &v, 1));
	w.ep = ep;
	pthread_create(&t, NULL, waiter, &w);
	sleep_ms(20);
	close(p[1]);
	pthread_join(t, NULL);
	show_waiter("woken by the writer closing", &w);
	close(p[0]);
	close(outer);
	close(efd);
	close(ep);
}

static volatile sig_atomic_t usr1;

static void on_usr1(int sig)
{
	(void)sig;
	usr1++;
}

static void *kill_main(void *arg)
{
	sleep_ms(20);
	pthread_kill(*(pthread_t *)arg, SIGUSR1);
	return NULL;
}

static int blocked(int sig)
{
	sigset_t s;

	sigprocmask(SIG_BLOCK, NULL, &s);
	return sigismember(&s, sig);
}

static int pending(int sig)
{
	sigset_t s;

	sigpending(&s);
	return sigismember(&s, sig);
}

/* settle reports what the last check did with SIGUSR1, then takes any
 * pending SIGUSR1 away and resets the count, so checks stay independent. */
static void settle(const char *label)
{
	struct timespec zero = { 0, 0 };
	sigset_t s;

	SHOW("%s: handled: %d blocked: %d pending: %d\n", label, (int)usr1,
	     blocked(SIGUSR1), pending(SIGUSR1));
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	while (pending(SIGUSR1) && blocked(SIGUSR1))
		sigtimedwait(&s, NULL, &zero);
	usr1 = 0;
}

static void pwaits(void)
{
	struct sigaction sa;
	struct epoll_event ev[4];
	struct timespec ts;
	sigset_t block, unblock;
	pthread_t self, t;
	long long t0, t1;
	int ep, efd;

	SHOW("-- epoll_pwait\n");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&unblock);
	ep = epoll_create1(0);

	/* A pending signal that only the mask unblocks. */
	raise(SIGUSR1);
	SHOW("pending before: %d\n", pending(SIGUSR1));
	CHECKV(epoll_pwait(ep, ev, 4, -1, &unblock));
	settle("pending, unblocked by the mask");

	/* A signal sent by another thread during the wait. */
	self = pthread_self();
	pthread_create(&t, NULL, kill_main, &self);
	CHECKV(epoll_pwait(ep, ev, 4, -1, &unblock));
	pthread_join(t, NULL);
	settle("sent during the wait");

	/* The mask blocks it: the wait times out, the signal stays pending. */
	raise(SIGUSR1);
	CHECKV(epoll_pwait(ep, ev, 4, 10, &block));
	CHECKV(epoll_pwait(ep, ev, 4, 10, NULL));
	settle("blocked by the mask");

	/* An event is ready: it is returned, and the handler does not run. */
	efd = eventfd(1, 0);
	CHECK(add(ep, efd, EPOLLIN, 1));
	raise(SIGUSR1);
	CHECKV(epoll_pwait(ep, ev, 4, -1, &unblock));
	SHOW("handled: %d blocked: %d pending: %d\n", (int)usr1,
	     blocked(SIGUSR1), pending(SIGUSR1));
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	sigprocmask(SIG_BLOCK, &block, NULL);
	settle("event ready, then unblocked");

	/* The raw system call checks the size of the mask. */
	CHECKV(syscall(SYS_epoll_pwait, ep, ev, 4, 0, &unblock, 4));
	CHECKV(syscall(SYS_epoll_pwait, ep, ev, 4, 0, &unblock, 16));
	CHECKV(syscall(SYS_epoll_pwait, ep, ev, 4, 0, NULL, 4));
	CHECKV(syscall(SYS_epoll_pwait, ep, ev, 4, 0, &unblock, 8));
	CHECKV(syscall(SYS_epoll_pwait, ep, ev, 4, 0, (void *)1, 8));

	SHOW("-- epoll_pwait2\n");
	ts.tv_sec = 0;
	ts.tv_nsec = 0;
	CHECKV(syscall(SYS_epoll_pwait2, ep, ev, 4, &ts, NULL, 8));
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL));
	t0 = now_us();
	CHECKV(syscall(SYS_epoll_pwait2, ep, ev, 4, &ts, NULL, 8));
	t1 = now_us();
	SHOW("timeout 0 returned at once: %d\n", t1 - t0 < 500000);
	ts.tv_nsec = 15 * 1000000;
	t0 = now_us();
	CHECKV(syscall(SYS_epoll_pwait2, ep, ev, 4, &ts, NULL, 8));
	t1 = now_us();
	SHOW("timeout 15 ms waited 15 ms: %d\n", t1 - t0 >= 15000);
	ts.tv_nsec = 1000000000;
	CHECKV(syscall(SYS_epoll_pwait2, ep, ev, 4, &ts, NULL, 8));
	ts.tv_nsec = -1;
	CHECKV(syscall(SYS_epoll_pwait2, ep, ev, 4, &ts, NULL, 8));
	ts.tv_sec = -1;
	ts.tv_nsec = 0;
	CHECKV(syscall(SYS_epoll_pwait2, ep, ev, 4, &ts, NULL, 8));
	CHECKV(syscall(SYS_epoll_pwait2, ep, ev, 4, (void *)1, NULL, 8));
	ts.tv_sec = 0;
	CHECKV(syscall(SYS_epoll_pwait2, ep, ev, 0, &ts, NULL, 8));
	raise(SIGUSR1);
	CHECKV(syscall(SYS_epoll_pwait2, ep, ev, 4, NULL, &unblock, 8));
	settle("epoll_pwait2, pending, unblocked by the mask");
	CHECK(add(ep, efd, EPOLLIN, 2));
	CHECKV(syscall(SYS_epoll_pwait2, ep, ev, 4, NULL, NULL, 8));
	SHOW("data: %llu\n", (unsigned long long)ev[0].data.u64);
	close(efd);
	close(ep);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
}

int main(void)
{
	alarm(10);
	creates();
	ctl_errors();
	triggers();
	hups();
	closes();
	wait_errors();
	eventfds();
	threads();
	pwaits();
	printf("done\n");
	return 0;
}
