/*
 * openat2.c: openat2(2): the checks of struct open_how and its size, and
 * every resolve flag (RESOLVE_NO_SYMLINKS, NO_MAGICLINKS, NO_XDEV,
 * BENEATH, IN_ROOT, CACHED) with symlinks, "..", absolute paths, magic
 * links in /proc and mount crossings into /proc and /dev.
 *
 * It works in a private directory under /tmp (enter_tmpdir) and crosses
 * mounts only from the root or through /proc and /dev, which are mounts
 * both natively and in moat (moat's /tmp is a mount of its own, the host's
 * may not be).
 */
#include "check.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>

#ifndef RESOLVE_CACHED
#define RESOLVE_CACHED 0x20
#endif

static long openat2_(int dirfd, const char *path, unsigned long long flags,
		     unsigned long long mode, unsigned long long resolve)
{
	struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};

	return syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* O(path, flags, resolve): openat2 relative to the directory `dir`. */
static int dir;
#define O(path, flags, resolve) openat2_(dir, path, flags, 0, resolve)

/* Print the result of an open and what it opened: the first bytes of a
 * file, "dir" for a directory, "link" for a symlink (O_PATH). */
static void opened(const char *what, long fd)
{
	char buf[32];
	struct stat st;

	if (fd < 0) {
		SHOW("%s: -1 %s\n", what, errname(errno));
		return;
	}
	if (fstat(fd, &st) != 0) {
		SHOW("%s: fstat %s\n", what, errname(errno));
	} else if (S_ISDIR(st.st_mode)) {
		struct stat top;
		int same = fstatat(dir, ".", &top, 0) == 0 && top.st_ino == st.st_ino &&
			   top.st_dev == st.st_dev;
		SHOW("%s: dir%s\n", what, same ? " (the top)" : "");
	} else if (S_ISLNK(st.st_mode)) {
		SHOW("%s: link\n", what);
	} else if (S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size < 16) {
		long n = read(fd, buf, sizeof(buf));
		SHOW("%s: %.*s", what, n > 0 ? (int)n : 0, buf);
	} else {
		SHOW("%s: ok\n", what);
	}
	close(fd);
}
#define OPENED(...) opened(#__VA_ARGS__, __VA_ARGS__)

static void make(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, text, strlen(text)) != (long)strlen(text)) {
		perror(path);
		exit(99);
	}
	close(fd);
}

static void arguments(void)
{
	struct open_how how = {.flags = O_RDONLY};
	unsigned char big[4096 + 8];

	SHOW("-- arguments\n");
	CHECK(syscall(SYS_openat2, dir, "top", &how, 0));
	CHECK(syscall(SYS_openat2, dir, "top", &how, 23));
	int fd = CHECK(syscall(SYS_openat2, dir, "top", &how, 24));
	close(fd);
	memset(big, 0, sizeof(big));
	memcpy(big, &how, sizeof(how));
	fd = CHECK(syscall(SYS_openat2, dir, "top", big, 32));
	close(fd);
	fd = CHECK(syscall(SYS_openat2, dir, "top", big, 4096));
	close(fd);
	CHECK(syscall(SYS_openat2, dir, "top", big, 4097));
	big[31] = 1;
	CHECK(syscall(SYS_openat2, dir, "top", big, 32)); /* E2BIG */
	CHECK(syscall(SYS_openat2, dir, "top", big, 24)); /* not looked at */
	big[31] = 0;
	big[4095] = 1;
	CHECK(syscall(SYS_openat2, dir, "top", big, 4096)); /* E2BIG */
	CHECK(syscall(SYS_openat2, dir, "top", unmapped_page(), 24)); /* EFAULT */
	CHECK(syscall(SYS_openat2, dir, "top", NULL, 24));

	/* Flags that openat ignores, openat2 refuses. */
	fd = CHECK(openat(dir, "top", O_RDONLY | 0x1000000));
	close(fd);
	CHECK(openat2_(dir, "top", O_RDONLY | 0x1000000, 0, 0));
	CHECK(openat2_(dir, "top", O_RDONLY | (1ULL << 32), 0, 0));
	CHECK(openat2_(dir, "top", O_RDONLY, 0, 0x40));
	CHECK(openat2_(dir, "top", O_RDONLY, 0, 1ULL << 40));
	CHECK(openat2_(dir, "top", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT));
	CHECK(openat2_(dir, "top", O_RDONLY, 0644, 0)); /* mode without O_CREAT */
	CHECK(openat2_(dir, "new", O_RDWR | O_CREAT, 010644, 0));
	CHECK(openat2_(dir, "new", O_RDWR | O_CREAT | O_DIRECTORY, 0644, 0));
	CHECK(openat2_(dir, ".", O_RDWR | (O_TMPFILE & ~O_DIRECTORY), 0600, 0));
	CHECK(openat2_(dir, ".", O_RDONLY | O_TMPFILE, 0600, 0));
	CHECK(openat2_(dir, "top", O_PATH | O_RDWR, 0, 0));
	CHECK(openat2_(dir, "top", O_PATH | O_APPEND, 0, 0));
	fd = CHECK(openat2_(dir, "top", O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, 0));
	CHECKV(fcntl(fd, F_GETFD));
	close(fd);
	fd = CHECK(openat2_(dir, "new", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, 0));
	CHECKV(fcntl(fd, F_GETFD));
	CHECKV(fcntl(fd, F_GETFL) & ~O_LARGEFILE);
	close(fd);
	struct stat st;
	CHECK(fstatat(dir, "new", &st, 0));
	SHOW("new: mode %04o\n", (unsigned)(st.st_mode & 07777));
	fd = CHECK(openat2_(dir, ".", O_RDWR | O_TMPFILE, 0600, 0));
	close(fd);
	CHECK(openat2_(dir, unmapped_page(), O_RDONLY, 0, 0)); /* EFAULT */
	CHECK(openat2_(dir, unmapped_page(), O_RDONLY, 0644, 0)); /* EINVAL first */
	CHECK(openat2_(dir, "", O_RDONLY, 0, 0));
	CHECK(openat2_(12345, "top", O_RDONLY, 0, 0));
	CHECK(openat2_(12345, "top", O_RDONLY, 0, RESOLVE_BENEATH));
	CHECK(openat2_(12345, "/top", O_RDONLY, 0, RESOLVE_BENEATH)); /* EXDEV */
	fd = open("top", O_RDONLY);
	CHECK(openat2_(fd, "x", O_RDONLY, 0, 0));
	CHECK(openat2_(fd, "x", O_RDONLY, 0, RESOLVE_IN_ROOT));
	close(fd);
	CHECK(openat2_(dir, "a", O_WRONLY, 0, 0)); /* EISDIR */
	CHECK(openat2_(dir, "top", O_RDONLY | O_DIRECTORY, 0, 0));
}

