/* The pure header checks of http_checks.h, called directly: what the HTTP
 * tests reach only through a socket and libmicrohttpd's own parsing. */
#include "http_checks.h"
#include "testlib.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static void framing(void)
{
	CHECK(http_checks_framing_ok(0, 0, NULL));
	CHECK(http_checks_framing_ok(1, 0, NULL));
	CHECK(http_checks_framing_ok(0, 1, "chunked"));
	CHECK(http_checks_framing_ok(0, 1, "Chunked"));
	CHECK(!http_checks_framing_ok(2, 0, NULL));
	CHECK(!http_checks_framing_ok(0, 2, "chunked"));
	CHECK(!http_checks_framing_ok(1, 1, "chunked"));
	CHECK(!http_checks_framing_ok(0, 1, "gzip"));
	CHECK(!http_checks_framing_ok(0, 1, "gzip, chunked"));
	CHECK(!http_checks_framing_ok(0, 1, ""));
}

static void content_type(void)
{
	static const char *const json[] = {
		"application/json",
		"APPLICATION/JSON",
		" application/json",
		"application/json ",
		"application/json; charset=utf-8",
		"application/json;charset=UTF-8",
		"application/json; charset=\"utf-8\"",
		"application/json; foo=bar",
		"application/json; foo=bar; charset=utf-8 ",
	};
	static const char *const not_json[] = {
		"",
		"text/plain",
		"application/jsonx",
		"application/json-patch+json",
		"application/json; charset=latin1",
		"application/json; charset=utf-16",
		"application/json; charset=utf-8x",
		"application/json x",
	};
	for (size_t i = 0; i < sizeof json / sizeof json[0]; i++)
		if (!http_checks_content_type_is_json(json[i])) {
			fprintf(stderr, "refused: \"%s\"\n", json[i]);
			CHECK(0);
		}
	for (size_t i = 0; i < sizeof not_json / sizeof not_json[0]; i++)
		if (http_checks_content_type_is_json(not_json[i])) {
			fprintf(stderr, "taken: \"%s\"\n", not_json[i]);
			CHECK(0);
		}
	CHECK(!http_checks_content_type_is_json(NULL));
}

static void cors_allows(void)
{
	CHECK(!http_checks_cors_allows(NULL, "http://a.example"));
	CHECK(!http_checks_cors_allows(NULL, NULL));
	CHECK(http_checks_cors_allows("*", "http://a.example"));
	CHECK(http_checks_cors_allows("*", NULL));
	const char *list = "http://a.example,https://b.example:8443";
	CHECK(http_checks_cors_allows(list, "http://a.example"));
	CHECK(http_checks_cors_allows(list, "HTTP://A.EXAMPLE"));
	CHECK(http_checks_cors_allows(list, "https://b.example:8443"));
	CHECK(!http_checks_cors_allows(list, "https://b.example"));
	CHECK(!http_checks_cors_allows(list, "http://a.exampl"));
	CHECK(!http_checks_cors_allows(list, "http://a.example,https://b.example:8443"));
	CHECK(!http_checks_cors_allows(list, ""));
	CHECK(!http_checks_cors_allows(list, NULL));
}

