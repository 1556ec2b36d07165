#!/usr/bin/env python3
"""Hostile input over raw TCP: malformed framing and bodies, odd paths, headers and
Authorization values. Run as: test_hostile.py CASE PATH/TO/invent-mock

Every request is written byte by byte on a socket (no HTTP library smooths it over).
Each row asserts the exact status, never a 5xx, that no contact id of an org the key
cannot reach shows up in the answer, and that the server still answers a normal
PATCH {} of ct_ada afterwards.

Where libmicrohttpd answers by itself (malformed framing, chunk errors, 414, 431, a
bad Content-Length), its body is a small HTML page, not the JSON envelope: those rows
assert the status (and whether the connection closes) only.

Standard library only. The server is started on port 0 with --db :memory: and stopped
by its PID in a finally block; every wait is bounded."""
import http.client
import json
import os
import re
import socket
import sys
import time

import invent_server  # tests/invent_server.py: start, ready line, stop by PID

CASES = {}

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO_FIXTURE = os.path.join(HERE, "..", "fixtures", "demo.json")
ANSWER_TIMEOUT = 3.0  # an answer that is due comes well within this
QUIET_WAIT = 1.0  # how long "no answer" is waited for
HALF_CLOSE_TRIES = 5  # see hostile@half-closed-client-gets-its-answer

KEY_DEMO = "sk_test_demo"  # org_demo, parent of org_demo_eu
KEY_EU = "sk_test_demo_eu"  # org_demo_eu
KEY_ACME = "sk_test_acme"  # org_acme
ADA = "/orgs/c/contacts/ct_ada"
ADMIN_ADA = "/__admin/orgs/org_demo/contacts/ct_ada"


def case(name):
    def register(fn):
        CASES[name] = fn
        return fn
    return register


# ---------------------------------------------------------------- fixture facts

def _fixture_contact_ids():
    with open(DEMO_FIXTURE, encoding="utf-8") as f:
        doc = json.load(f)
    return {o["id"]: {c["id"] for c in o["contacts"]} for o in doc["orgs"]}


ORG_CONTACTS = _fixture_contact_ids()
ALL_CONTACTS = set().union(*ORG_CONTACTS.values())
assert "ct_ada" in ORG_CONTACTS["org_demo"] and ORG_CONTACTS["org_acme"], ORG_CONTACTS.keys()
# What each key may see: its org and the orgs below it.
REACH = {
    KEY_DEMO: ORG_CONTACTS["org_demo"] | ORG_CONTACTS["org_demo_eu"],
    KEY_EU: ORG_CONTACTS["org_demo_eu"],
    KEY_ACME: ORG_CONTACTS["org_acme"],
    None: set(),
}


# ---------------------------------------------------------------- the server

def run_with_server(exe, extra, body):
    """Starts the server, runs body(port), then checks it stops cleanly (exit 0)."""
    s = invent_server.Server(exe, ["--port", "0", "--db", ":memory:", "--log", "off"] + list(extra))
    try:
        s.wait_ready()
        body(s.port)
        rc = s.stop()
        assert rc == 0, "exit status %r after SIGTERM; stderr %r" % (rc, s.stderr_lines[-5:])
    finally:
        s.kill()


# ---------------------------------------------------------------- raw HTTP

class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # name (lower case) -> list of values
        self.body = body

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[-1] if v else None

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<%d %s %r>" % (self.status, self.reason, self.body[:160])


