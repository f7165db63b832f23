"""Operations: admin API, sluicectl, reload, sd_notify, privileges.

The admin socket of each sluiced is private to the test (write_config puts
it in the workdir), so suites running at the same time do not meet.
"""
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import helpers as h
import raw


def ctl(sock, *args, check=None, timeout=40):
    """Run sluicectl against sock; returns CompletedProcess."""
    r = h.run([h.SLUICECTL, "--socket", sock, *args], timeout=timeout,
              check=False)
    if check is not None:
        assert r.returncode == check, (
            f"sluicectl {' '.join(map(str, args))}: exit {r.returncode}, "
            f"want {check}\nstdout: {r.stdout}\nstderr: {r.stderr}")
    return r


def ctl_json(sock, *args):
    r = ctl(sock, "--json", *args, check=0)
    return json.loads(r.stdout)


def sock_of(workdir, tag):
    return h.admin_socket_path(workdir, tag)


def admin_curl(*args):
    """curl to the admin TCP listener (127.0.0.1:9900 in the server netns)."""
    r = h.run(["nsenter", f"--net=/run/netns/{h.SRV_NS}", "curl", "-sS",
               "--max-time", "5", "-o", "-", "-w", "\n%{http_code}", *args],
              timeout=15, check=False)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body


# ---- admin socket, TCP listener, permissions -------------------------------

def test_admin_socket_mode_and_non_root_refused(sluiced_factory, workdir):
    sluiced_factory("ops-perm")
    sock = sock_of(workdir, "ops-perm")
    st = os.stat(sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == 0
    # root: fine
    assert ctl_json(sock, "status")["config"]["generation"] == 1
    # nobody: refused by the socket's mode (connect gets EACCES)
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv not installed (util-linux)")
    # the workdir is 0700: give nobody a path it may traverse
    pub = Path(f"/tmp/sluice-i6-perm-{os.getpid()}")
    pub.mkdir(mode=0o755, exist_ok=True)
    link = pub / "admin.sock"
    try:
        os.chmod(workdir, 0o711)
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(sock)
        r = h.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                   "--clear-groups", h.SLUICECTL, "--socket", link, "reload"],
                  check=False, timeout=15)
        assert r.returncode == 4, (r.returncode, r.stdout, r.stderr)
        assert "permission denied" in r.stderr
        # and the reload did not happen
        assert ctl_json(sock, "status")["reloads"] == 0
    finally:
        os.chmod(workdir, 0o700)
        shutil.rmtree(pub, ignore_errors=True)


def test_admin_tcp_is_read_only(sluiced_factory, workdir):
    sluiced_factory("ops-tcp")
    code, body = admin_curl("http://127.0.0.1:9900/status")
    assert code == 200
    assert json.loads(body)["config"]["generation"] == 1
    code, body = admin_curl("-X", "POST", "http://127.0.0.1:9900/reload")
    assert code == 403
    assert json.loads(body) == {
        "error": "forbidden", "status": 403,
        "message": "POST /reload is accepted only on the admin Unix socket"}
    code, body = admin_curl("-X", "POST", "-d", f"cidr={h.BLOCKED4}",
                            "http://127.0.0.1:9900/allow/add")
    assert code == 403
    code, body = admin_curl("http://127.0.0.1:9900/nope")
    assert code == 404
    assert json.loads(body)["error"] == "not_found"


ADMIN_TCP_SLOTS = 32     # ADMIN_MAX_TCP_CONNS (daemon/control/admin.h)


def _peek_state(s):
    """'open' (nothing received, not closed), 'closed' (EOF, nothing
    received) or the bytes the server sent."""
    t = s.gettimeout()
    s.setblocking(False)        # (with a timeout set, Python waits first)
    try:
        b = s.recv(4096, socket.MSG_PEEK)
    except BlockingIOError:
        return "open"
    except ConnectionResetError:
        return "closed"
    finally:
        s.settimeout(t)
    return b if b else "closed"


