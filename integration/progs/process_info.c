/*
 * process_info: identity, limits, clocks, sleeping, randomness, signal
 * dispositions and masks.
 *
 * getpid gettid getppid getuid geteuid getgid getegid getgroups uname
 * arch_prctl set_tid_address set_robust_list prlimit64 getrlimit setrlimit
 * clock_gettime clock_getres gettimeofday time nanosleep clock_nanosleep
 * getrandom sysinfo sched_getaffinity sched_yield umask rt_sigaction
 * rt_sigprocmask, an unknown syscall number, and the vDSO's time calls.
 *
 * Nothing that legitimately differs between a host process and a sandboxed
 * one is printed (ids, times, limits): only relations between values. rseq
 * is deliberately not here; see rseq.c.
 */
#include "check.h"

#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>

static __thread int tls_var = 42;

/* A raw syscall that touches neither errno nor anything else behind %fs. */
static long raw2(long n, long a, long b)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b)
			 : "rcx", "r11", "memory");
	return ret;
}

static void ids(void)
{
	gid_t groups[256];
	int n;

	SHOW("-- ids\n");
	SHOW("gettid()==getpid(): %d\n", gettid() == getpid());
	SHOW("raw getpid == getpid(): %d\n", syscall(SYS_getpid) == getpid());
	SHOW("getpid() > 0: %d\n", getpid() > 0);
	SHOW("getppid() != getpid(): %d\n", getppid() != getpid());
	SHOW("getppid() >= 0: %d\n", getppid() >= 0);
	SHOW("getuid()==geteuid(): %d\n", getuid() == geteuid());
	SHOW("getgid()==getegid(): %d\n", getgid() == getegid());
	n = getgroups(0, NULL);
	SHOW("getgroups(0) >= 0: %d\n", n >= 0);
	SHOW("getgroups(n) == n: %d\n", n >= 0 && n <= 256 && getgroups(n, groups) == n);
	CHECK(getgroups(-1, groups));
	errno = 0;
	SHOW("too small list gives EINVAL (or there are no groups): %d\n",
	     n == 0 || (getgroups(n - 1, groups) == -1 && errno == EINVAL));
}

static void names(void)
{
	struct utsname u;

	SHOW("-- uname\n");
	CHECK(uname(&u));
	SHOW("sysname=%s machine=%s\n", u.sysname, u.machine);
	SHOW("nodename and release not empty: %d\n", u.nodename[0] != 0 && u.release[0] != 0);
}

static void tls(void)
{
	static unsigned long fake_tcb[4];
	unsigned long old = 0, tp, got = 0, seen = 0;
	long r1, r2, r3;

	SHOW("-- arch_prctl\n");
	__asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
	CHECK(syscall(SYS_arch_prctl, ARCH_GET_FS, &old));
	SHOW("ARCH_GET_FS == thread pointer: %d\n", old == tp);
	SHOW("tls_var == 42: %d\n", tls_var == 42);

	/* Point %fs somewhere else, read through it, and put it back. No libc
	 * call may happen in between: errno and everything else live in TLS. */
	fake_tcb[0] = (unsigned long)fake_tcb;
	fake_tcb[1] = 0x1234;
	r1 = raw2(SYS_arch_prctl, ARCH_SET_FS, (long)fake_tcb);
	__asm__ volatile("mov %%fs:8, %0" : "=r"(seen));
	r2 = raw2(SYS_arch_prctl, ARCH_GET_FS, (long)&got);
	r3 = raw2(SYS_arch_prctl, ARCH_SET_FS, (long)old);
	SHOW("SET_FS=%ld read through fs ok=%d GET_FS=%ld same=%d restore=%ld\n",
	     r1, seen == 0x1234, r2, got == (unsigned long)fake_tcb, r3);
	tls_var++;
	SHOW("tls_var == 43 after restore: %d\n", tls_var == 43);
	CHECK(syscall(SYS_arch_prctl, 0x9999, 0));
	CHECK(syscall(SYS_arch_prctl, ARCH_SET_FS, 0x800000000000UL)); /* non-canonical */
	CHECK(syscall(SYS_arch_prctl, ARCH_GET_FS, (void *)1));
	CHECK(syscall(SYS_arch_prctl, ARCH_GET_GS, &got));
}

