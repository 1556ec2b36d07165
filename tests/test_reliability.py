#!/usr/bin/env python3
"""Reliability tests of the invent-mock binary: many clients on one file, kill -9
rounds, start/stop cycles, SIGTERM under load, corrupt databases.
Run as: test_reliability.py CASE PATH/TO/invent-mock

Each case is quick (well under 20 s). Standard library only. Every process a case
starts is stopped by its own PID in a finally block; every wait is bounded; all
traffic goes to 127.0.0.1."""
import contextlib
import http.client
import json
import os
import queue
import random
import shutil
import signal
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
ORG = "org_demo"


def case(name):
    def register(fn):
        CASES[name] = fn
        return fn
    return register


# ---------------------------------------------------------------- helpers

@contextlib.contextmanager
def server(exe, args, env=None):
    """Starts invent-mock, waits for the ready line, and always kills that one
    process (by PID) on the way out."""
    s = Server(exe, args, env)
    try:
        s.wait_ready()
        yield s
    finally:
        s.kill()


def request(port, method, path, body=None, headers=None, timeout=5.0):
    """Returns (status, parsed JSON body or raw text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {"Authorization": "Bearer " + KEY}
        if body is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        data = None if body is None else json.dumps(body)
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        raw = r.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return r.status, parsed
    finally:
        conn.close()


def admin_contact(port, contact, org=ORG):
    """The stored contact, read through the admin API (no key needed)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/__admin/orgs/%s/contacts/%s" % (org, contact))
        r = conn.getresponse()
        raw = r.read()
        assert r.status == 200, (contact, r.status, raw[:200])
        return json.loads(raw)
    finally:
        conn.close()


def demo_contacts(org=ORG):
    """{contact id: fixture name} of one fixture org, in file order."""
    with open(DEMO_FIXTURE) as f:
        doc = json.load(f)
    for o in doc["orgs"]:
        if o["id"] == org:
            return {c["id"]: c.get("name") for c in o["contacts"]}
    raise AssertionError("no org " + org)


def integrity(path):
    """PRAGMA integrity_check of a database file, as a list of result strings."""
    con = sqlite3.connect(path, timeout=5)
    try:
        return [r[0] for r in con.execute("PRAGMA integrity_check").fetchall()]
    finally:
        con.close()


def assert_integrity(path, what=""):
    rows = integrity(path)
    assert rows == ["ok"], "%s: integrity_check of %s: %r" % (what, path, rows[:10])


def flag_invariants(c, what=""):
    """blocked_at is set iff blocked; unsubscribed_at iff unsubscribed."""
    assert isinstance(c["blocked"], bool) and isinstance(c["unsubscribed"], bool), (what, c)
    assert (c["blocked_at"] is None) == (not c["blocked"]), \
        "%s: %s blocked=%r blocked_at=%r" % (what, c["id"], c["blocked"], c["blocked_at"])
    assert (c["unsubscribed_at"] is None) == (not c["unsubscribed"]), \
        "%s: %s unsubscribed=%r unsubscribed_at=%r" % (what, c["id"], c["unsubscribed"],
                                                       c["unsubscribed_at"])


def patch_headers():
    return {"Authorization": "Bearer " + KEY, "Content-Type": "application/json"}


class Writer(threading.Thread):
    """Sends PATCH {"name": ...} to its own contacts in turn over one keep-alive
    connection, until halted or the server goes away. For each contact it records
    every value sent, in order, and the index of the last acknowledged (200) one."""

    def __init__(self, port, contacts, tag):
        super().__init__(daemon=True)
        self.port = port
        self.contacts = contacts
        self.tag = tag
        self.sent = {c: [] for c in contacts}
        self.acked = {c: None for c in contacts}
        self.n_ok = 0
        self.n_5xx = 0
        self.error = None
        self.wrong = []  # a 200 whose name is not the value sent, or a non-5xx error
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
                             headers=patch_headers())
                r = conn.getresponse()
                raw = r.read()
                if r.status == 200:
                    got = json.loads(raw)["name"]
                    if got != value:
                        self.wrong.append((c, value, got))
                    self.acked[c] = len(self.sent[c]) - 1
                    self.n_ok += 1
                else:
                    # A 503 while the server stops is not an acknowledgement.
                    if r.status >= 500:
                        self.n_5xx += 1
                    else:
                        self.wrong.append((c, value, r.status, raw[:200]))
                    if r.will_close:
                        conn.close()
                        conn = None
        except (OSError, http.client.HTTPException) as e:
            self.error = e  # the server went away
        finally:
            if conn is not None:
                conn.close()

    def allowed(self, contact, before):
        """Names the contact may hold now: the last acknowledged one or any sent
        after it (a write may commit without its answer arriving); with nothing
        acknowledged, also what it held before."""
        sent = self.sent[contact]
        a = self.acked[contact]
        if a is None:
            return [before] + sent
        return sent[a:]


