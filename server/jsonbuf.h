/* Compact JSON text written straight into a growing buffer, for the answers
 * rendered on every request. A cJSON tree costs an allocation per value and is
 * then printed and freed; this costs one buffer. The text is byte for byte what
 * cJSON_PrintUnformatted() would print for the same values (tests/test_store.c
 * holds the two side by side), so either may render any object. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsonbuf {
	char *s;
	size_t len, cap;
};

/* Empty buffer with room for about hint bytes. */
void jsonbuf_init(struct jsonbuf *b, size_t hint);
/* Frees the buffer (for a render that is given up). */
void jsonbuf_cleanup(struct jsonbuf *b);
/* The NUL-terminated text (caller frees it with free()); *len its length when
 * len is not NULL. The buffer is empty afterwards. */
char *jsonbuf_finish(struct jsonbuf *b, size_t *len);

/* '{', '}', '[' or ']'. */
void jsonbuf_open(struct jsonbuf *b, char bracket);
void jsonbuf_close(struct jsonbuf *b, char bracket);
/* The separator before an array element (none before the first). */
void jsonbuf_element(struct jsonbuf *b);
/* "key": with its separator; key is a literal that needs no escaping. */
void jsonbuf_key(struct jsonbuf *b, const char *key);

/* Values. A NULL string is null. */
void jsonbuf_string(struct jsonbuf *b, const char *s);
void jsonbuf_bool(struct jsonbuf *b, bool v);
void jsonbuf_null(struct jsonbuf *b);
void jsonbuf_int(struct jsonbuf *b, int64_t v);
/* A number as cJSON prints it: with 15 significant digits when they give the
 * value back, else 17; NaN and infinities as null. */
void jsonbuf_number(struct jsonbuf *b, double v);
/* "key": for a key that may need escaping (a header's name), with its
 * separator; jsonbuf_key takes a literal that needs none. */
void jsonbuf_key_string(struct jsonbuf *b, const char *key);
/* Text that already is JSON, copied as it is. */
void jsonbuf_raw(struct jsonbuf *b, const char *s, size_t n);
