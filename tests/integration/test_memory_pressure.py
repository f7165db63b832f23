"""Memory pressure: sluiced in a memory cgroup sized as docs/OPERATIONS.md
("Sizing a memory limit") says, under memory-hungry load.

sluiced is started inside a child memory cgroup of its own (the shell that
starts it joins the cgroup, then execs it, so every page it ever touches is
charged there). First, without a limit, the test measures the steady state
after a warm-up and what a connection that holds a whole request head
costs; then it sets the limit the docs' formula gives for the config and
drives, at once: more clients than `http.max_connections` (the rest wait
in the backlog), slow clients holding almost `max_header_bytes` of
unfinished head each, slow readers of large downloads, large uploads and
connections of pipelined requests. It checks:

- the client's view: every download whole, every pipelined response in
  order, every upload and every waiting client answered 200;
- the backend's view: each upload arrived with its length and FNV-1a hash;
- the kernel's view: no OOM kill in the cgroup (`memory.events` oom_kill,
  or `memory.oom_control` under cgroup v1), sluiced alive;
- the daemon's descriptors back to where they were, and its RSS back
  within what its buffer pool may keep cached.

A second test gives the daemon a limit far below its needs: the kernel
kills it (SIGKILL, counted in oom_kill), which is what a supervisor
(systemd `Restart=on-failure`) sees and acts on.

cgroup v2 is used when a cgroup2 hierarchy offers the memory controller;
on hosts where the memory controller is bound to a cgroup v1 hierarchy
(as on the machine this was written on) the v1 files are used: the
limit, the OOM-kill count and the usage mean the same there. Skipped, with
the reason, when neither is available. The cgroup is removed afterwards.
"""
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

import client as cl
import helpers as h
import raw

MAX_CONNS = 128          # http.max_connections of the config under test
WORKERS = 1
# docs/OPERATIONS.md, "Sizing a memory limit", for the defaults
# (http.max_header_bytes 32768, receive_buffers 512, upstream_buffers 128):
# per connection, its head buffer and an upstream buffer's worth, plus
# 16 KiB of kernel objects; per worker, the provided-buffer rings and the
# 256 free head buffers its pool may keep
HEAD_BUF = 32768 + 4096
PER_CONN = 2 * HEAD_BUF + 16 * 1024
PER_WORKER = 512 * 16384 + 128 * 32768 + 256 * HEAD_BUF
ASAN = "asan" in str(h.SLUICED)
# ASan's shadow and redzones roughly double what a connection costs, and
# its quarantine (16 MiB here) keeps freed memory
ASAN_FACTOR = 2
ASAN_QUARANTINE = 16 << 20
ASAN_OPTIONS = ("detect_leaks=1:abort_on_error=0:exitcode=66:"
                "print_summary=1:quarantine_size_mb=16")

UPLOAD = 4 << 20
DOWNLOAD = 16 << 20
N_HEADS, N_READERS, N_UPLOADS, N_PIPES, N_WAITERS = 96, 16, 16, 16, 64
PIPELINED = 100


# ---- the memory cgroup ------------------------------------------------------

class MemCgroup:
    """A child memory cgroup: cgroup v2 if a cgroup2 hierarchy has the
    memory controller, else the v1 memory hierarchy."""

    def __init__(self, name):
        self.path = None
        self.v2 = None
        self.enabled_subtree = None
        mounts = [l.split() for l in
                  Path("/proc/mounts").read_text().splitlines()]
        v2 = [m[1] for m in mounts if m[2] == "cgroup2"]
        for root in v2:
            ctrl = Path(root, "cgroup.controllers")
            if "memory" in ctrl.read_text().split():
                self._make_v2(Path(root), name)
                return
        v1 = [m[1] for m in mounts
              if m[2] == "cgroup" and "memory" in m[3].split(",")]
        if v1:
            own = next(l.split(":", 2)[2] for l in
                       Path("/proc/self/cgroup").read_text().splitlines()
                       if l.split(":")[1] == "memory")
            self.v2 = False
            self.path = Path(v1[0] + own) / name
            self.path.mkdir()
            return
        why = (f"cgroup2 at {', '.join(v2)} lacks the memory controller"
               if v2 else "no cgroup2 mount")
        pytest.skip(f"no memory cgroup: {why}, and no cgroup v1 memory "
                    "hierarchy")

    def _make_v2(self, root, name):
        # children of the root: the root may have processes and still
        # enable controllers for its children (no internal-process rule)
        sub = root / "cgroup.subtree_control"
        if "memory" not in sub.read_text().split():
            sub.write_text("+memory")
            self.enabled_subtree = sub
        self.v2 = True
        self.path = root / name
        self.path.mkdir()

    @property
    def procs(self):
        return self.path / "cgroup.procs"

    def set_limit(self, nbytes):
        if self.v2:
            (self.path / "memory.max").write_text(str(nbytes))
            if (self.path / "memory.swap.max").exists():
                (self.path / "memory.swap.max").write_text("0")
        else:
            (self.path / "memory.limit_in_bytes").write_text(str(nbytes))
            sw = self.path / "memory.memsw.limit_in_bytes"
            if sw.exists():
                sw.write_text(str(nbytes))

    def usage(self):
        f = "memory.current" if self.v2 else "memory.usage_in_bytes"
        return int((self.path / f).read_text())

    def peak(self):
        f = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        p = self.path / f
        return int(p.read_text()) if p.exists() else None

    def reset_peak(self):
        p = self.path / ("memory.peak" if self.v2 else
                         "memory.max_usage_in_bytes")
        try:
            p.write_text("0" if not self.v2 else "reset")
        except OSError:
            pass

    def oom_kills(self):
        f = "memory.events" if self.v2 else "memory.oom_control"
        m = re.search(r"^oom_kill (\d+)$", (self.path / f).read_text(), re.M)
        return int(m.group(1)) if m else 0

    def remove(self):
        if self.path and self.path.exists():
            h.wait_for(lambda: not self.procs.read_text().strip(), 10,
                       what=f"{self.path} empty")
            self.path.rmdir()
        if self.enabled_subtree:
            try:
                self.enabled_subtree.write_text("-memory")
            except OSError:
                pass            # another child uses it meanwhile


