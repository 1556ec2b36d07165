/* See api_contacts.h. Handlers validate on the HTTP thread and defer the store
 * work to the store thread (store.c explains why). */
#include "api_contacts.h"

#include "app.h"
#include "clock.h"
#include "contact_json.h"
#include "contact_patch.h"
#include "http.h"
#include "store.h"
#include "xalloc.h"

#include <stdlib.h>

/* A PATCH in flight: the validated body, then the contact as stored. */
struct patch_state {
	struct contact_patch patch;
	struct contact contact;
};

static void patch_free(void *p)
{
	struct patch_state *st = p;
	contact_patch_cleanup(&st->patch);
	contact_cleanup(&st->contact);
	free(st);
}

static int patch_run(struct store *s, struct request *r, struct error *err)
{
	struct patch_state *st = request_data(r);
	if (store_contact_get(s, request_org(r), request_param(r, 1), &st->contact, err))
		return -1;
	/* The clock is read here, when the change is applied, not when it arrived. */
	int64_t now = clock_now_ms(request_app(r)->clock);
	if (contact_patch_apply(&st->contact, &st->patch, now))
		return store_contact_update(s, &st->contact, err);
	return 0;
}

/* The contact exactly as the committed transaction wrote it. */
static void reply_contact(struct request *r)
{
	struct patch_state *st = request_data(r);
	size_t len;
	char *body = contact_json_render(&st->contact, &len);
	request_reply(r, 200, body, len);
}

void api_contacts_patch(struct request *r)
{
	struct patch_state *st = xcalloc(1, sizeof *st);
	struct error err = {0};
	if (contact_patch_parse(request_json(r), request_app(r)->config->lenient, &st->patch, &err)) {
		free(st);
		request_reply_error(r, &err);
		return;
	}
	request_set_data(r, st, patch_free);
	request_defer(r, patch_run, reply_contact);
}
