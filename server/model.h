/* The API's objects as plain C values, shared by the store, the fixture loader
 * and the JSON encoder. Strings are heap copies owned by the struct. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Timestamps are milliseconds since the Unix epoch, UTC; MODEL_NO_TIME is null. */
#define MODEL_NO_TIME INT64_MIN

enum {
	MODEL_NAME_MAX = 512,	       /* contact name, in code points [doc] */
	MODEL_SEGMENT_NAME_MAX = 128,  /* segment name, in code points [doc] */
	MODEL_ID_MAX = 256,	       /* bytes; fixture ids and path ids beyond it match nothing */
};

struct channel {
	char *id;
	char *type;	     /* one of model_channel_types */
	char *user_id;	     /* never NULL */
	char *avatar, *name, *username, *email, *phone, *country, *agent, *ip, *language;
	char *platform_data; /* compact JSON text of an object, never NULL */
	int64_t created_at, updated_at;
	char *link;
};

struct segment {
	char *id;
	char *name;
	char *color;		/* one of model_segment_colors */
	int64_t contacts_count; /* members; computed by the store */
	int64_t created_at, updated_at;
};

struct contact {
	int64_t store_pk; /* the store's row id; 0 when not read from the store */
	char *id;
	char *name; /* may be NULL */
	bool blocked, unsubscribed, is_admin;
	bool ai_replies_disabled; /* fixture-only flag, never rendered */
	int64_t created_at, updated_at;
	int64_t blocked_at, unsubscribed_at; /* MODEL_NO_TIME when the flag is false */
	char *unsubscribe_reason, *unsubscribe_feedback;
	struct channel *channels;
	size_t n_channels;
	/* Full segment objects when read from the store; in a fixture only .id is set. */
	struct segment *segments;
	size_t n_segments;
};

/* NULL-terminated lists of the documented enum values. */
extern const char *const model_channel_types[];
extern const char *const model_segment_colors[];

/* Returns true if s is one of the NULL-terminated list. */
bool model_in_list(const char *const *list, const char *s);

/* Free what the struct owns (not the struct itself) and zero it. NULL is fine. */
void channel_cleanup(struct channel *ch);
void segment_cleanup(struct segment *s);
void contact_cleanup(struct contact *c);
/* Frees c's channels and segments only, leaving it with none. */
void contact_lists_cleanup(struct contact *c);
