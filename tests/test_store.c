/* Unit tests of the store, used directly from the test thread (as before
 * store_start()): schema versions, the query plans the list relies on, and the
 * counts the triggers keep. */
#include "fixtures.h"
#include "jsonbuf.h"
#include "store.h"
#include "testlib.h"
#include "xalloc.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <unistd.h>

static struct store *open_demo(const char *path, struct fixture **f)
{
	struct store *s;
	bool empty;
	struct error err = {0};
	struct store_options o = {.path = path};
	CHECK(store_open(&o, &s, &empty, &err) == 0);
	CHECK(fixture_load_embedded(0, f, &err) == 0);
	CHECK(store_load_fixture(s, *f, NULL, &err) == 0);
	return s;
}

/* The plan of q's page (or of its pagination-count) on the demo data. */
static char *plan_of_kind(struct store_list_query q, bool count)
{
	struct fixture *f;
	struct store *s = open_demo(":memory:", &f);
	struct error err = {0};
	char *plan;
	q.org_id = "org_demo";
	q.page = 1;
	q.take = 100;
	CHECK((count ? store_explain_count : store_explain_list)(s, &q, &plan, &err) == 0);
	store_close(s);
	fixture_free(f);
	fprintf(stderr, "%s", plan);
	return plan;
}

static char *plan_of(struct store_list_query q)
{
	return plan_of_kind(q, false);
}

/* The plain list walks the org's contacts already in list order: no sort, and
 * LIMIT stops it after one page. */
static void plan_list_in_index_order(void)
{
	char *p = plan_of((struct store_list_query){.unsubscribed = -1});
	CHECK_STR_EQ(p, "SEARCH c USING INDEX contacts_by_org_created (org_id=?)\n");
	free(p);
}

/* Exact-value filters start from their index and sort only the few matches. */
static void plan_email_uses_index(void)
{
	char *p = plan_of((struct store_list_query){.unsubscribed = -1, .email = "a@example.com"});
	CHECK(strstr(p, "SEARCH channels USING INDEX channels_by_email (org_id=? AND email=?)"));
	CHECK(strstr(p, "SEARCH c USING INTEGER PRIMARY KEY (rowid=?)"));
	CHECK(!strstr(p, "SCAN"));
	free(p);
}

static void plan_user_id_uses_index(void)
{
	char *p = plan_of((struct store_list_query){.unsubscribed = -1, .user_id = "+15550100"});
	CHECK(strstr(p, "SEARCH channels USING INDEX channels_by_user_id (org_id=? AND user_id=?)"));
	CHECK(!strstr(p, "SCAN"));
	free(p);
}

static void plan_segment_uses_index(void)
{
	char *p = plan_of((struct store_list_query){.unsubscribed = -1, .segment_id = "seg_vip"});
	CHECK(strstr(p, "SEARCH cs USING COVERING INDEX contact_segments_by_segment (segment_pk=?)"));
	CHECK(!strstr(p, "SCAN"));
	free(p);
}

/* A large segment is listed by walking the org's contacts in list order and
 * probing membership: a page is found long before the end, and nothing is sorted. */
static void plan_large_segment_walks_in_order(void)
{
	struct fixture *f;
	struct store *s = open_demo(":memory:", &f);
	struct error err = {0};
	char *seg[] = {"seg_vip"};
	for (int i = 0; i < 2001; i++) {
		char id[32];
		snprintf(id, sizeof id, "ct_many_%d", i);
		struct contact c = {.id = id, .created_at = i, .updated_at = i,
				    .blocked_at = MODEL_NO_TIME, .unsubscribed_at = MODEL_NO_TIME};
		CHECK(store_contact_create(s, "org_demo", &c, seg, 1, &err) == 0);
	}
	struct store_list_query q = {.org_id = "org_demo", .unsubscribed = -1, .page = 1,
				     .take = 100, .segment_id = "seg_vip"};
	char *p;
	CHECK(store_explain_list(s, &q, &p, &err) == 0);
	fprintf(stderr, "%s", p);
	CHECK(strstr(p, "SEARCH c USING INDEX contacts_by_org_created (org_id=?)"));
	CHECK(strstr(p, "SEARCH cs USING PRIMARY KEY (contact_pk=? AND segment_pk=?)"));
	CHECK(!strstr(p, "TEMP B-TREE"));
	free(p);
	struct contact *list;
	size_t n;
	int64_t total;
	CHECK(store_contacts_list(s, &q, &list, &n, &total, &err) == 0);
	CHECK_INT_EQ(n, 100);
	CHECK(total > 2001);
	for (size_t i = 0; i < n; i++)
		contact_cleanup(&list[i]);
	free(list);
	store_close(s);
	fixture_free(f);
}

static void plan_blocked_uses_partial_index(void)
{
	char *p = plan_of((struct store_list_query){.unsubscribed = -1, .status = STORE_STATUS_BLOCKED});
	CHECK_STR_EQ(p, "SEARCH c USING INDEX contacts_blocked (org_id=?)\n");
	free(p);
}

static void plan_unsubscribed_uses_partial_index(void)
{
	char *p = plan_of((struct store_list_query){.unsubscribed = -1,
						    .status = STORE_STATUS_UNSUBSCRIBED});
	CHECK_STR_EQ(p, "SEARCH c USING INDEX contacts_unsubscribed (org_id=?)\n");
	free(p);
}

static void plan_ai_replies_disabled_uses_partial_index(void)
{
	char *p = plan_of((struct store_list_query){.unsubscribed = -1,
						    .status = STORE_STATUS_AI_REPLIES_DISABLED});
	CHECK_STR_EQ(p, "SEARCH c USING INDEX contacts_ai_replies_disabled (org_id=?)\n");
	free(p);
}

static char *count_plan_of(struct store_list_query q)
{
	return plan_of_kind(q, true);
}

/* pagination-count of the flag filters, with or without a segment, is read
 * from the counts the triggers keep: at most 16 rows, whatever the org's size. */
static void count_plan_reads_kept_counts(void)
{
	char *p = count_plan_of((struct store_list_query){.unsubscribed = -1});
	CHECK_STR_EQ(p, "SEARCH contact_counts USING PRIMARY KEY (org_id=?)\n");
	free(p);
	p = count_plan_of((struct store_list_query){.unsubscribed = 1, .exclude_admins = true,
						    .status = STORE_STATUS_BLOCKED});
	CHECK_STR_EQ(p, "SEARCH contact_counts USING PRIMARY KEY (org_id=?)\n");
	free(p);
	p = count_plan_of((struct store_list_query){.unsubscribed = -1, .segment_id = "seg_vip",
						    .status = STORE_STATUS_SUBSCRIBED});
	CHECK_STR_EQ(p, "SEARCH segment_counts USING PRIMARY KEY (segment_pk=?)\n");
	free(p);
}

/* Every contact of org matching q, by listing it whole; checks that
 * pagination-count says as many. */
static int64_t matches(struct store *s, struct store_list_query q)
{
	struct error err = {0};
	struct contact *list;
	size_t n;
	int64_t total;
	q.page = 1;
	q.take = 1000000;
	CHECK(store_contacts_list(s, &q, &list, &n, &total, &err) == 0);
	CHECK_INT_EQ(total, (int64_t)n);
	for (size_t i = 0; i < n; i++)
		contact_cleanup(&list[i]);
	free(list);
	return total;
}

/* The kept counts agree with the matches for every combination of flag
 * filters and segments of every org. */
