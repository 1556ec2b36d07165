/* GET /__admin/events (Server-Sent Events) and GET /__admin/requests/{id}: an
 * event per journal entry equal to the entry, the state events, Last-Event-ID,
 * the bound on subscribers, clients that leave, keep-alive comments, and a
 * stop with streams open. The server runs in this process; the streams are read
 * over raw sockets, their chunked framing decoded here, so that what the
 * server holds (descriptors, memory under ASan or valgrind) can be checked. */
#include "app.h"
#include "config.h"
#include "http_util.h"
#include "testlib.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define AUTH_DEMO "Authorization: Bearer sk_test_demo"
#define CT_JSON "Content-Type: application/json"

/* ----------------------------------------------------------------- helpers */

/* As test_server_start, with the keep-alive period of the event streams set. */
static struct test_server *start_keepalive(unsigned keepalive_ms)
{
	(void)test_server_start; /* the usual start, but for the one field */
	char *argv[] = {"invent-mock", "--db", ":memory:", "--port", "0", "--log", "off", NULL};
	struct test_server *ts = xcalloc(1, sizeof *ts);
	ts->config = xcalloc(1, sizeof *ts->config);
	config_init(ts->config);
	struct error err = {0};
	CHECK(config_parse(ts->config, 7, argv, &err) == 0);
	ts->config->events_keepalive_ms = keepalive_ms;
	if (app_start(ts->config, &ts->app, &err)) {
		fprintf(stderr, "test server did not start: %s\n", err.msg);
		exit(1);
	}
	ts->port = app_port(ts->app);
	snprintf(ts->base, sizeof ts->base, "http://127.0.0.1:%u", ts->port);
	return ts;
}

static struct test_server *start(void)
{
	return test_server_start(NULL, NULL);
}

/* A request whose answer must have status; its answer freed. */
static void call(const struct test_server *ts, const char *method, const char *path,
		 const char *body, long status)
{
	const char *h[] = {AUTH_DEMO, CT_JSON, NULL};
	struct http_resp r = test_request(ts, method, path, h, body);
	if (r.status != status)
		fprintf(stderr, "%s %s: %ld %s\n", method, path, r.status, r.body);
	CHECK_INT_EQ(r.status, status);
	http_resp_cleanup(&r);
}

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Descriptors this process has open. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	CHECK(d);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", ".." and the DIR's own */
}

/* Waits up to ms for the count of open descriptors to come down to want. */
static void wait_fds(int want, int ms)
{
	int64_t until = now_ms() + ms;
	int n;
	while ((n = open_fds()) > want && now_ms() < until)
		usleep(20 * 1000);
	if (n != want)
		fprintf(stderr, "%d descriptors open, expected %d\n", n, want);
	CHECK_INT_EQ(n, want);
}

/* A raw client of a streamed answer: the head, then the chunked body decoded. */
struct stream {
	int fd;
	int status;
	char *head;	 /* the answer's head, NUL-terminated */
	char *raw;	 /* bytes read past the head, not yet decoded */
	size_t raw_len;
	char *body;	 /* decoded, NUL-terminated */
	size_t body_len, taken; /* events handed out end at taken */
	bool ended;	 /* the last chunk, or the connection closed */
};

static void append(char **p, size_t *len, const char *s, size_t n)
{
	*p = xrealloc(*p, *len + n + 1);
	memcpy(*p + *len, s, n);
	*len += n;
	(*p)[*len] = '\0';
}

/* Decodes the whole chunks in s->raw into s->body. */
static void dechunk(struct stream *s)
{
	for (;;) {
		char *crlf = s->raw_len ? memmem(s->raw, s->raw_len, "\r\n", 2) : NULL;
		if (!crlf)
			return;
		size_t size = strtoul(s->raw, NULL, 16);
		size_t head = (size_t)(crlf - s->raw) + 2;
		if (s->raw_len < head + size + 2)
			return;
		if (size == 0)
			s->ended = true;
		append(&s->body, &s->body_len, s->raw + head, size);
		memmove(s->raw, s->raw + head + size + 2, s->raw_len - head - size - 2);
		s->raw_len -= head + size + 2;
		if (s->ended)
			return;
	}
}

