/*
 * xattr.c: extended attributes on a file the program creates (in /tmp):
 * set, get, list, remove, their flags, sizes and errors.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>

int main(void)
{
	char dir[] = "/tmp/moat-xattr-XXXXXX";
	char path[64], link[80], buf[256];

	if (!mkdtemp(dir)) {
		printf("mkdtemp: %s\n", errname(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/f", dir);
	snprintf(link, sizeof(link), "%s/l", dir);
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	CHECK(symlink("f", link));

	CHECKV(getxattr(path, "user.none", buf, sizeof(buf)));
	CHECKV(listxattr(path, buf, sizeof(buf)));
	CHECK(setxattr(path, "user.colour", "blue", 4, 0));
	CHECK(setxattr(path, "user.colour", "red", 3, XATTR_CREATE));
	CHECK(setxattr(path, "user.size", "large", 5, XATTR_REPLACE));
	CHECK(setxattr(path, "user.size", "", 0, XATTR_CREATE));
	CHECKV(getxattr(path, "user.colour", NULL, 0));
	memset(buf, 0, sizeof(buf));
	CHECKV(getxattr(path, "user.colour", buf, sizeof(buf)));
	SHOW("value: %s\n", buf);
	CHECKV(getxattr(path, "user.colour", buf, 2));
	CHECKV(getxattr(path, "user.size", buf, sizeof(buf)));
	CHECK(fsetxattr(fd, "user.colour", "green", 5, XATTR_REPLACE));
	memset(buf, 0, sizeof(buf));
	CHECKV(fgetxattr(fd, "user.colour", buf, sizeof(buf)));
	SHOW("value through the fd: %s\n", buf);
	CHECKV(getxattr(link, "user.colour", buf, sizeof(buf)));
	CHECKV(lgetxattr(link, "user.colour", buf, sizeof(buf)));
	CHECK(lsetxattr(link, "user.x", "1", 1, 0));

	ssize_t n = listxattr(path, NULL, 0);
	SHOW("list size: %zd\n", n);
	n = listxattr(path, buf, sizeof(buf));
	/* Names in any order: print them sorted. */
	int has_colour = 0, has_size = 0, count = 0;
	for (char *p = buf; p < buf + n; p += strlen(p) + 1) {
		count++;
		has_colour |= strcmp(p, "user.colour") == 0;
		has_size |= strcmp(p, "user.size") == 0;
	}
	SHOW("names: %d, user.colour %d, user.size %d\n", count, has_colour, has_size);
	CHECKV(listxattr(path, buf, 3));
	CHECKV(flistxattr(fd, NULL, 0));

	CHECK(removexattr(path, "user.size"));
	CHECK(removexattr(path, "user.size"));
	CHECK(fremovexattr(fd, "user.colour"));
	CHECKV(listxattr(path, buf, sizeof(buf)));

	printf("-- errors\n");
	CHECK(setxattr(path, "", "v", 1, 0));
	CHECK(setxattr(path, "nonamespace", "v", 1, 0));
	CHECK(setxattr(path, "user.", "v", 1, 0));
	CHECK(setxattr(path, "user.flags", "v", 1, 4));
	char longname[300];
	memset(longname, 'n', sizeof(longname) - 1);
	memcpy(longname, "user.", 5);
	longname[sizeof(longname) - 1] = 0;
	CHECK(setxattr(path, longname, "v", 1, 0));
	static char big[70000];
	CHECK(setxattr(path, "user.big", big, sizeof(big), 0));
	CHECK(setxattr(path, "user.fault", (void *)8, 4, 0));
	CHECK(setxattr("/tmp/no/such/file", "user.a", "v", 1, 0));
	CHECKV(getxattr(path, (void *)8, buf, sizeof(buf)));
	CHECK(fsetxattr(999, "user.a", "v", 1, 0));
	int opath = open(path, O_PATH);
	CHECKV(fgetxattr(opath, "user.a", buf, sizeof(buf)));
	close(opath);
	close(fd);
	unlink(link);
	unlink(path);
	rmdir(dir);
	printf("done\n");
	return 0;
}
