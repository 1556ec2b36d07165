/* See app.h. */
#include "app.h"

#include "auth.h"
#include "clock.h"
#include "faults.h"
#include "fixtures.h"
#include "journal.h"
#include "ratelimit.h"
#include "http.h"
#include "ids.h"
#include "store.h"
#include "xalloc.h"

#include <stdlib.h>
#include <time.h>

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
	struct error e = {0};
	if (store_set_fixture(a->store, a->fixture, empty || cfg->reset, &e)) {
		error_set(err, 0, "cannot load fixtures from %s into %s: %s", a->fixture->source,
			  cfg->db_path, e.msg);
		goto fail;
	}
	if (auth_reload(a->auth, a->store, err) || store_start(a->store, err) ||
	    http_start(a, &a->http, err))
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
	/* HTTP first: requests in flight still need the store to answer. */
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
