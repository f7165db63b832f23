"""No data lost: access-log lines, metric counters and XDP state across
log rotation, reloads, a takeover upgrade and a crash.

- Every request a client got an answer for is one access-log line, once,
  whole, in the rotated files or the new one, while the log is rotated
  (rename + SIGUSR1, as logrotate does) and the daemon reloaded, under
  concurrent load from two workers' rings.
- No counter or histogram series of /metrics ever goes down, or vanishes,
  across many reloads under load; the request counter ends equal to the
  answers the clients got.
- `sluicectl upgrade` (takeover): the XDP counters, bans and rate-limit
  buckets live in the pinned maps and carry on; the daemon's own counters
  belong to the process and start again from zero in the new one
  (docs/OBSERVABILITY.md says so; `sluice_start_time_seconds` tells).
- A crashed daemon (SIGKILL) leaves its pins; the next start reuses them:
  counters, bans and buckets carry on (docs/OPERATIONS.md, "What is
  attached"); live allowlist edits do not (a start re-syncs from files).
- A denylist entry deleted live comes back at the next reload.

Load loops are bounded in time and in count; every process is stopped by
PID; the pins and the rotated files go with the test's workdir.
"""
import json
import os
import re
import signal
import threading
import time

import pytest

import helpers as h
import raw

ADMIN = "127.0.0.1:9900"
LOAD_THREADS = 4
LOAD_MAX_SECONDS = 40           # a bound, not a measurement
LOAD_MAX_PER_THREAD = 4000


# ---- helpers ----------------------------------------------------------------

def _config(workdir, name, log=None, workers=2, xdp_extra=(), allow=None,
            deny_file=None):
    extra = ""
    if log:
        extra = f"  access_log:\n    path: {log}\n    format: json\n"
    cfg = h.write_config(workdir, name, extra=extra, xdp_extra=xdp_extra,
                         allow=allow)
    text = cfg.read_text().replace("workers: 1\n", f"workers: {workers}\n")
    if deny_file:
        text = text.replace("  allowlist:\n", "  denylist:\n"
                            f"    files: [{deny_file}]\n  allowlist:\n", 1)
    cfg.write_text(text)
    return cfg


class Load:
    """THREADS client threads in the client namespace, each on keep-alive
    connections of up to 20 requests, every request a unique path. A path
    is recorded in `answered` only once its whole 200 response was read.
    Stops at stop(), after LOAD_MAX_SECONDS, or after LOAD_MAX_PER_THREAD
    requests per thread."""

    def __init__(self, prefix, threads=LOAD_THREADS):
        self.prefix = prefix
        self.answered = []
        self.errors = []
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.deadline = time.monotonic() + LOAD_MAX_SECONDS
        self.threads = [threading.Thread(target=self._run, args=(i,))
                        for i in range(threads)]

    def _run(self, tid):
        n = 0
        try:
            while (not self.stop_ev.is_set() and n < LOAD_MAX_PER_THREAD
                   and time.monotonic() < self.deadline):
                c = raw.Conn(timeout=10)
                try:
                    for _ in range(20):
                        if (self.stop_ev.is_set()
                                or n >= LOAD_MAX_PER_THREAD):
                            break
                        p = f"/{self.prefix}-{tid}-{n}"
                        n += 1
                        c.send(raw.request("GET", p))
                        r = c.response()
                        if r.status != 200 or r.json()["path"] != p:
                            raise AssertionError(f"{p}: {r}")
                        with self.lock:
                            self.answered.append(p)
                finally:
                    c.close()
        except Exception as e:          # reported by the main thread
            with self.lock:
                self.errors.append(f"thread {tid}: {e!r}")

    def count(self):
        with self.lock:
            return len(self.answered)

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def wait_for(self, n, what):
        h.wait_for(lambda: self.count() >= n or self.errors, 60,
                   what=what)
        assert not self.errors, self.errors

    def finish(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), "load hangs"
        assert not self.errors, self.errors
        return list(self.answered)


