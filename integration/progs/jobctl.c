/*
 * jobctl: job control and sleep restart. Stop signals (SIGSTOP, SIGTSTP,
 * SIGTTIN, SIGTTOU), SIGCONT, wait4/waitpid with WUNTRACED and WCONTINUED,
 * waitid with WSTOPPED, WCONTINUED and WNOWAIT, SIGCHLD with CLD_STOPPED and
 * CLD_CONTINUED (and none with SA_NOCLDSTOP), /proc/PID/stat and status of
 * a stopped process, orphaned process groups, the discarding of pending
 * SIGCONT by stop signals and the reverse, fatal signals to stopped
 * processes, and nanosleep/clock_nanosleep resuming after a stop.
 *
 * No threads. Every child is synchronized with pipes; every wait is
 * bounded (waits poll with WNOHANG for at most WAIT_MS, reads from pipes
 * poll for at most WAIT_MS) and alarm(10) kills everything if something
 * still hangs. Times are never printed, only comparisons.
 *
 * Process groups: inside moat this program is the sandbox's init, whose
 * group is orphaned; natively its group has the test (another group of the
 * same session) as parent and is not. So every child that is sent a stop
 * signal other than SIGSTOP first moves to a group of its own (its parent,
 * this program, is then in another group of the same session: not
 * orphaned), or to a session of its own (its group is then orphaned), and
 * the result is the same in both runs.
 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define WAIT_MS 2000

/* ---- children, and killing them all on a timeout ---- */

static pid_t tracked[64];
static volatile sig_atomic_t ntracked;

static void on_alarm(int sig)
{
	static const char msg[] = "timeout: killing the children\n";

	(void)sig;
	if (write(1, msg, sizeof(msg) - 1) < 0) {
		/* nothing to do */
	}
	for (int i = 0; i < ntracked; i++)
		kill(tracked[i], SIGKILL);
	_exit(97);
}

static pid_t xfork(void)
{
	pid_t pid = fork();

	if (pid == -1) {
		printf("fork: -1 %s\n", errname(errno));
		exit(99);
	}
	if (pid == 0) {
		alarm(12); /* a leftover child dies on its own */
		return 0;
	}
	if (ntracked < (int)(sizeof(tracked) / sizeof(tracked[0]))) {
		tracked[ntracked] = pid;
		ntracked = ntracked + 1;
	}
	return pid;
}

static void xpipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) != 0) {
		printf("pipe2: -1 %s\n", errname(errno));
		exit(99);
	}
}

static void xclose(int p[2])
{
	close(p[0]);
	close(p[1]);
}

static void put_byte(int fd, int c)
{
	unsigned char b = c;

	if (write(fd, &b, 1) != 1)
		_exit(98);
}

/* One byte from fd within ms milliseconds: the byte, -1 on EOF or error,
 * -2 when nothing came in time. */
static int get_byte_within(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec t0, t1;
	unsigned char c;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long spent = (t1.tv_sec - t0.tv_sec) * 1000 +
			     (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (spent >= ms)
			return -2;
		int r = poll(&pfd, 1, ms - spent);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == 0)
			return -2;
		if (r < 0)
			return -1;
		ssize_t n = read(fd, &c, 1);
		if (n == -1 && errno == EINTR)
			continue;
		return n == 1 ? c : -1;
	}
}

static int get_byte(int fd)
{
	return get_byte_within(fd, WAIT_MS);
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A child that says it is ready, then waits in pause() forever. setup runs
 * in the child first (may be NULL). */
static pid_t pause_child(void (*setup)(void))
{
	int ready[2];

	xpipe(ready);
	pid_t pid = xfork();
	if (pid == 0) {
		if (setup != NULL)
			setup();
		put_byte(ready[1], 'r');
		for (;;)
			pause();
	}
	if (get_byte(ready[0]) != 'r')
		SHOW("child did not get ready\n");
	xclose(ready);
	return pid;
}

/* ---- printing ---- */

/* "SIGSTOP"; the result stays valid for the next 3 calls. */
static const char *signame(int sig)
{
	static char bufs[4][32];
	static int next;
	char *buf = bufs[next++ % 4];
	const char *n = sigabbrev_np(sig);

	if (n == NULL)
		snprintf(buf, sizeof(bufs[0]), "signal %d", sig);
	else
		snprintf(buf, sizeof(bufs[0]), "SIG%s", n);
	return buf;
}

static const char *status_text(int st)
{
	static char buf[96];

	if (WIFEXITED(st))
		snprintf(buf, sizeof(buf), "exited %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "killed by %s%s", signame(WTERMSIG(st)),
			 WCOREDUMP(st) ? " (core)" : "");
	else if (WIFSTOPPED(st))
		snprintf(buf, sizeof(buf), "stopped by %s", signame(WSTOPSIG(st)));
	else if (WIFCONTINUED(st))
		snprintf(buf, sizeof(buf), "continued");
	else
		snprintf(buf, sizeof(buf), "unknown");
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " (status 0x%x)", st);
	return buf;
}

