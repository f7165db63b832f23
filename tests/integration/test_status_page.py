"""The status page (GET / on the admin listener) and what the daemon says
about itself: versions and the kernel features it found.

The page is loaded by a real browser (headless Chromium) against a running
sluiced, and the test reads the DOM the page's script built from the admin
API: a route name, the request count after requests were sent, a ban, the
upstream's health, XDP verdicts, the top dropped sources. Its Content-Security-Policy allows only
the page's own script by hash, so a script that did not match would not
run and the DOM would hold no live values. A screenshot is kept under
build/test-artifacts/. Old code fails: GET / was a 404, /status had no
build or kernel keys, /version did not exist.
"""
import base64
import hashlib
import html.parser
import json
import re
import shutil

import pytest

import helpers as h
import tls_util

ADMIN = "http://127.0.0.1:9900"
PAGE = h.REPO / "daemon/control/status_page.html"
ARTIFACTS = h.BUILD / "test-artifacts"


def admin_curl(*args):
    r = h.run(["nsenter", f"--net=/run/netns/{h.SRV_NS}", "curl", "-sS",
               "--max-time", "5", *args], timeout=15, check=False)
    return r.stdout


SOCK = []      # the admin socket of the module's sluiced


def ctl(*args):
    return h.run([h.SLUICECTL, "--socket", SOCK[0], *args], timeout=30)


@pytest.fixture(scope="module")
def gw(backends, workdir):
    SOCK[:] = [h.admin_socket_path(workdir, "status-page")]
    cfg = h.write_config(workdir, "status-page",
                         routes=[("page-route", "/"), ("api", "/api/")],
                         xdp_extra=["  drop_sample: 1"])
    # one TLS listener, for the certificates section
    pki = tls_util.make_pki(workdir / "pki")
    ce = tls_util.cert_entry(pki, "api-ec")
    text = cfg.read_text().replace("listeners:\n", (
        "listeners:\n  - name: tls\n"
        f'    address: "{h.SRV4}:{h.GW_PORT + 49}"\n'
        f'    tls: {{certificates: [{{cert: "{ce["cert"]}", '
        f'key: "{ce["key"]}"}}]}}\n'), 1)
    cfg.write_text(text)
    s = h.Sluiced(cfg, workdir, tag="status-page")
    try:
        s.start()
    except Exception:
        s.stop()
        raise
    yield s
    s.shutdown()


def test_status_json_build_and_kernel(gw):
    st = json.loads(ctl("--json", "status").stdout)
    b = st["build"]
    assert set(b) >= {"version", "git", "libbpf", "libxdp", "liburing",
                      "openssl"}, b
    assert re.match(r"^\d+\.\d+", b["libbpf"]) and b["openssl"][0].isdigit()
    k = st["kernel"]
    assert k["xdp"] == [{"interface": h.VETH_SRV, "mode": "native"}], k
    assert k["io_uring"]["setup"] in ("single_issuer,defer_taskrun",
                                      "coop_taskrun", "basic")
    assert "nodrop" in k["io_uring"]["features"], k
    # the start-up log says the same
    out = gw.output()
    assert f"xdp: {h.VETH_SRV} native" in out, h.tail(gw.err_path)
    assert "io_uring features: " in out and "libbpf " in out


def test_sluicectl_version_asks_the_daemon(gw):
    out = ctl("version").stdout
    assert out.startswith("sluicectl ")
    assert "\nsluiced " in out and "kernel: Linux " in out, out
    assert f"xdp: {h.VETH_SRV} native" in out, out


def page_hash(tag):
    text = PAGE.read_text()
    body = text.split(f"<{tag}>", 1)[1].split(f"</{tag}>", 1)[0]
    d = hashlib.sha256(body.encode()).digest()
    return "'sha256-" + base64.b64encode(d).decode() + "'"


