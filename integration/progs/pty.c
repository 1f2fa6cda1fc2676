/*
 * pty: pseudo-terminals. posix_openpt/grantpt/unlockpt/ptsname, the
 * default termios of a new pty, canonical mode editing (erase, kill,
 * word erase, EOF), echo as the master sees it (with ECHOCTL), ONLCR,
 * non-canonical reads (VMIN/VTIME), signal characters (^C ^\ ^Z) to the
 * foreground group of a child that made the slave its controlling
 * terminal, window sizes and SIGWINCH, background reads and writes
 * (SIGTTIN, SIGTTOU with TOSTOP), /dev/tty, TIOCSPGRP/TIOCGPGRP/TIOCGSID
 * and their errors, hangup when the master closes, EIO on the master
 * when the slave is closed, bad pointers and non-terminals.
 *
 * Nothing printed depends on the run: no pty numbers, no pids. Every
 * wait is bounded (WAIT_MS) and alarm(25) ends everything if something
 * still hangs. Output from the master is read until the expected end, as
 * Linux delivers it asynchronously.
 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>

#define WAIT_MS 5000

static pid_t kids[8];
static int nkids;

static void on_alarm(int sig)
{
	(void)sig;
	for (int i = 0; i < nkids; i++)
		kill(kids[i], SIGKILL);
	_exit(97);
}

/* Print buf as a C string with escapes. */
static void show_bytes(const char *label, const char *buf, long n)
{
	printf("%s: ", label);
	if (n < 0) {
		printf("-1 %s\n", errname(errno));
		return;
	}
	putchar('"');
	for (long i = 0; i < n; i++) {
		unsigned char c = buf[i];
		if (c == '\r')
			printf("\\r");
		else if (c == '\n')
			printf("\\n");
		else if (c == '\b')
			printf("\\b");
		else if (c == '\\')
			printf("\\\\");
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\" (%ld)\n", n);
}

/* Read from fd until the data read ends with want (or WAIT_MS passes);
 * return how much was read. */
static long read_until(int fd, char *buf, long size, const char *want)
{
	long n = 0, wl = strlen(want);

	for (;;) {
		if (n >= wl && memcmp(buf + n - wl, want, wl) == 0)
			return n;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, WAIT_MS) <= 0)
			return n;
		long r = read(fd, buf + n, size - n);
		if (r <= 0)
			return n;
		n += r;
	}
}

/* Read whatever comes from fd within ms. */
static long read_for(int fd, char *buf, long size, int ms)
{
	long n = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, ms) <= 0 || !(p.revents & POLLIN))
			return n;
		long r = read(fd, buf + n, size - n);
		if (r <= 0)
			return n;
		n += r;
	}
}

static int readbyte(int fd)
{
	unsigned char c;
	struct pollfd p = {.fd = fd, .events = POLLIN};

	for (;;) {
		int r = poll(&p, 1, WAIT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		return r == 1 ? c : -1;
	}
}

static void xwrite(int fd, const char *s, size_t n)
{
	if (write(fd, s, n) != (ssize_t)n) {
		printf("write failed: %s\n", errname(errno));
		exit(98);
	}
}

static int open_master(char *name, size_t size)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);

	if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, name, size) != 0) {
		printf("openpt: %s\n", errname(errno));
		exit(98);
	}
	return m;
}

