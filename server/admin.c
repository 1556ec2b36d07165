/* See admin.h. */
#include "admin.h"

#include "app.h"
#include "auth.h"
#include "clock.h"
#include "contact_json.h"
#include "embedded.h"
#include "events.h"
#include "faults.h"
#include "fixtures.h"
#include "http.h"
#include "http_request.h"
#include "ids.h"
#include "journal.h"
#include "snapshot.h"
#include "store.h"
#include "watch.h"
#include "xalloc.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct admin_op {
	char org_id[IDS_MAX], api_key[IDS_MAX];
	char *reset_org;
	bool everything; /* reset: faults, clock and journal too */
	struct contact contact;
	int64_t orgs, contacts;
	double duration_ms;
	struct auth_index *index; /* built by the job, published once it committed */
	struct store_org *org_list; /* GET /__admin/orgs */
	size_t n_orgs;
	char fixture_hash[17];	  /* health: what the data was loaded from */
	char *fixture_source;
	struct store_export *export;
	struct snapshot *snap;	  /* import: staged, until installed */
	struct error prepare_err; /* import: why there is no snap */
};

static void op_free(void *p)
{
	struct admin_op *op = p;
	free(op->reset_org);
	free(op->fixture_source);
	store_export_free(op->export);
	snapshot_free(op->snap);
	contact_cleanup(&op->contact);
	auth_index_free(op->index);
	store_orgs_free(op->org_list, op->n_orgs);
	free(op);
}

static struct admin_op *op_new(struct request *r)
{
	struct admin_op *op = xcalloc(1, sizeof *op);
	request_set_data(r, op, op_free);
	return op;
}

static void reply_json(struct request *r, int status, cJSON *v)
{
	size_t len;
	char *s = contact_json_print(v, &len);
	cJSON_Delete(v);
	request_reply(r, status, s, len);
}

static void reply_no_content(struct request *r)
{
	request_reply(r, 204, xstrdup(""), 0);
}

static void reply_err(struct request *r, int status, const char *msg)
{
	struct error e = {.status = status};
	snprintf(e.msg, sizeof e.msg, "%s", msg);
	request_reply_error(r, &e);
}

/* Tells the event streams of a change made (events.h): fields, an object (taken
 * over; NULL: none), holds the members that follow "kind". */
static void publish(struct request *r, const char *kind, cJSON *fields)
{
	char *text = fields ? cJSON_PrintUnformatted(fields) : NULL;
	cJSON_Delete(fields);
	size_t n = text ? strlen(text) : 0;
	if (n > 2)
		text[n - 1] = '\0'; /* "{...}" without its braces */
	events_publish_state(request_app(r)->http, kind, n > 2 ? text + 1 : NULL);
	free(text);
}

