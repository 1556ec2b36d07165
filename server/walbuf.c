/* A SQLite VFS that writes each transaction's WAL frames with one write().
 *
 * SQLite appends a WAL frame as two writes, its 24-byte header and then the
 * page, each a pwrite() of its own: a batch of 16 PATCHes (two pages each) was
 * 64 system calls, about 40 % of the store thread's time under load. This shim
 * wraps the default VFS and, on WAL files only, gathers appended bytes in a
 * buffer that goes out in one write when the transaction's commit frame is
 * complete, so COMMIT still returns only after every byte of it reached the
 * operating system (a crash of this process loses nothing acknowledged), and a
 * failing write still fails the COMMIT that made it (the flush happens inside
 * SQLite's own xWrite call of the commit frame's page).
 *
 * The frames of a transaction become visible to other connections (the
 * checkpointer) only when SQLite updates the WAL index after that last write,
 * so no reader can see a frame still in the buffer. Anything else that could
 * look at the file (a read, a sync, its size, a truncation, a file control, a
 * close) writes the buffer out first; a write that is not an append (SQLite
 * rewriting a frame of the open transaction, or fixing checksums after its
 * commit frame) goes straight through after it. So once COMMIT has returned
 * the buffer is empty (tests/test_wal_diff.c checks it after every commit of
 * thousands, beside the same transactions through the unix VFS). After a
 * ROLLBACK it may still hold frames the transaction spilled: SQLite never reads
 * past its last commit and writes the next transaction over them, so they go
 * out before that (as the unix VFS would have written them at the spill).
 * Other files pass straight through. */
#include "walbuf.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
	WALBUF_FRAME_HEADER = 24,    /* bytes before each page in a WAL file */
	/* Written out before growing past this: the unix VFS passes at most
	 * 128 KiB - 1 to one pwrite() (seekAndWriteFd masks the size with 0x1ffff,
	 * so a write of exactly 128 KiB would be a write of nothing). */
	WALBUF_MAX = 120 * 1024,
	WALBUF_FIRST = 60 * 1024, /* the first allocation */
};

struct wfile {
	sqlite3_file base;
	sqlite3_file *real; /* the wrapped file, right after this struct */
	bool wal;	    /* buffer appends (a WAL file) */
	bool commit_due;    /* the last appended frame header marks a commit */
	unsigned char *buf; /* len bytes for offset off, not yet written */
	size_t len, cap;
	sqlite3_int64 off;
	sqlite3_int64 end; /* the end of the furthest write since the WAL header */
};

static sqlite3_vfs *root; /* the wrapped VFS */
static sqlite3_vfs vfs;

#define REAL(f) (((struct wfile *)(void *)(f))->real)
#define RM(f) (REAL(f)->pMethods)

static int flush(struct wfile *f)
{
	if (!f->len)
		return SQLITE_OK;
	int rc = f->real->pMethods->xWrite(f->real, f->buf, (int)f->len, f->off);
	/* Written or not, the bytes are SQLite's to write again: a failed write
	 * failed its transaction, and SQLite rewrites those frames next time. */
	f->len = 0;
	return rc;
}