static const char *cld_name(int code)
{
	switch (code) {
	case CLD_EXITED: return "CLD_EXITED";
	case CLD_KILLED: return "CLD_KILLED";
	case CLD_DUMPED: return "CLD_DUMPED";
	case CLD_TRAPPED: return "CLD_TRAPPED";
	case CLD_STOPPED: return "CLD_STOPPED";
	case CLD_CONTINUED: return "CLD_CONTINUED";
	}
	return "other";
}

/* si_status is an exit status for CLD_EXITED, else a signal. */
static void show_siginfo(const char *what, const siginfo_t *si, pid_t pid)
{
	if (si->si_pid == 0) {
		SHOW("%s: nothing (si_pid 0)\n", what);
		return;
	}
	SHOW("%s: si_signo %s, si_code %s, si_status %s, si_pid==child %d, si_uid==getuid() %d\n",
	     what, signame(si->si_signo), cld_name(si->si_code),
	     si->si_code == CLD_EXITED ? "exit" : signame(si->si_status),
	     si->si_pid == pid, si->si_uid == getuid());
}

/* ---- bounded waits ---- */

/* waitpid(pid, options) that gives up after WAIT_MS; prints what it got. */
static int wait_show(const char *what, pid_t pid, int options)
{
	int st = 0;

	for (int i = 0; i < WAIT_MS / 5; i++) {
		pid_t r = waitpid(pid, &st, options | WNOHANG);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			SHOW("%s: waitpid -1 %s\n", what, errname(errno));
			return -1;
		}
		if (r == pid) {
			SHOW("%s: %s\n", what, status_text(st));
			return st;
		}
		if (r != 0) {
			SHOW("%s: waitpid returned another pid\n", what);
			return -1;
		}
		msleep(5);
	}
	SHOW("%s: nothing to report in time\n", what);
	return -1;
}

/* waitpid with WNOHANG, once: prints its result as a number or pid. */
static void wait_nohang(const char *what, pid_t pid, int options)
{
	int st = 0;
	pid_t r = waitpid(pid, &st, options | WNOHANG);

	if (r == -1)
		SHOW("%s: waitpid -1 %s\n", what, errname(errno));
	else if (r == 0)
		SHOW("%s: waitpid 0 (nothing to report)\n", what);
	else
		SHOW("%s: waitpid %s: %s\n", what, r == pid ? "pid" : "another pid",
		     status_text(st));
}

/* waitid(P_PID, pid, options) that gives up after WAIT_MS. */
static void waitid_show(const char *what, pid_t pid, int options)
{
	siginfo_t si;

	for (int i = 0; i < WAIT_MS / 5; i++) {
		memset(&si, 0, sizeof(si));
		int r = waitid(P_PID, pid, &si, options | WNOHANG);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			SHOW("%s: waitid -1 %s\n", what, errname(errno));
			return;
		}
		if (si.si_pid != 0) {
			show_siginfo(what, &si, pid);
			return;
		}
		msleep(5);
	}
	SHOW("%s: nothing to report in time\n", what);
}

/* Kill a child (stopped or not) and reap it, printing how it ended. */
static void kill_reap(const char *what, pid_t pid, int sig)
{
	kill(pid, sig);
	wait_show(what, pid, 0);
}

/* The state letter of /proc/PID/stat (field 3) and the State: line of
 * /proc/PID/status. */
