"""Fixtures for the Sluice integration suite.

Topology (per pytest run, names carry the pytest PID):

  netns slt-srv-PID                          netns slt-cli-PID
  [backend b1 :9001, b2 :9002]               198.18.0.2  fd00:5c::2 (allowed)
  [sluiced :8080, XDP native] slt<PID>s ==== slt<PID>c
  198.18.0.1/24  fd00:5c::1/64               198.18.0.3  fd00:5c::3 (blocked)

Pins go to /sys/fs/bpf/sluice-test-PID. All of it is torn down even when a
test fails; a SIGTERM to pytest triggers the same cleanup.

SLUICED=build/asan/sluiced runs the same suite against the ASan+UBSan build;
any sanitizer report in sluiced's stderr fails the test that owns it.
"""
import atexit
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

import helpers as h

DEFAULT_TIMEOUT = 120   # seconds per test (pytest-timeout, signal method)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "timeout(seconds): per-test timeout (pytest-timeout)")

    def on_term(signum, frame):
        # killed from outside (e.g. the `make test` timeout): fixtures will
        # not get to run, so tear down what we made and go
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            h.CLEANUP.run()
        finally:
            os._exit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    atexit.register(h.CLEANUP.run)


def pytest_collection_modifyitems(config, items):
    if not config.pluginmanager.hasplugin("timeout"):
        return      # helpers still put a timeout on every subprocess
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT,
                                                method="signal"))


_ENV_SKIPPED = []


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    h.CLEANUP.run()     # last resort, after fixture teardown: normally a no-op
    # Whole suite skipped for a missing capability: exit 77 so that
    # scripts/test.sh reports it as skipped, not passed.
    if _ENV_SKIPPED and session.testsfailed == 0 and exitstatus == 0:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        passed = len(reporter.stats.get("passed", [])) if reporter else 0
        if passed == 0:
            print(f"\nintegration suite skipped: {_ENV_SKIPPED[0]}")
            session.exitstatus = 77


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the stderr tails of the processes still running."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        item._sluice_failed = True
        for name, p in list(h.LIVE.items()):
            rep.sections.append((f"{name} stderr (tail)",
                                 h.tail(p.err_path, 30)))


@pytest.fixture(autouse=True)
def _stop_what_a_failed_test_left(request):
    """A test that fails part way may leave the processes it started
    running (its own shutdown() never reached): a gateway holding its
    port would fail every later test that listens there. After a failed
    test, those it started are stopped (by PID). Fixtures of a wider scope
    are set up before this one, so their processes are not touched."""
    before = {id(p) for p in h.LIVE.values()}
    yield
    if not getattr(request.node, "_sluice_failed", False):
        return
    for p in list(h.LIVE.values()):
        if id(p) not in before and p.alive():
            print(f"\nstopping {p.name} (pid {p.pid}), left by a failed "
                  "test")
            p.stop(timeout=10)


def _skip_reason():
    if os.geteuid() != 0:
        return "integration tests need root (netns, veth, XDP, bpffs)"
    for tool in ("ip", "nsenter", "curl", "bpftool", "mountpoint"):
        if shutil.which(tool) is None:
            return f"'{tool}' not found (run scripts/deps.sh)"
    probe = f"slt-probe-{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True,
                       text=True, timeout=10)
    if r.returncode != 0:
        return f"'ip netns add' unavailable: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True,
                   timeout=10)
    return None


@pytest.fixture(scope="session")
def env():
    reason = _skip_reason()
    if reason:
        _ENV_SKIPPED.append(reason)
        pytest.skip(reason)
    missing = [str(b) for b in (h.SLUICED, h.SLUICECTL, h.BACKEND)
               if not os.access(b, os.X_OK)]
    if missing:
        pytest.fail(f"binaries missing (run make): {', '.join(missing)}",
                    pytrace=False)
    # bpffs where the pins go (sluiced mounts it too when missing)
    if subprocess.run(["mountpoint", "-q", "/sys/fs/bpf"],
                      timeout=10).returncode != 0:
        h.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"])
    assert not h.PIN_ROOT.exists(), f"stale pin dir {h.PIN_ROOT}"
    return True


@pytest.fixture(scope="session")
def workdir(request, env):
    d = Path(tempfile.mkdtemp(prefix=f"sluice-it-{os.getpid()}-"))
    yield d
    if request.session.testsfailed or os.environ.get("SLUICE_TEST_KEEP"):
        print(f"\nintegration logs kept in {d}")
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def topo(env):
    try:
        h.setup_topology()
    except Exception:
        h.teardown_topology()
        raise
    yield
    alive = [pid for pid, p in h.CLEANUP.procs.items() if p.poll() is None]
    errors = h.teardown_topology()
    assert not alive, f"processes still running at teardown: {alive}"
    assert not errors, "; ".join(errors)
    assert not h.PIN_ROOT.exists(), f"pin dir {h.PIN_ROOT} left behind"


@pytest.fixture(scope="session")
def backends(topo, workdir):
    """b1: behind sluiced; b2: an unguarded service on the same host."""
    b1 = h.start_backend("b1", [f"{h.SRV4}:{h.B1_PORT}",
                                f"[{h.SRV6}]:{h.B1_PORT}"], workdir)
    b2 = h.start_backend("b2", [f"{h.SRV4}:{h.B2_PORT}",
                                f"[{h.SRV6}]:{h.B2_PORT}"], workdir)
    yield {"b1": b1, "b2": b2}
    rcs = {p.name: p.stop() for p in (b1, b2)}
    assert rcs == {"b1": 0, "b2": 0}, f"backend exit statuses: {rcs}"


@pytest.fixture(scope="module")
def gateway(backends, workdir, request):
    """sluiced with the standard config (route / -> b1), shared by a module."""
    name = "gw-" + request.module.__name__
    cfg = h.write_config(workdir, name)
    s = h.Sluiced(cfg, workdir, tag=name)
    try:
        s.start()
    except Exception:
        s.stop(signal.SIGKILL)
        raise
    yield s
    s.shutdown()


@pytest.fixture
def sluiced_factory(backends, workdir, request):
    """Start sluiced on a custom config; shut down (and check) at teardown."""
    made = []

    def make(tag, **cfg_kw):
        cfg = h.write_config(workdir, f"{tag}", **cfg_kw)
        s = h.Sluiced(cfg, workdir, tag=tag)
        made.append(s)
        return s.start()
    yield make
    errors = []
    for s in made:
        try:
            if getattr(s, "stopped", False):
                s.check_sanitizers()
            else:
                s.shutdown()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)
