/* GET /__admin/events: Server-Sent Events, one for each journal entry as it is
 * recorded and one for each change of state made outside the API (a reset, an
 * isolated org, the clock, fault rules, the journal emptied, an import), for
 * consoles to follow the server live. Implemented in http_events.c, beside the
 * connections it holds open. */
#pragma once

struct http;
struct request;

/* The kinds of state event (the "kind" of its data). */
#define EVENTS_RESET "reset"	 /* fields: "org_id" (null: everything) */
#define EVENTS_ORGS "orgs"	 /* fields: "org_id", "change" ("created" or "deleted") */
#define EVENTS_CLOCK "clock"	 /* fields: "now", "frozen", as GET /__admin/clock */
#define EVENTS_FAULTS "faults"	 /* no fields: read GET /__admin/faults */
#define EVENTS_JOURNAL "journal" /* no fields: the journal was emptied */
#define EVENTS_IMPORT "import"	 /* fields: "fixtures", "fixtures_hash", "orgs", "contacts" (import or --watch) */

/* Sends every subscriber the event "event: state" with data
 * {"kind": kind, <json_fields>}: json_fields is the rest of that object's
 * members as JSON text ("\"org_id\":null"), or NULL for none; both are copied.
 * Call it once the change is made (committed, for the store's), from any
 * thread. h NULL, or no subscriber, costs nothing. */
void events_publish_state(struct http *h, const char *kind, const char *json_fields);

/* The handler of GET (and HEAD) /__admin/events: a 200 text/event-stream that
 * never ends by itself; Last-Event-ID: N first replays the journal's entries
 * with ids above N that it still holds. At most EVENTS_MAX_SUBSCRIBERS at
 * once: one more is 503. */
enum { EVENTS_MAX_SUBSCRIBERS = 32 };
void events_subscribe(struct request *r);
