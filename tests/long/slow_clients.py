#!/usr/bin/env python3
"""Slow and misbehaving clients must not starve a well-behaved one.
Usage: python3 tests/long/slow_clients.py PATH/TO/invent-mock [--seconds N]  (default 20)

A good client PATCHes one contact over a keep-alive connection, paced, measuring
every latency, while in turn (each phase a quarter of N):
  idle   nothing else (its p99 here is the reference),
  (a)    slowloris: 200 connections from 127.0.0.1, each sending one byte of a
         request head per second,
  (b)    slow body: 20 PATCHes declaring Content-Length 100000, sending 10 bytes/s,
  (c)    50 clients that pipeline requests and never read an answer.
During each phase every good request must answer 200 and its p99 must stay
within 500 ms. After each phase the bad sockets are closed
and the server's RSS (VmRSS) and its TCP socket count (/proc/PID/fd) must come
back near the idle level: sockets <= idle + 2, RSS <= idle + 4 MiB, within 15 s.
Exits non-zero on failure; prints every figure.

The server runs with --journal-size 0: the journal keeps (by design, bounded by
--journal-size) every request with its bodies, so with it on, RSS would grow with
the good client's request count and measure the journal, not connection handling.
"""
import http.client
import json
import os
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

USAGE = "usage: slow_clients.py PATH/TO/invent-mock [--seconds N]"
GOOD_CONTACT = "ct_ada"
PACE = 0.002           # the good client sends at most one request per 2 ms
P99_CAP_MS = 500.0
SOCKET_MARGIN = 2
RSS_MARGIN_KIB = 4096
RECOVER_TIMEOUT = 15.0