def test_admin_unix_socket_served_while_tcp_slots_are_full(sluiced_factory,
                                                           workdir):
    """Idle clients of the admin TCP listener hold at most its own slots:
    the Unix socket (sluicectl) is answered at once while they are held,
    TCP clients beyond the cap get a 503 with a JSON error at once, and idle
    ones are closed after the admin I/O timeout."""
    sluiced_factory("ops-slots")
    sock = sock_of(workdir, "ops-slots")
    extra = 8
    conns = raw.sockets_in(h.SRV_NS, ADMIN_TCP_SLOTS + extra)
    try:
        for c in conns:
            c.settimeout(5)
            c.connect(("127.0.0.1", 9900))
        # sluicectl answers while every TCP slot is held: its own timeout
        # is 30 s, the run's 5 s (the idle clients time out after 5 s)
        try:
            r = h.run([h.SLUICECTL, "--socket", sock, "--json", "status"],
                      timeout=5, check=False)
        except subprocess.TimeoutExpired:
            pytest.fail("sluicectl status got no answer in 5 s while idle "
                        "clients held the admin TCP listener")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["config"]["generation"] == 1
        states = [_peek_state(c) for c in conns]
        # answered before any held client was let go
        assert "closed" not in states, states
        # the clients beyond the cap were refused at once, with a reason
        h.wait_for(lambda: sum(_peek_state(c) not in ("open", "closed")
                               for c in conns) == extra, 5,
                   what=f"{extra} connections refused")
        states = [_peek_state(c) for c in conns]
        assert states.count("open") == ADMIN_TCP_SLOTS, states
        refused = [c for c, st in zip(conns, states) if st != "open"]
        for c in refused:
            data = b""
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 503 "), data
            assert b"\r\nRetry-After: 1\r\n" in head, data
            assert json.loads(body) == {
                "error": "too_many_connections", "status": 503,
                "message": "the admin TCP listener serves at most "
                           f"{ADMIN_TCP_SLOTS} connections at a time; "
                           "try again"}
        # the idle ones time out (admin I/O timeout, 5 s) ...
        held = [c for c, st in zip(conns, states) if st == "open"]
        h.wait_for(lambda: all(_peek_state(c) == "closed" for c in held), 20,
                   what="idle admin TCP clients closed by the server")
        # ... and new TCP clients are served again
        code, body = admin_curl("http://127.0.0.1:9900/metrics")
        assert code == 200 and "sluice_" in body
    finally:
        for c in conns:
            c.close()


# ---- sluicectl output formats and exit codes -------------------------------

def test_sluicectl_tables_and_json(sluiced_factory, workdir):
    sluiced_factory("ops-fmt", routes=[("api", "/api/"), ("all", "/")])
    sock = sock_of(workdir, "ops-fmt")

    st = ctl_json(sock, "status")
    assert st["version"]
    assert st["xdp"]["attached"] is True
    assert st["allowlist"] == {"v4": 1, "v6": 1}
    assert set(st["counters"]) == set(h.REASONS)
    assert [l["address"] for l in st["listeners"]] == [
        f"{h.SRV4}:{h.GW_PORT}", f"[{h.SRV6}]:{h.GW_PORT}"]
    text = ctl(sock, "status", check=0).stdout
    assert "config:" in text and "generation 1" in text
    assert re.search(r"^REASON\s+PACKETS\s+BYTES$", text, re.M), text
    assert re.search(r"^drop_not_allowed\s+\d+\s+\d+$", text, re.M), text

    routes = ctl_json(sock, "routes")["routes"]
    assert [(r["name"], r["path_prefix"], r["service"]) for r in routes] == [
        ("api", "/api/", "echo"), ("all", "/", "echo")]
    lines = ctl(sock, "routes", check=0).stdout.splitlines()
    assert lines[0].split() == ["NAME", "HOST", "PATH_PREFIX", "METHODS",
                                "SERVICE"]
    assert lines[1].split() == ["api", "*", "/api/", "any", "echo"]
    # aligned: every column starts at the same offset in every line
    col = lines[0].index("PATH_PREFIX")
    assert all(l[col - 2:col] == "  " and l[col] != " " for l in lines[1:])

    ups = ctl_json(sock, "upstreams")["services"]
    assert ups[0]["name"] == "echo" and ups[0]["balancing"] == "round_robin"
    t = ups[0]["targets"][0]
    assert (t["address"], t["weight"], t["state"], t["health"]) == (
        f"{h.SRV4}:{h.B1_PORT}", 1, "healthy", "unknown"), t
    lines = ctl(sock, "upstreams", check=0).stdout.splitlines()
    assert lines[0].split() == ["SERVICE", "TARGET", "WEIGHT", "LB", "STATE",
                                "LAST_CHANGE", "REASON", "LAST_ATTEMPT",
                                "FROM"]
    assert lines[1].split() == ["echo", f"{h.SRV4}:{h.B1_PORT}", "1",
                                "round_robin", "healthy", "-", "-",
                                "unknown", "-"]
    # passive health: the most recent attempt decides
    assert h.one(h.http(h.ALLOWED4, h.SRV4, path="/api/x"))["status"] == 200
    ups = ctl_json(sock, "upstreams")["services"]
    assert ups[0]["targets"][0]["health"] == "up", ups
    assert ctl(sock, "upstreams", check=0).stdout.splitlines()[1].split()[7] \
        == "up"

    # exit codes
    r = ctl(sock, "frobnicate", check=1)
    assert "unknown command 'frobnicate'" in r.stderr
    r = ctl(sock, "allow", "add", check=1)
    assert "missing CIDR" in r.stderr
    # checked before anything is sent, with the allowlist parser's words
    r = ctl(sock, "allow", "add", "10.0.0.1/8", check=1)
    assert "host bits set" in r.stderr
    r = ctl(sock, "allow", "del", "198.18.0.77/32", check=3)
    assert "198.18.0.77/32 is not in the allowlist" in r.stderr
    r = ctl(workdir / "no-such.sock", "routes", check=2)
    assert "not running" in r.stderr
    for cmd in ("status", "routes", "allow", "reload", "ban", "top"):
        r = ctl(sock, cmd, "--help", check=0)
        assert r.stdout.startswith("usage: sluicectl"), r.stdout
    assert "exit status" in ctl(sock, "--help", check=0).stdout


