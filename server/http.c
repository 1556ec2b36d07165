/* HTTP glue over libmicrohttpd. Every request goes through one pipeline, in the
 * contract's order: route (404/405), body size (413), Authorization and org
 * access (401), Content-Type (415), body parsing (400), then the handler (which
 * finds the objects of the path: 404). The checks that need only the headers run
 * as soon as they arrive, so a refused request's body is never buffered. */
#include "http.h"

#include "app.h"
#include "auth.h"
#include "clock.h"
#include "config.h"
#include "faults.h"
#include "journal.h"
#include "ratelimit.h"
#include "json_strict.h"
#include "router.h"
#include "store.h"
#include "urlcode.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdarg.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

struct http {
	struct app *app;
	struct MHD_Daemon *daemon;
	unsigned port;
	/* The counters change on every request, from the HTTP and the store
	 * threads, so they are atomics rather than under the lock; only a stop
	 * waits for them, on idle (see count_down). */
	_Atomic unsigned in_flight; /* requests begun and not yet completed */
	_Atomic unsigned suspended; /* requests waiting on the store or a fault's delay */
	_Atomic unsigned resuming;  /* store-thread calls inside MHD_resume_connection() */
	_Atomic bool stopping;	    /* new requests are refused with 503 */
	_Atomic unsigned connections; /* open, counted for --max-connections */
	pthread_mutex_t lock;	    /* guards delayed, and idle's waits */
	pthread_cond_t idle;
	struct request *delayed; /* waiting for a fault's delay, soonest first */
	pthread_cond_t timer_wake;
	pthread_t timer;
	bool timer_running;
};

enum phase {
	PHASE_NEW,     /* nothing seen yet */
	PHASE_DELAYED, /* suspended by a fault's delay; the checks come after it */
	PHASE_BEGUN,   /* the header checks are done */
};

/* Ours for each connection, as libmicrohttpd's socket_context (see on_connection). */
struct conn_state {
	struct request *current; /* begun in on_uri and not yet ended */
};

struct request {
	struct http *http;
	struct MHD_Connection *conn;
	struct conn_state *cs; /* its connection's, or NULL */
	enum phase phase;
	char *uri;	   /* as sent, with the query */
	char client[64];   /* the peer's address */
	char method[16];
	char *path; /* as sent, without the query */
	struct route_match match;
	char org[AUTH_ORG_MAX];
	char *body; /* NUL-terminated, for json_strict_parse */
	size_t body_len, body_cap;
	bool body_too_large;
	cJSON *json;
	void *data;
	void (*data_free)(void *);
	int (*deferred)(struct store *, struct request *, struct error *);
	void (*then)(struct request *);
	void (*committed)(struct request *); /* see request_on_commit */
	bool failed; /* the deferred work or its commit failed */
	struct store_job job;
	bool replied;
	bool close;	/* answer with Connection: close */
	bool waiting;	/* counted in http->suspended */
	size_t discarded; /* body bytes read past and dropped */
	struct fault_hit fault;	   /* the injected fault, if any */
	bool faulted;
	int64_t due_ns;		   /* with PHASE_DELAYED: when to go on (monotonic) */
	struct request *next_delayed;
	char *journal_before; /* the changed contact's fields before (JSON object text) */
	char *journal_after;  /* the contact after, when the answer is not it (a fault) */
	int status;
	char *resp;
	size_t resp_len;
	struct stream *stream; /* the body in pieces, until libmicrohttpd takes it */
	const char *allow; /* Allow header for 405 */
	char *headers[8];  /* extra answer headers: name, value, name, value... */
	size_t n_headers;
	char *query_values[16]; /* decoded query values handed out, freed at the end */
	size_t n_query_values;
	struct timespec start;
};

/* --- For handlers --- */

struct app *request_app(const struct request *r)
{
	return r->http->app;
}

const char *request_param(const struct request *r, size_t i)
{
	return i < r->match.n_params ? r->match.params[i] : NULL;
}

const char *request_org(const struct request *r)
{
	return r->org;
}

const cJSON *request_json(const struct request *r)
{
	return r->json;
}

struct query_lookup {
	const char *name;
	unsigned n;
	const char *raw; /* the last occurrence */
};

