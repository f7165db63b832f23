"""Helpers for the auth / rate-limit integration tests.

Configs are the suite's standard ones (helpers.write_config) with the
routes replaced and top-level auth sections added. Tokens are hashed here
with hashlib, JWTs signed here with the openssl command-line tool, so the
gateway is checked against independent implementations.
"""
import base64
import hashlib
import json
import signal
import subprocess
from pathlib import Path

import helpers as h


def sha256_ref(token):
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def es256_keypair(workdir, name="es256"):
    """Generate a P-256 key with openssl; return (private, public) paths."""
    priv = Path(workdir) / f"{name}.pem"
    pub = Path(workdir) / f"{name}.pub.pem"
    if not priv.exists():
        h.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
               "ec_paramgen_curve:P-256", "-out", priv])
        h.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub])
    return priv, pub


def _der_to_raw(der, size=32):
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7f)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b"\0")
        out += v.rjust(size, b"\0")
        i += 2 + n
    return out


def es256_jwt(priv, claims, header=None):
    hdr = header or {"alg": "ES256", "typ": "JWT"}
    signing = (b64u(json.dumps(hdr).encode()) + "." +
               b64u(json.dumps(claims).encode()))
    r = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(priv)],
                       input=signing.encode(), capture_output=True,
                       timeout=10, check=True)
    return signing + "." + b64u(_der_to_raw(r.stdout))


def write_auth_config(workdir, name, routes_yaml, top_yaml="", workers=1):
    """The standard config with `routes_yaml` as the routes list (each line
    already indented for a list under routes:) and `top_yaml` added."""
    cfg = h.write_config(workdir, name, routes=[])
    text = cfg.read_text()
    assert "\nroutes:\n" in text and "\nworkers: 1\n" in text
    text = text.replace("\nroutes:\n", "\nroutes:\n" + routes_yaml, 1)
    text = text.replace("\nworkers: 1\n", f"\nworkers: {workers}\n", 1)
    cfg.write_text(text + top_yaml)
    return cfg


class Gateway:
    """sluiced on a custom config; stop() checks a clean shutdown."""

    def __init__(self, cfg, workdir, tag):
        self.s = h.Sluiced(cfg, workdir, tag=tag)
        try:
            self.s.start()
        except Exception:
            self.s.stop(signal.SIGKILL)
            raise

    def stop(self):
        self.s.shutdown()

    def output(self):
        return self.s.output()


def get(path="/", headers=(), src=h.ALLOWED4, dst=h.SRV4, method="GET",
        timeout=5):
    return h.one(h.http(src, dst, path=path, header=list(headers),
                        method=method, timeout=timeout))


def json_error(resp, status, code):
    assert resp["status"] == status, resp
    assert (h.header(resp, "content-type") or "").startswith(
        "application/json"), resp
    assert (h.header(resp, "connection") or "").lower() == "close", resp
    body = json.loads(resp["body"])
    assert body["error"] == code and body["status"] == status, body
    assert body["message"], body
    return body


# A bounded burst of requests from the client netns: `threads` threads, each
# `per_thread` requests, each on a new connection. Prints a JSON summary.
LOAD_SCRIPT = r"""
import http.client, json, sys, threading
host, port, src, path, threads, per, hdr = sys.argv[1], int(sys.argv[2]), \
    sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
counts, errors, lock = {}, [], threading.Lock()
def run():
    for _ in range(per):
        c = http.client.HTTPConnection(host, port, timeout=10,
                                       source_address=(src, 0))
        try:
            hd = {}
            if hdr:
                k, _, v = hdr.partition(":")
                hd[k.strip()] = v.strip()
            c.request("GET", path, headers=hd)
            r = c.getresponse()
            r.read()
            with lock:
                counts[r.status] = counts.get(r.status, 0) + 1
        except Exception as e:
            with lock:
                errors.append(repr(e))
        finally:
            c.close()
ts = [threading.Thread(target=run) for _ in range(threads)]
[t.start() for t in ts]
[t.join(60) for t in ts]
print(json.dumps({"counts": {str(k): v for k, v in counts.items()},
                  "errors": errors}))
"""


def load(path, threads, per_thread, header="", src=h.ALLOWED4, dst=h.SRV4):
    r = h.run(["ip", "netns", "exec", h.CLI_NS, h.PY, "-c", LOAD_SCRIPT, dst,
               str(h.GW_PORT), src, path, str(threads), str(per_thread),
               header], timeout=120)
    return json.loads(r.stdout)
