"""HTTP/2 streams reuse their bridges (docs/HTTP2.md, "Bridge reuse").

Each stream reaches the HTTP/1.1 path through a socket pair; a stream that
ended cleanly leaves its pair parked, an HTTP/1.1 keep-alive connection
between requests, for the next stream of the same HTTP/2 connection. These
tests find the pairs by their inodes (the daemon's Unix-domain sockets
without a path, from /proc) and check what reuse must never change: each
stream is judged on its own credential, bodies keep their framing, a pair
is not reused once its other end may be about to time out, and nothing is
left when the connection goes.

On the code before reuse, `test_sequential_streams_share_one_bridge`,
`test_each_stream_is_judged_on_its_own_credential` and
`test_bodies_keep_their_framing_on_a_reused_bridge` fail (no pair
outlives its stream); without the age rule,
`test_bridge_older_than_half_the_keepalive_is_not_reused` fails.
"""
import hashlib
import json
import time
import uuid
from pathlib import Path

import pytest

import helpers as h
import h2util as u

PORT = h.GW_PORT + 97
ADMIN = "127.0.0.1:9997"
TOKEN = "h2b-token-" + uuid.uuid4().hex
KEEPALIVE_MS = 4000


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
routes:
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


def bridges(pid):
    """Inodes of the daemon's Unix-domain sockets that have no path:
    the two ends of every bridge (the admin socket has a path)."""
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


def test_sequential_streams_share_one_bridge(gw, backends):
    c = u.Client(PORT)
    m = mark()
    assert c.get(f"/api/{m}/0")["status"] == 200
    first = bridges(gw.pid)
    assert len(first) == 2, f"one parked pair expected, found {first}"
    for i in range(1, 20):
        r = c.get(f"/api/{m}/{i}")
        assert r["status"] == 200, r
        assert bridges(gw.pid) == first, f"stream {i} took a new pair"
    # every stream reached the backend once, each its own request
    seen = sorted(e["target"] for e in got(backends, m))
    assert seen == sorted(f"/api/{m}/{i}" for i in range(20))
    c.close()


def test_each_stream_is_judged_on_its_own_credential(gw, backends):
    """A parked pair carried a request with a token; the next stream on it
    has none, or a wrong one: refused, and the backend never sees it."""
    c = u.Client(PORT)
    m = mark()
    ok = [("authorization", f"Bearer {TOKEN}")]
    assert c.get(f"/private/{m}/a", headers=ok)["status"] == 200
    parked = bridges(gw.pid)
    assert len(parked) == 2
    r = c.get(f"/private/{m}/b")
    assert r["status"] == 401, r
    assert json.loads(r["body"])["error"]
    # the refusal went through the parked pair, which then closes (the
    # gate's refusals end their HTTP/1.1 connection; the close may come
    # a moment after the answer)
    h.wait_for(lambda: not parked & bridges(gw.pid), 5,
               what="the parked pair carrying the refused stream")
    r = c.get(f"/private/{m}/c", headers=[("authorization", "Bearer nope")])
    assert r["status"] == 401, r
    assert c.get(f"/private/{m}/d", headers=ok)["status"] == 200
    again = bridges(gw.pid)
    assert c.get(f"/private/{m}/e")["status"] == 401
    h.wait_for(lambda: not again & bridges(gw.pid), 5,
               what="the parked pair carrying the second refused stream")
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
    pair = None
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
        now = bridges(gw.pid)
        assert len(now) == 2, f"round {i}: no pair parked ({now})"
        assert pair is None or now == pair, f"round {i} took a new pair"
        pair = now
    assert len(got(backends, m)) == 6
    c.close()


def test_bridge_older_than_half_the_keepalive_is_not_reused(gw, backends):
    """Its other end times out at keepalive_timeout_ms: a stream taking it
    late could find it closing. Such a pair is closed, the stream gets a
    new one and is served."""
    c = u.Client(PORT)
    assert c.get("/api/age/0")["status"] == 200
    old = bridges(gw.pid)
    assert len(old) == 2
    time.sleep(KEEPALIVE_MS * 0.6 / 1000)
    assert c.get("/api/age/1")["status"] == 200
    now = bridges(gw.pid)
    assert len(now) == 2 and not now & old, (old, now)
    c.close()


def test_nothing_left_when_the_connection_goes(gw, backends):
    """(Upstream connections stay pooled: only the pairs are counted.)"""
    c = u.Client(PORT)
    sids = [c.request(f"/sleep/{50 + 10 * i}") for i in range(8)]
    assert all(c.response(s)["status"] == 200 for s in sids)
    for i in range(8):
        assert c.get(f"/api/left/{i}")["status"] == 200
    assert len(bridges(gw.pid)) >= 2
    c.close()
    h.wait_for(lambda: not bridges(gw.pid), 5, what="parked pairs closed")
