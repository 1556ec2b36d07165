/* HTTP tests of the companion endpoints (invent-api.md §5): list, create,
 * contact segments, add segment. */
#include "http_util.h"
#include "testlib.h"

static void lists_contacts(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	const char *h[] = {"Authorization: Bearer sk_test_demo", NULL};
	struct http_resp r;
	CHECK(test_http(ts, "GET", "/orgs/c/contacts", h, NULL, &r) == 0);
	CHECK_INT_EQ(r.status, 200);
	CHECK_STR_EQ(http_resp_header(&r, "pagination-page"), "1");
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static const struct test_case cases[] = {
	TEST_CASE("list@answers-first-page", lists_contacts),
};

TEST_MAIN(cases)
