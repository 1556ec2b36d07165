/* The contract's order of checks, and a request's state machine that runs
 * them. Every request goes through one pipeline: route (404/405), body size
 * (413), Authorization and org access (401), Content-Type (415), body parsing
 * (400), then the handler (which finds the objects of the path: 404). The
 * checks that need only the headers run as soon as they arrive, so a refused
 * request's body is never buffered. */
#include "http_int.h"

#include "app.h"
#include "auth.h"
#include "clock.h"
#include "config.h"
#include "faults.h"
#include "http_checks.h"
#include "json_strict.h"
#include "ratelimit.h"
#include "router.h"
#include "xalloc.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

struct header_count {
	const char *name;
	unsigned n;
	const char *value;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	(void)kind;
	struct header_count *hc = cls;
	if (!strcasecmp(key, hc->name)) {
		hc->n++;
		hc->value = value;
	}
	return MHD_YES;
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
				       const char *value)
{
	(void)kind;
	*(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
	return MHD_YES;
}

/* Our limits on the request head, checked first so the answer is the envelope.
 * A head beyond --connection-memory never gets here: libmicrohttpd answers it
 * 414 or 431 itself, with a body of its own. */
static bool head_too_large(struct request *r)
{
	const struct config *cfg = r->http->app->config;
	if (strlen(r->uri) > cfg->max_url) {
		http_reply_errorf(r, 414, "The request target must be at most %zu bytes", cfg->max_url);
		return true;
	}
	size_t total = 0;
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_header_size, &total);
	if (total > cfg->max_header_bytes) {
		http_reply_errorf(r, 431, "The request headers must be at most %zu bytes in all",
			     cfg->max_header_bytes);
		return true;
	}
	return false;
}

/* A request whose framing is ambiguous is refused and its connection closed
 * (http_checks_framing_ok). */
static bool framing_is_bad(struct request *r)
{
	struct header_count cl = {.name = MHD_HTTP_HEADER_CONTENT_LENGTH};
	struct header_count te = {.name = MHD_HTTP_HEADER_TRANSFER_ENCODING};
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_header, &cl);
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_header, &te);
	return !http_checks_framing_ok(cl.n, te.n, te.value);
}

/* The answer a fault gives: its body, or the error envelope. */
static void apply_fault_answer(struct request *r)
{
	if (r->fault.body) {
		request_reply(r, r->fault.status, xstrdup(r->fault.body), strlen(r->fault.body));
		return;
	}
	http_reply_errorf(r, r->fault.status, "Injected fault (%d)", r->fault.status);
}

/* --- Web pages: CORS for /orgs/..., and none of the admin API --- */

static bool is_api_path(const char *path)
{
	return !strncmp(path, "/orgs", 5) && (path[5] == '/' || path[5] == '\0');
}

static bool is_admin_path(const char *path)
{
	return !strncmp(path, "/__admin", 8) && (path[8] == '/' || path[8] == '\0');
}

/* A web page of another origin must not reach the admin API: a form or a
 * fetch() without a preflight (a "simple request") could reset the server
 * from any site the developer visits, and a site whose name is made to point
 * at 127.0.0.1 (DNS rebinding) is same-origin to the browser. So a request
 * whose Origin or Sec-Fetch-Site says another origin, or (without
 * --admin-token, which such a page cannot know) whose Host is not a loopback
 * name or --host, is refused before anything else (http_checks_admin_request).
 * The console, served from /__admin/ui/ by this server, is same-origin. */
static bool admin_refused(struct request *r)
{
	const struct config *cfg = r->http->app->config;
	const char *mode = request_header(r, "Sec-Fetch-Mode");
	bool navigation = (!strcmp(r->method, "GET") || http_is_head(r)) && mode &&
			  !strcasecmp(mode, "navigate");
	switch (http_checks_admin_request(request_header(r, MHD_HTTP_HEADER_HOST),
					  request_header(r, "Origin"),
					  request_header(r, "Sec-Fetch-Site"), navigation, cfg->host,
					  !cfg->admin_token)) {
	case HTTP_CHECKS_ADMIN_OK:
		return false;
	case HTTP_CHECKS_ADMIN_CROSS_ORIGIN:
		http_reply_errorf(r, 403, "The admin API refuses requests from web pages of other origins");
		return true;
	case HTTP_CHECKS_ADMIN_FOREIGN_HOST:
		http_reply_errorf(r, 403,
				  "The admin API answers only a Host that is a loopback name or address, "
				  "or --host (else give --admin-token)");
		return true;
	}
	return false;
}

