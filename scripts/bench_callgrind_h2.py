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
import glob
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
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


def total_ir(path):
    for line in Path(path).read_text(errors="replace").splitlines():
        if line.startswith("summary:") or line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def run_one(name, binary, o, d):
    out = Path(o.out) / f"callgrind.{name}"
    for f in glob.glob(f"{out}*"):
        os.unlink(f)
    env = dict(os.environ, SLUICE_LOOP_WAIT="poll")
    argv = b.in_ns(["valgrind", "--tool=callgrind",
                    f"--callgrind-out-file={out}.%p", "--dump-instr=no",
                    str(Path(binary).resolve()), "-c", str(d / "s.yaml")])
    log = open(d / f"{name}.log", "w")
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        b.wait_port(PORT, timeout=120)
        h2load(2000, o.conns, o.streams, d)
        subprocess.run(["callgrind_control", "-z", str(p.pid)], check=True,
                       capture_output=True, timeout=300)
        h2load(o.requests, o.conns, o.streams, d)
        subprocess.run(["callgrind_control", "-d", str(p.pid)], check=True,
                       capture_output=True, timeout=300)
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
    ir = total_ir(dumps[-1]) / o.requests
    print(f"{name} ({binary}): {ir:,.0f} instructions per request "
          f"({o.conns} connections x {o.streams} streams, {o.requests} "
          f"requests); dump {dumps[-1]}", flush=True)
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
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    Path(o.out).mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix="sluice-cgh2-"))
    d.chmod(0o755)
    b.sh(["ip", "netns", "add", b.NS])
    procs = []
    try:
        b.sh(["ip", "-n", b.NS, "link", "set", "lo", "up"])
        t.make_certs(d)
        (d / "origin.conf").write_text(b.origin_conf(d))
        procs.append(b.Proc("origin", ["nginx", "-p", d, "-c",
                                       d / "origin.conf", "-g",
                                       "daemon off;"], b.OTHER_CPU, d))
        b.wait_port(b.ORIGIN_PORT)
        (d / "s.yaml").write_text(t.sluice_conf(d))
        ir_a = run_one("A", o.a, o, d)
        if o.b:
            ir_b = run_one("B", o.b, o, d)
            print(f"B / A: {ir_b / ir_a:.3f} ({ir_b - ir_a:+,.0f} "
                  "instructions per request)")
    finally:
        for p in reversed(procs):
            p.stop()
        b.sh(["ip", "netns", "del", b.NS])
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
