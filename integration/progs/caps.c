/*
 * caps.c: capability sets. capget/capset with each header version and
 * version probing, the subset rules of capset, PR_CAPBSET_READ/DROP,
 * ambient capabilities, keepcaps and securebits, what setuid and setfsuid
 * do to the sets, what execve gives a child (it re-executes itself with
 * the argument "child" and prints its /proc/self/status Cap lines), and
 * permission checks that need a capability once it is dropped.
 *
 * Run as root. To print the same thing wherever it runs, it first narrows
 * its sets to BASE (which root has everywhere) and drops every other
 * capability from its bounding set.
 */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/fsuid.h>

#define BIT(c) (1ULL << (c))
#define LAST_CAP 40
#define BASE (BIT(CAP_CHOWN) | BIT(CAP_DAC_OVERRIDE) | BIT(CAP_DAC_READ_SEARCH) | \
	      BIT(CAP_FOWNER) | BIT(CAP_FSETID) | BIT(CAP_KILL) | BIT(CAP_SETGID) | \
	      BIT(CAP_SETUID) | BIT(CAP_SETPCAP) | BIT(CAP_NET_RAW) | BIT(CAP_SYS_CHROOT) | \
	      BIT(CAP_SYS_ADMIN) | BIT(CAP_MKNOD) | BIT(CAP_SETFCAP) | BIT(CAP_MAC_OVERRIDE) | \
	      BIT(CAP_AUDIT_READ))

#ifndef SECBIT_NO_CAP_AMBIENT_RAISE
#define SECBIT_NO_CAP_AMBIENT_RAISE (1 << 6)
#endif
#define SECBIT_KEEP_CAPS_ (1 << 4)
#define SECBIT_KEEP_CAPS_LOCKED_ (1 << 5)

struct caps {
	unsigned long long eff, prm, inh;
};

static long capget3(int pid, struct caps *c)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, pid};
	struct __user_cap_data_struct d[2];
	long r = syscall(SYS_capget, &h, d);

	if (r == 0) {
		c->eff = d[0].effective | (unsigned long long)d[1].effective << 32;
		c->prm = d[0].permitted | (unsigned long long)d[1].permitted << 32;
		c->inh = d[0].inheritable | (unsigned long long)d[1].inheritable << 32;
	}
	return r;
}

static long capset3(unsigned long long eff, unsigned long long prm, unsigned long long inh)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {
		{(unsigned)eff, (unsigned)prm, (unsigned)inh},
		{(unsigned)(eff >> 32), (unsigned)(prm >> 32), (unsigned)(inh >> 32)},
	};
	return syscall(SYS_capset, &h, d);
}

static struct caps cur(void)
{
	struct caps c = {0, 0, 0};

	if (capget3(0, &c) != 0) {
		perror("capget");
		exit(99);
	}
	return c;
}

static void show(const char *what)
{
	struct caps c = cur();

	printf("%s: eff=%llx prm=%llx inh=%llx amb=", what, c.eff, c.prm, c.inh);
	for (int i = 0; i <= LAST_CAP; i++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, i, 0, 0) == 1)
			printf("%d,", i);
	printf("\n");
}

/* setEff sets the effective set, keeping the others. */
static long set_eff(unsigned long long eff)
{
	struct caps c = cur();
	return capset3(eff, c.prm, c.inh);
}

static void status_caps(const char *tag)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL) {
		perror("status");
		exit(99);
	}
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Cap", 3) == 0 || strncmp(line, "Uid:", 4) == 0)
			printf("%s %s", tag, line);
	fclose(f);
}

static const char *self;

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);

	if (in < 0 || out < 0)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			return -1;
	close(in);
	return close(out) == 0 && n == 0 ? 0 : -1;
}

/* run_child execs this program with "child" from the current state. */
static void exec_child(void)
{
	fflush(stdout);
	execl(self, self, "child", (char *)NULL);
	perror("execl");
	_exit(99);
}

static void wait_for(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("child failed (status %x)\n", st);
		exit(1);
	}
}

/* in_child runs f in a child process and waits for it. */
static void in_child(const char *what, void (*f)(void))
{
	pid_t pid;

	printf("-- %s\n", what);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		f();
		fflush(stdout);
		_exit(0);
	}
	wait_for(pid);
}

