/* See api_contacts.h. Handlers validate on the HTTP thread, defer the database
 * work to the store thread (store_thread.c explains why) and render the answer back on
 * the HTTP thread once it has committed. */
#include "api_contacts.h"

#include "app.h"
#include "clock.h"
#include "contact_create.h"
#include "contact_json.h"
#include "contact_patch.h"
#include "http_request.h"
#include "store.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The state of one request between its handler, its store work and its answer. */
struct op {
	struct contact_patch patch;
	struct contact_create create;
	struct store_list_query query;
	struct contact contact;	  /* the contact answered */
	struct contact before;	  /* PATCH: its own fields before the change; shares
				   * contact's channels and segments (a PATCH changes neither) */
	bool changed;
	char *body;		  /* PATCH: the answer, rendered on the store thread */
	size_t body_len;
	char *before_fields;	  /* PATCH: for the journal */
	struct contact *contacts; /* a page of contacts */
	struct segment *segments; /* a page of segments */
	size_t n;
	int64_t total;
};

static void op_release_contacts(struct op *op)
{
	op->before.channels = NULL; /* borrowed from op->contact */
	op->before.segments = NULL;
	op->before.n_channels = op->before.n_segments = 0;
	contact_cleanup(&op->before);
	contact_cleanup(&op->contact);
}

static void op_free(void *p)
{
	struct op *op = p;
	contact_patch_cleanup(&op->patch);
	contact_create_cleanup(&op->create);
	free(op->body);
	free(op->before_fields);
	op_release_contacts(op);
	for (size_t i = 0; op->contacts && i < op->n; i++)
		contact_cleanup(&op->contacts[i]);
	for (size_t i = 0; op->segments && i < op->n; i++)
		segment_cleanup(&op->segments[i]);
	free(op->contacts);
	free(op->segments);
	free(op);
}

static struct op *op_new(struct request *r)
{
	struct op *op = xcalloc(1, sizeof *op);
	request_set_data(r, op, op_free);
	return op;
}

static int64_t now_ms(struct request *r)
{
	return clock_now_ms(request_app(r)->clock);
}

/* --- Query parameters [decided: invent-api.md §5] --- */

/* A positive integer of at most max; anything else is the message. */
static int parse_positive(const char *v, int64_t max, int64_t *out)
{
	if (!v)
		return 0;
	if (*v < '1' || *v > '9' || strlen(v) > 12)
		return -1;
	for (const char *p = v; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	int64_t n = strtoll(v, NULL, 10);
	if (n > max)
		return -1;
	*out = n;
	return 0;
}

enum { API_TAKE_DEFAULT = 100, API_TAKE_MAX = 100 };

static int parse_paging(struct request *r, int64_t *page, int64_t *take, struct error *err)
{
	const char *p, *t;
	*page = 1;
	*take = API_TAKE_DEFAULT;
	if (request_query(r, "page", &p, err) || request_query(r, "take", &t, err))
		return -1;
	if (parse_positive(p, INT64_MAX / API_TAKE_MAX, page))
		return error_set(err, 400, "page must be a positive integer");
	if (parse_positive(t, API_TAKE_MAX, take))
		return error_set(err, 400, "take must be an integer from 1 to %d", API_TAKE_MAX);
	return 0;
}

/* "true" or "false"; *out stays as it was when the parameter is absent. */
static int parse_bool_param(struct request *r, const char *name, int *out, struct error *err)
{
	const char *v;
	if (request_query(r, name, &v, err))
		return -1;
	if (!v)
		return 0;
	if (strcmp(v, "true") && strcmp(v, "false"))
		return error_set(err, 400, "%s must be true or false", name);
	*out = !strcmp(v, "true");
	return 0;
}

static int parse_status(struct request *r, enum store_status *out, struct error *err)
{
	static const char *const names[] = {
		[STORE_STATUS_ALL] = "ALL",
		[STORE_STATUS_SUBSCRIBED] = "SUBSCRIBED",
		[STORE_STATUS_UNSUBSCRIBED] = "UNSUBSCRIBED",
		[STORE_STATUS_BLOCKED] = "BLOCKED",
		[STORE_STATUS_AI_REPLIES_DISABLED] = "AI_REPLIES_DISABLED",
	};
	const char *v;
	*out = STORE_STATUS_ALL;
	if (request_query(r, "status", &v, err))
		return -1;
	if (!v)
		return 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(v, names[i])) {
			*out = (enum store_status)i;
			return 0;
		}
	return error_set(err, 400, "status must be one of ALL, SUBSCRIBED, UNSUBSCRIBED, BLOCKED, "
				   "AI_REPLIES_DISABLED");
}

