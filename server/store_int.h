/* What the store's files share and no other module sees: struct store, the
 * prepared statements' ids and the helpers that run them. store.h is the API;
 * store.c explains the layout, store_thread.c the concurrency model. */
#pragma once
#include "store.h"

#include "xalloc.h"

#include <assert.h>
#include <pthread.h>
#include <sqlite3.h>

/* Statements prepared once at store_open() and kept (SQLITE_PREPARE_PERSISTENT).
 * Each file defines the SQL of its own ids beside the code that runs them, in
 * a table ended by a NULL sql (struct store_sql). */
enum {
	/* store_thread.c: transactions and savepoints */
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	/* store_contacts.c */
	ST_CONTACT_GET,
	ST_CHANNELS_GET,
	ST_SEGMENTS_GET,
	ST_CONTACT_UPDATE,
	ST_CONTACT_INSERT,
	ST_CHANNEL_INSERT,
	ST_CONTACT_PK,
	ST_CONTACT_TOUCH,
	ST_SEGMENT_PK,
	ST_MEMBER_ADD,
	ST_SEGMENTS_PAGE,
	ST_SEGMENTS_COUNT,
	/* store_fixture.c */
	ST_ORG_INSERT,
	ST_KEY_INSERT,
	ST_SEGMENT_INSERT,
	ST_MEMBER_INSERT,
	/* store_list.c */
	ST_LIST_COUNT_ORG,
	ST_LIST_COUNT_SEGMENT,
	/* store_trigram.c */
	ST_TRIGRAM_COUNT,
	ST_TRIGRAM_ORG_SIZE,
	/* store.c: orgs, keys, counts */
	ST_KEYS_ALL,
	ST_ORGS_ALL,
	ST_COUNTS,
	ST_ORG_LIST,
	ST_ORG_KEYS,
	ST_ORG_SEGMENTS,
	ST__COUNT
};

struct store_sql {
	int id;		 /* ST_... */
	const char *sql; /* NULL ends a table */
};

extern const struct store_sql store_thread_sql[];
extern const struct store_sql store_contacts_sql[];
extern const struct store_sql store_fixture_sql[];
extern const struct store_sql store_list_sql[];
extern const struct store_sql store_trigram_sql[];

/* The contact's own columns, in the order store_contact_from_row() reads them. */
#define CONTACT_COLS                                                                      \
	"c.pk, c.id, c.name, c.blocked, c.unsubscribed, c.is_admin, c.ai_replies_disabled," \
	" c.created_at, c.updated_at, c.blocked_at, c.unsubscribed_at, c.unsubscribe_reason," \
	" c.unsubscribe_feedback"
#define SEGMENT_COLS "s.id, s.name, s.color, s.contacts_count, s.created_at, s.updated_at"

/* Kept renderings of contacts' channels and segments, direct-mapped on the
 * contact's pk: enough for the contacts a test or a demo touches, bounded for
 * a fixture of 100,000. A slot counts only while its generation is current. */
enum { LISTS_SLOTS = 4096 };

struct lists_slot {
	int64_t pk;
	uint64_t generation;
	char *text;
	size_t len;
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *st[ST__COUNT];
	sqlite3_stmt **list_stmts; /* store_list.c: page and count per filter mask */
	unsigned max_batch;
	int64_t join_window_ns;

	pthread_mutex_t lock; /* guards the queue and the flags below */
	pthread_cond_t wake;
	struct store_job *head, *tail;
	bool running, stopping;
	pthread_t thread;

	struct store *pristine;	 /* the fixture state, in memory, attached as "pristine" */
	char *shared_name;	 /* store_stage_fixture: the URI that attaches this in-memory database */
	bool read_only;		 /* opened read-only: writes fail with SQLITE_READONLY */
	sqlite3 *ckpt_db;	 /* the checkpointer's connection; NULL for :memory: */
	pthread_cond_t ckpt_wake; /* with lock */
	bool ckpt_wanted, ckpt_running;
	bool ckpt_copied;	 /* with lock: the checkpointer finished its copy; see catch_up */
	pthread_t ckpt_thread;
	int wal_pages;		 /* store thread: the WAL's size after the last commit */
	int ckpt_next;		 /* store thread: the WAL size that starts the next round */

	struct lists_slot *lists; /* [LISTS_SLOTS], made on first use; see store_lists_get */
	uint64_t lists_generation;
};

/* --- Statement helpers --- */

/* Whether the calling thread may run queries on s (store.h: "on the store
 * thread inside a job, or before store_start()"). A store never started (a
 * staged fixture state, or the one resets return to) is anyone's. For assert(). */
static inline bool store_thread_owns(const struct store *s)
{
	return !s->running || pthread_equal(pthread_self(), s->thread);
}

/* The store error a failing SQLite result code is (README, Fidelity notes:
 * 507 for a full disk, 503 for a busy, locked, read-only or failing one). */
static inline int store_error_of(int sqlite_rc)
{
	switch (sqlite_rc & 0xff) {
	case SQLITE_FULL:
		return STORE_ERR_FULL;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
	case SQLITE_NOMEM:
		return STORE_ERR_UNAVAILABLE;
	default:
		return STORE_ERR_INTERNAL;
	}
}

/* Fills err with SQLite's failure rc, the connection's message its detail;
 * returns -1. */
static inline int db_error(struct store *s, int rc, struct error *err)
{
	return error_set_code(err, store_error_of(rc), sqlite3_errmsg(s->db));
}

