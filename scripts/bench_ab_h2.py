#!/usr/bin/python3
"""Paired A/B of two sluiced builds over HTTP/2 with TLS (ALPN h2).

    scripts/bench_ab_h2.py A B [--pairs N] [--seconds S] [--streams M]
                               [--conns C] [--http-a K=V,..] [--http-b K=V,..]

The set-up of `make bench-tls` (scripts/bench_tls.py: a private network
namespace, the NGINX origin on CPU 1, an ECDSA certificate made for the
run); A and B each run with one worker on CPU 0 and short h2load runs
alternate between them (A B, B A, ...). Each pair gives the ratio of
requests per proxy CPU second, B over A; the result is the median of the
pairs. --streams 1 with --conns 64 is one stream at a time per connection;
the default is 4 connections of 100 concurrent streams. --http-a and
--http-b add keys to the http: section of A's or B's configuration (the
same binary twice compares two settings, e.g. --http-b h2_coalesce_us=0).

Root (network namespace, taskset); nginx and h2load (scripts/deps.sh).
"""
import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_http as b  # noqa: E402
import bench_tls as t  # noqa: E402

PORTS = {"A": 8471, "B": 8472}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--streams", type=int, default=100)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--http-a", default="")
    ap.add_argument("--http-b", default="")
    o = ap.parse_args()
    if not 1 <= o.pairs <= 100 or not 1 <= o.seconds <= 30:
        ap.error("--pairs 1..100, --seconds 1..30")
    t.SECONDS = o.seconds
    with t.origin_ns("sluice-ab-h2-") as (d, procs):
        run = {}
        for name, binary in (("A", o.a), ("B", o.b)):
            ec, rsa = t.PORTS["Sluice"]
            conf = t.sluice_conf(d).replace(f":{ec}\n", f":{PORTS[name]}\n")
            conf = conf.replace(f":{rsa}\n", f":{PORTS[name] + 10}\n")
            extra = o.http_a if name == "A" else o.http_b
            conf = conf.replace("http:\n", "http:\n" + "".join(
                f"  {kv.split('=', 1)[0]}: {kv.split('=', 1)[1]}\n"
                for kv in extra.split(",") if kv))
            (d / f"{name}.yaml").write_text(conf)
            p = b.Proc(name, [str(Path(binary).resolve()), "-c",
                              d / f"{name}.yaml"], b.PROXY_CPU, d)
            procs.append(p)
            b.wait_port(PORTS[name])
            run[name] = p
        for name in run:        # warm-up
            t.h2load(PORTS[name], o.conns, o.streams, run[name].pids(), d)
        ratios, vals, p99 = [], {"A": [], "B": []}, {"A": [], "B": []}
        for i in range(o.pairs):
            r = {}
            for name in (("A", "B") if i % 2 == 0 else ("B", "A")):
                x = t.h2load(PORTS[name], o.conns, o.streams,
                             run[name].pids(), d)
                r[name] = x["req_per_cpu_s"]
                vals[name].append(r[name])
                p99[name].append(x["p99"])
            ratios.append(r["B"] / r["A"])
            print(f"pair {i + 1}: A {r['A']:.0f} B {r['B']:.0f} requests "
                  f"per proxy CPU s, B/A {ratios[-1]:.3f}; p99 A "
                  f"{p99['A'][-1]:.2f} ms, B {p99['B'][-1]:.2f} ms",
                  flush=True)
        print(f"{o.conns} connections x {o.streams} streams: median A "
              f"{statistics.median(vals['A']):.0f}, B "
              f"{statistics.median(vals['B']):.0f} requests per proxy CPU "
              f"s; B/A median of pairs {statistics.median(ratios):.3f} "
              f"(pairs {min(ratios):.3f}-{max(ratios):.3f}, "
              f"{sum(x > 1 for x in ratios)} of {len(ratios)} above 1); "
              f"p99 median A {statistics.median(p99['A']):.2f} ms, B "
              f"{statistics.median(p99['B']):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
