/* The store: SQLite schema, prepared statements, transactions and write batching.
 *
 * Concurrency model. One SQLite connection, owned by one store thread, runs every
 * query after start-up. HTTP threads never touch SQLite: they parse and validate
 * a request, wrap the work in a store_job and suspend the connection; the store
 * thread takes every job queued at that moment (up to max_batch), runs them one
 * after another inside a single transaction, takes in the jobs queued while they
 * ran (STORE_JOIN_ROUNDS times at most), COMMITs once, and only then calls
 * each job's done(), which resumes its connection with the answer. A failing job
 * must leave no change behind, so every write function below is atomic by
 * itself (one statement, or a savepoint of its own) and a job calls at most one;
 * that spares a savepoint per job on the hot path. So:
 *  - an answer is sent only after the transaction holding its change committed
 *    (every 200 is durable to the level `synchronous` promises);
 *  - jobs are serialised, so two PATCHes of one contact can never lose an update,
 *    and a read never sees half of a change;
 *  - a burst of N concurrent PATCHes costs one transaction and one WAL sync
 *    rather than N, which is where the throughput comes from;
 *  - no SQLITE_BUSY between our own threads, since there is one connection.
 * Checkpoints (copying the WAL back into the database file, the only step that
 * fsyncs under synchronous=NORMAL) run on a second thread with its own
 * connection, woken by the WAL hook, so they never stall the store thread.
 * If SQLite rolls the whole transaction back by itself (disk full, I/O error),
 * every job of the batch that had succeeded is failed with that error before any
 * answer leaves, and the rest of the batch starts a new transaction. */
#include "store.h"

#include "clock.h"
#include "embedded.h"
#include "walbuf.h"
#include "xalloc.h"

#include <assert.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_CONTACT_GET,
	ST_CHANNELS_GET,
	ST_SEGMENTS_GET,
	ST_CONTACT_UPDATE,
	ST_ORG_INSERT,
	ST_KEY_INSERT,
	ST_SEGMENT_INSERT,
	ST_CONTACT_INSERT,
	ST_CHANNEL_INSERT,
	ST_MEMBER_INSERT,
	ST_KEYS_ALL,
	ST_ORGS_ALL,
	ST_COUNTS,
	ST_CONTACT_PK,
	ST_CONTACT_TOUCH,
	ST_SEGMENT_PK,
	ST_MEMBER_ADD,
	ST_SEGMENTS_PAGE,
	ST_SEGMENTS_COUNT,
	ST__COUNT
};

/* The contact's own columns, in the order contact_from_row() reads them. */
#define CONTACT_COLS                                                                      \
	"c.pk, c.id, c.name, c.blocked, c.unsubscribed, c.is_admin, c.ai_replies_disabled," \
	" c.created_at, c.updated_at, c.blocked_at, c.unsubscribed_at, c.unsubscribe_reason," \
	" c.unsubscribe_feedback"
#define SEGMENT_COLS "s.id, s.name, s.color, s.contacts_count, s.created_at, s.updated_at"

static const char *const sql_text[ST__COUNT] = {
	[ST_BEGIN] = "BEGIN",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT job",
	[ST_RELEASE] = "RELEASE job",
	[ST_ROLLBACK_TO] = "ROLLBACK TO job",
	[ST_CONTACT_GET] = "SELECT " CONTACT_COLS " FROM contacts c WHERE c.org_id = ?1 AND c.id = ?2",
	[ST_CHANNELS_GET] =
		"SELECT id, type, user_id, avatar, name, username, email, phone, country, agent,"
		" ip, language, platform_data, created_at, updated_at, link"
		" FROM channels WHERE contact_pk = ?1 ORDER BY pk",
	/* Put in order by read_segments(): an ORDER BY here made SQLite build a
	 * sorter for every contact read. */
	[ST_SEGMENTS_GET] = "SELECT " SEGMENT_COLS " FROM contact_segments cs"
			    " JOIN segments s ON s.pk = cs.segment_pk WHERE cs.contact_pk = ?1",
	[ST_CONTACT_UPDATE] =
		"UPDATE contacts SET name = ?2, blocked = ?3, unsubscribed = ?4, updated_at = ?5,"
		" blocked_at = ?6, unsubscribed_at = ?7, unsubscribe_reason = ?8,"
		" unsubscribe_feedback = ?9 WHERE pk = ?1",
	[ST_ORG_INSERT] = "INSERT INTO orgs (id, name, parent_id, origin, seq)"
			  " VALUES (?1, ?2, ?3, ?4, (SELECT coalesce(max(seq), 0) + 1 FROM orgs))",
	[ST_KEY_INSERT] = "INSERT INTO api_keys (key, org_id) VALUES (?1, ?2)",
	[ST_SEGMENT_INSERT] = "INSERT INTO segments (org_id, id, name, color, created_at, updated_at)"
			      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_CONTACT_INSERT] =
		"INSERT INTO contacts (org_id, id, name, blocked, unsubscribed, is_admin,"
		" ai_replies_disabled, created_at, updated_at, blocked_at, unsubscribed_at,"
		" unsubscribe_reason, unsubscribe_feedback)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[ST_CHANNEL_INSERT] =
		"INSERT INTO channels (contact_pk, org_id, id, type, user_id, avatar, name,"
		" username, email, phone, country, agent, ip, language, platform_data, created_at,"
		" updated_at, link)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
		" ?17, ?18)",
	[ST_MEMBER_INSERT] = "INSERT INTO contact_segments (contact_pk, segment_pk)"
			     " SELECT ?1, pk FROM segments WHERE org_id = ?2 AND id = ?3",
	[ST_KEYS_ALL] = "SELECT key, org_id FROM api_keys",
	[ST_ORGS_ALL] = "SELECT id, parent_id FROM orgs ORDER BY seq",
	[ST_COUNTS] = "SELECT (SELECT count(*) FROM orgs), (SELECT count(*) FROM contacts)",
	[ST_CONTACT_PK] = "SELECT pk FROM contacts WHERE org_id = ?1 AND id = ?2",
	[ST_CONTACT_TOUCH] = "UPDATE contacts SET updated_at = max(updated_at, ?2) WHERE pk = ?1",
	[ST_SEGMENT_PK] = "SELECT pk, contacts_count FROM segments WHERE org_id = ?1 AND id = ?2",
	[ST_MEMBER_ADD] = "INSERT OR IGNORE INTO contact_segments (contact_pk, segment_pk) VALUES (?1, ?2)",
	[ST_SEGMENTS_PAGE] = "SELECT " SEGMENT_COLS " FROM contact_segments cs"
			     " JOIN segments s ON s.pk = cs.segment_pk WHERE cs.contact_pk = ?1"
			     " ORDER BY s.created_at, s.id LIMIT ?2 OFFSET ?3",
	[ST_SEGMENTS_COUNT] = "SELECT count(*) FROM contact_segments WHERE contact_pk = ?1",
};

/* The list query is put together from these fixed fragments, one per filter
 * given; values are always bound, never written into the SQL. Each combination
 * is prepared once and kept (list_stmts). */
enum {
	LF_SEARCH,
	LF_NAME,
	LF_EMAIL,
	LF_USER_ID,
	LF_USERNAME,
	LF_SEGMENT,
	LF_UNSUBSCRIBED,
	LF_EXCLUDE_ADMINS,
	LF_SEGMENT_WIDE, /* segment_id of a large segment: see store_contacts_list */
	LF__COUNT,
	LF_STATUS_SHIFT = LF__COUNT, /* 3 bits of enum store_status above the flags */
	LF_MASKS = 1 << (LF__COUNT + 3),
};

static const char *const list_fragments[LF__COUNT] = {
	[LF_SEARCH] = " AND (c.name LIKE :search ESCAPE '\\' OR c.pk IN (SELECT contact_pk FROM"
		      " channels WHERE org_id = :org AND (name LIKE :search ESCAPE '\\' OR username"
		      " LIKE :search ESCAPE '\\' OR email LIKE :search ESCAPE '\\' OR phone LIKE"
		      " :search ESCAPE '\\' OR user_id LIKE :search ESCAPE '\\')))",
	[LF_NAME] = " AND c.name LIKE :name ESCAPE '\\'",
	[LF_EMAIL] = " AND c.pk IN (SELECT contact_pk FROM channels WHERE org_id = :org"
		     " AND email = :email COLLATE NOCASE)",
	[LF_USER_ID] = " AND c.pk IN (SELECT contact_pk FROM channels WHERE org_id = :org"
		       " AND user_id = :user_id COLLATE NOCASE)",
	[LF_USERNAME] = " AND c.pk IN (SELECT contact_pk FROM channels WHERE org_id = :org"
			" AND username LIKE :username ESCAPE '\\')",
	[LF_SEGMENT] = " AND c.pk IN (SELECT cs.contact_pk FROM contact_segments cs"
		       " WHERE cs.segment_pk = :segpk)",
	[LF_SEGMENT_WIDE] = " AND EXISTS (SELECT 1 FROM contact_segments cs"
			    " WHERE cs.contact_pk = c.pk AND cs.segment_pk = :segpk)",
	[LF_UNSUBSCRIBED] = " AND c.unsubscribed = :unsubscribed",
	[LF_EXCLUDE_ADMINS] = " AND c.is_admin = 0",
};

