#!/usr/bin/env python3
"""Times GET /__admin/export and POST /__admin/import on a large fixture, and what
each holds the API for: the longest answer to a client reading a page of contacts
in a loop meanwhile, beside the same during POST /__admin/reset. Figures only,
nothing is asserted. Standard library only.

    python3 bench/make_fixture.py --contacts 100000 --out /tmp/big.json
    python3 bench/snapshot_time.py build-release/invent-mock /tmp/big.json [--rounds 3]
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from invent_server import Server  # noqa: E402


def call(port, method, path, body=None, key=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        h = {"Content-Type": "application/json"} if body is not None else {}
        if key:
            h["Authorization"] = "Bearer " + key
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


class Reader(threading.Thread):
    """Reads one page of contacts over and over, keeping each answer's time."""

    def __init__(self, port, key):
        super().__init__(daemon=True)
        self.port, self.key = port, key
        self.stop = threading.Event()
        self.times = []

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        while not self.stop.is_set():
            t0 = time.monotonic()
            conn.request("GET", "/orgs/c/contacts?take=1&user_id=%2B15550000042",
                         headers={"Authorization": "Bearer " + self.key})
            r = conn.getresponse()
            r.read()
            self.times.append(time.monotonic() - t0)
        conn.close()


def during(port, key, fn):
    """Runs fn() with a reader beside it; returns (fn's result, seconds it took,
    the reader's longest answer in ms)."""
    rd = Reader(port, key)
    rd.start()
    time.sleep(0.3)
    rd.times.clear()
    t0 = time.monotonic()
    out = fn()
    took = time.monotonic() - t0
    time.sleep(0.1)
    rd.stop.set()
    rd.join(30)
    return out, took, 1000 * max(rd.times or [0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exe")
    ap.add_argument("fixture")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    key = json.load(open(args.fixture))["orgs"][0]["api_keys"][0]
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    s = Server(args.exe, ["--port", "0", "--db", ":memory:", "--log", "off",
                          "--fixtures", args.fixture])
    try:
        s.wait_ready(timeout=120)
        port = s.port
        with tempfile.TemporaryDirectory() as tmp:
            doc = None
            for i in range(args.rounds):
                (st, doc), took, worst = during(port, key, lambda: call(port, "GET", "/__admin/export"))
                assert st == 200
                print("export: %.2f s, %.1f MB; reader's longest answer %.0f ms"
                      % (took, len(doc) / 1e6, worst))
            path = os.path.join(tmp, "export.json")
            with open(path, "wb") as f:
                f.write(doc)
            for i in range(args.rounds):
                (st, body), took, worst = during(port, key,
                                                 lambda: call(port, "POST", "/__admin/import", doc))
                assert st == 200, body[:200]
                print("import: %.2f s, swap %.1f ms; reader's longest answer %.0f ms"
                      % (took, json.loads(body)["duration_ms"], worst))
            for i in range(args.rounds):
                (st, body), took, worst = during(port, key,
                                                 lambda: call(port, "POST", "/__admin/reset"))
                assert st == 200
                print("reset: %.2f s, %.1f ms in the server; reader's longest answer %.0f ms"
                      % (took, json.loads(body)["duration_ms"], worst))
        with open("/proc/%d/status" % s.pid()) as f:
            print([ln.strip() for ln in f if ln.startswith("VmHWM")][0])
    finally:
        s.kill()
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
