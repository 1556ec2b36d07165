/* Unit tests of the fixture loader: the embedded demo data, the defaults, the
 * parent ordering, and one case per validation rule with its exact message. */
#include "clock.h"
#include "fixtures.h"
#include "xalloc.h"

#include "testlib.h"

#include <stdbool.h>
#include <unistd.h>

/* 2025-10-09T08:53:20.000Z: what every missing timestamp becomes. */
#define NOW 1760000000000LL

static int64_t at(const char *text)
{
	int64_t ms = 0;
	CHECK(clock_parse(text, &ms) == 0);
	return ms;
}

/* Test JSON is written with ' for " so that it stays readable in C. */
static char *unquote(const char *json)
{
	char *s = xstrdup(json);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	return s;
}

static struct fixture *parse_ok(const char *json)
{
	char *text = unquote(json);
	struct fixture *f = NULL;
	struct error err = {0};
	int rc = fixture_parse(text, strlen(text), "t.json", NOW, &f, &err);
	if (rc)
		fprintf(stderr, "unexpected error: %s\n", err.msg);
	CHECK_INT_EQ(rc, 0);
	CHECK(f != NULL);
	free(text);
	return f;
}

/* Parses raw bytes (no quote translation) and checks the exact message. */
static void expect_error_raw(const char *text, size_t len, const char *msg)
{
	struct fixture *f = NULL;
	struct error err = {0};
	CHECK_INT_EQ(fixture_parse(text, len, "t.json", NOW, &f, &err), -1);
	CHECK_NULL(f);
	CHECK_STR_EQ(err.msg, msg);
}

static void expect_error(const char *json, const char *msg)
{
	char *text = unquote(json);
	expect_error_raw(text, strlen(text), msg);
	free(text);
}

/* One org with one segment, wrapping the given contacts. */
#define ORG_WITH(contacts)                                                               \
	"{'orgs':[{'id':'org_demo','api_keys':['sk_a'],'segments':[{'id':'seg_vip'}],"  \
	"'contacts':[" contacts "]}]}"

static const struct contact *find_contact(const struct fixture_org *o, const char *id)
{
	for (size_t i = 0; i < o->n_contacts; i++)
		if (!strcmp(o->contacts[i].id, id))
			return &o->contacts[i];
	return NULL;
}

/* ---- the embedded demo ---- */

static void embedded_demo_parses(void)
{
	struct fixture *f = NULL;
	struct error err = {0};
	int rc = fixture_load_embedded(NOW, &f, &err);
	if (rc)
		fprintf(stderr, "%s\n", err.msg);
	CHECK_INT_EQ(rc, 0);
	CHECK_STR_EQ(f->source, "fixtures/demo.json (embedded)");
	CHECK_INT_EQ(strlen(f->hash), 16);
	fixture_free(f);
}

static void embedded_demo_has_promised_shape(void)
{
	struct fixture *f = NULL;
	CHECK_INT_EQ(fixture_load_embedded(NOW, &f, NULL), 0);
	CHECK(f->n_orgs >= 3);
	size_t top = 0, sub = 0, contacts = 0, null_names = 0, blocked = 0, unsub = 0,
	       admins = 0, no_ai = 0, reasons = 0;
	bool types_seen[16] = {false};
	for (size_t i = 0; i < f->n_orgs; i++) {
		const struct fixture_org *o = &f->orgs[i];
		CHECK(o->n_api_keys >= 1);
		if (o->parent_id)
			sub++;
		else
			top++;
		for (size_t k = 0; k < o->n_contacts; k++) {
			const struct contact *c = &o->contacts[k];
			contacts++;
			null_names += c->name == NULL;
			blocked += c->blocked;
			unsub += c->unsubscribed;
			admins += c->is_admin;
			no_ai += c->ai_replies_disabled;
			reasons += c->unsubscribe_reason != NULL;
			/* Every time is explicit in the demo: none is "now". */
			CHECK(c->created_at != NOW && c->updated_at >= c->created_at);
			CHECK(c->blocked == (c->blocked_at != MODEL_NO_TIME));
			CHECK(c->blocked_at == MODEL_NO_TIME || c->blocked_at != NOW);
			CHECK(c->unsubscribed == (c->unsubscribed_at != MODEL_NO_TIME));
			CHECK(c->unsubscribed_at == MODEL_NO_TIME || c->unsubscribed_at != NOW);
			for (size_t j = 0; j < c->n_channels; j++)
				for (size_t t = 0; model_channel_types[t]; t++)
					if (!strcmp(c->channels[j].type, model_channel_types[t]))
						types_seen[t] = true;
		}
	}
	CHECK(top >= 2);
	CHECK(sub >= 1);
	CHECK(contacts >= 60);
	CHECK_INT_EQ(null_names, 1);
	CHECK(blocked >= 1 && unsub >= 1 && admins >= 1 && no_ai >= 1 && reasons >= 1);
	static const char *const wanted[] = {"whatsapp_bot", "instagram_dm", "gmail",
					     "custom",	     "telegram_bot", "messenger_bot",
					     "slack_bot",    "twilio",	     "internal"};
	for (size_t w = 0; w < sizeof wanted / sizeof wanted[0]; w++)
		for (size_t t = 0; model_channel_types[t]; t++)
			if (!strcmp(wanted[w], model_channel_types[t]))
				CHECK(types_seen[t]);

	const struct fixture_org *demo = fixture_find_org(f, "org_demo");
	CHECK(demo != NULL);
	CHECK_STR_EQ(demo->name, "Northwind Coffee");
	CHECK_STR_EQ(demo->api_keys[0], "sk_test_demo");
	const struct fixture_org *eu = fixture_find_org(f, "org_demo_eu");
	CHECK(eu != NULL);
	CHECK_STR_EQ(eu->parent_id, "org_demo");
	CHECK(demo < eu); /* parents first */
	CHECK(fixture_find_org(f, "org_acme") != NULL);
	const struct contact *ada = find_contact(demo, "ct_ada");
	CHECK(ada != NULL);
	CHECK_STR_EQ(ada->name, "Ada Lovelace");
	CHECK_STR_EQ(ada->channels[0].id, "ch_ada_wa");
	CHECK_STR_EQ(ada->channels[0].type, "whatsapp_bot");
	CHECK_STR_EQ(ada->channels[0].user_id, "+15550100");
	fixture_free(f);
}

/* ---- defaults ---- */