static void check_kept_counts(struct store *s)
{
	static const char *const orgs[] = {"org_demo", "org_demo_eu", "org_acme", "org_copy"};
	static const char *const segments[] = {NULL, "seg_vip", "seg_newsletter", "seg_beta",
					       "seg_eu_berlin", "seg_acme_trial", "seg_none"};
	for (size_t o = 0; o < sizeof orgs / sizeof orgs[0]; o++)
		for (size_t g = 0; g < sizeof segments / sizeof segments[0]; g++)
			for (int st = STORE_STATUS_ALL; st <= STORE_STATUS_AI_REPLIES_DISABLED; st++)
				for (int u = -1; u <= 1; u++)
					for (int a = 0; a <= 1; a++)
						matches(s, (struct store_list_query){
								   .org_id = orgs[o],
								   .segment_id = segments[g],
								   .status = (enum store_status)st,
								   .unsubscribed = u,
								   .exclude_admins = a});
}

static void set_flags(struct store *s, const char *org, const char *id, bool blocked,
		      bool unsubscribed)
{
	struct error err = {0};
	struct contact c = {0};
	CHECK(store_contact_get(s, org, id, &c, &err) == 0);
	c.blocked = blocked;
	c.blocked_at = blocked ? 1000 : MODEL_NO_TIME;
	c.unsubscribed = unsubscribed;
	c.unsubscribed_at = unsubscribed ? 1000 : MODEL_NO_TIME;
	CHECK(store_contact_update(s, &c, &err) == 0);
	contact_cleanup(&c);
}

/* Through every kind of write: flag changes of members and not, new contacts
 * and memberships, an org copied, reset and deleted, a reload. */
static void kept_counts_follow_every_write(void)
{
	struct fixture *f;
	struct store *s = open_demo(":memory:", &f);
	struct error err = {0};
	CHECK(store_set_fixture(s, f, false, &err) == 0);
	check_kept_counts(s);
	set_flags(s, "org_demo", "ct_ada", true, false);
	set_flags(s, "org_demo", "ct_grace", true, true);
	set_flags(s, "org_demo", "ct_alan", false, true);
	check_kept_counts(s);
	set_flags(s, "org_demo", "ct_ada", false, false);
	char *seg[] = {"seg_vip", "seg_beta"};
	struct contact c = {.id = "ct_new", .name = "New", .created_at = 5, .updated_at = 5,
			    .blocked = true, .blocked_at = 5, .unsubscribed_at = MODEL_NO_TIME};
	CHECK(store_contact_create(s, "org_demo", &c, seg, 2, &err) == 0);
	CHECK(store_contact_add_segment(s, "org_demo", "ct_alan", "seg_newsletter", 9, &err) == 0);
	check_kept_counts(s);
	CHECK(store_org_copy(s, "org_demo", "org_copy", "sk_copy", &err) == 0);
	set_flags(s, "org_copy", "ct_grace", false, false);
	check_kept_counts(s);
	CHECK(store_reset_org(s, "org_demo", &err) == 0);
	check_kept_counts(s);
	CHECK(store_org_delete(s, "org_copy", &err) == 0);
	check_kept_counts(s);
	CHECK(store_load_fixture(s, f, NULL, &err) == 0);
	check_kept_counts(s);
	CHECK(store_reset(s, &err) == 0);
	check_kept_counts(s);
	CHECK(store_integrity_check(s, &err) == 0);
	store_close(s);
	fixture_free(f);
}

/* Every row of sql's answer on the database at path, one line each. */
static char *dump(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
	size_t cap = 4096, len = 0;
	char *out = xmalloc(cap);
	out[0] = '\0';
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const char *v = (const char *)sqlite3_column_text(st, i);
			size_t n = strlen(v ? v : "NULL") + 2;
			while (len + n + 1 > cap)
				out = xrealloc(out, cap *= 2);
			len += (size_t)snprintf(out + len, cap - len, "%s%c", v ? v : "NULL", i ? '|' : '\t');
		}
		out[len - 1] = '\n';
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

/* The fixture state is loaded without secondary indexes and triggers, which
 * are then put back and the counts made (store_bulk_load_fixture): the file a
 * reset copies it into is the database a load row by row, every trigger
 * firing, makes: the same schema, rows and counts. */
static void bulk_load_makes_the_same_database(void)
{
	char *bulk = test_temp_path(), *rows = test_temp_path();
	struct fixture *f;
	struct error err = {0};
	struct store *s = open_demo(rows, &f);
	store_close(s);
	bool empty;
	struct store_options o = {.path = bulk};
	CHECK(store_open(&o, &s, &empty, &err) == 0);
	CHECK(store_set_fixture(s, f, true, &err) == 0); /* staged, then copied by a reset */
	store_close(s);
	static const char *const sql[] = {
		"SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name",
		"SELECT count(*) FROM segments WHERE contacts_count > 0",
		"PRAGMA integrity_check",
	};
	for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
		char *a = dump(bulk, sql[i]), *b = dump(rows, sql[i]);
		CHECK(strlen(b) > 2);
		CHECK_STR_EQ(a, b);
		free(a);
		free(b);
	}
	/* Every table, whatever a later migration adds (and whatever triggers
	 * keep in it), row for row, ordered by all its columns. */
	sqlite3 *db;
	sqlite3_stmt *st;
	CHECK(sqlite3_open(rows, &db) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table'"
				     " AND name NOT LIKE 'sqlite_%' ORDER BY name", -1, &st, NULL) == SQLITE_OK);
	int tables = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		sqlite3_stmt *cols;
		char *q = sqlite3_mprintf("SELECT * FROM \"%w\"", t);
		CHECK(sqlite3_prepare_v2(db, q, -1, &cols, NULL) == SQLITE_OK);
		char order[256] = "";
		for (int c = 0; c < sqlite3_column_count(cols); c++)
			snprintf(order + strlen(order), sizeof order - strlen(order), "%s%d", c ? "," : "", c + 1);
		sqlite3_finalize(cols);
		char *all = sqlite3_mprintf("%s ORDER BY %s", q, order);
		char *a = dump(bulk, all), *b = dump(rows, all);
		CHECK_STR_EQ(a, b);
		free(a);
		free(b);
		sqlite3_free(all);
		sqlite3_free(q);
		tables++;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	CHECK(tables >= 9); /* orgs, keys, segments, contacts, channels, memberships, counts... */
	fixture_free(f);
	unlink(bulk);
	unlink(rows);
	free(bulk);
	free(rows);
}

static int64_t name_matches(struct store *s, const char *field, const char *value)
{
	struct store_list_query q = {.org_id = "org_demo", .unsubscribed = -1};
	if (!strcmp(field, "name"))
		q.name = value;
	else if (!strcmp(field, "search"))
		q.search = value;
	else
		q.username = value;
	return matches(s, q);
}

/* Substring filters compare ASCII case only (SQLite's LIKE), take % and _
 * literally, and follow a name change. */