static enum MHD_Result find_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	(void)kind;
	struct query_lookup *q = cls;
	char *k = urlcode_decode(key, strlen(key), true);
	if (!strcmp(k, q->name)) {
		q->n++;
		q->raw = value ? value : "";
	}
	free(k);
	return MHD_YES;
}

int request_query(struct request *r, const char *name, const char **value, struct error *err)
{
	struct query_lookup q = {.name = name};
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, find_arg, &q);
	*value = NULL;
	if (q.n > 1)
		return error_set(err, 400, "Query parameter %s must be given once", name);
	if (q.n == 0 || !*q.raw)
		return 0;
	char *v = urlcode_decode(q.raw, strlen(q.raw), true);
	if (r->n_query_values == sizeof r->query_values / sizeof r->query_values[0]) {
		free(v);
		return error_set(err, 400, "Too many query parameters");
	}
	r->query_values[r->n_query_values++] = v;
	*value = v;
	return 0;
}

void request_journal_change(struct request *r, char *before_fields)
{
	free(r->journal_before);
	r->journal_before = before_fields;
}

const char *request_header(const struct request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void request_add_header(struct request *r, const char *name, const char *value)
{
	if (r->n_headers + 2 > sizeof r->headers / sizeof r->headers[0])
		return;
	r->headers[r->n_headers++] = xstrdup(name);
	r->headers[r->n_headers++] = xstrdup(value);
}

void request_set_data(struct request *r, void *data, void (*free_fn)(void *))
{
	if (r->data_free)
		r->data_free(r->data);
	r->data = data;
	r->data_free = free_fn;
}

void *request_data(const struct request *r)
{
	return r->data;
}

enum { STREAM_PIECE_MAX = 32 * 1024 }; /* bytes asked of a stream at a time */

struct stream {
	size_t (*fill)(void *cls, char *buf, size_t max);
	void *cls;
	void (*free_cls)(void *cls);
};

static void stream_free(void *p)
{
	struct stream *s = p;
	if (s && s->free_cls)
		s->free_cls(s->cls);
	free(s);
}

void request_reply(struct request *r, int status, char *body, size_t len)
{
	free(r->resp);
	stream_free(r->stream);
	r->stream = NULL;
	r->status = status;
	r->resp = body;
	r->resp_len = len;
	r->replied = true;
}

/* libmicrohttpd asks for the next piece when the socket can take it, so a
 * slow reader holds no more than a piece, and other connections are served
 * between two pieces. */
static ssize_t stream_piece(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct stream *s = cls;
	size_t n = s->fill(s->cls, buf, max);
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

void request_reply_stream(struct request *r, int status,
			  size_t (*fill)(void *cls, char *buf, size_t max), void *cls,
			  void (*free_cls)(void *cls))
{
	request_reply(r, status, NULL, 0);
	r->stream = xmalloc(sizeof *r->stream);
	*r->stream = (struct stream){fill, cls, free_cls};
}

void request_reply_error(struct request *r, const struct error *err)
{
	int status = err->status ? err->status : 500;
	size_t len;
	char *body = error_envelope(status, err->msg, &len);
	request_reply(r, status, body, len);
}

static void reply_errorf(struct request *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reply_errorf(struct request *r, int status, const char *fmt, ...)
{
	struct error err = {.status = status};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err.msg, sizeof err.msg, fmt, ap);
	va_end(ap);
	request_reply_error(r, &err);
}

static int job_run(struct store *s, void *arg, struct error *err)
{
	struct request *r = arg;
	return r->deferred(s, r, err);
}

/* Takes one from a counter. Counters reach zero all the time under load, but
 * only a stop waits for that. Once stopping, the count goes down under the lock
 * with a wake-up; before, it is one atomic step, after which h is not touched
 * (a stop may free it as soon as it sees the count it waits for). A decrement
 * that saw no stop yet sends no wake-up, so the stop also looks again every
 * STOP_POLL_MS (http_stop). */
static unsigned count_down(struct http *h, _Atomic unsigned *n)
{
	if (!atomic_load(&h->stopping))
		return atomic_fetch_sub(n, 1) - 1;
	pthread_mutex_lock(&h->lock);
	unsigned left = atomic_fetch_sub(n, 1) - 1;
	if (left == 0)
		pthread_cond_broadcast(&h->idle);
	pthread_mutex_unlock(&h->lock);
	return left;
}

static void job_committed(void *arg)
{
	struct request *r = arg;
	r->committed(r);
}

/* On the store thread, after the commit. Nothing of the request is written
 * here: its HTTP thread reads job.rc and job.err once resumed (the resume is
 * the hand-over; libmicrohttpd's lock orders it). */
static void job_done(void *arg, int rc, const struct error *err)
{
	(void)rc;
	(void)err;
	struct request *r = arg;
	struct http *h = r->http;
	/* The request may be answered and freed, and the daemon stopped, before
	 * MHD_resume_connection() has returned here: http_stop() waits for this. */
	atomic_fetch_add(&h->resuming, 1);
	MHD_resume_connection(r->conn);
	count_down(h, &h->resuming);
}

static void defer(struct request *r,
		  int (*run)(struct store *s, struct request *r, struct error *err),
		  void (*then)(struct request *r), bool alone);

void request_on_commit(struct request *r, void (*fn)(struct request *r))
{
	r->committed = fn;
}

void request_defer(struct request *r,
		   int (*run)(struct store *s, struct request *r, struct error *err),
		   void (*then)(struct request *r))
{
	defer(r, run, then, false);
}

void request_defer_alone(struct request *r,
			 int (*run)(struct store *s, struct request *r, struct error *err),
			 void (*then)(struct request *r))
{
	defer(r, run, then, true);
}

static void defer(struct request *r,
		  int (*run)(struct store *s, struct request *r, struct error *err),
		  void (*then)(struct request *r), bool alone)
{
	/* Counted before stopping is read; http_stop() sets it before it reads
	 * the count: so either this sees the stop, or the stop waits for this. */
	struct http *h = r->http;
	atomic_fetch_add(&h->suspended, 1);
	bool stopping = atomic_load(&h->stopping);
	if (stopping)
		count_down(h, &h->suspended);
	else
		r->waiting = true;
	if (stopping) {
		/* Its body finished arriving after the stop began (see http_stop). */
		r->close = true;
		reply_errorf(r, 503, "The server is shutting down");
		return;
	}
	/* Set only when queued: on_request reads deferred as "the store has it". */
	r->deferred = run;
	r->then = then;
	r->job = (struct store_job){.run = job_run,
				    .committed = r->committed ? job_committed : NULL,
				    .done = job_done,
				    .arg = r,
				    .alone = alone};
	/* Suspend before queueing, so the resume can never come first. */
	MHD_suspend_connection(r->conn);
	store_submit(r->http->app->store, &r->job);
}

/* --- The pipeline --- */

static double ms_since(const struct timespec *t0);
static void apply_fault_answer(struct request *r);

/* snprintf(dst, size, "%s", src) without printf's machinery, which showed in
 * profiles of the per-request path. */
static void copy_cut(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The request headers packed as "name\0value\0...\0", in a buffer that starts
 * on the stack, since journaling them is on every request's path. */
struct packed {
	char *buf;
	size_t len, cap;
	char small[1024];
};

static void pack(struct packed *p, const char *s)
{
	size_t n = strlen(s) + 1;
	if (p->len + n + 1 > p->cap) {
		size_t cap = (p->len + n + 1) * 2;
		char *buf = xmalloc(cap);
		memcpy(buf, p->buf, p->len);
		if (p->buf != p->small)
			free(p->buf);
		p->buf = buf;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, s, n);
	p->len += n;
}

static enum MHD_Result pack_header(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	(void)kind;
	const char *v = value ? value : "";
	char redacted[16];
	if (!strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION)) {
		/* Enough to tell keys apart, not enough to use one. */
		size_t n = strlen(v);
		memcpy(redacted, "...", 3);
		copy_cut(redacted + 3, sizeof redacted - 3, n > 4 ? v + n - 4 : "");
		v = redacted;
	}
	pack(cls, key);
	pack(cls, v);
	return MHD_YES;
}

/* Every request to /orgs is journaled, before its answer leaves. */
static void journal_request(struct request *r)
{
	struct app *app = r->http->app;
	if (!app->config->journal_size || (strncmp(r->path, "/orgs/", 6) && strcmp(r->path, "/orgs")))
		return;
	struct packed headers;
	headers.buf = headers.small;
	headers.len = 0;
	headers.cap = sizeof headers.small;
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, pack_header, &headers);
	headers.buf[headers.len++] = '\0';
	const char *q = r->uri ? strchr(r->uri, '?') : NULL;
	struct journal_entry e = {
		.time_ms = clock_now_ms(app->clock),
		.client = r->client,
		.method = r->method,
		.path = r->path,
		.query = q ? q + 1 : NULL,
		.request_headers = headers.buf,
		.request_headers_len = headers.len,
		.request_body = r->body,
		.request_body_len = r->body_len,
		.status = r->status,
		.response_body = r->resp,
		.response_body_len = r->resp_len,
		.duration_ms = ms_since(&r->start),
		.contact_before_fields = r->journal_before,
		.contact_after = r->journal_after,
		.org_id = r->org[0] ? r->org : NULL,
	};
	journal_add(app->journal, &e);
	if (headers.buf != headers.small)
		free(headers.buf);
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
	journal_request(r);
	struct MHD_Response *resp =
		r->stream ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_PIECE_MAX,
							      stream_piece, r->stream, stream_free)
			  : MHD_create_response_from_buffer(r->resp_len, r->resp,
							    MHD_RESPMEM_MUST_FREE);
	if (!resp)
		return MHD_NO;
	r->resp = NULL; /* libmicrohttpd frees it with the response */
	r->stream = NULL;
	if (r->status != 204)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (r->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	for (size_t i = 0; i + 1 < r->n_headers; i += 2)
		MHD_add_response_header(resp, r->headers[i], r->headers[i + 1]);
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

/* RFC 9112 §6.3: a request whose length is ambiguous (two Content-Lengths, a
 * Transfer-Encoding with a Content-Length, several Transfer-Encodings) or
 * whose coding cannot be read (anything but "chunked") is refused and its
 * connection closed: otherwise what follows it on the connection could be read
 * as a request of its own (request smuggling). libmicrohttpd 0.9.75 lets these
 * through, so the check is ours. */
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
		reply_errorf(r, 414, "The request target must be at most %zu bytes", cfg->max_url);
		return true;
	}
	size_t total = 0;
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_header_size, &total);
	if (total > cfg->max_header_bytes) {
		reply_errorf(r, 431, "The request headers must be at most %zu bytes in all",
			     cfg->max_header_bytes);
		return true;
	}
	return false;
}

