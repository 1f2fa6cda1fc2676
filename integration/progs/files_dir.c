/*
 * files_dir: directories, names and links.
 *
 * getdents64 readlink readlinkat access faccessat faccessat2 getcwd chdir
 * fchdir mkdir mkdirat unlink unlinkat rmdir rename renameat renameat2
 * symlink, plus the path-walk error cases: ELOOP, ENAMETOOLONG, ENOTDIR,
 * EISDIR, EEXIST, and ".." at the root.
 *
 * Everything happens in a fresh directory under /tmp, whose random name is
 * never printed.
 */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List a directory with raw getdents64, sorted by name. */
static void list_dir(const char *path)
{
	char buf[512]; /* small on purpose: forces several getdents64 calls */
	char *names[128];
	int n = 0, fd, calls = 0;
	long r;

	fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		SHOW("list %s: open -1 %s\n", path, errname(errno));
		return;
	}
	while ((r = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		calls++;
		for (long off = 0; off < r;) {
			struct linux_dirent64 *d = (void *)(buf + off);
			char *s = malloc(300);

			snprintf(s, 300, "%s(%d)", d->d_name, d->d_type);
			if (n < 128)
				names[n++] = s;
			off += d->d_reclen;
		}
	}
	if (r < 0)
		SHOW("list %s: getdents64 -1 %s\n", path, errname(errno));
	qsort(names, n, sizeof(names[0]), cmpstr);
	SHOW("list %s: %d entries, several calls: %d\n", path, n, calls > 1);
	for (int i = 0; i < n; i++) {
		SHOW("  %s\n", names[i]);
		free(names[i]);
	}
	close(fd);
}

static void write_file(const char *name, const char *content)
{
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, content, strlen(content)) < 0) {
		SHOW("write_file %s: -1 %s\n", name, errname(errno));
		exit(1);
	}
	close(fd);
}

static void show_file(const char *name)
{
	char buf[64] = {0};
	int fd = open(name, O_RDONLY);

	if (fd < 0) {
		SHOW("%s: -1 %s\n", name, errname(errno));
		return;
	}
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		SHOW("%s: read -1 %s\n", name, errname(errno));
	SHOW("%s contains \"%s\"\n", name, buf);
	close(fd);
}

static void dents(void)
{
	char buf[4096];
	char name[32];
	int fd;

	SHOW("-- getdents64\n");
	CHECK(mkdir("d", 0755));
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "d/file-%02d", i);
		write_file(name, "x");
	}
	CHECK(mkdir("d/subdir", 0755));
	CHECK(symlink("file-00", "d/symlink"));
	list_dir("d");
	fd = open("d", O_RDONLY | O_DIRECTORY);
	CHECK(syscall(SYS_getdents64, fd, buf, 10)); /* too small */
	CHECK(syscall(SYS_getdents64, fd, (void *)1, sizeof(buf)));
	CHECK(syscall(SYS_getdents64, -1, buf, sizeof(buf)));
	CHECK(close(fd));
	fd = open("d/file-00", O_RDONLY);
	CHECK(syscall(SYS_getdents64, fd, buf, sizeof(buf)));
	CHECK(close(fd));
	/* remove some entries, list again */
	for (int i = 5; i < 20; i++) {
		snprintf(name, sizeof(name), "d/file-%02d", i);
		CHECK(unlink(name));
	}
	list_dir("d");
}