static void substring_filters_keep_their_semantics(void)
{
	struct fixture *f;
	struct store *s = open_demo(":memory:", &f);
	struct error err = {0};
	struct channel ch = {.id = "ch_x", .type = "custom", .user_id = "u_x", .username = "x_%_y"};
	struct contact c = {.id = "ct_x", .name = "ÄRGER Émile", .created_at = 5, .updated_at = 5,
			    .blocked_at = MODEL_NO_TIME, .unsubscribed_at = MODEL_NO_TIME,
			    .channels = &ch, .n_channels = 1};
	CHECK(store_contact_create(s, "org_demo", &c, NULL, 0, &err) == 0);
	CHECK_INT_EQ(name_matches(s, "name", "ÄRGER"), 1);
	CHECK_INT_EQ(name_matches(s, "name", "ärger"), 0); /* ASCII case only, as LIKE */
	CHECK_INT_EQ(name_matches(s, "name", "RGER éM"), 0);
	CHECK_INT_EQ(name_matches(s, "name", "rger ÉM"), 1);
	CHECK_INT_EQ(name_matches(s, "name", "LOVELACE"), 1);
	CHECK_INT_EQ(name_matches(s, "search", "LOVELACE"), 1);
	CHECK_INT_EQ(name_matches(s, "search", "ANALYTICAL.EX"), 1); /* an email */
	CHECK_INT_EQ(name_matches(s, "name", "analytical"), 0);
	CHECK_INT_EQ(name_matches(s, "username", "%_y"), 1); /* literal % and _ */
	CHECK_INT_EQ(name_matches(s, "username", "x_%"), 1);
	CHECK_INT_EQ(name_matches(s, "username", "x%y"), 0);
	CHECK_INT_EQ(name_matches(s, "search", "\"quoted\""), 0);
	CHECK_INT_EQ(name_matches(s, "name", "Ä"), 1);
	CHECK_INT_EQ(name_matches(s, "name", "ä"), 0);
	CHECK_INT_EQ(name_matches(s, "username", "%_"), 1);
	/* A name changed is found by its new text only. */
	CHECK(store_contact_get(s, "org_demo", "ct_ada", &c, &err) == 0);
	free(c.name);
	c.name = xstrdup("Augusta King");
	CHECK(store_contact_update(s, &c, &err) == 0);
	contact_cleanup(&c);
	CHECK_INT_EQ(name_matches(s, "name", "Lovelace"), 0);
	CHECK_INT_EQ(name_matches(s, "search", "augusta"), 1);
	CHECK(store_integrity_check(s, &err) == 0);
	store_close(s);
	fixture_free(f);
}

static int64_t user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void exec_on(const char *path, const char *sql)
{
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "%s\n", msg);
		exit(1);
	}
	sqlite3_close(db);
}

static char *temp_db(void)
{
	char *path = test_temp_path();
	return path;
}

/* --- The trigram index of the substring filters (migrations 005 and 006) --- */

/* A substring filter of 3 bytes or more takes its candidates from the trigram
 * index (the buckets of the rarest trigram, the others looked up in each), alone or
 * beside a status or a segment, for its page and its count: no scan of the
 * contacts or channels. */
static void plan_substring_filters_use_trigram_index(void)
{
	static const char *const fields[] = {"search", "name", "username"};
	static const char *const values[] = {"lovelace", "LOVELACE", "rivera"};
	for (size_t i = 0; i < 3; i++)
		for (int shape = 0; shape < 4; shape++)
			for (int count = 0; count <= 1; count++) {
				struct store_list_query q = {.unsubscribed = -1};
				const char *v = values[i == 2 ? 2 : (size_t)shape % 2];
				*(i == 0 ? &q.search : i == 1 ? &q.name : &q.username) = v;
				if (shape == 1)
					q.status = STORE_STATUS_BLOCKED;
				if (shape == 2)
					q.segment_id = "seg_vip";
				if (shape == 3) {
					q.status = STORE_STATUS_SUBSCRIBED;
					q.exclude_admins = true;
				}
				fprintf(stderr, "%s=%s shape %d %s:\n", fields[i], v, shape,
					count ? "count" : "page");
				char *p = plan_of_kind(q, count);
				CHECK(strstr(p, "SEARCH t0 USING PRIMARY KEY (tri=?)\n"));
				CHECK(strstr(p, "SEARCH t1 USING PRIMARY KEY (tri=? AND bucket=?)\n"));
				CHECK(strstr(p, "SEARCH t3 USING PRIMARY KEY (tri=? AND bucket=?)\n"));
				CHECK(strstr(p, "SEARCH c USING INTEGER PRIMARY KEY (rowid=?)\n"));
				/* The one scan: of a bucket's pks (json_each). */
				const char *scan = strstr(p, "SCAN");
				CHECK(scan && !strncmp(scan, "SCAN k VIRTUAL TABLE", 20) && !strstr(scan + 4, "SCAN"));
				if (i != 1) /* channels by their contact, not the org's */
					CHECK(strstr(p, "SEARCH ch USING INDEX channels_by_contact (contact_pk=?)\n"));
				free(p);
			}
}

/* What the index cannot serve reads the org's contacts in list order, as
 * before: fewer than 3 bytes, or a value that is not UTF-8 (LIKE reads its bad
 * bytes as U+FFFD, which the text's bytes need not hold). */
static void plan_short_substring_reads_the_org(void)
{
	static const char *const values[] = {"a", "ad", "é", ("\xff\xfe" "ada"), "ad\xc3"};
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		char *p = plan_of((struct store_list_query){.unsubscribed = -1, .name = values[i]});
		CHECK_STR_EQ(p, "SEARCH c USING INDEX contacts_by_org_created (org_id=?)\n");
		free(p);
	}
}

static char *list_ids(struct store *s, struct store_list_query q);

/* The index holds every org's contacts: a small org beside a large one whose
 * contacts share the value's trigrams reads its own few contacts instead,
 * while the large one keeps the index. Both answer the same either way. */
static void plan_small_org_beside_a_large_one_reads_the_org(void)
{
	struct jsonbuf b;
	jsonbuf_init(&b, 0);
	const char *head = "{\"orgs\":[{\"id\":\"big\",\"contacts\":[";
	jsonbuf_raw(&b, head, strlen(head));
	for (int i = 0; i < 300; i++) {
		char c[80];
		int n = snprintf(c, sizeof c, "%s{\"id\":\"b%d\",\"name\":\"Ada Lovelace %d\"}",
				 i ? "," : "", i, i);
		jsonbuf_raw(&b, c, (size_t)n);
	}
	const char *tail = "]},{\"id\":\"small\",\"contacts\":[{\"id\":\"s1\",\"name\":"
			   "\"Ada Lovelace\"},{\"id\":\"s2\",\"name\":\"Grace\"}]}]}";
	jsonbuf_raw(&b, tail, strlen(tail));
	size_t len;
	char *text = jsonbuf_finish(&b, &len);
	struct fixture *f = NULL;
	struct error err = {0};
	CHECK(fixture_parse(text, len, "t.json", 0, &f, &err) == 0);
	struct store *s;
	bool empty;
	struct store_options o = {.path = ":memory:"};
	CHECK(store_open(&o, &s, &empty, &err) == 0);
	CHECK(store_load_fixture(s, f, NULL, &err) == 0);
	struct store_list_query q = {.unsubscribed = -1, .name = "lovelace", .page = 1, .take = 100};
	char *plan;
	q.org_id = "small";
	CHECK(store_explain_list(s, &q, &plan, &err) == 0);
	CHECK_STR_EQ(plan, "SEARCH c USING INDEX contacts_by_org_created (org_id=?)\n");
	free(plan);
	char *ids = list_ids(s, q);
	CHECK_STR_EQ(ids, "1: s1");
	free(ids);
	q.org_id = "big";
	CHECK(store_explain_list(s, &q, &plan, &err) == 0);
	CHECK(strstr(plan, "SEARCH t0 USING PRIMARY KEY (tri=?)\n"));
	free(plan);
	q.take = 1;
	ids = list_ids(s, q);
	CHECK(!strncmp(ids, "300: ", 5));
	free(ids);
	store_close(s);
	fixture_free(f);
	free(text);
}

/* The count of q's matches and the ids of its first page (of q.take, or of
 * 1000), as text. */
static char *list_ids(struct store *s, struct store_list_query q)
{
	struct error err = {0};
	struct contact *list;
	size_t n;
	int64_t total;
	q.page = 1;
	q.take = q.take ? q.take : 1000;
	CHECK(store_contacts_list(s, &q, &list, &n, &total, &err) == 0);
	char *out = xasprintf("%lld:", (long long)total);
	for (size_t i = 0; i < n; i++) {
		char *next = xasprintf("%s %s", out, list[i].id);
		free(out);
		out = next;
		contact_cleanup(&list[i]);
	}
	free(list);
	return out;
}

