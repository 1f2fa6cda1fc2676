/*
 * pivot_root.c: pivot_root(2) and mount(MS_MOVE), each part in a child in
 * a fresh mount namespace (unshare(CLONE_NEWNS), all mounts made private
 * first), so that natively nothing changes outside it. Every part works in
 * B, a tmpfs mounted on a fresh directory under /tmp; mount points under it
 * are printed relative to it ("B/..."), and only mounts in B (or, after a
 * pivot, every mount left) are listed, from /proc/self/mountinfo: mount
 * point, type, the mount point of the parent and ro/rw.
 *
 * Run as root.
 */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/capability.h>

static const char *base; /* B's absolute path */

static int pivot(const char *new_root, const char *put_old)
{
	return syscall(SYS_pivot_root, new_root, put_old);
}

/* Lines are collected and printed sorted: the order of mountinfo is not
 * part of the interface being compared. */
static char out[256][1400];
static int nout;

static int cmpline(const void *a, const void *b) { return strcmp(a, b); }

static void flush_lines(void)
{
	qsort(out, nout, sizeof(out[0]), cmpline);
	for (int i = 0; i < nout; i++)
		printf("%s\n", out[i]);
	nout = 0;
}

struct mnt {
	int id, parent;
	char point[512], type[64], opts[16];
};

/* show_mounts lists the mounts of /proc/self/mountinfo whose mount point
 * is under prefix (all if prefix is NULL), with prefix shown as "B". */
static void show_mounts(const char *tag, const char *prefix)
{
	static struct mnt m[256];
	char line[2048];
	int n = 0;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (f == NULL) {
		printf("%s: mountinfo: %s\n", tag, errname(errno));
		return;
	}
	while (n < 256 && fgets(line, sizeof(line), f) != NULL) {
		char root[512];
		char *dash = strstr(line, " - ");

		if (sscanf(line, "%d %d %*s %511s %511s %15[^, ]", &m[n].id, &m[n].parent, root,
			   m[n].point, m[n].opts) != 5 || dash == NULL ||
		    sscanf(dash + 3, "%63s", m[n].type) != 1)
			continue;
		n++;
	}
	fclose(f);
	size_t plen = prefix ? strlen(prefix) : 0;
	for (int i = 0; i < n; i++) {
		const char *p = m[i].point;
		if (prefix != NULL) {
			if (strncmp(p, prefix, plen) != 0 || (p[plen] != '/' && p[plen] != 0))
				continue;
		}
		const char *parent = "-";
		for (int j = 0; j < n; j++)
			if (m[j].id == m[i].parent)
				parent = m[j].point;
		char shown[600], shownp[600];
		if (prefix != NULL) {
			snprintf(shown, sizeof(shown), "B%s", p + plen);
			if (strncmp(parent, prefix, plen) == 0)
				snprintf(shownp, sizeof(shownp), "B%s", parent + plen);
			else
				snprintf(shownp, sizeof(shownp), "%s", strcmp(parent, "-") ? "(outside)" : "-");
		} else {
			snprintf(shown, sizeof(shown), "%s", p);
			snprintf(shownp, sizeof(shownp), "%s", parent);
		}
		if (nout < 256)
			snprintf(out[nout++], sizeof(out[0]), "%s: %s %s on %s %s", tag, shown, m[i].type, shownp, m[i].opts);
	}
	flush_lines();
}

/* show_proc_mounts prints mount point and type of /proc/self/mounts,
 * of the mounts under prefix (all if NULL), shown as "B". */
static void show_proc_mounts(const char *tag, const char *prefix)
{
	size_t plen = prefix ? strlen(prefix) : 0;
	char line[2048], src[512], point[512], type[64];
	FILE *f = fopen("/proc/self/mounts", "r");

	if (f == NULL) {
		printf("%s: mounts: %s\n", tag, errname(errno));
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%511s %511s %63s", src, point, type) == 3) {
			if (nout >= 256)
				break;
			if (prefix == NULL)
				snprintf(out[nout++], sizeof(out[0]), "%s: %s %s", tag, point, type);
			else if (strncmp(point, prefix, plen) == 0 && (point[plen] == '/' || point[plen] == 0))
				snprintf(out[nout++], sizeof(out[0]), "%s: B%s %s", tag, point + plen, type);
		}
	fclose(f);
	flush_lines();
}

