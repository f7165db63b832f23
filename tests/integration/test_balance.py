"""Balancing with real backends: a backend killed under load, a backend
returning 500s ejected and back, health-check flaps, the circuit limit,
every target out, and watched config files (docs/OPERATIONS.md)."""
import json
import re
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

import helpers as h
import raw

GW = h.GW_PORT + 21
ADMIN = "127.0.0.1:9941"
PORTS = [9041, 9042, 9043]
LISTEN = [{"address": f"{h.SRV4}:{GW}"}]


def conn(**kw):
    return raw.Conn(port=GW, **kw)


def get(path, **kw):
    c = conn(**kw)
    try:
        c.send(raw.request("GET", path))
        return c.response()
    finally:
        c.close()


def backend_get(port, path):
    """A request straight to a backend (its /fail/on, /fail/off)."""
    c = raw.Conn(port=port)
    try:
        c.send(raw.request("GET", path))
        assert c.response().status == 200
    finally:
        c.close()


def metrics():
    r = h.run(["nsenter", f"--net=/run/netns/{h.SRV_NS}", "curl", "-sS",
               "--max-time", "5", f"http://{ADMIN}/metrics"], timeout=10)
    return r.stdout


def series(name, **labels):
    """Value of the series name{labels} (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in metrics().splitlines():
        m = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = ",".join(sorted((m.group(2) or "").split(",")))
        if got == want or (not labels and not m.group(2)):
            return float(m.group(3))
    return 0.0


def start_gw(workdir, name, services, workers=1, access_log=None):
    top = {"admin": {"address": ADMIN,
                     "socket": str(Path(workdir) / f"{name}-admin.sock")}}
    routes = [{"name": "all", "path_prefix": "/",
               "service": services[0]["name"]}]
    return raw.start(workdir, name, listeners=LISTEN, services=services,
                     routes=routes, top=top, access_log=access_log,
                     workers=workers)


def upstreams(workdir, name):
    r = h.run([h.SLUICECTL, "--socket", Path(workdir) / f"{name}-admin.sock",
               "--json", "upstreams"], timeout=20)
    return json.loads(r.stdout)["services"][0]


@pytest.fixture
def three(backends, workdir):
    """Three backends of our own (b1/b2 of the suite stay untouched)."""
    procs = [h.start_backend(f"bal{i}", [f"{h.SRV4}:{p}"], workdir)
             for i, p in enumerate(PORTS)]
    yield procs
    for p in procs:
        if p.alive():
            p.stop()


def targets(ports=PORTS):
    return [f"{h.SRV4}:{p}" for p in ports]


# ---- a backend killed during load ------------------------------------------

def test_backend_killed_under_load_no_client_error(three, workdir):
    """Bounded GET load over three backends; one is killed mid-load. Resets
    and refused connects are retried on another target, health checks and
    outlier detection take the dead one out: the client sees no error."""
    s = start_gw(workdir, "bal-kill", [{
        "name": "api", "targets": targets(), "lb": "least_request",
        "connect_timeout_ms": 1000,
        "health": {"path": "/healthz", "interval_ms": 200, "timeout_ms": 500,
                   "healthy": 1, "unhealthy": 1},
        "outlier": {"consecutive_connect_failures": 1,
                    "base_ejection_ms": 5000},
        "retries": {"attempts": 3, "budget_percent": 100}}],
        workers=2)
    stop = Path(workdir) / "bal-kill.stop"
    stop.unlink(missing_ok=True)
    load = subprocess.Popen(
        ["ip", "netns", "exec", h.CLI_NS, h.PY,
         Path(__file__).resolve().parent / "loadgen.py", "--src", h.ALLOWED4,
         "--host", h.SRV4, "--port", str(GW), "--threads", "4",
         "--stop-file", str(stop), "--max-seconds", "60",
         "--max-requests", "20000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    h.CLEANUP.procs[load.pid] = load
    try:
        victim = three[1]
        h.wait_for(lambda: len(h.backend_log(victim)) >= 50, 30,
                   what="load reaching the victim")
        victim.stop()           # SIGTERM: sockets reset, port refused
        n = len(h.backend_log(three[0])) + len(h.backend_log(three[2]))
        h.wait_for(lambda: len(h.backend_log(three[0])) +
                   len(h.backend_log(three[2])) >= n + 300, 30,
                   what="load going on after the kill")
    finally:
        stop.touch()
        out, _ = load.communicate(timeout=90)
        h.CLEANUP.procs.pop(load.pid, None)
    res = json.loads(out)
    assert res["failed"] == 0, res
    assert res["ok"] > 300, res
    ups = upstreams(workdir, "bal-kill")
    assert ups["targets"][1]["state"] in ("unhealthy", "ejected"), ups
    s.shutdown()


# ---- a backend returning 500s ----------------------------------------------

def test_5xx_backend_ejected_then_back_after_healing(three, workdir):
    log = Path(workdir) / "bal-5xx-access.log"
    s = start_gw(workdir, "bal-5xx", [{
        "name": "api", "targets": targets(PORTS[:2]),
        "outlier": {"consecutive_5xx": 3, "base_ejection_ms": 1000,
                    "max_ejected_percent": 50}}], access_log=str(log))
    try:
        sick = f"{h.SRV4}:{PORTS[0]}"
        backend_get(PORTS[0], "/fail/on")
        statuses = [get(f"/e/{i}").status for i in range(20)]
        # round robin: the sick one answers 500 three times, then is out
        assert statuses.count(500) == 3, statuses
        assert statuses[-10:] == [200] * 10, statuses
        assert "ejected for 1000 ms: consecutive 5xx" in s.output()
        assert series("sluice_upstream_ejections_total", service="api",
                      target=sick) == 1
        assert series("sluice_upstream_healthy", service="api",
                      target=sick) == 0
        assert upstreams(workdir, "bal-5xx")["targets"][0]["state"] == \
            "ejected"
        backend_get(PORTS[0], "/fail/off")
        # the ejection ends: the healed backend is chosen again
        h.wait_for(lambda: get("/back").json()["backend"] == "bal0", 10,
                   what="the healed backend chosen again")
        h.wait_for(lambda: "back in rotation after its ejection"
                   in s.output(), 5, what="the return logged")
        assert upstreams(workdir, "bal-5xx")["targets"][0]["reason"] == ""
        assert series("sluice_upstream_healthy", service="api",
                      target=sick) == 1
        e = h.access_log_entry(log, "/e/19")
        assert e["upstream_attempts"] == 1, e
    finally:
        s.shutdown()


# ---- consistent hashing --------------------------------------------------------

def test_hash_on_cookie_sticks_and_moves_only_the_lost_keys(three, workdir):
    s = start_gw(workdir, "bal-hash", [{
        "name": "api", "targets": targets(), "lb": "hash",
        "hash_on": "cookie:session",
        "outlier": {"consecutive_5xx": 1, "base_ejection_ms": 60000}}])
    try:
        def who(user, i=0):
            c = conn()
            try:
                c.send(raw.request("GET", f"/h/{user}/{i}", headers=[
                    ("Cookie", f"theme=dark; session={user}")]))
                r = c.response()
                return r.json()["backend"] if r.status == 200 else r.status
            finally:
                c.close()

        users = [f"u{k}" for k in range(30)]
        first = {u: who(u) for u in users}
        # the same key always lands on the same target (asked in another
        # order, so that a round robin could not pass)
        assert all(who(u, 1) == first[u] for u in reversed(users[:10]))
        assert len(set(first.values())) == 3, first
        # bal0 turns sick and is ejected on its first 500: its users move,
        # nobody else's does
        backend_get(PORTS[0], "/fail/on")
        lost = [u for u in users if first[u] == "bal0"]
        assert who(lost[0], 2) == 500
        after = {u: who(u, 3) for u in users}
        assert all(after[u] == first[u] for u in users if u not in lost), \
            (first, after)
        assert all(after[u] in ("bal1", "bal2") for u in lost), after
    finally:
        s.shutdown()


# ---- health checks -----------------------------------------------------------

def test_health_check_flap_logged_counted_and_shown(three, workdir):
    s = start_gw(workdir, "bal-hc", [{
        "name": "api", "targets": targets(PORTS[:2]),
        "health": {"path": "/healthz", "interval_ms": 100, "timeout_ms": 500,
                   "healthy": 2, "unhealthy": 2, "expect": ["200-299"]}}])
    try:
        flappy = f"{h.SRV4}:{PORTS[0]}"
        backend_get(PORTS[0], "/fail/on")
        h.wait_for(lambda: "unhealthy after 2 failed checks: status 500"
                   in s.output(), 10, what="the flap logged")
        # out of rotation: every request goes to the other one
        assert {get(f"/hc/{i}").json()["backend"] for i in range(6)} == \
            {"bal1"}
        t = upstreams(workdir, "bal-hc")["targets"][0]
        assert (t["state"], t["reason"], t["last_check_error"]) == (
            "unhealthy", "health_check", "status 500"), t
        assert re.match(r"\d{4}-\d\d-\d\dT", t["last_change"]), t
        assert series("sluice_upstream_health_changes_total", service="api",
                      target=flappy) == 1
        backend_get(PORTS[0], "/fail/off")
        h.wait_for(lambda: "healthy again after 2 passing checks"
                   in s.output(), 10, what="the recovery logged")
        assert series("sluice_upstream_health_changes_total", service="api",
                      target=flappy) == 2
        assert "bal0" in {get(f"/hc2/{i}").json()["backend"]
                          for i in range(4)}
    finally:
        s.shutdown()


def test_every_target_out_panics_then_503_names_the_service(workdir,
                                                             backends):
    dead = [f"{h.SRV4}:{h.DEAD_PORT}", f"{h.SRV4}:{h.DEAD_PORT + 30}"]
    s = start_gw(workdir, "bal-dead", [{
        "name": "gone", "targets": dead, "connect_timeout_ms": 500,
        "health": {"interval_ms": 100, "timeout_ms": 300, "unhealthy": 1}}])
    try:
        h.wait_for(lambda: s.output().count("unhealthy after 1 failed") >= 2,
                   10, what="both targets out")
        r = get("/x")
        assert r.status == 503, r
        assert r.json()["service"] == "gone", r
        assert r.json()["error"] == "service_unavailable", r
        assert series("sluice_upstream_panic_total", service="gone") >= 1
        assert series("sluice_upstream_unavailable_total",
                      service="gone") == 1
    finally:
        s.shutdown()


# ---- circuit limit -----------------------------------------------------------

def test_circuit_limit_503_retry_after_then_recovers(three, workdir):
    s = start_gw(workdir, "bal-limit", [{
        "name": "api", "targets": targets(PORTS[:1]),
        "limits": {"max_connections": 2}}])
    try:
        slow = [conn(), conn()]
        for i, c in enumerate(slow):
            c.send(raw.request("GET", f"/sleep/1500?{i}"))
        h.wait_for(lambda: len(raw.backend_entries(three[0], "/sleep/"))
                   >= 2, 10, what="two requests in flight")
        r = get("/over")
        assert r.status == 503, r
        assert r.header("retry-after") == "1", r
        assert r.json()["service"] == "api", r
        assert "connection limit" in r.json()["message"], r
        for c in slow:
            assert c.response().status == 200
            c.close()
        assert get("/after").status == 200
        assert series("sluice_upstream_overflow_total", service="api") == 1
    finally:
        s.shutdown()


# ---- watched files -------------------------------------------------------------

def test_allowlist_edit_applies_without_a_signal(sluiced_factory, workdir):
    s = sluiced_factory("bal-watch", extra="watch_files: true\n")
    sock = h.admin_socket_path(workdir, "bal-watch")
    al = Path(workdir) / "bal-watch-allowlist.txt"

    def entries():
        r = h.run([h.SLUICECTL, "--socket", sock, "--json", "allow", "list"],
                  timeout=20)
        return {e["cidr"] for e in json.loads(r.stdout)["entries"]}

    assert h.connect(h.BLOCKED4, h.SRV4, h.GW_PORT)["result"] == "timeout"
    al.write_text(al.read_text() + f"{h.BLOCKED4}/32\n")
    h.wait_for(lambda: f"{h.BLOCKED4}/32" in entries(), 10,
               what="the edited allowlist applied")
    h.wait_for(lambda: "reload: configuration applied" in s.output(), 10,
               what="the reload logged")
    assert h.one(h.http(h.BLOCKED4, h.SRV4, path="/w"))["status"] == 200
    # an edit that does not parse is logged and ignored
    good = al.read_text()
    al.write_text(good + "not-a-cidr\n")
    h.wait_for(lambda: "invalid configuration, keeping the running one"
               in s.output(), 10, what="the bad edit refused")
    assert f"{h.BLOCKED4}/32" in entries()
    assert h.one(h.http(h.ALLOWED4, h.SRV4, path="/w2"))["status"] == 200


# ---- a target that accepts and never answers ---------------------------------

def silent_target(port):
    """A listening socket in the server namespace that nobody accepts from:
    the kernel completes handshakes and takes the bytes, nothing answers."""
    s = raw.sockets_in(h.SRV_NS, 1, socket.AF_INET)[0]
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((h.SRV4, port))
    s.listen(64)
    return s


def heard_by(s, n_max=16):
    """Request lines that reached the silent target (accepting now)."""
    s.settimeout(0.5)
    lines = []
    for _ in range(n_max):
        try:
            c, _ = s.accept()
        except socket.timeout:
            break
        c.settimeout(2)
        try:
            data = c.recv(65536)
        except socket.timeout:
            data = b""
        finally:
            c.close()
        if data:
            lines.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
    return lines


@pytest.mark.parametrize("per_try", [300, 0], ids=["per-try", "no-per-try"])
def test_per_try_timeout_moves_on_from_a_silent_target(three, workdir,
                                                       per_try):
    """Round robin over a target that never answers and a good one. With
    retries.per_try_timeout_ms, a GET that lands on the silent target is
    sent to the good one when its try runs out, and the client gets the
    good one's answer; a POST with a body is not sent again and gets a
    504 naming the per-try timeout. Without it, the silent target's GETs
    wait for the response timeout and get its 504."""
    hole_port = PORTS[0] + 8
    hole = silent_target(hole_port)
    name = f"bal-pertry-{per_try}"
    retries = {"attempts": 2, "budget_percent": 100}
    if per_try:
        retries["per_try_timeout_ms"] = per_try
    s = raw.start(workdir, name, listeners=LISTEN, services=[{
        "name": "api", "targets": [f"{h.SRV4}:{hole_port}",
                                   f"{h.SRV4}:{PORTS[0]}"],
        "lb": "round_robin", "connect_timeout_ms": 1000,
        "retries": retries}],
        routes=[{"name": "all", "path_prefix": "/", "service": "api"}],
        http={"response_timeout_ms": 2500})
    try:
        gets = [raw.uniq("pt-get") for _ in range(4)]
        got = dict(zip(gets, (get(p) for p in gets)))
        posts = [raw.uniq("pt-post") for _ in range(4)]
        answers = {}
        for p in posts:
            c = conn()
            try:
                c.send(raw.request("POST", p, body=b"x" * 1000))
                answers[p] = c.response()
            finally:
                c.close()
        good = [e["target"] for e in h.backend_log(three[0])]
        heard = [line.split()[1] for line in heard_by(hole)]
        # round robin sent some of each kind to the silent target
        assert any(p in heard for p in gets), (heard, good)
        assert any(p in heard for p in posts), (heard, good)
        for p, r in got.items():
            if per_try:
                # tried on the silent target, then answered by the good one
                assert r.status == 200, (p, r)
            elif p in heard:
                assert r.status == 504, (p, r)
                assert r.json()["message"] == \
                    "the upstream did not respond in time", r
            else:
                assert r.status == 200, (p, r)
            assert (r.status == 200) == (p in good), (p, r, good)
            assert good.count(p) <= 1, good
        for p, r in answers.items():
            # a request with a body is never sent again
            if p in heard:
                assert r.status == 504 and p not in good, (p, r, good)
                assert r.json()["error"] == "gateway_timeout", r
                if per_try:
                    assert "per-try timeout" in r.json()["message"], r
            else:
                assert r.status == 200 and good.count(p) == 1, (p, r)
        if per_try:
            assert "per_try_timeout_ms" in s.output()
    finally:
        hole.close()
        s.shutdown()


def test_per_try_timeout_waits_for_a_slow_upload(three, workdir):
    """The try's clock runs while the gateway waits for the upstream, not
    while the client is still sending its body: an upload slower than
    per_try_timeout_ms reaches the backend whole and is answered."""
    s = raw.start(workdir, "bal-pertry-upload", listeners=LISTEN, services=[{
        "name": "api", "targets": [f"{h.SRV4}:{PORTS[0]}"],
        "retries": {"attempts": 2, "budget_percent": 100,
                    "per_try_timeout_ms": 200}}],
        routes=[{"name": "all", "path_prefix": "/", "service": "api"}])
    try:
        p = raw.uniq("pt-upload")
        parts = [b"a" * 500, b"b" * 500, b"c" * 500]
        c = conn()
        try:
            c.send(raw.request("POST", p, headers=[
                ("Content-Length", str(sum(map(len, parts))))]))
            for part in parts:
                time.sleep(0.5)
                c.send(part)
            r = c.response()
        finally:
            c.close()
        assert r.status == 200, r
        [e] = raw.backend_entries(three[0], p)
        assert e["body_bytes"] == 1500, e
    finally:
        s.shutdown()


# ---- a target that resets while the request head is still being sent ------

def test_reset_while_sending_the_head_goes_to_another_target(three, workdir):
    """Round robin over a trap and a good target. The trap takes the
    connection with a tiny receive buffer, never reads, closes its side
    (FIN) and then resets it: a request head far larger than what the
    sockets hold is still being sent when the reset comes, so the write
    fails part way (a backend exiting under load does this). A GET has no body:
    it goes whole to the good target, and the client gets its answer. A
    POST with a body is not sent again: 502."""
    trap_port = PORTS[0] + 9
    # across the veth (MTU 1500), not the server namespace's loopback:
    # there, the gateway's socket would take the whole head at once
    trap = raw.sockets_in(h.CLI_NS, 1, socket.AF_INET)[0]
    trap.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted sockets take the listener's buffer size: a window of a
    # few KiB that never opens
    trap.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    trap.bind((h.ALLOWED4, trap_port))
    trap.listen(64)
    taken = []
    done = threading.Event()

    def reset_each():
        trap.settimeout(0.2)
        while not done.is_set():
            try:
                c, _ = trap.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            time.sleep(0.2)         # the gateway's head write stalls
            # which request came here: its request line, peeked (reading
            # it would open the window)
            try:
                c.settimeout(1)
                line = c.recv(200, socket.MSG_PEEK).split(b"\r\n")[0]
                taken.append(line.split(b" ")[1].decode())
            except (OSError, IndexError):
                taken.append(None)
            c.shutdown(socket.SHUT_WR)  # FIN: the gateway reads EOF
            time.sleep(0.2)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
            c.close()               # RST: the stalled write fails
    t = threading.Thread(target=reset_each, daemon=True)
    t.start()
    s = raw.start(workdir, "bal-head-reset", listeners=LISTEN, services=[{
        "name": "api", "targets": [f"{h.ALLOWED4}:{trap_port}",
                                   f"{h.SRV4}:{PORTS[0]}"],
        "lb": "round_robin", "connect_timeout_ms": 1000,
        "retries": {"attempts": 2, "budget_percent": 100}}],
        routes=[{"name": "all", "path_prefix": "/", "service": "api"}],
        http={"max_header_bytes": 262144, "response_timeout_ms": 5000})
    try:
        # 60 fields of 4000 bytes: 240 KB of head, far more than the
        # gateway's socket buffer and the trap's window hold
        big = [(f"X-Filler-{i}", chr(ord("a") + i % 26) * 4000)
               for i in range(60)]
        answers = {}
        for kind in ("GET", "GET", "GET", "GET", "POST", "POST"):
            p = raw.uniq(f"hr-{kind.lower()}")
            c = conn(timeout=10)
            try:
                c.send(raw.request(kind, p, headers=big,
                                   body=b"y" * 100 if kind == "POST"
                                   else b""))
                r = c.response()
                answers[p] = (kind, r)
                if r.status == 200:
                    # the client's connection stayed in step: it carries
                    # the next request
                    assert r.header("Connection") == "keep-alive", r
                    c.send(raw.request("GET", p + "-next"))
                    assert c.response().status == 200
            finally:
                c.close()
        log = h.backend_log(three[0])
        good = {e["target"]: e for e in log}
        times = {p: sum(e["target"] == p for e in log) for p in answers}
        # round robin: half of the attempts went to the trap first, a
        # POST among them
        assert len(taken) >= 3, taken
        assert any(answers.get(p, ("",))[0] == "POST" for p in taken), \
            (taken, answers)
        for p, (kind, r) in answers.items():
            # retried or not, the good target got each request once
            assert times[p] <= 1, (p, times[p])
            if p in taken and kind == "POST":
                # its head write failed on the trap: never sent again
                assert p not in good, p
                assert r.status == 502, (p, r)
            if kind == "GET":
                assert r.status == 200, (p, r)
                assert times[p] == 1, (p, times[p])
                e = good[p]
                # the good target got the head whole, every field intact
                fields = {k: v for k, v in e["header_list"]
                          if k.lower().startswith("x-filler-")}
                assert len(fields) == 60, sorted(fields)
                assert all(v == chr(ord("a") + int(k.rsplit("-", 1)[1])
                                    % 26) * 4000
                           for k, v in fields.items()), "field mangled"
            elif p in good:
                assert r.status == 200, (p, r)
            else:
                # tried on the trap: a body is never sent twice
                assert r.status == 502, (p, r)
                assert r.json()["error"] == "bad_gateway", r
    finally:
        done.set()
        trap.close()
        t.join(timeout=5)
        s.shutdown()