/* Literal conditions, so that the partial indexes of migration 002 apply. */
static const char *const status_fragments[] = {
	[STORE_STATUS_ALL] = "",
	[STORE_STATUS_SUBSCRIBED] = " AND c.unsubscribed = 0 AND c.blocked = 0",
	[STORE_STATUS_UNSUBSCRIBED] = " AND c.unsubscribed = 1",
	[STORE_STATUS_BLOCKED] = " AND c.blocked = 1",
	[STORE_STATUS_AI_REPLIES_DISABLED] = " AND c.ai_replies_disabled = 1",
};

enum {
	STORE_DEFAULT_MAX_BATCH = 512,
	/* Jobs that arrive while a batch runs join it this many times before the
	 * COMMIT, rather than wait for it and a whole batch of their own. Measured
	 * (PATCH bench, 64 connections, alternating runs) with libmicrohttpd's
	 * poll() loop: 0 rounds 50-58k/s, p99 1.96-2.25 ms; 3 rounds 60.5-61.2k,
	 * 1.82-1.89 ms; 8 rounds no better. With the epoll loop used since (see
	 * http_start), within the noise: kept, as it costs nothing there and
	 * saves commits. */
	STORE_JOIN_ROUNDS = 3,
	/* ...but only while the batch has run for less than this. Slow jobs (a list
	 * of 100 contacts takes ~15 ms) gain nothing from sharing a COMMIT, and
	 * holding their answers back stops the HTTP thread from sending one batch's
	 * answers while the store works on the next: joining cost list queries a
	 * fifth of their throughput. */
	STORE_JOIN_WINDOW_US = 1000,
	STORE_CHECKPOINT_PAGES = 1000, /* WAL pages that start a checkpoint round (SQLite's default) */
	STORE_CHECKPOINT_HARD = 8000,  /* the store thread checkpoints itself if it falls behind */
};

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
	sqlite3_stmt **list_stmts; /* [2 * LF_MASKS]: page and count per filter mask */
	unsigned max_batch;
	int64_t join_window_ns;

	pthread_mutex_t lock; /* guards the queue and the flags below */
	pthread_cond_t wake;
	struct store_job *head, *tail;
	bool running, stopping;
	pthread_t thread;

	struct store *pristine;	 /* the fixture state, in memory, attached as "pristine" */
	bool read_only;		 /* opened read-only: writes fail with SQLITE_READONLY */
	sqlite3 *ckpt_db;	 /* the checkpointer's connection; NULL for :memory: */
	pthread_cond_t ckpt_wake; /* with lock */
	bool ckpt_wanted, ckpt_running;
	bool ckpt_copied;	 /* with lock: the checkpointer finished its copy; see on_wal_commit */
	pthread_t ckpt_thread;
	int wal_pages;		 /* store thread: the WAL's size after the last commit */
	int ckpt_next;		 /* store thread: the WAL size that starts the next round */

	struct lists_slot *lists; /* [LISTS_SLOTS], made on first use; see store_lists_get */
	uint64_t lists_generation;
};

/* --- Kept renderings of channels and segments ---
 * A PATCH changes none of a contact's channels or segments, yet its answer
 * holds them all: reading them took two of its four queries, and rendering
 * them most of the rest. So the store keeps, per contact, the text its caller
 * made of them, and forgets all of it (one counter step) whenever any channel,
 * segment or membership may have changed: every write function but
 * store_contact_update calls lists_changed() first, and so does every failure
 * that rolls anything back, since what was read inside the transaction may
 * then be gone. */

static void lists_changed(struct store *s)
{
	s->lists_generation++;
}

const char *store_lists_get(struct store *s, int64_t contact_pk, size_t *len)
{
	if (!s->lists)
		return NULL;
	const struct lists_slot *slot = &s->lists[(uint64_t)contact_pk % LISTS_SLOTS];
	if (!slot->text || slot->pk != contact_pk || slot->generation != s->lists_generation)
		return NULL;
	*len = slot->len;
	return slot->text;
}

void store_lists_keep(struct store *s, int64_t contact_pk, char *text, size_t len)
{
	if (!s->lists)
		s->lists = xcalloc(LISTS_SLOTS, sizeof *s->lists);
	struct lists_slot *slot = &s->lists[(uint64_t)contact_pk % LISTS_SLOTS];
	free(slot->text);
	*slot = (struct lists_slot){contact_pk, s->lists_generation, text, len};
}

static void lists_free(struct store *s)
{
	for (size_t i = 0; s->lists && i < LISTS_SLOTS; i++)
		free(s->lists[i].text);
	free(s->lists);
	s->lists = NULL;
}

/* Fills err from the connection's last error; returns -1. The HTTP status comes
 * from errors.c's one mapping of SQLite codes. */
static int db_error(struct store *s, int rc, struct error *err)
{
	int status = error_status_from_sqlite(rc);
	const char *what = status == 507 ? "Insufficient storage: the database disk is full"
		: status == 503		  ? "The database is unavailable"
					  : "Database error";
	return error_set(err, status, "%s (%s)", what, sqlite3_errmsg(s->db));
}

static sqlite3_stmt *stmt(struct store *s, int id)
{
	sqlite3_stmt *st = s->st[id];
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Runs a statement that returns no rows. */
static int exec_stmt(struct store *s, sqlite3_stmt *st, struct error *err)
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

static int exec_id(struct store *s, int id, struct error *err)
{
	return exec_stmt(s, stmt(s, id), err);
}

/* Text is bound SQLITE_STATIC: every bound string outlives the step that reads
 * it (each statement is re-bound before each use, see stmt()), and a
 * SQLITE_TRANSIENT copy is an allocation that can fail, leaving the parameter
 * NULL: a lookup then finds nothing and a write stores NULL, behind a success. */
static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static void bind_time(sqlite3_stmt *st, int i, int64_t ms)
{
	if (ms == MODEL_NO_TIME)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, ms);
}

static char *col_text(sqlite3_stmt *st, int i)
{
	return xstrdup_null((const char *)sqlite3_column_text(st, i));
}

static int64_t col_time(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? MODEL_NO_TIME
							 : sqlite3_column_int64(st, i);
}

/* --- Opening and schema --- */

