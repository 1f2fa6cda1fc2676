/*
 * sync: synchronization between threads and between processes.
 *
 *  1. pthread barriers and a mutex + condvar producer/consumer (8 threads).
 *  2. Robust mutexes between threads: the owner exits holding the lock,
 *     the next locker (already blocked or not) gets EOWNERDEAD.
 *  3. Robust process-shared mutexes in MAP_SHARED memory across fork: the
 *     owner process exits, is killed, has a thread holding it at
 *     exit_group, or execs; the parent gets EOWNERDEAD.
 *  4. Shared futexes across fork (a mutex + condvar ping-pong, raw
 *     FUTEX_WAIT/FUTEX_WAKE, a page moved by mremap, FUTEX_CMP_REQUEUE,
 *     FUTEX_WAKE_OP), and the separation of private and shared futex keys
 *     (across processes, and on private memory within one).
 *  5. futex timeouts and argument errors.
 *  6. get_robust_list / set_robust_list (own, another thread's, another
 *     process's, a zombie's, after fork), and hand-made robust lists walked
 *     at exit: a cycle, a pending entry, and where Linux stops the walk
 *     (a misaligned lock word, a NULL or unmapped link).
 *  7. RLIMIT_NPROC: a fork bomb under uid 54321 stops at the limit
 *     (threads and zombies count), root is exempt. Natively this counts the
 *     host's processes of uid 54321, so nothing else may run as that uid.
 *
 * Usage: sync (argv[0] must be an absolute path: check 3 execs it again
 * as "sync exec-wait FD").
 *
 * Every wait that could hang on a bug has a timeout, and no output line
 * depends on timing: where a waker must know that the waiter is asleep it
 * retries the wake until it wakes someone (a bounded number of times).
 */
#include "check.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

static long futex(void *uaddr, int op, uint32_t val, const struct timespec *ts,
		  void *uaddr2, uint32_t val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

/* A pthread result (an errno value, or 0) by name. */
static const char *rc(int r)
{
	return r == 0 ? "0" : errname(r);
}

static void die(const char *what)
{
	printf("%s: -1 %s\n", what, errname(errno));
	exit(99);
}

static void *shm(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap shared");
	return p;
}

static pid_t xfork(void)
{
	pid_t pid = fork();

	if (pid == -1)
		die("fork");
	return pid;
}

static void xpipe(int p[2])
{
	if (pipe(p) != 0)
		die("pipe");
}

static void put_byte(int fd)
{
	if (write(fd, "x", 1) != 1)
		die("write pipe");
}

static void get_byte(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		die("read pipe");
}

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

static void reap(pid_t pid, const char *what)
{
	int st = 0;

	if (waitpid(pid, &st, 0) != pid) {
		SHOW("%s: waitpid -1 %s\n", what, errname(errno));
		return;
	}
	show_status(what, st);
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static long now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* An absolute CLOCK_REALTIME deadline ms from now (pthread timed waits). */
static struct timespec deadline(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* Lock m, but give up after 5 s, so that a lost wake-up is a line of
 * output (ETIMEDOUT) instead of a hang. */
static int lock5(pthread_mutex_t *m)
{
	struct timespec ts = deadline(5000);

	return pthread_mutex_timedlock(m, &ts);
}

static void init_robust(pthread_mutex_t *m, int pshared)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (pshared)
		pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (pthread_mutex_init(m, &a) != 0) {
		printf("pthread_mutex_init failed\n");
		exit(99);
	}
	pthread_mutexattr_destroy(&a);
}

/* Wake waiters on w until n of them woke in all, retrying while they are
 * not asleep yet (for about 1 s at most). Returns how many woke. */
static long wake_until(uint32_t *w, int op, int n, uint32_t bitset)
{
	long total = 0;

	for (int i = 0; i < 500 && total < n; i++) {
		long r = futex(w, op, INT_MAX, NULL, NULL, bitset);
		if (r < 0)
			return r;
		total += r;
		if (total < n)
			msleep(2);
	}
	return total;
}

/* ---- 1. barriers, producer/consumer ---------------------------------- */

#define NTHREADS 8
#define ROUNDS 50

static pthread_barrier_t barrier;
static atomic_int arrived[ROUNDS];
static atomic_int serials, barrier_errors;

static void *barrier_thread(void *arg)
{
	(void)arg;
	for (int r = 0; r < ROUNDS; r++) {
		atomic_fetch_add(&arrived[r], 1);
		int s = pthread_barrier_wait(&barrier);
		if (s == PTHREAD_BARRIER_SERIAL_THREAD)
			atomic_fetch_add(&serials, 1);
		else if (s != 0)
			atomic_fetch_add(&barrier_errors, 1);
		/* Everyone arrived at round r before anyone left it. */
		if (atomic_load(&arrived[r]) != NTHREADS)
			atomic_fetch_add(&barrier_errors, 1);
	}
	return NULL;
}

#define QSIZE 8
#define PER_PRODUCER 1000
#define NPROD 4
#define NCONS 4

static pthread_mutex_t qmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static long queue[QSIZE];
static int qhead, qlen, consumed;
static long consumed_sum;

static void *producer(void *arg)
{
	long id = (long)arg;

	for (long i = 1; i <= PER_PRODUCER; i++) {
		pthread_mutex_lock(&qmu);
		while (qlen == QSIZE)
			pthread_cond_wait(&not_full, &qmu);
		queue[(qhead + qlen) % QSIZE] = id * 100000 + i;
		qlen++;
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&qmu);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	long mine = 0;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&qmu);
		while (qlen == 0 && consumed < NPROD * PER_PRODUCER)
			pthread_cond_wait(&not_empty, &qmu);
		if (consumed == NPROD * PER_PRODUCER) {
			pthread_mutex_unlock(&qmu);
			break;
		}
		consumed_sum += queue[qhead];
		qhead = (qhead + 1) % QSIZE;
		qlen--;
		consumed++;
		mine++;
		if (consumed == NPROD * PER_PRODUCER)
			pthread_cond_broadcast(&not_empty);
		pthread_cond_signal(&not_full);
		pthread_mutex_unlock(&qmu);
	}
	return (void *)mine;
}

