/*
 * procs: processes. fork vfork clone clone3 execve (ELF, #! scripts,
 * errors) wait4 waitid getppid exit exit_group kill setpgid getpgid setsid
 * getsid prctl(PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG) pipe, zombies,
 * orphans, memory after fork.
 *
 * Usage: procs PATH-OF-progs/exit
 *
 * Needs /bin/busybox (the #! scripts and the fd-inheritance check run it).
 * Every child is synchronized with pipes (never sleeps) and waited for
 * before the parent prints its next line, so the output is in a fixed
 * order. No pid is ever printed, only relations between pids.
 *
 * Native and sandboxed runs differ in one place by design: inside moat this
 * program is pid 1 (init), natively its parent is the test and pid 1 is the
 * host's init (or a subreaper). So for orphans only "getppid() changed after
 * the parent exited" is printed, never the new parent; and an orphan, which
 * inside moat becomes this program's child, is reaped without printing
 * anything (natively that wait4 fails with ECHILD at once). Only with
 * PR_SET_CHILD_SUBREAPER is the new parent known in both runs.
 */
#include "check.h"

#include <sched.h>

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

static const char *exit_prog; /* argv[1] */
static char *const no_env[] = { NULL };

/* Print a wait status as "WHAT: exited N" / "WHAT: signaled N (NAME)". */
static void show_status(const char *what, int st)
{
	if (WIFEXITED(st))
		SHOW("%s: exited %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		SHOW("%s: signaled %d (SIG%s)\n", what, WTERMSIG(st),
		     sigabbrev_np(WTERMSIG(st)));
	else
		SHOW("%s: other status 0x%x\n", what, st);
}

/* wait4 for pid (blocking); print whether it returned pid, and the status. */
static int reap(pid_t pid, const char *what)
{
	int st = 0;
	pid_t r = wait4(pid, &st, 0, NULL);

	if (r == -1) {
		SHOW("%s: wait4 -1 %s\n", what, errname(errno));
		return -1;
	}
	if (r != pid)
		SHOW("%s: wait4 returned another pid\n", what);
	show_status(what, st);
	return st;
}

static pid_t xfork(void)
{
	pid_t pid = fork();

	if (pid == -1) {
		printf("fork: -1 %s\n", errname(errno));
		exit(99);
	}
	return pid;
}

static void xpipe(int p[2], int flags)
{
	if (pipe2(p, flags) != 0) {
		printf("pipe2: -1 %s\n", errname(errno));
		exit(99);
	}
}

/* Block until one byte arrives on fd (or EOF); return the byte or -1. */
static int get_byte(int fd)
{
	unsigned char c;
	ssize_t n;

	do
		n = read(fd, &c, 1);
	while (n == -1 && errno == EINTR);
	return n == 1 ? c : -1;
}

static void put_byte(int fd, int c)
{
	unsigned char b = c;

	if (write(fd, &b, 1) != 1) {
		printf("write to pipe: -1 %s\n", errname(errno));
		exit(99);
	}
}

static void no_children(void)
{
	int st;
	siginfo_t si;

	SHOW("-- no children\n");
	CHECKV(wait4(-1, &st, 0, NULL));
	CHECKV(wait4(-1, &st, WNOHANG, NULL));
	CHECKV(wait4(12345678, &st, 0, NULL));
	CHECKV(waitid(P_ALL, 0, &si, WEXITED));
	CHECKV(waitid(P_ALL, 0, &si, WEXITED | WNOHANG));
	/* Bad options come before "no children". */
	CHECKV(waitid(P_ALL, 0, &si, 0));
	CHECKV(waitid(99, 0, &si, WEXITED));
	CHECKV(wait4(-1, &st, WNOWAIT, NULL)); /* not a wait4 option */
}

static void exit_codes(void)
{
	static const int codes[] = { 0, 1, 42, 255, 256 + 7 };
	char what[64];

	SHOW("-- exit codes\n");
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		pid_t pid = xfork();

		if (pid == 0)
			_exit(codes[i]);
		snprintf(what, sizeof(what), "_exit(%d)", codes[i]);
		reap(pid, what);
	}
	/* exit() runs atexit handlers and flushes stdio in the child. */
	pid_t pid = xfork();
	if (pid == 0) {
		printf("child: printed without a newline, flushed by exit");
		exit(3);
	}
	int st;
	if (wait4(pid, &st, 0, NULL) != pid)
		SHOW("exit(3): wait4 -1 %s", errname(errno));
	SHOW("\n"); /* ends the child's line, once it has been printed */
	show_status("exit(3)", st);
	pid = xfork();
	if (pid == 0)
		syscall(SYS_exit_group, 17);
	reap(pid, "exit_group(17)");
	pid = xfork();
	if (pid == 0)
		syscall(SYS_exit, 18); /* the only thread: the process exits */
	reap(pid, "exit(18) raw");

	/* wait4 with a struct rusage. */
	struct rusage ru;
	pid = xfork();
	if (pid == 0)
		_exit(4);
	SHOW("wait4 with rusage returned the pid: %d\n", wait4(pid, &st, 0, &ru) == pid);
	show_status("rusage child", st);
	/* A NULL status pointer is fine. */
	pid = xfork();
	if (pid == 0)
		_exit(5);
	SHOW("wait4 with NULL status returned the pid: %d\n", wait4(pid, NULL, 0, NULL) == pid);
}

static int global_var = 1;