static bool framing_is_bad(struct request *r)
{
	struct header_count cl = {.name = MHD_HTTP_HEADER_CONTENT_LENGTH};
	struct header_count te = {.name = MHD_HTTP_HEADER_TRANSFER_ENCODING};
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_header, &cl);
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_header, &te);
	return cl.n > 1 || te.n > 1 || (te.n && (cl.n || strcasecmp(te.value, "chunked")));
}

/* [decided] application/json, any case, with parameters; a charset other than
 * utf-8 is refused since the body is parsed as UTF-8. */
static bool content_type_is_json(const char *ct)
{
	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, "application/json", 16))
		return false;
	const char *p = ct + 16;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return true;
	if (*p != ';')
		return false;
	for (p++; *p; p += strcspn(p, ";"), p += *p == ';') {
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "charset=", 8))
			continue;
		const char *v = p + 8;
		bool quoted = *v == '"';
		v += quoted;
		if (strncasecmp(v, "utf-8", 5))
			return false;
		v += 5 + (quoted && v[5] == '"');
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v != '\0' && *v != ';')
			return false;
	}
	return true;
}

/* The answer a fault gives: its body, or the error envelope. */
static void apply_fault_answer(struct request *r)
{
	if (r->fault.body) {
		request_reply(r, r->fault.status, xstrdup(r->fault.body), strlen(r->fault.body));
		return;
	}
	reply_errorf(r, r->fault.status, "Injected fault (%d)", r->fault.status);
}

