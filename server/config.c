/* See config.h. */
#include "config.h"

#include "clock.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef INVENT_MOCK_VERSION
#define INVENT_MOCK_VERSION "0.0.0"
#endif

enum opt_id { O_HOST, O_PORT, O_DB, O_FIXTURES, O_WATCH, O_RESET, O_LENIENT, O_MAX_BODY, O_LOG, O_SYNC,
	      O_THREADS, O_MAX_CONNECTIONS, O_MAX_CONNECTIONS_PER_IP, O_IDLE_TIMEOUT,
	      O_CONNECTION_MEMORY, O_MAX_URL, O_MAX_HEADER_BYTES, O_ADMIN_TOKEN, O_TLS_CERT, O_TLS_KEY, O_JOURNAL_SIZE, O_CLOCK, O_SEED, O_RATE_LIMIT,
	      O_RATE_LIMIT_PER_MINUTE, O_CORS, O_HELP, O_VERSION, O__COUNT };

static const struct {
	const char *name; /* flag without "--" */
	const char *env;  /* NULL: no environment variable */
	const char *arg;  /* NULL: takes no value */
	const char *help;
} opts[O__COUNT] = {
	[O_HOST] = {"host", "INVENT_MOCK_HOST", "ADDR", "address to listen on (default 127.0.0.1)"},
	[O_PORT] = {"port", "INVENT_MOCK_PORT", "N", "port to listen on; 0 picks a free one (default 8080)"},
	[O_DB] = {"db", "INVENT_MOCK_DB", "PATH", "SQLite database file, or :memory: (default invent-mock.db)"},
	[O_FIXTURES] = {"fixtures", "INVENT_MOCK_FIXTURES", "FILE", "seed data (default: the built-in demo data)"},
	[O_WATCH] = {"watch", "INVENT_MOCK_WATCH", NULL, "reload --fixtures FILE whenever it changes on disk"},
	[O_RESET] = {"reset", "INVENT_MOCK_RESET", NULL, "reload the fixtures over an existing database"},
	[O_LENIENT] = {"lenient", "INVENT_MOCK_LENIENT", NULL, "ignore unknown body fields instead of answering 400"},
	[O_MAX_BODY] = {"max-body", "INVENT_MOCK_MAX_BODY", "BYTES", "largest request body; larger is 413 (default 1048576)"},
	[O_LOG] = {"log", "INVENT_MOCK_LOG", "text|json|off", "request log on stderr (default text)"},
	[O_SYNC] = {"sync", "INVENT_MOCK_SYNC", "normal|full", "normal: writes survive a crash; full: also power loss (default normal)"},
	[O_THREADS] = {"threads", "INVENT_MOCK_THREADS", "N", "HTTP threads (default 1; SQLite work has its own thread)"},
	[O_MAX_CONNECTIONS] = {"max-connections", "INVENT_MOCK_MAX_CONNECTIONS", "N", "connections open at once (default 1000)"},
	[O_MAX_CONNECTIONS_PER_IP] = {"max-connections-per-ip", "INVENT_MOCK_MAX_CONNECTIONS_PER_IP", "N", "connections open at once from one address (default 512)"},
	[O_IDLE_TIMEOUT] = {"idle-timeout", "INVENT_MOCK_IDLE_TIMEOUT", "SECONDS", "close a connection silent this long; 0: never (default 60)"},
	[O_CONNECTION_MEMORY] = {"connection-memory", "INVENT_MOCK_CONNECTION_MEMORY", "BYTES", "memory for one request's line and headers (default 16384)"},
	[O_MAX_URL] = {"max-url", "INVENT_MOCK_MAX_URL", "BYTES", "longest request target; longer is 414 (default 8192)"},
	[O_MAX_HEADER_BYTES] = {"max-header-bytes", "INVENT_MOCK_MAX_HEADER_BYTES", "BYTES", "all request headers together; more is 431 (default 8192)"},
	[O_ADMIN_TOKEN] = {"admin-token", "INVENT_MOCK_ADMIN_TOKEN", "TOKEN", "require Authorization: Bearer TOKEN on /__admin/ (default: none)"},
	[O_TLS_CERT] = {"tls-cert", "INVENT_MOCK_TLS_CERT", "FILE", "serve HTTPS with this PEM certificate (needs --tls-key)"},
	[O_TLS_KEY] = {"tls-key", "INVENT_MOCK_TLS_KEY", "FILE", "the PEM private key of --tls-cert"},
	[O_JOURNAL_SIZE] = {"journal-size", "INVENT_MOCK_JOURNAL_SIZE", "N", "requests the journal keeps, oldest dropped first (default 10000)"},
	[O_CLOCK] = {"clock", "INVENT_MOCK_CLOCK", "DATE-TIME", "start with the clock frozen at this RFC 3339 instant"},
	[O_SEED] = {"seed", "INVENT_MOCK_SEED", "N", "make generated ids reproducible from this number"},
	[O_RATE_LIMIT] = {"rate-limit", "INVENT_MOCK_RATE_LIMIT", NULL, "answer 429 past Invent's limit per client IP (default off)"},
	[O_RATE_LIMIT_PER_MINUTE] = {"rate-limit-per-minute", "INVENT_MOCK_RATE_LIMIT_PER_MINUTE", "N", "requests per minute with --rate-limit (default 500)"},
	[O_CORS] = {"cors", "INVENT_MOCK_CORS", "ORIGINS", "let web pages of these origins call /orgs/...: * or a comma-separated list (default: none)"},
	[O_HELP] = {"help", NULL, NULL, "print this help and exit"},
	[O_VERSION] = {"version", NULL, NULL, "print the version and exit"},
};

