/* The store thread: the job queue, batching jobs into shared transactions, and
 * the checkpoint rounds that keep the WAL short.
 *
 * Concurrency model. One SQLite connection, owned by one store thread, runs every
 * query on the store's data after start-up. HTTP threads never touch it: they
 * parse and validate a request, wrap the work in a store_job and suspend the
 * connection; the store thread takes every job queued at that moment (up to
 * max_batch), runs them one after another inside a single transaction, takes in
 * the jobs queued while they ran (STORE_JOIN_ROUNDS times at most, and only
 * within the batch's join window), COMMITs once, and only then calls each
 * job's done(), which resumes its connection with the answer. (Other threads
 * open connections of their own to private databases only: an import stages
 * its document in a new in-memory one, an export reads a private copy; and the
 * checkpointer, below, opens the same file, for checkpoints alone.) A failing job
 * must leave no change behind, so every write function of the store is atomic by
 * itself (one statement, or a savepoint of its own) and a job calls at most one;
 * that spares a savepoint per job on the hot path. So:
 *  - an answer is sent only after the transaction holding its change committed
 *    (every 200 is durable to the level `synchronous` promises);
 *  - jobs are serialised, so two PATCHes of one contact can never lose an update,
 *    and a read never sees half of a change;
 *  - a burst of N concurrent PATCHes costs one transaction and one WAL sync
 *    rather than N, which is where the throughput comes from;
 *  - no SQLITE_BUSY for a job's queries: the only other connection to the file
 *    is the checkpointer's, whose PASSIVE checkpoints never take the write
 *    lock (a whole-store copy may still meet its lock for a moment, and
 *    retries: store_copy_database).
 * Checkpoints (copying the WAL back into the database file, the only step that
 * fsyncs under synchronous=NORMAL) run in rounds: the bulk of each on a second
 * thread with its own connection, woken by the WAL hook, then a short catch-up
 * on the store thread between two batches (see "Checkpoint rounds" below); the
 * store thread also checkpoints by itself if the WAL outgrows
 * STORE_CHECKPOINT_HARD pages.
 * If SQLite rolls the whole transaction back by itself (disk full, I/O error),
 * every job of the batch that had succeeded is failed with that error before any
 * answer leaves, and the rest of the batch starts a new transaction. */
#include "store_int.h"

#include "clock.h"
#include "walbuf.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

const struct store_sql store_thread_sql[] = {
	{ST_BEGIN, "BEGIN"},
	{ST_COMMIT, "COMMIT"},
	{ST_ROLLBACK, "ROLLBACK"},
	{ST_SAVEPOINT, "SAVEPOINT job"},
	{ST_RELEASE, "RELEASE job"},
	{ST_ROLLBACK_TO, "ROLLBACK TO job"},
	{0, NULL},
};

enum {
	STORE_DEFAULT_MAX_BATCH = 512,
	/* Jobs that arrive while a batch runs join it this many times before the
	 * COMMIT, rather than wait for it and a whole batch of their own (README,
	 * Performance, has the measurements behind 3). */
	STORE_JOIN_ROUNDS = 3,
	/* ...but only while the batch has run for less than this. Slow jobs (a
	 * list of 100 contacts) gain nothing from sharing a COMMIT, and holding
	 * their answers back stops the HTTP thread from sending one batch's
	 * answers while the store works on the next. */
	STORE_JOIN_WINDOW_US = 1000,
	STORE_CHECKPOINT_PAGES = 1000, /* WAL pages that start a checkpoint round (SQLite's default) */
	STORE_CHECKPOINT_HARD = 8000,  /* the store thread checkpoints itself if it falls behind */
};

void store_thread_init(struct store *s, const struct store_options *opt)
{
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->ckpt_wake, NULL);
	s->max_batch = opt->max_batch ? opt->max_batch : STORE_DEFAULT_MAX_BATCH;
	s->join_window_ns =
		(int64_t)(opt->join_window_us ? opt->join_window_us : STORE_JOIN_WINDOW_US) * 1000;
	s->ckpt_next = STORE_CHECKPOINT_PAGES;
}

/* Checkpoint rounds. The WAL starts again from its beginning only when a write
 * transaction begins while every frame in it has been copied back, and a
 * checkpoint running beside a busy writer never gets there: commits keep
 * landing while it copies and syncs. Waking the checkpointer on every commit
 * past the threshold, as this did until 2026-11-27, ran checkpoints back to
 * back under load while the WAL still grew (README, Performance, has the
 * figures). So a round is: once the WAL reaches ckpt_next pages, the
 * checkpointer copies what is there, off the store thread; then the store
 * thread, between two batches, copies the few frames committed meanwhile
 * (catch_up: short, mostly its two fdatasync), after which its next write
 * restarts the WAL. The store thread pays one short
 * checkpoint per round, and a round starts at most once per
 * STORE_CHECKPOINT_PAGES pages of growth, so a reader that keeps an old
 * snapshot (an sqlite3 shell left open) cannot make it checkpoint on every commit. */

/* Called on the store thread after each commit, with the WAL's size in pages. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store *s = arg;
	assert(store_thread_owns(s));
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
	assert(store_thread_owns(s));
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
		 * committed during the first, and a pass that does not
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
int store_checkpointer_open(struct store *s, const struct store_options *opt, struct error *err)
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
	assert(pthread_mutex_trylock(&s->lock) == EBUSY); /* held (by the caller) */
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
		assert(ran <= s->max_batch);
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

/* Makes a write function of several statements atomic: store_atomic_begin()
 * before the first, store_atomic_end() with its result after the last, which
 * rolls back everything since store_atomic_begin() if rc is not 0.
 * Savepoints nest, so this works inside a batch's transaction and outside one. */
int store_atomic_begin(struct store *s, struct error *err)
{
	return exec_id(s, ST_SAVEPOINT, err);
}

int store_atomic_end(struct store *s, int rc, struct error *err)
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

void store_thread_stop(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->wake);
	pthread_cond_signal(&s->ckpt_wake);
	pthread_mutex_unlock(&s->lock);
	if (s->running)
		pthread_join(s->thread, NULL);
	if (s->ckpt_running)
		pthread_join(s->ckpt_thread, NULL);
	s->running = s->ckpt_running = false;
	sqlite3_close(s->ckpt_db);
	s->ckpt_db = NULL;
}

void store_thread_cleanup(struct store *s)
{
	pthread_cond_destroy(&s->ckpt_wake);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
}
