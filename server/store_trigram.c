/* The trigram index of the substring filters (schema/migrations/005, 006): the
 * SQL functions its triggers and queries call, its filling after a bulk load,
 * and the choice of the trigrams a list query takes its candidates from. */
#include "store_int.h"

#include "json_strict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The index's rows hold buckets of 64 contacts: pk >> 6, bit pk & 63. */
enum { TRIGRAM_BUCKET_SHIFT = 6, TRIGRAM_BUCKET_MASK = 63 };

/* ASCII letters lowercased and nothing else: LIKE's rule without ICU, so a
 * substring LIKE matches is a substring of these bytes (both sides folded). */
static uint32_t fold(unsigned char b)
{
	return b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b;
}

static int compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Writes the len - 2 trigrams of text[0..len) to out; returns how many. */
static size_t trigrams_of(const unsigned char *text, size_t len, uint32_t *out)
{
	if (len < 3)
		return 0;
	uint32_t t = fold(text[0]) << 8 | fold(text[1]);
	for (size_t i = 2; i < len; i++) {
		t = (t << 8 | fold(text[i])) & 0xffffff;
		out[i - 2] = t;
	}
	return len - 2;
}

/* Sorts t[0..n) and drops repeats; returns how many are left. */
static size_t distinct(uint32_t *t, size_t n)
{
	qsort(t, n, sizeof *t, compare_u32);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!k || t[i] != t[k - 1])
			t[k++] = t[i];
	return k;
}

/* trigrams(text, ...): the distinct trigrams of its arguments (each on its
 * own: none spans two), read as text as LIKE reads any value, as a JSON array
 * of integers; NULLs give none.
 * Memory comes from SQLite, so that a failure is SQLITE_NOMEM for the
 * statement that fired the trigger, not an abort. */
static void trigrams_function(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	size_t cap = 0;
	for (int i = 0; i < argc; i++)
		if (sqlite3_value_type(argv[i]) != SQLITE_NULL)
			cap += (size_t)sqlite3_value_bytes(argv[i]);
	uint32_t local[256], *t = cap <= 256 ? local : sqlite3_malloc64(cap * sizeof *t);
	char *out = NULL;
	if (!t)
		goto nomem;
	size_t n = 0;
	for (int i = 0; i < argc; i++) {
		if (sqlite3_value_type(argv[i]) == SQLITE_NULL)
			continue;
		const unsigned char *text = sqlite3_value_text(argv[i]);
		if (!text)
			goto nomem;
		n += trigrams_of(text, (size_t)sqlite3_value_bytes(argv[i]), t + n);
	}
	n = distinct(t, n);
	/* "[" and "]", and each at most 8 digits and a comma. */
	size_t len = 0;
	if (!(out = sqlite3_malloc64(9 * n + 3)))
		goto nomem;
	out[len++] = '[';
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(out + len, i ? ",%u" : "%u", (unsigned)t[i]);
	out[len++] = ']';
	if (t != local)
		sqlite3_free(t);
	sqlite3_result_text64(ctx, out, len, sqlite3_free, SQLITE_UTF8);
	return;
nomem:
	if (t != local)
		sqlite3_free(t);
	sqlite3_result_error_nomem(ctx);
}

/* trigram_pks(bucket, bits): the pks of the contacts whose bits are set in a
 * bucket of the index, as a JSON array of integers. */
static void trigram_pks_function(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	int64_t bucket = sqlite3_value_int64(argv[0]);
	uint64_t bits = (uint64_t)sqlite3_value_int64(argv[1]);
	/* "[" and "]", and each pk at most 20 digits and a comma. */
	char *out = sqlite3_malloc64(64 * 21 + 3);
	if (!out) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	size_t len = 0;
	out[len++] = '[';
	for (int i = 0; bits; i++, bits >>= 1)
		if (bits & 1)
			len += (size_t)sprintf(out + len, len > 1 ? ",%lld" : "%lld",
					       (long long)(bucket << TRIGRAM_BUCKET_SHIFT | i));
	out[len++] = ']';
	sqlite3_result_text64(ctx, out, len, sqlite3_free, SQLITE_UTF8);
}

