/*
 * threads: POSIX threads inside moat (CLONE_THREAD): creation and join,
 * mutexes and condition variables (futexes), thread-local storage,
 * pthread_exit values, detached threads, getpid/gettid relations, a
 * signal sent with tgkill to a thread that spins in user code without
 * system calls, a thread that calls exit_group (exit()) ending the
 * whole process, and the FP state (SSE control word, x87 control word)
 * that a new thread and a fork child inherit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <xmmintrin.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int counter, ready;
static __thread long tls = 100;

static void *adder(void *arg)
{
	long id = (long)arg;

	for (int i = 0; i < 20000; i++) {
		pthread_mutex_lock(&mu);
		counter++;
		pthread_mutex_unlock(&mu);
	}
	tls += id;
	return (void *)tls;
}

static void *waiter(void *arg)
{
	pthread_mutex_lock(&mu);
	while (!ready)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	pthread_exit((void *)(long)(getpid() != syscall(SYS_gettid)));
}

static volatile sig_atomic_t spin_tid, spin_got;

static void on_usr1(int sig)
{
	spin_got = syscall(SYS_gettid);
}

/* spinner loops in user code until its handler runs: only a signal that
 * interrupts this very thread (not the process's first one) ends it. */
static void *spinner(void *arg)
{
	spin_tid = syscall(SYS_gettid);
	while (!spin_got)
		;
	return NULL;
}

static void *exiter(void *arg)
{
	printf("exiter: calling exit(7)\n");
	fflush(stdout);
	exit(7);
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* execer: a failed execve first (ENOENT, the process goes on), then an
 * execve of a shell that reports whether its pid is the process's. */
static void *execer(void *arg)
{
	char pidbuf[32];
	(void)arg;
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
	char *bad[] = { "x", NULL };
	execve("/no/such/program", bad, NULL);
	printf("failed execve from a thread: %s, tid differs from pid: %d\n",
	       errno == ENOENT ? "ENOENT" : "other", (pid_t)syscall(SYS_gettid) != getpid());
	fflush(stdout);
	char *argv[] = { "sh", "-c", "[ $$ = $0 ] && echo same pid after exec; exit 5", pidbuf, NULL };
	execve("/bin/busybox", argv, NULL);
	printf("execve: %d\n", errno);
	return NULL;
}

/* The SSE and x87 control words, as clone must copy them. */
static void show_fp(const char *who)
{
	unsigned short cw;
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	printf("%s: mxcsr %#x x87 cw %#x\n", who, _mm_getcsr(), cw);
	fflush(stdout);
}

static void *fp_thread(void *arg)
{
	show_fp("new thread");
	return arg;
}

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;

static void *gated(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gate); /* held by main until every thread exists */
	pthread_mutex_unlock(&gate);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[8];
	long sum = 0;

	if (argc > 1 && strcmp(argv[1], "show-fp") == 0) {
		show_fp("after exec"); /* execve resets them */
		return 0;
	}

	for (long i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, adder, (void *)i);
	for (int i = 0; i < 8; i++) {
		void *r;
		pthread_join(th[i], &r);
		sum += (long)r;
	}
	printf("counter %d, tls sum %ld, main tls %ld\n", counter, sum, tls);

	/* Many threads alive at once (more than a platform slot table of 64
	 * held once), each blocked until all exist. */
	enum { many = 200 };
	static pthread_t mt[many];
	pthread_attr_t small;
	pthread_attr_init(&small);
	pthread_attr_setstacksize(&small, 64 << 10);
	pthread_mutex_lock(&gate);
	int made = 0;
	while (made < many && pthread_create(&mt[made], &small, gated, NULL) == 0)
		made++;
	pthread_mutex_unlock(&gate);
	for (int i = 0; i < made; i++)
		pthread_join(mt[i], NULL);
	printf("%d threads alive at once, all joined\n", made);

	pthread_t w;
	pthread_create(&w, NULL, waiter, NULL);
	usleep(10000);
	pthread_mutex_lock(&mu);
	ready = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	void *r;
	pthread_join(w, &r);
	printf("waiter woke; its tid differs from the pid: %ld\n", (long)r);

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t d;
	printf("detached create: %d\n", pthread_create(&d, &attr, adder, (void *)0));
	usleep(50000);

	signal(SIGUSR1, on_usr1);
	pthread_t sp;
	pthread_create(&sp, NULL, spinner, NULL);
	while (!spin_tid)
		usleep(1000);
	usleep(20000); /* let it reach the loop */
	syscall(SYS_tgkill, getpid(), spin_tid, SIGUSR1);
	pthread_join(sp, NULL);
	printf("spinning thread took its signal: %d\n", spin_got == spin_tid);

	pid_t pid = fork();
	if (pid == 0) {
		pthread_t e;
		pthread_create(&e, NULL, exiter, NULL);
		pause();
		_exit(1);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("child ended by a thread's exit: status %d\n", WEXITSTATUS(st));

	/* execve from a thread other than the main one: the other threads
	 * end and the new program runs with the process's pid; a failed
	 * execve leaves everything as it was. */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		pthread_t e, s;
		pthread_create(&s, NULL, sleeper, NULL);
		pthread_create(&e, NULL, execer, NULL);
		pause(); /* the exec replaces the program while the main thread waits */
		_exit(1);
	}
	waitpid(pid, &st, 0);
	printf("exec from a thread: status %d\n", WEXITSTATUS(st));

	/* execve from the main thread of a multi-threaded process. */
	pid = fork();
	if (pid == 0) {
		pthread_t s1, s2;
		pthread_create(&s1, NULL, sleeper, NULL);
		pthread_create(&s2, NULL, sleeper, NULL);
		char *argv[] = { "sh", "-c", "exit 6", NULL };
		execve("/bin/busybox", argv, NULL);
		_exit(1);
	}
	waitpid(pid, &st, 0);
	printf("exec from the main thread with others running: %s %d\n",
	       WIFEXITED(st) ? "exited" : "killed", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));

	/* Round toward zero, flush to zero; x87 precision to single. */
	_mm_setcsr((_mm_getcsr() & ~0x6000) | 0x6000 | 0x8000);
	unsigned short cw;
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	cw = (cw & ~0x300) | 0x000;
	__asm__ volatile("fldcw %0" : : "m"(cw));
	show_fp("main");
	pthread_t f;
	pthread_create(&f, NULL, fp_thread, NULL);
	pthread_join(f, NULL);
	pid = fork();
	if (pid == 0) {
		show_fp("fork child");
		_exit(0);
	}
	waitpid(pid, &st, 0);
	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "show-fp", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	return 0;
}
