/* The store: invent-mock's state in SQLite. This file opens and closes it,
 * brings its schema up to date and reads orgs and keys; the rest is split by
 * concern, sharing store_int.h:
 *   store_thread.c    the store thread: job queue, batching into shared
 *                     transactions, checkpoint rounds (the concurrency model
 *                     is explained at its top)
 *   store_contacts.c  one contact: read, update, create, channels, segments
 *   store_list.c      the list query of GET /orgs/{org_id}/contacts
 *   store_fixture.c   fixture loading, resets, isolated org copies
 *   store_snapshot.c  export from a private copy; import's staging and swap
 * Failures are store errors (store.h: enum store_error), never HTTP statuses. */
#include "store_int.h"

#include "embedded.h"
#include "walbuf.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct store_sql store_orgs_sql[] = {
	{ST_KEYS_ALL, "SELECT key, org_id FROM api_keys"},
	{ST_ORGS_ALL, "SELECT id, parent_id FROM orgs ORDER BY seq"},
	{ST_COUNTS, "SELECT (SELECT count(*) FROM orgs), (SELECT count(*) FROM contacts)"},
	{ST_ORG_LIST, "SELECT id, name, parent_id, origin IS NOT NULL,"
		      " (SELECT count(*) FROM contacts c WHERE c.org_id = o.id)"
		      " FROM orgs o ORDER BY origin IS NOT NULL, seq"},
	{ST_ORG_KEYS, "SELECT key FROM api_keys WHERE org_id = ?1 ORDER BY rowid"},
	{ST_ORG_SEGMENTS, "SELECT " SEGMENT_COLS " FROM segments s WHERE s.org_id = ?1 ORDER BY s.pk"},
	{0, NULL},
};

static const struct store_sql *const sql_tables[] = {
	store_thread_sql,
	store_contacts_sql,
	store_fixture_sql,
	store_list_sql,
	store_trigram_sql,
	store_orgs_sql,
};

/* --- Opening and schema --- */

