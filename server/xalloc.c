/* The one allocation family of the project; see xalloc.h. */
#include "xalloc.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void oom(size_t n)
{
	fprintf(stderr, "invent-mock: out of memory allocating %zu bytes\n", n);
	fflush(stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (!p)
		oom(count * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrdup_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	char *p = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

enum { ARENA_BLOCK = 1 << 20 }; /* bytes; a larger allocation has a block of its own */

struct arena_block {
	struct arena_block *next;
	size_t used, size;
	_Alignas(16) unsigned char data[];
};

static bool hooks_installed;
static _Thread_local bool arena_on;
static _Thread_local struct arena_block *arena; /* the newest block first */

static void *cjson_malloc(size_t n)
{
	if (!arena_on)
		return xmalloc(n);
	n = (n + 15) & ~(size_t)15; /* cJSON stores pointers and doubles */
	if (!arena || arena->size - arena->used < n) {
		size_t size = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
		struct arena_block *b = mmap(NULL, sizeof *b + size, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b == MAP_FAILED)
			oom(sizeof *b + size);
		b->used = 0;
		b->size = size;
		if (arena && size != ARENA_BLOCK) {
			/* A block of its own goes behind the current one, which keeps
			 * its room for what comes next. */
			b->next = arena->next;
			arena->next = b;
			b->used = n;
			return b->data;
		}
		b->next = arena;
		arena = b;
	}
	void *p = arena->data + arena->used;
	arena->used += n;
	return p;
}

static void cjson_free(void *p)
{
	if (!arena_on)
		free(p);
}

void xalloc_install_cjson_hooks(void)
{
	cJSON_Hooks hooks = {.malloc_fn = cjson_malloc, .free_fn = cjson_free};
	cJSON_InitHooks(&hooks);
	hooks_installed = true;
}

/* Under AddressSanitizer or Valgrind cJSON keeps allocating block by block,
 * so that a write past one of its allocations is still caught. */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ALLOWED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ALLOWED 0
#endif
#endif
#ifndef ARENA_ALLOWED
#define ARENA_ALLOWED 1
#endif
#ifdef HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

bool xalloc_cjson_arena_begin(void)
{
	if (!hooks_installed || !ARENA_ALLOWED || RUNNING_ON_VALGRIND)
		return false;
	arena_on = true;
	return true;
}

/* Keeps one block (the last of the list, whatever its size), whose pages are
 * then already the process's. */
void xalloc_cjson_arena_rewind(void)
{
	while (arena && arena->next) {
		struct arena_block *b = arena;
		arena = b->next;
		munmap(b, sizeof *b + b->size);
	}
	if (arena)
		arena->used = 0;
}

void xalloc_cjson_arena_end(void)
{
	xalloc_cjson_arena_rewind();
	if (arena)
		munmap(arena, sizeof *arena + arena->size);
	arena = NULL;
	arena_on = false;
}
