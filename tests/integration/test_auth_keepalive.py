"""Credentials on a keep-alive connection: each request on its own.

The gate memoizes the digests of credentials it found (per worker thread),
so a client presenting the same token on every request of a connection is
not hashed again. These tests hold one connection open and change what it
presents from request to request -- another consumer's token, none, a token
one character off, a bearer token presented as an API key, a token a reload
revoked -- and check that every request is judged on its own credential,
by the status and by the consumer the backend is told about.
"""
import json
import signal
import subprocess
import uuid

import pytest

import auth_util as au
import helpers as h

ALICE = "alice-ka-" + uuid.uuid4().hex
ALICE2 = "alice-ka2-" + uuid.uuid4().hex
BOB = "bob-ka-" + uuid.uuid4().hex
BOB_KEY = "bob-key-ka-" + uuid.uuid4().hex
# more consumers than the memo has slots per worker (64): their digests
# share slots, so a memo that took a slot's digest for another token would
# name the wrong consumer
MANY = [f"c{i}-ka-" + uuid.uuid4().hex for i in range(100)]

ROUTES = """\
  - name: anon
    path_prefix: /anon/
    service: echo
    auth: [bearer]
    anonymous: true
  - name: keys
    path_prefix: /keys/
    service: echo
    auth: [key]
  - name: priv
    path_prefix: /
    service: echo
    auth: [bearer]
    limits:
      - key: consumer
        rates: [1000/s]
"""


def top(alice_token):
    return f"""\
consumers:
  - name: alice
    bearer_tokens: ['{au.sha256_ref(alice_token)}']
  - name: bob
    bearer_tokens: ['{au.sha256_ref(BOB)}']
    api_keys: ['{au.sha256_ref(BOB_KEY)}']
""" + "".join(f"""\
  - name: c{i}
    bearer_tokens: ['{au.sha256_ref(t)}']
""" for i, t in enumerate(MANY))


# One HTTP/1.1 connection from the client namespace; a request per line
# on stdin ({"path", "headers"}), an answer per line on stdout with the
# local port, so the test sees that every request went over the same
# connection (http.client would silently open a new one).
CONN_SCRIPT = r"""
import http.client, json, sys
src, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection(host, port, timeout=10,
                               source_address=(src, 0))
for line in sys.stdin:
    q = json.loads(line)
    try:
        c.request("GET", q["path"], headers=dict(q["headers"]))
        local = c.sock.getsockname()[1]
        r = c.getresponse()
        body = r.read().decode("utf-8", "replace")
        out = {"status": r.status, "body": body, "local": local,
               "connection": r.getheader("connection")}
    except Exception as e:
        out = {"error": repr(e)}
    print(json.dumps(out), flush=True)
"""


