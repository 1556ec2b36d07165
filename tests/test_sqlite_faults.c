/* SQLite-style fault injection through whole requests: the Nth memory
 * allocation or the Nth write that SQLite makes fails, for N = 1, 2, 3, ...,
 * until a request gets through without the fault firing. Each time the server
 * must neither crash nor hang, must answer either the success status or a 5xx
 * error envelope, must store a change exactly when it answered 2xx (atomicity),
 * must keep answering normal requests, and must never corrupt the database
 * file (PRAGMA integrity_check through a separate connection). For the admin
 * requests that change orgs and keys, the key index must also agree with the
 * file: an API key answers exactly when the file holds it.
 *
 * The faults come from two shims installed in this process before SQLite is
 * initialised, so the real app (started in-process on a temporary FILE
 * database) runs on them:
 *  - a malloc shim (SQLITE_CONFIG_MALLOC) whose xMalloc/xRealloc return NULL
 *    when an armed countdown reaches 0;
 *  - a VFS shim registered as the default, wrapping "unix", whose files'
 *    xWrite/xTruncate/xSync fail (SQLITE_IOERR_* or SQLITE_FULL) when an armed
 *    countdown reaches 0.
 * Both have SQLite's two modes: "once" (only the Nth call fails) and
 * "persistent" (the Nth and every later call fail until disarmed). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "http_util.h"
#include "ids.h"
#include "testlib.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SF_ASAN 1
#endif
#endif
#ifdef SF_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

enum { N_MAX = 300, REQUEST_TIMEOUT_S = 10, CASE_BUDGET_MS = 18000 };
/* An isolated org's create, delete or a reset makes some 700 to 1,100 SQLite
 * allocations when nothing fails, and the step under test (the key index's
 * rebuild, the COMMIT) comes last: these runs go that far, with more time. */
enum { N_MAX_ADMIN = 2500, ADMIN_BUDGET_MS = 40000 };

/* ------------------------------------------------------------ the countdown */

struct countdown {
	atomic_bool armed;
	atomic_bool persistent;
	atomic_bool tripped;
	atomic_long left;  /* calls to go before the failing one */
	atomic_long fired; /* failures injected since armed */
	atomic_long calls; /* calls seen since armed */
};

static void cd_arm(struct countdown *c, long n, bool persistent)
{
	atomic_store(&c->armed, false);
	atomic_store(&c->persistent, persistent);
	atomic_store(&c->tripped, false);
	atomic_store(&c->fired, 0);
	atomic_store(&c->calls, 0);
	atomic_store(&c->left, n);
	atomic_store(&c->armed, true);
}

static void cd_disarm(struct countdown *c)
{
	atomic_store(&c->armed, false);
}

/* Whether this call must fail. */
static bool cd_hit(struct countdown *c)
{
	if (!atomic_load(&c->armed))
		return false;
	atomic_fetch_add(&c->calls, 1);
	if (atomic_load(&c->persistent) && atomic_load(&c->tripped)) {
		atomic_fetch_add(&c->fired, 1);
		return true;
	}
	if (atomic_fetch_sub(&c->left, 1) == 1) {
		atomic_store(&c->tripped, true);
		atomic_fetch_add(&c->fired, 1);
		return true;
	}
	return false;
}

static struct countdown mem_cd, io_cd;
static atomic_int io_fail_code = SQLITE_IOERR_WRITE; /* what a failing xWrite returns */

/* ------------------------------------------------------------ malloc shim */

static sqlite3_mem_methods mem_orig;

static void *shim_malloc(int n)
{
	return cd_hit(&mem_cd) ? NULL : mem_orig.xMalloc(n);
}

static void *shim_realloc(void *p, int n)
{
	return cd_hit(&mem_cd) ? NULL : mem_orig.xRealloc(p, n);
}

/* ------------------------------------------------------------ VFS shim */

struct shim_file {
	sqlite3_file base;
	sqlite3_file *real; /* right after this struct, in the same allocation */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;

#define REAL(f) (((struct shim_file *)(f))->real)
#define RM(f) (REAL(f)->pMethods)

static int io_close(sqlite3_file *f)
{
	int rc = RM(f)->xClose(REAL(f));
	f->pMethods = NULL;
	return rc;
}
static int io_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off)
{
	return RM(f)->xRead(REAL(f), b, n, off);
}
static int io_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 off)
{
	if (cd_hit(&io_cd))
		return atomic_load(&io_fail_code);
	return RM(f)->xWrite(REAL(f), b, n, off);
}
static int io_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	if (cd_hit(&io_cd))
		return atomic_load(&io_fail_code) == SQLITE_FULL ? SQLITE_FULL : SQLITE_IOERR_TRUNCATE;
	return RM(f)->xTruncate(REAL(f), size);
}
static int io_sync(sqlite3_file *f, int flags)
{
	if (cd_hit(&io_cd))
		return SQLITE_IOERR_FSYNC;
	return RM(f)->xSync(REAL(f), flags);
}
static int io_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return RM(f)->xFileSize(REAL(f), size);
}
static int io_lock(sqlite3_file *f, int l)
{
	return RM(f)->xLock(REAL(f), l);
}
static int io_unlock(sqlite3_file *f, int l)
{
	return RM(f)->xUnlock(REAL(f), l);
}
static int io_check_reserved(sqlite3_file *f, int *out)
{
	return RM(f)->xCheckReservedLock(REAL(f), out);
}
static int io_file_control(sqlite3_file *f, int op, void *arg)
{
	return RM(f)->xFileControl(REAL(f), op, arg);
}
static int io_sector_size(sqlite3_file *f)
{
	return RM(f)->xSectorSize(REAL(f));
}
static int io_device_characteristics(sqlite3_file *f)
{
	return RM(f)->xDeviceCharacteristics(REAL(f));
}
static int io_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return RM(f)->xShmMap(REAL(f), pg, pgsz, extend, pp);
}
static int io_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return RM(f)->xShmLock(REAL(f), offset, n, flags);
}
static void io_shm_barrier(sqlite3_file *f)
{
	RM(f)->xShmBarrier(REAL(f));
}
static int io_shm_unmap(sqlite3_file *f, int del)
{
	return RM(f)->xShmUnmap(REAL(f), del);
}
static int io_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	return RM(f)->xFetch(REAL(f), off, amt, pp);
}
static int io_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return RM(f)->xUnfetch(REAL(f), off, p);
}

/* One shim method table per real one, with the same iVersion and the same
 * members left NULL (SQLite tests xShmMap == NULL to tell WAL support). */
