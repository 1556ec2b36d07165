/* The trigram index of the substring filters (schema/migrations/005): the SQL
 * function trigrams() its triggers fill it with, and the choice of the few
 * trigrams a list query takes its candidates from. */
#include "store_int.h"

#include "json_strict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* trigrams(text, ...): the distinct trigrams of its text arguments (each on
 * its own: none spans two), as a JSON array of integers; NULLs give none.
 * Memory comes from SQLite, so that a failure is SQLITE_NOMEM for the
 * statement that fired the trigger, not an abort. */
static void trigrams_function(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	size_t cap = 0;
	for (int i = 0; i < argc; i++)
		if (sqlite3_value_type(argv[i]) == SQLITE_TEXT)
			cap += (size_t)sqlite3_value_bytes(argv[i]);
	uint32_t local[256], *t = cap <= 256 ? local : sqlite3_malloc64(cap * sizeof *t);
	char *out = NULL;
	if (!t)
		goto nomem;
	size_t n = 0;
	for (int i = 0; i < argc; i++) {
		if (sqlite3_value_type(argv[i]) != SQLITE_TEXT)
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

int store_trigram_register(sqlite3 *db)
{
	return sqlite3_create_function_v2(db, "trigrams", -1,
					  SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
					  trigrams_function, NULL, NULL, NULL);
}

const struct store_sql store_trigram_sql[] = {
	/* How common a trigram is, counted no further than ?2: enough to tell a
	 * rare one from a common one without reading a common one's every row. */
	{ST_TRIGRAM_COUNT, "SELECT count(*) FROM (SELECT 1 FROM contact_trigrams"
			   " WHERE tri = ?1 LIMIT ?2)"},
	{0, NULL},
};

/* A filter whose every trigram is held by at least this many contacts (of
 * all orgs) gains too little from the index: it reads the org as before. */
enum { TRIGRAM_COMMON = 4000 };
/* How many of a value's trigrams are counted to find its rarest. */
enum { TRIGRAM_PROBED = 8 };

int store_trigram_pick(struct store *s, const char *value, int64_t pick[STORE_TRIGRAM_PICK],
		       bool *indexed, struct error *err)
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
	if (probed[0].count >= TRIGRAM_COMMON)
		goto out;
	/* The rarest gives the candidates; another, looked up by key for each,
	 * narrows them (a lookup costs about what reading the candidate's row and
	 * checking it does, so more of them gain little); a value with one
	 * trigram repeats it. */
	for (size_t i = 0; i < STORE_TRIGRAM_PICK; i++)
		pick[i] = probed[i < m ? i : 0].tri;
	*indexed = true;
out:
	free(t);
	return ret;
}
