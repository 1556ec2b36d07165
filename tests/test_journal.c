/* The journal's store of entries: in a spill file and in memory, across wraps
 * and growth of its log, with bodies cut at JOURNAL_BODY_MAX, and moving to
 * memory when the file can no longer be written. Read back through
 * journal_query(), as /__admin/requests does. */
#include "journal.h"
#include "testlib.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* Entry i's response body: i-dependent bytes of an i-dependent length, some
 * past JOURNAL_BODY_MAX, so records differ in size and some are cut. */
static char *body_of(int i, size_t *len)
{
	size_t n = (size_t)(i * 7919 % 97) * ((i % 13 == 0) ? 1500 : 20) + 1;
	char *b = malloc(n + 1);
	for (size_t k = 0; k < n; k++)
		b[k] = (char)('a' + (i + (int)k) % 26);
	b[n] = '\0';
	*len = n;
	return b;
}

static void add_entry(struct journal *j, int i)
{
	char path[64], client[32], org[32], query[32];
	snprintf(path, sizeof path, "/orgs/org_%d/contacts/ct_%d", i % 3, i);
	snprintf(client, sizeof client, "127.0.0.%d", i % 250);
	snprintf(org, sizeof org, "org_%d", i % 3);
	snprintf(query, sizeof query, "page=%d", i);
	static const char headers[] = "Authorization\0...demo\0X-N\0a\0X-N\0b\0";
	size_t len;
	char *body = body_of(i, &len);
	struct journal_entry e = {
		.time_ms = 1000 + i,
		.client = client,
		.method = i % 2 ? "PATCH" : "GET",
		.path = path,
		.query = i % 5 ? query : NULL,
		.request_headers = headers,
		.request_headers_len = sizeof headers,
		.request_body = i % 2 ? "{\"blocked\":true}" : NULL,
		.request_body_len = 16,
		.status = i % 7 ? 200 : 404,
		.response_body = body,
		.response_body_len = len,
		.duration_ms = 0.5,
		.org_id = org,
	};
	journal_add(j, &e);
	free(body);
}

/* Checks the journal holds exactly entries first..last, newest first. */
static void check_entries(struct journal *j, int first, int last)
{
	struct journal_filter all = {0};
	size_t len;
	char *text = journal_query(j, &all, false, &len);
	cJSON *a = cJSON_Parse(text);
	CHECK(cJSON_IsArray(a));
	CHECK_INT_EQ(cJSON_GetArraySize(a), last - first + 1);
	int i = last;
	for (cJSON *e = a->child; e; e = e->next, i--) {
		CHECK_INT_EQ(cJSON_GetObjectItemCaseSensitive(e, "id")->valuedouble, i + 1);
		char path[64];
		snprintf(path, sizeof path, "/orgs/org_%d/contacts/ct_%d", i % 3, i);
		CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(e, "path")->valuestring, path);
		CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(e, "method")->valuestring,
			     i % 2 ? "PATCH" : "GET");
		cJSON *q = cJSON_GetObjectItemCaseSensitive(e, "query");
		if (i % 5) {
			char query[32];
			snprintf(query, sizeof query, "page=%d", i);
			CHECK_STR_EQ(q->valuestring, query);
		} else {
			CHECK(cJSON_IsNull(q));
		}
		cJSON *h = cJSON_GetObjectItemCaseSensitive(e, "request_headers");
		CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(h, "Authorization")->valuestring, "...demo");
		CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(h, "X-N")->valuestring, "a, b");
		cJSON *rb = cJSON_GetObjectItemCaseSensitive(e, "request_body");
		if (i % 2)
			CHECK_STR_EQ(rb->valuestring, "{\"blocked\":true}");
		else
			CHECK(cJSON_IsNull(rb));
		size_t blen;
		char *body = body_of(i, &blen);
		if (blen > JOURNAL_BODY_MAX)
			memcpy(body + JOURNAL_BODY_MAX - 8, "...(cut)", 9);
		CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(e, "response_body")->valuestring, body);
		free(body);
		CHECK_INT_EQ(cJSON_GetObjectItemCaseSensitive(e, "status")->valueint, i % 7 ? 200 : 404);
	}
	cJSON_Delete(a);
	free(text);
}

/* Enough entries, of sizes from 1 byte to past the cut, to wrap the log many
 * times and make it grow; checked at every step. */
