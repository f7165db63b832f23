"""Upgrade and restart without a failed request (sluiced --takeover).

A new sluiced takes the running one's listening sockets over its admin
socket (SCM_RIGHTS) and its XDP attachment by atomic replacement; the old
one drains and exits. Under a bounded load (loadgen.py) every request
succeeds, and a denied source (probe.py) stays dropped throughout.
"""
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

import helpers as h

HERE = Path(__file__).resolve().parent


def _bg(script, *args):
    p = subprocess.Popen(["ip", "netns", "exec", h.CLI_NS, h.PY,
                          HERE / script, *map(str, args)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    h.CLEANUP.procs[p.pid] = p
    return p


def _finish(p):
    out, err = p.communicate(timeout=60)
    h.CLEANUP.procs.pop(p.pid, None)
    assert p.returncode == 0, err
    return json.loads(out)


def _served(backend):
    return sum(1 for l in h.backend_log(backend)
               if "/load/" in str(l.get("target", "")))


def _top_has(source):
    """GET /top over the admin TCP listener names source (drop_not_allowed)."""
    r = h.run(["nsenter", f"--net=/run/netns/{h.SRV_NS}", "curl", "-sS",
               "--max-time", "5", "http://127.0.0.1:9900/top?seconds=3"],
              timeout=15, check=False)
    try:
        j = json.loads(r.stdout)
    except ValueError:
        return False
    return j.get("sampler") == "continuous" and any(
        t["source"] == source and t["reasons"].get("drop_not_allowed")
        for t in j.get("talkers", []))


def _takeover(old, cfg, workdir, tag, sock, argv0=None):
    """Start a successor of `old`; wait until old exited (status 0)."""
    new = h.Sluiced(cfg, workdir, tag=tag, args=["--takeover", sock])
    new.start()
    rc = old.p.wait(timeout=30)
    old.stopped = True
    old.stop()
    old.check_sanitizers()
    assert rc == 0, h.tail(old.err_path)
    out = old.output()
    assert "takeover: handed" in out and "draining and exiting" in out, out
    # the successor took the old one's sockets: nothing bound anew
    assert "takeover: 2 listening socket(s) and the admin TCP listener" \
        in new.output(), h.tail(new.err_path)
    assert "took over " + h.VETH_SRV in new.output(), h.tail(new.err_path)
    return new


@pytest.mark.timeout(180)
def test_upgrade_and_restart_under_load(backends, workdir):
    cfg = h.write_config(workdir, "upg", xdp_extra=["  drop_sample: 1"])
    sock = h.admin_socket_path(workdir, "upg")
    stop = workdir / "upg.stop"
    stop.unlink(missing_ok=True)
    procs = [h.Sluiced(cfg, workdir, tag="upg-1")]
    load = probe = None
    try:
        procs[0].start()
        b1 = backends["b1"]
        load = _bg("loadgen.py", "--src", h.ALLOWED4, "--host", h.SRV4,
                   "--port", h.GW_PORT, "--threads", 4, "--stop-file", stop,
                   "--max-seconds", 150)
        prog = workdir / "upg.probe"
        prog.unlink(missing_ok=True)
        probe = _bg("probe.py", "--src", h.BLOCKED4, "--host", h.SRV4,
                    "--port", h.GW_PORT, "--stop-file", stop,
                    "--progress", prog, "--max-seconds", 150)

        def probed():
            try:
                return int(prog.read_text() or 0)
            except (OSError, ValueError):
                return 0
        h.wait_for(lambda: _served(b1) > 50 and probed() > 5, 30,
                   what="load flowing, probe running")
        # an upgrade, then a restart of the result: each waits for the
        # old process to exit, then for more load to be served
        for tag in ("upg-2", "upg-3"):
            procs.append(_takeover(procs[-1], cfg, workdir, tag, sock))
            assert h.srv_link_xdp() == "xdp"
            n, m = _served(b1), probed()
            h.wait_for(lambda: _served(b1) > n + 50 and probed() > m + 5,
                       30, what=f"load served by {tag}, probe going on")
        assert load.poll() is None, "load generator ended early"
        # the successor's sampler reads the events ring (the old ones
        # stopped theirs when they handed over): the probe's dropped SYNs
        h.wait_for(lambda: _top_has(h.BLOCKED4), 15,
                   what="the probe's source in the last successor's /top")
    except BaseException:
        for s in procs:
            if s.alive():
                s.stop()
        raise
    finally:
        stop.touch()
        res = _finish(load) if load else None
        pr = _finish(probe) if probe else None
    try:
        assert res["stopped_by"] == "file", res
        assert res["failed"] == 0, res["errors"]
        assert res["ok"] > 100, res
        assert pr["gaps"] == [], pr
        assert pr["attempts"] > 15 and pr["timeouts"] == pr["attempts"], pr
    except BaseException:
        procs[-1].stop()
        raise
    # the last one cleans up as usual: XDP detached, pins removed
    procs[-1].shutdown()


def test_takeover_of_nothing_fails_cleanly(backends, workdir):
    """No daemon on the socket: exit 2, nothing attached or pinned."""
    cfg = h.write_config(workdir, "upg-none")
    s = h.Sluiced(cfg, workdir, tag="upg-none",
                  args=["--takeover", workdir / "no-such.sock"])
    rc = s.p.wait(timeout=30)
    s.stopped = True
    s.stop()
    s.check_sanitizers()
    assert rc == 2, h.tail(s.err_path)
    assert "takeover: cannot connect" in s.output()
    assert h.srv_link_xdp() == ""
    assert not h.PIN_ROOT.exists()


def _gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _takeover_pid(sock):
    """The pid of a sluiced started with --takeover sock, if any (cleanup
    when sluicectl did not say)."""
    for d in Path("/proc").iterdir():
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--takeover" in argv and str(sock).encode() in argv:
            return int(d.name)
    return None


def test_sluicectl_upgrade(backends, workdir):
    """sluicectl upgrade: refused on a bad config (the old one serves on),
    then done: the new daemon serves, the old one exited 0."""
    cfg = h.write_config(workdir, "upgctl")
    sock = h.admin_socket_path(workdir, "upgctl")
    log = workdir / "upgctl-new.err"
    old = h.Sluiced(cfg, workdir, tag="upgctl").start()
    argv = ["nsenter", f"--net=/run/netns/{h.SRV_NS}", h.SLUICECTL,
            "--socket", sock, "--json", "upgrade", "--binary", h.SLUICED,
            "--output", log]
    new_pid = None
    try:
        good = cfg.read_text()
        cfg.write_text(good + "bogus_key: 1\n")
        r = h.run(argv, timeout=60, check=False, env=h.sanitizer_env())
        assert r.returncode == 3, (r.stdout, r.stderr)
        assert "bogus_key" in r.stderr and "keeps serving" in r.stderr
        assert old.alive()
        cfg.write_text(good)
        r = h.run(argv, timeout=150, check=False, env=h.sanitizer_env())
        assert r.returncode == 0, (r.stdout, r.stderr, h.tail(log))
        res = json.loads(r.stdout)
        new_pid = res["pid"]
        assert res["old_pid"] == old.pid
        assert old.p.wait(timeout=30) == 0
        assert h.one(h.http(h.ALLOWED4, h.SRV4, path="/after"))["status"] \
            == 200
        assert h.srv_link_xdp() == "xdp"
    finally:
        if old.alive():
            old.stop()
        else:
            old.stopped = True
            old.stop()
        new_pid = new_pid or _takeover_pid(sock)
        if new_pid:
            os.kill(new_pid, signal.SIGTERM)
            h.wait_for(lambda: _gone(new_pid), 20, 0.1,
                       what="the upgraded sluiced to exit")
    old.check_sanitizers()
    rep = h.sanitizer_report(log.read_text(errors="replace"))
    assert rep is None, rep
    assert "sluiced stopped" in log.read_text()
    assert h.srv_link_xdp() == ""
    assert not h.PIN_ROOT.exists()
