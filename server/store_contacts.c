/* Contacts: reading one with its channels and segments, writing its fields,
 * creating it, adding channels and segment memberships; and the renderings of
 * channels and segments kept between PATCHes. */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

const struct store_sql store_contacts_sql[] = {
	{ST_CONTACT_GET, "SELECT " CONTACT_COLS " FROM contacts c WHERE c.org_id = ?1 AND c.id = ?2"},
	{ST_CHANNELS_GET,
	 "SELECT id, type, user_id, avatar, name, username, email, phone, country, agent,"
	 " ip, language, platform_data, created_at, updated_at, link"
	 " FROM channels WHERE contact_pk = ?1 ORDER BY pk"},
	/* Put in order by store_read_segments(): an ORDER BY here made SQLite
	 * build a sorter for every contact read. */
	{ST_SEGMENTS_GET, "SELECT " SEGMENT_COLS " FROM contact_segments cs"
			  " JOIN segments s ON s.pk = cs.segment_pk WHERE cs.contact_pk = ?1"},
	{ST_CONTACT_UPDATE,
	 "UPDATE contacts SET name = ?2, blocked = ?3, unsubscribed = ?4, updated_at = ?5,"
	 " blocked_at = ?6, unsubscribed_at = ?7, unsubscribe_reason = ?8,"
	 " unsubscribe_feedback = ?9 WHERE pk = ?1"},
	{ST_CONTACT_INSERT,
	 "INSERT INTO contacts (org_id, id, name, blocked, unsubscribed, is_admin,"
	 " ai_replies_disabled, created_at, updated_at, blocked_at, unsubscribed_at,"
	 " unsubscribe_reason, unsubscribe_feedback)"
	 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"},
	{ST_CHANNEL_INSERT,
	 "INSERT INTO channels (contact_pk, org_id, id, type, user_id, avatar, name,"
	 " username, email, phone, country, agent, ip, language, platform_data, created_at,"
	 " updated_at, link)"
	 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
	 " ?17, ?18)"},
	{ST_CONTACT_PK, "SELECT pk FROM contacts WHERE org_id = ?1 AND id = ?2"},
	{ST_CONTACT_TOUCH, "UPDATE contacts SET updated_at = max(updated_at, ?2) WHERE pk = ?1"},
	{ST_SEGMENT_PK, "SELECT pk, contacts_count FROM segments WHERE org_id = ?1 AND id = ?2"},
	{ST_MEMBER_ADD, "INSERT OR IGNORE INTO contact_segments (contact_pk, segment_pk) VALUES (?1, ?2)"},
	{ST_SEGMENTS_PAGE, "SELECT " SEGMENT_COLS " FROM contact_segments cs"
			   " JOIN segments s ON s.pk = cs.segment_pk WHERE cs.contact_pk = ?1"
			   " ORDER BY s.created_at, s.id LIMIT ?2 OFFSET ?3"},
	{ST_SEGMENTS_COUNT, "SELECT count(*) FROM contact_segments WHERE contact_pk = ?1"},
	{0, NULL},
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

const char *store_lists_get(struct store *s, int64_t contact_pk, size_t *len)
{
	assert(store_thread_owns(s));
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
	assert(store_thread_owns(s));
	if (!s->lists)
		s->lists = xcalloc(LISTS_SLOTS, sizeof *s->lists);
	struct lists_slot *slot = &s->lists[(uint64_t)contact_pk % LISTS_SLOTS];
	free(slot->text);
	*slot = (struct lists_slot){contact_pk, s->lists_generation, text, len};
}

void store_lists_free(struct store *s)
{
	for (size_t i = 0; s->lists && i < LISTS_SLOTS; i++)
		free(s->lists[i].text);
	free(s->lists);
	s->lists = NULL;
}

/* --- Reading and writing contacts --- */

/* Reads CONTACT_COLS of the current row into *c. */
void store_contact_from_row(sqlite3_stmt *st, struct contact *c)
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

void store_segment_from_row(sqlite3_stmt *st, struct segment *sg)
{
	sg->id = col_text(st, 0);
	sg->name = col_text(st, 1);
	sg->color = col_text(st, 2);
	sg->contacts_count = sqlite3_column_int64(st, 3);
	assert(sg->contacts_count >= 0); /* kept by triggers */
	sg->created_at = sqlite3_column_int64(st, 4);
	sg->updated_at = sqlite3_column_int64(st, 5);
}

int store_read_channels(struct store *s, int64_t pk, struct contact *c, struct error *err)
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

int store_read_segments(struct store *s, int64_t pk, struct contact *c, struct error *err)
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
		store_segment_from_row(st, &c->segments[c->n_segments++]);
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
		return rc == SQLITE_DONE ? error_set_code(err, STORE_ERR_CONTACT_NOT_FOUND, NULL)
					 : db_error(s, rc, err);
	}
	struct contact c = {0};
	store_contact_from_row(st, &c);
	sqlite3_reset(st);
	*out = c;
	return 0;
}

