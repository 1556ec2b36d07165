/* See contact_json.h. Keys are string literals, so cJSON need not copy them (the
 * ...CS calls); when a tree is only printed and deleted while the struct is alive
 * (contact_json_render), string values are borrowed from the struct instead of
 * copied. Together they remove most of the allocations of rendering a contact. */
#include "contact_json.h"

#include "clock.h"

#include <stdbool.h>
#include <string.h>

static void add(cJSON *o, const char *key, cJSON *v)
{
	cJSON_AddItemToObjectCS(o, key, v);
}

static void add_str(cJSON *o, const char *key, const char *v, bool borrow)
{
	add(o, key,
	    !v ? cJSON_CreateNull() : borrow ? cJSON_CreateStringReference(v) : cJSON_CreateString(v));
}

static void add_bool(cJSON *o, const char *key, bool v)
{
	add(o, key, cJSON_CreateBool(v));
}

static void add_time(cJSON *o, const char *key, int64_t ms)
{
	if (ms == MODEL_NO_TIME) {
		add(o, key, cJSON_CreateNull());
		return;
	}
	char buf[CLOCK_TEXT_SIZE];
	clock_format(ms, buf);
	add(o, key, cJSON_CreateString(buf));
}

/* cJSON prints numbers with sprintf and checks them with sscanf; an integer we
 * format ourselves goes in raw. */
static void add_count(cJSON *o, const char *key, int64_t v)
{
	char num[24], *p = num + sizeof num;
	uint64_t n = v > 0 ? (uint64_t)v : 0;
	*--p = '\0';
	do
		*--p = (char)('0' + n % 10);
	while (n /= 10);
	add(o, key, cJSON_CreateRaw(p));
}

static cJSON *channel_object(const struct channel *ch, bool borrow)
{
	cJSON *o = cJSON_CreateObject();
	add_str(o, "id", ch->id, borrow);
	add_str(o, "type", ch->type, borrow);
	add_str(o, "user_id", ch->user_id, borrow);
	add_str(o, "avatar", ch->avatar, borrow);
	add_str(o, "name", ch->name, borrow);
	add_str(o, "username", ch->username, borrow);
	add_str(o, "email", ch->email, borrow);
	add_str(o, "phone", ch->phone, borrow);
	add_str(o, "country", ch->country, borrow);
	add_str(o, "agent", ch->agent, borrow);
	add_str(o, "ip", ch->ip, borrow);
	add_str(o, "language", ch->language, borrow);
	/* Stored as validated compact JSON, so it is copied in verbatim. */
	add(o, "platform_data", cJSON_CreateRaw(ch->platform_data ? ch->platform_data : "{}"));
	add_time(o, "created_at", ch->created_at);
	add_time(o, "updated_at", ch->updated_at);
	add_str(o, "link", ch->link, borrow);
	return o;
}

static cJSON *segment_object(const struct segment *s, bool borrow)
{
	cJSON *o = cJSON_CreateObject();
	add_str(o, "id", s->id, borrow);
	add_str(o, "name", s->name, borrow);
	add_str(o, "color", s->color, borrow);
	add_count(o, "contacts_count", s->contacts_count);
	add_time(o, "created_at", s->created_at);
	add_time(o, "updated_at", s->updated_at);
	return o;
}

static cJSON *contact_object(const struct contact *c, bool borrow)
{
	cJSON *o = cJSON_CreateObject();
	add_str(o, "id", c->id, borrow);
	add_str(o, "name", c->name, borrow);
	add_bool(o, "blocked", c->blocked);
	add_bool(o, "unsubscribed", c->unsubscribed);
	add_bool(o, "is_admin", c->is_admin);
	cJSON *channels = cJSON_CreateArray();
	add(o, "channels", channels);
	for (size_t i = 0; i < c->n_channels; i++)
		cJSON_AddItemToArray(channels, channel_object(&c->channels[i], borrow));
	cJSON *segments = cJSON_CreateArray();
	add(o, "segments", segments);
	for (size_t i = 0; i < c->n_segments; i++)
		cJSON_AddItemToArray(segments, segment_object(&c->segments[i], borrow));
	add_time(o, "created_at", c->created_at);
	add_time(o, "updated_at", c->updated_at);
	add_time(o, "blocked_at", c->blocked ? c->blocked_at : MODEL_NO_TIME);
	add_time(o, "unsubscribed_at", c->unsubscribed ? c->unsubscribed_at : MODEL_NO_TIME);
	add_str(o, "unsubscribe_reason", c->unsubscribe_reason, borrow);
	add_str(o, "unsubscribe_feedback", c->unsubscribe_feedback, borrow);
	return o;
}

cJSON *contact_json_object(const struct contact *c)
{
	return contact_object(c, false);
}

cJSON *segment_json_object(const struct segment *s)
{
	return segment_object(s, false);
}

char *contact_json_print(const cJSON *v, size_t *len)
{
	char *s = cJSON_PrintUnformatted(v);
	if (len)
		*len = strlen(s);
	return s;
}

char *contact_json_render(const struct contact *c, size_t *len)
{
	cJSON *o = contact_object(c, true);
	char *s = contact_json_print(o, len);
	cJSON_Delete(o);
	return s;
}

char *contact_json_render_list(const struct contact *list, size_t n, size_t *len)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, contact_object(&list[i], true));
	char *s = contact_json_print(a, len);
	cJSON_Delete(a);
	return s;
}

char *segment_json_render_list(const struct segment *list, size_t n, size_t *len)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, segment_object(&list[i], true));
	char *s = contact_json_print(a, len);
	cJSON_Delete(a);
	return s;
}

char *contact_json_render_patchable(const struct contact *c)
{
	cJSON *o = cJSON_CreateObject();
	add_str(o, "name", c->name, true);
	add_bool(o, "blocked", c->blocked);
	add_bool(o, "unsubscribed", c->unsubscribed);
	add_time(o, "updated_at", c->updated_at);
	add_time(o, "blocked_at", c->blocked ? c->blocked_at : MODEL_NO_TIME);
	add_time(o, "unsubscribed_at", c->unsubscribed ? c->unsubscribed_at : MODEL_NO_TIME);
	add_str(o, "unsubscribe_reason", c->unsubscribe_reason, true);
	add_str(o, "unsubscribe_feedback", c->unsubscribe_feedback, true);
	char *s = contact_json_print(o, NULL);
	cJSON_Delete(o);
	return s;
}
