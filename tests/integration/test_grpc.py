"""gRPC passthrough: services with protocol: h2 (HTTP/2 to the upstream,
h2c or TLS with ALPN h2). Real grpcio origins (grpc_peer.py server) on
127.0.0.1 in the server namespace, behind sluiced; a real grpcio client
(grpc_peer.py client) in the client namespace, over h2c and over TLS with
ALPN h2. Shown: unary bytes intact (hash), a non-OK status with its
details (trailers-only), trailing metadata (text and -bin), server, client
and bidirectional streaming, 1 MiB each way (flow control), bearer auth
(UNAUTHENTICATED from the gateway's 401), grpc_status metric labels
(promtool) and the access log's grpc_status, one upstream call per client
call and pooled upstream connections, 300 concurrent calls, a dead
upstream (UNAVAILABLE from the gateway's 502), an upstream that speaks
HTTP/1.1 (502 naming it), a hung upstream (504) and cancelled calls,
protocol on reload. A raw HTTP/2 origin (h2_origin.py) shows RST_STREAM and
GOAWAY before a response (502 naming them), a reset after the head, an
early answer to an upload, trailers to HTTP/1.1 and HTTP/2 clients,
request trailers to the upstream, and a TLS server without ALPN h2.

Without the feature the gateway refuses `protocol: h2` and none of this
starts. Planted faults (docs/HTTP2.md, "gRPC passthrough"): response
trailers dropped in h2_resp.c fails 10 tests; a trailers-only
response's fields dropped fails the status and metrics tests; HTTP/1.1
sent to the h2 origins fails all but the dead-upstream test.
"""
import hashlib
import json
import os
import random
import re
import shutil
import uuid
from pathlib import Path

import pytest

import h2util as u
import helpers as h
import raw
import tls_util as t

GW = h.GW_PORT + 81
GW_TLS = h.GW_PORT + 82
ADMIN = "127.0.0.1:9981"
ORIGIN = 9481
ORIGIN_TLS = 9482
ROGUE = 9483
ROGUE_TLS = 9484
DEAD = 9489
PEER = Path(__file__).resolve().parent / "grpc_peer.py"
ROGUE_PY = Path(__file__).resolve().parent / "h2_origin.py"
TOKEN = "grpc-token-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def pki(workdir):
    return t.make_pki(workdir / "pki-grpc")


class Origin:
    def __init__(self, workdir, name, port, pki=None):
        self.log = Path(workdir) / f"{name}.jsonl"
        self.log.write_text("")
        argv = ["ip", "netns", "exec", h.SRV_NS, "/usr/bin/python3", PEER,
                "server", "--listen", f"127.0.0.1:{port}", "--log",
                self.log]
        if pki:
            argv += ["--cert", pki / "api-ec.chain.pem",
                     "--key", pki / "api-ec.key"]
        self.p = h.Proc(name, argv, workdir)
        self.p.wait_output("grpc origin ready", 20)

    def calls(self):
        return [json.loads(l) for l in self.log.read_text().splitlines()
                if l.strip()]

    def stop(self):
        self.p.stop()


@pytest.fixture(scope="module")
def origins(topo, workdir, pki):
    o = Origin(workdir, "grpc-origin", ORIGIN)
    try:
        ot = Origin(workdir, "grpc-origin-tls", ORIGIN_TLS, pki)
    except Exception:
        o.stop()
        raise
    yield o, ot
    ot.stop()
    o.stop()


class Rogue:
    """h2_origin.py: a raw HTTP/2 origin that resets, sends GOAWAY, or
    (over TLS) selects another ALPN protocol than h2."""

    def __init__(self, workdir, name, port, pki=None, alpn=None):
        self.log = Path(workdir) / f"{name}.jsonl"
        self.log.write_text("")
        argv = ["ip", "netns", "exec", h.SRV_NS, "/usr/bin/python3",
                ROGUE_PY, "--listen", f"127.0.0.1:{port}", "--log",
                self.log]
        if pki:
            argv += ["--cert", pki / "api-ec.chain.pem",
                     "--key", pki / "api-ec.key", "--alpn", alpn]
        self.p = h.Proc(name, argv, workdir)
        self.p.wait_output("h2 origin ready", 20)

    def requests(self):
        return [json.loads(l) for l in self.log.read_text().splitlines()
                if l.strip()]

    def stop(self):
        self.p.stop()


