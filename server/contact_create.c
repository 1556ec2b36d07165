/* See contact_create.h. */
#include "contact_create.h"

#include "ids.h"
#include "json_strict.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

static const char *const channel_fields[] = {"user_id", "name", "email", "phone", "contact_id"};

/* Reads channel.<field>: a string, or null / absent (then *out stays NULL). */
static int channel_string(const cJSON *f, char **out, struct error *err)
{
	if (cJSON_IsNull(f))
		return 0;
	if (!cJSON_IsString(f))
		return error_set(err, 400, "channel.%s must be a string or null", f->string);
	if (!strcmp(f->string, "name") && json_utf8_codepoints(f->valuestring) > MODEL_NAME_MAX)
		return error_set(err, 400, "channel.name must be at most %d characters", MODEL_NAME_MAX);
	*out = xstrdup(f->valuestring);
	return 0;
}

static int parse_channel(const cJSON *ch, bool lenient, struct contact_create *cc,
			 struct error *err)
{
	if (!ch || !cJSON_IsObject(ch))
		return error_set(err, 400, "channel must be an object");
	char **slots[] = {&cc->user_id, &cc->name, &cc->email, &cc->phone, &cc->contact_id};
	for (const cJSON *f = ch->child; f; f = f->next) {
		size_t i = 0;
		while (i < 5 && strcmp(f->string, channel_fields[i]))
			i++;
		if (i == 5) {
			if (lenient)
				continue;
			return error_set(err, 400, "property channel.%.200s should not exist", f->string);
		}
		if (channel_string(f, slots[i], err))
			return -1;
	}
	/* [decided] An empty string is no identifier. */
	if (!(cc->user_id && *cc->user_id) && !(cc->email && *cc->email) && !(cc->phone && *cc->phone))
		return error_set(err, 400, "channel needs at least one of user_id, email, phone");
	return 0;
}

static int parse_segment_ids(const cJSON *a, struct contact_create *cc, struct error *err)
{
	if (!cJSON_IsArray(a))
		return error_set(err, 400, "segment_ids must be an array of strings");
	int n = cJSON_GetArraySize(a);
	cc->segment_ids = xcalloc((size_t)n, sizeof *cc->segment_ids);
	for (const cJSON *v = a->child; v; v = v->next) {
		if (!cJSON_IsString(v))
			return error_set(err, 400, "segment_ids must be an array of strings");
		bool seen = false;
		for (size_t i = 0; i < cc->n_segment_ids && !seen; i++)
			seen = !strcmp(cc->segment_ids[i], v->valuestring);
		/* Naming a segment twice is not an error; it is added once. */
		if (!seen)
			cc->segment_ids[cc->n_segment_ids++] = xstrdup(v->valuestring);
	}
	return 0;
}

int contact_create_parse(const cJSON *body, bool lenient, struct contact_create *out,
			 struct error *err)
{
	struct contact_create cc = {0};
	const cJSON *channel = NULL;
	if (body && !cJSON_IsObject(body))
		return error_set(err, 400, "Body must be a JSON object");
	for (const cJSON *f = body ? body->child : NULL; f; f = f->next) {
		if (!strcmp(f->string, "channel")) {
			channel = f;
		} else if (!strcmp(f->string, "segment_ids")) {
			if (parse_segment_ids(f, &cc, err))
				goto fail;
		} else if (!lenient) {
			error_set(err, 400, "property %.200s should not exist", f->string);
			goto fail;
		}
	}
	if (parse_channel(channel, lenient, &cc, err))
		goto fail;
	*out = cc;
	return 0;
fail:
	contact_create_cleanup(&cc);
	return -1;
}

void contact_create_cleanup(struct contact_create *cc)
{
	if (!cc)
		return;
	free(cc->user_id);
	free(cc->name);
	free(cc->email);
	free(cc->phone);
	free(cc->contact_id);
	for (size_t i = 0; i < cc->n_segment_ids; i++)
		free(cc->segment_ids[i]);
	free(cc->segment_ids);
	memset(cc, 0, sizeof *cc);
}

static const char *given(const char *s)
{
	return s && *s ? s : NULL;
}

void contact_create_channel(const struct contact_create *cc, struct ids *ids, int64_t now_ms,
			    struct channel *ch)
{
	char id[IDS_MAX];
	ids_generate(ids, "ch_", id);
	const char *user_id = given(cc->user_id) ? cc->user_id
			      : given(cc->email) ? cc->email
						 : cc->phone;
	*ch = (struct channel){
		.id = xstrdup(id),
		.type = xstrdup("custom"),
		.user_id = xstrdup(user_id),
		.name = xstrdup_null(cc->name),
		.email = xstrdup_null(cc->email),
		.phone = xstrdup_null(cc->phone),
		.platform_data = xstrdup("{}"),
		.created_at = now_ms,
		.updated_at = now_ms,
	};
}

void contact_create_contact(const struct contact_create *cc, struct ids *ids, int64_t now_ms,
			    struct contact *c)
{
	char id[IDS_MAX];
	ids_generate(ids, "ct_", id);
	*c = (struct contact){
		.id = xstrdup(id),
		.name = xstrdup_null(cc->name),
		.created_at = now_ms,
		.updated_at = now_ms,
		.blocked_at = MODEL_NO_TIME,
		.unsubscribed_at = MODEL_NO_TIME,
		.channels = xcalloc(1, sizeof(struct channel)),
		.n_channels = 1,
	};
	contact_create_channel(cc, ids, now_ms, &c->channels[0]);
}
