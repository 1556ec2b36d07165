/* HTTP tests of the companion endpoints (invent-api.md §5): list, create,
 * contact segments, add segment. The real server runs in this process on port
 * 0 and is driven with libcurl. Each case asserts exact statuses, whole error
 * bodies, the ids of a list in order and the pagination headers.
 *
 * Where exact counts matter the cases use purpose-made fixtures (FILTERS below,
 * and paging_fixture()); access and effect cases use the demo data (org_demo,
 * its sub-org org_demo_eu, and org_acme). */
#include "http_util.h"
#include "testlib.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define AUTH_DEMO "Authorization: Bearer sk_test_demo"
#define CT_JSON "Content-Type: application/json"

/* ----------------------------------------------------------------- helpers */

/* Any request; exits the test if the transfer itself fails. */
static struct http_resp req(const struct test_server *ts, const char *method, const char *path,
			    const char *const *headers, const char *body)
{
	struct http_resp r;
	if (test_http(ts, method, path, headers, body, &r)) {
		fprintf(stderr, "%s %s: transfer failed\n", method, path);
		exit(1);
	}
	return r;
}

/* method path with "Authorization: Bearer key" (key NULL: none) and, when there
 * is a body, "Content-Type: application/json". */
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
	return req(ts, method, path, h, body);
}

static struct http_resp get(const struct test_server *ts, const char *key, const char *path)
{
	return call(ts, "GET", key, path, NULL);
}

static struct http_resp post(const struct test_server *ts, const char *key, const char *path,
			     const char *body)
{
	return call(ts, "POST", key, path, body);
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	default: return "?";
	}
}

/* The whole answer is the error envelope with this status and message. */
static void check_error(const struct http_resp *r, int status, const char *message)
{
	char esc[2048], want[4096];
	size_t o = 0;
	for (const char *p = message; *p && o + 2 < sizeof esc; p++) {
		if (*p == '"' || *p == '\\')
			esc[o++] = '\\';
		esc[o++] = *p;
	}
	esc[o] = '\0';
	snprintf(want, sizeof want, "{\"statusCode\":%d,\"error\":\"%s\",\"message\":\"%s\"}", status,
		 reason_phrase(status), esc);
	CHECK_INT_EQ(r->status, status);
	CHECK_STR_EQ(r->body, want);
	CHECK_STR_EQ(http_resp_header(r, "Content-Type"), "application/json");
}

/* Sends the request (see call()) and checks it is refused with status and message. */
static void expect_error(const struct test_server *ts, const char *method, const char *key,
			 const char *path, const char *body, int status, const char *message)
{
	struct http_resp r = call(ts, method, key, path, body);
	if (r.status != status || !strstr(r.body, message))
		fprintf(stderr, "%s %s %s\n", method, path, body ? body : "");
	check_error(&r, status, message);
	http_resp_cleanup(&r);
}

static const cJSON *field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		fprintf(stderr, "no field %s\n", key);
	CHECK(v);
	return v;
}

/* The string value of o.key, or NULL when it is JSON null (anything else fails). */
static const char *str_or_null(const cJSON *o, const char *key)
{
	const cJSON *v = field(o, key);
	if (cJSON_IsNull(v))
		return NULL;
	CHECK(cJSON_IsString(v));
	return v->valuestring;
}

static bool boolean(const cJSON *o, const char *key)
{
	const cJSON *v = field(o, key);
	CHECK(cJSON_IsBool(v));
	return cJSON_IsTrue(v);
}

static long long number(const cJSON *o, const char *key)
{
	const cJSON *v = field(o, key);
	CHECK(cJSON_IsNumber(v));
	return (long long)v->valuedouble;
}

/* The object's keys, comma-joined, in order: a static buffer. */
static const char *keys_of(const cJSON *o)
{
	static char buf[1024];
	size_t len = 0;
	buf[0] = '\0';
	for (const cJSON *c = o->child; c; c = c->next)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", len ? "," : "", c->string);
	return buf;
}

/* The "id"s of a JSON array of objects, comma-joined ("" for []): heap string. */
static char *ids_of_array(const cJSON *a)
{
	CHECK(cJSON_IsArray(a));
	size_t cap = 64, len = 0;
	char *s = malloc(cap);
	CHECK(s);
	s[0] = '\0';
	for (const cJSON *c = a->child; c; c = c->next) {
		const char *id = str_or_null(c, "id");
		CHECK(id);
		size_t add = strlen(id) + 2;
		if (len + add >= cap) {
			cap = 2 * (len + add);
			s = realloc(s, cap);
			CHECK(s);
		}
		len += (size_t)snprintf(s + len, cap - len, "%s%s", len ? "," : "", id);
	}
	return s;
}

static char *ids_of(const char *body)
{
	cJSON *a = cJSON_Parse(body);
	if (!cJSON_IsArray(a))
		fprintf(stderr, "not a JSON array: %s\n", body);
	char *s = ids_of_array(a);
	cJSON_Delete(a);
	return s;
}

/* The pagination headers of a list answer, and its Content-Type. */
static void check_pagination(const struct http_resp *r, const char *what, long long count,
			     long long page, long long take)
{
	char c[32], p[32], t[32];
	snprintf(c, sizeof c, "%lld", count);
	snprintf(p, sizeof p, "%lld", page);
	snprintf(t, sizeof t, "%lld", take);
	const char *hc = http_resp_header(r, "pagination-count");
	if (!hc || strcmp(hc, c))
		fprintf(stderr, "%s: pagination-count %s, expected %s\n", what, hc ? hc : "(none)", c);
	CHECK(hc && !strcmp(hc, c));
	const char *hp = http_resp_header(r, "pagination-page");
	if (!hp || strcmp(hp, p))
		fprintf(stderr, "%s: pagination-page %s, expected %s\n", what, hp ? hp : "(none)", p);
	CHECK(hp && !strcmp(hp, p));
	const char *ht = http_resp_header(r, "pagination-take");
	if (!ht || strcmp(ht, t))
		fprintf(stderr, "%s: pagination-take %s, expected %s\n", what, ht ? ht : "(none)", t);
	CHECK(ht && !strcmp(ht, t));
	CHECK_STR_EQ(http_resp_header(r, "Content-Type"), "application/json");
}

/* GET path with key: 200, the pagination headers, and exactly these ids in
 * this order (comma-joined). */
static void expect_page(const struct test_server *ts, const char *key, const char *path,
			const char *ids, long long count, long long page, long long take)
{
	struct http_resp r = get(ts, key, path);
	if (r.status != 200)
		fprintf(stderr, "GET %s: %ld %s\n", path, r.status, r.body);
	CHECK_INT_EQ(r.status, 200);
	check_pagination(&r, path, count, page, take);
	char *got = ids_of(r.body);
	if (strcmp(got, ids))
		fprintf(stderr, "GET %s\n", path);
	CHECK_STR_EQ(got, ids);
	free(got);
	http_resp_cleanup(&r);
}

/* expect_page on page 1 of the default take; count is the number of ids. */
static void expect_ids(const struct test_server *ts, const char *key, const char *path,
		       const char *ids)
{
	if (!ids) /* never; says so to gcc -O3's -Wnull-dereference */
		abort();
	long long n = *ids ? 1 : 0;
	for (const char *p = ids; *p; p++)
		n += *p == ',';
	expect_page(ts, key, path, ids, n, 1, 100);
}

/* pagination-count of a 200 list answer. */
static long long list_count(const struct test_server *ts, const char *key, const char *path)
{
	struct http_resp r = get(ts, key, path);
	if (r.status != 200)
		fprintf(stderr, "GET %s: %ld %s\n", path, r.status, r.body);
	CHECK_INT_EQ(r.status, 200);
	const char *h = http_resp_header(&r, "pagination-count");
	CHECK(h);
	long long n = atoll(h);
	http_resp_cleanup(&r);
	return n;
}

/* The segment's contacts_count as the contact segments endpoint shows it on a
 * member contact. */
static long long contacts_count_via(const struct test_server *ts, const char *key,
				    const char *org, const char *member, const char *segment)
{
	char path[256];
	snprintf(path, sizeof path, "/orgs/%s/contacts/%s/segments", org, member);
	struct http_resp r = get(ts, key, path);
	CHECK_INT_EQ(r.status, 200);
	cJSON *a = cJSON_Parse(r.body);
	CHECK(cJSON_IsArray(a));
	long long n = -1;
	for (const cJSON *s = a->child; s; s = s->next)
		if (!strcmp(str_or_null(s, "id"), segment))
			n = number(s, "contacts_count");
	CHECK(n >= 0);
	cJSON_Delete(a);
	http_resp_cleanup(&r);
	return n;
}

/* Parses a 201 contact answer (cJSON_Delete). */
static cJSON *created_json(const struct http_resp *r)
{
	if (r->status != 201)
		fprintf(stderr, "status %ld: %s\n", r->status, r->body);
	CHECK_INT_EQ(r->status, 201);
	CHECK_STR_EQ(http_resp_header(r, "Content-Type"), "application/json");
	cJSON *j = cJSON_Parse(r->body);
	CHECK(cJSON_IsObject(j));
	return j;
}

/* POST body to /orgs/{org}/contacts with key; must answer 201. Returns the parsed
 * contact; *text (if not NULL) gets the raw answer (free). */
static cJSON *create_ok(const struct test_server *ts, const char *key, const char *org,
			const char *body, char **text)
{
	char path[256];
	snprintf(path, sizeof path, "/orgs/%s/contacts", org);
	struct http_resp r = post(ts, key, path, body);
	cJSON *j = created_json(&r);
	if (text) {
		*text = r.body;
		r.body = NULL;
	}
	http_resp_cleanup(&r);
	return j;
}

/* POST /orgs/{org}/contacts/{contact}/segments/{segment}; must answer 201. */
static cJSON *add_segment_ok(const struct test_server *ts, const char *key, const char *org,
			     const char *contact, const char *segment, char **text)
{
	char path[256];
	snprintf(path, sizeof path, "/orgs/%s/contacts/%s/segments/%s", org, contact, segment);
	struct http_resp r = post(ts, key, path, NULL);
	cJSON *j = created_json(&r);
	if (text) {
		*text = r.body;
		r.body = NULL;
	}
	http_resp_cleanup(&r);
	return j;
}