/* Fields outside names are refused, as on the emulated API. */
static int only_fields(const cJSON *body, const char *const *names, struct error *err)
{
	if (body && !cJSON_IsObject(body))
		return error_set(err, 400, "Body must be a JSON object");
	for (const cJSON *f = body ? body->child : NULL; f; f = f->next) {
		bool known = false;
		for (const char *const *n = names; *n && !known; n++)
			known = !strcmp(*n, f->string);
		if (!known)
			return error_set(err, 400, "property %.200s should not exist", f->string);
	}
	return 0;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* The key index changes only with the database: a job that changes orgs or
 * keys builds the new index inside its transaction (failing with it if that
 * fails), and it is published here, on the store thread, once the commit has
 * succeeded and before the answer leaves. */
static void publish_index(struct request *r)
{
	struct admin_op *op = request_data(r);
	assert(op->index); /* the job succeeded, so it built one */
	auth_publish(request_app(r)->auth, op->index);
	op->index = NULL;
}

/* --- Health --- */

static int health_run(struct store *s, struct request *r, struct error *err)
{
	struct admin_op *op = request_data(r);
	/* The data says what it was loaded from (an import or a --watch reload
	 * changes it, a reset copies it back), read in the same job as the counts. */
	return store_counts(s, &op->orgs, &op->contacts, err) ||
	       store_fixture_hash(s, op->fixture_hash, &op->fixture_source, err);
}

static void health_reply(struct request *r)
{
	struct admin_op *op = request_data(r);
	struct app *app = request_app(r);
	int64_t now = clock_now_ms(app->clock);
	char t[CLOCK_TEXT_SIZE];
	clock_format(now, t);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "status", "ok");
	cJSON_AddStringToObject(o, "version", INVENT_MOCK_VERSION);
	cJSON_AddNumberToObject(o, "uptime_ms",
				(double)(clock_monotonic_ns() / 1000000 - app->started_mono_ms));
	cJSON_AddStringToObject(o, "db", app->config->db_path);
	cJSON_AddNumberToObject(o, "orgs", (double)op->orgs);
	cJSON_AddNumberToObject(o, "contacts", (double)op->contacts);
	bool recorded = op->fixture_hash[0]; /* not in a database older than version 3 */
	cJSON_AddStringToObject(o, "fixtures", recorded ? op->fixture_source : app->fixture->source);
	cJSON_AddStringToObject(o, "fixtures_hash", recorded ? op->fixture_hash : app->fixture->hash);
	char werr[ERROR_MSG_MAX];
	if (watch_error(app->watch, werr, sizeof werr))
		cJSON_AddStringToObject(o, "fixtures_error", werr);
	else
		cJSON_AddNullToObject(o, "fixtures_error");
	cJSON_AddStringToObject(o, "clock", t);
	cJSON_AddBoolToObject(o, "clock_frozen", clock_is_frozen(app->clock));
	reply_json(r, 200, o);
}

void admin_health(struct request *r)
{
	op_new(r);
	request_defer(r, health_run, health_reply);
}

/* --- Reset --- */

static int reset_run(struct store *s, struct request *r, struct error *err)
{
	struct admin_op *op = request_data(r);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc;
	if (op->reset_org) {
		rc = store_reset_org(s, op->reset_org, err);
	} else {
		/* Isolated orgs and their keys go with a whole-store reset. Its index
		 * is read from the fixture state before: the reset replaces the
		 * database outside any transaction, so a read after it that failed
		 * could not take the reset back. */
		struct store *fixture;
		rc = store_fixture_state(s, &fixture, err);
		if (!rc)
			rc = auth_index_build(fixture, &op->index, err);
		if (!rc)
			rc = store_reset(s, err);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	op->duration_ms = ms_between(&t0, &t1);
	return rc;
}

static void reset_reply(struct request *r)
{
	struct admin_op *op = request_data(r);
	if (op->everything) {
		/* The rest of the start state, once the data is back: no fault rule
		 * (and no delay left running), the clock as the command line set it,
		 * an empty journal. */
		struct app *app = request_app(r);
		faults_clear(app->faults);
		http_end_delays(app->http);
		if (app->config->clock_frozen)
			clock_freeze(app->clock, app->config->clock_ms);
		else
			clock_set_real(app->clock);
		journal_clear(app->journal);
	}
	cJSON *fields = cJSON_CreateObject();
	if (op->reset_org)
		cJSON_AddStringToObject(fields, "org_id", op->reset_org);
	else
		cJSON_AddNullToObject(fields, "org_id");
	cJSON_AddBoolToObject(fields, "everything", op->everything);
	publish(r, EVENTS_RESET, fields);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "duration_ms", round(op->duration_ms * 1000) / 1000);
	reply_json(r, 200, o);
}

