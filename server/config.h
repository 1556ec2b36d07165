/* Configuration: command-line flags, each also settable by an INVENT_MOCK_*
 * environment variable (flags win). One table drives parsing and --help. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

enum config_log { CONFIG_LOG_TEXT, CONFIG_LOG_JSON, CONFIG_LOG_OFF };

struct config {
	char *host;	     /* address to bind, default "127.0.0.1" */
	unsigned port;	     /* 0 picks a free port */
	char *db_path;	     /* default "invent-mock.db"; ":memory:" for tests */
	char *fixtures_path; /* NULL: the embedded demo data */
	bool watch;	     /* reload fixtures_path whenever it changes */
	bool reset;	     /* reload the fixtures over an existing database */
	bool lenient;	     /* ignore unknown body fields instead of 400 */
	size_t max_body;     /* bytes; larger bodies are 413 */
	enum config_log log;
	bool sync_full;	     /* synchronous=FULL: acknowledged writes survive power loss */
	unsigned threads;    /* HTTP threads */
	char *admin_token;   /* NULL: the admin API needs no key */
	char *tls_cert;	     /* PEM certificate file: serve HTTPS; NULL: plain HTTP */
	char *tls_key;	     /* its PEM private key file; set exactly when tls_cert is */
	size_t journal_size; /* requests the journal keeps */
	bool clock_frozen;   /* start with the clock frozen at clock_ms */
	int64_t clock_ms;
	bool seeded;	     /* generated ids follow from seed */
	uint64_t seed;
	unsigned max_connections;	 /* open at once, all clients */
	unsigned max_connections_per_ip; /* open at once from one address */
	unsigned idle_timeout;		 /* seconds a connection may stay silent */
	size_t connection_memory;	 /* bytes for one connection's request head */
	size_t max_url;			 /* longest request target; longer is 414 */
	size_t max_header_bytes;	 /* all header lines together; more is 431 */
	bool rate_limit;     /* emulate Invent's per-IP limit */
	unsigned rate_limit_per_minute;
	char *cors;	     /* NULL: off; "*", or origins joined by ',' ("http://localhost:3000") */
	unsigned events_keepalive_ms; /* between keep-alive comments of /__admin/events (no flag: tests) */
};

/* Fills *out with the defaults. Free with config_cleanup(). */
void config_init(struct config *out);
void config_cleanup(struct config *c);

/* Applies the environment (INVENT_MOCK_*), then argv, to *c.
 * Returns 0 to run, 1 when --help or --version printed to stdout and the program
 * should exit 0, or -1 with err->msg a one-line complaint. */
int config_parse(struct config *c, int argc, char **argv, struct error *err);