static void minimal_contact_takes_defaults(void)
{
	struct fixture *f = parse_ok(ORG_WITH("{'id':'ct_min','channels':[{'id':'ch_min',"
					      "'type':'custom','user_id':'u1'}]}"));
	const struct contact *c = &f->orgs[0].contacts[0];
	CHECK_STR_EQ(c->id, "ct_min");
	CHECK_NULL(c->name);
	CHECK(!c->blocked && !c->unsubscribed && !c->is_admin && !c->ai_replies_disabled);
	CHECK_INT_EQ(c->created_at, NOW);
	CHECK_INT_EQ(c->updated_at, NOW);
	CHECK_INT_EQ(c->blocked_at, MODEL_NO_TIME);
	CHECK_INT_EQ(c->unsubscribed_at, MODEL_NO_TIME);
	CHECK_NULL(c->unsubscribe_reason);
	CHECK_NULL(c->unsubscribe_feedback);
	CHECK_INT_EQ(c->n_segments, 0);
	CHECK_INT_EQ(c->n_channels, 1);
	const struct channel *ch = &c->channels[0];
	CHECK_STR_EQ(ch->user_id, "u1");
	CHECK_STR_EQ(ch->platform_data, "{}");
	CHECK(!ch->avatar && !ch->name && !ch->username && !ch->email && !ch->phone &&
	      !ch->country && !ch->agent && !ch->ip && !ch->language && !ch->link);
	CHECK_INT_EQ(ch->created_at, NOW);
	CHECK_INT_EQ(ch->updated_at, NOW);
	fixture_free(f);
}

static void contact_without_channels_or_segments(void)
{
	struct fixture *f = parse_ok(ORG_WITH("{'id':'ct_bare'}"));
	const struct contact *c = &f->orgs[0].contacts[0];
	CHECK_INT_EQ(c->n_channels, 0);
	CHECK_INT_EQ(c->n_segments, 0);
	fixture_free(f);
}

static void minimal_org_takes_defaults(void)
{
	struct fixture *f = parse_ok("{'orgs':[{'id':'org_x'}]}");
	CHECK_INT_EQ(f->n_orgs, 1);
	const struct fixture_org *o = &f->orgs[0];
	CHECK_STR_EQ(o->name, "org_x");
	CHECK_NULL(o->parent_id);
	CHECK_INT_EQ(o->n_api_keys, 0);
	CHECK_INT_EQ(o->n_segments, 0);
	CHECK_INT_EQ(o->n_contacts, 0);
	fixture_free(f);
}

static void empty_orgs_list_is_fine(void)
{
	struct fixture *f = parse_ok("{'orgs':[]}");
	CHECK_INT_EQ(f->n_orgs, 0);
	CHECK_NULL(fixture_find_org(f, "org_demo"));
	fixture_free(f);
}

static void segment_takes_defaults(void)
{
	struct fixture *f = parse_ok("{'orgs':[{'id':'o','segments':[{'id':'seg_a'},"
				     "{'id':'seg_b','name':'B','color':'sky',"
				     "'created_at':'2024-03-01T00:00:00Z'}]}]}");
	const struct segment *a = &f->orgs[0].segments[0], *b = &f->orgs[0].segments[1];
	CHECK_STR_EQ(a->name, "seg_a");
	CHECK_STR_EQ(a->color, "neutral");
	CHECK_INT_EQ(a->created_at, NOW);
	CHECK_INT_EQ(a->updated_at, NOW);
	CHECK_INT_EQ(a->contacts_count, 0);
	CHECK_STR_EQ(b->name, "B");
	CHECK_STR_EQ(b->color, "sky");
	CHECK_INT_EQ(b->created_at, at("2024-03-01T00:00:00.000Z"));
	CHECK_INT_EQ(b->updated_at, b->created_at);
	fixture_free(f);
}

static void updated_at_defaults_to_created_at(void)
{
	struct fixture *f = parse_ok(ORG_WITH("{'id':'ct_a','created_at':'2024-05-01T09:30:00.000Z'}"));
	const struct contact *c = &f->orgs[0].contacts[0];
	CHECK_INT_EQ(c->created_at, at("2024-05-01T09:30:00.000Z"));
	CHECK_INT_EQ(c->updated_at, c->created_at);
	fixture_free(f);
}

static void channel_times_default_to_contact_created_at(void)
{
	struct fixture *f = parse_ok(
		ORG_WITH("{'id':'ct_a','created_at':'2024-05-01T09:30:00.000Z',"
			 "'updated_at':'2024-06-01T00:00:00.000Z','channels':["
			 "{'id':'ch_1','type':'gmail','user_id':'a@example.com'},"
			 "{'id':'ch_2','type':'twilio','user_id':'+15550100',"
			 "'created_at':'2024-05-02T00:00:00.000Z'}]}"));
	const struct contact *c = &f->orgs[0].contacts[0];
	CHECK_INT_EQ(c->channels[0].created_at, c->created_at);
	CHECK_INT_EQ(c->channels[0].updated_at, c->created_at);
	CHECK_INT_EQ(c->channels[1].created_at, at("2024-05-02T00:00:00.000Z"));
	/* Like every updated_at, it follows its own object's created_at. */
	CHECK_INT_EQ(c->channels[1].updated_at, c->channels[1].created_at);
	fixture_free(f);
}

static void blocked_without_blocked_at_takes_now(void)
{
	struct fixture *f = parse_ok(ORG_WITH(
		"{'id':'ct_a','blocked':true},{'id':'ct_b','blocked':true,'blocked_at':null},"
		"{'id':'ct_c','blocked':true,'blocked_at':'2024-07-01T12:00:00.000Z'}"));
	const struct fixture_org *o = &f->orgs[0];
	CHECK_INT_EQ(o->contacts[0].blocked_at, NOW);
	CHECK_INT_EQ(o->contacts[1].blocked_at, NOW);
	CHECK_INT_EQ(o->contacts[2].blocked_at, at("2024-07-01T12:00:00.000Z"));
	fixture_free(f);
}

/* With created_at given and no updated_at, a blocked_at or unsubscribed_at
 * (the load time, or given) later than created_at is the updated_at: never
 * blocked_at after updated_at. A given updated_at is kept. */