void config_init(struct config *out)
{
	*out = (struct config){
		.host = xstrdup("127.0.0.1"),
		.port = 8080,
		.db_path = xstrdup("invent-mock.db"),
		.max_body = 1024 * 1024,
		.log = CONFIG_LOG_TEXT,
		.threads = 1,
		.journal_size = 10000,
		.max_connections = 1000,
		.max_connections_per_ip = 512,
		.idle_timeout = 60,
		.connection_memory = 16384,
		.max_url = 8192,
		.max_header_bytes = 8192,
		.rate_limit_per_minute = 500,
		.events_keepalive_ms = 15000,
	};
}

void config_cleanup(struct config *c)
{
	if (!c)
		return;
	free(c->host);
	free(c->db_path);
	free(c->fixtures_path);
	free(c->admin_token);
	free(c->cors);
	free(c->tls_cert);
	free(c->tls_key);
	memset(c, 0, sizeof *c);
}

static void print_help(void)
{
	printf("Usage: invent-mock [OPTION]...\n"
	       "A local emulator of the Invent contacts API (PATCH /orgs/{org_id}/contacts/{id}).\n\n");
	for (int i = 0; i < O__COUNT; i++) {
		char left[64];
		snprintf(left, sizeof left, "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
			 opts[i].arg ? opts[i].arg : "");
		printf("  %-28s %s", left, opts[i].help);
		if (opts[i].env)
			printf(" [%s]", opts[i].env);
		printf("\n");
	}
	printf("\nFlags win over environment variables. On start-up the server prints one JSON\n"
	       "line to stdout, {\"event\":\"ready\",\"url\":...,\"port\":...}, and logs to stderr.\n");
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	if (!*s)
		return -1;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	unsigned long long v = strtoull(s, NULL, 10);
	if (errno || v > max)
		return -1;
	*out = v;
	return 0;
}

