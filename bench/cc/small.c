/* The input of the bench's gcc row: a small but ordinary translation unit
 * (libc headers, a few functions, some loops for -O2 to work on), compiled
 * with gcc -c -O2 -o /dev/null, natively and inside moat. Not a workload
 * program: it is never linked or run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	char *key;
	int count;
	struct entry *next;
};

#define NBUCKETS 256

static struct entry *table[NBUCKETS];

static unsigned hash(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static struct entry *lookup(const char *key)
{
	unsigned b = hash(key) % NBUCKETS;
	for (struct entry *e = table[b]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	struct entry *e = calloc(1, sizeof *e);
	if (!e || !(e->key = strdup(key))) {
		perror("alloc");
		exit(1);
	}
	e->next = table[b];
	table[b] = e;
	return e;
}

static int by_count(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
	if (x->count != y->count)
		return y->count - x->count;
	return strcmp(x->key, y->key);
}

int count_words(FILE *in, FILE *out, int top)
{
	char word[128];
	size_t n = 0;
	while (fscanf(in, "%127s", word) == 1) {
		if (lookup(word)->count++ == 0)
			n++;
	}
	struct entry **all = malloc(n * sizeof *all);
	if (!all)
		return -1;
	size_t i = 0;
	for (int b = 0; b < NBUCKETS; b++)
		for (struct entry *e = table[b]; e; e = e->next)
			all[i++] = e;
	qsort(all, n, sizeof *all, by_count);
	for (i = 0; i < n && (int)i < top; i++)
		fprintf(out, "%7d %s\n", all[i]->count, all[i]->key);
	free(all);
	return (int)n;
}