# ---- live edits are runtime-only --------------------------------------------

def test_live_allow_edits_are_runtime_only(sluiced_factory, workdir):
    s = sluiced_factory("ops-live")
    sock = sock_of(workdir, "ops-live")
    al = workdir / "ops-live-allowlist.txt"
    before = al.read_text()

    assert h.connect(h.BLOCKED4, h.SRV4, h.GW_PORT)["result"] == "timeout"
    r = ctl(sock, "allow", "add", f"{h.BLOCKED4}/32", check=0)
    assert "runtime only" in r.stdout
    assert h.one(h.http(h.BLOCKED4, h.SRV4, path="/live"))["status"] == 200
    entries = {e["cidr"]: e["source"]
               for e in ctl_json(sock, "allow", "list")["entries"]}
    assert entries[f"{h.BLOCKED4}/32"] == "runtime"
    assert entries[f"{h.ALLOWED4}/32"] == "file"
    # adding it twice is an error
    ctl(sock, "allow", "add", f"{h.BLOCKED4}/32", check=3)
    # a runtime delete of a file entry
    ctl(sock, "allow", "del", f"{h.ALLOWED6}/128", check=0)
    assert h.connect(h.ALLOWED6, h.SRV6, h.GW_PORT)["result"] == "timeout"
    # nothing was written back
    assert al.read_text() == before
    assert s.config.read_text().count(h.BLOCKED4) == 0

    # a reload re-syncs from the files: the runtime add is gone, the runtime
    # delete is undone
    ctl(sock, "reload", check=0)
    entries = ctl_json(sock, "allow", "list")["entries"]
    assert {e["cidr"] for e in entries} == {f"{h.ALLOWED4}/32",
                                             f"{h.ALLOWED6}/128"}
    assert h.connect(h.BLOCKED4, h.SRV4, h.GW_PORT)["result"] == "timeout"
    assert h.one(h.http(h.ALLOWED6, h.SRV6, path="/back"))["status"] == 200


