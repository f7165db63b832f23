"""Spliced response bodies (docs/HTTP.md, "Spliced response bodies").

A Content-Length body with at least http.splice_min_bytes still to come
after its head moves from the upstream socket to the client socket with
splice(2), never through the gateway's buffers. The origin here is a small
Python server in the server namespace whose bodies are pseudo-random
(SHAKE-256 of the request target), so a byte lost, repeated or moved shows
as a mismatch; it can also send a body slowly or cut it short.
sluice_spliced_response_bytes_total proves which way bodies went.
"""
import hashlib
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

import helpers as h
import raw

PORT = h.GW_PORT + 8
ADMIN = "127.0.0.1:9908"        # in the server netns
ORIGIN_PORT = 9011
METRIC = "sluice_spliced_response_bytes_total"


def body_for(target, n):
    return hashlib.shake_256(target.encode()).digest(n) if n else b""


class Origin:
    """HTTP/1.1 origin, keep-alive, one thread per connection:
      /pat/N          N bytes (body_for), head and body in two writes
      /drip/N/K/MS    the head, then N bytes in K pieces MS ms apart
      /cut/N/M        Content-Length N, but only M bytes, then close
      /chunked/N      N bytes in 16 KiB chunks
    HEAD: the head alone. Every request target is logged."""

    def __init__(self):
        self.ls = raw.sockets_in(h.SRV_NS, 1)[0]
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind((h.SRV4, ORIGIN_PORT))
        self.ls.listen(128)
        self.targets, self.conns, self.stop = [], 0, False
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def _accept(self):
        while not self.stop:
            try:
                s, _ = self.ls.accept()
            except OSError:
                return
            self.conns += 1
            threading.Thread(target=self._serve, args=(s,),
                             daemon=True).start()

    def _serve(self, s):
        s.settimeout(30)
        try:
            for head in raw.request_heads(s):
                method, target, _ = head.split(b"\r\n")[0].decode().split(" ")
                self.targets.append(target)
                if not self._answer(s, method, target):
                    return
        except OSError:
            pass
        finally:
            s.close()

    def _answer(self, s, method, target):
        parts = target.strip("/").split("/")
        kind, nums = parts[0], [int(x) for x in parts[1:] if x.isdigit()]
        n = nums[0] if nums else 0
        body = b"" if method == "HEAD" else body_for(target, n)
        if kind == "chunked":
            s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(body), 16384):
                piece = body[i:i + 16384]
                s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            s.sendall(b"0\r\n\r\n")
            return True
        s.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n"
                  "Content-Type: application/octet-stream\r\n\r\n".encode())
        if kind == "drip":
            k, ms = nums[1], nums[2]
            step = -(-len(body) // k)
            for i in range(0, len(body), step):
                time.sleep(ms / 1000)
                s.sendall(body[i:i + step])
            return True
        if kind == "cut":
            s.sendall(body[:nums[1]])
            time.sleep(0.05)
            return False
        s.sendall(body)
        return True

    def close(self):
        self.stop = True
        raw.close_server(self.ls, self.t)


@pytest.fixture(scope="module")
def origin(topo):
    o = Origin()
    yield o
    o.close()


@pytest.fixture(scope="module")
def gw(origin, workdir):
    s = raw.start(workdir, "gw-splice", workers=1,
                  listeners=[{"address": f"{h.SRV4}:{PORT}"}],
                  services=[{"name": "origin",
                             "targets": [f"{h.SRV4}:{ORIGIN_PORT}"],
                             "connect_timeout_ms": 1000}],
                  routes=[{"name": "all", "path_prefix": "/",
                           "service": "origin"}],
                  top={"admin": {"address": ADMIN}})
    yield s
    s.shutdown()


def metric():
    return raw.metric(ADMIN, METRIC)


def pipes(pid):
    """The pipes sluiced has open (its splice pipes)."""
    n = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            n += str(fd.readlink()).startswith("pipe:")
        except OSError:
            pass
    return n


def get(c, target, method="GET", headers=None):
    c.send(raw.request(method, target, headers=headers))
    return c.response(head_method=method == "HEAD")


def check(r, target, n):
    assert r.status == 200, r
    assert r.header("content-length") == str(n), r
    assert len(r.body) == n, f"{target}: {len(r.body)} of {n} bytes"
    assert r.body == body_for(target, n), f"{target}: body differs"


def test_large_bodies_spliced_intact(gw):
    """On one keep-alive connection (one pooled upstream connection),
    bodies of every size arrive intact. Once a large response has been
    seen on the upstream connection, the next large ones are spliced:
    all of their body but what came in the head's receive (at most 1 KiB
    with it). Small ones are not."""
    sizes = [20000, 20000, 300, 70000, 1 << 20, 9000, 5000, 200000, 8192,
             100, 3 << 20]
    before = metric()
    c = raw.Conn(port=PORT, timeout=20)
    low = high = 0
    prev_large = False
    for i, n in enumerate(sizes):
        t = f"/pat/{n}/{raw.uniq('s')[1:]}"
        check(get(c, t), t, n)
        if n >= 8192 + 1024 and prev_large:
            low += n - 1024     # at least this much left to splice
        if n >= 8192:
            high += n
        prev_large = n >= 8192
    c.close()
    moved = metric() - before
    assert low <= moved <= high, (low, moved, high)


def test_pipelined_large_responses_in_order(gw):
    """Requests sent at once are answered in order, bodies intact, the
    spliced ones included."""
    c = raw.Conn(port=PORT, timeout=20)
    warm = f"/pat/50000/{raw.uniq('w')[1:]}"
    check(get(c, warm), warm, 50000)
    reqs = [(f"/pat/{n}/{raw.uniq('p')[1:]}", n)
            for n in (40000, 12, 300000, 9999, 65536, 1)]
    before = metric()
    c.send(b"".join(raw.request("GET", t) for t, _ in reqs))
    for t, n in reqs:
        check(c.response(), t, n)
    c.close()
    assert metric() - before >= 40000 - 1024


def test_slow_upstream_body(gw):
    """The body arrives in pieces 30 ms apart: the splice waits for the
    upstream between them (a poll) and the client gets every byte."""
    c = raw.Conn(port=PORT, timeout=20)
    warm = f"/pat/30000/{raw.uniq('w')[1:]}"
    check(get(c, warm), warm, 30000)
    before = metric()
    t = f"/drip/400000/12/30/{raw.uniq('d')[1:]}"
    check(get(c, t), t, 400000)
    assert metric() - before >= 400000 - 1024
    # the connection is still good for the next request
    t2 = f"/pat/100/{raw.uniq('n')[1:]}"
    check(get(c, t2), t2, 100)
    c.close()


def test_slow_client(gw):
    """A client that does not read for a while: the splice waits for the
    client (socket buffers full) and resumes, every byte in order."""
    c = raw.Conn(port=PORT, timeout=30, connect=False)
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    c.s.connect(c.dst)
    warm = f"/pat/30000/{raw.uniq('w')[1:]}"
    check(get(c, warm), warm, 30000)
    n = 12 << 20
    t = f"/pat/{n}/{raw.uniq('c')[1:]}"
    before = metric()
    c.send(raw.request("GET", t))
    time.sleep(1.0)             # the gateway fills what buffers there are
    got = bytearray()
    head = c.read_head()
    assert head.status == 200, head
    got += c.buf
    c.buf = b""
    while len(got) < n:
        d = c.s.recv(65536)
        assert d, f"closed after {len(got)} of {n} bytes"
        got += d
        if len(got) < (1 << 20):
            time.sleep(0.002)   # slow at first
    assert bytes(got) == body_for(t, n)
    assert metric() - before >= n - 1024
    c.close()


def _pipes_settle(pid, want_at_most):
    raw.wait_until(lambda: pipes(pid) <= want_at_most, 5,
                   f"sluiced's pipes back to {want_at_most}")


def test_upstream_closes_within_the_body(gw, origin):
    """The upstream sends half a spliced body and closes: the client's
    connection is closed (the response cannot be completed), nothing
    hangs, no pipe is left behind, and the gateway serves on."""
    pid = raw.sluiced_pid(gw)
    base = None
    for i in range(7):
        c = raw.Conn(port=PORT, timeout=10)
        warm = f"/pat/20000/{raw.uniq('w')[1:]}"
        check(get(c, warm), warm, 20000)
        before = metric()
        t = f"/cut/300000/150000/{raw.uniq('x')[1:]}"
        c.send(raw.request("GET", t))
        head = c.read_head()
        assert head.status == 200 and \
            head.header("content-length") == "300000", head
        # every byte the upstream sent, then the end of the connection
        rest = c.read_until_close(limit=300000)
        assert rest == body_for(t, 300000)[:150000], len(rest)
        assert metric() - before >= 150000 - 1024
        c.close()
        if base is None:        # after one round: the pipe cache as used
            time.sleep(0.2)
            base = pipes(pid)
        else:
            _pipes_settle(pid, base)
    c = raw.Conn(port=PORT, timeout=10)
    t = f"/pat/40000/{raw.uniq('a')[1:]}"
    check(get(c, t), t, 40000)
    c.close()


def test_client_leaves_within_the_body(gw):
    """Clients that close while a large body is being spliced to them:
    the upstream connection and the pipe (bytes still in it) are closed,
    no descriptor leaks, and the gateway serves on."""
    pid = raw.sluiced_pid(gw)
    c = raw.Conn(port=PORT, timeout=10)
    warm = f"/pat/20000/{raw.uniq('w')[1:]}"
    check(get(c, warm), warm, 20000)
    c.close()
    time.sleep(0.2)
    base = pipes(pid)
    fds0 = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    for i in range(8):
        c = raw.Conn(port=PORT, timeout=10)
        w = f"/pat/20000/{raw.uniq('w')[1:]}"
        check(get(c, w), w, 20000)
        c.send(raw.request("GET", f"/pat/{32 << 20}/{raw.uniq('l')[1:]}"))
        c.read_head()
        c.s.recv(100000)
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                       b"\x01\x00\x00\x00\x00\x00\x00\x00")   # reset
        c.close()
    _pipes_settle(pid, base)
    raw.wait_until(
        lambda: len(list(Path(f"/proc/{pid}/fd").iterdir())) <= fds0 + 2,
        5, "sluiced's descriptors back to where they were")
    c = raw.Conn(port=PORT, timeout=10)
    t = f"/pat/40000/{raw.uniq('a')[1:]}"
    check(get(c, t), t, 40000)
    c.close()


