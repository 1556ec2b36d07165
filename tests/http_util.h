/* In-process HTTP test support: start the real app on port 0 with an in-memory
 * database, and drive it with libcurl. */
#pragma once
#include <stddef.h>

struct app;
struct config;

struct test_server {
	struct config *config;
	struct app *app;
	unsigned port;
	char base[64]; /* "http://127.0.0.1:PORT" */
};

struct http_resp {
	long status;
	char *body;	 /* NUL-terminated */
	size_t len;
	char *headers;	 /* raw response header block, NUL-terminated */
};

/* Starts the app with --db :memory:, --port 0, --log off and the given fixture
 * file (NULL: the embedded demo). argv-style extra flags may follow, ending in
 * NULL. Exits the test on failure. Stop with test_server_stop(). */
struct test_server *test_server_start(const char *fixtures, ...);
void test_server_stop(struct test_server *ts);

/* Sends method path with the given header lines (NULL-terminated array, may be
 * NULL) and body (NULL: none). No Content-Type or Expect header is sent unless
 * one is among the given lines. Returns 0 and fills *out (free with
 * http_resp_cleanup), or -1 if the transfer failed (connection closed...). */
int test_http(const struct test_server *ts, const char *method, const char *path,
	      const char *const *headers, const char *body, struct http_resp *out);
void http_resp_cleanup(struct http_resp *r);
/* As test_http, exiting the test when the transfer fails. */
struct http_resp test_request(const struct test_server *ts, const char *method, const char *path,
			      const char *const *headers, const char *body);
/* A TCP connection to the server, for raw exchanges: its descriptor. */
int test_connect(const struct test_server *ts);

/* PATCH path with "Authorization: Bearer key" (key NULL: no header) and
 * "Content-Type: application/json"; exits the test if the transfer fails. */
struct http_resp test_patch(const struct test_server *ts, const char *key, const char *path,
			    const char *body);

/* The value of response header name (case-insensitive), in a buffer of the
 * calling thread's that the next call reuses, or NULL. */
const char *http_resp_header(const struct http_resp *r, const char *name);

/* The stored contact as JSON text, read with an empty PATCH (which changes
 * nothing): a fresh heap string. */
char *test_stored_contact(const struct test_server *ts, const char *key, const char *org,
			  const char *contact_id);

/* Writes text to a fresh temporary file and returns its path (heap string). */
char *test_temp_file(const char *text);
