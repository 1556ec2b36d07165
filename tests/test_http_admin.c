/* HTTP tests of the emulator's own admin API (/__admin/...), of what it drives
 * in the request pipeline (request journal, injected faults, the clock, the
 * rate limit, the admin token), of seeded determinism and of GET /openapi.json.
 * The real server runs in this process on port 0, driven with libcurl. Each case
 * asserts the exact status and the whole body, or every field of it. */
#include "http_util.h"
#include "testlib.h"
#include "json_strict.h"

#include <cjson/cJSON.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define AUTH_DEMO "Authorization: Bearer sk_test_demo"
#define AUTH_ACME "Authorization: Bearer sk_test_acme"
#define CT_JSON "Content-Type: application/json"
#define CLOCK0 "2030-01-01T00:00:00Z"
#define CLOCK0_TEXT "2030-01-01T00:00:00.000Z"

/* ----------------------------------------------------------------- helpers */

static struct test_server *start(void)
{
	return test_server_start(NULL, "--clock", CLOCK0, NULL);
}

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

/* A request with "Authorization: Bearer key" (key NULL: none) and, when there is
 * a body, Content-Type: application/json. */
static struct http_resp keyed(const struct test_server *ts, const char *method, const char *key,
			      const char *path, const char *body)
{
	char auth[512];
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", key ? key : "");
	const char *h[3] = {0};
	size_t n = 0;
	if (key)
		h[n++] = auth;
	if (body)
		h[n++] = CT_JSON;
	return req(ts, method, path, h, body);
}

/* An admin request (no key), with a JSON body when body is not NULL. */
static struct http_resp admin(const struct test_server *ts, const char *method, const char *path,
			      const char *body)
{
	return keyed(ts, method, NULL, path, body);
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "?";
	}
}

/* The whole answer is the error envelope with this status and message (written
 * here as plain text; '"' and '\' are escaped as JSON spells them). */
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
	if (r->status != status)
		fprintf(stderr, "status %ld: %s\n", r->status, r->body);
	CHECK_INT_EQ(r->status, status);
	CHECK_STR_EQ(r->body, want);
	CHECK_STR_EQ(http_resp_header(r, "Content-Type"), "application/json");
}

/* Sends and checks the error envelope. */
static void refused(const struct test_server *ts, const char *method, const char *key,
		    const char *path, const char *body, int status, const char *message)
{
	struct http_resp r = keyed(ts, method, key, path, body);
	check_error(&r, status, message);
	http_resp_cleanup(&r);
}

/* Status, whole body and Content-Type. */
static void check_exact(const struct http_resp *r, int status, const char *body)
{
	if (r->status != status)
		fprintf(stderr, "status %ld: %s\n", r->status, r->body);
	CHECK_INT_EQ(r->status, status);
	CHECK_STR_EQ(r->body, body);
	CHECK_STR_EQ(http_resp_header(r, "Content-Type"), "application/json");
}

static void check_no_content(const struct http_resp *r)
{
	if (r->status != 204)
		fprintf(stderr, "status %ld: %s\n", r->status, r->body);
	CHECK_INT_EQ(r->status, 204);
	CHECK_INT_EQ(r->len, 0);
	CHECK_STR_EQ(r->body, "");
	CHECK_NULL(http_resp_header(r, "Content-Type"));
}

/* Checks status and a JSON answer, returns it parsed (cJSON_Delete). */
static cJSON *json_of(const struct http_resp *r, int status)
{
	if (r->status != status)
		fprintf(stderr, "status %ld: %s\n", r->status, r->body);
	CHECK_INT_EQ(r->status, status);
	CHECK_STR_EQ(http_resp_header(r, "Content-Type"), "application/json");
	cJSON *j = cJSON_Parse(r->body);
	if (!j)
		fprintf(stderr, "not JSON: %s\n", r->body);
	CHECK(j);
	return j;
}

/* Sends, checks status, answers the parsed JSON. */
static cJSON *call_json(const struct test_server *ts, const char *method, const char *key,
			const char *path, const char *body, int status)
{
	struct http_resp r = keyed(ts, method, key, path, body);
	cJSON *j = json_of(&r, status);
	http_resp_cleanup(&r);
	return j;
}

static const cJSON *field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		fprintf(stderr, "no field %s\n", key);
	CHECK(v);
	return v;
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = field(o, key);
	CHECK(cJSON_IsString(v));
	return v->valuestring;
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = field(o, key);
	CHECK(cJSON_IsNumber(v));
	return v->valuedouble;
}

static bool boolean(const cJSON *o, const char *key)
{
	const cJSON *v = field(o, key);
	CHECK(cJSON_IsBool(v));
	return cJSON_IsTrue(v);
}

static void is_null(const cJSON *o, const char *key)
{
	CHECK(cJSON_IsNull(field(o, key)));
}

/* o is an object with exactly these keys, in this order (list ends in NULL). */
static void check_keys(const cJSON *o, const char *const *names)
{
	CHECK(cJSON_IsObject(o));
	const cJSON *f = o->child;
	for (size_t i = 0; names[i]; i++, f = f->next) {
		if (!f)
			fprintf(stderr, "missing key %s\n", names[i]);
		CHECK(f);
		CHECK_STR_EQ(f->string, names[i]);
	}
	if (f)
		fprintf(stderr, "unexpected key %s\n", f->string);
	CHECK(!f);
}

/* prefix followed by exactly 22 base-62 characters. */
static bool is_generated_id(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(s, prefix, n) || strlen(s) != n + 22)
		return false;
	for (const char *p = s + n; *p; p++)
		if (!isalnum((unsigned char)*p))
			return false;
	return true;
}

/* GET /__admin/orgs/org/contacts/id: 200, the body (heap string). */
static char *admin_contact(const struct test_server *ts, const char *org, const char *id)
{
	char path[512];
	snprintf(path, sizeof path, "/__admin/orgs/%s/contacts/%s", org, id);
	struct http_resp r = admin(ts, "GET", path, NULL);
	if (r.status != 200)
		fprintf(stderr, "%s: status %ld: %s\n", path, r.status, r.body);
	CHECK_INT_EQ(r.status, 200);
	CHECK_STR_EQ(http_resp_header(&r, "Content-Type"), "application/json");
	free(r.headers);
	return r.body;
}

/* The name of a contact as the admin API shows it ("(null)" for null). */
static void check_admin_name(const struct test_server *ts, const char *org, const char *id,
			     const char *name)
{
	char *body = admin_contact(ts, org, id);
	cJSON *c = cJSON_Parse(body);
	CHECK(c);
	const cJSON *v = field(c, "name");
	CHECK_STR_EQ(cJSON_IsString(v) ? v->valuestring : "(null)", name);
	cJSON_Delete(c);
	free(body);
}

/* POST /__admin/orgs {"from": from}: 201; fills org and key. */
static void new_org(const struct test_server *ts, const char *from, char org[64], char key[64])
{
	char body[128];
	snprintf(body, sizeof body, "{\"from\":\"%s\"}", from);
	cJSON *j = call_json(ts, "POST", NULL, "/__admin/orgs", body, 201);
	static const char *const keys[] = {"org_id", "api_key", NULL};
	check_keys(j, keys);
	snprintf(org, 64, "%s", str(j, "org_id"));
	snprintf(key, 64, "%s", str(j, "api_key"));
	cJSON_Delete(j);
}

/* The value of header name into buf (thread-safe, unlike http_resp_header). */
static const char *header_into(const struct http_resp *r, const char *name, char *buf, size_t size)
{
	size_t n = strlen(name);
	for (const char *line = r->headers; line && *line;) {
		const char *end = strstr(line, "\r\n");
		if (!end)
			break;
		if (!strncasecmp(line, name, n) && line[n] == ':') {
			const char *v = line + n + 1;
			while (*v == ' ')
				v++;
			snprintf(buf, size, "%.*s", (int)(end - v), v);
			return buf;
		}
		line = end + 2;
	}
	return NULL;
}

/* GET /orgs/c/contacts?query with key: 200; the pagination-count, and the
 * answer when out is not NULL. */
static long list_count(const struct test_server *ts, const char *key, const char *query, cJSON **out)
{
	char path[512], buf[64];
	snprintf(path, sizeof path, "/orgs/c/contacts%s%s", query ? "?" : "", query ? query : "");
	struct http_resp r = keyed(ts, "GET", key, path, NULL);
	if (r.status != 200)
		fprintf(stderr, "%s: status %ld: %s\n", path, r.status, r.body);
	CHECK_INT_EQ(r.status, 200);
	const char *pc = header_into(&r, "pagination-count", buf, sizeof buf);
	CHECK(pc);
	long n = strtol(pc, NULL, 10);
	cJSON *j = cJSON_Parse(r.body);
	CHECK(cJSON_IsArray(j));
	if (out)
		*out = j;
	else
		cJSON_Delete(j);
	http_resp_cleanup(&r);
	return n;
}

/* POST /__admin/faults with body: 201; the rule's id. */
static int add_fault(const struct test_server *ts, const char *body)
{
	cJSON *j = call_json(ts, "POST", NULL, "/__admin/faults", body, 201);
	int id = (int)num(j, "id");
	cJSON_Delete(j);
	return id;
}

static void post_clock(const struct test_server *ts, const char *body, const char *want)
{
	struct http_resp r = admin(ts, "POST", "/__admin/clock", body);
	check_exact(&r, 200, want);
	http_resp_cleanup(&r);
}

static int64_t mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" to Unix seconds. */
static time_t parse_utc(const char *s)
{
	struct tm tm = {0};
	int ms;
	CHECK(sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		     &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) == 7);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

/* GET /__admin/requests?query: 200, the parsed array. */
static cJSON *journal(const struct test_server *ts, const char *query)
{
	char path[512];
	snprintf(path, sizeof path, "/__admin/requests%s%s", query ? "?" : "", query ? query : "");
	cJSON *j = call_json(ts, "GET", NULL, path, NULL, 200);
	CHECK(cJSON_IsArray(j));
	return j;
}

/* The ids of the journal entries a query gives, newest first, as "5,4,1". */
static void check_journal_ids(const struct test_server *ts, const char *query, const char *want)
{
	cJSON *j = journal(ts, query);
	char got[1024] = "";
	size_t o = 0;
	for (const cJSON *e = j->child; e; e = e->next)
		o += (size_t)snprintf(got + o, sizeof got - o, "%s%d", o ? "," : "", (int)num(e, "id"));
	if (strcmp(got, want))
		fprintf(stderr, "query %s\n", query ? query : "(none)");
	CHECK_STR_EQ(got, want);
	cJSON_Delete(j);
}

static void check_journal_count(const struct test_server *ts, const char *query, int n)
{
	char path[512], want[64];
	snprintf(path, sizeof path, "/__admin/requests/count%s%s", query ? "?" : "", query ? query : "");
	snprintf(want, sizeof want, "{\"count\":%d}", n);
	struct http_resp r = admin(ts, "GET", path, NULL);
	check_exact(&r, 200, want);
	http_resp_cleanup(&r);
}

static void expect_status(struct http_resp r, int status)
{
	if (r.status != status)
		fprintf(stderr, "status %ld: %s\n", r.status, r.body);
	CHECK_INT_EQ(r.status, status);
	http_resp_cleanup(&r);
}

/* ------------------------------------------------------------------ health */