@pytest.fixture(scope="module")
def rogues(topo, workdir, pki):
    r = Rogue(workdir, "h2-rogue", ROGUE)
    try:
        rt = Rogue(workdir, "h2-rogue-tls", ROGUE_TLS, pki, "http/1.1")
    except Exception:
        r.stop()
        raise
    yield r, rt
    rt.stop()
    r.stop()


@pytest.fixture(scope="module")
def gw(backends, origins, rogues, workdir, pki):
    tls = t.tls_section(pki, ("api-ec",), alpn=["h2", "http/1.1"])
    services = [
        {"name": "grpc", "targets": [f"127.0.0.1:{ORIGIN}"],
         "protocol": "h2", "connect_timeout_ms": 1000},
        {"name": "grpcs", "targets": [f"127.0.0.1:{ORIGIN_TLS}"],
         "protocol": "h2", "connect_timeout_ms": 1000,
         "tls": {"ca": str(pki / "ca.pem"), "sni": "api.test"}},
        {"name": "dead", "targets": [f"127.0.0.1:{DEAD}"],
         "protocol": "h2", "connect_timeout_ms": 1000},
        {"name": "h1", "targets": [f"{h.SRV4}:{h.B1_PORT}"],
         "protocol": "h2", "connect_timeout_ms": 1000},
        {"name": "rogue", "targets": [f"127.0.0.1:{ROGUE}"],
         "protocol": "h2", "connect_timeout_ms": 1000,
         "retries": {"attempts": 1, "per_try_timeout_ms": 300}},
        {"name": "noalpn", "targets": [f"127.0.0.1:{ROGUE_TLS}"],
         "protocol": "h2", "connect_timeout_ms": 1000,
         "tls": {"ca": str(pki / "ca.pem"), "sni": "api.test"}},
    ]
    routes = [
        {"name": "plain", "hosts": ["plain.test"], "path_prefix": "/",
         "service": "grpc"},
        {"name": "secure", "hosts": ["tls.test"], "path_prefix": "/",
         "service": "grpcs"},
        {"name": "dead", "hosts": ["dead.test"], "path_prefix": "/",
         "service": "dead"},
        {"name": "h1", "hosts": ["h1.test"], "path_prefix": "/",
         "service": "h1"},
        {"name": "private", "hosts": ["auth.test"], "path_prefix": "/",
         "service": "grpc", "auth": ["bearer"]},
        {"name": "rogue", "hosts": ["rogue.test"], "path_prefix": "/",
         "service": "rogue"},
        {"name": "rogue-key", "hosts": ["rogue-key.test"],
         "path_prefix": "/", "service": "rogue", "key_header": "X-Token"},
        {"name": "noalpn", "hosts": ["noalpn.test"], "path_prefix": "/",
         "service": "noalpn"},
    ]
    log = workdir / "gw-grpc-access.log"
    top = {"admin": {"address": ADMIN,
                     "socket": str(h.admin_socket_path(workdir, "gw-grpc"))},
           "consumers": [{"name": "grpcuser", "bearer_tokens": [
               "sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest()]}]}
    cfg = raw.write_cfg(workdir, "gw-grpc", listeners=[
        {"address": f"{h.SRV4}:{GW}", "h2c": True},
        {"address": f"{h.SRV4}:{GW_TLS}", "tls": tls}],
        services=services, routes=routes, top=top, access_log=log)
    s = h.Sluiced(cfg, workdir, tag="gw-grpc")
    s.start()
    s.access_log = log
    yield s
    s.shutdown()


def call(calls, authority="plain.test", tls=False, pki=None):
    argv = ["ip", "netns", "exec", h.CLI_NS, "/usr/bin/python3", PEER,
            "client", "--authority", authority]
    if tls:
        argv += ["--target", f"{h.SRV4}:{GW_TLS}", "--ca",
                 str(pki / "ca.pem")]
    else:
        argv += ["--target", f"{h.SRV4}:{GW}"]
    argv.append(json.dumps(calls))
    r = h.run(argv, timeout=60)
    return json.loads(r.stdout)


def unary(method, data, **kw):
    return dict(method=f"/test.Echo/{method}", data_hex=data.hex(), **kw)


def trailer(res, name):
    return [v for k, v in res["trailing"] if k == name]


def metrics():
    r = h.run(["nsenter", f"--net=/run/netns/{h.SRV_NS}", "curl", "-sS",
               "--max-time", "5", f"http://{ADMIN}/metrics"], timeout=10)
    return r.stdout


def grpc_count(text, route, status):
    m = re.search(r'^sluice_grpc_responses_total\{route="%s",'
                  r'grpc_status="%s"\} (\d+)$' % (route, status), text,
                  re.M)
    return int(m.group(1)) if m else 0


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "tls"])
def test_unary_round_trip(gw, origins, pki, tls):
    o = origins[1] if tls else origins[0]
    before = len(o.calls())
    data = os.urandom(3000) + b"\x00\r\n0\r\n\r\n" + os.urandom(100)
    res = call([unary("Unary", data)], authority="tls.test" if tls
               else "plain.test", tls=tls, pki=pki)[0]
    assert res["code"] == "OK", res
    assert res["sha"] == hashlib.sha256(data).hexdigest()
    got = o.calls()[before:]
    assert len(got) == 1, got
    assert got[0]["sha"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "tls"])
def test_trailing_metadata(gw, pki, tls):
    data = b"trailer please"
    res = call([unary("Unary", data)], authority="tls.test" if tls
               else "plain.test", tls=tls, pki=pki)[0]
    assert res["code"] == "OK", res
    assert trailer(res, "x-trailer-text") == [f"len-{len(data)}"]
    assert trailer(res, "x-trailer-bin") == [
        hashlib.sha256(data).hexdigest()]


def test_status_and_details(gw, origins):
    before = len(origins[0].calls())
    res = call([unary("Fail", b"widget-42")])[0]
    assert res["code"] == "NOT_FOUND", res
    assert res["details"] == "no such item: widget-42"
    assert len(origins[0].calls()) == before + 1


def test_server_streaming(gw, pki):
    for tls in (False, True):
        res = call([dict(method="/test.Echo/Stream", data_hex=b"7".hex(),
                         kind="stream")],
                   authority="tls.test" if tls else "plain.test", tls=tls,
                   pki=pki)[0]
        assert res["code"] == "OK", res
        assert res["n"] == 7
        want = hashlib.sha256(b"".join(b"part-%d-" % i + b"x" * 1000
                                       for i in range(7))).hexdigest()
        assert res["sha"] == want


def test_client_and_bidi_streaming(gw, pki):
    rnd = random.Random(11)
    parts = [rnd.randbytes(5000) for _ in range(20)]
    for tls in (False, True):
        res = call([dict(method="/test.Echo/Collect", kind="collect",
                         parts=20, size=5000, seed=11),
                    dict(method="/test.Echo/Echo", kind="echo",
                         parts=20, size=5000, seed=11)],
                   authority="tls.test" if tls else "plain.test", tls=tls,
                   pki=pki)
        assert res[0]["code"] == "OK", res[0]
        want = hashlib.sha256(b"".join(parts)).digest() + b"20"
        assert res[0]["sha"] == hashlib.sha256(want).hexdigest()
        assert res[1]["code"] == "OK", res[1]
        assert res[1]["n"] == 20
        assert res[1]["sha"] == hashlib.sha256(
            b"".join(p[::-1] for p in parts)).hexdigest()


def test_large_messages_both_ways(gw, origins):
    """1 MiB each way: past every flow-control window (64 KiB), so
    WINDOW_UPDATEs must flow on both HTTP/2 legs."""
    big = random.Random(7).randbytes(1 << 20)
    before = len(origins[0].calls())
    res = call([dict(method="/test.Echo/Unary", random=1 << 20, seed=7),
                unary("Size", b"%d" % (1 << 20))])
    assert res[0]["code"] == "OK", res[0]
    assert res[0]["sha"] == hashlib.sha256(big).hexdigest()
    assert res[1]["code"] == "OK", res[1]
    assert res[1]["len"] == 1 << 20
    assert res[1]["sha"] == hashlib.sha256(b"z" * (1 << 20)).hexdigest()
    assert len(origins[0].calls()) == before + 2


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "tls"])
def test_one_upstream_call_per_client_call(gw, origins, pki, tls):
    """Each call reaches the origin once; sequential calls reuse one pooled
    upstream HTTP/2 connection (the pool hands out its newest first)."""
    o = origins[1] if tls else origins[0]
    before = len(o.calls())
    res = call([unary("Unary", b"n-%d" % i) for i in range(10)],
               authority="tls.test" if tls else "plain.test", tls=tls,
               pki=pki)
    assert [r["code"] for r in res] == ["OK"] * 10
    got = o.calls()[before:]
    assert sorted(g["sha"] for g in got) == sorted(
        hashlib.sha256(b"n-%d" % i).hexdigest() for i in range(10))
    assert len({g["peer"] for g in got}) == 1, got


