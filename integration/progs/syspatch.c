/*
 * syspatch: system calls from sites that moat's syscall-site patching
 * rewrites (`mov $NR, %eax; syscall`, see platform/syspatch), checked
 * natively and inside moat with identical output. The sites are in this
 * program's text, 8-byte aligned, so that moat patches them when it can.
 *
 *   1. many calls from one site (and from glibc's syscall(2)); every register but rax, rcx and r11, the
 *      red zone, CF and DF preserved across the call.
 *   2. a signal interrupting a blocking read at a patched site, with and
 *      without SA_RESTART.
 *   3. JIT-like code: `mov $39, %eax; syscall; ret` written into an
 *      anonymous page, made RX, called, rewritten to 110 and called again;
 *      and the same in a private mapping of a file, whose bytes must read
 *      back as written once the program makes it writable again.
 *   4. fork, vfork and threads after the sites were patched.
 *   5. a site whose rewritten bytes cross an 8-byte word, patched, then
 *      undone (text made writable) while two threads call it: moat puts
 *      an int3 there for a moment, which must never reach the program.
 */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>

long site_getppid(void);
long site_read(long fd, void *buf, long n);
long regcheck(void);
long site_getppid_odd(void);

__asm__(
	".text\n"
	".balign 16\n"
	"site_getppid:\n"
	"	mov $110, %eax\n"
	"	syscall\n"
	"	ret\n"
	".balign 16\n"
	"	.byte 0x0f, 0x1f, 0x40, 0x00\n" /* nopl 0(%rax), 4 bytes: the site starts at 4 mod 16 */
	"site_getppid_odd:\n"
	"	mov $110, %eax\n"
	"	syscall\n"
	"	ret\n"
	".balign 16\n"
	"site_read:\n"
	"	mov $0, %eax\n"
	"	syscall\n"
	"	ret\n"
	".balign 16\n"
	"regcheck:\n"
	"	push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
	"	movq $0x5a5a5a5a, -8(%rsp)\n"
	"	movq $0x6b6b6b6b, -128(%rsp)\n"
	"	mov $0x1111, %rbx\n mov $0x2222, %rbp\n mov $0x3333, %r12\n mov $0x4444, %r13\n"
	"	mov $0x5555, %r14\n mov $0x6666, %r15\n mov $0x7777, %rdi\n mov $0x8888, %rsi\n"
	"	mov $0x9999, %rdx\n mov $0xaaaa, %r8\n mov $0xbbbb, %r9\n mov $0xcccc, %r10\n"
	"	stc\n std\n"
	"	jmp 1f\n"
	"	.balign 8\n"
	"1:	mov $110, %eax\n"
	"	syscall\n"
	"	setc %cl\n"
	"	xor %r11d, %r11d\n"
	"	cmpq $0x5a5a5a5a, -8(%rsp)\n je 2f\n or $16384, %r11d\n2:\n"
	"	cmpq $0x6b6b6b6b, -128(%rsp)\n je 2f\n or $32768, %r11d\n2:\n"
	"	pushfq\n pop %rax\n cld\n"
	"	test %cl, %cl\n jnz 2f\n or $1, %r11d\n2:\n"
	"	bt $10, %rax\n jc 2f\n or $2, %r11d\n2:\n"
	"	cmp $0x1111, %rbx\n je 2f\n or $4, %r11d\n2:\n"
	"	cmp $0x2222, %rbp\n je 2f\n or $8, %r11d\n2:\n"
	"	cmp $0x3333, %r12\n je 2f\n or $16, %r11d\n2:\n"
	"	cmp $0x4444, %r13\n je 2f\n or $32, %r11d\n2:\n"
	"	cmp $0x5555, %r14\n je 2f\n or $64, %r11d\n2:\n"
	"	cmp $0x6666, %r15\n je 2f\n or $128, %r11d\n2:\n"
	"	cmp $0x7777, %rdi\n je 2f\n or $256, %r11d\n2:\n"
	"	cmp $0x8888, %rsi\n je 2f\n or $512, %r11d\n2:\n"
	"	cmp $0x9999, %rdx\n je 2f\n or $1024, %r11d\n2:\n"
	"	cmp $0xaaaa, %r8\n je 2f\n or $2048, %r11d\n2:\n"
	"	cmp $0xbbbb, %r9\n je 2f\n or $4096, %r11d\n2:\n"
	"	cmp $0xcccc, %r10\n je 2f\n or $8192, %r11d\n2:\n"
	"	mov %r11d, %eax\n"
	"	pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
	"	ret\n");

static void many(const char *who)
{
	long ppid = getppid(), bad = 0, regs = 0;

	for (int i = 0; i < 2000; i++)
		bad += site_getppid() != ppid;
	for (int i = 0; i < 2000; i++) /* glibc's syscall(2): another sequence */
		bad += syscall(SYS_getppid) != ppid;
	for (int i = 0; i < 50; i++)
		regs |= regcheck();
	SHOW("%s: 4000 calls from two sites, wrong results: %ld\n", who, bad);
	SHOW("%s: registers, red zone and flags kept (mask of changes): %#lx\n", who, regs);
}

static int pipefd[2];
static volatile int handled;

static void on_alarm(int sig)
{
	(void)sig;
	handled++;
	if (write(pipefd[1], "x", 1) != 1)
		_exit(3);
}

