#!/usr/bin/env bash
# Sluice demo: two test backends behind sluiced on config/sluice.yaml, XDP
# guarding 127.0.0.1:8080 on lo. Run by `make demo` (after the build), as
# root. Ctrl-C stops everything this script started and checks that XDP is
# detached from lo again.
set -uo pipefail

BUILD=${BUILD:-build}
CONFIG=${CONFIG:-config/sluice.yaml}
PIN=/sys/fs/bpf/sluice

if [[ $(id -u) -ne 0 ]]; then
	echo "demo: must run as root (XDP attach and bpffs pins need CAP_BPF/CAP_NET_ADMIN)" >&2
	exit 1
fi
for b in "$BUILD/sluiced" "$BUILD/sluicectl" "$BUILD/tools/backend"; do
	if [[ ! -x $b ]]; then
		echo "demo: $b is missing: run 'make' first" >&2
		exit 1
	fi
done

WORK=$(mktemp -d /tmp/sluice-demo.XXXXXX)
PIDS=()		# backends
SL_PID=
HTTPS=
RC=0		# exit status when something failed before stop_all

say() { printf '%s\n' "$*"; }

stop_all() {
	local rc=$RC st
	trap - INT TERM EXIT
	say ""
	if [[ -n $SL_PID ]]; then
		# Ctrl-C also reaches sluiced directly (same process group), so
		# it may be gone already; wait still reports its exit status.
		say "demo: stopping sluiced (pid $SL_PID)"
		kill -TERM "$SL_PID" 2>/dev/null
		for _ in $(seq 1 100); do
			kill -0 "$SL_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$SL_PID" 2>/dev/null; then
			say "demo: sluiced did not exit within 10 s; killing it" >&2
			kill -KILL "$SL_PID" 2>/dev/null
			rc=1
		fi
		wait "$SL_PID" 2>/dev/null
		st=$?
		say "demo: sluiced exited with status $st"
		((st == 0)) || rc=1
	fi
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	((${#PIDS[@]})) && say "demo: backends stopped (pids ${PIDS[*]})"
	if ip link show lo | grep -q xdp; then
		say "demo: ERROR: an XDP program is still attached to lo:" >&2
		ip link show lo >&2
		rc=1
	else
		say "demo: XDP detached from lo"
	fi
	if [[ -e $PIN ]]; then
		say "demo: ERROR: pins left under $PIN" >&2
		rc=1
	fi
	say "demo: logs kept in $WORK"
	exit "$rc"
}
trap stop_all INT TERM EXIT

start_backend() { # NAME ADDR
	local out=$WORK/backend-$1.out
	"$BUILD/tools/backend" --listen "$2" --name "$1" \
		--log "$WORK/backend-$1.log" >"$out" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 1 50); do
		grep -q 'backend ready' "$out" 2>/dev/null && return 0
		kill -0 "${PIDS[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	say "demo: backend $1 on $2 did not start:" >&2
	cat "$out" >&2
	RC=1
	exit 1
}

# HTTPS: a certificate for localhost and 127.0.0.1 made here (openssl CLI),
# and the demo config with a TLS listener on 127.0.0.1:8443 next to the
# plain one (written to $WORK: config/sluice.yaml itself stays plain)
make_tls() {
	mkdir -p "$WORK/tls"
	if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-nodes -days 30 -subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$WORK/tls/demo.key" -out "$WORK/tls/demo.pem" \
		>"$WORK/tls/openssl.log" 2>&1; then
		say "demo: openssl could not make the demo certificate:" >&2
		cat "$WORK/tls/openssl.log" >&2
		RC=1
		exit 1
	fi
	local dir
	dir=$(cd "$(dirname "$CONFIG")" && pwd)
	sed -e "s|^\(    files: \)\[allowlist.txt\]|\1[$dir/allowlist.txt]|" \
	    -e '0,/^    address: 127.0.0.1:8080/{/^    address: 127.0.0.1:8080/a\
  - name: https\
    address: 127.0.0.1:8443\
    tls:\
      certificates:\
        - {cert: tls/demo.pem, key: tls/demo.key}\
      hsts: "max-age=300"
}' "$CONFIG" >"$WORK/sluice.yaml"
	CONFIG=$WORK/sluice.yaml
}
if [[ $CONFIG == config/sluice.yaml ]]; then
	make_tls
	HTTPS=1
fi

start_backend demo-a 127.0.0.1:9001
start_backend demo-b 127.0.0.1:9002
say "demo: backends demo-a (127.0.0.1:9001) and demo-b (127.0.0.1:9002) up"

"$BUILD/sluiced" -c "$CONFIG" >"$WORK/sluiced.log" 2>&1 &
SL_PID=$!
ready=0
for _ in $(seq 1 100); do
	if grep -q 'sluiced ready' "$WORK/sluiced.log"; then
		ready=1
		break
	fi
	kill -0 "$SL_PID" 2>/dev/null || break
	sleep 0.1
done
if ((!ready)); then
	say "demo: sluiced did not become ready; its log:" >&2
	cat "$WORK/sluiced.log" >&2
	RC=1
	exit 1
fi
sed 's/^/  | /' "$WORK/sluiced.log"

cat <<EOT

Sluice is running (sluiced pid $SL_PID, config $CONFIG).
Try, in another terminal:

  curl -s http://127.0.0.1:8080/hello            # proxied, round robin demo-a/demo-b
${HTTPS:+  curl -s --cacert $WORK/tls/demo.pem https://localhost:8443/hello   # the same over TLS
  $BUILD/sluicectl certs                      # certificates served, with expiry
}  curl -s http://127.0.0.1:8080/api/items -d x=1 # POST through the /api/ route
  curl -s -X POST http://127.0.0.1:8080/hello    # no route (/ is GET/HEAD only): 404 no_route
  curl -si http://127.0.0.1:8080/status/404      # a backend's own 404, passed through
  $BUILD/sluicectl status                     # XDP counters per reason
  bpftool map dump pinned $PIN/sl_allow4_v1   # the IPv4 allowlist trie
  ip link show lo                                # note 'xdpgeneric' and the prog id
  curl -s http://127.0.0.1:9900/metrics          # Prometheus metrics (admin listener)

sluiced log: $WORK/sluiced.log (follow it with: tail -f $WORK/sluiced.log)
Press Ctrl-C to stop.
EOT

# Wait for Ctrl-C / SIGTERM (trap) or for sluiced to die on its own.
wait "$SL_PID"
st=$?
SL_PID=
if ((st == 0)); then
	# Ctrl-C in a terminal reaches sluiced too (same process group) and it
	# may be done before our trap runs: exit 0 is its clean shutdown.
	say "demo: sluiced exited with status 0"
else
	say "demo: sluiced exited on its own with status $st; its log:" >&2
	tail -n 20 "$WORK/sluiced.log" >&2
	RC=1
fi
exit "$RC"