def test_bearer_auth(gw, origins):
    before = len(origins[0].calls())
    res = call([unary("Unary", b"no token"),
                unary("Unary", b"with token",
                      metadata=[["authorization", f"Bearer {TOKEN}"]])],
               authority="auth.test")
    # the gateway's 401 (JSON) reaches grpcio as UNAUTHENTICATED
    assert res[0]["code"] == "UNAUTHENTICATED", res[0]
    assert res[1]["code"] == "OK", res[1]
    # only the authorised call reached the origin
    got = origins[0].calls()[before:]
    assert [g["sha"] for g in got] == [
        hashlib.sha256(b"with token").hexdigest()], got


def test_dead_upstream_is_unavailable(gw):
    res = call([unary("Unary", b"anyone?")], authority="dead.test")[0]
    # the gateway's 502 reaches grpcio as UNAVAILABLE
    assert res["code"] == "UNAVAILABLE", res


def test_http11_upstream_is_named(gw, backends):
    """A service with protocol: h2 whose target speaks HTTP/1.1: 502 with
    a JSON error that says so (grpcio: UNAVAILABLE; the body seen with a
    plain HTTP/2 client)."""
    res = call([unary("Unary", b"h1?")], authority="h1.test")[0]
    assert res["code"] == "UNAVAILABLE", res
    c = u.Client(GW)
    r = c.get("/test.Echo/Unary", method="POST", authority="h1.test",
              headers=[("content-type", "application/grpc"),
                       ("te", "trailers")], body=b"\0\0\0\0\0")
    c.close()
    assert r["status"] == 502, r
    assert "HTTP/1.x, not HTTP/2" in json.loads(r["body"])["message"], r