/* Reads what arrives within ms (at least one read when any is pending);
 * false once the connection has closed. */
static bool pump(struct stream *s, int ms)
{
	struct pollfd p = {.fd = s->fd, .events = POLLIN};
	if (poll(&p, 1, ms) <= 0)
		return true;
	char buf[65536];
	ssize_t k = read(s->fd, buf, sizeof buf);
	if (k <= 0) {
		s->ended = true;
		return false;
	}
	if (!s->head) {
		append(&s->raw, &s->raw_len, buf, (size_t)k);
		char *end = memmem(s->raw, s->raw_len, "\r\n\r\n", 4);
		if (!end)
			return true;
		size_t n = (size_t)(end - s->raw) + 4;
		s->head = xstrndup(s->raw, n);
		sscanf(s->head, "HTTP/1.1 %d", &s->status);
		memmove(s->raw, s->raw + n, s->raw_len - n);
		s->raw_len -= n;
	} else {
		append(&s->raw, &s->raw_len, buf, (size_t)k);
	}
	if (strstr(s->head, "Transfer-Encoding: chunked"))
		dechunk(s);
	else {
		append(&s->body, &s->body_len, s->raw, s->raw_len);
		s->raw_len = 0;
	}
	return true;
}

/* GET /__admin/events with extra header lines ("Name: value\r\n"...), its head
 * read (and for a 200, the opening comment, so that it is subscribed). */
static struct stream *subscribe(const struct test_server *ts, const char *extra)
{
	struct stream *s = xcalloc(1, sizeof *s);
	s->fd = test_connect(ts);
	char *get = xasprintf("GET /__admin/events HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n%s\r\n",
			      ts->port, extra ? extra : "");
	CHECK(write(s->fd, get, strlen(get)) == (ssize_t)strlen(get));
	free(get);
	int64_t until = now_ms() + 5000;
	while (now_ms() < until && !(s->head && (s->status != 200 || s->body_len)) && pump(s, 100))
		;
	CHECK(s->head);
	if (s->status == 200) {
		CHECK(!strncmp(s->body, ": subscribed\n\n", 14));
		s->taken = 14;
	}
	return s;
}

static void stream_close(struct stream *s)
{
	close(s->fd);
	free(s->head);
	free(s->raw);
	free(s->body);
	free(s);
}

struct event {
	long long id;	 /* -1: no id line */
	char type[32];	 /* "event:"; "" for a comment */
	char *data;	 /* the data line, or the comment's text; heap */
};

/* The next event (or comment) of s within ms, or false. */
static bool next_event(struct stream *s, struct event *e, int ms)
{
	int64_t until = now_ms() + ms;
	for (;;) {
		char *start = s->body ? s->body + s->taken : NULL;
		char *end = start ? strstr(start, "\n\n") : NULL;
		if (end) {
			*e = (struct event){.id = -1};
			*end = '\0';
			for (char *line = start; line && *line;) {
				char *nl = strchr(line, '\n');
				if (nl)
					*nl = '\0';
				if (!strncmp(line, "id: ", 4))
					e->id = atoll(line + 4);
				else if (!strncmp(line, "event: ", 7))
					snprintf(e->type, sizeof e->type, "%s", line + 7);
				else if (!strncmp(line, "data: ", 6))
					e->data = xstrdup(line + 6);
				else if (line[0] == ':')
					e->data = xstrdup(line + 1 + (line[1] == ' '));
				else
					CHECK(!"a line of no SSE field");
				line = nl ? nl + 1 : NULL;
			}
			s->taken = (size_t)(end - s->body) + 2;
			return true;
		}
		int left = (int)(until - now_ms());
		if (left <= 0 || s->ended)
			return false;
		pump(s, left < 100 ? left : 100);
	}
}

/* The next event that is not a comment; exits the test when none comes. */
static struct event expect_event(struct stream *s)
{
	struct event e;
	for (;;) {
		CHECK(next_event(s, &e, 5000));
		if (e.type[0])
			return e;
		free(e.data);
	}
}

