/* The store: invent-mock's state in SQLite (schema, prepared statements,
 * transactions) and the one thread that runs every query on it, batching
 * concurrent requests into shared transactions. The concurrency model is
 * explained at the top of store_thread.c. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "fixtures.h"
#include "model.h"

/* The schema version this build writes (PRAGMA user_version). */
enum { STORE_SCHEMA_VERSION = 6 };

struct store;

/* What went wrong, in the store's own terms: a failing store function returns
 * -1 with err->code one of these and err->msg its detail, never an HTTP status
 * (errors.c's error_from_store() alone picks the status and the API's wording).
 * Start-up failures (store_open, store_set_fixture, store_start) are plain
 * messages instead: they are printed and end the process. */
enum store_error {
	STORE_ERR_NONE = 0,
	STORE_ERR_CONTACT_NOT_FOUND,  /* the org has no such contact */
	STORE_ERR_SEGMENT_NOT_FOUND,  /* the org has no such segment (named in the path) */
	STORE_ERR_ORG_NOT_FOUND,      /* no such org */
	STORE_ERR_UNKNOWN_SEGMENT,    /* a segment id given with a write is not the org's; detail: it */
	STORE_ERR_NOT_FIXTURE_ORG,    /* the org is not a fixture org; detail: its id */
	STORE_ERR_FIXTURE_ORG,	      /* a fixture org, which cannot be deleted; detail: its id */
	STORE_ERR_READ_ONLY,	      /* the file cannot be written, so no reset or import either */
	/* SQLite failed; detail: its message. */
	STORE_ERR_FULL,		      /* the disk is full */
	STORE_ERR_UNAVAILABLE,	      /* busy, locked, read-only, I/O error, out of memory */
	STORE_ERR_INTERNAL,	      /* anything else */
	/* Or'ed with one of the three above: the private copy an export reads could
	 * not be made. */
	STORE_ERR_IN_EXPORT = 0x100,
};

