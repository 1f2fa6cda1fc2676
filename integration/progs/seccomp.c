/*
 * seccomp: the app's own seccomp(2): strict mode, filters and their
 * actions (ERRNO with its cap, TRAP and its SIGSYS siginfo, KILL_PROCESS,
 * KILL_THREAD, TRACE and USER_NOTIF without a tracer or listener, LOG,
 * unknown actions), precedence of stacked filters, inheritance across fork
 * and execve, TSYNC and its failure rules, the limits on programs and the
 * errnos for bad programs, flags and pointers, PR_GET_SECCOMP and the
 * Seccomp lines of /proc/PID/status.
 *
 * Every case that installs a filter runs in a child of its own. Filter
 * counts are printed relative to the count at the start, so that a run
 * under a container's own filter prints the same.
 */
#include "check.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <ucontext.h>

#define LINE(fmt, ...) printf(fmt "\n", ##__VA_ARGS__)

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif

static const char *self;
static int base_mode, base_filters;

static long do_seccomp(unsigned op, unsigned flags, void *args)
{
	return syscall(SYS_seccomp, op, flags, args);
}

static long install(unsigned flags, struct sock_filter *f, unsigned short n)
{
	struct sock_fprog p = { .len = n, .filter = f };
	return do_seccomp(SECCOMP_SET_MODE_FILTER, flags, &p);
}

/* install_nr: nr gets ret, every other call is allowed. */
static long install_nr(unsigned flags, int nr, unsigned ret)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, ret),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	return install(flags, f, sizeof(f) / sizeof(f[0]));
}

/* status_field returns the number after "name:\t" in /proc/self/status
 * (or the given thread's), -1 if missing. */
static int status_field(int tid, const char *name)
{
	char path[64], buf[4096];
	if (tid)
		snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	int n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char key[64];
	snprintf(key, sizeof(key), "\n%s:\t", name);
	char *p = strstr(buf, key);
	return p ? atoi(p + strlen(key)) : -1;
}

static void show_state(const char *when)
{
	LINE("%s: PR_GET_SECCOMP=%d Seccomp=%d filters=+%d NoNewPrivs=%d", when,
	     prctl(PR_GET_SECCOMP), status_field(0, "Seccomp"),
	     status_field(0, "Seccomp_filters") - base_filters, status_field(0, "NoNewPrivs"));
}