static void no_symlinks(void)
{
	SHOW("-- RESOLVE_NO_SYMLINKS\n");
	OPENED(O("a/f", O_RDONLY, RESOLVE_NO_SYMLINKS));
	OPENED(O("rel", O_RDONLY, 0));
	OPENED(O("rel", O_RDONLY, RESOLVE_NO_SYMLINKS));
	OPENED(O("dirlink/f", O_RDONLY, RESOLVE_NO_SYMLINKS));
	OPENED(O("rel", O_RDONLY | O_NOFOLLOW, RESOLVE_NO_SYMLINKS));
	OPENED(O("rel", O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS));
	OPENED(O("dangling", O_RDWR | O_CREAT, RESOLVE_NO_SYMLINKS));
	OPENED(O("/proc/self/status", O_RDONLY, RESOLVE_NO_SYMLINKS));
	OPENED(O("/proc/self/exe", O_RDONLY, RESOLVE_NO_SYMLINKS));
	OPENED(O("nofile", O_RDONLY, RESOLVE_NO_SYMLINKS));
}

static void no_magiclinks(void)
{
	char magic[64];
	int fd = open("top", O_RDONLY);

	SHOW("-- RESOLVE_NO_MAGICLINKS\n");
	snprintf(magic, sizeof(magic), "/proc/self/fd/%d", fd);
	OPENED(O(magic, O_RDONLY, 0));
	OPENED(O(magic, O_RDONLY, RESOLVE_NO_MAGICLINKS));
	OPENED(O(magic, O_PATH | O_NOFOLLOW, RESOLVE_NO_MAGICLINKS));
	OPENED(O("/proc/self/exe", O_RDONLY, RESOLVE_NO_MAGICLINKS));
	OPENED(O("/proc/self/cwd/top", O_RDONLY, 0));
	OPENED(O("/proc/self/cwd/top", O_RDONLY, RESOLVE_NO_MAGICLINKS));
	OPENED(O("/proc/self/root", O_RDONLY, RESOLVE_NO_MAGICLINKS));
	/* /proc/self itself is an ordinary symlink. */
	OPENED(O("/proc/self/stat", O_RDONLY, RESOLVE_NO_MAGICLINKS));
	OPENED(O("rel", O_RDONLY, RESOLVE_NO_MAGICLINKS));
	close(fd);
}

