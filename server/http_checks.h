/* Pure checks of request header values: no connection, no state, so unit
 * tests call them directly (tests/test_http_checks.c). */
#pragma once
#include <stdbool.h>

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
