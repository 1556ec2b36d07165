/* Unit tests of walbuf.c, the VFS that writes a transaction's WAL frames in one
 * write: what reaches the kernel, transactions larger
 * than its buffer, and that every committed byte is in the file when COMMIT
 * returns, also when SQLite rewrites frames and fixes their checksums (a child
 * process commits and is killed with SIGKILL; the parent then opens the file,
 * which makes SQLite recover the WAL and check every frame's checksum). */
#include "testlib.h"
#include "walbuf.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void exec_ok(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", sql, msg);
		exit(1);
	}
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* A WAL database through walbuf, without automatic checkpoints (so that only
 * the WAL is written), rows of 1 KiB: about four to a 4 KiB page. */
static sqlite3 *open_walbuf(const char *path, int rows, const char *synchronous)
{
	const char *vfs = walbuf_vfs_name();
	CHECK(vfs != NULL);
	sqlite3 *db;
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) ==
	      SQLITE_OK);
	char sql[160];
	snprintf(sql, sizeof sql, "PRAGMA journal_mode = WAL; PRAGMA synchronous = %s;", synchronous);
	exec_ok(db, sql);
	exec_ok(db, "PRAGMA wal_autocheckpoint = 0;"
		    " CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, n INTEGER, pad BLOB)");
	snprintf(sql, sizeof sql,
		 "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d)"
		 " INSERT INTO t SELECT i, 0, zeroblob(1000) FROM k",
		 rows);
	exec_ok(db, sql);
	return db;
}

/* The writes SQLite's unix VFS makes, counted through its own hook for
 * replacing system calls (xSetSystemCall), under whichever of its three
 * writing calls this build uses. */
static long writes;
static sqlite3_syscall_ptr real_write, real_pwrite, real_pwrite64;

static ssize_t count_write(int fd, const void *b, size_t n)
{
	writes++;
	return ((ssize_t(*)(int, const void *, size_t))real_write)(fd, b, n);
}
static ssize_t count_pwrite(int fd, const void *b, size_t n, off_t off)
{
	writes++;
	return ((ssize_t(*)(int, const void *, size_t, off_t))real_pwrite)(fd, b, n, off);
}
static ssize_t count_pwrite64(int fd, const void *b, size_t n, off_t off)
{
	writes++;
	return ((ssize_t(*)(int, const void *, size_t, off_t))real_pwrite64)(fd, b, n, off);
}

/* A build has some of the three (the others are NULL in its table). */
static void count_writes(void)
{
	sqlite3_vfs *unix_vfs = sqlite3_vfs_find("unix");
	CHECK(unix_vfs && unix_vfs->iVersion >= 3);
	static const struct {
		const char *name;
		sqlite3_syscall_ptr *real;
		sqlite3_syscall_ptr counting;
	} calls[] = {
		{"write", &real_write, (sqlite3_syscall_ptr)count_write},
		{"pwrite", &real_pwrite, (sqlite3_syscall_ptr)count_pwrite},
		{"pwrite64", &real_pwrite64, (sqlite3_syscall_ptr)count_pwrite64},
	};
	int replaced = 0;
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
		*calls[i].real = unix_vfs->xGetSystemCall(unix_vfs, calls[i].name);
		if (*calls[i].real && unix_vfs->xSetSystemCall(unix_vfs, calls[i].name,
							       calls[i].counting) == SQLITE_OK)
			replaced++;
	}
	CHECK(replaced >= 2); /* write, and one of pwrite and pwrite64 */
}

/* A transaction that changes 10 pages reaches the kernel as one write: 20
 * frames' worth of pwrite() calls without walbuf (a header and a page each).
 * With synchronous=FULL too (--sync full), where SQLite also syncs the WAL at
 * every commit. */
static void one_write_per_commit_with(const char *synchronous)
{
	char *path = test_temp_path();
	count_writes();
	sqlite3 *db = open_walbuf(path, 400, synchronous);
	for (int round = 0; round < 3; round++) {
		long before = writes;
		exec_ok(db, "UPDATE t SET n = n + 1 WHERE id % 40 = 1"); /* rows 1, 41, ...: 10 pages */
		CHECK_INT_EQ(writes - before, 1);
	}
	CHECK_INT_EQ(query_int(db, "SELECT sum(n) FROM t"), 30);
	sqlite3_close(db);
	unlink(path);
	free(path);
}

static void one_write_per_commit(void)
{
	one_write_per_commit_with("NORMAL");
}

static void one_write_per_commit_full_sync(void)
{
	one_write_per_commit_with("FULL");
}

/* A transaction of about 2 MiB of WAL, many times the buffer, in one COMMIT:
 * every row is there, read through the plain unix VFS. (A buffer written in
 * one piece of 128 KiB or more made the unix VFS report a full disk.) */
