/*
 * mem: address-space system calls.
 *
 * mmap munmap mprotect brk mremap madvise, page faults over a few MB, and
 * EFAULT from read/write on a buffer we unmapped.
 *
 * Addresses are never printed; only facts about them ("aligned: 1").
 */
#include "check.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>

#define PAGE 4096UL

static int aligned(void *p)
{
	return ((uintptr_t)p & (PAGE - 1)) == 0;
}

static void anon(void)
{
	char *p;

	SHOW("-- anonymous mmap/munmap\n");
	p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	SHOW("mmap anon: ok=%d aligned=%d\n", p != MAP_FAILED, aligned(p));
	SHOW("fresh anon memory is zero: %d\n", p[0] == 0 && p[4 * PAGE - 1] == 0);
	for (unsigned long i = 0; i < 4 * PAGE; i++)
		p[i] = (char)(i * 7);
	int good = 1;
	for (unsigned long i = 0; i < 4 * PAGE; i++)
		good &= p[i] == (char)(i * 7);
	SHOW("anon contents kept: %d\n", good);
	CHECK(munmap(p + PAGE, PAGE)); /* punch a hole */
	SHOW("around the hole: %d %d\n", p[0] == 0, p[2 * PAGE] == (char)(2 * PAGE * 7));
	CHECK(munmap(p, 4 * PAGE)); /* unmapping a range with a hole is fine */
	CHECK(munmap(p, 4 * PAGE)); /* and unmapping nothing too */

	SHOW("-- mmap errors\n");
	CHECK(mmap(NULL, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0)); /* neither private nor shared */
	/* PRIVATE|SHARED is MAP_SHARED_VALIDATE, which anonymous mappings refuse */
	CHECK(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_SHARED | MAP_ANONYMOUS, -1, 0));
	CHECK(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	CHECK(mmap((void *)0x10000001, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	CHECK(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, -1, 0)); /* file mapping, bad fd */
	CHECK(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, 999, 0));
	CHECK(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1)); /* unaligned offset */
	CHECK(mmap(NULL, (size_t)-1, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	/* unknown prot bits: mmap ignores them (mprotect does not, below) */
	CHECK(mmap(NULL, PAGE, 0x100, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	CHECK(munmap(NULL, 0));
	CHECK(munmap((void *)1, PAGE));
	CHECK(munmap((void *)(uintptr_t)0xffff800000000000ULL, PAGE));
}

static void fixed(void)
{
	char *base, *p;

	SHOW("-- MAP_FIXED\n");
	base = mmap(NULL, 8 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	SHOW("reserve: %d\n", base != MAP_FAILED);
	p = mmap(base + 2 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	SHOW("MAP_FIXED at the asked address: %d\n", p == base + 2 * PAGE);
	p[0] = 'a';
	p[PAGE] = 'b';
	/* replace the first page of that again: contents go away */
	p = mmap(base + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	SHOW("remapped page is zero: %d, neighbour kept: %d\n", p[0] == 0, p[PAGE] == 'b');
	p = mmap(base + 2 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	SHOW("MAP_FIXED_NOREPLACE on a used page: %s\n", p == MAP_FAILED ? errname(errno) : "mapped");
	p = mmap(base + 7 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	SHOW("MAP_FIXED over PROT_NONE: %d\n", p == base + 7 * PAGE);
	CHECK(munmap(base, 8 * PAGE));
	p = mmap(base + 3 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	SHOW("MAP_FIXED_NOREPLACE on a free page: %d\n", p == base + 3 * PAGE);
	CHECK(munmap(p, PAGE));
	/* a hint is only a hint, but a free page-aligned hint is taken */
	p = mmap(base + 5 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	SHOW("free hint taken: %d\n", p == base + 5 * PAGE);
	CHECK(munmap(p, PAGE));
	CHECK(mmap((void *)0x800000000000ULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
}

static void file_backed(void)
{
	char buf[3 * PAGE];
	char *p;
	int fd;

	SHOW("-- file-backed private mapping\n");
	for (unsigned long i = 0; i < sizeof(buf); i++)
		buf[i] = 'A' + i % 26;
	fd = open("mapped", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECKV(write(fd, buf, 2 * PAGE + 100)); /* last page partial */
	p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	SHOW("mmap file: %d\n", p != MAP_FAILED);
	SHOW("mapping matches file: %d\n", memcmp(p, buf, 2 * PAGE + 100) == 0);
	SHOW("tail of last page is zero: %d\n", p[2 * PAGE + 100] == 0 && p[3 * PAGE - 1] == 0);
	p[0] = '#';
	p[PAGE] = '#';
	char c = 0;
	CHECKV(pread(fd, &c, 1, 0));
	SHOW("private write not in file: %d\n", c == 'A');
	CHECK(pwrite(fd, "!", 1, 10));
	/* page 0 was copied on write; page 2 was only read, so it may show the new byte or not: skip it */
	SHOW("copied page keeps own data: %d\n", p[10] == buf[10]);
	CHECK(madvise(p, PAGE, MADV_DONTNEED));
	SHOW("after MADV_DONTNEED the file data is back: %d %d\n", p[0] == 'A', p[10] == '!');
	CHECK(munmap(p, 3 * PAGE));

	p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, PAGE);
	SHOW("mmap at offset: %d\n", p != MAP_FAILED && p[0] == buf[PAGE]);
	CHECK(munmap(p, PAGE));
	CHECK(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 100));
	CHECK(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, open("mapped", O_RDONLY), 0));
	int dfd = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, dfd, 0));
	close(dfd);
	int wfd = open("mapped", O_WRONLY);
	CHECK(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, wfd, 0)); /* EACCES */
	close(wfd);
	close(fd);
}

static void protect(void)
{
	char *p;

	SHOW("-- mprotect\n");
	p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(mprotect(p, 2 * PAGE, PROT_READ | PROT_WRITE));
	p[0] = 1;
	p[PAGE] = 2;
	SHOW("written after mprotect: %d\n", p[0] + p[PAGE]);
	CHECK(mprotect(p, PAGE, PROT_READ));
	SHOW("still readable: %d\n", p[0]);
	CHECK(mprotect(p + 1, PAGE, PROT_READ));
	CHECK(mprotect(p, PAGE, 0x100));
	CHECK(mprotect(p, 0, PROT_READ));
	CHECK(munmap(p + PAGE, PAGE));
	CHECK(mprotect(p, 2 * PAGE, PROT_READ)); /* second page unmapped */
	CHECK(mprotect(p + PAGE, PAGE, PROT_READ));
	CHECK(munmap(p, PAGE));
}

static void brks(void)
{
	char *cur, *r;

	SHOW("-- brk\n");
	cur = (char *)syscall(SYS_brk, 0);
	r = (char *)syscall(SYS_brk, cur + 1024 * 1024);
	SHOW("grow 1 MiB: %d\n", r == cur + 1024 * 1024);
	memset(cur, 0x5a, 1024 * 1024);
	SHOW("new heap written: %d\n", cur[0] == 0x5a && cur[1024 * 1024 - 1] == 0x5a);
	r = (char *)syscall(SYS_brk, cur + PAGE);
	SHOW("shrink: %d, kept below: %d\n", r == cur + PAGE, cur[10] == 0x5a);
	r = (char *)syscall(SYS_brk, cur + 2 * PAGE);
	SHOW("grow again, new page is zero: %d %d\n", r == cur + 2 * PAGE, cur[PAGE] == 0);
	r = (char *)syscall(SYS_brk, 1);
	SHOW("brk(1) leaves brk unchanged: %d\n", r == cur + 2 * PAGE);
	r = (char *)syscall(SYS_brk, (void *)-4096L);
	SHOW("brk(huge) leaves brk unchanged: %d\n", r == cur + 2 * PAGE);
	r = (char *)syscall(SYS_brk, cur);
	SHOW("back to start: %d\n", r == cur);
}

/* Whether to check the limits of heuristic overcommit (main). */
static int commit_checks;

static void remaps(void)
{
	char *p, *q;
	int good = 1;

	SHOW("-- mremap\n");
	p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (unsigned long i = 0; i < 2 * PAGE; i++)
		p[i] = (char)i;
	/* growing the first page in place collides with the second: ENOMEM */
	CHECK(mremap(p, PAGE, 2 * PAGE, 0));
	q = mremap(p, 2 * PAGE, 64 * PAGE, MREMAP_MAYMOVE);
	SHOW("grow with MREMAP_MAYMOVE: %d\n", q != MAP_FAILED);
	for (unsigned long i = 0; i < 2 * PAGE; i++)
		good &= q[i] == (char)i;
	SHOW("contents kept: %d, new part zero: %d\n", good, q[63 * PAGE] == 0);
	q[63 * PAGE] = 1;
	p = mremap(q, 64 * PAGE, PAGE, 0);
	SHOW("shrink in place: %d, data: %d\n", p == q, p[100] == 100);
	CHECK(mremap(p, PAGE, PAGE, 0x80)); /* bad flags */
	CHECK(mremap(p + 1, PAGE, PAGE, 0));
	CHECK(mremap(p, PAGE, 0, MREMAP_MAYMOVE));
	CHECK(mremap(p, PAGE, 2 * PAGE, MREMAP_FIXED)); /* FIXED needs MAYMOVE */
	CHECK(munmap(p, PAGE));
	CHECK(mremap(p, PAGE, 2 * PAGE, MREMAP_MAYMOVE)); /* nothing mapped: EFAULT */

	/* Private writable memory is not promised beyond RAM and swap
	 * (Linux's default heuristic overcommit, which the sandbox always
	 * has; the test skips this on a host set otherwise): growing it to
	 * 64 TiB fails with ENOMEM and keeps it; MAP_NORESERVE memory is not
	 * charged. Longer than the address space: EINVAL. */
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p[0] = 1;
	if (commit_checks) {
		CHECK(mremap(p, PAGE, 1UL << 46, MREMAP_MAYMOVE));
		CHECK(mremap(p, PAGE, 1UL << 46, 0));
	}
	CHECK(mremap(p, PAGE, 1UL << 47, MREMAP_MAYMOVE));
	SHOW("kept: %d\n", p[0] == 1);
	CHECK(munmap(p, PAGE));
	if (commit_checks)
		CHECK(mmap(NULL, 1UL << 46, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	q = mremap(p, PAGE, 1UL << 46, MREMAP_MAYMOVE);
	SHOW("MAP_NORESERVE memory grows: %d\n", q != MAP_FAILED);
	CHECK(munmap(q != MAP_FAILED ? q : p, q != MAP_FAILED ? 1UL << 46 : PAGE));
	p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	q = mremap(p, PAGE, 1UL << 46, MREMAP_MAYMOVE);
	SHOW("read-only memory grows: %d\n", q != MAP_FAILED);
	CHECK(munmap(q != MAP_FAILED ? q : p, q != MAP_FAILED ? 1UL << 46 : PAGE));
}

static void dontneed(void)
{
	char *p;

	SHOW("-- madvise\n");
	p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(p, 0x77, 4 * PAGE);
	CHECK(madvise(p + PAGE, 2 * PAGE, MADV_DONTNEED));
	SHOW("dropped pages read zero: %d %d, others kept: %d %d\n",
	     p[PAGE] == 0, p[3 * PAGE - 1] == 0, p[0] == 0x77, p[3 * PAGE] == 0x77);
	CHECK(madvise(p, PAGE, MADV_NORMAL));
	CHECK(madvise(p, PAGE, MADV_WILLNEED));
	CHECK(madvise(p + 1, PAGE, MADV_DONTNEED));
	CHECK(madvise(p, PAGE, 12345));
	CHECK(munmap(p, 4 * PAGE));
	CHECK(madvise(p, PAGE, MADV_DONTNEED)); /* ENOMEM: not mapped */

	/* MADV_REMOVE frees the memory of shared mappings that may be
	 * written (what it frees is not checked: moat keeps the data);
	 * other mappings fail it, before a hole's ENOMEM. */
	p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(madvise(p, PAGE, MADV_REMOVE)); /* private anonymous: EINVAL */
	CHECK(munmap(p + PAGE, PAGE));
	CHECK(madvise(p + PAGE, 2 * PAGE, MADV_REMOVE)); /* a hole, then private */
	CHECK(madvise(p, 2 * PAGE, MADV_REMOVE)); /* private, then a hole */
	CHECK(munmap(p, 3 * PAGE));
	int fd = open("mapped", O_RDWR);
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(madvise(p, PAGE, MADV_REMOVE)); /* private file: EACCES */
	CHECK(munmap(p, PAGE));
	close(fd);
	fd = open("mapped", O_RDONLY);
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(madvise(p, PAGE, MADV_REMOVE)); /* shared but never writable: EACCES */
	CHECK(munmap(p, PAGE));
	close(fd);
	p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(madvise(p, PAGE, MADV_REMOVE));
	CHECK(mprotect(p, PAGE, PROT_READ));
	CHECK(madvise(p, PAGE, MADV_REMOVE)); /* mprotect may make it writable again */
	CHECK(mmap(p + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	CHECK(madvise(p + PAGE, 2 * PAGE, MADV_REMOVE)); /* shared, then private: EINVAL */
	CHECK(munmap(p + PAGE, PAGE));
	CHECK(madvise(p, 2 * PAGE, MADV_REMOVE)); /* shared, then a hole: ENOMEM */
	CHECK(munmap(p, 3 * PAGE));
}

static void faults(void)
{
	const unsigned long size = 8UL << 20;
	unsigned long sum = 0, want = 0;
	uint32_t *p;

	SHOW("-- page faults over 8 MiB\n");
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* touch pages in a scattered order, then verify everything */
	for (unsigned long pg = 0; pg < size / PAGE; pg++) {
		unsigned long k = (pg * 997) % (size / PAGE);

		p[k * PAGE / 4] = (uint32_t)k;
	}
	for (unsigned long i = 0; i < size / 4; i += 1024) {
		sum += p[i];
		want += i / 1024;
	}
	SHOW("page-fault loop: %d\n", sum == want);
	for (unsigned long i = 0; i < size / 4; i++)
		p[i] = (uint32_t)(i * 2654435761u);
	int good = 1;
	for (unsigned long i = 0; i < size / 4; i++)
		good &= p[i] == (uint32_t)(i * 2654435761u);
	SHOW("full write/read back: %d\n", good);
	CHECK(munmap(p, size));
}

static void efault(void)
{
	char *gone;
	int fd, p[2];

	SHOW("-- EFAULT through syscalls\n");
	gone = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(munmap(gone, PAGE));
	fd = open("mapped", O_RDWR);
	CHECKV(read(fd, gone, 10));
	CHECKV(write(fd, gone, 10));
	CHECK(pipe(p));
	CHECKV(write(p[1], gone, 10));
	CHECKV(write(p[1], "abc", 3));
	CHECKV(read(p[0], gone, 3));
	char *none = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECKV(write(fd, none, 10));
	CHECKV(read(fd, none, 10));
	char *ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECKV(read(fd, ro, 10)); /* cannot write into read-only memory */
	CHECKV(write(fd, ro, 10)); /* but can read from it */
	CHECK(close(fd));
}

int main(int argc, char **argv)
{
	const char *dir;

	/* "no-commit-limit": the host does not use heuristic overcommit */
	commit_checks = !(argc > 1 && strcmp(argv[1], "no-commit-limit") == 0);

	dir = enter_tmpdir("mem");
	anon();
	fixed();
	file_backed();
	protect();
	brks();
	remaps();
	dontneed();
	faults();
	efault();
	remove_tree(dir);
	SHOW("done\n");
	return 0;
}