/* Checks no event (but comments) comes within ms. */
static void expect_quiet(struct stream *s, int ms)
{
	struct event e;
	int64_t until = now_ms() + ms;
	while (now_ms() < until && next_event(s, &e, (int)(until - now_ms()))) {
		if (e.type[0])
			fprintf(stderr, "unexpected event %s %lld: %s\n", e.type, e.id, e.data);
		CHECK(!e.type[0]);
		free(e.data);
	}
}

/* GET /__admin/requests/{id}, parsed. */
static cJSON *entry(const struct test_server *ts, long long id)
{
	char path[64];
	snprintf(path, sizeof path, "/__admin/requests/%lld", id);
	struct http_resp r = test_request(ts, "GET", path, NULL, NULL);
	CHECK_INT_EQ(r.status, 200);
	cJSON *j = cJSON_Parse(r.body);
	CHECK(j);
	http_resp_cleanup(&r);
	return j;
}

/* Checks e is entry id's event: its id, and as data the entry without bodies. */
static void check_entry_event(const struct test_server *ts, struct event *e, long long id,
			      const char *method, const char *path, int status)
{
	CHECK_STR_EQ(e->type, "request");
	CHECK_INT_EQ(e->id, id);
	cJSON *data = cJSON_Parse(e->data);
	CHECK(data);
	CHECK(!strchr(e->data, '\n'));
	CHECK_INT_EQ(cJSON_GetObjectItemCaseSensitive(data, "id")->valuedouble, id);
	CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(data, "method")->valuestring, method);
	CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(data, "path")->valuestring, path);
	CHECK_INT_EQ(cJSON_GetObjectItemCaseSensitive(data, "status")->valuedouble, status);
	CHECK(!cJSON_GetObjectItemCaseSensitive(data, "request_body"));
	CHECK(!cJSON_GetObjectItemCaseSensitive(data, "response_body"));
	cJSON *full = entry(ts, id);
	cJSON_DeleteItemFromObjectCaseSensitive(full, "request_body");
	cJSON_DeleteItemFromObjectCaseSensitive(full, "response_body");
	if (!cJSON_Compare(data, full, true)) {
		char *want = cJSON_PrintUnformatted(full);
		fprintf(stderr, "event data: %s\nthe entry:  %s\n", e->data, want);
		free(want);
		CHECK(0);
	}
	cJSON_Delete(full);
	cJSON_Delete(data);
	free(e->data);
}

static void check_state_event(struct event *e, const char *data)
{
	CHECK_STR_EQ(e->type, "state");
	CHECK_INT_EQ(e->id, -1);
	CHECK_STR_EQ(e->data, data);
	free(e->data);
}

/* ------------------------------------------------- GET /__admin/requests/{id} */

static void request_by_id(void)
{
	struct test_server *ts = start();
	call(ts, "PATCH", "/orgs/c/contacts/ct_ada", "{\"blocked\":true}", 200);
	call(ts, "GET", "/orgs/c/contacts/ct_nobody/segments", NULL, 404);
	struct http_resp all = test_request(ts, "GET", "/__admin/requests", NULL, NULL);
	cJSON *list = cJSON_Parse(all.body);
	CHECK_INT_EQ(cJSON_GetArraySize(list), 2);
	for (int id = 1; id <= 2; id++) {
		cJSON *one = entry(ts, id);
		/* The list is newest first. */
		CHECK(cJSON_Compare(one, cJSON_GetArrayItem(list, 2 - id), true));
		cJSON_Delete(one);
	}
	cJSON_Delete(list);
	http_resp_cleanup(&all);
	static const char *const missing[] = {"/__admin/requests/3", "/__admin/requests/0",
					      "/__admin/requests/abc", "/__admin/requests/-1",
					      "/__admin/requests/1x", "/__admin/requests/99999999999999999999"};
	for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
		struct http_resp r = test_request(ts, "GET", missing[i], NULL, NULL);
		CHECK_INT_EQ(r.status, 404);
		CHECK_STR_EQ(r.body, "{\"statusCode\":404,\"error\":\"Not Found\",\"message\":\"Request not found\"}");
		http_resp_cleanup(&r);
	}
	/* Still the count route. */
	struct http_resp r = test_request(ts, "GET", "/__admin/requests/count", NULL, NULL);
	CHECK_STR_EQ(r.body, "{\"count\":2}");
	http_resp_cleanup(&r);
	/* Emptied: no longer held. */
	r = test_request(ts, "DELETE", "/__admin/requests", NULL, NULL);
	CHECK_INT_EQ(r.status, 204);
	http_resp_cleanup(&r);
	r = test_request(ts, "GET", "/__admin/requests/1", NULL, NULL);
	CHECK_INT_EQ(r.status, 404);
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

