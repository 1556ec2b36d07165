#!/usr/bin/env python3
"""Tests of the invent-mock binary itself: command line, ready line, restarts,
kill -9, bad fixtures. Run as: test_binary.py CASE PATH/TO/invent-mock

Standard library only. Every process a test starts is stopped by its own PID in a
finally block; every wait is bounded by a timeout."""
import contextlib
import http.client
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

from invent_server import READY_TIMEOUT, STOP_TIMEOUT, Server, clean_env  # noqa: E402

CASES = {}

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO_FIXTURE = os.path.join(HERE, "..", "fixtures", "demo.json")
KEY = "sk_test_demo"


def case(name):
    def register(fn):
        CASES[name] = fn
        return fn
    return register


# ---------------------------------------------------------------- helpers

@contextlib.contextmanager
def server(exe, args, env=None, ready=True):
    """Starts invent-mock, waits for the ready line, and always kills that one
    process (by PID) on the way out."""
    s = Server(exe, args, env)
    try:
        if ready:
            s.wait_ready()
        yield s
    finally:
        s.kill()


def start_server(exe, tmpdir, extra=(), db_name="invent.db"):
    """Starts the server on port 0 with a --db in tmpdir; returns (Server, port)."""
    db = os.path.join(tmpdir, db_name)
    s = Server(exe, ["--port", "0", "--db", db] + list(extra))
    try:
        s.wait_ready()
    except BaseException:
        s.kill()
        raise
    return s, s.port


