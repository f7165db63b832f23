"""HTTP/2 attack families, each bounded: the connection is closed with a
GOAWAY (error code checked), the metric sluice_h2_abuse_total counts the
reason, a legitimate connection opened before keeps being served, and
the daemon's descriptors and memory stay bounded. Then load (h2load: 100
streams on one connection, mixed with HTTP/1.1 clients, every request
reaching the backend exactly once) and HTTP/2 over TLS (ALPN h2).

Budgets here: h2_max_glitches 20 (so control frames: 200 per served
stream), h2_stall_timeout_ms 1000. On the code before HTTP/2 every test
fails: the gateway does not start with h2c (and ALPN h2 is not offered).
"""
import subprocess
import threading
import time

import hpack
import pytest

import helpers as h
import h2util as u
import raw
import tls_util as t

PORT = h.GW_PORT + 51
TLS_PORT = h.GW_PORT + 52
ADMIN = "127.0.0.1:9951"


@pytest.fixture(scope="module")
def pki(workdir):
    return t.make_pki(workdir / "pki-h2")


@pytest.fixture(scope="module")
def gw(backends, workdir, pki):
    tls = t.tls_section(pki, ("api-ec",), alpn=["h2", "http/1.1"])
    cfg = raw.write_cfg(workdir, "gw-h2a", listeners=[
        {"address": f"{h.SRV4}:{PORT}", "h2c": True},
        {"address": f"{h.SRV4}:{TLS_PORT}", "tls": tls}],
        http={"h2_max_glitches": 20, "h2_stall_timeout_ms": 1000},
        top={"admin": {"address": ADMIN,
                       "socket": str(h.admin_socket_path(workdir,
                                                         "gw-h2a"))}})
    s = h.Sluiced(cfg, workdir, tag="gw-h2a")
    s.start()
    yield s
    s.shutdown()


def abuse(reason):
    return u.abuse(ADMIN, reason)


@pytest.fixture(scope="module")
def legit(gw):
    """A well-behaved connection opened before the attacks."""
    c = u.Client(PORT)
    assert c.get("/legit/first")["status"] == 200
    yield c
    c.close()


def fds(pid):
    return len(list(__import__("pathlib").Path(f"/proc/{pid}/fd").iterdir()))


SEEN = {}


def attacked(gw, legit, *reasons):
    """What every attack test checks after its connection was closed: the
    metric counted it under (one of) its reason(s)."""
    def total():
        return sum(abuse(r) for r in reasons)
    before = SEEN.get(reasons, 0.0)
    h.wait_for(lambda: total() >= before + 1, 5,
               what=f"sluice_h2_abuse_total{{reason={reasons}}}")
    SEEN[reasons] = total()
    reason = reasons[0]
    # the legitimate connection goes on
    assert legit.get("/legit/after-" + reason)["status"] == 200


def send_until_closed(s, frames):
    """Send frames (the server may close early: that is the point)."""
    try:
        for f in frames:
            s.sendall(f)
    except (BrokenPipeError, ConnectionResetError):
        pass


def goaway_after(s, timeout=5):
    fs, _ = u.read_frames(s, lambda fs: u.goaway_code(fs) is not None,
                          timeout)
    s.close()
    return u.goaway_code(fs)


def req(sid, path="/a", method="GET", end=True, enc=None):
    hs = [(":method", method), (":scheme", "http"), (":path", path),
          (":authority", "gw.test")]
    flags = u.END_HEADERS | (u.END_STREAM if end else 0)
    return u.frame(u.HEADERS, flags, sid, (enc or hpack.Encoder()).encode(hs))


def test_rapid_reset(gw, legit):
    """CVE-2023-44487: open a stream and reset it, over and over."""
    s = u.raw_client(PORT)
    enc = hpack.Encoder()
    send_until_closed(s, [req(2 * i + 1, "/rr", enc=enc) +
                          u.frame(u.RST_STREAM, 0, 2 * i + 1,
                                  b"\0\0\0\x08") for i in range(200)])
    assert goaway_after(s) == u.ENHANCE_YOUR_CALM
    attacked(gw, legit, "rapid_reset")