/* [decided] OPTIONS. Without --cors, from an origin --cors does not list, or
 * without Access-Control-Request-Method (so not a preflight), OPTIONS is a
 * method no route has: 405 with Allow, as the contract says of every wrong
 * method, and a browser's preflight fails, as it would against the real API,
 * which documents no CORS. With --cors, a listed origin's preflight to
 * /orgs/... is answered as NestJS's enableCors() (the cors package) answers
 * it: 204, the route's methods, the requested headers echoed, a max age; the
 * headers every answer to that origin has are added in send_reply. A preflight
 * is answered before the key, faults and the rate limit: a browser sends it
 * without the Authorization it asks about. */
static bool cors_preflight(struct request *r)
{
	const char *cors = r->http->app->config->cors;
	if (!cors || strcmp(r->method, "OPTIONS") || !is_api_path(r->path))
		return false;
	const char *origin = request_header(r, "Origin");
	if (!request_header(r, "Access-Control-Request-Method") || !origin ||
	    !http_checks_cors_allows(cors, origin))
		return false;
	request_add_header(r, "Access-Control-Allow-Methods", r->match.allow);
	const char *asked = request_header(r, "Access-Control-Request-Headers");
	if (asked)
		request_add_header(r, "Access-Control-Allow-Headers", asked);
	request_add_header(r, "Access-Control-Max-Age", "600");
	request_reply(r, 204, xstrdup(""), 0);
	return true;
}

/* With --cors, what every answer of /orgs/... carries, errors included: the
 * origin allowed (and Vary: Origin when that depends on the Origin), and the
 * headers a page may read beyond the basic ones. Never on /__admin/. */
static void add_cors_headers(struct request *r, struct MHD_Response *resp)
{
	const char *cors = r->http->app->config->cors;
	if (!cors || !is_api_path(r->path))
		return;
	const char *origin = request_header(r, "Origin");
	bool any = !strcmp(cors, "*");
	if (!any)
		MHD_add_response_header(resp, "Vary", "Origin");
	if (!http_checks_cors_allows(cors, origin))
		return;
	MHD_add_response_header(resp, "Access-Control-Allow-Origin", any ? "*" : origin);
	MHD_add_response_header(resp, "Access-Control-Expose-Headers",
				"pagination-count, pagination-page, pagination-take, Retry-After");
}

static bool client_is_loopback(struct request *r)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	return ci && http_checks_addr_is_loopback(ci->client_addr);
}

/* Routing (404/405), the admin guard (a server listening beyond loopback with
 * no admin token answers the admin API to loopback clients only: 403), the
 * admin token, and injected faults: what comes before every other check. */
static void route_request(struct request *r)
{
	struct app *app = r->http->app;
	enum router_result rr = router_match(r->method, r->path, &r->match);
	bool admin = is_admin_path(r->path) ||
		     (rr == ROUTER_FOUND && (r->match.route->flags & ROUTE_ADMIN));
	/* First, and before 404/405 too: nothing under /__admin/ (a route or not,
	 * the console's pages too) tells a client it may not use what is there,
	 * and this answer, unlike the web-page checks after it, says how to allow
	 * a client that is not on loopback. */
	if (admin && r->http->admin_loopback_only && !client_is_loopback(r)) {
		http_reply_errorf(r, 403,
				  "The admin API answers only loopback clients: the server listens on "
				  "%s without an admin token. Start it with --admin-token TOKEN (or "
				  "INVENT_MOCK_ADMIN_TOKEN) and send Authorization: Bearer TOKEN to "
				  "allow other clients",
				  app->config->host);
		return;
	}
	if (admin && admin_refused(r))
		return;
	if (rr == ROUTER_NOT_FOUND) {
		http_reply_errorf(r, 404, "Cannot %s %.300s", r->method, r->path);
		return;
	}
	if (rr == ROUTER_METHOD_NOT_ALLOWED) {
		if (cors_preflight(r))
			return;
		r->allow = r->match.allow;
		http_reply_errorf(r, 405, "Method %s is not allowed on %.300s (allowed: %s)", r->method,
			     r->path, r->match.allow);
		return;
	}
	unsigned flags = r->match.route->flags;
	if (flags & ROUTE_ADMIN) {
		struct header_count hc = {.name = MHD_HTTP_HEADER_AUTHORIZATION};
		MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_header, &hc);
		struct error err = {0};
		if (auth_check_admin(app->config->admin_token, hc.value, hc.n, &err))
			request_reply_error(r, &err);
		return;
	}
	if (!(flags & ROUTE_ORG))
		return;
	/* A rule naming an org matches the org the request acts on; with "c" that
	 * is the key's org, when the key is good. */
	char org[AUTH_ORG_MAX] = "";
	const char *path_org = request_param(r, 0);
	if (strcmp(path_org, "c"))
		http_copy_cut(org, sizeof org, path_org);
	else
		auth_key_org(app->auth, request_header(r, MHD_HTTP_HEADER_AUTHORIZATION), org);
	/* The journal files the request under the org it names even when a fault or
	 * a bad key answers it; auth_check() resolves it again for a good key. */
	memcpy(r->org, org, sizeof org);
	if (!faults_match(app->faults, r->method, r->path, org[0] ? org : NULL, &r->fault))
		return;
	r->faulted = true;
	if (r->fault.status && !r->fault.after_commit && !r->fault.delay_ms)
		apply_fault_answer(r);
}

