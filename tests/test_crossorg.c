/* The cross-org matrix (invent-api.md §2): every /orgs endpoint, driven with
 * every key against every org in the path and every contact and segment, on a
 * purpose-made fixture whose ids overlap across orgs.
 *
 * Fixture: three top-level orgs A, B, C and A1, a sub-org of A, each with its
 * own key. Every org holds a contact "ct_same" and a segment "seg_same", plus
 * ids of its own ("ct_a", "seg_a", ...); channel ids and user_ids overlap too.
 * The only thing telling the orgs' data apart is the names: every contact,
 * channel and segment name of org L starts with "L " ("A same", "A1 only",
 * "B only segment"), and every org holds a different number of contacts and
 * memberships.
 *
 * The test keeps a model of the store (contacts, channel counts, memberships)
 * and computes every expected answer from it:
 *   - the key reaches the path's org ("c" is the key's own org; a parent key
 *     reaches its sub-org by id; a sub-org key only its own org), else 401
 *     "This API key cannot access org X", the same for an unknown org;
 *   - a contact not in the reached org is 404 "Contact not found"; a segment
 *     not in it is 404 "Segment not found", or for a create's segment_ids 400
 *     "segment X does not exist in this org" (checked before the contact, as
 *     the README's order of checks puts the body's 400 before the contact's
 *     404);
 *   - every 2xx body is parsed: every "name" in it starts with the reached
 *     org's label, every id is one of that org's, counts (list length,
 *     pagination-count, contacts_count, channels, segments) are that org's;
 *   - a refused write changes nothing (the contact in every org, read with
 *     GET /__admin/orgs/{org}/contacts/{id}, and every org's contact count);
 *     an accepted one changes only the reached org's contact.
 * Each case prints how many combinations it checked. */
#include "http_util.h"
#include "testlib.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CT_JSON "Content-Type: application/json"

/* ------------------------------------------------------------------ model */

enum { N_ORGS = 4, MAX_CONTACTS = 512 };

struct mcontact {
	char id[64];
	char name[96];
	unsigned segs; /* bit 0: seg_same, bit 1: seg_<l> */
	int n_channels;
};

struct morg {
	const char *label, *id, *key, *parent, *lower;
	int n;
	struct mcontact c[MAX_CONTACTS];
};

/* Initial memberships per contact (index 0 is ct_same, 1 is ct_<l>, then
 * extras), chosen so that no two orgs agree on any count. */
static const struct {
	const char *label, *id, *key, *parent, *lower;
	int n;
	unsigned masks[8];
} ORG_DEFS[N_ORGS] = {
	{"A", "org_a", "sk_xo_a", NULL, "a", 3, {3, 2, 1}},
	{"A1", "org_a1", "sk_xo_a1", "org_a", "a1", 2, {1, 0}},
	{"B", "org_b", "sk_xo_b", NULL, "b", 4, {0, 3, 2, 3}},
	{"C", "org_c", "sk_xo_c", NULL, "c", 5, {3, 1, 1, 1, 0}},
};

static struct morg M[N_ORGS];

/* The org ids a request may name: "c", the four orgs and one that does not exist. */
static const char *const PATH_ORGS[] = {"c", "org_a", "org_a1", "org_b", "org_c", "org_nope"};
enum { N_PATH_ORGS = 6 };
/* Contact ids: the shared one and one unique to each org. */
static const char *const CONTACTS[] = {"ct_same", "ct_a", "ct_a1", "ct_b", "ct_c"};
enum { N_CONTACTS = 5 };
static const char *const SEGMENTS[] = {"seg_same", "seg_a", "seg_a1", "seg_b", "seg_c"};
enum { N_SEGMENTS = 5 };

