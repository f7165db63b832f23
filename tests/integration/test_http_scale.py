"""Scale: 10,000 concurrent keep-alive connections on one worker, and 1 GiB
streamed up and down with the daemon's memory checked.

Memory bounds are asserted on the optimized build only (the ASan build's
allocator and shadow memory make RSS meaningless); both builds must serve
everything correctly.
"""
import contextlib
import os
import resource
import selectors
import signal
import socket
import threading
import time

import pytest

import helpers as h
import raw

ASAN = "/asan/" in str(h.SLUICED)
N_CONNS = 10_000
WAVE = 250
PORT = h.GW_PORT + 4
ADMIN = "127.0.0.1:9904"        # in the server netns


@pytest.fixture(scope="module")
def nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < N_CONNS + 1000:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {N_CONNS + 1000}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture(scope="module")
def gw(backends, workdir, nofile):
    s = raw.start(workdir, "gw-scale", workers=1,
                  listeners=[{"address": f"{h.SRV4}:{PORT}"}],
                  # 64 client receive buffers (the default is 512): the
                  # burst test's arrivals outnumber them many times over
                  http={"max_connections": N_CONNS + 2000,
                        "receive_buffers": 64},
                  # the burst test's upstream connections all stay pooled:
                  # 1,200 new connects at once would overflow the test
                  # backend's listen queue
                  services=[{"name": "echo",
                             "targets": [f"{h.SRV4}:{h.B1_PORT}"],
                             "connect_timeout_ms": 1000, "max_idle": 1500}],
                  top={"admin": {"address": ADMIN}})
    yield s
    s.shutdown()


def _send(socks, path_of):
    """One GET on every socket (non-blocking); what _collect() waits for."""
    sel = selectors.DefaultSelector()
    pending = {}
    for i, s in enumerate(socks):
        req = (f"GET {path_of(i)} HTTP/1.1\r\nHost: scale\r\n\r\n").encode()
        s.sendall(req)          # tiny: fits the socket buffer
        pending[s] = b""
        sel.register(s, selectors.EVENT_READ)
    return sel, pending


def _collect(sel, pending, timeout=60):
    """Read every response; returns the number of 200 responses."""
    ok = 0
    deadline = time.monotonic() + timeout
    while pending:
        assert time.monotonic() < deadline, f"{len(pending)} responses missing"
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            d = s.recv(65536)
            assert d, "connection closed by the gateway"
            buf = pending[s] + d
            head, sep, body = buf.partition(b"\r\n\r\n")
            if not sep:
                pending[s] = buf
                continue
            cl = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    cl = int(v)
            if len(body) < cl:
                pending[s] = buf
                continue
            assert len(body) == cl, "extra bytes after a response"
            if head.startswith(b"HTTP/1.1 200 "):
                ok += 1
            del pending[s]
            sel.unregister(s)
    sel.close()
    return ok


def _exchange(socks, path_of, timeout=60):
    """Send one GET on every socket, read every response; returns the
    number of 200 responses. Sockets are non-blocking."""
    return _collect(*_send(socks, path_of), timeout=timeout)