void admin_reset(struct request *r)
{
	struct admin_op *op = op_new(r);
	static const char *const fields[] = {"org_id", "everything", NULL};
	const cJSON *body = request_json(r), *org, *all;
	struct error err = {0};
	if (only_fields(body, fields, &err)) {
		request_reply_error(r, &err);
		return;
	}
	if ((all = cJSON_GetObjectItemCaseSensitive(body, "everything"))) {
		if (!cJSON_IsBool(all)) {
			reply_err(r, 400, "everything must be a boolean");
			return;
		}
		op->everything = cJSON_IsTrue(all);
	}
	if ((org = cJSON_GetObjectItemCaseSensitive(body, "org_id")) && !cJSON_IsNull(org)) {
		if (op->everything) {
			reply_err(r, 400, "everything resets the whole server: it cannot go with org_id");
			return;
		}
		if (!cJSON_IsString(org)) {
			reply_err(r, 400, "org_id must be a string");
			return;
		}
		op->reset_org = xstrdup(org->valuestring);
		request_defer(r, reset_run, reset_reply);
		return;
	}
	/* The whole store is replaced between transactions. */
	request_on_commit(r, publish_index);
	request_defer_alone(r, reset_run, reset_reply);
}

/* --- Snapshots: export and import --- */

static int export_run(struct store *s, struct request *r, struct error *err)
{
	struct admin_op *op = request_data(r);
	struct error qerr = {0};
	const char *org_id;
	if (request_query(r, "org_id", &org_id, &qerr)) {
		*err = qerr;
		return -1;
	}
	return store_export_begin(s, org_id, &op->export, err);
}

static size_t export_piece(void *x, char *buf, size_t max)
{
	return store_export_read(x, buf, max);
}

static void export_done(void *x)
{
	store_export_free(x);
}

static void export_reply(struct request *r)
{
	struct admin_op *op = request_data(r);
	struct store_export *x = op->export;
	op->export = NULL;
	request_add_header(r, "Content-Disposition", "attachment; filename=\"invent-mock-export.json\"");
	/* Rendered as the client reads, from a copy the store thread made in one
	 * step (about a reset's time): neither thread holds the rest meanwhile. */
	request_reply_stream(r, 200, export_piece, x, export_done);
}

void admin_export(struct request *r)
{
	op_new(r);
	request_defer_alone(r, export_run, export_reply);
}

/* On a thread of its own: parsing and staging 100,000 contacts takes seconds. */
static void import_prepare(struct request *r)
{
	struct admin_op *op = request_data(r);
	size_t len;
	const char *body = request_body(r, &len);
	snapshot_prepare(request_app(r), body, len, SNAPSHOT_IMPORT_SOURCE, false, &op->snap,
			 &op->prepare_err);
}

static int import_run(struct store *s, struct request *r, struct error *err)
{
	struct admin_op *op = request_data(r);
	if (!op->snap) {
		*err = op->prepare_err;
		return -1;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = snapshot_install(s, op->snap, err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	op->duration_ms = ms_between(&t0, &t1);
	return rc;
}

static void import_publish(struct request *r)
{
	struct admin_op *op = request_data(r);
	snapshot_publish(request_app(r), op->snap);
}

static void import_reply(struct request *r)
{
	struct admin_op *op = request_data(r);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "fixtures", SNAPSHOT_IMPORT_SOURCE);
	cJSON_AddStringToObject(o, "fixtures_hash", snapshot_hash(op->snap));
	cJSON_AddNumberToObject(o, "orgs", (double)snapshot_orgs(op->snap));
	cJSON_AddNumberToObject(o, "contacts", (double)snapshot_contacts(op->snap));
	cJSON_AddNumberToObject(o, "duration_ms", round(op->duration_ms * 1000) / 1000);
	reply_json(r, 200, o);
}

void admin_import(struct request *r)
{
	op_new(r);
	request_on_commit(r, import_publish);
	/* The whole store is replaced between transactions, as by a reset. */
	request_defer_alone_after(r, import_prepare, import_run, import_reply);
}

/* --- Isolated orgs --- */

static int org_create_run(struct store *s, struct request *r, struct error *err)
{
	struct admin_op *op = request_data(r);
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(request_json(r), "from");
	if (store_atomic_begin(s, err))
		return -1;
	int rc = store_org_copy(s, from->valuestring, op->org_id, op->api_key, err);
	if (!rc)
		rc = auth_index_build(s, &op->index, err);
	return store_atomic_end(s, rc, err);
}

static void publish_org(struct request *r, const char *org_id, const char *change)
{
	cJSON *fields = cJSON_CreateObject();
	cJSON_AddStringToObject(fields, "org_id", org_id);
	cJSON_AddStringToObject(fields, "change", change);
	publish(r, EVENTS_ORGS, fields);
}

static void org_create_reply(struct request *r)
{
	struct admin_op *op = request_data(r);
	publish_org(r, op->org_id, "created");
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "org_id", op->org_id);
	cJSON_AddStringToObject(o, "api_key", op->api_key);
	reply_json(r, 201, o);
}

