"""Routing: hosts and wildcards, path_exact/path_regex, header and query
conditions, precedence, and the rewrites (strip_prefix, rewrite_prefix,
preserve_host), judged by what the echo backend actually received; the
--check --explain report; a bad path_regex refused with file:line:col, at
start and on reload (the running routes kept).

Each route rewrites the path its own way, so the path the backend got says
which route was taken.
"""
import json
import re
import signal

import pytest

import helpers as h

ROUTES = """\
  - name: exact-host
    hosts: [api.example.com]
    path_prefix: /v1/
    strip_prefix: true
    service: echo
  - name: wild
    hosts: ['*.example.com']
    path_prefix: /
    rewrite_prefix: /v2/
    preserve_host: false
    service: echo
  - name: rx
    path_regex: '/items/[0-9]+'
    service: echo
  - name: hdr
    path_prefix: /h/
    rewrite_prefix: /hdr/
    headers: {X-Env: [canary, beta]}
    service: echo
  - name: q
    path_prefix: /h/
    rewrite_prefix: /q/
    query: {version: '2'}
    priority: 1
    service: echo
  - name: h-exact
    path_exact: /h/
    service: echo
  - name: v6
    hosts: ['[fd00:5c::1]']
    path_prefix: /six/
    rewrite_prefix: /6/
    service: echo
"""


def routing_config(workdir, name, routes=ROUTES):
    cfg = h.write_config(workdir, name, routes=[])
    text = cfg.read_text().replace("routes:\n", "routes:\n" + routes, 1)
    cfg.write_text(text)
    return cfg


@pytest.fixture(scope="module")
def gw(backends, workdir):
    cfg = routing_config(workdir, "routing")
    s = h.Sluiced(cfg, workdir, tag="routing")
    try:
        s.start()
    except Exception:
        s.stop(signal.SIGKILL)
        raise
    yield s
    s.shutdown()


def get(path, host=None, headers=()):
    hdrs = list(headers) + ([f"Host: {host}"] if host else [])
    r = h.one(h.http(h.ALLOWED4, h.SRV4, path=path, header=hdrs))
    return r["status"], (json.loads(r["body"]) if r["status"] == 200 and
                         r["body"].startswith("{") else r["body"])


# (Host, path, headers, backend target or status, Host the backend got)
CASES = [
    # exact host, strip_prefix, Host kept (preserve_host defaults to true)
    ("api.example.com", "/v1/users?x=1", (), "/users?x=1", "api.example.com"),
    ("API.Example.COM.:8080", "/v1/a", (), "/a", "API.Example.COM.:8080"),
    ("api.example.com", "/v1/%61/./b/../c", (), "/a/c", "api.example.com"),
    # wildcard: one or more labels, not the apex; preserve_host: false
    ("www.example.com", "/v1/users", (), "/v2/v1/users",
     f"{h.SRV4}:{h.B1_PORT}"),
    ("a.b.example.com", "/x?y=1", (), "/v2/x?y=1", f"{h.SRV4}:{h.B1_PORT}"),
    ("example.com", "/v1/users", (), 404, None),
    # path_regex (anchored), any host
    ("example.com", "/items/42", (), "/items/42", "example.com"),
    ("other.test", "/items/%34%32", (), "/items/42", "other.test"),
    ("other.test", "/items/42/x", (), 404, None),
    # headers (name case-insensitive, value exact), query (decoded), then
    # priority between two routes of one condition each
    ("other.test", "/h/x", ("x-env: canary",), "/hdr/x", "other.test"),
    ("other.test", "/h/x", ("X-Env: Canary",), 404, None),
    ("other.test", "/h/x?ver%73ion=2", (), "/q/x?ver%73ion=2", "other.test"),
    ("other.test", "/h/x?version=2", ("X-Env: beta",), "/q/x?version=2",
     "other.test"),
    ("other.test", "/h/x?version=2&version=3", (), 404, None),
    # an IPv6 literal host in another spelling, with a port
    ("[FD00:5C:0::1]:8080", "/six/a", (), "/6/a", "[FD00:5C:0::1]:8080"),
    ("[fd00:5c::2]", "/six/a", (), 404, None),
    # an exact path beats both prefixes
    ("other.test", "/h/", ("X-Env: beta",), "/h/", "other.test"),
]