/* Room for n more bytes, or false (then the caller writes through). */
static bool reserve(struct wfile *f, size_t n)
{
	if (f->len + n <= f->cap)
		return true;
	size_t cap = f->cap ? f->cap : WALBUF_FIRST;
	while (cap < f->len + n)
		cap *= 2;
	if (cap > WALBUF_MAX)
		return false;
	unsigned char *b = realloc(f->buf, cap);
	if (!b)
		return false;
	f->buf = b;
	f->cap = cap;
	return true;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int io_write(sqlite3_file *file, const void *data, int n, sqlite3_int64 off)
{
	struct wfile *f = (struct wfile *)(void *)file;
	if (!f->wal)
		return RM(file)->xWrite(REAL(file), data, n, off);
	int rc;
	if (off == 0)
		f->end = 0; /* a new WAL header: SQLite starts the file again */
	if (f->len && off != f->off + (sqlite3_int64)f->len && (rc = flush(f)) != SQLITE_OK)
		return rc;
	sqlite3_int64 end = off + n;
	if (off < f->end) {
		/* A frame of this transaction written again, or its checksum fixed
		 * after the commit frame: straight through, as nothing after it
		 * would write it out before SQLite publishes the commit. */
		return RM(file)->xWrite(REAL(file), data, n, off);
	}
	f->end = end;
	/* Whether this write completes a commit frame is known from the header
	 * before it, whatever the buffer did in between: a header that fit and a
	 * page that did not (so the buffer went out between the two) must still
	 * end with the page written. */
	bool ends_commit = false;
	if (n == WALBUF_FRAME_HEADER) {
		/* Bytes 4 to 7 of a frame header: the database size after a commit,
		 * 0 in every other frame. */
		f->commit_due = get_be32((const unsigned char *)data + 4) != 0;
	} else {
		ends_commit = f->commit_due;
		f->commit_due = false;
	}
	if (!reserve(f, (size_t)n)) {
		if ((rc = flush(f)) != SQLITE_OK)
			return rc;
		if (!reserve(f, (size_t)n))
			return RM(file)->xWrite(REAL(file), data, n, off);
	}
	if (!f->len)
		f->off = off;
	memcpy(f->buf + f->len, data, (size_t)n);
	f->len += (size_t)n;
	return ends_commit ? flush(f) : SQLITE_OK;
}

static int io_close(sqlite3_file *file)
{
	struct wfile *f = (struct wfile *)(void *)file;
	int rc = flush(f);
	int rc2 = RM(file)->xClose(REAL(file));
	free(f->buf);
	f->buf = NULL;
	file->pMethods = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int io_read(sqlite3_file *file, void *b, int n, sqlite3_int64 off)
{
	int rc = flush((struct wfile *)(void *)file);
	return rc != SQLITE_OK ? rc : RM(file)->xRead(REAL(file), b, n, off);
}

static int io_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	int rc = flush((struct wfile *)(void *)file);
	return rc != SQLITE_OK ? rc : RM(file)->xTruncate(REAL(file), size);
}

static int io_sync(sqlite3_file *file, int flags)
{
	int rc = flush((struct wfile *)(void *)file);
	return rc != SQLITE_OK ? rc : RM(file)->xSync(REAL(file), flags);
}

static int io_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
	int rc = flush((struct wfile *)(void *)file);
	return rc != SQLITE_OK ? rc : RM(file)->xFileSize(REAL(file), size);
}

static int io_file_control(sqlite3_file *file, int op, void *arg)
{
	int rc = flush((struct wfile *)(void *)file);
	return rc != SQLITE_OK ? rc : RM(file)->xFileControl(REAL(file), op, arg);
}

/* The rest only pass through. */
static int io_lock(sqlite3_file *file, int l)
{
	return RM(file)->xLock(REAL(file), l);
}
static int io_unlock(sqlite3_file *file, int l)
{
	return RM(file)->xUnlock(REAL(file), l);
}
static int io_check_reserved(sqlite3_file *file, int *out)
{
	return RM(file)->xCheckReservedLock(REAL(file), out);
}
static int io_sector_size(sqlite3_file *file)
{
	return RM(file)->xSectorSize(REAL(file));
}
static int io_device_characteristics(sqlite3_file *file)
{
	return RM(file)->xDeviceCharacteristics(REAL(file));
}
static int io_shm_map(sqlite3_file *file, int pg, int pgsz, int extend, void volatile **pp)
{
	return RM(file)->xShmMap(REAL(file), pg, pgsz, extend, pp);
}
static int io_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
	return RM(file)->xShmLock(REAL(file), offset, n, flags);
}
static void io_shm_barrier(sqlite3_file *file)
{
	RM(file)->xShmBarrier(REAL(file));
}
static int io_shm_unmap(sqlite3_file *file, int del)
{
	return RM(file)->xShmUnmap(REAL(file), del);
}
static int io_fetch(sqlite3_file *file, sqlite3_int64 off, int amt, void **pp)
{
	return RM(file)->xFetch(REAL(file), off, amt, pp);
}
static int io_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
	return RM(file)->xUnfetch(REAL(file), off, p);
}

/* One table per table of the wrapped VFS (the unix VFS has a few, by locking
 * style), with its iVersion and its NULL members: SQLite reads a NULL xShmMap
 * as "no WAL here". */
static struct {
	const sqlite3_io_methods *real;
	sqlite3_io_methods ours;
} tables[8];
static pthread_mutex_t tables_lock = PTHREAD_MUTEX_INITIALIZER;

#define WRAP(m, w) (r->m ? w : NULL)

