/*
 * segv: die from SIGSEGV by writing to an address that is never mapped.
 * A shell reports this as status 139 (128 + 11); so must moat.
 */
#include <stdio.h>

int main(void)
{
	volatile int *p = (volatile int *)16;

	printf("about to fault\n");
	fflush(stdout);
	*p = 1;
	printf("still alive?\n");
	return 0;
}