static void basics(void)
{
	char name[64];
	struct stat st;

	int m = CHECK(posix_openpt(O_RDWR | O_NOCTTY));
	CHECK(grantpt(m));
	/* Before unlockpt the slave cannot be opened. */
	CHECK(ptsname_r(m, name, sizeof(name)));
	SHOW("ptsname in /dev/pts: %d\n", strncmp(name, "/dev/pts/", 9) == 0);
	CHECK(open(name, O_RDWR | O_NOCTTY));
	CHECK(ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY));
	CHECK(unlockpt(m));
	int s = CHECK(open(name, O_RDWR | O_NOCTTY));
	CHECK(fstat(s, &st));
	SHOW("slave: chr %d major %d minor==ptn %d\n", S_ISCHR(st.st_mode), major(st.st_rdev),
	     (int)minor(st.st_rdev) == atoi(name + 9) % 256);
	CHECK(stat("/dev/ptmx", &st));
	SHOW("/dev/ptmx: chr %d %d:%d\n", S_ISCHR(st.st_mode), major(st.st_rdev), minor(st.st_rdev));
	CHECK(fstat(m, &st));
	SHOW("master: chr %d %d:%d\n", S_ISCHR(st.st_mode), major(st.st_rdev), minor(st.st_rdev));
	CHECK(stat("/dev/pts", &st));
	SHOW("/dev/pts dir: %d\n", S_ISDIR(st.st_mode));
	SHOW("isatty master %d slave %d\n", isatty(m), isatty(s));
	int n;
	CHECK(ioctl(m, TIOCGPTN, &n));
	SHOW("TIOCGPTN matches ptsname: %d\n", n == atoi(name + 9));
	CHECK(ioctl(s, TIOCGPTN, &n));
	int peer = CHECK(ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
	struct stat ps;
	CHECK(fstat(peer, &ps));
	fstat(s, &st);
	SHOW("peer is the slave: %d, cloexec %d\n", ps.st_rdev == st.st_rdev, fcntl(peer, F_GETFD));
	CHECK(ioctl(s, TIOCGPTPEER, O_RDWR));
	close(peer);
	int lock = 7;
	CHECK(ioctl(m, TIOCGPTLCK, &lock));
	SHOW("locked: %d\n", lock);

	struct termios t;
	CHECK(tcgetattr(s, &t));
	SHOW("iflag %#o oflag %#o cflag %#o lflag %#o\n", t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag);
	SHOW("cc:");
	for (int i = 0; i < 17; i++)
		SHOW(" %d", t.c_cc[i]);
	SHOW("\nspeed %d %d\n", (int)cfgetispeed(&t), (int)cfgetospeed(&t));
	struct termios tm;
	CHECK(tcgetattr(m, &tm));
	SHOW("master sees the slave's settings: %d\n", t.c_iflag == tm.c_iflag && t.c_oflag == tm.c_oflag &&
	     t.c_cflag == tm.c_cflag && t.c_lflag == tm.c_lflag && memcmp(t.c_cc, tm.c_cc, NCCS) == 0);
	struct winsize ws = {.ws_row = 1};
	CHECK(ioctl(s, TIOCGWINSZ, &ws));
	SHOW("winsize %d %d\n", ws.ws_row, ws.ws_col);

	/* Non-terminals and bad pointers. */
	int p[2];
	CHECK(pipe(p));
	CHECK(ioctl(p[0], TCGETS, &t));
	CHECK(ioctl(p[0], TIOCGWINSZ, &ws));
	int nul = CHECK(open("/dev/null", O_RDWR));
	CHECK(ioctl(nul, TCGETS, &t));
	CHECK(ioctl(nul, TIOCGPGRP, &n));
	SHOW("isatty(/dev/null) %d errno %s\n", isatty(nul), errname(errno));
	void *bad = unmapped_page();
	CHECK(ioctl(s, TCGETS, bad));
	CHECK(ioctl(s, TCSETS, bad));
	CHECK(ioctl(m, TIOCGWINSZ, bad));
	CHECK(ioctl(m, TIOCSWINSZ, bad));
	CHECK(ioctl(m, TIOCGPTN, bad));
	CHECK(ioctl(s, 0x54ff, 0));
	CHECK(ioctl(s, TCFLSH, 9));
	/* Not this process's controlling terminal. */
	CHECK(ioctl(s, TIOCGPGRP, &n));
	CHECK(ioctl(s, TIOCGSID, &n));
	CHECK(ioctl(s, TIOCNOTTY));
	n = getpgrp();
	CHECK(ioctl(s, TIOCSPGRP, &n));
	CHECKV(ioctl(m, TIOCGPGRP, &n) == 0 ? n : -1);
	CHECK(ioctl(m, TIOCGSID, &n));
	close(p[0]);
	close(p[1]);
	close(nul);

	/* The master reads EIO once the slave has been closed. */
	char buf[64];
	CHECK(close(s));
	CHECKV(read(m, buf, 0));
	CHECKV(read(m, buf, sizeof(buf)));
	struct pollfd pf = {.fd = m, .events = POLLIN};
	CHECKV(poll(&pf, 1, 0));
	SHOW("revents hup %d\n", !!(pf.revents & POLLHUP));
	close(m);
	/* A fresh master whose slave was never opened: nothing to read. */
	m = open_master(name, sizeof(name));
	CHECK(fcntl(m, F_SETFL, O_NONBLOCK));
	CHECKV(read(m, buf, sizeof(buf)));
	close(m);
}

