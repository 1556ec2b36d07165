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
import selectors
import shutil
import signal
import socket
import sqlite3
import struct
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
    """Sends PATCH {"name": ...} to its own contacts over one keep-alive connection,
    in turn (or picked by rng, a random.Random), until stopped or the server goes
    away: as a thread of its own (start()), or driven with others from one thread
    by drive_writers(). For each contact it records every value sent (in order)
    and the last acknowledged (200) one, then calls on_ack() if given. A contact
    must have one writer only: two writers' answers may arrive in another order
    than their commits."""

    def __init__(self, port, contacts, tag, key=KEY, rng=None, on_ack=None):
        super().__init__(daemon=True)
        self.port = port
        self.contacts = contacts
        self.tag = tag
        self.key = key
        self.rng = rng
        self.on_ack = on_ack
        self.sent = {c: [] for c in contacts}
        self.acked = {c: None for c in contacts}  # index into sent[c] of the last 200
        self.n_ok = 0
        self.n_sent = 0
        self.error = None
        self.unexpected = []
        self.halt = threading.Event()

    def next_patch(self):
        """Picks the next contact and value and records the value as sent; returns
        (contact, value, body)."""
        if self.rng is None:
            c = self.contacts[self.n_sent % len(self.contacts)]
        else:
            c = self.rng.choice(self.contacts)
        value = "%s-v%d" % (self.tag, self.n_sent)
        self.n_sent += 1
        self.sent[c].append(value)
        return c, value, json.dumps({"name": value})

    def answered(self, c, value, status, raw):
        """Records the answer to the PATCH of value to c."""
        if status == 200:
            got = json.loads(raw)["name"]
            if got != value:
                self.unexpected.append((c, value, got))
            self.acked[c] = len(self.sent[c]) - 1
            self.n_ok += 1
            if self.on_ack is not None:
                self.on_ack()
        else:
            # 503 while stopping is acceptable (not acknowledged); keep note.
            self.unexpected.append((c, value, status, raw[:200]))

    def run(self):
        conn = None
        try:
            while not self.halt.is_set():
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c, value, body = self.next_patch()
                conn.request("PATCH", "/orgs/c/contacts/" + c, body=body,
                             headers={"Authorization": "Bearer " + self.key,
                                      "Content-Type": "application/json"})
                r = conn.getresponse()
                self.answered(c, value, r.status, r.read())
                if r.status != 200 and r.will_close:
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


def drive_writers(port, writers, timeout):
    """Runs the (not started) writers from this thread, one connection each,
    through a selector, until every connection is closed (the server went away)
    or timeout seconds have passed (then fails). Sixty-four Writer threads keep
    the server's batches to a few PATCHes (the GIL lets them send one by one);
    from one thread, many a batch holds most of the 64."""
    sel = selectors.DefaultSelector()
    conns = []

    def send_next(st):
        c, value, body = st["w"].next_patch()
        body = body.encode()
        st["req"] = (c, value)
        st["out"] = (("PATCH /orgs/c/contacts/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %d\r\n\r\n" % (c, st["w"].key, len(body))).encode()
                     + body)
        sel.modify(st["sock"], selectors.EVENT_READ | selectors.EVENT_WRITE, st)

    def close(st, e=None):
        st["w"].error = e
        sel.unregister(st["sock"])
        st["sock"].close()
        conns.remove(st)

    try:
        for w in writers:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.setblocking(False)
            st = {"w": w, "sock": sock, "in": b"", "out": b"", "req": None}
            sel.register(sock, selectors.EVENT_READ, st)
            conns.append(st)
        for st in conns:
            send_next(st)
        deadline = time.monotonic() + timeout
        while conns:
            if time.monotonic() > deadline:
                raise AssertionError("the connections were still open after %.0f s" % timeout)
            for key, events in sel.select(timeout=1):
                st = key.data
                try:
                    if events & selectors.EVENT_WRITE and st["out"]:
                        st["out"] = st["out"][st["sock"].send(st["out"]):]
                        if not st["out"]:
                            sel.modify(st["sock"], selectors.EVENT_READ, st)
                    if events & selectors.EVENT_READ:
                        data = st["sock"].recv(65536)
                        if not data:
                            close(st)
                            continue
                        st["in"] += data
                        answer = take_answer(st)
                        if answer is not None:
                            st["w"].answered(*st["req"], *answer)
                            send_next(st)
                except OSError as e:
                    close(st, e)  # the server went away: expected
    finally:
        for st in list(conns):
            sel.unregister(st["sock"])
            st["sock"].close()
        sel.close()