static void memory_copy(void)
{
	int stack_var = 10;
	int *heap = malloc(sizeof(int));
	int *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	SHOW("-- memory after fork\n");
	*heap = 100;
	*anon = 1000;
	pid_t pid = xfork();
	if (pid == 0) {
		SHOW("child sees the parent's values: %d\n",
		     global_var == 1 && stack_var == 10 && *heap == 100 && *anon == 1000);
		global_var = 2;
		stack_var = 20;
		*heap = 200;
		*anon = 2000;
		SHOW("child sees its own writes: %d\n",
		     global_var == 2 && stack_var == 20 && *heap == 200 && *anon == 2000);
		_exit(0);
	}
	reap(pid, "memory child");
	SHOW("parent's global unchanged: %d\n", global_var == 1);
	SHOW("parent's stack unchanged: %d\n", stack_var == 10);
	SHOW("parent's heap unchanged: %d\n", *heap == 100);
	SHOW("parent's private mapping unchanged: %d\n", *anon == 1000);
	/* The parent writes after the fork; the child must not see it. */
	int p[2];
	xpipe(p, 0);
	pid = xfork();
	if (pid == 0) {
		get_byte(p[0]);
		_exit(global_var == 1 && *anon == 1000 ? 0 : 1);
	}
	global_var = 3;
	*anon = 3000;
	put_byte(p[1], 'x');
	reap(pid, "child does not see the parent's later writes (0)");
	close(p[0]);
	close(p[1]);
	global_var = 1;
	munmap(anon, 4096);
	free(heap);
}

static void shared_memory(void)
{
	volatile int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	SHOW("-- MAP_SHARED after fork\n");
	shared[0] = 1;
	pid_t pid = xfork();
	if (pid == 0) {
		shared[1] = shared[0] + 41;
		_exit(0);
	}
	reap(pid, "shared child");
	SHOW("parent sees the child's write to MAP_SHARED: %d\n", shared[1] == 42);
	munmap((void *)shared, 4096);
}

static void parent_child_ids(void)
{
	int p[2];
	pid_t me = getpid(), child_says;

	SHOW("-- getpid/getppid\n");
	xpipe(p, 0);
	pid_t pid = xfork();
	if (pid == 0) {
		pid_t self = getpid();

		SHOW("child: getppid()==parent's getpid(): %d\n", getppid() == me);
		SHOW("child: getpid()!=parent's getpid(): %d\n", self != me);
		SHOW("child: gettid()==getpid(): %d\n", gettid() == self);
		SHOW("child: raw getpid==getpid(): %d\n", syscall(SYS_getpid) == self);
		if (write(p[1], &self, sizeof(self)) != sizeof(self))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &child_says, sizeof(child_says)) != sizeof(child_says))
		child_says = -1;
	close(p[0]);
	SHOW("fork's return value == child's getpid(): %d\n", child_says == pid);
	reap(pid, "ids child");
}