static void model_init(void)
{
	memset(M, 0, sizeof M);
	for (int o = 0; o < N_ORGS; o++) {
		struct morg *m = &M[o];
		m->label = ORG_DEFS[o].label;
		m->id = ORG_DEFS[o].id;
		m->key = ORG_DEFS[o].key;
		m->parent = ORG_DEFS[o].parent;
		m->lower = ORG_DEFS[o].lower;
		m->n = ORG_DEFS[o].n;
		for (int i = 0; i < m->n; i++) {
			struct mcontact *c = &m->c[i];
			if (i == 0) {
				snprintf(c->id, sizeof c->id, "ct_same");
				snprintf(c->name, sizeof c->name, "%s same", m->label);
			} else if (i == 1) {
				snprintf(c->id, sizeof c->id, "ct_%s", m->lower);
				snprintf(c->name, sizeof c->name, "%s only", m->label);
			} else {
				snprintf(c->id, sizeof c->id, "ct_%s_%d", m->lower, i);
				snprintf(c->name, sizeof c->name, "%s extra %d", m->label, i);
			}
			c->segs = ORG_DEFS[o].masks[i];
			c->n_channels = 1;
		}
	}
}

static int org_index(const char *id)
{
	for (int o = 0; o < N_ORGS; o++)
		if (!strcmp(M[o].id, id))
			return o;
	return -1;
}

/* The org a request with key k and path org reaches, or -1 (401). */
static int resolve(int k, const char *path_org)
{
	if (!strcmp(path_org, "c"))
		return k;
	int o = org_index(path_org);
	if (o < 0)
		return -1;
	if (o == k || (M[o].parent && !strcmp(M[o].parent, M[k].id)))
		return o;
	return -1;
}

static struct mcontact *contact_in(int o, const char *id)
{
	for (int i = 0; i < M[o].n; i++)
		if (!strcmp(M[o].c[i].id, id))
			return &M[o].c[i];
	return NULL;
}

/* The segment's bit in org o, or -1 if o has no such segment. */
static int seg_bit(int o, const char *seg)
{
	if (!strcmp(seg, "seg_same"))
		return 0;
	char own[32];
	snprintf(own, sizeof own, "seg_%s", M[o].lower);
	return strcmp(seg, own) ? -1 : 1;
}

static int seg_members(int o, int bit)
{
	int n = 0;
	for (int i = 0; i < M[o].n; i++)
		n += (M[o].c[i].segs >> bit) & 1;
	return n;
}

static int popcount(unsigned x)
{
	int n = 0;
	for (; x; x >>= 1)
		n += x & 1;
	return n;
}

/* The fixture text of the model: heap string. */
static char *fixture_json(void)
{
	size_t cap = 1 << 16, len = 0;
	char *s = malloc(cap);
	CHECK(s);
#define OUT(...)                                                          \
	do {                                                              \
		len += (size_t)snprintf(s + len, cap - len, __VA_ARGS__); \
		CHECK(len < cap);                                          \
	} while (0)
	OUT("{\"orgs\":[");
	for (int o = 0; o < N_ORGS; o++) {
		const struct morg *m = &M[o];
		OUT("%s{\"id\":\"%s\",\"name\":\"%s org\",", o ? "," : "", m->id, m->label);
		if (m->parent)
			OUT("\"parent_id\":\"%s\",", m->parent);
		OUT("\"api_keys\":[\"%s\"],\"segments\":["
		    "{\"id\":\"seg_same\",\"name\":\"%s same segment\","
		    "\"created_at\":\"2024-01-01T00:00:00.000Z\"},"
		    "{\"id\":\"seg_%s\",\"name\":\"%s only segment\","
		    "\"created_at\":\"2024-01-02T00:00:00.000Z\"}],\"contacts\":[",
		    m->key, m->label, m->lower, m->label);
		for (int i = 0; i < m->n; i++) {
			const struct mcontact *c = &m->c[i];
			OUT("%s{\"id\":\"%s\",\"name\":\"%s\",\"created_at\":\"2025-0%d-%02dT00:00:00.000Z\","
			    "\"channels\":[{\"id\":\"ch_%d\",\"type\":\"custom\",\"user_id\":\"u_%d\","
			    "\"name\":\"%s\"}],\"segments\":[",
			    i ? "," : "", c->id, c->name, o + 1, 10 + i, i, i, c->name);
			int first = 1;
			if (c->segs & 1) {
				OUT("\"seg_same\"");
				first = 0;
			}
			if (c->segs & 2)
				OUT("%s\"seg_%s\"", first ? "" : ",", m->lower);
			OUT("]}");
		}
		OUT("]}");
	}
	OUT("]}");
#undef OUT
	return s;
}

