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

static void patch_free(void *p)
{
	contact_patch_cleanup(p);
	free(p);
}

static int patch_run(struct store *s, struct request *r, struct error *err)
{
	const struct contact_patch *p = request_data(r);
	struct contact c = {0};
	if (store_contact_get(s, request_org(r), request_param(r, 1), &c, err))
		return -1;
	/* The clock is read here, when the change is applied, not when it arrived. */
	int64_t now = clock_now_ms(request_app(r)->clock);
	if (contact_patch_apply(&c, p, now) && store_contact_update(s, &c, err)) {
		contact_cleanup(&c);
		return -1;
	}
	size_t len;
	char *body = contact_json_render(&c, &len);
	contact_cleanup(&c);
	request_reply(r, 200, body, len);
	return 0;
}

void api_contacts_patch(struct request *r)
{
	struct contact_patch *p = xcalloc(1, sizeof *p);
	struct error err = {0};
	if (contact_patch_parse(request_json(r), request_app(r)->config->lenient, p, &err)) {
		free(p);
		request_reply_error(r, &err);
		return;
	}
	request_set_data(r, p, patch_free);
	request_defer(r, patch_run);
}
