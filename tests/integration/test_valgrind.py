"""valgrind memcheck of sluiced under a little mixed traffic.

Valgrind runs one guest thread at a time and hands the turn over on system
calls it knows may block. Valgrind 3.19 (Debian 12) wraps the io_uring
calls but does not treat io_uring_enter's wait as blocking, so while one
thread waits in it no other runs: either sluiced's control thread never
reports ready (its worker serves), or it does and the worker never
serves (seen both ways). This test starts sluiced under valgrind and
skips, saying so, when it is not ready in VG_READY_S or its first request
times out; where a valgrind can run it, the run must end without a
memcheck error.
Only against the plain build (ASan and valgrind exclude each other).
"""
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
    cfg = h.write_config(workdir, "vg", xdp=False)
    s = h.Proc("vg", ["nsenter", f"--net=/run/netns/{h.SRV_NS}", "valgrind",
                      "--error-exitcode=9", "--leak-check=full",
                      "--errors-for-leak-kinds=definite",
                      h.SLUICED, "-c", cfg], workdir)
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
        for i in range(10):
            r = h.one(h.http(h.ALLOWED4, h.SRV4, path=f"/vg/{i}", timeout=20))
            assert r["status"] == 200
        rc = s.stop(signal.SIGTERM, timeout=60)
        out = s.output()
        assert not VG_ERRORS.search(out), out[-4000:]
        assert rc == 0, out[-4000:]
    finally:
        if s.alive():
            s.stop(signal.SIGKILL)
