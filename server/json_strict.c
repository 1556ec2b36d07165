/* See json_strict.h. A strict syntax check runs first and finds every error at
 * its byte; cJSON then only builds the tree, and a walk over it finds
 * duplicate keys. */
#include "json_strict.h"

#include "xalloc.h"

#include <stdbool.h>
#include <stdio.h>
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

char *json_utf8_fix(const char *s)
{
	size_t len = strlen(s), bad;
	if (json_utf8_valid(s, len, &bad))
		return NULL;
	/* U+FFFD is 3 bytes: at most three times the length. */
	char *out = xmalloc(3 * len + 1), *o = out;
	memcpy(o, s, bad);
	o += bad;
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = bad; i < len;) {
		size_t n = utf8_seq(u + i, len - i);
		if (n) {
			memcpy(o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	*o = '\0';
	return out;
}

size_t json_utf8_codepoints(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* A recursive-descent check of RFC 8259 syntax, so that every error names the
 * byte where the text stops being JSON. cJSON alone is laxer: it skips any byte
 * up to 0x20 as whitespace, reads numbers with strtod ("01", "1."), and reports
 * some errors a byte late. */
struct scan {
	const unsigned char *s;
	size_t len, i;
	struct error *err;
};

static int bad(struct scan *sc)
{
	return error_set(sc->err, 400, "is not valid JSON (at byte %zu)", sc->i);
}

static void skip_ws(struct scan *sc)
{
	while (sc->i < sc->len && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t' ||
				   sc->s[sc->i] == '\n' || sc->s[sc->i] == '\r'))
		sc->i++;
}

static int hex4(struct scan *sc, size_t at, unsigned *out)
{
	unsigned v = 0;
	for (size_t k = 0; k < 4; k++) {
		if (at + k >= sc->len)
			return -1;
		unsigned char c = sc->s[at + k];
		int d = c >= '0' && c <= '9' ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			return -1;
		v = v * 16 + (unsigned)d;
	}
	*out = v;
	return 0;
}

static int scan_string(struct scan *sc)
{
	sc->i++; /* the opening quote */
	while (sc->i < sc->len) {
		unsigned char c = sc->s[sc->i];
		if (c == '"') {
			sc->i++;
			return 0;
		}
		if (c >= 0x80) {
			size_t n = utf8_seq(sc->s + sc->i, sc->len - sc->i);
			if (!n)
				return error_set(sc->err, 400, "is not valid UTF-8 (at byte %zu)", sc->i);
			sc->i += n;
			continue;
		}
		if (c < 0x20)
			return bad(sc);
		if (c != '\\') {
			sc->i++;
			continue;
		}
		/* A bad escape is reported at its backslash. */
		if (sc->i + 1 >= sc->len)
			return bad(sc);
		unsigned char e = sc->s[sc->i + 1];
		if (e != 'u') {
			if (!strchr("\"\\/bfnrt", e))
				return bad(sc);
			sc->i += 2;
			continue;
		}
		unsigned u, lo;
		if (hex4(sc, sc->i + 2, &u))
			return bad(sc);
		if (u == 0)
			return error_set(sc->err, 400, "must not contain \\u0000 (at byte %zu)", sc->i);
		if (u >= 0xDC00 && u <= 0xDFFF)
			return bad(sc); /* a low surrogate with no high one before it */
		if (u >= 0xD800 && u <= 0xDBFF) {
			/* A high surrogate must be followed by its low half. */
			if (sc->i + 7 >= sc->len || sc->s[sc->i + 6] != '\\' || sc->s[sc->i + 7] != 'u' ||
			    hex4(sc, sc->i + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF)
				return bad(sc);
			sc->i += 6;
		}
		sc->i += 6;
	}
	return bad(sc);
}

static bool digit(struct scan *sc)
{
	return sc->i < sc->len && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9';
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(struct scan *sc)
{
	if (sc->s[sc->i] == '-')
		sc->i++;
	if (!digit(sc))
		return bad(sc);
	if (sc->s[sc->i++] != '0')
		while (digit(sc))
			sc->i++;
	if (sc->i < sc->len && sc->s[sc->i] == '.') {
		sc->i++;
		if (!digit(sc))
			return bad(sc);
		while (digit(sc))
			sc->i++;
	}
	if (sc->i < sc->len && (sc->s[sc->i] == 'e' || sc->s[sc->i] == 'E')) {
		sc->i++;
		if (sc->i < sc->len && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-'))
			sc->i++;
		if (!digit(sc))
			return bad(sc);
		while (digit(sc))
			sc->i++;
	}
	return 0;
}

/* A misspelt true, false or null is reported at its first byte. */
static int scan_literal(struct scan *sc, const char *word)
{
	size_t n = strlen(word);
	if (sc->len - sc->i < n || memcmp(sc->s + sc->i, word, n))
		return bad(sc);
	sc->i += n;
	return 0;
}

static int scan_value(struct scan *sc, int depth);

/* An object or array, from its opening bracket. */
static int scan_container(struct scan *sc, int depth)
{
	bool object = sc->s[sc->i] == '{';
	char close = object ? '}' : ']';
	if (depth >= JSON_STRICT_MAX_DEPTH)
		return error_set(sc->err, 400, "nests deeper than %d levels (at byte %zu)",
				 JSON_STRICT_MAX_DEPTH, sc->i);
	sc->i++;
	skip_ws(sc);
	if (sc->i < sc->len && sc->s[sc->i] == close) {
		sc->i++;
		return 0;
	}
	for (;;) {
		if (object) {
			if (sc->i >= sc->len || sc->s[sc->i] != '"')
				return bad(sc);
			if (scan_string(sc))
				return -1;
			skip_ws(sc);
			if (sc->i >= sc->len || sc->s[sc->i] != ':')
				return bad(sc);
			sc->i++;
			skip_ws(sc);
		}
		if (scan_value(sc, depth + 1))
			return -1;
		skip_ws(sc);
		if (sc->i < sc->len && sc->s[sc->i] == close) {
			sc->i++;
			return 0;
		}
		if (sc->i >= sc->len || sc->s[sc->i] != ',')
			return bad(sc);
		sc->i++;
		skip_ws(sc);
	}
}

static int scan_value(struct scan *sc, int depth)
{
	if (sc->i >= sc->len)
		return bad(sc);
	switch (sc->s[sc->i]) {
	case '{':
	case '[':
		return scan_container(sc, depth);
	case '"':
		return scan_string(sc);
	case 't':
		return scan_literal(sc, "true");
	case 'f':
		return scan_literal(sc, "false");
	case 'n':
		return scan_literal(sc, "null");
	default:
		if (sc->s[sc->i] == '-' || (sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9'))
			return scan_number(sc);
		if (sc->s[sc->i] >= 0x80 && !utf8_seq(sc->s + sc->i, sc->len - sc->i))
			return error_set(sc->err, 400, "is not valid UTF-8 (at byte %zu)", sc->i);
		return bad(sc);
	}
}

/* The whole text: one value between optional whitespace. */
static int prescan(const char *buf, size_t len, struct error *err)
{
	struct scan sc = {(const unsigned char *)buf, len, 0, err};
	skip_ws(&sc);
	if (scan_value(&sc, 0))
		return -1;
	skip_ws(&sc);
	return sc.i == len ? 0 : bad(&sc);
}

int json_object_members(const char *buf, size_t len, struct json_member *out, size_t max)
{
	struct error err;
	struct scan sc = {(const unsigned char *)buf, len, 0, &err};
	size_t n = 0;
	skip_ws(&sc);
	if (sc.i >= len || buf[sc.i] != '{')
		return -1;
	sc.i++;
	skip_ws(&sc);
	if (sc.i < len && buf[sc.i] == '}') {
		sc.i++;
	} else {
		for (;;) {
			if (n == max || sc.i >= len || buf[sc.i] != '"')
				return -1;
			size_t key = sc.i + 1;
			if (scan_string(&sc))
				return -1;
			out[n].key = buf + key;
			out[n].key_len = sc.i - 1 - key;
			skip_ws(&sc);
			if (sc.i >= len || buf[sc.i] != ':')
				return -1;
			sc.i++;
			skip_ws(&sc);
			size_t value = sc.i;
			if (scan_value(&sc, 1))
				return -1;
			out[n].value = buf + value;
			out[n++].value_len = sc.i - value;
			skip_ws(&sc);
			if (sc.i < len && buf[sc.i] == '}') {
				sc.i++;
				break;
			}
			if (sc.i >= len || buf[sc.i] != ',')
				return -1;
			sc.i++;
			skip_ws(&sc);
		}
	}
	skip_ws(&sc);
	return sc.i == len ? (int)n : -1;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

/* Appends ".key" (or "key" at the start) or "[i]" to path[0..at), cut to fit
 * size; returns the new length. */
static size_t path_push(char *path, size_t size, size_t at, const cJSON *parent,
			const cJSON *c, size_t i)
{
	if (!path || at >= size)
		return at;
	int n = cJSON_IsArray(parent) ? snprintf(path + at, size - at, "[%zu]", i)
				      : snprintf(path + at, size - at, "%s%.100s", at ? "." : "",
						 c->string);
	return n < 0 ? at : at + (size_t)n < size ? at + (size_t)n : size - 1;
}

/* Sorting the keys keeps this O(n log n) for an object with many keys. With
 * path (size bytes, may be NULL), the JSON path of the duplicate key goes
 * there, written from path[at] on. */
static const char *find_duplicate(const cJSON *v, char *path, size_t size, size_t at)
{
	if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
		return NULL;
	size_t n = 0;
	for (const cJSON *c = v->child; c; c = c->next) {
		const char *d = find_duplicate(c, path, size, path_push(path, size, at, v, c, n));
		if (d)
			return d;
		n++;
	}
	if (!cJSON_IsObject(v) || n < 2)
		return NULL;
	/* Most objects are small: their keys sort on the stack. */
	cJSON *few[32];
	cJSON **keys = n <= sizeof few / sizeof few[0] ? few : xmalloc(n * sizeof *keys);
	size_t i = 0;
	for (cJSON *c = v->child; c; c = c->next)
		keys[i++] = c;
	qsort(keys, n, sizeof *keys, cmp_key);
	const char *dup = NULL;
	for (i = 1; i < n && !dup; i++)
		if (!strcmp(keys[i - 1]->string, keys[i]->string))
			dup = keys[i]->string;
	if (dup)
		path_push(path, size, at, v, keys[i - 1], 0);
	if (keys != few)
		free(keys);
	return dup;
}

int json_strict_parse(const char *buf, size_t len, cJSON **out, struct error *err)
{
	return json_strict_parse_path(buf, len, out, NULL, 0, err);
}

int json_strict_parse_path(const char *buf, size_t len, cJSON **out, char *dup_path,
			   size_t size, struct error *err)
{
	if (dup_path && size)
		dup_path[0] = '\0';
	if (prescan(buf, len, err))
		return -1;
	/* cJSON wants the NUL inside the length when it must check for trailing text.
	 * The text is valid JSON by now, so a failure here is cJSON's own limit. */
	const char *end = NULL;
	cJSON *v = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
	if (!v)
		return error_set(err, 400, "is not valid JSON (at byte %zu)",
				 end ? (size_t)(end - buf) : 0);
	/* The path is written only on a second walk, once a duplicate is known:
	 * writing it at every value was most of the time a large fixture took. */
	const char *dup = find_duplicate(v, NULL, 0, 0);
	if (dup && size)
		dup = find_duplicate(v, dup_path, size, 0);
	if (dup) {
		error_set(err, 400, "has a duplicate key \"%.200s\"", dup);
		cJSON_Delete(v);
		return -1;
	}
	*out = v;
	return 0;
}