def log_entries(gw, route, n):
    def got():
        es = [json.loads(l) for l in
              Path(gw.access_log).read_text().splitlines() if l.strip()]
        es = [e for e in es if e.get("route") == route]
        return [es] if len(es) >= n else None
    return h.wait_for(got, 10, what=f"{n} access log lines of {route}")[0]


def test_metrics_and_access_log(gw):
    before = metrics()
    res = call([unary("Fail", b"m1"), unary("Unary", b"m2")])
    assert [r["code"] for r in res] == ["NOT_FOUND", "OK"]
    after = metrics()
    assert grpc_count(after, "plain", 5) == grpc_count(before, "plain",
                                                       5) + 1
    assert grpc_count(after, "plain", 0) == grpc_count(before, "plain",
                                                       0) + 1
    assert "# TYPE sluice_grpc_responses_total counter" in after
    promtool = shutil.which("promtool")
    if promtool:
        r = h.run([promtool, "check", "metrics"], input=after, check=False)
        assert r.returncode == 0 and not r.stdout.strip(), \
            f"promtool check metrics:\n{r.stdout}{r.stderr}"
    n = len(log_entries(gw, "plain", 0))
    res = call([unary("Fail", b"m3"), unary("Unary", b"m4")])
    assert [r["code"] for r in res] == ["NOT_FOUND", "OK"]
    mine = log_entries(gw, "plain", n + 2)
    assert mine[-2]["grpc_status"] == 5 and mine[-1]["grpc_status"] == 0, \
        mine[-2:]


