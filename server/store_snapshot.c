/* Snapshots of the whole state: a consistent private copy that an export is
 * rendered from as a fixture document, and an import that makes a staged
 * fixture state both the reset baseline and the data in one step. */
#include "store_int.h"

#include "clock.h"
#include "jsonbuf.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- Import --- */

int store_stage_fixture(const struct fixture *f, struct store **out, struct error *err)
{
	/* The same open and load that store_set_fixture() makes its baseline
	 * with, on the caller's thread: the slow part of an import never holds
	 * the store thread. */
	/* SQLite's memdb VFS with a name that starts with "/" is one database that
	 * every connection of the process can open or attach by that name: the
	 * store attaches this one as its baseline without copying it. */
	static atomic_uint serial;
	char uri[96];
	snprintf(uri, sizeof uri, "file:/invent-mock-fixture-%u?vfs=memdb",
		 atomic_fetch_add(&serial, 1));
	struct store_options o = {.path = uri};
	struct store *staged = NULL;
	bool empty;
	if (store_open(&o, &staged, &empty, err) || store_bulk_load_fixture(staged, f, err)) {
		store_close(staged);
		return -1;
	}
	staged->shared_name = xstrdup(uri);
	*out = staged;
	return 0;
}

int store_attach_pristine(struct store *s, struct store *staged, struct error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_OK;
	if (sqlite3_db_filename(s->db, "pristine"))
		rc = sqlite3_exec(s->db, "DETACH DATABASE pristine", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, "ATTACH DATABASE ?1 AS pristine", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, staged->shared_name, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK || rc == SQLITE_DONE ? 0 : db_error(s, rc, err);
}

int store_replace_fixture(struct store *s, struct store *staged, struct error *err)
{
	lists_changed(s);
	assert(staged->shared_name); /* made by store_stage_fixture() */
	if (s->read_only || !s->pristine)
		return error_set_code(err, STORE_ERR_READ_ONLY, NULL);
	/* The baseline first, which copies nothing, then the data, as a reset
	 * copies it (one write transaction: a failure such as a full disk leaves
	 * it as it was); a failure of either puts the old baseline back. */
	struct error e = {0};
	int rc = SQLITE_OK;
	if (store_attach_pristine(s, staged, err) ||
	    (rc = store_copy_database(s->db, "main", staged->db, "main")) != SQLITE_OK) {
		if (rc != SQLITE_OK)
			db_error(s, rc, err);
		if (store_attach_pristine(s, s->pristine, &e)) {
			/* Out of memory: resets could no longer be trusted. */
			fprintf(stderr, "invent-mock: cannot attach the fixture state again after "
					"a failed import (%s); stopping\n", e.msg);
			abort();
		}
		return -1;
	}
	store_close(s->pristine);
	s->pristine = staged;
	return 0;
}

/* --- Export --- */

enum export_phase {
	EXPORT_START,
	EXPORT_ORG,	 /* the next org, or the end */
	EXPORT_SEGMENTS, /* the current org's segments, one a line */
	EXPORT_CONTACTS, /* its contacts, one a line */
	EXPORT_END,
	EXPORT_DONE,
};

enum {
	XS_ORGS,
	XS_KEYS,
	XS_SEGMENTS,
	XS_CONTACTS,
	XS_CHANNELS,
	XS_MEMBERS,
	XS__COUNT
};

/* Rows in the order they were stored, which is the order a load of the
 * document stores them in again: channels keep their order, and so does
 * everything a reader could see ordered by row id. Each walks a table (or
 * index) already in that order, filtering by org, rather than sorting: these
 * run on an HTTP thread, and a sort of 100,000 rows at the first step held it
 * for most of a second. */
static const char *const export_sql[XS__COUNT] = {
	/* The org asked for and every org below it; the one asked for loses its
	 * parent, which the document does not hold. */
	[XS_ORGS] = "WITH RECURSIVE sel(id) AS (SELECT id FROM orgs WHERE id = ?1"
		    " UNION ALL SELECT o.id FROM orgs o JOIN sel ON o.parent_id = sel.id)"
		    " SELECT id, name, CASE WHEN id = ?1 THEN NULL ELSE parent_id END FROM orgs"
		    " WHERE ?1 IS NULL OR id IN sel ORDER BY seq",
	[XS_KEYS] = "SELECT key FROM api_keys WHERE org_id = ?1 ORDER BY rowid",
	[XS_SEGMENTS] = "SELECT id, name, color, created_at, updated_at FROM segments NOT INDEXED"
			" WHERE org_id = ?1 ORDER BY pk",
	[XS_CONTACTS] = "SELECT pk, id, name, blocked, unsubscribed, unsubscribe_reason,"
			" unsubscribe_feedback, is_admin, ai_replies_disabled, created_at, updated_at,"
			" blocked_at, unsubscribed_at FROM contacts NOT INDEXED WHERE org_id = ?1"
			" ORDER BY pk",
	/* A channel's org_id is always its contact's. */
	[XS_CHANNELS] = "SELECT contact_pk, id, type, user_id, avatar, name, username, email, phone,"
			" country, agent, ip, language, platform_data, created_at, updated_at, link"
			" FROM channels INDEXED BY channels_by_contact WHERE org_id = ?1"
			" ORDER BY contact_pk, pk",
	/* CROSS JOIN keeps contact_segments, in its key's order, the outer loop. */
	[XS_MEMBERS] = "SELECT cs.contact_pk, g.id FROM contact_segments cs"
		       " CROSS JOIN segments g ON g.pk = cs.segment_pk WHERE g.org_id = ?1"
		       " ORDER BY cs.contact_pk, cs.segment_pk",
};

struct store_export {
	sqlite3 *db; /* a private in-memory copy of the state, taken at once */
	sqlite3_stmt *st[XS__COUNT];
	char *org_id; /* NULL: every org */
	enum export_phase phase;
	bool first;			  /* no element yet in the array being written */
	bool channels_row, members_row;	  /* the merge cursors hold a row */
	int error;			  /* a SQLite code once reading failed */
	struct jsonbuf out;		  /* written, not yet handed out from pos */
	size_t pos;
};

int store_export_begin(struct store *s, const char *org_id, struct store_export **out,
		       struct error *err)
{
	struct store_export *x = xcalloc(1, sizeof *x);
	int rc = sqlite3_open_v2(":memory:", &x->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
				 NULL);
	if (rc == SQLITE_OK)
		rc = store_copy_database(x->db, "main", s->db, "main");
	for (int i = 0; rc == SQLITE_OK && i < XS__COUNT; i++)
		rc = sqlite3_prepare_v2(x->db, export_sql[i], -1, &x->st[i], NULL);
	if (rc != SQLITE_OK) {
		error_set_code(err, store_error_of(rc) | STORE_ERR_IN_EXPORT, sqlite3_errstr(rc));
		store_export_free(x);
		return -1;
	}
	if (org_id) {
		x->org_id = xstrdup(org_id);
		sqlite3_stmt *st = NULL;
		rc = sqlite3_prepare_v2(x->db, "SELECT 1 FROM orgs WHERE id = ?1", -1, &st, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_text(st, 1, org_id, -1, SQLITE_STATIC);
			rc = sqlite3_step(st);
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW) {
			if (rc == SQLITE_DONE)
				error_set_code(err, STORE_ERR_ORG_NOT_FOUND, NULL);
			else
				error_set_code(err, STORE_ERR_INTERNAL, sqlite3_errstr(rc));
			store_export_free(x);
			return -1;
		}
	}
	sqlite3_bind_text(x->st[XS_ORGS], 1, x->org_id, -1, SQLITE_STATIC);
	jsonbuf_init(&x->out, 1 << 16);
	*out = x;
	return 0;
}

void store_export_free(struct store_export *x)
{
	if (!x)
		return;
	for (int i = 0; i < XS__COUNT; i++)
		sqlite3_finalize(x->st[i]);
	sqlite3_close(x->db);
	jsonbuf_cleanup(&x->out);
	free(x->org_id);
	free(x);
}

static const char *text_col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static void put_str(struct jsonbuf *b, const char *key, const char *v)
{
	jsonbuf_key(b, key);
	jsonbuf_string(b, v);
}

static void put_bool(struct jsonbuf *b, const char *key, bool v)
{
	jsonbuf_key(b, key);
	jsonbuf_bool(b, v);
}

/* A timestamp column: its text, or null. */
static void put_time(struct jsonbuf *b, const char *key, sqlite3_stmt *st, int i)
{
	jsonbuf_key(b, key);
	if (sqlite3_column_type(st, i) == SQLITE_NULL) {
		jsonbuf_null(b);
		return;
	}
	char text[CLOCK_TEXT_SIZE];
	clock_format(sqlite3_column_int64(st, i), text);
	jsonbuf_string(b, text);
}

/* Steps st; true with a row, false at its end or on an error (kept in x). */
static bool next_row(struct store_export *x, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return true;
	if (rc != SQLITE_DONE && !x->error)
		x->error = rc;
	return false;
}

/* "\n" and the separator before an element of a line-per-element array. */
static void line_element(struct store_export *x)
{
	if (!x->first)
		jsonbuf_raw(&x->out, ",", 1);
	jsonbuf_raw(&x->out, "\n", 1);
	x->first = false;
}

static void bind_org(struct store_export *x, int id, const char *org)
{
	sqlite3_reset(x->st[id]);
	sqlite3_bind_text(x->st[id], 1, org, -1, SQLITE_TRANSIENT);
}

static void write_org(struct store_export *x)
{
	struct jsonbuf *b = &x->out;
	sqlite3_stmt *o = x->st[XS_ORGS];
	const char *id = text_col(o, 0);
	line_element(x);
	jsonbuf_open(b, '{');
	put_str(b, "id", id);
	put_str(b, "name", text_col(o, 1));
	put_str(b, "parent_id", text_col(o, 2));
	jsonbuf_key(b, "api_keys");
	jsonbuf_open(b, '[');
	bind_org(x, XS_KEYS, id);
	while (next_row(x, x->st[XS_KEYS])) {
		jsonbuf_element(b);
		jsonbuf_string(b, text_col(x->st[XS_KEYS], 0));
	}
	jsonbuf_close(b, ']');
	jsonbuf_key(b, "segments");
	jsonbuf_open(b, '[');
	bind_org(x, XS_SEGMENTS, id);
	bind_org(x, XS_CONTACTS, id);
	bind_org(x, XS_CHANNELS, id);
	bind_org(x, XS_MEMBERS, id);
	x->channels_row = next_row(x, x->st[XS_CHANNELS]);
	x->members_row = next_row(x, x->st[XS_MEMBERS]);
	x->first = true;
}

static void write_segment(struct store_export *x)
{
	struct jsonbuf *b = &x->out;
	sqlite3_stmt *g = x->st[XS_SEGMENTS];
	line_element(x);
	jsonbuf_open(b, '{');
	put_str(b, "id", text_col(g, 0));
	put_str(b, "name", text_col(g, 1));
	put_str(b, "color", text_col(g, 2));
	put_time(b, "created_at", g, 3);
	put_time(b, "updated_at", g, 4);
	jsonbuf_close(b, '}');
}

static void write_channel(struct jsonbuf *b, sqlite3_stmt *ch)
{
	static const char *const keys[] = {"id",    "type",    "user_id", "avatar",
					   "name",  "username", "email",   "phone",
					   "country", "agent",  "ip",      "language"};
	jsonbuf_open(b, '{');
	for (int i = 0; i < 12; i++)
		put_str(b, keys[i], text_col(ch, 1 + i));
	/* Stored as validated compact JSON, as the API renders it. */
	const char *pd = text_col(ch, 13);
	jsonbuf_key(b, "platform_data");
	jsonbuf_raw(b, pd ? pd : "{}", pd ? strlen(pd) : 2);
	put_time(b, "created_at", ch, 14);
	put_time(b, "updated_at", ch, 15);
	put_str(b, "link", text_col(ch, 16));
	jsonbuf_close(b, '}');
}

static void write_contact(struct store_export *x)
{
	struct jsonbuf *b = &x->out;
	sqlite3_stmt *c = x->st[XS_CONTACTS], *ch = x->st[XS_CHANNELS], *m = x->st[XS_MEMBERS];
	int64_t pk = sqlite3_column_int64(c, 0);
	line_element(x);
	jsonbuf_open(b, '{');
	put_str(b, "id", text_col(c, 1));
	put_str(b, "name", text_col(c, 2));
	put_bool(b, "blocked", sqlite3_column_int(c, 3));
	put_bool(b, "unsubscribed", sqlite3_column_int(c, 4));
	put_str(b, "unsubscribe_reason", text_col(c, 5));
	put_str(b, "unsubscribe_feedback", text_col(c, 6));
	put_bool(b, "is_admin", sqlite3_column_int(c, 7));
	put_bool(b, "ai_replies_disabled", sqlite3_column_int(c, 8));
	put_time(b, "created_at", c, 9);
	put_time(b, "updated_at", c, 10);
	put_time(b, "blocked_at", c, 11);
	put_time(b, "unsubscribed_at", c, 12);
	/* Channels and memberships come sorted by contact, as the contacts do:
	 * one pass over each instead of two queries per contact. */
	jsonbuf_key(b, "channels");
	jsonbuf_open(b, '[');
	while (x->channels_row && sqlite3_column_int64(ch, 0) <= pk) {
		if (sqlite3_column_int64(ch, 0) == pk) {
			jsonbuf_element(b);
			write_channel(b, ch);
		}
		x->channels_row = next_row(x, ch);
	}
	jsonbuf_close(b, ']');
	jsonbuf_key(b, "segments");
	jsonbuf_open(b, '[');
	while (x->members_row && sqlite3_column_int64(m, 0) <= pk) {
		if (sqlite3_column_int64(m, 0) == pk) {
			jsonbuf_element(b);
			jsonbuf_string(b, text_col(m, 1));
		}
		x->members_row = next_row(x, m);
	}
	jsonbuf_close(b, ']');
	jsonbuf_close(b, '}');
}

/* Writes the next piece of the document into x->out. */
static void export_step(struct store_export *x)
{
	switch (x->phase) {
	case EXPORT_START:
		jsonbuf_raw(&x->out, "{\"orgs\":[", 9);
		x->first = true;
		x->phase = EXPORT_ORG;
		break;
	case EXPORT_ORG:
		if (next_row(x, x->st[XS_ORGS])) {
			write_org(x);
			x->phase = EXPORT_SEGMENTS;
		} else {
			jsonbuf_raw(&x->out, "\n]}\n", 4);
			x->phase = EXPORT_END;
		}
		break;
	case EXPORT_SEGMENTS:
		if (next_row(x, x->st[XS_SEGMENTS])) {
			write_segment(x);
		} else {
			/* Raw: jsonbuf_key() would see the buffer start, not the ']'. */
			if (!x->first)
				jsonbuf_raw(&x->out, "\n", 1);
			jsonbuf_raw(&x->out, "],\"contacts\":[", 14);
			x->first = true;
			x->phase = EXPORT_CONTACTS;
		}
		break;
	case EXPORT_CONTACTS:
		if (next_row(x, x->st[XS_CONTACTS])) {
			write_contact(x);
		} else {
			jsonbuf_raw(&x->out, x->first ? "]}" : "\n]}", x->first ? 2 : 3);
			x->first = false; /* the next org follows this one */
			x->phase = EXPORT_ORG;
		}
		break;
	case EXPORT_END:
	case EXPORT_DONE:
		x->phase = EXPORT_DONE;
		break;
	}
}

size_t store_export_read(struct store_export *x, char *buf, size_t max)
{
	size_t n = 0;
	while (n < max) {
		if (x->pos == x->out.len) {
			if (x->phase == EXPORT_DONE || x->error)
				break;
			x->out.len = x->pos = 0;
			export_step(x);
			continue;
		}
		size_t k = x->out.len - x->pos;
		if (k > max - n)
			k = max - n;
		memcpy(buf + n, x->out.s + x->pos, k);
		x->pos += k;
		n += k;
	}
	return n;
}

int store_export_error(const struct store_export *x)
{
	return x->error;
}