def request(port, method, path, body=None, headers=None, timeout=5.0):
    """Returns (status, parsed JSON body or raw text, headers dict)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {"Authorization": "Bearer " + KEY}
        if body is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        data = None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        raw = r.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return r.status, parsed, dict(r.getheaders())
    finally:
        conn.close()


def patch(port, contact, body, timeout=5.0):
    return request(port, "PATCH", "/orgs/c/contacts/" + contact, body, timeout=timeout)


def stored_name(port, contact):
    """A PATCH {} changes nothing and answers the stored contact."""
    st, body, _ = patch(port, contact, {})
    assert st == 200, (contact, st, body)
    return body["name"]


def run_fail(exe, args, env=None, timeout=10):
    """Runs a command line that must not start serving. Returns CompletedProcess-ish
    (returncode, stdout, stderr). Kills the process (by PID) if it does not exit."""
    p = subprocess.Popen([exe] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=clean_env(env))
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        out, err = p.communicate(timeout=STOP_TIMEOUT)
        raise AssertionError("%r did not exit within %d s (it serves?); stdout %r stderr %r"
                             % (args, timeout, out, err))
    finally:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=STOP_TIMEOUT)
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def assert_one_line_error(what, rc, out, err, want_rc=None):
    assert rc >= 0, "%s: killed by signal %d; stderr %r" % (what, -rc, err)
    assert rc != 0, "%s: exit 0; stdout %r stderr %r" % (what, out, err)
    if want_rc is not None:
        assert rc == want_rc, "%s: exit %d, want %d; stderr %r" % (what, rc, want_rc, err)
    assert out == "", "%s: printed to stdout: %r" % (what, out)
    assert err.endswith("\n") and err.count("\n") == 1, "%s: stderr is not one line: %r" % (what, err)
    assert err.startswith("invent-mock: "), "%s: stderr %r" % (what, err)
    assert len(err.strip()) > len("invent-mock: ") + 5, "%s: empty message %r" % (what, err)


def demo_contact_ids(org="org_demo", n=None):
    with open(DEMO_FIXTURE) as f:
        doc = json.load(f)
    for o in doc["orgs"]:
        if o["id"] == org:
            ids = [c["id"] for c in o["contacts"]]
            return ids[:n] if n else ids
    raise AssertionError("no org " + org)


def demo_names():
    with open(DEMO_FIXTURE) as f:
        doc = json.load(f)
    return {c["id"]: c.get("name") for o in doc["orgs"] for c in o["contacts"]}


class Writer(threading.Thread):
    """Sends PATCH {"name": ...} to its own contacts in turn over one keep-alive
    connection, until stopped or the server goes away. For each contact it records
    every value sent (in order) and the last acknowledged (200) one."""

    def __init__(self, port, contacts, tag):
        super().__init__(daemon=True)
        self.port = port
        self.contacts = contacts
        self.tag = tag
        self.sent = {c: [] for c in contacts}
        self.acked = {c: None for c in contacts}  # index into sent[c] of the last 200
        self.n_ok = 0
        self.error = None
        self.unexpected = []
        self.halt = threading.Event()

    def run(self):
        conn = None
        i = 0
        try:
            while not self.halt.is_set():
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c = self.contacts[i % len(self.contacts)]
                value = "%s-v%d" % (self.tag, i)
                i += 1
                self.sent[c].append(value)
                conn.request("PATCH", "/orgs/c/contacts/" + c, body=json.dumps({"name": value}),
                             headers={"Authorization": "Bearer " + KEY,
                                      "Content-Type": "application/json"})
                r = conn.getresponse()
                raw = r.read()
                if r.status == 200:
                    got = json.loads(raw)["name"]
                    if got != value:
                        self.unexpected.append((c, value, got))
                    self.acked[c] = len(self.sent[c]) - 1
                    self.n_ok += 1
                else:
                    # 503 while stopping is acceptable (not acknowledged); keep note.
                    self.unexpected.append((c, value, r.status, raw[:200]))
                    if r.will_close:
                        conn.close()
                        conn = None
        except (OSError, http.client.HTTPException) as e:
            self.error = e  # the server went away: expected
        finally:
            if conn is not None:
                conn.close()

    def allowed(self, contact, before):
        """Values the contact may hold now: the last acknowledged one, or any value
        sent after it (a write may commit without its answer arriving). If nothing was
        acknowledged, what it held before this round is allowed too."""
        sent = self.sent[contact]
        a = self.acked[contact]
        if a is None:
            return [before] + sent
        return sent[a:]


def check_writers(port, writers, before):
    """Checks each contact's stored name against what its writer recorded; returns
    the stored names."""
    now = {}
    for w in writers:
        for c in w.contacts:
            name = stored_name(port, c)
            ok = w.allowed(c, before[c])
            assert name in ok, ("%s: stored %r; last acknowledged %r; allowed %r"
                                % (c, name, (w.sent[c][w.acked[c]] if w.acked[c] is not None
                                             else None), ok[:5]))
            now[c] = name
    return now


# ---------------------------------------------------------------- cases

@case("binary@prints-version")
def prints_version(exe):
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out
    assert out.stdout.startswith("invent-mock "), out.stdout


@case("binary@ready-line-on-port-0")
def ready_line_on_port_0(exe):
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "t.db")
        with server(exe, ["--port", "0", "--db", db], ready=False) as s:
            ready = s.wait_ready()
            assert set(ready) >= {"event", "url", "port", "pid", "db"}, ready
            port = ready["port"]
            assert isinstance(port, int) and 0 < port < 65536, ready
            assert ready["url"] == "http://127.0.0.1:%d" % port, ready
            assert ready["pid"] == s.pid(), (ready, s.pid())
            assert ready["db"] == db, ready
            st, body, _ = patch(port, "ct_ada", {"name": "x"})
            assert st == 200 and body["id"] == "ct_ada" and body["name"] == "x", (st, body)
            st, body, _ = request(port, "GET", "/nope")
            assert st == 404, (st, body)
            st, body, _ = request(port, "PATCH", "/orgs/c/contacts/ct_ada", {},
                                  headers={"Authorization": "Bearer wrong"})
            assert st == 401, (st, body)
            rc = s.stop(signal.SIGTERM)
            assert rc == 0, (rc, s.stderr_lines)
            assert s.stdout_lines == [s.stdout_lines[0]] and len(s.stdout_lines) == 1, s.stdout_lines
            want = [("PATCH", "/orgs/c/contacts/ct_ada", "200"), ("GET", "/nope", "404"),
                    ("PATCH", "/orgs/c/contacts/ct_ada", "401")]
            logs = [l for l in s.stderr_lines if l.strip()]
            assert len(logs) == len(want), "want one log line per request: %r" % logs
            for (m, p, code), line in zip(want, logs):
                words = line.split()
                assert m in words and p in words and code in words, (line, m, p, code)


@case("binary@log-json")
def log_json(exe):
    with tempfile.TemporaryDirectory() as tmp:
        s, port = start_server(exe, tmp, ["--log", "json"])
        try:
            assert patch(port, "ct_ada", {"name": "j"})[0] == 200
            assert request(port, "GET", "/nope")[0] == 404
            assert s.stop() == 0
        finally:
            s.kill()
        logs = [l for l in s.stderr_lines if l.strip()]
        assert len(logs) == 2, logs
        want = [("PATCH", "/orgs/c/contacts/ct_ada", 200), ("GET", "/nope", 404)]
        for (m, p, code), line in zip(want, logs):
            o = json.loads(line)
            assert isinstance(o, dict), line
            assert o.get("method") == m and o.get("path") == p and o.get("status") == code, o
            assert isinstance(o.get("duration_ms"), (int, float)) and o["duration_ms"] >= 0, o

        s, port = start_server(exe, tmp, ["--log", "off"])
        try:
            assert patch(port, "ct_ada", {"name": "k"})[0] == 200
            assert request(port, "GET", "/nope")[0] == 404
            assert s.stop() == 0
        finally:
            s.kill()
        assert not any("/orgs/c/contacts/ct_ada" in l or "/nope" in l for l in s.stderr_lines), \
            s.stderr_lines
        assert s.stderr_lines == [], s.stderr_lines


@case("binary@env-vars")
def env_vars(exe):
    with tempfile.TemporaryDirectory() as tmp:
        env_db = os.path.join(tmp, "env.db")
        with server(exe, [], env={"INVENT_MOCK_PORT": "0", "INVENT_MOCK_DB": env_db}) as s:
            assert s.port > 0 and s.ready["db"] == env_db, s.ready
            assert patch(s.port, "ct_ada", {"name": "from-env"})[0] == 200
            assert s.stop() == 0
        assert os.path.exists(env_db)

        # A flag wins over its variable: the variable names a port that is taken, a
        # db elsewhere, and json logs; the flags say port 0, another db, text logs.
        busy = socket.socket()
        try:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            busy_port = busy.getsockname()[1]
            other_db = os.path.join(tmp, "never.db")
            flag_db = os.path.join(tmp, "flag.db")
            env = {"INVENT_MOCK_PORT": str(busy_port), "INVENT_MOCK_DB": other_db,
                   "INVENT_MOCK_LOG": "json"}
            with server(exe, ["--port", "0", "--db", flag_db, "--log", "text"], env=env) as s:
                assert s.port not in (0, busy_port), s.ready
                assert s.ready["db"] == flag_db, s.ready
                assert patch(s.port, "ct_ada", {"name": "flag"})[0] == 200
                assert s.stop() == 0
                logs = [l for l in s.stderr_lines if l.strip()]
                assert len(logs) == 1 and not logs[0].startswith("{"), logs
            assert not os.path.exists(other_db), "the variable's db was created"
            assert os.path.exists(flag_db)

            # Without the flag, the variable is used: the port is taken, so start-up fails.
            rc, out, err = run_fail(exe, ["--db", flag_db], env={"INVENT_MOCK_PORT": str(busy_port)})
            assert_one_line_error("INVENT_MOCK_PORT busy", rc, out, err, want_rc=1)
        finally:
            busy.close()

        # A bad variable is reported like a bad flag, naming the variable.
        rc, out, err = run_fail(exe, ["--db", os.path.join(tmp, "x.db")],
                                env={"INVENT_MOCK_PORT": "abc"})
        assert_one_line_error("INVENT_MOCK_PORT=abc", rc, out, err, want_rc=2)
        assert "INVENT_MOCK_PORT" in err, err


@case("binary@help-lists-every-flag")
def help_lists_every_flag(exe):
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=10,
                         env=clean_env())
    assert out.returncode == 0, out
    text = out.stdout
    for flag in ["--host", "--port", "--db", "--fixtures", "--reset", "--lenient", "--max-body",
                 "--log", "--sync", "--threads", "--help", "--version"]:
        assert re.search(re.escape(flag) + r"\b", text), "%s not in --help:\n%s" % (flag, text)
    for var in ["INVENT_MOCK_HOST", "INVENT_MOCK_PORT", "INVENT_MOCK_DB", "INVENT_MOCK_FIXTURES",
                "INVENT_MOCK_RESET", "INVENT_MOCK_LENIENT", "INVENT_MOCK_MAX_BODY",
                "INVENT_MOCK_LOG", "INVENT_MOCK_SYNC", "INVENT_MOCK_THREADS"]:
        assert var in text, "%s not in --help:\n%s" % (var, text)


@case("binary@bad-flag-exits-non-zero")
def bad_flag_exits_non_zero(exe):
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "never.db")
        bad = [
            ["--no-such-flag"],
            ["--port", "abc"],
            ["--port", "70000"],
            ["--port", "-1"],
            ["--port", ""],
            ["--port"],
            ["--log", "loud"],
            ["--max-body", "0"],
            ["--max-body", "lots"],
            ["--threads", "0"],
            ["--sync", "fast"],
            ["--reset=maybe"],
            ["stray-argument"],
            ["--host", "nope"],
            ["--host", "1.2.3.4.5"],
            ["--host", ""],
        ]
        for args in bad:
            rc, out, err = run_fail(exe, ["--db", db] + args)
            assert_one_line_error(" ".join(args), rc, out, err, want_rc=2)
        assert not os.path.exists(db), "a bad command line created the db"


@case("binary@host-localhost-is-loopback")
def host_localhost_is_loopback(exe):
    with server(exe, ["--host", "localhost", "--port", "0", "--db", ":memory:"]) as s:
        assert s.ready["url"] == "http://127.0.0.1:%d" % s.port, s.ready
        assert request(s.port, "GET", "/__admin/health")[0] == 200
        assert s.stop() == 0


@case("binary@unusable-db-path")
def unusable_db_path(exe):
    with tempfile.TemporaryDirectory() as tmp:
        junk = os.path.join(tmp, "junk.db")
        rnd = random.Random(7)
        with open(junk, "wb") as f:
            f.write(bytes(rnd.randrange(256) for _ in range(8192)))
        before = open(junk, "rb").read()
        for what, path in [("missing directory", "/nonexistent-dir/x.db"),
                           ("a directory", tmp),
                           ("random bytes", junk)]:
            rc, out, err = run_fail(exe, ["--port", "0", "--db", path])
            assert_one_line_error(what, rc, out, err, want_rc=1)
        assert open(junk, "rb").read() == before, "the non-database file was modified"


def write_bad_fixture(path):
    with open(DEMO_FIXTURE) as f:
        doc = json.load(f)
    doc["orgs"][0]["contacts"][0]["channels"][0]["type"] = "fax"
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)


@case("binary@bad-fixture-exits-with-message")
def bad_fixture_exits_with_message(exe):
    with tempfile.TemporaryDirectory() as tmp:
        fx = os.path.join(tmp, "bad.json")
        write_bad_fixture(fx)
        db = os.path.join(tmp, "t.db")
        rc, out, err = run_fail(exe, ["--port", "0", "--db", db, "--fixtures", fx])
        assert_one_line_error("bad fixture", rc, out, err, want_rc=1)
        want = '%s: orgs[0].contacts[0].channels[0].type: "fax" is not a channel type' % fx
        assert want in err, "want %r in %r" % (want, err)
        assert "ready" not in out

        # Through the variable as well.
        rc, out, err = run_fail(exe, ["--port", "0", "--db", db], env={"INVENT_MOCK_FIXTURES": fx})
        assert_one_line_error("bad fixture (env)", rc, out, err, want_rc=1)
        assert want in err, "want %r in %r" % (want, err)

        # A bad fixture with --reset over a good existing db: nothing served, db kept.
        with server(exe, ["--port", "0", "--db", db]) as s:
            assert patch(s.port, "ct_ada", {"name": "kept"})[0] == 200
            assert s.stop() == 0
        rc, out, err = run_fail(exe, ["--port", "0", "--db", db, "--fixtures", fx, "--reset"])
        assert_one_line_error("bad fixture --reset", rc, out, err, want_rc=1)
        with server(exe, ["--port", "0", "--db", db]) as s:
            assert stored_name(s.port, "ct_ada") == "kept"
            assert s.stop() == 0

        missing = os.path.join(tmp, "no-such-fixture.json")
        rc, out, err = run_fail(exe, ["--port", "0", "--db", os.path.join(tmp, "u.db"),
                                      "--fixtures", missing])
        assert_one_line_error("missing fixture", rc, out, err, want_rc=1)
        assert missing in err, err


@case("binary@state-kept-across-restart")
def state_kept_across_restart(exe):
    with tempfile.TemporaryDirectory() as tmp:
        s, port = start_server(exe, tmp)
        try:
            st, body, _ = patch(port, "ct_ada", {"name": "Countess"})
            assert st == 200 and body["name"] == "Countess", (st, body)
            assert s.stop(signal.SIGTERM) == 0
        finally:
            s.kill()
        s, port = start_server(exe, tmp)
        try:
            assert stored_name(port, "ct_ada") == "Countess"
            assert s.stop(signal.SIGINT) == 0
        finally:
            s.kill()
        s, port = start_server(exe, tmp, ["--reset"])
        try:
            assert stored_name(port, "ct_ada") == demo_names()["ct_ada"] == "Ada Lovelace"
            assert s.stop() == 0
        finally:
            s.kill()


MINE_FIXTURE = {"orgs": [{"id": "org_mine", "api_keys": ["sk_mine"],
                          "contacts": [{"id": "ct_mine", "name": "Mine",
                                        "created_at": "2024-01-01T00:00:00.000Z"}]}]}


def served(port, key):
    """(health's fixtures and fixtures_hash, the ids of the contacts key lists)."""
    st, health, _ = request(port, "GET", "/__admin/health")
    assert st == 200, (st, health)
    st, contacts, _ = request(port, "GET", "/orgs/c/contacts", headers={"Authorization": "Bearer " + key})
    ids = [c["id"] for c in contacts] if st == 200 else st
    return health["fixtures"], health["fixtures_hash"], ids


@case("binary@fixtures-over-other-database-are-loaded")
def fixtures_over_other_database_are_loaded(exe):
    """A database made from the demo data, started with other fixtures, serves
    those fixtures (and health says so); the same fixtures again keep the state."""
    with tempfile.TemporaryDirectory() as tmp:
        mine = os.path.join(tmp, "mine.json")
        with open(mine, "w") as f:
            json.dump(MINE_FIXTURE, f)
        db = os.path.join(tmp, "x.db")
        with server(exe, ["--port", "0", "--db", db]) as s:
            demo_source, demo_hash, _ = served(s.port, KEY)
            assert s.stop() == 0
        with server(exe, ["--port", "0", "--db", db, "--fixtures", mine]) as s:
            source, hash_, ids = served(s.port, "sk_mine")
            assert (source, ids) == (mine, ["ct_mine"]), (source, ids)
            assert hash_ != demo_hash
            st, _, _ = request(s.port, "GET", "/orgs/c/contacts")
            assert st == 401, st
            assert patch_with(s.port, "sk_mine", "ct_mine", {"name": "Edited"}) == 200
            assert s.stop() == 0
            s.join_readers()
            assert any("loading %s over it" % mine in l for l in s.stderr_lines), s.stderr_lines
        # The same file again: the state is kept, and nothing is said.
        with server(exe, ["--port", "0", "--db", db, "--fixtures", mine]) as s:
            st, body, _ = request(s.port, "PATCH", "/orgs/c/contacts/ct_mine", {},
                                  headers={"Authorization": "Bearer sk_mine"})
            assert (st, body["name"]) == (200, "Edited"), (st, body)
            # reset goes back to what is served, not to something else.
            assert request(s.port, "POST", "/__admin/reset")[0] == 200
            assert served(s.port, "sk_mine")[2] == ["ct_mine"]
            assert s.stop() == 0
            s.join_readers()
            assert not any("over it" in l for l in s.stderr_lines), s.stderr_lines
        # And back to the built-in demo without --fixtures.
        with server(exe, ["--port", "0", "--db", db]) as s:
            source, hash_, ids = served(s.port, KEY)
            assert (source, hash_) == (demo_source, demo_hash)
            assert "ct_ada" in ids
            assert s.stop() == 0


def patch_with(port, key, contact, body):
    return request(port, "PATCH", "/orgs/c/contacts/" + contact, body,
                   headers={"Authorization": "Bearer " + key})[0]


def keep_alive_get(sock):
    """One GET /__admin/clock on sock, answer read whole; the connection stays open."""
    sock.sendall(b"GET /__admin/clock HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "closed before answering: %r" % data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)content-length: *(\d+)", head)
    need = int(m.group(1))
    while len(rest) < need:
        chunk = sock.recv(4096)
        assert chunk
        rest += chunk
    return head.split(b"\r\n")[0]


@case("binary@over-max-connections-closed-at-once")
def over_max_connections_closed_at_once(exe):
    """With --max-connections 2 and two connections open, a third is closed at
    once (reset or end of file), not left waiting for a slot; once one of the
    two closes, a new connection is served."""
    with server(exe, ["--port", "0", "--db", ":memory:", "--max-connections", "2"]) as s:
        held = [socket.create_connection(("127.0.0.1", s.port), timeout=10) for _ in range(2)]
        try:
            for h in held:
                assert keep_alive_get(h) == b"HTTP/1.1 200 OK"
            third = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            try:
                try:
                    third.sendall(b"GET /__admin/clock HTTP/1.1\r\nHost: x\r\n\r\n")
                    got = third.recv(4096)
                except (ConnectionResetError, BrokenPipeError):
                    got = b""
                except socket.timeout:
                    raise AssertionError("a connection over the limit hangs")
                assert got == b"", got
            finally:
                third.close()
            held.pop().close()
            # The server sees that close on its own time: a bounded number of tries.
            for attempt in range(100):
                c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
                try:
                    try:
                        if keep_alive_get(c) == b"HTTP/1.1 200 OK":
                            break
                    except (AssertionError, ConnectionResetError, BrokenPipeError):
                        time.sleep(0.05)
                finally:
                    c.close()
            else:
                raise AssertionError("no slot after a connection closed")
        finally:
            for h in held:
                h.close()
        assert s.stop() == 0


@case("binary@sigterm-finishes-in-flight")
def sigterm_finishes_in_flight(exe):
    contacts = demo_contact_ids(n=6)
    names = demo_names()
    rnd = random.Random()
    # Several rounds, with one HTTP thread and with several: the stop races the
    # clients' next request on their keep-alive connections.
    for round_no, threads in enumerate(["1", "4", "1", "4", "1", "4"]):
        with tempfile.TemporaryDirectory() as tmp:
            s, port = start_server(exe, tmp, ["--log", "off", "--threads", threads])
            writers = []
            try:
                writers = [Writer(port, contacts[i::3], "w%d" % i) for i in range(3)]
                for w in writers:
                    w.start()
                time.sleep(rnd.uniform(0.1, 0.4))
                t0 = time.monotonic()
                rc = s.stop(signal.SIGTERM, timeout=5)
                took = time.monotonic() - t0
                assert took < 5, took
                for w in writers:
                    w.halt.set()
                    w.join(10)
                    assert not w.is_alive(), "a writer hangs after the server stopped"
            finally:
                for w in writers:
                    w.halt.set()
                s.kill()
            total = sum(w.n_ok for w in writers)
            assert total > 0, "no PATCH was acknowledged before SIGTERM"
            for w in writers:
                assert not [u for u in w.unexpected if len(u) == 3], w.unexpected
            print("round %d (--threads %s): %d PATCHes acknowledged, stopped in %.0f ms"
                  % (round_no, threads, total, took * 1000))
            # What was acknowledged is stored, whatever the exit; then the exit code.
            stopped = s
            s, port = start_server(exe, tmp, ["--log", "off"])
            try:
                check_writers(port, writers, {c: names[c] for c in contacts})
                assert s.stop() == 0
            finally:
                s.kill()
            rc = stopped.proc.returncode
            assert rc == 0, ("round %d (--threads %s): exit %d on SIGTERM with requests in "
                             "flight; stderr %r" % (round_no, threads, rc, stopped.stderr_lines))


@case("binary@kill-9-keeps-acknowledged-writes")
def kill_9_keeps_acknowledged_writes(exe):
    kill_9_rounds(exe, 5, [])


@case("binary@kill-9-keeps-acknowledged-writes-sync-full")
def kill_9_keeps_acknowledged_writes_sync_full(exe):
    """The same with --sync full (synchronous=FULL: the WAL is synced at every
    commit, after walbuf.c's one write)."""
    kill_9_rounds(exe, 2, ["--sync", "full"])


def kill_9_rounds(exe, rounds, extra):
    contacts = demo_contact_ids(n=8)
    assert "ct_ada" in contacts
    names = demo_names()
    before = {c: names[c] for c in contacts}
    rnd = random.Random()
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "k.db")
        for rnd_no in range(rounds):
            s = Server(exe, ["--port", "0", "--db", db, "--log", "off", "--threads", "4"] + extra)
            writers = []
            try:
                s.wait_ready()
                # On restart, the previous round's state is there before anything is written.
                for c in contacts:
                    assert stored_name(s.port, c) == before[c], (rnd_no, c)
                writers = [Writer(s.port, contacts[i::4], "r%dw%d" % (rnd_no, i)) for i in range(4)]
                for w in writers:
                    w.start()
                delay = rnd.uniform(0.1, 0.5)
                time.sleep(delay)
                rc = s.stop(signal.SIGKILL)
                assert rc == -signal.SIGKILL, rc
                for w in writers:
                    w.join(10)
                    assert not w.is_alive(), "a writer hangs after kill -9"
            finally:
                for w in writers:
                    w.halt.set()
                s.kill()
            n_ok = sum(w.n_ok for w in writers)
            assert n_ok > 0, "round %d: nothing acknowledged in %.0f ms" % (rnd_no, delay * 1000)
            for w in writers:
                assert not [u for u in w.unexpected if len(u) == 3], w.unexpected
            print("round %d: killed after %.0f ms, %d PATCHes acknowledged"
                  % (rnd_no, delay * 1000, n_ok))
            if rnd_no == rounds - 1:
                # Integrity of the file exactly as the kill left it (on a copy, so the
                # server's own recovery is what is tested next).
                copy = os.path.join(tmp, "copy")
                os.mkdir(copy)
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(db + suffix):
                        shutil.copy(db + suffix, os.path.join(copy, "k.db" + suffix))
                con = sqlite3.connect(os.path.join(copy, "k.db"))
                try:
                    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                finally:
                    con.close()
            s = Server(exe, ["--port", "0", "--db", db, "--log", "off"] + extra)
            try:
                s.wait_ready()
                before = check_writers(s.port, writers, before)
                assert s.stop() == 0
            finally:
                s.kill()
        con = sqlite3.connect(db)
        try:
            rows = con.execute("PRAGMA integrity_check").fetchall()
            assert rows == [("ok",)], rows
        finally:
            con.close()


