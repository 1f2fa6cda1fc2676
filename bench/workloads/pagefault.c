// pagefault: ns per first-touch write fault on anonymous memory.
// Each round maps a fresh anonymous private region (64 MiB by default),
// writes one byte to every 4 KiB page, and unmaps it. The whole round is
// timed (mmap and munmap included) and divided by the pages touched.
//
// usage: pagefault [ROUNDS [MIB]]
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "timing.h"

#define PAGE 4096L

int main(int argc, char **argv) {
	long rounds = argc > 1 ? atol(argv[1]) : 8;
	long mib = argc > 2 ? atol(argv[2]) : 64;
	if (rounds <= 0 || mib <= 0) {
		fprintf(stderr, "pagefault: bad arguments\n");
		return 2;
	}
	size_t len = (size_t)mib << 20;
	long pages = (long)(len / PAGE);
	long long t0 = now_ns();
	for (long r = 0; r < rounds; r++) {
		volatile char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		for (long i = 0; i < pages; i++)
			p[i * PAGE] = (char)i;
		if (munmap((void *)p, len) != 0) {
			perror("munmap");
			return 1;
		}
	}
	long long t1 = now_ns();
	report(t0, t1, (double)rounds * (double)pages);
	return 0;
}
