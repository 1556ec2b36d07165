/* See http_util.h. */
#include "http_util.h"

#include "app.h"
#include "config.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct test_server *test_server_start(const char *fixtures, ...)
{
	static int curl_ready;
	if (!curl_ready++) {
		xalloc_install_cjson_hooks();
		curl_global_init(CURL_GLOBAL_DEFAULT);
	}
	char *argv[32] = {"invent-mock", "--db", ":memory:", "--port", "0", "--log", "off"};
	int argc = 7;
	if (fixtures) {
		argv[argc++] = "--fixtures";
		argv[argc++] = (char *)(uintptr_t)fixtures;
	}
	va_list ap;
	va_start(ap, fixtures);
	const char *a;
	while ((a = va_arg(ap, const char *)) && argc < 31)
		argv[argc++] = (char *)(uintptr_t)a;
	va_end(ap);
	struct test_server *ts = xcalloc(1, sizeof *ts);
	ts->config = xcalloc(1, sizeof *ts->config);
	config_init(ts->config);
	struct error err = {0};
	if (config_parse(ts->config, argc, argv, &err) ||
	    app_start(ts->config, &ts->app, &err)) {
		fprintf(stderr, "test server did not start: %s\n", err.msg);
		exit(1);
	}
	ts->port = app_port(ts->app);
	snprintf(ts->base, sizeof ts->base, "http://127.0.0.1:%u", ts->port);
	return ts;
}

void test_server_stop(struct test_server *ts)
{
	if (!ts)
		return;
	app_stop(ts->app);
	config_cleanup(ts->config);
	free(ts->config);
	free(ts);
}

struct buf {
	char *p;
	size_t len;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t add = size * n;
	b->p = xrealloc(b->p, b->len + add + 1);
	memcpy(b->p + b->len, data, add);
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

int test_http(const struct test_server *ts, const char *method, const char *path,
	      const char *const *headers, const char *body, struct http_resp *out)
{
	CURL *c = curl_easy_init();
	char url[8192];
	snprintf(url, sizeof url, "%s%s", ts->base, path);
	struct buf b = {xstrdup(""), 0}, h = {xstrdup(""), 0};
	struct curl_slist *hl = NULL;
	bool has_ct = false, has_expect = false;
	for (size_t i = 0; headers && headers[i]; i++) {
		hl = curl_slist_append(hl, headers[i]);
		has_ct |= !strncasecmp(headers[i], "Content-Type:", 13);
		has_expect |= !strncasecmp(headers[i], "Expect:", 7);
	}
	/* libcurl adds these unless told not to; the tests say what they send. */
	if (!has_expect)
		hl = curl_slist_append(hl, "Expect:");
	if (!has_ct)
		hl = curl_slist_append(hl, "Content-Type:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		free(b.p);
		free(h.p);
		return -1;
	}
	*out = (struct http_resp){status, b.p, b.len, h.p};
	return 0;
}

void http_resp_cleanup(struct http_resp *r)
{
	free(r->body);
	free(r->headers);
	memset(r, 0, sizeof *r);
}

struct http_resp test_request(const struct test_server *ts, const char *method, const char *path,
			      const char *const *headers, const char *body)
{
	struct http_resp r;
	if (test_http(ts, method, path, headers, body, &r)) {
		fprintf(stderr, "%s %s: transfer failed\n", method, path);
		exit(1);
	}
	return r;
}

int test_connect(const struct test_server *ts)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ts->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
		fprintf(stderr, "cannot connect to port %u\n", ts->port);
		exit(1);
	}
	return fd;
}

struct http_resp test_patch(const struct test_server *ts, const char *key, const char *path,
			    const char *body)
{
	char auth[512];
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", key ? key : "");
	const char *h[] = {"Content-Type: application/json", key ? auth : NULL, NULL};
	struct http_resp r;
	if (test_http(ts, "PATCH", path, h, body, &r)) {
		fprintf(stderr, "PATCH %s: transfer failed\n", path);
		exit(1);
	}
	return r;
}

const char *http_resp_header(const struct http_resp *r, const char *name)
{
	static _Thread_local char value[1024]; /* tests read headers from many threads */
	size_t n = strlen(name);
	for (const char *line = r->headers; line && *line;) {
		const char *end = strstr(line, "\r\n");
		if (!end)
			break;
		if (!strncasecmp(line, name, n) && line[n] == ':') {
			const char *v = line + n + 1;
			while (*v == ' ')
				v++;
			snprintf(value, sizeof value, "%.*s", (int)(end - v), v);
			return value;
		}
		line = end + 2;
	}
	return NULL;
}

char *test_stored_contact(const struct test_server *ts, const char *key, const char *org,
			  const char *contact_id)
{
	char path[1024];
	snprintf(path, sizeof path, "/orgs/%s/contacts/%s", org, contact_id);
	struct http_resp r = test_patch(ts, key, path, "{}");
	if (r.status != 200) {
		fprintf(stderr, "reading %s: status %ld: %s\n", path, r.status, r.body);
		exit(1);
	}
	free(r.headers);
	return r.body;
}

char *test_temp_file(const char *text)
{
	char *path = xstrdup("/tmp/invent-mock-test-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror("temp file");
		exit(1);
	}
	close(fd);
	return path;
}
