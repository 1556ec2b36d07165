/* The list query of GET /orgs/{org_id}/contacts: put together from fixed
 * fragments per filter, prepared once per combination, run for a page; and
 * pagination-count, from the counts the schema keeps where the filters allow. */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	/* search, name, username served by the trigram index: in place of the above */
	LF_SEARCH_INDEXED,
	LF_NAME_INDEXED,
	LF_USERNAME_INDEXED,
	LF__COUNT,
	LF_STATUS_SHIFT = LF__COUNT, /* 3 bits of enum store_status above the flags */
	LF_MASKS = 1 << (LF__COUNT + 3),
};

/* The contacts that hold the trigrams bound to :<p>0 to :<p>3 (store_trigram_pick):
 * in each bucket of the first, the bits of all four ANDed (CROSS JOIN keeps
 * SQLite from starting with a commoner one). */
#define TRIGRAM_CANDIDATES(p)                                                                   \
	" c.pk IN (SELECT k.value FROM contact_trigrams t0 CROSS JOIN contact_trigrams t1"         \
	" CROSS JOIN contact_trigrams t2 CROSS JOIN contact_trigrams t3 CROSS JOIN"               \
	" json_each(trigram_pks(t0.bucket, t0.bits & t1.bits & t2.bits & t3.bits)) k"              \
	" WHERE t0.tri = :" p "0 AND t1.tri = :" p "1 AND t1.bucket = t0.bucket AND t2.tri = :" p \
	"2 AND t2.bucket = t0.bucket AND t3.tri = :" p "3 AND t3.bucket = t0.bucket)"

/* The substring filters are LIKE, whichever way the contacts come: from the
 * index, each candidate's channels are then read by contact, not the org's. */
