#!/usr/bin/env python3
"""TLS termination benchmark: Sluice vs NGINX vs HAProxy, side by side.

The same set-up as bench_http.py (whose helpers it uses): a private network
namespace, one origin (an NGINX worker serving fixed responses: ~118 B at
/ and 16 KiB at /16k), each proxy with one worker on CPU 0, the clients
and the origin on CPU 1. Every proxy listens twice, once with an ECDSA
P-256 and once with an RSA-2048 certificate (both made for the run).
TLS 1.3 by default; BENCH_TLS_VERSION=1.2 makes every client offer at most
TLS 1.2 (s_time -tls1_2, Python's maximum_version, and for wrk an
OPENSSL_CONF with MaxProtocol = TLSv1.2).

All proxies run at once (the ones not measured sit idle) and each round
measures them one after the other (the order turns each round),
BENCH_ROUNDS rounds (3): every figure is the median of the rounds, with
the spread (min-max).

Steps (BENCH_STEPS, comma separated; all by default):
  full-ecdsa  full handshakes, ECDSA cert: BENCH_HS_CLIENTS (2) parallel
              `openssl s_time -new` for BENCH_SECONDS (4): handshakes/s and
              the proxy's CPU time per handshake (/proc/PID/task/*/schedstat)
  full-rsa    the same with the RSA-2048 certificate
  resumed     resumed handshakes (ECDSA listener): a Python client that
              takes one session (ticket; a TLS 1.3 PSK) and resumes it over
              and over (s_time -reuse never resumes TLS 1.3: it closes
              before the server's tickets arrive); the share that really
              resumed is checked
  ka-small    keep-alive HTTPS, wrk -t1 -c BENCH_CONNS (64), ~118 B responses
  ka-16k      the same, 16 KiB responses
  scale       1 worker (CPU 0) vs 2 workers (CPUs 0-1) of each proxy in
              BENCH_SCALE (Sluice,NGINX,HAProxy): full RSA-2048 handshakes
              with 4 s_time clients (RSA: the server's signature costs ~30
              times the client's verification, so the proxy and not the
              clients is the limit) and keep-alive small responses with
              wrk -t2; clients on both CPUs (they share them with the
              2-worker proxies)
  h2-many     HTTP/2 over TLS (ALPN h2, ECDSA listener), many streams per
              connection: h2load -c BENCH_H2_CONNS (4) -m BENCH_H2_STREAMS
              (100) for BENCH_SECONDS, ~118 B responses; requests/s,
              requests per proxy CPU second, p99 from h2load's per-request
              log (h2load prints no percentiles)
  h2-one      the same with one stream per connection: h2load -c CONNS
              (64) -m 1, each connection carrying requests one at a time
  idle        RSS per idle TLS keep-alive connection: a fresh process per
              proxy, warmed up (64 connections x 30 requests, closed); then
              BENCH_IDLE_CONNS (9900: HAProxy's most
              under the hard open-files limit of 20,000) connections each complete a handshake
              and one request and stay open; (RSS after - RSS before) / N
              (a Python client with selectors on CPU 1, bounded in time)

Output: Markdown tables on stdout (and in $OUT if set), JSON with every
round in build/bench/tls-results.json (BENCH_JSON overrides).
"""
import json
import os
import re
import resource
import selectors
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_http as b  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "4"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
VERSION = os.environ.get("BENCH_TLS_VERSION", "1.3")
CONNS = int(os.environ.get("BENCH_CONNS", "64"))
HS_CLIENTS = int(os.environ.get("BENCH_HS_CLIENTS", "2"))
IDLE_CONNS = int(os.environ.get("BENCH_IDLE_CONNS", "9900"))
ALL_STEPS = ["full-ecdsa", "full-rsa", "resumed", "ka-small", "ka-16k",
             "h2-many", "h2-one", "scale", "idle"]
MAIN_STEPS = ALL_STEPS[:7]
H2_CONNS = int(os.environ.get("BENCH_H2_CONNS", "4"))
# Idle upstream connections kept (Sluice max_idle, NGINX keepalive; HAProxy
# keeps every one): above the streams in flight of h2-many (4 x 100), or
# the pools close and reopen connections as the number in use wavers
POOL_IDLE = 512
H2_STREAMS = int(os.environ.get("BENCH_H2_STREAMS", "100"))
STEPS = os.environ.get("BENCH_STEPS", ",".join(ALL_STEPS)).split(",")
NAMES = ["Sluice", "NGINX", "HAProxy"]
PROXIES = [n for n in os.environ.get("BENCH_PROXIES",
                                     ",".join(NAMES)).split(",") if n]
