/*
 * rseq: try to register a restartable-sequence area and print the errno.
 *
 * Natively the answer depends on the kernel and on glibc (glibc >= 2.35
 * registers rseq itself at startup, so a second registration fails with
 * EBUSY or EINVAL), so this is not compared with a native run. moat does not
 * implement rseq and must say ENOSYS; glibc copes with that.
 */
#include "check.h"

#include <stdint.h>

struct rseq_area {
	uint32_t cpu_id_start;
	uint32_t cpu_id;
	uint64_t rseq_cs;
	uint32_t flags;
	uint32_t node_id;
	uint32_t mm_cid;
	char end[];
} __attribute__((aligned(32)));

static struct rseq_area area;

int main(void)
{
	long r = syscall(SYS_rseq, &area, 32, 0, 0x53053053);

	if (r == -1)
		printf("rseq: -1 %s\n", errname(errno));
	else
		printf("rseq: %ld\n", r);
	return 0;
}