/* The same list as SQLite's LIKE gives it, read straight from the file: the
 * filters as the store wrote them before the index. */
static char *like_ids(sqlite3 *db, const char *org, const char *field, const char *value)
{
	static const char *const where[] = {
		("c.name LIKE ?2 ESCAPE '\\' OR EXISTS (SELECT 1 FROM channels ch WHERE"
		 " ch.contact_pk = c.pk AND (ch.name LIKE ?2 ESCAPE '\\' OR ch.username LIKE ?2"
		 " ESCAPE '\\' OR ch.email LIKE ?2 ESCAPE '\\' OR ch.phone LIKE ?2 ESCAPE '\\'"
		 " OR ch.user_id LIKE ?2 ESCAPE '\\'))"),
		"c.name LIKE ?2 ESCAPE '\\'",
		("EXISTS (SELECT 1 FROM channels ch WHERE ch.contact_pk = c.pk"
		 " AND ch.username LIKE ?2 ESCAPE '\\')"),
	};
	int w = !strcmp(field, "search") ? 0 : !strcmp(field, "name") ? 1 : 2;
	char *sql = xasprintf("SELECT c.id FROM contacts c WHERE c.org_id = ?1 AND (%s)"
			      " ORDER BY c.created_at DESC, c.id", where[w]);
	char *pattern = xmalloc(2 * strlen(value) + 3), *o = pattern;
	*o++ = '%';
	for (const char *v = value; *v; v++) {
		if (*v == '%' || *v == '_' || *v == '\\')
			*o++ = '\\';
		*o++ = *v;
	}
	strcpy(o, "%");
	sqlite3_stmt *st;
	CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
	sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, pattern, -1, SQLITE_STATIC);
	char *ids = xstrdup("");
	int n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		char *next = xasprintf("%s %s", ids, (const char *)sqlite3_column_text(st, 0));
		free(ids);
		ids = next;
		n++;
	}
	sqlite3_finalize(st);
	char *out = xasprintf("%d:%s", n, ids);
	free(ids);
	free(sql);
	free(pattern);
	return out;
}

static const char *const edge_values[] = {
	"a", "ad", "ada", "ADA", "Ada Lovelace", "aDA lOVE", "lovelace", "ove", "quux",
	"é", "É", "José", "JOSÉ", "josé", "Álv", "álv", "ÁLV", "ö", "Müller", "MÜLLER",
	"王伟", "王", "伟", "山田", "🚀", "🐤", "Sam 🚀", "m 🚀 R", "🚀 ri", "łuk", "Łuk", "ŁUK",
	"Иван", "ИВАН", "иван", "%", "_", "\\", "a%b", "100%", "%_\\", "0%_\\ d", "x_%",
	"_%", "ex", "example", ".example", "@", "+1555", "555", "0100", "analytical.ex",
	("\xff\xfe" "ada"), "ad\xc3", "\xef\xbf\xbd", "ri", "er ", " ",
};

/* Every answer of a substring filter is the one LIKE gives, whether the index
 * served it or not: ASCII case folded, other case not, %, _ and \ literal,
 * non-ASCII text (accents, Cyrillic, CJK, emoji), values not UTF-8. */
static void check_like_everywhere(struct store *s, const char *path)
{
	static const char *const orgs[] = {"org_demo", "org_acme", "org_demo_eu"};
	static const char *const fields[] = {"search", "name", "username"};
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	for (size_t o = 0; o < 3; o++)
		for (size_t fi = 0; fi < 3; fi++)
			for (size_t v = 0; v < sizeof edge_values / sizeof edge_values[0]; v++) {
				struct store_list_query q = {.org_id = orgs[o], .unsubscribed = -1};
				*(fi == 0 ? &q.search : fi == 1 ? &q.name : &q.username) = edge_values[v];
				char *got = list_ids(s, q), *want = like_ids(db, orgs[o], fields[fi], edge_values[v]);
				if (strcmp(got, want))
					fprintf(stderr, "%s %s=%s\n", orgs[o], fields[fi], edge_values[v]);
				CHECK_STR_EQ(got, want);
				free(got);
				free(want);
			}
	sqlite3_close(db);
}

static void add_edge_contacts(struct store *s)
{
	struct error err = {0};
	struct channel ch[] = {
		{.id = "ch_edge_1", .type = "custom", .user_id = "u_edge_1", .username = "back\\slash",
		 .email = "100%_\\@example.com"},
		{.id = "ch_edge_2", .type = "custom", .user_id = "🚀🚀🚀", .name = "王伟伟"},
	};
	struct contact c[] = {
		{.id = "ct_edge_1", .name = "100%_\\ done", .channels = &ch[0], .n_channels = 1},
		{.id = "ct_edge_2", .name = "ÉCOLE école Ecole", .channels = &ch[1], .n_channels = 1},
		{.id = "ct_edge_3", .name = "ab"},
		{.id = "ct_edge_4", .name = NULL},
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		c[i].created_at = c[i].updated_at = 7 + (int64_t)i;
		c[i].blocked_at = c[i].unsubscribed_at = MODEL_NO_TIME;
		CHECK(store_contact_create(s, "org_demo", &c[i], NULL, 0, &err) == 0);
	}
}

static void substring_filters_answer_as_like(void)
{
	char *path = temp_db();
	struct fixture *f;
	struct store *s = open_demo(path, &f);
	struct error err = {0};
	CHECK(store_set_fixture(s, f, false, &err) == 0);
	add_edge_contacts(s);
	check_like_everywhere(s, path);
	/* Case, stated: ASCII folds, other letters do not. */
	char *ids = list_ids(s, (struct store_list_query){.org_id = "org_demo", .unsubscribed = -1,
							   .name = "école"});
	CHECK_STR_EQ(ids, "1: ct_edge_2");
	free(ids);
	ids = list_ids(s, (struct store_list_query){.org_id = "org_demo", .unsubscribed = -1,
						    .name = "ÉCOLE"});
	CHECK_STR_EQ(ids, "1: ct_edge_2");
	free(ids);
	ids = list_ids(s, (struct store_list_query){.org_id = "org_demo", .unsubscribed = -1,
						    .name = "Écolf"});
	CHECK_STR_EQ(ids, "0:");
	free(ids);
	/* After writes of every kind, still. */
	struct contact c = {0};
	CHECK(store_contact_get(s, "org_demo", "ct_ada", &c, &err) == 0);
	free(c.name);
	c.name = xstrdup("Ada Byron 🚀 König");
	CHECK(store_contact_update(s, &c, &err) == 0);
	contact_cleanup(&c);
	struct channel ch = {.id = "ch_ada_new", .type = "custom", .user_id = "ÉCOLE_ada",
			     .username = "ada_%_byron"};
	CHECK(store_channel_add(s, "org_demo", "ct_ada", &ch, NULL, 0, 99, &err) == 0);
	CHECK(store_org_copy(s, "org_demo", "org_copy", "sk_copy", &err) == 0);
	CHECK(store_reset_org(s, "org_acme", &err) == 0);
	CHECK(store_integrity_check(s, &err) == 0);
	check_like_everywhere(s, path);
	store_close(s);
	fixture_free(f);
	unlink(path);
	free(path);
}

