/* A differential test of walbuf.c, the VFS that gathers a transaction's WAL
 * frames into one write: the same random transactions run twice, through walbuf
 * and through SQLite's own unix VFS, and after every COMMIT the two WAL files
 * must hold the same bytes up to the end of the commit frame, and a third
 * connection (the unix VFS, as any reader) must read the same rows from both.
 *
 * The two writers are child processes run in lockstep by the parent, which only
 * reads: so each child's SQLite has its own random generator, seeded alike
 * (SQLITE_TESTCTRL_PRNG_SEED), and the WAL salts, and with them every checksum,
 * come out the same. The transactions touch 1 to 300 pages each (inserts and
 * updates of rows about a page long, rows changed twice, some transactions
 * rolled back, a small page cache now and then so that frames spill before the
 * commit and are rewritten in place), with checkpoints of every mode between
 * them, from the writer or from a second connection as the server's
 * checkpointer does, so the WAL restarts and is truncated.
 *
 * Environment: WAL_DIFF_SEED fixes the seed (printed on failure and at the
 * start); WAL_DIFF_SCALE (percent, default 100) scales the number of
 * transactions, which the valgrind setup lowers. */
#include "testlib.h"
#include "walbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

enum {
	WAL_HEADER = 32,
	FRAME_HEADER = 24,
	MAX_TXN_PAGES = 300,
};

static uint64_t seed;

/* splitmix64: the children draw the same sequence from the same seed. */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned below(uint64_t *s, unsigned n)
{
	return (unsigned)(next_rand(s) % n);
}

#define FAIL(...)                                                                        \
	do {                                                                             \
		fprintf(stderr, "wal_diff (seed %" PRIu64 ", WAL_DIFF_SEED=%" PRIu64 " to replay): ", \
			seed, seed);                                                     \
		fprintf(stderr, __VA_ARGS__);                                            \
		fputc('\n', stderr);                                                     \
		exit(1);                                                                 \
	} while (0)

static void exec_or_die(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		FAIL("%s: %s", sql, msg ? msg : "?");
}

struct plan {
	int page_size;
	const char *synchronous;
	int transactions;
};

/* What a child says after each step. */
struct step_report {
	int committed;	    /* 1: COMMIT returned, 0: rolled back */
	long long pending;  /* walbuf_pending() right after (0 through unix) */
};

/* A row about one page long, its bytes drawn from the sequence. */
static void fill_row(uint64_t *s, unsigned char *b, int n)
{
	for (int i = 0; i < n; i += 8) {
		uint64_t v = next_rand(s);
		memcpy(b + i, &v, (size_t)(n - i < 8 ? n - i : 8));
	}
}