static struct {
	const sqlite3_io_methods *real;
	sqlite3_io_methods shim;
} io_tables[16];
static pthread_mutex_t io_tables_lock = PTHREAD_MUTEX_INITIALIZER;

#define WRAP(m, w) (r->m ? w : NULL)

static const sqlite3_io_methods *shim_methods_for(const sqlite3_io_methods *r)
{
	pthread_mutex_lock(&io_tables_lock);
	size_t i = 0;
	for (; i < sizeof io_tables / sizeof io_tables[0] && io_tables[i].real; i++)
		if (io_tables[i].real == r)
			goto out;
	if (i == sizeof io_tables / sizeof io_tables[0]) {
		fprintf(stderr, "sqlite-faults: too many io_methods tables\n");
		abort();
	}
	sqlite3_io_methods *s = &io_tables[i].shim;
	memset(s, 0, sizeof *s);
	s->iVersion = r->iVersion;
	s->xClose = WRAP(xClose, io_close);
	s->xRead = WRAP(xRead, io_read);
	s->xWrite = WRAP(xWrite, io_write);
	s->xTruncate = WRAP(xTruncate, io_truncate);
	s->xSync = WRAP(xSync, io_sync);
	s->xFileSize = WRAP(xFileSize, io_file_size);
	s->xLock = WRAP(xLock, io_lock);
	s->xUnlock = WRAP(xUnlock, io_unlock);
	s->xCheckReservedLock = WRAP(xCheckReservedLock, io_check_reserved);
	s->xFileControl = WRAP(xFileControl, io_file_control);
	s->xSectorSize = WRAP(xSectorSize, io_sector_size);
	s->xDeviceCharacteristics = WRAP(xDeviceCharacteristics, io_device_characteristics);
	if (r->iVersion >= 2) {
		s->xShmMap = WRAP(xShmMap, io_shm_map);
		s->xShmLock = WRAP(xShmLock, io_shm_lock);
		s->xShmBarrier = WRAP(xShmBarrier, io_shm_barrier);
		s->xShmUnmap = WRAP(xShmUnmap, io_shm_unmap);
	}
	if (r->iVersion >= 3) {
		s->xFetch = WRAP(xFetch, io_fetch);
		s->xUnfetch = WRAP(xUnfetch, io_unfetch);
	}
	io_tables[i].real = r;
out:
	pthread_mutex_unlock(&io_tables_lock);
	return &io_tables[i].shim;
}

static int vfs_open(sqlite3_vfs *v, sqlite3_filename name, sqlite3_file *f, int flags, int *out)
{
	(void)v;
	struct shim_file *p = (struct shim_file *)f;
	p->real = (sqlite3_file *)(p + 1);
	p->base.pMethods = NULL;
	int rc = real_vfs->xOpen(real_vfs, name, p->real, flags, out);
	/* SQLite calls xClose if pMethods is set, even when xOpen failed. */
	p->base.pMethods = p->real->pMethods ? shim_methods_for(p->real->pMethods) : NULL;
	return rc;
}
static int vfs_delete(sqlite3_vfs *v, const char *name, int sync)
{
	(void)v;
	return real_vfs->xDelete(real_vfs, name, sync);
}
static int vfs_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	(void)v;
	return real_vfs->xAccess(real_vfs, name, flags, out);
}
static int vfs_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
	(void)v;
	return real_vfs->xFullPathname(real_vfs, name, n, out);
}
static void *vfs_dlopen(sqlite3_vfs *v, const char *name)
{
	(void)v;
	return real_vfs->xDlOpen(real_vfs, name);
}
static void vfs_dlerror(sqlite3_vfs *v, int n, char *msg)
{
	(void)v;
	real_vfs->xDlError(real_vfs, n, msg);
}
static void (*vfs_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	(void)v;
	return real_vfs->xDlSym(real_vfs, h, sym);
}
static void vfs_dlclose(sqlite3_vfs *v, void *h)
{
	(void)v;
	real_vfs->xDlClose(real_vfs, h);
}
static int vfs_randomness(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return real_vfs->xRandomness(real_vfs, n, out);
}
static int vfs_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return real_vfs->xSleep(real_vfs, us);
}
static int vfs_current_time(sqlite3_vfs *v, double *out)
{
	(void)v;
	return real_vfs->xCurrentTime(real_vfs, out);
}
static int vfs_get_last_error(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return real_vfs->xGetLastError ? real_vfs->xGetLastError(real_vfs, n, out) : 0;
}
static int vfs_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	return real_vfs->xCurrentTimeInt64(real_vfs, out);
}
static int vfs_set_syscall(sqlite3_vfs *v, const char *name, sqlite3_syscall_ptr p)
{
	(void)v;
	return real_vfs->xSetSystemCall(real_vfs, name, p);
}
static sqlite3_syscall_ptr vfs_get_syscall(sqlite3_vfs *v, const char *name)
{
	(void)v;
	return real_vfs->xGetSystemCall(real_vfs, name);
}
static const char *vfs_next_syscall(sqlite3_vfs *v, const char *name)
{
	(void)v;
	return real_vfs->xNextSystemCall(real_vfs, name);
}

/* Installs both shims; before any other use of SQLite in the process. */
static void install_shims(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &mem_orig) != SQLITE_OK) {
		fprintf(stderr, "sqlite-faults: SQLITE_CONFIG_GETMALLOC failed\n");
		exit(1);
	}
	sqlite3_mem_methods shim = mem_orig;
	shim.xMalloc = shim_malloc;
	shim.xRealloc = shim_realloc;
	if (sqlite3_config(SQLITE_CONFIG_MALLOC, &shim) != SQLITE_OK) {
		fprintf(stderr, "sqlite-faults: SQLITE_CONFIG_MALLOC failed (SQLite already "
				"initialised?)\n");
		exit(1);
	}
	real_vfs = sqlite3_vfs_find("unix"); /* initialises SQLite */
	CHECK(real_vfs);
	shim_vfs = (sqlite3_vfs){
		.iVersion = 3,
		.szOsFile = (int)sizeof(struct shim_file) + real_vfs->szOsFile,
		.mxPathname = real_vfs->mxPathname,
		.zName = "sqlite-faults",
		.xOpen = vfs_open,
		.xDelete = vfs_delete,
		.xAccess = vfs_access,
		.xFullPathname = vfs_full_pathname,
		.xDlOpen = vfs_dlopen,
		.xDlError = vfs_dlerror,
		.xDlSym = vfs_dlsym,
		.xDlClose = vfs_dlclose,
		.xRandomness = vfs_randomness,
		.xSleep = vfs_sleep,
		.xCurrentTime = vfs_current_time,
		.xGetLastError = vfs_get_last_error,
		.xCurrentTimeInt64 = vfs_current_time64,
		.xSetSystemCall = vfs_set_syscall,
		.xGetSystemCall = vfs_get_syscall,
		.xNextSystemCall = vfs_next_syscall,
	};
	CHECK(real_vfs->iVersion >= 3);
	CHECK_INT_EQ(sqlite3_vfs_register(&shim_vfs, 1), SQLITE_OK);
	CHECK(sqlite3_vfs_find(NULL) == &shim_vfs);
}

