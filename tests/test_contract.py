#!/usr/bin/env python3
"""Contract test: the real binary's answers checked against schema/openapi.json.

Run as: test_contract.py PATH/TO/invent-mock PATH/TO/schema/openapi.json [--allow-missing]

Starts the binary on port 0 with --db :memory: (the built-in demo fixtures), sends a
representative set of requests (every documented operation, its success and each
error status it can produce, the admin API under /__admin/ included; then a second
server with --admin-token for the admin API's 401s, and a third with --rate-limit for the
429) and checks every answer against the document:

- the status is documented for the operation (a wrong method on a known path: the
  path's 405, whose Allow header must list exactly the path's documented methods);
- the body validates against the documented schema for that status (JSON Schema
  2020-12, $refs resolved in the whole document);
- Content-Type is application/json;
- every required documented response header is present and its value fits its schema;
- the status (and, where the contract fixes it, the message) is the one expected;
- a 2xx answer to a body that the documented request schema refuses is a violation, and
  so is an admin body refused with a 400 for its shape that the document accepts;
- a 204 has neither a body nor a Content-Type.

The admin answers are also checked beyond their schema where the test knows what they
must hold (the clock after a change, journal entries and counts, the rule added).
Injected faults on /orgs are used in one labelled section (INJECTED): those answers are
the rule's own (its status, its body or the envelope `Injected fault (N)`, or a dropped
connection) and are checked against the rule, not the operation's documented responses.

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
DROP = "drop"  # injected= value: the fault closes the connection with no answer


class Run:
    def __init__(self, doc, doc_path, port):
        self.doc = doc
        self.doc_path = doc_path
        self.port = port
        self.checked = 0
        self.violations = []     # (request line, [problems])
        self.missing = {}        # "METHOD template" -> count

    def check(self, label, method, path, body=None, headers=(), expect=None, msg=None,
              msg_prefix=None, injected=None):
        """Sends one request and checks its answer; expect is the status the contract
        gives, msg its exact message (or msg_prefix its start) where the contract fixes it.
        injected: the answer of a fault rule this test added itself, DROP or
        {"status": N} (the error envelope) or {"status": N, "body": JSON}; such an answer
        is the test's doing, so it is checked against the rule, not the operation."""
        self.checked += 1
        line = f"{method} {path}"
        try:
            a = send(self.port, method, path, body, headers)
        except (OSError, http.client.HTTPException) as e:
            if injected is DROP:
                self._report("ok", line, label, None, [], "(dropped by an injected fault)")
                return None
            self._report("FAIL", line, label, None, [f"no answer: {e!r}"])
            return None
        if injected is not None:
            return self._check_injected(line, label, a, injected)
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
        if a.status == 204:
            # No Content: neither a body nor a Content-Type.
            if ct is not None:
                problems.append(f"a 204 with Content-Type {ct!r}")
            if a.raw:
                problems.append(f"a 204 with a body: {a.raw[:120]!r}")
        elif not ct or ct.split(";")[0].strip().lower() != "application/json":
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
            # HEAD goes with every GET (RFC 9110 9.3.2), documented or not.
            documented = sorted({m.upper() for m in METHODS if m in item}
                                | ({"HEAD"} if "get" in item else set()))
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

    def _check_injected(self, line, label, a, injected):
        """The answer of a fault rule the test added: exactly the rule's status and body."""
        problems = []
        if injected is DROP:
            problems.append(f"answered {a.status} though an injected fault drops the connection")
        else:
            status = injected["status"]
            if a.status != status:
                problems.append(f"expected the injected status {status}, got {a.status}")
            ct = a.header("Content-Type")
            if not ct or ct.split(";")[0].strip().lower() != "application/json":
                problems.append(f"Content-Type is {ct!r}, not application/json")
            if "body" in injected:
                if a.json_error or a.json != injected["body"]:
                    problems.append(f"expected the rule's body {injected['body']!r}, got "
                                    f"{a.raw[:120]!r}")
            else:
                if a.message() != f"Injected fault ({status})":
                    problems.append(f"expected message 'Injected fault ({status})', got "
                                    f"{a.message()!r}")
                problems += [f"body {e}" for e in self.doc.errors(
                    {"$ref": "#/components/schemas/ErrorEnvelope"}, a.json)]
                if isinstance(a.json, dict) and a.json.get("statusCode") != status:
                    problems.append(f"statusCode is {a.json.get('statusCode')!r}, not {status}")
        self._report("FAIL" if problems else "ok", line, label, a, problems,
                     "(injected fault)")
        return a

    def _check_date_times(self, value, where=""):
        """Contract section 3: every *_at string (and the admin API's clock readings) is UTC
        with milliseconds and Z."""
        out = []
        if isinstance(value, dict):
            for k, v in value.items():
                if (k.endswith("_at") or k in ("time", "now", "clock")) and isinstance(v, str) \
                        and not CONTRACT_DATE_TIME.match(v):
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