static void signals(void)
{
	int ready[2], never[2];
	pid_t pid;

	SHOW("-- kill\n");
	/* SIGKILL a child blocked in read. */
	xpipe(ready, 0);
	xpipe(never, 0);
	pid = xfork();
	if (pid == 0) {
		put_byte(ready[1], 'r');
		get_byte(never[0]);
		_exit(0);
	}
	get_byte(ready[0]);
	CHECK(kill(pid, 0));
	CHECK(kill(pid, SIGKILL));
	reap(pid, "SIGKILL'd child");
	CHECK(kill(pid, 0));
	CHECK(kill(pid, SIGKILL));

	/* SIGTERM a child in pause. */
	pid = xfork();
	if (pid == 0) {
		put_byte(ready[1], 'r');
		for (;;)
			pause();
	}
	get_byte(ready[0]);
	CHECK(kill(pid, SIGTERM));
	reap(pid, "SIGTERM'd child");

	/* SIGUSR1 (default: terminate) a child blocked in wait4 for its own child. */
	int gp[2], st;
	xpipe(gp, 0);
	pid = xfork();
	if (pid == 0) {
		pid_t g = xfork();
		if (g == 0) {
			close(gp[1]);
			get_byte(gp[0]);
			_exit(0);
		}
		close(gp[1]);
		put_byte(ready[1], 'r');
		wait4(g, NULL, 0, NULL);
		_exit(0);
	}
	close(gp[0]);
	get_byte(ready[0]);
	CHECK(kill(pid, SIGUSR1));
	reap(pid, "SIGUSR1'd child (blocked in wait4)");
	/* Its child, now an orphan, exits when the last write end of gp
	 * closes. Inside moat it became this program's child (pid 1): reap
	 * it without printing; natively wait4 fails with ECHILD at once. */
	close(gp[1]);
	while (wait4(-1, &st, 0, NULL) > 0)
		;

	/* Signals whose default action is to ignore them do nothing. */
	int go[2];
	xpipe(go, 0);
	pid = xfork();
	if (pid == 0) {
		int c;

		put_byte(ready[1], 'r');
		c = get_byte(go[0]);
		_exit(c == 'g' ? 5 : 6);
	}
	get_byte(ready[0]);
	CHECK(kill(pid, SIGCHLD));
	CHECK(kill(pid, SIGURG));
	CHECK(kill(pid, SIGWINCH));
	CHECK(kill(pid, 0));
	put_byte(go[1], 'g');
	reap(pid, "child sent ignored signals, then released (5)");

	/* A zombie still exists for kill until it is reaped. */
	pid = xfork();
	if (pid == 0)
		_exit(0);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	CHECK(waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
	CHECK(kill(pid, 0));
	CHECK(kill(pid, SIGKILL));
	reap(pid, "zombie that was sent SIGKILL");
	CHECK(kill(pid, 0));

	/* Bad signal numbers. */
	pid = xfork();
	if (pid == 0) {
		get_byte(go[0]);
		_exit(0);
	}
	CHECK(kill(pid, 65));
	CHECK(kill(pid, -1));
	put_byte(go[1], 'g');
	reap(pid, "child after bad signal numbers");

	close(ready[0]);
	close(ready[1]);
	close(never[0]);
	close(never[1]);
	close(go[0]);
	close(go[1]);
}

static void nohang(void)
{
	int go[2], st = -1;
	siginfo_t si;

	SHOW("-- WNOHANG\n");
	xpipe(go, 0);
	pid_t pid = xfork();
	if (pid == 0) {
		get_byte(go[0]);
		_exit(6);
	}
	CHECKV(wait4(pid, &st, WNOHANG, NULL));
	CHECKV(wait4(-1, &st, WNOHANG, NULL));
	memset(&si, 0xff, sizeof(si));
	si.si_pid = 1;
	CHECKV(waitid(P_PID, pid, &si, WEXITED | WNOHANG));
	SHOW("waitid WNOHANG with nothing to report: si_pid==0: %d\n", si.si_pid == 0);
	put_byte(go[1], 'g');
	reap(pid, "child released after WNOHANG");
	close(go[0]);
	close(go[1]);

	/* WNOHANG once the child is surely a zombie: it reports it. */
	pid = xfork();
	if (pid == 0)
		_exit(8);
	memset(&si, 0, sizeof(si));
	waitid(P_PID, pid, &si, WEXITED | WNOWAIT); /* blocks until it is a zombie */
	SHOW("WNOHANG on a zombie returns its pid: %d\n", wait4(pid, &st, WNOHANG, NULL) == pid);
	show_status("zombie reaped with WNOHANG", st);
}

static void specific_pid(void)
{
	int ga[2], gb[2], st;

	SHOW("-- wait4 on a specific pid\n");
	xpipe(ga, 0);
	xpipe(gb, 0);
	pid_t a = xfork();
	if (a == 0) {
		get_byte(ga[0]);
		_exit(1);
	}
	pid_t b = xfork();
	if (b == 0) {
		get_byte(gb[0]);
		_exit(2);
	}
	put_byte(gb[1], 'g');
	reap(b, "second child, waited for by pid");
	CHECKV(wait4(a, &st, WNOHANG, NULL));
	CHECKV(wait4(b, &st, WNOHANG, NULL));
	put_byte(ga[1], 'g');
	pid_t r = wait4(-1, &st, 0, NULL);
	SHOW("wait4(-1) returned the first child: %d\n", r == a);
	show_status("first child", st);
	CHECKV(wait4(a, &st, 0, NULL));
	CHECKV(wait4(-1, &st, 0, NULL));
	close(ga[0]);
	close(ga[1]);
	close(gb[0]);
	close(gb[1]);

	/* Many children, reaped in whatever order: count and sum. */
	int count = 0, sum = 0;
	for (int i = 0; i < 20; i++) {
		if (xfork() == 0)
			_exit(i);
	}
	while (wait4(-1, &st, 0, NULL) > 0) {
		count++;
		sum += WIFEXITED(st) ? WEXITSTATUS(st) : 1000;
	}
	SHOW("20 children reaped: count %d, sum of statuses %d, then %s\n",
	     count, sum, errname(errno));

	/* A chain: each process forks the next and exits with its status + 1. */
	pid_t c = xfork();
	if (c == 0) {
		int depth = 0;

		for (;;) {
			if (depth == 5)
				_exit(0);
			pid_t n = fork();
			if (n == -1)
				_exit(100);
			if (n == 0) {
				depth++;
				continue;
			}
			if (wait4(n, &st, 0, NULL) != n || !WIFEXITED(st))
				_exit(101);
			_exit(WEXITSTATUS(st) + 1);
		}
	}
	reap(c, "chain of 5 nested forks (5)");
}

static void show_siginfo(const char *what, const siginfo_t *si, pid_t pid)
{
	const char *code = si->si_code == CLD_EXITED ? "CLD_EXITED" :
			   si->si_code == CLD_KILLED ? "CLD_KILLED" :
			   si->si_code == CLD_DUMPED ? "CLD_DUMPED" : "other";

	SHOW("%s: si_signo %s, si_code %s, si_status %d, si_pid==child %d\n",
	     what, si->si_signo == SIGCHLD ? "SIGCHLD" : "other", code,
	     si->si_status, si->si_pid == pid);
}

static void waitid_checks(void)
{
	siginfo_t si;
	int go[2], st;

	SHOW("-- waitid\n");
	pid_t pid = xfork();
	if (pid == 0)
		_exit(42);
	memset(&si, 0, sizeof(si));
	CHECKV(waitid(P_PID, pid, &si, WEXITED));
	show_siginfo("waitid(P_PID) exit 42", &si, pid);

	xpipe(go, 0);
	pid = xfork();
	if (pid == 0) {
		get_byte(go[0]);
		_exit(0);
	}
	CHECK(kill(pid, SIGKILL));
	memset(&si, 0, sizeof(si));
	CHECKV(waitid(P_ALL, 0, &si, WEXITED));
	show_siginfo("waitid(P_ALL) SIGKILL", &si, pid);
	close(go[0]);
	close(go[1]);

	SHOW("-- WNOWAIT\n");
	pid = xfork();
	if (pid == 0)
		_exit(7);
	memset(&si, 0, sizeof(si));
	CHECKV(waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
	show_siginfo("first WNOWAIT", &si, pid);
	memset(&si, 0, sizeof(si));
	CHECKV(waitid(P_ALL, 0, &si, WEXITED | WNOWAIT));
	show_siginfo("second WNOWAIT", &si, pid);
	SHOW("wait4 after WNOWAIT reaps it: %d\n", wait4(pid, &st, 0, NULL) == pid);
	show_status("reaped after WNOWAIT", st);
	CHECKV(wait4(pid, &st, 0, NULL));
	CHECKV(waitid(P_PID, pid, &si, WEXITED));
}

static void groups(void)
{
	int ready[2], hold[2], go[2], st;
	siginfo_t si;

	SHOW("-- process groups\n");
	/* Children that leave this program's group are out of reach of the
	 * harness's group kill: they block only on pipes whose write end
	 * only this program holds, so they go away if it dies. A pipe is
	 * never reused after a kill: a killed process can still take a byte
	 * that arrives before it dies. */
	xpipe(ready, 0);
	xpipe(hold, 0);
	/* A child that makes its own group, and a grandchild in it. */
	pid_t pid = xfork();
	if (pid == 0) {
		close(hold[1]);
		if (setpgid(0, 0) != 0)
			_exit(1);
		SHOW("child: getpgrp()==getpid() after setpgid(0, 0): %d\n", getpgrp() == getpid());
		if (xfork() == 0) {
			SHOW("grandchild: in its parent's group: %d\n", getpgrp() == getppid());
			put_byte(ready[1], 'r');
			get_byte(hold[0]);
			_exit(0);
		}
		put_byte(ready[1], 'r');
		get_byte(hold[0]);
		_exit(0);
	}
	get_byte(ready[0]);
	get_byte(ready[0]);
	SHOW("getpgid(child)==child: %d\n", getpgid(pid) == pid);
	SHOW("getpgid(child)!=getpgrp(): %d\n", getpgid(pid) != getpgrp());
	CHECK(kill(-pid, SIGKILL));
	reap(pid, "child whose group got SIGKILL");
	close(hold[0]);
	close(hold[1]);
	/* Inside moat the grandchild was reparented to this program: reap it
	 * quietly (natively wait4 fails with ECHILD at once). */
	while (wait4(-1, &st, 0, NULL) > 0)
		;

	/* Waiting by group: wait4(-pgid) and waitid(P_PGID). */
	xpipe(go, 0);
	pid_t a = xfork();
	if (a == 0) {
		close(go[1]);
		setpgid(0, 0);
		put_byte(ready[1], 'r');
		_exit(get_byte(go[0]) == 'g' ? 21 : 1);
	}
	pid_t b = xfork();
	if (b == 0) {
		close(go[1]);
		_exit(get_byte(go[0]) == 'g' ? 22 : 2);
	}
	get_byte(ready[0]);
	CHECKV(wait4(-a, &st, WNOHANG, NULL));
	put_byte(go[1], 'g');
	put_byte(go[1], 'g');
	SHOW("wait4(-pgid) returned the child in that group: %d\n", wait4(-a, &st, 0, NULL) == a);
	show_status("child in its own group", st);
	memset(&si, 0, sizeof(si));
	CHECKV(waitid(P_PGID, a, &si, WEXITED | WNOHANG));
	memset(&si, 0, sizeof(si));
	CHECKV(waitid(P_PGID, getpgrp(), &si, WEXITED));
	show_siginfo("waitid(P_PGID, own group)", &si, b);
	close(go[0]);
	close(go[1]);

	/* setsid in a child: a new session and group led by the child. */
	pid = xfork();
	if (pid == 0) {
		pid_t sid = setsid();

		SHOW("child: setsid()==getpid(): %d\n", sid == getpid());
		SHOW("child: getsid(0)==getpid(): %d, getpgrp()==getpid(): %d\n",
		     getsid(0) == getpid(), getpgrp() == getpid());
		SHOW("child: second setsid(): %s\n", setsid() == -1 ? errname(errno) : "ok");
		_exit(0);
	}
	reap(pid, "setsid child");
	close(ready[0]);
	close(ready[1]);
}

static void subreaper(void)
{
	int ready[2], report[2], st;
	pid_t me = getpid();

	SHOW("-- PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG\n");
	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	int on = 0;
	CHECK(prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0));
	SHOW("PR_GET_CHILD_SUBREAPER: %d\n", on);
	xpipe(ready, 0);
	xpipe(report, 0);

	/* An orphan is reparented to the subreaper (this program). */
	pid_t pid = xfork();
	pid_t grandchild;
	if (pid == 0) {
		pid_t g = xfork();
		if (g == 0) {
			get_byte(ready[0]);
			put_byte(report[1], getppid() == me);
			_exit(23);
		}
		if (write(report[1], &g, sizeof(g)) != sizeof(g))
			_exit(1);
		_exit(0);
	}
	if (read(report[0], &grandchild, sizeof(grandchild)) != sizeof(grandchild))
		grandchild = -1;
	reap(pid, "child that left an orphan");
	put_byte(ready[1], 'g');
	SHOW("orphan: getppid()==subreaper: %d\n", get_byte(report[0]));
	reap(grandchild, "orphan reaped by the subreaper");

	/* PR_SET_PDEATHSIG: the grandchild gets SIGTERM when its parent dies. */
	pid = xfork();
	if (pid == 0) {
		pid_t g = xfork();
		if (g == 0) {
			int sig = 0;

			prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
			prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0);
			put_byte(report[1], sig);
			for (;;)
				pause();
		}
		get_byte(report[0]);
		if (write(report[1], &g, sizeof(g)) != sizeof(g))
			_exit(1);
		_exit(0);
	}
	reap(pid, "parent of a PR_SET_PDEATHSIG child");
	/* The child read the first byte, then wrote the pid. */
	if (read(report[0], &grandchild, sizeof(grandchild)) != sizeof(grandchild))
		grandchild = -1;
	reap(grandchild, "PR_SET_PDEATHSIG(SIGTERM) child after its parent exited");

	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0));
	close(ready[0]);
	close(ready[1]);
	close(report[0]);
	close(report[1]);
	(void)st;
}

