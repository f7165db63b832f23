"""testssl.sh (Debian's `testssl`) on a TLS listener with the default TLS
settings: protocols, cipher categories, forward secrecy, server defaults
and preferences, HTTP headers and the vulnerability checks. Any finding of
severity MEDIUM or above fails, listed in the assertion message. The test
CA is added to testssl's trust store (--add-ca), so the chain of trust is
judged like a real one's; only the gateway's test address is scanned."""
import json
import shutil
import subprocess
import time

import pytest

import helpers as h
import raw
import tls_util as t

PORT = h.GW_PORT + 72
TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")
BAD = {"MEDIUM", "HIGH", "CRITICAL"}
# Findings about the application, not the gateway's TLS: the response
# headers (X-Frame-Options, Content-Security-Policy, ...) are the
# backend's to send.
IGNORED = {"security_headers"}


def server_cert(pki):
    """api.test as a real certificate would be: valid for a year (testssl
    rates one that ends within 30 days HIGH) and with a CRL distribution
    point (one with neither CRL nor OCSP URI is rated HIGH too)."""
    name = "testssl-leaf"
    if not (pki / f"{name}.chain.pem").exists():
        san = f"DNS:api.test,IP:{h.SRV4},IP:{h.SRV6}"
        t._leaf(pki, name, "ca", "ec", san, days=365, cn="api.test")
        ext = pki / f"{name}.ext"
        ext.write_text(ext.read_text() + "crlDistributionPoints="
                       "URI:http://crl.example.test/ca.crl\n")
        t._ossl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem",
                "-CAkey", "ca.key", "-CAcreateserial", "-out",
                f"{name}.pem", "-days", "365", "-extfile", f"{name}.ext",
                cwd=pki)
        (pki / f"{name}.chain.pem").write_text(
            (pki / f"{name}.pem").read_text() + (pki / "ca.pem").read_text())
    return name


@pytest.fixture(scope="module")
def gw(backends, workdir):
    pki = t.make_pki(workdir / "pki")
    s = raw.start(workdir, "gw-testssl", listeners=[
        {"address": f"{h.SRV4}:{PORT}",
         "tls": t.tls_section(pki, (server_cert(pki),))}])
    s.pki = pki
    yield s
    s.shutdown()


@pytest.mark.timeout(150)
def test_testssl_defaults(gw, workdir):
    if not TESTSSL:
        pytest.skip("testssl.sh is not installed (scripts/deps.sh)")
    out = workdir / "testssl.json"
    out.unlink(missing_ok=True)
    t0 = time.monotonic()
    r = subprocess.run(
        ["ip", "netns", "exec", h.CLI_NS, TESTSSL, "--quiet", "--color", "0",
         "--warnings", "batch", "--openssl", "/usr/bin/openssl",
         "--add-ca", str(gw.pki / "ca.pem"), "--ip", "one",
         "--sneaky", "--fast", "-p", "-s", "-f", "-S", "-P", "-h", "-U",
         "--severity", "MEDIUM", "--jsonfile", str(out),
         f"https://{h.SRV4}:{PORT}/"],
        capture_output=True, text=True, timeout=140)
    took = time.monotonic() - t0
    assert out.exists(), (r.returncode, r.stdout[-3000:], r.stderr[-2000:])
    findings = json.loads(out.read_text())
    # the JSON holds only what --severity lets through: that the scan
    # ran is in its report
    assert "TLS 1.3" in r.stdout and "offered" in r.stdout, r.stdout[-3000:]
    bad = [f"{f['severity']} {f['id']}: {f['finding']}" for f in findings
           if f.get("severity") in BAD and f.get("id") not in IGNORED]
    scan_errors = [f"{f['id']}: {f['finding']}" for f in findings
                   if f.get("id") == "scanProblem"]
    assert not scan_errors, "\n".join(scan_errors)
    assert not bad, f"testssl.sh findings ({took:.0f} s):\n" + "\n".join(bad)
