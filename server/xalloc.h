/* Allocation that never returns NULL: out of memory aborts with a message, so
 * callers need no failure path for our own allocations (redis zmalloc_oom). */
#pragma once
#include <stddef.h>

/* Like malloc/calloc/realloc/strdup, but abort the process on failure.
 * Free the result with free(). */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Copies s, which may be NULL (then returns NULL). */
char *xstrdup_null(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh heap string; free() it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Installs xmalloc/free as cJSON's allocator. Call once, before any thread starts. */
void xalloc_install_cjson_hooks(void);