static void links(void)
{
	char buf[64];
	int fd;

	SHOW("-- symlink/readlink\n");
	write_file("target", "target content");
	CHECK(symlink("target", "sl"));
	CHECK(symlink("target", "sl")); /* EEXIST */
	CHECK(symlink("", "empty-target"));
	CHECK(symlink("whatever", "missing-dir/sl"));
	CHECK(symlink((char *)1, "bad"));
	memset(buf, 0, sizeof(buf));
	CHECKV(readlink("sl", buf, sizeof(buf)));
	SHOW("readlink: \"%s\"\n", buf);
	memset(buf, 0, sizeof(buf));
	CHECKV(readlink("sl", buf, 3)); /* truncated, no NUL */
	SHOW("readlink truncated: \"%s\"\n", buf);
	CHECKV(readlink("sl", buf, 0));
	CHECKV(readlink("sl", buf, -1));
	CHECKV(readlink("target", buf, sizeof(buf))); /* not a link */
	CHECKV(readlink("missing", buf, sizeof(buf)));
	CHECKV(readlink("sl", (char *)1, sizeof(buf)));
	fd = open(".", O_RDONLY | O_DIRECTORY);
	memset(buf, 0, sizeof(buf));
	CHECKV(readlinkat(fd, "sl", buf, sizeof(buf)));
	SHOW("readlinkat: \"%s\"\n", buf);
	CHECKV(readlinkat(-1, "sl", buf, sizeof(buf)));
	CHECK(close(fd));
	fd = open("sl", O_PATH | O_NOFOLLOW);
	memset(buf, 0, sizeof(buf));
	CHECKV(readlinkat(fd, "", buf, sizeof(buf))); /* empty path: the link itself */
	SHOW("readlinkat empty path: \"%s\"\n", buf);
	CHECK(close(fd));
	show_file("sl");
	CHECKV(open("sl", O_RDONLY | O_NOFOLLOW)); /* ELOOP */
	CHECK(symlink("created-through-link", "dangling"));
	CHECKV(open("dangling", O_RDONLY)); /* ENOENT */
	CHECKV(open("dangling", O_WRONLY | O_CREAT | O_EXCL, 0644)); /* EEXIST */
	fd = CHECKV(open("dangling", O_WRONLY | O_CREAT, 0644)); /* creates target */
	CHECK(close(fd));
	CHECK(access("created-through-link", F_OK));

	SHOW("-- ELOOP\n");
	CHECK(symlink("loop2", "loop1"));
	CHECK(symlink("loop1", "loop2"));
	CHECK(symlink("self", "self"));
	CHECKV(open("loop1", O_RDONLY));
	CHECKV(open("self", O_RDONLY));
	CHECKV(open("loop1/x", O_RDONLY));
	CHECK(access("loop2", F_OK));
	CHECK(chdir("self"));
	CHECK(mkdir("loop1/sub", 0755));
	/* chains: 40 links are followed, 41 are too many */
	CHECK(mkdir("chain", 0755));
	write_file("chain/end", "end of chain");
	for (int i = 0; i <= 40; i++) {
		char from[32], to[32];

		snprintf(from, sizeof(from), "chain/l%02d", i);
		if (i == 0)
			snprintf(to, sizeof(to), "end");
		else
			snprintf(to, sizeof(to), "l%02d", i - 1);
		if (symlink(to, from) != 0)
			SHOW("symlink %s: -1 %s\n", from, errname(errno));
	}
	show_file("chain/l39");
	show_file("chain/l40");
}

static void walk_errors(void)
{
	char longname[301];
	static char longpath[5000];
	struct stat st, st2;

	SHOW("-- ENOTDIR/EISDIR/EEXIST/ENAMETOOLONG\n");
	CHECKV(open("/etc/passwd/x", O_RDONLY));
	CHECKV(open("target/", O_RDONLY));
	CHECKV(open("target/.", O_RDONLY));
	CHECKV(open("target/..", O_RDONLY));
	CHECKV(open("d", O_WRONLY));
	CHECKV(open("d", O_RDWR));
	CHECKV(open("d", O_WRONLY | O_CREAT, 0644));
	CHECKV(open("target", O_RDONLY | O_CREAT | O_EXCL, 0644));
	CHECKV(open("d", O_RDONLY | O_CREAT | O_EXCL, 0644));
	CHECKV(open("nodir/file", O_RDONLY | O_CREAT, 0644));
	memset(longname, 'n', 300);
	longname[300] = 0;
	CHECK(mkdir(longname, 0755));
	CHECK(chdir(longname));
	CHECK(stat(longname, &st));
	CHECK(access(longname, F_OK));
	CHECK(symlink("x", longname));
	CHECK(symlink(longname, "long-target")); /* target component length is not checked */
	for (size_t i = 0; i < sizeof(longpath) - 1; i += 2) {
		longpath[i] = 'p';
		longpath[i + 1] = '/';
	}
	longpath[sizeof(longpath) - 1] = 0;
	CHECK(stat(longpath, &st));
	CHECK(mkdir(longpath, 0755));
	CHECK(chdir(longpath));
	CHECK(unlink(longpath));
	CHECK(symlink(longpath, "too-long-target"));

	SHOW("-- .. at the root\n");
	CHECK(stat("/", &st));
	CHECK(stat("/..", &st2));
	SHOW("/.. is /: %d\n", st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);
	CHECK(stat("/../../../..", &st2));
	SHOW("/../../../.. is /: %d\n", st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);
	CHECK(stat("/../../tmp/../etc/../", &st2));
	SHOW("/../../tmp/../etc/../ is /: %d\n", st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);
}

