"""HTTP/2 to clients: conformance (frames, stream states, flow control,
HPACK and RFC 9113 section 8 message rules, after h2spec's cases), each
case checking the exact GOAWAY or RST_STREAM error code or the response;
for refused requests, that the backend received nothing. Then the
per-stream gate (auth 401 JSON, limits 429, routes, access log lines and
request ids per stream) and HTTP/1.1 on the same port.

On the code before HTTP/2 every test here fails: the listener's h2c key is
refused by the config parser, so the gateway does not start (and without
it, the preface is an HTTP/1.1 request answered with a 400).
"""
import hashlib
import json
import struct
import time
import uuid

import hpack
import pytest

import helpers as h
import h2util as u
import raw

PORT = h.GW_PORT + 50
ADMIN = "127.0.0.1:9950"
TOKEN = "h2-token-" + uuid.uuid4().hex


def config(workdir, name, http_extra=""):
    log = workdir / f"{name}-access.log"
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
  - name: limited
    path_prefix: /limited/
    service: echo
    limits:
      - key: ip
        rates: [3/h]
  - name: api
    path_prefix: /api/
    service: echo
  - name: all
    path_prefix: /
    service: echo
consumers:
  - name: h2user
    bearer_tokens: ['sha256:{hashlib.sha256(TOKEN.encode()).hexdigest()}']
http:
  h2_max_glitches: 20
  h2_stall_timeout_ms: 1500
{http_extra}workers: 1
logging:
  level: info
  access_log:
    path: {log}
    format: json
