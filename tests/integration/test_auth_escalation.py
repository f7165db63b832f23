"""Escalation: L7 abuse ends in an XDP ban that expires by itself.

A client that fails authentication (or is rate limited) more than N times
within T seconds is banned in the XDP ban map for D seconds: its TCP
connects time out while other clients are served, the ban is visible in
bpftool, in `sluicectl bans` (through the admin socket and on the pinned
maps) and in the metrics, and after D seconds the client gets through again.
"""
import json
import re
import time
import uuid

import pytest

import auth_util as au
import helpers as h

TOKEN = "esc-token-" + uuid.uuid4().hex
THRESHOLD = 3
BAN_S = 4


@pytest.fixture(scope="module")
def gw(backends, workdir):
    routes = """\
  - name: limited
    path_prefix: /limited/
    service: echo
    limits:
      - key: ip
        rates: [1/h]
  - name: api
    path_prefix: /
    service: echo
    auth: [bearer]
"""
    top = f"""\
consumers:
  - name: esc
    bearer_tokens: ['{au.sha256_ref(TOKEN)}']
escalation:
  enabled: true
  threshold: {THRESHOLD}
  window_s: 60
  ban_s: {BAN_S}
"""
    cfg = au.write_auth_config(workdir, "auth-esc", routes, top)
    g = au.Gateway(cfg, workdir, "gw-auth-esc")
    gw_workdir[:] = [workdir]
    yield g
    g.stop()


def banned_keys():
    keys = []
    for name in ("sl_ban4_v1", "sl_ban6_v1"):
        if (h.PIN_ROOT / name).exists():
            keys += [e.get("key") or e.get("formatted", {}).get("key")
                     for e in h.bpftool_dump(name)]
    return keys


def sluicectl_bans(via_socket=False):
    """Active bans, from the admin socket or straight from the pins."""
    where = (["--socket", h.admin_socket_path(gw_workdir[0], "auth-esc")]
             if via_socket else ["--pin-path", h.PIN_ROOT])
    r = h.run([h.SLUICECTL, *where, "--json", "bans"])
    return json.loads(r.stdout)["bans"]


gw_workdir = []


def assert_listed(ip, prefix):
    for via_socket in (True, False):
        bans = [b for b in sluicectl_bans(via_socket)
                if b["cidr"] == f"{ip}/{prefix}"]
        assert len(bans) == 1, sluicectl_bans(via_socket)
        assert bans[0]["by"] == "sluiced", bans
        assert 0 < bans[0]["expires_in_s"] <= BAN_S, bans


def metric(name, labels=""):
    sock = h.admin_socket_path(gw_workdir[0], "auth-esc")
    r = h.run(["curl", "-sS", "--max-time", "5", "--unix-socket", str(sock),
               "http://sluice/metrics"])
    m = re.search(rf"^{re.escape(name + labels)} (\S+)$", r.stdout, re.M)
    assert m, f"no {name}{labels} in /metrics"
    return float(m.group(1))


def wait_ban_logged(gw, cidr, timeout=5):
    def logged():
        out = gw.output()
        assert "XDP bans are not available" not in out, out
        return f"escalation: banned {cidr} for {BAN_S} s in XDP" in out
    h.wait_for(logged, timeout, what=f"ban of {cidr} logged")


def expect_banned_then_free(src, dst):
    res = h.connect(src, dst, h.GW_PORT, timeout=1)
    assert res["result"] == "timeout", res
    # the ban expires by itself (plus a margin for the 1 s connect tries)
    deadline = time.monotonic() + BAN_S + 10

    def free():
        return h.connect(src, dst, h.GW_PORT, timeout=1)["result"] == \
            "connected"
    while not free():
        assert time.monotonic() < deadline, f"{src} still banned"
    r = au.get("/after-ban", [f"Authorization: Bearer {TOKEN}"], src=src,
               dst=dst)
    assert r["status"] == 200, r


@pytest.mark.timeout(90)
def test_auth_failures_lead_to_ban(gw):
    for i in range(THRESHOLD):
        r = au.get(f"/x{i}", ["Authorization: Bearer wrong"])
        au.json_error(r, 401, "unauthorized")
    # still below the threshold: not banned, a good request passes
    assert au.get("/ok", [f"Authorization: Bearer {TOKEN}"])["status"] == 200
    assert "escalation: banned" not in gw.output()
    # one more failure crosses it
    au.json_error(au.get("/x-last", ["Authorization: Bearer wrong"]), 401,
                  "unauthorized")
    wait_ban_logged(gw, f"{h.ALLOWED4}/32")
    assert banned_keys(), "no entry in the XDP ban maps"
    assert_listed(h.ALLOWED4, 32)
    assert metric("sluice_xdp_active_bans") == 1
    assert metric("sluice_xdp_bans_total", '{by="sluiced"}') == 1
    assert metric("sluice_auth_failures_total",
                  '{route="api",reason="unauthorized"}') == THRESHOLD + 1
    # other clients are still served meanwhile
    r = au.get("/other", [f"Authorization: Bearer {TOKEN}"], src=h.ALLOWED6,
               dst=h.SRV6)
    assert r["status"] == 200, r
    expect_banned_then_free(h.ALLOWED4, h.SRV4)
    # expired: gone from the list (expired bans are removed on the way)
    assert [b for b in sluicectl_bans() if b["cidr"].startswith(h.ALLOWED4)] == []
    assert metric("sluice_xdp_active_bans") == 0


@pytest.mark.timeout(90)
def test_rate_limit_rejections_lead_to_ban(gw):
    src, dst = h.ALLOWED6, h.SRV6
    assert au.get("/limited/a", src=src, dst=dst)["status"] == 200
    for i in range(THRESHOLD + 1):
        au.json_error(au.get(f"/limited/{i}", src=src, dst=dst), 429,
                      "rate_limited")
    # an IPv6 client is banned with its /64 (xdp.rate_limit.ipv6_prefix),
    # the grouping XDP and the L7 limits use: rotating addresses in it
    # does not escape
    wait_ban_logged(gw, "fd00:5c::/64")
    assert_listed("fd00:5c::", 64)
    assert metric("sluice_ratelimit_rejections_total",
                  '{route="limited"}') == THRESHOLD + 1
    assert metric("sluice_xdp_bans_total", '{by="sluiced"}') == 2
    expect_banned_then_free(src, dst)
    assert [b for b in sluicectl_bans() if b["cidr"] == "fd00:5c::/64"] == []
