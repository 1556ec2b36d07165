#!/usr/bin/env python3
"""Snapshots: GET /__admin/export, POST /__admin/import and --watch, against the
real binary. Run as: test_snapshot.py CASE PATH/TO/invent-mock

Standard library only. Every server a test starts is killed by its own PID in a
finally block; every wait is bounded."""
import contextlib
import http.client
import json
import os
import sys
import tempfile
import threading
import time

from invent_server import Server  # noqa: E402

CASES = {}
HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(HERE, "..", "fixtures", "demo.json")


def case(name):
    def register(fn):
        CASES[name] = fn
        return fn
    return register


@contextlib.contextmanager
def server(exe, args):
    s = Server(exe, ["--port", "0", "--db", ":memory:", "--log", "off"] + list(args))
    try:
        s.wait_ready()
        yield s
    finally:
        s.kill()


def call(port, method, path, body=None, key=None, headers=None, timeout=10.0):
    """Returns (status, raw body bytes, headers with lower-case names)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {}
        if key:
            h["Authorization"] = "Bearer " + key
        if body is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, r.read(), {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()


def jcall(port, method, path, body=None, key=None, headers=None):
    st, raw, h = call(port, method, path, body, key, headers)
    return st, (json.loads(raw) if raw else None), h


def export(port, query=""):
    st, raw, h = call(port, "GET", "/__admin/export" + query)
    assert st == 200, (st, raw[:300])
    assert h.get("content-type") == "application/json", h
    return raw


def health(port):
    st, body, _ = jcall(port, "GET", "/__admin/health")
    assert st == 200, body
    return body


def envelope(status, message):
    phrases = {400: "Bad Request", 404: "Not Found", 413: "Payload Too Large",
               415: "Unsupported Media Type"}
    return {"statusCode": status, "error": phrases[status], "message": message}


def every_read(port, doc):
    """Every read of every org the document names, as (what, status, body, paging
    headers): all pages of the list (take 7) and some filters, each contact's
    segments, and each contact read through the admin API."""
    out = []
    for org in doc["orgs"]:
        key = org["api_keys"][0]
        oid = org["id"]
        queries = ["", "?take=100", "?status=BLOCKED", "?status=UNSUBSCRIBED",
                   "?status=SUBSCRIBED", "?status=AI_REPLIES_DISABLED", "?exclude_admins=true",
                   "?search=a&take=3&page=2", "?unsubscribed=false"]
        queries += ["?segment_id=" + s["id"] for s in org["segments"]]
        pages = (len(org["contacts"]) + 6) // 7 + 1
        queries += ["?take=7&page=%d" % p for p in range(1, pages + 1)]
        for q in queries:
            st, raw, h = call(port, "GET", "/orgs/%s/contacts%s" % (oid, q), key=key)
            out.append((oid + q, st, raw, tuple(h.get("pagination-" + n)
                                                for n in ("count", "page", "take"))))
        for c in org["contacts"]:
            path = "/orgs/%s/contacts/%s/segments" % (oid, c["id"])
            st, raw, h = call(port, "GET", path, key=key)
            out.append((path, st, raw, h.get("pagination-count")))
            path = "/__admin/orgs/%s/contacts/%s" % (oid, c["id"])
            st, raw, _ = call(port, "GET", path)
            out.append((path, st, raw, None))
    return out


def assert_same_reads(a, b):
    assert len(a) == len(b), (len(a), len(b))
    for x, y in zip(a, b):
        assert x == y, "%s differs:\n  %r\n  %r" % (x[0], x, y)
        assert x[1] == 200, x


def change_everything(port):
    """Changes the demo state through every writing endpoint; returns the
    isolated org's (id, key)."""
    k = "sk_test_demo"
    for body in ({"name": "Ada L."}, {"blocked": True}, {"unsubscribed": True},
                 {"name": None}):
        st, b, _ = jcall(port, "PATCH", "/orgs/c/contacts/ct_ada", body, key=k)
        assert st == 200, b
    st, b, _ = jcall(port, "PATCH", "/orgs/org_demo_eu/contacts/" + first_contact("org_demo_eu"),
                     {"name": "Über ünïcode ✓", "unsubscribed": True}, key=k)
    assert st == 200, b
    st, made, _ = jcall(port, "POST", "/orgs/c/contacts",
                        {"channel": {"email": "new@example.com", "name": "New Person"},
                         "segment_ids": ["seg_vip"]}, key=k)
    assert st == 201, made
    st, b, _ = jcall(port, "POST", "/orgs/c/contacts",
                     {"channel": {"phone": "+15550199", "contact_id": made["id"]}}, key=k)
    assert st == 201 and len(b["channels"]) == 2, b
    st, b, _ = jcall(port, "POST", "/orgs/c/contacts/ct_ada/segments/seg_beta", key=k)
    assert st == 201, b
    st, iso, _ = jcall(port, "POST", "/__admin/orgs", {"from": "org_acme"})
    assert st == 201, iso
    st, b, _ = jcall(port, "PATCH", "/orgs/c/contacts/" + first_contact("org_acme"),
                     {"blocked": True, "name": "isolated"}, key=iso["api_key"])
    assert st == 200, b
    return iso["org_id"], iso["api_key"]


