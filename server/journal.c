/* See journal.h.
 *
 * Layout. Entries sit in a ring of slots under one mutex. A slot holds what
 * filters read; its bulk is one record in "the log", a circular space of cap
 * bytes kept in the spill file or in a heap buffer. Records lie back to back in
 * slot order: the oldest slot's record is where live data begins, head where
 * the next record goes, after the newest or, wrapping, at 0 when the space
 * before the oldest has room. A record that fits nowhere makes the log grow:
 * the live records are copied, in order, into a new log at least twice as
 * large as they are (rare: the log settles at a size that fits the journal).
 * Records bound for the file gather in a pending buffer that is written 64 KiB
 * at a time, so recording a request costs a copy, not a system call; a query
 * reads pending records from that buffer. Everything is rendered only when
 * asked for. */
#include "journal.h"

#include "clock.h"
#include "json_strict.h"
#include "jsonbuf.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum {
	LOG_MIN = 256 * 1024, /* the smallest log, in bytes */
	PEND_MAX = 64 * 1024, /* pending bytes that make a write */
};

/* The fields of a record, in order. */
enum { F_CLIENT, F_QUERY, F_HEADERS, F_REQUEST_BODY, F_RESPONSE_BODY, F_BEFORE, F_AFTER, F__COUNT };

#define NO_FIELD UINT32_MAX /* the length that stands for null */
#define NO_PLACE UINT64_MAX

struct field {
	const char *s;
	size_t len;
	bool cut; /* longer than JOURNAL_BODY_MAX: kept cut, with a mark */
};

struct slot {
	int64_t id, time_ms;
	double duration_ms;
	uint64_t off; /* the record's place in the log */
	uint32_t len;
	int status;
	char *keys; /* "method\0path\0org_id\0" ("" for an absent one) */
};

struct journal {
	pthread_mutex_t lock;
	struct slot *ring;
	size_t capacity, start, count;
	int64_t next_id;
	char *spill_dir;
	int fd;	  /* the spill file; -1: the log is mem */
	char *mem;
	uint64_t cap, head, live; /* log size, next place, bytes of live records */
	char *pend;		  /* records on their way to the file, which belong */
	size_t pend_len, pend_cap; /* at [pend_off, pend_off + pend_len) */
	uint64_t pend_off;
	bool warned;
};

static const char cut_mark[] = "...(cut)";

/* --- Records: for each field, a 4-byte length (NO_FIELD: null), its bytes and
 * a NUL, so a read record hands out C strings in place. --- */

static struct field text_field(const char *s)
{
	return (struct field){s, s ? strlen(s) : 0, false};
}

static struct field body_field(const char *s, size_t len)
{
	if (s && len > JOURNAL_BODY_MAX)
		return (struct field){s, JOURNAL_BODY_MAX, true};
	return (struct field){s, len, false};
}

static size_t record_size(const struct field *f)
{
	size_t n = 0;
	for (int i = 0; i < F__COUNT; i++)
		n += 4 + (f[i].s ? f[i].len + 1 : 0);
	return n;
}

static void record_encode(char *out, const struct field *f)
{
	for (int i = 0; i < F__COUNT; i++) {
		uint32_t len = f[i].s ? (uint32_t)f[i].len : NO_FIELD;
		memcpy(out, &len, 4);
		out += 4;
		if (!f[i].s)
			continue;
		if (f[i].cut) {
			size_t keep = f[i].len - (sizeof cut_mark - 1);
			memcpy(out, f[i].s, keep);
			memcpy(out + keep, cut_mark, sizeof cut_mark - 1);
		} else {
			memcpy(out, f[i].s, f[i].len);
		}
		out[f[i].len] = '\0';
		out += f[i].len + 1;
	}
}

/* Points out[] into rec (NULL for null); false if rec is not a whole record. */
static bool record_decode(char *rec, size_t len, const char *out[F__COUNT])
{
	size_t at = 0;
	for (int i = 0; i < F__COUNT; i++) {
		uint32_t n;
		if (len - at < 4)
			return false;
		memcpy(&n, rec + at, 4);
		at += 4;
		out[i] = NULL;
		if (n == NO_FIELD)
			continue;
		if (len - at < (size_t)n + 1)
			return false;
		out[i] = rec + at;
		at += (size_t)n + 1;
	}
	return at == len;
}