/* ------------------------------------------------------------ failure context */

/* What was going on, printed if the test dies (crash, abort, failed check). */
static char context[512];
static volatile sig_atomic_t in_case;

static void set_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_context(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(context, sizeof context, fmt, ap);
	va_end(ap);
}

static void print_context(void)
{
	static const char pre[] = "\nsqlite-faults: died during: ";
	if (!in_case)
		return;
	ssize_t w = write(2, pre, sizeof pre - 1);
	w = write(2, context, strnlen(context, sizeof context));
	w = write(2, "\n", 1);
	(void)w;
}

static void on_fatal(int sig)
{
	print_context();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_context_reporting(void)
{
	atexit(print_context);
#ifdef SF_ASAN
	__sanitizer_set_death_callback(print_context);
#else
	signal(SIGSEGV, on_fatal);
	signal(SIGBUS, on_fatal);
#endif
	signal(SIGABRT, on_fatal);
	signal(SIGFPE, on_fatal);
	signal(SIGILL, on_fatal);
}

#define FAIL(...)                                                                         \
	do {                                                                              \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                           \
		fprintf(stderr, __VA_ARGS__);                                             \
		fprintf(stderr, "\n");                                                    \
		exit(1);                                                                  \
	} while (0)

/* ------------------------------------------------------------ HTTP */

struct buf {
	char *p;
	size_t len;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t add = size * n;
	char *p = realloc(b->p, b->len + add + 1);
	CHECK(p);
	b->p = p;
	memcpy(b->p + b->len, data, add);
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

/* method path with key (NULL: none) and a JSON body (NULL: none); a transfer
 * that fails or takes longer than REQUEST_TIMEOUT_S fails the test. */
static struct http_resp call(const struct test_server *ts, const char *method, const char *path,
			     const char *key, const char *body)
{
	CURL *c = curl_easy_init();
	CHECK(c);
	char url[1024], auth[256];
	snprintf(url, sizeof url, "%s%s", ts->base, path);
	struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
	if (key) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
		hl = curl_slist_append(hl, auth);
	}
	hl = curl_slist_append(hl, body ? "Content-Type: application/json" : "Content-Type:");
	struct buf b = {calloc(1, 1), 0}, h = {calloc(1, 1), 0};
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)REQUEST_TIMEOUT_S);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK)
		FAIL("%s %s: %s (%s)", method, path, curl_easy_strerror(rc),
		     rc == CURLE_OPERATION_TIMEDOUT ? "the server HANGS" : "no answer");
	return (struct http_resp){status, b.p, b.len, h.p};
}

/* A 5xx answer must be the error envelope {"statusCode":status,"error":..,"message":..}. */
static void check_envelope(const struct http_resp *r)
{
	cJSON *j = cJSON_Parse(r->body);
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "statusCode");
	if (!cJSON_IsObject(j) || !cJSON_IsNumber(sc) || (long)sc->valuedouble != r->status ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error")) ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "message")))
		FAIL("status %ld without its error envelope: %s", r->status, r->body);
	cJSON_Delete(j);
}

static const char *json_str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ------------------------------------------------------------ the database, directly */

/* A separate connection on the server's file (faults disarmed). */
static sqlite3 *side_open(const char *path)
{
	CHECK(!atomic_load(&mem_cd.armed) && !atomic_load(&io_cd.armed));
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		FAIL("cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "?");
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void integrity_check(const char *path, const char *when)
{
	sqlite3 *db = side_open(path);
	const char *checks[] = {"PRAGMA integrity_check", "PRAGMA foreign_key_check"};
	for (int i = 0; i < 2; i++) {
		sqlite3_stmt *st = NULL;
		int rc = sqlite3_prepare_v2(db, checks[i], -1, &st, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(st);
		if (i == 0 && (rc != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(st, 0), "ok")))
			FAIL("CORRUPT database %s: %s", when,
			     rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0)
					      : sqlite3_errmsg(db));
		if (i == 1 && rc != SQLITE_DONE)
			FAIL("foreign_key_check %s: %s", when,
			     rc == SQLITE_ROW ? "a row breaks a foreign key" : sqlite3_errmsg(db));
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
}

static long long side_int(sqlite3 *db, const char *sql, const char *arg)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK && arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		FAIL("%s: %s", sql, sqlite3_errmsg(db));
	long long v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The text of one row's columns, "a|b|c", NULL as "NULL" (quote() in SQL). */
static char *side_row(sqlite3 *db, const char *sql, const char *arg)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK && arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
	char *out = calloc(1, 1);
	size_t len = 0;
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const char *v = (const char *)sqlite3_column_text(st, i);
			size_t n = strlen(v ? v : "NULL") + 2;
			out = realloc(out, len + n + 1);
			len += (size_t)snprintf(out + len, n + 1, "%s%s", i ? "|" : (len ? "\n" : ""),
						v ? v : "NULL");
		}
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE)
		FAIL("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return out;
}

/* ct_ada as stored: the fields a PATCH changes, and all the rest (its other
 * columns, channels and memberships), which a PATCH must leave alone. */
struct ada {
	char name[64];
	int blocked;
	long long blocked_at; /* -1: NULL */
	long long updated_at;
	char *rest;
};

#define ADA "(SELECT pk FROM contacts WHERE org_id = 'org_demo' AND id = 'ct_ada')"