static void ls(const char *dir)
{
	char names[64][256];
	int n = 0;
	struct dirent *e;
	DIR *d = opendir(dir);

	if (d == NULL) {
		printf("ls %s: %s\n", dir, errname(errno));
		return;
	}
	while ((e = readdir(d)) != NULL && n < 64)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			snprintf(names[n++], 256, "%s", e->d_name);
	closedir(d);
	qsort(names, n, 256, (int (*)(const void *, const void *))strcmp);
	printf("ls %s:", dir);
	for (int i = 0; i < n; i++)
		printf(" %s", names[i]);
	printf("\n");
}

static void touch(const char *path)
{
	int fd = open(path, O_CREAT | O_WRONLY, 0644);

	if (fd < 0) {
		printf("touch %s: %s\n", path, errname(errno));
		exit(1);
	}
	close(fd);
}

static void must(int ok, const char *what)
{
	if (!ok) {
		printf("%s: %s\n", what, errname(errno));
		fflush(stdout);
		_exit(1);
	}
}

/* in_ns runs f in a child in a new mount namespace, in B (a fresh tmpfs,
 * the child's cwd). */
static void in_ns(const char *what, void (*f)(void))
{
	pid_t pid;
	int st;

	printf("-- %s\n", what);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		must(unshare(CLONE_NEWNS) == 0, "unshare");
		must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "make-rprivate");
		must(mount("t1", base, "tmpfs", 0, "mode=755") == 0, "mount B");
		must(chdir(base) == 0, "chdir B");
		f();
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		printf("%s: child failed (status %x)\n", what, st);
}

static void errors(void)
{
	must(mkdir("new", 0755) == 0 && mkdir("plain", 0755) == 0 && mkdir("other", 0755) == 0,
	     "mkdir");
	touch("file");
	/* new_root not a mount point. */
	CHECK(pivot("plain", "plain"));
	CHECK(pivot("nosuch", "plain"));
	CHECK(pivot("file", "plain"));
	must(mount("t2", "new", "tmpfs", 0, NULL) == 0, "mount new");
	must(mkdir("new/old", 0755) == 0, "mkdir new/old");
	touch("new/file");
	CHECK(pivot("new", "file"));
	CHECK(pivot("new", "new/file"));
	CHECK(pivot("new", "new/nosuch"));
	/* put_old not at or under new_root. */
	CHECK(pivot("new", "other"));
	CHECK(pivot("new", "."));
	/* new_root or put_old on the current root's mount. */
	CHECK(pivot("/", "new/old"));
	CHECK(pivot("new", "/"));
	CHECK(pivot(NULL, "new/old"));
	CHECK(pivot("new", unmapped_page()));
	/* Without CAP_SYS_ADMIN. */
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	must(syscall(SYS_capget, &h, d) == 0, "capget");
	d[0].effective &= ~(1u << CAP_SYS_ADMIN);
	must(syscall(SYS_capset, &h, d) == 0, "capset");
	CHECK(pivot("new", "new/old"));
	CHECK(mount("new", "other", NULL, MS_MOVE, NULL));
	CHECK(unshare(CLONE_NEWNS));
	CHECK(umount2("new", MNT_DETACH));
	show_mounts("unchanged", base);
}