# ---------------------------------------------------------------- the admin API

A = "/__admin"
ADMIN_TOKEN = "s3cret-admin-token"


def note(run, label, problems):
    """A violation found by looking inside an answer (beyond the schema)."""
    if problems:
        run.violations.append((label, problems))
        for p in problems:
            print(f"FAIL    {label}: {p}")


def refused_by_document(run, op_path, method, body, label):
    """A body the server refuses with a 400 for its shape: the document refuses it too."""
    if body is None:
        return
    op = run.doc.doc["paths"][op_path][method]
    schema = run.doc.deref(op["requestBody"])["content"]["application/json"]["schema"]
    if not run.doc.errors(schema, body):
        note(run, label, [f"the documented request schema accepts {json.dumps(body)}, "
                          "which the server refuses"])


def run_admin_requests(run):
    """Every admin operation, its success and each error it can give (no --admin-token)."""
    c = run.check

    # GET /__admin/health
    a = c("health", "GET", A + "/health", None, [], 200)
    c("health, an API key is ignored without --admin-token", "GET", A + "/health", None,
      auth(), 200)
    c("health, trailing slash", "GET", A + "/health/", None, [], 200)
    c("POST on health", "POST", A + "/health", None, [], 405)

    # GET /__admin/export, POST /__admin/import (a refused one: it changes nothing)
    c("export", "GET", A + "/export", None, [], 200)
    c("export of one org", "GET", A + "/export?org_id=org_demo", None, [], 200)
    c("export of an unknown org", "GET", A + "/export?org_id=org_nope", None, [], 404,
      msg="Org not found")
    c("import of a broken document", "POST", A + "/import", {"orgs": [{"id": "c"}]}, JSON_CT,
      400, msg='orgs[0].id: "c" is reserved for the key\'s own org')
    c("import, not JSON", "POST", A + "/import", "{", JSON_CT, 400,
      msg="Document is not valid JSON (at byte 1)")

    # GET, POST /__admin/clock
    C = A + "/clock"
    c("clock", "GET", C, None, [], 200)
    a = c("freeze", "POST", C, {"frozen_at": "2030-01-01T00:00:00Z"}, JSON_CT, 200)
    if a is not None and a.status == 200:
        note(run, "freeze", [] if a.json == {"now": "2030-01-01T00:00:00.000Z", "frozen": True}
             else [f"the clock reads {a.json!r}"])
    a = c("freeze with an offset", "POST", C, {"frozen_at": "2030-01-01T01:00:00.5+01:00"},
          JSON_CT, 200)
    if a is not None and a.status == 200:
        note(run, "freeze with an offset",
             [] if a.json == {"now": "2030-01-01T00:00:00.500Z", "frozen": True}
             else [f"the clock reads {a.json!r}"])
    a = c("advance", "POST", C, {"advance_ms": 60000}, JSON_CT, 200)
    if a is not None and a.status == 200:
        note(run, "advance", [] if a.json.get("now") == "2030-01-01T00:01:00.500Z"
             else [f"the clock reads {a.json!r}"])
    c("advance 0", "POST", C, {"advance_ms": 0}, JSON_CT, 200)
    a = c("health, frozen clock", "GET", A + "/health", None, [], 200)
    if a is not None and a.status == 200:
        note(run, "health, frozen clock",
             [] if (a.json.get("clock"), a.json.get("clock_frozen")) ==
             ("2030-01-01T00:01:00.500Z", True) else [f"clock {a.json.get('clock')!r}, "
                                                       f"frozen {a.json.get('clock_frozen')!r}"])
    for body, m in [({}, "Give exactly one of frozen_at, advance_ms, mode"),
                    (None, "Give exactly one of frozen_at, advance_ms, mode"),
                    ({"frozen_at": "2030-01-01T00:00:00Z", "advance_ms": 1},
                     "Give exactly one of frozen_at, advance_ms, mode"),
                    ({"frozen_at": "yesterday"}, "frozen_at must be an RFC 3339 date-time"),
                    ({"frozen_at": "2030-02-30T00:00:00Z"},
                     "frozen_at must be an RFC 3339 date-time"),
                    ({"frozen_at": 5}, "frozen_at must be an RFC 3339 date-time"),
                    ({"advance_ms": -1}, "advance_ms must be a whole number, 0 or more"),
                    ({"advance_ms": 1.5}, "advance_ms must be a whole number, 0 or more"),
                    ({"advance_ms": "5"}, "advance_ms must be a whole number, 0 or more"),
                    ({"mode": "fake"}, 'mode must be "real"'),
                    ({"mode": None}, 'mode must be "real"'),
                    ({"foo": 1}, "property foo should not exist"),
                    ([1], "Body must be a JSON object")]:
        c(f"clock, bad {json.dumps(body)}", "POST", C, body, JSON_CT if body is not None else [],
          400, msg=m)
        refused_by_document(run, C, "post", body, f"clock, bad {json.dumps(body)}")
    c("clock, invalid JSON", "POST", C, b"{", JSON_CT, 400, msg_prefix="Body is not valid JSON")
    c("clock, text/plain", "POST", C, {"mode": "real"}, [("Content-Type", "text/plain")], 415,
      msg="Content-Type must be application/json")
    c("clock, too large", "POST", C, {"frozen_at": "x" * (2 * MAX_BODY)}, JSON_CT, 413)
    c("clock, order: 413 before 415", "POST", C, b"x" * (2 * MAX_BODY),
      [("Content-Type", "text/plain")], 413)
    c("clock, order: 415 before 400", "POST", C, b"{", [("Content-Type", "text/plain")], 415)
    a = c("clock back to real time", "POST", C, {"mode": "real"}, JSON_CT, 200)
    if a is not None and a.status == 200:
        note(run, "clock back to real time",
             [] if a.json.get("frozen") is False else [f"the clock reads {a.json!r}"])
    c("DELETE on the clock", "DELETE", C, None, [], 405)

    # POST /__admin/reset
    R = A + "/reset"
    c("reset, no body", "POST", R, None, [], 200)
    c("reset, {}", "POST", R, {}, JSON_CT, 200)
    c("reset one org", "POST", R, {"org_id": "org_demo"}, JSON_CT, 200)
    c("reset a sub-org", "POST", R, {"org_id": "org_demo_eu"}, JSON_CT, 200)
    c("reset, org_id null", "POST", R, {"org_id": None}, JSON_CT, 200)
    c("reset, not a fixture org", "POST", R, {"org_id": "org_nope"}, JSON_CT, 400,
      msg="Org org_nope is not a fixture org")
    c("reset, org_id not a string", "POST", R, {"org_id": 5}, JSON_CT, 400,
      msg="org_id must be a string")
    c("reset, unknown field", "POST", R, {"foo": 1}, JSON_CT, 400,
      msg="property foo should not exist")
    c("reset, not an object", "POST", R, [1], JSON_CT, 400, msg="Body must be a JSON object")
    for body in ({"org_id": 5}, {"foo": 1}, [1]):
        refused_by_document(run, R, "post", body, f"reset, bad {json.dumps(body)}")
    c("reset, invalid JSON", "POST", R, b"{", JSON_CT, 400, msg_prefix="Body is not valid JSON")
    c("reset, text/plain", "POST", R, {}, [("Content-Type", "text/plain")], 415)
    c("reset, too large", "POST", R, {"org_id": "x" * (2 * MAX_BODY)}, JSON_CT, 413,
      msg=f"Body must be at most {MAX_BODY} bytes")
    c("GET on reset", "GET", R, None, [], 405)

    # POST /__admin/orgs, DELETE /__admin/orgs/{org_id}
    O = A + "/orgs"
    a = c("isolated org from org_demo", "POST", O, {"from": "org_demo"}, JSON_CT, 201)
    iso = a.json if a is not None and a.status == 201 and isinstance(a.json, dict) else None
    c("isolated org from a sub-org", "POST", O, {"from": "org_demo_eu"}, JSON_CT, 201)
    if iso:
        key = iso.get("api_key", "")
        a = c("the isolated org's contacts, by its key", "GET", "/orgs/c/contacts?take=5", None,
              auth(key), 200)
        check_page(run, a, page=1, take=5)
        if a is not None and a.status == 200 and a.json:
            c("an isolated org's contact, admin", "GET",
              f"{O}/{iso['org_id']}/contacts/{a.json[0]['id']}", None, [], 200)
        c("from an isolated org", "POST", O, {"from": iso["org_id"]}, JSON_CT, 400,
          msg=f"Org {iso['org_id']} is not a fixture org")
        c("delete the isolated org", "DELETE", f"{O}/{iso['org_id']}", None, [], 204)
        c("delete it again", "DELETE", f"{O}/{iso['org_id']}", None, [], 404, msg="Org not found")
        c("its key after the delete", "GET", "/orgs/c/contacts", None, auth(key), 401,
          msg="Invalid API key")
    for body, m in [({}, "from must be the id of a fixture org"),
                    (None, "from must be the id of a fixture org"),
                    ({"from": 5}, "from must be the id of a fixture org"),
                    ({"from": None}, "from must be the id of a fixture org"),
                    ({"from": "org_nope"}, "Org org_nope is not a fixture org"),
                    ({"from": "org_demo", "x": 1}, "property x should not exist"),
                    ([], "Body must be a JSON object")]:
        c(f"isolated org, bad {json.dumps(body)}", "POST", O, body,
          JSON_CT if body is not None else [], 400, msg=m)
        if not m.startswith("Org "):  # a well-formed body naming no fixture org
            refused_by_document(run, O, "post", body, f"isolated org, bad {json.dumps(body)}")
    c("isolated org, invalid JSON", "POST", O, b"{\"from\"", JSON_CT, 400,
      msg_prefix="Body is not valid JSON")
    c("isolated org, text/plain", "POST", O, {"from": "org_demo"},
      [("Content-Type", "text/plain")], 415)
    c("isolated org, too large", "POST", O, {"from": "x" * (2 * MAX_BODY)}, JSON_CT, 413)
    c("delete a fixture org", "DELETE", O + "/org_demo", None, [], 400,
      msg="Org org_demo is a fixture org and cannot be deleted")
    c("delete no such org", "DELETE", O + "/org_nope", None, [], 404, msg="Org not found")
    c("the orgs", "GET", O, None, [], 200)
    c("PUT on the orgs path", "PUT", O, None, [], 405)
    c("GET on an org", "GET", O + "/org_demo", None, [], 405)

    # GET /__admin/orgs/{org_id}/contacts/{contact_id}
    a = c("a stored contact", "GET", O + "/org_demo/contacts/ct_ada", None, [], 200)
    c("a contact of a sub-org", "GET", O + "/org_demo_eu/contacts/ct_eu_klara", None, [], 200)
    c("contact of another org", "GET", O + "/org_acme/contacts/ct_ada", None, [], 404,
      msg="Contact not found")
    c("c is no org here", "GET", O + "/c/contacts/ct_ada", None, [], 404, msg="Contact not found")
    c("no such org", "GET", O + "/org_nope/contacts/ct_ada", None, [], 404,
      msg="Contact not found")
    c("no such contact", "GET", O + "/org_demo/contacts/ct_nope", None, [], 404,
      msg="Contact not found")
    c("PATCH on the admin contact", "PATCH", O + "/org_demo/contacts/ct_ada", {}, JSON_CT, 405)

    # The journal: DELETE, GET /__admin/requests, GET /__admin/requests/count
    J = A + "/requests"
    c("empty the journal", "DELETE", J, None, [], 204)
    a = c("count, empty", "GET", J + "/count", None, [], 200)
    if a is not None and a.status == 200:
        note(run, "count, empty", [] if a.json == {"count": 0} else [f"count {a.json!r}"])
    c("journaled: PATCH", "PATCH", "/orgs/c/contacts/ct_ada", {"blocked": True},
      auth() + JSON_CT, 200)
    c("journaled: list", "GET", "/orgs/c/contacts?take=1", None, auth(), 200)
    c("journaled: 401", "GET", "/orgs/org_demo/contacts", None, [], 401)
    c("journaled: 404", "GET", "/orgs/c", None, auth(), 404)
    c("not journaled: admin", "GET", A + "/health", None, [], 200)
    a = c("the journal", "GET", J, None, [], 200)
    if a is not None and a.status == 200 and isinstance(a.json, list):
        problems = []
        got = [(e.get("method"), e.get("path"), e.get("status")) for e in a.json]
        want = [("GET", "/orgs/c", 404), ("GET", "/orgs/org_demo/contacts", 401),
                ("GET", "/orgs/c/contacts", 200), ("PATCH", "/orgs/c/contacts/ct_ada", 200)]
        if got != want:
            problems.append(f"entries {got}, expected {want} (newest first)")
        else:
            patch, lst = a.json[3], a.json[2]
            if not (patch["contact_before"] and patch["contact_after"]):
                problems.append("a PATCH that changed the contact has no contact_before/after")
            auth_h = [v for k, v in patch["request_headers"].items() if k.lower() == "authorization"]
            if auth_h != ["..." + KEY[-4:]]:
                problems.append(f"Authorization journaled as {auth_h!r}")
            if patch["request_body"] != '{"blocked": true}':
                problems.append(f"request_body {patch['request_body']!r}")
            if lst["query"] != "take=1" or lst["contact_before"] is not None:
                problems.append(f"list entry: query {lst['query']!r}, contact_before "
                                f"{lst['contact_before']!r}")
            ids = [e["id"] for e in a.json]
            if ids != sorted(ids, reverse=True):
                problems.append(f"ids {ids} not newest first")
        note(run, "the journal", problems)
    for q, n in [("method=PATCH", 1), ("path=/orgs/*/contacts/*", 1), ("path=/orgs/c*", 3),
                 ("status=401", 1),
                 ("org_id=org_demo", 3),  # not GET /orgs/c: an unknown path names no org
                 ("org_id=org_acme", 0),
                 ("since=2000-01-01T00:00:00Z", 4), ("since=2999-01-01T00:00:00.5%2B02:00", 0),
                 ("limit=1", 1), ("limit=99", 4), ("method=&path=&limit=", 4),
                 ("method=GET&status=200", 1), ("unknown=1", 4)]:
        a = c("journal, " + q, "GET", f"{J}?{q}", None, [], 200)
        if a is not None and a.status == 200 and isinstance(a.json, list):
            note(run, "journal, " + q, [] if len(a.json) == n else [f"{len(a.json)} entries, "
                                                                     f"expected {n}"])
        a = c("count, " + q, "GET", f"{J}/count?{q}", None, [], 200)
        if a is not None and a.status == 200:
            note(run, "count, " + q, [] if a.json == {"count": n} else [f"{a.json!r}, "
                                                                         f"expected {n}"])
    for q, m in [("status=99", "status must be an integer from 100 to 599"),
                 ("status=600", "status must be an integer from 100 to 599"),
                 ("status=abc", "status must be an integer from 100 to 599"),
                 ("status=2000", "status must be an integer from 100 to 599"),
                 ("since=yesterday", "since must be an RFC 3339 date-time"),
                 ("since=2024-02-30T00:00:00Z", "since must be an RFC 3339 date-time"),
                 ("since=2024-01-01", "since must be an RFC 3339 date-time"),
                 ("limit=0", "limit must be a positive integer"),
                 ("limit=-1", "limit must be a positive integer"),
                 ("limit=x", "limit must be a positive integer"),
                 ("limit=1.5", "limit must be a positive integer"),
                 ("limit=1&limit=2", "Query parameter limit must be given once"),
                 ("method=GET&method=PATCH", "Query parameter method must be given once")]:
        c("journal, bad " + q, "GET", f"{J}?{q}", None, [], 400, msg=m)
        c("count, bad " + q, "GET", f"{J}/count?{q}", None, [], 400, msg=m)
    c("POST on the journal", "POST", J, None, [], 405)
    c("DELETE on the count", "DELETE", J + "/count", None, [], 405)
    c("empty the journal again", "DELETE", J, None, [], 204)
    a = c("journal, emptied", "GET", J, None, [], 200)
    if a is not None and a.status == 200:
        note(run, "journal, emptied", [] if a.json == [] else [f"{len(a.json)} entries left"])

    # Fault rules: GET, POST, DELETE /__admin/faults, DELETE /__admin/faults/{id}
    F = A + "/faults"
    a = c("no rules", "GET", F, None, [], 200)
    # Paths under /nowhere: no request of this test matches them.
    for body in [{"path": "/nowhere", "status": 503},
                 {"method": "PATCH", "path": "/nowhere/*", "org_id": "org_demo", "times": 0,
                  "status": 500, "body": {"x": [1, None]}},
                 {"path": "/nowhere", "delay_ms": 10},
                 {"path": "/nowhere", "drop": True, "delay_ms": 5, "times": 3},
                 {"path": "/nowhere", "status": 502, "after_commit": True},
                 {"path": "/nowhere", "method": None, "org_id": None, "status": 400,
                  "drop": False, "after_commit": False, "delay_ms": 0},
                 {"path": "/nowhere", "status": 599, "body": None}]:
        a = c(f"add rule {json.dumps(body)}", "POST", F, body, JSON_CT, 201)
        if a is not None and a.status == 201 and isinstance(a.json, dict):
            want = {"method": None, "org_id": None, "times": 1, "delay_ms": 0, "drop": False,
                    "after_commit": False, "status": None, "body": None, **body}
            want["remaining"] = want["times"] or None
            bad = [k for k in want if a.json.get(k) != want[k]]
            note(run, "add rule", [f"{k} is {a.json.get(k)!r}, expected {want[k]!r}"
                                   for k in bad])
    a = c("the rules", "GET", F, None, [], 200)
    if a is not None and a.status == 200:
        ids = [r.get("id") for r in a.json] if isinstance(a.json, list) else []
        note(run, "the rules", [] if len(ids) == 7 and ids == sorted(ids)
             else [f"rule ids {ids}, expected 7 in the order added"])
    for body, m in [([], "Body must be a JSON object"),
                    (None, "Body must be a JSON object"),
                    ({}, "path must be a non-empty string"),
                    ({"path": "", "status": 503}, "path must be a non-empty string"),
                    ({"path": None, "status": 503}, "path must be a non-empty string"),
                    ({"path": 5, "status": 503}, "path must be a non-empty string"),
                    ({"path": "/x", "method": "", "status": 503},
                     "method must be a non-empty string"),
                    ({"path": "/x", "org_id": 5, "status": 503},
                     "org_id must be a non-empty string"),
                    ({"path": "/x", "status": 503, "times": -1},
                     "times must be a whole number, 0 or more (0: until removed)"),
                    ({"path": "/x", "status": 503, "times": 1.5},
                     "times must be a whole number, 0 or more (0: until removed)"),
                    ({"path": "/x", "status": 503, "times": "1"},
                     "times must be a whole number, 0 or more (0: until removed)"),
                    ({"path": "/x", "status": 399}, "status must be an integer from 400 to 599"),
                    ({"path": "/x", "status": 600}, "status must be an integer from 400 to 599"),
                    ({"path": "/x", "status": 200}, "status must be an integer from 400 to 599"),
                    ({"path": "/x", "status": "503"},
                     "status must be an integer from 400 to 599"),
                    ({"path": "/x", "status": None}, "status must be an integer from 400 to 599"),
                    ({"path": "/x", "delay_ms": -1},
                     "delay_ms must be a whole number from 0 to 600000"),
                    ({"path": "/x", "delay_ms": 600001},
                     "delay_ms must be a whole number from 0 to 600000"),
                    ({"path": "/x", "drop": "yes"}, "drop must be a boolean"),
                    ({"path": "/x", "status": 503, "after_commit": 1},
                     "after_commit must be a boolean"),
                    ({"path": "/x", "status": 503, "foo": 1}, "property foo should not exist"),
                    ({"path": "/x", "body": {}}, "status is required with body or after_commit"),
                    ({"path": "/x", "delay_ms": 5, "after_commit": True},
                     "status is required with body or after_commit"),
                    ({"path": "/x"}, "a fault needs status, delay_ms or drop"),
                    ({"path": "/x", "delay_ms": 0}, "a fault needs status, delay_ms or drop"),
                    ({"path": "/x", "drop": False}, "a fault needs status, delay_ms or drop"),
                    ({"path": "/x", "drop": True, "status": 503},
                     "drop cannot be combined with status or after_commit"),
                    ({"path": "/x", "drop": True, "status": 503, "after_commit": True},
                     "drop cannot be combined with status or after_commit")]:
        c(f"rule, bad {json.dumps(body)}", "POST", F, body, JSON_CT if body is not None else [],
          400, msg=m)
        refused_by_document(run, F, "post", body, f"rule, bad {json.dumps(body)}")
    c("rule, invalid JSON", "POST", F, b"{", JSON_CT, 400, msg_prefix="Body is not valid JSON")
    c("rule, text/plain", "POST", F, {"path": "/x", "status": 503},
      [("Content-Type", "text/plain")], 415)
    c("rule, too large", "POST", F, {"path": "x" * (2 * MAX_BODY), "status": 503}, JSON_CT, 413)
    c("remove rule 1", "DELETE", F + "/1", None, [], 204)
    c("remove rule 1 again", "DELETE", F + "/1", None, [], 404, msg="Fault 1 not found")
    c("remove rule 0", "DELETE", F + "/0", None, [], 404, msg="Fault 0 not found")
    c("remove rule abc", "DELETE", F + "/abc", None, [], 404, msg="Fault abc not found")
    c("remove rule 999", "DELETE", F + "/999", None, [], 404, msg="Fault 999 not found")
    c("GET on a rule", "GET", F + "/2", None, [], 405)
    c("PUT on the rules", "PUT", F, None, [], 405)
    c("remove every rule", "DELETE", F, None, [], 204)
    a = c("no rules left", "GET", F, None, [], 200)
    if a is not None and a.status == 200:
        note(run, "no rules left", [] if a.json == [] else [f"{len(a.json)} rules left"])

    # ---- INJECTED FAULTS on /orgs: the answers below are the rules' own, checked
    # ---- against the rule (status, body), not against the operation's responses.
    c("INJECTED: rule 502 once", "POST", F,
      {"method": "PATCH", "path": "/orgs/*/contacts/ct_grace", "status": 502}, JSON_CT, 201)
    c("INJECTED: PATCH answers 502", "PATCH", "/orgs/c/contacts/ct_grace", {}, auth() + JSON_CT,
      injected={"status": 502})
    c("INJECTED: rule used up, PATCH answers 200", "PATCH", "/orgs/c/contacts/ct_grace", {},
      auth() + JSON_CT, 200)
    c("INJECTED: rule 418 with a body", "POST", F,
      {"method": "GET", "path": "/orgs/c/contacts", "org_id": "org_demo", "status": 418,
       "body": {"custom": [1, None]}}, JSON_CT, 201)
    c("INJECTED: list answers the rule's body", "GET", "/orgs/c/contacts", None, auth(),
      injected={"status": 418, "body": {"custom": [1, None]}})
    c("INJECTED: another org is not matched", "GET", "/orgs/c/contacts?take=1", None,
      auth(KEY_ACME), 200)
    c("INJECTED: rule dropping after a delay", "POST", F,
      {"method": "GET", "path": "/orgs/*/contacts/ct_ada/segments", "drop": True,
       "delay_ms": 20}, JSON_CT, 201)
    c("INJECTED: segments dropped", "GET", "/orgs/c/contacts/ct_ada/segments", None, auth(),
      injected=DROP)
    a = c("INJECTED: the drop is journaled with status 0", "GET",
          J + "?path=/orgs/c/contacts/ct_ada/segments", None, [], 200)
    if a is not None and a.status == 200 and isinstance(a.json, list):
        note(run, "the dropped request's journal entry",
             [] if a.json and a.json[0]["status"] == 0 and a.json[0]["response_body"] is None
             else [f"entries {[(e['status'], e['response_body']) for e in a.json]}"])
    c("INJECTED: rule 409 after commit", "POST", F,
      {"method": "PATCH", "path": "/orgs/c/contacts/ct_alan", "status": 409,
       "after_commit": True}, JSON_CT, 201)
    c("INJECTED: PATCH stored, answered 409", "PATCH", "/orgs/c/contacts/ct_alan",
      {"name": "Alan (after commit)"}, auth() + JSON_CT, injected={"status": 409})
    a = c("INJECTED: the change was stored", "GET", O + "/org_demo/contacts/ct_alan", None, [],
          200)
    if a is not None and a.status == 200:
        note(run, "after_commit stored the change", [] if a.json.get("name") ==
             "Alan (after commit)" else [f"name is {a.json.get('name')!r}"])
    c("INJECTED: rule delaying 50 ms", "POST", F,
      {"method": "PATCH", "path": "/orgs/c/contacts/ct_ada", "delay_ms": 50}, JSON_CT, 201)
    c("INJECTED: PATCH late, then answered normally", "PATCH", "/orgs/c/contacts/ct_ada", {},
      auth() + JSON_CT, 200)
    c("INJECTED: rules never apply to admin calls", "POST", F,
      {"path": "/__admin/*", "status": 500, "times": 0}, JSON_CT, 201)
    c("INJECTED: health is not faulted", "GET", A + "/health", None, [], 200)
    c("INJECTED: remove every rule", "DELETE", F, None, [], 204)
    c("reset after the faults", "POST", R, None, [], 200)