def _scrape():
    r = h.run(["nsenter", f"--net=/run/netns/{h.SRV_NS}", "curl", "-sS",
               "--max-time", "5", "-o", "-", "-w", "\n%{http_code}",
               f"http://{ADMIN}/metrics"], timeout=10, check=False)
    body, _, code = r.stdout.rpartition("\n")
    assert code == "200", f"/metrics: {code} {r.stderr}"
    return body


SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')


def _monotonic_series(text):
    """{series: value} of every counter and histogram series."""
    types, out = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"unparsable sample line {line!r}"
        name = m.group(1)
        fam = name
        for suf in ("_bucket", "_count", "_sum"):
            if name.endswith(suf) and types.get(name[:-len(suf)]) == \
                    "histogram":
                fam = name[:-len(suf)]
        if types.get(fam) in ("counter", "histogram"):
            out[name + (m.group(2) or "")] = float(m.group(3))
    return out


def _went_back(before, after):
    """Series of `before` that are missing from, or lower in, `after`."""
    bad = []
    for k, v in before.items():
        if k not in after:
            bad.append(f"{k} vanished (was {v})")
        elif after[k] < v:
            bad.append(f"{k} went from {v} to {after[k]}")
    return bad


def _sum(series, name, **labels):
    tot = 0.0
    for k, v in series.items():
        if k == name or k.startswith(name + "{"):
            if all(f'{lk}="{lv}"' in k for lk, lv in labels.items()):
                tot += v
    return tot


def _log_files(log):
    return sorted(log.parent.glob(log.name + ".*"),
                  key=lambda p: int(p.suffix[1:])) + [log]


def _log_paths(files):
    """Request paths of every line of files; asserts every line is whole
    JSON and every file ends with a newline (no torn line)."""
    paths = []
    for f in files:
        try:
            data = f.read_bytes()
        except FileNotFoundError:
            continue
        assert data == b"" or data.endswith(b"\n"), \
            f"{f.name}: ends in a partial line {data[-80:]!r}"
        for i, line in enumerate(data.splitlines()):
            try:
                paths.append(json.loads(line)["path"])
            except (ValueError, KeyError) as e:
                raise AssertionError(
                    f"{f.name}:{i + 1}: torn or invalid line {line[:200]!r}"
                    f" ({e})")
    return paths


def _gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _ban_cidrs(sock):
    r = h.run([h.SLUICECTL, "--socket", sock, "--json", "bans"])
    return {b["cidr"] for b in json.loads(r.stdout).get("bans", [])}


def _xdp_packets(series, reason):
    return _sum(series, "sluice_xdp_packets_total", reason=reason)


# ---- access log -------------------------------------------------------------

@pytest.mark.timeout(240)
def test_access_log_lines_equal_answers_across_rotation_and_reload(
        backends, workdir):
    log = workdir / "nl-access.log"
    cfg = _config(workdir, "nl-log", log)
    s = h.Sluiced(cfg, workdir, tag="nl-log")
    load = None
    try:
        s.start()
        load = Load("nl").start()
        rotations, reloads = 0, 0
        for step in range(8):
            load.wait_for(load.count() + 150, f"traffic before step {step}")
            if step % 2 == 0:
                rotations += 1
                log.rename(log.with_name(f"{log.name}.{rotations}"))
                s.p.send_signal(signal.SIGUSR1)
                h.wait_for(lambda: s.output().count("access log: reopened")
                           >= rotations, 10, what="reopen")
            else:
                reloads += 1
                s.p.send_signal(signal.SIGHUP)
                h.wait_for(lambda: s.output().count(
                    "reload: configuration applied") >= reloads, 10,
                    what="reload")
        load.wait_for(load.count() + 150, "traffic after the last step")
        answered = load.finish()
        load = None
        files = _log_files(log)
        assert len(files) == rotations + 1
        # the writer flushes every 50 ms: wait until every answer is there
        try:
            h.wait_for(lambda: len(_log_paths(files)) >= len(answered), 10,
                       what=f"{len(answered)} access-log lines")
        except AssertionError:
            pass                # the comparison below says what is missing
        time.sleep(0.3)         # a duplicate would come with the same flush
        paths = _log_paths(files)
        per_file = [len(_log_paths([f])) for f in files]
        dropped = _sum(_monotonic_series(_scrape()),
                       "sluice_access_log_dropped_total")
    finally:
        if load:
            load.stop_ev.set()
            for t in load.threads:
                t.join(timeout=60)
        s.shutdown()
    print(f"\n{len(answered)} answers, {len(paths)} lines in "
          f"{len(files)} files {per_file}, {rotations} rotations, "
          f"{reloads} reloads")
    assert dropped == 0
    dup = {p for p in paths if paths.count(p) > 1} if \
        len(set(paths)) != len(paths) else set()
    assert not dup, f"{len(dup)} requests logged more than once: " \
        f"{sorted(dup)[:5]}"
    missing = set(answered) - set(paths)
    assert not missing, f"{len(missing)} answered requests not logged: " \
        f"{sorted(missing)[:5]}"
    extra = set(paths) - set(answered)
    assert not extra, f"lines for requests never answered: {sorted(extra)[:5]}"
    assert len(paths) == len(answered)
    # every file got lines: rotation happened under load, not around it
    assert all(n > 0 for n in per_file), per_file