static void put_row(sqlite3_stmt *st, sqlite3_int64 id, uint64_t *s, unsigned char *b, int n)
{
	fill_row(s, b, n);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_blob(st, 2, b, n, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		FAIL("writing row %lld: %s", (long long)id, sqlite3_errmsg(sqlite3_db_handle(st)));
	sqlite3_reset(st);
}

/* One writer: runs the plan's transactions through vfs, one per byte read from
 * cmd, and answers each with a step_report on out. */
static void writer(const char *vfs, const char *path, const struct plan *p, int cmd, int out)
{
	sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SEED, (int)(seed | 1), NULL);
	uint64_t rs = seed;
	sqlite3 *db, *ckpt;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) != SQLITE_OK)
		FAIL("open %s", path);
	char sql[256];
	snprintf(sql, sizeof sql,
		 "PRAGMA page_size = %d; PRAGMA journal_mode = WAL; PRAGMA synchronous = %s;"
		 " PRAGMA wal_autocheckpoint = 0;"
		 " CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB NOT NULL)",
		 p->page_size, p->synchronous);
	exec_or_die(db, sql);
	if (sqlite3_open_v2(path, &ckpt, SQLITE_OPEN_READWRITE, vfs) != SQLITE_OK)
		FAIL("open %s for checkpoints", path);
	/* A row fills most of a page (the page's header, the cell's and the
	 * row's own take the rest), so a row changed is a page changed. */
	int row_bytes = p->page_size - p->page_size / 8;
	unsigned char *buf = malloc((size_t)row_bytes);
	sqlite3_stmt *ins, *upd;
	if (sqlite3_prepare_v2(db, "INSERT INTO t (id, b) VALUES (?1, ?2)", -1, &ins, NULL) ||
	    sqlite3_prepare_v2(db, "UPDATE t SET b = ?2 WHERE id = ?1", -1, &upd, NULL))
		FAIL("prepare: %s", sqlite3_errmsg(db));
	sqlite3_int64 rows = 0;
	/* Enough rows for the largest transaction, few enough that reading them
	 * all after every commit stays cheap; past it half of them go. */
	sqlite3_int64 max_rows = p->page_size > 4096 ? MAX_TXN_PAGES / 3 : MAX_TXN_PAGES;
	static const char *modes[] = {"PASSIVE", "FULL", "RESTART", "TRUNCATE"};
	char c;
	while (read(cmd, &c, 1) == 1) {
		if (below(&rs, 5) == 0) {
			snprintf(sql, sizeof sql, "PRAGMA wal_checkpoint(%s)", modes[below(&rs, 4)]);
			exec_or_die(below(&rs, 2) ? ckpt : db, sql);
		}
		/* Mostly small transactions, a quarter up to the largest. */
		unsigned pages = 1 + (below(&rs, 4) ? below(&rs, 40) : below(&rs, MAX_TXN_PAGES));
		exec_or_die(db, below(&rs, 4) ? "PRAGMA cache_size = -2000" : "PRAGMA cache_size = 10");
		exec_or_die(db, "BEGIN");
		sqlite3_int64 kept = rows;
		if (rows >= max_rows) {
			kept = rows / 2;
			snprintf(sql, sizeof sql, "DELETE FROM t WHERE id > %lld", (long long)kept);
			exec_or_die(db, sql);
		}
		sqlite3_int64 inserted = 0;
		for (unsigned i = 0; i < pages; i++) {
			if (kept == 0 || below(&rs, 3) == 0)
				put_row(ins, kept + ++inserted, &rs, buf, row_bytes);
			else
				put_row(upd, 1 + below(&rs, (unsigned)kept), &rs, buf, row_bytes);
		}
		struct step_report r = {.committed = below(&rs, 16) != 0};
		if (r.committed) {
			exec_or_die(db, "COMMIT");
			rows = kept + inserted;
		} else {
			exec_or_die(db, "ROLLBACK");
		}
		r.pending = (long long)walbuf_pending(db);
		if (write(out, &r, sizeof r) != (ssize_t)sizeof r)
			break;
	}
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
	free(buf);
	sqlite3_close(ckpt);
	sqlite3_close(db);
	_exit(0);
}

struct child {
	pid_t pid;
	int cmd, out;
};

static struct child spawn(const char *vfs, const char *path, const struct plan *p)
{
	int c[2], o[2];
	CHECK(pipe(c) == 0 && pipe(o) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(c[1]);
		close(o[0]);
		writer(vfs, path, p, c[0], o[1]);
	}
	close(c[0]);
	close(o[1]);
	return (struct child){pid, c[1], o[0]};
}

static struct step_report step(struct child *ch, const char *who, int n)
{
	struct step_report r;
	if (write(ch->cmd, "s", 1) != 1 || read(ch->out, &r, sizeof r) != (ssize_t)sizeof r)
		FAIL("the %s writer died at transaction %d (its stderr above)", who, n);
	return r;
}

/* The file mapped read-only (NULL when empty); unmap with munmap(p, *len). */
static unsigned char *map_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st))
		FAIL("%s: %s", path, strerror(errno));
	*len = (size_t)st.st_size;
	void *p = *len ? mmap(NULL, *len, PROT_READ, MAP_SHARED, fd, 0) : NULL;
	close(fd);
	if (p == MAP_FAILED)
		FAIL("mmap %s: %s", path, strerror(errno));
	return p;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The end of the last commit frame of the WAL's current generation: frames
 * are read from the start for as long as their salts are the header's (a frame
 * of an earlier generation, left behind by a restart, has other salts). */
