/*
 * devfiles: the device files and the parts of /proc that programs rely on.
 *
 * /dev/null /dev/zero /dev/full /dev/urandom /dev/random, and
 * /proc/self/{cmdline,exe,status,maps}, /proc/cpuinfo, /proc/meminfo.
 * Only facts are printed ("has a Pid: line: 1"), never the contents.
 */
#include "check.h"

#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static char big[1 << 20];

/* Read a whole file into big[]; returns its length or -1. */
static long slurp(const char *path)
{
	long n = 0, r;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	while (n < (long)sizeof(big) - 1 && (r = read(fd, big + n, sizeof(big) - 1 - n)) > 0)
		n += r;
	close(fd);
	big[n] = 0;
	return n;
}

static void device(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		SHOW("stat %s: -1 %s\n", path, errname(errno));
		return;
	}
	SHOW("%s: chr=%d major=%u minor=%u perm=%o\n", path, S_ISCHR(st.st_mode),
	     major(st.st_rdev), minor(st.st_rdev), (unsigned)(st.st_mode & 0777));
}

static int all_zero(const char *b, int n)
{
	for (int i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

static void devs(void)
{
	char buf[4096];
	int fd;

	SHOW("-- /dev\n");
	device("/dev/null");
	device("/dev/zero");
	device("/dev/full");
	device("/dev/random");
	device("/dev/urandom");

	fd = CHECKV(open("/dev/null", O_RDWR));
	CHECKV(read(fd, buf, sizeof(buf)));
	CHECKV(write(fd, buf, sizeof(buf)));
	CHECKV(write(fd, (void *)1, 100)); /* /dev/null does not even look */
	CHECKV(lseek(fd, 100, SEEK_SET));
	CHECK(close(fd));

	fd = CHECKV(open("/dev/zero", O_RDWR));
	memset(buf, 'x', sizeof(buf));
	CHECKV(read(fd, buf, sizeof(buf)));
	SHOW("/dev/zero reads zeros: %d\n", all_zero(buf, sizeof(buf)));
	CHECKV(write(fd, buf, 10));
	CHECKV(read(fd, (void *)1, 10));
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	SHOW("mmap /dev/zero: %d, zero: %d\n", m != MAP_FAILED, m != MAP_FAILED && all_zero(m, 8192));
	CHECK(close(fd));

	fd = CHECKV(open("/dev/full", O_RDWR));
	CHECKV(write(fd, "x", 1));
	memset(buf, 'x', sizeof(buf));
	CHECKV(read(fd, buf, 100));
	SHOW("/dev/full reads zeros: %d\n", all_zero(buf, 100));
	CHECK(close(fd));

	const char *rnd[] = {"/dev/urandom", "/dev/random"};
	for (int i = 0; i < 2; i++) {
		memset(buf, 0, sizeof(buf));
		fd = open(rnd[i], O_RDONLY);
		long n = read(fd, buf, 64);
		SHOW("%s: read %ld, not all zero: %d\n", rnd[i], n, !all_zero(buf, 64));
		close(fd);
	}
	CHECKV(open("/dev/no-such-device", O_RDONLY));
}

static void proc(int argc, char **argv)
{
	char exe[4096], want[4096];
	long n, off = 0;
	int ok = 1;

	SHOW("-- /proc\n");
	n = slurp("/proc/self/cmdline");
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]) + 1;

		if (off + (long)l > n || memcmp(big + off, argv[i], l) != 0)
			ok = 0;
		off += l;
	}
	SHOW("/proc/self/cmdline == argv: %d (length matches: %d)\n", ok, off == n);

	memset(exe, 0, sizeof(exe));
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	snprintf(want, sizeof(want), "/%s", basename(argv[0]));
	SHOW("readlink /proc/self/exe: absolute: %d, ends with /%s: %d\n", exe[0] == '/',
	     basename(argv[0]),
	     n > 0 && (size_t)n >= strlen(want) && strcmp(exe + n - strlen(want), want) == 0);
	int fd = open("/proc/self/exe", O_RDONLY);
	SHOW("/proc/self/exe opens: %d\n", fd >= 0);
	if (fd >= 0) {
		char hdr[4] = {0};
		SHOW("and is an ELF: %d\n", read(fd, hdr, 4) == 4 && memcmp(hdr, "\177ELF", 4) == 0);
		close(fd);
	}

	n = slurp("/proc/self/status");
	char line[64];
	snprintf(line, sizeof(line), "\nPid:\t%d\n", getpid());
	SHOW("/proc/self/status: has Name: %d, Pid: line with getpid(): %d\n",
	     strncmp(big, "Name:", 5) == 0, strstr(big, line) != NULL);

	n = slurp("/proc/cpuinfo");
	SHOW("/proc/cpuinfo has processor: %d\n", n > 0 && strncmp(big, "processor", 9) == 0);
	n = slurp("/proc/meminfo");
	SHOW("/proc/meminfo starts with MemTotal: %d\n", n > 0 && strncmp(big, "MemTotal:", 9) == 0);
	n = slurp("/proc/self/maps");
	SHOW("/proc/self/maps has [stack]: %d, mentions the executable: %d\n",
	     n > 0 && strstr(big, "[stack]") != NULL, n > 0 && strstr(big, exe) != NULL);

	struct stat st;
	CHECK(stat("/proc/self", &st));
	SHOW("/proc/self is a directory: %d\n", S_ISDIR(st.st_mode));
	CHECK(lstat("/proc/self", &st));
	SHOW("/proc/self is a symlink: %d\n", S_ISLNK(st.st_mode));
	memset(exe, 0, sizeof(exe));
	readlink("/proc/self", exe, sizeof(exe) - 1);
	SHOW("/proc/self points to getpid(): %d\n", atoi(exe) == getpid());
	CHECK(open("/proc/self/no-such-file", O_RDONLY));
}

int main(int argc, char **argv)
{
	devs();
	proc(argc, argv);
	SHOW("done\n");
	return 0;
}