static void missing_updated_at_is_latest_change(void)
{
	struct fixture *f = parse_ok(ORG_WITH(
		"{'id':'ct_a','created_at':'2024-01-01T00:00:00.000Z','blocked':true},"
		"{'id':'ct_b','created_at':'2024-01-01T00:00:00.000Z','unsubscribed':true,"
		"'unsubscribed_at':'2024-02-01T00:00:00.000Z'},"
		"{'id':'ct_c','created_at':'2024-01-01T00:00:00.000Z','blocked':true,"
		"'blocked_at':'2024-03-01T00:00:00.000Z','unsubscribed':true,"
		"'unsubscribed_at':'2024-02-01T00:00:00.000Z'},"
		"{'id':'ct_d','created_at':'2024-01-01T00:00:00.000Z',"
		"'updated_at':'2024-01-05T00:00:00.000Z','blocked':true,"
		"'blocked_at':'2024-01-03T00:00:00.000Z'},"
		"{'id':'ct_e','created_at':'2024-01-01T00:00:00.000Z'}"));
	const struct fixture_org *o = &f->orgs[0];
	CHECK_INT_EQ(o->contacts[0].blocked_at, NOW);
	CHECK_INT_EQ(o->contacts[0].updated_at, NOW);
	CHECK_INT_EQ(o->contacts[1].updated_at, at("2024-02-01T00:00:00.000Z"));
	CHECK_INT_EQ(o->contacts[2].updated_at, at("2024-03-01T00:00:00.000Z"));
	CHECK_INT_EQ(o->contacts[3].updated_at, at("2024-01-05T00:00:00.000Z"));
	CHECK_INT_EQ(o->contacts[4].updated_at, at("2024-01-01T00:00:00.000Z"));
	fixture_free(f);
}

static void unsubscribed_without_unsubscribed_at_takes_now(void)
{
	struct fixture *f = parse_ok(ORG_WITH(
		"{'id':'ct_a','unsubscribed':true,'unsubscribe_reason':'not_relevant',"
		"'unsubscribe_feedback':'no thanks'},"
		"{'id':'ct_b','unsubscribed':true,'unsubscribed_at':'2025-01-02T03:04:05.678Z'}"));
	const struct fixture_org *o = &f->orgs[0];
	CHECK_INT_EQ(o->contacts[0].unsubscribed_at, NOW);
	CHECK_STR_EQ(o->contacts[0].unsubscribe_reason, "not_relevant");
	CHECK_STR_EQ(o->contacts[0].unsubscribe_feedback, "no thanks");
	CHECK_INT_EQ(o->contacts[1].unsubscribed_at, at("2025-01-02T03:04:05.678Z"));
	fixture_free(f);
}

static void null_flag_times_are_fine_when_flag_is_false(void)
{
	struct fixture *f = parse_ok(ORG_WITH(
		"{'id':'ct_a','blocked':false,'blocked_at':null,'unsubscribed_at':null,"
		"'unsubscribe_reason':null,'unsubscribe_feedback':null}"));
	CHECK_INT_EQ(f->orgs[0].contacts[0].blocked_at, MODEL_NO_TIME);
	CHECK_INT_EQ(f->orgs[0].contacts[0].unsubscribed_at, MODEL_NO_TIME);
	fixture_free(f);
}

static void offsets_convert_to_utc(void)
{
	struct fixture *f = parse_ok(ORG_WITH("{'id':'ct_a','created_at':'2024-05-01T11:30:00+02:00'}"));
	CHECK_INT_EQ(f->orgs[0].contacts[0].created_at, at("2024-05-01T09:30:00.000Z"));
	fixture_free(f);
}

static void platform_data_stored_compact(void)
{
	struct fixture *f = parse_ok(ORG_WITH(
		"{'id':'ct_a','channels':[{'id':'ch_1','type':'whatsapp_bot','user_id':'+15550100',"
		"'platform_data': { 'wa_id' : '15550100', 'tags': [ 1, 2 ] }}]}"));
	CHECK_STR_EQ(f->orgs[0].contacts[0].channels[0].platform_data,
		     "{\"wa_id\":\"15550100\",\"tags\":[1,2]}");
	fixture_free(f);
}

static void channel_strings_are_kept(void)
{
	struct fixture *f = parse_ok(ORG_WITH(
		"{'id':'ct_a','name':'Zoë','channels':[{'id':'ch_1','type':'instagram_dm',"
		"'user_id':'zoe.m','avatar':'https://a/z.png','name':'Zoë','username':'zoe.m',"
		"'email':null,'phone':'+4915550100','country':'DE','agent':'UA','ip':'203.0.113.9',"
		"'language':'de','link':'https://instagram.com/zoe.m'}],'segments':['seg_vip']}"));
	const struct contact *c = &f->orgs[0].contacts[0];
	const struct channel *ch = &c->channels[0];
	CHECK_STR_EQ(c->name, "Zoë");
	CHECK_STR_EQ(ch->avatar, "https://a/z.png");
	CHECK_STR_EQ(ch->name, "Zoë");
	CHECK_STR_EQ(ch->username, "zoe.m");
	CHECK_NULL(ch->email);
	CHECK_STR_EQ(ch->phone, "+4915550100");
	CHECK_STR_EQ(ch->country, "DE");
	CHECK_STR_EQ(ch->agent, "UA");
	CHECK_STR_EQ(ch->ip, "203.0.113.9");
	CHECK_STR_EQ(ch->language, "de");
	CHECK_STR_EQ(ch->link, "https://instagram.com/zoe.m");
	CHECK_INT_EQ(c->n_segments, 1);
	CHECK_STR_EQ(c->segments[0].id, "seg_vip");
	CHECK_NULL(c->segments[0].name);
	fixture_free(f);
}

static void same_ids_in_different_orgs_are_fine(void)
{
	struct fixture *f = parse_ok(
		"{'orgs':[{'id':'o1','segments':[{'id':'seg'}],'contacts':[{'id':'ct','channels':"
		"[{'id':'ch','type':'custom','user_id':'u'}],'segments':['seg']}]},"
		"{'id':'o2','segments':[{'id':'seg'}],'contacts':[{'id':'ct','channels':"
		"[{'id':'ch','type':'custom','user_id':'u'}],'segments':['seg']}]}]}");
	CHECK_INT_EQ(f->n_orgs, 2);
	fixture_free(f);
}

static void name_of_512_code_points_is_fine(void)
{
	/* 512 two-byte characters: the limit counts code points, not bytes. */
	char *name = xmalloc(2 * 512 + 1);
	for (int i = 0; i < 512; i++)
		memcpy(name + 2 * i, "é", 2);
	name[1024] = '\0';
	char *json = xasprintf(ORG_WITH("{'id':'ct_a','name':'%s'}"), name);
	struct fixture *f = parse_ok(json);
	CHECK_STR_EQ(f->orgs[0].contacts[0].name, name);
	fixture_free(f);
	free(json);
	free(name);
}

