/* Authorization: the Bearer header, API keys, and which orgs a key may act for
 * (its own, by id or as "c", and its sub-orgs). An in-memory index of keys and
 * orgs answers every request without a query; a job that changes orgs or keys
 * builds a new one and publishes it once its change is committed. Thread-safe. */
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

/* An index not yet in use. */
struct auth_index;

/* Builds an index of the store's orgs and keys as s reads them now (inside a
 * job, its transaction's uncommitted changes included), without using it. Call
 * where store queries are allowed (in a job, or before store_start()). Returns
 * 0 and *out (auth_publish() or auth_index_free() it), or -1 with err. */
int auth_index_build(struct store *s, struct auth_index **out, struct error *err);
/* NULL is fine. */
void auth_index_free(struct auth_index *x);

/* Makes x the index that answers from now on, and frees the one before. Takes x
 * over. Call only once what x was built from is committed. */
void auth_publish(struct auth *a, struct auth_index *x);

/* auth_index_build() then auth_publish(), for start-up (before store_start()).
 * Returns 0 or -1 with err, leaving the index as it was. */
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