static int exec_sql(sqlite3 *db, const char *sql, struct error *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		error_set(err, error_status_from_sqlite(rc), "%s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int query_int(sqlite3 *db, const char *sql, int64_t *out, struct error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		error_set(err, 500, "%s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -1;
	}
	*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/* The schema: version 1 is schema/schema.sql; each later version is one file of
 * schema/migrations, applied in order, each in the transaction that bumps
 * user_version, so a crash mid-way leaves the previous version intact. */
static const char *const migrations[] = {
	embedded_schema_sql,	/* to version 1 */
	embedded_migration_002, /* to version 2 */
	embedded_migration_003, /* to version 3 */
};

_Static_assert(sizeof migrations / sizeof migrations[0] == STORE_SCHEMA_VERSION,
	       "one migration per schema version");

static int migrate(sqlite3 *db, bool *was_empty, struct error *err)
{
	int64_t version, tables;
	if (query_int(db, "PRAGMA user_version", &version, err) ||
	    query_int(db, "SELECT count(*) FROM sqlite_schema", &tables, err))
		return -1;
	if (version > STORE_SCHEMA_VERSION)
		return error_set(err, 0, "database schema version %lld is newer than this "
				 "invent-mock understands (%d)", (long long)version, STORE_SCHEMA_VERSION);
	if (version == 0 && tables > 0)
		return error_set(err, 0, "the database is not an invent-mock database "
				 "(it has tables but no schema version)");
	*was_empty = version == 0;
	for (; version < STORE_SCHEMA_VERSION; version++) {
		char bump[64];
		snprintf(bump, sizeof bump, "PRAGMA user_version = %lld", (long long)version + 1);
		if (exec_sql(db, "BEGIN", err))
			return -1;
		if (exec_sql(db, migrations[version], err) || exec_sql(db, bump, err)) {
			exec_sql(db, "ROLLBACK", NULL);
			return -1;
		}
		if (exec_sql(db, "COMMIT", err))
			return -1;
	}
	return 0;
}

/* Checkpoint rounds. The WAL starts again from its beginning only when a write
 * transaction begins while every frame in it has been copied back, and a
 * checkpoint running beside a busy writer never gets there: commits keep
 * landing while it copies and syncs. Waking the checkpointer on every commit
 * past the threshold, as this did until 2026-11-27, ran ~1,600 checkpoints a
 * second under load (two fdatasync each, a third of a core) while the WAL
 * still grew to thousands of pages. So a round is: once the WAL reaches
 * ckpt_next pages, the checkpointer copies what is there, off the store thread;
 * then the store thread, between two batches, copies the few frames committed
 * meanwhile (catch_up: ~0.6 ms at 50k PATCH/s, mostly its two fdatasync),
 * after which its next write restarts the WAL. The store thread pays one short
 * checkpoint per round, and a round starts at most once per
 * STORE_CHECKPOINT_PAGES pages of growth, so a reader that keeps an old
 * snapshot (an sqlite3 shell left open) cannot make it checkpoint on every commit. */

/* Called on the store thread after each commit, with the WAL's size in pages. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store *s = arg;
	/* Every byte of the commit reached the kernel inside COMMIT (walbuf.c). */
	assert(walbuf_pending(db) == 0);
	if (pages < s->wal_pages) /* the WAL restarted */
		s->ckpt_next = STORE_CHECKPOINT_PAGES;
	s->wal_pages = pages;
	if (pages >= STORE_CHECKPOINT_HARD) {
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	} else if (pages >= s->ckpt_next) {
		s->ckpt_next = pages + STORE_CHECKPOINT_PAGES;
		pthread_mutex_lock(&s->lock);
		s->ckpt_wanted = true;
		pthread_cond_signal(&s->ckpt_wake);
		pthread_mutex_unlock(&s->lock);
	}
	return SQLITE_OK;
}