/* ---------------------------------------------------------------- events */

static void an_event_per_request(void)
{
	struct test_server *ts = start();
	struct stream *s = subscribe(ts, NULL);
	CHECK_INT_EQ(s->status, 200);
	CHECK(strstr(s->head, "\r\nContent-Type: text/event-stream\r\n"));
	CHECK(strstr(s->head, "\r\nCache-Control: no-store\r\n"));
	CHECK(strstr(s->head, "\r\nTransfer-Encoding: chunked\r\n"));
	call(ts, "PATCH", "/orgs/c/contacts/ct_ada", "{\"blocked\":true}", 200);
	call(ts, "GET", "/orgs/c/contacts?take=2", NULL, 200);
	call(ts, "PATCH", "/orgs/c/contacts/ct_nobody", "{\"blocked\":true}", 404);
	call(ts, "GET", "/__admin/health", NULL, 200); /* not journaled: no event */
	call(ts, "PATCH", "/orgs/c/contacts/ct_ada", "{\"name\":5}", 400);
	struct event e = expect_event(s);
	/* The PATCH that changed a contact carries it before and after. */
	CHECK(strstr(e.data, "\"contact_before\":{\"id\":\"ct_ada\""));
	CHECK(strstr(e.data, "\"blocked\":true,\"unsubscribed\""));
	check_entry_event(ts, &e, 1, "PATCH", "/orgs/c/contacts/ct_ada", 200);
	e = expect_event(s);
	check_entry_event(ts, &e, 2, "GET", "/orgs/c/contacts", 200);
	e = expect_event(s);
	check_entry_event(ts, &e, 3, "PATCH", "/orgs/c/contacts/ct_nobody", 404);
	e = expect_event(s);
	check_entry_event(ts, &e, 4, "PATCH", "/orgs/c/contacts/ct_ada", 400);
	expect_quiet(s, 300);
	stream_close(s);
	test_server_stop(ts);
}

/* Every subscriber gets every event, in the order of the ids, while several
 * clients send at once. */
struct sender {
	const struct test_server *ts;
	int n;
};

static void *send_patches(void *arg)
{
	struct sender *sd = arg;
	for (int i = 0; i < sd->n; i++)
		call(sd->ts, "PATCH", "/orgs/c/contacts/ct_ada", i % 2 ? "{\"blocked\":true}" : "{\"blocked\":false}", 200);
	return NULL;
}

static void events_in_order_to_every_subscriber(void)
{
	struct test_server *ts = test_server_start(NULL, "--threads", "4", NULL);
	enum { SUBS = 5, SENDERS = 4, EACH = 25 };
	struct stream *s[SUBS];
	for (int i = 0; i < SUBS; i++)
		s[i] = subscribe(ts, NULL);
	pthread_t t[SENDERS];
	struct sender sd = {ts, EACH};
	for (int i = 0; i < SENDERS; i++)
		CHECK(pthread_create(&t[i], NULL, send_patches, &sd) == 0);
	for (int i = 0; i < SENDERS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < SUBS; i++) {
		for (long long id = 1; id <= SENDERS * EACH; id++) {
			struct event e = expect_event(s[i]);
			CHECK_STR_EQ(e.type, "request");
			CHECK_INT_EQ(e.id, id);
			free(e.data);
		}
		expect_quiet(s[i], 50);
		stream_close(s[i]);
	}
	test_server_stop(ts);
}