static struct ada ada_stored(const char *path)
{
	sqlite3 *db = side_open(path);
	struct ada a;
	memset(&a, 0, sizeof a);
	char *row = side_row(db, "SELECT quote(name), blocked, coalesce(blocked_at, -1), updated_at"
				 " FROM contacts WHERE pk = " ADA, NULL);
	char q[80] = "";
	if (sscanf(row, "%79[^|]|%d|%lld|%lld", q, &a.blocked, &a.blocked_at, &a.updated_at) != 4)
		FAIL("reading ct_ada from the file: %s", row);
	/* quote(): 'text' or NULL */
	size_t n = strlen(q);
	if (n >= 2 && q[0] == '\'')
		snprintf(a.name, sizeof a.name, "%.*s", (int)(n - 2), q + 1);
	else
		snprintf(a.name, sizeof a.name, "(null:%.40s)", q);
	free(row);
	char *own = side_row(db, "SELECT pk, org_id, id, unsubscribed, is_admin, ai_replies_disabled,"
				 " created_at, quote(unsubscribed_at), quote(unsubscribe_reason),"
				 " quote(unsubscribe_feedback) FROM contacts WHERE pk = " ADA, NULL);
	char *ch = side_row(db, "SELECT * FROM channels WHERE contact_pk = " ADA " ORDER BY pk", NULL);
	char *sg = side_row(db, "SELECT * FROM contact_segments WHERE contact_pk = " ADA
				" ORDER BY segment_pk", NULL);
	size_t len = strlen(own) + strlen(ch) + strlen(sg) + 8;
	a.rest = malloc(len);
	snprintf(a.rest, len, "%s\n--\n%s\n--\n%s", own, ch, sg);
	free(own);
	free(ch);
	free(sg);
	sqlite3_close(db);
	return a;
}

/* What went wrong so far in a case; the case fails at its end if anything did. */
static int violations;

#define VIOLATION(...)                                                                    \
	do {                                                                              \
		violations++;                                                             \
		fprintf(stderr, "VIOLATION: ");                                           \
		fprintf(stderr, __VA_ARGS__);                                             \
		fprintf(stderr, "\n");                                                    \
	} while (0)

/* ct_ada as the server reads it (GET /__admin/...), checked against the file. */
static struct ada ada_served(const struct test_server *ts, const char *path, const char *what)
{
	struct http_resp r = call(ts, "GET", "/__admin/orgs/org_demo/contacts/ct_ada", NULL, NULL);
	if (r.status != 200)
		FAIL("%s: after disarming, GET /__admin/orgs/org_demo/contacts/ct_ada: %ld %s", what,
		     r.status, r.body);
	cJSON *j = cJSON_Parse(r.body);
	CHECK(j);
	const char *name = json_str(j, "name");
	char served[64];
	snprintf(served, sizeof served, "%s", name ? name : "(null:NULL)");
	int blocked = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "blocked"));
	bool has_at = json_str(j, "blocked_at") != NULL;
	cJSON_Delete(j);
	http_resp_cleanup(&r);
	struct ada f = ada_stored(path);
	if (strcmp(served, f.name) || blocked != f.blocked)
		VIOLATION("%s: the server reads ct_ada as name %s blocked %d, the file holds %s "
			  "blocked %d", what, served, blocked, f.name, f.blocked);
	if (f.blocked != (f.blocked_at != -1) || has_at != (f.blocked_at != -1))
		VIOLATION("%s: ct_ada blocked %d but blocked_at %lld in the file, %s in the answer",
			  what, f.blocked, f.blocked_at, has_at ? "set" : "null");
	return f;
}

/* ------------------------------------------------------------ the runs */

enum fault_kind { FAULT_ALLOC, FAULT_IOERR, FAULT_FULL };
enum req_kind { REQ_PATCH, REQ_CREATE, REQ_ORG_CREATE, REQ_ORG_DELETE, REQ_RESET };

static const char *const fault_names[] = {"allocation", "write (SQLITE_IOERR_WRITE)",
					  "write (SQLITE_FULL)"};

struct tally {
	int n_reached;		/* the last N tried */
	bool clean;		/* N reached a request the fault did not touch */
	int ok, s500, s503, s507, other5xx, wrong;
	long max_fired;
};

static int64_t mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void count_status(struct tally *t, long status)
{
	switch (status) {
	case 500: t->s500++; break;
	case 503: t->s503++; break;
	case 507: t->s507++; break;
	default: t->other5xx++; break;
	}
}

static void arm(enum fault_kind fk, long n, bool persistent)
{
	if (fk == FAULT_ALLOC) {
		cd_arm(&mem_cd, n, persistent);
	} else {
		atomic_store(&io_fail_code, fk == FAULT_FULL ? SQLITE_FULL : SQLITE_IOERR_WRITE);
		cd_arm(&io_cd, n, persistent);
	}
}

static long disarm(enum fault_kind fk)
{
	struct countdown *c = fk == FAULT_ALLOC ? &mem_cd : &io_cd;
	cd_disarm(c);
	return atomic_load(&c->fired);
}

/* SQLITE_NOMEM and SQLITE_IOERR map to 503 and SQLITE_FULL to 507 (errors.c);
 * a 500 means some path lost SQLite's code on the way: worth a note, not a
 * failure (a 5xx envelope is all the contract asks). */
static void note_500(const char *what, const struct http_resp *r)
{
	if (r->status == 500)
		printf("note: %s: answered 500: %s\n", what, r->body);
}

/* A normal PATCH after the fault: the server must still work. */
static void patch_normally(const struct test_server *ts, const char *path, const char *what)
{
	char ctx[300];
	snprintf(ctx, sizeof ctx, "normal PATCH after %s", what);
	set_context("%s", ctx);
	struct http_resp r = call(ts, "PATCH", "/orgs/c/contacts/ct_ada", "sk_test_demo",
				  "{\"name\":\"normal\"}");
	if (r.status != 200)
		FAIL("%s: answered %ld: %s (the server no longer works)", ctx, r.status, r.body);
	http_resp_cleanup(&r);
	struct ada a = ada_served(ts, path, ctx);
	if (strcmp(a.name, "normal"))
		VIOLATION("%s: answered 200 but the name stored is %s", ctx, a.name);
	free(a.rest);
}

/* The store keeps what a PATCH answer made of ct_ada's channels and segments
 * (store_lists_get), and a PATCH that finds them kept reads neither: so each
 * faulted PATCH is preceded by a write elsewhere (a reset of another org),
 * which makes the store forget them, and the fault can land in those reads. */
static void forget_kept_lists(const struct test_server *ts)
{
	struct http_resp r = call(ts, "POST", "/__admin/reset", NULL, "{\"org_id\":\"org_acme\"}");
	if (r.status != 200)
		FAIL("resetting org_acme: answered %ld: %s", r.status, r.body);
	http_resp_cleanup(&r);
}

