"""TLS certificates reloaded: on SIGHUP and when a file changes on disk,
while a keep-alive connection made before keeps working; a certificate
that cannot be used is refused with its file named, and the old one stays
in service.

Fails without TLS reload: the new certificate is never served (SIGHUP and
the file poll), and without load checks the broken files would be taken.
"""
import shutil
import signal

import pytest

import helpers as h
import raw
import tls_util as t

PORT = h.GW_PORT + 42
POLL_PORT = h.GW_PORT + 43


@pytest.fixture(scope="module")
def pki(workdir):
    return t.make_pki(workdir / "pki")


def install(pki, dst, name):
    """Put certificate `name` at dst.pem/dst.key (rename: atomic)."""
    for ext, src in ((".pem", f"{name}.chain.pem"), (".key", f"{name}.key")):
        tmp = dst.with_suffix(ext + ".tmp")
        shutil.copyfile(pki / src, tmp)
        tmp.rename(dst.with_suffix(ext))


def cfg(workdir, name, port, cert, key):
    return raw.write_cfg(workdir, name, listeners=[
        {"address": f"{h.SRV4}:{port}",
         "tls": {"certificates": [{"cert": str(cert), "key": str(key)}]}}])


def conn(pki, port):
    c = raw.Conn(port=port, tls=t.client_ctx(pki))
    return c


def get(c):
    c.send(raw.request("GET", raw.uniq("rl")))
    return c.response()


def reload_count(s, what):
    return s.output().count(what)


@pytest.fixture(scope="module")
def gw(backends, workdir, pki):
    d = workdir / "tls-reload"
    d.mkdir(exist_ok=True)
    cur = d / "cur"
    install(pki, cur, "api-ec")
    path = cfg(workdir, "gw-tls-reload", PORT, cur.with_suffix(".pem"),
               cur.with_suffix(".key"))
    # no file poll here: only SIGHUP reloads
    s = h.Sluiced(path, workdir, tag="gw-tls-reload",
                  env={"SLUICE_CERT_POLL_MS": "3600000"})
    s.start()
    s.cur = cur
    yield s
    s.shutdown()


def sighup_and_wait(s, ok):
    what = ("reload: configuration applied" if ok else
            "invalid configuration, keeping the running one")
    n = reload_count(s, what)
    s.p.send_signal(signal.SIGHUP)
    h.wait_for(lambda: reload_count(s, what) > n, 15, what=what)


def test_sighup_swaps_certificate_keepalive_survives(gw, pki):
    old = conn(pki, PORT)
    assert get(old).status == 200
    assert t.peer_fingerprint(old.s) == t.fingerprint_pem(pki / "api-ec.pem")
    install(pki, gw.cur, "api2")
    sighup_and_wait(gw, ok=True)
    new = conn(pki, PORT)
    assert t.peer_fingerprint(new.s) == t.fingerprint_pem(pki / "api2.pem")
    assert get(new).status == 200
    # the connection made before the reload goes on with its context
    assert get(old).status == 200
    old.close()
    new.close()
    install(pki, gw.cur, "api-ec")
    sighup_and_wait(gw, ok=True)


@pytest.mark.parametrize("cert,key,bad,msg", [
    ("garbage.pem", "api-ec.key", "garbage.pem", "not a PEM certificate"),
    ("api-ec.chain.pem", "other.key", "other.key", "does not match"),
    ("expired.pem", "expired.key", "expired.pem", "expired"),
    ("nonames.chain.pem", "nonames.key", "nonames.pem",
     "no DNS or IP subjectAltName"),
    ("missing.pem", "api-ec.key", "missing.pem", "cannot open"),
], ids=["bad-pem", "key-mismatch", "expired", "no-names", "missing"])
def test_bad_certificate_refused_old_kept(gw, pki, workdir, cert, key, bad,
                                          msg):
    path = cfg(workdir, "gw-tls-reload", PORT, pki / cert, pki / key)
    try:
        sighup_and_wait(gw, ok=False)
        out = gw.output()
        line = [l for l in out.splitlines() if msg in l]
        assert line, out[-2000:]
        assert bad.replace(".chain", "").split(".")[0] in line[-1], line
        # still served: the old certificate
        c = conn(pki, PORT)
        assert t.peer_fingerprint(c.s) == \
            t.fingerprint_pem(pki / "api-ec.pem")
        assert get(c).status == 200
        c.close()
    finally:
        cfg(workdir, "gw-tls-reload", PORT, gw.cur.with_suffix(".pem"),
            gw.cur.with_suffix(".key"))
        assert path
    # --check says the same, naming the file
    r = h.run_sluiced_once(["-c", str(
        cfg(workdir, "tls-check", PORT, pki / cert, pki / key)), "--check"])
    assert r.returncode != 0 and msg in r.stderr, r.stderr


def test_file_change_reloads(backends, workdir, pki):
    d = workdir / "tls-poll"
    d.mkdir(exist_ok=True)
    cur = d / "cur"
    install(pki, cur, "api-ec")
    path = cfg(workdir, "gw-tls-poll", POLL_PORT, cur.with_suffix(".pem"),
               cur.with_suffix(".key"))
    s = h.Sluiced(path, workdir, tag="gw-tls-poll",
                  env={"SLUICE_CERT_POLL_MS": "100"})
    s.start()
    try:
        old = conn(pki, POLL_PORT)
        assert get(old).status == 200
        install(pki, cur, "api2")
        want = t.fingerprint_pem(pki / "api2.pem")

        def swapped():
            c = conn(pki, POLL_PORT)
            fp = t.peer_fingerprint(c.s)
            c.close()
            return fp == want
        h.wait_for(swapped, 15, what="the new certificate served")
        assert "a TLS certificate file changed" in s.output()
        assert get(old).status == 200
        old.close()
    finally:
        s.shutdown()