static void versions(void)
{
	struct __user_cap_header_struct h = {0, 0};
	struct __user_cap_data_struct d[2];

	CHECK(syscall(SYS_capget, &h, NULL));
	SHOW("probed version %x\n", h.version);
	h.version = 0x12345678;
	CHECK(syscall(SYS_capget, &h, d));
	SHOW("version written back %x\n", h.version);
	h.version = 0x12345678;
	CHECK(syscall(SYS_capset, &h, d));
	SHOW("version written back %x\n", h.version);
	CHECK(syscall(SYS_capget, NULL, d));

	h.version = _LINUX_CAPABILITY_VERSION_1;
	h.pid = 0;
	memset(d, 0xff, sizeof(d));
	CHECK(syscall(SYS_capget, &h, d));
	SHOW("v1: eff=%x prm=%x inh=%x, second struct untouched: %d\n", d[0].effective,
	     d[0].permitted, d[0].inheritable, d[1].effective == 0xffffffff);
	h.version = _LINUX_CAPABILITY_VERSION_2;
	CHECK(syscall(SYS_capget, &h, d));
	SHOW("v2: eff=%x:%x prm=%x:%x\n", d[1].effective, d[0].effective, d[1].permitted,
	     d[0].permitted);
	h.version = _LINUX_CAPABILITY_VERSION_3;
	h.pid = -1;
	CHECK(syscall(SYS_capget, &h, d));
	h.pid = getpid();
	CHECK(syscall(SYS_capget, &h, d));
	h.pid = getppid();
	CHECK(syscall(SYS_capset, &h, d));
	h.pid = getpid();
	CHECK(syscall(SYS_capset, &h, d));
	CHECK(syscall(SYS_capget, &h, unmapped_page()));
}

static void v1_capset(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_1, 0};
	struct __user_cap_data_struct d = {(unsigned)BASE, (unsigned)BASE, 0};

	CHECK(syscall(SYS_capset, &h, &d));
	show("after a v1 capset (caps above 31 dropped)");
	d.permitted = (unsigned)BASE | BIT(CAP_LEASE);
	CHECK(syscall(SYS_capset, &h, &d));
}

static void subsets(void)
{
	/* Permitted can only shrink. */
	CHECK(capset3(BASE & ~BIT(CAP_NET_RAW), BASE & ~BIT(CAP_NET_RAW), 0));
	CHECK(capset3(BASE, BASE, 0));
	/* Effective within permitted. */
	CHECK(capset3(BASE, BASE & ~BIT(CAP_NET_RAW), 0));
	/* Bits beyond CAP_LAST_CAP are ignored. */
	CHECK(capset3(~0ULL & (BASE & ~BIT(CAP_NET_RAW)), (BASE & ~BIT(CAP_NET_RAW)) | BIT(50), 0));
	show("after capset");
	/* Inheritable: within inheritable|permitted without CAP_SETPCAP ... */
	CHECK(capset3(BASE & ~BIT(CAP_NET_RAW) & ~BIT(CAP_SETPCAP), BASE & ~BIT(CAP_NET_RAW), BIT(CAP_NET_RAW)));
	CHECK(capset3(BASE & ~BIT(CAP_NET_RAW), BASE & ~BIT(CAP_NET_RAW), BIT(CAP_NET_RAW)));
	/* ... and always within the bounding set. */
	CHECK(capset3(BASE & ~BIT(CAP_NET_RAW), BASE & ~BIT(CAP_NET_RAW), BIT(CAP_NET_RAW) | BIT(CAP_SYS_RESOURCE)));
	show("after setting inheritable");
	CHECK(capset3(0, 0, BIT(CAP_NET_RAW)));
	show("nothing permitted");
	CHECK(capset3(0, BIT(CAP_KILL), BIT(CAP_NET_RAW)));
	CHECK(capset3(0, 0, BIT(CAP_NET_RAW) | BIT(CAP_KILL)));
}