"""
    p = workdir / f"{name}.yaml"
    p.write_text(text)
    return p, log


@pytest.fixture(scope="module")
def gw(backends, workdir):
    cfg, log = config(workdir, "gw-h2")
    s = h.Sluiced(cfg, workdir, tag="gw-h2")
    s.start()
    s.access_log = log
    yield s
    s.shutdown()


def mark():
    return "/" + uuid.uuid4().hex[:16]


def got(backends, marker):
    """Backend log entries for requests whose target has marker."""
    return [e for e in h.backend_log(backends["b1"])
            if marker in e["target"]]


def block(headers):
    return hpack.Encoder().encode(headers)


def req_headers(path, method="GET", extra=()):
    return [(":method", method), (":scheme", "http"), (":path", path),
            (":authority", "gw.test"), *extra]


def raw_exchange(frames, until_sid=None, settings=b""):
    """Send frames on a fresh connection; read until a GOAWAY, an
    RST_STREAM or END_STREAM on until_sid, or EOF."""
    s = u.raw_client(PORT, settings)
    s.sendall(b"".join(frames))

    def done(fs):
        for t, f, sid, _ in fs:
            if t == u.GOAWAY:
                return True
            if until_sid and sid == until_sid and (
                    t == u.RST_STREAM or (f & u.END_STREAM and
                                          t in (u.DATA, u.HEADERS))):
                return True
        return False
    fs, eof = u.read_frames(s, done)
    s.close()
    return fs


def headers_frame(sid, headers, flags=u.END_STREAM | u.END_HEADERS):
    return u.frame(u.HEADERS, flags, sid, block(headers))


# ---- connection errors: frame rules (RFC 9113 sections 4-6) ----------------

GOAWAY_CASES = [
    # (name, frames after the preface, error code)
    ("data_on_stream_0", [u.frame(u.DATA, 0, 0, b"x")], u.PROTOCOL_ERROR),
    ("headers_on_stream_0",
     [u.frame(u.HEADERS, u.END_HEADERS, 0, block(req_headers("/")))],
     u.PROTOCOL_ERROR),
    ("settings_on_stream_1", [u.frame(u.SETTINGS, 0, 1, b"")],
     u.PROTOCOL_ERROR),
    ("settings_length_not_6n", [u.frame(u.SETTINGS, 0, 0, b"\0\3\0")],
     u.FRAME_SIZE_ERROR),
    ("settings_ack_with_payload",
     [u.frame(u.SETTINGS, u.ACK, 0, b"\0\3\0\0\0\1")], u.FRAME_SIZE_ERROR),
    ("settings_enable_push_2",
     [u.frame(u.SETTINGS, 0, 0, struct.pack(">HI", 2, 2))],
     u.PROTOCOL_ERROR),
    ("settings_initial_window_too_large",
     [u.frame(u.SETTINGS, 0, 0, struct.pack(">HI", 4, 1 << 31))],
     u.FLOW_CONTROL_ERROR),
    ("settings_max_frame_size_too_small",
     [u.frame(u.SETTINGS, 0, 0, struct.pack(">HI", 5, 16383))],
     u.PROTOCOL_ERROR),
    ("settings_max_frame_size_too_large",
     [u.frame(u.SETTINGS, 0, 0, struct.pack(">HI", 5, 1 << 24))],
     u.PROTOCOL_ERROR),
    ("ping_on_stream_1", [u.frame(u.PING, 0, 1, b"12345678")],
     u.PROTOCOL_ERROR),
    ("ping_length_7", [u.frame(u.PING, 0, 0, b"1234567")],
     u.FRAME_SIZE_ERROR),
    ("goaway_on_stream_1", [u.frame(u.GOAWAY, 0, 1, b"\0" * 8)],
     u.PROTOCOL_ERROR),
    ("window_update_0_on_connection",
     [u.frame(u.WINDOW_UPDATE, 0, 0, struct.pack(">I", 0))],
     u.PROTOCOL_ERROR),
    ("window_update_overflows_connection",
     [u.frame(u.WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7fffffff))],
     u.FLOW_CONTROL_ERROR),
    ("window_update_length_3", [u.frame(u.WINDOW_UPDATE, 0, 0, b"\0\0\1")],
     u.FRAME_SIZE_ERROR),
    ("rst_stream_on_stream_0", [u.frame(u.RST_STREAM, 0, 0, b"\0\0\0\0")],
     u.PROTOCOL_ERROR),
    ("rst_stream_on_idle_stream",
     [u.frame(u.RST_STREAM, 0, 1, b"\0\0\0\x08")], u.PROTOCOL_ERROR),
    ("rst_stream_length_3", [
        headers_frame(1, req_headers("/"), u.END_HEADERS),
        u.frame(u.RST_STREAM, 0, 1, b"\0\0\0")], u.FRAME_SIZE_ERROR),
    ("continuation_without_headers",
     [u.frame(u.CONTINUATION, u.END_HEADERS, 1, block(req_headers("/")))],
     u.PROTOCOL_ERROR),
    ("headers_then_ping_before_continuation", [
        headers_frame(1, req_headers("/"), u.END_STREAM),
        u.frame(u.PING, 0, 0, b"12345678")], u.PROTOCOL_ERROR),
    ("continuation_on_another_stream", [
        headers_frame(1, req_headers("/"), u.END_STREAM),
        u.frame(u.CONTINUATION, u.END_HEADERS, 3, b"")], u.PROTOCOL_ERROR),
    ("data_on_idle_stream", [u.frame(u.DATA, 0, 1, b"x")],
     u.PROTOCOL_ERROR),
    ("even_stream_id", [headers_frame(2, req_headers("/"))],
     u.PROTOCOL_ERROR),
    ("push_promise_from_client",
     [u.frame(u.PUSH_PROMISE, u.END_HEADERS, 1,
              b"\0\0\0\2" + block(req_headers("/")))], u.PROTOCOL_ERROR),
    ("hpack_invalid_index", [u.frame(u.HEADERS,
                                     u.END_HEADERS | u.END_STREAM, 1,
                                     b"\xff\x7f")], u.COMPRESSION_ERROR),
    ("hpack_table_size_update_too_large",
     [u.frame(u.HEADERS, u.END_HEADERS | u.END_STREAM, 1,
              b"\x3f\xe1\x7f" + block(req_headers("/")))],
     u.COMPRESSION_ERROR),
    ("padding_longer_than_payload",
     [u.frame(u.HEADERS, u.END_HEADERS | u.END_STREAM | u.PADDED, 1,
              b"\x40" + block(req_headers("/")))], u.PROTOCOL_ERROR),
    ("headers_on_closed_stream", [
        headers_frame(1, req_headers("/")),
        u.frame(u.RST_STREAM, 0, 1, b"\0\0\0\x08"),
        headers_frame(1, req_headers("/"))], u.STREAM_CLOSED),
]


@pytest.mark.parametrize("name,frames,code", GOAWAY_CASES,
                         ids=[c[0] for c in GOAWAY_CASES])
def test_connection_error(gw, name, frames, code):
    fs = raw_exchange(frames)
    assert u.goaway_code(fs) == code, (name, fs[-3:])


# ---- stream errors --------------------------------------------------------

def test_window_update_overflows_stream_window(gw):
    fs = raw_exchange([
        headers_frame(1, req_headers("/wuo", "POST"), u.END_HEADERS),
        u.frame(u.WINDOW_UPDATE, 0, 1, struct.pack(">I", 0x7fffffff))],
        until_sid=1)
    assert u.rst_code(fs, 1) == u.FLOW_CONTROL_ERROR, fs[-3:]


def test_window_update_0_on_stream(gw):
    """A stream error in RFC 9113; nghttp2 makes it a connection error
    (h2spec accepts either): the error code is what is checked."""
    fs = raw_exchange([
        headers_frame(1, req_headers("/wu0", "POST"), u.END_HEADERS),
        u.frame(u.WINDOW_UPDATE, 0, 1, struct.pack(">I", 0))], until_sid=1)
    assert (u.rst_code(fs, 1) or u.goaway_code(fs)) == u.PROTOCOL_ERROR, \
        fs[-3:]


def test_data_after_end_stream(gw):
    fs = raw_exchange([headers_frame(1, req_headers("/hc")),
                       u.frame(u.DATA, 0, 1, b"x")], until_sid=1)
    code = u.rst_code(fs, 1) or u.goaway_code(fs)
    assert code == u.STREAM_CLOSED, fs[-3:]


def test_priority_length_4(gw):
    fs = raw_exchange([u.frame(u.PRIORITY, 0, 1, b"\0\0\0\0")],
                      until_sid=1)
    code = u.rst_code(fs, 1) or u.goaway_code(fs)
    assert code == u.FRAME_SIZE_ERROR, fs[-3:]


def test_data_frame_over_max_frame_size(gw):
    fs = raw_exchange([
        headers_frame(1, req_headers("/big", "POST"), u.END_HEADERS),
        u.frame(u.DATA, 0, 1, b"x" * 16385)], until_sid=1)
    assert u.goaway_code(fs) == u.FRAME_SIZE_ERROR, fs[-3:]


# ---- what must work -------------------------------------------------------

def test_settings_advertised(gw):
    c = u.Client(PORT)
    c.pump(lambda c: c.settings is not None)
    assert c.settings[3] == 100            # MAX_CONCURRENT_STREAMS
    assert c.settings[6] == 16384          # MAX_HEADER_LIST_SIZE
    assert c.settings[2] == 0              # ENABLE_PUSH
    c.close()


def test_ping_is_acked(gw):
    s = u.raw_client(PORT)
    s.sendall(u.frame(u.PING, 0, 0, b"pingpong"))
    fs, _ = u.read_frames(s, lambda fs: any(t == u.PING for t, *_ in fs))
    s.close()
    assert [(f, p) for t, f, _, p in fs if t == u.PING] == \
        [(u.ACK, b"pingpong")]


def test_unknown_frame_type_ignored(gw, backends):
    m = mark()
    fs = raw_exchange([u.frame(0x42, 0, 0, b"hello"),
                       headers_frame(1, req_headers(m))], until_sid=1)
    assert u.goaway_code(fs) is None
    assert any(t == u.HEADERS and sid == 1 for t, _, sid, _ in fs)
    assert len(got(backends, m)) == 1


def test_get_post_and_bodies(gw, backends):
    c = u.Client(PORT)
    r = c.get("/bytes/100000")
    assert r["status"] == 200 and r["body"] == b"x" * 100000, r
    r = c.get("/chunked/70000")
    assert r["status"] == 200 and r["body"] == b"x" * 70000, r
    assert "transfer-encoding" not in r["headers"]
    # a body without content-length goes upstream chunked
    m = mark()
    body = bytes(range(256)) * 800
    r = c.response(c.request(m, "POST", body=body))
    assert isinstance(r, dict), r
    j = json.loads(r["body"])
    assert j["body_bytes"] == len(body)
    assert j["headers"].get("transfer-encoding") == "chunked"
    # with content-length, as it is
    m = mark()
    r = c.response(c.request(m, "PUT", body=b"abc",
                             headers=[("content-length", "3")]))
    j = json.loads(r["body"])
    assert j["body_bytes"] == 3 and j["headers"]["content-length"] == "3"
    c.close()


def test_head_has_no_body(gw):
    c = u.Client(PORT)
    r = c.get("/bytes/1000", method="HEAD")
    assert r["status"] == 200 and r["body"] == b""
    assert r["headers"]["content-length"] == "1000"
    c.close()


def test_cookie_crumbs_joined(gw):
    c = u.Client(PORT)
    r = c.get("/cookie", headers=[("cookie", "a=1"), ("cookie", "b=2")])
    j = json.loads(r["body"])
    assert j["headers"]["cookie"] == "a=1; b=2"
    c.close()


def test_trailers_and_te_trailers(gw):
    c = u.Client(PORT)
    sid = c.request("/trailers", "POST", headers=[("te", "trailers")],
                    body=b"hello", end=False)
    c.c.send_headers(sid, [("x-checksum", "1")], end_stream=True)
    c.flush()
    r = c.response(sid)
    j = json.loads(r["body"])
    assert r["status"] == 200 and j["body_bytes"] == 5
    assert "te" not in j["headers"]
    c.close()


def test_expect_100_continue(gw):
    """The upstream's 100 Continue reaches the client as an interim
    HEADERS frame; the body sent after it arrives."""
    import h2.events
    c = u.Client(PORT)
    sid = c.request("/continue", "PUT", headers=[
        ("expect", "100-continue"), ("content-length", "4")], end=False)
    c.pump(lambda c: any(isinstance(e, h2.events.InformationalResponseReceived)
                         for e in c.events))
    c.send_body(sid, b"body")
    r = c.response(sid)
    assert r["status"] == 200 and json.loads(r["body"])["body_bytes"] == 4
    c.close()


def test_zero_window_then_update(gw):
    """The client's stream window 0: HEADERS come, DATA waits for a
    WINDOW_UPDATE."""
    c = u.Client(PORT, settings={4: 0})
    sid = c.request("/bytes/5000")
    c.pump(lambda c: sid in c.responses)
    assert c.responses[sid]["body"] == b""
    c.c.increment_flow_control_window(10000, sid)
    c.flush()
    r = c.response(sid)
    assert r["body"] == b"x" * 5000
    c.close()


def test_100_streams_on_one_connection(gw, backends):
    c = u.Client(PORT)
    m = mark()
    sids = [c.request(f"{m}/{i}") for i in range(100)]
    for sid in sids:
        assert c.response(sid)["status"] == 200
    assert len(got(backends, m)) == 100
    c.close()


# ---- RFC 9113 section 8: refused before a byte goes upstream --------------

def bad_request(extra_fields=(), pseudo=None, data=None, cl=None):
    m = mark()
    hs = pseudo if pseudo is not None else req_headers(m)
    hs = [(k.replace("MARK", m), v.replace("MARK", m)) for k, v in hs]
    if cl is not None:
        hs.append(("content-length", str(cl)))
    hs += list(extra_fields)
    flags = u.END_HEADERS | (0 if data is not None else u.END_STREAM)
    f = [u.frame(u.HEADERS, flags, 1, block(hs))]
    if data is not None:
        f.append(u.frame(u.DATA, u.END_STREAM, 1, data))
    return m, f


MSG_CASES = [
    # (name, kwargs for bad_request)
    ("uppercase_name", dict(extra_fields=[("X-Upper", "1")])),
    ("connection", dict(extra_fields=[("connection", "close")])),
    ("keep_alive", dict(extra_fields=[("keep-alive", "timeout=5")])),
    ("proxy_connection", dict(extra_fields=[("proxy-connection", "x")])),
    ("transfer_encoding", dict(extra_fields=[("transfer-encoding",
                                              "chunked")])),
    ("upgrade", dict(extra_fields=[("upgrade", "websocket")])),
    ("te_gzip", dict(extra_fields=[("te", "gzip")])),
    ("cr_in_value", dict(extra_fields=[("x-a", "a\rb")])),
    ("lf_in_value", dict(extra_fields=[("x-a", "a\nb")])),
    ("nul_in_value", dict(extra_fields=[("x-a", "a\0b")])),
    ("leading_space", dict(extra_fields=[("x-a", " a")])),
    ("trailing_tab", dict(extra_fields=[("x-a", "a\t")])),
    ("space_in_name", dict(extra_fields=[("x a", "1")])),
    ("missing_method", dict(pseudo=[(":scheme", "http"), (":path", "MARK"),
                                    (":authority", "gw.test")])),
    ("missing_path", dict(pseudo=[(":method", "GET"), (":scheme", "http"),
                                  (":authority", "gw.test")])),
    ("missing_scheme", dict(pseudo=[(":method", "GET"), (":path", "MARK"),
                                    (":authority", "gw.test")])),
    ("empty_path", dict(pseudo=[(":method", "GET"), (":scheme", "http"),
                                (":path", ""), (":authority", "gw.test")])),
    ("duplicate_path", dict(pseudo=[(":method", "GET"), (":scheme", "http"),
                                    (":path", "MARK"), (":path", "MARK"),
                                    (":authority", "gw.test")])),
    ("unknown_pseudo", dict(pseudo=[(":method", "GET"), (":scheme", "http"),
                                    (":path", "MARK"), (":foo", "1"),
                                    (":authority", "gw.test")])),
    ("status_in_request", dict(pseudo=[(":method", "GET"),
                                       (":scheme", "http"),
                                       (":path", "MARK"), (":status", "200"),
                                       (":authority", "gw.test")])),
    ("pseudo_after_regular", dict(pseudo=[(":method", "GET"),
                                          (":scheme", "http"),
                                          ("x-a", "1"), (":path", "MARK"),
                                          (":authority", "gw.test")])),
    ("content_length_above_data", dict(cl=5, data=b"abc")),
    ("content_length_below_data", dict(cl=2, data=b"abcd")),
    ("content_length_with_no_data", dict(cl=3)),
]


@pytest.mark.parametrize("name,kw", MSG_CASES, ids=[c[0] for c in MSG_CASES])
def test_malformed_request_reset(gw, backends, name, kw):
    m, frames = bad_request(**kw)
    fs = raw_exchange(frames, until_sid=1)
    assert u.rst_code(fs, 1) == u.PROTOCOL_ERROR, (name, fs[-3:])
    time.sleep(0.1)
    assert got(backends, m) == [], f"{name}: the backend got the request"


@pytest.mark.parametrize("fields,what", [
    ([("host", "other.test")], "host field differs from :authority"),
])
def test_authority_host_conflict_400(gw, backends, fields, what):
    m, frames = bad_request(extra_fields=fields)
    fs = raw_exchange(frames, until_sid=1)
    dec = hpack.Decoder()
    heads = [dict(dec.decode(p)) for t, _, sid, p in fs
             if t == u.HEADERS and sid == 1]
    assert heads and heads[0][":status"] == "400", fs
    body = b"".join(p for t, _, sid, p in fs if t == u.DATA and sid == 1)
    assert json.loads(body)["error"] == what
    assert got(backends, m) == []


def test_host_alone_is_the_authority(gw, backends):
    m = mark()
    fs = raw_exchange([headers_frame(1, [
        (":method", "GET"), (":scheme", "http"), (":path", m),
        ("host", "h.test")])], until_sid=1)
    assert u.rst_code(fs, 1) is None
    [e] = got(backends, m)
    assert e["headers"]["host"] == "h.test"


def test_connect_refused(gw):
    fs = raw_exchange([headers_frame(1, [(":method", "CONNECT"),
                                         (":authority", "gw.test:443")])],
                      until_sid=1)
    dec = hpack.Decoder()
    heads = [dict(dec.decode(p)) for t, _, sid, p in fs
             if t == u.HEADERS and sid == 1]
    assert heads and heads[0][":status"] == "405", fs


def test_header_list_over_limit_431(gw, backends):
    """A header list past h2_max_header_list_bytes (16 KiB): 431, and the
    backend gets nothing."""
    c = u.Client(PORT)
    m = mark()
    r = c.get(m, headers=[(f"x-h{i}", "v" * 1000) for i in range(20)])
    assert r["status"] == 431, r
    assert json.loads(r["body"])["error"] == "request header list too large"
    assert got(backends, m) == []
    # the connection goes on
    assert c.get("/after")["status"] == 200
    c.close()


# RFC 9113 8.2.2: the HTTP/1.1 side's connection-specific fields never reach
# an HTTP/2 client: the gate's "Connection: close" on a refusal, an
# upstream's "Transfer-Encoding: chunked" (the body is de-chunked), and
# whatever else the upstream sends of them.
CONN_FIELDS = {"connection", "keep-alive", "proxy-connection",
               "transfer-encoding", "upgrade"}


@pytest.mark.parametrize("path,status", [("/private/cf", 401),
                                         ("/chunked/300", 200),
                                         ("/api/cf", 200)])
def test_response_connection_fields_left_out(gw, path, status):
    c = u.Client(PORT)
    r = c.get(path)
    assert isinstance(r, dict) and r["status"] == status, r
    assert not CONN_FIELDS & {k.lower() for k in r["headers"]}, r["headers"]
    if path.startswith("/chunked/"):
        assert r["body"] == b"x" * 300
    c.close()


# ---- the gate, per stream -------------------------------------------------

def test_gate_per_stream(gw, backends):
    c = u.Client(PORT)
    r = c.get("/private/x")
    assert r["status"] == 401, r
    assert r["headers"]["content-type"].startswith("application/json")
    assert json.loads(r["body"])["error"]
    m = mark()
    r = c.get("/private" + m,
              headers=[("authorization", f"Bearer {TOKEN}")])
    assert r["status"] == 200, r
    [e] = got(backends, m)
    assert "authorization" not in e["headers"]   # the credential is removed
    # limits: 3 per hour per client address, the 4th stream is refused
    codes = [c.get(f"/limited/{i}")["status"] for i in range(4)]
    assert codes == [200, 200, 200, 429], codes
    c.close()


def test_access_log_and_request_id_per_stream(gw, backends):
    c = u.Client(PORT)
    m = mark()
    sids = [c.request(f"/api{m}/{i}") for i in range(3)]
    rids = [c.response(s)["headers"]["x-request-id"] for s in sids]
    assert len(set(rids)) == 3
    lines = []

    def logged():
        lines[:] = [json.loads(l) for l in
                    gw.access_log.read_text().splitlines()
                    if m in l]
        return len(lines) == 3
    h.wait_for(logged, 10, what="3 access log lines")
    assert sorted(e["request_id"] for e in lines) == sorted(rids)
    assert {e["route"] for e in lines} == {"api"}
    assert {e["client"] for e in lines} == {h.ALLOWED4}
    assert {e["protocol"] for e in lines} == {"HTTP/2"}
    c.close()


def test_http11_on_the_same_port(gw):
    c = raw.Conn(port=PORT)
    c.send(raw.request("GET", "/h1"))
    assert c.response().status == 200
    c.close()


def test_not_quite_the_preface_is_http11(gw):
    """A prefix that turns away from the preface is an HTTP/1.1 request
    (and a bad one)."""
    c = raw.Conn(port=PORT)
    c.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
    assert c.response().status in (400, 505)
    c.close()


def test_unique_fields_are_never_indexed(gw, backends):
    """x-request-id, new in every response, goes as an HPACK literal never
    indexed: it takes no slot in the client's dynamic table, where fields
    that repeat (content-type) still go. Indexed, every response would
    push one more into the table (and into nghttp2's hash chain for that
    name, which it walks for every field it encodes)."""
    c = u.Client(PORT)
    try:
        ids = set()
        for _ in range(20):
            r = c.get(mark())
            assert isinstance(r, dict) and r["status"] == 200, r
            ids.add(r["headers"]["x-request-id"])
        assert len(ids) == 20
        heads = [e.headers for e in c.events
                 if isinstance(e, u.h2.events.ResponseReceived)]
        assert len(heads) == 20
        for hs in heads:
            kind = {f[0]: type(f) for f in hs}
            assert kind["x-request-id"] is hpack.NeverIndexedHeaderTuple, hs
            assert kind["content-type"] is hpack.HeaderTuple, hs
        table = [n.decode() if isinstance(n, bytes) else n
                 for n, _ in c.c.decoder.header_table.dynamic_entries]
        assert "x-request-id" not in table, table
        assert "content-type" in table, table
    finally:
        c.close()
