"""HTTP/2 streams reuse their bridges (docs/HTTP2.md, "Bridge reuse").

Each stream reaches the HTTP/1.1 path through a bridge, a transport pair
joined in the process; a stream that ended cleanly leaves its pair parked,
an HTTP/1.1 keep-alive connection between requests, for the next stream of
the same HTTP/2 connection. These tests count the bridges opened and reused
(`sluice_h2_bridges_opened_total`, `sluice_h2_bridges_reused_total`) and
check what reuse must never change: each stream is judged on its own
credential, bodies keep their framing, a pair is not reused once its other
end may be about to time out, and nothing is left when the connection goes.
A bridge holds no socket: the daemon has no unnamed Unix-domain socket.

Without reuse, `test_sequential_streams_share_one_bridge`,
`test_each_stream_is_judged_on_its_own_credential` and
`test_bodies_keep_their_framing_on_a_reused_bridge` fail (every stream
opens a bridge); without the age rule,
`test_bridge_older_than_half_the_keepalive_is_not_reused` fails.
"""
import hashlib
import json
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

import helpers as h
import h2util as u
import raw

PORT = h.GW_PORT + 97
ADMIN = "127.0.0.1:9997"
TOKEN = "h2b-token-" + uuid.uuid4().hex
KEEPALIVE_MS = 4000
HEADS_PORT = 9084           # the origin of test_response_heads_stay_with_their_streams


def config(workdir, name):
    text = f"""\
listeners:
  - name: h2
    address: "{h.SRV4}:{PORT}"
    h2c: true
admin:
  address: {ADMIN}
  socket: {h.admin_socket_path(workdir, name)}
xdp:
  enabled: false
services:
  - name: echo
    targets: ["{h.SRV4}:{h.B1_PORT}"]
    connect_timeout_ms: 1000
  - name: heads
    targets: ["{h.ALLOWED4}:{HEADS_PORT}"]
    connect_timeout_ms: 1000
routes:
  - name: heads
    path_prefix: /heads/
    service: heads
  - name: private
    path_prefix: /private/
    service: echo
    auth: [bearer]
  - name: all
    path_prefix: /
    service: echo
consumers:
  - name: h2b
    bearer_tokens: ['sha256:{hashlib.sha256(TOKEN.encode()).hexdigest()}']
http:
  keepalive_timeout_ms: {KEEPALIVE_MS}
workers: 1
logging:
  level: info
"""
    p = workdir / f"{name}.yaml"
    p.write_text(text)
    return p


@pytest.fixture(scope="module")
def gw(backends, workdir):
    s = h.Sluiced(config(workdir, "gw-h2b"), workdir, tag="gw-h2b")
    s.start()
    yield s
    s.shutdown()


def mark():
    return uuid.uuid4().hex[:16]


def got(backends, marker):
    return [e for e in h.backend_log(backends["b1"])
            if marker in e["target"]]


def unix_sockets(pid):
    """Inodes of the daemon's Unix-domain sockets that have no path (a
    bridge made of a socket pair would show two; the admin socket has a
    path)."""
    unnamed = set()
    for line in Path(f"/proc/{pid}/net/unix").read_text().splitlines()[1:]:
        f = line.split()
        if len(f) == 7:
            unnamed.add(f[6])
    mine = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = fd.readlink().as_posix()
        except OSError:
            continue
        if link.startswith("socket:["):
            mine.add(link[8:-1])
    return mine & unnamed


class Bridges:
    """Bridges opened and reused since the last look."""

    def __init__(self):
        self.last = self.now()

    @staticmethod
    def now():
        return (raw.metric(ADMIN, "sluice_h2_bridges_opened_total"),
                raw.metric(ADMIN, "sluice_h2_bridges_reused_total"))

    def delta(self):
        n = self.now()
        d = (int(n[0] - self.last[0]), int(n[1] - self.last[1]))
        self.last = n
        return d


def test_sequential_streams_share_one_bridge(gw, backends):
    c = u.Client(PORT)
    m = mark()
    b = Bridges()
    assert c.get(f"/api/{m}/0")["status"] == 200
    assert b.delta() == (1, 0)
    for i in range(1, 20):
        r = c.get(f"/api/{m}/{i}")
        assert r["status"] == 200, r
        assert b.delta() == (0, 1), f"stream {i} did not take the parked one"
    # in the process: no socket pair behind it
    assert not unix_sockets(gw.pid)
    # every stream reached the backend once, each its own request
    seen = sorted(e["target"] for e in got(backends, m))
    assert seen == sorted(f"/api/{m}/{i}" for i in range(20))
    c.close()


