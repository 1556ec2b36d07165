#!/usr/bin/env python3
"""Times POST /__admin/reset against a running invent-mock (stdlib only).

    python3 bench/reset_time.py PORT RUNS

A reset copies the whole fixture state back whatever changed, so the runs
need no changes between them. Prints "server_ms min median max" from the answer's duration_ms, and the same
for the whole round trip measured here.
"""
import json
import statistics
import sys
import time
import urllib.request

port, runs = int(sys.argv[1]), int(sys.argv[2])
base = "http://127.0.0.1:%d" % port


def call(method, path, body=None, headers=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


server, trip = [], []
for _ in range(runs):
    t0 = time.perf_counter()
    answer = call("POST", "/__admin/reset", {}, {"Content-Type": "application/json"})
    trip.append((time.perf_counter() - t0) * 1000)
    server.append(answer["duration_ms"])
for name, xs in (("server_ms", server), ("round_trip_ms", trip)):
    print("%s min=%.2f median=%.2f max=%.2f" % (name, min(xs), statistics.median(xs), max(xs)))
