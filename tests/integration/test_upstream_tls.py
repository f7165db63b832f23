"""TLS to upstreams (services[].tls): an HTTPS origin (tls_origin.py, Python
ssl, in the server namespace) behind sluiced. What the origin received
(request line, headers, body hash), verification with the right CA, a
wrong CA and a wrong name refused (502 JSON naming it, nothing reaches the
origin), verify: false (works, warns), a client certificate the origin
requires, keep-alive reuse of one TLS connection and session resumption on
a new one, health checks over TLS, HTTP/2 clients, metrics, the config
errors (file:line) and a bad reload that keeps the running config.
Certificates: tls_util.make_pki() (CA "ca" signs api.test + the server
addresses; "cca" signs the client certificates and serves as a wrong CA).
"""
import hashlib
import json
import re
import time
from pathlib import Path

import pytest

import helpers as h
import raw
import tls_util as t

GW = h.GW_PORT + 71
ADMIN = "127.0.0.1:9971"
ORIGIN = 9471
ORIGIN_MTLS = 9472
LISTEN = [{"address": f"{h.SRV4}:{GW}"}]
ORIGIN_PY = Path(__file__).resolve().parent / "tls_origin.py"


@pytest.fixture(scope="module")
def pki(workdir):
    return t.make_pki(workdir / "pki")


class Origin:
    def __init__(self, workdir, name, port, pki, client_ca=None,
                 cert="api-ec", tls12=False):
        self.log = Path(workdir) / f"{name}.jsonl"
        self.down = Path(workdir) / f"{name}.down"
        self.log.write_text("")
        argv = ["ip", "netns", "exec", h.SRV_NS, h.PY, ORIGIN_PY,
                "--listen", f"{h.SRV4}:{port}",
                "--cert", pki / f"{cert}.chain.pem",
                "--key", pki / f"{cert}.key", "--log", self.log,
                "--down", self.down]
        if client_ca:
            argv += ["--client-ca", pki / f"{client_ca}.pem"]
        if tls12:
            argv.append("--tls12")
        self.p = h.Proc(name, argv, workdir)
        self.p.wait_output("origin ready", 15)

    def events(self, ev=None):
        out = [json.loads(l) for l in self.log.read_text().splitlines()
               if l.strip()]
        return [e for e in out if ev is None or e["ev"] == ev]

    def stop(self):
        self.p.stop()


@pytest.fixture
def origin(topo, workdir, pki):
    o = Origin(workdir, "origin", ORIGIN, pki)
    yield o
    o.stop()


def start_gw(workdir, name, tls, port=ORIGIN, extra=None, listeners=LISTEN,
             workers=1):
    svc = {"name": "app", "targets": [f"{h.SRV4}:{port}"], "tls": tls,
           "connect_timeout_ms": 2000}
    svc.update(extra or {})
    top = {"admin": {"address": ADMIN,
                     "socket": str(Path(workdir) / f"{name}-admin.sock")}}
    return raw.start(workdir, name, listeners=listeners, services=[svc],
                     routes=[{"name": "all", "path_prefix": "/",
                              "service": "app"}], top=top, workers=workers)


def ca(pki, name="ca"):
    return str(pki / f"{name}.pem")


def get(path, c=None, **kw):
    own = c is None
    c = c or raw.Conn(port=GW)
    try:
        c.send(raw.request("GET", path, **kw))
        return c.response()
    finally:
        if own:
            c.close()


def metrics():
    r = h.run(["nsenter", f"--net=/run/netns/{h.SRV_NS}", "curl", "-sS",
               "--max-time", "5", f"http://{ADMIN}/metrics"], timeout=10)
    return r.stdout


def handshakes(text, result, resumed):
    m = re.search(r'^sluice_upstream_tls_handshakes_total\{service="app",'
                  rf'result="{result}",resumed="{resumed}"\}} (\d+)', text,
                  re.M)
    return int(m.group(1)) if m else 0


# ---- proxying -------------------------------------------------------------