/* The directories descend_to made, deepest last. */
static char deep_names[32][201];
static int deep_levels;

/* Go down from dir through new directories of names up to 200 characters
 * until the cwd's path is exactly len characters long. */
static void descend_to(const char *dir, size_t len)
{
	size_t have = strlen(dir);

	while (have < len) {
		size_t n = len - have - 1 < 200 ? len - have - 1 : 200;
		char *name = deep_names[deep_levels++];

		if (len - have - n - 1 == 1)
			n--; /* leave room for a last name, not just its '/' */

		memset(name, 'a' + deep_levels, n);
		name[n] = 0;
		if (mkdir(name, 0755) != 0 || chdir(name) != 0) {
			perror("descend_to");
			exit(99);
		}
		have += n + 1;
	}
}

/* Remove what descend_to made, ending where it started. */
static void ascend(void)
{
	while (deep_levels > 0) {
		if (chdir("..") != 0 || rmdir(deep_names[--deep_levels]) != 0) {
			perror("ascend");
			exit(99);
		}
	}
}

/* getcwd builds the path in a PATH_MAX buffer: 4095 characters and the
 * NUL fit, one more is ENAMETOOLONG whatever the buffer size, and that is
 * checked before ERANGE and EFAULT. A removed cwd is still ENOENT. */
static void long_cwd(const char *dir)
{
	char buf[4300];

	SHOW("-- getcwd past PATH_MAX\n");
	descend_to(dir, 4095);
	CHECKV(syscall(SYS_getcwd, buf, sizeof(buf)));
	SHOW("getcwd length: %zu\n", strlen(buf));
	CHECK(syscall(SYS_getcwd, buf, 4095)); /* ERANGE */
	CHECK(mkdir("x", 0755));
	CHECK(chdir("x"));
	CHECK(syscall(SYS_getcwd, buf, sizeof(buf))); /* ENAMETOOLONG */
	CHECK(syscall(SYS_getcwd, buf, 10));
	CHECK(syscall(SYS_getcwd, (void *)1, sizeof(buf)));
	CHECK(syscall(SYS_getcwd, buf, 0));
	CHECK(rmdir("../x"));
	CHECK(syscall(SYS_getcwd, buf, sizeof(buf))); /* ENOENT */
	CHECK(chdir(".."));
	CHECKV(syscall(SYS_getcwd, buf, sizeof(buf)));
	ascend();
	CHECK(syscall(SYS_getcwd, buf, sizeof(buf)));
	SHOW("back in the test dir: %d\n", strcmp(buf, dir) == 0);
}