/* --------------------------------------------------------------- requests */

static char g_ctx[1024]; /* the request being checked, for failure messages */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "FAIL %s\n  ", g_ctx);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static struct http_resp call(const struct test_server *ts, const char *method, const char *key,
			     const char *path, const char *body)
{
	char auth[256];
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", key ? key : "");
	const char *h[3] = {NULL, NULL, NULL};
	size_t n = 0;
	if (key)
		h[n++] = auth;
	if (body)
		h[n++] = CT_JSON;
	struct http_resp r;
	if (test_http(ts, method, path, h, body, &r)) {
		fprintf(stderr, "%s %s: transfer failed\n", method, path);
		exit(1);
	}
	return r;
}

/* Sets the context and sends the request. */
static struct http_resp send_req(const struct test_server *ts, const char *method, const char *key,
				 const char *path, const char *body)
{
	snprintf(g_ctx, sizeof g_ctx, "%s %s (key %s)%s%s", method, path, key, body ? " body " : "",
		 body ? body : "");
	return call(ts, method, key, path, body);
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	default: return "?";
	}
}

/* The whole answer is the error envelope with this status and message. */
static void expect_error(const struct http_resp *r, int status, const char *message)
{
	char want[1024];
	snprintf(want, sizeof want, "{\"statusCode\":%d,\"error\":\"%s\",\"message\":\"%s\"}", status,
		 reason_phrase(status), message);
	if (r->status != status || strcmp(r->body, want))
		fail("expected %d %s\n  got      %ld %s", status, want, r->status, r->body);
	const char *ct = http_resp_header(r, "Content-Type");
	if (!ct || strcmp(ct, "application/json"))
		fail("Content-Type %s", ct ? ct : "(none)");
}

static void expect_status(const struct http_resp *r, int status)
{
	if (r->status != status)
		fail("expected %d, got %ld %s", status, r->status, r->body);
}

/* The refusal a request that reaches org e (or -1) gets, before any 404/400. */
static void access_denied_message(char *buf, size_t n, const char *path_org)
{
	snprintf(buf, n, "This API key cannot access org %s", path_org);
}

/* --------------------------------------------------------- body checks */

/* Every "name" anywhere in the tree starts with "L " of org e. */
static void walk_names(const cJSON *j, int e)
{
	char prefix[16];
	snprintf(prefix, sizeof prefix, "%s ", M[e].label);
	for (const cJSON *c = j->child; c; c = c->next) {
		if (c->string && !strcmp(c->string, "name") && !cJSON_IsNull(c)) {
			if (!cJSON_IsString(c) || strncmp(c->valuestring, prefix, strlen(prefix)))
				fail("LEAK: name %s in an answer for org %s",
				     cJSON_IsString(c) ? c->valuestring : "(not a string)", M[e].id);
		}
		if (cJSON_IsObject(c) || cJSON_IsArray(c))
			walk_names(c, e);
	}
}

static long long num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsNumber(v))
		fail("no number %s", k);
	return (long long)v->valuedouble;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsString(v))
		fail("no string %s", k);
	return v->valuestring;
}

/* A segment object of org e: its id is one of e's, contacts_count is e's. Returns its bit. */
static int check_segment(const cJSON *s, int e)
{
	const char *id = str(s, "id");
	int bit = seg_bit(e, id);
	if (bit < 0)
		fail("LEAK: segment %s is not org %s's", id, M[e].id);
	char want[64];
	snprintf(want, sizeof want, "%s %s segment", M[e].label, bit ? "only" : "same");
	if (strcmp(str(s, "name"), want))
		fail("segment %s named %s, expected %s", id, str(s, "name"), want);
	long long n = num(s, "contacts_count");
	if (n != seg_members(e, bit))
		fail("LEAK: segment %s contacts_count %lld, org %s has %d members", id, n, M[e].id,
		     seg_members(e, bit));
	return bit;
}