static void bounding(void)
{
	CHECKV(prctl(PR_CAPBSET_READ, CAP_KILL, 0, 0, 0));
	CHECKV(prctl(PR_CAPBSET_READ, CAP_SYS_RESOURCE, 0, 0, 0));
	CHECKV(prctl(PR_CAPBSET_READ, LAST_CAP + 1, 0, 0, 0));
	CHECKV(prctl(PR_CAPBSET_READ, -1L, 0, 0, 0));
	CHECK(prctl(PR_CAPBSET_DROP, CAP_KILL, 0, 0, 0));
	CHECKV(prctl(PR_CAPBSET_READ, CAP_KILL, 0, 0, 0));
	CHECK(prctl(PR_CAPBSET_DROP, LAST_CAP + 1, 0, 0, 0));
	/* Dropping from the bounding set leaves the other sets alone. */
	show("after dropping CAP_KILL from the bounding set");
	CHECK(set_eff(BASE & ~BIT(CAP_SETPCAP)));
	CHECK(prctl(PR_CAPBSET_DROP, CAP_CHOWN, 0, 0, 0));
	CHECK(prctl(PR_CAPBSET_DROP, LAST_CAP + 1, 0, 0, 0));
	CHECKV(prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0));
	exec_child();
}

static void ambient(void)
{
	CHECKV(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0));
	CHECK(capset3(BASE, BASE, BIT(CAP_KILL) | BIT(CAP_NET_RAW)));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0));
	CHECKV(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, LAST_CAP + 1, 0, 0));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 1, 0));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 1, 0, 0));
	CHECK(prctl(PR_CAP_AMBIENT, 9, CAP_KILL, 0, 0));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_RESOURCE, 0, 0));
	show("two ambient");
	/* Lowering inheritable takes the capability out of the ambient set. */
	CHECK(capset3(BASE, BASE, BIT(CAP_KILL)));
	show("NET_RAW no longer inheritable");
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_KILL, 0, 0));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
	show("cleared");
	CHECK(prctl(PR_SET_SECUREBITS, SECBIT_NO_CAP_AMBIENT_RAISE, 0, 0, 0));
	CHECKV(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0));
}

static void securebits(void)
{
	CHECKV(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
	CHECK(prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0));
	CHECK(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
	CHECKV(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
	CHECKV(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
	CHECK(prctl(PR_SET_SECUREBITS, 1 << 20, 0, 0, 0));
	CHECK(prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS_ | SECBIT_KEEP_CAPS_LOCKED_, 0, 0, 0));
	CHECK(prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0));
	CHECK(prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS_LOCKED_, 0, 0, 0));
	CHECK(prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS_, 0, 0, 0));
	CHECKV(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
	CHECK(set_eff(BASE & ~BIT(CAP_SETPCAP)));
	CHECK(prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS_ | SECBIT_KEEP_CAPS_LOCKED_, 0, 0, 0));
}

static void exec_root(void)
{
	CHECK(capset3(BASE & ~BIT(CAP_KILL), BASE & ~BIT(CAP_KILL), BIT(CAP_KILL) | BIT(CAP_NET_RAW)));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0));
	CHECK(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
	exec_child();
}

static void setuid_nokeep(void)
{
	CHECK(capset3(BASE, BASE, BIT(CAP_KILL)));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0));
	CHECK(setresuid(1000, 1000, 1000));
	show("all uids 1000");
	CHECK(setuid(0));
	exec_child();
}

static void setuid_keep(void)
{
	CHECK(capset3(BASE, BASE, BIT(CAP_KILL) | BIT(CAP_NET_RAW)));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0));
	CHECK(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
	CHECK(setresuid(1000, 1000, 1000));
	show("all uids 1000, keepcaps");
	CHECK(set_eff(BIT(CAP_KILL) | BIT(CAP_SETUID)));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0));
	show("effective again, KILL ambient");
	exec_child();
}

static void seteuid_back(void)
{
	CHECK(setresuid(-1, 1000, -1));
	show("euid 1000");
	CHECK(setresuid(-1, 0, -1));
	show("euid 0 again");
	CHECK(setresuid(-1, 1000, -1));
	CHECKV(setfsuid(0));
	show("fsuid 0 with euid 1000");
	CHECKV(setfsuid(1000));
	CHECK(capset3(BIT(CAP_KILL), BASE, BIT(CAP_CHOWN)));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0));
	/* Real uid 0, effective 1000: exec gives permitted, not effective. */
	exec_child();
}

static void fsuid(void)
{
	CHECKV(setfsuid(1000));
	show("fsuid 1000");
	CHECKV(setfsuid(0));
	show("fsuid 0 again");
	CHECK(capset3(BASE & ~BIT(CAP_CHOWN), BASE & ~BIT(CAP_CHOWN), 0));
	CHECKV(setfsuid(1000));
	CHECKV(setfsuid(0));
	show("CHOWN not permitted: not restored");
}