def test_request_and_body_arrive_intact(origin, workdir, pki):
    s = start_gw(workdir, "ut-body", {"ca": ca(pki), "sni": "api.test"})
    try:
        body = bytes((i * 31) & 0xff for i in range(200000))
        c = raw.Conn(port=GW)
        c.send(raw.request("POST", "/submit/1?x=y", host="api.example.test",
                           headers=[("X-Custom", "abc"),
                                    ("Content-Type", "application/json")],
                           body=body))
        r = c.response()
        assert r.status == 200, r
        j = r.json()
        assert j["body_sha256"] == hashlib.sha256(body).hexdigest()
        # a large response body comes back whole (no splice on TLS)
        c.send(raw.request("GET", "/big/1"))
        r = c.response()
        assert r.status == 200
        assert r.body == bytes((i * 7) & 0xff for i in range(300000))
        c.close()
        hs = origin.events("handshake")
        assert hs and hs[0]["sni"] == "api.test", hs
        assert hs[0]["version"] == "TLSv1.3", hs
        req = [e for e in origin.events("request")
               if e["target"] == "/submit/1?x=y"][0]
        assert (req["method"], req["version"]) == ("POST", "HTTP/1.1")
        hd = {k.lower(): v for k, v in req["headers"]}
        assert hd["host"] == "api.example.test"
        assert hd["x-custom"] == "abc"
        assert req["body_len"] == len(body)
        assert req["body_sha256"] == hashlib.sha256(body).hexdigest()
        m = metrics()
        assert handshakes(m, "ok", "false") >= 1, m
        assert "# TYPE sluice_upstream_tls_handshakes_total counter" in m
    finally:
        s.shutdown()


def test_ip_target_verified_without_sni(origin, workdir, pki):
    """No sni: none is sent, and the target's IP is what is verified (the
    certificate carries it as an IP SAN)."""
    s = start_gw(workdir, "ut-ip", {"ca": ca(pki)})
    try:
        assert get("/ip/1").status == 200
        assert origin.events("handshake")[0]["sni"] is None
    finally:
        s.shutdown()


@pytest.mark.parametrize("tls,why", [
    ({"ca": "CCA", "sni": "api.test"},
     "certificate verify failed: self-signed certificate in certificate "
     "chain"),
    ({"ca": "CA", "sni": "wrong.test"},
     "certificate verify failed: hostname mismatch"),
], ids=["wrong-ca", "name-mismatch"])
def test_verification_refused(origin, workdir, pki, tls, why):
    tls = dict(tls, ca=ca(pki, "cca" if tls["ca"] == "CCA" else "ca"))
    s = start_gw(workdir, "ut-refuse", tls)
    try:
        r = get("/refused/1")
        assert r.status == 502, r
        assert r.header("content-type").startswith("application/json")
        j = r.json()
        assert j["status"] == 502, j
        assert j["message"] == f"upstream TLS: {why}", j
        assert not origin.events("request"), origin.events()
        assert "connect failed: TLS: certificate verify failed" in \
            s.output()
        assert handshakes(metrics(), "verify_failed", "false") >= 1
    finally:
        s.shutdown()


def test_verify_false_works_and_warns(origin, workdir, pki):
    s = start_gw(workdir, "ut-noverify",
                 {"ca": ca(pki, "cca"), "verify": False})
    try:
        assert get("/nv/1").status == 200
        assert "tls.verify is false" in s.output()
    finally:
        s.shutdown()


def test_client_certificate_presented(topo, workdir, pki):
    o = Origin(workdir, "origin-mtls", ORIGIN_MTLS, pki, client_ca="cca")
    try:
        s = start_gw(workdir, "ut-mtls",
                     {"ca": ca(pki), "sni": "api.test",
                      "cert": str(pki / "alice.chain.pem"),
                      "key": str(pki / "alice.key")}, port=ORIGIN_MTLS)
        try:
            assert get("/mtls/1").status == 200
            assert o.events("handshake")[0]["peer_cn"] == "alice"
        finally:
            s.shutdown()
        # without one the origin refuses the handshake: a 502
        s = start_gw(workdir, "ut-nomtls", {"ca": ca(pki), "sni": "api.test"},
                     port=ORIGIN_MTLS)
        try:
            r = get("/mtls/2")
            assert r.status == 502, r
            assert r.json()["message"].startswith("upstream TLS: "), r
            assert not [e for e in o.events("request")
                        if e["target"] == "/mtls/2"]
        finally:
            s.shutdown()
    finally:
        o.stop()


