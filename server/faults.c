/* See faults.h. A short list under a mutex: rules are few, requests check it
 * with one pass. */
#include "faults.h"

#include "xalloc.h"

#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct rule {
	int64_t id;
	char *method, *path, *org_id; /* method and org_id NULL: any */
	int64_t times;		      /* 0: until removed */
	int64_t used;
	struct fault_hit hit;
	struct rule *next;
};

struct faults {
	pthread_mutex_t lock;
	struct rule *head;
	int64_t next_id;
};

struct faults *faults_new(void)
{
	struct faults *f = xcalloc(1, sizeof *f);
	pthread_mutex_init(&f->lock, NULL);
	f->next_id = 1;
	return f;
}

static void rule_free(struct rule *r)
{
	free(r->method);
	free(r->path);
	free(r->org_id);
	free(r->hit.body);
	free(r);
}

void faults_clear(struct faults *f)
{
	pthread_mutex_lock(&f->lock);
	for (struct rule *r = f->head, *next; r; r = next) {
		next = r->next;
		rule_free(r);
	}
	f->head = NULL;
	pthread_mutex_unlock(&f->lock);
}

void faults_free(struct faults *f)
{
	if (!f)
		return;
	faults_clear(f);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static int whole(const cJSON *v, int64_t min, int64_t max, int64_t *out)
{
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)min ||
	    v->valuedouble > (double)max)
		return -1;
	*out = (int64_t)v->valuedouble;
	return 0;
}

static cJSON *rule_json(const struct rule *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)r->id);
	cJSON_AddItemToObject(o, "method", r->method ? cJSON_CreateString(r->method) : cJSON_CreateNull());
	cJSON_AddStringToObject(o, "path", r->path);
	cJSON_AddItemToObject(o, "org_id", r->org_id ? cJSON_CreateString(r->org_id) : cJSON_CreateNull());
	cJSON_AddNumberToObject(o, "times", (double)r->times);
	if (r->times)
		cJSON_AddNumberToObject(o, "remaining", (double)(r->times - r->used));
	else
		cJSON_AddNullToObject(o, "remaining");
	cJSON_AddItemToObject(o, "status", r->hit.status ? cJSON_CreateNumber(r->hit.status) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "body", r->hit.body ? cJSON_CreateRaw(r->hit.body) : cJSON_CreateNull());
	cJSON_AddNumberToObject(o, "delay_ms", (double)r->hit.delay_ms);
	cJSON_AddBoolToObject(o, "drop", r->hit.drop);
	cJSON_AddBoolToObject(o, "after_commit", r->hit.after_commit);
	return o;
}