static const sqlite3_io_methods *methods_for(const sqlite3_io_methods *r)
{
	const sqlite3_io_methods *found = NULL;
	pthread_mutex_lock(&tables_lock);
	size_t i = 0;
	for (; i < sizeof tables / sizeof tables[0] && tables[i].real; i++)
		if (tables[i].real == r) {
			found = &tables[i].ours;
			goto out;
		}
	if (i == sizeof tables / sizeof tables[0])
		goto out;
	sqlite3_io_methods *m = &tables[i].ours;
	memset(m, 0, sizeof *m);
	m->iVersion = r->iVersion;
	m->xClose = WRAP(xClose, io_close);
	m->xRead = WRAP(xRead, io_read);
	m->xWrite = WRAP(xWrite, io_write);
	m->xTruncate = WRAP(xTruncate, io_truncate);
	m->xSync = WRAP(xSync, io_sync);
	m->xFileSize = WRAP(xFileSize, io_file_size);
	m->xLock = WRAP(xLock, io_lock);
	m->xUnlock = WRAP(xUnlock, io_unlock);
	m->xCheckReservedLock = WRAP(xCheckReservedLock, io_check_reserved);
	m->xFileControl = WRAP(xFileControl, io_file_control);
	m->xSectorSize = WRAP(xSectorSize, io_sector_size);
	m->xDeviceCharacteristics = WRAP(xDeviceCharacteristics, io_device_characteristics);
	if (r->iVersion >= 2) {
		m->xShmMap = WRAP(xShmMap, io_shm_map);
		m->xShmLock = WRAP(xShmLock, io_shm_lock);
		m->xShmBarrier = WRAP(xShmBarrier, io_shm_barrier);
		m->xShmUnmap = WRAP(xShmUnmap, io_shm_unmap);
	}
	if (r->iVersion >= 3) {
		m->xFetch = WRAP(xFetch, io_fetch);
		m->xUnfetch = WRAP(xUnfetch, io_unfetch);
	}
	tables[i].real = r;
	found = m;
out:
	pthread_mutex_unlock(&tables_lock);
	return found;
}

static int vfs_open(sqlite3_vfs *v, sqlite3_filename name, sqlite3_file *file, int flags,
		    int *out_flags)
{
	(void)v;
	struct wfile *f = (struct wfile *)(void *)file;
	memset(f, 0, sizeof *f);
	f->real = (sqlite3_file *)(void *)(f + 1);
	int rc = root->xOpen(root, name, f->real, flags, out_flags);
	if (rc != SQLITE_OK || !f->real->pMethods)
		return rc;
	file->pMethods = methods_for(f->real->pMethods);
	if (!file->pMethods) {
		f->real->pMethods->xClose(f->real);
		return SQLITE_CANTOPEN;
	}
	f->wal = (flags & SQLITE_OPEN_WAL) != 0;
	return SQLITE_OK;
}

static int vfs_delete(sqlite3_vfs *v, const char *name, int sync)
{
	(void)v;
	return root->xDelete(root, name, sync);
}
static int vfs_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	(void)v;
	return root->xAccess(root, name, flags, out);
}
static int vfs_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
	(void)v;
	return root->xFullPathname(root, name, n, out);
}
static void *vfs_dlopen(sqlite3_vfs *v, const char *name)
{
	(void)v;
	return root->xDlOpen(root, name);
}
static void vfs_dlerror(sqlite3_vfs *v, int n, char *msg)
{
	(void)v;
	root->xDlError(root, n, msg);
}
static void (*vfs_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	(void)v;
	return root->xDlSym(root, h, sym);
}
static void vfs_dlclose(sqlite3_vfs *v, void *h)
{
	(void)v;
	root->xDlClose(root, h);
}
static int vfs_randomness(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return root->xRandomness(root, n, out);
}
static int vfs_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return root->xSleep(root, us);
}
static int vfs_current_time(sqlite3_vfs *v, double *out)
{
	(void)v;
	return root->xCurrentTime(root, out);
}
static int vfs_get_last_error(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return root->xGetLastError ? root->xGetLastError(root, n, out) : 0;
}
static int vfs_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	return root->xCurrentTimeInt64(root, out);
}

static const char *registered;

static void register_once(void)
{
#ifdef INVENT_MOCK_NO_WALBUF
	return; /* meson -Dwalbuf=false: SQLite's own writes, for bench/run.sh walbuf */
#endif
	root = sqlite3_vfs_find(NULL);
	if (!root || root->iVersion < 2)
		return;
	vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(struct wfile) + root->szOsFile,
		.mxPathname = root->mxPathname,
		.zName = "invent-walbuf",
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
	};
	if (sqlite3_vfs_register(&vfs, 0) == SQLITE_OK)
		registered = vfs.zName;
}

size_t walbuf_pending(sqlite3 *db)
{
	sqlite3_file *wal = NULL;
	/* In WAL mode the "journal" SQLite hands back is the WAL file. */
	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK ||
	    !wal || !wal->pMethods || wal->pMethods->xWrite != io_write)
		return 0;
	return ((struct wfile *)(void *)wal)->len;
}

const char *walbuf_vfs_name(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, register_once);
	return registered;
}
