"""Strict parsing and the request-smuggling matrix, with raw sockets.

Every case sends exact bytes to sluiced; the logging backend (b1) proves
which requests reached it, in which order, and nothing else. A rejected
request gets a JSON error with Connection: close and the connection ends.

Every case runs twice: over plain TCP and over TLS (the gateway's TLS
listener decrypts, the same HTTP engine parses).
"""
import json

import pytest

import helpers as h
import raw
import tls_util


@pytest.fixture(scope="module", params=["tcp", "tls"])
def gw(backends, workdir, request):
    with tls_util.over(request.param, workdir) as listeners:
        s = raw.start(workdir, f"gw-strict-{request.param}",
                      listeners=listeners, routes=[
                          {"name": "small", "path_prefix": "/small/",
                           "service": "echo", "max_body_bytes": 100},
                          {"name": "all", "path_prefix": "/",
                           "service": "echo"}])
        yield s
        s.shutdown()


def expect_error(data, status, code, marker, backends):
    c = raw.Conn()
    c.send(data)
    r = c.response()
    assert r.status == status, r
    assert (r.header("content-type") or "").startswith("application/json"), r
    body = r.json()
    assert body["error"] == code and body["status"] == status, body
    assert body["message"], body
    assert (r.header("connection") or "").lower() == "close", r
    assert c.closed(), "connection still open after a rejected request"
    c.close()
    got = raw.backend_entries(backends["b1"], marker)
    assert got == [], f"rejected request reached the backend: {got}"
    return body


# (id, bytes with {p} for a unique path, status, error code)
REJECT = [
    ("bad-request-line", "GET  {p} HTTP/1.1\r\nHost: a\r\n\r\n", 400,
     "bad_request"),
    ("bad-method-token", "G(T {p} HTTP/1.1\r\nHost: a\r\n\r\n", 400,
     "bad_request"),
    ("lowercase-version", "GET {p} http/1.1\r\nHost: a\r\n\r\n", 400,
     "bad_request"),
    ("http2-version", "GET {p} HTTP/2.0\r\nHost: a\r\n\r\n", 505,
     "http_version_not_supported"),
    ("h2-preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505,
     "http_version_not_supported"),
    ("uri-too-long", "GET {p}?" + "a" * 9000 + " HTTP/1.1\r\nHost: a\r\n\r\n",
     414, "uri_too_long"),
    ("headers-too-large", "GET {p} HTTP/1.1\r\nHost: a\r\n" +
     "".join(f"X-Pad-{i}: {'b' * 1000}\r\n" for i in range(40)) + "\r\n",
     431, "headers_too_large"),
    ("too-many-headers", "GET {p} HTTP/1.1\r\nHost: a\r\n" +
     "".join(f"X-{i}: v\r\n" for i in range(70)) + "\r\n", 431,
     "headers_too_large"),
    ("missing-host", "GET {p} HTTP/1.1\r\n\r\n", 400, "bad_request"),
    ("duplicate-host", "GET {p} HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
     "bad_request"),
    ("host-target-mismatch", "GET http://a{p} HTTP/1.1\r\nHost: b\r\n\r\n",
     400, "bad_request"),
    ("obs-fold", "GET {p} HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  folded\r\n\r\n",
     400, "bad_request"),
    ("space-before-colon", "GET {p} HTTP/1.1\r\nHost : a\r\n\r\n", 400,
     "bad_request"),
    ("ctl-in-value", "GET {p} HTTP/1.1\r\nHost: a\r\nX-A: a\x01b\r\n\r\n",
     400, "bad_request"),
    ("nul-in-value", "GET {p} HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n",
     400, "bad_request"),
    ("bad-header-name", "GET {p} HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n", 400,
     "bad_request"),
    ("bare-lf", "GET {p} HTTP/1.1\nHost: a\n\n", 400, "bad_request"),
    ("bare-lf-in-headers", "GET {p} HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400,
     "bad_request"),
    ("cr-without-lf", "GET {p} HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", 400,
     "bad_request"),
    ("expect-unknown", "GET {p} HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n",
     417, "expectation_failed"),
    ("te-gzip-only", "POST {p} HTTP/1.1\r\nHost: a\r\n"
     "Transfer-Encoding: gzip\r\n\r\n", 400, "bad_request"),
    ("te-gzip-chunked", "POST {p} HTTP/1.1\r\nHost: a\r\n"
     "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501,
     "not_implemented"),
    ("body-over-route-limit", "POST /small{p} HTTP/1.1\r\nHost: a\r\n"
     "Content-Length: 101\r\n\r\n" + "x" * 101, 413, "payload_too_large"),
]