def _parse_one(buf):
    """(Response, rest) if buf starts with a whole response, else (None, buf)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None, buf
    head = buf[:end].decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3}) ?(.*)$", head[0])
    assert m, "bad status line %r (all: %r)" % (head[0], buf[:300])
    headers = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    n = int(headers.get("content-length", ["0"])[-1])
    if len(buf) < end + 4 + n:
        return None, buf
    body = buf[end + 4:end + 4 + n]
    return Response(int(m.group(1)), m.group(2), headers, body), buf[end + 4 + n:]


class Exchange:
    def __init__(self, responses, closed, leftover):
        self.responses = responses
        self.closed = closed  # the server closed (or reset) the connection
        self.leftover = leftover  # bytes after the last whole response

    @property
    def statuses(self):
        return [r.status for r in self.responses]

    def __repr__(self):
        return "statuses %r closed %r leftover %r" % (self.statuses, self.closed, self.leftover[:80])


def exchange(port, data, want=1, until_close=False, shut_write=False, wait=ANSWER_TIMEOUT):
    """Sends data on a new connection and reads answers: until `want` whole ones
    have come (and, with until_close, the server has closed), or `wait` s pass."""
    s = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT)
    buf, responses, closed = b"", [], False
    try:
        s.sendall(data)
        if shut_write:
            s.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + wait
        while True:
            while True:
                r, rest = _parse_one(buf)
                if r is None:
                    break
                responses.append(r)
                buf = rest
            if len(responses) >= want and not until_close:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(min(left, 0.25))
            try:
                d = s.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                closed = True
                break
            if not d:
                closed = True
                break
            buf += d
    finally:
        s.close()
    return Exchange(responses, closed, buf)


def http_request(method, path, key=KEY_DEMO, body=None, headers=(), content_type="application/json"):
    """The bytes of one well-formed request (headers is a list of raw header lines)."""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1"]
    if key is not None:
        lines.append("Authorization: Bearer " + key)
    if body is not None:
        if isinstance(body, str):
            body = body.encode("utf-8")
        if content_type:
            lines.append("Content-Type: " + content_type)
        lines.append("Content-Length: %d" % len(body))
    head = "\r\n".join(lines).encode("latin-1")
    for h in headers:
        head += b"\r\n" + (h if isinstance(h, bytes) else h.encode("latin-1"))
    return head + b"\r\n\r\n" + (body or b"")


def one(port, data, **kw):
    ex = exchange(port, data, **kw)
    assert ex.responses, "no answer within %.1f s (%r)" % (kw.get("wait", ANSWER_TIMEOUT), ex)
    return ex.responses[0]


def stored_ada(port):
    """ct_ada as stored, through the admin API (no key)."""
    r = one(port, http_request("GET", ADMIN_ADA, key=None))
    assert r.status == 200, r
    return r.json()


def assert_alive(port):
    """The server still answers the most ordinary request: PATCH {} of ct_ada."""
    r = one(port, http_request("PATCH", ADA, body="{}"))
    assert r.status == 200 and r.json().get("id") == "ct_ada", "server no longer answers PATCH {}: %r" % (r,)


def foreign_ids(body, key, path=""):
    """The ids of fixture contacts in body that key may not see (ids the request
    itself named, echoed in a 404 message, excepted)."""
    text = body.decode("utf-8", "replace")
    found = set(re.findall(r"ct_[A-Za-z0-9_]+", text)) & ALL_CONTACTS
    return sorted(i for i in found - REACH[key] if i not in path)


def check_envelope(r, status, message):
    """The error envelope, exactly."""
    assert r.header("content-type") == "application/json", r.headers
    got = r.json()
    want = {"statusCode": status, "error": got.get("error"), "message": message}
    assert got == want and isinstance(got.get("error"), str) and got["error"], \
        "envelope %r, want message %r" % (got, message)


class Table:
    """Runs every row, prints each result, and fails at the end with all failures."""

    def __init__(self, title):
        self.title = title
        self.failures = []

    def row(self, name, fn):
        try:
            info = fn()
        except AssertionError as e:
            print("FAIL %-46s %s" % (name, e))
            self.failures.append("%s: %s" % (name, e))
        else:
            print("ok   %-46s %s" % (name, info or ""))
        sys.stdout.flush()

    def done(self):
        if self.failures:
            raise AssertionError("%s: %d row(s) failed:\n  %s"
                                 % (self.title, len(self.failures), "\n  ".join(self.failures)))


def check_row(port, data, status, message=None, key=KEY_DEMO, path="", closes=None, html=False,
              unchanged=True, wait=ANSWER_TIMEOUT):
    """Sends one request; asserts its status, envelope (or libmicrohttpd's HTML, html),
    whether the connection closes after it, no foreign ids, ct_ada unchanged, and the
    server alive."""
    before = stored_ada(port) if unchanged else None
    ex = exchange(port, data, until_close=bool(closes), wait=wait)
    assert ex.responses, "no answer (%r)" % ex
    r = ex.responses[0]
    assert r.status < 500, "5xx: %r" % r
    assert r.status == status, "status %d, want %d: %r" % (r.status, status, r)
    if html:
        # libmicrohttpd's own answer: an HTML page, not the envelope.
        assert b"<html>" in r.body or b"<html>" in ex.leftover or r.status == 200, r
    elif message is not None:
        check_envelope(r, status, message)
    if closes is not None:
        assert ex.closed == closes, "connection closed %r, want %r" % (ex.closed, closes)
    bad = foreign_ids(r.body, key, path)
    assert not bad, "ids of another org in the answer: %r" % bad
    if status == 200:
        ids = set(re.findall(r'"id":"(ct_[^"]+)"', r.body.decode("utf-8", "replace")))
        assert ids <= REACH[key], "ct_ ids outside the key's orgs: %r" % sorted(ids - REACH[key])
    if unchanged:
        after = stored_ada(port)
        assert after == before, "ct_ada changed: %r -> %r" % (before, after)
    assert_alive(port)
    return "%d%s%s" % (r.status, " closed" if ex.closed else "",
                       (" " + json.dumps(r.json()["message"])) if r.status >= 400 and not html else "")


# ---------------------------------------------------------------- 1. framing and bodies

NOT_JSON = "Body is not valid JSON (at byte %d)"
BAD_BODIES = [
    # name, body bytes, status, message
    ("bad-json", b'{"name": "x",}', 400, NOT_JSON % 13),
    ("bad-json-single-quotes", b"{'name': 'x'}", 400, NOT_JSON % 1),
    ("truncated-json", b'{"name":', 400, NOT_JSON % 8),
    ("truncated-string", b'{"name":"Ada', 400, NOT_JSON % 12),
    ("10000-open-brackets", b"[" * 10000, 400, "Body nests deeper than 64 levels (at byte 64)"),
    ("10000-open-braces", b'{"a":' * 10000, 400, "Body nests deeper than 64 levels (at byte 320)"),
    ("escaped-nul", b'{"name":"a\\u0000b"}', 400, "Body must not contain \\u0000 (at byte 10)"),
    ("raw-nul-after-object", b'{"name":"x"}\x00', 400, NOT_JSON % 12),
    ("invalid-utf8-ff", b'{"name":"\xff"}', 400, "Body is not valid UTF-8 (at byte 9)"),
    ("overlong-utf8-c0-af", b'{"name":"\xc0\xaf"}', 400, "Body is not valid UTF-8 (at byte 9)"),
    ("encoded-surrogate-ed-a0-80", b'{"name":"\xed\xa0\x80"}', 400, "Body is not valid UTF-8 (at byte 9)"),
    ("truncated-utf8-at-end", b'{"name":"\xe2\x82', 400, "Body is not valid UTF-8 (at byte 9)"),
    ("lone-high-surrogate-escape", b'{"name":"\\ud800"}', 400, NOT_JSON % 9),
    ("lone-low-surrogate-escape", b'{"name":"\\udc00x"}', 400, NOT_JSON % 9),
    ("duplicate-keys", b'{"name":"a","name":"b"}', 400, 'Body has a duplicate key "name"'),
    ("duplicate-keys-nested", b'{"x":{"k":1,"k":2}}', 400, 'Body has a duplicate key "k"'),
    ("blocked-1e999", b'{"blocked":1e999}', 400, "blocked must be a boolean"),
    ("blocked-minus-1e999", b'{"blocked":-1e999}', 400, "blocked must be a boolean"),
    ("blocked-30-digit-integer", b'{"blocked":123456789012345678901234567890}', 400, "blocked must be a boolean"),
    ("unsubscribed-1e-999", b'{"unsubscribed":1e-999}', 400, "unsubscribed must be a boolean"),
    ("name-1e999", b'{"name":1e999}', 400, "name must be a string or null"),
    ("whitespace-only", b"  \r\n", 400, NOT_JSON % 4),
    ("utf8-bom", b"\xef\xbb\xbf{}", 400, NOT_JSON % 0),
    ("two-objects", b"{}{}", 400, NOT_JSON % 2),
    ("array-body", b"[]", 400, "Body must be a JSON object"),
    ("proto-key", b'{"__proto__":{"blocked":true}}', 400, "property __proto__ should not exist"),
]


@case("hostile@malformed-json-bodies-400")
def malformed_json_bodies(exe):
    def body(port):
        t = Table("malformed bodies")
        for name, data, status, message in BAD_BODIES:
            t.row(name, lambda: check_row(port, http_request("PATCH", ADA, body=data), status, message))
        t.done()
    run_with_server(exe, [], body)


@case("hostile@half-closed-client-gets-its-answer")
def half_closed_client(exe):
    """A client that sends its request and then shuts its sending side (nc -N,
    the fuzz harness) gets the whole answer, also when the request waits for the
    store thread, and a change it asked for is made. libmicrohttpd 0.9.75 closes
    a connection on reading end-of-file once its request is complete: its poll()
    loop did so before every answer that waits for the store (see http_start);
    its epoll loop almost never gets to that read before answering, but it can
    (seen once in about a thousand such exchanges, in CI under ThreadSanitizer).
    So each row is tried HALF_CLOSE_TRIES times and must be answered at least
    once: with the poll() loop none ever is."""
    rows = [
        ("patch", http_request("PATCH", ADA, body='{"name":"Half Closed"}'), [200]),
        ("contact-segments", http_request("GET", ADA + "/segments"), [200]),
        ("list", http_request("GET", "/orgs/c/contacts?take=2"), [200]),
        ("patch-unknown-contact", http_request("PATCH", "/orgs/c/contacts/ct_nobody", body='{"name":"x"}'),
         [404]),
        ("pipelined-get-then-patch", http_request("GET", ADA + "/segments") +
         http_request("PATCH", ADA, body='{"blocked":true}'), [200, 200]),
        ("admin-reset", http_request("POST", "/__admin/reset", key=None), [200]),
    ]

    def body(port):
        for name, data, statuses in rows:
            tries = [exchange(port, data, want=len(statuses), shut_write=True)
                     for _ in range(HALF_CLOSE_TRIES)]
            answered = [ex for ex in tries if ex.statuses == statuses]
            assert answered, "%s: %r" % (name, tries)
            ex = answered[0]
            if name == "patch":
                assert ex.responses[0].json()["name"] == "Half Closed", ex
                assert stored_ada(port)["name"] == "Half Closed"
            if name == "patch-unknown-contact":
                check_envelope(ex.responses[0], 404, "Contact not found")
            if name == "pipelined-get-then-patch":
                assert ex.responses[1].json()["blocked"] is True, ex
                assert stored_ada(port)["blocked"] is True
        assert_alive(port)
    run_with_server(exe, [], body)


@case("hostile@body-on-get-is-ignored")
def body_on_get(exe):
    rows = [
        ("json-body", http_request("GET", "/orgs/c/contacts?take=3", body='{"name":"x"}')),
        ("garbage-body-no-content-type", http_request("GET", "/orgs/c/contacts?take=3", body=b"\xff\x00[[[",
                                                      content_type=None)),
        ("body-over-max-body", http_request("GET", "/orgs/c/contacts?take=3", body=b"x" * 3000)),
        ("chunked-body", b"GET /orgs/c/contacts?take=3 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
         b"sk_test_demo\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ]

    def body(port):
        t = Table("body on GET")
        for name, data in rows:
            def row(data=data):
                info = check_row(port, data, 200, closes=False, wait=QUIET_WAIT)
                r = one(port, data)
                arr = r.json()
                assert isinstance(arr, list) and len(arr) == 3, arr
                assert r.header("pagination-take") == "3", r.headers
                return info
            t.row(name, row)
        t.done()
    run_with_server(exe, ["--max-body", "1024"], body)


@case("hostile@content-length-larger-than-body-waits")
def content_length_larger(exe):
    # libmicrohttpd waits for the rest of the declared body: no answer at all while
    # the connection stays open, and when the client closes its write side it
    # closes the connection without an answer (the handler never sees the request).
    def body(port):
        before = stored_ada(port)
        data = http_request("PATCH", ADA, body='{"name":"Short"}')
        data = data.replace(b"Content-Length: 16", b"Content-Length: 40")
        assert b"Content-Length: 40" in data
        t = Table("content-length larger")

        def wait_open():
            ex = exchange(port, data, want=1, wait=QUIET_WAIT)
            assert not ex.responses and not ex.leftover and not ex.closed, ex
            return "no answer in %.1f s, connection open" % QUIET_WAIT

        def close_write():
            # A loaded machine (the suite runs in parallel) can take a few seconds.
            ex = exchange(port, data, want=1, until_close=True, shut_write=True, wait=15.0)
            assert ex.closed and not ex.responses and not ex.leftover, ex
            return "closed without an answer"

        for name, fn in (("wait-1s", wait_open), ("shutdown-write-side", close_write)):
            def row(fn=fn):
                info = fn()
                assert stored_ada(port) == before, "ct_ada changed"
                assert_alive(port)
                return info
            t.row(name, row)
        t.done()
    # libmicrohttpd (epoll) does not always notice a half-close while it waits
    # for the rest of a body; the idle timeout then ends the connection, so it
    # is short here.
    run_with_server(exe, ["--idle-timeout", "3"], body)


@case("hostile@content-length-smaller-than-body-rest-is-next-request")
def content_length_smaller(exe):
    first = b'{"name":"First"}'

    def with_rest(rest):
        return http_request("PATCH", ADA, body=first) + rest

    second = http_request("PATCH", ADA, body='{"name":"Second"}')
    rows = [
        # (name, bytes, statuses, closed, name after)
        # A whole request after the body is simply the next, pipelined, request.
        ("rest-is-a-request", with_rest(second), [200, 200], False, "Second"),
        # A request line of a method the routes do not know: the envelope's 404.
        ("rest-is-unknown-method", with_rest(b"GARBAGE / HTTP/1.1\r\n\r\n"), [200, 404], False, "First"),
        # Two words and no version: libmicrohttpd's own 400 (HTML), then it closes.
        ("rest-is-garbage-line", with_rest(b"garbage garbage\r\n\r\n"), [200, 400], True, "First"),
        # One word, no space: libmicrohttpd 0.9.75 closes without any answer.
        ("rest-is-one-word", with_rest(b"garbage\r\n\r\n"), [200], True, "First"),
        # JSON left over as a "request line": no space in it, closed silently too.
        ("rest-is-json", with_rest(b'{"name":"Smuggled"}\r\n\r\n'), [200], True, "First"),
    ]

    def body(port):
        t = Table("content-length smaller")
        for name, data, statuses, closed, name_after in rows:
            def row(data=data, statuses=statuses, closed=closed, name_after=name_after):
                ex = exchange(port, data, want=len(statuses), until_close=closed)
                assert all(s < 500 for s in ex.statuses), ex
                assert ex.statuses == statuses, "%r, want statuses %r" % (ex, statuses)
                assert ex.closed == closed, "%r, want closed %r" % (ex, closed)
                if 404 in statuses:
                    check_envelope(ex.responses[1], 404, "Cannot GARBAGE /")
                got = stored_ada(port)["name"]
                assert got == name_after, "name %r, want %r" % (got, name_after)
                assert_alive(port)
                return "%r%s name %r" % (ex.statuses, " closed" if ex.closed else "", got)
            t.row(name, row)
        t.done()
    run_with_server(exe, [], body)


def smuggle_row(port, data, tag):
    """data is one request with ambiguous framing; a PATCH that renames ct_ada (to a
    name of its own per row) follows it in the same send. The first must be a 400
    that closes the connection, and the second must never run."""
    before = stored_ada(port)
    smuggled = http_request("PATCH", ADA, body=json.dumps({"name": "Smuggled " + tag}))
    ex = exchange(port, data + smuggled, want=2, until_close=True, wait=QUIET_WAIT)
    after = stored_ada(port)
    problems = []
    if any(s >= 500 for s in ex.statuses):
        problems.append("a 5xx")
    if not ex.statuses or ex.statuses[0] != 400:
        problems.append("first status %r, want 400" % (ex.statuses[:1],))
    if len(ex.statuses) > 1:
        problems.append("the pipelined request was answered too (%r)" % ex.statuses)
    if not ex.closed:
        problems.append("the connection stayed open")
    if after["name"] != before["name"]:
        problems.append("the pipelined PATCH ran: name %r -> %r" % (before["name"], after["name"]))
    assert_alive(port)
    assert not problems, "; ".join(problems) + " (%r)" % ex
    return "%r closed, name unchanged" % ex.statuses


CHUNKED_HEAD = ("PATCH %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_demo\r\n"
                "Content-Type: application/json\r\n" % ADA).encode()


@case("hostile@both-content-length-and-chunked-closes-connection")
def both_cl_and_chunked(exe):
    # RFC 9112 §6.3: Transfer-Encoding overrides Content-Length, the message "ought
    # to be handled as an error", and the server MUST close the connection after
    # answering it. The API answers 400 and closes; what follows must not run.
    rows = [
        ("content-length-first", CHUNKED_HEAD + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"2\r\n{}\r\n0\r\n\r\n"),
        ("transfer-encoding-first", CHUNKED_HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n"
         b"2\r\n{}\r\n0\r\n\r\n"),
        # Content-Length covers the chunked framing exactly, so a server that uses it
        # would see one request as well: the ambiguity is what is refused.
        ("content-length-covers-chunks", CHUNKED_HEAD + b"Content-Length: 12\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"2\r\n{}\r\n0\r\n\r\n"),
    ]

    def body(port):
        t = Table("content-length and chunked")
        for name, data in rows:
            t.row(name, lambda data=data, name=name: smuggle_row(port, data, name))
        t.done()
    run_with_server(exe, [], body)


@case("hostile@conflicting-content-lengths-close-connection")
def conflicting_content_lengths(exe):
    # RFC 9112 §6.3: differing Content-Length values are an unrecoverable framing
    # error: 400 and close. What follows must not run.
    rows = [
        ("two-headers-2-and-19", CHUNKED_HEAD + b"Content-Length: 2\r\nContent-Length: 19\r\n\r\n{}"),
        ("one-header-list-2-19", CHUNKED_HEAD + b"Content-Length: 2, 19\r\n\r\n{}"),
    ]

    def body(port):
        t = Table("conflicting content-lengths")
        for name, data in rows:
            t.row(name, lambda data=data, name=name: smuggle_row(port, data, name))
        t.done()
    run_with_server(exe, [], body)


@case("hostile@unknown-transfer-encoding-refused")
def unknown_transfer_encoding(exe):
    # RFC 9112 §6.3: a request whose Transfer-Encoding does not end in chunked has no
    # determinable length: the server MUST answer 400 and close.
    rows = [
        ("gzip", CHUNKED_HEAD + b"Transfer-Encoding: gzip\r\n\r\n{}"),
        ("gzip-with-content-length", CHUNKED_HEAD + b"Transfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}"),
    ]

    def body(port):
        t = Table("unknown transfer-encoding")
        for name, data in rows:
            def row(data=data):
                ex = exchange(port, data, want=1, until_close=True, wait=QUIET_WAIT)
                assert_alive(port)
                assert ex.statuses[:1] == [400] and ex.closed, \
                    "want a 400 and a closed connection within %.1f s, got %r" % (QUIET_WAIT, ex)
                return "%r closed" % ex.statuses
            t.row(name, row)
        t.done()
    run_with_server(exe, [], body)


@case("hostile@invalid-chunk-sizes-400")
def invalid_chunks(exe):
    head = CHUNKED_HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
    # libmicrohttpd answers these itself (HTML body) and closes the connection.
    rows = [
        ("non-hex", b"zz\r\n{}\r\n0\r\n\r\n", 400),
        ("negative", b"-2\r\n{}\r\n0\r\n\r\n", 400),
        ("plus-sign", b"+2\r\n{}\r\n0\r\n\r\n", 400),
        ("0x-prefix", b"0x2\r\n{}\r\n0\r\n\r\n", 400),
        ("empty-size-line", b"\r\n{}\r\n0\r\n\r\n", 400),
        ("size-then-space", b"2 \r\n{}\r\n0\r\n\r\n", 400),
        ("size-smaller-than-data", b"1\r\n{}\r\n0\r\n\r\n", 400),
        ("no-crlf-after-data", b"2\r\n{}XX0\r\n\r\n", 400),
        # A size that overflows 64 bits: libmicrohttpd calls it too large, not malformed.
        ("size-overflows-64-bits", b"ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n", 413),
        ("size-2-pow-64-plus-2", b"10000000000000002\r\n{}\r\n0\r\n\r\n", 413),
    ]

    def body(port):
        t = Table("invalid chunk sizes")
        for name, chunks, status in rows:
            t.row(name, lambda chunks=chunks, status=status:
                  check_row(port, head + chunks, status, closes=True, html=True))
        # Sanity: valid chunked bodies work (an extension is allowed).
        t.row("valid-chunks-with-extension", lambda: check_row(
            port, head + b'2;x=1\r\n{}\r\n0\r\n\r\n', 200, closes=False, wait=QUIET_WAIT))
        t.done()
    run_with_server(exe, [], body)


@case("hostile@bad-content-length-values-400")
def bad_content_length(exe):
    # libmicrohttpd's own 400. (0.9.75 writes the status line and headers of this
    # answer twice before its HTML body; only the first status line is asserted.)
    rows = [
        ("negative", b"Content-Length: -1\r\n\r\n"),
        ("trailing-junk", b"Content-Length: 2x\r\n\r\n{}"),
        ("hex", b"Content-Length: 0x2\r\n\r\n{}"),
    ]

    def body(port):
        t = Table("bad content-length values")
        for name, rest in rows:
            t.row(name, lambda rest=rest: check_row(port, CHUNKED_HEAD + rest, 400, closes=True, html=True))
        t.done()
    run_with_server(exe, [], body)


@case("hostile@empty-body-with-json-content-type-changes-nothing")
def empty_body(exe):
    rows = [
        ("content-length-0", http_request("PATCH", ADA, body=b"")),
        ("no-content-length", CHUNKED_HEAD + b"\r\n"),
        ("chunked-empty", CHUNKED_HEAD + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ]

    def body(port):
        t = Table("empty body")
        for name, data in rows:
            def row(data=data):
                before = stored_ada(port)
                info = check_row(port, data, 200, closes=False, wait=QUIET_WAIT)
                r = one(port, data)
                assert r.json() == before, "answer differs from the stored contact"
                assert stored_ada(port) == before  # updated_at included
                return info
            t.row(name, row)
        t.done()
    run_with_server(exe, [], body)


@case("hostile@body-over-max-body-413")
def body_over_max(exe):
    msg = "Body must be at most 1024 bytes"
    exact = b"{}" + b" " * 1022  # valid JSON of exactly --max-body bytes

    def chunked(total):
        data = b" " * (total - 2) + b"{}"
        out = b""
        for i in range(0, len(data), 300):
            part = data[i:i + 300]
            out += b"%x\r\n" % len(part) + part + b"\r\n"
        return CHUNKED_HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + out + b"0\r\n\r\n"

    def body(port):
        t = Table("body over --max-body")
        t.row("exactly-max-body", lambda: check_row(port, http_request("PATCH", ADA, body=exact), 200))
        t.row("max-body-plus-1", lambda: check_row(
            port, http_request("PATCH", ADA, body=exact + b" "), 413, msg))
        t.row("chunked-exactly-max-body", lambda: check_row(port, chunked(1024), 200))
        t.row("chunked-max-body-plus-1", lambda: check_row(port, chunked(1025), 413, msg))
        # Over 16 MiB declared: answered at once from the headers, before the body,
        # and libmicrohttpd then closes (the body is not read).
        t.row("declared-64-mib-no-body", lambda: check_row(
            port, CHUNKED_HEAD + b"Content-Length: 67108864\r\n\r\n{}", 413, msg, closes=True))
        # The size check comes before auth: a bad key still gets the 413.
        t.row("max-body-plus-1-bad-key", lambda: check_row(
            port, http_request("PATCH", ADA, key="nope", body=exact + b" "), 413, msg, key=None))
        t.done()
    run_with_server(exe, ["--max-body", "1024"], body)


# ---------------------------------------------------------------- 2. paths, headers, ids

SQL = "%27%20OR%201%3D1%20--"  # ' OR 1=1 --
NOT_FOUND = "Contact not found"

PATH_ROWS = [
    # name, method, path, status, message (None: not checked; a str starting with
    # "Cannot" or "Method" is the router's own)
    ("plus-1-org", "PATCH", "/orgs/+1/contacts/x", 401, "This API key cannot access org +1"),
    ("plus-1-org-get", "GET", "/orgs/+1/contacts/x", 405,
     "Method GET is not allowed on /orgs/+1/contacts/x (allowed: PATCH)"),
    ("encoded-slash-in-id", "PATCH", "/orgs/c/contacts/ct%2Fada", 404, NOT_FOUND),
    ("encoded-slash-after-id", "PATCH", "/orgs/c/contacts/ct_ada%2F", 404, NOT_FOUND),
    ("encoded-slash-in-org", "PATCH", "/orgs/org_demo%2Fx/contacts/ct_ada", 401,
     "This API key cannot access org org_demo/x"),
    ("encoded-dot-dot-id", "PATCH", "/orgs/c/contacts/%2E%2E", 404, NOT_FOUND),
    ("encoded-dot-dot-to-other-org", "PATCH", "/orgs/c/contacts/%2E%2E%2F%2E%2E%2Forg_acme%2Fcontacts%2Fct_acme_wile",
     404, NOT_FOUND),
    ("dot-dot-id", "PATCH", "/orgs/c/contacts/..", 404, NOT_FOUND),
    ("dot-dot-segments", "PATCH", "/orgs/org_acme/../c/contacts/ct_ada", 404,
     "Cannot PATCH /orgs/org_acme/../c/contacts/ct_ada"),
    ("dot-dot-to-other-org", "PATCH", "/orgs/c/contacts/../../org_acme/contacts/ct_acme_wile", 404,
     "Cannot PATCH /orgs/c/contacts/../../org_acme/contacts/ct_acme_wile"),
    ("dot-id", "PATCH", "/orgs/c/contacts/.", 404, NOT_FOUND),
    ("double-slash-before-org", "PATCH", "/orgs//c/contacts/ct_ada", 404, "Cannot PATCH /orgs//c/contacts/ct_ada"),
    ("double-slash-at-start", "PATCH", "//orgs/c/contacts/ct_ada", 404, "Cannot PATCH //orgs/c/contacts/ct_ada"),
    ("double-slash-before-id", "PATCH", "/orgs/c/contacts//ct_ada", 404, "Cannot PATCH /orgs/c/contacts//ct_ada"),
    ("trailing-slash", "PATCH", "/orgs/c/contacts/ct_ada/", 200, None),
    ("two-trailing-slashes", "PATCH", "/orgs/c/contacts/ct_ada//", 404, "Cannot PATCH /orgs/c/contacts/ct_ada//"),
    ("trailing-slash-list", "GET", "/orgs/c/contacts/?take=2", 200, None),
    ("percent-encoded-letter", "PATCH", "/orgs/c/contacts/ct_ad%61", 200, None),
    ("percent-encoded-c-org", "PATCH", "/orgs/%63/contacts/ct_ada", 200, None),
    ("query-on-patch-ignored", "PATCH", "/orgs/c/contacts/ct_ada?x=1&x=2", 200, None),
    ("encoded-nul", "PATCH", "/orgs/c/contacts/ct_ada%00", 404, "Cannot PATCH /orgs/c/contacts/ct_ada%00"),
    ("malformed-escape", "PATCH", "/orgs/c/contacts/ct_%zz", 404, "Cannot PATCH /orgs/c/contacts/ct_%zz"),
    ("truncated-escape", "PATCH", "/orgs/c/contacts/ct_ada%2", 404, "Cannot PATCH /orgs/c/contacts/ct_ada%2"),
    ("fragment", "PATCH", "/orgs/c/contacts/ct_ada#x", 404, NOT_FOUND),
    ("absolute-form", "PATCH", "http://127.0.0.1/orgs/c/contacts/ct_ada", 404,
     "Cannot PATCH http://127.0.0.1/orgs/c/contacts/ct_ada"),
    ("asterisk-form", "PATCH", "*", 404, "Cannot PATCH *"),
    ("non-ascii-id-encoded", "PATCH", "/orgs/c/contacts/%C3%A9t%C3%A9", 404, NOT_FOUND),
    ("non-ascii-id-emoji", "PATCH", "/orgs/c/contacts/ct_%F0%9F%98%80", 404, NOT_FOUND),
    ("non-ascii-id-cjk", "PATCH", "/orgs/c/contacts/%E7%8E%8B", 404, NOT_FOUND),
    ("invalid-utf8-id", "PATCH", "/orgs/c/contacts/%FF%FE", 404, NOT_FOUND),
    ("overlong-utf8-id", "PATCH", "/orgs/c/contacts/ct_ada%C0%AF", 404, NOT_FOUND),
    ("sql-in-contact-id", "PATCH", "/orgs/c/contacts/" + SQL, 404, NOT_FOUND),
    ("sql-quote-id", "PATCH", "/orgs/c/contacts/ct_ada%27", 404, NOT_FOUND),
    ("sql-union-id", "PATCH", "/orgs/c/contacts/x%27%20UNION%20SELECT%20id%20FROM%20contacts--", 404, NOT_FOUND),
    ("sql-in-org-id", "PATCH", "/orgs/" + SQL + "/contacts/ct_ada", 401,
     "This API key cannot access org ' OR 1=1 --"),
    ("sql-in-org-id-list", "GET", "/orgs/" + SQL + "/contacts", 401, "This API key cannot access org ' OR 1=1 --"),
    ("sql-in-segment-id", "GET", "/orgs/c/contacts/" + SQL + "/segments", 404, NOT_FOUND),
    ("other-org-contact", "PATCH", "/orgs/c/contacts/ct_acme_wile", 404, NOT_FOUND),
    ("sub-org-contact-via-parent-org", "PATCH", "/orgs/org_demo/contacts/ct_eu_klara", 404, NOT_FOUND),
    ("parent-contact-via-sub-org", "PATCH", "/orgs/org_demo_eu/contacts/ct_ada", 404, NOT_FOUND),
    ("other-org", "PATCH", "/orgs/org_acme/contacts/ct_acme_wile", 401, "This API key cannot access org org_acme"),
    ("org-named-c-prefix", "PATCH", "/orgs/cc/contacts/ct_ada", 401, "This API key cannot access org cc"),
]

LIST_SQL_ROWS = [
    # name, query: each must answer 200 [] with pagination-count 0
    ("sql-in-search", "search=" + SQL),
    ("sql-in-name", "name=x%27)%20OR%20(%271%27%3D%271"),
    ("sql-in-email", "email=x%27%20OR%20%271%27%3D%271"),
    ("sql-in-user-id", "user_id=%27%3B%20DROP%20TABLE%20contacts%3B--"),
    ("sql-in-username", "username=%22%20OR%20%22%22%3D%22"),
    ("sql-in-segment-id", "segment_id=" + SQL),
    ("like-wildcard-percent", "name=%25"),
    ("like-wildcard-underscore-only", "name=___________________________________________"),
]


@case("hostile@paths-and-ids")
def paths_and_ids(exe):
    def body(port):
        t = Table("paths and ids")
        for name, method, path, status, message in PATH_ROWS:
            data = http_request(method, path, body="{}" if method == "PATCH" else None)
            t.row(name, lambda data=data, status=status, message=message, path=path:
                  check_row(port, data, status, message, path=path))
        t.done()
    run_with_server(exe, [], body)


@case("hostile@answers-are-utf8-whatever-the-request")
def answers_are_utf8(exe):
    """Bytes that are not UTF-8, raw in the path, a query value, a header or the
    body: every answer, and the journal holding them, is UTF-8 JSON, the bad
    bytes read as U+FFFD."""
    def body(port):
        requests = [
            b"GET /orgs/c/contacts/\xff\xfe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_demo\r\n\r\n",
            b"DELETE /nope\xe9 HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /orgs/c/contacts?take=\xff HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_demo\r\n\r\n",
            b"GET /orgs/c/contacts?take=%ff HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_demo\r\n\r\n",
            http_request("PATCH", "/orgs/c/contacts/ct_ada", body=b'{"name":"\xff\xfe"}',
                         headers=[b"X-Note: caf\xe9"]),
        ]
        for data in requests:
            r = one(port, data)
            assert r.status in (400, 404, 405), (data, r)
            text = r.body.decode("utf-8")  # raises if it is not UTF-8
            json.loads(text)
        # The journal comes chunked: http.client reads that, the raw parser not.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_TIMEOUT)
        try:
            conn.request("GET", "/__admin/requests")
            resp = conn.getresponse()
            assert resp.status == 200, resp.status
            entries = json.loads(resp.read().decode("utf-8"))
        finally:
            conn.close()
        patch = entries[0]
        assert patch["request_body"] == '{"name":"\ufffd\ufffd"}', patch["request_body"]
        assert patch["request_headers"]["X-Note"] == "caf\ufffd", patch["request_headers"]
        assert entries[-1]["path"] == "/orgs/c/contacts/\ufffd\ufffd", entries[-1]["path"]
    run_with_server(exe, [], body)


@case("hostile@sql-in-list-queries-finds-nothing")
def sql_in_queries(exe):
    def body(port):
        t = Table("sql in list queries")
        for name, query in LIST_SQL_ROWS:
            def row(query=query):
                data = http_request("GET", "/orgs/c/contacts?" + query)
                info = check_row(port, data, 200)
                r = one(port, data)
                assert r.json() == [] and r.header("pagination-count") == "0", (r, r.headers)
                return info + " [] count 0"
            t.row(name, row)
        # The tables are all still there: the whole org lists.
        def intact():
            r = one(port, http_request("GET", "/orgs/c/contacts?take=100"))
            assert r.status == 200 and r.header("pagination-count") == str(len(ORG_CONTACTS["org_demo"])), r.headers
            return "pagination-count %s" % r.header("pagination-count")
        t.row("org-still-whole", intact)
        t.done()
    run_with_server(exe, [], body)


@case("hostile@long-path-414")
def long_path(exe):
    # libmicrohttpd's own 414 (HTML), then it closes.
    def body(port):
        t = Table("long path")
        t.row("100-kib-id", lambda: check_row(
            port, http_request("PATCH", "/orgs/c/contacts/" + "a" * 102400, body="{}"), 414, closes=True, html=True))
        t.row("100-kib-query", lambda: check_row(
            port, http_request("GET", "/orgs/c/contacts?search=" + "a" * 102400), 414, closes=True, html=True))
        # Within --connection-memory, a long id is just an unknown contact.
        t.row("4-kib-id", lambda: check_row(
            port, http_request("PATCH", "/orgs/c/contacts/" + "a" * 4096, body="{}"), 404, NOT_FOUND))
        t.done()
    run_with_server(exe, ["--connection-memory", "16384"], body)


@case("hostile@many-small-headers-200")
def many_headers(exe):
    def body(port):
        t = Table("many headers")
        hdrs = ["X-H%d: v%d" % (i, i) for i in range(200)]
        t.row("200-small-headers", lambda: check_row(
            port, http_request("PATCH", ADA, body="{}", headers=hdrs), 200))
        same = ["X-Same: %d" % i for i in range(200)]
        t.row("200-repeats-of-one-header", lambda: check_row(
            port, http_request("PATCH", ADA, body="{}", headers=same), 200))
        t.done()
    run_with_server(exe, ["--connection-memory", "16384"], body)


@case("hostile@huge-header-431")
def huge_header(exe):
    # libmicrohttpd's own 431 (HTML) once the request head outgrows
    # --connection-memory, then it closes.
    def body(port):
        t = Table("huge header")
        t.row("one-20-kib-header", lambda: check_row(
            port, http_request("PATCH", ADA, body="{}", headers=["X-Big: " + "a" * 20000]), 431,
            closes=True, html=True))
        t.row("20-kib-authorization", lambda: check_row(
            port, http_request("PATCH", ADA, key="a" * 20000, body="{}"), 431, closes=True, html=True, key=None))
        t.row("2000-small-headers", lambda: check_row(
            port, http_request("PATCH", ADA, body="{}", headers=["X-H%d: v" % i for i in range(2000)]), 431,
            closes=True, html=True))
        t.done()
    run_with_server(exe, ["--connection-memory", "16384"], body)


MUST_BEARER = 'Authorization must be "Bearer <api key>"'
AUTH_ROWS = [
    # name, path, Authorization header lines (raw), status, message, key whose orgs a 200 may show
    ("lower-case-scheme", ADA, ["Authorization: bearer sk_test_demo"], 200, None, KEY_DEMO),
    ("upper-case-scheme", ADA, ["Authorization: BEARER sk_test_demo"], 200, None, KEY_DEMO),
    ("several-spaces", ADA, ["Authorization: Bearer    sk_test_demo"], 200, None, KEY_DEMO),
    ("lower-case-header-name-no-space", ADA, ["authorization:Bearer sk_test_demo"], 200, None, KEY_DEMO),
    ("basic", ADA, ["Authorization: Basic abc"], 401, MUST_BEARER, None),
    ("two-headers", ADA, ["Authorization: Bearer sk_test_demo", "Authorization: Bearer sk_test_demo"],
     401, "Only one Authorization header is allowed", None),
    ("two-headers-different", ADA, ["Authorization: Bearer sk_test_acme", "Authorization: Bearer sk_test_demo"],
     401, "Only one Authorization header is allowed", None),
    ("key-then-extra", ADA, ["Authorization: Bearer sk_test_demo extra"], 401, MUST_BEARER, None),
    ("bearer-empty", ADA, ["Authorization: Bearer "], 401, MUST_BEARER, None),
    ("bearer-only", ADA, ["Authorization: Bearer"], 401, MUST_BEARER, None),
    ("empty-value", ADA, ["Authorization:"], 401, MUST_BEARER, None),
    ("tab-separator", ADA, ["Authorization: Bearer\tsk_test_demo"], 401, MUST_BEARER, None),
    # libmicrohttpd 0.9.75 keeps trailing spaces in the value; auth.c wants nothing
    # after the key.
    ("trailing-spaces", ADA, ["Authorization: Bearer sk_test_demo   "], 401, MUST_BEARER, None),
    # An obs-fold continuation line: libmicrohttpd 0.9.75 loses the header entirely.
    ("obs-fold", ADA, ["Authorization: Bearer", " sk_test_demo"], 401, "Missing Authorization header", None),
    ("missing", ADA, [], 401, "Missing Authorization header", None),
    ("unknown-key", ADA, ["Authorization: Bearer sk_test_dem"], 401, "Invalid API key", None),
    ("key-wrong-case", ADA, ["Authorization: Bearer SK_TEST_DEMO"], 401, "Invalid API key", None),
    ("key-300-bytes", ADA, ["Authorization: Bearer " + "k" * 300], 401, "Invalid API key", None),
    ("key-with-sql", ADA, ["Authorization: Bearer ' OR 1=1 --"], 401, MUST_BEARER, None),
    ("key-with-sql-no-spaces", ADA, ["Authorization: Bearer 'OR'1'='1"], 401, "Invalid API key", None),
    ("acme-key-on-org-demo", "/orgs/org_demo/contacts/ct_ada", ["Authorization: Bearer sk_test_acme"], 401,
     "This API key cannot access org org_demo", None),
    ("acme-key-on-org-demo-list", "/orgs/org_demo/contacts", ["Authorization: Bearer sk_test_acme"], 401,
     "This API key cannot access org org_demo", None),
    ("sub-org-key-on-parent", "/orgs/org_demo/contacts", ["Authorization: Bearer sk_test_demo_eu"], 401,
     "This API key cannot access org org_demo", None),
    ("acme-key-on-c-ada", ADA, ["Authorization: Bearer sk_test_acme"], 404, NOT_FOUND, KEY_ACME),
    ("acme-key-lists-its-own", "/orgs/c/contacts", ["Authorization: Bearer sk_test_acme"], 200, None, KEY_ACME),
    ("eu-key-lists-its-own", "/orgs/c/contacts", ["Authorization: Bearer sk_test_demo_eu"], 200, None, KEY_EU),
    ("parent-key-lists-sub-org", "/orgs/org_demo_eu/contacts", ["Authorization: Bearer sk_test_demo"], 200, None,
     KEY_EU),
]


@case("hostile@authorization-variants")
def authorization_variants(exe):
    def body(port):
        t = Table("authorization")
        for name, path, lines, status, message, reach in AUTH_ROWS:
            method = "PATCH" if path == ADA or "/contacts/" in path else "GET"
            data = http_request(method, path, key=None, body="{}" if method == "PATCH" else None, headers=lines)

            def row(data=data, status=status, message=message, reach=reach, path=path, method=method):
                info = check_row(port, data, status, message, key=reach, path=path)
                if status == 200 and method == "GET":
                    ids = {c["id"] for c in one(port, data).json()}
                    assert ids and ids <= REACH[reach], sorted(ids)
                    info += " %d contacts, all the key's" % len(ids)
                return info
            t.row(name, row)
        t.done()
    run_with_server(exe, [], body)



@case("hostile@head-limits-answer-in-the-envelope")
def head_limits(exe):
    """Within libmicrohttpd's buffer, our own --max-url and --max-header-bytes
    answer 414 and 431 with the envelope, and close the connection."""
    def body(port):
        target = "/orgs/c/contacts/" + "a" * 9000
        data = ("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                % (target, KEY_DEMO)).encode()
        ex = exchange(port, data, want=1, until_close=True)
        assert [r.status for r in ex.responses] == [414] and ex.closed, ex
        assert ex.responses[0].json() == {
            "statusCode": 414, "error": "URI Too Long",
            "message": "The request target must be at most 8192 bytes"}, ex.responses[0].body
        data = ("GET /orgs/c/contacts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "X-Big: %s\r\n\r\n" % (KEY_DEMO, "b" * 9000)).encode()
        ex = exchange(port, data, want=1, until_close=True)
        assert [r.status for r in ex.responses] == [431] and ex.closed, ex
        assert ex.responses[0].json() == {
            "statusCode": 431, "error": "Request Header Fields Too Large",
            "message": "The request headers must be at most 8192 bytes in all"}, ex.responses[0].body
        assert_alive(port)
        print("ok   414 and 431 in the envelope, connection closed")
    run_with_server(exe, [], body)

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in CASES:
        sys.exit("usage: test_hostile.py CASE EXE; cases: " + " ".join(CASES))
    CASES[sys.argv[1]](os.path.abspath(sys.argv[2]) if os.sep in sys.argv[2] else sys.argv[2])