static void show_status(const char *what, int st)
{
	if (WIFEXITED(st))
		LINE("%s: exit %d", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		LINE("%s: killed by %s", what, sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?");
	else
		LINE("%s: status %#x", what, st);
}

/* child runs fn in a new process and prints how it ended. */
static void child(const char *what, void (*fn)(void))
{
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		fn();
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(p, &st, 0);
	show_status(what, st);
}

static void nnp(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		LINE("PR_SET_NO_NEW_PRIVS failed");
}

/* --- errors --- */

static struct sock_filter allow_all[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };

static void bad_prog(const char *what, struct sock_filter *f, int n)
{
	errno = 0;
	long r = install(0, f, n);
	LINE("bad program (%s): %ld %s", what, r, r < 0 ? errname(errno) : "");
}

static void errors(void)
{
	unsigned act;
	static const unsigned acts[] = { SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP,
					 SECCOMP_RET_ERRNO, SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE,
					 SECCOMP_RET_LOG, SECCOMP_RET_ALLOW };
	for (unsigned i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		act = acts[i];
		LINE("action %#x available: %ld", act, do_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &act));
	}
	act = 0x00010000;
	CHECK(do_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &act));
	act = SECCOMP_RET_ERRNO | 1;
	CHECK(do_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &act));
	act = SECCOMP_RET_ALLOW;
	CHECK(do_seccomp(SECCOMP_GET_ACTION_AVAIL, 1, &act));
	CHECK(do_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, NULL));
	CHECK(do_seccomp(99, 0, NULL));
	CHECK(do_seccomp(SECCOMP_SET_MODE_STRICT, 1, NULL));
	CHECK(do_seccomp(SECCOMP_SET_MODE_STRICT, 0, &act));
	CHECK(prctl(PR_SET_SECCOMP, 7, 0));

	/* Flags are checked before the program is read: libseccomp probes
	 * them with a NULL program, expecting EFAULT. */
	CHECK(do_seccomp(SECCOMP_SET_MODE_FILTER, 0x80, NULL));
	CHECK(do_seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, NULL));
	CHECK(do_seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_LOG, NULL));
	CHECK(do_seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, NULL));
	CHECK(do_seccomp(SECCOMP_SET_MODE_FILTER, 0, (void *)8));

	/* Without no_new_privs and CAP_SYS_ADMIN: EACCES. */
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	CHECK(syscall(SYS_capset, &h, d));
	CHECK(install(0, allow_all, 1));
	struct sock_fprog p = { .len = 0, .filter = allow_all };
	CHECK(do_seccomp(SECCOMP_SET_MODE_FILTER, 0, &p)); /* length first */
	nnp();

	p.len = 0;
	CHECK(do_seccomp(SECCOMP_SET_MODE_FILTER, 0, &p));
	p.len = BPF_MAXINSNS + 1;
	CHECK(do_seccomp(SECCOMP_SET_MODE_FILTER, 0, &p));
	p.len = 1;
	p.filter = NULL;
	CHECK(do_seccomp(SECCOMP_SET_MODE_FILTER, 0, &p));
	p.filter = (struct sock_filter *)8;
	CHECK(do_seccomp(SECCOMP_SET_MODE_FILTER, 0, &p));

	struct sock_filter unaligned[] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), BPF_STMT(BPF_RET | BPF_A, 0) };
	bad_prog("unaligned load", unaligned, 2);
	struct sock_filter past[] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), BPF_STMT(BPF_RET | BPF_A, 0) };
	bad_prog("load past seccomp_data", past, 2);
	struct sock_filter half[] = { BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0), BPF_STMT(BPF_RET | BPF_A, 0) };
	bad_prog("half-word load", half, 2);
	struct sock_filter mod[] = { BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, 3), BPF_STMT(BPF_RET | BPF_A, 0) };
	bad_prog("BPF_MOD", mod, 2);
	struct sock_filter div0[] = { BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), BPF_STMT(BPF_RET | BPF_A, 0) };
	bad_prog("division by 0", div0, 2);
	struct sock_filter noret[] = { BPF_STMT(BPF_LD | BPF_IMM, 0) };
	bad_prog("no return at the end", noret, 1);
	struct sock_filter far[] = { BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), BPF_STMT(BPF_RET | BPF_A, 0) };
	bad_prog("jump past the end", far, 2);
	struct sock_filter jafar[] = { BPF_STMT(BPF_JMP | BPF_JA, 1), BPF_STMT(BPF_RET | BPF_A, 0) };
	bad_prog("ja past the end", jafar, 2);
	struct sock_filter mem[] = { BPF_STMT(BPF_LD | BPF_MEM, 2), BPF_STMT(BPF_RET | BPF_A, 0) };
	bad_prog("scratch memory read before written", mem, 2);
	struct sock_filter mem16[] = { BPF_STMT(BPF_ST, 16), BPF_STMT(BPF_RET | BPF_A, 0) };
	bad_prog("scratch memory index 16", mem16, 2);
	struct sock_filter op[] = { { 0xff, 0, 0, 0 }, BPF_STMT(BPF_RET | BPF_A, 0) };
	bad_prog("bad opcode", op, 2);
	struct sock_filter good[] = { BPF_STMT(BPF_ST, 15), BPF_STMT(BPF_LDX | BPF_MEM, 15),
				      BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	bad_prog("none, it is good", good, 4);
	show_state("after one filter");

	/* In filter mode, strict mode is refused. */
	CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT));
	CHECK(do_seccomp(SECCOMP_SET_MODE_STRICT, 0, NULL));
}

/* Total length: each filter up to 4096 instructions, all of them up to
 * 32768 counting 4 more per installed filter. */
static void limits(void)
{
	static struct sock_filter big[BPF_MAXINSNS];
	nnp();
	big[0] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	for (int i = 1; i < BPF_MAXINSNS; i++)
		big[i] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_IMM, i);
	big[BPF_MAXINSNS - 1] = big[0];
	for (int i = 0; i < 7; i++) {
		long r = install(0, big, BPF_MAXINSNS);
		LINE("filter %d of 4096: %ld", i + 1, r);
	}
	/* Linux counts the instructions of the filters as it runs them
	 * (translated to eBPF: 3 more per program, 2 per return), so these
	 * filters count 4101 + 4 each, and a last one of 4028 fits: 4033. */
	int room = 4028;
	big[room - 1] = big[0];
	big[room] = big[0];
	CHECK(install(0, big, room + 1));
	CHECK(install(0, big, room));
	CHECK(install(0, allow_all, 1));
	show_state("full");
	CHECK(getppid() > 0);
}

/* --- strict mode --- */