/* A contact object equals the model's contact mc of org e in what the test
 * tracks, and holds nothing of another org. */
static void check_contact(const cJSON *c, int e, const struct mcontact *mc)
{
	if (!cJSON_IsObject(c))
		fail("not a contact object");
	walk_names(c, e);
	if (strcmp(str(c, "id"), mc->id))
		fail("id %s, expected %s", str(c, "id"), mc->id);
	if (strcmp(str(c, "name"), mc->name))
		fail("contact %s named %s, expected %s (org %s)", mc->id, str(c, "name"), mc->name,
		     M[e].id);
	const cJSON *ch = cJSON_GetObjectItemCaseSensitive(c, "channels");
	if (!cJSON_IsArray(ch) || cJSON_GetArraySize(ch) != mc->n_channels)
		fail("contact %s: %d channels, expected %d", mc->id, cJSON_GetArraySize(ch),
		     mc->n_channels);
	const cJSON *segs = cJSON_GetObjectItemCaseSensitive(c, "segments");
	if (!cJSON_IsArray(segs))
		fail("no segments array");
	unsigned got = 0;
	for (const cJSON *s = segs->child; s; s = s->next) {
		int bit = check_segment(s, e);
		if (got & (1u << bit))
			fail("segment listed twice");
		got |= 1u << bit;
	}
	if (got != mc->segs)
		fail("contact %s of %s: segments mask %u, expected %u", mc->id, M[e].id, got, mc->segs);
}

static cJSON *parse(const struct http_resp *r)
{
	cJSON *j = cJSON_Parse(r->body);
	if (!j)
		fail("answer is not JSON: %s", r->body);
	const char *ct = http_resp_header(r, "Content-Type");
	if (!ct || strcmp(ct, "application/json"))
		fail("Content-Type %s", ct ? ct : "(none)");
	return j;
}

static long long header_num(const struct http_resp *r, const char *name)
{
	const char *h = http_resp_header(r, name);
	if (!h)
		fail("no %s header", name);
	return atoll(h);
}

/* ---------------------------------------------- snapshots through the admin API */

struct snap {
	long status[N_ORGS];
	char *body[N_ORGS];
};

/* Contact id as it is stored in every org (no key: the admin API). */
static struct snap snapshot(const struct test_server *ts, const char *id)
{
	struct snap s;
	char saved[sizeof g_ctx];
	memcpy(saved, g_ctx, sizeof g_ctx);
	for (int o = 0; o < N_ORGS; o++) {
		char path[256];
		snprintf(path, sizeof path, "/__admin/orgs/%s/contacts/%s", M[o].id, id);
		struct http_resp r = call(ts, "GET", NULL, path, NULL);
		s.status[o] = r.status;
		s.body[o] = r.body;
		r.body = NULL;
		http_resp_cleanup(&r);
	}
	memcpy(g_ctx, saved, sizeof g_ctx);
	return s;
}

static void snap_free(struct snap *s)
{
	for (int o = 0; o < N_ORGS; o++)
		free(s->body[o]);
}

/* Nothing changed in any org except (if changed >= 0) org `changed`, whose
 * stored contact must now be the model's. */
static void check_snapshots(const struct snap *before, const struct snap *after, int changed,
			    const char *id)
{
	for (int o = 0; o < N_ORGS; o++) {
		bool same = before->status[o] == after->status[o] &&
			    !strcmp(before->body[o], after->body[o]);
		if (o == changed) {
			if (same)
				fail("the write did not change %s's contact %s", M[o].id, id);
			if (after->status[o] != 200)
				fail("admin GET of %s's %s: %ld", M[o].id, id, after->status[o]);
			cJSON *j = cJSON_Parse(after->body[o]);
			if (!j)
				fail("admin answer is not JSON");
			check_contact(j, o, contact_in(o, id));
			cJSON_Delete(j);
		} else if (!same) {
			fail("LEAK: %s's stored contact %s changed\n  before %ld %s\n  after  %ld %s",
			     M[o].id, id, before->status[o], before->body[o], after->status[o],
			     after->body[o]);
		}
	}
}