void admin_org_create(struct request *r)
{
	struct admin_op *op = op_new(r);
	static const char *const fields[] = {"from", NULL};
	const cJSON *body = request_json(r);
	struct error err = {0};
	if (only_fields(body, fields, &err)) {
		request_reply_error(r, &err);
		return;
	}
	const cJSON *from = cJSON_GetObjectItemCaseSensitive(body, "from");
	if (!cJSON_IsString(from)) {
		reply_err(r, 400, "from must be the id of a fixture org");
		return;
	}
	struct ids *ids = request_app(r)->ids;
	ids_generate(ids, "org_", op->org_id);
	ids_generate(ids, "sk_test_", op->api_key);
	request_on_commit(r, publish_index);
	request_defer(r, org_create_run, org_create_reply);
}

static int orgs_run(struct store *s, struct request *r, struct error *err)
{
	struct admin_op *op = request_data(r);
	return store_orgs(s, &op->org_list, &op->n_orgs, err);
}

static void orgs_reply(struct request *r)
{
	struct admin_op *op = request_data(r);
	cJSON *o = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(o, "orgs");
	for (size_t i = 0; i < op->n_orgs; i++) {
		const struct store_org *g = &op->org_list[i];
		cJSON *org = cJSON_CreateObject();
		cJSON_AddItemToArray(list, org);
		cJSON_AddStringToObject(org, "id", g->id);
		cJSON_AddStringToObject(org, "name", g->name);
		if (g->parent_id)
			cJSON_AddStringToObject(org, "parent_id", g->parent_id);
		else
			cJSON_AddNullToObject(org, "parent_id");
		cJSON *keys = cJSON_AddArrayToObject(org, "api_keys");
		for (size_t k = 0; k < g->n_api_keys; k++)
			cJSON_AddItemToArray(keys, cJSON_CreateString(g->api_keys[k]));
		cJSON_AddBoolToObject(org, "isolated", g->isolated);
		cJSON_AddNumberToObject(org, "contacts_count", (double)g->contacts_count);
		cJSON *segs = cJSON_AddArrayToObject(org, "segments");
		for (size_t k = 0; k < g->n_segments; k++) {
			cJSON *seg = cJSON_CreateObject();
			cJSON_AddItemToArray(segs, seg);
			cJSON_AddStringToObject(seg, "id", g->segments[k].id);
			cJSON_AddStringToObject(seg, "name", g->segments[k].name);
			cJSON_AddStringToObject(seg, "color", g->segments[k].color);
			cJSON_AddNumberToObject(seg, "contacts_count",
						(double)g->segments[k].contacts_count);
		}
	}
	reply_json(r, 200, o);
}

void admin_orgs_list(struct request *r)
{
	op_new(r);
	request_defer(r, orgs_run, orgs_reply);
}

static int org_delete_run(struct store *s, struct request *r, struct error *err)
{
	struct admin_op *op = request_data(r);
	if (store_atomic_begin(s, err))
		return -1;
	int rc = store_org_delete(s, request_param(r, 0), err);
	if (!rc)
		rc = auth_index_build(s, &op->index, err);
	return store_atomic_end(s, rc, err);
}

