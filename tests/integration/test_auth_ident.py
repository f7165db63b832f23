"""Who is the client: one answer per exchange, everywhere.

The address a trusted proxy's X-Forwarded-For carries decides the route's
allow/deny CIDRs, goes into the access log and is the leftmost element of
the X-Forwarded-For the backend receives -- and malformed chains are a 400
whatever the route. IPv6 clients are limited per /64 as in XDP. Escalation
bans land where they can act: XDP for a direct client (never shortening an
operator's longer ban), an L7 ban table for a client behind a proxy. A JWT
subject named like a configured consumer gets neither its roles nor its
rate-limit budget.
"""
import ipaddress
import json
import re
import time
import uuid

import pytest

import auth_util as au
import helpers as h
import raw

PROXY = h.ALLOWED4                  # the trusted proxy (198.18.0.2)
ADMIN_TOKEN = "ident-admin-" + uuid.uuid4().hex
THRESHOLD = 3
BAN_S = 600
LO_CLIENT = "198.18.0.50"           # server-netns loopback alias: not via XDP
LO_PERM = "198.18.0.51"


@pytest.fixture(scope="module")
def gw(backends, workdir):
    priv, pub = au.es256_keypair(workdir, "ident")
    log = workdir / "ident-access.log"
    routes = """\
  - name: internal
    path_prefix: /int/
    service: echo
    allow_cidrs: [198.18.0.0/24]
  - name: denied
    path_prefix: /deny/
    service: echo
    deny_cidrs: [203.0.113.66]
  - name: v6lim
    path_prefix: /v6lim/
    service: echo
    limits:
      - key: ip
        rates: [3/m]
  - name: admin
    path_prefix: /admin/
    service: echo
    auth: [bearer, jwt]
    roles: [admin]
  - name: culim
    path_prefix: /culim/
    service: echo
    auth: [bearer, jwt]
    limits:
      - key: consumer
        rates: [2/h]
  - name: api
    path_prefix: /
    service: echo
    auth: [bearer]
"""
    top = f"""\
consumers:
  - name: admin-svc
    roles: [admin]
    bearer_tokens: ['{au.sha256_ref(ADMIN_TOKEN)}']
trusted_proxies: [{PROXY}]
escalation:
  enabled: true
  threshold: {THRESHOLD}
  window_s: 60
  ban_s: {BAN_S}
  count_rate_limited: false
jwt:
  algorithms: [ES256]
  issuer: https://idp.test
  audiences: [sluice]
  keys:
    - file: {pub.name}
"""
    cfg = h.write_config(workdir, "ident", routes=[], allow=[
        f"{h.ALLOWED4}/32", f"{h.BLOCKED4}/32", "fd00:5c::/64"])
    text = cfg.read_text()
    text = text.replace("\nroutes:\n", "\nroutes:\n" + routes, 1)
    text = text.replace("logging:\n  level: info\n",
                        "logging:\n  level: info\n  access_log:\n"
                        f"    path: {log}\n    format: json\n", 1)
    cfg.write_text(text + top)
    # a source in the server netns: its connections go over lo, not
    # through XDP, so escalation can still hear from an address banned in
    # the XDP map (the map is what the ban tests read)
    for a in (LO_CLIENT, LO_PERM):
        h.run(["ip", "-n", h.SRV_NS, "addr", "add", f"{a}/32", "dev", "lo"])
    g = au.Gateway(cfg, workdir, "gw-ident")
    g.priv = priv
    g.log = log
    g.sock = h.admin_socket_path(workdir, "ident")
    yield g
    g.stop()
    for a in (LO_CLIENT, LO_PERM):
        h.run(["ip", "-n", h.SRV_NS, "addr", "del", f"{a}/32", "dev", "lo"],
              check=False)


def via_proxy(path, xff_lines, headers=(), src=PROXY):
    """One request from the trusted proxy with these X-Forwarded-For lines."""
    c = raw.Conn(src=src)
    c.send(raw.request("GET", path, headers=[
        *[("X-Forwarded-For", x) for x in xff_lines], *headers]))
    r = c.response()
    c.close()
    return r


def log_entry(gw, path):
    return h.access_log_entry(gw.log, path)


def backend_xff(backends, path):
    e = raw.backend_entries(backends["b1"], path)
    if not e:
        return None
    assert len(e) == 1, e
    return [v for k, v in e[0]["header_list"]
            if k.lower() == "x-forwarded-for"]