static void resume_by_last_event_id(void)
{
	struct test_server *ts = start();
	for (int i = 0; i < 5; i++)
		call(ts, "GET", "/orgs/c/contacts?take=1", NULL, 200);
	struct stream *s = subscribe(ts, "Last-Event-ID: 2\r\n");
	CHECK_INT_EQ(s->status, 200);
	for (long long id = 3; id <= 5; id++) {
		struct event e = expect_event(s);
		check_entry_event(ts, &e, id, "GET", "/orgs/c/contacts", 200);
	}
	/* Then live, after the replay. */
	call(ts, "PATCH", "/orgs/c/contacts/ct_ada", "{\"blocked\":true}", 200);
	struct event e = expect_event(s);
	check_entry_event(ts, &e, 6, "PATCH", "/orgs/c/contacts/ct_ada", 200);
	expect_quiet(s, 200);
	stream_close(s);

	/* From 0: everything held; past the newest: nothing but what comes. */
	s = subscribe(ts, "Last-Event-ID: 0\r\n");
	for (long long id = 1; id <= 6; id++) {
		e = expect_event(s);
		CHECK_INT_EQ(e.id, id);
		free(e.data);
	}
	expect_quiet(s, 200);
	stream_close(s);
	s = subscribe(ts, "Last-Event-ID: 100\r\n");
	expect_quiet(s, 200);
	call(ts, "GET", "/orgs/c/contacts?take=1", NULL, 200);
	e = expect_event(s);
	CHECK_INT_EQ(e.id, 7);
	free(e.data);
	stream_close(s);

	/* Entries no longer held are not replayed: the journal was emptied. */
	call(ts, "DELETE", "/__admin/requests", NULL, 204);
	call(ts, "GET", "/orgs/c/contacts?take=1", NULL, 200);
	s = subscribe(ts, "Last-Event-ID: 3\r\n");
	e = expect_event(s);
	CHECK_INT_EQ(e.id, 8);
	free(e.data);
	expect_quiet(s, 200);
	stream_close(s);

	static const char *const bad[] = {"Last-Event-ID: abc\r\n", "Last-Event-ID: -1\r\n",
					  "Last-Event-ID: 1.5\r\n", "Last-Event-ID: +3\r\n"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		s = subscribe(ts, bad[i]);
		CHECK_INT_EQ(s->status, 400);
		while (!strstr(s->body ? s->body : "", "}") && pump(s, 100))
			;
		CHECK_STR_EQ(s->body, "{\"statusCode\":400,\"error\":\"Bad Request\",\"message\":"
				      "\"Last-Event-ID must be an event id (a whole number)\"}");
		stream_close(s);
	}
	test_server_stop(ts);
}

