#!/usr/bin/env python3
"""HTTPS with --tls-cert/--tls-key (libmicrohttpd's own TLS, GnuTLS). Run as:
test_tls.py CASE PATH/TO/invent-mock

The certificates are made at run time with the openssl command line (Debian's
openssl); clients verify them. Every process is stopped by its PID; every wait
and every socket has a timeout."""
import contextlib
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from invent_server import clean_env, running

CASES = {}
KEY = "sk_test_demo"


def case(name):
    def register(fn):
        CASES[name] = fn
        return fn
    return register


def make_cert(d, name="server", cn="localhost"):
    """A self-signed P-256 certificate for 127.0.0.1 and localhost: (cert path, key path)."""
    cert, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    out = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=" + cn,
                          "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                          "-keyout", key, "-out", cert], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out
    return cert, key


def https(port, cafile, method, path, body=None, headers=None):
    ctx = ssl.create_default_context(cafile=cafile)
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
    try:
        h = dict(headers or {})
        if body is not None:
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        c.close()


@contextlib.contextmanager
def tls_server(exe, by_env=False):
    """A server with a fresh certificate, given by flags or by variables: (Server,
    the certificate's path, the directory holding it)."""
    with tempfile.TemporaryDirectory() as d:
        cert, key = make_cert(d)
        if by_env:
            args, env = [], {"INVENT_MOCK_TLS_CERT": cert, "INVENT_MOCK_TLS_KEY": key}
        else:
            args, env = ["--tls-cert", cert, "--tls-key", key], None
        with running(exe, args, env) as s:
            yield s, cert, d


def run_fail(exe, args, env=None):
    p = subprocess.run([exe, "--port", "0", "--db", ":memory:"] + list(args), capture_output=True,
                       text=True, timeout=30, env=clean_env(env), stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def assert_api_and_admin_over_tls(s, cafile):
    assert s.ready["url"] == "https://127.0.0.1:%d" % s.port, s.ready
    status, _, body = https(s.port, cafile, "PATCH", "/orgs/c/contacts/ct_ada", {"blocked": True},
                            {"Authorization": "Bearer " + KEY})
    contact = json.loads(body)
    assert (status, contact["id"], contact["blocked"]) == (200, "ct_ada", True), (status, body)
    status, _, body = https(s.port, cafile, "GET", "/__admin/orgs/org_demo/contacts/ct_ada")
    assert (status, json.loads(body)["blocked"]) == (200, True), (status, body)
    status, _, body = https(s.port, cafile, "GET", "/__admin/requests?method=PATCH")
    entries = json.loads(body)
    entries = entries["requests"] if isinstance(entries, dict) else entries
    assert status == 200 and [e["path"] for e in entries] == ["/orgs/c/contacts/ct_ada"], body
    status, _, body = https(s.port, cafile, "GET", "/__admin/health")
    assert status == 200 and json.loads(body)["db"] == ":memory:", (status, body)
    # The console's page over TLS too.
    status, headers, body = https(s.port, cafile, "GET", "/__admin/ui/")
    assert status == 200 and dict((k.lower(), v) for k, v in headers)["content-type"].startswith(
        "text/html") and b"<html" in body.lower(), (status, headers, body[:200])


@case("tls@api-and-admin-over-https")
def api_and_admin_over_https(exe):
    with tls_server(exe) as (s, cert, _):
        assert_api_and_admin_over_tls(s, cert)
        assert s.stop() == 0


@case("tls@from-environment-variables")
def from_environment_variables(exe):
    with tls_server(exe, by_env=True) as (s, cert, _):
        assert_api_and_admin_over_tls(s, cert)


@case("tls@client-of-another-certificate-is-refused")
def client_of_another_certificate_is_refused(exe):
    """The server presents the certificate it was given: a client trusting only
    another one fails the handshake (and the server goes on serving)."""
    with tls_server(exe) as (s, cert, d):
        other, _ = make_cert(d, "other", "other")
        try:
            https(s.port, other, "GET", "/__admin/health")
            raise AssertionError("a client trusting another certificate got an answer")
        except ssl.SSLCertVerificationError:
            pass
        assert https(s.port, cert, "GET", "/__admin/health")[0] == 200


@case("tls@plain-http-to-tls-port-is-answered-or-closed")
def plain_http_to_tls_port_is_answered_or_closed(exe):
    with tls_server(exe) as (s, cert, _):
        for request in (b"GET /__admin/health HTTP/1.1\r\nHost: x\r\n\r\n",
                        b"PATCH /orgs/c/contacts/ct_ada HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Length: 2\r\n\r\n{}", b"GET / HTTP/1.0\r\n"):
            t0 = time.monotonic()
            sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            got = b""
            try:
                sock.sendall(request)
                while True:  # until the server closes; socket.timeout fails the test
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except socket.timeout:
                raise AssertionError("plain HTTP %r to the TLS port: no answer and no close "
                                     "within 5 s" % request[:20])
            except ConnectionResetError:
                pass
            finally:
                sock.close()
            print("plain %r: %d bytes back, closed after %.3f s"
                  % (request[:12], len(got), time.monotonic() - t0))
            assert not got.startswith(b"HTTP/1.1 200"), got
        # and it still serves TLS
        assert https(s.port, cert, "GET", "/__admin/health")[0] == 200


@case("tls@bad-certificate-or-key-is-one-line")
def bad_certificate_or_key_is_one_line(exe):
    with tempfile.TemporaryDirectory() as d:
        cert, key = make_cert(d)
        other_cert, other_key = make_cert(d, "other", "other")
        garbage = os.path.join(d, "garbage.pem")
        with open(garbage, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n")
        der = os.path.join(d, "server.der")
        subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER", "-out", der], check=True,
                       timeout=30)
        empty = os.path.join(d, "empty.pem")
        open(empty, "w").close()
        missing = os.path.join(d, "missing.pem")
        cases = [
            # (args, exit status, words the one line must hold)
            (["--tls-cert", cert], 2, ["--tls-cert", "--tls-key"]),
            (["--tls-key", key], 2, ["--tls-key", "--tls-cert"]),
            (["--tls-cert", missing, "--tls-key", key], 1, [missing, "No such file"]),
            (["--tls-cert", cert, "--tls-key", missing], 1, [missing, "No such file"]),
            (["--tls-cert", empty, "--tls-key", key], 1, [empty, "PEM"]),
            (["--tls-cert", der, "--tls-key", key], 1, [der, "PEM"]),
            (["--tls-cert", garbage, "--tls-key", key], 1, [garbage, key]),
            (["--tls-cert", cert, "--tls-key", cert], 1, [cert]),
            (["--tls-cert", cert, "--tls-key", other_key], 1, [cert, other_key]),
            (["--tls-cert", key, "--tls-key", cert], 1, [key, cert]),
        ]
        for args, want_rc, words in cases:
            rc, out, err = run_fail(exe, args)
            print("%r -> %d %s" % (args[-3:], rc, err.strip()))
            assert rc == want_rc, (args, rc, err)
            assert out == "" and err.startswith("invent-mock: ") and err.count("\n") == 1, (args, out, err)
            for w in words:
                assert w in err, (args, w, err)
        rc, out, err = run_fail(exe, [], {"INVENT_MOCK_TLS_CERT": cert})
        assert rc == 2 and "INVENT_MOCK_TLS_KEY" in err and err.count("\n") == 1, (rc, err)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in CASES:
        sys.exit("usage: test_tls.py CASE EXE; cases: " + " ".join(CASES))
    CASES[sys.argv[1]](os.path.abspath(sys.argv[2]) if os.sep in sys.argv[2] else sys.argv[2])
