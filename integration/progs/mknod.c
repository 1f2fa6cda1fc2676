/*
 * mknod.c: mknod(2) and mknodat(2) for every file type, their errors in
 * Linux's order, the umask, and FIFOs (man 7 fifo): blocking opens that a
 * child pairs, non-blocking opens, ENXIO, O_RDWR, data, end of file,
 * EPIPE and SIGPIPE, poll, F_GETPIPE_SZ, fstat, hard links, an open
 * interrupted by a signal, and device nodes of the memory devices.
 *
 * Run as root in a private directory under /tmp (enter_tmpdir); the
 * read-only mount is made in a child in its own mount namespace.
 */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>

static void show_stat(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		SHOW("stat %s: %s\n", path, errname(errno));
		return;
	}
	const char *t = S_ISREG(st.st_mode)    ? "reg"
			: S_ISFIFO(st.st_mode) ? "fifo"
			: S_ISSOCK(st.st_mode) ? "sock"
			: S_ISCHR(st.st_mode)  ? "chr"
			: S_ISBLK(st.st_mode)  ? "blk"
			: S_ISDIR(st.st_mode)  ? "dir"
					       : "other";
	SHOW("%s: %s mode=%04o size=%lld nlink=%lu rdev=%u:%u uid=%u\n", path, t,
	     (unsigned)(st.st_mode & 07777), (long long)st.st_size,
	     (unsigned long)st.st_nlink, major(st.st_rdev), minor(st.st_rdev),
	     (unsigned)st.st_uid);
}

