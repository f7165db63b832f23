"""HTTP semantics through sluiced: keep-alive, HTTP/1.0, HEAD/204/304,
Expect: 100-continue, websocket tunnels, timeouts, upstream pools."""
import os
import re
import socket
import threading
import time

import pytest

import helpers as h
import raw

# sluiced instances a test starts for itself listen here, so that they never
# share a port (SO_REUSEPORT) with this module's shared gateways
OWN_PORT = h.GW_PORT + 3
OWN = [{"address": f"{h.SRV4}:{OWN_PORT}"}]


def own_conn(**kw):
    return raw.Conn(port=OWN_PORT, **kw)


@pytest.fixture(scope="module")
def gw(backends, workdir):
    s = raw.start(workdir, "gw-sem", http={"tunnel_timeout_ms": 5000})
    yield s
    s.shutdown()


def test_keepalive_and_connection_close(gw):
    c = raw.Conn()
    for i in range(3):
        c.send(raw.request("GET", f"/ka/{i}"))
        r = c.response()
        assert r.status == 200 and r.json()["path"] == f"/ka/{i}"
        assert (r.header("connection") or "").lower() == "keep-alive"
    c.send(raw.request("GET", "/ka/last", headers=[("Connection", "close")]))
    r = c.response()
    assert r.status == 200
    assert (r.header("connection") or "").lower() == "close"
    assert c.closed()
    c.close()


def test_http10_default_close_and_keepalive(gw):
    c = raw.Conn()
    c.send(raw.request("GET", "/h10/a", version="1.0", host=None))
    r = c.response()
    assert r.status == 200 and r.json()["http_version"] == "HTTP/1.0"
    assert (r.header("connection") or "").lower() == "close"
    assert c.closed()
    c.close()
    c = raw.Conn()
    for i in range(2):
        c.send(raw.request("GET", f"/h10/ka{i}", version="1.0",
                           headers=[("Connection", "keep-alive")]))
        r = c.response()
        assert r.status == 200, r
        assert (r.header("connection") or "").lower() == "keep-alive"
    c.close()


def test_http10_client_gets_chunked_response_dechunked(gw):
    c = raw.Conn()
    c.send(raw.request("GET", "/chunked/100000", version="1.0"))
    r = c.response()
    assert r.status == 200, r
    assert r.header("transfer-encoding") is None, r
    assert r.header("content-length") is None
    assert r.body == b"x" * 100000       # read until close
    c.close()


def test_head_204_304_have_no_body(gw):
    c = raw.Conn()
    c.send(raw.request("HEAD", "/bytes/5000"))
    r = c.response(head_method=True)
    assert r.status == 200 and r.header("content-length") == "5000"
    for st in (204, 304):
        c.send(raw.request("GET", f"/status/{st}"))
        r = c.response()
        assert r.status == st and r.body == b""
    # the connection is still in sync: a normal request works
    c.send(raw.request("GET", "/after-no-body"))
    r = c.response()
    assert r.status == 200 and r.json()["path"] == "/after-no-body"
    assert c.buf == b""
    c.close()


def warm(c):
    """One exchange first: the connection's receive between requests is
    then an armed (multishot) one, and what follows arrives through it."""
    c.send(raw.request("GET", "/ka/warm"))
    assert c.response().status == 200


@pytest.mark.parametrize("armed", [False, True], ids=["first", "armed"])
def test_expect_100_continue(gw, backends, armed):
    p = raw.uniq("expect")
    c = raw.Conn()
    if armed:
        warm(c)
    c.send(f"POST {p} HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n"
           "Expect: 100-continue\r\n\r\n")
    interim = c.read_head()
    assert interim.status == 100, interim
    c.send("hello world")
    r = c.response()
    assert r.status == 200 and r.json()["body_bytes"] == 11
    c.close()
    assert len(raw.backend_entries(backends["b1"], p)) == 1


