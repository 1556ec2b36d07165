/* A SQLite VFS that writes each transaction's WAL frames with one write()
 * instead of two per page. See walbuf.c. */
#pragma once

#include <sqlite3.h>
#include <stddef.h>

/* Registers the VFS on first call (not as the default; it wraps the VFS that
 * is the default then) and returns its name, for sqlite3_open_v2's zVfs.
 * Returns NULL if it could not be registered: open with the default then.
 * Thread-safe. */
const char *walbuf_vfs_name(void);

/* Bytes of db's WAL not yet handed to the operating system: 0 after every
 * COMMIT (the store asserts it in debug builds; after a ROLLBACK it may be
 * more, see walbuf.c). 0 too for a database not opened through this VFS. */
size_t walbuf_pending(sqlite3 *db);
