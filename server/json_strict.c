/* See json_strict.h. A single linear pre-scan catches what cJSON lets through;
 * cJSON then builds the tree, and a walk over it finds duplicate keys. */
#include "json_strict.h"

#include "xalloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c == 0xE0)
		len = 3, lo = 0xA0;
	else if (c == 0xED)
		len = 3, hi = 0x9F; /* U+D800..U+DFFF are surrogates, not characters */
	else if (c >= 0xE1 && c <= 0xEF)
		len = 3;
	else if (c == 0xF0)
		len = 4, lo = 0x90;
	else if (c >= 0xF1 && c <= 0xF3)
		len = 4;
	else if (c == 0xF4)
		len = 4, hi = 0x8F;
	else
		return 0; /* continuation byte, overlong lead C0/C1, or beyond U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

int json_utf8_valid(const char *buf, size_t len, size_t *bad_at)
{
	const unsigned char *s = (const unsigned char *)buf;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(s + i, len - i);
		if (!n) {
			if (bad_at)
				*bad_at = i;
			return 0;
		}
		i += n;
	}
	return 1;
}

size_t json_utf8_codepoints(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static int prescan(const char *buf, size_t len, struct error *err)
{
	const unsigned char *s = (const unsigned char *)buf;
	bool in_str = false;
	int depth = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		if (c >= 0x80) {
			size_t n = utf8_seq(s + i, len - i);
			if (!n)
				return error_set(err, 400, "is not valid UTF-8 (at byte %zu)", i);
			i += n;
			continue;
		}
		if (in_str) {
			if (c < 0x20)
				return error_set(err, 400, "is not valid JSON (at byte %zu)", i);
			if (c == '\\') {
				if (i + 5 < len && s[i + 1] == 'u' && !memcmp(s + i + 2, "0000", 4))
					return error_set(err, 400, "must not contain \\u0000 (at byte %zu)", i);
				i += 2; /* the escaped character is ASCII or the JSON is invalid */
				continue;
			}
			if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > JSON_STRICT_MAX_DEPTH)
				return error_set(err, 400, "nests deeper than %d levels (at byte %zu)",
						 JSON_STRICT_MAX_DEPTH, i);
		} else if (c == ']' || c == '}') {
			depth--;
		} else if (c == '\0') {
			return error_set(err, 400, "is not valid JSON (at byte %zu)", i);
		}
		i++;
	}
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

/* Sorting the keys keeps this O(n log n) for an object with many keys. */
static const char *find_duplicate(const cJSON *v)
{
	if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
		return NULL;
	size_t n = 0;
	for (const cJSON *c = v->child; c; c = c->next) {
		const char *d = find_duplicate(c);
		if (d)
			return d;
		n++;
	}
	if (!cJSON_IsObject(v) || n < 2)
		return NULL;
	cJSON **keys = xmalloc(n * sizeof *keys);
	size_t i = 0;
	for (cJSON *c = v->child; c; c = c->next)
		keys[i++] = c;
	qsort(keys, n, sizeof *keys, cmp_key);
	const char *dup = NULL;
	for (i = 1; i < n && !dup; i++)
		if (!strcmp(keys[i - 1]->string, keys[i]->string))
			dup = keys[i]->string;
	free(keys);
	return dup;
}

int json_strict_parse(const char *buf, size_t len, cJSON **out, struct error *err)
{
	if (prescan(buf, len, err))
		return -1;
	/* cJSON wants the NUL inside the length when it must check for trailing text. */
	const char *end = NULL;
	cJSON *v = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
	if (!v)
		return error_set(err, 400, "is not valid JSON (at byte %zu)",
				 end ? (size_t)(end - buf) : 0);
	const char *dup = find_duplicate(v);
	if (dup) {
		error_set(err, 400, "has a duplicate key \"%.200s\"", dup);
		cJSON_Delete(v);
		return -1;
	}
	*out = v;
	return 0;
}