# ---- counters across reloads ------------------------------------------------

@pytest.mark.timeout(240)
def test_counters_never_go_backwards_across_reloads(backends, workdir):
    cfg = _config(workdir, "nl-ctr")
    s = h.Sluiced(cfg, workdir, tag="nl-ctr")
    load = None
    scrapes = []
    try:
        s.start()
        base = _monotonic_series(_scrape())
        scrapes.append(base)
        load = Load("ctr").start()
        load.wait_for(100, "traffic before the reloads")
        for i in range(40):
            s.p.send_signal(signal.SIGHUP)
            time.sleep(0.1)
            scrapes.append(_monotonic_series(_scrape()))
        h.wait_for(lambda: s.output().count(
            "reload: configuration applied") >= 1, 10, what="reloads")
        answered = load.finish()
        load = None

        def settled():
            last = _monotonic_series(_scrape())
            got = _sum(last, "sluice_http_requests_total") - \
                _sum(base, "sluice_http_requests_total")
            return last if got >= len(answered) else None
        try:
            final = h.wait_for(settled, 10, interval=0.2,
                               what="requests counted")
        except AssertionError:  # the checks below say what went wrong
            final = _monotonic_series(_scrape())
        scrapes.append(final)
        reloads = s.output().count("reload: configuration applied")
    finally:
        if load:
            load.stop_ev.set()
            for t in load.threads:
                t.join(timeout=60)
        s.shutdown()
    bad = []
    for i in range(1, len(scrapes)):
        bad += [f"scrape {i}: {b}" for b in
                _went_back(scrapes[i - 1], scrapes[i])]
    counted = _sum(final, "sluice_http_requests_total") - \
        _sum(base, "sluice_http_requests_total")
    print(f"\n{len(answered)} answers, {reloads} reloads applied, "
          f"{len(scrapes)} scrapes of {len(final)} counter/histogram series;"
          f" requests counted {counted:.0f}")
    assert not bad, "\n".join(bad[:20])
    assert reloads >= 20, f"only {reloads} reloads applied"
    assert counted == len(answered)
    assert _sum(final, "sluice_config_reloads_total", result="success") >= \
        reloads


# ---- takeover upgrade -------------------------------------------------------

