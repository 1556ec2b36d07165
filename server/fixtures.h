/* Fixtures: the seed data file (fixtures/demo.json by default, embedded in the
 * binary), parsed and validated into plain structs before anything is served. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "model.h"

struct fixture_org {
	char *id;
	char *name;	 /* defaults to the id */
	char *parent_id; /* NULL for a top-level org */
	char **api_keys;
	size_t n_api_keys;
	struct segment *segments; /* contacts_count is 0 here; the store computes it */
	size_t n_segments;
	struct contact *contacts; /* segments[] hold only .id, ids of this org's segments */
	size_t n_contacts;
};

struct fixture {
	char *source; /* the file name used in messages, e.g. "fixtures/demo.json" */
	char hash[17]; /* FNV-1a 64 of the file's bytes, 16 hex digits */
	struct fixture_org *orgs; /* parents always come before their sub-orgs */
	size_t n_orgs;
};

/* Parses and validates text[0..len) (text[len] must be '\0'). source names the
 * file in messages; now_ms is the time every missing timestamp takes.
 * Returns 0 and *out (free with fixture_free), or -1 with err->msg
 * "<source>: <json path>: <what is wrong>", e.g.
 * `fixtures/bad.json: orgs[0].contacts[3].channels[0].type: "fax" is not a channel type`. */
int fixture_parse(const char *text, size_t len, const char *source, int64_t now_ms,
		  struct fixture **out, struct error *err);

/* As fixture_parse, for a document sent whole rather than read from a file (an
 * import's body): messages are "<json path>: <what is wrong>" with no source
 * before them ("Document is not valid JSON (at byte 12)" for the file-level
 * ones); source is only recorded in (*out)->source. */
int fixture_parse_document(const char *text, size_t len, const char *source, int64_t now_ms,
			   struct fixture **out, struct error *err);

/* Reads the whole file at path into *text (NUL-terminated; free() it) and *len.
 * Returns 0, or -1 with err "<path>: cannot read: <why>". */
int fixture_read_file(const char *path, char **text, size_t *len, struct error *err);

/* Reads the file at path and calls fixture_parse with source = path. */
int fixture_load_file(const char *path, int64_t now_ms, struct fixture **out, struct error *err);

/* The demo data set compiled into the binary (fixtures/demo.json). */
int fixture_load_embedded(int64_t now_ms, struct fixture **out, struct error *err);

/* Finds an org of the fixture by id, or NULL. */
const struct fixture_org *fixture_find_org(const struct fixture *f, const char *id);

/* Frees the fixture's orgs and all they hold, keeping its source and hash:
 * once the store holds the data, that is all the server needs of it. The
 * fixture then has no orgs (fixture_find_org() finds none). */
void fixture_free_orgs(struct fixture *f);

/* Frees the fixture and all it owns. NULL is fine. */
void fixture_free(struct fixture *f);