/* prefix and 22 base-62 characters. */
static void check_generated_id(const char *id, const char *prefix)
{
	CHECK(id);
	size_t n = strlen(prefix);
	if (strncmp(id, prefix, n) || strlen(id) != n + 22)
		fprintf(stderr, "id %s is not %s + 22 base-62 characters\n", id, prefix);
	CHECK(!strncmp(id, prefix, n));
	CHECK_INT_EQ(strlen(id), n + 22);
	for (const char *p = id + n; *p; p++)
		CHECK((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'));
}

/* A date-time as the contract writes it (2024-05-01T09:30:00.000Z) to Unix ms. */
static int64_t parse_time(const char *s)
{
	int y, mo, d, h, mi, sec, ms, n = 0;
	CHECK(s != NULL);
	CHECK_INT_EQ(strlen(s), 24);
	CHECK(sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y, &mo, &d, &h, &mi, &sec, &ms, &n) == 7);
	CHECK_INT_EQ(n, 24);
	int64_t yy = y - (mo <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
	return ((days * 24 + h) * 60 + mi) * 60000LL + sec * 1000LL + ms;
}

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The text was written by this request: between t0 and now, give or take 1 s. */
static void check_written_now(const char *text, int64_t t0)
{
	int64_t t = parse_time(text), t1 = now_ms();
	if (t < t0 - 1000 || t > t1 + 1000)
		fprintf(stderr, "%s is not within a second of [%lld, %lld]\n", text, (long long)t0,
			(long long)t1);
	CHECK(t >= t0 - 1000 && t <= t1 + 1000);
}

/* A server on this fixture text. */
static struct test_server *start_with(const char *json)
{
	char *path = test_temp_file(json);
	struct test_server *ts = test_server_start(path, NULL);
	unlink(path);
	free(path);
	return ts;
}

/* "prefix%03d" for from..to step, comma-joined: heap string. */
static char *id_range(const char *prefix, int from, int to, int step)
{
	size_t cap = 16 + (size_t)((to - from) / step + 1) * (strlen(prefix) + 8), len = 0;
	char *s = malloc(cap);
	CHECK(s);
	s[0] = '\0';
	for (int i = from; i <= to; i += step)
		len += (size_t)snprintf(s + len, cap - len, "%s%s%03d", len ? "," : "", prefix, i);
	return s;
}

/* ----------------------------------------------------------------- fixtures */

/* org_f: 8 contacts whose list order (newest first, then id) is
 * ct_05, ct_02, ct_07, ct_01, ct_03, ct_04, ct_08, ct_06 (ct_03 and ct_04 share
 * created_at and are listed in the file as ct_04 then ct_03, so only the id
 * breaks the tie). Flags: ct_02 admin; ct_03 unsubscribed; ct_04 blocked; ct_05
 * ai_replies_disabled; ct_06 blocked and unsubscribed; ct_07 admin and
 * ai_replies_disabled. Its sub-org org_f_sub and another org org_g hold
 * look-alike data that org_f must never see. */
static const char FILTERS[] =
	"{\"orgs\":["
	"{\"id\":\"org_f\",\"name\":\"F\",\"api_keys\":[\"sk_f\"],"
	" \"segments\":["
	"  {\"id\":\"seg_a\",\"name\":\"A\",\"created_at\":\"2024-01-01T00:00:00.000Z\"},"
	"  {\"id\":\"seg_b\",\"name\":\"B\",\"created_at\":\"2024-01-02T00:00:00.000Z\"}],"
	" \"contacts\":["
	"  {\"id\":\"ct_01\",\"name\":\"Alice Smith\",\"created_at\":\"2025-01-07T00:00:00.000Z\","
	"   \"channels\":[{\"id\":\"ch_01\",\"type\":\"gmail\",\"user_id\":\"alice-gmail\","
	"    \"name\":\"Alice S.\",\"email\":\"Alice.Smith@Example.com\"}],\"segments\":[\"seg_a\"]},"
	"  {\"id\":\"ct_02\",\"name\":\"Bob Jones\",\"is_admin\":true,"
	"   \"created_at\":\"2025-01-09T00:00:00.000Z\","
	"   \"channels\":[{\"id\":\"ch_02\",\"type\":\"slack_bot\",\"user_id\":\"U02BOB\","
	"    \"name\":\"Bob\",\"username\":\"bobby_j\",\"email\":\"bob@example.com\"}],"
	"   \"segments\":[\"seg_a\",\"seg_b\"]},"
	"  {\"id\":\"ct_04\",\"name\":\"Dave_Underscore\",\"blocked\":true,"
	"   \"created_at\":\"2025-01-06T12:00:00.000Z\","
	"   \"channels\":[{\"id\":\"ch_04\",\"type\":\"telegram_bot\",\"user_id\":\"400\","
	"    \"name\":\"Dave\"}]},"
	"  {\"id\":\"ct_03\",\"name\":\"Carol 100% Pure\",\"unsubscribed\":true,"
	"   \"created_at\":\"2025-01-06T12:00:00.000Z\","
	"   \"channels\":[{\"id\":\"ch_03\",\"type\":\"telegram_bot\",\"user_id\":\"300\","
	"    \"name\":\"Carol\",\"username\":\"carol_c\"}]},"
	"  {\"id\":\"ct_05\",\"name\":null,\"ai_replies_disabled\":true,"
	"   \"created_at\":\"2025-01-10T00:00:00.000Z\","
	"   \"channels\":[{\"id\":\"ch_05\",\"type\":\"twilio\",\"user_id\":\"sms-5\","
	"    \"phone\":\"+15551234\"}]},"
	"  {\"id\":\"ct_06\",\"name\":\"Eve Adams\",\"blocked\":true,\"unsubscribed\":true,"
	"   \"created_at\":\"2025-01-04T00:00:00.000Z\","
	"   \"channels\":[{\"id\":\"ch_06\",\"type\":\"whatsapp_bot\",\"user_id\":\"+15559999\","
	"    \"name\":\"Evie\",\"phone\":\"+15559999\"}],\"segments\":[\"seg_b\"]},"
	"  {\"id\":\"ct_07\",\"name\":\"Frank Search\",\"is_admin\":true,"
	"   \"ai_replies_disabled\":true,\"created_at\":\"2025-01-08T00:00:00.000Z\","
	"   \"channels\":[{\"id\":\"ch_07\",\"type\":\"instagram_dm\",\"user_id\":\"frankygram\","
	"    \"name\":\"F. S.\",\"username\":\"FrankyGram\"}]},"
	"  {\"id\":\"ct_08\",\"name\":\"Zo\xc3\xab Lower\",\"created_at\":\"2025-01-05T00:00:00.000Z\","
	"   \"channels\":[{\"id\":\"ch_08\",\"type\":\"custom\",\"user_id\":\"Mixed.Case.ID\"}]}"
	" ]},"
	"{\"id\":\"org_f_sub\",\"name\":\"F sub\",\"parent_id\":\"org_f\",\"api_keys\":[\"sk_f_sub\"],"
	" \"segments\":[{\"id\":\"seg_s\",\"name\":\"S\"}],"
	" \"contacts\":["
	"  {\"id\":\"ct_s1\",\"name\":\"Sub Alice\",\"created_at\":\"2025-01-01T00:00:00.000Z\","
	"   \"channels\":[{\"id\":\"ch_s1\",\"type\":\"gmail\",\"user_id\":\"alice.smith@example.com\","
	"    \"name\":\"Alice Smith\",\"username\":\"bobby_j\",\"email\":\"alice.smith@example.com\"}],"
	"   \"segments\":[\"seg_s\"]}]},"
	"{\"id\":\"org_g\",\"name\":\"G\",\"api_keys\":[\"sk_g\"],"
	" \"segments\":[{\"id\":\"seg_g\",\"name\":\"G\"}],"
	" \"contacts\":["
	"  {\"id\":\"ct_g1\",\"name\":\"Alice Smith\",\"is_admin\":true,"
	"   \"created_at\":\"2025-01-01T00:00:00.000Z\","
	"   \"channels\":[{\"id\":\"ch_g1\",\"type\":\"custom\",\"user_id\":\"U02BOB\","
	"    \"name\":\"Bob\",\"username\":\"bobby_j\",\"email\":\"alice.smith@example.com\"}],"
	"   \"segments\":[\"seg_g\"]}]}"
	"]}";

#define F_ALL "ct_05,ct_02,ct_07,ct_01,ct_03,ct_04,ct_08,ct_06"

static struct test_server *start_filters(void)
{
	return start_with(FILTERS);
}

/* GET /orgs/c/contacts?query as org_f: exactly ids. */
static void f_ids(const struct test_server *ts, const char *query, const char *ids)
{
	char path[1024];
	snprintf(path, sizeof path, "/orgs/c/contacts%s%s", *query ? "?" : "", query);
	expect_ids(ts, "sk_f", path, ids);
}

/* org_p (key sk_p) with n contacts ct_p000.. whose list order is by number:
 * created_at falls every second contact, so pairs share an instant and only
 * the id orders them; the file lists them in reverse. The even ones are in
 * seg_p. */
static struct test_server *start_paging(int n)
{
	size_t cap = 512 + (size_t)n * 256, len = 0;
	char *s = malloc(cap);
	CHECK(s);
	len += (size_t)snprintf(s + len, cap - len,
				"{\"orgs\":[{\"id\":\"org_p\",\"name\":\"P\",\"api_keys\":[\"sk_p\"],"
				"\"segments\":[{\"id\":\"seg_p\",\"name\":\"Even\"}],\"contacts\":[");
	for (int i = n - 1; i >= 0; i--) {
		int mt = 23 * 60 + 59 - i / 2;
		len += (size_t)snprintf(
			s + len, cap - len,
			"%s{\"id\":\"ct_p%03d\",\"name\":\"P %03d\","
			"\"created_at\":\"2024-06-01T%02d:%02d:00.000Z\","
			"\"channels\":[{\"id\":\"ch_p%03d\",\"type\":\"custom\",\"user_id\":\"u%03d\"}]%s}",
			i == n - 1 ? "" : ",", i, i, mt / 60, mt % 60, i, i,
			i % 2 ? "" : ",\"segments\":[\"seg_p\"]");
	}
	snprintf(s + len, cap - len, "]}]}");
	struct test_server *ts = start_with(s);
	free(s);
	return ts;
}

/* ============================================================ list: filters */

static void list_answers_all_in_order(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "", F_ALL);
	expect_ids(ts, "sk_f", "/orgs/org_f/contacts", F_ALL);
	expect_ids(ts, "sk_f", "/orgs/c/contacts/", F_ALL);
	test_server_stop(ts);
}

static void list_answers_full_contacts_as_patch_shows_them(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	struct http_resp r = get(ts, "sk_test_demo", "/orgs/c/contacts?email=ada@analytical.example");
	CHECK_INT_EQ(r.status, 200);
	char *ada = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	char want[8192];
	snprintf(want, sizeof want, "[%s]", ada);
	CHECK_STR_EQ(r.body, want);
	free(ada);
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void list_search_matches_contact_name(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "search=alice", "ct_01");
	f_ids(ts, "search=ice+Smi", "ct_01");
	test_server_stop(ts);
}

static void list_search_is_case_insensitive(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "search=ALICE", "ct_01");
	f_ids(ts, "search=aLiCe", "ct_01");
	f_ids(ts, "search=EVIE", "ct_06");
	f_ids(ts, "search=FRANKYGRAM", "ct_07");
	test_server_stop(ts);
}

static void list_search_matches_channel_name(void)
{
	struct test_server *ts = start_filters();
	/* "Evie" is only the channel's name; "Eve Adams" is the contact's. */
	f_ids(ts, "search=evie", "ct_06");
	test_server_stop(ts);
}

static void list_search_matches_channel_username(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "search=carol_c", "ct_03");
	test_server_stop(ts);
}

static void list_search_matches_channel_email(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "search=bob%40example", "ct_02");
	f_ids(ts, "search=example.com", "ct_02,ct_01");
	test_server_stop(ts);
}

static void list_search_matches_channel_phone(void)
{
	struct test_server *ts = start_filters();
	/* ct_05's user_id is sms-5: the phone alone holds these digits. */
	f_ids(ts, "search=555123", "ct_05");
	f_ids(ts, "search=%2B1555", "ct_05,ct_06");
	test_server_stop(ts);
}

static void list_search_matches_channel_user_id(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "search=mixed.case", "ct_08");
	f_ids(ts, "search=sms-", "ct_05");
	test_server_stop(ts);
}

static void list_search_without_match_is_empty(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "search=zzz", "");
	/* org_g's and org_f_sub's look-alikes are not org_f's. */
	f_ids(ts, "search=sub+alice", "");
	test_server_stop(ts);
}

static void list_name_matches_substring(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "name=ice+Sm", "ct_01");
	f_ids(ts, "name=Underscore", "ct_04");
	/* A null name matches no substring. */
	f_ids(ts, "name=e", "ct_02,ct_07,ct_01,ct_03,ct_04,ct_08,ct_06");
	test_server_stop(ts);
}

static void list_name_is_case_insensitive(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "name=ALICE+SMITH", "ct_01");
	f_ids(ts, "name=alice", "ct_01");
	test_server_stop(ts);
}

static void list_name_ignores_channels(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "name=evie", "");
	f_ids(ts, "name=bobby", "");
	f_ids(ts, "name=example", "");
	test_server_stop(ts);
}

/* Case-insensitive for ASCII letters only: Ë (C3 8B) is not ë (C3 AB). */
static void list_name_folds_only_ascii(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "name=zo%C3%AB", "ct_08");
	f_ids(ts, "name=ZO%C3%AB", "ct_08");
	f_ids(ts, "name=zo%C3%8B", "");
	test_server_stop(ts);
}

static void list_like_wildcards_are_literal(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "name=%25", "ct_03");
	f_ids(ts, "name=100%25+P", "ct_03");
	f_ids(ts, "name=_", "ct_04");
	f_ids(ts, "name=a%25", "");
	f_ids(ts, "name=D_ve", "");
	/* The escape character itself is literal too. */
	f_ids(ts, "name=%5C", "");
	f_ids(ts, "name=%5C%25", "");
	f_ids(ts, "search=%25", "ct_03");
	f_ids(ts, "search=_", "ct_02,ct_03,ct_04");
	f_ids(ts, "username=_", "ct_02,ct_03");
	f_ids(ts, "username=%25", "");
	test_server_stop(ts);
}

static void list_filters_by_email_case_insensitively(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "email=alice.smith@example.com", "ct_01");
	f_ids(ts, "email=ALICE.SMITH%40EXAMPLE.COM", "ct_01");
	f_ids(ts, "email=Alice.Smith@Example.com", "ct_01");
	f_ids(ts, "email=bob@example.com", "ct_02");
	test_server_stop(ts);
}

static void list_email_must_match_whole(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "email=alice.smith@example", "");
	f_ids(ts, "email=lice.smith@example.com", "");
	f_ids(ts, "email=example.com", "");
	f_ids(ts, "email=%25example.com", "");
	f_ids(ts, "email=nobody@example.com", "");
	test_server_stop(ts);
}

static void list_filters_by_user_id_case_insensitively(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "user_id=Mixed.Case.ID", "ct_08");
	f_ids(ts, "user_id=mixed.case.id", "ct_08");
	f_ids(ts, "user_id=u02bob", "ct_02");
	test_server_stop(ts);
}

static void list_user_id_must_match_whole(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "user_id=Mixed", "");
	f_ids(ts, "user_id=Mixed.Case.I", "");
	f_ids(ts, "user_id=_ixed.Case.ID", "");
	test_server_stop(ts);
}

/* '+' is a space in a query, so a literal plus must be %2B. */
static void list_decodes_plus_and_percent(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "user_id=%2B15559999", "ct_06");
	f_ids(ts, "user_id=+15559999", "");
	f_ids(ts, "name=Alice%20Smith", "ct_01");
	f_ids(ts, "name=Alice+Smith", "ct_01");
	f_ids(ts, "%6Eame=Alice", "ct_01");
	test_server_stop(ts);
}

static void list_filters_by_username_substring(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "username=bobby", "ct_02");
	f_ids(ts, "username=by_j", "ct_02");
	f_ids(ts, "username=GRAM", "ct_07");
	f_ids(ts, "username=frankygram", "ct_07");
	test_server_stop(ts);
}

static void list_username_ignores_names(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "username=Search", "");
	f_ids(ts, "username=Evie", "");
	f_ids(ts, "username=bob%40", "");
	test_server_stop(ts);
}

static void list_filters_by_segment_id(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "segment_id=seg_a", "ct_02,ct_01");
	f_ids(ts, "segment_id=seg_b", "ct_02,ct_06");
	test_server_stop(ts);
}

static void list_segment_id_of_other_org_matches_nothing(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "segment_id=seg_g", "");
	f_ids(ts, "segment_id=seg_s", "");
	f_ids(ts, "segment_id=seg_nope", "");
	f_ids(ts, "segment_id=SEG_A", "");
	test_server_stop(ts);
}

static void list_filters_by_unsubscribed(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "unsubscribed=true", "ct_03,ct_06");
	f_ids(ts, "unsubscribed=false", "ct_05,ct_02,ct_07,ct_01,ct_04,ct_08");
	test_server_stop(ts);
}

static void list_exclude_admins(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "exclude_admins=true", "ct_05,ct_01,ct_03,ct_04,ct_08,ct_06");
	f_ids(ts, "exclude_admins=false", F_ALL);
	test_server_stop(ts);
}

static void list_status_all(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "status=ALL", F_ALL);
	test_server_stop(ts);
}

static void list_status_subscribed(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "status=SUBSCRIBED", "ct_05,ct_02,ct_07,ct_01,ct_08");
	test_server_stop(ts);
}

static void list_status_unsubscribed(void)
{
	struct test_server *ts = start_filters();
	/* Blocked or not. */
	f_ids(ts, "status=UNSUBSCRIBED", "ct_03,ct_06");
	test_server_stop(ts);
}

static void list_status_blocked(void)
{
	struct test_server *ts = start_filters();
	/* Unsubscribed or not. */
	f_ids(ts, "status=BLOCKED", "ct_04,ct_06");
	test_server_stop(ts);
}

static void list_status_ai_replies_disabled(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "status=AI_REPLIES_DISABLED", "ct_05,ct_07");
	test_server_stop(ts);
}

static void list_status_on_demo_data(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?status=BLOCKED", "ct_rachel,ct_spammy,ct_robo");
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?status=UNSUBSCRIBED",
		   "ct_rachel,ct_olga,ct_hannah,ct_pierre");
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?status=AI_REPLIES_DISABLED",
		   "ct_margaret,ct_robo");
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts?status=SUBSCRIBED"), 52 - 6);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts?status=ALL"), 52);
	test_server_stop(ts);
}

