/* alloc.h: the core's allocator.  Every allocation in src/ goes through these so that a test
 * build can fail the N-th allocation (out-of-memory testing, as Lua's ltests.c does).
 * They return NULL on failure and never abort. */
#ifndef RS_ALLOC_H
#define RS_ALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *rs_malloc(size_t n);
void *rs_calloc(size_t count, size_t size);     /* checks count*size for overflow */
void *rs_realloc(void *p, size_t n);
void *rs_mallocarray(size_t count, size_t size); /* malloc with an overflow check */
void rs_free(void *p);
char *rs_strdup(const char *s);
char *rs_strndup(const char *s, size_t n);
char *rs_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *rs_vstrdupf(const char *fmt, va_list ap);

/* Test hook: make the n-th allocation from now fail (0 disables); returns how many
 * allocations have been made since the last call.  Not thread-safe; tests only. */
unsigned long rs_alloc_fail_at(unsigned long n);

#endif