/* A route with ROUTE_BIG_BODY (an import, a whole fixture document) takes
 * bodies up to HTTP_BIG_BODY_MAX, or --max-body if that is larger. */
static size_t body_max(const struct request *r)
{
	size_t max = r->http->app->config->max_body;
	if (r->match.route && (r->match.route->flags & ROUTE_BIG_BODY) && max < HTTP_BIG_BODY_MAX)
		return HTTP_BIG_BODY_MAX;
	return max;
}

/* The checks that need only the headers, after routing and any delay. */
static void check_headers(struct request *r)
{
	struct app *app = r->http->app;
	if (r->faulted && r->fault.status && !r->fault.after_commit) {
		apply_fault_answer(r); /* after its delay */
		return;
	}
	unsigned flags = r->match.route->flags;
	if (flags & ROUTE_JSON_BODY) {
		const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > body_max(r)) {
			http_reply_errorf(r, 413, "Body must be at most %zu bytes", body_max(r));
			return;
		}
	}
	if (!(flags & ROUTE_ORG))
		return;
	struct header_count hc = {.name = MHD_HTTP_HEADER_AUTHORIZATION};
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_header, &hc);
	struct error err = {0};
	/* A faulted request is the test's doing, not the client's: it does not count. */
	int retry_after;
	if (auth_check(app->auth, hc.value, hc.n, request_param(r, 0), r->org, &err)) {
		/* [decided] A request refused for its key counts as well: Invent limits
		 * per IP, so its limiter most likely runs before the key is looked at
		 * (a NestJS throttler as a global guard). The 401 still answers. */
		if (app->ratelimit && !r->faulted)
			ratelimit_take(app->ratelimit, r->client, clock_now_ms(app->clock), &retry_after);
		request_reply_error(r, &err);
		return;
	}
	if (app->ratelimit && !r->faulted &&
	    !ratelimit_take(app->ratelimit, r->client, clock_now_ms(app->clock), &retry_after)) {
		char v[16];
		snprintf(v, sizeof v, "%d", retry_after);
		request_add_header(r, "Retry-After", v);
		http_reply_errorf(r, 429, "Rate limit exceeded: at most %u requests per minute; retry in %d s",
			     app->config->rate_limit_per_minute, retry_after);
	}
}

/* The rest, once the whole body is in. */
static void finish(struct request *r)
{
	if (r->body_too_large) {
		http_reply_errorf(r, 413, "Body must be at most %zu bytes", body_max(r));
		return;
	}
	if ((r->match.route->flags & ROUTE_JSON_BODY) && r->body_len > 0) {
		const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_TYPE);
		if (!http_checks_content_type_is_json(ct)) {
			http_reply_errorf(r, 415, "Content-Type must be application/json");
			return;
		}
		struct error err = {0};
		if (r->match.route->flags & ROUTE_BIG_BODY)
			; /* the handler parses it (request_body) */
		else if (json_strict_parse(r->body, r->body_len, &r->json, &err)) {
			http_reply_errorf(r, 400, "Body %s", err.msg);
			return;
		}
	}
	r->match.route->handler(r);
}

