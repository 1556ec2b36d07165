/* See contact_patch.h. */
#include "contact_patch.h"

#include "json_strict.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

int contact_patch_parse(const cJSON *body, bool lenient, struct contact_patch *out,
			struct error *err)
{
	struct contact_patch p = {0};
	if (!body) {
		*out = p;
		return 0;
	}
	if (!cJSON_IsObject(body))
		return error_set(err, 400, "Body must be a JSON object");
	for (const cJSON *f = body->child; f; f = f->next) {
		if (!strcmp(f->string, "name")) {
			if (cJSON_IsNull(f)) {
				p.has_name = true;
				continue;
			}
			if (!cJSON_IsString(f))
				goto fail_type;
			if (json_utf8_codepoints(f->valuestring) > MODEL_NAME_MAX) {
				error_set(err, 400, "name must be at most %d characters", MODEL_NAME_MAX);
				goto fail;
			}
			p.has_name = true;
			p.name = f->valuestring;
		} else if (!strcmp(f->string, "blocked")) {
			if (!cJSON_IsBool(f))
				goto fail_type;
			p.has_blocked = true;
			p.blocked = cJSON_IsTrue(f);
		} else if (!strcmp(f->string, "unsubscribed")) {
			if (!cJSON_IsBool(f))
				goto fail_type;
			p.has_unsubscribed = true;
			p.unsubscribed = cJSON_IsTrue(f);
		} else if (!lenient) {
			/* class-validator's whitelist wording, as NestJS backends answer. */
			error_set(err, 400, "property %.200s should not exist", f->string);
			goto fail;
		}
		continue;
	fail_type:
		error_set(err, 400, "%s must be %s", f->string,
			  strcmp(f->string, "name") ? "a boolean" : "a string or null");
		goto fail;
	}
	/* Borrowed until here: the body outlives nothing, so take a copy. */
	p.name = xstrdup_null(p.name);
	*out = p;
	return 0;
fail:
	return -1;
}

void contact_patch_cleanup(struct contact_patch *p)
{
	if (!p)
		return;
	free(p->name);
	memset(p, 0, sizeof *p);
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool set_str(char **field, const char *value)
{
	if (str_eq(*field, value))
		return false;
	free(*field);
	*field = xstrdup_null(value);
	return true;
}

bool contact_patch_apply(struct contact *c, const struct contact_patch *p, int64_t now_ms)
{
	int64_t t = now_ms > c->updated_at ? now_ms : c->updated_at;
	bool changed = false;
	if (p->has_name)
		changed |= set_str(&c->name, p->name);
	/* Blocking an already blocked contact keeps the original blocked_at. */
	if (p->has_blocked && p->blocked != c->blocked) {
		c->blocked = p->blocked;
		c->blocked_at = p->blocked ? t : MODEL_NO_TIME;
		changed = true;
	}
	if (p->has_unsubscribed && p->unsubscribed != c->unsubscribed) {
		c->unsubscribed = p->unsubscribed;
		c->unsubscribed_at = p->unsubscribed ? t : MODEL_NO_TIME;
		changed = true;
	}
	/* Resubscribing forgets why the contact left; the API cannot set these. */
	if (p->has_unsubscribed && !p->unsubscribed) {
		changed |= set_str(&c->unsubscribe_reason, NULL);
		changed |= set_str(&c->unsubscribe_feedback, NULL);
	}
	if (changed)
		c->updated_at = t;
	return changed;
}
