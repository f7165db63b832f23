"""Certificates for the TLS tests, made with the openssl CLI, and clients.

make_pki(dir) writes a small PKI: a CA, an ECDSA and an RSA certificate for
api.test (and the gateway's address), a wildcard *.example.test, a client
CA with one client certificate, and the broken cases a load must refuse
(expired, mismatched key, no usable name, not PEM).
"""
import contextlib
import hashlib
import ssl
import subprocess
from pathlib import Path

import helpers as h


def _ossl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   capture_output=True, timeout=60)


def _key(d, name, kind):
    if kind == "rsa":
        _ossl("genpkey", "-algorithm", "RSA", "-pkeyopt",
              "rsa_keygen_bits:2048", "-out", f"{name}.key", cwd=d)
    else:
        _ossl("genpkey", "-algorithm", "EC", "-pkeyopt",
              "ec_paramgen_curve:P-256", "-out", f"{name}.key", cwd=d)


def _leaf(d, name, ca, kind="ec", san=None, days=30, cn=None,
          client=False):
    _key(d, name, kind)
    _ossl("req", "-new", "-key", f"{name}.key", "-subj",
          f"/CN={cn or name}", "-out", f"{name}.csr", cwd=d)
    ext = ["basicConstraints=CA:FALSE"]
    if san:
        ext.append("subjectAltName=" + san)
    ext.append("extendedKeyUsage=" + ("clientAuth" if client
                                       else "serverAuth"))
    (Path(d) / f"{name}.ext").write_text("\n".join(ext) + "\n")
    _ossl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem",
          "-CAkey", f"{ca}.key", "-CAcreateserial", "-out", f"{name}.pem",
          "-days", str(days), "-extfile", f"{name}.ext", cwd=d)
    # the chain as served: leaf then CA
    leaf = (Path(d) / f"{name}.pem").read_text()
    (Path(d) / f"{name}.chain.pem").write_text(
        leaf + (Path(d) / f"{ca}.pem").read_text())


def _ca(d, name):
    _key(d, name, "ec")
    _ossl("req", "-x509", "-new", "-key", f"{name}.key", "-subj",
          f"/CN={name}", "-days", "60", "-out", f"{name}.pem", cwd=d)


def _expired(d, name, ca):
    """A certificate whose validity ended yesterday (openssl x509 -req has
    no start date option in 3.0: a CA config with `openssl ca` does)."""
    _key(d, name, "ec")
    _ossl("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}",
          "-out", f"{name}.csr", cwd=d)
    dd = Path(d) / f"{name}-ca"
    dd.mkdir(exist_ok=True)
    (dd / "index.txt").write_text("")
    (dd / "serial").write_text("1000\n")
    (dd / "ca.cnf").write_text(f"""[ca]
default_ca = c
[c]
database = {dd}/index.txt
serial = {dd}/serial
new_certs_dir = {dd}
default_md = sha256
policy = p
copy_extensions = none
x509_extensions = e
[p]
commonName = supplied
[e]
subjectAltName = DNS:expired.test
""")
    _ossl("ca", "-batch", "-config", str(dd / "ca.cnf"), "-cert",
          f"{ca}.pem", "-keyfile", f"{ca}.key", "-in", f"{name}.csr",
          "-out", f"{name}.pem", "-startdate", "20200101000000Z",
          "-enddate", "20200201000000Z", "-notext", cwd=d)


def make_pki(d):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    if (d / "done").exists():
        return d
    _ca(d, "ca")
    san = f"DNS:api.test,IP:{h.SRV4},IP:{h.SRV6}"
    _leaf(d, "api-ec", "ca", "ec", san, cn="api.test")
    _leaf(d, "api-rsa", "ca", "rsa", san, cn="api.test")
    _leaf(d, "star", "ca", "ec", "DNS:*.example.test", cn="star")
    _leaf(d, "api2", "ca", "ec", san, cn="api.test second")
    _leaf(d, "nonames", "ca", "ec", None, cn="nonames.test")
    _expired(d, "expired", "ca")
    _key(d, "other", "ec")
    (d / "garbage.pem").write_text("-----BEGIN CERTIFICATE-----\nnot pem\n"
                                   "-----END CERTIFICATE-----\n")
    # client certificates
    _ca(d, "cca")
    _leaf(d, "alice", "cca", "ec", "DNS:alice.clients.test", cn="alice",
          client=True)
    _leaf(d, "bob", "cca", "ec", "DNS:bob.clients.test", cn="bob",
          client=True)
    _leaf(d, "carol", "cca", "ec", "DNS:carol.other.test", cn="carol",
          client=True)
    _leaf(d, "dave", "cca", "ec", "DNS:dave.clients.test", cn="dave",
          client=True)
    _ca(d, "rogue")
    _leaf(d, "mallory", "rogue", "ec", "DNS:alice.clients.test",
          cn="alice", client=True)
    (d / "done").write_text("")
    return d


def cert_entry(d, name, chain=True):
    return {"cert": str(Path(d) / (f"{name}.chain.pem" if chain
                                    else f"{name}.pem")),
            "key": str(Path(d) / f"{name}.key")}


def tls_section(d, certs=("api-ec",), **extra):
    t = {"certificates": [cert_entry(d, c) for c in certs]}
    t.update(extra)
    return t


def fingerprint_pem(path):
    pem = Path(path).read_text()
    first = pem[:pem.index("-----END CERTIFICATE-----") + 25]
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(first)).hexdigest()


def client_ctx(d, minv=None, maxv=None, alpn=None, ciphers=None,
               cert=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(Path(d) / "ca.pem"))
    if minv:
        ctx.minimum_version = minv
    if maxv:
        ctx.maximum_version = maxv
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if ciphers:
        ctx.set_ciphers(ciphers)
    if cert:
        ctx.load_cert_chain(str(Path(d) / f"{cert}.pem"),
                            str(Path(d) / f"{cert}.key"))
    return ctx


def peer_fingerprint(sock):
    return hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()


def fd_count(pid):
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


@contextlib.contextmanager
def over(kind, workdir, port=h.GW_PORT):
    """For a fixture parametrised with ("tcp", "tls"): the listeners of the
    gateway (None: the default plain ones) and, for "tls", every raw.Conn
    of the module speaking TLS (api.test, verified) while it runs."""
    if kind != "tls":
        yield None
        return
    import raw
    pki = make_pki(Path(workdir) / "pki")
    sec = tls_section(pki, ("api-ec",))
    raw.TLS = client_ctx(pki)
    try:
        yield [{"address": f"{h.SRV4}:{port}", "tls": sec},
               {"address": f"[{h.SRV6}]:{port}", "tls": sec}]
    finally:
        raw.TLS = None
