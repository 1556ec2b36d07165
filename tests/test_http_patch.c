/* HTTP tests of PATCH /orgs/{org_id}/contacts/{contact_id}: the real server in
 * this process on port 0, driven with libcurl. Each case asserts the exact
 * status, the whole body and the Content-Type; a refused request also leaves the
 * stored contact byte for byte as it was. */
#include "http_util.h"

#include <curl/curl.h>
#include "testlib.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AUTH_DEMO "Authorization: Bearer sk_test_demo"
#define CT_JSON "Content-Type: application/json"
#define ADA_PATH "/orgs/c/contacts/ct_ada"

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
	CHECK_INT_EQ(r->status, status);
	CHECK_STR_EQ(r->body, want);
	CHECK_STR_EQ(http_resp_header(r, "Content-Type"), "application/json");
	/* The status line carries the envelope's phrase, not libmicrohttpd's own. */
	char line[128];
	snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
	CHECK(!strncmp(r->headers, line, strlen(line)));
}

/* The contact a refused request must leave alone, read with this key and org. */
struct watch {
	const char *key, *org, *id;
};
static const struct watch ADA = {"sk_test_demo", "c", "ct_ada"};

/* Sends the request, checks it is refused with status and message, and that the
 * watched contact did not change. */
static void refused(const struct test_server *ts, const struct watch *w, const char *method,
		    const char *path, const char *const *headers, const char *body, int status,
		    const char *message)
{
	char *before = test_stored_contact(ts, w->key, w->org, w->id);
	struct http_resp r = req(ts, method, path, headers, body);
	check_error(&r, status, message);
	http_resp_cleanup(&r);
	char *after = test_stored_contact(ts, w->key, w->org, w->id);
	CHECK_STR_EQ(after, before);
	free(before);
	free(after);
}

/* PATCH ct_ada as org_demo with a JSON body that must be refused with a 400. */
static void refused_400(const struct test_server *ts, const char *body, const char *message)
{
	const char *h[] = {AUTH_DEMO, CT_JSON, NULL};
	refused(ts, &ADA, "PATCH", ADA_PATH, h, body, 400, message);
}

/* A fresh server on the demo data, refusing body on ct_ada with message. */
static void one_400(const char *body, const char *message)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	refused_400(ts, body, message);
	test_server_stop(ts);
}

/* Checks a 200 answer with a JSON contact and returns it parsed (cJSON_Delete). */
static cJSON *ok_json(struct http_resp *r)
{
	if (r->status != 200)
		fprintf(stderr, "status %ld: %s\n", r->status, r->body);
	CHECK_INT_EQ(r->status, 200);
	CHECK_STR_EQ(http_resp_header(r, "Content-Type"), "application/json");
	cJSON *j = cJSON_Parse(r->body);
	CHECK(cJSON_IsObject(j));
	return j;
}