def metric(gw, name, labels=""):
    r = h.run(["curl", "-sS", "--max-time", "5", "--unix-socket",
               str(gw.sock), "http://sluice/metrics"])
    m = re.search(rf"^{re.escape(name + labels)} (\S+)$", r.stdout, re.M)
    assert m, f"no {name}{labels} in /metrics"
    return float(m.group(1))


def bans(gw):
    r = h.run([h.SLUICECTL, "--socket", gw.sock, "--json", "bans"])
    return {b["cidr"]: b for b in json.loads(r.stdout)["bans"]}


def ban_map_keys():
    """Every key of the XDP ban maps, as (address, prefixlen)."""
    out = []
    for name in ("sl_ban4_v1", "sl_ban6_v1"):
        for e in h.bpftool_dump(name):
            k = e["formatted"]["key"]
            out.append((str(ipaddress.ip_address(bytes(k["addr"]))),
                        k["prefixlen"]))
    return sorted(out)


# ---- one resolver: allow/deny, the backend's XFF, the access log ----------

# (route, XFF lines, status, client in the log, XFF the backend received)
XFF_CASES = [
    # an internet client through the proxy: not in the internal range
    ("int", ["203.0.113.9"], 403, "203.0.113.9", None),
    # ip:port, a trailing empty element, garbage from the trusted hop: the
    # hop did not say who its client was -- 400, never "the proxy is the
    # client" (which is inside allow_cidrs)
    ("int", ["203.0.113.9:4711"], 400, PROXY, None),
    ("int", ["203.0.113.9, "], 400, PROXY, None),
    ("int", ["203.0.113.9", ""], 400, PROXY, None),
    ("int", ["unknown"], 400, PROXY, None),
    ("int", ["[2001:db8::9]:443"], 400, PROXY, None),
    # an empty element left of the client is never read
    ("int", ["203.0.113.9,,198.18.0.7"], 200, "198.18.0.7",
     "198.18.0.7, " + PROXY),
    # deny_cidrs: the same client in every form
    ("deny", ["203.0.113.66"], 403, "203.0.113.66", None),
    ("deny", ["203.0.113.66:4711"], 400, PROXY, None),
    ("deny", ["::ffff:203.0.113.66"], 403, "203.0.113.66", None),
    ("deny", ["203.0.113.66", PROXY], 403, "203.0.113.66", None),
    ("deny", ["203.0.113.66 , " + PROXY + "\t"], 403, "203.0.113.66", None),
    # allowed: the backend sees the believed chain, client first; what the
    # client wrote before it is dropped
    ("deny", ["6.6.6.6, 203.0.113.9"], 200, "203.0.113.9",
     "203.0.113.9, " + PROXY),
    ("deny", ["6.6.6.6", "203.0.113.9", PROXY], 200, "203.0.113.9",
     f"203.0.113.9, {PROXY}, {PROXY}"),
    ("deny", ["[2001:DB8::5]"], 200, "2001:db8::5", "2001:db8::5, " + PROXY),
    ("deny", ["::ffff:192.0.2.8"], 200, "192.0.2.8", "192.0.2.8, " + PROXY),
]


@pytest.mark.parametrize("route,lines,status,client,xff", XFF_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(XFF_CASES)])
def test_xff_one_answer(gw, backends, route, lines, status, client, xff):
    p = raw.uniq(f"{route}/x")
    r = via_proxy(p, lines)
    assert r.status == status, r
    if status != 200:
        assert r.header("content-type").startswith("application/json"), r
    e = log_entry(gw, p)
    assert e["client"] == client and e["status"] == status, e
    got = backend_xff(backends, p)
    if xff is None:
        assert got is None, f"backend received {p}: {got}"
    else:
        assert got == [xff], got


def test_untrusted_peer_xff_ignored(gw, backends):
    """A direct client's X-Forwarded-For is not believed, in any form."""
    for lines in (["203.0.113.66"], ["garbage, ,"], ["198.18.0.5:1"]):
        p = raw.uniq("deny/direct")
        r = via_proxy(p, lines, src=h.BLOCKED4)
        assert r.status == 200, r
        assert log_entry(gw, p)["client"] == h.BLOCKED4
        assert backend_xff(backends, p) == [h.BLOCKED4]


# ---- IPv6 clients are limited per /64 --------------------------------------