static void list_filters_combine_with_and(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "segment_id=seg_b&exclude_admins=true", "ct_06");
	f_ids(ts, "segment_id=seg_a&search=alice", "ct_01");
	f_ids(ts, "segment_id=seg_a&search=evie", "");
	f_ids(ts, "status=BLOCKED&unsubscribed=true", "ct_06");
	f_ids(ts, "status=BLOCKED&unsubscribed=false", "ct_04");
	f_ids(ts, "status=AI_REPLIES_DISABLED&exclude_admins=true", "ct_05");
	f_ids(ts, "name=e&status=SUBSCRIBED&exclude_admins=true", "ct_01,ct_08");
	f_ids(ts, "search=example.com&exclude_admins=true", "ct_01");
	f_ids(ts, "email=bob@example.com&segment_id=seg_b", "ct_02");
	f_ids(ts, "email=bob@example.com&name=alice", "");
	/* Every filter at once, each matching ct_02; then one of them not. */
	f_ids(ts,
	      "search=jones&name=bob&email=BOB@example.com&user_id=u02bob&username=bobby"
	      "&segment_id=seg_a&unsubscribed=false&exclude_admins=false&status=SUBSCRIBED",
	      "ct_02");
	f_ids(ts,
	      "search=jones&name=bob&email=BOB@example.com&user_id=u02bob&username=bobby"
	      "&segment_id=seg_a&unsubscribed=false&exclude_admins=true&status=SUBSCRIBED",
	      "");
	f_ids(ts,
	      "search=jones&name=bob&email=BOB@example.com&user_id=u02bob&username=bobby"
	      "&segment_id=seg_a&unsubscribed=false&exclude_admins=false&status=BLOCKED",
	      "");
	test_server_stop(ts);
}

static void list_empty_values_are_absent(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts,
	      "search=&name=&email=&user_id=&username=&segment_id=&unsubscribed=&exclude_admins="
	      "&status=&page=&take=",
	      F_ALL);
	f_ids(ts, "name&take&page&status", F_ALL);
	f_ids(ts, "name=&search=alice", "ct_01");
	test_server_stop(ts);
}

static void list_ignores_unknown_params(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "foo=bar&limit=1&offset=3&sort=name&order=asc&per_page=2", F_ALL);
	f_ids(ts, "foo=1&foo=2&x", F_ALL);
	f_ids(ts, "q=alice&search=evie", "ct_06");
	test_server_stop(ts);
}

/* ============================================================ list: access */

static void list_c_and_real_id_agree(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	struct http_resp a = get(ts, "sk_test_demo", "/orgs/c/contacts?take=100");
	struct http_resp b = get(ts, "sk_test_demo", "/orgs/org_demo/contacts?take=100");
	CHECK_INT_EQ(a.status, 200);
	CHECK_INT_EQ(b.status, 200);
	CHECK_STR_EQ(a.body, b.body);
	check_pagination(&a, "c", 52, 1, 100);
	check_pagination(&b, "org_demo", 52, 1, 100);
	http_resp_cleanup(&a);
	http_resp_cleanup(&b);
	test_server_stop(ts);
}

static void list_parent_key_reaches_sub_org(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *eu = "ct_eu_lucia,ct_eu_giulia,ct_eu_sven,ct_eu_staff,ct_eu_jonas,ct_eu_klara";
	expect_ids(ts, "sk_test_demo", "/orgs/org_demo_eu/contacts", eu);
	expect_ids(ts, "sk_test_demo_eu", "/orgs/c/contacts", eu);
	expect_ids(ts, "sk_test_demo_eu", "/orgs/org_demo_eu/contacts", eu);
	/* The parent's own list holds none of them. */
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?search=Kl%C3%A1ra", "");
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?segment_id=seg_eu_berlin", "");
	test_server_stop(ts);
}

static void list_sub_org_key_cannot_reach_parent(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	expect_error(ts, "GET", "sk_test_demo_eu", "/orgs/org_demo/contacts", NULL, 401,
		     "This API key cannot access org org_demo");
	expect_error(ts, "GET", "sk_test_demo_eu", "/orgs/org_demo/contacts?search=ada", NULL, 401,
		     "This API key cannot access org org_demo");
	test_server_stop(ts);
}

static void list_refuses_other_orgs(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	expect_error(ts, "GET", "sk_test_acme", "/orgs/org_demo/contacts", NULL, 401,
		     "This API key cannot access org org_demo");
	expect_error(ts, "GET", "sk_test_demo", "/orgs/org_acme/contacts", NULL, 401,
		     "This API key cannot access org org_acme");
	expect_error(ts, "GET", "sk_test_demo_eu", "/orgs/org_acme/contacts", NULL, 401,
		     "This API key cannot access org org_acme");
	expect_error(ts, "GET", "sk_test_demo", "/orgs/org_nope/contacts", NULL, 401,
		     "This API key cannot access org org_nope");
	test_server_stop(ts);
}

/* Filters never reach across orgs: no rows and no count. */
static void list_filters_never_see_other_orgs(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	static const char *const queries[] = {
		"search=ada", "name=Ada", "email=ada@analytical.example", "user_id=%2B15550100",
		"username=grace", "segment_id=seg_vip", "search=klara", "segment_id=seg_eu_berlin",
	};
	for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
		char path[256];
		snprintf(path, sizeof path, "/orgs/c/contacts?%s", queries[i]);
		expect_ids(ts, "sk_test_acme", path, "");
	}
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?email=bugs@carrots.example", "");
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?segment_id=seg_acme_trial", "");
	expect_ids(ts, "sk_test_acme", "/orgs/c/contacts?email=bugs@carrots.example", "ct_acme_bugs");
	CHECK_INT_EQ(list_count(ts, "sk_test_acme", "/orgs/c/contacts"), 8);
	test_server_stop(ts);
}

static void list_look_alikes_stay_in_their_org(void)
{
	struct test_server *ts = start_filters();
	f_ids(ts, "email=alice.smith@example.com", "ct_01");
	f_ids(ts, "username=bobby_j", "ct_02");
	f_ids(ts, "user_id=U02BOB", "ct_02");
	expect_ids(ts, "sk_g", "/orgs/c/contacts?email=alice.smith@example.com", "ct_g1");
	expect_ids(ts, "sk_g", "/orgs/c/contacts?username=bobby_j", "ct_g1");
	expect_ids(ts, "sk_g", "/orgs/c/contacts?search=alice", "ct_g1");
	expect_ids(ts, "sk_f_sub", "/orgs/c/contacts?email=alice.smith@example.com", "ct_s1");
	expect_ids(ts, "sk_f", "/orgs/org_f_sub/contacts?username=bobby_j", "ct_s1");
	expect_ids(ts, "sk_f", "/orgs/org_f_sub/contacts?segment_id=seg_s", "ct_s1");
	expect_ids(ts, "sk_f", "/orgs/org_f_sub/contacts?segment_id=seg_a", "");
	expect_error(ts, "GET", "sk_f_sub", "/orgs/org_f/contacts", NULL, 401,
		     "This API key cannot access org org_f");
	expect_error(ts, "GET", "sk_f", "/orgs/org_g/contacts", NULL, 401,
		     "This API key cannot access org org_g");
	expect_error(ts, "GET", "sk_g", "/orgs/org_f_sub/contacts", NULL, 401,
		     "This API key cannot access org org_f_sub");
	test_server_stop(ts);
}

static void list_refuses_missing_or_unknown_key(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	expect_error(ts, "GET", NULL, "/orgs/c/contacts", NULL, 401, "Missing Authorization header");
	expect_error(ts, "GET", "sk_nope", "/orgs/c/contacts", NULL, 401, "Invalid API key");
	test_server_stop(ts);
}

/* ========================================================= list: pagination */

static void list_default_take_is_100(void)
{
	struct test_server *ts = start_paging(250);
	char *ids = id_range("ct_p", 0, 99, 1);
	expect_page(ts, "sk_p", "/orgs/c/contacts", ids, 250, 1, 100);
	expect_page(ts, "sk_p", "/orgs/c/contacts?page=1", ids, 250, 1, 100);
	expect_page(ts, "sk_p", "/orgs/c/contacts?take=100", ids, 250, 1, 100);
	free(ids);
	test_server_stop(ts);
}

static void list_pages_follow_each_other(void)
{
	struct test_server *ts = start_paging(250);
	char *ids = id_range("ct_p", 100, 199, 1);
	expect_page(ts, "sk_p", "/orgs/c/contacts?page=2", ids, 250, 2, 100);
	free(ids);
	ids = id_range("ct_p", 30, 39, 1);
	expect_page(ts, "sk_p", "/orgs/c/contacts?page=4&take=10", ids, 250, 4, 10);
	free(ids);
	/* Pairs share created_at: a page boundary inside a pair still splits by id. */
	expect_page(ts, "sk_p", "/orgs/c/contacts?page=2&take=3", "ct_p003,ct_p004,ct_p005", 250, 2, 3);
	expect_page(ts, "sk_p", "/orgs/c/contacts?page=1&take=1", "ct_p000", 250, 1, 1);
	expect_page(ts, "sk_p", "/orgs/c/contacts?page=2&take=1", "ct_p001", 250, 2, 1);
	test_server_stop(ts);
}

static void list_last_page_is_partial(void)
{
	struct test_server *ts = start_paging(250);
	char *ids = id_range("ct_p", 200, 249, 1);
	expect_page(ts, "sk_p", "/orgs/c/contacts?page=3", ids, 250, 3, 100);
	free(ids);
	/* 250 = 35 * 7 + 5 */
	expect_page(ts, "sk_p", "/orgs/c/contacts?take=7&page=36",
		    "ct_p245,ct_p246,ct_p247,ct_p248,ct_p249", 250, 36, 7);
	expect_page(ts, "sk_p", "/orgs/c/contacts?take=1&page=250", "ct_p249", 250, 250, 1);
	test_server_stop(ts);
}

static void list_page_past_end_is_empty(void)
{
	struct test_server *ts = start_paging(250);
	expect_page(ts, "sk_p", "/orgs/c/contacts?page=4", "", 250, 4, 100);
	expect_page(ts, "sk_p", "/orgs/c/contacts?take=7&page=37", "", 250, 37, 7);
	expect_page(ts, "sk_p", "/orgs/c/contacts?take=1&page=251", "", 250, 251, 1);
	expect_page(ts, "sk_p", "/orgs/c/contacts?page=1000000", "", 250, 1000000, 100);
	expect_page(ts, "sk_p", "/orgs/c/contacts?page=999999999999", "", 250, 999999999999LL, 100);
	/* And with a filter that matches nothing. */
	expect_page(ts, "sk_p", "/orgs/c/contacts?name=zzz&page=3&take=5", "", 0, 3, 5);
	struct http_resp r = get(ts, "sk_p", "/orgs/c/contacts?page=9");
	CHECK_STR_EQ(r.body, "[]");
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void list_exact_multiple_of_take(void)
{
	struct test_server *ts = start_paging(200);
	char *ids = id_range("ct_p", 0, 99, 1);
	expect_page(ts, "sk_p", "/orgs/c/contacts?take=100", ids, 200, 1, 100);
	free(ids);
	ids = id_range("ct_p", 100, 199, 1);
	expect_page(ts, "sk_p", "/orgs/c/contacts?take=100&page=2", ids, 200, 2, 100);
	free(ids);
	expect_page(ts, "sk_p", "/orgs/c/contacts?take=100&page=3", "", 200, 3, 100);
	ids = id_range("ct_p", 150, 199, 1);
	expect_page(ts, "sk_p", "/orgs/c/contacts?take=50&page=4", ids, 200, 4, 50);
	free(ids);
	expect_page(ts, "sk_p", "/orgs/c/contacts?take=50&page=5", "", 200, 5, 50);
	test_server_stop(ts);
}

/* pagination-count counts the matches, not the org's contacts. */
static void list_paginates_filtered_matches(void)
{
	struct test_server *ts = start_paging(250);
	char *ids = id_range("ct_p", 0, 198, 2);
	expect_page(ts, "sk_p", "/orgs/c/contacts?segment_id=seg_p", ids, 125, 1, 100);
	free(ids);
	ids = id_range("ct_p", 200, 248, 2);
	expect_page(ts, "sk_p", "/orgs/c/contacts?segment_id=seg_p&page=2", ids, 125, 2, 100);
	free(ids);
	expect_page(ts, "sk_p", "/orgs/c/contacts?segment_id=seg_p&page=3", "", 125, 3, 100);
	expect_page(ts, "sk_p", "/orgs/c/contacts?search=P+24&take=3&page=2", "ct_p243,ct_p244,ct_p245",
		    10, 2, 3);
	test_server_stop(ts);

	ts = start_filters();
	expect_page(ts, "sk_f", "/orgs/c/contacts?status=SUBSCRIBED&take=2", "ct_05,ct_02", 5, 1, 2);
	expect_page(ts, "sk_f", "/orgs/c/contacts?status=SUBSCRIBED&take=2&page=2", "ct_07,ct_01", 5, 2,
		    2);
	expect_page(ts, "sk_f", "/orgs/c/contacts?status=SUBSCRIBED&take=2&page=3", "ct_08", 5, 3, 2);
	expect_page(ts, "sk_f", "/orgs/c/contacts?status=SUBSCRIBED&take=2&page=4", "", 5, 4, 2);
	test_server_stop(ts);
}

static void list_orders_newest_first_then_id(void)
{
	struct test_server *ts = start_filters();
	/* ct_03 and ct_04 share created_at; the file lists ct_04 first. */
	expect_page(ts, "sk_f", "/orgs/c/contacts?take=1&page=5", "ct_03", 8, 5, 1);
	expect_page(ts, "sk_f", "/orgs/c/contacts?take=1&page=6", "ct_04", 8, 6, 1);
	test_server_stop(ts);
	ts = test_server_start(NULL, NULL);
	expect_page(ts, "sk_test_demo", "/orgs/c/contacts?take=3",
		    "ct_noah,ct_ramanujan,ct_sofia", 52, 1, 3);
	test_server_stop(ts);
}

/* ============================================================= list: 400s */

static void list_refuses_bad_take(void)
{
	static const char *const bad[] = {"0", "101", "-1", "abc", "1.5", "1e2", "10x", "%2B5",
					  "99999999999999999999", "1000"};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char path[256];
		snprintf(path, sizeof path, "/orgs/c/contacts?take=%s", bad[i]);
		expect_error(ts, "GET", "sk_test_demo", path, NULL, 400,
			     "take must be an integer from 1 to 100");
	}
	test_server_stop(ts);
}