/* 1 if the index says the org's contact id holds trigram t, else 0. */
static int64_t trigram_n(const char *path, const char *org, const char *id, const char *t)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "SELECT t.bits >> (c.pk & 63) & 1 FROM contacts c"
				     " JOIN contact_trigrams t ON t.tri = ?1 AND t.bucket = c.pk >> 6"
				     " WHERE c.org_id = ?2 AND c.id = ?3",
				 -1, &st, NULL) == SQLITE_OK);
	const unsigned char *b = (const unsigned char *)t;
	CHECK(strlen(t) == 3);
	sqlite3_bind_int64(st, 1, (int64_t)b[0] << 16 | b[1] << 8 | b[2]);
	sqlite3_bind_text(st, 2, org, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
	int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* The index's rows follow each write: a contact's bit is set for each
 * trigram (ASCII lowercased) of its name and channels, and cleared when the
 * last of its texts that held it loses it. */
static void trigram_index_follows_writes(void)
{
	char *path = temp_db();
	struct fixture *f;
	struct store *s = open_demo(path, &f);
	struct error err = {0};
	CHECK(store_set_fixture(s, f, false, &err) == 0);
	/* "Ada Lovelace": the name and both channels' names. */
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_ada", "lov"), 1);
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_ada", "ada"), 1);
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_ada", "ADA"), 0); /* stored folded */
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_ada", "@an"), 1);	/* ada@analytical.example */
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_ada", "aug"), 0);
	struct contact c = {0};
	CHECK(store_contact_get(s, "org_demo", "ct_ada", &c, &err) == 0);
	free(c.name);
	c.name = xstrdup("AUGUSTA King");
	CHECK(store_contact_update(s, &c, &err) == 0);
	contact_cleanup(&c);
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_ada", "lov"), 1); /* still in the channels' names */
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_ada", "aug"), 1);
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_ada", "kin"), 1);
	struct channel ch = {.id = "ch_ada_king", .type = "custom", .user_id = "king", .name = "King",
			     .username = "kingking"};
	CHECK(store_channel_add(s, "org_demo", "ct_ada", &ch, NULL, 0, 99, &err) == 0);
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_ada", "kin"), 1);
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_ada", "gki"), 1);
	struct contact nc = {.id = "ct_new", .name = "Zoë 王伟", .created_at = 1, .updated_at = 1,
			     .blocked_at = MODEL_NO_TIME, .unsubscribed_at = MODEL_NO_TIME};
	CHECK(store_contact_create(s, "org_demo", &nc, NULL, 0, &err) == 0);
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_new", "zo\xc3"), 1);
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_new", "\xe7\x8e\x8b"), 1); /* 王 */
	CHECK(store_integrity_check(s, &err) == 0);
	/* Renamed to nothing: what only the name held is gone, what a channel
	 * holds too is kept. */
	CHECK(store_contact_get(s, "org_demo", "ct_ada", &c, &err) == 0);
	free(c.name);
	c.name = NULL;
	CHECK(store_contact_update(s, &c, &err) == 0);
	contact_cleanup(&c);
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_ada", "aug"), 0);
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_ada", "kin"), 1);
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_ada", "lov"), 1); /* still in the channels' names */
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_ada", "gus"), 0);
	CHECK(store_org_copy(s, "org_demo", "org_copy", "sk_copy", &err) == 0);
	CHECK_INT_EQ(trigram_n(path, "org_copy", "ct_ada", "lov"), 1); /* from the fixture */
	CHECK_INT_EQ(trigram_n(path, "org_copy", "ct_ada", "kin"), 0);
	CHECK(store_integrity_check(s, &err) == 0);
	CHECK(store_org_delete(s, "org_copy", &err) == 0);
	CHECK(store_reset_org(s, "org_demo", &err) == 0);
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_ada", "kin"), 0);
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_ada", "lov"), 1);
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_new", "zo\xc3"), 0);
	CHECK(store_integrity_check(s, &err) == 0);
	store_close(s);
	fixture_free(f);
	unlink(path);
	free(path);
}

/* Checkpoint rounds (store_thread.c, on_wal_commit): under writes that never pause,
 * the WAL still starts again from its beginning every round. Each job is its
 * own transaction of one page (a PATCH of one contact), and the next is only
 * submitted when the last is answered, so the store thread commits
 * back to back. The WAL header's checkpoint sequence number (bytes 12 to 15,
 * big-endian) goes up by one at each restart. Before the rounds, a checkpoint
 * beside such a writer never caught up and the WAL grew to the 8,000-page
 * emergency checkpoint: no restart in 7,500 commits. */
enum { WAL_COMMITS = 7500 };

struct wal_writer {
	struct store *s;
	struct store_job job;
	struct contact c;
	const char *wal_path;
	int commits;
	uint32_t first_seq, last_seq;
	pthread_mutex_t lock;
	pthread_cond_t finished;
	bool done;
};

static uint32_t wal_sequence(const char *path)
{
	unsigned char h[16];
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h);
	close(fd);
	return (uint32_t)h[12] << 24 | (uint32_t)h[13] << 16 | (uint32_t)h[14] << 8 | h[15];
}

static int wal_write_run(struct store *s, void *arg, struct error *err)
{
	struct wal_writer *w = arg;
	w->c.blocked = !w->c.blocked;
	w->c.blocked_at = w->c.blocked ? w->c.updated_at + 1 : MODEL_NO_TIME;
	w->c.updated_at++;
	return store_contact_update(s, &w->c, err);
}

static void wal_write_done(void *arg, int rc, const struct error *err)
{
	struct wal_writer *w = arg;
	if (rc) {
		fprintf(stderr, "commit %d failed: %s\n", w->commits, err->msg);
		exit(1);
	}
	uint32_t seq = wal_sequence(w->wal_path);
	if (w->commits++ == 0)
		w->first_seq = seq;
	w->last_seq = seq;
	if (w->commits < WAL_COMMITS) {
		store_submit(w->s, &w->job);
		return;
	}
	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->finished);
	pthread_mutex_unlock(&w->lock);
}

static void wal_restarts_under_continuous_writes(void)
{
	char *path = temp_db();
	char wal[160];
	snprintf(wal, sizeof wal, "%s-wal", path);
	struct fixture *f;
	struct store *s = open_demo(path, &f);
	struct wal_writer w = {.s = s, .wal_path = wal};
	struct error err = {0};
	CHECK(store_contact_get_own(s, "org_demo", "ct_ada", &w.c, &err) == 0);
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.finished, NULL);
	w.job = (struct store_job){.run = wal_write_run, .done = wal_write_done, .arg = &w};
	CHECK(store_start(s, &err) == 0);
	store_submit(s, &w.job);
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.finished, &w.lock);
	pthread_mutex_unlock(&w.lock);
	fprintf(stderr, "WAL restarts in %d commits: %u\n", WAL_COMMITS, w.last_seq - w.first_seq);
	/* A round every 1,000 pages or a little more: 7 restarts when nothing
	 * else competes for the machine. 2 leaves room for a slow, loaded one. */
	CHECK(w.last_seq - w.first_seq >= 2);
	store_close(s);
	contact_cleanup(&w.c);
	pthread_cond_destroy(&w.finished);
	pthread_mutex_destroy(&w.lock);
	fixture_free(f);
	unlink(path);
	free(path);
}

/* Jobs queued while a batch runs join its transaction, at most
 * STORE_JOIN_ROUNDS (3) times, within max_batch, and while the batch is within
 * its window (join_window_us): each job here queues the
 * next one from its run(), as a request arriving meanwhile would, and the log
 * shows which ran before which COMMIT (a job's done() comes after its batch's
 * COMMIT). */
enum { JOIN_JOBS = 6 };

struct join_test;
struct join_arg {
	struct join_test *t;
	int i;
};

struct join_test {
	struct store *s;
	struct store_job jobs[JOIN_JOBS];
	struct join_arg args[JOIN_JOBS];
	char log[128]; /* written on the store thread only */
	unsigned run_us; /* how long each run() takes */
	int finished;
	pthread_mutex_t lock;
	pthread_cond_t all_done;
};

