/* What only the files of the HTTP layer share (as SQLite's sqliteInt.h):
 *   http.c           the daemon, its callbacks, a request's start and end, stop
 *   http_pipeline.c  a request's state machine and the contract's check order
 *   http_checks.c    pure checks of header values (http_checks.h, unit-tested)
 *   http_request.c   the API handlers see (http_request.h), deferring to the store
 *   http_journal.c   capturing a request and its answer for the journal
 *   http_delay.c     the timer that ends fault delays
 *   http_tls.c       HTTPS: the certificate and key, and why GnuTLS refused them */
#pragma once
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "faults.h"
#include "http.h"
#include "http_request.h"
#include "router.h"
#include "store.h"

struct http {
	struct app *app;
	struct MHD_Daemon *daemon;
	unsigned port;
	/* The counters change on every request, from the HTTP and the store
	 * threads, so they are atomics rather than under the lock; only a stop
	 * waits for them, on idle (see http_count_down). */
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
	struct events_hub *events; /* GET /__admin/events (http_events.c) */
	char *tls_cert;		   /* PEM, for libmicrohttpd, while the daemon runs; NULL: HTTP */
	char *tls_key;
	_Atomic bool tls_starting; /* http_tls_log keeps what libmicrohttpd says */
	char tls_log[512];
	bool admin_loopback_only;  /* listening beyond loopback with no admin token */
};

/* Where a request is in its life. Every change goes through
 * http_request_enter(), which holds the transitions allowed. */
enum request_state {
	REQUEST_NEW,	   /* made by on_uri; on_request has not seen it yet */
	REQUEST_DELAYED,   /* suspended by a fault's delay; the header checks come after it */
	REQUEST_RECEIVING, /* the header checks are done; its body is coming in */
	REQUEST_STORE,	   /* suspended: its work is queued on the store thread */
	REQUEST_ANSWERED,  /* its answer is queued, or its connection dropped */
};

/* Ours for each connection, as libmicrohttpd's socket_context (see on_connection). */
struct conn_state {
	struct request *current; /* begun in on_uri and not yet ended */
};

struct request {
	struct http *http;
	struct MHD_Connection *conn;
	struct conn_state *cs; /* its connection's, or NULL */
	enum request_state state;
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
	void (*prepare)(struct request *);   /* see request_defer_alone_after */
	bool failed; /* the deferred work or its commit failed */
	struct store_job job;
	bool replied;
	bool close;	/* answer with Connection: close */
	size_t discarded; /* body bytes read past and dropped */
	struct fault_hit fault;	   /* the injected fault, if any */
	bool faulted;
	int64_t due_ns;		   /* with REQUEST_DELAYED: when to go on (monotonic) */
	struct request *next_delayed;
	char *journal_before; /* the changed contact's fields before (JSON object text) */
	char *journal_after;  /* the contact after, when the answer is not it (a fault) */
	int status;
	char *resp;
	size_t resp_len;
	/* An answer written a piece at a time (MHD_create_response_from_callback),
	 * until libmicrohttpd takes it over; reader_free(reader_cls) is called
	 * once either is done with it. */
	MHD_ContentReaderCallback reader;
	void *reader_cls;
	MHD_ContentReaderFreeCallback reader_free;
	const char *content_type; /* static; NULL: application/json */
	const char *allow; /* Allow header for 405 */
	char *headers[16]; /* extra answer headers: name, value, name, value... */
	size_t n_headers;
	char *query_values[16]; /* decoded query values handed out, freed at the end */
	size_t n_query_values;
	struct timespec start;
};

/* A request counts in http->suspended exactly while in these states. */
static inline bool http_request_suspended(const struct request *r)
{
	return r->state == REQUEST_DELAYED || r->state == REQUEST_STORE;
}

static inline bool http_is_head(const struct request *r)
{
	return !strcmp(r->method, "HEAD");
}

/* snprintf(dst, size, "%s", src) without printf's machinery, which showed in
 * profiles of the per-request path. */
static inline void http_copy_cut(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static inline double http_ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* http.c */
/* Takes one from one of h's counters and returns what is left; wakes a stop
 * waiting for it. */
unsigned http_count_down(struct http *h, _Atomic unsigned *n);

/* http_pipeline.c */
/* libmicrohttpd's access handler for r: one step of its state machine. */
enum MHD_Result http_pipeline_step(struct request *r, const char *method, const char *url,
				   const char *upload_data, size_t *upload_data_size);
/* Moves r to state to; asserts the transition is one the machine has. Leaving
 * a suspended state counts r out of http->suspended. */
void http_request_enter(struct request *r, enum request_state to);

/* http_request.c */
/* request_reply_error with a formatted message. */
void http_reply_errorf(struct request *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Answers status with a body read from reader (see r->reader), of type
 * content_type (static; NULL: application/json). r takes cls over. */
enum { HTTP_STREAM_PIECE_MAX = 32 * 1024 }; /* bytes asked of a reader at a time */
void http_reply_reader(struct request *r, int status, const char *content_type,
		       MHD_ContentReaderCallback reader, void *cls,
		       MHD_ContentReaderFreeCallback free_cls);
/* Frees what r's answer holds (its body, its reader's cls). */
void http_reply_cleanup(struct request *r);

/* http_journal.c */
/* Records r and its answer in the journal, when it is an /orgs request. */
void http_journal_request(struct request *r);

/* http_events.c */
struct journal_entry;
/* The hub of event-stream subscribers, made with the daemon. */
struct events_hub *http_events_new(struct http *h);
/* Ends every stream (each is resumed, and ends), and refuses new ones: before
 * the daemon stops, which must find no connection suspended. */
void http_events_stop(struct events_hub *hub);
/* After the daemon has stopped. NULL is fine. */
void http_events_free(struct events_hub *hub);
/* Records e in the journal and, when anyone listens, sends it as an event:
 * one step, so that events go out in the order of their ids. */
void http_events_journal(struct http *h, const struct journal_entry *e);

/* http_delay.c */
/* Starts and stops the thread that resumes delayed requests. */
int http_delay_start(struct http *h);
void http_delay_stop(struct http *h);
/* Suspends r until its fault's delay has passed; r enters REQUEST_DELAYED. */
void http_delay_request(struct request *r);
/* Wakes the timer, so that a stop's delays end now (with h->lock held). */
void http_delay_wake(struct http *h);

/* http_tls.c. Reads cfg's certificate and key into h (nothing without
 * --tls-cert): 0, or -1 with a one-line err naming the file. */
struct config;
int http_tls_load(struct http *h, const struct config *cfg, struct error *err);
/* libmicrohttpd's MHD_OPTION_EXTERNAL_LOGGER; cls is h. */
void http_tls_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* After MHD_start_daemon() failed with TLS on: true with err saying why when
 * what libmicrohttpd logged is about the certificate or key; else false, err
 * untouched. */
bool http_tls_start_failed(struct http *h, const struct config *cfg, struct error *err);
/* Frees what http_tls_load() read; after the daemon stopped. */
void http_tls_cleanup(struct http *h);