static void run_patch(const struct test_server *ts, const char *path, enum fault_kind fk,
		      bool persistent, int64_t deadline, struct tally *t)
{
	const char *mode = persistent ? "persistent" : "once";
	struct ada prev = ada_served(ts, path, "before the run");
	for (int n = 1; n <= N_MAX; n++) {
		char body[128], what[256], want[32];
		int blocked = !prev.blocked;
		snprintf(body, sizeof body, "{\"name\":\"v%d\",\"blocked\":%s}", n,
			 blocked ? "true" : "false");
		snprintf(want, sizeof want, "v%d", n);
		snprintf(what, sizeof what, "PATCH /orgs/c/contacts/ct_ada %s with %s failure #%d (%s)",
			 body, fault_names[fk], n, mode);
		set_context("%s", what);
		t->n_reached = n;
		forget_kept_lists(ts);
		arm(fk, n, persistent);
		struct http_resp r = call(ts, "PATCH", "/orgs/c/contacts/ct_ada", "sk_test_demo", body);
		long fired = disarm(fk);
		if (fired > t->max_fired)
			t->max_fired = fired;
		struct ada now = ada_served(ts, path, what);
		if (r.status == 200) {
			t->ok++;
			cJSON *j = cJSON_Parse(r.body);
			const char *answered = j ? json_str(j, "name") : NULL;
			if (!answered || strcmp(answered, want))
				VIOLATION("%s: 200 answering name %s", what, answered ? answered : "(none)");
			cJSON_Delete(j);
			if (strcmp(now.name, want) || now.blocked != blocked)
				VIOLATION("%s: answered 200 but NOT STORED: name %s blocked %d (before: "
					  "%s %d)", what, now.name, now.blocked, prev.name, prev.blocked);
			if (strcmp(now.rest, prev.rest))
				VIOLATION("%s: answered 200 and changed more than it should:\n"
					  "before:\n%s\nafter:\n%s", what, prev.rest, now.rest);
		} else {
			if (r.status >= 500 && r.status <= 599) {
				check_envelope(&r);
				count_status(t, r.status);
				note_500(what, &r);
			} else {
				t->wrong++;
				VIOLATION("%s: answered %ld (neither 200 nor 5xx): %s", what, r.status,
					  r.body);
			}
			if (strcmp(now.name, prev.name) || now.blocked != prev.blocked ||
			    now.blocked_at != prev.blocked_at || now.updated_at != prev.updated_at ||
			    strcmp(now.rest, prev.rest))
				VIOLATION("%s: answered %ld but the change is (partly) STORED: name %s "
					  "blocked %d blocked_at %lld (before: %s %d %lld)",
					  what, r.status, now.name, now.blocked, now.blocked_at,
					  prev.name, prev.blocked, prev.blocked_at);
		}
		http_resp_cleanup(&r);
		free(now.rest);
		patch_normally(ts, path, what);
		free(prev.rest);
		prev = ada_served(ts, path, what);
		if (n % 10 == 0)
			integrity_check(path, what);
		if (!fired) {
			t->clean = true;
			break;
		}
		if (mono_ms() > deadline)
			break;
	}
	free(prev.rest);
	integrity_check(path, "at the end of the run");
}

/* Contacts without a channel: a half-made contact would be one. */
#define BARE_SQL                                                                       \
	"SELECT count(*) FROM contacts c WHERE NOT EXISTS"                             \
	" (SELECT 1 FROM channels h WHERE h.contact_pk = c.pk)"

static void run_create(const struct test_server *ts, const char *path, enum fault_kind fk,
		       bool persistent, int64_t deadline, struct tally *t)
{
	const char *mode = persistent ? "persistent" : "once";
	static int serial;
	for (int n = 1; n <= N_MAX; n++) {
		char body[128], what[256], email[64];
		int k = serial++;
		snprintf(email, sizeof email, "n%d@example.com", k);
		snprintf(body, sizeof body, "{\"channel\":{\"email\":\"%s\"}}", email);
		snprintf(what, sizeof what, "POST /orgs/c/contacts %s with %s failure #%d (%s)", body,
			 fault_names[fk], n, mode);
		set_context("%s", what);
		t->n_reached = n;
		sqlite3 *db = side_open(path);
		long long contacts0 = side_int(db, "SELECT count(*) FROM contacts", NULL);
		long long channels0 = side_int(db, "SELECT count(*) FROM channels", NULL);
		long long bare0 = side_int(db, BARE_SQL, NULL);
		sqlite3_close(db);

		arm(fk, n, persistent);
		struct http_resp r = call(ts, "POST", "/orgs/c/contacts", "sk_test_demo", body);
		long fired = disarm(fk);
		if (fired > t->max_fired)
			t->max_fired = fired;

		db = side_open(path);
		long long contacts1 = side_int(db, "SELECT count(*) FROM contacts", NULL);
		long long channels1 = side_int(db, "SELECT count(*) FROM channels", NULL);
		long long with_email =
			side_int(db, "SELECT count(*) FROM channels WHERE email = ?1", email);
		long long bare1 = side_int(db, BARE_SQL, NULL);
		if (bare1 != bare0)
			VIOLATION("%s: answered %ld and contacts with no channel went %lld -> %lld",
				  what, r.status, bare0, bare1);
		if (r.status == 201) {
			t->ok++;
			cJSON *j = cJSON_Parse(r.body);
			const char *id = j ? json_str(j, "id") : NULL;
			if (!id) {
				VIOLATION("%s: 201 without an id: %s", what, r.body);
			} else {
				char *stored = side_row(db,
							"SELECT c.org_id, c.id, quote(c.name), h.type,"
							" quote(h.user_id), quote(h.email), quote(h.name)"
							" FROM contacts c JOIN channels h ON h.contact_pk = c.pk"
							" WHERE c.id = ?1", id);
				char want[256];
				/* No name given: the contact and its channel have none. */
				snprintf(want, sizeof want, "org_demo|%s|NULL|custom|'%s'|'%s'|NULL", id,
					 email, email);
				if (contacts1 != contacts0 + 1 || channels1 != channels0 + 1 ||
				    with_email != 1 || strcmp(stored, want))
					VIOLATION("%s: answered 201 but NOT STORED as asked: contacts %lld "
						  "-> %lld, channels %lld -> %lld; stored row:\n  %s\n"
						  "expected:\n  %s\nanswer: %s",
						  what, contacts0, contacts1, channels0, channels1, stored,
						  want, r.body);
				free(stored);
			}
			cJSON_Delete(j);
		} else {
			if (r.status >= 500 && r.status <= 599) {
				check_envelope(&r);
				count_status(t, r.status);
				note_500(what, &r);
			} else {
				t->wrong++;
				VIOLATION("%s: answered %ld (neither 201 nor 5xx): %s", what, r.status,
					  r.body);
			}
			if (contacts1 != contacts0 || channels1 != channels0 || with_email)
				VIOLATION("%s: answered %ld but the contact is (partly) STORED: contacts "
					  "%lld -> %lld, channels %lld -> %lld, channels with %s: %lld",
					  what, r.status, contacts0, contacts1, channels0, channels1,
					  email, with_email);
		}
		sqlite3_close(db);
		http_resp_cleanup(&r);
		patch_normally(ts, path, what);
		if (n % 10 == 0)
			integrity_check(path, what);
		if (!fired) {
			t->clean = true;
			break;
		}
		if (mono_ms() > deadline)
			break;
	}
	integrity_check(path, "at the end of the run");
}

