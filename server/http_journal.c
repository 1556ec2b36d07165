/* Journal capture: every request to /orgs, its headers (the key redacted), its
 * body and its answer, recorded before the answer leaves. */
#include "http_int.h"

#include "app.h"
#include "clock.h"
#include "config.h"
#include "journal.h"
#include "xalloc.h"

#include <stdlib.h>
#include <strings.h>

/* The request headers packed as "name\0value\0...\0", in a buffer that starts
 * on the stack, since journaling them is on every request's path. */
struct packed {
	char *buf;
	size_t len, cap;
	char small[1024];
};

static void pack(struct packed *p, const char *s)
{
	size_t n = strlen(s) + 1;
	if (p->len + n + 1 > p->cap) {
		size_t cap = (p->len + n + 1) * 2;
		char *buf = xmalloc(cap);
		memcpy(buf, p->buf, p->len);
		if (p->buf != p->small)
			free(p->buf);
		p->buf = buf;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, s, n);
	p->len += n;
}

static enum MHD_Result pack_header(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	(void)kind;
	const char *v = value ? value : "";
	char redacted[16];
	if (!strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION)) {
		/* Enough to tell keys apart, not enough to use one. */
		size_t n = strlen(v);
		memcpy(redacted, "...", 3);
		http_copy_cut(redacted + 3, sizeof redacted - 3, n > 4 ? v + n - 4 : "");
		v = redacted;
	}
	pack(cls, key);
	pack(cls, v);
	return MHD_YES;
}

void http_journal_request(struct request *r)
{
	struct app *app = r->http->app;
	if (!app->config->journal_size || (strncmp(r->path, "/orgs/", 6) && strcmp(r->path, "/orgs")))
		return;
	struct packed headers;
	headers.buf = headers.small;
	headers.len = 0;
	headers.cap = sizeof headers.small;
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, pack_header, &headers);
	headers.buf[headers.len++] = '\0';
	const char *q = r->uri ? strchr(r->uri, '?') : NULL;
	struct journal_entry e = {
		.time_ms = clock_now_ms(app->clock),
		.client = r->client,
		.method = r->method,
		.path = r->path,
		.query = q ? q + 1 : NULL,
		.request_headers = headers.buf,
		.request_headers_len = headers.len,
		.request_body = r->body,
		.request_body_len = r->body_len,
		.status = r->status,
		/* A HEAD answer's body is not sent: none is recorded. */
		.response_body = http_is_head(r) ? NULL : r->resp,
		.response_body_len = http_is_head(r) ? 0 : r->resp_len,
		.duration_ms = http_ms_since(&r->start),
		.contact_before_fields = r->journal_before,
		.contact_after = r->journal_after,
		.org_id = r->org[0] ? r->org : NULL,
	};
	http_events_journal(r->http, &e);
	if (headers.buf != headers.small)
		free(headers.buf);
}
