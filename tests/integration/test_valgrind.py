"""valgrind memcheck of sluiced under a little mixed traffic.

Valgrind runs one guest thread at a time and hands the turn over on system
calls it knows may block. Valgrind 3.19 (Debian 12) wraps the io_uring
calls but does not treat io_uring_enter's wait as blocking, so while one
thread waits in it no other runs. sluiced therefore runs here with
SLUICE_LOOP_WAIT=poll: its loops wait in ppoll() on the ring's descriptor
(a call valgrind knows blocks) and then reap without waiting; everything
else is the code that runs in production. The run must end with no
memcheck error and no definite leak.
Only against the plain build (ASan and valgrind exclude each other).
"""
import os
import re
import shutil
import signal
import subprocess

import pytest

import helpers as h

VG_READY_S = 12
VG_ERRORS = re.compile(r"==\d+== (Invalid (read|write|free)|Conditional jump|"
                       r"Use of uninitialised|Syscall param|Mismatched free|"
                       r"Source and destination overlap)")


def test_memcheck_under_traffic(backends, workdir):
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind not installed (scripts/deps.sh installs it)")
    if "asan" in str(h.SLUICED):
        pytest.skip("valgrind cannot run an ASan build")
    cfg = h.write_config(workdir, "vg", xdp=False, routes=[("vg", "/vg/")])
    s = h.Proc("vg", ["nsenter", f"--net=/run/netns/{h.SRV_NS}", "valgrind",
                      "--error-exitcode=9", "--leak-check=full",
                      "--errors-for-leak-kinds=definite",
                      h.SLUICED, "-c", cfg], workdir,
               env=dict(os.environ, SLUICE_LOOP_WAIT="poll"))
    try:
        def cannot(what):
            vg = re.search(r"Using Valgrind-([\d.]+)", s.output())
            pytest.skip(
                f"valgrind {vg.group(1) if vg else '?'} cannot run sluiced: "
                "io_uring_enter's wait is not a blocking call to it, so "
                "while one thread waits in it the others do not run "
                f"({what})")
        try:
            s.wait_output("sluiced ready", VG_READY_S)
        except AssertionError:
            cannot(f"not ready after {VG_READY_S}s")
        r = h.http(h.ALLOWED4, h.SRV4, path="/vg/probe", timeout=10)
        if r.get("error") == "timeout":
            cannot("ready, but a request timed out")
        # keep-alive, bodies both ways, IPv6, errors the gateway makes
        res = h.http(h.ALLOWED4, h.SRV4, path="/vg/ka", count=5, timeout=20)
        assert [x["status"] for x in res["responses"]] == [200] * 5, res
        for chunked in (False, True):
            r = h.one(h.http(h.ALLOWED6, h.SRV6, path="/vg/post",
                             method="POST", body_len=200000,
                             chunked=chunked, timeout=20))
            assert r["status"] == 200
        r = h.one(h.http(h.ALLOWED4, h.SRV4, path="/vg/%zz", timeout=20))
        assert r["status"] == 400
        r = h.one(h.http(h.ALLOWED4, h.SRV4, path="/new/x", timeout=20))
        assert r["status"] == 404
        # a reload between requests: a new config snapshot, the old freed
        h.write_config(workdir, "vg", xdp=False,
                       routes=[("vg", "/vg/"), ("new", "/new/")])
        s.p.send_signal(signal.SIGHUP)
        h.wait_for(lambda: h.one(h.http(h.ALLOWED4, h.SRV4, path="/new/x",
                                        timeout=20))["status"] == 200,
                   60, 0.5, "the reloaded route")
        for i in range(5):
            r = h.one(h.http(h.ALLOWED4, h.SRV4, path=f"/vg/{i}", timeout=20))
            assert r["status"] == 200
        got = [e["target"] for e in h.backend_log(backends["b1"])
               if e["target"].startswith("/vg/")]
        for want in ["/vg/ka", "/vg/post", "/vg/0", "/vg/4"]:
            assert want in got, got
        assert "/vg/%zz" not in got
        rc = s.stop(signal.SIGTERM, timeout=60)
        out = s.output()
        assert "Memcheck" in out, out[-2000:]
        assert not VG_ERRORS.search(out), out[-4000:]
        assert re.search(r"ERROR SUMMARY: 0 errors", out), out[-4000:]
        assert rc == 0, out[-4000:]
    finally:
        if s.alive():
            s.stop(signal.SIGKILL)