static void strict_exit(void)
{
	fflush(stdout);
	CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, (void *)1)); /* prctl ignores the pointer */
	char buf[1];
	fflush(stdout);
	long r = read(-1, buf, 1);
	const char msg[] = "strict: read and write still work\n";
	if (r == -1 && errno == EBADF)
		write(1, msg, sizeof(msg) - 1);
	syscall(SYS_exit, 3);
}

static void strict_getpid(void)
{
	fflush(stdout);
	CHECK(do_seccomp(SECCOMP_SET_MODE_STRICT, 0, NULL));
	fflush(stdout);
	syscall(SYS_getpid);
	write(1, "strict: getpid survived\n", 24);
	syscall(SYS_exit, 0);
}

static void strict_exit_group(void)
{
	prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT);
	syscall(SYS_exit_group, 4);
	syscall(SYS_exit, 5);
}

static void strict_prctl(void)
{
	prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT);
	syscall(SYS_prctl, PR_GET_SECCOMP);
	syscall(SYS_exit, 6);
}

static void on_usr1(int sig)
{
	write(1, "strict: handler ran\n", 20);
}

static int strict_pipe[2];

static void strict_signal(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigaction(SIGUSR1, &sa, NULL);
	fflush(stdout);
	prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT);
	char c;
	long r = read(strict_pipe[0], &c, 1); /* interrupted by SIGUSR1 */
	if (r == -1 && errno == EINTR)
		write(1, "strict: read interrupted, rt_sigreturn allowed\n", 47);
	syscall(SYS_exit, 7);
}

static void strict_with_signal(void)
{
	pipe(strict_pipe);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0)
		strict_signal();
	/* Wait until it blocks in read: its state in /proc is S. */
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", p);
	for (int i = 0; i < 2000; i++) {
		int fd = open(path, O_RDONLY);
		int n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = 0;
		char *s = strrchr(buf, ')');
		if (s && s[2] == 'S')
			break;
		usleep(1000);
	}
	kill(p, SIGUSR1);
	int st;
	waitpid(p, &st, 0);
	show_status("strict with a signal", st);
}

/* --- actions --- */

static void errno_action(void)
{
	nnp();
	CHECK(install_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | EACCES));
	CHECKV(syscall(SYS_getppid));
	CHECK(install_nr(0, SYS_getpgrp, SECCOMP_RET_ERRNO | 5000));
	errno = 0;
	long r = syscall(SYS_getpgrp);
	LINE("ERRNO 5000 is capped: %ld errno=%d", r, errno);
	CHECK(install_nr(0, SYS_getuid, SECCOMP_RET_ERRNO | 0));
	CHECKV(syscall(SYS_getuid));
	CHECK(install_nr(0, SYS_getgid, SECCOMP_RET_TRACE | 1));
	CHECKV(syscall(SYS_getgid));
	CHECK(install_nr(0, SYS_getegid, SECCOMP_RET_USER_NOTIF));
	CHECKV(syscall(SYS_getegid));
	CHECK(install_nr(SECCOMP_FILTER_FLAG_LOG, SYS_geteuid, SECCOMP_RET_LOG));
	CHECK(syscall(SYS_geteuid) >= 0);
	show_state("six filters");
}

/* The 32-bit entry: a filter sees AUDIT_ARCH_I386 and the i386 number
 * (20 is getpid there, and is nothing in particular on x86-64). */
static void int80_arch(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 20, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 78),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	nnp();
	CHECK(install(0, f, sizeof(f) / sizeof(f[0])));
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "r8", "r9", "r10", "r11", "memory");
	LINE("int $0x80 getpid under a filter of the i386 ABI: %ld", r);
	CHECKV(syscall(SYS_getppid) > 0); /* the 64-bit entry is not caught */
}

/* Arguments: the high half of args[1] is 1, with the low half 0x10. */
static void arg_filter(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 5),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1]) + 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x10, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | E2BIG),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	nnp();
	CHECK(install(0, f, sizeof(f) / sizeof(f[0])));
	CHECK(syscall(SYS_getppid, 0, 0x100000010L));
	CHECK(syscall(SYS_getppid, 0, 0x10L) > 0);
	CHECK(syscall(SYS_getppid, 0, 0x200000010L) > 0);
}

static volatile int trap_count;