SCALE = [n for n in os.environ.get("BENCH_SCALE",
                                   ",".join(NAMES)).split(",") if n]
JSON_OUT = Path(os.environ.get("BENCH_JSON", b.BUILD / "bench" /
                               "tls-results.json"))
# ECDSA, RSA listener of the one-worker instances; ECDSA of the 2-worker ones
PORTS = {"Sluice": (8441, 8451), "NGINX": (8442, 8452),
         "HAProxy": (8443, 8453)}
PORTS2 = {"Sluice": 8461, "NGINX": 8462, "HAProxy": 8463}
BOTH_CPUS = "0,1"


def origin_ns(prefix):
    """bench_http.origin_ns with this run's certificates in the directory
    (the HTTP/2 A/B and callgrind scripts)."""
    return b.origin_ns(prefix, make_certs)


def make_certs(d):
    for kind, opts in (("ec", ["-newkey", "ec", "-pkeyopt",
                               "ec_paramgen_curve:P-256"]),
                       ("rsa", ["-newkey", "rsa:2048"])):
        b.sh(["openssl", "req", "-x509"] + opts +
             ["-nodes", "-days", "2", "-subj", "/CN=bench.test", "-addext",
              "subjectAltName=DNS:bench.test,IP:127.0.0.1",
              "-keyout", str(d / f"{kind}.key"), "-out",
              str(d / f"{kind}.pem")])
        (d / f"{kind}.both.pem").write_text(
            (d / f"{kind}.pem").read_text() + (d / f"{kind}.key").read_text())
    # wrk has no TLS version option: its OpenSSL reads this at start
    (d / "client-tls12.cnf").write_text(
        "openssl_conf = openssl_init\n[openssl_init]\nssl_conf = ssl_sect\n"
        "[ssl_sect]\nsystem_default = sys_sect\n[sys_sect]\n"
        "MaxProtocol = TLSv1.2\n")


# ---- proxy configurations ------------------------------------------------------
# max connections: room for the idle step (10,000 client connections plus
# a few upstream ones) under the hard open-files limit of 20,000


def listeners(name, workers):
    """(port, certificate) pairs: the one-worker instances listen with
    both certificates, the 2-worker ones (scaling step) with RSA only."""
    if workers > 1:
        return [(PORTS2[name], "rsa")]
    return [(PORTS[name][0], "ec"), (PORTS[name][1], "rsa")]


def sluice_conf(d, workers=1):
    lst = "".join(f"""
  - name: bench-{kind}
    address: 127.0.0.1:{port}
    tls:
      alpn: [h2, http/1.1]
      certificates: [{{cert: {d}/{kind}.pem, key: {d}/{kind}.key}}]
""" for port, kind in listeners("Sluice", workers))
    return f"""
listeners:{lst}
xdp:
  enabled: false
services:
  - name: origin
    targets: [127.0.0.1:{b.ORIGIN_PORT}]
    max_idle: {POOL_IDLE}
routes:
  - name: all
    service: origin
http:
  max_connections: 12000
  keepalive_timeout_ms: 120000
workers: {workers}
logging:
  level: warn
"""


def nginx_conf(d, workers=1, tag=""):
    (d / "nginx").mkdir(exist_ok=True)
    servers = listeners("NGINX", workers)
    srv = "".join(f"""
  server {{
    listen 127.0.0.1:{port} ssl http2 backlog=4096;
    ssl_certificate {d}/{kind}.pem;
    ssl_certificate_key {d}/{kind}.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {{
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}""" for port, kind in servers)
    return f"""
worker_processes {workers};
pid {d}/nginx{tag}.pid;
error_log {d}/nginx{tag}-error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 19000; }}
http {{
  access_log off;
  client_body_temp_path {d}/nginx; proxy_temp_path {d}/nginx;
  fastcgi_temp_path {d}/nginx; uwsgi_temp_path {d}/nginx;
  scgi_temp_path {d}/nginx;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  upstream origin {{ server 127.0.0.1:{b.ORIGIN_PORT}; keepalive {POOL_IDLE}; }}
{srv}
}}
"""