/* PATCH path with the demo key and a JSON body; must answer 200. */
static cJSON *patch_ok(const struct test_server *ts, const char *path, const char *body)
{
	struct http_resp r = test_patch(ts, "sk_test_demo", path, body);
	cJSON *j = ok_json(&r);
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

/* A date-time as the contract writes it (2024-05-01T09:30:00.000Z) to Unix ms;
 * fails the test on any other shape. */
static int64_t parse_time(const char *s)
{
	int y, mo, d, h, mi, sec, ms, n = 0;
	CHECK(s != NULL);
	CHECK_INT_EQ(strlen(s), 24);
	CHECK(sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y, &mo, &d, &h, &mi, &sec, &ms, &n) == 7);
	CHECK_INT_EQ(n, 24);
	/* days_from_civil (H. Hinnant), written out so the test does not lean on the server's. */
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

/* s repeated n times, as a JSON body {"name":"<s...>"}. */
static char *name_body(const char *s, size_t n)
{
	size_t len = strlen(s);
	char *b = malloc(n * len + 16);
	CHECK(b);
	strcpy(b, "{\"name\":\"");
	char *p = b + strlen(b);
	for (size_t i = 0; i < n; i++, p += len)
		memcpy(p, s, len);
	strcpy(p, "\"}");
	return b;
}

/* ------------------------------------------------------ A. semantics */

static void blocks_contact(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	struct http_resp r = test_patch(ts, "sk_test_demo", ADA_PATH, "{\"blocked\":true}");
	CHECK_INT_EQ(r.status, 200);
	CHECK(strstr(r.body, "\"blocked\":true"));
	CHECK_STR_EQ(http_resp_header(&r, "Content-Type"), "application/json");
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void block_sets_blocked_at_to_updated_at(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	int64_t t0 = now_ms();
	cJSON *j = patch_ok(ts, ADA_PATH, "{\"blocked\":true}");
	CHECK(boolean(j, "blocked"));
	const char *at = str_or_null(j, "blocked_at");
	CHECK_STR_EQ(at, str_or_null(j, "updated_at"));
	check_written_now(at, t0);
	cJSON_Delete(j);
	/* And it is what is stored. */
	char *stored = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	j = cJSON_Parse(stored);
	CHECK(boolean(j, "blocked"));
	CHECK_STR_EQ(str_or_null(j, "blocked_at"), str_or_null(j, "updated_at"));
	cJSON_Delete(j);
	free(stored);
	test_server_stop(ts);
}

/* ct_spammy: blocked since 2024-09-19T15:32:35.330Z, updated 2024-12-21T05:34:56.578Z. */
static void reblock_keeps_blocked_at(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	char *before = test_stored_contact(ts, "sk_test_demo", "c", "ct_spammy");
	struct http_resp r =
		test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_spammy", "{\"blocked\":true}");
	cJSON *j = ok_json(&r);
	CHECK_STR_EQ(r.body, before);
	CHECK(boolean(j, "blocked"));
	CHECK_STR_EQ(str_or_null(j, "blocked_at"), "2024-09-19T15:32:35.330Z");
	CHECK_STR_EQ(str_or_null(j, "updated_at"), "2024-12-21T05:34:56.578Z");
	cJSON_Delete(j);
	http_resp_cleanup(&r);
	free(before);
	test_server_stop(ts);
}

static void unblock_clears_blocked_at(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	int64_t t0 = now_ms();
	cJSON *j = patch_ok(ts, "/orgs/c/contacts/ct_spammy", "{\"blocked\":false}");
	CHECK(!boolean(j, "blocked"));
	CHECK_NULL(str_or_null(j, "blocked_at"));
	check_written_now(str_or_null(j, "updated_at"), t0);
	cJSON_Delete(j);
	/* Blocking again takes a new blocked_at, not the fixture's. */
	j = patch_ok(ts, "/orgs/c/contacts/ct_spammy", "{\"blocked\":true}");
	CHECK_STR_EQ(str_or_null(j, "blocked_at"), str_or_null(j, "updated_at"));
	check_written_now(str_or_null(j, "blocked_at"), t0);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void unsubscribe_sets_unsubscribed_at_to_updated_at(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	int64_t t0 = now_ms();
	cJSON *j = patch_ok(ts, ADA_PATH, "{\"unsubscribed\":true}");
	CHECK(boolean(j, "unsubscribed"));
	const char *at = str_or_null(j, "unsubscribed_at");
	CHECK_STR_EQ(at, str_or_null(j, "updated_at"));
	check_written_now(at, t0);
	/* The API cannot set why: those stay null. */
	CHECK_NULL(str_or_null(j, "unsubscribe_reason"));
	CHECK_NULL(str_or_null(j, "unsubscribe_feedback"));
	CHECK_NULL(str_or_null(j, "blocked_at"));
	cJSON_Delete(j);
	test_server_stop(ts);
}

/* ct_hannah: unsubscribed 2025-04-09T12:07:21.109Z, with a reason and feedback. */
static void resubscribe_keeps_unsubscribed_at(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	char *before = test_stored_contact(ts, "sk_test_demo", "c", "ct_hannah");
	struct http_resp r = test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_hannah",
					"{\"unsubscribed\":true}");
	cJSON *j = ok_json(&r);
	CHECK_STR_EQ(r.body, before);
	CHECK_STR_EQ(str_or_null(j, "unsubscribed_at"), "2025-04-09T12:07:21.109Z");
	CHECK_STR_EQ(str_or_null(j, "unsubscribe_reason"), "too_many_messages");
	CHECK_STR_EQ(str_or_null(j, "unsubscribe_feedback"), "Two promos a day is too much for me.");
	cJSON_Delete(j);
	http_resp_cleanup(&r);
	free(before);
	test_server_stop(ts);
}

static void unsubscribe_false_clears_reason_and_feedback(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	int64_t t0 = now_ms();
	cJSON *j = patch_ok(ts, "/orgs/c/contacts/ct_hannah", "{\"unsubscribed\":false}");
	CHECK(!boolean(j, "unsubscribed"));
	CHECK_NULL(str_or_null(j, "unsubscribed_at"));
	CHECK_NULL(str_or_null(j, "unsubscribe_reason"));
	CHECK_NULL(str_or_null(j, "unsubscribe_feedback"));
	check_written_now(str_or_null(j, "updated_at"), t0);
	cJSON_Delete(j);
	char *stored = test_stored_contact(ts, "sk_test_demo", "c", "ct_hannah");
	j = cJSON_Parse(stored);
	CHECK_NULL(str_or_null(j, "unsubscribe_reason"));
	CHECK_NULL(str_or_null(j, "unsubscribe_feedback"));
	CHECK_NULL(str_or_null(j, "unsubscribed_at"));
	cJSON_Delete(j);
	free(stored);
	test_server_stop(ts);
}

/* ct_rachel is blocked and unsubscribed: resubscribing leaves the block alone. */
static void unsubscribe_false_keeps_block(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	cJSON *j = patch_ok(ts, "/orgs/c/contacts/ct_rachel", "{\"unsubscribed\":false}");
	CHECK(boolean(j, "blocked"));
	CHECK_STR_EQ(str_or_null(j, "blocked_at"), "2025-05-31T08:11:40.271Z");
	CHECK_NULL(str_or_null(j, "unsubscribed_at"));
	CHECK_NULL(str_or_null(j, "unsubscribe_reason"));
	CHECK_NULL(str_or_null(j, "unsubscribe_feedback"));
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void block_and_unsubscribe_share_one_instant(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	cJSON *j = patch_ok(ts, ADA_PATH, "{\"blocked\":true,\"unsubscribed\":true}");
	const char *u = str_or_null(j, "updated_at");
	CHECK_STR_EQ(str_or_null(j, "blocked_at"), u);
	CHECK_STR_EQ(str_or_null(j, "unsubscribed_at"), u);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void sets_name(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	int64_t t0 = now_ms();
	cJSON *j = patch_ok(ts, ADA_PATH, "{\"name\":\"Augusta Ada King\"}");
	CHECK_STR_EQ(str_or_null(j, "name"), "Augusta Ada King");
	check_written_now(str_or_null(j, "updated_at"), t0);
	/* Nothing else moves. */
	CHECK(!boolean(j, "blocked"));
	CHECK_NULL(str_or_null(j, "blocked_at"));
	cJSON_Delete(j);
	char *stored = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	j = cJSON_Parse(stored);
	CHECK_STR_EQ(str_or_null(j, "name"), "Augusta Ada King");
	cJSON_Delete(j);
	free(stored);
	test_server_stop(ts);
}

static void null_name_clears_it(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	cJSON *j = patch_ok(ts, ADA_PATH, "{\"name\":null}");
	CHECK(cJSON_IsNull(field(j, "name")));
	cJSON_Delete(j);
	char *stored = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	CHECK(strstr(stored, "\"name\":null,\"blocked\""));
	free(stored);
	test_server_stop(ts);
}

static void empty_name_is_allowed(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	cJSON *j = patch_ok(ts, ADA_PATH, "{\"name\":\"\"}");
	CHECK_STR_EQ(str_or_null(j, "name"), "");
	CHECK(strcmp(str_or_null(j, "updated_at"), "2024-07-25T12:32:17.743Z"));
	cJSON_Delete(j);
	char *stored = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	CHECK(strstr(stored, "\"name\":\"\",\"blocked\""));
	free(stored);
	test_server_stop(ts);
}

/* 512 code points of 2 bytes (é) and of 4 bytes (🚀): characters, not bytes. */
static void accepts_name_of_512_code_points(void)
{
	static const char *const chars[] = {"\xc3\xa9", "\xf0\x9f\x9a\x80", "a"};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof chars / sizeof chars[0]; i++) {
		char *body = name_body(chars[i], 512);
		cJSON *j = patch_ok(ts, ADA_PATH, body);
		/* The echoed name is the body's string. */
		size_t len = strlen(body) - strlen("{\"name\":\"\"}");
		CHECK_INT_EQ(strlen(str_or_null(j, "name")), len);
		CHECK(!memcmp(str_or_null(j, "name"), body + strlen("{\"name\":\""), len));
		cJSON_Delete(j);
		free(body);
	}
	test_server_stop(ts);
}

static void refuses_name_of_513_code_points(void)
{
	static const char *const chars[] = {"\xc3\xa9", "\xf0\x9f\x9a\x80", "a"};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof chars / sizeof chars[0]; i++) {
		char *body = name_body(chars[i], 513);
		refused_400(ts, body, "name must be at most 512 characters");
		free(body);
	}
	test_server_stop(ts);
}

/* {} answers the contact as stored, updated_at untouched. */
static void empty_object_changes_nothing(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	char *before = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	struct http_resp r = test_patch(ts, "sk_test_demo", ADA_PATH, "{}");
	cJSON *j = ok_json(&r);
	CHECK_STR_EQ(r.body, before);
	CHECK_STR_EQ(str_or_null(j, "updated_at"), "2024-07-25T12:32:17.743Z");
	cJSON_Delete(j);
	http_resp_cleanup(&r);
	free(before);
	test_server_stop(ts);
}

/* No body at all, with and without a JSON Content-Type, and a zero-length one. */
static void missing_body_is_empty_object(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	char *before = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	const char *with_ct[] = {AUTH_DEMO, CT_JSON, NULL};
	const char *without_ct[] = {AUTH_DEMO, NULL};
	const char *const *hs[] = {with_ct, without_ct};
	const char *bodies[] = {NULL, ""};
	for (size_t i = 0; i < 2; i++) {
		for (size_t k = 0; k < 2; k++) {
			struct http_resp r = req(ts, "PATCH", ADA_PATH, hs[i], bodies[k]);
			cJSON *j = ok_json(&r);
			CHECK_STR_EQ(r.body, before);
			CHECK_STR_EQ(str_or_null(j, "updated_at"), "2024-07-25T12:32:17.743Z");
			cJSON_Delete(j);
			http_resp_cleanup(&r);
		}
	}
	free(before);
	test_server_stop(ts);
}

/* A Content-Type other than JSON matters only when there is a body. */
static void any_content_type_without_body(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	char *before = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	const char *h[] = {AUTH_DEMO, "Content-Type: text/plain", NULL};
	struct http_resp r = req(ts, "PATCH", ADA_PATH, h, NULL);
	cJSON *j = ok_json(&r);
	CHECK_STR_EQ(r.body, before);
	cJSON_Delete(j);
	http_resp_cleanup(&r);
	free(before);
	test_server_stop(ts);
}

static void same_values_leave_updated_at(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	char *before = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	struct http_resp r = test_patch(ts, "sk_test_demo", ADA_PATH,
					"{\"name\":\"Ada Lovelace\",\"blocked\":false,\"unsubscribed\":false}");
	cJSON *j = ok_json(&r);
	CHECK_STR_EQ(r.body, before);
	cJSON_Delete(j);
	http_resp_cleanup(&r);
	/* The same after a change: the second identical PATCH writes nothing. */
	j = patch_ok(ts, ADA_PATH, "{\"name\":\"Ada\"}");
	char *updated = strdup(str_or_null(j, "updated_at"));
	cJSON_Delete(j);
	struct timespec pause = {0, 20 * 1000 * 1000};
	nanosleep(&pause, NULL);
	j = patch_ok(ts, ADA_PATH, "{\"name\":\"Ada\"}");
	CHECK_STR_EQ(str_or_null(j, "updated_at"), updated);
	cJSON_Delete(j);
	free(updated);
	free(before);
	test_server_stop(ts);
}

static void refused_patch_is_atomic(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	refused_400(ts, "{\"name\":\"x\",\"blocked\":\"yes\"}", "blocked must be a boolean");
	refused_400(ts, "{\"blocked\":true,\"unsubscribed\":true,\"name\":5}",
		    "name must be a string or null");
	refused_400(ts, "{\"blocked\":true,\"foo\":1}", "property foo should not exist");
	char *long_name = name_body("\xc3\xa9", 513);
	/* {"name":"ééé…","blocked":true} */
	char *body = malloc(strlen(long_name) + 32);
	strcpy(body, long_name);
	strcpy(body + strlen(body) - 1, ",\"blocked\":true}");
	refused_400(ts, body, "name must be at most 512 characters");
	free(body);
	free(long_name);
	test_server_stop(ts);
}

static void updated_at_never_goes_backwards(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	int64_t prev = parse_time("2024-07-25T12:32:17.743Z");
	for (int i = 0; i < 40; i++) {
		char body[64];
		snprintf(body, sizeof body, "{\"blocked\":%s,\"name\":\"n%d\"}", i % 2 ? "false" : "true", i);
		cJSON *j = patch_ok(ts, ADA_PATH, body);
		int64_t t = parse_time(str_or_null(j, "updated_at"));
		CHECK(t >= prev);
		prev = t;
		cJSON_Delete(j);
	}
	test_server_stop(ts);
}

/* A contact whose updated_at lies ahead of the clock: a change keeps it (never
 * earlier), and blocked_at takes the same instant. */
static void updated_at_from_the_future_is_kept(void)
{
	char *path = test_temp_file(
		"{\"orgs\":[{\"id\":\"org_t\",\"name\":\"T\",\"api_keys\":[\"sk_t\"],\"contacts\":["
		"{\"id\":\"ct_f\",\"name\":\"F\",\"created_at\":\"2099-01-01T00:00:00.000Z\","
		"\"updated_at\":\"2099-01-01T00:00:00.000Z\"}]}]}");
	struct test_server *ts = test_server_start(path, NULL);
	struct http_resp r =
		test_patch(ts, "sk_t", "/orgs/c/contacts/ct_f", "{\"blocked\":true,\"name\":\"G\"}");
	cJSON *j = ok_json(&r);
	CHECK_STR_EQ(str_or_null(j, "updated_at"), "2099-01-01T00:00:00.000Z");
	CHECK_STR_EQ(str_or_null(j, "blocked_at"), "2099-01-01T00:00:00.000Z");
	CHECK_STR_EQ(str_or_null(j, "name"), "G");
	cJSON_Delete(j);
	http_resp_cleanup(&r);
	test_server_stop(ts);
	remove(path);
	free(path);
}

/* Walks o's children in order against keys[]: same names, same count. */
static void check_keys(const cJSON *o, const char *const *keys)
{
	CHECK(cJSON_IsObject(o));
	const cJSON *c = o->child;
	size_t i = 0;
	for (; keys[i]; i++, c = c->next) {
		if (!c || strcmp(c->string, keys[i]))
			fprintf(stderr, "key %zu: got %s, expected %s\n", i, c ? c->string : "(end)",
				keys[i]);
		CHECK(c && !strcmp(c->string, keys[i]));
	}
	if (c)
		fprintf(stderr, "unexpected key %s\n", c->string);
	CHECK_NULL(c);
}

static void check_str(const cJSON *o, const char *key, const char *want)
{
	const char *got = str_or_null(o, key);
	if (!want) {
		if (got)
			fprintf(stderr, "%s: got \"%s\", expected null\n", key, got);
		CHECK_NULL(got);
	} else {
		CHECK_STR_EQ(got, want);
	}
}

static const char *const contact_keys[] = {
	"id", "name", "blocked", "unsubscribed", "is_admin", "channels", "segments", "created_at",
	"updated_at", "blocked_at", "unsubscribed_at", "unsubscribe_reason", "unsubscribe_feedback",
	NULL};
static const char *const channel_keys[] = {
	"id", "type", "user_id", "avatar", "name", "username", "email", "phone", "country", "agent",
	"ip", "language", "platform_data", "created_at", "updated_at", "link", NULL};
static const char *const segment_keys[] = {
	"id", "name", "color", "contacts_count", "created_at", "updated_at", NULL};

/* One channel of the fixture: the values of channel_keys, platform_data aside. */
struct want_channel {
	const char *v[16];
	const char *const *pd_keys; /* platform_data's keys, in order */
	const char *const *pd_values;
};

static void check_channel(const cJSON *ch, const struct want_channel *w)
{
	check_keys(ch, channel_keys);
	for (size_t i = 0; channel_keys[i]; i++) {
		if (!strcmp(channel_keys[i], "platform_data"))
			continue;
		check_str(ch, channel_keys[i], w->v[i]);
	}
	const cJSON *pd = field(ch, "platform_data");
	check_keys(pd, w->pd_keys);
	for (size_t i = 0; w->pd_keys[i]; i++)
		check_str(pd, w->pd_keys[i], w->pd_values[i]);
}

static void check_segment(const cJSON *s, const char *id, const char *name, const char *color,
			  int count, const char *created, const char *updated)
{
	check_keys(s, segment_keys);
	check_str(s, "id", id);
	check_str(s, "name", name);
	check_str(s, "color", color);
	const cJSON *n = field(s, "contacts_count");
	CHECK(cJSON_IsNumber(n));
	CHECK_INT_EQ(n->valuedouble, count);
	check_str(s, "created_at", created);
	check_str(s, "updated_at", updated);
}

/* ct_ada of fixtures/demo.json, after a PATCH of all three fields: every key, in
 * order, with the fixture's value (a channel without timestamps takes the
 * contact's created_at, then its own created_at as updated_at; contacts_count
 * counts the demo contacts in the segment). */
static void answers_full_contact_in_order(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	int64_t t0 = now_ms();
	cJSON *j = patch_ok(ts, ADA_PATH,
			    "{\"name\":\"Ada King\",\"blocked\":true,\"unsubscribed\":true}");
	check_keys(j, contact_keys);
	check_str(j, "id", "ct_ada");
	check_str(j, "name", "Ada King");
	CHECK(cJSON_IsTrue(field(j, "blocked")));
	CHECK(cJSON_IsTrue(field(j, "unsubscribed")));
	CHECK(cJSON_IsFalse(field(j, "is_admin")));

	const cJSON *chs = field(j, "channels");
	CHECK(cJSON_IsArray(chs));
	CHECK_INT_EQ(cJSON_GetArraySize(chs), 2);
	static const char *const wa_pd_keys[] = {"wa_id", "profile_name", NULL};
	static const char *const wa_pd_values[] = {"15550100", "Ada Lovelace"};
	static const char *const no_keys[] = {NULL};
	const struct want_channel wa = {
		{"ch_ada_wa", "whatsapp_bot", "+15550100", "https://cdn.example.com/avatars/ada.png",
		 "Ada Lovelace", NULL, NULL, "+15550100", "GB", NULL, NULL, "en", NULL,
		 "2024-06-09T13:57:49.453Z", "2024-06-09T13:57:49.453Z", "https://wa.me/15550100"},
		wa_pd_keys, wa_pd_values};
	const struct want_channel gmail = {
		{"ch_ada_gmail", "gmail", "ada@analytical.example", NULL, "Ada Lovelace", NULL,
		 "ada@analytical.example", NULL, NULL, NULL, NULL, "en", NULL,
		 "2024-07-01T20:28:24.991Z", "2024-07-03T16:19:42.494Z", NULL},
		no_keys, NULL};
	check_channel(cJSON_GetArrayItem(chs, 0), &wa);
	check_channel(cJSON_GetArrayItem(chs, 1), &gmail);

	const cJSON *segs = field(j, "segments");
	CHECK(cJSON_IsArray(segs));
	CHECK_INT_EQ(cJSON_GetArraySize(segs), 3);
	check_segment(cJSON_GetArrayItem(segs, 0), "seg_vip", "VIP", "amber", 9,
		      "2024-01-05T10:00:00.000Z", "2025-02-11T11:12:13.000Z");
	check_segment(cJSON_GetArrayItem(segs, 1), "seg_newsletter", "Newsletter", "sky", 13,
		      "2024-01-05T10:05:00.000Z", "2024-01-05T10:05:00.000Z");
	check_segment(cJSON_GetArrayItem(segs, 2), "seg_beta", "Beta testers", "violet", 8,
		      "2024-03-18T14:20:00.000Z", "2025-05-20T08:00:00.000Z");

	check_str(j, "created_at", "2024-06-09T13:57:49.453Z");
	const char *u = str_or_null(j, "updated_at");
	check_written_now(u, t0);
	check_str(j, "blocked_at", u);
	check_str(j, "unsubscribed_at", u);
	check_str(j, "unsubscribe_reason", NULL);
	check_str(j, "unsubscribe_feedback", NULL);
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void lenient_ignores_unknown_fields(void)
{
	struct test_server *ts = test_server_start(NULL, "--lenient", NULL);
	cJSON *j = patch_ok(ts, ADA_PATH,
			    "{\"foo\":1,\"id\":\"ct_other\",\"is_admin\":true,"
			    "\"blocked_at\":\"2020-01-01T00:00:00.000Z\",\"blocked\":true}");
	check_str(j, "id", "ct_ada");
	CHECK(cJSON_IsFalse(field(j, "is_admin")));
	CHECK(boolean(j, "blocked"));
	check_str(j, "blocked_at", str_or_null(j, "updated_at"));
	cJSON_Delete(j);
	/* Lenient is about unknown fields only: a wrong type is still refused. */
	refused_400(ts, "{\"foo\":1,\"unsubscribed\":\"yes\"}", "unsubscribed must be a boolean");
	test_server_stop(ts);
}

/* ------------------------------------------------ B. bad requests: body */

/* The byte named is where the parser found the text could not go on. */
static void refuses_invalid_json(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	refused_400(ts, "not json", "Body is not valid JSON (at byte 0)");
	refused_400(ts, "{\"blocked\" true}", "Body is not valid JSON (at byte 11)");
	refused_400(ts, "{\"blocked\":tru}", "Body is not valid JSON (at byte 11)");
	refused_400(ts, "{\"blocked\":true \"name\":\"x\"}", "Body is not valid JSON (at byte 16)");
	refused_400(ts, "[1,]", "Body is not valid JSON (at byte 3)");
	refused_400(ts, "{\"name\":\"\\x\"}", "Body is not valid JSON (at byte 9)");
	/* Whitespace alone is a body, and not JSON. */
	refused_400(ts, " ", "Body is not valid JSON (at byte 1)");
	test_server_stop(ts);
}

/* Where a member name should start, the byte named is that byte (found: one
 * past it). */
static void locates_bad_member_name(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	refused_400(ts, "{blocked:true}", "Body is not valid JSON (at byte 1)");
	refused_400(ts, "{\"blocked\":true,}", "Body is not valid JSON (at byte 16)");
	refused_400(ts, "{,}", "Body is not valid JSON (at byte 1)");
	test_server_stop(ts);
}

/* JSON whitespace is space, tab, LF and CR; other control bytes are not JSON. */
static void refuses_control_bytes_as_whitespace(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	refused_400(ts, "\x0b{\"blocked\":true}", "Body is not valid JSON (at byte 0)");
	refused_400(ts, "{\"blocked\":true}\x0c", "Body is not valid JSON (at byte 16)");
	refused_400(ts, "{\x01\"blocked\":true}", "Body is not valid JSON (at byte 1)");
	refused_400(ts, "{\"blocked\"\x1f:true}", "Body is not valid JSON (at byte 10)");
	test_server_stop(ts);
}

/* RFC 8259 numbers: no leading zero, a digit after the point. */
static void refuses_malformed_numbers(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	refused_400(ts, "{\"blocked\":01}", "Body is not valid JSON (at byte 12)");
	refused_400(ts, "{\"blocked\":-01}", "Body is not valid JSON (at byte 13)");
	refused_400(ts, "{\"blocked\":1.}", "Body is not valid JSON (at byte 13)");
	test_server_stop(ts);
}

/* Where the field is ignored, a malformed number must still fail the body. */
static void lenient_refuses_malformed_numbers(void)
{
	struct test_server *ts = test_server_start(NULL, "--lenient", NULL);
	refused_400(ts, "{\"foo\":01,\"blocked\":true}", "Body is not valid JSON (at byte 8)");
	refused_400(ts, "{\"foo\":1.,\"blocked\":true}", "Body is not valid JSON (at byte 9)");
	test_server_stop(ts);
}

static void refuses_truncated_json(void)
{
	one_400("{\"blocked\":tr", "Body is not valid JSON (at byte 11)");
}

static void refuses_trailing_garbage(void)
{
	one_400("{\"blocked\":true} x", "Body is not valid JSON (at byte 17)");
}

static void refuses_invalid_utf8(void)
{
	one_400("{\"name\":\"\xff\"}", "Body is not valid UTF-8 (at byte 9)");
}

static void refuses_overlong_utf8(void)
{
	one_400("{\"name\":\"a\xc0\xaf\"}", "Body is not valid UTF-8 (at byte 10)");
}

static void refuses_utf8_encoded_surrogate(void)
{
	one_400("{\"name\":\"\xed\xa0\x80\"}", "Body is not valid UTF-8 (at byte 9)");
}

static void refuses_lone_surrogate_escape(void)
{
	/* The byte named is the escape's backslash. */
	one_400("{\"name\":\"\\ud800\"}", "Body is not valid JSON (at byte 9)");
	one_400("{\"name\":\"a\\udc00\"}", "Body is not valid JSON (at byte 10)");
	one_400("{\"name\":\"\\ud800\\u0041\"}", "Body is not valid JSON (at byte 9)");
}

static void refuses_nul_escape(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *h[] = {AUTH_DEMO, CT_JSON, NULL};
	char *before = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	struct http_resp r = req(ts, "PATCH", ADA_PATH, h, "{\"name\":\"a\\u0000b\"}");
	CHECK_INT_EQ(r.status, 400);
	/* The message holds a backslash, which the JSON envelope escapes. */
	CHECK_STR_EQ(r.body, "{\"statusCode\":400,\"error\":\"Bad Request\","
			     "\"message\":\"Body must not contain \\\\u0000 (at byte 10)\"}");
	CHECK_STR_EQ(http_resp_header(&r, "Content-Type"), "application/json");
	http_resp_cleanup(&r);
	char *after = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	CHECK_STR_EQ(after, before);
	free(before);
	free(after);
	test_server_stop(ts);
}

static void refuses_duplicate_key(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	refused_400(ts, "{\"blocked\":true,\"blocked\":false}",
		    "Body has a duplicate key \"blocked\"");
	/* The same key spelled with an escape is the same key. */
	refused_400(ts, "{\"blocked\":true,\"bl\\u006fcked\":true}",
		    "Body has a duplicate key \"blocked\"");
	test_server_stop(ts);
}

static char *nested(size_t depth)
{
	char *b = malloc(2 * depth + 1);
	CHECK(b);
	memset(b, '[', depth);
	memset(b + depth, ']', depth);
	b[2 * depth] = '\0';
	return b;
}

static void refuses_nesting_65_deep(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	char *b = nested(65);
	refused_400(ts, b, "Body nests deeper than 64 levels (at byte 64)");
	free(b);
	/* Objects count too: {"name": 64 arrays} is 65 levels. */
	char body[256] = "{\"name\":";
	size_t n = strlen(body);
	memset(body + n, '[', 64);
	memset(body + n + 64, ']', 64);
	strcpy(body + n + 128, "}");
	refused_400(ts, body, "Body nests deeper than 64 levels (at byte 71)");
	test_server_stop(ts);
}

/* 64 levels get past the parser, to the validation that follows. */
static void accepts_nesting_64_deep_into_validation(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	char *b = nested(64);
	refused_400(ts, b, "Body must be a JSON object");
	free(b);
	char body[256] = "{\"name\":";
	size_t n = strlen(body);
	memset(body + n, '[', 63);
	memset(body + n + 63, ']', 63);
	strcpy(body + n + 126, "}");
	refused_400(ts, body, "name must be a string or null");
	test_server_stop(ts);
}

static void refuses_ten_thousand_brackets(void)
{
	char *b = malloc(10001);
	memset(b, '[', 10000);
	b[10000] = '\0';
	one_400(b, "Body nests deeper than 64 levels (at byte 64)");
	free(b);
}

static void refuses_non_object_body(void)
{
	static const char *const bodies[] = {"[]", "[{\"blocked\":true}]", "\"blocked\"", "42",
					     "null", "true"};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
		refused_400(ts, bodies[i], "Body must be a JSON object");
	test_server_stop(ts);
}

/* ---------------------------------------------- B. bad requests: fields */

static void refuses_non_boolean_blocked(void)
{
	static const char *const bodies[] = {"{\"blocked\":\"yes\"}", "{\"blocked\":1}",
					     "{\"blocked\":\"true\"}", "{\"blocked\":[true]}",
					     "{\"blocked\":{}}"};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
		refused_400(ts, bodies[i], "blocked must be a boolean");
	test_server_stop(ts);
}

static void refuses_null_blocked(void)
{
	one_400("{\"blocked\":null}", "blocked must be a boolean");
}

static void refuses_non_boolean_unsubscribed(void)
{
	static const char *const bodies[] = {"{\"unsubscribed\":\"no\"}", "{\"unsubscribed\":0}",
					     "{\"unsubscribed\":null}"};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
		refused_400(ts, bodies[i], "unsubscribed must be a boolean");
	test_server_stop(ts);
}

static void refuses_non_string_name(void)
{
	static const char *const bodies[] = {"{\"name\":5}", "{\"name\":true}", "{\"name\":[\"a\"]}",
					     "{\"name\":{}}"};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
		refused_400(ts, bodies[i], "name must be a string or null");
	test_server_stop(ts);
}

static void refuses_unknown_field(void)
{
	one_400("{\"foo\":1}", "property foo should not exist");
}

static void refuses_read_only_fields(void)
{
	static const char *const fields[] = {"id", "is_admin", "blocked_at", "unsubscribed_at",
					     "updated_at", "created_at", "channels", "segments",
					     "unsubscribe_reason"};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		char body[128], msg[128];
		snprintf(body, sizeof body, "{\"blocked\":true,\"%s\":null}", fields[i]);
		snprintf(msg, sizeof msg, "property %s should not exist", fields[i]);
		refused_400(ts, body, msg);
	}
	test_server_stop(ts);
}

static void names_first_offending_field(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	refused_400(ts, "{\"foo\":1,\"blocked\":\"x\"}", "property foo should not exist");
	refused_400(ts, "{\"blocked\":\"x\",\"foo\":1}", "blocked must be a boolean");
	refused_400(ts, "{\"bar\":1,\"foo\":2}", "property bar should not exist");
	refused_400(ts, "{\"name\":1,\"unsubscribed\":null}", "name must be a string or null");
	refused_400(ts, "{\"unsubscribed\":null,\"name\":1}", "unsubscribed must be a boolean");
	test_server_stop(ts);
}

/* Field names are matched exactly: a different case is an unknown field. */
static void field_names_are_case_sensitive(void)
{
	one_400("{\"Blocked\":true}", "property Blocked should not exist");
}

/* --------------------------------------------- B. bad requests: headers */

static void refuses_non_json_content_type(void)
{
	static const char *const cts[] = {"Content-Type: text/plain",
					  "Content-Type: application/json; charset=latin1",
					  "Content-Type: application/x-www-form-urlencoded",
					  "Content-Type: application/jsonx"};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof cts / sizeof cts[0]; i++) {
		const char *h[] = {AUTH_DEMO, cts[i], NULL};
		refused(ts, &ADA, "PATCH", ADA_PATH, h, "{\"blocked\":true}", 415,
			"Content-Type must be application/json");
	}
	test_server_stop(ts);
}

static void refuses_body_without_content_type(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *h[] = {AUTH_DEMO, NULL};
	refused(ts, &ADA, "PATCH", ADA_PATH, h, "{\"blocked\":true}", 415,
		"Content-Type must be application/json");
	test_server_stop(ts);
}

static void accepts_json_content_type_with_utf8_charset(void)
{
	static const char *const cts[] = {"Content-Type: application/json; charset=utf-8",
					  "Content-Type: APPLICATION/JSON;charset=\"UTF-8\""};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof cts / sizeof cts[0]; i++) {
		const char *h[] = {AUTH_DEMO, cts[i], NULL};
		char body[64];
		snprintf(body, sizeof body, "{\"name\":\"charset %zu\"}", i);
		struct http_resp r = req(ts, "PATCH", ADA_PATH, h, body);
		cJSON *j = ok_json(&r);
		check_str(j, "name", i ? "charset 1" : "charset 0");
		cJSON_Delete(j);
		http_resp_cleanup(&r);
	}
	test_server_stop(ts);
}

