#!/usr/bin/python3
"""Instructions per request of sluiced under callgrind, for configs A and B.

    scripts/bench_callgrind.py CONF_A CONF_B [--binary build/sluiced]
                               [--requests N] [--conns C]
                               [--header-a 'Name: value' ...] [--header-b ...]
                               [--path /] [--out DIR]

CONF_A and CONF_B are sluiced configs in which `{port}` stands for the
listener's port, `{origin}` and `{origin2}` for two ports of the origin
(bench/conf/*.yaml). Requests carry `Host: bench.example`. Each
runs under `valgrind --tool=callgrind` (with SLUICE_LOOP_WAIT=poll: the
daemon's loops wait in ppoll, which valgrind knows blocks) behind the origin
of `make bench-http` (an NGINX answering fixed responses) in a private network
namespace. A small client sends `--requests` keep-alive GETs over `--conns`
connections, one at a time, each answered with 200 (anything else stops the
run). The counters are zeroed after a warm-up of 200 requests and dumped
after the measured ones (callgrind_control -z / -d), so start-up and
shut-down are not counted. Reported: instructions (Ir) per request for A and
B, and B - A; the dumps stay in --out for callgrind_annotate.

Instruction counts do not depend on the machine's load, unlike wall-clock
throughput on a shared host: the primary evidence for a change in the cost
of the request path (docs/BENCHMARKS.md, "Per-request policy").

Root (network namespace); valgrind and nginx (scripts/deps.sh).
"""
import argparse
import glob
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_http as b  # noqa: E402  (the same origin and namespace)

PORT = 8203


def client(port, n, conns, headers, path):
    """n keep-alive GETs over conns connections, in turn; every answer must
    be a 200 with a Content-Length body."""
    req = (f"GET {path} HTTP/1.1\r\nHost: bench.example\r\n" +
           "".join(f"{h}\r\n" for h in headers) + "\r\n").encode()
    sk = []
    for _ in range(conns):
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sk.append([s, b""])
    try:
        for i in range(n):
            c = sk[i % conns]
            c[0].sendall(req)
            while b"\r\n\r\n" not in c[1]:
                d = c[0].recv(65536)
                if not d:
                    raise RuntimeError("connection closed by the proxy")
                c[1] += d
            head, rest = c[1].split(b"\r\n\r\n", 1)
            status = head.split(b" ", 2)[1]
            if status != b"200":
                raise RuntimeError(f"request {i}: {head.decode()!r}")
            m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            want = int(m.group(1)) if m else 0
            while len(rest) < want:
                d = c[0].recv(65536)
                if not d:
                    raise RuntimeError("connection closed in a body")
                rest += d
            c[1] = rest[want:]
    finally:
        for c in sk:
            c[0].close()


def run_client(n, o, headers):
    """client() inside the namespace (a child: this process stays out)."""
    subprocess.run(b.in_ns([sys.executable, __file__, "--client", str(n),
                            str(o.conns), o.path] + headers),
                   check=True, timeout=3600)


def ctl(pid, flag, timeout=300):
    subprocess.run(["callgrind_control", flag, str(pid)], check=True,
                   capture_output=True, timeout=timeout)


def total_ir(path):
    for line in Path(path).read_text(errors="replace").splitlines():
        if line.startswith("summary:") or line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def measured(name, binary_argv, out, d, warm_up, measure):
    """Start binary_argv under callgrind in the namespace (its dumps at
    out.PID.N), run warm_up(), zero the counters, run measure(), dump,
    stop it. Returns (instructions counted, dump path, seconds measured)."""
    for f in glob.glob(f"{out}*"):
        os.unlink(f)
    env = dict(os.environ, SLUICE_LOOP_WAIT="poll")
    argv = b.in_ns(["valgrind", "--tool=callgrind",
                    f"--callgrind-out-file={out}.%p", "--dump-instr=no"] +
                   binary_argv)
    log = open(d / f"{name}.log", "w")
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        warm_up()
        ctl(p.pid, "-z")
        t0 = time.monotonic()
        measure()
        secs = time.monotonic() - t0
        ctl(p.pid, "-d")
    finally:
        p.terminate()
        try:
            p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()
    dumps = sorted(glob.glob(f"{out}.*.1"))
    if not dumps:
        raise RuntimeError(f"no dump for {name}: "
                           f"{(d / (name + '.log')).read_text()[-2000:]}")
    return total_ir(dumps[-1]), dumps[-1], secs


def run_one(name, conf_tmpl, o, d, headers):
    conf = Path(conf_tmpl).read_text().replace(
        "{port}", str(PORT)).replace(
        "{origin}", f"127.0.0.1:{b.ORIGIN_PORT}").replace(
        "{origin2}", f"127.0.0.1:{b.ORIGIN_PORT2}")
    cfile = d / f"{name}.yaml"
    cfile.write_text(conf)
    out = Path(o.out) / f"callgrind.{name}"

    def warm_up():
        b.wait_port(PORT, timeout=120)
        run_client(200, o, headers)

    ir, dump, secs = measured(
        name, [str(Path(o.binary).resolve()), "-c", str(cfile)], out, d,
        warm_up, lambda: run_client(o.requests, o, headers))
    print(f"{name}: {ir / o.requests:,.0f} instructions per request "
          f"({ir:,} for {o.requests} requests, {secs:.0f} s under "
          f"valgrind); dump {dump}", flush=True)
    return ir / o.requests, dump


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        client(PORT, int(sys.argv[2]), int(sys.argv[3]), sys.argv[5:],
               sys.argv[4])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("conf_a")
    ap.add_argument("conf_b")
    ap.add_argument("--binary", default="build/sluiced")
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--path", default="/")
    ap.add_argument("--header-a", action="append", default=[])
    ap.add_argument("--header-b", action="append", default=[])
    ap.add_argument("--out", default="build/callgrind")
    o = ap.parse_args()
    if not 1 <= o.requests <= 200000 or not 1 <= o.conns <= 64:
        ap.error("--requests 1..200000, --conns 1..64")
    Path(o.out).mkdir(parents=True, exist_ok=True)
    with b.origin_ns("sluice-cg-") as (d, _procs):
        a, da = run_one("A", o.conf_a, o, d, o.header_a)
        bb, db = run_one("B", o.conf_b, o, d, o.header_b)
        print(f"B - A: {bb - a:+,.0f} instructions per request "
              f"(B/A {bb / a:.4f})")
        print(f"callgrind_annotate --inclusive=no {db} | head -40  "
              f"(and {da}) for the functions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