class CgSluiced(h.Sluiced):
    """sluiced started inside cgroup cg: a shell joins it, then execs
    nsenter, which execs sluiced (one PID throughout)."""

    def __init__(self, cg, config, workdir, tag, env=None):
        argv = ["sh", "-c", 'echo $$ > "$0" && exec "$@"', cg.procs,
                "nsenter", f"--net=/run/netns/{h.SRV_NS}", h.SLUICED, "-c",
                config]
        h.CLEANUP.pins.append(str(h.PIN_ROOT))
        h.Proc.__init__(self, tag, argv, workdir,
                        env={**h.sanitizer_env(), **(env or {})})
        self.config = config
        self.stopped = False


@pytest.fixture
def memcg(backends):
    cg = MemCgroup(f"sluice-test-{os.getpid()}")
    yield cg
    cg.remove()


def _config(workdir, name):
    extra = (f"http:\n  max_connections: {MAX_CONNS}\n"
             "  header_timeout_ms: 60000\n")
    cfg = h.write_config(workdir, name, xdp=False, extra=extra)
    # idle upstream connections close within a second, so the descriptor
    # count can return to its start
    cfg.write_text(cfg.read_text().replace(
        "    connect_timeout_ms: 1000\n",
        "    connect_timeout_ms: 1000\n    idle_timeout_ms: 1000\n", 1))
    return cfg


def _start(cg, workdir, name):
    env = {"ASAN_OPTIONS": ASAN_OPTIONS} if ASAN else None
    s = CgSluiced(cg, _config(workdir, name), workdir, name, env=env)
    try:
        s.start()
    except Exception:
        s.stop(signal.SIGKILL)
        raise
    assert str(s.pid) in cg.procs.read_text().split(), "not in the cgroup"
    return s


def _fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def _warm(n=200):
    c = raw.Conn(timeout=10)
    try:
        for i in range(n):
            c.send(raw.request("GET", f"/warm-{i}"))
            assert c.response().status == 200
    finally:
        c.close()


def _partial_head():
    """A request head of about 30 KiB, all but its final CRLF (the head
    limit is 32 KiB): the gateway must keep it while waiting for the end."""
    return (f"GET {raw.uniq('head')} HTTP/1.1\r\nHost: gw.test\r\n"
            f"X-Pad: {'p' * (30 * 1024)}\r\n").encode()


def _fd_kinds(pid):
    out = {}
    for f in os.listdir(f"/proc/{pid}/fd"):
        try:
            k = os.readlink(f"/proc/{pid}/fd/{f}").split(":")[0]
        except OSError:
            continue
        out[k] = out.get(k, 0) + 1
    return out


PIPE_CACHE_FDS = 2 * 64 * WORKERS     # PROXY_PIPE_CACHE pipes per worker


def _settle(pid, want_fds, timeout=20):
    """Wait until the descriptors other than pipes are back to want_fds
    (which holds no pipe): empty splice pipes stay cached by each worker,
    at most PROXY_PIPE_CACHE of them. Returns (other fds, pipe fds)."""
    def counts():
        k = _fd_kinds(pid)
        pipes = k.get("pipe", 0)
        return sum(k.values()) - pipes, pipes
    try:
        h.wait_for(lambda: counts()[0] <= want_fds, timeout, 0.1,
                   what=f"descriptors back to {want_fds}")
    except AssertionError as e:
        raise AssertionError(f"{e}: now {_fd_kinds(pid)}")
    return counts()