def first_contact(org):
    with open(DEMO, encoding="utf-8") as f:
        doc = json.load(f)
    return next(o for o in doc["orgs"] if o["id"] == org)["contacts"][0]["id"]


# ---------------------------------------------------------------- export

@case("snapshot@export-round-trip-every-read")
def export_round_trip_every_read(exe):
    with tempfile.TemporaryDirectory() as tmp, server(exe, []) as a:
        iso_id, iso_key = change_everything(a.port)
        raw = export(a.port)
        assert export(a.port) == raw, "the same state exported other bytes"
        doc = json.loads(raw)
        ids = [o["id"] for o in doc["orgs"]]
        assert ids == ["org_demo", "org_demo_eu", "org_acme", iso_id], ids
        assert doc["orgs"][3]["api_keys"] == [iso_key]
        assert doc["orgs"][1]["parent_id"] == "org_demo"
        path = os.path.join(tmp, "state.json")
        with open(path, "wb") as f:
            f.write(raw)
        before = every_read(a.port, doc)
        with server(exe, ["--fixtures", path]) as b:
            assert_same_reads(before, every_read(b.port, doc))
            assert export(b.port) == raw, "a server loaded from an export exports other bytes"
            h = health(b.port)
            assert (h["orgs"], h["contacts"]) == (4, 67 + 8), h


@case("snapshot@export-one-org")
def export_one_org(exe):
    with tempfile.TemporaryDirectory() as tmp, server(exe, []) as a:
        change_everything(a.port)
        doc = json.loads(export(a.port, "?org_id=org_demo"))
        assert [(o["id"], o["parent_id"]) for o in doc["orgs"]] == \
            [("org_demo", None), ("org_demo_eu", "org_demo")], doc["orgs"]
        eu = export(a.port, "?org_id=org_demo_eu")
        eu_doc = json.loads(eu)
        assert [(o["id"], o["parent_id"]) for o in eu_doc["orgs"]] == [("org_demo_eu", None)]
        path = os.path.join(tmp, "eu.json")
        with open(path, "wb") as f:
            f.write(eu)
        before = every_read(a.port, eu_doc)
        with server(exe, ["--fixtures", path]) as b:
            assert_same_reads(before, every_read(b.port, eu_doc))
        st, body, _ = jcall(a.port, "GET", "/__admin/export?org_id=org_nope")
        assert (st, body) == (404, envelope(404, "Org not found")), (st, body)


# ---------------------------------------------------------------- import

def imported_doc():
    """A small document unlike the demo data: one org with a sub-org."""
    return {"orgs": [
        {"id": "org_imp", "name": "Imported", "api_keys": ["sk_imp"],
         "segments": [{"id": "seg_a", "name": "A", "color": "sky",
                       "created_at": "2025-01-01T00:00:00.000Z"}],
         "contacts": [{"id": "ct_%d" % i, "name": "Imported %d" % i,
                       "created_at": "2025-01-0%dT00:00:00.000Z" % (i + 1),
                       "channels": [{"id": "ch_%d" % i, "type": "gmail",
                                     "user_id": "u%d@example.com" % i}],
                       "segments": ["seg_a"] if i % 2 else []} for i in range(5)]},
        {"id": "org_imp_sub", "parent_id": "org_imp", "api_keys": ["sk_imp_sub"]},
    ]}