static void on_sigsys(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	trap_count++;
	printf("SIGSYS: signo=%s code=%d errno=%d syscall=%d arch_ok=%d call_addr_is_rip=%d rax_is_nr=%d\n",
	       sigabbrev_np(si->si_signo), si->si_code, si->si_errno, si->si_syscall,
	       si->si_arch == AUDIT_ARCH_X86_64,
	       (greg_t)si->si_call_addr == uc->uc_mcontext.gregs[REG_RIP],
	       uc->uc_mcontext.gregs[REG_RAX] == si->si_syscall);
}

static void trap_action(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigaction(SIGSYS, &sa, NULL);
	nnp();
	CHECK(install_nr(0, SYS_getppid, SECCOMP_RET_TRAP | 0x1234));
	long r = syscall(SYS_getppid);
	LINE("after the handler: returned %ld (getppid is %d), traps %d", r, SYS_getppid, trap_count);
}

static void trap_blocked(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigaction(SIGSYS, &sa, NULL);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGSYS);
	sigprocmask(SIG_BLOCK, &s, NULL);
	nnp();
	install_nr(0, SYS_getppid, SECCOMP_RET_TRAP);
	fflush(stdout);
	syscall(SYS_getppid);
	LINE("blocked SIGSYS: survived");
}

static void trap_ignored(void)
{
	signal(SIGSYS, SIG_IGN);
	nnp();
	install_nr(0, SYS_getppid, SECCOMP_RET_TRAP);
	fflush(stdout);
	syscall(SYS_getppid);
	LINE("ignored SIGSYS: survived");
}

static void kill_process(void)
{
	nnp();
	install_nr(0, SYS_getppid, SECCOMP_RET_KILL_PROCESS);
	fflush(stdout);
	syscall(SYS_getppid);
	LINE("KILL_PROCESS: survived");
}

static void kill_thread_alone(void)
{
	nnp();
	install_nr(0, SYS_getppid, SECCOMP_RET_KILL_THREAD);
	fflush(stdout);
	syscall(SYS_getppid);
	LINE("KILL_THREAD: survived");
}

static void unknown_action(void)
{
	nnp();
	install_nr(0, SYS_getppid, 0x00010000);
	fflush(stdout);
	syscall(SYS_getppid);
	LINE("unknown action: survived");
}

static void *call_getppid(void *arg)
{
	syscall(SYS_getppid);
	printf("thread: survived\n");
	return NULL;
}

static void kill_thread_of_two(void)
{
	nnp();
	install_nr(0, SYS_getppid, SECCOMP_RET_KILL_THREAD);
	pthread_t th;
	pthread_create(&th, NULL, call_getppid, NULL);
	pthread_join(th, NULL);
	LINE("KILL_THREAD with two threads: the main thread goes on, %d thread(s) left",
	     status_field(0, "Threads"));
	exit(9);
}

/* --- precedence --- */

static void precedence(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigaction(SIGSYS, &sa, NULL);
	nnp();
	CHECK(install_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | EPERM));
	CHECK(install_nr(0, SYS_getppid, SECCOMP_RET_LOG));
	CHECK(install_nr(0, SYS_getppid, SECCOMP_RET_TRACE));
	CHECK(install_nr(0, SYS_getppid, SECCOMP_RET_ALLOW));
	CHECKV(syscall(SYS_getppid)); /* ERRNO beats TRACE, LOG, ALLOW */
	CHECK(install_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | EACCES));
	CHECKV(syscall(SYS_getppid)); /* the newest of equal actions */
	CHECK(install_nr(0, SYS_getppid, SECCOMP_RET_USER_NOTIF));
	CHECKV(syscall(SYS_getppid)); /* ERRNO beats USER_NOTIF */
	CHECK(install_nr(0, SYS_getppid, SECCOMP_RET_TRAP | 7));
	long r = syscall(SYS_getppid);
	LINE("TRAP beats ERRNO: returned %ld, traps %d", r, trap_count);
	CHECK(install_nr(0, SYS_getppid, SECCOMP_RET_KILL_THREAD));
	CHECK(install_nr(0, SYS_getppid, SECCOMP_RET_KILL_PROCESS));
	fflush(stdout);
	syscall(SYS_getppid); /* KILL_PROCESS beats everything */
	LINE("precedence: survived");
}

/* --- inheritance --- */

static void inherit(void)
{
	nnp();
	install_nr(0, SYS_getppid, SECCOMP_RET_ERRNO | EPERM);
	install_nr(0, SYS_getpgrp, SECCOMP_RET_ERRNO | ENOENT);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		show_state("forked child");
		CHECKV(syscall(SYS_getppid));
		CHECKV(syscall(SYS_getpgrp));
		fflush(stdout);
		_exit(0);
	}
	waitpid(p, NULL, 0);
	char arg[16];
	snprintf(arg, sizeof(arg), "%d", base_filters);
	execl(self, self, "exec-check", arg, (char *)NULL);
	LINE("execl failed: %s", errname(errno));
}