def test_live_deny_bans_and_top_over_the_socket(sluiced_factory, workdir):
    """deny/ban/unban/bans/top through the admin socket; --pin-path sees the
    same maps through the same handlers; bans survive a reload, deny edits
    do not; bans are logged and counted."""
    s = sluiced_factory("ops-deny", xdp_extra=["  drop_sample: 1"])
    sock = sock_of(workdir, "ops-deny")
    pins = ["--pin-path", str(h.PIN_ROOT)]
    a4 = f"{h.ALLOWED4}/32"

    assert h.connect(h.ALLOWED4, h.SRV4, h.GW_PORT)["result"] == "connected"
    r = ctl(sock, "deny", "add", h.ALLOWED4, check=0)
    assert r.stdout.strip() == (
        f"added {a4} to the denylist (runtime only: the next reload re-syncs "
        "it from the files)"), r.stdout
    assert h.connect(h.ALLOWED4, h.SRV4, h.GW_PORT)["result"] == "timeout"
    assert ctl_json(sock, "deny", "list")["entries"] == [
        {"cidr": a4, "source": "runtime"}]
    assert json.loads(ctl(sock, *pins, "--json", "deny", "list",
                          check=0).stdout)["entries"] == [
        {"cidr": a4, "source": "runtime"}]
    lines = ctl(sock, "deny", "list", check=0).stdout.splitlines()
    assert lines[0].split() == ["CIDR", "SOURCE"]
    assert lines[1].split() == [a4, "runtime"]
    ctl(sock, "reload", check=0)            # deny edits are runtime only
    assert ctl_json(sock, "deny", "list")["entries"] == []
    assert h.connect(h.ALLOWED4, h.SRV4, h.GW_PORT)["result"] == "connected"
    r = ctl(sock, "deny", "del", a4, check=3)
    assert f"{a4} is not in the denylist" in r.stderr

    # a ban through the socket: listed both ways, survives a reload
    r = ctl(sock, "ban", h.ALLOWED4, "--for", "1h", check=0)
    assert r.stdout.strip() == f"banned {a4} for 1h00m (bans survive reloads)"
    assert f"admin: banned {a4} in XDP for 3600 s (operator)" in s.output()
    ctl(sock, "reload", check=0)
    assert h.connect(h.ALLOWED4, h.SRV4, h.GW_PORT)["result"] == "timeout"
    for where in ([], pins):
        bans = json.loads(ctl(sock, *where, "--json", "bans", check=0)
                          .stdout)["bans"]
        assert [(b["cidr"], b["by"]) for b in bans] == [(a4, "operator")]
        assert 3500 < bans[0]["expires_in_s"] <= 3600, bans
    lines = ctl(sock, "bans", check=0).stdout.splitlines()
    assert lines[0].split() == ["CIDR", "EXPIRES_IN", "BY"]
    assert lines[1].split()[0] == a4 and lines[1].split()[2] == "operator"
    code, body = admin_curl("http://127.0.0.1:9900/metrics")
    assert code == 200
    assert 'sluice_xdp_bans_total{by="operator"} 1\n' in body
    assert "\nsluice_xdp_active_bans 1\n" in body

    # top: the banned source's dropped SYNs are sampled 1:1
    def knock():
        time.sleep(0.5)
        for _ in range(3):
            h.connect(h.ALLOWED4, h.SRV4, h.GW_PORT, 1)
    knocker = threading.Thread(target=knock)
    knocker.start()
    top = json.loads(ctl(sock, "--json", "top", "--seconds", "3", check=0)
                     .stdout)
    knocker.join(timeout=30)
    talkers = {t["source"]: t for t in top["talkers"]}
    assert top["sample_every"] == 1, top
    assert talkers[h.ALLOWED4]["reasons"].get("drop_banned", 0) >= 1, top
    # the sampler answers at once, on the read-only TCP listener too
    t0 = time.monotonic()
    code, body = admin_curl("http://127.0.0.1:9900/top?seconds=10")
    assert code == 200, body
    assert time.monotonic() - t0 < 2
    tcp = {t["source"]: t for t in json.loads(body)["talkers"]}
    assert tcp[h.ALLOWED4]["reasons"].get("drop_banned", 0) >= 1, body
    assert tcp[h.ALLOWED4]["reason"] == "drop_banned", body
    ctl(sock, "top", "--seconds", "11", check=1)

    r = ctl(sock, "unban", h.ALLOWED4, check=0)
    assert r.stdout.strip() == f"unbanned {a4}"
    assert h.connect(h.ALLOWED4, h.SRV4, h.GW_PORT)["result"] == "connected"
    r = ctl(sock, *pins, "unban", h.ALLOWED4, check=3)
    assert f"{a4} is not banned" in r.stderr


# ---- reload -----------------------------------------------------------------

def test_sluicectl_reload_good_and_bad(sluiced_factory, workdir):
    s = sluiced_factory("ops-reload")
    sock = sock_of(workdir, "ops-reload")
    cfg = s.config
    good = cfg.read_text()

    r = ctl(sock, "reload", check=0)
    assert r.stdout.strip() == "reloaded: configuration generation 2"

    lines = good.splitlines()
    bad_line = len(lines) + 1
    cfg.write_text(good + "wrokers: 2\n")
    r = ctl(sock, "reload", check=3)
    want = f"{cfg}:{bad_line}:1: unknown key 'wrokers' (did you mean 'workers'?)"
    assert r.stderr.splitlines() == [
        "sluicectl: reload refused: the configuration was refused; the running one is kept",
        f"  {want}"], r.stderr
    j = json.loads(ctl(sock, "--json", "reload", check=3).stdout)
    assert j["error"] == "invalid_config" and j["status"] == 422
    assert j["errors"] == [want]
    # logged with its location, still serving, counted
    h.wait_for(lambda: f"error reload: {want}" in s.output(), 5,
               what="the refused reload logged")
    assert h.one(h.http(h.ALLOWED4, h.SRV4, path="/still"))["status"] == 200
    st = ctl_json(sock, "status")
    assert (st["reloads"], st["reload_failures"]) == (1, 2)
    assert st["config"]["generation"] == 2
    conf = ctl_json(sock, "config")
    assert conf["last_reload"]["ok"] is False
    assert conf["last_reload"]["errors"] == [want]

    # a bad allowlist file is refused the same way
    cfg.write_text(good)
    al = workdir / "ops-reload-allowlist.txt"
    al.write_text(al.read_text() + "10.0.0.1/8\n")
    r = ctl(sock, "reload", check=3)
    assert f"{al}:4: host bits set (did you mean 10.0.0.0/8?): '10.0.0.1/8'" \
        in r.stderr, r.stderr
    # SIGHUP failures are counted too
    s.p.send_signal(signal.SIGHUP)
    h.wait_for(lambda: ctl_json(sock, "status")["reload_failures"] == 4, 10,
               what="SIGHUP failure counted")
    assert ctl_json(sock, "config")["last_reload"]["origin"] == "SIGHUP"