static void list_refuses_bad_page(void)
{
	static const char *const bad[] = {"0", "-1", "abc", "1.5", "2x", "%2B2", "-0", "1e3"};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char path[256];
		snprintf(path, sizeof path, "/orgs/c/contacts?page=%s", bad[i]);
		expect_error(ts, "GET", "sk_test_demo", path, NULL, 400,
			     "page must be a positive integer");
	}
	test_server_stop(ts);
}

static void list_refuses_bad_unsubscribed(void)
{
	static const char *const bad[] = {"TRUE", "False", "1", "0", "yes", "truex", "t"};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char path[256];
		snprintf(path, sizeof path, "/orgs/c/contacts?unsubscribed=%s", bad[i]);
		expect_error(ts, "GET", "sk_test_demo", path, NULL, 400,
			     "unsubscribed must be true or false");
	}
	test_server_stop(ts);
}

static void list_refuses_bad_exclude_admins(void)
{
	static const char *const bad[] = {"TRUE", "False", "1", "0", "no", "+true"};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char path[256];
		snprintf(path, sizeof path, "/orgs/c/contacts?exclude_admins=%s", bad[i]);
		expect_error(ts, "GET", "sk_test_demo", path, NULL, 400,
			     "exclude_admins must be true or false");
	}
	test_server_stop(ts);
}

static void list_refuses_bad_status(void)
{
	static const char *const bad[] = {"all", "Blocked", "FOO", "ACTIVE", "BLOCKED+", "ALL,BLOCKED"};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char path[256];
		snprintf(path, sizeof path, "/orgs/c/contacts?status=%s", bad[i]);
		expect_error(ts, "GET", "sk_test_demo", path, NULL, 400,
			     "status must be one of ALL, SUBSCRIBED, UNSUBSCRIBED, BLOCKED, "
			     "AI_REPLIES_DISABLED");
	}
	test_server_stop(ts);
}

static void list_refuses_duplicate_params(void)
{
	static const char *const names[] = {"search", "name", "email", "user_id", "username",
					    "segment_id", "unsubscribed", "exclude_admins",
					    "status", "page", "take"};
	static const char *const values[] = {"a", "a", "a@b", "u", "u", "seg_vip", "true", "true",
					     "ALL", "1", "5"};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char path[256], msg[128];
		snprintf(msg, sizeof msg, "Query parameter %s must be given once", names[i]);
		snprintf(path, sizeof path, "/orgs/c/contacts?%s=%s&%s=%s", names[i], values[i],
			 names[i], values[i]);
		expect_error(ts, "GET", "sk_test_demo", path, NULL, 400, msg);
		/* Twice even when one of them is empty, or with others between. */
		snprintf(path, sizeof path, "/orgs/c/contacts?%s=&foo=1&%s=%s", names[i], names[i],
			 values[i]);
		expect_error(ts, "GET", "sk_test_demo", path, NULL, 400, msg);
	}
	/* A percent-encoded name is the same name. */
	expect_error(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=1&t%61ke=2", NULL, 400,
		     "Query parameter take must be given once");
	test_server_stop(ts);
}

/* ================================================================== create */

static const char CONTACT_KEYS[] =
	"id,name,blocked,unsubscribed,is_admin,channels,segments,created_at,updated_at,blocked_at,"
	"unsubscribed_at,unsubscribe_reason,unsubscribe_feedback";
static const char CHANNEL_KEYS[] = "id,type,user_id,avatar,name,username,email,phone,country,agent,"
				   "ip,language,platform_data,created_at,updated_at,link";
static const char SEGMENT_KEYS[] = "id,name,color,contacts_count,created_at,updated_at";

static void create_makes_new_contact(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	int64_t t0 = now_ms();
	cJSON *j = create_ok(ts, "sk_test_demo", "c",
			     "{\"channel\":{\"name\":\"New Person\",\"email\":\"New.Person@Example.com\","
			     "\"phone\":\"+15557777\"}}",
			     NULL);
	CHECK_STR_EQ(keys_of(j), CONTACT_KEYS);
	check_generated_id(str_or_null(j, "id"), "ct_");
	CHECK_STR_EQ(str_or_null(j, "name"), "New Person");
	CHECK(!boolean(j, "blocked"));
	CHECK(!boolean(j, "unsubscribed"));
	CHECK(!boolean(j, "is_admin"));
	const char *created = str_or_null(j, "created_at");
	check_written_now(created, t0);
	CHECK_STR_EQ(str_or_null(j, "updated_at"), created);
	CHECK_NULL(str_or_null(j, "blocked_at"));
	CHECK_NULL(str_or_null(j, "unsubscribed_at"));
	CHECK_NULL(str_or_null(j, "unsubscribe_reason"));
	CHECK_NULL(str_or_null(j, "unsubscribe_feedback"));
	const cJSON *segs = field(j, "segments");
	CHECK(cJSON_IsArray(segs));
	CHECK_INT_EQ(cJSON_GetArraySize(segs), 0);
	const cJSON *chs = field(j, "channels");
	CHECK(cJSON_IsArray(chs));
	CHECK_INT_EQ(cJSON_GetArraySize(chs), 1);
	const cJSON *ch = chs->child;
	CHECK_STR_EQ(keys_of(ch), CHANNEL_KEYS);
	check_generated_id(str_or_null(ch, "id"), "ch_");
	CHECK_STR_EQ(str_or_null(ch, "type"), "custom");
	CHECK_STR_EQ(str_or_null(ch, "user_id"), "New.Person@Example.com");
	CHECK_STR_EQ(str_or_null(ch, "name"), "New Person");
	CHECK_STR_EQ(str_or_null(ch, "email"), "New.Person@Example.com");
	CHECK_STR_EQ(str_or_null(ch, "phone"), "+15557777");
	static const char *const nulls[] = {"avatar", "username", "country", "agent",
					    "ip",     "language", "link"};
	for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
		CHECK_NULL(str_or_null(ch, nulls[i]));
	const cJSON *pd = field(ch, "platform_data");
	CHECK(cJSON_IsObject(pd) && !pd->child);
	CHECK_STR_EQ(str_or_null(ch, "created_at"), created);
	CHECK_STR_EQ(str_or_null(ch, "updated_at"), created);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void create_generates_distinct_ids(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	cJSON *a = create_ok(ts, "sk_test_demo", "c", "{\"channel\":{\"user_id\":\"same\"}}", NULL);
	cJSON *b = create_ok(ts, "sk_test_demo", "c", "{\"channel\":{\"user_id\":\"same\"}}", NULL);
	CHECK(strcmp(str_or_null(a, "id"), str_or_null(b, "id")));
	CHECK(strcmp(str_or_null(field(a, "channels")->child, "id"),
		     str_or_null(field(b, "channels")->child, "id")));
	/* Two contacts with the same user_id: the filter finds both. */
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts?user_id=same"), 2);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts"), 54);
	cJSON_Delete(a);
	cJSON_Delete(b);
	test_server_stop(ts);
}

/* user_id is the one given, else the email, else the phone; "" is not given. */
static void create_picks_user_id(void)
{
	static const struct {
		const char *channel, *user_id;
	} cases[] = {
		{"{\"user_id\":\"u-1\",\"email\":\"e1@x.example\",\"phone\":\"+1001\"}", "u-1"},
		{"{\"email\":\"e2@x.example\",\"phone\":\"+1002\"}", "e2@x.example"},
		{"{\"phone\":\"+1003\"}", "+1003"},
		{"{\"user_id\":\"\",\"email\":\"e4@x.example\",\"phone\":\"+1004\"}", "e4@x.example"},
		{"{\"user_id\":\"\",\"email\":\"\",\"phone\":\"+1005\"}", "+1005"},
		{"{\"user_id\":null,\"email\":null,\"phone\":\"+1006\"}", "+1006"},
		{"{\"user_id\":\"u-7\",\"email\":null}", "u-7"},
	};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char body[512];
		snprintf(body, sizeof body, "{\"channel\":%s}", cases[i].channel);
		cJSON *j = create_ok(ts, "sk_test_demo", "c", body, NULL);
		const cJSON *ch = field(j, "channels")->child;
		CHECK(ch);
		if (strcmp(str_or_null(ch, "user_id"), cases[i].user_id))
			fprintf(stderr, "body %s\n", body);
		CHECK_STR_EQ(str_or_null(ch, "user_id"), cases[i].user_id);
		CHECK_STR_EQ(str_or_null(ch, "type"), "custom");
		/* No channel.name: the contact has no name. */
		CHECK(cJSON_IsNull(field(j, "name")));
		CHECK(cJSON_IsNull(field(ch, "name")));
		cJSON_Delete(j);
	}
	test_server_stop(ts);
}

static void create_with_null_name_has_null_name(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	cJSON *j = create_ok(ts, "sk_test_demo", "c",
			     "{\"channel\":{\"name\":null,\"user_id\":\"x\"},\"segment_ids\":[]}", NULL);
	CHECK(cJSON_IsNull(field(j, "name")));
	CHECK_INT_EQ(cJSON_GetArraySize(field(j, "segments")), 0);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void create_accepts_name_of_512_code_points(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	char name[512 * 2 + 1], body[1200];
	for (int i = 0; i < 512; i++)
		memcpy(name + 2 * i, "\xc3\xa9", 2);
	name[1024] = '\0';
	snprintf(body, sizeof body, "{\"channel\":{\"name\":\"%s\",\"user_id\":\"x\"}}", name);
	cJSON *j = create_ok(ts, "sk_test_demo", "c", body, NULL);
	CHECK_STR_EQ(str_or_null(j, "name"), name);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void create_lists_new_contact_first(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	cJSON *j = create_ok(ts, "sk_test_demo", "c",
			     "{\"channel\":{\"email\":\"first@new.example\"}}", NULL);
	const char *id = str_or_null(j, "id");
	struct http_resp r = get(ts, "sk_test_demo", "/orgs/c/contacts?take=2");
	CHECK_INT_EQ(r.status, 200);
	check_pagination(&r, "after create", 53, 1, 2);
	char *ids = ids_of(r.body), want[128];
	snprintf(want, sizeof want, "%s,ct_noah", id);
	CHECK_STR_EQ(ids, want);
	free(ids);
	http_resp_cleanup(&r);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void create_answer_equals_listed_contact(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	char *text;
	cJSON *j = create_ok(ts, "sk_test_demo", "c",
			     "{\"channel\":{\"name\":\"Listed\",\"user_id\":\"listed-1\","
			     "\"email\":\"listed@new.example\"},\"segment_ids\":[\"seg_events\",\"seg_vip\"]}",
			     &text);
	char want[8192];
	snprintf(want, sizeof want, "[%s]", text);
	struct http_resp r = get(ts, "sk_test_demo", "/orgs/c/contacts?take=1");
	CHECK_INT_EQ(r.status, 200);
	CHECK_STR_EQ(r.body, want);
	http_resp_cleanup(&r);
	r = get(ts, "sk_test_demo", "/orgs/c/contacts?user_id=LISTED-1");
	CHECK_STR_EQ(r.body, want);
	http_resp_cleanup(&r);
	/* And what PATCH reads back. */
	char *stored = test_stored_contact(ts, "sk_test_demo", "c", str_or_null(j, "id"));
	CHECK_STR_EQ(stored, text);
	free(stored);
	free(text);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void create_is_found_by_email_and_user_id(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	cJSON *j = create_ok(ts, "sk_test_demo", "c",
			     "{\"channel\":{\"user_id\":\"crm-42\",\"email\":\"Found.Me@New.example\","
			     "\"phone\":\"+15558888\",\"name\":\"Found Me\"}}",
			     NULL);
	const char *id = str_or_null(j, "id");
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?email=found.me@new.example", id);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?user_id=CRM-42", id);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?search=%2B1555888", id);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?name=found", id);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?search=found+me&status=SUBSCRIBED", id);
	/* The email is not its user_id here. */
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?user_id=found.me@new.example", "");
	/* Another org does not see it. */
	expect_ids(ts, "sk_test_acme", "/orgs/c/contacts?user_id=crm-42", "");
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void create_adds_segments_and_grows_counts(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts?segment_id=seg_vip"), 9);
	CHECK_INT_EQ(contacts_count_via(ts, "sk_test_demo", "c", "ct_ada", "seg_vip"), 9);
	CHECK_INT_EQ(contacts_count_via(ts, "sk_test_demo", "c", "ct_ada", "seg_beta"), 8);
	CHECK_INT_EQ(contacts_count_via(ts, "sk_test_demo", "c", "ct_ada", "seg_newsletter"), 13);
	cJSON *j = create_ok(ts, "sk_test_demo", "c",
			     "{\"segment_ids\":[\"seg_beta\",\"seg_vip\"],"
			     "\"channel\":{\"email\":\"seg@new.example\"}}",
			     NULL);
	const char *id = str_or_null(j, "id");
	const cJSON *segs = field(j, "segments");
	char *sids = ids_of_array(segs);
	CHECK_STR_EQ(sids, "seg_vip,seg_beta");
	free(sids);
	CHECK_STR_EQ(keys_of(segs->child), SEGMENT_KEYS);
	CHECK_INT_EQ(number(segs->child, "contacts_count"), 10);
	CHECK_INT_EQ(number(segs->child->next, "contacts_count"), 9);
	/* Counts seen elsewhere grow too; others stay. */
	CHECK_INT_EQ(contacts_count_via(ts, "sk_test_demo", "c", "ct_ada", "seg_vip"), 10);
	CHECK_INT_EQ(contacts_count_via(ts, "sk_test_demo", "c", "ct_ada", "seg_beta"), 9);
	CHECK_INT_EQ(contacts_count_via(ts, "sk_test_demo", "c", "ct_ada", "seg_newsletter"), 13);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts?segment_id=seg_vip"), 10);
	struct http_resp r = get(ts, "sk_test_demo", "/orgs/c/contacts?segment_id=seg_beta&take=1");
	char *first = ids_of(r.body);
	CHECK_STR_EQ(first, id);
	free(first);
	http_resp_cleanup(&r);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void create_adds_duplicate_segment_once(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	cJSON *j = create_ok(ts, "sk_test_demo", "c",
			     "{\"channel\":{\"phone\":\"+15550999\"},"
			     "\"segment_ids\":[\"seg_events\",\"seg_events\",\"seg_events\"]}",
			     NULL);
	const cJSON *segs = field(j, "segments");
	CHECK_INT_EQ(cJSON_GetArraySize(segs), 1);
	CHECK_STR_EQ(str_or_null(segs->child, "id"), "seg_events");
	CHECK_INT_EQ(number(segs->child, "contacts_count"), 7);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts?segment_id=seg_events"), 7);
	char path[128];
	snprintf(path, sizeof path, "/orgs/c/contacts/%s/segments", str_or_null(j, "id"));
	expect_ids(ts, "sk_test_demo", path, "seg_events");
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void create_in_sub_org_with_parent_key(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	cJSON *j = create_ok(ts, "sk_test_demo", "org_demo_eu",
			     "{\"channel\":{\"email\":\"eu@new.example\"},"
			     "\"segment_ids\":[\"seg_eu_berlin\"]}",
			     NULL);
	const char *id = str_or_null(j, "id");
	CHECK_INT_EQ(number(field(j, "segments")->child, "contacts_count"), 3);
	expect_ids(ts, "sk_test_demo_eu", "/orgs/c/contacts?email=eu@new.example", id);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo_eu", "/orgs/c/contacts"), 7);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts"), 52);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?email=eu@new.example", "");
	/* The sub-org's own key creates there with c. */
	cJSON *k = create_ok(ts, "sk_test_demo_eu", "c", "{\"channel\":{\"email\":\"eu2@new.example\"}}",
			     NULL);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo_eu", "/orgs/c/contacts"), 8);
	cJSON_Delete(k);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void create_refused_across_orgs(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *body = "{\"channel\":{\"email\":\"intruder@new.example\"}}";
	expect_error(ts, "POST", "sk_test_demo_eu", "/orgs/org_demo/contacts", body, 401,
		     "This API key cannot access org org_demo");
	expect_error(ts, "POST", "sk_test_acme", "/orgs/org_demo/contacts", body, 401,
		     "This API key cannot access org org_demo");
	expect_error(ts, "POST", "sk_test_acme", "/orgs/org_demo_eu/contacts", body, 401,
		     "This API key cannot access org org_demo_eu");
	expect_error(ts, "POST", "sk_test_demo", "/orgs/org_acme/contacts", body, 401,
		     "This API key cannot access org org_acme");
	expect_error(ts, "POST", "sk_test_demo", "/orgs/org_nope/contacts", body, 401,
		     "This API key cannot access org org_nope");
	expect_error(ts, "POST", NULL, "/orgs/c/contacts", body, 401, "Missing Authorization header");
	expect_error(ts, "POST", "sk_nope", "/orgs/c/contacts", body, 401, "Invalid API key");
	const char *basic[] = {"Authorization: Basic abc", CT_JSON, NULL};
	struct http_resp r = req(ts, "POST", "/orgs/c/contacts", basic, body);
	check_error(&r, 401, "Authorization must be \"Bearer <api key>\"");
	http_resp_cleanup(&r);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts"), 52);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo_eu", "/orgs/c/contacts"), 6);
	CHECK_INT_EQ(list_count(ts, "sk_test_acme", "/orgs/c/contacts"), 8);
	test_server_stop(ts);
}

static void create_refuses_segments_of_other_orgs(void)
{
	static const struct {
		const char *key, *org, *segments, *bad;
	} cases[] = {
		{"sk_test_demo", "c", "[\"seg_x\"]", "seg_x"},
		{"sk_test_demo", "c", "[\"seg_acme_trial\"]", "seg_acme_trial"},
		{"sk_test_demo", "c", "[\"seg_eu_berlin\"]", "seg_eu_berlin"},
		{"sk_test_demo", "org_demo_eu", "[\"seg_vip\"]", "seg_vip"},
		{"sk_test_demo_eu", "c", "[\"seg_vip\"]", "seg_vip"},
		{"sk_test_acme", "c", "[\"seg_acme_trial\",\"seg_vip\"]", "seg_vip"},
		{"sk_test_demo", "c", "[\"seg_vip\",\"seg_x\",\"seg_beta\"]", "seg_x"},
		{"sk_test_demo", "c", "[\"SEG_VIP\"]", "SEG_VIP"},
	};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char path[128], body[256], msg[128];
		snprintf(path, sizeof path, "/orgs/%s/contacts", cases[i].org);
		snprintf(body, sizeof body,
			 "{\"channel\":{\"email\":\"seg-bad@new.example\"},\"segment_ids\":%s}",
			 cases[i].segments);
		snprintf(msg, sizeof msg, "segment %s does not exist in this org", cases[i].bad);
		expect_error(ts, "POST", cases[i].key, path, body, 400, msg);
	}
	/* Nothing was made, and no count moved. */
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts"), 52);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo_eu", "/orgs/c/contacts"), 6);
	CHECK_INT_EQ(list_count(ts, "sk_test_acme", "/orgs/c/contacts"), 8);
	CHECK_INT_EQ(contacts_count_via(ts, "sk_test_demo", "c", "ct_ada", "seg_vip"), 9);
	CHECK_INT_EQ(contacts_count_via(ts, "sk_test_acme", "c", "ct_acme_road", "seg_acme_trial"), 3);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?email=seg-bad@new.example", "");
	test_server_stop(ts);
}