static void thread_setup(void)
{
	static int ctid;
	static struct {
		void *next;
		long futex_offset;
		void *pending;
	} head;

	SHOW("-- set_tid_address/set_robust_list\n");
	SHOW("set_tid_address returns tid: %d\n", syscall(SYS_set_tid_address, &ctid) == gettid());
	head.next = &head;
	head.futex_offset = 0;
	head.pending = NULL;
	CHECK(syscall(SYS_set_robust_list, &head, sizeof(head)));
	CHECK(syscall(SYS_set_robust_list, &head, sizeof(head) - 1));
	CHECK(syscall(SYS_set_robust_list, &head, 0));
}

static void limits(void)
{
	struct rlimit r, r2;
	int fds[64], n = 0, fd;

	SHOW("-- rlimits\n");
	CHECK(syscall(SYS_getrlimit, RLIMIT_NOFILE, &r));
	SHOW("NOFILE soft <= hard: %d, soft >= 64: %d\n",
	     r.rlim_cur <= r.rlim_max, r.rlim_cur >= 64);
	CHECK(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &r2));
	SHOW("prlimit64 agrees: %d\n", r.rlim_cur == r2.rlim_cur && r.rlim_max == r2.rlim_max);
	CHECK(syscall(SYS_prlimit64, getpid(), RLIMIT_NOFILE, NULL, &r2));
	CHECK(syscall(SYS_getrlimit, RLIMIT_STACK, &r2));
	SHOW("STACK soft <= hard: %d\n", r2.rlim_cur <= r2.rlim_max);
	r2 = r;
	r2.rlim_cur = 32;
	CHECK(syscall(SYS_setrlimit, RLIMIT_NOFILE, &r2));
	CHECK(syscall(SYS_getrlimit, RLIMIT_NOFILE, &r2));
	SHOW("NOFILE soft now 32: %d, hard unchanged: %d\n", r2.rlim_cur == 32, r2.rlim_max == r.rlim_max);
	r2.rlim_cur = 24;
	CHECK(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &r2, &r));
	SHOW("prlimit64 returned old soft 32: %d\n", r.rlim_cur == 32);
	CHECK(syscall(SYS_getrlimit, RLIMIT_NOFILE, &r));
	SHOW("NOFILE soft now 24: %d\n", r.rlim_cur == 24);
	CHECKV(dup2(0, 23));
	CHECKV(dup2(0, 24));
	CHECKV(fcntl(0, F_DUPFD, 24));
	CHECK(close(23));
	while (n < 64 && (fd = open("/dev/null", O_RDONLY)) >= 0)
		fds[n++] = fd;
	SHOW("opened %d more fds, then %s\n", n, errname(errno));
	while (n > 0)
		close(fds[--n]);
	r2.rlim_cur = r2.rlim_max + 1;
	if (r2.rlim_max == RLIM_INFINITY)
		SHOW("setrlimit(soft > hard): -1 EINVAL\n");
	else
		CHECK(syscall(SYS_setrlimit, RLIMIT_NOFILE, &r2));
	CHECK(syscall(SYS_getrlimit, 100, &r));
	CHECK(syscall(SYS_setrlimit, 100, &r));
	CHECK(syscall(SYS_prlimit64, 0, 100, NULL, &r));
	CHECK(syscall(SYS_prlimit64, 0x7fffffff, RLIMIT_NOFILE, NULL, &r));
}

static long long ns(const struct timespec *t)
{
	return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static sigjmp_buf segv_jump;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(segv_jump, 1);
}

