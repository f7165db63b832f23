"""L7 rate limits are exact across worker threads.

Two workers share one global limit; a bounded burst from six client
threads, each request on a new connection (so both workers' listeners get
some), must see exactly the limit pass.
"""
import signal
import time
import uuid

import pytest

import auth_util as au
import helpers as h


@pytest.mark.timeout(180)
def test_limit_exact_with_two_workers(backends, workdir):
    """A global 25/h limit shared by two workers: exactly 25 of 60 pass."""
    routes = """\
  - name: g
    path_prefix: /
    service: echo
    limits:
      - key: global
        rates: [25/h, 1000/s]
"""
    cfg = au.write_auth_config(workdir, "auth-workers", routes, workers=2)
    g = au.Gateway(cfg, workdir, "gw-auth-workers")
    try:
        res = au.load("/load", threads=6, per_thread=10)
        assert res["errors"] == [], res
        assert res["counts"] == {"200": 25, "429": 35}, res
    finally:
        g.stop()


# ---- limits and strikes survive a reload -----------------------------------

RELOAD_TOKEN = "reload-token-" + uuid.uuid4().hex
RELOAD_THRESHOLD = 5
RELOAD_BAN_S = 3


def _reload_routes(chg_rate):
    return f"""\
  - name: keep
    path_prefix: /keep/
    service: echo
    ratelimit_headers: true
    limits:
      - key: ip
        rates: [2/h]
  - name: chg
    path_prefix: /chg/
    service: echo
    limits:
      - key: ip
        rates: [{chg_rate}]
  - name: api
    path_prefix: /
    service: echo
    auth: [bearer]
"""


_RELOAD_TOP = f"""\
consumers:
  - name: r
    bearer_tokens: ['{au.sha256_ref(RELOAD_TOKEN)}']
escalation:
  enabled: true
  threshold: {RELOAD_THRESHOLD}
  window_s: 600
  ban_s: {RELOAD_BAN_S}
"""


@pytest.mark.timeout(120)
def test_limits_and_strikes_survive_reload(backends, workdir):
    """A client cannot reset its limit (or its strike count) by waiting for
    a reload: unchanged limits keep their counts across SIGHUP and
    `sluicectl reload`, a changed limit starts fresh."""
    src, dst = h.ALLOWED6, h.SRV6
    cfg = au.write_auth_config(workdir, "auth-reload", _reload_routes("1/h"),
                               _RELOAD_TOP)
    g = au.Gateway(cfg, workdir, "gw-auth-reload")
    strikes = 0

    def get(path, headers=()):
        return au.get(path, headers, src=src, dst=dst)

    def applied(gen):
        g.s.wait_output(f"configuration applied (generation {gen})", 10)

    try:
        for _ in range(2):
            r = get("/keep/a")
            assert r["status"] == 200, r
            assert h.header(r, "ratelimit-policy") == "2;w=3600", r["headers"]
        r = get("/keep/b")
        au.json_error(r, 429, "rate_limited")
        assert h.header(r, "ratelimit-policy") == "2;w=3600", r["headers"]
        strikes += 1
        assert get("/chg/a")["status"] == 200
        au.json_error(get("/chg/b"), 429, "rate_limited")
        strikes += 1
        for i in range(2):
            au.json_error(get(f"/x{i}", ["Authorization: Bearer wrong"]),
                          401, "unauthorized")
            strikes += 1
        assert strikes == RELOAD_THRESHOLD - 1

        # SIGHUP with chg's rate changed: keep's count carries over
        au.write_auth_config(workdir, "auth-reload", _reload_routes("2/h"),
                             _RELOAD_TOP)
        g.s.p.send_signal(signal.SIGHUP)
        applied(2)
        r = get("/chg/c")
        assert r["status"] == 200, r          # changed limit: fresh
        r = get("/keep/c")
        au.json_error(r, 429, "rate_limited")  # unchanged: still exhausted
        assert int(h.header(r, "retry-after")) > 60, r["headers"]
        strikes += 1
        assert strikes == RELOAD_THRESHOLD
        assert "escalation: banned" not in g.output()

        # sluicectl reload of the same file: still 429
        h.run([h.SLUICECTL, "--socket",
               h.admin_socket_path(workdir, "auth-reload"), "reload"])
        applied(3)
        # one strike more than the threshold, counted across two reloads:
        # this 429 bans the client
        au.json_error(get("/keep/d"), 429, "rate_limited")

        def banned():
            out = g.output()
            assert "XDP bans are not available" not in out, out
            # src is IPv6: its /64 (xdp.rate_limit.ipv6_prefix) is banned
            return "escalation: banned fd00:5c::/64 for " in out
        h.wait_for(banned, 5, what=f"ban of {src} logged")
        # let the ban expire so later tests from this address pass
        deadline = time.monotonic() + RELOAD_BAN_S + 10
        while h.connect(src, dst, h.GW_PORT, timeout=1)["result"] != \
                "connected":
            assert time.monotonic() < deadline, f"{src} still banned"
    finally:
        g.stop()
