/* See console.h. The files themselves are in server/ui/, embedded by
 * server/embed.py; this module only serves them. */
#include "console.h"

#include "embedded.h"
#include "errors.h"
#include "http_request.h"
#include "xalloc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The page may load only what the binary serves, and nothing may frame it: a
 * console that can reset the store is worth clickjacking. */
#define CONSOLE_CSP                                                                        \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "  \
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

struct console_asset {
	const char *name; /* the path under /__admin/ui/ ("" is the page) */
	const char *type;
	const char *data;
	const size_t *len;
	char etag[24]; /* "\"<16 hex digits>\"", filled once */
};

static struct console_asset assets[] = {
	{"", "text/html; charset=utf-8", embedded_ui_index_html, &embedded_ui_index_html_len, ""},
	{"console.css", "text/css; charset=utf-8", embedded_ui_console_css,
	 &embedded_ui_console_css_len, ""},
	{"console.js", "text/javascript; charset=utf-8", embedded_ui_console_js,
	 &embedded_ui_console_js_len, ""},
	{"favicon.svg", "image/svg+xml", embedded_ui_favicon_svg, &embedded_ui_favicon_svg_len, ""},
};

enum { N_ASSETS = sizeof assets / sizeof assets[0] };

/* FNV-1a of the content: it only has to change when the file does. */
static void compute_etags(void)
{
	for (size_t i = 0; i < N_ASSETS; i++) {
		uint64_t h = 0xcbf29ce484222325u;
		for (size_t j = 0; j < *assets[i].len; j++)
			h = (h ^ (unsigned char)assets[i].data[j]) * 0x100000001b3u;
		snprintf(assets[i].etag, sizeof assets[i].etag, "\"%016llx\"", (unsigned long long)h);
	}
}

static const struct console_asset *find_asset(const char *name)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, compute_etags);
	for (size_t i = 0; i < N_ASSETS; i++)
		if (!strcmp(assets[i].name, name))
			return &assets[i];
	return NULL;
}

/* If-None-Match lists ETags separated by commas, or is "*". */
static bool etag_matches(const char *if_none_match, const char *etag)
{
	if (!if_none_match)
		return false;
	size_t n = strlen(etag);
	for (const char *p = if_none_match; *p;) {
		p += strspn(p, " \t,");
		size_t len = strcspn(p, ",");
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if ((len == 1 && *p == '*') || (len == n && !memcmp(p, etag, n)) ||
		    (len == n + 2 && !memcmp(p, "W/", 2) && !memcmp(p + 2, etag, n)))
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

void console_file(struct request *r)
{
	const char *name = request_param(r, 0);
	const struct console_asset *a = find_asset(name ? name : "");
	if (!a) {
		struct error err;
		error_set(&err, 404, "Cannot GET /__admin/ui/%.300s", name);
		request_reply_error(r, &err);
		return;
	}
	request_add_header(r, "Cache-Control", "no-cache");
	request_add_header(r, "ETag", a->etag);
	request_add_header(r, "X-Content-Type-Options", "nosniff");
	if (etag_matches(request_header(r, "If-None-Match"), a->etag)) {
		request_reply(r, 304, xstrdup(""), 0);
		return;
	}
	request_add_header(r, "Content-Type", a->type);
	if (!*a->name) {
		request_add_header(r, "Content-Security-Policy", CONSOLE_CSP);
		request_add_header(r, "Referrer-Policy", "no-referrer");
	}
	request_reply(r, 200, xstrndup(a->data, *a->len), *a->len);
}

/* Whether an Accept header asks for text/html, with a q other than 0. */
static bool accepts_html(const char *accept)
{
	for (const char *p = accept ? accept : ""; *p; p += *p == ',') {
		p += strspn(p, " \t");
		size_t len = strcspn(p, ",");
		size_t type_len = strcspn(p, ";,");
		while (type_len && (p[type_len - 1] == ' ' || p[type_len - 1] == '\t'))
			type_len--;
		if (type_len == 9 && !strncasecmp(p, "text/html", 9)) {
			bool refused = false;
			for (const char *q = p + type_len; q < p + len; q++) {
				if (*q != ';')
					continue;
				q += 1 + strspn(q + 1, " \t");
				if ((q[0] == 'q' || q[0] == 'Q') && q[1] == '=')
					refused = strtod(q + 2, NULL) <= 0;
			}
			if (!refused)
				return true;
		}
		p += len;
	}
	return false;
}

void console_root(struct request *r)
{
	/* The same path answers by Accept: caches must keep the two apart. */
	request_add_header(r, "Vary", "Accept");
	if (!accepts_html(request_header(r, "Accept"))) {
		struct error err;
		error_set(&err, 404, "Cannot GET /");
		request_reply_error(r, &err);
		return;
	}
	static const char body[] = "Found. Redirecting to /__admin/ui/";
	request_add_header(r, "Location", "/__admin/ui/");
	request_add_header(r, "Content-Type", "text/plain; charset=utf-8");
	request_reply(r, 302, xstrdup(body), sizeof body - 1);
}
