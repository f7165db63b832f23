#!/usr/bin/env python3
"""HTTP proxy benchmark: Sluice vs NGINX vs HAProxy (make bench).

Everything runs inside a private network namespace on its loopback, so no
port is shared with anything else on the machine. Same origin for all three
(an NGINX instance serving fixed responses), same CPU pinning: the proxy
under test on CPU 0 with one worker/thread, the origin and wrk on CPU 1.

Scenarios (wrk, one run each, DURATION seconds after a short warm-up):
  small   keep-alive, 64 connections, ~100-byte responses
  16k     keep-alive, 64 connections, 16 KiB responses
  close   a new connection per request (Connection: close), 64 connections

Reported per proxy and scenario: requests/s, p50 and p99 latency, CPU
seconds used by the proxy, the origin and wrk during the run (to show which
side saturated). Then RSS per idle keep-alive connection: 10,000 client
connections each do one request and stay open; (RSS with them - RSS
before) / 10,000, measured on the proxy's worker process.

Output: a Markdown section on stdout (and in $OUT if set), also written
between the HTTP-BENCH markers of docs/BENCHMARKS.md (BENCH_NO_DOC=1: not).
"""
import contextlib
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("BUILD", REPO / "build"))
if not BUILD.is_absolute():
    BUILD = REPO / BUILD
SLUICED = BUILD / "sluiced"
DURATION = int(os.environ.get("BENCH_SECONDS", "6"))
CONNS = int(os.environ.get("BENCH_CONNS", "64"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
# HAProxy needs 2 x maxconn + 14 descriptors under the 20000 hard limit of
# this machine, so its maxconn is 9990: measure all three at 9900
IDLE_CONNS = int(os.environ.get("BENCH_IDLE_CONNS", "9900"))
# quick runs while tuning (the report then says what was left out):
# BENCH_PROXIES=Sluice,NGINX  BENCH_SCENARIOS=small,16k  BENCH_IDLE=0
PROXIES = os.environ.get("BENCH_PROXIES", "Sluice,NGINX,HAProxy").split(",")
SCENARIOS = os.environ.get("BENCH_SCENARIOS", "small,16k,close").split(",")
IDLE = os.environ.get("BENCH_IDLE", "1") != "0"
# BENCH_HALTPOLL_NS=200000: the guest kernel polls that long before it halts
# an idle vCPU (cpuidle-haltpoll; the kernel's default is 200000, this VM
# ships 0), restored afterwards. Such a run does not touch BENCHMARKS.md.
HALTPOLL = Path("/sys/module/haltpoll/parameters/guest_halt_poll_ns")
HALTPOLL_NS = os.environ.get("BENCH_HALTPOLL_NS", "")


def haltpoll_ns():
    try:
        return HALTPOLL.read_text().strip()
    except OSError:
        return None
NS = f"slb4-{os.getpid()}"
ORIGIN_PORT, SLUICE_PORT, NGINX_PORT, HAPROXY_PORT = 9101, 8101, 8102, 8103
# a second port of the same origin, for a service with two targets
# (scripts/bench_ab.py --conf-*, bench/conf/)
ORIGIN_PORT2 = 9102
PROXY_CPU, OTHER_CPU = "0", "1"


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True,
                          timeout=kw.pop("timeout", 60), **kw)


def in_ns(argv):
    return ["ip", "netns", "exec", NS] + [str(a) for a in argv]


class Proc:
    def __init__(self, name, argv, cpu, workdir):
        self.name = name
        self.log = open(Path(workdir) / f"{name}.log", "wb")
        self.p = subprocess.Popen(in_ns(["taskset", "-c", cpu] + argv),
                                  stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)

    def pids(self):
        """The process and its descendants (nginx master + worker)."""
        out = [self.p.pid]
        for pid in list(out):
            try:
                kids = Path(f"/proc/{pid}/task/{pid}/children").read_text()
            except OSError:
                continue
            out += [int(k) for k in kids.split()]
            for k in kids.split():
                try:
                    out += [int(x) for x in Path(
                        f"/proc/{k}/task/{k}/children").read_text().split()]
                except OSError:
                    pass
        return out

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=5)
        self.log.close()