static int join_run(struct store *s, void *arg, struct error *err)
{
	(void)s;
	(void)err;
	struct join_arg *a = arg;
	size_t n = strlen(a->t->log);
	snprintf(a->t->log + n, sizeof a->t->log - n, "r%d ", a->i);
	if (a->i + 1 < JOIN_JOBS)
		store_submit(a->t->s, &a->t->jobs[a->i + 1]);
	if (a->t->run_us)
		usleep(a->t->run_us);
	return 0;
}

static void join_done(void *arg, int rc, const struct error *err)
{
	(void)err;
	struct join_arg *a = arg;
	CHECK_INT_EQ(rc, 0);
	size_t n = strlen(a->t->log);
	snprintf(a->t->log + n, sizeof a->t->log - n, "d%d ", a->i);
	pthread_mutex_lock(&a->t->lock);
	if (++a->t->finished == JOIN_JOBS)
		pthread_cond_signal(&a->t->all_done);
	pthread_mutex_unlock(&a->t->lock);
}

/* Starts t's store with job 0 queued (each job queues the next), waits until
 * every job is done, and closes the store. */
static void join_test_run(struct join_test *t)
{
	struct error err = {0};
	CHECK(store_start(t->s, &err) == 0);
	store_submit(t->s, &t->jobs[0]);
	pthread_mutex_lock(&t->lock);
	while (t->finished < JOIN_JOBS)
		pthread_cond_wait(&t->all_done, &t->lock);
	pthread_mutex_unlock(&t->lock);
	store_close(t->s);
}

static void run_join_test(unsigned max_batch, unsigned window_us, unsigned run_us,
			  const char *want)
{
	struct join_test t = {.run_us = run_us};
	bool empty;
	struct error err = {0};
	struct store_options o = {.path = ":memory:", .max_batch = max_batch,
				  .join_window_us = window_us};
	CHECK(store_open(&o, &t.s, &empty, &err) == 0);
	pthread_mutex_init(&t.lock, NULL);
	pthread_cond_init(&t.all_done, NULL);
	for (int i = 0; i < JOIN_JOBS; i++) {
		t.args[i] = (struct join_arg){.t = &t, .i = i};
		t.jobs[i] = (struct store_job){.run = join_run, .done = join_done, .arg = &t.args[i]};
	}
	join_test_run(&t);
	CHECK_STR_EQ(t.log, want);
	pthread_cond_destroy(&t.all_done);
	pthread_mutex_destroy(&t.lock);
}

/* A window of 60 s: a slow or loaded machine cannot close it. */
static void queued_jobs_join_the_batch(void)
{
	run_join_test(0, 60000000, 0, "r0 r1 r2 r3 d0 d1 d2 d3 r4 r5 d4 d5 ");
}

static void joining_keeps_max_batch(void)
{
	run_join_test(1, 60000000, 0, "r0 d0 r1 d1 r2 d2 r3 d3 r4 d4 r5 d5 ");
	run_join_test(2, 60000000, 0, "r0 r1 d0 d1 r2 r3 d2 d3 r4 r5 d4 d5 ");
}

/* Jobs of 3 ms against a window of 1 ms: the batch is past it when the next
 * job arrives, so each commits alone. */
static void slow_batches_take_no_one_in(void)
{
	run_join_test(0, 1000, 3000, "r0 d0 r1 d1 r2 d2 r3 d3 r4 d4 r5 d5 ");
}

/* committed() hooks: job 1 fails, the others succeed. */
static int fail_run(struct store *s, void *arg, struct error *err)
{
	join_run(s, arg, err);
	return error_set(err, 400, "refused");
}

static void log_committed(void *arg)
{
	struct join_arg *a = arg;
	size_t n = strlen(a->t->log);
	snprintf(a->t->log + n, sizeof a->t->log - n, "c%d ", a->i);
}

static void log_done(void *arg, int rc, const struct error *err)
{
	(void)err;
	struct join_arg *a = arg;
	size_t n = strlen(a->t->log);
	snprintf(a->t->log + n, sizeof a->t->log - n, "%c%d ", rc ? 'f' : 'd', a->i);
	pthread_mutex_lock(&a->t->lock);
	if (++a->t->finished == JOIN_JOBS)
		pthread_cond_signal(&a->t->all_done);
	pthread_mutex_unlock(&a->t->lock);
}

/* A batch calls the committed() of each job that succeeded, in the order they
 * ran, after its COMMIT and before any done(); a failed job gets none. */
static void committed_runs_before_any_done(void)
{
	struct join_test t = {0};
	bool empty;
	struct error err = {0};
	struct store_options o = {.path = ":memory:", .join_window_us = 60000000};
	CHECK(store_open(&o, &t.s, &empty, &err) == 0);
	pthread_mutex_init(&t.lock, NULL);
	pthread_cond_init(&t.all_done, NULL);
	for (int i = 0; i < JOIN_JOBS; i++) {
		t.args[i] = (struct join_arg){.t = &t, .i = i};
		t.jobs[i] = (struct store_job){.run = i == 1 ? fail_run : join_run,
					       .committed = log_committed,
					       .done = log_done,
					       .arg = &t.args[i]};
	}
	join_test_run(&t);
	CHECK_STR_EQ(t.log, "r0 r1 r2 r3 c0 c2 c3 d0 f1 d2 d3 r4 r5 c4 c5 d4 d5 ");
	pthread_cond_destroy(&t.all_done);
	pthread_mutex_destroy(&t.lock);
}

/* Without migration 005: the trigram index. */
#define DROP_TRIGRAMS                                                                          \
	"DROP TRIGGER contacts_trigrams_insert; DROP TRIGGER contacts_trigrams_update;"       \
	" DROP TRIGGER contacts_trigrams_delete; DROP TRIGGER channels_trigrams_insert;"      \
	" DROP TRIGGER channels_trigrams_update; DROP TRIGGER channels_trigrams_delete;"      \
	" DROP VIEW contact_trigrams_made; DROP TABLE contact_trigrams;" /* as 006 made them */
#define DOWN_TO_VERSION_4 DROP_TRIGRAMS " PRAGMA user_version = 4;"

/* Takes a file back to schema version 3: without migrations 005 and 004. */
#define DOWN_TO_VERSION_3                                                                      \
	DROP_TRIGRAMS " DROP TRIGGER contacts_counts_insert; DROP TRIGGER contacts_counts_delete;"           \
	" DROP TRIGGER contacts_counts_update; DROP TRIGGER contact_segments_counts_insert;"  \
	" DROP TRIGGER contact_segments_counts_delete; DROP TRIGGER segments_counts_delete;"  \
	" DROP TRIGGER orgs_counts_delete; DROP TABLE contact_counts;"                        \
	" DROP TABLE segment_counts;"                                                          \
	" DROP INDEX contacts_ai_replies_disabled; ALTER TABLE contacts DROP COLUMN flags;"    \
	" PRAGMA user_version = 3;"

/* The pages and counts of q, as text, for comparing two stores. */
static char *answers(struct store *s, struct store_list_query q)
{
	q.take = 7;
	return list_ids(s, q);
}

static const struct store_list_query upgrade_queries[] = {
	{.org_id = "org_demo", .unsubscribed = -1},
	{.org_id = "org_demo", .unsubscribed = -1, .status = STORE_STATUS_BLOCKED},
	{.org_id = "org_demo", .unsubscribed = 0, .exclude_admins = true},
	{.org_id = "org_demo", .unsubscribed = -1, .segment_id = "seg_vip"},
	{.org_id = "org_demo", .unsubscribed = -1, .segment_id = "seg_newsletter",
	 .status = STORE_STATUS_SUBSCRIBED},
	{.org_id = "org_demo", .unsubscribed = -1, .name = "grace"},
	{.org_id = "org_demo", .unsubscribed = -1, .search = "example"},
	{.org_id = "org_demo", .unsubscribed = -1, .username = "noether"},
	{.org_id = "org_acme", .unsubscribed = -1, .search = "a"},
};

