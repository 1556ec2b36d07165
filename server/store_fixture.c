/* Fixtures in the store: loading one, the in-memory copy of the fixture state
 * that resets return to, resets of everything or one org, and isolated copies
 * of a fixture org (made and deleted). */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct store_sql store_fixture_sql[] = {
	{ST_ORG_INSERT, "INSERT INTO orgs (id, name, parent_id, origin, seq)"
			" VALUES (?1, ?2, ?3, ?4, (SELECT coalesce(max(seq), 0) + 1 FROM orgs))"},
	{ST_KEY_INSERT, "INSERT INTO api_keys (key, org_id) VALUES (?1, ?2)"},
	{ST_SEGMENT_INSERT, "INSERT INTO segments (org_id, id, name, color, created_at, updated_at)"
			    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
	{ST_MEMBER_INSERT, "INSERT INTO contact_segments (contact_pk, segment_pk)"
			   " SELECT ?1, pk FROM segments WHERE org_id = ?2 AND id = ?3"},
	{0, NULL},
};

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
		if (store_insert_contact(s, org_id, c, &pk, err))
			return -1;
		for (size_t k = 0; k < c->n_channels; k++)
			if (store_insert_channel(s, pk, org_id, &c->channels[k], err))
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
	sqlite3_stmt *st = NULL;
	if (exec_sql(s->db, "DELETE FROM fixture", err))
		return -1;
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
	if (store_atomic_begin(s, err))
		return -1;
	int rc = 0;
	if (only_org) {
		const struct fixture_org *o = fixture_find_org(f, only_org);
		rc = !o ? error_set_code(err, STORE_ERR_NOT_FIXTURE_ORG, only_org)
			: delete_org_data(s, only_org, err) || insert_org_data(s, o, o->id, err);
	} else {
		rc = exec_sql(s->db, "DELETE FROM orgs", err);
		for (size_t i = 0; !rc && i < f->n_orgs; i++)
			rc = insert_org(s, &f->orgs[i], err);
		if (!rc)
			rc = set_fixture_row(s, f, err);
	}
	return store_atomic_end(s, rc ? -1 : 0, err);
}

/* The kept counts (migration 004) and segments.contacts_count, made whole from
 * the rows, as the migration first made them; the triggers keep them after
 * (and the trigram index, store_trigram_fill). */
static const char make_counts_sql[] =
	"INSERT INTO contact_counts (org_id, flags, n)"
	" SELECT org_id, flags, count(*) FROM contacts GROUP BY org_id, flags;"
	"INSERT INTO segment_counts (segment_pk, flags, n)"
	" SELECT cs.segment_pk, c.flags, count(*) FROM contact_segments cs"
	" JOIN contacts c ON c.pk = cs.contact_pk GROUP BY cs.segment_pk, c.flags;"
	"UPDATE segments SET contacts_count ="
	" (SELECT count(*) FROM contact_segments WHERE segment_pk = segments.pk);";

