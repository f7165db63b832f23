"""PROXY protocol v1/v2 from trusted peers and trusted X-Forwarded-For
chains: the client address they carry is the one forwarded."""
import socket
import struct
from pathlib import Path

import pytest

import helpers as h
import raw


# ---- PROXY protocol and trusted X-Forwarded-For ------------------------------

TRUSTED4, UNTRUSTED4 = h.ALLOWED4, h.BLOCKED4       # .2 and .3


@pytest.fixture(scope="module")
def gw_pp(backends, workdir):
    s = raw.start(workdir, "gw-proxyproto", listeners=[
        {"address": f"{h.SRV4}:{h.GW_PORT}", "proxy_protocol": True},
        {"address": f"[{h.SRV6}]:{h.GW_PORT}", "proxy_protocol": True},
        {"address": f"{h.SRV4}:{h.GW_PORT + 2}"}],
        top={"trusted_proxies": [f"{TRUSTED4}/32", f"{h.ALLOWED6}/128"]},
        access_log=Path(workdir) / "pp-access.log")
    s.access_log = Path(workdir) / "pp-access.log"
    yield s
    s.shutdown()


def xff_seen(backend, marker):
    e = raw.backend_entries(backend, marker)
    assert len(e) == 1, e
    return [v for k, v in e[0]["header_list"] if k.lower() == "x-forwarded-for"]


def v2_header(src, dst, sport, dport, cmd=0x21):
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    if ":" in src:
        addrs = (socket.inet_pton(socket.AF_INET6, src) +
                 socket.inet_pton(socket.AF_INET6, dst) +
                 struct.pack("!HH", sport, dport))
        fam = 0x21
    else:
        addrs = (socket.inet_aton(src) + socket.inet_aton(dst) +
                 struct.pack("!HH", sport, dport))
        fam = 0x11
    tlv = b"\x04\x00\x02ok"         # a TLV we do not interpret
    return sig + bytes([cmd, fam]) + struct.pack("!H", len(addrs) + len(tlv)) \
        + addrs + tlv


def test_proxy_v1_from_trusted_peer(gw_pp, backends):
    p = raw.uniq("ppv1")
    c = raw.Conn(src=TRUSTED4)
    c.send(f"PROXY TCP4 203.0.113.9 {h.SRV4} 5555 {h.GW_PORT}\r\n")
    for i in range(2):      # the address holds for the whole connection
        c.send(raw.request("GET", f"{p}/{i}", headers=[
            ("X-Forwarded-For", "192.0.2.200")]))
        assert c.response().status == 200
    c.close()
    for i in range(2):
        # 203.0.113.9 is not a trusted proxy: its XFF is replaced
        assert xff_seen(backends["b1"], f"{p}/{i}") == ["203.0.113.9"]


def test_proxy_v2_from_trusted_peer(gw_pp, backends):
    p = raw.uniq("ppv2")
    c = raw.Conn(src=TRUSTED4)
    c.send(v2_header("203.0.113.10", h.SRV4, 1234, h.GW_PORT) +
           raw.request("GET", p))
    assert c.response().status == 200
    c.close()
    assert xff_seen(backends["b1"], p) == ["203.0.113.10"]


def test_proxy_v2_ipv6_and_local(gw_pp, backends):
    p = raw.uniq("ppv6")
    c = raw.Conn(src=h.ALLOWED6, dst=h.SRV6)
    c.send(v2_header("2001:db8::7", h.SRV6, 1, h.GW_PORT) +
           raw.request("GET", p))
    assert c.response().status == 200
    c.close()
    assert xff_seen(backends["b1"], p) == ["2001:db8::7"]
    # LOCAL (a health check by the balancer): its own address
    p = raw.uniq("pplocal")
    c = raw.Conn(src=TRUSTED4)
    c.send(v2_header("0.0.0.0", "0.0.0.0", 0, 0, cmd=0x20) +
           raw.request("GET", p))
    assert c.response().status == 200
    c.close()
    assert xff_seen(backends["b1"], p) == [TRUSTED4]