def take_answer(st):
    """(status, body) of the whole answer at the start of st["in"], which it
    removes; None while the answer is incomplete. Only Content-Length framing:
    the server frames every answer so."""
    head_end = st["in"].find(b"\r\n\r\n")
    if head_end < 0:
        return None
    lines = st["in"][:head_end].decode("latin-1").split("\r\n")
    length = None
    for line in lines[1:]:
        name, _, v = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(v)
    assert length is not None, "an answer without Content-Length: %r" % lines
    if len(st["in"]) < head_end + 4 + length:
        return None
    body = st["in"][head_end + 4:head_end + 4 + length]
    st["in"] = st["in"][head_end + 4 + length:]
    return int(lines[0].split()[1]), body


def check_writers(port, writers, before, stored=None):
    """Checks each contact's stored name (read through the API, or taken from the
    dict stored) against what its writer recorded; returns the stored names."""
    now = {}
    for w in writers:
        for c in w.contacts:
            name = stored[c] if stored is not None else stored_name(port, c)
            ok = w.allowed(c, before[c])
            assert name in ok, ("%s: stored %r; last acknowledged %r; allowed %r"
                                % (c, name, (w.sent[c][w.acked[c]] if w.acked[c] is not None
                                             else None), ok[:5]))
            now[c] = name
    return now


def copy_db(db, dest):
    """Copies a database with its -wal and -shm (those that exist) into the new
    directory dest, under the same base name; returns the copy's path. Opening the
    copy recovers its WAL there, leaving the original as it was."""
    os.mkdir(dest)
    copy = os.path.join(dest, os.path.basename(db))
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            shutil.copy(db + suffix, copy + suffix)
    return copy


