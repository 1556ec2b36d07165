/* The pure header checks of http_checks.h, called directly: what the HTTP
 * tests reach only through a socket and libmicrohttpd's own parsing. */
#include "http_checks.h"
#include "testlib.h"

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

static const struct test_case cases[] = {
	TEST_CASE("http_checks@framing-one-length-or-chunked-only", framing),
	TEST_CASE("http_checks@content-type-json-with-utf-8-only", content_type),
};

TEST_MAIN(cases)
