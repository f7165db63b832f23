#!/usr/bin/env bash
# The FastAPI example: orders, users and reports on 127.0.0.1:5101-5103
# (uvicorn), sluiced on 127.0.0.1:8080 in front of them. Run as root from
# the repository: SLUICED=build/sluiced examples/python/fastapi/run.sh
# UPSTREAMS=unix: the services listen on Unix sockets in
# /run/sluice-example-fastapi/apps/ instead of TCP ports, and sluiced reads
# sluice-unix.yaml, whose targets are those sockets.
# Ctrl-C stops everything.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SLUICED=${SLUICED:-sluiced}
UPSTREAMS=${UPSTREAMS:-tcp}
export EXAMPLE_JWT_SECRET=${EXAMPLE_JWT_SECRET:-example-only-jwt-secret-change-me-0123456789}

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait; }
trap stop EXIT
trap 'exit 0' INT TERM

case $UPSTREAMS in
tcp)	config=$here/sluice.yaml ;;
unix)	config=$here/sluice-unix.yaml
	apps=/run/sluice-example-fastapi/apps
	# who may connect is decided by the directory: root here; in
	# production the app's user owns it and the gateway's group may
	# enter (docs/INTEGRATION.md, "Services on Unix sockets")
	install -d -m 0750 "$apps" ;;
*)	echo "run.sh: UPSTREAMS is tcp or unix, not '$UPSTREAMS'" >&2
	exit 2 ;;
esac

port=5101
for svc in orders users reports; do
	listen=(--host 127.0.0.1 --port "$port")
	[ "$UPSTREAMS" = unix ] && listen=(--uds "$apps/$svc.sock")
	uvicorn --app-dir "$here" "${listen[@]}" \
		--no-proxy-headers "app:$svc" &
	pids+=($!)
	port=$((port + 1))
done
"$SLUICED" -c "$config" &
pids+=($!)
wait -n