static void clocks(void)
{
	static const struct {
		clockid_t id;
		const char *name;
	} cl[] = {
		{CLOCK_REALTIME, "REALTIME"},
		{CLOCK_MONOTONIC, "MONOTONIC"},
		{CLOCK_PROCESS_CPUTIME_ID, "PROCESS_CPUTIME_ID"},
		{CLOCK_THREAD_CPUTIME_ID, "THREAD_CPUTIME_ID"},
		{CLOCK_MONOTONIC_RAW, "MONOTONIC_RAW"},
		{CLOCK_REALTIME_COARSE, "REALTIME_COARSE"},
		{CLOCK_MONOTONIC_COARSE, "MONOTONIC_COARSE"},
		{CLOCK_BOOTTIME, "BOOTTIME"},
	};
	struct timespec a, b, v, res;
	struct timeval tv;
	long t;

	SHOW("-- clocks\n");
	for (unsigned i = 0; i < sizeof(cl) / sizeof(cl[0]); i++) {
		long r1 = syscall(SYS_clock_gettime, cl[i].id, &a);
		long r2 = syscall(SYS_clock_gettime, cl[i].id, &b);

		SHOW("clock_gettime %s: ok=%d nsec<1e9=%d non-decreasing=%d\n", cl[i].name,
		     r1 == 0 && r2 == 0, a.tv_nsec >= 0 && a.tv_nsec < 1000000000,
		     ns(&b) >= ns(&a));
	}
	/* the vDSO (libc clock_gettime) and the syscall agree */
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_MONOTONIC, &v);
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &b);
	SHOW("libc MONOTONIC between two syscalls: %d\n", ns(&a) <= ns(&v) && ns(&v) <= ns(&b));
	syscall(SYS_clock_gettime, CLOCK_REALTIME, &a);
	clock_gettime(CLOCK_REALTIME, &v);
	syscall(SYS_clock_gettime, CLOCK_REALTIME, &b);
	SHOW("libc REALTIME between two syscalls: %d\n", ns(&a) <= ns(&v) && ns(&v) <= ns(&b));
	SHOW("REALTIME after 2020: %d\n", a.tv_sec > 1577836800);
	CHECK(syscall(SYS_clock_gettime, 1000, &a));
	CHECK(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void *)1));
	CHECK(syscall(SYS_clock_getres, CLOCK_MONOTONIC, &res));
	SHOW("MONOTONIC resolution in (0, 1ms]: %d\n",
	     res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 1000000);
	CHECK(syscall(SYS_clock_getres, CLOCK_REALTIME, &res));
	CHECK(syscall(SYS_clock_getres, CLOCK_MONOTONIC, NULL));
	CHECK(syscall(SYS_clock_getres, 1000, &res));

	syscall(SYS_clock_gettime, CLOCK_REALTIME, &a);
	CHECK(syscall(SYS_gettimeofday, &tv, NULL));
	SHOW("gettimeofday usec<1e6: %d, close to REALTIME: %d\n", tv.tv_usec >= 0 && tv.tv_usec < 1000000,
	     tv.tv_sec - a.tv_sec >= 0 && tv.tv_sec - a.tv_sec <= 1);
	CHECK(syscall(SYS_gettimeofday, NULL, NULL));
	t = syscall(SYS_time, NULL);
	/* time() reads the coarse clock (last tick): it may lag by a tick */
	SHOW("time() close to REALTIME: %d\n", t - a.tv_sec >= -1 && t - a.tv_sec <= 1);
	long t2 = 0;
	CHECK(syscall(SYS_time, &t2));
	SHOW("time(&t) stores it: %d\n", t2 >= t && t2 - t <= 1);

	/* The vDSO: present, an ELF image, and its calls (which libc makes)
	 * behave as Linux's: host clocks, CPU clocks, NULL and bad pointers. */
	const unsigned char *vdso = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
	SHOW("vDSO at AT_SYSINFO_EHDR: %d, an ELF image: %d\n", vdso != NULL,
	     vdso != NULL && vdso[0] == 0x7f && vdso[1] == 'E' && vdso[2] == 'L' && vdso[3] == 'F');
	SHOW("libc clock_getres(MONOTONIC, NULL) = %d\n", clock_getres(CLOCK_MONOTONIC, NULL));
	errno = 0;
	int r = clock_gettime(1000, &v);
	SHOW("libc clock_gettime(1000) = %d errno %d\n", r, errno);
	syscall(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, &a);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &v);
	SHOW("libc PROCESS_CPUTIME_ID non-decreasing: %d\n", ns(&v) >= ns(&a));
	syscall(SYS_clock_gettime, CLOCK_REALTIME, &a);
	gettimeofday(&tv, NULL);
	SHOW("libc gettimeofday close to REALTIME: %d\n", tv.tv_sec - a.tv_sec >= 0 && tv.tv_sec - a.tv_sec <= 1);
	time_t tt = 0;
	SHOW("libc time(&t) stores what it returns: %d\n", time(&tt) == tt && tt - a.tv_sec >= -1 && tt - a.tv_sec <= 1);
	signal(SIGSEGV, on_segv);
	if (sigsetjmp(segv_jump, 1) == 0) {
		int r = clock_gettime(CLOCK_MONOTONIC, (struct timespec *)8);
		SHOW("libc clock_gettime(bad pointer) returned %d\n", r);
	} else {
		SHOW("libc clock_gettime(bad pointer): SIGSEGV\n");
	}
	signal(SIGSEGV, SIG_DFL);
}

