"""HTTP/2 flow control is per stream (docs/HTTP2.md, "Request bodies").

A stream's body bytes wait in its buffer towards the HTTP/1.1 path. The
connection's window is given back as soon as a DATA frame is read, the
stream's own only once its bridge took the backlog. So an upload to an
upstream that does not read stops that stream alone: its client runs out
of window for it, and the connection's other streams are still served.
When the upstream reads again, the window reopens and the upload arrives
whole. DATA past a held window is a FLOW_CONTROL_ERROR for its stream.

Without per-stream flow control (the connection's input held while any
stream's bridge is behind), `test_slow_upload_stops_only_its_own_stream`
fails: the connection's window stays shut with the stream's, and a GET's
HEADERS frame would wait behind the stuck upload's DATA.
"""
import hashlib
import socket
import threading
import time
import uuid

import h2.events
import pytest

import helpers as h
import h2util as u
import raw

PORT = h.GW_PORT + 98
TRAP_PORT = 9088
BODY = 4 << 20


def start_gw(workdir):
    return raw.start(
        workdir, "h2-flow",
        listeners=[{"address": f"{h.SRV4}:{PORT}", "h2c": True}],
        services=[{"name": "echo", "targets": [f"{h.SRV4}:{h.B1_PORT}"],
                   "connect_timeout_ms": 1000},
                  {"name": "slow", "targets": [f"{h.ALLOWED4}:{TRAP_PORT}"],
                   "connect_timeout_ms": 1000}],
        routes=[{"name": "slow", "path_prefix": "/slow/",
                 "service": "slow"},
                {"name": "all", "path_prefix": "/", "service": "echo"}],
        http={"response_timeout_ms": 60000})


def trap_listener():
    """An upstream that takes connections and does not read (yet): in the
    client namespace, across the veth, with a small receive buffer, so
    that the gateway's socket towards it fills after a few hundred KiB."""
    s = raw.sockets_in(h.CLI_NS, 1, socket.AF_INET)[0]
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((h.ALLOWED4, TRAP_PORT))
    s.listen(8)
    return s


def try_pump(c, seconds):
    """Read until the gateway sends something (a WINDOW_UPDATE, a
    response), for up to seconds; no error if nothing comes."""
    seen = len(c.events)
    try:
        c.pump(lambda c: len(c.events) > seen, seconds)
    except AssertionError:          # the timeout: nothing came
        pass


def send_what_fits(c, sid, body, sent):
    """Send body[sent:] as far as the windows allow; the new offset."""
    while sent < len(body):
        n = min(len(body) - sent, c.c.local_flow_control_window(sid),
                c.c.max_outbound_frame_size)
        if n <= 0:
            break
        c.c.send_data(sid, body[sent:sent + n],
                      end_stream=sent + n == len(body))
        c.flush()
        sent += n
    return sent


def serve_upload(conn, out):
    """Read one request with a Content-Length body from conn, answer 200;
    out gets the body's length and SHA-256."""
    conn.settimeout(30)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = conn.recv(65536)
        if not d:
            out["error"] = "closed in the head"
            return
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = None
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    out["head"] = head
    digest, got = hashlib.sha256(), 0
    digest.update(rest)
    got += len(rest)
    while length is not None and got < length:
        d = conn.recv(1 << 20)
        if not d:
            break
        digest.update(d)
        got += len(d)
    out["bytes"], out["sha256"] = got, digest.hexdigest()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                 b"Connection: close\r\n\r\nok")
    conn.close()


def held_upload(c, body):
    """Start an upload to the upstream that does not read and send until
    its window stays shut: the upstream's socket and the bridge are full,
    the stream's window is not given back. The stream and bytes sent."""
    up = c.request("/slow/upload", method="POST", body=None, end=False,
                   headers=[("content-length", str(len(body)))])
    sent, still = 0, 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and still < 3:
        before = sent
        sent = send_what_fits(c, up, body, sent)
        try_pump(c, 0.3)
        still = still + 1 if sent == before else 0
    assert 0 < sent < len(body), \
        f"upload not held back: {sent} of {len(body)}"
    assert c.c.local_flow_control_window(up) == 0
    # the connection's window was given back: only the stream is shut
    assert c.c.outbound_flow_control_window > 0
    assert up not in c.responses and up not in c.resets
    return up, sent


def test_slow_upload_stops_only_its_own_stream(backends, workdir):
    trap = trap_listener()
    s = start_gw(workdir)
    c = u.Client(PORT)
    accepted = None
    try:
        body = bytes(range(256)) * (BODY // 256)
        up, sent = held_upload(c, body)

        # another stream on the same connection is served meanwhile
        marker = uuid.uuid4().hex[:16]
        r = c.response(c.request(f"/fast/{marker}"), timeout=10)
        assert isinstance(r, dict) and r["status"] == 200, r
        assert [e["target"] for e in h.backend_log(backends["b1"])
                if marker in e["target"]] == [f"/fast/{marker}"]
        assert c.goaway is None

        # the upstream reads again: the window reopens, the upload ends
        # whole and its answer comes back
        accepted, _ = trap.accept()
        served = {}
        t = threading.Thread(target=serve_upload, args=(accepted, served),
                             daemon=True)
        t.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
                c.responses.get(up, {}).get("end") or up in c.resets or
                c.closed):
            sent = send_what_fits(c, up, body, sent)
            try_pump(c, 0.2)
        t.join(timeout=30)
        assert sent == BODY
        assert c.responses.get(up, {}).get("status") == 200, \
            (c.responses.get(up), c.resets)
        assert served.get("bytes") == BODY, served.get("error", served)
        assert served["sha256"] == hashlib.sha256(body).hexdigest()
    finally:
        c.close()
        if accepted is not None:
            accepted.close()
        trap.close()
        s.shutdown()


def test_data_past_a_held_window_is_a_flow_control_error(backends, workdir):
    """The window is the bound on what a stream holds: DATA past it (the
    client ignoring flow control) resets that stream with
    FLOW_CONTROL_ERROR; the connection and its other streams go on."""
    trap = trap_listener()
    s = start_gw(workdir)
    c = u.Client(PORT)
    try:
        up, _ = held_upload(c, b"z" * BODY)
        c.raw(u.frame(u.DATA, 0, up, b"z" * 16384))
        c.pump(lambda c: up in c.resets or c.goaway is not None, 10)
        assert c.resets.get(up) == u.FLOW_CONTROL_ERROR, \
            (c.resets, c.goaway)
        assert c.goaway is None
        marker = uuid.uuid4().hex[:16]
        r = c.response(c.request(f"/fast/{marker}"), timeout=10)
        assert isinstance(r, dict) and r["status"] == 200, r
    finally:
        c.close()
        trap.close()
        s.shutdown()