/* The second half of a round, on the store thread between batches. */
static void catch_up(struct store *s)
{
	sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

static void *checkpoint_thread(void *arg)
{
	struct store *s = arg;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->ckpt_wanted && !s->stopping)
			pthread_cond_wait(&s->ckpt_wake, &s->lock);
		if (s->stopping)
			break;
		s->ckpt_wanted = false;
		pthread_mutex_unlock(&s->lock);
		/* PASSIVE never blocks the writer. The second pass copies what was
		 * committed during the first (a few ms), and a pass that does not
		 * reach the WAL's end leaves the database file unsynced: syncing it
		 * here leaves catch_up() little to copy and little to sync.
		 *
		 * This xSync reaches under SQLite, and needs no test of its own: it
		 * can only add a sync. What makes a checkpoint durable is SQLite's
		 * own, since it moves nBackfill to the WAL's end (which a WAL restart
		 * waits for) only after syncing the database file itself; until then
		 * every frame is still in the WAL, and recovery replays it.
		 * binary@kill-9-keeps-acknowledged-writes-while-checkpointing kills the server while
		 * these rounds run. */
		sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		sqlite3_file *db_file = NULL;
		if (sqlite3_file_control(s->ckpt_db, "main", SQLITE_FCNTL_FILE_POINTER, &db_file) ==
			    SQLITE_OK &&
		    db_file && db_file->pMethods)
			db_file->pMethods->xSync(db_file, SQLITE_SYNC_NORMAL);
		pthread_mutex_lock(&s->lock);
		s->ckpt_copied = true;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* A file database in WAL mode gets the checkpointer's connection; the store
 * connection's automatic checkpoints are replaced by the hook above. */
static int open_checkpointer(struct store *s, const struct store_options *opt, struct error *err)
{
	const char *mode = NULL;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		mode = (const char *)sqlite3_column_text(st, 0);
	bool wal = mode && !strcmp(mode, "wal");
	sqlite3_finalize(st);
	if (!wal)
		return 0;
	char pragmas[128];
	snprintf(pragmas, sizeof pragmas, "PRAGMA busy_timeout = 5000; PRAGMA synchronous = %s;",
		 opt->sync_full ? "FULL" : "NORMAL");
	struct error e = {0};
	if (sqlite3_open_v2(opt->path, &s->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    walbuf_vfs_name()) != SQLITE_OK ||
	    exec_sql(s->ckpt_db, pragmas, &e))
		return error_set(err, 0, "cannot use database %s: %s", opt->path,
				 e.msg[0] ? e.msg : sqlite3_errmsg(s->ckpt_db));
	sqlite3_wal_hook(s->db, on_wal_commit, s);
	return 0;
}

/* Reopens the store's file read-only. "immutable" lets SQLite read a WAL
 * database where it can create neither -wal nor -shm (nothing else writes it). */
static int reopen_read_only(struct store *s, const char *path, struct error *err)
{
	sqlite3_close(s->db);
	s->db = NULL;
	/* A URI: escape what it would read as its own syntax. */
	size_t n = strlen(path);
	char *uri = xmalloc(3 * n + 32), *o = uri;
	o += sprintf(o, "file:");
	for (const char *p = path; *p; p++)
		o += (*p == '%' || *p == '?' || *p == '#') ? sprintf(o, "%%%02X", (unsigned char)*p)
							   : sprintf(o, "%c", *p);
	sprintf(o, "?immutable=1");
	int rc = sqlite3_open_v2(uri, &s->db,
				 SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE |
					 SQLITE_OPEN_URI,
				 NULL);
	free(uri);
	if (rc != SQLITE_OK)
		return error_set(err, 0, "%s", s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	sqlite3_extended_result_codes(s->db, 1);
	s->read_only = true;
	return exec_sql(s->db, "PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;", err);
}

int store_open(const struct store_options *opt, struct store **out, bool *was_empty,
	       struct error *err)
{
	struct store *s = xcalloc(1, sizeof *s);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->ckpt_wake, NULL);
	s->max_batch = opt->max_batch ? opt->max_batch : STORE_DEFAULT_MAX_BATCH;
	s->join_window_ns =
		(int64_t)(opt->join_window_us ? opt->join_window_us : STORE_JOIN_WINDOW_US) * 1000;
	s->ckpt_next = STORE_CHECKPOINT_PAGES;
	bool empty = false;
	int rc = sqlite3_open_v2(opt->path, &s->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
					 SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_URI,
				 walbuf_vfs_name());
	if (rc != SQLITE_OK) {
		error_set(err, 0, "cannot open database %s: %s", opt->path,
			  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* WAL: readers of the file (sqlite3 CLI, backups) never block our writer, and
	 * a commit is one append. NORMAL syncs at checkpoints only: a commit survives
	 * a crash of this process, FULL also survives power loss. */
	char pragmas[256];
	snprintf(pragmas, sizeof pragmas,
		 "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;"
		 " PRAGMA synchronous = %s; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
		 opt->sync_full ? "FULL" : "NORMAL");
	struct error e = {0};
	if (exec_sql(s->db, pragmas, &e) || migrate(s->db, &empty, &e)) {
		/* A file we may read but not write (a read-only mount): serve it
		 * read-only; every write then answers 503. */
		if (access(opt->path, R_OK) || !access(opt->path, W_OK) || reopen_read_only(s, opt->path, &e) ||
		    migrate(s->db, &empty, &e)) {
			error_set(err, 0, "cannot use database %s: %s", opt->path, e.msg);
			goto fail;
		}
		if (empty) {
			error_set(err, 0, "cannot use database %s: it is read-only and holds no data",
				  opt->path);
			goto fail;
		}
	}
	for (int i = 0; i < ST__COUNT; i++) {
		rc = sqlite3_prepare_v3(s->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
					NULL);
		if (rc != SQLITE_OK) {
			error_set(err, 0, "cannot use database %s: %s", opt->path,
				  sqlite3_errmsg(s->db));
			goto fail;
		}
	}
	if (!s->read_only && open_checkpointer(s, opt, err))
		goto fail;
	*was_empty = empty;
	*out = s;
	return 0;
fail:
	store_close(s);
	return -1;
}

/* --- The store thread --- */

static void fail_job(struct store_job *j, const struct error *why)
{
	j->rc = -1;
	j->err = *why;
}

/* Takes up to max queued jobs off the queue (with s->lock held), stopping
 * before a job that must run alone if stop_at_alone; NULL if none. */
static struct store_job *dequeue(struct store *s, unsigned max, bool stop_at_alone)
{
	struct store_job *first = s->head, *last = first;
	if (!first || !max || (stop_at_alone && first->alone))
		return NULL;
	for (unsigned n = 1; n < max && last->next && !(stop_at_alone && last->next->alone); n++)
		last = last->next;
	s->head = last->next;
	if (!s->head)
		s->tail = NULL;
	last->next = NULL;
	return first;
}

/* Runs jobs from first up to the next job that must run alone, with the jobs
 * that join meanwhile (linked in after the last), in one transaction; returns
 * the job it stopped at (or NULL). */
static struct store_job *run_transaction(struct store *s, struct store_job *first)
{
	struct error e = {0};
	bool in_txn = exec_id(s, ST_BEGIN, &e) == 0;
	struct store_job *j = first, *prev = NULL;
	unsigned ran = 0, rounds = 0;
	int64_t began = clock_monotonic_ns();
	for (;; prev = j, j = j->next) {
		if (!j && prev && in_txn && rounds < STORE_JOIN_ROUNDS && ran < s->max_batch &&
		    clock_monotonic_ns() - began < s->join_window_ns) {
			rounds++;
			pthread_mutex_lock(&s->lock);
			prev->next = j = dequeue(s, s->max_batch - ran, true);
			pthread_mutex_unlock(&s->lock);
		}
		if (!j || j->alone)
			break;
		ran++;
		if (!in_txn) {
			fail_job(j, &e);
			continue;
		}
		memset(&j->err, 0, sizeof j->err);
		j->rc = j->run(s, j->arg, &j->err);
		if (j->rc)
			lists_changed(s);
		if (j->rc == 0 || !sqlite3_get_autocommit(s->db))
			continue;
		/* SQLite rolled the whole transaction back (disk full, I/O error): the
		 * jobs before this one lost their changes too, and are not yet answered. */
		for (struct store_job *k = first; k != j; k = k->next)
			if (k->rc == 0)
				fail_job(k, &j->err);
		in_txn = exec_id(s, ST_BEGIN, &e) == 0;
	}
	if (in_txn && exec_id(s, ST_COMMIT, &e)) {
		lists_changed(s);
		if (!sqlite3_get_autocommit(s->db))
			exec_id(s, ST_ROLLBACK, NULL);
		for (struct store_job *k = first; k != j; k = k->next)
			if (k->rc == 0)
				fail_job(k, &e);
	}
	return j;
}

static void run_batch(struct store *s, struct store_job *batch)
{
	for (struct store_job *j = batch; j;) {
		if (!j->alone) {
			j = run_transaction(s, j);
			continue;
		}
		memset(&j->err, 0, sizeof j->err);
		j->rc = j->run(s, j->arg, &j->err);
		if (j->rc)
			lists_changed(s);
		j = j->next;
	}
	/* All before the first done(), which may answer: no answer of the batch
	 * leaves while state outside the database lags behind what it committed
	 * (a client uses a new org's key as soon as it has the answer). */
	for (struct store_job *j = batch; j; j = j->next)
		if (j->rc == 0 && j->committed)
			j->committed(j->arg);
	for (struct store_job *j = batch, *next; j; j = next) {
		next = j->next; /* done() may free the job */
		j->done(j->arg, j->rc, &j->err);
	}
}

/* Makes a write function of several statements atomic: atomic_begin() before
 * the first, atomic_end() with its result after the last, which rolls back
 * everything since atomic_begin() if rc is not 0. Savepoints nest, so this
 * works inside a batch's transaction and outside one. */
static int atomic_begin(struct store *s, struct error *err)
{
	return exec_id(s, ST_SAVEPOINT, err);
}

static int atomic_end(struct store *s, int rc, struct error *err)
{
	if (rc == 0 && exec_id(s, ST_RELEASE, err) == 0)
		return 0;
	lists_changed(s);
	if (rc == 0)
		return -1;
	if (!sqlite3_get_autocommit(s->db)) {
		exec_id(s, ST_ROLLBACK_TO, NULL);
		exec_id(s, ST_RELEASE, NULL);
	}
	return -1;
}

int store_atomic_begin(struct store *s, struct error *err)
{
	return atomic_begin(s, err);
}

int store_atomic_end(struct store *s, int rc, struct error *err)
{
	return atomic_end(s, rc, err);
}

static void *store_thread(void *arg)
{
	struct store *s = arg;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->wake, &s->lock);
		if (!s->head)
			break;
		struct store_job *batch = dequeue(s, s->max_batch, false);
		bool copied = s->ckpt_copied;
		s->ckpt_copied = false;
		pthread_mutex_unlock(&s->lock);
		if (copied)
			catch_up(s);
		run_batch(s, batch);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int store_start(struct store *s, struct error *err)
{
	if (pthread_create(&s->thread, NULL, store_thread, s))
		return error_set(err, 0, "cannot start the store thread");
	s->running = true;
	if (s->ckpt_db) {
		if (pthread_create(&s->ckpt_thread, NULL, checkpoint_thread, s))
			return error_set(err, 0, "cannot start the checkpoint thread");
		s->ckpt_running = true;
	}
	return 0;
}

void store_submit(struct store *s, struct store_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&s->lock);
	if (s->tail)
		s->tail->next = job;
	else
		s->head = job;
	s->tail = job;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->wake);
	pthread_cond_signal(&s->ckpt_wake);
	pthread_mutex_unlock(&s->lock);
	if (s->running)
		pthread_join(s->thread, NULL);
	if (s->ckpt_running)
		pthread_join(s->ckpt_thread, NULL);
	sqlite3_close(s->ckpt_db);
	store_close(s->pristine);
	lists_free(s);
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(s->st[i]);
	for (int i = 0; s->list_stmts && i < 2 * LF_MASKS; i++)
		sqlite3_finalize(s->list_stmts[i]);
	free(s->list_stmts);
	if (s->db) {
		/* Checkpoint and truncate the WAL so a clean stop leaves one file. */
		sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		sqlite3_close(s->db);
	}
	pthread_cond_destroy(&s->ckpt_wake);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* --- Contacts --- */

/* Reads CONTACT_COLS of the current row into *c. */
static void contact_from_row(sqlite3_stmt *st, struct contact *c)
{
	c->store_pk = sqlite3_column_int64(st, 0);
	c->id = col_text(st, 1);
	c->name = col_text(st, 2);
	c->blocked = sqlite3_column_int(st, 3);
	c->unsubscribed = sqlite3_column_int(st, 4);
	c->is_admin = sqlite3_column_int(st, 5);
	c->ai_replies_disabled = sqlite3_column_int(st, 6);
	c->created_at = sqlite3_column_int64(st, 7);
	c->updated_at = sqlite3_column_int64(st, 8);
	c->blocked_at = col_time(st, 9);
	c->unsubscribed_at = col_time(st, 10);
	c->unsubscribe_reason = col_text(st, 11);
	c->unsubscribe_feedback = col_text(st, 12);
}

static void segment_from_row(sqlite3_stmt *st, struct segment *sg)
{
	sg->id = col_text(st, 0);
	sg->name = col_text(st, 1);
	sg->color = col_text(st, 2);
	sg->contacts_count = sqlite3_column_int64(st, 3);
	sg->created_at = sqlite3_column_int64(st, 4);
	sg->updated_at = sqlite3_column_int64(st, 5);
}

static int read_channels(struct store *s, int64_t pk, struct contact *c, struct error *err)
{
	sqlite3_stmt *st = stmt(s, ST_CHANNELS_GET);
	sqlite3_bind_int64(st, 1, pk);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (c->n_channels == cap) {
			cap = cap ? cap * 2 : 2;
			c->channels = xrealloc(c->channels, cap * sizeof *c->channels);
		}
		struct channel *ch = &c->channels[c->n_channels++];
		ch->id = col_text(st, 0);
		ch->type = col_text(st, 1);
		ch->user_id = col_text(st, 2);
		ch->avatar = col_text(st, 3);
		ch->name = col_text(st, 4);
		ch->username = col_text(st, 5);
		ch->email = col_text(st, 6);
		ch->phone = col_text(st, 7);
		ch->country = col_text(st, 8);
		ch->agent = col_text(st, 9);
		ch->ip = col_text(st, 10);
		ch->language = col_text(st, 11);
		ch->platform_data = col_text(st, 12);
		ch->created_at = sqlite3_column_int64(st, 13);
		ch->updated_at = sqlite3_column_int64(st, 14);
		ch->link = col_text(st, 15);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, rc, err);
}

/* A contact's segments are listed by created_at, then id (as ST_SEGMENTS_PAGE
 * orders them; ids compare bytewise, as SQLite's BINARY collation does). */
static int segment_order(const void *a, const void *b)
{
	const struct segment *x = a, *y = b;
	if (x->created_at != y->created_at)
		return x->created_at < y->created_at ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int read_segments(struct store *s, int64_t pk, struct contact *c, struct error *err)
{
	sqlite3_stmt *st = stmt(s, ST_SEGMENTS_GET);
	sqlite3_bind_int64(st, 1, pk);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (c->n_segments == cap) {
			cap = cap ? cap * 2 : 2;
			c->segments = xrealloc(c->segments, cap * sizeof *c->segments);
		}
		segment_from_row(st, &c->segments[c->n_segments++]);
	}
	sqlite3_reset(st);
	if (c->n_segments > 1)
		qsort(c->segments, c->n_segments, sizeof *c->segments, segment_order);
	return rc == SQLITE_DONE ? 0 : db_error(s, rc, err);
}

int store_contact_get_own(struct store *s, const char *org_id, const char *contact_id,
			  struct contact *out, struct error *err)
{
	sqlite3_stmt *st = stmt(s, ST_CONTACT_GET);
	bind_text(st, 1, org_id);
	bind_text(st, 2, contact_id);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? error_set(err, 404, "Contact not found")
					 : db_error(s, rc, err);
	}
	struct contact c = {0};
	contact_from_row(st, &c);
	sqlite3_reset(st);
	*out = c;
	return 0;
}