static void show_proc_state(const char *what, pid_t pid)
{
	char path[64], buf[1024];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL) {
		SHOW("%s: open stat: %s\n", what, errname(errno));
		return;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	SHOW("%s: stat state %c\n", what, p != NULL && p[1] == ' ' ? p[2] : '?');

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL) {
		SHOW("%s: open status: %s\n", what, errname(errno));
		return;
	}
	while (fgets(buf, sizeof(buf), f) != NULL) {
		if (strncmp(buf, "State:", 6) == 0) {
			char *v = buf + 6;
			while (*v == ' ' || *v == '\t')
				v++;
			SHOW("%s: status State: %s", what, v);
		}
	}
	fclose(f);
}

static char proc_state(pid_t pid)
{
	char path[64], buf[1024];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return '?';
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : '?';
}

/* ---- 1. stop, continue, wait4/waitpid ---- */

static void stop_continue(void)
{
	SHOW("-- SIGSTOP and SIGCONT, waitpid\n");
	pid_t pid = pause_child(NULL);
	CHECK(kill(pid, SIGSTOP));
	wait_show("waitpid(WUNTRACED)", pid, WUNTRACED);
	wait_nohang("again: stop is reported once", pid, WUNTRACED);
	wait_nohang("without WUNTRACED", pid, 0);
	show_proc_state("stopped child", pid);
	CHECK(kill(pid, SIGSTOP));
	wait_nohang("second SIGSTOP while stopped: no new report", pid, WUNTRACED);
	CHECK(kill(pid, 0));
	CHECK(kill(pid, SIGCONT));
	SHOW("state after SIGCONT is not T: %d\n", proc_state(pid) != 'T');
	wait_nohang("WUNTRACED after SIGCONT", pid, WUNTRACED);
	wait_show("waitpid(WCONTINUED)", pid, WCONTINUED);
	wait_nohang("again: continue is reported once", pid, WCONTINUED);
	CHECK(kill(pid, SIGCONT));
	wait_nohang("SIGCONT to a running child: no report", pid, WCONTINUED);

	/* Stop and continue again: reported again. */
	CHECK(kill(pid, SIGSTOP));
	wait_show("second stop, waitpid(WUNTRACED|WCONTINUED)", pid, WUNTRACED | WCONTINUED);
	CHECK(kill(pid, SIGCONT));
	wait_show("second continue, waitpid(WUNTRACED|WCONTINUED)", pid, WUNTRACED | WCONTINUED);

	/* wait4 and waitpid(-1) see stops too. */
	CHECK(kill(pid, SIGSTOP));
	int st = 0;
	pid_t r;
	for (int i = 0; i < WAIT_MS / 5; i++) {
		r = wait4(-1, &st, WUNTRACED | WNOHANG, NULL);
		if (r != 0)
			break;
		msleep(5);
	}
	SHOW("wait4(-1, WUNTRACED) returned the child: %d: %s\n", r == pid, status_text(st));
	CHECK(kill(pid, SIGCONT));
	kill_reap("SIGTERM after continue", pid, SIGTERM);

	/* A child that stops itself, and goes on where it stopped. */
	pid = xfork();
	if (pid == 0) {
		raise(SIGSTOP);
		_exit(7);
	}
	wait_show("raise(SIGSTOP) in the child", pid, WUNTRACED);
	CHECK(kill(pid, SIGCONT));
	wait_show("continued child then exits 7 (no WCONTINUED asked)", pid, 0);
}

/* ---- 2. waitid ---- */

