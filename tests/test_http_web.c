/* What web pages and browsers meet: HEAD on every GET route, CORS on /orgs/...
 * with --cors, and the admin API refusing pages of other origins and foreign
 * Host names. The server runs in this process; answers are read over raw
 * sockets where what matters is the bytes after the head (HEAD). */
#include "config.h"
#include "http_util.h"
#include "testlib.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define AUTH_DEMO "Authorization: Bearer sk_test_demo"
#define CT_JSON "Content-Type: application/json"
#define EXPOSED "pagination-count, pagination-page, pagination-take, Retry-After"

/* A raw exchange: request bytes out, everything until the server closes in
 * (the request should say Connection: close). Heap string. */
static char *raw(const struct test_server *ts, const char *request, size_t *len)
{
	int fd = test_connect(ts);
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	CHECK(write(fd, request, strlen(request)) == (ssize_t)strlen(request));
	size_t cap = 1 << 20, n = 0;
	char *buf = xmalloc(cap + 1);
	ssize_t k;
	while (n < cap && (k = read(fd, buf + n, cap - n)) > 0)
		n += (size_t)k;
	CHECK(k == 0); /* closed by the server, not timed out */
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* The value of header name in a raw head, in a static buffer, or NULL. */
static const char *raw_header(const char *head, const char *name)
{
	static char v[1024];
	size_t n = strlen(name);
	for (const char *l = strstr(head, "\r\n"); l && l[2] != '\r'; l = strstr(l + 2, "\r\n")) {
		if (!strncasecmp(l + 2, name, n) && l[2 + n] == ':') {
			const char *s = l + 2 + n + 1;
			s += strspn(s, " ");
			size_t len = strcspn(s, "\r");
			snprintf(v, sizeof v, "%.*s", (int)len, s);
			return v;
		}
	}
	return NULL;
}

/* GET and HEAD of path with header lines extra ("Name: value\r\n"...): the
 * same status line and headers (Date aside, and the Connection: close asked
 * for), and HEAD's answer ends with its head. */
static void check_head_like_get(const struct test_server *ts, const char *path, const char *extra,
				int status)
{
	char *get_req = xasprintf("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n",
				  path, extra);
	char *head_req = xasprintf("HEAD %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n",
				   path, extra);
	size_t get_len, head_len;
	char *get = raw(ts, get_req, &get_len);
	char *head = raw(ts, head_req, &head_len);
	char *get_end = strstr(get, "\r\n\r\n"), *head_end = strstr(head, "\r\n\r\n");
	CHECK(get_end && head_end);
	/* No body after HEAD's head. */
	if (head_end + 4 != head + head_len)
		fprintf(stderr, "HEAD %s sent a body: %s\n", path, head_end + 4);
	CHECK(head_end + 4 == head + head_len);
	int gs = 0, hs = 0;
	sscanf(get, "HTTP/1.1 %d", &gs);
	sscanf(head, "HTTP/1.1 %d", &hs);
	CHECK_INT_EQ(gs, status);
	CHECK_INT_EQ(hs, status);
	/* Header by header, but Date. */
	get_end[2] = head_end[2] = '\0';
	for (char *l = strstr(get, "\r\n") + 2; *l; l = strstr(l, "\r\n") + 2) {
		size_t len = strcspn(l, "\r");
		if (!strncasecmp(l, "Date:", 5))
			continue;
		char *line = xstrndup(l, len);
		if (!strstr(head, line)) {
			fprintf(stderr, "HEAD %s lacks \"%s\"\n%s\n", path, line, head);
			CHECK(0);
		}
		free(line);
	}
	CHECK_INT_EQ(strlen(head) <= strlen(get), 1);
	free(get);
	free(head);
	free(get_req);
	free(head_req);
}

/* ------------------------------------------------------------------ HEAD */

static void head_of_get_routes(void)
{
	struct test_server *ts = test_server_start(NULL, "--clock", "2030-01-01T00:00:00Z", NULL);
	check_head_like_get(ts, "/orgs/c/contacts?take=3", AUTH_DEMO "\r\n", 200);
	size_t len;
	char *a = raw(ts, "HEAD /orgs/c/contacts?take=3 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			  "Connection: close\r\n" AUTH_DEMO "\r\n\r\n", &len);
	CHECK_STR_EQ(raw_header(a, "pagination-count"), "52");
	CHECK_STR_EQ(raw_header(a, "pagination-take"), "3");
	free(a);
	check_head_like_get(ts, "/orgs/c/contacts/ct_ada/segments", AUTH_DEMO "\r\n", 200);
	check_head_like_get(ts, "/openapi.json", "", 200);
	check_head_like_get(ts, "/__admin/faults", "", 200); /* not health: its uptime_ms moves */
	check_head_like_get(ts, "/__admin/clock", "", 200);
	check_head_like_get(ts, "/__admin/orgs/org_demo/contacts/ct_ada", "", 200);
	check_head_like_get(ts, "/__admin/requests/1", "", 200);
	test_server_stop(ts);
}

/* The error answers of GET routes too: their status, Content-Length and type. */
static void head_of_errors(void)
{
	struct test_server *ts = test_server_start(NULL, "--clock", "2030-01-01T00:00:00Z", NULL);
	check_head_like_get(ts, "/orgs/c/contacts", "", 401);
	check_head_like_get(ts, "/orgs/c/contacts?take=0", AUTH_DEMO "\r\n", 400);
	check_head_like_get(ts, "/orgs/c/contacts/ct_nobody/segments", AUTH_DEMO "\r\n", 404);
	check_head_like_get(ts, "/orgs/org_acme/contacts", AUTH_DEMO "\r\n", 401);
	/* A path of no route names the method, as Express's does: "Cannot HEAD /nothing/here"
	 * is 76 bytes, GET's 75. */
	size_t len;
	char *a = raw(ts, "HEAD /nothing/here HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", &len);
	CHECK(!strncmp(a, "HTTP/1.1 404 ", 13));
	CHECK_STR_EQ(raw_header(a, "Content-Length"), "76");
	CHECK(strstr(a, "\r\n\r\n")[4] == '\0');
	free(a);
	check_head_like_get(ts, "/__admin/requests/99", "", 404);
	test_server_stop(ts);
}

/* HEAD where there is no GET: the 405 of any other method, Allow without HEAD;
 * and GET paths list HEAD in their Allow. */
static void head_without_get_is_405(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	size_t len;
	char *a = raw(ts, "HEAD /orgs/c/contacts/ct_ada HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			  "Connection: close\r\n" AUTH_DEMO "\r\n\r\n", &len);
	CHECK(!strncmp(a, "HTTP/1.1 405 ", 13));
	CHECK_STR_EQ(raw_header(a, "Allow"), "PATCH");
	CHECK(strstr(a, "\r\n\r\n")[4] == '\0');
	free(a);
	a = raw(ts, "HEAD /__admin/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", &len);
	CHECK(!strncmp(a, "HTTP/1.1 405 ", 13));
	CHECK_STR_EQ(raw_header(a, "Allow"), "POST");
	free(a);
	struct http_resp r = test_request(ts, "PUT", "/orgs/c/contacts", (const char *[]){AUTH_DEMO, NULL}, NULL);
	CHECK_INT_EQ(r.status, 405);
	CHECK_STR_EQ(http_resp_header(&r, "Allow"), "GET, HEAD, POST");
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

/* A HEAD is journaled as what was sent: no response body. */
static void head_journaled_without_body(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	size_t len;
	free(raw(ts, "HEAD /orgs/c/contacts?take=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
		     AUTH_DEMO "\r\n\r\n", &len));
	struct http_resp r = test_request(ts, "GET", "/__admin/requests/1", NULL, NULL);
	CHECK_INT_EQ(r.status, 200);
	cJSON *e = cJSON_Parse(r.body);
	CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(e, "method")->valuestring, "HEAD");
	CHECK_INT_EQ(cJSON_GetObjectItemCaseSensitive(e, "status")->valuedouble, 200);
	CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "response_body")));
	cJSON_Delete(e);
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

/* ------------------------------------------------------------------ CORS */

/* Sends method path with Origin origin (NULL: none) and a key. */
static struct http_resp from(const struct test_server *ts, const char *origin, const char *method,
			     const char *path, const char *body)
{
	char o[256];
	snprintf(o, sizeof o, "Origin: %s", origin ? origin : "");
	const char *h[4] = {AUTH_DEMO, CT_JSON};
	if (origin)
		h[2] = o;
	return test_request(ts, method, path, h, body);
}

static void check_cors(struct http_resp *r, const char *allow_origin, const char *vary)
{
	const char *v = http_resp_header(r, "Access-Control-Allow-Origin");
	if (allow_origin) {
		CHECK_STR_EQ(v, allow_origin);
		CHECK_STR_EQ(http_resp_header(r, "Access-Control-Expose-Headers"), EXPOSED);
	} else {
		CHECK_NULL(v);
		CHECK_NULL(http_resp_header(r, "Access-Control-Expose-Headers"));
	}
	v = http_resp_header(r, "Vary");
	if (vary)
		CHECK_STR_EQ(v, vary);
	else
		CHECK_NULL(v);
	CHECK_NULL(http_resp_header(r, "Access-Control-Allow-Credentials"));
}

static void cors_off_by_default(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	struct http_resp r = from(ts, "http://localhost:3000", "GET", "/orgs/c/contacts?take=1", NULL);
	CHECK_INT_EQ(r.status, 200);
	check_cors(&r, NULL, NULL);
	http_resp_cleanup(&r);
	/* OPTIONS, a preflight or not: the 405 of a method the route lacks. */
	const char *h[] = {"Origin: http://localhost:3000", "Access-Control-Request-Method: PATCH",
			   "Access-Control-Request-Headers: authorization, content-type", NULL};
	r = test_request(ts, "OPTIONS", "/orgs/c/contacts/ct_ada", h, NULL);
	CHECK_INT_EQ(r.status, 405);
	CHECK_STR_EQ(r.body, "{\"statusCode\":405,\"error\":\"Method Not Allowed\",\"message\":"
			     "\"Method OPTIONS is not allowed on /orgs/c/contacts/ct_ada (allowed: PATCH)\"}");
	CHECK_STR_EQ(http_resp_header(&r, "Allow"), "PATCH");
	check_cors(&r, NULL, NULL);
	CHECK_NULL(http_resp_header(&r, "Access-Control-Allow-Methods"));
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void cors_any_origin(void)
{
	struct test_server *ts = test_server_start(NULL, "--cors", "*", NULL);
	struct http_resp r = from(ts, "http://a.example", "GET", "/orgs/c/contacts?take=1", NULL);
	CHECK_INT_EQ(r.status, 200);
	check_cors(&r, "*", NULL);
	CHECK_STR_EQ(http_resp_header(&r, "pagination-count"), "52");
	http_resp_cleanup(&r);
	r = from(ts, NULL, "PATCH", "/orgs/c/contacts/ct_ada", "{\"blocked\":true}");
	CHECK_INT_EQ(r.status, 200);
	check_cors(&r, "*", NULL);
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void cors_listed_origins(void)
{
	struct test_server *ts =
		test_server_start(NULL, "--cors", "https://app.example, http://localhost:3000", NULL);
	struct http_resp r = from(ts, "http://localhost:3000", "GET", "/orgs/c/contacts?take=1", NULL);
	CHECK_INT_EQ(r.status, 200);
	check_cors(&r, "http://localhost:3000", "Origin");
	http_resp_cleanup(&r);
	r = from(ts, "https://app.example", "PATCH", "/orgs/c/contacts/ct_ada", "{\"blocked\":true}");
	CHECK_INT_EQ(r.status, 200);
	check_cors(&r, "https://app.example", "Origin");
	http_resp_cleanup(&r);
	/* Unlisted, or none: the answer all the same, without leave to read it. */
	static const char *const others[] = {"http://localhost:3001", "https://app.example.evil",
					     "http://app.example", "null"};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
		r = from(ts, others[i], "GET", "/orgs/c/contacts?take=1", NULL);
		CHECK_INT_EQ(r.status, 200);
		check_cors(&r, NULL, "Origin");
		http_resp_cleanup(&r);
	}
	r = from(ts, NULL, "GET", "/orgs/c/contacts?take=1", NULL);
	check_cors(&r, NULL, "Origin");
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void cors_preflight(void)
{
	struct test_server *ts = test_server_start(NULL, "--cors", "http://localhost:3000", NULL);
	const char *h[] = {"Origin: http://localhost:3000", "Access-Control-Request-Method: PATCH",
			   "Access-Control-Request-Headers: authorization,content-type", NULL};
	struct http_resp r = test_request(ts, "OPTIONS", "/orgs/c/contacts/ct_ada", h, NULL);
	CHECK_INT_EQ(r.status, 204);
	CHECK_INT_EQ(r.len, 0);
	check_cors(&r, "http://localhost:3000", "Origin");
	CHECK_STR_EQ(http_resp_header(&r, "Access-Control-Allow-Methods"), "PATCH");
	CHECK_STR_EQ(http_resp_header(&r, "Access-Control-Allow-Headers"), "authorization,content-type");
	CHECK_STR_EQ(http_resp_header(&r, "Access-Control-Max-Age"), "600");
	CHECK_NULL(http_resp_header(&r, "Content-Type"));
	http_resp_cleanup(&r);
	/* The route's methods, whatever was asked; no headers asked, none echoed. */
	const char *h2[] = {"Origin: http://localhost:3000", "Access-Control-Request-Method: DELETE", NULL};
	r = test_request(ts, "OPTIONS", "/orgs/c/contacts", h2, NULL);
	CHECK_INT_EQ(r.status, 204);
	CHECK_STR_EQ(http_resp_header(&r, "Access-Control-Allow-Methods"), "GET, HEAD, POST");
	CHECK_NULL(http_resp_header(&r, "Access-Control-Allow-Headers"));
	http_resp_cleanup(&r);
	/* Not journaled apart: the journal holds what came, preflights too. */
	r = test_request(ts, "GET", "/__admin/requests/count?method=OPTIONS", NULL, NULL);
	CHECK_STR_EQ(r.body, "{\"count\":2}");
	http_resp_cleanup(&r);
	/* An unlisted origin's preflight, or an OPTIONS that is no preflight: 405. */
	const char *h3[] = {"Origin: http://localhost:4000", "Access-Control-Request-Method: PATCH", NULL};
	r = test_request(ts, "OPTIONS", "/orgs/c/contacts/ct_ada", h3, NULL);
	CHECK_INT_EQ(r.status, 405);
	check_cors(&r, NULL, "Origin");
	CHECK_NULL(http_resp_header(&r, "Access-Control-Allow-Methods"));
	http_resp_cleanup(&r);
	const char *h4[] = {"Origin: http://localhost:3000", NULL};
	r = test_request(ts, "OPTIONS", "/orgs/c/contacts/ct_ada", h4, NULL);
	CHECK_INT_EQ(r.status, 405);
	check_cors(&r, "http://localhost:3000", "Origin");
	http_resp_cleanup(&r);
	/* A preflight to a path of no route: its 404, readable. */
	r = test_request(ts, "OPTIONS", "/orgs/c/nothing", h, NULL);
	CHECK_INT_EQ(r.status, 404);
	check_cors(&r, "http://localhost:3000", "Origin");
	http_resp_cleanup(&r);
	/* Answered before key, faults and rate limit. */
	const char *fault_h[] = {CT_JSON, NULL};
	r = test_request(ts, "POST", "/__admin/faults", fault_h, "{\"path\":\"/orgs/*\",\"status\":500}");
	CHECK_INT_EQ(r.status, 201);
	http_resp_cleanup(&r);
	r = test_request(ts, "OPTIONS", "/orgs/c/contacts/ct_ada", h, NULL);
	CHECK_INT_EQ(r.status, 204);
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

/* Every answer to an allowed origin carries CORS, errors too. */
static void cors_on_errors(void)
{
	struct test_server *ts = test_server_start(NULL, "--cors", "http://localhost:3000",
						   "--rate-limit", "--rate-limit-per-minute", "4", NULL);
	const char *o = "http://localhost:3000";
	struct {
		const char *method, *path, *body;
		const char *key;
		long status;
	} cases[] = {
		{"GET", "/orgs/c/contacts", NULL, NULL, 401},
		{"GET", "/orgs/c/contacts?take=0", NULL, AUTH_DEMO, 400},
		{"PATCH", "/orgs/c/contacts/ct_nobody", "{\"blocked\":true}", AUTH_DEMO, 404},
		{"PATCH", "/orgs/c/contacts/ct_ada", "{\"blocked\":", AUTH_DEMO, 400},
		{"DELETE", "/orgs/c/contacts/ct_ada", NULL, AUTH_DEMO, 405},
		{"GET", "/orgs/c/nothing", NULL, AUTH_DEMO, 404},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char origin[64], key[64];
		snprintf(origin, sizeof origin, "Origin: %s", o);
		snprintf(key, sizeof key, "%s", cases[i].key ? cases[i].key : "X-No: key");
		const char *h[] = {origin, key, CT_JSON, NULL};
		struct http_resp r = test_request(ts, cases[i].method, cases[i].path, h, cases[i].body);
		CHECK_INT_EQ(r.status, cases[i].status);
		check_cors(&r, o, "Origin");
		http_resp_cleanup(&r);
	}
	/* 401, 400, 404 and 400 counted (not the 405 nor the 404 of no route).
	 * Past the limit: the 429 and its Retry-After, which a page may read. */
	struct http_resp r = from(ts, o, "GET", "/orgs/c/contacts?take=1", NULL);
	CHECK_INT_EQ(r.status, 429);
	check_cors(&r, o, "Origin");
	CHECK(http_resp_header(&r, "Retry-After"));
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

/* Never on /__admin/, whatever --cors says. */
static void cors_never_on_admin(void)
{
	struct test_server *ts = test_server_start(NULL, "--cors", "*", NULL);
	struct http_resp r = test_request(ts, "GET", "/__admin/health", NULL, NULL);
	CHECK_INT_EQ(r.status, 200);
	check_cors(&r, NULL, NULL);
	http_resp_cleanup(&r);
	const char *h[] = {"Origin: http://a.example", "Access-Control-Request-Method: POST", NULL};
	r = test_request(ts, "OPTIONS", "/__admin/reset", h, NULL);
	CHECK_INT_EQ(r.status, 403);
	check_cors(&r, NULL, NULL);
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static void cors_flag_values(void)
{
	static const struct {
		const char *value, *stored, *error;
	} cases[] = {
		{"*", "*", NULL},
		{"http://localhost:3000", "http://localhost:3000", NULL},
		{" https://a.example , http://[::1]:8080 ", "https://a.example,http://[::1]:8080", NULL},
		{"", NULL, NULL},
		{"ftp://a.example", NULL, "--cors: \"ftp://a.example\" is not an origin (scheme://host[:port]) or *"},
		{"http://a.example/", NULL, "--cors: \"http://a.example/\" is not an origin (scheme://host[:port]) or *"},
		{"a.example", NULL, "--cors: \"a.example\" is not an origin (scheme://host[:port]) or *"},
		{"http://", NULL, "--cors: \"http://\" is not an origin (scheme://host[:port]) or *"},
		{"http://a.example,,http://b.example", NULL, "--cors: \"\" is not an origin (scheme://host[:port]) or *"},
		{"*,http://a.example", NULL, "--cors: * allows every origin: it cannot go with a list"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct config c;
		config_init(&c);
		struct error err = {0};
		char *argv[] = {"invent-mock", "--cors", (char *)(uintptr_t)cases[i].value, NULL};
		int rc = config_parse(&c, 3, argv, &err);
		if (cases[i].error) {
			CHECK_INT_EQ(rc, -1);
			CHECK_STR_EQ(err.msg, cases[i].error);
		} else {
			CHECK_INT_EQ(rc, 0);
			if (cases[i].stored)
				CHECK_STR_EQ(c.cors, cases[i].stored);
			else
				CHECK_NULL(c.cors);
		}
		config_cleanup(&c);
	}
	setenv("INVENT_MOCK_CORS", "http://env.example", 1);
	struct config c;
	config_init(&c);
	struct error err = {0};
	char *argv[] = {"invent-mock", NULL};
	CHECK_INT_EQ(config_parse(&c, 1, argv, &err), 0);
	CHECK_STR_EQ(c.cors, "http://env.example");
	config_cleanup(&c);
	unsetenv("INVENT_MOCK_CORS");
}

/* ------------------------------------------------- the admin API and pages */

static void admin_refuses_other_origins(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	struct http_resp r = from(ts, NULL, "PATCH", "/orgs/c/contacts/ct_ada", "{\"blocked\":true}");
	CHECK_INT_EQ(r.status, 200);
	http_resp_cleanup(&r);
	static const char *const refused[] = {
		"Origin: http://evil.example",
		"Origin: null",
		"Origin: http://127.0.0.1:1", /* another port is another origin */
		"Sec-Fetch-Site: cross-site",
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		/* A "simple request": a form could send it without a preflight. */
		const char *h[] = {refused[i], "Content-Type: text/plain", NULL};
		r = test_request(ts, "POST", "/__admin/reset", h, NULL);
		CHECK_INT_EQ(r.status, 403);
		CHECK_STR_EQ(r.body, "{\"statusCode\":403,\"error\":\"Forbidden\",\"message\":"
				     "\"The admin API refuses requests from web pages of other origins\"}");
		CHECK_NULL(http_resp_header(&r, "Access-Control-Allow-Origin"));
		http_resp_cleanup(&r);
		const char *g[] = {refused[i], NULL};
		r = test_request(ts, "GET", "/__admin/requests", g, NULL);
		CHECK_INT_EQ(r.status, 403);
		http_resp_cleanup(&r);
		r = test_request(ts, "GET", "/__admin/nothing", g, NULL);
		CHECK_INT_EQ(r.status, 403);
		http_resp_cleanup(&r);
	}
	/* Nothing was reset. */
	char *c = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	CHECK(strstr(c, "\"blocked\":true,"));
	free(c);
	/* The server's own origin (the console's), or no Origin: as ever. */
	char own[64];
	snprintf(own, sizeof own, "Origin: http://127.0.0.1:%u", ts->port);
	const char *ok[][3] = {
		{own, CT_JSON, NULL},
		{own, "Sec-Fetch-Site: same-origin", NULL},
		{"Sec-Fetch-Site: none", NULL, NULL},
		{"Sec-Fetch-Site: same-site", NULL, NULL},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		r = test_request(ts, "POST", "/__admin/reset", ok[i], NULL);
		CHECK_INT_EQ(r.status, 200);
		http_resp_cleanup(&r);
	}
	c = test_stored_contact(ts, "sk_test_demo", "c", "ct_ada");
	CHECK(strstr(c, "\"blocked\":false,"));
	free(c);
	/* A link followed from another site (to the console): a GET navigation
	 * passes; a form's POST, a navigation too, does not. */
	const char *nav[] = {"Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: navigate", NULL};
	r = test_request(ts, "GET", "/__admin/health", nav, NULL);
	CHECK_INT_EQ(r.status, 200);
	http_resp_cleanup(&r);
	const char *form[] = {"Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: navigate",
			      "Origin: http://evil.example", "Content-Type: application/x-www-form-urlencoded", NULL};
	r = test_request(ts, "POST", "/__admin/reset", form, NULL);
	CHECK_INT_EQ(r.status, 403);
	http_resp_cleanup(&r);
	const char *form_no_origin[] = {"Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: navigate", NULL};
	r = test_request(ts, "POST", "/__admin/reset", form_no_origin, NULL);
	CHECK_INT_EQ(r.status, 403);
	http_resp_cleanup(&r);
	/* The API itself is for any page (with --cors, readable). */
	const char *api[] = {"Origin: http://evil.example", "Sec-Fetch-Site: cross-site", AUTH_DEMO, NULL};
	r = test_request(ts, "GET", "/orgs/c/contacts?take=1", api, NULL);
	CHECK_INT_EQ(r.status, 200);
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

/* DNS rebinding: a page at a name made to point at 127.0.0.1 is same-origin to
 * its browser, and sends Host: that name. */
static void admin_refuses_foreign_hosts(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	char req_text[512];
	static const struct {
		const char *host;
		bool port; /* followed by ":" and the port */
		int status;
	} cases[] = {
		{"evil.example", false, 403},	 {"evil.example", true, 403},
		{"127.0.0.1.evil.example", false, 403}, {"10.0.0.1", true, 403},
		{"localhost", true, 200},	 {"LOCALHOST", false, 200},
		{"app.localhost", true, 200},	 {"127.0.0.1", true, 200},
		{"127.1.2.3", false, 200},	 {"[::1]", true, 200},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char host[128];
		if (cases[i].port)
			snprintf(host, sizeof host, "%s:%u", cases[i].host, ts->port);
		else
			snprintf(host, sizeof host, "%s", cases[i].host);
		snprintf(req_text, sizeof req_text,
			 "GET /__admin/health HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host);
		size_t len;
		char *a = raw(ts, req_text, &len);
		int status = 0;
		sscanf(a, "HTTP/1.1 %d", &status);
		if (status != cases[i].status)
			fprintf(stderr, "Host: %s answered %d\n", host, status);
		CHECK_INT_EQ(status, cases[i].status);
		if (status == 403)
			CHECK(strstr(a, "\"message\":\"The admin API answers only a Host that is a loopback "
					"name or address, or --host (else give --admin-token)\"}"));
		free(a);
	}
	/* The API does not care. */
	size_t len;
	char *a = raw(ts, "GET /orgs/c/contacts?take=1 HTTP/1.1\r\nHost: evil.example\r\n"
			  "Connection: close\r\n" AUTH_DEMO "\r\n\r\n", &len);
	CHECK(!strncmp(a, "HTTP/1.1 200 ", 13));
	free(a);
	test_server_stop(ts);
	/* With --admin-token, which such a page cannot know, any Host. */
	ts = test_server_start(NULL, "--admin-token", "sekret", NULL);
	a = raw(ts, "GET /__admin/health HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n", &len);
	CHECK(!strncmp(a, "HTTP/1.1 401 ", 13));
	free(a);
	a = raw(ts, "GET /__admin/health HTTP/1.1\r\nHost: my-ci-box:8080\r\nConnection: close\r\n"
		    "Authorization: Bearer sekret\r\n\r\n", &len);
	CHECK(!strncmp(a, "HTTP/1.1 200 ", 13));
	free(a);
	/* But still no page of another origin. */
	a = raw(ts, "GET /__admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
		    "Origin: http://evil.example\r\nAuthorization: Bearer sekret\r\n\r\n", &len);
	CHECK(!strncmp(a, "HTTP/1.1 403 ", 13));
	free(a);
	test_server_stop(ts);
}

static const struct test_case cases[] = {
	TEST_CASE("head@get-routes-as-get-without-body", head_of_get_routes),
	TEST_CASE("head@errors-of-get-routes", head_of_errors),
	TEST_CASE("head@without-get-is-405", head_without_get_is_405),
	TEST_CASE("head@journaled-without-body", head_journaled_without_body),
	TEST_CASE("cors@off-by-default-options-405", cors_off_by_default),
	TEST_CASE("cors@any-origin", cors_any_origin),
	TEST_CASE("cors@listed-origins", cors_listed_origins),
	TEST_CASE("cors@preflight", cors_preflight),
	TEST_CASE("cors@errors-carry-cors", cors_on_errors),
	TEST_CASE("cors@never-on-admin", cors_never_on_admin),
	TEST_CASE("cors@flag-values", cors_flag_values),
	TEST_CASE("admin-guard@refuses-other-origins", admin_refuses_other_origins),
	TEST_CASE("admin-guard@refuses-foreign-hosts", admin_refuses_foreign_hosts),
};

TEST_MAIN(cases)