def test_ipv6_prefix_shares_one_limit(gw, backends):
    """20 addresses of one /64 against 3/m: three pass, like one host."""
    addrs = [f"fd00:5c::a:{i + 1:x}" for i in range(20)]
    c = ["ip", "-n", h.CLI_NS]
    try:
        for a in addrs:
            h.run(c + ["addr", "add", f"{a}/64", "dev", h.VETH_CLI, "nodad"])
        statuses = []
        for a in addrs:
            r = au.get(raw.uniq("v6lim/p"), src=a, dst=h.SRV6)
            statuses.append(r["status"])
        assert statuses.count(200) == 3, statuses
        assert statuses.count(429) == 17, statuses
        # a client outside that /64 (the proxy, over IPv4) is not affected
        assert au.get(raw.uniq("v6lim/v4"))["status"] == 200
    finally:
        for a in addrs:
            h.run(c + ["addr", "del", f"{a}/64", "dev", h.VETH_CLI],
                  check=False)


# ---- escalation: where the ban goes ----------------------------------------

def strike(n, **kw):
    for i in range(n):
        au.json_error(au.get(raw.uniq("api/strike"),
                             ["Authorization: Bearer wrong"], **kw),
                      401, "unauthorized")


def test_client_behind_proxy_banned_in_l7(gw, backends):
    """Escalation of an X-Forwarded-For client: refused in L7 on its next
    request, its neighbours behind the same proxy are served, and nothing
    is written to the XDP ban maps (XDP sees only the proxy)."""
    before = ban_map_keys()
    bad, good = "203.0.113.20", "203.0.113.21"
    auth = ("Authorization", f"Bearer {ADMIN_TOKEN}")
    for i in range(THRESHOLD + 1):
        r = via_proxy(raw.uniq("api/l7"), [bad],
                      [("Authorization", "Bearer wrong")])
        assert r.status == 401, r
    h.wait_for(lambda: f"escalation: banned {bad}/32 for {BAN_S} s in L7"
               in gw.output(), 5, what="L7 ban logged")
    p = raw.uniq("api/after")
    r = via_proxy(p, [bad], [auth])
    assert r.status == 403 and r.json()["error"] == "banned", r
    assert 0 < int(r.header("retry-after")) <= BAN_S, r
    assert backend_xff(backends, p) is None
    assert log_entry(gw, p)["client"] == bad
    # the same client through another trusted chain form: still banned
    assert via_proxy(raw.uniq("api/after2"), ["6.6.6.6, " + bad],
                     [auth]).status == 403
    # a neighbour behind the same proxy, and the proxy itself: served
    p = raw.uniq("api/good")
    assert via_proxy(p, [good], [auth]).status == 200
    assert backend_xff(backends, p) == [f"{good}, {PROXY}"]
    assert via_proxy(raw.uniq("api/proxy"), [], [auth]).status == 200
    # XDP ban maps untouched: neither the proxy nor the client
    assert ban_map_keys() == before
    assert not [k for k in ban_map_keys() if k[0] in (bad, PROXY)]
    assert not [c for c in bans(gw) if c.startswith((bad, PROXY))]
    assert metric(gw, "sluice_escalation_bans_total", '{where="l7"}') == 1
    assert metric(gw, "sluice_l7_banned_requests_total") >= 2


def lo_request(src, path, headers=()):
    """A request from src in the server netns (over lo: XDP never sees it)."""
    c = raw.Conn(src=None, connect=False)
    c.s.close()
    c.s = raw.sockets_in(h.SRV_NS, 1, src=src)[0]
    c.s.settimeout(5)
    c.s.connect((h.SRV4, h.GW_PORT))
    c.send(raw.request("GET", path, headers=list(headers)))
    r = c.response()
    c.close()
    return r