static void dot_dot(void)
{
	int p[2];
	pid_t pid;
	char c;

	must(mkdir("new", 0755) == 0, "mkdir");
	must(mount("t2", "new", "tmpfs", 0, NULL) == 0, "mount new");
	must(mkdir("new/m", 0755) == 0 && mkdir("new/proc", 0755) == 0, "mkdir new/m");
	must(mount("t3", "new/m", "tmpfs", MS_RDONLY, NULL) == 0, "mount new/m");
	must(mount("proc", "new/proc", "proc", 0, NULL) == 0, "mount new/proc");
	touch("new/hello");
	touch("marker");

	/* A process whose root and cwd are the old root moves with it. It
	 * says when it is in "/" (ready), and the pivot comes after that. */
	int ready[2];
	must(pipe(p) == 0 && pipe(ready) == 0, "pipe");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(p[1]);
		close(ready[0]);
		must(chdir("/") == 0, "chdir /");
		must(write(ready[1], "r", 1) == 1, "ready");
		if (read(p[0], &c, 1) != 1)
			_exit(1);
		CHECK(access("/hello", F_OK));
		CHECK(access("hello", F_OK));
		char cwd[256];
		if (getcwd(cwd, sizeof(cwd)) != NULL)
			printf("other process: cwd %s\n", cwd);
		fflush(stdout);
		_exit(0);
	}
	close(p[0]);
	close(ready[1]);
	must(read(ready[0], &c, 1) == 1, "the other process is ready");
	close(ready[0]);

	must(chdir("new") == 0, "chdir new");
	CHECK(pivot(".", "."));
	char cwd[256];
	if (getcwd(cwd, sizeof(cwd)) != NULL)
		printf("cwd %s\n", cwd);
	CHECK(access("/hello", F_OK));
	ls("/");
	ls(".");
	/* The old root is stacked on the new one, at "/". */
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (f != NULL) {
		char line[2048], point[512];
		int at_root = 0;
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "%*d %*d %*s %*s %511s", point) == 1 && strcmp(point, "/") == 0)
				at_root++;
		fclose(f);
		printf("mounts at /: %d\n", at_root);
	} else {
		printf("mountinfo: %s\n", errname(errno));
	}
	CHECK(umount2(".", MNT_DETACH));
	CHECK(chdir("/"));
	ls("/");
	show_mounts("after", NULL);
	show_proc_mounts("mounts", NULL);
	must(write(p[1], "x", 1) == 1, "write");
	waitpid(pid, NULL, 0);
	/* The root cannot be moved under itself or pivoted onto itself. */
	CHECK(mount("/", "/m", NULL, MS_MOVE, NULL));
	CHECK(pivot("/", "/"));
	CHECK(pivot("/m", "/m"));
	CHECK(access("/m", W_OK));
	CHECK(mkdir("/m/x", 0755));
}

static void put_old(void)
{
	char path[600];

	must(mkdir("new", 0755) == 0, "mkdir");
	must(mount("t2", "new", "tmpfs", 0, NULL) == 0, "mount new");
	must(mkdir("new/old", 0755) == 0 && mkdir("new/old/under", 0755) == 0 &&
	     mkdir("new/proc", 0755) == 0, "mkdir new/old");
	must(mount("proc", "new/proc", "proc", 0, NULL) == 0, "mount new/proc");
	touch("marker");
	CHECK(pivot("new", "new/old/under"));
	/* Relative paths start from the cwd, which stayed B in the old root. */
	CHECK(access("marker", F_OK));
	snprintf(path, sizeof(path), "/old/under%s/marker", base);
	CHECK(access(path, F_OK));
	snprintf(path, sizeof(path), "/old/under%s", base);
	show_mounts("put_old", path);
	CHECK(chdir("/"));
	CHECK(umount2("/old/under", 0));
	CHECK(umount2("/old/under", MNT_DETACH));
	CHECK(access("/old/under", F_OK));
	snprintf(path, sizeof(path), "/old/under%s/marker", base);
	CHECK(access(path, F_OK));
	ls("/old/under");
	show_mounts("after", NULL);
}