static void add_pagination(struct request *r, int64_t total, int64_t page, int64_t take)
{
	char v[32];
	snprintf(v, sizeof v, "%lld", (long long)total);
	request_add_header(r, "pagination-count", v);
	snprintf(v, sizeof v, "%lld", (long long)page);
	request_add_header(r, "pagination-page", v);
	snprintf(v, sizeof v, "%lld", (long long)take);
	request_add_header(r, "pagination-take", v);
}

/* --- Answers, rendered on the HTTP thread after the commit --- */

static void reply_contact(struct request *r, int status)
{
	struct op *op = request_data(r);
	size_t len;
	char *body = contact_json_render(&op->contact, &len);
	request_reply(r, status, body, len);
}

static void reply_contact_201(struct request *r)
{
	reply_contact(r, 201);
}

static void reply_contacts(struct request *r)
{
	struct op *op = request_data(r);
	size_t len;
	char *body = contact_json_render_list(op->contacts, op->n, &len);
	add_pagination(r, op->total, op->query.page, op->query.take);
	request_reply(r, 200, body, len);
}

static void reply_segments(struct request *r)
{
	struct op *op = request_data(r);
	size_t len;
	char *body = segment_json_render_list(op->segments, op->n, &len);
	add_pagination(r, op->total, op->query.page, op->query.take);
	request_reply(r, 200, body, len);
}

/* --- PATCH /orgs/{org_id}/contacts/{contact_id} --- */

static int patch_run(struct store *s, struct request *r, struct error *err)
{
	struct op *op = request_data(r);
	if (store_contact_get_own(s, request_org(r), request_param(r, 1), &op->contact, err))
		return -1;
	struct contact *c = &op->contact;
	/* Channels and segments, as the store kept them or read now: before the
	 * update, which must be the job's last step that can fail (a job that
	 * fails leaves nothing behind, and the update is its only write). */
	size_t lists_len;
	const char *lists = store_lists_get(s, c->store_pk, &lists_len);
	if (!lists) {
		if (store_contact_read_lists(s, c, err))
			return -1;
		char *text = contact_json_render_lists(c, &lists_len);
		store_lists_keep(s, c->store_pk, text, lists_len);
		lists = text;
	}
	/* For the journal: the fields a PATCH can change, before it does. */
	op->before = *c;
	op->before.id = xstrdup(c->id);
	op->before.name = xstrdup_null(c->name);
	op->before.unsubscribe_reason = xstrdup_null(c->unsubscribe_reason);
	op->before.unsubscribe_feedback = xstrdup_null(c->unsubscribe_feedback);
	/* The clock is read here, when the change is applied, not when it arrived. */
	op->changed = contact_patch_apply(c, &op->patch, now_ms(r));
	if (op->changed && store_contact_update(s, c, err))
		return -1;
	/* Rendered here rather than after the commit on the HTTP thread: under load
	 * the HTTP thread is the busier of the two (measured with bench/run.sh).
	 * lists is still valid: no store call since store_lists_get/keep. */
	op->body = contact_json_render_with_lists(c, lists, lists_len, &op->body_len);
	if (op->changed)
		op->before_fields = contact_json_render_patchable(&op->before);
	/* Freed by the thread that allocated them: glibc frees a block from another
	 * thread's heap under that heap's lock, which the two threads then contend for. */
	op_release_contacts(op);
	return 0;
}

/* The PATCH answer, and the contact before and after it for the journal. */
static void reply_patched(struct request *r)
{
	struct op *op = request_data(r);
	if (op->before_fields) {
		request_journal_change(r, op->before_fields);
		op->before_fields = NULL;
	}
	request_reply(r, 200, op->body, op->body_len);
	op->body = NULL;
}

void api_contacts_patch(struct request *r)
{
	struct op *op = op_new(r);
	struct error err = {0};
	if (contact_patch_parse(request_json(r), request_app(r)->config->lenient, &op->patch, &err)) {
		request_reply_error(r, &err);
		return;
	}
	request_defer(r, patch_run, reply_patched);
}