static void sleeps(void)
{
	struct timespec a, b, req, rem;

	SHOW("-- nanosleep/clock_nanosleep\n");
	req.tv_sec = 0;
	req.tv_nsec = 20 * 1000 * 1000;
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a);
	CHECK(syscall(SYS_nanosleep, &req, &rem));
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &b);
	SHOW("nanosleep slept >= 20ms: %d\n", ns(&b) - ns(&a) >= 20 * 1000 * 1000);
	req.tv_nsec = 0;
	CHECK(syscall(SYS_nanosleep, &req, NULL));
	req.tv_nsec = 1000000000;
	CHECK(syscall(SYS_nanosleep, &req, NULL));
	req.tv_nsec = -1;
	CHECK(syscall(SYS_nanosleep, &req, NULL));
	req.tv_sec = -1;
	req.tv_nsec = 0;
	CHECK(syscall(SYS_nanosleep, &req, NULL));
	CHECK(syscall(SYS_nanosleep, NULL, NULL));

	req.tv_sec = 0;
	req.tv_nsec = 10 * 1000 * 1000;
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a);
	CHECK(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, NULL));
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &b);
	SHOW("clock_nanosleep relative slept >= 10ms: %d\n", ns(&b) - ns(&a) >= 10 * 1000 * 1000);
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a);
	req = a;
	req.tv_nsec += 10 * 1000 * 1000;
	if (req.tv_nsec >= 1000000000) {
		req.tv_sec++;
		req.tv_nsec -= 1000000000;
	}
	CHECK(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &req, NULL));
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &b);
	SHOW("clock_nanosleep absolute reached deadline: %d\n", ns(&b) >= ns(&req));
	req.tv_sec = 1;
	req.tv_nsec = 0; /* long past */
	CHECK(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &req, NULL));
	req.tv_nsec = 1000000000;
	CHECK(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, NULL));
	req.tv_nsec = 0;
	CHECK(syscall(SYS_clock_nanosleep, 1000, 0, &req, NULL));
	CHECK(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, (void *)1, NULL));
	CHECK(syscall(SYS_sched_yield));
}