static void check_threads_sync(void)
{
	pthread_t th[NTHREADS];

	pthread_barrier_init(&barrier, NULL, NTHREADS);
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, barrier_thread, (void *)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	SHOW("barrier: %d rounds of %d threads, %d serial threads, %d errors\n",
	     ROUNDS, NTHREADS, atomic_load(&serials),
	     atomic_load(&barrier_errors));

	long expect = 0;
	for (long id = 0; id < NPROD; id++)
		for (long i = 1; i <= PER_PRODUCER; i++)
			expect += id * 100000 + i;
	for (long i = 0; i < NPROD; i++)
		pthread_create(&th[i], NULL, producer, (void *)i);
	for (long i = 0; i < NCONS; i++)
		pthread_create(&th[NPROD + i], NULL, consumer, NULL);
	long by_consumers = 0;
	for (int i = 0; i < NTHREADS; i++) {
		void *r;
		pthread_join(th[i], &r);
		if (i >= NPROD)
			by_consumers += (long)r;
	}
	SHOW("producer/consumer: %d consumed (%ld by the consumers' own counts), sum right: %d, queue left %d\n",
	     consumed, by_consumers, consumed_sum == expect, qlen);
}

/* ---- 2. robust mutexes between threads ------------------------------- */

static pthread_mutex_t rmu;
static atomic_int held;
static atomic_int n_dead, n_ok, n_other;

static void *lock_and_exit(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&rmu);
	return NULL; /* without unlocking */
}

/* Lock, tell main, give the waiters time to block, then exit holding it. */
static void *lock_and_linger(void *arg)
{
	pthread_mutex_lock(&rmu);
	atomic_store(&held, 1);
	msleep((int)(long)arg);
	return NULL;
}

static void *robust_waiter(void *arg)
{
	(void)arg;
	int r = lock5(&rmu);
	if (r == EOWNERDEAD) {
		atomic_fetch_add(&n_dead, 1);
		pthread_mutex_consistent(&rmu);
		pthread_mutex_unlock(&rmu);
	} else if (r == 0) {
		atomic_fetch_add(&n_ok, 1);
		pthread_mutex_unlock(&rmu);
	} else {
		atomic_fetch_add(&n_other, 1);
	}
	return NULL;
}