/* Each body refused with its 400 message, and nothing created. */
static void refuse_creates(const char *const (*cases)[2], size_t n)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < n; i++)
		expect_error(ts, "POST", "sk_test_demo", "/orgs/c/contacts", cases[i][0], 400,
			     cases[i][1]);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts"), 52);
	test_server_stop(ts);
}

static void create_refuses_non_object_body(void)
{
	static const char *const cases[][2] = {
		{"[]", "Body must be a JSON object"},
		{"[{\"channel\":{\"email\":\"a@b.example\"}}]", "Body must be a JSON object"},
		{"\"x\"", "Body must be a JSON object"},
		{"1", "Body must be a JSON object"},
		{"null", "Body must be a JSON object"},
		{"true", "Body must be a JSON object"},
	};
	refuse_creates(cases, sizeof cases / sizeof cases[0]);
}

static void create_refuses_missing_or_non_object_channel(void)
{
	static const char *const cases[][2] = {
		{"{}", "channel must be an object"},
		{"{\"segment_ids\":[]}", "channel must be an object"},
		{"{\"channel\":null}", "channel must be an object"},
		{"{\"channel\":\"a@b.example\"}", "channel must be an object"},
		{"{\"channel\":[{\"email\":\"a@b.example\"}]}", "channel must be an object"},
		{"{\"channel\":1}", "channel must be an object"},
		{"{\"channel\":true}", "channel must be an object"},
		{"{\"Channel\":{\"email\":\"a@b.example\"}}", "property Channel should not exist"},
	};
	refuse_creates(cases, sizeof cases / sizeof cases[0]);
	/* No body at all: no channel. */
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *h[] = {AUTH_DEMO, CT_JSON, NULL};
	struct http_resp r = req(ts, "POST", "/orgs/c/contacts", h, NULL);
	check_error(&r, 400, "channel must be an object");
	http_resp_cleanup(&r);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts"), 52);
	test_server_stop(ts);
}

static void create_refuses_unknown_property(void)
{
	static const char *const cases[][2] = {
		{"{\"channel\":{\"email\":\"a@b.example\"},\"foo\":1}", "property foo should not exist"},
		{"{\"foo\":null,\"channel\":{\"email\":\"a@b.example\"}}", "property foo should not exist"},
		{"{\"channel\":{\"email\":\"a@b.example\"},\"name\":\"x\"}",
		 "property name should not exist"},
		{"{\"channel\":{\"email\":\"a@b.example\"},\"id\":\"ct_mine\"}",
		 "property id should not exist"},
		{"{\"channel\":{\"email\":\"a@b.example\"},\"segmentIds\":[]}",
		 "property segmentIds should not exist"},
	};
	refuse_creates(cases, sizeof cases / sizeof cases[0]);
}

static void create_refuses_unknown_channel_property(void)
{
	static const char *const cases[][2] = {
		{"{\"channel\":{\"email\":\"a@b.example\",\"foo\":1}}",
		 "property channel.foo should not exist"},
		{"{\"channel\":{\"email\":\"a@b.example\",\"type\":\"gmail\"}}",
		 "property channel.type should not exist"},
		{"{\"channel\":{\"email\":\"a@b.example\",\"id\":\"ch_mine\"}}",
		 "property channel.id should not exist"},
		{"{\"channel\":{\"email\":\"a@b.example\",\"username\":\"u\"}}",
		 "property channel.username should not exist"},
		{"{\"channel\":{\"Email\":\"a@b.example\"}}", "property channel.Email should not exist"},
	};
	refuse_creates(cases, sizeof cases / sizeof cases[0]);
}

static void create_refuses_non_string_channel_fields(void)
{
	static const char *const cases[][2] = {
		{"{\"channel\":{\"email\":1}}", "channel.email must be a string or null"},
		{"{\"channel\":{\"email\":[\"a@b.example\"]}}", "channel.email must be a string or null"},
		{"{\"channel\":{\"user_id\":true}}", "channel.user_id must be a string or null"},
		{"{\"channel\":{\"user_id\":42}}", "channel.user_id must be a string or null"},
		{"{\"channel\":{\"phone\":15550100}}", "channel.phone must be a string or null"},
		{"{\"channel\":{\"email\":\"a@b.example\",\"name\":{}}}",
		 "channel.name must be a string or null"},
		{"{\"channel\":{\"email\":\"a@b.example\",\"contact_id\":5}}",
		 "channel.contact_id must be a string or null"},
	};
	refuse_creates(cases, sizeof cases / sizeof cases[0]);
}

static void create_refuses_name_of_513_code_points(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	static const char *const chars[] = {"a", "\xc3\xa9", "\xf0\x9f\x9a\x80"};
	for (size_t c = 0; c < 3; c++) {
		size_t w = strlen(chars[c]);
		char *name = malloc(513 * w + 1), *body = malloc(513 * w + 128);
		CHECK(name && body);
		for (int i = 0; i < 513; i++)
			memcpy(name + w * (size_t)i, chars[c], w);
		name[513 * w] = '\0';
		sprintf(body, "{\"channel\":{\"name\":\"%s\",\"email\":\"long@new.example\"}}", name);
		expect_error(ts, "POST", "sk_test_demo", "/orgs/c/contacts", body, 400,
			     "channel.name must be at most 512 characters");
		free(name);
		free(body);
	}
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts"), 52);
	test_server_stop(ts);
}

static void create_refuses_channel_without_identifier(void)
{
	static const char *const cases[][2] = {
		{"{\"channel\":{}}", "channel needs at least one of user_id, email, phone"},
		{"{\"channel\":{\"name\":\"Nobody\"}}", "channel needs at least one of user_id, email, phone"},
		{"{\"channel\":{\"user_id\":\"\",\"email\":\"\",\"phone\":\"\"}}",
		 "channel needs at least one of user_id, email, phone"},
		{"{\"channel\":{\"user_id\":null,\"email\":null,\"phone\":null}}",
		 "channel needs at least one of user_id, email, phone"},
		{"{\"channel\":{\"user_id\":\"\",\"email\":null,\"name\":\"x\"}}",
		 "channel needs at least one of user_id, email, phone"},
		{"{\"channel\":{\"contact_id\":\"ct_ada\"}}",
		 "channel needs at least one of user_id, email, phone"},
		{"{\"channel\":{\"contact_id\":\"ct_ada\",\"phone\":\"\"}}",
		 "channel needs at least one of user_id, email, phone"},
	};
	refuse_creates(cases, sizeof cases / sizeof cases[0]);
}

static void create_refuses_bad_segment_ids(void)
{
	static const char *const cases[][2] = {
		{"{\"channel\":{\"email\":\"a@b.example\"},\"segment_ids\":\"seg_vip\"}",
		 "segment_ids must be an array of strings"},
		{"{\"channel\":{\"email\":\"a@b.example\"},\"segment_ids\":null}",
		 "segment_ids must be an array of strings"},
		{"{\"channel\":{\"email\":\"a@b.example\"},\"segment_ids\":{}}",
		 "segment_ids must be an array of strings"},
		{"{\"channel\":{\"email\":\"a@b.example\"},\"segment_ids\":[1]}",
		 "segment_ids must be an array of strings"},
		{"{\"channel\":{\"email\":\"a@b.example\"},\"segment_ids\":[\"seg_vip\",null]}",
		 "segment_ids must be an array of strings"},
		{"{\"channel\":{\"email\":\"a@b.example\"},\"segment_ids\":[[\"seg_vip\"]]}",
		 "segment_ids must be an array of strings"},
	};
	refuse_creates(cases, sizeof cases / sizeof cases[0]);
}

static void create_refuses_invalid_json(void)
{
	static const char *const cases[][2] = {
		{"not json", "Body is not valid JSON (at byte 0)"},
		{"{\"channel\":{\"email\":\"a@b.example\"}", "Body is not valid JSON (at byte 34)"},
	};
	refuse_creates(cases, sizeof cases / sizeof cases[0]);
}

static void create_refuses_non_json_content_type(void)
{
	static const char *const cts[] = {"Content-Type: text/plain",
					  "Content-Type: application/x-www-form-urlencoded", NULL};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof cts / sizeof cts[0]; i++) {
		const char *h[] = {AUTH_DEMO, cts[i], NULL};
		struct http_resp r = req(ts, "POST", "/orgs/c/contacts", h,
					 "{\"channel\":{\"email\":\"ct@new.example\"}}");
		check_error(&r, 415, "Content-Type must be application/json");
		http_resp_cleanup(&r);
	}
	/* A charset=utf-8 parameter is fine. */
	const char *h[] = {AUTH_DEMO, "Content-Type: application/json; charset=utf-8", NULL};
	struct http_resp r =
		req(ts, "POST", "/orgs/c/contacts", h, "{\"channel\":{\"email\":\"ok@new.example\"}}");
	CHECK_INT_EQ(r.status, 201);
	http_resp_cleanup(&r);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts"), 53);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?email=ct@new.example", "");
	test_server_stop(ts);
}