static const char *const list_fragments[LF__COUNT] = {
	[LF_SEARCH] = " AND (c.name LIKE :search ESCAPE '\\' OR c.pk IN (SELECT contact_pk FROM"
		      " channels WHERE org_id = :org AND (name LIKE :search ESCAPE '\\' OR username"
		      " LIKE :search ESCAPE '\\' OR email LIKE :search ESCAPE '\\' OR phone LIKE"
		      " :search ESCAPE '\\' OR user_id LIKE :search ESCAPE '\\')))",
	[LF_NAME] = " AND c.name LIKE :name ESCAPE '\\'",
	[LF_SEARCH_INDEXED] = " AND" TRIGRAM_CANDIDATES("search_t") " AND (c.name LIKE :search"
			      " ESCAPE '\\' OR EXISTS (SELECT 1 FROM channels ch WHERE ch.contact_pk ="
			      " c.pk AND (ch.name LIKE :search ESCAPE '\\' OR ch.username LIKE :search"
			      " ESCAPE '\\' OR ch.email LIKE :search ESCAPE '\\' OR ch.phone LIKE"
			      " :search ESCAPE '\\' OR ch.user_id LIKE :search ESCAPE '\\')))",
	[LF_NAME_INDEXED] = " AND" TRIGRAM_CANDIDATES("name_t") " AND c.name LIKE :name ESCAPE '\\'",
	[LF_USERNAME_INDEXED] = " AND" TRIGRAM_CANDIDATES("username_t") " AND EXISTS (SELECT 1"
				" FROM channels ch WHERE ch.contact_pk = c.pk AND ch.username LIKE"
				" :username ESCAPE '\\')",
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

/* Literal conditions, so that the partial indexes of migrations 002 and 004 apply. */
static const char *const status_fragments[] = {
	[STORE_STATUS_ALL] = "",
	[STORE_STATUS_SUBSCRIBED] = " AND c.unsubscribed = 0 AND c.blocked = 0",
	[STORE_STATUS_UNSUBSCRIBED] = " AND c.unsubscribed = 1",
	[STORE_STATUS_BLOCKED] = " AND c.blocked = 1",
	[STORE_STATUS_AI_REPLIES_DISABLED] = " AND c.ai_replies_disabled = 1",
};

/* The filters that need no more than the contact's flags, whose counts the
 * schema keeps (migration 004: contacts.flags, contact_counts, segment_counts). */
enum {
	STORE_FLAG_BLOCKED = 1,
	STORE_FLAG_UNSUBSCRIBED = 2,
	STORE_FLAG_ADMIN = 4,
	STORE_FLAG_AI_REPLIES_DISABLED = 8,
	STORE_FLAGS = 16, /* combinations */
};

const struct store_sql store_list_sql[] = {
	/* ?2: a set of flag combinations, bit f for combination f */
	{ST_LIST_COUNT_ORG, "SELECT coalesce(sum(n), 0) FROM contact_counts"
			    " WHERE org_id = ?1 AND (?2 >> flags) & 1"},
	{ST_LIST_COUNT_SEGMENT, "SELECT coalesce(sum(n), 0) FROM segment_counts"
				" WHERE segment_pk = ?1 AND (?2 >> flags) & 1"},
	{0, NULL},
};

/* The flag combinations q's flag filters let through, as a bit set. */
static unsigned flag_set(const struct store_list_query *q)
{
	unsigned set = 0;
	for (unsigned f = 0; f < STORE_FLAGS; f++) {
		bool blocked = f & STORE_FLAG_BLOCKED, unsubscribed = f & STORE_FLAG_UNSUBSCRIBED;
		bool ok = q->status == STORE_STATUS_ALL ||
			  (q->status == STORE_STATUS_SUBSCRIBED && !blocked && !unsubscribed) ||
			  (q->status == STORE_STATUS_UNSUBSCRIBED && unsubscribed) ||
			  (q->status == STORE_STATUS_BLOCKED && blocked) ||
			  (q->status == STORE_STATUS_AI_REPLIES_DISABLED &&
			   (f & STORE_FLAG_AI_REPLIES_DISABLED));
		if (q->unsubscribed >= 0 && unsubscribed != (q->unsubscribed == 1))
			ok = false;
		if (q->exclude_admins && (f & STORE_FLAG_ADMIN))
			ok = false;
		if (ok)
			set |= 1u << f;
	}
	return set;
}

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

/* The statement for this filter mask, prepared on first use: a page of
 * contacts, or (matches) every match's created_at and id, for a text filter's
 * count and page at once (store_contacts_list). */
static sqlite3_stmt *list_stmt(struct store *s, unsigned mask, bool matches, struct error *err)
{
	if (!s->list_stmts)
		s->list_stmts = xcalloc(2 * LF_MASKS, sizeof *s->list_stmts);
	sqlite3_stmt **slot = &s->list_stmts[2 * mask + matches];
	if (*slot) {
		sqlite3_reset(*slot);
		sqlite3_clear_bindings(*slot);
		return *slot;
	}
	/* A filter naming one email, user_id or segment, or a substring the
	 * trigram index serves, selects few contacts: start from its index and sort
	 * them ("+" keeps SQLite from walking the org's contacts in list order
	 * instead; it has no statistics to know better). */
	bool narrow = mask & ((1u << LF_EMAIL) | (1u << LF_USER_ID) | (1u << LF_SEGMENT) |
			      (1u << LF_SEARCH_INDEXED) | (1u << LF_NAME_INDEXED) |
			      (1u << LF_USERNAME_INDEXED));
	char sql[8192];
	size_t len = (size_t)snprintf(sql, sizeof sql, "%s FROM contacts c WHERE %sc.org_id = :org",
				      matches ? "SELECT c.created_at, c.id" : "SELECT " CONTACT_COLS,
				      narrow ? "+" : "");
	for (int f = 0; f < LF__COUNT; f++)
		if (mask & (1u << f))
			len += (size_t)snprintf(sql + len, sizeof sql - len, "%s", list_fragments[f]);
	len += (size_t)snprintf(sql + len, sizeof sql - len, "%s",
				status_fragments[mask >> LF_STATUS_SHIFT]);
	if (!matches)
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

/* A substring filter's values, made before binding (bound SQLITE_STATIC). */
struct substring {
	char *pattern;			   /* "%value%", escaped; NULL: no such filter */
	bool indexed;			   /* served by the trigram index */
	int64_t tri[STORE_TRIGRAM_PICK]; /* if indexed: its candidates' trigrams */
};

/* The substring filters of a query: search, name, username. */
struct substrings {
	struct substring search, name, username;
};

static int substring_init(struct store *s, struct substring *sub, const char *org_id,
			  const char *value, struct error *err)
{
	*sub = (struct substring){0};
	if (!value)
		return 0;
	sub->pattern = like_pattern(value);
	return store_trigram_pick(s, org_id, value, sub->tri, &sub->indexed, err);
}

static void substrings_cleanup(struct substrings *subs)
{
	free(subs->search.pattern);
	free(subs->name.pattern);
	free(subs->username.pattern);
}

/* Fills subs for q, the trigram index consulted; cleanup even after a failure. */
static int substrings_init(struct store *s, struct substrings *subs,
			   const struct store_list_query *q, struct error *err)
{
	memset(subs, 0, sizeof *subs);
	return substring_init(s, &subs->search, q->org_id, q->search, err) ||
			       substring_init(s, &subs->name, q->org_id, q->name, err) ||
			       substring_init(s, &subs->username, q->org_id, q->username, err)
		       ? -1
		       : 0;
}

static void bind_substring(sqlite3_stmt *st, const char *name, const char *tri_prefix,
			   const struct substring *sub)
{
	if (!sub->pattern)
		return;
	bind_named(st, name, sub->pattern);
	for (int k = 0; sub->indexed && k < STORE_TRIGRAM_PICK; k++) {
		char param[32];
		snprintf(param, sizeof param, "%s%d", tri_prefix, k);
		sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, param), sub->tri[k]);
	}
}

