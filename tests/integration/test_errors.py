"""Gateway error responses: no route, backend down."""
import json

import helpers as h


def assert_error(resp, status, code):
    assert resp["status"] == status, resp
    ctype = h.header(resp, "content-type") or ""
    assert ctype.startswith("application/json"), ctype
    body = json.loads(resp["body"])
    assert body["error"] == code, body
    assert body["status"] == status, body
    assert isinstance(body.get("message"), str) and body["message"], body
    return body


def test_no_route_is_404(sluiced_factory, backends):
    sluiced_factory("api-only", routes=[("api", "/api/")])
    before = len(h.backend_log(backends["b1"]))
    for src, dst in ((h.ALLOWED4, h.SRV4), (h.ALLOWED6, h.SRV6)):
        r = h.one(h.http(src, dst, path="/not-routed/x"))
        assert_error(r, 404, "no_route")
        # a path under the route still works on the same gateway
        ok = h.one(h.http(src, dst, path="/api/items"))
        assert ok["status"] == 200, ok
        assert json.loads(ok["body"])["path"] == "/api/items"
    seen = [e["path"] for e in h.backend_log(backends["b1"])[before:]]
    assert "/not-routed/x" not in seen, "unrouted request reached the backend"
    assert seen.count("/api/items") == 2, seen


def test_backend_down_is_502(sluiced_factory):
    sluiced_factory("dead-backend", targets=[f"{h.SRV4}:{h.DEAD_PORT}"])
    for src, dst in ((h.ALLOWED4, h.SRV4), (h.ALLOWED6, h.SRV6)):
        r = h.one(h.http(src, dst, path="/anything", timeout=10))
        assert_error(r, 502, "bad_gateway")


def test_curl_sees_json_404(sluiced_factory):
    sluiced_factory("api-only-curl", routes=[("api", "/api/")])
    code, body, r = h.curl(h.ALLOWED4, f"http://{h.SRV4}:{h.GW_PORT}/nope")
    assert code == 404, (code, body, r.stderr)
    assert json.loads(body)["error"] == "no_route"
