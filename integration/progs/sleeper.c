/*
 * sleeper: print "sleeping", then nanosleep for argv[1] milliseconds
 * (default 30000) and print "woke". Used to look at moat's processes while
 * the program runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 30000;
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	printf("sleeping\n");
	fflush(stdout);
	while (nanosleep(&ts, &ts) != 0)
		;
	printf("woke\n");
	return 0;
}