def test_status_page_headers(gw):
    out = admin_curl("-i", f"{ADMIN}/")
    head, _, body = out.partition("\n\n")   # text mode: CRLF read as LF
    assert head.startswith("HTTP/1.1 200"), head
    hdr = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip()
           for l in head.split("\n")[1:]}
    assert hdr["content-type"] == "text/html; charset=utf-8"
    assert hdr["x-content-type-options"] == "nosniff"
    csp = hdr["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert f"script-src {page_hash('script')};" in csp, csp
    assert f"style-src {page_hash('style')};" in csp, csp
    assert "unsafe" not in csp
    assert body == PAGE.read_text()
    # read-only: the TCP listener refuses anything but GET and HEAD
    assert '"status":403' in admin_curl("-X", "POST", f"{ADMIN}/")
    assert '"status":404' in admin_curl(f"{ADMIN}/nope")


class Dom(html.parser.HTMLParser):
    """Text of each element with an id, and rows (by data-key) per table."""

    def __init__(self):
        super().__init__()
        self.stack, self.text, self.rows, self.attrs = [], {}, {}, {}
        self.row = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        box = a.get("id") or (self.stack[-1] if self.stack else None)
        if tag in ("meta", "br", "img", "link"):
            return
        self.stack.append(box)
        if "id" in a:
            self.text[a["id"]] = ""
            self.attrs[a["id"]] = a
        if tag == "tr" and "data-key" in a:
            self.row = []
            self.rows.setdefault(box, {})[a["data-key"]] = self.row
        elif tag == "td" and self.row is not None:
            self.row.append("")

    def handle_endtag(self, tag):
        if tag in ("meta", "br", "img", "link"):
            return
        if tag == "tr":
            self.row = None
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for box in set(self.stack):
            if box in self.text:
                self.text[box] += data
        if self.row is not None and self.row:
            self.row[-1] += data


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    return None


def browser(*args, tmp):
    """Chromium in the server netns (where the admin listener is)."""
    return h.run(["ip", "netns", "exec", h.SRV_NS, chromium(), "--headless",
                  "--no-sandbox", "--disable-gpu", "--no-first-run",
                  f"--user-data-dir={tmp}", "--window-size=1400,1000",
                  "--virtual-time-budget=4000", *args, f"{ADMIN}/"],
                 timeout=90)


def test_status_page_in_browser(gw, tmp_path):
    if chromium() is None:
        pytest.skip("chromium not installed (scripts/deps.sh installs it)")
    for _ in range(5):
        assert h.one(h.http(h.ALLOWED4, h.SRV4, path="/x"))["status"] == 200
    ctl("ban", "198.18.0.77", "--for", "10m")
    # SYNs from a source not in the allowlist: dropped by XDP, sampled 1:1
    for _ in range(4):
        assert h.connect(h.BLOCKED4, h.SRV4, h.GW_PORT, 0.3)["result"] == \
            "timeout"
    r = browser("--dump-dom", tmp=tmp_path / "profile")
    dom = Dom()
    dom.feed(r.stdout)
    assert int(dom.attrs["updated"].get("data-updates", "0")) >= 1, \
        f"the page's script did not run:\n{r.stdout[:2000]}\n{r.stderr[-2000:]}"
    assert dom.text["version"].startswith("sluiced ")
    routes = dom.rows["routes"]
    assert set(routes) == {"page-route", "api"}, routes
    reqs = dom.rows["requests"]["page-route"]
    assert int(reqs[1]) >= 5 and int(reqs[3]) >= 5, reqs     # total, 2xx
    ups = dom.rows["upstreams"]["echo"]
    assert ups[1] == f"{h.SRV4}:{h.B1_PORT}" and ups[2] == "up", ups
    assert re.fullmatch(r"\d+ s ago", ups[3]) and ups[4] == "never", ups
    # in rotation, never changed (health checks and outlier detection)
    assert ups[5] == "healthy" and ups[6].startswith("-"), ups
    assert "198.18.0.77/32" in dom.rows["bans"], dom.rows.get("bans")
    xdp = dom.rows["xdp"]
    assert int(xdp["pass_allowed"][1]) >= 5, xdp
    assert dom.rows["listeners"][f"xdp {h.VETH_SRV}"][1] == "native"
    certs = dom.rows["certs"]
    assert set(certs) == {"tls"}, certs
    assert "api.test" in certs["tls"][1] and certs["tls"][4].endswith(
        "api-ec.chain.pem"), certs
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT.*Z", certs["tls"][2]), certs
    # the top dropped sources, from GET /top over TCP on every refresh
    top = dom.rows.get("top", {})
    assert h.BLOCKED4 in top, (dom.text.get("top"), top)
    src, est, pps, reason = top[h.BLOCKED4]
    assert int(est) >= 4 and float(pps) > 0 and reason == "drop_not_allowed", \
        top[h.BLOCKED4]
    assert "1 drop in 1 sampled" in dom.text["top-window"], dom.text
    # the artifact: what an operator sees
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "status-page.png"
    browser(f"--screenshot={shot}", tmp=tmp_path / "profile2")
    assert shot.stat().st_size > 1000
    ctl("unban", "198.18.0.77")