static void health_reports_state(void)
{
	struct test_server *ts = start();
	cJSON *j = call_json(ts, "GET", NULL, "/__admin/health", NULL, 200);
	static const char *const keys[] = {"status",	    "version",	     "uptime_ms",
					   "db",	    "orgs",	     "contacts",
					   "fixtures",	    "fixtures_hash", "fixtures_error",
					   "clock",	    "clock_frozen",  NULL};
	check_keys(j, keys);
	CHECK_STR_EQ(str(j, "status"), "ok");
	CHECK_STR_EQ(str(j, "version"), INVENT_MOCK_VERSION);
	double up = num(j, "uptime_ms");
	CHECK(up >= 0 && up < 60000 && up == (double)(int64_t)up);
	CHECK_STR_EQ(str(j, "db"), ":memory:");
	CHECK_INT_EQ(num(j, "orgs"), 3);
	CHECK_INT_EQ(num(j, "contacts"), 66);
	CHECK_STR_EQ(str(j, "fixtures"), "fixtures/demo.json (embedded)");
	const char *h = str(j, "fixtures_hash");
	CHECK_INT_EQ(strlen(h), 16);
	for (const char *p = h; *p; p++)
		CHECK(isdigit((unsigned char)*p) || (*p >= 'a' && *p <= 'f'));
	CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "fixtures_error")));
	CHECK_STR_EQ(str(j, "clock"), CLOCK0_TEXT);
	CHECK(boolean(j, "clock_frozen"));
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void health_real_clock_without_flag(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	cJSON *j = call_json(ts, "GET", NULL, "/__admin/health", NULL, 200);
	CHECK(!boolean(j, "clock_frozen"));
	time_t t = parse_utc(str(j, "clock"));
	CHECK(llabs((long long)(t - time(NULL))) <= 5);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void health_counts_isolated_orgs(void)
{
	struct test_server *ts = start();
	char org[64], key[64];
	new_org(ts, "org_demo", org, key);
	cJSON *j = call_json(ts, "GET", NULL, "/__admin/health", NULL, 200);
	CHECK_INT_EQ(num(j, "orgs"), 4);
	CHECK_INT_EQ(num(j, "contacts"), 66 + 52);
	cJSON_Delete(j);
	test_server_stop(ts);
}

/* -------------------------------------------------------------------- orgs */

static const char orgs_fixture_json[] =
	"{\"id\":\"org_demo\",\"name\":\"Northwind Coffee\",\"parent_id\":null,"
	"\"api_keys\":[\"sk_test_demo\"],\"isolated\":false,\"contacts_count\":52,\"segments\":["
	"{\"id\":\"seg_vip\",\"name\":\"VIP\",\"color\":\"amber\",\"contacts_count\":%d},"
	"{\"id\":\"seg_newsletter\",\"name\":\"Newsletter\",\"color\":\"sky\",\"contacts_count\":13},"
	"{\"id\":\"seg_beta\",\"name\":\"Beta testers\",\"color\":\"violet\",\"contacts_count\":8},"
	"{\"id\":\"seg_wholesale\",\"name\":\"Wholesale\",\"color\":\"green\",\"contacts_count\":9},"
	"{\"id\":\"seg_subscription\",\"name\":\"Coffee subscription\",\"color\":\"teal\","
	"\"contacts_count\":8},"
	"{\"id\":\"seg_events\",\"name\":\"Tasting events\",\"color\":\"rose\",\"contacts_count\":6}]},"
	"{\"id\":\"org_demo_eu\",\"name\":\"Northwind Coffee Europe\",\"parent_id\":\"org_demo\","
	"\"api_keys\":[\"sk_test_demo_eu\"],\"isolated\":false,\"contacts_count\":6,\"segments\":["
	"{\"id\":\"seg_eu_berlin\",\"name\":\"Berlin roastery\",\"color\":\"orange\",\"contacts_count\":2},"
	"{\"id\":\"seg_eu_newsletter\",\"name\":\"EU newsletter\",\"color\":\"blue\",\"contacts_count\":3}]},"
	"{\"id\":\"org_acme\",\"name\":\"Acme Corporation\",\"parent_id\":null,"
	"\"api_keys\":[\"sk_test_acme\"],\"isolated\":false,\"contacts_count\":%d,\"segments\":["
	"{\"id\":\"seg_acme_enterprise\",\"name\":\"Enterprise\",\"color\":\"indigo\",\"contacts_count\":2},"
	"{\"id\":\"seg_acme_trial\",\"name\":\"Free trial\",\"color\":\"lime\",\"contacts_count\":3},"
	"{\"id\":\"seg_acme_churn\",\"name\":\"Churn risk\",\"color\":\"red\",\"contacts_count\":2}]}";

static const char orgs_isolated_json[] =
	",{\"id\":\"%s\",\"name\":\"Acme Corporation\",\"parent_id\":null,"
	"\"api_keys\":[\"%s\"],\"isolated\":true,\"contacts_count\":8,\"segments\":["
	"{\"id\":\"seg_acme_enterprise\",\"name\":\"Enterprise\",\"color\":\"indigo\",\"contacts_count\":2},"
	"{\"id\":\"seg_acme_trial\",\"name\":\"Free trial\",\"color\":\"lime\",\"contacts_count\":3},"
	"{\"id\":\"seg_acme_churn\",\"name\":\"Churn risk\",\"color\":\"red\",\"contacts_count\":2}]}";

static void expect_orgs(const struct test_server *ts, const char *expected)
{
	struct http_resp r = admin(ts, "GET", "/__admin/orgs", NULL);
	CHECK_INT_EQ(r.status, 200);
	CHECK_STR_EQ(r.body, expected);
	http_resp_cleanup(&r);
}

/* Fixture orgs in fixture order with their keys, counts and segments, then
 * isolated orgs in the order they were made; counts follow the data. */
static void orgs_lists_fixture_then_isolated(void)
{
	struct test_server *ts = start();
	char expected[8192], *p;
	p = expected + sprintf(expected, "{\"orgs\":[");
	p += sprintf(p, orgs_fixture_json, 9, 8);
	sprintf(p, "]}");
	expect_orgs(ts, expected);

	char org1[64], key1[64], org2[64], key2[64];
	new_org(ts, "org_acme", org1, key1);
	new_org(ts, "org_acme", org2, key2);
	expect_status(keyed(ts, "POST", "sk_test_demo", "/orgs/c/contacts/ct_alan/segments/seg_vip",
			    NULL),
		      201);
	expect_status(keyed(ts, "POST", "sk_test_acme", "/orgs/c/contacts",
			    "{\"channel\":{\"user_id\":\"new-1\"}}"),
		      201);
	p = expected + sprintf(expected, "{\"orgs\":[");
	p += sprintf(p, orgs_fixture_json, 10, 9);
	p += sprintf(p, orgs_isolated_json, org1, key1);
	p += sprintf(p, orgs_isolated_json, org2, key2);
	sprintf(p, "]}");
	expect_orgs(ts, expected);

	expect_status(admin(ts, "DELETE", "/__admin/orgs/org_nope", NULL), 404);
	char path[128];
	snprintf(path, sizeof path, "/__admin/orgs/%s", org1);
	expect_status(admin(ts, "DELETE", path, NULL), 204);
	p = expected + sprintf(expected, "{\"orgs\":[");
	p += sprintf(p, orgs_fixture_json, 10, 9);
	p += sprintf(p, orgs_isolated_json, org2, key2);
	sprintf(p, "]}");
	expect_orgs(ts, expected);
	test_server_stop(ts);
}

static void orgs_needs_admin_token(void)
{
	struct test_server *ts = test_server_start(NULL, "--admin-token", "secret", NULL);
	struct http_resp r = admin(ts, "GET", "/__admin/orgs", NULL);
	CHECK_INT_EQ(r.status, 401);
	CHECK_STR_EQ(r.body, "{\"statusCode\":401,\"error\":\"Unauthorized\","
			     "\"message\":\"Missing Authorization header\"}");
	http_resp_cleanup(&r);
	r = keyed(ts, "GET", "secret", "/__admin/orgs", NULL);
	CHECK_INT_EQ(r.status, 200);
	CHECK(!strncmp(r.body, "{\"orgs\":[{\"id\":\"org_demo\",", 26));
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

/* ------------------------------------------------------------------- reset */

/* Changes org_demo and makes an isolated org; then reset with body; checks
 * the fixture state is back. */
static void reset_restores(const char *body)
{
	struct test_server *ts = start();
	char *ada = admin_contact(ts, "org_demo", "ct_ada");
	char *grace = admin_contact(ts, "org_demo", "ct_grace");
	expect_status(test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada",
				 "{\"name\":\"Changed\",\"blocked\":true,\"unsubscribed\":true}"),
		      200);
	expect_status(test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_grace", "{\"name\":null}"),
		      200);
	expect_status(keyed(ts, "POST", "sk_test_demo", "/orgs/c/contacts/ct_ada/segments/seg_events",
			    NULL),
		      201);
	cJSON *made = call_json(ts, "POST", "sk_test_demo", "/orgs/c/contacts",
				"{\"channel\":{\"user_id\":\"new-1\"}}", 201);
	char made_id[64];
	snprintf(made_id, sizeof made_id, "%s", str(made, "id"));
	cJSON_Delete(made);
	char org[64], key[64];
	new_org(ts, "org_demo", org, key);
	CHECK_INT_EQ(list_count(ts, key, NULL, NULL), 52);
	char *changed = admin_contact(ts, "org_demo", "ct_ada");
	CHECK(strcmp(changed, ada));
	free(changed);

	cJSON *j = call_json(ts, "POST", NULL, "/__admin/reset", body, 200);
	static const char *const keys[] = {"duration_ms", NULL};
	check_keys(j, keys);
	CHECK(num(j, "duration_ms") >= 0);
	cJSON_Delete(j);

	char *ada2 = admin_contact(ts, "org_demo", "ct_ada");
	char *grace2 = admin_contact(ts, "org_demo", "ct_grace");
	CHECK_STR_EQ(ada2, ada);
	CHECK_STR_EQ(grace2, grace);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", NULL, NULL), 52);
	char path[256];
	snprintf(path, sizeof path, "/__admin/orgs/org_demo/contacts/%s", made_id);
	refused(ts, "GET", NULL, path, NULL, 404, "Contact not found");
	refused(ts, "GET", key, "/orgs/c/contacts", NULL, 401, "Invalid API key");
	snprintf(path, sizeof path, "/__admin/orgs/%s", org);
	refused(ts, "DELETE", NULL, path, NULL, 404, "Org not found");
	cJSON *h = call_json(ts, "GET", NULL, "/__admin/health", NULL, 200);
	CHECK_INT_EQ(num(h, "orgs"), 3);
	CHECK_INT_EQ(num(h, "contacts"), 66);
	cJSON_Delete(h);
	free(ada);
	free(ada2);
	free(grace);
	free(grace2);
	test_server_stop(ts);
}

static void reset_restores_fixture_state(void)
{
	reset_restores(NULL);
}

static void reset_with_empty_object(void)
{
	reset_restores("{}");
}

/* A plain reset leaves faults, the clock and the journal; {"everything":true}
 * puts them back to the start state with the data. */
static void reset_everything_restores_start_state(void)
{
	struct test_server *ts = test_server_start(NULL, "--clock", "2030-01-01T00:00:00.000Z", NULL);
	expect_status(test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":\"X\"}"),
		      200);
	add_fault(ts, "{\"path\":\"/nowhere\",\"status\":503,\"times\":0}");
	post_clock(ts, "{\"advance_ms\":60000}", "{\"now\":\"2030-01-01T00:01:00.000Z\",\"frozen\":true}");
	expect_status(admin(ts, "POST", "/__admin/reset", NULL), 200);
	check_admin_name(ts, "org_demo", "ct_ada", "Ada Lovelace");
	check_journal_count(ts, NULL, 1);
	struct http_resp r = admin(ts, "GET", "/__admin/faults", NULL);
	CHECK(strcmp(r.body, "[]"));
	http_resp_cleanup(&r);

	expect_status(test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":\"Y\"}"),
		      200);
	expect_status(admin(ts, "POST", "/__admin/reset", "{\"everything\":true}"), 200);
	check_admin_name(ts, "org_demo", "ct_ada", "Ada Lovelace");
	check_journal_count(ts, NULL, 0);
	r = admin(ts, "GET", "/__admin/faults", NULL);
	check_exact(&r, 200, "[]");
	http_resp_cleanup(&r);
	r = admin(ts, "GET", "/__admin/clock", NULL);
	check_exact(&r, 200, "{\"now\":\"2030-01-01T00:00:00.000Z\",\"frozen\":true}");
	http_resp_cleanup(&r);

	refused(ts, "POST", NULL, "/__admin/reset", "{\"everything\":true,\"org_id\":\"org_demo\"}",
		400, "everything resets the whole server: it cannot go with org_id");
	refused(ts, "POST", NULL, "/__admin/reset", "{\"everything\":1}", 400,
		"everything must be a boolean");
	test_server_stop(ts);

	/* Without --clock, the clock goes back to real time. */
	ts = test_server_start(NULL, NULL);
	post_clock(ts, "{\"frozen_at\":\"2030-01-01T00:00:00Z\"}",
		   "{\"now\":\"2030-01-01T00:00:00.000Z\",\"frozen\":true}");
	expect_status(admin(ts, "POST", "/__admin/reset", "{\"everything\":true}"), 200);
	cJSON *c = call_json(ts, "GET", NULL, "/__admin/clock", NULL, 200);
	CHECK(cJSON_IsFalse(field(c, "frozen")));
	cJSON_Delete(c);
	test_server_stop(ts);
}

static void reset_one_org_keeps_others(void)
{
	struct test_server *ts = start();
	char *ada = admin_contact(ts, "org_demo", "ct_ada");
	expect_status(test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":\"Demo change\"}"),
		      200);
	expect_status(test_patch(ts, "sk_test_acme", "/orgs/c/contacts/ct_acme_wile",
				 "{\"name\":\"Acme change\"}"),
		      200);
	expect_status(test_patch(ts, "sk_test_demo", "/orgs/org_demo_eu/contacts/ct_eu_klara",
				 "{\"name\":\"EU change\"}"),
		      200);
	char org[64], key[64];
	new_org(ts, "org_demo", org, key);
	expect_status(test_patch(ts, key, "/orgs/c/contacts/ct_ada", "{\"name\":\"Iso change\"}"), 200);

	cJSON *j = call_json(ts, "POST", NULL, "/__admin/reset", "{\"org_id\":\"org_demo\"}", 200);
	static const char *const keys[] = {"duration_ms", NULL};
	check_keys(j, keys);
	CHECK(num(j, "duration_ms") >= 0);
	cJSON_Delete(j);

	char *ada2 = admin_contact(ts, "org_demo", "ct_ada");
	CHECK_STR_EQ(ada2, ada);
	check_admin_name(ts, "org_acme", "ct_acme_wile", "Acme change");
	/* A sub-org is an org of its own: resetting its parent leaves it. */
	check_admin_name(ts, "org_demo_eu", "ct_eu_klara", "EU change");
	check_admin_name(ts, org, "ct_ada", "Iso change");
	CHECK_INT_EQ(list_count(ts, key, NULL, NULL), 52);
	free(ada);
	free(ada2);
	test_server_stop(ts);
}

/* 400, as POST /__admin/orgs {"from"} answers: the org is named in the body. */
static void reset_unknown_org_400(void)
{
	struct test_server *ts = start();
	refused(ts, "POST", NULL, "/__admin/reset", "{\"org_id\":\"org_nope\"}", 400,
		"Org org_nope is not a fixture org");
	/* An isolated org is not a fixture org either. */
	char org[64], key[64], body[128], msg[128];
	new_org(ts, "org_demo", org, key);
	snprintf(body, sizeof body, "{\"org_id\":\"%s\"}", org);
	snprintf(msg, sizeof msg, "Org %s is not a fixture org", org);
	refused(ts, "POST", NULL, "/__admin/reset", body, 400, msg);
	test_server_stop(ts);
}

static void reset_refuses_unknown_field(void)
{
	struct test_server *ts = start();
	expect_status(test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":\"Kept\"}"), 200);
	refused(ts, "POST", NULL, "/__admin/reset", "{\"foo\":1}", 400, "property foo should not exist");
	check_admin_name(ts, "org_demo", "ct_ada", "Kept");
	test_server_stop(ts);
}

static void reset_refuses_non_string_org_id(void)
{
	struct test_server *ts = start();
	expect_status(test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":\"Kept\"}"), 200);
	refused(ts, "POST", NULL, "/__admin/reset", "{\"org_id\":5}", 400, "org_id must be a string");
	check_admin_name(ts, "org_demo", "ct_ada", "Kept");
	test_server_stop(ts);
}

/* ------------------------------------------------------------ isolated orgs */

static void org_create_answers_ids(void)
{
	struct test_server *ts = start();
	char org[64], key[64], org2[64], key2[64];
	new_org(ts, "org_demo", org, key);
	CHECK(is_generated_id(org, "org_"));
	CHECK(is_generated_id(key, "sk_test_"));
	new_org(ts, "org_acme", org2, key2);
	CHECK(is_generated_id(org2, "org_"));
	CHECK(is_generated_id(key2, "sk_test_"));
	CHECK(strcmp(org, org2));
	CHECK(strcmp(key, key2));
	CHECK_INT_EQ(list_count(ts, key2, NULL, NULL), 8);
	test_server_stop(ts);
}

static void org_create_from_sub_org(void)
{
	struct test_server *ts = start();
	char org[64], key[64];
	new_org(ts, "org_demo_eu", org, key);
	CHECK_INT_EQ(list_count(ts, key, NULL, NULL), 6);
	check_admin_name(ts, org, "ct_eu_klara", "Kl\xc3\xa1ra Dvo\xc5\x99\xc3\xa1kov\xc3\xa1");
	/* A copy stands alone: the parent's key does not reach it. */
	char path[256], msg[256];
	snprintf(path, sizeof path, "/orgs/%s/contacts", org);
	snprintf(msg, sizeof msg, "This API key cannot access org %s", org);
	refused(ts, "GET", "sk_test_demo", path, NULL, 401, msg);
	test_server_stop(ts);
}

static void org_create_key_lists_52_contacts(void)
{
	struct test_server *ts = start();
	char org[64], key[64];
	new_org(ts, "org_demo", org, key);
	cJSON *mine = NULL, *demo = NULL;
	CHECK_INT_EQ(list_count(ts, key, NULL, &mine), 52);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", NULL, &demo), 52);
	/* The same contacts, ids and all. */
	CHECK(cJSON_Compare(mine, demo, true));
	CHECK_INT_EQ(list_count(ts, key, "status=BLOCKED", NULL), 3);
	/* The real id works as well as "c". */
	char path[256];
	snprintf(path, sizeof path, "/orgs/%s/contacts", org);
	cJSON *j = call_json(ts, "GET", key, path, NULL, 200);
	CHECK_INT_EQ(cJSON_GetArraySize(j), 52);
	cJSON_Delete(j);
	/* Neither key reaches the other org. */
	char msg[256];
	snprintf(msg, sizeof msg, "This API key cannot access org %s", org);
	refused(ts, "GET", "sk_test_demo", path, NULL, 401, msg);
	refused(ts, "GET", key, "/orgs/org_demo/contacts", NULL, 401,
		"This API key cannot access org org_demo");
	refused(ts, "GET", key, "/orgs/org_demo_eu/contacts", NULL, 401,
		"This API key cannot access org org_demo_eu");
	cJSON_Delete(mine);
	cJSON_Delete(demo);
	test_server_stop(ts);
}