def test_reload_of_start_only_settings_warns(sluiced_factory, workdir):
    """Buffer pools and the connection limit are set up at start: a reload
    that changes them is taken (everything else in it applies) and says
    that those need a restart."""
    s = sluiced_factory("ops-startonly")
    sock = sock_of(workdir, "ops-startonly")
    cfg = s.config
    good = cfg.read_text()
    warn = ("reload: http.max_connections, receive_buffers or "
            "upstream_buffers changed; restart sluiced to apply")

    cfg.write_text(good + "http:\n  receive_buffers: 1024\n")
    r = ctl(sock, "reload", check=0)
    assert r.stdout.strip() == "reloaded: configuration generation 2"
    h.wait_for(lambda: warn in s.output(), 5, what="the restart warning")
    assert h.one(h.http(h.ALLOWED4, h.SRV4, path="/after"))["status"] == 200

    # a reload that leaves them alone says nothing of the kind
    n = s.output().count(warn)
    cfg.write_text(good + "http:\n  receive_buffers: 1024\n"
                   "  header_timeout_ms: 5000\n")
    ctl(sock, "reload", check=0)
    assert s.output().count(warn) == n
    # and a pool that is no power of two is refused with its place
    cfg.write_text(good + "http:\n  upstream_buffers: 100\n")
    r = ctl(sock, "reload", check=3)
    line = len(good.splitlines()) + 2
    assert (f"{cfg}:{line}:21: http.upstream_buffers: must be a power of "
            "two (16, 32, 64, ...), got 100") in r.stderr, r.stderr


