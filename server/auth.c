/* See auth.h. Two sorted arrays (keys, orgs) searched with bsearch; a new index
 * is built aside and swapped in under a write lock. */
#include "auth.h"

#include "store.h"
#include "xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct auth_org {
	char *id;
	char *parent_id; /* NULL for a top-level org */
};

struct auth_key {
	char *key;
	char *org_id;
};

struct auth_index {
	struct auth_org *orgs;
	size_t n_orgs, cap_orgs;
	struct auth_key *keys;
	size_t n_keys, cap_keys;
};

struct auth {
	pthread_rwlock_t lock;
	struct auth_index idx;
};

static void index_cleanup(struct auth_index *x)
{
	for (size_t i = 0; i < x->n_orgs; i++) {
		free(x->orgs[i].id);
		free(x->orgs[i].parent_id);
	}
	for (size_t i = 0; i < x->n_keys; i++) {
		free(x->keys[i].key);
		free(x->keys[i].org_id);
	}
	free(x->orgs);
	free(x->keys);
	memset(x, 0, sizeof *x);
}

struct auth *auth_new(void)
{
	struct auth *a = xcalloc(1, sizeof *a);
	pthread_rwlock_init(&a->lock, NULL);
	return a;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	index_cleanup(&a->idx);
	pthread_rwlock_destroy(&a->lock);
	free(a);
}

static void add_key(void *arg, const char *key, const char *org_id)
{
	struct auth_index *x = arg;
	if (x->n_keys == x->cap_keys) {
		x->cap_keys = x->cap_keys ? 2 * x->cap_keys : 16;
		x->keys = xrealloc(x->keys, x->cap_keys * sizeof *x->keys);
	}
	x->keys[x->n_keys++] = (struct auth_key){xstrdup(key), xstrdup(org_id)};
}

static void add_org(void *arg, const char *id, const char *parent_id)
{
	struct auth_index *x = arg;
	if (x->n_orgs == x->cap_orgs) {
		x->cap_orgs = x->cap_orgs ? 2 * x->cap_orgs : 16;
		x->orgs = xrealloc(x->orgs, x->cap_orgs * sizeof *x->orgs);
	}
	x->orgs[x->n_orgs++] = (struct auth_org){xstrdup(id), xstrdup_null(parent_id)};
}

/* Both structs start with their search key, so one comparator serves both. */
static int cmp_first_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int auth_index_build(struct store *s, struct auth_index **out, struct error *err)
{
	struct auth_index *x = xcalloc(1, sizeof *x);
	if (store_each_key(s, add_key, x, err) || store_each_org(s, add_org, x, err)) {
		auth_index_free(x);
		return -1;
	}
	qsort(x->keys, x->n_keys, sizeof *x->keys, cmp_first_str);
	qsort(x->orgs, x->n_orgs, sizeof *x->orgs, cmp_first_str);
	*out = x;
	return 0;
}

void auth_index_free(struct auth_index *x)
{
	if (!x)
		return;
	index_cleanup(x);
	free(x);
}

void auth_publish(struct auth *a, struct auth_index *x)
{
	pthread_rwlock_wrlock(&a->lock);
	struct auth_index old = a->idx;
	a->idx = *x;
	pthread_rwlock_unlock(&a->lock);
	index_cleanup(&old);
	free(x);
}

int auth_reload(struct auth *a, struct store *s, struct error *err)
{
	struct auth_index *x;
	if (auth_index_build(s, &x, err))
		return -1;
	auth_publish(a, x);
	return 0;
}

static const struct auth_org *find_org(const struct auth_index *x, const char *id)
{
	return bsearch(&id, x->orgs, x->n_orgs, sizeof *x->orgs, cmp_first_str);
}

/* Splits "Bearer <key>" into the key. The scheme is matched without regard to
 * case and may be followed by several spaces (RFC 9110 §11.4); a token68 key
 * must be the last thing on the line. */
static int parse_bearer(const char *h, const char **key, size_t *len)
{
	if (strncasecmp(h, "Bearer ", 7))
		return -1;
	h += 7;
	while (*h == ' ')
		h++;
	size_t n = strcspn(h, " \t");
	if (n == 0 || h[n] != '\0')
		return -1;
	*key = h;
	*len = n;
	return 0;
}

int auth_check(struct auth *a, const char *header, unsigned n_headers, const char *path_org,
	       char org_out[AUTH_ORG_MAX], struct error *err)
{
	if (!header || n_headers == 0)
		return error_set(err, 401, "Missing Authorization header");
	if (n_headers > 1)
		return error_set(err, 401, "Only one Authorization header is allowed");
	const char *k;
	size_t klen;
	if (parse_bearer(header, &k, &klen))
		return error_set(err, 401, "Authorization must be \"Bearer <api key>\"");
	if (klen > MODEL_ID_MAX)
		return error_set(err, 401, "Invalid API key");
	char key[MODEL_ID_MAX + 1];
	memcpy(key, k, klen);
	key[klen] = '\0';
	const char *kp = key;

	int rc = 0;
	pthread_rwlock_rdlock(&a->lock);
	const struct auth_index *x = &a->idx;
	const struct auth_key *found = bsearch(&kp, x->keys, x->n_keys, sizeof *x->keys, cmp_first_str);
	if (!found) {
		rc = error_set(err, 401, "Invalid API key");
		goto out;
	}
	if (!strcmp(path_org, "c")) {
		snprintf(org_out, AUTH_ORG_MAX, "%s", found->org_id);
		goto out;
	}
	/* The key reaches path_org if its org is path_org or one of its ancestors. */
	for (const struct auth_org *o = find_org(x, path_org); o;
	     o = o->parent_id ? find_org(x, o->parent_id) : NULL) {
		if (!strcmp(o->id, found->org_id)) {
			snprintf(org_out, AUTH_ORG_MAX, "%s", path_org);
			goto out;
		}
	}
	rc = error_set(err, 401, "This API key cannot access org %.256s", path_org);
out:
	pthread_rwlock_unlock(&a->lock);
	return rc;
}

void auth_key_org(struct auth *a, const char *header, char org_out[AUTH_ORG_MAX])
{
	org_out[0] = '\0';
	const char *k;
	size_t klen;
	if (!header || parse_bearer(header, &k, &klen) || klen > MODEL_ID_MAX)
		return;
	char key[MODEL_ID_MAX + 1];
	memcpy(key, k, klen);
	key[klen] = '\0';
	const char *kp = key;
	pthread_rwlock_rdlock(&a->lock);
	const struct auth_key *found =
		bsearch(&kp, a->idx.keys, a->idx.n_keys, sizeof *a->idx.keys, cmp_first_str);
	if (found)
		snprintf(org_out, AUTH_ORG_MAX, "%s", found->org_id);
	pthread_rwlock_unlock(&a->lock);
}

int auth_check_admin(const char *token, const char *header, unsigned n_headers,
		     struct error *err)
{
	if (!token)
		return 0;
	if (!header || n_headers == 0)
		return error_set(err, 401, "Missing Authorization header");
	if (n_headers > 1)
		return error_set(err, 401, "Only one Authorization header is allowed");
	const char *k;
	size_t klen;
	if (parse_bearer(header, &k, &klen))
		return error_set(err, 401, "Authorization must be \"Bearer <admin token>\"");
	if (klen != strlen(token) || memcmp(k, token, klen))
		return error_set(err, 401, "Invalid admin token");
	return 0;
}