def check_writers(port, writers, before, what):
    """Each contact's stored name (admin API) against its writer's record; returns
    {contact: stored name}."""
    now = {}
    for w in writers:
        for c in w.contacts:
            stored = admin_contact(port, c)
            name = stored["name"]
            ok = w.allowed(c, before[c])
            last = w.sent[c][w.acked[c]] if w.acked[c] is not None else None
            assert name in ok, ("%s: %s stored %r; last acknowledged %r; %d sent after it"
                                % (what, c, name, last, len(ok) - 1))
            flag_invariants(stored, what)
            now[c] = name
    return now


# ---------------------------------------------------------------- cases

@case("reliability@32-clients-no-lost-update")
def clients_32_no_lost_update(exe, seconds=5.0, n_threads=32):
    fixture = demo_contacts()
    contacts = list(fixture)
    owner = {c: i % n_threads for i, c in enumerate(contacts)}
    last_acked = {c: fixture[c] for c in contacts}  # written by the owner thread only
    lock = threading.Lock()
    counts = {}
    problems = []

    def client(tid, port, deadline):
        rnd = random.Random(tid)
        mine = [c for c in contacts if owner[c] == tid]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        n = 0
        local = {}
        try:
            while time.monotonic() < deadline:
                # Half the requests go to an owned contact (with a new name), the
                # rest toggle the flags of any contact.
                if mine and n % 2 == 0:
                    c = mine[(n // 2) % len(mine)]
                else:
                    c = rnd.choice(contacts)
                body = {}
                if owner[c] == tid:
                    body["name"] = "t%d-n%d" % (tid, n)
                k = rnd.randrange(3)
                if k != 1:
                    body["blocked"] = rnd.random() < 0.5
                if k != 0:
                    body["unsubscribed"] = rnd.random() < 0.5
                n += 1
                conn.request("PATCH", "/orgs/c/contacts/" + c, body=json.dumps(body),
                             headers=patch_headers())
                r = conn.getresponse()
                raw = r.read()
                local[r.status] = local.get(r.status, 0) + 1
                if r.status != 200:
                    problems.append((c, body, r.status, raw[:200]))
                    if r.will_close:
                        conn.close()
                    continue
                got = json.loads(raw)
                try:
                    flag_invariants(got, "answer")
                    for k2, v in body.items():
                        assert got[k2] == v, ("answer", c, body, got)
                except AssertionError as e:
                    problems.append(str(e))
                if "name" in body:
                    last_acked[c] = body["name"]  # only this thread writes c's name
        except Exception as e:  # noqa: BLE001 - recorded and failed below
            problems.append("thread %d: %r" % (tid, e))
        finally:
            conn.close()
            with lock:
                for st, v in local.items():
                    counts[st] = counts.get(st, 0) + v

    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "c32.db")
        s = Server(exe, ["--port", "0", "--db", db, "--log", "off", "--threads", "4"])
        try:
            s.wait_ready()
            t0 = time.monotonic()
            threads = [threading.Thread(target=client, args=(i, s.port, t0 + seconds), daemon=True)
                       for i in range(n_threads)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(seconds + 30)
            took = time.monotonic() - t0
            assert not any(t.is_alive() for t in threads), "a client thread hangs"
            total = sum(counts.values())
            print("32 clients, %.1f s: %d PATCHes, %.0f requests/s; statuses %r"
                  % (took, total, total / took, dict(sorted(counts.items()))))
            assert not problems, "%d problems, first: %r" % (len(problems), problems[:5])
            assert not [st for st in counts if st >= 500], counts
            assert set(counts) == {200}, counts
            n_named = 0
            for c in contacts:
                stored = admin_contact(s.port, c)
                assert stored["name"] == last_acked[c], \
                    "%s: stored name %r, its owner's last acknowledged %r" % (
                        c, stored["name"], last_acked[c])
                flag_invariants(stored, "stored")
                n_named += last_acked[c] != fixture[c]
            print("%d contacts checked, %d renamed by their owner; blocked_at/unsubscribed_at"
                  " consistent" % (len(contacts), n_named))
            rc = s.stop(signal.SIGTERM)
            assert rc == 0, (rc, s.stderr_lines[-5:])
        finally:
            s.kill()
        assert_integrity(db, "after SIGTERM")
        print("integrity_check: ok")


@case("reliability@kill-9-rounds")
def kill_9_rounds(exe, rounds=20):
    fixture = demo_contacts()
    contacts = list(fixture)[:12]
    before = {c: fixture[c] for c in contacts}
    rnd = random.Random()
    t_start = time.monotonic()
    total_acked = 0
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "k9.db")
        prev = None  # (writer, names before it) of the previous round
        for r in range(rounds + 1):
            s = Server(exe, ["--port", "0", "--db", db, "--log", "off", "--threads", "2"])
            w = None
            try:
                s.wait_ready()
                # The previous round's acknowledged writes survived the kill.
                if prev is not None:
                    before = check_writers(s.port, [prev], before, "round %d" % (r - 1))
                if r == rounds:
                    assert s.stop() == 0
                    break
                w = Writer(s.port, contacts, "r%d" % r)
                w.start()
                # The delay runs from the first acknowledgement (see test_binary.py's
                # kill_9_rounds): a loaded machine may take longer than it to answer.
                first_ack = time.monotonic() + 10
                while w.n_ok == 0 and time.monotonic() < first_ack:
                    time.sleep(0.005)
                delay = rnd.uniform(0.05, 0.3)
                time.sleep(delay)
                rc = s.stop(signal.SIGKILL)
                assert rc == -signal.SIGKILL, rc
                w.join(10)
                assert not w.is_alive(), "the writer hangs after kill -9"
            finally:
                if w is not None:
                    w.halt.set()
                s.kill()
            assert not w.wrong, w.wrong[:5]
            total_acked += w.n_ok
            # Integrity while the server is down: on even rounds of a copy of the
            # files as the kill left them (so the server's own WAL recovery is what
            # the next round reads), on odd rounds of the file itself.
            if r % 2 == 0:
                copy = os.path.join(tmp, "copy%d" % r)
                os.mkdir(copy)
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(db + suffix):
                        shutil.copy(db + suffix, os.path.join(copy, "k9.db" + suffix))
                assert_integrity(os.path.join(copy, "k9.db"), "round %d (copy)" % r)
                shutil.rmtree(copy)
            else:
                assert_integrity(db, "round %d" % r)
            print("round %2d: killed %3.0f ms in, %4d PATCHes acknowledged, %d 5xx, "
                  "integrity ok (%s)" % (r, delay * 1000, w.n_ok, w.n_5xx,
                                         "copy" if r % 2 == 0 else "file"))
            assert w.n_ok > 0, "round %d: nothing acknowledged in 10 s" % r
            prev = w
        assert_integrity(db, "end")
    print("%d rounds, %d acknowledged writes, %.1f s" % (rounds, total_acked,
                                                        time.monotonic() - t_start))


@case("reliability@50-start-stop-cycles")
def start_stop_cycles(exe, cycles=50):
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "cycles.db")
        expect = demo_contacts()["ct_ada"]
        ports = set()
        for i in range(cycles):
            s = Server(exe, ["--port", "0", "--db", db, "--log", "off"])
            try:
                s.wait_ready()
                ports.add(s.port)
                got = admin_contact(s.port, "ct_ada")["name"]
                assert got == expect, "cycle %d: ct_ada is %r, want %r" % (i, got, expect)
                for k in range(3):
                    value = "cycle%d-%d" % (i, k)
                    st, body = request(s.port, "PATCH", "/orgs/c/contacts/ct_ada", {"name": value})
                    assert st == 200 and body["name"] == value, (i, st, body)
                    expect = value
                st, _ = request(s.port, "PATCH", "/orgs/c/contacts/ct_grace",
                                {"blocked": i % 2 == 0})
                assert st == 200, st
                rc = s.stop(signal.SIGTERM)
                assert rc == 0, "cycle %d: exit %r; stderr %r" % (i, rc, s.stderr_lines[-5:])
            finally:
                s.kill()
            bad = [l for l in s.stderr_lines if "in use" in l.lower()]
            assert not bad, bad
            wal = db + "-wal"
            size = os.path.getsize(wal) if os.path.exists(wal) else None
            assert not size, "cycle %d: the WAL holds %d bytes after SIGTERM" % (i, size)
        assert_integrity(db, "end")
        con = sqlite3.connect(db)
        try:
            name = con.execute("SELECT name FROM contacts WHERE org_id = ? AND id = 'ct_ada'",
                               (ORG,)).fetchone()
        finally:
            con.close()
        assert name == (expect,), (name, expect)
    print("%d cycles in %.1f s, %d distinct ports, every exit 0, no WAL left"
          % (cycles, time.monotonic() - t0, len(ports)))


