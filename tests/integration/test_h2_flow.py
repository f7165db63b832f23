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
import os
import socket
import threading
import time
import uuid

import h2.events
import h2.settings
import pytest

import helpers as h
import h2util as u
import raw

PORT = h.GW_PORT + 98
TRAP_PORT = 9088
BODY = 4 << 20


def start_gw(workdir, name="h2-flow", http=None, top=None):
    return raw.start(
        workdir, name,
        listeners=[{"address": f"{h.SRV4}:{PORT}", "h2c": True}],
        services=[{"name": "echo", "targets": [f"{h.SRV4}:{h.B1_PORT}"],
                   "connect_timeout_ms": 1000},
                  {"name": "slow", "targets": [f"{h.ALLOWED4}:{TRAP_PORT}"],
                   "connect_timeout_ms": 1000}],
        routes=[{"name": "slow", "path_prefix": "/slow/",
                 "service": "slow"},
                {"name": "all", "path_prefix": "/", "service": "echo"}],
        http={"response_timeout_ms": 60000, **(http or {})},
        **({"top": top} if top else {}))


def trap_listener(backlog=8):
    """An upstream that takes connections and does not read (yet): in the
    client namespace, across the veth, with a small receive buffer, so
    that the gateway's socket towards it fills after a few hundred KiB."""
    s = raw.sockets_in(h.CLI_NS, 1, socket.AF_INET)[0]
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((h.ALLOWED4, TRAP_PORT))
    s.listen(backlog)
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


def read_head(conn, out):
    """A request head from conn (out["head"]) and the bytes after it;
    None (out["error"] set) when conn closed first."""
    conn.settimeout(30)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = conn.recv(65536)
        if not d:
            out["error"] = "closed in the head"
            return None
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    out["head"] = head
    return rest


def answer_ok(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                 b"Connection: close\r\n\r\nok")
    conn.close()


def serve_upload(conn, out):
    """Read one request with a Content-Length body from conn, answer 200;
    out gets the body's length and SHA-256."""
    rest = read_head(conn, out)
    if rest is None:
        return
    head = out["head"]
    length = None
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
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
    answer_ok(conn)


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


# ---- hostile clients against held streams --------------------------------

def fill_until_held(conns, body, rounds=3, seconds=60, wait=0.1):
    """Send every stream's body as far as windows allow until nothing
    moves for `rounds` rounds (each waiting up to `wait` s for a
    WINDOW_UPDATE). conns: list of (client, {sid: sent})."""
    still, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline and still < rounds:
        moved = False
        for c, sent in conns:
            for sid in sent:
                n = send_what_fits(c, sid, body, sent[sid])
                moved = moved or n != sent[sid]
                sent[sid] = n
            try_pump(c, wait)
        still = 0 if moved else still + 1
    return conns


# what one held stream may cost the daemon (docs/HTTP2.md): its window
# plus one frame and its chunk framing, in the stream's buffer and the
# buffer in flight towards its bridge (each rounded up to a power of two
# by realloc doubling), the bridge pair's queue (6 pool blocks of 36 KiB,
# io/pair.c) and the HTTP/1.1 request path's buffers (2 blocks).
WINDOW, FRAME, BLOCK = 65535, 16384, 36 * 1024
PER_STREAM_KIB = (2 * 128 * 1024 + 8 * BLOCK) // 1024