/* The state letter of process pid in /proc/PID/stat, or 0. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

static volatile sig_atomic_t chld_handled;
static void on_chld(int sig)
{
	(void)sig;
	chld_handled++;
}

/*
 * A SIGCHLD handler without SA_RESTART, and a blocked wait4 when the child
 * exits: Linux wakes the wait with the zombie and the signal together, and
 * the wait looks at its children before at its signals, so it returns the
 * child (not EINTR); the handler runs on the way out. The child exits once
 * the parent sleeps (its state in /proc is S), or after about 2 s anyway.
 */
static void wait_with_handler(void)
{
	struct sigaction sa = { .sa_handler = on_chld }, old;

	SHOW("-- wait4 interrupted by the SIGCHLD of its child\n");
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGCHLD, &sa, &old));
	chld_handled = 0;
	pid_t parent = getpid();
	pid_t pid = xfork();
	if (pid == 0) {
		for (int i = 0; i < 200000 && proc_state(parent) != 'S'; i++)
			if (i > 1000)
				usleep(10);
		_exit(5);
	}
	int st = 0;
	pid_t r = wait4(pid, &st, 0, NULL);
	int e = errno;
	if (r == pid)
		SHOW("wait4 returned the child, handler ran %d time(s)\n", (int)chld_handled);
	else
		SHOW("wait4: %d %s\n", (int)r, r == -1 ? errname(e) : "other pid");
	if (r != pid)
		reap(pid, "wait4 again");
	else
		show_status("wait4", st);
	CHECK(sigaction(SIGCHLD, &old, NULL));
}