int store_contact_read_lists(struct store *s, struct contact *c, struct error *err)
{
	if (read_channels(s, c->store_pk, c, err) || read_segments(s, c->store_pk, c, err)) {
		contact_lists_cleanup(c);
		return -1;
	}
	return 0;
}

int store_contact_get(struct store *s, const char *org_id, const char *contact_id,
		      struct contact *out, struct error *err)
{
	struct contact c;
	if (store_contact_get_own(s, org_id, contact_id, &c, err))
		return -1;
	if (store_contact_read_lists(s, &c, err)) {
		contact_cleanup(&c);
		return -1;
	}
	*out = c;
	return 0;
}

int store_contact_update(struct store *s, const struct contact *c, struct error *err)
{
	sqlite3_stmt *st = stmt(s, ST_CONTACT_UPDATE);
	sqlite3_bind_int64(st, 1, c->store_pk);
	bind_text(st, 2, c->name);
	sqlite3_bind_int(st, 3, c->blocked);
	sqlite3_bind_int(st, 4, c->unsubscribed);
	sqlite3_bind_int64(st, 5, c->updated_at);
	bind_time(st, 6, c->blocked ? c->blocked_at : MODEL_NO_TIME);
	bind_time(st, 7, c->unsubscribed ? c->unsubscribed_at : MODEL_NO_TIME);
	bind_text(st, 8, c->unsubscribe_reason);
	bind_text(st, 9, c->unsubscribe_feedback);
	return exec_stmt(s, st, err);
}

/* --- Fixtures --- */

/* Inserts c's own row and its channels (not its memberships); *pk gets its row id. */
static int insert_contact(struct store *s, const char *org_id, const struct contact *c,
			  int64_t *pk, struct error *err)
{
	sqlite3_stmt *st = stmt(s, ST_CONTACT_INSERT);
	bind_text(st, 1, org_id);
	bind_text(st, 2, c->id);
	bind_text(st, 3, c->name);
	sqlite3_bind_int(st, 4, c->blocked);
	sqlite3_bind_int(st, 5, c->unsubscribed);
	sqlite3_bind_int(st, 6, c->is_admin);
	sqlite3_bind_int(st, 7, c->ai_replies_disabled);
	sqlite3_bind_int64(st, 8, c->created_at);
	sqlite3_bind_int64(st, 9, c->updated_at);
	bind_time(st, 10, c->blocked ? c->blocked_at : MODEL_NO_TIME);
	bind_time(st, 11, c->unsubscribed ? c->unsubscribed_at : MODEL_NO_TIME);
	bind_text(st, 12, c->unsubscribe_reason);
	bind_text(st, 13, c->unsubscribe_feedback);
	if (exec_stmt(s, st, err))
		return -1;
	*pk = sqlite3_last_insert_rowid(s->db);
	return 0;
}

static int insert_channel(struct store *s, int64_t contact_pk, const char *org_id,
			  const struct channel *ch, struct error *err)
{
	sqlite3_stmt *st = stmt(s, ST_CHANNEL_INSERT);
	sqlite3_bind_int64(st, 1, contact_pk);
	bind_text(st, 2, org_id);
	const char *text[] = {ch->id,	 ch->type,  ch->user_id, ch->avatar, ch->name,
			      ch->username, ch->email, ch->phone,   ch->country, ch->agent,
			      ch->ip,	 ch->language, ch->platform_data ? ch->platform_data : "{}"};
	for (int t = 0; t < 13; t++)
		bind_text(st, 3 + t, text[t]);
	sqlite3_bind_int64(st, 16, ch->created_at);
	sqlite3_bind_int64(st, 17, ch->updated_at);
	bind_text(st, 18, ch->link);
	return exec_stmt(s, st, err);
}

static int insert_org_data(struct store *s, const struct fixture_org *o, const char *org_id,
			   struct error *err)
{
	for (size_t i = 0; i < o->n_segments; i++) {
		const struct segment *g = &o->segments[i];
		sqlite3_stmt *st = stmt(s, ST_SEGMENT_INSERT);
		bind_text(st, 1, org_id);
		bind_text(st, 2, g->id);
		bind_text(st, 3, g->name);
		bind_text(st, 4, g->color);
		sqlite3_bind_int64(st, 5, g->created_at);
		sqlite3_bind_int64(st, 6, g->updated_at);
		if (exec_stmt(s, st, err))
			return -1;
	}
	for (size_t i = 0; i < o->n_contacts; i++) {
		const struct contact *c = &o->contacts[i];
		int64_t pk;
		if (insert_contact(s, org_id, c, &pk, err))
			return -1;
		for (size_t k = 0; k < c->n_channels; k++)
			if (insert_channel(s, pk, org_id, &c->channels[k], err))
				return -1;
		for (size_t k = 0; k < c->n_segments; k++) {
			sqlite3_stmt *st = stmt(s, ST_MEMBER_INSERT);
			sqlite3_bind_int64(st, 1, pk);
			bind_text(st, 2, org_id);
			bind_text(st, 3, c->segments[k].id);
			if (exec_stmt(s, st, err))
				return -1;
		}
	}
	return 0;
}

static int insert_org(struct store *s, const struct fixture_org *o, struct error *err)
{
	sqlite3_stmt *st = stmt(s, ST_ORG_INSERT);
	bind_text(st, 1, o->id);
	bind_text(st, 2, o->name);
	bind_text(st, 3, o->parent_id);
	bind_text(st, 4, NULL);
	if (exec_stmt(s, st, err))
		return -1;
	for (size_t i = 0; i < o->n_api_keys; i++) {
		st = stmt(s, ST_KEY_INSERT);
		bind_text(st, 1, o->api_keys[i]);
		bind_text(st, 2, o->id);
		if (exec_stmt(s, st, err))
			return -1;
	}
	return insert_org_data(s, o, o->id, err);
}