static void churn(struct journal *j, size_t capacity)
{
	for (int i = 0; i < 1500; i++) {
		add_entry(j, i);
		int first = i + 1 > (int)capacity ? i + 1 - (int)capacity : 0;
		if (i % 97 == 0 || i == 1499)
			check_entries(j, first, i);
	}
}

static void spills_to_a_file(void)
{
	struct journal *j = journal_new(200, "/tmp");
	CHECK(journal_spills(j));
	churn(j, 200);
	CHECK(journal_spills(j));
	journal_free(j);
}

static void keeps_in_memory(void)
{
	struct journal *j = journal_new(200, NULL);
	CHECK(!journal_spills(j));
	churn(j, 200);
	journal_free(j);
}

static void no_folder_means_memory(void)
{
	struct journal *j = journal_new(50, "/nonexistent/folder");
	CHECK(!journal_spills(j));
	churn(j, 50);
	journal_free(j);
}

static void filters_and_count(void)
{
	struct journal *j = journal_new(100, "/tmp");
	for (int i = 0; i < 150; i++)
		add_entry(j, i);
	struct journal_filter f = {.method = "PATCH", .org_id = "org_1", .status = 200};
	size_t len;
	char *text = journal_query(j, &f, true, &len);
	int want = 0;
	for (int i = 50; i < 150; i++)
		want += i % 2 && i % 3 == 1 && i % 7;
	char expect[32];
	snprintf(expect, sizeof expect, "{\"count\":%d}", want);
	CHECK_STR_EQ(text, expect);
	free(text);
	struct journal_filter p = {.path = "/orgs/org_2/contacts/*", .has_since = true,
				   .since_ms = 1000 + 140, .limit = 2};
	text = journal_query(j, &p, false, &len);
	cJSON *a = cJSON_Parse(text);
	CHECK_INT_EQ(cJSON_GetArraySize(a), 2);
	CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(a->child, "path")->valuestring,
		     "/orgs/org_2/contacts/ct_149");
	CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(a->child->next, "path")->valuestring,
		     "/orgs/org_2/contacts/ct_146");
	cJSON_Delete(a);
	free(text);
	journal_clear(j);
	text = journal_query(j, &(struct journal_filter){0}, true, &len);
	CHECK_STR_EQ(text, "{\"count\":0}");
	free(text);
	add_entry(j, 7);
	text = journal_query(j, &(struct journal_filter){0}, false, &len);
	a = cJSON_Parse(text);
	CHECK_INT_EQ(cJSON_GetArraySize(a), 1);
	CHECK_INT_EQ(cJSON_GetObjectItemCaseSensitive(a->child, "id")->valuedouble, 151); /* ids go on */
	CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(a->child, "path")->valuestring,
		     "/orgs/org_1/contacts/ct_7");
	cJSON_Delete(a);
	free(text);
	journal_free(j);
}

static void capacity_zero_keeps_nothing(void)
{
	struct journal *j = journal_new(0, "/tmp");
	CHECK(!journal_spills(j));
	add_entry(j, 1);
	size_t len;
	char *text = journal_query(j, &(struct journal_filter){0}, false, &len);
	CHECK_STR_EQ(text, "[]");
	free(text);
	journal_free(j);
}

/* The spill file stops taking writes (here: a file size limit, as a full disk
 * would): the journal moves to memory and loses nothing. Run in a child, since
 * the limit is the whole process's. */
static void write_failure_moves_to_memory(void)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		signal(SIGXFSZ, SIG_IGN); /* the write fails with EFBIG instead */
		struct rlimit lim = {.rlim_cur = 300 * 1024, .rlim_max = RLIM_INFINITY};
		CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
		struct journal *j = journal_new(300, "/tmp");
		CHECK(journal_spills(j));
		for (int i = 0; i < 900; i++)
			add_entry(j, i);
		CHECK(!journal_spills(j));
		check_entries(j, 600, 899);
		journal_free(j);
		_exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static const struct test_case cases[] = {
	TEST_CASE("journal@spills-to-a-file-across-wraps-and-growth", spills_to_a_file),
	TEST_CASE("journal@keeps-in-memory-without-a-folder", keeps_in_memory),
	TEST_CASE("journal@unusable-folder-falls-back-to-memory", no_folder_means_memory),
	TEST_CASE("journal@filters-count-and-clear", filters_and_count),
	TEST_CASE("journal@capacity-zero-keeps-nothing", capacity_zero_keeps_nothing),
	TEST_CASE("journal@failed-write-moves-to-memory-losing-nothing", write_failure_moves_to_memory),
};

TEST_MAIN(cases)