def _measure_head_cost(cg, pid, n=64):
    """Cgroup bytes per connection that holds an unfinished ~30 KiB head."""
    time.sleep(0.5)
    u0 = cg.usage()
    conns = [raw.Conn(timeout=30) for _ in range(n)]
    try:
        for c in conns:
            c.send(_partial_head())
        time.sleep(1.0)
        u1 = cg.usage()
        for c in conns:
            c.send(b"\r\n")
        for c in conns:
            assert c.response().status == 200
    finally:
        for c in conns:
            c.close()
    return (u1 - u0) / n


def _measure_reader_cost(cg, n=16):
    """Cgroup bytes per slow reader: a large download the client does not
    read yet (its spliced pipe and buffers full)."""
    time.sleep(0.5)
    u0 = cg.usage()
    conns = [raw.Conn(timeout=30) for _ in range(n)]
    try:
        for c in conns:
            c.send(raw.request("GET", f"/bytes/{DOWNLOAD}"))
        time.sleep(1.5)
        u1 = cg.usage()
        for c in conns:
            r = c.response()
            assert r.status == 200 and len(r.body) == DOWNLOAD
    finally:
        for c in conns:
            c.close()
    return (u1 - u0) / n


@pytest.mark.timeout(300)
def test_memory_limit_per_docs_holds_under_pressure(memcg, backends, workdir):
    s = _start(memcg, workdir, "mem")
    payload = cl.body_bytes(UPLOAD)
    want_fnv = "%016x" % cl.fnv1a(payload)
    results = {"heads": 0, "readers": 0, "uploads": [], "pipes": 0,
               "waiters": 0}
    errors, lock = [], threading.Lock()
    try:
        _warm()
        time.sleep(0.5)
        fds0, rss0 = _fds(s.pid), raw.rss_kib(s.pid)
        assert _fd_kinds(s.pid).get("pipe", 0) == 0
        steady = memcg.usage()
        head_cost = _measure_head_cost(memcg, s.pid)
        _settle(s.pid, fds0)
        reader_cost = _measure_reader_cost(memcg)
        _settle(s.pid, fds0)
        budget = WORKERS * (MAX_CONNS * PER_CONN + PER_WORKER)
        if ASAN:
            budget = budget * ASAN_FACTOR + ASAN_QUARANTINE
        limit = steady + budget
        memcg.set_limit(limit)
        memcg.reset_peak()
        print(f"\nsteady {steady >> 10} KiB (RSS {rss0} KiB, {fds0} fds); "
              f"a connection holding a 30 KiB head: {head_cost / 1024:.1f} "
              f"KiB; a slow reader: {reader_cost / 1024:.1f} KiB; "
              f"limit {limit >> 10} KiB ({'v2' if memcg.v2 else 'v1'})")

        release = threading.Event()
        peak_seen = [0]

        def guard(kind, fn):
            def run():
                try:
                    fn()
                except Exception as e:          # reported below
                    with lock:
                        errors.append(f"{kind}: {e!r}")
            return threading.Thread(target=run, name=kind)

        def head():
            c = raw.Conn(timeout=60)
            try:
                c.send(_partial_head())
                release.wait(60)
                c.send(b"\r\n")
                assert c.response().status == 200
                with lock:
                    results["heads"] += 1
            finally:
                c.close()

        def reader():
            c = raw.Conn(timeout=60)
            try:
                c.send(raw.request("GET", f"/bytes/{DOWNLOAD}"))
                release.wait(60)        # a slow reader: nothing read yet
                r = c.response()
                assert r.status == 200 and len(r.body) == DOWNLOAD
                assert r.body.count(b"x") == DOWNLOAD
                with lock:
                    results["readers"] += 1
            finally:
                c.close()

        def upload():
            p = raw.uniq("memup")
            c = raw.Conn(timeout=60)
            try:
                c.send(raw.request("POST", p, body=payload))
                r = c.response()
                assert r.status == 200, r
                j = r.json()
                assert (j["body_bytes"], j["body_fnv1a"]) == \
                    (UPLOAD, want_fnv), j
                with lock:
                    results["uploads"].append(p)
            finally:
                c.close()

        def pipe():
            c = raw.Conn(timeout=60)
            try:
                paths = [raw.uniq("pipe") for _ in range(PIPELINED)]
                c.send(b"".join(raw.request("GET", p) for p in paths))
                for p in paths:
                    r = c.response()
                    assert r.status == 200 and r.json()["path"] == p, r
                with lock:
                    results["pipes"] += 1
            finally:
                c.close()

        def waiter():
            c = raw.Conn(timeout=90)
            try:
                p = raw.uniq("wait")
                c.send(raw.request("GET", p))
                r = c.response()
                assert r.status == 200 and r.json()["path"] == p, r
                with lock:
                    results["waiters"] += 1
            finally:
                c.close()

        threads = ([guard("head", head) for _ in range(N_HEADS)] +
                   [guard("reader", reader) for _ in range(N_READERS)] +
                   [guard("upload", upload) for _ in range(N_UPLOADS)] +
                   [guard("pipe", pipe) for _ in range(N_PIPES)] +
                   [guard("waiter", waiter) for _ in range(N_WAITERS)])
        for t in threads:
            t.start()
        # hold the slow clients while the rest pushes through
        hold_end = time.monotonic() + 5
        while time.monotonic() < hold_end:
            peak_seen[0] = max(peak_seen[0], memcg.usage())
            assert s.alive(), h.tail(s.err_path)
            time.sleep(0.05)
        release.set()
        for t in threads:
            while t.is_alive():
                peak_seen[0] = max(peak_seen[0], memcg.usage())
                t.join(timeout=0.1)
                assert time.monotonic() < hold_end + 120, "load hangs"
        peak = max(peak_seen[0], memcg.peak() or 0)
        oom = memcg.oom_kills()
        alive = s.alive()
        time.sleep(1.0)
        fds1, pipes1 = _settle(s.pid, fds0)
        rss1 = raw.rss_kib(s.pid)
        after = memcg.usage()
        # still serving
        _warm(20)
    finally:
        s.shutdown()
    print(f"peak {peak >> 10} KiB of {limit >> 10} KiB; after: "
          f"{after >> 10} KiB, RSS {rss1} KiB, {fds1} fds + {pipes1} cached "
          f"pipe ends; oom_kill {oom}; "
          f"{results['heads']} heads, {results['readers']} slow readers, "
          f"{len(results['uploads'])} uploads, {results['pipes']} x "
          f"{PIPELINED} pipelined, {results['waiters']} waiters")
    assert oom == 0 and alive, f"sluiced OOM-killed under {limit} bytes"
    assert not errors, errors[:10]
    assert results == {"heads": N_HEADS, "readers": N_READERS,
                       "uploads": results["uploads"], "pipes": N_PIPES,
                       "waiters": N_WAITERS}
    assert len(results["uploads"]) == N_UPLOADS
    for p in results["uploads"]:
        e = raw.backend_entries(backends["b1"], p)
        assert len(e) == 1 and e[0]["body_bytes"] == UPLOAD and \
            e[0]["body_fnv1a"] == want_fnv, e
    assert fds1 <= fds0, f"descriptors {fds0} -> {fds1}"
    assert pipes1 <= PIPE_CACHE_FDS, f"{pipes1} pipe ends left open"
    # the head-buffer pool keeps up to 256 free blocks per worker; malloc
    # may keep a few MiB of arenas
    keep_kib = (WORKERS * 256 * HEAD_BUF >> 10) + 8 * 1024
    if ASAN:
        keep_kib += ASAN_QUARANTINE >> 10
    assert rss1 <= rss0 + keep_kib, \
        f"RSS {rss0} -> {rss1} KiB (allowed +{keep_kib} KiB)"