def test_made_you_reset(gw, legit):
    """CVE-2025-8671: streams the server has to reset because of the
    client's protocol errors (here: an upper-case field name) count
    against the same budget."""
    s = u.raw_client(PORT)
    enc = hpack.Encoder()
    frames = []
    for i in range(200):
        hs = [(":method", "GET"), (":scheme", "http"), (":path", "/myr"),
              (":authority", "gw.test"), ("X-Bad", "1")]
        frames.append(u.frame(u.HEADERS, u.END_HEADERS | u.END_STREAM,
                              2 * i + 1, enc.encode(hs)))
    send_until_closed(s, frames)
    assert goaway_after(s) == u.ENHANCE_YOUR_CALM
    attacked(gw, legit, "server_reset")


def test_continuation_flood(gw, legit):
    """HEADERS without END_HEADERS, then CONTINUATION frames without end:
    nghttp2 stops at 8 (nghttp2_option_set_max_continuations)."""
    s = u.raw_client(PORT)
    block = hpack.Encoder().encode([(":method", "GET"), (":scheme", "http"),
                                    (":path", "/cf"),
                                    (":authority", "gw.test")])
    frames = [u.frame(u.HEADERS, u.END_STREAM, 1, block)]
    frames += [u.frame(u.CONTINUATION, 0, 1, b"")] * 1000
    send_until_closed(s, frames)
    assert goaway_after(s) == u.ENHANCE_YOUR_CALM
    attacked(gw, legit, "continuation")


def test_hpack_bomb(gw, legit, backends):
    """One 4000-byte field in the dynamic table, then referenced 100
    times per stream by its one-byte index: each header list expands past
    the 16 KiB limit. nghttp2 resets such a stream (PROTOCOL_ERROR) or we
    answer 431 (h2s_header): either way a glitch, and 21 of them cross
    the budget. The backend gets none of them."""
    s = u.raw_client(PORT)
    enc = hpack.Encoder()
    base = [(":method", "GET"), (":scheme", "http"), (":path", "/bomb"),
            (":authority", "gw.test")]
    first = enc.encode(base + [("x-bomb", "b" * 4000)])
    frames = [u.frame(u.HEADERS, u.END_HEADERS | u.END_STREAM, 1, first)]
    for i in range(1, 30):
        # 0xbe: dynamic table index 62, the x-bomb field
        blk = enc.encode(base) + b"\xbe" * 100
        frames.append(u.frame(u.HEADERS, u.END_HEADERS | u.END_STREAM,
                              2 * i + 1, blk))
    send_until_closed(s, frames)
    assert goaway_after(s) == u.ENHANCE_YOUR_CALM
    attacked(gw, legit, "header_list", "server_reset")
    assert [e for e in h.backend_log(backends["b1"])
            if e["target"] == "/bomb"][1:] == []


@pytest.mark.parametrize("name,frame,reason", [
    ("ping", u.frame(u.PING, 0, 0, b"12345678"), "ping"),
    ("settings", u.frame(u.SETTINGS, 0, 0, b""), "settings"),
    ("window_update", u.frame(u.WINDOW_UPDATE, 0, 0, b"\0\0\0\1"),
     "control_frames"),
])
def test_control_frame_flood(gw, legit, name, frame, reason):
    """PING, SETTINGS, WINDOW_UPDATE floods: 200 per served stream."""
    s = u.raw_client(PORT)
    reader = threading.Thread(target=lambda: u.read_frames(
        s, lambda fs: u.goaway_code(fs) is not None, 10))
    send_until_closed(s, [frame * 50] * 10)
    fs, _ = u.read_frames(s, lambda fs: u.goaway_code(fs) is not None, 5)
    s.close()
    assert u.goaway_code(fs) == u.ENHANCE_YOUR_CALM, fs[-2:]
    attacked(gw, legit, reason)


def test_empty_data_frames(gw, legit):
    s = u.raw_client(PORT)
    send_until_closed(s, [req(1, "/empty", "POST", end=False)] +
                      [u.frame(u.DATA, 0, 1, b"")] * 100)
    assert goaway_after(s) == u.ENHANCE_YOUR_CALM
    attacked(gw, legit, "empty_frames")


def test_zero_window_stall(gw, legit):
    """The client opens no window for the response: closed after the
    stall timeout."""
    c = u.Client(PORT, settings={4: 0})
    sid = c.request("/bytes/5000")
    assert c.wait_goaway(5) == u.ENHANCE_YOUR_CALM
    assert c.responses.get(sid, {}).get("body", b"") == b""
    c.close()
    attacked(gw, legit, "stall")


