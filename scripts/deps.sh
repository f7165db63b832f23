#!/usr/bin/env bash
# Install the Debian packages Sluice needs to build, test, demo and bench.
# Idempotent: installs only what is missing. Run as root.
set -euo pipefail

PKGS=(
	# build
	make gcc clang llvm pkg-config libbpf-dev libxdp-dev liburing-dev
	libelf-dev zlib1g-dev libssl-dev libyaml-dev bpftool libnghttp2-dev libhiredis-dev
	# DNS-named targets are resolved with c-ares (daemon/control/dns.c)
	libc-ares-dev
	linux-libc-dev libc6-dev
	# tests
	libcmocka-dev python3-pytest python3-pytest-timeout curl iproute2
	libclang-rt-14-dev
	# test_valgrind.py (memcheck of sluiced; skipped where it cannot run)
	valgrind
	# observability tests: a real Prometheus server and promtool
	prometheus
	# cluster tests: a real Redis (the daemon links libhiredis)
	redis-server
	# DNS-named targets tests: a real DNS server on a loopback port
	dnsmasq-base
	# tools used by tests, the demo and the bench
	procps psmisc wrk
	# TLS tests and the demo's certificate (openssl CLI, s_client);
	# testssl.sh: test_testssl.py scans a listener with the defaults
	openssl sslscan testssl.sh
	# HTTP/2 tests: h2load and the python h2 client
	nghttp2-client python3-h2
	# gRPC passthrough tests: grpcio origins and clients (test_grpc.py)
	python3-grpcio
	# bench: the proxies Sluice is compared with (make bench)
	nginx haproxy
	# make bench (XDP): xdp-filter to compare with, nftables for the
	# ingress-hook drop, ethtool for veth queue counters
	xdp-tools nftables ethtool
	# make bench-flood: its plots
	gnuplot-nox
	# the status page's test (headless browser), the version stamp (xxd
	# embeds the page), examples/python and their test
	chromium xxd python3-flask gunicorn python3-fastapi uvicorn
	# make deb
	debhelper dpkg-dev fakeroot lintian
)

missing=()
for p in "${PKGS[@]}"; do
	[[ $p == \#* ]] && continue
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
	echo "deps.sh: missing packages: ${missing[*]} (run as root to install)" >&2
	exit 1
fi

echo "deps.sh: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