/* Route, then 401, then 415, then 400, then 404 (invent-api.md §1). */
static void create_checks_in_contract_order(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *plain[] = {"Content-Type: text/plain", NULL};
	struct http_resp r = req(ts, "POST", "/orgs/c/contacts", plain, "not json");
	check_error(&r, 401, "Missing Authorization header");
	http_resp_cleanup(&r);
	const char *plain_auth[] = {AUTH_DEMO, "Content-Type: text/plain", NULL};
	r = req(ts, "POST", "/orgs/c/contacts", plain_auth, "not json");
	check_error(&r, 415, "Content-Type must be application/json");
	http_resp_cleanup(&r);
	expect_error(ts, "POST", "sk_test_demo", "/orgs/c/contacts",
		     "{\"channel\":{\"contact_id\":\"ct_nope\",\"email\":1}}", 400,
		     "channel.email must be a string or null");
	/* A bad segment is a 400 even for an unknown contact. */
	expect_error(ts, "POST", "sk_test_demo", "/orgs/c/contacts",
		     "{\"channel\":{\"contact_id\":\"ct_nope\",\"email\":\"a@b.example\"},"
		     "\"segment_ids\":[\"seg_x\"]}",
		     400, "segment seg_x does not exist in this org");
	test_server_stop(ts);
}

/* ====================================================== create: contact_id */

static void create_adds_channel_to_existing_contact(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	char *before = test_stored_contact(ts, "sk_test_demo", "c", "ct_alan");
	cJSON *old = cJSON_Parse(before);
	int64_t t0 = now_ms();
	cJSON *j = create_ok(ts, "sk_test_demo", "c",
			     "{\"channel\":{\"contact_id\":\"ct_alan\",\"email\":\"alan@bletchley.example\","
			     "\"name\":\"Alan T.\"}}",
			     NULL);
	CHECK_STR_EQ(keys_of(j), CONTACT_KEYS);
	CHECK_STR_EQ(str_or_null(j, "id"), "ct_alan");
	/* The contact keeps its name and created_at; updated_at is now. */
	CHECK_STR_EQ(str_or_null(j, "name"), "Alan Turing");
	CHECK_STR_EQ(str_or_null(j, "created_at"), "2024-02-19T04:01:05.550Z");
	check_written_now(str_or_null(j, "updated_at"), t0);
	const cJSON *chs = field(j, "channels");
	CHECK_INT_EQ(cJSON_GetArraySize(chs), 2);
	/* The old channel is as it was, the new one after it. */
	char *old_ch = cJSON_PrintUnformatted(field(old, "channels")->child);
	char *new_first = cJSON_PrintUnformatted(chs->child);
	CHECK_STR_EQ(new_first, old_ch);
	free(old_ch);
	free(new_first);
	const cJSON *ch = chs->child->next;
	CHECK_STR_EQ(keys_of(ch), CHANNEL_KEYS);
	check_generated_id(str_or_null(ch, "id"), "ch_");
	CHECK_STR_EQ(str_or_null(ch, "type"), "custom");
	CHECK_STR_EQ(str_or_null(ch, "user_id"), "alan@bletchley.example");
	CHECK_STR_EQ(str_or_null(ch, "email"), "alan@bletchley.example");
	CHECK_STR_EQ(str_or_null(ch, "name"), "Alan T.");
	CHECK_NULL(str_or_null(ch, "phone"));
	CHECK_STR_EQ(str_or_null(ch, "created_at"), str_or_null(j, "updated_at"));
	/* Segments unchanged. */
	char *segs = ids_of_array(field(j, "segments"));
	CHECK_STR_EQ(segs, "seg_beta");
	free(segs);
	/* No new contact; the list finds ct_alan by the new channel. */
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts"), 52);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?email=ALAN@bletchley.example", "ct_alan");
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?search=bletchley", "ct_alan");
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?user_id=523456789", "ct_alan");
	/* What PATCH reads back is the answer. */
	char *stored = test_stored_contact(ts, "sk_test_demo", "c", "ct_alan");
	char *answer = cJSON_PrintUnformatted(j);
	CHECK_STR_EQ(stored, answer);
	free(stored);
	free(answer);
	cJSON_Delete(j);
	cJSON_Delete(old);
	free(before);
	test_server_stop(ts);
}

static void create_channel_add_with_segments(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	cJSON *j = create_ok(ts, "sk_test_demo", "c",
			     "{\"channel\":{\"contact_id\":\"ct_ada\",\"phone\":\"+15550111\"},"
			     "\"segment_ids\":[\"seg_vip\",\"seg_events\"]}",
			     NULL);
	CHECK_STR_EQ(str_or_null(j, "id"), "ct_ada");
	CHECK_INT_EQ(cJSON_GetArraySize(field(j, "channels")), 3);
	const cJSON *segs = field(j, "segments");
	char *ids = ids_of_array(segs);
	CHECK_STR_EQ(ids, "seg_vip,seg_newsletter,seg_beta,seg_events");
	free(ids);
	/* seg_vip already held ct_ada: its count stays; seg_events grows. */
	CHECK_INT_EQ(contacts_count_via(ts, "sk_test_demo", "c", "ct_ada", "seg_vip"), 9);
	CHECK_INT_EQ(contacts_count_via(ts, "sk_test_demo", "c", "ct_ada", "seg_events"), 7);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?user_id=%2B15550111", "ct_ada");
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts"), 52);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void create_channel_add_in_sub_org(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	cJSON *j = create_ok(ts, "sk_test_demo", "org_demo_eu",
			     "{\"channel\":{\"contact_id\":\"ct_eu_klara\",\"user_id\":\"klara-web\"}}",
			     NULL);
	CHECK_STR_EQ(str_or_null(j, "id"), "ct_eu_klara");
	CHECK_INT_EQ(cJSON_GetArraySize(field(j, "channels")), 2);
	expect_ids(ts, "sk_test_demo_eu", "/orgs/c/contacts?user_id=klara-web", "ct_eu_klara");
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void create_null_contact_id_makes_new_contact(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	cJSON *j = create_ok(ts, "sk_test_demo", "c",
			     "{\"channel\":{\"contact_id\":null,\"email\":\"nullid@new.example\"}}", NULL);
	check_generated_id(str_or_null(j, "id"), "ct_");
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts"), 53);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void create_channel_add_refuses_unknown_contact(void)
{
	static const struct {
		const char *key, *org, *contact;
	} cases[] = {
		{"sk_test_demo", "c", "ct_nope"},
		{"sk_test_demo", "c", "CT_ADA"},
		{"sk_test_demo", "c", "ct_eu_klara"},     /* the sub-org's */
		{"sk_test_demo", "org_demo", "ct_eu_klara"},
		{"sk_test_demo", "c", "ct_acme_wile"},    /* another org's */
		{"sk_test_demo", "org_demo_eu", "ct_ada"}, /* the parent's */
		{"sk_test_demo_eu", "c", "ct_ada"},
		{"sk_test_acme", "c", "ct_ada"},
	};
	struct test_server *ts = test_server_start(NULL, NULL);
	char *ada = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	char *klara = test_stored_contact(ts, "sk_test_demo_eu", "c", "ct_eu_klara");
	char *wile = test_stored_contact(ts, "sk_test_acme", "c", "ct_acme_wile");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char path[128], body[256];
		snprintf(path, sizeof path, "/orgs/%s/contacts", cases[i].org);
		snprintf(body, sizeof body,
			 "{\"channel\":{\"contact_id\":\"%s\",\"email\":\"stray@new.example\"}}",
			 cases[i].contact);
		expect_error(ts, "POST", cases[i].key, path, body, 404, "Contact not found");
	}
	char *s = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	CHECK_STR_EQ(s, ada);
	free(s);
	s = test_stored_contact(ts, "sk_test_demo_eu", "c", "ct_eu_klara");
	CHECK_STR_EQ(s, klara);
	free(s);
	s = test_stored_contact(ts, "sk_test_acme", "c", "ct_acme_wile");
	CHECK_STR_EQ(s, wile);
	free(s);
	free(ada);
	free(klara);
	free(wile);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts"), 52);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?email=stray@new.example", "");
	expect_ids(ts, "sk_test_demo_eu", "/orgs/c/contacts?email=stray@new.example", "");
	expect_ids(ts, "sk_test_acme", "/orgs/c/contacts?email=stray@new.example", "");
	test_server_stop(ts);
}

/* ======================================================== contact segments */

static void segments_answers_bare_array(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	struct http_resp r = get(ts, "sk_test_demo", "/orgs/c/contacts/ct_grace/segments");
	CHECK_INT_EQ(r.status, 200);
	check_pagination(&r, "ct_grace segments", 2, 1, 100);
	CHECK_STR_EQ(r.body,
		     "[{\"id\":\"seg_vip\",\"name\":\"VIP\",\"color\":\"amber\",\"contacts_count\":9,"
		     "\"created_at\":\"2024-01-05T10:00:00.000Z\","
		     "\"updated_at\":\"2025-02-11T11:12:13.000Z\"},"
		     "{\"id\":\"seg_wholesale\",\"name\":\"Wholesale\",\"color\":\"green\","
		     "\"contacts_count\":9,\"created_at\":\"2024-02-01T08:45:00.000Z\","
		     "\"updated_at\":\"2024-02-01T08:45:00.000Z\"}]");
	http_resp_cleanup(&r);
	/* The same objects as the contact's own segments. */
	char *grace = test_stored_contact(ts, "sk_test_demo", "c", "ct_grace");
	cJSON *g = cJSON_Parse(grace);
	char *segs = cJSON_PrintUnformatted(field(g, "segments"));
	r = get(ts, "sk_test_demo", "/orgs/c/contacts/ct_grace/segments");
	CHECK_STR_EQ(r.body, segs);
	http_resp_cleanup(&r);
	free(segs);
	cJSON_Delete(g);
	free(grace);
	test_server_stop(ts);
}

static void segments_in_creation_order(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada/segments",
		   "seg_vip,seg_newsletter,seg_beta");
	/* ct_li lists seg_events before seg_vip in the fixture. */
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts/ct_li/segments", "seg_vip,seg_events");
	/* seg_wholesale (created 2024-02-01) is older than seg_beta (2024-03-18),
	 * though the fixture lists seg_beta first. */
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts/ct_sam/segments", "seg_wholesale,seg_beta");
	test_server_stop(ts);
}

static void segments_of_contact_without_any(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	struct http_resp r = get(ts, "sk_test_demo", "/orgs/c/contacts/ct_bjorn/segments");
	CHECK_INT_EQ(r.status, 200);
	CHECK_STR_EQ(r.body, "[]");
	check_pagination(&r, "ct_bjorn segments", 0, 1, 100);
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void segments_paginates(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *p = "/orgs/c/contacts/ct_ada/segments";
	char path[128];
	snprintf(path, sizeof path, "%s?take=2", p);
	expect_page(ts, "sk_test_demo", path, "seg_vip,seg_newsletter", 3, 1, 2);
	snprintf(path, sizeof path, "%s?take=2&page=2", p);
	expect_page(ts, "sk_test_demo", path, "seg_beta", 3, 2, 2);
	snprintf(path, sizeof path, "%s?take=2&page=3", p);
	expect_page(ts, "sk_test_demo", path, "", 3, 3, 2);
	snprintf(path, sizeof path, "%s?page=2", p);
	expect_page(ts, "sk_test_demo", path, "", 3, 2, 100);
	snprintf(path, sizeof path, "%s?take=1&page=3", p);
	expect_page(ts, "sk_test_demo", path, "seg_beta", 3, 3, 1);
	snprintf(path, sizeof path, "%s?take=3", p);
	expect_page(ts, "sk_test_demo", path, "seg_vip,seg_newsletter,seg_beta", 3, 1, 3);
	snprintf(path, sizeof path, "%s?page=&take=&foo=bar&status=nonsense", p);
	expect_page(ts, "sk_test_demo", path, "seg_vip,seg_newsletter,seg_beta", 3, 1, 100);
	test_server_stop(ts);
}

static void segments_refuses_bad_paging(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	static const char *const cases[][2] = {
		{"take=0", "take must be an integer from 1 to 100"},
		{"take=101", "take must be an integer from 1 to 100"},
		{"take=x", "take must be an integer from 1 to 100"},
		{"page=0", "page must be a positive integer"},
		{"page=-2", "page must be a positive integer"},
		{"page=1.0", "page must be a positive integer"},
		{"take=1&take=2", "Query parameter take must be given once"},
		{"page=1&page=1", "Query parameter page must be given once"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char path[128];
		snprintf(path, sizeof path, "/orgs/c/contacts/ct_ada/segments?%s", cases[i][0]);
		expect_error(ts, "GET", "sk_test_demo", path, NULL, 400, cases[i][1]);
		/* Before the contact is looked up. */
		snprintf(path, sizeof path, "/orgs/c/contacts/ct_nope/segments?%s", cases[i][0]);
		expect_error(ts, "GET", "sk_test_demo", path, NULL, 400, cases[i][1]);
	}
	test_server_stop(ts);
}

static void segments_unknown_contact_not_found(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	expect_error(ts, "GET", "sk_test_demo", "/orgs/c/contacts/ct_nope/segments", NULL, 404,
		     "Contact not found");
	expect_error(ts, "GET", "sk_test_demo", "/orgs/c/contacts/CT_ADA/segments", NULL, 404,
		     "Contact not found");
	test_server_stop(ts);
}

static void segments_across_orgs(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	/* Parent key: the sub-org's contact by the sub-org's id, not under its own. */
	expect_ids(ts, "sk_test_demo", "/orgs/org_demo_eu/contacts/ct_eu_jonas/segments",
		   "seg_eu_berlin,seg_eu_newsletter");
	expect_ids(ts, "sk_test_demo_eu", "/orgs/c/contacts/ct_eu_jonas/segments",
		   "seg_eu_berlin,seg_eu_newsletter");
	expect_error(ts, "GET", "sk_test_demo", "/orgs/c/contacts/ct_eu_jonas/segments", NULL, 404,
		     "Contact not found");
	expect_error(ts, "GET", "sk_test_demo", "/orgs/org_demo/contacts/ct_eu_jonas/segments", NULL,
		     404, "Contact not found");
	expect_error(ts, "GET", "sk_test_demo", "/orgs/org_demo_eu/contacts/ct_ada/segments", NULL,
		     404, "Contact not found");
	/* Sub-org key: not the parent. */
	expect_error(ts, "GET", "sk_test_demo_eu", "/orgs/org_demo/contacts/ct_ada/segments", NULL,
		     401, "This API key cannot access org org_demo");
	expect_error(ts, "GET", "sk_test_demo_eu", "/orgs/c/contacts/ct_ada/segments", NULL, 404,
		     "Contact not found");
	/* Another org. */
	expect_error(ts, "GET", "sk_test_acme", "/orgs/org_demo/contacts/ct_ada/segments", NULL, 401,
		     "This API key cannot access org org_demo");
	expect_error(ts, "GET", "sk_test_acme", "/orgs/c/contacts/ct_ada/segments", NULL, 404,
		     "Contact not found");
	expect_error(ts, "GET", "sk_test_demo", "/orgs/c/contacts/ct_acme_bugs/segments", NULL, 404,
		     "Contact not found");
	expect_error(ts, "GET", "sk_test_demo", "/orgs/org_acme/contacts/ct_acme_bugs/segments", NULL,
		     401, "This API key cannot access org org_acme");
	expect_error(ts, "GET", NULL, "/orgs/c/contacts/ct_ada/segments", NULL, 401,
		     "Missing Authorization header");
	expect_ids(ts, "sk_test_demo", "/orgs/org_demo/contacts/ct_ada/segments",
		   "seg_vip,seg_newsletter,seg_beta");
	test_server_stop(ts);
}

/* ============================================================= add segment */

static void add_segment_adds_membership(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	int64_t t0 = now_ms();
	char *text;
	cJSON *j = add_segment_ok(ts, "sk_test_demo", "c", "ct_bjorn", "seg_vip", &text);
	CHECK_STR_EQ(keys_of(j), CONTACT_KEYS);
	CHECK_STR_EQ(str_or_null(j, "id"), "ct_bjorn");
	CHECK_STR_EQ(str_or_null(j, "created_at"), "2024-12-08T03:47:37.031Z");
	check_written_now(str_or_null(j, "updated_at"), t0);
	const cJSON *segs = field(j, "segments");
	CHECK_INT_EQ(cJSON_GetArraySize(segs), 1);
	CHECK_STR_EQ(keys_of(segs->child), SEGMENT_KEYS);
	CHECK_STR_EQ(str_or_null(segs->child, "id"), "seg_vip");
	CHECK_INT_EQ(number(segs->child, "contacts_count"), 10);
	/* Stored as answered. */
	char *stored = test_stored_contact(ts, "sk_test_demo", "c", "ct_bjorn");
	CHECK_STR_EQ(stored, text);
	free(stored);
	free(text);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void add_segment_shows_in_list_and_counts(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts?segment_id=seg_events"), 6);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?segment_id=seg_events&name=bj%C3%B6rn", "");
	cJSON *j = add_segment_ok(ts, "sk_test_demo", "c", "ct_bjorn", "seg_events", NULL);
	cJSON_Delete(j);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts?segment_id=seg_events"), 7);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?segment_id=seg_events&name=bj%C3%B6rn",
		   "ct_bjorn");
	CHECK_INT_EQ(contacts_count_via(ts, "sk_test_demo", "c", "ct_li", "seg_events"), 7);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts/ct_bjorn/segments", "seg_events");
	/* Then a second, older segment: the contact's segments keep creation order. */
	j = add_segment_ok(ts, "sk_test_demo", "c", "ct_bjorn", "seg_newsletter", NULL);
	char *ids = ids_of_array(field(j, "segments"));
	CHECK_STR_EQ(ids, "seg_newsletter,seg_events");
	free(ids);
	cJSON_Delete(j);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts/ct_bjorn/segments",
		   "seg_newsletter,seg_events");
	test_server_stop(ts);
}