@case("reliability@sigterm-under-load-exits-0")
def sigterm_under_load(exe):
    fixture = demo_contacts()
    contacts = list(fixture)[:48]
    rnd = random.Random()
    for rnd_no, threads in enumerate(["1", "4", "4"]):
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "st.db")
            s = Server(exe, ["--port", "0", "--db", db, "--log", "off", "--threads", threads])
            writers = []
            try:
                s.wait_ready()
                writers = [Writer(s.port, contacts[i::16], "w%d" % i) for i in range(16)]
                for w in writers:
                    w.start()
                time.sleep(rnd.uniform(0.3, 0.8))
                t_sig = time.monotonic()
                s.send_signal(signal.SIGTERM)
                try:
                    rc = s.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    raise AssertionError("round %d (--threads %s): still running 5 s after SIGTERM "
                                         "under load" % (rnd_no, threads))
                took = time.monotonic() - t_sig
                s.join_readers()
                for w in writers:
                    w.halt.set()
                    w.join(10)
                    assert not w.is_alive(), "a writer hangs after the server stopped"
            finally:
                for w in writers:
                    w.halt.set()
                s.kill()
            acked = sum(w.n_ok for w in writers)
            n5 = sum(w.n_5xx for w in writers)
            print("round %d (--threads %s): 16 connections, %d PATCHes acknowledged, %d 503s, "
                  "exit %d %.0f ms after SIGTERM" % (rnd_no, threads, acked, n5, rc, took * 1000))
            assert rc == 0, "exit %r; stderr %r" % (rc, s.stderr_lines[-5:])
            assert acked > 0
            for w in writers:
                assert not w.wrong, w.wrong[:5]
            with server(exe, ["--port", "0", "--db", db, "--log", "off"]) as s2:
                check_writers(s2.port, writers, fixture, "round %d" % rnd_no)
                assert s2.stop() == 0
            assert_integrity(db, "round %d" % rnd_no)


