"""A verified TLS client certificate as a route's credential (auth:
[mtls]): the consumer is found by the certificate's SHA-256 fingerprint,
its subject CN or a DNS SAN; upstreams get X-Consumer-Name, never the
client's own copy. client_auth required (no certificate, or one from
another CA: no handshake) and optional (the handshake goes on; the route
decides).

Fails without mTLS: the config refuses auth: [mtls] and client_certs.
"""
import ssl

import pytest

import helpers as h
import raw
import tls_util as t

REQ = h.GW_PORT + 46            # client_auth: required
OPT = h.GW_PORT + 47            # client_auth: optional
H2 = h.GW_PORT + 48             # optional, with ALPN h2


@pytest.fixture(scope="module")
def pki(workdir):
    return t.make_pki(workdir / "pki")


@pytest.fixture(scope="module")
def gw(backends, workdir, pki):
    def tls(mode):
        return t.tls_section(pki, ("api-ec",), client_ca=str(pki / "cca.pem"),
                             client_auth=mode)
    fp = t.fingerprint_pem(pki / "alice.pem")
    s = raw.start(
        workdir, "gw-mtls",
        access_log=str(workdir / "mtls-access.log"),
        listeners=[{"address": f"{h.SRV4}:{REQ}", "tls": tls("required")},
                   {"address": f"{h.SRV4}:{OPT}", "tls": tls("optional")},
                   {"address": f"{h.SRV4}:{H2}",
                    "tls": dict(tls("optional"), alpn=["h2", "http/1.1"])}],
        routes=[{"name": "mtls", "path_prefix": "/mtls/", "service": "echo",
                 "auth": ["mtls"]},
                {"name": "either", "path_prefix": "/either/",
                 "service": "echo", "auth": ["mtls", "bearer"]},
                {"name": "open", "path_prefix": "/", "service": "echo"}],
        top={"consumers": [
            {"name": "alice", "client_certs": [f"sha256:{fp.upper()}"]},
            {"name": "bob", "client_certs": ["san:bob.clients.test"]},
            {"name": "carol", "client_certs": ["cn:carol"]}]})
    s.access_log = workdir / "mtls-access.log"
    yield s
    s.shutdown()


def request(pki, port, cert, path, headers=()):
    """(status, backend entry or None); status None: no TLS session."""
    c = raw.Conn(port=port, tls=t.client_ctx(pki, cert=cert), connect=False)
    try:
        c.connect()
        u = raw.uniq(path.strip("/"))
        c.send(raw.request("GET", path.rstrip("/") + u,
                           headers=list(headers)))
        r = c.response()
    except (ssl.SSLError, ConnectionResetError, EOFError, BrokenPipeError):
        return None, None
    finally:
        c.close()
    got = raw.backend_entries(h_backends[0]["b1"], u) if r.status == 200 \
        else []
    return r.status, (got[0] if got else None)


h_backends = []


@pytest.fixture(autouse=True)
def _backends(backends):
    h_backends[:] = [backends]


def consumer(entry):
    v = [v for k, v in entry["header_list"] if k.lower() == "x-consumer-name"]
    return v


@pytest.mark.parametrize("port", [REQ, OPT], ids=["required", "optional"])
@pytest.mark.parametrize("cert,who", [
    ("alice", "alice"),         # by fingerprint (written in upper case)
    ("bob", "bob"),             # by DNS SAN
    ("carol", "carol"),         # by subject CN
])
def test_registered_certificate_is_the_consumer(gw, pki, port, cert, who):
    st, e = request(pki, port, cert, "/mtls/",
                    headers=[("X-Consumer-Name", "mallory")])
    assert st == 200
    assert consumer(e) == [who], e["header_list"]


@pytest.mark.parametrize("cert", [None, "mallory"], ids=["none", "rogue-ca"])
def test_required_refuses_the_handshake(gw, pki, cert):
    st, _ = request(pki, REQ, cert, "/open/")
    assert st is None


@pytest.mark.parametrize("cert,path,status", [
    (None, "/mtls/", 401),          # no certificate
    ("mallory", "/mtls/", 401),     # one that does not verify
    ("dave", "/mtls/", 401),        # verified, no consumer has it
    (None, "/open/", 200),          # routes without auth still served
    ("mallory", "/open/", 200),
    ("alice", "/either/", 200),
], ids=["none", "rogue-ca", "unregistered", "open-none", "open-rogue",
        "mtls-or-bearer"])
def test_optional(gw, pki, cert, path, status):
    st, e = request(pki, OPT, cert, path)
    assert st == status
    if status == 200 and path == "/open/":
        assert consumer(e) == []


def test_plain_listener_has_no_certificate_credential(backends, workdir,
                                                     pki):
    # the same route on a plain listener: never authenticated by mtls
    port = h.GW_PORT + 53           # not one of gw's: SO_REUSEPORT would share
    s = raw.start(workdir, "gw-mtls-plain",
                  listeners=[{"address": f"{h.SRV4}:{port}"}],
                  routes=[{"name": "mtls", "path_prefix": "/",
                           "service": "echo", "auth": ["mtls"]}])
    try:
        c = raw.Conn(port=port, tls=False)
        c.send(raw.request("GET", "/x", headers=[
            ("X-Client-Cert", "alice"), ("X-Consumer-Name", "alice")]))
        assert c.response().status == 401
        c.close()
    finally:
        s.shutdown()


@pytest.mark.parametrize("ref,msg", [
    ("sha256:abcd", "64 hex digits"),
    ("sha256:" + "g" * 64, "not a hex digit"),
    ("cn:", "want sha256"),
    ("alice", "want sha256"),
])
def test_bad_client_certs_reference_refused(workdir, ref, msg):
    p = raw.write_cfg(workdir, "mtls-bad", top={"consumers": [
        {"name": "x", "client_certs": [ref]}]})
    r = h.run_sluiced_once(["-c", str(p), "--check"])
    assert r.returncode != 0 and msg in r.stderr, r.stderr


@pytest.mark.parametrize("cert,status,who", [
    ("alice", 200, ["alice"]),
    ("carol", 200, ["carol"]),
    (None, 401, None),
    ("mallory", 401, None),
], ids=["alice", "carol", "none", "rogue-ca"])
def test_http2_stream_carries_the_connection_certificate(gw, pki, cert,
                                                         status, who):
    """An HTTP/2 stream is gated with the TLS session of the connection it
    came in on: the client certificate is its credential, and the access
    log has the connection's TLS version and SNI (each stream runs the
    HTTP/1.1 path on an inner connection that has no TLS of its own)."""
    import h2util as u
    s = t.client_ctx(pki, alpn=["h2"], cert=cert).wrap_socket(
        u.sock(H2), server_hostname="api.test")
    assert s.selected_alpn_protocol() == "h2"
    c = u.Client(H2, sock_=s)
    tag = raw.uniq("h2mtls")
    r = c.get("/mtls/" + tag, headers=[("x-consumer-name", "mallory")])
    c.close()
    assert r["status"] == status, r
    if status == 200:
        got = raw.backend_entries(h_backends[0]["b1"], tag)
        assert len(got) == 1 and consumer(got[0]) == who, got
    e = h.access_log_entry(gw.access_log, "/mtls/" + tag)
    assert e["protocol"] == "HTTP/2" and e["tls"] == "TLSv1.3", e
    assert e["sni"] == "api.test", e
