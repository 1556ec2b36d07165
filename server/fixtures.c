/* Fixture loader: parses a fixture file strictly, checks every rule of the
 * README's "Fixture format", applies the defaults and orders parents first. */
#include "fixtures.h"

#include "clock.h"
#include "embedded.h"
#include "json_strict.h"
#include "xalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest JSON path a message shows, e.g. "orgs[0].contacts[3].channels[0].type". */
enum { PATH_SIZE = 160 };

/* get_string flags. */
enum {
	FIELD_REQUIRED = 1, /* absent is an error, not a default */
	FIELD_NULLABLE = 2, /* null is a value (NULL), not a type error */
};

static uint64_t fnv1a64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* A set of borrowed strings (open addressing, linear probing). The uniqueness
 * rules use it because pairwise comparison would make a fixture of many
 * thousand contacts quadratic. */
struct strset {
	const char **slots;
	size_t cap, n;
};

static size_t strset_slot(const struct strset *set, const char *s)
{
	size_t i = (size_t)fnv1a64(s, strlen(s)) & (set->cap - 1);
	while (set->slots[i] && strcmp(set->slots[i], s))
		i = (i + 1) & (set->cap - 1);
	return i;
}

static bool strset_has(const struct strset *set, const char *s)
{
	return set->cap && set->slots[strset_slot(set, s)];
}

/* Adds s, which must outlive the set; returns false if s was already there. */
static bool strset_add(struct strset *set, const char *s)
{
	if (2 * (set->n + 1) > set->cap) {
		struct strset bigger = {xcalloc(set->cap ? 2 * set->cap : 16, sizeof(char *)),
					set->cap ? 2 * set->cap : 16, set->n};
		for (size_t i = 0; i < set->cap; i++)
			if (set->slots[i])
				bigger.slots[strset_slot(&bigger, set->slots[i])] = set->slots[i];
		free(set->slots);
		*set = bigger;
	}
	size_t i = strset_slot(set, s);
	if (set->slots[i])
		return false;
	set->slots[i] = s;
	set->n++;
	return true;
}

static void strset_cleanup(struct strset *set)
{
	free(set->slots);
	memset(set, 0, sizeof *set);
}

struct loader {
	const char *prefix; /* "<source>: " for a file, "" for a document sent whole */
	const char *text;   /* the whole document, for byte offsets in messages */
	int64_t now_ms;
	struct error *err;
	struct strset org_ids, api_keys; /* unique across the whole file */
};

/* The ids that must be unique within one org. */
struct org_scope {
	const char *org_id;
	struct strset segment_ids, contact_ids, channel_ids;
};