static size_t committed_end(const unsigned char *w, size_t len, int page_size)
{
	if (len < WAL_HEADER)
		return 0;
	size_t frame = FRAME_HEADER + (size_t)page_size, end = 0;
	for (size_t off = WAL_HEADER; off + frame <= len; off += frame) {
		if (memcmp(w + off + 8, w + 16, 8))
			break;
		if (be32(w + off + 4))
			end = off + frame;
	}
	return end;
}

/* Whether two connections of the unix VFS read the same rows from the two
 * files; the number of rows goes to count. */
static bool same_rows(sqlite3 *a, sqlite3 *b, long long *count)
{
	sqlite3_stmt *sa, *sb;
	static const char sql[] = "SELECT id, b FROM t ORDER BY id";
	if (sqlite3_prepare_v2(a, sql, -1, &sa, NULL) || sqlite3_prepare_v2(b, sql, -1, &sb, NULL))
		FAIL("read: %s / %s", sqlite3_errmsg(a), sqlite3_errmsg(b));
	bool same = true;
	*count = 0;
	for (;;) {
		int ra = sqlite3_step(sa), rb = sqlite3_step(sb);
		if (ra != rb) {
			same = false;
			break;
		}
		if (ra == SQLITE_DONE)
			break;
		if (ra != SQLITE_ROW)
			FAIL("read: %s", sqlite3_errmsg(a));
		(*count)++;
		int na = sqlite3_column_bytes(sa, 1), nb = sqlite3_column_bytes(sb, 1);
		if (sqlite3_column_int64(sa, 0) != sqlite3_column_int64(sb, 0) || na != nb ||
		    memcmp(sqlite3_column_blob(sa, 1), sqlite3_column_blob(sb, 1), (size_t)na)) {
			same = false;
			break;
		}
	}
	sqlite3_finalize(sa);
	sqlite3_finalize(sb);
	return same;
}

static void run_plan(const struct plan *p, int scale)
{
	char *path_b = test_temp_path(), *path_u = test_temp_path();
	char wal_b[160], wal_u[160];
	snprintf(wal_b, sizeof wal_b, "%s-wal", path_b);
	snprintf(wal_u, sizeof wal_u, "%s-wal", path_u);
	struct child buffered = spawn(walbuf_vfs_name(), path_b, p);
	struct child plain = spawn("unix", path_u, p);
	sqlite3 *read_b = NULL, *read_u = NULL;
	int n_txn = p->transactions * scale / 100;
	if (n_txn < 1)
		n_txn = 1;
	long commits = 0, frames = 0;
	for (int n = 0; n < n_txn; n++) {
		struct step_report rb = step(&buffered, "walbuf", n), ru = step(&plain, "unix", n);
		if (rb.committed != ru.committed)
			FAIL("transaction %d: the two writers disagree on the plan", n);
		/* A rolled-back transaction may leave its spilled frames in the
		 * buffer: SQLite never reads them and writes over them (walbuf.c). */
		if (!rb.committed)
			continue;
		if (rb.pending)
			FAIL("page size %d, transaction %d: %lld bytes still in walbuf's buffer after "
			     "COMMIT",
			     p->page_size, n, rb.pending);
		commits++;
		size_t len_b, len_u;
		unsigned char *b = map_file(wal_b, &len_b), *u = map_file(wal_u, &len_u);
		size_t end = committed_end(u, len_u, p->page_size);
		if (!end)
			FAIL("page size %d, transaction %d: no commit frame in the unix VFS's WAL",
			     p->page_size, n);
		if (len_b < end)
			FAIL("page size %d, transaction %d: walbuf's WAL holds %zu bytes, the commit "
			     "ends at %zu",
			     p->page_size, n, len_b, end);
		if (memcmp(b, u, end)) {
			size_t i = 0;
			while (b[i] == u[i])
				i++;
			FAIL("page size %d, transaction %d: the WALs differ at byte %zu of %zu "
			     "(frame %zd)",
			     p->page_size, n, i, end,
			     i < WAL_HEADER ? (ssize_t)-1
					    : (ssize_t)((i - WAL_HEADER) /
							(FRAME_HEADER + (size_t)p->page_size)));
		}
		frames += (long)((end - WAL_HEADER) / (FRAME_HEADER + (size_t)p->page_size));
		if (b)
			munmap(b, len_b);
		munmap(u, len_u);
		if (!read_b) {
			CHECK(sqlite3_open_v2(path_b, &read_b, SQLITE_OPEN_READONLY, "unix") ==
			      SQLITE_OK);
			CHECK(sqlite3_open_v2(path_u, &read_u, SQLITE_OPEN_READONLY, "unix") ==
			      SQLITE_OK);
		}
		long long count;
		if (!same_rows(read_b, read_u, &count))
			FAIL("page size %d, transaction %d: a reader sees other rows in walbuf's file "
			     "than in the unix VFS's (they differ after %lld rows)",
			     p->page_size, n, count);
	}
	close(buffered.cmd);
	close(plain.cmd);
	int st_b, st_u;
	CHECK(waitpid(buffered.pid, &st_b, 0) == buffered.pid && waitpid(plain.pid, &st_u, 0) == plain.pid);
	CHECK(WIFEXITED(st_b) && WEXITSTATUS(st_b) == 0 && WIFEXITED(st_u) && WEXITSTATUS(st_u) == 0);
	close(buffered.out);
	close(plain.out);
	sqlite3_close(read_b);
	sqlite3_close(read_u);
	printf("page size %d, synchronous=%s: %d transactions, %ld commits compared (%ld frames in "
	       "the WALs at those moments, added up)\n",
	       p->page_size, p->synchronous, n_txn, commits, frames);
	for (char **q = (char *[]){path_b, path_u, NULL}; *q; q++) {
		char side[160];
		unlink(*q);
		snprintf(side, sizeof side, "%s-wal", *q);
		unlink(side);
		snprintf(side, sizeof side, "%s-shm", *q);
		unlink(side);
		free(*q);
	}
}