def test_keepalive_reuse_and_stale_pooled(origin, workdir, pki):
    """Several requests, one TLS connection; when the origin restarts, the
    pooled connection is found closed and a new one is made."""
    s = start_gw(workdir, "ut-ka", {"ca": ca(pki), "sni": "api.test"})
    try:
        for i in range(5):
            assert get(f"/ka/{i}").status == 200
        reqs = [e for e in origin.events("request")
                if e["target"].startswith("/ka/")]
        assert len(reqs) == 5
        assert len({e["conn"] for e in reqs}) == 1, reqs
        assert len(origin.events("handshake")) == 1
        origin.stop()
        o2 = Origin(workdir, "origin2", ORIGIN, pki)
        try:
            # a pooled connection to the dead origin may fail once
            for i in range(3):
                r = get(f"/res/{i}")
                if r.status == 200:
                    break
            assert r.status == 200, r
            hs = o2.events("handshake")
            assert hs, o2.events()
        finally:
            o2.stop()
    finally:
        s.shutdown()


def test_session_resumed_on_new_connection(origin, workdir, pki):
    """max_idle: 0 (no pool): every request opens a new TLS connection,
    and from the second on it resumes the target's cached session."""
    s = start_gw(workdir, "ut-resume", {"ca": ca(pki), "sni": "api.test"},
                 extra={"max_idle": 0})
    try:
        for i in range(4):
            assert get(f"/rs/{i}").status == 200
        hs = origin.events("handshake")
        assert len(hs) == 4, hs
        assert not hs[0]["reused"]
        assert all(e["reused"] for e in hs[1:]), hs
        assert handshakes(metrics(), "ok", "true") >= 3
    finally:
        s.shutdown()


def test_tls12_origin_and_min_version(topo, workdir, pki):
    """An origin that speaks at most TLS 1.2: full and resumed handshakes
    (the client's flights go out on the read side, its Finished of a
    resumed one leads the request); with min_version "1.3" it is
    refused."""
    o = Origin(workdir, "origin12", ORIGIN_MTLS, pki, tls12=True)
    try:
        s = start_gw(workdir, "ut-v12", {"ca": ca(pki), "sni": "api.test"},
                     port=ORIGIN_MTLS, extra={"max_idle": 0})
        try:
            body = b"x" * 70000
            for i in range(3):
                c = raw.Conn(port=GW)
                c.send(raw.request("POST", f"/v12/{i}", body=body))
                r = c.response()
                c.close()
                assert r.status == 200, r
                assert r.json()["body_sha256"] == \
                    hashlib.sha256(body).hexdigest()
            hs = o.events("handshake")
            assert [e["version"] for e in hs] == ["TLSv1.2"] * 3, hs
            assert [e["reused"] for e in hs] == [False, True, True], hs
        finally:
            s.shutdown()
        s = start_gw(workdir, "ut-v13", {"ca": ca(pki), "sni": "api.test",
                                         "min_version": "1.3"},
                     port=ORIGIN_MTLS)
        try:
            r = get("/v13/1")
            assert r.status == 502, r
            assert r.json()["message"].startswith("upstream TLS: "), r
        finally:
            s.shutdown()
    finally:
        o.stop()


def test_http2_client_to_tls_upstream(origin, workdir, pki):
    s = start_gw(workdir, "ut-h2", {"ca": ca(pki), "sni": "api.test"},
                 listeners=[{"address": f"{h.SRV4}:{GW}", "h2c": True}])
    try:
        code, body, r = h.curl(h.ALLOWED4, f"http://{h.SRV4}:{GW}/h2/a",
                               "--http2-prior-knowledge", "--data-binary",
                               "hello over h2")
        assert code == 200, r.stderr
        assert json.loads(body)["body_sha256"] == hashlib.sha256(
            b"hello over h2").hexdigest()
        e = [e for e in origin.events("request") if e["target"] == "/h2/a"]
        assert e and e[0]["method"] == "POST", origin.events()
    finally:
        s.shutdown()