static int child_status(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return 1000 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static void types(void)
{
	SHOW("-- types\n");
	umask(022);
	CHECK(mknod("reg", S_IFREG | 0666, 0));
	CHECK(mknod("zero_type", 0666, 0));
	CHECK(mknod("fifo", S_IFIFO | 0666, 0));
	CHECK(mknod("sock", S_IFSOCK | 0777, 0));
	CHECK(mknod("null", S_IFCHR | 0666, makedev(1, 3)));
	CHECK(mknod("blk", S_IFBLK | 0600, makedev(42, 42)));
	CHECK(mknod("big", S_IFCHR | 0600, makedev(300, 70000)));
	CHECK(mkfifo("fifo2", 0640));
	CHECK(mknodat(AT_FDCWD, "at_fifo", S_IFIFO | 0600, 0));
	int d = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(mknodat(d, "at_reg", S_IFREG | 0644, 0));
	close(d);
	umask(077);
	CHECK(mknod("masked", S_IFIFO | 0666, 0));
	CHECK(mknod("suid", S_IFREG | 06755, 0));
	umask(022);
	const char *names[] = {"reg", "zero_type", "fifo", "sock", "null", "blk",
			       "big", "fifo2", "at_fifo", "at_reg", "masked", "suid"};
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		show_stat(names[i]);
	/* A regular file made by mknod is an ordinary file. */
	int fd = CHECK(open("reg", O_RDWR));
	CHECKV(write(fd, "abc", 3));
	close(fd);
	show_stat("reg");
	CHECK(open("sock", O_RDONLY));
	CHECK(open("sock", O_PATH));
}

static void errors(void)
{
	char name[300];

	SHOW("-- errors\n");
	CHECK(mknod("reg", S_IFIFO | 0600, 0));          /* EEXIST */
	CHECK(mknod("reg", S_IFREG | 0600, 0));          /* EEXIST */
	CHECK(mknod(".", S_IFIFO | 0600, 0));            /* EEXIST */
	CHECK(mknod("..", S_IFIFO | 0600, 0));           /* EEXIST */
	CHECK(mknod("/", S_IFIFO | 0600, 0));            /* EEXIST */
	CHECK(symlink("nowhere", "dangling"));
	CHECK(mknod("dangling", S_IFIFO | 0600, 0));     /* EEXIST: not followed */
	CHECK(mknod("nodir/x", S_IFIFO | 0600, 0));      /* ENOENT */
	CHECK(mknod("newname/", S_IFIFO | 0600, 0));     /* ENOENT */
	CHECK(mknod("", S_IFIFO | 0600, 0));             /* ENOENT */
	CHECK(mknod("reg/x", S_IFIFO | 0600, 0));        /* ENOTDIR */
	CHECK(mknod("fifo/x", S_IFIFO | 0600, 0));       /* ENOTDIR */
	CHECK(mknod("d", S_IFDIR | 0700, 0));            /* EPERM */
	CHECK(mknod("l", S_IFLNK | 0700, 0));            /* EINVAL */
	CHECK(mknod("x", S_IFMT | 0700, 0));             /* EINVAL */
	CHECK(mknod("x", 0110000 | 0700, 0));            /* EINVAL */
	CHECK(mknod("reg", S_IFLNK | 0700, 0));          /* EINVAL before EEXIST */
	CHECK(mknod(unmapped_page(), S_IFLNK, 0));       /* EINVAL before EFAULT */
	CHECK(mknod(unmapped_page(), S_IFIFO | 0600, 0)); /* EFAULT */
	memset(name, 'n', 256);
	name[256] = 0;
	CHECK(mknod(name, S_IFIFO | 0600, 0));           /* ENAMETOOLONG */
	name[255] = 0;
	CHECK(mknod(name, S_IFIFO | 0600, 0));           /* 255 is fine */
	CHECK(unlink(name));
	char *longpath = malloc(PATH_MAX + 10);
	memset(longpath, 'a', PATH_MAX + 9);
	for (int i = 100; i < PATH_MAX + 9; i += 100)
		longpath[i] = '/';
	longpath[PATH_MAX + 9] = 0;
	CHECK(mknod(longpath, S_IFIFO | 0600, 0));       /* ENAMETOOLONG */
	free(longpath);
	CHECK(symlink("loop2", "loop1"));
	CHECK(symlink("loop1", "loop2"));
	CHECK(mknod("loop1/x", S_IFIFO | 0600, 0));      /* ELOOP */
	CHECK(mknodat(12345, "x", S_IFIFO | 0600, 0));   /* EBADF */
	int fd = open("reg", O_RDONLY);
	CHECK(mknodat(fd, "x", S_IFIFO | 0600, 0));      /* ENOTDIR */
	close(fd);

	/* Without privileges: EACCES for the parent, EPERM for devices. */
	CHECK(mkdir("closed", 0755));
	CHECK(mkdir("open", 0777));
	CHECK(mkdir("nosearch", 0776));
	CHECK(chmod("open", 0777));
	CHECK(chmod("nosearch", 0776));
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(99);
		int r = 0;
		r |= (mknod("closed/f", S_IFIFO | 0600, 0) == 0 || errno != EACCES) << 0;
		r |= (mknod("closed", S_IFIFO | 0600, 0) == 0 || errno != EEXIST) << 1;
		r |= (mknod("nosearch/f", S_IFIFO | 0600, 0) == 0 || errno != EACCES) << 2;
		r |= (mknod("open/c", S_IFCHR | 0600, makedev(1, 3)) == 0 || errno != EPERM) << 3;
		r |= (mknod("open/b", S_IFBLK | 0600, makedev(42, 42)) == 0 || errno != EPERM) << 4;
		r |= (mknod("closed/c", S_IFCHR | 0600, makedev(1, 3)) == 0 || errno != EACCES) << 5;
		r |= (mknod("open/f", S_IFIFO | 0600, 0) != 0) << 6;
		r |= (mknod("open/s", S_IFSOCK | 0600, 0) != 0) << 7;
		/* A 0:0 character device is a whiteout: no CAP_MKNOD needed. */
		r |= (mknod("open/w", S_IFCHR | 0600, 0) != 0) << 8;
		_exit(r);
	}
	SHOW("unprivileged mknod: status %d\n", child_status(pid));
	show_stat("open/f");
	show_stat("open/s");
	show_stat("open/w");
	CHECK(open("open/w", O_RDONLY)); /* ENXIO: no device 0:0 */

	/* EROFS, after EEXIST, on a read-only tmpfs. */
	CHECK(mkdir("ro", 0755));
	pid = fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) != 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount("t", "ro", "tmpfs", 0, "mode=755") != 0 ||
		    mknod("ro/there", S_IFIFO | 0600, 0) != 0 ||
		    mount(NULL, "ro", NULL, MS_REMOUNT | MS_RDONLY, NULL) != 0)
			_exit(99);
		CHECK(mknod("ro/new", S_IFIFO | 0600, 0));   /* EROFS */
		CHECK(mknod("ro/there", S_IFIFO | 0600, 0)); /* EEXIST */
		CHECK(mknod("ro/nodir/x", S_IFIFO | 0600, 0)); /* ENOENT */
		CHECK(mknod("ro/c", S_IFCHR | 0600, makedev(1, 3))); /* EROFS */
		/* A FIFO on a read-only mount still opens for writing. */
		int r = open("ro/there", O_RDONLY | O_NONBLOCK);
		CHECK(r >= 0 ? 0 : -1);
		int w = open("ro/there", O_WRONLY | O_NONBLOCK);
		CHECK(w >= 0 ? 0 : -1);
		CHECKV(write(w, "ro", 2));
		_exit(0);
	}
	SHOW("read-only child: status %d\n", child_status(pid));
}