static void randomness(void)
{
	unsigned char buf[32];
	int nonzero = 0;

	SHOW("-- getrandom\n");
	memset(buf, 0, sizeof(buf));
	CHECKV(syscall(SYS_getrandom, buf, sizeof(buf), 0));
	for (unsigned i = 0; i < sizeof(buf); i++)
		nonzero |= buf[i];
	SHOW("not all zero: %d\n", nonzero != 0);
	CHECKV(syscall(SYS_getrandom, buf, sizeof(buf), GRND_NONBLOCK));
	CHECKV(syscall(SYS_getrandom, buf, sizeof(buf), GRND_RANDOM));
	CHECKV(syscall(SYS_getrandom, buf, 0, 0));
	CHECKV(syscall(SYS_getrandom, buf, sizeof(buf), 0x100));
	CHECKV(syscall(SYS_getrandom, buf, sizeof(buf), GRND_RANDOM | 0x4)); /* INSECURE|RANDOM */
	CHECKV(syscall(SYS_getrandom, (void *)1, sizeof(buf), 0));
}

static void system_info(void)
{
	struct sysinfo si;
	cpu_set_t set;
	long r;

	SHOW("-- sysinfo/sched_getaffinity\n");
	CHECK(sysinfo(&si));
	SHOW("mem_unit>0: %d totalram>0: %d freeram<=totalram: %d procs>0: %d\n",
	     si.mem_unit > 0, si.totalram > 0, si.freeram <= si.totalram, si.procs > 0);
	CPU_ZERO(&set);
	r = syscall(SYS_sched_getaffinity, 0, sizeof(set), &set);
	SHOW("sched_getaffinity size>0 and multiple of 8: %d\n", r > 0 && r % 8 == 0);
	SHOW("CPU_COUNT >= 1: %d\n", CPU_COUNT(&set) >= 1);
	CHECK(syscall(SYS_sched_getaffinity, 0, 1, &set));
	CHECK(syscall(SYS_sched_getaffinity, 0, 7, &set));
	CHECK(syscall(SYS_sched_getaffinity, 0x7fffffff, sizeof(set), &set));
	CHECK(syscall(SYS_sched_getaffinity, 0, sizeof(set), (void *)1));

	SHOW("-- umask\n");
	umask(077);
	SHOW("umask roundtrip: %d\n", umask(022) == 077);
	SHOW("umask keeps only 0777: %d\n", (umask(0xffff), umask(022)) == 0777);
}

/* The kernel's struct sigaction, used with the raw syscall. */
struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	unsigned long mask;
};

static void handler(int sig)
{
	(void)sig;
}

