/* Fault injection: rules that make matching /orgs requests fail, wait, drop the
 * connection, or fail after their change is committed. Thread-safe. */
#pragma once
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

struct faults;

/* What a matching rule does to a request. */
struct fault_hit {
	int status;	  /* 0: none; else answer this status */
	char *body;	  /* JSON text to answer instead of the error envelope, or NULL */
	int64_t delay_ms; /* wait this long first */
	bool drop;	  /* close the connection with no answer */
	bool after_commit; /* apply the change, then answer status instead */
	int64_t rule_id;
};

struct faults *faults_new(void);
void faults_free(struct faults *f);

/* Adds the rule described by body (see the README); answers the rule with its
 * id as JSON text (free()). -1 with err 400 naming a bad field. */
int faults_add(struct faults *f, const cJSON *body, char **rule_json, struct error *err);

/* Finds the first rule, in the order added, that matches and has uses left;
 * uses one and fills *hit (free hit->body). An after_commit rule is not used
 * yet: only a request that succeeds uses it (faults_use). org_id is the org the
 * request acts on, or NULL when it cannot be told. Returns whether one matched. */
bool faults_match(struct faults *f, const char *method, const char *path, const char *org_id,
		  struct fault_hit *hit);

/* Uses one of rule id's uses; false if it has none left or is gone. */
bool faults_use(struct faults *f, int64_t id);

/* Every rule with its remaining uses, as a JSON array (free()). */
char *faults_list(struct faults *f, size_t *len);
void faults_clear(struct faults *f);
/* Removes rule id; -1 with err 404 if there is none. */
int faults_remove(struct faults *f, int64_t id, struct error *err);