static void waitid_checks(void)
{
	SHOW("-- waitid WSTOPPED, WCONTINUED, WNOWAIT\n");
	pid_t pid = pause_child(NULL);
	CHECK(kill(pid, SIGSTOP));
	waitid_show("waitid(WSTOPPED|WNOWAIT)", pid, WSTOPPED | WNOWAIT);
	waitid_show("waitid(WSTOPPED|WNOWAIT) again", pid, WSTOPPED | WNOWAIT);
	waitid_show("waitid(WEXITED|WSTOPPED)", pid, WEXITED | WSTOPPED);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	CHECKV(waitid(P_PID, pid, &si, WSTOPPED | WNOHANG));
	show_siginfo("waitid(WSTOPPED|WNOHANG) after it was reaped", &si, pid);
	/* WNOWAIT leaves it for wait4 too. */
	CHECK(kill(pid, SIGCONT));
	waitid_show("waitid(WCONTINUED|WNOWAIT)", pid, WCONTINUED | WNOWAIT);
	wait_show("then waitpid(WCONTINUED)", pid, WCONTINUED);
	memset(&si, 0, sizeof(si));
	CHECKV(waitid(P_PID, pid, &si, WCONTINUED | WNOHANG));
	show_siginfo("waitid(WCONTINUED|WNOHANG) after that", &si, pid);

	CHECK(kill(pid, SIGSTOP));
	wait_show("stop again, waitpid(WUNTRACED)", pid, WUNTRACED);
	CHECK(kill(pid, SIGCONT));
	waitid_show("waitid(WCONTINUED|WNOWAIT)", pid, WCONTINUED | WNOWAIT);
	waitid_show("waitid(WCONTINUED)", pid, WCONTINUED);
	memset(&si, 0, sizeof(si));
	CHECKV(waitid(P_PID, pid, &si, WCONTINUED | WNOHANG));
	show_siginfo("waitid(WCONTINUED|WNOHANG) after it was reaped", &si, pid);

	/* Only WEXITED: a stop is not reported. */
	CHECK(kill(pid, SIGSTOP));
	wait_show("stop again", pid, WUNTRACED);
	memset(&si, 0, sizeof(si));
	CHECKV(waitid(P_PID, pid, &si, WEXITED | WNOHANG));
	show_siginfo("waitid(WEXITED|WNOHANG) on a stopped child", &si, pid);
	CHECK(kill(pid, SIGKILL));
	waitid_show("waitid(WEXITED) after SIGKILL", pid, WEXITED);
}

/* ---- 3. SIGCHLD ---- */

static volatile sig_atomic_t chld_count;
static volatile int chld_code[8], chld_status[8];
static volatile pid_t chld_pid[8];

static void on_chld(int sig, siginfo_t *si, void *uc)
{
	int n = chld_count;

	(void)sig;
	(void)uc;
	if (n < 8) {
		chld_code[n] = si->si_code;
		chld_status[n] = si->si_status;
		chld_pid[n] = si->si_pid;
	}
	chld_count = n + 1;
}

/* Unblock SIGCHLD until `want` handler runs have happened in all (or
 * WAIT_MS passed), then block it again and print what the handler saw
 * since index `from`. */
static void show_chld(const char *what, const sigset_t *unblock, int from, int want, pid_t pid)
{
	sigset_t old;

	sigprocmask(SIG_UNBLOCK, unblock, &old);
	for (int i = 0; i < WAIT_MS / 5 && chld_count < want; i++)
		msleep(5);
	msleep(20); /* a spurious extra one would show in the count */
	sigprocmask(SIG_SETMASK, &old, NULL);
	SHOW("%s: %d SIGCHLD", what, chld_count - from);
	for (int i = from; i < chld_count && i < 8; i++) {
		int status = chld_status[i];
		/* Linux reads the stop signal for CLD_STOPPED's si_status
		 * after the stop is visible, and a waitpid(WUNTRACED) that
		 * reaps the stop first zeroes it: 0 then means the same. */
		if (chld_code[i] == CLD_STOPPED && status == 0)
			status = SIGSTOP;
		SHOW(", %s %s pid==child %d", cld_name(chld_code[i]),
		     chld_code[i] == CLD_EXITED ? "exit" : signame(status),
		     chld_pid[i] == pid);
	}
	SHOW("\n");
}

static void sigchld_checks(void)
{
	struct sigaction sa, old_sa;
	sigset_t chld, old_mask, set;
	siginfo_t si;

	SHOW("-- SIGCHLD for stop and continue\n");
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old_mask);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGCHLD, &sa, &old_sa);
	chld_count = 0;

	pid_t pid = pause_child(NULL);
	CHECK(kill(pid, SIGSTOP));
	wait_show("stopped", pid, WUNTRACED);
	show_chld("handler after the stop", &chld, 0, 1, pid);
	CHECK(kill(pid, SIGCONT));
	wait_show("continued", pid, WCONTINUED);
	show_chld("handler after the continue", &chld, 1, 2, pid);
	CHECK(kill(pid, SIGKILL));
	wait_show("killed", pid, 0);
	show_chld("handler after SIGKILL", &chld, 2, 3, pid);

	SHOW("-- SA_NOCLDSTOP\n");
	sa.sa_flags = SA_SIGINFO | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	struct timespec short_wait = { 0, 150 * 1000000L };
	struct timespec long_wait = { WAIT_MS / 1000, 0 };
	pid = pause_child(NULL);
	CHECK(kill(pid, SIGSTOP));
	wait_show("stopped (waitpid still reports it)", pid, WUNTRACED);
	CHECKV(sigtimedwait(&chld, &si, &short_wait));
	CHECK(kill(pid, SIGCONT));
	wait_show("continued (waitpid still reports it)", pid, WCONTINUED);
	CHECKV(sigtimedwait(&chld, &si, &short_wait));
	sigpending(&set);
	SHOW("SIGCHLD pending: %d\n", sigismember(&set, SIGCHLD));
	CHECK(kill(pid, SIGKILL));
	memset(&si, 0, sizeof(si));
	CHECKV(sigtimedwait(&chld, &si, &long_wait));
	show_siginfo("SIGCHLD for the exit still comes", &si, pid);
	wait_show("killed", pid, 0);

	sigaction(SIGCHLD, &old_sa, NULL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
}

