/* Strict JSON parsing on top of cJSON. cJSON 1.7.15 truncates strings at \u0000,
 * passes invalid UTF-8 through and keeps the first of duplicate keys; the API
 * rejects all three, so every body and fixture is parsed through here. */
#pragma once
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "errors.h"

/* Deepest nesting of arrays and objects accepted (cJSON's own limit is 1000). */
enum { JSON_STRICT_MAX_DEPTH = 64 };

/* Parses buf[0..len) as exactly one JSON value that is valid UTF-8 (no overlong
 * forms, no encoded surrogates), holds no raw control character in a string, no
 * \u0000 escape, no lone surrogate escape, nests at most JSON_STRICT_MAX_DEPTH
 * and has no duplicate key in any object. buf[len] must be '\0' (the terminator
 * lets cJSON check for trailing text without a copy).
 * Returns 0 and *out (free with cJSON_Delete), or -1 with err->msg a phrase
 * meant to follow a subject ("is not valid JSON (at byte 7)"), status 400.
 * cJSON keeps its last parse error in a global, so call this from one thread
 * at a time (the HTTP thread, or before it starts). */
int json_strict_parse(const char *buf, size_t len, cJSON **out, struct error *err);

/* The checks of json_strict_parse, without building the tree: for a large
 * text read a piece at a time (json_walk_*), which then holds no error but
 * cJSON's own limits. When the failure is a duplicate key, also writes the
 * key's JSON path ("orgs[0].id") into dup_path (size bytes, cut to fit; may be
 * NULL); else dup_path is "". */
int json_strict_check_path(const char *buf, size_t len, char *dup_path, size_t size,
			   struct error *err);

/* One member of an object's text: its key as written between the quotes
 * (escapes left as they are) and its value's text. */
struct json_member {
	const char *key, *value;
	size_t key_len, value_len;
};

/* Splits buf[0..len), which must be exactly one object of strict syntax (UTF-8,
 * escapes and nesting checked as above; a key may come twice, and each comes
 * back in order), into its members without building a tree. Returns how many
 * (at most max), or -1 if buf is not such an object or has more than max. */
int json_object_members(const char *buf, size_t len, struct json_member *out, size_t max);

/* Reads the members of an object's text, or the elements of an array's, one
 * at a time, checking their syntax as json_object_members() does. */
struct json_walk {
	const char *buf;
	size_t len, i;
	bool object, started, done;
	/* Set after json_walk_begin() when buf passed json_strict_check_path()
	 * (and is NUL-terminated): values are then skipped, not checked again. */
	bool trusted;
};

/* Starts at buf[0..len), an object or array after optional whitespace (text
 * after its end is not looked at); false if it is neither. */
bool json_walk_begin(struct json_walk *w, const char *buf, size_t len);

/* 1 and *m the next member (an array's element: key NULL), 0 past the last
 * (w->i is then just past the closing bracket), -1 if the text is not valid. */
int json_walk_next(struct json_walk *w, struct json_member *m);

/* A key as json_walk_next() gives it (its text between the quotes, of text
 * that passed json_strict_check_path()), as cJSON would hold it: its escapes
 * decoded. Free() it. */
char *json_key_text(const char *key, size_t len);

/* Number of Unicode code points in the valid UTF-8 string s. */
size_t json_utf8_codepoints(const char *s);

/* Returns 1 if buf[0..len) is valid UTF-8 in the strict sense above, else 0,
 * with *bad_at (if not NULL) the offset of the first bad byte. */
int json_utf8_valid(const char *buf, size_t len, size_t *bad_at);

/* NULL if the string s is valid UTF-8; otherwise a fresh heap string (free())
 * holding s with every byte that is not part of a valid sequence replaced by
 * U+FFFD, so that text taken from a request can go into an answer. */
char *json_utf8_fix(const char *s);