/* ------------------------------------------------------------ isolated orgs and resets */

/* These runs start the server with --seed SEED and draw the same ids as it does
 * (ids_generate from the same seed), so that they know the org id and the key
 * that a POST /__admin/orgs answered with an error was given. Nothing else in
 * them draws ids: the server draws two per create, the org's and the key's. */
#define SEED "4242"
static struct ids *shadow_ids;

/* GET /orgs/c/contacts with key: 200, or 401 "Invalid API key" for a key the
 * index does not hold; anything else fails the test. */
static long key_status(const struct test_server *ts, const char *key, const char *what)
{
	struct http_resp r = call(ts, "GET", "/orgs/c/contacts", key, NULL);
	long status = r.status;
	if (status == 401 && !strstr(r.body, "Invalid API key"))
		FAIL("%s: GET /orgs/c/contacts with %s: 401 for another reason: %s", what, key,
		     r.body);
	if (status != 200 && status != 401)
		FAIL("%s: GET /orgs/c/contacts with %s: %ld %s", what, key, status, r.body);
	http_resp_cleanup(&r);
	return status;
}

/* POST /__admin/orgs copying org_demo_eu (the smallest fixture org, for the
 * shortest sweep); org and key get the ids the server draws for it. */
static struct http_resp org_create_call(const struct test_server *ts, char org[IDS_MAX],
					char key[IDS_MAX])
{
	ids_generate(shadow_ids, "org_", org);
	ids_generate(shadow_ids, "sk_test_", key);
	return call(ts, "POST", "/__admin/orgs", NULL, "{\"from\":\"org_demo_eu\"}");
}

/* An isolated org made with no fault armed. */
static void org_create_clean(const struct test_server *ts, char org[IDS_MAX], char key[IDS_MAX],
			     const char *what)
{
	struct http_resp r = org_create_call(ts, org, key);
	if (r.status != 201)
		FAIL("%s: POST /__admin/orgs with no fault: %ld %s", what, r.status, r.body);
	http_resp_cleanup(&r);
}

/* Deletes org with no fault armed. gone_ok once a violation was found: the
 * request under test may have removed it though it failed. */
static void org_delete_clean(const struct test_server *ts, const char *org, bool gone_ok,
			     const char *what)
{
	char p[128];
	snprintf(p, sizeof p, "/__admin/orgs/%s", org);
	struct http_resp r = call(ts, "DELETE", p, NULL, NULL);
	if (r.status != 204 && !(gone_ok && r.status == 404))
		FAIL("%s: DELETE %s with no fault: %ld %s", what, p, r.status, r.body);
	http_resp_cleanup(&r);
}

/* What a reset or an org's create or delete may change, as stored: the orgs,
 * the keys, row counts, and ct_ada's name (which the runs change beforehand). */
static char *state_stored(const char *path)
{
	sqlite3 *db = side_open(path);
	char *s = side_row(db, "SELECT (SELECT group_concat(id) FROM (SELECT id FROM orgs ORDER BY id)),"
			       " (SELECT group_concat(key || '>' || org_id) FROM"
			       " (SELECT key, org_id FROM api_keys ORDER BY key)),"
			       " (SELECT count(*) FROM segments), (SELECT count(*) FROM contacts),"
			       " (SELECT count(*) FROM channels), (SELECT count(*) FROM contact_segments),"
			       " (SELECT quote(name) FROM contacts WHERE pk = " ADA ")", NULL);
	sqlite3_close(db);
	return s;
}

/* The org as stored: "orgs with its id|its keys|its contacts" ("0|NULL|0" when
 * there is none). */
static char *org_stored(const char *path, const char *org)
{
	sqlite3 *db = side_open(path);
	char *s = side_row(db, "SELECT (SELECT count(*) FROM orgs WHERE id = ?1),"
			       " (SELECT group_concat(key) FROM api_keys WHERE org_id = ?1),"
			       " (SELECT count(*) FROM contacts WHERE org_id = ?1)", org);
	sqlite3_close(db);
	return s;
}

static void tally_failure(struct tally *t, const struct http_resp *r, long ok_status,
			  const char *what)
{
	if (r->status >= 500 && r->status <= 599) {
		check_envelope(r);
		count_status(t, r->status);
		note_500(what, r);
	} else {
		t->wrong++;
		VIOLATION("%s: answered %ld (neither %ld nor 5xx): %s", what, r->status, ok_status,
			  r->body);
	}
}

/* The fixture keys must keep working whatever happened to the index. */
static void demo_key_works(const struct test_server *ts, const char *what)
{
	if (key_status(ts, "sk_test_demo", what) != 200)
		VIOLATION("%s: sk_test_demo no longer answers", what);
}

/* POST /__admin/orgs with the Nth failure: 201 with the org and its key stored
 * and usable, or a 5xx with neither stored and the key unknown (401). */
