/* See jsonbuf.h. */
#include "jsonbuf.h"

#include "xalloc.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jsonbuf_init(struct jsonbuf *b, size_t hint)
{
	b->cap = hint > 16 ? hint : 16;
	b->s = xmalloc(b->cap);
	b->len = 0;
}

void jsonbuf_cleanup(struct jsonbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

/* Room for n more bytes and the final NUL. */
static char *reserve(struct jsonbuf *b, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap *= 2;
		b->s = xrealloc(b->s, b->cap);
	}
	return b->s + b->len;
}

char *jsonbuf_finish(struct jsonbuf *b, size_t *len)
{
	reserve(b, 0);
	b->s[b->len] = '\0';
	if (len)
		*len = b->len;
	char *s = b->s;
	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

void jsonbuf_raw(struct jsonbuf *b, const char *s, size_t n)
{
	memcpy(reserve(b, n), s, n);
	b->len += n;
}

static void put(struct jsonbuf *b, char c)
{
	*reserve(b, 1) = c;
	b->len++;
}

void jsonbuf_open(struct jsonbuf *b, char bracket)
{
	put(b, bracket);
}

void jsonbuf_close(struct jsonbuf *b, char bracket)
{
	put(b, bracket);
}

void jsonbuf_element(struct jsonbuf *b)
{
	if (b->len && b->s[b->len - 1] != '[')
		put(b, ',');
}

void jsonbuf_key(struct jsonbuf *b, const char *key)
{
	size_t n = strlen(key);
	char *o = reserve(b, n + 4);
	if (b->len && b->s[b->len - 1] != '{')
		*o++ = ',';
	*o++ = '"';
	memcpy(o, key, n);
	o += n;
	*o++ = '"';
	*o++ = ':';
	b->len = (size_t)(o - b->s);
}

void jsonbuf_null(struct jsonbuf *b)
{
	jsonbuf_raw(b, "null", 4);
}

void jsonbuf_bool(struct jsonbuf *b, bool v)
{
	if (v)
		jsonbuf_raw(b, "true", 4);
	else
		jsonbuf_raw(b, "false", 5);
}

void jsonbuf_int(struct jsonbuf *b, int64_t v)
{
	char num[24], *p = num + sizeof num;
	uint64_t n = v < 0 ? -(uint64_t)v : (uint64_t)v;
	do
		*--p = (char)('0' + n % 10);
	while (n /= 10);
	if (v < 0)
		*--p = '-';
	jsonbuf_raw(b, p, (size_t)(num + sizeof num - p));
}

/* cJSON's escapes: the quote, the backslash, and the control characters
 * (short forms where JSON has one, else \u00xx in lower case); everything else,
 * UTF-8 included, goes in as it is. */
void jsonbuf_string(struct jsonbuf *b, const char *s)
{
	if (!s) {
		jsonbuf_null(b);
		return;
	}
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s);
	/* Enough for the worst case, every byte \u00xx, so one reserve. */
	char *o = reserve(b, 6 * n + 2);
	*o++ = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		if (c >= 32 && c != '"' && c != '\\') {
			*o++ = (char)c;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"':
		case '\\':
			*o++ = (char)c;
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o++ = '"';
	b->len = (size_t)(o - b->s);
}

void jsonbuf_key_string(struct jsonbuf *b, const char *key)
{
	if (b->len && b->s[b->len - 1] != '{')
		put(b, ',');
	jsonbuf_string(b, key);
	put(b, ':');
}

/* cJSON 1.7.15's print_number(), step for step (Debian's build prints every
 * number this way, integers too). */
void jsonbuf_number(struct jsonbuf *b, double v)
{
	char num[32];
	if (isnan(v) || isinf(v)) {
		jsonbuf_null(b);
		return;
	}
	int n = snprintf(num, sizeof num, "%1.15g", v);
	double back = strtod(num, NULL);
	double max = fabs(back) > fabs(v) ? fabs(back) : fabs(v);
	if (!(fabs(back - v) <= max * DBL_EPSILON))
		n = snprintf(num, sizeof num, "%1.17g", v);
	jsonbuf_raw(b, num, (size_t)n);
}