static void interrupted_read(int flags)
{
	struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = flags};
	struct itimerval it = {.it_value = {.tv_usec = 50000}};
	char c;

	sigaction(SIGALRM, &sa, NULL);
	handled = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	long r = site_read(pipefd[0], &c, 1);
	if (r < 0)
		SHOW("read with%s SA_RESTART: %s, handler ran %d\n", flags ? "" : "out", errname(-r), handled);
	else
		SHOW("read with%s SA_RESTART: %ld byte, handler ran %d\n", flags ? "" : "out", r, handled);
	if (r < 0 && site_read(pipefd[0], &c, 1) != 1)
		SHOW("the handler's byte is missing\n");
}

static long call(void *code) { return ((long (*)(void))code)(); }

static const unsigned char getpid_code[] = {0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xc3};

static void jit(void)
{
	unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long ok = 1;

	memcpy(p + 8, getpid_code, sizeof getpid_code);
	CHECK(mprotect(p, 4096, PROT_READ | PROT_EXEC));
	for (int i = 0; i < 10; i++)
		ok &= call(p + 8) == getpid();
	SHOW("anonymous code: getpid: %ld\n", ok);
	CHECK(mprotect(p, 4096, PROT_READ | PROT_WRITE));
	p[9] = 110;
	CHECK(mprotect(p, 4096, PROT_READ | PROT_EXEC));
	for (int i = 0; i < 10; i++)
		ok &= call(p + 8) == getppid();
	SHOW("anonymous code rewritten: getppid: %ld\n", ok);
	munmap(p, 4096);

	/* The same code in a private mapping of a file (like a library's text). */
	char path[] = "/tmp/syspatch-code-XXXXXX";
	int fd = mkstemp(path);
	unsigned char file[4096];
	memset(file, 0x90, sizeof file);
	memcpy(file + 16, getpid_code, sizeof getpid_code);
	if (write(fd, file, sizeof file) != sizeof file)
		SHOW("short write\n");
	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	ok = 1;
	for (int i = 0; i < 10; i++)
		ok &= call(p + 16) == getpid();
	SHOW("file code: getpid: %ld\n", ok);
	CHECK(mprotect(p, 4096, PROT_READ | PROT_WRITE));
	SHOW("file code reads back as written once writable: %d\n", memcmp(p + 16, getpid_code, sizeof getpid_code) == 0);
	p[17] = 110;
	CHECK(mprotect(p, 4096, PROT_READ | PROT_EXEC));
	ok = 1;
	for (int i = 0; i < 10; i++)
		ok &= call(p + 16) == getppid();
	SHOW("file code rewritten: getppid: %ld\n", ok);
	munmap(p, 4096);
	close(fd);
	unlink(path);
}

static void *thread(void *arg)
{
	long bad = 0, regs = 0, ppid = getppid();

	for (int i = 0; i < 2000; i++) {
		bad += site_getppid() != ppid;
		regs |= regcheck();
	}
	*(long *)arg = bad | regs;
	return NULL;
}

static volatile int stop_hammer;

static void *hammer(void *arg)
{
	long bad = 0, ppid = getppid();

	while (!stop_hammer)
		bad += site_getppid_odd() != ppid;
	*(long *)arg = bad;
	return NULL;
}

/* 5: the odd site patched with one thread, undone with three. */
static void restore_race(void)
{
	void *page = (void *)((uintptr_t)site_getppid_odd & ~(uintptr_t)4095);
	long bad = 0, fails = 0;

	for (int r = 0; r < 20; r++) {
		for (int i = 0; i < 5; i++)
			bad += site_getppid_odd() != getppid();
		pthread_t t[2];
		long res[2];
		stop_hammer = 0;
		for (int i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, hammer, &res[i]);
		usleep(1000);
		fails += mprotect(page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) != 0;
		fails += mprotect(page, 4096, PROT_READ | PROT_EXEC) != 0;
		usleep(1000);
		stop_hammer = 1;
		for (int i = 0; i < 2; i++) {
			pthread_join(t[i], NULL);
			bad += res[i];
		}
	}
	const unsigned char *b = (const unsigned char *)site_getppid_odd;
	SHOW("odd site undone under threads: wrong results %ld, mprotect failures %ld, bytes %02x %02x %02x\n",
	     bad, fails, b[0], b[1], b[5]);
}

/* With "maps": whether moat patched this program's sites (moat only). */
static void show_stub_page(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;

	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		found |= strstr(line, "[moat-syscall]") != NULL;
	printf("stub page mapped: %d\n", found);
}

int main(int argc, char **argv)
{
	many("main");
	if (argc > 1 && strcmp(argv[1], "maps") == 0) {
		show_stub_page();
		return 0;
	}

	CHECK(pipe(pipefd));
	char c;
	for (int i = 0; i < 5; i++) { /* patch the read site */
		if (write(pipefd[1], "y", 1) != 1 || site_read(pipefd[0], &c, 1) != 1)
			SHOW("pipe read failed\n");
	}
	interrupted_read(SA_RESTART);
	interrupted_read(0);
	signal(SIGALRM, SIG_DFL);

	jit();

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		many("fork child");
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	SHOW("fork child exited %d\n", WEXITSTATUS(st));

	pid = vfork();
	if (pid == 0) {
		long bad = 0;
		for (int i = 0; i < 100; i++)
			bad |= site_getppid() <= 0 || regcheck();
		_exit(bad ? 1 : 0);
	}
	waitpid(pid, &st, 0);
	SHOW("vfork child exited %d\n", WEXITSTATUS(st));

	pthread_t t[2];
	long res[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, thread, &res[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	SHOW("threads: failures %ld %ld\n", res[0], res[1]);
	many("main after threads");
	restore_race();
	SHOW("done\n");
	return 0;
}