/* ---- 4. SIGTSTP, SIGTTIN, SIGTTOU, orphaned groups ---- */

static int report_fd = -1; /* where the children's handlers write */

static void on_report(int sig)
{
	char c = sig == SIGTSTP ? 't' : sig == SIGUSR1 ? 'u' : sig == SIGCONT ? 'c' : '?';

	if (sig == SIGWINCH) {
		sigset_t p;
		sigpending(&p);
		c = sigismember(&p, SIGTSTP) || sigismember(&p, SIGTTIN) ||
		    sigismember(&p, SIGTTOU) ? 'P' : 'w';
	}
	if (write(report_fd, &c, 1) != 1)
		_exit(98);
}

static void handle(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_report;
	sigaction(sig, &sa, NULL);
}

static void own_group(void)
{
	setpgid(0, 0);
}

static void own_group_tstp_handler(void)
{
	setpgid(0, 0);
	handle(SIGTSTP);
}

static void own_session(void)
{
	if (setsid() == -1)
		_exit(96);
	handle(SIGWINCH);
}

static void show_reports(const char *what, int fd, int count)
{
	char got[16];
	int n = 0;

	for (int i = 0; i < count && i < 15; i++) {
		int c = get_byte(fd);
		if (c < 0)
			break;
		got[n++] = c;
	}
	got[n] = 0;
	SHOW("%s: \"%s\"\n", what, got);
}

static void tstp_checks(void)
{
	int rep[2];

	SHOW("-- SIGTSTP with a handler\n");
	xpipe(rep);
	report_fd = rep[1];
	pid_t pid = pause_child(own_group_tstp_handler);
	setpgid(pid, pid);
	CHECK(kill(pid, SIGTSTP));
	show_reports("the handler ran", rep[0], 1);
	wait_nohang("not stopped", pid, WUNTRACED);
	kill_reap("SIGTERM", pid, SIGTERM);

	SHOW("-- stop signals with the default action, group not orphaned\n");
	pid = pause_child(own_group);
	setpgid(pid, pid); /* whoever comes first */
	SHOW("child leads its own group: %d\n", getpgid(pid) == pid);
	SHOW("in another group than its parent: %d\n", getpgid(0) != pid);
	SHOW("in its parent's session: %d\n", getsid(pid) == getsid(0));
	CHECK(kill(pid, SIGTSTP));
	wait_show("SIGTSTP", pid, WUNTRACED);
	show_proc_state("after SIGTSTP", pid);
	CHECK(kill(-pid, SIGCONT));
	wait_show("SIGCONT to the group", pid, WCONTINUED);
	CHECK(kill(-pid, SIGTTIN));
	wait_show("SIGTTIN to the group", pid, WUNTRACED);
	CHECK(kill(pid, SIGCONT));
	wait_show("SIGCONT", pid, WCONTINUED);
	CHECK(kill(pid, SIGTTOU));
	wait_show("SIGTTOU", pid, WUNTRACED);
	CHECK(kill(pid, SIGCONT));
	wait_show("SIGCONT", pid, WCONTINUED);
	kill_reap("SIGTERM", pid, SIGTERM);

	SHOW("-- stop signals with the default action, orphaned group\n");
	pid = pause_child(own_session);
	SHOW("child leads its own session: %d\n", getsid(pid) == pid);
	SHOW("child leads its own group: %d\n", getpgid(pid) == pid);
	CHECK(kill(pid, SIGTSTP));
	CHECK(kill(pid, SIGTTIN));
	CHECK(kill(pid, SIGTTOU));
	CHECK(kill(pid, SIGWINCH)); /* handled; delivered after the others */
	show_reports("SIGWINCH handler ran, no stop signal pending (w)", rep[0], 1);
	wait_nohang("SIGTSTP, SIGTTIN, SIGTTOU discarded: not stopped", pid, WUNTRACED);
	CHECK(kill(pid, SIGSTOP));
	wait_show("SIGSTOP still stops it", pid, WUNTRACED);
	CHECK(kill(pid, SIGCONT));
	wait_show("SIGCONT", pid, WCONTINUED);
	kill_reap("SIGTERM", pid, SIGTERM);
	xclose(rep);
	report_fd = -1;
}