@case("snapshot@import-replaces-state-and-baseline")
def import_replaces_state_and_baseline(exe):
    with server(exe, []) as a:
        change_everything(a.port)
        text = json.dumps(imported_doc(), indent=1)
        st, body, _ = jcall(a.port, "POST", "/__admin/import", text)
        assert st == 200, body
        h = health(a.port)
        assert body["fixtures"] == h["fixtures"] == "POST /__admin/import", (body, h)
        assert body["fixtures_hash"] == h["fixtures_hash"], (body, h)
        assert (body["orgs"], body["contacts"]) == (2, 5), body
        assert (h["orgs"], h["contacts"], h["fixtures_error"]) == (2, 5, None), h
        st, _, _ = call(a.port, "GET", "/orgs/c/contacts", key="sk_test_demo")
        assert st == 401, "an old key still works"
        st, raw, hd = call(a.port, "GET", "/orgs/c/contacts", key="sk_imp")
        assert st == 200 and hd["pagination-count"] == "5", (st, raw)
        assert [c["id"] for c in json.loads(raw)] == ["ct_4", "ct_3", "ct_2", "ct_1", "ct_0"]
        st, raw, _ = call(a.port, "GET", "/orgs/org_imp_sub/contacts", key="sk_imp")
        assert (st, raw) == (200, b"[]"), (st, raw)
        baseline = export(a.port)
        st, b, _ = jcall(a.port, "PATCH", "/orgs/c/contacts/ct_1", {"blocked": True}, key="sk_imp")
        assert st == 200 and b["blocked"], b
        st, b, _ = jcall(a.port, "POST", "/__admin/reset")
        assert st == 200, b
        assert export(a.port) == baseline, "reset did not return to the imported document"
        assert health(a.port)["fixtures_hash"] == h["fixtures_hash"]
        # A fixture org of the import can be reset alone and copied, as any fixture org.
        st, b, _ = jcall(a.port, "PATCH", "/orgs/c/contacts/ct_2", {"name": "changed"}, key="sk_imp")
        assert st == 200, b
        st, b, _ = jcall(a.port, "POST", "/__admin/reset", {"org_id": "org_imp"})
        assert st == 200, b
        assert export(a.port) == baseline, "resetting the org did not return to the document"
        st, iso, _ = jcall(a.port, "POST", "/__admin/orgs", {"from": "org_imp"})
        assert st == 201, iso
        st, raw, hd = call(a.port, "GET", "/orgs/c/contacts", key=iso["api_key"])
        assert st == 200 and hd["pagination-count"] == "5", (st, raw)


@case("snapshot@import-kept-across-restart")
def import_kept_across_restart(exe):
    """Imported data is served as it is by a start without --fixtures (no file can
    be named to serve it), not refused nor loaded over; a reset then returns to
    the demo data, the fixtures of that start."""
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "demo.db")
        with server(exe, ["--db", db]) as a:
            st, body, _ = jcall(a.port, "POST", "/__admin/import", json.dumps(imported_doc()))
            assert st == 200, body
            imported_hash = body["fixtures_hash"]
            st, b, _ = jcall(a.port, "PATCH", "/orgs/c/contacts/ct_3", {"blocked": True}, key="sk_imp")
            assert st == 200 and b["blocked"], b
            before = export(a.port)
            assert a.stop() == 0
        with server(exe, ["--db", db]) as b:
            line = ("invent-mock: %s holds data imported with POST /__admin/import (hash %s): "
                    "serving it as it is; a reset loads the demo data (export it and start "
                    "with --fixtures FILE to make it the state a reset returns to)" % (db, imported_hash))
            assert line in b.stderr_lines, b.stderr_lines
            assert export(b.port) == before, "the imported state was not served as it was"
            st, c, _ = jcall(b.port, "GET", "/__admin/orgs/org_imp/contacts/ct_3")
            assert st == 200 and c["blocked"] is True, c
            st, _, _ = call(b.port, "GET", "/orgs/c/contacts", key="sk_test_demo")
            assert st == 401, "the demo data was loaded over the import"
            st, body, _ = jcall(b.port, "POST", "/__admin/reset")
            assert st == 200, body
            st, _, _ = call(b.port, "GET", "/orgs/c/contacts", key="sk_imp")
            assert st == 401, "a reset did not return to the demo data"
            st, raw, hd = call(b.port, "GET", "/orgs/c/contacts", key="sk_test_demo")
            assert st == 200 and hd["pagination-count"] == "52", (st, hd)
            assert b.stop() == 0


