/* See contact_json.h. Every object is written straight into a jsonbuf: these
 * run on every request, and building a cJSON tree cost an allocation per value. */
#include "contact_json.h"

#include "clock.h"
#include "jsonbuf.h"

#include <string.h>

static void put_str(struct jsonbuf *b, const char *key, const char *v)
{
	jsonbuf_key(b, key);
	jsonbuf_string(b, v);
}

static void put_bool(struct jsonbuf *b, const char *key, bool v)
{
	jsonbuf_key(b, key);
	jsonbuf_bool(b, v);
}

static void put_time(struct jsonbuf *b, const char *key, int64_t ms)
{
	jsonbuf_key(b, key);
	if (ms == MODEL_NO_TIME) {
		jsonbuf_null(b);
		return;
	}
	char text[CLOCK_TEXT_SIZE + 2];
	text[0] = '"';
	clock_format(ms, text + 1);
	text[CLOCK_TEXT_SIZE] = '"';
	jsonbuf_raw(b, text, CLOCK_TEXT_SIZE + 1);
}

static void channel_write(struct jsonbuf *b, const struct channel *ch)
{
	jsonbuf_open(b, '{');
	put_str(b, "id", ch->id);
	put_str(b, "type", ch->type);
	put_str(b, "user_id", ch->user_id);
	put_str(b, "avatar", ch->avatar);
	put_str(b, "name", ch->name);
	put_str(b, "username", ch->username);
	put_str(b, "email", ch->email);
	put_str(b, "phone", ch->phone);
	put_str(b, "country", ch->country);
	put_str(b, "agent", ch->agent);
	put_str(b, "ip", ch->ip);
	put_str(b, "language", ch->language);
	/* Stored as validated compact JSON, so it is copied in verbatim. */
	const char *pd = ch->platform_data ? ch->platform_data : "{}";
	jsonbuf_key(b, "platform_data");
	jsonbuf_raw(b, pd, strlen(pd));
	put_time(b, "created_at", ch->created_at);
	put_time(b, "updated_at", ch->updated_at);
	put_str(b, "link", ch->link);
	jsonbuf_close(b, '}');
}

static void segment_write(struct jsonbuf *b, const struct segment *s)
{
	jsonbuf_open(b, '{');
	put_str(b, "id", s->id);
	put_str(b, "name", s->name);
	put_str(b, "color", s->color);
	jsonbuf_key(b, "contacts_count");
	jsonbuf_int(b, s->contacts_count > 0 ? s->contacts_count : 0);
	put_time(b, "created_at", s->created_at);
	put_time(b, "updated_at", s->updated_at);
	jsonbuf_close(b, '}');
}

/* "channels":[...],"segments":[...]: the part of a contact a PATCH never
 * changes, which the store may keep (store_lists_get). */
static void lists_write(struct jsonbuf *b, const struct contact *c)
{
	jsonbuf_key(b, "channels");
	jsonbuf_open(b, '[');
	for (size_t i = 0; i < c->n_channels; i++) {
		jsonbuf_element(b);
		channel_write(b, &c->channels[i]);
	}
	jsonbuf_close(b, ']');
	jsonbuf_key(b, "segments");
	jsonbuf_open(b, '[');
	for (size_t i = 0; i < c->n_segments; i++) {
		jsonbuf_element(b);
		segment_write(b, &c->segments[i]);
	}
	jsonbuf_close(b, ']');
}

/* lists: what lists_write() made of c's channels and segments, or NULL to
 * write them from c. */
static void contact_write(struct jsonbuf *b, const struct contact *c, const char *lists,
			  size_t lists_len)
{
	jsonbuf_open(b, '{');
	put_str(b, "id", c->id);
	put_str(b, "name", c->name);
	put_bool(b, "blocked", c->blocked);
	put_bool(b, "unsubscribed", c->unsubscribed);
	put_bool(b, "is_admin", c->is_admin);
	if (lists) {
		jsonbuf_raw(b, ",", 1);
		jsonbuf_raw(b, lists, lists_len);
	} else {
		lists_write(b, c);
	}
	put_time(b, "created_at", c->created_at);
	put_time(b, "updated_at", c->updated_at);
	put_time(b, "blocked_at", c->blocked ? c->blocked_at : MODEL_NO_TIME);
	put_time(b, "unsubscribed_at", c->unsubscribed ? c->unsubscribed_at : MODEL_NO_TIME);
	put_str(b, "unsubscribe_reason", c->unsubscribe_reason);
	put_str(b, "unsubscribe_feedback", c->unsubscribe_feedback);
	jsonbuf_close(b, '}');
}

char *contact_json_print(const cJSON *v, size_t *len)
{
	char *s = cJSON_PrintUnformatted(v);
	if (len)
		*len = strlen(s);
	return s;
}

/* About what one contact with a channel and a segment takes, so that most
 * renders never grow their buffer. */
enum { CONTACT_JSON_HINT = 1024 };

char *contact_json_render(const struct contact *c, size_t *len)
{
	struct jsonbuf b;
	jsonbuf_init(&b, CONTACT_JSON_HINT);
	contact_write(&b, c, NULL, 0);
	return jsonbuf_finish(&b, len);
}

char *contact_json_render_lists(const struct contact *c, size_t *len)
{
	struct jsonbuf b;
	jsonbuf_init(&b, CONTACT_JSON_HINT);
	lists_write(&b, c);
	return jsonbuf_finish(&b, len);
}

char *contact_json_render_with_lists(const struct contact *c, const char *lists, size_t lists_len,
				     size_t *len)
{
	struct jsonbuf b;
	jsonbuf_init(&b, lists_len + 512);
	contact_write(&b, c, lists, lists_len);
	return jsonbuf_finish(&b, len);
}

char *contact_json_render_list(const struct contact *list, size_t n, size_t *len)
{
	struct jsonbuf b;
	jsonbuf_init(&b, CONTACT_JSON_HINT * (n ? n : 1));
	jsonbuf_open(&b, '[');
	for (size_t i = 0; i < n; i++) {
		jsonbuf_element(&b);
		contact_write(&b, &list[i], NULL, 0);
	}
	jsonbuf_close(&b, ']');
	return jsonbuf_finish(&b, len);
}

char *segment_json_render_list(const struct segment *list, size_t n, size_t *len)
{
	struct jsonbuf b;
	jsonbuf_init(&b, 256 * (n ? n : 1));
	jsonbuf_open(&b, '[');
	for (size_t i = 0; i < n; i++) {
		jsonbuf_element(&b);
		segment_write(&b, &list[i]);
	}
	jsonbuf_close(&b, ']');
	return jsonbuf_finish(&b, len);
}

char *contact_json_render_patchable(const struct contact *c)
{
	struct jsonbuf b;
	jsonbuf_init(&b, 256);
	jsonbuf_open(&b, '{');
	put_str(&b, "name", c->name);
	put_bool(&b, "blocked", c->blocked);
	put_bool(&b, "unsubscribed", c->unsubscribed);
	put_time(&b, "updated_at", c->updated_at);
	put_time(&b, "blocked_at", c->blocked ? c->blocked_at : MODEL_NO_TIME);
	put_time(&b, "unsubscribed_at", c->unsubscribed ? c->unsubscribed_at : MODEL_NO_TIME);
	put_str(&b, "unsubscribe_reason", c->unsubscribe_reason);
	put_str(&b, "unsubscribe_feedback", c->unsubscribe_feedback);
	jsonbuf_close(&b, '}');
	return jsonbuf_finish(&b, NULL);
}