def test_verify_failure_retried_and_ejected(origin, workdir, pki):
    """A target whose certificate does not verify is a connect failure:
    idempotent requests go to the other target (retries), and outlier
    detection ejects it after consecutive_connect_failures."""
    bad = Origin(workdir, "origin-rogue", ORIGIN_MTLS, pki, cert="mallory")
    try:
        s = start_gw(workdir, "ut-retry", {"ca": ca(pki), "sni": "api.test"},
                     extra={"targets": [f"{h.SRV4}:{ORIGIN_MTLS}",
                                        f"{h.SRV4}:{ORIGIN}"],
                            "outlier": {"consecutive_connect_failures": 2,
                                        "base_ejection_ms": 60000},
                            "max_idle": 0})
        try:
            for i in range(6):
                r = get(f"/retry/{i}")
                assert r.status == 200, r
            assert not bad.events("request")
            m = metrics()
            assert re.search(r'^sluice_upstream_failures_total\{service="app",'
                             rf'target="{h.SRV4}:{ORIGIN_MTLS}"\}} [1-9]', m,
                             re.M), m
            assert "ejected for 60000 ms" in s.output(), s.output()
            assert len(bad.events("handshake_failed")) == 2, bad.events()
        finally:
            s.shutdown()
    finally:
        bad.stop()


def test_per_try_timeout_after_the_handshake(origin, workdir, pki):
    """retries.per_try_timeout_ms goes on counting after the upstream TLS
    handshake: an origin that takes longer than the try to answer gets
    the per-try 504 (not its late 200), and one that answers in time is
    passed on."""
    s = start_gw(workdir, "ut-pertry", {"ca": ca(pki), "sni": "api.test"},
                 extra={"retries": {"attempts": 1,
                                    "per_try_timeout_ms": 500}})
    try:
        r = get("/sleep/2000?late=1")
        assert r.status == 504, r
        assert "per-try timeout" in r.json()["message"], r
        assert get("/sleep/10?quick=1").status == 200
        seen = [e["target"] for e in origin.events("request")]
        assert "/sleep/2000?late=1" in seen, seen
        assert "/sleep/10?quick=1" in seen, seen
    finally:
        s.shutdown()


def test_stalled_handshake_times_out(topo, workdir, pki):
    """A server that accepts TCP and never answers the ClientHello: the
    handshake fails after connect_timeout_ms, a 502 naming it, no hang."""
    stall = h.Proc("stall", [
        "ip", "netns", "exec", h.SRV_NS, h.PY, "-c",
        "import socket, time\n"
        f"s = socket.create_server(('{h.SRV4}', {ORIGIN_MTLS}))\n"
        "print('stall ready', flush=True)\n"
        "time.sleep(120)\n"], workdir)
    try:
        stall.wait_output("stall ready", 10)
        s = start_gw(workdir, "ut-stall", {"ca": ca(pki), "sni": "api.test"},
                     port=ORIGIN_MTLS, extra={"connect_timeout_ms": 500})
        try:
            t0 = time.monotonic()
            r = get("/stall/1")
            took = time.monotonic() - t0
            assert r.status == 502, r
            assert r.json()["message"] == \
                "upstream TLS: timed out in the handshake", r
            assert 0.4 <= took < 5, took
        finally:
            s.shutdown()
    finally:
        stall.stop()


# ---- health checks --------------------------------------------------------

def upstreams(workdir, name):
    r = h.run([h.SLUICECTL, "--socket", Path(workdir) / f"{name}-admin.sock",
               "--json", "upstreams"], timeout=20)
    return json.loads(r.stdout)["services"][0]


def test_health_checks_over_tls(origin, workdir, pki):
    hc = {"path": "/healthz", "interval_ms": 300, "timeout_ms": 1000,
          "healthy": 2, "unhealthy": 2}
    s = start_gw(workdir, "ut-hc", {"ca": ca(pki), "sni": "api.test"},
                 extra={"health": hc})
    try:
        h.wait_for(lambda: [e for e in origin.events("request")
                            if e["target"] == "/healthz"], 10,
                   what="a health check over TLS")
        origin.down.write_text("")
        h.wait_for(lambda: upstreams(workdir, "ut-hc")["targets"][0]
                   ["state"] == "unhealthy", 10, what="marked down")
        t0 = upstreams(workdir, "ut-hc")["targets"][0]
        assert t0["last_check_error"] == "status 503", t0
        origin.down.unlink()
        h.wait_for(lambda: upstreams(workdir, "ut-hc")["targets"][0]
                   ["state"] == "healthy", 10, what="back up")
    finally:
        s.shutdown()