def bad_documents():
    """(document text, message) pairs, one per kind of refusal."""
    ok = imported_doc()

    def changed(fn):
        d = json.loads(json.dumps(ok))
        fn(d)
        return json.dumps(d)

    return [
        ("", "Document is not valid JSON (at byte 0)"),
        ('{"orgs": [', "Document is not valid JSON (at byte 10)"),
        ("[]", "Document must be a JSON object"),
        ('{"orgs": [{"id": "a", "id": "b"}]}', "orgs[0].id: is a duplicate key"),
        ('{"orgs": [], "extra": 1}', "extra: unknown field"),
        ("{}", "orgs: is required"),
        (changed(lambda d: d["orgs"][0]["contacts"][2]["channels"][0].update(type="fax")),
         'orgs[0].contacts[2].channels[0].type: "fax" is not a channel type'),
        (changed(lambda d: d["orgs"][0]["contacts"][1].update(blocked="yes")),
         "orgs[0].contacts[1].blocked: must be a boolean"),
        (changed(lambda d: d["orgs"][0]["contacts"][3].update(segments=["seg_zz"])),
         'orgs[0].contacts[3].segments[0]: "seg_zz" is not a segment of org "org_imp"'),
        (changed(lambda d: d["orgs"][0]["segments"][0].update(contacts_count=3)),
         "orgs[0].segments[0].contacts_count: contacts_count is computed by the server; "
         "leave it out"),
        (changed(lambda d: d["orgs"][1].update(api_keys=["sk_imp"])),
         'orgs[1].api_keys[0]: key "sk_imp" is used twice'),
        (changed(lambda d: d["orgs"][0].update(parent_id="org_imp_sub")),
         "orgs[0].parent_id: parent cycle"),
        (changed(lambda d: d["orgs"][0]["contacts"][0].update(created_at="yesterday")),
         'orgs[0].contacts[0].created_at: "yesterday" is not a date-time'),
    ]


@case("snapshot@import-refuses-bad-documents")
def import_refuses_bad_documents(exe):
    with tempfile.TemporaryDirectory() as tmp, server(exe, []) as a:
        change_everything(a.port)
        before, h0 = export(a.port), health(a.port)
        for i, (text, message) in enumerate(bad_documents()):
            st, body, _ = jcall(a.port, "POST", "/__admin/import", text)
            assert (st, body) == (400, envelope(400, message)), (text[:80], st, body)
            # The same words as --fixtures gives for the same file, after its name.
            path = os.path.join(tmp, "bad%d.json" % i)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            s = Server(exe, ["--port", "0", "--db", ":memory:", "--fixtures", path])
            try:
                assert s.proc.wait(timeout=10) == 1
                s.join_readers()
            finally:
                s.kill()
            want = "invent-mock: %s: %s" % (path, message.replace("Document ", "file ", 1))
            assert s.stderr_lines == [want], (s.stderr_lines, want)
        st, body, _ = jcall(a.port, "POST", "/__admin/import", json.dumps(imported_doc()),
                            headers={"Content-Type": "text/plain"})
        assert (st, body) == (415, envelope(415, "Content-Type must be application/json"))
        # A declared size over the limit is refused before the body is read.
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
        try:
            conn.putrequest("POST", "/__admin/import")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(128 * 1024 * 1024 + 1))
            conn.endheaders()
            r = conn.getresponse()
            assert (r.status, json.loads(r.read())) == \
                (413, envelope(413, "Body must be at most 134217728 bytes"))
        finally:
            conn.close()
        assert export(a.port) == before, "a refused import changed the state"
        h1 = health(a.port)
        assert (h1["fixtures"], h1["fixtures_hash"]) == (h0["fixtures"], h0["fixtures_hash"])
        st, _, _ = call(a.port, "GET", "/orgs/c/contacts", key="sk_test_demo")
        assert st == 200