static void org_delete_reply(struct request *r)
{
	publish_org(r, request_param(r, 0), "deleted");
	reply_no_content(r);
}

void admin_org_delete(struct request *r)
{
	op_new(r);
	request_on_commit(r, publish_index);
	request_defer(r, org_delete_run, org_delete_reply);
}

/* --- Any contact, without a key --- */

static int contact_run(struct store *s, struct request *r, struct error *err)
{
	struct admin_op *op = request_data(r);
	return store_contact_get(s, request_param(r, 0), request_param(r, 1), &op->contact, err);
}

static void contact_reply(struct request *r)
{
	struct admin_op *op = request_data(r);
	size_t len;
	char *body = contact_json_render(&op->contact, &len);
	request_reply(r, 200, body, len);
}

void admin_contact(struct request *r)
{
	op_new(r);
	request_defer(r, contact_run, contact_reply);
}

/* --- The journal --- */

static int journal_filter(struct request *r, struct journal_filter *f, struct error *err)
{
	const char *status, *since, *limit;
	memset(f, 0, sizeof *f);
	if (request_query(r, "method", &f->method, err) || request_query(r, "path", &f->path, err) ||
	    request_query(r, "org_id", &f->org_id, err) || request_query(r, "status", &status, err) ||
	    request_query(r, "since", &since, err) || request_query(r, "limit", &limit, err))
		return -1;
	char *end;
	if (status) {
		long v = strtol(status, &end, 10);
		if (*end || v < 100 || v > 599)
			return error_set(err, 400, "status must be an integer from 100 to 599");
		f->status = (int)v;
	}
	if (since) {
		if (clock_parse(since, &f->since_ms))
			return error_set(err, 400, "since must be an RFC 3339 date-time");
		f->has_since = true;
	}
	if (limit) {
		long long v = strtoll(limit, &end, 10);
		if (*end || v < 1 || *limit == '+' || *limit == ' ')
			return error_set(err, 400, "limit must be a positive integer");
		f->limit = (size_t)v;
	}
	return 0;
}

static size_t journal_piece(void *cursor, char *buf, size_t max)
{
	return journal_cursor_read(cursor, buf, max);
}

static void journal_cursor_done(void *cursor)
{
	journal_cursor_free(cursor);
}

static void requests(struct request *r, bool count)
{
	struct journal_filter f;
	struct error err = {0};
	if (journal_filter(r, &f, &err)) {
		request_reply_error(r, &err);
		return;
	}
	if (!count) {
		/* Streamed: the whole journal (10,000 entries by default, each up
		 * to 128 KiB) built as one answer held the journal's lock, and the
		 * HTTP thread, for as long as that took, and its memory at once. */
		struct journal_cursor *c = journal_cursor_new(request_app(r)->journal, &f);
		request_reply_stream(r, 200, journal_piece, c, journal_cursor_done);
		return;
	}
	size_t len;
	char *body = journal_query(request_app(r)->journal, &f, count, &len);
	request_reply(r, 200, body, len);
}

void admin_requests(struct request *r)
{
	requests(r, false);
}

void admin_requests_count(struct request *r)
{
	requests(r, true);
}

void admin_request_get(struct request *r)
{
	const char *id = request_param(r, 0);
	size_t n = strlen(id), len;
	char *body = NULL;
	/* Digits only, and few enough to be an id: anything else names no entry. */
	if (n <= 18 && strspn(id, "0123456789") == n)
		body = journal_entry(request_app(r)->journal, strtoll(id, NULL, 10), true, &len);
	if (!body) {
		reply_err(r, 404, "Request not found");
		return;
	}
	request_reply(r, 200, body, len);
}

void admin_requests_clear(struct request *r)
{
	journal_clear(request_app(r)->journal);
	publish(r, EVENTS_JOURNAL, NULL);
	reply_no_content(r);
}

/* --- Faults --- */

