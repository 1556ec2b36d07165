/* The request journal: the last N requests to /orgs/..., kept in memory for
 * tests to assert on ("the client sent exactly one PATCH"). Thread-safe. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bodies longer than this are kept cut, so memory stays bounded. */
enum { JOURNAL_BODY_MAX = 64 * 1024 };

struct journal;

/* One request. Strings are heap strings that journal_add() takes over; any may
 * be NULL (rendered as null). JSON fields hold JSON text. */
struct journal_entry {
	int64_t time_ms;
	char *client, *method, *path, *query;
	char *request_headers; /* "name\0value\0name\0value\0\0": packed, so recording
				* costs one copy; rendered as a JSON object on query */
	char *request_body;
	int status;
	char *response_body;
	double duration_ms;
	/* Set when the request changed the contact its answer holds: the fields
	 * that differed before, as JSON object text. contact_before and
	 * contact_after are made from it and the answer when the journal is read,
	 * which keeps rendering a second contact off every PATCH. */
	char *contact_before_fields;
	char *contact_after; /* the contact after, when the answer is not it; else NULL */
	char *org_id;			      /* the org acted on, for filtering */
};

/* A journal of at most capacity entries (0 keeps none). Never NULL. */
struct journal *journal_new(size_t capacity);
void journal_free(struct journal *j);

/* Adds e (its strings are taken over; e itself is not), dropping the oldest
 * entry when full. */
void journal_add(struct journal *j, struct journal_entry *e);

struct journal_filter {
	const char *method;  /* exact, NULL: any */
	const char *path;    /* exact, or a pattern with '*'; NULL: any */
	int status;	     /* 0: any */
	const char *org_id;  /* NULL: any */
	bool has_since;
	int64_t since_ms;    /* entries at or after */
	size_t limit;	     /* 0: no limit */
};

/* The matching entries, newest first, as a JSON array (count_only: {"count":N})
 * in a fresh heap string; *len its length. */
char *journal_query(struct journal *j, const struct journal_filter *f, bool count_only, size_t *len);

void journal_clear(struct journal *j);

/* Frees what an entry holds (for entries never added). */
void journal_entry_cleanup(struct journal_entry *e);
