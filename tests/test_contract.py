#!/usr/bin/env python3
"""Contract test: the real binary's answers checked against schema/openapi.json.

Run as: test_contract.py PATH/TO/invent-mock PATH/TO/schema/openapi.json [--allow-missing]

Starts the binary on port 0 with --db :memory: (the built-in demo fixtures), sends a
representative set of requests (every documented operation, its success and each
error status it can produce; then a second server with --rate-limit for the 429) and
checks every answer against the document:

- the status is documented for the operation (a wrong method on a known path: the
  path's 405, whose Allow header must list exactly the path's documented methods);
- the body validates against the documented schema for that status (JSON Schema
  2020-12, $refs resolved in the whole document);
- Content-Type is application/json;
- every required documented response header is present and its value fits its schema;
- the status (and, where the contract fixes it, the message) is the one expected;
- a 2xx answer to a body that the documented request schema refuses is a violation.

A documented operation the server does not route yet (a 404 "Cannot METHOD /path")
is reported as NOT IMPLEMENTED; it fails the run unless --allow-missing is given.
Prints one line per request, then the violations; exits 1 if there is any.

Standard library plus jsonschema (Debian's python3-jsonschema, 4.10 or later). The
server is stopped by its own PID in a finally block; every wait is bounded."""
import datetime
import http.client
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import warnings

import jsonschema
from jsonschema import Draft202012Validator

with warnings.catch_warnings():
    # RefResolver is deprecated from jsonschema 4.18 on (for the `referencing`
    # library), but it is what Debian 12's 4.10 has, and it still works later.
    warnings.simplefilter("ignore", DeprecationWarning)
    from jsonschema import RefResolver

READY_TIMEOUT = 10.0
REQUEST_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
MAX_BODY = 4096  # small, so a 413 needs only a few KiB

KEY = "sk_test_demo"          # org_demo
KEY_EU = "sk_test_demo_eu"    # org_demo_eu, a sub-org of org_demo
KEY_ACME = "sk_test_acme"     # org_acme
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# The contract's date-time (section 3): UTC, milliseconds, Z.
CONTRACT_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                     r"([Zz]|[+-]\d{2}:\d{2})$")


# ---------------------------------------------------------------- the document

def make_format_checker():
    """Only date-time is checked (jsonschema's own needs an optional package)."""
    fc = jsonschema.FormatChecker(formats=())

    @fc.checks("date-time", raises=ValueError)
    def is_date_time(value):
        if not isinstance(value, str):
            return True
        m = RFC3339.match(value)
        if not m:
            return False
        y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
        datetime.datetime(y, mo, d, h, mi, min(s, 59))  # ValueError if impossible
        return s <= 60

    return fc