static void transaction_larger_than_buffer(void)
{
	char *path = test_temp_path();
	sqlite3 *db = open_walbuf(path, 2000, "NORMAL");
	exec_ok(db, "UPDATE t SET n = id");
	sqlite3 *other;
	CHECK(sqlite3_open_v2(path, &other, SQLITE_OPEN_READONLY, "unix") == SQLITE_OK);
	CHECK_INT_EQ(query_int(other, "SELECT count(*) FROM t"), 2000);
	CHECK_INT_EQ(query_int(other, "SELECT sum(n) FROM t"), 2000 * 2001 / 2);
	sqlite3_close(other);
	sqlite3_close(db);
	unlink(path);
	free(path);
}

/* Runs sql in a child process through walbuf, then kills it with SIGKILL right
 * after COMMIT returned; the parent reopens the file (recovering the WAL). */
static void commit_then_kill(const char *path, int rows, const char *sql)
{
	int ready[2];
	CHECK(pipe(ready) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		sqlite3 *db = open_walbuf(path, rows, "NORMAL");
		exec_ok(db, sql);
		CHECK(write(ready[1], "c", 1) == 1);
		for (;;)
			pause(); /* killed here, the connection still open */
	}
	close(ready[1]);
	char c;
	CHECK(read(ready[0], &c, 1) == 1);
	close(ready[0]);
	CHECK(kill(pid, SIGKILL) == 0);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* commit_then_kill, then the sum of t.n in the recovered file, which must
 * also pass integrity_check. */
static void kill_then_check(const char *sql, int64_t want_sum)
{
	char *path = test_temp_path();
	commit_then_kill(path, 400, sql);
	sqlite3 *db;
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, "unix") == SQLITE_OK);
	CHECK_INT_EQ(query_int(db, "SELECT sum(n) FROM t"), want_sum);
	sqlite3_stmt *st;
	CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_STR_EQ((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(db);
	unlink(path);
	free(path);
}

static void commit_survives_kill(void)
{
	kill_then_check("UPDATE t SET n = 7 WHERE id % 40 = 1", 70);
}

/* With a page cache of 10 pages, a transaction over 100 pages spills frames to
 * the WAL before its commit; changing the first pages again then rewrites
 * their frames in place, and SQLite rewrites the checksums of every later
 * frame after the commit frame. Recovery after SIGKILL reads the WAL only as
 * far as the checksums hold: every change must be there. */
static void rewritten_frames_survive_kill(void)
{
	kill_then_check("PRAGMA cache_size = 10; BEGIN;"
			" UPDATE t SET n = 1;"
			" UPDATE t SET n = 2 WHERE id <= 20;"
			" COMMIT",
			380 + 2 * 20);
}

/* The case that lost a commit: a transaction whose frames since the last
 * write-out reach the buffer's cap exactly at its commit frame, so the commit
 * frame's header still fits and its page does not. With 4 KiB pages, 28 rows of
 * one page each are 29 frames of 4,120 bytes (and the 32-byte WAL header):
 * 119,512 bytes for the first 28 frames plus the commit frame's header, which
 * fit in the 120 KiB buffer, and its page, which does not. Once COMMIT has
 * returned, the WAL holds whole frames and nothing is left in the buffer, and
 * a connection of the plain unix VFS (as the checkpointer's file handle reads)
 * sees every row. */
static void commit_frame_split_at_buffer_cap(void)
{
	char *path = test_temp_path();
	char wal[160];
	snprintf(wal, sizeof wal, "%s-wal", path);
	sqlite3 *db;
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			      walbuf_vfs_name()) == SQLITE_OK);
	exec_ok(db, "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
		    " PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB);"
		    " PRAGMA wal_checkpoint(TRUNCATE)");
	exec_ok(db, "BEGIN; WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k"
		    " WHERE i < 28) INSERT INTO t SELECT i, zeroblob(3900) FROM k; COMMIT");
	CHECK_INT_EQ(walbuf_pending(db), 0);
	struct stat st;
	CHECK(stat(wal, &st) == 0);
	CHECK_INT_EQ((st.st_size - 32) % (24 + 4096), 0);
	sqlite3 *other;
	CHECK(sqlite3_open_v2(path, &other, SQLITE_OPEN_READONLY, "unix") == SQLITE_OK);
	CHECK_INT_EQ(query_int(other, "SELECT count(*) FROM t"), 28);
	sqlite3_close(other);
	sqlite3_close(db);
	unlink(wal);
	unlink(path);
	free(path);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST_CASE("walbuf@one-write-per-commit", one_write_per_commit),
		TEST_CASE("walbuf@one-write-per-commit-full-sync", one_write_per_commit_full_sync),
		TEST_CASE("walbuf@transaction-larger-than-buffer", transaction_larger_than_buffer),
		TEST_CASE("walbuf@commit-survives-kill", commit_survives_kill),
		TEST_CASE("walbuf@rewritten-frames-survive-kill", rewritten_frames_survive_kill),
		TEST_CASE("walbuf@commit-frame-split-at-buffer-cap", commit_frame_split_at_buffer_cap),
	};
	return test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