static void bind_query(sqlite3_stmt *st, const struct store_list_query *q,
		       const struct substrings *subs)
{
	bind_named(st, ":org", q->org_id);
	bind_substring(st, ":search", ":search_t", &subs->search);
	bind_substring(st, ":name", ":name_t", &subs->name);
	bind_substring(st, ":username", ":username_t", &subs->username);
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

/* The filters that only the counts' flags know nothing of. */
static bool has_text_filter(const struct store_list_query *q)
{
	return q->search || q->name || q->username || q->email || q->user_id;
}

/* The fragment of a substring filter: indexed, reading the org, or none. */
static unsigned substring_bit(const struct substring *sub, int scan, int indexed)
{
	return !sub->pattern ? 0 : sub->indexed ? 1u << indexed : 1u << scan;
}

static unsigned list_mask(const struct store_list_query *q, const struct substrings *subs)
{
	unsigned segment = !q->segment_id ? 0
			   : q->segment_members > STORE_SEGMENT_NARROW_MAX ? 1u << LF_SEGMENT_WIDE
									   : 1u << LF_SEGMENT;
	return substring_bit(&subs->search, LF_SEARCH, LF_SEARCH_INDEXED) |
	       substring_bit(&subs->name, LF_NAME, LF_NAME_INDEXED) |
	       substring_bit(&subs->username, LF_USERNAME, LF_USERNAME_INDEXED) |
	       (q->email ? 1u << LF_EMAIL : 0) | (q->user_id ? 1u << LF_USER_ID : 0) | segment |
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

/* The statement that reads q's count from the kept counts, bound. */
static sqlite3_stmt *count_stmt(struct store *s, const struct store_list_query *q)
{
	sqlite3_stmt *st;
	if (q->segment_id) {
		st = stmt(s, ST_LIST_COUNT_SEGMENT);
		sqlite3_bind_int64(st, 1, q->segment_pk);
	} else {
		st = stmt(s, ST_LIST_COUNT_ORG);
		bind_text(st, 1, q->org_id);
	}
	sqlite3_bind_int64(st, 2, flag_set(q));
	return st;
}

/* EXPLAIN QUERY PLAN of st's SQL with q's values bound: one line per step. */
static int explain(struct store *s, sqlite3_stmt *of, const struct store_list_query *q,
		   const struct substrings *subs, char **plan, struct error *err)
{
	sqlite3_stmt *st = NULL;
	char *sql = xasprintf("EXPLAIN QUERY PLAN %s", sqlite3_sql(of));
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return db_error(s, rc, err);
	bind_query(st, q, subs);
	char *out = xstrdup("");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char *next = xasprintf("%s%s\n", out, (const char *)sqlite3_column_text(st, 3));
		free(out);
		out = next;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(out);
		return db_error(s, rc, err);
	}
	*plan = out;
	return 0;
}

static int explain_query(struct store *s, const struct store_list_query *query, bool count,
			 char **plan, struct error *err)
{
	struct store_list_query q0 = *query, *q = &q0;
	struct substrings subs = {{0}, {0}, {0}};
	int rc = -1;
	if (resolve_segment(s, q, err) || substrings_init(s, &subs, q, err))
		goto out;
	/* A text filter's count and page come from one statement. */
	sqlite3_stmt *st = has_text_filter(q) ? list_stmt(s, list_mask(q, &subs), true, err)
			   : count ? count_stmt(s, q)
				   : list_stmt(s, list_mask(q, &subs), false, err);
	rc = st ? explain(s, st, q, &subs, plan, err) : -1;
out:
	substrings_cleanup(&subs);
	return rc;
}

int store_explain_count(struct store *s, const struct store_list_query *query, char **plan,
			struct error *err)
{
	return explain_query(s, query, true, plan, err);
}

int store_explain_list(struct store *s, const struct store_list_query *query, char **plan,
		       struct error *err)
{
	return explain_query(s, query, false, plan, err);
}

/* One match of a text-filtered list: what its order needs. */
struct match {
	int64_t created_at;
	char *id;
};

/* The list's order: newest created_at first, then id as SQLite's BINARY
 * collation compares it (bytes; ids hold no NUL). */
static int compare_matches(const void *a, const void *b)
{
	const struct match *x = a, *y = b;
	if (x->created_at != y->created_at)
		return x->created_at > y->created_at ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* The page of a text-filtered list and the count of its matches, from one
 * read of the matches (st, bound): their candidates, from an index or from the
 * org, are filtered once rather than once for the count and again for the
 * page. The page's rows are then read by id. */
static int list_by_matches(struct store *s, const struct store_list_query *q, sqlite3_stmt *st,
			   struct contact **list, size_t *count, int64_t *total, struct error *err)
{
	struct match *m = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap)
			m = xrealloc(m, (cap = cap ? 2 * cap : 64) * sizeof *m);
		m[n].created_at = sqlite3_column_int64(st, 0);
		m[n++].id = col_text(st, 1);
	}
	sqlite3_reset(st);
	int ret = rc == SQLITE_DONE ? 0 : db_error(s, rc, err);
	if (n) /* m is NULL when nothing matched */
		qsort(m, n, sizeof *m, compare_matches);
	*total = (int64_t)n;
	/* (page - 1) * take cannot overflow: the handler bounds page by it. */
	int64_t offset = (q->page - 1) * q->take;
	size_t from = offset < *total ? (size_t)offset : n;
	size_t to = n - from < (size_t)q->take ? n : from + (size_t)q->take;
	for (size_t i = from; !ret && i < to; i++) {
		sqlite3_stmt *get = stmt(s, ST_CONTACT_GET);
		bind_text(get, 1, q->org_id);
		bind_text(get, 2, m[i].id);
		if ((rc = sqlite3_step(get)) != SQLITE_ROW) {
			sqlite3_reset(get);
			ret = db_error(s, rc == SQLITE_DONE ? SQLITE_INTERNAL : rc, err);
			break;
		}
		if (*count % 16 == 0)
			*list = xrealloc(*list, (*count + 16) * sizeof **list);
		memset(&(*list)[*count], 0, sizeof **list);
		store_contact_from_row(get, &(*list)[(*count)++]);
		sqlite3_reset(get);
	}
	for (size_t i = 0; i < n; i++)
		free(m[i].id);
	free(m);
	return ret;
}