@pytest.mark.parametrize("hdr", [
    b"PROXY TCP4 203.0.113.9 198.18.0.1 5555\r\n",
    b"PROXY TCP4 203.0.113.999 198.18.0.1 1 2\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",           # header missing
    b"\r\n\r\n\x00\r\nQUIT\n\x21\x31\x00\x00",       # v2 AF_UNIX
], ids=["v1-missing-port", "v1-bad-address", "missing", "v2-unix"])
def test_bad_proxy_header_from_trusted_peer(gw_pp, backends, hdr):
    c = raw.Conn(src=TRUSTED4)
    c.send(hdr)
    r = c.response()
    assert r.status == 400 and r.json()["error"] == "bad_request", r
    assert c.closed()
    c.close()


def test_untrusted_peer_is_a_direct_client(gw_pp, backends):
    p = raw.uniq("untrusted")
    c = raw.Conn(src=UNTRUSTED4)
    c.send(raw.request("GET", p, headers=[("X-Forwarded-For", "192.0.2.1")]))
    assert c.response().status == 200
    c.close()
    assert xff_seen(backends["b1"], p) == [UNTRUSTED4]
    # and a PROXY line from it is not believed: it is not HTTP either
    c = raw.Conn(src=UNTRUSTED4)
    c.send(f"PROXY TCP4 203.0.113.9 {h.SRV4} 1 2\r\n" +
           raw.request("GET", raw.uniq("spoof")).decode())
    assert c.response().status == 400
    c.close()


def test_trusted_xff_chain(gw_pp, backends):
    """A trusted peer's X-Forwarded-For is believed up to the client, and
    only that part goes on (then the peer): the leftmost element the
    backend sees is the client the gateway resolved, never what the client
    wrote before it."""
    p = raw.uniq("xff")
    c = raw.Conn(src=TRUSTED4, port=h.GW_PORT + 2)   # no PROXY listener
    c.send(raw.request("GET", p, headers=[
        ("X-Forwarded-For", "203.0.113.5, 198.51.100.7")]))
    assert c.response().status == 200
    c.close()
    assert xff_seen(backends["b1"], p) == [f"198.51.100.7, {TRUSTED4}"]
    p = raw.uniq("xff-untrusted")
    c = raw.Conn(src=UNTRUSTED4, port=h.GW_PORT + 2)
    c.send(raw.request("GET", p, headers=[("X-Forwarded-For", "203.0.113.5")]))
    assert c.response().status == 200
    c.close()
    assert xff_seen(backends["b1"], p) == [UNTRUSTED4]


def access_entry(gw, path):
    return h.access_log_entry(gw.access_log, path)


def test_access_log_uses_the_real_client_and_request_id(gw_pp, backends):
    """The address the PROXY header or trusted XFF carries is the client
    in the access log, with the request id the client saw."""
    p = raw.uniq("log-pp")
    c = raw.Conn(src=TRUSTED4)
    c.send(f"PROXY TCP4 203.0.113.44 {h.SRV4} 4444 {h.GW_PORT}\r\n")
    c.send(raw.request("GET", p))
    r = c.response()
    c.close()
    e = access_entry(gw_pp, p)
    assert e["client"] == "203.0.113.44", e
    assert e["request_id"] == r.header("x-request-id"), (e, r)
    # trusted XFF without PROXY: the rightmost untrusted hop
    p = raw.uniq("log-xff")
    c = raw.Conn(src=TRUSTED4, port=h.GW_PORT + 2)
    c.send(raw.request("GET", p, headers=[
        ("X-Forwarded-For", "192.0.2.9, 203.0.113.45"),
        ("X-Request-Id", "trace-xff-1")]))
    r = c.response()
    c.close()
    e = access_entry(gw_pp, p)
    assert e["client"] == "203.0.113.45", e
    assert e["request_id"] == "trace-xff-1" == r.header("x-request-id")
    # an untrusted peer's XFF is not believed
    p = raw.uniq("log-untrusted")
    c = raw.Conn(src=UNTRUSTED4, port=h.GW_PORT + 2)
    c.send(raw.request("GET", p, headers=[("X-Forwarded-For", "192.0.2.9")]))
    c.response()
    c.close()
    assert access_entry(gw_pp, p)["client"] == UNTRUSTED4