static const char *file = "f1000";

static void dac(void)
{
	CHECK(set_eff(BASE & ~BIT(CAP_DAC_OVERRIDE) & ~BIT(CAP_DAC_READ_SEARCH)));
	CHECK(open(file, O_RDONLY));
	CHECK(open(file, O_WRONLY));
	CHECK(access(file, R_OK));
	CHECK(faccessat(AT_FDCWD, file, R_OK, AT_EACCESS));
	/* Searching a directory of another user's, mode 0700. */
	struct stat sb;
	CHECK(stat("dir0/x", &sb));
	CHECK(open("dir0/x", O_RDONLY));
	CHECK(stat("dir0", &sb));
	CHECK(set_eff(BASE & ~BIT(CAP_DAC_OVERRIDE)));
	int fd = CHECK(open(file, O_RDONLY));
	close(fd);
	CHECK(open(file, O_WRONLY));
	CHECK(open("dir0", O_RDONLY | O_DIRECTORY));
	CHECK(open("dir0/x", O_RDONLY));
	CHECK(open("dir0/new", O_WRONLY | O_CREAT, 0600));
	CHECK(set_eff(BASE & ~BIT(CAP_DAC_READ_SEARCH)));
	fd = CHECK(open(file, O_RDWR));
	close(fd);
	CHECK(open("dir0/new", O_WRONLY | O_CREAT, 0600));
	CHECK(access("noexec", X_OK));
}

static char rootonly[300];

/* exec_denied: as uid 1000, a program only root may execute is EACCES. */
static void exec_denied(void)
{
	CHECK(setresuid(1000, 1000, 1000));
	fflush(stdout);
	execl(rootonly, rootonly, "child", (char *)NULL);
	printf("execl of a root-only program: %s\n", errname(errno));
}

static void owner(void)
{
	struct timespec ts[2] = {{1, 0}, {2, 0}};

	CHECK(set_eff(BASE & ~BIT(CAP_FOWNER)));
	CHECK(open(file, O_RDONLY | O_NOATIME));
	int fd = CHECK(open("mine", O_RDONLY | O_NOATIME));
	close(fd);
	CHECK(chmod(file, 0640));
	CHECK(utimensat(AT_FDCWD, file, ts, 0));
	CHECK(utimensat(AT_FDCWD, file, NULL, 0));
	CHECK(set_eff(BASE & ~BIT(CAP_CHOWN)));
	CHECK(chown(file, 2000, -1));
	CHECK(chown(file, -1, 2000));
	CHECK(chown(file, -1, -1));
	CHECK(chown("mine", 0, -1));
	CHECK(chown("mine", -1, 0));
	CHECK(chown("mine", 2000, -1));
	CHECK(set_eff(BASE));
	CHECK(chown(file, 1000, 1000));
	CHECK(chmod(file, 0600));
}

static void ids(void)
{
	gid_t g = 5;

	CHECK(set_eff(BASE & ~BIT(CAP_SETUID) & ~BIT(CAP_SETGID)));
	CHECK(setuid(1000));
	CHECK(setresuid(-1, 1000, -1));
	CHECK(setgid(1000));
	CHECK(setgroups(1, &g));
	CHECK(setresgid(-1, 0, -1));
	CHECK(set_eff(BASE & ~BIT(CAP_SYS_CHROOT)));
	CHECK(chroot("/"));
	CHECK(set_eff(BASE & ~BIT(CAP_SYS_ADMIN)));
	CHECK(mount("none", "dir0", "tmpfs", 0, NULL));
	CHECK(umount2("dir0", 0));
	if (!(cur().eff & BIT(CAP_SYS_ADMIN))) { /* never rename the host */
		CHECK(sethostname("x", 1));
		CHECK(setdomainname("x", 1));
	}
	CHECK(set_eff(BASE));
	/* Too long (EINVAL before anything changes). */
	CHECK(sethostname("x", 65));
	CHECK(chroot("/"));
}

static void limits(void)
{
	struct rlimit r;

	getrlimit(RLIMIT_NOFILE, &r);
	r.rlim_max = r.rlim_cur;
	CHECK(setrlimit(RLIMIT_NOFILE, &r));
	r.rlim_max++;
	CHECK(setrlimit(RLIMIT_NOFILE, &r));
}

