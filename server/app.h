/* The application: every long-lived part wired together, started and stopped
 * as one. main.c and the in-process HTTP tests both go through here. */
#pragma once
#include <stdint.h>

#include "config.h"
#include "errors.h"

struct http;

/* The shared context handlers reach through request_app(). Fields are owned by
 * the app and live from app_start() to app_stop(). */
struct app {
	const struct config *config; /* borrowed from the caller of app_start */
	struct clock *clock;
	struct ids *ids;
	struct fixture *fixture;     /* the seed data's source and hash (its orgs are the store's) */
	struct store *store;
	struct auth *auth;
	struct journal *journal;
	struct faults *faults;
	struct ratelimit *ratelimit; /* NULL unless --rate-limit */
	struct http *http;
	struct watch *watch;	     /* NULL unless --watch */
	int64_t started_ms;
	int64_t started_mono_ms; /* CLOCK_MONOTONIC, for the uptime */
};

/* Loads the fixtures, opens the database (loading the fixtures into it when it
 * is empty or config->reset), starts the store thread and the HTTP server.
 * cfg must outlive the app. Returns 0 and *out, or -1 with err->msg a one-line
 * reason (bad fixture, unusable database, port in use). */
int app_start(const struct config *cfg, struct app **out, struct error *err);

/* The port the server listens on (the real one when config asked for 0). */
unsigned app_port(const struct app *a);

/* Stops accepting, finishes requests in flight, stops the threads and closes the
 * database. NULL is fine. */
void app_stop(struct app *a);
