#!/usr/bin/python3
"""Instructions per HTTP/2 request of sluiced under callgrind, builds A and B.

    scripts/bench_callgrind_h2.py BINARY_A [BINARY_B] [--requests N]
                                  [--conns C] [--streams M] [--out DIR]

Each build runs under `valgrind --tool=callgrind` (SLUICE_LOOP_WAIT=poll,
as in bench_callgrind.py) with the configuration of `make bench-tls` (one
worker, the ECDSA TLS listener with ALPN h2, the NGINX origin of
`make bench-http`) in a private network namespace. h2load (TLS, ALPN h2,
one thread) sends a warm-up of 2,000 requests; the counters are zeroed,
h2load sends --requests over --conns connections of --streams concurrent
streams each, and the counters are dumped (callgrind_control -z / -d).
Reported: instructions (Ir) per request of the whole process, user space
only (the kernel's share is not counted by valgrind), and B / A.

The measured run opens its connections anew: with few requests per
connection the TLS handshakes weigh in (64 connections of 10,000 requests:
about 16,000 Ir per request of ECDHE and signing). Compare builds at the
same --requests and --conns.

Instruction counts do not depend on the machine's load the way wall-clock
throughput does: the primary evidence for a change in the daemon's own
cost per request (docs/BENCHMARKS.md, "Instructions per HTTP/2 request").
The dumps stay in --out for callgrind_annotate.

Root (network namespace); valgrind, nginx and nghttp2-client
(scripts/deps.sh).
"""
import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_callgrind as cg  # noqa: E402  (the callgrind run)
import bench_http as b  # noqa: E402  (the same origin and namespace)
import bench_tls as t   # noqa: E402  (the same certificates and config)

PORT = t.PORTS["Sluice"][0]


def h2load(n, conns, streams, d):
    argv = ["h2load", "-n", str(n), "-c", str(conns), "-m", str(streams),
            "-t", "1", f"https://127.0.0.1:{PORT}/"]
    r = subprocess.run(b.in_ns(argv), capture_output=True, text=True,
                       timeout=1800, env=t.client_env(d))
    if f"{n} succeeded" not in r.stdout:
        raise RuntimeError(f"h2load: {r.stdout[-800:]} {r.stderr[-300:]}")


def run_one(name, binary, o, d):
    def warm_up():
        b.wait_port(PORT, timeout=120)
        h2load(2000, o.conns, o.streams, d)

    ir, dump, _ = cg.measured(
        name, [str(Path(binary).resolve()), "-c", str(d / "s.yaml")],
        Path(o.out) / f"callgrind.{name}", d, warm_up,
        lambda: h2load(o.requests, o.conns, o.streams, d))
    ir /= o.requests
    print(f"{name} ({binary}): {ir:,.0f} instructions per request "
          f"({o.conns} connections x {o.streams} streams, {o.requests} "
          f"requests); dump {dump}", flush=True)
    return ir


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a")
    ap.add_argument("b", nargs="?")
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--streams", type=int, default=100)
    ap.add_argument("--out", default="build/callgrind/h2")
    o = ap.parse_args()
    if not 1 <= o.requests <= 1000000 or not 1 <= o.conns <= 1000:
        ap.error("--requests 1..1000000, --conns 1..1000")
    Path(o.out).mkdir(parents=True, exist_ok=True)
    with t.origin_ns("sluice-cgh2-") as (d, _procs):
        (d / "s.yaml").write_text(t.sluice_conf(d))
        ir_a = run_one("A", o.a, o, d)
        if o.b:
            ir_b = run_one("B", o.b, o, d)
            print(f"B / A: {ir_b / ir_a:.3f} ({ir_b - ir_a:+,.0f} "
                  "instructions per request)")


if __name__ == "__main__":
    main()