static void refuses_body_over_max_body(void)
{
	struct test_server *ts = test_server_start(NULL, "--max-body", "100", NULL);
	/* {"name":"aaa…"} of exactly 101 bytes, then of exactly 100. */
	char *b = name_body("a", 101 - 11);
	CHECK_INT_EQ(strlen(b), 101);
	const char *h[] = {AUTH_DEMO, CT_JSON, NULL};
	refused(ts, &ADA, "PATCH", ADA_PATH, h, b, 413, "Body must be at most 100 bytes");
	free(b);
	b = name_body("a", 100 - 11);
	CHECK_INT_EQ(strlen(b), 100);
	cJSON *j = patch_ok(ts, ADA_PATH, b);
	CHECK_INT_EQ(strlen(str_or_null(j, "name")), 89);
	cJSON_Delete(j);
	free(b);
	test_server_stop(ts);
}

/* {, len - 2 spaces, }: an empty object of exactly len bytes. */
static char *padded_body(size_t len)
{
	char *b = malloc(len + 1);
	CHECK(b);
	b[0] = '{';
	memset(b + 1, ' ', len - 2);
	b[len - 1] = '}';
	b[len] = '\0';
	return b;
}

/* Sent as large bodies usually are, with Expect: 100-continue, so the 413 comes
 * before the body is sent. The body just under the limit is accepted. */
