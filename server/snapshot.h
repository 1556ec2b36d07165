/* Replacing the whole state with a fixture document, as POST /__admin/import
 * and --watch both do: parse and stage it away from the store thread, then
 * install it there in one step, and publish its keys once committed. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

struct app;
struct store;
struct snapshot;

/* [decided] The source an import is recorded under: health's "fixtures", and the
 * fixture row of the database, which a start without --fixtures reads (app.c). */
#define SNAPSHOT_IMPORT_SOURCE "POST /__admin/import"

/* Parses text[0..len) (text[len] must be '\0') as a fixture document, with
 * file messages ("<source>: <json path>: ...", as --fixtures at start) or
 * without the source (an import's body), and stages it (store_stage_fixture).
 * Takes as long as loading the document: call it on neither an HTTP thread nor
 * the store thread. Returns 0 and *out (snapshot_free), or -1 with err (400 for
 * a document that breaks a rule, 500 if staging failed). */
int snapshot_prepare(struct app *app, const char *text, size_t len, const char *source,
		     bool file, struct snapshot **out, struct error *err);

/* On the store thread, in a job with .alone set: makes the staged document the
 * reset baseline and the whole data (store_replace_fixture). Returns 0, or -1
 * with err and nothing changed. */
int snapshot_install(struct store *s, struct snapshot *snap, struct error *err);

/* Once the install is committed (store_job.committed): the keys and orgs the
 * server accepts become the document's, and GET /__admin/events subscribers
 * get the state event "import" with fields "fixtures" (the source),
 * "fixtures_hash", "orgs" and "contacts". */
void snapshot_publish(struct app *app, struct snapshot *snap);

/* What was installed, for answers and messages (borrowed from snap). */
const char *snapshot_hash(const struct snapshot *snap);
int64_t snapshot_orgs(const struct snapshot *snap);
int64_t snapshot_contacts(const struct snapshot *snap);

/* Frees snap and what it still owns. NULL is fine. */
void snapshot_free(struct snapshot *snap);