def test_not_spliced(gw):
    """Chunked bodies, HEAD, small bodies and HTTP/1.0 de-chunking are not
    spliced; their bodies arrive intact all the same."""
    c = raw.Conn(port=PORT, timeout=10)
    warm = f"/pat/30000/{raw.uniq('w')[1:]}"
    check(get(c, warm), warm, 30000)
    before = metric()
    t = f"/chunked/100000/{raw.uniq('k')[1:]}"
    r = get(c, t)
    assert r.status == 200 and r.body == body_for(t, 100000)
    t = f"/pat/100000/{raw.uniq('h')[1:]}"
    r = get(c, t, method="HEAD")
    assert r.status == 200 and r.header("content-length") == "100000"
    for n in (8000, 5000):
        t = f"/pat/{n}/{raw.uniq('m')[1:]}"
        check(get(c, t), t, n)
    c.close()
    assert metric() - before == 0


def test_http10_and_close(gw):
    """A spliced body to an HTTP/1.0 client and to one that asked to close:
    intact, then the connection closes."""
    for version, hdrs in (("1.0", None), ("1.1", [("Connection", "close")])):
        c = raw.Conn(port=PORT, timeout=10)
        warm = f"/pat/30000/{raw.uniq('w')[1:]}"
        check(get(c, warm, headers=[("Connection", "keep-alive")]),
              warm, 30000)
        before = metric()
        t = f"/pat/500000/{raw.uniq('v')[1:]}"
        c.send(raw.request("GET", t, headers=hdrs, version=version))
        check(c.response(), t, 500000)
        assert c.closed(), "connection left open"
        assert metric() - before >= 500000 - 1024
        c.close()


