/* HTTP glue over libmicrohttpd: the daemon and its callbacks, a request's
 * start (on_uri) and end (on_completed), and the stop that waits for requests
 * in flight. What happens in between is http_pipeline.c's. */
#include "http_int.h"

#include "app.h"
#include "config.h"
#include "http_checks.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <assert.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>

/* Takes one from a counter. Counters reach zero all the time under load, but
 * only a stop waits for that. Once stopping, the count goes down under the lock
 * with a wake-up; before, it is one atomic step, after which h is not touched
 * (a stop may free it as soon as it sees the count it waits for). A decrement
 * that saw no stop yet sends no wake-up, so the stop also looks again every
 * STOP_POLL_MS (http_stop). */
unsigned http_count_down(struct http *h, _Atomic unsigned *n)
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
	(void)cls;
	(void)conn;
	(void)version;
	return http_pipeline_step(*req_cls, method, url, upload_data, upload_data_size);
}

static void log_request(const struct request *r, enum config_log mode)
{
	double ms = http_ms_since(&r->start);
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
	if (http_request_suspended(r))
		/* libmicrohttpd found the client gone as it resumed r, and
		 * completes it without a call. */
		http_count_down(h, &h->suspended);
	bool counted = r->state != REQUEST_NEW;
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
	http_reply_cleanup(r);
	free(r->path);
	free(r);
	if (!counted)
		return;
	bool idle = http_count_down(h, &h->in_flight) == 0;
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
		assert(!http_request_suspended(cs->current));
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
	/* Published before any thread starts: handlers reach it as app->http. */
	*out = h;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->idle, NULL);
	pthread_cond_init(&h->timer_wake, NULL);
	if (http_delay_start(h)) {
		error_set(err, 0, "cannot start the timer thread");
		goto fail;
	}
	if (!(h->events = http_events_new(h))) {
		error_set(err, 0, "cannot start the events thread");
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
	if (http_tls_load(h, cfg, err))
		goto fail;
	if (h->tls_cert)
		flags |= MHD_USE_TLS | MHD_USE_ERROR_LOG;
	/* Options that are there or not: the first MHD_OPTION_END ends the array. */
	struct MHD_OptionItem more[] = {
		{h->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, h->tls_cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key},
		{MHD_OPTION_END, 0, NULL},
	};
	struct MHD_OptionItem pool[] = {
		{cfg->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, cfg->threads, NULL},
		{MHD_OPTION_END, 0, NULL},
	};
	atomic_store(&h->tls_starting, true);
	/* As Redis's protected mode: reset, import and faults must not be open to
	 * a network by default (see http_pipeline.c, route_request). Set before the
	 * daemon's threads start, which read it. */
	h->admin_loopback_only = !cfg->admin_token && !http_checks_host_is_loopback(cfg->host);
	h->daemon = MHD_start_daemon(
		flags, (uint16_t)cfg->port, accept_policy, h, on_request, h,
		/* First, or libmicrohttpd logs that it is not, to stderr. */
		MHD_OPTION_EXTERNAL_LOGGER, http_tls_log, h, MHD_OPTION_SOCK_ADDR, &ss,
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
		no_unescape, NULL, MHD_OPTION_ARRAY, pool, MHD_OPTION_ARRAY, more, MHD_OPTION_END);
	atomic_store(&h->tls_starting, false);
	if (!h->daemon && h->tls_cert && http_tls_start_failed(h, cfg, err))
		goto fail;
	if (!h->daemon) {
		error_set(err, 0, "cannot listen on %s port %u (in use, or not an address of this machine)",
			  cfg->host, cfg->port);
		goto fail;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : cfg->port;
	if (h->admin_loopback_only)
		fprintf(stderr,
			"invent-mock: listening on %s without --admin-token: the admin API (/__admin/) "
			"answers only loopback clients; --admin-token TOKEN opens it to clients that "
			"send the token\n",
			cfg->host);
	return 0;
fail:
	http_stop(h);
	*out = NULL;
	return -1;
}

unsigned http_port(const struct http *h)
{
	return h->port;
}

/* Waits on idle for at most STOP_POLL_MS (see http_count_down); with h->lock held.
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
		http_delay_wake(h); /* delays end now */
		/* Event streams end now: they are not counted as suspended, and
		 * must not be suspended when the daemon stops. */
		http_events_stop(h->events);
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
	http_delay_stop(h);
	http_events_free(h->events);
	http_tls_cleanup(h);
	pthread_cond_destroy(&h->timer_wake);
	pthread_cond_destroy(&h->idle);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