@pytest.mark.timeout(300)
def test_zero_failed_requests_across_50_reloads(sluiced_factory, workdir,
                                               backends):
    s = sluiced_factory("ops-load", routes=[("all", "/")])
    sock = sock_of(workdir, "ops-load")
    cfg = s.config
    al = workdir / "ops-load-allowlist.txt"
    base_cfg, base_al = cfg.read_text(), al.read_text()
    # two real variants: the allowlist gains/loses entries and the route set
    # changes, so every reload syncs maps and swaps a different snapshot
    variants = [
        (base_cfg, base_al + "198.18.0.50/32\n"),
        (base_cfg.replace("  - name: all\n",
                          "  - name: load\n    path_prefix: /load/\n"
                          "    service: echo\n  - name: all\n"),
         base_al + "198.18.0.51/32\nfd00:5c::51/128\n"),
    ]
    stop = workdir / "ops-load.stop"
    stop.unlink(missing_ok=True)
    assert variants[1][0] != base_cfg
    load = subprocess.Popen(
        ["ip", "netns", "exec", h.CLI_NS, h.PY,
         Path(__file__).resolve().parent / "loadgen.py", "--src", h.ALLOWED4,
         "--host", h.SRV4, "--port", str(h.GW_PORT), "--threads", "4",
         "--stop-file", str(stop), "--max-seconds", "200"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    h.CLEANUP.procs[load.pid] = load
    try:
        # load is flowing before the first reload
        h.wait_for(lambda: any("/load/" in str(l.get("target", ""))
                               for l in h.backend_log(backends["b1"])), 20,
                   what="load reaching the backend")
        gens = []
        for i in range(50):
            c, a = variants[i % 2]
            al.write_text(a)
            cfg.write_text(c)
            r = ctl(sock, "reload", check=0)
            gens.append(int(r.stdout.split()[-1]))
        assert gens == list(range(2, 52))
        assert load.poll() is None, "load generator ended before the reloads did"
    finally:
        stop.touch()
        out, err = load.communicate(timeout=60)
        h.CLEANUP.procs.pop(load.pid, None)
    res = json.loads(out)
    assert res["stopped_by"] == "file", res
    assert res["failed"] == 0, res["errors"]
    assert res["ok"] > 0
    st = ctl_json(sock, "status")
    assert (st["reloads"], st["reload_failures"]) == (50, 0)
    assert st["allowlist"] == {"v4": 2, "v6": 2}   # variant 1: +1 v4, +1 v6
    s.check_sanitizers()


# ---- sd_notify ----------------------------------------------------------------

def test_sd_notify_ready_reloading_stopping(backends, workdir):
    cfg = h.write_config(workdir, "ops-notify")
    path = workdir / "notify.sock"
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(str(path))
    ns.settimeout(20)
    h.CLEANUP.pins.append(str(h.PIN_ROOT))
    env = h.sanitizer_env()
    env["NOTIFY_SOCKET"] = str(path)
    s = h.Proc("ops-notify", ["nsenter", f"--net=/run/netns/{h.SRV_NS}",
                              h.SLUICED, "-c", cfg], workdir, env=env)
    try:
        msg = ns.recv(4096).decode()
        assert "READY=1" in msg.splitlines()
        assert f"MAINPID={s.pid}" in msg.splitlines() or "MAINPID=" in msg
        assert "sluiced ready" in s.output()
        s.p.send_signal(signal.SIGHUP)
        assert ns.recv(4096).decode().splitlines()[0] == "RELOADING=1"
        assert "READY=1" in ns.recv(4096).decode().splitlines()
        s.p.send_signal(signal.SIGTERM)
        assert ns.recv(4096).decode().splitlines()[0] == "STOPPING=1"
        assert s.p.wait(timeout=20) == 0
    finally:
        s.stop(signal.SIGKILL)
        ns.close()
    rep = h.sanitizer_report(s.output())
    assert rep is None, rep


# ---- privilege drop -------------------------------------------------------------

def _caps(pid, tid=None):
    p = f"/proc/{pid}/task/{tid}/status" if tid else f"/proc/{pid}/status"
    st = Path(p).read_text()
    get = lambda k: re.search(rf"^{k}:\s+(.*)$", st, re.M).group(1)
    return {"uid": get("Uid").split(), "eff": int(get("CapEff"), 16),
            "prm": int(get("CapPrm"), 16), "bnd": int(get("CapBnd"), 16),
            "nnp": get("NoNewPrivs")}


@contextlib.contextmanager
def _bpffs(mode):
    """A bpffs instance of its own at a temporary directory, mounted with
    mode=MODE ("0700", "1777"); unmounted afterwards, with whatever pins are
    left in it. Yields (directory, mode as a number)."""
    d = Path(tempfile.mkdtemp(prefix=f"sluice-bpffs-{os.getpid()}-"))
    mounted = False
    try:
        h.run(["mount", "-t", "bpf", "-o", f"mode={mode}", "bpf", d])
        mounted = True
        # the mount's root: sticky, with the mode asked for
        assert stat.S_IMODE(os.stat(d).st_mode) == \
            stat.S_ISVTX | int(mode, 8)
        yield d, int(mode, 8)
    finally:
        if mounted and h.run(["umount", d], check=False).returncode != 0:
            h.run(["umount", "-l", d], check=False)
        d.rmdir()


@pytest.fixture(params=["1777", "0700"], ids=["bpffs-1777", "bpffs-0700"])
def private_bpffs(request, env):
    """_bpffs(PARAM): a bare `mount -t bpf` gives 1777 (as in CI), systemd
    (and sluiced itself, when nothing is mounted) mounts /sys/fs/bpf 0700."""
    with _bpffs(request.param) as m:
        yield m


def _user_config(d, tag, pin, extra=""):
    """A config for `user: nobody` in d (0755, files 0644: the user reads it
    on reload) with its pins under pin."""
    cfg = h.write_config(d, tag, extra=extra + "user: nobody\n")
    cfg.write_text(cfg.read_text().replace(f"pin_path: {h.PIN_ROOT}\n",
                                           f"pin_path: {pin}\n"))
    assert f"pin_path: {pin}\n" in cfg.read_text()
    for f in d.iterdir():
        f.chmod(0o644)
    return cfg


def test_drop_privileges_to_user(backends, workdir, private_bpffs):
    """Under `user:` the pins are removed at exit whatever the bpffs mode:
    with 0700 (systemd) the user may not even search the bpffs root, so
    every pin operation after the drop goes through the pin directory's
    descriptor, opened as root."""
    mnt, mode = private_bpffs
    pin = mnt / "sluice"
    d = Path(f"/tmp/sluice-i6-user-{os.getpid()}")
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(mode=0o755)
    s = None
    try:
        cfg = _user_config(d, "ops-user", pin)
        s = h.Sluiced(cfg, workdir, tag="ops-user")
        s.start()
        pid = s.p.pid
        # the nsenter wrapper execs sluiced: same pid
        c = _caps(pid)
        assert c["uid"] == ["65534"] * 4, c
        CAP_NET_ADMIN = 1 << 12
        assert c["eff"] == CAP_NET_ADMIN and c["prm"] == CAP_NET_ADMIN, c
        assert c["bnd"] == CAP_NET_ADMIN, c
        assert c["nnp"] == "1"
        assert "running as user nobody" in s.output()
        # the pins are there, in a directory the user owns
        assert sorted(p.name for p in pin.iterdir()) == sorted(h.MAP_NAMES)
        assert pin.stat().st_uid == 65534
        # still serving, still reloadable (as nobody), admin socket works
        assert h.one(h.http(h.ALLOWED4, h.SRV4, path="/u"))["status"] == 200
        sock = h.admin_socket_path(d, "ops-user")
        ctl(sock, "reload", check=0)
        ctl(sock, "allow", "add", f"{h.BLOCKED4}/32", check=0)
        assert h.one(h.http(h.BLOCKED4, h.SRV4, path="/u2"))["status"] == 200
        # shutdown: exit 0, XDP detached, every pin removed
        s.stopped = True
        assert s.stop(signal.SIGTERM, timeout=15) == 0, h.tail(s.err_path)
        s.check_sanitizers()
        out = s.output()
        assert h.srv_link_xdp() == ""
        left = list(pin.iterdir()) if pin.exists() else []
        assert left == [], (left, out)
        # the reload's sync and the exit took the pin lock without a word
        assert "cannot lock" not in out and "unpinning" not in out, out
        # the empty directory goes too where the user may write to the
        # bpffs root (1777, sticky: the user owns the directory); under
        # 0700 it stays, empty, for the next start to reuse
        assert pin.exists() == (mode == 0o700), out
    finally:
        if s is not None and not s.stopped:
            s.stop(signal.SIGTERM)
        shutil.rmtree(d, ignore_errors=True)


def _task_creds(pid):
    """{tid: the credential lines of /proc/PID/task/TID/status}."""
    keys = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd",
            "CapAmb", "NoNewPrivs")
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            st = Path(f"/proc/{pid}/task/{tid}/status").read_text()
        except FileNotFoundError:
            continue                    # a thread that just ended
        out[int(tid)] = {k: re.search(rf"^{k}:\s*(.*)$", st, re.M)
                         .group(1).split() for k in keys}
    return out


def test_every_thread_has_the_same_privileges(backends, workdir):
    """Capabilities, the bounding set and no_new_privs are per thread: the
    drop happens while sluiced has one thread, and every thread (workers,
    admin, access-log writer, io_uring workers) starts after it."""
    d = Path(f"/tmp/sluice-i6-threads-{os.getpid()}")
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(mode=0o755)
    s = None
    # pins in a bpffs of its own: under user:, the empty pin directory
    # stays at exit when the bpffs root is 0700 (a systemd host)
    with _bpffs("0700") as (mnt, _), contextlib.ExitStack() as done:
        done.callback(shutil.rmtree, d, ignore_errors=True)
        done.callback(lambda: s is not None and not s.stopped and
                      s.stop(signal.SIGTERM))
        cfg = _user_config(d, "ops-threads", mnt / "sluice",
                           extra=f"  access_log:\n    path: {d}/access.log\n"
                                 "    format: json\n")
        cfg.write_text(cfg.read_text().replace("\nworkers: 1\n",
                                               "\nworkers: 2\n"))
        s = h.Sluiced(cfg, workdir, tag="ops-threads")
        s.start()
        # traffic, so that the workers' rings have run
        for i in range(3):
            assert h.one(h.http(h.ALLOWED4, h.SRV4,
                                path=f"/t{i}"))["status"] == 200
        creds = _task_creds(s.p.pid)
        # control, 2 workers, admin, access-log writer at least
        assert len(creds) >= 5, creds
        CAP_NET_ADMIN = f"{1 << 12:016x}"
        want = {"Uid": ["65534"] * 4, "Gid": ["65534"] * 4,
                "Groups": ["65534"], "CapInh": ["0" * 16],
                "CapPrm": [CAP_NET_ADMIN], "CapEff": [CAP_NET_ADMIN],
                "CapBnd": [CAP_NET_ADMIN], "CapAmb": ["0" * 16],
                "NoNewPrivs": ["1"]}
        bad = {tid: c for tid, c in creds.items() if c != want}
        assert bad == {}, (f"threads whose credentials differ from {want}",
                           bad)
        s.stopped = True
        assert s.stop(signal.SIGTERM, timeout=15) == 0, h.tail(s.err_path)
        s.check_sanitizers()
        assert list((mnt / "sluice").iterdir()) == []


def test_check_refuses_unknown_user(env, tmp_path):
    cfg = tmp_path / "u.yaml"
    cfg.write_text("listeners: [{name: l, address: '127.0.0.1:18080'}]\n"
                   "xdp: {enabled: false}\n"
                   "user: no-such-user-i6\n")
    r = h.run_sluiced_once(["-c", cfg, "--check"])
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "sluiced: invalid configuration:",
        f"{cfg}: user 'no-such-user-i6': no such user"]