static void devices(void)
{
	char buf[8];

	SHOW("-- devices\n");
	CHECK(mknod("zero", S_IFCHR | 0666, makedev(1, 5)));
	CHECK(mknod("full", S_IFCHR | 0666, makedev(1, 7)));
	CHECK(mknod("random", S_IFCHR | 0666, makedev(1, 8)));
	CHECK(mknod("urandom", S_IFCHR | 0666, makedev(1, 9)));
	CHECK(mknod("nodrv", S_IFCHR | 0666, makedev(42, 42)));
	int fd = CHECK(open("null", O_RDWR));
	CHECKV(write(fd, "abc", 3));
	CHECKV(read(fd, buf, sizeof(buf)));
	close(fd);
	fd = CHECK(open("zero", O_RDONLY));
	memset(buf, 1, sizeof(buf));
	CHECKV(read(fd, buf, sizeof(buf)));
	SHOW("zeros: %d\n", buf[0] == 0 && buf[7] == 0);
	close(fd);
	fd = CHECK(open("full", O_WRONLY));
	CHECKV(write(fd, "x", 1));
	close(fd);
	fd = CHECK(open("random", O_RDONLY));
	CHECKV(read(fd, buf, 4));
	close(fd);
	fd = CHECK(open("urandom", O_RDONLY));
	CHECKV(read(fd, buf, 4));
	close(fd);
	CHECK(open("nodrv", O_RDONLY));
	CHECK(open("blk", O_RDONLY));
	CHECK(open("big", O_RDONLY));
	fd = CHECK(open("nodrv", O_PATH));
	close(fd);
}