class Conn:
    def __init__(self, src=h.ALLOWED4, dst=h.SRV4):
        self.p = subprocess.Popen(
            ["ip", "netns", "exec", h.CLI_NS, h.PY, "-c", CONN_SCRIPT, src,
             dst, str(h.GW_PORT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.local = None

    def get(self, path, headers=()):
        self.p.stdin.write(json.dumps(
            {"path": path, "headers": [x.split(": ", 1) for x in headers]}) +
            "\n")
        self.p.stdin.flush()
        r = json.loads(self.p.stdout.readline())
        assert "error" not in r, r
        if self.local is None:
            self.local = r["local"]
        assert r["local"] == self.local, "not the same connection any more"
        return r

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=20)


def consumer(r):
    """The consumer the backend was told about (None: anonymous)."""
    return json.loads(r["body"])["headers"].get("x-consumer-name")


def bearer(tok):
    return [f"Authorization: Bearer {tok}"]


@pytest.fixture
def gw(backends, workdir):
    cfg = au.write_auth_config(workdir, "auth-ka", ROUTES, top(ALICE))
    g = au.Gateway(cfg, workdir, "gw-auth-ka")
    g.workdir = workdir
    yield g
    g.stop()


def test_each_request_judged_on_its_own_credential(gw):
    c = Conn()
    try:
        for tok, who in ((ALICE, "alice"), (BOB, "bob"), (ALICE, "alice"),
                         (ALICE, "alice"), (BOB, "bob")):
            r = c.get("/p/x", bearer(tok))
            assert r["status"] == 200, r
            assert consumer(r) == who, r
        # no credential on an anonymous route: anonymous, not the last one
        r = c.get("/anon/x")
        assert r["status"] == 200, r
        assert consumer(r) is None, r
        # the API key of bob, then bob's bearer token presented as an API
        # key (same bytes as a found bearer token, wrong kind)
        r = c.get("/keys/x", [f"X-API-Key: {BOB_KEY}"])
        assert r["status"] == 200 and consumer(r) == "bob", r
        r = c.get("/keys/x", [f"X-API-Key: {BOB}"])
        assert r["status"] == 401, r
        assert json.loads(r["body"])["message"] == "invalid API key", r
    finally:
        c.close()
    # alice's token with its last character changed, after alice's
    # token on the same connection
    c = Conn()
    try:
        assert consumer(c.get("/p/y", bearer(ALICE))) == "alice"
        off = ALICE[:-1] + ("0" if ALICE[-1] != "0" else "1")
        r = c.get("/p/y", bearer(off))
        assert r["status"] == 401, r
        assert json.loads(r["body"])["message"] == "invalid bearer token", r
    finally:
        c.close()
    # and with no token at all on a route that needs one
    c = Conn()
    try:
        assert consumer(c.get("/p/z", bearer(ALICE))) == "alice"
        r = c.get("/p/z")
        assert r["status"] == 401, r
        assert json.loads(r["body"])["message"] == "credentials required", r
    finally:
        c.close()


def test_many_tokens_on_one_connection(gw):
    """100 consumers' tokens, three rounds on one connection: each request
    names its own consumer; then tokens one character off a memoized one
    (each on its own connection, as a 401 closes it) are refused."""
    c = Conn()
    try:
        for _ in range(3):
            for i, tok in enumerate(MANY):
                r = c.get(f"/p/m{i}", bearer(tok))
                assert r["status"] == 200, r
                assert consumer(r) == f"c{i}", r
    finally:
        c.close()
    for tok in MANY[:10]:
        c = Conn()
        try:
            assert consumer(c.get("/p/o", bearer(tok))) == f"c{MANY.index(tok)}"
            off = tok[:-1] + ("0" if tok[-1] != "0" else "1")
            r = c.get("/p/o", bearer(off))
            assert r["status"] == 401, r
        finally:
            c.close()


def test_token_revoked_by_reload_on_an_open_connection(gw):
    """A connection that presented alice's token before a reload replaced
    it presents it again after: 401, though its digest was memoized."""
    c = Conn()
    try:
        for _ in range(3):
            r = c.get("/p/r", bearer(ALICE))
            assert r["status"] == 200 and consumer(r) == "alice", r
        au.write_auth_config(gw.workdir, "auth-ka", ROUTES, top(ALICE2))
        gw.s.p.send_signal(signal.SIGHUP)
        gw.s.wait_output("configuration applied (generation 2)", 10)
        r = c.get("/p/r", bearer(BOB))
        assert r["status"] == 200 and consumer(r) == "bob", r
        r = c.get("/p/r", bearer(ALICE))
        assert r["status"] == 401, r
        assert json.loads(r["body"])["message"] == "invalid bearer token", r
    finally:
        c.close()
    c = Conn()
    try:
        r = c.get("/p/r", bearer(ALICE2))
        assert r["status"] == 200 and consumer(r) == "alice", r
        r = c.get("/p/r", bearer(ALICE2))
        assert r["status"] == 200 and consumer(r) == "alice", r
    finally:
        c.close()
    c = Conn()
    try:
        assert c.get("/p/r", bearer(ALICE))["status"] == 401
    finally:
        c.close()