def cpu_s(pids, user_only=False):
    """CPU seconds of pids and all their threads: user + system from the
    scheduler's run time (nanoseconds, /proc/PID/task/TID/schedstat), or
    user only from /proc/PID/stat (clock ticks of 10 ms: coarse)."""
    t = 0.0
    if not user_only:
        for pid in pids:
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                try:
                    t += int(Path(f"/proc/{pid}/task/{tid}/schedstat")
                             .read_text().split()[0]) / 1e9
                except (OSError, ValueError, IndexError):
                    pass
        return t
    for pid in pids:
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            t += int(f[11]) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return t


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = subprocess.run(in_ns(["bash", "-c",
                                  f"exec 3<>/dev/tcp/127.0.0.1/{port}"]),
                           capture_output=True, timeout=5)
        if r.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


# ---- configurations ----------------------------------------------------------

SMALL = "hello from the origin: a small response for the benchmark.\n" * 2
BIG = "x" * 16384


@contextlib.contextmanager
def origin_ns(prefix, prepare=None):
    """The set-up the A/B and callgrind scripts share: the open files
    limit raised, a fresh directory (prepare(d) fills it first, e.g. with
    certificates), a private network namespace with the NGINX origin on
    CPU 1. Yields (directory, started processes); on exit stops them
    (last first), deletes the namespace and, unless BENCH_KEEP is set, the
    directory."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    d = Path(tempfile.mkdtemp(prefix=prefix))
    d.chmod(0o755)      # nginx workers run as nobody
    sh(["ip", "netns", "add", NS])
    procs = []
    try:
        sh(["ip", "-n", NS, "link", "set", "lo", "up"])
        if prepare:
            prepare(d)
        (d / "origin.conf").write_text(origin_conf(d))
        procs.append(Proc("origin", ["nginx", "-p", d, "-c",
                                     d / "origin.conf", "-g", "daemon off;"],
                          OTHER_CPU, d))
        wait_port(ORIGIN_PORT)
        yield d, procs
    finally:
        for p in reversed(procs):
            p.stop()
        sh(["ip", "netns", "del", NS])
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(d, ignore_errors=True)


def origin_conf(d):
    (d / "origin").mkdir()
    (d / "www").mkdir()
    (d / "www" / "16k").write_text(BIG)
    return f"""
worker_processes 1;
pid {d}/origin.pid;
error_log {d}/origin-error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {d}/origin; proxy_temp_path {d}/origin;
  fastcgi_temp_path {d}/origin; uwsgi_temp_path {d}/origin;
  scgi_temp_path {d}/origin;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{ORIGIN_PORT} backlog=4096;
    listen 127.0.0.1:{ORIGIN_PORT2} backlog=4096;
    default_type text/plain;
    sendfile on;
    location = /16k {{ root {d}/www; }}
    location / {{ return 200 '{SMALL}'; }}
  }}
}}
"""


def nginx_conf(d, conns=19000):
    (d / "nginx").mkdir(exist_ok=True)
    return f"""
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections {conns}; }}
http {{
  access_log off;
  client_body_temp_path {d}/nginx; proxy_temp_path {d}/nginx;
  fastcgi_temp_path {d}/nginx; uwsgi_temp_path {d}/nginx;
  scgi_temp_path {d}/nginx;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  upstream origin {{ server 127.0.0.1:{ORIGIN_PORT}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{NGINX_PORT} backlog=4096 deferred;
    location / {{
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
    }}
  }}
}}
"""


def haproxy_conf(d, conns=9990):
    return f"""
global
  nbthread 1
  maxconn {conns}
  ulimit-n 20000
  log stdout format raw local0 err
defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 120s
  option http-keep-alive
frontend f
  bind 127.0.0.1:{HAPROXY_PORT} defer-accept
  default_backend b
backend b
  http-reuse always
  server origin 127.0.0.1:{ORIGIN_PORT} maxconn 1000
