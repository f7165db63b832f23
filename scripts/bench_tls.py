#!/usr/bin/env python3
"""TLS benchmark: Sluice vs NGINX vs HAProxy terminating TLS, side by side.

The same set-up as bench_http.py (whose helpers it uses): a private network
namespace, one origin (NGINX, fixed responses), each proxy with one
worker on CPU 0, the clients on CPU 1; an ECDSA P-256 certificate made
for the run, TLS 1.3 by default (BENCH_TLS_VERSION=1.2 for TLS 1.2).

Per proxy:
  handshakes   full handshakes (openssl s_time -new, no resumption) for
               BENCH_SECONDS: handshakes/s and the proxy's CPU time per
               handshake (from /proc/PID/task/*/schedstat)
  keep-alive   wrk over HTTPS, BENCH_CONNS keep-alive connections, small
               responses: requests/s and requests per proxy CPU second

Prints a Markdown table. A smoke run: BENCH_SECONDS=2.
"""
import os
import subprocess
import sys
import tempfile
import time
import shutil
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_http as b  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
VERSION = os.environ.get("BENCH_TLS_VERSION", "1.3")
PORTS = {"Sluice": 8441, "NGINX": 8442, "HAProxy": 8443}


def make_cert(d):
    b.sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
          "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
          "/CN=bench.test", "-addext",
          "subjectAltName=DNS:bench.test,IP:127.0.0.1",
          "-keyout", str(d / "cert.key"), "-out", str(d / "cert.pem")])
    (d / "cert.both.pem").write_text((d / "cert.pem").read_text() +
                                     (d / "cert.key").read_text())


def sluice_conf(d):
    return f"""
listeners:
  - name: bench
    address: 127.0.0.1:{PORTS['Sluice']}
    tls:
      certificates: [{{cert: {d}/cert.pem, key: {d}/cert.key}}]
xdp:
  enabled: false
services:
  - name: origin
    targets: [127.0.0.1:{b.ORIGIN_PORT}]
    max_idle: 128
routes:
  - name: all
    service: origin
http:
  keepalive_timeout_ms: 120000
workers: 1
logging:
  level: warn
"""


def nginx_conf(d):
    (d / "nginx").mkdir(exist_ok=True)
    return f"""
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/nginx; proxy_temp_path {d}/nginx;
  fastcgi_temp_path {d}/nginx; uwsgi_temp_path {d}/nginx;
  scgi_temp_path {d}/nginx;
  keepalive_requests 1000000;
  upstream origin {{ server 127.0.0.1:{b.ORIGIN_PORT}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{PORTS['NGINX']} ssl backlog=4096;
    ssl_certificate {d}/cert.pem;
    ssl_certificate_key {d}/cert.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {{
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
"""


def haproxy_conf(d):
    return f"""
global
  nbthread 1
  maxconn 4000
  ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
frontend f
  bind 127.0.0.1:{PORTS['HAProxy']} ssl crt {d}/cert.both.pem
  default_backend b
backend b
  http-reuse always
  server origin 127.0.0.1:{b.ORIGIN_PORT} maxconn 1000
"""


def handshakes(port, pids):
    flag = "-tls1_3" if VERSION == "1.3" else "-tls1_2"
    c0 = b.cpu_s(pids)
    r = subprocess.run(b.in_ns(["taskset", "-c", b.OTHER_CPU, "openssl",
                                "s_time", "-connect", f"127.0.0.1:{port}",
                                "-new", flag, "-time", str(SECONDS)]),
                       capture_output=True, text=True, timeout=SECONDS + 60)
    c1 = b.cpu_s(pids)
    n = 0
    for line in r.stdout.splitlines():
        if "connections in" in line and "real seconds" in line:
            n = int(line.split()[0])
            break
    return n, (c1 - c0)


def keepalive(port, pids):
    argv = ["taskset", "-c", b.OTHER_CPU, "wrk", "-t1", f"-c{b.CONNS}",
            f"-d{SECONDS}s", "--latency", f"https://127.0.0.1:{port}/"]
    c0 = b.cpu_s(pids)
    t0 = time.monotonic()
    r = subprocess.run(b.in_ns(argv), capture_output=True, text=True,
                       timeout=SECONDS + 60)
    wall = time.monotonic() - t0
    c1 = b.cpu_s(pids)
    res = b.parse_wrk(r.stdout)
    res["cpu"] = (c1 - c0) / wall
    return res


def main():
    for tool in ("nginx", "haproxy", "wrk", "taskset", "openssl"):
        if not shutil.which(tool):
            print(f"bench-tls: {tool} missing (scripts/deps.sh)",
                  file=sys.stderr)
            return 1
    d = Path(tempfile.mkdtemp(prefix="sluice-bench-tls-"))
    d.chmod(0o755)
    b.sh(["ip", "netns", "add", b.NS])
    procs = []
    rows = []
    try:
        b.sh(["ip", "-n", b.NS, "link", "set", "lo", "up"])
        make_cert(d)
        (d / "origin.conf").write_text(b.origin_conf(d))
        (d / "sluice.yaml").write_text(sluice_conf(d))
        (d / "nginx.conf").write_text(nginx_conf(d))
        (d / "haproxy.cfg").write_text(haproxy_conf(d))
        origin = b.Proc("origin", ["nginx", "-p", d, "-c", d / "origin.conf",
                                   "-g", "daemon off;"], b.OTHER_CPU, d)
        procs.append(origin)
        b.wait_port(b.ORIGIN_PORT)
        argv = {
            "Sluice": [b.SLUICED, "-c", d / "sluice.yaml"],
            "NGINX": ["nginx", "-p", d, "-c", d / "nginx.conf",
                      "-g", "daemon off;"],
            "HAProxy": ["haproxy", "-db", "-f", d / "haproxy.cfg"],
        }
        for name in b.PROXIES:
            p = b.Proc(name.lower(), argv[name], b.PROXY_CPU, d)
            procs.append(p)
            b.wait_port(PORTS[name])
            time.sleep(0.3)
            n, cpu = handshakes(PORTS[name], p.pids())
            ka = keepalive(PORTS[name], p.pids())
            rows.append((name, n / SECONDS, cpu / max(n, 1) * 1e6,
                         ka["rps"], ka["rps"] / max(ka["cpu"], 0.01),
                         ka["p99"]))
            print(f"{name}: {rows[-1]}", file=sys.stderr)
            p.stop()
            procs.remove(p)
    finally:
        for p in procs:
            p.stop()
        subprocess.run(["ip", "netns", "del", b.NS], capture_output=True,
                       timeout=10)
        shutil.rmtree(d, ignore_errors=True)
    print(f"### TLS {VERSION}, ECDSA P-256, {SECONDS} s per run, one worker"
          f" on CPU 0\n")
    print("| proxy | full handshakes/s | proxy CPU per handshake (µs) | "
          "keep-alive HTTPS req/s | req per proxy CPU s | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r[0]} | {r[1]:.0f} | {r[2]:.0f} | {r[3]:.0f} | "
              f"{r[4]:.0f} | {b.fmt(r[5])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