static void line_discipline(void)
{
	char name[64], buf[256];
	int m = open_master(name, sizeof(name));
	int s = CHECK(open(name, O_RDWR | O_NOCTTY));
	long n;

	/* Canonical editing and echo. */
	xwrite(m, "ab\x7f" "c\n", 5);
	n = read(s, buf, sizeof(buf));
	show_bytes("erase read", buf, n);
	n = read_until(m, buf, sizeof(buf), "\r\n");
	show_bytes("erase echo", buf, n);
	xwrite(m, "junk\x15ok\n", 8);
	n = read(s, buf, sizeof(buf));
	show_bytes("kill read", buf, n);
	n = read_until(m, buf, sizeof(buf), "ok\r\n");
	show_bytes("kill echo", buf, n);
	xwrite(m, "one two\x17" "2\n", 10);
	n = read(s, buf, sizeof(buf));
	show_bytes("werase read", buf, n);
	n = read_until(m, buf, sizeof(buf), "2\r\n");
	show_bytes("werase echo", buf, n);
	xwrite(m, "x\x01y\n", 4);
	n = read(s, buf, sizeof(buf));
	show_bytes("ctl read", buf, n);
	n = read_until(m, buf, sizeof(buf), "\r\n");
	show_bytes("ctl echo", buf, n);
	xwrite(m, "cr\r", 3);
	n = read(s, buf, sizeof(buf));
	show_bytes("icrnl read", buf, n);
	n = read_until(m, buf, sizeof(buf), "\r\n");
	show_bytes("icrnl echo", buf, n);
	/* A read shorter than the line gets the rest next time. */
	xwrite(m, "abcdef\n", 7);
	n = read(s, buf, 3);
	show_bytes("short read", buf, n);
	CHECK(ioctl(s, FIONREAD, &n));
	SHOW("FIONREAD %d\n", (int)n);
	n = read(s, buf, sizeof(buf));
	show_bytes("rest", buf, n);
	read_until(m, buf, sizeof(buf), "\r\n");
	/* EOF: the line without it, then an empty read. */
	xwrite(m, "xy\x04", 3);
	n = read(s, buf, sizeof(buf));
	show_bytes("eof line", buf, n);
	xwrite(m, "\x04", 1);
	n = read(s, buf, sizeof(buf));
	show_bytes("eof", buf, n);
	n = read_until(m, buf, sizeof(buf), "xy");
	show_bytes("eof echo", buf, n);

	/* Output processing. */
	xwrite(s, "hi\n\tx\n", 6);
	n = read_until(m, buf, sizeof(buf), "x\r\n");
	show_bytes("onlcr", buf, n);
	struct termios t, saved;
	tcgetattr(s, &saved);
	t = saved;
	t.c_oflag &= ~OPOST;
	CHECK(tcsetattr(s, TCSANOW, &t));
	xwrite(s, "raw\n", 4);
	n = read_until(m, buf, sizeof(buf), "\n");
	show_bytes("no opost", buf, n);

	/* Non-canonical. */
	t = saved;
	t.c_lflag &= ~(ICANON | ECHO);
	t.c_cc[VMIN] = 3;
	t.c_cc[VTIME] = 0;
	CHECK(tcsetattr(s, TCSANOW, &t));
	xwrite(m, "xyz", 3);
	n = read(s, buf, sizeof(buf));
	show_bytes("vmin=3", buf, n);
	t.c_cc[VMIN] = 0;
	CHECK(tcsetattr(s, TCSANOW, &t));
	n = read(s, buf, sizeof(buf));
	show_bytes("vmin=0 vtime=0 empty", buf, n);
	t.c_cc[VTIME] = 2;
	CHECK(tcsetattr(s, TCSANOW, &t));
	n = read(s, buf, sizeof(buf));
	show_bytes("vmin=0 vtime=2 empty", buf, n);
	CHECK(fcntl(s, F_SETFL, O_NONBLOCK));
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	CHECK(tcsetattr(s, TCSANOW, &t));
	n = read(s, buf, sizeof(buf));
	show_bytes("nonblock empty", buf, n);
	CHECK(fcntl(s, F_SETFL, 0));
	/* Typed in raw mode, read in canonical: one line. */
	xwrite(m, "q\x7f", 2);
	struct pollfd pf = {.fd = s, .events = POLLIN};
	CHECKV(poll(&pf, 1, WAIT_MS));
	CHECK(tcsetattr(s, TCSANOW, &saved));
	n = read(s, buf, sizeof(buf));
	show_bytes("raw then canon", buf, n);
	/* A partial line, then raw mode: readable as is. */
	xwrite(m, "part", 4);
	read_until(m, buf, sizeof(buf), "part");
	pf.revents = 0;
	CHECKV(poll(&pf, 1, 100));
	t = saved;
	t.c_lflag &= ~ICANON;
	CHECK(tcsetattr(s, TCSAFLUSH, &t));
	CHECK(fcntl(s, F_SETFL, O_NONBLOCK));
	n = read(s, buf, sizeof(buf));
	show_bytes("flushed by TCSAFLUSH", buf, n);
	CHECK(fcntl(s, F_SETFL, 0));
	CHECK(tcsetattr(s, TCSANOW, &saved));
	xwrite(m, "part", 4);
	read_until(m, buf, sizeof(buf), "part");
	CHECK(tcsetattr(s, TCSANOW, &t));
	n = read(s, buf, sizeof(buf));
	show_bytes("canon then raw", buf, n);
	CHECK(tcsetattr(s, TCSANOW, &saved));
	/* Echo off, ECHOE off. */
	t = saved;
	t.c_lflag &= ~ECHOE;
	CHECK(tcsetattr(s, TCSANOW, &t));
	xwrite(m, "ab\x7f\n", 4);
	n = read(s, buf, sizeof(buf));
	show_bytes("no echoe read", buf, n);
	n = read_until(m, buf, sizeof(buf), "\r\n");
	show_bytes("no echoe echo", buf, n);
	/* PARMRK doubles \377; ISTRIP clears the high bit. */
	t = saved;
	t.c_lflag &= ~(ICANON | ECHO);
	t.c_iflag |= PARMRK;
	t.c_cc[VMIN] = 4;
	CHECK(tcsetattr(s, TCSANOW, &t));
	xwrite(m, "\xff\xfe\x01", 3);
	n = read(s, buf, sizeof(buf));
	show_bytes("parmrk", buf, n);
	t.c_iflag = ISTRIP;
	t.c_cc[VMIN] = 2;
	CHECK(tcsetattr(s, TCSANOW, &t));
	xwrite(m, "\xff\xc1", 2);
	n = read(s, buf, sizeof(buf));
	show_bytes("istrip", buf, n);
	CHECK(tcsetattr(s, TCSANOW, &saved));
	/* ECHOPRT: erased characters printed between \ and /. */
	t = saved;
	t.c_lflag |= ECHOPRT;
	CHECK(tcsetattr(s, TCSANOW, &t));
	xwrite(m, "abc\x7f\x7f" "d\x7f\x7f\x7f" "xy\x15z\n", 14);
	n = read(s, buf, sizeof(buf));
	show_bytes("echoprt read", buf, n);
	n = read_until(m, buf, sizeof(buf), "\r\n");
	show_bytes("echoprt echo", buf, n);
	CHECK(tcsetattr(s, TCSANOW, &saved));

	/* Flow control: ^S stops output (echoes wait too), ^Q starts it. */
	xwrite(m, "\x13", 1);
	pf.fd = s;
	pf.events = POLLOUT;
	int i;
	for (i = 0; i < WAIT_MS / 10; i++) {
		if (poll(&pf, 1, 0) == 0)
			break;
		usleep(10000);
	}
	SHOW("^S: slave no longer writable: %d\n", i < WAIT_MS / 10);
	CHECK(fcntl(s, F_SETFL, O_NONBLOCK));
	CHECKV(write(s, "w", 1));
	CHECK(fcntl(s, F_SETFL, 0));
	xwrite(m, "e", 1);
	n = read_for(m, buf, sizeof(buf), 200);
	show_bytes("echo while stopped", buf, n);
	xwrite(m, "\x11", 1);
	n = read_until(m, buf, sizeof(buf), "e");
	show_bytes("^Q: echo", buf, n);
	CHECKV(poll(&pf, 1, WAIT_MS));
	CHECK(tcflow(s, TCOOFF));
	CHECKV(poll(&pf, 1, 0));
	CHECK(tcflow(s, TCOON));
	CHECKV(poll(&pf, 1, 0));
	/* TIOCSTI: input as if typed (root may, on any terminal). */
	CHECK(ioctl(s, TIOCSTI, "s"));
	CHECK(ioctl(s, TIOCSTI, "\n"));
	n = read(s, buf, sizeof(buf));
	show_bytes("TIOCSTI read", buf, n);
	n = read_until(m, buf, sizeof(buf), "\r\n");
	show_bytes("TIOCSTI echo", buf, n);
	CHECK(ioctl(s, TIOCSTI, unmapped_page()));
	CHECK(tcflush(s, TCIOFLUSH));
	CHECK(tcflow(s, TCOON));
	CHECK(tcsendbreak(s, 0));
	CHECK(tcdrain(s));
	close(s);
	close(m);
}

