/* The store: invent-mock's state in SQLite (schema, prepared statements,
 * transactions) and the one thread that runs every query, batching concurrent
 * requests into shared transactions. The concurrency model is explained at the
 * top of store.c. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "fixtures.h"
#include "model.h"

/* The schema version this build writes (PRAGMA user_version). */
enum { STORE_SCHEMA_VERSION = 1 };

struct store;

struct store_options {
	const char *path;	/* a file, or ":memory:" */
	bool sync_full;		/* synchronous=FULL (survives power loss) instead of NORMAL */
	unsigned max_batch;	/* most jobs one transaction may hold; 0 means the default */
};

/* Opens (creating if needed) the database and brings its schema to
 * STORE_SCHEMA_VERSION. *was_empty tells whether it held no data yet.
 * Returns 0 and *out (close with store_close), or -1 with err (a file that is
 * not a database, a newer schema, a path that cannot be opened). */
int store_open(const struct store_options *opt, struct store **out, bool *was_empty,
	       struct error *err);

/* Stops the store thread if it runs (after finishing queued jobs), then closes
 * the database. NULL is fine. */
void store_close(struct store *s);

/* --- Jobs: everything after start-up runs as a job on the store thread. --- */

struct store_job {
	/* Runs on the store thread inside the batch's transaction. Returns 0, or -1
	 * with err filled. A failing run must leave no change behind: each write
	 * function below is atomic by itself, and a run calls at most one of them
	 * (or calls none after a write that succeeded). */
	int (*run)(struct store *s, void *arg, struct error *err);
	/* Called on the store thread once the batch is committed (rc 0), or when the
	 * job or its batch failed (rc -1, err says why: a failed COMMIT is 507/503). */
	void (*done)(void *arg, int rc, const struct error *err);
	void *arg;
	struct store_job *next; /* store-owned queue link */
	int rc;			/* store-owned */
	struct error err;	/* store-owned */
};

/* Starts the store thread. Before this, the calling thread may use the
 * functions below directly; after it, only jobs may. Returns 0 or -1 with err. */
int store_start(struct store *s, struct error *err);

/* Queues job (borrowed until its done() is called). Thread-safe. */
void store_submit(struct store *s, struct store_job *job);

/* --- Queries: on the store thread inside a job, or before store_start(). --- */

/* Replaces everything (every org, key, segment and contact) with the fixture's
 * data; with only_org, replaces just that fixture org's segments and contacts.
 * Atomic. */
int store_load_fixture(struct store *s, const struct fixture *f, const char *only_org,
		       struct error *err);

/* Reads the contact contact_id of org_id with its channels and segments into *out
 * (cleanup with contact_cleanup). -1 with err 404 "Contact not found" if the org
 * has no such contact. */
int store_contact_get(struct store *s, const char *org_id, const char *contact_id,
		      struct contact *out, struct error *err);

/* Writes c's own fields (name, flags, timestamps, unsubscribe reason and
 * feedback) to the row c was read from. One statement, so atomic. */
int store_contact_update(struct store *s, const struct contact *c, struct error *err);

/* Calls fn for every API key with its org, then returns. */
int store_each_key(struct store *s, void (*fn)(void *arg, const char *key, const char *org_id),
		   void *arg, struct error *err);
/* Calls fn for every org with its parent (NULL for a top-level org). */
int store_each_org(struct store *s,
		   void (*fn)(void *arg, const char *org_id, const char *parent_id), void *arg,
		   struct error *err);

/* Counts of orgs and contacts, for health and tests. */
int store_counts(struct store *s, int64_t *orgs, int64_t *contacts, struct error *err);

/* PRAGMA integrity_check: 0 if "ok", else -1 with the first complaint. */
int store_integrity_check(struct store *s, struct error *err);