def integrity_check(path):
    """PRAGMA integrity_check of a database file, as a list of result strings;
    a file SQLite cannot even check gives its error instead."""
    con = sqlite3.connect(path)
    try:
        return [r[0] for r in con.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.DatabaseError as e:
        return ["sqlite3.DatabaseError: %s" % e]
    finally:
        con.close()


WAL_HEADER = 32
WAL_FRAME_HEADER = 24


def wal_restarts(db):
    """The checkpoint sequence number in the WAL's header: SQLite adds one each
    time a writer starts the WAL again from its beginning, which it does only
    once a checkpoint has copied every frame back. 0 without a WAL header (a
    clean stop truncates the WAL, and a new one starts counting from 0)."""
    try:
        with open(db + "-wal", "rb") as f:
            head = f.read(WAL_HEADER)
    except FileNotFoundError:
        return 0
    return struct.unpack(">I", head[12:16])[0] if len(head) == WAL_HEADER else 0


def wal_state(db):
    """The WAL as it is: {"bytes": its size, "frames", "commits": the frames of its
    current generation (from its start, those whose salts match its header, as a
    recovery reads them, checksums aside) and how many of them end a transaction,
    "restarts": wal_restarts(db), "page_size"}."""
    try:
        with open(db + "-wal", "rb") as f:
            data = f.read()
    except FileNotFoundError:
        data = b""
    state = {"bytes": len(data), "frames": 0, "commits": 0, "restarts": 0, "page_size": 0}
    if len(data) < WAL_HEADER:
        return state
    page_size, restarts, salt1, salt2 = struct.unpack(">4I", data[8:24])
    state.update(page_size=page_size, restarts=restarts)
    frame = WAL_FRAME_HEADER + page_size
    off = WAL_HEADER
    while off + frame <= len(data):
        _, db_size, s1, s2 = struct.unpack(">4I", data[off:off + 16])
        if (s1, s2) != (salt1, salt2):
            break
        state["frames"] += 1
        state["commits"] += db_size != 0
        off += frame
    return state


def store_checkpoint_pages():
    """STORE_CHECKPOINT_PAGES from server/store_thread.c, so this test follows it."""
    with open(os.path.join(HERE, "..", "server", "store_thread.c")) as f:
        m = re.search(r"STORE_CHECKPOINT_PAGES\s*=\s*(\d+)", f.read())
    assert m, "STORE_CHECKPOINT_PAGES not found in server/store_thread.c"
    return int(m.group(1))


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
        # Without --fixtures nothing but the database was asked for: it is not
        # replaced by the built-in demo, the start is refused and says why.
        rc, out, err = run_fail(exe, ["--port", "0", "--db", db])
        assert_one_line_error("database of other fixtures", rc, out, err, want_rc=1)
        assert ("holds data loaded from %s" % mine) in err and "--fixtures %s" % mine in err, err
        with server(exe, ["--port", "0", "--db", db, "--fixtures", mine]) as s:
            assert served(s.port, "sk_mine")[2] == ["ct_mine"]
            assert s.stop() == 0
        # --reset is the way back to the built-in demo.
        with server(exe, ["--port", "0", "--db", db, "--reset"]) as s:
            source, hash_, ids = served(s.port, KEY)
            assert (source, hash_) == (demo_source, demo_hash)
            assert "ct_ada" in ids
            assert s.stop() == 0


def patch_with(port, key, contact, body):
    return request(port, "PATCH", "/orgs/c/contacts/" + contact, body,
                   headers={"Authorization": "Bearer " + key})[0]


def keep_alive_get(sock):
    """One GET /__admin/clock on sock, answer read whole; the connection stays open."""
    sock.sendall(b"GET /__admin/clock HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
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
                    third.sendall(b"GET /__admin/clock HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
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
                # The random delay runs from the first acknowledgement, not from the
                # start: on a loaded machine the writers' first answers may take longer
                # than the whole delay, and a round that acknowledged nothing tests nothing.
                first_ack = time.monotonic() + 10
                while sum(w.n_ok for w in writers) == 0 and time.monotonic() < first_ack:
                    time.sleep(0.005)
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
            assert n_ok > 0, "round %d: nothing acknowledged in 10 s" % rnd_no
            for w in writers:
                assert not [u for u in w.unexpected if len(u) == 3], w.unexpected
            print("round %d: killed after %.0f ms, %d PATCHes acknowledged"
                  % (rnd_no, delay * 1000, n_ok))
            if rnd_no == rounds - 1:
                # Integrity of the file exactly as the kill left it (on a copy, so the
                # server's own recovery is what is tested next).
                rows = integrity_check(copy_db(db, os.path.join(tmp, "copy")))
                assert rows == ["ok"], rows
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


MAKE_FIXTURE = os.path.join(HERE, "..", "bench", "make_fixture.py")
BIG_CONTACTS = 10000
BIG_KEY = "sk_bench"
BIG_WRITERS = 64


@case("binary@kill-9-keeps-acknowledged-writes-10k-contacts")
def kill_9_keeps_acknowledged_writes_10k_contacts(exe):
    """The size where walbuf.c lost a batch (445c349): 64 connections PATCHing
    random contacts of 10,000, so that a batch spans many pages, each round
    started on an empty WAL and killed within a few hundred PATCHes, before the
    WAL reaches the checkpointer's threshold (as a rule: printed, not asserted)."""
    kill_9_big_rounds(exe, 20, checkpoints=False)


@case("binary@kill-9-keeps-acknowledged-writes-while-checkpointing")
def kill_9_keeps_acknowledged_writes_while_checkpointing(exe):
    """The same, each round going on until a checkpoint round has started the WAL
    again, then killed a random number of PATCHes later (which may be in the
    middle of the next checkpoint round)."""
    kill_9_big_rounds(exe, 10, checkpoints=True)


def kill_9_big_rounds(exe, rounds, checkpoints):
    """Rounds of: start on the same --db (the server recovers the WAL the last
    kill left), every contact's name checked against its writer's record (then,
    without checkpoints, a clean stop and a start on the folded file), 64 Writers
    on random contacts of their own share of the 10,000, kill -9 at a random
    moment after some PATCHes were acknowledged, integrity_check of a copy of the
    files as the kill left them. After the last round: start, check, clean stop,
    and the stopped file checked again. The choices come from one seed, printed
    first; INVENT_TEST_SEED repeats them."""
    seed = int(os.environ.get("INVENT_TEST_SEED") or random.SystemRandom().randrange(1 << 32))
    print("seed %d" % seed)
    rnd = random.Random(seed)
    threshold = store_checkpoint_pages()
    t_start = time.monotonic()
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        fixture = os.path.join(tmp, "big.json")
        subprocess.run([sys.executable, MAKE_FIXTURE, "--contacts", str(BIG_CONTACTS),
                        "--out", fixture], check=True, timeout=60)
        with open(fixture) as f:
            before = {c["id"]: c["name"] for c in json.load(f)["orgs"][0]["contacts"]}
        contacts = ["ct_%d" % i for i in range(BIG_CONTACTS)]
        assert sorted(before) == sorted(contacts)
        db = os.path.join(tmp, "big.db")
        # The same --fixtures every start (a database loaded from a fixture
        # file is refused without it); loaded before the first round, so that
        # its writes and checkpoints are not counted in the first round's WAL.
        args = ["--port", "0", "--db", db, "--log", "off", "--fixtures", fixture]
        s = Server(exe, args)
        try:
            s.wait_ready()
            assert s.stop() == 0, s.stderr_lines[-5:]
        finally:
            s.kill()
        writers = []
        for r in range(rounds + 1):
            threads = "4" if r % 3 == 2 else "1"
            sync = "full" if r % 5 == 4 else "normal"
            what = "seed %d, round %d (--threads %s, --sync %s)" % (seed, r, threads, sync)
            s = Server(exe, args + ["--threads", threads, "--sync", sync])
            try:
                s.wait_ready()
                if writers:
                    # What the server recovered, read beside it as any reader of
                    # a WAL database reads (through its WAL index), before any write.
                    before = check_big_round(db, writers, before, "%s, after round %d"
                                             % (what, r - 1))
                    if r == rounds or not checkpoints:
                        # A clean stop folds the WAL back: without checkpoints,
                        # each round starts on an empty one.
                        assert s.stop() == 0, "%s: stop: %r" % (what, s.stderr_lines[-5:])
                        if r == rounds:
                            break
                        s = Server(exe, args + ["--threads", threads, "--sync", sync])
                        s.wait_ready()
                restarts0 = wal_restarts(db)
                # The kill comes right after the target acknowledgement is read,
                # while the other answers of its batch are on their way.
                target = rnd.randint(1, 2500) if checkpoints else rnd.randint(1, 500)
                kill = {"acks": 0, "armed": not checkpoints, "at": None}

                def on_ack():
                    kill["acks"] += 1
                    if not kill["armed"]:
                        # Counted from the first time a checkpoint round has
                        # started the WAL again.
                        if kill["acks"] % 8 == 0 and wal_restarts(db) > restarts0:
                            kill["armed"] = True
                            kill["acks"] = 0
                    elif kill["acks"] >= target and kill["at"] is None:
                        kill["at"] = time.monotonic()
                        s.send_signal(signal.SIGKILL)

                writers = [Writer(s.port, contacts[i::BIG_WRITERS], "r%d-w%d" % (r, i),
                                  key=BIG_KEY, rng=random.Random(rnd.random()), on_ack=on_ack)
                           for i in range(BIG_WRITERS)]
                t0 = time.monotonic()
                drive_writers(s.port, writers, 60)
                rc = s.stop(signal.SIGKILL)
                assert rc == -signal.SIGKILL and kill["at"] is not None, (
                    "%s: exit %r before the kill; stderr %r" % (what, rc, s.stderr_lines[-5:]))
                took = kill["at"] - t0
                # A sanitizer's report in a server that is killed, not stopped,
                # would otherwise go unread (no exit status carries it).
                reports = [l for l in s.stderr_lines if "Sanitizer" in l or "runtime error" in l]
                assert not reports, "%s: %r" % (what, reports[:5])
            finally:
                s.kill()
            n_ok = sum(w.n_ok for w in writers)
            for w in writers:
                assert not [u for u in w.unexpected if len(u) == 3], (what, w.unexpected[:5])
            wal = wal_state(db)
            wal["restarts"] -= restarts0
            killed = os.path.join(tmp, "killed")
            rows = integrity_check(copy_db(db, killed))
            shutil.rmtree(killed)
            assert rows == ["ok"], "%s: integrity_check after the kill: %r" % (what, rows[:10])
            print("round %2d (--threads %s, --sync %-6s): killed %5.0f ms in, %5d PATCHes "
                  "acknowledged; WAL %4d frames in %3d commits, file %5d KiB, started again "
                  "%d times; integrity ok"
                  % (r, threads, sync, took * 1000, n_ok, wal["frames"], wal["commits"],
                     wal["bytes"] // 1024, wal["restarts"]))
            if checkpoints:
                # Only a checkpoint that copied every frame back lets the WAL start
                # again, and the checkpointer starts at the threshold.
                assert wal["restarts"] >= 1, (what, wal)
                frame = WAL_FRAME_HEADER + wal["page_size"]
                assert wal["bytes"] >= WAL_HEADER + threshold * frame, (
                    "%s: the WAL never reached %d pages" % (what, threshold), wal)
            figures.append((n_ok, wal, took))
        # The stopped file holds what the running server served.
        assert check_big_round(db, [], before, "after the clean stop") == before
        rows = integrity_check(db)
        assert rows == ["ok"], rows[:10]
    acks = [f[0] for f in figures]
    frames = [f[1]["frames"] for f in figures]
    print("%d rounds in %.1f s: %d PATCHes acknowledged (%d to %d a round), none lost; WAL at "
          "the kill %d to %d frames (threshold %d), started again %d times in all"
          % (rounds, time.monotonic() - t_start, sum(acks), min(acks), max(acks), min(frames),
             max(frames), threshold, sum(f[1]["restarts"] for f in figures)))


def check_big_round(db, writers, before, what):
    """Reads every contact's name from db (read-only; a running server may hold
    it) and checks it against writers' records, or against before for a contact
    no writer has; returns the names."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        stored = dict(con.execute("SELECT id, name FROM contacts WHERE org_id = ?",
                                  ("org_bench",)))
    finally:
        con.close()
    assert len(stored) == BIG_CONTACTS, (what, len(stored))
    try:
        now = check_writers(None, writers, before, stored)
    except AssertionError as e:
        raise AssertionError("%s: %s" % (what, e)) from None
    for c in set(before) - set(now):
        assert stored[c] == before[c], "%s: %s holds %r, not %r" % (what, c, stored[c], before[c])
        now[c] = stored[c]
    return now


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
