/*
 * abort: die from SIGABRT via abort(3), which blocks nothing, raises
 * SIGABRT with tgkill and, if that returns, resets the handler and tries
 * again. A shell reports this as status 134 (128 + 6); so must moat.
 */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	printf("about to abort\n");
	fflush(stdout);
	abort();
}