static int delete_org_data(struct store *s, const char *org_id, struct error *err)
{
	static const char *const sql[] = {"DELETE FROM contacts WHERE org_id = ?1",
					  "DELETE FROM segments WHERE org_id = ?1"};
	for (size_t i = 0; i < 2; i++) {
		sqlite3_stmt *st = NULL;
		int rc = sqlite3_prepare_v2(s->db, sql[i], -1, &st, NULL);
		if (rc == SQLITE_OK) {
			bind_text(st, 1, org_id);
			rc = sqlite3_step(st);
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return db_error(s, rc, err);
	}
	return 0;
}

/* Records which file the data comes from (the row travels with resets, which
 * copy the whole fixture database). */
static int set_fixture_row(struct store *s, const struct fixture *f, struct error *err)
{
	struct error e = {0};
	sqlite3_stmt *st = NULL;
	if (exec_sql(s->db, "DELETE FROM fixture", &e))
		return error_set(err, e.status, "%s", e.msg);
	int rc = sqlite3_prepare_v2(s->db, "INSERT INTO fixture (hash, source) VALUES (?1, ?2)", -1,
				    &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, f->hash, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, f->source, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, rc, err);
}

int store_load_fixture(struct store *s, const struct fixture *f, const char *only_org,
		       struct error *err)
{
	lists_changed(s);
	if (atomic_begin(s, err))
		return -1;
	int rc = 0;
	if (only_org) {
		const struct fixture_org *o = fixture_find_org(f, only_org);
		rc = !o ? error_set(err, 400, "Org %s is not a fixture org", only_org)
			: delete_org_data(s, only_org, err) || insert_org_data(s, o, o->id, err);
	} else {
		struct error e = {0};
		if (exec_sql(s->db, "DELETE FROM orgs", &e))
			rc = error_set(err, e.status, "%s", e.msg);
		for (size_t i = 0; !rc && i < f->n_orgs; i++)
			rc = insert_org(s, &f->orgs[i], err);
		if (!rc)
			rc = set_fixture_row(s, f, err);
	}
	return atomic_end(s, rc ? -1 : 0, err);
}

int store_fixture_hash(struct store *s, char out[17], char **source, struct error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, "SELECT hash, source FROM fixture", -1, &st, NULL);
	out[0] = '\0';
	*source = NULL;
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *h = sqlite3_column_text(st, 0), *src = sqlite3_column_text(st, 1);
		snprintf(out, 17, "%s", h ? (const char *)h : "");
		*source = xstrdup(src ? (const char *)src : "");
		rc = SQLITE_DONE;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, rc, err);
}

/* --- Lists and the companion endpoints --- */

/* "%value%" for LIKE, with the pattern characters of value escaped by '\'. */
static char *like_pattern(const char *value)
{
	size_t n = strlen(value);
	char *p = xmalloc(2 * n + 3), *o = p;
	*o++ = '%';
	for (const char *v = value; *v; v++) {
		if (*v == '%' || *v == '_' || *v == '\\')
			*o++ = '\\';
		*o++ = *v;
	}
	*o++ = '%';
	*o = '\0';
	return p;
}

/* The statement for this filter mask (count or page), prepared on first use. */
static sqlite3_stmt *list_stmt(struct store *s, unsigned mask, bool count, struct error *err)
{
	if (!s->list_stmts)
		s->list_stmts = xcalloc(2 * LF_MASKS, sizeof *s->list_stmts);
	sqlite3_stmt **slot = &s->list_stmts[2 * mask + count];
	if (*slot) {
		sqlite3_reset(*slot);
		sqlite3_clear_bindings(*slot);
		return *slot;
	}
	/* A filter naming one email, user_id or segment selects few contacts: start
	 * from its index and sort them ("+" keeps SQLite from walking the org's
	 * contacts in list order instead; it has no statistics to know better). */
	bool narrow = mask & ((1u << LF_EMAIL) | (1u << LF_USER_ID) | (1u << LF_SEGMENT));
	char sql[4096];
	size_t len = (size_t)snprintf(sql, sizeof sql, "%s FROM contacts c WHERE %sc.org_id = :org",
				      count ? "SELECT count(*)" : "SELECT " CONTACT_COLS,
				      narrow ? "+" : "");
	for (int f = 0; f < LF__COUNT; f++)
		if (mask & (1u << f))
			len += (size_t)snprintf(sql + len, sizeof sql - len, "%s", list_fragments[f]);
	len += (size_t)snprintf(sql + len, sizeof sql - len, "%s",
				status_fragments[mask >> LF_STATUS_SHIFT]);
	if (!count)
		snprintf(sql + len, sizeof sql - len,
			 " ORDER BY c.created_at DESC, c.id LIMIT :take OFFSET :offset");
	int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
	if (rc != SQLITE_OK) {
		db_error(s, rc, err);
		return NULL;
	}
	return *slot;
}

static void bind_named(sqlite3_stmt *st, const char *name, const char *value)
{
	int i = sqlite3_bind_parameter_index(st, name);
	if (i)
		bind_text(st, i, value);
}

/* The LIKE patterns of a query, made before binding (bound SQLITE_STATIC). */
struct like_patterns {
	char *search, *name, *username;
};

static void like_patterns_init(struct like_patterns *lp, const struct store_list_query *q)
{
	lp->search = q->search ? like_pattern(q->search) : NULL;
	lp->name = q->name ? like_pattern(q->name) : NULL;
	lp->username = q->username ? like_pattern(q->username) : NULL;
}

static void like_patterns_cleanup(struct like_patterns *lp)
{
	free(lp->search);
	free(lp->name);
	free(lp->username);
}

static void bind_query(sqlite3_stmt *st, const struct store_list_query *q,
		       const struct like_patterns *lp)
{
	bind_named(st, ":org", q->org_id);
	if (lp->search)
		bind_named(st, ":search", lp->search);
	if (lp->name)
		bind_named(st, ":name", lp->name);
	if (lp->username)
		bind_named(st, ":username", lp->username);
	if (q->email)
		bind_named(st, ":email", q->email);
	if (q->user_id)
		bind_named(st, ":user_id", q->user_id);
	int segpk = sqlite3_bind_parameter_index(st, ":segpk");
	if (segpk)
		sqlite3_bind_int64(st, segpk, q->segment_pk);
	int i = sqlite3_bind_parameter_index(st, ":unsubscribed");
	if (i)
		sqlite3_bind_int(st, i, q->unsubscribed);
}

/* A segment of at most this many members is listed from its members (sorted
 * afterwards); a larger one by walking the org's contacts in list order and
 * probing membership, which finds a page long before the end. */
enum { STORE_SEGMENT_NARROW_MAX = 2000 };

static unsigned list_mask(const struct store_list_query *q)
{
	unsigned segment = !q->segment_id ? 0
			   : q->segment_members > STORE_SEGMENT_NARROW_MAX ? 1u << LF_SEGMENT_WIDE
									   : 1u << LF_SEGMENT;
	return (q->search ? 1u << LF_SEARCH : 0) | (q->name ? 1u << LF_NAME : 0) |
	       (q->email ? 1u << LF_EMAIL : 0) | (q->user_id ? 1u << LF_USER_ID : 0) |
	       (q->username ? 1u << LF_USERNAME : 0) | segment |
	       (q->unsubscribed >= 0 ? 1u << LF_UNSUBSCRIBED : 0) |
	       (q->exclude_admins ? 1u << LF_EXCLUDE_ADMINS : 0) |
	       ((unsigned)q->status << LF_STATUS_SHIFT);
}

/* Fills q's segment_pk and segment_members from its segment_id; 0 members and
 * pk 0 when the org has no such segment (then nothing matches). */
static int resolve_segment(struct store *s, struct store_list_query *q, struct error *err)
{
	if (!q->segment_id)
		return 0;
	sqlite3_stmt *st = stmt(s, ST_SEGMENT_PK);
	bind_text(st, 1, q->org_id);
	bind_text(st, 2, q->segment_id);
	int rc = sqlite3_step(st);
	q->segment_pk = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	q->segment_members = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error(s, rc, err);
}

int store_explain_list(struct store *s, const struct store_list_query *query, char **plan,
		       struct error *err)
{
	struct store_list_query q0 = *query, *q = &q0;
	if (resolve_segment(s, q, err))
		return -1;
	sqlite3_stmt *page = list_stmt(s, list_mask(q), false, err), *st = NULL;
	if (!page)
		return -1;
	char *sql = xasprintf("EXPLAIN QUERY PLAN %s", sqlite3_sql(page));
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return db_error(s, rc, err);
	struct like_patterns lp;
	like_patterns_init(&lp, q);
	bind_query(st, q, &lp);
	char *out = xstrdup("");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char *next = xasprintf("%s%s\n", out, (const char *)sqlite3_column_text(st, 3));
		free(out);
		out = next;
	}
	sqlite3_finalize(st);
	like_patterns_cleanup(&lp);
	if (rc != SQLITE_DONE) {
		free(out);
		return db_error(s, rc, err);
	}
	*plan = out;
	return 0;
}

