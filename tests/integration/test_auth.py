"""Authentication, RBAC, L7 CIDR and rate limits through sluiced.

Every 401/403/429 path and its headers; what the backend receives
(X-Consumer-*, credential stripped); JWT verified against a key made here
by openssl; limit accuracy with two workers under a bounded load.
"""
import json
import time
import uuid

import pytest

import auth_util as au
import helpers as h

ALICE_TOKEN = "alice-bearer-" + uuid.uuid4().hex
BOB_TOKEN = "bob-bearer-" + uuid.uuid4().hex
ALICE_KEY = "alice-key-" + uuid.uuid4().hex
CAROL_KEY = "carol-key-" + uuid.uuid4().hex     # from a file: reference


def uniq(prefix):
    return f"/{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def gw(backends, workdir):
    priv, pub = au.es256_keypair(workdir)
    (workdir / "carol.key").write_text(CAROL_KEY + "\n")
    routes = f"""\
  - name: admin
    path_prefix: /admin/
    service: echo
    auth: [bearer, key, jwt]
    roles: [admin]
  - name: both
    path_prefix: /both/
    service: echo
    auth: [bearer]
    roles: [admin, ops]
    roles_mode: all
  - name: keys
    path_prefix: /keys/
    service: echo
    auth: [key]
    key_query: api_key
  - name: keep
    path_prefix: /keep/
    service: echo
    auth: [bearer]
    strip_credentials: false
  - name: anon
    path_prefix: /anon/
    service: echo
    auth: [bearer]
    anonymous: true
  - name: nets
    path_prefix: /nets/
    service: echo
    allow_cidrs: [198.18.0.0/24]
    deny_cidrs: [198.18.0.66]
  - name: limited
    path_prefix: /limited/
    service: echo
    auth: [bearer]
    ratelimit_headers: true
    limits:
      - key: consumer
        rates: [3/h]
  - name: ip-limited
    path_prefix: /iplim/
    service: echo
    limits:
      - key: ip
        rates: [2/h, 100/s]
  - name: open
    path_prefix: /
    service: echo
"""
    top = f"""\
consumers:
  - name: alice
    roles: [admin, ops]
    bearer_tokens: ['{au.sha256_ref(ALICE_TOKEN)}']
    api_keys: ['{au.sha256_ref(ALICE_KEY)}']
  - name: bob
    roles: [ops]
    bearer_tokens: ['{au.sha256_ref(BOB_TOKEN)}']
  - name: carol
    api_keys: ['file:carol.key']
trusted_proxies: [{h.ALLOWED4}]
jwt:
  algorithms: [ES256]
  issuer: https://idp.test
  audiences: [sluice]
  keys:
    - file: {pub.name}
"""
    cfg = au.write_auth_config(workdir, "auth", routes, top)
    g = au.Gateway(cfg, workdir, "gw-auth")
    g.priv = priv
    yield g
    g.stop()


def seen(backends, path):
    return [e for e in h.backend_log(backends["b1"]) if e["path"] == path]


def backend_headers(resp):
    return json.loads(resp["body"])["headers"]


def test_missing_credentials_401(gw, backends):
    p = uniq("admin/x")
    r = au.get(p)
    body = au.json_error(r, 401, "unauthorized")
    assert body["message"] == "credentials required"
    www = h.header(r, "www-authenticate")
    assert www.startswith('Bearer realm="sluice"'), www
    assert "invalid_token" not in www
    assert 'ApiKey realm="sluice", header="X-API-Key"' in www, www
    assert seen(backends, p) == [], "rejected request reached the backend"


def test_invalid_bearer_401(gw, backends):
    p = uniq("admin/x")
    for value, msg in (("Bearer nope-" + uuid.uuid4().hex, "invalid bearer token"),
                       ("Basic YWxpY2U6cHc=", "unsupported Authorization scheme"),
                       ("Bearer a b", "malformed bearer token")):
        r = au.get(p, [f"Authorization: {value}"])
        body = au.json_error(r, 401, "unauthorized")
        assert msg in body["message"], body
        assert 'error="invalid_token"' in h.header(r, "www-authenticate")
    assert seen(backends, p) == []


def test_bearer_reaches_backend_with_consumer_headers(gw, backends):
    p = uniq("admin/ok")
    r = au.get(p, [f"Authorization: Bearer {ALICE_TOKEN}",
                   "X-Consumer-Name: mallory", "X-Consumer-Roles: root"])
    assert r["status"] == 200, r
    hd = backend_headers(r)
    assert hd.get("x-consumer-name") == "alice", hd
    assert hd.get("x-consumer-roles") == "admin, ops", hd
    assert "authorization" not in hd, "credential was not stripped"
    # what really arrived (backend log), not only what it echoed
    e = seen(backends, p)
    assert len(e) == 1
    names = {k.lower() for k in e[0]["headers"]}
    assert "authorization" not in names
    assert e[0]["headers"].get("x-consumer-name",
                               e[0]["headers"].get("X-Consumer-Name")) == "alice"