static void refuses_body_over_default_1mib(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	size_t max = 1024 * 1024;
	char *b = padded_body(max + 1);
	const char *h[] = {AUTH_DEMO, CT_JSON, "Expect: 100-continue", NULL};
	refused(ts, &ADA, "PATCH", ADA_PATH, h, b, 413, "Body must be at most 1048576 bytes");
	free(b);
	b = padded_body(max);
	struct http_resp r = req(ts, "PATCH", ADA_PATH, h, b);
	cJSON *j = ok_json(&r);
	check_str(j, "updated_at", "2024-07-25T12:32:17.743Z");
	cJSON_Delete(j);
	http_resp_cleanup(&r);
	free(b);
	test_server_stop(ts);
}

/* Without Expect, the client is still sending when the 413 is decided; the
 * answer must still reach it (not be lost to a connection reset). */
static void refuses_body_over_default_1mib_without_expect(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	char *b = padded_body(1024 * 1024 + 1);
	const char *h[] = {AUTH_DEMO, CT_JSON, NULL};
	for (int i = 0; i < 5; i++)
		refused(ts, &ADA, "PATCH", ADA_PATH, h, b, 413, "Body must be at most 1048576 bytes");
	free(b);
	test_server_stop(ts);
}

static void refuses_missing_authorization(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *h[] = {CT_JSON, NULL};
	refused(ts, &ADA, "PATCH", ADA_PATH, h, "{\"blocked\":true}", 401,
		"Missing Authorization header");
	test_server_stop(ts);
}

