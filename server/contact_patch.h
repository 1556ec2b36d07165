/* The PATCH body: its validation and its semantics, the rules of the contract's
 * section 1 in one place (invent-api.md marks most of them [decided]). */
#pragma once
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "model.h"

struct contact_patch {
	bool has_name;
	char *name; /* NULL clears the name */
	bool has_blocked, blocked;
	bool has_unsubscribed, unsubscribed;
};

/* Validates a parsed body (NULL means no body, the same as {}) and fills *out.
 * With lenient, fields outside the body schema are ignored instead of refused.
 * Returns 0, or -1 with err status 400 and a message naming the first offending
 * field in body order ("blocked must be a boolean", "property id should not
 * exist"); *out is then left empty. Free with contact_patch_cleanup(). */
int contact_patch_parse(const cJSON *body, bool lenient, struct contact_patch *out,
			struct error *err);
void contact_patch_cleanup(struct contact_patch *p);

/* Applies p to c as of now_ms. Returns true if c changed; then every timestamp it
 * writes (updated_at, and blocked_at / unsubscribed_at when a flag turns on) is
 * the same instant, max(now_ms, c->updated_at), so updated_at never goes back. */
bool contact_patch_apply(struct contact *c, const struct contact_patch *p, int64_t now_ms);
