/* The POST /orgs/{org_id}/contacts body: its validation, and the contact or
 * channel it makes (invent-api.md §5, "Create"). */
#pragma once
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "model.h"

struct ids;

struct contact_create {
	char *user_id, *name, *email, *phone; /* NULL when not given */
	char *contact_id;		      /* add the channel to this contact */
	char **segment_ids;		      /* without duplicates */
	size_t n_segment_ids;
};

/* Validates a parsed body (NULL: no body) into *out (free with
 * contact_create_cleanup). With lenient, unknown fields are ignored. Returns 0,
 * or -1 with err 400 naming the offending field. */
int contact_create_parse(const cJSON *body, bool lenient, struct contact_create *out,
			 struct error *err);
void contact_create_cleanup(struct contact_create *cc);

/* Fills *ch with the channel cc describes, created at now_ms, with a fresh id:
 * type "custom", user_id the one given, else the email, else the phone.
 * Clean up with channel_cleanup. */
void contact_create_channel(const struct contact_create *cc, struct ids *ids, int64_t now_ms,
			    struct channel *ch);

/* Fills *c with a new contact holding that channel, named after it, created at
 * now_ms, with a fresh id. Clean up with contact_cleanup. */
void contact_create_contact(const struct contact_create *cc, struct ids *ids, int64_t now_ms,
			    struct contact *c);
