#!/usr/bin/env python3
"""Storage faults against the real binary: the database on a file system that
fills up. Run as: test_storage.py CASE PATH/TO/invent-mock

Needs root to mount a small tmpfs; without it the case is skipped (exit 77, which
meson reports as SKIP) with a message saying why."""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

CASES = {}
SKIP = 77


def case(name):
    def register(fn):
        CASES[name] = fn
        return fn
    return register


def call(port, method, path, body=None, key="sk_test_demo"):
    headers = {"Authorization": "Bearer " + key}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data,
                                 method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def start(exe, db):
    p = subprocess.Popen([exe, "--port", "0", "--db", db, "--log", "off"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stdout.readline()
    if not line:
        p.kill()
        raise AssertionError("no ready line: %r" % p.stderr.read())
    return p, json.loads(line)["port"]


def stop(p):
    p.terminate()
    try:
        return p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise


@case("storage@full-disk-answers-507-and-recovers")
def full_disk(exe):
    if os.geteuid() != 0:
        print("SKIP: mounting a small tmpfs needs root")
        sys.exit(SKIP)
    mnt = tempfile.mkdtemp(prefix="invent-mock-full-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt],
                      capture_output=True).returncode != 0:
        os.rmdir(mnt)
        print("SKIP: this machine does not let the test mount a tmpfs")
        sys.exit(SKIP)
    p = None
    try:
        db = os.path.join(mnt, "full.db")
        p, port = start(exe, db)
        st, c = call(port, "PATCH", "/orgs/c/contacts/ct_ada", {"name": "before full"})
        assert st == 200, (st, c)
        # Fill every byte left.
        with open(os.path.join(mnt, "filler"), "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        codes = []
        for i in range(20):
            st, body = call(port, "POST", "/orgs/c/contacts",
                            {"channel": {"email": "full%d@example.com" % i, "name": "x" * 500}})
            codes.append(st)
            if st != 201:
                assert st in (503, 507), (st, body)
                assert body["statusCode"] == st and body["error"] in (
                    "Service Unavailable", "Insufficient Storage"), body
        print("answers while full:", codes)
        assert 507 in codes or 503 in codes, "the disk never filled: %r" % codes
        # Reads still work, and what was acknowledged is there.
        st, c = call(port, "PATCH", "/orgs/c/contacts/ct_ada", {})
        assert st == 200 and c["name"] == "before full", (st, c)
        # Room again: writes succeed without a restart.
        os.remove(os.path.join(mnt, "filler"))
        st, c = call(port, "PATCH", "/orgs/c/contacts/ct_ada", {"name": "after full"})
        assert st == 200 and c["name"] == "after full", (st, c)
        st, made = call(port, "POST", "/orgs/c/contacts", {"channel": {"email": "room@example.com"}})
        assert st == 201, (st, made)
        assert stop(p) == 0
        p = None
        p, port = start(exe, db)
        st, c = call(port, "PATCH", "/orgs/c/contacts/ct_ada", {})
        assert st == 200 and c["name"] == "after full", (st, c)
        st, listed = call(port, "GET", "/orgs/c/contacts?email=room@example.com")
        assert st == 200 and len(listed) == 1, (st, listed)
        assert stop(p) == 0
        p = None
        import sqlite3
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
    finally:
        if p is not None:
            p.kill()
            p.wait()
        for _ in range(20):
            if subprocess.run(["umount", mnt], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        try:
            os.rmdir(mnt)
        except OSError:
            pass


@case("storage@read-only-db-serves-reads-and-503s-writes")
def read_only(exe):
    if os.geteuid() != 0:
        print("SKIP: mounting a tmpfs read-only needs root")
        sys.exit(SKIP)
    mnt = tempfile.mkdtemp(prefix="invent-mock-ro-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt],
                      capture_output=True).returncode != 0:
        os.rmdir(mnt)
        print("SKIP: this machine does not let the test mount a tmpfs")
        sys.exit(SKIP)
    p = None
    try:
        db = os.path.join(mnt, "ro.db")
        p, port = start(exe, db)
        st, c = call(port, "PATCH", "/orgs/c/contacts/ct_ada", {"name": "written before"})
        assert st == 200, (st, c)
        assert stop(p) == 0
        p = None
        r = subprocess.run(["mount", "-o", "remount,ro", mnt], capture_output=True)
        assert r.returncode == 0, r
        p, port = start(exe, db)
        st, c = call(port, "PATCH", "/orgs/c/contacts/ct_ada", {})
        assert st == 200 and c["name"] == "written before", (st, c)
        st, listed = call(port, "GET", "/orgs/c/contacts?take=5")
        assert st == 200 and len(listed) == 5, (st, listed)
        for method, path, body in (("PATCH", "/orgs/c/contacts/ct_ada", {"name": "no"}),
                                   ("POST", "/orgs/c/contacts", {"channel": {"email": "ro@example.com"}}),
                                   ("POST", "/orgs/c/contacts/ct_ada/segments/seg_events", None)):
            st, body = call(port, method, path, body)
            assert st == 503 and body["statusCode"] == 503, (method, path, st, body)
            assert body["error"] == "Service Unavailable", body
        st, body = call(port, "POST", "/__admin/reset", {})
        assert st == 503 and body["message"] == "The database is unavailable (read-only)", (st, body)
        st, c = call(port, "PATCH", "/orgs/c/contacts/ct_ada", {})
        assert st == 200 and c["name"] == "written before", (st, c)
        assert stop(p) == 0
        p = None
    finally:
        if p is not None:
            p.kill()
            p.wait()
        for _ in range(20):
            if subprocess.run(["umount", mnt], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        try:
            os.rmdir(mnt)
        except OSError:
            pass


if __name__ == "__main__":
    CASES[sys.argv[1]](sys.argv[2])