static void refuses_malformed_authorization(void)
{
	static const char *const auths[] = {"Authorization: Basic abc", "Authorization: Bearer",
					    "Authorization: Bearer sk_test_demo extra",
					    "Authorization: sk_test_demo",
					    "Authorization: Bearersk_test_demo"};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof auths / sizeof auths[0]; i++) {
		const char *h[] = {auths[i], CT_JSON, NULL};
		refused(ts, &ADA, "PATCH", ADA_PATH, h, "{\"blocked\":true}", 401,
			"Authorization must be \"Bearer <api key>\"");
	}
	test_server_stop(ts);
}

static void refuses_unknown_key(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	static const char *const auths[] = {"Authorization: Bearer sk_test_nope",
					    "Authorization: Bearer SK_TEST_DEMO",
					    "Authorization: Bearer sk_test_dem"};
	for (size_t i = 0; i < sizeof auths / sizeof auths[0]; i++) {
		const char *h[] = {auths[i], CT_JSON, NULL};
		refused(ts, &ADA, "PATCH", ADA_PATH, h, "{\"blocked\":true}", 401, "Invalid API key");
	}
	test_server_stop(ts);
}

static void refuses_two_authorization_headers(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *h[] = {AUTH_DEMO, AUTH_DEMO, CT_JSON, NULL};
	refused(ts, &ADA, "PATCH", ADA_PATH, h, "{\"blocked\":true}", 401,
		"Only one Authorization header is allowed");
	test_server_stop(ts);
}

