/* Pure checks of request header values: no connection, no state, so unit
 * tests call them directly (tests/test_http_checks.c). */
#pragma once
#include <stdbool.h>

struct sockaddr;

/* RFC 9112 §6.3: whether a request's framing can be read without ambiguity,
 * given how many Content-Length and Transfer-Encoding headers it has and the
 * value of its Transfer-Encoding (NULL when none). False for two lengths, two
 * codings, a coding with a length, or any coding but "chunked". */
bool http_checks_framing_ok(unsigned n_content_length, unsigned n_transfer_encoding,
			    const char *transfer_encoding);

/* Whether a Content-Type value (NULL when absent) announces JSON the server
 * reads: application/json in any case, with parameters, and no charset but
 * utf-8. */
bool http_checks_content_type_is_json(const char *content_type);

/* Whether a web page of origin (the Origin header's value; NULL when absent)
 * may read answers of /orgs/... under --cors value cors (NULL: off; "*";
 * or origins joined by ','; compared ignoring case). */
bool http_checks_cors_allows(const char *cors, const char *origin);

enum http_checks_admin {
	HTTP_CHECKS_ADMIN_OK,
	HTTP_CHECKS_ADMIN_CROSS_ORIGIN, /* sent by a page of another origin */
	HTTP_CHECKS_ADMIN_FOREIGN_HOST, /* Host names no address of this server's */
};

/* The admin API's guard against web pages: a request to /__admin/ from a page
 * of another origin (its Origin is not http(s):// + its Host, or
 * Sec-Fetch-Site says cross-site) is refused, and so, when check_host (no
 * --admin-token), is one whose Host is neither a loopback name or address nor
 * listen_host (--host), the mark of DNS rebinding. navigation: a GET or HEAD
 * with Sec-Fetch-Mode: navigate (a link followed to the console), which
 * Sec-Fetch-Site alone does not refuse: the page that had the link cannot read
 * what it opens, and a GET changes nothing. Headers are NULL when absent; a
 * request without Origin (curl, test suites) passes. */
enum http_checks_admin http_checks_admin_request(const char *host, const char *origin,
						 const char *sec_fetch_site, bool navigation,
						 const char *listen_host, bool check_host);

/* Whether a client's address is loopback: 127.0.0.0/8, ::1, or an IPv4
 * loopback address mapped into IPv6 (::ffff:127.0.0.1). NULL is not. */
bool http_checks_addr_is_loopback(const struct sockaddr *sa);

/* Whether a listening address as --host gives it (IPv4 or IPv6 text) reaches
 * loopback clients only. 0.0.0.0 and :: are every address: not loopback. */
bool http_checks_host_is_loopback(const char *host);
