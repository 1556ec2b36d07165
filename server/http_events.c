/* GET /__admin/events (events.h): each subscriber is a chunked answer whose
 * content reader hands out what was queued for it, and suspends its connection
 * when there is nothing, until a publisher queues something and resumes it.
 *
 * A suspended connection is out of libmicrohttpd's event loop: it neither
 * times out nor notices its client leaving. So the subscribers are bounded
 * (EVENTS_MAX_SUBSCRIBERS), a thread of the hub's looks at the sockets of the
 * suspended ones a few times a second and ends those whose client has hung
 * up, the keep-alive comment makes a write that fails for a client gone
 * without a word, a subscriber that falls too far behind is dropped, and a
 * stop resumes them all (libmicrohttpd must not stop with one suspended).
 *
 * Locks: hub->order is held around journal_add() and the publishing of that
 * entry, so events go out in the order of the ids (and a new subscriber's
 * replay meets its live events without gap or repeat); hub->lock guards the
 * subscribers. Order: hub->order, then the journal's lock or hub->lock, never
 * both of the last two. MHD_suspend_connection() and MHD_resume_connection()
 * are called with hub->lock held, so a resume never comes before its suspend. */
#include "http_int.h"

#include "app.h"
#include "clock.h"
#include "config.h"
#include "events.h"
#include "journal.h"
#include "xalloc.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

enum {
	EVENTS_BACKLOG_MAX = 8 * 1024 * 1024, /* bytes queued for one subscriber before it is dropped */
	EVENTS_CHECK_MS = 200,		      /* between looks for clients gone */
	EVENTS_FLUSH_MS = 20,		      /* the least time between two wake-ups of a stream */
	EVENTS_QUEUE_MAX = 20000,	      /* events waiting for the hub's thread */
};

