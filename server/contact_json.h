/* JSON encoding of the API's objects: contacts, channels and segments, keys in the
 * order of Invent's documented examples, date-times as "2024-05-01T09:30:00.000Z". */
#pragma once
#include <cjson/cJSON.h>
#include <stddef.h>

#include "model.h"

/* The contact as compact JSON text: a fresh heap string (free()), *len its length. */
char *contact_json_render(const struct contact *c, size_t *len);

/* The contact's "channels":[...],"segments":[...] members (no braces): the part
 * a PATCH never changes, for a caller to keep. A fresh heap string (free()),
 * *len its length. */
char *contact_json_render_lists(const struct contact *c, size_t *len);
/* contact_json_render, with lists (from contact_json_render_lists) in place of
 * c's own channels and segments, which may then be absent. */
char *contact_json_render_with_lists(const struct contact *c, const char *lists, size_t lists_len,
				     size_t *len);

/* A JSON array of the n contacts (or segments) as compact text: a fresh heap
 * string (free()), *len its length. */
char *contact_json_render_list(const struct contact *list, size_t n, size_t *len);
char *segment_json_render_list(const struct segment *list, size_t n, size_t *len);

/* The fields of c that a PATCH can change (name, the flags, updated_at, the *_at
 * fields, the unsubscribe reason and feedback), as compact JSON object text
 * (free()). */
char *contact_json_render_patchable(const struct contact *c);

/* Compact JSON text of v (free()), *len its length. v is borrowed. */
char *contact_json_print(const cJSON *v, size_t *len);