@pytest.mark.parametrize("data,status,code", [c[1:] for c in REJECT],
                         ids=[c[0] for c in REJECT])
def test_rejections(gw, backends, data, status, code):
    p = raw.uniq("rej")
    expect_error(data.replace("{p}", p).encode("latin-1"), status, code, p,
                 backends)


# The smuggling matrix. Each payload tries to make the gateway and the
# backend disagree about where a request ends; {p} and {s} are unique
# paths of the outer and the smuggled request. None of them may reach the
# backend.
SMUGGLE = [
    ("CL.TE", "POST {p} HTTP/1.1\r\nHost: a\r\nContent-Length: 30\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET {s} HTTP/1.1\r\nX: "),
    ("TE.CL", "POST {p} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     "Content-Length: 4\r\n\r\n5c\r\nGET {s} HTTP/1.1\r\nHost: a\r\n\r\n0\r\n\r\n"),
    ("TE.TE-duplicate", "POST {p} HTTP/1.1\r\nHost: a\r\n"
     "Transfer-Encoding: chunked\r\nTransfer-Encoding: cow\r\n\r\n"
     "0\r\n\r\nGET {s} HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("TE.TE-chunked-twice", "POST {p} HTTP/1.1\r\nHost: a\r\n"
     "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"),
    ("TE.TE-space-before-colon", "POST {p} HTTP/1.1\r\nHost: a\r\n"
     "Transfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"),
    ("TE.TE-xchunked", "POST {p} HTTP/1.1\r\nHost: a\r\n"
     "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
    ("TE.TE-chunked-identity", "POST {p} HTTP/1.1\r\nHost: a\r\n"
     "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"),
    ("TE.TE-vertical-tab", "POST {p} HTTP/1.1\r\nHost: a\r\n"
     "Transfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n"),
    ("TE.TE-obs-fold", "POST {p} HTTP/1.1\r\nHost: a\r\n"
     "Transfer-Encoding:\r\n chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"),
    ("TE.TE-bare-lf", "POST {p} HTTP/1.1\r\nHost: a\r\nX: y\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("TE.TE-quoted", "POST {p} HTTP/1.1\r\nHost: a\r\n"
     "Transfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n"),
    ("TE.TE-params", "POST {p} HTTP/1.1\r\nHost: a\r\n"
     "Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n"),
    ("TE-in-HTTP/1.0", "POST {p} HTTP/1.0\r\nHost: a\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("CL-duplicate-same", "POST {p} HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
     "Content-Length: 5\r\n\r\nhello"),
    ("CL-duplicate-differ", "POST {p} HTTP/1.1\r\nHost: a\r\n"
     "Content-Length: 5\r\nContent-Length: 31\r\n\r\nhelloGET {s} HTTP/1.1\r\n\r\n"),
    ("CL-list", "POST {p} HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello"),
    ("CL-plus", "POST {p} HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello"),
    ("CL-hex", "POST {p} HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello"),
    ("CL-negative", "POST {p} HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"),
    ("CL-overflow", "POST {p} HTTP/1.1\r\nHost: a\r\n"
     "Content-Length: 99999999999999999999999\r\n\r\n"),
    ("CL-space-inside", "POST {p} HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n"),
    ("host-comma", "GET {p} HTTP/1.1\r\nHost: a,b\r\n\r\n"),
    ("absolute-userinfo", "GET http://u@a{p} HTTP/1.1\r\nHost: a\r\n\r\n"),
]


@pytest.mark.parametrize("data", [c[1] for c in SMUGGLE],
                         ids=[c[0] for c in SMUGGLE])
def test_smuggling_head_rejected(gw, backends, data):
    p, s = raw.uniq("smug"), raw.uniq("smuggled")
    c = raw.Conn()
    c.send(data.replace("{p}", p).replace("{s}", s).encode("latin-1"))
    r = c.response()
    assert r.status in (400, 501), r
    assert (r.header("connection") or "").lower() == "close"
    assert c.closed()
    c.close()
    log = h.backend_log(backends["b1"])
    assert not [e for e in log if p in e["target"] or s in e["target"]], \
        "a smuggling attempt reached the backend"


# Chunk-size tricks: the head is valid, so the gateway may have forwarded it
# before the body turned out to be invalid. The backend must never see a
# complete request (it logs only complete ones), nor the smuggled one, and
# the client gets 400 and a closed connection.
CHUNK_TRICKS = [
    ("size-trailing-space", "5 \r\nhello\r\n0\r\n\r\n"),
    ("size-leading-space", " 5\r\nhello\r\n0\r\n\r\n"),
    ("size-0x", "0x5\r\nhello\r\n0\r\n\r\n"),
    ("size-negative", "-5\r\nhello\r\n0\r\n\r\n"),
    ("size-too-many-digits", "0000000000000005\r\nhello\r\n0\r\n\r\n"),
    ("size-overflow", "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
    ("size-bare-lf", "5\nhello\r\n0\r\n\r\n"),
    ("data-longer-than-size", "3\r\nhello\r\n0\r\n\r\n"),
    ("data-bare-lf", "5\r\nhello\n0\r\n\r\n"),
    ("ext-empty-name", "5;\r\nhello\r\n0\r\n\r\n"),
    ("ext-too-long", "5;" + "a" * 300 + "\r\nhello\r\n0\r\n\r\n"),
    ("ext-bad-quote", "5;a=\"b\r\nhello\r\n0\r\n\r\n"),
    ("trailer-obs-fold", "0\r\nX: a\r\n b\r\n\r\n"),
    ("trailer-bare-lf", "0\r\nX: a\n\r\n"),
    ("last-chunk-then-smuggle", "0\r\nGET {s} HTTP/1.1\r\nHost: a\r\n\r\n"),
]


@pytest.mark.parametrize("body", [c[1] for c in CHUNK_TRICKS],
                         ids=[c[0] for c in CHUNK_TRICKS])
def test_smuggling_chunk_tricks(gw, backends, body):
    p, s = raw.uniq("chunk"), raw.uniq("smuggled")
    c = raw.Conn()
    c.send((f"POST {p} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
            "\r\n" + body.replace("{s}", s)).encode())
    r = c.response()
    assert r.status == 400, r
    assert r.json()["error"] == "bad_request"
    assert c.closed()
    c.close()
    log = h.backend_log(backends["b1"])
    assert not [e for e in log if p in e["target"] or s in e["target"]], log[-3:]


def test_pipelined_requests_arrive_in_order(gw, backends):
    a, b, d, e = (raw.uniq("pipe") for _ in range(4))
    c = raw.Conn()
    c.send(raw.request("GET", a) + raw.request("POST", b, body=b"hello") +
           raw.request("POST", d, headers=[("Transfer-Encoding", "chunked")],
                       body=b"3\r\nabc\r\n0\r\n\r\n") +
           raw.request("GET", e))
    rs = [c.response() for _ in range(4)]
    assert [r.status for r in rs] == [200] * 4, rs
    assert [r.json()["path"] for r in rs] == [a, b, d, e]
    assert [r.json()["body_bytes"] for r in rs] == [0, 5, 3, 0]
    c.close()
    log = [x for x in h.backend_log(backends["b1"])
           if x["path"] in (a, b, d, e)]
    assert [x["path"] for x in log] == [a, b, d, e], log


def test_pipelined_leftover_after_close_is_dropped(gw, backends):
    a, b = raw.uniq("close"), raw.uniq("after-close")
    c = raw.Conn()
    c.send(raw.request("GET", a, headers=[("Connection", "close")]) +
           raw.request("GET", b))
    r = c.response()
    assert r.status == 200 and r.json()["path"] == a
    assert (r.header("connection") or "").lower() == "close"
    assert c.closed()
    c.close()
    assert raw.backend_entries(backends["b1"], b) == []
    assert len(raw.backend_entries(backends["b1"], a)) == 1


def test_body_bytes_are_not_parsed_as_a_request(gw, backends):
    """A Content-Length body that looks like a request stays a body."""
    a, s = raw.uniq("cl"), raw.uniq("inner")
    inner = raw.request("GET", s)
    c = raw.Conn()
    c.send(raw.request("POST", a, body=inner))
    r = c.response()
    assert r.status == 200 and r.json()["body_bytes"] == len(inner)
    c.close()
    assert raw.backend_entries(backends["b1"], s) == []
    e = raw.backend_entries(backends["b1"], a)
    assert len(e) == 1 and e[0]["body_bytes"] == len(inner)


def test_chunked_request_is_reframed(gw, backends):
    """Extensions and trailers never reach the backend; data does, intact."""
    a = raw.uniq("reframe")
    body = ("4;ext=\"q\"\r\nWiki\r\n5;x\r\npedia\r\n0;last\r\n"
            "Content-Length: 999\r\nX-Trailer: smuggle\r\n\r\n")
    c = raw.Conn()
    c.send(f"POST {a} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
           f"\r\n{body}" + raw.request("GET", a + "-next").decode())
    r = c.response()
    assert r.status == 200, r
    j = r.json()
    assert j["body_bytes"] == 9
    r2 = c.response()
    assert r2.status == 200 and r2.json()["path"] == a + "-next"
    c.close()
    e = raw.backend_entries(backends["b1"], a)
    assert [x["path"] for x in e] == [a, a + "-next"]
    names = [k.lower() for k, _ in e[0]["header_list"]]
    assert "x-trailer" not in names and "content-length" not in names
    assert names.count("transfer-encoding") == 1


def test_hop_by_hop_removed_and_forwarding_headers(gw, backends):
    a = raw.uniq("hop")
    c = raw.Conn()
    c.send(raw.request("GET", a, host="api.test", headers=[
        ("Connection", "keep-alive, X-Secret"), ("X-Secret", "1"),
        ("Keep-Alive", "timeout=5"), ("TE", "trailers"),
        ("Proxy-Connection", "keep-alive"), ("Upgrade", "h2c"),
        ("Trailer", "X-T"), ("X-Forwarded-For", "203.0.113.66"),
        ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "evil"),
        ("Via", "1.1 upstream-lb"), ("X-End", "kept")]))
    r = c.response()
    assert r.status == 200, r
    c.close()
    e = raw.backend_entries(backends["b1"], a)[0]
    hl = {}
    for k, v in e["header_list"]:
        hl.setdefault(k.lower(), []).append(v)
    for gone in ("x-secret", "keep-alive", "te", "proxy-connection",
                 "upgrade", "trailer"):
        assert gone not in hl, (gone, e["header_list"])
    assert hl["connection"] == ["keep-alive"]
    # the client is not a trusted proxy: its XFF is replaced
    assert hl["x-forwarded-for"] == [h.ALLOWED4]
    # what the client connected with, never its own copy
    assert hl["x-forwarded-proto"] == ["https" if raw.TLS else "http"]
    assert hl["x-forwarded-host"] == ["api.test"]
    assert hl["via"] == ["1.1 upstream-lb, 1.1 sluice"]
    assert hl["host"] == ["api.test"]
    assert hl["x-end"] == ["kept"]
    # the response carries Via too, and the request id
    assert "1.1 sluice" in (r.header("via") or "")
    assert r.header("x-request-id") == hl["x-request-id"][0]


@pytest.mark.parametrize("sent,kept", [
    ("abc-123_XYZ.req:9+/=@", True),
    (None, False),
    ("has space", False),
    ("x" * 64, True),
    ("x" * 65, False),
    ("\u00e9t\u00e9", False),
], ids=["valid", "missing", "space", "longest", "too-long", "non-ascii"])
def test_request_id(gw, backends, sent, kept):
    a = raw.uniq("rid")
    hs = [("X-Request-Id", sent)] if sent is not None else []
    c = raw.Conn()
    c.send(raw.request("GET", a, headers=hs).decode().encode("latin-1")
           if sent is None or sent.isascii()
           else f"GET {a} HTTP/1.1\r\nHost: a\r\nX-Request-Id: {sent}\r\n\r\n"
           .encode("utf-8"))
    r = c.response()
    c.close()
    assert r.status == 200, r
    e = raw.backend_entries(backends["b1"], a)[0]
    ids = [v for k, v in e["header_list"] if k.lower() == "x-request-id"]
    assert len(ids) == 1, e["header_list"]
    if kept:
        assert ids[0] == sent
    else:
        assert len(ids[0]) == 32 and int(ids[0], 16) >= 0, ids
    assert r.header("x-request-id") == ids[0]


def test_two_request_ids_replaced(gw, backends):
    a = raw.uniq("rid2")
    c = raw.Conn()
    c.send(raw.request("GET", a, headers=[("X-Request-Id", "one"),
                                           ("X-Request-Id", "two")]))
    r = c.response()
    c.close()
    e = raw.backend_entries(backends["b1"], a)[0]
    ids = [v for k, v in e["header_list"] if k.lower() == "x-request-id"]
    assert len(ids) == 1 and ids[0] not in ("one", "two") and len(ids[0]) == 32
    assert r.header("x-request-id") == ids[0]


def test_error_carries_request_id(gw, backends):
    c = raw.Conn()
    c.send(raw.request("POST", "/small/x", body=b"y" * 200,
                       headers=[("X-Request-Id", "trace-413")]))
    r = c.response()
    c.close()
    assert r.status == 413 and r.header("x-request-id") == "trace-413"


def test_body_limit_chunked_and_under_limit(gw, backends):
    a = raw.uniq("lim")
    # under the limit: fine, on a kept-alive connection
    c = raw.Conn()
    c.send(raw.request("POST", "/small" + a, body=b"z" * 100))
    r = c.response()
    assert r.status == 200 and r.json()["body_bytes"] == 100
    # chunked over the limit: 413 once the data passes it
    c.send(f"POST /small{a}-ch HTTP/1.1\r\nHost: a\r\n"
           "Transfer-Encoding: chunked\r\n\r\n40\r\n" + "q" * 64 + "\r\n"
           "40\r\n" + "q" * 64 + "\r\n0\r\n\r\n")
    r = c.response()
    assert r.status == 413, r
    assert json.loads(r.body)["error"] == "payload_too_large"
    assert c.closed()
    c.close()
    assert raw.backend_entries(backends["b1"], a + "-ch") == []


def test_expect_100_continue_over_limit_gets_413_without_100(gw, backends):
    c = raw.Conn()
    c.send("POST /small/e HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n"
           "Expect: 100-continue\r\n\r\n")
    r = c.read_head()
    assert r.status == 413, r
    c.close()