static void cwd(const char *dir)
{
	char buf[4200];
	int dfd, ffd;

	SHOW("-- getcwd/chdir/fchdir\n");
	CHECK(syscall(SYS_getcwd, buf, sizeof(buf)));
	SHOW("getcwd is the test dir: %d\n", strcmp(buf, dir) == 0);
	CHECKV(syscall(SYS_getcwd, buf, strlen(dir) + 1) == (long)strlen(dir) + 1);
	CHECK(syscall(SYS_getcwd, buf, strlen(dir))); /* ERANGE */
	CHECK(syscall(SYS_getcwd, buf, 0));
	CHECK(syscall(SYS_getcwd, (void *)1, sizeof(buf)));
	dfd = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(chdir("d/subdir"));
	CHECK(syscall(SYS_getcwd, buf, sizeof(buf)));
	SHOW("getcwd after chdir: ends with /d/subdir: %d, prefix ok: %d\n",
	     strlen(buf) > 9 && strcmp(buf + strlen(buf) - 9, "/d/subdir") == 0,
	     strncmp(buf, dir, strlen(dir)) == 0);
	CHECK(chdir(".."));
	CHECK(syscall(SYS_getcwd, buf, sizeof(buf)));
	SHOW("getcwd after ..: ends with /d: %d\n",
	     strcmp(buf + strlen(buf) - 2, "/d") == 0);
	CHECK(chdir("missing"));
	CHECK(chdir("file-00"));
	CHECK(chdir(""));
	CHECK(chdir((char *)1));
	CHECK(fchdir(dfd));
	CHECK(syscall(SYS_getcwd, buf, sizeof(buf)));
	SHOW("getcwd after fchdir: %d\n", strcmp(buf, dir) == 0);
	ffd = open("target", O_RDONLY);
	CHECK(fchdir(ffd));
	CHECK(fchdir(-1));
	CHECK(fchdir(999));
	CHECK(close(ffd));

	/* a removed cwd */
	CHECK(mkdir("gone", 0755));
	CHECK(chdir("gone"));
	CHECK(rmdir("../gone"));
	CHECK(syscall(SYS_getcwd, buf, sizeof(buf)));
	CHECK(open("new-in-removed-dir", O_RDWR | O_CREAT, 0644));
	CHECK(fchdir(dfd));
	CHECK(close(dfd));

	CHECK(chdir("/"));
	CHECK(chdir(".."));
	CHECK(syscall(SYS_getcwd, buf, sizeof(buf)));
	SHOW("cwd after /..: \"%s\"\n", buf);
	CHECK(chdir(dir));
	long_cwd(dir);
}

static void access_checks(void)
{
	SHOW("-- access/faccessat/faccessat2\n");
	write_file("plain", "p"); /* 0644 */
	CHECK(access("plain", F_OK));
	CHECK(access("plain", R_OK));
	CHECK(access("plain", R_OK | W_OK));
	CHECK(access("plain", X_OK)); /* no x bit at all: EACCES even for root */
	CHECK(access("d", X_OK));
	CHECK(access("missing", F_OK));
	CHECK(access("plain/x", F_OK));
	CHECK(access("plain", 0x10)); /* bad mode */
	CHECK(access((char *)1, F_OK));
	CHECK(syscall(SYS_faccessat, AT_FDCWD, "plain", R_OK));
	CHECK(syscall(SYS_faccessat, -1, "plain", R_OK));
	CHECK(syscall(SYS_faccessat, AT_FDCWD, "dangling", F_OK));
	CHECK(syscall(SYS_faccessat2, AT_FDCWD, "plain", R_OK, AT_EACCESS));
	CHECK(syscall(SYS_faccessat2, AT_FDCWD, "sl", F_OK, AT_SYMLINK_NOFOLLOW));
	CHECK(syscall(SYS_faccessat2, AT_FDCWD, "loop1", F_OK, AT_SYMLINK_NOFOLLOW));
	CHECK(syscall(SYS_faccessat2, AT_FDCWD, "loop1", F_OK, 0));
	CHECK(syscall(SYS_faccessat2, AT_FDCWD, "plain", R_OK, 0x1));
	int fd = open("plain", O_RDONLY);
	CHECK(syscall(SYS_faccessat2, fd, "", R_OK, AT_EMPTY_PATH));
	CHECK(close(fd));
}