static void fifo_nonblocking(void)
{
	char buf[16];
	struct pollfd pf;
	struct stat st, fst;

	SHOW("-- fifo, non-blocking\n");
	CHECK(mkfifo("nb", 0600));
	CHECK(open("nb", O_WRONLY | O_NONBLOCK)); /* ENXIO: no reader */
	int r = CHECK(open("nb", O_RDONLY | O_NONBLOCK));
	CHECKV(read(r, buf, sizeof(buf))); /* 0: no writer */
	pf = (struct pollfd){.fd = r, .events = POLLIN};
	CHECKV(poll(&pf, 1, 0));
	SHOW("revents before a writer: %#x\n", pf.revents);
	int w = CHECK(open("nb", O_WRONLY | O_NONBLOCK));
	CHECKV(fcntl(w, F_GETFL) & (O_ACCMODE | O_NONBLOCK));
	CHECKV(read(r, buf, sizeof(buf))); /* EAGAIN: a writer, no data */
	pf = (struct pollfd){.fd = w, .events = POLLOUT};
	CHECKV(poll(&pf, 1, 0));
	SHOW("writer revents: %#x\n", pf.revents);
	CHECKV(write(w, "hello", 5));
	pf = (struct pollfd){.fd = r, .events = POLLIN};
	CHECKV(poll(&pf, 1, 0));
	SHOW("reader revents with data: %#x\n", pf.revents);
	int ep = CHECK(epoll_create1(0));
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, r, &ev));
	CHECKV(epoll_wait(ep, &out, 1, 0));
	SHOW("epoll: events %#x data %u\n", out.events, out.data.u32);
	int n = CHECKV(read(r, buf, sizeof(buf)));
	SHOW("read %.*s\n", n, buf);
	CHECKV(epoll_wait(ep, &out, 1, 0));
	CHECKV(fcntl(r, F_GETPIPE_SZ));
	CHECKV(fcntl(w, F_SETPIPE_SZ, 4096));
	CHECKV(fcntl(r, F_GETPIPE_SZ));
	CHECK(fstat(r, &fst));
	CHECK(stat("nb", &st));
	SHOW("fstat: fifo %d same inode %d mode %04o\n", S_ISFIFO(fst.st_mode),
	     fst.st_ino == st.st_ino && fst.st_dev == st.st_dev,
	     (unsigned)(fst.st_mode & 07777));
	CHECKV(lseek(r, 0, SEEK_SET)); /* ESPIPE */
	CHECKV(pread(r, buf, 1, 0));   /* ESPIPE */
	CHECKV(write(w, "bye", 3));
	close(w);
	n = CHECKV(read(r, buf, sizeof(buf)));
	SHOW("read %.*s\n", n, buf);
	pf = (struct pollfd){.fd = r, .events = POLLIN};
	CHECKV(poll(&pf, 1, 0));
	SHOW("reader revents after the writer left: %#x\n", pf.revents);
	CHECKV(epoll_wait(ep, &out, 1, 0));
	SHOW("epoll: events %#x\n", out.events);
	close(ep);
	CHECKV(read(r, buf, sizeof(buf))); /* 0: end of file */

	/* EPIPE once no reader is left; SIGPIPE ignored. */
	w = CHECK(open("nb", O_WRONLY | O_NONBLOCK));
	close(r);
	pf = (struct pollfd){.fd = w, .events = POLLOUT};
	CHECKV(poll(&pf, 1, 0));
	SHOW("writer revents without readers: %#x\n", pf.revents);
	signal(SIGPIPE, SIG_IGN);
	CHECKV(write(w, "x", 1)); /* EPIPE */
	signal(SIGPIPE, SIG_DFL);
	close(w);

	/* ... and SIGPIPE kills by default. */
	r = open("nb", O_RDONLY | O_NONBLOCK);
	w = open("nb", O_WRONLY | O_NONBLOCK);
	close(r);
	pid_t pid = fork();
	if (pid == 0) {
		write(w, "x", 1);
		_exit(0);
	}
	SHOW("writer without readers: status %d\n", child_status(pid));
	close(w);

	/* O_RDWR never blocks; the data goes with the last close. */
	int rw = CHECK(open("nb", O_RDWR));
	CHECKV(write(rw, "kept", 4));
	int r2 = CHECK(open("nb", O_RDONLY)); /* a writer exists: no wait */
	n = CHECKV(read(r2, buf, 2));
	SHOW("read %.*s\n", n, buf);
	close(r2);
	n = CHECKV(read(rw, buf, sizeof(buf)));
	SHOW("read %.*s\n", n, buf);
	CHECKV(write(rw, "lost", 4));
	close(rw);
	rw = CHECK(open("nb", O_RDWR | O_NONBLOCK));
	CHECKV(read(rw, buf, sizeof(buf))); /* EAGAIN: a new, empty pipe */

	/* A hard link is the same FIFO; an unlinked FIFO still works. */
	CHECK(link("nb", "nb-link"));
	r = CHECK(open("nb-link", O_RDONLY | O_NONBLOCK));
	CHECKV(write(rw, "linked", 6));
	n = CHECKV(read(r, buf, sizeof(buf)));
	SHOW("read %.*s\n", n, buf);
	CHECK(unlink("nb"));
	CHECK(unlink("nb-link"));
	CHECKV(write(rw, "gone", 4));
	n = CHECKV(read(r, buf, sizeof(buf)));
	SHOW("read %.*s\n", n, buf);
	close(r);
	close(rw);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void fifo_blocking(void)
{
	char buf[64];

	SHOW("-- fifo, blocking\n");
	CHECK(mkfifo("b", 0600));
	/* A reader waits for the writer a child opens. */
	pid_t pid = fork();
	if (pid == 0) {
		int w = open("b", O_WRONLY); /* waits for the parent */
		if (w < 0)
			_exit(1);
		if (write(w, "from child", 10) != 10)
			_exit(2);
		_exit(0);
	}
	int r = CHECK(open("b", O_RDONLY));
	int n = CHECKV(read(r, buf, sizeof(buf)));
	SHOW("read %.*s\n", n, buf);
	CHECKV(read(r, buf, sizeof(buf))); /* 0 once the child exits */
	SHOW("writer child: status %d\n", child_status(pid));
	close(r);

	/* A writer waits for the reader a child opens. */
	pid = fork();
	if (pid == 0) {
		int r = open("b", O_RDONLY);
		if (r < 0)
			_exit(1);
		int n = 0, k;
		while ((k = read(r, buf + n, sizeof(buf) - n)) > 0)
			n += k;
		_exit(n == 11 && memcmp(buf, "from parent", 11) == 0 ? 0 : 3);
	}
	int w = CHECK(open("b", O_WRONLY));
	CHECKV(write(w, "from parent", 11));
	close(w);
	SHOW("reader child: status %d\n", child_status(pid));

	/* Both sides blocking in the child: a pipeline through the FIFO. */
	pid = fork();
	if (pid == 0) {
		int w = open("b", O_WRONLY);
		for (int i = 0; i < 1000; i++)
			if (write(w, "0123456789", 10) != 10)
				_exit(1);
		_exit(0);
	}
	r = CHECK(open("b", O_RDONLY));
	long total = 0;
	while ((n = read(r, buf, sizeof(buf))) > 0)
		total += n;
	SHOW("read %ld bytes in all\n", total);
	close(r);
	SHOW("writer child: status %d\n", child_status(pid));

	/* A signal ends a waiting open (no SA_RESTART): EINTR. */
	struct sigaction sa = {.sa_handler = on_alarm};
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {.it_value = {.tv_usec = 100000}};
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK(open("b", O_RDONLY));
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK(open("b", O_WRONLY));
	/* After the interrupted opens, the FIFO is as before. */
	CHECK(open("b", O_WRONLY | O_NONBLOCK)); /* ENXIO */
	signal(SIGALRM, SIG_DFL);
}