def test_health_check_verifies(origin, workdir, pki):
    hc = {"path": "/healthz", "interval_ms": 300, "timeout_ms": 1000,
          "healthy": 1, "unhealthy": 1}
    s = start_gw(workdir, "ut-hcv", {"ca": ca(pki, "cca"),
                                     "sni": "api.test"},
                 extra={"health": hc})
    try:
        h.wait_for(lambda: upstreams(workdir, "ut-hcv")["targets"][0]
                   ["state"] == "unhealthy", 10, what="refused")
        t0 = upstreams(workdir, "ut-hcv")["targets"][0]
        assert t0["last_check_error"].startswith(
            "TLS: certificate verify failed"), t0
        assert not [e for e in origin.events("request")
                    if e["target"] == "/healthz"]
    finally:
        s.shutdown()


# ---- config ---------------------------------------------------------------

BASE = """listeners:
  - name: l
    address: 127.0.0.1:18081
xdp:
  enabled: false
services:
  - name: app
    targets: [{target}]
    tls:
{tls}
"""


@pytest.mark.parametrize("target,tls,want", [
    ("127.0.0.1:9", "      cert: c.pem", ":10:7: services[0].tls: cert and "
     "key go together"),
    ("127.0.0.1:9", "      min_version: \"1.1\"", ":10:20: "
     "services[0].tls.min_version"),
    ("127.0.0.1:9", "      verify: maybe", ":10:15: services[0].tls.verify"),
    ("127.0.0.1:9", "      bogus: 1", ":10:7: services[0].tls: unknown key "
     "'bogus'"),
    ('"unix:/run/a.sock"', "      enabled: true", ":10:7: services[0].tls: a "
     "unix: target has no address to verify"),
    ("127.0.0.1:9", "      ca: missing-ca.pem", "missing-ca.pem: cannot "
     "read the CA certificates"),
    ("127.0.0.1:9", "      ca: GARBAGE", "garbage.pem: cannot read the "
     "CA certificates"),
    ("127.0.0.1:9", "      cert: ALICE\n      key: OTHER",
     "other.key: private key does not match the certificate"),
], ids=["cert-no-key", "old-version", "bad-bool", "unknown-key",
        "unix-no-sni", "missing-ca", "bad-pem", "key-mismatch"])
def test_config_errors(env, tmp_path, pki, target, tls, want):
    tls = (tls.replace("GARBAGE", str(pki / "garbage.pem"))
           .replace("ALICE", str(pki / "alice.pem"))
           .replace("OTHER", str(pki / "other.key")))
    p = tmp_path / "ut.yaml"
    p.write_text(BASE.format(target=target, tls=tls))
    r = h.run_sluiced_once(["--check", "-c", str(p)])
    assert r.returncode != 0, r.stderr
    assert want in r.stderr, r.stderr
    if want.startswith(":"):
        assert f"{p}{want}" in r.stderr, r.stderr


def test_config_check_ok(env, tmp_path, pki):
    p = tmp_path / "ut.yaml"
    p.write_text(BASE.format(target="127.0.0.1:9", tls=(
        f"      ca: {pki / 'ca.pem'}\n      sni: api.test\n"
        f"      cert: {pki / 'alice.chain.pem'}\n"
        f"      key: {pki / 'alice.key'}\n      min_version: \"1.2\"")))
    r = h.run_sluiced_once(["--check", "-c", str(p)])
    assert r.returncode == 0, r.stderr


def test_bad_reload_keeps_old(origin, workdir, pki):
    name = "ut-reload"
    s = start_gw(workdir, name, {"ca": ca(pki), "sni": "api.test"})
    sock = Path(workdir) / f"{name}-admin.sock"
    cfg = Path(s.config)
    try:
        assert get("/rl/1").status == 200
        good = cfg.read_text()
        cfg.write_text(good.replace(ca(pki), str(pki / "garbage.pem")))
        r = h.run([h.SLUICECTL, "--socket", sock, "reload"], timeout=20,
                  check=False)
        assert r.returncode != 0
        assert "garbage.pem: cannot read the CA certificates" in \
            r.stdout + r.stderr, r
        assert "keeping the running one" in s.output()
        assert get("/rl/2").status == 200
        # a good reload to a wrong name: now refused
        cfg.write_text(good.replace("api.test", "wrong.test"))
        h.run([h.SLUICECTL, "--socket", sock, "reload"], timeout=20)
        r = get("/rl/3")
        assert r.status == 502, r
        assert "hostname mismatch" in r.json()["message"]
    finally:
        s.shutdown()