/* Every org's pagination-count (through its own key) is the model's. */
static void check_counts(const struct test_server *ts)
{
	char saved[sizeof g_ctx];
	memcpy(saved, g_ctx, sizeof g_ctx);
	for (int o = 0; o < N_ORGS; o++) {
		struct http_resp r = call(ts, "GET", M[o].key, "/orgs/c/contacts?take=1", NULL);
		if (r.status != 200)
			fail("count of %s: %ld", M[o].id, r.status);
		long long n = header_num(&r, "pagination-count");
		if (n != M[o].n)
			fail("LEAK: org %s counts %lld contacts, expected %d", M[o].id, n, M[o].n);
		http_resp_cleanup(&r);
	}
	memcpy(g_ctx, saved, sizeof g_ctx);
}

static struct test_server *start(void)
{
	model_init();
	char *json = fixture_json();
	char *path = test_temp_file(json);
	struct test_server *ts = test_server_start(path, NULL);
	unlink(path);
	free(path);
	free(json);
	return ts;
}

/* ============================================================= the matrices */

/* The list queries and the model's predicate of a match. */
struct list_query {
	const char *query;
	int take, page;
	int kind; /* 0 all, 1 only ct_same (by name or user_id), 2 segment */
	const char *segment;
};

static const struct list_query LIST_QUERIES[] = {
	{"", 100, 1, 0, NULL},
	{"?take=1", 1, 1, 0, NULL},
	{"?take=2&page=2", 2, 2, 0, NULL},
	{"?search=same", 100, 1, 1, NULL},
	{"?name=same", 100, 1, 1, NULL},
	{"?user_id=u_0", 100, 1, 1, NULL},
	{"?segment_id=seg_same", 100, 1, 2, "seg_same"},
	{"?segment_id=seg_a", 100, 1, 2, "seg_a"},
	{"?segment_id=seg_a1", 100, 1, 2, "seg_a1"},
	{"?segment_id=seg_b", 100, 1, 2, "seg_b"},
	{"?segment_id=seg_c", 100, 1, 2, "seg_c"},
};

static bool list_matches(int e, const struct mcontact *c, const struct list_query *q)
{
	switch (q->kind) {
	case 0: return true;
	case 1: return !strcmp(c->id, "ct_same");
	default: {
		int bit = seg_bit(e, q->segment);
		return bit >= 0 && ((c->segs >> bit) & 1);
	}
	}
}

static void list_matrix(void)
{
	struct test_server *ts = start();
	int combos = 0;
	for (int k = 0; k < N_ORGS; k++)
		for (int p = 0; p < N_PATH_ORGS; p++)
			for (size_t q = 0; q < sizeof LIST_QUERIES / sizeof LIST_QUERIES[0]; q++) {
				const struct list_query *lq = &LIST_QUERIES[q];
				char path[256];
				snprintf(path, sizeof path, "/orgs/%s/contacts%s", PATH_ORGS[p], lq->query);
				struct http_resp r = send_req(ts, "GET", M[k].key, path, NULL);
				int e = resolve(k, PATH_ORGS[p]);
				combos++;
				if (e < 0) {
					char msg[256];
					access_denied_message(msg, sizeof msg, PATH_ORGS[p]);
					expect_error(&r, 401, msg);
					http_resp_cleanup(&r);
					continue;
				}
				expect_status(&r, 200);
				int matches = 0;
				for (int i = 0; i < M[e].n; i++)
					matches += list_matches(e, &M[e].c[i], lq);
				long long count = header_num(&r, "pagination-count");
				if (count != matches)
					fail("LEAK: pagination-count %lld, org %s has %d matches", count,
					     M[e].id, matches);
				if (header_num(&r, "pagination-page") != lq->page ||
				    header_num(&r, "pagination-take") != lq->take)
					fail("pagination-page/take");
				int want = matches - (lq->page - 1) * lq->take;
				want = want < 0 ? 0 : want > lq->take ? lq->take : want;
				cJSON *a = parse(&r);
				if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != want)
					fail("LEAK: %d contacts in the answer, expected %d of org %s",
					     cJSON_GetArraySize(a), want, M[e].id);
				for (const cJSON *c = a->child; c; c = c->next) {
					const char *id = str(c, "id");
					struct mcontact *mc = contact_in(e, id);
					if (!mc)
						fail("LEAK: contact %s is not org %s's", id, M[e].id);
					if (!list_matches(e, mc, lq))
						fail("contact %s does not match", id);
					check_contact(c, e, mc);
				}
				cJSON_Delete(a);
				http_resp_cleanup(&r);
			}
	printf("crossorg@list-matrix: %d combinations checked\n", combos);
	test_server_stop(ts);
}