def haproxy_conf(d, workers=1):
    binds = "".join(f"  bind 127.0.0.1:{port} ssl crt {d}/{kind}.both.pem "
                    "alpn h2,http/1.1\n"
                    for port, kind in listeners("HAProxy", workers))
    # HAProxy wants 2 x maxconn + 15 descriptors and refuses to start
    # past the hard limit of 20,000: 9990 is its most, hence 9,900 idle
    return f"""
global
  nbthread {workers}
  maxconn 9990
  ulimit-n 20000
  ssl-default-bind-options ssl-min-ver TLSv1.2
  log stdout format raw local0 err
defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 120s
  option http-keep-alive
frontend f
{binds}  default_backend b
backend b
  http-reuse always
  server origin 127.0.0.1:{b.ORIGIN_PORT} maxconn 1000
"""


def argv_of(name, d, workers=1, tag=""):
    f = d / f"{name.lower()}{tag}"
    if name == "Sluice":
        f = f.with_suffix(".yaml")
        f.write_text(sluice_conf(d, workers))
        return [b.SLUICED, "-c", f]
    if name == "NGINX":
        f = f.with_suffix(".conf")
        f.write_text(nginx_conf(d, workers, tag))
        return ["nginx", "-p", d, "-c", f, "-g", "daemon off;"]
    f = f.with_suffix(".cfg")
    f.write_text(haproxy_conf(d, workers))
    return ["haproxy", "-db", "-f", f]


# ---- clients -------------------------------------------------------------------

def client_env(d):
    env = dict(os.environ)
    if VERSION == "1.2":
        env["OPENSSL_CONF"] = str(d / "client-tls12.cnf")
    return env


