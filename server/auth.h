/* Authorization: the Bearer header, API keys, and which orgs a key may act for
 * (its own, by id or as "c", and its sub-orgs). An in-memory index of keys and
 * orgs answers every request without a query; it is rebuilt whenever orgs or keys
 * change. Thread-safe. */
#pragma once
#include <stddef.h>

#include "errors.h"
#include "model.h"

struct store;
struct auth;

/* Size of a buffer that holds any org id and its NUL. */
enum { AUTH_ORG_MAX = MODEL_ID_MAX + 1 };

/* An empty index (every key unknown). Never NULL; free with auth_free(). */
struct auth *auth_new(void);
void auth_free(struct auth *a);

/* Rebuilds the index from the store's orgs and keys. Call where store queries are
 * allowed (in a job, or before store_start()). Returns 0 or -1 with err. */
int auth_reload(struct auth *a, struct store *s, struct error *err);

/* Checks a request to org path_org ("c" or an org id). header is the
 * Authorization header's value (NULL if absent) and n_headers how many
 * Authorization headers the request carried. On success returns 0 and writes the
 * real org id into org_out; otherwise -1 with err status 401 and a message saying
 * what is wrong. Unknown orgs and orgs the key may not reach are not told apart. */
int auth_check(struct auth *a, const char *header, unsigned n_headers, const char *path_org,
	       char org_out[AUTH_ORG_MAX], struct error *err);

/* The org of the key in an Authorization header, into org_out ("" if the header
 * holds no known key). */
void auth_key_org(struct auth *a, const char *header, char org_out[AUTH_ORG_MAX]);

/* Checks an admin API request: with no token configured every request passes;
 * otherwise the header must be "Bearer <token>" (an Invent key never is).
 * 0, or -1 with err 401. */
int auth_check_admin(const char *token, const char *header, unsigned n_headers,
		     struct error *err);
