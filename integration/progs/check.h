/*
 * check.h: tiny helpers shared by the integration test programs.
 *
 * Every program prints one line per check, and the Go side compares the
 * output of a native run with the output of a run inside moat. So a line
 * must never contain anything that differs between two runs: no pids,
 * addresses, times or random names. Errors are printed by errno *name*.
 *
 *   CHECK(expr)   prints "expr: ok" or "expr: -1 ENAME"
 *   CHECKV(expr)  prints "expr = VALUE" or "expr = -1 ENAME"
 *   SHOW(fmt,...) prints a formatted line (use for derived facts such as
 *                 "size==4096: 1")
 *
 * expr must return -1 and set errno on failure (libc wrappers, syscall(2)).
 */
#ifndef MOAT_CHECK_H
#define MOAT_CHECK_H

/* The programs pass bad pointers and lengths on purpose. */
#pragma GCC diagnostic ignored "-Wnonnull"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Wstringop-overread"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static inline const char *errname(int e)
{
	static char buf[32];
	const char *n = strerrorname_np(e);

	if (n != NULL)
		return n;
	snprintf(buf, sizeof(buf), "E#%d", e);
	return buf;
}

static inline void check_report(const char *text, long r, int e, int value)
{
	if (r == -1)
		printf("%s%s-1 %s\n", text, value ? " = " : ": ", errname(e));
	else if (value)
		printf("%s = %ld\n", text, r);
	else
		printf("%s: ok\n", text);
}

#define CHECK_IMPL(value, text, ...) ({                 \
	long _r;                                        \
	int _e;                                         \
	errno = 0;                                      \
	_r = (long)(__VA_ARGS__);                       \
	_e = errno;                                     \
	check_report(text, _r, _e, value);              \
	errno = _e;                                     \
	_r;                                             \
})

#define CHECK(...) CHECK_IMPL(0, #__VA_ARGS__, __VA_ARGS__)
#define CHECKV(...) CHECK_IMPL(1, #__VA_ARGS__, __VA_ARGS__)
#define SHOW(...) printf(__VA_ARGS__)

/* A bad pointer that is guaranteed to be unmapped: a page we mapped and
 * then unmapped ourselves. */
#include <sys/mman.h>
static inline void *unmapped_page(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(99);
	}
	if (munmap(p, 4096) != 0) {
		perror("munmap");
		exit(99);
	}
	return p;
}

/* Make a fresh private directory under /tmp and chdir into it. The random
 * name is never printed. Returns the absolute path (static storage). */
#include <sys/stat.h>
static inline const char *enter_tmpdir(const char *tag)
{
	static char path[256];

	snprintf(path, sizeof(path), "/tmp/moat-it-%s-XXXXXX", tag);
	if (mkdtemp(path) == NULL) {
		perror("mkdtemp");
		exit(99);
	}
	if (chdir(path) != 0) {
		perror("chdir");
		exit(99);
	}
	return path;
}

/* Remove a directory tree made by enter_tmpdir (silently, best effort). */
#include <ftw.h>
static int remove_one(const char *p, const struct stat *st, int type,
		      struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(p);
	return 0;
}

static inline void remove_tree(const char *path)
{
	if (chdir("/") != 0)
		return;
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Line-buffer stdout so that a crash still leaves the lines before it. */
__attribute__((constructor)) static void check_init(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

#endif