@pytest.mark.timeout(120)
def test_memory_limit_too_small_kills_observably(memcg, backends, workdir):
    """A limit below what the load needs: the kernel's OOM killer ends
    sluiced with SIGKILL (oom_kill counted); a supervisor sees a failed
    process and restarts it."""
    s = _start(memcg, workdir, "memsmall")
    conns = []
    try:
        _warm(20)
        time.sleep(0.5)
        memcg.set_limit(memcg.usage() + (2 << 20))
        # 128 heads of 30 KiB need about 4.5 MiB of buffers alone
        for _ in range(MAX_CONNS):
            try:
                c = raw.Conn(timeout=10)
                conns.append(c)
                c.send(_partial_head())
            except OSError:
                break           # killed already: refused or reset
            if not s.alive():
                break
        h.wait_for(lambda: not s.alive(), 20, 0.1,
                   what="sluiced killed by the OOM killer")
        oom = memcg.oom_kills()
    finally:
        for c in conns:
            c.close()
        s.stopped = True
        rc = s.stop(signal.SIGKILL)
    print(f"\nexit {rc}, oom_kill {oom}")
    assert rc == -signal.SIGKILL, f"exit status {rc}"
    assert oom >= 1
    # killed: nothing cleaned up, but with XDP off there is nothing to clean
    assert not h.PIN_ROOT.exists()
