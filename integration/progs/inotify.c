/*
 * inotify.c: events for changes to a watched directory and file in /tmp:
 * create, modify, attrib, open/close, moves with a shared cookie, delete,
 * delete_self and ignored, IN_ONESHOT, IN_MASK_ADD, rm_watch, and errors.
 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

static int wd_dir, wd_file;

static const char *wdname(int wd)
{
	return wd == wd_dir ? "dir" : wd == wd_file ? "file" : "other";
}

/* drain prints every queued event (nonblocking fd). */
static void drain(int fd, const char *what)
{
	char buf[4096] __attribute__((aligned(8)));
	uint32_t last_cookie = 0;

	printf("%s:\n", what);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0) {
			if (errno != EAGAIN)
				printf("  read: %s\n", errname(errno));
			return;
		}
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			printf("  %s %#x%s %s\n", wdname(e->wd), e->mask,
			       e->cookie == 0 ? "" : e->cookie == last_cookie ? " (same cookie)" : " (cookie)",
			       e->len ? e->name : "-");
			if (e->cookie)
				last_cookie = e->cookie;
			p += sizeof(*e) + e->len;
		}
	}
}

int main(void)
{
	char dir[] = "/tmp/moat-inotify-XXXXXX";
	char f[80], g[80], sub[80];

	if (!mkdtemp(dir))
		return 1;
	snprintf(f, sizeof(f), "%s/f", dir);
	snprintf(g, sizeof(g), "%s/g", dir);
	snprintf(sub, sizeof(sub), "%s/sub", dir);

	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	SHOW("inotify_init1: %d\n", fd >= 0);
	wd_dir = inotify_add_watch(fd, dir, IN_ALL_EVENTS);
	SHOW("watch dir: %d\n", wd_dir > 0);
	CHECKV(read(fd, f, sizeof(f)) == -1 && errno == EAGAIN);

	int w = open(f, O_WRONLY | O_CREAT, 0644);
	write(w, "abc", 3);
	close(w);
	drain(fd, "create, write, close");

	wd_file = inotify_add_watch(fd, f, IN_MODIFY | IN_ATTRIB | IN_CLOSE | IN_DELETE_SELF | IN_MOVE_SELF);
	SHOW("watch file: %d, distinct from the dir's: %d\n", wd_file > 0, wd_file != wd_dir);
	SHOW("the same inode again gives the same wd: %d\n",
	     inotify_add_watch(fd, f, IN_MODIFY | IN_ATTRIB | IN_CLOSE | IN_DELETE_SELF | IN_MOVE_SELF) == wd_file);
	chmod(f, 0600);
	truncate(f, 1);
	int r = open(f, O_RDONLY);
	char c;
	read(r, &c, 1);
	close(r);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	SHOW("poll readable: %d\n", poll(&pfd, 1, 0));
	int queued = 0;
	ioctl(fd, FIONREAD, &queued);
	SHOW("FIONREAD > 0: %d\n", queued > 0);
	drain(fd, "chmod, truncate, read");

	rename(f, g);
	mkdir(sub, 0755);
	rmdir(sub);
	symlink("g", f);
	unlink(f);
	drain(fd, "rename, mkdir, rmdir, symlink, unlink");

	unlink(g);
	drain(fd, "unlink of the watched file");

	int once = inotify_add_watch(fd, dir, IN_CREATE | IN_ONESHOT);
	SHOW("oneshot re-watch keeps the wd: %d\n", once == wd_dir);
	close(open(f, O_WRONLY | O_CREAT, 0644));
	close(open(g, O_WRONLY | O_CREAT, 0644));
	drain(fd, "oneshot");

	wd_dir = inotify_add_watch(fd, dir, IN_DELETE);
	inotify_add_watch(fd, dir, IN_CREATE | IN_MASK_ADD);
	unlink(f);
	close(open(f, O_WRONLY | O_CREAT, 0644));
	CHECK(inotify_rm_watch(fd, wd_dir));
	unlink(f);
	drain(fd, "mask add, rm_watch");

	printf("-- errors\n");
	CHECK(inotify_add_watch(fd, dir, 0));
	CHECK(inotify_add_watch(fd, "/tmp/no/such", IN_CREATE));
	CHECK(inotify_add_watch(fd, g, IN_CREATE | IN_ONLYDIR));
	CHECK(inotify_add_watch(999, dir, IN_CREATE));
	int notify_fd = open(g, O_RDONLY);
	CHECK(inotify_add_watch(notify_fd, dir, IN_CREATE));
	CHECK(inotify_rm_watch(fd, 12345));
	CHECK(inotify_init1(0x7));
	char tiny[8];
	int w2 = inotify_add_watch(fd, dir, IN_CREATE);
	close(open(f, O_WRONLY | O_CREAT, 0644));
	CHECKV(read(fd, tiny, sizeof(tiny)));
	(void)w2;
	close(notify_fd);
	unlink(f);
	unlink(g);
	rmdir(dir);
	close(fd);
	printf("done\n");
	return 0;
}