static void org_create_is_isolated_both_ways(void)
{
	struct test_server *ts = start();
	char org[64], key[64];
	new_org(ts, "org_demo", org, key);
	char *demo_ada = admin_contact(ts, "org_demo", "ct_ada");
	char *iso_grace = admin_contact(ts, org, "ct_grace");
	cJSON *p = call_json(ts, "PATCH", key, "/orgs/c/contacts/ct_ada",
			     "{\"name\":\"Iso Ada\",\"blocked\":true}", 200);
	CHECK_STR_EQ(str(p, "name"), "Iso Ada");
	cJSON_Delete(p);
	p = call_json(ts, "PATCH", "sk_test_demo", "/orgs/c/contacts/ct_grace",
		      "{\"name\":\"Demo Grace\",\"unsubscribed\":true}", 200);
	cJSON_Delete(p);
	char *demo_ada2 = admin_contact(ts, "org_demo", "ct_ada");
	char *iso_grace2 = admin_contact(ts, org, "ct_grace");
	CHECK_STR_EQ(demo_ada2, demo_ada);
	CHECK_STR_EQ(iso_grace2, iso_grace);
	check_admin_name(ts, org, "ct_ada", "Iso Ada");
	check_admin_name(ts, "org_demo", "ct_grace", "Demo Grace");
	CHECK_INT_EQ(list_count(ts, key, "status=BLOCKED", NULL), 4);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "status=BLOCKED", NULL), 3);
	CHECK_INT_EQ(list_count(ts, key, "status=UNSUBSCRIBED", NULL), 4);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "status=UNSUBSCRIBED", NULL), 5);
	/* A contact made in one is not in the other. */
	cJSON *made = call_json(ts, "POST", key, "/orgs/c/contacts",
				"{\"channel\":{\"email\":\"iso@example.com\"}}", 201);
	char path[256];
	snprintf(path, sizeof path, "/__admin/orgs/org_demo/contacts/%s", str(made, "id"));
	refused(ts, "GET", NULL, path, NULL, 404, "Contact not found");
	cJSON_Delete(made);
	CHECK_INT_EQ(list_count(ts, key, NULL, NULL), 53);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", NULL, NULL), 52);
	/* Segment counts are per org: seg_events gains a member in org_demo only. */
	cJSON *d = call_json(ts, "POST", "sk_test_demo", "/orgs/c/contacts/ct_ada/segments/seg_events",
			     NULL, 201);
	cJSON *i = call_json(ts, "POST", key, "/orgs/c/contacts/ct_alan/segments/seg_vip", NULL, 201);
	int demo_events = -1, iso_vip = -1;
	for (const cJSON *g = field(d, "segments")->child; g; g = g->next)
		if (!strcmp(str(g, "id"), "seg_events"))
			demo_events = (int)num(g, "contacts_count");
	for (const cJSON *g = field(i, "segments")->child; g; g = g->next)
		if (!strcmp(str(g, "id"), "seg_vip"))
			iso_vip = (int)num(g, "contacts_count");
	CHECK_INT_EQ(demo_events, 7);
	CHECK_INT_EQ(iso_vip, 10);
	cJSON_Delete(d);
	cJSON_Delete(i);
	d = call_json(ts, "GET", "sk_test_demo", "/orgs/c/contacts/ct_ada/segments", NULL, 200);
	for (const cJSON *g = d->child; g; g = g->next)
		if (!strcmp(str(g, "id"), "seg_vip"))
			CHECK_INT_EQ(num(g, "contacts_count"), 9);
	cJSON_Delete(d);
	free(demo_ada);
	free(demo_ada2);
	free(iso_grace);
	free(iso_grace2);
	test_server_stop(ts);
}

static void org_create_copies_fixture_not_current_state(void)
{
	struct test_server *ts = start();
	char *fixture_ada = admin_contact(ts, "org_demo", "ct_ada");
	expect_status(test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada",
				 "{\"name\":\"Changed first\",\"blocked\":true}"),
		      200);
	expect_status(keyed(ts, "POST", "sk_test_demo", "/orgs/c/contacts",
			    "{\"channel\":{\"user_id\":\"only-in-demo\"}}"),
		      201);
	char org[64], key[64];
	new_org(ts, "org_demo", org, key);
	char *iso_ada = admin_contact(ts, org, "ct_ada");
	CHECK_STR_EQ(iso_ada, fixture_ada);
	CHECK_INT_EQ(list_count(ts, key, NULL, NULL), 52);
	CHECK_INT_EQ(list_count(ts, key, "status=BLOCKED", NULL), 3);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", NULL, NULL), 53);
	free(fixture_ada);
	free(iso_ada);
	test_server_stop(ts);
}

static void org_create_refuses_unknown_source(void)
{
	struct test_server *ts = start();
	refused(ts, "POST", NULL, "/__admin/orgs", "{\"from\":\"org_nope\"}", 400,
		"Org org_nope is not a fixture org");
	char org[64], key[64], body[128], msg[128];
	new_org(ts, "org_demo", org, key);
	snprintf(body, sizeof body, "{\"from\":\"%s\"}", org);
	snprintf(msg, sizeof msg, "Org %s is not a fixture org", org);
	refused(ts, "POST", NULL, "/__admin/orgs", body, 400, msg);
	cJSON *h = call_json(ts, "GET", NULL, "/__admin/health", NULL, 200);
	CHECK_INT_EQ(num(h, "orgs"), 4);
	cJSON_Delete(h);
	test_server_stop(ts);
}

static void org_create_refuses_missing_from(void)
{
	struct test_server *ts = start();
	refused(ts, "POST", NULL, "/__admin/orgs", "{}", 400, "from must be the id of a fixture org");
	refused(ts, "POST", NULL, "/__admin/orgs", NULL, 400, "from must be the id of a fixture org");
	refused(ts, "POST", NULL, "/__admin/orgs", "{\"from\":5}", 400,
		"from must be the id of a fixture org");
	refused(ts, "POST", NULL, "/__admin/orgs", "{\"from\":\"org_demo\",\"name\":\"x\"}", 400,
		"property name should not exist");
	test_server_stop(ts);
}

static void org_delete_then_key_401(void)
{
	struct test_server *ts = start();
	char org[64], key[64], path[256];
	new_org(ts, "org_demo", org, key);
	CHECK_INT_EQ(list_count(ts, key, NULL, NULL), 52);
	snprintf(path, sizeof path, "/__admin/orgs/%s", org);
	struct http_resp r = admin(ts, "DELETE", path, NULL);
	check_no_content(&r);
	http_resp_cleanup(&r);
	refused(ts, "GET", key, "/orgs/c/contacts", NULL, 401, "Invalid API key");
	snprintf(path, sizeof path, "/__admin/orgs/%s/contacts/ct_ada", org);
	refused(ts, "GET", NULL, path, NULL, 404, "Contact not found");
	snprintf(path, sizeof path, "/__admin/orgs/%s", org);
	refused(ts, "DELETE", NULL, path, NULL, 404, "Org not found");
	cJSON *h = call_json(ts, "GET", NULL, "/__admin/health", NULL, 200);
	CHECK_INT_EQ(num(h, "orgs"), 3);
	CHECK_INT_EQ(num(h, "contacts"), 66);
	cJSON_Delete(h);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", NULL, NULL), 52);
	test_server_stop(ts);
}

static void org_delete_refuses_fixture_org(void)
{
	struct test_server *ts = start();
	refused(ts, "DELETE", NULL, "/__admin/orgs/org_demo", NULL, 400,
		"Org org_demo is a fixture org and cannot be deleted");
	refused(ts, "DELETE", NULL, "/__admin/orgs/org_demo_eu", NULL, 400,
		"Org org_demo_eu is a fixture org and cannot be deleted");
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", NULL, NULL), 52);
	test_server_stop(ts);
}

static void org_delete_unknown_not_found(void)
{
	struct test_server *ts = start();
	refused(ts, "DELETE", NULL, "/__admin/orgs/org_nope", NULL, 404, "Org not found");
	test_server_stop(ts);
}

/* 16 clients at once, each in its own isolated org. */
enum { ISO_THREADS = 16 };
static const char *const FIXTURE_BLOCKED[] = {"ct_spammy", "ct_robo", "ct_rachel"};
static const char *const UNBLOCKED[] = {"ct_grace", "ct_alan",	"ct_katherine", "ct_hedy",
					"ct_marie", "ct_emmy",	"ct_ramanujan", "ct_jose"};

struct iso_arg {
	struct test_server *ts;
	int i;
	pthread_barrier_t *go;
};

static void *iso_thread(void *p)
{
	struct iso_arg *a = p;
	struct test_server *ts = a->ts;
	pthread_barrier_wait(a->go);
	char org[64], key[64], name[32], body[128], path[256], buf[64];
	new_org(ts, "org_demo", org, key);
	snprintf(name, sizeof name, "thread-%02d", a->i);
	snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
	cJSON *c = call_json(ts, "PATCH", key, "/orgs/c/contacts/ct_ada", body, 200);
	CHECK_STR_EQ(str(c, "name"), name);
	cJSON_Delete(c);
	/* Blocks k contacts, from a start of its own. */
	int k = 1 + a->i % 5, first = a->i % 3;
	const char *blocked[8];
	for (int j = 0; j < k; j++) {
		blocked[j] = UNBLOCKED[first + j];
		snprintf(path, sizeof path, "/orgs/c/contacts/%s", blocked[j]);
		c = call_json(ts, "PATCH", key, path, "{\"blocked\":true}", 200);
		CHECK(boolean(c, "blocked"));
		cJSON_Delete(c);
	}
	struct http_resp r = keyed(ts, "GET", key, "/orgs/c/contacts?status=BLOCKED", NULL);
	CHECK_INT_EQ(r.status, 200);
	const char *pc = header_into(&r, "pagination-count", buf, sizeof buf);
	CHECK(pc);
	CHECK_INT_EQ(strtol(pc, NULL, 10), 3 + k);
	cJSON *list = cJSON_Parse(r.body);
	CHECK(cJSON_IsArray(list));
	CHECK_INT_EQ(cJSON_GetArraySize(list), 3 + k);
	for (const cJSON *e = list->child; e; e = e->next) {
		const char *id = str(e, "id");
		int seen = 0;
		for (int j = 0; j < 3; j++)
			seen += !strcmp(id, FIXTURE_BLOCKED[j]);
		for (int j = 0; j < k; j++)
			seen += !strcmp(id, blocked[j]);
		if (seen != 1)
			fprintf(stderr, "thread %d: unexpected blocked contact %s\n", a->i, id);
		CHECK_INT_EQ(seen, 1);
		CHECK(boolean(e, "blocked"));
	}
	cJSON_Delete(list);
	http_resp_cleanup(&r);
	/* Its ct_ada carries its own name, and only one contact is called thread-*. */
	r = keyed(ts, "GET", key, "/orgs/c/contacts?name=thread-", NULL);
	CHECK_INT_EQ(r.status, 200);
	list = cJSON_Parse(r.body);
	CHECK_INT_EQ(cJSON_GetArraySize(list), 1);
	CHECK_STR_EQ(str(list->child, "id"), "ct_ada");
	CHECK_STR_EQ(str(list->child, "name"), name);
	cJSON_Delete(list);
	http_resp_cleanup(&r);
	snprintf(path, sizeof path, "/__admin/orgs/%s/contacts/ct_ada", org);
	c = call_json(ts, "GET", NULL, path, NULL, 200);
	CHECK_STR_EQ(str(c, "name"), name);
	cJSON_Delete(c);
	snprintf(path, sizeof path, "/__admin/orgs/%s", org);
	r = admin(ts, "DELETE", path, NULL);
	check_no_content(&r);
	http_resp_cleanup(&r);
	r = keyed(ts, "GET", key, "/orgs/c/contacts", NULL);
	CHECK_INT_EQ(r.status, 401);
	http_resp_cleanup(&r);
	return NULL;
}

static void org_isolation_16_threads(void)
{
	struct test_server *ts = start();
	char *ada = admin_contact(ts, "org_demo", "ct_ada");
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, ISO_THREADS);
	pthread_t t[ISO_THREADS];
	struct iso_arg args[ISO_THREADS];
	for (int i = 0; i < ISO_THREADS; i++) {
		args[i] = (struct iso_arg){ts, i, &go};
		CHECK(!pthread_create(&t[i], NULL, iso_thread, &args[i]));
	}
	for (int i = 0; i < ISO_THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	char *ada2 = admin_contact(ts, "org_demo", "ct_ada");
	CHECK_STR_EQ(ada2, ada);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "status=BLOCKED", NULL), 3);
	cJSON *h = call_json(ts, "GET", NULL, "/__admin/health", NULL, 200);
	CHECK_INT_EQ(num(h, "orgs"), 3);
	CHECK_INT_EQ(num(h, "contacts"), 66);
	cJSON_Delete(h);
	free(ada);
	free(ada2);
	test_server_stop(ts);
}

/* ----------------------------------------------------------------- journal */