@pytest.mark.parametrize("armed", [False, True], ids=["first", "armed"])
def test_websocket_tunnel(gw, backends, armed):
    c = raw.Conn()
    if armed:
        warm(c)
    c.send(raw.request("GET", "/ws/chat", headers=[
        ("Connection", "Upgrade"), ("Upgrade", "websocket"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13")]))
    r = c.read_head()
    assert r.status == 101, r
    assert (r.header("upgrade") or "").lower() == "websocket"
    assert "upgrade" in (r.header("connection") or "").lower()
    # the backend saw the handshake headers
    e = raw.backend_entries(backends["b1"], "/ws/chat")[-1]
    hl = {k.lower(): v for k, v in e["header_list"]}
    assert hl["upgrade"] == "websocket" and hl["connection"] == "upgrade"
    assert hl["sec-websocket-key"] == "dGhlIHNhbXBsZSBub25jZQ=="
    # bytes both ways, unchanged, including ones that look like HTTP
    msgs = [b"\x81\x05hello", b"GET /evil HTTP/1.1\r\n\r\n", bytes(range(256))]
    for m in msgs:
        c.send(m)
        assert c._take(len(m)) == m
    # a large transfer: 2 MiB echoed while we keep sending
    big = bytes((i * 7) & 0xff for i in range(2 << 20))
    got = bytearray()
    c.s.setblocking(True)
    c.s.settimeout(10)
    t = threading.Thread(target=c.s.sendall, args=(big,))
    t.start()
    while len(got) < len(big):
        d = c.s.recv(1 << 20)
        assert d, "tunnel closed early"
        got += d
    t.join()
    assert bytes(got) == big
    # half-close: our FIN reaches the backend, its FIN comes back
    c.s.shutdown(socket.SHUT_WR)
    assert c.read_until_close() == b""
    c.close()
    assert not raw.backend_entries(backends["b1"], "/evil")


def test_websocket_tunnel_idle_timeout(gw):
    c = raw.Conn(timeout=15)
    c.send(raw.request("GET", "/ws/idle", headers=[
        ("Connection", "upgrade"), ("Upgrade", "websocket")]))
    assert c.read_head().status == 101
    t0 = time.monotonic()
    assert c.closed(timeout=12), "idle tunnel not closed"
    assert time.monotonic() - t0 >= 4.0     # tunnel_timeout_ms: 5000
    c.close()


def test_non_websocket_upgrade_is_plain_http(gw, backends):
    p = raw.uniq("h2c")
    c = raw.Conn()
    c.send(raw.request("GET", p, headers=[("Connection", "Upgrade"),
                                           ("Upgrade", "h2c")]))
    r = c.response()
    assert r.status == 200, r
    c.close()
    names = [k.lower() for k, _ in
             raw.backend_entries(backends["b1"], p)[0]["header_list"]]
    assert "upgrade" not in names


def test_unrequested_101_is_502(gw):
    c = raw.Conn()
    c.send(raw.request("GET", "/force101"))
    r = c.response()
    assert r.status == 502 and r.json()["error"] == "bad_gateway", r
    c.close()


# ---- timeouts --------------------------------------------------------------

@pytest.fixture(scope="module")
def gw_fast(backends, workdir):
    s = raw.start(workdir, "gw-timeouts", http={
        "header_timeout_ms": 1000, "body_timeout_ms": 1000,
        "keepalive_timeout_ms": 1000, "response_timeout_ms": 1000},
        listeners=[{"address": f"{h.SRV4}:{h.GW_PORT + 1}"}])
    yield s
    s.shutdown()


def fast_conn(**kw):
    return raw.Conn(port=h.GW_PORT + 1, **kw)


def test_slowloris_gets_408(gw_fast, backends):
    p = raw.uniq("slow")
    c = fast_conn(timeout=10)
    t0 = time.monotonic()
    data = raw.request("GET", p, headers=[("X-Pad", "a" * 40)])
    got = None
    for i in range(len(data) - 2):     # one byte every 100 ms, never ends
        try:
            c.send(data[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(0.1)
        c.s.setblocking(False)
        try:
            got = c.s.recv(4096)
        except BlockingIOError:
            got = None
        finally:
            c.s.setblocking(True)
            c.s.settimeout(10)
        if got:
            break
    elapsed = time.monotonic() - t0
    assert got, "no answer to a slowloris head"
    c.buf = got
    r = c.response()
    assert r.status == 408 and r.json()["error"] == "request_timeout", r
    assert (r.header("connection") or "").lower() == "close"
    assert elapsed >= 0.9, elapsed     # the head timeout is from the start
    c.close()
    assert raw.backend_entries(backends["b1"], p) == []


def test_silent_connection_closed(gw_fast):
    c = fast_conn(timeout=10)
    assert c.closed(timeout=6)
    c.close()


def test_body_idle_gets_408(gw_fast, backends):
    p = raw.uniq("body-idle")
    c = fast_conn(timeout=10)
    c.send(f"POST {p} HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
    r = c.response()
    assert r.status == 408 and "body" in r.json()["message"], r
    c.close()
    assert raw.backend_entries(backends["b1"], p) == []


def test_keepalive_idle_closes(gw_fast):
    c = fast_conn(timeout=10)
    c.send(raw.request("GET", "/ka-idle"))
    assert c.response().status == 200
    t0 = time.monotonic()
    assert c.closed(timeout=6)
    assert time.monotonic() - t0 >= 0.5
    c.close()


def test_upstream_response_timeout_is_504(gw_fast):
    c = fast_conn(timeout=10)
    c.send(raw.request("GET", "/sleep/3000"))
    r = c.response()
    assert r.status == 504 and r.json()["error"] == "gateway_timeout", r
    c.close()


def test_upstream_connect_timeout_is_502(backends, workdir):
    # 198.18.0.77 is on the server's subnet but nobody answers ARP
    s = raw.start(workdir, "gw-connect-timeout", listeners=OWN, services=[
        {"name": "echo", "targets": ["198.18.0.77:9001"],
         "connect_timeout_ms": 300}])
    try:
        c = own_conn(timeout=10)
        t0 = time.monotonic()
        c.send(raw.request("GET", "/x"))
        r = c.response()
        assert r.status == 502, r
        assert "timed out" in r.json()["message"], r.json()
        assert time.monotonic() - t0 < 5
        c.close()
    finally:
        s.shutdown()


def test_connect_failure_retries_next_target(backends, workdir):
    s = raw.start(workdir, "gw-retry", listeners=OWN, services=[
        {"name": "echo", "targets": [f"{h.SRV4}:{h.DEAD_PORT}",
                                     f"{h.SRV4}:{h.B1_PORT}"],
         "connect_timeout_ms": 500}])
    try:
        for i in range(4):      # round robin starts on the dead one twice
            c = own_conn()
            c.send(raw.request("GET", f"/retry/{i}"))
            r = c.response()
            assert r.status == 200, (i, r)
            c.close()
        # not for a POST: nothing is retried that may have side effects
        codes = []
        for i in range(2):
            c = own_conn()
            c.send(raw.request("POST", f"/retry-post/{i}", body=b"x"))
            codes.append(c.response().status)
            c.close()
        assert sorted(codes) == [200, 502], codes
    finally:
        s.shutdown()


# ---- pools -----------------------------------------------------------------

def upstream_ports(backend, marker):
    return [e["remote_addr"].rsplit(":", 1)[1]
            for e in raw.backend_entries(backend, marker)]


def test_pool_reuses_upstream_connections(gw, backends):
    p = raw.uniq("pool")
    for i in range(4):
        c = raw.Conn()
        c.send(raw.request("GET", f"{p}/{i}"))
        assert c.response().status == 200
        c.close()
    ports = upstream_ports(backends["b1"], p)
    assert len(ports) == 4 and len(set(ports)) == 1, ports


def test_pool_disabled_with_max_idle_0(backends, workdir):
    s = raw.start(workdir, "gw-nopool", listeners=OWN, services=[
        {"name": "echo", "targets": [f"{h.SRV4}:{h.B1_PORT}"],
         "max_idle": 0}])
    try:
        p = raw.uniq("nopool")
        for i in range(3):
            c = own_conn()
            c.send(raw.request("GET", f"{p}/{i}"))
            assert c.response().status == 200
            c.close()
        ports = upstream_ports(backends["b1"], p)
        assert len(set(ports)) == 3, ports
    finally:
        s.shutdown()


def test_pool_retries_a_request_the_backend_dropped(backends, workdir):
    """A pooled connection the backend closes as the next request arrives
    (its keep-alive timeout racing ours): a request without a body is sent
    again on a new connection, once; one with a body is not (it may have
    been acted on) and gets a 502."""
    port = 9014
    b4 = h.start_backend("b4", [f"{h.SRV4}:{port}"], workdir)
    s = raw.start(workdir, "gw-droppool", listeners=OWN, services=[
        {"name": "echo", "targets": [f"{h.SRV4}:{port}"]}])
    try:
        p = raw.uniq("dropped")
        c = own_conn()
        c.send(raw.request("GET", "/drop-next"))
        assert c.response().status == 200
        c.send(raw.request("GET", f"{p}/get"))
        r = c.response()
        assert r.status == 200, r
        assert r.json()["path"] == f"{p}/get"
        got = raw.backend_entries(b4, f"{p}/get")
        assert len(got) == 2, got       # dropped once, then answered
        assert got[0]["remote_addr"] != got[1]["remote_addr"], got
        c.send(raw.request("GET", "/drop-next"))
        assert c.response().status == 200
        c.send(raw.request("POST", f"{p}/post", body=b"once"))
        r = c.response()
        assert r.status == 502, r
        assert "without a complete response" in r.json()["message"], r
        assert len(raw.backend_entries(b4, f"{p}/post")) == 1
        c.close()
    finally:
        s.shutdown()
        b4.stop()


def test_pool_detects_connections_the_backend_closed(backends, workdir):
    port = 9013
    b3 = h.start_backend("b3", [f"{h.SRV4}:{port}"], workdir)
    s = raw.start(workdir, "gw-deadpool", listeners=OWN, services=[
        {"name": "echo", "targets": [f"{h.SRV4}:{port}"]}])
    try:
        c = own_conn()
        c.send(raw.request("GET", "/before"))
        assert c.response().status == 200
        # the backend restarts: every pooled connection is dead now
        assert b3.stop() == 0
        b3 = h.start_backend("b3", [f"{h.SRV4}:{port}"], workdir)
        for i in range(3):
            c.send(raw.request("GET", f"/after/{i}"))
            r = c.response()
            assert r.status == 200, r
        c.close()
    finally:
        s.shutdown()
        b3.stop()


# ---- receives that stay armed across requests -------------------------------
# Between requests a keep-alive client, and an upstream waiting for its
# response, have a multishot receive that carries on over many requests,
# with a byte limit their input buffer can always take (proxy.c,
# post_recv_armed): it ends after about 20 KiB from a client and 8 KiB from
# an upstream, and the next one is armed. These cross those limits many
# times, at every offset.

def kernel_version():
    return tuple(int(x) for x in
                 re.match(r"(\d+)\.(\d+)", os.uname().release).groups())


def long_keepalive(conn, backend):
    """300 requests of every size up to 1.5 KiB on one connection."""
    p = raw.uniq("armed")
    sizes = [(i * 37) % 1500 for i in range(300)]
    for i, n in enumerate(sizes):
        body = bytes([65 + i % 26]) * n
        conn.send(raw.request("POST" if n else "GET", f"{p}/{i}", body=body))
        r = conn.response()
        assert r.status == 200, (i, r)
        j = r.json()
        assert j["path"] == f"{p}/{i}" and j["body_bytes"] == n, (i, j)
    conn.close()
    # one upstream connection carried them all (its receive too)
    ports = upstream_ports(backend, p)
    assert len(ports) == len(sizes) and len(set(ports)) == 1, set(ports)


def pipelined_flood(conn, backend):
    """While a request waits on the backend, the client sends ~150 KiB of
    pipelined requests: far more than the gateway may buffer. It reads
    what its input buffer holds, stops reading (the rest waits in TCP),
    and answers every request, in order."""
    p = raw.uniq("flood")
    n = 1000
    reqs = [raw.request("GET", "/sleep/300")] + [
        raw.request("GET", f"{p}/{i}", headers=[("X-Pad", "p" * 100)])
        for i in range(n)]
    data = b"".join(reqs)
    assert len(data) > 150_000
    conn.s.settimeout(20.0)
    # a first exchange: the connection's receive is an armed one after it
    conn.send(raw.request("GET", f"{p}/first"))
    assert conn.response().status == 200
    t = threading.Thread(target=conn.send, args=(data,))
    t.start()
    try:
        r = conn.response()
        assert r.status == 200 and r.json()["path"] == "/sleep/300", r
        for i in range(n):
            r = conn.response()
            assert r.status == 200, (i, r)
            assert r.json()["path"] == f"{p}/{i}", (i, r)
    finally:
        t.join(20)
        conn.close()
    assert not t.is_alive()
    log = raw.backend_entries(backend, p)
    assert [e["path"] for e in log] == [f"{p}/first"] + [
        f"{p}/{i}" for i in range(n)]


def test_receives_between_requests_are_armed(gw):
    if kernel_version() < (6, 17):
        pytest.skip("multishot receives with a byte limit need Linux 6.17+")
    assert "receives between requests: armed" in gw.output()


def test_long_keepalive_connection_crosses_receive_limits(gw, backends):
    long_keepalive(raw.Conn(), backends["b1"])


def test_pipelined_flood_while_a_request_waits(gw, backends):
    pipelined_flood(raw.Conn(), backends["b1"])


def test_one_receive_at_a_time_when_multishot_is_off(backends, workdir):
    """The path kernels before 6.17 take (SLUICE_NO_MULTISHOT forces it):
    the same exchanges, one receive posted at a time."""
    s = h.Sluiced(raw.write_cfg(workdir, "gw-single", listeners=OWN),
                  workdir, tag="gw-single", env={"SLUICE_NO_MULTISHOT": "1"})
    try:
        s.start()
        # the worker logs it as it starts, after "ready": wait for it
        s.wait_output("receives between requests: one at a time", 10)
        long_keepalive(own_conn(), backends["b1"])
        pipelined_flood(own_conn(), backends["b1"])
    finally:
        s.shutdown()


def test_client_half_close_after_request_gets_response(gw):
    """The armed receive sees the client's FIN while its request is in
    flight: the response still comes, then the connection closes."""
    c = raw.Conn()
    c.send(raw.request("GET", "/ka/first"))
    assert c.response().status == 200
    c.send(raw.request("GET", "/sleep/200"))
    c.s.shutdown(socket.SHUT_WR)
    r = c.response()
    assert r.status == 200 and r.json()["path"] == "/sleep/200", r
    assert c.closed()
    c.close()


def test_backend_bytes_past_its_response_are_never_a_response(workdir):
    """A backend that sends more than its response declares: the excess
    arrives on the upstream's armed receive during the exchange. It must
    not be read as the answer to the next request: that connection is not
    reused."""
    port = 9015
    srv = raw.sockets_in(h.SRV_NS, 1)[0]
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((h.SRV4, port))
    srv.listen(8)
    srv.settimeout(10)
    conns = []
    stop = [False]

    def serve():
        def one(s):
            s.settimeout(10)
            try:
                for head in raw.request_heads(s):
                    path = head.split(b" ")[1]
                    body = b"ok:" + path
                    junk = (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
                            b"SMUGG" if path.endswith(b"/junk") else b"")
                    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: " +
                              str(len(body)).encode() + b"\r\n\r\n" + body +
                              junk)
            except OSError:
                return
            finally:
                s.close()
        while not stop[0]:
            try:
                s, _ = srv.accept()
            except OSError:
                return
            conns.append(s)
            threading.Thread(target=one, args=(s,), daemon=True).start()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    s = raw.start(workdir, "gw-junk", listeners=OWN, services=[
        {"name": "echo", "targets": [f"{h.SRV4}:{port}"]}])
    try:
        c = own_conn()
        for path in ("/a", "/b/junk", "/c", "/d/junk", "/e"):
            c.send(raw.request("GET", path))
            r = c.response()
            assert r.status == 200 and r.body == b"ok:" + path.encode(), r
        c.close()
        # a new upstream connection after each response with excess bytes
        assert len(conns) == 3, len(conns)
    finally:
        s.shutdown()
        stop[0] = True
        srv.close()



# ---- the io_uring file table ------------------------------------------------
# A worker's sockets sit in its ring's file table at index fd (no file
# lookup per operation); with SLUICE_FILE_TABLE=24 the low fds do and the
# others are used as they are, and numbers are reused across both.

def ring_sockets(pid):
    """What pid's io_uring file tables and fds hold: ({slot: file},
    {fd: file}) for sockets, from /proc (fdinfo's UserFiles)."""
    table, fds = {}, {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:"):
                fds[int(fd)] = target
            elif target == "anon_inode:[io_uring]":
                with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                    info = f.read()
                files = info.partition("UserFiles:")[2]
                files = files.partition("UserBufs:")[0]
                for m in re.finditer(r"^\s*(\d+): (\S+)$", files, re.M):
                    table[int(m.group(1))] = m.group(2)
        except OSError:
            continue        # closed meanwhile
    return table, fds


def stale_slots(pid):
    """Table slots whose socket is not the one open at that fd (one that
    would keep a closed socket alive)."""
    table, fds = ring_sockets(pid)
    return {k: v for k, v in table.items() if fds.get(k) != v}


def test_file_table_and_plain_sockets_mixed(backends, workdir):
    slots = 24
    s = h.Sluiced(raw.write_cfg(workdir, "gw-ft", listeners=OWN),
                  workdir, tag="gw-ft",
                  env={"SLUICE_FILE_TABLE": str(slots)})
    try:
        s.start()
        assert f"io_uring file table: {slots} slots" in s.output()
        p = raw.uniq("ft")
        for rnd in range(3):
            conns = [own_conn() for _ in range(40)]
            for k in range(3):
                for i, c in enumerate(conns):
                    c.send(raw.request("GET", f"{p}/{rnd}/{i}/{k}"))
                for i, c in enumerate(conns):
                    r = c.response()
                    assert r.status == 200, (rnd, i, k, r)
                    assert r.json()["path"] == f"{p}/{rnd}/{i}/{k}"
            table, fds = ring_sockets(s.pid)
            # both kinds carry connections now
            assert len(table) >= slots // 2, (table, fds)
            assert any(fd >= slots for fd in fds), fds
            assert all(k < slots for k in table), table
            # the worker may still be in the turn that closed a socket
            # (a pooled upstream past the pool's size) and emptied its
            # slot; the update goes with that turn's submissions
            h.wait_for(lambda: not stale_slots(s.pid), 5,
                       what="no slot holding a closed socket")
            for c in conns:
                c.close()
            # the gateway closes them (the listener and at most 40 pooled
            # upstream connections stay): no slot keeps a closed socket
            h.wait_for(lambda: len(ring_sockets(s.pid)[1]) <= 41 and
                       not stale_slots(s.pid), 10,
                       what="client sockets closed, their slots emptied")
        entries = raw.backend_entries(backends["b1"], p)
        assert len(entries) == 3 * 40 * 3
    finally:
        s.shutdown()


def test_no_file_table(backends, workdir):
    """SLUICE_FILE_TABLE=0: no table, every socket used as it is."""
    s = h.Sluiced(raw.write_cfg(workdir, "gw-noft", listeners=OWN),
                  workdir, tag="gw-noft", env={"SLUICE_FILE_TABLE": "0"})
    try:
        s.start()
        assert "io_uring file table: off" in s.output()
        conns = [own_conn() for _ in range(10)]
        for i, c in enumerate(conns):
            c.send(raw.request("GET", f"/noft/{i}"))
        for i, c in enumerate(conns):
            r = c.response()
            assert r.status == 200 and r.json()["path"] == f"/noft/{i}"
        table, fds = ring_sockets(s.pid)
        assert table == {} and len(fds) > 10, (table, fds)
        for c in conns:
            c.close()
    finally:
        s.shutdown()