class Document:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.doc = json.load(f)
        self.format_checker = make_format_checker()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.resolver = RefResolver.from_schema(self.doc)
        self.templates = []  # (template, regex, path item)
        for template, item in self.doc.get("paths", {}).items():
            rx = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "/?$"
            self.templates.append((template, re.compile(rx), item))

    def deref(self, obj):
        """Follows a JSON pointer $ref of the document (responses, headers, parameters)."""
        seen = 0
        while isinstance(obj, dict) and "$ref" in obj and seen < 20:
            ref = obj["$ref"]
            if not ref.startswith("#/"):
                raise ValueError("unsupported $ref " + ref)
            obj = self.doc
            for part in ref[2:].split("/"):
                obj = obj[part.replace("~1", "/").replace("~0", "~")]
            seen += 1
        return obj

    def errors(self, schema, instance):
        """The validation errors of instance against schema, as strings."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            v = Draft202012Validator(schema, resolver=self.resolver,
                                     format_checker=self.format_checker)
            errs = sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path))
        out = []
        for e in errs[:5]:
            where = "/".join(str(p) for p in e.absolute_path) or "(root)"
            out.append(f"at {where}: {e.message[:300]}")
        if len(errs) > 5:
            out.append(f"... and {len(errs) - 5} more")
        return out

    def match(self, path):
        """(template, path item) of the documented path matching path, or (None, None)."""
        path = path.split("?", 1)[0]
        for template, rx, item in self.templates:
            if rx.match(path):
                return template, item
        return None, None


# ---------------------------------------------------------------- the server

class Server:
    """One invent-mock process; its output is drained by threads so a pipe never fills."""

    def __init__(self, exe, args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("INVENT_MOCK_")}
        self.proc = subprocess.Popen([exe] + args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.lines = queue.Queue()
        self.stderr = []
        threading.Thread(target=self._drain, args=(self.proc.stdout, self.lines.put),
                         daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stderr, self.stderr.append),
                         daemon=True).start()
        self.port = None

    @staticmethod
    def _drain(pipe, sink):
        for raw in iter(pipe.readline, b""):
            sink(raw.decode("utf-8", "replace").rstrip("\n"))
        sink(None)

    def wait_ready(self):
        try:
            line = self.lines.get(timeout=READY_TIMEOUT)
        except queue.Empty:
            raise RuntimeError(f"no ready line within {READY_TIMEOUT}s") from None
        if line is None:
            self.proc.wait(timeout=STOP_TIMEOUT)
            raise RuntimeError(f"server exited with {self.proc.returncode} before the ready line: "
                               + " | ".join(s for s in self.stderr if s))
        ready = json.loads(line)
        if ready.get("event") != "ready":
            raise RuntimeError("unexpected first line: " + line)
        self.port = int(ready["port"])
        return ready

    def stop(self):
        """SIGTERM to this PID only; SIGKILL if it does not stop in time."""
        if self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT)


class Answer:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.raw = raw
        try:
            self.json = json.loads(raw.decode("utf-8")) if raw else None
            self.json_error = None
        except (UnicodeDecodeError, ValueError) as e:
            self.json = None
            self.json_error = str(e)

    def header(self, name):
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[0] if values else None

    def message(self):
        return self.json.get("message") if isinstance(self.json, dict) else None


def send(port, method, path, body=None, headers=()):
    """One request on a fresh connection. body: bytes, str or a JSON value (sent as JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else (
                body.encode() if isinstance(body, str) else json.dumps(body).encode())
        for k, v in headers:
            conn.putheader(k, v)
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        r = conn.getresponse()
        return Answer(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


# ---------------------------------------------------------------- the checks

def auth(key=KEY):
    return [("Authorization", "Bearer " + key)]


JSON_CT = [("Content-Type", "application/json")]


class Run:
    def __init__(self, doc, doc_path, port):
        self.doc = doc
        self.doc_path = doc_path
        self.port = port
        self.checked = 0
        self.violations = []     # (request line, [problems])
        self.missing = {}        # "METHOD template" -> count

    def check(self, label, method, path, body=None, headers=(), expect=None, msg=None,
              msg_prefix=None):
        """Sends one request and checks its answer; expect is the status the contract
        gives, msg its exact message (or msg_prefix its start) where the contract fixes it."""
        self.checked += 1
        line = f"{method} {path}"
        try:
            a = send(self.port, method, path, body, headers)
        except (OSError, http.client.HTTPException) as e:
            self._report("FAIL", line, label, None, [f"no answer: {e!r}"])
            return None
        problems = []
        template, item = self.doc.match(path)
        op = item.get(method.lower()) if item else None
        op_name = op.get("operationId") if op else None

        # A documented path the server does not route yet.
        if (template and a.status == 404 and (a.message() or "").startswith("Cannot ")):
            key = f"{method} {template}" if op else f"{method} {template} (path not routed)"
            self.missing[key] = self.missing.get(key, 0) + 1
            self._report("MISSING", line, label, a, [f"not implemented: {a.message()}"])
            return a

        ct = a.header("Content-Type")
        if not ct or ct.split(";")[0].strip().lower() != "application/json":
            problems.append(f"Content-Type is {ct!r}, not application/json")
        if a.json_error:
            problems.append(f"body is not JSON: {a.json_error}: {a.raw[:120]!r}")

        if expect is not None and a.status != expect:
            problems.append(f"expected status {expect}, got {a.status}"
                            + (f" ({a.message()})" if a.message() else ""))
        if msg is not None and a.message() != msg:
            problems.append(f"expected message {msg!r}, got {a.message()!r}")
        if msg_prefix is not None and not (a.message() or "").startswith(msg_prefix):
            problems.append(f"expected a message starting {msg_prefix!r}, got {a.message()!r}")

        response = None
        if template is None:
            # Not a documented path: only the error envelope can be checked.
            op_name = "(undocumented path)"
            if a.status != 404:
                problems.append(f"undocumented path answered {a.status}, not 404")
            response = {"description": "", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}}
        elif op is None:
            # Wrong method on a documented path: the path's 405.
            op_name = f"(no {method} on {template})"
            documented = sorted(m.upper() for m in METHODS if m in item)
            per_op = [self.doc.deref(item[m]["responses"].get("405")) for m in METHODS
                      if m in item]
            if a.status != 405:
                problems.append(f"wrong method answered {a.status}, not 405")
            elif not per_op or any(r is None for r in per_op):
                problems.append("405 is not documented on every operation of " + template)
            else:
                response = per_op[0]
                allow = a.header("Allow")
                got = sorted(m.strip().upper() for m in (allow or "").split(",") if m.strip())
                if allow is not None and got != documented:
                    problems.append(f"Allow is {allow!r}, the document has {', '.join(documented)}")
        else:
            responses = op.get("responses", {})
            r = responses.get(str(a.status)) or responses.get(f"{a.status // 100}XX") \
                or responses.get("default")
            if r is None:
                problems.append(f"status {a.status} is not documented for {op_name} "
                                f"(documented: {', '.join(responses)})")
            else:
                response = self.doc.deref(r)
            problems += self._check_request_body(op, body, a)

        if response is not None:
            problems += self._check_response(response, a)
        if a.json is not None:
            problems += self._check_date_times(a.json)
        self._report("FAIL" if problems else "ok", line, label, a, problems, op_name)
        return a

    def _check_request_body(self, op, body, a):
        """A 2xx answer to a body the document refuses means the document is wrong."""
        rb = self.doc.deref(op.get("requestBody")) if op.get("requestBody") else None
        if not rb or body is None or not 200 <= a.status < 300:
            return []
        if isinstance(body, (bytes, str)):
            try:
                body = json.loads(body)
            except ValueError:
                return ["a body that is not JSON was accepted"]
        schema = rb.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return []
        errs = self.doc.errors(schema, body)
        return [f"request body accepted ({a.status}) though the documented schema refuses it: {e}"
                for e in errs]

    def _check_response(self, response, a):
        problems = []
        for name, h in (response.get("headers") or {}).items():
            h = self.doc.deref(h)
            value = a.header(name)
            if value is None:
                if h.get("required"):
                    problems.append(f"required header {name} is missing")
                continue
            schema = h.get("schema", {})
            inst = value
            if schema.get("type") == "integer":
                if not re.fullmatch(r"-?[0-9]+", value.strip()):
                    problems.append(f"header {name}: {value!r} is not an integer")
                    continue
                inst = int(value)
            for e in self.doc.errors(schema, inst):
                problems.append(f"header {name}: {e}")
        content = response.get("content")
        if not content:
            if a.raw:
                problems.append("a body where the document has none")
            return problems
        media = content.get("application/json")
        if media is None:
            problems.append("the document has no application/json content for this status")
            return problems
        if a.json_error is None and "schema" in media:
            problems += [f"body {e}" for e in self.doc.errors(media["schema"], a.json)]
        return problems

    def _check_date_times(self, value, where=""):
        """Contract section 3: every *_at string is UTC with milliseconds and Z."""
        out = []
        if isinstance(value, dict):
            for k, v in value.items():
                if k.endswith("_at") and isinstance(v, str) and not CONTRACT_DATE_TIME.match(v):
                    out.append(f"{where}/{k}: {v!r} is not YYYY-MM-DDTHH:MM:SS.mmmZ")
                elif isinstance(v, (dict, list)) and k not in ("platform_data", "paths",
                                                                "components"):
                    out += self._check_date_times(v, f"{where}/{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                out += self._check_date_times(v, f"{where}/{i}")
        return out[:3]

    def _report(self, verdict, line, label, a, problems, op_name=None):
        status = a.status if a is not None else "---"
        extra = f" [{op_name}]" if op_name else ""
        print(f"{verdict:<7} {status} {line[:110]}  -- {label}{extra}", flush=True)
        for p in problems:
            print(f"          {p}", flush=True)
        if verdict == "FAIL":
            self.violations.append((f"{line} ({label})", problems))


# ---------------------------------------------------------------- the requests

def run_requests(run):
    c = run.check
    P = "/orgs/c/contacts/ct_ada"

    # PATCH /orgs/{org_id}/contacts/{contact_id}
    c("block", "PATCH", P, {"blocked": True}, auth() + JSON_CT, 200)
    c("block again keeps blocked_at", "PATCH", P, {"blocked": True}, auth() + JSON_CT, 200)
    c("no body is {}", "PATCH", P, None, auth(), 200)
    c("empty object", "PATCH", P, {}, auth() + JSON_CT, 200)
    c("name null, resubscribe", "PATCH", "/orgs/c/contacts/ct_grace",
      {"name": None, "unsubscribed": False}, auth() + JSON_CT, 200)
    c("all three fields", "PATCH", "/orgs/org_demo/contacts/ct_alan",
      {"name": "Alan M. Turing", "blocked": False, "unsubscribed": True}, auth() + JSON_CT, 200)
    c("512 code points", "PATCH", P, {"name": "é" * 512}, auth() + JSON_CT, 200)
    c("charset=utf-8", "PATCH", P, {"name": "Ada Lovelace"},
      auth() + [("Content-Type", "application/json; charset=utf-8")], 200)
    c("parent key acts for sub-org", "PATCH", "/orgs/org_demo_eu/contacts/ct_eu_klara",
      {"unsubscribed": True}, auth() + JSON_CT, 200)
    c("sub-org key on c", "PATCH", "/orgs/c/contacts/ct_eu_klara", {"blocked": True},
      auth(KEY_EU) + JSON_CT, 200)
    c("bearer scheme any case, two spaces", "PATCH", P, {},
      [("Authorization", "bEaReR  " + KEY)] + JSON_CT, 200)
    c("invalid JSON", "PATCH", P, b'{"blocked": tru}', auth() + JSON_CT, 400,
      msg_prefix="Body is not valid JSON")
    c("duplicate key", "PATCH", P, b'{"blocked": true, "blocked": false}', auth() + JSON_CT, 400)
    c("not UTF-8", "PATCH", P, b'{"name": "\xff"}', auth() + JSON_CT, 400)
    c("\\u0000", "PATCH", P, b'{"name": "a\\u0000b"}', auth() + JSON_CT, 400)
    c("not an object", "PATCH", P, [1, 2], auth() + JSON_CT, 400, msg="Body must be a JSON object")
    c("blocked wrong type", "PATCH", P, {"blocked": "yes"}, auth() + JSON_CT, 400,
      msg="blocked must be a boolean")
    c("blocked null", "PATCH", P, {"blocked": None}, auth() + JSON_CT, 400,
      msg="blocked must be a boolean")
    c("unsubscribed null", "PATCH", P, {"unsubscribed": None}, auth() + JSON_CT, 400,
      msg="unsubscribed must be a boolean")
    c("name wrong type", "PATCH", P, {"name": 5}, auth() + JSON_CT, 400)
    c("name 513", "PATCH", P, {"name": "x" * 513}, auth() + JSON_CT, 400,
      msg="name must be at most 512 characters")
    c("read-only field", "PATCH", P, {"id": "ct_x"}, auth() + JSON_CT, 400,
      msg="property id should not exist")
    c("unknown field", "PATCH", P, {"blocked": True, "foo": 1}, auth() + JSON_CT, 400,
      msg="property foo should not exist")
    c("no Authorization", "PATCH", P, {}, JSON_CT, 401, msg="Missing Authorization header")
    c("Basic scheme", "PATCH", P, {}, [("Authorization", "Basic " + KEY)] + JSON_CT, 401)
    c("text after the key", "PATCH", P, {}, [("Authorization", f"Bearer {KEY} x")] + JSON_CT, 401)
    c("two Authorization headers", "PATCH", P, {}, auth() + auth() + JSON_CT, 401)
    c("unknown key", "PATCH", P, {}, auth("sk_nope") + JSON_CT, 401, msg="Invalid API key")
    c("key of another org", "PATCH", "/orgs/org_demo/contacts/ct_ada", {}, auth(KEY_ACME) + JSON_CT,
      401, msg="This API key cannot access org org_demo")
    c("sub-org key on its parent", "PATCH", "/orgs/org_demo/contacts/ct_ada", {},
      auth(KEY_EU) + JSON_CT, 401)
    c("unknown org", "PATCH", "/orgs/org_nope/contacts/ct_ada", {}, auth() + JSON_CT, 401)
    c("no such contact", "PATCH", "/orgs/c/contacts/ct_nope", {}, auth() + JSON_CT, 404,
      msg="Contact not found")
    c("contact of another org", "PATCH", "/orgs/c/contacts/ct_acme_wile", {}, auth() + JSON_CT,
      404, msg="Contact not found")
    c("sub-org contact via c of parent", "PATCH", "/orgs/c/contacts/ct_eu_klara", {},
      auth() + JSON_CT, 404)
    c("text/plain", "PATCH", P, {"blocked": True}, auth() + [("Content-Type", "text/plain")], 415,
      msg="Content-Type must be application/json")
    c("charset latin1", "PATCH", P, {"blocked": True},
      auth() + [("Content-Type", "application/json; charset=iso-8859-1")], 415)
    c("no Content-Type", "PATCH", P, {"blocked": True}, auth(), 415)
    c("body over --max-body", "PATCH", P, {"name": "x" * (2 * MAX_BODY)}, auth() + JSON_CT, 413,
      msg=f"Body must be at most {MAX_BODY} bytes")
    # The order of checks: route, size, auth, (rate limit), Content-Type, body, existence.
    c("order: 413 before 401", "PATCH", P, {"name": "x" * (2 * MAX_BODY)}, JSON_CT, 413)
    c("order: 401 before 415", "PATCH", P, b"x", [("Content-Type", "text/plain")], 401)
    c("order: 415 before 400", "PATCH", P, b"{", auth() + [("Content-Type", "text/plain")], 415)
    c("order: 400 before 404", "PATCH", "/orgs/c/contacts/ct_nope", {"blocked": 1},
      auth() + JSON_CT, 400, msg="blocked must be a boolean")
    c("trailing slash", "PATCH", P + "/", {}, auth() + JSON_CT, 200)
    c("GET on the PATCH path", "GET", P, None, auth(), 405)
    c("DELETE on the PATCH path", "DELETE", P, None, auth(), 405)

    # GET /orgs/{org_id}/contacts
    L = "/orgs/c/contacts"
    a = c("list, defaults", "GET", L, None, auth(), 200)
    check_page(run, a, page=1, take=100)
    a = c("list, page 2 of 5", "GET", L + "?page=2&take=5", None, auth(), 200)
    check_page(run, a, page=2, take=5)
    for q in ["status=BLOCKED", "status=UNSUBSCRIBED", "status=SUBSCRIBED",
              "status=AI_REPLIES_DISABLED", "status=ALL", "unsubscribed=true",
              "unsubscribed=false", "exclude_admins=true", "segment_id=seg_vip", "search=ada",
              "name=ada", "email=ada@analytical.example", "user_id=%2B15550100",
              "username=emmy", "name=&page=", "unknown_param=1",
              "search=zzzz-no-such-contact"]:
        c("list, " + q, "GET", L + "?" + q, None, auth(), 200)
    c("list of a sub-org by the parent key", "GET", "/orgs/org_demo_eu/contacts", None, auth(), 200)
    for q, m in [("take=0", "take must be an integer from 1 to 100"),
                 ("take=101", "take must be an integer from 1 to 100"),
                 ("take=abc", "take must be an integer from 1 to 100"),
                 ("page=0", "page must be a positive integer"),
                 ("page=-1", "page must be a positive integer"),
                 ("page=1.5", "page must be a positive integer"),
                 ("unsubscribed=yes", "unsubscribed must be true or false"),
                 ("exclude_admins=1", "exclude_admins must be true or false"),
                 ("status=FOO", "status must be one of ALL, SUBSCRIBED, UNSUBSCRIBED, BLOCKED, "
                                "AI_REPLIES_DISABLED"),
                 ("take=5&take=6", "Query parameter take must be given once")]:
        c("list, bad " + q, "GET", L + "?" + q, None, auth(), 400, msg=m)
    c("list, bad name=a&name=b", "GET", L + "?name=a&name=b", None, auth(), 400,
      msg="Query parameter name must be given once")
    a = c("list of org_acme", "GET", L + "?take=100", None, auth(KEY_ACME), 200)
    check_page(run, a, page=1, take=100)
    c("list, no Authorization", "GET", L, None, [], 401)
    c("list, key of another org", "GET", "/orgs/org_acme/contacts", None, auth(), 401)
    c("list, body ignored", "GET", L, {"x": 1}, auth() + [("Content-Type", "text/plain")], 200)

    # POST /orgs/{org_id}/contacts
    a = c("create with email and segment", "POST", L,
          {"channel": {"name": "Mary Somerville", "email": "mary@example.com"},
           "segment_ids": ["seg_newsletter"]}, auth() + JSON_CT, 201)
    c("create with phone only", "POST", L, {"channel": {"phone": "+15550199"}},
      auth() + JSON_CT, 201)
    c("create with user_id and nulls", "POST", L,
      {"channel": {"user_id": "u-42", "name": None, "email": None, "phone": None,
                   "contact_id": None}, "segment_ids": []}, auth() + JSON_CT, 201)
    c("add a channel to ct_ada", "POST", L,
      {"channel": {"email": "ada@example.org", "contact_id": "ct_ada"}}, auth() + JSON_CT, 201)
    c("create in a sub-org", "POST", "/orgs/org_demo_eu/contacts",
      {"channel": {"email": "eu@example.com"}, "segment_ids": ["seg_eu_berlin"]},
      auth() + JSON_CT, 201)
    c("create, invalid JSON", "POST", L, b"{", auth() + JSON_CT, 400)
    c("create, not an object", "POST", L, b"[]", auth() + JSON_CT, 400)
    c("create, unknown field", "POST", L, {"channel": {"email": "a@b.c"}, "foo": 1},
      auth() + JSON_CT, 400, msg="property foo should not exist")
    c("create, channel without ids", "POST", L, {"channel": {"name": "Nobody"}},
      auth() + JSON_CT, 400, msg="channel needs at least one of user_id, email, phone")
    c("create, no body", "POST", L, None, auth(), 400, msg="channel must be an object")
    c("create, empty email only", "POST", L, {"channel": {"email": ""}}, auth() + JSON_CT, 400,
      msg="channel needs at least one of user_id, email, phone")
    c("create, empty channel", "POST", L, {"channel": {}}, auth() + JSON_CT, 400,
      msg="channel needs at least one of user_id, email, phone")
    c("create, segment of no org", "POST", L,
      {"channel": {"email": "x@example.com"}, "segment_ids": ["seg_x"]}, auth() + JSON_CT, 400,
      msg="segment seg_x does not exist in this org")
    c("create, segment of another org", "POST", L,
      {"channel": {"email": "y@example.com"}, "segment_ids": ["seg_acme_trial"]},
      auth() + JSON_CT, 400, msg="segment seg_acme_trial does not exist in this org")
    c("create, channel wrong type", "POST", L, {"channel": "x"}, auth() + JSON_CT, 400)
    c("create, email wrong type", "POST", L, {"channel": {"email": 5}}, auth() + JSON_CT, 400)
    c("create, segment_ids wrong type", "POST", L,
      {"channel": {"email": "z@example.com"}, "segment_ids": "seg_vip"}, auth() + JSON_CT, 400)
    c("create, no Authorization", "POST", L, {"channel": {"email": "a@b.c"}}, JSON_CT, 401)
    c("create, unknown contact_id", "POST", L,
      {"channel": {"email": "a@b.c", "contact_id": "ct_nope"}}, auth() + JSON_CT, 404,
      msg="Contact not found")
    c("create, too large", "POST", L, {"channel": {"name": "x" * (2 * MAX_BODY), "email": "a@b.c"}},
      auth() + JSON_CT, 413)
    c("create, text/plain", "POST", L, {"channel": {"email": "a@b.c"}},
      auth() + [("Content-Type", "text/plain")], 415)
    c("DELETE on the list path", "DELETE", L, None, auth(), 405)
    c("PUT on the list path", "PUT", L, None, auth(), 405)

    # GET /orgs/{org_id}/contacts/{contact_id}/segments
    S = P + "/segments"
    a = c("segments of ct_ada", "GET", S, None, auth(), 200)
    check_page(run, a, page=1, take=100)
    a = c("segments, take 1", "GET", S + "?take=1", None, auth(), 200)
    check_page(run, a, page=1, take=1)
    c("segments, page 99", "GET", S + "?page=99", None, auth(), 200)
    c("segments, bad take", "GET", S + "?take=0", None, auth(), 400,
      msg="take must be an integer from 1 to 100")
    c("segments, bad page", "GET", S + "?page=x", None, auth(), 400,
      msg="page must be a positive integer")
    c("segments, take twice", "GET", S + "?take=1&take=2", None, auth(), 400,
      msg="Query parameter take must be given once")
    c("segments, no Authorization", "GET", S, None, [], 401)
    c("segments, no such contact", "GET", "/orgs/c/contacts/ct_nope/segments", None, auth(), 404,
      msg="Contact not found")
    c("POST on the segments path", "POST", S, None, auth(), 405)

    # POST /orgs/{org_id}/contacts/{contact_id}/segments/{segment_id}
    c("add ct_ada to seg_beta", "POST", S + "/seg_beta", None, auth(), 201)
    c("add again", "POST", S + "/seg_beta", None, auth(), 201)
    c("add, body ignored", "POST", S + "/seg_events", b"whatever",
      auth() + [("Content-Type", "text/plain")], 201)
    c("add, no Authorization", "POST", S + "/seg_beta", None, [], 401)
    c("add, no such contact", "POST", "/orgs/c/contacts/ct_nope/segments/seg_beta", None, auth(),
      404, msg="Contact not found")
    c("add, no such segment", "POST", S + "/seg_nope", None, auth(), 404, msg="Segment not found")
    c("add, segment of another org", "POST", S + "/seg_acme_trial", None, auth(), 404,
      msg="Segment not found")
    c("GET on the add path", "GET", S + "/seg_beta", None, auth(), 405)

    # GET /openapi.json
    a = c("the document, no key", "GET", "/openapi.json", None, [], 200)
    if a is not None and a.status == 200 and a.json is not None and a.json != run.doc.doc:
        run.violations.append(("GET /openapi.json", [f"the served document differs from {run.doc_path}"]))
        print(f"FAIL    200 GET /openapi.json  -- served document differs from {run.doc_path}")
    c("POST on the document", "POST", "/openapi.json", None, [], 405)

    # Unknown paths
    c("unknown path", "GET", "/nope", None, auth(), 404, msg="Cannot GET /nope")
    c("unknown path under /orgs", "GET", "/orgs/c", None, auth(), 404, msg="Cannot GET /orgs/c")


def check_page(run, a, page, take):
    """The pagination headers agree with the request and the body."""
    if a is None or a.status != 200 or not isinstance(a.json, list):
        return
    problems = []
    try:
        count = int(a.header("pagination-count"))
        if int(a.header("pagination-page")) != page:
            problems.append(f"pagination-page is {a.header('pagination-page')}, asked {page}")
        if int(a.header("pagination-take")) != take:
            problems.append(f"pagination-take is {a.header('pagination-take')}, asked {take}")
        expected = max(0, min(take, count - (page - 1) * take))
        if len(a.json) != expected:
            problems.append(f"{len(a.json)} items on page {page} of take {take} with count {count}")
    except (TypeError, ValueError):
        return  # a missing or non-integer header is reported by the main check
    if problems:
        run.violations.append(("pagination", problems))
        for p in problems:
            print(f"FAIL    pagination: {p}")


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    allow_missing = "--allow-missing" in argv[1:]
    if len(args) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    exe, doc_path = args
    doc = Document(doc_path)
    try:
        server = Server(exe, ["--port", "0", "--db", ":memory:", "--max-body", str(MAX_BODY),
                              "--log", "off"])
    except OSError as e:
        print(f"ERROR: cannot start {exe}: {e}", file=sys.stderr)
        return 1
    try:
        ready = server.wait_ready()
        print(f"server ready: {ready['url']} (pid {ready['pid']})", flush=True)
        run = Run(doc, doc_path, server.port)
        run_requests(run)
    except (RuntimeError, ValueError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    finally:
        server.stop()

    # 429, on a second server with a rate limit of 2 requests per minute.
    limited = Server(exe, ["--port", "0", "--db", ":memory:", "--log", "off", "--rate-limit",
                           "--rate-limit-per-minute", "2"])
    try:
        try:
            limited.wait_ready()
        except RuntimeError as e:
            print(f"SKIP    429: the server does not start with --rate-limit ({e})")
            limited = None
        if limited:
            run.port = limited.port
            for i in range(2):
                run.check(f"within the rate limit ({i + 1}/2)", "PATCH",
                          "/orgs/c/contacts/ct_ada", {}, auth() + JSON_CT, 200)
            run.check("over the rate limit", "PATCH", "/orgs/c/contacts/ct_ada", {},
                      auth() + JSON_CT, 429, msg_prefix="Rate limit exceeded")
            run.check("over the rate limit, list", "GET", "/orgs/c/contacts", None, auth(), 429)
    finally:
        if limited:
            limited.stop()

    print()
    print(f"{run.checked} requests checked, {len(run.violations)} violations, "
          f"{sum(run.missing.values())} answered by a missing route")
    if run.missing:
        print("NOT IMPLEMENTED (documented, but the server answers 404 Cannot ...):")
        for k, n in run.missing.items():
            print(f"  {k}  ({n} requests)")
    if run.violations:
        print("VIOLATIONS:")
        for line, problems in run.violations:
            print(f"  {line}")
            for p in problems:
                print(f"      {p}")
    failed = bool(run.violations) or (bool(run.missing) and not allow_missing)
    print("FAILED" if failed else "PASSED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
