/* Fuzz target: raw HTTP request bytes through the real server.
 *
 * LLVMFuzzerInitialize starts the whole app in this process once, as
 * tests/http_util.c does (in-memory database, port 0, no log, a journal of
 * 100), with its libmicrohttpd and store threads. Each input is then sent as
 * is over a fresh TCP connection to 127.0.0.1:port, the write side is shut,
 * and whatever comes back is read until the server closes or stays silent for
 * FUZZ_HTTP_IDLE_MS. A crash or an ASan/UBSan report in any thread of the
 * server aborts the process, and libFuzzer keeps the input being run.
 *
 * State: the inputs share one server. So that it does not drift (deleted orgs,
 * created contacts, a frozen clock, fault rules), every FUZZ_HTTP_RESET_EVERY
 * inputs the database is reset (POST /__admin/reset) and the faults, clock and
 * journal put back; an input that touched the fault rules or the clock is
 * cleaned up after at once, since a rule left behind would answer every later
 * input the same way (or hold it for minutes with delay_ms).
 *
 * Environment: FUZZ_HTTP_VERBOSE=1 prints the start of every answer on stderr
 * (to see what a regression input does). FUZZ_HTTP_STRICT=1 also aborts on a 500 answer to an input that
 * does not mention /__admin/faults (a fault rule may legitimately answer 500):
 * the server answers 500 only when something inside it failed. */
#include "fuzz.h"

#include "app.h"
#include "config.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
	FUZZ_HTTP_IDLE_MS = 200,     /* silence that ends an exchange */
	/* Silence that ends it once every answer so far is complete. libmicrohttpd
	 * (epoll, edge-triggered) often misses the client's FIN when it came with
	 * the request, so a connection answered at once stays open until
	 * --idle-timeout instead of closing: waiting the full 200 ms for that EOF
	 * made most inputs cost 200 ms. A pipelined request answered later than
	 * this (one the store thread takes long over) loses its answer, not its run. */
	FUZZ_HTTP_SETTLE_MS = 30,
	FUZZ_HTTP_TOTAL_MS = 2000,   /* longest exchange, however chatty */
	FUZZ_HTTP_RESET_EVERY = 1000,
	FUZZ_HTTP_KEEP = 4096,       /* bytes of the answer kept, for the 500 check */
};

static struct config cfg;
static struct app *app;
static unsigned port;
static unsigned long n_inputs;
static bool strict, verbose;

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits up to ms for events on fd; returns poll's revents, 0 on timeout. */
static short wait_fd(int fd, short events, int ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int rc;
	do
		rc = poll(&p, 1, ms < 0 ? 0 : ms);
	while (rc < 0 && errno == EINTR);
	return rc > 0 ? p.revents : 0;
}

/* Follows the answers as they stream in, to tell when the bytes so far end
 * exactly after a complete answer (status line, headers, Content-Length bytes
 * of body). */
struct tracker {
	char head[8192]; /* the current answer's head, as far as read (cut at the limit) */
	size_t head_len;
	unsigned crlf;	 /* how much of "\r\n\r\n" ends what was read */
	size_t body_left;
	bool in_body;
	unsigned complete;
};

static void track(struct tracker *t, const char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		if (t->in_body) {
			size_t c = n - i < t->body_left ? n - i : t->body_left;
			t->body_left -= c;
			i += c;
			if (!t->body_left) {
				t->in_body = false;
				t->complete++;
			}
			continue;
		}
		char ch = p[i++];
		if (t->head_len + 1 < sizeof t->head)
			t->head[t->head_len++] = ch;
		t->crlf = ch == (t->crlf % 2 ? '\n' : '\r') ? t->crlf + 1 : ch == '\r' ? 1 : 0;
		if (t->crlf < 4)
			continue;
		/* A head is complete: its body is Content-Length bytes (this server
		 * sends no chunked answer); 1xx, 204 and 304 have none. */
		t->head[t->head_len] = '\0';
		int status = !strncmp(t->head, "HTTP/1.", 7) && t->head_len > 12 ? atoi(t->head + 9) : 0;
		size_t len = 0;
		for (char *h = strchr(t->head, '\n'); h; h = strchr(h + 1, '\n'))
			if (!strncasecmp(h + 1, "Content-Length:", 15))
				len = strtoull(h + 16, NULL, 10);
		if (status < 200 || status == 204 || status == 304)
			len = 0;
		t->head_len = 0;
		t->crlf = 0;
		if (len) {
			t->in_body = true;
			t->body_left = len;
		} else if (status >= 200 || status == 0) {
			t->complete++; /* an interim 1xx answer is not one */
		}
	}
}

/* Whether the answer so far ends between two answers, at least one final one read. */
static bool settled(const struct tracker *t)
{
	return t->complete && !t->in_body && t->head_len == 0;
}

/* After connect() failed: true if only a signal interrupted it (libFuzzer's
 * timers send them) and the connection, which goes on being made meanwhile,
 * is up within ms. */
static bool connected_after_eintr(int fd, int ms)
{
	if (errno != EINTR || !(wait_fd(fd, POLLOUT, ms) & POLLOUT))
		return false;
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		errno = err ? err : errno;
		return false;
	}
	return true;
}

/* Sends data over a fresh connection, shuts the write side, reads the answer
 * until EOF or idle_ms of silence (at most total_ms in all). The first
 * keep - 1 bytes of the answer go to out (NUL-terminated) when out is not NULL.
 * Returns the number of answer bytes, or -1 if no connection could be made. */