def _all_stopped(pid):
    """Every thread of pid has stopped (kill() returns before they do).
    The kernel's io_uring worker threads (iou-*) run no code of sluiced's
    and are not waited for."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue            # the thread is gone
        # "tid (comm) S ...": the state follows the last ')'
        comm, _, rest = stat.partition("(")[2].rpartition(")")
        if comm.startswith("iou-"):
            continue
        if rest.split()[0] not in ("T", "t"):
            return False
    return True


@contextlib.contextmanager
def _stopped(pid):
    """pid (a sluiced this module started) stopped meanwhile: what is sent
    waits in its sockets, and all of it is there when it resumes."""
    os.kill(pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 10
        while not _all_stopped(pid):
            assert time.monotonic() < deadline, "sluiced did not stop"
            time.sleep(0.001)
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def _connect_all(socks, dst):
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        err = s.connect_ex(dst)
        assert err in (0, 115), err         # EINPROGRESS
        sel.register(s, selectors.EVENT_WRITE)
    left = len(socks)
    deadline = time.monotonic() + 60
    while left:
        assert time.monotonic() < deadline, f"{left} connects pending"
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            assert err == 0, f"connect: {err}"
            sel.unregister(s)
            left -= 1
    sel.close()


def test_10k_keepalive_connections_one_worker(gw):
    pid = gw.pid
    # warm-up: fill the buffer caches so they do not count as per-conn cost
    warm = raw.sockets_in(h.CLI_NS, WAVE, socket.AF_INET, h.ALLOWED4)
    _connect_all(warm, (h.SRV4, PORT))
    for rnd in range(4):    # cycles through every provided buffer
        assert _exchange(warm, lambda i: f"/warm/{rnd}/{i}") == WAVE
    for s in warm:
        s.close()
    time.sleep(0.5)
    rss0 = raw.rss_kib(pid)

    socks = raw.sockets_in(h.CLI_NS, N_CONNS, socket.AF_INET, h.ALLOWED4)
    try:
        ok = 0
        for w in range(0, N_CONNS, WAVE):
            wave = socks[w:w + WAVE]
            _connect_all(wave, (h.SRV4, PORT))
            ok += _exchange(wave, lambda i, w=w: f"/k1/{w + i}")
        assert ok == N_CONNS
        time.sleep(0.5)
        rss1 = raw.rss_kib(pid)
        per_conn = (rss1 - rss0) * 1024 / N_CONNS
        print(f"\nsluiced RSS {rss0} KiB -> {rss1} KiB with {N_CONNS} idle "
              f"keep-alive connections: {per_conn:.0f} bytes each")
        # every connection is still open and served, in any order
        ok = 0
        for w in range(N_CONNS - WAVE, -1, -WAVE):
            ok += _exchange(socks[w:w + WAVE], lambda i, w=w: f"/k2/{w + i}")
        assert ok == N_CONNS
        if not ASAN:
            assert per_conn < 1024, f"{per_conn:.0f} bytes per idle connection"
    finally:
        for s in socks:
            s.close()


def _metric(name):
    return raw.metric(ADMIN, name)


def test_more_arrivals_at_once_than_receive_buffers(gw):
    """1,200 clients connect and send a request while the worker is
    stopped: when it resumes, it accepts them all and their first receives
    (tried at once, data is there) find 64 client receive buffers. Those
    that find none end (ENOBUFS, counted) and are posted again. Then three
    more bursts on the same connections, whose receives are armed now (the
    kernel runs those in small batches per turn of the loop). Every request
    is answered."""
    n = 1200
    socks = raw.sockets_in(h.CLI_NS, n, socket.AF_INET, h.ALLOWED4)
    try:
        before = _metric("sluice_receive_buffers_exhausted_total")
        with _stopped(gw.pid):
            _connect_all(socks, (h.SRV4, PORT))
            sent = _send(socks, lambda i: f"/burst/0/{i}")
        assert _collect(*sent) == n
        after = _metric("sluice_receive_buffers_exhausted_total")
        assert after > before, (before, after)
        for r in range(1, 4):
            with _stopped(gw.pid):
                sent = _send(socks, lambda i, r=r: f"/burst/{r}/{i}")
            assert _collect(*sent) == n
    finally:
        for s in socks:
            s.close()


def test_more_upstream_responses_at_once_than_the_ring_holds(gw):
    """64 responses reach the gateway while its worker is stopped: when it
    resumes, one turn of its loop finds 64 upstream receives ready and a
    ring that starts at 16 large receive buffers (the rest of the 128 wait
    on the free stack; it grows only after turns that run it dry). The
    receives that find the ring empty are posted again and served in the
    next turns; no buffer was missing, so none counts as exhausted, and
    every response arrives whole."""
    n = 64
    socks = raw.sockets_in(h.CLI_NS, n, socket.AF_INET, h.ALLOWED4)
    try:
        _connect_all(socks, (h.SRV4, PORT))
        before = _metric("sluice_receive_buffers_exhausted_total")
        sent = _send(socks, lambda i: f"/sleep/500?ring={i}")
        time.sleep(0.2)         # forwarded: the backend sleeps on them
        with _stopped(gw.pid):
            time.sleep(0.8)     # and answers meanwhile
        assert _collect(*sent) == n
        after = _metric("sluice_receive_buffers_exhausted_total")
        assert after == before, (before, after)
    finally:
        for s in socks:
            s.close()


def test_receive_buffers_given_back_are_used_first(backends, workdir):
    """Free receive buffers wait on a stack and the ring is topped up from
    its top: request after request on one keep-alive connection reuses the
    same few buffers. A fresh sluiced's memory grows by a few of them, not
    by a page of each of its 512 client and 128 upstream buffers in turn
    (2,156 KiB over these requests when the ring held every free buffer
    and handed them out in order)."""
    port = h.GW_PORT + 5
    s = raw.start(workdir, "gw-bufreuse", workers=1,
                  listeners=[{"address": f"{h.SRV4}:{port}"}])
    try:
        c = raw.Conn(port=port, timeout=10)

        def requests(k, tag):
            for i in range(k):
                c.send(raw.request("GET", f"/{tag}/{i}"))
                assert c.response().status == 200

        requests(50, "warm-up")
        rss0 = raw.rss_kib(s.pid)
        requests(2000, "reuse")
        rss1 = raw.rss_kib(s.pid)
        c.close()
    finally:
        s.shutdown()
    print(f"\nsluiced RSS {rss0} KiB -> {rss1} KiB over 2,000 requests")
    if not ASAN:
        assert rss1 - rss0 < 1024, f"RSS grew by {rss1 - rss0} KiB"


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, False

    def run(self):
        while not self.stop:
            self.peak = max(self.peak, raw.rss_kib(self.pid))
            time.sleep(0.02)

    def finish(self):
        self.stop = True
        self.join()
        return self.peak


def _upload(n, chunked, path, chunk=1 << 20):
    c = raw.Conn(port=PORT, timeout=60)
    if chunked:
        c.send(f"POST {path} HTTP/1.1\r\nHost: big\r\n"
               "Transfer-Encoding: chunked\r\n\r\n")
    else:
        c.send(f"POST {path} HTTP/1.1\r\nHost: big\r\n"
               f"Content-Length: {n}\r\n\r\n")
    block = bytes((i * 31 + 7) & 0xff for i in range(chunk))
    left = n
    while left:
        k = min(left, chunk)
        if chunked:
            c.s.sendall(b"%x\r\n" % k)
        c.s.sendall(memoryview(block)[:k])
        if chunked:
            c.s.sendall(b"\r\n")
        left -= k
    if chunked:
        c.s.sendall(b"0\r\n\r\n")
    r = c.response()
    c.close()
    return r


def _warm(gw):
    # touch the provided-buffer ring and the buffer caches once
    assert _upload(64 << 20, False, "/warm-up").status == 200
    c = raw.Conn(port=PORT, timeout=60)
    c.send(raw.request("GET", f"/bytes/{64 << 20}"))
    assert len(c.response().body) == 64 << 20
    c.close()
    time.sleep(0.3)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("chunked,size", [(False, 1 << 30), (True, 256 << 20)],
                         ids=["content-length-1GiB", "chunked-256MiB"])
def test_big_upload_bounded_memory(gw, backends, chunked, size):
    _warm(gw)
    rss0 = raw.rss_kib(gw.pid)
    sampler = RssSampler(gw.pid)
    sampler.start()
    path = raw.uniq("upload")
    r = _upload(size, chunked, path)
    peak = sampler.finish()
    assert r.status == 200, r
    assert r.json()["body_bytes"] == size
    e = raw.backend_entries(backends["b1"], path)
    assert len(e) == 1 and e[0]["body_bytes"] == size
    growth = peak - rss0
    print(f"\nupload {size >> 20} MiB ({'chunked' if chunked else 'length'}): "
          f"sluiced RSS {rss0} KiB, peak {peak} KiB (+{growth} KiB)")
    if not ASAN:
        assert growth < 2048, f"RSS grew by {growth} KiB"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["bytes", "chunked"])
def test_big_download_bounded_memory(gw, kind):
    _warm(gw)
    size = 1 << 30
    rss0 = raw.rss_kib(gw.pid)
    sampler = RssSampler(gw.pid)
    sampler.start()
    c = raw.Conn(port=PORT, timeout=60)
    c.send(raw.request("GET", f"/{kind}/{size}"))
    head = c.read_head()
    assert head.status == 200, head
    got, buf = len(c.buf), bytearray(1 << 20)
    bad = c.buf.count(b"x") != len(c.buf) if kind == "bytes" else False
    c.buf = b""
    total_wire = got
    # count payload bytes (chunked: wire bytes include the framing)
    while True:
        n = c.s.recv_into(buf)
        if not n:
            break
        total_wire += n
        if kind == "bytes":
            if total_wire >= size:
                break
        elif total_wire >= size and bytes(buf[max(0, n - 5):n]) == \
                b"0\r\n\r\n":
            break
    peak = sampler.finish()
    c.close()
    assert not bad
    if kind == "bytes":
        assert total_wire == size
    else:
        assert total_wire > size
    growth = peak - rss0
    print(f"\ndownload 1 GiB ({kind}): sluiced RSS {rss0} KiB, peak {peak} "
          f"KiB (+{growth} KiB)")
    if not ASAN:
        assert growth < 2048, f"RSS grew by {growth} KiB"