static void vforks(void)
{
	char *const argv[] = { "exit", "11", NULL };

	SHOW("-- vfork\n");
	pid_t pid = vfork();
	if (pid == 0)
		_exit(9);
	SHOW("vfork returned a pid: %d\n", pid > 0);
	reap(pid, "vfork + _exit(9)");
	pid = vfork();
	if (pid == 0) {
		execve(exit_prog, argv, no_env);
		_exit(127);
	}
	reap(pid, "vfork + execve(exit 11)");
	pid = vfork();
	if (pid == 0) {
		execve("/no/such/program", argv, no_env);
		_exit(126);
	}
	reap(pid, "vfork + failed execve + _exit(126)");
}

/* fork, then execve(path, argv) in the child; on failure the child prints
 * the error and exits 127. */
static void exec_child(const char *what, const char *path, char *const argv[],
		       char *const envp[])
{
	pid_t pid = xfork();

	if (pid == 0) {
		execve(path, argv, envp);
		SHOW("%s: execve -1 %s\n", what, errname(errno));
		_exit(127);
	}
	reap(pid, what);
}

static void write_file(const char *name, const char *content, mode_t mode)
{
	/* The mode is set by open (under umask 022), not by chmod: a missing
	 * chmod should fail its own check, not every exec check. */
	int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, mode);

	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content) ||
	    close(fd) != 0) {
		printf("writing %s: %s\n", name, errname(errno));
		exit(99);
	}
}

static void execveats(char *const exit13[], char *const none[]);