static void moves(void)
{
	must(mkdir("m1", 0755) == 0 && mkdir("m2", 0755) == 0 && mkdir("plain", 0755) == 0 &&
	     mkdir("stack", 0755) == 0, "mkdir");
	touch("file");
	touch("file2");
	must(mount("t2", "m1", "tmpfs", 0, NULL) == 0, "mount m1");
	must(mkdir("m1/sub", 0755) == 0 && mkdir("m1/inner", 0755) == 0, "mkdir m1/sub");
	touch("m1/f");
	must(mount("t3", "m1/inner", "tmpfs", MS_RDONLY, NULL) == 0, "mount m1/inner");
	show_mounts("before", base);
	CHECK(mount("m1", "m2", NULL, MS_MOVE, NULL));
	CHECK(access("m2/f", F_OK));
	CHECK(access("m1/f", F_OK));
	CHECK(access("m2/inner", W_OK));
	show_mounts("moved", base);
	/* Errors. */
	CHECK(mount("plain", "m1", NULL, MS_MOVE, NULL));
	CHECK(mount("m2/sub", "m1", NULL, MS_MOVE, NULL));
	CHECK(mount("nosuch", "m1", NULL, MS_MOVE, NULL));
	CHECK(mount("m2", "nosuch", NULL, MS_MOVE, NULL));
	CHECK(mount("m2", "m2/sub", NULL, MS_MOVE, NULL));
	CHECK(mount("m2", "m2/inner", NULL, MS_MOVE, NULL));
	CHECK(mount("m2", "m2", NULL, MS_MOVE, NULL));
	CHECK(mount("m2", "file", NULL, MS_MOVE, NULL));
	CHECK(mount("/", "m1", NULL, MS_MOVE, NULL));
	CHECK(mount(".", "m1", NULL, MS_MOVE, NULL));
	/* A bind mount of a file moves onto files only. */
	CHECK(mount("file", "file2", NULL, MS_BIND, NULL));
	CHECK(mount("file2", "m1", NULL, MS_MOVE, NULL));
	CHECK(mount("file2", "file", NULL, MS_MOVE, NULL));
	/* Moving onto a mount point stacks on it; the inner mount follows. */
	CHECK(mount("t4", "stack", "tmpfs", 0, NULL));
	CHECK(mount("m2/inner", "stack", NULL, MS_MOVE, NULL));
	CHECK(access("m2/inner", W_OK));
	CHECK(access("stack", W_OK));
	show_mounts("stacked", base);
	CHECK(umount2("stack", 0));
	CHECK(access("stack", W_OK));
	show_mounts("unstacked", base);
	show_proc_mounts("mounts", base);
}

/* A child cloned with CLONE_NEWNS mounts in its own copy of the
 * namespace; unshare(CLONE_NEWNS) likewise. */
static void new_ns(void)
{
	pid_t pid;

	must(mkdir("x", 0755) == 0, "mkdir");
	fflush(stdout);
	pid = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
	if (pid == 0) {
		CHECK(mount("t2", "x", "tmpfs", 0, NULL));
		touch("x/y");
		CHECK(access("x/y", F_OK));
		show_mounts("clone child", base);
		fflush(stdout);
		_exit(0);
	}
	CHECK(waitpid(pid, NULL, 0) == pid ? 0 : -1);
	CHECK(access("x/y", F_OK));
	CHECK(syscall(SYS_clone, CLONE_NEWNS | CLONE_FS | SIGCHLD, 0, 0, 0, 0));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		CHECK(unshare(CLONE_NEWNS));
		CHECK(mount("t3", "x", "tmpfs", 0, NULL));
		show_mounts("unshared child", base);
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	show_mounts("parent", base);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	base = enter_tmpdir("pivot");
	if (chdir("/") != 0)
		return 1;

	in_ns("errors", errors);
	in_ns("pivot_root(\".\", \".\")", dot_dot);
	in_ns("pivot_root with put_old", put_old);
	in_ns("MS_MOVE", moves);
	in_ns("new namespaces", new_ns);

	remove_tree(base);
	SHOW("done\n");
	return 0;
}