def h2_post(path, authority, body=b"\0\0\0\0\0"):
    c = u.Client(GW)
    try:
        return c.get(path, method="POST", authority=authority, body=body,
                     headers=[("content-type", "application/grpc"),
                              ("te", "trailers")]), c
    finally:
        c.close()


@pytest.mark.parametrize("path,why", [
    ("/reset", "the upstream reset the HTTP/2 stream (INTERNAL_ERROR) "
               "before a complete response"),
    ("/goaway", "the upstream sent GOAWAY before answering"),
])
def test_upstream_refuses_before_answering(gw, rogues, path, why):
    """RST_STREAM or GOAWAY before a response head: 502 JSON naming it
    (grpcio: UNAVAILABLE); the upstream got the request once."""
    before = len(rogues[0].requests())
    r, _ = h2_post(path, "rogue.test")
    assert r["status"] == 502, r
    e = json.loads(r["body"])
    assert e["error"] == "bad_gateway" and e["message"] == why, e
    assert [q["path"] for q in rogues[0].requests()[before:]] == [path]
    assert rogues[0].requests()[-1]["te"] == "trailers"
    res = call([dict(method=path, data_hex="")], authority="rogue.test")[0]
    assert res["code"] == "UNAVAILABLE", res


def test_upstream_protocol_error_is_a_prompt_502(gw, rogues):
    """An upstream that breaks the protocol in a way nghttp2 answers with
    a GOAWAY of its own (here HEADERS on a stream never opened): the
    waiting call gets a 502 naming it at once, not a 504 at the response
    timeout; the connection is not used again."""
    r, _ = h2_post("/idle-headers", "rogue.test")
    assert r["status"] == 502, r
    e = json.loads(r["body"])
    assert e["message"].startswith(
        "the upstream broke the HTTP/2 protocol: PROTOCOL_ERROR"), e
    r, _ = h2_post("/echo", "rogue.test", body=b"after")
    assert r["status"] == 200 and r["body"] == b"after", r


def test_upstream_header_list_is_bounded(gw, rogues):
    """A response header list past http.max_header_bytes (an HPACK block
    can expand a thousandfold) is refused as it is decoded: 502 JSON
    naming it, and the gateway keeps serving."""
    r, _ = h2_post("/big-head", "rogue.test")
    assert r["status"] == 502, r
    e = json.loads(r["body"])
    assert "header list passed http.max_header_bytes" in e["message"], e
    r, _ = h2_post("/echo", "rogue.test", body=b"after")
    assert r["status"] == 200 and r["body"] == b"after", r


def test_too_many_response_trailers_reset_the_stream(gw, rogues):
    """More trailer fields than the gateway passes on (64) reset the
    client's stream rather than drop some (a grpc-status among them)."""
    r, _ = h2_post("/many-trailers", "rogue.test")
    assert r[0] == "reset", r


def test_upstream_reset_after_head(gw, rogues):
    """A reset after the response head cannot become a 502: the client's
    stream is reset."""
    r, _ = h2_post("/reset-after-head", "rogue.test")
    assert r[0] == "reset", r