@case("snapshot@import-during-patches-lands-whole")
def import_during_patches_lands_whole(exe):
    """Writers PATCH name and blocked of their own contact over and over while
    the demo data is imported again with every contact an admin: each PATCH
    answer shows one state or the other whole (is_admin tells which), and each
    contact ends as the imported one or as its last PATCH after the import."""
    with server(exe, []) as a:
        doc = json.loads(export(a.port))
        for c in doc["orgs"][0]["contacts"]:
            c["is_admin"] = True
            c["name"] = "IMPORTED"
            c["blocked"], c["blocked_at"] = False, None
        text = json.dumps(doc)
        ids = [c["id"] for c in doc["orgs"][0]["contacts"]][:16]
        results = {cid: [] for cid in ids}
        stop = threading.Event()
        errors = []

        def writer(cid):
            conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
            try:
                n = 0
                while not stop.is_set():
                    n += 1
                    body = json.dumps({"name": "%s-%d" % (cid, n), "blocked": True})
                    conn.request("PATCH", "/orgs/c/contacts/" + cid, body=body,
                                 headers={"Authorization": "Bearer sk_test_demo",
                                          "Content-Type": "application/json"})
                    r = conn.getresponse()
                    raw = r.read()
                    if r.status != 200:
                        errors.append((cid, r.status, raw))
                        return
                    results[cid].append(json.loads(raw))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append((cid, repr(e)))
            finally:
                conn.close()

        threads = [threading.Thread(target=writer, args=(cid,)) for cid in ids]
        for t in threads:
            t.start()
        time.sleep(0.2)
        st, body, _ = jcall(a.port, "POST", "/__admin/import", text)
        time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(15)
        assert st == 200, body
        assert not errors, errors[:3]
        after_import = 0
        for cid in ids:
            answers = results[cid]
            assert answers, cid
            flags = [c["is_admin"] for c in answers]
            # Before, then after: never back.
            assert flags == sorted(flags), (cid, flags)
            for c in answers:
                assert c["name"].startswith(cid + "-") and c["blocked"], c
            st, stored, _ = jcall(a.port, "GET", "/__admin/orgs/org_demo/contacts/" + cid)
            assert st == 200 and stored["is_admin"], stored
            later = [c for c in answers if c["is_admin"]]
            if later:
                after_import += 1
                assert stored == later[-1], (stored, later[-1])
            else:
                assert (stored["name"], stored["blocked"]) == ("IMPORTED", False), stored
        assert after_import > 0 and sum(1 for cid in ids if not results[cid][0]["is_admin"]) > 0, \
            "the import did not fall among the PATCHes"