static void execs(void)
{
	char *const exit13[] = { "exit", "13", NULL };
	char *const none[] = { "x", NULL };

	SHOW("-- execve\n");
	exec_child("execve(exit 13)", exit_prog, exit13, no_env);
	exec_child("execve(missing)", "./no-such-file", none, no_env);
	exec_child("execve(missing dir)", "./no-such-dir/x", none, no_env);
	exec_child("execve(directory)", ".", none, no_env);
	exec_child("execve(/)", "/", none, no_env);
	write_file("plain.txt", "just text\n", 0644);
	exec_child("execve(not executable)", "./plain.txt", none, no_env);
	exec_child("execve(file/x)", "./plain.txt/x", none, no_env);
	write_file("garbage", "\x01\x02\x03 this is not a program\n", 0755);
	exec_child("execve(garbage +x)", "./garbage", none, no_env);
	write_file("empty", "", 0755);
	exec_child("execve(empty +x)", "./empty", none, no_env);
	write_file("elfhead", "\x7f" "ELF", 0755);
	exec_child("execve(truncated ELF +x)", "./elfhead", none, no_env);
	exec_child("execve(empty path)", "", none, no_env);

	SHOW("-- #! scripts\n");
	char *const script_argv[] = { "./script.sh", "arg1", NULL };
	write_file("script.sh", "#!/bin/busybox sh\necho script $0 $1\n", 0700);
	CHECK(chmod("script.sh", 0755));
	exec_child("execve(script.sh arg1)", "./script.sh", script_argv, no_env);
	char *const spaced_argv[] = { "./spaced.sh", "a b", "c", NULL };
	write_file("spaced.sh", "#!   /bin/busybox   sh  \necho spaced: $# \"$1\" \"$2\"\nexit 3\n", 0755);
	exec_child("execve(spaced.sh)", "./spaced.sh", spaced_argv, no_env);
	char *const env_argv[] = { "./env.sh", NULL };
	char *const env[] = { "FOO=bar", "EMPTY=", NULL };
	write_file("env.sh", "#!/bin/busybox sh\necho env: FOO=$FOO EMPTY=[$EMPTY] UNSET=[$UNSET]\n", 0755);
	exec_child("execve(env.sh) with an environment", "./env.sh", env_argv, env);
	write_file("badinterp.sh", "#!/no/such/interpreter\necho no\n", 0755);
	exec_child("execve(missing interpreter)", "./badinterp.sh", none, no_env);
	write_file("dirinterp.sh", "#!/tmp\necho no\n", 0755);
	exec_child("execve(directory as interpreter)", "./dirinterp.sh", none, no_env);
	write_file("noexec.sh", "#!/bin/busybox sh\necho no\n", 0644);
	exec_child("execve(script without x)", "./noexec.sh", none, no_env);

	/* Nested #!: n0 is run by busybox, nK by n(K-1). Linux allows
	 * 4 levels of script interpreters (n4) and fails n5 with ELOOP. */
	char name[16], content[32];
	write_file("n0", "#!/bin/busybox sh\necho n0: \"$@\"\n", 0755);
	for (int i = 1; i <= 6; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		snprintf(content, sizeof(content), "#!./n%d\n", i - 1);
		write_file(name, content, 0755);
	}
	for (int i = 0; i <= 6; i++) {
		char path[16], what[32];

		snprintf(path, sizeof(path), "./n%d", i);
		snprintf(what, sizeof(what), "execve(n%d)", i);
		char *const argv[] = { path, "arg", NULL };
		exec_child(what, path, argv, no_env);
	}

	SHOW("-- fds across execve\n");
	int keep[2], cloexec[2];
	char script[128], buf[64];
	xpipe(keep, 0);
	xpipe(cloexec, O_CLOEXEC);
	snprintf(script, sizeof(script), "echo kept >&%d; echo closed >&%d 2>/dev/null; exit 0",
		 keep[1], cloexec[1]);
	char *const sh_argv[] = { "sh", "-c", script, NULL };
	pid_t pid = xfork();
	if (pid == 0) {
		execve("/bin/busybox", sh_argv, no_env);
		_exit(127);
	}
	close(keep[1]);
	close(cloexec[1]);
	ssize_t n = read(keep[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	SHOW("read from the inherited fd: %zd \"%.*s\"\n", n, (int)strcspn(buf, "\n"), buf);
	n = read(cloexec[0], buf, sizeof(buf));
	SHOW("read from the O_CLOEXEC fd (EOF): %zd\n", n);
	reap(pid, "sh -c writing to both fds");
	close(keep[0]);
	close(cloexec[0]);

	/* argv[0] and an empty argument reach the new program. */
	char *const args_argv[] = { "custom-argv0", "", "two words", NULL };
	write_file("args.sh", "#!/bin/busybox sh\necho args: $# \"[$1]\" \"[$2]\"\n", 0755);
	exec_child("execve(args.sh) with an empty argument", "./args.sh", args_argv, no_env);
	execveats(exit13, none);
}

/* execveat_child is exec_child for execveat(dirfd, path, ..., flags). */
static void execveat_child(const char *what, int dirfd, const char *path, char *const argv[], int flags)
{
	pid_t pid = xfork();

	if (pid == 0) {
		syscall(SYS_execveat, dirfd, path, argv, no_env, flags);
		SHOW("%s: execveat -1 %s\n", what, errname(errno));
		_exit(127);
	}
	reap(pid, what);
}

static void execveats(char *const exit13[], char *const none[])
{
	SHOW("-- execveat\n");
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	int prog = open(exit_prog, O_RDONLY);
	int opath = open(exit_prog, O_PATH);
	int text = open("plain.txt", O_RDONLY);
	char *const script_argv[] = { "script", "via-fd", NULL };

	execveat_child("execveat(dir, script.sh)", dir, "script.sh", script_argv, 0);
	execveat_child("execveat(prog, \"\", AT_EMPTY_PATH)", prog, "", exit13, AT_EMPTY_PATH);
	execveat_child("execveat(O_PATH prog, \"\", AT_EMPTY_PATH)", opath, "", exit13, AT_EMPTY_PATH);
	execveat_child("execveat(text, \"\", AT_EMPTY_PATH)", text, "", none, AT_EMPTY_PATH);
	execveat_child("execveat(prog, \"\", 0)", prog, "", none, 0);
	execveat_child("execveat(AT_FDCWD, absolute)", AT_FDCWD, exit_prog, exit13, 0);
	execveat_child("execveat(text fd, relative)", text, "x", none, 0);
	execveat_child("execveat(bad fd, relative)", 999, "x", none, 0);
	execveat_child("execveat(bad flags)", AT_FDCWD, exit_prog, none, 0x4000);
	CHECK(symlink(exit_prog, "exit-link"));
	execveat_child("execveat(symlink, AT_SYMLINK_NOFOLLOW)", dir, "exit-link", none, AT_SYMLINK_NOFOLLOW);
	execveat_child("execveat(symlink)", dir, "exit-link", exit13, 0);
	close(dir);
	close(prog);
	close(opath);
	close(text);
}

struct clone_args_v0 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
		stack_size, tls;
};

static void clones(void)
{
	struct clone_args_v0 ca;
	int st;

	SHOW("-- clone, clone3\n");
	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	long pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		syscall(SYS_exit_group, 3);
	SHOW("clone3(exit_signal=SIGCHLD) returned a pid: %d\n", pid > 0);
	if (pid > 0)
		reap(pid, "clone3 child");

	pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (pid == 0)
		syscall(SYS_exit_group, 4);
	SHOW("clone(SIGCHLD) returned a pid: %d\n", pid > 0);
	if (pid > 0)
		reap(pid, "clone child");

	/* exit_signal 0: a "clone" child, only waited for with __WALL/__WCLONE. */
	memset(&ca, 0, sizeof(ca));
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		syscall(SYS_exit_group, 5);
	SHOW("clone3(exit_signal=0) returned a pid: %d\n", pid > 0);
	if (pid > 0) {
		CHECKV(wait4(pid, &st, WNOHANG, NULL));
		SHOW("wait4(__WALL) returns it: %d\n", wait4(pid, &st, __WALL, NULL) == pid);
		show_status("clone3(exit_signal=0) child", st);
	}

	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	CHECKV(syscall(SYS_clone3, &ca, 8));
	ca.exit_signal = 100;
	CHECKV(syscall(SYS_clone3, &ca, sizeof(ca)));
	ca.exit_signal = SIGCHLD;
	ca.flags = CSIGNAL & SIGCHLD;
	CHECKV(syscall(SYS_clone3, &ca, sizeof(ca)));
	ca.flags = 0;
	ca.stack_size = 4096; /* a size without a stack */
	CHECKV(syscall(SYS_clone3, &ca, sizeof(ca)));
	/* A TLS base that is not a user address: EPERM, the caller unharmed. */
	ca.stack_size = 0;
	ca.flags = CLONE_SETTLS;
	ca.tls = 0x7ffffffff000;
	CHECKV(syscall(SYS_clone3, &ca, sizeof(ca)));
	CHECKV(syscall(SYS_clone, CLONE_SETTLS | SIGCHLD, 0, 0, 0, 1UL << 47));
	/* CLONE_SIGHAND needs CLONE_VM, CLONE_THREAD needs CLONE_SIGHAND.
	 * (CLONE_VM | CLONE_SIGHAND without CLONE_THREAD is allowed, but
	 * moat does not share handlers between processes yet.) */
	CHECKV(syscall(SYS_clone, CLONE_SIGHAND | SIGCHLD, 0, 0, 0, 0));
	CHECKV(syscall(SYS_clone, CLONE_THREAD | CLONE_VM | SIGCHLD, 0, 0, 0, 0));
	ca.flags = 0;
	ca.tls = 0;

	/* CLONE_FILES: one fd table for both processes. */
	int pre = open("/dev/null", O_RDONLY);
	pid = syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, 0, 0, 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);
		close(pre);
		syscall(SYS_exit_group, fd);
	}
	reap(pid, "CLONE_FILES child (status: the fd it opened)");
	errno = 0;
	SHOW("fd the child closed: fcntl -1 %s\n", fcntl(pre, F_GETFD) == -1 ? errname(errno) : "open");
	SHOW("fd the child opened is open here: %d\n", fcntl(pre + 1, F_GETFD) != -1);
	close(pre + 1);

	/* CLONE_FS: one cwd and umask for both. */
	char before[256], after[256];
	getcwd(before, sizeof(before));
	mode_t old = umask(022);
	pid = syscall(SYS_clone, CLONE_FS | SIGCHLD, 0, 0, 0, 0);
	if (pid == 0) {
		umask(077);
		syscall(SYS_exit_group, chdir("/") == 0 ? 0 : 1);
	}
	reap(pid, "CLONE_FS child");
	getcwd(after, sizeof(after));
	SHOW("cwd after the CLONE_FS child's chdir: %s, umask %03o\n", after, umask(old));
	CHECK(chdir(before));
	pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (pid == 0)
		syscall(SYS_exit_group, chdir("/") == 0 ? 0 : 1);
	reap(pid, "child without CLONE_FS");
	getcwd(after, sizeof(after));
	SHOW("cwd kept without CLONE_FS: %d\n", strcmp(before, after) == 0);
}