@case("binary@clean-stop-leaves-no-wal")
def clean_stop_leaves_no_wal(exe):
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "invent.db")
        for sig in (signal.SIGTERM, signal.SIGINT):
            s, port = start_server(exe, tmp, ["--log", "off"])
            try:
                for i in range(50):
                    assert patch(port, "ct_ada", {"name": "n%d" % i})[0] == 200
                assert os.path.exists(db + "-wal") and os.path.getsize(db + "-wal") > 0, \
                    "expected a WAL while running (journal_mode=WAL)"
                assert s.stop(sig) == 0
            finally:
                s.kill()
            wal = db + "-wal"
            assert not os.path.exists(wal) or os.path.getsize(wal) == 0, \
                "after %s the WAL holds %d bytes" % (sig.name, os.path.getsize(wal))
        con = sqlite3.connect(db)
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            con.close()


@case("binary@starts-quickly")
def starts_quickly(exe):
    with tempfile.TemporaryDirectory() as tmp:
        times = []
        for label in ("fresh db", "existing db"):
            s = Server(exe, ["--port", "0", "--db", os.path.join(tmp, "q.db"), "--log", "off"])
            try:
                s.wait_ready(timeout=10)
                ms = (s.t_ready - s.t_exec) * 1000
                times.append(ms)
                print("exec to ready (%s): %.1f ms" % (label, ms))
                assert s.stop() == 0
            finally:
                s.kill()
        assert max(times) < 5000, times


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in CASES:
        sys.exit("usage: test_binary.py CASE EXE; cases: " + " ".join(CASES))
    CASES[sys.argv[1]](os.path.abspath(sys.argv[2]) if os.sep in sys.argv[2] else sys.argv[2])
