/* The request API of http_request.h: what handlers read of a request, how they
 * answer it, and deferring work to the store thread. */
#include "http_int.h"

#include "app.h"
#include "urlcode.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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

const char *request_body(const struct request *r, size_t *len)
{
	*len = r->body_len;
	return r->body ? r->body : "";
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

/* request_reply_stream's fill, as a libmicrohttpd content reader. */
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

void http_reply_cleanup(struct request *r)
{
	free(r->resp);
	r->resp = NULL;
	r->resp_len = 0;
	if (r->reader_free)
		r->reader_free(r->reader_cls);
	r->reader = NULL;
	r->reader_cls = NULL;
	r->reader_free = NULL;
	r->content_type = NULL;
}

void request_reply(struct request *r, int status, char *body, size_t len)
{
	http_reply_cleanup(r);
	r->status = status;
	r->resp = body;
	r->resp_len = len;
	r->replied = true;
}

void http_reply_reader(struct request *r, int status, const char *content_type,
		       MHD_ContentReaderCallback reader, void *cls,
		       MHD_ContentReaderFreeCallback free_cls)
{
	request_reply(r, status, NULL, 0);
	r->content_type = content_type;
	r->reader = reader;
	r->reader_cls = cls;
	r->reader_free = free_cls;
}

void request_reply_stream(struct request *r, int status,
			  size_t (*fill)(void *cls, char *buf, size_t max), void *cls,
			  void (*free_cls)(void *cls))
{
	struct stream *s = xmalloc(sizeof *s);
	*s = (struct stream){fill, cls, free_cls};
	http_reply_reader(r, status, NULL, stream_piece, s, stream_free);
}

void request_reply_error(struct request *r, const struct error *err)
{
	struct error answer = *err;
	error_from_store(&answer);
	int status = answer.status ? answer.status : 500;
	size_t len;
	char *body = error_envelope(status, answer.msg, &len);
	request_reply(r, status, body, len);
}

void http_reply_errorf(struct request *r, int status, const char *fmt, ...)
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
	http_count_down(h, &h->resuming);
}

static void defer(struct request *r, void (*prepare)(struct request *r),
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
	defer(r, NULL, run, then, false);
}

void request_defer_alone(struct request *r,
			 int (*run)(struct store *s, struct request *r, struct error *err),
			 void (*then)(struct request *r))
{
	defer(r, NULL, run, then, true);
}

void request_defer_alone_after(struct request *r, void (*prepare)(struct request *r),
			       int (*run)(struct store *s, struct request *r, struct error *err),
			       void (*then)(struct request *r))
{
	defer(r, prepare, run, then, true);
}

/* A thread of its own for request_defer_alone_after()'s prepare step; the
 * request is suspended (and counted) meanwhile, as for any deferred one. */
static void *prepare_thread(void *arg)
{
	struct request *r = arg;
	r->prepare(r);
	store_submit(r->http->app->store, &r->job);
	return NULL;
}

static void defer(struct request *r, void (*prepare)(struct request *r),
		  int (*run)(struct store *s, struct request *r, struct error *err),
		  void (*then)(struct request *r), bool alone)
{
	/* Counted before stopping is read; http_stop() sets it before it reads
	 * the count: so either this sees the stop, or the stop waits for this. */
	struct http *h = r->http;
	atomic_fetch_add(&h->suspended, 1);
	if (atomic_load(&h->stopping)) {
		http_count_down(h, &h->suspended);
		/* Its body finished arriving after the stop began (see http_stop). */
		r->close = true;
		http_reply_errorf(r, 503, "The server is shutting down");
		return;
	}
	http_request_enter(r, REQUEST_STORE); /* counted in suspended above */
	r->deferred = run;
	r->then = then;
	r->job = (struct store_job){.run = job_run,
				    .committed = r->committed ? job_committed : NULL,
				    .done = job_done,
				    .arg = r,
				    .alone = alone};
	/* Suspend before queueing, so the resume can never come first. */
	MHD_suspend_connection(r->conn);
	if (prepare) {
		pthread_t t;
		pthread_attr_t attr;
		r->prepare = prepare;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		int rc = pthread_create(&t, &attr, prepare_thread, r);
		pthread_attr_destroy(&attr);
		if (!rc)
			return;
		prepare(r); /* no thread to be had: slower, not wrong */
	}
	store_submit(r->http->app->store, &r->job);
}