@pytest.mark.timeout(240)
def test_upgrade_keeps_xdp_state_and_restarts_process_counters(backends,
                                                               workdir):
    name = "nl-upg"
    cfg = _config(workdir, name, xdp_extra=(
        "  rate_limit:", "    rate: 100000/s", "    burst: 100000"))
    sock = h.admin_socket_path(workdir, name)
    out = workdir / f"{name}-new.err"
    banned = "198.18.0.91/32"
    old = h.Sluiced(cfg, workdir, tag=name).start()
    new_pid = None
    try:
        for i in range(20):
            assert h.one(h.http(h.ALLOWED4, h.SRV4,
                                path=f"/upg-{i}"))["status"] == 200
        h.run([h.SLUICECTL, "--socket", sock, "ban", banned])
        before = _monotonic_series(_scrape())
        start_before = raw.metric(ADMIN, "sluice_start_time_seconds")
        bucket = h.bpftool_dump("sl_src4_v1")
        assert bucket, "no rate-limit state before the upgrade"
        r = h.run(["nsenter", f"--net=/run/netns/{h.SRV_NS}", h.SLUICECTL,
                   "--socket", sock, "--json", "upgrade", "--binary",
                   h.SLUICED, "--output", out], timeout=150, check=False,
                  env=h.sanitizer_env())
        assert r.returncode == 0, (r.stdout, r.stderr, h.tail(out))
        new_pid = json.loads(r.stdout)["pid"]
        assert old.p.wait(timeout=30) == 0
        after = _monotonic_series(_scrape())
        start_after = raw.metric(ADMIN, "sluice_start_time_seconds")
        # the pinned maps carried on: counters, the ban, the bucket
        for reason in h.REASONS:
            assert _xdp_packets(after, reason) >= \
                _xdp_packets(before, reason), reason
        assert _xdp_packets(after, "pass_allowed") > 0
        assert banned in _ban_cidrs(sock)
        keys = {json.dumps(e["key"]) for e in h.bpftool_dump("sl_src4_v1")}
        assert {json.dumps(e["key"]) for e in bucket} <= keys
        # the process's own counters started again, with a new start time
        assert start_after > start_before
        assert _sum(after, "sluice_http_requests_total") < \
            _sum(before, "sluice_http_requests_total")
        assert h.one(h.http(h.ALLOWED4, h.SRV4, path="/after"))["status"] \
            == 200
    finally:
        if old.alive():
            old.stop()
        else:
            old.stopped = True
            old.stop()
        if new_pid and not _gone(new_pid):
            os.kill(new_pid, signal.SIGTERM)
            h.wait_for(lambda: _gone(new_pid), 20, 0.1,
                       what="the upgraded sluiced to exit")
    old.check_sanitizers()
    assert h.sanitizer_report(out.read_text(errors="replace")) is None
    assert "sluiced stopped" in out.read_text()
    assert h.srv_link_xdp() == ""
    assert not h.PIN_ROOT.exists()


# ---- crash, then start again ------------------------------------------------

@pytest.mark.timeout(180)
def test_crash_restart_keeps_counters_bans_and_buckets(backends, workdir):
    """SIGKILL leaves XDP attached and the pins; the next start takes them
    over: counters, bans and buckets carry on. A live allowlist edit does
    not: the start re-syncs the tries from the files."""
    name = "nl-crash"
    cfg = _config(workdir, name, workers=1, xdp_extra=(
        "  rate_limit:", "    rate: 100000/s", "    burst: 100000"))
    sock = h.admin_socket_path(workdir, name)
    banned = "198.18.0.92/32"
    s1 = h.Sluiced(cfg, workdir, tag=name + "1").start()
    try:
        for i in range(10):
            assert h.one(h.http(h.ALLOWED4, h.SRV4,
                                path=f"/crash-{i}"))["status"] == 200
        h.run([h.SLUICECTL, "--socket", sock, "ban", banned])
        h.run([h.SLUICECTL, "--socket", sock, "allow", "add",
               f"{h.BLOCKED4}/32"])
        before = h.counters()
        bucket = {json.dumps(e["key"]) for e in h.bpftool_dump("sl_src4_v1")}
        assert bucket
    finally:
        s1.stopped = True
        s1.stop(signal.SIGKILL)
    assert h.srv_link_xdp() != "" and h.PIN_ROOT.exists()
    s2 = h.Sluiced(cfg, workdir, tag=name + "2").start()
    try:
        after = h.counters()
        for reason in h.REASONS:
            assert after[reason] >= before[reason], reason
        assert banned in _ban_cidrs(sock)
        keys = {json.dumps(e["key"]) for e in h.bpftool_dump("sl_src4_v1")}
        assert bucket <= keys
        r = h.run([h.SLUICECTL, "--socket", sock, "--json", "allow", "list"])
        cidrs = {e["cidr"] for e in json.loads(r.stdout)["entries"]}
        assert cidrs == {f"{h.ALLOWED4}/32", f"{h.ALLOWED6}/128"}, cidrs
        assert h.one(h.http(h.ALLOWED4, h.SRV4, path="/back"))["status"] \
            == 200
    finally:
        s2.shutdown()