int faults_add(struct faults *f, const cJSON *body, char **rule_json_out, struct error *err)
{
	if (!cJSON_IsObject(body))
		return error_set(err, 400, "Body must be a JSON object");
	struct rule *r = xcalloc(1, sizeof *r);
	r->times = 1;
	int64_t n;
	for (const cJSON *v = body->child; v; v = v->next) {
		const char *k = v->string;
		if (!strcmp(k, "method") || !strcmp(k, "path") || !strcmp(k, "org_id")) {
			if (cJSON_IsNull(v) && strcmp(k, "path"))
				continue;
			if (!cJSON_IsString(v) || !*v->valuestring) {
				error_set(err, 400, "%s must be a non-empty string", k);
				goto fail;
			}
			char **slot = !strcmp(k, "method") ? &r->method : !strcmp(k, "path") ? &r->path : &r->org_id;
			*slot = xstrdup(v->valuestring);
		} else if (!strcmp(k, "times")) {
			if (whole(v, 0, INT64_MAX / 2, &r->times)) {
				error_set(err, 400, "times must be a whole number, 0 or more (0: until removed)");
				goto fail;
			}
		} else if (!strcmp(k, "status")) {
			if (whole(v, 400, 599, &n)) {
				error_set(err, 400, "status must be an integer from 400 to 599");
				goto fail;
			}
			r->hit.status = (int)n;
		} else if (!strcmp(k, "body")) {
			r->hit.body = cJSON_PrintUnformatted(v);
		} else if (!strcmp(k, "delay_ms")) {
			if (whole(v, 0, 600000, &r->hit.delay_ms)) {
				error_set(err, 400, "delay_ms must be a whole number from 0 to 600000");
				goto fail;
			}
		} else if (!strcmp(k, "drop") || !strcmp(k, "after_commit")) {
			if (!cJSON_IsBool(v)) {
				error_set(err, 400, "%s must be a boolean", k);
				goto fail;
			}
			*(!strcmp(k, "drop") ? &r->hit.drop : &r->hit.after_commit) = cJSON_IsTrue(v);
		} else {
			error_set(err, 400, "property %.200s should not exist", k);
			goto fail;
		}
	}
	if (!r->path) {
		error_set(err, 400, "path must be a non-empty string");
		goto fail;
	}
	if (!r->hit.status && (r->hit.body || r->hit.after_commit)) {
		error_set(err, 400, "status is required with body or after_commit");
		goto fail;
	}
	if (!r->hit.status && !r->hit.drop && !r->hit.delay_ms) {
		error_set(err, 400, "a fault needs status, delay_ms or drop");
		goto fail;
	}
	if (r->hit.drop && (r->hit.status || r->hit.after_commit)) {
		error_set(err, 400, "drop cannot be combined with status or after_commit");
		goto fail;
	}
	pthread_mutex_lock(&f->lock);
	r->id = f->next_id++;
	struct rule **tail = &f->head;
	while (*tail)
		tail = &(*tail)->next;
	*tail = r;
	cJSON *o = rule_json(r);
	pthread_mutex_unlock(&f->lock);
	*rule_json_out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return 0;
fail:
	rule_free(r);
	return -1;
}

bool faults_match(struct faults *f, const char *method, const char *path, const char *org_id,
		  struct fault_hit *hit)
{
	bool found = false;
	pthread_mutex_lock(&f->lock);
	for (struct rule *r = f->head; r && !found; r = r->next) {
		if (r->times && r->used >= r->times)
			continue;
		if ((r->method && strcmp(r->method, method)) || fnmatch(r->path, path, 0) ||
		    (r->org_id && (!org_id || strcmp(r->org_id, org_id))))
			continue;
		if (!r->hit.after_commit)
			r->used++;
		*hit = r->hit;
		hit->body = xstrdup_null(r->hit.body);
		hit->rule_id = r->id;
		found = true;
	}
	pthread_mutex_unlock(&f->lock);
	return found;
}

bool faults_use(struct faults *f, int64_t id)
{
	bool ok = false;
	pthread_mutex_lock(&f->lock);
	for (struct rule *r = f->head; r; r = r->next)
		if (r->id == id && (!r->times || r->used < r->times)) {
			r->used++;
			ok = true;
			break;
		}
	pthread_mutex_unlock(&f->lock);
	return ok;
}

char *faults_list(struct faults *f, size_t *len)
{
	cJSON *a = cJSON_CreateArray();
	pthread_mutex_lock(&f->lock);
	for (struct rule *r = f->head; r; r = r->next)
		cJSON_AddItemToArray(a, rule_json(r));
	pthread_mutex_unlock(&f->lock);
	char *s = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	*len = strlen(s);
	return s;
}

int faults_remove(struct faults *f, int64_t id, struct error *err)
{
	pthread_mutex_lock(&f->lock);
	for (struct rule **p = &f->head; *p; p = &(*p)->next) {
		if ((*p)->id != id)
			continue;
		struct rule *r = *p;
		*p = r->next;
		pthread_mutex_unlock(&f->lock);
		rule_free(r);
		return 0;
	}
	pthread_mutex_unlock(&f->lock);
	return error_set(err, 404, "Fault %lld not found", (long long)id);
}