static void accepts_any_case_scheme_and_several_spaces(void)
{
	static const char *const auths[] = {"Authorization: bearer sk_test_demo",
					    "Authorization: BEARER sk_test_demo",
					    "Authorization: Bearer    sk_test_demo"};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof auths / sizeof auths[0]; i++) {
		const char *h[] = {auths[i], CT_JSON, NULL};
		char body[64];
		snprintf(body, sizeof body, "{\"name\":\"auth %zu\"}", i);
		struct http_resp r = req(ts, "PATCH", ADA_PATH, h, body);
		cJSON *j = ok_json(&r);
		char want[16];
		snprintf(want, sizeof want, "auth %zu", i);
		check_str(j, "name", want);
		cJSON_Delete(j);
		http_resp_cleanup(&r);
	}
	test_server_stop(ts);
}

static void refuses_key_of_another_org(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const struct watch wile = {"sk_test_acme", "c", "ct_acme_wile"};
	const char *h[] = {AUTH_DEMO, CT_JSON, NULL};
	refused(ts, &wile, "PATCH", "/orgs/org_acme/contacts/ct_acme_wile", h, "{\"blocked\":true}",
		401, "This API key cannot access org org_acme");
	test_server_stop(ts);
}

/* An org that does not exist is answered like one the key cannot reach. */
static void refuses_unknown_org_like_foreign_org(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *h[] = {AUTH_DEMO, CT_JSON, NULL};
	refused(ts, &ADA, "PATCH", "/orgs/org_nope/contacts/ct_ada", h, "{\"blocked\":true}", 401,
		"This API key cannot access org org_nope");
	test_server_stop(ts);
}

/* ---------------------------------------------------- B. org access */

static void c_means_the_keys_org(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	cJSON *j = patch_ok(ts, "/orgs/c/contacts/ct_grace", "{\"name\":\"via c\"}");
	check_str(j, "id", "ct_grace");
	check_str(j, "name", "via c");
	cJSON_Delete(j);
	/* With the EU key, c is org_demo_eu. */
	struct http_resp r = test_patch(ts, "sk_test_demo_eu", "/orgs/c/contacts/ct_eu_klara",
					"{\"name\":\"Klara\"}");
	j = ok_json(&r);
	check_str(j, "name", "Klara");
	cJSON_Delete(j);
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void real_org_id_works(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	cJSON *j = patch_ok(ts, "/orgs/org_demo/contacts/ct_ada", "{\"name\":\"via id\"}");
	check_str(j, "id", "ct_ada");
	check_str(j, "name", "via id");
	cJSON_Delete(j);
	test_server_stop(ts);
}

static void parent_key_reaches_sub_org(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	cJSON *j = patch_ok(ts, "/orgs/org_demo_eu/contacts/ct_eu_klara", "{\"blocked\":true}");
	check_str(j, "id", "ct_eu_klara");
	CHECK(boolean(j, "blocked"));
	cJSON_Delete(j);
	char *stored = test_stored_contact(ts, "sk_test_demo_eu", "c", "ct_eu_klara");
	j = cJSON_Parse(stored);
	CHECK(boolean(j, "blocked"));
	cJSON_Delete(j);
	free(stored);
	test_server_stop(ts);
}

static void sub_org_key_cannot_reach_parent(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *h[] = {"Authorization: Bearer sk_test_demo_eu", CT_JSON, NULL};
	refused(ts, &ADA, "PATCH", "/orgs/org_demo/contacts/ct_ada", h, "{\"blocked\":true}", 401,
		"This API key cannot access org org_demo");
	test_server_stop(ts);
}

/* The contact exists, but in the sub-org: not in the org of the path. */
static void contact_of_sub_org_not_found_under_parent(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const struct watch klara = {"sk_test_demo_eu", "c", "ct_eu_klara"};
	const char *h[] = {AUTH_DEMO, CT_JSON, NULL};
	refused(ts, &klara, "PATCH", "/orgs/org_demo/contacts/ct_eu_klara", h, "{\"blocked\":true}",
		404, "Contact not found");
	refused(ts, &klara, "PATCH", "/orgs/c/contacts/ct_eu_klara", h, "{\"blocked\":true}", 404,
		"Contact not found");
	test_server_stop(ts);
}

/* ------------------------------------------------ B. routes and methods */

static void unknown_contact_not_found(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *h[] = {AUTH_DEMO, CT_JSON, NULL};
	refused(ts, &ADA, "PATCH", "/orgs/c/contacts/ct_nope", h, "{\"blocked\":true}", 404,
		"Contact not found");
	/* Ids match exactly. */
	refused(ts, &ADA, "PATCH", "/orgs/c/contacts/CT_ADA", h, "{\"blocked\":true}", 404,
		"Contact not found");
	test_server_stop(ts);
}

static void unknown_path_not_found(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *h[] = {AUTH_DEMO, CT_JSON, NULL};
	refused(ts, &ADA, "GET", "/nope", h, NULL, 404, "Cannot GET /nope");
	refused(ts, &ADA, "PATCH", "/nope", h, "{\"blocked\":true}", 404, "Cannot PATCH /nope");
	refused(ts, &ADA, "PATCH", "/orgs/c/people/ct_ada", h, "{\"blocked\":true}", 404,
		"Cannot PATCH /orgs/c/people/ct_ada");
	refused(ts, &ADA, "PATCH", "/orgs/c/contacts/ct_ada/x", h, "{\"blocked\":true}", 404,
		"Cannot PATCH /orgs/c/contacts/ct_ada/x");
	test_server_stop(ts);
}

static void wrong_method_not_allowed(void)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
	struct test_server *ts = test_server_start(NULL, NULL);
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		const char *h[] = {AUTH_DEMO, CT_JSON, NULL};
		char *before = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
		bool with_body = strcmp(methods[i], "GET") && strcmp(methods[i], "DELETE");
		struct http_resp r =
			req(ts, methods[i], ADA_PATH, h, with_body ? "{\"blocked\":true}" : NULL);
		char msg[128];
		snprintf(msg, sizeof msg,
			 "Method %s is not allowed on /orgs/c/contacts/ct_ada (allowed: PATCH)",
			 methods[i]);
		check_error(&r, 405, msg);
		CHECK_STR_EQ(http_resp_header(&r, "Allow"), "PATCH");
		http_resp_cleanup(&r);
		char *after = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
		CHECK_STR_EQ(after, before);
		free(before);
		free(after);
	}
	test_server_stop(ts);
}

/* ------------------------------------------------- B. order of checks */

static void order_unknown_path_before_auth(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *h[] = {"Authorization: Basic abc", NULL};
	refused(ts, &ADA, "GET", "/nope", h, NULL, 404, "Cannot GET /nope");
	test_server_stop(ts);
}