struct buf {
	char *p;
	size_t len, cap, off; /* bytes [off, len) still to hand out */
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = b->cap ? b->cap : 4096;
		while (b->cap < b->len + n)
			b->cap *= 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

struct subscriber {
	struct events_hub *hub;
	struct MHD_Connection *conn;
	int fd;			 /* its socket, looked at while suspended */
	struct buf live;	 /* events queued by publishers */
	struct buf out;		 /* being handed out by the reader */
	int64_t replay_next;	 /* the journal's entries still to replay: ids */
	int64_t replay_last;	 /* replay_next..replay_last (none when next > last) */
	uint64_t joined;	 /* hub->enqueued when it subscribed */
	bool suspended;		 /* by its reader, with nothing to send */
	int64_t resumed_ns;	 /* when it was last resumed (monotonic) */
	bool gone;		 /* its client left, or it fell too far behind: end it */
	struct subscriber *next;
};

/* An event on its way, in the hub's queue: a journal entry still to render
 * (id), or a state event's text. */
struct pending {
	int64_t id;	/* 0: text */
	uint64_t seq;	/* hub->enqueued once it was queued */
	char *text;
	struct pending *next;
};

struct events_hub {
	struct http *http;
	struct journal *journal;
	pthread_mutex_t order;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the hub's thread: stop, or time to look */
	struct subscriber *subs;
	int64_t flush_ns; /* when the hub's thread resumes the streams with events waiting; 0: none */
	struct pending *queue, **queue_tail; /* in order, for the hub's thread */
	size_t queued;			     /* in queue */
	uint64_t enqueued;		     /* events ever queued */
	_Atomic unsigned n;   /* subscribers; read without the lock on every request */
	_Atomic bool stopping;
	bool thread_running;
	pthread_t thread;
};

static void resume(struct subscriber *s, int64_t now_ns)
{
	s->suspended = false;
	s->resumed_ns = now_ns;
	MHD_resume_connection(s->conn);
}

/* Queues an event for every subscriber; with hub->lock held. A stream waiting
 * for events is resumed at once, unless it was less than EVENTS_FLUSH_MS ago:
 * then the hub's thread resumes it when that time is up, with whatever came
 * meanwhile. Under a stream of requests each subscriber so wakes (a resume, a
 * write, a suspend: each an epoll_ctl() or a send()) 50 times a second, not
 * once per request, which halved the API's throughput. */
static void queue_all(struct events_hub *hub, uint64_t seq, const char *text, size_t len)
{
	int64_t now = clock_monotonic_ns();
	bool later = false;
	for (struct subscriber *s = hub->subs; s; s = s->next) {
		/* An event queued before it subscribed, though sent after, is not
		 * its business: an entry of its replay's (queued with the journal's
		 * entry, under hub->order), or a reset it did not see happen. */
		if (s->gone || seq <= s->joined)
			continue;
		if (s->live.len + len > EVENTS_BACKLOG_MAX)
			s->gone = true; /* its reader ends it */
		else
			buf_add(&s->live, text, len);
		if (s->suspended && (s->gone || now - s->resumed_ns >= EVENTS_FLUSH_MS * 1000000LL))
			resume(s, now);
		else if (s->suspended)
			later = true;
	}
	if (later && !hub->flush_ns) {
		hub->flush_ns = now + EVENTS_FLUSH_MS * 1000000LL;
		pthread_cond_signal(&hub->wake);
	}
}

/* An entry's event: "id: N", "event: request", its JSON as data. */
static void format_entry(struct buf *b, int64_t id, const char *json, size_t len)
{
	char head[64];
	int n = snprintf(head, sizeof head, "id: %" PRId64 "\nevent: request\ndata: ", id);
	buf_add(b, head, (size_t)n);
	buf_add(b, json, len);
	buf_add(b, "\n\n", 2);
}

/* Hands an event to the hub's thread, which renders and sends events in the
 * order they were handed; with hub->lock held. */
static void enqueue(struct events_hub *hub, int64_t id, char *text)
{
	if (hub->queued >= EVENTS_QUEUE_MAX) {
		/* The hub's thread cannot keep up (the machine is overloaded): every
		 * stream is closed, and the queue dropped; a client resumes with
		 * Last-Event-ID, from the journal. Memory stays bounded. */
		for (struct subscriber *s = hub->subs; s; s = s->next) {
			s->gone = true;
			if (s->suspended)
				resume(s, 0);
		}
		while (hub->queue) {
			struct pending *p = hub->queue;
			hub->queue = p->next;
			free(p->text);
			free(p);
		}
		hub->queue_tail = &hub->queue;
		hub->queued = 0;
		free(text);
		return;
	}
	hub->queued++;
	struct pending *p = xmalloc(sizeof *p);
	*p = (struct pending){.id = id, .seq = ++hub->enqueued, .text = text};
	*hub->queue_tail = p;
	hub->queue_tail = &p->next;
	pthread_cond_signal(&hub->wake);
}

/* Rendering an entry costs more than the request's own work (a PATCH's
 * contact, parsed and printed before and after): on the request's thread it
 * halved the API's throughput with consoles open. So the request only queues
 * its id, and the hub's thread renders it, once for every subscriber. */
void http_events_journal(struct http *h, const struct journal_entry *e)
{
	struct events_hub *hub = h->events;
	pthread_mutex_lock(&hub->order);
	int64_t id = journal_add(hub->journal, e);
	if (id && atomic_load(&hub->n)) {
		pthread_mutex_lock(&hub->lock);
		enqueue(hub, id, NULL);
		pthread_mutex_unlock(&hub->lock);
	}
	pthread_mutex_unlock(&hub->order);
}

void events_publish_state(struct http *h, const char *kind, const char *json_fields)
{
	struct events_hub *hub = h ? h->events : NULL;
	if (!hub || !atomic_load(&hub->n))
		return;
	char *text = xasprintf("event: state\ndata: {\"kind\":\"%s\"%s%s}\n\n", kind,
			       json_fields ? "," : "", json_fields ? json_fields : "");
	pthread_mutex_lock(&hub->order);
	pthread_mutex_lock(&hub->lock);
	enqueue(hub, 0, text);
	pthread_mutex_unlock(&hub->lock);
	pthread_mutex_unlock(&hub->order);
}

/* On the hub's thread, with hub->lock held (released while rendering): sends
 * what is queued, in order. */
static void drain(struct events_hub *hub)
{
	while (hub->queue) {
		struct pending *list = hub->queue;
		hub->queue = NULL;
		hub->queue_tail = &hub->queue;
		hub->queued = 0;
		pthread_mutex_unlock(&hub->lock);
		/* Rendered as GET /__admin/requests does, from what was recorded
		 * (an entry dropped meanwhile, by a clear, is no event). */
		for (struct pending *p = list; p; p = p->next) {
			if (!p->id)
				continue;
			size_t len;
			char *json = journal_entry(hub->journal, p->id, false, &len);
			if (json) {
				struct buf b = {0};
				format_entry(&b, p->id, json, len);
				buf_add(&b, "", 1);
				p->text = b.p;
				free(json);
			}
		}
		pthread_mutex_lock(&hub->lock);
		while (list) {
			struct pending *p = list;
			list = p->next;
			if (p->text)
				queue_all(hub, p->seq, p->text, strlen(p->text));
			free(p->text);
			free(p);
		}
	}
}

/* libmicrohttpd's content reader of a subscriber's answer: what is queued, or
 * (suspending the connection) nothing for now. */
static ssize_t subscriber_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct subscriber *s = cls;
	struct events_hub *hub = s->hub;
	/* The replay, an entry a call, outside hub->lock: only this thread
	 * touches it, and rendering takes the journal's lock. */
	if (s->out.off == s->out.len && s->replay_next <= s->replay_last &&
	    !atomic_load(&hub->stopping)) {
		int64_t id;
		size_t len;
		char *json = journal_entry_from(hub->journal, s->replay_next, false, &id, &len);
		s->out.len = s->out.off = 0;
		if (json && id <= s->replay_last) {
			format_entry(&s->out, id, json, len);
			s->replay_next = id + 1;
		} else {
			s->replay_next = s->replay_last + 1; /* the rest is live */
		}
		free(json);
	}
	pthread_mutex_lock(&hub->lock);
	ssize_t ret;
	if (s->gone) {
		ret = MHD_CONTENT_READER_END_WITH_ERROR; /* the connection closes */
	} else if (s->out.off < s->out.len || (s->live.len && !atomic_load(&hub->stopping))) {
		if (s->out.off == s->out.len) {
			/* The replay is over (see above): the live queue becomes the
			 * one handed out. */
			struct buf t = s->out;
			s->out = s->live;
			s->live = (struct buf){.p = t.p, .cap = t.cap};
			s->out.off = 0;
		}
		size_t n = s->out.len - s->out.off < max ? s->out.len - s->out.off : max;
		memcpy(buf, s->out.p + s->out.off, n);
		s->out.off += n;
		ret = (ssize_t)n;
	} else if (atomic_load(&hub->stopping)) {
		ret = MHD_CONTENT_READER_END_OF_STREAM;
	} else {
		s->suspended = true;
		MHD_suspend_connection(s->conn);
		ret = 0;
	}
	pthread_mutex_unlock(&hub->lock);
	return ret;
}

