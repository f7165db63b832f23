#!/usr/bin/env bash
# HTTP proxy benchmark (make bench): Sluice vs NGINX vs HAProxy, same origin,
# same CPU pinning, one worker each, in a private network namespace.
# Prints a Markdown section; BENCH_OUT=FILE also writes it there.
# Knobs: BENCH_SECONDS (10), BENCH_CONNS (64), BENCH_IDLE_CONNS (10000).
set -euo pipefail
BUILD=${BUILD:-build}
if [[ $(id -u) -ne 0 ]]; then
	echo "bench-http: needs root (network namespace)" >&2
	exit 1
fi
exec env BUILD="$BUILD" OUT="${BENCH_OUT:-}" /usr/bin/python3 "$(dirname "$0")/bench_http.py"