/* A file at schema version 3, as the release before the kept counts wrote it,
 * answers every list as it did once upgraded. */
static void migrates_version_3(void)
{
	char *path = temp_db();
	struct fixture *f;
	struct store *s = open_demo(path, &f);
	struct error err = {0};
	set_flags(s, "org_demo", "ct_ada", true, true);
	size_t nq = sizeof upgrade_queries / sizeof upgrade_queries[0];
	char *before[sizeof upgrade_queries / sizeof upgrade_queries[0]];
	for (size_t i = 0; i < nq; i++)
		before[i] = answers(s, upgrade_queries[i]);
	store_close(s);
	exec_on(path, DOWN_TO_VERSION_3);
	CHECK_INT_EQ(user_version(path), 3);
	bool empty = true;
	struct store_options o = {.path = path};
	CHECK(store_open(&o, &s, &empty, &err) == 0);
	CHECK(!empty);
	CHECK_INT_EQ(user_version(path), STORE_SCHEMA_VERSION);
	for (size_t i = 0; i < nq; i++) {
		char *after = answers(s, upgrade_queries[i]);
		CHECK_STR_EQ(after, before[i]);
		free(after);
		free(before[i]);
	}
	check_kept_counts(s);
	CHECK(store_integrity_check(s, &err) == 0);
	store_close(s);
	fixture_free(f);
	unlink(path);
	free(path);
}

/* A file at schema version 4, before the trigram index, gets its index filled
 * from the rows it holds. */
static void migrates_version_4(void)
{
	char *path = temp_db();
	struct fixture *f;
	struct store *s = open_demo(path, &f);
	store_close(s);
	exec_on(path, DOWN_TO_VERSION_4);
	CHECK_INT_EQ(user_version(path), 4);
	bool empty = true;
	struct error err = {0};
	struct store_options o = {.path = path};
	CHECK(store_open(&o, &s, &empty, &err) == 0);
	CHECK(!empty);
	CHECK_INT_EQ(user_version(path), STORE_SCHEMA_VERSION);
	CHECK_INT_EQ(trigram_n(path, "org_demo", "ct_ada", "lov"), 1);
	CHECK(store_integrity_check(s, &err) == 0);
	char *ids = list_ids(s, (struct store_list_query){.org_id = "org_demo", .unsubscribed = -1,
							   .search = "LOVELACE"});
	CHECK_STR_EQ(ids, "1: ct_ada");
	free(ids);
	store_close(s);
	fixture_free(f);
	unlink(path);
	free(path);
}

/* A file at schema version 1, as the first release wrote it, is brought to the
 * current version with its data kept. */
static void migrates_version_1(void)
{
	char *path = temp_db();
	struct fixture *f;
	struct store *s = open_demo(path, &f);
	store_close(s);
	/* Take it back to version 1: without migration 002's indexes. */
	exec_on(path, DOWN_TO_VERSION_3 "DROP INDEX channels_by_email; DROP INDEX channels_by_user_id;"
		      " DROP INDEX contacts_blocked; DROP INDEX contacts_unsubscribed;"
		      " DROP TABLE fixture; PRAGMA user_version = 1;");
	CHECK_INT_EQ(user_version(path), 1);
	bool empty = true;
	struct error err = {0};
	struct store_options o = {.path = path};
	CHECK(store_open(&o, &s, &empty, &err) == 0);
	CHECK(!empty);
	int64_t orgs, contacts;
	CHECK(store_counts(s, &orgs, &contacts, &err) == 0);
	CHECK_INT_EQ(orgs, 3);
	CHECK_INT_EQ(contacts, 66);
	store_close(s);
	CHECK_INT_EQ(user_version(path), STORE_SCHEMA_VERSION);
	fixture_free(f);
	unlink(path);
	free(path);
}

static void refuses_newer_schema(void)
{
	char *path = temp_db();
	exec_on(path, "PRAGMA user_version = 99;");
	struct store *s = NULL;
	bool empty;
	struct error err = {0};
	struct store_options o = {.path = path};
	CHECK(store_open(&o, &s, &empty, &err) == -1);
	char want[256];
	snprintf(want, sizeof want,
		 "cannot use database %s: database schema version 99 is newer than this "
		 "invent-mock understands (%d)",
		 path, STORE_SCHEMA_VERSION);
	CHECK_STR_EQ(err.msg, want);
	unlink(path);
	free(path);
}

static void refuses_foreign_database(void)
{
	char *path = temp_db();
	exec_on(path, "CREATE TABLE notes (x);");
	struct store *s = NULL;
	bool empty;
	struct error err = {0};
	struct store_options o = {.path = path};
	CHECK(store_open(&o, &s, &empty, &err) == -1);
	char want[256];
	snprintf(want, sizeof want,
		 "cannot use database %s: the database is not an invent-mock database "
		 "(it has tables but no schema version)",
		 path);
	CHECK_STR_EQ(err.msg, want);
	unlink(path);
	free(path);
}

/* A contact of org_demo that the demo data does not put in seg_vip. */
#define NOT_VIP "ct_alan"

/* contacts_count follows every membership change, including the rows that
 * ON DELETE CASCADE removes when a reset deletes the orgs. */
static void counts_follow_reload(void)
{
	struct fixture *f;
	struct store *s = open_demo(":memory:", &f);
	struct error err = {0};
	struct contact c = {0};
	CHECK(store_contact_get(s, "org_demo", "ct_ada", &c, &err) == 0);
	CHECK(c.n_segments > 0);
	CHECK_STR_EQ(c.segments[0].id, "seg_vip");
	int64_t before = c.segments[0].contacts_count;
	contact_cleanup(&c);
	CHECK(store_contact_add_segment(s, "org_demo", NOT_VIP, "seg_vip", 1, &err) == 0);
	CHECK(store_contact_get(s, "org_demo", "ct_ada", &c, &err) == 0);
	CHECK_INT_EQ(c.segments[0].contacts_count, before + 1);
	contact_cleanup(&c);
	CHECK(store_load_fixture(s, f, NULL, &err) == 0);
	CHECK(store_contact_get(s, "org_demo", "ct_ada", &c, &err) == 0);
	CHECK_INT_EQ(c.segments[0].contacts_count, before);
	contact_cleanup(&c);
	CHECK(store_contact_add_segment(s, "org_demo", NOT_VIP, "seg_vip", 1, &err) == 0);
	CHECK(store_load_fixture(s, f, "org_demo", &err) == 0);
	CHECK(store_contact_get(s, "org_demo", "ct_ada", &c, &err) == 0);
	CHECK_INT_EQ(c.segments[0].contacts_count, before);
	contact_cleanup(&c);
	CHECK(store_integrity_check(s, &err) == 0);
	store_close(s);
	fixture_free(f);
}

/* The API's answer to each store error (errors.c: error_from_store): the
 * status and exact message the HTTP tests see, with the detail quoted where
 * the wording names it. */
