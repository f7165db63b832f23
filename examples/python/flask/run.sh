#!/usr/bin/env bash
# The Flask example: orders, users and reports on 127.0.0.1:5001-5003
# (gunicorn), sluiced on 127.0.0.1:8080 in front of them. Run as root from
# the repository: SLUICED=build/sluiced examples/python/flask/run.sh
# Ctrl-C stops everything.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SLUICED=${SLUICED:-sluiced}
export EXAMPLE_JWT_SECRET=${EXAMPLE_JWT_SECRET:-example-only-jwt-secret-change-me-0123456789}

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait; }
trap stop EXIT
trap 'exit 0' INT TERM

port=5001
for svc in orders users reports; do
	gunicorn --chdir "$here" --bind "127.0.0.1:$port" \
		--access-logfile - "app:$svc" &
	pids+=($!)
	port=$((port + 1))
done
"$SLUICED" -c "$here/sluice.yaml" &
pids+=($!)
wait -n
