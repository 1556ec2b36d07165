/* HTTP tests of PATCH /orgs/{org_id}/contacts/{contact_id}: the real server in
 * this process on port 0, driven with libcurl. */
#include "http_util.h"
#include "testlib.h"

static void blocks_contact(void)
{
	struct test_server *ts = test_server_start(NULL, NULL);
	struct http_resp r = test_patch(ts, "sk_test_demo", "/orgs/c/contacts/ct_ada", "{\"blocked\":true}");
	CHECK_INT_EQ(r.status, 200);
	CHECK(strstr(r.body, "\"blocked\":true"));
	CHECK_STR_EQ(http_resp_header(&r, "Content-Type"), "application/json");
	http_resp_cleanup(&r);
	test_server_stop(ts);
}

static const struct test_case cases[] = {
	TEST_CASE("patch@blocks-contact", blocks_contact),
};

TEST_MAIN(cases)
