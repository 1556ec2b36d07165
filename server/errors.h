/* Errors: the detail buffer every fallible function fills, the contract's reason
 * phrases, the one JSON error envelope, and the one SQLite-to-HTTP status mapping. */
#pragma once
#include <stddef.h>

enum { ERROR_MSG_MAX = 512 };

/* Detail of a failure. Functions take an optional `struct error *err` (may be
 * NULL) and fill it only when they fail. */
struct error {
	int status;		   /* HTTP status the failure answers with, 0 if none applies */
	char msg[ERROR_MSG_MAX];   /* one human-readable sentence */
};

/* Fills err (if not NULL) with status and a printf-formatted message; returns
 * -1 so callers can write `return error_set(err, 400, "...")`. */
int error_set(struct error *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The contract's reason phrase for an HTTP status ("Payload Too Large" for 413),
 * in the envelope and, through errors.c's MHD_get_reason_phrase_for, in the
 * status line too. Never NULL. */
const char *error_reason_phrase(int status);

/* Renders {"statusCode":N,"error":"<phrase>","message":"<message>"} into a fresh
 * heap string (free() it); *len gets its length. The only place the envelope is built. */
char *error_envelope(int status, const char *message, size_t *len);

/* Maps a failing SQLite result code to the HTTP status it answers with:
 * 507 for a full disk, 503 for a busy, locked or read-only database, 500 otherwise. */
int error_status_from_sqlite(int sqlite_rc);