static void pipes(void)
{
	int p[2], st;
	char buf[4096];
	size_t total = 0;
	ssize_t n;
	char text[256];

	SHOW("-- pipe sizes\n");
	xpipe(p, 0);
	CHECKV(fcntl(p[0], F_GETPIPE_SZ));
	CHECKV(fcntl(p[1], F_SETPIPE_SZ, 100000));
	CHECKV(fcntl(p[0], F_GETPIPE_SZ));
	CHECKV(fcntl(p[1], F_SETPIPE_SZ, 0));
	memset(buf, 'p', sizeof(buf));
	CHECKV(write(p[1], buf, 200));
	CHECKV(fcntl(p[1], F_SETPIPE_SZ, -1));
	int devnull = open("/dev/null", O_RDONLY);
	CHECKV(fcntl(devnull, F_GETPIPE_SZ));
	close(devnull);
	close(p[0]);
	close(p[1]);

	SHOW("-- pipes between parent and child\n");
	xpipe(p, 0);
	pid_t pid = xfork();
	if (pid == 0) {
		close(p[0]);
		for (int i = 1; i <= 3; i++) {
			int len = snprintf(buf, sizeof(buf), "line %d from the child\n", i);
			if (write(p[1], buf, len) != len)
				_exit(1);
		}
		close(p[1]);
		_exit(0);
	}
	close(p[1]);
	while ((n = read(p[0], text + total, sizeof(text) - 1 - total)) > 0)
		total += n;
	text[total] = 0;
	SHOW("parent read until EOF (last read %zd), %zu bytes:\n%s", n, total, text);
	close(p[0]);
	reap(pid, "writer child");

	/* More than a pipe holds: the writer blocks until the reader reads. */
	xpipe(p, 0);
	pid = xfork();
	if (pid == 0) {
		close(p[0]);
		for (int i = 0; i < 256; i++) {
			memset(buf, i, 1024);
			for (size_t off = 0; off < 1024;) {
				n = write(p[1], buf + off, 1024 - off);
				if (n <= 0)
					_exit(1);
				off += n;
			}
		}
		_exit(0);
	}
	close(p[1]);
	uint64_t sum = 14695981039346656037ull; /* FNV-1a */
	total = 0;
	while ((n = read(p[0], buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			sum = (sum ^ (unsigned char)buf[i]) * 1099511628211ull;
		total += n;
	}
	SHOW("256 KiB through a pipe: %zu bytes, hash %llx\n", total, (unsigned long long)sum);
	close(p[0]);
	reap(pid, "bulk writer child");

	/* A request and a reply. */
	int to[2], from[2];
	xpipe(to, 0);
	xpipe(from, 0);
	pid = xfork();
	if (pid == 0) {
		int c = get_byte(to[0]);
		put_byte(from[1], c * 2);
		_exit(0);
	}
	put_byte(to[1], 21);
	SHOW("child doubled 21: %d\n", get_byte(from[0]));
	reap(pid, "echo child");
	close(to[0]);
	close(to[1]);
	close(from[0]);
	close(from[1]);

	/* Writing to a pipe nobody reads: SIGPIPE (default: terminate). */
	xpipe(p, 0);
	close(p[0]);
	pid = xfork();
	if (pid == 0) {
		if (write(p[1], "x", 1) < 0)
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	reap(pid, "child writing to a pipe without readers");

	/* The child's end stays open in a grandchild: no EOF until it goes. */
	int go[2];
	xpipe(p, 0);
	xpipe(go, 0);
	pid = xfork();
	if (pid == 0) {
		close(p[0]);
		if (xfork() == 0) {
			get_byte(go[0]);
			if (write(p[1], "late\n", 5) != 5)
				_exit(1);
			_exit(0);
		}
		_exit(0);
	}
	close(p[1]);
	reap(pid, "child that left a grandchild holding the pipe");
	put_byte(go[1], 'g');
	n = read(p[0], buf, sizeof(buf));
	SHOW("read from the grandchild: %zd\n", n);
	n = read(p[0], buf, sizeof(buf));
	SHOW("then EOF: %zd\n", n);
	close(p[0]);
	close(go[0]);
	close(go[1]);
	/* Inside moat the grandchild was reparented to this program (pid 1):
	 * reap it quietly (natively there is nothing to reap). */
	while (wait4(-1, &st, 0, NULL) > 0)
		;
}

static void orphan(void)
{
	int report[2], go[2], st;

	SHOW("-- orphan\n");
	xpipe(report, 0);
	xpipe(go, 0);
	pid_t child = xfork();
	if (child == 0) {
		pid_t self = getpid();

		int recorded[2];

		xpipe(recorded, 0);
		if (xfork() == 0) {
			int before = getppid() == self;

			put_byte(recorded[1], 'r');
			get_byte(go[0]);
			/* Natively the new parent is the host's init or a
			 * subreaper, inside moat it is pid 1: only print that
			 * it changed. */
			put_byte(report[1], before);
			put_byte(report[1], getppid() != self && getppid() != 0);
			_exit(0);
		}
		get_byte(recorded[0]); /* exit only once the orphan saw us */
		_exit(0);
	}
	close(report[1]);
	reap(child, "child that left an orphan");
	put_byte(go[1], 'g');
	SHOW("orphan: getppid() was its parent: %d\n", get_byte(report[0]));
	SHOW("orphan: getppid() changed after its parent exited: %d\n", get_byte(report[0]));
	SHOW("orphan: pipe EOF once it exits: %d\n", get_byte(report[0]) == -1);
	close(report[0]);
	close(go[0]);
	close(go[1]);
	/* Inside moat the orphan became this program's child: reap it
	 * without printing (natively wait4 fails with ECHILD at once). */
	while (wait4(-1, &st, 0, NULL) > 0)
		;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: procs PATH-OF-exit\n");
		return 2;
	}
	exit_prog = argv[1];
	umask(022);
	const char *dir = enter_tmpdir("procs");

	no_children();
	exit_codes();
	memory_copy();
	shared_memory();
	parent_child_ids();
	signals();
	nohang();
	specific_pid();
	wait_with_handler();
	waitid_checks();
	groups();
	subreaper();
	vforks();
	execs();
	clones();
	pipes();
	orphan();
	no_children();

	remove_tree(dir);
	SHOW("done\n");
	return 0;
}