static void state_events(void)
{
	struct test_server *ts = test_server_start(NULL, "--clock", "2030-01-01T00:00:00Z", NULL);
	struct stream *s = subscribe(ts, NULL);
	/* In the order things happened: a request's event before a reset's. */
	call(ts, "PATCH", "/orgs/c/contacts/ct_ada", "{\"blocked\":true}", 200);
	call(ts, "POST", "/__admin/reset", NULL, 200);
	struct event first = expect_event(s);
	CHECK_STR_EQ(first.type, "request");
	CHECK_INT_EQ(first.id, 1);
	free(first.data);
	first = expect_event(s);
	check_state_event(&first, "{\"kind\":\"reset\",\"org_id\":null,\"everything\":false}");
	call(ts, "POST", "/__admin/reset", "{\"org_id\":\"org_demo\"}", 200);
	call(ts, "POST", "/__admin/reset", NULL, 200);
	call(ts, "POST", "/__admin/reset", "{\"everything\":true}", 200);
	const char *h[] = {CT_JSON, NULL};
	struct http_resp r = test_request(ts, "POST", "/__admin/orgs", h, "{\"from\":\"org_demo\"}");
	CHECK_INT_EQ(r.status, 201);
	cJSON *made = cJSON_Parse(r.body);
	char *org = xstrdup(cJSON_GetObjectItemCaseSensitive(made, "org_id")->valuestring);
	cJSON_Delete(made);
	http_resp_cleanup(&r);
	char *path = xasprintf("/__admin/orgs/%s", org);
	call(ts, "DELETE", path, NULL, 204);
	call(ts, "DELETE", path, NULL, 404); /* nothing changed: no event */
	call(ts, "POST", "/__admin/clock", "{\"advance_ms\":1500}", 200);
	call(ts, "POST", "/__admin/faults", "{\"path\":\"/orgs/*\",\"status\":503}", 201);
	call(ts, "DELETE", "/__admin/faults/1", NULL, 204);
	call(ts, "DELETE", "/__admin/faults/1", NULL, 404); /* no event */
	call(ts, "DELETE", "/__admin/faults", NULL, 204);
	call(ts, "DELETE", "/__admin/requests", NULL, 204);
	call(ts, "POST", "/__admin/clock", "{\"frozen_at\":5}", 400); /* no event */

	struct event e = expect_event(s);
	check_state_event(&e, "{\"kind\":\"reset\",\"org_id\":\"org_demo\",\"everything\":false}");
	e = expect_event(s);
	check_state_event(&e, "{\"kind\":\"reset\",\"org_id\":null,\"everything\":false}");
	e = expect_event(s);
	check_state_event(&e, "{\"kind\":\"reset\",\"org_id\":null,\"everything\":true}");
	char *want = xasprintf("{\"kind\":\"orgs\",\"org_id\":\"%s\",\"change\":\"created\"}", org);
	e = expect_event(s);
	check_state_event(&e, want);
	free(want);
	want = xasprintf("{\"kind\":\"orgs\",\"org_id\":\"%s\",\"change\":\"deleted\"}", org);
	e = expect_event(s);
	check_state_event(&e, want);
	free(want);
	e = expect_event(s);
	check_state_event(&e, "{\"kind\":\"clock\",\"now\":\"2030-01-01T00:00:01.500Z\",\"frozen\":true}");
	for (int i = 0; i < 3; i++) {
		e = expect_event(s);
		check_state_event(&e, "{\"kind\":\"faults\"}");
	}
	e = expect_event(s);
	check_state_event(&e, "{\"kind\":\"journal\"}");
	expect_quiet(s, 200);
	/* An import (here of the export) once it has committed. */
	r = test_request(ts, "GET", "/__admin/export", NULL, NULL);
	CHECK_INT_EQ(r.status, 200);
	struct http_resp imp = test_request(ts, "POST", "/__admin/import", h, r.body);
	CHECK_INT_EQ(imp.status, 200);
	cJSON *answer = cJSON_Parse(imp.body);
	want = xasprintf("{\"kind\":\"import\",\"fixtures\":\"POST /__admin/import\",\"fixtures_hash\":\"%s\",\"orgs\":%d,\"contacts\":%d}",
			 cJSON_GetObjectItemCaseSensitive(answer, "fixtures_hash")->valuestring,
			 (int)cJSON_GetObjectItemCaseSensitive(answer, "orgs")->valuedouble,
			 (int)cJSON_GetObjectItemCaseSensitive(answer, "contacts")->valuedouble);
	cJSON_Delete(answer);
	http_resp_cleanup(&imp);
	http_resp_cleanup(&r);
	e = expect_event(s);
	check_state_event(&e, want);
	free(want);
	expect_quiet(s, 200);
	free(path);
	free(org);
	stream_close(s);
	test_server_stop(ts);
}

/* EVENTS_MAX_SUBSCRIBERS (32) at once; the next is 503 in the envelope; once
 * one leaves, there is room again. */
