"""Identity and forwarding fields the gateway owns cannot be spoofed by
spelling them differently.

Backends behind CGI, WSGI, PHP or FastCGI read X_Consumer_Name and
X-Consumer-Name alike (both become HTTP_X_CONSUMER_NAME), so a client that
sends an underscore or odd-case look-alike of a field the gateway sets must
not get it through. The logging backend (b1) records every field it
received; each test checks that none of the client's look-alikes is there
and that the gateway's own values are, once.
"""
import hashlib
import re
import uuid

import pytest

import helpers as h
import raw

PORT = h.GW_PORT + 12
TOKEN = "idh-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def gw(backends, workdir):
    s = raw.start(
        workdir, "gw-identity",
        listeners=[{"address": f"{h.SRV4}:{PORT}"}],
        routes=[{"name": "authed", "path_prefix": "/authed/",
                 "service": "echo", "auth": ["bearer"]},
                {"name": "all", "path_prefix": "/", "service": "echo"}],
        top={"consumers": [{
            "name": "alice", "roles": ["ops"],
            "bearer_tokens": ["sha256:" +
                              hashlib.sha256(TOKEN.encode()).hexdigest()]}]})
    yield s
    s.shutdown()


def norm(name):
    return name.lower().replace("_", "-")


def fields(entry):
    out = {}
    for k, v in entry["header_list"]:
        out.setdefault(norm(k), []).append((k, v))
    return out


def send(path, extra, auth=True):
    hs = [("Authorization", f"Bearer {TOKEN}")] if auth else []
    c = raw.Conn(port=PORT)
    c.send(raw.request("GET", path, host="api.test", headers=hs + extra))
    r = c.response()
    c.close()
    return r


# Spellings of fields the gateway sets or owns, as a client might send them
SPOOFED = [
    "X_Consumer_Name", "x-consumer_roles", "X-CONSUMER-NAME",
    "x-consumer-name", "X-Consumer-Roles", "X_CONSUMER_ROLES",
    "X-Consumer-ID", "X_Consumer_Custom_ID", "X-Consumer-Groups",
    "x_forwarded_for", "X_Forwarded_For", "X-FORWARDED-FOR",
    "x-forwarded_proto", "X_Forwarded_Host", "X-Forwarded-Port",
    "X_Forwarded_Prefix", "X_Real_IP", "x-real-ip", "X-REAL-IP",
    "forwarded", "Forwarded", "FORWARDED", "x_request_id",
    "X-Request_Id", "Content_Length", "Transfer_Encoding",
]


@pytest.mark.parametrize("name", SPOOFED)
@pytest.mark.parametrize("authed", [True, False], ids=["authed", "anonymous"])
def test_spoofed_spelling_never_reaches_backend(gw, backends, name, authed):
    p = ("/authed" if authed else "") + raw.uniq("idh")
    spoof = "spoof-" + uuid.uuid4().hex[:8]
    # a GET with a Content_Length/Transfer_Encoding look-alike: a value
    # that would mean something as framing
    value = {"Content_Length": "7", "Transfer_Encoding": "chunked"}.get(
        name, spoof)
    r = send(p, [(name, value)], auth=authed)
    assert r.status == 200, r
    e = raw.backend_entries(backends["b1"], p)
    assert len(e) == 1, e
    f = fields(e[0])
    for k, v in e[0]["header_list"]:
        assert spoof not in v, f"{name} reached the backend as {k}: {v}"
    # the gateway's own values, once each and under their exact names
    assert f["x-forwarded-for"] == [("X-Forwarded-For", h.ALLOWED4)], f
    assert f["x-forwarded-proto"] == [("X-Forwarded-Proto", "http")], f
    assert f["x-forwarded-host"] == [("X-Forwarded-Host", "api.test")], f
    assert f["via"] == [("Via", "1.1 sluice")], f
    rid = f["x-request-id"]
    assert len(rid) == 1 and rid[0][0] == "X-Request-Id", f
    assert re.fullmatch(r"[0-9a-f]{32}", rid[0][1]), rid
    assert r.header("x-request-id") == rid[0][1]
    for owned in ("x-real-ip", "forwarded", "content-length",
                  "transfer-encoding", "x-forwarded-port",
                  "x-forwarded-prefix"):
        assert owned not in f, f
    consumer = {k: v for k, v in f.items() if k.startswith("x-consumer-")}
    if authed:
        assert consumer == {
            "x-consumer-name": [("X-Consumer-Name", "alice")],
            "x-consumer-roles": [("X-Consumer-Roles", "ops")]}, consumer
    else:
        assert consumer == {}, consumer


def test_via_any_case_is_extended_once(gw, backends):
    """Via is the client's chain plus ours, in one field, whatever case
    the client spelled it in."""
    p = raw.uniq("via")
    assert send(p, [("VIA", "1.1 lb")]).status == 200
    f = fields(raw.backend_entries(backends["b1"], p)[0])
    assert f["via"] == [("Via", "1.1 lb, 1.1 sluice")], f


def test_all_lookalikes_at_once(gw, backends):
    p = "/authed" + raw.uniq("idh-all")
    extra = [(n, f"spoof-{i}") for i, n in enumerate(SPOOFED)
             if n not in ("Content_Length", "Transfer_Encoding")]
    r = send(p, extra)
    assert r.status == 200, r
    e = raw.backend_entries(backends["b1"], p)[0]
    assert not [kv for kv in e["header_list"] if "spoof-" in kv[1]], e
    f = fields(e)
    assert f["x-consumer-name"] == [("X-Consumer-Name", "alice")], f


# Whitespace and control variants the parser refuses before anything else
REFUSED = [
    ("space-before-colon", "X-Consumer-Name : admin\r\n"),
    ("tab-before-colon", "X-Consumer-Name\t: admin\r\n"),
    ("space-in-name", "X Consumer-Name: admin\r\n"),
    ("leading-space", " X-Consumer-Name: admin\r\n"),
    ("tab-in-name", "X-Consumer\tName: admin\r\n"),
    ("vtab-in-name", "X-Consumer\x0bName: admin\r\n"),
    ("nul-in-name", "X-Consumer\x00Name: admin\r\n"),
]


@pytest.mark.parametrize("line", [c[1] for c in REFUSED],
                         ids=[c[0] for c in REFUSED])
def test_whitespace_variants_refused(gw, backends, line):
    p = "/authed" + raw.uniq("idh-ws")
    c = raw.Conn(port=PORT)
    c.send((f"GET {p} HTTP/1.1\r\nHost: api.test\r\n"
            f"Authorization: Bearer {TOKEN}\r\n" + line + "\r\n")
           .encode("latin-1"))
    r = c.response()
    assert r.status == 400 and r.json()["error"] == "bad_request", r
    assert c.closed()
    c.close()
    assert raw.backend_entries(backends["b1"], p) == []


def test_dot_is_not_a_lookalike(gw, backends):
    """'.' is a token character that no CGI-style mapping turns into '-':
    X-Consumer.Name is another field, passed on as sent, next to the
    gateway's own X-Consumer-Name."""
    p = "/authed" + raw.uniq("idh-dot")
    assert send(p, [("X-Consumer.Name", "other")]).status == 200
    f = fields(raw.backend_entries(backends["b1"], p)[0])
    assert f["x-consumer-name"] == [("X-Consumer-Name", "alice")], f
    assert f["x-consumer.name"] == [("X-Consumer.Name", "other")], f