static int scale_from_env(void)
{
	const char *s = getenv("WAL_DIFF_SCALE");
	int v = s && *s ? atoi(s) : 100;
	return v > 0 ? v : 100;
}

static void pick_seed(void)
{
	const char *s = getenv("WAL_DIFF_SEED");
	if (s && *s) {
		seed = strtoull(s, NULL, 10);
	} else {
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		seed = (uint64_t)t.tv_sec * 1000000007ULL ^ (uint64_t)t.tv_nsec ^ (uint64_t)getpid();
	}
	printf("seed %" PRIu64 "\n", seed);
	fflush(stdout);
}

static void differential(const struct plan *plans, size_t n)
{
	pick_seed();
	CHECK(walbuf_vfs_name() != NULL);
	int scale = scale_from_env();
	for (size_t i = 0; i < n; i++)
		run_plan(&plans[i], scale);
}

static void same_wal_small_pages(void)
{
	static const struct plan plans[] = {
		{1024, "NORMAL", 1000},
		{1024, "FULL", 250},
	};
	differential(plans, sizeof plans / sizeof plans[0]);
}

static void same_wal_4k_pages(void)
{
	static const struct plan plans[] = {
		{4096, "NORMAL", 600},
		{4096, "FULL", 150},
	};
	differential(plans, sizeof plans / sizeof plans[0]);
}

/* 64 KiB pages: a single frame is over half the buffer, and a transaction of
 * 300 pages is 19 MiB. */
static void same_wal_64k_pages(void)
{
	static const struct plan plans[] = {
		{65536, "NORMAL", 40},
	};
	differential(plans, sizeof plans / sizeof plans[0]);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	static const struct test_case cases[] = {
		TEST_CASE("wal_diff@same-wal-as-unix-vfs-1k-pages", same_wal_small_pages),
		TEST_CASE("wal_diff@same-wal-as-unix-vfs-4k-pages", same_wal_4k_pages),
		TEST_CASE("wal_diff@same-wal-as-unix-vfs-64k-pages", same_wal_64k_pages),
	};
	return test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
