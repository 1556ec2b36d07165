#!/usr/bin/env python3
"""The admin API of a server listening beyond loopback without --admin-token
answers loopback clients only. Run as: test_guard.py CASE PATH/TO/invent-mock

Clients on another address come from a network namespace the test makes (ip
netns, a veth pair with private addresses, so traffic never leaves the
machine). Without root or ip, those cases are skipped (exit 77) with the reason."""
import contextlib
import fcntl
import http.client
import json
import os
import re
import shutil
import subprocess
import sys

from invent_server import running

CASES = {}
KEY = "sk_test_demo"
SKIP = 77
LOCK = "/tmp/invent-mock-test-netns.lock"
GUARD_MESSAGE = ("The admin API answers only loopback clients: the server listens on %s "
                 "without an admin token. Start it with --admin-token TOKEN (or "
                 "INVENT_MOCK_ADMIN_TOKEN) and send Authorization: Bearer TOKEN to allow "
                 "other clients")


def case(name):
    def register(fn):
        CASES[name] = fn
        return fn
    return register


def skip(why):
    print("SKIP: " + why)
    sys.exit(SKIP)


def ip(*args, check=True):
    out = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=30)
    if check and out.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), out.stderr.strip()))
    return out


@contextlib.contextmanager
def netns():
    """A namespace joined to this one by a veth pair on a free 10.213.x.y/30:
    yields (namespace name, this side's address, the namespace's address)."""
    if os.geteuid() != 0:
        skip("making a network namespace (ip netns) needs root")
    if not shutil.which("ip"):
        skip("no ip command (Debian's iproute2) to make a network namespace")
    tag = str(os.getpid())
    ns, host_if, ns_if = "invent-mock-t" + tag, "imh" + tag, "imn" + tag
    made = []
    try:
        with open(LOCK, "w") as lock:
            # One test at a time picks a /30 nobody on this machine uses.
            fcntl.flock(lock, fcntl.LOCK_EX)
            used = set(re.findall(r"inet 10\.213\.(\d+)\.(\d+)/", ip("-4", "-o", "addr").stdout))
            free = [(a, b) for a in range(256) for b in range(0, 256, 4)
                    if (str(a), str(b + 1)) not in used]
            a, b = free[0]
            here, there = "10.213.%d.%d" % (a, b + 1), "10.213.%d.%d" % (a, b + 2)
            out = ip("netns", "add", ns, check=False)
            if out.returncode != 0:
                skip("ip netns add failed here: " + out.stderr.strip())
            made.append(ns)
            ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
            made.append(host_if)
            ip("link", "set", ns_if, "netns", ns)
            ip("addr", "add", here + "/30", "dev", host_if)
            ip("link", "set", host_if, "up")
            ip("-n", ns, "addr", "add", there + "/30", "dev", ns_if)
            ip("-n", ns, "link", "set", ns_if, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        yield ns, here, there
    finally:
        if host_if in made:
            ip("link", "del", host_if, check=False)
        if ns in made:
            ip("netns", "del", ns, check=False)


# Runs inside the namespace: one request, prints {"status", "body"} as JSON.
CLIENT = r"""
import http.client, json, sys
host, port, method, path, headers, body = sys.argv[1:7]
c = http.client.HTTPConnection(host, int(port), timeout=10)
c.request(method, path, body=body.encode() or None, headers=json.loads(headers))
r = c.getresponse()
print(json.dumps({"status": r.status, "body": r.read().decode()}))
"""


def request_from(ns, host, port, method, path, headers=None, body=None):
    """One request from inside namespace ns: (status, parsed JSON body or None)."""
    h = dict(headers or {})
    if body is not None:
        h["Content-Type"] = "application/json"
    out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", CLIENT, host, str(port),
                          method, path, json.dumps(h), json.dumps(body) if body is not None else ""],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out
    r = json.loads(out.stdout)
    return r["status"], json.loads(r["body"]) if r["body"] else None


def request(host, port, method, path, headers=None, body=None):
    c = http.client.HTTPConnection(host, port, timeout=10)
    try:
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        return r.status, json.loads(raw) if raw else None
    finally:
        c.close()


def guard_lines(s):
    return [l for l in s.stderr_lines if "admin" in l.lower()]


def assert_forbidden(answer, listening):
    status, body = answer
    assert (status, body) == (403, {"statusCode": 403, "error": "Forbidden",
                                    "message": GUARD_MESSAGE % listening}), answer


@case("guard@loopback-listener-has-no-guard-and-says-nothing")
def loopback_listener_has_no_guard(exe):
    with running(exe, []) as s:
        assert request("127.0.0.1", s.port, "GET", "/__admin/health")[0] == 200
        assert s.stop() == 0
        assert guard_lines(s) == [], s.stderr_lines


