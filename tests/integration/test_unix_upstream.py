"""Unix-domain-socket upstream targets (`unix:/abs/path.sock`): requests
proxied through one (what the backend received: request line, headers,
body), keep-alive reuse of the pooled Unix connection, a spliced large
body, a websocket tunnel, HTTP/2 clients, a dead socket path (502 JSON,
health checks take it down and bring it back when the app starts), a
balance over one TCP and one Unix target with retries across them, the
config errors (file:line), a bad reload that keeps the running config, and
socket permissions after the privilege drop (user: nobody).

The test backend listens on the socket (`backend --listen unix:PATH`); its
remote_addr is "unix:#N", one N per accepted connection."""
import json
import os
import pwd
import shutil
import signal
import socket
import threading
from pathlib import Path

import pytest

import helpers as h
import raw

GW = h.GW_PORT + 61
ADMIN = "127.0.0.1:9961"
TCP_PORT = 9061
LISTEN = [{"address": f"{h.SRV4}:{GW}"}]
def sock_path(workdir, name):
    return Path(workdir) / f"{name}.sock"


def start_unix_backend(workdir, name, path):
    return h.start_backend(name, [f"unix:{path}"], workdir)


def start_gw(workdir, name, services, access_log=None, http=None,
             top=None, listeners=LISTEN):
    top = {"admin": {"address": ADMIN,
                     "socket": str(Path(workdir) / f"{name}-admin.sock")},
           **(top or {})}
    routes = [{"name": "all", "path_prefix": "/",
               "service": services[0]["name"]}]
    return raw.start(workdir, name, listeners=listeners, services=services,
                     routes=routes, top=top, access_log=access_log,
                     http=http)


def conn(**kw):
    return raw.Conn(port=GW, **kw)


def get(path, c=None, **kw):
    own = c is None
    c = c or conn()
    try:
        c.send(raw.request("GET", path, **kw))
        return c.response()
    finally:
        if own:
            c.close()


def upstreams(workdir, name):
    r = h.run([h.SLUICECTL, "--socket", Path(workdir) / f"{name}-admin.sock",
               "--json", "upstreams"], timeout=20)
    return json.loads(r.stdout)["services"][0]


def metrics():
    r = h.run(["nsenter", f"--net=/run/netns/{h.SRV_NS}", "curl", "-sS",
               "--max-time", "5", f"http://{ADMIN}/metrics"], timeout=10)
    return r.stdout


def entries(backend, marker):
    return raw.backend_entries(backend, marker)


@pytest.fixture
def ubackend(topo, workdir):
    """One backend on a Unix socket in the work directory."""
    path = sock_path(workdir, "ux")
    b = start_unix_backend(workdir, "ux", path)
    b.sock = path
    yield b
    if b.alive():
        assert b.stop() == 0
    assert not path.exists(), "backend left its socket file"


# ---- proxying -------------------------------------------------------------

def test_request_proxied_through_unix_target(ubackend, workdir):
    log = Path(workdir) / "ux-proxy-access.log"
    s = start_gw(workdir, "ux-proxy", [{
        "name": "app", "targets": [f"unix:{ubackend.sock}"]}],
        access_log=log)
    try:
        body = bytes((i * 13) & 0xff for i in range(70000))
        c = conn()
        c.send(raw.request("POST", "/submit/1?x=y", host="api.example.test",
                           headers=[("X-Custom", "abc"),
                                    ("Content-Type", "application/json")],
                           body=body))
        r = c.response()
        c.close()
        assert r.status == 200, r
        assert r.json()["backend"] == "ux"
        e = entries(ubackend, "/submit/1")[-1]
        assert (e["method"], e["target"], e["http_version"]) == (
            "POST", "/submit/1?x=y", "HTTP/1.1")
        assert e["remote_addr"].startswith("unix:#"), e
        # the client's Host goes on, as for a TCP target
        hl = {k.lower(): v for k, v in e["header_list"]}
        assert hl["host"] == "api.example.test"
        assert hl["x-custom"] == "abc"
        assert hl["x-forwarded-for"] == h.ALLOWED4
        assert hl["x-forwarded-proto"] == "http"
        assert hl["content-length"] == str(len(body))
        assert (e["body_bytes"], e["body_fnv1a"]) == (len(body), raw.fnv1a(body))

        # an HTTP/1.0 request without Host: a Unix target has no address
        # a Host field could carry, so the gateway sends "localhost"
        c = conn()
        c.send(b"GET /nohost HTTP/1.0\r\n\r\n")
        assert c.response().status == 200
        c.close()
        hl = {k.lower(): v for k, v in entries(ubackend,
                                               "/nohost")[-1]["header_list"]}
        assert hl["host"] == "localhost"

        # labels print the target as unix:/path
        want = f"unix:{ubackend.sock}"
        assert h.access_log_entry(log, "/submit/1")["upstream"] == want
        assert f'sluice_upstream_up{{service="app",target="{want}"}} 1' \
            in metrics()
        t = upstreams(workdir, "ux-proxy")["targets"][0]
        assert t["address"] == want, t
    finally:
        s.shutdown()