static void journal_records_orgs_requests_only(void)
{
	struct test_server *ts = start();
	expect_status(keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=1", NULL), 200);
	expect_status(admin(ts, "GET", "/__admin/health", NULL), 200);
	expect_status(admin(ts, "GET", "/__admin/clock", NULL), 200);
	expect_status(admin(ts, "GET", "/__admin/orgs/org_demo/contacts/ct_ada", NULL), 200);
	expect_status(admin(ts, "GET", "/openapi.json", NULL), 200);
	expect_status(admin(ts, "GET", "/nothing/here", NULL), 404);
	expect_status(keyed(ts, "PATCH", NULL, "/orgs/c/contacts/ct_ada", "{}"), 401);
	expect_status(keyed(ts, "GET", "sk_test_demo", "/orgs/c/nothing", NULL), 404);
	expect_status(keyed(ts, "DELETE", "sk_test_demo", "/orgs/c/contacts", NULL), 405);
	check_journal_count(ts, NULL, 4);
	cJSON *j = journal(ts, NULL);
	const char *want[][3] = {{"DELETE", "/orgs/c/contacts", "405"},
				 {"GET", "/orgs/c/nothing", "404"},
				 {"PATCH", "/orgs/c/contacts/ct_ada", "401"},
				 {"GET", "/orgs/c/contacts", "200"}};
	int i = 0;
	for (const cJSON *e = j->child; e; e = e->next, i++) {
		CHECK_INT_EQ(num(e, "id"), 4 - i);
		CHECK_STR_EQ(str(e, "method"), want[i][0]);
		CHECK_STR_EQ(str(e, "path"), want[i][1]);
		CHECK_INT_EQ(num(e, "status"), atoi(want[i][2]));
	}
	CHECK_INT_EQ(i, 4);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void journal_entry_fields(void)
{
	struct test_server *ts = start();
	struct http_resp list = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=1&status=BLOCKED", NULL);
	CHECK_INT_EQ(list.status, 200);
	cJSON *j = journal(ts, NULL);
	CHECK_INT_EQ(cJSON_GetArraySize(j), 1);
	const cJSON *e = j->child;
	static const char *const keys[] = {
		"id",	  "time",	    "client",	  "method",	      "path",	       "query",
		"org_id", "request_headers", "request_body", "status", "response_body",
		"duration_ms", "contact_before",  "contact_after", NULL};
	check_keys(e, keys);
	CHECK_INT_EQ(num(e, "id"), 1);
	CHECK_STR_EQ(str(e, "time"), CLOCK0_TEXT);
	CHECK_STR_EQ(str(e, "client"), "127.0.0.1");
	CHECK_STR_EQ(str(e, "method"), "GET");
	CHECK_STR_EQ(str(e, "path"), "/orgs/c/contacts");
	CHECK_STR_EQ(str(e, "query"), "take=1&status=BLOCKED");
	CHECK_STR_EQ(str(e, "org_id"), "org_demo");
	const cJSON *h = field(e, "request_headers");
	CHECK(cJSON_IsObject(h));
	CHECK_STR_EQ(str(h, "Authorization"), "...demo");
	char host[64];
	snprintf(host, sizeof host, "127.0.0.1:%u", ts->port);
	CHECK_STR_EQ(str(h, "Host"), host);
	is_null(e, "request_body");
	CHECK_INT_EQ(num(e, "status"), 200);
	CHECK_STR_EQ(str(e, "response_body"), list.body);
	double d = num(e, "duration_ms");
	CHECK(d >= 0 && d < 10000);
	is_null(e, "contact_before");
	is_null(e, "contact_after");
	cJSON_Delete(j);
	http_resp_cleanup(&list);
	test_server_stop(ts);
}

static void journal_redacts_authorization(void)
{
	struct test_server *ts = start();
	expect_status(keyed(ts, "GET", "sk_test_acme", "/orgs/c/contacts", NULL), 200);
	const char *h1[] = {"Authorization: Bearer sk_wrong_key_1234", NULL};
	expect_status(req(ts, "GET", "/orgs/c/contacts", h1, NULL), 401);
	const char *h2[] = {"Authorization: abc", NULL};
	expect_status(req(ts, "GET", "/orgs/c/contacts", h2, NULL), 401);
	cJSON *j = journal(ts, NULL);
	const char *want[] = {"...", "...1234", "...acme"};
	int i = 0;
	for (const cJSON *e = j->child; e && i < 3; e = e->next, i++)
		CHECK_STR_EQ(str(field(e, "request_headers"), "Authorization"), want[i]);
	CHECK_INT_EQ(i, 3);
	CHECK(cJSON_GetArraySize(j) == 3);
	/* The key is nowhere in the journal. */
	struct http_resp raw = admin(ts, "GET", "/__admin/requests", NULL);
	CHECK(!strstr(raw.body, "sk_test_acme"));
	CHECK(!strstr(raw.body, "sk_wrong"));
	http_resp_cleanup(&raw);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void journal_keeps_body_of_refused_request(void)
{
	/* The journal tells what the client sent, also when the answer came
	 * before the body was read (401, an injected fault, 429). */
	struct test_server *ts = start();
	expect_status(keyed(ts, "PATCH", "sk_nope", "/orgs/c/contacts/ct_ada", "{\"name\":\"A\"}"), 401);
	add_fault(ts, "{\"path\":\"/orgs/*\",\"status\":503}");
	expect_status(keyed(ts, "PATCH", "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":\"B\"}"), 503);
	expect_status(keyed(ts, "PATCH", "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":5}"), 400);
	cJSON *j = journal(ts, NULL);
	CHECK_INT_EQ(cJSON_GetArraySize(j), 3);
	for (const cJSON *e = j->child; e; e = e->next)
		if (!cJSON_IsString(field(e, "request_body")))
			fprintf(stderr, "entry %d (status %d): request_body is not the body sent\n",
				(int)num(e, "id"), (int)num(e, "status"));
	CHECK_STR_EQ(str(cJSON_GetArrayItem(j, 0), "request_body"), "{\"name\":5}");
	CHECK_STR_EQ(str(cJSON_GetArrayItem(j, 1), "request_body"), "{\"name\":\"B\"}");
	CHECK_STR_EQ(str(cJSON_GetArrayItem(j, 2), "request_body"), "{\"name\":\"A\"}");
	cJSON_Delete(j);
	test_server_stop(ts);
}

/* Bytes that are not UTF-8, in a body or a header, read as U+FFFD in the
 * journal, so its answer stays UTF-8 JSON; also a body cut at 64 KiB inside a
 * character. (libcurl escapes a path's bytes: test_hostile.py sends them raw.) */
static void journal_answer_is_utf8_whatever_the_request(void)
{
	struct test_server *ts = start();
	const char *h[] = {"Authorization: Bearer sk_test_demo", "Content-Type: application/json",
			   "X-Note: caf\xe9", NULL};
	struct http_resp r = req(ts, "PATCH", "/orgs/c/contacts/ct_ada", h, "{\"name\":\"\xff\xfe\"}");
	CHECK_INT_EQ(r.status, 400);
	CHECK(json_utf8_valid(r.body, r.len, NULL));
	http_resp_cleanup(&r);
	/* {"name":"aaa...é"}: the cut (65536 bytes, the last 8 of them "...(cut)")
	 * falls between é's two bytes. */
	size_t n = 65536 - 8 - 9 - 1;
	char *big = malloc(9 + n + 2 + 100 + 3);
	CHECK(big);
	memcpy(big, "{\"name\":\"", 9);
	memset(big + 9, 'a', n);
	memcpy(big + 9 + n, "\xc3\xa9", 2);
	memset(big + 9 + n + 2, 'b', 100);
	memcpy(big + 9 + n + 2 + 100, "\"}", 3);
	r = req(ts, "PATCH", "/orgs/c/contacts/ct_ada", h, big);
	CHECK_INT_EQ(r.status, 400);
	http_resp_cleanup(&r);

	r = admin(ts, "GET", "/__admin/requests", NULL);
	CHECK_INT_EQ(r.status, 200);
	CHECK(json_utf8_valid(r.body, r.len, NULL));
	cJSON *j = cJSON_Parse(r.body);
	CHECK(cJSON_GetArraySize(j) == 2);
	const cJSON *first = cJSON_GetArrayItem(j, 1), *cut = cJSON_GetArrayItem(j, 0);
	CHECK_STR_EQ(str(first, "request_body"), "{\"name\":\"\xef\xbf\xbd\xef\xbf\xbd\"}");
	CHECK_STR_EQ(str(field(first, "request_headers"), "X-Note"), "caf\xef\xbf\xbd");
	const char *cut_body = str(cut, "request_body");
	CHECK(strstr(cut_body, "a\xef\xbf\xbd...(cut)"));
	cJSON_Delete(j);
	http_resp_cleanup(&r);
	free(big);
	test_server_stop(ts);
}

/* A reader of GET /__admin/requests that reads its first bytes and then stops
 * holds the server to a bounded amount of memory (the answer is streamed, not
 * built whole: 1,000 entries of 4 KiB bodies took 8.5 MB of heap that way, and
 * take 0.2 MB now), and the API goes on meanwhile, its requests recorded. Then
 * the whole answer reads as the 1,000 entries there when the read began. */
static void journal_read_is_streamed(void)
{
	struct test_server *ts = start();
	enum { N = 1000, BODY = 4096 };
	char *body = malloc(BODY + 1);
	CHECK(body);
	memset(body, 'a', BODY);
	memcpy(body, "{\"name\":\"", 9);
	memcpy(body + BODY - 2, "\"}", 3);
	for (int i = 0; i < N; i++) {
		struct http_resp r = test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", body);
		CHECK_INT_EQ(r.status, 400); /* name too long: journaled all the same */
		http_resp_cleanup(&r);
	}
	free(body);
	size_t cap = 32 * 1024 * 1024, got = 0;
	char *buf = malloc(cap);
	CHECK(buf);
	struct mallinfo2 before = mallinfo2();

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ts->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
	const char get[] = "GET /__admin/requests HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
	CHECK(write(fd, get, sizeof get - 1) == (ssize_t)(sizeof get - 1));
	while (got < 2000) {
		ssize_t k = read(fd, buf + got, cap - got);
		CHECK(k > 0);
		got += (size_t)k;
	}
	/* The answer has begun; the API is served and recorded meanwhile. */
	struct http_resp r = test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":\"During\"}");
	CHECK_INT_EQ(r.status, 200);
	http_resp_cleanup(&r);
	struct mallinfo2 during = mallinfo2();
	/* Blocks from the heap, and the large ones malloc maps on their own. */
	size_t was = before.uordblks + before.hblkhd, is = during.uordblks + during.hblkhd;
	size_t grown = is > was ? is - was : 0;
	if (grown >= 1024 * 1024)
		fprintf(stderr, "heap grew by %zu bytes while the read was paused\n", grown);
	CHECK(grown < 1024 * 1024);

	for (;;) {
		CHECK(got < cap);
		ssize_t k = read(fd, buf + got, cap - got);
		CHECK(k >= 0);
		if (k == 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	buf[got] = '\0';
	CHECK(!strncmp(buf, "HTTP/1.1 200 OK\r\n", 17));
	CHECK(strstr(buf, "\r\nTransfer-Encoding: chunked\r\n"));
	/* Undo the chunking. */
	char *p = strstr(buf, "\r\n\r\n") + 4, *out = buf, *json = buf;
	for (;;) {
		char *end;
		unsigned long n = strtoul(p, &end, 16);
		CHECK(end != p && !strncmp(end, "\r\n", 2));
		if (n == 0)
			break;
		memmove(out, end + 2, n);
		out += n;
		p = end + 2 + n + 2;
	}
	*out = '\0';
	cJSON *j = cJSON_Parse(json);
	CHECK(cJSON_IsArray(j));
	CHECK_INT_EQ(cJSON_GetArraySize(j), N);
	CHECK_INT_EQ(num(cJSON_GetArrayItem(j, 0), "id"), N);
	CHECK_INT_EQ(num(cJSON_GetArrayItem(j, N - 1), "id"), 1);
	CHECK_INT_EQ((long)strlen(str(cJSON_GetArrayItem(j, 7), "request_body")), BODY);
	cJSON_Delete(j);
	free(buf);
	check_journal_count(ts, NULL, N + 1);
	test_server_stop(ts);
}

static void journal_patch_bodies_and_contacts(void)
{
	struct test_server *ts = start();
	char *before = admin_contact(ts, "org_demo", "ct_ada");
	struct http_resp p = test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":\"Ada K\"}");
	CHECK_INT_EQ(p.status, 200);
	struct http_resp same = test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":\"Ada K\"}");
	CHECK_INT_EQ(same.status, 200);
	struct http_resp nf = test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_nope", "{}");
	check_error(&nf, 404, "Contact not found");
	cJSON *j = journal(ts, NULL);
	CHECK_INT_EQ(cJSON_GetArraySize(j), 3);
	/* Newest first: the 404, the PATCH that changed nothing, the change. */
	const cJSON *e404 = cJSON_GetArrayItem(j, 0), *esame = cJSON_GetArrayItem(j, 1),
		    *e = cJSON_GetArrayItem(j, 2);
	CHECK_STR_EQ(str(e, "request_body"), "{\"name\":\"Ada K\"}");
	CHECK_STR_EQ(str(field(e, "request_headers"), "Content-Type"), "application/json");
	CHECK_STR_EQ(str(e, "response_body"), p.body);
	is_null(e, "query");
	cJSON *want_before = cJSON_Parse(before), *want_after = cJSON_Parse(p.body);
	CHECK(cJSON_Compare(field(e, "contact_before"), want_before, true));
	CHECK(cJSON_Compare(field(e, "contact_after"), want_after, true));
	CHECK_STR_EQ(str(field(e, "contact_before"), "name"), "Ada Lovelace");
	CHECK_STR_EQ(str(field(e, "contact_after"), "name"), "Ada K");
	/* No change, no contacts. */
	CHECK_INT_EQ(num(esame, "status"), 200);
	CHECK_STR_EQ(str(esame, "response_body"), same.body);
	is_null(esame, "contact_before");
	is_null(esame, "contact_after");
	CHECK_INT_EQ(num(e404, "status"), 404);
	CHECK_STR_EQ(str(e404, "request_body"), "{}");
	CHECK_STR_EQ(str(e404, "response_body"), nf.body);
	is_null(e404, "contact_before");
	is_null(e404, "contact_after");
	cJSON_Delete(want_before);
	cJSON_Delete(want_after);
	cJSON_Delete(j);
	http_resp_cleanup(&p);
	http_resp_cleanup(&same);
	http_resp_cleanup(&nf);
	free(before);
	test_server_stop(ts);
}

/* The journal of journal_filters(), ids in order:
 * 1 GET   /orgs/c/contacts                     demo 200   (t0)
 * 2 PATCH /orgs/c/contacts/ct_ada              demo 200   (t0)
 * 3 PATCH /orgs/c/contacts/ct_nope             demo 404   (t0)
 * 4 GET   /orgs/org_acme/contacts              acme 200   (t0 + 1 min)
 * 5 GET   /orgs/c/contacts/ct_ada/segments     demo 200   (t0 + 1 min)
 * 6 GET   /orgs/c/contacts                     bad  401   (t0 + 1 min)
 * 7 GET   /orgs/org_demo_eu/contacts           demo 200   (t0 + 1 min)
 * 8 PATCH /orgs/org_demo/contacts/ct_grace     demo 200   (t0 + 1 min) */
static struct test_server *journal_fixture(void)
{
	struct test_server *ts = start();
	expect_status(keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts", NULL), 200);
	expect_status(test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"blocked\":true}"), 200);
	expect_status(test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_nope", "{}"), 404);
	post_clock(ts, "{\"advance_ms\":60000}", "{\"now\":\"2030-01-01T00:01:00.000Z\",\"frozen\":true}");
	expect_status(keyed(ts, "GET", "sk_test_acme", "/orgs/org_acme/contacts", NULL), 200);
	expect_status(keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts/ct_ada/segments", NULL), 200);
	expect_status(keyed(ts, "GET", "sk_bad", "/orgs/c/contacts", NULL), 401);
	expect_status(keyed(ts, "GET", "sk_test_demo", "/orgs/org_demo_eu/contacts", NULL), 200);
	expect_status(test_patch(ts, "sk_test_demo", "/orgs/org_demo/contacts/ct_grace", "{\"name\":\"G\"}"),
		      200);
	return ts;
}

static void journal_newest_first(void)
{
	struct test_server *ts = journal_fixture();
	check_journal_ids(ts, NULL, "8,7,6,5,4,3,2,1");
	check_journal_count(ts, NULL, 8);
	test_server_stop(ts);
}

static void journal_filter_method(void)
{
	struct test_server *ts = journal_fixture();
	check_journal_ids(ts, "method=PATCH", "8,3,2");
	check_journal_ids(ts, "method=GET", "7,6,5,4,1");
	check_journal_ids(ts, "method=DELETE", "");
	check_journal_count(ts, "method=PATCH", 3);
	test_server_stop(ts);
}

/* The method filter ignores case: ?method=patch finds the PATCHes. */
static void journal_filter_method_any_case(void)
{
	struct test_server *ts = journal_fixture();
	check_journal_ids(ts, "method=patch", "8,3,2");
	check_journal_ids(ts, "method=Get", "7,6,5,4,1");
	check_journal_count(ts, "method=patch", 3);
	test_server_stop(ts);
}

static void journal_filter_path(void)
{
	struct test_server *ts = journal_fixture();
	check_journal_ids(ts, "path=/orgs/c/contacts", "6,1");
	check_journal_ids(ts, "path=/orgs/c/contacts/ct_ada", "2");
	/* '*' spans '/' too (fnmatch without FNM_PATHNAME). */
	check_journal_ids(ts, "path=/orgs/*/contacts/*", "8,5,3,2");
	check_journal_ids(ts, "path=/orgs/*/contacts", "7,6,4,1");
	check_journal_ids(ts, "path=*/segments", "5");
	check_journal_ids(ts, "path=/orgs/x", "");
	check_journal_count(ts, "path=/orgs/*/contacts/*", 4);
	test_server_stop(ts);
}

static void journal_filter_status(void)
{
	struct test_server *ts = journal_fixture();
	check_journal_ids(ts, "status=404", "3");
	check_journal_ids(ts, "status=401", "6");
	check_journal_ids(ts, "status=200", "8,7,5,4,2,1");
	check_journal_ids(ts, "status=500", "");
	check_journal_ids(ts, "method=PATCH&status=200", "8,2");
	test_server_stop(ts);
}

static void journal_filter_org_id(void)
{
	struct test_server *ts = journal_fixture();
	/* "c" with sk_test_demo is org_demo; a refused key acts on no org. */
	check_journal_ids(ts, "org_id=org_demo", "8,5,3,2,1");
	check_journal_ids(ts, "org_id=org_acme", "4");
	check_journal_ids(ts, "org_id=org_demo_eu", "7");
	check_journal_ids(ts, "org_id=c", "");
	check_journal_count(ts, "org_id=org_demo", 5);
	/* Each entry says which org it was filed under, as the filter sees it. */
	cJSON *j = journal(ts, NULL);
	static const char *const want[] = {"org_demo", "org_demo_eu", NULL, "org_demo", "org_acme",
					   "org_demo", "org_demo", "org_demo"};
	size_t i = 0;
	const cJSON *e = j->child;
	for (; e && i < 8; e = e->next, i++) {
		if (want[i])
			CHECK_STR_EQ(str(e, "org_id"), want[i]);
		else
			is_null(e, "org_id");
	}
	CHECK_INT_EQ(i, 8);
	CHECK(!e);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void journal_filter_since(void)
{
	struct test_server *ts = journal_fixture();
	check_journal_ids(ts, "since=2030-01-01T00:01:00Z", "8,7,6,5,4");
	check_journal_ids(ts, "since=2030-01-01T00:00:59.999Z", "8,7,6,5,4");
	check_journal_ids(ts, "since=2030-01-01T00:01:00.001Z", "");
	check_journal_ids(ts, "since=2030-01-01T01:01:00%2B01:00", "8,7,6,5,4");
	check_journal_ids(ts, "since=2029-12-31T23:59:59Z", "8,7,6,5,4,3,2,1");
	cJSON *j = journal(ts, "since=2030-01-01T00:01:00Z&limit=1");
	CHECK_STR_EQ(str(j->child, "time"), "2030-01-01T00:01:00.000Z");
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void journal_filter_limit(void)
{
	struct test_server *ts = journal_fixture();
	check_journal_ids(ts, "limit=2", "8,7");
	check_journal_ids(ts, "limit=1", "8");
	check_journal_ids(ts, "limit=100", "8,7,6,5,4,3,2,1");
	check_journal_ids(ts, "method=PATCH&limit=2", "8,3");
	check_journal_count(ts, "limit=2", 2);
	test_server_stop(ts);
}

static void journal_clear(void)
{
	struct test_server *ts = journal_fixture();
	struct http_resp r = admin(ts, "DELETE", "/__admin/requests", NULL);
	check_no_content(&r);
	http_resp_cleanup(&r);
	check_journal_count(ts, NULL, 0);
	check_journal_ids(ts, NULL, "");
	expect_status(keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts", NULL), 200);
	check_journal_count(ts, NULL, 1);
	test_server_stop(ts);
}

static void journal_size_keeps_newest(void)
{
	struct test_server *ts = test_server_start(NULL, "--clock", CLOCK0, "--journal-size", "3", NULL);
	for (int i = 0; i < 5; i++) {
		char path[64];
		snprintf(path, sizeof path, "/orgs/c/contacts?take=%d", i + 1);
		expect_status(keyed(ts, "GET", "sk_test_demo", path, NULL), 200);
	}
	check_journal_ids(ts, NULL, "5,4,3");
	check_journal_count(ts, NULL, 3);
	cJSON *j = journal(ts, NULL);
	CHECK_STR_EQ(str(j->child, "query"), "take=5");
	CHECK_STR_EQ(str(cJSON_GetArrayItem(j, 2), "query"), "take=3");
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void journal_refuses_bad_filters(void)
{
	struct test_server *ts = start();
	const char *status_msg = "status must be an integer from 100 to 599";
	refused(ts, "GET", NULL, "/__admin/requests?status=abc", NULL, 400, status_msg);
	refused(ts, "GET", NULL, "/__admin/requests?status=99", NULL, 400, status_msg);
	refused(ts, "GET", NULL, "/__admin/requests?status=600", NULL, 400, status_msg);
	refused(ts, "GET", NULL, "/__admin/requests/count?status=2x", NULL, 400, status_msg);
	const char *since_msg = "since must be an RFC 3339 date-time";
	refused(ts, "GET", NULL, "/__admin/requests?since=yesterday", NULL, 400, since_msg);
	refused(ts, "GET", NULL, "/__admin/requests?since=2030-01-01", NULL, 400, since_msg);
	refused(ts, "GET", NULL, "/__admin/requests/count?since=2030-02-30T00:00:00Z", NULL, 400,
		since_msg);
	const char *limit_msg = "limit must be a positive integer";
	refused(ts, "GET", NULL, "/__admin/requests?limit=0", NULL, 400, limit_msg);
	refused(ts, "GET", NULL, "/__admin/requests?limit=-3", NULL, 400, limit_msg);
	refused(ts, "GET", NULL, "/__admin/requests?limit=x", NULL, 400, limit_msg);
	refused(ts, "GET", NULL, "/__admin/requests?limit=1.5", NULL, 400, limit_msg);
	refused(ts, "GET", NULL, "/__admin/requests/count?limit=0", NULL, 400, limit_msg);
	test_server_stop(ts);
}

/* ------------------------------------------------------------------ faults */

#define ENVELOPE_503 "{\"statusCode\":503,\"error\":\"Service Unavailable\",\"message\":\"Injected fault (503)\"}"

static void fault_add_answers_rule(void)
{
	struct test_server *ts = start();
	struct http_resp r = admin(ts, "POST", "/__admin/faults",
				   "{\"method\":\"PATCH\",\"path\":\"/orgs/*/contacts/*\",\"times\":2,"
				   "\"status\":503}");
	check_exact(&r, 201,
		    "{\"id\":1,\"method\":\"PATCH\",\"path\":\"/orgs/*/contacts/*\",\"org_id\":null,"
		    "\"times\":2,\"remaining\":2,\"status\":503,\"body\":null,\"delay_ms\":0,"
		    "\"drop\":false,\"after_commit\":false}");
	http_resp_cleanup(&r);
	/* Defaults: any method, any org, once. */
	r = admin(ts, "POST", "/__admin/faults", "{\"path\":\"/orgs/*\",\"status\":500}");
	check_exact(&r, 201,
		    "{\"id\":2,\"method\":null,\"path\":\"/orgs/*\",\"org_id\":null,\"times\":1,"
		    "\"remaining\":1,\"status\":500,\"body\":null,\"delay_ms\":0,\"drop\":false,"
		    "\"after_commit\":false}");
	http_resp_cleanup(&r);
	r = admin(ts, "POST", "/__admin/faults",
		  "{\"path\":\"/orgs/c/contacts/*\",\"org_id\":\"org_demo\",\"times\":0,\"status\":502,"
		  "\"body\":{\"x\":[1,true]},\"delay_ms\":5,\"after_commit\":true}");
	check_exact(&r, 201,
		    "{\"id\":3,\"method\":null,\"path\":\"/orgs/c/contacts/*\",\"org_id\":\"org_demo\","
		    "\"times\":0,\"remaining\":null,\"status\":502,\"body\":{\"x\":[1,true]},"
		    "\"delay_ms\":5,\"drop\":false,\"after_commit\":true}");
	http_resp_cleanup(&r);
	r = admin(ts, "POST", "/__admin/faults", "{\"path\":\"/orgs/*\",\"drop\":true}");
	check_exact(&r, 201,
		    "{\"id\":4,\"method\":null,\"path\":\"/orgs/*\",\"org_id\":null,\"times\":1,"
		    "\"remaining\":1,\"status\":null,\"body\":null,\"delay_ms\":0,\"drop\":true,"
		    "\"after_commit\":false}");
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void fault_scripted_sequence(void)
{
	struct test_server *ts = start();
	add_fault(ts, "{\"method\":\"PATCH\",\"path\":\"/orgs/*/contacts/*\",\"times\":2,\"status\":503}");
	for (int i = 0; i < 2; i++) {
		struct http_resp r = test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":\"Z\"}");
		check_exact(&r, 503, ENVELOPE_503);
		http_resp_cleanup(&r);
		/* The faulted PATCH changed nothing. */
		check_admin_name(ts, "org_demo", "ct_ada", "Ada Lovelace");
	}
	struct http_resp r = test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":\"Z\"}");
	cJSON *c = json_of(&r, 200);
	CHECK_STR_EQ(str(c, "name"), "Z");
	cJSON_Delete(c);
	http_resp_cleanup(&r);
	/* Other methods were never matched. */
	expect_status(keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts/ct_ada/segments", NULL), 200);
	check_journal_ids(ts, "status=503", "2,1");
	test_server_stop(ts);
}

static void fault_times_0_until_removed(void)
{
	struct test_server *ts = start();
	int id = add_fault(ts, "{\"path\":\"/orgs/c/contacts\",\"times\":0,\"status\":503}");
	for (int i = 0; i < 5; i++) {
		struct http_resp r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts", NULL);
		check_exact(&r, 503, ENVELOPE_503);
		http_resp_cleanup(&r);
	}
	cJSON *l = call_json(ts, "GET", NULL, "/__admin/faults", NULL, 200);
	CHECK_INT_EQ(cJSON_GetArraySize(l), 1);
	CHECK_INT_EQ(num(l->child, "times"), 0);
	is_null(l->child, "remaining");
	cJSON_Delete(l);
	char path[64];
	snprintf(path, sizeof path, "/__admin/faults/%d", id);
	struct http_resp r = admin(ts, "DELETE", path, NULL);
	check_no_content(&r);
	http_resp_cleanup(&r);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", NULL, NULL), 52);
	test_server_stop(ts);
}

static void fault_first_matching_rule_wins(void)
{
	struct test_server *ts = start();
	add_fault(ts, "{\"method\":\"GET\",\"path\":\"/orgs/*/contacts\",\"status\":500}");
	add_fault(ts, "{\"path\":\"/orgs/*\",\"times\":0,\"status\":503}");
	add_fault(ts, "{\"path\":\"/orgs/c/contacts\",\"times\":0,\"status\":502}");
	struct http_resp r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts", NULL);
	check_error(&r, 500, "Injected fault (500)");
	http_resp_cleanup(&r);
	/* The first is used up: the second, never the third. */
	for (int i = 0; i < 2; i++) {
		r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts", NULL);
		check_exact(&r, 503, ENVELOPE_503);
		http_resp_cleanup(&r);
	}
	r = test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{}");
	check_exact(&r, 503, ENVELOPE_503);
	http_resp_cleanup(&r);
	/* A path the second rule does not match is untouched. */
	expect_status(admin(ts, "GET", "/__admin/health", NULL), 200);
	cJSON *l = call_json(ts, "GET", NULL, "/__admin/faults", NULL, 200);
	CHECK_INT_EQ(num(cJSON_GetArrayItem(l, 0), "remaining"), 0);
	is_null(cJSON_GetArrayItem(l, 1), "remaining");
	is_null(cJSON_GetArrayItem(l, 2), "remaining");
	cJSON_Delete(l);
	test_server_stop(ts);
}

static void fault_custom_body(void)
{
	struct test_server *ts = start();
	add_fault(ts, "{\"path\":\"/orgs/*\",\"status\":502,\"body\":{\"x\":1}}");
	struct http_resp r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts", NULL);
	check_exact(&r, 502, "{\"x\":1}");
	http_resp_cleanup(&r);
	add_fault(ts, "{\"path\":\"/orgs/*\",\"status\":500,\"body\":\"plain\"}");
	r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts", NULL);
	check_exact(&r, 500, "\"plain\"");
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

/* Whatever the status, the status line and the envelope give one reason phrase
 * (libmicrohttpd 0.9.75 has its own table: 413 "Content Too Large", 422
 * "Unprocessable Content"). */
static void fault_status_line_matches_envelope(void)
{
	struct test_server *ts = start();
	for (int status = 400; status <= 599; status++) {
		char rule[128];
		snprintf(rule, sizeof rule, "{\"path\":\"/orgs/*\",\"status\":%d}", status);
		add_fault(ts, rule);
		struct http_resp r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts", NULL);
		CHECK_INT_EQ(r.status, status);
		cJSON *j = cJSON_Parse(r.body);
		CHECK(j);
		char line[160];
		snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", status, str(j, "error"));
		if (strncmp(r.headers, line, strlen(line)))
			fprintf(stderr, "want %s got %.60s\n", line, r.headers);
		CHECK(!strncmp(r.headers, line, strlen(line)));
		cJSON_Delete(j);
		http_resp_cleanup(&r);
	}
	test_server_stop(ts);
}

static void fault_delay(void)
{
	struct test_server *ts = start();
	struct http_resp normal = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=2", NULL);
	CHECK_INT_EQ(normal.status, 200);
	add_fault(ts, "{\"path\":\"/orgs/c/contacts\",\"delay_ms\":300}");
	int64_t t0 = mono_ms();
	struct http_resp r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=2", NULL);
	int64_t took = mono_ms() - t0;
	check_exact(&r, 200, normal.body);
	CHECK_STR_EQ(http_resp_header(&r, "pagination-count"), "52");
	CHECK(took >= 300);
	http_resp_cleanup(&r);
	/* Once only. */
	t0 = mono_ms();
	r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=2", NULL);
	CHECK(mono_ms() - t0 < 300);
	check_exact(&r, 200, normal.body);
	http_resp_cleanup(&r);
	/* A delay with a status: the status, after the delay. */
	add_fault(ts, "{\"path\":\"/orgs/c/contacts\",\"delay_ms\":150,\"status\":503}");
	t0 = mono_ms();
	r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=2", NULL);
	CHECK(mono_ms() - t0 >= 150);
	check_exact(&r, 503, ENVELOPE_503);
	http_resp_cleanup(&r);
	http_resp_cleanup(&normal);
	test_server_stop(ts);
}

static void fault_delay_on_patch_applies_body(void)
{
	struct test_server *ts = start();
	add_fault(ts, "{\"method\":\"PATCH\",\"path\":\"/orgs/*/contacts/*\",\"delay_ms\":200}");
	int64_t t0 = mono_ms();
	struct http_resp r = test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada",
					"{\"name\":\"Late\",\"blocked\":true}");
	int64_t took = mono_ms() - t0;
	cJSON *c = json_of(&r, 200);
	CHECK(took >= 200);
	CHECK_STR_EQ(str(c, "name"), "Late");
	CHECK(boolean(c, "blocked"));
	cJSON_Delete(c);
	http_resp_cleanup(&r);
	check_admin_name(ts, "org_demo", "ct_ada", "Late");
	/* The checks still run after the delay. */
	add_fault(ts, "{\"method\":\"PATCH\",\"path\":\"/orgs/*/contacts/*\",\"delay_ms\":50}");
	refused(ts, "PATCH", "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":5}", 400,
		"name must be a string or null");
	/* The journal's duration includes the delay. */
	cJSON *j = journal(ts, NULL);
	CHECK(num(cJSON_GetArrayItem(j, 1), "duration_ms") >= 200);
	CHECK_STR_EQ(str(cJSON_GetArrayItem(j, 1), "request_body"), "{\"name\":\"Late\",\"blocked\":true}");
	cJSON_Delete(j);
	test_server_stop(ts);
}

struct delayed_get {
	const struct test_server *ts;
	struct http_resp r;
	int64_t done_ms;
};

static void *delayed_get_run(void *arg)
{
	struct delayed_get *d = arg;
	d->r = keyed(d->ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=2", NULL);
	d->done_ms = mono_ms();
	return NULL;
}

/* Clearing the rules also ends the delays they started: the held requests go
 * on at once, with the answer their rule gave (here: a 503), instead of keeping
 * their connections for up to ten minutes. */
static void clearing_faults_ends_delays(void)
{
	struct test_server *ts = start();
	add_fault(ts, "{\"path\":\"/orgs/c/contacts\",\"delay_ms\":600000,\"status\":503,\"times\":2}");
	struct delayed_get d[2] = {{.ts = ts}, {.ts = ts}};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, delayed_get_run, &d[i]) == 0);
	/* Both held: the rule has been used twice (a use is counted as it matches). */
	for (int64_t until = mono_ms() + 10000;;) {
		struct http_resp f = admin(ts, "GET", "/__admin/faults", NULL);
		bool both = strstr(f.body, "\"remaining\":0") != NULL;
		http_resp_cleanup(&f);
		if (both)
			break;
		CHECK(mono_ms() < until);
		usleep(10 * 1000);
	}
	int64_t t0 = mono_ms();
	struct http_resp del = admin(ts, "DELETE", "/__admin/faults", NULL);
	CHECK_INT_EQ(del.status, 204);
	http_resp_cleanup(&del);
	for (int i = 0; i < 2; i++) {
		CHECK(pthread_join(t[i], NULL) == 0);
		CHECK_INT_EQ(d[i].r.status, 503);
		CHECK(d[i].done_ms >= t0);	  /* held until the rules went */
		CHECK(d[i].done_ms - t0 < 5000); /* and not for the 600 s */
		http_resp_cleanup(&d[i].r);
	}
	/* And the next request is not delayed. */
	struct http_resp r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=2", NULL);
	CHECK_INT_EQ(r.status, 200);
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void fault_drop_with_delay_waits_first(void)
{
	/* A drop with a delay should look like a slow server that then hangs up. */
	struct test_server *ts = start();
	add_fault(ts, "{\"path\":\"/orgs/c/contacts\",\"drop\":true,\"delay_ms\":300}");
	const char *h[] = {AUTH_DEMO, NULL};
	struct http_resp r;
	int64_t t0 = mono_ms();
	CHECK_INT_EQ(test_http(ts, "GET", "/orgs/c/contacts", h, NULL, &r), -1);
	int64_t took = mono_ms() - t0;
	if (took < 300)
		fprintf(stderr, "dropped after %lld ms, not after the 300 ms delay\n", (long long)took);
	CHECK(took >= 300);
	test_server_stop(ts);
}

static void fault_drop(void)
{
	struct test_server *ts = start();
	add_fault(ts, "{\"path\":\"/orgs/c/contacts/ct_ada\",\"drop\":true}");
	const char *h[] = {AUTH_DEMO, CT_JSON, NULL};
	struct http_resp r;
	CHECK_INT_EQ(test_http(ts, "PATCH", "/orgs/c/contacts/ct_ada", h, "{\"name\":\"Z\"}", &r), -1);
	check_admin_name(ts, "org_demo", "ct_ada", "Ada Lovelace");
	r = test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":\"Y\"}");
	cJSON *c = json_of(&r, 200);
	CHECK_STR_EQ(str(c, "name"), "Y");
	cJSON_Delete(c);
	http_resp_cleanup(&r);
	/* The dropped request is journaled with status 0 and no answer. */
	cJSON *j = journal(ts, NULL);
	CHECK_INT_EQ(cJSON_GetArraySize(j), 2);
	const cJSON *e = cJSON_GetArrayItem(j, 1);
	CHECK_INT_EQ(num(e, "status"), 0);
	is_null(e, "response_body");
	CHECK_STR_EQ(str(e, "method"), "PATCH");
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void fault_after_commit_applies_change(void)
{
	struct test_server *ts = start();
	add_fault(ts, "{\"method\":\"PATCH\",\"path\":\"/orgs/*/contacts/*\",\"status\":500,"
		      "\"after_commit\":true}");
	struct http_resp r = test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":\"Z\"}");
	check_error(&r, 500, "Injected fault (500)");
	http_resp_cleanup(&r);
	check_admin_name(ts, "org_demo", "ct_ada", "Z");
	/* Journaled as answered, with the change it made. */
	cJSON *j = journal(ts, NULL);
	const cJSON *e = j->child;
	CHECK_INT_EQ(num(e, "status"), 500);
	CHECK_STR_EQ(str(field(e, "contact_before"), "name"), "Ada Lovelace");
	CHECK_STR_EQ(str(field(e, "contact_after"), "name"), "Z");
	cJSON_Delete(j);
	/* Once only. */
	r = test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":\"Z2\"}");
	CHECK_INT_EQ(r.status, 200);
	http_resp_cleanup(&r);
	/* A create too: 503 answered, the contact made. */
	add_fault(ts, "{\"method\":\"POST\",\"path\":\"/orgs/*/contacts\",\"status\":503,"
		      "\"after_commit\":true}");
	r = keyed(ts, "POST", "sk_test_demo", "/orgs/c/contacts", "{\"channel\":{\"user_id\":\"ac-1\"}}");
	check_exact(&r, 503, ENVELOPE_503);
	http_resp_cleanup(&r);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", "user_id=ac-1", NULL), 1);
	test_server_stop(ts);
}

static void fault_after_commit_spares_failing_request(void)
{
	struct test_server *ts = start();
	add_fault(ts, "{\"method\":\"PATCH\",\"path\":\"/orgs/*/contacts/*\",\"status\":500,"
		      "\"after_commit\":true,\"times\":0}");
	refused(ts, "PATCH", "sk_test_demo", "/orgs/c/contacts/ct_nope", "{\"name\":\"Z\"}", 404,
		"Contact not found");
	refused(ts, "PATCH", "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":5}", 400,
		"name must be a string or null");
	refused(ts, "PATCH", "sk_nope", "/orgs/c/contacts/ct_ada", "{\"name\":\"Z\"}", 401,
		"Invalid API key");
	check_admin_name(ts, "org_demo", "ct_ada", "Ada Lovelace");
	test_server_stop(ts);
}

static void fault_after_commit_spared_request_keeps_the_rule(void)
{
	/* after_commit applies only to a request that would have succeeded; one
	 * that fails on its own leaves the rule's use for the next good one. */
	struct test_server *ts = start();
	add_fault(ts, "{\"method\":\"PATCH\",\"path\":\"/orgs/*/contacts/*\",\"status\":500,"
		      "\"after_commit\":true}");
	refused(ts, "PATCH", "sk_test_demo", "/orgs/c/contacts/ct_nope", "{\"name\":\"Z\"}", 404,
		"Contact not found");
	cJSON *l = call_json(ts, "GET", NULL, "/__admin/faults", NULL, 200);
	CHECK_INT_EQ(num(l->child, "remaining"), 1);
	cJSON_Delete(l);
	struct http_resp r = test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":\"Z\"}");
	CHECK_INT_EQ(r.status, 500);
	http_resp_cleanup(&r);
	l = call_json(ts, "GET", NULL, "/__admin/faults", NULL, 200);
	CHECK_INT_EQ(num(l->child, "remaining"), 0);
	cJSON_Delete(l);
	r = test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":\"Y\"}");
	CHECK_INT_EQ(r.status, 200);
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void fault_before_auth(void)
{
	struct test_server *ts = start();
	add_fault(ts, "{\"path\":\"/orgs/*/contacts\",\"status\":503,\"times\":0}");
	struct http_resp r = keyed(ts, "GET", NULL, "/orgs/c/contacts", NULL);
	check_exact(&r, 503, ENVELOPE_503);
	http_resp_cleanup(&r);
	r = keyed(ts, "GET", "sk_nope", "/orgs/c/contacts", NULL);
	check_exact(&r, 503, ENVELOPE_503);
	http_resp_cleanup(&r);
	/* Before the body is looked at, too. */
	const char *h[] = {"Content-Type: text/plain", NULL};
	r = req(ts, "POST", "/orgs/org_demo/contacts", h, "not json");
	check_exact(&r, 503, ENVELOPE_503);
	http_resp_cleanup(&r);
	/* A path the rule does not match still asks for a key. */
	refused(ts, "PATCH", NULL, "/orgs/c/contacts/ct_ada", "{}", 401, "Missing Authorization header");
	test_server_stop(ts);
}

static void fault_org_id_matches_resolved_org(void)
{
	struct test_server *ts = start();
	add_fault(ts, "{\"path\":\"/orgs/*\",\"org_id\":\"org_demo\",\"status\":503,\"times\":0}");
	struct http_resp r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts", NULL);
	check_exact(&r, 503, ENVELOPE_503);
	http_resp_cleanup(&r);
	r = keyed(ts, "GET", "sk_test_demo", "/orgs/org_demo/contacts", NULL);
	check_exact(&r, 503, ENVELOPE_503);
	http_resp_cleanup(&r);
	/* The org in the path, whatever the key. */
	r = keyed(ts, "GET", NULL, "/orgs/org_demo/contacts", NULL);
	check_exact(&r, 503, ENVELOPE_503);
	http_resp_cleanup(&r);
	/* Other orgs, sub-orgs included, are not faulted. */
	CHECK_INT_EQ(list_count(ts, "sk_test_acme", NULL, NULL), 8);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo_eu", NULL, NULL), 6);
	expect_status(keyed(ts, "GET", "sk_test_demo", "/orgs/org_demo_eu/contacts", NULL), 200);
	/* "c" with no usable key acts on no org: no match, the usual 401. */
	refused(ts, "GET", NULL, "/orgs/c/contacts", NULL, 401, "Missing Authorization header");
	refused(ts, "GET", "sk_nope", "/orgs/c/contacts", NULL, 401, "Invalid API key");
	/* An isolated org is its own org. */
	char org[64], key[64];
	new_org(ts, "org_demo", org, key);
	CHECK_INT_EQ(list_count(ts, key, NULL, NULL), 52);
	test_server_stop(ts);
}

struct fault_arg {
	struct test_server *ts;
	int faulted;
	pthread_barrier_t *go;
};

static void *fault_thread(void *p)
{
	struct fault_arg *a = p;
	pthread_barrier_wait(a->go);
	for (int i = 0; i < 4; i++) {
		struct http_resp r = keyed(a->ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=1", NULL);
		CHECK(r.status == 200 || r.status == 503);
		a->faulted += r.status == 503;
		http_resp_cleanup(&r);
	}
	return NULL;
}

static void fault_times_exact_under_concurrency(void)
{
	struct test_server *ts = test_server_start(NULL, "--clock", CLOCK0, "--threads", "4", NULL);
	add_fault(ts, "{\"path\":\"/orgs/c/contacts\",\"status\":503,\"times\":25}");
	enum { N = 16 };
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, N);
	pthread_t t[N];
	struct fault_arg args[N];
	for (int i = 0; i < N; i++) {
		args[i] = (struct fault_arg){ts, 0, &go};
		CHECK(!pthread_create(&t[i], NULL, fault_thread, &args[i]));
	}
	int total = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		total += args[i].faulted;
	}
	pthread_barrier_destroy(&go);
	CHECK_INT_EQ(total, 25);
	check_journal_count(ts, "status=503", 25);
	check_journal_count(ts, "status=200", 4 * N - 25);
	test_server_stop(ts);
}

static void admin_wrong_method_405(void)
{
	struct test_server *ts = test_server_start(NULL, "--clock", CLOCK0, "--admin-token", "secret", NULL);
	struct http_resp r = admin(ts, "PUT", "/__admin/reset", NULL);
	check_error(&r, 405, "Method PUT is not allowed on /__admin/reset (allowed: POST)");
	CHECK_STR_EQ(http_resp_header(&r, "Allow"), "POST");
	http_resp_cleanup(&r);
	r = admin(ts, "POST", "/__admin/requests", NULL);
	check_error(&r, 405, "Method POST is not allowed on /__admin/requests (allowed: GET, HEAD, DELETE)");
	http_resp_cleanup(&r);
	refused(ts, "GET", NULL, "/__admin/nothing", NULL, 404, "Cannot GET /__admin/nothing");
	test_server_stop(ts);
}

static void fault_list_remaining_decreases(void)
{
	struct test_server *ts = start();
	add_fault(ts, "{\"path\":\"/orgs/c/contacts\",\"status\":503,\"times\":3}");
	add_fault(ts, "{\"path\":\"/nothing\",\"status\":500,\"times\":0}");
	for (int i = 3; i >= 0; i--) {
		char want[1024];
		snprintf(want, sizeof want,
			 "[{\"id\":1,\"method\":null,\"path\":\"/orgs/c/contacts\",\"org_id\":null,"
			 "\"times\":3,\"remaining\":%d,\"status\":503,\"body\":null,\"delay_ms\":0,"
			 "\"drop\":false,\"after_commit\":false},"
			 "{\"id\":2,\"method\":null,\"path\":\"/nothing\",\"org_id\":null,"
			 "\"times\":0,\"remaining\":null,\"status\":500,\"body\":null,\"delay_ms\":0,"
			 "\"drop\":false,\"after_commit\":false}]",
			 i);
		struct http_resp r = admin(ts, "GET", "/__admin/faults", NULL);
		check_exact(&r, 200, want);
		http_resp_cleanup(&r);
		r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts", NULL);
		CHECK_INT_EQ(r.status, i ? 503 : 200);
		http_resp_cleanup(&r);
	}
	test_server_stop(ts);
}

static void fault_remove_one(void)
{
	struct test_server *ts = start();
	add_fault(ts, "{\"path\":\"/orgs/c/contacts\",\"status\":503,\"times\":0}");
	add_fault(ts, "{\"path\":\"/orgs/c/contacts/*\",\"status\":500,\"times\":0}");
	struct http_resp r = admin(ts, "DELETE", "/__admin/faults/1", NULL);
	check_no_content(&r);
	http_resp_cleanup(&r);
	cJSON *l = call_json(ts, "GET", NULL, "/__admin/faults", NULL, 200);
	CHECK_INT_EQ(cJSON_GetArraySize(l), 1);
	CHECK_INT_EQ(num(l->child, "id"), 2);
	cJSON_Delete(l);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", NULL, NULL), 52);
	refused(ts, "PATCH", "sk_test_demo", "/orgs/c/contacts/ct_ada", "{}", 500, "Injected fault (500)");
	refused(ts, "DELETE", NULL, "/__admin/faults/1", NULL, 404, "Fault 1 not found");
	test_server_stop(ts);
}

static void fault_remove_unknown_not_found(void)
{
	struct test_server *ts = start();
	refused(ts, "DELETE", NULL, "/__admin/faults/99", NULL, 404, "Fault 99 not found");
	refused(ts, "DELETE", NULL, "/__admin/faults/abc", NULL, 404, "Fault abc not found");
	refused(ts, "DELETE", NULL, "/__admin/faults/0", NULL, 404, "Fault 0 not found");
	test_server_stop(ts);
}

static void fault_clear_all(void)
{
	struct test_server *ts = start();
	add_fault(ts, "{\"path\":\"/orgs/*\",\"status\":503,\"times\":0}");
	add_fault(ts, "{\"path\":\"/orgs/*\",\"drop\":true,\"times\":0}");
	struct http_resp r = admin(ts, "DELETE", "/__admin/faults", NULL);
	check_no_content(&r);
	http_resp_cleanup(&r);
	r = admin(ts, "GET", "/__admin/faults", NULL);
	check_exact(&r, 200, "[]");
	http_resp_cleanup(&r);
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", NULL, NULL), 52);
	test_server_stop(ts);
}

static void fault_spares_admin_and_openapi(void)
{
	struct test_server *ts = start();
	add_fault(ts, "{\"path\":\"*\",\"status\":503,\"times\":0}");
	expect_status(admin(ts, "GET", "/__admin/health", NULL), 200);
	expect_status(admin(ts, "GET", "/__admin/faults", NULL), 200);
	expect_status(admin(ts, "GET", "/openapi.json", NULL), 200);
	struct http_resp r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts", NULL);
	check_exact(&r, 503, ENVELOPE_503);
	http_resp_cleanup(&r);
	/* An unknown route is a 404 before any fault. */
	refused(ts, "GET", "sk_test_demo", "/orgs/c/nothing", NULL, 404, "Cannot GET /orgs/c/nothing");
	test_server_stop(ts);
}

static void fault_refused(const char *body, const char *message)
{
	struct test_server *ts = start();
	refused(ts, "POST", NULL, "/__admin/faults", body, 400, message);
	struct http_resp r = admin(ts, "GET", "/__admin/faults", NULL);
	check_exact(&r, 200, "[]");
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void fault_refuses_unknown_field(void)
{
	fault_refused("{\"path\":\"/orgs/*\",\"status\":503,\"foo\":1}", "property foo should not exist");
}

static void fault_refuses_bad_status(void)
{
	fault_refused("{\"path\":\"/orgs/*\",\"status\":200}", "status must be an integer from 400 to 599");
	fault_refused("{\"path\":\"/orgs/*\",\"status\":600}", "status must be an integer from 400 to 599");
	fault_refused("{\"path\":\"/orgs/*\",\"status\":\"503\"}", "status must be an integer from 400 to 599");
}

static void fault_refuses_negative_times(void)
{
	fault_refused("{\"path\":\"/orgs/*\",\"status\":503,\"times\":-1}",
		      "times must be a whole number, 0 or more (0: until removed)");
	fault_refused("{\"path\":\"/orgs/*\",\"status\":503,\"times\":1.5}",
		      "times must be a whole number, 0 or more (0: until removed)");
}

static void fault_refuses_missing_path(void)
{
	fault_refused("{\"status\":503}", "path must be a non-empty string");
	fault_refused("{\"path\":\"\",\"status\":503}", "path must be a non-empty string");
	fault_refused("{\"path\":null,\"status\":503}", "path must be a non-empty string");
}

static void fault_refuses_bad_delay(void)
{
	fault_refused("{\"path\":\"/orgs/*\",\"delay_ms\":-5}", "delay_ms must be a whole number from 0 to 600000");
	fault_refused("{\"path\":\"/orgs/*\",\"delay_ms\":600001}",
		      "delay_ms must be a whole number from 0 to 600000");
}

static void fault_refuses_nothing_to_do(void)
{
	fault_refused("{\"path\":\"/orgs/*\"}", "a fault needs status, delay_ms or drop");
	fault_refused("{\"path\":\"/orgs/*\",\"delay_ms\":0,\"drop\":false}",
		      "a fault needs status, delay_ms or drop");
}

static void fault_refuses_drop_with_status(void)
{
	fault_refused("{\"path\":\"/orgs/*\",\"drop\":true,\"status\":503}",
		      "drop cannot be combined with status or after_commit");
	fault_refused("{\"path\":\"/orgs/*\",\"drop\":true,\"status\":503,\"after_commit\":true}",
		      "drop cannot be combined with status or after_commit");
}

static void fault_refuses_other_bad_rules(void)
{
	fault_refused("{\"path\":\"/orgs/*\",\"body\":{}}", "status is required with body or after_commit");
	fault_refused("{\"path\":\"/orgs/*\",\"drop\":1}", "drop must be a boolean");
	fault_refused("{\"path\":\"/orgs/*\",\"status\":503,\"method\":5}", "method must be a non-empty string");
	fault_refused("[1]", "Body must be a JSON object");
	fault_refused(NULL, "Body must be a JSON object");
}

/* ------------------------------------------------------------------- clock */

static void clock_get(void)
{
	struct test_server *ts = start();
	struct http_resp r = admin(ts, "GET", "/__admin/clock", NULL);
	check_exact(&r, 200, "{\"now\":\"" CLOCK0_TEXT "\",\"frozen\":true}");
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void clock_flag_starts_frozen(void)
{
	struct test_server *ts = test_server_start(NULL, "--clock", "2030-06-15T08:30:00.250+02:00", NULL);
	cJSON *h = call_json(ts, "GET", NULL, "/__admin/health", NULL, 200);
	CHECK_STR_EQ(str(h, "clock"), "2030-06-15T06:30:00.250Z");
	CHECK(boolean(h, "clock_frozen"));
	cJSON_Delete(h);
	/* Frozen: it does not move by itself. */
	usleep(20000);
	struct http_resp r = admin(ts, "GET", "/__admin/clock", NULL);
	check_exact(&r, 200, "{\"now\":\"2030-06-15T06:30:00.250Z\",\"frozen\":true}");
	http_resp_cleanup(&r);
	cJSON *c = call_json(ts, "PATCH", "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"name\":\"T\"}", 200);
	CHECK_STR_EQ(str(c, "updated_at"), "2030-06-15T06:30:00.250Z");
	cJSON_Delete(c);
	test_server_stop(ts);
}

static void clock_freeze_sets_timestamps(void)
{
	struct test_server *ts = start();
	post_clock(ts, "{\"frozen_at\":\"2031-05-01T10:00:00Z\"}",
		   "{\"now\":\"2031-05-01T10:00:00.000Z\",\"frozen\":true}");
	cJSON *c = call_json(ts, "PATCH", "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"blocked\":true}", 200);
	CHECK_STR_EQ(str(c, "blocked_at"), "2031-05-01T10:00:00.000Z");
	CHECK_STR_EQ(str(c, "updated_at"), "2031-05-01T10:00:00.000Z");
	cJSON_Delete(c);
	cJSON *h = call_json(ts, "GET", NULL, "/__admin/health", NULL, 200);
	CHECK_STR_EQ(str(h, "clock"), "2031-05-01T10:00:00.000Z");
	cJSON_Delete(h);
	/* The clock can be set back, too. */
	post_clock(ts, "{\"frozen_at\":\"2020-01-01T00:00:00.5Z\"}",
		   "{\"now\":\"2020-01-01T00:00:00.500Z\",\"frozen\":true}");
	test_server_stop(ts);
}

static void clock_advance(void)
{
	struct test_server *ts = start();
	post_clock(ts, "{\"frozen_at\":\"2031-05-01T10:00:00Z\"}",
		   "{\"now\":\"2031-05-01T10:00:00.000Z\",\"frozen\":true}");
	post_clock(ts, "{\"advance_ms\":60000}", "{\"now\":\"2031-05-01T10:01:00.000Z\",\"frozen\":true}");
	cJSON *c = call_json(ts, "PATCH", "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"unsubscribed\":true}",
			     200);
	CHECK_STR_EQ(str(c, "unsubscribed_at"), "2031-05-01T10:01:00.000Z");
	CHECK_STR_EQ(str(c, "updated_at"), "2031-05-01T10:01:00.000Z");
	cJSON_Delete(c);
	post_clock(ts, "{\"advance_ms\":0}", "{\"now\":\"2031-05-01T10:01:00.000Z\",\"frozen\":true}");
	post_clock(ts, "{\"advance_ms\":86400001}", "{\"now\":\"2031-05-02T10:01:00.001Z\",\"frozen\":true}");
	test_server_stop(ts);
}

static void clock_real_unfreezes(void)
{
	struct test_server *ts = start();
	cJSON *j = call_json(ts, "POST", NULL, "/__admin/clock", "{\"mode\":\"real\"}", 200);
	static const char *const keys[] = {"now", "frozen", NULL};
	check_keys(j, keys);
	CHECK(!boolean(j, "frozen"));
	CHECK(llabs((long long)(parse_utc(str(j, "now")) - time(NULL))) <= 5);
	cJSON_Delete(j);
	/* Advancing a running clock moves it ahead of real time. */
	j = call_json(ts, "POST", NULL, "/__admin/clock", "{\"advance_ms\":3600000}", 200);
	CHECK(!boolean(j, "frozen"));
	CHECK(llabs((long long)(parse_utc(str(j, "now")) - time(NULL) - 3600)) <= 5);
	cJSON_Delete(j);
	/* And real mode drops the offset. */
	j = call_json(ts, "POST", NULL, "/__admin/clock", "{\"mode\":\"real\"}", 200);
	CHECK(llabs((long long)(parse_utc(str(j, "now")) - time(NULL))) <= 5);
	cJSON_Delete(j);
	j = call_json(ts, "GET", NULL, "/__admin/health", NULL, 200);
	CHECK(!boolean(j, "clock_frozen"));
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void clock_refused(const char *body, const char *message)
{
	struct test_server *ts = start();
	refused(ts, "POST", NULL, "/__admin/clock", body, 400, message);
	struct http_resp r = admin(ts, "GET", "/__admin/clock", NULL);
	check_exact(&r, 200, "{\"now\":\"" CLOCK0_TEXT "\",\"frozen\":true}");
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void clock_refuses_negative_advance(void)
{
	clock_refused("{\"advance_ms\":-1}", "advance_ms must be a whole number, 0 or more");
	clock_refused("{\"advance_ms\":1.5}", "advance_ms must be a whole number, 0 or more");
	clock_refused("{\"advance_ms\":\"10\"}", "advance_ms must be a whole number, 0 or more");
}

static void clock_refuses_bad_date(void)
{
	clock_refused("{\"frozen_at\":\"yesterday\"}", "frozen_at must be an RFC 3339 date-time");
	clock_refused("{\"frozen_at\":\"2031-13-01T00:00:00Z\"}", "frozen_at must be an RFC 3339 date-time");
	clock_refused("{\"frozen_at\":\"2031-05-01T10:00:00\"}", "frozen_at must be an RFC 3339 date-time");
	clock_refused("{\"frozen_at\":5}", "frozen_at must be an RFC 3339 date-time");
}

static void clock_refuses_two_fields(void)
{
	clock_refused("{\"frozen_at\":\"2031-05-01T10:00:00Z\",\"advance_ms\":1}",
		      "Give exactly one of frozen_at, advance_ms, mode");
	clock_refused("{\"advance_ms\":1,\"mode\":\"real\"}", "Give exactly one of frozen_at, advance_ms, mode");
	clock_refused("{}", "Give exactly one of frozen_at, advance_ms, mode");
	clock_refused(NULL, "Give exactly one of frozen_at, advance_ms, mode");
}

static void clock_refuses_bad_mode(void)
{
	clock_refused("{\"mode\":\"fake\"}", "mode must be \"real\"");
	clock_refused("{\"mode\":\"frozen\"}", "mode must be \"real\"");
	clock_refused("{\"foo\":1}", "property foo should not exist");
}

/* ------------------------------------------------------------- determinism */

struct transcript {
	char *lines[64];
	size_t n;
};

static void record(struct transcript *t, struct http_resp r, const char *what)
{
	CHECK(t->n < sizeof t->lines / sizeof t->lines[0]);
	/* Headers too: with the clock frozen even Date is the emulator's. */
	size_t len = strlen(what) + r.len + strlen(r.headers) + 32;
	t->lines[t->n] = malloc(len);
	snprintf(t->lines[t->n++], len, "%s -> %ld %s\n%s", what, r.status, r.body, r.headers);
	http_resp_cleanup(&r);
}

/* The id field of the last recorded answer, into out. */
static void last_field(const struct transcript *t, const char *key, char out[64])
{
	const char *json = strchr(strstr(t->lines[t->n - 1], " -> ") + 4, ' ') + 1;
	cJSON *j = cJSON_Parse(json);
	CHECK(j);
	snprintf(out, 64, "%s", str(j, key));
	cJSON_Delete(j);
}

static void run_script(const struct test_server *ts, struct transcript *t)
{
	char id1[64], id2[64], org[64], key[64], path[256];
	record(t, keyed(ts, "POST", "sk_test_demo", "/orgs/c/contacts",
			"{\"channel\":{\"user_id\":\"u-1\",\"name\":\"One\",\"email\":\"one@example.com\"}}"),
	       "create 1");
	last_field(t, "id", id1);
	record(t, keyed(ts, "POST", "sk_test_demo", "/orgs/c/contacts",
			"{\"channel\":{\"phone\":\"+15550199\"},\"segment_ids\":[\"seg_vip\"]}"),
	       "create 2");
	last_field(t, "id", id2);
	char body[256];
	snprintf(body, sizeof body, "{\"channel\":{\"email\":\"two@example.com\",\"contact_id\":\"%s\"}}", id2);
	record(t, keyed(ts, "POST", "sk_test_demo", "/orgs/c/contacts", body), "add channel");
	snprintf(path, sizeof path, "/orgs/c/contacts/%s/segments/seg_beta", id1);
	record(t, keyed(ts, "POST", "sk_test_demo", path, NULL), "add segment");
	snprintf(path, sizeof path, "/orgs/c/contacts/%s", id1);
	record(t, test_patch(ts, "sk_test_demo", path, "{\"name\":\"Renamed\",\"blocked\":true}"), "patch");
	record(t, test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"unsubscribed\":true}"),
	       "patch ada");
	record(t, keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=5", NULL), "list");
	record(t, keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?status=BLOCKED", NULL), "list blocked");
	snprintf(path, sizeof path, "/orgs/c/contacts/%s/segments", id1);
	record(t, keyed(ts, "GET", "sk_test_demo", path, NULL), "segments");
	record(t, admin(ts, "POST", "/__admin/orgs", "{\"from\":\"org_demo\"}"), "isolated org");
	last_field(t, "org_id", org);
	last_field(t, "api_key", key);
	record(t, keyed(ts, "POST", key, "/orgs/c/contacts", "{\"channel\":{\"user_id\":\"iso\"}}"),
	       "create in isolated");
	record(t, test_patch(ts, key, "/orgs/c/contacts/ct_ada", "{\"blocked\":true}"), "patch in isolated");
	record(t, keyed(ts, "GET", key, "/orgs/c/contacts?take=3", NULL), "list isolated");
	snprintf(path, sizeof path, "/__admin/orgs/%s/contacts/ct_ada", org);
	record(t, admin(ts, "GET", path, NULL), "admin read");
	record(t, admin(ts, "POST", "/__admin/faults", "{\"path\":\"/orgs/*\",\"status\":503}"), "fault");
	record(t, keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts", NULL), "faulted");
	record(t, admin(ts, "GET", "/__admin/requests/count", NULL), "count");
	record(t, admin(ts, "GET", "/__admin/clock", NULL), "clock");
}

static void seeded_servers_answer_identically(void)
{
	struct transcript a = {0}, b = {0}, c = {0};
	struct test_server *ts = test_server_start(NULL, "--clock", CLOCK0, "--seed", "42", NULL);
	run_script(ts, &a);
	test_server_stop(ts);
	ts = test_server_start(NULL, "--clock", CLOCK0, "--seed", "42", NULL);
	run_script(ts, &b);
	test_server_stop(ts);
	CHECK_INT_EQ(a.n, b.n);
	for (size_t i = 0; i < a.n; i++)
		CHECK_STR_EQ(b.lines[i], a.lines[i]);
	/* The script did what it says. */
	CHECK(strstr(a.lines[0], "create 1 -> 201 {\"id\":\"ct_"));
	CHECK(strstr(a.lines[0], "\"created_at\":\"" CLOCK0_TEXT "\""));
	CHECK(strstr(a.lines[4], "patch -> 200 "));
	CHECK(strstr(a.lines[9], "isolated org -> 201 {\"org_id\":\"org_"));
	CHECK(strstr(a.lines[15], "faulted -> 503 "));
	/* Another seed gives other ids. */
	ts = test_server_start(NULL, "--clock", CLOCK0, "--seed", "43", NULL);
	run_script(ts, &c);
	test_server_stop(ts);
	CHECK(strcmp(c.lines[0], a.lines[0]));
	CHECK(strcmp(c.lines[9], a.lines[9]));
	for (size_t i = 0; i < a.n; i++) {
		free(a.lines[i]);
		free(b.lines[i]);
	}
	for (size_t i = 0; i < c.n; i++)
		free(c.lines[i]);
}

/* -------------------------------------------------------------- rate limit */

static struct test_server *start_limited(void)
{
	return test_server_start(NULL, "--clock", "2030-01-01T00:00:15.500Z", "--rate-limit",
				 "--rate-limit-per-minute", "5", NULL);
}

static void check_429(const struct http_resp *r, int retry)
{
	char msg[128], v[16];
	snprintf(msg, sizeof msg, "Rate limit exceeded: at most 5 requests per minute; retry in %d s", retry);
	snprintf(v, sizeof v, "%d", retry);
	check_error(r, 429, msg);
	CHECK_STR_EQ(http_resp_header(r, "Retry-After"), v);
}

static void rate_limit_429_after_limit(void)
{
	struct test_server *ts = start_limited();
	for (int i = 0; i < 5; i++) {
		struct http_resp r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=1", NULL);
		CHECK_INT_EQ(r.status, 200);
		CHECK_NULL(http_resp_header(&r, "Retry-After"));
		http_resp_cleanup(&r);
	}
	/* 00:00:15.500: 44.5 s to the next minute, rounded up. */
	struct http_resp r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=1", NULL);
	check_429(&r, 45);
	http_resp_cleanup(&r);
	/* Every method and org from this client. */
	r = test_patch(ts, "sk_test_acme", "/orgs/c/contacts/ct_acme_wile", "{\"name\":\"X\"}");
	check_429(&r, 45);
	http_resp_cleanup(&r);
	check_admin_name(ts, "org_acme", "ct_acme_wile", "Wile E. Coyote");
	post_clock(ts, "{\"advance_ms\":14500}", "{\"now\":\"2030-01-01T00:00:30.000Z\",\"frozen\":true}");
	r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=1", NULL);
	check_429(&r, 30);
	http_resp_cleanup(&r);
	/* Refused requests are journaled with their 429. */
	check_journal_count(ts, "status=429", 3);
	test_server_stop(ts);
}

/* Requests refused for their key count too (Invent limits per IP): five 401s
 * use up the minute, and the next request with a good key is a 429. A bad key
 * is still answered 401 past the limit (the key is checked first). */
static void rate_limit_counts_bad_keys(void)
{
	struct test_server *ts = start_limited();
	const char *h[] = {"Authorization: Bearer k x", NULL};
	for (int i = 0; i < 4; i++)
		expect_status(keyed(ts, "GET", "sk_nope", "/orgs/c/contacts?take=1", NULL), 401);
	expect_status(req(ts, "GET", "/orgs/c/contacts?take=1", h, NULL), 401);
	struct http_resp r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=1", NULL);
	check_429(&r, 45);
	http_resp_cleanup(&r);
	expect_status(keyed(ts, "GET", "sk_nope", "/orgs/c/contacts?take=1", NULL), 401);
	test_server_stop(ts);
}

static void rate_limit_spares_admin_and_openapi(void)
{
	struct test_server *ts = start_limited();
	for (int i = 0; i < 5; i++)
		expect_status(keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=1", NULL), 200);
	for (int i = 0; i < 10; i++) {
		expect_status(admin(ts, "GET", "/__admin/health", NULL), 200);
		expect_status(admin(ts, "GET", "/openapi.json", NULL), 200);
		expect_status(admin(ts, "GET", "/__admin/orgs/org_demo/contacts/ct_ada", NULL), 200);
	}
	struct http_resp r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=1", NULL);
	check_429(&r, 45);
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void rate_limit_refills_next_minute(void)
{
	struct test_server *ts = start_limited();
	for (int i = 0; i < 5; i++)
		expect_status(keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=1", NULL), 200);
	struct http_resp r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=1", NULL);
	check_429(&r, 45);
	http_resp_cleanup(&r);
	post_clock(ts, "{\"advance_ms\":60000}", "{\"now\":\"2030-01-01T00:01:15.500Z\",\"frozen\":true}");
	for (int i = 0; i < 5; i++)
		expect_status(keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=1", NULL), 200);
	r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=1", NULL);
	check_429(&r, 45);
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void rate_limit_faulted_request_not_counted(void)
{
	struct test_server *ts = start_limited();
	add_fault(ts, "{\"path\":\"/orgs/c/contacts\",\"status\":503,\"times\":3}");
	add_fault(ts, "{\"path\":\"/orgs/c/contacts/ct_ada\",\"delay_ms\":1,\"times\":2}");
	for (int i = 0; i < 3; i++) {
		struct http_resp r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts", NULL);
		check_exact(&r, 503, ENVELOPE_503);
		http_resp_cleanup(&r);
	}
	/* Delayed, answered normally, still the test's doing. */
	for (int i = 0; i < 2; i++)
		expect_status(test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{}"), 200);
	for (int i = 0; i < 5; i++)
		expect_status(keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=1", NULL), 200);
	struct http_resp r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=1", NULL);
	check_429(&r, 45);
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void rate_limit_off_by_default(void)
{
	struct test_server *ts = start();
	for (int i = 0; i < 510; i++) {
		struct http_resp r = keyed(ts, "GET", "sk_test_demo", "/orgs/c/contacts?take=1", NULL);
		if (r.status != 200)
			fprintf(stderr, "request %d: %ld %s\n", i + 1, r.status, r.body);
		CHECK_INT_EQ(r.status, 200);
		http_resp_cleanup(&r);
	}
	test_server_stop(ts);
}

/* ------------------------------------------------------------- admin token */

static struct test_server *start_token(void)
{
	return test_server_start(NULL, "--clock", CLOCK0, "--admin-token", "secret", NULL);
}

static void token_missing_401(void)
{
	struct test_server *ts = start_token();
	const char *paths[][2] = {{"GET", "/__admin/health"},   {"POST", "/__admin/reset"},
				  {"GET", "/__admin/requests"}, {"GET", "/__admin/faults"},
				  {"GET", "/__admin/clock"},	{"DELETE", "/__admin/orgs/org_x"},
				  {"GET", "/__admin/orgs/org_demo/contacts/ct_ada"}};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		refused(ts, paths[i][0], NULL, paths[i][1], NULL, 401, "Missing Authorization header");
	test_server_stop(ts);
}

static void token_invent_key_401(void)
{
	struct test_server *ts = start_token();
	refused(ts, "GET", "sk_test_demo", "/__admin/health", NULL, 401, "Invalid admin token");
	refused(ts, "POST", "sk_test_demo", "/__admin/faults", "{\"path\":\"*\",\"status\":503}", 401,
		"Invalid admin token");
	refused(ts, "GET", "secretx", "/__admin/health", NULL, 401, "Invalid admin token");
	const char *h[] = {"Authorization: Basic secret", NULL};
	struct http_resp r = req(ts, "GET", "/__admin/health", h, NULL);
	check_error(&r, 401, "Authorization must be \"Bearer <admin token>\"");
	http_resp_cleanup(&r);
	/* Nothing was added. */
	r = keyed(ts, "GET", "secret", "/__admin/faults", NULL);
	check_exact(&r, 200, "[]");
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void token_right_200(void)
{
	struct test_server *ts = start_token();
	cJSON *h = call_json(ts, "GET", "secret", "/__admin/health", NULL, 200);
	CHECK_STR_EQ(str(h, "status"), "ok");
	cJSON_Delete(h);
	const char *hs[] = {"Authorization: bearer   secret", NULL};
	struct http_resp r = req(ts, "GET", "/__admin/clock", hs, NULL);
	check_exact(&r, 200, "{\"now\":\"" CLOCK0_TEXT "\",\"frozen\":true}");
	http_resp_cleanup(&r);
	char *c = NULL;
	r = keyed(ts, "GET", "secret", "/__admin/orgs/org_demo/contacts/ct_ada", NULL);
	CHECK_INT_EQ(r.status, 200);
	c = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	CHECK_STR_EQ(r.body, c);
	free(c);
	http_resp_cleanup(&r);
	r = keyed(ts, "POST", "secret", "/__admin/reset", NULL);
	CHECK_INT_EQ(r.status, 200);
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void token_orgs_unaffected(void)
{
	struct test_server *ts = start_token();
	CHECK_INT_EQ(list_count(ts, "sk_test_demo", NULL, NULL), 52);
	refused(ts, "GET", "secret", "/orgs/c/contacts", NULL, 401, "Invalid API key");
	refused(ts, "GET", NULL, "/orgs/c/contacts", NULL, 401, "Missing Authorization header");
	/* The published contract needs no token either. */
	expect_status(admin(ts, "GET", "/openapi.json", NULL), 200);
	test_server_stop(ts);
}

/* ------------------------------------------------------------ admin contact */

static void contact_without_key(void)
{
	struct test_server *ts = start();
	char *via_api = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	char *via_admin = admin_contact(ts, "org_demo", "ct_ada");
	CHECK_STR_EQ(via_admin, via_api);
	cJSON *c = cJSON_Parse(via_admin);
	CHECK_STR_EQ(str(c, "id"), "ct_ada");
	CHECK_STR_EQ(str(c, "name"), "Ada Lovelace");
	cJSON_Delete(c);
	/* Any org, sub-orgs too. */
	check_admin_name(ts, "org_acme", "ct_acme_wile", "Wile E. Coyote");
	check_admin_name(ts, "org_demo_eu", "ct_eu_jonas", "Jonas Becker");
	free(via_api);
	free(via_admin);
	test_server_stop(ts);
}

static void contact_unknown_not_found(void)
{
	struct test_server *ts = start();
	refused(ts, "GET", NULL, "/__admin/orgs/org_demo/contacts/ct_nope", NULL, 404, "Contact not found");
	/* A contact of another org, and an org that does not exist. */
	refused(ts, "GET", NULL, "/__admin/orgs/org_demo/contacts/ct_acme_wile", NULL, 404,
		"Contact not found");
	refused(ts, "GET", NULL, "/__admin/orgs/org_demo/contacts/ct_eu_jonas", NULL, 404,
		"Contact not found");
	refused(ts, "GET", NULL, "/__admin/orgs/org_nope/contacts/ct_ada", NULL, 404, "Contact not found");
	refused(ts, "GET", NULL, "/__admin/orgs/c/contacts/ct_ada", NULL, 404, "Contact not found");
	test_server_stop(ts);
}

/* ----------------------------------------------------------------- openapi */

static void openapi_served_without_key(void)
{
	struct test_server *ts = start();
	cJSON *j = call_json(ts, "GET", NULL, "/openapi.json", NULL, 200);
	CHECK_STR_EQ(str(j, "openapi"), "3.1.0");
	CHECK(cJSON_IsObject(field(j, "paths")));
	CHECK(cJSON_IsObject(field(field(j, "paths"), "/orgs/{org_id}/contacts/{contact_id}")));
	cJSON_Delete(j);
	/* Not journaled. */
	check_journal_count(ts, NULL, 0);
	test_server_stop(ts);
}

/* ------------------------------------------------------------------- cases */

static const struct test_case cases[] = {
	TEST_CASE("admin@clearing-faults-ends-their-delays", clearing_faults_ends_delays),
	/* health */
	TEST_CASE("admin@health-reports-state", health_reports_state),
	TEST_CASE("admin@health-real-clock-without-flag", health_real_clock_without_flag),
	TEST_CASE("admin@health-counts-isolated-orgs", health_counts_isolated_orgs),
	TEST_CASE("admin@orgs-lists-fixture-then-isolated", orgs_lists_fixture_then_isolated),
	TEST_CASE("admin@orgs-needs-admin-token", orgs_needs_admin_token),
	/* reset */
	TEST_CASE("admin@reset-restores-fixture-state", reset_restores_fixture_state),
	TEST_CASE("admin@reset-with-empty-object", reset_with_empty_object),
	TEST_CASE("admin@reset-everything-restores-start-state", reset_everything_restores_start_state),
	TEST_CASE("admin@reset-one-org-keeps-others", reset_one_org_keeps_others),
	TEST_CASE("admin@reset-unknown-org-400", reset_unknown_org_400),
	TEST_CASE("admin@reset-refuses-unknown-field", reset_refuses_unknown_field),
	TEST_CASE("admin@reset-refuses-non-string-org-id", reset_refuses_non_string_org_id),
	/* isolated orgs */
	TEST_CASE("admin@org-create-answers-ids", org_create_answers_ids),
	TEST_CASE("admin@org-create-key-lists-52-contacts", org_create_key_lists_52_contacts),
	TEST_CASE("admin@org-create-from-sub-org", org_create_from_sub_org),
	TEST_CASE("admin@org-create-is-isolated-both-ways", org_create_is_isolated_both_ways),
	TEST_CASE("admin@org-create-copies-fixture-not-current-state",
		  org_create_copies_fixture_not_current_state),
	TEST_CASE("admin@org-create-refuses-unknown-source", org_create_refuses_unknown_source),
	TEST_CASE("admin@org-create-refuses-missing-from", org_create_refuses_missing_from),
	TEST_CASE("admin@org-delete-then-key-401", org_delete_then_key_401),
	TEST_CASE("admin@org-delete-refuses-fixture-org", org_delete_refuses_fixture_org),
	TEST_CASE("admin@org-delete-unknown-not-found", org_delete_unknown_not_found),
	TEST_CASE("admin@org-isolation-16-threads", org_isolation_16_threads),
	/* journal */
	TEST_CASE("admin@journal-records-orgs-requests-only", journal_records_orgs_requests_only),
	TEST_CASE("admin@journal-entry-fields", journal_entry_fields),
	TEST_CASE("admin@journal-redacts-authorization", journal_redacts_authorization),
	TEST_CASE("admin@journal-patch-bodies-and-contacts", journal_patch_bodies_and_contacts),
	TEST_CASE("admin@journal-read-is-streamed", journal_read_is_streamed),
	TEST_CASE("admin@journal-answer-is-utf8-whatever-the-request",
		  journal_answer_is_utf8_whatever_the_request),
	TEST_CASE("admin@journal-keeps-body-of-refused-request", journal_keeps_body_of_refused_request),
	TEST_CASE("admin@journal-newest-first", journal_newest_first),
	TEST_CASE("admin@journal-filter-method", journal_filter_method),
	TEST_CASE("admin@journal-filter-method-any-case", journal_filter_method_any_case),
	TEST_CASE("admin@journal-filter-path", journal_filter_path),
	TEST_CASE("admin@journal-filter-status", journal_filter_status),
	TEST_CASE("admin@journal-filter-org-id", journal_filter_org_id),
	TEST_CASE("admin@journal-filter-since", journal_filter_since),
	TEST_CASE("admin@journal-filter-limit", journal_filter_limit),
	TEST_CASE("admin@journal-clear", journal_clear),
	TEST_CASE("admin@journal-size-keeps-newest", journal_size_keeps_newest),
	TEST_CASE("admin@journal-refuses-bad-filters", journal_refuses_bad_filters),
	/* faults */
	TEST_CASE("admin@fault-add-answers-rule", fault_add_answers_rule),
	TEST_CASE("admin@fault-scripted-sequence", fault_scripted_sequence),
	TEST_CASE("admin@fault-times-0-until-removed", fault_times_0_until_removed),
	TEST_CASE("admin@fault-first-matching-rule-wins", fault_first_matching_rule_wins),
	TEST_CASE("admin@fault-custom-body", fault_custom_body),
	TEST_CASE("admin@fault-status-line-matches-envelope", fault_status_line_matches_envelope),
	TEST_CASE("admin@fault-delay", fault_delay),
	TEST_CASE("admin@fault-delay-on-patch-applies-body", fault_delay_on_patch_applies_body),
	TEST_CASE("admin@fault-drop", fault_drop),
	TEST_CASE("admin@fault-drop-with-delay-waits-first", fault_drop_with_delay_waits_first),
	TEST_CASE("admin@fault-after-commit-applies-change", fault_after_commit_applies_change),
	TEST_CASE("admin@fault-after-commit-spares-failing-request",
		  fault_after_commit_spares_failing_request),
	TEST_CASE("admin@fault-after-commit-spared-request-keeps-the-rule",
		  fault_after_commit_spared_request_keeps_the_rule),
	TEST_CASE("admin@fault-before-auth", fault_before_auth),
	TEST_CASE("admin@fault-org-id-matches-resolved-org", fault_org_id_matches_resolved_org),
	TEST_CASE("admin@fault-times-exact-under-concurrency", fault_times_exact_under_concurrency),
	TEST_CASE("admin@fault-list-remaining-decreases", fault_list_remaining_decreases),
	TEST_CASE("admin@fault-remove-one", fault_remove_one),
	TEST_CASE("admin@fault-remove-unknown-not-found", fault_remove_unknown_not_found),
	TEST_CASE("admin@fault-clear-all", fault_clear_all),
	TEST_CASE("admin@fault-spares-admin-and-openapi", fault_spares_admin_and_openapi),
	TEST_CASE("admin@fault-refuses-unknown-field", fault_refuses_unknown_field),
	TEST_CASE("admin@fault-refuses-bad-status", fault_refuses_bad_status),
	TEST_CASE("admin@fault-refuses-negative-times", fault_refuses_negative_times),
	TEST_CASE("admin@fault-refuses-missing-path", fault_refuses_missing_path),
	TEST_CASE("admin@fault-refuses-bad-delay", fault_refuses_bad_delay),
	TEST_CASE("admin@fault-refuses-nothing-to-do", fault_refuses_nothing_to_do),
	TEST_CASE("admin@fault-refuses-drop-with-status", fault_refuses_drop_with_status),
	TEST_CASE("admin@fault-refuses-other-bad-rules", fault_refuses_other_bad_rules),
	/* clock */
	TEST_CASE("admin@clock-get", clock_get),
	TEST_CASE("admin@clock-flag-starts-frozen", clock_flag_starts_frozen),
	TEST_CASE("admin@clock-freeze-sets-timestamps", clock_freeze_sets_timestamps),
	TEST_CASE("admin@clock-advance", clock_advance),
	TEST_CASE("admin@clock-real-unfreezes", clock_real_unfreezes),
	TEST_CASE("admin@clock-refuses-negative-advance", clock_refuses_negative_advance),
	TEST_CASE("admin@clock-refuses-bad-date", clock_refuses_bad_date),
	TEST_CASE("admin@clock-refuses-two-fields", clock_refuses_two_fields),
	TEST_CASE("admin@clock-refuses-bad-mode", clock_refuses_bad_mode),
	/* determinism */
	TEST_CASE("admin@seeded-servers-answer-identically", seeded_servers_answer_identically),
	/* rate limit */
	TEST_CASE("admin@rate-limit-429-after-limit", rate_limit_429_after_limit),
	TEST_CASE("admin@rate-limit-counts-bad-keys", rate_limit_counts_bad_keys),
	TEST_CASE("admin@rate-limit-spares-admin-and-openapi", rate_limit_spares_admin_and_openapi),
	TEST_CASE("admin@rate-limit-refills-next-minute", rate_limit_refills_next_minute),
	TEST_CASE("admin@rate-limit-faulted-request-not-counted", rate_limit_faulted_request_not_counted),
	TEST_CASE("admin@rate-limit-off-by-default", rate_limit_off_by_default),
	/* admin token */
	TEST_CASE("admin@token-missing-401", token_missing_401),
	TEST_CASE("admin@token-invent-key-401", token_invent_key_401),
	TEST_CASE("admin@token-right-200", token_right_200),
	TEST_CASE("admin@token-orgs-unaffected", token_orgs_unaffected),
	/* admin contact */
	TEST_CASE("admin@contact-without-key", contact_without_key),
	TEST_CASE("admin@contact-unknown-not-found", contact_unknown_not_found),
	TEST_CASE("admin@admin-wrong-method-405", admin_wrong_method_405),
	/* openapi */
	TEST_CASE("admin@openapi-served-without-key", openapi_served_without_key),
};

TEST_MAIN(cases)
