/*
 * threads: POSIX threads inside moat (CLONE_THREAD): creation and join,
 * mutexes and condition variables (futexes), thread-local storage,
 * pthread_exit values, detached threads, getpid/gettid relations, and a
 * thread that calls exit_group (exit()) ending the whole process.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

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

static void *exiter(void *arg)
{
	printf("exiter: calling exit(7)\n");
	fflush(stdout);
	exit(7);
}

int main(void)
{
	pthread_t th[8];
	long sum = 0;

	for (long i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, adder, (void *)i);
	for (int i = 0; i < 8; i++) {
		void *r;
		pthread_join(th[i], &r);
		sum += (long)r;
	}
	printf("counter %d, tls sum %ld, main tls %ld\n", counter, sum, tls);

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
	return 0;
}