/* ---- orgs, parents, lookup, hash ---- */

static void parents_ordered_before_sub_orgs(void)
{
	struct fixture *f = parse_ok("{'orgs':[{'id':'o_grandchild','parent_id':'o_child'},"
				     "{'id':'o_other'},"
				     "{'id':'o_child','parent_id':'o_root'},"
				     "{'id':'o_root'}]}");
	CHECK_INT_EQ(f->n_orgs, 4);
	CHECK_STR_EQ(f->orgs[0].id, "o_root");
	CHECK_STR_EQ(f->orgs[1].id, "o_child");
	CHECK_STR_EQ(f->orgs[2].id, "o_grandchild");
	CHECK_STR_EQ(f->orgs[3].id, "o_other");
	CHECK_STR_EQ(f->orgs[2].parent_id, "o_child");
	fixture_free(f);
}

static void keeps_file_order_when_parents_come_first(void)
{
	struct fixture *f = parse_ok("{'orgs':[{'id':'o_b'},{'id':'o_a'},"
				     "{'id':'o_b1','parent_id':'o_b'},{'id':'o_c','parent_id':null},"
				     "{'id':'o_a1','parent_id':'o_a'}]}");
	static const char *const want[] = {"o_b", "o_a", "o_b1", "o_c", "o_a1"};
	for (size_t i = 0; i < 5; i++)
		CHECK_STR_EQ(f->orgs[i].id, want[i]);
	fixture_free(f);
}

static void find_org_by_id(void)
{
	struct fixture *f = parse_ok("{'orgs':[{'id':'o1','name':'One','api_keys':['k1','k2']},"
				     "{'id':'o2'}]}");
	const struct fixture_org *o = fixture_find_org(f, "o1");
	CHECK(o != NULL);
	CHECK_STR_EQ(o->name, "One");
	CHECK_INT_EQ(o->n_api_keys, 2);
	CHECK_STR_EQ(o->api_keys[1], "k2");
	CHECK(fixture_find_org(f, "o2") == &f->orgs[1]);
	CHECK_NULL(fixture_find_org(f, "o3"));
	fixture_free(f);
}

static void hash_is_fnv1a_of_the_bytes(void)
{
	struct fixture *f = NULL;
	const char text[] = "{\"orgs\":[]}";
	CHECK_INT_EQ(fixture_parse(text, strlen(text), "t.json", NOW, &f, NULL), 0);
	CHECK_STR_EQ(f->hash, "35e642f57bd61e82");
	CHECK_STR_EQ(f->source, "t.json");
	fixture_free(f);
}

/* ---- files ---- */

static void load_file_reads_and_names_the_source(void)
{
	char path[] = "/tmp/test_fixtures_XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	const char body[] = "{\"orgs\":[{\"id\":\"o1\",\"contacts\":[{\"id\":\"ct_a\",\"bogus\":1}]}]}";
	CHECK_INT_EQ(write(fd, body, strlen(body)), (long long)strlen(body));
	close(fd);
	struct fixture *f = NULL;
	struct error err = {0};
	CHECK_INT_EQ(fixture_load_file(path, NOW, &f, &err), -1);
	char *want = xasprintf("%s: orgs[0].contacts[0].bogus: unknown field", path);
	CHECK_STR_EQ(err.msg, want);
	free(want);

	FILE *fp = fopen(path, "w");
	CHECK(fp != NULL);
	fputs("{\"orgs\":[]}", fp);
	fclose(fp);
	CHECK_INT_EQ(fixture_load_file(path, NOW, &f, &err), 0);
	CHECK_STR_EQ(f->source, path);
	CHECK_STR_EQ(f->hash, "35e642f57bd61e82");
	fixture_free(f);
	unlink(path);
}

static void load_file_missing(void)
{
	struct fixture *f = NULL;
	struct error err = {0};
	CHECK_INT_EQ(fixture_load_file("/nonexistent/fixtures/none.json", NOW, &f, &err), -1);
	CHECK_NULL(f);
	CHECK_STR_EQ(err.msg,
		     "/nonexistent/fixtures/none.json: cannot read: No such file or directory");
}

static void load_file_directory(void)
{
	struct fixture *f = NULL;
	struct error err = {0};
	CHECK_INT_EQ(fixture_load_file("/tmp", NOW, &f, &err), -1);
	CHECK_NULL(f);
	CHECK_STR_EQ(err.msg, "/tmp: cannot read: Is a directory");
}

/* ---- JSON-level failures ---- */

static void rejects_invalid_json(void)
{
	expect_error("{'orgs': [}", "t.json: file is not valid JSON (at byte 10)");
}

static void rejects_duplicate_key(void)
{
	expect_error("{'orgs':[{'id':'a','id':'b'}]}", "t.json: orgs[0].id: is a duplicate key");
	expect_error("{'orgs':[],'orgs':[]}", "t.json: orgs: is a duplicate key");
	expect_error("{'orgs':[{'id':'a','contacts':[{'id':'c'},{'id':'d','name':'x','name':'y'}]}]}",
		     "t.json: orgs[0].contacts[1].name: is a duplicate key");
}

/* The document is read an org, and then a contact, at a time; what is wrong
 * with it is reported as if it were read whole: JSON first, then the
 * document's own keys, then the orgs in order, each org's keys first. */
static void rejects_in_document_order(void)
{
	expect_error("{'orgs':[{'id':'a','contacts':[{'id':'c','blocked':1},"
		     "{'id':'d','name':'x','name':'y'}]}]}",
		     "t.json: orgs[0].contacts[1].name: is a duplicate key");
	expect_error("{'orgs':[{'id':'a','contacts':[{'id':'c','blocked':1}]}],'x':1}",
		     "t.json: x: unknown field");
	expect_error("{'orgs':[{'id':'a','contacts':[{'id':'c','blocked':1}],'x':1}]}",
		     "t.json: orgs[0].x: unknown field");
	expect_error("{'orgs':[{'id':'a','contacts':[{'id':'c','blocked':1}],'name':3}]}",
		     "t.json: orgs[0].name: must be a string");
	expect_error("{'orgs':[{'id':'a','contacts':{}}]}",
		     "t.json: orgs[0].contacts: must be an array");
	expect_error("{'orgs':[{'id':'a'},7]}", "t.json: orgs[1]: must be an object");
	expect_error("{'orgs':{}}", "t.json: orgs: must be an array");
	expect_error("[]", "t.json: file must be a JSON object");
	/* Keys are compared decoded, whatever their escapes. */
	expect_error("{'or\\u0067s':[{'id':'a','contact\\u0073':[{'id':'c','blocked':1}]}]}",
		     "t.json: orgs[0].contacts[0].blocked: must be a boolean");
	expect_error("{'orgs':[{'id':'a','\\u0069d':'b'}]}", "t.json: orgs[0].id: is a duplicate key");
}

static void rejects_invalid_utf8(void)
{
	const char text[] = "{\"orgs\":[{\"id\":\"\xff\"}]}";
	expect_error_raw(text, strlen(text), "t.json: file is not valid UTF-8 (at byte 16)");
}

static void rejects_nul_escape(void)
{
	expect_error("{'orgs':[{'id':'a\\u0000b'}]}",
		     "t.json: file must not contain \\u0000 (at byte 17)");
}

/* ---- structure and types ---- */

static void rejects_top_level_not_object(void)
{
	expect_error("[]", "t.json: file must be a JSON object");
}

static void rejects_missing_orgs(void)
{
	expect_error("{}", "t.json: orgs: is required");
}

static void rejects_unknown_top_level_field(void)
{
	expect_error("{'orgs':[],'version':1}", "t.json: version: unknown field");
}

static void rejects_orgs_not_array(void)
{
	expect_error("{'orgs':{}}", "t.json: orgs: must be an array");
}

static void rejects_org_not_object(void)
{
	expect_error("{'orgs':[{'id':'o1'},'o2']}", "t.json: orgs[1]: must be an object");
}

static void rejects_unknown_contact_field(void)
{
	expect_error(ORG_WITH("{'id':'ct_a'},{'id':'ct_b'},{'id':'ct_c'},{'id':'ct_d','foo':1}"),
		     "t.json: orgs[0].contacts[3].foo: unknown field");
}

static void rejects_unknown_org_field(void)
{
	expect_error("{'orgs':[{'id':'o1','keys':['k']}]}", "t.json: orgs[0].keys: unknown field");
}

static void rejects_unknown_channel_field(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','channels':[{'id':'ch','type':'custom',"
			      "'user_id':'u','status':'on'}]}"),
		     "t.json: orgs[0].contacts[0].channels[0].status: unknown field");
}