int store_bulk_load_fixture(struct store *s, const struct fixture *f, struct error *err)
{
	/* A fresh database that no one else sees yet takes a fixture faster
	 * without its secondary indexes and triggers: each index is then built
	 * once from sorted keys rather than by an insert per row in random
	 * order, and the counts the triggers keep are made once, by GROUP BY.
	 * They are put back exactly as the schema made them (their own SQL, in
	 * their order). Nor does it need a rollback journal: a load that fails
	 * leaves a database that is thrown away. */
	sqlite3_stmt *st = NULL;
	char **drop = NULL, **make = NULL;
	size_t n = 0, cap = 0;
	int rc = sqlite3_prepare_v2(s->db,
				    "SELECT type, name, sql FROM sqlite_schema"
				    " WHERE type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY rowid",
				    -1, &st, NULL);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			drop = xrealloc(drop, cap * sizeof *drop);
			make = xrealloc(make, cap * sizeof *make);
		}
		drop[n] = sqlite3_mprintf("DROP %s \"%w\"", (const char *)sqlite3_column_text(st, 0),
					  (const char *)sqlite3_column_text(st, 1));
		make[n] = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 2));
		if (!drop[n] || !make[n])
			rc = SQLITE_NOMEM;
		n++;
	}
	sqlite3_finalize(st);
	int ret = rc == SQLITE_DONE || rc == SQLITE_OK ? 0 : db_error(s, rc, err);
	char journal[16] = "";
	if (!ret && (rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &st, NULL)) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(journal, sizeof journal, "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	if (!ret && !journal[0])
		ret = db_error(s, rc == SQLITE_OK ? SQLITE_ERROR : rc, err);
	if (!ret)
		ret = exec_sql(s->db, "PRAGMA journal_mode = OFF", err);
	for (size_t i = 0; !ret && i < n; i++)
		ret = exec_sql(s->db, drop[i], err);
	if (!ret)
		ret = store_load_fixture(s, f, NULL, err);
	/* What is made from the rows, in one transaction: the trigram index's
	 * rows each go in by a statement of their own, and a transaction per
	 * statement was most of what that cost. */
	if (!ret)
		ret = exec_sql(s->db, "BEGIN", err);
	for (size_t i = 0; !ret && i < n; i++)
		ret = exec_sql(s->db, make[i], err);
	if (!ret)
		ret = exec_sql(s->db, make_counts_sql, err);
	if (!ret)
		ret = store_trigram_fill(s->db, err);
	if (!ret)
		ret = exec_sql(s->db, "COMMIT", err);
	else if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	/* Back to the journal store_open() gave it (a memdb's is MEMORY): only
	 * the load could do without one; the fixture state is then the same
	 * database as one loaded row by row, journal mode included. */
	if (!ret) {
		char *sql = sqlite3_mprintf("PRAGMA journal_mode = %s", journal);
		ret = sql ? exec_sql(s->db, sql, err) : db_error(s, SQLITE_NOMEM, err);
		sqlite3_free(sql);
	}
	for (size_t i = 0; i < n; i++) {
		sqlite3_free(drop[i]);
		sqlite3_free(make[i]);
	}
	free(drop);
	free(make);
	return ret;
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

/* --- The fixture state: resets and isolated copies --- */

int store_copy_database(sqlite3 *dst, const char *dst_name, sqlite3 *src, const char *src_name)
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
	 * whole-store resets), which is also attached to the store's connection
	 * as "pristine", so that one org can be reset or copied in SQL. */
	/* Start-up only: its failures are plain messages (see enum store_error). */
	struct error e = {0};
	if (s->read_only) {
		/* Nothing can be reset in a file that cannot be written. */
		return load ? error_set(err, 0, "the database is read-only") : 0;
	}
	if (store_stage_fixture(f, &s->pristine, &e) || store_attach_pristine(s, s->pristine, &e))
		return error_set(err, 0, "cannot keep the fixture state: %s", e.msg);
	return load ? store_reset(s, err) : 0;
}

/* Resets and copies need the fixture state and a writable file. */
static int read_only_error(struct store *s, struct error *err)
{
	(void)s;
	return error_set_code(err, STORE_ERR_READ_ONLY, NULL);
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
	assert(s->pristine); /* store_set_fixture() came first */
	/* Leaves exactly the fixture state: isolated orgs are gone with the rest. */
	int rc = store_copy_database(s->db, "main", s->pristine->db, "main");
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

/* 0 if org is a fixture org, else -1 with STORE_ERR_NOT_FIXTURE_ORG. */
static int fixture_org(struct store *s, const char *org, struct error *err)
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
	return rc == SQLITE_DONE ? error_set_code(err, STORE_ERR_NOT_FIXTURE_ORG, org)
				 : db_error(s, rc, err);
}

int store_reset_org(struct store *s, const char *org_id, struct error *err)
{
	lists_changed(s);
	if (s->read_only)
		return read_only_error(s, err);
	if (fixture_org(s, org_id, err) || store_atomic_begin(s, err))
		return -1;
	int rc = delete_org_data(s, org_id, err) || copy_org_data(s, org_id, org_id, err);
	return store_atomic_end(s, rc ? -1 : 0, err);
}

int store_org_copy(struct store *s, const char *from, const char *new_id, const char *api_key,
		   struct error *err)
{
	lists_changed(s);
	if (s->read_only)
		return read_only_error(s, err);
	if (fixture_org(s, from, err) || store_atomic_begin(s, err))
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
	return store_atomic_end(s, failed ? -1 : 0, err);
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
		return error_set_code(err, STORE_ERR_ORG_NOT_FOUND, NULL);
	if (fixture)
		return error_set_code(err, STORE_ERR_FIXTURE_ORG, org_id);
	/* One statement: ON DELETE CASCADE takes keys, segments, contacts and the rest. */
	rc = sqlite3_prepare_v2(s->db, "DELETE FROM orgs WHERE id = ?1", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		bind_text(st, 1, org_id);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, rc, err);
}
