#!/usr/bin/env python3
"""Consoles for bench/run.sh events: N clients of GET /__admin/events reading
everything the server sends, as a browser would, until SIGTERM; then one line,
"events E bytes B", what they received in all. Prints "ready" once all N have
their stream's head."""
import argparse
import select
import signal
import socket
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--n", type=int, default=5)
args = ap.parse_args()

stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
socks = []
for _ in range(args.n):
    s = socket.create_connection(("127.0.0.1", args.port))
    s.sendall(b"GET /__admin/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("the server closed a stream before its head")
        head += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        sys.exit("GET /__admin/events: " + head.split(b"\r\n")[0].decode())
    socks.append(s)
print("ready", flush=True)
events = total = 0
# Per stream: bytes not yet de-chunked, and the event text seen since the last
# event's start. The stream is chunked, and a chunk's size line may fall
# anywhere, in the middle of an "id: " too: events are counted in the
# de-chunked text.
raw = {s: b"" for s in socks}
text = {s: b"\n" for s in socks}


def dechunk(buf):
    """(payload, rest): the payload of every whole chunk at the start of buf."""
    out = []
    while True:
        eol = buf.find(b"\r\n")
        if eol < 0:
            break
        size = int(buf[:eol].split(b";")[0], 16)
        if len(buf) < eol + 2 + size + 2:
            break
        out.append(buf[eol + 2:eol + 2 + size])
        buf = buf[eol + 2 + size + 2:]
    return b"".join(out), buf


while not stop:
    try:
        ready, _, _ = select.select(socks, [], [], 0.2)
    except InterruptedError:
        continue
    for s in ready:
        data = s.recv(1 << 16)
        if not data:
            sys.exit("the server ended a stream")
        total += len(data)
        payload, raw[s] = dechunk(raw[s] + data)
        buf = text[s] + payload
        events += buf.count(b"\nid: ")
        text[s] = buf[-4:]
print("events %d bytes %d" % (events, total), flush=True)
