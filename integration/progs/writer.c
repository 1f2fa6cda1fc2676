/*
 * writer: write where the sandbox must not let writes reach the host.
 *
 *   writer SUFFIX [[+]EXISTING-FILE...]
 *
 * Creates /etc/moat-test-SUFFIX, /tmp/moat-test-SUFFIX and the directory
 * /etc/moat-test-SUFFIX.d (with a file inside), writes them and reads them
 * back: this must work inside moat, whose root is an in-memory overlay on
 * top of the host's. Exits 1 if any of that fails.
 *
 * Then, for each EXISTING-FILE, truncates and rewrites it and reads it back,
 * and with a leading "+" also unlinks it, printing each result: inside the
 * sandbox that may succeed (copy-up) or fail with an errno, but the host
 * file must not change.
 *
 * Never run this natively: it would really write to /etc.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/stat.h>

static const char content[] = "written by moat's integration test\n";

static int write_and_check(const char *path, int flags)
{
	char buf[256] = {0};
	int fd, ok;

	fd = open(path, flags, 0644);
	if (fd < 0) {
		printf("open %s: -1 %s\n", path, errname(errno));
		return 0;
	}
	if (write(fd, content, sizeof(content) - 1) != (long)sizeof(content) - 1) {
		printf("write %s: -1 %s\n", path, errname(errno));
		close(fd);
		return 0;
	}
	close(fd);
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("reopen %s: -1 %s\n", path, errname(errno));
		return 0;
	}
	ok = read(fd, buf, sizeof(buf) - 1) == (long)sizeof(content) - 1 &&
	     strcmp(buf, content) == 0;
	close(fd);
	printf("write %s and read back: %s\n", path, ok ? "ok" : "MISMATCH");
	return ok;
}

int main(int argc, char **argv)
{
	char path[512];
	int good = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: writer SUFFIX [EXISTING-FILE...]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/etc/moat-test-%s", argv[1]);
	good &= write_and_check(path, O_WRONLY | O_CREAT | O_EXCL);
	snprintf(path, sizeof(path), "/tmp/moat-test-%s", argv[1]);
	good &= write_and_check(path, O_WRONLY | O_CREAT | O_EXCL);
	snprintf(path, sizeof(path), "/etc/moat-test-%s.d", argv[1]);
	if (mkdir(path, 0755) != 0) {
		printf("mkdir %s: -1 %s\n", path, errname(errno));
		good = 0;
	} else {
		snprintf(path, sizeof(path), "/etc/moat-test-%s.d/inside", argv[1]);
		good &= write_and_check(path, O_WRONLY | O_CREAT | O_EXCL);
	}

	for (int i = 2; i < argc; i++) {
		const char *p = argv[i];
		int rm = p[0] == '+';

		if (rm)
			p++;
		if (write_and_check(p, O_WRONLY | O_TRUNC) && rm) {
			if (unlink(p) != 0)
				printf("unlink %s: -1 %s\n", p, errname(errno));
			else
				printf("unlink %s: ok, gone inside: %d\n", p,
				       access(p, F_OK) != 0 && errno == ENOENT);
		}
	}
	printf("%s\n", good ? "all writes worked" : "SOME WRITES FAILED");
	return good ? 0 : 1;
}
