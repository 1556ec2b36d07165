#!/usr/bin/env python3
"""Times invent-mock from exec to its ready line (python3 standard library only).

    python3 bench/ready_time.py --runs 20 --bin build-release/invent-mock \
        --fixtures FIX --dir TMP --mode fresh|existing

Each run starts `BIN --port 0 --db DIR/ready-K.db --fixtures FIX --log off`,
reads the first stdout line ({"event":"ready",...}), then stops the server with
SIGTERM and waits for it. "fresh" deletes ready-K.db (and its -wal/-shm) first;
"existing" reuses it, so run "fresh" before "existing"; "memory" uses --db :memory:.

Prints one line: "<mode> runs=R min=.. median=.. max=.. ms" and, on stderr, a
line for every problem (no ready line, bad exit status, anything on stderr).
Exits 1 if any run failed.
"""
import argparse
import json
import os
import selectors
import signal
import statistics
import subprocess
import sys
import time

READY_TIMEOUT = 30.0  # seconds to wait for the ready line
STOP_TIMEOUT = 10.0   # seconds to wait for exit after SIGTERM


def read_line(proc, deadline):
    """The first stdout line of proc (bytes, without the newline), or None on
    EOF or timeout. Reads the pipe raw so no buffering hides the line."""
    fd = proc.stdout.fileno()
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.perf_counter()
            if left <= 0 or not sel.select(left):
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            buf += chunk
    return buf.split(b"\n", 1)[0]


def one_run(args, k, problems):
    db = ":memory:" if args.mode == "memory" else os.path.join(args.dir, "ready-%d.db" % k)
    if args.mode == "fresh":
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(db + suffix)
            except FileNotFoundError:
                pass
    elif args.mode == "existing" and not os.path.exists(db):
        problems.append("run %d: %s does not exist for mode existing" % (k, db))
    errpath = os.path.join(args.dir, "ready-%s-%d.stderr" % (args.mode, k))
    cmd = [args.bin, "--port", "0", "--db", db, "--log", "off"]
    if args.fixtures:
        cmd += ["--fixtures", args.fixtures]
    cmd += args.extra
    with open(errpath, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=err)
        try:
            line = read_line(proc, t0 + READY_TIMEOUT)
            t1 = time.perf_counter()
            ms = (t1 - t0) * 1000.0
            if line is None:
                problems.append("run %d (%s): no ready line (exit status %s)"
                                % (k, args.mode, proc.poll()))
                ms = None
            else:
                try:
                    ready = json.loads(line)
                    if ready.get("event") != "ready" or not ready.get("port"):
                        raise ValueError("not a ready event")
                except ValueError as e:
                    problems.append("run %d (%s): bad ready line %r: %s" % (k, args.mode, line, e))
                    ms = None
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(STOP_TIMEOUT)
                if rc != 0:
                    problems.append("run %d (%s): exit status %d after SIGTERM" % (k, args.mode, rc))
            except subprocess.TimeoutExpired:
                problems.append("run %d (%s): still running %.0fs after SIGTERM; killed"
                                % (k, args.mode, STOP_TIMEOUT))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
    with open(errpath, "rb") as f:
        text = f.read().decode("utf-8", "replace").strip()
    if text:
        problems.append("run %d (%s): stderr: %s" % (k, args.mode, text[:500]))
    return ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--fixtures", help="fixture file; the built-in demo data if left out")
    ap.add_argument("--dir", required=True, help="where the ready-K.db files live")
    ap.add_argument("--mode", choices=("fresh", "existing", "memory"), required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("extra", nargs="*", help="more server arguments (after --)")
    args = ap.parse_args()

    problems = []
    times = [one_run(args, k, problems) for k in range(1, args.runs + 1)]
    ok = [t for t in times if t is not None]
    for p in problems:
        print("ready_time: " + p, file=sys.stderr)
    if ok:
        print("%s runs=%d min=%.1f median=%.1f max=%.1f ms"
              % (args.mode, len(ok), min(ok), statistics.median(ok), max(ok)))
    else:
        print("%s runs=0 (all failed)" % args.mode)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