int store_contacts_list(struct store *s, const struct store_list_query *query,
			struct contact **out, size_t *n, int64_t *total, struct error *err)
{
	struct store_list_query q0 = *query, *q = &q0;
	if (resolve_segment(s, q, err))
		return -1;
	unsigned mask = list_mask(q);
	sqlite3_stmt *st;
	int rc = SQLITE_OK;
	struct like_patterns lp;
	like_patterns_init(&lp, q);
	if (mask == (1u << LF_SEGMENT) || mask == (1u << LF_SEGMENT_WIDE)) {
		/* The segment alone: its count is kept exact by the schema's triggers. */
		*total = q->segment_members;
	} else {
		if (!(st = list_stmt(s, mask, true, err)))
			goto fail;
		bind_query(st, q, &lp);
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			sqlite3_reset(st);
			db_error(s, rc, err);
			goto fail;
		}
		*total = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}

	if (!(st = list_stmt(s, mask, false, err)))
		goto fail;
	bind_query(st, q, &lp);
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":take"), q->take);
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":offset"), (q->page - 1) * q->take);
	struct contact *list = NULL;
	size_t count = 0, cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (count == cap) {
			cap = cap ? 2 * cap : 16;
			list = xrealloc(list, cap * sizeof *list);
		}
		memset(&list[count], 0, sizeof *list);
		contact_from_row(st, &list[count++]);
	}
	sqlite3_reset(st);
	like_patterns_cleanup(&lp);
	if (rc != SQLITE_DONE)
		db_error(s, rc, err);
	/* Channels and segments after the page's rows, since their statements are
	 * other ones; the transaction keeps it all one snapshot. */
	for (size_t i = 0; rc == SQLITE_DONE && i < count; i++)
		if (read_channels(s, list[i].store_pk, &list[i], err) ||
		    read_segments(s, list[i].store_pk, &list[i], err))
			rc = SQLITE_ERROR;
	if (rc != SQLITE_DONE) {
		for (size_t i = 0; i < count; i++)
			contact_cleanup(&list[i]);
		free(list);
		return -1;
	}
	*out = list;
	*n = count;
	return 0;
fail:
	like_patterns_cleanup(&lp);
	return -1;
}

/* The row id of the org's contact, or -1 with 404. */
static int contact_pk(struct store *s, const char *org_id, const char *contact_id, int64_t *pk,
		      struct error *err)
{
	sqlite3_stmt *st = stmt(s, ST_CONTACT_PK);
	bind_text(st, 1, org_id);
	bind_text(st, 2, contact_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*pk = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? error_set(err, 404, "Contact not found") : db_error(s, rc, err);
}

/* The row id of the org's segment; 0 if there is none. */
static int segment_pk(struct store *s, const char *org_id, const char *segment_id, int64_t *pk,
		      struct error *err)
{
	sqlite3_stmt *st = stmt(s, ST_SEGMENT_PK);
	bind_text(st, 1, org_id);
	bind_text(st, 2, segment_id);
	int rc = sqlite3_step(st);
	*pk = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error(s, rc, err);
}

int store_contact_segments(struct store *s, const char *org_id, const char *contact_id,
			   int64_t page, int64_t take, struct segment **out, size_t *n,
			   int64_t *total, struct error *err)
{
	int64_t pk = 0;
	if (contact_pk(s, org_id, contact_id, &pk, err))
		return -1;
	sqlite3_stmt *st = stmt(s, ST_SEGMENTS_COUNT);
	sqlite3_bind_int64(st, 1, pk);
	int rc = sqlite3_step(st);
	*total = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return db_error(s, rc, err);
	st = stmt(s, ST_SEGMENTS_PAGE);
	sqlite3_bind_int64(st, 1, pk);
	sqlite3_bind_int64(st, 2, take);
	sqlite3_bind_int64(st, 3, (page - 1) * take);
	struct segment *list = NULL;
	size_t count = 0, cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (count == cap) {
			cap = cap ? 2 * cap : 8;
			list = xrealloc(list, cap * sizeof *list);
		}
		segment_from_row(st, &list[count++]);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		for (size_t i = 0; i < count; i++)
			segment_cleanup(&list[i]);
		free(list);
		return db_error(s, rc, err);
	}
	*out = list;
	*n = count;
	return 0;
}

/* Looks up every listed segment of the org (400 naming the first unknown one)
 * and writes their row ids to pks (n_ids entries). */
static int segment_pks(struct store *s, const char *org_id, char *const *ids, size_t n_ids,
		       int64_t *pks, struct error *err)
{
	for (size_t i = 0; i < n_ids; i++) {
		if (segment_pk(s, org_id, ids[i], &pks[i], err))
			return -1;
		if (!pks[i])
			return error_set(err, 400, "segment %.256s does not exist in this org", ids[i]);
	}
	return 0;
}

static int add_members(struct store *s, int64_t contact, const int64_t *segments, size_t n,
		       int *added, struct error *err)
{
	*added = 0;
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st = stmt(s, ST_MEMBER_ADD);
		sqlite3_bind_int64(st, 1, contact);
		sqlite3_bind_int64(st, 2, segments[i]);
		if (exec_stmt(s, st, err))
			return -1;
		*added += sqlite3_changes(s->db);
	}
	return 0;
}

static int touch_contact(struct store *s, int64_t pk, int64_t now_ms, struct error *err)
{
	sqlite3_stmt *st = stmt(s, ST_CONTACT_TOUCH);
	sqlite3_bind_int64(st, 1, pk);
	sqlite3_bind_int64(st, 2, now_ms);
	return exec_stmt(s, st, err);
}

int store_contact_create(struct store *s, const char *org_id, const struct contact *c,
			 char *const *segment_ids, size_t n_segment_ids, struct error *err)
{
	lists_changed(s);
	int64_t *pks = xcalloc(n_segment_ids, sizeof *pks), pk;
	int added;
	if (segment_pks(s, org_id, segment_ids, n_segment_ids, pks, err) || atomic_begin(s, err)) {
		free(pks);
		return -1;
	}
	int rc = insert_contact(s, org_id, c, &pk, err);
	for (size_t i = 0; !rc && i < c->n_channels; i++)
		rc = insert_channel(s, pk, org_id, &c->channels[i], err);
	if (!rc)
		rc = add_members(s, pk, pks, n_segment_ids, &added, err);
	free(pks);
	return atomic_end(s, rc, err);
}

int store_channel_add(struct store *s, const char *org_id, const char *contact_id,
		      const struct channel *ch, char *const *segment_ids, size_t n_segment_ids,
		      int64_t now_ms, struct error *err)
{
	lists_changed(s);
	int64_t *pks = xcalloc(n_segment_ids, sizeof *pks), pk = 0;
	int added;
	if (segment_pks(s, org_id, segment_ids, n_segment_ids, pks, err) ||
	    contact_pk(s, org_id, contact_id, &pk, err) || atomic_begin(s, err)) {
		free(pks);
		return -1;
	}
	int rc = insert_channel(s, pk, org_id, ch, err);
	if (!rc)
		rc = add_members(s, pk, pks, n_segment_ids, &added, err);
	if (!rc)
		rc = touch_contact(s, pk, now_ms, err);
	free(pks);
	return atomic_end(s, rc, err);
}

int store_contact_add_segment(struct store *s, const char *org_id, const char *contact_id,
			      const char *segment_id, int64_t now_ms, struct error *err)
{
	lists_changed(s);
	int64_t pk = 0, seg = 0;
	int added;
	if (contact_pk(s, org_id, contact_id, &pk, err) || segment_pk(s, org_id, segment_id, &seg, err))
		return -1;
	if (!seg)
		return error_set(err, 404, "Segment not found");
	if (atomic_begin(s, err))
		return -1;
	int rc = add_members(s, pk, &seg, 1, &added, err);
	if (!rc && added)
		rc = touch_contact(s, pk, now_ms, err);
	return atomic_end(s, rc, err);
}

/* --- The fixture state: resets and isolated copies --- */

/* Copies database src_name of connection src over dst_name of connection dst
 * with the backup API: page by page in one write transaction, far faster than
 * deleting and inserting rows. */
