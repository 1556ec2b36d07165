/* See snapshot.h. */
#include "snapshot.h"

#include "app.h"
#include "auth.h"
#include "clock.h"
#include "events.h"
#include "fixtures.h"
#include "jsonbuf.h"
#include "store.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

struct snapshot {
	struct store *staged;	  /* NULL once installed */
	struct auth_index *index; /* NULL once published */
	char hash[17];
	char *source;
	int64_t orgs, contacts;
};

int snapshot_prepare(struct app *app, const char *text, size_t len, const char *source,
		     bool file, struct snapshot **out, struct error *err)
{
	struct fixture *f = NULL;
	struct snapshot *snap = xcalloc(1, sizeof *snap);
	int64_t now = clock_now_ms(app->clock);
	int rc = file ? fixture_parse(text, len, source, now, &f, err)
		      : fixture_parse_document(text, len, source, now, &f, err);
	if (rc) {
		err->status = 400;
		goto out;
	}
	memcpy(snap->hash, f->hash, sizeof snap->hash);
	snap->source = xstrdup(source);
	snap->orgs = (int64_t)f->n_orgs;
	for (size_t i = 0; i < f->n_orgs; i++)
		snap->contacts += (int64_t)f->orgs[i].n_contacts;
	/* The key index is built here too, from the staged copy that no other
	 * thread sees, so the store thread only swaps. */
	if ((rc = store_stage_fixture(f, &snap->staged, err)) ||
	    (rc = auth_index_build(snap->staged, &snap->index, err))) {
		error_from_store(err);
		err->status = 500;
	}
out:
	fixture_free(f);
	if (rc) {
		snapshot_free(snap);
		return -1;
	}
	*out = snap;
	return 0;
}

int snapshot_install(struct store *s, struct snapshot *snap, struct error *err)
{
	if (store_replace_fixture(s, snap->staged, err))
		return -1;
	snap->staged = NULL; /* the store's now */
	return 0;
}

void snapshot_publish(struct app *app, struct snapshot *snap)
{
	auth_publish(app->auth, snap->index);
	snap->index = NULL;
	/* The state event's fields: what health now says, and the counts. */
	struct jsonbuf b;
	jsonbuf_init(&b, 128);
	jsonbuf_open(&b, '{');
	jsonbuf_key(&b, "fixtures");
	jsonbuf_string(&b, snap->source);
	jsonbuf_key(&b, "fixtures_hash");
	jsonbuf_string(&b, snap->hash);
	jsonbuf_key(&b, "orgs");
	jsonbuf_int(&b, snap->orgs);
	jsonbuf_key(&b, "contacts");
	jsonbuf_int(&b, snap->contacts);
	char *text = jsonbuf_finish(&b, NULL);
	events_publish_state(app->http, EVENTS_IMPORT, text + 1); /* the members, after the '{' */
	free(text);
}

const char *snapshot_hash(const struct snapshot *snap)
{
	return snap->hash;
}

int64_t snapshot_orgs(const struct snapshot *snap)
{
	return snap->orgs;
}

int64_t snapshot_contacts(const struct snapshot *snap)
{
	return snap->contacts;
}

void snapshot_free(struct snapshot *snap)
{
	if (!snap)
		return;
	store_close(snap->staged);
	auth_index_free(snap->index);
	free(snap->source);
	free(snap);
}