static void rejects_unknown_segment_field(void)
{
	expect_error("{'orgs':[{'id':'o','segments':[{'id':'s','colour':'red'}]}]}",
		     "t.json: orgs[0].segments[0].colour: unknown field");
}

static void rejects_contacts_count(void)
{
	expect_error("{'orgs':[{'id':'o','segments':[{'id':'s'},{'id':'t','contacts_count':3}]}]}",
		     "t.json: orgs[0].segments[1].contacts_count: "
		     "contacts_count is computed by the server; leave it out");
}

static void rejects_non_string_id(void)
{
	expect_error(ORG_WITH("{'id':7}"), "t.json: orgs[0].contacts[0].id: must be a string");
}

static void rejects_null_id(void)
{
	expect_error("{'orgs':[{'id':null}]}", "t.json: orgs[0].id: must be a string");
}

static void rejects_non_string_user_id(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','channels':[{'id':'ch','type':'twilio',"
			      "'user_id':15550100}]}"),
		     "t.json: orgs[0].contacts[0].channels[0].user_id: must be a string");
}

static void rejects_non_string_name(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','name':42}"),
		     "t.json: orgs[0].contacts[0].name: must be a string or null");
}

static void rejects_non_string_channel_field(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','channels':[{'id':'ch','type':'custom',"
			      "'user_id':'u','email':['a@b']}]}"),
		     "t.json: orgs[0].contacts[0].channels[0].email: must be a string or null");
}

static void rejects_null_org_name(void)
{
	expect_error("{'orgs':[{'id':'o','name':null}]}",
		     "t.json: orgs[0].name: must be a string");
}

static void rejects_non_string_parent_id(void)
{
	expect_error("{'orgs':[{'id':'o','parent_id':1}]}",
		     "t.json: orgs[0].parent_id: must be a string or null");
}

static void rejects_non_boolean_flag(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','blocked':'yes'}"),
		     "t.json: orgs[0].contacts[0].blocked: must be a boolean");
}

static void rejects_null_flag(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','is_admin':null}"),
		     "t.json: orgs[0].contacts[0].is_admin: must be a boolean");
}

static void rejects_non_array_channels(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','channels':{}}"),
		     "t.json: orgs[0].contacts[0].channels: must be an array");
}

static void rejects_non_array_api_keys(void)
{
	expect_error("{'orgs':[{'id':'o','api_keys':'sk_a'}]}",
		     "t.json: orgs[0].api_keys: must be an array");
}

static void rejects_non_object_channel(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','channels':['ch_1']}"),
		     "t.json: orgs[0].contacts[0].channels[0]: must be an object");
}

static void rejects_non_object_platform_data(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','channels':[{'id':'ch','type':'custom',"
			      "'user_id':'u','platform_data':[]}]}"),
		     "t.json: orgs[0].contacts[0].channels[0].platform_data: must be an object");
}

static void rejects_non_string_date_time(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','created_at':1714555800000}"),
		     "t.json: orgs[0].contacts[0].created_at: must be a date-time string");
}

static void rejects_null_created_at(void)
{
	expect_error("{'orgs':[{'id':'o','segments':[{'id':'s','created_at':null}]}]}",
		     "t.json: orgs[0].segments[0].created_at: must be a date-time string");
}

static void rejects_non_string_blocked_at(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','blocked':true,'blocked_at':5}"),
		     "t.json: orgs[0].contacts[0].blocked_at: must be a date-time string or null");
}

static void rejects_bad_date_time(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','updated_at':'2024-13-01'}"),
		     "t.json: orgs[0].contacts[0].updated_at: \"2024-13-01\" is not a date-time");
}

static void rejects_bad_channel_date_time(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','channels':[{'id':'ch','type':'custom',"
			      "'user_id':'u','created_at':'2024-02-30T00:00:00Z'}]}"),
		     "t.json: orgs[0].contacts[0].channels[0].created_at: "
		     "\"2024-02-30T00:00:00Z\" is not a date-time");
}

/* ---- required fields ---- */

static void rejects_missing_contact_id(void)
{
	expect_error(ORG_WITH("{'id':'ct_a'},{'id':'ct_b'},{'id':'ct_c'},{'name':'No Id'}"),
		     "t.json: orgs[0].contacts[3].id: is required");
}