static void check_robust_threads(void)
{
	pthread_t th, w[3];

	init_robust(&rmu, 0);
	pthread_create(&th, NULL, lock_and_exit, NULL);
	pthread_join(th, NULL);
	SHOW("robust: lock after the owner thread exited: %s\n", rc(pthread_mutex_lock(&rmu)));
	SHOW("robust: consistent: %s\n", rc(pthread_mutex_consistent(&rmu)));
	SHOW("robust: unlock: %s\n", rc(pthread_mutex_unlock(&rmu)));
	SHOW("robust: lock again: %s\n", rc(pthread_mutex_lock(&rmu)));
	SHOW("robust: unlock: %s\n", rc(pthread_mutex_unlock(&rmu)));

	/* trylock sees the dead owner too. */
	pthread_create(&th, NULL, lock_and_exit, NULL);
	pthread_join(th, NULL);
	SHOW("robust: trylock after the owner thread exited: %s\n", rc(pthread_mutex_trylock(&rmu)));
	pthread_mutex_consistent(&rmu);
	pthread_mutex_unlock(&rmu);

	/* A waiter blocked in the lock when the owner exits. */
	atomic_store(&held, 0);
	pthread_create(&th, NULL, lock_and_linger, (void *)100L);
	while (!atomic_load(&held))
		msleep(1);
	SHOW("robust: blocked lock, owner thread exits: %s\n", rc(lock5(&rmu)));
	pthread_join(th, NULL);
	SHOW("robust: consistent: %s\n", rc(pthread_mutex_consistent(&rmu)));
	SHOW("robust: unlock: %s\n", rc(pthread_mutex_unlock(&rmu)));

	/* Three blocked waiters: one gets EOWNERDEAD, repairs and unlocks,
	 * the others then get the lock normally. */
	atomic_store(&held, 0);
	pthread_create(&th, NULL, lock_and_linger, (void *)150L);
	while (!atomic_load(&held))
		msleep(1);
	for (int i = 0; i < 3; i++)
		pthread_create(&w[i], NULL, robust_waiter, NULL);
	pthread_join(th, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(w[i], NULL);
	SHOW("robust: 3 blocked waiters: %d EOWNERDEAD, %d ok, %d other\n",
	     atomic_load(&n_dead), atomic_load(&n_ok), atomic_load(&n_other));

	/* Unlocked without pthread_mutex_consistent: unusable for good. */
	pthread_create(&th, NULL, lock_and_exit, NULL);
	pthread_join(th, NULL);
	SHOW("robust: lock: %s\n", rc(pthread_mutex_lock(&rmu)));
	SHOW("robust: unlock without consistent: %s\n", rc(pthread_mutex_unlock(&rmu)));
	SHOW("robust: lock now: %s\n", rc(pthread_mutex_lock(&rmu)));
}

/* ---- 3. robust process-shared mutexes across fork -------------------- */

static const char *self_path;

struct pshared_thread_arg {
	pthread_mutex_t *m;
	atomic_int *flag;
};

static void *hold_forever(void *arg)
{
	struct pshared_thread_arg *a = arg;

	pthread_mutex_lock(a->m);
	atomic_store(a->flag, 1);
	for (;;)
		pause();
	return NULL;
}

static void check_robust_processes(void)
{
	pthread_mutex_t *m = shm(4096);
	int p[2];
	pid_t pid;

	init_robust(m, 1);

	/* The owner exits; the parent locks afterwards. */
	pid = xfork();
	if (pid == 0) {
		pthread_mutex_lock(m);
		_exit(0);
	}
	reap(pid, "pshared robust: owner child");
	SHOW("pshared robust: lock after the owner process exited: %s\n", rc(lock5(m)));
	SHOW("pshared robust: consistent: %s\n", rc(pthread_mutex_consistent(m)));
	SHOW("pshared robust: unlock: %s\n", rc(pthread_mutex_unlock(m)));
	SHOW("pshared robust: lock again: %s\n", rc(lock5(m)));
	SHOW("pshared robust: unlock: %s\n", rc(pthread_mutex_unlock(m)));

	/* The parent is blocked in the lock when the owner exits. */
	xpipe(p);
	pid = xfork();
	if (pid == 0) {
		pthread_mutex_lock(m);
		put_byte(p[1]);
		msleep(100);
		_exit(0);
	}
	get_byte(p[0]);
	SHOW("pshared robust: blocked lock, owner process exits: %s\n", rc(lock5(m)));
	pthread_mutex_consistent(m);
	pthread_mutex_unlock(m);
	reap(pid, "pshared robust: owner child");

	/* ... is killed by SIGKILL. */
	pid = xfork();
	if (pid == 0) {
		pthread_mutex_lock(m);
		put_byte(p[1]);
		msleep(100);
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	get_byte(p[0]);
	SHOW("pshared robust: blocked lock, owner process killed: %s\n", rc(lock5(m)));
	pthread_mutex_consistent(m);
	pthread_mutex_unlock(m);
	reap(pid, "pshared robust: owner child");

	/* ... is a second thread of a process that calls _exit (exit_group). */
	pid = xfork();
	if (pid == 0) {
		static atomic_int flag;
		struct pshared_thread_arg a = { m, &flag };
		pthread_t th;

		pthread_create(&th, NULL, hold_forever, &a);
		while (!atomic_load(&flag))
			msleep(1);
		put_byte(p[1]);
		msleep(100);
		_exit(0);
	}
	get_byte(p[0]);
	SHOW("pshared robust: blocked lock, owner thread ended by exit_group: %s\n", rc(lock5(m)));
	pthread_mutex_consistent(m);
	pthread_mutex_unlock(m);
	reap(pid, "pshared robust: owner child");

	/* ... execs: execve releases the robust list too. The new image
	 * waits until the parent got the lock, so only the exec can have
	 * released it. */
	int q[2];
	xpipe(q);
	pid = xfork();
	if (pid == 0) {
		char fd[16];

		pthread_mutex_lock(m);
		put_byte(p[1]);
		close(q[1]);
		snprintf(fd, sizeof(fd), "%d", q[0]);
		execl(self_path, self_path, "exec-wait", fd, (char *)NULL);
		_exit(127);
	}
	close(q[0]);
	get_byte(p[0]);
	SHOW("pshared robust: lock, owner process execed (still running): %s\n", rc(lock5(m)));
	pthread_mutex_consistent(m);
	pthread_mutex_unlock(m);
	close(q[1]); /* lets the new image exit */
	reap(pid, "pshared robust: execed child");
	close(p[0]);
	close(p[1]);
	munmap(m, 4096);
}

/* ---- 4. shared futexes across fork ----------------------------------- */

struct pingpong {
	pthread_mutex_t m;
	pthread_cond_t c;
	int turn;
	int count;
};

#define TRIPS 1000

static void pingpong_side(struct pingpong *s, int me)
{
	for (int i = 0; i < TRIPS; i++) {
		pthread_mutex_lock(&s->m);
		while (s->turn != me) {
			struct timespec ts = deadline(5000);
			if (pthread_cond_timedwait(&s->c, &s->m, &ts) == ETIMEDOUT) {
				pthread_mutex_unlock(&s->m);
				return;
			}
		}
		s->count++;
		s->turn = !me;
		pthread_cond_signal(&s->c);
		pthread_mutex_unlock(&s->m);
	}
}

struct futex_result {
	uint32_t w;
	long r;
	int err;
};

static void child_wait(struct futex_result *f, int op, int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	errno = 0;
	f->r = futex(&f->w, op, 0, &ts, NULL, 0);
	f->err = errno;
}

static void show_child_wait(const char *what, struct futex_result *f)
{
	if (f->r == -1)
		SHOW("%s: -1 %s\n", what, errname(f->err));
	else
		SHOW("%s: %ld\n", what, f->r);
}

static uint32_t tw; /* private memory */
static struct futex_result thread_res;

static void *thread_wait(void *arg)
{
	long op = (long)arg;
	struct timespec ts = { 5, 0 };

	errno = 0;
	thread_res.r = futex(&tw, (int)op, 0, &ts, NULL, 0);
	thread_res.err = errno;
	return NULL;
}

/* Waits with bitset 1 until an absolute CLOCK_MONOTONIC deadline 5 s on. */
static void *thread_wait_bitset(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += 5;
	errno = 0;
	thread_res.r = futex(&tw, FUTEX_WAIT_BITSET_PRIVATE, 0, &ts, NULL, 1);
	thread_res.err = errno;
	return NULL;
}

static void check_shared_futex(void)
{
	struct pingpong *s = shm(4096);
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	pid_t pid;

	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&s->m, &ma);
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	pthread_cond_init(&s->c, &ca);
	pid = xfork();
	if (pid == 0) {
		pingpong_side(s, 1);
		_exit(0);
	}
	pingpong_side(s, 0);
	reap(pid, "ping-pong child");
	SHOW("ping-pong: count %d (want %d)\n", s->count, 2 * TRIPS);
	munmap(s, 4096);

	/* A shared FUTEX_WAIT in the child, a shared FUTEX_WAKE in the parent. */
	struct futex_result *f = shm(4096);
	pid = xfork();
	if (pid == 0) {
		child_wait(f, FUTEX_WAIT, 5000);
		_exit(0);
	}
	SHOW("FUTEX_WAKE from the parent woke: %ld\n", wake_until(&f->w, FUTEX_WAKE, 1, 0));
	reap(pid, "futex child");
	show_child_wait("child's FUTEX_WAIT", f);

	/* Two children, one wake of all. */
	pid_t pids[2];
	for (int i = 0; i < 2; i++) {
		pids[i] = xfork();
		if (pids[i] == 0) {
			struct timespec ts = { 5, 0 };
			_exit(futex(&f->w, FUTEX_WAIT, 0, &ts, NULL, 0) == 0 ? 0 : 1);
		}
	}
	SHOW("FUTEX_WAKE INT_MAX woke (2 children): %ld\n", wake_until(&f->w, FUTEX_WAKE, 2, 0));
	reap(pids[0], "futex child 1");
	reap(pids[1], "futex child 2");

	/* A count of 0 still wakes one: Linux counts after waking. */
	for (int i = 0; i < 2; i++) {
		pids[i] = xfork();
		if (pids[i] == 0) {
			struct timespec ts = { 5, 0 };
			_exit(futex(&f->w, FUTEX_WAIT, 0, &ts, NULL, 0) == 0 ? 0 : 1);
		}
	}
	long woke0 = 0;
	for (int i = 0; i < 500 && woke0 == 0; i++) {
		woke0 = futex(&f->w, FUTEX_WAKE, 0, NULL, NULL, 0);
		if (woke0 == 0)
			msleep(2);
	}
	SHOW("FUTEX_WAKE 0 woke: %ld\n", woke0);
	SHOW("then FUTEX_WAKE INT_MAX woke: %ld\n", wake_until(&f->w, FUTEX_WAKE, 1, 0));
	reap(pids[0], "futex child 1");
	reap(pids[1], "futex child 2");

	/* A private wait in shared memory is the child's alone: the parent's
	 * shared wake does not reach it. */
	pid = xfork();
	if (pid == 0) {
		child_wait(f, FUTEX_WAIT_PRIVATE, 200);
		_exit(0);
	}
	msleep(50);
	CHECKV(futex(&f->w, FUTEX_WAKE, 1, NULL, NULL, 0));
	reap(pid, "futex child");
	show_child_wait("child's FUTEX_WAIT_PRIVATE (200 ms)", f);

	/* Nor does a private wake in the parent reach a shared wait. */
	pid = xfork();
	if (pid == 0) {
		child_wait(f, FUTEX_WAIT, 200);
		_exit(0);
	}
	msleep(50);
	CHECKV(futex(&f->w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
	reap(pid, "futex child");
	show_child_wait("child's FUTEX_WAIT (200 ms)", f);

	/* The child moves the shared page to another address (mremap) and
	 * waits there; the parent wakes at the old one: a shared futex is the
	 * memory, wherever it is mapped. */
	f->w = 0;
	f->r = 99;
	void *spot = mmap(NULL, 2 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (spot == MAP_FAILED)
		die("mmap");
	pid = xfork();
	if (pid == 0) {
		struct futex_result *g = mremap(f, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED,
						(char *)spot + 4096);
		if (g == MAP_FAILED)
			_exit(2);
		child_wait(g, FUTEX_WAIT, 5000);
		_exit(g == f ? 3 : 0);
	}
	SHOW("FUTEX_WAKE at the parent's address of the page the child moved woke: %ld\n",
	     wake_until(&f->w, FUTEX_WAKE, 1, 0));
	reap(pid, "futex child");
	show_child_wait("child's FUTEX_WAIT at the new address", f);
	munmap(spot, 2 * 4096);

	/* FUTEX_CMP_REQUEUE across processes: the child waits on w, the
	 * parent moves it to w2 and wakes it there. */
	uint32_t *w2 = (uint32_t *)(f + 1);
	f->w = 0;
	f->r = 99;
	*w2 = 0;
	pid = xfork();
	if (pid == 0) {
		child_wait(f, FUTEX_WAIT, 5000);
		_exit(0);
	}
	long moved = 0;
	for (int i = 0; i < 500 && moved == 0; i++) {
		moved = futex(&f->w, FUTEX_CMP_REQUEUE, 0, (void *)1L, w2, 0);
		if (moved == 0)
			msleep(2);
	}
	SHOW("FUTEX_CMP_REQUEUE moved the child's waiter: %ld\n", moved);
	CHECKV(futex(&f->w, FUTEX_WAKE, 1, NULL, NULL, 0));
	CHECKV(futex(w2, FUTEX_WAKE, 1, NULL, NULL, 0));
	reap(pid, "futex child");
	show_child_wait("child's requeued FUTEX_WAIT", f);
	CHECKV(futex(&f->w, FUTEX_CMP_REQUEUE, 0, (void *)1L, w2, 1));

	/* FUTEX_WAKE_OP across processes: set *w2 = 5, wake the child on w. */
	f->w = 0;
	f->r = 99;
	*w2 = 0;
	pid = xfork();
	if (pid == 0) {
		child_wait(f, FUTEX_WAIT, 5000);
		_exit(0);
	}
	long woke = 0;
	for (int i = 0; i < 500 && woke == 0; i++) {
		woke = futex(&f->w, FUTEX_WAKE_OP, 1, (void *)1L, w2,
			     FUTEX_OP(FUTEX_OP_SET, 5, FUTEX_OP_CMP_EQ, 0));
		if (woke == 0)
			msleep(2);
	}
	SHOW("FUTEX_WAKE_OP woke the child: %ld, *w2 = %u\n", woke, *w2);
	reap(pid, "futex child");
	show_child_wait("child's FUTEX_WAIT", f);
	munmap(f, 4096);

	/* In private memory of one process, private and shared futexes on
	 * the same word are still different futexes. */
	pthread_t th;
	pthread_create(&th, NULL, thread_wait, (void *)(long)FUTEX_WAIT);
	msleep(50);
	CHECKV(futex(&tw, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
	SHOW("shared FUTEX_WAKE woke the shared waiter: %ld\n", wake_until(&tw, FUTEX_WAKE, 1, 0));
	pthread_join(th, NULL);
	show_child_wait("thread's shared FUTEX_WAIT", &thread_res);

	pthread_create(&th, NULL, thread_wait, (void *)(long)FUTEX_WAIT_PRIVATE);
	msleep(50);
	CHECKV(futex(&tw, FUTEX_WAKE, 1, NULL, NULL, 0));
	SHOW("FUTEX_WAKE_PRIVATE woke the private waiter: %ld\n", wake_until(&tw, FUTEX_WAKE_PRIVATE, 1, 0));
	pthread_join(th, NULL);
	show_child_wait("thread's FUTEX_WAIT_PRIVATE", &thread_res);

	/* Bitsets: a wake with a disjoint bitset wakes nobody. */
	pthread_create(&th, NULL, thread_wait_bitset, NULL);
	msleep(50);
	CHECKV(futex(&tw, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 2));
	SHOW("FUTEX_WAKE_BITSET 3 woke the bitset-1 waiter: %ld\n", wake_until(&tw, FUTEX_WAKE_BITSET_PRIVATE, 1, 3));
	pthread_join(th, NULL);
	show_child_wait("thread's FUTEX_WAIT_BITSET", &thread_res);
}

/* ---- 5. futex timeouts and errors ------------------------------------ */

static uint32_t fw = 1, fw2;

static void check_futex_errors(void)
{
	struct timespec ts50 = { 0, 50000000 };
	struct timespec past = { 1, 0 };
	struct timespec bad_ns = { 0, 1000000000 };
	struct timespec neg = { -1, 0 };
	struct timespec abs;
	long t0;

	t0 = now_ms(CLOCK_MONOTONIC);
	CHECKV(futex(&fw, FUTEX_WAIT_PRIVATE, 1, &ts50, NULL, 0));
	SHOW("waited at least 50 ms: %d\n", now_ms(CLOCK_MONOTONIC) - t0 >= 49);
	CHECKV(futex(&fw, FUTEX_WAIT, 1, &ts50, NULL, 0));
	CHECKV(futex(&fw, FUTEX_WAIT_BITSET_PRIVATE, 1, &past, NULL, FUTEX_BITSET_MATCH_ANY));
	CHECKV(futex(&fw, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 1, &past, NULL, FUTEX_BITSET_MATCH_ANY));

	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_nsec += 50000000;
	if (abs.tv_nsec >= 1000000000L) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000L;
	}
	t0 = now_ms(CLOCK_MONOTONIC);
	CHECKV(futex(&fw, FUTEX_WAIT_BITSET_PRIVATE, 1, &abs, NULL, FUTEX_BITSET_MATCH_ANY));
	SHOW("absolute CLOCK_MONOTONIC deadline: waited at least 50 ms: %d\n", now_ms(CLOCK_MONOTONIC) - t0 >= 49);

	abs = deadline(50);
	t0 = now_ms(CLOCK_MONOTONIC);
	CHECKV(futex(&fw, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 1, &abs, NULL, FUTEX_BITSET_MATCH_ANY));
	SHOW("absolute CLOCK_REALTIME deadline: waited at least 50 ms: %d\n", now_ms(CLOCK_MONOTONIC) - t0 >= 49);

	CHECKV(futex(&fw, FUTEX_WAIT_PRIVATE, 2, &ts50, NULL, 0));
	CHECKV(futex(&fw, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0));
	CHECKV(futex(&fw, FUTEX_WAIT_BITSET_PRIVATE, 1, &ts50, NULL, 0));
	CHECKV(futex(&fw, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 0));
	CHECKV(futex((char *)&fw + 1, FUTEX_WAIT_PRIVATE, 1, &ts50, NULL, 0));
	CHECKV(futex((char *)&fw + 2, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
	CHECKV(futex(unmapped_page(), FUTEX_WAIT_PRIVATE, 1, &ts50, NULL, 0));
	CHECKV(futex(unmapped_page(), FUTEX_WAIT, 1, &ts50, NULL, 0));
	CHECKV(futex(unmapped_page(), FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
	CHECKV(futex(unmapped_page(), FUTEX_WAKE, 1, NULL, NULL, 0));
	CHECKV(futex(&fw, FUTEX_WAIT_PRIVATE, 1, &bad_ns, NULL, 0));
	CHECKV(futex(&fw, FUTEX_WAIT_PRIVATE, 2, &bad_ns, NULL, 0));
	CHECKV(futex(&fw, FUTEX_WAIT_PRIVATE, 1, &neg, NULL, 0));
	CHECKV(futex(&fw, FUTEX_WAIT_PRIVATE, 1, unmapped_page(), NULL, 0));
	CHECKV(futex(&fw, FUTEX_WAKE_PRIVATE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0));
	CHECKV(futex(&fw, FUTEX_WAIT_PRIVATE | FUTEX_CLOCK_REALTIME, 1, &ts50, NULL, 0));
	CHECKV(futex(&fw, 99, 1, NULL, NULL, 0));
	CHECKV(futex(&fw, FUTEX_FD, 1, NULL, NULL, 0));
	/* op is an int: the upper half of its register is ignored. */
	CHECKV(syscall(SYS_futex, &fw, 0x100000000L | FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));

	/* FUTEX_WAKE_OP: a shift outside 0..31 is masked (Linux only logs
	 * it); an unknown operation leaves the word alone, an unknown
	 * comparison fails after the operation is done. */
	fw2 = 5;
	CHECKV(futex(&fw, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &fw2,
		     FUTEX_OP((FUTEX_OP_SET | FUTEX_OP_OPARG_SHIFT), 33, FUTEX_OP_CMP_EQ, 0)));
	SHOW("shift by 33: *fw2 = %u\n", fw2);
	CHECKV(futex(&fw, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &fw2,
		     FUTEX_OP((FUTEX_OP_SET | FUTEX_OP_OPARG_SHIFT), -1, FUTEX_OP_CMP_EQ, 0)));
	SHOW("shift by -1: *fw2 = %u\n", fw2);
	fw2 = 7;
	CHECKV(futex(&fw, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &fw2, FUTEX_OP(5, 1, FUTEX_OP_CMP_EQ, 0)));
	CHECKV(futex(&fw, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, unmapped_page(), FUTEX_OP(7, 1, FUTEX_OP_CMP_EQ, 0)));
	CHECKV(futex(&fw, FUTEX_WAKE_OP, 1, (void *)1L, unmapped_page(), FUTEX_OP(7, 1, FUTEX_OP_CMP_EQ, 0)));
	CHECKV(futex(&fw, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, (char *)&fw2 + 1, FUTEX_OP(7, 1, FUTEX_OP_CMP_EQ, 0)));
	SHOW("unknown op: *fw2 = %u\n", fw2);
	CHECKV(futex(&fw, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &fw2, FUTEX_OP(FUTEX_OP_ADD, 1, 6, 0)));
	CHECKV(futex(&fw, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1L, &fw2, FUTEX_OP(FUTEX_OP_ADD, 1, 15, 0)));
	SHOW("unknown comparison: *fw2 = %u\n", fw2);
}

/* ---- 6. get_robust_list / set_robust_list ---------------------------- */

struct robust_head {
	void *list;
	long futex_offset;
	void *list_op_pending;
};

static void *thread_head;

static void *report_head(void *arg)
{
	size_t len;

	(void)arg;
	syscall(SYS_get_robust_list, 0, &thread_head, &len);
	return NULL;
}

static void check_robust_list(void)
{
	struct robust_head *head = NULL, mine;
	void *h2;
	size_t len = 0;
	pthread_mutex_t m;

	CHECK(syscall(SYS_get_robust_list, 0, &head, &len));
	SHOW("len: %zu\n", len);
	SHOW("glibc's head is set: %d\n", head != NULL);
	if (head == NULL)
		return;
	SHOW("empty list points to itself: %d\n", head->list == head);
	SHOW("futex_offset: %ld\n", head->futex_offset);
	SHOW("nothing pending: %d\n", head->list_op_pending == NULL);
	init_robust(&m, 0);
	pthread_mutex_lock(&m);
	SHOW("a locked robust mutex is on the list: %d\n",
	     (char *)head->list + head->futex_offset == (char *)&m);
	pthread_mutex_unlock(&m);
	SHOW("unlocked, the list is empty again: %d\n", head->list == head);

	CHECK(syscall(SYS_set_robust_list, &mine, 23));
	CHECK(syscall(SYS_set_robust_list, &mine, 25));
	mine.list = &mine;
	mine.futex_offset = 0;
	mine.list_op_pending = NULL;
	CHECK(syscall(SYS_set_robust_list, &mine, sizeof(mine)));
	CHECK(syscall(SYS_get_robust_list, 0, &h2, &len));
	SHOW("get returns the new head: %d\n", h2 == &mine);
	CHECK(syscall(SYS_set_robust_list, head, sizeof(*head)));
	CHECK(syscall(SYS_get_robust_list, 0, &h2, &len));
	SHOW("glibc's head is back: %d\n", h2 == head);

	CHECK(syscall(SYS_get_robust_list, 0x3fffffff, &h2, &len));
	CHECK(syscall(SYS_get_robust_list, -1, &h2, &len));
	CHECK(syscall(SYS_get_robust_list, 0, unmapped_page(), &len));
	CHECK(syscall(SYS_get_robust_list, 0, &h2, unmapped_page()));
	CHECK(syscall(SYS_get_robust_list, getpid(), &h2, &len));
	SHOW("by own pid: same head: %d\n", h2 == head);

	/* Another thread's head, by its tid. */
	pthread_t th;
	pthread_create(&th, NULL, report_head, NULL);
	pthread_join(th, NULL);
	SHOW("a thread has its own head: %d\n", thread_head != NULL && thread_head != head);

	/* glibc registers again in a fork child; a raw fork child has none
	 * (the kernel does not copy it). */
	pid_t pid = syscall(SYS_fork);
	if (pid == 0) {
		void *ch = (void *)1;
		size_t cl;
		syscall(SYS_get_robust_list, 0, &ch, &cl);
		syscall(SYS_exit_group, ch == NULL ? 0 : 1);
	}
	reap(pid, "raw fork child: its robust list head is NULL (0)");
	pid = xfork();
	if (pid == 0) {
		void *ch = NULL;
		size_t cl;
		syscall(SYS_get_robust_list, 0, &ch, &cl);
		_exit(ch == head ? 0 : 1);
	}
	reap(pid, "fork() child: glibc registered its head again (0)");
}

/* ---- 6b. hand-made robust lists walked at exit ---------------------- */

#define WAITERS 0x80000000u
#define OWNER_DIED 0x40000000u
#define TID_MASK 0x3fffffffu

/* A list entry: the link, then (futex_offset 8) the lock word. */
struct rentry {
	struct rentry *next;
	uint32_t word;
};

struct rlists {
	struct robust_head head;
	struct rentry e[4];
	char odd[64];
};

static void show_word(const char *what, uint32_t w, pid_t owner)
{
	uint32_t tid = w & TID_MASK;

	SHOW("%s: tid %s%s%s\n", what,
	     tid == 0 ? "0" : tid == (uint32_t)owner ? "child" : "other",
	     w & OWNER_DIED ? " OWNER_DIED" : "", w & WAITERS ? " WAITERS" : "");
}

/* Run build in a child that then registers r->head and _exits. */
static pid_t robust_child(struct rlists *r, void (*build)(struct rlists *, uint32_t))
{
	memset(r, 0, sizeof(*r));
	pid_t pid = xfork();
	if (pid == 0) {
		uint32_t tid = syscall(SYS_gettid);
		r->head.futex_offset = offsetof(struct rentry, word);
		build(r, tid);
		if (syscall(SYS_set_robust_list, &r->head, sizeof(r->head)) != 0)
			_exit(2);
		_exit(0);
	}
	reap(pid, "hand-made robust list child");
	return pid;
}

/* head -> e0 (held, waiters) -> e1 (another tid's) -> e2 (held) -> e2 -> e2 ...
 * (a cycle: the walk must stop by itself) */
static void build_cycle(struct rlists *r, uint32_t tid)
{
	r->head.list = &r->e[0];
	r->e[0].next = &r->e[1];
	r->e[0].word = tid | WAITERS;
	r->e[1].next = &r->e[2];
	r->e[1].word = 0x3ffffffe;
	r->e[2].next = &r->e[2];
	r->e[2].word = tid;
}

/* head -> e0 (held) -> head, and e1 (held) pending. */
static void build_pending(struct rlists *r, uint32_t tid)
{
	r->head.list = &r->e[0];
	r->e[0].next = (struct rentry *)&r->head;
	r->e[0].word = tid;
	r->head.list_op_pending = &r->e[1];
	r->e[1].word = tid;
}

/* head -> odd entry whose lock word is misaligned -> e0 (held) -> head,
 * e1 (held) pending: Linux stops the whole walk at the bad word. */
static void build_misaligned(struct rlists *r, uint32_t tid)
{
	struct rentry *odd = (struct rentry *)(r->odd + 2);

	odd->next = &r->e[0];
	r->head.list = odd;
	r->e[0].next = (struct rentry *)&r->head;
	r->e[0].word = tid;
	r->head.list_op_pending = &r->e[1];
	r->e[1].word = tid;
}

/* head -> e0 (held) -> NULL, e1 (held) pending: Linux stops at the
 * NULL link, without the pending entry. */
static void build_null(struct rlists *r, uint32_t tid)
{
	r->head.list = &r->e[0];
	r->e[0].next = NULL;
	r->e[0].word = tid;
	r->head.list_op_pending = &r->e[1];
	r->e[1].word = tid;
}

/* head -> e0 (held) -> an unmapped page, e1 (held) pending. */
static void build_unmapped(struct rlists *r, uint32_t tid)
{
	r->head.list = &r->e[0];
	r->e[0].next = unmapped_page();
	r->e[0].word = tid;
	r->head.list_op_pending = &r->e[1];
	r->e[1].word = tid;
}

static void check_handmade_robust_lists(void)
{
	struct rlists *r = shm(4096);
	pid_t pid;

	pid = robust_child(r, build_cycle);
	show_word("cycle: held entry with waiters", r->e[0].word, pid);
	show_word("cycle: another tid's entry", r->e[1].word, pid);
	show_word("cycle: held entry linked to itself", r->e[2].word, pid);

	pid = robust_child(r, build_pending);
	show_word("pending: listed entry", r->e[0].word, pid);
	show_word("pending: pending entry", r->e[1].word, pid);

	pid = robust_child(r, build_misaligned);
	show_word("misaligned: entry after the misaligned one", r->e[0].word, pid);
	show_word("misaligned: pending entry", r->e[1].word, pid);

	pid = robust_child(r, build_null);
	show_word("NULL link: listed entry", r->e[0].word, pid);
	show_word("NULL link: pending entry", r->e[1].word, pid);

	pid = robust_child(r, build_unmapped);
	show_word("unmapped link: listed entry", r->e[0].word, pid);
	show_word("unmapped link: pending entry", r->e[1].word, pid);

	/* A waiter on a held word with FUTEX_WAITERS is woken by the death
	 * (or finds the word changed if it came too late: both are fine,
	 * a lost wake-up is not). */
	int p[2];
	xpipe(p);
	memset(r, 0, sizeof(*r));
	pid = xfork();
	if (pid == 0) {
		uint32_t tid = syscall(SYS_gettid);
		r->head.futex_offset = offsetof(struct rentry, word);
		r->head.list = &r->e[0];
		r->e[0].next = (struct rentry *)&r->head;
		r->e[0].word = tid | WAITERS;
		syscall(SYS_set_robust_list, &r->head, sizeof(r->head));
		put_byte(p[1]);
		msleep(100);
		_exit(0);
	}
	get_byte(p[0]);
	struct timespec ts = { 5, 0 };
	long w = futex(&r->e[0].word, FUTEX_WAIT, (uint32_t)pid | WAITERS, &ts, NULL, 0);
	SHOW("waiter on a dead thread's robust word: woken or too late: %d\n",
	     w == 0 || errno == EAGAIN);
	reap(pid, "hand-made robust list child");
	show_word("waited word", r->e[0].word, pid);
	close(p[0]);
	close(p[1]);
	munmap(r, 4096);
}

/* get_robust_list of another process, live and zombie. */
static void check_other_robust_list(void)
{
	struct robust_head *mine = NULL, *h = NULL;
	size_t len = 0;
	int p[2];

	syscall(SYS_get_robust_list, 0, &mine, &len);
	int ready[2];
	xpipe(p);
	xpipe(ready);
	pid_t pid = xfork();
	if (pid == 0) {
		char c;
		put_byte(ready[1]); /* after glibc registered the head again */
		read(p[0], &c, 1);
		_exit(0);
	}
	get_byte(ready[0]);
	close(ready[0]);
	close(ready[1]);
	CHECK(syscall(SYS_get_robust_list, pid, &h, &len));
	SHOW("live child's head is at the same address as ours: %d\n", h == mine);
	put_byte(p[1]);
	siginfo_t si;
	CHECK(waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
	h = (void *)1;
	CHECK(syscall(SYS_get_robust_list, pid, &h, &len));
	SHOW("zombie's head is NULL: %d\n", h == NULL);
	reap(pid, "child");
	CHECK(syscall(SYS_get_robust_list, pid, &h, &len));
	close(p[0]);
	close(p[1]);
}

/* ---- 7. RLIMIT_NPROC ------------------------------------------------- */

#define NPROC_UID 54321

static void *idle_thread(void *arg)
{
	(void)arg;
	return NULL;
}

static void nproc_bomb(void)
{
	struct rlimit rl = { 10, 10 };
	pid_t kids[64];
	int n = 0, err = 0;

	if (setrlimit(RLIMIT_NPROC, &rl) != 0)
		die("setrlimit");
	if (setuid(NPROC_UID) != 0)
		die("setuid");
	for (;;) {
		pid_t p = fork();
		if (p == 0) {
			pause();
			_exit(0);
		}
		if (p == -1) {
			err = errno;
			break;
		}
		kids[n++] = p;
		if (n == 64)
			break;
	}
	SHOW("nproc: %d forks succeeded, then fork: -1 %s\n", n, err ? errname(err) : "(none)");
	pthread_t th;
	SHOW("nproc: pthread_create at the limit: %s\n", rc(pthread_create(&th, NULL, idle_thread, NULL)));
	rl.rlim_cur = rl.rlim_max = 20;
	CHECK(setrlimit(RLIMIT_NPROC, &rl));

	for (int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	/* Killed but not reaped: the zombies still count. */
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	SHOW("nproc: fork with the killed children unreaped: %s\n", p == -1 ? errname(errno) : "ok");
	if (p > 0)
		waitpid(p, NULL, 0);

	int killed = 0;
	int st;
	if (waitpid(kids[0], &st, 0) == kids[0] && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		killed++;
	p = fork();
	if (p == 0)
		_exit(0);
	SHOW("nproc: fork after reaping one: %s\n", p == -1 ? errname(errno) : "ok");
	if (p > 0)
		waitpid(p, NULL, 0);
	for (int i = 1; i < n; i++)
		if (waitpid(kids[i], &st, 0) == kids[i] && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			killed++;
	SHOW("nproc: %d children reaped, killed by SIGKILL\n", killed);
	int r = pthread_create(&th, NULL, idle_thread, NULL);
	SHOW("nproc: pthread_create after reaping: %s\n", rc(r));
	if (r == 0)
		pthread_join(th, NULL);
	fflush(stdout);
	_exit(0);
}

static void check_nproc(void)
{
	pid_t pid = xfork();

	if (pid == 0)
		nproc_bomb();
	reap(pid, "nproc child");

	/* Root is exempt. */
	pid = xfork();
	if (pid == 0) {
		struct rlimit rl = { 1, 1 };
		if (setrlimit(RLIMIT_NPROC, &rl) != 0)
			die("setrlimit");
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		SHOW("root: fork with RLIMIT_NPROC 1: %s\n", p == -1 ? errname(errno) : "ok");
		if (p > 0)
			waitpid(p, NULL, 0);
		_exit(0);
	}
	reap(pid, "root nproc child");
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "exec-wait") == 0) {
		char c;
		/* Until the parent closes its end. */
		while (read(atoi(argv[2]), &c, 1) > 0)
			;
		return 0;
	}
	alarm(20);
	if (argv[0][0] != '/') {
		printf("run me by an absolute path\n");
		return 2;
	}
	self_path = argv[0];

	check_threads_sync();
	check_robust_threads();
	check_robust_processes();
	check_shared_futex();
	check_futex_errors();
	check_robust_list();
	check_handmade_robust_lists();
	check_other_robust_list();
	check_nproc();
	printf("done\n");
	return 0;
}
