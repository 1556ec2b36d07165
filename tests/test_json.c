/* The JSON encoding of contacts: jsonbuf against cJSON's own printer, and the
 * contact, channel and segment objects field by field, in order. */
#include "contact_json.h"
#include "errors.h"
#include "json_strict.h"
#include "jsonbuf.h"
#include "testlib.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <limits.h>
#include <math.h>

/* s as cJSON_PrintUnformatted prints it. */
static char *cjson_text(const char *s)
{
	cJSON *v = cJSON_CreateString(s);
	char *t = cJSON_PrintUnformatted(v);
	cJSON_Delete(v);
	return t;
}

static char *jsonbuf_text(const char *s)
{
	struct jsonbuf b;
	jsonbuf_init(&b, 0);
	jsonbuf_string(&b, s);
	return jsonbuf_finish(&b, NULL);
}

static void check_same_as_cjson(const char *s)
{
	char *want = cjson_text(s), *got = jsonbuf_text(s);
	CHECK_STR_EQ(got, want);
	free(want);
	free(got);
}

static void strings_match_cjson(void)
{
	char s[4] = "a?b";
	for (int c = 1; c < 256; c++) {
		s[1] = (char)c;
		check_same_as_cjson(s);
	}
	check_same_as_cjson("");
	check_same_as_cjson("Ада Лавлейс 李小龍 🦊 \"quoted\" back\\slash\t\r\n\x01\x1f\x7f");
	/* Random byte strings, growing past the first buffer size. */
	unsigned seed = 12345;
	for (int round = 0; round < 2000; round++) {
		char r[300];
		size_t n = (size_t)round % (sizeof r - 1);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			r[i] = (char)(1 + (seed >> 16) % 255);
		}
		r[n] = '\0';
		check_same_as_cjson(r);
	}
}

static void values_and_separators(void)
{
	struct jsonbuf b;
	jsonbuf_init(&b, 1); /* grows from the smallest buffer */
	jsonbuf_open(&b, '{');
	jsonbuf_key(&b, "a");
	jsonbuf_open(&b, '[');
	jsonbuf_close(&b, ']');
	jsonbuf_key(&b, "b");
	jsonbuf_open(&b, '[');
	int64_t ints[] = {0, 1, -1, 42, INT64_MAX, INT64_MIN};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		jsonbuf_element(&b);
		jsonbuf_int(&b, ints[i]);
	}
	jsonbuf_element(&b);
	jsonbuf_open(&b, '{');
	jsonbuf_close(&b, '}');
	jsonbuf_element(&b);
	jsonbuf_null(&b);
	jsonbuf_element(&b);
	jsonbuf_bool(&b, true);
	jsonbuf_element(&b);
	jsonbuf_bool(&b, false);
	jsonbuf_element(&b);
	jsonbuf_string(&b, NULL);
	jsonbuf_close(&b, ']');
	jsonbuf_key(&b, "c");
	jsonbuf_raw(&b, "{\"x\":1}", 7);
	jsonbuf_close(&b, '}');
	size_t len;
	char *s = jsonbuf_finish(&b, &len);
	CHECK_STR_EQ(s, "{\"a\":[],\"b\":[0,1,-1,42,9223372036854775807,-9223372036854775808,{},"
			"null,true,false,null],\"c\":{\"x\":1}}");
	CHECK_INT_EQ(len, strlen(s));
	CHECK_NULL(b.s);
	free(s);
}

