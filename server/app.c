/* See app.h. */
#include "app.h"

#include "auth.h"
#include "clock.h"
#include "faults.h"
#include "fixtures.h"
#include "journal.h"
#include "ratelimit.h"
#include "snapshot.h"
#include "http.h"
#include "ids.h"
#include "store.h"
#include "watch.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* [decided] A database loaded from other fixtures than the ones given with
 * --fixtures (or from unrecorded ones: a file made before schema version 3) is
 * loaded over with the ones given, saying so on stderr, rather than served as it
 * is or refused: the file named on the command line is what the user asked for,
 * and someone who edits a fixture file and starts again means to see the edit.
 * Without --fixtures nothing was asked for but the database: one loaded from a
 * fixture file is then refused with a line that names that file (a demo
 * prepared with --fixtures must not be lost to the built-in demo data because
 * the flag was forgotten); --reset loads the demo data over it. Data imported
 * with POST /__admin/import is served as it is, neither refused nor loaded over:
 * no file can be named to serve it, and it must stay reachable (to export it);
 * a reset then returns to the demo data, the fixtures of this start. Returns 1
 * when the data must be loaded, 0 when it is served as it is, -1 with err (a
 * database failure, or that refusal). */
static int app_fixture_differs(struct app *a, struct error *err)
{
	char stored[17];
	char *source = NULL;
	if (store_fixture_hash(a->store, stored, &source, err))
		return -1;
	int rc = 0;
	if (!strcmp(stored, a->fixture->hash)) {
		rc = 0;
	} else if (!a->config->fixtures_path && !strcmp(source, SNAPSHOT_IMPORT_SOURCE)) {
		fprintf(stderr,
			"invent-mock: %s holds data imported with %s (hash %s): serving it as it is; "
			"a reset loads the demo data (export it and start with --fixtures FILE to "
			"make it the state a reset returns to)\n",
			a->config->db_path, SNAPSHOT_IMPORT_SOURCE, stored);
		rc = 0;
	} else if (!a->config->fixtures_path && stored[0] && strcmp(source, a->fixture->source)) {
		/* (The same name with another hash is an older build's demo data.) */
		rc = error_set(err, 0,
			       "%s holds data loaded from %s (hash %s), not the demo data: start with "
			       "--fixtures %s to serve it, or --reset to load the demo data over it",
			       a->config->db_path, source, stored, source);
	} else {
		fprintf(stderr,
			"invent-mock: %s holds data from other fixtures (%s) than %s (hash %s): "
			"loading %s over it\n",
			a->config->db_path, stored[0] ? source : "not recorded", a->fixture->source,
			a->fixture->hash, a->fixture->source);
		rc = 1;
	}
	free(source);
	return rc;
}

int app_start(const struct config *cfg, struct app **out, struct error *err)
{
	struct app *a = xcalloc(1, sizeof *a);
	a->config = cfg;
	a->clock = clock_new();
	if (cfg->clock_frozen)
		clock_freeze(a->clock, cfg->clock_ms);
	a->ids = ids_new(cfg->seeded, cfg->seed);
	a->auth = auth_new();
	/* The journal's bulk goes where temporary files go (journal.h says why). */
	const char *tmp = getenv("TMPDIR");
	a->journal = journal_new(cfg->journal_size, tmp && *tmp ? tmp : "/tmp");
	a->faults = faults_new();
	if (cfg->rate_limit)
		a->ratelimit = ratelimit_new(cfg->rate_limit_per_minute);
	a->started_ms = clock_now_ms(a->clock);
	a->started_mono_ms = clock_monotonic_ns() / 1000000;

	int64_t now = clock_now_ms(a->clock);
	int rc = cfg->fixtures_path ? fixture_load_file(cfg->fixtures_path, now, &a->fixture, err)
				    : fixture_load_embedded(now, &a->fixture, err);
	if (rc)
		goto fail;
	struct store_options so = {.path = cfg->db_path, .sync_full = cfg->sync_full};
	bool empty;
	if (store_open(&so, &a->store, &empty, err))
		goto fail;
	int differs = (empty || cfg->reset) ? 1 : app_fixture_differs(a, err);
	if (differs < 0)
		goto fail;
	bool load = differs;
	struct error e = {0};
	if (store_set_fixture(a->store, a->fixture, load, &e)) {
		error_from_store(&e);
		error_set(err, 0, "cannot load fixtures from %s into %s: %s", a->fixture->source,
			  cfg->db_path, e.msg);
		goto fail;
	}
	/* The store has the fixture state now: its structs, as large as the file
	 * or more, would only be a second copy. */
	fixture_free_orgs(a->fixture);
	if (auth_reload(a->auth, a->store, err) || store_start(a->store, err) ||
	    http_start(a, &a->http, err))
		goto fail;
	if (cfg->watch && watch_start(a, cfg->fixtures_path, &a->watch, err))
		goto fail;
	*out = a;
	return 0;
fail:
	app_stop(a);
	return -1;
}

unsigned app_port(const struct app *a)
{
	return http_port(a->http);
}

void app_stop(struct app *a)
{
	if (!a)
		return;
	/* The watcher and HTTP first: a reload and requests in flight still need
	 * the store to finish. */
	watch_free(a->watch);
	http_stop(a->http);
	store_close(a->store);
	auth_free(a->auth);
	journal_free(a->journal);
	faults_free(a->faults);
	ratelimit_free(a->ratelimit);
	fixture_free(a->fixture);
	ids_free(a->ids);
	clock_free(a->clock);
	free(a);
}