/* libmicrohttpd is done with the answer: the connection closed, or ended. */
static void subscriber_free(void *cls)
{
	struct subscriber *s = cls;
	struct events_hub *hub = s->hub;
	pthread_mutex_lock(&hub->lock);
	struct subscriber **p = &hub->subs;
	while (*p != s)
		p = &(*p)->next;
	*p = s->next;
	atomic_fetch_sub(&hub->n, 1);
	pthread_mutex_unlock(&hub->lock);
	free(s->live.p);
	free(s->out.p);
	free(s);
}

static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	(void)pos;
	(void)buf;
	(void)max;
	return MHD_CONTENT_READER_END_OF_STREAM;
}

static void reply_headers(struct request *r)
{
	request_add_header(r, "Cache-Control", "no-store");
	/* A proxy that buffers (nginx) would hold the events back. */
	request_add_header(r, "X-Accel-Buffering", "no");
}

void events_subscribe(struct request *r)
{
	struct http *h = r->http;
	struct events_hub *hub = h->events;
	if (!strcmp(r->method, "HEAD")) {
		/* GET's status and headers, no subscriber. */
		reply_headers(r);
		http_reply_reader(r, 200, "text/event-stream", no_body, NULL, NULL);
		return;
	}
	int64_t after = -1;
	const char *last = request_header(r, "Last-Event-ID");
	if (last && *last) {
		char *end;
		errno = 0;
		long long v = strtoll(last, &end, 10);
		if (*end || errno || v < 0 || *last == '+' || *last == ' ' || *last == '-') {
			http_reply_errorf(r, 400, "Last-Event-ID must be an event id (a whole number)");
			return;
		}
		after = v;
	}
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct subscriber *s = xcalloc(1, sizeof *s);
	s->hub = hub;
	s->conn = r->conn;
	s->fd = ci ? ci->connect_fd : -1;
	/* An opening comment, so the client has the headers and a first chunk at
	 * once: it then knows it is subscribed. */
	buf_add(&s->out, ": subscribed\n\n", 14);
	pthread_mutex_lock(&hub->order);
	pthread_mutex_lock(&hub->lock);
	bool full = atomic_load(&hub->n) >= EVENTS_MAX_SUBSCRIBERS;
	bool stopping = atomic_load(&hub->stopping);
	if (!full && !stopping) {
		/* Ids below the next one are in the journal already, and held in
		 * order by hub->order: the replay ends where the live events begin. */
		int64_t newest = journal_newest_id(hub->journal);
		s->replay_next = after >= 0 ? after + 1 : newest + 1;
		s->replay_last = newest;
		s->joined = hub->enqueued;
		s->next = hub->subs;
		hub->subs = s;
		atomic_fetch_add(&hub->n, 1);
	}
	pthread_mutex_unlock(&hub->lock);
	pthread_mutex_unlock(&hub->order);
	if (full || stopping) {
		free(s->out.p);
		free(s);
		if (stopping) {
			r->close = true;
			http_reply_errorf(r, 503, "The server is shutting down");
		} else {
			http_reply_errorf(r, 503, "Too many event subscribers: at most %d at once",
					  EVENTS_MAX_SUBSCRIBERS);
		}
		return;
	}
	reply_headers(r);
	http_reply_reader(r, 200, "text/event-stream", subscriber_read, s, subscriber_free);
}