static void no_xdev(void)
{
	int root = open("/", O_RDONLY | O_DIRECTORY);
	int proc = open("/proc", O_RDONLY | O_DIRECTORY);

	SHOW("-- RESOLVE_NO_XDEV\n");
	OPENED(O("a/f", O_RDONLY, RESOLVE_NO_XDEV));
	OPENED(O("a/../rel", O_RDONLY, RESOLVE_NO_XDEV));
	OPENED(openat2_(root, "proc/self/stat", O_RDONLY, 0, 0));
	OPENED(openat2_(root, "proc/self/stat", O_RDONLY, 0, RESOLVE_NO_XDEV));
	OPENED(openat2_(root, "proc", O_PATH, 0, RESOLVE_NO_XDEV));
	OPENED(openat2_(root, "dev/null", O_WRONLY, 0, RESOLVE_NO_XDEV));
	OPENED(openat2_(AT_FDCWD, "/dev/null", O_WRONLY, 0, RESOLVE_NO_XDEV));
	OPENED(openat2_(root, "etc/passwd", O_RDONLY, 0, RESOLVE_NO_XDEV));
	OPENED(openat2_(proc, "self/stat", O_RDONLY, 0, RESOLVE_NO_XDEV));
	OPENED(openat2_(proc, "..", O_RDONLY, 0, 0));
	OPENED(openat2_(proc, "..", O_RDONLY, 0, RESOLVE_NO_XDEV));
	OPENED(openat2_(proc, "../etc/passwd", O_RDONLY, 0, RESOLVE_NO_XDEV));
	/* An absolute path argument starts at the root: allowed. */
	OPENED(openat2_(proc, "/etc/passwd", O_RDONLY, 0, RESOLVE_NO_XDEV));
	OPENED(O("procl/self/stat", O_RDONLY, 0));
	OPENED(O("procl/self/stat", O_RDONLY, RESOLVE_NO_XDEV));
	OPENED(O("devnull", O_WRONLY, RESOLVE_NO_XDEV));
	close(root);
	close(proc);
}

static void beneath(void)
{
	int proc = open("/proc", O_RDONLY | O_DIRECTORY);

	SHOW("-- RESOLVE_BENEATH\n");
	OPENED(O("a/f", O_RDONLY, RESOLVE_BENEATH));
	OPENED(O(".", O_RDONLY, RESOLVE_BENEATH));
	OPENED(O("a/..", O_RDONLY, RESOLVE_BENEATH));
	OPENED(O("a/../top", O_RDONLY, RESOLVE_BENEATH));
	OPENED(O("a/b/../../top", O_RDONLY, RESOLVE_BENEATH));
	OPENED(O("..", O_RDONLY, RESOLVE_BENEATH));
	OPENED(O("a/../../x", O_RDONLY, RESOLVE_BENEATH));
	OPENED(O("/etc/passwd", O_RDONLY, RESOLVE_BENEATH));
	OPENED(O("rel", O_RDONLY, RESOLVE_BENEATH));
	OPENED(O("a/up", O_RDONLY, RESOLVE_BENEATH));
	OPENED(O("a/b/upup", O_RDONLY, RESOLVE_BENEATH));
	OPENED(O("abs", O_RDONLY, 0));
	OPENED(O("abs", O_RDONLY, RESOLVE_BENEATH));
	OPENED(O("abs", O_PATH | O_NOFOLLOW, RESOLVE_BENEATH));
	OPENED(O("escape/top", O_RDONLY, RESOLVE_BENEATH));
	OPENED(O("a/escape2", O_RDONLY, RESOLVE_BENEATH));
	OPENED(openat2_(proc, "self/stat", O_RDONLY, 0, RESOLVE_BENEATH));
	OPENED(openat2_(proc, "self/exe", O_RDONLY, 0, RESOLVE_BENEATH));
	OPENED(openat2_(proc, "self/exe", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS));
	OPENED(openat2_(proc, "self/cwd", O_RDONLY, 0, RESOLVE_BENEATH));
	/* The cwd as the scope. */
	OPENED(openat2_(AT_FDCWD, "a/f", O_RDONLY, 0, RESOLVE_BENEATH));
	OPENED(openat2_(AT_FDCWD, "..", O_RDONLY, 0, RESOLVE_BENEATH));
	/* Creating beneath. */
	OPENED(O("a/created", O_RDWR | O_CREAT | O_EXCL, RESOLVE_BENEATH));
	OPENED(openat2_(dir, "a/created2", O_RDWR | O_CREAT | O_EXCL, 0600, RESOLVE_BENEATH));
	OPENED(openat2_(dir, "../created", O_RDWR | O_CREAT, 0600, RESOLVE_BENEATH));
	OPENED(openat2_(dir, "absdangle", O_RDWR | O_CREAT, 0600, RESOLVE_BENEATH));
	close(proc);
}