"""


def sluice_conf(d, conns=12000):
    return f"""
listeners:
  - name: bench
    address: 127.0.0.1:{SLUICE_PORT}
xdp:
  enabled: false
services:
  - name: origin
    targets: [127.0.0.1:{ORIGIN_PORT}]
    max_idle: 128
routes:
  - name: all
    service: origin
http:
  max_connections: {conns}
  keepalive_timeout_ms: 120000
workers: 1
logging:
  level: warn
"""


# ---- load ----------------------------------------------------------------------

def parse_wrk(text):
    def lat(label):
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if not m:
            return None
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else (
            v if m.group(2) == "ms" else v * 1000)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    errs = re.search(r"Socket errors:.*", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50": lat("50"), "p99": lat("99"),
        "errors": (errs.group(0) if errs else "") +
                  (f" non-2xx={non2xx.group(1)}" if non2xx else ""),
    }


def run_wrk(port, path, close, seconds, procs, headers=()):
    argv = ["taskset", "-c", OTHER_CPU, "wrk", "-t1", f"-c{CONNS}",
            f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if close:
        argv += ["-H", "Connection: close"]
    for h in headers:
        argv += ["-H", h]
    argv.append(f"http://127.0.0.1:{port}{path}")
    before = {k: cpu_s(v) for k, v in procs.items()}
    user0 = {k: cpu_s(v, True) for k, v in procs.items()}
    t0 = time.monotonic()
    r = subprocess.run(in_ns(argv), capture_output=True, text=True,
                       timeout=seconds + 60)
    wall = time.monotonic() - t0
    after = {k: cpu_s(v) for k, v in procs.items()}
    user1 = {k: cpu_s(v, True) for k, v in procs.items()}
    res = parse_wrk(r.stdout)
    res["cpu"] = {k: (after[k] - before[k]) / wall for k in procs}
    res["user"] = {k: (user1[k] - user0[k]) / wall for k in procs}
    res["raw"] = r.stdout
    return res


def per_core(r):
    """Requests/s per CPU second of the proxy."""
    return r["rps"] / max(r["cpu"]["proxy"], 0.01)


def median_of(rounds):
    """One result from several rounds: the median of each number, and the
    spread of requests/s per proxy core."""
    def med(vals):
        vals = sorted(v for v in vals if v is not None)
        if not vals:
            return None
        m = len(vals) // 2
        return vals[m] if len(vals) % 2 else (vals[m - 1] + vals[m]) / 2
    pcs = [per_core(r) for r in rounds]
    return {
        "rps": med([r["rps"] for r in rounds]),
        "p50": med([r["p50"] for r in rounds]),
        "p99": med([r["p99"] for r in rounds]),
        "cpu": {k: med([r["cpu"][k] for r in rounds])
                for k in rounds[0]["cpu"]},
        "per_core": med(pcs),
        "per_core_range": (min(pcs), max(pcs)),
        "per_core_rounds": pcs,
        "p99_range": (min((r["p99"] for r in rounds if r["p99"] is not None),
                          default=None),
                      max((r["p99"] for r in rounds if r["p99"] is not None),
                          default=None)),
        "errors": "; ".join(sorted({r["errors"].strip() for r in rounds
                                    if r["errors"].strip()})),
        "rounds": len(rounds),
    }


def idle_rss(port, pid, n):
    """RSS (KiB) of pid before and after n idle keep-alive connections."""
    import threading
    out = {}

    def work():
        fd = os.open(f"/run/netns/{NS}", os.O_RDONLY)
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, 0x40000000) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        os.close(fd)
        # warm-up: 64 connections, 30 requests each, then closed (rings
        # and caches touched once, little freed heap left behind)
        warm = _open(port, 64)
        for _ in range(30):
            _exchange(warm)
        for s in warm:
            s.close()
        time.sleep(1)
        out["before"] = rss_kib(pid)
        socks = []
        for i in range(0, n, 500):
            w = _open(port, min(500, n - i))
            _exchange(w)
            socks += w
        time.sleep(1)
        out["after"] = rss_kib(pid)
        out["alive"] = len(socks)
        for s in socks:
            s.close()
    t = threading.Thread(target=work)
    t.start()
    t.join()
    return out


def _open(port, n):
    socks = []
    sel = selectors.DefaultSelector()
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        sel.register(s, selectors.EVENT_WRITE)
        socks.append(s)
    left, deadline = n, time.monotonic() + 30
    while left and time.monotonic() < deadline:
        for k, _ in sel.select(1):
            sel.unregister(k.fileobj)
            left -= 1
    sel.close()
    if left:
        raise RuntimeError(f"{left} connects did not complete")
    return socks


def _exchange(socks):
    sel = selectors.DefaultSelector()
    pend = {}
    for s in socks:
        s.send(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
        pend[s] = b""
        sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + 60
    while pend and time.monotonic() < deadline:
        for k, _ in sel.select(1):
            s = k.fileobj
            d = s.recv(65536)
            if not d:
                raise RuntimeError("connection closed by the proxy")
            buf = pend[s] + d
            head, sep, body = buf.partition(b"\r\n\r\n")
            m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            if sep and m and len(body) >= int(m.group(1)):
                del pend[s]
                sel.unregister(s)
            else:
                pend[s] = buf
    sel.close()
    if pend:
        raise RuntimeError(f"{len(pend)} responses missing")


# ---- main ------------------------------------------------------------------------

def main():
    for tool in ("nginx", "haproxy", "wrk", "taskset"):
        if not shutil.which(tool):
            print(f"bench-http: '{tool}' not found (bash scripts/deps.sh)",
                  file=sys.stderr)
            return 77
    if not SLUICED.exists():
        print(f"bench-http: {SLUICED} missing (make)", file=sys.stderr)
        return 1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    halt0 = haltpoll_ns()
    if HALTPOLL_NS:
        if halt0 is None:
            print(f"bench-http: {HALTPOLL} missing", file=sys.stderr)
            return 1
        HALTPOLL.write_text(HALTPOLL_NS)
    try:
        return run(hard)
    finally:
        if HALTPOLL_NS:
            HALTPOLL.write_text(halt0)


def run(hard):
    """The benchmark proper; hard: the open-files limit."""
    d = Path(tempfile.mkdtemp(prefix="sluice-bench-"))
    d.chmod(0o755)      # nginx workers run as nobody
    sh(["ip", "netns", "add", NS])
    procs = []
    try:
        sh(["ip", "-n", NS, "link", "set", "lo", "up"])
        (d / "origin.conf").write_text(origin_conf(d))
        (d / "nginx.conf").write_text(nginx_conf(d))
        (d / "haproxy.cfg").write_text(haproxy_conf(d))
        (d / "sluice.yaml").write_text(sluice_conf(d))
        # the same with room for 1000 connections: startup memory that
        # grows with the configured connection limit (preallocated)
        (d / "nginx-small.conf").write_text(nginx_conf(d, 1000))
        (d / "haproxy-small.cfg").write_text(haproxy_conf(d, 1000))
        (d / "sluice-small.yaml").write_text(sluice_conf(d, 1000))
        origin = Proc("origin", ["nginx", "-p", d, "-c", d / "origin.conf",
                                 "-g", "daemon off;"], OTHER_CPU, d)
        procs.append(origin)
        wait_port(ORIGIN_PORT)
        def argv_of(name, small=False):
            sfx = "-small" if small else ""
            return {
                "Sluice": ["bash", "-c", f"ulimit -n {hard}; exec {SLUICED} "
                           f"-c {d}/sluice{sfx}.yaml"],
                "NGINX": ["nginx", "-p", d, "-c", d / f"nginx{sfx}.conf",
                          "-g", "daemon off;"],
                "HAProxy": ["haproxy", "-db", "-f", d / f"haproxy{sfx}.cfg"],
            }[name]
        limits = {"Sluice": 12000, "NGINX": 19000, "HAProxy": 9990}
        proxies = {n: (argv_of(n), port) for n, port in (
            ("Sluice", SLUICE_PORT), ("NGINX", NGINX_PORT),
            ("HAProxy", HAPROXY_PORT)) if n in PROXIES}
        prealloc = {}
        results, idle = {}, {}
        load0 = os.getloadavg()
        # all three run side by side (idle ones cost nothing), and the
        # rounds interleave them, so that drift of the machine hits each
        # proxy alike; each number reported is the median of the rounds
        running = {}
        for name, (argv, port) in proxies.items():
            p = Proc(name.lower(), argv, PROXY_CPU, d)
            procs.append(p)
            wait_port(port)
            running[name] = p
            print(f"{name}: pids {p.pids()}", file=sys.stderr)
        time.sleep(0.5)
        runs = {}
        for rnd in range(ROUNDS):
            for scen, path, close in (("small", "/", False),
                                      ("16k", "/16k", False),
                                      ("close", "/", True)):
                if scen not in SCENARIOS:
                    continue
                for name, (argv, port) in proxies.items():
                    p = running[name]
                    run_wrk(port, path, close, 2, {})       # warm-up
                    r = run_wrk(port, path, close, DURATION, {
                        "proxy": p.pids(), "origin": origin.pids()})
                    runs.setdefault((name, scen), []).append(r)
                    if os.environ.get("BENCH_RAW"):
                        print(r["raw"], file=sys.stderr)
                    print(f"round {rnd + 1} {name} {scen}: {r['rps']:.0f} "
                          f"req/s, {per_core(r):.0f} per core", file=sys.stderr)
        for name, p in running.items():
            p.stop()
            procs.remove(p)
        results.update({k: median_of(v) for k, v in runs.items()})
        for name, (argv, port) in proxies.items():
            if not IDLE:
                continue
            # idle connections and startup memory: fresh processes
            start_rss = {}
            for small in (False, True):
                q = Proc(name.lower() + ("-small" if small else "-idle"),
                         argv_of(name, small), PROXY_CPU, d)
                procs.append(q)
                wait_port(port)
                time.sleep(1)
                start_rss[small] = rss_kib(q.pids()[-1])
                if not small:
                    idle[name] = idle_rss(port, q.pids()[-1], IDLE_CONNS)
                    idle[name]["start"] = start_rss[small]
                q.stop()
                procs.remove(q)
            prealloc[name] = ((start_rss[False] - start_rss[True]) * 1024 /
                              (limits[name] - 1000), limits[name])
            print(f"{name} idle: {idle[name]} prealloc {prealloc[name]}",
                  file=sys.stderr)
        load1 = os.getloadavg()
        report(results, idle, prealloc, load0, load1)
    finally:
        for p in procs:
            p.stop()
        subprocess.run(["ip", "netns", "del", NS], capture_output=True,
                       timeout=10)
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(d, ignore_errors=True)
    return 0


def report(results, idle, prealloc, load0, load1):
    names = ["Sluice", "NGINX", "HAProxy"]
    out = []
    w = out.append
    w(f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
      f"{os.cpu_count()} CPUs, kernel {os.uname().release}; "
      f"load average before {load0[0]:.2f}, after {load1[0]:.2f}; "
      f"{ROUNDS} interleaved rounds of {DURATION} s per proxy and scenario "
      f"(after a 2 s warm-up each), every number the median of the rounds; "
      f"{CONNS} connections, "
      "wrk -t1. Proxy pinned to CPU 0 (one worker/thread), origin (NGINX, "
      "1 worker) and wrk pinned to CPU 1; guest halt polling "
      f"(guest_halt_poll_ns) {haltpoll_ns() or 'n/a'}"
      f"{' (set for this run)' if HALTPOLL_NS else ''}.")
    w("")
    titles = {"small": "keep-alive, small responses (118 B)",
              "16k": "keep-alive, 16 KiB responses",
              "close": "new connection per request"}
    for scen in ("small", "16k", "close"):
        if scen not in SCENARIOS:
            continue
        w(f"**{titles[scen]}**")
        w("")
        w("| proxy | requests/s | per proxy core | (rounds: min-max) | p50 ms | p99 ms | (rounds: min-max) | proxy CPU | origin CPU | errors |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for n in names:
            r = results.get((n, scen))
            if not r:
                continue
            lo, hi = r["per_core_range"]
            plo, phi = r["p99_range"]
            w(f"| {n} | {r['rps']:.0f} | {r['per_core']:.0f} | {lo:.0f}-{hi:.0f} "
              f"| {fmt(r['p50'])} | {fmt(r['p99'])} | {fmt(plo)}-{fmt(phi)} "
              f"| {r['cpu']['proxy'] * 100:.0f}% | {r['cpu']['origin'] * 100:.0f}% "
              f"| {r['errors'] or '-'} |")
        others = [n for n in names[1:] if (n, scen) in results]
        if others and ("Sluice", scen) in results:
            best = max(others, key=lambda n: results[(n, scen)]["per_core"])
            s, b = results[("Sluice", scen)], results[(best, scen)]
            ratio = s["per_core"] / b["per_core"]
            p99_ok = s["p99"] is not None and b["p99"] is not None and \
                s["p99"] <= b["p99"]
            w("")
            # the same ratio round by round (the rounds interleave the
            # proxies, so each pair saw about the same machine)
            pairs = ", ".join(f"{x / y:.2f}" for x, y in zip(
                s["per_core_rounds"], b["per_core_rounds"]))
            w(f"Sluice / best other ({best}), requests/s per proxy core: "
              f"**{ratio:.2f}x** (round by round: {pairs}); p99 "
              f"{fmt(s['p99'])} ms vs "
              f"{fmt(b['p99'])} ms ({'no worse' if p99_ok else 'worse'}). "
              f"Goal (>= 1.3x, p99 no worse): "
              f"**{'met' if ratio >= 1.3 and p99_ok else 'not met'}**.")
        w("")
    w("**RSS per idle keep-alive connection** "
      f"({IDLE_CONNS} connections, one request each, then idle)")
    w("")
    w("| proxy | RSS at start (KiB) | after warm-up | with the connections | bytes per connection | preallocated per configured connection | total per connection |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    for n in names:
        i = idle.get(n)
        if i:
            per = (i["after"] - i["before"]) * 1024 / max(1, i["alive"])
            pre, lim = prealloc.get(n, (0, 0))
            pre = max(pre, 0)
            w(f"| {n} | {i['start']} | {i['before']} | {i['after']} | {per:.0f} "
              f"| {pre:.0f} (limit {lim}) | {per + pre:.0f} |")
    text = "\n".join(out) + "\n"
    print(text)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"]).write_text(text)
    partial = (set(PROXIES) != set(names) or len(SCENARIOS) < 3 or not IDLE
               or HALTPOLL_NS)
    if not os.environ.get("BENCH_NO_DOC") and not partial:
        write_doc(text)


BEGIN = "<!-- HTTP-BENCH:BEGIN (written by scripts/bench-http.sh; do not edit) -->"
END = "<!-- HTTP-BENCH:END -->"


def write_doc(text):
    """Replace the section between the HTTP-BENCH markers of
    docs/BENCHMARKS.md (appended when missing); the rest is left alone."""
    doc = REPO / "docs" / "BENCHMARKS.md"
    old = doc.read_text() if doc.exists() else "# Benchmarks\n"
    block = f"{BEGIN}\n{text}{END}"
    pat = re.compile(re.escape(BEGIN.split(" (")[0]) + r".*?" + re.escape(END),
                     re.S)
    if pat.search(old):
        new = pat.sub(lambda m: block, old)
    else:
        new = old.rstrip("\n") + "\n\n## HTTP proxy (`make bench`)\n\n" + \
            block + "\n"
    doc.write_text(new)


def fmt(v):
    return "-" if v is None else f"{v:.2f}"


if __name__ == "__main__":
    sys.exit(main())