static void order_wrong_method_before_auth(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *h[] = {"Authorization: Basic abc", NULL};
	struct http_resp r = req(ts, "GET", ADA_PATH, h, NULL);
	check_error(&r, 405, "Method GET is not allowed on /orgs/c/contacts/ct_ada (allowed: PATCH)");
	CHECK_STR_EQ(http_resp_header(&r, "Allow"), "PATCH");
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void order_oversize_before_auth(void)
{
	struct test_server *ts = test_server_start(NULL, "--max-body", "100", NULL);
	char *b = name_body("a", 101 - 11);
	const char *h[] = {"Authorization: Basic abc", "Content-Type: text/plain", NULL};
	refused(ts, &ADA, "PATCH", ADA_PATH, h, b, 413, "Body must be at most 100 bytes");
	free(b);
	test_server_stop(ts);
}

static void order_auth_before_content_type(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *h[] = {"Authorization: Bearer sk_test_nope", "Content-Type: text/plain", NULL};
	refused(ts, &ADA, "PATCH", ADA_PATH, h, "{\"blocked\":true}", 401, "Invalid API key");
	const char *h2[] = {"Content-Type: text/plain", NULL};
	refused(ts, &ADA, "PATCH", ADA_PATH, h2, "not json", 401, "Missing Authorization header");
	test_server_stop(ts);
}

static void order_content_type_before_json(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *h[] = {AUTH_DEMO, "Content-Type: text/plain", NULL};
	refused(ts, &ADA, "PATCH", ADA_PATH, h, "{not json", 415,
		"Content-Type must be application/json");
	test_server_stop(ts);
}

static void order_json_before_contact_lookup(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *h[] = {AUTH_DEMO, CT_JSON, NULL};
	refused(ts, &ADA, "PATCH", "/orgs/c/contacts/ct_nope", h, "{\"blocked\" true}", 400,
		"Body is not valid JSON (at byte 11)");
	refused(ts, &ADA, "PATCH", "/orgs/c/contacts/ct_nope", h, "{\"blocked\":\"x\"}", 400,
		"blocked must be a boolean");
	test_server_stop(ts);
}

static void order_valid_body_on_unknown_contact(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *h[] = {AUTH_DEMO, CT_JSON, NULL};
	refused(ts, &ADA, "PATCH", "/orgs/c/contacts/ct_nope", h, "{\"blocked\":true}", 404,
		"Contact not found");
	test_server_stop(ts);
}

/* ------------------------------------------------------ C. concurrency */

enum { N_THREADS = 16, N_CONTACTS = 8, N_REQUESTS = 200 };

static const char *const conc_ids[N_CONTACTS] = {
	"ct_ada", "ct_grace", "ct_alan", "ct_katherine", "ct_hedy", "ct_marie", "ct_emmy",
	"ct_ramanujan"};

struct worker {
	const struct test_server *ts;
	int t;
	char last_name[32];	/* of the owned contact, last acknowledged */
	int n_bad;		/* answers that were not what was sent */
	int n_5xx;
	char first_bad[512];
};

static void bad(struct worker *w, const char *what, const char *body)
{
	if (!w->n_bad++)
		snprintf(w->first_bad, sizeof w->first_bad, "thread %d: %s: %.300s", w->t, what,
			 body ? body : "");
}

/* Thread t owns contact t for names when t < N_CONTACTS; every thread toggles
 * blocked on every contact. An owner sends every other request to its own
 * contact, with a name; the rest go round all contacts, blocked only. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	bool blocked = w->t & 1;
	int64_t last_seen[N_CONTACTS] = {0};
	for (int seq = 0; seq < N_REQUESTS; seq++) {
		bool own = w->t < N_CONTACTS && seq % 2 == 0;
		int c = own ? w->t : (w->t + seq) % N_CONTACTS;
		char path[64], body[96], name[32] = "";
		blocked = !blocked;
		snprintf(path, sizeof path, "/orgs/c/contacts/%s", conc_ids[c]);
		if (own) {
			snprintf(name, sizeof name, "t%d-%d", w->t, seq);
			snprintf(body, sizeof body, "{\"name\":\"%s\",\"blocked\":%s}", name,
				 blocked ? "true" : "false");
		} else {
			snprintf(body, sizeof body, "{\"blocked\":%s}", blocked ? "true" : "false");
		}
		const char *h[] = {AUTH_DEMO, CT_JSON, NULL};
		struct http_resp r;
		if (test_http(w->ts, "PATCH", path, h, body, &r)) {
			bad(w, "transfer failed", body);
			continue;
		}
		if (r.status >= 500)
			w->n_5xx++;
		cJSON *j = r.status == 200 ? cJSON_Parse(r.body) : NULL;
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(j, "name");
		const cJSON *bl = cJSON_GetObjectItemCaseSensitive(j, "blocked");
		const cJSON *ba = cJSON_GetObjectItemCaseSensitive(j, "blocked_at");
		const cJSON *up = cJSON_GetObjectItemCaseSensitive(j, "updated_at");
		if (!j || !cJSON_IsString(id) || strcmp(id->valuestring, conc_ids[c]))
			bad(w, "not a 200 with the contact", r.body);
		else if (own && (!cJSON_IsString(nm) || strcmp(nm->valuestring, name)))
			bad(w, "name not echoed", r.body);
		else if (!cJSON_IsBool(bl) || cJSON_IsTrue(bl) != blocked)
			bad(w, "blocked not echoed", r.body);
		else if (blocked ? !cJSON_IsString(ba) : !cJSON_IsNull(ba))
			bad(w, "blocked_at does not follow blocked", r.body);
		else if (!cJSON_IsString(up) || parse_time(up->valuestring) < last_seen[c])
			bad(w, "updated_at went backwards", r.body);
		else
			last_seen[c] = parse_time(up->valuestring);
		if (own && r.status == 200)
			snprintf(w->last_name, sizeof w->last_name, "%s", name);
		cJSON_Delete(j);
		http_resp_cleanup(&r);
	}
	return NULL;
}

static void concurrent_patches_keep_last_write(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	struct worker ws[N_THREADS];
	pthread_t th[N_THREADS];
	for (int t = 0; t < N_THREADS; t++) {
		ws[t] = (struct worker){.ts = ts, .t = t};
		CHECK_INT_EQ(pthread_create(&th[t], NULL, worker_run, &ws[t]), 0);
	}
	for (int t = 0; t < N_THREADS; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < N_THREADS; t++) {
		if (ws[t].n_bad)
			fprintf(stderr, "%d bad answers; first: %s\n", ws[t].n_bad, ws[t].first_bad);
		CHECK_INT_EQ(ws[t].n_5xx, 0);
		CHECK_INT_EQ(ws[t].n_bad, 0);
	}
	for (int c = 0; c < N_CONTACTS; c++) {
		char *stored = test_stored_contact(ts, "sk_test_demo", "c", conc_ids[c]);
		cJSON *j = cJSON_Parse(stored);
		check_str(j, "name", ws[c].last_name);
		bool blocked = boolean(j, "blocked");
		const cJSON *ba = field(j, "blocked_at");
		CHECK(blocked ? cJSON_IsString(ba) : cJSON_IsNull(ba));
		if (blocked)
			parse_time(ba->valuestring);
		cJSON_Delete(j);
		free(stored);
	}
	test_server_stop(ts);
}


/* An error decided from the headers alone (404, 405, 401) does not close the
 * connection: a keep-alive client, and requests pipelined behind it, go on. */
static size_t discard(char *d, size_t size, size_t n, void *arg)
{
	(void)d;
	(void)arg;
	return size * n;
}

static void early_errors_keep_connection(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	CURL *c = curl_easy_init();
	char url[256];
	const char *paths[] = {"/nope", "/orgs/c/contacts/ct_ada", "/orgs/c/contacts/ct_ada"};
	const char *methods[] = {"GET", "GET", "PATCH"};
	long connects_total = 0, statuses[3];
	struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer sk_nope");
	for (int i = 0; i < 3; i++) {
		snprintf(url, sizeof url, "%s%s", ts->base, paths[i]);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, methods[i]);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		CHECK(curl_easy_perform(c) == CURLE_OK);
		long connects = 0;
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &statuses[i]);
		connects_total += connects;
	}
	CHECK_INT_EQ(statuses[0], 404);
	CHECK_INT_EQ(statuses[1], 405);
	CHECK_INT_EQ(statuses[2], 401);
	CHECK_INT_EQ(connects_total, 1); /* one connection for all three */
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	test_server_stop(ts);
}

/* Open file descriptors of this process. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	CHECK(d);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A server started and stopped in a process (as every suite here does) leaves
 * no descriptor behind: listening socket, database, journal file, wake-ups. */
static void stop_closes_every_descriptor(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int before = open_fds();
	for (int i = 0; i < 5; i++) {
		struct test_server *ts = test_server_start(NULL, NULL);
		struct http_resp r = test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada",
						"{\"blocked\":true}");
		CHECK_INT_EQ(r.status, 200);
		http_resp_cleanup(&r);
		test_server_stop(ts);
	}
	CHECK_INT_EQ(open_fds(), before);
}

/* libmicrohttpd 0.9.75 refuses a head whose Cookie header does not fit its
 * connection's memory pool (16 KiB by default) with 431; a bad Content-Length
 * after that makes it drop the connection unanswered, without completing the
 * request. The request must still be freed (the ASan and valgrind runs of this
 * case fail on a leak), and the contact stays as it was. */
static void dropped_request_is_freed(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	char *before = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	size_t n = 12000;
	char *cookie = malloc(n + 16);
	memcpy(cookie, "Cookie: c=", 10);
	memset(cookie + 10, 'v', n);
	cookie[10 + n] = '\0';
	const char *h[] = {AUTH_DEMO, CT_JSON, cookie, "Content-Length: x", NULL};
	struct http_resp r;
	CHECK(test_http(ts, "PATCH", ADA_PATH, h, NULL, &r) == -1); /* no answer at all */
	char *after = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	CHECK_STR_EQ(after, before);
	free(after);
	free(before);
	free(cookie);
	test_server_stop(ts);
}

