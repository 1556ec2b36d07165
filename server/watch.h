/* --watch: the --fixtures file reloaded whenever it changes on disk, through
 * inotify on its directory (so saves by rename and by rewriting in place are
 * both seen), a burst of events taken as one change. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "errors.h"

struct app;
struct watch;

/* Starts watching path (after store_start). A valid new version becomes the
 * reset baseline and the whole data, as an import does; an invalid one changes
 * nothing, and its message goes to stderr and to watch_error() until the next
 * valid save. Returns 0 and *out (watch_free), or -1 with err (no inotify, a
 * directory that cannot be watched). */
int watch_start(struct app *app, const char *path, struct watch **out, struct error *err);

/* Copies the last reload's error into out and returns true, or returns false
 * when the last version seen was taken. Thread-safe; w may be NULL (no --watch). */
bool watch_error(struct watch *w, char *out, size_t size);

/* Stops the watcher, waiting for a reload in progress. NULL is fine. */
void watch_free(struct watch *w);