static void append_body(struct request *r, const char *data, size_t n)
{
	size_t max = body_max(r);
	/* The body of an endpoint that takes none is ignored. That of a request
	 * already answered is still kept, within the limit, for the journal. */
	if (r->body_too_large || !r->match.route || !(r->match.route->flags & ROUTE_JSON_BODY))
		return;
	if (n > max - r->body_len) {
		r->body_too_large = true;
		free(r->body);
		r->body = NULL;
		r->body_len = r->body_cap = 0;
		return;
	}
	if (r->body_len + n + 1 > r->body_cap) {
		r->body_cap = r->body_cap ? r->body_cap : 256;
		while (r->body_cap < r->body_len + n + 1)
			r->body_cap *= 2;
		r->body = xrealloc(r->body, r->body_cap);
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
}

enum { HTTP_DISCARD_MAX = 16 * 1024 * 1024 };

/* Whether an answer decided from the headers goes out at once, before the body.
 * Mostly not: libmicrohttpd closes a connection answered early (a keep-alive
 * client then has to reconnect, and pipelined requests are lost), and closing
 * with unread data makes the kernel reset it, so the client may never see the
 * answer (RFC 9112 §9.6). So the body is read, and dropped, first, and the
 * answer goes out on the last call, which comes at once when there is no body.
 * Early only when the client waits for leave to send (Expect: 100-continue) or
 * the body is too large to be worth reading. */
static bool answer_now(struct request *r)
{
	const char *expect = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_EXPECT);
	if (expect && !strcasecmp(expect, "100-continue"))
		return true;
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	return cl && strtoull(cl, NULL, 10) > HTTP_DISCARD_MAX;
}

static enum MHD_Result send_reply(struct request *r)
{
	if (r->faulted && r->fault.after_commit && r->status >= 200 && r->status < 300 &&
	    faults_use(r->http->app->faults, r->fault.rule_id)) {
		/* The change is committed; the client is told it failed. */
		if (r->journal_before)
			r->journal_after = xstrndup(r->resp, r->resp_len);
		apply_fault_answer(r);
	}
	http_journal_request(r);
	struct MHD_Response *resp =
		r->reader ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTP_STREAM_PIECE_MAX,
							      r->reader, r->reader_cls, r->reader_free)
			  : MHD_create_response_from_buffer(r->resp_len, r->resp,
							    MHD_RESPMEM_MUST_FREE);
	if (!resp)
		return MHD_NO;
	if (r->reader && http_is_head(r))
		/* libmicrohttpd 0.9.75 ends a chunked answer to HEAD with the last
		 * chunk, a body the client does not expect: a HEAD of a streamed
		 * answer is sent unchunked instead (no Transfer-Encoding, which
		 * RFC 9112 6.1 lets a HEAD answer leave out), and closes. */
		MHD_set_response_options(resp, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
	/* libmicrohttpd frees them with the response */
	r->resp = NULL;
	r->reader_cls = NULL;
	r->reader_free = NULL;
	bool typed = r->status == 204 || r->status == 304;
	for (size_t i = 0; i + 1 < r->n_headers; i += 2)
		typed |= !strcasecmp(r->headers[i], MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!typed) /* JSON unless the handler said otherwise (the console's files, events) */
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					r->content_type ? r->content_type : "application/json");
	if (r->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	for (size_t i = 0; i + 1 < r->n_headers; i += 2)
		MHD_add_response_header(resp, r->headers[i], r->headers[i + 1]);
	add_cors_headers(r, resp);
	struct clock *clock = r->http->app->clock;
	if (clock_is_frozen(clock)) {
		/* The emulator's time, so a frozen run is byte-identical, headers too
		 * (libmicrohttpd adds no Date of its own when one is there). */
		char date[64];
		clock_http_date(clock_now_ms(clock), date);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_DATE, date);
	}
	enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}


/* --- The state machine --- */