def admin_ops(doc):
    """(METHOD, a concrete path) for every documented admin operation."""
    concrete = {"{org_id}": "org_demo", "{contact_id}": "ct_ada", "{id}": "1"}
    out = []
    for template, item in doc.doc["paths"].items():
        if not template.startswith(A + "/"):
            continue
        path = template
        for k, v in concrete.items():
            path = path.replace(k, v)
        out += [(m.upper(), path) for m in METHODS if m in item]
    return out


def run_admin_token_requests(run):
    """On a server with --admin-token: 401 without the token, the rest with it."""
    c = run.check
    H = A + "/health"
    good = [("Authorization", "Bearer " + ADMIN_TOKEN)]
    c("token: no Authorization", "GET", H, None, [], 401, msg="Missing Authorization header")
    c("token: wrong token", "GET", H, None, [("Authorization", "Bearer nope")], 401,
      msg="Invalid admin token")
    c("token: an API key", "GET", H, None, auth(), 401, msg="Invalid admin token")
    c("token: Basic", "GET", H, None, [("Authorization", "Basic " + ADMIN_TOKEN)], 401,
      msg='Authorization must be "Bearer <admin token>"')
    c("token: twice", "GET", H, None, good + good, 401,
      msg="Only one Authorization header is allowed")
    c("token: the token", "GET", H, None, good, 200)
    c("token: scheme in any case", "GET", H, None,
      [("Authorization", "bearer " + ADMIN_TOKEN)], 200)
    for method, path in admin_ops(run.doc):
        body = {} if method == "POST" else None
        c(f"token: {method} without it", method, path, body, JSON_CT if body is not None else [],
          401, msg="Missing Authorization header")
        c(f"token: {method} with another", method, path, body,
          [("Authorization", "Bearer x" + ADMIN_TOKEN)] + (JSON_CT if body is not None else []),
          401, msg="Invalid admin token")
    c("token: order: 405 before 401", "PUT", H, None, [], 405)
    c("token: order: 401 before 413", "POST", A + "/clock", b"x" * (2 * MAX_BODY), JSON_CT, 401)
    c("token: 413 with the token", "POST", A + "/clock", b"x" * (2 * MAX_BODY), good + JSON_CT, 413)
    c("token: 415 with the token", "POST", A + "/clock", {"mode": "real"},
      good + [("Content-Type", "text/plain")], 415)
    c("token: clock with the token", "POST", A + "/clock", {"advance_ms": 1}, good + JSON_CT, 200)
    c("token: journal with the token", "GET", A + "/requests?limit=1", None, good, 200)
    c("token: not needed on /orgs", "GET", "/orgs/c/contacts?take=1", None, auth(), 200)
    c("token: not accepted on /orgs", "GET", "/orgs/c/contacts?take=1", None, good, 401,
      msg="Invalid API key")


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
        run_admin_requests(run)
    except (RuntimeError, ValueError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    finally:
        server.stop()

    # 401 from the admin API, on a second server with --admin-token.
    guarded = Server(exe, ["--port", "0", "--db", ":memory:", "--max-body", str(MAX_BODY),
                           "--log", "off", "--admin-token", ADMIN_TOKEN])
    try:
        try:
            guarded.wait_ready()
        except RuntimeError as e:
            print(f"ERROR: the server does not start with --admin-token ({e})", file=sys.stderr)
            return 1
        run.port = guarded.port
        run_admin_token_requests(run)
    finally:
        guarded.stop()

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