static void in_root(void)
{
	int proc = open("/proc", O_RDONLY | O_DIRECTORY);

	SHOW("-- RESOLVE_IN_ROOT\n");
	OPENED(O("/top", O_RDONLY, RESOLVE_IN_ROOT));
	OPENED(O("/", O_RDONLY, RESOLVE_IN_ROOT));
	OPENED(O("..", O_RDONLY, RESOLVE_IN_ROOT));
	OPENED(O("../../top", O_RDONLY, RESOLVE_IN_ROOT));
	OPENED(O("a/../../../a/f", O_RDONLY, RESOLVE_IN_ROOT));
	OPENED(O("inabs", O_RDONLY, 0));
	OPENED(O("inabs", O_RDONLY, RESOLVE_IN_ROOT));
	OPENED(O("a/b/inabs2", O_RDONLY, RESOLVE_IN_ROOT));
	OPENED(O("escape/top", O_RDONLY, RESOLVE_IN_ROOT));
	OPENED(O("a/escape2", O_RDONLY, RESOLVE_IN_ROOT));
	OPENED(O("abs", O_RDONLY, RESOLVE_IN_ROOT));
	OPENED(O("/proc/self/stat", O_RDONLY, RESOLVE_IN_ROOT));
	OPENED(O("/etc/passwd", O_RDONLY, RESOLVE_IN_ROOT));
	OPENED(openat2_(proc, "self/stat", O_RDONLY, 0, RESOLVE_IN_ROOT));
	OPENED(openat2_(proc, "self/exe", O_RDONLY, 0, RESOLVE_IN_ROOT));
	OPENED(openat2_(proc, "/self/stat", O_RDONLY, 0, RESOLVE_IN_ROOT));
	/* Creating in the root: /created is dir/created. */
	OPENED(openat2_(dir, "/created", O_RDWR | O_CREAT | O_EXCL, 0600, RESOLVE_IN_ROOT));
	OPENED(O("created", O_RDONLY, 0));
	OPENED(openat2_(dir, "absdangle", O_RDWR | O_CREAT, 0600, RESOLVE_IN_ROOT));
	OPENED(O("made-by-dangle", O_RDONLY, 0));
	/* Combined with the others. */
	OPENED(O("inabs", O_RDONLY, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS));
	OPENED(O("/a/f", O_RDONLY, RESOLVE_IN_ROOT | RESOLVE_NO_XDEV));
	close(proc);
}

static void cached(void)
{
	long fd;

	SHOW("-- RESOLVE_CACHED\n");
	/* Linux may answer EAGAIN for a lookup that is not cached. */
	fd = O("top", O_RDONLY, RESOLVE_CACHED);
	SHOW("cached top: %s\n", fd >= 0 || errno == EAGAIN ? "ok or EAGAIN" : errname(errno));
	if (fd >= 0)
		close(fd);
	fd = O("nofile", O_RDONLY, RESOLVE_CACHED);
	SHOW("cached nofile: %s\n", fd < 0 && (errno == ENOENT || errno == EAGAIN) ? "ENOENT or EAGAIN" : "?");
	CHECK(O("top", O_RDWR | O_TRUNC, RESOLVE_CACHED));
	CHECK(openat2_(dir, "c", O_RDWR | O_CREAT, 0600, RESOLVE_CACHED));
	CHECK(openat2_(dir, ".", O_RDWR | O_TMPFILE, 0600, RESOLVE_CACHED));
}

int main(void)
{
	const char *path = enter_tmpdir("openat2");

	dir = open(".", O_RDONLY | O_DIRECTORY);
	if (dir < 0 || mkdir("a", 0755) != 0 || mkdir("a/b", 0755) != 0 ||
	    symlink("a/f", "rel") != 0 || symlink("a", "dirlink") != 0 ||
	    symlink("nowhere", "dangling") != 0 || symlink("/etc/passwd", "abs") != 0 ||
	    symlink("../top", "a/up") != 0 || symlink("../../top", "a/b/upup") != 0 ||
	    symlink("../..", "escape") != 0 || symlink("../../..", "a/escape2") != 0 ||
	    symlink("/a/f", "inabs") != 0 || symlink("/top", "a/b/inabs2") != 0 ||
	    symlink("/proc", "procl") != 0 || symlink("/dev/null", "devnull") != 0 ||
	    symlink("/made-by-dangle", "absdangle") != 0) {
		perror("setup");
		return 99;
	}
	make("top", "top\n");
	make("a/f", "in a\n");
	arguments();
	no_symlinks();
	no_magiclinks();
	no_xdev();
	beneath();
	in_root();
	cached();
	close(dir);
	remove_tree(path);
	SHOW("done\n");
	return 0;
}