void http_request_enter(struct request *r, enum request_state to)
{
	static const unsigned next[] __attribute__((unused)) = { /* read by the assert only */
		[REQUEST_NEW] = 1u << REQUEST_DELAYED | 1u << REQUEST_RECEIVING | 1u << REQUEST_ANSWERED,
		[REQUEST_DELAYED] = 1u << REQUEST_RECEIVING | 1u << REQUEST_ANSWERED,
		[REQUEST_RECEIVING] = 1u << REQUEST_STORE | 1u << REQUEST_ANSWERED,
		[REQUEST_STORE] = 1u << REQUEST_ANSWERED,
		[REQUEST_ANSWERED] = 0,
	};
	assert(next[r->state] & 1u << to);
	if (http_request_suspended(r))
		http_count_down(r->http, &r->http->suspended);
	r->state = to;
}

static enum MHD_Result answer(struct request *r)
{
	if (r->state != REQUEST_ANSWERED)
		http_request_enter(r, REQUEST_ANSWERED);
	return send_reply(r);
}

/* A fault's drop: no answer, the connection closes. */
static enum MHD_Result drop(struct request *r)
{
	http_request_enter(r, REQUEST_ANSWERED);
	http_journal_request(r); /* status 0: no answer */
	return MHD_NO;
}

/* Once the header checks are done: the answer they chose, when it goes out
 * before the body (answer_now), or reading the body. */
static enum MHD_Result answer_or_receive(struct request *r)
{
	if (r->replied && answer_now(r))
		return answer(r);
	http_request_enter(r, REQUEST_RECEIVING);
	return MHD_YES;
}

/* The first call, with the head: everything the headers decide. */
static enum MHD_Result begin(struct request *r, const char *method, const char *url)
{
	struct http *h = r->http;
	http_copy_cut(r->method, sizeof r->method, method);
	r->path = xstrdup(url);
	atomic_fetch_add(&h->in_flight, 1);
	bool stopping = atomic_load(&h->stopping);
	if (framing_is_bad(r)) {
		r->close = true;
		http_reply_errorf(r, 400, "Ambiguous or unsupported message framing");
		return answer(r); /* at once: nothing after it may be read */
	}
	if (head_too_large(r)) {
		r->close = true;
		return answer(r);
	}
	if (stopping) {
		/* Keep-alive connections outlive the stop of accepting; a request
		 * that arrives on one now must not be deferred (see http_stop). */
		r->close = true;
		http_reply_errorf(r, 503, "The server is shutting down");
		return answer_or_receive(r);
	}
	route_request(r);
	if (!r->replied && r->faulted && r->fault.delay_ms) {
		http_delay_request(r);
		return MHD_YES;
	}
	if (r->faulted && r->fault.drop)
		return drop(r);
	if (!r->replied)
		check_headers(r);
	return answer_or_receive(r);
}

/* A piece of the body. */
static enum MHD_Result receive(struct request *r, const char *data, size_t *size)
{
	if (r->replied || r->body_too_large) {
		/* A chunked body has no declared size: stop draining at some point. */
		r->discarded += *size;
		if (r->discarded > HTTP_DISCARD_MAX)
			return MHD_NO;
	}
	append_body(r, data, *size);
	*size = 0;
	return MHD_YES;
}

enum MHD_Result http_pipeline_step(struct request *r, const char *method, const char *url,
				   const char *upload_data, size_t *upload_data_size)
{
	switch (r->state) {
	case REQUEST_NEW:
		return begin(r, method, url);
	case REQUEST_DELAYED:
		/* Resumed after the delay: libmicrohttpd calls again as at the start. */
		if (r->fault.drop)
			return drop(r);
		check_headers(r);
		return answer_or_receive(r);
	case REQUEST_RECEIVING:
		if (*upload_data_size)
			return receive(r, upload_data, upload_data_size);
		/* The whole body is in. */
		if (!r->replied)
			finish(r);
		if (r->state == REQUEST_STORE)
			return MHD_YES; /* the store thread has it until it resumes r */
		return r->replied ? answer(r) : MHD_YES;
	case REQUEST_STORE:
		/* Resumed: the work is committed, or failed and err says why. */
		http_request_enter(r, REQUEST_ANSWERED);
		if (r->job.rc) {
			r->failed = true;
			request_reply_error(r, &r->job.err);
		} else if (r->then) {
			r->then(r);
		}
		return send_reply(r);
	case REQUEST_ANSWERED:
		/* Answered before its body was read: the rest is dropped. */
		return *upload_data_size ? receive(r, upload_data, upload_data_size) : MHD_YES;
	}
	return MHD_NO;
}
