/*
 * tmpfile.c: open(O_TMPFILE) files in a /tmp directory: nameless until
 * linkat(AT_EMPTY_PATH) names them (not with O_EXCL), and the errors.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/stat.h>

int main(void)
{
	char dir[] = "/tmp/moat-tmpfile-XXXXXX";
	char path[80];
	struct stat st;

	if (!mkdtemp(dir)) {
		printf("mkdtemp: %s\n", errname(errno));
		return 1;
	}
	umask(022);
	int fd = open(dir, O_TMPFILE | O_RDWR, 0666);
	SHOW("O_TMPFILE: %d\n", fd >= 0);
	CHECKV(write(fd, "nameless", 8));
	CHECK(fstat(fd, &st));
	SHOW("regular %d, mode %o, nlink %lu, size %ld\n", S_ISREG(st.st_mode), st.st_mode & 07777,
	     (unsigned long)st.st_nlink, (long)st.st_size);
	SHOW("F_GETFL access mode O_RDWR: %d\n", (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);
	snprintf(path, sizeof(path), "%s/named", dir);
	CHECK(linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH));
	CHECK(stat(path, &st));
	SHOW("named: nlink %lu, size %ld\n", (unsigned long)st.st_nlink, (long)st.st_size);
	CHECK(linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH));
	close(fd);
	char buf[16] = { 0 };
	int r = open(path, O_RDONLY);
	CHECKV(read(r, buf, sizeof(buf)));
	SHOW("content: %s\n", buf);
	close(r);

	int ex = open(dir, O_TMPFILE | O_WRONLY | O_EXCL, 0600);
	SHOW("O_TMPFILE|O_EXCL: %d\n", ex >= 0);
	snprintf(path, sizeof(path), "%s/never", dir);
	CHECK(linkat(ex, "", AT_FDCWD, path, AT_EMPTY_PATH));
	close(ex);

	FILE *tf = tmpfile();
	SHOW("tmpfile(3): %d\n", tf != NULL);
	if (tf)
		fclose(tf);

	printf("-- errors\n");
	CHECK(open(dir, O_TMPFILE | O_RDONLY, 0600));
	snprintf(path, sizeof(path), "%s/named", dir);
	CHECK(open(path, O_TMPFILE | O_RDWR, 0600));
	snprintf(path, sizeof(path), "%s/missing", dir);
	CHECK(open(path, O_TMPFILE | O_RDWR, 0600));
	snprintf(path, sizeof(path), "%s/named", dir);
	unlink(path);
	rmdir(dir);
	printf("done\n");
	return 0;
}