static void exec_check(void)
{
	show_state("after execve");
	CHECKV(syscall(SYS_getppid));
	CHECKV(syscall(SYS_getpgrp));
}

/* --- TSYNC --- */

static int to_thread[2], from_thread[2];

static void *tsync_thread(void *arg)
{
	char c;
	while (read(to_thread[0], &c, 1) == 1) {
		long r = 0;
		switch (c) {
		case 't':
			r = syscall(SYS_gettid);
			break;
		case 'g':
			r = syscall(SYS_getppid) < 0 ? errno : 0;
			break;
		case 'f':
			r = install_nr(0, SYS_getpgrp, SECCOMP_RET_ERRNO | ENOENT);
			break;
		case 'n':
			r = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
			break;
		case 'q':
			return NULL;
		}
		write(from_thread[1], &r, sizeof(r));
	}
	return NULL;
}

static long ask(char c)
{
	long r = -1;
	write(to_thread[1], &c, 1);
	read(from_thread[0], &r, sizeof(r));
	return r;
}

static void tsync(void)
{
	pipe(to_thread);
	pipe(from_thread);
	pthread_t th;
	pthread_create(&th, NULL, tsync_thread, NULL);
	int tid = ask('t');
	nnp(); /* the thread does not have it: TSYNC gives it */
	LINE("thread no_new_privs before TSYNC: %ld", ask('n'));
	CHECK(install_nr(SECCOMP_FILTER_FLAG_TSYNC, SYS_getppid, SECCOMP_RET_ERRNO | EPERM));
	LINE("thread no_new_privs after TSYNC: %ld", ask('n'));
	LINE("thread getppid after TSYNC: %s", errname(ask('g')));
	LINE("thread: Seccomp=%d filters=+%d", status_field(tid, "Seccomp"),
	     status_field(tid, "Seccomp_filters") - base_filters);
	/* The thread's own filter makes it impossible to sync. */
	LINE("thread installs a filter: %ld", ask('f'));
	long r = install_nr(SECCOMP_FILTER_FLAG_TSYNC, SYS_getuid, SECCOMP_RET_ERRNO | EPERM);
	LINE("TSYNC with a diverged thread returns its tid: %d", r == tid);
	CHECK(install_nr(SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH, SYS_getuid,
			 SECCOMP_RET_ERRNO | EPERM));
	CHECK(syscall(SYS_getuid) >= 0); /* nothing was installed */
	CHECK(install_nr(0, SYS_getuid, SECCOMP_RET_ERRNO | EPERM));
	CHECKV(syscall(SYS_getuid));
	LINE("main: filters=+%d; thread: filters=+%d", status_field(0, "Seccomp_filters") - base_filters,
	     status_field(tid, "Seccomp_filters") - base_filters);
	write(to_thread[1], "q", 1);
	pthread_join(th, NULL);
}

int main(int argc, char **argv)
{
	self = argv[0];
	base_mode = prctl(PR_GET_SECCOMP);
	base_filters = status_field(0, "Seccomp_filters");
	if (argc == 3 && strcmp(argv[1], "exec-check") == 0) {
		base_filters = atoi(argv[2]);
		exec_check();
		return 0;
	}
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (argc == 2 && strcmp(argv[1], "tsync") == 0) {
		setvbuf(stdout, NULL, _IONBF, 0);
		child("tsync", tsync);
		return 0;
	}
	LINE("starting mode: %d", base_mode);

	child("errors", errors);
	child("limits", limits);
	child("strict exit", strict_exit);
	child("strict getpid", strict_getpid);
	child("strict exit_group", strict_exit_group);
	child("strict prctl", strict_prctl);
	strict_with_signal();
	child("errno actions", errno_action);
	child("arguments", arg_filter);
	child("int $0x80", int80_arch);
	child("trap", trap_action);
	child("trap blocked", trap_blocked);
	child("trap ignored", trap_ignored);
	child("kill process", kill_process);
	child("kill thread alone", kill_thread_alone);
	child("unknown action", unknown_action);
	child("kill thread of two", kill_thread_of_two);
	child("precedence", precedence);
	child("inherit", inherit);
	child("tsync", tsync);
	show_state("parent at the end");
	printf("done\n");
	return 0;
}