/* --- GET /orgs/{org_id}/contacts --- */

static int list_run(struct store *s, struct request *r, struct error *err)
{
	struct op *op = request_data(r);
	return store_contacts_list(s, &op->query, &op->contacts, &op->n, &op->total, err);
}

void api_contacts_list(struct request *r)
{
	struct op *op = op_new(r);
	struct store_list_query *q = &op->query;
	struct error err = {0};
	q->org_id = request_org(r);
	q->unsubscribed = -1;
	int exclude_admins = 0;
	if (request_query(r, "search", &q->search, &err) ||
	    request_query(r, "name", &q->name, &err) ||
	    request_query(r, "email", &q->email, &err) ||
	    request_query(r, "user_id", &q->user_id, &err) ||
	    request_query(r, "username", &q->username, &err) ||
	    request_query(r, "segment_id", &q->segment_id, &err) ||
	    parse_bool_param(r, "unsubscribed", &q->unsubscribed, &err) ||
	    parse_bool_param(r, "exclude_admins", &exclude_admins, &err) ||
	    parse_status(r, &q->status, &err) || parse_paging(r, &q->page, &q->take, &err)) {
		request_reply_error(r, &err);
		return;
	}
	q->exclude_admins = exclude_admins;
	request_defer(r, list_run, reply_contacts);
}

/* --- POST /orgs/{org_id}/contacts --- */

static int create_steps(struct store *s, struct request *r, struct error *err)
{
	struct op *op = request_data(r);
	struct app *app = request_app(r);
	int64_t now = now_ms(r);
	const char *org = request_org(r);
	if (op->create.contact_id) {
		struct channel ch;
		contact_create_channel(&op->create, app->ids, now, &ch);
		int rc = store_channel_add(s, org, op->create.contact_id, &ch, op->create.segment_ids,
					   op->create.n_segment_ids, now, err);
		channel_cleanup(&ch);
		return rc ? rc : store_contact_get(s, org, op->create.contact_id, &op->contact, err);
	}
	struct contact c;
	contact_create_contact(&op->create, app->ids, now, &c);
	int rc = store_contact_create(s, org, &c, op->create.segment_ids, op->create.n_segment_ids, err);
	if (!rc)
		rc = store_contact_get(s, org, c.id, &op->contact, err);
	contact_cleanup(&c);
	return rc;
}

/* It writes, then reads what it wrote: one unit, so a failing read cannot
 * leave a change behind an error answer. */
static int create_run(struct store *s, struct request *r, struct error *err)
{
	if (store_atomic_begin(s, err))
		return -1;
	return store_atomic_end(s, create_steps(s, r, err), err);
}

void api_contacts_create(struct request *r)
{
	struct op *op = op_new(r);
	struct error err = {0};
	if (contact_create_parse(request_json(r), request_app(r)->config->lenient, &op->create, &err)) {
		request_reply_error(r, &err);
		return;
	}
	request_defer(r, create_run, reply_contact_201);
}

/* --- GET /orgs/{org_id}/contacts/{contact_id}/segments --- */

static int segments_run(struct store *s, struct request *r, struct error *err)
{
	struct op *op = request_data(r);
	return store_contact_segments(s, request_org(r), request_param(r, 1), op->query.page,
				      op->query.take, &op->segments, &op->n, &op->total, err);
}

void api_contacts_segments(struct request *r)
{
	struct op *op = op_new(r);
	struct error err = {0};
	if (parse_paging(r, &op->query.page, &op->query.take, &err)) {
		request_reply_error(r, &err);
		return;
	}
	request_defer(r, segments_run, reply_segments);
}

/* --- POST /orgs/{org_id}/contacts/{contact_id}/segments/{segment_id} --- */

static int add_segment_run(struct store *s, struct request *r, struct error *err)
{
	struct op *op = request_data(r);
	const char *org = request_org(r), *contact = request_param(r, 1);
	/* Write, then read back: one unit, as in create_run. */
	if (store_atomic_begin(s, err))
		return -1;
	int rc = store_contact_add_segment(s, org, contact, request_param(r, 2), now_ms(r), err);
	if (!rc)
		rc = store_contact_get(s, org, contact, &op->contact, err);
	return store_atomic_end(s, rc, err);
}

void api_contacts_add_segment(struct request *r)
{
	op_new(r);
	request_defer(r, add_segment_run, reply_contact_201);
}
