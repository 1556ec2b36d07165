/* Allocation that never returns NULL: out of memory aborts with a message, so
 * callers need no failure path for our own allocations (redis zmalloc_oom). */
#pragma once
#include <stdbool.h>
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

/* Installs xalloc's allocator into cJSON: xmalloc and free, or the calling
 * thread's arena between xalloc_cjson_arena_begin() and _end(). Call once,
 * before any thread starts. */
void xalloc_install_cjson_hooks(void);

/* A large document read with cJSON a piece at a time (a fixture of 100,000
 * contacts, a contact at a time) is millions of small allocations, each tree's
 * freed together once it has been read. Between _begin() and _end(), the
 * calling thread's cJSON allocations come from an arena and cJSON frees
 * nothing; _rewind() drops every tree made since _begin() or the last rewind
 * at once, and reuses their memory. So a tree made in between must be neither
 * used nor deleted after the rewind or end that drops it, one made before must
 * not be deleted in between, and the calls do not nest. _begin() returns false
 * (and no arena is made) when the hooks above are not installed, or under
 * AddressSanitizer or Valgrind, whose checks an arena would hide: cJSON then
 * allocates as usual, and its trees are deleted as usual. */
bool xalloc_cjson_arena_begin(void);
void xalloc_cjson_arena_rewind(void);
void xalloc_cjson_arena_end(void);