/* ---- 5. pending SIGCONT and stop signals discard each other ---- */

static void pending_checks(void)
{
	int cmd[2], rep[2];

	SHOW("-- stop signals and SIGCONT discard each other while pending\n");
	xpipe(cmd);
	xpipe(rep);
	pid_t pid = xfork();
	if (pid == 0) {
		sigset_t block, p;

		setpgid(0, 0);
		sigemptyset(&block);
		sigaddset(&block, SIGTSTP);
		sigaddset(&block, SIGTTIN);
		sigaddset(&block, SIGTTOU);
		sigaddset(&block, SIGCONT);
		sigprocmask(SIG_BLOCK, &block, NULL);
		put_byte(rep[1], 'r');
		for (;;) {
			int c = get_byte_within(cmd[0], 10000);
			if (c != 'q')
				_exit(0);
			sigpending(&p);
			put_byte(rep[1], (sigismember(&p, SIGTSTP) ? 1 : 0) |
					 (sigismember(&p, SIGTTIN) ? 2 : 0) |
					 (sigismember(&p, SIGTTOU) ? 4 : 0) |
					 (sigismember(&p, SIGCONT) ? 8 : 0) | 0x40);
		}
	}
	setpgid(pid, pid);
	if (get_byte(rep[0]) != 'r')
		SHOW("child did not get ready\n");
#define QUERY(what) do {                                                        \
		put_byte(cmd[1], 'q');                                          \
		int b = get_byte(rep[0]);                                       \
		if (b < 0)                                                      \
			SHOW("%s: no answer\n", what);                          \
		else                                                            \
			SHOW("%s: pending:%s%s%s%s\n", what,                    \
			     b & 1 ? " SIGTSTP" : "", b & 2 ? " SIGTTIN" : "",  \
			     b & 4 ? " SIGTTOU" : "", b & 8 ? " SIGCONT" : ""); \
	} while (0)
	QUERY("at first");
	CHECK(kill(pid, SIGTSTP));
	QUERY("after SIGTSTP");
	CHECK(kill(pid, SIGTTOU));
	QUERY("after SIGTTOU");
	CHECK(kill(pid, SIGCONT));
	QUERY("after SIGCONT");
	CHECK(kill(pid, SIGTTIN));
	QUERY("after SIGTTIN");
	CHECK(kill(pid, SIGCONT));
	QUERY("after SIGCONT");
	/* SIGSTOP cannot be blocked: it stops the child though SIGCONT is
	 * blocked, and discards the pending SIGCONT; the next SIGCONT
	 * continues it though blocked, and is pending again. */
	CHECK(kill(pid, SIGSTOP));
	wait_show("SIGSTOP with SIGCONT blocked", pid, WUNTRACED);
	CHECK(kill(pid, SIGCONT));
	wait_show("blocked SIGCONT still continues", pid, WCONTINUED);
	QUERY("after SIGSTOP, SIGCONT");
	kill_reap("SIGKILL", pid, SIGKILL);
#undef QUERY
	xclose(cmd);
	xclose(rep);
}

/* ---- 6. signals to a stopped process ---- */

static void handlers_cont_usr1(void)
{
	setpgid(0, 0);
	handle(SIGCONT);
	handle(SIGUSR1);
}

