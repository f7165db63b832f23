"""Upgrade and restart without a failed request (sluiced --takeover).

A new sluiced takes the running one's listening sockets over its admin
socket (SCM_RIGHTS) and its XDP attachment by atomic replacement; the old
one drains and exits. Under a bounded load (loadgen.py) every request
succeeds, and a denied source (probe.py) stays dropped throughout.
"""
import json
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
    cfg = h.write_config(workdir, "upg")
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