def test_keepalive_reuse_and_splice(ubackend, workdir):
    s = start_gw(workdir, "ux-ka", [{
        "name": "app", "targets": [f"unix:{ubackend.sock}"]}],
        http={"splice_min_bytes": 65536})
    try:
        # separate client connections, one pooled upstream connection
        for i in range(4):
            assert get(f"/ka/{i}").status == 200
        peers = {e["remote_addr"] for e in entries(ubackend, "/ka/")}
        assert len(peers) == 1, peers
        # large Content-Length bodies: once the upstream connection has
        # brought one, the next is spliced from the Unix socket (all of it
        # but what came with its head)
        before = raw.metric(ADMIN, "sluice_spliced_response_bytes_total")
        c = conn(timeout=20)
        for n in (1000000, 3000000):
            r = get(f"/bytes/{n}", c)
            assert r.status == 200 and r.body == b"x" * n
        c.close()
        after = raw.metric(ADMIN, "sluice_spliced_response_bytes_total")
        assert after - before >= 3000000 - 1024, (before, after)
        # and the connection is still good for the next request
        assert get("/ka/after").status == 200
        peers = {e["remote_addr"] for e in entries(ubackend, "/ka/")}
        assert len(peers) == 1, peers
    finally:
        s.shutdown()


def test_websocket_tunnel_over_unix(ubackend, workdir):
    s = start_gw(workdir, "ux-ws", [{
        "name": "app", "targets": [f"unix:{ubackend.sock}"]}])
    try:
        c = conn()
        c.send(raw.request("GET", "/ws/unix", headers=[
            ("Connection", "Upgrade"), ("Upgrade", "websocket"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13")]))
        assert c.read_head().status == 101
        big = bytes((i * 7) & 0xff for i in range(1 << 20))
        got = bytearray()
        c.s.settimeout(10)
        t = threading.Thread(target=c.s.sendall, args=(big,))
        t.start()
        while len(got) < len(big):
            d = c.s.recv(1 << 20)
            assert d, "tunnel closed early"
            got += d
        t.join()
        assert bytes(got) == big
        # half-close passes through the Unix socket and back
        c.s.shutdown(socket.SHUT_WR)
        assert c.read_until_close() == b""
        c.close()
    finally:
        s.shutdown()


def test_http2_client_to_unix_target(ubackend, workdir):
    """HTTP/2 streams (h2c, prior knowledge) go to the Unix target as
    HTTP/1.1 requests, like to a TCP one."""
    s = start_gw(workdir, "ux-h2", [{"name": "app",
                                     "targets": [f"unix:{ubackend.sock}"]}],
                 listeners=[{"address": f"{h.SRV4}:{GW}", "h2c": True}])
    try:
        code, body, r = h.curl(h.ALLOWED4, f"http://{h.SRV4}:{GW}/h2/a",
                               "--http2-prior-knowledge", "-H",
                               "Host: h2.example.test", "--data-binary",
                               "hello over h2")
        assert code == 200, r.stderr
        assert json.loads(body)["backend"] == "ux"
        e = entries(ubackend, "/h2/a")[-1]
        assert (e["method"], e["http_version"]) == ("POST", "HTTP/1.1")
        assert e["headers"]["host"] == "h2.example.test"
        assert (e["body_bytes"], e["body_fnv1a"]) == (
            13, raw.fnv1a(b"hello over h2"))
    finally:
        s.shutdown()


# ---- a dead socket path ---------------------------------------------------

def test_dead_socket_502_and_health_down_then_up(topo, workdir):
    path = sock_path(workdir, "late")
    path.unlink(missing_ok=True)
    s = start_gw(workdir, "ux-dead", [{
        "name": "app", "targets": [f"unix:{path}"],
        "health": {"path": "/healthz", "interval_ms": 1000,
                   "timeout_ms": 500, "healthy": 2, "unhealthy": 2}}])
    b = None
    try:
        r = get("/dead/1")
        assert r.status == 502, r
        assert r.header("content-type").startswith("application/json")
        j = r.json()
        assert (j["error"], j["status"]) == ("bad_gateway", 502), j
        h.wait_for(lambda: "unhealthy after 2 failed checks: connect: No "
                   "such file or directory" in s.output(), 10,
                   what="the health check marking the socket down")
        t = upstreams(workdir, "ux-dead")["targets"][0]
        assert (t["state"], t["reason"], t["last_check_error"]) == (
            "unhealthy", "health_check",
            "connect: No such file or directory"), t

        # the app starts: checks pass, traffic flows
        b = start_unix_backend(workdir, "late", path)
        h.wait_for(lambda: "healthy again after 2 passing checks"
                   in s.output(), 10, what="the socket back up")
        t = upstreams(workdir, "ux-dead")["targets"][0]
        assert (t["state"], t["last_check_error"]) == ("healthy", ""), t
        assert get("/dead/2").status == 200
        checks = [e for e in h.backend_log(b) if e["target"] == "/healthz"]
        assert checks and checks[0]["headers"]["host"] == "localhost"
        assert checks[0]["headers"]["user-agent"] == "sluice-health-check"

        # killed hard: the socket file stays, nobody listens
        b.stop(signal.SIGKILL)
        assert path.exists()
        r = get("/dead/3")
        assert r.status == 502 and r.json()["error"] == "bad_gateway", r
        h.wait_for(lambda: "connect: Connection refused" in
                   upstreams(workdir, "ux-dead")["targets"][0]
                   ["last_check_error"], 10, what="refused on a stale file")
    finally:
        if b and b.alive():
            b.stop()
        path.unlink(missing_ok=True)
        s.shutdown()


# ---- TCP and Unix targets in one service ----------------------------------

def test_balance_over_tcp_and_unix_targets(ubackend, workdir):
    tcp = h.start_backend("uxtcp", [f"{h.SRV4}:{TCP_PORT}"], workdir)
    s = start_gw(workdir, "ux-mix", [{
        "name": "app", "lb": "round_robin",
        "targets": [f"{h.SRV4}:{TCP_PORT}", f"unix:{ubackend.sock}"],
        "retries": {"attempts": 2, "budget_percent": 100}}])
    try:
        seen = [get(f"/mix/{i}").json()["backend"] for i in range(8)]
        assert seen.count("ux") == 4 and seen.count("uxtcp") == 4, seen
        # the TCP target dies: its requests are retried on the Unix one
        tcp.stop()
        seen = [get(f"/mix2/{i}").json()["backend"] for i in range(6)]
        assert set(seen) == {"ux"}, seen
        # and the other way round
        ubackend.stop()
        tcp = h.start_backend("uxtcp", [f"{h.SRV4}:{TCP_PORT}"], workdir)
        seen = [get(f"/mix3/{i}").json()["backend"] for i in range(6)]
        assert set(seen) == {"uxtcp"}, seen
        u = {t["address"] for t in upstreams(workdir, "ux-mix")["targets"]}
        assert u == {f"{h.SRV4}:{TCP_PORT}", f"unix:{ubackend.sock}"}
    finally:
        s.shutdown()
        if tcp.alive():
            tcp.stop()


# ---- config errors and reload ---------------------------------------------

BASE = """listeners:
  - name: l
    address: 127.0.0.1:18081
xdp:
  enabled: false
services:
  - name: app
    targets:
"""


@pytest.mark.parametrize("target,line,col,msg", [
    ('"unix:run/app.sock"', 9, 9,
     "Unix socket path must be absolute: 'unix:run/app.sock'"),
    ('"unix:"', 9, 9, "empty Unix socket path in 'unix:'"),
    ('"unix:/' + "a" * 107 + '"', 9, 9,
     "Unix socket path too long in 'unix:/aaa"),
    ('"unix:/run/"', 9, 9, "Unix socket path names a directory"),
    ('{address: "unix:./x.sock", weight: 2}', 9, 19,
     "Unix socket path must be absolute: 'unix:./x.sock'"),
], ids=["relative", "empty", "too-long", "directory", "mapping-relative"])
def test_config_errors(env, tmp_path, target, line, col, msg):
    p = tmp_path / "ux.yaml"
    p.write_text(BASE + f"      - {target}\n")
    r = h.run_sluiced_once(["--check", "-c", str(p)])
    assert r.returncode != 0
    errs = [l for l in r.stderr.splitlines() if l.startswith(str(p))]
    assert len(errs) == 1, r.stderr
    assert errs[0].startswith(f"{p}:{line}:{col}: services[0].targets[0]"), \
        errs[0]
    assert msg in errs[0], errs[0]


def test_listener_cannot_be_unix(env, tmp_path):
    p = tmp_path / "ux.yaml"
    p.write_text(BASE.replace("127.0.0.1:18081", '"unix:/run/gw.sock"') +
                 "      - 127.0.0.1:9\n")
    r = h.run_sluiced_once(["--check", "-c", str(p)])
    assert r.returncode != 0
    assert (f"{p}:3:14: listeners[0].address: a Unix socket is not allowed "
            "here: 'unix:/run/gw.sock'") in r.stderr, r.stderr


def test_mixed_targets_check_ok(env, tmp_path):
    p = tmp_path / "ux.yaml"
    p.write_text(BASE + '      - "unix:/run/app.sock"\n'
                 "      - 127.0.0.1:9001\n"
                 '      - {address: "unix:/run/b.sock", weight: 3}\n')
    r = h.run_sluiced_once(["--check", "-c", str(p)])
    assert r.returncode == 0, r.stderr


def test_reload_to_unix_target_and_bad_reload_keeps_old(ubackend, workdir):
    tcp = h.start_backend("uxrl", [f"{h.SRV4}:{TCP_PORT}"], workdir)
    name = "ux-reload"
    s = start_gw(workdir, name, [{"name": "app",
                                  "targets": [f"{h.SRV4}:{TCP_PORT}"]}])
    sock = Path(workdir) / f"{name}-admin.sock"
    cfg = Path(s.config)
    try:
        assert get("/rl/1").json()["backend"] == "uxrl"
        # a good reload moves the service onto the Unix socket
        cfg.write_text(cfg.read_text().replace(
            f'"{h.SRV4}:{TCP_PORT}"', json.dumps(f"unix:{ubackend.sock}")))
        r = h.run([h.SLUICECTL, "--socket", sock, "reload"], timeout=20)
        assert get("/rl/2").json()["backend"] == "ux"
        # a bad one (relative path) is refused with file:line; the running
        # config stays
        good = cfg.read_text()
        cfg.write_text(good.replace(f"unix:{ubackend.sock}",
                                    "unix:run/app.sock"))
        r = h.run([h.SLUICECTL, "--socket", sock, "reload"], timeout=20,
                  check=False)
        assert r.returncode != 0
        lineno = next(i + 1 for i, l in enumerate(cfg.read_text()
                                                  .splitlines())
                      if "unix:run/app.sock" in l)
        assert (f"{cfg}:{lineno}:") in r.stdout + r.stderr, r
        assert "Unix socket path must be absolute" in r.stdout + r.stderr
        assert "keeping the running one" in s.output()
        assert get("/rl/3").json()["backend"] == "ux"
    finally:
        s.shutdown()
        tcp.stop()


# ---- after the privilege drop ---------------------------------------------

def test_socket_permissions_after_privilege_drop(topo, workdir):
    """sluiced under `user: nobody` connects with nobody's rights: a socket
    in a directory only root may enter is refused (Permission denied, in
    the log and the health check); the documented layout (a setgid
    directory of the daemon user's primary group, mode 2750, the app's
    umask 007) lets it in."""
    nobody = pwd.getpwnam("nobody")
    top_dir = Path(f"/tmp/sluice-ux-user-{os.getpid()}")
    apps = top_dir / "apps"
    path = apps / "app.sock"
    shutil.rmtree(top_dir, ignore_errors=True)
    top_dir.mkdir(mode=0o755)
    top_dir.chmod(0o755)
    apps.mkdir(mode=0o700)
    b = start_unix_backend(workdir, "uxpriv", path)
    name = "ux-priv"
    try:
        s = start_gw(workdir, name, [{
            "name": "app", "targets": [f"unix:{path}"],
            "health": {"path": "/healthz", "interval_ms": 100,
                       "timeout_ms": 500, "healthy": 1, "unhealthy": 1}}],
            top={"user": "nobody"})
    except Exception:
        b.stop()
        raise
    try:
        assert "running as user nobody" in s.output()
        # 502, or 503 once the health check has taken the only target out
        r = get("/priv/1")
        assert r.status in (502, 503), r
        assert r.json()["error"] in ("bad_gateway", "service_unavailable")
        assert f"upstream unix:{path} (service app): connect failed: " \
            "Permission denied" in s.output()
        h.wait_for(lambda: upstreams(workdir, name)["targets"][0]
                   ["last_check_error"] == "connect: Permission denied",
                   10, what="the check refused")
        # the documented layout: the directory's group is the daemon
        # user's primary group, setgid so that the socket gets it too, and
        # the app's umask 007 (gunicorn --umask 007) gives that group write
        # permission on the socket
        b.stop()
        os.chown(apps, 0, nobody.pw_gid)
        apps.chmod(0o2750)
        old_umask = os.umask(0o007)
        try:
            b = start_unix_backend(workdir, "uxpriv", path)
        finally:
            os.umask(old_umask)
        st = path.stat()
        assert (st.st_gid, st.st_mode & 0o777) == (nobody.pw_gid, 0o770)
        h.wait_for(lambda: upstreams(workdir, name)["targets"][0]
                   ["state"] == "healthy", 10, what="the check passing")
        assert get("/priv/2").status == 200
    finally:
        s.shutdown()
        b.stop()
        shutil.rmtree(top_dir, ignore_errors=True)
