"""Allowed clients reach the backend through sluiced (v4 and v6)."""
import json
import uuid

import pytest

import helpers as h


def uniq(prefix):
    return f"/{prefix}-{uuid.uuid4().hex[:12]}"


def logged(backend, path):
    """Backend log entries whose path is `path` (what really arrived)."""
    return [e for e in h.backend_log(backend) if e["path"] == path]


@pytest.mark.parametrize("src,dst", [(h.ALLOWED4, h.SRV4),
                                     (h.ALLOWED6, h.SRV6)],
                         ids=["v4", "v6"])
def test_allowed_client_gets_backend_response(gateway, backends, src, dst):
    path = uniq("hello")
    r = h.one(h.http(src, dst, path=path + "?x=1&y=two"))
    assert r["status"] == 200, r
    assert "application/json" in (h.header(r, "content-type") or ""), r
    body = json.loads(r["body"])
    assert body["backend"] == "b1"
    assert body["method"] == "GET"
    assert body["path"] == path
    assert body["query"] == "x=1&y=two"
    # the backend saw sluiced, not the client, as its peer ...
    assert body["remote_addr"].startswith(h.SRV4 + ":"), body["remote_addr"]
    # ... and the client's address in X-Forwarded-For
    xff = body["headers"].get("x-forwarded-for")
    assert xff is not None, f"no X-Forwarded-For in {body['headers']}"
    assert xff.split(",")[-1].strip() == src, xff
    assert body["headers"].get("host"), body["headers"]
    # exactly one request with that path reached the backend
    assert len(logged(backends["b1"], path)) == 1


@pytest.mark.parametrize("src,url", [
    (h.ALLOWED4, f"http://{h.SRV4}:{h.GW_PORT}"),
    (h.ALLOWED6, f"http://[{h.SRV6}]:{h.GW_PORT}")], ids=["v4", "v6"])
def test_curl_through_gateway(gateway, src, url):
    path = uniq("curl")
    code, body, r = h.curl(src, url + path)
    assert code == 200, (code, body, r.stderr)
    j = json.loads(body)
    assert (j["backend"], j["path"]) == ("b1", path)
    assert j["headers"]["x-forwarded-for"].split(",")[-1].strip() == src


def test_http10_client(gateway):
    path = uniq("h10")
    code, body, r = h.curl(h.ALLOWED4, f"http://{h.SRV4}:{h.GW_PORT}{path}",
                           "--http1.0")
    assert code == 200, (code, body, r.stderr)
    assert json.loads(body)["path"] == path


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length",
                                                         "chunked"])
def test_post_body_arrives_intact(gateway, backends, chunked):
    path = uniq("post")
    n = 300_000
    res = h.http(h.ALLOWED4, h.SRV4, path=path, method="POST", body_len=n,
                 chunked=chunked, timeout=10)
    r = h.one(res)
    assert r["status"] == 200, r
    body = json.loads(r["body"])
    assert body["method"] == "POST"
    assert body["body_bytes"] == n
    assert body["body_fnv1a"] == res["sent_fnv1a"], "body changed in transit"
    entries = logged(backends["b1"], path)
    assert len(entries) == 1, entries
    assert entries[0]["body_bytes"] == n
    assert entries[0]["body_fnv1a"] == res["sent_fnv1a"]


def test_curl_post(gateway, backends):
    path = uniq("curlpost")
    code, body, r = h.curl(h.ALLOWED6, f"http://[{h.SRV6}]:{h.GW_PORT}{path}",
                           "--data-binary", "hello sluice")
    assert code == 200, (code, body, r.stderr)
    assert json.loads(body)["body_bytes"] == len("hello sluice")


def test_keepalive_two_requests_one_connection(gateway, backends):
    path = uniq("ka")
    res = h.http(h.ALLOWED4, h.SRV4, path=path, count=2)
    assert "error" not in res, res
    rs = res["responses"]
    assert [r["status"] for r in rs] == [200, 200], rs
    assert rs[0]["local"] == rs[1]["local"], \
        f"client reconnected between requests: {rs[0]['local']} {rs[1]['local']}"
    for r in rs:
        assert (h.header(r, "connection") or "").lower() != "close", r
        assert json.loads(r["body"])["path"] == path
    assert len(logged(backends["b1"], path)) == 2


def test_backend_status_passes_through(gateway):
    r = h.one(h.http(h.ALLOWED4, h.SRV4, path="/status/503"))
    assert r["status"] == 503
    assert json.loads(r["body"])["backend"] == "b1"


def test_large_response_body(gateway):
    n = 1_000_000
    for kind in ("bytes", "chunked"):
        r = h.one(h.http(h.ALLOWED4, h.SRV4, path=f"/{kind}/{n}", timeout=10))
        assert r["status"] == 200, (kind, r["status"])
        assert r["body_len"] == n, kind
        assert r["body"] == "x" * n, kind