@pytest.mark.parametrize("host,path,hdrs,want,want_host", CASES)
def test_routes_and_rewrites(gw, host, path, hdrs, want, want_host):
    status, body = get(path, host, hdrs)
    if isinstance(want, int):
        assert status == want, body
        return
    assert status == 200, body
    assert body["target"] == want, body
    assert body["headers"]["host"] == want_host, body
    # the client's Host is what X-Forwarded-Host carries
    assert body["headers"]["x-forwarded-host"] == host, body


def test_explain(gw, workdir):
    cfg = str(gw.config)
    r = h.run_sluiced_once(["-c", cfg, "--check", "--explain",
                            "GET http://api.example.com/v1/x"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == ("request: GET host=api.example.com path=/v1/x "
                        "query=")
    assert re.fullmatch(rf"route 'exact-host' \({re.escape(cfg)}:\d+:5\) -> "
                        r"service 'echo': host exact, path prefix, "
                        r"0 condition\(s\), priority 0", lines[1]), lines[1]
    assert any(l.startswith("  not 'wild' (") and l.endswith(
        ": matches, but loses (rule 1: an exact host beats a wildcard host)")
        for l in lines), r.stdout
    assert any(l.startswith("  not 'hdr' (") and l.endswith(
        "path: '/v1/x' does not match path_prefix /h/") for l in lines), \
        r.stdout
    # with a header; and a request nothing matches
    r = h.run_sluiced_once(["-c", cfg, "--check", "--explain",
                            "GET /h/x?version=2", "-H", "Host: o.test",
                            "-H", "X-Env: canary"])
    assert r.returncode == 0, r.stderr
    assert "\nroute 'q' (" in r.stdout, r.stdout
    assert "not 'hdr'" in r.stdout and \
        "matches, but loses (rule 4: higher priority (1 > 0))" in r.stdout
    r = h.run_sluiced_once(["-c", cfg, "--check", "--explain",
                            "GET http://example.com/nothing"])
    assert r.returncode == 1
    assert "no route matches (the gateway answers 404)" in r.stdout
    r = h.run_sluiced_once(["-c", cfg, "--check", "--explain", "GET"])
    assert r.returncode == 1 and "--explain: expected" in r.stderr


def test_bad_regex_refused_and_reload_keeps_routes(gw, workdir):
    bad_routes = ROUTES.replace("'/items/[0-9]+'", "'/items/[0-9+'")
    bad = routing_config(workdir, "routing-bad", bad_routes)
    line = next(i for i, l in enumerate(bad.read_text().splitlines(), 1)
                if "path_regex" in l)
    r = h.run_sluiced_once(["-c", str(bad), "--check"])
    assert r.returncode == 1
    assert re.search(rf"{re.escape(str(bad))}:{line}:17: "
                     r"routes\[2\]\.path_regex: invalid regular expression "
                     r"'/items/\[0-9\+': \S", r.stderr), r.stderr

    # the same mistake on a reload: refused, the running routes kept
    cfg = gw.config
    good = cfg.read_text()
    try:
        cfg.write_text(good.replace("'/items/[0-9]+'", "'/items/[0-9+'"))
        gw.p.send_signal(signal.SIGHUP)
        h.wait_for(lambda: re.search(r"error reload: .*path_regex: invalid "
                                     r"regular expression", gw.output()),
                   10, what="the refused reload logged")
        status, body = get("/items/7", "x.test")
        assert status == 200 and body["target"] == "/items/7", body
    finally:
        cfg.write_text(good)