def test_strip_credentials_false_keeps_header(gw):
    r = au.get(uniq("keep/x"), [f"Authorization: Bearer {BOB_TOKEN}"])
    assert r["status"] == 200, r
    hd = backend_headers(r)
    assert hd.get("authorization") == f"Bearer {BOB_TOKEN}", hd
    assert hd.get("x-consumer-name") == "bob"


def test_api_key_header_and_query(gw, backends):
    r = au.get(uniq("keys/h"), [f"X-API-Key: {ALICE_KEY}"])
    assert r["status"] == 200, r
    hd = backend_headers(r)
    assert hd["x-consumer-name"] == "alice" and "x-api-key" not in hd, hd
    # a key read from a file: reference
    r = au.get(uniq("keys/f"), [f"x-api-key: {CAROL_KEY}"])
    assert r["status"] == 200, r
    assert backend_headers(r)["x-consumer-name"] == "carol"
    assert "x-consumer-roles" not in backend_headers(r)
    # query parameter: removed from what the backend sees
    p = uniq("keys/q")
    r = au.get(f"{p}?a=1&api_key={ALICE_KEY}&b=2")
    assert r["status"] == 200, r
    body = json.loads(r["body"])
    assert body["query"] == "a=1&b=2", body
    assert body["headers"]["x-consumer-name"] == "alice"
    r = au.get(f"{uniq('keys/q')}?api_key=wrong-{uuid.uuid4().hex}")
    b = au.json_error(r, 401, "unauthorized")
    assert b["message"] == "invalid API key"
    assert 'ApiKey realm="sluice", header="X-API-Key", query="api_key"' in \
        h.header(r, "www-authenticate")


def test_refusals_carry_the_request_id(gw):
    """401/403/429 answered by the gate echo the client's valid
    X-Request-Id, or carry a generated one, like proxied responses."""
    import re
    for path, hdrs, status in (
            ("admin/rid", [], 401),
            ("admin/rid", [f"Authorization: Bearer {BOB_TOKEN}"], 403)):
        r = au.get(uniq(path), hdrs + ["X-Request-Id: client-rid-7"])
        assert r["status"] == status, r
        assert h.header(r, "x-request-id") == "client-rid-7", r["headers"]
        r = au.get(uniq(path), hdrs)
        assert r["status"] == status, r
        rid = h.header(r, "x-request-id")
        assert rid and re.fullmatch(r"[0-9a-f]{32}", rid), r["headers"]
    # 429: test_ip_limit_per_address


def test_wrong_role_403(gw, backends):
    p = uniq("admin/bob")
    r = au.get(p, [f"Authorization: Bearer {BOB_TOKEN}"])
    body = au.json_error(r, 403, "forbidden")
    assert "required roles" in body["message"], body
    assert h.header(r, "www-authenticate") is None
    assert seen(backends, p) == []
    # roles_mode: all — alice has both, bob only one
    assert au.get(uniq("both/a"), [f"Authorization: Bearer {ALICE_TOKEN}"]
                  )["status"] == 200
    body = au.json_error(au.get(uniq("both/b"),
                                [f"Authorization: Bearer {BOB_TOKEN}"]),
                         403, "forbidden")
    assert body["message"] == "consumer lacks a required role"


def test_anonymous_route(gw):
    r = au.get(uniq("anon/x"))
    assert r["status"] == 200, r
    assert "x-consumer-name" not in backend_headers(r)
    # a bad credential is still refused
    au.json_error(au.get(uniq("anon/x"), ["Authorization: Bearer bad"]),
                  401, "unauthorized")


def test_route_cidrs_403(gw):
    assert au.get(uniq("nets/v4"))["status"] == 200
    r = au.get(uniq("nets/v6"), src=h.ALLOWED6, dst=h.SRV6)
    body = au.json_error(r, 403, "forbidden")
    assert body["message"] == "client address is not allowed on this route"
    # ALLOWED4 is a trusted proxy: the client is the X-Forwarded-For entry
    r = au.get(uniq("nets/xff"), ["X-Forwarded-For: 198.18.0.66"])
    body = au.json_error(r, 403, "forbidden")
    assert body["message"] == "client address is denied on this route"
    r = au.get(uniq("nets/xff"), ["X-Forwarded-For: 198.18.0.7, 10.9.9.9"])
    assert au.json_error(r, 403, "forbidden")["message"] == \
        "client address is not allowed on this route"
    # only the hops past trusted proxies count: a spoofed leftmost entry
    # behind an untrusted hop is not the client
    assert au.get(uniq("nets/xff"),
                  ["X-Forwarded-For: 198.18.0.66, 198.18.0.7"])["status"] == 200
    # ALLOWED6 is not trusted: its X-Forwarded-For is ignored
    r = au.get(uniq("nets/v6"), ["X-Forwarded-For: 198.18.0.7"],
               src=h.ALLOWED6, dst=h.SRV6)
    au.json_error(r, 403, "forbidden")