static void stopped_checks(void)
{
	int rep[2];

	SHOW("-- signals to a stopped process\n");
	pid_t pid = pause_child(NULL);
	CHECK(kill(pid, SIGSTOP));
	wait_show("stopped", pid, WUNTRACED);
	CHECK(kill(pid, SIGKILL));
	wait_show("SIGKILL kills a stopped child", pid, 0);

	pid = pause_child(NULL);
	CHECK(kill(pid, SIGSTOP));
	wait_show("stopped", pid, WUNTRACED);
	/* A fatal signal other than SIGKILL waits for SIGCONT. */
	CHECK(kill(pid, SIGTERM));
	msleep(100);
	wait_nohang("SIGTERM (default action) to a stopped child", pid, 0);
	SHOW("still stopped: %d\n", proc_state(pid) == 'T');
	CHECK(kill(pid, SIGCONT));
	wait_show("then SIGCONT: the SIGTERM kills it", pid, 0);

	/* Handlers do not run while stopped; they run after SIGCONT. */
	xpipe(rep);
	report_fd = rep[1];
	pid = pause_child(handlers_cont_usr1);
	CHECK(kill(pid, SIGSTOP));
	wait_show("stopped", pid, WUNTRACED);
	CHECK(kill(pid, SIGUSR1));
	SHOW("SIGUSR1 handler does not run while stopped: %d\n",
	     get_byte_within(rep[0], 200) == -2);
	CHECK(kill(pid, SIGCONT));
	wait_show("continued", pid, WCONTINUED);
	char got[2] = { 0, 0 };
	for (int i = 0; i < 2; i++) {
		int c = get_byte(rep[0]);
		if (c >= 0)
			got[i] = c;
	}
	SHOW("after SIGCONT the SIGCONT and SIGUSR1 handlers ran: %d\n",
	     (got[0] == 'c' && got[1] == 'u') || (got[0] == 'u' && got[1] == 'c'));
	/* SIGCONT to a running process with a handler runs it. */
	CHECK(kill(pid, SIGCONT));
	show_reports("SIGCONT to a running child runs its handler", rep[0], 1);
	wait_nohang("no continue report for a running child", pid, WCONTINUED);
	kill_reap("SIGKILL", pid, SIGKILL);
	xclose(rep);
	report_fd = -1;
}

/* ---- 7. sleeping across a stop, and interrupted sleeps ---- */

struct sleep_result {
	int r, err;
	long long elapsed_ns, rem_ns;
};

enum sleep_kind { REL_NANOSLEEP, ABS_CLOCK_NANOSLEEP, REL_CLOCK_NANOSLEEP };

static void on_usr1(int sig)
{
	(void)sig;
}

/* A child that sleeps for ns and reports a sleep_result on out. */
static pid_t sleep_child(int out, enum sleep_kind kind, long long ns, int handler_flags)
{
	int ready[2];

	xpipe(ready);
	pid_t pid = xfork();
	if (pid == 0) {
		struct sleep_result res = { 0 };
		struct timespec req = { ns / 1000000000LL, ns % 1000000000LL };
		struct timespec rem = { -1, -1 };

		setpgid(0, 0);
		if (handler_flags >= 0) {
			struct sigaction sa;
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = on_usr1;
			sa.sa_flags = handler_flags;
			sigaction(SIGUSR1, &sa, NULL);
		}
		long long t0 = now_ns();
		put_byte(ready[1], 'r');
		switch (kind) {
		case REL_NANOSLEEP:
			res.r = nanosleep(&req, &rem);
			res.err = res.r == -1 ? errno : 0;
			break;
		case REL_CLOCK_NANOSLEEP:
			res.r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem);
			res.err = res.r;
			break;
		case ABS_CLOCK_NANOSLEEP: {
			long long end = t0 + ns;
			struct timespec abs = { end / 1000000000LL, end % 1000000000LL };
			res.r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, &rem);
			res.err = res.r;
			break;
		}
		}
		res.elapsed_ns = now_ns() - t0;
		res.rem_ns = rem.tv_sec == -1 ? -1 : rem.tv_sec * 1000000000LL + rem.tv_nsec;
		if (write(out, &res, sizeof(res)) != sizeof(res))
			_exit(98);
		_exit(0);
	}
	if (get_byte(ready[0]) != 'r')
		SHOW("sleep child did not get ready\n");
	xclose(ready);
	return pid;
}

static int read_result(int fd, struct sleep_result *res)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	/* The sleeps end within about 1 s of each other. */
	if (poll(&pfd, 1, 3000) != 1 || read(fd, res, sizeof(*res)) != sizeof(*res)) {
		memset(res, 0, sizeof(*res));
		return -1;
	}
	return 0;
}

#define MS 1000000LL