void admin_faults_list(struct request *r)
{
	size_t len;
	char *body = faults_list(request_app(r)->faults, &len);
	request_reply(r, 200, body, len);
}

void admin_faults_add(struct request *r)
{
	char *rule;
	struct error err = {0};
	if (faults_add(request_app(r)->faults, request_json(r), &rule, &err)) {
		request_reply_error(r, &err);
		return;
	}
	publish(r, EVENTS_FAULTS, NULL);
	request_reply(r, 201, rule, strlen(rule));
}

void admin_faults_clear(struct request *r)
{
	faults_clear(request_app(r)->faults);
	/* A request held by a delay of up to 10 minutes would otherwise keep its
	 * connection (and a test's teardown waiting) after its rule is gone. */
	http_end_delays(request_app(r)->http);
	publish(r, EVENTS_FAULTS, NULL);
	reply_no_content(r);
}

void admin_fault_remove(struct request *r)
{
	const char *id = request_param(r, 0);
	char *end;
	long long v = strtoll(id, &end, 10);
	struct error err = {0};
	if (*end || v < 1)
		error_set(&err, 404, "Fault %.64s not found", id);
	else if (!faults_remove(request_app(r)->faults, v, &err)) {
		publish(r, EVENTS_FAULTS, NULL);
		reply_no_content(r);
		return;
	}
	request_reply_error(r, &err);
}

/* --- The clock --- */

void admin_clock_get(struct request *r)
{
	struct clock *c = request_app(r)->clock;
	char t[CLOCK_TEXT_SIZE];
	clock_format(clock_now_ms(c), t);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "now", t);
	cJSON_AddBoolToObject(o, "frozen", clock_is_frozen(c));
	reply_json(r, 200, o);
}

void admin_clock_set(struct request *r)
{
	static const char *const fields[] = {"frozen_at", "advance_ms", "mode", NULL};
	const cJSON *body = request_json(r);
	struct error err = {0};
	if (only_fields(body, fields, &err)) {
		request_reply_error(r, &err);
		return;
	}
	struct clock *c = request_app(r)->clock;
	const cJSON *frozen = cJSON_GetObjectItemCaseSensitive(body, "frozen_at"),
		    *advance = cJSON_GetObjectItemCaseSensitive(body, "advance_ms"),
		    *mode = cJSON_GetObjectItemCaseSensitive(body, "mode");
	if (!!frozen + !!advance + !!mode != 1) {
		reply_err(r, 400, "Give exactly one of frozen_at, advance_ms, mode");
		return;
	}
	int64_t ms;
	if (frozen) {
		if (!cJSON_IsString(frozen) || clock_parse(frozen->valuestring, &ms)) {
			reply_err(r, 400, "frozen_at must be an RFC 3339 date-time");
			return;
		}
		clock_freeze(c, ms);
	} else if (advance) {
		if (!cJSON_IsNumber(advance) || advance->valuedouble < 0 ||
		    advance->valuedouble != floor(advance->valuedouble) || advance->valuedouble > 1e15) {
			reply_err(r, 400, "advance_ms must be a whole number, 0 or more");
			return;
		}
		clock_advance(c, (int64_t)advance->valuedouble);
	} else {
		if (!cJSON_IsString(mode) || strcmp(mode->valuestring, "real")) {
			reply_err(r, 400, "mode must be \"real\"");
			return;
		}
		clock_set_real(c);
	}
	char t[CLOCK_TEXT_SIZE];
	clock_format(clock_now_ms(c), t);
	cJSON *changed = cJSON_CreateObject();
	cJSON_AddStringToObject(changed, "now", t);
	cJSON_AddBoolToObject(changed, "frozen", clock_is_frozen(c));
	publish(r, EVENTS_CLOCK, changed);
	admin_clock_get(r);
}

/* --- The published contract --- */

void admin_openapi(struct request *r)
{
	request_reply(r, 200, xstrndup(embedded_openapi_json, embedded_openapi_json_len),
		      embedded_openapi_json_len);
}