def test_body_dribble(gw, legit):
    """A request body announced and never finished (a byte, then
    nothing): closed after the stall timeout."""
    c = u.Client(PORT)
    sid = c.request("/dribble", "POST", headers=[("content-length", "1000")],
                    body=b"x", end=False)
    assert c.wait_goaway(5) == u.ENHANCE_YOUR_CALM
    c.close()
    attacked(gw, legit, "stall")


def test_slow_reader_is_bounded(gw, legit):
    """Many large responses, never read: the gateway buffers at most its
    per-connection output buffer, then the stall timeout closes it."""
    pid = raw.sluiced_pid(gw)
    rss0 = raw.rss_kib(pid)
    c = u.Client(PORT, settings={4: 1 << 20})
    c.c.increment_flow_control_window(1 << 30)
    c.flush()
    for i in range(50):
        c.request(f"/bytes/{1 << 20}")
    # read nothing for a while; the gateway must close
    time.sleep(2.5)
    rss1 = raw.rss_kib(pid)
    assert c.wait_closed(10)
    c.close()
    assert rss1 - rss0 < 64 * 1024, (rss0, rss1)
    attacked(gw, legit, "stall")


def active():
    return raw.metric(ADMIN, "sluice_connections_active")


def test_closing_with_requests_upstream_frees_them(gw, legit):
    """A client opens 50 streams to an upstream that takes 6 s to answer
    and closes its connection: their exchanges, bridges and upstream
    connections go at once, not when the upstream answers. Before, each
    TCP connection could hold 100 upstream requests and slots this way,
    uncounted, for as long as the upstream took."""
    assert legit.get("/legit/before-close")["status"] == 200
    time.sleep(1.1)     # the gauge is sampled twice a second
    base = active()
    c = u.Client(PORT)
    for i in range(50):
        c.request(f"/sleep/6000?held={i}")
    h.wait_for(lambda: active() >= base + 50, 5, what="streams in flight")
    t0 = time.monotonic()
    c.close()
    h.wait_for(lambda: active() <= base, 3, what="slots back")
    assert time.monotonic() - t0 < 3
    assert legit.get("/legit/after-close")["status"] == 200


def test_unread_responses_hold_little_per_stream(backends, workdir):
    """100 streams of 1 MiB responses on a connection that opens no
    window and reads nothing: each stream holds about three buffers (the
    upstream's, the bridge's queue of one, the stream's own): 13.4 MB in
    all, measured, until the stall clock closes the connection. The
    bridge's queue held six before: 33 MB for this connection."""
    port = h.GW_PORT + 54
    s = raw.start(workdir, "gw-h2-unread",
                  listeners=[{"address": f"{h.SRV4}:{port}", "h2c": True}],
                  http={"h2_stall_timeout_ms": 4000})
    try:
        rss0 = raw.rss_kib(s.pid)
        c = u.Client(port, settings={4: 0})
        for i in range(100):
            c.request(f"/bytes/{1 << 20}?unread={i}")
        time.sleep(1.5)
        grew = raw.rss_kib(s.pid) - rss0
        assert c.wait_closed(10)
        c.close()
    finally:
        s.stop()
    if "/asan/" not in str(h.SLUICED):   # ASan's quarantine keeps memory
        assert grew < 100 * 170, grew


def test_resources_back_after_attacks(gw, legit):
    pid = raw.sluiced_pid(gw)
    base = fds(pid)
    for _ in range(3):
        s = u.raw_client(PORT)
        enc = hpack.Encoder()
        send_until_closed(s, [req(2 * i + 1, "/res", enc=enc) +
                              u.frame(u.RST_STREAM, 0, 2 * i + 1,
                                      b"\0\0\0\x08") for i in range(100)])
        assert goaway_after(s) == u.ENHANCE_YOUR_CALM
    h.wait_for(lambda: fds(pid) <= base, 5, what="descriptors back")
    assert legit.get("/legit/end")["status"] == 200


def test_drain_goaway(backends, workdir):
    """SIGTERM: an idle HTTP/2 connection gets GOAWAY NO_ERROR and is
    closed; sluiced exits 0."""
    cfg = raw.write_cfg(workdir, "gw-h2d", listeners=[
        {"address": f"{h.SRV4}:{PORT + 10}", "h2c": True}])
    s = h.Sluiced(cfg, workdir, tag="gw-h2d")
    s.start()
    c = u.Client(PORT + 10)
    assert c.get("/drain")["status"] == 200
    s.p.send_signal(__import__("signal").SIGTERM)
    assert c.wait_goaway(5) == u.NO_ERROR
    assert c.wait_closed(5)
    c.close()
    # with its last connection gone the daemon exits by itself: how soon
    # is its business, so wait for that exit rather than signal again
    rc = s.p.wait(timeout=15)
    s.stop()
    s.stopped = True
    s.check_sanitizers()
    assert rc == 0, f"exit status {rc} on SIGTERM:\n{h.tail(s.err_path)}"