/* Statement id, reset and unbound, ready to bind. */
static inline sqlite3_stmt *stmt(struct store *s, int id)
{
	assert(store_thread_owns(s));
	sqlite3_stmt *st = s->st[id];
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Runs a statement that returns no rows. */
static inline int exec_stmt(struct store *s, sqlite3_stmt *st, struct error *err)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		db_error(s, rc, err);
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

static inline int exec_id(struct store *s, int id, struct error *err)
{
	return exec_stmt(s, stmt(s, id), err);
}

/* Runs SQL text (a script, or a statement used once). */
static inline int exec_sql(sqlite3 *db, const char *sql, struct error *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		error_set_code(err, store_error_of(rc), msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Text is bound SQLITE_STATIC: every bound string outlives the step that reads
 * it (each statement is re-bound before each use, see stmt()), and a
 * SQLITE_TRANSIENT copy is an allocation that can fail, leaving the parameter
 * NULL: a lookup then finds nothing and a write stores NULL, behind a success. */
static inline void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static inline void bind_time(sqlite3_stmt *st, int i, int64_t ms)
{
	if (ms == MODEL_NO_TIME)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, ms);
}

static inline char *col_text(sqlite3_stmt *st, int i)
{
	return xstrdup_null((const char *)sqlite3_column_text(st, i));
}

static inline int64_t col_time(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? MODEL_NO_TIME
							 : sqlite3_column_int64(st, i);
}

/* Forgets every kept rendering (store_contacts.c explains when). */
static inline void lists_changed(struct store *s)
{
	s->lists_generation++;
}

/* --- store_thread.c: the store thread, batching, checkpoint rounds --- */

/* Sets up the queue, its lock and the batching options (before anything else). */
void store_thread_init(struct store *s, const struct store_options *opt);
/* Opens the checkpointer's connection for a file database in WAL mode and
 * installs the WAL hook that starts its rounds; nothing for other journals. */
int store_checkpointer_open(struct store *s, const struct store_options *opt, struct error *err);
/* Stops both threads (the store thread after finishing queued jobs) and closes
 * the checkpointer's connection; then releases the lock and conditions. */
void store_thread_stop(struct store *s);
void store_thread_cleanup(struct store *s);

/* --- store_contacts.c: reading and writing contacts --- */

void store_contact_from_row(sqlite3_stmt *st, struct contact *c);
void store_segment_from_row(sqlite3_stmt *st, struct segment *sg);
/* Append the contact pk's channels (in stored order) and segments (by
 * created_at, then id) to c's. */
int store_read_channels(struct store *s, int64_t pk, struct contact *c, struct error *err);
int store_read_segments(struct store *s, int64_t pk, struct contact *c, struct error *err);
/* Inserts c's own row (not its channels or memberships); *pk gets its row id. */
int store_insert_contact(struct store *s, const char *org_id, const struct contact *c,
			 int64_t *pk, struct error *err);
int store_insert_channel(struct store *s, int64_t contact_pk, const char *org_id,
			 const struct channel *ch, struct error *err);
void store_lists_free(struct store *s);

/* --- store_fixture.c --- */

/* Copies database src_name of connection src over dst_name of connection dst
 * with the backup API: page by page in one write transaction, far faster than
 * deleting and inserting rows. Returns SQLITE_OK or the failing code. */
int store_copy_database(sqlite3 *dst, const char *dst_name, sqlite3 *src, const char *src_name);

/* --- store_snapshot.c --- */

/* Attaches the in-memory database of staged (from store_stage_fixture) to s's
 * connection as "pristine", in place of the one attached before if any: the
 * same pages, shared, not a copy. Returns 0 or -1 with err. */
int store_attach_pristine(struct store *s, struct store *staged, struct error *err);

/* --- store_trigram.c: the trigram index (schema/migrations/005 and 006) --- */

/* Registers the SQL functions trigrams() (the index's triggers and migrations
 * call it: every connection that writes contacts or channels needs it) and
 * trigram_pks() (the list query's) on db. Returns SQLITE_OK or SQLite's failure. */
int store_trigram_register(sqlite3 *db);

/* Fills the empty trigram index of db from its contacts and channels, as the
 * view contact_trigrams_made would, without sorting every trigram of every
 * contact in SQL (a bulk load). Returns 0, or -1 with err. */
int store_trigram_fill(sqlite3 *db, struct error *err);

/* Trigrams a substring filter's candidates are taken from: the rarest, then
 * the ones whose bits are ANDed with it in each of its buckets. */
enum { STORE_TRIGRAM_PICK = 4 };

/* Picks the trigrams of value (a name, search or username filter of org_id's
 * contacts) that its candidates come from, rarest first, into pick. *indexed
 * is false, and pick untouched, when the index cannot serve value (fewer than
 * 3 bytes, not UTF-8) or would not narrow it (the org has fewer contacts than
 * the rarest trigram has buckets, in other orgs mostly): the filter then reads
 * the org. Returns 0, or -1 with err if SQLite failed. */
int store_trigram_pick(struct store *s, const char *org_id, const char *value,
		       int64_t pick[STORE_TRIGRAM_PICK], bool *indexed, struct error *err);

/* --- store_list.c --- */

/* Finalizes the list statements prepared so far. */
void store_list_cleanup(struct store *s);

/* Loads fixture f into s, a database just made by store_open() that no other
 * connection uses yet, faster than store_load_fixture() (store_fixture.c says
 * how). A failure leaves s to be closed, not used. */
int store_bulk_load_fixture(struct store *s, const struct fixture *f, struct error *err);