def test_each_stream_is_judged_on_its_own_credential(gw, backends):
    """A parked pair carried a request with a token; the next stream on it
    has none, or a wrong one: refused, and the backend never sees it. A
    refusal ends its HTTP/1.1 connection, so its pair is not parked
    again: the stream after it opens a new one."""
    c = u.Client(PORT)
    m = mark()
    b = Bridges()
    ok = [("authorization", f"Bearer {TOKEN}")]
    assert c.get(f"/private/{m}/a", headers=ok)["status"] == 200
    assert b.delta() == (1, 0)
    r = c.get(f"/private/{m}/b")
    assert r["status"] == 401, r
    assert json.loads(r["body"])["error"]
    assert b.delta() == (0, 1), "the refused stream took the parked pair"
    r = c.get(f"/private/{m}/c", headers=[("authorization", "Bearer nope")])
    assert r["status"] == 401, r
    assert b.delta() == (1, 0), "a refused stream's pair was parked"
    assert c.get(f"/private/{m}/d", headers=ok)["status"] == 200
    assert b.delta() == (1, 0)
    assert c.get(f"/private/{m}/e")["status"] == 401
    assert b.delta() == (0, 1)
    seen = got(backends, m)
    assert sorted(e["target"] for e in seen) == [f"/private/{m}/a",
                                                f"/private/{m}/d"]
    assert all("authorization" not in e["headers"] for e in seen)
    c.close()


def test_bodies_keep_their_framing_on_a_reused_bridge(gw, backends):
    """Uploads without content-length go chunked over the pair; the next
    stream on it starts where the last one ended."""
    c = u.Client(PORT)
    m = mark()
    b = Bridges()
    for i in range(6):
        body = hashlib.shake_256(f"{m}{i}".encode()).digest(20000 + 7 * i)
        if i % 2:
            r = c.response(c.request(f"/up/{m}/{i}", "POST", body=body))
        else:
            r = c.response(c.request(
                f"/up/{m}/{i}", "PUT", body=body,
                headers=[("content-length", str(len(body)))]))
        assert isinstance(r, dict) and r["status"] == 200, r
        j = json.loads(r["body"])
        assert j["body_bytes"] == len(body), (i, j)
        r = c.get(f"/bytes/{1000 + i}")
        assert r["status"] == 200 and r["body"] == b"x" * (1000 + i)
        assert b.delta() == ((1, 1) if i == 0 else (0, 2)), \
            f"round {i} took a new pair"
    assert len(got(backends, m)) == 6
    c.close()


def test_reused_stream_objects_carry_nothing_over(gw, backends):
    """A stream that ended leaves its object, with its field and body
    buffers, for the next stream of the worker. Streams of every shape
    in turn on one connection (a path too long for the object's inline
    bytes, cookies, extra fields, an upload past the buffer size kept,
    another authority): the backend gets each request exactly as sent,
    with nothing of the stream before it."""
    c = u.Client(PORT)
    m = mark()
    sent = []
    for i in range(12):
        shape = i % 4
        path = f"/api/{m}/{i}"
        hs = []
        authority = "gw.test"
        body = None
        if shape == 0:
            path += "/" + "p" * 600 + f"?q={i}"
            hs = [(f"x-long-{j}", f"{m}-{i}-{j}") for j in range(8)]
        elif shape == 1:
            hs = [("cookie", f"a={i}"), ("cookie", f"b={m}")]
        elif shape == 2:
            body = hashlib.shake_256(f"{m}{i}".encode()).digest(9000 + i)
        else:
            authority = f"other{i}.test"
        r = c.response(c.request(path, "POST" if body else "GET",
                                 headers=hs, body=body,
                                 authority=authority))
        assert isinstance(r, dict) and r["status"] == 200, (i, r)
        sent.append((path, dict(hs), authority, body))
    seen = got(backends, m)
    assert len(seen) == len(sent), seen
    for (path, hs, authority, body), e in zip(sent, seen):
        assert e["target"] == path
        assert e["headers"]["host"] == authority
        extra = {k for k in e["headers"] if k.startswith("x-long-")}
        assert extra == {k for k in hs if k.startswith("x-long-")}, e
        for k in extra:
            assert e["headers"][k] == hs[k]
        if "cookie" in hs:
            assert e["headers"]["cookie"] == f"a={path.rsplit('/', 1)[1]}; b={m}"
        else:
            assert "cookie" not in e["headers"], e
        assert e["body_bytes"] == (len(body) if body else 0), e
        assert ("transfer-encoding" in e["headers"]) == bool(body), e
    c.close()