/* The same in a directory of the root filesystem (moat's overlay). */
static void in_root_fs(void)
{
	char path[64], buf[8];

	SHOW("-- in the root filesystem\n");
	snprintf(path, sizeof(path), "/var/tmp/moat-it-mknod-XXXXXX");
	if (mkdtemp(path) == NULL) {
		perror("mkdtemp");
		exit(99);
	}
	int d = open(path, O_RDONLY | O_DIRECTORY);
	CHECK(mknodat(d, "f", S_IFIFO | 0644, 0));
	CHECK(mknodat(d, "s", S_IFSOCK | 0644, 0));
	CHECK(mknodat(d, "r", S_IFREG | 0644, 0));
	CHECK(mknodat(d, "c", S_IFCHR | 0644, makedev(1, 5)));
	CHECK(mknodat(d, "f", S_IFIFO | 0644, 0));
	if (fchdir(d) != 0)
		exit(99);
	show_stat("f");
	show_stat("s");
	show_stat("r");
	show_stat("c");
	int fd = CHECK(open("c", O_RDONLY));
	CHECKV(read(fd, buf, 4));
	close(fd);
	int rw = CHECK(open("f", O_RDWR));
	CHECKV(write(rw, "root", 4));
	int n = CHECKV(read(rw, buf, sizeof(buf)));
	SHOW("read %.*s\n", n, buf);
	close(rw);
	CHECK(chmod("f", 0600));
	CHECK(rename("f", "f2"));
	show_stat("f2");
	close(d);
	remove_tree(path);
}

int main(void)
{
	const char *dir = enter_tmpdir("mknod");

	/* Searchable, for the unprivileged child. */
	if (chmod(".", 0755) != 0) {
		perror("chmod");
		return 99;
	}

	types();
	errors();
	devices();
	fifo_nonblocking();
	fifo_blocking();
	remove_tree(dir);
	in_root_fs();
	SHOW("done\n");
	return 0;
}