static void subscribers_bounded(void)
{
	struct test_server *ts = start();
	struct stream *s[32];
	for (int i = 0; i < 32; i++) {
		s[i] = subscribe(ts, NULL);
		CHECK_INT_EQ(s[i]->status, 200);
	}
	struct stream *extra = subscribe(ts, NULL);
	CHECK_INT_EQ(extra->status, 503);
	while (!strstr(extra->body ? extra->body : "", "}") && pump(extra, 100))
		;
	CHECK_STR_EQ(extra->body, "{\"statusCode\":503,\"error\":\"Service Unavailable\",\"message\":"
				  "\"Too many event subscribers: at most 32 at once\"}");
	stream_close(extra);
	/* Everyone still gets the events. */
	call(ts, "GET", "/orgs/c/contacts?take=1", NULL, 200);
	for (int i = 0; i < 32; i++) {
		struct event e = expect_event(s[i]);
		CHECK_INT_EQ(e.id, 1);
		free(e.data);
	}
	stream_close(s[0]);
	/* The server notices the client gone within its look (200 ms). */
	int64_t until = now_ms() + 3000;
	for (;;) {
		extra = subscribe(ts, NULL);
		if (extra->status == 200 || now_ms() > until)
			break;
		stream_close(extra);
		usleep(50 * 1000);
	}
	CHECK_INT_EQ(extra->status, 200);
	stream_close(extra);
	for (int i = 1; i < 32; i++)
		stream_close(s[i]);
	test_server_stop(ts);
}

/* A client that leaves while its stream waits (suspended, out of
 * libmicrohttpd's loop) is noticed and freed: no descriptor stays open (and no
 * memory, which the ASan and valgrind runs check at exit). Also when it
 * leaves while events are queued for it. */
static void client_that_leaves_is_freed(void)
{
	struct test_server *ts = start();
	int before = open_fds();
	struct stream *s[10];
	for (int i = 0; i < 10; i++)
		s[i] = subscribe(ts, NULL);
	CHECK_INT_EQ(open_fds(), before + 20); /* each end of each connection */
	for (int i = 0; i < 5; i++)
		stream_close(s[i]);
	wait_fds(before + 10, 3000);
	/* Some with events they never read. */
	for (int i = 0; i < 20; i++)
		call(ts, "PATCH", "/orgs/c/contacts/ct_ada", i % 2 ? "{\"blocked\":true}" : "{\"blocked\":false}", 200);
	for (int i = 5; i < 10; i++)
		stream_close(s[i]);
	wait_fds(before, 3000);
	/* And the server goes on. */
	struct stream *again = subscribe(ts, "Last-Event-ID: 19\r\n");
	struct event e = expect_event(again);
	CHECK_INT_EQ(e.id, 20);
	free(e.data);
	stream_close(again);
	test_server_stop(ts);
}

/* A comment every keep-alive period (15 s; here 1 s, looked at every 200 ms),
 * which also finds a client gone that sent no FIN the server could see. */
static void keep_alive_comments(void)
{
	struct test_server *ts = start_keepalive(1000);
	struct stream *s = subscribe(ts, NULL);
	struct event e;
	int64_t at[4];
	for (int i = 0; i < 4; i++) {
		CHECK(next_event(s, &e, 5000));
		at[i] = now_ms();
		CHECK_STR_EQ(e.type, "");
		CHECK_STR_EQ(e.data, "keep-alive");
		CHECK_INT_EQ(e.id, -1);
		free(e.data);
	}
	/* A period apart, not one every look: the last three span two periods
	 * (2,000 ms; the first may come at once, the period runs from the server's
	 * start), where one every look would span 400 ms. Half of it is allowed
	 * for a reader slowed by a sanitizer or a loaded machine. */
	if (at[3] - at[1] < 1000)
		fprintf(stderr, "keep-alives %lld and %lld ms apart\n", (long long)(at[2] - at[1]),
			(long long)(at[3] - at[2]));
	CHECK(at[3] - at[1] >= 1000);
	/* Events and comments interleave whole. */
	call(ts, "GET", "/orgs/c/contacts?take=1", NULL, 200);
	e = expect_event(s);
	CHECK_INT_EQ(e.id, 1);
	free(e.data);
	stream_close(s);
	test_server_stop(ts);
}