/* Routing (404/405), the admin token, and injected faults: what comes before
 * every other check. */
static void route_request(struct request *r)
{
	struct app *app = r->http->app;
	enum router_result rr = router_match(r->method, r->path, &r->match);
	if (rr == ROUTER_NOT_FOUND) {
		reply_errorf(r, 404, "Cannot %s %.300s", r->method, r->path);
		return;
	}
	if (rr == ROUTER_METHOD_NOT_ALLOWED) {
		r->allow = r->match.allow;
		reply_errorf(r, 405, "Method %s is not allowed on %.300s (allowed: %s)", r->method,
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
		copy_cut(org, sizeof org, path_org);
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
		if (cl && strtoull(cl, NULL, 10) > app->config->max_body) {
			reply_errorf(r, 413, "Body must be at most %zu bytes", app->config->max_body);
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
		reply_errorf(r, 429, "Rate limit exceeded: at most %u requests per minute; retry in %d s",
			     app->config->rate_limit_per_minute, retry_after);
	}
}

/* The rest, once the whole body is in. */
static void finish(struct request *r)
{
	struct app *app = r->http->app;
	if (r->body_too_large) {
		reply_errorf(r, 413, "Body must be at most %zu bytes", app->config->max_body);
		return;
	}
	if ((r->match.route->flags & ROUTE_JSON_BODY) && r->body_len > 0) {
		const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_TYPE);
		if (!content_type_is_json(ct)) {
			reply_errorf(r, 415, "Content-Type must be application/json");
			return;
		}
		struct error err = {0};
		if (json_strict_parse(r->body, r->body_len, &r->json, &err)) {
			reply_errorf(r, 400, "Body %s", err.msg);
			return;
		}
	}
	r->match.route->handler(r);
}

static void append_body(struct request *r, const char *data, size_t n)
{
	size_t max = r->http->app->config->max_body;
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

/* The request is no longer suspended: on its resumption, or when libmicrohttpd
 * finds the client gone as it resumes it and completes it without a call. */
static void done_waiting(struct request *r)
{
	struct http *h = r->http;
	if (!r->waiting)
		return;
	r->waiting = false;
	count_down(h, &h->suspended);
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

/* Suspends r until its fault's delay has passed (the timer thread resumes it). */
static void delay_request(struct request *r)
{
	struct http *h = r->http;
	r->phase = PHASE_DELAYED;
	/* From when the request began, in ns: the whole delay is always served. */
	r->due_ns = (int64_t)r->start.tv_sec * 1000000000 + r->start.tv_nsec +
		    r->fault.delay_ms * 1000000;
	pthread_mutex_lock(&h->lock);
	atomic_fetch_add(&h->suspended, 1);
	r->waiting = true;
	struct request **p = &h->delayed;
	while (*p && (*p)->due_ns <= r->due_ns)
		p = &(*p)->next_delayed;
	r->next_delayed = *p;
	*p = r;
	pthread_cond_signal(&h->timer_wake);
	MHD_suspend_connection(r->conn); /* under the lock: the timer cannot resume it first */
	pthread_mutex_unlock(&h->lock);
}

void http_end_delays(struct http *h)
{
	pthread_mutex_lock(&h->lock);
	/* All due now: the list stays in order, and the timer resumes each. */
	for (struct request *r = h->delayed; r; r = r->next_delayed)
		r->due_ns = 0;
	pthread_cond_signal(&h->timer_wake);
	pthread_mutex_unlock(&h->lock);
}

static void *timer_thread(void *arg)
{
	struct http *h = arg;
	pthread_mutex_lock(&h->lock);
	while (h->timer_running) {
		if (!h->delayed) {
			pthread_cond_wait(&h->timer_wake, &h->lock);
			continue;
		}
		int64_t wait = h->delayed->due_ns - clock_monotonic_ns();
		if (wait > 0 && !h->stopping) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += wait / 1000000000;
			until.tv_nsec += wait % 1000000000;
			if (until.tv_nsec >= 1000000000) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&h->timer_wake, &h->lock, &until);
			continue;
		}
		struct request *r = h->delayed;
		h->delayed = r->next_delayed;
		MHD_resume_connection(r->conn);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* libmicrohttpd's first look at a request: its URI as sent, query included,
 * which the access handler no longer sees. What it returns becomes *req_cls. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct request *r = xcalloc(1, sizeof *r);
	r->http = cls;
	r->conn = conn;
	r->uri = xstrdup(uri ? uri : "");
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	r->cs = ci ? ci->socket_context : NULL;
	if (r->cs) {
		/* libmicrohttpd ends a request before it reads the next one. */
		assert(!r->cs->current);
		r->cs->current = r;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, r->client,
			  sizeof r->client);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  r->client, sizeof r->client);
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	(void)version;
	(void)conn;
	struct http *h = cls;
	struct request *r = *req_cls;
	if (r->phase == PHASE_NEW) {
		copy_cut(r->method, sizeof r->method, method);
		r->path = xstrdup(url);
		atomic_fetch_add(&h->in_flight, 1);
		bool stopping = atomic_load(&h->stopping);
		r->phase = PHASE_BEGUN;
		if (framing_is_bad(r)) {
			r->close = true;
			reply_errorf(r, 400, "Ambiguous or unsupported message framing");
			return send_reply(r); /* at once: nothing after it may be read */
		}
		if (head_too_large(r)) {
			r->close = true;
			return send_reply(r);
		}
		if (stopping) {
			/* Keep-alive connections outlive the stop of accepting; a request
			 * that arrives on one now must not be deferred (see http_stop). */
			r->close = true;
			reply_errorf(r, 503, "The server is shutting down");
		} else {
			route_request(r);
			if (!r->replied && r->faulted && r->fault.delay_ms) {
				delay_request(r);
				return MHD_YES;
			}
			if (r->faulted && r->fault.drop) {
				journal_request(r); /* status 0: no answer */
				return MHD_NO;	    /* the connection closes */
			}
			if (!r->replied)
				check_headers(r);
		}
		return r->replied && answer_now(r) ? send_reply(r) : MHD_YES;
	}
	if (r->phase == PHASE_DELAYED) {
		/* Resumed after the delay: libmicrohttpd calls again as at the start. */
		done_waiting(r);
		r->phase = PHASE_BEGUN;
		if (r->fault.drop) {
			journal_request(r);
			return MHD_NO;
		}
		check_headers(r);
		return r->replied && answer_now(r) ? send_reply(r) : MHD_YES;
	}
	if (*upload_data_size) {
		if (r->replied || r->body_too_large) {
			/* A chunked body has no declared size: stop draining at some point. */
			r->discarded += *upload_data_size;
			if (r->discarded > HTTP_DISCARD_MAX)
				return MHD_NO;
		}
		append_body(r, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->deferred) {
		/* Resumed: the work is committed, or failed and err says why. */
		done_waiting(r);
		if (r->job.rc) {
			r->failed = true;
			request_reply_error(r, &r->job.err);
		} else if (r->then) {
			r->then(r);
		}
		return send_reply(r);
	}
	if (!r->replied)
		finish(r);
	/* Once queued, the request belongs to the store thread until resumed. */
	if (r->deferred)
		return MHD_YES;
	return r->replied ? send_reply(r) : MHD_YES;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void log_request(const struct request *r, enum config_log mode)
{
	double ms = ms_since(&r->start);
	if (mode == CONFIG_LOG_TEXT) {
		fprintf(stderr, "%s %s %d %.3fms\n", r->method, r->path, r->status, ms);
		return;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "event", "request");
	cJSON_AddStringToObject(o, "method", r->method);
	cJSON_AddStringToObject(o, "path", r->path);
	cJSON_AddNumberToObject(o, "status", r->status);
	cJSON_AddNumberToObject(o, "duration_ms", ms);
	char *line = cJSON_PrintUnformatted(o);
	fprintf(stderr, "%s\n", line);
	free(line);
	cJSON_Delete(o);
}

/* Frees r, which its connection no longer refers to. */
static void request_end(struct http *h, struct request *r)
{
	if (r->cs)
		r->cs->current = NULL;
	done_waiting(r);
	bool counted = r->phase != PHASE_NEW;
	enum config_log mode = h->app->config->log;
	if (mode != CONFIG_LOG_OFF && counted)
		log_request(r, mode);
	free(r->fault.body);
	free(r->journal_before);
	free(r->journal_after);
	free(r->uri);
	route_match_cleanup(&r->match);
	if (r->data_free)
		r->data_free(r->data);
	cJSON_Delete(r->json);
	for (size_t i = 0; i < r->n_headers; i++)
		free(r->headers[i]);
	for (size_t i = 0; i < r->n_query_values; i++)
		free(r->query_values[i]);
	free(r->body);
	free(r->resp);
	stream_free(r->stream);
	free(r->path);
	free(r);
	if (!counted)
		return;
	bool idle = count_down(h, &h->in_flight) == 0;
	/* glibc keeps freed memory in per-thread heaps; after a burst (say, answers
	 * queued for clients that never read them) it would stay. Hand it back when
	 * nothing is in flight, at most once a second. */
	static _Atomic int64_t last_trim;
	int64_t now = (int64_t)time(NULL);
	if (idle && now != last_trim) {
		last_trim = now;
		malloc_trim(0);
	}
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)conn;
	(void)toe;
	struct request *r = *req_cls;
	if (!r)
		return;
	*req_cls = NULL;
	request_end(cls, r);
}

/* Paths are split on '/' before their segments are decoded (router.c), so that
 * an id holding "%2F" is one id, as in Express; libmicrohttpd must not decode first. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

/* --max-connections. libmicrohttpd's own limit stops accepting once it is
 * reached, so a client over it waits in the kernel's queue, unanswered, until
 * a connection closes. Counted here instead, a connection over the limit is
 * accepted and closed at once (the client sees its connection reset or
 * closed), and libmicrohttpd's limit, set above ours, is never reached. With
 * several threads, ones accepting at the same instant may each let one in.
 * Once http_stop() has begun, every new connection is closed so. */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct http *h = cls;
	(void)addr;
	(void)len;
	if (atomic_load(&h->stopping))
		return MHD_NO;
	return atomic_load(&h->connections) < h->app->config->max_connections ? MHD_YES : MHD_NO;
}

/* Each connection, from libmicrohttpd's notices.
 *
 * Counted, for --max-connections (see accept_policy).
 *
 * And remembering its request: libmicrohttpd 0.9.75 can free a connection
 * without the completed callback for its request: when it refuses a head twice
 * (a Cookie header its memory pool cannot copy, 431, then a bad Content-Length,
 * 400), the second refusal only marks the connection closed
 * (transmit_error_response_len in connection.c), and the connection is freed
 * without a word to on_completed. So a request still there when its connection
 * goes is ended here. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http *h = cls;
	(void)conn;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		atomic_fetch_add(&h->connections, 1);
		*socket_context = xcalloc(1, sizeof(struct conn_state));
		return;
	}
	atomic_fetch_sub(&h->connections, 1);
	struct conn_state *cs = *socket_context;
	if (!cs)
		return;
	if (cs->current) {
		/* Dropped while libmicrohttpd was reading it, so not suspended: it is
		 * in no queue of the store's or the timer's. */
		assert(!cs->current->waiting);
		request_end(h, cs->current);
	}
	free(cs);
	*socket_context = NULL;
}