static void admin_request(void)
{
	enum http_checks_admin ok = HTTP_CHECKS_ADMIN_OK, cross = HTTP_CHECKS_ADMIN_CROSS_ORIGIN,
			       foreign = HTTP_CHECKS_ADMIN_FOREIGN_HOST;
	/* No browser headers: a client of its own (curl, a test suite). */
	CHECK_INT_EQ(http_checks_admin_request("127.0.0.1:8080", NULL, NULL, false, "127.0.0.1", true), ok);
	CHECK_INT_EQ(http_checks_admin_request(NULL, NULL, NULL, false, "127.0.0.1", true), ok);
	/* Same origin: scheme, then exactly the Host. */
	CHECK_INT_EQ(http_checks_admin_request("127.0.0.1:8080", "http://127.0.0.1:8080", "same-origin", false, "127.0.0.1", true), ok);
	CHECK_INT_EQ(http_checks_admin_request("localhost:8080", "https://LOCALHOST:8080", NULL, false, "127.0.0.1", true), ok);
	CHECK_INT_EQ(http_checks_admin_request("127.0.0.1:8080", "http://127.0.0.1:8081", NULL, false, "127.0.0.1", true), cross);
	CHECK_INT_EQ(http_checks_admin_request("127.0.0.1:8080", "http://localhost:8080", NULL, false, "127.0.0.1", true), cross);
	CHECK_INT_EQ(http_checks_admin_request("127.0.0.1:8080", "null", NULL, false, "127.0.0.1", true), cross);
	CHECK_INT_EQ(http_checks_admin_request(NULL, "http://127.0.0.1", NULL, false, "127.0.0.1", true), cross);
	CHECK_INT_EQ(http_checks_admin_request("127.0.0.1:8080", NULL, "cross-site", false, "127.0.0.1", true),
		     cross);
	CHECK_INT_EQ(http_checks_admin_request("127.0.0.1:8080", NULL, "same-site", false, "127.0.0.1", true), ok);
	/* Host names: loopback ones, --host, or none of ours (rebinding). */
	static const char *const ours[] = {"localhost", "LocalHost:1", "x.localhost:8080", "127.0.0.1",
					   "127.255.0.9:80", "[::1]:8080", "[::1]", "192.168.1.5:8080"};
	for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
		CHECK_INT_EQ(http_checks_admin_request(ours[i], NULL, NULL, false, "192.168.1.5", true), ok);
	static const char *const foreign_hosts[] = {"evil.example", "evil.example:8080", "localhost.evil",
						    "128.0.0.1", "0.0.0.0:8080", "[::2]:8080", "",
						    "xlocalhost"};
	for (size_t i = 0; i < sizeof foreign_hosts / sizeof foreign_hosts[0]; i++) {
		CHECK_INT_EQ(http_checks_admin_request(foreign_hosts[i], NULL, NULL, false, "127.0.0.1", true),
			     foreign);
		/* Not checked with an admin token. */
		CHECK_INT_EQ(http_checks_admin_request(foreign_hosts[i], NULL, NULL, false, "127.0.0.1", false), ok);
	}
	/* A link followed from another site to the console: a navigation. */
	CHECK_INT_EQ(http_checks_admin_request("127.0.0.1:8080", NULL, "cross-site", true, "127.0.0.1",
					       true), ok);
	CHECK_INT_EQ(http_checks_admin_request("127.0.0.1:8080", "http://evil.example", "cross-site",
					       true, "127.0.0.1", true), cross);
	CHECK_INT_EQ(http_checks_admin_request("evil.example", NULL, "cross-site", true, "127.0.0.1",
					       true), foreign);
	/* --host 0.0.0.0: a Host of 0.0.0.0 is that address. */
	CHECK_INT_EQ(http_checks_admin_request("0.0.0.0:8080", NULL, NULL, false, "0.0.0.0", true), ok);
}

static bool addr_is_loopback(const char *text)
{
	struct sockaddr_in v4 = {.sin_family = AF_INET};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
	if (inet_pton(AF_INET, text, &v4.sin_addr) == 1)
		return http_checks_addr_is_loopback((const struct sockaddr *)&v4);
	CHECK(inet_pton(AF_INET6, text, &v6.sin6_addr) == 1);
	return http_checks_addr_is_loopback((const struct sockaddr *)&v6);
}

static void loopback(void)
{
	static const char *const yes[] = {"127.0.0.1", "127.0.0.2", "127.255.255.254", "::1",
					  "::ffff:127.0.0.1", "::ffff:127.1.2.3"};
	static const char *const no[] = {"0.0.0.0", "10.213.0.2", "126.255.255.255", "128.0.0.1",
					 "192.168.1.1", "::", "::2", "fe80::1", "::ffff:10.0.0.1",
					 "::ffff:0.0.0.0", "2001:db8::1"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		CHECK(addr_is_loopback(yes[i]));
		CHECK(http_checks_host_is_loopback(yes[i]));
	}
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		CHECK(!addr_is_loopback(no[i]));
		CHECK(!http_checks_host_is_loopback(no[i]));
	}
	CHECK(!http_checks_addr_is_loopback(NULL));
	struct sockaddr unix_family = {.sa_family = AF_UNIX};
	CHECK(!http_checks_addr_is_loopback(&unix_family));
	CHECK(!http_checks_host_is_loopback("localhost")); /* config.c makes it 127.0.0.1 first */
	CHECK(!http_checks_host_is_loopback(""));
}

static const struct test_case cases[] = {
	TEST_CASE("http_checks@framing-one-length-or-chunked-only", framing),
	TEST_CASE("http_checks@content-type-json-with-utf-8-only", content_type),
	TEST_CASE("http_checks@cors-origin-in-the-list", cors_allows),
	TEST_CASE("http_checks@admin-refuses-other-origins-and-hosts", admin_request),
	TEST_CASE("http_checks@loopback-addresses", loopback),
};

TEST_MAIN(cases)
