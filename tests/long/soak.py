#!/usr/bin/env python3
"""Soak: a steady mixed load must not make the server's memory grow.
Usage: python3 tests/long/soak.py PATH/TO/invent-mock [--seconds N]  (default 60)

8 client threads (keep-alive connections) each cycle, in a fixed order, through
PATCH a contact, GET the list (take=20), POST a new contact, add a contact to a
segment, and the admin journal count. The server's VmRSS is sampled every second.
After a 10 s warm-up, RSS at the end must be within 2 MiB of RSS right after the
warm-up. Every answer must be the expected 200/201 (no 5xx, no connection error).
Exits non-zero on failure; prints min/max/first/last and the series.

The server runs with --journal-size 1000. The journal keeps every /orgs/ request
with its bodies, so it is the largest consumer of memory and grows until full;
at the load's rate (thousands of requests/s) 1000 entries fill within the first
second of the warm-up, and from then on each new entry replaces the oldest. So
after the warm-up the journal's size is steady, and growth measured after it is
the server's own (with the default 10,000 entries the journal could still be
filling when the measurement starts, and would look like a leak). The fixed order
of requests keeps the mix of entry sizes in the journal steady too.
"""
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

USAGE = "usage: soak.py PATH/TO/invent-mock [--seconds N]"
WARMUP = 10.0
GROWTH_LIMIT_KIB = 2048
THREADS = 8
SEGMENTS = ["seg_vip", "seg_newsletter", "seg_beta", "seg_wholesale", "seg_subscription",
            "seg_events"]


class Client(threading.Thread):
    def __init__(self, tid, port, deadline, contacts):
        super().__init__(daemon=True)
        self.tid = tid
        self.port = port
        self.deadline = deadline
        self.contacts = contacts
        self.created = []
        self.counts = {}       # (op, status) -> n
        self.bad = []          # unexpected answers or errors
        self.rnd = random.Random(tid)

    def call(self, conn, op, method, path, body, want):
        h = {"Authorization": "Bearer " + common.KEY}
        data = None
        if body is not None:
            h["Content-Type"] = "application/json"
            data = json.dumps(body)
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        raw = r.read()
        key = (op, r.status)
        self.counts[key] = self.counts.get(key, 0) + 1
        if r.status != want:
            self.bad.append((op, path, r.status, raw[:200]))
            return None
        return raw

    def run(self):
        conn = None
        n = 0
        while time.monotonic() < self.deadline:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                step = n % 5
                n += 1
                if step == 0:
                    c = self.rnd.choice(self.contacts)
                    self.call(conn, "patch", "PATCH", "/orgs/c/contacts/" + c,
                              {"name": "soak-%d-%d" % (self.tid, n),
                               "blocked": self.rnd.random() < 0.5,
                               "unsubscribed": self.rnd.random() < 0.5}, 200)
                elif step == 1:
                    self.call(conn, "list", "GET", "/orgs/c/contacts?take=20", None, 200)
                elif step == 2:
                    raw = self.call(conn, "create", "POST", "/orgs/c/contacts",
                                    {"channel": {"email": "soak-%d-%d@example.com" % (self.tid, n),
                                                 "name": "Soak %d %d" % (self.tid, n)}}, 201)
                    if raw is not None:
                        self.created.append(json.loads(raw)["id"])
                        del self.created[:-50]
                elif step == 3:
                    c = self.rnd.choice(self.created or self.contacts)
                    self.call(conn, "segment", "POST", "/orgs/c/contacts/%s/segments/%s"
                              % (c, self.rnd.choice(SEGMENTS)), None, 201)
                else:
                    raw = self.call(conn, "journal", "GET", "/__admin/requests/count?method=PATCH",
                                    None, 200)
                    if raw is not None:
                        json.loads(raw)["count"]
            except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
                self.bad.append(("error", repr(e)))
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()


def main():
    exe, seconds = common.parse_args(sys.argv, 60, USAGE)
    if seconds <= WARMUP + 2:
        raise SystemExit("--seconds must be more than %.0f (the warm-up is %.0f s)"
                         % (WARMUP + 2, WARMUP))
    failures = []
    tmp = tempfile.mkdtemp(prefix="soak-")
    db = os.path.join(tmp, "soak.db")
    s = common.Server(exe, ["--db", db, "--log", "off", "--journal-size", "1000"])
    clients = []
    try:
        s.wait_ready()
        rss0 = common.rss_kib(s.pid)
        contacts = common.demo_contact_ids()
        t0 = time.monotonic()
        deadline = t0 + seconds
        clients = [Client(i, s.port, deadline, contacts) for i in range(THREADS)]
        for c in clients:
            c.start()
        series = []  # (t, RSS KiB)
        while time.monotonic() < deadline:
            time.sleep(max(0.0, min(1.0, deadline - time.monotonic())))
            series.append((time.monotonic() - t0, common.rss_kib(s.pid)))
        for c in clients:
            c.join(30)
            if c.is_alive():
                failures.append("client %d still running 30 s after the deadline" % c.tid)
        took = time.monotonic() - t0
        counts = {}
        for c in clients:
            for k, v in c.counts.items():
                counts[k] = counts.get(k, 0) + v
            if c.bad:
                failures.append("client %d: %d unexpected answers/errors, first %r"
                                % (c.tid, len(c.bad), c.bad[:3]))
        total = sum(counts.values())
        print("%d threads, %.1f s: %d requests, %.0f requests/s" % (THREADS, took, total, total / took))
        for (op, st), v in sorted(counts.items()):
            print("  %-8s %d: %d" % (op, st, v))
        print("RSS before load: %d KiB" % rss0)
        warm = [r for t, r in series if t >= WARMUP]
        if not warm:
            failures.append("no RSS sample after the warm-up")
        else:
            after_warmup, last = warm[0], warm[-1]
            print("RSS after warm-up (t=%.0f s): first %d KiB, last %d KiB, min %d, max %d, "
                  "growth %+d KiB (limit %d)" % (WARMUP, after_warmup, last, min(warm), max(warm),
                                                 last - after_warmup, GROWTH_LIMIT_KIB))
            print("RSS whole run: first %d KiB, min %d, max %d, last %d"
                  % (series[0][1], min(r for _, r in series), max(r for _, r in series), series[-1][1]))
            if last - after_warmup > GROWTH_LIMIT_KIB:
                failures.append("RSS grew %d KiB after the warm-up (from %d to %d KiB)"
                                % (last - after_warmup, after_warmup, last))
        print("series (t s: RSS KiB):")
        line = []
        for t, r in series:
            line.append("%3.0f:%d" % (t, r))
            if len(line) == 8:
                print("  " + "  ".join(line))
                line = []
        if line:
            print("  " + "  ".join(line))
        st, body = None, None
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        try:
            conn.request("GET", "/__admin/health")
            r = conn.getresponse()
            st, body = r.status, r.read()
        finally:
            conn.close()
        print("health: %d %s" % (st, body[:300].decode("utf-8", "replace")))
        rc = s.stop(10)
        print("SIGTERM: exit %r; db %d bytes" % (rc, os.path.getsize(db)))
        if rc != 0:
            failures.append("exit %r after SIGTERM; stderr %r" % (rc, s.stderr_lines[-5:]))
    finally:
        s.kill()
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(db + suffix)
            except OSError:
                pass
        os.rmdir(tmp)
    if failures:
        print("FAIL:")
        for f in failures:
            print("  " + f)
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