static int fail(struct loader *ld, const char *path, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Sets "<source>: <path>[.<key>]: <what>" and returns -1. */
static int fail(struct loader *ld, const char *path, const char *key, const char *fmt, ...)
{
	char what[ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	error_set(ld->err, 0, "%s%s%s%.100s: %s", ld->prefix, path, key && *path ? "." : "",
		  key ? key : "", what);
	return -1;
}

/* Writes "<path>.<key>[<i>]" into out. Paths are fixed field names and indexes,
 * far shorter than PATH_SIZE; should one not fit, its message shows "...". */
static void path_index(char out[PATH_SIZE], const char *path, const char *key, size_t i)
{
	int n = snprintf(out, PATH_SIZE, "%s%s%s[%zu]", path, *path ? "." : "", key, i);
	if (n < 0 || n >= PATH_SIZE)
		memcpy(out + PATH_SIZE - 4, "...", 4);
}

static void *alloc_array(size_t n, size_t size)
{
	return n ? xcalloc(n, size) : NULL;
}

static const cJSON *field(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* Fails on the first key of obj, in file order, that is not in known. */
static int check_keys(struct loader *ld, const cJSON *obj, const char *path,
		      const char *const *known)
{
	for (const cJSON *c = obj->child; c; c = c->next)
		if (!model_in_list(known, c->string))
			return fail(ld, path, c->string, "unknown field");
	return 0;
}

/* Reads obj.key into a fresh copy at *out; an absent optional field or a null
 * nullable one leaves *out NULL for the caller's default. */
static int get_string(struct loader *ld, const cJSON *obj, const char *path, const char *key,
		      int flags, char **out)
{
	const cJSON *v = field(obj, key);
	if (!v) {
		if (flags & FIELD_REQUIRED)
			return fail(ld, path, key, "is required");
		return 0;
	}
	if (cJSON_IsString(v)) {
		*out = xstrdup(v->valuestring);
		return 0;
	}
	if (cJSON_IsNull(v) && (flags & FIELD_NULLABLE))
		return 0;
	return fail(ld, path, key, (flags & FIELD_NULLABLE) ? "must be a string or null"
							    : "must be a string");
}

static bool id_is_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > MODEL_ID_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* A required id: what every other table keys on, so it is kept printable. */
static int get_id(struct loader *ld, const cJSON *obj, const char *path, char **out)
{
	if (get_string(ld, obj, path, "id", FIELD_REQUIRED, out))
		return -1;
	if (!id_is_valid(*out))
		return fail(ld, path, "id",
			    "must be a non-empty id without control characters, at most %d bytes",
			    MODEL_ID_MAX);
	return 0;
}

static int get_bool(struct loader *ld, const cJSON *obj, const char *path, const char *key,
		    bool *out)
{
	const cJSON *v = field(obj, key);
	if (!v) {
		*out = false;
		return 0;
	}
	if (!cJSON_IsBool(v))
		return fail(ld, path, key, "must be a boolean");
	*out = cJSON_IsTrue(v);
	return 0;
}

static int parse_time(struct loader *ld, const cJSON *v, const char *path, const char *key,
		      int64_t *out)
{
	if (clock_parse(v->valuestring, out))
		return fail(ld, path, key, "\"%.100s\" is not a date-time", v->valuestring);
	return 0;
}

/* created_at / updated_at: absent takes def; null is a type error, since the API
 * never answers these as null. */
static int get_time(struct loader *ld, const cJSON *obj, const char *path, const char *key,
		    int64_t def, int64_t *out)
{
	const cJSON *v = field(obj, key);
	if (!v) {
		*out = def;
		return 0;
	}
	if (!cJSON_IsString(v))
		return fail(ld, path, key, "must be a date-time string");
	return parse_time(ld, v, path, key, out);
}

/* blocked_at / unsubscribed_at agree with their flag (the store's CHECK holds
 * the same invariant): absent or null while the flag is set means "now". */
static int get_flag_time(struct loader *ld, const cJSON *obj, const char *path, const char *key,
			 bool flag, const char *flag_name, int64_t *out)
{
	const cJSON *v = field(obj, key);
	bool given = v && !cJSON_IsNull(v);
	if (!flag) {
		if (given)
			return fail(ld, path, key, "must be null when %s is false", flag_name);
		*out = MODEL_NO_TIME;
		return 0;
	}
	if (!given) {
		*out = ld->now_ms;
		return 0;
	}
	if (!cJSON_IsString(v))
		return fail(ld, path, key, "must be a date-time string or null");
	return parse_time(ld, v, path, key, out);
}

/* Fails unless obj.key is absent (*out NULL) or an array. */
static int get_array(struct loader *ld, const cJSON *obj, const char *path, const char *key,
		     const cJSON **out)
{
	const cJSON *v = field(obj, key);
	*out = NULL;
	if (v && !cJSON_IsArray(v))
		return fail(ld, path, key, "must be an array");
	*out = v;
	return 0;
}

static int check_object(struct loader *ld, const cJSON *v, const char *path)
{
	if (!cJSON_IsObject(v))
		return fail(ld, path, NULL, "must be an object");
	return 0;
}

static const char *const segment_keys[] = {
	"id", "name", "color", "created_at", "updated_at", NULL,
};

static int parse_segment(struct loader *ld, struct org_scope *scope, const cJSON *obj,
			 const char *path, struct segment *s)
{
	if (check_object(ld, obj, path))
		return -1;
	/* A clearer word than "unknown field" for the one field a copy of an API
	 * answer carries that a fixture must not. */
	for (const cJSON *c = obj->child; c; c = c->next) {
		if (!strcmp(c->string, "contacts_count"))
			return fail(ld, path, c->string,
				    "contacts_count is computed by the server; leave it out");
		if (!model_in_list(segment_keys, c->string))
			return fail(ld, path, c->string, "unknown field");
	}
	if (get_id(ld, obj, path, &s->id))
		return -1;
	if (!strset_add(&scope->segment_ids, s->id))
		return fail(ld, path, "id", "duplicate segment id \"%s\"", s->id);
	if (get_string(ld, obj, path, "name", 0, &s->name))
		return -1;
	if (!s->name)
		s->name = xstrdup(s->id);
	size_t n = json_utf8_codepoints(s->name);
	if (n == 0)
		return fail(ld, path, "name", "must not be empty");
	if (n > MODEL_SEGMENT_NAME_MAX)
		return fail(ld, path, "name", "must be at most %d characters",
			    MODEL_SEGMENT_NAME_MAX);
	if (get_string(ld, obj, path, "color", 0, &s->color))
		return -1;
	if (!s->color)
		s->color = xstrdup("neutral");
	if (!model_in_list(model_segment_colors, s->color))
		return fail(ld, path, "color", "\"%.100s\" is not a segment color", s->color);
	s->contacts_count = 0;
	if (get_time(ld, obj, path, "created_at", ld->now_ms, &s->created_at) ||
	    get_time(ld, obj, path, "updated_at", s->created_at, &s->updated_at))
		return -1;
	return 0;
}

static const char *const channel_keys[] = {
	"id", "type", "user_id", "avatar", "name", "username", "email", "phone", "country",
	"agent", "ip", "language", "platform_data", "created_at", "updated_at", "link", NULL,
};

static int parse_channel(struct loader *ld, struct org_scope *scope, const cJSON *obj,
			 const char *path, int64_t contact_created_at, struct channel *ch)
{
	if (check_object(ld, obj, path) || check_keys(ld, obj, path, channel_keys))
		return -1;
	if (get_id(ld, obj, path, &ch->id))
		return -1;
	if (!strset_add(&scope->channel_ids, ch->id))
		return fail(ld, path, "id", "duplicate channel id \"%s\"", ch->id);
	if (get_string(ld, obj, path, "type", FIELD_REQUIRED, &ch->type))
		return -1;
	if (!model_in_list(model_channel_types, ch->type))
		return fail(ld, path, "type", "\"%.100s\" is not a channel type", ch->type);
	if (get_string(ld, obj, path, "user_id", FIELD_REQUIRED, &ch->user_id))
		return -1;
	struct {
		const char *key;
		char **dst;
	} optional[] = {
		{"avatar", &ch->avatar}, {"name", &ch->name},	  {"username", &ch->username},
		{"email", &ch->email},	 {"phone", &ch->phone},	  {"country", &ch->country},
		{"agent", &ch->agent},	 {"ip", &ch->ip},	  {"language", &ch->language},
		{"link", &ch->link},
	};
	for (size_t i = 0; i < sizeof optional / sizeof optional[0]; i++)
		if (get_string(ld, obj, path, optional[i].key, FIELD_NULLABLE, optional[i].dst))
			return -1;
	const cJSON *pd = field(obj, "platform_data");
	if (pd && !cJSON_IsObject(pd))
		return fail(ld, path, "platform_data", "must be an object");
	if (pd) {
		char *text = cJSON_PrintUnformatted(pd);
		if (!text) {
			/* Only without xalloc's cJSON hooks: cJSON's own malloc failed. */
			fputs("invent-mock: out of memory printing platform_data\n", stderr);
			abort();
		}
		ch->platform_data = xstrdup(text);
		cJSON_free(text);
	} else {
		ch->platform_data = xstrdup("{}");
	}
	/* updated_at follows the channel's own created_at, so that a channel
	 * added after its contact is never updated before it was made. */
	if (get_time(ld, obj, path, "created_at", contact_created_at, &ch->created_at) ||
	    get_time(ld, obj, path, "updated_at", ch->created_at, &ch->updated_at))
		return -1;
	return 0;
}

static const char *const contact_keys[] = {
	"id", "name", "blocked", "unsubscribed", "unsubscribe_reason", "unsubscribe_feedback",
	"is_admin", "ai_replies_disabled", "created_at", "updated_at", "blocked_at",
	"unsubscribed_at", "channels", "segments", NULL,
};

/* The contact's segment ids: each a segment of this org, none twice. */
static int parse_memberships(struct loader *ld, struct org_scope *scope, const cJSON *arr,
			     const char *path, struct contact *c)
{
	struct strset seen = {0};
	int rc = -1;
	char p[PATH_SIZE];
	size_t i = 0;
	c->n_segments = (size_t)cJSON_GetArraySize(arr);
	c->segments = alloc_array(c->n_segments, sizeof *c->segments);
	for (const cJSON *v = arr->child; v; v = v->next, i++) {
		path_index(p, path, "segments", i);
		if (!cJSON_IsString(v)) {
			fail(ld, p, NULL, "must be a string");
			goto out;
		}
		if (!strset_has(&scope->segment_ids, v->valuestring)) {
			fail(ld, p, NULL, "\"%.100s\" is not a segment of org \"%s\"", v->valuestring,
			     scope->org_id);
			goto out;
		}
		if (!strset_add(&seen, v->valuestring)) {
			fail(ld, p, NULL, "\"%s\" is listed twice", v->valuestring);
			goto out;
		}
		c->segments[i].id = xstrdup(v->valuestring);
	}
	rc = 0;
out:
	strset_cleanup(&seen);
	return rc;
}

static int parse_contact(struct loader *ld, struct org_scope *scope, const cJSON *obj,
			 const char *path, struct contact *c)
{
	if (check_object(ld, obj, path) || check_keys(ld, obj, path, contact_keys))
		return -1;
	if (get_id(ld, obj, path, &c->id))
		return -1;
	if (!strset_add(&scope->contact_ids, c->id))
		return fail(ld, path, "id", "duplicate contact id \"%s\"", c->id);
	if (get_string(ld, obj, path, "name", FIELD_NULLABLE, &c->name))
		return -1;
	if (c->name && json_utf8_codepoints(c->name) > MODEL_NAME_MAX)
		return fail(ld, path, "name", "must be at most %d characters", MODEL_NAME_MAX);
	if (get_bool(ld, obj, path, "blocked", &c->blocked) ||
	    get_bool(ld, obj, path, "unsubscribed", &c->unsubscribed) ||
	    get_bool(ld, obj, path, "is_admin", &c->is_admin) ||
	    get_bool(ld, obj, path, "ai_replies_disabled", &c->ai_replies_disabled))
		return -1;
	if (get_string(ld, obj, path, "unsubscribe_reason", FIELD_NULLABLE,
		       &c->unsubscribe_reason) ||
	    get_string(ld, obj, path, "unsubscribe_feedback", FIELD_NULLABLE,
		       &c->unsubscribe_feedback))
		return -1;
	/* The API clears both when a contact resubscribes, so a state with them set
	 * and unsubscribed false could never be reached through it. */
	if (!c->unsubscribed && c->unsubscribe_reason)
		return fail(ld, path, "unsubscribe_reason",
			    "must be null when unsubscribed is false");
	if (!c->unsubscribed && c->unsubscribe_feedback)
		return fail(ld, path, "unsubscribe_feedback",
			    "must be null when unsubscribed is false");
	if (get_time(ld, obj, path, "created_at", ld->now_ms, &c->created_at) ||
	    get_flag_time(ld, obj, path, "blocked_at", c->blocked, "blocked", &c->blocked_at) ||
	    get_flag_time(ld, obj, path, "unsubscribed_at", c->unsubscribed, "unsubscribed",
			  &c->unsubscribed_at))
		return -1;
	/* A missing updated_at is the contact's latest change: a blocked_at or
	 * unsubscribed_at (given, or the load time) after created_at, so that
	 * neither is ever after updated_at, as the API never lets them be. */
	int64_t latest = c->created_at;
	if (c->blocked_at != MODEL_NO_TIME && c->blocked_at > latest)
		latest = c->blocked_at;
	if (c->unsubscribed_at != MODEL_NO_TIME && c->unsubscribed_at > latest)
		latest = c->unsubscribed_at;
	if (get_time(ld, obj, path, "updated_at", latest, &c->updated_at))
		return -1;

	const cJSON *arr = NULL;
	char p[PATH_SIZE];
	if (get_array(ld, obj, path, "channels", &arr))
		return -1;
	if (arr) {
		c->n_channels = (size_t)cJSON_GetArraySize(arr);
		c->channels = alloc_array(c->n_channels, sizeof *c->channels);
		size_t i = 0;
		for (const cJSON *v = arr->child; v; v = v->next, i++) {
			path_index(p, path, "channels", i);
			if (parse_channel(ld, scope, v, p, c->created_at, &c->channels[i]))
				return -1;
		}
	}
	if (get_array(ld, obj, path, "segments", &arr))
		return -1;
	if (arr && parse_memberships(ld, scope, arr, path, c))
		return -1;
	return 0;
}

static bool key_is_valid(const char *s)
{
	if (!*s)
		return false;
	/* Bytes up to 0x20 are controls or the space: a key must survive being
	 * pasted into an Authorization header unchanged. */
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

static int parse_api_keys(struct loader *ld, const cJSON *arr, const char *path,
			  struct fixture_org *o)
{
	char p[PATH_SIZE];
	size_t i = 0;
	o->n_api_keys = (size_t)cJSON_GetArraySize(arr);
	o->api_keys = alloc_array(o->n_api_keys, sizeof *o->api_keys);
	for (const cJSON *v = arr->child; v; v = v->next, i++) {
		path_index(p, path, "api_keys", i);
		if (!cJSON_IsString(v))
			return fail(ld, p, NULL, "must be a string");
		if (!key_is_valid(v->valuestring))
			return fail(ld, p, NULL,
				    "must be a non-empty key without whitespace or control characters");
		/* The set outlives this org's tree: it keeps the org's copy. */
		o->api_keys[i] = xstrdup(v->valuestring);
		if (!strset_add(&ld->api_keys, o->api_keys[i]))
			return fail(ld, p, NULL, "key \"%.100s\" is used twice", v->valuestring);
	}
	return 0;
}

static const char *const org_keys[] = {
	"id", "name", "parent_id", "api_keys", "segments", "contacts", NULL,
};

/* A piece of the document: cJSON builds a tree of one contact, or of one org
 * without its contacts, at a time; at is where the piece starts in the
 * document. The whole text passed json_strict already, so only cJSON's own
 * limits could fail here (none can with Debian 12's cJSON: its numbers have
 * no length limit, and json_strict's nesting limit is below its own). */
static cJSON *parse_piece(struct loader *ld, const char *piece, size_t len, size_t at)
{
	const char *end = NULL;
	cJSON *v = cJSON_ParseWithLengthOpts(piece, len, &end, 0);
	if (!v)
		error_set(ld->err, 0, "%s%s is not valid JSON (at byte %zu)", ld->prefix,
			  *ld->prefix ? "file" : "Document",
			  at + (size_t)((end ? end : piece) - piece));
	return v;
}

/* The contacts of an org, from their array's text, one tree at a time. */
static int parse_contacts(struct loader *ld, struct org_scope *scope, const char *text,
			  size_t len, const char *path, struct fixture_org *o)
{
	struct json_walk w;
	struct json_member m;
	char p[PATH_SIZE];
	size_t cap = 0;
	int rc = 0;
	json_walk_begin(&w, text, len);
	w.trusted = true;
	/* The org's tree was made before: the arena holds only contacts'. */
	bool arena = xalloc_cjson_arena_begin();
	while (!rc && json_walk_next(&w, &m) > 0) {
		if (o->n_contacts == cap) {
			cap = cap ? 2 * cap : 64;
			o->contacts = xrealloc(o->contacts, cap * sizeof *o->contacts);
		}
		struct contact *c = &o->contacts[o->n_contacts++];
		memset(c, 0, sizeof *c);
		path_index(p, path, "contacts", o->n_contacts - 1);
		cJSON *v = parse_piece(ld, m.value, m.value_len, (size_t)(m.value - ld->text));
		rc = v ? parse_contact(ld, scope, v, p, c) : -1;
		if (arena)
			xalloc_cjson_arena_rewind();
		else
			cJSON_Delete(v);
	}
	if (arena)
		xalloc_cjson_arena_end();
	return rc;
}

static int parse_org(struct loader *ld, const cJSON *obj, const char *path,
		     const struct json_member *contacts, struct fixture_org *o)
{
	struct org_scope scope = {0};
	const cJSON *arr = NULL;
	char p[PATH_SIZE];
	int rc = -1;

	if (check_object(ld, obj, path) || check_keys(ld, obj, path, org_keys))
		goto out;
	if (get_id(ld, obj, path, &o->id))
		goto out;
	/* /orgs/c/... always means the key's own org, so an org named c could never
	 * be reached by its id. */
	if (!strcmp(o->id, "c")) {
		fail(ld, path, "id", "\"c\" is reserved for the key's own org");
		goto out;
	}
	if (!strset_add(&ld->org_ids, o->id)) {
		fail(ld, path, "id", "duplicate org id \"%s\"", o->id);
		goto out;
	}
	scope.org_id = o->id;
	if (get_string(ld, obj, path, "name", 0, &o->name) ||
	    get_string(ld, obj, path, "parent_id", FIELD_NULLABLE, &o->parent_id))
		goto out;
	if (!o->name)
		o->name = xstrdup(o->id);
	if (get_array(ld, obj, path, "api_keys", &arr))
		goto out;
	if (arr && parse_api_keys(ld, arr, path, o))
		goto out;

	/* Segments first, whatever the key order: memberships refer to them. */
	if (get_array(ld, obj, path, "segments", &arr))
		goto out;
	if (arr) {
		o->n_segments = (size_t)cJSON_GetArraySize(arr);
		o->segments = alloc_array(o->n_segments, sizeof *o->segments);
		size_t i = 0;
		for (const cJSON *v = arr->child; v; v = v->next, i++) {
			path_index(p, path, "segments", i);
			if (parse_segment(ld, &scope, v, p, &o->segments[i]))
				goto out;
		}
	}
	/* The tree has an empty array in place of the contacts (parse_org_text). */
	if (get_array(ld, obj, path, "contacts", &arr))
		goto out;
	if (arr && parse_contacts(ld, &scope, contacts->value, contacts->value_len, path, o))
		goto out;
	rc = 0;
out:
	strset_cleanup(&scope.segment_ids);
	strset_cleanup(&scope.contact_ids);
	strset_cleanup(&scope.channel_ids);
	return rc;
}

static ptrdiff_t org_index(const struct fixture *f, const char *id)
{
	for (size_t i = 0; i < f->n_orgs; i++)
		if (!strcmp(f->orgs[i].id, id))
			return (ptrdiff_t)i;
	return -1;
}

/* Checks every parent_id (orgs still in file order, so messages name file
 * indexes), then reorders f->orgs so that parents come first. */
static int link_parents(struct loader *ld, struct fixture *f)
{
	size_t n = f->n_orgs;
	ptrdiff_t *parent = alloc_array(n, sizeof *parent);
	bool *placed = alloc_array(n, sizeof *placed);
	size_t *chain = alloc_array(n, sizeof *chain);
	struct fixture_org *sorted = NULL;
	char p[PATH_SIZE];
	int rc = -1;

	for (size_t i = 0; i < n; i++) {
		const char *pid = f->orgs[i].parent_id;
		parent[i] = -1;
		if (!pid)
			continue;
		path_index(p, "", "orgs", i);
		if (!strcmp(pid, f->orgs[i].id)) {
			fail(ld, p, "parent_id", "an org cannot be its own parent");
			goto out;
		}
		parent[i] = org_index(f, pid);
		if (parent[i] < 0) {
			fail(ld, p, "parent_id", "\"%.100s\" names no org", pid);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		/* A chain longer than n orgs repeats one, so it ends in a cycle; after n
		 * steps the walk is inside it. Blame the cycle's first org in the file. */
		ptrdiff_t j = (ptrdiff_t)i;
		for (size_t step = 0; step < n && j >= 0; step++)
			j = parent[j];
		if (j < 0)
			continue;
		size_t first = (size_t)j;
		for (ptrdiff_t k = parent[j]; k != j; k = parent[k])
			if ((size_t)k < first)
				first = (size_t)k;
		path_index(p, "", "orgs", first);
		fail(ld, p, "parent_id", "parent cycle");
		goto out;
	}

	/* File order, except that an org's missing ancestors are pulled in just
	 * before it: the least reordering that puts parents first. */
	sorted = alloc_array(n, sizeof *sorted);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		size_t depth = 0;
		for (ptrdiff_t j = (ptrdiff_t)i; j >= 0 && !placed[j]; j = parent[j])
			chain[depth++] = (size_t)j;
		while (depth > 0) {
			size_t j = chain[--depth];
			placed[j] = true;
			sorted[m++] = f->orgs[j];
		}
	}
	free(f->orgs);
	f->orgs = sorted;
	sorted = NULL;
	rc = 0;
out:
	free(parent);
	free(placed);
	free(chain);
	free(sorted);
	return rc;
}

static char *member_key(const struct json_member *m)
{
	return json_key_text(m->key, m->key_len);
}

/* One org of the orgs array. Its tree is made from a copy of its text with
 * "contacts": [] in place of its contacts, which are read one by one from the
 * document: a fixture of 100,000 contacts never becomes one tree. */
static int parse_org_text(struct loader *ld, const struct json_member *org, const char *path,
			  struct fixture_org *o)
{
	struct json_walk w;
	struct json_member m, contacts = {0};
	if (!json_walk_begin(&w, org->value, org->value_len) || !w.object)
		return fail(ld, path, NULL, "must be an object");
	w.trusted = true;
	while (json_walk_next(&w, &m) > 0) {
		char *key = member_key(&m);
		if (!strcmp(key, "contacts") && m.value[0] == '[')
			contacts = m;
		free(key);
	}
	size_t head = contacts.value ? (size_t)(contacts.value - org->value) : org->value_len;
	size_t mid = contacts.value ? 2 : 0; /* "[]" */
	size_t tail = org->value_len - head - (contacts.value ? contacts.value_len : 0);
	char *copy = xmalloc(head + mid + tail);
	memcpy(copy, org->value, head);
	memcpy(copy + head, "[]", mid);
	memcpy(copy + head + mid, org->value + org->value_len - tail, tail);
	/* (An offset past the contacts would be off by their length.) */
	cJSON *obj = parse_piece(ld, copy, head + mid + tail, (size_t)(org->value - ld->text));
	free(copy);
	int rc = obj ? parse_org(ld, obj, path, &contacts, o) : -1;
	cJSON_Delete(obj);
	return rc;
}

struct hash_job {
	const char *text;
	size_t len;
	char *out; /* 17 bytes */
};

static void *hash_text(void *arg)
{
	struct hash_job *h = arg;
	snprintf(h->out, 17, "%016" PRIx64, fnv1a64(h->text, h->len));
	return NULL;
}

/* The one parser behind files, the embedded demo and imports: messages start
 * with prefix, which is "<source>: " or "". */
static int parse(const char *text, size_t len, const char *source, const char *prefix,
		 int64_t now_ms, struct fixture **out, struct error *err)
{
	struct loader ld = {.prefix = prefix, .text = text, .now_ms = now_ms, .err = err};
	struct fixture *f = xcalloc(1, sizeof *f);
	struct error jerr;
	char p[PATH_SIZE];
	int rc = -1;

	f->source = xstrdup(source);
	/* The hash reads every byte, one at a time: on the other CPU, meanwhile. */
	struct hash_job hj = {text, len, f->hash};
	pthread_t hasher;
	bool threaded = len > (1 << 20) && !pthread_create(&hasher, NULL, hash_text, &hj);
	if (!threaded)
		hash_text(&hj);

	struct json_walk w;
	struct json_member m, orgs = {0};
	if (json_strict_check_path(text, len, p, sizeof p, &jerr)) {
		if (p[0])
			error_set(err, 0, "%s%s: is a duplicate key", prefix, p);
		else
			error_set(err, 0, "%s%s %s", prefix, *prefix ? "file" : "Document", jerr.msg);
		goto out;
	}
	if (!json_walk_begin(&w, text, len) || !w.object) {
		error_set(err, 0, "%s%s must be a JSON object", prefix, *prefix ? "file" : "Document");
		goto out;
	}
	w.trusted = true;
	while (json_walk_next(&w, &m) > 0) {
		char *key = member_key(&m);
		bool known = !strcmp(key, "orgs");
		if (!known)
			fail(&ld, "", key, "unknown field");
		free(key);
		if (!known)
			goto out;
		orgs = m;
	}
	if (!orgs.value) {
		fail(&ld, "", "orgs", "is required");
		goto out;
	}
	if (!json_walk_begin(&w, orgs.value, orgs.value_len) || w.object) {
		fail(&ld, "", "orgs", "must be an array");
		goto out;
	}
	w.trusted = true;
	size_t cap = 0;
	while (json_walk_next(&w, &m) > 0) {
		if (f->n_orgs == cap) {
			cap = cap ? 2 * cap : 8;
			f->orgs = xrealloc(f->orgs, cap * sizeof *f->orgs);
		}
		struct fixture_org *o = &f->orgs[f->n_orgs++];
		memset(o, 0, sizeof *o);
		path_index(p, "", "orgs", f->n_orgs - 1);
		if (parse_org_text(&ld, &m, p, o))
			goto out;
	}
	if (link_parents(&ld, f))
		goto out;
	*out = f;
	f = NULL;
	rc = 0;
out:
	if (threaded)
		pthread_join(hasher, NULL);
	strset_cleanup(&ld.org_ids);
	strset_cleanup(&ld.api_keys);
	fixture_free(f);
	return rc;
}

int fixture_parse(const char *text, size_t len, const char *source, int64_t now_ms,
		  struct fixture **out, struct error *err)
{
	char prefix[ERROR_MSG_MAX / 2];
	snprintf(prefix, sizeof prefix, "%s: ", source);
	return parse(text, len, source, prefix, now_ms, out, err);
}

int fixture_parse_document(const char *text, size_t len, const char *source, int64_t now_ms,
			   struct fixture **out, struct error *err)
{
	return parse(text, len, source, "", now_ms, out, err);
}

int fixture_read_file(const char *path, char **text, size_t *len, struct error *err)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;
	if (!fp)
		return error_set(err, 0, "%s: cannot read: %s", path, strerror(errno));
	/* Read to EOF rather than trust a size from stat: also works for pipes and
	 * for /dev/stdin. */
	for (;;) {
		if (cap - n < 4096) {
			cap = cap ? 2 * cap : 65536;
			buf = xrealloc(buf, cap);
		}
		size_t k = fread(buf + n, 1, cap - n - 1, fp);
		n += k;
		if (k == 0)
			break;
	}
	int failed = ferror(fp);
	int saved = errno;
	fclose(fp);
	if (failed) {
		free(buf);
		return error_set(err, 0, "%s: cannot read: %s", path, strerror(saved));
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

int fixture_load_file(const char *path, int64_t now_ms, struct fixture **out, struct error *err)
{
	char *text;
	size_t len;
	if (fixture_read_file(path, &text, &len, err))
		return -1;
	int rc = fixture_parse(text, len, path, now_ms, out, err);
	free(text);
	return rc;
}

int fixture_load_embedded(int64_t now_ms, struct fixture **out, struct error *err)
{
	return fixture_parse(embedded_demo_json, embedded_demo_json_len,
			     "fixtures/demo.json (embedded)", now_ms, out, err);
}

const struct fixture_org *fixture_find_org(const struct fixture *f, const char *id)
{
	ptrdiff_t i = org_index(f, id);
	return i < 0 ? NULL : &f->orgs[i];
}

void fixture_free_orgs(struct fixture *f)
{
	for (size_t i = 0; i < f->n_orgs; i++) {
		struct fixture_org *o = &f->orgs[i];
		free(o->id);
		free(o->name);
		free(o->parent_id);
		for (size_t k = 0; k < o->n_api_keys; k++)
			free(o->api_keys[k]);
		free(o->api_keys);
		for (size_t k = 0; k < o->n_segments; k++)
			segment_cleanup(&o->segments[k]);
		free(o->segments);
		for (size_t k = 0; k < o->n_contacts; k++)
			contact_cleanup(&o->contacts[k]);
		free(o->contacts);
	}
	free(f->orgs);
	f->orgs = NULL;
	f->n_orgs = 0;
}

void fixture_free(struct fixture *f)
{
	if (!f)
		return;
	fixture_free_orgs(f);
	free(f->source);
	free(f);
}
