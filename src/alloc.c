/* alloc.c: the core's allocator with an optional injected failure for tests. */
#include "config.h"

#include "alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The test hook's counters: the only process-wide state of the core, atomic because worker
 * pools (spectra) allocate from several threads. */
static _Atomic unsigned long alloc_count;	/* allocations since the last rs_alloc_fail_at() */
static _Atomic unsigned long alloc_fail_n;	/* fail when alloc_count reaches this; 0 = never */

/* Count an allocation and say whether it must fail. */
static int
alloc_should_fail(void)
{
	unsigned long n = atomic_fetch_add(&alloc_count, 1) + 1, fail = atomic_load(&alloc_fail_n);

	return fail != 0 && n == fail;
}

unsigned long
rs_alloc_fail_at(unsigned long n)
{
	unsigned long made = atomic_exchange(&alloc_count, 0);

	atomic_store(&alloc_fail_n, n);
	return made;
}

void *
rs_malloc(size_t n)
{
	if (alloc_should_fail())
		return NULL;
	return malloc(n == 0 ? 1 : n);
}

void *
rs_calloc(size_t count, size_t size)
{
	if (size != 0 && count > SIZE_MAX / size)
		return NULL;
	if (alloc_should_fail())
		return NULL;
	return calloc(count == 0 ? 1 : count, size == 0 ? 1 : size);
}

void *
rs_mallocarray(size_t count, size_t size)
{
	if (size != 0 && count > SIZE_MAX / size)
		return NULL;
	return rs_malloc(count * size);
}

void *
rs_realloc(void *p, size_t n)
{
	if (alloc_should_fail())
		return NULL;
	return realloc(p, n == 0 ? 1 : n);
}

void
rs_free(void *p)
{
	free(p);
}

char *
rs_strndup(const char *s, size_t n)
{
	char *d = rs_malloc(n + 1);

	if (d == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *
rs_strdup(const char *s)
{
	return rs_strndup(s, strlen(s));
}

char *
rs_vstrdupf(const char *fmt, va_list ap)
{
	va_list ap2;
	int len;
	char *s;

	va_copy(ap2, ap);
	len = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (len < 0)
		return NULL;
	s = rs_malloc((size_t)len + 1);
	if (s != NULL)
		vsnprintf(s, (size_t)len + 1, fmt, ap);
	return s;
}

char *
rs_strdupf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = rs_vstrdupf(fmt, ap);
	va_end(ap);
	return s;
}