static void numbers_match_cjson(void)
{
	double v[] = {0,	 1,		  -1,	     0.5,	1.0 / 3,   2.675,
		      0.1,	 123.456,    1e-7,	  1e21,	     -2.5e-300, DBL_MAX,  DBL_MIN,
		      INT_MAX,	 INT_MIN,    (double)INT_MAX + 1, (double)INT_MIN - 1, 4e9, 12.000001,
		      NAN,	 INFINITY,   -INFINITY,	  0.30000000000000004, 1234567.891};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		cJSON *n = cJSON_CreateNumber(v[i]);
		char *want = cJSON_PrintUnformatted(n);
		struct jsonbuf b;
		jsonbuf_init(&b, 0);
		jsonbuf_number(&b, v[i]);
		char *got = jsonbuf_finish(&b, NULL);
		CHECK_STR_EQ(got, want);
		free(got);
		free(want);
		cJSON_Delete(n);
	}
	/* Durations as the journal keeps them: milliseconds with a fraction. */
	unsigned seed = 7;
	for (int i = 0; i < 5000; i++) {
		seed = seed * 1103515245 + 12345;
		double d = (seed >> 8) / 1000.0 / (1 + seed % 7);
		cJSON *n = cJSON_CreateNumber(d);
		char *want = cJSON_PrintUnformatted(n);
		struct jsonbuf b;
		jsonbuf_init(&b, 0);
		jsonbuf_number(&b, d);
		char *got = jsonbuf_finish(&b, NULL);
		CHECK_STR_EQ(got, want);
		free(got);
		free(want);
		cJSON_Delete(n);
	}
}

static void escaped_keys_match_cjson(void)
{
	const char *key = "X-\"Odd\"\t\x01é";
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "plain", "1");
	cJSON_AddStringToObject(o, key, "2");
	char *want = cJSON_PrintUnformatted(o);
	struct jsonbuf b;
	jsonbuf_init(&b, 0);
	jsonbuf_open(&b, '{');
	jsonbuf_key_string(&b, "plain");
	jsonbuf_string(&b, "1");
	jsonbuf_key_string(&b, key);
	jsonbuf_string(&b, "2");
	jsonbuf_close(&b, '}');
	char *got = jsonbuf_finish(&b, NULL);
	CHECK_STR_EQ(got, want);
	free(got);
	free(want);
	cJSON_Delete(o);
}