static void signals(void)
{
	struct sigaction sa, old;
	struct ksigaction k, kold;
	sigset_t set, got;
	unsigned long m, mo;

	SHOW("-- rt_sigaction\n");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	CHECK(sigaction(SIGUSR1, &sa, NULL));
	memset(&old, 0, sizeof(old));
	CHECK(sigaction(SIGUSR1, NULL, &old));
	SHOW("handler read back: %d, SA_RESTART: %d, mask has SIGUSR2: %d, not SIGINT: %d\n",
	     old.sa_handler == handler, (old.sa_flags & SA_RESTART) != 0,
	     sigismember(&old.sa_mask, SIGUSR2), sigismember(&old.sa_mask, SIGINT));
	sa.sa_handler = SIG_IGN;
	CHECK(sigaction(SIGUSR1, &sa, &old));
	SHOW("oldact had the handler: %d\n", old.sa_handler == handler);
	CHECK(sigaction(SIGUSR1, NULL, &old));
	SHOW("now ignored: %d\n", old.sa_handler == SIG_IGN);
	CHECK(sigaction(SIGTERM, NULL, &old));
	SHOW("SIGTERM default: %d\n", old.sa_handler == SIG_DFL);

	memset(&k, 0, sizeof(k));
	k.handler = (void *)handler;
	CHECK(syscall(SYS_rt_sigaction, 0, &k, NULL, 8));
	CHECK(syscall(SYS_rt_sigaction, 65, &k, NULL, 8));
	CHECK(syscall(SYS_rt_sigaction, 65, NULL, &kold, 8));
	CHECK(syscall(SYS_rt_sigaction, SIGKILL, &k, NULL, 8));
	CHECK(syscall(SYS_rt_sigaction, SIGSTOP, &k, NULL, 8));
	k.handler = SIG_IGN;
	CHECK(syscall(SYS_rt_sigaction, SIGKILL, &k, NULL, 8));
	CHECK(syscall(SYS_rt_sigaction, SIGKILL, NULL, &kold, 8));
	SHOW("SIGKILL is SIG_DFL: %d\n", kold.handler == SIG_DFL);
	CHECK(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &kold, 4));
	CHECK(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &kold, 16));
	k.handler = (void *)handler;
	k.flags = SA_SIGINFO;
	k.mask = 1UL << (SIGINT - 1);
	CHECK(syscall(SYS_rt_sigaction, 64, &k, NULL, 8));
	CHECK(syscall(SYS_rt_sigaction, 64, NULL, &kold, 8));
	SHOW("raw readback: handler %d flags %d mask %d\n", kold.handler == (void *)handler,
	     kold.flags == SA_SIGINFO, kold.mask == 1UL << (SIGINT - 1));
	k.mask = ~0UL;
	CHECK(syscall(SYS_rt_sigaction, 64, &k, NULL, 8));
	CHECK(syscall(SYS_rt_sigaction, 64, NULL, &kold, 8));
	SHOW("SIGKILL and SIGSTOP dropped from sa_mask: %d\n",
	     (kold.mask & (1UL << (SIGKILL - 1))) == 0 && (kold.mask & (1UL << (SIGSTOP - 1))) == 0);

	SHOW("-- rt_sigprocmask\n");
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	CHECK(sigprocmask(SIG_BLOCK, &set, NULL));
	CHECK(sigprocmask(SIG_BLOCK, NULL, &got));
	SHOW("SIGUSR2 blocked: %d, SIGUSR1 not: %d\n", sigismember(&got, SIGUSR2), sigismember(&got, SIGUSR1));
	CHECK(sigprocmask(SIG_UNBLOCK, &set, &got));
	SHOW("old mask had SIGUSR2: %d\n", sigismember(&got, SIGUSR2));
	CHECK(sigprocmask(SIG_SETMASK, NULL, &got));
	SHOW("SIGUSR2 unblocked: %d\n", !sigismember(&got, SIGUSR2));
	m = ~0UL;
	CHECK(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &m, NULL, 8));
	CHECK(syscall(SYS_rt_sigprocmask, SIG_SETMASK, NULL, &mo, 8));
	SHOW("SIGKILL/SIGSTOP cannot be blocked: %d, SIGTERM blocked: %d\n",
	     (mo & (1UL << (SIGKILL - 1))) == 0 && (mo & (1UL << (SIGSTOP - 1))) == 0,
	     (mo & (1UL << (SIGTERM - 1))) != 0);
	m = 0;
	CHECK(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &m, NULL, 8));
	CHECK(syscall(SYS_rt_sigprocmask, 99, &m, NULL, 8));
	CHECK(syscall(SYS_rt_sigprocmask, 99, NULL, &mo, 8)); /* how is ignored without a set */
	CHECK(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &m, NULL, 4));
	CHECK(syscall(SYS_rt_sigprocmask, SIG_BLOCK, (void *)1, NULL, 8));
	CHECK(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, (void *)1, 8));
}

int main(void)
{
	ids();
	names();
	tls();
	thread_setup();
	limits();
	clocks();
	sleeps();
	randomness();
	system_info();
	signals();
	SHOW("-- unknown syscalls\n");
	CHECK(syscall(1000));
	CHECK(syscall(100000, 1, 2, 3));
	SHOW("done\n");
	return 0;
}
