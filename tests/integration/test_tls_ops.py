"""TLS operations: session resumption (TLS 1.2 tickets, TLS 1.3 PSK) on
any of two workers and across a reload, handshake metrics, the expiry
gauge, the access log's tls and sni fields, sluicectl certs, HSTS and the
308 redirect of a plain listener.

Fails without the shared ticket keys: after the reload the new snapshot's
contexts would hold new random keys and the session would not resume.
"""
import json
import signal
import ssl
import time

import pytest

import helpers as h
import raw
import tls_util as t

PORT = h.GW_PORT + 44
REDIRECT = h.GW_PORT + 45      # plain, redirect_https: PORT
ADMIN = "127.0.0.1:9944"


@pytest.fixture(scope="module")
def pki(workdir):
    return t.make_pki(workdir / "pki")


@pytest.fixture(scope="module")
def gw(backends, workdir, pki):
    log = workdir / "tls-ops-access.log"
    sock = workdir / "tls-ops.sock"
    s = raw.start(workdir, "gw-tls-ops", workers=2, access_log=str(log),
                  listeners=[{"address": f"{h.SRV4}:{PORT}",
                              "tls": t.tls_section(
                                  pki, ("api-ec", "star"),
                                  hsts="max-age=31536000")},
                             {"address": f"{h.SRV4}:{REDIRECT}",
                              "redirect_https": PORT}],
                  top={"admin": {"address": ADMIN, "socket": str(sock)}})
    s.log = log
    s.sock = sock
    yield s
    s.shutdown()


def metrics():
    r = h.run(["nsenter", f"--net=/run/netns/{h.SRV_NS}", "curl", "-sS",
               "--max-time", "5", f"http://{ADMIN}/metrics"], timeout=10)
    return r.stdout


def series(text, name, **labels):
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def handshake(ctx, session=None, name="api.test"):
    c = raw.Conn(port=PORT, connect=False, tls=ctx)
    c.s.connect(c.dst)
    c.s = ctx.wrap_socket(c.s, server_hostname=name, session=session)
    c.send(raw.request("GET", raw.uniq("res")))
    assert c.response().status == 200
    # TLS 1.3: the ticket came before the response
    sess = c.s.session
    reused = c.s.session_reused
    c.close()
    return sess, reused


@pytest.mark.parametrize("version", ["TLSv1_3", "TLSv1_2"])
def test_resumption_on_any_worker_and_after_reload(gw, pki, version):
    v = getattr(ssl.TLSVersion, version)
    ctx = t.client_ctx(pki, minv=v, maxv=v)
    before = series(metrics(), "sluice_tls_resumed_handshakes_total")
    sess, reused = handshake(ctx)
    assert not reused and sess is not None
    # connections from new source ports spread over both workers
    for _ in range(6):
        _, reused = handshake(ctx, sess)
        assert reused, "session not resumed"
    n = gw.output().count("reload: configuration applied")
    gw.p.send_signal(signal.SIGHUP)
    h.wait_for(lambda: gw.output().count("reload: configuration applied")
               > n, 15, what="reload")
    _, reused = handshake(ctx, sess)
    assert reused, "session not resumed after a reload"
    got = series(metrics(), "sluice_tls_resumed_handshakes_total",
                 tls_version=version.replace("_", "."))
    assert got - before >= 7 or got >= 7, got


def test_handshake_metrics(gw, pki):
    ctx = t.client_ctx(pki)
    handshake(ctx)
    c = raw.Conn(port=PORT, tls=False)
    c.send(b"\x16\x03\x01\x00\x05hello")
    c.read_until_close()
    text = metrics()
    ok = series(text, "sluice_tls_handshakes_total", tls_version="TLSv1.3",
                cipher="TLS_AES_128_GCM_SHA256", result="success")
    bad = series(text, "sluice_tls_handshakes_total", tls_version="none",
                 result="failure")
    assert ok >= 1 and bad >= 1, text


def test_expiry_gauge(gw, pki):
    text = metrics()
    for name in ("api-ec", "star"):
        line = [l for l in text.splitlines()
                if l.startswith("sluice_tls_certificate_not_after_seconds{")
                and f"{name}.chain.pem" in l]
        assert line, text
        v = float(line[0].rsplit(" ", 1)[1])
        # the test certificates are valid 30 days
        assert time.time() + 20 * 86400 < v < time.time() + 40 * 86400


def test_access_log_tls_and_sni(gw, pki):
    ctx = t.client_ctx(pki)
    ctx.check_hostname = False
    c = raw.Conn(port=PORT, connect=False, tls=ctx)
    c.s.connect(c.dst)
    c.s = ctx.wrap_socket(c.s, server_hostname="x.example.test")
    path = raw.uniq("alog")
    c.send(raw.request("GET", path))
    assert c.response().status == 200
    c.close()
    e = h.access_log_entry(gw.log, path)
    assert e["tls"] == "TLSv1.3" and e["sni"] == "x.example.test", e


def test_sluicectl_certs(gw, pki):
    r = h.run([h.SLUICECTL, "--socket", gw.sock, "--json", "certs"])
    certs = json.loads(r.stdout)["certificates"]
    by_file = {c["file"].rsplit("/", 1)[1]: c for c in certs}
    assert by_file["api-ec.chain.pem"]["names"] == ",".join(
        sorted([h.SRV4, h.SRV6, "api.test"]))
    assert by_file["star.chain.pem"]["names"] == "*.example.test"
    assert 28 <= by_file["star.chain.pem"]["days_left"] <= 30
    r = h.run([h.SLUICECTL, "--socket", gw.sock, "certs"])
    assert "NOT_AFTER" in r.stdout and "*.example.test" in r.stdout


def test_hsts_on_tls_responses(gw, pki, backends):
    c = raw.Conn(port=PORT, tls=t.client_ctx(pki))
    c.send(raw.request("GET", raw.uniq("hsts"), headers=[
        ("X-Forwarded-Proto", "http")]))
    r = c.response()
    assert r.header("strict-transport-security") == "max-age=31536000", r
    c.close()


@pytest.mark.parametrize("host,target,location", [
    ("api.test", "{u}/b?x=1", f"https://api.test:{PORT}{{u}}/b?x=1"),
    (f"api.test:{REDIRECT}", "{u}", f"https://api.test:{PORT}{{u}}"),
    (f"[{h.SRV6}]:{REDIRECT}", "{u}", f"https://[{h.SRV6}]:{PORT}{{u}}"),
    ("api.test", "http://api.test{u}?q", f"https://api.test:{PORT}{{u}}?q"),
], ids=["path-query", "host-port", "ipv6-host", "absolute-form"])
def test_plain_listener_redirects_to_https(gw, backends, host, target,
                                           location):
    u = raw.uniq("redir")
    c = raw.Conn(port=REDIRECT, tls=False)
    c.send(f"GET {target.format(u=u)} HTTP/1.1\r\nHost: {host}\r\n\r\n")
    r = c.response()
    assert r.status == 308, r
    assert r.header("location") == location.format(u=u), r
    assert r.header("strict-transport-security") is None
    c.close()
    assert raw.backend_entries(backends["b1"], u) == []


def test_redirect_without_host_is_400(gw):
    c = raw.Conn(port=REDIRECT, tls=False)
    c.send(b"GET / HTTP/1.0\r\n\r\n")
    assert c.response().status == 400
    c.close()