/* ---- job control: a child session with the slave as its terminal ---- */

static int rep[2]; /* child -> parent: signal numbers and progress bytes */
static int cmd[2]; /* parent -> child: go on */

static void on_sig(int sig)
{
	unsigned char c = sig;

	if (write(rep[1], &c, 1) < 0) {
		/* nothing to do */
	}
}

static void report(char c) { xwrite(rep[1], &c, 1); }

static void await(void)
{
	if (readbyte(cmd[0]) < 0)
		_exit(96);
}

static int child_stopped_by(pid_t pid)
{
	int st;
	for (int i = 0; i < WAIT_MS / 10; i++) {
		pid_t r = waitpid(pid, &st, WUNTRACED | WNOHANG);
		if (r == pid)
			return WIFSTOPPED(st) ? WSTOPSIG(st) : WIFEXITED(st) ? 1000 + WEXITSTATUS(st) : -WTERMSIG(st);
		usleep(10000);
	}
	return 0;
}

static void session_child(const char *name)
{
	struct sigaction sa = {.sa_handler = on_sig};
	int n;

	setsid();
	CHECK(open("/dev/tty", O_RDWR));
	int s = CHECK(open(name, O_RDWR | O_NOCTTY));
	CHECK(ioctl(s, TIOCGPGRP, &n));
	CHECK(ioctl(s, TIOCSCTTY, 0));
	CHECK(ioctl(s, TIOCSCTTY, 0));
	SHOW("fg is my group: %d\n", ioctl(s, TIOCGPGRP, &n) == 0 && n == getpgrp());
	SHOW("tcgetsid is my session: %d\n", tcgetsid(s) == getsid(0));
	{
		/* /proc/self/stat: tty_nr is the slave, tpgid my group. */
		char sb[1024];
		int fd = open("/proc/self/stat", O_RDONLY);
		long r = read(fd, sb, sizeof(sb) - 1);
		close(fd);
		sb[r > 0 ? r : 0] = 0;
		char *p = strrchr(sb, ')');
		int pgrp = 0, session = 0, tty_nr = 0, tpgid = 0;
		struct stat ss;
		fstat(s, &ss);
		if (p && sscanf(p + 2, "%*c %*d %d %d %d %d", &pgrp, &session, &tty_nr, &tpgid) == 4)
			SHOW("stat: pgrp %d session %d tty_nr %d tpgid %d\n", pgrp == getpgrp(), session == getsid(0),
			     (unsigned)tty_nr == (unsigned)((minor(ss.st_rdev) & 0xff) | (major(ss.st_rdev) << 8) | ((minor(ss.st_rdev) & ~0xff) << 12)),
			     tpgid == getpgrp());
	}
	int tty = CHECK(open("/dev/tty", O_RDWR));
	struct stat a;
	fstat(tty, &a);
	SHOW("/dev/tty: %d:%d, its session is mine: %d\n", major(a.st_rdev), minor(a.st_rdev), tcgetsid(tty) == getsid(0));
	close(tty);
	n = -1;
	CHECK(ioctl(s, TIOCSPGRP, &n));
	n = 0x3ffffff0;
	CHECK(ioctl(s, TIOCSPGRP, &n));
	n = getppid(); /* in another session */
	CHECK(ioctl(s, TIOCSPGRP, &n));
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGTSTP, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	report('R');

	/* Background reads and writes, from a child in a group of its own. */
	await();
	pid_t bg = fork();
	if (bg == 0) {
		char c;
		setpgid(0, 0);
		if (read(s, &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	setpgid(bg, bg);
	SHOW("background read: stopped by %s\n", strsignal(child_stopped_by(bg)));
	kill(bg, SIGKILL);
	waitpid(bg, NULL, 0);
	bg = fork();
	if (bg == 0) {
		setpgid(0, 0);
		signal(SIGTTIN, SIG_IGN);
		char c;
		long r = read(s, &c, 1);
		_exit(r < 0 && errno == EIO ? 5 : 6);
	}
	setpgid(bg, bg);
	SHOW("background read, SIGTTIN ignored: %d\n", child_stopped_by(bg));
	bg = fork();
	if (bg == 0) {
		setpgid(0, 0);
		_exit(write(s, "bg\n", 3) == 3 ? 7 : 8);
	}
	setpgid(bg, bg);
	SHOW("background write: %d\n", child_stopped_by(bg));
	struct termios t;
	tcgetattr(s, &t);
	t.c_lflag |= TOSTOP;
	tcsetattr(s, TCSANOW, &t);
	bg = fork();
	if (bg == 0) {
		setpgid(0, 0);
		_exit(write(s, "bg\n", 3) == 3 ? 7 : 8);
	}
	setpgid(bg, bg);
	SHOW("background write, TOSTOP: stopped by %s\n", strsignal(child_stopped_by(bg)));
	kill(bg, SIGKILL);
	waitpid(bg, NULL, 0);
	bg = fork();
	if (bg == 0) {
		setpgid(0, 0);
		struct termios t2;
		tcgetattr(s, &t2);
		_exit(tcsetattr(s, TCSANOW, &t2) == 0 ? 7 : 8);
	}
	setpgid(bg, bg);
	SHOW("background tcsetattr: stopped by %s\n", strsignal(child_stopped_by(bg)));
	kill(bg, SIGKILL);
	waitpid(bg, NULL, 0);
	/* A background group may be made the foreground one. */
	bg = fork();
	if (bg == 0) {
		setpgid(0, 0);
		pause();
		_exit(0);
	}
	setpgid(bg, bg);
	n = bg;
	CHECK(ioctl(s, TIOCSPGRP, &n));
	SHOW("fg is the child's group: %d\n", ioctl(s, TIOCGPGRP, &n) == 0 && n == bg);
	kill(bg, SIGKILL);
	waitpid(bg, NULL, 0);
	n = getpgrp();
	CHECK(ioctl(s, TIOCSPGRP, &n));
	t.c_lflag &= ~TOSTOP;
	tcsetattr(s, TCSANOW, &t);
	report('B');

	/* Hangup: after SIGHUP, reads see end of file, the rest fails. */
	await();
	char c;
	CHECKV(read(s, &c, 1));
	CHECKV(write(s, "x", 1));
	CHECK(ioctl(s, TCGETS, &t));
	CHECK(ioctl(s, TIOCSPGRP, &n));
	struct pollfd pf = {.fd = s, .events = POLLIN | POLLOUT};
	CHECKV(poll(&pf, 1, 0));
	SHOW("hangup revents %#x\n", pf.revents);
	CHECK(open("/dev/tty", O_RDWR));
	CHECK(open(name, O_RDWR));
	_exit(0);
}

static void job_control(void)
{
	char name[64], buf[256];
	int m = open_master(name, sizeof(name));
	long n;

	if (pipe(rep) != 0 || pipe(cmd) != 0)
		exit(98);
	fflush(stdout);
	pid_t kid = fork();
	if (kid == 0) {
		close(m);
		session_child(name);
	}
	kids[nkids++] = kid;
	SHOW("child ready: %c\n", readbyte(rep[0]));
	int pg = 0;
	CHECK(ioctl(m, TIOCGPGRP, &pg));
	SHOW("master: fg is the child's group: %d\n", pg == kid);
	CHECK(ioctl(m, TIOCGSID, &pg));
	SHOW("master: session is the child's: %d\n", pg == kid);

	xwrite(m, "abc\x03", 4);
	SHOW("^C: %s\n", strsignal(readbyte(rep[0])));
	n = read_until(m, buf, sizeof(buf), "^C");
	show_bytes("^C echo", buf, n);
	xwrite(m, "\x1c", 1);
	SHOW("^\\: %s\n", strsignal(readbyte(rep[0])));
	/* Read each echo before the next signal character: one flushes the
	 * output queue (no NOFLSH), so an echo left unread may be lost. */
	n = read_until(m, buf, sizeof(buf), "^\\");
	show_bytes("^\\ echo", buf, n);
	xwrite(m, "\x1a", 1);
	SHOW("^Z: %s\n", strsignal(readbyte(rep[0])));
	n = read_until(m, buf, sizeof(buf), "^Z");
	show_bytes("^Z echo", buf, n);
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	CHECK(ioctl(m, TIOCSWINSZ, &ws));
	SHOW("winch: %s\n", strsignal(readbyte(rep[0])));
	CHECK(ioctl(m, TIOCSWINSZ, &ws));
	struct pollfd pf = {.fd = rep[0], .events = POLLIN};
	SHOW("same size again, no signal: %d\n", poll(&pf, 1, 200));
	memset(&ws, 0, sizeof(ws));
	CHECK(ioctl(m, TIOCGWINSZ, &ws));
	SHOW("winsize %d %d\n", ws.ws_row, ws.ws_col);

	xwrite(cmd[1], "g", 1);
	SHOW("background checks: %c\n", readbyte(rep[0]));
	n = read_for(m, buf, sizeof(buf), 300);
	show_bytes("background output", buf, n);

	/* Hangup. */
	close(m);
	SHOW("hangup: %s\n", strsignal(readbyte(rep[0])));
	xwrite(cmd[1], "g", 1);
	int st;
	waitpid(kid, &st, 0);
	SHOW("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	nkids = 0;
}

/* A session leader that opens the slave without O_NOCTTY gets it as its
 * controlling terminal; when it exits, its foreground group gets SIGHUP
 * and the session loses the terminal. */
static void leader_exit(void)
{
	char name[64];
	int m = open_master(name, sizeof(name));
	int hup[2];

	if (pipe(hup) != 0)
		exit(98);
	fflush(stdout);
	pid_t kid = fork();
	if (kid == 0) {
		setsid();
		int s = open(name, O_RDWR);
		SHOW("opened without O_NOCTTY: my terminal %d\n", tcgetsid(s) == getsid(0));
		pid_t gk = fork();
		if (gk == 0) {
			struct sigaction sa = {.sa_handler = on_sig};
			rep[1] = hup[1];
			sigaction(SIGHUP, &sa, NULL);
			report('R');
			for (int i = 0; i < 500; i++) {
				usleep(10000);
				if (open("/dev/tty", O_RDWR) < 0 && errno == ENXIO) {
					report('X');
					break;
				}
			}
			_exit(0);
		}
		unsigned char c;
		if (read(hup[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	kids[nkids++] = kid;
	int st;
	waitpid(kid, &st, 0);
	SHOW("leader exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	SHOW("its foreground group: %s\n", strsignal(readbyte(hup[0])));
	SHOW("then /dev/tty: %c\n", readbyte(hup[0]));
	nkids = 0;
	close(m);
}

/* TIOCNOTTY: a member of the session gives the terminal up for itself
 * only; the leader for the whole session, its foreground group told with
 * SIGHUP and SIGCONT. */
static void notty(void)
{
	char name[64];
	int m = open_master(name, sizeof(name));

	if (pipe(rep) != 0)
		exit(98);
	fflush(stdout);
	pid_t kid = fork();
	if (kid == 0) {
		struct sigaction sa = {.sa_handler = on_sig};
		setsid();
		int s = CHECK(open(name, O_RDWR));
		pid_t gk = fork();
		if (gk == 0) {
			CHECK(ioctl(s, TIOCNOTTY));
			CHECK(open("/dev/tty", O_RDWR));
			_exit(0);
		}
		waitpid(gk, NULL, 0);
		SHOW("after a member's TIOCNOTTY, still mine: %d\n", tcgetsid(s) == getsid(0));
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGCONT, &sa, NULL);
		CHECK(ioctl(s, TIOCNOTTY));
		int a = readbyte(rep[0]), b = readbyte(rep[0]);
		SHOW("leader's TIOCNOTTY: %s, %s\n", strsignal(a < b ? a : b), strsignal(a < b ? b : a));
		CHECK(open("/dev/tty", O_RDWR));
		CHECK(tcgetsid(s));
		_exit(0);
	}
	kids[nkids++] = kid;
	waitpid(kid, NULL, 0);
	nkids = 0;
	close(m);
}

/* Packet mode: master reads carry a status byte (data, flushes, flow
 * control changes). */
static void pkt_read(int m, const char *what)
{
	struct pollfd p = {.fd = m, .events = POLLIN | POLLPRI};
	int r = poll(&p, 1, WAIT_MS);
	char b[64];

	usleep(50000); /* natively, all of a write arrives */
	long n = read(m, b, sizeof(b));
	SHOW("%s: poll %d revents %#x: ", what, r, p.revents);
	show_bytes("read", b, n);
}

static void packet_mode(void)
{
	char name[64];
	int m = open_master(name, sizeof(name));
	int s = CHECK(open(name, O_RDWR | O_NOCTTY));
	int on = 1, g = -1;
	struct termios t;

	CHECK(ioctl(s, TIOCPKT, &on));
	CHECK(ioctl(m, TIOCPKT, &on));
	CHECK(ioctl(m, TIOCGPKT, &g));
	SHOW("TIOCGPKT %d\n", g);
	xwrite(s, "hi", 2);
	pkt_read(m, "data");
	CHECK(tcflow(s, TCOOFF));
	pkt_read(m, "stop");
	CHECK(tcflow(s, TCOON));
	pkt_read(m, "start");
	CHECK(tcflush(s, TCIFLUSH));
	pkt_read(m, "input flush");
	CHECK(tcflush(s, TCOFLUSH));
	pkt_read(m, "output flush");
	tcgetattr(s, &t);
	t.c_iflag &= ~IXON;
	CHECK(tcsetattr(s, TCSANOW, &t));
	pkt_read(m, "no IXON");
	t.c_iflag |= IXON;
	CHECK(tcsetattr(s, TCSANOW, &t));
	pkt_read(m, "IXON");
	xwrite(m, "\x03", 1);
	usleep(100000);
	pkt_read(m, "^C");
	on = 0;
	CHECK(ioctl(m, TIOCPKT, &on));
	xwrite(s, "x", 1);
	pkt_read(m, "off");
	CHECK(ioctl(m, TIOCPKT, unmapped_page()));
	close(s);
	close(m);
}

/* A master can be a controlling terminal too; /dev/tty cannot reopen it. */
static void master_ctty(void)
{
	char name[64];
	int m = open_master(name, sizeof(name));

	fflush(stdout);
	pid_t kid = fork();
	if (kid == 0) {
		setsid();
		CHECK(ioctl(m, TIOCSCTTY, 0));
		CHECK(open("/dev/tty", O_RDWR));
		CHECK(ioctl(m, TIOCNOTTY));
		int s = CHECK(open(name, O_RDWR));
		SHOW("the slave did not become my terminal: %d\n", tcgetsid(s) == -1 && errno == ENOTTY);
		_exit(0);
	}
	kids[nkids++] = kid;
	waitpid(kid, NULL, 0);
	nkids = 0;
	close(m);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGALRM, on_alarm);
	alarm(25);
	basics();
	line_discipline();
	job_control();
	leader_exit();
	notty();
	packet_mode();
	master_ctty();
	SHOW("done\n");
	return 0;
}
