/* See json_strict.h. A strict syntax check runs first and finds every error at
 * its byte, and duplicate keys as it goes; cJSON then only builds the tree. */
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

/* A key of an object still open: its text between the quotes. */
struct key_span {
	size_t at, len;
	bool escaped; /* its text has a backslash, so it must be decoded to compare */
};

/* An array or object still open, at its depth. */
struct level {
	bool object;
	size_t keys_base; /* its keys are keys[keys_base..] up to the next level's */
	size_t index;	  /* of an array, the element being read */
};

/* A recursive-descent check of RFC 8259 syntax, so that every error names the
 * byte where the text stops being JSON. cJSON alone is laxer: it skips any byte
 * up to 0x20 as whitespace, reads numbers with strtod ("01", "1."), and reports
 * some errors a byte late. */
struct scan {
	const unsigned char *s;
	size_t len, i;
	struct error *err;
	bool escaped; /* the string just read had an escape */
	/* Duplicate keys (with dups set): every open object's keys, innermost
	 * last, compared when the object closes. The first found is kept until
	 * the whole text has passed, since a syntax error anywhere comes first. */
	bool dups;
	struct key_span *keys;
	size_t n_keys, cap_keys;
	struct level levels[JSON_STRICT_MAX_DEPTH + 1];
	char *dup_key;	 /* decoded; xmalloc */
	char *dup_path;	 /* may be NULL */
	size_t dup_size; /* of dup_path */
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

/* A byte a string may hold as it is: no quote, backslash, control or
 * non-ASCII byte (those each need a look of their own). */
static inline bool plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

static int scan_string(struct scan *sc)
{
	sc->escaped = false;
	sc->i++; /* the opening quote */
	while (sc->i < sc->len) {
		/* Most of a large document is plain text inside strings: read with
		 * locals, which the compiler keeps in registers (a write through sc
		 * could alias the text, being bytes). */
		const unsigned char *t = sc->s;
		size_t i = sc->i, end = sc->len;
		while (i < end && plain(t[i]))
			i++;
		sc->i = i;
		if (i >= end)
			break;
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
		sc->escaped = true;
		/* A bad escape is reported at its backslash. */
		if (sc->i + 1 >= sc->len)
			return bad(sc);
		unsigned char e = sc->s[sc->i + 1];
		if (e != 'u') {
			/* (strchr would find the terminator: a NUL is no escape.) */
			if (!e || !strchr("\"\\/bfnrt", e))
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

static void check_duplicates(struct scan *sc, int depth);

/* An object or array, from its opening bracket. */
static int scan_container(struct scan *sc, int depth)
{
	bool object = sc->s[sc->i] == '{';
	char close = object ? '}' : ']';
	if (depth >= JSON_STRICT_MAX_DEPTH)
		return error_set(sc->err, 400, "nests deeper than %d levels (at byte %zu)",
				 JSON_STRICT_MAX_DEPTH, sc->i);
	struct level *lv = &sc->levels[depth];
	*lv = (struct level){.object = object, .keys_base = sc->n_keys};
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
			size_t key = sc->i + 1;
			if (scan_string(sc))
				return -1;
			if (sc->dups) {
				if (sc->n_keys == sc->cap_keys) {
					sc->cap_keys = sc->cap_keys ? 2 * sc->cap_keys : 64;
					sc->keys = xrealloc(sc->keys, sc->cap_keys * sizeof *sc->keys);
				}
				sc->keys[sc->n_keys++] =
					(struct key_span){key, sc->i - 1 - key, sc->escaped};
			}
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
			if (object && sc->dups) {
				if (!sc->dup_key)
					check_duplicates(sc, depth);
				sc->n_keys = lv->keys_base;
			}
			return 0;
		}
		if (sc->i >= sc->len || sc->s[sc->i] != ',')
			return bad(sc);
		sc->i++;
		lv->index++;
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
static int scan_text(struct scan *sc)
{
	skip_ws(sc);
	if (scan_value(sc, 0))
		return -1;
	skip_ws(sc);
	return sc->i == sc->len ? 0 : bad(sc);
}

/* The end of the string at t[i] (its opening quote), in text known valid. */
static size_t skip_string(const unsigned char *t, size_t i)
{
	i++;
	for (;;) {
		while (t[i] != '"' && t[i] != '\\')
			i++;
		if (t[i] == '"')
			return i + 1;
		i += 2; /* the backslash and the byte after it (of \uXXXX, the rest is plain) */
	}
}

/* The end of the value at t[i], in text known valid. */
static size_t skip_value(const unsigned char *t, size_t i)
{
	if (t[i] == '"')
		return skip_string(t, i);
	if (t[i] != '{' && t[i] != '[') {
		while (t[i] != ',' && t[i] != ']' && t[i] != '}' && t[i] != ' ' && t[i] != '\n' &&
		       t[i] != '\r' && t[i] != '\t' && t[i] != '\0')
			i++;
		return i;
	}
	for (size_t depth = 0;;) {
		unsigned char c = t[i];
		if (c == '"') {
			i = skip_string(t, i);
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return i + 1;
		i++;
	}
}

bool json_walk_begin(struct json_walk *w, const char *buf, size_t len)
{
	struct scan sc = {.s = (const unsigned char *)buf, .len = len};
	skip_ws(&sc);
	if (sc.i >= len || (buf[sc.i] != '{' && buf[sc.i] != '['))
		return false;
	*w = (struct json_walk){.buf = buf, .len = len, .i = sc.i + 1, .object = buf[sc.i] == '{'};
	return true;
}

int json_walk_next(struct json_walk *w, struct json_member *m)
{
	struct error err;
	struct scan sc = {.s = (const unsigned char *)w->buf, .len = w->len, .i = w->i, .err = &err};
	char close = w->object ? '}' : ']';
	if (w->done)
		return 0;
	skip_ws(&sc);
	if (w->started) {
		if (sc.i < sc.len && w->buf[sc.i] == close)
			goto end;
		if (sc.i >= sc.len || w->buf[sc.i] != ',')
			return -1;
		sc.i++;
		skip_ws(&sc);
	} else if (sc.i < sc.len && w->buf[sc.i] == close) {
		goto end;
	}
	*m = (struct json_member){0};
	if (w->object) {
		if (sc.i >= sc.len || w->buf[sc.i] != '"')
			return -1;
		size_t key = sc.i + 1;
		if (w->trusted)
			sc.i = skip_string(sc.s, sc.i);
		else if (scan_string(&sc))
			return -1;
		m->key = w->buf + key;
		m->key_len = sc.i - 1 - key;
		skip_ws(&sc);
		if (sc.i >= sc.len || w->buf[sc.i] != ':')
			return -1;
		sc.i++;
		skip_ws(&sc);
	}
	size_t value = sc.i;
	if (w->trusted)
		sc.i = skip_value(sc.s, sc.i);
	else if (scan_value(&sc, 1))
		return -1;
	m->value = w->buf + value;
	m->value_len = sc.i - value;
	w->i = sc.i;
	w->started = true;
	return 1;
end:
	w->i = sc.i + 1;
	w->done = true;
	return 0;
}

int json_object_members(const char *buf, size_t len, struct json_member *out, size_t max)
{
	struct json_walk w;
	struct json_member m;
	size_t n = 0;
	int rc;
	if (!json_walk_begin(&w, buf, len) || !w.object)
		return -1;
	while ((rc = json_walk_next(&w, &m)) > 0) {
		if (n == max)
			return -1;
		out[n++] = m;
	}
	if (rc < 0)
		return -1;
	struct scan sc = {.s = (const unsigned char *)buf, .len = len, .i = w.i};
	skip_ws(&sc);
	return sc.i == len ? (int)n : -1;
}

char *json_key_text(const char *key, size_t len)
{
	if (!memchr(key, '\\', len))
		return xstrndup(key, len);
	/* Checked already; cJSON decodes it, with the quotes around it. Should
	 * the two ever disagree on a key, it is compared as written rather than
	 * stop the server over a document. */
	cJSON *v = cJSON_ParseWithLength(key - 1, len + 2);
	char *t = cJSON_IsString(v) ? xstrdup(v->valuestring) : xstrndup(key, len);
	cJSON_Delete(v);
	return t;
}

static char *key_text(const struct scan *sc, const struct key_span *k)
{
	return json_key_text((const char *)sc->s + k->at, k->len);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends ".key" (or "key" at the start) or "[i]" to path[0..at), cut to fit
 * size; returns the new length. */
static size_t path_push(char *path, size_t size, size_t at, bool array, const char *key,
			size_t i)
{
	if (at >= size)
		return at;
	int n = array ? snprintf(path + at, size - at, "[%zu]", i)
		      : snprintf(path + at, size - at, "%s%.100s", at ? "." : "", key);
	return n < 0 ? at : at + (size_t)n < size ? at + (size_t)n : size - 1;
}

/* The object at depth has just closed; its keys are keys[base..n_keys). Of
 * keys that come twice, the first in byte order is reported (keys sorted,
 * the first pair alike), with the path of the object. */
static void check_duplicates(struct scan *sc, int depth)
{
	const struct key_span *k = sc->keys + sc->levels[depth].keys_base;
	size_t n = sc->n_keys - sc->levels[depth].keys_base;
	bool escaped = false, maybe = n > 16;
	for (size_t i = 0; i < n; i++)
		escaped |= k[i].escaped;
	/* Most objects have a few keys, none escaped: their text is their value. */
	for (size_t i = 0; i < n && !escaped && !maybe; i++)
		for (size_t j = i + 1; j < n && !maybe; j++)
			maybe = k[i].len == k[j].len &&
				!memcmp(sc->s + k[i].at, sc->s + k[j].at, k[i].len);
	if (!escaped && !maybe)
		return;
	char **keys = xmalloc(n * sizeof *keys);
	for (size_t i = 0; i < n; i++)
		keys[i] = key_text(sc, &k[i]);
	qsort(keys, n, sizeof *keys, cmp_str);
	for (size_t i = 1; i < n && !sc->dup_key; i++)
		if (!strcmp(keys[i - 1], keys[i]))
			sc->dup_key = xstrdup(keys[i]);
	if (sc->dup_key && sc->dup_path && sc->dup_size) {
		size_t at = 0;
		for (int d = 0; d < depth; d++) {
			const struct level *lv = &sc->levels[d];
			char *key = lv->object ? key_text(sc, &sc->keys[sc->levels[d + 1].keys_base - 1])
					       : NULL;
			at = path_push(sc->dup_path, sc->dup_size, at, !lv->object, key, lv->index);
			free(key);
		}
		path_push(sc->dup_path, sc->dup_size, at, false, sc->dup_key, 0);
	}
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}

int json_strict_check_path(const char *buf, size_t len, char *dup_path, size_t size,
			   struct error *err)
{
	if (dup_path && size)
		dup_path[0] = '\0';
	struct scan sc = {.s = (const unsigned char *)buf, .len = len, .err = err, .dups = true,
			  .dup_path = dup_path, .dup_size = size};
	int rc = scan_text(&sc);
	if (!rc && sc.dup_key)
		rc = error_set(err, 400, "has a duplicate key \"%.200s\"", sc.dup_key);
	else if (rc && dup_path && size)
		dup_path[0] = '\0';
	free(sc.keys);
	free(sc.dup_key);
	return rc;
}

int json_strict_parse(const char *buf, size_t len, cJSON **out, struct error *err)
{
	if (json_strict_check_path(buf, len, NULL, 0, err))
		return -1;
	/* cJSON wants the NUL inside the length when it must check for trailing text.
	 * The text is valid JSON by now, so a failure here is cJSON's own limit. */
	const char *end = NULL;
	cJSON *v = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
	if (!v)
		return error_set(err, 400, "is not valid JSON (at byte %zu)",
				 end ? (size_t)(end - buf) : 0);
	*out = v;
	return 0;
}