static int query_int(sqlite3 *db, const char *sql, int64_t *out, struct error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		error_set(err, 0, "%s", sqlite3_errmsg(db)); /* start-up only: a plain message */
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
	embedded_migration_004, /* to version 4 */
	embedded_migration_005, /* to version 5 */
	embedded_migration_006, /* to version 6 */
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
	if (rc == SQLITE_OK)
		rc = store_trigram_register(s->db);
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
	store_thread_init(s, opt);
	bool empty = false;
	int rc = sqlite3_open_v2(opt->path, &s->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
					 SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_URI,
				 walbuf_vfs_name());
	if (rc == SQLITE_OK) /* before the migrations: 005 calls it */
		rc = store_trigram_register(s->db);
	if (rc != SQLITE_OK) {
		error_set(err, 0, "cannot open database %s: %s", opt->path,
			  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* WAL: readers of the file (sqlite3 CLI, backups) never block our writer, and
	 * a commit is one append. NORMAL syncs at checkpoints only: a commit survives
	 * a crash of this process, FULL also survives power loss. SQLite's page
	 * cache stays at its default 2 MiB: a larger one grows with the database
	 * up to its bound, which long@soak-memory-stays-flat reads as growth
	 * (README, Performance). */
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
	for (size_t t = 0; t < sizeof sql_tables / sizeof sql_tables[0]; t++)
		for (const struct store_sql *q = sql_tables[t]; q->sql; q++) {
			assert(q->id < ST__COUNT && !s->st[q->id]); /* each id defined once */
			rc = sqlite3_prepare_v3(s->db, q->sql, -1, SQLITE_PREPARE_PERSISTENT,
						&s->st[q->id], NULL);
			if (rc != SQLITE_OK) {
				error_set(err, 0, "cannot use database %s: %s", opt->path,
					  sqlite3_errmsg(s->db));
				goto fail;
			}
		}
	for (int i = 0; i < ST__COUNT; i++)
		assert(s->st[i]); /* ...and none left undefined */
	if (!s->read_only && store_checkpointer_open(s, opt, err))
		goto fail;
	*was_empty = empty;
	*out = s;
	return 0;
fail:
	store_close(s);
	return -1;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	store_thread_stop(s);
	store_close(s->pristine);
	free(s->shared_name);
	store_lists_free(s);
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(s->st[i]);
	store_list_cleanup(s);
	if (s->db) {
		/* Checkpoint and truncate the WAL so a clean stop leaves one file. */
		sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		sqlite3_close(s->db);
	}
	store_thread_cleanup(s);
	free(s);
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
	if (!ok) {
		char complaint[ERROR_MSG_MAX];
		snprintf(complaint, sizeof complaint, "integrity_check: %s",
			 rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0)
					  : sqlite3_errmsg(s->db));
		error_set_code(err, STORE_ERR_INTERNAL, complaint);
	}
	sqlite3_finalize(st);
	if (!ok)
		return -1;
	/* The trigram index holds exactly what its triggers should have made. */
	int64_t wrong;
	struct error e = {0};
	if (query_int(s->db, "SELECT (SELECT count(*) FROM (SELECT * FROM contact_trigrams"
			     " EXCEPT SELECT * FROM contact_trigrams_made))"
			     " + (SELECT count(*) FROM (SELECT * FROM contact_trigrams_made"
			     " EXCEPT SELECT * FROM contact_trigrams))", &wrong, &e))
		return error_set_code(err, STORE_ERR_INTERNAL, e.msg);
	if (wrong)
		return error_set_code(err, STORE_ERR_INTERNAL, "contact_trigrams: rows differ from"
				      " contact_trigrams_made");
	return 0;
}

/* --- The orgs, for the admin API --- */

/* Room for one more of len items of size bytes at p, doubling *cap. */
static void *grow(void *p, size_t len, size_t *cap, size_t size)
{
	if (len < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 4;
	return xrealloc(p, *cap * size);
}

static int org_details(struct store *s, struct store_org *o, struct error *err)
{
	int rc;
	size_t cap = 0;
	sqlite3_stmt *st = stmt(s, ST_ORG_KEYS);
	sqlite3_bind_text(st, 1, o->id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		o->api_keys = grow(o->api_keys, o->n_api_keys, &cap, sizeof *o->api_keys);
		o->api_keys[o->n_api_keys++] = col_text(st, 0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_error(s, rc, err);
	cap = 0;
	st = stmt(s, ST_ORG_SEGMENTS);
	sqlite3_bind_text(st, 1, o->id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		o->segments = grow(o->segments, o->n_segments, &cap, sizeof *o->segments);
		store_segment_from_row(st, &o->segments[o->n_segments++]);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, rc, err);
}

int store_orgs(struct store *s, struct store_org **out, size_t *n, struct error *err)
{
	struct store_org *list = NULL;
	size_t len = 0, cap = 0;
	sqlite3_stmt *st = stmt(s, ST_ORG_LIST);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		list = grow(list, len, &cap, sizeof *list);
		list[len++] = (struct store_org){
			.id = col_text(st, 0),
			.name = col_text(st, 1),
			.parent_id = col_text(st, 2),
			.isolated = sqlite3_column_int(st, 3),
			.contacts_count = sqlite3_column_int64(st, 4),
		};
	}
	sqlite3_reset(st);
	rc = rc == SQLITE_DONE ? 0 : db_error(s, rc, err);
	/* Keys and segments once the org list is read: each reads with a statement
	 * of its own, one org at a time. */
	for (size_t i = 0; !rc && i < len; i++)
		rc = org_details(s, &list[i], err);
	if (rc) {
		store_orgs_free(list, len);
		return -1;
	}
	*out = list;
	*n = len;
	return 0;
}

void store_orgs_free(struct store_org *orgs, size_t n)
{
	for (size_t i = 0; orgs && i < n; i++) {
		free(orgs[i].id);
		free(orgs[i].name);
		free(orgs[i].parent_id);
		for (size_t k = 0; k < orgs[i].n_api_keys; k++)
			free(orgs[i].api_keys[k]);
		free(orgs[i].api_keys);
		for (size_t k = 0; k < orgs[i].n_segments; k++)
			segment_cleanup(&orgs[i].segments[k]);
		free(orgs[i].segments);
	}
	free(orgs);
}
