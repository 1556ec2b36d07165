/* The request journal: the last N requests to /orgs/..., for tests to assert
 * on ("the client sent exactly one PATCH"). Thread-safe.
 *
 * What filters look at (method, path, org, status, time) stays in memory, a
 * few dozen bytes an entry; the rest (headers and bodies, about a kilobyte an
 * entry, up to 128 KiB) goes to an unlinked temporary file, read back only when
 * the journal is queried. So the default 10,000 entries cost the process about
 * a megabyte, whatever the bodies hold. Where no file can be made or written
 * (no writable temporary folder, a full disk), the journal keeps that part in
 * memory instead and says so once on stderr. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bodies longer than this are kept cut, so one entry stays bounded. */
enum { JOURNAL_BODY_MAX = 64 * 1024 };

struct journal;

/* One request, as journal_add() copies it: every pointer is borrowed and may be
 * NULL (rendered as null). Strings are NUL-terminated unless a length is given. */
struct journal_entry {
	int64_t time_ms;
	const char *client, *method, *path, *query;
	/* "name\0value\0name\0value\0\0", as received: packed so that recording
	 * costs one copy; rendered as a JSON object on query. */
	const char *request_headers;
	size_t request_headers_len; /* the final NUL included */
	const char *request_body;
	size_t request_body_len;
	int status;
	const char *response_body;
	size_t response_body_len;
	double duration_ms;
	/* Set when the request changed the contact its answer holds: the fields
	 * that differed before, as JSON object text. contact_before and
	 * contact_after are made from it and the answer when the journal is read,
	 * which keeps rendering a second contact off every PATCH. */
	const char *contact_before_fields;
	const char *contact_after; /* the contact after, when the answer is not it; else NULL */
	const char *org_id;	   /* the org acted on, for filtering */
};

/* A journal of at most capacity entries (0 keeps none) whose bulk goes to a
 * temporary file in spill_dir (NULL: kept in memory). Never NULL. */
struct journal *journal_new(size_t capacity, const char *spill_dir);
void journal_free(struct journal *j);

/* Copies e in, dropping the oldest entry when full. Returns its id (ids go
 * up by one from 1, and are never given again, a clear included), or 0 when
 * the journal keeps nothing. */
int64_t journal_add(struct journal *j, const struct journal_entry *e);

struct journal_filter {
	const char *method;  /* exact but for case, NULL: any */
	const char *path;    /* exact, or a pattern with '*'; NULL: any */
	int status;	     /* 0: any */
	const char *org_id;  /* NULL: any */
	bool has_since;
	int64_t since_ms;    /* entries at or after */
	size_t limit;	     /* 0: no limit */
};

/* The matching entries, newest first, as a JSON array (count_only: {"count":N})
 * in a fresh heap string; *len its length. Builds the whole answer: for a
 * large journal, read it with a cursor instead. */
char *journal_query(struct journal *j, const struct journal_filter *f, bool count_only, size_t *len);

/* A read of the entries matching f, newest first, as the text of a JSON array
 * handed out a piece at a time, in bounded memory and holding the journal's
 * lock for one entry at a time (journal.c says what it sees of entries added
 * or dropped meanwhile). f is copied. Never NULL; free with
 * journal_cursor_free (NULL is fine), before the journal. */
struct journal_cursor *journal_cursor_new(struct journal *j, const struct journal_filter *f);

/* Writes the next bytes of the array, at most max (max >= 1), into buf;
 * returns how many, 0 once it is all out. A call renders at most one entry. */
size_t journal_cursor_read(struct journal_cursor *c, char *buf, size_t max);
void journal_cursor_free(struct journal_cursor *c);

/* The id the last journal_add() returned (0 before any): the journal holds
 * no entry above it, whether it still holds that one or not. */
int64_t journal_newest_id(struct journal *j);
/* Entry id as journal_query renders it (without request_body and
 * response_body unless bodies), in a fresh heap string, *len its length; NULL
 * when the journal no longer holds it. */
char *journal_entry(struct journal *j, int64_t id, bool bodies, size_t *len);
/* As journal_entry, for the oldest entry held whose id is min_id or more; *id
 * gets its id. NULL when there is none. */
char *journal_entry_from(struct journal *j, int64_t min_id, bool bodies, int64_t *id, size_t *len);

void journal_clear(struct journal *j);

/* Whether the entries' bulk is in a file (false: in memory), for tests. */
bool journal_spills(struct journal *j);