struct store_options {
	const char *path;	/* a file, or ":memory:" */
	bool sync_full;		/* synchronous=FULL (survives power loss) instead of NORMAL */
	unsigned max_batch;	/* most jobs one transaction may hold; 0 means the default */
	/* Jobs queued while a batch runs join it only until it has run this long;
	 * 0 means the default (1 ms; see STORE_JOIN_WINDOW_US in store_thread.c). */
	unsigned join_window_us;
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
	 * (or calls none after a write that succeeded), or makes what it does one
	 * unit with store_atomic_begin()/store_atomic_end(). */
	int (*run)(struct store *s, void *arg, struct error *err);
	/* NULL, or called on the store thread once what run did is committed,
	 * before the done() of any job of the batch, in the order the jobs ran:
	 * the place for state outside the database that must change with it (the
	 * key index). Never called for a job that failed. */
	void (*committed)(void *arg);
	/* Called on the store thread once the batch is committed (rc 0), or when the
	 * job or its batch failed (rc -1, err says why; for a failed COMMIT,
	 * SQLite's failure: STORE_ERR_FULL, _UNAVAILABLE or _INTERNAL). */
	void (*done)(void *arg, int rc, const struct error *err);
	void *arg;
	/* Runs between transactions instead of inside one (a whole-store reset,
	 * which replaces the database under it). */
	bool alone;
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

/* Makes what a job does between the two calls one unit: store_atomic_end() with
 * rc 0 keeps it, with any other rc rolls it all back and returns -1 (err is
 * left as the failing step wrote it). For a job that writes and then reads,
 * where the read could still fail. Units nest. */
int store_atomic_begin(struct store *s, struct error *err);
int store_atomic_end(struct store *s, int rc, struct error *err);

/* Replaces everything (every org, key, segment and contact) with the fixture's
 * data; with only_org, replaces just that fixture org's segments and contacts.
 * Atomic. */
int store_load_fixture(struct store *s, const struct fixture *f, const char *only_org,
		       struct error *err);

/* Writes into out the hash of the fixture file the store's data was loaded
 * from ("" if none is recorded: an empty database, or one made before schema
 * version 3), and into *source its name as given then (free() it; NULL when
 * none is recorded). Before store_start(). Returns 0, or -1 with err. */
int store_fixture_hash(struct store *s, char out[17], char **source, struct error *err);

/* Keeps f's data as the state store_reset() returns to (in a second, in-memory
 * database), and with load also loads it into the store. Before store_start(). */
int store_set_fixture(struct store *s, const struct fixture *f, bool load, struct error *err);

/* Puts the whole store back to the fixture state, removing every org that is
 * not a fixture org; a store_job with .alone set must run it. Atomic. */
int store_reset(struct store *s, struct error *err);

/* Makes a fixture state out of f, loaded as store_set_fixture() loads it, in
 * a store of its own in memory, for store_replace_fixture(). Any thread but
 * the store thread's (it takes as long as loading f). Returns 0 and *out
 * (store_close() it unless store_replace_fixture() took it), or -1 with err. */
int store_stage_fixture(const struct fixture *f, struct store **out, struct error *err);

/* Makes staged (from store_stage_fixture) both the state store_reset() returns
 * to and the whole data, in one step, removing every other org; a store_job
 * with .alone set must run it. On success the store owns staged; on failure
 * nothing has changed and the caller still owns it. */
int store_replace_fixture(struct store *s, struct store *staged, struct error *err);

/* A copy of the whole state, taken at once, that a fixture document (the
 * README's "Fixture format") is then read from a piece at a time, on any
 * thread. */
struct store_export;

/* Copies the data (a store_job with .alone set must run it: it costs about a
 * reset) for an export of every org, or with org_id of that org and those
 * below it (the org itself without its parent_id). Returns 0 and *out
 * (store_export_free() it), or -1 with err: STORE_ERR_ORG_NOT_FOUND, or
 * SQLite's failure (with STORE_ERR_IN_EXPORT when the copy failed). */
int store_export_begin(struct store *s, const char *org_id, struct store_export **out,
		       struct error *err);
/* Writes up to max bytes of the document into buf; returns how many, 0 at its
 * end (or after a read failed: store_export_error() then says so). The same
 * data always gives the same bytes. */
size_t store_export_read(struct store_export *x, char *buf, size_t max);
/* 0, or the SQLite code of a failed read (the document is then cut short). */
int store_export_error(const struct store_export *x);
void store_export_free(struct store_export *x);

/* The fixture state that store_reset() returns to, as a store that only
 * store_each_key() and store_each_org() may read, where s may be read: what a
 * reset will leave, known before it runs. *out is borrowed from s. -1 with
 * STORE_ERR_READ_ONLY when s has none. */
int store_fixture_state(struct store *s, struct store **out, struct error *err);

/* Puts one fixture org's segments and contacts back to the fixture state.
 * STORE_ERR_NOT_FIXTURE_ORG otherwise (as for a copy: the org is named in the
 * body, not the path, so it is not "not found"). Atomic. */
int store_reset_org(struct store *s, const char *org_id, struct error *err);

/* Makes org new_id, with no parent and the API key api_key, holding a copy of
 * fixture org from's segments and contacts as the fixture defines them (ids
 * kept). STORE_ERR_NOT_FIXTURE_ORG otherwise. Atomic. */
int store_org_copy(struct store *s, const char *from, const char *new_id, const char *api_key,
		   struct error *err);

/* Removes an org made by store_org_copy, with everything in it.
 * STORE_ERR_ORG_NOT_FOUND, or STORE_ERR_FIXTURE_ORG for a fixture org. Atomic. */
int store_org_delete(struct store *s, const char *org_id, struct error *err);

/* Reads the contact contact_id of org_id with its channels and segments into *out
 * (cleanup with contact_cleanup). -1 with STORE_ERR_CONTACT_NOT_FOUND if the
 * org has no such contact. */
int store_contact_get(struct store *s, const char *org_id, const char *contact_id,
		      struct contact *out, struct error *err);

/* store_contact_get without the channels and segments (none in *out), which
 * store_contact_read_lists then adds to it (on failure leaving none). */
int store_contact_get_own(struct store *s, const char *org_id, const char *contact_id,
			  struct contact *out, struct error *err);
int store_contact_read_lists(struct store *s, struct contact *c, struct error *err);

/* What a caller made of a contact's channels and segments (its rendering),
 * kept by the store until any channel, segment or membership may have changed:
 * any write but store_contact_update, and any rollback. store_lists_get: the
 * kept text (borrowed, valid until the next store call) and *len its length,
 * or NULL. store_lists_keep takes text (free()) over. Store thread only. */
const char *store_lists_get(struct store *s, int64_t contact_pk, size_t *len);
void store_lists_keep(struct store *s, int64_t contact_pk, char *text, size_t len);

/* Writes c's own fields (name, flags, timestamps, unsubscribe reason and
 * feedback) to the row c was read from. One statement, so atomic. */
int store_contact_update(struct store *s, const struct contact *c, struct error *err);

/* The list filters of GET /orgs/{org_id}/contacts; NULL strings filter nothing. */
enum store_status {
	STORE_STATUS_ALL,
	STORE_STATUS_SUBSCRIBED,	  /* neither unsubscribed nor blocked */
	STORE_STATUS_UNSUBSCRIBED,	  /* unsubscribed, blocked or not */
	STORE_STATUS_BLOCKED,		  /* blocked, unsubscribed or not */
	STORE_STATUS_AI_REPLIES_DISABLED, /* the fixture-only flag */
};

struct store_list_query {
	const char *org_id;
	const char *search;	/* substring of the name or of a channel's name, username, email, phone, user_id */
	const char *name;	/* substring of the name */
	const char *email;	/* a channel's email, whole */
	const char *user_id;	/* a channel's user_id, whole */
	const char *username;	/* substring of a channel's username */
	const char *segment_id; /* member of that segment */
	int unsubscribed;	/* -1: either; 0 or 1 */
	bool exclude_admins;
	enum store_status status;
	int64_t page, take;	/* 1-based page of take contacts */
	int64_t segment_pk, segment_members; /* filled by the store from segment_id */
};

/* One page of the org's contacts matching q (all filters ANDed; substrings and
 * emails compared without regard to ASCII case), newest created_at first, then
 * id. Writes a heap array of *n contacts to *out (contact_cleanup each, then
 * free) and the number of all matches to *total. */
int store_contacts_list(struct store *s, const struct store_list_query *q, struct contact **out,
			size_t *n, int64_t *total, struct error *err);

/* One page of the contact's segments, in segment creation order. -1 with
 * STORE_ERR_CONTACT_NOT_FOUND if the org has no such contact. Writes a heap array of *n
 * segments (segment_cleanup each, then free) and the count of all to *total. */
int store_contact_segments(struct store *s, const char *org_id, const char *contact_id,
			   int64_t page, int64_t take, struct segment **out, size_t *n,
			   int64_t *total, struct error *err);

/* Adds a new contact c, with its channels, to org_id, member of the segments
 * whose ids are listed (each must be a segment of the org: else -1 with
 * STORE_ERR_UNKNOWN_SEGMENT naming the first that is not). c->segments is
 * ignored. Atomic. */
int store_contact_create(struct store *s, const char *org_id, const struct contact *c,
			 char *const *segment_ids, size_t n_segment_ids, struct error *err);

/* Adds channel ch to the org's contact contact_id and makes it a member of the
 * listed segments (checked first, as above), setting its updated_at to now_ms
 * (or later, see contact_patch_apply). -1 with STORE_ERR_CONTACT_NOT_FOUND if
 * there is no such contact. Atomic. */
int store_channel_add(struct store *s, const char *org_id, const char *contact_id,
		      const struct channel *ch, char *const *segment_ids, size_t n_segment_ids,
		      int64_t now_ms, struct error *err);

/* Makes the org's contact contact_id a member of its segment segment_id; a
 * contact already in it stays as it is. When membership is new, the contact's
 * updated_at becomes now_ms (or later). -1 with STORE_ERR_CONTACT_NOT_FOUND or
 * STORE_ERR_SEGMENT_NOT_FOUND. Atomic. */
int store_contact_add_segment(struct store *s, const char *org_id, const char *contact_id,
			      const char *segment_id, int64_t now_ms, struct error *err);

/* Calls fn for every API key with its org, then returns. */
int store_each_key(struct store *s, void (*fn)(void *arg, const char *key, const char *org_id),
		   void *arg, struct error *err);
/* Calls fn for every org with its parent (NULL for a top-level org). */
int store_each_org(struct store *s,
		   void (*fn)(void *arg, const char *org_id, const char *parent_id), void *arg,
		   struct error *err);

/* An org as GET /__admin/orgs shows it. */
struct store_org {
	char *id, *name;
	char *parent_id;	/* NULL for a top-level org */
	char **api_keys;	/* in the order they were stored */
	size_t n_api_keys;
	bool isolated;		/* made by store_org_copy */
	int64_t contacts_count;
	struct segment *segments; /* in the order they were stored, with contacts_count */
	size_t n_segments;
};

/* Every org: fixture orgs in the order they were loaded, then isolated orgs in
 * the order they were made. Writes a heap array of *n orgs to *out (free with
 * store_orgs_free), only on success. */
int store_orgs(struct store *s, struct store_org **out, size_t *n, struct error *err);
/* Frees what store_orgs wrote. NULL is fine. */
void store_orgs_free(struct store_org *orgs, size_t n);

/* Counts of orgs and contacts, for health and tests. */
int store_counts(struct store *s, int64_t *orgs, int64_t *contacts, struct error *err);

/* The query plan SQLite chooses for the page query of q (EXPLAIN QUERY PLAN,
 * one line per step), as a fresh heap string; for tests and diagnostics. */
int store_explain_list(struct store *s, const struct store_list_query *q, char **plan,
		       struct error *err);
/* The same for the statement that answers pagination-count for q: a count of
 * the matches, or a read of the counts the schema keeps. */
int store_explain_count(struct store *s, const struct store_list_query *q, char **plan,
			struct error *err);

/* PRAGMA integrity_check, then the trigram index against the rows it is made
 * from (reads everything: for tests): 0 if both hold, else -1 with the first
 * complaint. */
int store_integrity_check(struct store *s, struct error *err);