static void add_segment_twice_does_not_duplicate(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	char *first, *second;
	cJSON *a = add_segment_ok(ts, "sk_test_demo", "c", "ct_bjorn", "seg_beta", &first);
	cJSON *b = add_segment_ok(ts, "sk_test_demo", "c", "ct_bjorn", "seg_beta", &second);
	/* Same answer: no second membership, updated_at left as the first set it. */
	CHECK_STR_EQ(second, first);
	CHECK_INT_EQ(cJSON_GetArraySize(field(b, "segments")), 1);
	CHECK_INT_EQ(number(field(b, "segments")->child, "contacts_count"), 9);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts?segment_id=seg_beta"), 9);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts/ct_bjorn/segments", "seg_beta");
	free(first);
	free(second);
	cJSON_Delete(a);
	cJSON_Delete(b);
	test_server_stop(ts);
}

static void add_segment_existing_membership_changes_nothing(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	char *before = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	char *text;
	cJSON *j = add_segment_ok(ts, "sk_test_demo", "c", "ct_ada", "seg_vip", &text);
	CHECK_STR_EQ(text, before);
	CHECK_STR_EQ(str_or_null(j, "updated_at"), "2024-07-25T12:32:17.743Z");
	CHECK_INT_EQ(contacts_count_via(ts, "sk_test_demo", "c", "ct_ada", "seg_vip"), 9);
	free(text);
	free(before);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void add_segment_ignores_body(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *h[] = {AUTH_DEMO, "Content-Type: text/plain", NULL};
	struct http_resp r =
		req(ts, "POST", "/orgs/c/contacts/ct_bjorn/segments/seg_vip", h, "not json at all");
	cJSON *j = created_json(&r);
	CHECK_STR_EQ(str_or_null(field(j, "segments")->child, "id"), "seg_vip");
	cJSON_Delete(j);
	http_resp_cleanup(&r);
	const char *hj[] = {AUTH_DEMO, CT_JSON, NULL};
	r = req(ts, "POST", "/orgs/c/contacts/ct_bjorn/segments/seg_beta", hj,
		"{\"segment_id\":\"seg_events\",\"foo\":1}");
	j = created_json(&r);
	char *ids = ids_of_array(field(j, "segments"));
	CHECK_STR_EQ(ids, "seg_vip,seg_beta");
	free(ids);
	cJSON_Delete(j);
	http_resp_cleanup(&r);
	/* Unknown query parameters too. */
	r = req(ts, "POST", "/orgs/c/contacts/ct_bjorn/segments/seg_beta?foo=1&take=0", hj, NULL);
	CHECK_INT_EQ(r.status, 201);
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void add_segment_unknown_contact_or_segment(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	char *ada = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	expect_error(ts, "POST", "sk_test_demo", "/orgs/c/contacts/ct_nope/segments/seg_vip", NULL,
		     404, "Contact not found");
	expect_error(ts, "POST", "sk_test_demo", "/orgs/c/contacts/ct_ada/segments/seg_nope", NULL,
		     404, "Segment not found");
	expect_error(ts, "POST", "sk_test_demo", "/orgs/c/contacts/ct_ada/segments/SEG_VIP", NULL,
		     404, "Segment not found");
	/* Another org's segment, the sub-org's segment. */
	expect_error(ts, "POST", "sk_test_demo", "/orgs/c/contacts/ct_ada/segments/seg_acme_trial",
		     NULL, 404, "Segment not found");
	expect_error(ts, "POST", "sk_test_demo", "/orgs/c/contacts/ct_ada/segments/seg_eu_berlin",
		     NULL, 404, "Segment not found");
	/* Another org's contact, with this org's segment. */
	expect_error(ts, "POST", "sk_test_demo", "/orgs/c/contacts/ct_acme_wile/segments/seg_vip",
		     NULL, 404, "Contact not found");
	expect_error(ts, "POST", "sk_test_demo", "/orgs/c/contacts/ct_eu_klara/segments/seg_vip",
		     NULL, 404, "Contact not found");
	char *after = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	CHECK_STR_EQ(after, ada);
	free(after);
	free(ada);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts?segment_id=seg_vip"), 9);
	CHECK_INT_EQ(contacts_count_via(ts, "sk_test_acme", "c", "ct_acme_road", "seg_acme_trial"), 3);
	CHECK_INT_EQ(contacts_count_via(ts, "sk_test_demo_eu", "c", "ct_eu_klara", "seg_eu_berlin"), 2);
	test_server_stop(ts);
}

static void add_segment_across_orgs(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	/* Parent key, sub-org by id. */
	cJSON *j = add_segment_ok(ts, "sk_test_demo", "org_demo_eu", "ct_eu_klara",
				  "seg_eu_newsletter", NULL);
	char *ids = ids_of_array(field(j, "segments"));
	CHECK_STR_EQ(ids, "seg_eu_berlin,seg_eu_newsletter");
	free(ids);
	CHECK_INT_EQ(number(field(j, "segments")->child->next, "contacts_count"), 4);
	cJSON_Delete(j);
	expect_ids(ts, "sk_test_demo_eu",
		   "/orgs/c/contacts?segment_id=seg_eu_newsletter&name=kl%C3%A1ra", "ct_eu_klara");
	/* Sub-org key: its own with c; never the parent. */
	j = add_segment_ok(ts, "sk_test_demo_eu", "c", "ct_eu_sven", "seg_eu_berlin", NULL);
	cJSON_Delete(j);
	expect_error(ts, "POST", "sk_test_demo_eu", "/orgs/org_demo/contacts/ct_ada/segments/seg_events",
		     NULL, 401, "This API key cannot access org org_demo");
	expect_error(ts, "POST", "sk_test_demo_eu", "/orgs/c/contacts/ct_ada/segments/seg_events", NULL,
		     404, "Contact not found");
	expect_error(ts, "POST", "sk_test_acme", "/orgs/org_demo/contacts/ct_ada/segments/seg_events",
		     NULL, 401, "This API key cannot access org org_demo");
	expect_error(ts, "POST", "sk_test_acme", "/orgs/c/contacts/ct_ada/segments/seg_events", NULL,
		     404, "Contact not found");
	expect_error(ts, "POST", "sk_test_acme", "/orgs/c/contacts/ct_acme_elmer/segments/seg_events",
		     NULL, 404, "Segment not found");
	expect_error(ts, "POST", "sk_test_demo", "/orgs/org_acme/contacts/ct_acme_elmer/segments/"
		     "seg_acme_trial", NULL, 401, "This API key cannot access org org_acme");
	expect_error(ts, "POST", NULL, "/orgs/c/contacts/ct_ada/segments/seg_events", NULL, 401,
		     "Missing Authorization header");
	expect_error(ts, "POST", "sk_nope", "/orgs/c/contacts/ct_ada/segments/seg_events", NULL, 401,
		     "Invalid API key");
	/* None of the refused ones moved a count. */
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts?segment_id=seg_events"), 6);
	CHECK_INT_EQ(list_count(ts, "sk_test_acme", "/orgs/c/contacts?segment_id=seg_acme_trial"), 3);
	test_server_stop(ts);
}

/* =========================================================== routes, 405 */

static void check_405(const struct test_server *ts, const char *method, const char *path,
		      const char *allow)
{
	const char *h[] = {AUTH_DEMO, NULL};
	struct http_resp r = req(ts, method, path, h, NULL);
	char msg[256];
	snprintf(msg, sizeof msg, "Method %s is not allowed on %s (allowed: %s)", method, path, allow);
	if (r.status != 405)
		fprintf(stderr, "%s %s\n", method, path);
	check_error(&r, 405, msg);
	CHECK_STR_EQ(http_resp_header(&r, "Allow"), allow);
	http_resp_cleanup(&r);
}

static void routes_wrong_method_on_contacts(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	check_405(ts, "DELETE", "/orgs/c/contacts", "GET, HEAD, POST");
	check_405(ts, "PUT", "/orgs/c/contacts", "GET, HEAD, POST");
	check_405(ts, "PATCH", "/orgs/c/contacts", "GET, HEAD, POST");
	check_405(ts, "DELETE", "/orgs/org_demo/contacts", "GET, HEAD, POST");
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "/orgs/c/contacts"), 52);
	test_server_stop(ts);
}

static void routes_wrong_method_on_segments(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	check_405(ts, "POST", "/orgs/c/contacts/ct_ada/segments", "GET, HEAD");
	check_405(ts, "DELETE", "/orgs/c/contacts/ct_ada/segments", "GET, HEAD");
	check_405(ts, "PATCH", "/orgs/c/contacts/ct_ada/segments", "GET, HEAD");
	check_405(ts, "GET", "/orgs/c/contacts/ct_ada/segments/seg_vip", "POST");
	check_405(ts, "DELETE", "/orgs/c/contacts/ct_ada/segments/seg_vip", "POST");
	check_405(ts, "PUT", "/orgs/c/contacts/ct_ada/segments/seg_vip", "POST");
	check_405(ts, "GET", "/orgs/c/contacts/ct_ada", "PATCH");
	check_405(ts, "POST", "/orgs/c/contacts/ct_ada", "PATCH");
	/* The DELETE of a membership did nothing. */
	CHECK_INT_EQ(contacts_count_via(ts, "sk_test_demo", "c", "ct_ada", "seg_vip"), 9);
	test_server_stop(ts);
}

static void routes_unknown_paths(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	expect_error(ts, "GET", "sk_test_demo", "/orgs/c/contact", NULL, 404,
		     "Cannot GET /orgs/c/contact");
	expect_error(ts, "GET", "sk_test_demo", "/orgs/c/contacts/ct_ada/segment", NULL, 404,
		     "Cannot GET /orgs/c/contacts/ct_ada/segment");
	expect_error(ts, "POST", "sk_test_demo", "/orgs/c/contacts/ct_ada/segments/seg_vip/x", NULL,
		     404, "Cannot POST /orgs/c/contacts/ct_ada/segments/seg_vip/x");
	test_server_stop(ts);
}

/* ==================================================================== flow */

static void flow_create_segment_block_unblock(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	/* 1. create */
	cJSON *c = create_ok(ts, "sk_test_demo", "c",
			     "{\"channel\":{\"name\":\"Flow Person\",\"email\":\"flow@new.example\"}}",
			     NULL);
	char id[64];
	snprintf(id, sizeof id, "%s", str_or_null(c, "id"));
	cJSON_Delete(c);
	char want[256], path[256];
	/* 2. add to a segment */
	cJSON *a = add_segment_ok(ts, "sk_test_demo", "c", id, "seg_events", NULL);
	CHECK_INT_EQ(number(field(a, "segments")->child, "contacts_count"), 7);
	cJSON_Delete(a);
	/* 3. list by segment_id: the newest member first */
	struct http_resp r = get(ts, "sk_test_demo", "/orgs/c/contacts?segment_id=seg_events");
	CHECK_INT_EQ(r.status, 200);
	check_pagination(&r, "seg_events", 7, 1, 100);
	char *ids = ids_of(r.body);
	snprintf(want, sizeof want, "%s,", id);
	CHECK(!strncmp(ids, want, strlen(want)));
	free(ids);
	http_resp_cleanup(&r);
	/* 4. block */
	snprintf(path, sizeof path, "/orgs/c/contacts/%s", id);
	r = test_patch(ts, "sk_test_demo", path, "{\"blocked\":true}");
	CHECK_INT_EQ(r.status, 200);
	http_resp_cleanup(&r);
	/* 5. status=BLOCKED has it, first */
	snprintf(want, sizeof want, "%s,ct_rachel,ct_spammy,ct_robo", id);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?status=BLOCKED", want);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?status=BLOCKED&segment_id=seg_events", id);
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?status=SUBSCRIBED&email=flow@new.example", "");
	/* 6. unblock */
	r = test_patch(ts, "sk_test_demo", path, "{\"blocked\":false}");
	CHECK_INT_EQ(r.status, 200);
	http_resp_cleanup(&r);
	/* 7. status=BLOCKED no longer has it */
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?status=BLOCKED", "ct_rachel,ct_spammy,ct_robo");
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?status=BLOCKED&segment_id=seg_events", "");
	expect_ids(ts, "sk_test_demo", "/orgs/c/contacts?status=SUBSCRIBED&email=flow@new.example", id);
	/* And the list shows what PATCH reads. */
	char *stored = test_stored_contact(ts, "sk_test_demo", "c", id);
	snprintf(path, sizeof path, "/orgs/c/contacts?user_id=flow@new.example");
	r = get(ts, "sk_test_demo", path);
	size_t n = strlen(stored) + 3;
	char *listed = malloc(n);
	CHECK(listed);
	snprintf(listed, n, "[%s]", stored);
	CHECK_STR_EQ(r.body, listed);
	free(listed);
	free(stored);
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