def test_escalation_keeps_operator_ban(gw):
    """An operator's 1-day and permanent bans survive an escalation ban of
    the same address (which would be 600 s)."""
    for addr, for_ in ((LO_CLIENT, ["--for", "1d"]), (LO_PERM, [])):
        h.run([h.SLUICECTL, "--socket", gw.sock, "ban", addr, *for_])
    for addr in (LO_CLIENT, LO_PERM):
        for i in range(THRESHOLD + 1):
            r = lo_request(addr, raw.uniq("api/lo"),
                           [("Authorization", "Bearer wrong")])
            assert r.status == 401, r
        h.wait_for(lambda: re.search(
            rf"escalation: banned {re.escape(addr)}(/32)? for {BAN_S} s in "
            "XDP", gw.output()), 5, what=f"escalation of {addr}")
    b = bans(gw)
    assert b[f"{LO_CLIENT}/32"]["by"] == "operator", b
    assert b[f"{LO_CLIENT}/32"]["expires_in_s"] > 86000, b
    assert b[f"{LO_PERM}/32"]["by"] == "operator", b
    assert b[f"{LO_PERM}/32"]["expires_in_s"] is None, b
    # the raw map agrees: expiry 0 (never) for the permanent one
    raw_bans = {(bytes(e["formatted"]["key"]["addr"]),
                 e["formatted"]["key"]["prefixlen"]): e["formatted"]["value"]
                for e in h.bpftool_dump("sl_ban4_v1")}
    perm = raw_bans[(ipaddress.ip_address(LO_PERM).packed, 32)]
    assert perm["expires_ns"] == 0 and perm["source"] == 1, perm
    day = raw_bans[(ipaddress.ip_address(LO_CLIENT).packed, 32)]
    assert day["expires_ns"] - day["created_ns"] == 86400 * 10**9, day
    for addr in (LO_CLIENT, LO_PERM):
        h.run([h.SLUICECTL, "--socket", gw.sock, "unban", addr])


def test_ipv6_escalation_bans_the_prefix_in_xdp(gw):
    """A direct IPv6 client's escalation ban covers its /64 in XDP."""
    strike(THRESHOLD + 1, src=h.ALLOWED6, dst=h.SRV6)
    h.wait_for(lambda: f"escalation: banned fd00:5c::/64 for {BAN_S} s in "
               "XDP" in gw.output(), 5, what="v6 prefix ban")
    b = bans(gw)
    assert b["fd00:5c::/64"]["by"] == "sluiced", b
    assert f"{h.ALLOWED6}/128" not in b, b
    # another address of the /64 is dropped by XDP
    assert h.connect(h.BLOCKED6, h.SRV6, h.GW_PORT, timeout=1)["result"] \
        == "timeout"
    h.run([h.SLUICECTL, "--socket", gw.sock, "unban", "fd00:5c::/64"])
    assert au.get(raw.uniq("v6lim/after"), src=h.BLOCKED6,
                  dst=h.SRV6)["status"] in (200, 429)


# ---- JWT subjects are not configured consumers -----------------------------

def jwt(gw, sub, roles=()):
    now = int(time.time())
    return au.es256_jwt(gw.priv, {"sub": sub, "iss": "https://idp.test",
                                  "aud": "sluice", "exp": now + 300,
                                  "roles": list(roles)})


def test_jwt_sub_does_not_inherit_consumer(gw, backends):
    tok = jwt(gw, "admin-svc")
    r = au.get(raw.uniq("admin/jwt"), [f"Authorization: Bearer {tok}"])
    body = au.json_error(r, 403, "forbidden")
    assert "role" in body["message"], body
    # the configured consumer itself passes
    p = raw.uniq("admin/static")
    r = au.get(p, [f"Authorization: Bearer {ADMIN_TOKEN}"])
    assert r["status"] == 200, r
    # a token that carries the role passes, with the token's roles only
    p = raw.uniq("admin/jwt-role")
    r = au.get(p, [f"Authorization: Bearer {jwt(gw, 'admin-svc', ['admin'])}"])
    assert r["status"] == 200, r
    [e] = raw.backend_entries(backends["b1"], p)
    hl = {k.lower(): v for k, v in e["header_list"]}
    assert hl["x-consumer-name"] == "admin-svc"
    assert hl["x-consumer-roles"] == "admin"


def test_jwt_sub_has_its_own_rate_limit(gw):
    """The static consumer's budget (2/h) is not the JWT subject's."""
    static = [f"Authorization: Bearer {ADMIN_TOKEN}"]
    assert au.get(raw.uniq("culim/s"), static)["status"] == 200
    assert au.get(raw.uniq("culim/s"), static)["status"] == 200
    au.json_error(au.get(raw.uniq("culim/s"), static), 429, "rate_limited")
    tok = [f"Authorization: Bearer {jwt(gw, 'admin-svc')}"]
    assert au.get(raw.uniq("culim/j"), tok)["status"] == 200
    assert au.get(raw.uniq("culim/j"), tok)["status"] == 200
    au.json_error(au.get(raw.uniq("culim/j"), tok), 429, "rate_limited")