static void sleep_checks(void)
{
	enum { STOP_REL, STOP_ABS, STOP_CREL, INTR, INTR_RESTART, IGNORED, N };
	static const char *const names[N] = {
		"nanosleep(1 s) stopped for 0.5 s",
		"clock_nanosleep(TIMER_ABSTIME, now+1 s) stopped for 0.5 s",
		"clock_nanosleep(relative 1 s) stopped for 0.5 s",
		"nanosleep(1 s) with a SIGUSR1 handler",
		"nanosleep(1 s) with a SA_RESTART SIGUSR1 handler",
		"nanosleep(0.4 s) sent SIGURG, SIGWINCH, SIGCONT",
	};
	int pipes[N][2];
	pid_t pids[N];

	SHOW("-- sleeps across a stop, interrupted sleeps\n");
	for (int i = 0; i < N; i++)
		xpipe(pipes[i]);
	pids[STOP_REL] = sleep_child(pipes[STOP_REL][1], REL_NANOSLEEP, 1000 * MS, -1);
	pids[STOP_ABS] = sleep_child(pipes[STOP_ABS][1], ABS_CLOCK_NANOSLEEP, 1000 * MS, -1);
	pids[STOP_CREL] = sleep_child(pipes[STOP_CREL][1], REL_CLOCK_NANOSLEEP, 1000 * MS, -1);
	pids[INTR] = sleep_child(pipes[INTR][1], REL_NANOSLEEP, 1000 * MS, 0);
	pids[INTR_RESTART] = sleep_child(pipes[INTR_RESTART][1], REL_NANOSLEEP, 1000 * MS, SA_RESTART);
	pids[IGNORED] = sleep_child(pipes[IGNORED][1], REL_NANOSLEEP, 400 * MS, -1);

	msleep(100);
	kill(pids[STOP_REL], SIGSTOP);
	kill(pids[STOP_ABS], SIGSTOP);
	kill(pids[STOP_CREL], SIGSTOP);
	kill(pids[INTR], SIGUSR1);
	kill(pids[INTR_RESTART], SIGUSR1);
	kill(pids[IGNORED], SIGURG);
	kill(pids[IGNORED], SIGWINCH);
	kill(pids[IGNORED], SIGCONT);
	for (int i = STOP_REL; i <= STOP_CREL; i++)
		wait_show(names[i], pids[i], WUNTRACED);
	msleep(500);
	for (int i = STOP_REL; i <= STOP_CREL; i++) {
		kill(pids[i], SIGCONT);
		wait_show(names[i], pids[i], WCONTINUED);
	}

	for (int i = 0; i < N; i++) {
		struct sleep_result res;

		if (read_result(pipes[i][0], &res) != 0) {
			SHOW("%s: no result\n", names[i]);
			continue;
		}
		SHOW("%s: returns %d %s\n", names[i], res.r, res.err ? errname(res.err) : "");
		switch (i) {
		case STOP_REL:
		case STOP_ABS:
		case STOP_CREL:
			/* Resumes to the first deadline (1 s), neither earlier
			 * (0.6 s) nor restarting the whole sleep (1.6 s) or the
			 * time left at the stop (1.5 s). */
			SHOW("%s: took >= 1 s: %d, < 1.3 s: %d\n", names[i],
			     res.elapsed_ns >= 1000 * MS, res.elapsed_ns < 1300 * MS);
			break;
		case INTR:
		case INTR_RESTART:
			SHOW("%s: rem > 0: %d, rem < 1 s: %d, rem > 0.5 s: %d, took < 0.5 s: %d\n",
			     names[i], res.rem_ns > 0, res.rem_ns < 1000 * MS,
			     res.rem_ns > 500 * MS, res.elapsed_ns < 500 * MS);
			break;
		case IGNORED:
			SHOW("%s: took >= 0.4 s: %d\n", names[i], res.elapsed_ns >= 400 * MS);
			break;
		}
	}
	for (int i = 0; i < N; i++) {
		wait_show(names[i], pids[i], 0);
		xclose(pipes[i]);
	}
}

int main(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm(10);

	stop_continue();
	waitid_checks();
	sigchld_checks();
	tstp_checks();
	pending_checks();
	stopped_checks();
	sleep_checks();

	int st;
	SHOW("no children left: %d\n", waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD);
	SHOW("done\n");
	return 0;
}