static void make_and_remove(void)
{
	int dfd;

	SHOW("-- mkdir/mkdirat/unlink/unlinkat/rmdir\n");
	CHECK(mkdir("m", 0700));
	CHECK(mkdir("m", 0700));
	CHECK(mkdir("m/", 0700));
	CHECK(mkdir("m/a/b", 0700));
	CHECK(mkdir("plain/a", 0700));
	CHECK(mkdir((char *)1, 0700));
	dfd = open("m", O_RDONLY | O_DIRECTORY);
	CHECK(mkdirat(dfd, "in-m", 0750));
	CHECK(mkdirat(-1, "in-m", 0750));
	CHECK(mkdirat(AT_FDCWD, "m/in-m2", 0750));
	write_file("m/file", "f");
	list_dir("m");
	CHECK(unlink("m/in-m"));   /* EISDIR */
	CHECK(rmdir("m"));         /* ENOTEMPTY */
	CHECK(rmdir("m/file"));    /* ENOTDIR */
	CHECK(rmdir("."));         /* EINVAL */
	CHECK(rmdir("m/.."));      /* ENOTEMPTY */
	CHECK(rmdir("missing"));
	CHECK(unlink("missing"));
	CHECK(unlink("m/file/x"));
	CHECK(unlinkat(dfd, "in-m", 0));
	CHECK(unlinkat(dfd, "file", AT_REMOVEDIR));
	CHECK(unlinkat(dfd, "in-m", AT_REMOVEDIR));
	CHECK(unlinkat(dfd, "in-m", AT_REMOVEDIR));
	CHECK(unlinkat(dfd, "file", 0x1));
	CHECK(unlinkat(-1, "file", 0));
	CHECK(unlinkat(dfd, "file", 0));
	CHECK(rmdir("m/in-m2"));
	list_dir("m");
	CHECK(close(dfd));
	CHECK(rmdir("m"));
	CHECK(access("m", F_OK));
}

static void renames(void)
{
	int dfd;

	SHOW("-- rename/renameat/renameat2\n");
	CHECK(mkdir("r", 0755));
	CHECK(mkdir("r/dir1", 0755));
	CHECK(mkdir("r/dir2", 0755));
	write_file("r/dir2/inside", "i");
	write_file("r/a", "A");
	write_file("r/b", "B");
	CHECK(syscall(SYS_rename, "r/a", "r/a2"));
	show_file("r/a2");
	CHECK(access("r/a", F_OK));
	CHECK(syscall(SYS_rename, "r/a2", "r/b")); /* replaces b */
	show_file("r/b");
	CHECK(syscall(SYS_rename, "r/b", "r/b")); /* same file: no-op */
	CHECK(syscall(SYS_rename, "r/missing", "r/x"));
	CHECK(syscall(SYS_rename, "r/b", "r/dir1")); /* EISDIR */
	CHECK(syscall(SYS_rename, "r/dir1", "r/b"));   /* ENOTDIR */
	CHECK(syscall(SYS_rename, "r/dir1", "r/dir2")); /* ENOTEMPTY */
	CHECK(syscall(SYS_rename, "r/dir2", "r/dir1")); /* replaces empty dir */
	list_dir("r");
	CHECK(syscall(SYS_rename, "r/dir1", "r/dir1/sub")); /* EINVAL */
	CHECK(syscall(SYS_rename, "r/b", "r/nodir/b"));
	CHECK(syscall(SYS_rename, "r/b", (char *)1));
	dfd = open("r", O_RDONLY | O_DIRECTORY);
	CHECK(syscall(SYS_renameat, dfd, "b", AT_FDCWD, "r/c"));
	CHECK(syscall(SYS_renameat, -1, "c", dfd, "d"));
	write_file("r/d", "D");
	CHECK(syscall(SYS_renameat2, dfd, "c", dfd, "d", RENAME_NOREPLACE)); /* EEXIST */
	CHECK(syscall(SYS_renameat2, dfd, "c", dfd, "e", RENAME_NOREPLACE));
	CHECK(syscall(SYS_renameat2, dfd, "e", dfd, "d", RENAME_EXCHANGE));
	show_file("r/d");
	show_file("r/e");
	CHECK(syscall(SYS_renameat2, dfd, "e", dfd, "nothere", RENAME_EXCHANGE)); /* ENOENT */
	CHECK(syscall(SYS_renameat2, dfd, "e", dfd, "d", RENAME_EXCHANGE | RENAME_NOREPLACE));
	CHECK(syscall(SYS_renameat2, dfd, "e", dfd, "d", 0x100));
	CHECK(syscall(SYS_renameat2, dfd, "e", dfd, "f", 0));
	list_dir("r");
	CHECK(close(dfd));
}

int main(void)
{
	const char *dir;

	umask(022);
	dir = enter_tmpdir("files_dir");
	dents();
	links();
	walk_errors();
	cwd(dir);
	access_checks();
	make_and_remove();
	renames();
	remove_tree(dir);
	SHOW("done\n");
	return 0;
}