int store_trigram_register(sqlite3 *db)
{
	int rc = sqlite3_create_function_v2(db, "trigrams", -1,
					    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
					    trigrams_function, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function_v2(db, "trigram_pks", 2,
						SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
						NULL, trigram_pks_function, NULL, NULL, NULL);
	return rc;
}

/* --- Filling the index after a bulk load --- */

/* A bucket's bits by (trigram << 32 | bucket), open addressing; key and bits
 * side by side, so that a set touches one cache line. */
struct bucket_slot {
	uint64_t key; /* 0: free (no trigram is 0: no text holds NUL) */
	uint64_t bits;
};

struct bucket_map {
	struct bucket_slot *slots;
	size_t cap, n;
};

static void bucket_map_set(struct bucket_map *m, uint64_t key, uint64_t bit)
{
	if (2 * (m->n + 1) > m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 1 << 16;
		struct bucket_map big = {xcalloc(cap, sizeof *big.slots), cap, 0};
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].key)
				bucket_map_set(&big, m->slots[i].key, m->slots[i].bits);
		free(m->slots);
		*m = big;
	}
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15u) >> 20) & (m->cap - 1);
	while (m->slots[i].key && m->slots[i].key != key)
		i = (i + 1) & (m->cap - 1);
	if (!m->slots[i].key) {
		m->slots[i].key = key;
		m->n++;
	}
	m->slots[i].bits |= bit;
}

/* Sets the bits of contact pk for the trigrams of the text columns from..to-1 of st's row. */
static void map_row(struct bucket_map *m, sqlite3_stmt *st, int64_t pk, int from, int to,
		    uint32_t **t, size_t *cap)
{
	uint64_t bit = (uint64_t)1 << (pk & TRIGRAM_BUCKET_MASK);
	for (int c = from; c < to; c++) {
		const unsigned char *text = sqlite3_column_text(st, c);
		size_t len = (size_t)sqlite3_column_bytes(st, c);
		if (!text)
			continue;
		if (len > *cap)
			*t = xrealloc(*t, (*cap = len) * sizeof **t);
		size_t n = trigrams_of(text, len, *t);
		for (size_t i = 0; i < n; i++)
			bucket_map_set(m, (uint64_t)(*t)[i] << 32 | (uint64_t)(pk >> TRIGRAM_BUCKET_SHIFT), bit);
	}
}

static int compare_slots(const void *a, const void *b)
{
	uint64_t x = ((const struct bucket_slot *)a)->key, y = ((const struct bucket_slot *)b)->key;
	return (x > y) - (x < y);
}

int store_trigram_fill(sqlite3 *db, struct error *err)
{
	static const char *const reads[] = {
		"SELECT pk, name FROM contacts",
		"SELECT contact_pk, name, username, email, phone, user_id FROM channels",
	};
	struct bucket_map m = {0};
	uint32_t *t = NULL;
	size_t tcap = 0;
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_OK;
	for (size_t r = 0; rc == SQLITE_OK && r < 2; r++) {
		if ((rc = sqlite3_prepare_v2(db, reads[r], -1, &st, NULL)) != SQLITE_OK)
			break;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			int64_t pk = sqlite3_column_int64(st, 0);
			/* A pk the key cannot hold: the view, slower, fills the index. */
			if (pk < 0 || pk >> TRIGRAM_BUCKET_SHIFT > UINT32_MAX) {
				rc = SQLITE_RANGE;
				break;
			}
			map_row(&m, st, pk, 1, sqlite3_column_count(st), &t, &tcap);
		}
		if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
		sqlite3_finalize(st);
		st = NULL;
	}
	free(t);
	if (rc == SQLITE_RANGE) {
		free(m.slots);
		char *msg = NULL;
		rc = sqlite3_exec(db, "INSERT INTO contact_trigrams (tri, bucket, bits)"
				      " SELECT tri, bucket, bits FROM contact_trigrams_made", NULL, NULL, &msg);
		int ret = rc == SQLITE_OK ? 0 : error_set_code(err, STORE_ERR_INTERNAL, msg ? msg : "");
		sqlite3_free(msg);
		return ret;
	}
	/* The rows in key order, so that each insert appends to the table. */
	size_t n = 0;
	for (size_t i = 0; i < m.cap; i++)
		if (m.slots[i].key)
			m.slots[n++] = m.slots[i];
	if (n) /* slots is NULL when there were none */
		qsort(m.slots, n, sizeof *m.slots, compare_slots);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "INSERT INTO contact_trigrams (tri, bucket, bits)"
					    " VALUES (?1, ?2, ?3)", -1, &st, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
		sqlite3_bind_int64(st, 1, (int64_t)(m.slots[i].key >> 32));
		sqlite3_bind_int64(st, 2, (int64_t)(m.slots[i].key & UINT32_MAX));
		sqlite3_bind_int64(st, 3, (int64_t)m.slots[i].bits);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	free(m.slots);
	int ret = rc == SQLITE_OK ? 0
				  : error_set_code(err, store_error_of(rc), sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return ret;
}