def test_splice_off_by_reload(gw, workdir):
    """http.splice_min_bytes: 0 turns splicing off (a reload applies it);
    bodies arrive intact the usual way."""
    cfg = Path(gw.config)
    text = cfg.read_text()
    try:
        cfg.write_text(text + "http:\n  splice_min_bytes: 0\n")
        n0 = gw.output().count("reload: configuration applied")
        gw.p.send_signal(signal.SIGHUP)
        raw.wait_until(lambda: gw.output().count(
            "reload: configuration applied") > n0, 10, "the reload")
        before = metric()
        c = raw.Conn(port=PORT, timeout=10)
        for n in (30000, 30000, 1 << 20):
            t = f"/pat/{n}/{raw.uniq('o')[1:]}"
            check(get(c, t), t, n)
        c.close()
        assert metric() - before == 0
    finally:
        cfg.write_text(text)
        n0 = gw.output().count("reload: configuration applied")
        gw.p.send_signal(signal.SIGHUP)
        raw.wait_until(lambda: gw.output().count(
            "reload: configuration applied") > n0, 10, "the reload back")
    c = raw.Conn(port=PORT, timeout=10)
    before = metric()
    for n in (30000, 30000):
        t = f"/pat/{n}/{raw.uniq('b')[1:]}"
        check(get(c, t), t, n)
    c.close()
    assert metric() - before >= 30000 - 1024