static void rejects_missing_org_id(void)
{
	expect_error("{'orgs':[{'name':'Nameless'}]}", "t.json: orgs[0].id: is required");
}

static void rejects_missing_channel_type(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','channels':[{'id':'ch','user_id':'u'}]}"),
		     "t.json: orgs[0].contacts[0].channels[0].type: is required");
}

static void rejects_missing_user_id(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','channels':[{'id':'ch','type':'gmail'}]}"),
		     "t.json: orgs[0].contacts[0].channels[0].user_id: is required");
}

/* ---- enums ---- */

static void rejects_unknown_channel_type(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','channels':[{'id':'ch','type':'fax','user_id':'u'}]}"),
		     "t.json: orgs[0].contacts[0].channels[0].type: \"fax\" is not a channel type");
}

static void rejects_unknown_segment_color(void)
{
	expect_error("{'orgs':[{'id':'org_demo','segments':[{'id':'s1'},"
		     "{'id':'s2','color':'mauve'}]}]}",
		     "t.json: orgs[0].segments[1].color: \"mauve\" is not a segment color");
}

/* ---- uniqueness ---- */

static void rejects_duplicate_contact_id(void)
{
	expect_error(ORG_WITH("{'id':'ct_a'},{'id':'ct_b'},{'id':'ct_c'},{'id':'ct_d'},"
			      "{'id':'ct_ada'},{'id':'ct_ada'}"),
		     "t.json: orgs[0].contacts[5].id: duplicate contact id \"ct_ada\"");
}

static void rejects_duplicate_segment_id(void)
{
	expect_error("{'orgs':[{'id':'o','segments':[{'id':'seg_vip'},{'id':'seg_vip'}]}]}",
		     "t.json: orgs[0].segments[1].id: duplicate segment id \"seg_vip\"");
}

static void rejects_duplicate_channel_id(void)
{
	/* Channel ids are unique in the org, not just in the contact. */
	expect_error(ORG_WITH("{'id':'ct_a','channels':[{'id':'ch_1','type':'custom','user_id':'u'}]},"
			      "{'id':'ct_b','channels':[{'id':'ch_1','type':'custom','user_id':'v'}]}"),
		     "t.json: orgs[0].contacts[1].channels[0].id: duplicate channel id \"ch_1\"");
}

static void rejects_duplicate_org_id(void)
{
	expect_error("{'orgs':[{'id':'org_demo'},{'id':'org_acme'},{'id':'org_demo'}]}",
		     "t.json: orgs[2].id: duplicate org id \"org_demo\"");
}

static void rejects_api_key_used_twice(void)
{
	expect_error("{'orgs':[{'id':'o1','api_keys':['sk_x']},{'id':'o2','api_keys':['sk_x']}]}",
		     "t.json: orgs[1].api_keys[0]: key \"sk_x\" is used twice");
}

static void rejects_api_key_twice_in_one_org(void)
{
	expect_error("{'orgs':[{'id':'o1','api_keys':['sk_x','sk_y','sk_x']}]}",
		     "t.json: orgs[0].api_keys[2]: key \"sk_x\" is used twice");
}

static void rejects_api_key_with_space(void)
{
	expect_error("{'orgs':[{'id':'o1','api_keys':['sk x']}]}",
		     "t.json: orgs[0].api_keys[0]: "
		     "must be a non-empty key without whitespace or control characters");
}

static void rejects_empty_api_key(void)
{
	expect_error("{'orgs':[{'id':'o1','api_keys':['']}]}",
		     "t.json: orgs[0].api_keys[0]: "
		     "must be a non-empty key without whitespace or control characters");
}

static void rejects_non_string_api_key(void)
{
	expect_error("{'orgs':[{'id':'o1','api_keys':[1]}]}",
		     "t.json: orgs[0].api_keys[0]: must be a string");
}

/* ---- memberships ---- */

static void rejects_unknown_segment_membership(void)
{
	expect_error(ORG_WITH("{'id':'ct_a'},{'id':'ct_b'},{'id':'ct_c'},"
			      "{'id':'ct_d','segments':['seg_vip','seg_x']}"),
		     "t.json: orgs[0].contacts[3].segments[1]: "
		     "\"seg_x\" is not a segment of org \"org_demo\"");
}

static void rejects_other_orgs_segment(void)
{
	expect_error("{'orgs':[{'id':'o1','segments':[{'id':'seg_1'}]},"
		     "{'id':'o2','contacts':[{'id':'ct','segments':['seg_1']}]}]}",
		     "t.json: orgs[1].contacts[0].segments[0]: \"seg_1\" is not a segment of org \"o2\"");
}

static void rejects_duplicate_membership(void)
{
	expect_error(ORG_WITH("{'id':'ct_a'},{'id':'ct_b'},{'id':'ct_c'},"
			      "{'id':'ct_d','segments':['seg_vip','seg_vip']}"),
		     "t.json: orgs[0].contacts[3].segments[1]: \"seg_vip\" is listed twice");
}

static void rejects_non_string_membership(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','segments':[{'id':'seg_vip'}]}"),
		     "t.json: orgs[0].contacts[0].segments[0]: must be a string");
}

/* ---- parents ---- */

static void rejects_unknown_parent(void)
{
	expect_error("{'orgs':[{'id':'org_demo'},{'id':'org_eu','parent_id':'org_nope'}]}",
		     "t.json: orgs[1].parent_id: \"org_nope\" names no org");
}

static void rejects_own_parent(void)
{
	expect_error("{'orgs':[{'id':'org_demo'},{'id':'org_eu','parent_id':'org_eu'}]}",
		     "t.json: orgs[1].parent_id: an org cannot be its own parent");
}

static void rejects_parent_cycle(void)
{
	/* org_top hangs below the cycle; the message names the cycle's first org. */
	expect_error("{'orgs':[{'id':'org_top','parent_id':'org_a'},"
		     "{'id':'org_a','parent_id':'org_b'},{'id':'org_b','parent_id':'org_a'}]}",
		     "t.json: orgs[1].parent_id: parent cycle");
}

/* ---- lengths and ids ---- */

static void rejects_too_long_name(void)
{
	char *name = xmalloc(514);
	memset(name, 'a', 513);
	name[513] = '\0';
	char *json = xasprintf(ORG_WITH("{'id':'ct_a','name':'%s'}"), name);
	expect_error(json, "t.json: orgs[0].contacts[0].name: must be at most 512 characters");
	free(json);
	free(name);
}

static void rejects_empty_segment_name(void)
{
	expect_error("{'orgs':[{'id':'o','segments':[{'id':'s','name':''}]}]}",
		     "t.json: orgs[0].segments[0].name: must not be empty");
}