static int copy_database(sqlite3 *dst, const char *dst_name, sqlite3 *src, const char *src_name)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, dst_name, src, src_name);
	if (!b)
		return sqlite3_errcode(dst);
	int rc;
	for (int tries = 0; tries < 100; tries++) {
		rc = sqlite3_backup_step(b, -1);
		if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			break;
		sqlite3_sleep(2); /* the checkpointer holds a lock for a moment */
	}
	sqlite3_backup_finish(b);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int store_set_fixture(struct store *s, const struct fixture *f, bool load, struct error *err)
{
	lists_changed(s);
	/* The fixture state lives in its own in-memory database (the source of
	 * whole-store resets), and a copy of it is attached to the store's
	 * connection as "pristine", so that one org can be reset or copied in SQL. */
	struct store_options o = {.path = ":memory:"};
	bool empty;
	struct error e = {0};
	int rc;
	if (s->read_only) {
		/* Nothing can be reset in a file that cannot be written. */
		return load ? error_set(err, 0, "the database is read-only") : 0;
	}
	if (store_open(&o, &s->pristine, &empty, &e) ||
	    store_load_fixture(s->pristine, f, NULL, &e) ||
	    exec_sql(s->db, "ATTACH DATABASE ':memory:' AS pristine", &e))
		return error_set(err, 0, "cannot keep the fixture state: %s", e.msg);
	if ((rc = copy_database(s->db, "pristine", s->pristine->db, "main")) != SQLITE_OK)
		return error_set(err, 0, "cannot keep the fixture state: %s", sqlite3_errstr(rc));
	return load ? store_reset(s, err) : 0;
}

/* Resets and copies need the fixture state and a writable file. */
static int read_only_error(struct store *s, struct error *err)
{
	(void)s;
	return error_set(err, 503, "The database is unavailable (read-only)");
}

int store_fixture_state(struct store *s, struct store **out, struct error *err)
{
	if (s->read_only || !s->pristine)
		return read_only_error(s, err);
	*out = s->pristine;
	return 0;
}

int store_reset(struct store *s, struct error *err)
{
	lists_changed(s);
	if (s->read_only)
		return read_only_error(s, err);
	/* Leaves exactly the fixture state: isolated orgs are gone with the rest. */
	int rc = copy_database(s->db, "main", s->pristine->db, "main");
	return rc == SQLITE_OK ? 0 : db_error(s, rc, err);
}

/* Copies fixture org src's segments, contacts, channels and memberships into
 * org dst (which may be src itself, emptied first). */
static int copy_org_data(struct store *s, const char *src, const char *dst, struct error *err)
{
	static const char *const sql[] = {
		"INSERT INTO segments (org_id, id, name, color, created_at, updated_at)"
		" SELECT ?2, id, name, color, created_at, updated_at FROM pristine.segments"
		" WHERE org_id = ?1 ORDER BY pk",
		"INSERT INTO contacts (org_id, id, name, blocked, unsubscribed, is_admin,"
		" ai_replies_disabled, created_at, updated_at, blocked_at, unsubscribed_at,"
		" unsubscribe_reason, unsubscribe_feedback)"
		" SELECT ?2, id, name, blocked, unsubscribed, is_admin, ai_replies_disabled,"
		" created_at, updated_at, blocked_at, unsubscribed_at, unsubscribe_reason,"
		" unsubscribe_feedback FROM pristine.contacts WHERE org_id = ?1 ORDER BY pk",
		"INSERT INTO channels (contact_pk, org_id, id, type, user_id, avatar, name, username,"
		" email, phone, country, agent, ip, language, platform_data, created_at, updated_at,"
		" link)"
		" SELECT c.pk, ?2, ch.id, ch.type, ch.user_id, ch.avatar, ch.name, ch.username,"
		" ch.email, ch.phone, ch.country, ch.agent, ch.ip, ch.language, ch.platform_data,"
		" ch.created_at, ch.updated_at, ch.link FROM pristine.channels ch"
		" JOIN pristine.contacts pc ON pc.pk = ch.contact_pk"
		" JOIN main.contacts c ON c.org_id = ?2 AND c.id = pc.id"
		" WHERE ch.org_id = ?1 ORDER BY ch.pk",
		"INSERT INTO contact_segments (contact_pk, segment_pk)"
		" SELECT c.pk, g.pk FROM pristine.contact_segments pcs"
		" JOIN pristine.contacts pc ON pc.pk = pcs.contact_pk"
		" JOIN pristine.segments pg ON pg.pk = pcs.segment_pk"
		" JOIN main.contacts c ON c.org_id = ?2 AND c.id = pc.id"
		" JOIN main.segments g ON g.org_id = ?2 AND g.id = pg.id"
		" WHERE pc.org_id = ?1",
	};
	for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
		sqlite3_stmt *st = NULL;
		int rc = sqlite3_prepare_v2(s->db, sql[i], -1, &st, NULL);
		if (rc == SQLITE_OK) {
			bind_text(st, 1, src);
			bind_text(st, 2, dst);
			rc = sqlite3_step(st);
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return db_error(s, rc, err);
	}
	return 0;
}

/* 0 if org is a fixture org, else -1 with status and "Org X is not a fixture org". */
static int fixture_org(struct store *s, const char *org, int status, struct error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, "SELECT 1 FROM pristine.orgs WHERE id = ?1", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		bind_text(st, 1, org);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? error_set(err, status, "Org %.256s is not a fixture org", org)
				 : db_error(s, rc, err);
}

int store_reset_org(struct store *s, const char *org_id, struct error *err)
{
	lists_changed(s);
	if (s->read_only)
		return read_only_error(s, err);
	if (fixture_org(s, org_id, 400, err) || atomic_begin(s, err))
		return -1;
	int rc = delete_org_data(s, org_id, err) || copy_org_data(s, org_id, org_id, err);
	return atomic_end(s, rc ? -1 : 0, err);
}

int store_org_copy(struct store *s, const char *from, const char *new_id, const char *api_key,
		   struct error *err)
{
	lists_changed(s);
	if (s->read_only)
		return read_only_error(s, err);
	if (fixture_org(s, from, 400, err) || atomic_begin(s, err))
		return -1;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db,
				    "INSERT INTO orgs (id, name, parent_id, origin, seq)"
				    " SELECT ?2, name, NULL, ?1, (SELECT coalesce(max(seq), 0) + 1 FROM main.orgs)"
				    " FROM pristine.orgs WHERE id = ?1",
				    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		bind_text(st, 1, from);
		bind_text(st, 2, new_id);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	int failed = rc != SQLITE_DONE ? db_error(s, rc, err) : 0;
	if (!failed) {
		st = stmt(s, ST_KEY_INSERT);
		bind_text(st, 1, api_key);
		bind_text(st, 2, new_id);
		failed = exec_stmt(s, st, err) || copy_org_data(s, from, new_id, err);
	}
	return atomic_end(s, failed ? -1 : 0, err);
}

int store_org_delete(struct store *s, const char *org_id, struct error *err)
{
	lists_changed(s);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, "SELECT origin IS NULL FROM orgs WHERE id = ?1", -1, &st, NULL);
	int fixture = -1;
	if (rc == SQLITE_OK) {
		bind_text(st, 1, org_id);
		if ((rc = sqlite3_step(st)) == SQLITE_ROW)
			fixture = sqlite3_column_int(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, rc, err);
	if (fixture < 0)
		return error_set(err, 404, "Org not found");
	if (fixture)
		return error_set(err, 400, "Org %.256s is a fixture org and cannot be deleted", org_id);
	/* One statement: ON DELETE CASCADE takes keys, segments, contacts and the rest. */
	rc = sqlite3_prepare_v2(s->db, "DELETE FROM orgs WHERE id = ?1", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		bind_text(st, 1, org_id);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, rc, err);
}

/* --- Orgs and keys --- */

int store_each_key(struct store *s, void (*fn)(void *arg, const char *key, const char *org_id),
		   void *arg, struct error *err)
{
	sqlite3_stmt *st = stmt(s, ST_KEYS_ALL);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(st, 0),
		   (const char *)sqlite3_column_text(st, 1));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, rc, err);
}

int store_each_org(struct store *s,
		   void (*fn)(void *arg, const char *org_id, const char *parent_id), void *arg,
		   struct error *err)
{
	sqlite3_stmt *st = stmt(s, ST_ORGS_ALL);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(st, 0),
		   (const char *)sqlite3_column_text(st, 1));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, rc, err);
}

int store_counts(struct store *s, int64_t *orgs, int64_t *contacts, struct error *err)
{
	sqlite3_stmt *st = stmt(s, ST_COUNTS);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*orgs = sqlite3_column_int64(st, 0);
		*contacts = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : db_error(s, rc, err);
}

int store_integrity_check(struct store *s, struct error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_error(s, rc, err);
	rc = sqlite3_step(st);
	int ok = rc == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
	if (!ok)
		error_set(err, 500, "integrity_check: %s",
			  rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0)
					   : sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}