class Events:
    """A subscriber of GET /__admin/events, reading its state events."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.request("GET", "/__admin/events")
        self.r = self.conn.getresponse()
        assert self.r.status == 200, self.r.status

    def next_state(self):
        """The data of the next "event: state", as JSON."""
        state = False
        while True:
            line = self.r.readline()
            assert line, "the stream ended"
            line = line.decode().rstrip("\n")
            if line == "event: state":
                state = True
            elif state and line.startswith("data: "):
                return json.loads(line[6:])

    def close(self):
        self.conn.close()


@case("snapshot@import-publishes-state-event")
def import_publishes_state_event(exe):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.json")
        write_in_place(path, json.dumps(imported_doc()))
        with server(exe, ["--fixtures", path, "--watch"]) as a:
            ev = Events(a.port)
            try:
                time.sleep(0.2)  # subscribed before the change
                st, body, _ = jcall(a.port, "POST", "/__admin/import", json.dumps(imported_doc()))
                assert st == 200, body
                got = ev.next_state()
                assert got == {"kind": "import", "fixtures": "POST /__admin/import",
                               "fixtures_hash": body["fixtures_hash"], "orgs": 2,
                               "contacts": 5}, got
                doc = imported_doc()
                doc["orgs"][1]["contacts"] = [{"id": "ct_new", "created_at": "2025-02-01T00:00:00Z"}]
                write_by_rename(path, json.dumps(doc))
                got = ev.next_state()
                h = health(a.port)
                assert got == {"kind": "import", "fixtures": path,
                               "fixtures_hash": h["fixtures_hash"], "orgs": 2, "contacts": 6}, got
            finally:
                ev.close()


# ---------------------------------------------------------------- --watch

def wait_for(fn, timeout):
    """Polls fn() until it returns a true value or timeout passes; returns
    (value, seconds taken)."""
    t0 = time.monotonic()
    while True:
        v = fn()
        if v or time.monotonic() - t0 > timeout:
            return v, time.monotonic() - t0
        time.sleep(0.02)


def stored_name(port, org, cid):
    st, body, _ = jcall(port, "GET", "/__admin/orgs/%s/contacts/%s" % (org, cid))
    return body["name"] if st == 200 else None


def write_in_place(path, text):
    with open(path, "w", encoding="utf-8") as f:  # truncate, then write
        f.write(text)


def write_by_rename(path, text):
    tmp = path + ".swp~"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(tmp, path)


def watch_edits(exe, save):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.json")
        doc = imported_doc()
        write_in_place(path, json.dumps(doc))
        with server(exe, ["--fixtures", path, "--watch"]) as a:
            for n in range(3):
                doc["orgs"][0]["contacts"][0]["name"] = "edit %d" % n
                save(path, json.dumps(doc))
                name, took = wait_for(lambda: stored_name(a.port, "org_imp", "ct_0") == "edit %d" % n,
                                      5)
                # Served within a second on a quiet machine (the 100 ms quiet period,
                # then a load); the bound is generous because CI machines are not quiet.
                assert name, "edit %d not served after %.1f s; stderr %r" % (n, took, a.stderr_lines)
                print("edit %d served after %.2f s" % (n, took))
            h = health(a.port)
            assert (h["fixtures"], h["fixtures_error"]) == (path, None), h
            # The edit is the baseline: a reset returns to it.
            st, _, _ = jcall(a.port, "PATCH", "/orgs/c/contacts/ct_0", {"name": "x"}, key="sk_imp")
            assert st == 200
            st, _, _ = jcall(a.port, "POST", "/__admin/reset")
            assert st == 200 and stored_name(a.port, "org_imp", "ct_0") == "edit 2"
            # A broken save keeps the state, and says why on stderr and in health.
            before = export(a.port)
            save(path, json.dumps(doc).replace('"gmail"', '"fax"', 1))
            msg = '%s: orgs[0].contacts[0].channels[0].type: "fax" is not a channel type' % path
            h, took = wait_for(lambda: health(a.port)["fixtures_error"], 5)
            assert h == msg, (h, a.stderr_lines)
            assert "invent-mock: %s (keeping the state loaded before)" % msg in a.stderr_lines, \
                a.stderr_lines
            assert export(a.port) == before
            # The next valid save is taken.
            doc["orgs"][0]["contacts"][0]["name"] = "fixed"
            save(path, json.dumps(doc))
            name, took = wait_for(lambda: stored_name(a.port, "org_imp", "ct_0") == "fixed", 5)
            assert name, (took, a.stderr_lines)
            assert health(a.port)["fixtures_error"] is None
            # Files beside it are not its business.
            write_in_place(os.path.join(tmp, "other.json"), "not json")
            time.sleep(0.3)
            assert health(a.port)["fixtures_error"] is None


@case("snapshot@watch-in-place-saves")
def watch_in_place_saves(exe):
    watch_edits(exe, write_in_place)


@case("snapshot@watch-rename-saves")
def watch_rename_saves(exe):
    watch_edits(exe, write_by_rename)


@case("snapshot@watch-needs-fixtures")
def watch_needs_fixtures(exe):
    for args, env in ((["--watch"], None), ([], {"INVENT_MOCK_WATCH": "1"})):
        s = Server(exe, ["--port", "0", "--db", ":memory:"] + args, env)
        try:
            assert s.proc.wait(timeout=10) == 2
            s.join_readers()
        finally:
            s.kill()
        assert s.stderr_lines == ["invent-mock: --watch needs --fixtures FILE: the built-in demo "
                                  "data never changes"], s.stderr_lines


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in CASES:
        sys.exit("usage: test_snapshot.py CASE EXE; cases: " + " ".join(CASES))
    CASES[sys.argv[1]](os.path.abspath(sys.argv[2]))