# ---- load ------------------------------------------------------------------

def test_h2load_mixed_with_http11(gw, backends, workdir):
    """h2load: 100 streams on one connection, 1000 requests, distinct
    paths (each client of h2load walks the whole list: one client), while 4 HTTP/1.1 clients send 50 keep-alive requests each:
    every request reaches the backend exactly once."""
    m = raw.uniq("h2load")
    uris = workdir / "h2load-uris.txt"
    uris.write_text("".join(f"http://{h.SRV4}:{PORT}{m}/{i}\n"
                            for i in range(1000)))
    errors = []

    def h1(k):
        try:
            c = raw.Conn(port=PORT)
            for i in range(50):
                c.send(raw.request("GET", f"{m}/h1-{k}-{i}"))
                assert c.response().status == 200
            c.close()
        except Exception as e:      # re-raised below
            errors.append(e)
    ts = [threading.Thread(target=h1, args=(k,)) for k in range(4)]
    for th in ts:
        th.start()
    r = subprocess.run(["ip", "netns", "exec", h.CLI_NS, "h2load", "-n",
                        "1000", "-c", "1", "-m", "100", "-i", str(uris)],
                       capture_output=True, text=True, timeout=90)
    for th in ts:
        th.join(60)
    assert not errors, errors
    assert "1000 succeeded" in r.stdout, r.stdout[-800:]
    seen = {}
    for e in h.backend_log(backends["b1"]):
        if m in e["target"]:
            seen[e["target"]] = seen.get(e["target"], 0) + 1
    assert len(seen) == 1200, len(seen)
    assert set(seen.values()) == {1}


# ---- TLS: ALPN h2 ------------------------------------------------------------

def tls_sock(pki, alpn):
    s = u.sock(TLS_PORT)
    ctx = t.client_ctx(pki, alpn=alpn)
    return ctx.wrap_socket(s, server_hostname="api.test")


def test_alpn_h2(gw, pki):
    s = tls_sock(pki, ["h2", "http/1.1"])
    assert s.selected_alpn_protocol() == "h2"
    c = u.Client(TLS_PORT, sock_=s)
    r = c.get("/tls-h2")
    assert r["status"] == 200
    c.close()


def test_many_requests_and_an_upload_over_tls(gw, pki, backends):
    """One TLS connection whose receive stays armed between frames: 300
    requests one after another, then a 1 MiB upload in DATA frames (the
    receive's byte limit is reached and it is armed again, many times).
    Every request reaches the backend once, the upload whole."""
    c = u.Client(TLS_PORT, sock_=tls_sock(pki, ["h2"]))
    tag = raw.uniq("tls-seq")
    for i in range(300):
        r = c.get(f"{tag}/{i}")
        assert r["status"] == 200, (i, r)
    body = bytes(range(256)) * 4096
    up = raw.uniq("tls-up")
    r = c.response(c.request(up, method="POST", body=body), timeout=20)
    assert r["status"] == 200, r
    c.close()
    seen = [e["target"] for e in raw.backend_entries(backends["b1"], tag)]
    assert sorted(seen) == sorted(f"{tag}/{i}" for i in range(300)), seen
    e = raw.backend_entries(backends["b1"], up)
    assert [(x["body_bytes"], x["body_fnv1a"]) for x in e] == [
        (len(body), raw.fnv1a(body))], e


def test_alpn_http11_fallback(gw, pki):
    s = tls_sock(pki, ["http/1.1"])
    assert s.selected_alpn_protocol() == "http/1.1"
    s.sendall(raw.request("GET", "/tls-h1"))
    assert s.recv(100).startswith(b"HTTP/1.1 200")
    s.close()


def test_curl_http2_over_tls(gw, pki):
    r = subprocess.run(["ip", "netns", "exec", h.CLI_NS, "curl", "-sS",
                        "--http2", "--cacert", str(pki / "ca.pem"),
                        "--resolve", f"api.test:{TLS_PORT}:{h.SRV4}",
                        "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                        f"https://api.test:{TLS_PORT}/curl"],
                       capture_output=True, text=True, timeout=20)
    assert r.stdout == "2 200", (r.stdout, r.stderr)