static void patch_matrix(void)
{
	struct test_server *ts = start();
	int combos = 0, n = 0;
	for (int k = 0; k < N_ORGS; k++)
		for (int p = 0; p < N_PATH_ORGS; p++)
			for (int x = 0; x < N_CONTACTS; x++) {
				int e = resolve(k, PATH_ORGS[p]);
				const char *id = CONTACTS[x];
				char path[256], body[256], name[96];
				snprintf(path, sizeof path, "/orgs/%s/contacts/%s", PATH_ORGS[p], id);
				snprintf(name, sizeof name, "%s patched %d", M[e >= 0 ? e : k].label, ++n);
				snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
				struct snap before = snapshot(ts, id);
				struct http_resp r = send_req(ts, "PATCH", M[k].key, path, body);
				struct mcontact *mc = e >= 0 ? contact_in(e, id) : NULL;
				combos++;
				if (e < 0) {
					char msg[256];
					access_denied_message(msg, sizeof msg, PATH_ORGS[p]);
					expect_error(&r, 401, msg);
				} else if (!mc) {
					expect_error(&r, 404, "Contact not found");
				} else {
					expect_status(&r, 200);
					snprintf(mc->name, sizeof mc->name, "%s", name);
					cJSON *j = parse(&r);
					check_contact(j, e, mc);
					cJSON_Delete(j);
				}
				struct snap after = snapshot(ts, id);
				check_snapshots(&before, &after, mc ? e : -1, id);
				snap_free(&before);
				snap_free(&after);
				http_resp_cleanup(&r);
			}
	check_counts(ts);
	printf("crossorg@patch-matrix: %d combinations checked\n", combos);
	test_server_stop(ts);
}

static void segments_matrix(void)
{
	struct test_server *ts = start();
	int combos = 0;
	static const char *const queries[] = {"", "?take=1"};
	for (int k = 0; k < N_ORGS; k++)
		for (int p = 0; p < N_PATH_ORGS; p++)
			for (int x = 0; x < N_CONTACTS; x++)
				for (int q = 0; q < 2; q++) {
					int e = resolve(k, PATH_ORGS[p]);
					const char *id = CONTACTS[x];
					int take = q ? 1 : 100;
					char path[256];
					snprintf(path, sizeof path, "/orgs/%s/contacts/%s/segments%s",
						 PATH_ORGS[p], id, queries[q]);
					struct http_resp r = send_req(ts, "GET", M[k].key, path, NULL);
					struct mcontact *mc = e >= 0 ? contact_in(e, id) : NULL;
					combos++;
					if (e < 0) {
						char msg[256];
						access_denied_message(msg, sizeof msg, PATH_ORGS[p]);
						expect_error(&r, 401, msg);
					} else if (!mc) {
						expect_error(&r, 404, "Contact not found");
					} else {
						expect_status(&r, 200);
						int total = popcount(mc->segs);
						long long count = header_num(&r, "pagination-count");
						if (count != total)
							fail("LEAK: pagination-count %lld, %s's %s is in %d segments",
							     count, M[e].id, id, total);
						if (header_num(&r, "pagination-take") != take)
							fail("pagination-take");
						cJSON *a = parse(&r);
						int want = total < take ? total : take;
						if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != want)
							fail("LEAK: %d segments, expected %d", cJSON_GetArraySize(a),
							     want);
						walk_names(a, e);
						for (const cJSON *s = a->child; s; s = s->next) {
							int bit = check_segment(s, e);
							if (!((mc->segs >> bit) & 1))
								fail("LEAK: %s's %s is not in segment %s", M[e].id,
								     id, str(s, "id"));
						}
						cJSON_Delete(a);
					}
					http_resp_cleanup(&r);
				}
	printf("crossorg@segments-matrix: %d combinations checked\n", combos);
	test_server_stop(ts);
}