def test_trailers_to_both_kinds_of_client(gw, rogues):
    """Upstream trailers: a trailing HEADERS frame for an HTTP/2 client,
    the chunked trailer section for an HTTP/1.1 client."""
    r, c = h2_post("/trailers", "rogue.test")
    assert r["status"] == 200 and r["body"] == b"hello", r
    tr = [e for e in c.events if isinstance(e, u.h2.events.TrailersReceived)]
    assert len(tr) == 1, c.events
    assert ("x-a", "1") in tr[0].headers
    assert ("grpc-status", "0") in tr[0].headers
    head, body = h1_exchange(b"POST /trailers HTTP/1.1\r\nHost: rogue.test\r\n"
                             b"TE: trailers\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
    assert "transfer-encoding: chunked" in head, head
    assert body == b"5\r\nhello\r\n0\r\nx-a: 1\r\ngrpc-status: 0\r\n\r\n", \
        (head, body)


def test_tls_upstream_without_alpn_h2(gw, rogues):
    """A TLS target that does not select h2 by ALPN is refused before any
    request goes out: 502 naming it."""
    before = len(rogues[1].requests())
    r, _ = h2_post("/x", "noalpn.test")
    assert r["status"] == 502, r
    assert "did not select h2 by ALPN" in json.loads(r["body"])["message"]
    assert rogues[1].requests()[before:] == []


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_hung_upstream_and_cancelled_calls(gw, rogues):
    """An upstream that never answers: 504 at the service's
    per_try_timeout_ms (grpcio: UNAVAILABLE); a client that gives up
    first (its deadline) cancels the call. Either way the upstream
    connection goes: the gateway's descriptors come back, and the next
    call works."""
    pid = raw.sluiced_pid(gw)
    base = fds(pid)
    r, _ = h2_post("/hang", "rogue.test")
    assert r["status"] == 504, r
    res = call([dict(method="/hang", data_hex="", timeout=0.1)
                for _ in range(5)], authority="rogue.test")
    assert {x["code"] for x in res} <= {"DEADLINE_EXCEEDED",
                                         "UNAVAILABLE"}, res
    res = call([unary("Unary", b"after")])[0]
    assert res["code"] == "OK", res
    h.wait_for(lambda: fds(pid) <= base, 10, what="descriptors back")


def test_early_answer_to_an_upload(gw, rogues):
    """The upstream answers (trailers-only RESOURCE_EXHAUSTED) and resets
    the stream while a 1 MiB upload is still coming: the client gets that
    status, not a timeout, and the gateway goes on serving."""
    res = call([dict(method="/early", kind="collect", parts=100,
                     size=10000, seed=3)], authority="rogue.test")[0]
    assert res["code"] == "RESOURCE_EXHAUSTED", res
    assert res["details"] == "too much"
    assert call([unary("Unary", b"next")])[0]["code"] == "OK"


def h2_post_with_trailers(authority, body, trailers):
    """POST /echo from an HTTP/2 client, its body then trailers (a
    trailing HEADERS frame); the response."""
    c = u.Client(GW)
    try:
        sid = c.request("/echo", method="POST", authority=authority,
                        headers=[("content-type", "application/grpc"),
                                 ("te", "trailers")], body=body, end=False)
        c.c.send_headers(sid, trailers, end_stream=True)
        c.flush()
        return c.response(sid)
    finally:
        c.close()


def test_request_trailers_reach_the_upstream(gw, rogues):
    """Request trailers, from an HTTP/2 client (a trailing HEADERS frame)
    and from an HTTP/1.1 client (the chunked trailer section), reach the
    HTTP/2 upstream as a trailing HEADERS frame."""
    # the gateway's own fields and credentials never pass as trailers,
    # in any spelling (the head's checks do not see the trailer section)
    r = h2_post_with_trailers("rogue.test", b"abc", [
        ("x-req-trailer", "t1"), ("x-consumer-id", "admin"),
        ("x-forwarded-for", "10.0.0.1"), ("x_forwarded_for", "10.0.0.2"),
        ("x-real-ip", "10.0.0.3"), ("authorization", "Bearer forged"),
        ("x-request-id", "forged"), ("x-req-bin", "AAEC")])
    assert r["status"] == 200 and r["body"] == b"abc", r
    got = rogues[0].requests()[-1]
    assert got["path"] == "/echo" and got["len"] == 3, got
    assert got["trailers"] == [["x-req-trailer", "t1"],
                               ["x-req-bin", "AAEC"]], got
    head, body = h1_exchange(
        b"POST /echo HTTP/1.1\r\nHost: rogue.test\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nxyz\r\n0\r\nX-Http1-Trailer: t2\r\n"
        b"X-Consumer-Name: admin\r\nX_Consumer_Roles: admin\r\n"
        b"Forwarded: for=10.0.0.1\r\n\r\n")
    assert head[0].startswith("http/1.1 200"), (head, body)
    got = rogues[0].requests()[-1]
    assert got["len"] == 3 and got["trailers"] == [
        ["x-http1-trailer", "t2"]], got


def test_request_trailers_never_carry_the_routes_key_field(gw, rogues):
    """A route whose API key field is not X-API-Key (key_header:
    X-Token): that field never passes as a request trailer either, in
    any spelling."""
    r = h2_post_with_trailers("rogue-key.test", b"k", [
        ("x-token", "forged"), ("x_token", "forged"), ("x-ok", "1")])
    assert r["status"] == 200 and r["body"] == b"k", r
    got = rogues[0].requests()[-1]
    assert got["path"] == "/echo" and got["trailers"] == [["x-ok", "1"]], \
        got


def test_reload_protocol(gw, workdir):
    """protocol is reloadable; a bad value is refused with file:line:col
    and the running config stays."""
    sock = h.admin_socket_path(workdir, "gw-grpc")
    cfg = Path(gw.config)
    good = cfg.read_text()
    assert 'protocol: "h2"' in good
    try:
        cfg.write_text(good.replace('protocol: "h2"', 'protocol: "h3"', 1))
        r = h.run([h.SLUICECTL, "--socket", sock, "reload"], timeout=20,
                  check=False)
        assert r.returncode != 0
        assert re.search(r"gw-grpc\.yaml:\d+:\d+: services\[0\]\.protocol: "
                         r"invalid value 'h3' \(expected http1 or h2\)",
                         r.stdout + r.stderr), r
        assert call([unary("Unary", b"still h2")])[0]["code"] == "OK"
        # a good reload to http1: the gRPC origin gets HTTP/1.1 and the
        # call fails; back to h2 it works again
        cfg.write_text(good.replace('protocol: "h2"', 'protocol: "http1"',
                                    1))
        h.run([h.SLUICECTL, "--socket", sock, "reload"], timeout=20)
        assert call([unary("Unary", b"as http1")])[0]["code"] != "OK"
    finally:
        cfg.write_text(good)
        h.run([h.SLUICECTL, "--socket", sock, "reload"], timeout=20)
    assert call([unary("Unary", b"h2 again")])[0]["code"] == "OK"


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "tls"])
def test_concurrent_calls(gw, origins, pki, tls):
    """300 unary calls, 50 in flight at once on one client connection (50
    streams, each on an upstream HTTP/2 connection of its own at a time,
    pooled between calls): every one OK, each reached the origin once, and
    the gateway keeps at most the pool's connections (max_idle, 32)."""
    o = origins[1] if tls else origins[0]
    pid = raw.sluiced_pid(gw)
    base = fds(pid)
    before = len(o.calls())
    res = call([dict(method="/test.Echo/Unary", kind="many", count=300,
                     window=50, timeout=30)],
               authority="tls.test" if tls else "plain.test", tls=tls,
               pki=pki)[0]
    assert res["codes"] == {"OK": 300}, res
    got = o.calls()[before:]
    assert sorted(g["sha"] for g in got) == sorted(
        hashlib.sha256(b"many-%d" % i).hexdigest() for i in range(300))
    assert len({g["peer"] for g in got}) < 300, "no connection reused"
    print(f"300 calls, 50 in flight, {'tls' if tls else 'h2c'}: "
          f"{res['seconds']:.2f} s, "
          f"{len({g['peer'] for g in got})} upstream connections")
    h.wait_for(lambda: fds(pid) <= base + 32, 10,
               what="descriptors back to the pool's bound")