static void rejects_too_long_segment_name(void)
{
	char name[130];
	memset(name, 'x', 129);
	name[129] = '\0';
	char *json = xasprintf("{'orgs':[{'id':'o','segments':[{'id':'s','name':'%s'}]}]}", name);
	expect_error(json, "t.json: orgs[0].segments[0].name: must be at most 128 characters");
	free(json);
}

static void rejects_empty_id(void)
{
	expect_error(ORG_WITH("{'id':''}"),
		     "t.json: orgs[0].contacts[0].id: "
		     "must be a non-empty id without control characters, at most 256 bytes");
}

static void rejects_id_with_control_character(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','channels':[{'id':'ch\\t1','type':'custom','user_id':'u'}]}"),
		     "t.json: orgs[0].contacts[0].channels[0].id: "
		     "must be a non-empty id without control characters, at most 256 bytes");
}

static void rejects_too_long_id(void)
{
	char id[258];
	memset(id, 's', 257);
	id[257] = '\0';
	char *json = xasprintf("{'orgs':[{'id':'o','segments':[{'id':'%s'}]}]}", id);
	expect_error(json, "t.json: orgs[0].segments[0].id: "
			   "must be a non-empty id without control characters, at most 256 bytes");
	free(json);
}

static void accepts_id_of_256_bytes(void)
{
	char id[257];
	memset(id, 'o', 256);
	id[256] = '\0';
	char *json = xasprintf("{'orgs':[{'id':'%s'}]}", id);
	struct fixture *f = parse_ok(json);
	CHECK_STR_EQ(f->orgs[0].id, id);
	fixture_free(f);
	free(json);
}

static void rejects_org_id_c(void)
{
	expect_error("{'orgs':[{'id':'c'}]}",
		     "t.json: orgs[0].id: \"c\" is reserved for the key's own org");
}

/* ---- flag times ---- */

static void rejects_blocked_at_when_not_blocked(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','blocked_at':'2024-05-01T09:30:00.000Z'}"),
		     "t.json: orgs[0].contacts[0].blocked_at: must be null when blocked is false");
}

static void rejects_unsubscribed_at_when_subscribed(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','unsubscribed':false,"
			      "'unsubscribed_at':'2024-05-01T09:30:00.000Z'}"),
		     "t.json: orgs[0].contacts[0].unsubscribed_at: "
		     "must be null when unsubscribed is false");
}

static void rejects_unsubscribe_reason_when_subscribed(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','unsubscribe_reason':'not_relevant'}"),
		     "t.json: orgs[0].contacts[0].unsubscribe_reason: "
		     "must be null when unsubscribed is false");
}

static void rejects_unsubscribe_feedback_when_subscribed(void)
{
	expect_error(ORG_WITH("{'id':'ct_a','unsubscribe_feedback':'meh'}"),
		     "t.json: orgs[0].contacts[0].unsubscribe_feedback: "
		     "must be null when unsubscribed is false");
}

static void error_pointer_may_be_null(void)
{
	struct fixture *f = NULL;
	CHECK_INT_EQ(fixture_parse("[]", 2, "t.json", NOW, &f, NULL), -1);
	CHECK_NULL(f);
	CHECK_INT_EQ(fixture_load_file("/nonexistent/none.json", NOW, &f, NULL), -1);
	CHECK_NULL(f);
	fixture_free(NULL);
}

