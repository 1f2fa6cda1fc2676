/*
 * rename_race.c DIR ABS: races renames and symlink swaps against opens in
 * DIR (a rw -v bind), for about a second, and reports whether any open
 * ever reached a host file outside DIR.
 *
 * DIR holds, made by the test on the host:
 *   a.real/secret  "inside\n"       a.rel -> ../outside   a.abs -> ABS
 *   f.real         "inside\n"       f.rel -> ../outside/secret
 *                                   f.abs -> ABS/secret
 *   w.real         (scratch file)   w.rel, w.abs: like f.*
 * A child process keeps renaming each X.real, X.rel, X.abs to X and back
 * (and swaps in and removes a symlink "a" made here), while two threads
 * keep opening a/secret and f (and reading them), and creating a/new and
 * opening w with O_TRUNC (and writing "escaped\n").
 *
 * Inside moat a symlink resolves in the sandbox's own tree: ../outside
 * from DIR's guest path is a path that does not exist there, and ABS is a
 * host directory under /tmp, which the sandbox cannot see (its /tmp is
 * its own); the program checks both at the start. So every open through
 * a symlink fails with ENOENT, and reading anything but "inside\n" (the
 * outside files hold "OUTSIDE...") can only come from following a
 * symlink on the host: an escape. Writes and creations that escaped are
 * found by the test on the host. Errnos seen go to stderr, for the log.
 */
#include "check.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

static const char *abs_dir;
static atomic_long escapes, inside_reads, creates;
static atomic_ulong errs_seen[4]; /* bit set of errnos, up to 255 */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double deadline;

static void saw_errno(int e)
{
	if (e > 0 && e < 256)
		atomic_fetch_or(&errs_seen[e / 64], 1UL << (e % 64));
}

static void read_one(const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0) {
		saw_errno(errno);
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		saw_errno(errno);
		return;
	}
	buf[n] = 0;
	/* Only a.real/secret and f.real hold this; anything else (OUTSIDE...,
	 * or "escaped\n" written there by the writer) came from outside. */
	if (strcmp(buf, "inside\n") == 0) {
		atomic_fetch_add(&inside_reads, 1);
	} else if (atomic_fetch_add(&escapes, 1) == 0) {
		fprintf(stderr, "ESCAPE: read %s: %s\n", path, buf);
	}
}

static void *reader(void *arg)
{
	(void)arg;
	while (now() < deadline) {
		read_one("a/secret");
		read_one("f");
	}
	return NULL;
}

static void write_one(const char *path, int flags)
{
	int fd = open(path, flags, 0644);

	if (fd < 0) {
		saw_errno(errno);
		return;
	}
	if (write(fd, "escaped\n", 8) != 8)
		saw_errno(errno);
	close(fd);
	atomic_fetch_add(&creates, 1);
}

static void *writer(void *arg)
{
	(void)arg;
	while (now() < deadline) {
		write_one("a/new", O_WRONLY | O_CREAT | O_TRUNC);
		write_one("w", O_WRONLY | O_TRUNC);
	}
	return NULL;
}

/* The renamer: returns the number of unexpected failures. */
static int renamer(void)
{
	static const char *names[] = { "a", "f", "w" };
	static const char *kinds[] = { "real", "rel", "abs" };
	char from[16], abs_link[512];
	int bad = 0;

	snprintf(abs_link, sizeof(abs_link), "%s", abs_dir);
	while (now() < deadline) {
		for (int k = 0; k < 3; k++)
			for (int i = 0; i < 3; i++) {
				snprintf(from, sizeof(from), "%s.%s", names[i], kinds[k]);
				if (rename(from, names[i]) != 0) {
					fprintf(stderr, "rename %s %s: %s\n", from, names[i], errname(errno));
					bad++;
				}
				if (rename(names[i], from) != 0) {
					fprintf(stderr, "rename %s %s: %s\n", names[i], from, errname(errno));
					bad++;
				}
			}
		/* A symlink swapped in by symlink(2) and removed again. */
		const char *targets[] = { "../outside", abs_link };
		for (int t = 0; t < 2; t++) {
			if (symlink(targets[t], "a") != 0) {
				fprintf(stderr, "symlink %s a: %s\n", targets[t], errname(errno));
				bad++;
			}
			if (unlink("a") != 0) {
				fprintf(stderr, "unlink a: %s\n", errname(errno));
				bad++;
			}
		}
	}
	return bad;
}

int main(int argc, char **argv)
{
	char path[600];
	pthread_t r, w;
	pid_t pid;
	int status;

	if (argc != 3) {
		fprintf(stderr, "usage: rename_race DIR ABS\n");
		return 2;
	}
	abs_dir = argv[2];
	if (chdir(argv[1]) != 0) {
		perror("chdir");
		return 99;
	}
	/* Where the symlinks lead inside the sandbox: nowhere. */
	snprintf(path, sizeof(path), "%s/secret", abs_dir);
	SHOW("absolute target visible in the sandbox: %d\n", access(path, F_OK) == 0);
	SHOW("relative target visible in the sandbox: %d\n", access("../outside/secret", F_OK) == 0);
	SHOW("a.rel/secret visible: %d\n", access("a.rel/secret", F_OK) == 0);
	SHOW("a.abs/secret visible: %d\n", access("a.abs/secret", F_OK) == 0);

	deadline = now() + 1.0;
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 99;
	}
	if (pid == 0)
		_exit(renamer() ? 1 : 0);
	pthread_create(&r, NULL, reader, NULL);
	pthread_create(&w, NULL, writer, NULL);
	pthread_join(r, NULL);
	pthread_join(w, NULL);
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		return 99;
	}
	SHOW("renamer exit status: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	SHOW("read inside at least once: %d\n", inside_reads > 0);
	SHOW("wrote inside at least once: %d\n", creates > 0);
	fprintf(stderr, "inside reads %ld, writes %ld, errnos seen:", (long)inside_reads, (long)creates);
	for (int e = 1; e < 256; e++)
		if (errs_seen[e / 64] & (1UL << (e % 64)))
			fprintf(stderr, " %s", errname(e));
	fprintf(stderr, "\n");
	if (escapes)
		SHOW("ESCAPE: read outside contents %ld times\n", (long)escapes);
	else
		SHOW("secret never read through the bind\n");
	SHOW("done\n");
	return 0;
}