/* The contact as GET /__admin/orgs/{org}/contacts/{id} reads it: straight from
 * the database, channels and segments included. */
static char *admin_view(const struct test_server *ts, const char *org, const char *id)
{
	char path[256];
	snprintf(path, sizeof path, "/__admin/orgs/%s/contacts/%s", org, id);
	struct http_resp r = get(ts, NULL, path);
	CHECK_INT_EQ(r.status, 200);
	char *body = r.body;
	r.body = NULL;
	http_resp_cleanup(&r);
	return body;
}

/* A PATCH answer is the contact as stored, channels and segments too. */
static void check_patch_answers_stored(const struct test_server *ts, const char *id)
{
	char path[256];
	snprintf(path, sizeof path, "/orgs/c/contacts/%s", id);
	struct http_resp r = test_patch(ts, "sk_test_demo", path, "{\"blocked\":true}");
	CHECK_INT_EQ(r.status, 200);
	char *stored = admin_view(ts, "org_demo", id);
	CHECK_STR_EQ(r.body, stored);
	free(stored);
	http_resp_cleanup(&r);
}

/* The store keeps what a PATCH answer made of a contact's channels and
 * segments (store_lists_get): every way they can change must show in the next
 * PATCH answer, which must equal a fresh read. */
static void patch_answer_follows_channels_and_segments(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	check_patch_answers_stored(ts, "ct_grace");
	check_patch_answers_stored(ts, "ct_alan");
	/* Another contact joins seg_vip: ct_grace's seg_vip count goes up. */
	cJSON_Delete(add_segment_ok(ts, "sk_test_demo", "c", "ct_alan", "seg_vip", NULL));
	check_patch_answers_stored(ts, "ct_grace");
	/* ct_alan itself joins a segment. */
	cJSON_Delete(add_segment_ok(ts, "sk_test_demo", "c", "ct_alan", "seg_wholesale", NULL));
	check_patch_answers_stored(ts, "ct_alan");
	check_patch_answers_stored(ts, "ct_grace"); /* seg_wholesale's count too */
	/* A channel added to ct_alan. */
	struct http_resp r = post(ts, "sk_test_demo", "/orgs/c/contacts",
				  "{\"channel\":{\"contact_id\":\"ct_alan\",\"email\":\"alan@x.example\"}}");
	CHECK(r.status == 200 || r.status == 201);
	http_resp_cleanup(&r);
	check_patch_answers_stored(ts, "ct_alan");
	/* A new contact in seg_vip. */
	r = post(ts, "sk_test_demo", "/orgs/c/contacts",
		 "{\"channel\":{\"email\":\"new@x.example\"},\"segment_ids\":[\"seg_vip\"]}");
	CHECK(r.status == 200 || r.status == 201);
	http_resp_cleanup(&r);
	check_patch_answers_stored(ts, "ct_grace");
	/* A reset of the org, then of everything. */
	r = post(ts, NULL, "/__admin/reset", "{\"org_id\":\"org_demo\"}");
	CHECK_INT_EQ(r.status, 200);
	http_resp_cleanup(&r);
	check_patch_answers_stored(ts, "ct_alan");
	check_patch_answers_stored(ts, "ct_grace");
	cJSON_Delete(add_segment_ok(ts, "sk_test_demo", "c", "ct_alan", "seg_vip", NULL));
	r = post(ts, NULL, "/__admin/reset", NULL);
	CHECK_INT_EQ(r.status, 200);
	http_resp_cleanup(&r);
	check_patch_answers_stored(ts, "ct_grace");
	check_patch_answers_stored(ts, "ct_alan");
	test_server_stop(ts);
}

static const struct test_case cases[] = {
	TEST_CASE("contacts@patch-answer-follows-channel-and-segment-changes",
		  patch_answer_follows_channels_and_segments),
	/* list: filters */
	TEST_CASE("list@answers-all-newest-first", list_answers_all_in_order),
	TEST_CASE("list@answers-full-contacts", list_answers_full_contacts_as_patch_shows_them),
	TEST_CASE("list@search-matches-contact-name", list_search_matches_contact_name),
	TEST_CASE("list@search-is-case-insensitive", list_search_is_case_insensitive),
	TEST_CASE("list@search-matches-channel-name", list_search_matches_channel_name),
	TEST_CASE("list@search-matches-channel-username", list_search_matches_channel_username),
	TEST_CASE("list@search-matches-channel-email", list_search_matches_channel_email),
	TEST_CASE("list@search-matches-channel-phone", list_search_matches_channel_phone),
	TEST_CASE("list@search-matches-channel-user_id", list_search_matches_channel_user_id),
	TEST_CASE("list@search-without-match-is-empty", list_search_without_match_is_empty),
	TEST_CASE("list@filters-by-name-substring", list_name_matches_substring),
	TEST_CASE("list@filters-by-name-case-insensitively", list_name_is_case_insensitive),
	TEST_CASE("list@name-ignores-channels", list_name_ignores_channels),
	TEST_CASE("list@folds-only-ascii-case", list_name_folds_only_ascii),
	TEST_CASE("list@like-wildcards-are-literal", list_like_wildcards_are_literal),
	TEST_CASE("list@filters-by-email-case-insensitively", list_filters_by_email_case_insensitively),
	TEST_CASE("list@email-must-match-whole", list_email_must_match_whole),
	TEST_CASE("list@filters-by-user_id-case-insensitively",
		  list_filters_by_user_id_case_insensitively),
	TEST_CASE("list@user_id-must-match-whole", list_user_id_must_match_whole),
	TEST_CASE("list@decodes-plus-and-percent", list_decodes_plus_and_percent),
	TEST_CASE("list@filters-by-username-substring", list_filters_by_username_substring),
	TEST_CASE("list@username-ignores-names", list_username_ignores_names),
	TEST_CASE("list@filters-by-segment_id", list_filters_by_segment_id),
	TEST_CASE("list@segment_id-of-other-org-matches-nothing",
		  list_segment_id_of_other_org_matches_nothing),
	TEST_CASE("list@filters-by-unsubscribed", list_filters_by_unsubscribed),
	TEST_CASE("list@exclude_admins", list_exclude_admins),
	TEST_CASE("list@status-all", list_status_all),
	TEST_CASE("list@status-subscribed", list_status_subscribed),
	TEST_CASE("list@status-unsubscribed", list_status_unsubscribed),
	TEST_CASE("list@status-blocked", list_status_blocked),
	TEST_CASE("list@status-ai-replies-disabled", list_status_ai_replies_disabled),
	TEST_CASE("list@status-on-demo-data", list_status_on_demo_data),
	TEST_CASE("list@filters-combine-with-and", list_filters_combine_with_and),
	TEST_CASE("list@empty-values-are-absent", list_empty_values_are_absent),
	TEST_CASE("list@ignores-unknown-params", list_ignores_unknown_params),
	/* list: access */
	TEST_CASE("list@c-and-real-id-agree", list_c_and_real_id_agree),
	TEST_CASE("list@parent-key-reaches-sub-org", list_parent_key_reaches_sub_org),
	TEST_CASE("list@sub-org-key-cannot-reach-parent", list_sub_org_key_cannot_reach_parent),
	TEST_CASE("list@refuses-other-orgs", list_refuses_other_orgs),
	TEST_CASE("list@filters-never-see-other-orgs", list_filters_never_see_other_orgs),
	TEST_CASE("list@look-alikes-stay-in-their-org", list_look_alikes_stay_in_their_org),
	TEST_CASE("list@refuses-missing-or-unknown-key", list_refuses_missing_or_unknown_key),
	/* list: pagination */
	TEST_CASE("list@default-take-is-100", list_default_take_is_100),
	TEST_CASE("list@pages-follow-each-other", list_pages_follow_each_other),
	TEST_CASE("list@last-page-is-partial", list_last_page_is_partial),
	TEST_CASE("list@page-past-end-is-empty-with-headers", list_page_past_end_is_empty),
	TEST_CASE("list@exact-multiple-of-take", list_exact_multiple_of_take),
	TEST_CASE("list@paginates-filtered-matches", list_paginates_filtered_matches),
	TEST_CASE("list@orders-newest-first-then-id", list_orders_newest_first_then_id),
	/* list: 400 */
	TEST_CASE("list@refuses-bad-take", list_refuses_bad_take),
	TEST_CASE("list@refuses-bad-page", list_refuses_bad_page),
	TEST_CASE("list@refuses-bad-unsubscribed", list_refuses_bad_unsubscribed),
	TEST_CASE("list@refuses-bad-exclude_admins", list_refuses_bad_exclude_admins),
	TEST_CASE("list@refuses-bad-status", list_refuses_bad_status),
	TEST_CASE("list@refuses-duplicate-params", list_refuses_duplicate_params),
	/* create */
	TEST_CASE("create@makes-new-contact", create_makes_new_contact),
	TEST_CASE("create@generates-distinct-ids", create_generates_distinct_ids),
	TEST_CASE("create@picks-user_id-then-email-then-phone", create_picks_user_id),
	TEST_CASE("create@null-name-gives-null-name", create_with_null_name_has_null_name),
	TEST_CASE("create@accepts-name-of-512-code-points", create_accepts_name_of_512_code_points),
	TEST_CASE("create@lists-new-contact-first", create_lists_new_contact_first),
	TEST_CASE("create@answer-equals-listed-contact", create_answer_equals_listed_contact),
	TEST_CASE("create@found-by-email-and-user_id", create_is_found_by_email_and_user_id),
	TEST_CASE("create@adds-segments-and-grows-counts", create_adds_segments_and_grows_counts),
	TEST_CASE("create@adds-duplicate-segment-once", create_adds_duplicate_segment_once),
	TEST_CASE("create@in-sub-org-with-parent-key", create_in_sub_org_with_parent_key),
	TEST_CASE("create@refused-across-orgs", create_refused_across_orgs),
	TEST_CASE("create@refuses-segments-of-other-orgs", create_refuses_segments_of_other_orgs),
	TEST_CASE("create@refuses-non-object-body", create_refuses_non_object_body),
	TEST_CASE("create@refuses-missing-or-non-object-channel",
		  create_refuses_missing_or_non_object_channel),
	TEST_CASE("create@refuses-unknown-property", create_refuses_unknown_property),
	TEST_CASE("create@refuses-unknown-channel-property", create_refuses_unknown_channel_property),
	TEST_CASE("create@refuses-non-string-channel-fields",
		  create_refuses_non_string_channel_fields),
	TEST_CASE("create@refuses-name-of-513-code-points", create_refuses_name_of_513_code_points),
	TEST_CASE("create@refuses-channel-without-identifier",
		  create_refuses_channel_without_identifier),
	TEST_CASE("create@refuses-bad-segment_ids", create_refuses_bad_segment_ids),
	TEST_CASE("create@refuses-invalid-json", create_refuses_invalid_json),
	TEST_CASE("create@refuses-non-json-content-type", create_refuses_non_json_content_type),
	TEST_CASE("create@checks-in-contract-order", create_checks_in_contract_order),
	/* create: contact_id */
	TEST_CASE("create@adds-channel-to-existing-contact", create_adds_channel_to_existing_contact),
	TEST_CASE("create@adds-channel-with-segments", create_channel_add_with_segments),
	TEST_CASE("create@adds-channel-in-sub-org", create_channel_add_in_sub_org),
	TEST_CASE("create@null-contact_id-makes-new-contact", create_null_contact_id_makes_new_contact),
	TEST_CASE("create@channel-add-refuses-unknown-contact",
		  create_channel_add_refuses_unknown_contact),
	/* contact segments */
	TEST_CASE("segments@answers-bare-array", segments_answers_bare_array),
	TEST_CASE("segments@in-creation-order", segments_in_creation_order),
	TEST_CASE("segments@empty-for-contact-without-segments", segments_of_contact_without_any),
	TEST_CASE("segments@paginates", segments_paginates),
	TEST_CASE("segments@refuses-bad-paging", segments_refuses_bad_paging),
	TEST_CASE("segments@unknown-contact-not-found", segments_unknown_contact_not_found),
	TEST_CASE("segments@across-orgs", segments_across_orgs),
	/* add segment */
	TEST_CASE("add-segment@adds-membership", add_segment_adds_membership),
	TEST_CASE("add-segment@shows-in-list-and-counts", add_segment_shows_in_list_and_counts),
	TEST_CASE("add-segment@twice-does-not-duplicate", add_segment_twice_does_not_duplicate),
	TEST_CASE("add-segment@existing-membership-changes-nothing",
		  add_segment_existing_membership_changes_nothing),
	TEST_CASE("add-segment@ignores-body", add_segment_ignores_body),
	TEST_CASE("add-segment@unknown-contact-or-segment", add_segment_unknown_contact_or_segment),
	TEST_CASE("add-segment@across-orgs", add_segment_across_orgs),
	/* routes */
	TEST_CASE("routes@wrong-method-on-contacts", routes_wrong_method_on_contacts),
	TEST_CASE("routes@wrong-method-on-segments", routes_wrong_method_on_segments),
	TEST_CASE("routes@unknown-paths", routes_unknown_paths),
	/* flow */
	TEST_CASE("flow@create-segment-block-unblock", flow_create_segment_block_unblock),
};

TEST_MAIN(cases)