static const struct test_case cases[] = {
	TEST_CASE("fixtures@embedded-demo-parses", embedded_demo_parses),
	TEST_CASE("fixtures@embedded-demo-has-promised-shape", embedded_demo_has_promised_shape),
	TEST_CASE("fixtures@minimal-contact-takes-defaults", minimal_contact_takes_defaults),
	TEST_CASE("fixtures@contact-without-channels-or-segments",
		  contact_without_channels_or_segments),
	TEST_CASE("fixtures@minimal-org-takes-defaults", minimal_org_takes_defaults),
	TEST_CASE("fixtures@empty-orgs-list-is-fine", empty_orgs_list_is_fine),
	TEST_CASE("fixtures@segment-takes-defaults", segment_takes_defaults),
	TEST_CASE("fixtures@updated_at-defaults-to-created_at", updated_at_defaults_to_created_at),
	TEST_CASE("fixtures@channel-times-default-to-contact-created_at",
		  channel_times_default_to_contact_created_at),
	TEST_CASE("fixtures@blocked-without-blocked_at-takes-now",
		  blocked_without_blocked_at_takes_now),
	TEST_CASE("fixtures@unsubscribed-without-unsubscribed_at-takes-now",
		  unsubscribed_without_unsubscribed_at_takes_now),
	TEST_CASE("fixtures@missing-updated_at-is-latest-change", missing_updated_at_is_latest_change),
	TEST_CASE("fixtures@null-flag-times-fine-when-flag-false",
		  null_flag_times_are_fine_when_flag_is_false),
	TEST_CASE("fixtures@offsets-convert-to-utc", offsets_convert_to_utc),
	TEST_CASE("fixtures@platform_data-stored-compact", platform_data_stored_compact),
	TEST_CASE("fixtures@channel-strings-are-kept", channel_strings_are_kept),
	TEST_CASE("fixtures@same-ids-in-different-orgs-are-fine",
		  same_ids_in_different_orgs_are_fine),
	TEST_CASE("fixtures@name-of-512-code-points-is-fine", name_of_512_code_points_is_fine),
	TEST_CASE("fixtures@parents-ordered-before-sub-orgs", parents_ordered_before_sub_orgs),
	TEST_CASE("fixtures@keeps-file-order-when-parents-come-first",
		  keeps_file_order_when_parents_come_first),
	TEST_CASE("fixtures@find-org-by-id", find_org_by_id),
	TEST_CASE("fixtures@hash-is-fnv1a-of-the-bytes", hash_is_fnv1a_of_the_bytes),
	TEST_CASE("fixtures@load-file-reads-and-names-the-source",
		  load_file_reads_and_names_the_source),
	TEST_CASE("fixtures@load-file-missing", load_file_missing),
	TEST_CASE("fixtures@load-file-directory", load_file_directory),
	TEST_CASE("fixtures@rejects-invalid-json", rejects_invalid_json),
	TEST_CASE("fixtures@rejects-duplicate-key", rejects_duplicate_key),
	TEST_CASE("fixtures@rejects-in-document-order", rejects_in_document_order),
	TEST_CASE("fixtures@rejects-invalid-utf8", rejects_invalid_utf8),
	TEST_CASE("fixtures@rejects-nul-escape", rejects_nul_escape),
	TEST_CASE("fixtures@rejects-top-level-not-object", rejects_top_level_not_object),
	TEST_CASE("fixtures@rejects-missing-orgs", rejects_missing_orgs),
	TEST_CASE("fixtures@rejects-unknown-top-level-field", rejects_unknown_top_level_field),
	TEST_CASE("fixtures@rejects-orgs-not-array", rejects_orgs_not_array),
	TEST_CASE("fixtures@rejects-org-not-object", rejects_org_not_object),
	TEST_CASE("fixtures@rejects-unknown-contact-field", rejects_unknown_contact_field),
	TEST_CASE("fixtures@rejects-unknown-org-field", rejects_unknown_org_field),
	TEST_CASE("fixtures@rejects-unknown-channel-field", rejects_unknown_channel_field),
	TEST_CASE("fixtures@rejects-unknown-segment-field", rejects_unknown_segment_field),
	TEST_CASE("fixtures@rejects-contacts_count", rejects_contacts_count),
	TEST_CASE("fixtures@rejects-non-string-id", rejects_non_string_id),
	TEST_CASE("fixtures@rejects-null-id", rejects_null_id),
	TEST_CASE("fixtures@rejects-non-string-user_id", rejects_non_string_user_id),
	TEST_CASE("fixtures@rejects-non-string-name", rejects_non_string_name),
	TEST_CASE("fixtures@rejects-non-string-channel-field", rejects_non_string_channel_field),
	TEST_CASE("fixtures@rejects-null-org-name", rejects_null_org_name),
	TEST_CASE("fixtures@rejects-non-string-parent_id", rejects_non_string_parent_id),
	TEST_CASE("fixtures@rejects-non-boolean-flag", rejects_non_boolean_flag),
	TEST_CASE("fixtures@rejects-null-flag", rejects_null_flag),
	TEST_CASE("fixtures@rejects-non-array-channels", rejects_non_array_channels),
	TEST_CASE("fixtures@rejects-non-array-api_keys", rejects_non_array_api_keys),
	TEST_CASE("fixtures@rejects-non-object-channel", rejects_non_object_channel),
	TEST_CASE("fixtures@rejects-non-object-platform_data", rejects_non_object_platform_data),
	TEST_CASE("fixtures@rejects-non-string-date-time", rejects_non_string_date_time),
	TEST_CASE("fixtures@rejects-null-created_at", rejects_null_created_at),
	TEST_CASE("fixtures@rejects-non-string-blocked_at", rejects_non_string_blocked_at),
	TEST_CASE("fixtures@rejects-bad-date-time", rejects_bad_date_time),
	TEST_CASE("fixtures@rejects-bad-channel-date-time", rejects_bad_channel_date_time),
	TEST_CASE("fixtures@rejects-missing-contact-id", rejects_missing_contact_id),
	TEST_CASE("fixtures@rejects-missing-org-id", rejects_missing_org_id),
	TEST_CASE("fixtures@rejects-missing-channel-type", rejects_missing_channel_type),
	TEST_CASE("fixtures@rejects-missing-user_id", rejects_missing_user_id),
	TEST_CASE("fixtures@rejects-unknown-channel-type", rejects_unknown_channel_type),
	TEST_CASE("fixtures@rejects-unknown-segment-color", rejects_unknown_segment_color),
	TEST_CASE("fixtures@rejects-duplicate-contact-id", rejects_duplicate_contact_id),
	TEST_CASE("fixtures@rejects-duplicate-segment-id", rejects_duplicate_segment_id),
	TEST_CASE("fixtures@rejects-duplicate-channel-id", rejects_duplicate_channel_id),
	TEST_CASE("fixtures@rejects-duplicate-org-id", rejects_duplicate_org_id),
	TEST_CASE("fixtures@rejects-api-key-used-twice", rejects_api_key_used_twice),
	TEST_CASE("fixtures@rejects-api-key-twice-in-one-org", rejects_api_key_twice_in_one_org),
	TEST_CASE("fixtures@rejects-api-key-with-space", rejects_api_key_with_space),
	TEST_CASE("fixtures@rejects-empty-api-key", rejects_empty_api_key),
	TEST_CASE("fixtures@rejects-non-string-api-key", rejects_non_string_api_key),
	TEST_CASE("fixtures@rejects-unknown-segment-membership",
		  rejects_unknown_segment_membership),
	TEST_CASE("fixtures@rejects-other-orgs-segment", rejects_other_orgs_segment),
	TEST_CASE("fixtures@rejects-duplicate-membership", rejects_duplicate_membership),
	TEST_CASE("fixtures@rejects-non-string-membership", rejects_non_string_membership),
	TEST_CASE("fixtures@rejects-unknown-parent", rejects_unknown_parent),
	TEST_CASE("fixtures@rejects-own-parent", rejects_own_parent),
	TEST_CASE("fixtures@rejects-parent-cycle", rejects_parent_cycle),
	TEST_CASE("fixtures@rejects-too-long-name", rejects_too_long_name),
	TEST_CASE("fixtures@rejects-empty-segment-name", rejects_empty_segment_name),
	TEST_CASE("fixtures@rejects-too-long-segment-name", rejects_too_long_segment_name),
	TEST_CASE("fixtures@rejects-empty-id", rejects_empty_id),
	TEST_CASE("fixtures@rejects-id-with-control-character", rejects_id_with_control_character),
	TEST_CASE("fixtures@rejects-too-long-id", rejects_too_long_id),
	TEST_CASE("fixtures@accepts-id-of-256-bytes", accepts_id_of_256_bytes),
	TEST_CASE("fixtures@rejects-org-id-c", rejects_org_id_c),
	TEST_CASE("fixtures@rejects-blocked_at-when-not-blocked",
		  rejects_blocked_at_when_not_blocked),
	TEST_CASE("fixtures@rejects-unsubscribed_at-when-subscribed",
		  rejects_unsubscribed_at_when_subscribed),
	TEST_CASE("fixtures@rejects-unsubscribe_reason-when-subscribed",
		  rejects_unsubscribe_reason_when_subscribed),
	TEST_CASE("fixtures@rejects-unsubscribe_feedback-when-subscribed",
		  rejects_unsubscribe_feedback_when_subscribed),
	TEST_CASE("fixtures@error-pointer-may-be-null", error_pointer_may_be_null),
};

TEST_MAIN(cases)