def test_held_uploads_memory_is_bounded_per_stream(backends, workdir):
    """3 connections x 30 streams, each a 2 MiB upload to an upstream that
    takes the connection and never reads: every stream's window shuts and
    the daemon's RSS grows by at most 90 x PER_STREAM_KIB (+ 8 MiB for the
    allocator and the connections themselves); the uploads, 180 MiB in
    all, are not buffered. A connection of them still serves a GET. When
    the client connections go, the 90 upstream connections close with
    them."""
    trap = trap_listener(backlog=128)
    s = start_gw(workdir, "h2-flow-mem")
    conns = []
    try:
        body = b"m" * (2 << 20)
        warm = u.Client(PORT)
        assert warm.get("/warm")["status"] == 200
        warm.close()
        rss0 = raw.rss_kib(s.pid)
        base = fds(s.pid)
        for _ in range(3):
            c = u.Client(PORT)
            sent = {c.request(f"/slow/mem-{i}", method="POST", body=None,
                              end=False,
                              headers=[("content-length", str(len(body)))]):
                    0 for i in range(30)}
            conns.append((c, sent))
        fill_until_held(conns, body)
        rss1 = raw.rss_kib(s.pid)
        total = sum(sum(sent.values()) for _, sent in conns)
        bound = 90 * PER_STREAM_KIB + 8 * 1024
        for c, sent in conns:
            assert c.goaway is None and not c.resets, (c.goaway, c.resets)
            for sid, n in sent.items():
                assert 0 < n < len(body), (sid, n)
                assert c.c.local_flow_control_window(sid) == 0, sid
        assert rss1 - rss0 < bound, \
            f"RSS +{rss1 - rss0} KiB for {total} bytes held (bound {bound})"
        marker = uuid.uuid4().hex[:16]
        r = conns[0][0].response(conns[0][0].request(f"/fast/{marker}"),
                                 timeout=10)
        assert isinstance(r, dict) and r["status"] == 200, r
        # the connections go with their uploads held: every upstream
        # connection closes with them, not at response_timeout_ms (60 s)
        for c, _ in conns:
            c.close()
        # (+1: the GET's pooled connection to the echo backend, if new)
        h.wait_for(lambda: fds(s.pid) <= base + 1, 10,
                   what="upstream connections of dropped streams closed")
    finally:
        for c, _ in conns:
            c.close()
        trap.close()
        s.shutdown()


def serve_chunked(conn, out):
    """Read one chunked request from conn, answer 200; out gets the
    decoded body's length and SHA-256."""
    rest = read_head(conn, out)
    if rest is None:
        return
    body = b""
    while True:
        while b"\r\n" not in rest:
            d = conn.recv(1 << 20)
            if not d:
                out["error"] = "closed in the body"
                return
            rest += d
        line, _, rest = rest.partition(b"\r\n")
        n = int(line.split(b";")[0], 16)
        while len(rest) < n + 2:
            d = conn.recv(1 << 20)
            if not d:
                out["error"] = "closed in a chunk"
                return
            rest += d
        body, rest = body + rest[:n], rest[n + 2:]
        if n == 0:
            break
    out["bytes"], out["sha256"] = len(body), hashlib.sha256(body).hexdigest()
    answer_ok(conn)


def release(trap, serve):
    """Let the trap's first connection be read by serve(conn, out)."""
    accepted, _ = trap.accept()
    out = {}
    t = threading.Thread(target=serve, args=(accepted, out), daemon=True)
    t.start()
    return accepted, t, out