static const struct test_case cases[] = {
	TEST_CASE("patch@early-errors-keep-the-connection", early_errors_keep_connection),
	/* A. semantics */
	TEST_CASE("patch@blocks-contact", blocks_contact),
	TEST_CASE("patch@sets-blocked_at-to-updated_at-on-block", block_sets_blocked_at_to_updated_at),
	TEST_CASE("patch@keeps-blocked_at-and-updated_at-on-reblock", reblock_keeps_blocked_at),
	TEST_CASE("patch@clears-blocked_at-on-unblock", unblock_clears_blocked_at),
	TEST_CASE("patch@sets-unsubscribed_at-to-updated_at-on-unsubscribe",
		  unsubscribe_sets_unsubscribed_at_to_updated_at),
	TEST_CASE("patch@keeps-unsubscribed_at-and-reason-on-re-unsubscribe",
		  resubscribe_keeps_unsubscribed_at),
	TEST_CASE("patch@clears-unsubscribed_at-reason-and-feedback-on-resubscribe",
		  unsubscribe_false_clears_reason_and_feedback),
	TEST_CASE("patch@resubscribe-keeps-block", unsubscribe_false_keeps_block),
	TEST_CASE("patch@block-and-unsubscribe-share-one-instant",
		  block_and_unsubscribe_share_one_instant),
	TEST_CASE("patch@sets-name", sets_name),
	TEST_CASE("patch@clears-name-on-null", null_name_clears_it),
	TEST_CASE("patch@allows-empty-name", empty_name_is_allowed),
	TEST_CASE("patch@accepts-name-of-512-code-points", accepts_name_of_512_code_points),
	TEST_CASE("patch@refuses-name-of-513-code-points", refuses_name_of_513_code_points),
	TEST_CASE("patch@empty-object-changes-nothing", empty_object_changes_nothing),
	TEST_CASE("patch@missing-or-empty-body-is-empty-object", missing_body_is_empty_object),
	TEST_CASE("patch@ignores-content-type-without-body", any_content_type_without_body),
	TEST_CASE("patch@same-values-leave-updated_at", same_values_leave_updated_at),
	TEST_CASE("patch@refused-patch-changes-nothing", refused_patch_is_atomic),
	TEST_CASE("patch@updated_at-never-goes-backwards", updated_at_never_goes_backwards),
	TEST_CASE("patch@keeps-future-updated_at", updated_at_from_the_future_is_kept),
	TEST_CASE("patch@answers-full-contact-in-key-order", answers_full_contact_in_order),
	TEST_CASE("patch@lenient-ignores-unknown-fields", lenient_ignores_unknown_fields),
	/* B. body */
	TEST_CASE("patch@refuses-invalid-json", refuses_invalid_json),
	TEST_CASE("patch@locates-bad-member-name-at-its-byte", locates_bad_member_name),
	TEST_CASE("patch@refuses-control-bytes-as-whitespace", refuses_control_bytes_as_whitespace),
	TEST_CASE("patch@refuses-malformed-numbers", refuses_malformed_numbers),
	TEST_CASE("patch@lenient-refuses-malformed-numbers", lenient_refuses_malformed_numbers),
	TEST_CASE("patch@refuses-truncated-json", refuses_truncated_json),
	TEST_CASE("patch@refuses-trailing-garbage", refuses_trailing_garbage),
	TEST_CASE("patch@refuses-invalid-utf8", refuses_invalid_utf8),
	TEST_CASE("patch@refuses-overlong-utf8", refuses_overlong_utf8),
	TEST_CASE("patch@refuses-utf8-encoded-surrogate", refuses_utf8_encoded_surrogate),
	TEST_CASE("patch@refuses-lone-surrogate-escape", refuses_lone_surrogate_escape),
	TEST_CASE("patch@refuses-nul-escape", refuses_nul_escape),
	TEST_CASE("patch@refuses-duplicate-key", refuses_duplicate_key),
	TEST_CASE("patch@refuses-nesting-65-deep", refuses_nesting_65_deep),
	TEST_CASE("patch@passes-nesting-64-deep-to-validation", accepts_nesting_64_deep_into_validation),
	TEST_CASE("patch@refuses-10000-brackets", refuses_ten_thousand_brackets),
	TEST_CASE("patch@refuses-non-object-body", refuses_non_object_body),
	/* B. fields */
	TEST_CASE("patch@refuses-non-boolean-blocked", refuses_non_boolean_blocked),
	TEST_CASE("patch@refuses-null-blocked", refuses_null_blocked),
	TEST_CASE("patch@refuses-non-boolean-unsubscribed", refuses_non_boolean_unsubscribed),
	TEST_CASE("patch@refuses-non-string-name", refuses_non_string_name),
	TEST_CASE("patch@refuses-unknown-field", refuses_unknown_field),
	TEST_CASE("patch@refuses-read-only-fields", refuses_read_only_fields),
	TEST_CASE("patch@names-first-offending-field", names_first_offending_field),
	TEST_CASE("patch@field-names-are-case-sensitive", field_names_are_case_sensitive),
	/* B. headers */
	TEST_CASE("patch@refuses-non-json-content-type", refuses_non_json_content_type),
	TEST_CASE("patch@refuses-body-without-content-type", refuses_body_without_content_type),
	TEST_CASE("patch@accepts-json-content-type-with-utf8-charset",
		  accepts_json_content_type_with_utf8_charset),
	TEST_CASE("patch@refuses-body-over-max-body", refuses_body_over_max_body),
	TEST_CASE("patch@refuses-body-over-default-1mib", refuses_body_over_default_1mib),
	TEST_CASE("patch@refuses-body-over-default-1mib-without-expect",
		  refuses_body_over_default_1mib_without_expect),
	TEST_CASE("patch@refuses-missing-authorization", refuses_missing_authorization),
	TEST_CASE("patch@refuses-malformed-authorization", refuses_malformed_authorization),
	TEST_CASE("patch@refuses-unknown-key", refuses_unknown_key),
	TEST_CASE("patch@refuses-two-authorization-headers", refuses_two_authorization_headers),
	TEST_CASE("patch@accepts-any-case-scheme-and-several-spaces",
		  accepts_any_case_scheme_and_several_spaces),
	TEST_CASE("patch@refuses-key-of-another-org", refuses_key_of_another_org),
	TEST_CASE("patch@refuses-unknown-org-like-foreign-org", refuses_unknown_org_like_foreign_org),
	/* B. org access */
	TEST_CASE("patch@c-means-the-keys-org", c_means_the_keys_org),
	TEST_CASE("patch@accepts-real-org-id", real_org_id_works),
	TEST_CASE("patch@parent-key-reaches-sub-org", parent_key_reaches_sub_org),
	TEST_CASE("patch@sub-org-key-cannot-reach-parent", sub_org_key_cannot_reach_parent),
	TEST_CASE("patch@contact-of-sub-org-not-found-under-parent",
		  contact_of_sub_org_not_found_under_parent),
	/* B. routes */
	TEST_CASE("patch@unknown-contact-not-found", unknown_contact_not_found),
	TEST_CASE("patch@unknown-path-not-found", unknown_path_not_found),
	TEST_CASE("patch@wrong-method-not-allowed", wrong_method_not_allowed),
	/* B. order of checks */
	TEST_CASE("patch@order-unknown-path-before-auth", order_unknown_path_before_auth),
	TEST_CASE("patch@order-wrong-method-before-auth", order_wrong_method_before_auth),
	TEST_CASE("patch@order-oversize-before-auth", order_oversize_before_auth),
	TEST_CASE("patch@order-auth-before-content-type", order_auth_before_content_type),
	TEST_CASE("patch@order-content-type-before-json", order_content_type_before_json),
	TEST_CASE("patch@order-json-before-contact-lookup", order_json_before_contact_lookup),
	TEST_CASE("patch@order-valid-body-on-unknown-contact", order_valid_body_on_unknown_contact),
	/* C. concurrency */
	TEST_CASE("patch@concurrent-patches-keep-last-write", concurrent_patches_keep_last_write),
	TEST_CASE("patch@server-stop-closes-every-descriptor", stop_closes_every_descriptor),
	TEST_CASE("patch@request-dropped-unanswered-by-libmicrohttpd-is-freed",
		  dropped_request_is_freed),
};

TEST_MAIN(cases)