/* --- The log --- */

static int open_spill(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	/* A file system without O_TMPFILE: a named file, unlinked at once. */
	char *path = xasprintf("%s/invent-mock-journal-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	free(path);
	return fd;
}

static int write_all(int fd, const char *p, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static int flush(struct journal *j)
{
	if (j->fd < 0 || !j->pend_len)
		return 0;
	if (write_all(j->fd, j->pend, j->pend_len, j->pend_off))
		return -1;
	j->pend_len = 0;
	return 0;
}

/* Reads s's record into buf (s->len bytes). */
static int read_record(struct journal *j, const struct slot *s, char *buf)
{
	if (j->fd < 0) {
		memcpy(buf, j->mem + s->off, s->len);
		return 0;
	}
	if (j->pend_len && s->off >= j->pend_off && s->off + s->len <= j->pend_off + j->pend_len) {
		memcpy(buf, j->pend + (s->off - j->pend_off), s->len);
		return 0;
	}
	size_t got = 0;
	while (got < s->len) {
		ssize_t r = pread(j->fd, buf + got, s->len - got, (off_t)(s->off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static struct slot *slot_at(struct journal *j, size_t i)
{
	return &j->ring[(j->start + i) % j->capacity];
}

/* Where a record of n bytes can go, or NO_PLACE. */
static uint64_t place(const struct journal *j, uint64_t n)
{
	if (j->count == 0)
		return n <= j->cap ? 0 : NO_PLACE;
	uint64_t tail = j->ring[j->start].off;
	if (j->head > tail) { /* live: [tail, head) */
		if (j->head + n <= j->cap)
			return j->head;
		return n <= tail ? 0 : NO_PLACE;
	}
	/* Wrapped; live: [tail, the old end) and [0, head). */
	return j->head + n <= tail ? j->head : NO_PLACE;
}

static void warn_memory(struct journal *j, const char *why)
{
	if (j->warned)
		return;
	j->warned = true;
	fprintf(stderr, "invent-mock: the journal keeps its entries in memory: %s\n", why);
}

/* Copies every live record, in order, to the start of a new log of new_cap
 * bytes: in a new spill file when to_file and one can be made and written,
 * else in memory. A record that cannot be read back is kept with every field
 * null. The slots change only once the copy is whole. */
static void relayout(struct journal *j, uint64_t new_cap, bool to_file)
{
	int fd = -1;
	char *mem = NULL;
	if (to_file && (flush(j) || (fd = open_spill(j->spill_dir)) < 0)) {
		warn_memory(j, strerror(errno));
		to_file = false;
	}
	if (!to_file)
		mem = xmalloc(new_cap);
	uint64_t *offs = xmalloc((j->count ? j->count : 1) * sizeof *offs);
	uint32_t *lens = xmalloc((j->count ? j->count : 1) * sizeof *lens);
	/* Written to the new file through a buffer of its own. */
	char *out = to_file ? xmalloc(PEND_MAX) : NULL;
	size_t out_len = 0;
	uint64_t out_off = 0, pos = 0;
	char *rec = NULL;
	size_t rec_cap = 0;
	for (size_t i = 0; i < j->count; i++) {
		const struct slot *s = slot_at(j, i);
		if (s->len > rec_cap) {
			rec_cap = s->len;
			rec = xrealloc(rec, rec_cap);
		}
		size_t len = s->len;
		if (read_record(j, s, rec)) {
			const struct field none[F__COUNT] = {{0}};
			len = record_size(none);
			record_encode(rec, none);
		}
		if (!to_file) {
			memcpy(mem + pos, rec, len);
		} else {
			if (out_len && out_len + len > PEND_MAX) {
				if (write_all(fd, out, out_len, out_off))
					goto file_failed;
				out_off += out_len;
				out_len = 0;
			}
			if (len > PEND_MAX) {
				if (write_all(fd, rec, len, pos))
					goto file_failed;
				out_off = pos + len;
			} else {
				memcpy(out + out_len, rec, len);
				out_len += len;
			}
		}
		offs[i] = pos;
		lens[i] = (uint32_t)len;
		pos += len;
	}
	if (to_file && out_len && write_all(fd, out, out_len, out_off))
		goto file_failed;
	for (size_t i = 0; i < j->count; i++) {
		slot_at(j, i)->off = offs[i];
		slot_at(j, i)->len = lens[i];
	}
	free(offs);
	free(lens);
	free(rec);
	free(out);
	if (j->fd >= 0)
		close(j->fd);
	free(j->mem);
	j->fd = fd;
	j->mem = mem;
	j->cap = new_cap;
	j->head = pos;
	j->live = pos;
	j->pend_len = 0;
	return;
file_failed:
	warn_memory(j, strerror(errno));
	close(fd);
	free(offs);
	free(lens);
	free(rec);
	free(out);
	relayout(j, new_cap, false); /* the old log is as it was */
}

/* Gives the log room for a record of n bytes. */
static void grow(struct journal *j, uint64_t n)
{
	uint64_t want = 2 * (j->live + n);
	relayout(j, want > j->cap ? want : j->cap, j->fd >= 0);
}

/* A write to the spill file failed: from now on the log is in memory. */
static void to_memory(struct journal *j)
{
	warn_memory(j, strerror(errno));
	relayout(j, 2 * j->live + LOG_MIN, false);
}

static void drop_oldest(struct journal *j)
{
	struct slot *s = slot_at(j, 0);
	free(s->keys);
	s->keys = NULL;
	j->live -= s->len;
	j->start = (j->start + 1) % j->capacity;
	if (--j->count == 0)
		j->head = j->pend_len = 0; /* what is pending is dead */
}

/* Whether the pending buffer must be written before a record of n bytes goes at off. */
static bool must_flush(const struct journal *j, uint64_t off, size_t n)
{
	return j->pend_len && (off != j->pend_off + j->pend_len || j->pend_len + n > PEND_MAX);
}

static void put_record(struct journal *j, uint64_t off, const struct field *f, size_t n)
{
	if (j->fd < 0) {
		record_encode(j->mem + off, f);
		return;
	}
	if (!j->pend_len)
		j->pend_off = off;
	if (j->pend_len + n > j->pend_cap) {
		j->pend_cap = j->pend_len + n > PEND_MAX ? j->pend_len + n : PEND_MAX;
		j->pend = xrealloc(j->pend, j->pend_cap);
	}
	record_encode(j->pend + j->pend_len, f);
	j->pend_len += n;
}

static char *pack_keys(const struct journal_entry *e)
{
	const char *k[3] = {e->method ? e->method : "", e->path ? e->path : "",
			    e->org_id ? e->org_id : ""};
	size_t len[3], n = 0;
	for (int i = 0; i < 3; i++)
		n += (len[i] = strlen(k[i])) + 1;
	char *keys = xmalloc(n), *o = keys;
	for (int i = 0; i < 3; i++) {
		memcpy(o, k[i], len[i] + 1);
		o += len[i] + 1;
	}
	return keys;
}

int64_t journal_add(struct journal *j, const struct journal_entry *e)
{
	if (j->capacity == 0)
		return 0;
	struct field f[F__COUNT] = {
		[F_CLIENT] = text_field(e->client),
		[F_QUERY] = text_field(e->query),
		[F_HEADERS] = {e->request_headers, e->request_headers_len, false},
		[F_REQUEST_BODY] = body_field(e->request_body, e->request_body_len),
		[F_RESPONSE_BODY] = body_field(e->response_body, e->response_body_len),
		[F_BEFORE] = text_field(e->contact_before_fields),
		[F_AFTER] = text_field(e->contact_after),
	};
	size_t n = record_size(f);
	char *keys = pack_keys(e);
	pthread_mutex_lock(&j->lock);
	if (j->count == j->capacity)
		drop_oldest(j);
	uint64_t off;
	for (;;) {
		off = place(j, n);
		if (off == NO_PLACE) {
			grow(j, n);
			continue;
		}
		if (j->fd >= 0 && must_flush(j, off, n) && flush(j)) {
			to_memory(j);
			continue;
		}
		break;
	}
	put_record(j, off, f, n);
	struct slot *s = slot_at(j, j->count);
	int64_t id = j->next_id++;
	*s = (struct slot){.id = id, .time_ms = e->time_ms, .duration_ms = e->duration_ms,
			   .off = off, .len = (uint32_t)n, .status = e->status, .keys = keys};
	j->count++;
	j->head = off + n;
	j->live += n;
	if (j->pend_len >= PEND_MAX && flush(j))
		to_memory(j);
	pthread_mutex_unlock(&j->lock);
	return id;
}

struct journal *journal_new(size_t capacity, const char *spill_dir)
{
	struct journal *j = xcalloc(1, sizeof *j);
	pthread_mutex_init(&j->lock, NULL);
	j->capacity = capacity;
	j->ring = xcalloc(capacity ? capacity : 1, sizeof *j->ring);
	j->next_id = 1;
	j->fd = -1;
	j->cap = LOG_MIN;
	if (capacity && spill_dir) {
		j->spill_dir = xstrdup(spill_dir);
		j->fd = open_spill(spill_dir);
		if (j->fd < 0) {
			char *why = xasprintf("%s: %s", spill_dir, strerror(errno));
			warn_memory(j, why);
			free(why);
		}
	}
	if (capacity && j->fd < 0)
		j->mem = xmalloc(j->cap);
	return j;
}

void journal_clear(struct journal *j)
{
	pthread_mutex_lock(&j->lock);
	while (j->count)
		drop_oldest(j);
	j->start = 0;
	/* Hand back what the log took. A failure only keeps the space: the file
	 * is written over from 0 all the same. */
	if (j->fd >= 0) {
		int rc = ftruncate(j->fd, 0);
		(void)rc;
	}
	if (j->mem) {
		free(j->mem);
		j->mem = xmalloc(LOG_MIN);
	}
	j->cap = LOG_MIN;
	pthread_mutex_unlock(&j->lock);
}

void journal_free(struct journal *j)
{
	if (!j)
		return;
	journal_clear(j);
	if (j->fd >= 0)
		close(j->fd);
	pthread_mutex_destroy(&j->lock);
	free(j->mem);
	free(j->pend);
	free(j->spill_dir);
	free(j->ring);
	free(j);
}

bool journal_spills(struct journal *j)
{
	pthread_mutex_lock(&j->lock);
	bool spills = j->fd >= 0;
	pthread_mutex_unlock(&j->lock);
	return spills;
}

/* --- Queries --- */

static bool matches(const struct slot *s, const struct journal_filter *f)
{
	const char *method = s->keys, *path = method + strlen(method) + 1,
		   *org = path + strlen(path) + 1;
	/* Methods are upper case by convention only; ?method=patch means PATCH. */
	if (f->method && strcasecmp(f->method, method))
		return false;
	/* fnmatch without FNM_PATHNAME: '*' also spans '/'. */
	if (f->path && fnmatch(f->path, path, 0))
		return false;
	if (f->status && f->status != s->status)
		return false;
	if (f->org_id && strcmp(f->org_id, org))
		return false;
	if (f->has_since && s->time_ms < f->since_ms)
		return false;
	return true;
}

/* Requests may hold any bytes (a body that is not UTF-8 is a 400 the journal
 * still records); printed as they are, the answer would not be UTF-8. Bytes
 * outside a valid sequence read as U+FFFD. */
static void put_text(struct jsonbuf *b, const char *key, const char *v)
{
	jsonbuf_key(b, key);
	char *fixed = v ? json_utf8_fix(v) : NULL;
	jsonbuf_string(b, fixed ? fixed : v);
	free(fixed);
}

/* The request's headers as an object; a header sent twice reads as one, its
 * values joined (RFC 9110 5.3), in the place of its first. Names and values
 * are compared and joined as they print. */
static void put_headers(struct jsonbuf *b, const char *list)
{
	size_t n = 0;
	for (const char *k = list; k && *k; n++) {
		k += strlen(k) + 1; /* the name, then its value */
		k += strlen(k) + 1;
	}
	char **name = xcalloc(n ? n : 1, sizeof *name), **value = xcalloc(n ? n : 1, sizeof *value);
	const char *k = list;
	for (size_t i = 0; i < n; i++) {
		const char *v = k + strlen(k) + 1;
		name[i] = json_utf8_fix(k);
		name[i] = name[i] ? name[i] : xstrdup(k);
		value[i] = json_utf8_fix(v);
		value[i] = value[i] ? value[i] : xstrdup(v);
		k = v + strlen(v) + 1;
	}
	jsonbuf_key(b, "request_headers");
	jsonbuf_open(b, '{');
	for (size_t i = 0; i < n; i++) {
		if (!name[i])
			continue; /* joined to an earlier one */
		char *joined = value[i];
		for (size_t j = i + 1; j < n; j++) {
			if (name[j] && !strcmp(name[j], name[i])) {
				char *more = xasprintf("%s, %s", joined, value[j]);
				free(joined);
				joined = more;
				free(name[j]);
				name[j] = NULL;
			}
		}
		value[i] = joined;
		jsonbuf_key_string(b, name[i]);
		jsonbuf_string(b, joined);
	}
	jsonbuf_close(b, '}');
	for (size_t i = 0; i < n; i++) {
		free(name[i]);
		free(value[i]);
	}
	free(name);
	free(value);
}

enum { CONTACT_MEMBERS_MAX = 64 };

/* contact_before and contact_after of an entry that changed a contact: the
 * answer, and the answer with the fields it had before put back in place.
 * Both texts are the server's own compact renderings (jsonbuf, which prints
 * as cJSON does), so they are copied and spliced as they are, without a tree:
 * rendering entries for the events stream at the rate requests arrive is
 * what consoles cost the API. A text that is not a whole object (an answer
 * cut at JOURNAL_BODY_MAX) leaves both null. */
static void put_contacts(struct jsonbuf *b, const char *const *field)
{
	const char *after = field[F_AFTER] ? field[F_AFTER] : field[F_RESPONSE_BODY];
	struct json_member am[CONTACT_MEMBERS_MAX], fm[CONTACT_MEMBERS_MAX];
	int na = -1, nf = -1;
	if (field[F_BEFORE] && after) {
		na = json_object_members(after, strlen(after), am, CONTACT_MEMBERS_MAX);
		nf = na < 0 ? -1
			    : json_object_members(field[F_BEFORE], strlen(field[F_BEFORE]), fm,
						  CONTACT_MEMBERS_MAX);
	}
	if (na < 0 || nf < 0) {
		jsonbuf_key(b, "contact_before");
		jsonbuf_null(b);
		jsonbuf_key(b, "contact_after");
		jsonbuf_null(b);
		return;
	}
	jsonbuf_key(b, "contact_before");
	jsonbuf_open(b, '{');
	for (int i = 0; i < na; i++) {
		const struct json_member *m = &am[i];
		for (int k = 0; k < nf; k++)
			if (fm[k].key_len == am[i].key_len && !memcmp(fm[k].key, am[i].key, am[i].key_len))
				m = &fm[k]; /* the last of a key sent twice wins, as JSON is usually read */
		if (i)
			jsonbuf_raw(b, ",", 1);
		jsonbuf_raw(b, "\"", 1);
		jsonbuf_raw(b, am[i].key, am[i].key_len);
		jsonbuf_raw(b, "\":", 2);
		jsonbuf_raw(b, m->value, m->value_len);
	}
	jsonbuf_close(b, '}');
	jsonbuf_key(b, "contact_after");
	jsonbuf_raw(b, after, strlen(after));
}

/* An entry as JSON text (free() it), *len its length. */
static char *entry_render(const struct slot *s, const char *const *field, bool bodies, size_t *len)
{
	const char *method = s->keys, *path = method + strlen(method) + 1;
	const char *org = path + strlen(path) + 1;
	char time[CLOCK_TEXT_SIZE];
	clock_format(s->time_ms, time);
	struct jsonbuf b;
	jsonbuf_init(&b, 2048);
	jsonbuf_open(&b, '{');
	jsonbuf_key(&b, "id");
	jsonbuf_number(&b, (double)s->id);
	jsonbuf_key(&b, "time");
	jsonbuf_string(&b, time);
	put_text(&b, "client", field[F_CLIENT]);
	put_text(&b, "method", *method ? method : NULL);
	put_text(&b, "path", *path ? path : NULL);
	put_text(&b, "query", field[F_QUERY]);
	put_text(&b, "org_id", *org ? org : NULL); /* the slot's filter key */
	put_headers(&b, field[F_HEADERS]);
	if (bodies)
		put_text(&b, "request_body", field[F_REQUEST_BODY]);
	jsonbuf_key(&b, "status");
	jsonbuf_number(&b, s->status);
	if (bodies)
		put_text(&b, "response_body", field[F_RESPONSE_BODY]);
	jsonbuf_key(&b, "duration_ms");
	jsonbuf_number(&b, s->duration_ms);
	put_contacts(&b, field);
	jsonbuf_close(&b, '}');
	return jsonbuf_finish(&b, len);
}

/* Reading the journal a piece at a time. Each step holds the lock for one
 * entry, or for a bounded scan past entries the filters leave out, so that
 * requests recording themselves meanwhile wait for no more than that; and only
 * one rendered entry is held at a time, whatever the journal holds. The read
 * starts from the newest entry when the cursor is made and goes by id, so
 * entries added during it are not in it, and ones dropped during it (the ring
 * wrapping, a clear) are skipped. */
enum { CURSOR_SCAN_MAX = 512 }; /* slots looked at per hold of the lock */

struct journal_cursor {
	struct journal *j;
	struct journal_filter f; /* its strings are the three below */
	char *method, *path, *org_id;
	int64_t below_id;	 /* the next entry has an id below this */
	size_t n;		 /* entries given so far */
	enum { CUR_OPEN, CUR_ENTRIES, CUR_CLOSED } state;
	char *rec;
	size_t rec_cap;
	char *text; /* rendered and not yet handed out: text[off..len) */
	size_t off, len;
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct journal_cursor *journal_cursor_new(struct journal *j, const struct journal_filter *f)
{
	struct journal_cursor *c = xcalloc(1, sizeof *c);
	c->j = j;
	c->f = *f;
	c->f.method = c->method = dup_or_null(f->method);
	c->f.path = c->path = dup_or_null(f->path);
	c->f.org_id = c->org_id = dup_or_null(f->org_id);
	pthread_mutex_lock(&j->lock);
	c->below_id = j->next_id;
	pthread_mutex_unlock(&j->lock);
	return c;
}

void journal_cursor_free(struct journal_cursor *c)
{
	if (!c)
		return;
	free(c->method);
	free(c->path);
	free(c->org_id);
	free(c->rec);
	free(c->text);
	free(c);
}

/* The index of the newest slot with an id below id, or -1; ids grow with the
 * index. With the lock held. */
static long newest_below(struct journal *j, int64_t id)
{
	size_t lo = 0, hi = j->count; /* answer in [lo, hi) - 1 */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (slot_at(j, mid)->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (long)lo - 1;
}

/* Renders the next matching entry into c->text; false when there is none left
 * (or, for a bounded scan that found none, true with c->len 0: call again). */
static bool cursor_next(struct journal_cursor *c)
{
	struct journal *j = c->j;
	c->off = c->len = 0;
	if (c->f.limit && c->n == c->f.limit)
		return false;
	char *text = NULL;
	size_t n = 0;
	pthread_mutex_lock(&j->lock);
	long i = newest_below(j, c->below_id);
	for (int scanned = 0; i >= 0 && scanned < CURSOR_SCAN_MAX && !text; i--, scanned++) {
		const struct slot *s = slot_at(j, (size_t)i);
		c->below_id = s->id;
		if (!matches(s, &c->f))
			continue;
		if (s->len > c->rec_cap) {
			c->rec_cap = s->len;
			c->rec = xrealloc(c->rec, c->rec_cap);
		}
		const char *field[F__COUNT] = {0};
		if (read_record(j, s, c->rec) || !record_decode(c->rec, s->len, field))
			memset(field, 0, sizeof field); /* unreadable: its bulk shows as null */
		text = entry_render(s, field, true, &n);
	}
	bool more = text || i >= 0;
	pthread_mutex_unlock(&j->lock);
	if (!text)
		return more;
	free(c->text);
	c->text = xmalloc(n + 2);
	c->text[0] = ',';
	memcpy(c->text + 1, text, n + 1);
	free(text);
	c->off = c->n == 0; /* no comma before the first */
	c->len = n + 1;
	c->n++;
	return true;
}

size_t journal_cursor_read(struct journal_cursor *c, char *buf, size_t max)
{
	size_t got = 0;
	while (got < max) {
		if (c->off < c->len) {
			size_t k = c->len - c->off < max - got ? c->len - c->off : max - got;
			memcpy(buf + got, c->text + c->off, k);
			c->off += k;
			got += k;
			continue;
		}
		if (c->state == CUR_CLOSED)
			break;
		if (c->state == CUR_OPEN) {
			buf[got++] = '[';
			c->state = CUR_ENTRIES;
			continue;
		}
		/* One entry per call at most, so that a call stays short. */
		if (got > 0 && c->n > 0)
			break;
		while (cursor_next(c) && c->len == 0)
			;
		if (c->len == 0) {
			buf[got++] = ']';
			c->state = CUR_CLOSED;
		}
	}
	return got;
}

char *journal_entry_from(struct journal *j, int64_t min_id, bool bodies, int64_t *id, size_t *len)
{
	char *text = NULL;
	char *rec = NULL;
	pthread_mutex_lock(&j->lock);
	long i = newest_below(j, min_id) + 1;
	if (i < (long)j->count) {
		const struct slot *s = slot_at(j, (size_t)i);
		rec = xmalloc(s->len);
		const char *field[F__COUNT] = {0};
		if (read_record(j, s, rec) || !record_decode(rec, s->len, field))
			memset(field, 0, sizeof field); /* unreadable: its bulk shows as null */
		text = entry_render(s, field, bodies, len);
		*id = s->id;
	}
	pthread_mutex_unlock(&j->lock);
	free(rec);
	return text;
}

int64_t journal_newest_id(struct journal *j)
{
	pthread_mutex_lock(&j->lock);
	int64_t id = j->next_id - 1;
	pthread_mutex_unlock(&j->lock);
	return id;
}

char *journal_entry(struct journal *j, int64_t id, bool bodies, size_t *len)
{
	int64_t found;
	char *text = journal_entry_from(j, id, bodies, &found, len);
	if (text && found != id) {
		free(text);
		return NULL;
	}
	return text;
}

char *journal_query(struct journal *j, const struct journal_filter *f, bool count_only, size_t *len)
{
	if (!count_only) {
		struct journal_cursor *c = journal_cursor_new(j, f);
		size_t cap = 4096, n = 0, k;
		char *text = xmalloc(cap);
		while ((k = journal_cursor_read(c, text + n, cap - n - 1)) > 0) {
			n += k;
			if (cap - n < 1024)
				text = xrealloc(text, cap *= 2);
		}
		journal_cursor_free(c);
		text[n] = '\0';
		*len = n;
		return text;
	}
	size_t n = 0;
	pthread_mutex_lock(&j->lock);
	for (size_t i = j->count; i-- > 0;) {
		if (f->limit && n == f->limit)
			break;
		if (matches(slot_at(j, i), f))
			n++;
	}
	pthread_mutex_unlock(&j->lock);
	char *text = xasprintf("{\"count\":%zu}", n);
	*len = strlen(text);
	return text;
}