int http_start(struct app *app, struct http **out, struct error *err)
{
	const struct config *cfg = app->config;
	struct http *h = xcalloc(1, sizeof *h);
	h->app = app;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->idle, NULL);
	pthread_cond_init(&h->timer_wake, NULL);
	h->timer_running = true;
	if (pthread_create(&h->timer, NULL, timer_thread, h)) {
		h->timer_running = false;
		error_set(err, 0, "cannot start the timer thread");
		goto fail;
	}

	struct sockaddr_storage ss = {0};
	/* epoll, not poll(): libmicrohttpd's poll() loop asks for POLLRDHUP and
	 * closes a connection whose client has shut its sending side, unless the
	 * answer went out in the same round as the request came in. Every request
	 * that waits for the store answers in a later round, so a client that sends
	 * its request and then half-closes (nc -N, the fuzz harness) got no answer
	 * at all. The epoll loop answers them but for a rare race (0.9.75 closes on
	 * reading end-of-file once a request is complete, which it almost never
	 * gets to first; test hostile@half-closed-client-gets-its-answer). poll()
	 * spared the two epoll_ctl calls that suspending and resuming a request
	 * cost (15 % less CPU per PATCH, measured 2026-11-27): not worth that. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_EPOLL_TURBO;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, cfg->host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)cfg->port);
	} else if (inet_pton(AF_INET6, cfg->host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)cfg->port);
		flags |= MHD_USE_IPv6;
	} else {
		error_set(err, 0, "--host: \"%s\" is not an IPv4 or IPv6 address", cfg->host);
		goto fail;
	}
	struct MHD_OptionItem pool[] = {
		{cfg->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, cfg->threads, NULL},
		{MHD_OPTION_END, 0, NULL},
	};
	h->daemon = MHD_start_daemon(
		flags, (uint16_t)cfg->port, accept_policy, h, on_request, h, MHD_OPTION_SOCK_ADDR, &ss,
		/* libmicrohttpd clears a connection's memory pool for every request, so its
		 * size is paid per request: the 16 KiB default holds any sane request head. */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->connection_memory,
		MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections + 2 * cfg->threads + 16,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
		/* Every client of a local emulator is 127.0.0.1: the per-address limit
		 * must leave room for a parallel test suite. */
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_connections_per_ip,
		MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_UNESCAPE_CALLBACK,
		no_unescape, NULL, MHD_OPTION_ARRAY, pool, MHD_OPTION_END);
	if (!h->daemon) {
		error_set(err, 0, "cannot listen on %s port %u (in use, or not an address of this machine)",
			  cfg->host, cfg->port);
		goto fail;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : cfg->port;
	*out = h;
	return 0;
fail:
	http_stop(h);
	return -1;
}