int store_contacts_list(struct store *s, const struct store_list_query *query,
			struct contact **out, size_t *n, int64_t *total, struct error *err)
{
	struct store_list_query q0 = *query, *q = &q0;
	assert(q->page >= 1 && q->take >= 1); /* the handler checked them */
	if (resolve_segment(s, q, err))
		return -1;
	sqlite3_stmt *st;
	int rc = SQLITE_OK;
	struct contact *list = NULL;
	size_t count = 0;
	struct substrings subs;
	if (substrings_init(s, &subs, q, err))
		goto fail;
	unsigned mask = list_mask(q, &subs);
	if (has_text_filter(q)) {
		if (!(st = list_stmt(s, mask, true, err)))
			goto fail;
		bind_query(st, q, &subs);
		if (list_by_matches(s, q, st, &list, &count, total, err))
			goto fail;
		substrings_cleanup(&subs);
		goto rows_read;
	}
	/* Flags alone, or with a segment: the schema's triggers keep the counts. */
	st = count_stmt(s, q);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		db_error(s, rc, err);
		goto fail;
	}
	*total = sqlite3_column_int64(st, 0);
	assert(*total >= 0); /* kept by triggers (migration 004) */
	sqlite3_reset(st);

	if (!(st = list_stmt(s, mask, false, err)))
		goto fail;
	bind_query(st, q, &subs);
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":take"), q->take);
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":offset"), (q->page - 1) * q->take);
	size_t cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (count == cap) {
			cap = cap ? 2 * cap : 16;
			list = xrealloc(list, cap * sizeof *list);
		}
		memset(&list[count], 0, sizeof *list);
		store_contact_from_row(st, &list[count++]);
	}
	sqlite3_reset(st);
	substrings_cleanup(&subs);
	if (rc != SQLITE_DONE) {
		db_error(s, rc, err);
		goto fail_rows;
	}
rows_read:
	/* Channels and segments after the page's rows, since their statements are
	 * other ones; the transaction keeps it all one snapshot. */
	for (size_t i = 0; i < count; i++)
		if (store_read_channels(s, list[i].store_pk, &list[i], err) ||
		    store_read_segments(s, list[i].store_pk, &list[i], err))
			goto fail_rows;
	*out = list;
	*n = count;
	return 0;
fail:
	substrings_cleanup(&subs);
fail_rows:
	for (size_t i = 0; i < count; i++)
		contact_cleanup(&list[i]);
	free(list);
	return -1;
}

void store_list_cleanup(struct store *s)
{
	for (int i = 0; s->list_stmts && i < 2 * LF_MASKS; i++)
		sqlite3_finalize(s->list_stmts[i]);
	free(s->list_stmts);
	s->list_stmts = NULL;
}