static void add_segment_matrix(void)
{
	struct test_server *ts = start();
	int combos = 0;
	for (int k = 0; k < N_ORGS; k++)
		for (int p = 0; p < N_PATH_ORGS; p++)
			for (int x = 0; x < N_CONTACTS; x++)
				for (int g = 0; g < N_SEGMENTS; g++) {
					int e = resolve(k, PATH_ORGS[p]);
					const char *id = CONTACTS[x], *seg = SEGMENTS[g];
					char path[256];
					snprintf(path, sizeof path, "/orgs/%s/contacts/%s/segments/%s",
						 PATH_ORGS[p], id, seg);
					struct snap before = snapshot(ts, id);
					struct http_resp r = send_req(ts, "POST", M[k].key, path, NULL);
					struct mcontact *mc = e >= 0 ? contact_in(e, id) : NULL;
					int bit = e >= 0 ? seg_bit(e, seg) : -1;
					int changed = -1;
					combos++;
					if (e < 0) {
						char msg[256];
						access_denied_message(msg, sizeof msg, PATH_ORGS[p]);
						expect_error(&r, 401, msg);
					} else if (!mc) {
						expect_error(&r, 404, "Contact not found");
					} else if (bit < 0) {
						expect_error(&r, 404, "Segment not found");
					} else {
						expect_status(&r, 201);
						if (!((mc->segs >> bit) & 1))
							changed = e;
						mc->segs |= 1u << bit;
						cJSON *j = parse(&r);
						check_contact(j, e, mc);
						cJSON_Delete(j);
					}
					struct snap after = snapshot(ts, id);
					check_snapshots(&before, &after, changed, id);
					snap_free(&before);
					snap_free(&after);
					http_resp_cleanup(&r);
				}
	check_counts(ts);
	printf("crossorg@add-segment-matrix: %d combinations checked\n", combos);
	test_server_stop(ts);
}

/* One POST /orgs/{org}/contacts: a new contact, or (contact >= 0) a channel
 * added to CONTACTS[contact]; with segment_ids [SEGMENTS[seg]] when seg >= 0. */
static void create_one(const struct test_server *ts, int k, int p, int contact, int seg, int n)
{
	int e = resolve(k, PATH_ORGS[p]);
	const char *label = M[e >= 0 ? e : k].label;
	char path[256], body[512], segs[64] = "", name[96];
	snprintf(path, sizeof path, "/orgs/%s/contacts", PATH_ORGS[p]);
	if (seg >= 0)
		snprintf(segs, sizeof segs, ",\"segment_ids\":[\"%s\"]", SEGMENTS[seg]);
	if (contact >= 0) {
		snprintf(name, sizeof name, "%s chan %d", label, n);
		snprintf(body, sizeof body,
			 "{\"channel\":{\"user_id\":\"u_add_%d\",\"name\":\"%s\",\"contact_id\":\"%s\"}%s}",
			 n, name, CONTACTS[contact], segs);
	} else {
		snprintf(name, sizeof name, "%s new %d", label, n);
		snprintf(body, sizeof body, "{\"channel\":{\"user_id\":\"u_new_%d\",\"name\":\"%s\"}%s}",
			 n, name, segs);
	}
	const char *id = contact >= 0 ? CONTACTS[contact] : NULL;
	struct snap before = {0};
	if (id)
		before = snapshot(ts, id);
	struct http_resp r = send_req(ts, "POST", M[k].key, path, body);
	struct mcontact *mc = e >= 0 && id ? contact_in(e, id) : NULL;
	int bit = e >= 0 && seg >= 0 ? seg_bit(e, SEGMENTS[seg]) : -1;
	bool ok = false;
	if (e < 0) {
		char msg[256];
		access_denied_message(msg, sizeof msg, PATH_ORGS[p]);
		expect_error(&r, 401, msg);
	} else if (seg >= 0 && bit < 0) {
		char msg[256];
		snprintf(msg, sizeof msg, "segment %s does not exist in this org", SEGMENTS[seg]);
		expect_error(&r, 400, msg);
	} else if (id && !mc) {
		expect_error(&r, 404, "Contact not found");
	} else {
		expect_status(&r, 201);
		ok = true;
		cJSON *j = parse(&r);
		if (id) {
			mc->n_channels++;
		} else {
			CHECK(M[e].n < MAX_CONTACTS);
			mc = &M[e].c[M[e].n++];
			snprintf(mc->id, sizeof mc->id, "%s", str(j, "id"));
			snprintf(mc->name, sizeof mc->name, "%s", name);
			mc->n_channels = 1;
			mc->segs = 0;
		}
		if (bit >= 0)
			mc->segs |= 1u << bit;
		check_contact(j, e, mc);
		cJSON_Delete(j);
		if (!id) {
			/* The new contact is stored in e and in no other org. */
			struct snap s = snapshot(ts, mc->id);
			for (int o = 0; o < N_ORGS; o++)
				if ((s.status[o] == 200) != (o == e))
					fail("LEAK: new contact %s: admin GET in %s answers %ld", mc->id,
					     M[o].id, s.status[o]);
			cJSON *st = cJSON_Parse(s.body[e]);
			check_contact(st, e, mc);
			cJSON_Delete(st);
			snap_free(&s);
		}
	}
	if (id) {
		struct snap after = snapshot(ts, id);
		check_snapshots(&before, &after, ok ? e : -1, id);
		snap_free(&before);
		snap_free(&after);
	}
	check_counts(ts);
	http_resp_cleanup(&r);
}