def test_jwt(gw, backends):
    now = int(time.time())
    good = {"sub": "svc-42", "iss": "https://idp.test", "aud": "sluice",
            "exp": now + 300, "roles": ["admin", "reader"]}
    tok = au.es256_jwt(gw.priv, good)
    r = au.get(uniq("admin/jwt"), [f"Authorization: Bearer {tok}"])
    assert r["status"] == 200, r
    hd = backend_headers(r)
    assert hd["x-consumer-name"] == "svc-42", hd
    assert hd["x-consumer-roles"] == "admin, reader", hd
    assert "authorization" not in hd
    cases = [
        (dict(good, exp=now - 3600), "invalid token: expired"),
        (dict(good, nbf=now + 3600), "invalid token: not yet valid"),
        (dict(good, iss="https://evil.test"), "invalid token: wrong issuer"),
        (dict(good, aud="other"), "invalid token: wrong audience"),
    ]
    for claims, msg in cases:
        r = au.get(uniq("admin/jwt"),
                   [f"Authorization: Bearer {au.es256_jwt(gw.priv, claims)}"])
        body = au.json_error(r, 401, "unauthorized")
        assert body["message"] == msg, (claims, body)
        assert 'error="invalid_token"' in h.header(r, "www-authenticate")
    # a valid token without the role: 403
    r = au.get(uniq("admin/jwt"), [
        "Authorization: Bearer " +
        au.es256_jwt(gw.priv, dict(good, roles=["reader"]))])
    au.json_error(r, 403, "forbidden")
    # alg none and a tampered signature
    none = au.b64u(b'{"alg":"none"}') + "." + \
        au.b64u(json.dumps(good).encode()) + "."
    body = au.json_error(au.get(uniq("admin/jwt"),
                                [f"Authorization: Bearer {none}"]),
                         401, "unauthorized")
    assert body["message"] == "malformed bearer token" or \
        body["message"].startswith("invalid token"), body
    head, pay, sig = tok.split(".")
    forged = head + "." + au.b64u(json.dumps(dict(good, sub="root")).encode()) \
        + "." + sig
    body = au.json_error(au.get(uniq("admin/jwt"),
                                [f"Authorization: Bearer {forged}"]),
                         401, "unauthorized")
    assert body["message"] == "invalid token: signature not verified", body


def test_rate_limit_429_and_headers(gw, backends):
    # 3/h per consumer: exactly three pass, then 429 with the headers
    seen_remaining = []
    for i in range(3):
        r = au.get(uniq("limited/ok"), [f"Authorization: Bearer {BOB_TOKEN}"])
        assert r["status"] == 200, r
        assert h.header(r, "ratelimit-limit") == "3", r["headers"]
        seen_remaining.append(int(h.header(r, "ratelimit-remaining")))
        assert int(h.header(r, "ratelimit-reset")) > 0
    assert seen_remaining == [2, 1, 0], seen_remaining
    p = uniq("limited/no")
    r = au.get(p, [f"Authorization: Bearer {BOB_TOKEN}"])
    body = au.json_error(r, 429, "rate_limited")
    assert body["message"] == "rate limit exceeded"
    retry = int(h.header(r, "retry-after"))
    assert 0 < retry <= 1200, retry          # 3/h: one slot per 20 min
    assert h.header(r, "ratelimit-limit") == "3"
    assert h.header(r, "ratelimit-remaining") == "0"
    assert int(h.header(r, "ratelimit-reset")) == retry
    assert seen(backends, p) == []
    # another consumer has its own budget
    r = au.get(uniq("limited/alice"), [f"Authorization: Bearer {ALICE_TOKEN}"])
    assert r["status"] == 200 and h.header(r, "ratelimit-remaining") == "2"


def test_ip_limit_per_address(gw):
    # 2/h per client address, v4 and v6 counted apart; no headers configured
    for src, dst in ((h.ALLOWED4, h.SRV4), (h.ALLOWED6, h.SRV6)):
        for _ in range(2):
            r = au.get(uniq("iplim/x"), src=src, dst=dst)
            assert r["status"] == 200, r
            assert h.header(r, "ratelimit-limit") is None
        r = au.get(uniq("iplim/x"), ["X-Request-Id: rid-429"], src=src,
                   dst=dst)
        au.json_error(r, 429, "rate_limited")
        assert h.header(r, "x-request-id") == "rid-429", r["headers"]


def test_head_request_rejection_has_no_body(gw):
    r = au.get(uniq("admin/head"), method="HEAD")
    assert r["status"] == 401 and r["body_len"] == 0, r
