#!/usr/bin/env bash
# TLS termination benchmark: Sluice vs NGINX vs HAProxy, one worker each
# (scripts/bench_tls.py says what is measured). Knobs: BENCH_SECONDS (5),
# BENCH_CONNS (64), BENCH_TLS_VERSION (1.3 | 1.2), BENCH_PROXIES.
# Not part of `make test`; run it on an otherwise idle machine.
set -euo pipefail
BUILD=${BUILD:-build}
if [[ $(id -u) -ne 0 ]]; then
	echo "bench-tls: needs root (network namespace)" >&2
	exit 1
fi
exec env BUILD="$BUILD" /usr/bin/python3 "$(dirname "$0")/bench_tls.py"