@case("guard@non-loopback-listener-says-so-and-serves-loopback")
def non_loopback_listener_says_so(exe):
    for host in ("0.0.0.0", "::"):
        with running(exe, ["--host", host]) as s:
            loop = "::1" if host == "::" else "127.0.0.1"
            assert request(loop, s.port, "GET", "/__admin/health")[0] == 200
            assert request(loop, s.port, "POST", "/__admin/reset")[0] == 200
            assert s.stop() == 0
            assert guard_lines(s) == [
                "invent-mock: listening on %s without --admin-token: the admin API (/__admin/) "
                "answers only loopback clients; --admin-token TOKEN opens it to clients that "
                "send the token" % host], s.stderr_lines
    with running(exe, ["--host", "0.0.0.0", "--admin-token", "t0k"]) as s:
        assert s.stop() == 0
        assert guard_lines(s) == [], s.stderr_lines


@case("guard@other-address-gets-403-and-changes-nothing")
def other_address_gets_403(exe):
    with netns() as (ns, here, there):
        with running(exe, ["--host", "0.0.0.0"]) as s:
            # A change made from loopback, that a reset from outside would undo.
            assert request("127.0.0.1", s.port, "PATCH", "/orgs/c/contacts/ct_ada",
                           {"Authorization": "Bearer " + KEY}, {"blocked": True})[0] == 200
            for method, path, body in (("GET", "/__admin/health", None),
                                       ("POST", "/__admin/reset", {"everything": True}),
                                       ("POST", "/__admin/faults", {"path": "/orgs/*", "status": 500}),
                                       ("GET", "/__admin/requests", None),
                                       ("DELETE", "/__admin/requests", None),
                                       ("GET", "/__admin/ui/", None),
                                       ("GET", "/__admin/no-such-thing", None),
                                       ("GET", "/__admin", None)):
                assert_forbidden(request_from(ns, here, s.port, method, path, body=body), "0.0.0.0")
            # The API itself answers the namespace as it answers anyone.
            status, contact = request_from(ns, here, s.port, "GET", "/orgs/c/contacts?search=Ada",
                                           {"Authorization": "Bearer " + KEY})
            assert status == 200 and any(c["id"] == "ct_ada" and c["blocked"] for c in contact), contact
            status, c = request("127.0.0.1", s.port, "GET", "/__admin/orgs/org_demo/contacts/ct_ada")
            assert (status, c["blocked"]) == (200, True), c
            assert request("127.0.0.1", s.port, "GET", "/__admin/faults")[1] in ([], {"faults": []})
            # The journal holds the loopback PATCH and the namespace's list, from its address.
            status, j = request("127.0.0.1", s.port, "GET", "/__admin/requests")
            entries = j["requests"] if isinstance(j, dict) else j
            assert [(e["method"], e["client"]) for e in entries] == [
                ("GET", there), ("PATCH", "127.0.0.1")], entries


@case("guard@listening-on-one-outside-address-guards-it")
def listening_on_one_outside_address(exe):
    with netns() as (ns, here, there):
        with running(exe, ["--host", here]) as s:
            assert s.ready["url"] == "http://%s:%d" % (here, s.port), s.ready
            assert_forbidden(request_from(ns, here, s.port, "GET", "/__admin/health"), here)
            # This machine's own clients of that address come from it, not from loopback.
            assert_forbidden(request(here, s.port, "GET", "/__admin/health"), here)
            assert request_from(ns, here, s.port, "GET", "/openapi.json")[0] == 200


@case("guard@admin-token-opens-it-to-other-addresses")
def admin_token_opens_it(exe):
    with netns() as (ns, here, there):
        with running(exe, ["--host", "0.0.0.0", "--admin-token", "s3cret"]) as s:
            status, h = request_from(ns, here, s.port, "GET", "/__admin/health",
                                     {"Authorization": "Bearer s3cret"})
            assert status == 200 and h["db"] == ":memory:", (status, h)
            assert request_from(ns, here, s.port, "GET", "/__admin/health") == (401, {
                "statusCode": 401, "error": "Unauthorized", "message": "Missing Authorization header"})
            assert request_from(ns, here, s.port, "GET", "/__admin/health",
                                {"Authorization": "Bearer nope"})[0] == 401
            assert request("127.0.0.1", s.port, "GET", "/__admin/health")[0] == 401


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in CASES:
        sys.exit("usage: test_guard.py CASE EXE; cases: " + " ".join(CASES))
    CASES[sys.argv[1]](os.path.abspath(sys.argv[2]) if os.sep in sys.argv[2] else sys.argv[2])