def run_to_exit(exe, args, timeout=8):
    """Runs the server on something it must refuse. Returns (rc, stdout, stderr);
    if it serves instead (a ready line) or hangs, kills it by PID and fails."""
    p = subprocess.Popen([exe] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=clean_env())
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        out, err = p.communicate(timeout=STOP_TIMEOUT)
        raise AssertionError("%r did not exit within %d s (served it: %r); stderr %r"
                             % (args, timeout, out[:200], err[-300:]))
    finally:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=STOP_TIMEOUT)
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


@case("reliability@corrupt-db-exits-cleanly")
def corrupt_db_exits_cleanly(exe):
    rnd = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        good = os.path.join(tmp, "good.db")
        with server(exe, ["--port", "0", "--db", good, "--log", "off"]) as s:
            for i in range(20):
                assert request(s.port, "PATCH", "/orgs/c/contacts/ct_ada", {"name": "g%d" % i})[0] == 200
            assert s.stop() == 0
        assert_integrity(good, "the good db")
        data = open(good, "rb").read()
        assert data[:16] == b"SQLite format 3\x00", data[:16]
        page = int.from_bytes(data[16:18], "big")
        page = 65536 if page == 1 else page
        n_pages = len(data) // page
        print("good db: %d bytes, page size %d, %d pages" % (len(data), page, n_pages))

        variants = []
        garbage = bytearray(data)
        garbage[page:] = bytes(rnd.randrange(256) for _ in range(len(data) - page))
        variants.append(("garbage pages 2..%d" % n_pages, bytes(garbage)))
        variants.append(("truncated to 50 bytes", data[:50]))
        variants.append(("truncated to 1 page", data[:page]))
        variants.append(("truncated to half", data[:(n_pages // 2) * page]))
        variants.append(("truncated mid-page", data[:len(data) - page - page // 2]))
        failures = []
        for what, blob in variants:
            path = os.path.join(tmp, "bad.db")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.unlink(path + suffix)
            with open(path, "wb") as f:
                f.write(blob)
            try:
                rc, out, err = run_to_exit(exe, ["--port", "0", "--db", path, "--log", "off"])
            except AssertionError as e:
                failures.append("%s: %s" % (what, e))
                print("%-24s -> served or hung" % what)
                continue
            print("%-24s -> exit %d, stderr %r" % (what, rc, err.strip()[:160]))
            if rc < 0:
                failures.append("%s: killed by signal %d; stderr %r" % (what, -rc, err[-300:]))
            elif rc == 0:
                failures.append("%s: exit 0; stdout %r" % (what, out[:200]))
            elif not (err.endswith("\n") and err.count("\n") == 1 and err.startswith("invent-mock: ")):
                failures.append("%s: stderr is not one 'invent-mock: ' line: %r" % (what, err[-300:]))
            elif out:
                failures.append("%s: printed to stdout: %r" % (what, out[:200]))
        assert not failures, "\n".join(failures)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in CASES:
        sys.exit("usage: test_reliability.py CASE EXE; cases: " + " ".join(CASES))
    CASES[sys.argv[1]](os.path.abspath(sys.argv[2]) if os.sep in sys.argv[2] else sys.argv[2])