static void create_matrix(void)
{
	struct test_server *ts = start();
	int combos = 0, n = 0;
	for (int k = 0; k < N_ORGS; k++)
		for (int p = 0; p < N_PATH_ORGS; p++)
			for (int x = -1; x < N_CONTACTS; x++)
				for (int g = -1; g < N_SEGMENTS; g++) {
					create_one(ts, k, p, x, g, ++n);
					combos++;
				}
	printf("crossorg@create-matrix: %d combinations checked\n", combos);
	test_server_stop(ts);
}

/* The fixture is what the model says, seen through the admin API (so that the
 * matrices' expectations rest on the data actually loaded). */
static void fixture_as_modelled(void)
{
	struct test_server *ts = start();
	int combos = 0;
	for (int o = 0; o < N_ORGS; o++) {
		for (int i = 0; i < M[o].n; i++) {
			snprintf(g_ctx, sizeof g_ctx, "admin GET %s/%s", M[o].id, M[o].c[i].id);
			struct snap s = snapshot(ts, M[o].c[i].id);
			CHECK_INT_EQ(s.status[o], 200);
			cJSON *j = cJSON_Parse(s.body[o]);
			check_contact(j, o, &M[o].c[i]);
			cJSON_Delete(j);
			snap_free(&s);
			combos++;
		}
		for (int x = 0; x < N_CONTACTS; x++) {
			snprintf(g_ctx, sizeof g_ctx, "admin GET %s/%s", M[o].id, CONTACTS[x]);
			struct snap s = snapshot(ts, CONTACTS[x]);
			CHECK_INT_EQ(s.status[o] == 200, contact_in(o, CONTACTS[x]) != NULL);
			snap_free(&s);
			combos++;
		}
	}
	check_counts(ts);
	printf("crossorg@fixture-as-modelled: %d checks\n", combos);
	test_server_stop(ts);
}

static const struct test_case cases[] = {
	TEST_CASE("crossorg@fixture-as-modelled", fixture_as_modelled),
	TEST_CASE("crossorg@list-matrix", list_matrix),
	TEST_CASE("crossorg@create-matrix", create_matrix),
	TEST_CASE("crossorg@patch-matrix", patch_matrix),
	TEST_CASE("crossorg@segments-matrix", segments_matrix),
	TEST_CASE("crossorg@add-segment-matrix", add_segment_matrix),
};

TEST_MAIN(cases)
