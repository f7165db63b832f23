#!/usr/bin/env bash
# HTTP/2 benchmark: h2load against Sluice (h2c), NGINX (listen ... http2)
# and HAProxy (bind ... proto h2), each with one worker in front of the
# same HTTP/1.1 test backend, in a private network namespace (loopback
# only). Prints one line per proxy (h2load's summary).
# Knobs: BENCH_SECONDS (10), BENCH_CLIENTS (4), BENCH_STREAMS (100),
# BENCH_PROXY_CPU (1: the proxy under test), BENCH_LOAD_CPUS (0: the
# backend and h2load).
# Run it on a quiet machine (uptime load < 2); see docs/HTTP2.md.
set -euo pipefail
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-4}
STREAMS=${BENCH_STREAMS:-100}
PCPU=${BENCH_PROXY_CPU:-1}
LCPU=${BENCH_LOAD_CPUS:-0}
[[ $(id -u) -eq 0 ]] || { echo "bench-h2: needs root (netns)" >&2; exit 1; }
for t in h2load nginx haproxy; do
	command -v $t >/dev/null || { echo "bench-h2: $t missing (scripts/deps.sh)" >&2; exit 1; }
done
ns=slt-benchh2-$$
dir=$(mktemp -d /tmp/bench-h2.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
in_ns() { ip netns exec "$ns" "$@"; }
# started with ip netns exec itself (not a function): $! is the process
bg_ns() { ip netns exec "$ns" "$@" & pids+=($!); }

bg_ns taskset -c "$LCPU" "$BUILD/tools/backend" --listen 127.0.0.1:9001 >"$dir/backend.out" 2>&1

cat >"$dir/sluice.yaml" <<EOF
listeners:
  - name: h2
    address: 127.0.0.1:8081
    h2c: true
xdp:
  enabled: false
services:
  - name: b
    targets: ["127.0.0.1:9001"]
routes:
  - name: all
    path_prefix: /
    service: b
workers: 1
logging:
  level: warn
EOF
bg_ns taskset -c "$PCPU" "$BUILD/sluiced" -c "$dir/sluice.yaml" >"$dir/sluiced.out" 2>&1

cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/nginx.err warn;
events { worker_connections 10000; }
http {
	access_log off;
	upstream b { server 127.0.0.1:9001; keepalive 64; }
	server {
		listen 127.0.0.1:8082 http2;
		location / {
			proxy_pass http://b;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
EOF
bg_ns taskset -c "$PCPU" nginx -c "$dir/nginx.conf" -p "$dir" >"$dir/nginx.out" 2>&1

cat >"$dir/haproxy.cfg" <<EOF
global
	nbthread 1
defaults
	mode http
	timeout connect 2s
	timeout client 30s
	timeout server 30s
frontend f
	bind 127.0.0.1:8083 proto h2
	default_backend b
backend b
	http-reuse always
	server s 127.0.0.1:9001
EOF
bg_ns taskset -c "$PCPU" haproxy -f "$dir/haproxy.cfg" -db >"$dir/haproxy.out" 2>&1
sleep 2

for p in sluice:8081 nginx:8082 haproxy:8083; do
	name=${p%%:*} port=${p##*:}
	out=$(in_ns timeout $((SECS + 30)) taskset -c "$LCPU" h2load -D "$SECS" -c "$CLIENTS" -m "$STREAMS" \
		"http://127.0.0.1:$port/bench" 2>&1)
	printf '%-8s %s | %s\n' "$name" \
		"$(grep -m1 '^finished in' <<<"$out")" \
		"$(grep -m1 '^requests:' <<<"$out")"
done