def finish(c, sid, send, seconds=60):
    """Pump and send(offset) until sid's response ended (or it failed)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (
            c.responses.get(sid, {}).get("end") or sid in c.resets or
            c.closed):
        send()
        try_pump(c, 0.2)


def test_padded_upload_to_a_held_stream_finishes(backends, workdir):
    """DATA frames padded to the full 255 bytes on a stream whose
    upstream does not read: nghttp2 gives the padding back itself, we the
    data once the bridge took it, so the stream's window, shut while
    held, reopens whole and the upload (2 MiB, about 130 frames each
    carrying 256 bytes of window that are not data) arrives intact."""
    trap = trap_listener()
    s = start_gw(workdir, "h2-flow-pad")
    c = u.Client(PORT)
    accepted = None
    body = bytes(range(256)) * (8192)
    state = {"sent": 0}

    def send():
        while state["sent"] < len(body):
            room = min(c.c.local_flow_control_window(sid),
                       c.c.max_outbound_frame_size) - 256
            n = min(len(body) - state["sent"], room)
            if n <= 0:
                break
            o = state["sent"]
            c.c.send_data(sid, body[o:o + n], pad_length=255,
                          end_stream=o + n == len(body))
            c.flush()
            state["sent"] += n
    try:
        sid = c.request("/slow/padded", method="POST", body=None, end=False,
                        headers=[("content-length", str(len(body)))])
        still, deadline = 0, time.monotonic() + 60
        while time.monotonic() < deadline and still < 3:
            before = state["sent"]
            send()
            try_pump(c, 0.3)
            still = still + 1 if state["sent"] == before else 0
        assert 0 < state["sent"] < len(body)
        assert c.c.local_flow_control_window(sid) < 256 + 1
        accepted, t, out = release(trap, serve_upload)
        finish(c, sid, send)
        t.join(timeout=30)
        assert state["sent"] == len(body)
        assert c.responses.get(sid, {}).get("status") == 200, \
            (c.responses.get(sid), c.resets, c.goaway)
        assert out.get("bytes") == len(body), out.get("error", out)
        assert out["sha256"] == hashlib.sha256(body).hexdigest()
        assert c.goaway is None
    finally:
        c.close()
        if accepted is not None:
            accepted.close()
        trap.close()
        s.shutdown()


def test_empty_end_stream_on_a_held_stream(backends, workdir):
    """A body without content-length (chunked towards the upstream) held
    at an upstream that does not read, then ended by an empty DATA frame
    with END_STREAM (it needs no window): once the upstream reads it gets
    every byte and the last chunk, and the answer comes back. Meanwhile
    the client changes SETTINGS_INITIAL_WINDOW_SIZE (its window for our
    responses) to 0 and back: a response on another stream waits, then
    arrives whole."""
    trap = trap_listener()
    s = start_gw(workdir, "h2-flow-end")
    c = u.Client(PORT)
    accepted = None
    body = b"e" * (4 << 20)
    try:
        sid = c.request("/slow/empty-end", method="POST", body=None,
                        end=False)
        sent = fill_until_held([(c, {sid: 0})], body)[0][1][sid]
        assert 0 < sent < len(body)
        assert c.c.local_flow_control_window(sid) == 0
        c.c.send_data(sid, b"", end_stream=True)
        c.flush()
        # our window for responses to 0, a response asked for: it waits
        c.c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE:
                             0})
        c.flush()
        got = c.request("/bytes/100000")
        try_pump(c, 1)
        assert not c.responses.get(got, {}).get("end")
        c.c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE:
                             1 << 20})
        c.flush()
        r = c.response(got, timeout=10)
        assert isinstance(r, dict) and r["status"] == 200, r
        assert len(r["body"]) == 100000
        accepted, t, out = release(trap, serve_chunked)
        finish(c, sid, lambda: None)
        t.join(timeout=30)
        assert c.responses.get(sid, {}).get("status") == 200, \
            (c.responses.get(sid), c.resets, c.goaway)
        assert out.get("bytes") == sent, out.get("error", out)
        assert out["sha256"] == hashlib.sha256(body[:sent]).hexdigest()
        assert c.goaway is None
    finally:
        c.close()
        if accepted is not None:
            accepted.close()
        trap.close()
        s.shutdown()


ADMIN = "127.0.0.1:9998"


def abuse(reason):
    return u.abuse(ADMIN, reason)


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_rapid_reset_of_held_uploads(backends, workdir):
    """Streams to an upstream that does not read, each sent body until its
    window stays shut (about 400 KB: its window, the bridge's queue and
    the upstream socket) and then reset by the client (CANCEL), over and
    over. Their bytes were counted back to the connection's window as
    read: after 15 of them (far more than the connection's own window
    holds) an upload
    to the echo backend on the same connection still goes through whole.
    Each reset is a rapid_reset glitch (docs/HTTP2.md): past
    h2_max_glitches (20) the connection gets GOAWAY ENHANCE_YOUR_CALM, a
    connection opened before is still served. The upstream connection of
    a reset stream is closed with it: the request path does not read its
    end of the bridge while its upstream does not take the body, and
    without that close would keep the connection and its buffers until
    response_timeout_ms (60 s here)."""
    name = "h2-flow-rr"
    trap = trap_listener(backlog=128)
    s = start_gw(workdir, name,
                 http={"h2_max_glitches": 20, "h2_stall_timeout_ms": 1000},
                 top={"admin": {"address": ADMIN,
                                "socket": str(h.admin_socket_path(workdir,
                                                                  name))}})
    legit = u.Client(PORT)
    c = u.Client(PORT)
    body = b"r" * (1 << 20)
    try:
        assert legit.get("/legit/first")["status"] == 200
        assert c.get("/attacker/first")["status"] == 200
        base = fds(s.pid)
        rr0 = abuse("rapid_reset")

        def held_and_reset(i):
            sid = c.request(f"/slow/rr-{i}", method="POST", body=None,
                            end=False,
                            headers=[("content-length", str(1 << 20))])
            sent, deadline = 0, time.monotonic() + 20
            while time.monotonic() < deadline and not c.closed and \
                    c.goaway is None and (
                        sent <= WINDOW or
                        c.c.local_flow_control_window(sid)):
                sent = fill_until_held([(c, {sid: sent})], body, rounds=2,
                                       seconds=10, wait=0.2)[0][1][sid]
            if c.closed or c.goaway is not None:
                return False
            # held: more than its window went, and its window is shut
            assert WINDOW < sent < len(body), f"stream {sid}: {sent}"
            assert c.c.local_flow_control_window(sid) == 0, sid
            c.c.reset_stream(sid, u.CANCEL)
            c.flush()
            return True

        for i in range(15):
            assert held_and_reset(i), (c.goaway, c.closed)
        # each reset stream's upstream connection was closed with it,
        # long before response_timeout_ms (60 s here)
        h.wait_for(lambda: fds(s.pid) <= base, 10,
                   what="upstream connections of reset streams closed")
        marker = uuid.uuid4().hex[:16]
        up = c.request(f"/echo/{marker}", method="POST",
                       body=b"z" * (256 << 10))
        r = c.response(up, timeout=10)
        assert isinstance(r, dict) and r["status"] == 200, r
        logged = [e for e in h.backend_log(backends["b1"])
                  if marker in e["target"]]
        assert [e["body_bytes"] for e in logged] == [256 << 10], logged
        for i in range(15, 40):
            if not held_and_reset(i):
                break
        assert c.wait_goaway(5) == u.ENHANCE_YOUR_CALM
        h.wait_for(lambda: abuse("rapid_reset") >= rr0 + 1, 5,
                   what="sluice_h2_abuse_total{reason=rapid_reset}")
        assert legit.get("/legit/after")["status"] == 200
        c.close()
        h.wait_for(lambda: fds(s.pid) <= base - 1, 10,
                   what="descriptors back")
    finally:
        c.close()
        legit.close()
        trap.close()
        s.shutdown()


def test_stall_clock_blames_the_client_not_a_held_upstream(backends,
                                                           workdir):
    """h2_stall_timeout_ms 300. An upload held because its upstream does
    not read is the upstream's doing: the connection outlives many stall
    timeouts and still serves a GET. A body the client dribbles on
    another stream of it is the client's: GOAWAY ENHANCE_YOUR_CALM, as
    for a connection with only that stream."""
    trap = trap_listener()
    s = start_gw(workdir, "h2-flow-stall",
                 http={"h2_stall_timeout_ms": 300})
    c = u.Client(PORT)
    d = u.Client(PORT)
    try:
        body = b"s" * (4 << 20)
        sid = c.request("/slow/stall", method="POST", body=None, end=False,
                        headers=[("content-length", str(len(body)))])
        sent = fill_until_held([(c, {sid: 0})], body)[0][1][sid]
        assert 0 < sent < len(body)
        assert c.c.local_flow_control_window(sid) == 0
        # ten stall timeouts with nothing moving
        end = time.monotonic() + 3
        while time.monotonic() < end and not c.closed:
            try_pump(c, end - time.monotonic())
        assert c.goaway is None and not c.closed, c.goaway
        r = c.response(c.request("/after-held"), timeout=5)
        assert isinstance(r, dict) and r["status"] == 200, r
        # a dribbled body on the same connection is the client's stall
        c.request("/dribble", "POST", headers=[("content-length", "1000")],
                  body=b"x", end=False)
        assert c.wait_goaway(5) == u.ENHANCE_YOUR_CALM
        # and on a connection of its own
        d.request("/dribble", "POST", headers=[("content-length", "1000")],
                  body=b"x", end=False)
        assert d.wait_goaway(5) == u.ENHANCE_YOUR_CALM
    finally:
        c.close()
        d.close()
        trap.close()
        s.shutdown()
