"""Shared helpers of the long scripts in tests/long/ (standard library only):
start invent-mock on port 0 and read its ready line, stop it by PID, read its
RSS and count its TCP sockets from /proc, and summarise latencies."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import invent_server  # noqa: E402  tests/invent_server.py

KEY = "sk_test_demo"
ORG = "org_demo"
HERE = os.path.dirname(os.path.abspath(__file__))
DEMO_FIXTURE = os.path.join(HERE, "..", "..", "fixtures", "demo.json")


def parse_args(argv, default_seconds, usage):
    """BIN [--seconds N] -> (absolute BIN, seconds)."""
    args = list(argv[1:])
    seconds = float(default_seconds)
    if "--seconds" in args:
        i = args.index("--seconds")
        try:
            seconds = float(args[i + 1])
        except (IndexError, ValueError):
            raise SystemExit(usage)
        del args[i:i + 2]
    if len(args) != 1 or seconds <= 0:
        raise SystemExit(usage)
    exe = args[0]
    return (os.path.abspath(exe) if os.sep in exe else exe), seconds


def demo_contact_ids(org=ORG):
    with open(DEMO_FIXTURE) as f:
        doc = json.load(f)
    for o in doc["orgs"]:
        if o["id"] == org:
            return [c["id"] for c in o["contacts"]]
    raise SystemExit("no org " + org)


class Server(invent_server.Server):
    """tests/invent_server.py's server on port 0, with the pid as an attribute and
    a stop that reports a server still running after timeout as None (the
    scripts record it as a failure and go on to kill it by PID)."""

    def __init__(self, exe, args):
        super().__init__(exe, ["--port", "0"] + list(args))

    @property
    def pid(self):
        return self.proc.pid

    def stop(self, timeout=10):
        """SIGTERM by PID; returns the exit code, or None if it did not exit in time."""
        self.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None


def rss_kib(pid):
    """VmRSS of a process, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def socket_inodes_tcp():
    """Inodes of every TCP socket of the machine (v4 and v6)."""
    inodes = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if len(parts) > 9:
                        inodes.add(parts[9])
        except OSError:
            pass
    return inodes


def tcp_socket_count(pid):
    """How many TCP sockets the process holds open (listening socket included):
    its /proc/PID/fd links to socket:[inode] whose inode is a TCP socket."""
    tcp = socket_inodes_tcp()
    n = 0
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue  # closed meanwhile
        if link.startswith("socket:[") and link[8:-1] in tcp:
            n += 1
    return n


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def wait_until(pred, timeout, step=0.1):
    """Polls pred() until true or timeout; returns its last value."""
    end = time.monotonic() + timeout
    while True:
        ok = pred()
        if ok or time.monotonic() >= end:
            return ok
        time.sleep(step)