# ---- live denylist delete ---------------------------------------------------

def test_live_deny_delete_is_undone_by_reload(backends, workdir):
    name = "nl-deny"
    deny = workdir / f"{name}-deny.txt"
    deny.write_text(f"{h.BLOCKED4}/32\n")
    cfg = _config(workdir, name, workers=1, deny_file=deny.name,
                  allow=[f"{h.ALLOWED4}/32", f"{h.BLOCKED4}/32",
                         f"{h.ALLOWED6}/128"])
    sock = h.admin_socket_path(workdir, name)
    s = h.Sluiced(cfg, workdir, tag=name).start()
    try:
        def denied():
            r = h.run([h.SLUICECTL, "--socket", sock, "--json", "deny",
                       "list"])
            return {e["cidr"] for e in json.loads(r.stdout)["entries"]}
        assert denied() == {f"{h.BLOCKED4}/32"}
        assert h.connect(h.BLOCKED4, h.SRV4, h.GW_PORT)["result"] == "timeout"
        h.run([h.SLUICECTL, "--socket", sock, "deny", "del",
               f"{h.BLOCKED4}/32"])
        assert denied() == set()
        assert h.one(h.http(h.BLOCKED4, h.SRV4, path="/undenied"))[
            "status"] == 200
        assert deny.read_text() == f"{h.BLOCKED4}/32\n"
        h.run([h.SLUICECTL, "--socket", sock, "reload"])
        assert denied() == {f"{h.BLOCKED4}/32"}
        assert h.connect(h.BLOCKED4, h.SRV4, h.GW_PORT)["result"] == "timeout"
    finally:
        s.shutdown()


# ---- upstream state across reloads ------------------------------------------

def test_reload_keeps_ejections_and_upstream_counters(backends, workdir):
    """docs/OPERATIONS.md: a reload keeps a service's state when its
    targets are unchanged; when they change, targets that stay keep their
    ejection state and new ones start in rotation."""
    name = "nl-ej"
    dead = f"{h.SRV4}:{h.DEAD_PORT}"
    svc = {"name": "api", "connect_timeout_ms": 1000,
           "outlier": {"consecutive_connect_failures": 1,
                       "base_ejection_ms": 60000}}
    top = {"admin": {"address": ADMIN,
                     "socket": str(h.admin_socket_path(workdir, name))}}
    routes = [{"name": "all", "path_prefix": "/", "service": "api"}]

    def write(targets):
        return raw.write_cfg(workdir, name, services=[
            {**svc, "targets": targets}], routes=routes, top=top)

    def states():
        r = h.run([h.SLUICECTL, "--socket", h.admin_socket_path(workdir,
                   name), "--json", "upstreams"], timeout=20)
        return {t["address"]: t["state"] for t in
                json.loads(r.stdout)["services"][0]["targets"]}

    def ejections():
        return _sum(_monotonic_series(_scrape()),
                    "sluice_upstream_ejections_total", target=dead)

    cfg = write([dead, f"{h.SRV4}:{h.B1_PORT}"])
    s = h.Sluiced(cfg, workdir, tag=name).start()
    try:
        for i in range(4):      # round robin: the dead one is tried, retried
            c = raw.Conn()
            c.send(raw.request("GET", f"/ej-{i}"))
            assert c.response().status == 200
            c.close()
        assert states()[dead] == "ejected"
        assert ejections() == 1
        s.p.send_signal(signal.SIGHUP)          # same targets
        h.wait_for(lambda: s.output().count(
            "reload: configuration applied") >= 1, 10, what="reload")
        assert states()[dead] == "ejected"
        assert ejections() == 1
        write([dead, f"{h.SRV4}:{h.B1_PORT}", f"{h.SRV4}:{h.B2_PORT}"])
        s.p.send_signal(signal.SIGHUP)          # one target more
        h.wait_for(lambda: s.output().count(
            "reload: configuration applied") >= 2, 10, what="reload")
        st = states()
        assert st[dead] == "ejected", st
        assert st[f"{h.SRV4}:{h.B2_PORT}"] == "healthy", st
        assert ejections() == 1
    finally:
        s.shutdown()