def test_goaway_after_response_leaves_the_pool(gw, rogues):
    """An upstream that answers, then sends GOAWAY and closes: its
    connection leaves the pool, and the next requests go on a new one."""
    r, _ = h2_post("/bye", "rogue.test")
    assert r["status"] == 200 and r["body"] == b"bye", r
    for i in range(3):
        c = u.Client(GW)
        r = c.get(f"/after-bye-{i}", authority="rogue.test")
        c.close()
        assert r["status"] == 200, r
    paths = [q["path"] for q in rogues[0].requests()[-4:]]
    assert paths == ["/bye"] + [f"/after-bye-{i}" for i in range(3)]


def h1_exchange(request):
    """One HTTP/1.1 request (its connection closes): head and body."""
    s = u.sock(GW)
    try:
        s.sendall(request)
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode("latin-1").lower().split("\r\n"), body


def test_bodiless_responses_keep_their_fields(gw, rogues):
    """A response that ends on its HEADERS frame without being empty: a
    HEAD keeps the upstream's content-length (the size a GET would get),
    as does a 304; a 204 gets no content-length at all, and none of them
    a body. A GET keeps it too, its body framed by it (300 kB: past the
    splice threshold, which an HTTP/2 upstream never uses). For HTTP/1.1
    and HTTP/2 clients alike."""
    for method, path, status, cl in (("HEAD", "/sized", 200, "1234"),
                                     ("GET", "/sized", 200, "1234"),
                                     ("GET", "/sized/300000", 200,
                                      "300000"),
                                     ("GET", "/not-modified", 304, "1234"),
                                     ("GET", "/no-content", 204, None),
                                     # the same, ended by an empty DATA
                                     # frame, not by the HEADERS
                                     ("HEAD", "/split-sized", 200, "1234"),
                                     ("GET", "/split-not-modified", 304,
                                      "1234"),
                                     ("GET", "/split-no-content", 204,
                                      None)):
        head, body = h1_exchange(
            f"{method} {path} HTTP/1.1\r\nHost: rogue.test\r\n"
            f"Connection: close\r\n\r\n".encode())
        assert head[0].startswith(f"http/1.1 {status} "), head
        got = [l.split(":", 1)[1].strip() for l in head
               if l.startswith("content-length:")]
        assert got == ([cl] if cl else []), (method, path, head)
        assert not any(l.startswith("transfer-encoding:") for l in head), \
            head
        want = b"s" * int(cl) if method == "GET" and cl and \
            status == 200 else b""
        assert body == want, (method, path, body[:40])
        c = u.Client(GW)
        try:
            r = c.get(path, method=method, authority="rogue.test")
        finally:
            c.close()
        assert isinstance(r, dict) and r["status"] == status, r
        assert r["headers"].get("content-length") == cl, (method, path, r)
        assert r["body"] == want, (method, path, r["body"][:40])


def test_request_id_goes_never_indexed_upstream(gw, rogues):
    """The x-request-id the gateway sends an HTTP/2 upstream is new in
    every request: an HPACK literal never indexed, no slot in the
    upstream's dynamic table (test_h2_conformance.py has the client
    side)."""
    rogue, _ = rogues
    before = len(rogue.requests())
    for _ in range(3):
        r, _ = h2_post("/echo", "rogue.test", body=b"x")
        assert r["status"] == 200, r
    reqs = rogue.requests()[before:]
    assert len(reqs) == 3, reqs
    for e in reqs:
        assert "x-request-id" in e["never_indexed"], e
        assert "content-type" not in e["never_indexed"], e