class GoodClient(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.phase = "idle"
        self.lat = {}       # phase -> [ms]
        self.status = {}    # phase -> {status: n}
        self.errors = []    # (phase, repr)
        self.halt = threading.Event()

    def run(self):
        conn = None
        i = 0
        while not self.halt.is_set():
            phase = self.phase
            t_next = time.monotonic() + PACE
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                body = json.dumps({"name": "good-%d" % i})
                i += 1
                t0 = time.perf_counter()
                conn.request("PATCH", "/orgs/c/contacts/" + GOOD_CONTACT, body=body,
                             headers={"Authorization": "Bearer " + common.KEY,
                                      "Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                ms = (time.perf_counter() - t0) * 1000
                self.lat.setdefault(phase, []).append(ms)
                st = self.status.setdefault(phase, {})
                st[r.status] = st.get(r.status, 0) + 1
                if r.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                self.errors.append((phase, repr(e)))
                if conn is not None:
                    conn.close()
                conn = None
            delay = t_next - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        if conn is not None:
            conn.close()


class Sampler(threading.Thread):
    """Every 0.5 s: (t, phase, RSS KiB, TCP sockets) of the server."""

    def __init__(self, pid, good):
        super().__init__(daemon=True)
        self.pid = pid
        self.good = good
        self.series = []
        self.halt = threading.Event()
        self.t0 = time.monotonic()

    def sample(self):
        return common.rss_kib(self.pid), common.tcp_socket_count(self.pid)

    def run(self):
        while not self.halt.wait(0.5):
            try:
                rss, socks = self.sample()
            except (OSError, AssertionError):
                return
            self.series.append((time.monotonic() - self.t0, self.good.phase, rss, socks))


def connect(port, n):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.setblocking(False)
        socks.append(s)
    return socks


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def trickle(socks, payload, per_tick, tick, until, closed):
    """Sends per_tick bytes of payload on every socket each tick until the time
    `until`; a socket the server closed is counted in closed[0] and dropped."""
    pos = {s: 0 for s in socks}
    live = list(socks)
    while time.monotonic() < until and live:
        for s in list(live):
            chunk = payload[pos[s]:pos[s] + per_tick]
            if not chunk:
                continue
            try:
                n = s.send(chunk)
                pos[s] += n
            except BlockingIOError:
                pass
            except OSError:
                closed[0] += 1
                live.remove(s)
        time.sleep(max(0.0, min(tick, until - time.monotonic())))
    return pos


def phase_slowloris(port, seconds, report):
    socks = connect(port, 200)
    closed = [0]
    head = ("GET /orgs/c/contacts HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
            "X-Slow: %s\r\n\r\n" % (common.KEY, "s" * 200)).encode()
    try:
        pos = trickle(socks, head, 1, 1.0, time.monotonic() + seconds, closed)
        report["sent"] = "200 connections, %d header bytes each at most" % max(pos.values())
        report["closed_by_server"] = closed[0]
    finally:
        close_all(socks)


def phase_slow_body(port, seconds, report):
    socks = connect(port, 20)
    closed = [0]
    ids = common.demo_contact_ids()[1:21]
    try:
        for s, c in zip(socks, ids):
            s.setblocking(True)
            s.sendall(("PATCH /orgs/c/contacts/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: 100000\r\n\r\n" % (c, common.KEY)).encode())
            s.setblocking(False)
        body = ('{"name": "' + "b" * 99980 + '"}').encode()[:100000]
        pos = trickle(socks, body, 10, 1.0, time.monotonic() + seconds, closed)
        report["sent"] = "20 connections, %d of 100000 body bytes each at most" % max(pos.values())
        report["closed_by_server"] = closed[0]
    finally:
        close_all(socks)


def phase_no_read(port, seconds, report):
    socks = connect(port, 50)
    closed = [0]
    req = ("GET /orgs/c/contacts?take=100 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           "Authorization: Bearer %s\r\n\r\n" % common.KEY).encode()
    sent = {s: 0 for s in socks}
    live = list(socks)
    until = time.monotonic() + seconds
    try:
        while time.monotonic() < until and live:
            for s in list(live):
                try:
                    # Pipeline until the socket's buffers are full; never recv().
                    for _ in range(64):
                        n = s.send(req)
                        sent[s] += n
                        if n < len(req):
                            break
                except BlockingIOError:
                    pass
                except OSError:
                    closed[0] += 1
                    live.remove(s)
            time.sleep(0.05)
        total = sum(sent.values())
        report["sent"] = "50 connections, %d requests pipelined in all (%d..%d per connection)" % (
            total // len(req), min(sent.values()) // len(req), max(sent.values()) // len(req))
        report["closed_by_server"] = closed[0]
    finally:
        close_all(socks)


def main():
    exe, seconds = common.parse_args(sys.argv, 20, USAGE)
    quarter = seconds / 4.0
    failures = []
    tmp = tempfile.mkdtemp(prefix="slow-clients-")
    db = os.path.join(tmp, "slow.db")
    s = common.Server(exe, ["--db", db, "--log", "off", "--journal-size", "0"])
    good = sampler = None
    try:
        s.wait_ready()
        good = GoodClient(s.port)
        good.start()
        sampler = Sampler(s.pid, good)
        sampler.start()
        time.sleep(quarter)
        idle_rss, idle_socks = sampler.sample()
        idle_lat = list(good.lat.get("idle", []))
        idle_p99 = common.percentile(idle_lat, 99)
        # A fixed ceiling: an idle p99 below a millisecond would make 50x of it a
        # bound that scheduling noise on a shared 2-core machine can cross.
        bound = P99_CAP_MS
        print("idle: %d requests, p50 %.2f ms, p99 %.2f ms; RSS %d KiB, %d TCP sockets"
              % (len(idle_lat), common.percentile(idle_lat, 50), idle_p99, idle_rss, idle_socks))
        print("p99 bound during attacks: %.0f ms (idle p99 %.2f ms)" % (bound, idle_p99))
        for name, fn in [("a-slowloris", phase_slowloris), ("b-slow-body", phase_slow_body),
                         ("c-no-read", phase_no_read)]:
            good.phase = name
            report = {}
            peak = [0, 0]

            def watch(stop_evt):
                while not stop_evt.wait(0.25):
                    try:
                        r, n = sampler.sample()
                    except (OSError, AssertionError):
                        return
                    peak[0] = max(peak[0], r)
                    peak[1] = max(peak[1], n)

            stop_evt = threading.Event()
            w = threading.Thread(target=watch, args=(stop_evt,), daemon=True)
            w.start()
            t0 = time.monotonic()
            try:
                fn(s.port, quarter, report)
            except OSError as e:
                failures.append("%s: the attacker could not run: %r" % (name, e))
            stop_evt.set()
            w.join(2)
            good.phase = name + "/recover"
            lat = list(good.lat.get(name, []))
            st = dict(good.status.get(name, {}))
            errs = [e for p, e in good.errors if p == name]
            p50, p99 = common.percentile(lat, 50), common.percentile(lat, 99)
            print("%s (%.1f s): %s; server closed %d of them" % (
                name, time.monotonic() - t0, report.get("sent"), report.get("closed_by_server", 0)))
            print("  good client: %d requests, statuses %r, %d errors, p50 %.2f ms, p99 %.2f ms, "
                  "max %.2f ms (bound %.2f ms)" % (len(lat), st, len(errs), p50, p99,
                                                    max(lat) if lat else float("nan"), bound))
            print("  server peak during phase: RSS %d KiB, %d TCP sockets" % (peak[0], peak[1]))
            if not lat:
                failures.append("%s: the good client completed no request" % name)
            if set(st) - {200}:
                failures.append("%s: good client statuses %r" % (name, st))
            if errs:
                failures.append("%s: good client errors %r" % (name, errs[:3]))
            if lat and p99 > bound:
                failures.append("%s: good client p99 %.2f ms > bound %.2f ms (idle p99 %.2f ms)"
                                % (name, p99, bound, idle_p99))
            t_rec = time.monotonic()
            last = [None, None]

            def recovered():
                last[0], last[1] = sampler.sample()
                return last[1] <= idle_socks + SOCKET_MARGIN and last[0] <= idle_rss + RSS_MARGIN_KIB
            ok = common.wait_until(recovered, RECOVER_TIMEOUT, 0.25)
            print("  after: RSS %d KiB (idle %d, %+d), %d TCP sockets (idle %d), %s in %.1f s"
                  % (last[0], idle_rss, last[0] - idle_rss, last[1], idle_socks,
                     "recovered" if ok else "NOT recovered", time.monotonic() - t_rec))
            if not ok:
                failures.append("%s: after %.0f s RSS %d KiB (idle %d + margin %d), sockets %d "
                                "(idle %d + margin %d)" % (name, RECOVER_TIMEOUT, last[0], idle_rss,
                                                           RSS_MARGIN_KIB, last[1], idle_socks,
                                                           SOCKET_MARGIN))
        good.halt.set()
        good.join(10)
        sampler.halt.set()
        sampler.join(5)
        print("series (t s, phase, RSS KiB, TCP sockets):")
        for t, ph, r, n in sampler.series:
            print("  %6.1f  %-20s %7d  %4d" % (t, ph, r, n))
        rc = s.stop(10)
        print("SIGTERM: exit %r" % rc)
        if rc != 0:
            failures.append("exit %r after SIGTERM; stderr %r" % (rc, s.stderr_lines[-5:]))
    finally:
        if good is not None:
            good.halt.set()
        if sampler is not None:
            sampler.halt.set()
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
