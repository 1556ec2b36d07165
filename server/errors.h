/* Errors: the detail buffer every fallible function fills, the contract's reason
 * phrases, the one JSON error envelope, and the one place a store error (store.h's
 * enum store_error) becomes an HTTP status and the API's wording. */
#pragma once
#include <stddef.h>

enum { ERROR_MSG_MAX = 512 };

/* Detail of a failure. Functions take an optional `struct error *err` (may be
 * NULL) and fill it only when they fail. */
struct error {
	int status;		   /* HTTP status the failure answers with, 0 if none applies */
	int code;		   /* 0, or a store error (enum store_error): status is then 0 */
	char msg[ERROR_MSG_MAX];   /* one human-readable sentence; with code, only its detail
				    * (the id it names, or SQLite's message) */
};

/* Fills err (if not NULL) with status and a printf-formatted message; returns
 * -1 so callers can write `return error_set(err, 400, "...")`. */
int error_set(struct error *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Fills err (if not NULL) with a store error: code (enum store_error) and its
 * detail (NULL for none), status 0; returns -1. The store's way of failing. */
int error_set_code(struct error *err, int code, const char *detail);

/* If err holds a store error, replaces it with the answer the API gives for it:
 * status and message (README: the API's error table, the admin API); code
 * becomes 0. Otherwise leaves err as it is. Everything that answers or prints
 * a store error calls this first. */
void error_from_store(struct error *err);

/* The contract's reason phrase for an HTTP status ("Payload Too Large" for 413),
 * in the envelope and, through errors.c's MHD_get_reason_phrase_for, in the
 * status line too. Never NULL. */
const char *error_reason_phrase(int status);

/* Renders {"statusCode":N,"error":"<phrase>","message":"<message>"} into a fresh
 * heap string (free() it); *len gets its length. The only place the envelope is built. */
char *error_envelope(int status, const char *message, size_t *len);
