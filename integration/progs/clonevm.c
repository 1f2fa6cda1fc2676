/*
 * clonevm.c: children that share their parent's memory (CLONE_VM without
 * CLONE_THREAD): posix_spawn's error reporting through shared memory,
 * vfork children whose writes the parent sees, a CLONE_VM child running
 * alongside its parent, and such a child exec'ing and exiting.
 */
#include "check.h"

#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

extern char **environ;

static void show_status(const char *what, int st)
{
	if (WIFEXITED(st))
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: killed by %s\n", what, sigabbrev_np(WTERMSIG(st)));
}

static void spawns(void)
{
	pid_t p;
	int st, r;
	char *argv[] = { "sh", "-c", "exit 5", NULL };

	printf("-- posix_spawn\n");
	r = posix_spawn(&p, "/nonexistent/prog", NULL, NULL, argv, environ);
	printf("missing program: %s\n", r ? errname(r) : "ok");
	r = posix_spawn(&p, "/etc/passwd", NULL, NULL, argv, environ);
	printf("not executable: %s\n", r ? errname(r) : "ok");
	r = posix_spawn(&p, "/bin/busybox", NULL, NULL, argv, environ);
	printf("busybox sh: %s\n", r ? errname(r) : "ok");
	if (r == 0 && waitpid(p, &st, 0) == p)
		show_status("busybox sh", st);
	r = posix_spawnp(&p, "no-such-command-anywhere", NULL, NULL, argv, environ);
	printf("posix_spawnp missing: %s\n", r ? errname(r) : "ok");
}

static volatile int shared_var;

static inline unsigned get_mxcsr(void)
{
	unsigned v;
	__asm__ volatile("stmxcsr %0" : "=m"(v));
	return v;
}

static inline void set_mxcsr(unsigned v)
{
	__asm__ volatile("ldmxcsr %0" : : "m"(v));
}

static void vforks(void)
{
	int st;

	printf("-- vfork\n");
	shared_var = 1;
	pid_t p = vfork();
	if (p == 0) {
		shared_var = 42; /* Linux shares the memory until exec or exit */
		_exit(3);
	}
	waitpid(p, &st, 0);
	show_status("vfork child", st);
	printf("parent sees the child's write: %d\n", shared_var);

	/* Registers are the child's own: its rounding mode (MXCSR) is not
	 * the parent's after the vfork returns. */
	unsigned before = get_mxcsr();
	p = vfork();
	if (p == 0) {
		set_mxcsr(before | 0x6000); /* round toward zero */
		_exit(get_mxcsr() == (before | 0x6000) ? 4 : 5);
	}
	waitpid(p, &st, 0);
	show_status("vfork child that set its rounding", st);
	printf("parent's MXCSR unchanged: %d\n", get_mxcsr() == before);
}

static atomic_int flag;
static char stack[64 << 10] __attribute__((aligned(16)));

static int child_fn(void *arg)
{
	(void)arg;
	atomic_store(&flag, 1);
	while (atomic_load(&flag) != 2) /* the parent answers through memory */
		;
	atomic_store(&flag, 3);
	return 7;
}

static int exec_fn(void *arg)
{
	char *argv[] = { "sh", "-c", "exit 9", NULL };
	atomic_store(&flag, 10);
	execve((const char *)arg, argv, environ);
	return 99;
}

static void clonevm(void)
{
	int st;

	printf("-- clone(CLONE_VM)\n");
	atomic_store(&flag, 0);
	pid_t p = clone(child_fn, stack + sizeof(stack), CLONE_VM | SIGCHLD, NULL);
	SHOW("clone: %d\n", p > 0);
	while (atomic_load(&flag) != 1)
		;
	atomic_store(&flag, 2);
	while (atomic_load(&flag) != 3)
		;
	printf("memory handshake done\n");
	SHOW("waitpid: %d\n", waitpid(p, &st, 0) == p);
	show_status("CLONE_VM child", st);
	SHOW("pid differs: %d\n", p != getpid());

	atomic_store(&flag, 0);
	p = clone(exec_fn, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, "/bin/busybox");
	printf("after the vfork child exec'd, flag = %d\n", atomic_load(&flag));
	waitpid(p, &st, 0);
	show_status("exec'd CLONE_VM child", st);

	/* The parent's memory is untouched by the child's exec. */
	shared_var = 5;
	p = clone(exec_fn, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, "/nonexistent");
	waitpid(p, &st, 0);
	show_status("failed exec, child returned", st);
	printf("shared_var still %d\n", shared_var);
}

int main(void)
{
	alarm(20);
	setvbuf(stdout, NULL, _IONBF, 0);
	spawns();
	vforks();
	clonevm();
	printf("done\n");
	return 0;
}