static bool parse_bool(const char *s, bool *out)
{
	if (!strcasecmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
		return *out = true, true;
	if (!strcasecmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off") || !*s)
		return *out = false, true;
	return false;
}

/* --cors: "*" alone, or origins (scheme "http" or "https", a host, an optional
 * port; no path), separated by commas, spaces around them ignored. *out gets
 * the list without the spaces (NULL for an empty value: off). */
static int parse_cors(const char *val, char **out, const char *origin, struct error *err)
{
	char *list = xmalloc(strlen(val) + 1);
	size_t n = 0, count = 0;
	for (const char *p = val;;) {
		p += strspn(p, " \t");
		size_t len = strcspn(p, ",");
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		const char *host = !strncasecmp(p, "http://", 7) ? p + 7 : !strncasecmp(p, "https://", 8) ? p + 8 : NULL;
		bool star = len == 1 && *p == '*';
		if (!star && (!host || host >= p + len || memchr(host, '/', (size_t)(p + len - host)) ||
			      memchr(p, ' ', len) || memchr(p, '\t', len))) {
			if (len == 0 && !*p && count == 0)
				break; /* empty: off */
			free(list);
			return error_set(err, 0, "%s: \"%.*s\" is not an origin (scheme://host[:port]) or *",
					 origin, (int)len, p);
		}
		memcpy(list + n, p, len);
		n += len;
		count++;
		p += strcspn(p, ",");
		if (!*p)
			break;
		list[n++] = ',';
		p++;
	}
	list[n] = '\0';
	if (count > 1 && strchr(list, '*') && (list[0] == '*' || strstr(list, ",*"))) {
		free(list);
		return error_set(err, 0, "%s: * allows every origin: it cannot go with a list", origin);
	}
	free(*out);
	*out = count ? list : NULL;
	if (!count)
		free(list);
	return 0;
}

/* Applies one option; origin names it in messages ("--port" or "INVENT_MOCK_PORT"). */
static int apply(struct config *c, enum opt_id id, const char *val, const char *origin,
		 struct error *err)
{
	unsigned long long n;
	bool b;
	switch (id) {
	case O_HOST: {
		/* An address, checked here so a bad one is a bad flag (exit 2), not a
		 * failure to listen; "localhost" is its IPv4 loopback, without a
		 * resolver (a name could stand for several addresses). */
		unsigned char a[sizeof(struct in6_addr)];
		if (!strcasecmp(val, "localhost"))
			val = "127.0.0.1";
		else if (inet_pton(AF_INET, val, a) != 1 && inet_pton(AF_INET6, val, a) != 1)
			return error_set(err, 0, "%s: \"%s\" is not an IPv4 or IPv6 address, or localhost",
					 origin, val);
		free(c->host);
		c->host = xstrdup(val);
		return 0;
	}
	case O_PORT:
		if (parse_uint(val, 65535, &n))
			return error_set(err, 0, "%s: \"%s\" is not a port number (0 to 65535)", origin, val);
		c->port = (unsigned)n;
		return 0;
	case O_DB:
		if (!*val)
			return error_set(err, 0, "%s: the database path is empty", origin);
		free(c->db_path);
		c->db_path = xstrdup(val);
		return 0;
	case O_FIXTURES:
		free(c->fixtures_path);
		c->fixtures_path = *val ? xstrdup(val) : NULL;
		return 0;
	case O_RESET:
	case O_WATCH:
	case O_LENIENT:
	case O_RATE_LIMIT:
		if (!val)
			b = true;
		else if (!parse_bool(val, &b))
			return error_set(err, 0, "%s: \"%s\" is not a boolean (1/0, true/false)", origin, val);
		*(id == O_RESET	    ? &c->reset
		  : id == O_WATCH   ? &c->watch
		  : id == O_LENIENT ? &c->lenient
				    : &c->rate_limit) = b;
		return 0;
	case O_MAX_CONNECTIONS:
	case O_MAX_CONNECTIONS_PER_IP:
		if (parse_uint(val, 100000, &n) || n == 0)
			return error_set(err, 0, "%s: \"%s\" is not a count (1 to 100000)", origin, val);
		*(id == O_MAX_CONNECTIONS ? &c->max_connections : &c->max_connections_per_ip) = (unsigned)n;
		return 0;
	case O_IDLE_TIMEOUT:
		if (parse_uint(val, 86400, &n))
			return error_set(err, 0, "%s: \"%s\" is not a number of seconds (0 to 86400)", origin, val);
		c->idle_timeout = (unsigned)n;
		return 0;
	case O_CONNECTION_MEMORY:
		if (parse_uint(val, 1 << 20, &n) || n < 4096)
			return error_set(err, 0, "%s: \"%s\" is not a size in bytes (4096 to 1048576)", origin, val);
		c->connection_memory = (size_t)n;
		return 0;
	case O_MAX_URL:
	case O_MAX_HEADER_BYTES:
		if (parse_uint(val, 1 << 20, &n) || n < 64)
			return error_set(err, 0, "%s: \"%s\" is not a size in bytes (64 to 1048576)", origin, val);
		*(id == O_MAX_URL ? &c->max_url : &c->max_header_bytes) = (size_t)n;
		return 0;
	case O_ADMIN_TOKEN:
		free(c->admin_token);
		c->admin_token = *val ? xstrdup(val) : NULL;
		return 0;
	case O_TLS_CERT:
	case O_TLS_KEY: {
		char **path = id == O_TLS_CERT ? &c->tls_cert : &c->tls_key;
		free(*path);
		*path = *val ? xstrdup(val) : NULL;
		return 0;
	}
	case O_JOURNAL_SIZE:
		if (parse_uint(val, 10000000, &n))
			return error_set(err, 0, "%s: \"%s\" is not a count (0 to 10000000)", origin, val);
		c->journal_size = (size_t)n;
		return 0;
	case O_CLOCK:
		if (clock_parse(val, &c->clock_ms))
			return error_set(err, 0, "%s: \"%s\" is not an RFC 3339 date-time", origin, val);
		c->clock_frozen = true;
		return 0;
	case O_SEED:
		if (parse_uint(val, UINT64_MAX, &n))
			return error_set(err, 0, "%s: \"%s\" is not a non-negative integer", origin, val);
		c->seeded = true;
		c->seed = n;
		return 0;
	case O_RATE_LIMIT_PER_MINUTE:
		if (parse_uint(val, 1000000, &n) || n == 0)
			return error_set(err, 0, "%s: \"%s\" is not a count (1 to 1000000)", origin, val);
		c->rate_limit_per_minute = (unsigned)n;
		return 0;
	case O_MAX_BODY:
		if (parse_uint(val, (unsigned long long)1 << 30, &n) || n == 0)
			return error_set(err, 0, "%s: \"%s\" is not a size in bytes (1 to 1073741824)", origin, val);
		c->max_body = (size_t)n;
		return 0;
	case O_LOG:
		if (!strcmp(val, "text"))
			c->log = CONFIG_LOG_TEXT;
		else if (!strcmp(val, "json"))
			c->log = CONFIG_LOG_JSON;
		else if (!strcmp(val, "off"))
			c->log = CONFIG_LOG_OFF;
		else
			return error_set(err, 0, "%s: \"%s\" is not one of text, json, off", origin, val);
		return 0;
	case O_SYNC:
		if (strcmp(val, "normal") && strcmp(val, "full"))
			return error_set(err, 0, "%s: \"%s\" is not one of normal, full", origin, val);
		c->sync_full = !strcmp(val, "full");
		return 0;
	case O_THREADS:
		if (parse_uint(val, 64, &n) || n == 0)
			return error_set(err, 0, "%s: \"%s\" is not a thread count (1 to 64)", origin, val);
		c->threads = (unsigned)n;
		return 0;
	case O_CORS:
		return parse_cors(val, &c->cors, origin, err);
	case O_HELP:
	case O_VERSION:
	case O__COUNT:
		break;
	}
	return 0;
}

int config_parse(struct config *c, int argc, char **argv, struct error *err)
{
	struct option longopts[O__COUNT + 1];
	for (int i = 0; i < O__COUNT; i++)
		longopts[i] = (struct option){opts[i].name, opts[i].arg ? required_argument : no_argument,
					      NULL, i};
	longopts[O__COUNT] = (struct option){0};
	/* Flags are read first and applied last, so a variable a flag overrides is
	 * never even checked. */
	struct {
		int id;
		const char *val;
	} given[64];
	int n_given = 0;
	bool flagged[O__COUNT] = {0};
	optind = 0; /* glibc: start over, so tests can parse more than once */
	opterr = 0;
	int id;
	while ((id = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (id == '?')
			return error_set(err, 0, "unknown option %s (see --help)", argv[optind - 1]);
		if (id == ':')
			return error_set(err, 0, "option %s needs a value (see --help)", argv[optind - 1]);
		if (id == O_HELP) {
			print_help();
			return 1;
		}
		if (id == O_VERSION) {
			printf("invent-mock %s\n", INVENT_MOCK_VERSION);
			return 1;
		}
		if (n_given == (int)(sizeof given / sizeof given[0]))
			return error_set(err, 0, "too many options");
		given[n_given].id = id;
		given[n_given++].val = optarg;
		flagged[id] = true;
	}
	if (optind < argc)
		return error_set(err, 0, "unexpected argument \"%s\" (see --help)", argv[optind]);
	for (int i = 0; i < O__COUNT; i++) {
		const char *v = opts[i].env && !flagged[i] ? getenv(opts[i].env) : NULL;
		if (v && apply(c, (enum opt_id)i, v, opts[i].env, err))
			return -1;
	}
	for (int i = 0; i < n_given; i++) {
		char origin[64];
		snprintf(origin, sizeof origin, "--%s", opts[given[i].id].name);
		if (apply(c, (enum opt_id)given[i].id, given[i].val, origin, err))
			return -1;
	}
	if (c->watch && !c->fixtures_path)
		return error_set(err, 0, "--watch needs --fixtures FILE: the built-in demo data never changes");
	if (!c->tls_cert != !c->tls_key)
		return error_set(err, 0, "%s needs %s too (a TLS certificate and its key: --tls-cert and "
				 "--tls-key, or INVENT_MOCK_TLS_CERT and INVENT_MOCK_TLS_KEY)",
				 c->tls_cert ? (flagged[O_TLS_CERT] ? "--tls-cert" : "INVENT_MOCK_TLS_CERT")
					     : (flagged[O_TLS_KEY] ? "--tls-key" : "INVENT_MOCK_TLS_KEY"),
				 c->tls_cert ? "--tls-key" : "--tls-cert");
	return 0;
}
