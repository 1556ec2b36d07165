"""The invent-mock binary as a child process, for the Python test files: start it,
read its ready line, stop it by its PID. Shared by test_binary.py,
test_reliability.py and test_hostile.py (they run from tests/, so this imports as a
module) and, through tests/long/common.py, by the long scripts."""
import contextlib
import json
import os
import queue
import signal
import subprocess
import threading
import time

READY_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def clean_env(extra=None):
    """The environment without any INVENT_MOCK_* variable, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVENT_MOCK_")}
    env.update(extra or {})
    return env


class Server:
    """One invent-mock process. stdout and stderr are drained by threads into lists
    (so a chatty log never fills a pipe and stalls the server)."""

    def __init__(self, exe, args, env=None):
        self.args = [exe] + list(args)
        self.t_exec = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=clean_env(env))
        self.stdout_lines = []
        self.stderr_lines = []
        self._lines = queue.Queue()
        self._readers = [
            threading.Thread(target=self._drain, args=(self.proc.stdout, self.stdout_lines, True),
                             daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stderr, self.stderr_lines, False),
                             daemon=True),
        ]
        for t in self._readers:
            t.start()
        self.ready = None
        self.port = None
        self.t_ready = None

    def _drain(self, pipe, sink, signal_lines):
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            sink.append(line)
            if signal_lines:
                self._lines.put(line)
        if signal_lines:
            self._lines.put(None)  # EOF

    def wait_ready(self, timeout=READY_TIMEOUT):
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no ready line within %.0f s; stderr: %r" % (timeout, self.stderr_lines))
        self.t_ready = time.monotonic()
        if line is None:
            self.proc.wait(timeout=STOP_TIMEOUT)
            self.join_readers()
            raise AssertionError("exited (%r) before the ready line; stderr: %r"
                                 % (self.proc.returncode, self.stderr_lines))
        self.ready = json.loads(line)
        assert self.ready.get("event") == "ready", line
        assert self.ready.get("pid") == self.proc.pid, (self.ready, self.proc.pid)
        self.port = self.ready["port"]
        return self.ready

    def pid(self):
        return self.proc.pid

    def send_signal(self, sig):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends sig, waits for the exit, returns the exit code (negative: a signal)."""
        self.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("did not exit within %.0f s of signal %d" % (timeout, sig))
        self.join_readers()
        return rc

    def join_readers(self, timeout=5):
        for t in self._readers:
            t.join(timeout)

    def kill(self):
        """Last resort, by PID: SIGKILL and reap."""
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        self.join_readers(1)


@contextlib.contextmanager
def running(exe, args, env=None):
    """A server on port 0 with its data in memory and no request log, past its
    ready line, plus args; always killed (by PID) on the way out."""
    s = Server(exe, ["--port", "0", "--db", ":memory:", "--log", "off"] + list(args), env)
    try:
        s.wait_ready()
        yield s
    finally:
        s.kill()
