/* See router.h. The route table is the list of what invent-mock serves. */
#include "router.h"

#include "admin.h"
#include "api_contacts.h"
#include "console.h"
#include "events.h"
#include "urlcode.h"
#include "xalloc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct route routes[] = {
	{"GET", "/orgs/{org_id}/contacts", api_contacts_list, ROUTE_ORG},
	{"POST", "/orgs/{org_id}/contacts", api_contacts_create, ROUTE_ORG | ROUTE_JSON_BODY},
	{"PATCH", "/orgs/{org_id}/contacts/{contact_id}", api_contacts_patch,
	 ROUTE_ORG | ROUTE_JSON_BODY},
	{"GET", "/orgs/{org_id}/contacts/{contact_id}/segments", api_contacts_segments, ROUTE_ORG},
	{"POST", "/orgs/{org_id}/contacts/{contact_id}/segments/{segment_id}",
	 api_contacts_add_segment, ROUTE_ORG},
	{"GET", "/openapi.json", admin_openapi, 0},
	{"GET", "/", console_root, ROUTE_HIDDEN},
	{"GET", "/__admin/ui", console_file, 0},
	{"GET", "/__admin/ui/{file}", console_file, 0},
	{"GET", "/__admin/health", admin_health, ROUTE_ADMIN},
	{"POST", "/__admin/reset", admin_reset, ROUTE_ADMIN | ROUTE_JSON_BODY},
	{"GET", "/__admin/orgs", admin_orgs_list, ROUTE_ADMIN},
	{"GET", "/__admin/export", admin_export, ROUTE_ADMIN},
	{"POST", "/__admin/import", admin_import, ROUTE_ADMIN | ROUTE_JSON_BODY | ROUTE_BIG_BODY},
	{"POST", "/__admin/orgs", admin_org_create, ROUTE_ADMIN | ROUTE_JSON_BODY},
	{"DELETE", "/__admin/orgs/{org_id}", admin_org_delete, ROUTE_ADMIN},
	{"GET", "/__admin/orgs/{org_id}/contacts/{contact_id}", admin_contact, ROUTE_ADMIN},
	{"GET", "/__admin/requests", admin_requests, ROUTE_ADMIN},
	{"DELETE", "/__admin/requests", admin_requests_clear, ROUTE_ADMIN},
	{"GET", "/__admin/requests/count", admin_requests_count, ROUTE_ADMIN},
	/* After .../count: the first pattern that matches a path is its route. */
	{"GET", "/__admin/requests/{id}", admin_request_get, ROUTE_ADMIN},
	{"GET", "/__admin/events", events_subscribe, ROUTE_ADMIN},
	{"GET", "/__admin/faults", admin_faults_list, ROUTE_ADMIN},
	{"POST", "/__admin/faults", admin_faults_add, ROUTE_ADMIN | ROUTE_JSON_BODY},
	{"DELETE", "/__admin/faults", admin_faults_clear, ROUTE_ADMIN},
	{"DELETE", "/__admin/faults/{id}", admin_fault_remove, ROUTE_ADMIN},
	{"GET", "/__admin/clock", admin_clock_get, ROUTE_ADMIN},
	{"POST", "/__admin/clock", admin_clock_set, ROUTE_ADMIN | ROUTE_JSON_BODY},
};

/* Matches path against pattern; on success fills params. The segments are
 * matched first and the params decoded only then: most requests fail a route
 * or two on the way to theirs, and decoding for them cost two allocations each. */
static bool match_pattern(const char *pattern, const char *path, struct route_match *m)
{
	const char *p = pattern, *u = path;
	size_t n = 0;
	struct {
		const char *s;
		size_t len;
	} spans[ROUTER_MAX_PARAMS];
	while (*p) {
		if (*p != '/' || *u != '/')
			return false;
		p++, u++;
		size_t plen = strcspn(p, "/"), ulen = strcspn(u, "/");
		if (*p == '{') {
			if (ulen == 0 || n == ROUTER_MAX_PARAMS)
				return false;
			spans[n].s = u;
			spans[n].len = ulen;
			n++;
		} else if (plen != ulen || memcmp(p, u, plen)) {
			return false;
		}
		p += plen, u += ulen;
	}
	if (!(u[0] == '\0' || (u[0] == '/' && u[1] == '\0')))
		return false;
	char *params[ROUTER_MAX_PARAMS] = {0};
	for (size_t i = 0; i < n; i++) {
		if (!(params[i] = urlcode_decode(spans[i].s, spans[i].len, false))) {
			while (i > 0)
				free(params[--i]);
			return false;
		}
	}
	memcpy(m->params, params, sizeof params);
	m->n_params = n;
	return true;
}

enum router_result router_match(const char *method, const char *path, struct route_match *m)
{
	memset(m, 0, sizeof *m);
	const char *matched_pattern = NULL;
	bool hidden = false;
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const struct route *rt = &routes[i];
		if (matched_pattern && strcmp(matched_pattern, rt->pattern))
			continue;
		if (!matched_pattern) {
			struct route_match tmp = {0};
			if (!match_pattern(rt->pattern, path, &tmp))
				continue;
			matched_pattern = rt->pattern;
			hidden = rt->flags & ROUTE_HIDDEN;
			memcpy(m->params, tmp.params, sizeof tmp.params);
			m->n_params = tmp.n_params;
		}
		/* Every GET route answers HEAD too, as Express's do: the GET answer
		 * without its body (libmicrohttpd leaves the body out). */
		bool get = !strcmp(rt->method, "GET");
		if (!strcmp(rt->method, method) || (get && !strcmp(method, "HEAD"))) {
			m->route = rt;
			return ROUTER_FOUND;
		}
		size_t len = strlen(m->allow);
		snprintf(m->allow + len, sizeof m->allow - len, "%s%s%s", len ? ", " : "", rt->method,
			 get ? ", HEAD" : "");
	}
	if (matched_pattern && hidden)
		return ROUTER_NOT_FOUND;
	return matched_pattern ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;
}

void route_match_cleanup(struct route_match *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_params; i++)
		free(m->params[i]);
	memset(m, 0, sizeof *m);
}