# ---- install ------------------------------------------------------------------

@pytest.mark.timeout(300)
def test_make_install_destdir(tmp_path):
    dest = tmp_path / "root"
    r = h.run(["make", "-s", "install", f"DESTDIR={dest}", "PREFIX=/usr",
               f"BUILD={h.BUILD}"], timeout=280, cwd=h.REPO, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    want = {
        "usr/sbin/sluiced": 0o755, "usr/sbin/sluicectl": 0o755,
        "usr/lib/systemd/system/sluice.service": 0o644,
        "etc/sluice/sluice.yaml": 0o644, "etc/sluice/allowlist.txt": 0o644,
        "usr/share/man/man8/sluiced.8": 0o644,
        "usr/share/man/man8/sluicectl.8": 0o644,
        "usr/share/man/man5/sluice.yaml.5": 0o644,
        "usr/share/bash-completion/completions/sluicectl": 0o644,
    }
    got = {str(p.relative_to(dest)): stat.S_IMODE(p.stat().st_mode)
           for p in dest.rglob("*") if p.is_file()}
    assert got == want
    unit = (dest / "usr/lib/systemd/system/sluice.service").read_text()
    assert "ExecStart=/usr/sbin/sluiced -c /etc/sluice/sluice.yaml\n" in unit
    assert "/usr/local" not in unit
    # the installed default config is valid as shipped
    r = h.run_sluiced_once(["-c", dest / "etc/sluice/sluice.yaml", "--check"])
    assert r.returncode == 0, r.stderr

    # systemd-analyze verify, against the DESTDIR tree
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    if shutil.which("man") is None:
        pytest.skip("man not installed: systemd-analyze verify checks "
                    "Documentation=man: pages with it")
    # verify resolves ExecStart= paths on the host: point them into DESTDIR
    v = tmp_path / "sluice.service"
    v.write_text(unit.replace("/usr/sbin/", f"{dest}/usr/sbin/"))
    env = dict(os.environ, MANPATH=f"{dest}/usr/share/man",
               SYSTEMD_LOG_LEVEL="notice")
    r = h.run(["systemd-analyze", "verify", v], check=False, timeout=60,
              env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr.strip() == "", r.stderr


# ---- logging ------------------------------------------------------------------

def test_journal_priority_prefix(backends, workdir):
    """With stderr on the journal (JOURNAL_STREAM = its dev:ino), each line
    carries a <N> syslog priority instead of a timestamp."""
    cfg = h.write_config(workdir, "ops-journal", xdp=False)
    err = workdir / "ops-journal.journal"
    with open(err, "wb") as f:
        st = os.fstat(f.fileno())
        env = h.sanitizer_env()
        env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        p = subprocess.Popen(["nsenter", f"--net=/run/netns/{h.SRV_NS}",
                              h.SLUICED, "-c", cfg], stdout=subprocess.DEVNULL,
                             stderr=f, env=env)
        h.CLEANUP.procs[p.pid] = p
        try:
            h.wait_for(lambda: "sluiced ready" in err.read_text(), 20,
                       what="sluiced ready")
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=20) == 0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            h.CLEANUP.procs.pop(p.pid, None)
    lines = err.read_text().splitlines()
    assert any(l.startswith("<6>info sluiced ready: ") for l in lines), lines
    assert all(re.match(r"<[3467]>(error|warn|info|debug) ", l)
               for l in lines if not h.SANITIZER_RE.search(l)), lines
