/* See journal.h. A ring buffer under one mutex; entries are rendered only when
 * asked for, so recording a request costs a few copies. */
#include "journal.h"

#include "clock.h"
#include "xalloc.h"

#include <cjson/cJSON.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct stored {
	int64_t id;
	struct journal_entry e;
};

struct journal {
	pthread_mutex_t lock;
	struct stored *ring;
	size_t capacity, start, count;
	int64_t next_id;
};

struct journal *journal_new(size_t capacity)
{
	struct journal *j = xcalloc(1, sizeof *j);
	pthread_mutex_init(&j->lock, NULL);
	j->capacity = capacity;
	j->ring = xcalloc(capacity ? capacity : 1, sizeof *j->ring);
	j->next_id = 1;
	return j;
}

void journal_entry_cleanup(struct journal_entry *e)
{
	char **s[] = {&e->client,	   &e->method,	       &e->path,	  &e->query,
		      &e->request_headers, &e->request_body,   &e->response_body,
		      &e->contact_before_fields, &e->contact_after, &e->org_id};
	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
		free(*s[i]);
		*s[i] = NULL;
	}
}

void journal_clear(struct journal *j)
{
	pthread_mutex_lock(&j->lock);
	for (size_t i = 0; i < j->count; i++)
		journal_entry_cleanup(&j->ring[(j->start + i) % j->capacity].e);
	j->start = j->count = 0;
	pthread_mutex_unlock(&j->lock);
}

void journal_free(struct journal *j)
{
	if (!j)
		return;
	journal_clear(j);
	pthread_mutex_destroy(&j->lock);
	free(j->ring);
	free(j);
}

static void cut(char **body)
{
	if (*body && strlen(*body) > JOURNAL_BODY_MAX) {
		static const char mark[] = "...(cut)";
		memcpy(*body + JOURNAL_BODY_MAX - sizeof mark + 1, mark, sizeof mark);
	}
}

void journal_add(struct journal *j, struct journal_entry *e)
{
	cut(&e->request_body);
	cut(&e->response_body);
	pthread_mutex_lock(&j->lock);
	if (j->capacity == 0) {
		pthread_mutex_unlock(&j->lock);
		journal_entry_cleanup(e);
		return;
	}
	if (j->count == j->capacity) {
		journal_entry_cleanup(&j->ring[j->start].e);
		j->start = (j->start + 1) % j->capacity;
		j->count--;
	}
	struct stored *slot = &j->ring[(j->start + j->count) % j->capacity];
	slot->id = j->next_id++;
	slot->e = *e;
	j->count++;
	pthread_mutex_unlock(&j->lock);
	memset(e, 0, sizeof *e);
}

static bool matches(const struct journal_entry *e, const struct journal_filter *f)
{
	if (f->method && (!e->method || strcmp(f->method, e->method)))
		return false;
	/* fnmatch without FNM_PATHNAME: '*' also spans '/'. */
	if (f->path && (!e->path || fnmatch(f->path, e->path, 0)))
		return false;
	if (f->status && f->status != e->status)
		return false;
	if (f->org_id && (!e->org_id || strcmp(f->org_id, e->org_id)))
		return false;
	if (f->has_since && e->time_ms < f->since_ms)
		return false;
	return true;
}

static void add_text(cJSON *o, const char *key, const char *v)
{
	cJSON_AddItemToObject(o, key, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}

/* contact_before and contact_after of an entry that changed a contact: the
 * answer, and the answer with the fields it had before put back in place. */
static void add_contacts(cJSON *o, const struct journal_entry *e)
{
	const char *after_text = e->contact_after ? e->contact_after : e->response_body;
	cJSON *after = e->contact_before_fields && after_text ? cJSON_Parse(after_text) : NULL;
	cJSON *fields = after ? cJSON_Parse(e->contact_before_fields) : NULL;
	if (!after || !fields) {
		cJSON_Delete(after);
		cJSON_Delete(fields);
		cJSON_AddNullToObject(o, "contact_before");
		cJSON_AddNullToObject(o, "contact_after");
		return;
	}
	cJSON *before = cJSON_Duplicate(after, 1);
	for (cJSON *f = fields->child; f; f = f->next)
		cJSON_ReplaceItemInObjectCaseSensitive(before, f->string, cJSON_Duplicate(f, 1));
	cJSON_Delete(fields);
	cJSON_AddItemToObject(o, "contact_before", before);
	cJSON_AddItemToObject(o, "contact_after", after);
}

static cJSON *entry_json(int64_t id, const struct journal_entry *e)
{
	char time[CLOCK_TEXT_SIZE];
	clock_format(e->time_ms, time);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)id);
	cJSON_AddStringToObject(o, "time", time);
	add_text(o, "client", e->client);
	add_text(o, "method", e->method);
	add_text(o, "path", e->path);
	add_text(o, "query", e->query);
	cJSON *h = cJSON_AddObjectToObject(o, "request_headers");
	for (const char *k = e->request_headers; k && *k;) {
		const char *v = k + strlen(k) + 1;
		cJSON *old = cJSON_GetObjectItemCaseSensitive(h, k);
		if (old) {
			/* A header sent twice reads as one, values joined (RFC 9110 5.3). */
			char *joined = xasprintf("%s, %s", old->valuestring, v);
			cJSON_ReplaceItemInObjectCaseSensitive(h, k, cJSON_CreateString(joined));
			free(joined);
		} else {
			cJSON_AddStringToObject(h, k, v);
		}
		k = v + strlen(v) + 1;
	}
	add_text(o, "request_body", e->request_body);
	cJSON_AddNumberToObject(o, "status", e->status);
	add_text(o, "response_body", e->response_body);
	cJSON_AddNumberToObject(o, "duration_ms", e->duration_ms);
	add_contacts(o, e);
	return o;
}

char *journal_query(struct journal *j, const struct journal_filter *f, bool count_only, size_t *len)
{
	cJSON *out = count_only ? cJSON_CreateObject() : cJSON_CreateArray();
	size_t n = 0;
	pthread_mutex_lock(&j->lock);
	for (size_t i = j->count; i-- > 0;) {
		if (f->limit && n == f->limit)
			break;
		const struct stored *s = &j->ring[(j->start + i) % j->capacity];
		if (!matches(&s->e, f))
			continue;
		n++;
		if (!count_only)
			cJSON_AddItemToArray(out, entry_json(s->id, &s->e));
	}
	pthread_mutex_unlock(&j->lock);
	if (count_only)
		cJSON_AddNumberToObject(out, "count", (double)n);
	char *text = cJSON_PrintUnformatted(out);
	cJSON_Delete(out);
	*len = strlen(text);
	return text;
}
