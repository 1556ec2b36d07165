/* Percent-decoding of the parts of a URL: path segments and query strings. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* Decodes s[0..n) into a fresh heap string (free()).
 * Path segment (query false): a malformed escape, or one that decodes to NUL
 * (no id can hold one), makes the whole segment invalid: returns NULL; '+' stays.
 * Query component (query true): '+' is a space, and a malformed escape or %00
 * is kept as it is, as browsers and Express do; never NULL. */
char *urlcode_decode(const char *s, size_t n, bool query);