/* Stopping the server with streams open (waiting, and with unread events
 * queued) ends them and returns promptly, every descriptor closed. */
static void stop_with_subscribers_open(void)
{
	int before = open_fds();
	struct test_server *ts = start();
	struct stream *s[6];
	for (int i = 0; i < 6; i++)
		s[i] = subscribe(ts, NULL);
	for (int i = 0; i < 10; i++)
		call(ts, "GET", "/orgs/c/contacts?take=100", NULL, 200);
	int64_t t0 = now_ms();
	test_server_stop(ts);
	int64_t took = now_ms() - t0;
	/* Promptly, not after a keep-alive period or a client's timeout; bounded
	 * loosely for the sanitizer builds. */
	if (took > 10000)
		fprintf(stderr, "the stop took %lld ms\n", (long long)took);
	CHECK(took <= 10000);
	for (int i = 0; i < 6; i++) {
		/* The stream ends: its last chunk, or the connection closed. */
		int64_t until = now_ms() + 2000;
		while (!s[i]->ended && now_ms() < until && pump(s[i], 100))
			;
		CHECK(s[i]->ended);
		stream_close(s[i]);
	}
	CHECK_INT_EQ(open_fds(), before);
}

/* HEAD: the stream's headers, no body, no subscriber. */
static void head_subscribes_nobody(void)
{
	struct test_server *ts = start();
	int before = open_fds();
	int fd = test_connect(ts);
	char *head = xasprintf("HEAD /__admin/events HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
			       "Connection: close\r\n\r\n", ts->port);
	CHECK(write(fd, head, strlen(head)) == (ssize_t)strlen(head));
	free(head);
	char buf[4096];
	size_t got = 0;
	ssize_t k;
	while ((k = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
		got += (size_t)k;
	buf[got] = '\0';
	close(fd);
	CHECK(!strncmp(buf, "HTTP/1.1 200 OK\r\n", 17));
	CHECK(strstr(buf, "\r\nContent-Type: text/event-stream\r\n"));
	CHECK(strstr(buf, "\r\nCache-Control: no-store\r\n"));
	char *end = strstr(buf, "\r\n\r\n");
	CHECK(end && end[4] == '\0');
	wait_fds(before, 3000);
	/* Room for all 32 still. */
	struct stream *s[32];
	for (int i = 0; i < 32; i++) {
		s[i] = subscribe(ts, NULL);
		CHECK_INT_EQ(s[i]->status, 200);
	}
	for (int i = 0; i < 32; i++)
		stream_close(s[i]);
	test_server_stop(ts);
}

/* The admin token guards the stream like every admin route. */
static void needs_the_admin_token(void)
{
	struct test_server *ts = test_server_start(NULL, "--admin-token", "sekret", NULL);
	struct stream *s = subscribe(ts, NULL);
	CHECK_INT_EQ(s->status, 401);
	stream_close(s);
	s = subscribe(ts, "Authorization: Bearer sekret\r\n");
	CHECK_INT_EQ(s->status, 200);
	stream_close(s);
	test_server_stop(ts);
}

static const struct test_case cases[] = {
	TEST_CASE("events@request-by-id", request_by_id),
	TEST_CASE("events@an-event-per-request", an_event_per_request),
	TEST_CASE("events@in-order-to-every-subscriber", events_in_order_to_every_subscriber),
	TEST_CASE("events@resume-by-last-event-id", resume_by_last_event_id),
	TEST_CASE("events@state-events", state_events),
	TEST_CASE("events@33rd-subscriber-gets-503", subscribers_bounded),
	TEST_CASE("events@client-that-leaves-is-freed", client_that_leaves_is_freed),
	TEST_CASE("events@keep-alive-comments", keep_alive_comments),
	TEST_CASE("events@stop-with-subscribers-open", stop_with_subscribers_open),
	TEST_CASE("events@head-subscribes-nobody", head_subscribes_nobody),
	TEST_CASE("events@needs-the-admin-token", needs_the_admin_token),
};

TEST_MAIN(cases)
