"""Shared helpers of the long scripts in tests/long/ (standard library only):
start invent-mock on port 0 and read its ready line, stop it by PID, read its
RSS and count its TCP sockets from /proc, and summarise latencies."""
import json
import os
import queue
import signal
import subprocess
import threading
import time

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


class Server:
    """One invent-mock process on port 0; stdout/stderr drained by threads."""

    def __init__(self, exe, args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("INVENT_MOCK_")}
        self.proc = subprocess.Popen([exe, "--port", "0"] + list(args), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.pid = self.proc.pid
        self.stderr_lines = []
        self._lines = queue.Queue()
        self._readers = [threading.Thread(target=self._drain, args=(self.proc.stdout, True), daemon=True),
                         threading.Thread(target=self._drain, args=(self.proc.stderr, False), daemon=True)]
        for t in self._readers:
            t.start()
        self.port = None

    def _drain(self, pipe, is_stdout):
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if is_stdout:
                self._lines.put(line)
            else:
                self.stderr_lines.append(line)
        if is_stdout:
            self._lines.put(None)

    def wait_ready(self, timeout=10):
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no ready line within %d s; stderr %r" % (timeout, self.stderr_lines))
        if line is None:
            raise AssertionError("exited before the ready line; stderr %r" % self.stderr_lines[-5:])
        ready = json.loads(line)
        assert ready.get("event") == "ready" and ready.get("pid") == self.pid, ready
        self.port = ready["port"]
        return ready

    def stop(self, timeout=10):
        """SIGTERM by PID; returns the exit code, or None if it did not exit in time."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for t in self._readers:
            t.join(1)


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