static long exchange(const void *data, size_t size, int idle_ms, int total_ms, char *out,
		     size_t keep)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) && !connected_after_eintr(fd, total_ms)) {
		close(fd);
		return -1;
	}
	int64_t deadline = now_ms() + total_ms;
	const char *p = data;
	size_t left = size;
	while (left) {
		ssize_t n = send(fd, p, left, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			left -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/* The server may stop reading (an early answer, a full buffer): wait a
		 * little for room, and give up on the rest if none comes. */
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    (wait_fd(fd, POLLOUT, idle_ms) & POLLOUT) && now_ms() < deadline)
			continue;
		break; /* EPIPE, ECONNRESET: the server closed; read what it said */
	}
	shutdown(fd, SHUT_WR);
	long got = 0;
	size_t kept = 0;
	static char buf[65536];
	static struct tracker t;
	memset(&t, 0, sizeof t);
	for (;;) {
		int64_t left_ms = deadline - now_ms();
		if (left_ms <= 0)
			break;
		int wait_ms = settled(&t) && idle_ms > FUZZ_HTTP_SETTLE_MS ? FUZZ_HTTP_SETTLE_MS : idle_ms;
		short ev = wait_fd(fd, POLLIN, left_ms < wait_ms ? (int)left_ms : wait_ms);
		if (!ev)
			break; /* silent: a suspended request, a delay fault, a slow store */
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n <= 0)
			break; /* EOF: the server is done with the connection */
		if (out && kept + 1 < keep) {
			size_t c = (size_t)n < keep - 1 - kept ? (size_t)n : keep - 1 - kept;
			memcpy(out + kept, buf, c);
			kept += c;
		}
		track(&t, buf, (size_t)n);
		got += n;
	}
	if (out && keep)
		out[kept] = '\0';
	/* Reset rather than close: no TIME_WAIT left per input, so the loopback's
	 * ports last however many inputs the fuzzer runs. */
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(fd);
	return got;
}

/* One request of the harness's own, answered before the next input. */
static void admin(const char *method, const char *path, const char *body)
{
	char req[512];
	int n = snprintf(req, sizeof req,
			 "%s %s HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			 method, path, body ? strlen(body) : 0, body ? body : "");
	if (exchange(req, (size_t)n, 5000, 10000, NULL, 0) <= 0) {
		fprintf(stderr, "fuzz_http: %s %s got no answer: the server is stuck or gone\n", method,
			path);
		abort();
	}
}

static void clear_faults(void)
{
	admin("DELETE", "/__admin/faults", NULL);
}

static void real_clock(void)
{
	admin("POST", "/__admin/clock", "{\"mode\":\"real\"}");
}

static void reset_state(void)
{
	clear_faults();
	real_clock();
	admin("POST", "/__admin/reset", NULL);
	admin("DELETE", "/__admin/requests", NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (app)
		return 0;
	signal(SIGPIPE, SIG_IGN);
	xalloc_install_cjson_hooks();
	char *args[] = {"invent-mock", "--db", ":memory:", "--port", "0", "--log", "off",
			"--journal-size", "100",
			/* Every input is a connection from 127.0.0.1; a few may stay
			 * suspended (delay faults), so do not let the per-address limit
			 * refuse the rest. */
			"--max-connections-per-ip", "1000", NULL};
	config_init(&cfg);
	struct error err = {0};
	if (config_parse(&cfg, (int)(sizeof args / sizeof args[0]) - 1, args, &err) ||
	    app_start(&cfg, &app, &err)) {
		fprintf(stderr, "fuzz_http: the server did not start: %s\n", err.msg);
		exit(1);
	}
	port = app_port(app);
	const char *s = getenv("FUZZ_HTTP_STRICT");
	strict = s && *s && strcmp(s, "0");
	s = getenv("FUZZ_HTTP_VERBOSE");
	verbose = s && *s && strcmp(s, "0");
	return 0;
}

void fuzz_target_cleanup(void)
{
	if (!app)
		return;
	app_stop(app);
	app = NULL;
	config_cleanup(&cfg);
}

/* The status of the first answer in resp ("HTTP/1.1 500 ..."), or 0. */
static int first_status(const char *resp)
{
	if (strncmp(resp, "HTTP/1.", 7) || !resp[7] || resp[8] != ' ')
		return 0;
	return atoi(resp + 9);
}

static bool mentions(const uint8_t *data, size_t size, const char *what)
{
	return memmem(data, size, what, strlen(what)) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!app)
		LLVMFuzzerInitialize(NULL, NULL);
	if (++n_inputs % FUZZ_HTTP_RESET_EVERY == 0)
		reset_state();
	static char resp[FUZZ_HTTP_KEEP];
	/* Without a blank line no request head is complete: the server can only
	 * refuse the bytes (and then it closes), never answer after a while. */
	bool head = memmem(data, size, "\n\r\n", 3) || memmem(data, size, "\n\n", 2);
	long got = exchange(data, size, head ? FUZZ_HTTP_IDLE_MS : FUZZ_HTTP_SETTLE_MS,
			    FUZZ_HTTP_TOTAL_MS, resp, sizeof resp);
	if (got < 0) {
		fprintf(stderr, "fuzz_http: cannot connect to 127.0.0.1:%u: %s\n", port,
			strerror(errno));
		abort();
	}
	if (verbose)
		fprintf(stderr, "fuzz_http: %ld answer bytes:\n%.*s\n", got, 1024, resp);
	bool faults = mentions(data, size, "/__admin/faults");
	if (strict && !faults) {
		/* Any of the pipelined answers, not just the first. */
		for (const char *p = resp; p && *p; p = strstr(p + 1, "HTTP/1.")) {
			if (first_status(p) == 500) {
				fprintf(stderr, "fuzz_http: the server answered 500:\n%s\n", resp);
				abort();
			}
		}
	}
	if (faults)
		clear_faults();
	if (mentions(data, size, "/__admin/clock"))
		real_clock();
	return 0;
}