static void object_members_split(void)
{
	struct json_member m[4];
	const char *t = " { \"a\" : 1 , \"b\\\"c\":{\"x\":[1,{\"y\":\"}\"}]},\"d\":\"é\\u00e9\",\"e\":null } ";
	CHECK_INT_EQ(json_object_members(t, strlen(t), m, 4), 4);
	CHECK(m[0].key_len == 1 && !memcmp(m[0].key, "a", 1));
	CHECK(m[0].value_len == 1 && !memcmp(m[0].value, "1", 1));
	CHECK(m[1].key_len == 4 && !memcmp(m[1].key, "b\\\"c", 4));
	CHECK(m[1].value_len == 19 && !memcmp(m[1].value, "{\"x\":[1,{\"y\":\"}\"}]}", 19));
	CHECK(m[2].value_len == 10 && !memcmp(m[2].value, "\"é\\u00e9\"", 10));
	CHECK(m[3].value_len == 4 && !memcmp(m[3].value, "null", 4));
	CHECK_INT_EQ(json_object_members("{}", 2, m, 4), 0);
	CHECK_INT_EQ(json_object_members(t, strlen(t), m, 3), -1); /* more than max */
	static const char *const bad[] = {
		"", "[]", "1", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1}x", "{\"a\":1}{}",
		"{\"a\":[1,2}", "{\"a\":\"\xff\"}", "{\"a\":tru}", "{a:1}", "{\"a\":1 \"b\":2}",
		"{\"a\":{\"b\":\"cut", /* an answer cut at the journal's limit */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_INT_EQ(json_object_members(bad[i], strlen(bad[i]), m, 4), -1);
}

static struct channel test_channel(void)
{
	return (struct channel){
		.id = "ch_1", .type = "whatsapp_bot", .user_id = "+15550100",
		.name = "Ada \"A\" L.", .phone = "+15550100", .country = "GB",
		.language = "en", .platform_data = "{\"wa_id\":\"15550100\"}",
		.created_at = 0, .updated_at = 1714555800123, .link = "https://wa.me/15550100",
	};
}

/* Duplicate keys as the tree walk before json_strict_check_path() found them:
 * an object's values looked at before the object itself, its keys sorted and
 * the first pair alike reported, with the path to it. The check now finds
 * them during its syntax pass; this is the reference it is held to. */
static int ref_cmp(const void *a, const void *b)
{
	return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

static const char *ref_duplicate(const cJSON *v, char *path, size_t at)
{
	if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
		return NULL;
	size_t n = 0;
	for (const cJSON *c = v->child; c; c = c->next, n++) {
		int k = cJSON_IsArray(v) ? sprintf(path + at, "[%zu]", n)
					 : sprintf(path + at, "%s%.100s", at ? "." : "", c->string);
		const char *d = ref_duplicate(c, path, at + (size_t)k);
		if (d)
			return d;
	}
	path[at] = '\0';
	if (!cJSON_IsObject(v) || n < 2)
		return NULL;
	cJSON **keys = malloc(n * sizeof *keys);
	size_t i = 0;
	for (cJSON *c = v->child; c; c = c->next)
		keys[i++] = c;
	qsort(keys, n, sizeof *keys, ref_cmp);
	const char *dup = NULL;
	for (i = 1; i < n && !dup; i++)
		if (!strcmp(keys[i - 1]->string, keys[i]->string))
			dup = keys[i]->string;
	if (dup)
		sprintf(path + at, "%s%.100s", at ? "." : "", dup);
	free(keys);
	return dup;
}

/* A random value whose objects take their keys from a few that are alike
 * once decoded ("a" and "\u0061") or only nearly ("ab", "a\/b"). */
static void random_value(char *out, size_t *at, unsigned *seed, int depth)
{
	static const char *const keys[] = {"a", "\\u0061", "b", "ab", "a\\/b", "a/b", "é",
					   "\\u00e9", "k0", "k1", "k2", "k3", "k4", "k5"};
	*seed = *seed * 1103515245 + 12345;
	unsigned r = (*seed >> 16) % 10;
	if (depth > 3 || r < 3) {
		*at += (size_t)sprintf(out + *at, r == 0 ? "1" : r == 1 ? "\"s\"" : "null");
		return;
	}
	bool object = r < 7;
	out[(*at)++] = object ? '{' : '[';
	*seed = *seed * 1103515245 + 12345;
	size_t n = (*seed >> 16) % (object ? 18 : 4);
	for (size_t i = 0; i < n; i++) {
		if (i)
			out[(*at)++] = ',';
		if (object) {
			*seed = *seed * 1103515245 + 12345;
			/* Mostly distinct keys, so that most objects have no duplicate. */
			size_t k = (*seed >> 16) % 100 < 85 ? 8 + i % 6 : (*seed >> 8) % 8;
			*at += (size_t)sprintf(out + *at, "\"%s%s\":", keys[k], k >= 8 && i >= 6 ? "x" : "");
		}
		random_value(out, at, seed, depth + 1);
	}
	out[(*at)++] = object ? '}' : ']';
}

static void duplicates_as_the_tree_walk(void)
{
	static char text[1 << 20];
	unsigned seed = 99;
	int found = 0;
	for (int round = 0; round < 2000; round++) {
		size_t at = 0;
		text[at++] = '{';
		at += (size_t)sprintf(text + at, "\"root\":");
		random_value(text, &at, &seed, 0);
		text[at++] = '}';
		text[at] = '\0';
		cJSON *tree = cJSON_Parse(text);
		CHECK(tree != NULL);
		char want_path[4096] = "", path[4096];
		const char *want = ref_duplicate(tree, want_path, 0);
		struct error err = {0};
		int rc = json_strict_check_path(text, at, path, sizeof path, &err);
		if (!want) {
			CHECK_INT_EQ(rc, 0);
			CHECK_STR_EQ(path, "");
		} else {
			found++;
			char msg[300];
			snprintf(msg, sizeof msg, "has a duplicate key \"%.200s\"", want);
			CHECK_INT_EQ(rc, -1);
			CHECK_STR_EQ(err.msg, msg);
			CHECK_STR_EQ(path, want_path);
		}
		cJSON_Delete(tree);
	}
	CHECK(found > 200); /* the generator does make duplicates */
	/* A syntax error anywhere comes before any duplicate. */
	char path[64];
	struct error err = {0};
	const char *late = "{\"a\":1,\"a\":2,\"b\":tru}";
	CHECK_INT_EQ(json_strict_check_path(late, strlen(late), path, sizeof path, &err), -1);
	CHECK_STR_EQ(err.msg, "is not valid JSON (at byte 17)");
	CHECK_STR_EQ(path, "");
	/* A backslash before a NUL byte is no escape, even in a key whose object
	 * closes before the text turns bad (found by the fixture fuzzer). */
	static const char nul_escape[] = "{\"\\\"\\\0x\":1}\xc4}";
	CHECK_INT_EQ(json_strict_check_path(nul_escape, sizeof nul_escape - 1, path, sizeof path, &err), -1);
	CHECK_STR_EQ(err.msg, "is not valid JSON (at byte 4)");
	/* A path longer than its buffer is cut to fit. */
	const char *deep = "{\"aaaaaaaaaa\":[{\"bbbbbbbbbb\":{\"c\":1,\"c\":2}}]}";
	CHECK_INT_EQ(json_strict_check_path(deep, strlen(deep), path, 20, &err), -1);
	CHECK_STR_EQ(path, "aaaaaaaaaa[0].bbbbb");
}

static void walk_members_and_elements(void)
{
	const char *t = " {\"a\": [1, {\"x\": \"]\"}, \"\\\"]\"], \"b\\u0041\": {}, \"c\": -1.5e3} ";
	for (int trusted = 0; trusted < 2; trusted++) {
		struct json_walk w, e;
		struct json_member m;
		CHECK(json_walk_begin(&w, t, strlen(t)));
		w.trusted = trusted;
		CHECK(w.object);
		CHECK_INT_EQ(json_walk_next(&w, &m), 1);
		CHECK_INT_EQ(m.key_len, 1);
		CHECK(!strncmp(m.key, "a", 1));
		const char *a = "[1, {\"x\": \"]\"}, \"\\\"]\"]";
		CHECK_INT_EQ(m.value_len, strlen(a));
		CHECK(!strncmp(m.value, a, m.value_len));
		CHECK(json_walk_begin(&e, m.value, m.value_len));
		e.trusted = trusted;
		CHECK(!e.object);
		const char *want[] = {"1", "{\"x\": \"]\"}", "\"\\\"]\""};
		for (size_t i = 0; i < 3; i++) {
			CHECK_INT_EQ(json_walk_next(&e, &m), 1);
			CHECK_NULL(m.key);
			CHECK_INT_EQ(m.value_len, strlen(want[i]));
			CHECK(!strncmp(m.value, want[i], m.value_len));
		}
		CHECK_INT_EQ(json_walk_next(&e, &m), 0);
		CHECK_INT_EQ(json_walk_next(&e, &m), 0);
		CHECK_INT_EQ(json_walk_next(&w, &m), 1);
		CHECK_INT_EQ(m.key_len, 7); /* as written: b\u0041 */
		CHECK(!strncmp(m.value, "{}", m.value_len));
		CHECK_INT_EQ(json_walk_next(&w, &m), 1);
		CHECK_INT_EQ(m.value_len, 6);
		CHECK(!strncmp(m.value, "-1.5e3", 6));
		CHECK_INT_EQ(json_walk_next(&w, &m), 0);
		CHECK_INT_EQ(w.i, strlen(t) - 1);
	}
	struct json_walk w;
	struct json_member m;
	CHECK(!json_walk_begin(&w, " 1", 2));
	CHECK(!json_walk_begin(&w, "", 0));
	/* Unless trusted, a walk checks what it reads. */
	const char *bad[] = {"[1,]", "[1 2]", "{\"a\" 1}", "[\"\\x\"]", "{1:2}", "[tru]"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(json_walk_begin(&w, bad[i], strlen(bad[i])));
		int rc;
		while ((rc = json_walk_next(&w, &m)) > 0)
			;
		CHECK_INT_EQ(rc, -1);
	}
}

static void contact_in_order(void)
{
	struct channel ch[2] = {test_channel(), test_channel()};
	ch[1].id = "ch_2";
	ch[1].type = "gmail";
	ch[1].platform_data = NULL; /* rendered {} */
	struct segment sg = {.id = "seg_vip", .name = "VIP", .color = "amber",
			     .contacts_count = 3, .created_at = 1704067200000,
			     .updated_at = 1704067200000};
	struct contact c = {
		.id = "ct_ada", .name = "Ада\n", .blocked = true, .unsubscribed = false,
		.is_admin = true, .created_at = 1704067200000, .updated_at = 1714555800000,
		.blocked_at = 1714555800000, .unsubscribed_at = 1714555800000, /* flag false: null */
		.unsubscribe_reason = "too_many_messages", .unsubscribe_feedback = NULL,
		.channels = ch, .n_channels = 2, .segments = &sg, .n_segments = 1,
	};
	const char *channel_tail =
		"\"user_id\":\"+15550100\",\"avatar\":null,\"name\":\"Ada \\\"A\\\" L.\","
		"\"username\":null,\"email\":null,\"phone\":\"+15550100\",\"country\":\"GB\","
		"\"agent\":null,\"ip\":null,\"language\":\"en\",";
	char want[4096];
	snprintf(want, sizeof want,
		 "{\"id\":\"ct_ada\",\"name\":\"Ада\\n\",\"blocked\":true,\"unsubscribed\":false,"
		 "\"is_admin\":true,\"channels\":["
		 "{\"id\":\"ch_1\",\"type\":\"whatsapp_bot\",%s"
		 "\"platform_data\":{\"wa_id\":\"15550100\"},\"created_at\":\"1970-01-01T00:00:00.000Z\","
		 "\"updated_at\":\"2024-05-01T09:30:00.123Z\",\"link\":\"https://wa.me/15550100\"},"
		 "{\"id\":\"ch_2\",\"type\":\"gmail\",%s"
		 "\"platform_data\":{},\"created_at\":\"1970-01-01T00:00:00.000Z\","
		 "\"updated_at\":\"2024-05-01T09:30:00.123Z\",\"link\":\"https://wa.me/15550100\"}],"
		 "\"segments\":[{\"id\":\"seg_vip\",\"name\":\"VIP\",\"color\":\"amber\","
		 "\"contacts_count\":3,\"created_at\":\"2024-01-01T00:00:00.000Z\","
		 "\"updated_at\":\"2024-01-01T00:00:00.000Z\"}],"
		 "\"created_at\":\"2024-01-01T00:00:00.000Z\",\"updated_at\":\"2024-05-01T09:30:00.000Z\","
		 "\"blocked_at\":\"2024-05-01T09:30:00.000Z\",\"unsubscribed_at\":null,"
		 "\"unsubscribe_reason\":\"too_many_messages\",\"unsubscribe_feedback\":null}",
		 channel_tail, channel_tail);
	size_t len;
	char *got = contact_json_render(&c, &len);
	CHECK_STR_EQ(got, want);
	CHECK_INT_EQ(len, strlen(want));
	/* And it is JSON that cJSON reads back and prints the same. */
	cJSON *parsed = cJSON_Parse(got);
	CHECK(parsed);
	char *again = cJSON_PrintUnformatted(parsed);
	CHECK_STR_EQ(again, got);
	free(again);
	cJSON_Delete(parsed);
	free(got);

	char *list = contact_json_render_list(&c, 1, &len);
	CHECK(list[0] == '[' && list[len - 1] == ']');
	CHECK_INT_EQ(len, strlen(want) + 2);
	CHECK(!strncmp(list + 1, want, strlen(want)));
	free(list);
	list = contact_json_render_list(NULL, 0, &len);
	CHECK_STR_EQ(list, "[]");
	free(list);

	char *fields = contact_json_render_patchable(&c);
	CHECK_STR_EQ(fields, "{\"name\":\"Ада\\n\",\"blocked\":true,\"unsubscribed\":false,"
			     "\"updated_at\":\"2024-05-01T09:30:00.000Z\","
			     "\"blocked_at\":\"2024-05-01T09:30:00.000Z\",\"unsubscribed_at\":null,"
			     "\"unsubscribe_reason\":\"too_many_messages\",\"unsubscribe_feedback\":null}");
	free(fields);
}

static void segment_list(void)
{
	struct segment sg[2] = {
		{.id = "a", .name = "A", .color = "red", .contacts_count = 0,
		 .created_at = 1, .updated_at = 2},
		{.id = "b", .name = "B\\", .color = "blue", .contacts_count = 12345678901,
		 .created_at = 1, .updated_at = 2},
	};
	size_t len;
	char *s = segment_json_render_list(sg, 2, &len);
	CHECK_STR_EQ(s, "[{\"id\":\"a\",\"name\":\"A\",\"color\":\"red\",\"contacts_count\":0,"
			"\"created_at\":\"1970-01-01T00:00:00.001Z\",\"updated_at\":\"1970-01-01T00:00:00.002Z\"},"
			"{\"id\":\"b\",\"name\":\"B\\\\\",\"color\":\"blue\",\"contacts_count\":12345678901,"
			"\"created_at\":\"1970-01-01T00:00:00.001Z\",\"updated_at\":\"1970-01-01T00:00:00.002Z\"}]");
	CHECK_INT_EQ(len, strlen(s));
	free(s);
}

/* The envelope's "error": the contract's phrases, Node's for other statuses
 * (as an injected fault may use), the class's where Node has none. */
static void error_envelope_phrases(void)
{
	struct {
		int status;
		const char *want;
	} cases[] = {
		{400, "{\"statusCode\":400,\"error\":\"Bad Request\",\"message\":\"m \\\"q\\\"\"}"},
		{413, "{\"statusCode\":413,\"error\":\"Payload Too Large\",\"message\":\"m \\\"q\\\"\"}"},
		{418, "{\"statusCode\":418,\"error\":\"I'm a Teapot\",\"message\":\"m \\\"q\\\"\"}"},
		{507, "{\"statusCode\":507,\"error\":\"Insufficient Storage\",\"message\":\"m \\\"q\\\"\"}"},
		{511, "{\"statusCode\":511,\"error\":\"Network Authentication Required\",\"message\":\"m \\\"q\\\"\"}"},
		{499, "{\"statusCode\":499,\"error\":\"Bad Request\",\"message\":\"m \\\"q\\\"\"}"},
		{599, "{\"statusCode\":599,\"error\":\"Internal Server Error\",\"message\":\"m \\\"q\\\"\"}"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len;
		char *s = error_envelope(cases[i].status, "m \"q\"", &len);
		CHECK_STR_EQ(s, cases[i].want);
		CHECK_INT_EQ(len, strlen(s));
		free(s);
	}
}

static const struct test_case cases[] = {
	TEST_CASE("json@strings-escaped-as-cjson-does", strings_match_cjson),
	TEST_CASE("json@values-and-separators", values_and_separators),
	TEST_CASE("json@numbers-as-cjson-prints-them", numbers_match_cjson),
	TEST_CASE("json@escaped-keys-as-cjson-prints-them", escaped_keys_match_cjson),
	TEST_CASE("json@object-members-split-without-a-tree", object_members_split),
	TEST_CASE("json@duplicate-keys-as-the-tree-walk-found-them", duplicates_as_the_tree_walk),
	TEST_CASE("json@walk-members-and-elements", walk_members_and_elements),
	TEST_CASE("json@contact-fields-in-order", contact_in_order),
	TEST_CASE("json@segment-list", segment_list),
	TEST_CASE("json@error-envelope-reason-phrases", error_envelope_phrases),
};

TEST_MAIN(cases)
