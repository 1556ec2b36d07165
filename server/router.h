/* Routing: method and raw path to a route of the table in router.c, with the
 * path's {params} percent-decoded. Knows nothing of HTTP beyond that. */
#pragma once
#include <stddef.h>

struct request;

/* A handler answers the request with request_reply*() or request_defer() (http_request.h). */
typedef void route_handler(struct request *r);

enum route_flags {
	ROUTE_ORG = 1 << 0,	  /* an /orgs route: Bearer key, params[0] is the org */
	ROUTE_JSON_BODY = 1 << 1, /* takes a JSON body (size, Content-Type, parse) */
	ROUTE_ADMIN = 1 << 2,	  /* the admin API: --admin-token if set */
	ROUTE_HIDDEN = 1 << 3,	  /* another method on the path is a 404, not a 405 (GET /,
				     there for browsers only, is no resource of the API) */
	/* With ROUTE_JSON_BODY: a body up to HTTP_BIG_BODY_MAX, left unparsed
	 * for the handler (request_body()); Content-Type is still checked. */
	ROUTE_BIG_BODY = 1 << 4,
};

struct route {
	const char *method;
	const char *pattern; /* "/orgs/{org_id}/contacts/{contact_id}" */
	route_handler *handler;
	unsigned flags;
};

enum { ROUTER_MAX_PARAMS = 4, ROUTER_ALLOW_MAX = 64 };

struct route_match {
	const struct route *route;	 /* NULL unless ROUTER_FOUND */
	char *params[ROUTER_MAX_PARAMS]; /* decoded {params}, heap strings */
	size_t n_params;
	char allow[ROUTER_ALLOW_MAX];	 /* with ROUTER_METHOD_NOT_ALLOWED: "GET, POST" */
};

enum router_result { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_METHOD_NOT_ALLOWED };

/* Matches method and path (as sent: still percent-encoded, no query string).
 * A {param} matches one non-empty segment, decoded; one trailing slash is
 * ignored, as Express does. Fills *m (clean up with route_match_cleanup) on
 * every result. */
enum router_result router_match(const char *method, const char *path, struct route_match *m);

void route_match_cleanup(struct route_match *m);
