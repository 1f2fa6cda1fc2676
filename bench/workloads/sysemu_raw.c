// sysemu_raw: the floor of the ptrace platform. A traced child loops on
// syscall(SYS_getpid); the parent serves each system call with
// PTRACE_SYSEMU + waitpid, the least any PTRACE_SYSEMU sentry must do per
// call. Prints ns per round trip (syscall stop to syscall stop).
//
// usage: sysemu_raw [ITERATIONS [bare|regs [pin]]]
//   bare (default): PTRACE_SYSEMU + waitpid only.
//   regs:           also PTRACE_GETREGS, set rax, PTRACE_SETREGS per call,
//                   as a sentry that reads the call and writes a result would.
//   pin:            first bind this process (and so the child it forks) to
//                   the CPU it is running on, so that tracer and tracee never
//                   wake each other across CPUs.
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

static pid_t child;

static void die(const char *what) {
	perror(what);
	if (child > 0)
		kill(child, SIGKILL);
	exit(1);
}

// serve resumes the child until its next system-call stop.
static void serve(int regs) {
	if (regs) {
		struct user_regs_struct r;
		if (ptrace(PTRACE_GETREGS, child, 0, &r) != 0)
			die("PTRACE_GETREGS");
		if (r.orig_rax != SYS_getpid) {
			fprintf(stderr, "sysemu_raw: unexpected syscall %llu\n", r.orig_rax);
			kill(child, SIGKILL);
			exit(1);
		}
		r.rax = (unsigned long long)child; // the "served" result
		if (ptrace(PTRACE_SETREGS, child, 0, &r) != 0)
			die("PTRACE_SETREGS");
	}
	if (ptrace(PTRACE_SYSEMU, child, 0, 0) != 0)
		die("PTRACE_SYSEMU");
	int st;
	if (waitpid(child, &st, __WALL) != child)
		die("waitpid");
	if (!WIFSTOPPED(st) || (WSTOPSIG(st) & 0x7f) != SIGTRAP) {
		fprintf(stderr, "sysemu_raw: unexpected wait status %#x\n", st);
		kill(child, SIGKILL);
		exit(1);
	}
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 20000;
	int regs = argc > 2 && strcmp(argv[2], "regs") == 0;
	int pin = argc > 3 && strcmp(argv[3], "pin") == 0;
	if (n <= 0 || (argc > 2 && !regs && strcmp(argv[2], "bare") != 0) ||
	    (argc > 3 && !pin) || argc > 4) {
		fprintf(stderr, "usage: sysemu_raw [ITERATIONS [bare|regs [pin]]]\n");
		return 2;
	}
	if (pin) {
		int cpu = sched_getcpu();
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu < 0 ? 0 : cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) != 0)
			die("sched_setaffinity");
	}
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) {
			perror("PTRACE_TRACEME");
			_exit(1);
		}
		raise(SIGSTOP);
		for (;;)
			syscall(SYS_getpid);
	}
	int st;
	if (waitpid(child, &st, __WALL) != child)
		die("waitpid");
	if (!WIFSTOPPED(st)) {
		fprintf(stderr, "sysemu_raw: child did not stop (status %#x); is ptrace allowed?\n", st);
		return 1;
	}
	if (ptrace(PTRACE_SETOPTIONS, child, 0,
	           PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD) != 0)
		die("PTRACE_SETOPTIONS");

	// From the SIGSTOP stop to the first syscall stop: no registers to serve.
	if (ptrace(PTRACE_SYSEMU, child, 0, 0) != 0)
		die("PTRACE_SYSEMU");
	if (waitpid(child, &st, __WALL) != child)
		die("waitpid");

	for (long i = 0; i < n / 10; i++) // warm-up, untimed
		serve(regs);
	long long t0 = now_ns();
	for (long i = 0; i < n; i++)
		serve(regs);
	long long t1 = now_ns();

	kill(child, SIGKILL);
	waitpid(child, &st, __WALL);
	report(t0, t1, (double)n);
	return 0;
}