static void run_org_create(const struct test_server *ts, const char *path, enum fault_kind fk,
			   bool persistent, int64_t deadline, struct tally *t)
{
	const char *mode = persistent ? "persistent" : "once";
	char *copied = org_stored(path, "org_demo_eu");
	for (int n = 1; n <= N_MAX_ADMIN; n++) {
		char what[256], org[IDS_MAX], key[IDS_MAX];
		snprintf(what, sizeof what, "POST /__admin/orgs with %s failure #%d (%s)",
			 fault_names[fk], n, mode);
		set_context("%s", what);
		t->n_reached = n;
		char *before = state_stored(path);
		arm(fk, n, persistent);
		struct http_resp r = org_create_call(ts, org, key);
		long fired = disarm(fk);
		if (fired > t->max_fired)
			t->max_fired = fired;
		char *stored = org_stored(path, org), want[128];
		long served = key_status(ts, key, what);
		if (r.status == 201) {
			t->ok++;
			cJSON *j = cJSON_Parse(r.body);
			const char *o = j ? json_str(j, "org_id") : NULL, *k = j ? json_str(j, "api_key") : NULL;
			if (!o || !k || strcmp(o, org) || strcmp(k, key))
				FAIL("%s: answered %s, the test expected org %s key %s (ids out of step)",
				     what, r.body, org, key);
			cJSON_Delete(j);
			/* Its key alone, and as many contacts as org_demo_eu. */
			snprintf(want, sizeof want, "1|%s|%s", key, strrchr(copied, '|') + 1);
			if (strcmp(stored, want))
				VIOLATION("%s: answered 201 but NOT STORED: org|key|contacts %s, "
					  "expected %s", what, stored, want);
			if (served != 200)
				VIOLATION("%s: answered 201 but its key %s answers %ld", what, key,
					  served);
			org_delete_clean(ts, org, violations > 0, what);
		} else {
			tally_failure(t, &r, 201, what);
			char *after = state_stored(path);
			if (strcmp(stored, "0|NULL|0") || strcmp(before, after))
				VIOLATION("%s: answered %ld but the org is (partly) STORED: org|key|"
					  "contacts %s; before:\n  %s\nafter:\n  %s",
					  what, r.status, stored, before, after);
			if (served != 401)
				VIOLATION("%s: answered %ld but its key %s answers %ld (the index has "
					  "it)", what, r.status, key, served);
			free(after);
		}
		free(stored);
		free(before);
		http_resp_cleanup(&r);
		demo_key_works(ts, what);
		if (n % 10 == 0)
			integrity_check(path, what);
		if (!fired) {
			t->clean = true;
			break;
		}
		if (mono_ms() > deadline)
			break;
	}
	free(copied);
	integrity_check(path, "at the end of the run");
}

/* DELETE /__admin/orgs/{org} with the Nth failure: 204 with the org gone from
 * the file and its key unknown (401), or a 5xx with both as they were. */
static void run_org_delete(const struct test_server *ts, const char *path, enum fault_kind fk,
			   bool persistent, int64_t deadline, struct tally *t)
{
	const char *mode = persistent ? "persistent" : "once";
	for (int n = 1; n <= N_MAX_ADMIN; n++) {
		char what[256], org[IDS_MAX], key[IDS_MAX], p[128];
		snprintf(what, sizeof what, "DELETE /__admin/orgs/{org} with %s failure #%d (%s)",
			 fault_names[fk], n, mode);
		set_context("%s", what);
		t->n_reached = n;
		org_create_clean(ts, org, key, what);
		char *before = state_stored(path);
		snprintf(p, sizeof p, "/__admin/orgs/%s", org);
		arm(fk, n, persistent);
		struct http_resp r = call(ts, "DELETE", p, NULL, NULL);
		long fired = disarm(fk);
		if (fired > t->max_fired)
			t->max_fired = fired;
		char *stored = org_stored(path, org), *after = state_stored(path);
		long served = key_status(ts, key, what);
		if (r.status == 204) {
			t->ok++;
			if (strcmp(stored, "0|NULL|0"))
				VIOLATION("%s: answered 204 but org|key|contacts are still %s", what,
					  stored);
			if (served != 401)
				VIOLATION("%s: answered 204 but the deleted org's key %s answers %ld",
					  what, key, served);
		} else {
			tally_failure(t, &r, 204, what);
			if (strcmp(before, after))
				VIOLATION("%s: answered %ld but the delete is (partly) STORED; "
					  "before:\n  %s\nafter:\n  %s", what, r.status, before, after);
			if (served != 200)
				VIOLATION("%s: answered %ld, the org is %s, but its key %s answers %ld "
					  "(the index lost it)", what, r.status, stored, key, served);
			org_delete_clean(ts, org, violations > 0, what);
		}
		free(stored);
		free(after);
		free(before);
		http_resp_cleanup(&r);
		demo_key_works(ts, what);
		if (n % 10 == 0)
			integrity_check(path, what);
		if (!fired) {
			t->clean = true;
			break;
		}
		if (mono_ms() > deadline)
			break;
	}
	integrity_check(path, "at the end of the run");
}

/* POST /__admin/reset with the Nth failure, after making an isolated org and
 * renaming ct_ada: 200 with the fixture state stored and the org's key unknown
 * (401), or a 5xx with the file as it was and the key still usable. */
static void run_reset(const struct test_server *ts, const char *path, enum fault_kind fk,
		      bool persistent, int64_t deadline, struct tally *t)
{
	const char *mode = persistent ? "persistent" : "once";
	set_context("POST /__admin/reset with no fault, before the run");
	struct http_resp r0 = call(ts, "POST", "/__admin/reset", NULL, NULL);
	if (r0.status != 200)
		FAIL("POST /__admin/reset with no fault: %ld %s", r0.status, r0.body);
	http_resp_cleanup(&r0);
	char *fixture = state_stored(path);
	for (int n = 1; n <= N_MAX_ADMIN; n++) {
		char what[256], org[IDS_MAX], key[IDS_MAX], body[64];
		snprintf(what, sizeof what, "POST /__admin/reset with %s failure #%d (%s)",
			 fault_names[fk], n, mode);
		set_context("%s", what);
		t->n_reached = n;
		org_create_clean(ts, org, key, what);
		snprintf(body, sizeof body, "{\"name\":\"before reset %d\"}", n);
		struct http_resp r = call(ts, "PATCH", "/orgs/c/contacts/ct_ada", "sk_test_demo", body);
		if (r.status != 200)
			FAIL("%s: renaming ct_ada first: %ld %s", what, r.status, r.body);
		http_resp_cleanup(&r);
		char *before = state_stored(path);
		arm(fk, n, persistent);
		r = call(ts, "POST", "/__admin/reset", NULL, NULL);
		long fired = disarm(fk);
		if (fired > t->max_fired)
			t->max_fired = fired;
		char *after = state_stored(path);
		long served = key_status(ts, key, what);
		if (r.status == 200) {
			t->ok++;
			if (strcmp(after, fixture))
				VIOLATION("%s: answered 200 but the file does not hold the fixture "
					  "state:\n  %s\nexpected:\n  %s", what, after, fixture);
			if (served != 401)
				VIOLATION("%s: answered 200 but the isolated org's key %s answers %ld",
					  what, key, served);
		} else {
			tally_failure(t, &r, 200, what);
			if (strcmp(before, after))
				VIOLATION("%s: answered %ld but the reset is (partly) STORED; "
					  "before:\n  %s\nafter:\n  %s", what, r.status, before, after);
			if (served != 200)
				VIOLATION("%s: answered %ld, the file still has the isolated org, but "
					  "its key %s answers %ld (the index lost it)",
					  what, r.status, key, served);
			org_delete_clean(ts, org, violations > 0, what);
		}
		free(after);
		free(before);
		http_resp_cleanup(&r);
		demo_key_works(ts, what);
		if (n % 10 == 0)
			integrity_check(path, what);
		if (!fired) {
			t->clean = true;
			break;
		}
		if (mono_ms() > deadline)
			break;
	}
	free(fixture);
	integrity_check(path, "at the end of the run");
}