unsigned http_port(const struct http *h)
{
	return h->port;
}

/* Waits on idle for at most STOP_POLL_MS (see count_down); with h->lock held.
 * False once until (CLOCK_REALTIME) has passed. */
enum { STOP_POLL_MS = 10 };

static bool nap(struct http *h, const struct timespec *until)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	if (until && (t.tv_sec > until->tv_sec ||
		      (t.tv_sec == until->tv_sec && t.tv_nsec >= until->tv_nsec)))
		return false;
	t.tv_nsec += STOP_POLL_MS * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&h->idle, &h->lock, &t);
	return true;
}

void http_stop(struct http *h)
{
	if (!h)
		return;
	if (h->daemon) {
		/* From now on accept_policy closes every new connection at once. Not
		 * MHD_quiesce_daemon(): with a thread pool (--threads 2 or more) it
		 * races each worker's own removal of the listening socket from its
		 * epoll set, and libmicrohttpd 0.9.75 aborts the process when it
		 * loses ("Failed to remove listen FD from epoll set", daemon.c, seen
		 * once in CI under reliability@sigterm-under-load-exits-0). */
		pthread_mutex_lock(&h->lock);
		atomic_store(&h->stopping, true);
		pthread_cond_signal(&h->timer_wake); /* delays end now */
		/* Stopping the daemon with a suspended connection is fatal to
		 * libmicrohttpd; no new request defers now, and the store thread still
		 * runs, so every suspended one is answered soon. */
		while (atomic_load(&h->suspended) > 0 || atomic_load(&h->resuming) > 0)
			nap(h, NULL);
		/* Then give requests still receiving their body a little time; they
		 * will be answered 503 rather than deferred. */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 2;
		while (atomic_load(&h->in_flight) > 0 && nap(h, &until))
			;
		while (atomic_load(&h->resuming) > 0)
			nap(h, NULL);
		pthread_mutex_unlock(&h->lock);
		MHD_stop_daemon(h->daemon);
	}
	if (h->timer_running) {
		pthread_mutex_lock(&h->lock);
		h->timer_running = false;
		pthread_cond_signal(&h->timer_wake);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->timer, NULL);
	}
	pthread_cond_destroy(&h->timer_wake);
	pthread_cond_destroy(&h->idle);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