def pad_of(tag, n):
    """n bytes that HPACK can neither index usefully nor shrink much."""
    return hashlib.shake_256(tag.encode()).hexdigest(n // 2 + 1)[:n]


def head_for(path):
    """The response head the origin below sends for path
    ("/heads/<tag>/<pad>"): fields that name the request, a pad field of
    <pad> bytes, and a body that names it too."""
    tag, pad = path.split("/")[2], int(path.split("/")[3])
    body = path.encode()
    fields = [("X-Path", path), ("X-Tag-" + tag, tag),
              ("X-Pad", pad_of(tag, pad)), ("Content-Length", str(len(body)))]
    head = "HTTP/1.1 200 OK\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in fields) + "\r\n"
    return head.encode() + body


def heads_origin():
    """An HTTP/1.1 keep-alive origin (in the client namespace) answering
    every GET with head_for(its path); a thread per connection."""
    ls = raw.sockets_in(h.CLI_NS, 1, socket.AF_INET)[0]
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((h.ALLOWED4, HEADS_PORT))
    ls.listen(256)
    conns = []

    def serve(conn):
        try:
            for head in raw.request_heads(conn):
                conn.sendall(head_for(head.split(b" ")[1].decode()))
        except OSError:
            pass
        finally:
            conn.close()

    def accept():
        while True:
            try:
                conn, _ = ls.accept()
            except OSError:
                return
            conns.append(conn)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return ls, conns


def test_response_heads_stay_with_their_streams(gw, backends):
    """A response's fields are handed to nghttp2 from the stream's own
    buffer, not copied, and read when the HEADERS frame is packed. Rounds
    of 80 concurrent streams on one connection, each answered with fields
    of its own (its path, a name of its own, a pad field from 0 to 6 KiB,
    so the buffer grows past its first size and past what a spare stream
    keeps, and stream objects are reused in between), read by a client
    that lets them pile up first: every stream gets exactly its own
    response's fields, nothing of another's. Fails when the streams'
    heads share one buffer."""
    ls, conns = heads_origin()
    # a small receive buffer, and a pause before reading: the responses
    # pile up in the gateway, their HEADERS queued in nghttp2 unpacked
    # while its output waits, so fields are read long after submission
    s = raw.sockets_in(h.CLI_NS, 1, src=h.ALLOWED4)[0]
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(15)
    s.connect((h.SRV4, PORT))
    c = u.Client(PORT, sock_=s)
    try:
        pads = [0, 40, 700, 3000, 6000]
        for rnd in range(4):
            sids = {}
            for i in range(80):
                pad = pads[(i + rnd) % len(pads)]
                path = f"/heads/t{rnd}x{i}/{pad}"
                sids[c.request(path)] = path
            time.sleep(1)
            for sid, path in sids.items():
                r = c.response(sid, timeout=15)
                assert isinstance(r, dict) and r["status"] == 200, (path, r)
                hs = {(k.decode() if isinstance(k, bytes) else k):
                      (v.decode() if isinstance(v, bytes) else v)
                      for k, v in r["headers"].items()}
                tag, pad = path.split("/")[2], int(path.split("/")[3])
                assert hs.get("x-path") == path, (path, hs.get("x-path"))
                assert hs.get("x-tag-" + tag) == tag, (path, hs)
                assert hs.get("x-pad", "") == pad_of(tag, pad), (path, len(
                    hs.get("x-pad", "")))
                others = [k for k in hs if k.startswith("x-tag-")
                          and k != "x-tag-" + tag]
                assert not others, (path, others)
                assert r["body"] == path.encode(), (path, r["body"][:80])
    finally:
        c.close()
        ls.close()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def test_bridge_older_than_half_the_keepalive_is_not_reused(gw, backends):
    """Its other end times out at keepalive_timeout_ms: a stream taking it
    late could find it closing. Such a pair is closed, the stream gets a
    new one and is served."""
    c = u.Client(PORT)
    try:
        b = Bridges()
        assert c.get("/api/age/0")["status"] == 200
        assert b.delta() == (1, 0)
        time.sleep(KEEPALIVE_MS * 0.6 / 1000)
        assert c.get("/api/age/1")["status"] == 200
        assert b.delta() == (1, 0), "a pair parked too long was reused"
    finally:
        c.close()


def test_nothing_left_when_the_connection_goes(gw, backends):
    """Every bridge is two client connections of the worker: when the
    HTTP/2 connection goes, they go (upstream connections stay pooled and
    are not counted)."""
    # the earlier tests' connections are gone (the gauge is sampled on
    # the worker's timer)
    h.wait_for(lambda: raw.metric(ADMIN, "sluice_connections_active") == 0,
               5, what="no client connection left from earlier tests")
    c = u.Client(PORT)
    sids = [c.request(f"/sleep/{50 + 10 * i}") for i in range(8)]
    assert all(c.response(s)["status"] == 200 for s in sids)
    for i in range(8):
        assert c.get(f"/api/left/{i}")["status"] == 200
    h.wait_for(lambda: raw.metric(ADMIN, "sluice_connections_active") >= 3,
               5,
               what="the connection and its parked bridges counted")
    c.close()
    # closed with the connection, not by their keep-alive timeout (4 s)
    h.wait_for(lambda: raw.metric(ADMIN, "sluice_connections_active") ==
               0, 2, what="parked bridges closed")