static void remove_db(const char *path)
{
	char p[256];
	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-journal", path);
	unlink(p);
}

static const char *const ok_status[] = {
	[REQ_PATCH] = "200", [REQ_CREATE] = "201", [REQ_ORG_CREATE] = "201",
	[REQ_ORG_DELETE] = "204", [REQ_RESET] = "200",
};

static void run_case(const char *name, enum req_kind rk, const enum fault_kind *kinds, size_t n_kinds)
{
	install_shims();
	install_context_reporting();
	in_case = 1;
	violations = 0;
	char *path = test_temp_path();
	remove_db(path);
	set_context("%s: starting the server on %s", name, path);
	struct test_server *ts = test_server_start(NULL, "--db", path, "--seed", SEED, NULL);
	shadow_ids = ids_new(true, strtoull(SEED, NULL, 10));
	int64_t start = mono_ms();
	bool admin = rk == REQ_ORG_CREATE || rk == REQ_ORG_DELETE || rk == REQ_RESET;
	int64_t budget = admin ? ADMIN_BUDGET_MS : CASE_BUDGET_MS;
	int n_max = admin ? N_MAX_ADMIN : N_MAX;
	size_t runs = 2 * n_kinds, run = 0;
	for (size_t k = 0; k < n_kinds; k++)
		for (int persistent = 0; persistent < 2; persistent++, run++) {
			/* Each run gets its share of what is left of the budget. */
			int64_t now = mono_ms();
			int64_t deadline = now + (start + budget - now) / (int64_t)(runs - run);
			struct tally t = {0};
			switch (rk) {
			case REQ_PATCH: run_patch(ts, path, kinds[k], persistent, deadline, &t); break;
			case REQ_CREATE: run_create(ts, path, kinds[k], persistent, deadline, &t); break;
			case REQ_ORG_CREATE:
				run_org_create(ts, path, kinds[k], persistent, deadline, &t);
				break;
			case REQ_ORG_DELETE:
				run_org_delete(ts, path, kinds[k], persistent, deadline, &t);
				break;
			case REQ_RESET: run_reset(ts, path, kinds[k], persistent, deadline, &t); break;
			}
			printf("%s: %s failure, %s: N reached %d%s; %s %d, 5xx %d (500: %d, 503: %d, "
			       "507: %d, other: %d); other statuses: %d; most failures injected in one "
			       "request: %ld\n",
			       name, fault_names[kinds[k]], persistent ? "persistent" : "once",
			       t.n_reached,
			       t.clean ? " (a request got through untouched)"
				       : t.n_reached >= n_max ? " (N_MAX)" : " (time budget)",
			       ok_status[rk], t.ok,
			       t.s500 + t.s503 + t.s507 + t.other5xx, t.s500, t.s503, t.s507,
			       t.other5xx, t.wrong, t.max_fired);
			fflush(stdout);
		}
	set_context("%s: stopping the server", name);
	test_server_stop(ts);
	ids_free(shadow_ids);
	set_context("%s: checking the file after a clean stop", name);
	integrity_check(path, "after the server stopped");
	printf("%s: integrity_check ok after stop (%.1f s)\n", name, (double)(mono_ms() - start) / 1e3);
	remove_db(path);
	free(path);
	if (violations) {
		in_case = 0;
		fprintf(stderr, "%s: %d violation(s), listed above\n", name, violations);
		exit(1);
	}
	in_case = 0;
}

static const enum fault_kind alloc_kinds[] = {FAULT_ALLOC};
static const enum fault_kind write_kinds[] = {FAULT_IOERR, FAULT_FULL};

static void patch_nth_alloc(void)
{
	run_case("patch-survives-nth-allocation-failure", REQ_PATCH, alloc_kinds, 1);
}

static void patch_nth_write(void)
{
	run_case("patch-survives-nth-write-failure", REQ_PATCH, write_kinds, 2);
}

static void create_nth_alloc(void)
{
	run_case("create-survives-nth-allocation-failure", REQ_CREATE, alloc_kinds, 1);
}

static void create_nth_write(void)
{
	run_case("create-survives-nth-write-failure", REQ_CREATE, write_kinds, 2);
}

static void org_create_nth_alloc(void)
{
	run_case("org-create-is-atomic-under-nth-allocation-failure", REQ_ORG_CREATE, alloc_kinds, 1);
}

static void org_create_nth_write(void)
{
	run_case("org-create-is-atomic-under-nth-write-failure", REQ_ORG_CREATE, write_kinds, 2);
}

static void org_delete_nth_alloc(void)
{
	run_case("org-delete-is-atomic-under-nth-allocation-failure", REQ_ORG_DELETE, alloc_kinds, 1);
}

static void org_delete_nth_write(void)
{
	run_case("org-delete-is-atomic-under-nth-write-failure", REQ_ORG_DELETE, write_kinds, 2);
}

static void reset_nth_alloc(void)
{
	run_case("reset-is-atomic-under-nth-allocation-failure", REQ_RESET, alloc_kinds, 1);
}

static void reset_nth_write(void)
{
	run_case("reset-is-atomic-under-nth-write-failure", REQ_RESET, write_kinds, 2);
}

static const struct test_case cases[] = {
	TEST_CASE("sqlite-faults@patch-survives-nth-allocation-failure", patch_nth_alloc),
	TEST_CASE("sqlite-faults@patch-survives-nth-write-failure", patch_nth_write),
	TEST_CASE("sqlite-faults@create-survives-nth-allocation-failure", create_nth_alloc),
	TEST_CASE("sqlite-faults@create-survives-nth-write-failure", create_nth_write),
	TEST_CASE("sqlite-faults@org-create-is-atomic-under-nth-allocation-failure",
		  org_create_nth_alloc),
	TEST_CASE("sqlite-faults@org-create-is-atomic-under-nth-write-failure", org_create_nth_write),
	TEST_CASE("sqlite-faults@org-delete-is-atomic-under-nth-allocation-failure",
		  org_delete_nth_alloc),
	TEST_CASE("sqlite-faults@org-delete-is-atomic-under-nth-write-failure", org_delete_nth_write),
	TEST_CASE("sqlite-faults@reset-is-atomic-under-nth-allocation-failure", reset_nth_alloc),
	TEST_CASE("sqlite-faults@reset-is-atomic-under-nth-write-failure", reset_nth_write),
};

TEST_MAIN(cases)