const struct store_sql store_trigram_sql[] = {
	/* How common a trigram is (in buckets), counted no further than ?2: enough
	 * to tell a rare one from a common one without reading a common one's every row. */
	{ST_TRIGRAM_COUNT, "SELECT count(*) FROM (SELECT 1 FROM contact_trigrams"
			   " WHERE tri = ?1 LIMIT ?2)"},
	/* The org's contacts, from the counts migration 004 keeps. */
	{ST_TRIGRAM_ORG_SIZE, "SELECT coalesce(sum(n), 0) FROM contact_counts WHERE org_id = ?1"},
	{0, NULL},
};

/* Buckets of a trigram counted at most: past this, it is common, and which of
 * two common ones leads matters little. Even then the index beats reading the
 * org: a lookup per bucket of 64 contacts and trigram, against a row read per
 * contact. */
enum { TRIGRAM_COMMON = 2000 };
/* How many of a value's trigrams are counted to find its rarest. */
enum { TRIGRAM_PROBED = 8 };

int store_trigram_pick(struct store *s, const char *org_id, const char *value,
		       int64_t pick[STORE_TRIGRAM_PICK], bool *indexed, struct error *err)
{
	*indexed = false;
	size_t len = strlen(value);
	/* A value that is not UTF-8 may match texts it shares no bytes with: LIKE
	 * reads its bad bytes as U+FFFD. Fewer than 3 bytes have no trigram. */
	if (len < 3 || !json_utf8_valid(value, len, NULL))
		return 0;
	uint32_t *t = xmalloc((len - 2) * sizeof *t);
	size_t n = distinct(t, trigrams_of((const unsigned char *)value, len, t));
	struct probe {
		uint32_t tri;
		int64_t count;
	} probed[TRIGRAM_PROBED];
	size_t m = n < TRIGRAM_PROBED ? n : TRIGRAM_PROBED;
	int ret = 0;
	for (size_t i = 0; i < m; i++) {
		/* Spread over the value's trigrams when it has more than are probed. */
		size_t k = m == n ? i : i * (n - 1) / (m - 1);
		sqlite3_stmt *st = stmt(s, ST_TRIGRAM_COUNT);
		sqlite3_bind_int64(st, 1, t[k]);
		/* Counted no further than the rarest so far: only the rarest matters. */
		sqlite3_bind_int64(st, 2, i ? probed[0].count : TRIGRAM_COMMON);
		int rc = sqlite3_step(st);
		probed[i].tri = t[k];
		probed[i].count = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (rc != SQLITE_ROW) {
			ret = db_error(s, rc, err);
			goto out;
		}
		/* Rarest first: a few moves among at most TRIGRAM_PROBED. */
		for (size_t j = i; j > 0 && probed[j].count < probed[j - 1].count; j--) {
			struct probe x = probed[j];
			probed[j] = probed[j - 1];
			probed[j - 1] = x;
		}
	}
	/* The index holds every org's contacts: for a small org beside a large
	 * one, a bucket a contact of the org would cost more than its row. */
	sqlite3_stmt *st = stmt(s, ST_TRIGRAM_ORG_SIZE);
	bind_text(st, 1, org_id);
	int rc = sqlite3_step(st);
	int64_t org_size = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		ret = db_error(s, rc, err);
		goto out;
	}
	if (org_size < probed[0].count)
		goto out;
	/* The rarest gives the buckets; the others are looked up by key in each
	 * and their bits ANDed; a value with fewer trigrams repeats its rarest. */
	for (size_t i = 0; i < STORE_TRIGRAM_PICK; i++)
		pick[i] = probed[i < m ? i : 0].tri;
	*indexed = true;
out:
	free(t);
	return ret;
}
