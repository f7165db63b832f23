#!/usr/bin/env bash
# TLS termination benchmark: Sluice vs NGINX vs HAProxy, one worker each,
# plus 1 vs 2 workers (scripts/bench_tls.py says what is measured). Knobs:
# BENCH_SECONDS (4), BENCH_ROUNDS (3), BENCH_CONNS (64), BENCH_TLS_VERSION
# (1.3 | 1.2), BENCH_STEPS, BENCH_PROXIES, BENCH_SCALE, BENCH_IDLE_CONNS
# (9900), BENCH_H2_CONNS (4), BENCH_H2_STREAMS (100), OUT (Markdown copy),
# BENCH_JSON ($BUILD/bench/tls-results.json).
# Not part of `make test`; run it on an otherwise idle machine.
set -euo pipefail
BUILD=${BUILD:-build}
if [[ $(id -u) -ne 0 ]]; then
	echo "bench-tls: needs root (network namespace)" >&2
	exit 1
fi
# 9,900 idle connections: the client and the proxies need the soft
# open-files limit at the hard one (bench_tls.py raises its own too)
ulimit -n "$(ulimit -Hn)"
exec env BUILD="$BUILD" /usr/bin/python3 "$(dirname "$0")/bench_tls.py"
