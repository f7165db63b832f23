#!/usr/bin/python3
"""Paired A/B of two sluiced builds (or one build with two environments),
for changes too small for a single benchmark run to show on a shared host.

    scripts/bench_ab.py A B [--pairs N] [--seconds S] [--path /|/16k] [--close]
                            [--env-a K=V ...] [--env-b K=V ...]

A and B are sluiced binaries. Both run side by side (CPU 0, one worker
each) behind the same origin as `make bench-http`, and short wrk runs
alternate between them (A B, B A, A B, ...). Each pair gives a ratio of
requests per proxy CPU second, B over A; the median of the pairs is the
result. Drift of the machine over minutes hits both members of a pair
alike, which single runs minutes apart cannot offer: on this VM single
10-s runs moved by +-15 % between runs, paired ratios by +-5 %.

--svc-a/--svc-b add lines to a side's service (`--svc-b 'lb: least_request'`).
--conf-a/--conf-b replace a side's whole config with a file in which
`{port}` stands for its listener's port, `{origin}` and `{origin2}` for two
ports of the origin (bench/conf/*.yaml); --header-a/--header-b add a header
to every request wrk sends that side (`--header-b 'Authorization: Bearer x'`).
Every response must be a 2xx/3xx: a side answering anything else stops the
run (a policy or route that refuses is not a benchmark of it).

Example: bearer auth and a consumer limit against the same proxy without:
    scripts/bench_ab.py build/sluiced build/sluiced \
        --conf-a bench/conf/plain.yaml --conf-b bench/conf/bearer-limit.yaml \
        --header-b "Authorization: Bearer $(sed -n 's/^# token: //p' \
                    bench/conf/bearer-limit.yaml)"

Example: the armed receives on and off in one binary:
    scripts/bench_ab.py build/sluiced build/sluiced --env-a SLUICE_NO_MULTISHOT=1

Root (network namespace, taskset); the tools of `make bench-http`.
"""
import argparse
import resource
import shlex
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_http as b  # noqa: E402  (the same origin, wrk and CPU pinning)

PORTS = {"A": 8201, "B": 8202}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--seconds", type=int, default=2)
    ap.add_argument("--path", default="/", choices=["/", "/16k"])
    ap.add_argument("--close", action="store_true",
                    help="a new connection per request (Connection: close)")
    ap.add_argument("--env-a", action="append", default=[])
    ap.add_argument("--env-b", action="append", default=[])
    ap.add_argument("--svc-a", action="append", default=[],
                    help="a YAML line added to A's service ('lb: hash')")
    ap.add_argument("--svc-b", action="append", default=[])
    ap.add_argument("--conf-a", help="A's config ({port}, {origin}, {origin2})")
    ap.add_argument("--conf-b")
    ap.add_argument("--header-a", action="append", default=[],
                    help="a header on every request to A")
    ap.add_argument("--header-b", action="append", default=[])
    o = ap.parse_args()
    if not 1 <= o.pairs <= 100 or not 1 <= o.seconds <= 30:
        ap.error("--pairs 1..100, --seconds 1..30")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    with b.origin_ns("sluice-ab-") as (d, procs):
        run = {}
        hdrs = {"A": o.header_a, "B": o.header_b}
        for name, binary, env, svc, cf in (
                ("A", o.a, o.env_a, o.svc_a, o.conf_a),
                ("B", o.b, o.env_b, o.svc_b, o.conf_b)):
            if cf:
                conf = Path(cf).read_text().replace(
                    "{port}", str(PORTS[name])).replace(
                    "{origin}", f"127.0.0.1:{b.ORIGIN_PORT}").replace(
                    "{origin2}", f"127.0.0.1:{b.ORIGIN_PORT2}")
            else:
                conf = b.sluice_conf(d).replace(f":{b.SLUICE_PORT}",
                                                f":{PORTS[name]}")
            conf = conf.replace("    max_idle: 128\n", "    max_idle: 128\n" +
                                "".join(f"    {l}\n" for l in svc))
            (d / f"{name}.yaml").write_text(conf)
            envs = " ".join(shlex.quote(e) for e in env)
            p = b.Proc(name, ["bash", "-c", f"ulimit -n {hard}; exec env "
                              f"{envs} {shlex.quote(str(Path(binary).resolve()))} "
                              f"-c {d}/{name}.yaml"], b.PROXY_CPU, d)
            procs.append(p)
            b.wait_port(PORTS[name])
            run[name] = p
        for name in run:        # warm-up
            x = b.run_wrk(PORTS[name], o.path, o.close, 2, {}, hdrs[name])
            if "non-2xx" in x["errors"] or not x["rps"]:
                raise SystemExit(f"{name} does not answer 2xx: "
                                 f"{x['errors']}\n{x['raw']}")
        ratios, vals, p99 = [], {"A": [], "B": []}, {"A": [], "B": []}
        # user-space CPU per request (us): counted in clock ticks, so
        # only a hint, for changes made in user space
        user = {"A": [], "B": []}
        for i in range(o.pairs):
            r = {}
            for name in (("A", "B") if i % 2 == 0 else ("B", "A")):
                x = b.run_wrk(PORTS[name], o.path, o.close, o.seconds,
                              {"proxy": run[name].pids()}, hdrs[name])
                if "non-2xx" in x["errors"]:
                    raise SystemExit(f"{name}: {x['errors']}")
                r[name] = b.per_core(x)
                vals[name].append(r[name])
                user[name].append(x["user"]["proxy"] / max(x["rps"], 1) *
                                  1e6)
                if x["p99"] is not None:
                    p99[name].append(x["p99"])
            ratios.append(r["B"] / r["A"])
            print(f"pair {i + 1}: A {r['A']:.0f} B {r['B']:.0f} per core, "
                  f"B/A {ratios[-1]:.3f}; p99 A {p99['A'][-1]:.2f} ms, "
                  f"B {p99['B'][-1]:.2f} ms", flush=True)
        q = (statistics.quantiles(ratios, n=4) if len(ratios) > 1 else
             ratios * 3)
        print(f"median per core: A {statistics.median(vals['A']):.0f}, "
              f"B {statistics.median(vals['B']):.0f}; B/A median of pairs "
              f"{statistics.median(ratios):.3f} (pairs {min(ratios):.3f}-"
              f"{max(ratios):.3f}, middle half {q[0]:.3f}-{q[2]:.3f}, "
              f"{sum(x > 1 for x in ratios)} of "
              f"{len(ratios)} above 1); p99 median A "
              f"{statistics.median(p99['A'] or [0]):.2f} ms, B "
              f"{statistics.median(p99['B'] or [0]):.2f} ms; user CPU per "
              f"request (ticks) median A {statistics.median(user['A']):.3f} us, B "
              f"{statistics.median(user['B']):.3f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
