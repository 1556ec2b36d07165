"""Fixtures: one invent-mock per test session, one isolated org per test."""

import json
import os
import select
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import pytest

from invent_client import InventClient

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BIN = os.path.normpath(os.path.join(HERE, "..", "..", "build", "invent-mock"))
READY_TIMEOUT = 10.0  # seconds


def _read_line(fd, timeout):
    """One line from a pipe, or None when nothing complete arrives in time."""
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:  # the process closed stdout (it exited)
            return None
        buf += chunk
    return buf.split(b"\n", 1)[0].decode("utf-8")


class Admin:
    """The emulator's own API under /__admin/ (no key needed by default)."""

    def __init__(self, base_url):
        self.base_url = base_url

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None

    def patch_count(self, **filters):
        query = "&".join(f"{k}={urllib.parse.quote(str(v), safe='')}" for k, v in filters.items())
        return self.call("GET", "/__admin/requests/count?" + query)["count"]


@pytest.fixture(scope="session")
def invent_mock():
    """Starts invent-mock on a free port with an in-memory database; yields its base URL."""
    binary = os.environ.get("INVENT_MOCK_BIN", DEFAULT_BIN)
    if not os.access(binary, os.X_OK):
        pytest.fail(f"invent-mock binary not found at {binary} (set INVENT_MOCK_BIN)")
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([binary, "--port", "0", "--db", ":memory:"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    try:
        line = _read_line(proc.stdout.fileno(), READY_TIMEOUT)
        if line is None:
            log.seek(0)
            pytest.fail(f"invent-mock gave no ready line within {READY_TIMEOUT}s "
                        f"(exit status {proc.poll()}); stderr:\n{log.read().decode(errors='replace')}")
        ready = json.loads(line)
        assert ready["event"] == "ready", line
        yield ready["url"]
    finally:
        proc.terminate()  # SIGTERM to this PID: the server finishes in-flight requests and exits 0
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        log.close()


@pytest.fixture(scope="session")
def admin(invent_mock):
    return Admin(invent_mock)


@pytest.fixture
def org(admin):
    """An isolated copy of the demo org (org_demo, with ct_ada) for this test alone."""
    created = admin.call("POST", "/__admin/orgs", {"from": "org_demo"})
    try:
        yield created  # {"org_id": ..., "api_key": ...}
    finally:
        admin.call("DELETE", f"/__admin/orgs/{created['org_id']}")


@pytest.fixture
def client(invent_mock, org):
    return InventClient(invent_mock, org["api_key"])