def s_time(port, cpu, clients, pids):
    """clients parallel `openssl s_time -new`: (handshakes, seconds, proxy
    CPU seconds)."""
    flag = "-tls1_3" if VERSION == "1.3" else "-tls1_2"
    argv = ["taskset", "-c", cpu, "openssl", "s_time", "-connect",
            f"127.0.0.1:{port}", "-new", flag, "-time", str(SECONDS)]
    c0 = b.cpu_s(pids)
    t0 = time.monotonic()
    ps = [subprocess.Popen(b.in_ns(argv), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
          for _ in range(clients)]
    n = rate = 0
    for p in ps:
        try:
            out, _ = p.communicate(timeout=SECONDS + 30)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        for line in out.splitlines():
            m = re.match(r"(\d+) connections in ([\d.]+) real seconds", line)
            if m:
                n += int(m.group(1))
                rate += int(m.group(1)) / max(float(m.group(2)), 1e-3)
    wall = time.monotonic() - t0
    c1 = b.cpu_s(pids)
    return n, wall, c1 - c0, rate


def handshake_result(n, wall, cpu, rate=None):
    """rate: handshakes/s as the clients timed them (else n / SECONDS);
    proxy_cpu: its CPU seconds per wall second of the whole step."""
    return {"hs_per_s": rate if rate is not None else n / SECONDS,
            "cpu_us": cpu / max(n, 1) * 1e6,
            "hs_per_cpu_s": n / max(cpu, 1e-6), "proxy_cpu": cpu / wall,
            "n": n}


def resumed(port, pids, d):
    argv = ["taskset", "-c", b.OTHER_CPU, "/usr/bin/python3",
            Path(__file__).resolve(), "resume-client", str(port),
            str(SECONDS), VERSION]
    c0 = b.cpu_s(pids)
    t0 = time.monotonic()
    ps = [subprocess.Popen(b.in_ns(argv), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
          for _ in range(HS_CLIENTS)]
    n = reused = 0
    secs = []
    for p in ps:
        try:
            out, err = p.communicate(timeout=SECONDS + 30)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        try:
            r = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            print(f"resume client: {out} {err}", file=sys.stderr)
            continue
        n += r["n"]
        reused += r["reused"]
        secs.append(r["seconds"])
    wall = time.monotonic() - t0
    c1 = b.cpu_s(pids)
    res = handshake_result(n, wall, c1 - c0)
    res["hs_per_s"] = n / max(statistics.mean(secs) if secs else SECONDS,
                              1e-6)
    res["resumed_share"] = reused / max(n, 1)
    return res


def wrk(port, path, cpu, threads, pids, d, seconds=None):
    seconds = seconds or SECONDS
    argv = ["taskset", "-c", cpu, "wrk", f"-t{threads}", f"-c{CONNS}",
            f"-d{seconds}s", "--latency", "--timeout", "5s",
            f"https://127.0.0.1:{port}{path}"]
    c0 = b.cpu_s(pids)
    t0 = time.monotonic()
    r = subprocess.run(b.in_ns(argv), capture_output=True, text=True,
                       timeout=seconds + 30, env=client_env(d))
    wall = time.monotonic() - t0
    c1 = b.cpu_s(pids)
    res = b.parse_wrk(r.stdout)
    res["proxy_cpu"] = (c1 - c0) / wall
    res["req_per_cpu_s"] = res["rps"] / max(res["proxy_cpu"], 0.01)
    return res


def h2load(port, conns, streams, pids, d):
    """h2load over TLS with ALPN h2 against the ECDSA listener, one client
    thread on the other CPU; p99 from its per-request log."""
    log = d / "h2load.log"
    argv = ["taskset", "-c", b.OTHER_CPU, "h2load", "-D", str(SECONDS),
            "-c", str(conns), "-m", str(streams), "-t", "1",
            "--log-file", str(log), f"https://127.0.0.1:{port}/"]
    c0 = b.cpu_s(pids)
    t0 = time.monotonic()
    r = subprocess.run(b.in_ns(argv), capture_output=True, text=True,
                       timeout=SECONDS + 30, env=client_env(d))
    wall = time.monotonic() - t0
    c1 = b.cpu_s(pids)
    ok = fail = 0
    lat = []
    for line in log.read_text().splitlines() if log.exists() else []:
        f = line.split("\t")
        if len(f) < 3:
            continue
        if f[1].startswith("2"):
            ok += 1
            lat.append(int(f[2]))
        else:
            fail += 1
    log.unlink(missing_ok=True)
    m = re.search(r"Application protocol: (\S+)", r.stdout, re.I)
    if not m or m.group(1) != "h2" or not ok:
        raise RuntimeError(f"h2load on {port}: no h2 responses: "
                           f"{r.stdout[-400:]} {r.stderr[-200:]}")
    lat.sort()
    rps = ok / SECONDS
    cpu = (c1 - c0) / wall
    return {"rps": rps, "req_per_cpu_s": ok / max(c1 - c0, 1e-6),
            "proxy_cpu": cpu, "p99": lat[int(len(lat) * 0.99)] / 1000.0,
            "failed": float(fail)}


def client_ctx(version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    v = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = v
    return ctx


def resume_client(port, seconds, version):
    """Runs in the namespace: one full handshake and a request (which
    reads the tickets), then resumed handshakes with that session until
    the time is up; prints JSON."""
    ctx = client_ctx(version)
    addr = ("127.0.0.1", int(port))
    with socket.create_connection(addr) as raw:
        with ctx.wrap_socket(raw, server_hostname="bench.test") as t:
            t.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n"
                      b"Connection: close\r\n\r\n")
            while t.recv(65536):
                pass
            sess = t.session
    n = reused = 0
    t0 = time.monotonic()
    end = t0 + float(seconds)
    while time.monotonic() < end:
        raw = socket.create_connection(addr)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t = ctx.wrap_socket(raw, server_hostname="bench.test", session=sess)
        n += 1
        reused += t.session_reused
        t.close()
    print(json.dumps({"n": n, "reused": reused,
                      "seconds": time.monotonic() - t0}))


# ---- idle connections ----------------------------------------------------------

REQ = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


def _step_handshake(t):
    try:
        t.do_handshake()
        return 0
    except ssl.SSLWantReadError:
        return selectors.EVENT_READ
    except ssl.SSLWantWriteError:
        return selectors.EVENT_WRITE


def _read_response(t, buf):
    """Reads what there is; returns (buf, done)."""
    while True:
        try:
            d = t.recv(65536)
        except ssl.SSLWantReadError:
            break
        if not d:
            raise RuntimeError("connection closed by the proxy")
        buf += d
    head, sep, body = buf.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    return buf, bool(sep and m and len(body) >= int(m.group(1)))


def open_tls(ctx, port, n, deadline, requests=1):
    """n TLS connections, handshake and `requests` requests each."""
    socks = b._open(port, n)
    sel = selectors.DefaultSelector()
    conns = []
    for s in socks:
        t = ctx.wrap_socket(s, server_hostname="bench.test",
                            do_handshake_on_connect=False)
        conns.append(t)
        ev = _step_handshake(t)
        if ev:
            sel.register(t, ev)
    while sel.get_map() and time.monotonic() < deadline:
        for k, _ in sel.select(1):
            ev = _step_handshake(k.fileobj)
            if ev:
                sel.modify(k.fileobj, ev)
            else:
                sel.unregister(k.fileobj)
    if sel.get_map():
        raise RuntimeError(f"{len(sel.get_map())} handshakes incomplete")
    for _ in range(requests):
        pend = {}
        for t in conns:
            t.send(REQ)
            pend[t] = b""
            sel.register(t, selectors.EVENT_READ)
        while pend and time.monotonic() < deadline:
            for k, _ in sel.select(1):
                t = k.fileobj
                buf, done = _read_response(t, pend[t])
                if done:
                    del pend[t]
                    sel.unregister(t)
                else:
                    pend[t] = buf
        if pend:
            raise RuntimeError(f"{len(pend)} responses missing")
    sel.close()
    return conns


def idle_client(port, n, version):
    """Runs in the namespace on CPU 1; talks to the parent by lines:
    WARM (warmed up, waits for 'go'), READY n (n connections open and
    idle, waits for 'close')."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx = client_ctx(version)
    deadline = time.monotonic() + 150
    for t in open_tls(ctx, port, 64, deadline, requests=30):
        t.close()
    print("WARM", flush=True)
    sys.stdin.readline()
    conns = []
    for i in range(0, n, 500):
        conns += open_tls(ctx, port, min(500, n - i), deadline)
    print(f"READY {len(conns)}", flush=True)
    sys.stdin.readline()
    for t in conns:
        t.close()


def idle_rss(port, pid, d):
    argv = ["taskset", "-c", b.OTHER_CPU, "/usr/bin/python3",
            Path(__file__).resolve(), "idle-client", str(port),
            str(IDLE_CONNS), VERSION]
    p = subprocess.Popen(b.in_ns(argv), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    out = {}
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)

    def line(timeout):
        if not sel.select(timeout):
            raise RuntimeError("idle client: no answer in time")
        s = p.stdout.readline()
        if not s:
            raise RuntimeError("idle client died")
        return s.split()
    try:
        t0 = time.monotonic()
        line(60)
        time.sleep(1)
        out["before"] = b.rss_kib(pid)
        p.stdin.write("go\n")
        p.stdin.flush()
        t1 = time.monotonic()
        out["alive"] = int(line(160)[1])
        out["open_s"] = time.monotonic() - t1
        time.sleep(1)
        out["after"] = b.rss_kib(pid)
        out["bytes_per_conn"] = ((out["after"] - out["before"]) * 1024 /
                                 max(1, out["alive"]))
        out["warm_s"] = t1 - t0
    finally:
        try:
            p.stdin.write("close\n")
            p.stdin.flush()
        except OSError:
            pass
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
        sel.close()
    return out


# ---- machine -------------------------------------------------------------------

def loadavg():
    return Path("/proc/loadavg").read_text().split()[:3]


def cpu_times():
    f = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    v = [int(x) for x in f]
    # user nice system idle iowait irq softirq steal
    return {"busy": sum(v[:8]) - v[3] - v[4], "total": sum(v[:8]),
            "steal": v[7]}


# ---- report --------------------------------------------------------------------

def summary(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals),
            "max": max(vals)}


def cell(s, f="{:.0f}"):
    if not s:
        return "-"
    return (f"{f.format(s['median'])} ({f.format(s['min'])}-"
            f"{f.format(s['max'])})")


def table(w, rows, metrics, ratio_names):
    """rows: {contender: {metric: summary}}; metrics: (key, title, fmt,
    lower_is_better)."""
    w("| | " + " | ".join(m[1] for m in metrics) + " |")
    w("|---|" + "---:|" * len(metrics))
    for name, r in rows.items():
        w(f"| {name} | " + " | ".join(cell(r.get(m[0]), m[2])
                                      for m in metrics) + " |")
    for num, den in ratio_names:
        if num not in rows or den not in rows:
            continue
        cells = []
        for m in metrics:
            a, c = rows[num].get(m[0]), rows[den].get(m[0])
            cells.append(f"{a['median'] / c['median']:.2f}x"
                         if a and c and c["median"] else "-")
        w(f"| **{num} / {den}** | " + " | ".join(cells) + " |")
    w("")


def report(res, meta):
    out = []
    w = out.append
    ratios = [("Sluice", "NGINX"), ("Sluice", "HAProxy")]
    w(f"Run {meta['date']}: TLS {VERSION}, {ROUNDS} interleaved rounds of "
      f"{SECONDS} s per step and proxy, every figure the median of the "
      f"rounds (min-max in brackets); {os.cpu_count()} CPUs, kernel "
      f"{os.uname().release}, OpenSSL {ssl.OPENSSL_VERSION.split()[1]}. "
      f"Load average (1/5/15 min) before {' '.join(meta['load_before'])}, "
      f"after {' '.join(meta['load_after'])}; CPU busy over the run "
      f"{meta['busy_pct']:.0f}% of both CPUs (ours and everything else "
      f"on the machine), steal {meta['steal_pct']:.1f}%.")
    w("")
    hs_metrics = [("hs_per_s", "handshakes/s", "{:.0f}", False),
                  ("cpu_us", "proxy CPU µs per handshake (lower is better)",
                   "{:.0f}", True),
                  ("hs_per_cpu_s", "handshakes per proxy CPU second",
                   "{:.0f}", False),
                  ("proxy_cpu", "proxy CPU busy", "{:.2f}", False)]
    titles = {
        "full-ecdsa": "Full handshakes, ECDSA P-256 "
                      f"({HS_CLIENTS} × `openssl s_time -new` on CPU 1)",
        "full-rsa": "Full handshakes, RSA-2048 "
                    f"({HS_CLIENTS} × `openssl s_time -new` on CPU 1)",
        "resumed": "Resumed handshakes, ECDSA listener "
                   f"({HS_CLIENTS} Python clients on CPU 1 resuming one "
                   "ticket each)",
    }
    for step in ("full-ecdsa", "full-rsa", "resumed"):
        if step not in res:
            continue
        w(f"**{titles[step]}**")
        w("")
        m = hs_metrics + ([("resumed_share", "share resumed", "{:.2f}",
                            False)] if step == "resumed" else [])
        table(w, res[step], m, ratios)
    ka_metrics = [("rps", "requests/s", "{:.0f}", False),
                  ("req_per_cpu_s", "requests per proxy CPU second",
                   "{:.0f}", False),
                  ("proxy_cpu", "proxy CPU busy", "{:.2f}", False),
                  ("p99", "p99 ms (lower is better)", "{:.2f}", True)]
    for step, t in (("ka-small", "small (118 B)"),
                    ("ka-16k", "16 KiB")):
        if step not in res:
            continue
        w(f"**Keep-alive HTTPS, {t} responses** (wrk -t1 -c{CONNS} on CPU 1)")
        w("")
        table(w, res[step], ka_metrics, ratios)
    h2_metrics = ka_metrics + [("failed", "failed streams", "{:.0f}",
                                True)]
    for step, t in (("h2-many", f"{H2_CONNS} connections × {H2_STREAMS} "
                                "concurrent streams"),
                    ("h2-one", f"{CONNS} connections × 1 stream")):
        if step not in res:
            continue
        w(f"**HTTP/2 over TLS (ALPN h2), {t}**, small responses (h2load -t1 "
          "on CPU 1; p99 from its per-request log)")
        w("")
        table(w, res[step], h2_metrics, ratios)
    if "scale-hs" in res:
        w("**Scaling: 1 worker (CPU 0) vs 2 workers (CPUs 0-1)**, clients on "
          "both CPUs (4 × s_time; wrk -t2 -c64): with 2 workers the proxy "
          "shares both CPUs with its clients and the origin, so 2x is out "
          "of reach; the ratio says how much of the second CPU it turns "
          "into work, and CPU per handshake or request would grow if the "
          "workers contended. Full RSA-2048 handshakes (the server's side "
          "of RSA costs ~30x the client's, so the proxy is the limit):")
        w("")
        pairs = [(f"{n} 2w", f"{n} 1w") for n in SCALE]
        table(w, res["scale-hs"], hs_metrics, pairs)
        w("Keep-alive HTTPS, small responses:")
        w("")
        table(w, res["scale-ka"], ka_metrics, pairs)
    if "idle" in res:
        w(f"**RSS per idle TLS keep-alive connection** ({IDLE_CONNS} "
          "connections, ECDSA, a handshake and one request each, then "
          "idle; one measurement per proxy)")
        w("")
        w("| | RSS after warm-up (KiB) | with the connections (KiB) | "
          "connections open | bytes per connection |")
        w("|---|---:|---:|---:|---:|")
        for n, i in res["idle"].items():
            if "error" in i:
                w(f"| {n} | failed: {i['error']} | | | |")
                continue
            w(f"| {n} | {i['before']} | {i['after']} | {i['alive']} | "
              f"{i['bytes_per_conn']:.0f} |")
        for num, den in ratios:
            a, c = res["idle"].get(num, {}), res["idle"].get(den, {})
            if "bytes_per_conn" in a and c.get("bytes_per_conn"):
                w(f"| **{num} / {den}** | | | | "
                  f"{a['bytes_per_conn'] / c['bytes_per_conn']:.2f}x |")
        w("")
    text = "\n".join(out) + "\n"
    print(text)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"]).write_text(text)
    return text


# ---- main ----------------------------------------------------------------------

def main():
    for tool in ("nginx", "haproxy", "wrk", "taskset", "openssl",
                 "h2load"):
        if not shutil.which(tool):
            print(f"bench-tls: {tool} missing (scripts/deps.sh)",
                  file=sys.stderr)
            return 77
    if not b.SLUICED.exists():
        print(f"bench-tls: {b.SLUICED} missing (make)", file=sys.stderr)
        return 1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    d = Path(tempfile.mkdtemp(prefix="sluice-bench-tls-"))
    d.chmod(0o755)      # nginx workers run as nobody
    b.sh(["ip", "netns", "add", b.NS])
    procs = []
    raw = {}            # step -> contender -> [round results]
    res = {}
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "tls_version": VERSION, "seconds": SECONDS, "rounds": ROUNDS,
            "conns": CONNS, "hs_clients": HS_CLIENTS,
            "idle_conns": IDLE_CONNS, "steps": STEPS,
            "h2_conns": H2_CONNS, "h2_streams": H2_STREAMS,
            "load_before": loadavg(), "round_load": []}
    st0 = cpu_times()
    t_start = time.monotonic()

    def start(name, argv, cpu, port, tag):
        p = b.Proc(name.lower() + tag, argv, cpu, d)
        procs.append(p)
        b.wait_port(port)
        return p

    def stop(p):
        p.stop()
        procs.remove(p)
    try:
        b.sh(["ip", "-n", b.NS, "link", "set", "lo", "up"])
        make_certs(d)
        (d / "origin.conf").write_text(b.origin_conf(d))
        origin = b.Proc("origin", ["nginx", "-p", d, "-c", d / "origin.conf",
                                   "-g", "daemon off;"], b.OTHER_CPU, d)
        procs.append(origin)
        b.wait_port(b.ORIGIN_PORT)
        one, two = {}, {}
        main_steps = [s for s in MAIN_STEPS if s in STEPS]
        if main_steps or "scale" in STEPS:
            for name in PROXIES:
                one[name] = start(name, argv_of(name, d), b.PROXY_CPU,
                                  PORTS[name][0], "")
        if "scale" in STEPS:
            for name in SCALE:
                two[name] = start(name, argv_of(name, d, 2, "-2w"),
                                  BOTH_CPUS, PORTS2[name], "-2w")
        time.sleep(0.5)
        for name, p in one.items():      # warm-up: caches, pools, pages
            wrk(PORTS[name][0], "/", b.OTHER_CPU, 1, p.pids(), d, 1)
        for rnd in range(ROUNDS):
            meta["round_load"].append(loadavg())
            # the order turns each round: no proxy always goes first
            order = list(one.items())
            order = order[rnd % len(order):] + order[:rnd % len(order)]
            for step in main_steps:
                for name, p in order:
                    ec, rsa = PORTS[name]
                    pids = p.pids()
                    if step == "full-ecdsa":
                        r = handshake_result(*s_time(ec, b.OTHER_CPU,
                                                     HS_CLIENTS, pids))
                    elif step == "full-rsa":
                        r = handshake_result(*s_time(rsa, b.OTHER_CPU,
                                                     HS_CLIENTS, pids))
                    elif step == "resumed":
                        r = resumed(ec, pids, d)
                    elif step == "h2-many":
                        r = h2load(ec, H2_CONNS, H2_STREAMS, pids, d)
                    elif step == "h2-one":
                        r = h2load(ec, CONNS, 1, pids, d)
                    else:
                        r = wrk(ec, "/" if step == "ka-small" else "/16k",
                                b.OTHER_CPU, 1, pids, d)
                    raw.setdefault(step, {}).setdefault(name, []).append(r)
                    print(f"round {rnd + 1} {step} {name}: " + ", ".join(
                        f"{k}={v:.4g}" for k, v in r.items()
                        if isinstance(v, float)), file=sys.stderr)
            if "scale" in STEPS:
                k = rnd % max(len(SCALE), 1)
                for name in SCALE[k:] + SCALE[:k]:
                    for label, p, port in (
                            (f"{name} 1w", one.get(name), PORTS[name][1]),
                            (f"{name} 2w", two[name], PORTS2[name])):
                        if p is None:
                            continue
                        pids = p.pids()
                        r = handshake_result(*s_time(port, BOTH_CPUS, 4,
                                                     pids))
                        raw.setdefault("scale-hs", {}).setdefault(
                            label, []).append(r)
                        k = wrk(port, "/", BOTH_CPUS, 2, pids, d)
                        raw.setdefault("scale-ka", {}).setdefault(
                            label, []).append(k)
                        print(f"round {rnd + 1} scale {label}: "
                              f"{r['hs_per_s']:.0f} hs/s "
                              f"{r['cpu_us']:.0f} us, {k['rps']:.0f} req/s",
                              file=sys.stderr)
        for p in list(one.values()) + list(two.values()):
            stop(p)
        for step, by in raw.items():
            res[step] = {}
            for name, rounds in by.items():
                keys = [k for k, v in rounds[0].items()
                        if isinstance(v, (int, float)) or v is None]
                res[step][name] = {k: summary([r.get(k) for r in rounds])
                                   for k in keys}
        if "idle" in STEPS:
            res["idle"] = {}
            for name in PROXIES:
                q = start(name, argv_of(name, d), b.PROXY_CPU,
                          PORTS[name][0], "-idle")
                time.sleep(1)
                try:
                    res["idle"][name] = idle_rss(PORTS[name][0],
                                                 q.pids()[-1], d)
                except RuntimeError as e:
                    res["idle"][name] = {"error": str(e)}
                print(f"idle {name}: {res['idle'][name]}", file=sys.stderr)
                stop(q)
    finally:
        for p in procs:
            p.stop()
        subprocess.run(["ip", "netns", "del", b.NS], capture_output=True,
                       timeout=10)
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(d, ignore_errors=True)
    st1 = cpu_times()
    tot = max(st1["total"] - st0["total"], 1)
    meta.update(load_after=loadavg(),
                busy_pct=100 * (st1["busy"] - st0["busy"]) / tot,
                steal_pct=100 * (st1["steal"] - st0["steal"]) / tot,
                runtime_s=time.monotonic() - t_start)
    report(res, meta)
    JSON_OUT.parent.mkdir(parents=True, exist_ok=True)
    JSON_OUT.write_text(json.dumps({"meta": meta, "summary": res,
                                    "rounds": raw}, indent=1))
    print(f"bench-tls: {meta['runtime_s']:.0f} s; JSON in {JSON_OUT}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "resume-client":
        resume_client(*sys.argv[2:5])
    elif len(sys.argv) > 1 and sys.argv[1] == "idle-client":
        idle_client(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(main())
