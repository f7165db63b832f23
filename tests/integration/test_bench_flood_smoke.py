"""make bench-flood, smoke mode (scripts/bench_flood.py --smoke).

Runs the whole flood harness once, shortly: its own three namespaces, nginx
as origin, sluiced (the binary under test) as gateway for each contender
(no filter, nftables ingress, Sluice's XDP), wrk as legitimate client and
the frame-loop generator, one mix (SYNs from random denied sources), about
a second per phase. Checks only that every part ran and produced figures:
the JSON has every field as a number, the generator's frames reached the
gateway's ring, the client got answers, and both filters counted the flood
as denied. No speed is asserted.

Fails when sluiced does not start or serve (the harness checks it answers
through the gateway, and with XDP that its program is attached), when the
generator delivers nothing, or when no drop is counted.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import helpers as h

HARNESS = h.REPO / "scripts" / "bench_flood.py"
XDPBENCH = h.BUILD / "bench" / "xdpbench"
if not XDPBENCH.is_absolute():
    XDPBENCH = h.REPO / XDPBENCH
TIMEOUT = 90


def number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def cleanup_after(pid):
    """What the harness (pid) would have removed, had it been killed
    before its own cleanup: processes in its namespaces, the namespaces,
    its pin directory."""
    for tag in ("g", "a", "c"):
        ns = f"slf-{tag}-{pid}"
        if not Path(f"/run/netns/{ns}").exists():
            continue
        r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                           text=True, timeout=10)
        for p in r.stdout.split():
            try:
                os.kill(int(p), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        subprocess.run(["ip", "netns", "del", ns], capture_output=True,
                       timeout=10)
    pins = Path(f"/sys/fs/bpf/sluice-flood-{pid}")
    if pins.exists():
        subprocess.run(["rm", "-rf", str(pins)], timeout=10)


@pytest.fixture
def smoke(env):
    for tool in ("wrk", "nft", "nginx", "ethtool"):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            pytest.fail(f"'{tool}' not found (bash scripts/deps.sh)",
                        pytrace=False)
    if not XDPBENCH.exists():
        pytest.fail(f"{XDPBENCH} missing (make)", pytrace=False)
    d = Path(tempfile.mkdtemp(prefix=f"sluice-flood-smoke-{os.getpid()}-"))
    out = d / "flood.json"
    env_ = {**os.environ, "SLUICED": str(h.SLUICED),
            "BUILD": str(h.BUILD if h.BUILD.is_absolute()
                         else h.REPO / h.BUILD)}
    p = subprocess.Popen([sys.executable, HARNESS, "--smoke", "--out", out],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, env=env_, cwd=h.REPO)
    try:
        try:
            log, _ = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGTERM)   # the harness cleans up
            log, _ = p.communicate(timeout=30)
            pytest.fail(f"harness still running after {TIMEOUT} s:\n{log}")
        yield p.returncode, log, out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        cleanup_after(p.pid)
        subprocess.run(["rm", "-rf", str(d)], timeout=10)


def test_smoke_runs_and_reports(smoke):
    rc, log, out = smoke
    assert rc == 0, f"harness exit {rc}:\n{log[-4000:]}"
    res = json.loads(out.read_text())
    assert res["smoke"] is True
    assert set(res["contenders"]) == {"nofilter", "nftables", "sluice"}
    (mix,) = res["mixes"]
    for c, cr in res["contenders"].items():
        base = cr["baseline"][mix]
        flood = cr["mixes"][mix]["max"]
        for ph in (base, flood):
            for k in ("rps", "gw_cpu_busy", "gw_napi_busy",
                      "gen_offered_pps", "gen_delivered_pps",
                      "g0_xdp_rx_pps"):
                assert number(ph[k]), (c, k, ph[k])
            assert ph["rps"] > 0, f"{c}: the client got no answer: {ph}"
            assert ph["p99_ms"] is None or number(ph["p99_ms"])
        assert number(flood["legit_retained_ratio"])
        assert number(res["legit_retained_ratio"][mix][c])
        g = flood["gen"]
        assert g["delivered"] > 0, f"{c}: no frame reached the gateway: {g}"
        assert flood["g0_xdp_rx_pps"] > 0, flood
    # the flood was counted where the filters drop it
    sl = res["contenders"]["sluice"]["mixes"][mix]["max"]["drops"]
    assert sl.get("drop_deny", 0) > 0, sl
    nf = res["contenders"]["nftables"]["mixes"][mix]["max"]["drops"]
    assert nf.get("drop_deny", 0) > 0, nf
    assert res["contenders"]["nofilter"]["mixes"][mix]["max"]["drops"] == {}
    assert set(res["goals"]) >= {"sluice_ge_0.9", "sluice_ge_3x_nftables"}
