/* See contact_json.h. */
#include "contact_json.h"

#include "clock.h"

#include <string.h>

static void add_str(cJSON *o, const char *key, const char *v)
{
	cJSON_AddItemToObject(o, key, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}

static void add_time(cJSON *o, const char *key, int64_t ms)
{
	if (ms == MODEL_NO_TIME) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	char buf[CLOCK_TEXT_SIZE];
	clock_format(ms, buf);
	cJSON_AddStringToObject(o, key, buf);
}

static cJSON *channel_json_object(const struct channel *ch)
{
	cJSON *o = cJSON_CreateObject();
	add_str(o, "id", ch->id);
	add_str(o, "type", ch->type);
	add_str(o, "user_id", ch->user_id);
	add_str(o, "avatar", ch->avatar);
	add_str(o, "name", ch->name);
	add_str(o, "username", ch->username);
	add_str(o, "email", ch->email);
	add_str(o, "phone", ch->phone);
	add_str(o, "country", ch->country);
	add_str(o, "agent", ch->agent);
	add_str(o, "ip", ch->ip);
	add_str(o, "language", ch->language);
	/* Stored as validated compact JSON, so it can be copied in verbatim. */
	cJSON_AddItemToObject(o, "platform_data",
			      cJSON_CreateRaw(ch->platform_data ? ch->platform_data : "{}"));
	add_time(o, "created_at", ch->created_at);
	add_time(o, "updated_at", ch->updated_at);
	add_str(o, "link", ch->link);
	return o;
}

cJSON *segment_json_object(const struct segment *s)
{
	cJSON *o = cJSON_CreateObject();
	add_str(o, "id", s->id);
	add_str(o, "name", s->name);
	add_str(o, "color", s->color);
	/* cJSON prints numbers with sprintf and checks them with sscanf; an integer
	 * we format ourselves goes in raw. */
	char num[24], *p = num + sizeof num;
	uint64_t n = s->contacts_count > 0 ? (uint64_t)s->contacts_count : 0;
	*--p = '\0';
	do
		*--p = (char)('0' + n % 10);
	while (n /= 10);
	cJSON_AddItemToObject(o, "contacts_count", cJSON_CreateRaw(p));
	add_time(o, "created_at", s->created_at);
	add_time(o, "updated_at", s->updated_at);
	return o;
}

cJSON *contact_json_object(const struct contact *c)
{
	cJSON *o = cJSON_CreateObject();
	add_str(o, "id", c->id);
	add_str(o, "name", c->name);
	cJSON_AddBoolToObject(o, "blocked", c->blocked);
	cJSON_AddBoolToObject(o, "unsubscribed", c->unsubscribed);
	cJSON_AddBoolToObject(o, "is_admin", c->is_admin);
	cJSON *channels = cJSON_AddArrayToObject(o, "channels");
	for (size_t i = 0; i < c->n_channels; i++)
		cJSON_AddItemToArray(channels, channel_json_object(&c->channels[i]));
	cJSON *segments = cJSON_AddArrayToObject(o, "segments");
	for (size_t i = 0; i < c->n_segments; i++)
		cJSON_AddItemToArray(segments, segment_json_object(&c->segments[i]));
	add_time(o, "created_at", c->created_at);
	add_time(o, "updated_at", c->updated_at);
	add_time(o, "blocked_at", c->blocked ? c->blocked_at : MODEL_NO_TIME);
	add_time(o, "unsubscribed_at", c->unsubscribed ? c->unsubscribed_at : MODEL_NO_TIME);
	add_str(o, "unsubscribe_reason", c->unsubscribe_reason);
	add_str(o, "unsubscribe_feedback", c->unsubscribe_feedback);
	return o;
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
	cJSON *o = contact_json_object(c);
	char *s = contact_json_print(o, len);
	cJSON_Delete(o);
	return s;
}