static void kills(void)
{
	int p[2];
	char c;
	pid_t pid;

	if (pipe(p) != 0)
		exit(99);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (setpgid(0, 0) != 0 || setresuid(1000, 1000, 1000) != 0)
			_exit(98);
		close(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 0)
		exit(99);
	CHECK(set_eff(BASE & ~BIT(CAP_KILL)));
	CHECK(kill(pid, 0));
	CHECK(kill(pid, SIGTERM));
	CHECK(kill(-pid, SIGTERM));
	CHECK(syscall(SYS_tgkill, pid, pid, SIGTERM));
	CHECK(kill(pid, SIGCONT));
	/* Without CAP_KILL, a uid that matches is enough. */
	CHECK(setresuid(1000, -1, -1));
	CHECK(kill(pid, 0));
	CHECK(setresuid(0, -1, -1));
	CHECK(set_eff(BASE));
	CHECK(kill(pid, SIGKILL));
	int st;
	waitpid(pid, &st, 0);
	SHOW("killed by %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
}

static void other_pid(void)
{
	int p[2];
	char c;
	struct caps oc;
	pid_t pid;

	if (pipe(p) != 0)
		exit(99);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		capset3(BIT(CAP_KILL), BIT(CAP_KILL) | BIT(CAP_CHOWN), BIT(CAP_NET_RAW));
		close(p[1]);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 0)
		exit(99);
	CHECK(capget3(pid, &oc));
	SHOW("child's caps: eff=%llx prm=%llx inh=%llx\n", oc.eff, oc.prm, oc.inh);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK(capget3(pid, &oc));
}

int main(int argc, char **argv)
{
	self = argv[0];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "child") == 0) {
		status_caps("child");
		printf("child keepcaps %d securebits %x\n", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0),
		       prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
		return 0;
	}

	/* The starting point: root with at least BASE; then exactly BASE. */
	struct caps c = cur();
	SHOW("root has BASE: %d\n", (c.prm & BASE) == BASE && (c.eff & BASE) == BASE);
	if (capset3(BASE, BASE, 0) != 0) {
		perror("capset");
		return 1;
	}
	for (int i = 0; i <= LAST_CAP; i++)
		if (!(BASE & BIT(i)) && prctl(PR_CAPBSET_DROP, i, 0, 0, 0) != 0) {
			perror("PR_CAPBSET_DROP");
			return 1;
		}
	status_caps("start");

	const char *dir = enter_tmpdir("caps");
	/* A copy of this program that uid 1000 may execute too. */
	static char copy[300];
	snprintf(copy, sizeof(copy), "%s/caps-child", dir);
	if (chmod(dir, 0755) != 0 || copy_file(self, copy) != 0) {
		perror("copy");
		return 1;
	}
	self = copy;
	snprintf(rootonly, sizeof(rootonly), "%s/rootonly", dir);
	if (copy_file(copy, rootonly) != 0 || chmod(rootonly, 0700) != 0) {
		perror("copy");
		return 1;
	}
	int fd = open(file, O_CREAT | O_WRONLY, 0600);
	if (fd < 0 || fchown(fd, 1000, 1000) != 0 || mkdir("dir0", 0700) != 0 ||
	    chown("dir0", 1000, 1000) != 0 || close(open("dir0/x", O_CREAT | O_WRONLY, 0644)) != 0 ||
	    close(open("mine", O_CREAT | O_WRONLY, 0644)) != 0 ||
	    close(open("noexec", O_CREAT | O_WRONLY, 0644)) != 0) {
		perror("setup");
		return 1;
	}
	close(fd);

	in_child("versions", versions);
	in_child("v1 capset", v1_capset);
	in_child("subset rules", subsets);
	in_child("bounding set", bounding);
	in_child("ambient", ambient);
	in_child("securebits", securebits);
	in_child("exec as root", exec_root);
	in_child("setuid without keepcaps", setuid_nokeep);
	in_child("setuid with keepcaps", setuid_keep);
	in_child("seteuid and back", seteuid_back);
	in_child("setfsuid", fsuid);
	in_child("DAC", dac);
	in_child("exec permission", exec_denied);
	in_child("owner", owner);
	in_child("ids, chroot, mount", ids);
	in_child("rlimits", limits);
	in_child("kill", kills);
	in_child("capget of another process", other_pid);
	in_child("exec as root with BASE", exec_child);

	remove_tree(dir);
	SHOW("done\n");
	return 0;
}
