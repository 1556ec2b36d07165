/* The request as handlers see it: its parameters, headers and body, and the
 * ways to answer it, at once or after work on the store thread. (The
 * functions keep the short prefix request_: every handler calls them.) */
#pragma once
#include <cjson/cJSON.h>
#include <stddef.h>

#include "errors.h"

struct app;
struct store;
struct request;

struct app *request_app(const struct request *r);
/* The i-th decoded path parameter of the route ("{org_id}" is 0). */
const char *request_param(const struct request *r, size_t i);
/* For ROUTE_ORG routes: the org the request acts on, with "c" resolved. */
const char *request_org(const struct request *r);
/* Bodies of routes with ROUTE_BIG_BODY go up to this, or --max-body if larger. */
enum { HTTP_BIG_BODY_MAX = 128 * 1024 * 1024 };
/* For ROUTE_BIG_BODY routes: the body as it came (NUL-terminated, "" when there
 * was none) and *len its length, borrowed for the request's life. */
const char *request_body(const struct request *r, size_t *len);
/* For ROUTE_JSON_BODY routes: the parsed body, or NULL when there was none. */
const cJSON *request_json(const struct request *r);
/* Looks up query parameter name. *value gets its decoded value, or NULL when it
 * is absent or empty ("take=" is the same as no take). Returns 0, or -1 with
 * err 400 "Query parameter take must be given once" when it appears twice.
 * The value lives as long as the request. */
int request_query(struct request *r, const char *name, const char **value, struct error *err);
/* The value of request header name, or NULL. */
const char *request_header(const struct request *r, const char *name);
/* Tells the journal that this request changed the contact it answers: the
 * answer is the contact after, and before_fields (JSON text of an object, a heap
 * string the request takes over) holds the fields that differed before. */
void request_journal_change(struct request *r, char *before_fields);
/* Adds a header to the answer (both strings copied). */
void request_add_header(struct request *r, const char *name, const char *value);

/* Per-request state of the handler, freed with free_fn when the request ends. */
void request_set_data(struct request *r, void *data, void (*free_fn)(void *));
void *request_data(const struct request *r);

/* Answers status with body (a heap string the request takes over; JSON). */
void request_reply(struct request *r, int status, char *body, size_t len);
/* Answers status with a JSON body written a piece at a time: fill(cls, buf, max)
 * writes up to max bytes and returns how many, 0 at the end (sent chunked).
 * fill runs on an HTTP thread, between other connections' work, for as long as
 * the client reads; free_cls(cls) (may be NULL) runs once the answer is done
 * with, sent or not. The request takes cls over. */
void request_reply_stream(struct request *r, int status,
			  size_t (*fill)(void *cls, char *buf, size_t max), void *cls,
			  void (*free_cls)(void *cls));
/* Answers with the error envelope for err->status and err->msg, or for a store
 * error (err->code) the API's answer to it (errors.h: error_from_store). */
void request_reply_error(struct request *r, const struct error *err);

/* Runs run(store, r, err) on the store thread inside a transaction. Once that
 * transaction has committed, then(r) (if not NULL) runs back on an HTTP thread,
 * and the request answers what run or then replied. If run returns -1, or the
 * commit fails, the answer is the error envelope of err instead and then is
 * not called. Work that needs no database (rendering JSON) belongs in then:
 * the store thread is shared by every request, HTTP threads are not. */
void request_defer(struct request *r,
		   int (*run)(struct store *s, struct request *r, struct error *err),
		   void (*then)(struct request *r));
/* As request_defer, but run is called between transactions, alone (a
 * whole-store reset, which replaces the database under any transaction). */
void request_defer_alone(struct request *r,
			 int (*run)(struct store *s, struct request *r, struct error *err),
			 void (*then)(struct request *r));
/* As request_defer_alone, but first prepare(r) runs on a thread of its own,
 * neither an HTTP thread nor the store thread, for work that takes too long to
 * hold either (parsing and staging an import of 100,000 contacts); the job is
 * queued once it returns. prepare reaches its results through request_data(). */
void request_defer_alone_after(struct request *r, void (*prepare)(struct request *r),
			       int (*run)(struct store *s, struct request *r, struct error *err),
			       void (*then)(struct request *r));
/* Before request_defer or request_defer_alone: fn(r) runs on the store thread
 * once run's work is committed, before any answer of its batch leaves (see
 * store_job.committed), and never if run or the commit failed. For state
 * outside the database that must change exactly when the database does (the
 * key index); it must be quick and must not use the store. */
void request_on_commit(struct request *r, void (*fn)(struct request *r));