int store_contact_read_lists(struct store *s, struct contact *c, struct error *err)
{
	if (store_read_channels(s, c->store_pk, c, err) || store_read_segments(s, c->store_pk, c, err)) {
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

int store_insert_contact(struct store *s, const char *org_id, const struct contact *c,
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

int store_insert_channel(struct store *s, int64_t contact_pk, const char *org_id,
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
	return rc == SQLITE_DONE ? error_set_code(err, STORE_ERR_CONTACT_NOT_FOUND, NULL)
				 : db_error(s, rc, err);
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
		store_segment_from_row(st, &list[count++]);
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

/* Looks up every listed segment of the org (STORE_ERR_UNKNOWN_SEGMENT naming
 * the first unknown one)
 * and writes their row ids to pks (n_ids entries). */
static int segment_pks(struct store *s, const char *org_id, char *const *ids, size_t n_ids,
		       int64_t *pks, struct error *err)
{
	for (size_t i = 0; i < n_ids; i++) {
		if (segment_pk(s, org_id, ids[i], &pks[i], err))
			return -1;
		if (!pks[i])
			return error_set_code(err, STORE_ERR_UNKNOWN_SEGMENT, ids[i]);
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
	if (segment_pks(s, org_id, segment_ids, n_segment_ids, pks, err) || store_atomic_begin(s, err)) {
		free(pks);
		return -1;
	}
	int rc = store_insert_contact(s, org_id, c, &pk, err);
	for (size_t i = 0; !rc && i < c->n_channels; i++)
		rc = store_insert_channel(s, pk, org_id, &c->channels[i], err);
	if (!rc)
		rc = add_members(s, pk, pks, n_segment_ids, &added, err);
	free(pks);
	return store_atomic_end(s, rc, err);
}

int store_channel_add(struct store *s, const char *org_id, const char *contact_id,
		      const struct channel *ch, char *const *segment_ids, size_t n_segment_ids,
		      int64_t now_ms, struct error *err)
{
	lists_changed(s);
	int64_t *pks = xcalloc(n_segment_ids, sizeof *pks), pk = 0;
	int added;
	if (segment_pks(s, org_id, segment_ids, n_segment_ids, pks, err) ||
	    contact_pk(s, org_id, contact_id, &pk, err) || store_atomic_begin(s, err)) {
		free(pks);
		return -1;
	}
	int rc = store_insert_channel(s, pk, org_id, ch, err);
	if (!rc)
		rc = add_members(s, pk, pks, n_segment_ids, &added, err);
	if (!rc)
		rc = touch_contact(s, pk, now_ms, err);
	free(pks);
	return store_atomic_end(s, rc, err);
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
		return error_set_code(err, STORE_ERR_SEGMENT_NOT_FOUND, NULL);
	if (store_atomic_begin(s, err))
		return -1;
	int rc = add_members(s, pk, &seg, 1, &added, err);
	if (!rc && added)
		rc = touch_contact(s, pk, now_ms, err);
	return store_atomic_end(s, rc, err);
}