/* CLOCK_MONOTONIC's time ms from now. */
static struct timespec in_ms(unsigned ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* Every EVENTS_CHECK_MS: ends suspended subscribers whose client has hung up
 * (their sockets are out of libmicrohttpd's loop), and, every keep-alive
 * period, queues a comment for all, so a connection that is gone silently
 * fails a write and closes. */
static void *hub_thread(void *arg)
{
	struct events_hub *hub = arg;
	unsigned keepalive_ms = hub->http->app->config->events_keepalive_ms;
	if (!keepalive_ms)
		keepalive_ms = 15000;
	struct timespec next_keepalive = in_ms(keepalive_ms);
	int64_t next_check = clock_monotonic_ns() + EVENTS_CHECK_MS * 1000000LL;
	pthread_mutex_lock(&hub->lock);
	while (hub->thread_running) {
		int64_t wake = hub->flush_ns && hub->flush_ns < next_check ? hub->flush_ns : next_check;
		struct timespec until = {.tv_sec = wake / 1000000000, .tv_nsec = wake % 1000000000};
		if (!hub->queue)
			pthread_cond_timedwait(&hub->wake, &hub->lock, &until);
		if (!hub->thread_running)
			break;
		drain(hub);
		int64_t now_ns = clock_monotonic_ns();
		if (hub->flush_ns && now_ns >= hub->flush_ns) {
			hub->flush_ns = 0;
			for (struct subscriber *s = hub->subs; s; s = s->next)
				if (s->suspended && s->live.len)
					resume(s, now_ns);
		}
		if (now_ns < next_check)
			continue;
		next_check = now_ns + EVENTS_CHECK_MS * 1000000LL;
		for (struct subscriber *s = hub->subs; s; s = s->next) {
			if (!s->suspended || s->fd < 0)
				continue;
			struct pollfd pfd = {.fd = s->fd, .events = POLLRDHUP};
			if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
				s->gone = true;
				resume(s, now_ns);
			}
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next_keepalive.tv_sec ||
		    (now.tv_sec == next_keepalive.tv_sec && now.tv_nsec >= next_keepalive.tv_nsec)) {
			static const char comment[] = ": keep-alive\n\n";
			queue_all(hub, UINT64_MAX, comment, sizeof comment - 1);
			next_keepalive = in_ms(keepalive_ms);
		}
	}
	pthread_mutex_unlock(&hub->lock);
	return NULL;
}

struct events_hub *http_events_new(struct http *h)
{
	struct events_hub *hub = xcalloc(1, sizeof *hub);
	hub->http = h;
	hub->journal = h->app->journal;
	hub->queue_tail = &hub->queue;
	pthread_mutex_init(&hub->order, NULL);
	pthread_mutex_init(&hub->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&hub->wake, &ca);
	pthread_condattr_destroy(&ca);
	hub->thread_running = true;
	if (pthread_create(&hub->thread, NULL, hub_thread, hub)) {
		hub->thread_running = false;
		http_events_free(hub);
		return NULL;
	}
	return hub;
}

void http_events_stop(struct events_hub *hub)
{
	if (!hub)
		return;
	pthread_mutex_lock(&hub->lock);
	atomic_store(&hub->stopping, true);
	for (struct subscriber *s = hub->subs; s; s = s->next)
		if (s->suspended)
			resume(s, 0);
	pthread_mutex_unlock(&hub->lock);
}

void http_events_free(struct events_hub *hub)
{
	if (!hub)
		return;
	if (hub->thread_running) {
		pthread_mutex_lock(&hub->lock);
		hub->thread_running = false;
		pthread_cond_signal(&hub->wake);
		pthread_mutex_unlock(&hub->lock);
		pthread_join(hub->thread, NULL);
	}
	/* The daemon has stopped: every answer, so every subscriber, is freed. */
	assert(!hub->subs);
	while (hub->queue) {
		struct pending *p = hub->queue;
		hub->queue = p->next;
		free(p->text);
		free(p);
	}
	pthread_cond_destroy(&hub->wake);
	pthread_mutex_destroy(&hub->lock);
	pthread_mutex_destroy(&hub->order);
	free(hub);
}