static void error_answers(void)
{
	static const struct {
		int code;
		const char *detail;
		int status;
		const char *msg;
	} cases[] = {
		{STORE_ERR_CONTACT_NOT_FOUND, NULL, 404, "Contact not found"},
		{STORE_ERR_SEGMENT_NOT_FOUND, NULL, 404, "Segment not found"},
		{STORE_ERR_ORG_NOT_FOUND, NULL, 404, "Org not found"},
		{STORE_ERR_UNKNOWN_SEGMENT, "seg_x", 400, "segment seg_x does not exist in this org"},
		{STORE_ERR_NOT_FIXTURE_ORG, "org_x", 400, "Org org_x is not a fixture org"},
		{STORE_ERR_FIXTURE_ORG, "org_demo", 400,
		 "Org org_demo is a fixture org and cannot be deleted"},
		{STORE_ERR_READ_ONLY, NULL, 503, "The database is unavailable (read-only)"},
		{STORE_ERR_FULL, "database or disk is full", 507,
		 "Insufficient storage: the database disk is full (database or disk is full)"},
		{STORE_ERR_UNAVAILABLE, "disk I/O error", 503,
		 "The database is unavailable (disk I/O error)"},
		{STORE_ERR_INTERNAL, "FOREIGN KEY constraint failed", 500,
		 "Database error (FOREIGN KEY constraint failed)"},
		{STORE_ERR_FULL | STORE_ERR_IN_EXPORT, "database or disk is full", 507,
		 "Cannot copy the state to export (database or disk is full)"},
		{STORE_ERR_UNAVAILABLE | STORE_ERR_IN_EXPORT, "out of memory", 503,
		 "Cannot copy the state to export (out of memory)"},
		{STORE_ERR_INTERNAL | STORE_ERR_IN_EXPORT, "SQL logic error", 500,
		 "Cannot copy the state to export (SQL logic error)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct error err = {0};
		CHECK(error_set_code(&err, cases[i].code, cases[i].detail) == -1);
		CHECK_INT_EQ(err.status, 0);
		error_from_store(&err);
		CHECK_INT_EQ(err.status, cases[i].status);
		CHECK_INT_EQ(err.code, 0);
		CHECK_STR_EQ(err.msg, cases[i].msg);
	}
	/* An id longer than the wording quotes is cut, as the answers always cut it. */
	char id[400];
	memset(id, 'x', sizeof id - 1);
	id[sizeof id - 1] = '\0';
	struct error err = {0};
	error_set_code(&err, STORE_ERR_NOT_FIXTURE_ORG, id);
	error_from_store(&err);
	CHECK_INT_EQ((long long)strlen(err.msg), (long long)strlen("Org  is not a fixture org") + 256);
	/* Not a store error: left as it is. */
	error_set(&err, 401, "Invalid API key");
	error_from_store(&err);
	CHECK_INT_EQ(err.status, 401);
	CHECK_STR_EQ(err.msg, "Invalid API key");
}

/* The store says what went wrong in its own terms (a code, the id it names),
 * never as an HTTP status. */
static void reports_store_errors(void)
{
	struct fixture *f;
	struct store *s = open_demo(":memory:", &f);
	CHECK(store_set_fixture(s, f, false, &(struct error){0}) == 0);
	struct error err = {0};
	struct contact c = {0};
	CHECK(store_contact_get(s, "org_demo", "ct_nobody", &c, &err) == -1);
	CHECK_INT_EQ(err.code, STORE_ERR_CONTACT_NOT_FOUND);
	CHECK_INT_EQ(err.status, 0);
	/* A contact of another org is not found either. */
	err = (struct error){0};
	CHECK(store_contact_get(s, "org_acme", "ct_ada", &c, &err) == -1);
	CHECK_INT_EQ(err.code, STORE_ERR_CONTACT_NOT_FOUND);
	err = (struct error){0};
	CHECK(store_contact_add_segment(s, "org_demo", "ct_ada", "seg_nope", 1, &err) == -1);
	CHECK_INT_EQ(err.code, STORE_ERR_SEGMENT_NOT_FOUND);
	CHECK_INT_EQ(err.status, 0);
	err = (struct error){0};
	char *ids[] = {"seg_vip", "seg_nope"};
	struct contact nc = {.id = "ct_new", .name = "New"};
	CHECK(store_contact_create(s, "org_demo", &nc, ids, 2, &err) == -1);
	CHECK_INT_EQ(err.code, STORE_ERR_UNKNOWN_SEGMENT);
	CHECK_STR_EQ(err.msg, "seg_nope");
	CHECK_INT_EQ(err.status, 0);
	err = (struct error){0};
	CHECK(store_org_delete(s, "org_nope", &err) == -1);
	CHECK_INT_EQ(err.code, STORE_ERR_ORG_NOT_FOUND);
	err = (struct error){0};
	CHECK(store_org_delete(s, "org_demo", &err) == -1);
	CHECK_INT_EQ(err.code, STORE_ERR_FIXTURE_ORG);
	CHECK_STR_EQ(err.msg, "org_demo");
	err = (struct error){0};
	CHECK(store_reset_org(s, "org_nope", &err) == -1);
	CHECK_INT_EQ(err.code, STORE_ERR_NOT_FIXTURE_ORG);
	CHECK_STR_EQ(err.msg, "org_nope");
	CHECK_INT_EQ(err.status, 0);
	/* Nothing of the refused create was kept. */
	CHECK(store_contact_get(s, "org_demo", "ct_new", &c, &err) == -1);
	store_close(s);
	fixture_free(f);
}

static const struct test_case cases[] = {
	TEST_CASE("store@bulk-load-makes-the-same-database", bulk_load_makes_the_same_database),
	TEST_CASE("store@plan-list-in-index-order", plan_list_in_index_order),
	TEST_CASE("store@plan-email-filter-uses-index", plan_email_uses_index),
	TEST_CASE("store@plan-user_id-filter-uses-index", plan_user_id_uses_index),
	TEST_CASE("store@plan-segment-filter-uses-index", plan_segment_uses_index),
	TEST_CASE("store@plan-large-segment-walks-in-order", plan_large_segment_walks_in_order),
	TEST_CASE("store@plan-blocked-uses-partial-index", plan_blocked_uses_partial_index),
	TEST_CASE("store@plan-unsubscribed-uses-partial-index", plan_unsubscribed_uses_partial_index),
	TEST_CASE("store@plan-ai_replies_disabled-uses-partial-index",
		  plan_ai_replies_disabled_uses_partial_index),
	TEST_CASE("store@count-plan-reads-kept-counts", count_plan_reads_kept_counts),
	TEST_CASE("store@kept-counts-follow-every-write", kept_counts_follow_every_write),
	TEST_CASE("store@substring-filters-keep-their-semantics",
		  substring_filters_keep_their_semantics),
	TEST_CASE("store@plan-substring-filters-use-trigram-index",
		  plan_substring_filters_use_trigram_index),
	TEST_CASE("store@plan-short-substring-reads-the-org", plan_short_substring_reads_the_org),
	TEST_CASE("store@plan-small-org-beside-a-large-one-reads-the-org",
		  plan_small_org_beside_a_large_one_reads_the_org),
	TEST_CASE("store@substring-filters-answer-as-like", substring_filters_answer_as_like),
	TEST_CASE("store@trigram-index-follows-writes", trigram_index_follows_writes),
	TEST_CASE("store@migrates-version-4-file", migrates_version_4),
	TEST_CASE("store@migrates-version-3-file", migrates_version_3),
	TEST_CASE("store@migrates-version-1-file", migrates_version_1),
	TEST_CASE("store@refuses-newer-schema", refuses_newer_schema),
	TEST_CASE("store@refuses-foreign-database", refuses_foreign_database),
	TEST_CASE("store@contacts_count-survives-reload", counts_follow_reload),
	TEST_CASE("store@wal-restarts-under-continuous-writes", wal_restarts_under_continuous_writes),
	TEST_CASE("store@queued-jobs-join-the-batch", queued_jobs_join_the_batch),
	TEST_CASE("store@joining-keeps-max-batch", joining_keeps_max_batch),
	TEST_CASE("store@slow-batches-take-no-one-in", slow_batches_take_no_one_in),
	TEST_CASE("store@committed-runs-before-any-done", committed_runs_before_any_done),
	TEST_CASE("store@error-answers", error_answers),
	TEST_CASE("store@reports-store-errors-not-statuses", reports_store_errors),
};

TEST_MAIN(cases)
